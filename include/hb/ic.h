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
#include "hb/particles.h"

/* Fill buf (Fourier space, transposed layout) with delta_k such that
 * <|delta_k|^2> = P(k) N^6 / L^3, P from `power(k, ctx)` [h/Mpc -> (Mpc/h)^3].
 * fixed_amplitude = 1 sets |delta_k|^2 to exactly that (random phases). */
void hb_ic_gaussian_k(const hb_mesh *m, double (*power)(double k, void *ctx), void *ctx,
                      uint64_t seed, int fixed_amplitude, float *buf);

/* P_lin(k, z = 0) of a cosmology, as a callback for hb_ic_gaussian_k. */
double hb_ic_plin_z0(double k, void *cosmo);

/* Particles on the lattice of mesh mp (one per cell, q = index * L/N, id =
 * lattice index, this rank's planes) displaced by Lagrangian perturbation
 * theory from the z = 0 linear field delta_k (Fourier space on mp, kept):
 *   x = q + D1 Psi1 + D2 Psi2,  Psi1 = i k delta/k^2,
 *   Psi2 = -i k S/k^2,  S = sum_{i<j} (phi_ii phi_jj - phi_ij^2),  phi_ij = -k_i k_j delta/k^2,
 *   p = a^2 E (f1 D1 Psi1 + f2 D2 Psi2)       (SCIENCE.md 5.3; D2 < 0)
 * order 1 drops Psi2. p must be initialised with capacity >= this rank's cells. */
hb_status hb_ic_lpt(hb_particles *p, const hb_mesh *mp, const hb_cosmo *c, const float *delta_k,
                    int order, double a);

/* The Zel'dovich plane wave along x (SCIENCE.md 6): Psi = -sin(k q_x)/(k D1(a_cross)),
 * k = 2 pi mode / L; shell crossing at a_cross; y, z unperturbed. */
hb_status hb_ic_plane_wave(hb_particles *p, const hb_mesh *mp, const hb_cosmo *c, int mode,
                           double a_cross, double a);

#endif
