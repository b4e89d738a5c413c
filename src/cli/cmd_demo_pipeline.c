/* hydrobridge demo, stages 3-6: training boxes and held-out boxes from the
 * CAMELS table (PM + mock hydro), the held-out truths repainted with other
 * mock seeds (the floor), training, several sampler seeds per held-out box,
 * validation against the floor and the fidelity goals. Files:
 *   DIR/train/<name>.h5, DIR/heldout/<name>.h5 (truth), DIR/floor/<name>_m<mock seed>.h5,
 *   DIR/emulated/<name>_s<seed>.h5, DIR/model.h5, DIR/report.txt, DIR/report.h5. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "demo.h"
#include "hb/emulate.h"
#include "hb/mock.h"
#include "hb/mpiutil.h"
#include "hb/smooth.h"
#include "hb/suite.h"
#include "hb/train.h"
#include "hb/validate.h"

#ifndef HB_DEMO_TABLE   /* CMake sets the checkout's absolute path */
#define HB_DEMO_TABLE "data/camels/CosmoAstroSeed_IllustrisTNG_L25n256_LH.txt"
#endif

#define N_HELD 2      /* held-out rows by the rule (demo_select_rows) */
#define HELD_FROM 64   /* held-out rows: from this row of the table on */
#define MOCK_SEED0 1000   /* repaint k uses mock.seed = MOCK_SEED0 + k */

hb_train_config demo_train_recipe(void)
{
    hb_train_config t = hb_train_config_default();
    t.steps = 5000;
    t.batch = 1;
    t.width = 16;
    t.emb = 64;
    t.emb_layers = 2;
    t.seed = 1;
    t.adam.lr = 1e-3;
    t.adam.lr_min_frac = 0.05;
    t.ema_decay = 0.99;
    t.loss_weight[0] = t.loss_weight[1] = 0.25;
    t.loss_weight[2] = 0.5;
    t.interp.floor[0] = 0.05;
    t.interp.sigma_c = 0.5;
    t.interp.noise_slope[0] = 0.3;
    t.interp.noise_slope[1] = 0.1;
    const double r = 1, halo[2] = {3, 1.5};
    hb_smooth_set(&t.interp, 1, &r, 2, halo);
    return t;
}

demo_opts demo_opts_default(void)
{
    demo_opts o = {.dir = "demo_out", .table = HB_DEMO_TABLE, .boxes = 64, .grid = 32, .box = 12.5, .emu_steps = 50,
                   .seeds = 4, .best_of = 1, .repaints = 8, .lambda = 1.0, .t_switch = 0.5, .heun = 1, .tsc = 1};
    o.train = demo_train_recipe();
    return o;
}

/* The parameter range of rows[0, n). */
static void param_range(const hb_suite_row *rows, int n, double lo[HB_NTHETA], double hi[HB_NTHETA])
{
    for (int k = 0; k < HB_NTHETA; k++) {
        lo[k] = 1e300;
        hi[k] = -1e300;
        for (int i = 0; i < n; i++) {
            lo[k] = fmin(lo[k], rows[i].theta[k]);
            hi[k] = fmax(hi[k], rows[i].theta[k]);
        }
    }
}

/* The rule: the first N_HELD rows from row HELD_FROM on whose parameters lie
 * inside the range of the rows before it (emulate refuses extrapolation), so
 * they stay the same (LH_67, LH_68 of the CAMELS table) for any number of
 * training boxes (with boxes <= HELD_FROM, the first rows and a range of
 * their own). */
static hb_status held_by_rule(const demo_opts *o, const hb_suite_row *rows, int n, int *held, int *nh)
{
    const int from = o->boxes < HELD_FROM ? (int)o->boxes : HELD_FROM;
    double lo[HB_NTHETA], hi[HB_NTHETA];
    param_range(rows, from, lo, hi);
    *nh = 0;
    for (int i = from; i < n && *nh < N_HELD; i++) {
        int inside = 1;
        for (int k = 0; k < HB_NTHETA; k++) inside &= rows[i].theta[k] >= lo[k] && rows[i].theta[k] <= hi[k];
        if (inside) held[(*nh)++] = i;
    }
    if (*nh < N_HELD) return HB_ERR0(HB_EARG, "no %d rows of %s lie inside the range of its first %d", N_HELD, o->table, from);
    return HB_OK;
}

/* The rows o->held names, each once. */
static hb_status held_by_name(const demo_opts *o, const hb_suite_row *rows, int n, int *held, int *nh)
{
    char buf[512];
    if (snprintf(buf, sizeof buf, "%s", o->held) >= (int)sizeof buf) return HB_ERR0(HB_EARG, "--held: too long");
    *nh = 0;
    for (char *p = buf, *comma; p; p = comma ? comma + 1 : NULL) {
        comma = strchr(p, ',');
        if (comma) *comma = 0;
        if (*nh == HB_DEMO_MAX_HELD) return HB_ERR0(HB_EARG, "--held %s: at most %d rows", o->held, HB_DEMO_MAX_HELD);
        int i = 0;
        while (i < n && strcmp(rows[i].name, p)) i++;
        if (i == n) return HB_ERR0(HB_EARG, "--held: no row \"%s\" in %s", p, o->table);
        for (int h = 0; h < *nh; h++)
            if (held[h] == i) return HB_ERR0(HB_EARG, "--held %s: row %s named twice", o->held, p);
        held[(*nh)++] = i;
    }
    return HB_OK;
}

/* Each named held-out row sel[nt, nt + nh) inside the range of the training
 * rows sel[0, nt) (emulate refuses to extrapolate). */
static hb_status held_inside(const hb_suite_row *sel, int nt, int nh)
{
    double lo[HB_NTHETA], hi[HB_NTHETA];
    param_range(sel, nt, lo, hi);
    for (int h = nt; h < nt + nh; h++) {
        for (int k = 0; k < HB_NTHETA; k++) {
            const double v = sel[h].theta[k];
            if (v < lo[k] || v > hi[k]) {
                return HB_ERR0(HB_EARG, "--held: %s has %s = %g, outside the range [%g, %g] of the %d training rows "
                               "(emulate refuses to extrapolate)", sel[h].name, HB_THETA[k].name, v, lo[k], hi[k], nt);
            }
        }
    }
    return HB_OK;
}

/* The held-out rows (named or by the rule), then the training rows: the
 * first `boxes` rows that are not held out. */
hb_status demo_select_rows(demo_opts *o, hb_suite_row **out)
{
    *out = NULL;
    hb_suite_row *rows = NULL;
    int n = 0, nh = 0, held[HB_DEMO_MAX_HELD];
    HB_TRY(hb_suite_read_table(o->table, &rows, &n, MPI_COMM_WORLD));
    const int nt = (int)o->boxes;
    hb_status rc = o->held ? held_by_name(o, rows, n, held, &nh) : held_by_rule(o, rows, n, held, &nh);
    if (rc == HB_OK && n < nt + nh) rc = HB_ERR0(HB_EARG, "%s has %d rows; the demo needs %d", o->table, n, nt + nh);
    hb_suite_row *sel = NULL;
    if (rc == HB_OK) {
        sel = malloc((size_t)(nt + nh) * sizeof *sel);
        if (!sel) rc = HB_ERR(HB_ENOMEM, "%d table rows", nt + nh);
    }
    if (rc != HB_OK) {
        free(rows);
        return rc;
    }
    for (int h = 0; h < nh; h++) sel[nt + h] = rows[held[h]];
    for (int i = 0, m = 0; m < nt; i++) {
        int held_out = 0;
        for (int h = 0; h < nh; h++) held_out |= i == held[h];
        if (!held_out) sel[m++] = rows[i];
    }
    free(rows);
    if (o->held && (rc = held_inside(sel, nt, nh)) != HB_OK) {
        free(sel);
        return rc;
    }
    o->n_held = nh;
    *out = sel;
    return HB_OK;
}

/* A suite configuration of grid^3 particles and cells in box Mpc/h. */
static hb_status suite_config(const demo_opts *o, long grid, double box, hb_suite_config *sc)
{
    char npart[64], ngrid[64], bs[64], mas[64];
    snprintf(npart, sizeof npart, "simulation.n_particles=%ld", grid);
    snprintf(ngrid, sizeof ngrid, "simulation.n_grid=%ld", grid);
    snprintf(bs, sizeof bs, "simulation.box_size=%.10g", box);
    snprintf(mas, sizeof mas, "output.mass_assignment=%s", o->tsc ? "tsc" : "cic");
    char *over[] = {"cosmology.omega_m=0.3", "cosmology.sigma_8=0.8", npart, ngrid, bs, mas, "simulation.n_steps=10"};
    hb_params par;
    HB_TRY(hb_params_load(&par, NULL, 7, over, NULL, MPI_COMM_WORLD));
    hb_cli_provenance(&par, &sc->prov);
    HB_TRY(hb_cli_sim_config(&par, &sc->prov, &sc->sim));
    sc->mock = hb_cli_mock(&par, 0);
    sc->mock_seed = hb_params_int(&par, "mock.seed");
    return HB_OK;
}

/* Stage 3: training boxes and held-out boxes, both grid^3 in box Mpc/h (an
 * emulator is valid for the volume it was trained on: trained on 12.5 Mpc/h
 * boxes, it missed most goals on 25 Mpc/h ones, README); the held-out
 * truths repainted with other mock seeds (the floor). */
static hb_status demo_suite(const demo_opts *o, const hb_suite_row *sel, char dirs[4][1100])
{
    hb_suite_config *sc = malloc(sizeof *sc);
    if (hb_mpi_any(MPI_COMM_WORLD, !sc)) { free(sc); return HB_ERR0(HB_ENOMEM, "suite configuration"); }
    if (hb_world_rank() == 0)
        for (int d = 0; d < 4; d++) mkdir(dirs[d], 0755);
    hb_status rc = hb_mpi(MPI_Barrier(MPI_COMM_WORLD));
    const int nt = (int)o->boxes;
    hb_log0("-- stage 3: %d training boxes and %d held-out boxes (%ld^3 in %g Mpc/h) from %s, PM + mock hydro; "
            "%ld repaints of each held-out truth --", nt, o->n_held, o->grid, o->box, o->table, o->repaints);
    if (rc == HB_OK) rc = suite_config(o, o->grid, o->box, sc);
    if (rc == HB_OK) rc = hb_suite_run(sc, sel, 0, nt, dirs[0], MPI_COMM_WORLD);
    if (rc == HB_OK) rc = hb_suite_run(sc, sel, nt, nt + o->n_held, dirs[1], MPI_COMM_WORLD);
    double none[HB_NTHETA];
    hb_theta_none(none);
    for (int h = 0; h < o->n_held && rc == HB_OK; h++) {
        char truth[1200], out[1300];
        snprintf(truth, sizeof truth, "%s/%s.h5", dirs[1], sel[nt + h].name);
        for (long k = 1; k <= o->repaints && rc == HB_OK; k++) {
            snprintf(out, sizeof out, "%s/%s_m%ld.h5", dirs[2], sel[nt + h].name, MOCK_SEED0 + k);
            rc = hb_mock_paint_file(truth, out, &sc->mock, MOCK_SEED0 + k, none, &sc->prov, MPI_COMM_WORLD);
        }
    }
    free(sc);
    return rc;
}

/* Ranks per box: the fewest (dividing the rank count) that leave no group
 * without a box of the batch; with a batch of one box, one box over all
 * ranks (domain-decomposed). */
static int demo_group(int nranks, long batch)
{
    int g = 1;
    while (nranks % g || nranks / g > batch) g++;
    return g;
}

/* Stage 4: training the reference network on whole boxes. */
static hb_status demo_train(const demo_opts *o, const char *train_dir, const char *val_dir, char *model, size_t cap)
{
    int nranks;
    HB_TRY(hb_mpi(MPI_Comm_size(MPI_COMM_WORLD, &nranks)));
    hb_train_config tc = o->train;
    tc.group = demo_group(nranks, tc.batch);
    hb_log0("-- stage 4: training the reference network (w = %d) on whole %ld^3 boxes, %ld steps of %d box%s, "
            "%d rank%s per box --", tc.width, o->grid, tc.steps, tc.batch, tc.batch == 1 ? "" : "es", tc.group,
            tc.group == 1 ? "" : "s");
    tc.adam.warmup = demo_recipe_warmup(tc.steps);
    tc.adam.total = tc.steps;
    tc.val_every = tc.steps / 4 > 0 ? tc.steps / 4 : 1;
    tc.ckpt_every = 0;
    snprintf(tc.out, sizeof tc.out, "%s/model.h5", o->dir);
    snprintf(model, cap, "%s", tc.out);
    char **dp = NULL, **vp = NULL;
    int nd = 0, nv = 0;
    (void)val_dir;   /* held-out boxes are larger than the training boxes: no validation loss */
    HB_TRY(hb_dataset_list(train_dir, &dp, &nd, MPI_COMM_WORLD));
    hb_status rc = hb_train(&tc, dp, nd, vp, nv, MPI_COMM_WORLD);
    hb_dataset_free_list(dp, nd);
    return rc;
}

/* Stage 4 with --model: no training. The model must have been trained on
 * the training boxes just written: the hash of their names, as a resume
 * compares it (emulate then checks the cell size, the parameter range and
 * the DM's mass assignment, --dm-assignment). */
hb_status demo_model_hash(const char *model, char *hash, size_t cap)
{
    hb_h5 f;
    HB_TRY(hb_h5_open(&f, model, MPI_COMM_WORLD));
    hb_status rc = HB_OK;
    hash[0] = 0;
    if (hb_h5_attr_exists(&f, "/", "data_files_hash")) rc = hb_h5_attr_read_string(&f, "/", "data_files_hash", hash, cap);
    else rc = HB_ERR0(HB_EARG, "demo --model %s: no data_files_hash attribute: not a model written by train", model);
    hb_h5_close(&f);
    return rc;
}

static hb_status demo_reuse(const demo_opts *o, const char *got, const char *train_dir, char *model, size_t cap)
{
    char **dp = NULL, want[20];
    int nd = 0;
    HB_TRY(hb_dataset_list(train_dir, &dp, &nd, MPI_COMM_WORLD));
    hb_train_data_hash(dp, nd, want);
    hb_dataset_free_list(dp, nd);
    if (strcmp(got, want) != 0) {
        return HB_ERR0(HB_EARG, "demo --model %s: trained on other files (their names' hash %s; this demo's %d training "
                       "boxes in %s: %s); give the demo the --table, --boxes, --grid and --box the model was trained "
                       "with, or leave out --model", o->model, got, nd, train_dir, want);
    }
    hb_log0("-- stage 4: no training: %s was trained on these %d boxes (their names' hash %s) --", o->model, nd, want);
    snprintf(model, cap, "%s", o->model);
    return HB_OK;
}

/* Stage 5: every held-out box, o->seeds sampler seeds. */
static hb_status demo_emulate(const demo_opts *o, const hb_suite_row *held, const char *model, char dirs[4][1100])
{
    hb_log0("-- stage 5: emulating the %d held-out boxes, %ld seeds each, each the best of %ld candidates (%ld %s "
            "steps, diffusion %g sigma from t = %g) --", o->n_held, o->seeds, o->best_of, o->emu_steps,
            o->heun ? "Heun" : "Euler-Maruyama", o->lambda, o->t_switch);
    for (int h = 0; h < o->n_held; h++) {
        hb_emulate_config ec = hb_emulate_config_default();
        snprintf(ec.model[0], sizeof ec.model[0], "%s", model);
        snprintf(ec.dm, sizeof ec.dm, "%s/%s.h5", dirs[1], held[h].name);
        snprintf(ec.out, sizeof ec.out, "%s/%s_s{seed}.h5", dirs[3], held[h].name);
        ec.steps = (int)o->emu_steps;
        ec.heun = o->heun;
        ec.seed = 1;
        ec.n_seeds = (int)o->seeds;
        ec.best_of = (int)o->best_of;
        ec.lambda = o->lambda;
        ec.t_switch = o->t_switch;
        HB_TRY(hb_emulate(&ec, MPI_COMM_WORLD));
    }
    return HB_OK;
}

/* Stage 6: the report against the floor, and the goals. */
static hb_status demo_validate(const demo_opts *o, const hb_suite_row *held, char dirs[4][1100])
{
    hb_log0("-- stage 6: validating the emulated boxes against the mock truth and its floor --");
    static char names[HB_DEMO_MAX_HELD][2][64][1200];   /* repaints, samples */
    static char *ptr[HB_DEMO_MAX_HELD][2][64];
    hb_val_group g[HB_DEMO_MAX_HELD];
    static char truth[HB_DEMO_MAX_HELD][1200];
    for (int h = 0; h < o->n_held; h++) {
        snprintf(truth[h], sizeof truth[h], "%s/%s.h5", dirs[1], held[h].name);
        for (int k = 0; k < o->repaints; k++) {
            snprintf(names[h][0][k], sizeof names[h][0][k], "%s/%s_m%d.h5", dirs[2], held[h].name, MOCK_SEED0 + k + 1);
            ptr[h][0][k] = names[h][0][k];
        }
        for (int k = 0; k < o->seeds; k++) {
            snprintf(names[h][1][k], sizeof names[h][1][k], "%s/%s_s%d.h5", dirs[3], held[h].name, k + 1);
            ptr[h][1][k] = names[h][1][k];
        }
        hb_val_group gg = {truth[h], ptr[h][0], (int)o->repaints, ptr[h][1], (int)o->seeds};
        g[h] = gg;
    }
    char rep[1100];
    snprintf(rep, sizeof rep, "%s/report", o->dir);
    hb_val_summary s;
    HB_TRY(hb_validate(g, o->n_held, rep, &s, MPI_COMM_WORLD));
    hb_cli_print_summary(&s);
    int unmet = hb_cli_print_goals(&s);
    hb_log0("== fidelity on %d held-out boxes (%ld samples, %ld repaints each): %s; report in %s.txt and %s.h5 ==",
            o->n_held, o->seeds, o->repaints, unmet ? "some goals not met" : "every goal met", rep, rep);
    return HB_OK;
}

hb_status demo_pipeline(const demo_opts *o, const hb_suite_row *sel, const char *model_hash)
{
    hb_status rc = HB_OK;
    char dirs[4][1100], model[sizeof ((hb_emulate_config *)0)->model[0]];
    static const char *sub[4] = {"train", "heldout", "floor", "emulated"};
    for (int d = 0; d < 4; d++) snprintf(dirs[d], sizeof dirs[d], "%s/%s", o->dir, sub[d]);
    double times[4] = {0, 0, 0, 0}, t0 = hb_now();
    if (rc == HB_OK) rc = demo_suite(o, sel, dirs);
    times[0] = hb_now() - t0;
    t0 = hb_now();
    if (rc == HB_OK) rc = o->model ? demo_reuse(o, model_hash, dirs[0], model, sizeof model) : demo_train(o, dirs[0], dirs[1], model, sizeof model);
    times[1] = hb_now() - t0;
    t0 = hb_now();
    if (rc == HB_OK) rc = demo_emulate(o, sel + o->boxes, model, dirs);
    times[2] = hb_now() - t0;
    t0 = hb_now();
    if (rc == HB_OK) rc = demo_validate(o, sel + o->boxes, dirs);
    times[3] = hb_now() - t0;
    if (rc == HB_OK) {
        hb_log0("== times: suite and repaints %.0f s, training %.0f s, emulation %.0f s, validation %.0f s ==",
                times[0], times[1], times[2], times[3]);
    }
    return rc;
}
