/* hydrobridge demo: what exists so far, end to end, on a small box.
 * Stage 1 (foundation): the linear P(k) of the CAMELS fiducial cosmology, a
 * Gaussian random field drawn from it, written to HDF5, read back, and its
 * measured P(k) against the input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "demo.h"
#include "hb/cosmo.h"
#include "hb/box.h"
#include "hb/h5io.h"
#include "hb/smooth.h"
#include "hb/ic.h"
#include "hb/mesh.h"
#include "hb/mpiutil.h"
#include "hb/pk.h"
#include "hb/emulate.h"
#include "hb/simulate.h"
#include "hb/suite.h"
#include "hb/train.h"
#include "hb/unet.h"
#include "hb/validate.h"

#ifndef HB_DEMO_TABLE   /* CMake sets the checkout's absolute path */
#define HB_DEMO_TABLE "data/camels/CosmoAstroSeed_IllustrisTNG_L25n256_LH.txt"
#endif

/* Every default below is printed from demo_opts_default(): the help cannot drift from the recipe. */
#define DEMO_USAGE_FMT \
    "usage: hydrobridge demo [--out DIR] [options]\n" \
    "The pipeline end to end on small boxes: linear theory, a PM run against linear growth, a suite of\n" \
    "mock-hydro training boxes with parameters from the CAMELS LH table, two held-out boxes and their\n" \
    "truths repainted with other mock seeds (the floor), training the reference network on whole boxes,\n" \
    "several sampler seeds per held-out box, validation against the floor and the fidelity goals.\n" \
    "scripts/demo.sh runs it on 2 ranks and draws the plots. Options (defaults):\n" \
    "  --table FILE (data/camels LH)  --boxes %ld training boxes    --grid %ld  --box %g (Mpc/h; every box)\n" \
    "  --train-steps %ld  --batch %d  --train-seed %llu (weights, batches, interpolant times and noise)\n" \
    "  --lr %g  --lr-min %g (a fraction of --lr)  --weight-decay %g (AdamW's, per unit of --lr)\n" \
    "  --ema %g  --width %d  --emb %d  --emb-layers %d\n" \
    "  --loss-weight %g,%g,%g (K,KV,KP: hydrobridge train --help)\n" \
    "  --dm-assignment %s (cic or tsc)  --dm-floor %g (DM density floor before log10, in units of the mean)\n" \
    "  --dm-smooth %s (cells: one smoothed-DM input channel per radius; 0: none; hydrobridge train --help)\n" \
    "  --dm-halo %s (one more channel: the DM above T times the mean smoothed by R cells; 0: none)\n" \
    "  --sigma-c %g  --noise-slope %g,%g (gas,temperature)  --noise-theta NAME:C[,C2] (none; train --help)\n" \
    "  --emulate-steps %ld  --sampler %s (heun or em)  --seeds %ld  --repaints %ld\n" \
    "  --best-of %ld (each sample the best of K candidates by its gas mean; hydrobridge emulate --help)\n" \
    "  --held NAME,... (1-8 table rows to hold out, inside the training rows' range; default: LH_67,LH_68,\n" \
    "    the first two rows from row 64 on inside the range of the rows before it)\n" \
    "  --diffusion %g --diffusion-from %g (the sampler's noise, hydrobridge emulate --help)\n" \
    "  --model FILE (no training: emulate with FILE, which must have been trained on this demo's training\n" \
    "    boxes, the same --table, --boxes, --grid and --box; the training options above are then unused)\n"

static const char *demo_usage(void)
{
    static char text[4096];
    if (text[0]) return text;
    const demo_opts o = demo_opts_default();
    const hb_train_config *t = &o.train;
    char smooth[96], h[64];
    hb_cli_smooth_values(&t->interp, smooth, sizeof smooth, h, sizeof h);
    snprintf(text, sizeof text, DEMO_USAGE_FMT, o.boxes, o.grid, o.box, t->steps, t->batch,
             (unsigned long long)t->seed, t->adam.lr, t->adam.lr_min_frac, t->adam.weight_decay, t->ema_decay, t->width,
             t->emb, t->emb_layers, t->loss_weight[0], t->loss_weight[1], t->loss_weight[2], o.tsc ? "tsc" : "cic",
             t->interp.floor[0], smooth, h, t->interp.sigma_c, t->interp.noise_slope[0], t->interp.noise_slope[1],
             o.emu_steps, o.heun ? "heun" : "em", o.seeds, o.repaints, o.best_of, o.lambda, o.t_switch);
    return text;
}

static hb_status demo_grf(const char *dir, const hb_params *par)
{
    hb_cosmo_config cc = hb_cli_cosmo(par);
    hb_cosmo cosmo;
    HB_TRY(hb_cosmo_init(&cosmo, &cc));
    hb_log0("cosmology: Omega_m = %.3f, sigma_8 = %.3f -> A = %.5e (Mpc/h)^%.4f, "
            "sigma(8 Mpc/h) = %.5f, D1(z=1) = %.6f",
            cc.omega_m, cc.sigma_8, cosmo.A, 3 + cc.n_s, hb_cosmo_sigma_r(&cosmo, 8, 0),
            hb_cosmo_d1(&cosmo, 0.5));

    const int N = 64;
    const double L = 25.0;
    hb_mesh m;
    hb_status rc = hb_mesh_init(&m, N, L, MPI_COMM_WORLD, FFTW_ESTIMATE);
    if (rc != HB_OK) { hb_cosmo_free(&cosmo); return rc; }
    float *buf = hb_mesh_alloc(&m);
    hb_ic_gaussian_k(&m, hb_ic_plin_z0, &cosmo, 42, 0, buf);
    hb_mesh_c2r(&m, buf);
    for (ptrdiff_t i = 0; i < 2 * m.alloc_local; i++) buf[i] += 1.0f;   /* store 1 + delta */

    char path[1024];
    snprintf(path, sizeof path, "%s/grf_linear.h5", dir);
    hb_h5 f;
    hb_boxinfo bi = hb_cli_boxinfo(par, 0.0);
    bi.box_size = L;
    bi.seed = 42;
    hb_box_fields none = {N, (long)m.x0, (long)m.nx_local, (size_t)m.zpad, {NULL, NULL, NULL}, {NULL, NULL, NULL}};
    hb_provenance *prov = malloc(sizeof *prov);
    rc = hb_mpi_any(MPI_COMM_WORLD, !prov) ? HB_ERR0(HB_ENOMEM, "provenance") : HB_OK;
    if (rc == HB_OK) {
        hb_cli_provenance(par, prov);
        rc = hb_box_create(&f, path, MPI_COMM_WORLD, &none, &bi, NULL, 0, prov);
    }
    free(prov);
    if (rc == HB_OK) {
        rc = hb_h5_write_mesh_field(&f, "/fields/linear_density", &m, buf, "none");
        if (rc == HB_OK) rc = hb_h5_commit(&f);
        else hb_h5_abort(&f);
    }
    hb_log0("wrote a Gaussian random field (linear P(k), z = 0, %d^3, %g Mpc/h) to %s", N, L, path);

    /* Read it back and measure its spectrum against the input, bin by bin. */
    memset(buf, 0, 2 * (size_t)m.alloc_local * sizeof *buf);
    if (rc == HB_OK) rc = hb_h5_open(&f, path, MPI_COMM_WORLD);
    if (rc == HB_OK) {
        rc = hb_h5_read_mesh_field(&f, "/fields/linear_density", &m, buf);
        hb_h5_close(&f);
    }
    hb_pk pk = {0};
    if (rc == HB_OK) rc = hb_pk_to_delta(&m, buf, NULL);
    if (rc == HB_OK) rc = hb_pk_compute(&pk, &m, buf, NULL, HB_MAS_NONE, HB_MAS_NONE);
    double model[256];
    if (rc == HB_OK) rc = hb_pk_bin_model(&pk, &m, hb_ic_plin_z0, &cosmo, model);
    if (rc == HB_OK) {
        hb_log0("%10s %12s %12s %8s %8s %10s", "k[h/Mpc]", "P_meas", "P_lin", "ratio", "modes", "1/sqrt(n)");
        for (int j = 0; j < pk.nbins && pk.k[j] < 0.5 * M_PI * N / L; j += (j < 8 ? 1 : 4)) {
            hb_log0("%10.4f %12.5e %12.5e %8.4f %8ld %10.4f", pk.k[j], pk.p11[j], model[j],
                    pk.p11[j] / model[j], pk.nmodes[j], 1 / sqrt((double)pk.nmodes[j]));
        }
    }
    hb_pk_free(&pk);
    fftwf_free(buf);
    hb_mesh_free(&m);
    hb_cosmo_free(&cosmo);
    return rc;
}

typedef struct { const hb_cosmo *c; double z; } plin_at;
static double plin_z(double k, void *vp)
{
    const plin_at *p = vp;
    return hb_cosmo_plin(p->c, k, p->z);
}

/* Measured P(k) of a box file's dm_density against linear theory, binned alike. */
static hb_status compare_linear(const char *path, const hb_cosmo *cosmo)
{
    hb_h5 f;
    HB_TRY(hb_h5_open(&f, path, MPI_COMM_WORLD));
    int N;
    hb_boxinfo bi;
    hb_status rc = hb_h5_field_size(&f, HB_FIELD_DM, &N);
    if (rc == HB_OK) rc = hb_box_read_info(&f, &bi);
    hb_mesh m;
    if (rc == HB_OK) rc = hb_mesh_init(&m, N, bi.box_size, MPI_COMM_WORLD, FFTW_ESTIMATE);
    if (rc != HB_OK) { hb_h5_close(&f); return rc; }
    float *buf = hb_mesh_alloc(&m);
    rc = hb_h5_read_mesh_field(&f, HB_FIELD_DM, &m, buf);
    hb_h5_close(&f);
    hb_pk pk = {0};
    if (rc == HB_OK) rc = hb_pk_to_delta(&m, buf, NULL);
    if (rc == HB_OK) rc = hb_pk_compute(&pk, &m, buf, NULL, HB_MAS_CIC, HB_MAS_CIC);
    double model[512];
    plin_at pa = {cosmo, bi.redshift};
    if (rc == HB_OK) rc = hb_pk_bin_model(&pk, &m, plin_z, &pa, model);
    if (rc == HB_OK) {
        hb_log0("%s (z = %.1f): measured P(k) against linear theory", path, bi.redshift);
        hb_log0("%10s %12s %12s %8s", "k[h/Mpc]", "P_sim", "P_lin", "ratio");
        for (int j = 0; j < pk.nbins && pk.k[j] < 0.5 * M_PI * N / bi.box_size; j += (j < 4 ? 1 : 4)) {
            hb_log0("%10.3f %12.4e %12.4e %8.3f", pk.k[j], pk.p11[j], model[j], pk.p11[j] / model[j]);
        }
    }
    hb_pk_free(&pk);
    fftwf_free(buf);
    hb_mesh_free(&m);
    return rc;
}

static hb_status demo_pm(const char *dir)
{
    char file[1100], ovf[1200];
    snprintf(file, sizeof file, "%s/demo_dm_z{z}.h5", dir);
    snprintf(ovf, sizeof ovf, "output.file=%s", file);
    char *over[] = {"cosmology.omega_m=0.3", "cosmology.sigma_8=0.8", "simulation.box_size=100",
                    "simulation.n_particles=64", "simulation.z_init=9", "simulation.z_out=3,0",
                    "simulation.n_steps=10", "simulation.seed=7", "simulation.fixed_amplitude=1", ovf};
    hb_params par;
    HB_TRY(hb_params_load(&par, NULL, 10, over, NULL, MPI_COMM_WORLD));
    hb_provenance *prov = malloc(sizeof *prov);
    hb_sim_config *sc = malloc(sizeof *sc);
    hb_status rc = hb_mpi_any(MPI_COMM_WORLD, !prov || !sc) ? HB_ERR0(HB_ENOMEM, "configuration") : HB_OK;
    if (rc == HB_OK) {
        hb_cli_provenance(&par, prov);
        rc = hb_cli_sim_config(&par, prov, sc);
    }
    if (rc == HB_OK) rc = hb_simulate(sc, MPI_COMM_WORLD);
    hb_cosmo cosmo;
    if (rc == HB_OK) rc = hb_cosmo_init(&cosmo, &sc->cosmo);
    for (int i = 0; rc == HB_OK && i < sc->n_out; i++) {
        char path[1200];
        hb_sim_output_name(sc, sc->z_out[i], path, sizeof path);
        rc = compare_linear(path, &cosmo);
    }
    free(prov);
    free(sc);
    HB_TRY(rc);
    hb_log0("(fixed-amplitude ICs, k up to half the particle Nyquist: at z = 3 large scales follow\n"
            " linear growth; at z = 0 nonlinear collapse boosts small scales, and in a 100 Mpc/h box\n"
            " mode coupling already moves the few largest modes by ~10%%)");
    hb_cosmo_free(&cosmo);
    return rc;
}

/* The demo's options into o; HB_ESTOP for --help. */
static hb_status demo_options(int argc, char **argv, demo_opts *o)
{
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'}, {"table", required_argument, 0, 't'}, {"boxes", required_argument, 0, 'b'},
        {"grid", required_argument, 0, 'g'}, {"box", required_argument, 0, 'G'},
        {"train-steps", required_argument, 0, 's'}, {"batch", required_argument, 0, 'B'}, {"lr", required_argument, 0, 'l'},
        {"lr-min", required_argument, 0, 'Z'}, {"weight-decay", required_argument, 0, 'D'},
        {"train-seed", required_argument, 0, 'T'},
        {"ema", required_argument, 0, 'E'}, {"width", required_argument, 0, 'w'},
        {"emb", required_argument, 0, 'W'}, {"emb-layers", required_argument, 0, 'j'},
        {"emulate-steps", required_argument, 0, 'e'}, {"seeds", required_argument, 0, 'S'},
        {"best-of", required_argument, 0, 'k'},
        {"repaints", required_argument, 0, 'r'}, {"diffusion", required_argument, 0, 'L'},
        {"diffusion-from", required_argument, 0, 'F'}, {"loss-weight", required_argument, 0, 'K'},
        {"sampler", required_argument, 0, 'm'}, {"dm-assignment", required_argument, 0, 'a'},
        {"dm-floor", required_argument, 0, 'f'}, {"sigma-c", required_argument, 0, 'c'},
        {"noise-slope", required_argument, 0, 'n'}, {"dm-smooth", required_argument, 0, 'M'},
        {"dm-halo", required_argument, 0, 'Y'}, {"noise-theta", required_argument, 0, 'N'},
        {"held", required_argument, 0, 'H'}, {"model", required_argument, 0, 'O'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    hb_train_config *t = &o->train;
    /* --dm-smooth and --dm-halo start from the defaults' channels, each option replacing its own */
    double smr[HB_SMOOTH_MAX_CH], halo[2];
    int nsm, nhalo, c;
    hb_smooth_split(&t->interp, smr, &nsm, halo, &nhalo);
    long seed = (long)t->seed;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': o->dir = optarg; break;
        case 'H': o->held = optarg; break;
        case 'O': o->model = optarg; break;
        case 't': o->table = optarg; break;
        case 'b': HB_TRY(hb_cli_long("--boxes", optarg, &o->boxes)); break;
        case 'g': HB_TRY(hb_cli_long("--grid", optarg, &o->grid)); break;
        case 'G': HB_TRY(hb_cli_double("--box", optarg, &o->box)); break;
        case 's': HB_TRY(hb_cli_long("--train-steps", optarg, &t->steps)); break;
        case 'B': HB_TRY(hb_cli_int("--batch", optarg, &t->batch)); break;
        case 'T': HB_TRY(hb_cli_long("--train-seed", optarg, &seed)); break;
        case 'l': HB_TRY(hb_cli_double("--lr", optarg, &t->adam.lr)); break;
        case 'Z': HB_TRY(hb_cli_double("--lr-min", optarg, &t->adam.lr_min_frac)); break;
        case 'D': HB_TRY(hb_cli_double("--weight-decay", optarg, &t->adam.weight_decay)); break;
        case 'E': HB_TRY(hb_cli_double("--ema", optarg, &t->ema_decay)); break;
        case 'w': HB_TRY(hb_cli_int("--width", optarg, &t->width)); break;
        case 'W': HB_TRY(hb_cli_int("--emb", optarg, &t->emb)); break;
        case 'j': HB_TRY(hb_cli_int("--emb-layers", optarg, &t->emb_layers)); break;
        case 'e': HB_TRY(hb_cli_long("--emulate-steps", optarg, &o->emu_steps)); break;
        case 'S': HB_TRY(hb_cli_long("--seeds", optarg, &o->seeds)); break;
        case 'k': HB_TRY(hb_cli_long("--best-of", optarg, &o->best_of)); break;
        case 'r': HB_TRY(hb_cli_long("--repaints", optarg, &o->repaints)); break;
        case 'L': HB_TRY(hb_cli_double("--diffusion", optarg, &o->lambda)); break;
        case 'F': HB_TRY(hb_cli_double("--diffusion-from", optarg, &o->t_switch)); break;
        case 'K': HB_TRY(hb_cli_loss_weight("--loss-weight", optarg, t->loss_weight)); break;
        case 'f': HB_TRY(hb_cli_double("--dm-floor", optarg, &t->interp.floor[0])); break;
        case 'c': HB_TRY(hb_cli_double("--sigma-c", optarg, &t->interp.sigma_c)); break;
        case 'n': HB_TRY(hb_cli_double_pair("--noise-slope", optarg, t->interp.noise_slope)); break;
        case 'N': HB_TRY(hb_cli_noise_theta("--noise-theta", optarg, t->interp.noise_theta)); break;
        case 'M': HB_TRY(hb_cli_double_list("--dm-smooth", optarg, HB_SMOOTH_MAX_CH, smr, &nsm)); break;
        case 'Y': HB_TRY(hb_cli_double_list("--dm-halo", optarg, 2, halo, &nhalo)); break;
        case 'm':
            if (strcmp(optarg, "em") && strcmp(optarg, "heun")) return HB_ERR0(HB_EARG, "--sampler %s: expected em or heun", optarg);
            o->heun = strcmp(optarg, "heun") == 0;
            break;
        case 'a':
            if (strcmp(optarg, "cic") && strcmp(optarg, "tsc")) return HB_ERR0(HB_EARG, "--dm-assignment %s: expected cic or tsc", optarg);
            o->tsc = strcmp(optarg, "tsc") == 0;
            break;
        case 'h': hb_cli_usage(demo_usage()); return HB_ESTOP;
        default: hb_cli_usage(demo_usage()); return HB_EARG;
        }
    }
    if (optind != argc) {
        return HB_ERR0(HB_EARG, "demo: unexpected argument \"%s\"\n%s", argv[optind], demo_usage());
    }
    HB_TRY(hb_cli_expect(o->boxes >= 2, "--boxes", "an integer >= 2", (double)o->boxes));
    HB_TRY(hb_cli_expect(o->grid >= 8 && o->grid % 4 == 0, "--grid", "a multiple of 4, at least 8", (double)o->grid));
    HB_TRY(hb_cli_expect(o->box > 0, "--box", "a side > 0 [Mpc/h]", o->box));
    HB_TRY(hb_cli_expect(seed >= 0, "--train-seed", "an integer >= 0", (double)seed));
    t->seed = (uint64_t)seed;
    HB_TRY(hb_cli_check_training(t, "--train-steps"));
    HB_TRY(hb_cli_expect(t->interp.sigma_c > 0, "--sigma-c", "a value > 0", t->interp.sigma_c));
    HB_TRY(hb_cli_smooth(&t->interp, nsm, smr, nhalo, halo));
    HB_TRY(hb_cli_expect(o->emu_steps >= 1, "--emulate-steps", "a positive integer", (double)o->emu_steps));
    HB_TRY(hb_cli_expect(o->seeds >= 1 && o->seeds <= 64, "--seeds", "1-64 sampler seeds", (double)o->seeds));
    HB_TRY(hb_cli_expect(o->best_of >= 1 && o->best_of <= HB_EMULATE_MAX_BEST_OF, "--best-of",
                         "1-" HB_UNET_STR(HB_EMULATE_MAX_BEST_OF) " candidates", (double)o->best_of));
    HB_TRY(hb_cli_expect(o->repaints >= 0 && o->repaints <= 64, "--repaints", "0-64 repaints", (double)o->repaints));
    return HB_OK;
}

/* Stages 1-2, then the pipeline on the selected rows. */
static hb_status demo_run(const demo_opts *o, const hb_suite_row *sel)
{
    const char *dir = o->dir;
    char hash[64] = "";
    if (o->model) HB_TRY(demo_model_hash(o->model, hash, sizeof hash));   /* a wrong file fails now, not after stage 3 */
    if (hb_world_rank() == 0) mkdir(dir, 0755);
    HB_TRY(hb_mpi(MPI_Barrier(MPI_COMM_WORLD)));
    char *over[] = {"cosmology.omega_m=0.3", "cosmology.sigma_8=0.8"};
    hb_params par;
    HB_TRY(hb_params_load(&par, NULL, 2, over, NULL, MPI_COMM_WORLD));
    double t0 = hb_now();
    hb_log0("== hydrobridge demo: output in %s/ ==", dir);
    hb_log0("-- stage 1: linear theory and a Gaussian random field --");
    HB_TRY(demo_grf(dir, &par));
    hb_log0("-- stage 2: particle-mesh simulation, 64^3 particles in 100 Mpc/h --");
    HB_TRY(demo_pm(dir));
    HB_TRY(demo_pipeline(o, sel, hash));
    hb_log0("== demo finished in %.1f s ==", hb_now() - t0);
    return HB_OK;
}

hb_status hb_cmd_demo(int argc, char **argv)
{
    demo_opts o = demo_opts_default();
    hb_status rc = demo_options(argc, argv, &o);
    if (rc == HB_ESTOP) return HB_OK;
    HB_TRY(rc);
    hb_suite_row *sel;
    HB_TRY(demo_select_rows(&o, &sel));   /* a short table is refused before any work */
    rc = demo_run(&o, sel);
    free(sel);
    return rc;
}
