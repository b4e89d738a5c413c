/* hb/cosmo.h: flat LambdaCDM background, linear power spectrum and growth.
 *
 * Units: k in h/Mpc, lengths in Mpc/h, P(k) in (Mpc/h)^3, H0 = 1.
 * Transfer function: Eisenstein & Hu 1998 (astro-ph/9709112), with or without
 * BAO wiggles, following the equations of SCIENCE.md 5.1 (LSSTDESC/CCL).
 * P_lin(k, z) = A k^n_s T(k)^2 D1(z)^2 with A fixed by sigma_8 (top hat,
 * R = 8 Mpc/h). Or from a table (pk_table: CAMB's matterpower.dat, CLASS's
 * _pk.dat; two columns k [h/Mpc], P(k, z = 0) [(Mpc/h)^3], '#' comments):
 * a cubic spline of ln P in ln k, times A = 1 or, with pk_renormalise, the A
 * that gives sigma_8. Outside the table's k range P continues as a power
 * law with the slope of its last five intervals at either end (used by the
 * sigma_8 integral and `linear`); the initial conditions refuse a table that
 * does not cover every mode of their mesh (hb_cosmo_table_covers). Growth: D1, D2 from their ODEs in ln a (SCIENCE.md 5.2),
 * D1(a=1) = 1 and D2 = -3/7 D1^2 deep in matter domination; f = dlnD/dlna.
 * No radiation, no neutrinos (the CAMELS suites have neither). Not collective. */
#ifndef HB_COSMO_H
#define HB_COSMO_H

#include <gsl/gsl_spline.h>

#include "hb/err.h"

typedef struct hb_cosmo_config {
    double omega_m, omega_b, h, n_s, sigma_8;
    double t_cmb;       /* K */
    int    nowiggle;    /* 1: EH98 no-wiggle form */
    char   pk_table[1024];   /* "" (EH98) or the path of a P(k, z = 0) table */
    int    pk_renormalise;   /* with a table: scale it to sigma_8 (else it must have sigma_8 within 1%) */
} hb_cosmo_config;

typedef struct hb_cosmo {
    hb_cosmo_config cfg;
    double A;                 /* primordial amplitude: P = A k^n_s T^2 at z=0 */
    double d1_early_norm;     /* D1(a=1) when D1 = a early (0.778981 for Om=0.3) */
    struct {                  /* EH98 constants, Mpc units */
        double theta, wm, wb, fb, zeq, keq, zd, req, rd, s, ksilk;
        double alpha_c, beta_c, alpha_b, beta_b, beta_node;
        double s_nw, alpha_gamma;
    } eh;
    gsl_spline *sp_d1, *sp_d2, *sp_f1, *sp_f2;   /* in ln a */
    double lna_min, lna_max;
    gsl_spline *sp_pk;        /* table: ln P(ln k) at z = 0 */
    double tab_lnk[2], tab_lnp[2], tab_slope[2];   /* the ends and the power laws beyond them */
} hb_cosmo;

hb_status hb_cosmo_init(hb_cosmo *c, const hb_cosmo_config *cfg);
void      hb_cosmo_free(hb_cosmo *c);

double hb_cosmo_E(const hb_cosmo *c, double a);           /* H(a)/H0 */
double hb_cosmo_omega_m_a(const hb_cosmo *c, double a);   /* Omega_m(a) */
double hb_cosmo_transfer(const hb_cosmo *c, double k);    /* T(k), T -> 1 as k -> 0 */
double hb_cosmo_plin(const hb_cosmo *c, double k, double z);
double hb_cosmo_sigma_r(const hb_cosmo *c, double r, double z);
double hb_cosmo_d1(const hb_cosmo *c, double a);
double hb_cosmo_d2(const hb_cosmo *c, double a);          /* negative; ~ -3/7 D1^2 */
double hb_cosmo_f1(const hb_cosmo *c, double a);
double hb_cosmo_f2(const hb_cosmo *c, double a);
/* With a table: HB_OK when it covers [kmin, kmax], else a clear error naming
 * `what` needs it (always HB_OK without a table). */
hb_status hb_cosmo_table_covers(const hb_cosmo *c, double kmin, double kmax, const char *what);

#endif
