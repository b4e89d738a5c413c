/* hydrobridge simulate: the PM solver from a parameter file. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hb/mpiutil.h"
#include "hb/params.h"
#include "hb/simulate.h"

static const char *SIM_USAGE =
    "usage: hydrobridge simulate RUN.ini [section.key=value ...]\n"
    "Particle-mesh simulation: 2LPT initial conditions from the EH98 linear P(k),\n"
    "FastPM kick-drift-kick steps, CIC dark-matter density rho/mean on n_grid^3 written\n"
    "at every output redshift (simulation.z_out) to output.file. `hydrobridge params`\n"
    "lists every key; [cosmology] omega_m and sigma_8 are required.\n";

/* The boxes of every output redshift: distinct names (z_out = 0.001 and 0
 * both give dm_z0.00.h5), none the parameter file. */
static hb_status check_outputs(const hb_sim_config *cfg, const char *ini)
{
    if (cfg->n_out > 1 && !strstr(cfg->out_pattern, "{z}")) return HB_OK;   /* hb_simulate says what is missing */
    char (*names)[1100] = malloc((size_t)cfg->n_out * sizeof *names);
    const char **outs = malloc((size_t)cfg->n_out * sizeof *outs);
    if (hb_mpi_any(MPI_COMM_WORLD, !names || !outs)) { free(names); free(outs); return HB_ERR0(HB_ENOMEM, "names"); }
    for (int i = 0; i < cfg->n_out; i++) {
        hb_sim_output_name(cfg, cfg->z_out[i], names[i], sizeof names[i]);
        outs[i] = names[i];
    }
    const char *ins[] = {ini};
    hb_status rc = hb_cli_check_io(outs, cfg->n_out, ins, 1);
    free(names);
    free(outs);
    return rc;
}

hb_status hb_cmd_simulate(int argc, char **argv)
{
    const char *ini = NULL;
    char *over[64];
    int nover = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            hb_cli_usage(SIM_USAGE);
            return HB_OK;
        }
        if (hb_cli_is_override(argv[i]) && nover < 64) over[nover++] = argv[i];
        else if (!ini && argv[i][0] != '-') ini = argv[i];
        else return HB_ERR0(HB_EARG, "unexpected argument \"%s\"\n%s", argv[i], SIM_USAGE);
    }
    if (!ini) return HB_ERR0(HB_EARG, "no parameter file given\n%s", SIM_USAGE);
    static const char *used[] = {"cosmology.", "feedback.", "simulation.", "output.", NULL};
    HB_TRY(hb_cli_check_overrides("simulate", over, nover, used, NULL));
    static const char *required[] = {"cosmology.omega_m", "cosmology.sigma_8", NULL};
    hb_params par;
    HB_TRY(hb_params_load(&par, ini, nover, over, required, MPI_COMM_WORLD));
    hb_provenance *prov = malloc(sizeof *prov);
    hb_sim_config *cfg = malloc(sizeof *cfg);
    hb_status rc = hb_mpi_any(MPI_COMM_WORLD, !prov || !cfg) ? HB_ERR0(HB_ENOMEM, "configuration") : HB_OK;
    if (rc == HB_OK) {
        hb_cli_provenance(&par, prov);
        rc = hb_cli_sim_config(&par, prov, cfg);
    }
    if (rc == HB_OK) rc = check_outputs(cfg, ini);
    if (rc == HB_OK) rc = hb_simulate(cfg, MPI_COMM_WORLD);
    free(prov);
    free(cfg);
    return rc;
}
