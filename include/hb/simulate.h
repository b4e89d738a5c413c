/* hb/simulate.h: the PM simulation, from parameters to DM density boxes.
 *
 * ICs on an n_particles^3 lattice (2LPT or Zel'dovich from the EH98 linear
 * field, or a Zel'dovich plane wave), FastPM kick-drift-kick steps on a
 * force mesh of (mesh_factor n_particles)^3, CIC density on n_grid^3 at
 * every output redshift, written as /fields/dm_density (rho/mean) in the
 * box-file layout (hb/h5io.h), with particles on request. Everything is
 * independent of the rank count to float round-off. Collective over comm:
 * every function taking an hb_sim. */
#ifndef HB_SIMULATE_H
#define HB_SIMULATE_H

#include <mpi.h>

#include "hb/cosmo.h"
#include "hb/err.h"
#include "hb/force.h"
#include "hb/mesh.h"
#include "hb/params.h"
#include "hb/particles.h"

#define HB_MAX_OUTPUTS 32

typedef struct hb_sim_config {
    hb_cosmo_config cosmo;
    double   box_size;          /* Mpc/h */
    int      n_particles;       /* per side */
    int      mesh_factor;       /* force mesh = mesh_factor * n_particles */
    int      n_grid;            /* output grid per side */
    double   z_init;
    double   z_out[HB_MAX_OUTPUTS];   /* decreasing (the order they are reached) */
    int      n_out;
    int      n_steps;
    long     seed;
    int      lpt_order;         /* 1 or 2 */
    int      fixed_amplitude;
    hb_force_config force;
    int      plane_wave;        /* 1: Zel'dovich plane-wave ICs */
    int      plane_wave_mode;
    double   plane_wave_a_cross;
    char     out_pattern[1024]; /* "{z}" -> %.2f of the redshift */
    int      write_particles;
} hb_sim_config;

/* Build and validate (every rank identically; errors reported by rank 0). */
hb_status hb_sim_config_from_params(hb_sim_config *cfg, const hb_params *p, int nranks);

typedef struct hb_sim {
    hb_sim_config cfg;
    MPI_Comm      comm;
    hb_cosmo      cosmo;
    hb_mesh       force_mesh;
    hb_particles  part;
    hb_force      force;
    double        a;            /* current scale factor */
    double        t_ic, t_io;   /* seconds */
} hb_sim;

/* Initial conditions at z_init, particles on the force mesh, force computed. */
hb_status hb_sim_init(hb_sim *s, const hb_sim_config *cfg, MPI_Comm comm);
/* One KDK step from s->a to a1. */
hb_status hb_sim_step(hb_sim *s, double a1);
/* CIC density rho/mean of the particles on mesh m (migrates them to m). */
hb_status hb_sim_density(hb_sim *s, const hb_mesh *m, float *buf);
/* Write the current state as a box file (density on n_grid, particles). */
hb_status hb_sim_write(hb_sim *s, const char *path, const hb_params *par);
void      hb_sim_free(hb_sim *s);

/* The output file name for redshift z. */
void hb_sim_output_name(const hb_sim_config *cfg, double z, char *out, size_t cap);

/* The whole run: ICs, steps with progress lines, outputs, timing summary. */
hb_status hb_simulate(const hb_params *par, MPI_Comm comm);

#endif
