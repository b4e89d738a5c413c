/* hb/mock.h: the built-in mock hydro model ("stochastic baryon painter",
 * SCIENCE.md 7, SBP-1 with our calibration): gas density and temperature
 * painted from a DM density field and the six parameters. It stands in for
 * CAMELS hydro boxes so the whole pipeline runs out of the box.
 *
 *   rho_s   = max(1 + delta_dm filtered by exp(-k^2 / 2 k_J^2), floor),     (Jeans;
 *             k_J = k_J0 (1+z)^1/2; the floor keeps gas in cells the DM left empty)
 *   S       = 1 / (1 + exp(-(ln(1+delta_h) - ln(1+delta_c)) / w))          (halo mask;
 *             delta_h = delta_dm filtered by exp(-k^2 R_h^2 / 2))
 *   f_ej    = min(f0 A_AGN1^0.3 A_AGN2^0.6 A_SN1^-0.3, 0.9)
 *   R_ej    = R0 A_AGN2^0.5 A_SN2^0.5
 *   rho'    = rho_s (1 - f_ej S) + G_{R_ej} * (rho_s f_ej S)                  (mass conserving)
 *   gas     = rho' exp(sigma_g xi - sigma_g^2/2) / mean,  sigma_g = s_g0 + s_g1 S A_AGN2^0.5
 *   stars   = rho_s S / mean, a fraction f_* = 0.05 A_SN1^-0.3 of the baryons
 *   T       = max(T_igm, T_sh) T_fb exp(sigma_T xi_T - sigma_T^2/2), clipped to [1e3, 1e8] K
 * xi, xi_T: unit-variance Gaussian fields (white noise keyed by the mock seed
 * and the global cell, smoothed over R_xi). Every term is a mesh operation:
 * the result does not depend on the rank count. Collective over m->comm. */
#ifndef HB_MOCK_H
#define HB_MOCK_H

#include <stdint.h>

#include "hb/box.h"
#include "hb/err.h"
#include "hb/mesh.h"
#include "hb/theta.h"

/* The defaults, once for hb_mock_config_default and the [mock] parameter
 * schema (src/cli/params.c). F0, R0, DELTA_C, WIDTH, K_JEANS and SIGMA_GAS0 come
 * from scripts/calibrate_mock.sh (README, "The mock hydro model"); the rest
 * from SCIENCE.md 7. */
#define HB_MOCK_F0         0.6
#define HB_MOCK_R0         0.3728
#define HB_MOCK_DELTA_C    2.074
#define HB_MOCK_WIDTH      0.3295
#define HB_MOCK_K_JEANS    7.938
#define HB_MOCK_R_HALO     0.3
#define HB_MOCK_R_NOISE    0.5
#define HB_MOCK_SIGMA_GAS0 0.0072
#define HB_MOCK_SIGMA_GAS1 0.25
#define HB_MOCK_T0         5000
#define HB_MOCK_GAMMA      1.5
#define HB_MOCK_GAS_FLOOR  0.05

typedef struct hb_mock_config {
    double f0, r0, delta_c, w;     /* calibrated: ejected fraction, radius [Mpc/h], halo threshold, width */
    double k_jeans, r_h, r_xi;     /* Jeans scale [h/Mpc] at z=0, halo and noise smoothing [Mpc/h] */
    double sg0, sg1;               /* lognormal gas scatter */
    double t0, gamma;              /* IGM temperature-density relation at z=0 */
    double floor;                  /* smallest rho_s, in units of the mean */
    uint64_t seed;
} hb_mock_config;

hb_mock_config hb_mock_config_default(void);
/* The noise seed: mock.seed when given (non-zero), else the box's seed + 7919
 * (an offset kept from the first version so painted boxes stay the same). */
uint64_t hb_mock_seed(long mock_seed, long box_seed);

/* gas (rho/mean) and temp (K) from rho_dm (rho/mean), all real-space mesh
 * buffers of m; stars (may be NULL) receives the stellar density (mean 1);
 * *f_star the stellar fraction of the baryons. theta in hb/theta.h order. */
hb_status hb_mock_paint(const hb_mesh *m, const float *rho_dm, const hb_mock_config *c, const double theta[HB_NTHETA],
                        double z, float *gas, float *temp, float *stars, double *f_star);

/* Paint the DM box at dm_path into a box file at out (DM copied with its
 * mass assignment, gas, temperature, stars, stellar_fraction): theta from
 * the file with theta_override applied where not NaN; c's constants, its
 * noise seed hb_mock_seed(mock_seed, the box's seed). prov (may be NULL) is
 * written to /parameters. Collective over comm. */
hb_status hb_mock_paint_file(const char *dm_path, const char *out, const hb_mock_config *c, long mock_seed,
                             const double theta_override[HB_NTHETA], const hb_provenance *prov, MPI_Comm comm);

/* The total matter of the hydro box: (1 - f_b) rho_dm + f_b ((1 - f_*) gas + f_* stars). */
void hb_mock_total(const hb_mesh *m, const float *rho_dm, const float *gas, const float *stars, double f_b,
                   double f_star, float *tot);

#endif
