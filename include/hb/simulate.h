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
#include "hb/box.h"
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
    int      inverted_phases;   /* 1: delta_k -> -delta_k (the partner of a paired-fixed run) */
    char     ic_file[1024];     /* "" or Gadget initial conditions (hb/icfile.h): the start and particles from it */
    int      ic_length_unit;    /* ic_file: 0 auto, 1 Mpc/h, 1000 kpc/h */
    int      plane_wave;        /* 1: Zel'dovich plane-wave ICs */
    int      plane_wave_mode;
    double   plane_wave_a_cross;
    char     out_pattern[1024]; /* "{z}" -> %.2f of the redshift */
    int      write_particles;
    int      out_order;         /* mass assignment of the output density: 2 CIC, 3 TSC */
    double   feedback[4];       /* A_SN1, A_AGN1, A_SN2, A_AGN2: recorded on the box, unused by the PM */
    const hb_provenance *prov;  /* borrowed, may be NULL: written to /parameters */
} hb_sim_config;

/* Check a filled configuration (every rank identically; errors reported by rank 0). */
hb_status hb_sim_config_check(const hb_sim_config *cfg, int nranks);
/* Set Omega_m, sigma_8 and the feedback parameters from theta (hb/theta.h order). */
void hb_sim_config_set_theta(hb_sim_config *cfg, const double theta[HB_NTHETA]);
/* The mass_assignment attribute of the output density ("cic", "tsc"). */
const char *hb_sim_out_mas(const hb_sim_config *cfg);
/* The description of the box this run writes at redshift z. */
hb_boxinfo hb_sim_boxinfo(const hb_sim_config *cfg, double z);

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
/* Density rho/mean of the particles on mesh m with the output mass
 * assignment (cfg.out_order; migrates them to m). */
hb_status hb_sim_density(hb_sim *s, const hb_mesh *m, float *buf);
/* Write the current state as a box file (density on n_grid, particles). */
hb_status hb_sim_write(hb_sim *s, const char *path);
void      hb_sim_free(hb_sim *s);

/* The output file name for redshift z. */
void hb_sim_output_name(const hb_sim_config *cfg, double z, char *out, size_t cap);

/* The whole run: ICs, steps with progress lines, outputs, timing summary. */
hb_status hb_simulate(const hb_sim_config *cfg, MPI_Comm comm);

#endif
