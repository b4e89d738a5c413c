/* Slab decomposition and periodic halo exchange (hb/halo.h). */
#include "hb/halo.h"

#include <fftw3-mpi.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "hb/mpiutil.h"

/* The tables of a decomposition whose (x0, nx) this rank already knows. */
static hb_status slab_tables(hb_slab *s, MPI_Comm comm)
{
    s->rank_x0 = malloc((size_t)s->nranks * sizeof *s->rank_x0);
    s->rank_nx = malloc((size_t)s->nranks * sizeof *s->rank_nx);
    s->owner = malloc((size_t)s->N * sizeof *s->owner);
    if (hb_mpi_any(comm, !s->rank_x0 || !s->rank_nx || !s->owner)) {
        hb_slab_free(s);
        return HB_ERR0(HB_ENOMEM, "slab tables");
    }
    hb_status rc = hb_slab_tables(comm, s->nranks, s->x0, s->nx, s->rank_x0, s->rank_nx, s->owner);
    if (rc != HB_OK) hb_slab_free(s);
    return rc;
}

hb_status hb_slab_init(hb_slab *s, int N, MPI_Comm comm)
{
    static int fftw_ready = 0;
    memset(s, 0, sizeof *s);
    if (!fftw_ready) {
        fftwf_mpi_init();
        fftw_ready = 1;
    }
    s->comm = comm;
    s->N = N;
    HB_TRY(hb_mpi(MPI_Comm_rank(comm, &s->rank)));
    HB_TRY(hb_mpi(MPI_Comm_size(comm, &s->nranks)));
    ptrdiff_t nx, x0, ny, y0;
    fftwf_mpi_local_size_3d_transposed(N, N, N / 2 + 1, comm, &nx, &x0, &ny, &y0);
    s->x0 = (long)x0;
    s->nx = (long)nx;
    return slab_tables(s, comm);
}

hb_status hb_slab_tables(MPI_Comm comm, int nranks, long x0, long nx, long *rank_x0, long *rank_nx, int *owner)
{
    long mine[2] = {x0, nx};
    HB_TRY(hb_mpi(MPI_Allgather(mine, 1, MPI_LONG, rank_x0, 1, MPI_LONG, comm)));
    HB_TRY(hb_mpi(MPI_Allgather(mine + 1, 1, MPI_LONG, rank_nx, 1, MPI_LONG, comm)));
    for (int r = 0; r < nranks; r++)
        for (long i = rank_x0[r]; i < rank_x0[r] + rank_nx[r]; i++) owner[i] = r;
    return HB_OK;
}

hb_status hb_slab_init_aligned(hb_slab *s, int N, int align, MPI_Comm comm)
{
    memset(s, 0, sizeof *s);
    s->comm = comm;
    s->N = N;
    HB_TRY(hb_mpi(MPI_Comm_rank(comm, &s->rank)));
    HB_TRY(hb_mpi(MPI_Comm_size(comm, &s->nranks)));
    if (N < align || N % align) {
        return HB_ERR0(HB_EARG, "a %d^3 box cannot be cut into slabs of multiples of %d planes: the network "
                       "halves the grid twice; use a grid that is a multiple of %d", N, align, align);
    }
    const long blocks = N / align, R = s->nranks;
    if (blocks < R) {
        return HB_ERR0(HB_EARG, "a %d^3 box has %ld blocks of %d planes for %ld ranks: every rank needs at least "
                       "one; use at most %ld ranks (per box) or a larger grid", N, blocks, align, R, blocks);
    }
    const long q = blocks / R, r = blocks % R, me = s->rank;
    s->x0 = align * (me * q + (me < r ? me : r));
    s->nx = align * (q + (me < r ? 1 : 0));
    return slab_tables(s, comm);
}

void hb_slab_free(hb_slab *s)
{
    free(s->rank_x0);
    free(s->rank_nx);
    free(s->owner);
    s->rank_x0 = s->rank_nx = NULL;
    s->owner = NULL;
}

static long wrapl(long i, long n) { long r = i % n; return r < 0 ? r + n : r; }

/* Global plane of halo slot j of rank r (j < hl: left, else right). */
static long halo_plane(const hb_slab *s, int r, long j, long hl)
{
    long g = j < hl ? s->rank_x0[r] - hl + j : s->rank_x0[r] + s->rank_nx[r] + (j - hl);
    return wrapl(g, s->N);
}

hb_status hb_halo_fill(const hb_slab *s, float *ext, size_t plane, long hl, long hr)
{
    const int R = s->nranks;
    const long H = hl + hr;
    int *scnt = calloc((size_t)R, sizeof *scnt), *rcnt = calloc((size_t)R, sizeof *rcnt);
    int *sdis = calloc((size_t)R, sizeof *sdis), *rdis = calloc((size_t)R, sizeof *rdis);
    hb_status rc = (!scnt || !rcnt || !sdis || !rdis) ? HB_ERR(HB_ENOMEM, "halo counts") : HB_OK;
    if (rc == HB_OK && plane > INT_MAX / (size_t)(H > 0 ? H : 1)) rc = HB_ERR(HB_EARG, "halo of %ld planes too large", H);
    /* what I need from each owner, and what each other rank needs from me */
    for (long j = 0; rc == HB_OK && j < H && s->nx > 0; j++) {
        int o = s->owner[halo_plane(s, s->rank, j, hl)];
        if (o != s->rank) rcnt[o] += (int)plane;
    }
    for (int r = 0; rc == HB_OK && r < R; r++) {
        if (r == s->rank || s->rank_nx[r] == 0) continue;
        for (long j = 0; j < H; j++) {
            if (s->owner[halo_plane(s, r, j, hl)] == s->rank) scnt[r] += (int)plane;
        }
    }
    size_t st = 0, rt = 0;
    for (int r = 0; r < R; r++) {
        sdis[r] = (int)st;
        rdis[r] = (int)rt;
        st += (size_t)scnt[r];
        rt += (size_t)rcnt[r];
    }
    float *sbuf = rc == HB_OK ? malloc((st + 1) * sizeof *sbuf) : NULL;
    float *rbuf = rc == HB_OK ? malloc((rt + 1) * sizeof *rbuf) : NULL;
    if (rc == HB_OK && (!sbuf || !rbuf)) rc = HB_ERR(HB_ENOMEM, "halo buffers (%zu + %zu floats)", st, rt);
    if (rc == HB_OK) {
        /* pack, in each receiver's halo order; copy my own halo planes locally */
        size_t off = 0;
        for (int r = 0; r < R; r++) {
            if (r == s->rank || s->rank_nx[r] == 0) continue;
            for (long j = 0; j < H; j++) {
                long g = halo_plane(s, r, j, hl);
                if (s->owner[g] != s->rank) continue;
                memcpy(sbuf + off, ext + (size_t)(hl + g - s->x0) * plane, plane * sizeof *sbuf);
                off += plane;
            }
        }
        for (long j = 0; j < H && s->nx > 0; j++) {
            long g = halo_plane(s, s->rank, j, hl);
            if (s->owner[g] != s->rank) continue;
            long slot = j < hl ? j : s->nx + j;   /* ext index of halo slot j */
            memmove(ext + (size_t)slot * plane, ext + (size_t)(hl + g - s->x0) * plane, plane * sizeof *ext);
        }
    }
    if (hb_mpi_any(s->comm, rc != HB_OK)) {
        if (rc == HB_OK) rc = hb_err_quiet(HB_ENOMEM);
    } else {
        rc = hb_mpi(MPI_Alltoallv(sbuf, scnt, sdis, MPI_FLOAT, rbuf, rcnt, rdis, MPI_FLOAT, s->comm));
    }
    if (rc == HB_OK) {
        int *fill = calloc((size_t)R, sizeof *fill);
        for (long j = 0; j < H && s->nx > 0; j++) {
            int o = s->owner[halo_plane(s, s->rank, j, hl)];
            if (o == s->rank) continue;
            long slot = j < hl ? j : s->nx + j;
            memcpy(ext + (size_t)slot * plane, rbuf + rdis[o] + fill[o], plane * sizeof *ext);
            fill[o] += (int)plane;
        }
        free(fill);
    }
    free(sbuf);
    free(rbuf);
    free(scnt);
    free(rcnt);
    free(sdis);
    free(rdis);
    return rc;
}

/* ---- one-plane exchange -------------------------------------------------- */

enum { TAG_LEFTWARD = 7101, TAG_RIGHTWARD = 7102 };

hb_status hb_xchg_begin(hb_xchg_req *x, const hb_slab *s, float *buf, long nx, size_t plane)
{
    x->n = 0;
    if (plane > INT_MAX) return HB_ERR(HB_EARG, "a halo plane of %zu floats exceeds one MPI message", plane);
    float *first = buf + plane, *last = buf + (size_t)nx * plane;
    float *left_halo = buf, *right_halo = buf + (size_t)(nx + 1) * plane;
    if (s->nranks == 1) {   /* alone: the box wraps onto itself */
        memcpy(left_halo, last, plane * sizeof *buf);
        memcpy(right_halo, first, plane * sizeof *buf);
        return HB_OK;
    }
    const int left = s->owner[(s->x0 - 1 + s->N) % s->N], right = s->owner[(s->x0 + s->nx) % s->N];
    const int n = (int)plane;
    HB_TRY(hb_mpi(MPI_Irecv(left_halo, n, MPI_FLOAT, left, TAG_RIGHTWARD, s->comm, &x->req[0])));
    HB_TRY(hb_mpi(MPI_Irecv(right_halo, n, MPI_FLOAT, right, TAG_LEFTWARD, s->comm, &x->req[1])));
    HB_TRY(hb_mpi(MPI_Isend(first, n, MPI_FLOAT, left, TAG_LEFTWARD, s->comm, &x->req[2])));
    HB_TRY(hb_mpi(MPI_Isend(last, n, MPI_FLOAT, right, TAG_RIGHTWARD, s->comm, &x->req[3])));
    x->n = 4;
    return HB_OK;
}

hb_status hb_xchg_end(hb_xchg_req *x)
{
    hb_status rc = x->n ? hb_mpi(MPI_Waitall(x->n, x->req, MPI_STATUSES_IGNORE)) : HB_OK;
    x->n = 0;
    return rc;
}

hb_status hb_xchg(const hb_slab *s, float *buf, long nx, size_t plane)
{
    hb_xchg_req x;
    HB_TRY(hb_xchg_begin(&x, s, buf, nx, plane));
    return hb_xchg_end(&x);
}
