/* Mass assignment and readout with ghost planes (hb/paint.h). */
#include "hb/paint.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hb/mpiutil.h"

/* First node and weights of the order-p window along one axis, d = x/h.
 * CIC nodes floor(d), +1; TSC around the nearest node; PCS floor(d)-1..+2. */
static inline __attribute__((always_inline)) long window(double d, int p, float *w)
{
    if (p == 2) {
        double f = floor(d);
        float t = (float)(d - f);
        w[0] = 1.0f - t;
        w[1] = t;
        return (long)f;
    }
    if (p == 3) {
        double c = floor(d + 0.5);
        float t = (float)(d - c);   /* in [-1/2, 1/2) */
        w[0] = 0.5f * (0.5f - t) * (0.5f - t);
        w[1] = 0.75f - t * t;
        w[2] = 0.5f * (0.5f + t) * (0.5f + t);
        return (long)c - 1;
    }
    double f = floor(d);
    float t = (float)(d - f), s = 1.0f - t;
    w[0] = s * s * s / 6.0f;
    w[1] = (4.0f - 6.0f * t * t + 3.0f * t * t * t) / 6.0f;
    w[2] = (4.0f - 6.0f * s * s + 3.0f * s * s * s) / 6.0f;
    w[3] = t * t * t / 6.0f;
    return (long)f - 1;
}

static inline int wrapi(long i, int N)
{
    if (i >= 0 && i < N) return (int)i;   /* the common case, without a division */
    if (i < 0 && i >= -N) return (int)(i + N);
    if (i >= N && i < 2 * (long)N) return (int)(i - N);
    long r = i % N;
    return (int)(r < 0 ? r + N : r);
}

/* Floats of one scratch mesh, rounded up to 64 bytes (FFTW's new-array
 * execution needs the alignment the plans were made with). */
static size_t scratch_floats(const hb_mesh *m) { return (2 * (size_t)m->alloc_local + 15) / 16 * 16; }

hb_status hb_painter_init(hb_painter *pt, const hb_mesh *m, int order, int shifted)
{
    memset(pt, 0, sizeof *pt);
    if (order < 2 || order > 4) return HB_ERR0(HB_EARG, "mass assignment order %d: need 2 (CIC), 3 (TSC) or 4 (PCS)", order);
    pt->m = m;
    pt->order = order;
    /* touched planes relative to the owning one: CIC 0..1, TSC and PCS -1..2;
     * with shifts in [-1/2, 1/2] at most -2..3 */
    pt->gl = shifted ? 2 : (order == 2 ? 0 : 1);
    pt->gr = shifted ? 3 : (order == 2 ? 1 : 2);
    size_t n = (size_t)(pt->gl + pt->gr) * m->N * m->N;
    size_t nl = (size_t)m->nx_local * m->N * m->N;
    /* the fixed-point slab doubles as two float meshes between paints (hb_painter_scratch) */
    if (scratch_floats(m) > nl) nl = scratch_floats(m);
    pt->ghost = malloc(n * sizeof *pt->ghost);   /* read-out fields go one at a time through these */
    pt->ghost64 = malloc(n * sizeof *pt->ghost64);
    pt->acc = fftwf_malloc((nl ? nl : 1) * sizeof *pt->acc);
    int bad = !pt->ghost || !pt->ghost64 || !pt->acc;
    if (hb_mpi_any(m->comm, bad)) {
        hb_painter_free(pt);
        return bad ? HB_ERR(HB_ENOMEM, "ghost planes") : hb_err_quiet(HB_ENOMEM);
    }
    return HB_OK;
}

void hb_painter_free(hb_painter *pt)
{
    free(pt->ghost);
    free(pt->ghost64);
    fftwf_free(pt->acc);
    pt->ghost = NULL;
    pt->ghost64 = pt->acc = NULL;
}

/* Global plane of ghost j of rank r (j < gl: left, else right). */
static int ghost_plane(const hb_painter *pt, int r, int j)
{
    const hb_mesh *m = pt->m;
    long g = j < pt->gl ? (long)m->rank_x0[r] - pt->gl + j : (long)(m->rank_x0[r] + m->rank_nx[r]) + (j - pt->gl);
    return wrapi(g, m->N);
}

/* Pack the send buffer. reduce: my fixed-point ghosts by owner, in ghost
 * order (self-owned ones are added in place); else the planes of buf I own
 * that other ranks need, in their ghost order (and copies of my self-owned
 * ghosts into pt->ghost). */
static void pack_ghosts(hb_painter *pt, const float *buf, int reduce, char *sbuf, const int *dis, int *fill)
{
    const hb_mesh *m = pt->m;
    const int R = m->nranks, G = pt->gl + pt->gr, N = m->N;
    const size_t plane = (size_t)N * N, esz = reduce ? sizeof(int64_t) : sizeof(float);
    if (reduce) {
        for (int j = 0; j < G && m->nx_local > 0; j++) {
            int g = ghost_plane(pt, m->rank, j), o = m->plane_owner[g];
            const int64_t *src = pt->ghost64 + (size_t)j * plane;
            if (o == m->rank) {
                int64_t *dst = pt->acc + (size_t)(g - m->x0) * plane;
                for (size_t i = 0; i < plane; i++) dst[i] += src[i];
            } else {
                memcpy(sbuf + (dis[o] + (size_t)fill[o]) * esz, src, plane * esz);
                fill[o] += (int)plane;
            }
        }
        return;
    }
    for (int r = 0; r < R; r++) {
        if (r == m->rank || m->rank_nx[r] == 0) continue;
        size_t off = (size_t)dis[r];
        for (int j = 0; j < G; j++) {
            int g = ghost_plane(pt, r, j);
            if (m->plane_owner[g] != m->rank) continue;
            for (int y = 0; y < N; y++)
                memcpy(sbuf + (off + (size_t)y * N) * esz, buf + hb_mesh_ridx(m, g - m->x0, y, 0), (size_t)N * esz);
            off += plane;
        }
    }
    for (int j = 0; j < G && m->nx_local > 0; j++) {
        int g = ghost_plane(pt, m->rank, j);
        if (m->plane_owner[g] != m->rank) continue;
        for (int y = 0; y < N; y++)
            memcpy(pt->gcur + (size_t)j * plane + (size_t)y * N, buf + hb_mesh_ridx(m, g - m->x0, y, 0), (size_t)N * esz);
    }
}

/* Unpack: reduce adds what others painted for me (in their ghost order) into
 * acc; else my ghost planes arrive from their owners into pt->ghost. */
static void unpack_ghosts(hb_painter *pt, int reduce, const char *rbuf, const int *dis, int *fill)
{
    const hb_mesh *m = pt->m;
    const int R = m->nranks, G = pt->gl + pt->gr;
    const size_t plane = (size_t)m->N * m->N, esz = reduce ? sizeof(int64_t) : sizeof(float);
    if (reduce) {
        for (int r = 0; r < R; r++) {
            if (r == m->rank || m->rank_nx[r] == 0) continue;
            size_t off = (size_t)dis[r];
            for (int j = 0; j < G; j++) {
                int g = ghost_plane(pt, r, j);
                if (m->plane_owner[g] != m->rank) continue;
                int64_t *dst = pt->acc + (size_t)(g - m->x0) * plane;
                const int64_t *src = (const int64_t *)(rbuf + off * esz);
                for (size_t i = 0; i < plane; i++) dst[i] += src[i];
                off += plane;
            }
        }
        return;
    }
    memset(fill, 0, (size_t)R * sizeof *fill);
    for (int j = 0; j < G && m->nx_local > 0; j++) {
        int o = m->plane_owner[ghost_plane(pt, m->rank, j)];
        if (o == m->rank) continue;
        memcpy(pt->gcur + (size_t)j * plane, rbuf + (dis[o] + (size_t)fill[o]) * esz, plane * esz);
        fill[o] += (int)plane;
    }
}

/* Exchange ghost planes. reduce = 1: my fixed-point ghosts (ghost64) go to
 * their owners, who add them into their slab (acc). reduce = 0: owners send
 * me copies of my ghost planes of the float field buf (into ghost). Planes
 * this rank owns itself (one rank, tiny slabs) are handled in place. The
 * schedule follows from the decomposition alone. */
static hb_status exchange(hb_painter *pt, const float *buf, int reduce)
{
    const hb_mesh *m = pt->m;
    const int R = m->nranks, G = pt->gl + pt->gr, N = m->N;
    const size_t plane = (size_t)N * N;
    const size_t esz = reduce ? sizeof(int64_t) : sizeof(float);
    const MPI_Datatype type = reduce ? MPI_INT64_T : MPI_FLOAT;
    hb_timer_start(&pt->t_comm);
    int *cnt[2], *dis[2];   /* [0] send, [1] receive, in elements */
    for (int i = 0; i < 2; i++) {
        cnt[i] = calloc((size_t)R, sizeof(int));
        dis[i] = calloc((size_t)R, sizeof(int));
    }
    if (!cnt[0] || !cnt[1] || !dis[0] || !dis[1]) {
        for (int i = 0; i < 2; i++) { free(cnt[i]); free(dis[i]); }
        return HB_ERR(HB_ENOMEM, "ghost exchange counts");
    }
    /* my ghosts, by owner: sent when reducing, received when gathering;
     * other ranks' ghosts that I own: the reverse */
    int *mine = cnt[reduce ? 0 : 1], *theirs = cnt[reduce ? 1 : 0];
    if (m->nx_local > 0) {
        for (int j = 0; j < G; j++) {
            int o = m->plane_owner[ghost_plane(pt, m->rank, j)];
            if (o != m->rank) mine[o] += (int)plane;
        }
    }
    for (int r = 0; r < R; r++) {
        if (r == m->rank || m->rank_nx[r] == 0) continue;
        for (int j = 0; j < G; j++) {
            if (m->plane_owner[ghost_plane(pt, r, j)] == m->rank) theirs[r] += (int)plane;
        }
    }
    size_t tot[2] = {0, 0};
    for (int i = 0; i < 2; i++)
        for (int r = 0; r < R; r++) {
            dis[i][r] = (int)tot[i];
            tot[i] += (size_t)cnt[i][r];
        }
    char *sbuf = malloc((tot[0] + 1) * esz), *rbuf = malloc((tot[1] + 1) * esz);
    int *fill = calloc((size_t)R, sizeof *fill);
    hb_status rc = (!sbuf || !rbuf || !fill) ? HB_ERR(HB_ENOMEM, "ghost exchange buffers") : HB_OK;
    if (rc == HB_OK) pack_ghosts(pt, buf, reduce, sbuf, dis[0], fill);
    if (hb_mpi_any(m->comm, rc != HB_OK)) {
        if (rc == HB_OK) rc = hb_err_quiet(HB_ENOMEM);
    } else {
        rc = hb_mpi(MPI_Alltoallv(sbuf, cnt[0], dis[0], type, rbuf, cnt[1], dis[1], type, m->comm));
    }
    if (rc == HB_OK) unpack_ghosts(pt, reduce, rbuf, dis[1], fill);
    free(fill);
    free(sbuf);
    free(rbuf);
    for (int i = 0; i < 2; i++) { free(cnt[i]); free(dis[i]); }
    hb_timer_stop(&pt->t_comm);
    return rc;
}

/* Pointer to plane (local index l, may be -gl .. nx+gr-1) and its row stride. */
static inline float *plane_ptr(const hb_painter *pt, float *buf, const float *ghost, long l, size_t *stride)
{
    const hb_mesh *m = pt->m;
    if (l >= 0 && l < m->nx_local) {
        *stride = (size_t)m->zpad;
        return buf + hb_mesh_ridx(m, l, 0, 0);
    }
    long j = l < 0 ? l + pt->gl : pt->gl + (l - m->nx_local);
    *stride = (size_t)m->N;
    return (float *)ghost + (size_t)j * m->N * m->N;
}

/* Fixed-point plane (local index l, -gl .. nx+gr-1), rows N apart. */
static inline int64_t *plane64(const hb_painter *pt, long l)
{
    const size_t plane = (size_t)pt->m->N * pt->m->N;
    if (l >= 0 && l < pt->m->nx_local) return pt->acc + (size_t)l * plane;
    long j = l < 0 ? l + pt->gl : pt->gl + (l - pt->m->nx_local);
    return pt->ghost64 + (size_t)j * plane;
}

typedef double v4d __attribute__((vector_size(32)));
typedef int64_t v4l __attribute__((vector_size(32)));

static inline __attribute__((always_inline)) int paint_loop(hb_painter *pt, const hb_particles *p,
                                                           double weight, const float *warr, double shift,
                                                           double scale, int P)
{
    const hb_mesh *m = pt->m;
    const int N = m->N;
    const double ci = N / m->L;
    int stray = 0;
    for (size_t n = 0; n < p->n; n++) {
        float wx[4], wy[4], wz[4];
        long ix = window(p->x[3 * n] * ci + shift, P, wx), iy = window(p->x[3 * n + 1] * ci + shift, P, wy);
        long iz = window(p->x[3 * n + 2] * ci + shift, P, wz);
        /* the owning plane f (unshifted) fixes where we are on the periodic
         * circle; the first touched plane is ix - f planes from it */
        long f = (long)floor(p->x[3 * n] * ci), own = wrapi(f, N);
        if (own - m->x0 < 0 || own - m->x0 >= m->nx_local) { stray = 1; continue; }
        long lx = ix - f + (own - m->x0);
        /* each term is converted to fixed point on its own (truncation: one
         * instruction, and like rounding a function of this particle alone),
         * so the sums are exact whatever order the particles come in */
        double mass = (warr ? warr[n] * weight : weight) * scale;
        int jy[4], jz[4];
        for (int a = 0; a < P; a++) {
            jy[a] = wrapi(iy + a, N);
            jz[a] = wrapi(iz + a, N);
        }
        /* the window inside the row (and a fourth cell with it): four cells
         * at once, the same products and truncations as one at a time */
        const int zvec = iz >= 0 && iz + 4 <= N;
        const v4d wz4 = {wz[0], wz[1], P > 2 ? wz[2] : 0.0, P > 3 ? wz[3] : 0.0};
        for (int a = 0; a < P; a++) {
            int64_t *pl = plane64(pt, lx + a);
            double ma = mass * wx[a];
            for (int b = 0; b < P; b++) {
                int64_t *row = pl + (size_t)jy[b] * N;
                double mb = ma * wy[b];
                if (zvec) {
                    v4l r, q = __builtin_convertvector(mb * wz4, v4l);
                    memcpy(&r, row + iz, sizeof r);
                    r += q;
                    memcpy(row + iz, &r, sizeof r);
                } else {
                    for (int c = 0; c < P; c++) row[jz[c]] += (int64_t)(mb * wz[c]);
                }
            }
        }
    }
    return stray;
}

hb_status hb_painter_paint(hb_painter *pt, float *buf, const hb_particles *p, double weight,
                           const float *w, double shift)
{
    const hb_mesh *m = pt->m;
    const int N = m->N;
    const size_t plane = (size_t)N * N;
    /* fixed-point unit: the largest particle mass is 2^40 units, so a cell
     * holds 2^23 such particles before int64 overflows; resolution 1e-12 */
    double wmax = 0;
    if (w) for (size_t i = 0; i < p->n; i++) wmax = fmax(wmax, fabs(w[i]) * fabs(weight));
    else wmax = fabs(weight);
    hb_mpi_max(m->comm, &wmax, 1);
    if (wmax == 0) return HB_OK;
    const double scale = 1099511627776.0 / wmax;   /* 2^40 */
    memset(pt->ghost64, 0, (size_t)(pt->gl + pt->gr) * plane * sizeof *pt->ghost64);
    memset(pt->acc, 0, (size_t)m->nx_local * plane * sizeof *pt->acc);
    int stray = pt->order == 2 ? paint_loop(pt, p, weight, w, shift, scale, 2)
              : pt->order == 3 ? paint_loop(pt, p, weight, w, shift, scale, 3)
                               : paint_loop(pt, p, weight, w, shift, scale, 4);
    if (hb_mpi_any(m->comm, stray)) {   /* collective: nobody waits in the exchange */
        return stray ? HB_ERR(HB_EARG, "a particle outside this rank's slab reached paint; "
                              "migrate particles to this mesh first") : hb_err_quiet(HB_EARG);
    }
    HB_TRY(exchange(pt, NULL, 1));
    const double inv = 1.0 / scale;
    for (ptrdiff_t i = 0; i < m->nx_local; i++)
        for (int y = 0; y < N; y++) {
            float *row = buf + hb_mesh_ridx(m, i, y, 0);
            const int64_t *src = pt->acc + (size_t)i * plane + (size_t)y * N;
            for (int z = 0; z < N; z++) row[z] += (float)((double)src[z] * inv);
        }
    return HB_OK;
}

/* Read out one field (the ghost planes in ghost): the fields go one at a
 * time, since three fields read together (27 rows per particle) ran 30%
 * slower than three passes of 9 rows (README, PM step profile). */
static inline __attribute__((always_inline)) int readout_loop(hb_painter *pt, const float *buf, const float *ghost,
                                                             const hb_particles *p, float *out, int stride,
                                                             double shift, int acc, float scale, int P)
{
    const hb_mesh *m = pt->m;
    const int N = m->N;
    const double ci = N / m->L;
    int stray = 0;
    for (size_t n = 0; n < p->n; n++) {
        float wx[4], wy[4], wz[4];
        double xs = p->x[3 * n] * ci;
        long ix = window(xs + shift, P, wx), iy = window(p->x[3 * n + 1] * ci + shift, P, wy);
        long iz = window(p->x[3 * n + 2] * ci + shift, P, wz);
        long f = (long)floor(xs), own = wrapi(f, N);
        if (own - m->x0 < 0 || own - m->x0 >= m->nx_local) { stray = 1; continue; }
        long lx = ix - f + (own - m->x0);
        int jy[4], jz[4];
        for (int a = 0; a < P; a++) {
            jy[a] = wrapi(iy + a, N);
            jz[a] = wrapi(iz + a, N);
        }
        const int zin = iz >= 0 && iz + P <= N;
        float v = 0;
        for (int a = 0; a < P; a++) {
            size_t rs;
            const float *pl = plane_ptr(pt, (float *)buf, ghost, lx + a, &rs);
            float va = 0;
            if (zin) {   /* the window does not wrap in z: contiguous loads */
                for (int b = 0; b < P; b++) {
                    const float *row = pl + (size_t)jy[b] * rs + iz;
                    float vb = 0;
                    for (int c = 0; c < P; c++) vb += wz[c] * row[c];
                    va += wy[b] * vb;
                }
            } else {
                for (int b = 0; b < P; b++) {
                    const float *row = pl + (size_t)jy[b] * rs;
                    float vb = 0;
                    for (int c = 0; c < P; c++) vb += wz[c] * row[jz[c]];
                    va += wy[b] * vb;
                }
            }
            v += wx[a] * va;
        }
        if (acc) out[(size_t)stride * n] += scale * v;
        else out[(size_t)stride * n] = v;
    }
    return stray;
}

hb_status hb_painter_readout_n(hb_painter *pt, const float *const *bufs, int nf, const hb_particles *p, float *out,
                               int stride, double shift, int accumulate, float scale)
{
    if (nf < 1 || nf > HB_PAINT_MAXF) return HB_ERR0(HB_EARG, "readout of %d fields: 1 to %d", nf, HB_PAINT_MAXF);
    int stray = 0;
    pt->gcur = pt->ghost;
    for (int k = 0; k < nf; k++) {
        HB_TRY(exchange(pt, (float *)bufs[k], 0));
        const float *b = bufs[k], *g = pt->ghost;
        float *o = out + k;
        stray |= pt->order == 2 ? readout_loop(pt, b, g, p, o, stride, shift, accumulate, scale, 2)
               : pt->order == 3 ? readout_loop(pt, b, g, p, o, stride, shift, accumulate, scale, 3)
                                : readout_loop(pt, b, g, p, o, stride, shift, accumulate, scale, 4);
    }
    if (hb_mpi_any(pt->m->comm, stray)) {
        return stray ? HB_ERR(HB_EARG, "a particle outside this rank's slab reached readout; "
                              "migrate particles to this mesh first") : hb_err_quiet(HB_EARG);
    }
    return HB_OK;
}

hb_status hb_painter_ghost2(hb_painter *pt, const float *buf, float *ghost)
{
    const int gl = pt->gl, gr = pt->gr;
    float *gcur = pt->gcur;
    pt->gl = pt->gr = 2;   /* the exchange's schedule follows from gl and gr alone */
    pt->gcur = ghost;
    hb_status rc = exchange(pt, buf, 0);
    pt->gl = gl;
    pt->gr = gr;
    pt->gcur = gcur;
    return rc;
}

hb_status hb_painter_readout(hb_painter *pt, const float *buf, const hb_particles *p, float *out,
                             int stride, double shift, int accumulate, float scale)
{
    const float *bufs[1] = {buf};
    return hb_painter_readout_n(pt, bufs, 1, p, out, stride, shift, accumulate, scale);
}

float *hb_painter_scratch(hb_painter *pt, int i)
{
    return (float *)pt->acc + (size_t)i * scratch_floats(pt->m);
}

hb_status hb_paint_cic(const hb_mesh *m, float *buf, const hb_particles *p, double weight, const float *w)
{
    return hb_paint_order(m, buf, p, weight, w, 2);
}

hb_status hb_paint_order(const hb_mesh *m, float *buf, const hb_particles *p, double weight, const float *w, int order)
{
    hb_painter pt;
    HB_TRY(hb_painter_init(&pt, m, order, 0));
    hb_status rc = hb_painter_paint(&pt, buf, p, weight, w, 0.0);
    hb_painter_free(&pt);
    return rc;
}
