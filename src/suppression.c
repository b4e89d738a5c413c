/* syren-baryon IllustrisTNG suppression (hb/suppression.h). */
#include "hb/suppression.h"

#include <math.h>

double hb_syren_tng(double k, double z, const double th[HB_NTHETA])
{
    const double om = th[HB_OMEGA_M], s8 = th[HB_SIGMA_8], sn1 = th[HB_A_SN1], sn2 = th[HB_A_SN2], agn2 = th[HB_A_AGN2];
    const double a1 = 0.0109 * sn2 / om, a2 = 3592.322 * om, a3 = 0.0087, a4 = 0.059;
    const double a5 = (0.9007 * agn2 - 0.5901 * sn1 - 1.5576 * sn2 + 2.6846 * s8) / sn2;
    const double a6 = 0.048, a7 = 0.79265536265842 * pow(om, 0.193), a8 = 0.022, a9 = 0.021, a10 = 0.797;
    double lns = -a1 * pow(a2, -a3 * k - a4 * z) * k * (a5 * (-a6 * k + pow(a7, z)) + 1) +
                 a8 * exp(-a9 * exp(a10 * z) / k);
    return exp(lns);
}
