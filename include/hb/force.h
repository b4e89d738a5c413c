/* hb/force.h: the particle-mesh force.
 *
 * Paint particles (CIC) onto the force mesh as rho/mean, FFT, multiply by
 * the Green's function and the gradient kernel of each axis, FFT back and
 * read the force out at the particles (CIC). With the fastpm kernel the
 * 4-point gradient is a convolution, so it is applied in real space to the
 * potential psi = nabla_eff^-2 delta after one c2r FFT (two ghost planes on
 * each side from the neighbouring ranks): two FFTs per evaluation, the same
 * force to float round-off. The spectral kernel takes four.
 * The force is F = -grad nabla^-2 delta [Mpc/h]: in linear theory F = D Psi
 * (the growing-mode displacement), which is what FastPM's kick factor
 * expects (hb/stepper.h); the (3/2) Omega_m / a of Poisson's equation lives
 * in that factor.
 *
 * Kernels (simulation.force_kernel):
 *   fastpm   -1/k_eff^2 with the discrete Laplacian k_eff^2 = sum (2/h sin(k h/2))^2
 *            and the 4-point gradient (8 sin(kh) - sin(2kh)) / (6h); no
 *            deconvolution (FastPM's default choice, Feng et al. 2016)
 *   spectral -1/k^2, gradient i k (zero at Nyquist), and division by the
 *            window of paint and readout, prod_i sinc^(2p)(k_i h/2)
 * Mass assignment of order 2 (CIC), 3 (TSC) or 4 (PCS) paints and reads
 * out; with interlacing the whole evaluation is repeated on a grid shifted
 * by half a cell along every axis and the two forces are averaged, which
 * cancels the odd aliasing images (Hockney & Eastwood 1988), at twice the
 * cost. Positions must be migrated to the force mesh first. Collective over the
 * mesh communicator: init, compute, free. */
#ifndef HB_FORCE_H
#define HB_FORCE_H

#include "hb/err.h"
#include "hb/mesh.h"
#include "hb/paint.h"
#include "hb/particles.h"

typedef enum { HB_KERNEL_FASTPM = 0, HB_KERNEL_SPECTRAL = 1 } hb_kernel;

typedef struct hb_force_config {
    hb_kernel kernel;
    int       order;       /* mass assignment: 2 CIC, 3 TSC, 4 PCS */
    int       interlace;   /* 1: average with a half-cell shifted grid */
    int       kspace_gradient;   /* fastpm: 1 applies the 4-point gradient in k-space (four FFTs; the
                                  * reference the tests compare the real-space stencil with) */
} hb_force_config;

typedef struct hb_force {
    hb_force_config cfg;
    const hb_mesh *mesh;    /* borrowed */
    hb_painter     painter;
    double         weight;  /* mass per particle: mean density 1 */
    float         *delta;   /* owned: density, then delta_k */
    float         *work;    /* owned: one force component */
    float         *ghost;   /* owned (fastpm): psi's 2 + 2 ghost planes of N*N */
    double        *grad, *lap, *win;   /* owned: per-index 1-D kernel factors [N] */
    hb_timer       t_fft, t_paint, t_readout, t_kernel;
} hb_force;

hb_force_config hb_force_config_default(void);   /* fastpm kernel, CIC, no interlacing */
hb_status hb_force_init(hb_force *f, const hb_mesh *m, const hb_force_config *cfg, long n_particles_total);
/* Fill p->acc with the force at every particle. */
hb_status hb_force_compute(hb_force *f, hb_particles *p);
void      hb_force_free(hb_force *f);

#endif
