/* hydrobridge: the command-line front end. One program, one subcommand per
 * stage; `hydrobridge CMD --help` describes each. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "hb/version.h"

static const hb_command COMMANDS[] = {
    {"params", hb_cmd_params, "print the parameter reference (every INI key)"},
    {"linear", hb_cmd_linear, "linear P(k) of a run's cosmology"},
    {"pk", hb_cmd_pk, "power spectrum (auto or cross) of fields in a box file"},
    {"simulate", hb_cmd_simulate, "particle-mesh simulation: DM density boxes from a parameter file"},
    {"suite", hb_cmd_suite, "training boxes over a CAMELS table or a Latin hypercube (PM + mock hydro)"},
    {"paint-mock", hb_cmd_paint_mock, "paint gas density and temperature onto a DM box (mock hydro model)"},
    {"calibrate-mock", hb_cmd_calibrate_mock, "fit the mock's constants to the CAMELS TNG suppression"},
    {"import-camels", hb_cmd_import_camels, "a CAMELS snapshot (Gadget/Arepo HDF5) as a box file"},
    {"import-cmd", hb_cmd_import_cmd, "CAMELS Multifield Dataset grids (.npy) as a box file"},
    {"holdout", hb_cmd_holdout, "choose held-out rows of a table inside the training range"},
    {"train", hb_cmd_train, "train the interpolant network on box files (DM -> gas)"},
    {"emulate", hb_cmd_emulate, "emulate the gas fields of a DM box with a trained model"},
    {"loglike", hb_cmd_loglike, "the model's log-likelihood of a gas box given its DM box and parameters"},
    {"infer", hb_cmd_infer, "posterior of feedback/cosmology parameters from a gas box (grid or MCMC)"},
    {"validate", hb_cmd_validate, "P(k), r(k), PDFs and suppression of emulated boxes against the truth"},
    {"bench-net", hb_cmd_bench_net, "time the network's training step and inference"},
    {"demo", hb_cmd_demo, "the end-to-end demonstration (scripts/demo.sh runs it)"},
};
enum { N_COMMANDS = sizeof COMMANDS / sizeof COMMANDS[0] };

static void usage(void)
{
    if (hb_world_rank() != 0) return;
    printf("hydrobridge %s: emulated hydrodynamical cosmology boxes\n\n"
           "usage: [mpirun -np R] hydrobridge COMMAND [options]\n\ncommands:\n", HB_VERSION);
    for (int i = 0; i < N_COMMANDS; i++) printf("  %-14s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    printf("\n`hydrobridge COMMAND --help` describes a command.\n");
}

/* Do all ranks reach this point within `seconds`? (A non-blocking barrier,
 * polled; its MPI return codes are irrelevant here: any failure means no.) */
static int all_arrive(double seconds)
{
    MPI_Request req;
    if (MPI_Ibarrier(MPI_COMM_WORLD, &req) != MPI_SUCCESS) return 0;
    const double t0 = MPI_Wtime();
    int done = 0;
    while (!done && MPI_Wtime() - t0 < seconds) {
        if (MPI_Test(&req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) return 0;
        if (!done) usleep(1000);
    }
    return done;
}

int main(int argc, char **argv)
{
    hb_fp_setup();   /* before any thread starts: they inherit it */
    int provided;
    /* the training set's loader thread reads files and never calls MPI */
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    hb_status rc = HB_OK;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage();
        rc = argc < 2 ? HB_EARG : HB_OK;
    } else if (strcmp(argv[1], "--version") == 0) {
        if (hb_world_rank() == 0) printf("hydrobridge %s\n", HB_VERSION);
    } else {
        const hb_command *cmd = NULL;
        for (int i = 0; i < N_COMMANDS; i++) {
            if (strcmp(argv[1], COMMANDS[i].name) == 0) cmd = &COMMANDS[i];
        }
        if (!cmd) {
            HB_ERR0(HB_EARG, "unknown command \"%s\"; `hydrobridge --help` lists them", argv[1]);
            rc = HB_EARG;
        } else {
            rc = cmd->fn(argc - 1, argv + 1);
        }
    }
    if (rc != HB_OK && rc != HB_ESTOP) {
        fflush(stdout);
        fflush(stderr);
        /* Most errors are agreed by every rank: they all get here, and the
         * job ends cleanly (the message printed by whichever rank found the
         * problem is not cut off by an abort). A rank that does not arrive
         * within 5 s is stuck elsewhere: abort the whole job. */
        if (hb_world_size() > 1 && !all_arrive(5.0)) MPI_Abort(MPI_COMM_WORLD, 1);
        MPI_Finalize();
        return 1;
    }
    MPI_Finalize();
    return rc == HB_ESTOP ? 3 : 0;   /* 3: stopped on a signal, checkpoint written */
}
