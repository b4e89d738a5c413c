/* hb/suite.h: suites of training boxes over CAMELS-style parameter tables.
 *
 * A suite is a list of rows "name Omega_m sigma_8 A_SN1 A_AGN1 A_SN2 A_AGN2
 * seed" (the CAMELS text layout of the LH and CV tables in ../shared/data/camels),
 * read from a table or drawn as a Latin hypercube over the CAMELS ranges
 * (Omega_m 0.1-0.5 and sigma_8 0.6-1.0 uniform; A_SN1, A_AGN1 0.25-4 and
 * A_SN2, A_AGN2 0.5-2 log-uniform; one point per stratum of every parameter).
 * Every row becomes DIR/<name>.h5: the PM simulation at the last output
 * redshift and the mock painter, all three fields. Complete files are
 * skipped, so a suite resumes where it stopped and job-array tasks can share
 * a directory. Collective over comm: hb_suite_read_table, hb_suite_run. */
#ifndef HB_SUITE_H
#define HB_SUITE_H

#include <mpi.h>
#include <stdint.h>

#include "hb/err.h"
#include "hb/box.h"
#include "hb/mock.h"
#include "hb/simulate.h"
#include "hb/theta.h"

typedef struct hb_suite_row {
    char   name[64];
    double theta[HB_NTHETA];   /* hb/theta.h order */
    long   seed;
} hb_suite_row;

/* Everything but a row's theta and seed: the simulation (z = its last
 * output), the mock painter, and the provenance written to each box (the
 * row's theta and seed replace their keys). */
typedef struct hb_suite_config {
    hb_sim_config  sim;
    hb_mock_config mock;
    long           mock_seed;   /* mock.seed: 0 = the row's seed + 7919 (hb_mock_seed) */
    hb_provenance  prov;
} hb_suite_config;

hb_status hb_suite_read_table(const char *path, hb_suite_row **rows, int *n, MPI_Comm comm);
/* n rows LH_0 .. LH_{n-1}; seeds seed + i. */
hb_status hb_suite_latin_hypercube(int n, uint64_t seed, hb_suite_row **rows);
/* The table in CAMELS layout, written atomically (call on one rank). */
hb_status hb_suite_write_table(const char *path, const hb_suite_row *rows, int n);
/* Make boxes for rows [row0, row1) into dir. */
hb_status hb_suite_run(const hb_suite_config *base, const hb_suite_row *rows, int row0, int row1, const char *dir,
                       MPI_Comm comm);
/* The configuration of one row: base with the row's theta and seed. */
void hb_suite_row_config(const hb_suite_config *base, const hb_suite_row *row, hb_suite_config *out);
/* One box: simulate + paint + write. */
hb_status hb_suite_make_box(const hb_suite_config *cfg, const char *path, MPI_Comm comm);

/* Mark (held[i] = 1) up to n_held rows to hold out of training, from the
 * last row backwards, each inside the parameter range of the rows left for
 * training (emulate refuses to extrapolate). Returns how many were found. */
int hb_suite_pick_heldout(const hb_suite_row *rows, int n, int n_held, int *held);

#endif
