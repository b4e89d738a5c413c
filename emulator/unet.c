/* The reference UNet3D-small on a slab of a box: parameters, forward,
 * backward, lean inference (hb/unet.h). */
#include "hb/unet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb/nn.h"
#include "hb/rng.h"

static int add_view(hb_unet *u, const char *name, size_t n, int fan_in)
{
    hb_param_view *v = &u->views[u->n_views];
    snprintf(v->name, sizeof v->name, "%s", name);
    v->off = u->n_params;
    v->n = n;
    v->fan_in = fan_in;
    u->n_params += n;
    return u->n_views++;
}

static hb_resblock add_resblock(hb_unet *u, const char *name, int c)
{
    char nm[40];
    hb_resblock r;
    const int E = u->cfg.emb;
    snprintf(nm, sizeof nm, "%s.a.w", name); r.a_w = add_view(u, nm, 27 * (size_t)c * c, 27 * c);
    snprintf(nm, sizeof nm, "%s.a.b", name); r.a_b = add_view(u, nm, (size_t)c, 27 * c);
    snprintf(nm, sizeof nm, "%s.film.w", name); r.f_w = add_view(u, nm, 2 * (size_t)c * E, E);
    snprintf(nm, sizeof nm, "%s.film.b", name); r.f_b = add_view(u, nm, 2 * (size_t)c, E);
    snprintf(nm, sizeof nm, "%s.b.w", name); r.b_w = add_view(u, nm, 27 * (size_t)c * c, 27 * c);
    snprintf(nm, sizeof nm, "%s.b.b", name); r.b_b = add_view(u, nm, (size_t)c, 27 * c);
    return r;
}

int hb_unet_view(const hb_unet *u, const char *name)
{
    for (int i = 0; i < u->n_views; i++) {
        if (strcmp(u->views[i].name, name) == 0) return i;
    }
    return -1;
}

int hb_unet_embedding_ok(long emb, long layers)
{
    return emb >= 1 && emb <= HB_UNET_MAX_EMB && layers >= 2 && layers <= HB_UNET_MAX_EMB_LAYERS;
}

hb_status hb_unet_init(hb_unet *u, const hb_unet_config *cfg, uint64_t seed)
{
    memset(u, 0, sizeof *u);
    const int nl = cfg->emb_layers ? cfg->emb_layers : 2;
    if (cfg->n_fields < 1 || cfg->width < 1 || !hb_unet_embedding_ok(cfg->emb, nl)) {
        return HB_ERR(HB_EARG, "network: n_fields=%d width=%d must be positive, emb=%d emb_layers=%d within 1-%d, 2-%d",
                      cfg->n_fields, cfg->width, cfg->emb, cfg->emb_layers, HB_UNET_MAX_EMB, HB_UNET_MAX_EMB_LAYERS);
    }
    u->cfg = *cfg;
    u->cfg.emb_layers = nl;
    const int w = cfg->width, F = cfg->n_fields, E = cfg->emb, cin = F + 1 + cfg->extra_in;
    u->cin = cin;
    /* the reference's two layers keep their names (emb.w1, emb.w2: the last), the extra ones in between */
    u->emb_w[0] = add_view(u, "emb.w1", (size_t)E * HB_UNET_NFEAT, HB_UNET_NFEAT);
    u->emb_b[0] = add_view(u, "emb.b1", (size_t)E, HB_UNET_NFEAT);
    for (int k = 1; k < nl; k++) {
        char nw[40] = "emb.w2", nb[40] = "emb.b2";
        if (k < nl - 1) {
            snprintf(nw, sizeof nw, "emb.h%d.w", k + 1);
            snprintf(nb, sizeof nb, "emb.h%d.b", k + 1);
        }
        u->emb_w[k] = add_view(u, nw, (size_t)E * E, E);
        u->emb_b[k] = add_view(u, nb, (size_t)E, E);
    }
    u->stem_w = add_view(u, "stem.w", 27 * (size_t)cin * w, 27 * cin);
    u->stem_b = add_view(u, "stem.b", (size_t)w, 27 * cin);
    u->rb[0] = add_resblock(u, "res0", w);
    u->down1_w = add_view(u, "down1.w", 8 * (size_t)w * 2 * w, 8 * w);
    u->down1_b = add_view(u, "down1.b", 2 * (size_t)w, 8 * w);
    u->rb[1] = add_resblock(u, "res1", 2 * w);
    u->down2_w = add_view(u, "down2.w", 8 * (size_t)2 * w * 4 * w, 16 * w);
    u->down2_b = add_view(u, "down2.b", 4 * (size_t)w, 16 * w);
    u->rb[2] = add_resblock(u, "res2", 4 * w);
    /* PyTorch's fan-in of a transposed convolution is out_channels * 8 */
    u->up1_w = add_view(u, "up1.w", (size_t)4 * w * 8 * 2 * w, 16 * w);
    u->up1_b = add_view(u, "up1.b", 2 * (size_t)w, 16 * w);
    u->dec1_w = add_view(u, "dec1.w", 27 * (size_t)4 * w * 2 * w, 27 * 4 * w);
    u->dec1_b = add_view(u, "dec1.b", 2 * (size_t)w, 27 * 4 * w);
    u->rb[3] = add_resblock(u, "res1b", 2 * w);
    u->up0_w = add_view(u, "up0.w", (size_t)2 * w * 8 * w, 8 * w);
    u->up0_b = add_view(u, "up0.b", (size_t)w, 8 * w);
    u->dec0_w = add_view(u, "dec0.w", 27 * (size_t)2 * w * w, 27 * 2 * w);
    u->dec0_b = add_view(u, "dec0.b", (size_t)w, 27 * 2 * w);
    u->rb[4] = add_resblock(u, "res0b", w);
    u->head_w = add_view(u, "head.w", (size_t)w * F, w);
    u->head_b = add_view(u, "head.b", (size_t)F, w);

    u->params = malloc(u->n_params * sizeof *u->params);
    u->grads = calloc(u->n_params, sizeof *u->grads);
    if (!u->params || !u->grads) {
        const size_t n = u->n_params;   /* hb_unet_free clears it */
        hb_unet_free(u);
        return HB_ERR(HB_ENOMEM, "network parameters (width %d: %zu floats, %.1f GB with gradients)", w, n,
                      2.0 * (double)n * sizeof(float) / 1e9);
    }
    /* uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)), one Philox draw per parameter */
    for (int i = 0; i < u->n_views; i++) {
        const hb_param_view *v = &u->views[i];
        double bound = 1.0 / sqrt((double)v->fan_in);
        for (size_t j = 0; j < v->n; j++) {
            double r[2];
            hb_rng_uniform2(seed, HB_STREAM_INIT, v->off + j, 0, r);
            u->params[v->off + j] = (float)(bound * (2 * r[0] - 1));
        }
    }
    return HB_OK;
}

void hb_unet_free(hb_unet *u)
{
    free(u->params);
    free(u->grads);
    free(u->ws);
    free(u->col);
    free(u->wf);
    memset(u, 0, sizeof *u);
}

void hb_unet_zero_grad(hb_unet *u) { memset(u->grads, 0, u->n_params * sizeof *u->grads); }

static inline float *P(hb_unet *u, int view) { return u->params + u->views[view].off; }
/* A parameter's gradient; NULL when only the input gradient is wanted (hb_unet_vjp). */
static inline float *G(hb_unet *u, int view) { return u->input_only ? NULL : u->grads + u->views[view].off; }

/* Level l of the slab: planes, plane sides and voxels per plane. */
static inline int LX(const hb_unet *u, int l) { return u->X >> l; }
static inline int LY(const hb_unet *u, int l) { return u->Y >> l; }
static inline int LZ(const hb_unet *u, int l) { return u->Z >> l; }
static inline size_t LP(const hb_unet *u, int l) { return (size_t)LY(u, l) * (size_t)LZ(u, l); }
/* Floats of a level-l tensor of c channels with one halo plane on each side. */
static inline size_t hsize(const hb_unet *u, int l, int c) { return (size_t)(LX(u, l) + 2) * LP(u, l) * c; }
/* The first interior plane of such a tensor. */
static inline float *interior(const hb_unet *u, float *t, int l, int c) { return t + LP(u, l) * c; }

/* The activation layout. Training keeps what the backward pass needs (the
 * resblock inputs, their first convolutions' outputs h, the skip outputs,
 * the concatenations and the decoders' pre-SiLU outputs); the backward pass
 * recomputes SiLU(FiLM(h)) and SiLU(g) and writes gradients into buffers
 * whose forward values are dead. Inference keeps two tensors per level plus
 * the concatenation. Returns the floats needed; carves when base != NULL. */
static size_t layout(hb_unet *u, float *base, int train)
{
    const int w = u->cfg.width, E = u->cfg.emb;
    size_t n = 0;
    hb_unet_acts *a = &u->a;
#define TAKE(ptr, cnt) do { if (base) (ptr) = base + n; n += (cnt); } while (0)
    for (int k = 0; k < u->cfg.emb_layers - 1; k++) { TAKE(a->e_h[k], E); TAKE(a->e_a[k], E); }
    TAKE(a->e, E); TAKE(a->de, E); TAKE(a->de_a, E); TAKE(a->de_h, E);
    static const int mult[5] = {1, 2, 4, 2, 1};
    for (int k = 0; k < 5; k++) { TAKE(a->ss[k], 2 * (size_t)mult[k] * w); TAKE(a->dss[k], 2 * (size_t)mult[k] * w); }
    TAKE(a->x0, hsize(u, 0, u->cin));
    if (train) {
        TAKE(a->s0, hsize(u, 0, w)); TAKE(a->h0, hsize(u, 0, w)); TAKE(a->o0, hsize(u, 0, w));
        TAKE(a->c0, hsize(u, 0, 2 * w)); TAKE(a->g0, hsize(u, 0, w)); TAKE(a->hb0, hsize(u, 0, w));
        TAKE(a->ob0, hsize(u, 0, w)); TAKE(a->t0a, hsize(u, 0, w)); TAKE(a->t0b, hsize(u, 0, w));
        TAKE(a->d1, hsize(u, 1, 2 * w)); TAKE(a->h1, hsize(u, 1, 2 * w)); TAKE(a->o1, hsize(u, 1, 2 * w));
        TAKE(a->c1, hsize(u, 1, 4 * w)); TAKE(a->g1, hsize(u, 1, 2 * w)); TAKE(a->hb1, hsize(u, 1, 2 * w));
        TAKE(a->ob1, hsize(u, 1, 2 * w)); TAKE(a->t1a, hsize(u, 1, 2 * w)); TAKE(a->t1b, hsize(u, 1, 2 * w));
        TAKE(a->d2, hsize(u, 2, 4 * w)); TAKE(a->h2, hsize(u, 2, 4 * w)); TAKE(a->o2, hsize(u, 2, 4 * w));
        TAKE(a->t2a, hsize(u, 2, 4 * w));
    } else {
        /* inference: o0 = the level-0 skip, t0a scratch, c0 the concatenation,
         * g0 the decoder; likewise at level 1; d2, h2 at level 2 */
        TAKE(a->o0, hsize(u, 0, w)); TAKE(a->t0a, hsize(u, 0, w)); TAKE(a->c0, hsize(u, 0, 2 * w));
        TAKE(a->o1, hsize(u, 1, 2 * w)); TAKE(a->t1a, hsize(u, 1, 2 * w)); TAKE(a->c1, hsize(u, 1, 4 * w));
        TAKE(a->g1, hsize(u, 1, 2 * w));
        TAKE(a->d2, hsize(u, 2, 4 * w)); TAKE(a->h2, hsize(u, 2, 4 * w));
    }
#undef TAKE
    return n;
}

double hb_unet_floats_per_voxel(const hb_unet_config *c, int train)
{
    const double w = c->width;
    const int cin = c->n_fields + 1 + c->extra_in;
    return train ? 10 * w + cin + 20 * w / 8 + 16 * w / 64 : 4 * w + cin + 10 * w / 8 + 8 * w / 64;
}

hb_status hb_unet_reserve(hb_unet *u, const hb_slab *slab, int Y, int Z, int train)
{
    const int X = (int)slab->nx;
    if (X % 4 || slab->x0 % 4 || Y % 4 || Z % 4 || X < 4 || Y < 4 || Z < 4) {
        return HB_ERR(HB_EARG, "network slab of %d planes from x = %ld of %d x %d planes: every size and the slab "
                      "start must be multiples of 4 (hb_slab_init_aligned)", X, slab->x0, Y, Z);
    }
    if (u->ws && u->slab == slab && u->X == X && u->Y == Y && u->Z == Z && u->train >= train) return HB_OK;
    free(u->ws);
    free(u->col);
    free(u->wf);
    u->slab = slab;
    u->X = X;
    u->Y = Y;
    u->Z = Z;
    u->train = train;
    u->ws_n = layout(u, NULL, train);
    const int w = u->cfg.width, cmax = 8 * w > u->cin ? 8 * w : u->cin;
    size_t c0 = hb_conv_workspace(2 * w > u->cin ? 2 * w : u->cin, 2 * w, X + 2, Y, Z);
    size_t c1 = hb_conv_workspace(4 * w, 4 * w, X / 2 + 2, Y / 2, Z / 2);
    size_t c2 = hb_conv_workspace(8 * w, 8 * w, X / 4 + 2, Y / 4, Z / 4);
    u->col_n = c0 > c1 ? (c0 > c2 ? c0 : c2) : (c1 > c2 ? c1 : c2);
    u->wf_n = u->col_n > 27 * (size_t)cmax * cmax ? u->col_n : 27 * (size_t)cmax * cmax;
    u->ws = calloc(u->ws_n, sizeof *u->ws);
    u->col = malloc(u->col_n * sizeof *u->col);
    u->wf = malloc(u->wf_n * sizeof *u->wf);
    if (!u->ws || !u->col || !u->wf) {
        double mb = (double)(u->ws_n + u->col_n + u->wf_n) * 4 / 1e6;
        free(u->ws); free(u->col); free(u->wf);
        u->ws = u->col = u->wf = NULL;
        return HB_ERR(HB_ENOMEM, "network workspace for %d planes of %d x %d (%s): %.0f MB", X, Y, Z,
                      train ? "training" : "inference", mb);
    }
    layout(u, u->ws, train);
    return HB_OK;
}

/* ---- halo exchange and convolutions on halo'd tensors ------------------- */

static hb_status xbegin(hb_unet *u, hb_xchg_req *r, float *t, int l, int c)
{
    hb_timer_start(&u->t_xchg);
    hb_status rc = hb_xchg_begin(r, u->slab, t, LX(u, l), LP(u, l) * c);
    hb_timer_stop(&u->t_xchg);
    return rc;
}

static hb_status xend(hb_unet *u, hb_xchg_req *r)
{
    hb_timer_start(&u->t_xchg);
    hb_status rc = hb_xchg_end(r);
    hb_timer_stop(&u->t_xchg);
    return rc;
}

static hb_status xchg(hb_unet *u, float *t, int l, int c)
{
    hb_xchg_req r;
    HB_TRY(xbegin(u, &r, t, l, c));
    return xend(u, &r);
}

/* Planes [xa, xb) of out_int (+)= conv3(in) at level l (in halo'd). */
static void conv_planes(hb_unet *u, int l, float *out_int, const float *in, int wv, int bv, int Ci, int Co, int xa,
                        int xb, int acc)
{
    hb_conv3_planes(out_int, in, P(u, wv), bv >= 0 ? P(u, bv) : NULL, Ci, Co, LX(u, l), LY(u, l), LZ(u, l), HB_XHALO,
                    xa, xb, acc, u->col);
}

/* out_int (+)= conv3(in) + b at level l. With xchg, in's halo planes are
 * exchanged while the interior planes are computed. */
static hb_status conv_x(hb_unet *u, int l, float *out_int, float *in, int wv, int bv, int Ci, int Co, int xchg_in,
                        int acc)
{
    const int X = LX(u, l), inner_end = X - 1 > 1 ? X - 1 : 1;
    hb_xchg_req r;
    if (xchg_in) HB_TRY(xbegin(u, &r, in, l, Ci));
    conv_planes(u, l, out_int, in, wv, bv, Ci, Co, 1, inner_end, acc);   /* needs only this rank's planes */
    if (xchg_in) HB_TRY(xend(u, &r));
    conv_planes(u, l, out_int, in, wv, bv, Ci, Co, 0, 1, acc);
    if (X > 1) conv_planes(u, l, out_int, in, wv, bv, Ci, Co, X - 1, X, acc);
    return HB_OK;
}

/* s = SiLU(FiLM(h)) on planes [p0, p1) of halo'd level-l tensors. */
static void film_silu_planes(hb_unet *u, int l, int c, float *s, const float *h, const float *ss, int p0, int p1)
{
    const size_t pc = LP(u, l) * c;
    hb_film_silu_forward(s + (size_t)p0 * pc, h + (size_t)p0 * pc, ss, 1, c, (size_t)(p1 - p0) * LP(u, l));
}

/* ---- forward ------------------------------------------------------------ */

/* ResBlock k at level l (c channels): out = in + conv_b(SiLU(FiLM(conv_a(in)))).
 * in, h, s, out halo'd; in's halos exchanged here when xchg_in. h keeps
 * conv_a(in) with its halos (the backward pass recomputes s from it); s may
 * be h (inference: then in place, without overlap) and out may be in. */
static hb_status rb_forward(hb_unet *u, int k, int l, int c, float *in, int xchg_in, float *h, float *s, float *out)
{
    const hb_resblock *rb = &u->rb[k];
    const int X = LX(u, l), inner_end = X - 1 > 1 ? X - 1 : 1;
    const size_t pc = LP(u, l) * c;
    float *ss = u->a.ss[k];
    hb_linear_forward(ss, u->a.e, P(u, rb->f_w), P(u, rb->f_b), 1, u->cfg.emb, 2 * c);
    HB_TRY(conv_x(u, l, h + pc, in, rb->a_w, rb->a_b, c, c, xchg_in, 0));
    if (out != in) memcpy(out + pc, in + pc, (size_t)X * pc * sizeof *out);
    if (s == h) {   /* in place: h may not change while its planes are being sent */
        HB_TRY(xchg(u, h, l, c));
        film_silu_planes(u, l, c, s, h, ss, 0, X + 2);
        conv_planes(u, l, out + pc, s, rb->b_w, rb->b_b, c, c, 0, X, 1);
        return HB_OK;
    }
    hb_xchg_req r;
    HB_TRY(xbegin(u, &r, h, l, c));
    film_silu_planes(u, l, c, s, h, ss, 1, X + 1);
    conv_planes(u, l, out + pc, s, rb->b_w, rb->b_b, c, c, 1, inner_end, 1);
    HB_TRY(xend(u, &r));
    film_silu_planes(u, l, c, s, h, ss, 0, 1);
    film_silu_planes(u, l, c, s, h, ss, X + 1, X + 2);
    conv_planes(u, l, out + pc, s, rb->b_w, rb->b_b, c, c, 0, 1, 1);
    if (X > 1) conv_planes(u, l, out + pc, s, rb->b_w, rb->b_b, c, c, X - 1, X, 1);
    return HB_OK;
}

static void embed(hb_unet *u, const float *feat)
{
    const int E = u->cfg.emb, last = u->cfg.emb_layers - 1;
    hb_unet_acts *a = &u->a;
    hb_linear_forward(a->e_h[0], feat, P(u, u->emb_w[0]), P(u, u->emb_b[0]), 1, HB_UNET_NFEAT, E);
    for (int k = 0; k < last; k++) {
        hb_silu_forward(a->e_a[k], a->e_h[k], (size_t)E);
        float *out = k + 1 < last ? a->e_h[k + 1] : a->e;
        hb_linear_forward(out, a->e_a[k], P(u, u->emb_w[k + 1]), P(u, u->emb_b[k + 1]), 1, E, E);
    }
}

/* out (halo'd, level l, c channels) = SiLU(g) on every plane, halos included
 * (g's halos exchanged here). */
static hb_status silu_all(hb_unet *u, int l, int c, float *out, float *g)
{
    HB_TRY(xchg(u, g, l, c));
    hb_silu_forward(out, g, hsize(u, l, c));
    return HB_OK;
}

/* up(coarse, level l + 1) concatenated with the skip (level l, c channels
 * each) into cat; scratch: c channels at level l (interior). */
static void up_concat(hb_unet *u, int l, int c, float *cat, float *coarse, float *skip, float *scratch, int wv,
                      int bv)
{
    const size_t V = (size_t)LX(u, l) * LP(u, l);
    hb_up_forward(interior(u, scratch, l, c), interior(u, coarse, l + 1, 2 * c), P(u, wv), P(u, bv), 1, 2 * c, c,
                  LX(u, l + 1), LY(u, l + 1), LZ(u, l + 1), u->col);
    hb_concat_forward(interior(u, cat, l, 2 * c), interior(u, scratch, l, c), interior(u, skip, l, c), 1, c, c, V);
}

static void down(hb_unet *u, int l, int c, float *out, float *in, int wv, int bv)
{
    hb_down_forward(interior(u, out, l + 1, 2 * c), interior(u, in, l, c), P(u, wv), P(u, bv), 1, c, 2 * c, LX(u, l),
                    LY(u, l), LZ(u, l), u->col);
}

static hb_status check_reserved(const hb_unet *u, int train)
{
    if (!u->ws || u->train < train) {
        return HB_ERR(HB_EARG, "network workspace not reserved for %s: call hb_unet_reserve first",
                      train ? "training" : "inference");
    }
    return HB_OK;
}

/* Where one pass keeps its activations: the five resblocks' input, hidden,
 * scratch and output, the two decoders' convolution output and activation.
 * Training keeps what the backward pass needs; inference reuses dead buffers. */
typedef struct pass_slots {
    float *stem, *rb0_h, *rb0_s, *rb0_o, *d1, *rb1_h, *rb1_s, *rb1_o, *rb2_h, *rb2_s, *rb2_o;
    float *up1_t, *g1, *a1, *rb3_h, *rb3_s, *rb3_o, *up0_t, *g0, *a0, *rb4_h, *rb4_s, *rb4_o;
} pass_slots;

/* The architecture, once: stem, r0, down, r1, down, r2, up + concat, dec1,
 * r1b, up + concat, dec0, r0b, head. */
static hb_status unet_pass(hb_unet *u, const float *x, const float *feat, float *y, const pass_slots *q)
{
    hb_unet_acts *a = &u->a;
    const int w = u->cfg.width;
    const size_t V0 = (size_t)u->X * LP(u, 0);
    embed(u, feat);
    memcpy(interior(u, a->x0, 0, u->cin), x, V0 * u->cin * sizeof *x);
    HB_TRY(conv_x(u, 0, interior(u, q->stem, 0, w), a->x0, u->stem_w, u->stem_b, u->cin, w, 1, 0));
    HB_TRY(rb_forward(u, 0, 0, w, q->stem, 1, q->rb0_h, q->rb0_s, q->rb0_o));
    down(u, 0, w, q->d1, q->rb0_o, u->down1_w, u->down1_b);
    HB_TRY(rb_forward(u, 1, 1, 2 * w, q->d1, 1, q->rb1_h, q->rb1_s, q->rb1_o));
    down(u, 1, 2 * w, a->d2, q->rb1_o, u->down2_w, u->down2_b);
    HB_TRY(rb_forward(u, 2, 2, 4 * w, a->d2, 1, q->rb2_h, q->rb2_s, q->rb2_o));
    up_concat(u, 1, 2 * w, a->c1, q->rb2_o, q->rb1_o, q->up1_t, u->up1_w, u->up1_b);
    HB_TRY(conv_x(u, 1, interior(u, q->g1, 1, 2 * w), a->c1, u->dec1_w, u->dec1_b, 4 * w, 2 * w, 1, 0));
    HB_TRY(silu_all(u, 1, 2 * w, q->a1, q->g1));
    HB_TRY(rb_forward(u, 3, 1, 2 * w, q->a1, 0, q->rb3_h, q->rb3_s, q->rb3_o));
    up_concat(u, 0, w, a->c0, q->rb3_o, q->rb0_o, q->up0_t, u->up0_w, u->up0_b);
    HB_TRY(conv_x(u, 0, interior(u, q->g0, 0, w), a->c0, u->dec0_w, u->dec0_b, 2 * w, w, 1, 0));
    HB_TRY(silu_all(u, 0, w, q->a0, q->g0));
    HB_TRY(rb_forward(u, 4, 0, w, q->a0, 0, q->rb4_h, q->rb4_s, q->rb4_o));
    hb_conv1_forward(y, interior(u, q->rb4_o, 0, w), P(u, u->head_w), P(u, u->head_b), 1, w, u->cfg.n_fields, V0);
    return HB_OK;
}

hb_status hb_unet_forward(hb_unet *u, const float *x, const float *feat, float *y)
{
    HB_TRY(check_reserved(u, 1));
    hb_unet_acts *a = &u->a;
    const pass_slots q = {a->s0, a->h0, a->t0a, a->o0, a->d1, a->h1, a->t1a, a->o1, a->h2, a->t2a, a->o2,
                          a->t1b, a->g1, a->t1b, a->hb1, a->t1a, a->ob1, a->t0b, a->g0, a->t0b, a->hb0, a->t0a, a->ob0};
    u->feat = feat;
    return unet_pass(u, x, feat, y, &q);
}

hb_status hb_unet_infer(hb_unet *u, const float *x, const float *feat, float *y)
{
    HB_TRY(check_reserved(u, 0));
    hb_unet_acts *a = &u->a;
    /* in place wherever the data flow allows; the skip o0 is dead once
     * concatenated and takes the last decoder's output */
    const pass_slots q = {a->o0, a->t0a, a->t0a, a->o0, a->o1, a->t1a, a->t1a, a->o1, a->h2, a->h2, a->d2,
                          a->t1a, a->g1, a->g1, a->t1a, a->t1a, a->g1, a->t0a, a->o0, a->o0, a->t0a, a->t0a, a->o0};
    return unet_pass(u, x, feat, y, &q);
}

/* ---- backward ----------------------------------------------------------- */

/* ResBlock k at level l: D holds dL/d(out) (halo'd) on entry and dL/d(in) on
 * exit; in: the block's input (halos valid), h: its conv_a output (halos
 * valid; overwritten with dL/dh); s: scratch. */
static hb_status rb_backward(hb_unet *u, int k, int l, int c, const float *in, float *h, float *s, float *D)
{
    const hb_resblock *rb = &u->rb[k];
    const int X = LX(u, l), Y = LY(u, l), Z = LZ(u, l);
    const size_t pc = LP(u, l) * c, n = (size_t)X * pc;
    float *ss = u->a.ss[k], *dss = u->a.dss[k];
    film_silu_planes(u, l, c, s, h, ss, 0, X + 2);   /* s as in the forward, halos included */
    hb_xchg_req r;
    HB_TRY(xbegin(u, &r, D, l, c));
    if (!u->input_only) hb_conv3_wgrad(G(u, rb->b_w), G(u, rb->b_b), D + pc, s, c, c, X, Y, Z, HB_XHALO, u->col);
    HB_TRY(xend(u, &r));
    memset(s + pc, 0, n * sizeof *s);   /* s's interior takes dL/ds */
    hb_conv3_igrad(s + pc, D, P(u, rb->b_w), c, c, X, Y, Z, HB_XHALO, 0, X, u->col, u->wf);
    memset(dss, 0, 2 * (size_t)c * sizeof *dss);
    hb_film_silu_grad_inplace(h + pc, dss, s + pc, ss, c, (size_t)X * LP(u, l));
    HB_TRY(xbegin(u, &r, h, l, c));
    if (!u->input_only) hb_conv3_wgrad(G(u, rb->a_w), G(u, rb->a_b), h + pc, in, c, c, X, Y, Z, HB_XHALO, u->col);
    HB_TRY(xend(u, &r));
    /* D's interior is dL/d(out), the residual's share of dL/d(in): add conv_a's */
    hb_conv3_igrad(D + pc, h, P(u, rb->a_w), c, c, X, Y, Z, HB_XHALO, 0, X, u->col, u->wf);
    if (!u->input_only) hb_linear_backward(u->a.de, G(u, rb->f_w), G(u, rb->f_b), dss, u->a.e, P(u, rb->f_w), 1, u->cfg.emb, 2 * c);
    return HB_OK;
}

/* A decoder conv3 (level l, Ci -> Co) backward: D holds dL/d(SiLU output)
 * on entry (halo'd); cat (halo'd, its input) receives dL/d(cat) in its
 * interior; du (c = Ci/2 channels, interior) and dskip (accumulated) get the
 * two halves. */
static hb_status decoder_backward(hb_unet *u, int l, int Ci, int Co, float *D, const float *g, float *cat, float *du,
                                  float *dskip, int wv, int bv)
{
    const int X = LX(u, l), Y = LY(u, l), Z = LZ(u, l);
    const size_t V = (size_t)X * LP(u, l);
    hb_silu_grad_inplace(interior(u, D, l, Co), interior(u, (float *)g, l, Co), V * Co);
    hb_xchg_req r;
    HB_TRY(xbegin(u, &r, D, l, Co));
    if (!u->input_only) hb_conv3_wgrad(G(u, wv), G(u, bv), interior(u, D, l, Co), cat, Ci, Co, X, Y, Z, HB_XHALO, u->col);
    HB_TRY(xend(u, &r));
    float *dcat = interior(u, cat, l, Ci);
    memset(dcat, 0, V * Ci * sizeof *dcat);
    hb_conv3_igrad(dcat, D, P(u, wv), Ci, Co, X, Y, Z, HB_XHALO, 0, X, u->col, u->wf);
    memset(du, 0, V * (Ci / 2) * sizeof *du);
    hb_concat_backward(du, dskip, dcat, 1, Ci / 2, Ci / 2, V);
    return HB_OK;
}

/* The up layer (coarse level l + 1, 2c -> c at level l) backward: du (level
 * l interior) -> dW, and dL/d(coarse) written over coarse's interior. */
static void up_backward(hb_unet *u, int l, int c, const float *du, float *coarse, int wv, int bv)
{
    const int Xc = LX(u, l + 1), Yc = LY(u, l + 1), Zc = LZ(u, l + 1);
    float *ci = interior(u, coarse, l + 1, 2 * c);
    if (!u->input_only) hb_up_backward(NULL, G(u, wv), G(u, bv), du, ci, P(u, wv), 1, 2 * c, c, Xc, Yc, Zc, u->wf);
    memset(ci, 0, (size_t)Xc * LP(u, l + 1) * 2 * c * sizeof *ci);
    hb_up_backward(ci, NULL, NULL, du, ci, P(u, wv), 1, 2 * c, c, Xc, Yc, Zc, u->wf);   /* in unused without dw */
}

/* The down layer (level l, c -> 2c at l + 1) backward: dd (level l + 1
 * interior) -> dW, and dL/d(in) added into din (level l interior). */
static void down_backward(hb_unet *u, int l, int c, const float *dd, const float *in, float *din, int wv, int bv)
{
    hb_down_backward(interior(u, din, l, c), G(u, wv), G(u, bv), interior(u, (float *)dd, l + 1, 2 * c),
                     interior(u, (float *)in, l, c), P(u, wv), 1, c, 2 * c, LX(u, l), LY(u, l), LZ(u, l), u->col,
                     u->wf);
}

static void embed_backward(hb_unet *u)
{
    hb_unet_acts *a = &u->a;
    const int E = u->cfg.emb;
    const size_t bytes = (size_t)E * sizeof *a->de_h;
    memcpy(a->de_h, a->de, bytes);   /* dL/d(output of layer k), k from the last down */
    for (int k = u->cfg.emb_layers - 1; k >= 1; k--) {
        memset(a->de_a, 0, bytes);
        hb_linear_backward(a->de_a, G(u, u->emb_w[k]), G(u, u->emb_b[k]), a->de_h, a->e_a[k - 1], P(u, u->emb_w[k]),
                           1, E, E);
        memset(a->de_h, 0, bytes);
        hb_silu_backward(a->de_h, a->de_a, a->e_h[k - 1], (size_t)E);
    }
    hb_linear_backward(NULL, G(u, u->emb_w[0]), G(u, u->emb_b[0]), a->de_h, u->feat, P(u, u->emb_w[0]), 1,
                       HB_UNET_NFEAT, E);
}

hb_status hb_unet_backward(hb_unet *u, const float *dy, float *dx)
{
    HB_TRY(check_reserved(u, 1));
    hb_unet_acts *a = &u->a;
    const int w = u->cfg.width, F = u->cfg.n_fields;
    const size_t V0 = (size_t)u->X * LP(u, 0), V1 = V0 / 8;
    memset(a->de, 0, (size_t)u->cfg.emb * sizeof *a->de);
    /* head; then ob0 takes dL/d(ob0) */
    float *ob0 = interior(u, a->ob0, 0, w);
    if (!u->input_only) hb_conv1_backward(NULL, G(u, u->head_w), G(u, u->head_b), dy, ob0, P(u, u->head_w), 1, w, F, V0);
    memset(ob0, 0, V0 * w * sizeof *ob0);
    hb_conv1_backward(ob0, NULL, NULL, dy, NULL, P(u, u->head_w), 1, w, F, V0);
    /* level 0 decoder: a0 = SiLU(g0) recomputed into t0b; t0b then collects dL/d(o0) */
    hb_silu_forward(a->t0b, a->g0, hsize(u, 0, w));
    HB_TRY(rb_backward(u, 4, 0, w, a->t0b, a->hb0, a->t0a, a->ob0));
    memset(interior(u, a->t0b, 0, w), 0, V0 * w * sizeof(float));
    HB_TRY(decoder_backward(u, 0, 2 * w, w, a->ob0, a->g0, a->c0, interior(u, a->t0a, 0, w),
                            interior(u, a->t0b, 0, w), u->dec0_w, u->dec0_b));
    up_backward(u, 0, w, interior(u, a->t0a, 0, w), a->ob1, u->up0_w, u->up0_b);
    /* level 1 decoder, the same way */
    hb_silu_forward(a->t1b, a->g1, hsize(u, 1, 2 * w));
    HB_TRY(rb_backward(u, 3, 1, 2 * w, a->t1b, a->hb1, a->t1a, a->ob1));
    memset(interior(u, a->t1b, 1, 2 * w), 0, V1 * 2 * w * sizeof(float));
    HB_TRY(decoder_backward(u, 1, 4 * w, 2 * w, a->ob1, a->g1, a->c1, interior(u, a->t1a, 1, 2 * w),
                            interior(u, a->t1b, 1, 2 * w), u->dec1_w, u->dec1_b));
    up_backward(u, 1, 2 * w, interior(u, a->t1a, 1, 2 * w), a->o2, u->up1_w, u->up1_b);
    /* the encoder, bottom up: o2 holds dL/d(o2), then dL/d(d2) */
    HB_TRY(rb_backward(u, 2, 2, 4 * w, a->d2, a->h2, a->t2a, a->o2));
    down_backward(u, 1, 2 * w, a->o2, a->o1, a->t1b, u->down2_w, u->down2_b);
    HB_TRY(rb_backward(u, 1, 1, 2 * w, a->d1, a->h1, a->t1a, a->t1b));
    down_backward(u, 0, w, a->t1b, a->o0, a->t0b, u->down1_w, u->down1_b);
    HB_TRY(rb_backward(u, 0, 0, w, a->s0, a->h0, a->t0a, a->t0b));
    /* t0b holds dL/d(s0): the stem */
    if (!u->input_only) {
        hb_conv3_wgrad(G(u, u->stem_w), G(u, u->stem_b), interior(u, a->t0b, 0, w), a->x0, u->cin, w, u->X, u->Y,
                       u->Z, HB_XHALO, u->col);
    }
    if (dx) {
        HB_TRY(xchg(u, a->t0b, 0, w));
        memset(dx, 0, V0 * u->cin * sizeof *dx);
        hb_conv3_igrad(dx, a->t0b, P(u, u->stem_w), u->cin, w, u->X, u->Y, u->Z, HB_XHALO, 0, u->X, u->col, u->wf);
    }
    if (!u->input_only) embed_backward(u);
    return HB_OK;
}

hb_status hb_unet_vjp(hb_unet *u, const float *dy, float *dx)
{
    u->input_only = 1;
    hb_status rc = hb_unet_backward(u, dy, dx);
    u->input_only = 0;
    return rc;
}

double hb_unet_flops(const hb_unet_config *c, int B, int X, int Y, int Z)
{
    const double w = c->width, F = c->n_fields, E = c->emb, cin = F + 1 + c->extra_in;
    const double v0 = (double)X * Y * Z, v1 = v0 / 8, v2 = v0 / 64;
#define C3(i, o, v) (2.0 * 27 * (i) * (o) * (v))
#define RES(ch, v) (2 * C3(ch, ch, v) + 2.0 * E * 2 * (ch))
    double f = C3(cin, w, v0) + RES(w, v0) + 2.0 * 8 * w * 2 * w * v1 + RES(2 * w, v1);
    f += 2.0 * 8 * 2 * w * 4 * w * v2 + RES(4 * w, v2);
    f += 2.0 * 8 * 4 * w * 2 * w * v2 + C3(4 * w, 2 * w, v1) + RES(2 * w, v1);
    f += 2.0 * 8 * 2 * w * w * v1 + C3(2 * w, w, v0) + RES(w, v0) + 2.0 * w * F * v0;
    f += 2.0 * (HB_UNET_NFEAT * E + (double)((c->emb_layers ? c->emb_layers : 2) - 1) * E * E);   /* the embedding MLP */
#undef C3
#undef RES
    return B * f;
}

void hb_unet_time_features(double t, float out[16])
{
    for (int k = 0; k < 8; k++) {
        double a = ldexp(M_PI, k) * t;
        out[k] = (float)sin(a);
        out[8 + k] = (float)cos(a);
    }
}
