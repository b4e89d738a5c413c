/* hb/mesh.h: a distributed N^3 periodic mesh and its single-precision FFTs.
 *
 * Real space is slab-decomposed along x by FFTW-MPI: this rank holds planes
 * [x0, x0 + nx_local), stored in place with z padded to 2(N/2+1) floats.
 * Fourier space is transposed (FFTW_MPI_TRANSPOSED_OUT): this rank holds
 * ky rows [y0, y0 + ny_local) as complex [iy_local][ix][iz], iz = 0..N/2.
 * Some ranks may hold no planes when N is small; every routine copes.
 * Forward transforms are unnormalised (delta_k = sum_x delta_x e^{-ik.x});
 * hb_mesh_c2r divides by N^3, so r2c then c2r is the identity.
 * Collective over m->comm: init, free, r2c, c2r, sum. */
#ifndef HB_MESH_H
#define HB_MESH_H

#include <fftw3-mpi.h>
#include <mpi.h>
#include <stddef.h>

#include "hb/err.h"

typedef struct hb_mesh {
    MPI_Comm   comm;          /* borrowed */
    int        rank, nranks;
    int        N;             /* cells per side */
    double     L;             /* box side [Mpc/h] */
    ptrdiff_t  nx_local, x0;  /* real-space slab */
    ptrdiff_t  ny_local, y0;  /* Fourier-space slab (ky) */
    ptrdiff_t  alloc_local;   /* complex elements per buffer */
    int        nzc, zpad;     /* N/2+1 and 2(N/2+1) */
    fftwf_plan fwd, bwd;
    int       *plane_owner;   /* [N]: rank holding real-space plane ix */
    long      *rank_x0, *rank_nx;   /* [nranks] every rank's slab (hb_slab_tables) */
} hb_mesh;

/* flags: FFTW planner rigour (FFTW_ESTIMATE or FFTW_MEASURE). */
hb_status hb_mesh_init(hb_mesh *m, int N, double L, MPI_Comm comm, unsigned flags);
void      hb_mesh_free(hb_mesh *m);

/* A zeroed buffer of 2*alloc_local floats (free with fftwf_free). */
float *hb_mesh_alloc(const hb_mesh *m);
void   hb_mesh_r2c(const hb_mesh *m, float *buf);   /* in place */
void   hb_mesh_c2r(const hb_mesh *m, float *buf);   /* in place, / N^3 */
void   hb_mesh_c2r_raw(const hb_mesh *m, float *buf);   /* in place, unnormalised (the caller folds in 1/N^3) */

/* Sum of the real-space field over the whole box (double). Collective. */
double hb_mesh_sum(const hb_mesh *m, const float *buf);

/* Index of real-space cell (local plane ixl, iy, iz) in floats. */
static inline size_t hb_mesh_ridx(const hb_mesh *m, ptrdiff_t ixl, int iy, int iz)
{
    return ((size_t)ixl * (size_t)m->N + (size_t)iy) * (size_t)m->zpad + (size_t)iz;
}
/* Index of Fourier mode (local row iyl, ix, iz) in complex elements. */
static inline size_t hb_mesh_kidx(const hb_mesh *m, ptrdiff_t iyl, int ix, int iz)
{
    return ((size_t)iyl * (size_t)m->N + (size_t)ix) * (size_t)m->nzc + (size_t)iz;
}
/* Signed integer wave number of index i: 0..N/2 then -N/2+1..-1. */
static inline int hb_mesh_freq(const hb_mesh *m, int i) { return i <= m->N / 2 ? i : i - m->N; }
/* Global periodic wrap of an integer plane index. */
static inline int hb_mesh_wrap(const hb_mesh *m, long i)
{
    long n = m->N, r = i % n;
    return (int)(r < 0 ? r + n : r);
}
/* Fundamental wave number 2 pi / L [h/Mpc]. */
static inline double hb_mesh_kf(const hb_mesh *m) { return 2.0 * 3.14159265358979323846 / m->L; }

#endif
