/* hydrobridge train / emulate. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "demo.h"
#include "hb/emulate.h"
#include "hb/mpiutil.h"
#include "hb/smooth.h"
#include "hb/unet.h"
#include "hb/train.h"

#define KNEE HB_UNET_STR(HB_LOSS_KNEE)

#define TRAIN_USAGE_FMT \
    "usage: hydrobridge train --data DIR|LIST --out model.h5 [--val DIR|LIST] [options]\n" \
    "Train the stochastic interpolant's drift network (DM -> gas density, temperature) on whole periodic\n" \
    "boxes (random cube symmetries and periodic shifts); each box is spread over a group of ranks\n" \
    "(domain-decomposed), the groups work on different boxes of the batch (data-parallel).\n" \
    "  --steps N          optimiser steps (2000)        --batch B       boxes per step (2)\n" \
    "  --group G          ranks per box (all)           --width W       network width (16)\n" \
    "  --emb E            width of the embedding of t and the parameters that feeds every FiLM (64; 1-" \
    HB_UNET_STR(HB_UNET_MAX_EMB) ")\n" \
    "  --emb-layers L     linear layers of that embedding's MLP (2; 2-" HB_UNET_STR(HB_UNET_MAX_EMB_LAYERS) ")\n" \
    "  --lr X             peak learning rate (2e-4)     --warmup N      warm-up steps (100)\n" \
    "  --lr-min F         the cosine's floor at the last step, a fraction of --lr (0.05)\n" \
    "  --weight-decay X   AdamW decay (0)               --clip X        gradient-norm clip (1; 0: off)\n" \
    "  --ema X            weight EMA decay (0.999)      --seed S        seed (1)\n" \
    "  --val-every N      validation loss period (100)  --val-samples N held-out samples (4)\n" \
    "  --checkpoint-every N  checkpoint period (500)    --no-augment    no cube symmetries\n" \
    "  --sigma-c X        noise scale (0.5)\n" \
    "  --loss-weight K[,KV[,KP]]  voxel weights of the loss, x0 the standardised log DM clamped to\n" \
    "                     [-" KNEE ", " KNEE "]: exp(K x0) where x0 >= 0, exp(KV x0) where x0 < 0, times\n" \
    "                     exp(KP (x0 - " KNEE ")) above " KNEE ", the halos' cores (KV = K, KP = 0 unless given; 0: uniform)\n" \
    "  --noise-slope S[,S2]  each cell's noise scaled by exp(S clamp(x0, -3, 3)), S for gas, S2 for T (0)\n" \
    "  --noise-theta NAME:C[,C2]  the noise scale also times exp(C theta_hat) for the parameter NAME (omega_m,\n" \
    "                     sigma_8, a_sn1, a_agn1, a_sn2, a_agn2; theta_hat as the network sees it, in [-1, 1]),\n" \
    "                     C for gas, C2 for T (C2 = C unless given); repeat for several parameters (0)\n" \
    "  --dm-floor X       DM density floor before log10 (1e-3)\n" \
    "  --dm-smooth R[,R2,R3] input channels of log10 of the DM smoothed by a Gaussian of R (R2, R3) cells (0: none)\n" \
    "  --dm-halo T,R      one more channel: the DM above T times the mean (the halos' mass) smoothed by R cells\n" \
    "                     (up to 3 smoothed channels in all; 0: none)\n" \
    "  --recipe demo      start from the demo's recipe (hydrobridge demo, README): %s;\n" \
    "                     warm-up a tenth of --steps; the other options change it wherever they stand;\n" \
    "                     steps, batch, seed stay train's\n" \
    "  --resume           continue from --out           --threads N     OpenMP/BLAS threads per rank\n" \
    "  --guard X          collapse guard: when the loss's geometric mean over --guard-window steps exceeds X\n" \
    "                     times its lowest, roll back to the state of one to two windows before and halve the\n" \
    "                     learning rate; stop after " HB_UNET_STR(HB_GUARD_MAX_ROLLBACKS) " rollbacks, keeping that state in --out\n" \
    "                     (" HB_UNET_STR(HB_GUARD_RISE) "; 0: off)\n" \
    "  --guard-window N   (" HB_UNET_STR(HB_GUARD_WINDOW) ")\n" \
    "  --resume-changed   resume although the training files, their statistics or --sigma-c/--dm-floor/\n" \
    "                     --noise-slope/--noise-theta/--dm-smooth/--dm-halo differ from the checkpoint's (refused otherwise)\n" \
    "SIGTERM or SIGUSR1 writes a checkpoint at the next step and exits with code 3.\n"

/* train's usage, the --recipe line written from the recipe itself. */
static const char *train_usage(void)
{
    static char text[6144];
    if (text[0]) return text;
    const hb_train_config r = demo_train_recipe();
    char smooth[96], h[64], recipe[640];
    hb_cli_smooth_values(&r.interp, smooth, sizeof smooth, h, sizeof h);
    const char *indent = "\n                     ";
    snprintf(recipe, sizeof recipe, "--lr %g --lr-min %g%s--ema %g --loss-weight %g,%g,%g --dm-floor %g --noise-slope "
             "%g,%g%s--dm-smooth %s --dm-halo %s (width %d, embedding %d in %d layers, --sigma-c %g)", r.adam.lr,
             r.adam.lr_min_frac, indent, r.ema_decay, r.loss_weight[0], r.loss_weight[1], r.loss_weight[2],
             r.interp.floor[0], r.interp.noise_slope[0], r.interp.noise_slope[1], indent, smooth, h, r.width, r.emb,
             r.emb_layers, r.interp.sigma_c);
    snprintf(text, sizeof text, TRAIN_USAGE_FMT, recipe);
    return text;
}

/* The model file names none of the training or validation boxes. */
static hb_status check_train_output(const char *out, char **dp, int nd, char **vp, int nv)
{
    const char **ins = malloc((size_t)(nd + nv + 1) * sizeof *ins);
    if (hb_mpi_any(MPI_COMM_WORLD, !ins)) { free(ins); return HB_ERR0(HB_ENOMEM, "file list"); }
    for (int i = 0; i < nd; i++) ins[i] = dp[i];
    for (int i = 0; i < nv; i++) ins[nd + i] = vp[i];
    const char *outs[] = {out};
    hb_status rc = hb_cli_check_io(outs, 1, ins, nd + nv);
    free(ins);
    return rc;
}

hb_status hb_cli_check_training(const hb_train_config *c, const char *steps_opt)
{
    const hb_adam_config *a = &c->adam;
    HB_TRY(hb_cli_expect(c->steps >= 1, steps_opt, "a positive integer", (double)c->steps));
    HB_TRY(hb_cli_expect(c->batch >= 1, "--batch", "a positive integer", c->batch));
    HB_TRY(hb_cli_expect(c->width >= 1, "--width", "a positive integer", c->width));
    HB_TRY(hb_cli_expect(hb_unet_embedding_ok(c->emb, 2), "--emb", "an integer within 1-" HB_UNET_STR(HB_UNET_MAX_EMB),
                         c->emb));
    HB_TRY(hb_cli_expect(hb_unet_embedding_ok(1, c->emb_layers), "--emb-layers",
                         "an integer within 2-" HB_UNET_STR(HB_UNET_MAX_EMB_LAYERS), c->emb_layers));
    HB_TRY(hb_cli_expect(a->lr > 0, "--lr", "a value > 0", a->lr));
    HB_TRY(hb_cli_expect(a->lr_min_frac >= 0 && a->lr_min_frac <= 1, "--lr-min", "a fraction of --lr within [0, 1]",
                         a->lr_min_frac));
    HB_TRY(hb_cli_expect(a->weight_decay >= 0 && a->weight_decay <= 1, "--weight-decay", "a value within [0, 1]",
                         a->weight_decay));
    HB_TRY(hb_cli_expect(a->clip_norm >= 0, "--clip", "a value >= 0 (0: off)", a->clip_norm));
    HB_TRY(hb_cli_expect(c->ema_decay >= 0 && c->ema_decay < 1, "--ema", "a decay within [0, 1)", c->ema_decay));
    HB_TRY(hb_cli_expect(c->interp.sigma_c >= 0, "--sigma-c", "a value >= 0", c->interp.sigma_c));
    HB_TRY(hb_cli_expect(c->interp.floor[0] > 0, "--dm-floor", "a value > 0", c->interp.floor[0]));
    HB_TRY(hb_cli_noise("--noise-slope", c->interp.noise_slope, HB_NTARGET));
    HB_TRY(hb_cli_noise("--noise-theta", &c->interp.noise_theta[0][0], HB_NTARGET * HB_NTHETA));
    for (int k = 0; k < 3; k++) {   /* each slope alone against the library's rule */
        double one[3] = {0, 0, 0};
        one[k] = c->loss_weight[k];
        HB_TRY(hb_cli_expect(hb_loss_weights_ok(one), "--loss-weight", "slopes within [-5, 5]", c->loss_weight[k]));
    }
    return HB_OK;
}

/* --recipe NAME, wherever it stands, before the other options are read, so
 * that each of them changes the recipe: "demo" takes the demo's network,
 * optimiser, EMA, loss weights, interpolant, noise and DM inputs
 * (demo_train_recipe) and, unless --warmup is given, its warm-up rule
 * (*recipe = 1: applied once the steps are known); steps, batch, seed and
 * the rest stay train's. */
static hb_status train_recipe(int argc, char **argv, const struct option *opts, hb_train_config *c, int *recipe)
{
    *recipe = 0;
    const char *name = NULL;
    int ch;
    opterr = 0;   /* the second pass reports unknown options */
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (ch == 'r') name = optarg;
    }
    opterr = 1;
    if (!name || strcmp(name, "none") == 0) return HB_OK;
    if (strcmp(name, "demo")) return HB_ERR0(HB_EARG, "option --recipe: expected demo or none, found \"%s\"", name);
    const hb_train_config own = *c;   /* train's defaults: the demo's recipe differs only where it chose */
    *c = demo_train_recipe();
    c->steps = own.steps;
    c->batch = own.batch;
    c->seed = own.seed;
    *recipe = 1;
    hb_log0("train: --recipe demo: the demo's network, optimiser, EMA, loss weights, interpolant and DM inputs");
    return HB_OK;
}

hb_status hb_cmd_train(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'}, {"val", required_argument, 0, 'v'}, {"out", required_argument, 0, 'o'},
        {"steps", required_argument, 0, 's'}, {"batch", required_argument, 0, 'b'}, {"group", required_argument, 0, 'G'},
        {"width", required_argument, 0, 'w'}, {"emb", required_argument, 0, 'E'},
        {"emb-layers", required_argument, 0, 'j'}, {"lr-min", required_argument, 0, 'm'}, {"lr", required_argument, 0, 'l'}, {"warmup", required_argument, 0, 'W'},
        {"weight-decay", required_argument, 0, 'D'}, {"clip", required_argument, 0, 'c'}, {"ema", required_argument, 0, 'e'},
        {"seed", required_argument, 0, 'S'}, {"val-every", required_argument, 0, 'V'}, {"val-samples", required_argument, 0, 'P'},
        {"checkpoint-every", required_argument, 0, 'C'}, {"no-augment", no_argument, 0, 'A'},
        {"sigma-c", required_argument, 0, 'g'}, {"resume", no_argument, 0, 'R'},
        {"resume-changed", no_argument, 0, 'X'}, {"guard", required_argument, 0, 'U'},
        {"guard-window", required_argument, 0, 'u'},
        {"loss-weight", required_argument, 0, 'K'}, {"dm-floor", required_argument, 0, 'f'},
        {"noise-slope", required_argument, 0, 'N'}, {"dm-smooth", required_argument, 0, 'M'},
        {"dm-halo", required_argument, 0, 'Y'}, {"noise-theta", required_argument, 0, 'Z'},
        {"threads", required_argument, 0, 'T'}, {"recipe", required_argument, 0, 'r'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    hb_train_config c = hb_train_config_default();
    int recipe, warmup_given = 0;
    HB_TRY(train_recipe(argc, argv, opts, &c, &recipe));
    const char *data = NULL, *val = NULL;
    long L;
    double X, smr[HB_SMOOTH_MAX_CH], halo[2];
    int nsm, nhalo, smooth_given = 0;
    hb_smooth_split(&c.interp, smr, &nsm, halo, &nhalo);   /* each option replaces its part of a recipe */
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'd': data = optarg; break;
        case 'v': val = optarg; break;
        case 'o': snprintf(c.out, sizeof c.out, "%s", optarg); break;
        case 's': HB_TRY(hb_cli_long("--steps", optarg, &c.steps)); break;
        case 'b': HB_TRY(hb_cli_int("--batch", optarg, &c.batch)); break;
        case 'G': HB_TRY(hb_cli_int("--group", optarg, &c.group)); break;
        case 'w': HB_TRY(hb_cli_int("--width", optarg, &c.width)); break;
        case 'E': HB_TRY(hb_cli_int("--emb", optarg, &c.emb)); break;
        case 'j': HB_TRY(hb_cli_int("--emb-layers", optarg, &c.emb_layers)); break;
        case 'l': HB_TRY(hb_cli_double("--lr", optarg, &c.adam.lr)); break;
        case 'm': HB_TRY(hb_cli_double("--lr-min", optarg, &c.adam.lr_min_frac)); break;
        case 'W': HB_TRY(hb_cli_long("--warmup", optarg, &c.adam.warmup)); warmup_given = 1; break;
        case 'D': HB_TRY(hb_cli_double("--weight-decay", optarg, &c.adam.weight_decay)); break;
        case 'c': HB_TRY(hb_cli_double("--clip", optarg, &c.adam.clip_norm)); break;
        case 'e': HB_TRY(hb_cli_double("--ema", optarg, &c.ema_decay)); break;
        case 'S': HB_TRY(hb_cli_long("--seed", optarg, &L)); c.seed = (uint64_t)L; break;
        case 'V': HB_TRY(hb_cli_long("--val-every", optarg, &c.val_every)); break;
        case 'P': HB_TRY(hb_cli_int("--val-samples", optarg, &c.val_samples)); break;
        case 'C': HB_TRY(hb_cli_long("--checkpoint-every", optarg, &c.ckpt_every)); break;
        case 'A': c.augment = 0; break;
        case 'g': HB_TRY(hb_cli_double("--sigma-c", optarg, &X)); c.interp.sigma_c = X; break;
        case 'R': c.resume = 1; break;
        case 'X': c.resume = c.resume_changed = 1; break;
        case 'U': HB_TRY(hb_cli_double("--guard", optarg, &c.guard_rise)); break;
        case 'u': HB_TRY(hb_cli_long("--guard-window", optarg, &c.guard_window)); break;
        case 'K': HB_TRY(hb_cli_loss_weight("--loss-weight", optarg, c.loss_weight)); break;
        case 'f': HB_TRY(hb_cli_double("--dm-floor", optarg, &c.interp.floor[0])); break;
        case 'N': HB_TRY(hb_cli_double_pair("--noise-slope", optarg, c.interp.noise_slope)); break;
        case 'Z': HB_TRY(hb_cli_noise_theta("--noise-theta", optarg, c.interp.noise_theta)); break;
        case 'M': HB_TRY(hb_cli_double_list("--dm-smooth", optarg, HB_SMOOTH_MAX_CH, smr, &nsm)); smooth_given = 1; break;
        case 'Y': HB_TRY(hb_cli_double_list("--dm-halo", optarg, 2, halo, &nhalo)); smooth_given = 1; break;
        case 'T': HB_TRY(hb_cli_threads(optarg)); break;
        case 'r': break;   /* applied by train_recipe */
        case 'h': hb_cli_usage(train_usage()); return HB_OK;
        default: hb_cli_usage(train_usage()); return HB_EARG;
        }
    }
    if (!data || optind != argc) {
        return HB_ERR0(HB_EARG, "need --data and --out, and no other arguments\n%s", train_usage());
    }
    HB_TRY(hb_cli_check_training(&c, "--steps"));
    HB_TRY(hb_cli_expect(c.group >= 0, "--group", "an integer >= 0 (0: all ranks)", c.group));
    HB_TRY(hb_cli_expect(c.val_every >= 1, "--val-every", "a positive integer", (double)c.val_every));
    HB_TRY(hb_cli_expect(c.val_samples >= 1, "--val-samples", "a positive integer", c.val_samples));
    HB_TRY(hb_cli_expect(c.guard_rise == 0 || (c.guard_rise > 1 && c.guard_rise <= 100), "--guard",
                         "0 (off) or a value within (1, 100]", c.guard_rise));
    HB_TRY(hb_cli_expect(c.guard_window >= 1, "--guard-window", "a positive integer", (double)c.guard_window));
    if (smooth_given) HB_TRY(hb_cli_smooth(&c.interp, nsm, smr, nhalo, halo));
    c.adam.total = c.steps;
    if (recipe && !warmup_given) c.adam.warmup = demo_recipe_warmup(c.steps);
    if (c.adam.warmup >= c.steps) c.adam.warmup = c.steps / 10;
    char **dp = NULL, **vp = NULL;
    int nd = 0, nv = 0;
    HB_TRY(hb_dataset_list(data, &dp, &nd, MPI_COMM_WORLD));
    hb_status rc = val ? hb_dataset_list(val, &vp, &nv, MPI_COMM_WORLD) : HB_OK;
    if (rc == HB_OK) rc = check_train_output(c.out, dp, nd, vp, nv);
    hb_train_install_signals();
    if (rc == HB_OK) rc = hb_train(&c, dp, nd, vp, nv, MPI_COMM_WORLD);
    hb_dataset_free_list(dp, nd);
    if (vp) hb_dataset_free_list(vp, nv);
    return rc;
}

static const char *EMU_USAGE =
    "usage: hydrobridge emulate --model model.h5 [--model m2.h5 ...] --dm dm.h5 --out gas.h5 [--steps K]\n"
    "                           [--sampler heun|em] [--seed S] [--seeds N] [--diffusion L] [--diffusion-from T]\n"
    "                           [--best-of K] [--threads N] [section.key=value ...]\n"
    "Emulate gas density and temperature for a DM box with a trained model, the network spread over\n"
    "the ranks in x-slabs (multiples of 4 planes). The parameters come from the DM file's attributes;\n"
    "cosmology.omega_m, cosmology.sigma_8 and feedback.a_* on the command line override them.\n"
    "--steps: sampler steps (50). --sampler: stochastic Heun (default; two network calls a step) or\n"
    "Euler-Maruyama (one call; first order: too few hot, dense cells even at 400 steps). --seeds N: N\n"
    "samples with seeds S, S+1, ... (--out must hold {seed}, e.g. gas_s{seed}.h5). --diffusion L: the\n"
    "sampler's noise is L sigma(t) from t = --diffusion-from (0.5) on, the drift corrected by the score\n"
    "(no retraining; 0: the probability-flow ODE there); the score makes the drift stiffer, so L < 1\n"
    "needs more steps (100-200). --model given 2-8 times: an ensemble, the drift the mean of the\n"
    "networks' (trainings of one recipe and training set with other seeds; each network runs every step).\n"
    "--best-of K: each sample the best of K candidates (sampler seeds S + k 2^32, k = 0..K-1): the one\n"
    "whose gas mean before normalisation to 1 is nearest 1 (a candidate whose dense tail holds too much\n"
    "or too little gas is passed over); K times the sampling (1: as drawn; up to 16). It meets more\n"
    "validation goals and narrows the samples' spread below the truths' (docs/fidelity.md, \"Best of\n"
    "K\"): not for ensembles whose scatter matters.\n";

/* Every sample's file: distinct, none the model or the DM box. */
static hb_status check_emulate_outputs(const hb_emulate_config *c)
{
    if (c->n_seeds < 1 || c->n_seeds > 10000) return HB_ERR0(HB_EARG, "--seeds %d: expected 1..10000", c->n_seeds);
    char (*names)[sizeof c->out + 32] = malloc((size_t)c->n_seeds * sizeof *names);
    const char **outs = malloc((size_t)c->n_seeds * sizeof *outs);
    if (hb_mpi_any(MPI_COMM_WORLD, !names || !outs)) { free(names); free(outs); return HB_ERR0(HB_ENOMEM, "names"); }
    for (int i = 0; i < c->n_seeds; i++) {
        hb_emulate_output_name(c->out, c->seed + (uint64_t)i, names[i], sizeof names[i]);
        outs[i] = names[i];
    }
    const char *ins[HB_EMULATE_MAX_MODELS + 1] = {c->dm};
    for (int k = 0; k < c->n_models; k++) ins[1 + k] = c->model[k];
    hb_status rc = hb_cli_check_io(outs, c->n_seeds, ins, 1 + c->n_models);
    free(names);
    free(outs);
    return rc;
}

hb_status hb_cmd_emulate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"dm", required_argument, 0, 'd'}, {"out", required_argument, 0, 'o'},
        {"steps", required_argument, 0, 's'}, {"sampler", required_argument, 0, 'S'}, {"seed", required_argument, 0, 'r'},
        {"seeds", required_argument, 0, 'n'}, {"diffusion", required_argument, 0, 'L'},
        {"diffusion-from", required_argument, 0, 'F'}, {"best-of", required_argument, 0, 'B'},
        {"threads", required_argument, 0, 'T'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    hb_emulate_config c = hb_emulate_config_default();
    int have_d = 0, have_o = 0, ch;
    c.n_models = 0;
    long L;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'm':
            if (c.n_models == HB_EMULATE_MAX_MODELS) {
                return HB_ERR0(HB_EARG, "--model %s: at most %d models in an ensemble", optarg, HB_EMULATE_MAX_MODELS);
            }
            snprintf(c.model[c.n_models++], sizeof c.model[0], "%s", optarg);
            break;
        case 'd': snprintf(c.dm, sizeof c.dm, "%s", optarg); have_d = 1; break;
        case 'o': snprintf(c.out, sizeof c.out, "%s", optarg); have_o = 1; break;
        case 's': HB_TRY(hb_cli_int("--steps", optarg, &c.steps)); break;
        case 'S':
            if (strcmp(optarg, "em") && strcmp(optarg, "heun")) return HB_ERR0(HB_EARG, "--sampler %s: expected em or heun", optarg);
            c.heun = strcmp(optarg, "heun") == 0;
            break;
        case 'r': HB_TRY(hb_cli_long("--seed", optarg, &L)); c.seed = (uint64_t)L; break;
        case 'n': HB_TRY(hb_cli_int("--seeds", optarg, &c.n_seeds)); break;
        case 'L': HB_TRY(hb_cli_double("--diffusion", optarg, &c.lambda)); break;
        case 'F': HB_TRY(hb_cli_double("--diffusion-from", optarg, &c.t_switch)); break;
        case 'B':
            HB_TRY(hb_cli_long("--best-of", optarg, &L));
            if (L < 1 || L > HB_EMULATE_MAX_BEST_OF) {
                return HB_ERR0(HB_EARG, "--best-of %s: expected 1 to %d candidates", optarg, HB_EMULATE_MAX_BEST_OF);
            }
            c.best_of = (int)L;
            break;
        case 'T': HB_TRY(hb_cli_threads(optarg)); break;
        case 'h': hb_cli_usage(EMU_USAGE); return HB_OK;
        default: hb_cli_usage(EMU_USAGE); return HB_EARG;
        }
    }
    char *over[64];
    int nover = 0;
    for (int i = optind; i < argc; i++) {
        if (!hb_cli_is_override(argv[i]) || nover == 64) return HB_ERR0(HB_EARG, "unexpected argument \"%s\"\n%s", argv[i], EMU_USAGE);
        over[nover++] = argv[i];
    }
    if (!c.n_models || !have_d || !have_o) return HB_ERR0(HB_EARG, "need --model, --dm and --out\n%s", EMU_USAGE);
    static const char *used[] = {"cosmology.omega_m", "cosmology.sigma_8", "feedback.", NULL};
    HB_TRY(hb_cli_check_overrides("emulate", over, nover, used, NULL));
    HB_TRY(check_emulate_outputs(&c));
    hb_params par;
    HB_TRY(hb_params_load(&par, NULL, nover, over, NULL, MPI_COMM_WORLD));
    hb_cli_theta_overrides(&par, c.theta_override);
    hb_provenance *prov = malloc(sizeof *prov);
    if (hb_mpi_any(MPI_COMM_WORLD, !prov)) { free(prov); return HB_ERR0(HB_ENOMEM, "provenance"); }
    hb_cli_provenance(&par, prov);
    c.prov = prov;
    hb_status rc = hb_emulate(&c, MPI_COMM_WORLD);
    free(prov);
    return rc;
}
