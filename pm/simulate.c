/* The PM simulation driver (hb/simulate.h). */
#include "hb/simulate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb/h5io.h"
#include "hb/ic.h"
#include "hb/icfile.h"
#include "hb/mpiutil.h"
#include "hb/paint.h"
#include "hb/stepper.h"

hb_status hb_sim_config_check(const hb_sim_config *c, int nranks)
{
    if (c->n_out < 1) return HB_ERR0(HB_EARG, "simulation.z_out: no output redshift");
    for (int i = 1; i < c->n_out; i++) {
        if (!(c->z_out[i] < c->z_out[i - 1])) {
            return HB_ERR0(HB_EARG, "simulation.z_out: internal: redshifts must be sorted decreasing");
        }
    }
    if (c->ic_file[0] && c->inverted_phases) {
        return HB_ERR0(HB_EARG, "simulation.inverted_phases applies to the Gaussian initial conditions, not to a file");
    }
    if (!c->ic_file[0] && c->z_out[0] > c->z_init) {
        return HB_ERR0(HB_EARG, "simulation.z_out = %g is above simulation.z_init = %g: outputs "
                       "must come after the start", c->z_out[0], c->z_init);
    }
    if (c->n_particles < nranks) {
        return HB_ERR0(HB_EARG, "simulation.n_particles = %d is smaller than the %d ranks: every "
                       "rank needs a plane of particles; use fewer ranks", c->n_particles, nranks);
    }
    if (c->n_particles % 2 || c->n_grid % 2) {
        return HB_ERR0(HB_EARG, "simulation.n_particles = %d and n_grid = %d must be even",
                       c->n_particles, c->n_grid);
    }
    if (c->n_out > 1 && !strstr(c->out_pattern, "{z}")) {
        return HB_ERR0(HB_EARG, "output.file = \"%s\" has no {z}, but %d output redshifts were "
                       "asked for", c->out_pattern, c->n_out);
    }
    if (c->force.kernel == HB_KERNEL_SPECTRAL && c->mesh_factor > 1) {
        return HB_ERR0(HB_EARG, "simulation.force_kernel = spectral needs mesh_factor = 1: its "
                       "window deconvolution amplifies the particle lattice, which sits at the "
                       "Nyquist frequency of a finer mesh (power grows tenfold); use the fastpm kernel");
    }
    if (c->plane_wave && c->plane_wave_mode * 2 > c->n_particles) {
        return HB_ERR0(HB_EARG, "simulation.plane_wave_mode = %d is above the particle Nyquist "
                       "mode %d", c->plane_wave_mode, c->n_particles / 2);
    }
    return HB_OK;
}

const char *hb_sim_out_mas(const hb_sim_config *c)
{
    return c->out_order == 3 ? "tsc" : "cic";
}

void hb_sim_config_set_theta(hb_sim_config *c, const double th[HB_NTHETA])
{
    c->cosmo.omega_m = th[HB_OMEGA_M];
    c->cosmo.sigma_8 = th[HB_SIGMA_8];
    for (int k = 0; k < 4; k++) c->feedback[k] = th[HB_A_SN1 + k];
}

hb_boxinfo hb_sim_boxinfo(const hb_sim_config *c, double z)
{
    hb_boxinfo b = {c->box_size, z, c->cosmo.omega_b, c->cosmo.h, c->cosmo.n_s,
                    {c->cosmo.omega_m, c->cosmo.sigma_8, c->feedback[0], c->feedback[1], c->feedback[2], c->feedback[3]},
                    c->seed};
    return b;
}

void hb_sim_output_name(const hb_sim_config *cfg, double z, char *out, size_t cap)
{
    const char *tag = strstr(cfg->out_pattern, "{z}");
    if (!tag) {
        snprintf(out, cap, "%s", cfg->out_pattern);
        return;
    }
    snprintf(out, cap, "%.*s%.2f%s", (int)(tag - cfg->out_pattern), cfg->out_pattern, z, tag + 3);
}

/* Lattice initial conditions: a Gaussian field (optionally fixed-amplitude
 * and phase-inverted) displaced by LPT, or the Zel'dovich plane wave. */
static hb_status lattice_ics(hb_sim *s, double a0)
{
    const hb_sim_config *cfg = &s->cfg;
    const int Np = cfg->n_particles;
    hb_mesh mp;
    HB_TRY(hb_mesh_init(&mp, Np, cfg->box_size, s->comm, FFTW_ESTIMATE));
    hb_status rc = hb_particles_init(&s->part, s->comm, cfg->box_size, (long)Np * Np * Np,
                                     (size_t)(mp.nx_local + 1) * Np * Np);
    if (rc == HB_OK && cfg->plane_wave) {
        rc = hb_ic_plane_wave(&s->part, &mp, &s->cosmo, cfg->plane_wave_mode, cfg->plane_wave_a_cross, a0);
    } else if (rc == HB_OK) {
        const double kf = 2 * M_PI / cfg->box_size;
        rc = hb_cosmo_table_covers(&s->cosmo, kf, kf * sqrt(3.0) * (Np / 2), "the initial conditions' mesh");
        float *dk = rc == HB_OK ? hb_mesh_alloc(&mp) : NULL;
        if (rc == HB_OK && hb_mpi_any(s->comm, !dk)) rc = HB_ERR0(HB_ENOMEM, "IC mesh");
        if (rc == HB_OK) {
            hb_ic_gaussian_k(&mp, hb_ic_plin_z0, &s->cosmo, (uint64_t)cfg->seed, cfg->fixed_amplitude, dk);
            if (cfg->inverted_phases) {
                for (ptrdiff_t i = 0; i < 2 * mp.alloc_local; i++) dk[i] = -dk[i];
            }
            rc = hb_ic_lpt(&s->part, &mp, &s->cosmo, dk, cfg->lpt_order, a0);
        }
        fftwf_free(dk);
    }
    hb_mesh_free(&mp);
    return rc;
}

/* Initial conditions from a file; *a0: its start. */
static hb_status file_ics(hb_sim *s, double *a0)
{
    const hb_sim_config *cfg = &s->cfg;
    HB_TRY(hb_particles_init(&s->part, s->comm, cfg->box_size, 0, 16));
    hb_icfile_info info;
    HB_TRY(hb_icfile_read(cfg->ic_file, cfg->box_size, cfg->ic_length_unit, &s->part, &info, s->comm));
    *a0 = info.a_start;
    hb_log0("simulate: initial conditions %s: %s, %d file(s), %ld particles (types 0-5: %ld %ld %ld %ld %ld %ld), "
            "lengths in %s, z = %.4g; %s masses; %s", cfg->ic_file, info.format == 2 ? "HDF5" : "Gadget binary",
            info.nfiles, info.n_total, info.n_type[0], info.n_type[1], info.n_type[2], info.n_type[3], info.n_type[4],
            info.n_type[5], info.unit == 1 ? "Mpc/h" : "kpc/h", 1 / info.a_start - 1,
            info.mixed_masses ? "mixed (painted by mass)" : "equal",
            info.lagrangian_ids ? "IDs form a contiguous range: particle output in ID order"
                                : "IDs do not form a contiguous range: particle output in file order");
    if (cfg->z_out[0] > 1 / info.a_start - 1) {
        return HB_ERR0(HB_EARG, "simulation.z_out = %g is above the initial conditions' redshift %g", cfg->z_out[0],
                       1 / info.a_start - 1);
    }
    return HB_OK;
}

hb_status hb_sim_init(hb_sim *s, const hb_sim_config *cfg, MPI_Comm comm)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    s->comm = comm;
    double t0 = hb_now();
    HB_TRY(hb_cosmo_init(&s->cosmo, &cfg->cosmo));
    const int Np = cfg->n_particles;
    double a0 = 1.0 / (1.0 + cfg->z_init);
    hb_status rc = cfg->ic_file[0] ? file_ics(s, &a0) : lattice_ics(s, a0);
    const long ntot = s->part.n_total;
    if (rc == HB_OK) rc = hb_mesh_init(&s->force_mesh, cfg->mesh_factor * Np, cfg->box_size, comm, FFTW_ESTIMATE);
    if (rc == HB_OK) rc = hb_force_init(&s->force, &s->force_mesh, &cfg->force, ntot);
    if (rc == HB_OK) rc = hb_particles_migrate(&s->part, &s->force_mesh);
    if (rc == HB_OK) rc = hb_force_compute(&s->force, &s->part);
    s->a = a0;
    s->t_ic = hb_now() - t0;
    if (rc != HB_OK) hb_sim_free(s);
    return rc;
}

void hb_sim_free(hb_sim *s)
{
    hb_force_free(&s->force);
    hb_mesh_free(&s->force_mesh);
    hb_particles_free(&s->part);
    hb_cosmo_free(&s->cosmo);
}

static void kick(hb_sim *s, double a_force, double a0, double a1)
{
    const double k = hb_kick_factor(&s->cosmo, a_force, a0, a1);
    hb_particles *p = &s->part;
    for (size_t i = 0; i < 3 * p->n; i++) p->p[i] += k * p->acc[i];
}

static void drift(hb_sim *s, double a_mom, double a0, double a1)
{
    const double d = hb_drift_factor(&s->cosmo, a_mom, a0, a1);
    hb_particles *p = &s->part;
    for (size_t i = 0; i < 3 * p->n; i++) p->x[i] += d * p->p[i];
}

hb_status hb_sim_step(hb_sim *s, double a1)
{
    const double a0 = s->a, ah = 0.5 * (a0 + a1);
    kick(s, a0, a0, ah);
    drift(s, ah, a0, a1);
    HB_TRY(hb_particles_migrate(&s->part, &s->force_mesh));
    HB_TRY(hb_force_compute(&s->force, &s->part));
    kick(s, a1, ah, a1);
    s->a = a1;
    return HB_OK;
}

hb_status hb_sim_density(hb_sim *s, const hb_mesh *m, float *buf)
{
    HB_TRY(hb_particles_migrate(&s->part, m));
    memset(buf, 0, 2 * (size_t)m->alloc_local * sizeof *buf);
    return hb_paint_order(m, buf, &s->part, pow((double)m->N, 3) / (double)s->part.n_total, s->part.mass,
                          s->cfg.out_order ? s->cfg.out_order : 2);
}

static hb_status write_particles(hb_sim *s, hb_h5 *f)
{
    long first;
    HB_TRY(hb_particles_sort_by_id(&s->part, &first));
    hb_particles *p = &s->part;
    float *buf = malloc((3 * p->n + 1) * sizeof *buf);
    if (hb_mpi_any(s->comm, !buf)) {
        free(buf);
        return HB_ERR0(HB_ENOMEM, "particle output buffer");
    }
    for (size_t i = 0; i < 3 * p->n; i++) buf[i] = (float)p->x[i];
    hb_status rc = hb_h5_write_rows(f, "/particles/position", p->n_total, 3, first, (long)p->n, buf);
    const double vunit = 100.0 / s->a;   /* v = 100 p / a km/s */
    for (size_t i = 0; i < 3 * p->n; i++) buf[i] = (float)(vunit * p->p[i]);
    if (rc == HB_OK) rc = hb_h5_write_rows(f, "/particles/velocity", p->n_total, 3, first, (long)p->n, buf);
    if (rc == HB_OK) rc = hb_h5_write_rows_u64(f, "/particles/id", p->n_total, first, (long)p->n, p->id);
    free(buf);
    if (rc == HB_OK) rc = hb_h5_attr_write_string(f, "/particles/position", "units", "Mpc/h (comoving)");
    if (rc == HB_OK) rc = hb_h5_attr_write_string(f, "/particles/velocity", "units", "km/s (peculiar)");
    return rc;
}

hb_status hb_sim_write(hb_sim *s, const char *path)
{
    double t0 = hb_now();
    hb_mesh mo;
    HB_TRY(hb_mesh_init(&mo, s->cfg.n_grid, s->cfg.box_size, s->comm, FFTW_ESTIMATE));
    float *rho = hb_mesh_alloc(&mo);
    hb_status rc = hb_mpi_any(s->comm, !rho) ? HB_ERR0(HB_ENOMEM, "output mesh") : HB_OK;
    if (rc == HB_OK) rc = hb_sim_density(s, &mo, rho);
    if (rc == HB_OK) {
        double z = 1.0 / s->a - 1.0;
        hb_boxinfo bi = hb_sim_boxinfo(&s->cfg, z < 0 ? 0 : z);
        hb_box_fields bf = hb_box_fields_mesh(&mo, rho, hb_sim_out_mas(&s->cfg), NULL, NULL, NULL);
        hb_h5_attr extra[] = {{"scale_factor", 'd', s->a, 0, NULL}, {"n_particles", 'l', 0, s->cfg.n_particles, NULL}};
        hb_h5 f;
        rc = hb_box_create(&f, path, s->comm, &bf, &bi, extra, 2, s->cfg.prov);
        if (rc == HB_OK) {   /* created: commit, or delete the temporary */
            if (s->cfg.write_particles) rc = write_particles(s, &f);
            if (rc == HB_OK) rc = hb_h5_commit(&f);
            else hb_h5_abort(&f);
        }
    }
    fftwf_free(rho);
    hb_mesh_free(&mo);
    s->t_io += hb_now() - t0;
    return rc;
}

/* Four FFTs of the force mesh (one r2c, three c2r): the floor of a step (best of three). */
static hb_status time_four_ffts(hb_sim *s, double *best)
{
    const hb_mesh *m = &s->force_mesh;
    float *b = s->force.work;
    *best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        HB_TRY(hb_mpi(MPI_Barrier(s->comm)));
        double t0 = hb_now();
        hb_mesh_r2c(m, b);
        for (int d = 0; d < 3; d++) hb_mesh_c2r_raw(m, b);
        double t = hb_now() - t0;
        HB_TRY(hb_mpi_max(s->comm, &t, 1));
        if (t < *best) *best = t;
    }
    return HB_OK;
}

/* Timers (max over ranks), peak memory, and the step against its four-FFT floor. */
static hb_status report_timers(hb_sim *s, int n_steps, double t_steps)
{
    hb_force *f = &s->force;
    double t[7] = {f->t_fft.total, f->t_paint.total, f->t_readout.total, s->part.t_migrate,
                   f->t_kernel.total, s->t_ic, s->t_io};
    double mx[7];
    memcpy(mx, t, sizeof t);
    HB_TRY(hb_mpi_max(s->comm, mx, 7));
    double rss = (double)hb_peak_rss(), floor4;
    HB_TRY(hb_mpi_sum(s->comm, &rss, 1));
    const char *names[7] = {"FFT", "paint", "readout", "migration", "kernels", "initial conditions", "output"};
    hb_log0("time (max over ranks): steps %.2f s (%.3f s/step)", t_steps, n_steps ? t_steps / n_steps : 0);
    for (int i = 0; i < 7; i++) hb_log0("  %-20s %8.3f s", names[i], mx[i]);
    hb_log0("peak memory: %.1f MB in all, %.0f bytes per particle", rss / 1e6, rss / (double)s->part.n_total);
    HB_TRY(time_four_ffts(s, &floor4));
    const double per_step = n_steps ? t_steps / n_steps : 0;
    hb_log0("four %d^3 FFTs: %.3f s; a step is %.2f x that floor", s->force_mesh.N, floor4, per_step / floor4);
    hb_log0("bench: particles=%d mesh=%d ranks=%d steps=%d step_s=%.4f fft4_s=%.4f ratio=%.3f "
            "bytes_per_particle=%.0f", s->cfg.n_particles, s->force_mesh.N, s->force_mesh.nranks, n_steps, per_step,
            floor4, per_step / floor4, rss / (double)s->part.n_total);
    return HB_OK;
}

/* Steps to every output redshift with progress lines, writing each output
 * when its scale factor is reached (outputs at z_init too). */
static hb_status run(hb_sim *s, const double *a_out, int n_out, const double *a_steps, int n, double *t_steps)
{
    hb_progress prog;
    hb_progress_init(&prog, "simulate", n, "steps");
    prog.min_interval = 0;
    int next_out = 0;
    for (int i = 0; i <= n; i++) {
        if (i > 0) {
            double t0 = hb_now();
            HB_TRY(hb_sim_step(s, a_steps[i]));
            double dt = hb_now() - t0;
            *t_steps += dt;
            char extra[128];
            snprintf(extra, sizeof extra, "a = %.4f  z = %.3f  %.3f s/step", s->a, 1 / s->a - 1, dt);
            hb_progress_step(&prog, i, extra);
        }
        while (next_out < n_out && a_out[next_out] <= s->a * (1 + 1e-12)) {
            char path[2048];
            double z = fmax(1 / a_out[next_out] - 1, 0);
            hb_sim_output_name(&s->cfg, z, path, sizeof path);
            HB_TRY(hb_sim_write(s, path));
            hb_log0("wrote %s (z = %.3f)", path, z);
            next_out++;
        }
    }
    return HB_OK;
}

hb_status hb_simulate(const hb_sim_config *cfg, MPI_Comm comm)
{
    int nranks;
    HB_TRY(hb_mpi(MPI_Comm_size(comm, &nranks)));
    HB_TRY(hb_sim_config_check(cfg, nranks));
    hb_log0("simulate: %d^3 particles in %g Mpc/h, force mesh %d^3, output grid %d^3, z = %g -> %g, "
            "%d steps, %s ICs, %s kernel, %d ranks", cfg->n_particles, cfg->box_size,
            cfg->mesh_factor * cfg->n_particles, cfg->n_grid, cfg->z_init, cfg->z_out[cfg->n_out - 1],
            cfg->n_steps, cfg->ic_file[0] ? "file" : cfg->plane_wave ? "plane-wave" : (cfg->lpt_order == 2 ? "2LPT" : "Zel'dovich"),
            cfg->force.kernel == HB_KERNEL_FASTPM ? "fastpm" : "spectral", nranks);
    hb_sim s;
    HB_TRY(hb_sim_init(&s, cfg, comm));
    double a_out[HB_MAX_OUTPUTS];
    for (int i = 0; i < cfg->n_out; i++) a_out[i] = 1.0 / (1.0 + cfg->z_out[i]);   /* z_out decreases */
    double *a_steps = NULL, t_steps = 0;
    int n = 0;
    hb_status rc = hb_timesteps(s.a, a_out, cfg->n_out, cfg->n_steps, &a_steps, &n);
    if (rc == HB_OK) rc = run(&s, a_out, cfg->n_out, a_steps, n, &t_steps);
    if (rc == HB_OK) rc = report_timers(&s, n, t_steps);
    free(a_steps);
    hb_sim_free(&s);
    return rc;
}
