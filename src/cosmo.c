/* Flat LambdaCDM: E(a), EH98 transfer functions, sigma_8 normalisation and
 * the growth ODEs (hb/cosmo.h). Equations: SCIENCE.md 5.1-5.2. */
#include "hb/cosmo.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_odeiv2.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GROWTH_A_START 1e-5   /* matter domination: D1 = a, D2 = -3/7 a^2 to 1e-15 */
#define GROWTH_A_END 2.0
#define GROWTH_NTAB 2048   /* nodes from GROWTH_A_START to a = 1 */

double hb_cosmo_E(const hb_cosmo *c, double a)
{
    double om = c->cfg.omega_m;
    return sqrt(om / (a * a * a) + (1.0 - om));
}

double hb_cosmo_omega_m_a(const hb_cosmo *c, double a)
{
    double e = hb_cosmo_E(c, a);
    return c->cfg.omega_m / (a * a * a * e * e);
}

/* ---- Eisenstein & Hu 1998 ---------------------------------------------- */

static void eh_init(hb_cosmo *c)
{
    double h = c->cfg.h, th = c->cfg.t_cmb / 2.7;
    double wm = c->cfg.omega_m * h * h, wb = c->cfg.omega_b * h * h;
    double fb = c->cfg.omega_b / c->cfg.omega_m;
    double th2 = th * th, th4 = th2 * th2;
    c->eh.theta = th;
    c->eh.wm = wm;
    c->eh.wb = wb;
    c->eh.fb = fb;
    c->eh.zeq = 2.5e4 * wm / th4;
    c->eh.keq = 0.0746 * wm / th2;                               /* 1/Mpc, eq. 3 */
    double b1 = 0.313 * pow(wm, -0.419) * (1 + 0.607 * pow(wm, 0.674));
    double b2 = 0.238 * pow(wm, 0.223);
    c->eh.zd = 1291 * pow(wm, 0.251) * (1 + b1 * pow(wb, b2)) / (1 + 0.659 * pow(wm, 0.828));
    c->eh.req = 31.5 * wb / th4 * (1000.0 / c->eh.zeq);
    c->eh.rd = 31.5 * wb / th4 * (1000.0 / (1 + c->eh.zd));
    double req = c->eh.req, rd = c->eh.rd;
    c->eh.s = 2.0 / (3.0 * c->eh.keq) * sqrt(6.0 / req) *
              log((sqrt(1 + rd) + sqrt(rd + req)) / (1 + sqrt(req)));   /* Mpc, eq. 6 */
    c->eh.ksilk = 1.6 * pow(wb, 0.52) * pow(wm, 0.73) * (1 + pow(10.4 * wm, -0.95));
    double a1 = pow(46.9 * wm, 0.670) * (1 + pow(32.1 * wm, -0.532));
    double a2 = pow(12.0 * wm, 0.424) * (1 + pow(45.0 * wm, -0.582));
    c->eh.alpha_c = pow(a1, -fb) * pow(a2, -fb * fb * fb);              /* eq. 11 */
    double bb1 = 0.944 / (1 + pow(458 * wm, -0.708));
    double bb2 = pow(0.395 * wm, -0.0266);
    c->eh.beta_c = 1.0 / (1 + bb1 * (pow(1 - fb, bb2) - 1));            /* eq. 12 */
    double y = c->eh.zeq / (1 + c->eh.zd);
    double sy = sqrt(1 + y);
    double G = y * (-6 * sy + (2 + 3 * y) * log((sy + 1) / (sy - 1)));
    c->eh.alpha_b = 2.07 * c->eh.keq * c->eh.s * pow(1 + rd, -0.75) * G;  /* eq. 14 */
    c->eh.beta_b = 0.5 + fb + (3 - 2 * fb) * sqrt(pow(17.2 * wm, 2) + 1);
    c->eh.beta_node = 8.41 * pow(wm, 0.435);
    c->eh.s_nw = 44.5 * log(9.83 / wm) / sqrt(1 + 10 * pow(wb, 0.75));  /* Mpc, eq. 26 */
    c->eh.alpha_gamma = 1 - 0.328 * log(431 * wm) * fb + 0.38 * log(22.3 * wm) * fb * fb;
}

static double eh_t0(double q, double alpha, double beta)
{
    double L = log(M_E + 1.8 * beta * q);
    double C = 14.2 / alpha + 386.0 / (1 + 69.9 * pow(q, 1.08));
    return L / (L + C * q * q);
}

static double eh_wiggle(const hb_cosmo *c, double k /* 1/Mpc */)
{
    double q = k / (13.41 * c->eh.keq);
    double ks = k * c->eh.s;
    double f = 1.0 / (1 + pow(ks / 5.4, 4));
    double tc = f * eh_t0(q, 1, c->eh.beta_c) + (1 - f) * eh_t0(q, c->eh.alpha_c, c->eh.beta_c);
    double st = c->eh.s / cbrt(1 + pow(c->eh.beta_node / ks, 3));
    double x = k * st;
    double j0 = fabs(x) < 1e-8 ? 1.0 : sin(x) / x;
    double tb = (eh_t0(q, 1, 1) / (1 + pow(ks / 5.2, 2)) +
                 c->eh.alpha_b / (1 + pow(c->eh.beta_b / ks, 3)) * exp(-pow(k / c->eh.ksilk, 1.4))) * j0;
    return c->eh.fb * tb + (1 - c->eh.fb) * tc;
}

static double eh_nowiggle(const hb_cosmo *c, double k /* 1/Mpc */)
{
    double h = c->cfg.h, om = c->cfg.omega_m;
    double ag = c->eh.alpha_gamma;
    double gamma = om * h * (ag + (1 - ag) / (1 + pow(0.43 * k * c->eh.s_nw, 4)));
    double q = (k / h) * c->eh.theta * c->eh.theta / gamma;
    double L0 = log(2 * M_E + 1.8 * q);
    double C0 = 14.2 + 731.0 / (1 + 62.5 * q);
    return L0 / (L0 + C0 * q * q);
}

double hb_cosmo_transfer(const hb_cosmo *c, double k)
{
    if (c->sp_pk) return 1.0;   /* the table holds the whole shape (hb_cosmo_plin) */
    double kmpc = k * c->cfg.h;
    return c->cfg.nowiggle ? eh_nowiggle(c, kmpc) : eh_wiggle(c, kmpc);
}

/* ---- a tabulated P(k) ---------------------------------------------------- */

/* The table's P(k) (unnormalised), power laws beyond its ends. */
static double table_p(const hb_cosmo *c, double k)
{
    double lk = log(k);
    if (lk < c->tab_lnk[0]) return exp(c->tab_lnp[0] + c->tab_slope[0] * (lk - c->tab_lnk[0]));
    if (lk > c->tab_lnk[1]) return exp(c->tab_lnp[1] + c->tab_slope[1] * (lk - c->tab_lnk[1]));
    return exp(gsl_spline_eval(c->sp_pk, lk, NULL));
}

/* The shape of P(k, z = 0) before the amplitude A. */
static double shape(const hb_cosmo *c, double k)
{
    if (c->sp_pk) return table_p(c, k);
    double t = hb_cosmo_transfer(c, k);
    return pow(k, c->cfg.n_s) * t * t;
}

/* Parse the table: k increasing, k > 0, P > 0, finite; at least 8 rows. */
static hb_status read_table(const char *path, double **lnk, double **lnp, int *n)
{
    FILE *f = fopen(path, "r");
    if (!f) return HB_ERR(HB_EIO, "cannot read the P(k) table %s", path);
    int cap = 1024, cnt = 0, line = 0;
    double *a = malloc((size_t)cap * sizeof *a), *b = malloc((size_t)cap * sizeof *b);
    char buf[4096];
    hb_status rc = a && b ? HB_OK : HB_ERR(HB_ENOMEM, "P(k) table");
    while (rc == HB_OK && fgets(buf, sizeof buf, f)) {
        line++;
        char *s = buf;
        while (*s == ' ' || *s == '\t') s++;
        if (*s == '#' || *s == '\n' || *s == '\r' || !*s) continue;
        double k, p;
        if (sscanf(s, "%lf %lf", &k, &p) != 2 || !(k > 0) || !(p > 0) || !isfinite(k) || !isfinite(p)) {
            rc = HB_ERR(HB_EIO, "%s:%d: expected two positive numbers, k [h/Mpc] and P [(Mpc/h)^3]", path, line);
        } else if (cnt > 0 && !(log(k) > a[cnt - 1])) {
            rc = HB_ERR(HB_EIO, "%s:%d: k = %g does not increase", path, line, k);
        } else {
            if (cnt == cap) {
                cap *= 2;
                double *na = realloc(a, (size_t)cap * sizeof *a), *nb = realloc(b, (size_t)cap * sizeof *b);
                if (na) a = na;
                if (nb) b = nb;
                if (!na || !nb) { rc = HB_ERR(HB_ENOMEM, "P(k) table"); break; }
            }
            a[cnt] = log(k);
            b[cnt++] = log(p);
        }
    }
    fclose(f);
    if (rc == HB_OK && cnt < 8) rc = HB_ERR(HB_EIO, "%s: %d rows; a P(k) table needs at least 8", path, cnt);
    if (rc != HB_OK) { free(a); free(b); return rc; }
    *lnk = a;
    *lnp = b;
    *n = cnt;
    return HB_OK;
}

static hb_status table_init(hb_cosmo *c)
{
    double *lk, *lp;
    int n;
    HB_TRY(read_table(c->cfg.pk_table, &lk, &lp, &n));
    c->sp_pk = gsl_spline_alloc(gsl_interp_cspline, (size_t)n);
    hb_status rc = c->sp_pk ? HB_OK : HB_ERR(HB_ENOMEM, "P(k) spline");
    if (rc == HB_OK) {
        gsl_spline_init(c->sp_pk, lk, lp, (size_t)n);
        const int m = n > 5 ? 5 : n - 1;
        c->tab_lnk[0] = lk[0];
        c->tab_lnk[1] = lk[n - 1];
        c->tab_lnp[0] = lp[0];
        c->tab_lnp[1] = lp[n - 1];
        c->tab_slope[0] = (lp[m] - lp[0]) / (lk[m] - lk[0]);
        c->tab_slope[1] = (lp[n - 1] - lp[n - 1 - m]) / (lk[n - 1] - lk[n - 1 - m]);
    }
    free(lk);
    free(lp);
    return rc;
}

hb_status hb_cosmo_table_covers(const hb_cosmo *c, double kmin, double kmax, const char *what)
{
    if (!c->sp_pk) return HB_OK;
    const double lo = exp(c->tab_lnk[0]), hi = exp(c->tab_lnk[1]);
    if (kmin < lo * (1 - 1e-9) || kmax > hi * (1 + 1e-9)) {
        return HB_ERR0(HB_EARG, "the P(k) table %s covers k = %g .. %g h/Mpc, but %s needs %g .. %g h/Mpc; "
                       "extend the table (CAMB: kmax; CLASS: P_k_max_h/Mpc)", c->cfg.pk_table, lo, hi, what, kmin,
                       kmax);
    }
    return HB_OK;
}

/* ---- sigma(R) and normalisation ---------------------------------------- */

typedef struct { const hb_cosmo *c; double r, amp; } sig_args;

static double tophat(double x)
{
    if (x < 1e-3) return 1 - x * x / 10;   /* series: the direct form cancels badly */
    return 3 * (sin(x) - x * cos(x)) / (x * x * x);
}

static double sigma_integrand(double lnk, void *vp)
{
    const sig_args *s = vp;
    double k = exp(lnk);
    double w = tophat(k * s->r);
    double pk = s->amp * shape(s->c, k);
    return k * k * k * pk * w * w / (2 * M_PI * M_PI);   /* dk -> k dlnk */
}

static double sigma2_at_z0(const hb_cosmo *c, double r, double amp)
{
    sig_args s = {c, r, amp};
    gsl_function F = {sigma_integrand, &s};
    gsl_integration_workspace *w = gsl_integration_workspace_alloc(2000);
    double res = NAN, err;
    gsl_integration_qag(&F, log(1e-5), log(1e3), 0, 1e-10, 2000, GSL_INTEG_GAUSS61, w, &res, &err);
    gsl_integration_workspace_free(w);
    return res;
}

double hb_cosmo_sigma_r(const hb_cosmo *c, double r, double z)
{
    return sqrt(sigma2_at_z0(c, r, c->A)) * hb_cosmo_d1(c, 1.0 / (1 + z));
}

double hb_cosmo_plin(const hb_cosmo *c, double k, double z)
{
    double d = hb_cosmo_d1(c, 1.0 / (1 + z));
    return c->A * shape(c, k) * d * d;
}

/* ---- growth ------------------------------------------------------------ */

/* y = (D1, D1', D2, D2'), ' = d/dln a (SCIENCE.md 5.2; fastpm cosmology.c). */
static int growth_rhs(double lna, const double y[], double dy[], void *vp)
{
    const hb_cosmo *c = vp;
    double a = exp(lna);
    double om_a = hb_cosmo_omega_m_a(c, a);
    double dlne = -1.5 * om_a;               /* dlnE/dlna for flat LCDM */
    dy[0] = y[1];
    dy[1] = -(2 + dlne) * y[1] + 1.5 * om_a * y[0];
    dy[2] = y[3];
    dy[3] = -(2 + dlne) * y[3] + 1.5 * om_a * (y[2] - y[0] * y[0]);
    return GSL_SUCCESS;
}

/* Tables of ln D1, ln(-D2), f1, f2 on a uniform grid in ln a with a = 1 on a
 * node, so D1(1) = 1 exactly; splines of the logarithms are nearly linear
 * (exactly so for Omega_m = 1), hence accurate to ~1e-12. */
static hb_status growth_init(hb_cosmo *c)
{
    enum { NB = GROWTH_NTAB };   /* nodes for a <= 1 */
    const double step = -log(GROWTH_A_START) / (NB - 1);
    const int n = NB + (int)ceil(log(GROWTH_A_END) / step);
    double *tab = malloc(5 * (size_t)n * sizeof *tab);
    if (!tab) return HB_ERR(HB_ENOMEM, "growth tables");
    double *lna = tab, *ld1 = tab + n, *ld2 = tab + 2 * n, *f1 = tab + 3 * n, *f2 = tab + 4 * n;
    c->lna_min = log(GROWTH_A_START);
    double a0 = GROWTH_A_START;
    double y[4] = {a0, a0, -3.0 / 7.0 * a0 * a0, -6.0 / 7.0 * a0 * a0};
    gsl_odeiv2_system sys = {growth_rhs, NULL, 4, c};
    gsl_odeiv2_driver *drv = gsl_odeiv2_driver_alloc_y_new(&sys, gsl_odeiv2_step_rk8pd, 1e-4,
                                                           1e-14, 1e-14);
    double t = c->lna_min;
    hb_status rc = HB_OK;
    for (int i = 0; i < n && rc == HB_OK; i++) {
        double ti = i == NB - 1 ? 0.0 : c->lna_min + step * i;
        if (i > 0 && gsl_odeiv2_driver_apply(drv, &t, ti, y) != GSL_SUCCESS) {
            rc = HB_ERR(HB_ENUM, "growth ODE failed at ln a = %g", ti);
        }
        lna[i] = ti;
        ld1[i] = log(y[0]);
        ld2[i] = log(-y[2]);
        f1[i] = y[1] / y[0];
        f2[i] = y[3] / y[2];
    }
    gsl_odeiv2_driver_free(drv);
    if (rc == HB_OK) {
        double l1 = ld1[NB - 1];   /* ln D1(a = 1) before normalisation */
        c->d1_early_norm = exp(l1);
        for (int i = 0; i < n; i++) {
            ld1[i] -= l1;
            ld2[i] -= 2 * l1;   /* the D2 source is D1^2: it scales quadratically */
        }
        c->lna_max = lna[n - 1];
        c->sp_d1 = gsl_spline_alloc(gsl_interp_cspline, (size_t)n);
        c->sp_d2 = gsl_spline_alloc(gsl_interp_cspline, (size_t)n);
        c->sp_f1 = gsl_spline_alloc(gsl_interp_cspline, (size_t)n);
        c->sp_f2 = gsl_spline_alloc(gsl_interp_cspline, (size_t)n);
        if (!c->sp_d1 || !c->sp_d2 || !c->sp_f1 || !c->sp_f2) {
            rc = HB_ERR(HB_ENOMEM, "spline allocation");
        } else {
            gsl_spline_init(c->sp_d1, lna, ld1, (size_t)n);
            gsl_spline_init(c->sp_d2, lna, ld2, (size_t)n);
            gsl_spline_init(c->sp_f1, lna, f1, (size_t)n);
            gsl_spline_init(c->sp_f2, lna, f2, (size_t)n);
        }
    }
    free(tab);
    return rc;
}

static double growth_eval(const hb_cosmo *c, const gsl_spline *sp, double a)
{
    double lna = log(a);
    if (!(lna >= c->lna_min && lna <= c->lna_max)) return NAN;
    return gsl_spline_eval(sp, lna, NULL);
}

double hb_cosmo_d1(const hb_cosmo *c, double a) { return exp(growth_eval(c, c->sp_d1, a)); }
double hb_cosmo_d2(const hb_cosmo *c, double a) { return -exp(growth_eval(c, c->sp_d2, a)); }
double hb_cosmo_f1(const hb_cosmo *c, double a) { return growth_eval(c, c->sp_f1, a); }
double hb_cosmo_f2(const hb_cosmo *c, double a) { return growth_eval(c, c->sp_f2, a); }

hb_status hb_cosmo_init(hb_cosmo *c, const hb_cosmo_config *cfg)
{
    memset(c, 0, sizeof *c);
    c->cfg = *cfg;
    if (!(cfg->omega_m > 0 && cfg->omega_m <= 1 && cfg->omega_b >= 0 && cfg->omega_b < cfg->omega_m &&
          cfg->h > 0 && cfg->sigma_8 > 0)) {
        return HB_ERR0(HB_EARG, "bad cosmology: omega_m=%g omega_b=%g h=%g sigma_8=%g "
                       "(need 0 < omega_b < omega_m <= 1, h > 0, sigma_8 > 0)",
                       cfg->omega_m, cfg->omega_b, cfg->h, cfg->sigma_8);
    }
    gsl_set_error_handler_off();   /* GSL reports through return codes, never aborts */
    eh_init(c);
    hb_status rc = growth_init(c);
    if (rc == HB_OK && cfg->pk_table[0]) rc = table_init(c);
    if (rc != HB_OK) {
        hb_cosmo_free(c);
        return rc;
    }
    double s2 = sigma2_at_z0(c, 8.0, 1.0);
    if (!(s2 > 0)) {
        hb_cosmo_free(c);
        return HB_ERR(HB_ENUM, "sigma_8 integral failed (%g)", s2);
    }
    c->A = cfg->sigma_8 * cfg->sigma_8 / s2;
    if (c->sp_pk && !cfg->pk_renormalise) {
        c->A = 1;
        if (fabs(sqrt(s2) / cfg->sigma_8 - 1) > 0.01) {
            hb_cosmo_free(c);
            return HB_ERR0(HB_EARG, "the P(k) table %s has sigma_8 = %.4f, but cosmology.sigma_8 = %g; set "
                           "cosmology.sigma_8 = %.4f, or cosmology.pk_renormalise = 1 to scale the table",
                           cfg->pk_table, sqrt(s2), cfg->sigma_8, sqrt(s2));
        }
    }
    return HB_OK;
}

void hb_cosmo_free(hb_cosmo *c)
{
    gsl_spline_free(c->sp_d1);
    gsl_spline_free(c->sp_d2);
    gsl_spline_free(c->sp_f1);
    gsl_spline_free(c->sp_f2);
    gsl_spline_free(c->sp_pk);
    c->sp_d1 = c->sp_d2 = c->sp_f1 = c->sp_f2 = c->sp_pk = NULL;
}
