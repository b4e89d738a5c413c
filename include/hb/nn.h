/* hb/nn.h: neural-network layers with forward and backward passes, the way
 * llm.c writes them: outputs first, then inputs, then sizes; forward saves
 * nothing hidden; backward ADDS into the gradients of its inputs and weights
 * (the caller zeroes them once).
 *
 * Tensors are float32, channels last: (B, X, Y, Z, C), C order, so the C
 * values of a voxel are contiguous (im2col copies whole runs, GEMMs see the
 * voxels as rows). 3-D convolutions are periodic. A 3x3x3 convolution whose
 * output channels are a multiple of the vector width (16 floats with AVX-512,
 * 8 with AVX, 4 otherwise) runs as a register-blocked direct
 * kernel (emulator/conv3_direct.c); the others, and the stride-2 and 1x1
 * convolutions, as im2col + OpenBLAS SGEMM over chunks of voxels. Either way
 * the workspace `col` (hb_conv_workspace floats) stays small; element-wise
 * loops use OpenMP.
 * Weight layouts put the output channel last (GEMM friendly):
 *   conv3  w (27, Ci, Co), tap = (kx*3 + ky)*3 + kz, offsets k-1
 *   down   w (8, Ci, Co),  tap = (a*2 + b)*2 + c reads voxel (2x+a, 2y+b, 2z+c)
 *   up     w (Ci, 8, Co),  tap writes voxel (2x+a, 2y+b, 2z+c)
 *   conv1  w (Ci, Co)      linear w (O, I) (PyTorch's)
 * Initialisation follows PyTorch's default (uniform, bound 1/sqrt(fan_in)),
 * so the networks are alike in scale; the layouts are ours.
 * The *_ref functions are plain loops in double precision: the reference the
 * tests compare against. Nothing here is collective or knows about ranks. */
#ifndef HB_NN_H
#define HB_NN_H

#include <stddef.h>

/* The x layout of a 3x3x3 convolution's input (one sample):
 *   HB_XWRAP  X planes, periodic in x (a whole box held by one rank, a patch)
 *   HB_XHALO  X + 2 planes: planes 0 and X + 1 hold the neighbouring ranks'
 *             planes (hb_xchg); the interior is planes 1 .. X
 * y and z are always periodic. Outputs are X planes (no halo). */
enum { HB_XWRAP = 0, HB_XHALO = 1 };

/* Floats of workspace (im2col chunks, padded input chunks, flipped weights)
 * needed by the convolutions for up to Ci input channels (Co output channels
 * for up) at spatial size (X, Y, Z). */
size_t hb_conv_workspace(int Ci, int Co, int X, int Y, int Z);

/* 3x3x3 periodic convolution + bias, stride 1.
 * in (B,X,Y,Z,Ci)  w (27,Ci,Co)  b (Co)  out (B,X,Y,Z,Co) */
void hb_conv3_forward(float *out, const float *in, const float *w, const float *b, int B, int Ci,
                      int Co, int X, int Y, int Z, float *col);
/* din may be NULL (input gradient not needed). col, dcol: workspaces. */
void hb_conv3_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                       const float *w, int B, int Ci, int Co, int X, int Y, int Z, float *col,
                       float *dcol);

/* One sample: output planes [xa, xb) of out = conv3(in) + b (out += ... when
 * accumulate; b may be NULL). in laid out per xmode; out (X, Y, Z, Co). */
void hb_conv3_planes(float *out, const float *in, const float *w, const float *b, int Ci, int Co, int X, int Y,
                     int Z, int xmode, int xa, int xb, int accumulate, float *col);
/* One sample: dw += the weight gradient, db += the bias gradient (db may be
 * NULL) over all X output planes; in laid out per xmode. */
void hb_conv3_wgrad(float *dw, float *db, const float *dout, const float *in, int Ci, int Co, int X, int Y, int Z,
                    int xmode, float *col);
/* One sample: planes [xa, xb) of din += conv3^T dout, the convolution of dout
 * (laid out per xmode) with the flipped, transposed weights; wf: 27 Ci Co floats of scratch. */
void hb_conv3_igrad(float *din, const float *dout, const float *w, int Ci, int Co, int X, int Y, int Z, int xmode,
                    int xa, int xb, float *col, float *wf);

/* 2x2x2 stride-2 convolution ("down"). in (B,X,Y,Z,Ci) -> out (B,X/2,Y/2,Z/2,Co) */
void hb_down_forward(float *out, const float *in, const float *w, const float *b, int B, int Ci,
                     int Co, int X, int Y, int Z, float *col);
void hb_down_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                      const float *w, int B, int Ci, int Co, int X, int Y, int Z, float *col,
                      float *dcol);

/* 2x2x2 stride-2 transposed convolution ("up"). in (B,X,Y,Z,Ci) -> out (B,2X,2Y,2Z,Co) */
void hb_up_forward(float *out, const float *in, const float *w, const float *b, int B, int Ci,
                   int Co, int X, int Y, int Z, float *col);
void hb_up_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                    const float *w, int B, int Ci, int Co, int X, int Y, int Z, float *dcol);

/* 1x1x1 convolution. in (B,V,Ci) -> out (B,V,Co), V = X*Y*Z */
void hb_conv1_forward(float *out, const float *in, const float *w, const float *b, int B, int Ci,
                      int Co, size_t V);
void hb_conv1_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                       const float *w, int B, int Ci, int Co, size_t V);

/* Linear: in (B,NI) -> out (B,NO), out = in w^T + b, w (NO, NI) */
void hb_linear_forward(float *out, const float *in, const float *w, const float *b, int B, int NI, int NO);
void hb_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                        const float *w, int B, int NI, int NO);

/* s = 1 / (1 + exp(-x)), element-wise over n (one thread; vectorised through
 * glibc's libmvec where the build found it). */
void hb_sigmoid(float *s, const float *x, size_t n);
/* SiLU: out = x sigmoid(x), element-wise over n. */
void hb_silu_forward(float *out, const float *in, size_t n);
void hb_silu_backward(float *din, const float *dout, const float *in, size_t n);

/* FiLM: out(b,v,c) = h(b,v,c) (1 + ss(b,c)) + ss(b,C+c); ss (B, 2C) from a Linear. */
void hb_film_forward(float *out, const float *h, const float *ss, int B, int C, size_t V);
void hb_film_backward(float *dh, float *dss, const float *dout, const float *h, const float *ss,
                      int B, int C, size_t V);
/* FiLM then SiLU, fused: out = SiLU(FiLM(h)); backward recomputes FiLM(h). */
void hb_film_silu_forward(float *out, const float *h, const float *ss, int B, int C, size_t V);
void hb_film_silu_backward(float *dh, float *dss, const float *dout, const float *h, const float *ss,
                           int B, int C, size_t V);

/* In place, one sample: hd holds h (C channels, V voxels) on entry and the
 * gradient with respect to h of SiLU(FiLM(h)) on exit, for the output
 * gradient ds; dss (2C) += the FiLM scale and shift gradients. */
void hb_film_silu_grad_inplace(float *hd, float *dss, const float *ds, const float *ss, int C, size_t V);
/* In place: d *= SiLU'(g), element-wise over n. */
void hb_silu_grad_inplace(float *d, const float *g, size_t n);

/* Channel concatenation: a (B,V,Ca), b (B,V,Cb) -> out (B,V,Ca+Cb). */
void hb_concat_forward(float *out, const float *a, const float *b, int B, int Ca, int Cb, size_t V);
void hb_concat_backward(float *da, float *db, const float *dout, int B, int Ca, int Cb, size_t V);

/* Residual add out = a + b (n elements); backward adds dout into da and db. */
void hb_add_forward(float *out, const float *a, const float *b, size_t n);
void hb_add_backward(float *da, float *db, const float *dout, size_t n);

/* Mean-squared error over n elements: returns mean (pred - target)^2 (in
 * double) and, when dpred != NULL, sets dpred = 2 (pred - target) / n * scale. */
double hb_mse_forward_backward(float *dpred, const float *pred, const float *target, size_t n, float scale);

/* Weighted squared error of n cells of C channels, the weight w[cell] (NULL:
 * 1) for every channel: returns sum w (pred - target)^2 / (n C) (in double)
 * and, when dpred != NULL, sets dpred = 2 w (pred - target) / (n C) * scale. */
double hb_wmse_forward_backward(float *dpred, const float *pred, const float *target, const float *w, size_t n,
                                int C, float scale);

/* Plain-loop references in double precision. */
void hb_conv3_forward_ref(double *out, const double *in, const double *w, const double *b, int B,
                          int Ci, int Co, int X, int Y, int Z);
void hb_down_forward_ref(double *out, const double *in, const double *w, const double *b, int B,
                         int Ci, int Co, int X, int Y, int Z);
void hb_up_forward_ref(double *out, const double *in, const double *w, const double *b, int B,
                       int Ci, int Co, int X, int Y, int Z);

#endif
