/* hb/mock_calib.h: fitting the mock hydro model's free constants (mock.f0,
 * r0, delta_c, width, k_jeans, sigma_gas0) so that the total-matter
 * suppression P_(DM+gas+stars) / P_DM of given DM boxes follows the CAMELS
 * IllustrisTNG fit of syren-baryon (hb/suppression.h) at k = 1-10 h/Mpc for
 * A_AGN2 = 1, 0.5 and 2: GSL Nelder-Mead on transforms that keep each constant
 * inside its physical meaning, minimising the mean squared log-ratio averaged
 * over the boxes (realisations). Prints its progress and, per box, the table
 * of S_mock against the fit on rank 0. Collective over the boxes' meshes
 * (one communicator). */
#ifndef HB_MOCK_CALIB_H
#define HB_MOCK_CALIB_H

#include "hb/box.h"
#include "hb/err.h"
#include "hb/mesh.h"
#include "hb/mock.h"

typedef struct hb_calib_box {
    const hb_mesh *m;      /* borrowed */
    const float   *dm;     /* rho/mean on m */
    hb_boxinfo     info;   /* redshift, omega_b and theta (A_AGN2 is varied) */
    const char    *name;   /* for the table's heading */
} hb_calib_box;

/* iterations 0: only the tables for base. *fit: the best constants (base
 * for the others); *worst: the largest |S_mock / S_TNG - 1| at k = 1-10 h/Mpc
 * over the boxes and the three A_AGN2. */
hb_status hb_mock_calibrate(const hb_calib_box *boxes, int n, const hb_mock_config *base, long iterations,
                            hb_mock_config *fit, double *worst);

#endif
