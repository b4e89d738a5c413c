/* hb/pk.h: power spectra of distributed fields with Pylians' conventions
 * (SCIENCE.md 3).
 *
 * delta_k = sum_x delta_x e^{-ik.x} (unnormalised FFT); P = L^3 N^-6 |delta_k|^2;
 * mass-assignment compensation divides each field's amplitude by
 * prod_i sinc(pi n_i / N)^p (p = 1 NGP, 2 CIC, 3 TSC); bins of width k_F
 * indexed by floor(|n|); only independent modes (each conjugate pair of the
 * kz = 0 and kz = N/2 planes once); the DC bin is dropped. Per bin: mean k,
 * mean P, mode count; for two fields P11, P22, P12 and r = P12/sqrt(P11 P22).
 * Collective over mesh->comm: hb_pk_compute, hb_pk_bin_model. */
#ifndef HB_PK_H
#define HB_PK_H

#include "hb/err.h"
#include "hb/mesh.h"

enum { HB_MAS_NONE = 0, HB_MAS_NGP = 1, HB_MAS_CIC = 2, HB_MAS_TSC = 3 };

typedef struct hb_pk {
    int     nbins;        /* bins with at least one mode */
    int     cross;        /* 1 when two fields were given */
    double  L;
    int     N;
    double *k;            /* mean k in bin [h/Mpc] */
    double *p11, *p22, *p12, *r;   /* p22, p12, r only for cross spectra */
    long   *nmodes;
    int    *bin;          /* floor(|n|) of each bin */
} hb_pk;

/* Power spectrum of real-space fields f1 (and f2, may be NULL) in mesh
 * buffers; both are Fourier transformed in place. mas1/mas2: HB_MAS_*. */
hb_status hb_pk_compute(hb_pk *out, const hb_mesh *m, float *f1, float *f2, int mas1, int mas2);
/* The same from fields already in Fourier space (hb_mesh_r2c), left as they are. */
hb_status hb_pk_compute_k(hb_pk *out, const hb_mesh *m, const float *f1, const float *f2, int mas1, int mas2);
/* Average of model(k) over the modes of every bin of `pk` (same binning):
 * the fair comparison for a binned measurement. */
hb_status hb_pk_bin_model(const hb_pk *pk, const hb_mesh *m, double (*model)(double k, void *ctx),
                          void *ctx, double *out);
void hb_pk_free(hb_pk *pk);

/* In place: field -> field/mean - 1 (the density contrast). Returns the
 * mean through *mean (may be NULL); an error if the mean is not positive.
 * Collective. */
hb_status hb_pk_to_delta(const hb_mesh *m, float *buf, double *mean);

/* MAS name <-> code ("cic", "none", "ngp", "tsc"); -1 if unknown. */
int hb_mas_from_name(const char *name);
const char *hb_mas_name(int mas);

/* Write the spectrum as text: '#' header lines (units, `header`, which may
 * be NULL or hold several '\n'-separated lines), then columns
 * k[h/Mpc] P[(Mpc/h)^3] n_modes, plus r P11 P22 for cross spectra (P is P12).
 * Written to path.tmp and renamed. Call on one rank. */
hb_status hb_pk_write_text(const hb_pk *pk, const char *path, const char *header);

#endif
