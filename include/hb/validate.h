/* hb/validate.h: validating emulated boxes against the truth.
 *
 * For each pair (truth, emulated) and each field (gas_density,
 * gas_temperature, and total matter (1 - f_b) dm + f_b gas when both files
 * hold DM and gas): P(k) of both (Pylians conventions, hb/pk.h; the same
 * mass-assignment compensation on both sides), their ratio, the
 * cross-correlation r(k), the PDF of log10 of the field (200 bins) with the
 * Wasserstein-1 distance between the two (in dex), and the suppression
 * P_gas / P_dm of both. Curves are averaged over pairs with their scatter.
 * Pairs: emulated file j goes with truth j mod n_truth, so several sampler
 * seeds of the same boxes can follow each other. The k bands of the summary:
 * [k_F, k_Nyq/4), [k_Nyq/4, k_Nyq/2), [k_Nyq/2, k_Nyq]. Collective over comm. */
#ifndef HB_VALIDATE_H
#define HB_VALIDATE_H

#include <mpi.h>

#include "hb/err.h"

#define HB_VAL_NFIELD 3   /* gas density, gas temperature, total matter */
#define HB_VAL_NBAND 3

typedef struct hb_val_summary {
    int    present[HB_VAL_NFIELD];
    double ratio_dev[HB_VAL_NFIELD][HB_VAL_NBAND];   /* mean |P_emu/P_truth - 1| */
    double r[HB_VAL_NFIELD][HB_VAL_NBAND];           /* mean r(k) */
    double pdf_w1[HB_VAL_NFIELD];                    /* Wasserstein-1 of log10 PDFs [dex] */
    double k_nyq;
    int    n_pairs;
} hb_val_summary;

/* out: prefix of report.h5 and report.txt (out + ".h5", out + ".txt"). */
hb_status hb_validate(char **truth, int nt, char **emu, int ne, const char *out, hb_val_summary *sum,
                      MPI_Comm comm);

extern const char *const HB_VAL_FIELD_NAMES[HB_VAL_NFIELD];

#endif
