/* Network layers, the U-Net and Adam against independent references (on one
 * rank; tests/test_dist.c compares the decomposed network with this one):
 * plain-loop convolutions in double, central finite differences of those
 * double references (for every backward), the whole U-Net by finite
 * differences, periodic translation equivariance, a hand-computed AdamW. */
#include <float.h>
#include <stdio.h>
#include <string.h>

#include <omp.h>
#include <unistd.h>

#include "hb/adam.h"
#include "hb/halo.h"
#include "hb/model.h"
#include "hb/nn.h"
#include "hb/rng.h"
#include "hb/unet.h"
#include "hbtest.h"
#include "../emulator/nn_internal.h"

/* float32 convolutions of O(1) data with K <= 27*32 terms: ~1e-6 relative */
#define TOL_CONV 2e-5

static void fill_rand(float *a, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        double g[2];
        hb_rng_normal2(seed, HB_STREAM_TEST, i, 0, g);
        a[i] = (float)g[0];
    }
}

static double *to_double(const float *a, size_t n)
{
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++) d[i] = a[i];
    return d;
}

static double max_rel(const float *a, const double *b, size_t n)
{
    double m = 0, s = 0;
    for (size_t i = 0; i < n; i++) s = hb_test_max(s, fabs(b[i]));
    for (size_t i = 0; i < n; i++) m = hb_test_max(m, fabs(a[i] - b[i]));
    return m / (s > 0 ? s : 1);
}

typedef enum { L_CONV3, L_DOWN, L_UP } ltype;

/* forward in double through the reference */
static void ref_forward(ltype t, double *out, const double *in, const double *w, const double *b, int B,
                        int Ci, int Co, int X, int Y, int Z)
{
    if (t == L_CONV3) hb_conv3_forward_ref(out, in, w, b, B, Ci, Co, X, Y, Z);
    else if (t == L_DOWN) hb_down_forward_ref(out, in, w, b, B, Ci, Co, X, Y, Z);
    else hb_up_forward_ref(out, in, w, b, B, Ci, Co, X, Y, Z);
}

/* L = sum(out * r) in double; its gradient is the backward with dout = r */
static double ref_loss(ltype t, const double *in, const double *w, const double *b, const double *r, size_t nout,
                       int B, int Ci, int Co, int X, int Y, int Z)
{
    double *out = malloc(nout * sizeof *out);
    ref_forward(t, out, in, w, b, B, Ci, Co, X, Y, Z);
    double s = 0;
    for (size_t i = 0; i < nout; i++) s += out[i] * r[i];
    free(out);
    return s;
}

static void check_layer(ltype t, int B, int Ci, int Co, int X, int Y, int Z)
{
    size_t V = (size_t)X * Y * Z;
    size_t nin = (size_t)B * V * Ci;
    size_t nout = t == L_CONV3 ? (size_t)B * V * Co : t == L_DOWN ? (size_t)B * V / 8 * Co : (size_t)B * V * 8 * Co;
    size_t nw = (t == L_CONV3 ? 27 : 8) * (size_t)Ci * Co;
    float *in = malloc(nin * 4), *w = malloc(nw * 4), *b = malloc((size_t)Co * 4), *out = malloc(nout * 4);
    float *r = malloc(nout * 4), *din = calloc(nin, 4), *dw = calloc(nw, 4), *db = calloc((size_t)Co, 4);
    fill_rand(in, nin, 1); fill_rand(w, nw, 2); fill_rand(b, (size_t)Co, 3); fill_rand(r, nout, 4);
    size_t ws = hb_conv_workspace(Ci > Co ? Ci : Co, Co > Ci ? Co : Ci, X, Y, Z);
    float *col = malloc(ws * 4), *dcol = malloc(ws * 4);
    /* forward against the double reference */
    if (t == L_CONV3) hb_conv3_forward(out, in, w, b, B, Ci, Co, X, Y, Z, col);
    else if (t == L_DOWN) hb_down_forward(out, in, w, b, B, Ci, Co, X, Y, Z, col);
    else hb_up_forward(out, in, w, b, B, Ci, Co, X, Y, Z, col);
    double *ind = to_double(in, nin), *wd = to_double(w, nw), *bd = to_double(b, (size_t)Co), *rd = to_double(r, nout);
    double *ref = malloc(nout * sizeof *ref);
    ref_forward(t, ref, ind, wd, bd, B, Ci, Co, X, Y, Z);
    double ef = max_rel(out, ref, nout);
    ck_assert_msg(ef < TOL_CONV, "layer %d forward vs reference: %.2e", t, ef);
    /* backward against central differences of the double reference: the
     * loss is linear in each variable, so differences are exact up to round-off */
    if (t == L_CONV3) hb_conv3_backward(din, dw, db, r, in, w, B, Ci, Co, X, Y, Z, col, dcol);
    else if (t == L_DOWN) hb_down_backward(din, dw, db, r, in, w, B, Ci, Co, X, Y, Z, col, dcol);
    else hb_up_backward(din, dw, db, r, in, w, B, Ci, Co, X, Y, Z, dcol);
    const double h = 1e-3;
    double worst = 0;
    struct { double *p; const float *g; size_t n; } vars[3] = {{ind, din, nin}, {wd, dw, nw}, {bd, db, (size_t)Co}};
    for (int vi = 0; vi < 3; vi++) {
        double scale = 0;
        for (size_t i = 0; i < vars[vi].n; i++) scale = hb_test_max(scale, fabs(vars[vi].g[i]));
        size_t stride = vars[vi].n > 40 ? vars[vi].n / 37 : 1;   /* a spread sample of entries */
        for (size_t i = 0; i < vars[vi].n; i += stride) {
            double keep = vars[vi].p[i];
            vars[vi].p[i] = keep + h;
            double lp = ref_loss(t, ind, wd, bd, rd, nout, B, Ci, Co, X, Y, Z);
            vars[vi].p[i] = keep - h;
            double lm = ref_loss(t, ind, wd, bd, rd, nout, B, Ci, Co, X, Y, Z);
            vars[vi].p[i] = keep;
            worst = hb_test_max(worst, fabs((lp - lm) / (2 * h) - vars[vi].g[i]) / scale);
        }
    }
    ck_assert_msg(worst < 1e-4, "layer %d backward vs finite differences: %.2e", t, worst);
    free(in); free(w); free(b); free(out); free(r); free(din); free(dw); free(db); free(col); free(dcol);
    free(ind); free(wd); free(bd); free(rd); free(ref);
}

START_TEST(conv3_fast_vs_ref_and_fd)
{
    check_layer(L_CONV3, 2, 3, 5, 4, 6, 8);      /* im2col + SGEMM (Co 5: no vector width divides it) */
    /* the direct kernels: 1 to 5 vectors of output channels, z-rows with
     * remainders (blocks of 16 or 12 voxels, then 8, 4, 2, 1: Z = 31 takes
     * every branch; 10, 7, 13, 5), input-channel blocks with remainders, the
     * input gradient by SGEMM (Ci 3) and direct */
    check_layer(L_CONV3, 1, 16, 16, 8, 8, 8);
    check_layer(L_CONV3, 2, 3, 16, 4, 6, 10);
    check_layer(L_CONV3, 1, 32, 16, 5, 4, 7);
    check_layer(L_CONV3, 1, 16, 48, 3, 4, 13);
    check_layer(L_CONV3, 1, 64, 64, 3, 3, 8);
    check_layer(L_CONV3, 1, 16, 80, 3, 3, 5);
    check_layer(L_CONV3, 1, 16, 16, 2, 3, 31);
    /* the same with one x-plane per chunk: chunk edges wrap like the box */
    hb_conv3_direct_set_chunk(1);
    check_layer(L_CONV3, 2, 3, 16, 4, 6, 10);
    check_layer(L_CONV3, 1, 32, 16, 5, 4, 7);
    hb_conv3_direct_set_chunk(0);
}
END_TEST
/* The direct kernels give the same bits on any thread count and any register
 * blocking of the output channels: each output voxel and each weight-gradient
 * entry is summed in one fixed order. */
START_TEST(conv3_direct_thread_count_independent)
{
    const int B = 2, Ci = 32, Co = 48, X = 6, Y = 5, Z = 9;
    const size_t V = (size_t)X * Y * Z, nin = B * V * Ci, nout = B * V * Co, nw = 27 * (size_t)Ci * Co;
    float *in = malloc(nin * 4), *w = malloc(nw * 4), *b = malloc(Co * 4), *r = malloc(nout * 4);
    fill_rand(in, nin, 11); fill_rand(w, nw, 12); fill_rand(b, Co, 13); fill_rand(r, nout, 14);
    size_t ws = hb_conv_workspace(Co, Co, X, Y, Z);
    float *col = malloc(ws * 4), *dcol = malloc(ws * 4);
    enum { NRUN = 5 };
    float *out[NRUN], *din[NRUN], *dw[NRUN];
    const int threads[NRUN] = {1, 3, 1, 1, 1}, vectors[NRUN] = {0, 0, 1, 3, 4};   /* 0: the ISA's blocking */
    const int keep = omp_get_max_threads();
    hb_conv3_direct_set_chunk(1);   /* several chunks too */
    for (int k = 0; k < NRUN; k++) {
        omp_set_num_threads(threads[k]);
        hb_conv3_direct_set_vectors(vectors[k]);
        out[k] = malloc(nout * 4); din[k] = calloc(nin, 4); dw[k] = calloc(nw, 4);
        float *db = calloc(Co, 4);
        hb_conv3_forward(out[k], in, w, b, B, Ci, Co, X, Y, Z, col);
        hb_conv3_backward(din[k], dw[k], db, r, in, w, B, Ci, Co, X, Y, Z, col, dcol);
        free(db);
    }
    hb_conv3_direct_set_chunk(0);
    hb_conv3_direct_set_vectors(0);
    omp_set_num_threads(keep);
    for (int k = 1; k < NRUN; k++) {
        ck_assert_msg(memcmp(out[0], out[k], nout * 4) == 0, "forward differs: %d threads, %d vectors per block",
                      threads[k], vectors[k]);
        ck_assert_msg(memcmp(din[0], din[k], nin * 4) == 0, "input gradient differs: %d threads, %d vectors per block",
                      threads[k], vectors[k]);
        ck_assert_msg(memcmp(dw[0], dw[k], nw * 4) == 0, "weight gradient differs: %d threads, %d vectors per block",
                      threads[k], vectors[k]);
    }
    for (int k = 0; k < NRUN; k++) { free(out[k]); free(din[k]); free(dw[k]); }
    free(in); free(w); free(b); free(r); free(col); free(dcol);
}
END_TEST

START_TEST(down_fast_vs_ref_and_fd) { check_layer(L_DOWN, 2, 3, 5, 4, 6, 8); }
END_TEST
START_TEST(up_fast_vs_ref_and_fd) { check_layer(L_UP, 2, 5, 3, 2, 3, 4); }
END_TEST

/* The sigmoid (vector path where libmvec was found) against the double
 * formula over [-100, 100], through float's underflow and saturation, for
 * every length 1..40: each element's value must not depend on where it sits
 * in the array (blocks of 8, zero-padded tail). */
START_TEST(sigmoid_accurate_and_position_independent)
{
    enum { N = 4001 };
    static float x[N], s[N];
    for (int i = 0; i < N; i++) x[i] = -100.0f + 0.05f * (float)i;
    hb_sigmoid(s, x, N);
    for (int i = 0; i < N; i++) {
        double want = 1 / (1 + exp(-(double)x[i]));
        ck_assert_msg(fabs(s[i] - want) <= 4 * FLT_EPSILON * want + 1e-37, "sigmoid(%g) = %.9g, want %.9g", x[i], s[i], want);
    }
    ck_assert_float_eq(s[N - 1], 1.0f);
    ck_assert(s[0] >= 0.0f && s[0] < 1e-37f);   /* e^100 overflows: 0 (or a subnormal), not NaN */
    for (int n = 1; n <= 40; n++)
        for (int off = 0; off < 3; off++) {
            float t[40];
            hb_sigmoid(t, x + 1700 + off, (size_t)n);
            for (int i = 0; i < n; i++) ck_assert_float_eq(t[i], s[1700 + off + i]);
        }
}
END_TEST

/* Finite differences of a float layer with an analytic double loss. */
START_TEST(small_layers_fd)
{
    const int B = 2, C = 3, NI = 5, NO = 4;
    const size_t V = 7;
    float x[42], y[42], g[42], dx[42];
    fill_rand(x, 42, 5);
    fill_rand(g, 42, 6);
    /* SiLU: d/dx x sigmoid(x) */
    memset(dx, 0, sizeof dx);
    hb_silu_backward(dx, g, x, 42);
    for (int i = 0; i < 42; i++) {
        double xi = x[i], hh = 1e-3;
        double fp = (xi + hh) / (1 + exp(-(xi + hh))), fm = (xi - hh) / (1 + exp(-(xi - hh)));
        ck_assert_double_lt(fabs(g[i] * (fp - fm) / (2 * hh) - dx[i]), 1e-4 * (1 + fabs(dx[i])));
    }
    hb_silu_forward(y, x, 42);
    for (int i = 0; i < 42; i++) ck_assert_double_lt(fabs(y[i] - x[i] / (1 + exp(-x[i]))), 1e-6);
    /* linear */
    float in[10], w[20], b[4], out[8], r[8], din[10] = {0}, dw[20] = {0}, db[4] = {0};
    fill_rand(in, 10, 7); fill_rand(w, 20, 8); fill_rand(b, 4, 9); fill_rand(r, 8, 10);
    hb_linear_forward(out, in, w, b, B, NI, NO);
    hb_linear_backward(din, dw, db, r, in, w, B, NI, NO);
    for (int n = 0; n < B; n++)
        for (int o = 0; o < NO; o++) {
            double s = b[o];
            for (int i = 0; i < NI; i++) s += (double)in[n * NI + i] * w[o * NI + i];
            ck_assert_double_lt(fabs(out[n * NO + o] - s), 1e-5);
        }
    for (int i = 0; i < NI; i++) {   /* dL/din = sum_o r w */
        double s = 0;
        for (int o = 0; o < NO; o++) s += r[o] * w[o * NI + i];
        ck_assert_double_lt(fabs(din[i] - s), 1e-5);
    }
    for (int o = 0; o < NO; o++) ck_assert_double_lt(fabs(db[o] - (r[o] + r[NO + o])), 1e-6);
    /* FiLM and FiLM+SiLU: differences in double of the scalar sum(out * r) */
    float h[42], ss[12], dh[42], dss[12], o2[42];
    fill_rand(h, 42, 11); fill_rand(ss, 12, 12);
    for (int fused = 0; fused < 2; fused++) {
        memset(dh, 0, sizeof dh); memset(dss, 0, sizeof dss);
        if (fused) hb_film_silu_backward(dh, dss, g, h, ss, B, C, V);
        else hb_film_backward(dh, dss, g, h, ss, B, C, V);
        for (int k = 0; k < 12; k++) {
            double num = 0;
            for (int sgn = -1; sgn <= 1; sgn += 2) {
                double tot = 0;
                for (int bb = 0; bb < B; bb++)
                    for (size_t v = 0; v < V; v++)
                        for (int c = 0; c < C; c++) {
                            double sc = ss[bb * 2 * C + c] + (k == bb * 2 * C + c ? sgn * 1e-3 : 0);
                            double sh = ss[bb * 2 * C + C + c] + (k == bb * 2 * C + C + c ? sgn * 1e-3 : 0);
                            double f = h[(bb * V + v) * C + c] * (1 + sc) + sh;
                            if (fused) f = f / (1 + exp(-f));
                            tot += f * g[(bb * V + v) * C + c];
                        }
                num += sgn * tot;
            }
            num /= 2e-3;
            ck_assert_msg(fabs(num - dss[k]) < 1e-3 * (1 + fabs(num)), "film %d dss[%d] %g vs %g", fused, k, dss[k], num);
        }
        if (fused) hb_film_silu_forward(o2, h, ss, B, C, V);
        else hb_film_forward(o2, h, ss, B, C, V);
        double f0 = h[0] * (1 + ss[0]) + ss[C];
        ck_assert_double_lt(fabs(o2[0] - (fused ? f0 / (1 + exp(-f0)) : f0)), 1e-5);
    }
    /* concat and its adjoint */
    float a[6] = {1, 2, 3, 4, 5, 6}, bb2[4] = {7, 8, 9, 10}, cat[10], da[6] = {0}, dbb[4] = {0};
    hb_concat_forward(cat, a, bb2, 1, 3, 2, 2);
    float want[10] = {1, 2, 3, 7, 8, 4, 5, 6, 9, 10};
    for (int i = 0; i < 10; i++) ck_assert_float_eq(cat[i], want[i]);
    hb_concat_backward(da, dbb, want, 1, 3, 2, 2);
    for (int i = 0; i < 6; i++) ck_assert_float_eq(da[i], a[i]);
    for (int i = 0; i < 4; i++) ck_assert_float_eq(dbb[i], bb2[i]);
    /* MSE */
    float p[4] = {1, 2, 3, 4}, tg[4] = {0, 2, 5, 4}, dp[4];
    double l = hb_mse_forward_backward(dp, p, tg, 4, 1.0f);
    ck_assert_double_eq_tol(l, (1.0 + 0 + 4 + 0) / 4, 1e-12);
    ck_assert_float_eq_tol(dp[2], 2 * (3 - 5) / 4.0f, 1e-7);
    /* weighted, 2 cells x 2 channels, one weight per cell */
    const float w2[2] = {0.5f, 3.0f};
    l = hb_wmse_forward_backward(dp, p, tg, w2, 2, 2, 0.5f);
    ck_assert_double_eq_tol(l, (0.5 * (1 + 0) + 3.0 * (4 + 0)) / 4, 1e-12);
    ck_assert_float_eq_tol(dp[0], 0.5f * 2 * 0.5f * (1 - 0) / 4, 1e-7);
    ck_assert_float_eq_tol(dp[2], 0.5f * 2 * 3.0f * (3 - 5) / 4, 1e-7);
    ck_assert_float_eq_tol(dp[3], 0.0f, 1e-7);
    ck_assert_double_eq_tol(hb_wmse_forward_backward(NULL, p, tg, NULL, 2, 2, 1.0f), 5.0 / 4, 1e-12);
}
END_TEST

/* The whole U-Net: loss = sum(y * r) through the float forward; central
 * differences with the loss accumulated in double. */
/* The forward is float: the error of the differences falls as the step
 * grows (3.7e-2 at 3e-3, 2.0e-2 at 1e-2, 6.0e-3 at 3e-2, 1.6e-3 at 1e-1
 * measured with scalar expf; 1.4e-2 at 3e-2 and 1.0e-3 at 1e-1 with
 * libmvec's, the same analytic gradients), i.e. it is round-off, not
 * truncation, and its size depends on how the sigmoid rounds; 1e-1 keeps it
 * well under the tolerance. */
#ifndef FD_H
#define FD_H 1e-1f
#endif
/* A whole periodic box held by this rank alone. */
static void net_on_rank(hb_unet *u, hb_slab *s, int N, int train)
{
    ck_assert_int_eq(hb_slab_init_aligned(s, N, 4, MPI_COMM_SELF), HB_OK);
    ck_assert_int_eq(hb_unet_reserve(u, s, N, N, train), HB_OK);
}

static double unet_loss(hb_unet *u, const float *x, const float *feat, float *y, const float *r, size_t ny)
{
    ck_assert_int_eq(hb_unet_forward(u, x, feat, y), HB_OK);
    double tot = 0;
    for (size_t i = 0; i < ny; i++) tot += (double)y[i] * r[i];
    return tot;
}

START_TEST(unet_fd_tiny)
{
    hb_unet_config cfg = {2, 2, 8, 0, 2 + _i};   /* the reference's embedding, and one and two layers more */
    hb_unet u;
    hb_slab s;
    ck_assert_int_eq(hb_unet_init(&u, &cfg, 11), HB_OK);
    const int P = 8;
    const size_t V = (size_t)P * P * P, nx = V * 3, ny = V * 2;
    net_on_rank(&u, &s, P, 1);
    float *x = malloc(nx * 4), *y = malloc(ny * 4), *r = malloc(ny * 4), *dx = malloc(nx * 4), feat[HB_UNET_NFEAT];
    fill_rand(x, nx, 21); fill_rand(r, ny, 22); fill_rand(feat, HB_UNET_NFEAT, 23);
    unet_loss(&u, x, feat, y, r, ny);
    hb_unet_zero_grad(&u);
    ck_assert_int_eq(hb_unet_backward(&u, r, dx), HB_OK);
    float *g = malloc(u.n_params * 4);
    memcpy(g, u.grads, u.n_params * 4);
    double worst = 0;
    int checked = 0;
    for (int vi = 0; vi < u.n_views; vi++) {
        const hb_param_view *v = &u.views[vi];
        double scale = 1e-30;
        for (size_t j = 0; j < v->n; j++) scale = hb_test_max(scale, fabs(g[v->off + j]));
        for (size_t j = 0; j < v->n; j += (v->n > 3 ? v->n / 3 : 1)) {
            size_t k = v->off + j;
            float keep = u.params[k];
            u.params[k] = keep + FD_H;
            double lp = unet_loss(&u, x, feat, y, r, ny);
            u.params[k] = keep - FD_H;
            double lm = unet_loss(&u, x, feat, y, r, ny);
            u.params[k] = keep;
            double num = (lp - lm) / (2 * (double)FD_H), err = fabs(num - g[k]) / scale;
            if (err > worst) {
                worst = err;
                if (getenv("HB_FD_VERBOSE")) printf("  %s[%zu]: fd %.6g analytic %.6g (scale %.3g)\n", v->name, j, num, g[k], scale);
            }
            checked++;
        }
    }
    /* the input gradient (the vector-Jacobian product) at a spread of cells */
    double xscale = 1e-30, xworst = 0;
    for (size_t i = 0; i < nx; i++) xscale = hb_test_max(xscale, fabs(dx[i]));
    for (size_t i = 5; i < nx; i += nx / 23) {
        float keep = x[i];
        x[i] = keep + FD_H;
        double lp = unet_loss(&u, x, feat, y, r, ny);
        x[i] = keep - FD_H;
        double lm = unet_loss(&u, x, feat, y, r, ny);
        x[i] = keep;
        xworst = hb_test_max(xworst, fabs((lp - lm) / (2 * (double)FD_H) - dx[i]) / xscale);
    }
    /* the input gradient alone (hb_unet_vjp): the same dx, the parameter gradients untouched */
    float *dx2 = malloc(nx * 4);
    unet_loss(&u, x, feat, y, r, ny);
    memcpy(g, u.grads, u.n_params * 4);
    ck_assert_int_eq(hb_unet_vjp(&u, r, dx2), HB_OK);
    ck_assert_int_eq(memcmp(g, u.grads, u.n_params * 4), 0);
    ck_assert_int_eq(memcmp(dx, dx2, nx * 4), 0);
    free(dx2);
    printf("U-Net (embedding of %d layers) finite differences: %d parameters, max error %.2e of each tensor's largest gradient; input "
           "gradient %.2e (hb_unet_vjp: the same, bitwise)\n", u.cfg.emb_layers, checked, worst, xworst);
    ck_assert_double_lt(worst, 1e-2);
    ck_assert_double_lt(xworst, 1e-2);
    free(x); free(y); free(r); free(g); free(dx);
    hb_unet_free(&u);
    hb_slab_free(&s);
}
END_TEST

START_TEST(unet_translation_equivariance)
{
    /* periodic convolutions + two stride-2 levels: shifting the input by 4
     * cells along any axis shifts the output by 4 cells; width 4 runs the
     * SGEMM convolutions (AVX and AVX-512 builds), width 16 the direct kernels.
     * A box with Y, Z unlike X: the plane sides need not equal the slab's. */
    hb_unet_config cfg = {2, _i ? 16 : 4, 16, 0, 2};
    hb_unet u;
    ck_assert_int_eq(hb_unet_init(&u, &cfg, 5), HB_OK);
    const int X = 8, Y = 12, Z = 16;
    const size_t V = (size_t)X * Y * Z;
    hb_slab s;
    ck_assert_int_eq(hb_slab_init_aligned(&s, X, 4, MPI_COMM_SELF), HB_OK);
    ck_assert_int_eq(hb_unet_reserve(&u, &s, Y, Z, 1), HB_OK);
    float *x = malloc(V * 3 * 4), *xs = malloc(V * 3 * 4), *y = malloc(V * 2 * 4), *ys = malloc(V * 2 * 4), feat[HB_UNET_NFEAT];
    fill_rand(x, V * 3, 31);
    fill_rand(feat, HB_UNET_NFEAT, 32);
    ck_assert_int_eq(hb_unet_forward(&u, x, feat, y), HB_OK);
    for (int axis = 0; axis < 3; axis++) {
        int sh[3] = {0, 0, 0};
        sh[axis] = 4;
        for (int i = 0; i < X; i++)
            for (int j = 0; j < Y; j++)
                for (int k = 0; k < Z; k++)
                    for (int c = 0; c < 3; c++)
                        xs[((((i + sh[0]) % X) * Y + (j + sh[1]) % Y) * Z + (k + sh[2]) % Z) * 3 + c] =
                            x[(((size_t)i * Y + j) * Z + k) * 3 + c];
        ck_assert_int_eq(hb_unet_forward(&u, xs, feat, ys), HB_OK);
        double err = 0, sc = 0;
        for (int i = 0; i < X; i++)
            for (int j = 0; j < Y; j++)
                for (int k = 0; k < Z; k++)
                    for (int c = 0; c < 2; c++) {
                        float a = y[(((size_t)i * Y + j) * Z + k) * 2 + c];
                        float b = ys[((((i + sh[0]) % X) * Y + (j + sh[1]) % Y) * Z + (k + sh[2]) % Z) * 2 + c];
                        err = hb_test_max(err, fabs(a - b));
                        sc = hb_test_max(sc, fabs(a));
                    }
        ck_assert_msg(err <= 1e-5 * sc, "axis %d: shift error %.2e of %.2e", axis, err, sc);
    }
    free(x); free(xs); free(y); free(ys);
    hb_unet_free(&u);
    hb_slab_free(&s);
}
END_TEST

START_TEST(adam_two_steps_by_hand)
{
    /* lr 0.1, betas (0.9, 0.999), eps 1e-8, weight decay 0.01, no clipping,
     * constant lr (warmup 0, total 0); p = 1, g = 0.5 then g = -0.25:
     *  step 1: m = 0.05, v = 0.00025, m^ = 0.5, v^ = 0.25 -> p -= 0.1 (0.5/0.5 + 0.01) = 0.101 -> 0.899
     *  step 2: m = 0.045 - 0.025 = 0.02, v = 0.00024975 + 0.0000625 = 0.00031225,
     *          m^ = 0.02/0.19 = 0.105263, v^ = 0.00031225/0.001999 = 0.156203,
     *          p -= 0.1 (0.105263/0.395225 + 0.01 * 0.899) = 0.1 (0.266337 + 0.00899) -> 0.871467 */
    hb_adam_config c = {0.1, 0.9, 0.999, 1e-8, 0.01, 0.0, 0, 0, 1.0};
    float p = 1, g = 0.5f, m = 0, v = 0;
    hb_adam_step(&c, 1, &p, &g, &m, &v, 1);
    ck_assert_double_lt(fabs(p - 0.899), 1e-6);
    g = -0.25f;
    hb_adam_step(&c, 2, &p, &g, &m, &v, 1);
    double mh = 0.02 / 0.19, vh = 0.00031225 / (1 - 0.999 * 0.999);
    double want = 0.899 - 0.1 * (mh / (sqrt(vh) + 1e-8) + 0.01 * 0.899);
    ck_assert_msg(fabs(p - want) < 2e-6, "p = %.7f want %.7f", p, want);
    /* clipping: global norm 5 clipped to 1 scales the gradients by 0.2 */
    hb_adam_config cc = c;
    cc.clip_norm = 1.0;
    float pp[2] = {0, 0}, gg[2] = {3, 4}, mm[2] = {0, 0}, vv[2] = {0, 0};
    double norm = hb_adam_step(&cc, 1, pp, gg, mm, vv, 2);
    ck_assert_double_eq_tol(norm, 5.0, 1e-6);
    ck_assert_float_eq_tol(gg[0], 0.6f, 1e-6);
    ck_assert_float_eq_tol(gg[1], 0.8f, 1e-6);
    /* schedule: linear warm-up, then cosine to lr_min */
    hb_adam_config s = {1.0, 0.9, 0.999, 1e-8, 0, 0, 10, 110, 0.1};
    ck_assert_double_eq_tol(hb_adam_lr(&s, 5), 0.5, 1e-12);
    ck_assert_double_eq_tol(hb_adam_lr(&s, 10), 1.0, 1e-12);
    ck_assert_double_eq_tol(hb_adam_lr(&s, 60), 0.1 + 0.45, 1e-12);
    ck_assert_double_eq_tol(hb_adam_lr(&s, 110), 0.1, 1e-12);
    ck_assert_double_eq_tol(hb_adam_lr(&s, 500), 0.1, 1e-12);
}
END_TEST

START_TEST(adam_config_ranges)
{
    /* the default and each boundary are in range; one step past any, a NaN
     * or an infinity is not */
    hb_adam_config d = hb_adam_config_default();
    ck_assert(hb_adam_config_ok(&d));
    struct { int field; double value; int ok; } cases[] = {
        {0, 1e-9, 1}, {0, 0, 0}, {0, -1e-3, 0}, {0, INFINITY, 0}, {0, NAN, 0},
        {1, 0, 1}, {1, 1, 1}, {1, -1e-9, 0}, {1, 1.01, 0}, {1, NAN, 0},
        {2, 0, 1}, {2, 1, 1}, {2, -0.1, 0}, {2, 1.5, 0}, {2, NAN, 0},
        {3, 0, 1}, {3, 1e30, 1}, {3, -1, 0}, {3, INFINITY, 0}, {3, NAN, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hb_adam_config c = d;
        double *f[4] = {&c.lr, &c.lr_min_frac, &c.weight_decay, &c.clip_norm};
        *f[cases[i].field] = cases[i].value;
        ck_assert_msg(hb_adam_config_ok(&c) == cases[i].ok, "case %zu: field %d = %g, expected %s", i,
                      cases[i].field, cases[i].value, cases[i].ok ? "accepted" : "refused");
    }
}
END_TEST

START_TEST(unet_infer_matches_forward)
{
    /* the lean inference (buffers reused in place) computes the training
     * forward; with an inference-only reservation too */
    hb_unet_config cfg = {2, _i ? 16 : 4, 16, 0, 2};   /* SGEMM and direct convolutions */
    hb_unet u, v;
    ck_assert_int_eq(hb_unet_init(&u, &cfg, 8), HB_OK);
    ck_assert_int_eq(hb_unet_init(&v, &cfg, 8), HB_OK);
    const int N = 16;
    const size_t V = (size_t)N * N * N;
    hb_slab s;
    net_on_rank(&u, &s, N, 1);
    ck_assert_int_eq(hb_unet_reserve(&v, &s, N, N, 0), HB_OK);
    ck_assert_int_eq(hb_unet_forward(&v, NULL, NULL, NULL), HB_EARG);   /* no training workspace */
    float *x = malloc(V * 3 * 4), *y1 = malloc(V * 2 * 4), *y2 = malloc(V * 2 * 4), *y3 = malloc(V * 2 * 4), feat[HB_UNET_NFEAT];
    fill_rand(x, V * 3, 51);
    fill_rand(feat, HB_UNET_NFEAT, 52);
    ck_assert_int_eq(hb_unet_forward(&u, x, feat, y1), HB_OK);
    ck_assert_int_eq(hb_unet_infer(&u, x, feat, y2), HB_OK);
    ck_assert_int_eq(hb_unet_infer(&v, x, feat, y3), HB_OK);
    /* the same operations; SGEMM may block the rows of a plane range differently: round-off */
    double e2 = 0, e3 = 0, sc = 0;
    for (size_t i = 0; i < V * 2; i++) {
        e2 = hb_test_max(e2, fabs(y1[i] - y2[i]));
        e3 = hb_test_max(e3, fabs(y1[i] - y3[i]));
        sc = hb_test_max(sc, fabs(y1[i]));
    }
    ck_assert_double_le(e2, 1e-6 * sc);
    ck_assert_double_le(e3, 1e-6 * sc);
    printf("U-Net w=%d: lean inference %.1f floats per voxel, training %.1f\n", cfg.width,
           (double)v.ws_n / (double)V, (double)u.ws_n / (double)V);
    free(x); free(y1); free(y2); free(y3);
    hb_unet_free(&u);
    hb_unet_free(&v);
    hb_slab_free(&s);
}
END_TEST

START_TEST(model_file_round_trip)
{
    hb_unet_config cfg = {2, 4, 16, 0, 2};
    hb_unet u, v;
    ck_assert_int_eq(hb_unet_init(&u, &cfg, 3), HB_OK);
    ck_assert_int_eq(hb_unet_init(&v, &cfg, 4), HB_OK);   /* other weights */
    float *m = malloc(u.n_params * 4), *back = malloc(u.n_params * 4);
    fill_rand(m, u.n_params, 41);
    unlink("model.h5");
    hb_h5 f;
    ck_assert_int_eq(hb_h5_create(&f, "model.h5", MPI_COMM_SELF), HB_OK);
    ck_assert_int_eq(hb_model_write_arch(&f, &u), HB_OK);
    ck_assert_int_eq(hb_model_write_set(&f, "weights", &u, u.params), HB_OK);
    ck_assert_int_eq(hb_model_write_set(&f, "adam_m", &u, m), HB_OK);
    ck_assert_int_eq(hb_h5_commit(&f), HB_OK);
    ck_assert_int_eq(hb_h5_open(&f, "model.h5", MPI_COMM_SELF), HB_OK);
    ck_assert_int_eq(hb_model_read_set(&f, "weights", &v, v.params), HB_OK);
    ck_assert_int_eq(hb_model_read_set(&f, "adam_m", &v, back), HB_OK);
    ck_assert_int_eq(memcmp(u.params, v.params, u.n_params * 4), 0);   /* bitwise */
    ck_assert_int_eq(memcmp(m, back, u.n_params * 4), 0);
    /* another architecture is refused with a clear error, nothing read */
    hb_unet_config other = {2, 8, 16, 0, 2};
    hb_unet o;
    ck_assert_int_eq(hb_unet_init(&o, &other, 3), HB_OK);
    ck_assert_int_eq(hb_model_read_set(&f, "weights", &o, o.params), HB_EIO);
    hb_unet_config deeper = {2, 4, 16, 0, 3};   /* the same but for the embedding's depth */
    hb_unet d;
    ck_assert_int_eq(hb_unet_init(&d, &deeper, 3), HB_OK);
    ck_assert_int_eq(hb_model_read_set(&f, "weights", &d, d.params), HB_EIO);
    hb_unet_free(&d);
    ck_assert_int_eq(hb_model_read_set(&f, "no_such_set", &v, back), HB_EIO);
    hb_h5_close(&f);
    /* a file that is not a model */
    ck_assert_int_eq(hb_h5_create(&f, "notmodel.h5", MPI_COMM_SELF), HB_OK);
    ck_assert_int_eq(hb_h5_attr_write_double(&f, "/", "box_size", 25.0), HB_OK);
    ck_assert_int_eq(hb_h5_commit(&f), HB_OK);
    ck_assert_int_eq(hb_h5_open(&f, "notmodel.h5", MPI_COMM_SELF), HB_OK);
    ck_assert_int_eq(hb_model_read_set(&f, "weights", &v, back), HB_EIO);
    hb_h5_close(&f);
    free(m);
    free(back);
    hb_unet_free(&u);
    hb_unet_free(&v);
    hb_unet_free(&o);
}
END_TEST

static Suite *nn_suite(void)
{
    Suite *s = suite_create("nn");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, conv3_fast_vs_ref_and_fd);
    tcase_add_test(tc, conv3_direct_thread_count_independent);
    tcase_add_test(tc, down_fast_vs_ref_and_fd);
    tcase_add_test(tc, up_fast_vs_ref_and_fd);
    tcase_add_test(tc, sigmoid_accurate_and_position_independent);
    tcase_add_test(tc, small_layers_fd);
    tcase_add_loop_test(tc, unet_fd_tiny, 0, 3);
    tcase_add_loop_test(tc, unet_translation_equivariance, 0, 2);
    tcase_add_test(tc, adam_two_steps_by_hand);
    tcase_add_test(tc, adam_config_ranges);
    tcase_add_test(tc, model_file_round_trip);
    tcase_add_loop_test(tc, unet_infer_matches_forward, 0, 2);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    return s;
}

HB_TEST_MAIN(nn_suite)
