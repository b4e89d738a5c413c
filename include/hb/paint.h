/* hb/paint.h: mass assignment (CIC, TSC, PCS) and interpolation between
 * particles and a slab-decomposed mesh (SCIENCE.md 3: node i at x = i L/N;
 * window of order p = 2 CIC, 3 TSC, 4 PCS, whose Fourier transform is
 * prod_i sinc^p(k_i h / 2)).
 *
 * Painting accumulates in 64-bit fixed point (each term rounded on its
 * own), so a cell's total does not depend on the order particles arrive
 * in: a field painted on any number of ranks is bitwise the same.
 *
 * Particles must live on the rank holding their plane floor(x N / L)
 * (hb_particles_migrate with the same mesh). A particle touches planes
 * i-1 .. i+2 at most, so painting fills up to one left and two right ghost
 * planes and adds them to their owners, and readout fetches them from their
 * owners; the exchange is computed from the decomposition alone (one
 * Alltoallv, no handshake) and works for any slab sizes, empty slabs and a
 * single rank. `shift` (in cells, added to every coordinate) paints on a
 * grid offset by -shift*h, for interlacing. Collective over m->comm:
 * init, paint, readout. */
#ifndef HB_PAINT_H
#define HB_PAINT_H

#include <stdint.h>

#include "hb/err.h"
#include "hb/mesh.h"
#include "hb/particles.h"

#define HB_PAINT_MAXF 3   /* fields read out in one call */

typedef struct hb_painter {
    const hb_mesh *m;        /* borrowed */
    int      order;          /* 2 CIC, 3 TSC, 4 PCS */
    int      gl, gr;         /* ghost planes on the left / right */
    float   *ghost;          /* owned: (gl + gr) planes of N*N (the field being read out) */
    float   *gcur;           /* the ghost planes being filled */
    int64_t *acc;            /* owned: fixed-point slab, nx_local planes of N*N */
    int64_t *ghost64;        /* owned: fixed-point ghosts, (gl + gr) planes */
    hb_timer t_comm;
} hb_painter;

/* shifted = 1 allows shifts in [-1/2, 1/2] cells (wider ghosts). */
hb_status hb_painter_init(hb_painter *pt, const hb_mesh *m, int order, int shifted);
void      hb_painter_free(hb_painter *pt);
/* Add `weight` (times w[i] when w != NULL) per particle into buf (real
 * space, not cleared first). */
hb_status hb_painter_paint(hb_painter *pt, float *buf, const hb_particles *p, double weight,
                           const float *w, double shift);
/* Interpolate buf at every particle into out[stride * i] (or add into it
 * with factor `scale` when accumulate is 1). */
hb_status hb_painter_readout(hb_painter *pt, const float *buf, const hb_particles *p, float *out,
                             int stride, double shift, int accumulate, float scale);

/* The same for nf <= HB_PAINT_MAXF fields: out[stride * i + k] from
 * bufs[k], one field after the other (9 rows per particle and pass with TSC
 * ran 30% faster than 27 at once). */
hb_status hb_painter_readout_n(hb_painter *pt, const float *const *bufs, int nf, const hb_particles *p, float *out,
                               int stride, double shift, int accumulate, float scale);
/* Planes x0 - 2, x0 - 1, x0 + nx, x0 + nx + 1 (periodic) of the float mesh
 * buf into ghost (4 planes of N*N, rows N apart), for stencils. Collective. */
hb_status hb_painter_ghost2(hb_painter *pt, const float *buf, float *ghost);
/* Two float meshes (i = 0, 1; 2 * alloc_local floats each) that share the
 * fixed-point slab's memory: free between a paint and the next. */
float *hb_painter_scratch(hb_painter *pt, int i);

/* One-off CIC paint of `weight` per particle (allocates its own painter). */
hb_status hb_paint_cic(const hb_mesh *m, float *buf, const hb_particles *p, double weight,
                       const float *w);
/* The same with a window of order 2 (CIC), 3 (TSC) or 4 (PCS). */
hb_status hb_paint_order(const hb_mesh *m, float *buf, const hb_particles *p, double weight, const float *w, int order);

#endif
