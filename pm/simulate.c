/* The PM simulation driver (hb/simulate.h). */
#include "hb/simulate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb/h5io.h"
#include "hb/ic.h"
#include "hb/mpiutil.h"
#include "hb/paint.h"
#include "hb/stepper.h"

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

hb_status hb_sim_config_from_params(hb_sim_config *c, const hb_params *p, int nranks)
{
    memset(c, 0, sizeof *c);
    c->cosmo = hb_cosmo_config_from_params(p);
    c->box_size = hb_params_double(p, "simulation.box_size");
    c->n_particles = (int)hb_params_int(p, "simulation.n_particles");
    c->mesh_factor = (int)hb_params_int(p, "simulation.mesh_factor");
    c->n_grid = (int)hb_params_int(p, "simulation.n_grid");
    if (c->n_grid == 0) c->n_grid = c->n_particles;
    c->z_init = hb_params_double(p, "simulation.z_init");
    c->n_out = hb_params_dlist(p, "simulation.z_out", c->z_out, HB_MAX_OUTPUTS);
    qsort(c->z_out, (size_t)c->n_out, sizeof c->z_out[0], cmp_desc);
    c->n_steps = (int)hb_params_int(p, "simulation.n_steps");
    c->seed = hb_params_int(p, "simulation.seed");
    c->lpt_order = (int)hb_params_int(p, "simulation.lpt_order");
    c->fixed_amplitude = (int)hb_params_int(p, "simulation.fixed_amplitude");
    c->force = hb_force_config_default();
    c->force.kernel = strcmp(hb_params_string(p, "simulation.force_kernel"), "spectral") == 0
                          ? HB_KERNEL_SPECTRAL : HB_KERNEL_FASTPM;
    const char *mas = hb_params_string(p, "simulation.mass_assignment");
    c->force.order = strcmp(mas, "pcs") == 0 ? 4 : strcmp(mas, "tsc") == 0 ? 3 : 2;
    c->force.interlace = (int)hb_params_int(p, "simulation.interlacing");
    c->plane_wave = strcmp(hb_params_string(p, "simulation.ic"), "plane_wave") == 0;
    c->plane_wave_mode = (int)hb_params_int(p, "simulation.plane_wave_mode");
    c->plane_wave_a_cross = hb_params_double(p, "simulation.plane_wave_a_cross");
    snprintf(c->out_pattern, sizeof c->out_pattern, "%s", hb_params_string(p, "output.file"));
    c->write_particles = (int)hb_params_int(p, "output.particles");

    if (c->z_out[0] > c->z_init) {
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

void hb_sim_output_name(const hb_sim_config *cfg, double z, char *out, size_t cap)
{
    const char *tag = strstr(cfg->out_pattern, "{z}");
    if (!tag) {
        snprintf(out, cap, "%s", cfg->out_pattern);
        return;
    }
    snprintf(out, cap, "%.*s%.2f%s", (int)(tag - cfg->out_pattern), cfg->out_pattern, z, tag + 3);
}

hb_status hb_sim_init(hb_sim *s, const hb_sim_config *cfg, MPI_Comm comm)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    s->comm = comm;
    double t0 = hb_now();
    HB_TRY(hb_cosmo_init(&s->cosmo, &cfg->cosmo));
    const int Np = cfg->n_particles;
    const long ntot = (long)Np * Np * Np;
    const double a0 = 1.0 / (1.0 + cfg->z_init);
    hb_mesh mp;
    HB_TRY(hb_mesh_init(&mp, Np, cfg->box_size, comm, FFTW_ESTIMATE));
    hb_status rc = hb_particles_init(&s->part, comm, cfg->box_size, ntot,
                                     (size_t)(mp.nx_local + 1) * Np * Np);
    if (rc == HB_OK) {
        if (cfg->plane_wave) {
            rc = hb_ic_plane_wave(&s->part, &mp, &s->cosmo, cfg->plane_wave_mode, cfg->plane_wave_a_cross, a0);
        } else {
            float *dk = hb_mesh_alloc(&mp);
            if (hb_mpi_any(comm, !dk)) rc = HB_ERR0(HB_ENOMEM, "IC mesh");
            if (rc == HB_OK) {
                hb_ic_gaussian_k(&mp, hb_ic_plin_z0, &s->cosmo, (uint64_t)cfg->seed, cfg->fixed_amplitude, dk);
                rc = hb_ic_lpt(&s->part, &mp, &s->cosmo, dk, cfg->lpt_order, a0);
            }
            fftwf_free(dk);
        }
    }
    hb_mesh_free(&mp);
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
    return hb_paint_cic(m, buf, &s->part, pow((double)m->N, 3) / (double)s->part.n_total, NULL);
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

hb_status hb_sim_write(hb_sim *s, const char *path, const hb_params *par)
{
    double t0 = hb_now();
    hb_mesh mo;
    HB_TRY(hb_mesh_init(&mo, s->cfg.n_grid, s->cfg.box_size, s->comm, FFTW_ESTIMATE));
    float *rho = hb_mesh_alloc(&mo);
    hb_status rc = hb_mpi_any(s->comm, !rho) ? HB_ERR0(HB_ENOMEM, "output mesh") : HB_OK;
    if (rc == HB_OK) rc = hb_sim_density(s, &mo, rho);
    hb_h5 f;
    if (rc == HB_OK) rc = hb_h5_create(&f, path, s->comm);
    if (rc == HB_OK) {
        double z = 1.0 / s->a - 1.0;
        hb_boxinfo bi = hb_boxinfo_from_params(par, z < 0 ? 0 : z);
        rc = hb_h5_write_mesh_field(&f, HB_FIELD_DM, &mo, rho, "cic");
        if (rc == HB_OK) rc = hb_h5_write_boxinfo(&f, &bi);
        if (rc == HB_OK) rc = hb_h5_attr_write_double(&f, "/", "scale_factor", s->a);
        if (rc == HB_OK) rc = hb_h5_attr_write_long(&f, "/", "n_particles", s->cfg.n_particles);
        if (rc == HB_OK) rc = hb_h5_write_params(&f, par);
        if (rc == HB_OK && s->cfg.write_particles) rc = write_particles(s, &f);
        if (rc == HB_OK) rc = hb_h5_commit(&f);
        else hb_h5_abort(&f);
    }
    fftwf_free(rho);
    hb_mesh_free(&mo);
    s->t_io += hb_now() - t0;
    return rc;
}

/* Four FFTs of the force mesh (one r2c, three c2r): the floor of a step. */
static double time_four_ffts(hb_sim *s)
{
    const hb_mesh *m = &s->force_mesh;
    float *b = s->force.work;
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        MPI_Barrier(s->comm);
        double t0 = hb_now();
        hb_mesh_r2c(m, b);
        for (int d = 0; d < 3; d++) hb_mesh_c2r(m, b);
        double t = hb_now() - t0;
        MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, s->comm);
        if (t < best) best = t;
    }
    return best;
}

static void report_timers(hb_sim *s, int n_steps, double t_steps)
{
    hb_force *f = &s->force;
    double t[7] = {f->t_fft.total, f->t_paint.total, f->t_readout.total, s->part.t_migrate,
                   f->t_kernel.total, s->t_ic, s->t_io};
    double mx[7];
    memcpy(mx, t, sizeof t);
    hb_mpi_max(s->comm, mx, 7);
    double rss = (double)hb_peak_rss();
    hb_mpi_sum(s->comm, &rss, 1);
    const char *names[7] = {"FFT", "paint", "readout", "migration", "kernels", "initial conditions", "output"};
    hb_log0("time (max over ranks): steps %.2f s (%.3f s/step)", t_steps, n_steps ? t_steps / n_steps : 0);
    for (int i = 0; i < 7; i++) hb_log0("  %-20s %8.3f s", names[i], mx[i]);
    hb_log0("peak memory: %.1f MB in all, %.0f bytes per particle", rss / 1e6, rss / (double)s->part.n_total);
}

hb_status hb_simulate(const hb_params *par, MPI_Comm comm)
{
    int nranks;
    MPI_Comm_size(comm, &nranks);
    hb_sim_config cfg;
    HB_TRY(hb_sim_config_from_params(&cfg, par, nranks));
    hb_log0("simulate: %d^3 particles in %g Mpc/h, force mesh %d^3, output grid %d^3, z = %g -> %g, "
            "%d steps, %s ICs, %s kernel, %d ranks", cfg.n_particles, cfg.box_size,
            cfg.mesh_factor * cfg.n_particles, cfg.n_grid, cfg.z_init, cfg.z_out[cfg.n_out - 1],
            cfg.n_steps, cfg.plane_wave ? "plane-wave" : (cfg.lpt_order == 2 ? "2LPT" : "Zel'dovich"),
            cfg.force.kernel == HB_KERNEL_FASTPM ? "fastpm" : "spectral", nranks);
    hb_sim s;
    HB_TRY(hb_sim_init(&s, &cfg, comm));
    double a_out[HB_MAX_OUTPUTS];
    for (int i = 0; i < cfg.n_out; i++) a_out[i] = 1.0 / (1.0 + cfg.z_out[i]);   /* z_out decreases */
    double *a_steps = NULL;
    int n = 0;
    hb_status rc = hb_timesteps(s.a, a_out, cfg.n_out, cfg.n_steps, &a_steps, &n);
    int next_out = 0;
    hb_progress prog;
    hb_progress_init(&prog, "simulate", n, "steps");
    prog.min_interval = 0;
    double t_steps = 0;
    for (int i = 0; rc == HB_OK && i <= n; i++) {
        if (i > 0) {
            double t0 = hb_now();
            rc = hb_sim_step(&s, a_steps[i]);
            double dt = hb_now() - t0;
            t_steps += dt;
            char extra[128];
            snprintf(extra, sizeof extra, "a = %.4f  z = %.3f  %.3f s/step", s.a, 1 / s.a - 1, dt);
            hb_progress_step(&prog, i, extra);
        }
        /* write every output this scale factor reaches (outputs at z_init too) */
        while (rc == HB_OK && next_out < cfg.n_out && a_out[next_out] <= s.a * (1 + 1e-12)) {
            char path[2048];
            double z = 1 / a_out[next_out] - 1;
            hb_sim_output_name(&cfg, z < 0 ? 0 : z, path, sizeof path);
            rc = hb_sim_write(&s, path, par);
            if (rc == HB_OK) hb_log0("wrote %s (z = %.3f)", path, z < 0 ? 0 : z);
            next_out++;
        }
    }
    if (rc == HB_OK) {
        report_timers(&s, n, t_steps);
        double floor4 = time_four_ffts(&s);
        double rss = (double)hb_peak_rss();
        hb_mpi_sum(comm, &rss, 1);
        hb_log0("four %d^3 FFTs: %.3f s; a step is %.2f x that floor", s.force_mesh.N, floor4,
                n ? t_steps / n / floor4 : 0);
        hb_log0("bench: particles=%d mesh=%d ranks=%d steps=%d step_s=%.4f fft4_s=%.4f ratio=%.3f "
                "bytes_per_particle=%.0f", cfg.n_particles, s.force_mesh.N, nranks, n,
                n ? t_steps / n : 0, floor4, n ? t_steps / n / floor4 : 0, rss / (double)s.part.n_total);
    }
    free(a_steps);
    hb_sim_free(&s);
    return rc;
}
