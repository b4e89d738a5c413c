/* hb/unet.h: the reference UNet3D-small of DESIGN.md.
 *
 *   e    = Linear(64,64)(SiLU(Linear(22,64)(feat)))         feat = 16 sinusoids of t + 6 params
 *   s0   = ResBlock_w(stem(x))                             stem: conv3 C_in -> w
 *   s1   = ResBlock_2w(down1(s0))                          down: 2x2x2 stride 2
 *   h    = ResBlock_4w(down2(s1))
 *   h    = ResBlock_2w(SiLU(conv3(concat(up1(h), s1))))     up: transposed 2x2x2 stride 2
 *   h    = ResBlock_w (SiLU(conv3(concat(up0(h), s0))))
 *   y    = conv1(h): w -> n_fields
 *   ResBlock_c(x) = x + conv3(SiLU(FiLM(conv3(x), Linear(64, 2c)(e))))
 *
 * Every 3x3x3 convolution is periodic with a bias; no normalisation layers, so
 * a tile's output does not depend on the tile. Spatial sizes must be
 * multiples of 4 (two stride-2 levels); X may differ from Y and Z (inference
 * tiles). Parameters live in one flat buffer with named views; gradients
 * mirror it. Initialisation is deterministic from a seed (Philox, PyTorch's
 * default bounds). Tensors are channels last (hb/nn.h). Not collective. */
#ifndef HB_UNET_H
#define HB_UNET_H

#include <stddef.h>
#include <stdint.h>

#include "hb/err.h"

#define HB_UNET_NFEAT 22   /* 16 sinusoidal features of t + 6 parameters */
#define HB_UNET_MAX_VIEWS 64
/* Planes of input on each side that reach an output plane (the receptive
 * radius, measured by tests/test_nn.c), rounded up to a multiple of 4 so
 * tiles keep the stride-2 grids aligned. */
#define HB_UNET_HALO 28

typedef struct hb_unet_config {
    int n_fields;   /* output channels; input has n_fields + 1 */
    int width;      /* w */
    int emb;        /* embedding width (64) */
} hb_unet_config;

typedef struct hb_param_view {
    char   name[40];
    size_t off, n;
    int    fan_in;
} hb_param_view;

typedef struct hb_resblock { int a_w, a_b, f_w, f_b, b_w, b_b; } hb_resblock;   /* view indices */

/* Saved activations of one ResBlock: its FiLM output (B, 2c), conv_a output
 * h and SiLU(FiLM(h)) s (B, V, c), and the block output. */
typedef struct hb_rb_act { float *ss, *h, *s, *out; } hb_rb_act;

typedef struct hb_unet {
    hb_unet_config cfg;
    int            cin;
    hb_param_view  views[HB_UNET_MAX_VIEWS];
    int            n_views;
    size_t         n_params;
    float         *params, *grads;   /* owned, n_params each */
    /* view indices */
    int emb_w1, emb_b1, emb_w2, emb_b2, stem_w, stem_b, down1_w, down1_b, down2_w, down2_b;
    int up1_w, up1_b, dec1_w, dec1_b, up0_w, up0_b, dec0_w, dec0_b, head_w, head_b;
    hb_resblock rb0, rb1, rb2, rb1b, rb0b;
    /* workspace, sized by hb_unet_reserve */
    size_t cap_bv;          /* samples x level-0 voxels the arena holds */
    size_t cap_col;         /* floats of each im2col buffer */
    float *arena, *darena, *col, *dcol;
    size_t arena_n;
    float *iarena;          /* inference workspace (hb_unet_reserve_infer) */
    size_t iarena_n;
    /* the last forward: sizes and activation pointers into the arena */
    int B, X, Y, Z;
    const float *x, *feat;
    float *e_h1, *e_a1, *e, *s0, *d1, *d2, *u1, *c1, *g1, *a1, *u0, *c0, *g0, *a0;
    hb_rb_act r0, r1, r2, r1b, r0b;
} hb_unet;

/* Parameters initialised from seed, gradients zeroed. */
hb_status hb_unet_init(hb_unet *u, const hb_unet_config *cfg, uint64_t seed);
void      hb_unet_free(hb_unet *u);
/* Workspace for batches of B samples of X*Y*Z voxels (or any B', X', Y', Z'
 * with B'X'Y'Z' <= BXYZ and no larger im2col need). Allocated once. */
hb_status hb_unet_reserve(hb_unet *u, int B, int X, int Y, int Z);
/* y (B,X,Y,Z,n_fields) from x (B,X,Y,Z,n_fields+1) and feat (B,22).
 * x and feat must stay valid until hb_unet_backward. */
hb_status hb_unet_forward(hb_unet *u, const float *x, const float *feat, float *y, int B, int X, int Y, int Z);
/* Add the gradients of the last forward for dL/dy into u->grads. */
void      hb_unet_backward(hb_unet *u, const float *dy);
void      hb_unet_zero_grad(hb_unet *u);
/* Inference without saved activations (batch 1): about 5w floats per
 * level-0 voxel instead of ~12w, for whole-box emulation. */
hb_status hb_unet_reserve_infer(hb_unet *u, int X, int Y, int Z);
hb_status hb_unet_infer(hb_unet *u, const float *x, const float *feat, float *y, int X, int Y, int Z);
/* Floating-point operations of one forward (2 per multiply-add). */
double    hb_unet_flops(const hb_unet_config *cfg, int B, int X, int Y, int Z);
/* Sinusoidal time features: 8 sin + 8 cos of 2^k pi t, k = 0..7. */
void      hb_unet_time_features(double t, float out[16]);
/* Index of a view by name, -1 if none. */
int       hb_unet_view(const hb_unet *u, const char *name);

#endif
