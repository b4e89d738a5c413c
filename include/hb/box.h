/* hb/box.h: box files, the layout every stage reads and writes (README "File
 * layout"): float32 N^3 fields under /fields (dm_density and gas_density as
 * rho/mean, gas_temperature in K, optionally stellar_density as rho/mean,
 * each with a mass_assignment attribute),
 * the attributes on "/" that describe the box (hb_boxinfo: box_size [Mpc/h],
 * redshift, omega_b, h, n_s, the six theta by their hb/theta.h names, seed,
 * hydrobridge_version), and /parameters: the effective run parameters as
 * string attributes (hb_provenance, filled by the front end).
 *
 * hb_box_create writes fields, description and provenance to NAME.tmp; the
 * caller may add datasets (particles) and then hb_h5_commit renames it into
 * place (hb_h5_abort deletes it). hb_box_write does both, for every command
 * that writes a box. Collective over comm: create, write, read_info. */
#ifndef HB_BOX_H
#define HB_BOX_H

#include <mpi.h>
#include <stddef.h>

#include "hb/err.h"
#include "hb/h5io.h"
#include "hb/mesh.h"
#include "hb/theta.h"

#define HB_FIELD_DM "/fields/dm_density"
#define HB_FIELD_GAS "/fields/gas_density"
#define HB_FIELD_TEMP "/fields/gas_temperature"
#define HB_FIELD_STARS "/fields/stellar_density"   /* optional: the mock's stars (rho/mean) */
enum { HB_BOX_DM = 0, HB_BOX_GAS, HB_BOX_TEMP, HB_BOX_STARS, HB_BOX_NFIELD };
extern const char *const HB_BOX_FIELD[HB_BOX_NFIELD];   /* the four paths above */

typedef struct hb_boxinfo {
    double box_size;              /* Mpc/h */
    double redshift;
    double omega_b, h, n_s;       /* the fixed cosmology */
    double theta[HB_NTHETA];      /* Omega_m, sigma_8, A_SN1, A_AGN1, A_SN2, A_AGN2 */
    long   seed;
} hb_boxinfo;

hb_status hb_box_write_info(hb_h5 *f, const hb_boxinfo *b);
/* Reads and checks: every value finite, box_size > 0, theta as hb_theta_check. */
hb_status hb_box_read_info(hb_h5 *f, hb_boxinfo *b);
/* The mass_assignment attribute of the DM field ("none" when it has none):
 * how the network's input was painted, which a model must be used with. */
#define HB_MAS_LEN 16
hb_status hb_box_read_dm_mas(hb_h5 *f, char mas[HB_MAS_LEN]);
/* The mass-assignment label in attribute name of obj, refused (not cut) when
 * it is HB_MAS_LEN characters or longer. */
hb_status hb_mas_read(hb_h5 *f, const char *obj, const char *name, char mas[HB_MAS_LEN]);
/* Whether two such labels can be the same painting: "none" and "" (not
 * recorded: imported grids, models from before it was kept) match any. */
int hb_mas_compatible(const char *a, const char *b);

/* What a field's values must be: every value finite, and for densities
 * >= 0 with a positive mean (empty cells are allowed), for temperatures > 0. */
enum { HB_VALUES_FINITE = 0, HB_VALUES_DENSITY, HB_VALUES_POSITIVE };
/* Check this rank's planes [x0, x0 + nx) of an N^3 field (rows zstride
 * floats apart): an error on the rank holding the first bad value names the
 * file, the dataset, the cell [x][y][z] and the value; the others return it
 * quietly. Collective over comm. */
hb_status hb_field_check(const float *buf, int N, long x0, long nx, size_t zstride, int values, const char *file,
                         const char *name, MPI_Comm comm);
/* hb_h5_read_field / hb_h5_read_mesh_field, then hb_field_check. */
hb_status hb_box_read_field(hb_h5 *f, const char *name, int N, long x0, long nx, float *buf, size_t zstride,
                            int values);
hb_status hb_box_read_mesh_field(hb_h5 *f, const char *name, const hb_mesh *m, float *buf, int values);

/* The effective run parameters, "section.key" = text, as the front end
 * resolved them (INI file, command line, box attributes). */
#define HB_PROV_MAX 96
typedef struct hb_provenance {
    int  n;
    char key[HB_PROV_MAX][48];
    char val[HB_PROV_MAX][256];
    char source[512];             /* the INI file, "" if none */
} hb_provenance;

/* Set (or replace) key to the printf-formatted value. */
void hb_prov_set(hb_provenance *p, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* This rank's planes [x0, x0 + nx) of the fields to write (NULL: absent),
 * rows along z zstride floats apart. */
typedef struct hb_box_fields {
    int          N;
    long         x0, nx;
    size_t       zstride;
    const float *field[HB_BOX_NFIELD];
    const char  *mas[HB_BOX_NFIELD];    /* mass_assignment attribute ("cic", "none", ...) */
} hb_box_fields;

/* The fields of mesh buffers (NULL: absent), with their mass assignment. */
hb_box_fields hb_box_fields_mesh(const hb_mesh *m, const float *dm, const char *mas_dm, const float *gas,
                                 const float *temp, const char *mas_baryons);

/* Create path.tmp with the fields, the description, extra attributes on "/"
 * (scale_factor, emulated_by, ...) and /parameters (prov may be NULL). On
 * failure nothing is left. */
hb_status hb_box_create(hb_h5 *f, const char *path, MPI_Comm comm, const hb_box_fields *bf, const hb_boxinfo *bi,
                        const hb_h5_attr *extra, int n_extra, const hb_provenance *prov);
/* hb_box_create then hb_h5_commit. */
hb_status hb_box_write(const char *path, MPI_Comm comm, const hb_box_fields *bf, const hb_boxinfo *bi,
                       const hb_h5_attr *extra, int n_extra, const hb_provenance *prov);

#endif
