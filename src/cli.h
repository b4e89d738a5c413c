/* src/cli.h: the hydrobridge subcommands (private to the command-line front
 * end). Each takes the arguments after its name (argv[0] = command name) and
 * returns an hb_status; every rank of MPI_COMM_WORLD calls it. */
#ifndef HB_CLI_H
#define HB_CLI_H

#include <getopt.h>

#include "hb/err.h"

typedef hb_status (*hb_cmd_fn)(int argc, char **argv);

typedef struct hb_command {
    const char *name;
    hb_cmd_fn   fn;
    const char *summary;
} hb_command;

hb_status hb_cmd_params(int argc, char **argv);
hb_status hb_cmd_linear(int argc, char **argv);
hb_status hb_cmd_pk(int argc, char **argv);
hb_status hb_cmd_demo(int argc, char **argv);
hb_status hb_cmd_simulate(int argc, char **argv);
hb_status hb_cmd_bench_net(int argc, char **argv);
hb_status hb_cmd_train(int argc, char **argv);
hb_status hb_cmd_suite(int argc, char **argv);
hb_status hb_cmd_paint_mock(int argc, char **argv);
hb_status hb_cmd_calibrate_mock(int argc, char **argv);
hb_status hb_cmd_import_camels(int argc, char **argv);
hb_status hb_cmd_import_cmd(int argc, char **argv);
hb_status hb_cmd_validate(int argc, char **argv);
hb_status hb_cmd_emulate(int argc, char **argv);

/* Print `usage` on rank 0. */
void hb_cli_usage(const char *usage);
/* Parse a double / long option value; a clear error naming the option. */
hb_status hb_cli_double(const char *opt, const char *text, double *out);
hb_status hb_cli_long(const char *opt, const char *text, long *out);
/* Is this a "section.key=value" override? */
int hb_cli_is_override(const char *arg);

#endif
