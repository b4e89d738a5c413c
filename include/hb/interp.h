/* hb/interp.h: the data-to-data stochastic interpolant (SCIENCE.md 1.2-1.3,
 * Chen et al. 2024).
 *
 * Channels: 0 = DM density, 1 = gas density, 2 = gas temperature; each is
 * stored as the standardised log10 of the field, u = (log10 max(f, floor) -
 * mean) / std, with mean and std from the training set. x0 is the DM channel
 * repeated for both targets, x1 the two baryon channels:
 *   x_t    = (1 - t) x0 + beta(t) x1 + sigma(t) sqrt(t) z,   sigma = sigma_c (1 - t)
 *   target = -x0 + beta'(t) x1 - sigma_c sqrt(t) z           (the drift b)
 *   beta = t^2 (default) or t.
 * With noise slopes s_k (default 0), channel k's sigma is sigma(t) g_k(x0),
 * g_k = exp(s_k clamp(x0, -3, 3) + sum_j c_kj theta_hat_j): a per-cell noise
 * scale known from the conditioning field and, through the coefficients c_kj
 * (default 0), from the parameters (both in x_t and in the target's noise
 * term), so the noise can follow the conditional scatter of x1 (small in
 * voids, large in halos, larger with stronger feedback). The score surgery
 * and the flow's divergence are unchanged by it (eta scales as 1/g, sigma
 * eta as 1); the end Gaussian of the likelihood and the samplers' noise
 * carry g.
 * The network sees (x_t, x0) (and, with n_smooth > 0, the DM smoothed over
 * each of n_smooth radii: hb/smooth.h) and features of t and the six parameters, normalised as in
 * SCIENCE.md 1.3 (hb/theta.h).
 * Samplers integrate dX = b dt + sigma(t) dW from X(0) = x0 to t = 1.
 * Nothing here is collective. */
#ifndef HB_INTERP_H
#define HB_INTERP_H

#include <stddef.h>
#include <stdint.h>

#include "hb/theta.h"

#define HB_NCH 3        /* DM, gas density, gas temperature */
extern const char *const HB_CHANNEL_NAME[HB_NCH];   /* "DM", "gas density", "gas temperature" */
#define HB_NTARGET 2    /* the interpolated (baryon) channels */
#define HB_SMOOTH_MAX_CH 3   /* smoothed-DM input channels at most */

typedef struct hb_interp {
    double sigma_c;
    int    beta_sq;            /* 1: beta = t^2 (train's); 0: beta = t, through the API only: on
                                * test_interp's toy its samples' hot-tail variance came out 5-6% low
                                * and the likelihood refuses it (README "What the demo does") */
    double mean[HB_NCH], std[HB_NCH];
    double floor[HB_NCH];      /* field floor before log10 */
    double lmin[HB_NCH], lmax[HB_NCH];   /* log10 range of the training set (emulation clamps to it) */
    double noise_slope[HB_NTARGET];      /* s_k of the per-cell noise scale g_k(x0) (0: uniform noise) */
    int    n_smooth;                     /* input channels of the smoothed DM (hb/smooth.h); 0: none */
    double smooth_r[HB_SMOOTH_MAX_CH];   /* cells: their radii, each > 0 */
    double smooth_thr[HB_SMOOTH_MAX_CH]; /* of the mean: a channel smooths max(rho - thr, 0), the DM above
                                          * thr (the halos' mass); 0: the DM itself */
    double smooth_mean[HB_SMOOTH_MAX_CH];   /* their standardisation (log10, training set) */
    double smooth_std[HB_SMOOTH_MAX_CH];
    double noise_theta[HB_NTARGET][HB_NTHETA];   /* c_kj: ln g_k also gains sum_j c_kj theta_hat_j (0: none) */
    double noise_lngain[HB_NTARGET];   /* that sum at one theta: set by hb_interp_at, 0 in a model's own copy */
} hb_interp;

hb_interp hb_interp_default(void);
double hb_interp_beta(const hb_interp *c, double t);
double hb_interp_beta_dot(const hb_interp *c, double t);
double hb_interp_sigma(const hb_interp *c, double t);
/* g_k(x0) = exp(s_k clamp(x0, -3, 3) + c->noise_lngain[k]): target channel
 * k's noise scale at a cell whose conditioning value is x0 (exactly 1 when
 * s_k = 0 and no gain). */
float hb_interp_noise_scale(const hb_interp *c, int k, float x0);
/* A copy of c for the parameters theta (physical units): noise_lngain[k] =
 * sum_j c_kj theta_hat_j (hb_theta_normalise), so the noise scale follows the
 * parameters. Every use of g at one theta (training pair, sampler, likelihood)
 * goes through such a copy. */
hb_interp hb_interp_at(const hb_interp *c, const double theta[HB_NTHETA]);
/* "a_agn2:0.3,0 ..." (NAME:gas,temperature of each parameter with a nonzero
 * coefficient, as --noise-theta takes them) or "none", into buf; returns buf. */
const char *hb_interp_noise_theta_describe(const hb_interp *c, char *buf, size_t cap);
/* The index of the first of the n noise coefficients c (the slopes s_k, or
 * the c_kj row-major) that is not finite within [-2, 2], or -1 when all are
 * (the CLI and the model reader check both arrays this way). */
int hb_interp_noise_bad(const double *c, int n);
/* What coefficient i of those n names, for messages: the target of a slope
 * (n = HB_NTARGET), else "target on parameter" of a c_kj; buf of cap bytes. */
const char *hb_interp_noise_name(int i, int n, char *buf, size_t cap);

/* The score from the drift (SCIENCE.md 1.4; x0 known): at t in (0, 1],
 *   eta = [beta (b - alpha' x0) - beta' (x - alpha x0)] / [sqrt(t) (sigma' beta - beta' sigma)],
 * and the drift of the same marginals with diffusion lambda sigma,
 * b + sigma (1 - lambda^2) eta / (2 sqrt t), replaces b (n_cells x 2, in
 * place; x the state, x0 one value per cell). lambda = 0: the
 * probability-flow velocity v. */
void hb_interp_drift_change(const hb_interp *c, double t, double lambda, const float *x0, const float *x, float *b,
                            size_t n_cells);
/* The velocity's divergence from the drift's (SCIENCE.md 1.4): over D state
 * dimensions, div v = F div b + G D at time t in (0, 1]. */
void hb_interp_flow_div(const hb_interp *c, double t, double *F, double *G);

/* Field value <-> standardised channel value. */
float hb_interp_to_std(const hb_interp *c, int ch, double value);
double hb_interp_from_std(const hb_interp *c, int ch, float u);

/* The 22 network features: 16 of t and the normalised theta (hb/theta.h). */
void hb_interp_features(double t, const double theta[HB_NTHETA], float feat[22]);

/* The network's input channels: 3 + n_smooth. */
int hb_interp_n_in(const hb_interp *c);

/* One training pair over V voxels (channels last): x0 (V), x1 (V, 2), noise
 * z (V, 2), xs (V, n_smooth: the smoothed DM channels; NULL without them) ->
 * net input (V, 3 + n_smooth) = (x_t channel 1, x_t channel 2, x0[, xs])
 * and target (V, 2). */
void hb_interp_pair(const hb_interp *c, double t, const float *x0, const float *xs, const float *x1, const float *z,
                    float *in, float *target, size_t V);

/* The network's input at a state x (V, 2): in (V, 3 + n_smooth) = (x
 * channel 1, x channel 2, x0[, xs]), as in hb_interp_pair (the samplers and
 * the flow). */
void hb_interp_input(const hb_interp *c, const float *x, const float *x0, const float *xs, float *in, size_t V);

/* What in b is not a (the interpolant, a channel's standardisation, the
 * noise slopes, the smoothed-DM channels; 1e-9 relative, or absolute below
 * 1), described in buf for an error message, "" when nothing: models whose
 * drifts are averaged, and a resumed training and its checkpoint, must work
 * in one standardised space. Every field of hb_interp is compared:
 * a field added to the struct belongs here too. */
void hb_interp_difference(const hb_interp *a, const hb_interp *b, char *buf, size_t cap);

#endif
