/* Typed configurations from the parameter dictionary: the only place that
 * turns INI keys into the structs the stages take (src/cli/cli.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

hb_cosmo_config hb_cli_cosmo(const hb_params *p)
{
    hb_cosmo_config c;
    memset(&c, 0, sizeof c);
    c.omega_m = hb_params_double(p, "cosmology.omega_m");
    c.omega_b = hb_params_double(p, "cosmology.omega_b");
    c.h = hb_params_double(p, "cosmology.h");
    c.n_s = hb_params_double(p, "cosmology.n_s");
    c.sigma_8 = hb_params_double(p, "cosmology.sigma_8");
    c.t_cmb = hb_params_double(p, "cosmology.t_cmb");
    const char *tf = hb_params_string(p, "cosmology.transfer");
    c.nowiggle = strcmp(tf, "eh98_nowiggle") == 0;
    if (strcmp(tf, "table") == 0) {
        const char *path = hb_params_string(p, "cosmology.pk_table");
        snprintf(c.pk_table, sizeof c.pk_table, "%s", path[0] ? path : "(cosmology.pk_table is not set)");
        c.pk_renormalise = (int)hb_params_int(p, "cosmology.pk_renormalise");
    }
    return c;
}

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

static hb_force_config force_config(const hb_params *p)
{
    hb_force_config f = hb_force_config_default();
    f.kernel = strcmp(hb_params_string(p, "simulation.force_kernel"), "spectral") == 0 ? HB_KERNEL_SPECTRAL
                                                                                       : HB_KERNEL_FASTPM;
    const char *mas = hb_params_string(p, "simulation.mass_assignment");
    f.order = strcmp(mas, "pcs") == 0 ? 4 : strcmp(mas, "tsc") == 0 ? 3 : 2;
    f.interlace = (int)hb_params_int(p, "simulation.interlacing");
    return f;
}

hb_status hb_cli_sim_config(const hb_params *p, const hb_provenance *prov, hb_sim_config *c)
{
    memset(c, 0, sizeof *c);
    c->cosmo = hb_cli_cosmo(p);
    for (int k = 0; k < 4; k++) c->feedback[k] = hb_params_double(p, HB_THETA[HB_A_SN1 + k].key);
    c->box_size = hb_params_double(p, "simulation.box_size");
    c->n_particles = (int)hb_params_int(p, "simulation.n_particles");
    c->mesh_factor = (int)hb_params_int(p, "simulation.mesh_factor");
    c->n_grid = (int)hb_params_int(p, "simulation.n_grid");
    if (c->n_grid == 0) c->n_grid = c->n_particles;
    c->z_init = hb_params_double(p, "simulation.z_init");
    c->n_out = hb_params_dlist(p, "simulation.z_out", c->z_out, HB_MAX_OUTPUTS);
    qsort(c->z_out, (size_t)c->n_out, sizeof c->z_out[0], cmp_desc);
    for (int i = 1; i < c->n_out; i++) {
        if (c->z_out[i] == c->z_out[i - 1]) {
            return HB_ERR0(HB_EARG, "simulation.z_out lists %g twice", c->z_out[i]);
        }
    }
    c->n_steps = (int)hb_params_int(p, "simulation.n_steps");
    c->seed = hb_params_int(p, "simulation.seed");
    c->lpt_order = (int)hb_params_int(p, "simulation.lpt_order");
    c->fixed_amplitude = (int)hb_params_int(p, "simulation.fixed_amplitude");
    c->force = force_config(p);
    const char *ic = hb_params_string(p, "simulation.ic");
    c->plane_wave = strcmp(ic, "plane_wave") == 0;
    c->inverted_phases = (int)hb_params_int(p, "simulation.inverted_phases");
    if (strcmp(ic, "file") == 0) {
        const char *f = hb_params_string(p, "simulation.ic_file");
        if (!f[0]) return HB_ERR0(HB_EARG, "simulation.ic = file needs simulation.ic_file");
        snprintf(c->ic_file, sizeof c->ic_file, "%s", f);
        const char *u = hb_params_string(p, "simulation.ic_length_unit");
        c->ic_length_unit = strcmp(u, "kpc") == 0 ? 1000 : strcmp(u, "mpc") == 0 ? 1 : 0;
    }
    c->plane_wave_mode = (int)hb_params_int(p, "simulation.plane_wave_mode");
    c->plane_wave_a_cross = hb_params_double(p, "simulation.plane_wave_a_cross");
    snprintf(c->out_pattern, sizeof c->out_pattern, "%s", hb_params_string(p, "output.file"));
    c->write_particles = (int)hb_params_int(p, "output.particles");
    c->out_order = strcmp(hb_params_string(p, "output.mass_assignment"), "tsc") == 0 ? 3 : 2;
    c->prov = prov;
    return HB_OK;
}

hb_mock_config hb_cli_mock(const hb_params *p, long box_seed)
{
    hb_mock_config c = hb_mock_config_default();
    c.f0 = hb_params_double(p, "mock.f0");
    c.r0 = hb_params_double(p, "mock.r0");
    c.delta_c = hb_params_double(p, "mock.delta_c");
    c.w = hb_params_double(p, "mock.width");
    c.k_jeans = hb_params_double(p, "mock.k_jeans");
    c.r_h = hb_params_double(p, "mock.r_halo");
    c.r_xi = hb_params_double(p, "mock.r_noise");
    c.sg0 = hb_params_double(p, "mock.sigma_gas0");
    c.sg1 = hb_params_double(p, "mock.sigma_gas1");
    c.t0 = hb_params_double(p, "mock.t0");
    c.gamma = hb_params_double(p, "mock.gamma");
    c.floor = hb_params_double(p, "mock.gas_floor");
    c.seed = hb_mock_seed(hb_params_int(p, "mock.seed"), box_seed);
    return c;
}

void hb_cli_theta_overrides(const hb_params *p, double ov[HB_NTHETA])
{
    for (int k = 0; k < HB_NTHETA; k++) ov[k] = hb_params_given(p, HB_THETA[k].key) ? hb_params_double(p, HB_THETA[k].key) : NAN;
}

void hb_cli_provenance(const hb_params *p, hb_provenance *prov)
{
    memset(prov, 0, sizeof *prov);
    for (int i = 0; i < hb_params_count(); i++) {
        const char *v = hb_params_value(p, i);
        if (v[0]) hb_prov_set(prov, hb_params_key(i), "%s", v);
    }
    snprintf(prov->source, sizeof prov->source, "%s", p->source);
}

hb_boxinfo hb_cli_boxinfo(const hb_params *p, double z)
{
    hb_boxinfo b;
    b.box_size = hb_params_double(p, "simulation.box_size");
    b.redshift = z;
    b.omega_b = hb_params_double(p, "cosmology.omega_b");
    b.h = hb_params_double(p, "cosmology.h");
    b.n_s = hb_params_double(p, "cosmology.n_s");
    for (int k = 0; k < HB_NTHETA; k++) b.theta[k] = hb_params_double(p, HB_THETA[k].key);
    b.seed = hb_params_int(p, "simulation.seed");
    return b;
}
