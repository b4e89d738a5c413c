/* The six conditioning parameters (hb/theta.h). */
#include "hb/theta.h"

#include <math.h>
#include <string.h>

const hb_theta_spec HB_THETA[HB_NTHETA] = {
    {"omega_m", "cosmology.omega_m", "Omega_m", 0.1, 0.5, 0.4, 0, HB_OMEGA_M_MIN, HB_OMEGA_M_MAX},
    {"sigma_8", "cosmology.sigma_8", "sigma_8", 0.6, 1.0, 0.4, 0, HB_SIGMA_8_MIN, HB_SIGMA_8_MAX},
    {"a_sn1", "feedback.a_sn1", "A_SN1", 0.25, 4.0, 3.75, 1, HB_A_MIN, HB_A_MAX},
    {"a_agn1", "feedback.a_agn1", "A_AGN1", 0.25, 4.0, 3.75, 1, HB_A_MIN, HB_A_MAX},
    {"a_sn2", "feedback.a_sn2", "A_SN2", 0.5, 2.0, 1.5, 1, HB_A_MIN, HB_A_MAX},
    {"a_agn2", "feedback.a_agn2", "A_AGN2", 0.5, 2.0, 1.5, 1, HB_A_MIN, HB_A_MAX},
};

int hb_theta_find(const char *name, size_t len)
{
    for (int k = 0; k < HB_NTHETA; k++)
        if (strlen(HB_THETA[k].name) == len && !strncmp(name, HB_THETA[k].name, len)) return k;
    return -1;
}

void hb_theta_normalise(const double th[HB_NTHETA], double out[HB_NTHETA])
{
    for (int k = 0; k < HB_NTHETA; k++) {
        const hb_theta_spec *s = &HB_THETA[k];
        out[k] = s->log ? log(th[k]) / log(s->hi) : (th[k] - s->lo) / s->span;
    }
}

void hb_theta_override(double th[HB_NTHETA], const double ov[HB_NTHETA])
{
    for (int k = 0; k < HB_NTHETA; k++) {
        if (!isnan(ov[k])) th[k] = ov[k];
    }
}

void hb_theta_none(double th[HB_NTHETA])
{
    for (int k = 0; k < HB_NTHETA; k++) th[k] = NAN;
}

hb_status hb_theta_check(const double th[HB_NTHETA], const char *where)
{
    for (int k = 0; k < HB_NTHETA; k++) {
        const hb_theta_spec *s = &HB_THETA[k];
        if (!(th[k] >= s->vmin && th[k] <= s->vmax)) {   /* NaN fails too */
            return HB_ERR0(HB_EARG, "%s: %s = %g; expected a value in [%g, %g] (CAMELS range [%g, %g])", where,
                           s->name, th[k], s->vmin, s->vmax, s->lo, s->hi);
        }
    }
    return HB_OK;
}
