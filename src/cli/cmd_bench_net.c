/* hydrobridge bench-net: time the reference network's training step and
 * inference forward on random data. */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hb/adam.h"
#include "hb/nn.h"
#include "hb/rng.h"
#include "hb/unet.h"

static const char *BENCH_USAGE =
    "usage: hydrobridge bench-net [--patch 32] [--batch 4] [--width 16] [--fields 2] [--steps 10]\n"
    "                             [--threads N]\n"
    "Median milliseconds of a training step (forward, backward, AdamW) and of an inference\n"
    "forward of the reference UNet3D-small on random data, and the GFLOP/s they reach\n"
    "(a training step counted as 3 forwards). --threads sets the OpenBLAS and OpenMP threads.\n";

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

hb_status hb_cmd_bench_net(int argc, char **argv)
{
    static const struct option opts[] = {{"patch", required_argument, 0, 'p'}, {"batch", required_argument, 0, 'b'},
                                         {"width", required_argument, 0, 'w'}, {"fields", required_argument, 0, 'f'},
                                         {"steps", required_argument, 0, 's'}, {"threads", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    long P = 32, B = 4, W = 16, F = 2, S = 10, T = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': HB_TRY(hb_cli_long("--patch", optarg, &P)); break;
        case 'b': HB_TRY(hb_cli_long("--batch", optarg, &B)); break;
        case 'w': HB_TRY(hb_cli_long("--width", optarg, &W)); break;
        case 'f': HB_TRY(hb_cli_long("--fields", optarg, &F)); break;
        case 's': HB_TRY(hb_cli_long("--steps", optarg, &S)); break;
        case 't': HB_TRY(hb_cli_long("--threads", optarg, &T)); break;
        case 'h': hb_cli_usage(BENCH_USAGE); return HB_OK;
        default: hb_cli_usage(BENCH_USAGE); return HB_EARG;
        }
    }
    if (P < 4 || P % 4 || B < 1 || W < 1 || F < 1 || S < 1) {
        return HB_ERR0(HB_EARG, "need --patch a positive multiple of 4 and positive batch, width, fields, "
                       "steps (got %ld %ld %ld %ld %ld)", P, B, W, F, S);
    }
    if (T > 0) {
        openblas_set_num_threads((int)T);
        omp_set_num_threads((int)T);
    }
    hb_unet_config cfg = {(int)F, (int)W, 64};
    hb_unet u;
    HB_TRY(hb_unet_init(&u, &cfg, 1));
    hb_status rc = hb_unet_reserve(&u, (int)B, (int)P, (int)P, (int)P);
    size_t V = (size_t)P * P * P, nx = (size_t)B * V * (F + 1), ny = (size_t)B * V * F;
    float *x = malloc(nx * sizeof *x), *y = malloc(ny * sizeof *y), *t = malloc(ny * sizeof *t);
    float *dy = malloc(ny * sizeof *dy), *feat = malloc((size_t)B * HB_UNET_NFEAT * sizeof *feat);
    float *m = calloc(u.n_params, sizeof *m), *v = calloc(u.n_params, sizeof *v);
    if (rc == HB_OK && (!x || !y || !t || !dy || !feat || !m || !v)) rc = HB_ERR(HB_ENOMEM, "benchmark buffers");
    double *tt = malloc((size_t)(S + 2) * sizeof *tt), *ti = malloc((size_t)(S + 2) * sizeof *ti);
    if (rc == HB_OK) {
        for (size_t i = 0; i < nx; i++) { double g[2]; hb_rng_normal2(3, HB_STREAM_TEST, i, 0, g); x[i] = (float)g[0]; }
        for (size_t i = 0; i < ny; i++) { double g[2]; hb_rng_normal2(4, HB_STREAM_TEST, i, 0, g); t[i] = (float)g[0]; }
        for (long i = 0; i < B * HB_UNET_NFEAT; i++) feat[i] = (float)(i % 7) / 7.0f;
        hb_adam_config ac = hb_adam_config_default();
        for (long s = 0; s < S + 2 && rc == HB_OK; s++) {
            double t0 = hb_now();
            hb_unet_zero_grad(&u);
            rc = hb_unet_forward(&u, x, feat, y, (int)B, (int)P, (int)P, (int)P);
            hb_mse_forward_backward(dy, y, t, ny, 1.0f);
            hb_unet_backward(&u, dy);
            hb_adam_step(&ac, s + 1, u.params, u.grads, m, v, u.n_params);
            tt[s] = hb_now() - t0;
        }
        for (long s = 0; s < S + 2 && rc == HB_OK; s++) {
            double t0 = hb_now();
            rc = hb_unet_forward(&u, x, feat, y, (int)B, (int)P, (int)P, (int)P);
            ti[s] = hb_now() - t0;
        }
    }
    if (rc == HB_OK) {
        qsort(tt + 2, (size_t)S, sizeof *tt, cmp_double);   /* the first two steps warm up */
        qsort(ti + 2, (size_t)S, sizeof *ti, cmp_double);
        double mt = tt[2 + S / 2] * 1e3, mi = ti[2 + S / 2] * 1e3;
        double fl = hb_unet_flops(&cfg, (int)B, (int)P, (int)P, (int)P);
        if (hb_world_rank() == 0) {
            printf("bench-net: UNet3D-small w=%ld fields=%ld patch=%ld^3 batch=%ld threads=%d params=%zu\n",
                   W, F, P, B, T > 0 ? (int)T : omp_get_max_threads(), u.n_params);
            printf("train_ms=%.1f infer_ms=%.1f train_gflops=%.2f infer_gflops=%.2f forward_gflop=%.3f\n", mt, mi,
                   3 * fl / mt / 1e6, fl / mi / 1e6, fl / 1e9);
        }
    }
    free(x); free(y); free(t); free(dy); free(feat); free(m); free(v); free(tt); free(ti);
    hb_unet_free(&u);
    return rc;
}
