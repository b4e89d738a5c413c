/* The reference UNet3D-small: parameters, forward, backward (hb/unet.h). */
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

hb_status hb_unet_init(hb_unet *u, const hb_unet_config *cfg, uint64_t seed)
{
    memset(u, 0, sizeof *u);
    if (cfg->n_fields < 1 || cfg->width < 1 || cfg->emb < 1) {
        return HB_ERR(HB_EARG, "network: n_fields=%d width=%d emb=%d must be positive", cfg->n_fields,
                      cfg->width, cfg->emb);
    }
    u->cfg = *cfg;
    const int w = cfg->width, F = cfg->n_fields, E = cfg->emb, cin = F + 1;
    u->cin = cin;
    u->emb_w1 = add_view(u, "emb.w1", (size_t)E * HB_UNET_NFEAT, HB_UNET_NFEAT);
    u->emb_b1 = add_view(u, "emb.b1", (size_t)E, HB_UNET_NFEAT);
    u->emb_w2 = add_view(u, "emb.w2", (size_t)E * E, E);
    u->emb_b2 = add_view(u, "emb.b2", (size_t)E, E);
    u->stem_w = add_view(u, "stem.w", 27 * (size_t)cin * w, 27 * cin);
    u->stem_b = add_view(u, "stem.b", (size_t)w, 27 * cin);
    u->rb0 = add_resblock(u, "res0", w);
    u->down1_w = add_view(u, "down1.w", 8 * (size_t)w * 2 * w, 8 * w);
    u->down1_b = add_view(u, "down1.b", 2 * (size_t)w, 8 * w);
    u->rb1 = add_resblock(u, "res1", 2 * w);
    u->down2_w = add_view(u, "down2.w", 8 * (size_t)2 * w * 4 * w, 16 * w);
    u->down2_b = add_view(u, "down2.b", 4 * (size_t)w, 16 * w);
    u->rb2 = add_resblock(u, "res2", 4 * w);
    /* PyTorch's fan-in of a transposed convolution is out_channels * 8 */
    u->up1_w = add_view(u, "up1.w", (size_t)4 * w * 8 * 2 * w, 16 * w);
    u->up1_b = add_view(u, "up1.b", 2 * (size_t)w, 16 * w);
    u->dec1_w = add_view(u, "dec1.w", 27 * (size_t)4 * w * 2 * w, 27 * 4 * w);
    u->dec1_b = add_view(u, "dec1.b", 2 * (size_t)w, 27 * 4 * w);
    u->rb1b = add_resblock(u, "res1b", 2 * w);
    u->up0_w = add_view(u, "up0.w", (size_t)2 * w * 8 * w, 8 * w);
    u->up0_b = add_view(u, "up0.b", (size_t)w, 8 * w);
    u->dec0_w = add_view(u, "dec0.w", 27 * (size_t)2 * w * w, 27 * 2 * w);
    u->dec0_b = add_view(u, "dec0.b", (size_t)w, 27 * 2 * w);
    u->rb0b = add_resblock(u, "res0b", w);
    u->head_w = add_view(u, "head.w", (size_t)w * F, w);
    u->head_b = add_view(u, "head.b", (size_t)F, w);

    u->params = malloc(u->n_params * sizeof *u->params);
    u->grads = calloc(u->n_params, sizeof *u->grads);
    if (!u->params || !u->grads) {
        hb_unet_free(u);
        return HB_ERR(HB_ENOMEM, "network parameters (%zu floats)", u->n_params);
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
    free(u->arena);
    free(u->darena);
    free(u->col);
    free(u->dcol);
    free(u->iarena);
    memset(u, 0, sizeof *u);
}

void hb_unet_zero_grad(hb_unet *u) { memset(u->grads, 0, u->n_params * sizeof *u->grads); }

static inline float *P(hb_unet *u, int view) { return u->params + u->views[view].off; }
static inline float *G(hb_unet *u, int view) { return u->grads + u->views[view].off; }

/* Floats of activations per sample of V0 level-0 voxels (all levels). */
static size_t arena_per_sample(const hb_unet_config *c, size_t V0)
{
    const size_t w = (size_t)c->width, F = (size_t)c->n_fields, V1 = V0 / 8, V2 = V0 / 64;
    (void)F;
    size_t n = 3 * (size_t)c->emb;                                   /* e_h1, e_a1, e */
    n += V0 * w;                                                     /* s0 */
    n += 2 * (2 * w) + 3 * V0 * w;                                   /* r0 */
    n += V1 * 2 * w + 2 * (4 * w) + 3 * V1 * 2 * w;                  /* d1, r1 */
    n += V2 * 4 * w + 2 * (8 * w) + 3 * V2 * 4 * w;                  /* d2, r2 */
    n += V1 * 2 * w + V1 * 4 * w + 2 * V1 * 2 * w + 2 * (4 * w) + 3 * V1 * 2 * w;   /* u1 c1 g1 a1 r1b */
    n += V0 * w + V0 * 2 * w + 2 * V0 * w + 2 * (2 * w) + 3 * V0 * w;                 /* u0 c0 g0 a0 r0b */
    return n;
}

hb_status hb_unet_reserve(hb_unet *u, int B, int X, int Y, int Z)
{
    if (X % 4 || Y % 4 || Z % 4 || X < 4 || Y < 4 || Z < 4 || B < 1) {
        return HB_ERR(HB_EARG, "network input %d x %d x %d (batch %d): sizes must be multiples of 4",
                      X, Y, Z, B);
    }
    const int w = u->cfg.width;
    size_t bv = (size_t)B * X * Y * Z;
    size_t an = arena_per_sample(&u->cfg, (size_t)X * Y * Z) * (size_t)B;
    size_t cn = 0;
    /* the largest im2col of any layer at any level */
    size_t c0 = hb_conv_workspace(2 * w > u->cin ? 2 * w : u->cin, w, X, Y, Z);
    size_t c1 = hb_conv_workspace(4 * w, 2 * w, X / 2, Y / 2, Z / 2);
    size_t c2 = hb_conv_workspace(4 * w, 4 * w, X / 4, Y / 4, Z / 4);
    cn = c0 > c1 ? c0 : c1;
    cn = cn > c2 ? cn : c2;
    if (bv <= u->cap_bv && an <= u->arena_n && cn <= u->cap_col) return HB_OK;
    free(u->arena);
    free(u->darena);
    free(u->col);
    free(u->dcol);
    u->arena = malloc(an * sizeof *u->arena);
    u->darena = malloc(an * sizeof *u->darena);
    u->col = malloc(cn * sizeof *u->col);
    u->dcol = malloc(cn * sizeof *u->dcol);
    if (!u->arena || !u->darena || !u->col || !u->dcol) {
        u->cap_bv = u->cap_col = u->arena_n = 0;
        return HB_ERR(HB_ENOMEM, "network workspace for %d x %d^3-ish samples (%.0f MB)", B, X,
                      (2.0 * an + 2.0 * cn) * 4 / 1e6);
    }
    u->cap_bv = bv;
    u->arena_n = an;
    u->cap_col = cn;
    return HB_OK;
}

/* Carve the activations of a (B, X, Y, Z) pass out of `base`. */
static void layout(hb_unet *u, float *base, int B, size_t V0, float **e_h1, float **e_a1, float **e,
                   float **s0, hb_rb_act *r0, float **d1, hb_rb_act *r1, float **d2, hb_rb_act *r2,
                   float **u1, float **c1, float **g1, float **a1, hb_rb_act *r1b, float **u0,
                   float **c0, float **g0, float **a0, hb_rb_act *r0b)
{
    const size_t w = (size_t)u->cfg.width, E = (size_t)u->cfg.emb, b = (size_t)B;
    const size_t V1 = V0 / 8, V2 = V0 / 64;
    float *p = base;
#define TAKE(n) (p += (n), p - (n))
    *e_h1 = TAKE(b * E); *e_a1 = TAKE(b * E); *e = TAKE(b * E);
    *s0 = TAKE(b * V0 * w);
    r0->ss = TAKE(b * 2 * w); r0->h = TAKE(b * V0 * w); r0->s = TAKE(b * V0 * w); r0->out = TAKE(b * V0 * w);
    *d1 = TAKE(b * V1 * 2 * w);
    r1->ss = TAKE(b * 4 * w); r1->h = TAKE(b * V1 * 2 * w); r1->s = TAKE(b * V1 * 2 * w); r1->out = TAKE(b * V1 * 2 * w);
    *d2 = TAKE(b * V2 * 4 * w);
    r2->ss = TAKE(b * 8 * w); r2->h = TAKE(b * V2 * 4 * w); r2->s = TAKE(b * V2 * 4 * w); r2->out = TAKE(b * V2 * 4 * w);
    *u1 = TAKE(b * V1 * 2 * w); *c1 = TAKE(b * V1 * 4 * w); *g1 = TAKE(b * V1 * 2 * w); *a1 = TAKE(b * V1 * 2 * w);
    r1b->ss = TAKE(b * 4 * w); r1b->h = TAKE(b * V1 * 2 * w); r1b->s = TAKE(b * V1 * 2 * w); r1b->out = TAKE(b * V1 * 2 * w);
    *u0 = TAKE(b * V0 * w); *c0 = TAKE(b * V0 * 2 * w); *g0 = TAKE(b * V0 * w); *a0 = TAKE(b * V0 * w);
    r0b->ss = TAKE(b * 2 * w); r0b->h = TAKE(b * V0 * w); r0b->s = TAKE(b * V0 * w); r0b->out = TAKE(b * V0 * w);
#undef TAKE
}

static void resblock_forward(hb_unet *u, const hb_resblock *rb, hb_rb_act *a, const float *x, int c,
                             int X, int Y, int Z)
{
    const int B = u->B;
    const size_t V = (size_t)X * Y * Z;
    hb_linear_forward(a->ss, u->e, P(u, rb->f_w), P(u, rb->f_b), B, u->cfg.emb, 2 * c);
    hb_conv3_forward(a->h, x, P(u, rb->a_w), P(u, rb->a_b), B, c, c, X, Y, Z, u->col);
    hb_film_silu_forward(a->s, a->h, a->ss, B, c, V);
    hb_conv3_forward(a->out, a->s, P(u, rb->b_w), P(u, rb->b_b), B, c, c, X, Y, Z, u->col);
    hb_add_forward(a->out, a->out, x, (size_t)B * V * c);
}

/* da: gradient slots (same layout); dx accumulates; de accumulates. */
static void resblock_backward(hb_unet *u, const hb_resblock *rb, const hb_rb_act *a, const hb_rb_act *da,
                              const float *x, float *dx, float *de, int c, int X, int Y, int Z)
{
    const int B = u->B;
    const size_t V = (size_t)X * Y * Z, n = (size_t)B * V * c;
    /* out = x + conv_b(s): dx += dout; ds = conv_b^T dout */
    for (size_t i = 0; i < n; i++) dx[i] += da->out[i];
    memset(da->s, 0, n * sizeof *da->s);
    hb_conv3_backward(da->s, G(u, rb->b_w), G(u, rb->b_b), da->out, a->s, P(u, rb->b_w), B, c, c, X, Y, Z,
                      u->col, u->dcol);
    memset(da->h, 0, n * sizeof *da->h);
    memset(da->ss, 0, (size_t)B * 2 * c * sizeof *da->ss);
    hb_film_silu_backward(da->h, da->ss, da->s, a->h, a->ss, B, c, V);
    hb_conv3_backward(dx, G(u, rb->a_w), G(u, rb->a_b), da->h, x, P(u, rb->a_w), B, c, c, X, Y, Z, u->col,
                      u->dcol);
    hb_linear_backward(de, G(u, rb->f_w), G(u, rb->f_b), da->ss, u->e, P(u, rb->f_w), B, u->cfg.emb, 2 * c);
}

hb_status hb_unet_forward(hb_unet *u, const float *x, const float *feat, float *y, int B, int X, int Y, int Z)
{
    if (X % 4 || Y % 4 || Z % 4 || X < 4 || Y < 4 || Z < 4) {
        return HB_ERR(HB_EARG, "network input %d x %d x %d: sizes must be multiples of 4", X, Y, Z);
    }
    const size_t V0 = (size_t)X * Y * Z;
    if ((size_t)B * V0 > u->cap_bv || arena_per_sample(&u->cfg, V0) * (size_t)B > u->arena_n) {
        return HB_ERR(HB_EARG, "network workspace holds %zu voxel-samples, %d x %zu asked: "
                      "call hb_unet_reserve with the largest batch first", u->cap_bv, B, V0);
    }
    u->B = B; u->X = X; u->Y = Y; u->Z = Z;
    u->x = x;
    u->feat = feat;
    layout(u, u->arena, B, V0, &u->e_h1, &u->e_a1, &u->e, &u->s0, &u->r0, &u->d1, &u->r1, &u->d2, &u->r2,
           &u->u1, &u->c1, &u->g1, &u->a1, &u->r1b, &u->u0, &u->c0, &u->g0, &u->a0, &u->r0b);
    const int w = u->cfg.width, E = u->cfg.emb;
    const int X1 = X / 2, Y1 = Y / 2, Z1 = Z / 2, X2 = X / 4, Y2 = Y / 4, Z2 = Z / 4;
    const size_t V1 = V0 / 8;
    hb_linear_forward(u->e_h1, feat, P(u, u->emb_w1), P(u, u->emb_b1), B, HB_UNET_NFEAT, E);
    hb_silu_forward(u->e_a1, u->e_h1, (size_t)B * E);
    hb_linear_forward(u->e, u->e_a1, P(u, u->emb_w2), P(u, u->emb_b2), B, E, E);

    hb_conv3_forward(u->s0, x, P(u, u->stem_w), P(u, u->stem_b), B, u->cin, w, X, Y, Z, u->col);
    resblock_forward(u, &u->rb0, &u->r0, u->s0, w, X, Y, Z);
    hb_down_forward(u->d1, u->r0.out, P(u, u->down1_w), P(u, u->down1_b), B, w, 2 * w, X, Y, Z, u->col);
    resblock_forward(u, &u->rb1, &u->r1, u->d1, 2 * w, X1, Y1, Z1);
    hb_down_forward(u->d2, u->r1.out, P(u, u->down2_w), P(u, u->down2_b), B, 2 * w, 4 * w, X1, Y1, Z1, u->col);
    resblock_forward(u, &u->rb2, &u->r2, u->d2, 4 * w, X2, Y2, Z2);

    hb_up_forward(u->u1, u->r2.out, P(u, u->up1_w), P(u, u->up1_b), B, 4 * w, 2 * w, X2, Y2, Z2, u->col);
    hb_concat_forward(u->c1, u->u1, u->r1.out, B, 2 * w, 2 * w, V1);
    hb_conv3_forward(u->g1, u->c1, P(u, u->dec1_w), P(u, u->dec1_b), B, 4 * w, 2 * w, X1, Y1, Z1, u->col);
    hb_silu_forward(u->a1, u->g1, (size_t)B * V1 * 2 * w);
    resblock_forward(u, &u->rb1b, &u->r1b, u->a1, 2 * w, X1, Y1, Z1);

    hb_up_forward(u->u0, u->r1b.out, P(u, u->up0_w), P(u, u->up0_b), B, 2 * w, w, X1, Y1, Z1, u->col);
    hb_concat_forward(u->c0, u->u0, u->r0.out, B, w, w, V0);
    hb_conv3_forward(u->g0, u->c0, P(u, u->dec0_w), P(u, u->dec0_b), B, 2 * w, w, X, Y, Z, u->col);
    hb_silu_forward(u->a0, u->g0, (size_t)B * V0 * w);
    resblock_forward(u, &u->rb0b, &u->r0b, u->a0, w, X, Y, Z);
    hb_conv1_forward(y, u->r0b.out, P(u, u->head_w), P(u, u->head_b), B, w, u->cfg.n_fields, V0);
    return HB_OK;
}

void hb_unet_backward(hb_unet *u, const float *dy)
{
    const int B = u->B, X = u->X, Y = u->Y, Z = u->Z, w = u->cfg.width, E = u->cfg.emb;
    const int X1 = X / 2, Y1 = Y / 2, Z1 = Z / 2, X2 = X / 4, Y2 = Y / 4, Z2 = Z / 4;
    const size_t V0 = (size_t)X * Y * Z, V1 = V0 / 8, V2 = V0 / 64;
    float *de_h1, *de_a1, *de, *ds0, *dd1, *dd2, *du1, *dc1, *dg1, *da1, *du0, *dc0, *dg0, *da0;
    hb_rb_act dr0, dr1, dr2, dr1b, dr0b;
    layout(u, u->darena, B, V0, &de_h1, &de_a1, &de, &ds0, &dr0, &dd1, &dr1, &dd2, &dr2, &du1, &dc1, &dg1,
           &da1, &dr1b, &du0, &dc0, &dg0, &da0, &dr0b);
    /* gradient slots are zeroed where several consumers add into them */
    memset(de, 0, (size_t)B * E * sizeof *de);
    memset(dr0b.out, 0, (size_t)B * V0 * w * sizeof(float));
    hb_conv1_backward(dr0b.out, G(u, u->head_w), G(u, u->head_b), dy, u->r0b.out, P(u, u->head_w), B, w,
                      u->cfg.n_fields, V0);
    memset(da0, 0, (size_t)B * V0 * w * sizeof(float));
    resblock_backward(u, &u->rb0b, &u->r0b, &dr0b, u->a0, da0, de, w, X, Y, Z);
    memset(dg0, 0, (size_t)B * V0 * w * sizeof(float));
    hb_silu_backward(dg0, da0, u->g0, (size_t)B * V0 * w);
    memset(dc0, 0, (size_t)B * V0 * 2 * w * sizeof(float));
    hb_conv3_backward(dc0, G(u, u->dec0_w), G(u, u->dec0_b), dg0, u->c0, P(u, u->dec0_w), B, 2 * w, w, X, Y, Z,
                      u->col, u->dcol);
    memset(du0, 0, (size_t)B * V0 * w * sizeof(float));
    memset(dr0.out, 0, (size_t)B * V0 * w * sizeof(float));
    hb_concat_backward(du0, dr0.out, dc0, B, w, w, V0);
    memset(dr1b.out, 0, (size_t)B * V1 * 2 * w * sizeof(float));
    hb_up_backward(dr1b.out, G(u, u->up0_w), G(u, u->up0_b), du0, u->r1b.out, P(u, u->up0_w), B, 2 * w, w,
                   X1, Y1, Z1, u->dcol);

    memset(da1, 0, (size_t)B * V1 * 2 * w * sizeof(float));
    resblock_backward(u, &u->rb1b, &u->r1b, &dr1b, u->a1, da1, de, 2 * w, X1, Y1, Z1);
    memset(dg1, 0, (size_t)B * V1 * 2 * w * sizeof(float));
    hb_silu_backward(dg1, da1, u->g1, (size_t)B * V1 * 2 * w);
    memset(dc1, 0, (size_t)B * V1 * 4 * w * sizeof(float));
    hb_conv3_backward(dc1, G(u, u->dec1_w), G(u, u->dec1_b), dg1, u->c1, P(u, u->dec1_w), B, 4 * w, 2 * w,
                      X1, Y1, Z1, u->col, u->dcol);
    memset(du1, 0, (size_t)B * V1 * 2 * w * sizeof(float));
    memset(dr1.out, 0, (size_t)B * V1 * 2 * w * sizeof(float));
    hb_concat_backward(du1, dr1.out, dc1, B, 2 * w, 2 * w, V1);
    memset(dr2.out, 0, (size_t)B * V2 * 4 * w * sizeof(float));
    hb_up_backward(dr2.out, G(u, u->up1_w), G(u, u->up1_b), du1, u->r2.out, P(u, u->up1_w), B, 4 * w, 2 * w,
                   X2, Y2, Z2, u->dcol);

    memset(dd2, 0, (size_t)B * V2 * 4 * w * sizeof(float));
    resblock_backward(u, &u->rb2, &u->r2, &dr2, u->d2, dd2, de, 4 * w, X2, Y2, Z2);
    hb_down_backward(dr1.out, G(u, u->down2_w), G(u, u->down2_b), dd2, u->r1.out, P(u, u->down2_w), B, 2 * w,
                     4 * w, X1, Y1, Z1, u->col, u->dcol);
    memset(dd1, 0, (size_t)B * V1 * 2 * w * sizeof(float));
    resblock_backward(u, &u->rb1, &u->r1, &dr1, u->d1, dd1, de, 2 * w, X1, Y1, Z1);
    hb_down_backward(dr0.out, G(u, u->down1_w), G(u, u->down1_b), dd1, u->r0.out, P(u, u->down1_w), B, w,
                     2 * w, X, Y, Z, u->col, u->dcol);
    memset(ds0, 0, (size_t)B * V0 * w * sizeof(float));
    resblock_backward(u, &u->rb0, &u->r0, &dr0, u->s0, ds0, de, w, X, Y, Z);
    hb_conv3_backward(NULL, G(u, u->stem_w), G(u, u->stem_b), ds0, u->x, P(u, u->stem_w), B, u->cin, w, X, Y,
                      Z, u->col, u->dcol);

    /* the embedding: e = W2 SiLU(W1 feat + b1) + b2 */
    memset(de_a1, 0, (size_t)B * E * sizeof(float));
    hb_linear_backward(de_a1, G(u, u->emb_w2), G(u, u->emb_b2), de, u->e_a1, P(u, u->emb_w2), B, E, E);
    memset(de_h1, 0, (size_t)B * E * sizeof(float));
    hb_silu_backward(de_h1, de_a1, u->e_h1, (size_t)B * E);
    hb_linear_backward(NULL, G(u, u->emb_w1), G(u, u->emb_b1), de_h1, u->feat, P(u, u->emb_w1), B,
                       HB_UNET_NFEAT, E);
}

static size_t infer_floats(const hb_unet_config *c, size_t V0)
{
    const size_t w = (size_t)c->width;
    return 5 * w * V0 + 12 * w * (V0 / 8) + 12 * w * (V0 / 64) + 3 * (size_t)c->emb + 16 * w;
}

hb_status hb_unet_reserve_infer(hb_unet *u, int X, int Y, int Z)
{
    if (X % 4 || Y % 4 || Z % 4 || X < 4 || Y < 4 || Z < 4) {
        return HB_ERR(HB_EARG, "network input %d x %d x %d: sizes must be multiples of 4", X, Y, Z);
    }
    size_t need = infer_floats(&u->cfg, (size_t)X * Y * Z);
    const int w = u->cfg.width;
    size_t c0 = hb_conv_workspace(2 * w > u->cin ? 2 * w : u->cin, w, X, Y, Z);
    size_t c1 = hb_conv_workspace(4 * w, 2 * w, X / 2, Y / 2, Z / 2);
    size_t c2 = hb_conv_workspace(4 * w, 4 * w, X / 4, Y / 4, Z / 4);
    size_t cn = c0 > c1 ? c0 : c1;
    cn = cn > c2 ? cn : c2;
    if (need > u->iarena_n) {
        free(u->iarena);
        u->iarena = malloc(need * sizeof *u->iarena);
        u->iarena_n = u->iarena ? need : 0;
    }
    if (cn > u->cap_col) {
        free(u->col);
        u->col = malloc(cn * sizeof *u->col);
        u->cap_col = u->col ? cn : 0;
    }
    if (!u->iarena || !u->col) {
        return HB_ERR(HB_ENOMEM, "inference workspace for %d x %d x %d (%.0f MB)", X, Y, Z,
                      (need + cn) * 4.0 / 1e6);
    }
    return HB_OK;
}

/* x <- x + conv_b(SiLU(FiLM(conv_a(x)))) with scratch t1, t2 (same size as x). */
static void resblock_infer(hb_unet *u, const hb_resblock *rb, float *x, float *t1, float *t2, float *ss,
                           const float *e, int c, int X, int Y, int Z)
{
    const size_t V = (size_t)X * Y * Z;
    hb_linear_forward(ss, e, P(u, rb->f_w), P(u, rb->f_b), 1, u->cfg.emb, 2 * c);
    hb_conv3_forward(t1, x, P(u, rb->a_w), P(u, rb->a_b), 1, c, c, X, Y, Z, u->col);
    hb_film_silu_forward(t1, t1, ss, 1, c, V);
    hb_conv3_forward(t2, t1, P(u, rb->b_w), P(u, rb->b_b), 1, c, c, X, Y, Z, u->col);
    hb_add_forward(x, x, t2, V * c);
}

hb_status hb_unet_infer(hb_unet *u, const float *x, const float *feat, float *y, int X, int Y, int Z)
{
    const size_t V0 = (size_t)X * Y * Z, V1 = V0 / 8, V2 = V0 / 64;
    if (X % 4 || Y % 4 || Z % 4 || !u->iarena || infer_floats(&u->cfg, V0) > u->iarena_n) {
        return HB_ERR(HB_EARG, "inference workspace does not fit %d x %d x %d: call hb_unet_reserve_infer", X, Y, Z);
    }
    const int w = u->cfg.width, E = u->cfg.emb;
    const int X1 = X / 2, Y1 = Y / 2, Z1 = Z / 2, X2 = X / 4, Y2 = Y / 4, Z2 = Z / 4;
    float *p = u->iarena;
#define TAKE(n) (p += (n), p - (n))
    float *A = TAKE(w * V0), *Bf = TAKE(w * V0), *Cf = TAKE(w * V0), *Cat = TAKE(2 * w * V0);
    float *D1 = TAKE(2 * w * V1), *E1 = TAKE(2 * w * V1), *F1 = TAKE(2 * w * V1), *U1 = TAKE(2 * w * V1);
    float *Cat1 = TAKE(4 * w * V1);
    float *D2 = TAKE(4 * w * V2), *E2 = TAKE(4 * w * V2), *F2 = TAKE(4 * w * V2);
    float *h1 = TAKE(E), *a1 = TAKE(E), *e = TAKE(E), *ss = TAKE(16 * w);
#undef TAKE
    hb_linear_forward(h1, feat, P(u, u->emb_w1), P(u, u->emb_b1), 1, HB_UNET_NFEAT, E);
    hb_silu_forward(a1, h1, E);
    hb_linear_forward(e, a1, P(u, u->emb_w2), P(u, u->emb_b2), 1, E, E);

    hb_conv3_forward(A, x, P(u, u->stem_w), P(u, u->stem_b), 1, u->cin, w, X, Y, Z, u->col);
    resblock_infer(u, &u->rb0, A, Bf, Cf, ss, e, w, X, Y, Z);
    hb_down_forward(D1, A, P(u, u->down1_w), P(u, u->down1_b), 1, w, 2 * w, X, Y, Z, u->col);
    resblock_infer(u, &u->rb1, D1, E1, F1, ss, e, 2 * w, X1, Y1, Z1);
    hb_down_forward(D2, D1, P(u, u->down2_w), P(u, u->down2_b), 1, 2 * w, 4 * w, X1, Y1, Z1, u->col);
    resblock_infer(u, &u->rb2, D2, E2, F2, ss, e, 4 * w, X2, Y2, Z2);

    hb_up_forward(U1, D2, P(u, u->up1_w), P(u, u->up1_b), 1, 4 * w, 2 * w, X2, Y2, Z2, u->col);
    hb_concat_forward(Cat1, U1, D1, 1, 2 * w, 2 * w, V1);
    hb_conv3_forward(E1, Cat1, P(u, u->dec1_w), P(u, u->dec1_b), 1, 4 * w, 2 * w, X1, Y1, Z1, u->col);
    hb_silu_forward(E1, E1, V1 * 2 * w);
    resblock_infer(u, &u->rb1b, E1, F1, U1, ss, e, 2 * w, X1, Y1, Z1);

    hb_up_forward(Bf, E1, P(u, u->up0_w), P(u, u->up0_b), 1, 2 * w, w, X1, Y1, Z1, u->col);
    hb_concat_forward(Cat, Bf, A, 1, w, w, V0);
    hb_conv3_forward(Cf, Cat, P(u, u->dec0_w), P(u, u->dec0_b), 1, 2 * w, w, X, Y, Z, u->col);
    hb_silu_forward(Cf, Cf, V0 * w);
    resblock_infer(u, &u->rb0b, Cf, Bf, A, ss, e, w, X, Y, Z);
    hb_conv1_forward(y, Cf, P(u, u->head_w), P(u, u->head_b), 1, w, u->cfg.n_fields, V0);
    return HB_OK;
}

double hb_unet_flops(const hb_unet_config *c, int B, int X, int Y, int Z)
{
    const double w = c->width, F = c->n_fields, E = c->emb, cin = F + 1;
    const double v0 = (double)X * Y * Z, v1 = v0 / 8, v2 = v0 / 64;
#define C3(i, o, v) (2.0 * 27 * (i) * (o) * (v))
#define RES(ch, v) (2 * C3(ch, ch, v) + 2.0 * E * 2 * (ch))
    double f = C3(cin, w, v0) + RES(w, v0) + 2.0 * 8 * w * 2 * w * v1 + RES(2 * w, v1);
    f += 2.0 * 8 * 2 * w * 4 * w * v2 + RES(4 * w, v2);
    f += 2.0 * 8 * 4 * w * 2 * w * v2 + C3(4 * w, 2 * w, v1) + RES(2 * w, v1);
    f += 2.0 * 8 * 2 * w * w * v1 + C3(2 * w, w, v0) + RES(w, v0) + 2.0 * w * F * v0;
    f += 2.0 * (HB_UNET_NFEAT * E + E * E);
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
