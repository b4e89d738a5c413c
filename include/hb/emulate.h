/* hb/emulate.h: emulate the baryon fields of a whole DM box.
 *
 * The box is slab-decomposed with boundaries at multiples of 4 planes
 * (hb_slab_init_aligned); the drift network runs on the whole box with
 * one-plane halos per layer (hb/unet.h), so every rank holds only its
 * planes: memory per rank scales as N^3 / R. The sampler's noise is keyed by
 * (seed, step, global cell), so the box does not depend on the rank count.
 * With several models (an ensemble: trainings of one recipe and training
 * set with other seeds) the drift is the mean of their networks' drifts,
 * each network run on the same state; they must share the architecture
 * and the interpolant (its standardisation included), and the box must lie
 * inside every model's training range. Writes gas_density (rho/mean,
 * rescaled to mean 1), gas_temperature (K) and a copy of dm_density in the
 * box layout. Collective over comm. */
#ifndef HB_EMULATE_H
#define HB_EMULATE_H

#include <mpi.h>
#include <stdint.h>

#include "hb/err.h"
#include "hb/box.h"
#include "hb/model.h"
#include "hb/theta.h"

#define HB_EMULATE_MAX_MODELS HB_MODEL_MAX_ENSEMBLE
#define HB_EMULATE_MAX_BEST_OF 16

typedef struct hb_emulate_config {
    char     model[HB_EMULATE_MAX_MODELS][1024];   /* n_models files: the drift is their networks' mean */
    int      n_models;       /* 1 (the default) to HB_EMULATE_MAX_MODELS */
    char     dm[1024], out[1024];
    int      steps;          /* sampler steps from t = 0 to 1 */
    int      heun;           /* 0: Euler-Maruyama, 1: stochastic Heun */
    uint64_t seed;           /* the first sampler seed */
    int      n_seeds;        /* samples seed, seed + 1, ...: out has "{seed}" when more than one */
    int      best_of;        /* each sample the best of this many candidates (1..HB_EMULATE_MAX_BEST_OF; 1: as drawn) */
    double   lambda;         /* diffusion lambda sigma from t_switch on (hb/sampler.h; 1: as trained) */
    double   t_switch;
    double   theta_override[HB_NTHETA];   /* replace the DM file's values where not NaN */
    const hb_provenance *prov;            /* borrowed, may be NULL: written to /parameters */
} hb_emulate_config;

hb_emulate_config hb_emulate_config_default(void);   /* nothing overridden */

hb_status hb_emulate(const hb_emulate_config *cfg, MPI_Comm comm);
/* Candidate k of the sample of sampler seed `seed` (best_of > 1) is drawn with sampler seed
 * seed + k 2^32 (k = 0: the seed itself), distinct from every seed below 2^32. Of the candidates the
 * sample is the one whose gas mean before normalisation to 1 is nearest 1 in dex: a candidate whose
 * dense tail holds too much or too little gas is passed over. The mock's own mean before its
 * normalisation scatters between realisations about as much as the samples' does within a box, so
 * the choice narrows the samples' spread below the truths' (docs/fidelity.md, "Best of K"). */
uint64_t hb_emulate_candidate_seed(uint64_t seed, int k);
/* The file of sampler seed `seed`: "{seed}" in the pattern replaced by it. */
void hb_emulate_output_name(const char *pattern, uint64_t seed, char *out, size_t cap);

#endif
