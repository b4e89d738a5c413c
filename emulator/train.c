/* Training the drift network (hb/train.h). */
#include "hb/train.h"

#include <dirent.h>
#include <errno.h>
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
#include "hb/version.h"

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

/* ---- file lists -------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static hb_status list_local(const char *src, char **buf, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *out = malloc(cap);
    int count = 0;
    DIR *d = opendir(src);
    char **names = NULL;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t l = strlen(e->d_name);
            if (l > 3 && strcmp(e->d_name + l - 3, ".h5") == 0) {
                names = realloc(names, (size_t)(count + 1) * sizeof *names);
                names[count] = malloc(strlen(src) + l + 2);
                sprintf(names[count], "%s/%s", src, e->d_name);
                count++;
            }
        }
        closedir(d);
        qsort(names, (size_t)count, sizeof *names, cmp_str);
    } else {
        FILE *f = fopen(src, "r");
        if (!f) {
            free(out);
            return HB_ERR(HB_EIO, "%s is neither a directory nor a readable list file: %s", src, strerror(errno));
        }
        char line[2048];
        while (fgets(line, sizeof line, f)) {
            char *s = line;
            while (*s == ' ' || *s == '\t') s++;
            s[strcspn(s, "\r\n#")] = '\0';
            size_t l = strlen(s);
            while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\t')) s[--l] = '\0';
            if (!l) continue;
            names = realloc(names, (size_t)(count + 1) * sizeof *names);
            names[count++] = strdup(s);
        }
        fclose(f);
    }
    for (int i = 0; i < count; i++) {
        size_t l = strlen(names[i]);
        if (n + l + 2 > cap) {
            cap = 2 * (n + l + 2);
            out = realloc(out, cap);
        }
        memcpy(out + n, names[i], l);
        out[n + l] = '\n';
        n += l + 1;
        free(names[i]);
    }
    free(names);
    out[n] = '\0';
    *buf = out;
    *len = n + 1;
    return HB_OK;
}

hb_status hb_dataset_list(const char *src, char ***paths, int *n, MPI_Comm comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    char *buf = NULL;
    size_t len = 0;
    hb_status rc = HB_OK;
    if (rank == 0) rc = list_local(src, &buf, &len);
    HB_TRY(hb_mpi_agree(comm, rc));
    long l = (long)len;
    MPI_Bcast(&l, 1, MPI_LONG, 0, comm);
    if (rank != 0) buf = malloc((size_t)l);
    MPI_Bcast(buf, (int)l, MPI_CHAR, 0, comm);
    int count = 0;
    for (char *p = buf; *p; p++) count += *p == '\n';
    char **out = calloc((size_t)(count ? count : 1), sizeof *out);
    int i = 0;
    for (char *tok = strtok(buf, "\n"); tok && i < count; tok = strtok(NULL, "\n")) out[i++] = strdup(tok);
    free(buf);
    *paths = out;
    *n = count;
    if (count == 0) return HB_ERR0(HB_EIO, "no box files (*.h5) in %s", src);
    return HB_OK;
}

void hb_dataset_free_list(char **paths, int n)
{
    for (int i = 0; i < n; i++) free(paths[i]);
    free(paths);
}

/* ---- loading ----------------------------------------------------------- */

static const char *const FIELD[HB_NCH] = {HB_FIELD_DM, HB_FIELD_GAS, HB_FIELD_TEMP};

void hb_dataset_free(hb_dataset *ds)
{
    for (int i = 0; i < ds->n_boxes && ds->boxes; i++) free(ds->boxes[i].data);
    free(ds->boxes);
    hb_slab_free(&ds->slab);
    memset(ds, 0, sizeof *ds);
}

/* Load log10 of every channel for slab + halo; optionally compute the stats. */
static hb_status load(hb_dataset *ds, char **paths, int n, long halo, hb_interp *ic, int stats, MPI_Comm comm)
{
    memset(ds, 0, sizeof *ds);
    ds->n_boxes = n;
    ds->halo = halo;
    ds->boxes = calloc((size_t)n, sizeof *ds->boxes);
    double sum[2 * HB_NCH] = {0}, lmin[HB_NCH], lmax[HB_NCH];
    for (int ch = 0; ch < HB_NCH; ch++) { lmin[ch] = 1e300; lmax[ch] = -1e300; }
    double count = 0;
    float *tmp = NULL;
    for (int b = 0; b < n; b++) {
        hb_box_slab *bx = &ds->boxes[b];
        snprintf(bx->path, sizeof bx->path, "%s", paths[b]);
        hb_h5 f;
        HB_TRY(hb_h5_open(&f, paths[b], comm));
        int N = 0;
        hb_status rc = HB_OK;
        for (int ch = 0; ch < HB_NCH && rc == HB_OK; ch++) {
            int Nc;
            rc = hb_h5_field_size(&f, FIELD[ch], &Nc);
            if (rc == HB_OK && ch == 0) N = Nc;
            if (rc == HB_OK && Nc != N) rc = HB_ERR0(HB_EIO, "%s: %s is %d^3 but %s is %d^3", paths[b], FIELD[ch], Nc, FIELD[0], N);
        }
        if (rc == HB_OK) rc = hb_h5_read_boxinfo(&f, &bx->info);
        if (rc == HB_OK && N % 4) rc = HB_ERR0(HB_EARG, "%s: grid %d^3 is not a multiple of 4 (the network halves it twice)", paths[b], N);
        if (rc == HB_OK && b == 0) {
            ds->N = N;
            ds->box_size = bx->info.box_size;
            rc = hb_slab_init(&ds->slab, N, comm);
            if (rc == HB_OK && halo > N) rc = HB_ERR0(HB_EARG, "patch of %ld cells is larger than the %d^3 boxes", halo + 1, N);
            if (rc == HB_OK) tmp = malloc(((size_t)(ds->slab.nx + halo) + 1) * N * N * sizeof *tmp);
        } else if (rc == HB_OK && (N != ds->N || fabs(bx->info.box_size - ds->box_size) > 1e-6 * ds->box_size)) {
            rc = HB_ERR0(HB_EARG, "%s is %d^3 in %g Mpc/h, but %s is %d^3 in %g Mpc/h: every box must match",
                         paths[b], N, bx->info.box_size, paths[0], ds->N, ds->box_size);
        }
        hb_boxinfo_theta(&bx->info, bx->theta);
        long nx = ds->slab.nx, ext = nx > 0 ? nx + halo : 0;
        size_t plane = (size_t)ds->N * ds->N;
        if (rc == HB_OK) {
            bx->data = malloc(((size_t)ext + 1) * plane * HB_NCH * sizeof *bx->data);
            if (hb_mpi_any(comm, !bx->data || !tmp)) rc = HB_ERR0(HB_ENOMEM, "training slabs (%zu MB per box)", (size_t)ext * plane * 12 / 1000000);
        }
        for (int ch = 0; ch < HB_NCH && rc == HB_OK; ch++) {
            rc = hb_h5_read_field(&f, FIELD[ch], ds->N, ds->slab.x0, ext, tmp, (size_t)ds->N);
            for (size_t i = 0; rc == HB_OK && i < (size_t)ext * plane; i++) {
                double v = tmp[i] > ic->floor[ch] ? tmp[i] : ic->floor[ch];
                double lv = log10(v);
                bx->data[i * HB_NCH + ch] = (float)lv;
                if (stats && i < (size_t)nx * plane) {   /* own planes only: each cell counted once */
                    sum[ch] += lv;
                    sum[HB_NCH + ch] += lv * lv;
                    lmin[ch] = fmin(lmin[ch], lv);
                    lmax[ch] = fmax(lmax[ch], lv);
                }
            }
        }
        if (stats) count += (double)nx * plane;
        hb_h5_close(&f);
        if (rc != HB_OK) {
            free(tmp);
            return rc;
        }
    }
    free(tmp);
    if (stats) {
        hb_mpi_sum(comm, sum, 2 * HB_NCH);
        hb_mpi_sum(comm, &count, 1);
        hb_mpi_min(comm, lmin, HB_NCH);
        hb_mpi_max(comm, lmax, HB_NCH);
        memcpy(ic->lmin, lmin, sizeof lmin);
        memcpy(ic->lmax, lmax, sizeof lmax);
        for (int ch = 0; ch < HB_NCH; ch++) {
            ic->mean[ch] = sum[ch] / count;
            double var = sum[HB_NCH + ch] / count - ic->mean[ch] * ic->mean[ch];
            ic->std[ch] = var > 1e-12 ? sqrt(var) : 1.0;
        }
    }
    /* standardise in place, halos included */
    for (int b = 0; b < n; b++) {
        long ext = ds->slab.nx > 0 ? ds->slab.nx + halo : 0;
        size_t nc = (size_t)ext * ds->N * ds->N;
        float *d = ds->boxes[b].data;
        for (size_t i = 0; i < nc; i++)
            for (int ch = 0; ch < HB_NCH; ch++)
                d[i * HB_NCH + ch] = (float)((d[i * HB_NCH + ch] - ic->mean[ch]) / ic->std[ch]);
    }
    return HB_OK;
}

hb_status hb_dataset_load(hb_dataset *ds, char **paths, int n, long halo, const hb_interp *ic, MPI_Comm comm)
{
    hb_interp c = *ic;
    return load(ds, paths, n, halo, &c, 0, comm);
}

/* ---- patches ----------------------------------------------------------- */

typedef struct { int box, ox, oy, oz, sym; double t; } patch_spec;

static double u32_to_unit(uint32_t r) { return ((double)r + 0.5) / 4294967296.0; }

/* Patch j of B at `step`: x-origin in the j-th stratum, the rest uniform. */
static void patch_at(uint64_t seed, uint32_t stream, long step, int j, int B, int nbox, int N, int augment,
                     patch_spec *s)
{
    uint32_t r[4], q[4];
    hb_rng_u32x4(seed, stream, (uint64_t)step, 2u * (uint32_t)j, r);
    hb_rng_u32x4(seed, stream, (uint64_t)step, 2u * (uint32_t)j + 1, q);
    s->box = (int)(r[0] % (uint32_t)nbox);
    s->ox = (int)floor(((double)j + u32_to_unit(r[1])) * N / B);
    if (s->ox >= N) s->ox = N - 1;
    s->oy = (int)(r[2] % (uint32_t)N);
    s->oz = (int)(r[3] % (uint32_t)N);
    s->sym = augment ? (int)(q[0] % 48u) : 0;
    s->t = u32_to_unit(q[1]);
}

static const int PERM[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};

/* Copy patch s of this rank's slab into x0 (V) and x1 (V, 2), applying the
 * cube symmetry: output index a maps to patch offsets q[perm[d]] = a[d] or
 * P-1-a[d]. */
static void extract(const hb_dataset *ds, const patch_spec *s, int P, float *x0, float *x1)
{
    const int N = ds->N, *perm = PERM[s->sym / 8], flip = s->sym % 8;
    const float *d = ds->boxes[s->box].data;
    const long lx0 = s->ox - ds->slab.x0;
    for (int a0 = 0; a0 < P; a0++)
        for (int a1 = 0; a1 < P; a1++)
            for (int a2 = 0; a2 < P; a2++) {
                int a[3] = {a0, a1, a2}, q[3];
                for (int dd = 0; dd < 3; dd++) q[perm[dd]] = (flip >> dd & 1) ? P - 1 - a[dd] : a[dd];
                long px = lx0 + q[0];
                int py = (s->oy + q[1]) % N, pz = (s->oz + q[2]) % N;
                const float *src = d + (((size_t)px * N + py) * N + pz) * HB_NCH;
                size_t v = ((size_t)a0 * P + a1) * P + a2;
                x0[v] = src[0];
                x1[2 * v] = src[1];
                x1[2 * v + 1] = src[2];
            }
}

/* ---- the trainer ------------------------------------------------------- */

typedef struct trainer {
    const hb_train_config *cfg;
    MPI_Comm comm;
    int rank;
    hb_unet net;
    float *m, *v, *ema;
    long step;                       /* steps done */
    hb_interp ic;
    double theta_min[6], theta_max[6];
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
    hb_status rc = HB_OK;
    if (t->rank == 0) {
        hb_h5 f;
        rc = hb_h5_create(&f, t->cfg->out, MPI_COMM_SELF);
        if (rc == HB_OK) {
            const hb_train_config *c = t->cfg;
            rc = hb_model_write_arch(&f, &t->net);
            if (rc == HB_OK) rc = hb_h5_attr_write_string(&f, "/", "hydrobridge_version", HB_VERSION);
            struct { const char *n; long v; } L[] = {{"step", t->step}, {"steps_total", c->steps}, {"batch", c->batch},
                {"patch", c->patch}, {"seed", (long)c->seed}, {"augment", c->augment}, {"beta_sq", t->ic.beta_sq},
                {"n_train_boxes", ds->n_boxes}, {"n_val_boxes", n_val}, {"grid", ds->N}};
            for (size_t i = 0; rc == HB_OK && i < sizeof L / sizeof L[0]; i++) rc = hb_h5_attr_write_long(&f, "/", L[i].n, L[i].v);
            struct { const char *n; double v; } D[] = {{"sigma_c", t->ic.sigma_c}, {"ema_decay", c->ema_decay},
                {"lr", c->adam.lr}, {"weight_decay", c->adam.weight_decay}, {"clip_norm", c->adam.clip_norm},
                {"box_size", ds->box_size}, {"cell_size", ds->box_size / ds->N}};
            for (size_t i = 0; rc == HB_OK && i < sizeof D / sizeof D[0]; i++) rc = hb_h5_attr_write_double(&f, "/", D[i].n, D[i].v);
            if (rc == HB_OK) rc = hb_h5_write_array(&f, "/interp/mean", t->ic.mean, HB_NCH);
            if (rc == HB_OK) rc = hb_h5_write_array(&f, "/interp/std", t->ic.std, HB_NCH);
            if (rc == HB_OK) rc = hb_h5_write_array(&f, "/interp/floor", t->ic.floor, HB_NCH);
            if (rc == HB_OK) rc = hb_h5_write_array(&f, "/interp/log10_min", t->ic.lmin, HB_NCH);
            if (rc == HB_OK) rc = hb_h5_write_array(&f, "/interp/log10_max", t->ic.lmax, HB_NCH);
            if (rc == HB_OK) rc = hb_h5_write_array(&f, "/interp/theta_min", t->theta_min, 6);
            if (rc == HB_OK) rc = hb_h5_write_array(&f, "/interp/theta_max", t->theta_max, 6);
            if (rc == HB_OK) rc = hb_h5_attr_write_string(&f, "/interp", "channels", "log10 dm_density, log10 gas_density, log10 gas_temperature");
            if (rc == HB_OK) rc = hb_model_write_set(&f, "weights", &t->net, t->net.params);
            if (rc == HB_OK) rc = hb_model_write_set(&f, "ema", &t->net, t->ema);
            if (rc == HB_OK) rc = hb_model_write_set(&f, "adam_m", &t->net, t->m);
            if (rc == HB_OK) rc = hb_model_write_set(&f, "adam_v", &t->net, t->v);
            if (rc == HB_OK) rc = hb_h5_commit(&f);
            else hb_h5_abort(&f);
        }
    }
    HB_TRY(hb_mpi_agree(t->comm, rc));
    hb_log0("checkpoint: step %ld written to %s (%.2f s)", t->step, t->cfg->out, hb_now() - t0);
    return HB_OK;
}

hb_status hb_model_read_interp(hb_h5 *f, hb_interp *ic, double theta_min[6], double theta_max[6], double *cell)
{
    *ic = hb_interp_default();
    long n, bsq;
    HB_TRY(hb_h5_read_array(f, "/interp/mean", ic->mean, HB_NCH, &n));
    HB_TRY(hb_h5_read_array(f, "/interp/std", ic->std, HB_NCH, &n));
    HB_TRY(hb_h5_read_array(f, "/interp/floor", ic->floor, HB_NCH, &n));
    if (hb_h5_exists(f, "/interp/log10_min")) {
        HB_TRY(hb_h5_read_array(f, "/interp/log10_min", ic->lmin, HB_NCH, &n));
        HB_TRY(hb_h5_read_array(f, "/interp/log10_max", ic->lmax, HB_NCH, &n));
    }
    HB_TRY(hb_h5_read_array(f, "/interp/theta_min", theta_min, 6, &n));
    HB_TRY(hb_h5_read_array(f, "/interp/theta_max", theta_max, 6, &n));
    HB_TRY(hb_h5_attr_read_double(f, "/", "sigma_c", &ic->sigma_c));
    HB_TRY(hb_h5_attr_read_long(f, "/", "beta_sq", &bsq));
    ic->beta_sq = (int)bsq;
    HB_TRY(hb_h5_attr_read_double(f, "/", "cell_size", cell));
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

/* The patches this rank computes for (stream, step) and their count. */
static int local_patches(const trainer *t, const hb_dataset *ds, uint32_t stream, long step, int B, int augment,
                         patch_spec *out)
{
    int n = 0;
    for (int j = 0; j < B; j++) {
        patch_spec s;
        patch_at(t->cfg->seed, stream, step, j, B, ds->n_boxes, ds->N, augment, &s);
        if (ds->slab.owner[s.ox] == t->rank) {
            out[n] = s;
            out[n].sym |= j << 8;   /* remember j for the noise key */
            n++;
        }
    }
    return n;
}

/* Build inputs for the local patches; returns the summed per-patch losses
 * (after forward; and gradients when train). */
static hb_status run_batch(trainer *t, const hb_dataset *ds, const patch_spec *ps, int nloc, int B, long key,
                           uint32_t noise_stream, int train, double *loss_sum)
{
    const int P = t->cfg->patch;
    const size_t V = (size_t)P * P * P;
    for (int i = 0; i < nloc; i++) {
        patch_spec s = ps[i];
        int j = s.sym >> 8;
        s.sym &= 0xff;
        extract(ds, &s, P, t->x0, t->x1);
        for (size_t vv = 0; vv < V; vv++) {
            double g[2];
            hb_rng_normal2(t->cfg->seed, noise_stream, (uint64_t)key * (uint64_t)B + (uint64_t)j, (uint32_t)vv, g);
            t->z[2 * vv] = (float)g[0];
            t->z[2 * vv + 1] = (float)g[1];
        }
        hb_interp_pair(&t->ic, s.t, t->x0, t->x1, t->z, t->in + (size_t)i * V * 3, t->target + (size_t)i * V * 2, V);
        hb_interp_features(s.t, ds->boxes[s.box].theta, t->feat + (size_t)i * HB_UNET_NFEAT);
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
    patch_spec *ps = malloc((size_t)B * sizeof *ps);
    int nloc = local_patches(t, val, STREAM_VAL, 0, B, 0, ps);
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
    hb_mpi_sum(t->comm, &sum, 1);
    *loss = sum / B;
    return HB_OK;
}

/* A loss for the progress lines; "-" when there is none (no held-out boxes, or not evaluated yet). */
static void loss_text(char *buf, size_t n, double loss)
{
    if (isnan(loss)) snprintf(buf, n, "-");
    else snprintf(buf, n, "%.5f", loss);
}

hb_status hb_train(const hb_train_config *cfg, char **data, int n_data, char **val, int n_val, MPI_Comm comm)
{
    trainer t;
    memset(&t, 0, sizeof t);
    t.cfg = cfg;
    t.comm = comm;
    MPI_Comm_rank(comm, &t.rank);
    t.ic = cfg->interp;
    hb_dataset ds, vs;
    memset(&vs, 0, sizeof vs);
    double t_load = hb_now();
    HB_TRY(load(&ds, data, n_data, cfg->patch - 1, &t.ic, 1, comm));
    hb_status rc = HB_OK;
    if (n_val > 0) {
        rc = load(&vs, val, n_val, cfg->patch - 1, &t.ic, 0, comm);
        if (rc == HB_OK && (vs.N != ds.N || fabs(vs.box_size - ds.box_size) > 1e-6 * ds.box_size)) {
            rc = HB_ERR0(HB_EARG, "validation boxes (%d^3, %g Mpc/h) differ from the training boxes (%d^3, %g Mpc/h)",
                         vs.N, vs.box_size, ds.N, ds.box_size);
        }
    }
    if (rc == HB_OK && (cfg->patch % 4 || cfg->patch > ds.N)) {
        rc = HB_ERR0(HB_EARG, "--patch %d must be a multiple of 4 and at most the grid %d", cfg->patch, ds.N);
    }
    for (int k = 0; k < 6; k++) {
        t.theta_min[k] = 1e300;
        t.theta_max[k] = -1e300;
        for (int b = 0; b < ds.n_boxes; b++) {
            t.theta_min[k] = fmin(t.theta_min[k], ds.boxes[b].theta[k]);
            t.theta_max[k] = fmax(t.theta_max[k], ds.boxes[b].theta[k]);
        }
    }
    hb_log0("train: %d boxes of %d^3 (%g Mpc/h), %d validation boxes, loaded in %.2f s; standardised log10 "
            "means %.3f %.3f %.3f, std %.3f %.3f %.3f", ds.n_boxes, ds.N, ds.box_size, n_val, hb_now() - t_load,
            t.ic.mean[0], t.ic.mean[1], t.ic.mean[2], t.ic.std[0], t.ic.std[1], t.ic.std[2]);
    hb_unet_config uc = {HB_NTARGET, cfg->width, 64};
    if (rc == HB_OK) rc = hb_unet_init(&t.net, &uc, cfg->seed);
    if (rc == HB_OK) rc = hb_unet_reserve(&t.net, cfg->batch, cfg->patch, cfg->patch, cfg->patch);
    const size_t V = (size_t)cfg->patch * cfg->patch * cfg->patch, B = (size_t)cfg->batch;
    if (rc == HB_OK) {
        t.m = calloc(t.net.n_params, sizeof *t.m);
        t.v = calloc(t.net.n_params, sizeof *t.v);
        t.ema = malloc(t.net.n_params * sizeof *t.ema);
        t.in = malloc(B * V * 3 * sizeof *t.in);
        t.target = malloc(B * V * 2 * sizeof *t.target);
        t.y = malloc(B * V * 2 * sizeof *t.y);
        t.dy = malloc(B * V * 2 * sizeof *t.dy);
        t.feat = malloc(B * HB_UNET_NFEAT * sizeof *t.feat);
        t.x0 = malloc(V * sizeof *t.x0);
        t.x1 = malloc(V * 2 * sizeof *t.x1);
        t.z = malloc(V * 2 * sizeof *t.z);
        if (!t.m || !t.v || !t.ema || !t.in || !t.target || !t.y || !t.dy || !t.feat || !t.x0 || !t.x1 || !t.z) {
            rc = HB_ERR(HB_ENOMEM, "training buffers");
        } else {
            memcpy(t.ema, t.net.params, t.net.n_params * sizeof *t.ema);
        }
    }
    rc = hb_mpi_agree(comm, rc);
    if (rc == HB_OK && cfg->resume) rc = resume(&t);
    hb_log0("train: network w=%d (%zu parameters), batch %d of %d^3 patches, %ld steps, lr %.2e, %d ranks",
            cfg->width, t.net.n_params, cfg->batch, cfg->patch, cfg->steps, cfg->adam.lr, ds.slab.nranks);
    patch_spec *ps = malloc(B * sizeof *ps);
    hb_progress prog;
    hb_progress_init(&prog, "train", cfg->steps, "steps");
    long step0 = t.step;
    double val_loss = NAN, last_loss = NAN, t_start = hb_now();
    while (rc == HB_OK && t.step < cfg->steps) {
        if (hb_mpi_any(comm, g_stop)) {   /* SLURM's warning signal: checkpoint, stop cleanly */
            hb_log0("train: stop requested (SIGTERM/SIGUSR1) at step %ld", t.step);
            rc = write_checkpoint(&t, &ds, n_val);
            if (rc == HB_OK) rc = HB_ESTOP;
            break;
        }
        long step = t.step + 1;
        int nloc = local_patches(&t, &ds, HB_STREAM_PATCH, step, cfg->batch, cfg->augment, ps);
        hb_unet_zero_grad(&t.net);
        double loss;
        rc = run_batch(&t, &ds, ps, nloc, cfg->batch, step, HB_STREAM_TRAIN_NOISE, 1, &loss);
        rc = hb_mpi_agree(comm, rc);
        if (rc != HB_OK) break;
        /* one Allreduce: the gradients and the loss together would mix
         * types; the loss is a second, tiny one */
        rc = hb_mpi(MPI_Allreduce(MPI_IN_PLACE, t.net.grads, (int)t.net.n_params, MPI_FLOAT, MPI_SUM, comm));
        hb_mpi_sum(comm, &loss, 1);
        last_loss = loss / cfg->batch;
        hb_adam_step(&cfg->adam, step, t.net.params, t.net.grads, t.m, t.v, t.net.n_params);
        /* EMA with a short warm-up so early averages are not stuck at the init */
        float d = (float)fmin(cfg->ema_decay, (1.0 + step) / (10.0 + step));
        for (size_t i = 0; i < t.net.n_params; i++) t.ema[i] = d * t.ema[i] + (1 - d) * t.net.params[i];
        t.step = step;
        if (n_val > 0 && (step % cfg->val_every == 0 || step == cfg->steps)) rc = validate(&t, &vs, &val_loss);
        char extra[160], val[32];
        loss_text(val, sizeof val, val_loss);
        double sps = (double)(step - step0) * cfg->batch / (hb_now() - t_start);
        snprintf(extra, sizeof extra, "loss %.5f  val %s  %.1f samples/s  lr %.2e", last_loss, val, sps,
                 hb_adam_lr(&cfg->adam, step));
        hb_progress_step(&prog, step, extra);
        if (rc == HB_OK && cfg->ckpt_every > 0 && step % cfg->ckpt_every == 0 && step < cfg->steps) {
            rc = write_checkpoint(&t, &ds, n_val);
        }
    }
    if (rc == HB_OK) rc = write_checkpoint(&t, &ds, n_val);
    if (rc == HB_OK) {
        double el = hb_now() - t_start;
        char val[32];
        loss_text(val, sizeof val, val_loss);
        hb_log0("train: done, %ld steps in %.1f s (%.2f samples/s), final loss %.5f, validation %s",
                t.step - step0, el, (t.step - step0) * (double)cfg->batch / el, last_loss, val);
    }
    free(ps);
    trainer_free(&t);
    hb_dataset_free(&ds);
    if (n_val > 0) hb_dataset_free(&vs);
    return rc;
}
