/* Particle store and Alltoallv migration (hb/particles.h). */
#include "hb/particles.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hb/mpiutil.h"

/* A migrating particle travels as 9 doubles: x[3], p[3], the bits of
 * (acc[0], acc[1]) and (acc[2], mass) as float pairs, id (bits). */
#define PACK 9

hb_status hb_particles_init(hb_particles *p, MPI_Comm comm, double L, long n_total, size_t capacity)
{
    memset(p, 0, sizeof *p);
    p->comm = comm;
    HB_TRY(hb_mpi(MPI_Comm_rank(comm, &p->rank)));
    HB_TRY(hb_mpi(MPI_Comm_size(comm, &p->nranks)));
    p->L = L;
    p->n_total = n_total;
    return hb_particles_reserve(p, capacity);
}

hb_status hb_particles_enable_mass(hb_particles *p)
{
    if (p->mass) return HB_OK;
    p->mass = malloc((p->capacity ? p->capacity : 1) * sizeof *p->mass);
    if (!p->mass) return HB_ERR(HB_ENOMEM, "particle masses (%zu)", p->capacity);
    for (size_t i = 0; i < p->capacity; i++) p->mass[i] = 1.0f;
    return HB_OK;
}

void hb_particles_free(hb_particles *p)
{
    free(p->x);
    free(p->p);
    free(p->acc);
    free(p->id);
    free(p->mass);
    p->x = p->p = NULL;
    p->acc = p->mass = NULL;
    p->id = NULL;
    p->n = p->capacity = 0;
}

hb_status hb_particles_reserve(hb_particles *p, size_t n)
{
    if (n <= p->capacity) return HB_OK;
    size_t cap = n + n / 8 + 16;
    double *x = realloc(p->x, 3 * cap * sizeof *x);
    if (x) p->x = x;
    double *pp = realloc(p->p, 3 * cap * sizeof *pp);
    if (pp) p->p = pp;
    float *acc = realloc(p->acc, 3 * cap * sizeof *acc);
    if (acc) p->acc = acc;
    uint64_t *id = realloc(p->id, cap * sizeof *id);
    if (id) p->id = id;
    float *mass = p->mass ? realloc(p->mass, cap * sizeof *mass) : NULL;
    if (mass) p->mass = mass;
    if (!x || !pp || !acc || !id || (p->mass && !mass)) {
        return HB_ERR(HB_ENOMEM, "room for %zu particles (%.1f MB)", cap, cap * 72.0 / 1e6);
    }
    p->capacity = cap;
    return HB_OK;
}

static void pack(const hb_particles *p, size_t i, double *out)
{
    for (int d = 0; d < 3; d++) {
        out[d] = p->x[3 * i + d];
        out[3 + d] = p->p[3 * i + d];
    }
    float f[4] = {p->acc[3 * i], p->acc[3 * i + 1], p->acc[3 * i + 2], p->mass ? p->mass[i] : 1.0f};
    memcpy(&out[6], f, sizeof f);
    memcpy(&out[8], &p->id[i], sizeof(uint64_t));
}

static void unpack(hb_particles *p, size_t i, const double *in)
{
    for (int d = 0; d < 3; d++) {
        p->x[3 * i + d] = in[d];
        p->p[3 * i + d] = in[3 + d];
    }
    float f[4];
    memcpy(f, &in[6], sizeof f);
    for (int d = 0; d < 3; d++) p->acc[3 * i + d] = f[d];
    if (p->mass) p->mass[i] = f[3];
    memcpy(&p->id[i], &in[8], sizeof(uint64_t));
}

hb_status hb_particles_exchange(hb_particles *p, int (*owner)(const hb_particles *, size_t, const void *),
                                const void *ctx)
{
    double t0 = hb_now();
    int R = p->nranks;
    int *dest = malloc((p->n ? p->n : 1) * sizeof *dest);
    int *scnt = calloc((size_t)R, sizeof *scnt), *rcnt = calloc((size_t)R, sizeof *rcnt);
    int *sdis = calloc((size_t)R, sizeof *sdis), *rdis = calloc((size_t)R, sizeof *rdis);
    long *nsend = calloc((size_t)R, sizeof *nsend), *nrecv = calloc((size_t)R, sizeof *nrecv);
    int bad = !dest || !scnt || !rcnt || !sdis || !rdis || !nsend || !nrecv;
    size_t n_out = 0;
    if (!bad) {
        for (size_t i = 0; i < p->n; i++) {
            dest[i] = owner(p, i, ctx);
            nsend[dest[i]]++;
            n_out += dest[i] != p->rank;
        }
        nsend[p->rank] = 0;   /* stayers are not sent */
    }
    hb_status rc = HB_OK;
    if (hb_mpi_any(p->comm, bad)) {
        rc = bad ? HB_ERR(HB_ENOMEM, "migration counters") : hb_err_quiet(HB_ENOMEM);
        goto done;
    }
    rc = hb_mpi(MPI_Alltoall(nsend, 1, MPI_LONG, nrecv, 1, MPI_LONG, p->comm));
    if (rc != HB_OK) goto done;
    long stot = 0, rtot = 0;
    for (int r = 0; r < R; r++) {
        stot += nsend[r];
        rtot += nrecv[r];
    }
    int too_big = (stot + rtot) * PACK > INT_MAX;
    if (hb_mpi_any(p->comm, too_big)) {
        rc = too_big ? HB_ERR(HB_EARG, "migration of %ld particles exceeds one MPI message; "
                              "use more ranks", stot + rtot) : hb_err_quiet(HB_EARG);
        goto done;
    }
    for (int r = 0, so = 0, ro = 0; r < R; r++) {
        scnt[r] = (int)nsend[r] * PACK;
        rcnt[r] = (int)nrecv[r] * PACK;
        sdis[r] = so;
        rdis[r] = ro;
        so += scnt[r];
        ro += rcnt[r];
    }
    double *sbuf = malloc(((size_t)stot * PACK + 1) * sizeof *sbuf);
    double *rbuf = malloc(((size_t)rtot * PACK + 1) * sizeof *rbuf);
    size_t n_keep = p->n - n_out;
    bad = !sbuf || !rbuf;
    if (!bad && hb_particles_reserve(p, n_keep + (size_t)rtot) != HB_OK) bad = 1;
    if (hb_mpi_any(p->comm, bad)) {
        free(sbuf);
        free(rbuf);
        rc = bad ? HB_ERR(HB_ENOMEM, "migration buffers for %ld + %ld particles", stot, rtot)
                 : hb_err_quiet(HB_ENOMEM);
        goto done;
    }
    /* pack leavers by destination, compact stayers in place */
    int *fill = calloc((size_t)R, sizeof *fill);
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (dest[i] != p->rank) {
            pack(p, i, sbuf + sdis[dest[i]] + (size_t)fill[dest[i]] * PACK);
            fill[dest[i]]++;
        } else {
            if (k != i) {
                memmove(&p->x[3 * k], &p->x[3 * i], 3 * sizeof *p->x);
                memmove(&p->p[3 * k], &p->p[3 * i], 3 * sizeof *p->p);
                memmove(&p->acc[3 * k], &p->acc[3 * i], 3 * sizeof *p->acc);
                p->id[k] = p->id[i];
                if (p->mass) p->mass[k] = p->mass[i];
            }
            k++;
        }
    }
    free(fill);
    rc = hb_mpi(MPI_Alltoallv(sbuf, scnt, sdis, MPI_DOUBLE, rbuf, rcnt, rdis, MPI_DOUBLE, p->comm));
    if (rc == HB_OK) {
        for (long i = 0; i < rtot; i++) unpack(p, k + (size_t)i, rbuf + (size_t)i * PACK);
        p->n = k + (size_t)rtot;
    }
    free(sbuf);
    free(rbuf);
done:
    free(dest);
    free(scnt);
    free(rcnt);
    free(sdis);
    free(rdis);
    free(nsend);
    free(nrecv);
    p->t_migrate += hb_now() - t0;
    return rc;
}

static int mesh_owner(const hb_particles *p, size_t i, const void *ctx)
{
    const hb_mesh *m = ctx;
    return m->plane_owner[hb_particles_plane(p->x[3 * i], m->N, m->L)];
}

hb_status hb_particles_migrate(hb_particles *p, const hb_mesh *m)
{
    const double L = p->L;
    for (size_t i = 0; i < 3 * p->n; i++) {
        double x = p->x[i];
        if (x < 0 || x >= L) {
            x -= L * floor(x / L);
            if (x >= L) x = 0;   /* -tiny + L rounds to L */
            p->x[i] = x;
        }
    }
    return hb_particles_exchange(p, mesh_owner, m);
}

static long id_first(long n_total, int R, int r) { return (long)((__int128)n_total * r / R); }

static int id_owner(const hb_particles *p, size_t i, const void *ctx)
{
    (void)ctx;
    /* the rank r with id_first(r) <= id < id_first(r+1) */
    long id = (long)p->id[i];
    int r = (int)((__int128)id * p->nranks / p->n_total);
    while (r > 0 && id < id_first(p->n_total, p->nranks, r)) r--;
    while (r < p->nranks - 1 && id >= id_first(p->n_total, p->nranks, r + 1)) r++;
    return r;
}

hb_status hb_particles_sort_by_id(hb_particles *p, long *first_id)
{
    HB_TRY(hb_particles_exchange(p, id_owner, NULL));
    long first = id_first(p->n_total, p->nranks, p->rank);
    size_t n = p->n;
    /* ids are exactly [first, first + n): a permutation, applied by cycles */
    for (size_t i = 0; i < n; i++) {
        while ((size_t)((long)p->id[i] - first) != i) {
            size_t j = (size_t)((long)p->id[i] - first);
            if (j >= n) return HB_ERR(HB_EARG, "particle id %lu outside this rank's block", (unsigned long)p->id[i]);
            for (int d = 0; d < 3; d++) {
                double tx = p->x[3 * i + d]; p->x[3 * i + d] = p->x[3 * j + d]; p->x[3 * j + d] = tx;
                double tp = p->p[3 * i + d]; p->p[3 * i + d] = p->p[3 * j + d]; p->p[3 * j + d] = tp;
                float ta = p->acc[3 * i + d]; p->acc[3 * i + d] = p->acc[3 * j + d]; p->acc[3 * j + d] = ta;
            }
            uint64_t t = p->id[i]; p->id[i] = p->id[j]; p->id[j] = t;
            if (p->mass) { float tm = p->mass[i]; p->mass[i] = p->mass[j]; p->mass[j] = tm; }
        }
    }
    *first_id = first;
    return HB_OK;
}
