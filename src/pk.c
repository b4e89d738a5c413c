/* Binned power spectra (hb/pk.h). */
#include "hb/pk.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hb/mpiutil.h"

int hb_mas_from_name(const char *name)
{
    static const char *names[] = {"none", "ngp", "cic", "tsc"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, names[i]) == 0) return i;
    }
    return -1;
}

const char *hb_mas_name(int mas)
{
    static const char *names[] = {"none", "ngp", "cic", "tsc"};
    return mas >= 0 && mas < 4 ? names[mas] : "?";
}

/* Is mode (ix, iy, iz) the representative of its conjugate pair? Only the
 * kz = 0 and kz = N/2 planes hold both members. */
static int independent(int N, int ix, int iy, int iz)
{
    if (iz != 0 && iz != N / 2) return 1;
    int px = (N - ix) % N, py = (N - iy) % N;
    return ix < px || (ix == px && iy <= py);
}

static double sinc(double x) { return fabs(x) < 1e-8 ? 1.0 : sin(x) / x; }

/* Mass-assignment window of mode n (per-axis sinc^p product). */
static double mas_window(int N, const int n[3], int p)
{
    if (p == 0) return 1.0;
    double w = 1;
    for (int d = 0; d < 3; d++) w *= sinc(M_PI * n[d] / N);
    return pow(w, p);
}

/* Visit every independent local mode: f(ctx, bin, |n|, n, index). */
typedef void (*mode_fn)(void *ctx, int bin, double kn, const int n[3], size_t idx);

static void for_each_mode(const hb_mesh *m, mode_fn fn, void *ctx)
{
    int N = m->N;
    for (ptrdiff_t jy = 0; jy < m->ny_local; jy++) {
        int iy = (int)(m->y0 + jy);
        for (int ix = 0; ix < N; ix++) {
            for (int iz = 0; iz <= N / 2; iz++) {
                if (!independent(N, ix, iy, iz)) continue;
                int n[3] = {hb_mesh_freq(m, ix), hb_mesh_freq(m, iy), iz};
                double kn = sqrt((double)n[0] * n[0] + (double)n[1] * n[1] + (double)n[2] * n[2]);
                fn(ctx, (int)kn, kn, n, hb_mesh_kidx(m, jy, ix, iz));
            }
        }
    }
}

typedef struct {
    const hb_mesh *m;
    const float *c1, *c2;   /* interleaved complex */
    int mas1, mas2;
    double *sk, *s11, *s22, *s12;
    long *cnt;
} acc_ctx;

static void accumulate(void *vp, int bin, double kn, const int n[3], size_t idx)
{
    acc_ctx *a = vp;
    double w1 = mas_window(a->m->N, n, a->mas1);
    double re1 = a->c1[2 * idx] / w1, im1 = a->c1[2 * idx + 1] / w1;
    a->sk[bin] += kn;
    a->cnt[bin]++;
    a->s11[bin] += re1 * re1 + im1 * im1;
    if (a->c2) {
        double w2 = mas_window(a->m->N, n, a->mas2);
        double re2 = a->c2[2 * idx] / w2, im2 = a->c2[2 * idx + 1] / w2;
        a->s22[bin] += re2 * re2 + im2 * im2;
        a->s12[bin] += re1 * re2 + im1 * im2;
    }
}

void hb_pk_free(hb_pk *pk)
{
    free(pk->k);
    free(pk->p11);
    free(pk->p22);
    free(pk->p12);
    free(pk->r);
    free(pk->nmodes);
    free(pk->bin);
    memset(pk, 0, sizeof *pk);
}

hb_status hb_pk_compute(hb_pk *out, const hb_mesh *m, float *f1, float *f2, int mas1, int mas2)
{
    hb_mesh_r2c(m, f1);
    if (f2) hb_mesh_r2c(m, f2);
    return hb_pk_compute_k(out, m, f1, f2, mas1, mas2);
}

hb_status hb_pk_compute_k(hb_pk *out, const hb_mesh *m, const float *f1, const float *f2, int mas1, int mas2)
{
    memset(out, 0, sizeof *out);
    int N = m->N;
    int nb = (int)floor(sqrt(3.0) * N / 2) + 2;
    /* one block: sk, s11, s22, s12, cnt as doubles for a single Allreduce */
    double *acc = calloc(5 * (size_t)nb, sizeof *acc);
    long *cnt = calloc((size_t)nb, sizeof *cnt);
    if (!acc || !cnt) {
        free(acc);
        free(cnt);
        return HB_ERR(HB_ENOMEM, "P(k) accumulators");
    }
    acc_ctx a = {m, f1, f2, mas1, mas2, acc, acc + nb, acc + 2 * nb, acc + 3 * nb, cnt};
    for_each_mode(m, accumulate, &a);
    for (int b = 0; b < nb; b++) acc[4 * nb + b] = (double)cnt[b];
    if (hb_mpi(MPI_Allreduce(MPI_IN_PLACE, acc, 5 * nb, MPI_DOUBLE, MPI_SUM, m->comm)) != HB_OK) {
        free(acc);
        free(cnt);
        return HB_EMPI;
    }

    int used = 0;
    for (int b = 1; b < nb; b++) used += acc[4 * nb + b] > 0;
    out->nbins = used;
    out->cross = f2 != NULL;
    out->L = m->L;
    out->N = N;
    out->k = calloc((size_t)used, sizeof *out->k);
    out->p11 = calloc((size_t)used, sizeof *out->p11);
    out->nmodes = calloc((size_t)used, sizeof *out->nmodes);
    out->bin = calloc((size_t)used, sizeof *out->bin);
    if (f2) {
        out->p22 = calloc((size_t)used, sizeof *out->p22);
        out->p12 = calloc((size_t)used, sizeof *out->p12);
        out->r = calloc((size_t)used, sizeof *out->r);
    }
    double norm = pow(m->L, 3) / pow((double)N, 6), kf = hb_mesh_kf(m);
    for (int b = 1, j = 0; b < nb; b++) {
        double c = acc[4 * nb + b];
        if (c <= 0) continue;
        out->bin[j] = b;
        out->nmodes[j] = (long)c;
        out->k[j] = kf * acc[b] / c;
        out->p11[j] = norm * acc[nb + b] / c;
        if (f2) {
            out->p22[j] = norm * acc[2 * nb + b] / c;
            out->p12[j] = norm * acc[3 * nb + b] / c;
            out->r[j] = out->p12[j] / sqrt(out->p11[j] * out->p22[j]);
        }
        j++;
    }
    free(acc);
    free(cnt);
    return HB_OK;
}

hb_status hb_pk_to_delta(const hb_mesh *m, float *buf, double *mean)
{
    double mu = hb_mesh_sum(m, buf) / pow((double)m->N, 3);
    if (mean) *mean = mu;
    if (!(mu > 0)) return HB_ERR0(HB_EARG, "field mean is %g: cannot form delta = f/mean - 1", mu);
    const float inv = (float)(1.0 / mu);
    for (ptrdiff_t i = 0; i < m->nx_local; i++)
        for (int j = 0; j < m->N; j++) {
            float *row = buf + hb_mesh_ridx(m, i, j, 0);
            for (int k = 0; k < m->N; k++) row[k] = row[k] * inv - 1.0f;
        }
    return HB_OK;
}

typedef struct {
    const hb_mesh *m;
    double (*model)(double, void *);
    void *ctx;
    double *sum;
} model_ctx;

static void accumulate_model(void *vp, int bin, double kn, const int n[3], size_t idx)
{
    (void)n;
    (void)idx;
    model_ctx *c = vp;
    c->sum[bin] += c->model(kn * hb_mesh_kf(c->m), c->ctx);
}

hb_status hb_pk_bin_model(const hb_pk *pk, const hb_mesh *m, double (*model)(double k, void *ctx),
                          void *ctx, double *out)
{
    int nb = (int)floor(sqrt(3.0) * m->N / 2) + 2;
    double *sum = calloc((size_t)nb, sizeof *sum);
    if (!sum) return HB_ERR(HB_ENOMEM, "model accumulators");
    model_ctx c = {m, model, ctx, sum};
    for_each_mode(m, accumulate_model, &c);
    hb_status rc = hb_mpi(MPI_Allreduce(MPI_IN_PLACE, sum, nb, MPI_DOUBLE, MPI_SUM, m->comm));
    for (int j = 0; j < pk->nbins && rc == HB_OK; j++) out[j] = sum[pk->bin[j]] / (double)pk->nmodes[j];
    free(sum);
    return rc;
}

hb_status hb_pk_write_text(const hb_pk *pk, const char *path, const char *header)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return HB_ERR(HB_EIO, "cannot write %s: %s", tmp, strerror(errno));
    fprintf(f, "# power spectrum, box %g Mpc/h, grid %d^3, k_F = %.6g h/Mpc, bins of width k_F\n",
            pk->L, pk->N, 2 * M_PI / pk->L);
    if (header) {
        const char *s = header;
        while (*s) {
            const char *e = strchr(s, '\n');
            int len = e ? (int)(e - s) : (int)strlen(s);
            fprintf(f, "# %.*s\n", len, s);
            s += len + (e ? 1 : 0);
        }
    }
    if (pk->cross) {
        fprintf(f, "# k[h/Mpc] P12[(Mpc/h)^3] n_modes r P11[(Mpc/h)^3] P22[(Mpc/h)^3]\n");
        for (int j = 0; j < pk->nbins; j++) {
            fprintf(f, "%.8e %.8e %ld %.8f %.8e %.8e\n", pk->k[j], pk->p12[j], pk->nmodes[j],
                    pk->r[j], pk->p11[j], pk->p22[j]);
        }
    } else {
        fprintf(f, "# k[h/Mpc] P[(Mpc/h)^3] n_modes\n");
        for (int j = 0; j < pk->nbins; j++) {
            fprintf(f, "%.8e %.8e %ld\n", pk->k[j], pk->p11[j], pk->nmodes[j]);
        }
    }
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return HB_ERR(HB_EIO, "cannot write %s", path);
    }
    return HB_OK;
}
