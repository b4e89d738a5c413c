/* hb/unet.h: the reference UNet3D-small of DESIGN.md, domain-decomposed.
 *
 *   e    = Linear(64,64)(SiLU(Linear(22,64)(feat)))         feat = 16 sinusoids of t + 6 params
 *          (emb_layers 3 or 4: one or two more SiLU(Linear(64,64)) before the last)
 *   s0   = ResBlock_w(stem(x))                             stem: conv3 C_in -> w
 *   s1   = ResBlock_2w(down1(s0))                          down: 2x2x2 stride 2
 *   h    = ResBlock_4w(down2(s1))
 *   h    = ResBlock_2w(SiLU(conv3(concat(up1(h), s1))))     up: transposed 2x2x2 stride 2
 *   h    = ResBlock_w (SiLU(conv3(concat(up0(h), s0))))
 *   y    = conv1(h): w -> n_fields
 *   ResBlock_c(x) = x + conv3(SiLU(FiLM(conv3(x), Linear(64, 2c)(e))))
 *
 * Every 3x3x3 convolution is periodic with a bias; no normalisation layers.
 * The network runs on one periodic box spread over the ranks of a slab
 * decomposition along x whose boundaries are multiples of 4 planes
 * (hb_slab_init_aligned), so the stride-2 layers never cross a rank
 * boundary. Every tensor that feeds a 3x3x3 convolution is stored with one
 * halo plane on each side, filled by a one-plane exchange with the
 * neighbouring ranks (hb_xchg, posted before the interior planes are
 * computed and completed before the two boundary planes); the backward pass
 * exchanges the output gradient's boundary planes before the input-gradient
 * convolution, the data flow adjoint to the forward's halo read. A rank
 * alone wraps its planes onto themselves: the same code is the periodic
 * whole-box network. The result does not depend on the rank count beyond
 * float round-off.
 *
 * Parameters live in one flat buffer with named views (gradients mirror it),
 * initialised deterministically from a seed (Philox, PyTorch's default
 * bounds). Tensors are channels last (hb/nn.h). Memory per rank (w = 16):
 * about 13 w floats per local voxel for training (activations kept for the
 * backward pass, gradients in the freed buffers), 4 w + 3 for inference.
 * Collective over the slab's communicator: forward, backward, infer. */
#ifndef HB_UNET_H
#define HB_UNET_H

#include <stddef.h>
#include <stdint.h>

#include "hb/err.h"
#include "hb/halo.h"

#define HB_UNET_NFEAT 22   /* 16 sinusoidal features of t + 6 parameters */
#define HB_UNET_MAX_VIEWS 64
#define HB_UNET_MAX_EMB 1024       /* the command line's bound on the embedding width */
#define HB_UNET_MAX_EMB_LAYERS 4
#define HB_UNET_STR_(x) #x
#define HB_UNET_STR(x) HB_UNET_STR_(x)

typedef struct hb_unet_config {
    int n_fields;   /* output channels; input has n_fields + 1 + extra_in */
    int width;      /* w */
    int emb;        /* embedding width (64) */
    int extra_in;   /* conditioning channels after x0 (0 to HB_SMOOTH_MAX_CH: the smoothed DM, hb/smooth.h) */
    int emb_layers; /* linear layers of the embedding MLP, 2 (the reference) to HB_UNET_MAX_EMB_LAYERS; 0: 2 */
} hb_unet_config;

typedef struct hb_param_view {
    char   name[40];
    size_t off, n;
    int    fan_in;
} hb_param_view;

typedef struct hb_resblock { int a_w, a_b, f_w, f_b, b_w, b_b; } hb_resblock;   /* view indices */

/* The activations of one pass on this rank's slab (pointers into u->ws). */
typedef struct hb_unet_acts {
    float *x0;                                   /* level 0, C_in: the input */
    float *s0, *h0, *o0, *c0, *g0, *hb0, *ob0;   /* level 0 (c0: 2w) */
    float *d1, *h1, *o1, *c1, *g1, *hb1, *ob1;   /* level 1 (c1: 4w) */
    float *d2, *h2, *o2;                         /* level 2 */
    float *t0a, *t0b, *t1a, *t1b, *t2a;          /* scratch */
    float *ss[5], *dss[5];                       /* FiLM scale|shift of r0, r1, r2, r1b, r0b and gradients */
    float *e_h[HB_UNET_MAX_EMB_LAYERS - 1];      /* embedding: each hidden layer before SiLU */
    float *e_a[HB_UNET_MAX_EMB_LAYERS - 1];      /* and after */
    float *e, *de, *de_a, *de_h;                 /* the embedding, its gradient, scratch */
} hb_unet_acts;

typedef struct hb_unet {
    hb_unet_config cfg;
    int            cin;
    hb_param_view  views[HB_UNET_MAX_VIEWS];
    int            n_views;
    size_t         n_params;
    float         *params, *grads;   /* owned, n_params each */
    /* view indices */
    int emb_w[HB_UNET_MAX_EMB_LAYERS], emb_b[HB_UNET_MAX_EMB_LAYERS];   /* emb.w1, emb.h2.w, ..., emb.w2 (the last) */
    int stem_w, stem_b, down1_w, down1_b, down2_w, down2_b;
    int up1_w, up1_b, dec1_w, dec1_b, up0_w, up0_b, dec0_w, dec0_b, head_w, head_b;
    hb_resblock rb[5];              /* r0, r1, r2, r1b, r0b */
    /* the slab the workspace was reserved for (hb_unet_reserve) */
    const hb_slab *slab;            /* borrowed */
    int   X, Y, Z;                  /* local level-0 planes and the plane's sides */
    int   train;                    /* 1: forward keeps what backward needs */
    int   input_only;               /* inside hb_unet_vjp: no parameter gradients */
    float *ws;                      /* all activations, one block */
    size_t ws_n;
    float *col, *wf;                /* convolution workspaces */
    size_t col_n, wf_n;
    hb_unet_acts a;
    const float *feat;              /* of the last forward */
    hb_timer t_xchg;                /* time waiting for halo planes */
} hb_unet;

/* Parameters initialised from seed, gradients zeroed. */
hb_status hb_unet_init(hb_unet *u, const hb_unet_config *cfg, uint64_t seed);
void      hb_unet_free(hb_unet *u);
/* Workspace for the slab's planes of a box of Y x Z planes (slab boundaries
 * and Y, Z multiples of 4): train 1 for forward + backward, 0 for inference
 * only. Reserving again for the same sizes is free. Not collective. */
hb_status hb_unet_reserve(hb_unet *u, const hb_slab *slab, int Y, int Z, int train);
/* y (X, Y, Z, n_fields) of this rank's planes from x (X, Y, Z, cin)
 * and feat[22]; feat must stay valid until hb_unet_backward. Needs a
 * training reservation. Collective over slab->comm. */
hb_status hb_unet_forward(hb_unet *u, const float *x, const float *feat, float *y);
/* Add the gradients of the last forward for dL/dy (this rank's planes) into
 * u->grads (this rank's share: the caller sums over ranks); dx (may be NULL)
 * receives dL/dx for this rank's planes (the vector-Jacobian product with
 * respect to the input). Collective over slab->comm. */
hb_status hb_unet_backward(hb_unet *u, const float *dy, float *dx);
/* The same dx without the parameter gradients (u->grads untouched): the
 * vector-Jacobian product alone, about a third cheaper. Collective. */
hb_status hb_unet_vjp(hb_unet *u, const float *dy, float *dx);
void      hb_unet_zero_grad(hb_unet *u);
/* The forward without keeping activations (inference reservation or
 * training one). Collective over slab->comm. */
hb_status hb_unet_infer(hb_unet *u, const float *x, const float *feat, float *y);
/* Floats of workspace per local level-0 voxel (training or inference), for sizing jobs. */
double    hb_unet_floats_per_voxel(const hb_unet_config *cfg, int train);
/* Floating-point operations of one forward of X*Y*Z voxels (2 per multiply-add). */
double    hb_unet_flops(const hb_unet_config *cfg, int B, int X, int Y, int Z);
/* Sinusoidal time features: 8 sin + 8 cos of 2^k pi t, k = 0..7. */
void      hb_unet_time_features(double t, float out[16]);
/* 1 when an embedding of width emb (1 to HB_UNET_MAX_EMB) and `layers`
 * linear layers (2 to HB_UNET_MAX_EMB_LAYERS) is one the command line accepts. */
int       hb_unet_embedding_ok(long emb, long layers);
/* Index of a view by name, -1 if none. */
int       hb_unet_view(const hb_unet *u, const char *name);

#endif
