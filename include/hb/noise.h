/* hb/noise.h: the interpolant's Gaussian noise fields, white or correlated.
 *
 * Two channels per cell of an N^3 periodic box, as unit normals keyed by
 * (seed, stream, global cell, sub) from Philox (hb/rng.h), so a field does
 * not depend on how the box is split over ranks. With a correlation radius
 * r > 0 [cells] the white field is convolved with a separable Gaussian of
 * standard deviation r, truncated at ceil(3 r) cells and normalised to
 * sum w^2 = 1 per axis, so each cell keeps unit variance and neighbours
 * correlate as exp(-d^2 / (4 r^2)). The convolution is done in real space on
 * this rank's planes plus ceil(3 r) halo planes generated from the same keys
 * (no communication). Nothing here is collective. */
#ifndef HB_NOISE_H
#define HB_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include "hb/err.h"

#define HB_NOISE_MAX_R 4.0   /* cells: the largest correlation radius accepted */

/* 1 when r is 0 (white) or within (0, HB_NOISE_MAX_R] and the truncated
 * kernel (2 ceil(3 r) + 1 cells) fits in a box of N cells. */
int hb_noise_r_ok(double r, int N);

/* out[2 c + k], c over the planes [x0, x0 + nx) of the N^3 box (cell c at
 * global index x0 N^2 + c): channel k of the noise of (seed, stream, sub). */
hb_status hb_noise_field(uint64_t seed, uint32_t stream, uint32_t sub, double r, int N, ptrdiff_t x0, ptrdiff_t nx,
                         float *out);

#endif
