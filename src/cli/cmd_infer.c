/* hydrobridge loglike / infer: the model's log-likelihood of a gas box, and
 * the posterior of chosen parameters on a grid or by a Metropolis chain.
 *
 * infer keeps its progress in OUT.partial (a header naming everything the
 * numbers depend on, then one row per finished grid point or chain step,
 * flushed as it goes): a run started again with the same arguments skips
 * what is there, and a chain continues from its last state (its random
 * numbers are keyed by step, so resumed = uninterrupted). When complete,
 * OUT.txt (the table) and OUT_summary.txt are written and the partial file
 * removed. Rank 0 reads and writes the files. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "hb/loglike.h"
#include "hb/mpiutil.h"
#include "hb/posterior.h"
#include "hb/rng.h"

static const char *LL_USAGE =
    "usage: hydrobridge loglike --model M --dm DM.h5 --gas GAS.h5 [--probes K] [--steps S] [--eps E] [--seed N]\n"
    "                           [section.key=value ...]\n"
    "The model's log-likelihood log p(gas, T | DM, theta) in nats, of the standardised fields and of the\n"
    "physical ones (gas density rho/mean, T in K), per box and per voxel, with the standard error of the\n"
    "Hutchinson trace estimator. theta comes from the DM file (cosmology.omega_m, cosmology.sigma_8 and\n"
    "feedback.a_* override it). --probes K (8; 0: the exact divergence, 2 N^3 passes per evaluation, small\n"
    "boxes only), --steps S (32) Heun steps in sqrt(t), --eps (1e-3) where the Gaussian law of x_t takes\n"
    "over, --seed (1) of the probes: the same seed gives the same probes on any number of ranks.\n"
    "--model given 2-8 times: an ensemble (trainings of one recipe with other seeds), the drift the mean\n"
    "of their networks' (hydrobridge emulate --help), each evaluation K times the passes.\n";

static const char *INFER_USAGE =
    "usage: hydrobridge infer --model M --dm DM.h5 --gas GAS.h5 --vary a_agn1,a_sn1[,...] [--grid N | --mcmc STEPS]\n"
    "                         [--out post] [--mcmc-step W] [--probes K] [--steps S] [--eps E] [--seed N]\n"
    "                         [section.key=value ...]\n"
    "The posterior of the --vary parameters given the gas box: the model's log-likelihood (hydrobridge\n"
    "loglike) with the other parameters at the DM box's values, prior uniform in the normalised parameters\n"
    "inside the model's training range. --grid N (9): N cells per parameter, the log-likelihood at their\n"
    "centres; --mcmc STEPS: a Metropolis chain (Gaussian steps of W = 0.1 of the range per parameter,\n"
    "the first 20% discarded). Every evaluation uses the same probes (common random numbers). Writes\n"
    "OUT.txt (the table), OUT_summary.txt (the maximum, the marginal 68% and 95% intervals, the gas box's\n"
    "own parameters as the truth); restartable: OUT.partial keeps what is done. Plot: scripts/plot_posterior.py OUT.\n"
    "--model given 2-8 times: an ensemble, as in hydrobridge loglike (the prior the members' common range).\n"
    "Defaults here: --probes 4 --steps 32 --out post.\n";

typedef struct ll_args {
    hb_loglike_config c;
    char   vary[256], out[900];
    int    grid, mcmc_steps;
    double mcmc_step;
} ll_args;

/* The options both commands share (and infer's own); overrides collected. */
static hb_status parse(int argc, char **argv, int infer, ll_args *a, char **over, int *nover)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"dm", required_argument, 0, 'd'}, {"gas", required_argument, 0, 'g'},
        {"probes", required_argument, 0, 'p'}, {"steps", required_argument, 0, 's'}, {"eps", required_argument, 0, 'e'},
        {"seed", required_argument, 0, 'r'}, {"vary", required_argument, 0, 'v'}, {"grid", required_argument, 0, 'G'},
        {"mcmc", required_argument, 0, 'M'}, {"mcmc-step", required_argument, 0, 'W'}, {"out", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *usage = infer ? INFER_USAGE : LL_USAGE;
    long L;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (!infer && strchr("vGMWo", ch)) {
            return HB_ERR0(HB_EARG, "loglike has no option %s\n%s", argv[optind - 1], usage);
        }
        switch (ch) {
        case 'm':
            if (a->c.n_models == HB_MODEL_MAX_ENSEMBLE) {
                return HB_ERR0(HB_EARG, "--model %s: at most %d models in an ensemble", optarg, HB_MODEL_MAX_ENSEMBLE);
            }
            snprintf(a->c.model[a->c.n_models++], sizeof a->c.model[0], "%s", optarg);
            break;
        case 'd': snprintf(a->c.dm, sizeof a->c.dm, "%s", optarg); break;
        case 'g': snprintf(a->c.gas, sizeof a->c.gas, "%s", optarg); break;
        case 'p': HB_TRY(hb_cli_long("--probes", optarg, &L)); a->c.opts.probes = (int)L; break;
        case 's': HB_TRY(hb_cli_long("--steps", optarg, &L)); a->c.opts.steps = (int)L; break;
        case 'e': HB_TRY(hb_cli_double("--eps", optarg, &a->c.opts.eps)); break;
        case 'r': HB_TRY(hb_cli_long("--seed", optarg, &L)); a->c.opts.seed = (uint64_t)L; break;
        case 'v': snprintf(a->vary, sizeof a->vary, "%s", optarg); break;
        case 'G': HB_TRY(hb_cli_long("--grid", optarg, &L)); a->grid = (int)L; break;
        case 'M': HB_TRY(hb_cli_long("--mcmc", optarg, &L)); a->mcmc_steps = (int)L; break;
        case 'W': HB_TRY(hb_cli_double("--mcmc-step", optarg, &a->mcmc_step)); break;
        case 'o': snprintf(a->out, sizeof a->out, "%s", optarg); break;
        case 'h': hb_cli_usage(usage); return HB_ESTOP;
        default: hb_cli_usage(usage); return HB_EARG;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (!hb_cli_is_override(argv[i]) || *nover == 64) {
            return HB_ERR0(HB_EARG, "unexpected argument \"%s\"\n%s", argv[i], usage);
        }
        over[(*nover)++] = argv[i];
    }
    if (!a->c.n_models || !*a->c.dm || !*a->c.gas) return HB_ERR0(HB_EARG, "need --model, --dm and --gas\n%s", usage);
    static const char *used[] = {"cosmology.omega_m", "cosmology.sigma_8", "feedback.", NULL};
    HB_TRY(hb_cli_check_overrides(infer ? "infer" : "loglike", over, *nover, used, NULL));
    hb_params par;
    HB_TRY(hb_params_load(&par, NULL, *nover, over, NULL, MPI_COMM_WORLD));
    hb_cli_theta_overrides(&par, a->c.theta_override);
    return HB_OK;
}

static void args_default(ll_args *a, int infer)
{
    memset(a, 0, sizeof *a);
    a->c.opts = hb_loglike_opts_default();
    a->c.opts.progress = !infer;
    if (infer) a->c.opts.probes = 4;
    hb_theta_none(a->c.theta_override);
    a->grid = 0;
    a->mcmc_step = 0.1;
    snprintf(a->out, sizeof a->out, "post");
}

static void print_result(const hb_loglike_config *c, const hb_loglike *L, const hb_loglike_result *r)
{
    const double *th = hb_loglike_dm_info(L)->theta, nv = (double)r->n_voxels;
    int R = 0;
    if (hb_mpi(MPI_Comm_size(MPI_COMM_WORLD, &R)) != HB_OK) R = 0;
    char models[sizeof c->model];
    hb_ensemble_names(c->model, c->n_models, models, sizeof models);
    hb_log0("loglike: %s given %s, theta = (%.4g %.4g %.4g %.4g %.4g %.4g), %s %s", c->gas, c->dm, th[0], th[1],
            th[2], th[3], th[4], th[5], c->n_models > 1 ? "the mean drift of" : "model", models);
    hb_log0("  standardised fields: log p = %.3f +- %.3f nats (%.5f +- %.5f per voxel, %ld voxels x 2 fields)", r->logp,
            r->se, r->logp / nv, r->se / nv, r->n_voxels);
    hb_log0("  physical fields (gas rho/mean, T in K): log p = %.3f +- %.3f nats (%.5f per voxel)", r->logp_phys,
            r->se, r->logp_phys / nv);
    hb_log0("  parts: log N(x(eps)) %.3f, int F div b dt %.3f, D int G dt %.3f, Jacobian %.3f", r->gauss, r->div_b,
            r->div_const, r->jacobian);
    hb_log0("  cost: %d steps x 2 evaluations x %s = %ld network passes (forward + backward) in %.2f s on %d ranks "
            "(%.4f s per pass)", c->opts.steps, c->opts.probes ? "probes" : "all unit vectors", r->n_passes,
            r->seconds, R, r->seconds / (double)(r->n_passes > 0 ? r->n_passes : 1));
    hb_log0("result: logp=%.6f se=%.6f logp_phys=%.6f per_voxel=%.8f per_voxel_phys=%.8f n_voxels=%ld passes=%ld "
            "seconds=%.3f", r->logp, r->se, r->logp_phys, r->logp / nv, r->logp_phys / nv, r->n_voxels, r->n_passes,
            r->seconds);
}

hb_status hb_cmd_loglike(int argc, char **argv)
{
    ll_args a;
    args_default(&a, 0);
    char *over[64];
    int nover = 0;
    hb_status rc = parse(argc, argv, 0, &a, over, &nover);
    if (rc == HB_ESTOP) return HB_OK;
    HB_TRY(rc);
    hb_loglike *L;
    HB_TRY(hb_loglike_open(&L, &a.c, MPI_COMM_WORLD));
    hb_loglike_result r;
    rc = hb_loglike_eval(L, hb_loglike_dm_info(L)->theta, &r);
    if (rc == HB_OK) print_result(&a.c, L, &r);
    hb_loglike_close(L);
    return rc;
}

/* ---- infer ------------------------------------------------------------ */

#define MAXV 6

typedef struct infer {
    ll_args     a;
    hb_loglike *L;
    int         nv, idx[MAXV];         /* varied parameters */
    double      lo[MAXV], hi[MAXV];    /* their prior range in the coordinate (ln A or the value) */
    long        n_points;              /* grid points or chain steps */
    double     *lp, *se, *lpp;         /* per point: log p, its error, physical log p (NaN: not done) */
    double     *q;                     /* per point: the coordinates (nv each) */
    char        header[HB_MODEL_MAX_ENSEMBLE * 1024 + 4096];   /* the models, files, settings */
} infer;

static double to_q(int k, double th) { return HB_THETA[k].log ? log(th) : th; }
static double from_q(int k, double q) { return HB_THETA[k].log ? exp(q) : q; }

/* The --vary list against the model's training ranges. */
static hb_status parse_vary(infer *I)
{
    const hb_model_meta *m = hb_loglike_meta(I->L);
    char buf[256], *save = NULL;
    snprintf(buf, sizeof buf, "%s", I->a.vary);
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        const int k = hb_theta_find(tok, strlen(tok));
        if (k < 0) return HB_ERR0(HB_EARG, "--vary: unknown parameter \"%s\" (" HB_THETA_NAMES ")", tok);
        for (int j = 0; j < I->nv; j++)
            if (I->idx[j] == k) return HB_ERR0(HB_EARG, "--vary: %s given twice", tok);
        if (!(m->theta_max[k] > m->theta_min[k])) {
            return HB_ERR0(HB_EARG, "--vary %s: the model was trained at one value of it (%g): nothing to infer", tok,
                           m->theta_min[k]);
        }
        I->idx[I->nv] = k;
        I->lo[I->nv] = to_q(k, m->theta_min[k]);
        I->hi[I->nv] = to_q(k, m->theta_max[k]);
        I->nv++;
    }
    if (I->nv == 0) return HB_ERR0(HB_EARG, "--vary: name at least one parameter\n%s", INFER_USAGE);
    return HB_OK;
}

/* Everything the numbers depend on, as the partial file's first line. */
static void make_header(infer *I)
{
    const hb_loglike_config *c = &I->a.c;
    const double *th = hb_loglike_dm_info(I->L)->theta;
    char models[sizeof c->model];
    hb_ensemble_names(c->model, c->n_models, models, sizeof models);
    snprintf(I->header, sizeof I->header,
             "# hydrobridge infer: model=%s dm=%s gas=%s vary=%s %s=%ld probes=%d steps=%d eps=%g seed=%lu "
             "mcmc_step=%g theta=%.6g,%.6g,%.6g,%.6g,%.6g,%.6g", models, c->dm, c->gas, I->a.vary,
             I->a.mcmc_steps ? "mcmc" : "grid", I->a.mcmc_steps ? (long)I->a.mcmc_steps : (long)I->a.grid,
             c->opts.probes, c->opts.steps, c->opts.eps, (unsigned long)c->opts.seed, I->a.mcmc_step, th[0], th[1],
             th[2], th[3], th[4], th[5]);
}

static hb_status alloc_points(infer *I)
{
    I->n_points = I->a.mcmc_steps;
    if (!I->a.mcmc_steps) {
        I->n_points = 1;
        for (int j = 0; j < I->nv; j++) I->n_points *= I->a.grid;
    }
    if (I->n_points > 10000000) return HB_ERR0(HB_EARG, "%ld points: too many (at most 1e7)", I->n_points);
    I->lp = malloc((size_t)I->n_points * sizeof *I->lp);
    I->se = malloc((size_t)I->n_points * sizeof *I->se);
    I->lpp = malloc((size_t)I->n_points * sizeof *I->lpp);
    I->q = malloc((size_t)I->n_points * I->nv * sizeof *I->q);
    if (!I->lp || !I->se || !I->lpp || !I->q) return HB_ERR0(HB_ENOMEM, "table of %ld points", I->n_points);
    for (long i = 0; i < I->n_points; i++) I->lp[i] = I->se[i] = I->lpp[i] = NAN;
    return HB_OK;
}

/* Rows of an earlier run of the same problem (rank 0; then broadcast). */
static hb_status read_partial(infer *I, long *n_done)
{
    char path[1000], line[sizeof I->header + 2];
    snprintf(path, sizeof path, "%s.partial", I->a.out);
    *n_done = 0;
    FILE *f = fopen(path, "r");
    if (!f) return errno == ENOENT ? HB_OK : HB_ERR0(HB_EIO, "%s: %s", path, strerror(errno));
    hb_status rc = HB_OK;
    if (!fgets(line, sizeof line, f) || strncmp(line, I->header, strlen(I->header)) || line[strlen(I->header)] != '\n') {
        rc = HB_ERR0(HB_EARG, "%s is the progress of another problem (its first line differs from\n%s\n): remove it "
                     "or choose another --out", path, I->header);
    }
    while (rc == HB_OK && fgets(line, sizeof line, f)) {
        long i;
        double v[MAXV + 3];
        char *p = line, *end;
        i = strtol(p, &end, 10);
        int ok = end != p && i >= 0 && i < I->n_points;
        for (int j = 0; ok && j < I->nv + 3; j++) {
            p = end;
            v[j] = strtod(p, &end);
            ok = end != p;
        }
        if (!ok) break;   /* a row cut short by a kill: redone */
        memcpy(I->q + i * I->nv, v, (size_t)I->nv * sizeof *v);
        I->lp[i] = v[I->nv];
        I->se[i] = v[I->nv + 1];
        I->lpp[i] = v[I->nv + 2];
        (*n_done)++;
    }
    fclose(f);
    return rc;
}

static hb_status load_partial(infer *I, long *n_done)
{
    hb_status rc = hb_world_rank() == 0 ? read_partial(I, n_done) : HB_OK;
    HB_TRY(hb_mpi_agree(MPI_COMM_WORLD, rc));
    HB_TRY(hb_mpi(MPI_Bcast(n_done, 1, MPI_LONG, 0, MPI_COMM_WORLD)));
    HB_TRY(hb_mpi(MPI_Bcast(I->lp, (int)I->n_points, MPI_DOUBLE, 0, MPI_COMM_WORLD)));
    HB_TRY(hb_mpi(MPI_Bcast(I->se, (int)I->n_points, MPI_DOUBLE, 0, MPI_COMM_WORLD)));
    HB_TRY(hb_mpi(MPI_Bcast(I->lpp, (int)I->n_points, MPI_DOUBLE, 0, MPI_COMM_WORLD)));
    return hb_mpi(MPI_Bcast(I->q, (int)(I->n_points * I->nv), MPI_DOUBLE, 0, MPI_COMM_WORLD));
}

/* Append row i to the partial file (rank 0), written through. */
static hb_status append_row(const infer *I, FILE *f, long i)
{
    if (hb_world_rank() != 0) return HB_OK;
    fprintf(f, "%ld", i);
    for (int j = 0; j < I->nv; j++) fprintf(f, " %.10g", I->q[i * I->nv + j]);
    fprintf(f, " %.10g %.6g %.10g\n", I->lp[i], I->se[i], I->lpp[i]);
    if (fflush(f) || ferror(f)) return HB_ERR0(HB_EIO, "%s.partial: %s", I->a.out, strerror(errno));
    return HB_OK;
}

static hb_status open_partial(const infer *I, long n_done, FILE **f)
{
    *f = NULL;
    hb_status rc = HB_OK;
    if (hb_world_rank() == 0) {
        char path[1000];
        snprintf(path, sizeof path, "%s.partial", I->a.out);
        *f = fopen(path, n_done ? "a" : "w");
        if (!*f) rc = HB_ERR0(HB_EIO, "%s: %s", path, strerror(errno));
        else if (!n_done) fprintf(*f, "%s\n", I->header);
    }
    return hb_mpi_agree(MPI_COMM_WORLD, rc);
}

/* log p at coordinates q (the varied parameters), the rest at the box's values. */
static hb_status eval_at(infer *I, const double *q, long i)
{
    double th[HB_NTHETA];
    memcpy(th, hb_loglike_dm_info(I->L)->theta, sizeof th);
    for (int j = 0; j < I->nv; j++) th[I->idx[j]] = from_q(I->idx[j], q[j]);
    hb_loglike_result r;
    HB_TRY(hb_loglike_eval(I->L, th, &r));
    memcpy(I->q + i * I->nv, q, (size_t)I->nv * sizeof *q);
    I->lp[i] = r.logp;
    I->se[i] = r.se;
    I->lpp[i] = r.logp_phys;
    return HB_OK;
}

static hb_status run_grid(infer *I, FILE *f, long n_done)
{
    hb_progress prog;
    hb_progress_init(&prog, "infer", I->n_points - n_done, "points");
    long done = 0;
    for (long i = 0; i < I->n_points; i++) {
        if (!isnan(I->lp[i])) continue;
        double q[MAXV];
        long rest = i;
        for (int j = I->nv - 1; j >= 0; j--) {
            const double h = (I->hi[j] - I->lo[j]) / I->a.grid;
            q[j] = I->lo[j] + h * (rest % I->a.grid + 0.5);
            rest /= I->a.grid;
        }
        HB_TRY(eval_at(I, q, i));
        HB_TRY(append_row(I, f, i));
        char extra[96];
        snprintf(extra, sizeof extra, "log p %.2f +- %.2f", I->lp[i], I->se[i]);
        hb_progress_step(&prog, ++done, extra);
    }
    return HB_OK;
}

/* One Metropolis step from point i - 1 to i: Gaussian proposal keyed by
 * (seed, step), rejected outside the prior box without an evaluation. */
static hb_status mcmc_step(infer *I, long i)
{
    double q[MAXV], u[2];
    const double *prev = I->q + (i - 1) * I->nv;
    int inside = 1;
    for (int j = 0; j < I->nv; j++) {
        double z[2];
        hb_rng_normal2(I->a.c.opts.seed, HB_STREAM_MCMC, (uint64_t)i, (uint32_t)j, z);
        q[j] = prev[j] + I->a.mcmc_step * (I->hi[j] - I->lo[j]) * z[0];
        inside &= q[j] >= I->lo[j] && q[j] <= I->hi[j];
    }
    hb_rng_uniform2(I->a.c.opts.seed, HB_STREAM_MCMC, (uint64_t)i, MAXV, u);
    if (inside) {
        HB_TRY(eval_at(I, q, i));
        if (log(u[0]) < I->lp[i] - I->lp[i - 1]) return HB_OK;
    }
    memcpy(I->q + i * I->nv, prev, (size_t)I->nv * sizeof *prev);   /* rejected: stay */
    I->lp[i] = I->lp[i - 1];
    I->se[i] = I->se[i - 1];
    I->lpp[i] = I->lpp[i - 1];
    return HB_OK;
}

static hb_status run_mcmc(infer *I, FILE *f, long n_done)
{
    hb_progress prog;
    hb_progress_init(&prog, "infer", I->n_points - n_done, "chain steps");
    long acc = 0;
    for (long i = n_done; i < I->n_points; i++) {
        if (i == 0) {   /* the start: the box's values, inside the prior */
            double q[MAXV];
            const double *th = hb_loglike_dm_info(I->L)->theta;
            for (int j = 0; j < I->nv; j++) q[j] = fmin(fmax(to_q(I->idx[j], th[I->idx[j]]), I->lo[j]), I->hi[j]);
            HB_TRY(eval_at(I, q, 0));
        } else {
            HB_TRY(mcmc_step(I, i));
            acc += memcmp(I->q + i * I->nv, I->q + (i - 1) * I->nv, (size_t)I->nv * sizeof(double)) != 0;
        }
        HB_TRY(append_row(I, f, i));
        char extra[96];
        snprintf(extra, sizeof extra, "log p %.2f, acceptance %.2f", I->lp[i], (double)acc / (i - n_done + 1));
        hb_progress_step(&prog, i - n_done + 1, extra);
    }
    return HB_OK;
}

/* The summary of parameter j: grid marginal or chain quantiles (in q). */
static hb_status summarise(const infer *I, int j, hb_interval *iv)
{
    if (!I->a.mcmc_steps) return hb_posterior_grid(I->lp, I->nv, I->a.grid, j, I->lo[j], I->hi[j], iv, NULL);
    const long burn = I->n_points / 5, n = I->n_points - burn;
    double *x = malloc((size_t)n * sizeof *x);
    if (!x) return HB_ERR0(HB_ENOMEM, "chain of %ld", n);
    for (long i = 0; i < n; i++) x[i] = I->q[(burn + i) * I->nv + j];
    hb_posterior_samples(x, n, iv);
    free(x);
    return HB_OK;
}

static hb_status write_summary(const infer *I, const char *path)
{
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return HB_ERR0(HB_EIO, "%s: %s", tmp, strerror(errno));
    const long best = hb_posterior_argmax(I->lp, I->n_points);
    const double *truth = hb_loglike_gas_info(I->L)->theta;
    fprintf(f, "%s\n# maximum: log p %.4f +- %.4f at point %ld; intervals equal-tailed, from the %s\n", I->header,
            I->lp[best], I->se[best], best, I->a.mcmc_steps ? "chain after 20% burn-in" : "grid marginals");
    fprintf(f, "# name truth maximum mode median lo68 hi68 lo95 hi95 truth_in68\n");
    hb_status rc = HB_OK;
    for (int j = 0; j < I->nv && rc == HB_OK; j++) {
        hb_interval iv;
        rc = summarise(I, j, &iv);
        const int k = I->idx[j];
        double v[7] = {I->q[best * I->nv + j], iv.mode, iv.median, iv.lo68, iv.hi68, iv.lo95, iv.hi95};
        fprintf(f, "%s %.6g", HB_THETA[k].name, truth[k]);
        for (int m = 0; m < 7; m++) fprintf(f, " %.6g", from_q(k, v[m]));
        fprintf(f, " %d\n", from_q(k, iv.lo68) <= truth[k] && truth[k] <= from_q(k, iv.hi68));
        hb_log0("infer: %s = %.4g (maximum), 68%% [%.4g, %.4g], 95%% [%.4g, %.4g]; the gas box's value %.4g",
                HB_THETA[k].name, from_q(k, v[0]), from_q(k, iv.lo68), from_q(k, iv.hi68), from_q(k, iv.lo95),
                from_q(k, iv.hi95), truth[k]);
    }
    if (fclose(f) || rc != HB_OK) {
        unlink(tmp);
        return rc != HB_OK ? rc : HB_ERR0(HB_EIO, "%s: %s", tmp, strerror(errno));
    }
    if (rename(tmp, path)) return HB_ERR0(HB_EIO, "rename %s: %s", path, strerror(errno));
    return HB_OK;
}

/* OUT.txt: the partial file's rows in order, with a column header; then the summary. */
static hb_status finish(const infer *I)
{
    char table[1000], tmp[1100], partial[1000], summary[1000];
    snprintf(table, sizeof table, "%s.txt", I->a.out);
    snprintf(tmp, sizeof tmp, "%s.txt.tmp", I->a.out);
    snprintf(partial, sizeof partial, "%s.partial", I->a.out);
    snprintf(summary, sizeof summary, "%s_summary.txt", I->a.out);
    FILE *f = fopen(tmp, "w");
    if (!f) return HB_ERR0(HB_EIO, "%s: %s", tmp, strerror(errno));
    fprintf(f, "%s\n# point", I->header);
    for (int j = 0; j < I->nv; j++) fprintf(f, " %s", HB_THETA[I->idx[j]].name);
    fprintf(f, " logp se logp_phys\n");
    for (long i = 0; i < I->n_points; i++) {
        fprintf(f, "%ld", i);
        for (int j = 0; j < I->nv; j++) fprintf(f, " %.8g", from_q(I->idx[j], I->q[i * I->nv + j]));
        fprintf(f, " %.10g %.6g %.10g\n", I->lp[i], I->se[i], I->lpp[i]);
    }
    if (fclose(f)) { unlink(tmp); return HB_ERR0(HB_EIO, "%s: %s", tmp, strerror(errno)); }
    HB_TRY(write_summary(I, summary));
    if (rename(tmp, table)) return HB_ERR0(HB_EIO, "rename %s: %s", table, strerror(errno));
    unlink(partial);
    hb_log0("infer: wrote %s and %s (plot: scripts/plot_posterior.py %s)", table, summary, I->a.out);
    return HB_OK;
}

static hb_status check_infer_args(const ll_args *a)
{
    if (!*a->vary) return HB_ERR0(HB_EARG, "infer needs --vary\n%s", INFER_USAGE);
    if (a->grid && a->mcmc_steps) return HB_ERR0(HB_EARG, "--grid and --mcmc: choose one");
    if (!a->mcmc_steps && (a->grid < 2 || a->grid > 1000)) {
        return HB_ERR0(HB_EARG, "--grid %d: expected 2..1000", a->grid);
    }
    if (a->mcmc_steps < 0 || (a->mcmc_steps && a->mcmc_steps < 10)) {
        return HB_ERR0(HB_EARG, "--mcmc %d: expected at least 10 steps", a->mcmc_steps);
    }
    if (!(a->mcmc_step > 0 && a->mcmc_step <= 1)) {
        return HB_ERR0(HB_EARG, "--mcmc-step %g: expected (0, 1]", a->mcmc_step);
    }
    char table[1000], summary[1000];
    snprintf(table, sizeof table, "%s.txt", a->out);
    snprintf(summary, sizeof summary, "%s_summary.txt", a->out);
    const char *outs[] = {table, summary}, *ins[HB_MODEL_MAX_ENSEMBLE + 2] = {a->c.dm, a->c.gas};
    for (int k = 0; k < a->c.n_models; k++) ins[2 + k] = a->c.model[k];
    return hb_cli_check_io(outs, 2, ins, 2 + a->c.n_models);
}

static hb_status infer_run(infer *I)
{
    HB_TRY(parse_vary(I));
    make_header(I);
    HB_TRY(alloc_points(I));
    long n_done;
    HB_TRY(load_partial(I, &n_done));
    if (n_done) hb_log0("infer: %ld of %ld points done already (%s.partial)", n_done, I->n_points, I->a.out);
    FILE *f;
    HB_TRY(open_partial(I, n_done, &f));
    hb_status rc = I->a.mcmc_steps ? run_mcmc(I, f, n_done) : run_grid(I, f, n_done);
    if (f) fclose(f);
    HB_TRY(rc);
    rc = hb_world_rank() == 0 ? finish(I) : HB_OK;
    return hb_mpi_agree(MPI_COMM_WORLD, rc);
}

hb_status hb_cmd_infer(int argc, char **argv)
{
    infer I;
    memset(&I, 0, sizeof I);
    args_default(&I.a, 1);
    char *over[64];
    int nover = 0;
    hb_status rc = parse(argc, argv, 1, &I.a, over, &nover);
    if (rc == HB_ESTOP) return HB_OK;
    HB_TRY(rc);
    if (!I.a.mcmc_steps && !I.a.grid) I.a.grid = 9;
    HB_TRY(check_infer_args(&I.a));
    HB_TRY(hb_loglike_open(&I.L, &I.a.c, MPI_COMM_WORLD));
    rc = infer_run(&I);
    hb_loglike_close(I.L);
    free(I.lp); free(I.se); free(I.lpp); free(I.q);
    return rc;
}
