/* hb/noisefield.h: the interpolant's spatially correlated noise (train
 * --noise-corr R,W; hb_interp.noise_corr).
 *
 * Unit normals xi, drawn per global cell and channel (the caller's draw,
 * keyed by the cell), become
 *   zeta = A [sqrt(1 - W) xi + sqrt(W) (K * xi) / |K|],
 * K a Gaussian of R cells (periodic, separable, truncated at ceil(4 R) cells
 * each way, taps normalised to unit sum), |K|^2 = sum K^2, A such that
 * zeta's variance per cell is 1. zeta's covariance C is diagonal in Fourier
 * space: lambda(k) = A^2 (sqrt(1 - W) + sqrt(W) Khat(k) / |K|)^2 with Khat the
 * product of the three one-dimensional DFTs of the taps (hb_noise_corr_khat).
 * The same zeta enters the training pair (z) and the sampler (each step's
 * xi), so the SDE dX = b dt + sigma G zeta-noise still has the interpolant's
 * marginals; the score surgery and the flow are unchanged (the surgery's
 * diffusion is preconditioned by C, which cancels), and the likelihood's end
 * Gaussian carries C^-1 and log det C.
 *
 * Each cell's zeta is a fixed sum over the white noise of its neighbours in
 * a fixed order: a field does not depend on how the planes are split over
 * ranks (bitwise). Nothing here is collective. */
#ifndef HB_NOISEFIELD_H
#define HB_NOISEFIELD_H

#include <stddef.h>
#include <stdint.h>

#include "hb/interp.h"

#define HB_NOISE_CORR_MAX_R 4.0    /* cells: R within (0, 4] */
#define HB_NOISE_CORR_MAX_W 0.99   /* W within (0, 0.99]: C's smallest eigenvalue stays >= ~1e-2 */
#define HB_NOISE_CORR_MAX_TAPS 16  /* ceil(4 R) at R = 4 */
#define HB_NOISE_CORR_RULE "--noise-corr 0 or R,W with R within (0, 4] cells and W within (0, 0.99]"

typedef struct hb_noise_corr {
    int   taps;                                   /* each way; 0: white (zeta = xi) */
    float k[2 * HB_NOISE_CORR_MAX_TAPS + 1];      /* k[taps + d], d = -taps..taps: unit sum */
    float a, b;                                   /* zeta = a xi + b (K * xi) */
} hb_noise_corr;

/* 1 for (0, 0) (white) or R within (0, 4] and W within (0, 0.99]; 0 for NaN. */
int hb_noise_corr_ok(const double rw[2]);
/* The operator of ic->noise_corr (white when W = 0). */
void hb_noise_corr_init(hb_noise_corr *nc, const hb_interp *ic);
/* The white noise of global cell `cell`, both channels. */
typedef void (*hb_white_fn)(const void *ctx, uint64_t cell, float xi[2]);
/* Floats of scratch hb_noise_corr_field needs for nx planes of an N^3 box. */
size_t hb_noise_corr_work(const hb_noise_corr *nc, int N, long nx);
/* zeta of planes [x0, x0 + nx) of an N^3 box (periodic), channels last,
 * into out (nx N^2 x 2); work: hb_noise_corr_work floats. */
void hb_noise_corr_field(const hb_noise_corr *nc, int N, long x0, long nx, hb_white_fn white, const void *ctx,
                         float *work, float *out);
/* The one-dimensional DFT of the taps at integer frequency i of N,
 * sum_d k_d cos(2 pi i d / N) (real: the taps are symmetric). */
double hb_noise_corr_khat(const hb_noise_corr *nc, int N, int i);
/* lambda(k) from the three one-dimensional factors (each hb_noise_corr_khat). */
double hb_noise_corr_lambda(const hb_noise_corr *nc, double kx, double ky, double kz);

#endif
