/* hb/camels.h: importing CAMELS data into box files.
 *
 * Snapshots (Gadget/Arepo HDF5, single or multi-file, SCIENCE.md 2.3):
 * positions in ckpc/h (/1e3 -> Mpc/h), masses in 1e10 Msun/h (DM from
 * MassTable[1] when PartType1 has no Masses). Each rank reads a contiguous
 * share of the particles of every type; DM (PartType1) is CIC-painted to
 * dm_density, gas (PartType0) to gas_density (both rho/mean), and the
 * mass-weighted temperature to gas_temperature, with
 *   T = u (1 + 4y) / (1 + y + x_e) 1e10 (2/3) m_p / k_B,  y = 0.0789
 * (u = InternalEnergy [(km/s)^2], x_e = ElectronAbundance); cells without gas
 * get the box's mass-weighted mean temperature. Datasets compressed with an
 * unavailable HDF5 filter (CAMELS N-body snapshots use Blosc) are a clear
 * error naming the Debian package.
 *
 * CMD grids (.npy, format versions 1 and 2, float32 (n_sims, N, N, N) C order):
 * each rank reads its x-slab of grid `index` directly from the file.
 * Collective over comm: hb_import_camels, hb_import_cmd. */
#ifndef HB_CAMELS_H
#define HB_CAMELS_H

#include <mpi.h>
#include <stddef.h>

#include "hb/err.h"
#include "hb/theta.h"

#define HB_CAMELS_YHE 0.0789          /* (1 - X_H) / (4 X_H), X_H = 0.76 */
#define HB_CAMELS_MP 1.6726e-24       /* g */
#define HB_CAMELS_KB 1.3807e-16       /* erg/K */

double hb_camels_temperature(double u, double xe);

typedef struct hb_import_opts {
    int    n_grid;          /* output grid per side */
    double theta[HB_NTHETA];   /* hb/theta.h order: NaN where unknown (then header / defaults) */
    char   name[64];
} hb_import_opts;

hb_status hb_import_camels(const char *snapshot, const hb_import_opts *o, const char *out, MPI_Comm comm);

typedef struct hb_npy {
    int    version;         /* 1 or 2 */
    long   shape[4];
    int    ndim;
    size_t data_offset;     /* bytes */
} hb_npy;

/* Parse an NPY header; a clear error for anything but little-endian float32 in C order. */
hb_status hb_npy_open(const char *path, hb_npy *h);
/* Planes [x0, x0+nx) of grid `index` of a (n, N, N, N) array into buf (nx N^2 floats). */
hb_status hb_npy_read_slab(const char *path, const hb_npy *h, long index, long x0, long nx, float *buf);

/* CMD import: the fields present (NULL paths skipped) of grid `index`;
 * densities divided by their mean. box_size in Mpc/h. */
hb_status hb_import_cmd(const char *mcdm, const char *mgas, const char *temp, long index, double box_size,
                        const double theta[HB_NTHETA], const char *out, MPI_Comm comm);

#endif
