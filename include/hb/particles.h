/* hb/particles.h: the particle store and its migration between ranks.
 *
 * Positions x are comoving [Mpc/h] in [0, L); momenta p = a^2 dx/dt in
 * H0 = 1 units [Mpc/h] (peculiar velocity v = 100 p / a km/s); acc holds
 * the force F = -grad nabla^-2 delta of the last force computation [Mpc/h];
 * id is the Lagrangian lattice index. A particle belongs to the rank whose
 * mesh slab holds the plane floor(x N / L) (hb_particles_plane), the same
 * rule CIC painting uses. Collective over p->comm: exchange, migrate,
 * sort_by_id, total. */
#ifndef HB_PARTICLES_H
#define HB_PARTICLES_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "hb/err.h"
#include "hb/mesh.h"

typedef struct hb_particles {
    MPI_Comm  comm;        /* borrowed */
    int       rank, nranks;
    double    L;           /* box side [Mpc/h] */
    long      n_total;     /* particles over all ranks */
    size_t    n, capacity;
    double   *x, *p;       /* [3 * capacity] */
    float    *acc;         /* [3 * capacity] */
    uint64_t *id;          /* [capacity] */
    float    *mass;        /* [capacity] mass / mean mass, or NULL: all particles equal (the lattice ICs) */
    double    t_migrate;   /* seconds spent migrating (accumulated) */
} hb_particles;

hb_status hb_particles_init(hb_particles *p, MPI_Comm comm, double L, long n_total, size_t capacity);
/* Give every particle a mass (initialised to 1); it travels with it. */
hb_status hb_particles_enable_mass(hb_particles *p);
void      hb_particles_free(hb_particles *p);
/* Make room for at least n particles (keeps the contents). */
hb_status hb_particles_reserve(hb_particles *p, size_t n);

/* The mesh plane of a position: floor(x N / L) wrapped into [0, N). */
static inline int hb_particles_plane(double x, int N, double L)
{
    double d = x * ((double)N / L);
    long i = (long)d;
    if (d < 0) i -= 1;   /* floor for negative values */
    i %= N;
    return (int)(i < 0 ? i + N : i);
}

/* Send every particle to owner(particle index, ctx) with one Alltoallv. */
hb_status hb_particles_exchange(hb_particles *p, int (*owner)(const hb_particles *, size_t, const void *),
                                const void *ctx);
/* Wrap positions into [0, L) and move particles to the ranks holding their
 * plane of mesh m. */
hb_status hb_particles_migrate(hb_particles *p, const hb_mesh *m);
/* Redistribute so rank r holds ids [r n_total / R, (r+1) n_total / R) in
 * increasing order (for rank-count-independent particle output). */
hb_status hb_particles_sort_by_id(hb_particles *p, long *first_id);

#endif
