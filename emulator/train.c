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

#define STREAM_VAL 101   /* validation patches: fixed, independent of the step */

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
    c.batch = 4;
    c.patch = 32;
    c.width = 16;
    c.augment = 1;
    c.ema_decay = 0.999;
    c.val_every = 100;
    c.ckpt_every = 500;
    c.val_patches = 8;
    c.seed = 1;
    c.adam = hb_adam_config_default();
    c.interp = hb_interp_default();
    snprintf(c.out, sizeof c.out, "model.h5");
    return c;
}

/* ---- the trainer ------------------------------------------------------- */

typedef struct trainer {
    const hb_train_config *cfg;
    MPI_Comm comm;
    int rank;
    hb_unet net;
    float *m, *v, *ema;
    long step;                       /* steps done */
    hb_model_meta meta;
    /* batch buffers */
    float *in, *target, *y, *dy, *feat, *x0, *x1, *z;
} trainer;

static void trainer_free(trainer *t)
{
    hb_unet_free(&t->net);
    free(t->m); free(t->v); free(t->ema);
    free(t->in); free(t->target); free(t->y); free(t->dy); free(t->feat); free(t->x0); free(t->x1); free(t->z);
}

static hb_status write_checkpoint(trainer *t, const hb_dataset *ds, int n_val)
{
    double t0 = hb_now();
    const hb_train_config *c = t->cfg;
    const hb_h5_attr attrs[] = {
        {"step", 'l', 0, t->step, NULL}, {"steps_total", 'l', 0, c->steps, NULL}, {"batch", 'l', 0, c->batch, NULL},
        {"patch", 'l', 0, c->patch, NULL}, {"seed", 'l', 0, (long)c->seed, NULL}, {"augment", 'l', 0, c->augment, NULL},
        {"n_train_boxes", 'l', 0, ds->n_boxes, NULL}, {"n_val_boxes", 'l', 0, n_val, NULL},
        {"ema_decay", 'd', c->ema_decay, 0, NULL}, {"lr", 'd', c->adam.lr, 0, NULL},
        {"weight_decay", 'd', c->adam.weight_decay, 0, NULL}, {"clip_norm", 'd', c->adam.clip_norm, 0, NULL}};
    HB_TRY(hb_model_save(c->out, t->comm, &t->net, &t->meta, attrs, (int)(sizeof attrs / sizeof attrs[0]), t->ema,
                         t->m, t->v));
    hb_log0("checkpoint: step %ld written to %s (%.2f s)", t->step, c->out, hb_now() - t0);
    return HB_OK;
}

static hb_status resume(trainer *t)
{
    hb_h5 f;
    HB_TRY(hb_h5_open(&f, t->cfg->out, t->comm));
    hb_status rc = hb_model_check_arch(&f, &t->net);
    long step = 0, batch = 0, patch = 0, seed = 0;
    if (rc == HB_OK) rc = hb_h5_attr_read_long(&f, "/", "step", &step);
    if (rc == HB_OK) rc = hb_h5_attr_read_long(&f, "/", "batch", &batch);
    if (rc == HB_OK) rc = hb_h5_attr_read_long(&f, "/", "patch", &patch);
    if (rc == HB_OK) rc = hb_h5_attr_read_long(&f, "/", "seed", &seed);
    if (rc == HB_OK && (batch != t->cfg->batch || patch != t->cfg->patch || (uint64_t)seed != t->cfg->seed)) {
        rc = HB_ERR0(HB_EARG, "%s was trained with --batch %ld --patch %ld --seed %ld; resume with the same "
                     "(got %d, %d, %lu)", t->cfg->out, batch, patch, seed, t->cfg->batch, t->cfg->patch,
                     (unsigned long)t->cfg->seed);
    }
    if (rc == HB_OK) rc = hb_model_read_set(&f, "weights", &t->net, t->net.params);
    if (rc == HB_OK) rc = hb_model_read_set(&f, "ema", &t->net, t->ema);
    if (rc == HB_OK) rc = hb_model_read_set(&f, "adam_m", &t->net, t->m);
    if (rc == HB_OK) rc = hb_model_read_set(&f, "adam_v", &t->net, t->v);
    hb_h5_close(&f);
    HB_TRY(rc);
    t->step = step;
    hb_log0("resume: %s at step %ld", t->cfg->out, step);
    return HB_OK;
}

/* Inputs, targets and features of the local patches; then forward (and
 * backward when train). *loss_sum: the summed per-patch losses. */
static hb_status run_batch(trainer *t, const hb_dataset *ds, const hb_patch *ps, int nloc, int B, long key,
                           uint32_t noise_stream, int train, double *loss_sum)
{
    const int P = t->cfg->patch;
    const size_t V = (size_t)P * P * P;
    for (int i = 0; i < nloc; i++) {
        const hb_patch *s = &ps[i];
        hb_dataset_extract(ds, s, P, t->x0, t->x1);
        for (size_t vv = 0; vv < V; vv++) {
            double g[2];
            hb_rng_normal2(t->cfg->seed, noise_stream, (uint64_t)key * (uint64_t)B + (uint64_t)s->j, (uint32_t)vv, g);
            t->z[2 * vv] = (float)g[0];
            t->z[2 * vv + 1] = (float)g[1];
        }
        hb_interp_pair(&t->meta.ic, s->t, t->x0, t->x1, t->z, t->in + (size_t)i * V * 3, t->target + (size_t)i * V * 2, V);
        hb_interp_features(s->t, ds->boxes[s->box].info.theta, t->feat + (size_t)i * HB_UNET_NFEAT);
    }
    *loss_sum = 0;
    if (nloc == 0) return HB_OK;
    HB_TRY(hb_unet_forward(&t->net, t->in, t->feat, t->y, nloc, P, P, P));
    /* L = (1/B) sum_patches mean_voxels (y - target)^2: the local share */
    double mse = hb_mse_forward_backward(train ? t->dy : NULL, t->y, t->target, (size_t)nloc * V * 2,
                                         (float)nloc / (float)B);
    *loss_sum = mse * nloc;
    if (train) hb_unet_backward(&t->net, t->dy);
    return HB_OK;
}

static hb_status validate(trainer *t, const hb_dataset *val, double *loss)
{
    const int B = t->cfg->val_patches;
    hb_patch *ps = malloc((size_t)B * sizeof *ps);
    if (hb_mpi_any(t->comm, !ps)) { free(ps); return HB_ERR0(HB_ENOMEM, "validation patches"); }
    int nloc = hb_dataset_patches(val, t->cfg->seed, STREAM_VAL, 0, B, 0, ps);
    double sum = 0;
    hb_status rc = HB_OK;
    /* in chunks of the training batch size: the workspace holds that many */
    for (int i0 = 0; i0 < nloc && rc == HB_OK; i0 += t->cfg->batch) {
        int n = nloc - i0 < t->cfg->batch ? nloc - i0 : t->cfg->batch;
        double s;
        rc = run_batch(t, val, ps + i0, n, B, 0, STREAM_VAL, 0, &s);
        sum += s;
    }
    free(ps);
    HB_TRY(hb_mpi_agree(t->comm, rc));
    HB_TRY(hb_mpi_sum(t->comm, &sum, 1));
    *loss = sum / B;
    return HB_OK;
}

/* A loss for the progress lines; "-" when there is none (no held-out boxes, or not evaluated yet). */
static void loss_text(char *buf, size_t n, double loss)
{
    if (isnan(loss)) snprintf(buf, n, "-");
    else snprintf(buf, n, "%.5f", loss);
}

/* Statistics, the training and validation sets, the training range. */
static hb_status load_data(trainer *t, hb_dataset *ds, hb_dataset *vs, char **data, int n_data, char **val, int n_val)
{
    const hb_train_config *cfg = t->cfg;
    double t_load = hb_now();
    t->meta.ic = cfg->interp;
    HB_TRY(hb_dataset_stats(data, n_data, &t->meta.ic, t->comm));
    HB_TRY(hb_dataset_load(ds, data, n_data, cfg->patch - 1, &t->meta.ic, t->comm));
    if (n_val > 0) {
        HB_TRY(hb_dataset_load(vs, val, n_val, cfg->patch - 1, &t->meta.ic, t->comm));
        if (vs->N != ds->N || fabs(vs->box_size - ds->box_size) > 1e-6 * ds->box_size) {
            return HB_ERR0(HB_EARG, "validation boxes (%d^3, %g Mpc/h) differ from the training boxes (%d^3, %g Mpc/h)",
                           vs->N, vs->box_size, ds->N, ds->box_size);
        }
    }
    if (cfg->patch % 4 || cfg->patch > ds->N) {
        return HB_ERR0(HB_EARG, "--patch %d must be a multiple of 4 and at most the grid %d", cfg->patch, ds->N);
    }
    hb_dataset_theta_range(ds, t->meta.theta_min, t->meta.theta_max);
    t->meta.box_size = ds->box_size;
    t->meta.cell_size = ds->box_size / ds->N;
    t->meta.grid = ds->N;
    const hb_interp *ic = &t->meta.ic;
    hb_log0("train: %d boxes of %d^3 (%g Mpc/h), %d validation boxes, loaded in %.2f s; standardised log10 "
            "means %.3f %.3f %.3f, std %.3f %.3f %.3f", ds->n_boxes, ds->N, ds->box_size, n_val, hb_now() - t_load,
            ic->mean[0], ic->mean[1], ic->mean[2], ic->std[0], ic->std[1], ic->std[2]);
    return HB_OK;
}

/* The network, its workspace, Adam moments, EMA and the batch buffers. */
static hb_status setup(trainer *t)
{
    const hb_train_config *cfg = t->cfg;
    hb_unet_config uc = {HB_NTARGET, cfg->width, 64};
    HB_TRY(hb_unet_init(&t->net, &uc, cfg->seed));
    HB_TRY(hb_unet_reserve(&t->net, cfg->batch, cfg->patch, cfg->patch, cfg->patch));
    const size_t V = (size_t)cfg->patch * cfg->patch * cfg->patch, B = (size_t)cfg->batch;
    t->m = calloc(t->net.n_params, sizeof *t->m);
    t->v = calloc(t->net.n_params, sizeof *t->v);
    t->ema = malloc(t->net.n_params * sizeof *t->ema);
    t->in = malloc(B * V * 3 * sizeof *t->in);
    t->target = malloc(B * V * 2 * sizeof *t->target);
    t->y = malloc(B * V * 2 * sizeof *t->y);
    t->dy = malloc(B * V * 2 * sizeof *t->dy);
    t->feat = malloc(B * HB_UNET_NFEAT * sizeof *t->feat);
    t->x0 = malloc(V * sizeof *t->x0);
    t->x1 = malloc(V * 2 * sizeof *t->x1);
    t->z = malloc(V * 2 * sizeof *t->z);
    if (!t->m || !t->v || !t->ema || !t->in || !t->target || !t->y || !t->dy || !t->feat || !t->x0 || !t->x1 || !t->z) {
        return HB_ERR(HB_ENOMEM, "training buffers");
    }
    memcpy(t->ema, t->net.params, t->net.n_params * sizeof *t->ema);
    return HB_OK;
}

/* One optimiser step: the local patches' gradients, one Allreduce, AdamW, EMA. */
static hb_status train_step(trainer *t, const hb_dataset *ds, hb_patch *ps, double *loss)
{
    const hb_train_config *cfg = t->cfg;
    const long step = t->step + 1;
    int nloc = hb_dataset_patches(ds, cfg->seed, HB_STREAM_PATCH, step, cfg->batch, cfg->augment, ps);
    hb_unet_zero_grad(&t->net);
    double sum;
    HB_TRY(hb_mpi_agree(t->comm, run_batch(t, ds, ps, nloc, cfg->batch, step, HB_STREAM_TRAIN_NOISE, 1, &sum)));
    /* one Allreduce for the gradients; the loss is a second, tiny one */
    HB_TRY(hb_mpi(MPI_Allreduce(MPI_IN_PLACE, t->net.grads, (int)t->net.n_params, MPI_FLOAT, MPI_SUM, t->comm)));
    HB_TRY(hb_mpi_sum(t->comm, &sum, 1));
    *loss = sum / cfg->batch;
    hb_adam_step(&cfg->adam, step, t->net.params, t->net.grads, t->m, t->v, t->net.n_params);
    /* EMA with a short warm-up so early averages are not stuck at the init */
    float d = (float)fmin(cfg->ema_decay, (1.0 + step) / (10.0 + step));
    for (size_t i = 0; i < t->net.n_params; i++) t->ema[i] = d * t->ema[i] + (1 - d) * t->net.params[i];
    t->step = step;
    return HB_OK;
}

/* The step loop: progress, validation, checkpoints, stop on a signal. */
static hb_status loop(trainer *t, const hb_dataset *ds, const hb_dataset *vs, int n_val)
{
    const hb_train_config *cfg = t->cfg;
    hb_patch *ps = malloc((size_t)cfg->batch * sizeof *ps);
    if (hb_mpi_any(t->comm, !ps)) { free(ps); return HB_ERR0(HB_ENOMEM, "batch list"); }
    hb_progress prog;
    hb_progress_init(&prog, "train", cfg->steps, "steps");
    const long step0 = t->step;
    double val_loss = NAN, last_loss = NAN, t_start = hb_now();
    hb_status rc = HB_OK;
    while (rc == HB_OK && t->step < cfg->steps) {
        if (hb_mpi_any(t->comm, g_stop)) {   /* SLURM's warning signal: checkpoint, stop cleanly */
            hb_log0("train: stop requested (SIGTERM/SIGUSR1) at step %ld", t->step);
            rc = write_checkpoint(t, ds, n_val);
            if (rc == HB_OK) rc = HB_ESTOP;
            break;
        }
        rc = train_step(t, ds, ps, &last_loss);
        const long step = t->step;
        if (rc == HB_OK && n_val > 0 && (step % cfg->val_every == 0 || step == cfg->steps)) rc = validate(t, vs, &val_loss);
        char extra[160], val[32];
        loss_text(val, sizeof val, val_loss);
        double sps = (double)(step - step0) * cfg->batch / (hb_now() - t_start);
        snprintf(extra, sizeof extra, "loss %.5f  val %s  %.1f samples/s  lr %.2e", last_loss, val, sps,
                 hb_adam_lr(&cfg->adam, step));
        if (rc == HB_OK) hb_progress_step(&prog, step, extra);
        if (rc == HB_OK && cfg->ckpt_every > 0 && step % cfg->ckpt_every == 0 && step < cfg->steps) {
            rc = write_checkpoint(t, ds, n_val);
        }
    }
    free(ps);
    if (rc == HB_OK) rc = write_checkpoint(t, ds, n_val);
    if (rc == HB_OK) {
        double el = hb_now() - t_start;
        char val[32];
        loss_text(val, sizeof val, val_loss);
        hb_log0("train: done, %ld steps in %.1f s (%.2f samples/s), final loss %.5f, validation %s",
                t->step - step0, el, (t->step - step0) * (double)cfg->batch / el, last_loss, val);
    }
    return rc;
}

hb_status hb_train(const hb_train_config *cfg, char **data, int n_data, char **val, int n_val, MPI_Comm comm)
{
    trainer t;
    memset(&t, 0, sizeof t);
    t.cfg = cfg;
    t.comm = comm;
    HB_TRY(hb_mpi(MPI_Comm_rank(comm, &t.rank)));
    hb_dataset ds, vs;
    memset(&ds, 0, sizeof ds);
    memset(&vs, 0, sizeof vs);
    hb_status rc = load_data(&t, &ds, &vs, data, n_data, val, n_val);
    if (rc == HB_OK) rc = hb_mpi_agree(comm, setup(&t));
    if (rc == HB_OK && cfg->resume) rc = resume(&t);
    if (rc == HB_OK) {
        hb_log0("train: network w=%d (%zu parameters), batch %d of %d^3 patches, %ld steps, lr %.2e, %d ranks",
                cfg->width, t.net.n_params, cfg->batch, cfg->patch, cfg->steps, cfg->adam.lr, ds.slab.nranks);
        rc = loop(&t, &ds, &vs, n_val);
    }
    trainer_free(&t);
    hb_dataset_free(&ds);
    hb_dataset_free(&vs);
    return rc;
}
