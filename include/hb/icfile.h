/* hb/icfile.h: initial conditions from Gadget files, the PM twin of a
 * hydro run started from the same particles (CAMELS distributes its 2LPTic
 * initial conditions).
 *
 * Formats: the binary of N-GenIC and 2LPTic (Fortran records, SnapFormat 1:
 * a 256-byte header, then POS, VEL, ID and, for types without a MassTable
 * entry, MASS blocks; float or double coordinates, 4- or 8-byte IDs) and
 * HDF5 (/Header attributes; /PartTypeN/Coordinates, Velocities,
 * ParticleIDs, Masses), as MUSIC, monofonIC and Gadget-4 write them. A set
 * of NumFiles > 1 files is named BASE.0 .. BASE.(n-1) (".hdf5" after the
 * number for HDF5); give BASE or any one of them. Every particle type
 * present is read: for the PM all of them are matter, weighted by mass.
 *
 * Units: the header's BoxSize is the box in kpc/h or Mpc/h (length_unit 0
 * decides by comparing it with the run's box_size; 1 or 1000 forces Mpc/h or
 * kpc/h, and the box must then match). Velocities u = v_pec / sqrt(a) km/s
 * (Gadget's convention) become the solver's momenta p = a^1.5 u / 100. The
 * start is the header's Time (a).
 *
 * IDs: when the ParticleIDs of all files are exactly the integers
 * min .. min + n - 1 (any order: checked by count, extremes and the sums
 * of id and id^2), id - min is the particle's Lagrangian index, and the
 * particle output is sorted by it: for N-GenIC and 2LPTic grids that is the
 * lattice order. Otherwise each particle's index in file order is used
 * (deterministic; the output then follows the files, not a lattice).
 *
 * Particles are shared out evenly over the ranks in file order (each reads
 * its own part with pread / hyperslabs); the caller migrates them. The
 * result does not depend on the rank count. Errors name the file and what
 * was expected: truncated records, a header claiming more particles than
 * the file holds, per-file counts that do not add up to the total, unknown
 * units. Collective over comm. */
#ifndef HB_ICFILE_H
#define HB_ICFILE_H

#include <mpi.h>

#include "hb/err.h"
#include "hb/particles.h"

typedef struct hb_icfile_info {
    int    format;        /* 1: Gadget binary (SnapFormat 1), 2: HDF5 */
    int    nfiles;
    long   n_total;       /* particles of every type */
    long   n_type[6];
    double box;           /* BoxSize as in the header */
    double unit;          /* to Mpc/h: 1 or 1e-3 */
    double a_start;       /* the header's Time */
    int    lagrangian_ids;   /* 1: IDs formed min .. min + n - 1 */
    int    mixed_masses;     /* 1: particles of different masses (p->mass set) */
} hb_icfile_info;

/* Read the set at path into p (hb_particles_init'ed by the caller with the
 * run's box L and any capacity; n_total is set here). */
hb_status hb_icfile_read(const char *path, double L, int length_unit, hb_particles *p, hb_icfile_info *info,
                         MPI_Comm comm);

#endif
