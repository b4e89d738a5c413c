/* The domain-decomposed network against the same network on one rank:
 * a 3x3x3 convolution (forward, input gradient, weight gradient) with
 * one-plane halo exchanges on R ranks equals the periodic convolution of the
 * whole box on one rank, slabs of 4 planes included; the whole U-Net
 * (forward, every parameter gradient, the input gradient, the lean
 * inference) likewise; translations by multiples of 4 cells across rank
 * boundaries shift the output; boxes that cannot be cut into slabs of
 * multiples of 4 planes are refused. Run at 1, 2, 3 and 4 ranks. */
#include <stdio.h>
#include <string.h>

#include "hb/halo.h"
#include "hb/nn.h"
#include "hb/rng.h"
#include "hb/unet.h"
#include "hbtest.h"

/* Float sums of a few hundred O(1) terms in another order: 1e-6 relative;
 * the U-Net chains ~20 such layers. */
#define TOL_CONV 1e-5
#define TOL_UNET 1e-4

static void fill_rand(float *a, size_t n, uint64_t seed, size_t first)
{
    for (size_t i = 0; i < n; i++) {
        double g[2];
        hb_rng_normal2(seed, HB_STREAM_TEST, first + i, 0, g);
        a[i] = (float)g[0];
    }
}

static double rel_err(const float *a, const float *b, size_t n)
{
    double m = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        m = hb_test_max(m, fabs((double)a[i] - b[i]));
        s = hb_test_max(s, fabs((double)b[i]));
    }
    return m / (s > 0 ? s : 1);
}

/* The largest relative error over ranks of this rank's slab of `got`
 * against the same slab of the whole-box `want` (C channels per cell). */
static double slab_err(const hb_slab *s, int N, int C, const float *got, const float *want)
{
    const size_t plane = (size_t)N * N * C;
    return hb_test_allmax(rel_err(got, want + (size_t)s->x0 * plane, (size_t)s->nx * plane));
}

/* A halo'd copy of this rank's slab of a whole box (nx + 2 planes). */
static float *halo_slab(const hb_slab *s, int N, int C, const float *whole)
{
    const size_t plane = (size_t)N * N * C;
    float *h = calloc((size_t)(s->nx + 2) * plane, sizeof *h);
    memcpy(h + plane, whole + (size_t)s->x0 * plane, (size_t)s->nx * plane * sizeof *h);
    ck_assert_int_eq(hb_xchg(s, h, s->nx, plane), HB_OK);
    /* the exchange brought the neighbours' planes */
    const long xl = (s->x0 - 1 + N) % N, xr = (s->x0 + s->nx) % N;
    ck_assert(memcmp(h, whole + (size_t)xl * plane, plane * sizeof *h) == 0);
    ck_assert(memcmp(h + (size_t)(s->nx + 1) * plane, whole + (size_t)xr * plane, plane * sizeof *h) == 0);
    return h;
}

static void conv_case(int N, int Ci, int Co)
{
    hb_slab s;
    ck_assert_int_eq(hb_slab_init_aligned(&s, N, 4, MPI_COMM_WORLD), HB_OK);
    const size_t V = (size_t)N * N * N, P = (size_t)N * N;
    float *in = malloc(V * Ci * 4), *w = malloc(27 * (size_t)Ci * Co * 4), *b = malloc((size_t)Co * 4);
    float *dout = malloc(V * Co * 4);
    fill_rand(in, V * Ci, 1, 0); fill_rand(w, 27 * (size_t)Ci * Co, 2, 0); fill_rand(b, (size_t)Co, 3, 0);
    fill_rand(dout, V * Co, 4, 0);
    size_t ws = hb_conv_workspace(Ci > Co ? Ci : Co, Ci > Co ? Ci : Co, N + 2, N, N);
    float *col = malloc(ws * 4), *wf = malloc((ws > 27 * (size_t)Ci * Co ? ws : 27 * (size_t)Ci * Co) * 4);
    /* the reference: the periodic convolution of the whole box on this rank alone */
    float *out_ref = malloc(V * Co * 4), *din_ref = calloc(V * Ci, 4);
    float *dw_ref = calloc(27 * (size_t)Ci * Co, 4), *db_ref = calloc((size_t)Co, 4);
    hb_conv3_planes(out_ref, in, w, b, Ci, Co, N, N, N, HB_XWRAP, 0, N, 0, col);
    hb_conv3_wgrad(dw_ref, db_ref, dout, in, Ci, Co, N, N, N, HB_XWRAP, col);
    hb_conv3_igrad(din_ref, dout, w, Ci, Co, N, N, N, HB_XWRAP, 0, N, col, wf);
    /* the distributed one: halo'd slabs; interior planes and boundary planes separately */
    float *hin = halo_slab(&s, N, Ci, in), *hdout = halo_slab(&s, N, Co, dout);
    const int X = (int)s.nx;
    float *out = malloc((size_t)X * P * Co * 4), *din = calloc((size_t)X * P * Ci, 4);
    float *dw = calloc(27 * (size_t)Ci * Co, 4), *db = calloc((size_t)Co, 4);
    hb_conv3_planes(out, hin, w, b, Ci, Co, X, N, N, HB_XHALO, 1, X - 1, 0, col);
    hb_conv3_planes(out, hin, w, b, Ci, Co, X, N, N, HB_XHALO, 0, 1, 0, col);
    hb_conv3_planes(out, hin, w, b, Ci, Co, X, N, N, HB_XHALO, X - 1, X, 0, col);
    hb_conv3_wgrad(dw, db, hdout + P * Co, hin, Ci, Co, X, N, N, HB_XHALO, col);
    hb_conv3_igrad(din, hdout, w, Ci, Co, X, N, N, HB_XHALO, 0, X, col, wf);
    MPI_Allreduce(MPI_IN_PLACE, dw, 27 * Ci * Co, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, db, Co, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    double ef = slab_err(&s, N, Co, out, out_ref), ei = slab_err(&s, N, Ci, din, din_ref);
    double ew = hb_test_allmax(rel_err(dw, dw_ref, 27 * (size_t)Ci * Co)), eb = hb_test_allmax(rel_err(db, db_ref, Co));
    if (s.rank == 0) {
        printf("conv3 %d -> %d on %d^3, %d ranks (slab %ld planes): forward %.1e, input gradient %.1e, weight "
               "gradient %.1e, bias gradient %.1e\n", Ci, Co, N, s.nranks, s.nx, ef, ei, ew, eb);
    }
    ck_assert_double_le(ef, TOL_CONV);
    ck_assert_double_le(ei, TOL_CONV);
    ck_assert_double_le(ew, TOL_CONV);
    ck_assert_double_le(eb, TOL_CONV);
    free(in); free(w); free(b); free(dout); free(col); free(wf); free(out_ref); free(din_ref); free(dw_ref);
    free(db_ref); free(hin); free(hdout); free(out); free(din); free(dw); free(db);
    hb_slab_free(&s);
}

/* Ci = 3, Co = 5: the SGEMM path; 16 -> 16 and 5 -> 16: the direct kernels
 * (with every vector width). 16^3 on 4 ranks and 20^3 on 3 give 4-plane slabs. */
START_TEST(conv3_distributed_equals_whole_box)
{
    int R;
    MPI_Comm_size(MPI_COMM_WORLD, &R);
    const int N = R == 3 ? 20 : 16;
    conv_case(N, 3, 5);
    conv_case(N, 16, 16);
    conv_case(N, 5, 16);
}
END_TEST

typedef struct net_run {
    float *y, *dx, *g, *yi;   /* output, input gradient (this rank's slab), parameter gradients (summed), inference */
} net_run;

/* The U-Net on comm over an N^3 box: forward, backward with dy, inference. */
static void run_net(MPI_Comm comm, int N, const hb_unet_config *cfg, const float *x, const float *dy,
                    const float *feat, net_run *r, long *x0, long *nx)
{
    hb_slab s;
    ck_assert_int_eq(hb_slab_init_aligned(&s, N, 4, comm), HB_OK);
    hb_unet u;
    ck_assert_int_eq(hb_unet_init(&u, cfg, 9), HB_OK);
    ck_assert_int_eq(hb_unet_reserve(&u, &s, N, N, 1), HB_OK);
    const size_t P = (size_t)N * N, n = (size_t)s.nx * P;
    r->y = malloc(n * 2 * 4);
    r->dx = malloc(n * 3 * 4);
    r->yi = malloc(n * 2 * 4);
    ck_assert_int_eq(hb_unet_forward(&u, x + (size_t)s.x0 * P * 3, feat, r->y), HB_OK);
    hb_unet_zero_grad(&u);
    ck_assert_int_eq(hb_unet_backward(&u, dy + (size_t)s.x0 * P * 2, r->dx), HB_OK);
    r->g = malloc(u.n_params * 4);
    memcpy(r->g, u.grads, u.n_params * 4);
    MPI_Allreduce(MPI_IN_PLACE, r->g, (int)u.n_params, MPI_FLOAT, MPI_SUM, comm);
    ck_assert_int_eq(hb_unet_infer(&u, x + (size_t)s.x0 * P * 3, feat, r->yi), HB_OK);
    *x0 = s.x0;
    *nx = s.nx;
    hb_unet_free(&u);
    hb_slab_free(&s);
}

static void net_free(net_run *r) { free(r->y); free(r->dx); free(r->g); free(r->yi); }

START_TEST(unet_distributed_equals_one_rank)
{
    int R, rank;
    MPI_Comm_size(MPI_COMM_WORLD, &R);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    /* SGEMM (w 16) and direct convolutions (w 4); the deepest embedding MLP */
    const int N = 16, width = _i == 1 ? 16 : 4, emb_layers = _i == 2 ? HB_UNET_MAX_EMB_LAYERS : 2;
    const size_t V = (size_t)N * N * N;
    float *x = malloc(V * 3 * 4), *dy = malloc(V * 2 * 4), feat[HB_UNET_NFEAT];
    fill_rand(x, V * 3, 41, 0); fill_rand(dy, V * 2, 42, 0); fill_rand(feat, HB_UNET_NFEAT, 43, 0);
    hb_unet_config cfg = {2, width, 16, 0, emb_layers};
    net_run one, all;
    long x0, nx, x01, nx1;
    run_net(MPI_COMM_SELF, N, &cfg, x, dy, feat, &one, &x01, &nx1);   /* every rank alone: the whole box */
    run_net(MPI_COMM_WORLD, N, &cfg, x, dy, feat, &all, &x0, &nx);
    const size_t P = (size_t)N * N;
    hb_unet u;
    ck_assert_int_eq(hb_unet_init(&u, &cfg, 9), HB_OK);
    double ey = hb_test_allmax(rel_err(all.y, one.y + (size_t)x0 * P * 2, (size_t)nx * P * 2));
    double ei = hb_test_allmax(rel_err(all.yi, one.y + (size_t)x0 * P * 2, (size_t)nx * P * 2));
    double ex = hb_test_allmax(rel_err(all.dx, one.dx + (size_t)x0 * P * 3, (size_t)nx * P * 3));
    double eg = 0;
    for (int v = 0; v < u.n_views; v++) {   /* every tensor against its own scale */
        const hb_param_view *pv = &u.views[v];
        eg = hb_test_max(eg, rel_err(all.g + pv->off, one.g + pv->off, pv->n));
    }
    eg = hb_test_allmax(eg);
    if (rank == 0) {
        printf("U-Net w=%d, %d embedding layers, on %d^3, %d ranks vs 1: output %.1e, inference %.1e, input gradient "
               "%.1e, parameter gradients %.1e\n", width, emb_layers, N, R, ey, ei, ex, eg);
    }
    ck_assert_double_le(ey, TOL_UNET);
    ck_assert_double_le(ei, TOL_UNET);
    ck_assert_double_le(ex, TOL_UNET);
    ck_assert_double_le(eg, TOL_UNET);
    net_free(&one);
    net_free(&all);
    hb_unet_free(&u);
    free(x);
    free(dy);
}
END_TEST

START_TEST(unet_distributed_translation_equivariance)
{
    /* shift the whole box by 4 and by 8 cells along x (across rank
     * boundaries when R > 1), and by 4 along y: the output shifts alike */
    int R, rank;
    MPI_Comm_size(MPI_COMM_WORLD, &R);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    const int N = 16;
    const size_t V = (size_t)N * N * N, P = (size_t)N * N;
    hb_slab s;
    ck_assert_int_eq(hb_slab_init_aligned(&s, N, 4, MPI_COMM_WORLD), HB_OK);
    hb_unet_config cfg = {2, 16, 16, 0, 2};
    hb_unet u;
    ck_assert_int_eq(hb_unet_init(&u, &cfg, 5), HB_OK);
    ck_assert_int_eq(hb_unet_reserve(&u, &s, N, N, 0), HB_OK);
    float *x = malloc(V * 3 * 4), *xs = malloc(V * 3 * 4), feat[HB_UNET_NFEAT];
    float *y = malloc((size_t)s.nx * P * 2 * 4), *ys = malloc((size_t)s.nx * P * 2 * 4);
    float *yall = calloc(V * 2, 4), *ysall = calloc(V * 2, 4);
    fill_rand(x, V * 3, 51, 0);
    fill_rand(feat, HB_UNET_NFEAT, 52, 0);
    ck_assert_int_eq(hb_unet_infer(&u, x + (size_t)s.x0 * P * 3, feat, y), HB_OK);
    memcpy(yall + (size_t)s.x0 * P * 2, y, (size_t)s.nx * P * 2 * 4);
    MPI_Allreduce(MPI_IN_PLACE, yall, (int)(V * 2), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    static const int shifts[3][2] = {{4, 0}, {8, 0}, {0, 4}};   /* (x, y) */
    for (int k = 0; k < 3; k++) {
        const int sx = shifts[k][0], sy = shifts[k][1];
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
                memcpy(xs + (((size_t)((i + sx) % N) * N + (j + sy) % N) * N) * 3, x + (((size_t)i * N + j) * N) * 3,
                       (size_t)N * 3 * 4);
        ck_assert_int_eq(hb_unet_infer(&u, xs + (size_t)s.x0 * P * 3, feat, ys), HB_OK);
        memset(ysall, 0, V * 2 * 4);
        memcpy(ysall + (size_t)s.x0 * P * 2, ys, (size_t)s.nx * P * 2 * 4);
        MPI_Allreduce(MPI_IN_PLACE, ysall, (int)(V * 2), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        double err = 0, sc = 0;
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
                for (int q = 0; q < N * 2; q++) {
                    float a = yall[((size_t)i * N + j) * N * 2 + q];
                    float b = ysall[((size_t)((i + sx) % N) * N + (j + sy) % N) * N * 2 + q];
                    err = hb_test_max(err, fabs(a - b));
                    sc = hb_test_max(sc, fabs(a));
                }
        if (rank == 0) printf("U-Net shifted by (%d, %d, 0) on %d ranks: %.1e of %.1e\n", sx, sy, R, err, sc);
        ck_assert_double_le(err, 1e-5 * sc);
    }
    free(x); free(xs); free(y); free(ys); free(yall); free(ysall);
    hb_unet_free(&u);
    hb_slab_free(&s);
}
END_TEST

START_TEST(decomposition_refuses_unaligned_boxes)
{
    int R;
    MPI_Comm_size(MPI_COMM_WORLD, &R);
    hb_slab s;
    ck_assert_int_eq(hb_slab_init_aligned(&s, 18, 4, MPI_COMM_WORLD), HB_EARG);   /* not a multiple of 4 */
    if (R > 1) ck_assert_int_eq(hb_slab_init_aligned(&s, 4 * (R - 1), 4, MPI_COMM_WORLD), HB_EARG);   /* a rank without a block */
    ck_assert_int_eq(hb_slab_init_aligned(&s, 4 * R, 4, MPI_COMM_WORLD), HB_OK);
    ck_assert_int_eq(s.nx, 4);
    hb_slab_free(&s);
    /* blocks shared as evenly as possible, boundaries at multiples of 4 */
    ck_assert_int_eq(hb_slab_init_aligned(&s, 4 * (2 * R + 1), 4, MPI_COMM_WORLD), HB_OK);
    ck_assert_int_eq(s.x0 % 4, 0);
    ck_assert(s.nx == 8 || s.nx == 12);
    hb_slab_free(&s);
}
END_TEST

static Suite *dist_suite(void)
{
    Suite *s = suite_create("distributed network");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, decomposition_refuses_unaligned_boxes);
    tcase_add_test(tc, conv3_distributed_equals_whole_box);
    tcase_add_loop_test(tc, unet_distributed_equals_one_rank, 0, 3);
    tcase_add_test(tc, unet_distributed_translation_equivariance);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    return s;
}

HB_TEST_MAIN(dist_suite)
