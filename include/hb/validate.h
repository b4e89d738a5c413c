/* hb/validate.h: validating emulated boxes against the truth, against the
 * floor a perfect emulator would reach.
 *
 * The truth itself is stochastic (the mock's lognormal scatter), so a
 * sample can never match it exactly. A group holds one held-out box: its
 * truth, other realisations of the truth (repaints: the mock painted again
 * with other mock seeds on the same DM; none for CAMELS) and emulated
 * samples (other sampler seeds). Per field (gas density, gas temperature,
 * total matter) and k band ([k_F, k_Nyq/4), [k_Nyq/4, k_Nyq/2), [k_Nyq/2,
 * k_Nyq]), averaged over the bins of the band and over groups:
 *   ens_err     |<P_sample> / <P_truth> - 1|: the mean over samples against
 *               the mean over truth realisations
 *   single_err  <|P_sample / P_truth - 1|>: each sample against the truth
 *   floor_err   <|P_repaint / P_truth - 1|>: the same between truth realisations
 *   r, floor_r  <r(k)> of the samples, of the repaints, with the truth
 *   w1          Wasserstein-1 distance of the log10 PDFs [dex] (and of the repaints)
 *   spread      the samples' scatter of ln P(k) over the truths' (1 for a
 *               perfect emulator; below 1: samples too alike)
 *   w1_pooled   the same against the pooled PDF of all truth realisations
 *               (the held-out truth and its repaints), which averages out
 *               most of the held-out truth's own draw (with the mock, each
 *               realisation's bulk sits up to 0.03 dex off the others');
 *               not a goal
 * and tail statistics: the gas mass fraction above 1e6 K and the 99th and
 * 99.9th percentiles of gas density and temperature (ensemble means).
 * The null: the same figures with repaints standing in for the samples, over
 * HB_VAL_NSPLIT random splits of the repaints (k of them as pseudo-samples,
 * the truth and the others as truths; drawn from the box's name, so a box
 * scores the same alone or anywhere in a list); its 90th percentile (10th for r) is
 * what a perfect emulator scores in 90% of draws. A goal is met when the
 * figure is within its threshold or no worse than the null. Each split is
 * also scored against the goals as if it were the emulator: how often a
 * perfect emulator meets each goal, and all of them, at these sample counts.
 * P(k): Pylians conventions (hb/pk.h); every field and the DM are
 * compensated with the DM's mass assignment (the mock's gas is computed from
 * the painted DM and carries its window), so the ratios and the suppression
 * P_gas / P_dm are free of window bias. Total matter: (1 - f_b) rho_dm +
 * f_b [(1 - f_*) rho_gas + f_* rho_*], the mock's own total, with the truth's
 * stellar field and fraction for every file of the group (none: f_* = 0).
 * Collective over comm. */
#ifndef HB_VALIDATE_H
#define HB_VALIDATE_H

#include <mpi.h>

#include "hb/err.h"

#define HB_VAL_NFIELD 3    /* gas density, gas temperature, total matter */
#define HB_VAL_NBAND 3
#define HB_VAL_NSPLIT 40   /* random splits of the repaints for the null */
#define HB_VAL_MAXGOAL 16  /* room for the goals of hb_val_goals */
#define HB_VAL_MAXBOX 256  /* held-out boxes scored one by one (the rest only pooled) */
#define HB_VAL_NAME 48     /* room for a box's name (its truth's file name) */
#define HB_VAL_NSPREAD 4    /* spread checks: gas density and temperature, two bands */
#define HB_VAL_PDF_GOAL_DEX 0.02   /* issue 13's goal for the PDF distance (W1) of either field */

typedef struct hb_val_group {
    const char  *truth;
    char *const *repaints;
    int          n_repaints;
    char *const *samples;
    int          n_samples;
} hb_val_group;

typedef struct hb_val_band {
    double ens_err, single_err, floor_err, r, floor_r;
    double ens_null90, single_null90, r_null10;   /* NaN without at least 2 repaints */
    /* the samples' scatter against the truths': sqrt of the band mean of
     * the per-bin variance of ln P(k) over the samples over the same over
     * the truth realisations (NaN without 2 samples and a repaint), and the
     * null's 90th percentile of |ln spread| (NaN without 3 repaints; its
     * splits take min(samples, half the repaints rounded up) repaints as
     * pseudo-samples against the truth and the others, so more samples
     * than that do not widen it) */
    double spread, spread_null90;
} hb_val_band;

/* One held-out box's goals, scored on that box alone (its own null). */
typedef struct hb_val_box {
    char   name[HB_VAL_NAME];   /* the truth's file name without directory and .h5 */
    int    met, n_goals;
    int    spread_met, n_spread;   /* its spread checks (hb_val_spread_checks) met, measured */
    double spread_null_expected;   /* the null's expected count of them (NaN without a null) */
    double spread[HB_VAL_NSPREAD];   /* each check's spread (NaN: not measured) */
    signed char goal_met[HB_VAL_MAXGOAL];   /* each goal of hb_val_goals on this box: 1 met, 0 missed, -1 not measured */
    double null_expected;   /* the null's expected count: the sum of its goal rates (NaN without a null) */
    double null_all_rate;   /* how often the null meets all of them (NaN without a null) */
} hb_val_box;

typedef struct hb_val_summary {
    int         present[HB_VAL_NFIELD];
    hb_val_band band[HB_VAL_NFIELD][HB_VAL_NBAND];
    double      w1[HB_VAL_NFIELD], w1_floor[HB_VAL_NFIELD], w1_null90[HB_VAL_NFIELD];
    double      w1_pooled[HB_VAL_NFIELD], w1_pooled_null90[HB_VAL_NFIELD];
    int         has_tails;                        /* gas density and temperature both present */
    double      hot_truth, hot_emu, hot_err, hot_null90;   /* mass fraction of gas above 1e6 K */
    double      pct_truth[2][2], pct_emu[2][2];   /* [gas, temperature][99th, 99.9th] */
    double      pct_err[2][2], pct_null90[2][2];  /* |emu / truth - 1| */
    double      k_nyq;
    int         n_groups, n_samples, n_repaints;  /* totals */
    /* the goals scored by the null itself (each split's repaints standing in
     * for the samples): how often a perfect emulator meets each goal and all
     * of them; 0 splits without a null */
    int         null_splits, null_all_met;
    double      null_goal_rate[HB_VAL_MAXGOAL];
    double      null_spread_rate[HB_VAL_NSPREAD];   /* the same for the spread checks */
    /* the goals of each held-out box alone (a pooled report averages the
     * boxes; these show whether one box carries it): the first n_boxes */
    int         n_boxes;                  /* per box, met and n_goals count measured goals only */
    hb_val_box  box[HB_VAL_MAXBOX];
} hb_val_summary;

/* out: prefix of report.h5 and report.txt (NULL: no files). */
hb_status hb_validate(const hb_val_group *groups, int n_groups, const char *out, hb_val_summary *s, MPI_Comm comm);

/* The fidelity goals (README, Methods: "Validation"): each with its figure,
 * threshold and null; met when figure <= threshold (>= for r) or no worse
 * than the null. A goal whose threshold is the floor's is not measured
 * without repaints of the truth (CAMELS: one truth per box): measured 0,
 * met 0, and no count of met or unmet goals includes it. Returns the number
 * of goals filled into g (at most cap). */
typedef struct hb_val_goal {
    char   what[96];
    double figure, threshold, null;
    int    higher_is_better, measured, met;
} hb_val_goal;
int hb_val_goals(const hb_val_summary *s, hb_val_goal *g, int cap);
/* The spread checks, beside the goals (the goals score bias and typical
 * error, not dispersion: samples drawn too alike could meet more of them):
 * gas density and temperature below k_Nyq/2, each met when the samples'
 * scatter of ln P(k) is within HB_VAL_SPREAD_TOL (in ln) of the truths' or
 * no further from it than the null's 90th percentile, too narrow or too
 * wide alike. figure: |ln spread|; measured only with 2 samples and a
 * repaint. spread (NULL: not wanted): each check's spread, signed (NaN:
 * not measured). Returns the number filled into g (at most cap). */
#define HB_VAL_SPREAD_TOL 0.10
int hb_val_spread_checks(const hb_val_summary *s, hb_val_goal *g, double *spread, int cap);
/* "met", "NOT MET" or "n/a (...)" (not measured). */
const char *hb_val_goal_verdict(const hb_val_goal *g);
/* The same for a spread check (its n/a: too few samples or no repaint). */
const char *hb_val_spread_verdict(const hb_val_goal *g);
/* How many of g[0, n) are met; *measured: how many are measured. */
int hb_val_goals_met(const hb_val_goal *g, int n, int *measured);
/* The goals box x misses as their places in hb_val_goals' list, 1-based
 * and comma-separated ("1,4"), or "-" when it misses none; a buffer of
 * HB_VAL_MISSED_LEN holds any such list. */
#define HB_VAL_MISSED_LEN (3 * HB_VAL_MAXGOAL + 2)
void hb_val_box_missed(const hb_val_box *x, char *buf, size_t cap);
/* The per-box counts of s summed over its boxes: met, n_goals,
 * null_expected, spread_met, n_spread, spread_null_expected (the other
 * fields zero). */
void hb_val_box_totals(const hb_val_summary *s, hb_val_box *sum);

extern const char *const HB_VAL_FIELD_NAMES[HB_VAL_NFIELD];
extern const char *const HB_VAL_BAND_NAMES[HB_VAL_NBAND];

#endif
