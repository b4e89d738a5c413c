/* Validation reports (hb/validate.h). */
#include "hb/validate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hb/box.h"
#include "hb/mesh.h"
#include "hb/mpiutil.h"
#include "hb/pk.h"

const char *const HB_VAL_FIELD_NAMES[HB_VAL_NFIELD] = {"gas_density", "gas_temperature", "total_matter"};

#define NPDF 200
static const double PDF_LO[HB_VAL_NFIELD] = {-4, 2, -4}, PDF_HI[HB_VAL_NFIELD] = {4, 9, 4};   /* log10 ranges */

typedef struct curves {
    int     nb;
    double *k, *pt, *pe, *ratio, *r, *st, *se;   /* [pair][bin], flattened */
    double  pdf_t[NPDF], pdf_e[NPDF];            /* summed over pairs */
    double *w1;                                  /* [pair] */
    int     present, has_supp;
} curves;

static int mas_of(hb_h5 *f, const char *path)
{
    char s[32] = "none";
    if (hb_h5_attr_exists(f, path, "mass_assignment")) hb_h5_attr_read_string(f, path, "mass_assignment", s, sizeof s);
    int m = hb_mas_from_name(s);
    return m < 0 ? 0 : m;
}

/* Field `which` of file f into buf (mesh layout); the total matter is built
 * from dm and gas. Returns HB_EARG quietly when the file lacks it. */
static hb_status load_field(hb_h5 *f, const hb_mesh *m, int which, float *buf, float *tmp, int *mas)
{
    const char *path = which == 0 ? HB_FIELD_GAS : HB_FIELD_TEMP;
    if (which < 2) {
        if (!hb_h5_exists(f, path)) return hb_err_quiet(HB_EARG);
        *mas = mas_of(f, path);
        return hb_h5_read_mesh_field(f, path, m, buf);
    }
    if (!hb_h5_exists(f, HB_FIELD_DM) || !hb_h5_exists(f, HB_FIELD_GAS)) return hb_err_quiet(HB_EARG);
    hb_boxinfo bi;
    HB_TRY(hb_box_read_info(f, &bi));
    HB_TRY(hb_h5_read_mesh_field(f, HB_FIELD_DM, m, buf));
    HB_TRY(hb_h5_read_mesh_field(f, HB_FIELD_GAS, m, tmp));
    const float fb = (float)(bi.omega_b / bi.theta[HB_OMEGA_M]);
    for (ptrdiff_t i = 0; i < 2 * m->alloc_local; i++) buf[i] = (1 - fb) * buf[i] + fb * tmp[i];
    *mas = HB_MAS_CIC;
    return HB_OK;
}

static hb_status histogram(const hb_mesh *m, const float *a, int field, double *h)
{
    double lo = PDF_LO[field], w = (PDF_HI[field] - lo) / NPDF;
    double loc[NPDF] = {0};
    for (ptrdiff_t i = 0; i < m->nx_local; i++)
        for (int j = 0; j < m->N; j++)
            for (int k = 0; k < m->N; k++) {
                double v = a[hb_mesh_ridx(m, i, j, k)];
                int b = v > 0 ? (int)floor((log10(v) - lo) / w) : 0;
                loc[b < 0 ? 0 : b >= NPDF ? NPDF - 1 : b] += 1;
            }
    HB_TRY(hb_mpi(MPI_Allreduce(loc, h, NPDF, MPI_DOUBLE, MPI_SUM, m->comm)));
    double n = pow((double)m->N, 3);
    for (int b = 0; b < NPDF; b++) h[b] /= n * w;   /* a density per dex */
    return HB_OK;
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

static hb_status spectrum_of(const hb_mesh *m, float *a, int mas, double *out, int nb)
{
    hb_pk pk;
    HB_TRY(hb_pk_to_delta(m, a, NULL));
    HB_TRY(hb_pk_compute(&pk, m, a, NULL, mas, mas));
    for (int j = 0; j < nb && j < pk.nbins; j++) out[j] = pk.p11[j];
    hb_pk_free(&pk);
    return HB_OK;
}

static void band_of(double k, double knyq, int *band)
{
    *band = k < knyq / 4 ? 0 : k < knyq / 2 ? 1 : k <= knyq ? 2 : -1;
}

static hb_status write_report(const char *out, curves *cv, int np, char **truth, int nt, char **emu, int ne,
                              const hb_val_summary *sum)
{
    char path[2048];
    snprintf(path, sizeof path, "%s.h5", out);
    hb_h5 f;
    HB_TRY(hb_h5_create(&f, path, MPI_COMM_SELF));
    hb_status rc = hb_h5_attr_write_long(&f, "/", "n_pairs", np);
    if (rc == HB_OK) rc = hb_h5_attr_write_double(&f, "/", "k_nyquist", sum->k_nyq);
    for (int i = 0; i < np && rc == HB_OK; i++) {
        char g[64];
        snprintf(g, sizeof g, "/pairs/%03d", i);
        double dummy = i;
        snprintf(path, sizeof path, "%s/index", g);
        rc = hb_h5_write_array(&f, path, &dummy, 1);
        if (rc == HB_OK) rc = hb_h5_attr_write_string(&f, g, "truth", truth[i % nt]);
        if (rc == HB_OK) rc = hb_h5_attr_write_string(&f, g, "emulated", emu[i]);
    }
    (void)ne;
    for (int fi = 0; fi < HB_VAL_NFIELD && rc == HB_OK; fi++) {
        curves *c = &cv[fi];
        if (!c->present) continue;
        const int nb = c->nb;
        double *mean = calloc((size_t)nb * 8, sizeof *mean);
        double *pt = mean, *pe = mean + nb, *rm = mean + 2 * nb, *rs = mean + 3 * nb, *cm = mean + 4 * nb,
               *cs = mean + 5 * nb, *stm = mean + 6 * nb, *sem = mean + 7 * nb;
        for (int j = 0; j < nb; j++) {
            for (int i = 0; i < np; i++) {
                pt[j] += c->pt[i * nb + j] / np;
                pe[j] += c->pe[i * nb + j] / np;
                rm[j] += c->ratio[i * nb + j] / np;
                cm[j] += c->r[i * nb + j] / np;
                if (c->has_supp) { stm[j] += c->st[i * nb + j] / np; sem[j] += c->se[i * nb + j] / np; }
            }
            for (int i = 0; i < np && np > 1; i++) {
                rs[j] += pow(c->ratio[i * nb + j] - rm[j], 2) / (np - 1);
                cs[j] += pow(c->r[i * nb + j] - cm[j], 2) / (np - 1);
            }
            rs[j] = sqrt(rs[j]);
            cs[j] = sqrt(cs[j]);
        }
        double bins[NPDF], w = (PDF_HI[fi] - PDF_LO[fi]) / NPDF, pdft[NPDF], pdfe[NPDF];
        for (int b = 0; b < NPDF; b++) {
            bins[b] = PDF_LO[fi] + (b + 0.5) * w;
            pdft[b] = c->pdf_t[b] / np;
            pdfe[b] = c->pdf_e[b] / np;
        }
        struct { const char *n; const double *d; long len; } sets[] = {
            {"k", c->k, nb}, {"p_truth", pt, nb}, {"p_emulated", pe, nb}, {"ratio_mean", rm, nb},
            {"ratio_std", rs, nb}, {"r_mean", cm, nb}, {"r_std", cs, nb}, {"pdf_log10_bins", bins, NPDF},
            {"pdf_truth", pdft, NPDF}, {"pdf_emulated", pdfe, NPDF}, {"pdf_w1_dex", c->w1, np},
            {"ratio_all", c->ratio, (long)np * nb}, {"r_all", c->r, (long)np * nb},
            {"suppression_truth", stm, c->has_supp ? nb : 0}, {"suppression_emulated", sem, c->has_supp ? nb : 0}};
        for (size_t s = 0; s < sizeof sets / sizeof sets[0] && rc == HB_OK; s++) {
            if (sets[s].len == 0) continue;
            snprintf(path, sizeof path, "/%s/%s", HB_VAL_FIELD_NAMES[fi], sets[s].n);
            rc = hb_h5_write_array(&f, path, sets[s].d, sets[s].len);
        }
        free(mean);
    }
    if (rc == HB_OK) rc = hb_h5_commit(&f);
    else hb_h5_abort(&f);
    HB_TRY(rc);
    /* the text summary */
    snprintf(path, sizeof path, "%s.txt", out);
    char tmp[2100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *t = fopen(tmp, "w");
    if (!t) return HB_ERR(HB_EIO, "cannot write %s", tmp);
    fprintf(t, "# hydrobridge validation: %d pairs, k_Nyquist = %.3f h/Mpc\n", np, sum->k_nyq);
    fprintf(t, "# field             band [h/Mpc]      mean|P_emu/P_truth-1|  mean r(k)   PDF W1 [dex]\n");
    const char *bands[HB_VAL_NBAND] = {"kF..kN/4", "kN/4..kN/2", "kN/2..kN"};
    for (int fi = 0; fi < HB_VAL_NFIELD; fi++) {
        if (!sum->present[fi]) continue;
        for (int b = 0; b < HB_VAL_NBAND; b++) {
            fprintf(t, "%-18s  %-16s  %12.4f           %8.4f    %8.4f\n", HB_VAL_FIELD_NAMES[fi], bands[b],
                    sum->ratio_dev[fi][b], sum->r[fi][b], sum->pdf_w1[fi]);
        }
    }
    int bad = ferror(t) | (fclose(t) != 0);
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return HB_ERR(HB_EIO, "cannot write %s", path);
    }
    return HB_OK;
}

/* The validation state shared by the pairs. */
typedef struct vstate {
    hb_mesh m;
    float *a, *b, *ta, *tb, *dmt, *dme;   /* truth / emulated field and scratch; DM of both */
    int ne;
    curves cv[HB_VAL_NFIELD];
} vstate;

/* Field fi of pair i: spectra, ratio, r(k), PDFs; pdm_t/pdm_e: the DM
 * spectra (NULL without DM, then no suppression). */
static hb_status pair_field(vstate *v, hb_h5 *ft, hb_h5 *fe, int i, int fi, const double *pdm_t, const double *pdm_e)
{
    const hb_mesh *m = &v->m;
    int mt = 0, me = 0;
    hb_status lt = load_field(ft, m, fi, v->a, v->ta, &mt);
    hb_status le = load_field(fe, m, fi, v->b, v->tb, &me);
    curves *c = &v->cv[fi];
    if (lt != HB_OK || le != HB_OK) {
        if (i > 0 && c->present) return HB_ERR0(HB_EIO, "pair %d lacks %s, which the first pair has", i, HB_VAL_FIELD_NAMES[fi]);
        return HB_OK;
    }
    if (i == 0) c->present = 1;
    double ht[NPDF], he[NPDF];
    HB_TRY(histogram(m, v->a, fi, ht));
    HB_TRY(histogram(m, v->b, fi, he));
    hb_pk pk;
    HB_TRY(hb_pk_to_delta(m, v->a, NULL));
    HB_TRY(hb_pk_to_delta(m, v->b, NULL));
    HB_TRY(hb_pk_compute(&pk, m, v->a, v->b, mt, mt));   /* one compensation for both */
    if (i == 0) {
        c->nb = pk.nbins;
        c->k = malloc((size_t)pk.nbins * sizeof *c->k);
        size_t n = (size_t)v->ne * pk.nbins;
        c->pt = calloc(n, sizeof(double)); c->pe = calloc(n, sizeof(double)); c->ratio = calloc(n, sizeof(double));
        c->r = calloc(n, sizeof(double)); c->st = calloc(n, sizeof(double)); c->se = calloc(n, sizeof(double));
        c->w1 = calloc((size_t)v->ne, sizeof(double));
        if (!c->k || !c->pt || !c->pe || !c->ratio || !c->r || !c->st || !c->se || !c->w1) {
            hb_pk_free(&pk);
            return HB_ERR(HB_ENOMEM, "validation curves");
        }
        memcpy(c->k, pk.k, (size_t)pk.nbins * sizeof *c->k);
        c->has_supp = pdm_t && fi == 0;
    }
    for (int j = 0; j < c->nb; j++) {
        size_t q = (size_t)i * c->nb + j;
        c->pt[q] = pk.p11[j];
        c->pe[q] = pk.p22[j];
        c->ratio[q] = pk.p22[j] / pk.p11[j];
        c->r[q] = pk.r[j];
        if (c->has_supp && pdm_t) {
            c->st[q] = pk.p11[j] / pdm_t[j];
            c->se[q] = pk.p22[j] / pdm_e[j];
        }
    }
    hb_pk_free(&pk);
    for (int bb = 0; bb < NPDF; bb++) {
        c->pdf_t[bb] += ht[bb];
        c->pdf_e[bb] += he[bb];
    }
    c->w1[i] = wasserstein1(ht, he, (PDF_HI[fi] - PDF_LO[fi]) / NPDF);
    return HB_OK;
}

/* The mesh and buffers, sized by the first pair. */
static hb_status vstate_init(vstate *v, int N, double L, int ne, MPI_Comm comm)
{
    v->ne = ne;
    HB_TRY(hb_mesh_init(&v->m, N, L, comm, FFTW_ESTIMATE));
    v->a = hb_mesh_alloc(&v->m); v->b = hb_mesh_alloc(&v->m); v->ta = hb_mesh_alloc(&v->m); v->tb = hb_mesh_alloc(&v->m);
    v->dmt = hb_mesh_alloc(&v->m); v->dme = hb_mesh_alloc(&v->m);
    if (hb_mpi_any(comm, !v->a || !v->b || !v->ta || !v->tb || !v->dmt || !v->dme)) {
        return HB_ERR0(HB_ENOMEM, "validation meshes (%d^3)", N);
    }
    return HB_OK;
}

static void vstate_free(vstate *v)
{
    for (int fi = 0; fi < HB_VAL_NFIELD; fi++) {
        curves *c = &v->cv[fi];
        free(c->k); free(c->pt); free(c->pe); free(c->ratio); free(c->r); free(c->st); free(c->se); free(c->w1);
    }
    fftwf_free(v->a); fftwf_free(v->b); fftwf_free(v->ta); fftwf_free(v->tb); fftwf_free(v->dmt); fftwf_free(v->dme);
    if (v->m.N) hb_mesh_free(&v->m);
}

/* Check that the pair matches (and the first pair), then every field. */
static hb_status pair(vstate *v, hb_h5 *ft, hb_h5 *fe, int i, hb_val_summary *sum, MPI_Comm comm)
{
    int Nt = 0, Ne = 0;
    hb_boxinfo bt, be;
    HB_TRY(hb_h5_field_size(ft, HB_FIELD_GAS, &Nt));
    HB_TRY(hb_h5_field_size(fe, HB_FIELD_GAS, &Ne));
    HB_TRY(hb_box_read_info(ft, &bt));
    HB_TRY(hb_box_read_info(fe, &be));
    if (Nt != Ne || fabs(bt.box_size - be.box_size) > 1e-6 * bt.box_size) {
        return HB_ERR0(HB_EARG, "%s is %d^3 in %g Mpc/h but %s is %d^3 in %g Mpc/h: the boxes must match",
                       ft->path, Nt, bt.box_size, fe->path, Ne, be.box_size);
    }
    if (i == 0) {
        HB_TRY(vstate_init(v, Nt, bt.box_size, v->ne, comm));
        sum->k_nyq = M_PI * Nt / bt.box_size;
    } else if (Nt != v->m.N || fabs(bt.box_size - v->m.L) > 1e-6 * v->m.L) {
        return HB_ERR0(HB_EARG, "%s is %d^3 in %g Mpc/h, unlike the first pair (%d^3, %g Mpc/h)", ft->path, Nt,
                       bt.box_size, v->m.N, v->m.L);
    }
    /* the DM spectra, for the suppression P_gas / P_dm */
    int have_dm = hb_h5_exists(ft, HB_FIELD_DM) && hb_h5_exists(fe, HB_FIELD_DM);
    const int nb = (int)floor(sqrt(3.0) * v->m.N / 2) + 2;
    double *pdm = have_dm ? calloc(2 * (size_t)nb, sizeof *pdm) : NULL;
    hb_status rc = have_dm && !pdm ? HB_ERR(HB_ENOMEM, "DM spectra") : HB_OK;
    if (rc == HB_OK && have_dm) {
        int mt = mas_of(ft, HB_FIELD_DM);
        rc = hb_h5_read_mesh_field(ft, HB_FIELD_DM, &v->m, v->dmt);
        if (rc == HB_OK) rc = hb_h5_read_mesh_field(fe, HB_FIELD_DM, &v->m, v->dme);
        if (rc == HB_OK) rc = spectrum_of(&v->m, v->dmt, mt, pdm, nb);
        if (rc == HB_OK) rc = spectrum_of(&v->m, v->dme, mt, pdm + nb, nb);
    }
    for (int fi = 0; fi < HB_VAL_NFIELD && rc == HB_OK; fi++) rc = pair_field(v, ft, fe, i, fi, pdm, pdm ? pdm + nb : NULL);
    free(pdm);
    return rc;
}

/* Means by band over pairs and bins. */
static void summarise(const vstate *v, hb_val_summary *sum)
{
    const int ne = v->ne;
    sum->n_pairs = ne;
    for (int fi = 0; fi < HB_VAL_NFIELD; fi++) {
        const curves *c = &v->cv[fi];
        sum->present[fi] = c->present;
        if (!c->present) continue;
        int cnt[HB_VAL_NBAND] = {0};
        for (int i = 0; i < ne; i++) {
            sum->pdf_w1[fi] += c->w1[i] / ne;
            for (int j = 0; j < c->nb; j++) {
                int band;
                band_of(c->k[j], sum->k_nyq, &band);
                if (band < 0) continue;
                sum->ratio_dev[fi][band] += fabs(c->ratio[(size_t)i * c->nb + j] - 1);
                sum->r[fi][band] += c->r[(size_t)i * c->nb + j];
                cnt[band]++;
            }
        }
        for (int bnd = 0; bnd < HB_VAL_NBAND; bnd++) {
            if (cnt[bnd]) {
                sum->ratio_dev[fi][bnd] /= cnt[bnd];
                sum->r[fi][bnd] /= cnt[bnd];
            }
        }
    }
}

hb_status hb_validate(char **truth, int nt, char **emu, int ne, const char *out, hb_val_summary *sum, MPI_Comm comm)
{
    memset(sum, 0, sizeof *sum);
    if (nt < 1 || ne < 1 || ne % nt) {
        return HB_ERR0(HB_EARG, "%d truth and %d emulated files: need at least one of each, and the emulated "
                       "count a multiple of the truth count (seeds follow each other)", nt, ne);
    }
    vstate v;
    memset(&v, 0, sizeof v);
    v.ne = ne;
    hb_status rc = HB_OK;
    for (int i = 0; i < ne && rc == HB_OK; i++) {
        hb_h5 ft, fe;
        rc = hb_h5_open(&ft, truth[i % nt], comm);
        if (rc != HB_OK) break;
        rc = hb_h5_open(&fe, emu[i], comm);
        if (rc == HB_OK) {
            rc = pair(&v, &ft, &fe, i, sum, comm);
            hb_h5_close(&fe);
        }
        hb_h5_close(&ft);
    }
    if (rc == HB_OK) {
        summarise(&v, sum);
        int rank;
        rc = hb_mpi(MPI_Comm_rank(comm, &rank));
        hb_status wr = HB_OK;
        if (rc == HB_OK && rank == 0 && out) wr = write_report(out, v.cv, ne, truth, nt, emu, ne, sum);
        if (rc == HB_OK) rc = hb_mpi_agree(comm, wr);
    }
    vstate_free(&v);
    return rc;
}
