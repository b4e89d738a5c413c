/* hb/ic.h: initial conditions. Gaussian random fields from a power
 * spectrum, Zel'dovich and 2LPT displacements on the particle lattice
 * (SCIENCE.md 5.3), and the Zel'dovich plane wave (SCIENCE.md 6).
 *
 * White noise is drawn per global Fourier mode from Philox keyed by
 * (seed, mode index), so the field does not depend on the rank count or
 * the decomposition. Modes on the Nyquist planes and the DC mode are zero.
 * Collective over mesh->comm: every function here. */
#ifndef HB_IC_H
#define HB_IC_H

#include <stdint.h>

#include "hb/cosmo.h"
#include "hb/err.h"
#include "hb/mesh.h"

/* Fill buf (Fourier space, transposed layout) with delta_k such that
 * <|delta_k|^2> = P(k) N^6 / L^3, P from `power(k, ctx)` [h/Mpc -> (Mpc/h)^3].
 * fixed_amplitude = 1 sets |delta_k|^2 to exactly that (random phases). */
void hb_ic_gaussian_k(const hb_mesh *m, double (*power)(double k, void *ctx), void *ctx,
                      uint64_t seed, int fixed_amplitude, float *buf);

/* P_lin(k, z = 0) of a cosmology, as a callback for hb_ic_gaussian_k. */
double hb_ic_plin_z0(double k, void *cosmo);

#endif
