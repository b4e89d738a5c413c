/* hydrobridge bench-net: time the reference network's training step and
 * inference, on batches of periodic patches (one rank each: the PyTorch
 * comparison) or on one whole box spread over every rank. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hb/adam.h"
#include "hb/mpiutil.h"
#include "hb/nn.h"
#include "hb/rng.h"
#include "hb/unet.h"

static const char *BENCH_USAGE =
    "usage: hydrobridge bench-net [--patch 32] [--batch 4] [--width 16] [--fields 2] [--steps 10] [--threads N]\n"
    "       hydrobridge bench-net --box N [--width 16] [--steps 5] [--threads N]\n"
    "Median milliseconds of a training step (forward, backward, AdamW) and of an inference forward of the\n"
    "reference UNet3D-small on random data. With --patch: a batch of periodic P^3 patches on each rank\n"
    "alone (the PyTorch comparison, scripts/bench_nn.sh); prints train_ms, infer_ms and GFLOP/s. With --box:\n"
    "one periodic N^3 box spread over every rank (slabs of multiples of 4 planes, one-plane halos per layer);\n"
    "prints box_forward_ms, box_train_ms, voxels_per_s, memory per rank (scripts/bench_net_box.sh).\n";

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of the timings after two warm-up runs. */
static double median_ms(double *t, long S)
{
    qsort(t + 2, (size_t)S, sizeof *t, cmp_double);
    return t[2 + S / 2] * 1e3;
}

typedef struct bench {
    hb_unet u;
    hb_slab slab;
    float *x, *y, *t, *dy, *m, *v;
    size_t n;   /* cells per sample on this rank */
    int F;
} bench;

static void bench_free(bench *b)
{
    hb_unet_free(&b->u);
    hb_slab_free(&b->slab);
    free(b->x); free(b->y); free(b->t); free(b->dy); free(b->m); free(b->v);
}

static hb_status bench_init(bench *b, int W, int F, int N, MPI_Comm comm)
{
    memset(b, 0, sizeof *b);
    b->F = F;
    hb_unet_config cfg = {F, W, 64, 0, 2};
    HB_TRY(hb_unet_init(&b->u, &cfg, 1));
    HB_TRY(hb_slab_init_aligned(&b->slab, N, 4, comm));
    HB_TRY(hb_unet_reserve(&b->u, &b->slab, N, N, 1));
    b->n = (size_t)b->slab.nx * N * N;
    b->x = malloc(b->n * (F + 1) * sizeof *b->x);
    b->y = malloc(b->n * F * sizeof *b->y);
    b->t = malloc(b->n * F * sizeof *b->t);
    b->dy = malloc(b->n * F * sizeof *b->dy);
    b->m = calloc(b->u.n_params, sizeof *b->m);
    b->v = calloc(b->u.n_params, sizeof *b->v);
    if (!b->x || !b->y || !b->t || !b->dy || !b->m || !b->v) return HB_ERR(HB_ENOMEM, "benchmark buffers");
    const uint64_t first = (uint64_t)b->slab.x0 * N * N;
    for (size_t i = 0; i < b->n * (F + 1); i++) { double g[2]; hb_rng_normal2(3, HB_STREAM_TEST, first * (F + 1) + i, 0, g); b->x[i] = (float)g[0]; }
    for (size_t i = 0; i < b->n * F; i++) { double g[2]; hb_rng_normal2(4, HB_STREAM_TEST, first * F + i, 0, g); b->t[i] = (float)g[0]; }
    return HB_OK;
}

/* One training step of B samples: forward and backward each, one Allreduce, AdamW. */
static hb_status train_step(bench *b, const float *feat, int B, long step, MPI_Comm comm)
{
    hb_adam_config ac = hb_adam_config_default();
    hb_unet_zero_grad(&b->u);
    for (int s = 0; s < B; s++) {
        HB_TRY(hb_unet_forward(&b->u, b->x, feat, b->y));
        hb_mse_forward_backward(b->dy, b->y, b->t, b->n * b->F, 1.0f);
        HB_TRY(hb_unet_backward(&b->u, b->dy, NULL));
    }
    HB_TRY(hb_mpi(MPI_Allreduce(MPI_IN_PLACE, b->u.grads, (int)b->u.n_params, MPI_FLOAT, MPI_SUM, comm)));
    hb_adam_step(&ac, step, b->u.params, b->u.grads, b->m, b->v, b->u.n_params);
    return HB_OK;
}

/* Median train and inference times of B samples on comm (max over ranks). */
static hb_status time_net(bench *b, int B, long S, MPI_Comm comm, double *train_ms, double *infer_ms)
{
    float feat[HB_UNET_NFEAT];
    for (int i = 0; i < HB_UNET_NFEAT; i++) feat[i] = (float)(i % 7) / 7.0f;
    double *tt = malloc((size_t)(S + 2) * sizeof *tt), *ti = malloc((size_t)(S + 2) * sizeof *ti);
    hb_status rc = !tt || !ti ? HB_ERR(HB_ENOMEM, "timings") : HB_OK;
    for (long s = 0; s < S + 2 && rc == HB_OK; s++) {
        rc = hb_mpi(MPI_Barrier(comm));
        double t0 = hb_now();
        if (rc == HB_OK) rc = train_step(b, feat, B, s + 1, comm);
        tt[s] = hb_now() - t0;
        if (rc == HB_OK) rc = hb_mpi_max(comm, &tt[s], 1);
    }
    for (long s = 0; s < S + 2 && rc == HB_OK; s++) {
        rc = hb_mpi(MPI_Barrier(comm));
        double t0 = hb_now();
        for (int k = 0; k < B && rc == HB_OK; k++) rc = hb_unet_infer(&b->u, b->x, feat, b->y);
        ti[s] = hb_now() - t0;
        if (rc == HB_OK) rc = hb_mpi_max(comm, &ti[s], 1);
    }
    if (rc == HB_OK) {
        *train_ms = median_ms(tt, S);
        *infer_ms = median_ms(ti, S);
    }
    free(tt);
    free(ti);
    return rc;
}

static hb_status bench_patch(long P, long B, long W, long F, long S)
{
    bench b;
    hb_status rc = bench_init(&b, (int)W, (int)F, (int)P, MPI_COMM_SELF);
    double mt = 0, mi = 0;
    if (rc == HB_OK) rc = time_net(&b, (int)B, S, MPI_COMM_SELF, &mt, &mi);
    if (rc == HB_OK && hb_world_rank() == 0) {
        hb_unet_config cfg = b.u.cfg;
        double fl = hb_unet_flops(&cfg, (int)B, (int)P, (int)P, (int)P);
        printf("bench-net: UNet3D-small w=%ld fields=%ld patch=%ld^3 batch=%ld threads=%d params=%zu\n", W, F, P, B,
               omp_get_max_threads(), b.u.n_params);
        printf("train_ms=%.1f infer_ms=%.1f train_gflops=%.2f infer_gflops=%.2f forward_gflop=%.3f\n", mt, mi,
               3 * fl / mt / 1e6, fl / mi / 1e6, fl / 1e9);
    }
    bench_free(&b);
    return rc;
}

static hb_status bench_box(long N, long W, long F, long S)
{
    bench b;
    hb_status rc = bench_init(&b, (int)W, (int)F, (int)N, MPI_COMM_WORLD);
    double mt = 0, mi = 0;
    if (rc == HB_OK) rc = time_net(&b, 1, S, MPI_COMM_WORLD, &mt, &mi);
    double xchg = b.u.t_xchg.total / (double)(2 * (S + 2)), rss = (double)hb_peak_rss();
    if (rc == HB_OK) rc = hb_mpi_max(MPI_COMM_WORLD, &xchg, 1);
    if (rc == HB_OK) rc = hb_mpi_max(MPI_COMM_WORLD, &rss, 1);
    if (rc == HB_OK) {
        hb_unet_config cfg = b.u.cfg;
        double fl = hb_unet_flops(&cfg, 1, (int)N, (int)N, (int)N), vox = pow((double)N, 3);
        hb_log0("bench-net: UNet3D-small w=%ld fields=%ld box=%ld^3 ranks=%d slab=%ld planes (rank 0) threads=%d",
                W, F, N, hb_world_size(), b.slab.nx, omp_get_max_threads());
        hb_log0("box_forward_ms=%.1f box_train_ms=%.1f ranks=%d voxels_per_s=%.4g forward_gflops=%.2f "
                "train_gflops=%.2f halo_wait_ms_per_pass=%.1f peak_mb_per_rank=%.0f workspace_floats_per_voxel=%.1f",
                mi, mt, hb_world_size(), vox / (mt / 1e3), fl / mi / 1e6, 3 * fl / mt / 1e6, 1e3 * xchg, rss / 1e6,
                (double)b.u.ws_n / (double)b.n);
    }
    bench_free(&b);
    return rc;
}

hb_status hb_cmd_bench_net(int argc, char **argv)
{
    static const struct option opts[] = {{"patch", required_argument, 0, 'p'}, {"batch", required_argument, 0, 'b'},
                                         {"width", required_argument, 0, 'w'}, {"fields", required_argument, 0, 'f'},
                                         {"steps", required_argument, 0, 's'}, {"threads", required_argument, 0, 't'},
                                         {"box", required_argument, 0, 'x'}, {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    long P = 32, B = 4, W = 16, F = 2, S = -1, N = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': HB_TRY(hb_cli_long("--patch", optarg, &P)); break;
        case 'b': HB_TRY(hb_cli_long("--batch", optarg, &B)); break;
        case 'w': HB_TRY(hb_cli_long("--width", optarg, &W)); break;
        case 'f': HB_TRY(hb_cli_long("--fields", optarg, &F)); break;
        case 's': HB_TRY(hb_cli_long("--steps", optarg, &S)); break;
        case 't': HB_TRY(hb_cli_threads(optarg)); break;
        case 'x': HB_TRY(hb_cli_long("--box", optarg, &N)); break;
        case 'h': hb_cli_usage(BENCH_USAGE); return HB_OK;
        default: hb_cli_usage(BENCH_USAGE); return HB_EARG;
        }
    }
    if (S < 0) S = N > 0 ? 5 : 10;
    if (optind != argc || P < 4 || P % 4 || B < 1 || W < 1 || F < 1 || S < 1 || N < 0 || (N > 0 && N % 4)) {
        return HB_ERR0(HB_EARG, "need --patch or --box a positive multiple of 4 and positive batch, width, fields, "
                       "steps (got patch %ld box %ld batch %ld width %ld fields %ld steps %ld)\n%s", P, N, B, W, F, S,
                       BENCH_USAGE);
    }
    return N > 0 ? bench_box(N, W, F, S) : bench_patch(P, B, W, F, S);
}
