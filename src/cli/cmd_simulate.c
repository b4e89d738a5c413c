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
    if (rc == HB_OK) rc = hb_simulate(cfg, MPI_COMM_WORLD);
    free(prov);
    free(cfg);
    return rc;
}
