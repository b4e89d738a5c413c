/* Validation reports against the floor of the truth's own scatter
 * (hb/validate.h). */
#include "hb/validate.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hb/box.h"
#include "hb/h5io.h"
#include "hb/mesh.h"
#include "hb/mpiutil.h"
#include "hb/pk.h"
#include "hb/rng.h"

const char *const HB_VAL_FIELD_NAMES[HB_VAL_NFIELD] = {"gas_density", "gas_temperature", "total_matter"};
const char *const HB_VAL_BAND_NAMES[HB_VAL_NBAND] = {"kF..kN/4", "kN/4..kN/2", "kN/2..kN"};

enum { F_GAS = 0, F_TEMP = 1, F_TOT = 2 };
#define NPDF 200
static const double PDF_LO[HB_VAL_NFIELD] = {-4, 2, -4}, PDF_HI[HB_VAL_NFIELD] = {4, 9, 4};   /* log10 ranges */
/* percentiles from a fine log10 histogram: 0.0025 dex bins over [-8, 12] */
#define NTAIL 8000
#define TAIL_LO -8.0
#define TAIL_HI 12.0
static const double PCT[2] = {0.99, 0.999};
#define T_HOT 1e6   /* K */

/* What one file contributes. */
typedef struct fileres {
    double *p[HB_VAL_NFIELD];   /* [nb] its P(k) */
    double *r[HB_VAL_NFIELD];   /* [nb] r(k) with the truth (1 for the truth) */
    double *pgas;               /* [nb] gas P(k) against the DM's (suppression) */
    double  pdf[HB_VAL_NFIELD][NPDF];
    double  hot, pct[2][2];
    int     present[HB_VAL_NFIELD];
} fileres;

typedef struct vctx {
    MPI_Comm comm;
    hb_mesh  m;
    int      nb, mas;        /* bins; the DM's mass assignment, used for every field */
    double  *k, *pdm;        /* bin centres; the truth's DM P(k) */
    int     *band;           /* [nb] band of each bin, -1 beyond k_Nyq */
    float   *tk[HB_VAL_NFIELD];   /* the truth's fields in Fourier space */
    float   *dm, *stars, *gas, *temp, *tot;   /* real space: the group's DM and stars; the current file */
    double   fb, fstar;
    int      have_stars, N;
    double   L;
} vctx;

static void fileres_free(fileres *r)
{
    for (int f = 0; f < HB_VAL_NFIELD; f++) { free(r->p[f]); free(r->r[f]); }
    free(r->pgas);
    memset(r, 0, sizeof *r);
}

/* ---- one file ------------------------------------------------------------ */

/* Histograms of log10 of a real field: the PDF (NPDF bins over the field's
 * range, per dex) and the fine tail histogram (counts). */
static hb_status histograms(const hb_mesh *m, const float *a, int field, double *pdf, double *tail)
{
    const double lo = PDF_LO[field], w = (PDF_HI[field] - lo) / NPDF, tw = (TAIL_HI - TAIL_LO) / NTAIL;
    double *loc = calloc(NPDF + NTAIL, sizeof *loc);
    if (!loc) return HB_ERR(HB_ENOMEM, "histograms");
    for (ptrdiff_t i = 0; i < m->nx_local; i++)
        for (int j = 0; j < m->N; j++)
            for (int k = 0; k < m->N; k++) {
                double v = a[hb_mesh_ridx(m, i, j, k)], lv = v > 0 ? log10(v) : TAIL_LO;
                int b = (int)floor((lv - lo) / w), t = (int)floor((lv - TAIL_LO) / tw);
                loc[b < 0 ? 0 : b >= NPDF ? NPDF - 1 : b] += 1;
                loc[NPDF + (t < 0 ? 0 : t >= NTAIL ? NTAIL - 1 : t)] += 1;
            }
    hb_status rc = hb_mpi(MPI_Allreduce(MPI_IN_PLACE, loc, NPDF + NTAIL, MPI_DOUBLE, MPI_SUM, m->comm));
    const double n = pow((double)m->N, 3);
    for (int b = 0; b < NPDF; b++) pdf[b] = loc[b] / (n * w);   /* a density per dex */
    if (tail) memcpy(tail, loc + NPDF, NTAIL * sizeof *tail);
    free(loc);
    return rc;
}

/* The p-quantile of a tail histogram, interpolated in log10 within its bin. */
static double quantile(const double *tail, double p)
{
    double n = 0, c = 0;
    for (int t = 0; t < NTAIL; t++) n += tail[t];
    const double want = p * n, tw = (TAIL_HI - TAIL_LO) / NTAIL;
    for (int t = 0; t < NTAIL; t++) {
        if (c + tail[t] >= want && tail[t] > 0) return pow(10.0, TAIL_LO + tw * (t + (want - c) / tail[t]));
        c += tail[t];
    }
    return pow(10.0, TAIL_HI);
}

static double wasserstein1(const double *p, const double *q, double w)
{
    double cp = 0, cq = 0, d = 0;
    for (int b = 0; b < NPDF; b++) {
        cp += p[b] * w;
        cq += q[b] * w;
        d += fabs(cp - cq) * w;
    }
    return d;
}

/* Read one field of f into buf (real space), checked; quiet HB_EARG when f lacks it. */
static hb_status read_field(hb_h5 *f, const hb_mesh *m, const char *path, float *buf, int values)
{
    if (!hb_h5_exists(f, path)) return hb_err_quiet(HB_EARG);
    return hb_box_read_mesh_field(f, path, m, buf, values);
}

/* Tails of the gas: mass fraction above T_HOT, percentiles of both fields. */
static hb_status tails(vctx *v, fileres *r, double tail[2][NTAIL])
{
    const hb_mesh *m = &v->m;
    double s[2] = {0, 0};
    for (ptrdiff_t i = 0; i < m->nx_local; i++)
        for (int j = 0; j < m->N; j++)
            for (int k = 0; k < m->N; k++) {
                size_t c = hb_mesh_ridx(m, i, j, k);
                s[0] += v->gas[c];
                if (v->temp[c] > T_HOT) s[1] += v->gas[c];
            }
    HB_TRY(hb_mpi_sum(m->comm, s, 2));
    r->hot = s[0] > 0 ? s[1] / s[0] : NAN;
    for (int a = 0; a < 2; a++)
        for (int q = 0; q < 2; q++) r->pct[a][q] = quantile(tail[a], PCT[q]);
    return HB_OK;
}

/* delta of field buf (real) into Fourier space, in place. */
static hb_status to_delta_k(const hb_mesh *m, float *buf)
{
    HB_TRY(hb_pk_to_delta(m, buf, NULL));
    hb_mesh_r2c(m, buf);
    return HB_OK;
}

/* The file's fields: PDFs and tails in real space; then P(k) and r(k) with
 * the truth (truth = 1: this file is the truth, whose Fourier fields are kept). */
static hb_status measure(vctx *v, hb_h5 *f, int truth, fileres *r)
{
    const hb_mesh *m = &v->m;
    double (*tail)[NTAIL] = malloc(2 * sizeof *tail);
    if (!tail) return HB_ERR(HB_ENOMEM, "tail histograms");
    hb_status rc = HB_OK, lg = read_field(f, m, HB_FIELD_GAS, v->gas, HB_VALUES_DENSITY),
              lt = read_field(f, m, HB_FIELD_TEMP, v->temp, HB_VALUES_POSITIVE);
    if ((lg != HB_OK && hb_h5_exists(f, HB_FIELD_GAS)) || (lt != HB_OK && hb_h5_exists(f, HB_FIELD_TEMP))) {
        return HB_EIO;   /* present but bad: reported */
    }
    r->present[F_GAS] = lg == HB_OK;
    r->present[F_TEMP] = lt == HB_OK;
    r->present[F_TOT] = lg == HB_OK && v->dm;
    if (r->present[F_GAS]) rc = histograms(m, v->gas, F_GAS, r->pdf[F_GAS], tail[0]);
    if (rc == HB_OK && r->present[F_TEMP]) rc = histograms(m, v->temp, F_TEMP, r->pdf[F_TEMP], tail[1]);
    if (rc == HB_OK && r->present[F_GAS] && r->present[F_TEMP]) rc = tails(v, r, tail);
    free(tail);
    if (rc == HB_OK && r->present[F_TOT]) {
        const float a = (float)(1 - v->fb), g = (float)(v->fb * (1 - v->fstar)), st = (float)(v->fb * v->fstar);
        for (ptrdiff_t i = 0; i < 2 * m->alloc_local; i++)
            v->tot[i] = a * v->dm[i] + g * v->gas[i] + st * (v->have_stars ? v->stars[i] : 1.0f);
        rc = histograms(m, v->tot, F_TOT, r->pdf[F_TOT], NULL);
    }
    float *bufs[HB_VAL_NFIELD] = {v->gas, v->temp, v->tot};
    for (int fi = 0; fi < HB_VAL_NFIELD && rc == HB_OK; fi++) {
        if (!r->present[fi]) continue;
        rc = to_delta_k(m, bufs[fi]);
        if (rc != HB_OK) break;
        if (truth) memcpy(v->tk[fi], bufs[fi], 2 * (size_t)m->alloc_local * sizeof *bufs[fi]);
        hb_pk pk;
        rc = hb_pk_compute_k(&pk, m, v->tk[fi], bufs[fi], v->mas, v->mas);
        if (rc != HB_OK) break;
        r->p[fi] = malloc((size_t)v->nb * sizeof(double));
        r->r[fi] = malloc((size_t)v->nb * sizeof(double));
        if (!r->p[fi] || !r->r[fi]) rc = HB_ERR(HB_ENOMEM, "spectra");
        for (int j = 0; j < v->nb && rc == HB_OK; j++) {
            r->p[fi][j] = pk.p22[j];
            r->r[fi][j] = pk.r[j];
        }
        hb_pk_free(&pk);
    }
    return rc;
}

/* ---- a group ------------------------------------------------------------- */

/* The mesh and buffers, sized by the first truth. */
static hb_status vctx_init(vctx *v, int N, double L, MPI_Comm comm)
{
    v->comm = comm;
    v->N = N;
    v->L = L;
    HB_TRY(hb_mesh_init(&v->m, N, L, comm, FFTW_ESTIMATE));
    int bad = 0;
    for (int f = 0; f < HB_VAL_NFIELD; f++) bad |= !(v->tk[f] = hb_mesh_alloc(&v->m));
    bad |= !(v->dm = hb_mesh_alloc(&v->m)) | !(v->stars = hb_mesh_alloc(&v->m)) | !(v->gas = hb_mesh_alloc(&v->m));
    bad |= !(v->temp = hb_mesh_alloc(&v->m)) | !(v->tot = hb_mesh_alloc(&v->m));
    if (hb_mpi_any(comm, bad)) return HB_ERR0(HB_ENOMEM, "validation meshes (%d^3)", N);
    /* the bins: the P(k) of the zero field gives k and the bins */
    hb_pk pk;
    HB_TRY(hb_pk_compute_k(&pk, &v->m, v->stars, NULL, 0, 0));
    v->nb = pk.nbins;
    v->k = malloc((size_t)v->nb * sizeof *v->k);
    v->pdm = calloc((size_t)v->nb, sizeof *v->pdm);
    v->band = malloc((size_t)v->nb * sizeof *v->band);
    const double kn = M_PI * N / L;
    for (int j = 0; j < v->nb && v->k && v->band; j++) {
        v->k[j] = pk.k[j];
        v->band[j] = pk.k[j] < kn / 4 ? 0 : pk.k[j] < kn / 2 ? 1 : pk.k[j] <= kn ? 2 : -1;
    }
    hb_pk_free(&pk);
    if (!v->k || !v->pdm || !v->band) return HB_ERR(HB_ENOMEM, "bins");
    return HB_OK;
}

static void vctx_free(vctx *v)
{
    for (int f = 0; f < HB_VAL_NFIELD; f++) fftwf_free(v->tk[f]);
    fftwf_free(v->dm); fftwf_free(v->stars); fftwf_free(v->gas); fftwf_free(v->temp); fftwf_free(v->tot);
    free(v->k); free(v->pdm); free(v->band);
    if (v->m.N) hb_mesh_free(&v->m);
}

/* The truth's DM (P(k) for the suppression), stars and baryon fractions. */
static hb_status group_setup(vctx *v, hb_h5 *f, const hb_boxinfo *bi)
{
    const hb_mesh *m = &v->m;
    char mas[32] = "none";
    if (hb_h5_exists(f, HB_FIELD_DM) && hb_h5_attr_exists(f, HB_FIELD_DM, "mass_assignment")) {
        HB_TRY(hb_h5_attr_read_string(f, HB_FIELD_DM, "mass_assignment", mas, sizeof mas));
    }
    v->mas = hb_mas_from_name(mas);
    if (v->mas < 0) v->mas = HB_MAS_NONE;
    v->fb = bi->omega_b / bi->theta[HB_OMEGA_M];
    v->fstar = 0;
    if (hb_h5_attr_exists(f, "/", "stellar_fraction")) HB_TRY(hb_h5_attr_read_double(f, "/", "stellar_fraction", &v->fstar));
    v->have_stars = hb_h5_exists(f, HB_FIELD_STARS);
    if (v->have_stars) HB_TRY(hb_box_read_mesh_field(f, HB_FIELD_STARS, m, v->stars, HB_VALUES_DENSITY));
    else v->fstar = 0;   /* no stellar field: all baryons in the gas */
    if (!hb_h5_exists(f, HB_FIELD_DM)) return HB_OK;
    HB_TRY(hb_box_read_mesh_field(f, HB_FIELD_DM, m, v->dm, HB_VALUES_DENSITY));
    float *w = v->tot;
    memcpy(w, v->dm, 2 * (size_t)m->alloc_local * sizeof *w);
    hb_pk pk;
    HB_TRY(hb_pk_to_delta(m, w, NULL));
    HB_TRY(hb_pk_compute(&pk, m, w, NULL, v->mas, v->mas));
    for (int j = 0; j < v->nb && j < pk.nbins; j++) v->pdm[j] = pk.p11[j];
    hb_pk_free(&pk);
    return HB_OK;
}

/* Open file path and check it matches the group's box. */
static hb_status open_match(vctx *v, const char *path, hb_h5 *f, hb_boxinfo *bi)
{
    HB_TRY(hb_h5_open(f, path, v->comm));
    int N = 0;
    hb_status rc = hb_h5_field_size(f, HB_FIELD_GAS, &N);
    if (rc == HB_OK) rc = hb_box_read_info(f, bi);
    if (rc == HB_OK && v->m.N && (N != v->N || fabs(bi->box_size - v->L) > 1e-6 * v->L)) {
        rc = HB_ERR0(HB_EARG, "%s is %d^3 in %g Mpc/h, but the validation's boxes are %d^3 in %g Mpc/h", path, N,
                     bi->box_size, v->N, v->L);
    }
    if (rc == HB_OK && !v->m.N) rc = vctx_init(v, N, bi->box_size, v->comm);
    if (rc != HB_OK) hb_h5_close(f);
    return rc;
}

/* Every file of a group: res[0] the truth, then the repaints, then the samples. */
static hb_status measure_group(vctx *v, const hb_val_group *g, fileres *res)
{
    hb_h5 f;
    hb_boxinfo bi;
    HB_TRY(open_match(v, g->truth, &f, &bi));
    hb_status rc = group_setup(v, &f, &bi);
    if (rc == HB_OK) rc = measure(v, &f, 1, &res[0]);
    hb_h5_close(&f);
    for (int i = 0; i < g->n_repaints + g->n_samples && rc == HB_OK; i++) {
        const char *path = i < g->n_repaints ? g->repaints[i] : g->samples[i - g->n_repaints];
        rc = open_match(v, path, &f, &bi);
        if (rc != HB_OK) break;
        rc = measure(v, &f, 0, &res[1 + i]);
        hb_h5_close(&f);
        for (int fi = 0; fi < HB_VAL_NFIELD && rc == HB_OK; fi++) {
            if (res[1 + i].present[fi] != res[0].present[fi]) {
                rc = HB_ERR0(HB_EIO, "%s %s %s, unlike its truth %s", path, res[1 + i].present[fi] ? "has" : "lacks",
                             HB_VAL_FIELD_NAMES[fi], g->truth);
            }
        }
    }
    return rc;
}

/* ---- figures ------------------------------------------------------------- */

/* The figures of one split of a group's files into "samples" and "truths"
 * (indices into res); the truth is res[0]. */
typedef struct figures {
    double ens[HB_VAL_NFIELD][HB_VAL_NBAND], single[HB_VAL_NFIELD][HB_VAL_NBAND], r[HB_VAL_NFIELD][HB_VAL_NBAND];
    double var_s[HB_VAL_NFIELD][HB_VAL_NBAND], var_t[HB_VAL_NFIELD][HB_VAL_NBAND];   /* of ln P: samples', truths' */
    double w1[HB_VAL_NFIELD], w1p[HB_VAL_NFIELD], hot_s, hot_t, pct_s[2][2], pct_t[2][2];
} figures;

/* The unbiased variance of ln P(k) in bin j of field fi over files idx[0, n)
 * (NaN for n < 2), about the first file's value (equal files: exactly 0). */
static double ln_var(const fileres *res, const int *idx, int n, int fi, int j)
{
    if (n < 2) return NAN;
    const double x0 = log(res[idx[0]].p[fi][j]);
    double m = 0, v = 0;
    for (int i = 0; i < n; i++) m += (log(res[idx[i]].p[fi][j]) - x0) / n;
    for (int i = 0; i < n; i++) v += pow(log(res[idx[i]].p[fi][j]) - x0 - m, 2) / (n - 1);
    return v;
}

static void figures_of(const vctx *v, const fileres *res, const int *smp, int ns, const int *tru, int nt, figures *F)
{
    memset(F, 0, sizeof *F);
    const double w[HB_VAL_NFIELD] = {(PDF_HI[0] - PDF_LO[0]) / NPDF, (PDF_HI[1] - PDF_LO[1]) / NPDF,
                                     (PDF_HI[2] - PDF_LO[2]) / NPDF};
    for (int fi = 0; fi < HB_VAL_NFIELD; fi++) {
        if (!res[0].present[fi]) continue;
        int cnt[HB_VAL_NBAND] = {0};
        for (int j = 0; j < v->nb; j++) {
            const int b = v->band[j];
            if (b < 0) continue;
            double ps = 0, pt = 0, single = 0, r = 0;
            for (int i = 0; i < ns; i++) {
                ps += res[smp[i]].p[fi][j] / ns;
                single += fabs(res[smp[i]].p[fi][j] / res[0].p[fi][j] - 1) / ns;
                r += res[smp[i]].r[fi][j] / ns;
            }
            for (int i = 0; i < nt; i++) pt += res[tru[i]].p[fi][j] / nt;
            F->ens[fi][b] += fabs(ps / pt - 1);
            F->single[fi][b] += single;
            F->r[fi][b] += r;
            F->var_s[fi][b] += ln_var(res, smp, ns, fi, j);
            F->var_t[fi][b] += ln_var(res, tru, nt, fi, j);
            cnt[b]++;
        }
        for (int b = 0; b < HB_VAL_NBAND; b++) {
            F->ens[fi][b] /= cnt[b] ? cnt[b] : 1;
            F->single[fi][b] /= cnt[b] ? cnt[b] : 1;
            F->r[fi][b] /= cnt[b] ? cnt[b] : 1;
            F->var_s[fi][b] /= cnt[b] ? cnt[b] : 1;
            F->var_t[fi][b] /= cnt[b] ? cnt[b] : 1;
        }
        double pool[NPDF] = {0};
        for (int i = 0; i < nt; i++)
            for (int b = 0; b < NPDF; b++) pool[b] += res[tru[i]].pdf[fi][b] / nt;
        for (int i = 0; i < ns; i++) {
            F->w1[fi] += wasserstein1(res[smp[i]].pdf[fi], res[0].pdf[fi], w[fi]) / ns;
            F->w1p[fi] += wasserstein1(res[smp[i]].pdf[fi], pool, w[fi]) / ns;
        }
    }
    for (int i = 0; i < ns; i++) {
        F->hot_s += res[smp[i]].hot / ns;
        for (int a = 0; a < 4; a++) F->pct_s[a / 2][a % 2] += res[smp[i]].pct[a / 2][a % 2] / ns;
    }
    for (int i = 0; i < nt; i++) {
        F->hot_t += res[tru[i]].hot / nt;
        for (int a = 0; a < 4; a++) F->pct_t[a / 2][a % 2] += res[tru[i]].pct[a / 2][a % 2] / nt;
    }
}

/* Accumulates the group-averaged figures: the emulator's, the floor's, and one per null split. */
typedef struct totals {
    figures emu, floor, *null;   /* null: [HB_VAL_NSPLIT] */
    int     n_null, groups;
    /* curves, averaged over groups */
    double *p_truth[HB_VAL_NFIELD], *p_emu[HB_VAL_NFIELD], *ratio[HB_VAL_NFIELD], *ratio_std[HB_VAL_NFIELD];
    double *ratio_floor[HB_VAL_NFIELD], *r[HB_VAL_NFIELD], *r_std[HB_VAL_NFIELD], *r_floor[HB_VAL_NFIELD];
    double *supp_truth, *supp_emu, pdf_t[HB_VAL_NFIELD][NPDF], pdf_e[HB_VAL_NFIELD][NPDF];
} totals;

static void add_figures(figures *to, const figures *F, double wgt)
{
    double *a = (double *)to;
    const double *b = (const double *)F;
    for (size_t i = 0; i < sizeof *F / sizeof(double); i++) a[i] += wgt * b[i];
}

/* Curves of a group (mean over its samples against the mean over truths,
 * each sample against the truth, the floor), added with weight wgt. */
static void add_curves(totals *T, const vctx *v, const fileres *res, int nr, int ns, double wgt)
{
    for (int fi = 0; fi < HB_VAL_NFIELD; fi++) {
        if (!res[0].present[fi]) continue;
        for (int j = 0; j < v->nb; j++) {
            double pt = 0, pe = 0, rs = 0, rs2 = 0, rr = 0, r2 = 0, rf = 0, rfl = 0;
            for (int i = 0; i <= nr; i++) pt += res[i].p[fi][j] / (nr + 1);
            for (int i = 0; i < ns; i++) {
                const fileres *q = &res[1 + nr + i];
                double x = q->p[fi][j] / res[0].p[fi][j];
                pe += q->p[fi][j] / ns;
                rs += x / ns;
                rs2 += x * x / ns;
                rr += q->r[fi][j] / ns;
                r2 += q->r[fi][j] * q->r[fi][j] / ns;
            }
            for (int i = 1; i <= nr; i++) {
                rf += res[i].p[fi][j] / res[0].p[fi][j] / nr;
                rfl += res[i].r[fi][j] / nr;
            }
            T->p_truth[fi][j] += wgt * pt;
            T->p_emu[fi][j] += wgt * pe;
            T->ratio[fi][j] += wgt * pe / pt;
            T->ratio_std[fi][j] += wgt * sqrt(fmax(rs2 - rs * rs, 0));
            T->r[fi][j] += wgt * rr;
            T->r_std[fi][j] += wgt * sqrt(fmax(r2 - rr * rr, 0));
            T->ratio_floor[fi][j] += wgt * (nr ? rf : NAN);
            T->r_floor[fi][j] += wgt * (nr ? rfl : NAN);
        }
        for (int b = 0; b < NPDF; b++) {
            T->pdf_t[fi][b] += wgt * res[0].pdf[fi][b];
            for (int i = 0; i < ns; i++) T->pdf_e[fi][b] += wgt * res[1 + nr + i].pdf[fi][b] / ns;
        }
    }
    for (int j = 0; j < v->nb && res[0].present[F_GAS] && v->pdm[j] > 0; j++) {
        double pe = 0;
        for (int i = 0; i < ns; i++) pe += res[1 + nr + i].p[F_GAS][j] / ns;
        T->supp_truth[j] += wgt * res[0].p[F_GAS][j] / v->pdm[j];
        T->supp_emu[j] += wgt * pe / v->pdm[j];
    }
}

/* A held-out box's name: its truth's file name without directory and .h5. */
static void box_name(const char *truth, char *out, size_t cap)
{
    const char *slash = strrchr(truth, '/'), *base = slash ? slash + 1 : truth;
    size_t len = strlen(base);
    if (len > 3 && strcmp(base + len - 3, ".h5") == 0) len -= 3;
    snprintf(out, cap, "%.*s", (int)(len < cap ? len : cap - 1), base);
}

/* Figures of group g: the emulator's, the floor's (repaints as samples
 * against the truth alone), and the null splits. */
static void group_figures(totals *T, const vctx *v, const fileres *res, const hb_val_group *g, double wgt)
{
    const int nr = g->n_repaints, ns = g->n_samples;
    int *idx = malloc((size_t)(1 + nr + ns) * sizeof *idx), *smp = idx + 1 + nr, *tru = idx;
    for (int i = 0; i <= nr + ns; i++) idx[i] = i;
    figures F;
    figures_of(v, res, smp, ns, tru, 1 + nr, &F);
    add_figures(&T->emu, &F, wgt);
    if (nr > 0) {
        figures_of(v, res, idx + 1, nr, idx, 1, &F);
        add_figures(&T->floor, &F, wgt);
    }
    /* the null: k = min(ns, nr - 1) repaints as pseudo-samples, the truth and
     * the rest as truths; splits drawn with Philox keyed by (box name, split),
     * so a box's splits do not depend on its place in the list */
    const int k = ns < nr - 1 ? ns : nr - 1;
    /* the spread's null: at most half the repaints (rounded up) as
     * pseudo-samples, so that neither side's scatter rests on one or two
     * files when there are more samples than repaints */
    const int ks = ns < (nr + 1) / 2 ? ns : (nr + 1) / 2;
    char name[HB_VAL_NAME];
    box_name(g->truth, name, sizeof name);
    const uint64_t key = hb_fnv1a(HB_FNV_START, name);
    int *perm = malloc((size_t)(nr + 1) * sizeof *perm), *tr = malloc((size_t)(nr + 1) * sizeof *tr);
    for (int q = 0; q < HB_VAL_NSPLIT && k >= 1; q++) {
        for (int i = 0; i < nr; i++) perm[i] = 1 + i;
        for (int i = nr - 1; i > 0; i--) {   /* Fisher-Yates */
            double u[2];
            hb_rng_uniform2(key, HB_STREAM_TEST + 1, (uint64_t)q, (uint32_t)i, u);
            int j = (int)(u[0] * (i + 1)), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        tr[0] = 0;
        for (int i = k; i < nr; i++) tr[1 + i - k] = perm[i];
        figures_of(v, res, perm, k, tr, 1 + nr - k, &F);
        if (ks != k) {
            figures Fs;
            for (int i = ks; i < nr; i++) tr[1 + i - ks] = perm[i];
            figures_of(v, res, perm, ks, tr, 1 + nr - ks, &Fs);
            memcpy(F.var_s, Fs.var_s, sizeof F.var_s);
            memcpy(F.var_t, Fs.var_t, sizeof F.var_t);
        }
        add_figures(&T->null[q], &F, wgt);
    }
    if (k >= 1) T->n_null = HB_VAL_NSPLIT;
    free(perm);
    free(tr);
    free(idx);
}

/* ---- summary, goals, report ---------------------------------------------- */

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (0..1) of n values (sorted copy; linear interpolation). */
static double quantile_of(const double *x, int n, double q)
{
    if (n < 1) return NAN;
    double *s = malloc((size_t)n * sizeof *s);
    memcpy(s, x, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_d);
    double pos = q * (n - 1), f = floor(pos);
    int i = (int)f;
    double v = i + 1 < n ? s[i] + (pos - f) * (s[i + 1] - s[i]) : s[n - 1];
    free(s);
    return v;
}

/* The null's quantile of one figure, read from each split by offset. */
static double null_quantile(const totals *T, size_t offset, double q, int relative_to, size_t offset_t)
{
    if (!T->n_null) return NAN;
    double x[HB_VAL_NSPLIT];
    for (int s = 0; s < T->n_null; s++) {
        const double *F = (const double *)&T->null[s];
        x[s] = relative_to ? fabs(F[offset] / F[offset_t] - 1) : F[offset];
    }
    return quantile_of(x, T->n_null, q);
}

#define OFF(member) (offsetof(figures, member) / sizeof(double))

/* The null's 90th percentile of |ln spread| of field fi, band b (NaN when a
 * split has no spread: fewer than 2 pseudo-samples). */
static double null_spread90(const totals *T, int fi, int b)
{
    double x[HB_VAL_NSPLIT];
    for (int q = 0; q < T->n_null; q++) {
        x[q] = fabs(log(sqrt(T->null[q].var_s[fi][b] / T->null[q].var_t[fi][b])));   /* as put_figures, bitwise */
        if (isnan(x[q])) return NAN;
    }
    return quantile_of(x, T->n_null, 0.9);
}

/* The emulator's figures of s from E (the emulator's, or a null split's
 * standing in for it). */
static void put_figures(const figures *E, hb_val_summary *s)
{
    for (int fi = 0; fi < HB_VAL_NFIELD; fi++) {
        for (int b = 0; b < HB_VAL_NBAND; b++) {
            hb_val_band *x = &s->band[fi][b];
            x->ens_err = E->ens[fi][b];
            x->single_err = E->single[fi][b];
            x->r = E->r[fi][b];
            x->spread = sqrt(E->var_s[fi][b] / E->var_t[fi][b]);
        }
        s->w1[fi] = E->w1[fi];
        s->w1_pooled[fi] = E->w1p[fi];
    }
    s->hot_truth = E->hot_t;
    s->hot_emu = E->hot_s;
    s->hot_err = fabs(s->hot_emu / s->hot_truth - 1);
    for (int a = 0; a < 4; a++) {
        const int f = a / 2, q = a % 2;
        s->pct_truth[f][q] = E->pct_t[f][q];
        s->pct_emu[f][q] = E->pct_s[f][q];
        s->pct_err[f][q] = fabs(s->pct_emu[f][q] / s->pct_truth[f][q] - 1);
    }
}

static void summarise(const totals *T, const int present[HB_VAL_NFIELD], int have_floor, hb_val_summary *s)
{
    for (int fi = 0; fi < HB_VAL_NFIELD; fi++) {
        s->present[fi] = present[fi];
        for (int b = 0; b < HB_VAL_NBAND; b++) {
            hb_val_band *x = &s->band[fi][b];
            x->floor_err = have_floor ? T->floor.single[fi][b] : NAN;
            x->floor_r = have_floor ? T->floor.r[fi][b] : NAN;
            const size_t k = (size_t)fi * HB_VAL_NBAND + b;
            x->ens_null90 = null_quantile(T, OFF(ens) + k, 0.9, 0, 0);
            x->single_null90 = null_quantile(T, OFF(single) + k, 0.9, 0, 0);
            x->r_null10 = null_quantile(T, OFF(r) + k, 0.1, 0, 0);
            x->spread_null90 = null_spread90(T, fi, b);
        }
        s->w1_floor[fi] = have_floor ? T->floor.w1[fi] : NAN;
        s->w1_null90[fi] = null_quantile(T, OFF(w1) + fi, 0.9, 0, 0);
        s->w1_pooled_null90[fi] = null_quantile(T, OFF(w1p) + fi, 0.9, 0, 0);
    }
    s->has_tails = present[F_GAS] && present[F_TEMP];
    s->hot_null90 = null_quantile(T, OFF(hot_s), 0.9, 1, OFF(hot_t));
    for (int a = 0; a < 4; a++) s->pct_null90[a / 2][a % 2] = null_quantile(T, OFF(pct_s) + a, 0.9, 1, OFF(pct_t) + a);
    put_figures(&T->emu, s);
}

/* A goal: met when the figure is within the threshold or no worse than the
 * null (a NaN figure never meets a goal). */
static void goal(hb_val_goal *g, const char *what, double fig, double thr, double null, int higher)
{
    snprintf(g->what, sizeof g->what, "%s", what);
    g->figure = fig;
    g->threshold = thr;
    g->null = null;
    g->higher_is_better = higher;
    g->measured = !isnan(thr);   /* NaN: the floor's, without repaints */
    g->met = g->measured &&
             (higher ? (fig >= thr || (!isnan(null) && fig >= null)) : (fig <= thr || (!isnan(null) && fig <= null)));
}

const char *hb_val_goal_verdict(const hb_val_goal *g)
{
    return !g->measured ? "n/a (no floor: repaint the truth)" : g->met ? "met" : "NOT MET";
}

const char *hb_val_spread_verdict(const hb_val_goal *g)
{
    return g->measured ? hb_val_goal_verdict(g) : "n/a (needs 2 samples and a repaint)";
}

int hb_val_goals_met(const hb_val_goal *g, int n, int *measured)
{
    int met = 0;
    *measured = 0;
    for (int i = 0; i < n; i++) {
        met += g[i].met;
        *measured += g[i].measured;
    }
    return met;
}

void hb_val_box_missed(const hb_val_box *x, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < HB_VAL_MAXGOAL && len < cap; i++)
        if (x->goal_met[i] == 0) len += (size_t)snprintf(buf + len, cap - len, "%s%d", len ? "," : "", i + 1);
    if (!len) snprintf(buf, cap, "-");
}

void hb_val_box_totals(const hb_val_summary *s, hb_val_box *sum)
{
    memset(sum, 0, sizeof *sum);
    for (int b = 0; b < s->n_boxes; b++) {
        const hb_val_box *x = &s->box[b];
        sum->met += x->met;
        sum->n_goals += x->n_goals;
        sum->null_expected += x->null_expected;
        sum->spread_met += x->spread_met;
        sum->n_spread += x->n_spread;
        sum->spread_null_expected += x->spread_null_expected;
    }
}

int hb_val_goals(const hb_val_summary *s, hb_val_goal *g, int cap)
{
    int n = 0;
    char what[96];
    for (int b = 0; b < 2 && s->present[F_GAS]; b++) {
        const hb_val_band *x = &s->band[F_GAS][b];
        snprintf(what, sizeof what, "gas density %s: ensemble-mean P(k) error <= 5%%", HB_VAL_BAND_NAMES[b]);
        if (n < cap) goal(&g[n++], what, x->ens_err, 0.05, x->ens_null90, 0);
        snprintf(what, sizeof what, "gas density %s: single-sample error <= 1.3 x floor", HB_VAL_BAND_NAMES[b]);
        if (n < cap) goal(&g[n++], what, x->single_err, 1.3 * x->floor_err, x->single_null90, 0);
        snprintf(what, sizeof what, "gas density %s: r(k) >= floor r - 0.02", HB_VAL_BAND_NAMES[b]);
        if (n < cap) goal(&g[n++], what, x->r, x->floor_r - 0.02, x->r_null10, 1);
    }
    for (int b = 0; b < 2 && s->present[F_TEMP]; b++) {
        const hb_val_band *x = &s->band[F_TEMP][b];
        snprintf(what, sizeof what, "gas temperature %s: ensemble-mean P(k) error <= 10%%", HB_VAL_BAND_NAMES[b]);
        if (n < cap) goal(&g[n++], what, x->ens_err, 0.10, x->ens_null90, 0);
    }
    if (s->has_tails && n < cap) goal(&g[n++], "gas mass fraction above 1e6 K within 10%", s->hot_err, 0.10, s->hot_null90, 0);
    for (int f = 0; f < 2; f++) {
        snprintf(what, sizeof what, "%s PDF distance <= %g dex", f ? "gas temperature" : "gas density",
                 HB_VAL_PDF_GOAL_DEX);
        if (s->present[f] && n < cap) goal(&g[n++], what, s->w1[f], HB_VAL_PDF_GOAL_DEX, s->w1_null90[f], 0);
    }
    return n;
}

int hb_val_spread_checks(const hb_val_summary *s, hb_val_goal *g, double *spread, int cap)
{
    int n = 0;
    char what[96];
    for (int f = 0; f < 2; f++)
        for (int b = 0; b < 2 && s->present[f] && n < cap; b++, n++) {
            const hb_val_band *x = &s->band[f][b];
            const double fig = fabs(log(x->spread));
            snprintf(what, sizeof what, "%s %s: samples' scatter of ln P(k) within %.0f%% of the truths'",
                     f ? "gas temperature" : "gas density", HB_VAL_BAND_NAMES[b], 100 * HB_VAL_SPREAD_TOL);
            goal(&g[n], what, fig, isnan(fig) ? NAN : HB_VAL_SPREAD_TOL, x->spread_null90, 0);
            if (spread) spread[n] = x->spread;
        }
    return n;
}

/* Each null split scored against the goals as if it were the emulator (the
 * floor and the null of s kept). */
static void null_goal_rates(const totals *T, hb_val_summary *s)
{
    s->null_splits = T->n_null;
    s->null_all_met = 0;
    int met[HB_VAL_MAXGOAL] = {0}, smet[HB_VAL_NSPREAD] = {0};
    for (int q = 0; q < T->n_null; q++) {
        hb_val_summary sq = *s;
        put_figures(&T->null[q], &sq);
        hb_val_goal g[HB_VAL_MAXGOAL];
        int ng = hb_val_goals(&sq, g, HB_VAL_MAXGOAL), all = 1;
        for (int i = 0; i < ng; i++) {
            met[i] += g[i].met;
            all &= g[i].met;
        }
        s->null_all_met += all;
        ng = hb_val_spread_checks(&sq, g, NULL, HB_VAL_NSPREAD);
        for (int i = 0; i < ng; i++) smet[i] += g[i].met;
    }
    for (int i = 0; i < HB_VAL_MAXGOAL; i++) s->null_goal_rate[i] = T->n_null ? (double)met[i] / T->n_null : NAN;
    for (int i = 0; i < HB_VAL_NSPREAD; i++) s->null_spread_rate[i] = T->n_null ? (double)smet[i] / T->n_null : NAN;
}

/* report.txt: one line per field and band, a tails line per field, the goals. */
static hb_status write_text(const char *out, const hb_val_summary *s)
{
    char path[2048], tmp[2100];
    snprintf(path, sizeof path, "%s.txt", out);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *t = fopen(tmp, "w");
    if (!t) return HB_ERR(HB_EIO, "cannot write %s", tmp);
    fprintf(t, "# hydrobridge validation: %d held-out boxes, %d emulated samples, %d truth repaints (the floor); "
            "k_Nyquist = %.3f h/Mpc\n", s->n_groups, s->n_samples, s->n_repaints, s->k_nyq);
    fprintf(t, "# null: repaints standing in for the samples over %d random splits; 90th percentile (10th for r)\n",
            HB_VAL_NSPLIT);
    fprintf(t, "# field            band        ens_err  single_err  floor_err       r   floor_r  w1_dex   "
            "ens_null90 single_null90 r_null10 w1_null90\n");
    for (int f = 0; f < HB_VAL_NFIELD; f++) {
        if (!s->present[f]) continue;
        for (int b = 0; b < HB_VAL_NBAND; b++) {
            const hb_val_band *x = &s->band[f][b];
            fprintf(t, "%-16s %-11s %8.4f %10.4f %10.4f %8.4f %8.4f %8.4f %10.4f %12.4f %9.4f %9.4f\n",
                    HB_VAL_FIELD_NAMES[f], HB_VAL_BAND_NAMES[b], x->ens_err, x->single_err, x->floor_err, x->r,
                    x->floor_r, s->w1[f], x->ens_null90, x->single_null90, x->r_null10, s->w1_null90[f]);
        }
    }
    fprintf(t, "# PDF distance [dex] against the pooled truths (the held-out truth and its repaints: most of the "
            "held-out truth's own draw averaged out; not a goal): emulated, null90\n");
    for (int f = 0; f < HB_VAL_NFIELD; f++)
        if (s->present[f])
            fprintf(t, "%-16s w1_pooled %8.4f %8.4f\n", HB_VAL_FIELD_NAMES[f], s->w1_pooled[f], s->w1_pooled_null90[f]);
    if (s->has_tails) {
        fprintf(t, "# tails: truth, emulated, |emulated/truth - 1| and its null90\n");
        fprintf(t, "%-16s hot_fraction(>1e6K) %.4g %.4g %.4f %.4f\n", "gas", s->hot_truth, s->hot_emu, s->hot_err,
                s->hot_null90);
        for (int f = 0; f < 2; f++)
            for (int q = 0; q < 2; q++)
                fprintf(t, "%-16s %s %.5g %.5g %.4f %.4f\n", HB_VAL_FIELD_NAMES[f], q ? "p99.9" : "p99  ",
                        s->pct_truth[f][q], s->pct_emu[f][q], s->pct_err[f][q], s->pct_null90[f][q]);
    }
    hb_val_goal g[HB_VAL_MAXGOAL];
    int nm;
    const int ng = hb_val_goals(s, g, HB_VAL_MAXGOAL), met = hb_val_goals_met(g, ng, &nm);
    fprintf(t, "# goals (met: within the threshold, or no worse than the null; null_rate: the fraction of null "
            "splits, repaints standing in for the samples, that meet it; n/a: the threshold is the floor's, "
            "which needs repaints of the truth)\n");
    for (int i = 0; i < ng; i++) {
        fprintf(t, "goal %-58s %8.4f %s %8.4f  null %8.4f  null_rate %5.3f  %s\n", g[i].what, g[i].figure,
                g[i].higher_is_better ? ">=" : "<=", g[i].threshold, g[i].null, s->null_goal_rate[i],
                hb_val_goal_verdict(&g[i]));
    }
    fprintf(t, "# goals met: %d of %d measured (%d without a floor); a perfect emulator (the null) meets all %d in %d "
            "of %d splits\n", met, nm, ng - nm, nm, s->null_all_met, s->null_splits);
    double spread[HB_VAL_NSPREAD];
    const int nc = hb_val_spread_checks(s, g, spread, HB_VAL_NSPREAD), cmet = hb_val_goals_met(g, nc, &nm);
    fprintf(t, "# spread checks, not goals (the goals score bias and typical error; samples too alike could meet more "
            "of them): the samples' scatter of ln P(k) over the truths' (spread), |ln spread| <= %.2f or no worse than "
            "the null's 90th percentile\n", HB_VAL_SPREAD_TOL);
    for (int i = 0; i < nc; i++)
        fprintf(t, "spread %-70s %8.4f  |ln| %8.4f <= %6.4f  null %8.4f  null_rate %5.3f  %s\n", g[i].what, spread[i],
                g[i].figure, g[i].threshold, g[i].null, s->null_spread_rate[i],
                hb_val_spread_verdict(&g[i]));
    fprintf(t, "# spread checks met: %d of %d measured\n", cmet, nm);
    fprintf(t, "# per held-out box, its goals alone (as a report of that box would score them): met, of, the null's "
            "expected count (the sum of its goal rates), how often the null meets all, its spread checks met, of, "
            "the null's expected count, the goals it misses (their places in the goal list above, 1 the first; - "
            "none)\n");
    for (int b = 0; b < s->n_boxes; b++) {
        const hb_val_box *x = &s->box[b];
        char missed[HB_VAL_MISSED_LEN];
        hb_val_box_missed(x, missed, sizeof missed);
        fprintf(t, "box %-24s %3d of %3d  null_expected %6.2f  null_all %5.3f  spread %d of %d null %4.2f  missed %s\n",
                x->name, x->met, x->n_goals, x->null_expected, x->null_all_rate, x->spread_met, x->n_spread,
                x->spread_null_expected, missed);
    }
    hb_val_box sum;
    hb_val_box_totals(s, &sum);
    fprintf(t, "# boxes: %d of %d goals met, box by box; a perfect emulator expects %.1f\n", sum.met, sum.n_goals,
            sum.null_expected);
    fprintf(t, "# spread checks box by box: %d of %d met; a perfect emulator expects %.1f\n", sum.spread_met,
            sum.n_spread, sum.spread_null_expected);
    int bad = ferror(t) | (fclose(t) != 0);
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return HB_ERR(HB_EIO, "cannot write %s", path);
    }
    return HB_OK;
}

/* report.h5: the summary as arrays and every curve (group averages). */
/* /per_box: each held-out box's goals alone (ng goals per box). */
static hb_status write_per_box(hb_h5 *f, const hb_val_summary *s, int ng)
{
    const int nb = s->n_boxes;
    double *bcol = malloc(7 * (size_t)(nb + 1) * sizeof *bcol);
    double *gm = malloc(((size_t)nb * ng + 1) * sizeof *gm), *sp = malloc(((size_t)nb * HB_VAL_NSPREAD + 1) * sizeof *sp);
    char *names = malloc((size_t)(nb + 1) * sizeof s->box[0].name);
    hb_status rc = !bcol || !gm || !sp || !names ? HB_ERR(HB_ENOMEM, "per-box goals") : HB_OK;
    if (rc == HB_OK) {
        names[0] = 0;
        for (int b = 0; b < nb; b++) {
            bcol[b] = s->box[b].met;
            bcol[nb + b] = s->box[b].n_goals;
            bcol[2 * nb + b] = s->box[b].null_expected;
            bcol[3 * nb + b] = s->box[b].null_all_rate;
            bcol[4 * nb + b] = s->box[b].spread_met;
            bcol[5 * nb + b] = s->box[b].n_spread;
            bcol[6 * nb + b] = s->box[b].spread_null_expected;
            strcat(strcat(names, b ? " " : ""), s->box[b].name);
            for (int i = 0; i < ng; i++) gm[(size_t)b * ng + i] = s->box[b].goal_met[i] < 0 ? NAN : s->box[b].goal_met[i];
            memcpy(sp + (size_t)b * HB_VAL_NSPREAD, s->box[b].spread, sizeof s->box[b].spread);
        }
    }
    const char *bname[7] = {"met", "n_goals", "null_expected", "null_all_rate", "spread_met", "n_spread",
                            "spread_null_expected"};
    for (int c = 0; c < 7 && rc == HB_OK; c++) {
        char path[64];
        snprintf(path, sizeof path, "/per_box/%s", bname[c]);
        rc = hb_h5_write_array(f, path, bcol + (size_t)c * nb, nb);
    }
    if (rc == HB_OK) rc = hb_h5_attr_write_string(f, "/per_box/met", "boxes", names);
    if (rc == HB_OK && ng > 0) rc = hb_h5_write_array(f, "/per_box/goal_met", gm, (long)nb * ng);
    if (rc == HB_OK && ng > 0) rc = hb_h5_attr_write_long(f, "/per_box/goal_met", "goals_per_box", ng);
    if (rc == HB_OK) rc = hb_h5_write_array(f, "/per_box/spread", sp, (long)nb * HB_VAL_NSPREAD);
    if (rc == HB_OK) rc = hb_h5_attr_write_string(f, "/per_box/spread", "columns", "each box's spread of its spread "
                                                  "checks in their order (box-major; NaN: not measured)");
    free(bcol);
    free(gm);
    free(sp);
    free(names);
    return rc;
}

/* /NAME/{figure,threshold,null,met,null_rate}: goals (or checks) g[0, n). */
static hb_status write_goals(hb_h5 *f, const char *name, const hb_val_goal *g, int n, const double *null_rate)
{
    double col[5][HB_VAL_MAXGOAL];
    for (int i = 0; i < n; i++) {
        col[0][i] = g[i].figure;
        col[1][i] = g[i].threshold;
        col[2][i] = g[i].null;
        col[3][i] = g[i].measured ? g[i].met : NAN;   /* NaN: not measured */
        col[4][i] = null_rate[i];
    }
    const char *cname[5] = {"figure", "threshold", "null", "met", "null_rate"};
    hb_status rc = HB_OK;
    for (int c = 0; c < 5 && rc == HB_OK && n > 0; c++) {
        char path[64];
        snprintf(path, sizeof path, "/%s/%s", name, cname[c]);
        rc = hb_h5_write_array(f, path, col[c], n);
    }
    return rc;
}

static hb_status write_h5(const char *out, const totals *T, const vctx *v, const hb_val_summary *s)
{
    char path[2048];
    snprintf(path, sizeof path, "%s.h5", out);
    hb_h5 f;
    HB_TRY(hb_h5_create(&f, path, MPI_COMM_SELF));
    hb_status rc = hb_h5_attr_write_long(&f, "/", "n_groups", s->n_groups);
    if (rc == HB_OK) rc = hb_h5_attr_write_double(&f, "/", "k_nyquist", s->k_nyq);
    if (rc == HB_OK) rc = hb_h5_write_array(&f, "/k", v->k, v->nb);
    double bins[NPDF];
    for (int fi = 0; fi < HB_VAL_NFIELD && rc == HB_OK; fi++) {
        if (!s->present[fi]) continue;
        const double w = (PDF_HI[fi] - PDF_LO[fi]) / NPDF;
        for (int b = 0; b < NPDF; b++) bins[b] = PDF_LO[fi] + (b + 0.5) * w;
        double summ[HB_VAL_NBAND][8], spr[HB_VAL_NBAND][2];
        for (int b = 0; b < HB_VAL_NBAND; b++) {
            const hb_val_band *x = &s->band[fi][b];
            double row[8] = {x->ens_err, x->single_err, x->floor_err, x->r, x->floor_r, s->w1[fi], x->ens_null90,
                             x->single_null90};
            memcpy(summ[b], row, sizeof row);
            spr[b][0] = x->spread;
            spr[b][1] = x->spread_null90;
        }
        struct { const char *n; const double *d; long len; } sets[] = {
            {"k", v->k, v->nb}, {"p_truth", T->p_truth[fi], v->nb}, {"p_emulated", T->p_emu[fi], v->nb},
            {"ratio_mean", T->ratio[fi], v->nb}, {"ratio_std", T->ratio_std[fi], v->nb},
            {"ratio_floor", T->ratio_floor[fi], v->nb}, {"r_mean", T->r[fi], v->nb}, {"r_std", T->r_std[fi], v->nb},
            {"r_floor", T->r_floor[fi], v->nb}, {"pdf_log10_bins", bins, NPDF}, {"pdf_truth", T->pdf_t[fi], NPDF},
            {"pdf_emulated", T->pdf_e[fi], NPDF},
            {"summary_by_band", &summ[0][0], HB_VAL_NBAND * 8}, {"spread_by_band", &spr[0][0], HB_VAL_NBAND * 2}};
        for (size_t k = 0; k < sizeof sets / sizeof sets[0] && rc == HB_OK; k++) {
            snprintf(path, sizeof path, "/%s/%s", HB_VAL_FIELD_NAMES[fi], sets[k].n);
            rc = hb_h5_write_array(&f, path, sets[k].d, sets[k].len);
        }
        if (rc == HB_OK) {
            const double wp[2] = {s->w1_pooled[fi], s->w1_pooled_null90[fi]};
            snprintf(path, sizeof path, "/%s/w1_pooled", HB_VAL_FIELD_NAMES[fi]);
            rc = hb_h5_write_array(&f, path, wp, 2);
            if (rc == HB_OK) rc = hb_h5_attr_write_string(&f, path, "columns", "emulated null90 (W1 [dex] against "
                                                          "the pooled PDF of the truth and its repaints)");
        }
        if (rc == HB_OK) {
            snprintf(path, sizeof path, "/%s/summary_by_band", HB_VAL_FIELD_NAMES[fi]);
            rc = hb_h5_attr_write_string(&f, path, "columns", "ens_err single_err floor_err r floor_r w1_dex "
                                         "ens_null90 single_null90 (rows: the three bands)");
            snprintf(path, sizeof path, "/%s/spread_by_band", HB_VAL_FIELD_NAMES[fi]);
            if (rc == HB_OK) rc = hb_h5_attr_write_string(&f, path, "columns", "spread (the samples' scatter of ln "
                                                          "P(k) over the truths') null90 of |ln spread| (rows: the "
                                                          "three bands)");
        }
    }
    if (rc == HB_OK && s->present[F_GAS]) rc = hb_h5_write_array(&f, "/suppression/truth", T->supp_truth, v->nb);
    if (rc == HB_OK && s->present[F_GAS]) rc = hb_h5_write_array(&f, "/suppression/emulated", T->supp_emu, v->nb);
    if (rc == HB_OK && s->has_tails) {
        double tl[4 + 8] = {s->hot_truth, s->hot_emu, s->hot_err, s->hot_null90};
        for (int a = 0; a < 4; a++) {
            tl[4 + 2 * a] = s->pct_truth[a / 2][a % 2];
            tl[5 + 2 * a] = s->pct_emu[a / 2][a % 2];
        }
        rc = hb_h5_write_array(&f, "/tails", tl, 12);
        if (rc == HB_OK) rc = hb_h5_attr_write_string(&f, "/tails", "columns", "hot_truth hot_emu hot_err hot_null90 "
                                                      "then truth, emulated of gas p99, p99.9, temperature p99, p99.9");
    }
    hb_val_goal g[HB_VAL_MAXGOAL];
    const int ng = hb_val_goals(s, g, HB_VAL_MAXGOAL);
    if (rc == HB_OK) rc = write_goals(&f, "goals", g, ng, s->null_goal_rate);
    const int nc = hb_val_spread_checks(s, g, NULL, HB_VAL_NSPREAD);
    if (rc == HB_OK) rc = write_goals(&f, "spread_checks", g, nc, s->null_spread_rate);
    if (rc == HB_OK && ng > 0) rc = hb_h5_attr_write_long(&f, "/goals/null_rate", "null_splits", s->null_splits);
    if (rc == HB_OK && ng > 0) rc = hb_h5_attr_write_long(&f, "/goals/null_rate", "null_all_met", s->null_all_met);
    if (rc == HB_OK) rc = write_per_box(&f, s, ng);
    if (rc == HB_OK) return hb_h5_commit(&f);
    hb_h5_abort(&f);
    return rc;
}

static hb_status totals_init(totals *T, int nb)
{
    memset(T, 0, sizeof *T);
    T->null = calloc(HB_VAL_NSPLIT, sizeof *T->null);
    int bad = !T->null;
    double **curves[] = {T->p_truth, T->p_emu, T->ratio, T->ratio_std, T->ratio_floor, T->r, T->r_std, T->r_floor};
    for (size_t c = 0; c < sizeof curves / sizeof curves[0]; c++)
        for (int f = 0; f < HB_VAL_NFIELD; f++) bad |= !(curves[c][f] = calloc((size_t)nb, sizeof(double)));
    bad |= !(T->supp_truth = calloc((size_t)nb, sizeof(double))) | !(T->supp_emu = calloc((size_t)nb, sizeof(double)));
    return bad ? HB_ERR(HB_ENOMEM, "validation curves") : HB_OK;
}

static void totals_free(totals *T)
{
    double **curves[] = {T->p_truth, T->p_emu, T->ratio, T->ratio_std, T->ratio_floor, T->r, T->r_std, T->r_floor};
    for (size_t c = 0; c < sizeof curves / sizeof curves[0]; c++)
        for (int f = 0; f < HB_VAL_NFIELD; f++) free(curves[c][f]);
    free(T->supp_truth);
    free(T->supp_emu);
    free(T->null);
}

/* Group g's figures (weight 1) into Tg, whose null array the caller frees. */
static hb_status box_figures(const vctx *v, const fileres *res, const hb_val_group *g, totals *Tg)
{
    memset(Tg, 0, sizeof *Tg);
    Tg->null = calloc(HB_VAL_NSPLIT, sizeof *Tg->null);
    if (!Tg->null) return HB_ERR(HB_ENOMEM, "null splits of %s", g->truth);
    group_figures(Tg, v, res, g, 1.0);
    return HB_OK;
}

/* A group's figures into the pooled totals with weight wgt. */
static void fold_figures(totals *T, const totals *Tg, double wgt)
{
    add_figures(&T->emu, &Tg->emu, wgt);
    add_figures(&T->floor, &Tg->floor, wgt);
    for (int q = 0; q < HB_VAL_NSPLIT; q++) add_figures(&T->null[q], &Tg->null[q], wgt);
    if (Tg->n_null) T->n_null = Tg->n_null;
}

/* A box's goals on that box alone, from its figures Tg (the same null
 * splits as in the pooled null), scored like a one-box report. */
static hb_status box_goals(const totals *Tg, const hb_val_group *g, const int present[HB_VAL_NFIELD], hb_val_box *box)
{
    hb_val_summary *sb = calloc(1, sizeof *sb);
    if (!sb) return HB_ERR(HB_ENOMEM, "per-box goals");
    totals T1 = *Tg;
    if (g->n_repaints < 2) T1.n_null = 0;
    summarise(&T1, present, g->n_repaints >= 1, sb);
    null_goal_rates(&T1, sb);
    hb_val_goal gl[HB_VAL_MAXGOAL];
    const int ng = hb_val_goals(sb, gl, HB_VAL_MAXGOAL);
    box->met = hb_val_goals_met(gl, ng, &box->n_goals);
    for (int i = 0; i < HB_VAL_MAXGOAL; i++) box->goal_met[i] = (signed char)(i >= ng ? -1 : gl[i].measured ? gl[i].met : -1);
    box->null_expected = 0;
    for (int i = 0; i < ng; i++)
        if (gl[i].measured) box->null_expected += sb->null_goal_rate[i];
    box->null_all_rate = sb->null_splits ? (double)sb->null_all_met / sb->null_splits : NAN;
    for (int i = 0; i < HB_VAL_NSPREAD; i++) box->spread[i] = NAN;
    const int nc = hb_val_spread_checks(sb, gl, box->spread, HB_VAL_NSPREAD);
    box->spread_met = hb_val_goals_met(gl, nc, &box->n_spread);
    box->spread_null_expected = 0;
    for (int i = 0; i < nc; i++)
        if (gl[i].measured) box->spread_null_expected += sb->null_spread_rate[i];
    box_name(g->truth, box->name, sizeof box->name);
    free(sb);
    return HB_OK;
}

static hb_status check_groups(const hb_val_group *g, int ng, int *min_rep)
{
    if (ng < 1) return HB_ERR0(HB_EARG, "no held-out box to validate");
    *min_rep = 1 << 30;
    for (int i = 0; i < ng; i++) {
        if (g[i].n_samples < 1) return HB_ERR0(HB_EARG, "%s has no emulated sample to validate", g[i].truth);
        if (g[i].n_repaints < *min_rep) *min_rep = g[i].n_repaints;
    }
    return HB_OK;
}

hb_status hb_validate(const hb_val_group *g, int ng, const char *out, hb_val_summary *s, MPI_Comm comm)
{
    memset(s, 0, sizeof *s);
    int min_rep = 0;
    HB_TRY(check_groups(g, ng, &min_rep));
    vctx v;
    memset(&v, 0, sizeof v);
    v.comm = comm;
    totals T;
    memset(&T, 0, sizeof T);
    hb_status rc = HB_OK;
    int present[HB_VAL_NFIELD] = {0};
    for (int gi = 0; gi < ng && rc == HB_OK; gi++) {
        const int nf = 1 + g[gi].n_repaints + g[gi].n_samples;
        fileres *res = calloc((size_t)nf, sizeof *res);
        if (!res) { rc = HB_ERR(HB_ENOMEM, "validation of %d files", nf); break; }
        rc = measure_group(&v, &g[gi], res);
        if (rc == HB_OK && gi == 0) {
            rc = totals_init(&T, v.nb);
            memcpy(present, res[0].present, sizeof present);
        }
        for (int f = 0; f < HB_VAL_NFIELD && rc == HB_OK; f++) {
            if (res[0].present[f] != present[f]) rc = HB_ERR0(HB_EIO, "%s %s %s, unlike the first truth", g[gi].truth,
                                                               present[f] ? "lacks" : "has", HB_VAL_FIELD_NAMES[f]);
        }
        if (rc == HB_OK) {
            totals Tg;   /* the group's figures: pooled with weight 1/ng, and scored alone */
            rc = box_figures(&v, res, &g[gi], &Tg);
            if (rc == HB_OK) {
                fold_figures(&T, &Tg, 1.0 / ng);
                add_curves(&T, &v, res, g[gi].n_repaints, g[gi].n_samples, 1.0 / ng);
                if (gi < HB_VAL_MAXBOX) rc = box_goals(&Tg, &g[gi], present, &s->box[s->n_boxes++]);
            }
            free(Tg.null);
            s->n_samples += g[gi].n_samples;
            s->n_repaints += g[gi].n_repaints;
        }
        for (int i = 0; i < nf; i++) fileres_free(&res[i]);
        free(res);
    }
    if (rc == HB_OK) {
        if (min_rep < 2) T.n_null = 0;   /* a null needs every box to have two repaints */
        s->n_groups = ng;
        s->k_nyq = M_PI * v.N / v.L;
        summarise(&T, present, min_rep >= 1, s);
        null_goal_rates(&T, s);
        int rank;
        rc = hb_mpi(MPI_Comm_rank(comm, &rank));
        hb_status wr = HB_OK;
        if (rc == HB_OK && rank == 0 && out) wr = write_text(out, s);
        if (rc == HB_OK && rank == 0 && out && wr == HB_OK) wr = write_h5(out, &T, &v, s);
        if (rc == HB_OK) rc = hb_mpi_agree(comm, wr);
    }
    totals_free(&T);
    vctx_free(&v);
    return rc;
}
