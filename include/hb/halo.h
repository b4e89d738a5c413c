/* hb/halo.h: slab decomposition of an N^3 box and halo exchange.
 *
 * hb_slab describes FFTW-MPI's decomposition along x (the same as hb_mesh,
 * without FFT plans): rank r holds planes [x0_r, x0_r + nx_r). A field with
 * C values per cell is stored plane-major, C fastest: plane p is
 * N*N*C floats. hb_halo_fill extends this rank's planes by hl planes on the
 * left and hr on the right, periodically, fetching each from its owner with
 * one Alltoallv whose schedule follows from the decomposition alone; halos
 * may be wider than a slab and may wrap the box. Collective over comm:
 * hb_slab_init, hb_halo_fill. */
#ifndef HB_HALO_H
#define HB_HALO_H

#include <mpi.h>
#include <stddef.h>

#include "hb/err.h"

typedef struct hb_slab {
    MPI_Comm comm;           /* borrowed */
    int      rank, nranks;
    int      N;
    long     x0, nx;         /* this rank's planes */
    long    *rank_x0, *rank_nx;   /* [nranks] */
    int     *owner;          /* [N] */
} hb_slab;

hb_status hb_slab_init(hb_slab *s, int N, MPI_Comm comm);
/* The network's decomposition: slab boundaries at multiples of `align`
 * planes (4: the two stride-2 levels of the U-Net then need no exchange),
 * the N / align blocks shared as evenly as possible (the first ranks take
 * one more). A clear error when N is not a multiple of align or a rank
 * would get no block. */
hb_status hb_slab_init_aligned(hb_slab *s, int N, int align, MPI_Comm comm);
/* Every rank's slab [x0, x0 + nx) of an N-plane decomposition, gathered from
 * each rank's own (x0, nx): rank_x0, rank_nx [nranks] and owner [N] (the
 * caller allocates). Collective. Shared by hb_slab and hb_mesh. */
hb_status hb_slab_tables(MPI_Comm comm, int nranks, long x0, long nx, long *rank_x0, long *rank_nx,
                         int *owner);
void      hb_slab_free(hb_slab *s);

/* ext holds hl + nx + hr planes of `plane` floats: planes hl .. hl+nx-1 must
 * already hold this rank's data; the others are filled from their owners. */
hb_status hb_halo_fill(const hb_slab *s, float *ext, size_t plane, long hl, long hr);

/* One-plane periodic halo exchange of a field stored with one halo plane on
 * each side: buf holds nx + 2 planes of `plane` floats, planes 1 .. nx this
 * rank's; the exchange fills plane 0 with the left neighbour's last plane
 * and plane nx + 1 with the right neighbour's first (periodic across the
 * box; a rank alone copies its own planes). Non-blocking: begin posts the
 * messages, end waits for them; the interior can be computed in between.
 * The neighbours are the ranks holding the planes next to this slab, so
 * nx may be any level's plane count of a decomposition whose every rank has
 * planes. Collective over s->comm (every rank calls begin and end). */
typedef struct hb_xchg_req {
    MPI_Request req[4];
    int         n;
} hb_xchg_req;
hb_status hb_xchg_begin(hb_xchg_req *x, const hb_slab *s, float *buf, long nx, size_t plane);
hb_status hb_xchg_end(hb_xchg_req *x);
/* begin + end. */
hb_status hb_xchg(const hb_slab *s, float *buf, long nx, size_t plane);

#endif
