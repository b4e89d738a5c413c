/* Training the drift network (hb/train.h). */
#include "hb/train.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb/model.h"
#include "hb/mpiutil.h"
#include "hb/nn.h"
#include "hb/rng.h"
#include "hb/smooth.h"

#define STREAM_VAL 101   /* validation samples: fixed, independent of the step */

static volatile sig_atomic_t g_stop = 0;
static void on_signal(int sig) { (void)sig; g_stop = 1; }

void hb_train_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    /* A blocked mask survives exec: a batch system or CI harness that blocks these
     * signals would otherwise keep them pending until the run ends. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

hb_train_config hb_train_config_default(void)
{
    hb_train_config c;
    memset(&c, 0, sizeof c);
    c.steps = 2000;
    c.batch = 2;
    c.width = 16;
    c.emb = 64;
    c.emb_layers = 2;
    c.group = 0;
    c.augment = 1;
    c.ema_decay = 0.999;
    c.val_every = 100;
    c.ckpt_every = 500;
    c.val_samples = 4;
    c.seed = 1;
    c.guard_rise = HB_GUARD_RISE;
    c.guard_window = HB_GUARD_WINDOW;
    c.adam = hb_adam_config_default();
    c.interp = hb_interp_default();
    snprintf(c.out, sizeof c.out, "model.h5");
    return c;
}

/* ---- the collapse guard (hb/train.h) ------------------------------------ */

hb_guard hb_guard_init(long window, double rise, int max_rollbacks)
{
    hb_guard g;
    memset(&g, 0, sizeof g);
    g.window = window > 0 ? window : 1;
    g.rise = rise;
    g.max_rollbacks = max_rollbacks;
    g.best = INFINITY;
    g.slot_step[0] = g.slot_step[1] = -1;
    g.confirmed = g.pending = -1;
    g.lr_scale = 1;
    return g;
}

/* Forgets the pending snapshot (its slot free again). */
static void drop_pending(hb_guard *g)
{
    if (g->pending >= 0) g->slot_step[g->pending] = -1;
    g->pending = -1;
}

/* Slot k holds a snapshot the guard may still roll back to or confirm. */
static int slot_live(const hb_guard *g, int k)
{
    return k == g->confirmed || k == g->pending;
}

int hb_guard_step(hb_guard *g, long step, double loss)
{
    if (!(g->rise > 0)) return HB_GUARD_GO;
    g->n++;
    g->avg += (log(fmax(loss, 1e-30)) - g->avg) / (double)(g->n < g->window ? g->n : g->window);
    if (g->n < g->window) return HB_GUARD_GO;
    if (g->avg < g->best) g->best = g->avg;
    if (g->avg > g->best + log(g->rise)) {
        g->tripped = g->avg;
        if (g->confirmed < 0) return HB_GUARD_FAIL;
        const long c = g->confirmed;   /* back to the confirmed snapshot's average (a stop keeps that state too) */
        g->avg = g->slot_avg[c];
        g->n = g->slot_n[c];
        drop_pending(g);
        if (g->rollbacks >= g->max_rollbacks) return HB_GUARD_FAIL;
        g->lr_scale *= 0.5;
        g->rollbacks++;
        return HB_GUARD_ROLLBACK;
    }
    if (step % g->window != 0) return HB_GUARD_GO;
    if (g->avg > g->best + log(1.5)) {   /* not healthy: a pending snapshot may hold the start of a collapse */
        drop_pending(g);
        return HB_GUARD_GO;
    }
    if (g->pending >= 0) g->confirmed = g->pending;
    g->pending = g->confirmed == 0 ? 1 : 0;
    g->slot_step[g->pending] = step;
    g->slot_avg[g->pending] = g->avg;
    g->slot_n[g->pending] = g->n;
    return HB_GUARD_SNAPSHOT;
}

/* ---- the trainer ------------------------------------------------------- */

typedef struct trainer {
    const hb_train_config *cfg;
    MPI_Comm comm, gcomm;            /* all ranks; this rank's group */
    int rank, nranks, group, ngroups, G;
    hb_slab slab;                    /* the group's decomposition of a box */
    hb_dataset ds, vs;
    hb_loader ld, lv;
    hb_unet net;
    float *m, *v, *ema;
    long step;                       /* steps done */
    long saved;                      /* step of the last checkpoint written (-1: none) */
    char data_hash[20];              /* FNV-1a of the training files' base names, in order (hex) */
    hb_model_meta meta;
    size_t n;                        /* cells of this rank's slab */
    float *in, *target, *y, *dy;     /* n x 3, n x 2, n x 2, n x 2 */
    float *w;                        /* n: voxel weights of the loss (a loss weight != 0) */
    double t_net;                    /* seconds in the network (forward + backward) */
    hb_adam_config adam;             /* cfg->adam, its learning rate times the guard's scale */
    hb_guard guard;
    float *slot[2][4];               /* the guard's snapshots: weights, EMA, Adam m and v */
} trainer;

static void trainer_free(trainer *t)
{
    hb_unet_free(&t->net);
    hb_loader_free(&t->ld);
    hb_loader_free(&t->lv);
    hb_dataset_close(&t->ds);
    hb_dataset_close(&t->vs);
    hb_slab_free(&t->slab);
    if (t->gcomm != MPI_COMM_NULL) (void)hb_mpi(MPI_Comm_free(&t->gcomm));
    free(t->m); free(t->v); free(t->ema);
    free(t->in); free(t->target); free(t->y); free(t->dy); free(t->w);
    for (int k = 0; k < 2; k++) for (int j = 0; j < 4; j++) free(t->slot[k][j]);
}

/* The state a snapshot holds, in slot order: weights, EMA, Adam m, v. */
static void state_sets(trainer *t, float *set[4])
{
    set[0] = t->net.params;
    set[1] = t->ema;
    set[2] = t->m;
    set[3] = t->v;
}

static const char *SLOT_SET[2][4] = {{"guard0_weights", "guard0_ema", "guard0_adam_m", "guard0_adam_v"},
                                     {"guard1_weights", "guard1_ema", "guard1_adam_m", "guard1_adam_v"}};

/* The guard's state as checkpoints store it (root attributes): one table for
 * writing and reading. */
enum { GUARD_NATTR = 13 };
typedef struct guard_attr { const char *name; double *d; long *l; } guard_attr;
static void guard_attrs(hb_guard *g, guard_attr a[GUARD_NATTR])
{
    const guard_attr t[GUARD_NATTR] = {
        {"guard_lr_scale", &g->lr_scale, NULL}, {"guard_rollbacks", NULL, &g->rollbacks}, {"guard_avg", &g->avg, NULL},
        {"guard_best", &g->best, NULL}, {"guard_n", NULL, &g->n}, {"guard_confirmed", NULL, &g->confirmed},
        {"guard_pending", NULL, &g->pending}, {"guard0_step", NULL, &g->slot_step[0]},
        {"guard0_avg", &g->slot_avg[0], NULL}, {"guard0_n", NULL, &g->slot_n[0]}, {"guard1_step", NULL, &g->slot_step[1]},
        {"guard1_avg", &g->slot_avg[1], NULL}, {"guard1_n", NULL, &g->slot_n[1]}};
    memcpy(a, t, sizeof t);
}

static hb_status write_checkpoint(trainer *t)
{
    double t0 = hb_now();
    const hb_train_config *c = t->cfg;
    hb_guard g = t->guard;
    const int keep = t->step < c->steps;   /* the finished model drops the snapshots (a resume then takes new ones) */
    if (!keep) g.confirmed = g.pending = -1;
    const hb_h5_attr base[] = {
        {"step", 'l', 0, t->step, NULL}, {"steps_total", 'l', 0, c->steps, NULL}, {"batch", 'l', 0, c->batch, NULL},
        {"seed", 'l', 0, (long)c->seed, NULL}, {"augment", 'l', 0, c->augment, NULL}, {"group", 'l', 0, t->G, NULL},
        {"n_train_boxes", 'l', 0, t->ds.n_boxes, NULL}, {"n_val_boxes", 'l', 0, t->vs.n_boxes, NULL},
        {"ema_decay", 'd', c->ema_decay, 0, NULL}, {"lr", 'd', c->adam.lr, 0, NULL},
        {"lr_min_frac", 'd', c->adam.lr_min_frac, 0, NULL},
        {"weight_decay", 'd', c->adam.weight_decay, 0, NULL}, {"clip_norm", 'd', c->adam.clip_norm, 0, NULL},
        {"loss_weight", 'd', c->loss_weight[0], 0, NULL}, {"loss_weight_voids", 'd', c->loss_weight[1], 0, NULL},
        {"loss_weight_peaks", 'd', c->loss_weight[2], 0, NULL}, {"data_files_hash", 's', 0, 0, t->data_hash},
        {"training", 's', 0, 0, "whole periodic boxes, cube symmetries and periodic shifts"},
        {"guard_rise", 'd', c->guard_rise, 0, NULL}, {"guard_window", 'l', 0, c->guard_window, NULL}};
    enum { NBASE = sizeof base / sizeof base[0] };
    hb_h5_attr attrs[NBASE + GUARD_NATTR];
    memcpy(attrs, base, sizeof base);
    guard_attr ga[GUARD_NATTR];
    guard_attrs(&g, ga);
    for (int j = 0; j < GUARD_NATTR; j++) {
        attrs[NBASE + j] = ga[j].d ? (hb_h5_attr){ga[j].name, 'd', *ga[j].d, 0, NULL} : (hb_h5_attr){ga[j].name, 'l', 0, *ga[j].l, NULL};
    }
    hb_model_set extra[8];
    int n_extra = 0;
    for (int k = 0; k < 2; k++) {
        if (!slot_live(&g, k)) continue;
        for (int j = 0; j < 4; j++) extra[n_extra++] = (hb_model_set){SLOT_SET[k][j], t->slot[k][j]};
    }
    HB_TRY(hb_model_save(c->out, t->comm, &t->net, &t->meta, attrs, NBASE + GUARD_NATTR, t->ema,
                         t->m, t->v, extra, n_extra));
    t->saved = t->step;
    hb_log0("checkpoint: step %ld written to %s (%.2f s)", t->step, c->out, hb_now() - t0);
    return HB_OK;
}

void hb_train_data_hash(char **paths, int n, char out[20])
{
    uint64_t h = HB_FNV_START;
    for (int i = 0; i < n; i++) {
        const char *b = strrchr(paths[i], '/');
        h = hb_fnv1a(hb_fnv1a(h, b ? b + 1 : paths[i]), "\xff");   /* the name, then a separator */
    }
    snprintf(out, 20, "%016llx", (unsigned long long)h);
}

/* The checkpoint's interpolant settings and training-set statistics against
 * this run's: a resume continues the same training or is refused (unless
 * cfg->resume_changed). */
static hb_status resume_matches(const trainer *t, hb_h5 *f)
{
    hb_model_meta old;
    HB_TRY(hb_model_read_meta(f, &old));
    char hash[64] = "", what[400];
    if (hb_h5_attr_exists(f, "/", "data_files_hash")) HB_TRY(hb_h5_attr_read_string(f, "/", "data_files_hash", hash, sizeof hash));
    if (strcmp(hash, t->data_hash) != 0) {   /* first: other files change the statistics too */
        snprintf(what, sizeof what, "the list of training files (hash %s against %s)", t->data_hash, hash[0] ? hash : "?");
    }
    else hb_interp_difference(&old.ic, &t->meta.ic, what, sizeof what);
    if (!*what) return HB_OK;
    if (t->cfg->resume_changed) {
        hb_log0("resume: the training differs from the checkpoint's in %s; continuing as --resume-changed asks", what);
        return HB_OK;
    }
    return HB_ERR0(HB_EARG, "%s: the training differs from the checkpoint's in %s; resume only continues the same "
                   "training (--resume-changed overrides)", t->cfg->out, what);
}

/* The guard's state at the checkpoint (absent in older files: a fresh guard);
 * the learning rate continues at the checkpoint's scale. */
static hb_status read_guard(trainer *t, hb_h5 *f)
{
    long window;
    double rise;
    HB_TRY(hb_h5_attr_read_double(f, "/", "guard_rise", &rise));
    HB_TRY(hb_h5_attr_read_long(f, "/", "guard_window", &window));
    if (rise != t->cfg->guard_rise || window != t->cfg->guard_window) {
        hb_log0("resume: the collapse guard was --guard %g --guard-window %ld; its state (average, lowest, snapshots, "
                "learning-rate scale) continues under --guard %g --guard-window %ld", rise, window, t->cfg->guard_rise,
                t->cfg->guard_window);
    }
    hb_guard g = t->guard;   /* this run's settings, the checkpoint's state */
    guard_attr ga[GUARD_NATTR];
    guard_attrs(&g, ga);
    for (int j = 0; j < GUARD_NATTR; j++) {
        HB_TRY(ga[j].d ? hb_h5_attr_read_double(f, "/", ga[j].name, ga[j].d) : hb_h5_attr_read_long(f, "/", ga[j].name, ga[j].l));
    }
    if (!(g.lr_scale > 0 && g.lr_scale <= 1) || g.rollbacks < 0 || g.confirmed < -1 || g.confirmed > 1 ||
        g.pending < -1 || g.pending > 1 || (g.confirmed >= 0 && g.confirmed == g.pending)) {
        return HB_ERR0(HB_EIO, "%s: the collapse guard's state is not valid (lr scale %g, %ld rollbacks, snapshots "
                       "%ld and %ld)", t->cfg->out, g.lr_scale, g.rollbacks, g.confirmed, g.pending);
    }
    if (!(t->cfg->guard_rise > 0)) g.confirmed = g.pending = -1;   /* resumed with --guard 0: no snapshots (none allocated) */
    for (int k = 0; k < 2; k++) {
        if (!slot_live(&g, k)) continue;
        for (int j = 0; j < 4; j++) HB_TRY(hb_model_read_set(f, SLOT_SET[k][j], &t->net, t->slot[k][j]));
    }
    t->guard = g;
    t->adam.lr = t->cfg->adam.lr * g.lr_scale;
    return HB_OK;
}

static hb_status resume(trainer *t)
{
    hb_h5 f;
    HB_TRY(hb_h5_open(&f, t->cfg->out, t->comm));
    hb_status rc = hb_model_check_arch(&f, &t->net);
    long step = 0, batch = 0, seed = 0;
    if (rc == HB_OK) rc = hb_h5_attr_read_long(&f, "/", "step", &step);
    if (rc == HB_OK) rc = hb_h5_attr_read_long(&f, "/", "batch", &batch);
    if (rc == HB_OK) rc = hb_h5_attr_read_long(&f, "/", "seed", &seed);
    if (rc == HB_OK && (batch != t->cfg->batch || (uint64_t)seed != t->cfg->seed)) {
        rc = HB_ERR0(HB_EARG, "%s was trained with --batch %ld --seed %ld; resume with the same (got %d, %lu)",
                     t->cfg->out, batch, seed, t->cfg->batch, (unsigned long)t->cfg->seed);
    }
    if (rc == HB_OK) rc = resume_matches(t, &f);
    if (rc == HB_OK) rc = hb_model_read_set(&f, "weights", &t->net, t->net.params);
    if (rc == HB_OK) rc = hb_model_read_set(&f, "ema", &t->net, t->ema);
    if (rc == HB_OK) rc = hb_model_read_set(&f, "adam_m", &t->net, t->m);
    if (rc == HB_OK) rc = hb_model_read_set(&f, "adam_v", &t->net, t->v);
    if (rc == HB_OK && hb_h5_attr_exists(&f, "/", "guard_lr_scale")) rc = read_guard(t, &f);
    hb_h5_close(&f);
    HB_TRY(rc);
    t->step = t->saved = step;
    hb_log0("resume: %s at step %ld", t->cfg->out, step);
    return HB_OK;
}

/* The samples of batch `step` this rank's group computes, in order: j = group, group + ngroups, ... */
static int group_samples(const trainer *t, const hb_dataset *ds, uint32_t stream, long step, int B, int augment,
                         hb_sample *out)
{
    int n = 0;
    for (int j = t->group; j < B; j += t->ngroups) hb_dataset_sample(ds, t->cfg->seed, stream, step, j, augment, &out[n++]);
    return n;
}

int hb_loss_weights_ok(const double kappa[3])
{
    return fabs(kappa[0]) <= 5 && fabs(kappa[1]) <= 5 && fabs(kappa[2]) <= 5;   /* false for NaN */
}

/* The voxel weights depend on the conditioning field only, so the
 * minimiser stays the conditional mean (an unbiased drift); they move the
 * network's capacity between dense cells (which carry the gas P(k)) and
 * voids (the low tail of the PDF). */
hb_status hb_loss_weights(const double kappa[3], const float *x0, size_t n, int N, MPI_Comm comm, float *w)
{
    double sum = 0;
    const float k_hi = (float)kappa[0], k_lo = (float)kappa[1], k_pk = (float)kappa[2], knee = (float)HB_LOSS_KNEE;
    for (size_t c = 0; c < n; c++) {
        w[c] = x0[c] >= 0 ? expf(k_hi * fminf(x0[c], knee) + k_pk * fmaxf(x0[c] - knee, 0.0f))
                          : expf(k_lo * fmaxf(x0[c], -knee));
        sum += w[c];
    }
    HB_TRY(hb_mpi_sum(comm, &sum, 1));
    const float inv = (float)(pow((double)N, 3) / sum);
    for (size_t c = 0; c < n; c++) w[c] *= inv;
    return HB_OK;
}

/* One sample through the network: the interpolant's input and target from
 * the loaded channels and the noise keyed by (seed, key, global cell);
 * forward; the squared error of this rank's cells into *sse and, when
 * train, dL/dy = 2 (y - target) / (2 N^3 B) and the backward pass. */
static hb_status run_sample(trainer *t, const hb_dataset *ds, hb_loader *L, const hb_sample *s, long key, int B,
                            uint32_t noise_stream, int train, double *sse)
{
    const float *x0, *xs, *x1;
    HB_TRY(hb_loader_get(L, s, &x0, &xs, &x1));
    const size_t n = t->n, first = (size_t)t->slab.x0 * ds->N * ds->N;
    float *z = t->dy;   /* the noise, before dy is needed */
    const uint32_t sub = (uint32_t)((uint64_t)key * (uint64_t)B + (uint64_t)s->j);
    for (size_t c = 0; c < n; c++) {
        double g[2];
        hb_rng_normal2(t->cfg->seed, noise_stream, first + c, sub, g);
        z[2 * c] = (float)g[0];
        z[2 * c + 1] = (float)g[1];
    }
    const hb_interp ic = hb_interp_at(&t->meta.ic, ds->boxes[s->box].info.theta);
    hb_interp_pair(&ic, s->t, x0, xs, x1, z, t->in, t->target, n);
    float feat[HB_UNET_NFEAT];
    hb_interp_features(s->t, ds->boxes[s->box].info.theta, feat);
    if (t->w) HB_TRY(hb_loss_weights(t->cfg->loss_weight, x0, n, ds->N, t->gcomm, t->w));
    double t0 = hb_now();
    HB_TRY(hb_unet_forward(&t->net, t->in, feat, t->y));
    const double n_box = 2.0 * pow((double)ds->N, 3);   /* voxels x channels of a box */
    double mse = hb_wmse_forward_backward(train ? t->dy : NULL, t->y, t->target, t->w, n, 2,
                                          (float)(2.0 * (double)n / (n_box * B)));
    *sse = mse * 2.0 * (double)n;
    if (train) HB_TRY(hb_unet_backward(&t->net, t->dy, NULL));
    t->t_net += hb_now() - t0;
    return HB_OK;
}

/* The held-out loss: val_samples fixed samples (no augmentation), each at
 * its own fixed t; the mean of their per-box losses. */
static hb_status validate(trainer *t, double *loss)
{
    const int B = t->cfg->val_samples;
    hb_sample *ss = malloc((size_t)B * sizeof *ss);
    if (hb_mpi_any(t->comm, !ss)) { free(ss); return HB_ERR0(HB_ENOMEM, "validation samples"); }
    int n = group_samples(t, &t->vs, STREAM_VAL, 0, B, 0, ss);
    double sum = 0;
    hb_status rc = HB_OK;
    for (int i = 0; i < n && rc == HB_OK; i++) {
        double sse = 0;
        if (i + 1 < n) hb_loader_prefetch(&t->lv, &ss[i + 1]);
        rc = run_sample(t, &t->vs, &t->lv, &ss[i], 0, B, STREAM_VAL, 0, &sse);
        sum += sse;
    }
    free(ss);
    HB_TRY(hb_mpi_agree(t->comm, rc));
    HB_TRY(hb_mpi_sum(t->comm, &sum, 1));
    *loss = sum / (2.0 * pow((double)t->vs.N, 3) * B);
    return HB_OK;
}

/* A loss for the progress lines; "-" when there is none (no held-out boxes, or not evaluated yet). */
static void loss_text(char *buf, size_t n, double loss)
{
    if (isnan(loss)) snprintf(buf, n, "-");
    else snprintf(buf, n, "%.5f", loss);
}

/* The groups (ranks per box) and the decomposition of a box over a group. */
static hb_status make_groups(trainer *t, int N)
{
    const hb_train_config *cfg = t->cfg;
    t->G = cfg->group > 0 ? cfg->group : t->nranks;
    if (t->nranks % t->G) {
        return HB_ERR0(HB_EARG, "--group %d does not divide the %d ranks: every group needs the same number of ranks",
                       t->G, t->nranks);
    }
    t->ngroups = t->nranks / t->G;
    t->group = t->rank / t->G;
    HB_TRY(hb_mpi(MPI_Comm_split(t->comm, t->group, t->rank, &t->gcomm)));
    HB_TRY(hb_mpi(MPI_Comm_set_errhandler(t->gcomm, MPI_ERRORS_RETURN)));
    HB_TRY(hb_slab_init_aligned(&t->slab, N, 4, t->gcomm));
    if (t->ngroups > cfg->batch) {
        hb_log0("train: warning: %d groups but a batch of %d boxes: %d groups idle each step", t->ngroups, cfg->batch,
                t->ngroups - cfg->batch);
    }
    return HB_OK;
}

/* The sets, statistics, groups, the training range. */
static hb_status load_data(trainer *t, char **data, int n_data, char **val, int n_val)
{
    const hb_train_config *cfg = t->cfg;
    if (!hb_smooth_channels_ok(cfg->interp.n_smooth, cfg->interp.smooth_r, cfg->interp.smooth_thr)) {
        return HB_ERR0(HB_EARG, "--dm-smooth/--dm-halo: %d channels (%g cells above %g ...): expected none or up to %d "
                       "distinct channels, radii within (0, %g] cells, thresholds within [0, %g]", cfg->interp.n_smooth,
                       cfg->interp.smooth_r[0], cfg->interp.smooth_thr[0], HB_SMOOTH_MAX_CH, HB_SMOOTH_MAX_R,
                       HB_SMOOTH_MAX_THR);
    }
    double t_load = hb_now();
    HB_TRY(hb_dataset_open(&t->ds, data, n_data, t->comm));
    if (n_val > 0) {
        HB_TRY(hb_dataset_open(&t->vs, val, n_val, t->comm));
        if (t->vs.N != t->ds.N || fabs(t->vs.box_size - t->ds.box_size) > 1e-6 * t->ds.box_size ||
            !hb_mas_compatible(t->vs.dm_mas, t->ds.dm_mas)) {
            return HB_ERR0(HB_EARG, "validation boxes (%d^3, %g Mpc/h, DM painted with %s) differ from the training "
                           "boxes (%d^3, %g Mpc/h, %s)", t->vs.N, t->vs.box_size, t->vs.dm_mas, t->ds.N,
                           t->ds.box_size, t->ds.dm_mas);
        }
    }
    t->meta.ic = cfg->interp;
    HB_TRY(hb_dataset_stats(&t->ds, &t->meta.ic, t->comm));
    HB_TRY(make_groups(t, t->ds.N));
    hb_dataset_theta_range(&t->ds, t->meta.theta_min, t->meta.theta_max);
    t->meta.box_size = t->ds.box_size;
    t->meta.cell_size = t->ds.box_size / t->ds.N;
    t->meta.grid = t->ds.N;
    snprintf(t->meta.dm_mas, sizeof t->meta.dm_mas, "%s", t->ds.dm_mas);
    const hb_interp *ic = &t->meta.ic;
    int direct = 0;
    for (int b = 0; b < t->ds.n_boxes; b++) direct += t->ds.boxes[b].direct;
    hb_log0("train: %d boxes of %d^3 (%g Mpc/h; %d read raw, %d through HDF5), %d validation boxes, statistics in "
            "%.2f s; standardised log10 means %.3f %.3f %.3f, std %.3f %.3f %.3f", t->ds.n_boxes, t->ds.N,
            t->ds.box_size, direct, t->ds.n_boxes - direct, n_val, hb_now() - t_load, ic->mean[0], ic->mean[1],
            ic->mean[2], ic->std[0], ic->std[1], ic->std[2]);
    return HB_OK;
}

/* The network, its workspace, Adam moments, EMA, the loaders and the sample buffers. */
static hb_status setup(trainer *t)
{
    const hb_train_config *cfg = t->cfg;
    hb_unet_config uc = {HB_NTARGET, cfg->width, cfg->emb, t->meta.ic.n_smooth, cfg->emb_layers};
    HB_TRY(hb_unet_init(&t->net, &uc, cfg->seed));
    HB_TRY(hb_unet_reserve(&t->net, &t->slab, t->ds.N, t->ds.N, 1));
    HB_TRY(hb_loader_init(&t->ld, &t->ds, &t->slab, &t->meta.ic));
    if (t->vs.n_boxes > 0) HB_TRY(hb_loader_init(&t->lv, &t->vs, &t->slab, &t->meta.ic));
    t->n = (size_t)t->slab.nx * t->ds.N * t->ds.N;
    t->m = calloc(t->net.n_params, sizeof *t->m);
    t->v = calloc(t->net.n_params, sizeof *t->v);
    t->ema = malloc(t->net.n_params * sizeof *t->ema);
    t->in = malloc(t->n * (size_t)hb_interp_n_in(&t->meta.ic) * sizeof *t->in);
    t->target = malloc(t->n * 2 * sizeof *t->target);
    t->y = malloc(t->n * 2 * sizeof *t->y);
    t->dy = malloc(t->n * 2 * sizeof *t->dy);
    if (cfg->loss_weight[0] != 0 || cfg->loss_weight[1] != 0 || cfg->loss_weight[2] != 0) {
        t->w = malloc(t->n * sizeof *t->w);
        if (!t->w) return HB_ERR(HB_ENOMEM, "loss weights");
    }
    if (!t->m || !t->v || !t->ema || !t->in || !t->target || !t->y || !t->dy) {
        return HB_ERR(HB_ENOMEM, "training buffers (%zu cells)", t->n);
    }
    memcpy(t->ema, t->net.params, t->net.n_params * sizeof *t->ema);
    t->adam = cfg->adam;
    t->guard = hb_guard_init(cfg->guard_window, cfg->guard_rise, HB_GUARD_MAX_ROLLBACKS);
    for (int k = 0; k < 2 && cfg->guard_rise > 0; k++) {
        for (int j = 0; j < 4; j++) {
            t->slot[k][j] = malloc(t->net.n_params * sizeof *t->slot[k][j]);
            if (!t->slot[k][j]) return HB_ERR(HB_ENOMEM, "the collapse guard's snapshots");
        }
    }
    return HB_OK;
}

/* What a stopped training leaves behind, for its error message. */
static void kept_text(const trainer *t, char *buf, size_t cap)
{
    if (t->saved >= 0) snprintf(buf, cap, "%s keeps the checkpoint of step %ld", t->cfg->out, t->saved);
    else snprintf(buf, cap, "no model written");
}

/* One optimiser step: the group's samples' gradients (the next sample
 * prefetched while the network runs), one Allreduce, AdamW, EMA. */
static hb_status train_step(trainer *t, hb_sample *ss, double *loss)
{
    const hb_train_config *cfg = t->cfg;
    const long step = t->step + 1;
    const int B = cfg->batch;
    int n = group_samples(t, &t->ds, HB_STREAM_PATCH, step, B, cfg->augment, ss);
    hb_unet_zero_grad(&t->net);
    double sum = 0;
    hb_status rc = HB_OK;
    for (int i = 0; i < n && rc == HB_OK; i++) {
        hb_sample next;   /* the following sample, or the next step's first */
        if (i + 1 < n) next = ss[i + 1];
        else hb_dataset_sample(&t->ds, cfg->seed, HB_STREAM_PATCH, step + 1, t->group, cfg->augment, &next);
        if (i + 1 < n || step < cfg->steps) hb_loader_prefetch(&t->ld, &next);
        double sse = 0;
        rc = run_sample(t, &t->ds, &t->ld, &ss[i], step, B, HB_STREAM_TRAIN_NOISE, 1, &sse);
        sum += sse;
    }
    HB_TRY(hb_mpi_agree(t->comm, rc));
    /* one Allreduce for the gradients; the loss is a second, tiny one */
    HB_TRY(hb_mpi(MPI_Allreduce(MPI_IN_PLACE, t->net.grads, (int)t->net.n_params, MPI_FLOAT, MPI_SUM, t->comm)));
    HB_TRY(hb_mpi_sum(t->comm, &sum, 1));
    *loss = sum / (2.0 * pow((double)t->ds.N, 3) * B);
    const double gnorm = hb_adam_step(&t->adam, step, t->net.params, t->net.grads, t->m, t->v, t->net.n_params);
    int finite = isfinite(*loss) && isfinite(gnorm);
    for (size_t i = 0; finite && i < t->net.n_params; i++) finite = isfinite(t->net.params[i]);
    if (hb_mpi_any(t->comm, !finite)) {
        char kept[1200];
        kept_text(t, kept, sizeof kept);
        return HB_ERR0(HB_ENUM, "training diverged at step %ld: loss %g, gradient norm %g%s (learning rate %.3g); "
                       "%s. Lower --lr or --clip", step, *loss, gnorm, finite ? "" : ", non-finite weights",
                       hb_adam_lr(&t->adam, step), kept);
    }
    /* EMA with a short warm-up so early averages are not stuck at the init */
    float d = (float)fmin(cfg->ema_decay, (1.0 + step) / (10.0 + step));
    for (size_t i = 0; i < t->net.n_params; i++) t->ema[i] = d * t->ema[i] + (1 - d) * t->net.params[i];
    t->step = step;
    return HB_OK;
}

/* The progress line's numbers. */
static void progress_text(const trainer *t, char *buf, size_t cap, double loss, double val_loss, long done,
                          double elapsed)
{
    char val[32];
    loss_text(val, sizeof val, val_loss);
    const double sps = (double)done * t->cfg->batch / elapsed, vox = sps * pow((double)t->ds.N, 3);
    snprintf(buf, cap, "loss %.5f  val %s  %.2f boxes/s  %.2e voxels/s  I/O wait %.0f%%  lr %.2e", loss, val, sps,
             vox, 100 * t->ld.t_wait / elapsed, hb_adam_lr(&t->adam, t->step));
}

/* The guard's confirmed snapshot back into the state (set: state_sets). */
static void restore_snapshot(trainer *t, float *set[4])
{
    const long c = t->guard.confirmed;
    for (int j = 0; j < 4; j++) memcpy(set[j], t->slot[c][j], t->net.n_params * sizeof *set[j]);
    t->step = t->guard.slot_step[c];
    t->adam.lr = t->cfg->adam.lr * t->guard.lr_scale;
}

/* The collapse guard's decision after a step (hb/train.h), carried out. */
static hb_status guard(trainer *t, double loss)
{
    hb_guard *g = &t->guard;
    const double best = g->best;
    const long step = t->step;
    float *set[4];
    state_sets(t, set);
    switch (hb_guard_step(g, step, loss)) {
    case HB_GUARD_SNAPSHOT:
        for (int j = 0; j < 4; j++) memcpy(t->slot[g->pending][j], set[j], t->net.n_params * sizeof *set[j]);
        return HB_OK;
    case HB_GUARD_ROLLBACK:
        restore_snapshot(t, set);
        hb_log0("train: WARNING: the loss's running geometric mean rose above %g times its lowest (%.4g) by step %ld: the "
                "training left its minimum. Rolled back to step %ld, learning rate now %.3g times --lr (rollback %ld "
                "of %d)", t->cfg->guard_rise, exp(best), step, t->step, g->lr_scale, g->rollbacks, g->max_rollbacks);
        return HB_OK;
    case HB_GUARD_FAIL: {
        char kept[1200];
        if (g->confirmed >= 0) {   /* no rollback left: the file keeps the last healthy state, not the collapsed one */
            restore_snapshot(t, set);
            HB_TRY(write_checkpoint(t));
            snprintf(kept, sizeof kept, "%s holds the last healthy state, the snapshot of step %ld (--resume continues "
                     "from it at %.3g times --lr, with no rollback left)", t->cfg->out, t->step, g->lr_scale);
        }
        else kept_text(t, kept, sizeof kept);
        return HB_ERR0(HB_ENUM, "training collapsed at step %ld: the loss's running geometric mean %.4g is above %g "
                       "times its lowest (%.4g)%s; %s. Lower --lr (or --guard 0 to train on regardless)", step,
                       exp(g->tripped), t->cfg->guard_rise, exp(best), g->rollbacks ? " after every rollback the guard allows" :
                       " with no healthy snapshot to roll back to", kept);
    }
    default:
        return HB_OK;
    }
}

/* The step loop: progress, validation, checkpoints, stop on a signal. */
static hb_status loop(trainer *t)
{
    const hb_train_config *cfg = t->cfg;
    hb_sample *ss = malloc((size_t)cfg->batch * sizeof *ss);
    if (hb_mpi_any(t->comm, !ss)) { free(ss); return HB_ERR0(HB_ENOMEM, "batch list"); }
    hb_progress prog;
    hb_progress_init(&prog, "train", cfg->steps, "steps");
    const long step0 = t->step;
    prog.done0 = step0;   /* a resumed run's rate and ETA from its own steps */
    double val_loss = NAN, last_loss = NAN, t_start = hb_now();
    t->ld.t_wait = t->t_net = 0;
    hb_status rc = HB_OK;
    while (rc == HB_OK && t->step < cfg->steps) {
        if (hb_mpi_any(t->comm, g_stop)) {   /* SLURM's warning signal: checkpoint, stop cleanly */
            hb_log0("train: stop requested (SIGTERM/SIGUSR1) at step %ld", t->step);
            rc = write_checkpoint(t);
            if (rc == HB_OK) rc = HB_ESTOP;
            break;
        }
        rc = train_step(t, ss, &last_loss);
        if (rc == HB_OK) rc = guard(t, last_loss);
        const long step = t->step;
        if (rc == HB_OK && t->vs.n_boxes > 0 && (step % cfg->val_every == 0 || step == cfg->steps)) rc = validate(t, &val_loss);
        char extra[200];
        progress_text(t, extra, sizeof extra, last_loss, val_loss, step - step0, hb_now() - t_start);
        if (rc == HB_OK) hb_progress_step(&prog, step, extra);
        if (rc == HB_OK && cfg->ckpt_every > 0 && step % cfg->ckpt_every == 0 && step < cfg->steps) {
            rc = write_checkpoint(t);
        }
    }
    free(ss);
    if (rc == HB_OK) rc = write_checkpoint(t);
    if (rc == HB_OK) {
        double el = hb_now() - t_start, rss = (double)hb_peak_rss(), done = (double)(t->step - step0);
        char val[32];
        loss_text(val, sizeof val, val_loss);
        rc = hb_mpi_max(t->comm, &rss, 1);
        hb_log0("train: done, %ld steps in %.1f s (%.2f boxes/s, %.3e voxels/s; network %.0f%%, waiting for data "
                "%.1f%% of the time), final loss %.5f, validation %s; peak memory %.0f MB per rank",
                t->step - step0, el, done * cfg->batch / el, done * cfg->batch * pow((double)t->ds.N, 3) / el,
                100 * t->t_net / el, 100 * t->ld.t_wait / el, last_loss, val, rss / 1e6);
    }
    return rc;
}

hb_status hb_train(const hb_train_config *cfg, char **data, int n_data, char **val, int n_val, MPI_Comm comm)
{
    if (!hb_adam_config_ok(&cfg->adam)) {   /* before any file is read */
        return HB_ERR0(HB_EARG, "optimiser: lr %g, lr_min_frac %g, weight_decay %g, clip_norm %g: expected "
                       "0 < lr < inf, lr_min_frac and weight_decay within [0, 1], 0 <= clip_norm < inf",
                       cfg->adam.lr, cfg->adam.lr_min_frac, cfg->adam.weight_decay, cfg->adam.clip_norm);
    }
    if (!hb_loss_weights_ok(cfg->loss_weight)) {
        return HB_ERR0(HB_EARG, "loss weight slopes %g, %g, %g: expected finite and within [-5, 5]",
                       cfg->loss_weight[0], cfg->loss_weight[1], cfg->loss_weight[2]);
    }
    trainer t;
    memset(&t, 0, sizeof t);
    t.cfg = cfg;
    t.comm = comm;
    t.gcomm = MPI_COMM_NULL;
    t.saved = -1;
    hb_train_data_hash(data, n_data, t.data_hash);
    HB_TRY(hb_mpi(MPI_Comm_rank(comm, &t.rank)));
    HB_TRY(hb_mpi(MPI_Comm_size(comm, &t.nranks)));
    hb_status rc = load_data(&t, data, n_data, val, n_val);
    if (rc == HB_OK) rc = hb_mpi_agree(comm, setup(&t));
    if (rc == HB_OK && cfg->resume) rc = resume(&t);
    if (rc == HB_OK) {
        char sm[64], nt[160];
        hb_log0("train: network w=%d, embedding %d in %d layers (%zu parameters), batch %d boxes of %d^3, %d groups of %d ranks (slabs of "
                "%ld planes), %ld steps, lr %.2e, sigma_c %g, noise slopes %g %g, noise's parameter coefficients %s, "
                "smoothed-DM channels %s",
                cfg->width, cfg->emb, t.net.cfg.emb_layers, t.net.n_params, cfg->batch, t.ds.N, t.ngroups, t.G, t.slab.nx, cfg->steps, cfg->adam.lr,
                t.meta.ic.sigma_c, t.meta.ic.noise_slope[0], t.meta.ic.noise_slope[1],
                hb_interp_noise_theta_describe(&t.meta.ic, nt, sizeof nt), hb_smooth_describe(&t.meta.ic, sm, sizeof sm));
        rc = loop(&t);
    }
    trainer_free(&t);
    return rc;
}
