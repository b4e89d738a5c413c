/* hb/theta.h: the six conditioning parameters theta, in one place.
 *
 * Order (CAMELS's, SCIENCE.md 2.1): Omega_m, sigma_8, A_SN1, A_AGN1, A_SN2,
 * A_AGN2. For each: the name used in messages and box-file attributes
 * ("omega_m", ...), the INI key ("cosmology.omega_m", ...), the CAMELS LH
 * range, and the normalisation the network sees (SCIENCE.md 1.3): Omega_m
 * and sigma_8 linearly to [0, 1] over their range, the A's as
 * ln A / ln 4 (A_SN1, A_AGN1) or ln A / ln 2 (A_SN2, A_AGN2), in [-1, 1].
 * Not collective. */
#ifndef HB_THETA_H
#define HB_THETA_H

#include <stddef.h>

#include "hb/err.h"

/* The physically meaningful range of each parameter: what an INI file, a
 * parameter table or a box attribute may hold (wider than the CAMELS LH). */
#define HB_OMEGA_M_MIN 0.05
#define HB_OMEGA_M_MAX 1.0
#define HB_SIGMA_8_MIN 0.1
#define HB_SIGMA_8_MAX 2.0
#define HB_A_MIN 0.01
#define HB_A_MAX 100.0

enum { HB_OMEGA_M = 0, HB_SIGMA_8, HB_A_SN1, HB_A_AGN1, HB_A_SN2, HB_A_AGN2, HB_NTHETA };

typedef struct hb_theta_spec {
    const char *name;      /* attribute on "/" of a box file, and in messages */
    const char *key;       /* INI key */
    const char *label;     /* CAMELS column header */
    double      lo, hi;    /* CAMELS LH range */
    double      span;      /* hi - lo, written out (0.4): the normalisation divides by it */
    int         log;       /* 1: sampled log-uniformly, normalised as ln A / ln(hi) */
    double      vmin, vmax;   /* the valid range (HB_*_MIN, HB_*_MAX) */
} hb_theta_spec;

extern const hb_theta_spec HB_THETA[HB_NTHETA];

/* The names, for messages that list them. */
#define HB_THETA_NAMES "omega_m, sigma_8, a_sn1, a_agn1, a_sn2, a_agn2"
/* The index of the parameter whose name is the first len characters of
 * name, or -1. */
int hb_theta_find(const char *name, size_t len);

/* The network's normalised parameters (SCIENCE.md 1.3). */
void hb_theta_normalise(const double theta[HB_NTHETA], double out[HB_NTHETA]);
/* theta[k] = override[k] wherever override[k] is not NaN. */
void hb_theta_override(double theta[HB_NTHETA], const double override[HB_NTHETA]);
/* Fill every entry with NaN ("nothing overridden"). */
void hb_theta_none(double theta[HB_NTHETA]);
/* A clear error (reported by rank 0, naming `where`) unless every component
 * is finite and inside its valid range [vmin, vmax]. */
hb_status hb_theta_check(const double theta[HB_NTHETA], const char *where);

#endif
