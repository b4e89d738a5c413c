/* Weight sets in HDF5 model files (hb/model.h). */
#include "hb/model.h"

#include <stdio.h>
#include <string.h>

hb_status hb_model_write_arch(hb_h5 *f, const hb_unet *u)
{
    HB_TRY(hb_h5_attr_write_string(f, "/", "model_kind", HB_MODEL_KIND));
    HB_TRY(hb_h5_attr_write_long(f, "/", "n_fields", u->cfg.n_fields));
    HB_TRY(hb_h5_attr_write_long(f, "/", "width", u->cfg.width));
    HB_TRY(hb_h5_attr_write_long(f, "/", "emb", u->cfg.emb));
    HB_TRY(hb_h5_attr_write_long(f, "/", "n_params", (long)u->n_params));
    return HB_OK;
}

hb_status hb_model_read_arch(hb_h5 *f, hb_unet_config *cfg)
{
    char kind[128] = "";
    if (!hb_h5_attr_exists(f, "/", "model_kind") ||
        hb_h5_attr_read_string(f, "/", "model_kind", kind, sizeof kind) != HB_OK ||
        strcmp(kind, HB_MODEL_KIND) != 0) {
        return HB_ERR0(HB_EIO, "%s is not a hydrobridge model file (model_kind \"%s\", expected \"%s\")",
                       f->path, kind, HB_MODEL_KIND);
    }
    long nf, w, e;
    HB_TRY(hb_h5_attr_read_long(f, "/", "n_fields", &nf));
    HB_TRY(hb_h5_attr_read_long(f, "/", "width", &w));
    HB_TRY(hb_h5_attr_read_long(f, "/", "emb", &e));
    cfg->n_fields = (int)nf;
    cfg->width = (int)w;
    cfg->emb = (int)e;
    return HB_OK;
}

hb_status hb_model_check_arch(hb_h5 *f, const hb_unet *u)
{
    hb_unet_config c;
    HB_TRY(hb_model_read_arch(f, &c));
    if (c.n_fields != u->cfg.n_fields || c.width != u->cfg.width || c.emb != u->cfg.emb) {
        return HB_ERR0(HB_EIO, "%s holds a network with n_fields=%d width=%d emb=%d, expected n_fields=%d "
                       "width=%d emb=%d", f->path, c.n_fields, c.width, c.emb, u->cfg.n_fields, u->cfg.width,
                       u->cfg.emb);
    }
    return HB_OK;
}

hb_status hb_model_write_set(hb_h5 *f, const char *group, const hb_unet *u, const float *buf)
{
    for (int i = 0; i < u->n_views; i++) {
        char name[256];
        snprintf(name, sizeof name, "/%s/%s", group, u->views[i].name);
        HB_TRY(hb_h5_write_floats(f, name, buf + u->views[i].off, (long)u->views[i].n));
    }
    return HB_OK;
}

hb_status hb_model_read_set(hb_h5 *f, const char *group, const hb_unet *u, float *buf)
{
    HB_TRY(hb_model_check_arch(f, u));
    for (int i = 0; i < u->n_views; i++) {
        char name[256];
        snprintf(name, sizeof name, "/%s/%s", group, u->views[i].name);
        HB_TRY(hb_h5_read_floats(f, name, buf + u->views[i].off, (long)u->views[i].n));
    }
    return HB_OK;
}
