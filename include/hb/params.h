/* hb/params.h: run parameters from INI files (iniparser) and command-line
 * overrides "section.key=value". Part of the front end (src/cli/params.c):
 * only src/cli reads parameters; the stages take typed configurations.
 *
 * One schema (src/params.c) lists every key hydrobridge knows, with its type,
 * default, allowed range and meaning; `hydrobridge params` prints it. Unknown
 * keys, malformed or out-of-range values and missing required keys are errors
 * naming the key (and the file line). Rank 0 parses and broadcasts, so every
 * rank holds the same effective parameter set; it is written into every
 * output file (hb_provenance, hb/box.h). hb_params_load is collective over comm. */
#ifndef HB_PARAMS_H
#define HB_PARAMS_H

#include <mpi.h>
#include <stdio.h>

#include "hb/err.h"

#define HB_PARAMS_MAX 96   /* schema entries */
#define HB_PARAM_LEN 256   /* longest value text */

typedef struct hb_params {
    char          val[HB_PARAMS_MAX][HB_PARAM_LEN];   /* effective value text; "" = unset */
    unsigned char given[HB_PARAMS_MAX];               /* 1 = from file or override */
    char          source[512];                        /* the INI file, "" if none */
} hb_params;

/* Fill p from defaults, then `file` (may be NULL), then the overrides, and
 * check that every key in `required` (NULL-terminated, may be NULL) is set.
 * Collective over comm. */
hb_status hb_params_load(hb_params *p, const char *file, int n_over, char *const *over,
                         const char *const *required, MPI_Comm comm);
/* Defaults only (no file, no MPI). */
void hb_params_defaults(hb_params *p);
/* Set one key from text, with the same checks as a file entry. Not collective:
 * call it identically on every rank. */
hb_status hb_params_set(hb_params *p, const char *key, const char *value);
/* Check that every key in `required` is set (rank-0 report). */
hb_status hb_params_require(const hb_params *p, const char *const *required);

/* Typed access to keys of the schema (validated at load). A key outside the
 * schema is a programming error: reported, NaN / 0 / "" returned. */
double      hb_params_double(const hb_params *p, const char *key);
long        hb_params_int(const hb_params *p, const char *key);
const char *hb_params_string(const hb_params *p, const char *key);
int         hb_params_is_set(const hb_params *p, const char *key);
/* 1 when key was given in the file or on the command line (not a default). */
int         hb_params_given(const hb_params *p, const char *key);
/* A list of doubles ("0, 0.5, 1"); returns the count, at most cap. */
int hb_params_dlist(const hb_params *p, const char *key, double *out, int cap);

/* Iteration over the schema, for writing every effective value. */
int         hb_params_count(void);
const char *hb_params_key(int i);
const char *hb_params_value(const hb_params *p, int i);   /* "" when unset */
/* Write "prefix key = value" lines for every set key. */
void hb_params_fprint(const hb_params *p, FILE *f, const char *prefix);
/* The parameter reference: every key, type, default, range and meaning. */
void hb_params_fprint_reference(FILE *f);

#endif
