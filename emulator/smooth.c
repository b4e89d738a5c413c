/* The smoothed-DM conditioning channel (hb/smooth.h). */
#include "hb/smooth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb/box.h"
#include "hb/mpiutil.h"

hb_status hb_smoother_init(hb_smoother *s, int N, double r, double thr)
{
    memset(s, 0, sizeof *s);
    if (N < 1 || !(r > 0) || !(thr >= 0)) {
        return HB_ERR0(HB_EARG, "smoothing a %d^3 box by %g cells above %g: expected N >= 1, r > 0 and a threshold >= 0",
                       N, r, thr);
    }
    const size_t n = (size_t)N * N * N, nc = (size_t)N * N * (size_t)(N / 2 + 1);
    s->N = N;
    s->r = r;
    s->thr = (float)thr;
    s->real = fftwf_alloc_real(n);
    s->cplx = fftwf_alloc_complex(nc);
    s->kernel = malloc(nc * sizeof *s->kernel);
    if (!s->real || !s->cplx || !s->kernel) {
        hb_smoother_free(s);
        return HB_ERR(HB_ENOMEM, "smoothing buffers for a %d^3 box", N);
    }
    s->fwd = fftwf_plan_dft_r2c_3d(N, N, N, s->real, s->cplx, FFTW_ESTIMATE);
    s->bwd = fftwf_plan_dft_c2r_3d(N, N, N, s->cplx, s->real, FFTW_ESTIMATE);
    if (!s->fwd || !s->bwd) {
        hb_smoother_free(s);
        return HB_ERR(HB_ENOMEM, "FFTW plans for smoothing a %d^3 box", N);
    }
    const double dk = 2 * M_PI / N;   /* radians per cell */
    for (int i = 0; i < N; i++) {
        const double kx = dk * (i <= N / 2 ? i : i - N);
        for (int j = 0; j < N; j++) {
            const double ky = dk * (j <= N / 2 ? j : j - N);
            for (int k = 0; k <= N / 2; k++) {
                const double kz = dk * k, k2 = kx * kx + ky * ky + kz * kz;
                s->kernel[((size_t)i * N + j) * (size_t)(N / 2 + 1) + k] = (float)(exp(-0.5 * k2 * r * r) / (double)n);
            }
        }
    }
    return HB_OK;
}

void hb_smoother_free(hb_smoother *s)
{
    if (s->fwd) fftwf_destroy_plan(s->fwd);
    if (s->bwd) fftwf_destroy_plan(s->bwd);
    fftwf_free(s->real);
    fftwf_free(s->cplx);
    free(s->kernel);
    memset(s, 0, sizeof *s);
}

void hb_smoother_apply(hb_smoother *s, const float *in, float *out)
{
    const size_t n = (size_t)s->N * s->N * s->N, nc = (size_t)s->N * s->N * (size_t)(s->N / 2 + 1);
    if (s->thr > 0) {
        for (size_t i = 0; i < n; i++) s->real[i] = in[i] > s->thr ? in[i] - s->thr : 0.0f;
    } else {
        memcpy(s->real, in, n * sizeof *in);
    }
    fftwf_execute(s->fwd);
    for (size_t i = 0; i < nc; i++) {
        s->cplx[i][0] *= s->kernel[i];
        s->cplx[i][1] *= s->kernel[i];
    }
    fftwf_execute(s->bwd);
    memcpy(out, s->real, n * sizeof *out);
}

/* HB_SMOOTH_OPTIONS_RULE spells these limits out: a change must change it too */
_Static_assert((int)HB_SMOOTH_MAX_R == 8 && (long)HB_SMOOTH_MAX_THR == 10000 && HB_SMOOTH_MAX_CH == 3,
               "update HB_SMOOTH_OPTIONS_RULE (hb/smooth.h) with the smoothing limits");

int hb_smooth_radius_ok(double r) { return r == 0 || (r > 0 && r <= HB_SMOOTH_MAX_R); }

int hb_smooth_channels_ok(int n, const double *r, const double *thr)
{
    if (n < 0 || n > HB_SMOOTH_MAX_CH) return 0;
    for (int j = 0; j < n; j++) {
        const double tj = thr ? thr[j] : 0;
        if (!(r[j] > 0) || !hb_smooth_radius_ok(r[j]) || !(tj >= 0 && tj <= HB_SMOOTH_MAX_THR)) return 0;
        for (int i = 0; i < j; i++)
            if (r[i] == r[j] && (thr ? thr[i] : 0) == tj) return 0;
    }
    return 1;
}

int hb_smooth_set(hb_interp *ic, int n, const double *r, int nh, const double *halo)
{
    if (n == 1 && r[0] == 0) n = 0;
    if (nh == 1 && halo[0] == 0) nh = 0;
    if (n < 0 || (nh != 0 && nh != 2) || n + nh / 2 > HB_SMOOTH_MAX_CH) return 0;
    double rr[HB_SMOOTH_MAX_CH], tt[HB_SMOOTH_MAX_CH] = {0};
    for (int j = 0; j < n; j++) rr[j] = r[j];
    if (nh) {
        tt[n] = halo[0];
        rr[n++] = halo[1];
        if (!(tt[n - 1] > 0)) return 0;   /* a halo channel has a threshold */
    }
    if (!hb_smooth_channels_ok(n, rr, tt)) return 0;
    ic->n_smooth = n;
    for (int j = 0; j < n; j++) {
        ic->smooth_r[j] = rr[j];
        ic->smooth_thr[j] = tt[j];
    }
    return 1;
}

void hb_smooth_split(const hb_interp *ic, double *r, int *n, double halo[2], int *nh)
{
    *n = *nh = 0;
    for (int j = 0; j < ic->n_smooth; j++) {
        if (ic->smooth_thr[j] > 0) {
            halo[0] = ic->smooth_thr[j];
            halo[1] = ic->smooth_r[j];
            *nh = 2;
        } else {
            r[(*n)++] = ic->smooth_r[j];
        }
    }
}

const char *hb_smooth_describe(const hb_interp *ic, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "%s", ic->n_smooth ? "" : "none");
    for (int j = 0; j < ic->n_smooth && len < size; j++) {
        const int last = j == ic->n_smooth - 1, unit = last || ic->smooth_thr[j] > 0 || ic->smooth_thr[j + 1] > 0;
        len += (size_t)snprintf(buf + len, size - len, "%s%g%s", j ? ", " : "", ic->smooth_r[j], unit ? " cells" : "");
        if (len < size && ic->smooth_thr[j] > 0) {
            len += (size_t)snprintf(buf + len, size - len, " of the DM above %g", ic->smooth_thr[j]);
        }
    }
    return buf;
}

float hb_smooth_to_std(const hb_interp *ic, int j, float v)
{
    const double f = v > HB_SMOOTH_FLOOR ? v : HB_SMOOTH_FLOOR;
    return (float)((log10(f) - ic->smooth_mean[j]) / ic->smooth_std[j]);
}

hb_status hb_smooth_read(const hb_interp *ic, hb_h5 *f, int N, long x0, long nx, float *xs)
{
    const size_t NN = (size_t)N * N, S = (size_t)ic->n_smooth;
    float *full = malloc(NN * N * sizeof *full), *out = malloc(NN * N * sizeof *out);
    hb_status rc = !full || !out ? HB_ERR(HB_ENOMEM, "the whole DM box (%d^3) for its smoothed channels", N) : HB_OK;
    rc = hb_mpi_agree(f->comm, rc);
    if (rc == HB_OK) rc = hb_box_read_field(f, HB_FIELD_DM, N, 0, N, full, (size_t)N, HB_VALUES_DENSITY);
    for (size_t j = 0; j < S && rc == HB_OK; j++) {
        hb_smoother sm;
        rc = hb_smoother_init(&sm, N, ic->smooth_r[j], ic->smooth_thr[j]);
        if (rc != HB_OK) break;
        hb_smoother_apply(&sm, full, out);
        hb_smoother_free(&sm);
        for (size_t c = 0; c < (size_t)nx * NN; c++) {
            xs[c * S + j] = hb_smooth_to_std(ic, (int)j, out[(size_t)x0 * NN + c]);
        }
    }
    free(full);
    free(out);
    return hb_mpi_agree(f->comm, rc);
}
