/* Weight sets in HDF5 model files (hb/model.h). */
#include "hb/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb/mpiutil.h"
#include "hb/smooth.h"
#include "hb/version.h"

hb_status hb_model_write_arch(hb_h5 *f, const hb_unet *u)
{
    HB_TRY(hb_h5_attr_write_string(f, "/", "model_kind", HB_MODEL_KIND));
    HB_TRY(hb_h5_attr_write_long(f, "/", "n_fields", u->cfg.n_fields));
    HB_TRY(hb_h5_attr_write_long(f, "/", "width", u->cfg.width));
    HB_TRY(hb_h5_attr_write_long(f, "/", "emb", u->cfg.emb));
    HB_TRY(hb_h5_attr_write_long(f, "/", "extra_in", u->cfg.extra_in));
    HB_TRY(hb_h5_attr_write_long(f, "/", "emb_layers", u->cfg.emb_layers));
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
    long nf, w, e, x = 0, el = 2;
    HB_TRY(hb_h5_attr_read_long(f, "/", "n_fields", &nf));
    HB_TRY(hb_h5_attr_read_long(f, "/", "width", &w));
    HB_TRY(hb_h5_attr_read_long(f, "/", "emb", &e));
    if (hb_h5_attr_exists(f, "/", "extra_in")) HB_TRY(hb_h5_attr_read_long(f, "/", "extra_in", &x));   /* absent: 0 */
    if (x < 0 || x > HB_SMOOTH_MAX_CH) {
        return HB_ERR0(HB_EIO, "%s: extra_in = %ld, expected 0 to %d", f->path, x, HB_SMOOTH_MAX_CH);
    }
    if (hb_h5_attr_exists(f, "/", "emb_layers")) HB_TRY(hb_h5_attr_read_long(f, "/", "emb_layers", &el));   /* absent: 2 */
    if (!hb_unet_embedding_ok(e, el)) {
        return HB_ERR0(HB_EIO, "%s: emb = %ld, emb_layers = %ld, expected emb 1 to %d and emb_layers 2 to %d", f->path,
                       e, el, HB_UNET_MAX_EMB, HB_UNET_MAX_EMB_LAYERS);
    }
    cfg->n_fields = (int)nf;
    cfg->width = (int)w;
    cfg->emb = (int)e;
    cfg->extra_in = (int)x;
    cfg->emb_layers = (int)el;
    return HB_OK;
}

hb_status hb_model_check_arch(hb_h5 *f, const hb_unet *u)
{
    hb_unet_config c;
    HB_TRY(hb_model_read_arch(f, &c));
    if (c.n_fields != u->cfg.n_fields || c.width != u->cfg.width || c.emb != u->cfg.emb ||
        c.extra_in != u->cfg.extra_in || c.emb_layers != u->cfg.emb_layers) {
        return HB_ERR0(HB_EIO, "%s holds a network with n_fields=%d width=%d emb=%d extra_in=%d emb_layers=%d, expected "
                       "n_fields=%d width=%d emb=%d extra_in=%d emb_layers=%d", f->path, c.n_fields, c.width, c.emb,
                       c.extra_in, c.emb_layers, u->cfg.n_fields, u->cfg.width, u->cfg.emb, u->cfg.extra_in,
                       u->cfg.emb_layers);
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

/* ---- whole files --------------------------------------------------------- */

static hb_status write_meta(hb_h5 *f, const hb_model_meta *m)
{
    const hb_h5_attr a[] = {{"beta_sq", 'l', 0, m->ic.beta_sq, NULL}, {"grid", 'l', 0, m->grid, NULL},
                            {"sigma_c", 'd', m->ic.sigma_c, 0, NULL}, {"box_size", 'd', m->box_size, 0, NULL},
                            {"cell_size", 'd', m->cell_size, 0, NULL}};
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++) HB_TRY(hb_h5_attr_write(f, "/", &a[i]));
    if (m->dm_mas[0]) HB_TRY(hb_h5_attr_write_string(f, "/", "dm_mass_assignment", m->dm_mas));
    HB_TRY(hb_h5_write_array(f, "/interp/mean", m->ic.mean, HB_NCH));
    HB_TRY(hb_h5_write_array(f, "/interp/std", m->ic.std, HB_NCH));
    HB_TRY(hb_h5_write_array(f, "/interp/floor", m->ic.floor, HB_NCH));
    HB_TRY(hb_h5_write_array(f, "/interp/log10_min", m->ic.lmin, HB_NCH));
    HB_TRY(hb_h5_write_array(f, "/interp/log10_max", m->ic.lmax, HB_NCH));
    HB_TRY(hb_h5_write_array(f, "/interp/theta_min", m->theta_min, HB_NTHETA));
    HB_TRY(hb_h5_write_array(f, "/interp/theta_max", m->theta_max, HB_NTHETA));
    HB_TRY(hb_h5_write_array(f, "/interp/noise_slope", m->ic.noise_slope, HB_NTARGET));
    HB_TRY(hb_h5_write_array(f, "/interp/noise_theta", &m->ic.noise_theta[0][0], HB_NTARGET * HB_NTHETA));
    if (m->ic.n_smooth > 0) {
        double sm[3 * HB_SMOOTH_MAX_CH];
        for (int j = 0; j < m->ic.n_smooth; j++) {
            sm[3 * j] = m->ic.smooth_r[j];
            sm[3 * j + 1] = m->ic.smooth_mean[j];
            sm[3 * j + 2] = m->ic.smooth_std[j];
        }
        HB_TRY(hb_h5_write_array(f, "/interp/dm_smooth", sm, 3 * m->ic.n_smooth));
        HB_TRY(hb_h5_attr_write_string(f, "/interp", "dm_smooth_is", "per input channel (the 4th, 5th, ...): radius "
                                       "[cells], mean and std of log10 of the Gaussian-smoothed DM floored at 1e-3"));
        int halo = 0;
        for (int j = 0; j < m->ic.n_smooth; j++) halo |= m->ic.smooth_thr[j] > 0;
        if (halo) {   /* absent: every channel smooths the DM itself */
            HB_TRY(hb_h5_write_array(f, "/interp/dm_smooth_threshold", m->ic.smooth_thr, m->ic.n_smooth));
        }
    }
    return hb_h5_attr_write_string(f, "/interp", "channels",
                                   "log10 dm_density, log10 gas_density, log10 gas_temperature");
}

static hb_status save_local(const char *path, const hb_unet *u, const hb_model_meta *meta, const hb_h5_attr *attrs,
                            int n_attrs, const float *ema, const float *m, const float *v, const hb_model_set *extra,
                            int n_extra)
{
    hb_h5 f;
    HB_TRY(hb_h5_create(&f, path, MPI_COMM_SELF));
    hb_status rc = hb_model_write_arch(&f, u);
    if (rc == HB_OK) rc = hb_h5_attr_write_string(&f, "/", "hydrobridge_version", HB_VERSION);
    for (int i = 0; i < n_attrs && rc == HB_OK; i++) rc = hb_h5_attr_write(&f, "/", &attrs[i]);
    if (rc == HB_OK) rc = write_meta(&f, meta);
    if (rc == HB_OK) rc = hb_model_write_set(&f, "weights", u, u->params);
    if (rc == HB_OK && ema) rc = hb_model_write_set(&f, "ema", u, ema);
    if (rc == HB_OK && m) rc = hb_model_write_set(&f, "adam_m", u, m);
    if (rc == HB_OK && v) rc = hb_model_write_set(&f, "adam_v", u, v);
    for (int i = 0; i < n_extra && rc == HB_OK; i++) rc = hb_model_write_set(&f, extra[i].name, u, extra[i].buf);
    if (rc == HB_OK) return hb_h5_commit(&f);
    hb_h5_abort(&f);
    return rc;
}

hb_status hb_model_save(const char *path, MPI_Comm comm, const hb_unet *u, const hb_model_meta *meta,
                        const hb_h5_attr *attrs, int n_attrs, const float *ema, const float *m, const float *v,
                        const hb_model_set *extra, int n_extra)
{
    int rank;
    HB_TRY(hb_mpi(MPI_Comm_rank(comm, &rank)));
    hb_status rc = HB_OK;
    if (rank == 0) rc = save_local(path, u, meta, attrs, n_attrs, ema, m, v, extra, n_extra);   /* every rank holds the same */
    return hb_mpi_agree(comm, rc);
}

/* The noise coefficients read from /interp/NAME, each within [-2, 2]. */
static hb_status check_noise(const hb_h5 *f, const char *name, const double *c, int n)
{
    const int i = hb_interp_noise_bad(c, n);
    if (i < 0) return HB_OK;
    char what[96];
    return HB_ERR0(HB_EIO, "%s: /interp/%s holds %g for %s, expected a value within [-2, 2]", f->path, name, c[i],
                   hb_interp_noise_name(i, n, what, sizeof what));
}

hb_status hb_model_read_meta(hb_h5 *f, hb_model_meta *meta)
{
    memset(meta, 0, sizeof *meta);
    hb_interp *ic = &meta->ic;
    *ic = hb_interp_default();
    long n, bsq, grid = 0;
    HB_TRY(hb_h5_read_array(f, "/interp/mean", ic->mean, HB_NCH, &n));
    HB_TRY(hb_h5_read_array(f, "/interp/std", ic->std, HB_NCH, &n));
    HB_TRY(hb_h5_read_array(f, "/interp/floor", ic->floor, HB_NCH, &n));
    HB_TRY(hb_h5_read_array(f, "/interp/log10_min", ic->lmin, HB_NCH, &n));
    HB_TRY(hb_h5_read_array(f, "/interp/log10_max", ic->lmax, HB_NCH, &n));
    HB_TRY(hb_h5_read_array(f, "/interp/theta_min", meta->theta_min, HB_NTHETA, &n));
    HB_TRY(hb_h5_read_array(f, "/interp/theta_max", meta->theta_max, HB_NTHETA, &n));
    if (hb_h5_exists(f, "/interp/noise_slope")) {   /* absent in models from before the noise slopes: 0 */
        HB_TRY(hb_h5_read_array(f, "/interp/noise_slope", ic->noise_slope, HB_NTARGET, &n));
        if (n != HB_NTARGET) {
            return HB_ERR0(HB_EIO, "%s: /interp/noise_slope holds %ld values, expected %d", f->path, n, HB_NTARGET);
        }
        HB_TRY(check_noise(f, "noise_slope", ic->noise_slope, HB_NTARGET));
    }
    if (hb_h5_exists(f, "/interp/noise_theta")) {   /* absent in models from before it: 0 */
        HB_TRY(hb_h5_read_array(f, "/interp/noise_theta", &ic->noise_theta[0][0], HB_NTARGET * HB_NTHETA, &n));
        if (n != HB_NTARGET * HB_NTHETA) {
            return HB_ERR0(HB_EIO, "%s: /interp/noise_theta holds %ld values, expected %d (%d targets x %d parameters)",
                           f->path, n, HB_NTARGET * HB_NTHETA, HB_NTARGET, HB_NTHETA);
        }
        HB_TRY(check_noise(f, "noise_theta", &ic->noise_theta[0][0], HB_NTARGET * HB_NTHETA));
    }
    if (hb_h5_exists(f, "/interp/dm_smooth")) {   /* absent: no smoothed-DM channel */
        double sm[3 * HB_SMOOTH_MAX_CH] = {0};
        HB_TRY(hb_h5_read_array(f, "/interp/dm_smooth", sm, 3 * HB_SMOOTH_MAX_CH, &n));
        const int S = (int)(n / 3);
        double r[HB_SMOOTH_MAX_CH] = {0};
        int ok = n >= 3 && n <= 3 * HB_SMOOTH_MAX_CH && n % 3 == 0;
        for (int j = 0; j < S && ok; j++) {
            r[j] = sm[3 * j];
            ok = isfinite(sm[3 * j + 1]) && sm[3 * j + 2] > 0 && isfinite(sm[3 * j + 2]);
        }
        double thr[HB_SMOOTH_MAX_CH] = {0};
        long nt = S;
        if (ok && hb_h5_exists(f, "/interp/dm_smooth_threshold")) {
            HB_TRY(hb_h5_read_array(f, "/interp/dm_smooth_threshold", thr, HB_SMOOTH_MAX_CH, &nt));
        }
        if (nt != S) {
            return HB_ERR0(HB_EIO, "%s: /interp/dm_smooth_threshold holds %ld values, expected one per smoothed-DM "
                           "channel (%d)", f->path, nt, S);
        }
        if (!ok || !hb_smooth_channels_ok(S, r, thr)) {
            char ts[96] = "";
            for (int j = 0, len = 0; j < S && len < (int)sizeof ts; j++)
                len += snprintf(ts + len, sizeof ts - (size_t)len, "%s%g", j ? ", " : "", thr[j]);
            return HB_ERR0(HB_EIO, "%s: /interp/dm_smooth holds %ld values (%g, %g, %g ...) with thresholds (%s), "
                           "expected (radius, mean, std) for each of 1 to %d channels: radii within (0, %g] cells, "
                           "thresholds within [0, %g], no two channels alike, a finite mean and a positive std",
                           f->path, n, sm[0], sm[1], sm[2], ts, HB_SMOOTH_MAX_CH, HB_SMOOTH_MAX_R, HB_SMOOTH_MAX_THR);
        }
        ic->n_smooth = S;
        for (int j = 0; j < S; j++) {
            ic->smooth_r[j] = sm[3 * j];
            ic->smooth_thr[j] = thr[j];
            ic->smooth_mean[j] = sm[3 * j + 1];
            ic->smooth_std[j] = sm[3 * j + 2];
        }
    }
    HB_TRY(hb_h5_attr_read_double(f, "/", "sigma_c", &ic->sigma_c));
    HB_TRY(hb_h5_attr_read_long(f, "/", "beta_sq", &bsq));
    HB_TRY(hb_h5_attr_read_double(f, "/", "cell_size", &meta->cell_size));
    HB_TRY(hb_h5_attr_read_double(f, "/", "box_size", &meta->box_size));
    HB_TRY(hb_h5_attr_read_long(f, "/", "grid", &grid));
    if (hb_h5_attr_exists(f, "/", "dm_mass_assignment")) {   /* absent in models from before it was kept */
        HB_TRY(hb_mas_read(f, "/", "dm_mass_assignment", meta->dm_mas));
    }
    ic->beta_sq = (int)bsq;
    meta->grid = (int)grid;
    return HB_OK;
}

/* The meta and the EMA weights (or /weights) of f into buf for the network
 * u, checked: the architecture is u's, the interpolant usable, every weight
 * finite. */
static hb_status read_weights(hb_h5 *f, const hb_unet *u, hb_model_meta *meta, float *buf)
{
    const char *path = f->path;
    HB_TRY(hb_model_read_meta(f, meta));
    if (u->cfg.extra_in != meta->ic.n_smooth) {
        return HB_ERR0(HB_EIO, "%s: the network has %d extra input channels but the interpolant %d smoothed-DM "
                       "channels (/interp/dm_smooth)", path, u->cfg.extra_in, meta->ic.n_smooth);
    }
    const char *set = hb_h5_exists(f, "/ema") ? "ema" : "weights";
    HB_TRY(hb_model_read_set(f, set, u, buf));
    for (size_t i = 0; i < u->n_params; i++) {
        if (!isfinite(buf[i])) {
            return HB_ERR0(HB_EIO, "%s: /%s holds a non-finite weight (parameter %zu of %zu is %g); the model is "
                           "unusable (a diverged training?)", path, set, i, u->n_params, buf[i]);
        }
    }
    for (int k = 0; k < HB_NCH; k++) {
        const hb_interp *ic = &meta->ic;
        if (!isfinite(ic->mean[k]) || !(ic->std[k] > 0) || !isfinite(ic->std[k]) || !(ic->floor[k] > 0) ||
            !(ic->lmin[k] <= ic->lmax[k])) {
            return HB_ERR0(HB_EIO, "%s: /interp of channel %d is not usable (mean %g, std %g, floor %g, log10 range "
                           "[%g, %g])", path, k, ic->mean[k], ic->std[k], ic->floor[k], ic->lmin[k], ic->lmax[k]);
        }
    }
    long step = 0, total = 0;   /* a checkpoint of an unfinished training (or one the collapse guard stopped) is usable, but say so */
    if (hb_h5_attr_exists(f, "/", "step") && hb_h5_attr_exists(f, "/", "steps_total")) {
        HB_TRY(hb_h5_attr_read_long(f, "/", "step", &step));
        HB_TRY(hb_h5_attr_read_long(f, "/", "steps_total", &total));
        if (step < total) hb_log0("model: WARNING: %s is a checkpoint at step %ld of %ld, an unfinished training", path, step, total);
    }
    return HB_OK;
}

hb_status hb_model_load(const char *path, MPI_Comm comm, hb_unet *u, hb_model_meta *meta)
{
    memset(u, 0, sizeof *u);
    hb_h5 f;
    HB_TRY(hb_h5_open(&f, path, comm));
    hb_unet_config uc;
    hb_status rc = hb_model_read_arch(&f, &uc);
    if (rc == HB_OK) rc = hb_unet_init(u, &uc, 0);
    if (rc == HB_OK) rc = read_weights(&f, u, meta, u->params);
    hb_h5_close(&f);
    if (rc != HB_OK) hb_unet_free(u);
    return rc;
}

hb_status hb_model_load_weights(const char *path, MPI_Comm comm, const hb_unet *u, hb_model_meta *meta, float *buf)
{
    hb_h5 f;
    HB_TRY(hb_h5_open(&f, path, comm));
    hb_status rc = hb_model_check_arch(&f, u);
    if (rc == HB_OK) rc = read_weights(&f, u, meta, buf);
    hb_h5_close(&f);
    return rc;
}

hb_status hb_model_check_box(const hb_model_meta *meta, const hb_boxinfo *info, int N, const char *dm_mas,
                             const char *name)
{
    if (!hb_mas_compatible(dm_mas, meta->dm_mas)) {
        return HB_ERR0(HB_EARG, "%s: its DM is painted with %s (%s's mass_assignment), but the model was trained on DM "
                       "painted with %s: paint it the same way (output.mass_assignment of simulate and suite, "
                       "--dm-assignment of demo)", name, dm_mas, HB_FIELD_DM, meta->dm_mas);
    }
    const double cell = meta->cell_size, L = info->box_size;
    if (fabs(L / N - cell) > 0.01 * cell) {
        return HB_ERR0(HB_EARG, "%s has cells of %.4g Mpc/h (%g Mpc/h / %d); the model was trained on cells of %.4g Mpc/h",
                       name, L / N, L, N, cell);
    }
    for (int k = 0; k < HB_NTHETA; k++) {
        double lo = meta->theta_min[k], hi = meta->theta_max[k], th = info->theta[k];
        double tol = 1e-6 * fabs(hi) + 1e-3 * (hi - lo);
        if (th < lo - tol || th > hi + tol) {
            return HB_ERR0(HB_EARG, "%s = %g is outside the range the model was trained on, [%g, %g]",
                           HB_THETA[k].name, th, lo, hi);
        }
    }
    return HB_OK;
}

hb_status hb_ensemble_load(hb_ensemble *e, const hb_unet *u, hb_model_meta *meta, const char (*path)[1024], int n,
                           MPI_Comm comm)
{
    memset(e, 0, sizeof *e);
    e->K = 1;
    e->member[0] = u->params;
    if (n < 1 || n > HB_MODEL_MAX_ENSEMBLE) {
        return HB_ERR0(HB_EARG, "%d models: an ensemble has 1 to %d", n, HB_MODEL_MAX_ENSEMBLE);
    }
    for (int k = 1; k < n; k++) {
        e->member[k] = malloc(u->n_params * sizeof *e->member[k]);
        e->K = k + 1;   /* freed from here on */
        if (hb_mpi_any(comm, !e->member[k])) return HB_ERR0(HB_ENOMEM, "the weights of %s", path[k]);
        hb_model_meta m;
        HB_TRY(hb_model_load_weights(path[k], comm, u, &m, e->member[k]));
        char what[400];
        hb_interp_difference(&meta->ic, &m.ic, what, sizeof what);
        if (*what) {
            return HB_ERR0(HB_EARG, "%s differs from %s in %s: an ensemble's models must share the training set's "
                           "standardisation and the interpolant (trainings of one recipe with other seeds)",
                           path[k], path[0], what);
        }
        if (!hb_mas_compatible(m.dm_mas, meta->dm_mas)) {
            return HB_ERR0(HB_EARG, "%s was trained on DM painted with %s, %s with %s: an ensemble's models must share "
                           "the DM's mass assignment", path[k], m.dm_mas[0] ? m.dm_mas : "(not recorded)", path[0],
                           meta->dm_mas[0] ? meta->dm_mas : "(not recorded)");
        }
        if (fabs(m.cell_size / meta->cell_size - 1) > 1e-6) {
            return HB_ERR0(HB_EARG, "%s was trained on cells of %g Mpc/h, %s on %g Mpc/h: an ensemble's models must "
                           "share the grid", path[k], m.cell_size, path[0], meta->cell_size);
        }
        for (int j = 0; j < HB_NTHETA; j++) {
            meta->theta_min[j] = fmax(meta->theta_min[j], m.theta_min[j]);
            meta->theta_max[j] = fmin(meta->theta_max[j], m.theta_max[j]);
        }
    }
    return HB_OK;
}

void hb_ensemble_names(const char (*path)[1024], int n, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (int k = 0; k < n && len < cap; k++) len += (size_t)snprintf(buf + len, cap - len, "%s%s", k ? ", " : "", path[k]);
}

void hb_ensemble_free(hb_ensemble *e)
{
    for (int k = 1; k < e->K; k++) free(e->member[k]);
    e->K = 1;
}
