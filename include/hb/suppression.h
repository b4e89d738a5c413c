/* hb/suppression.h: the CAMELS-fitted analytic matter power suppression
 * S(k, z) = P_hydro / P_N-body of Kammerer et al. 2025 ("syren-baryon",
 * arXiv:2506.08783), IllustrisTNG form, re-implemented from the equations of
 * SCIENCE.md 4.1 (DeaglanBartlett/symbolic_pofk, syren_baryon.py). k in h/Mpc.
 * Its typical error is 3-5% at k = 1-10 h/Mpc. Not collective. */
#ifndef HB_SUPPRESSION_H
#define HB_SUPPRESSION_H

#include "hb/theta.h"

/* theta in hb/theta.h order (the fit does not depend on A_AGN1). */
double hb_syren_tng(double k, double z, const double theta[HB_NTHETA]);

#endif
