/* hb/loglike.h: the model's log-likelihood of a baryon box given its DM box
 * and parameters (SCIENCE.md 1.4).
 *
 * The trained drift b and the known x0 give the score, hence the
 * probability-flow velocity v = b + sigma eta / (2 sqrt t) of an ODE whose
 * time-t marginals are the interpolant's. The observed standardised box x1
 * is carried backwards along it from t = 1 to t = eps, and
 *   log p(x1 | x0, theta) = log N(x(eps); alpha x0, gamma^2 I) - int_eps^1 div v dt,
 *   div v = F(t) div b + G(t) D                       (hb_interp_flow_div)
 * with D = 2 N^3 dimensions. The G D part is integrated exactly (GSL, it
 * carries the 1/t of the Gaussian's narrowing); div b is Hutchinson's
 * estimate, mean over K Rademacher probes xi of xi . (J_b^T xi), the
 * vector-Jacobian product being the network's backward pass (hb_unet_vjp) with respect to
 * its input, or exact (every unit vector: D passes, for small boxes).
 *
 * The ODE runs in s = sqrt(t) (dx/ds = 2 s v stays finite at t -> 0, where
 * v ~ t^-1/2), with Heun steps uniform in s on the state and the log-density
 * together: each step evaluates the drift at its start and at the
 * predictor, each evaluation one forward and backward pass per probe. Probe k
 * of evaluation e is drawn per (seed, k, e, global cell, channel) from
 * Philox: the result does not depend on the rank count, and two calls with
 * the same seed use the same probes whatever theta is ("common random
 * numbers": differences over theta are not swamped by the estimator's noise).
 * The standard error is that of the mean over probes of each probe's whole
 * integral. The physical fields' log-density adds the Jacobian of the
 * standardised log10: - sum over cells and fields of ln(f ln 10 s_field).
 *
 * Collective over comm: hb_flow_loglike, hb_loglike_open, _eval. */
#ifndef HB_LOGLIKE_H
#define HB_LOGLIKE_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "hb/box.h"
#include "hb/err.h"
#include "hb/interp.h"
#include "hb/model.h"
#include "hb/theta.h"

typedef struct hb_loglike_opts {
    int      probes;    /* Hutchinson probes per evaluation (>= 2); 0: the exact divergence */
    int      steps;     /* Heun steps in sqrt(t) from 1 to sqrt(eps) */
    double   eps;       /* where the Gaussian law of x_t takes over */
    uint64_t seed;      /* of the probes */
    int      progress;  /* 1: a progress line on rank 0 while integrating */
} hb_loglike_opts;

hb_loglike_opts hb_loglike_opts_default(void);

typedef struct hb_loglike_result {
    double logp;        /* log p of the standardised fields, nats (whole box) */
    double se;          /* its standard error from the probes (0: exact divergence) */
    double gauss;       /* log N(x(eps); alpha x0, gamma^2 I) */
    double div_b;       /* int_eps^1 F div b dt (mean over probes) */
    double div_const;   /* D int_eps^1 G dt */
    double logp_phys;   /* log p of the physical fields (rho_gas / mean, T in K) */
    double jacobian;    /* logp_phys - logp */
    long   n_voxels;
    long   n_passes;    /* network forward + backward passes */
    double seconds;
} hb_loglike_result;

/* The drift at (t, x) of this rank's cells (n_cells x 2) into b and, when
 * xi is not NULL, the vector-Jacobian product J_b^T xi into jt. Collective. */
typedef hb_status (*hb_flow_fn)(void *ctx, double t, const float *x, float *b, const float *xi, float *jt);

typedef struct hb_flow_problem {
    hb_flow_fn       fn;
    void            *ctx;
    const hb_interp *ic;
    const float     *x0;         /* this rank's cells */
    size_t           n_cells;
    uint64_t         first_cell; /* global index of this rank's first cell */
    uint64_t         n_total;    /* cells in the box */
    MPI_Comm         comm;
} hb_flow_problem;

/* log p of x1 (this rank's cells x 2, standardised); fills every field of r
 * but the physical ones (logp_phys = logp, jacobian = 0). Refuses an
 * interpolant with beta(t) = t (hb/interp.h). */
hb_status hb_flow_loglike(const hb_flow_problem *pb, const hb_loglike_opts *o, const float *x1,
                          hb_loglike_result *r);

/* A model (or an ensemble: the drift the mean of its members', as in
 * hb/emulate.h; the divergence then the mean of theirs, the prior range
 * their common one), a DM box and the observed gas box, loaded once for
 * evaluations at many theta. */
typedef struct hb_loglike_config {
    char   model[HB_MODEL_MAX_ENSEMBLE][1024];   /* n_models files: the drift is their networks' mean */
    int    n_models;                            /* 1 to HB_MODEL_MAX_ENSEMBLE (as hb_emulate's) */
    char   dm[1024], gas[1024];
    double theta_override[HB_NTHETA];   /* replace the DM file's values where not NaN */
    hb_loglike_opts opts;
} hb_loglike_config;

typedef struct hb_loglike hb_loglike;

hb_status hb_loglike_open(hb_loglike **L, const hb_loglike_config *cfg, MPI_Comm comm);
/* The model's meta (training ranges), the DM box's description (theta with
 * the overrides) and the gas box's own (its theta: the truth, if known). */
const hb_model_meta *hb_loglike_meta(const hb_loglike *L);
const hb_boxinfo    *hb_loglike_dm_info(const hb_loglike *L);
const hb_boxinfo    *hb_loglike_gas_info(const hb_loglike *L);
/* The flow the likelihood integrates, at theta and time t, for this rank's
 * hb_loglike_cells(L) cells (hb_flow_fn's contract: the drift into b, J_b^T
 * xi into jt when xi is not NULL), for checks. Collective. */
hb_status hb_loglike_flow(hb_loglike *L, const double theta[HB_NTHETA], double t, const float *x, float *b,
                          const float *xi, float *jt);
size_t    hb_loglike_cells(const hb_loglike *L);
/* log p(gas | DM, theta); theta inside the training range. */
hb_status hb_loglike_eval(hb_loglike *L, const double theta[HB_NTHETA], hb_loglike_result *r);
void      hb_loglike_close(hb_loglike *L);

#endif
