/* src/cli/cli.h: the hydrobridge subcommands and the typed configurations
 * built from parameters (private to the command-line front end, the only
 * code that reads the parameter dictionary and reaches pm/ and emulator/). Each takes the arguments after its name (argv[0] = command name) and
 * returns an hb_status; every rank of MPI_COMM_WORLD calls it. */
#ifndef HB_CLI_H
#define HB_CLI_H

#include <getopt.h>

#include "hb/box.h"
#include "hb/cosmo.h"
#include "hb/err.h"
#include "hb/mock.h"
#include "hb/params.h"
#include "hb/simulate.h"
#include "hb/theta.h"

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
hb_status hb_cmd_holdout(int argc, char **argv);
hb_status hb_cmd_emulate(int argc, char **argv);
hb_status hb_cmd_loglike(int argc, char **argv);
hb_status hb_cmd_infer(int argc, char **argv);

/* Typed configurations from the parameters (src/cli/config.c). */
hb_cosmo_config hb_cli_cosmo(const hb_params *p);
/* The simulation of p (z_out sorted decreasing, duplicates refused); prov
 * (borrowed, may be NULL) is what its boxes record. */
hb_status hb_cli_sim_config(const hb_params *p, const hb_provenance *prov, hb_sim_config *c);
/* The mock painter of p; its seed from mock.seed or the box's seed (hb_mock_seed). */
hb_mock_config hb_cli_mock(const hb_params *p, long box_seed);
/* theta given explicitly in p (file or command line); NaN elsewhere. */
void hb_cli_theta_overrides(const hb_params *p, double ov[HB_NTHETA]);
/* Every set parameter, for /parameters of the boxes written. */
void hb_cli_provenance(const hb_params *p, hb_provenance *prov);
/* The box description of p at redshift z. */
hb_boxinfo hb_cli_boxinfo(const hb_params *p, double z);

/* The validation summary and the goals on rank 0 (src/cli/cli.c); returns the goals not met. */
struct hb_val_summary;
void hb_cli_print_summary(const struct hb_val_summary *s);
int  hb_cli_print_goals(const struct hb_val_summary *s);

/* Before any work: every output path (file name at most 200 characters, in
 * an existing writable directory, not a directory) names no input (compared
 * by device and inode) and no other output. Rank 0 checks; collective over
 * MPI_COMM_WORLD. */
hb_status hb_cli_check_io(const char *const *outs, int nout, const char *const *ins, int nin);

/* Every "section.key=value" of over[0..n) is one the command uses: a key
 * matching an entry of `used` ("section." matches the section, else the
 * whole key) and none of `not_used` (NULL-terminated lists; not_used may be
 * NULL). An override the command would ignore is an error. */
hb_status hb_cli_check_overrides(const char *cmd, char *const *over, int n, const char *const *used,
                                 const char *const *not_used);

/* The training options train and demo share (steps, batch, width,
 * embedding, optimiser, EMA, interpolant, noise, loss weights), each checked
 * alone: the error names the option (steps_opt: "--steps" or
 * "--train-steps"), what it expects and the value found (src/cli/cmd_train.c). */
struct hb_train_config;
hb_status hb_cli_check_training(const struct hb_train_config *c, const char *steps_opt);

/* Print `usage` on rank 0. */
void hb_cli_usage(const char *usage);
/* Parse a double / long option value; a clear error naming the option. */
hb_status hb_cli_double(const char *opt, const char *text, double *out);
/* "A" (both values A) or "A,B". */
hb_status hb_cli_double_pair(const char *opt, const char *text, double out[2]);
/* HB_OK when ok, else "option OPT: expected EXPECTED, found FOUND" (a
 * parsed value outside its range). */
hb_status hb_cli_expect(int ok, const char *opt, const char *expected, double found);
/* --threads N: N (>= 1) OpenMP and BLAS threads per rank, or an error. */
hb_status hb_cli_threads(const char *text);
/* --dm-smooth/--dm-halo into ic (hb_smooth_set), or an error with the rule
 * and the values given. */
struct hb_interp;
hb_status hb_cli_smooth(struct hb_interp *ic, int n, const double *r, int nh, const double *halo);
/* ic's smoothed-DM channels as --dm-smooth and --dm-halo take them ("1,2" and
 * "3,1.5"; "0" for none), for help texts. */
void hb_cli_smooth_values(const struct hb_interp *ic, char *smooth, size_t cs, char *halo, size_t ch);
/* The noise slopes (n = 2: gas, temperature) or parameter coefficients
 * (n = 2 x 6, row-major) of option opt within [-2, 2], or an error naming
 * the first that is not, its target and parameter. */
hb_status hb_cli_noise(const char *opt, const double *c, int n);
/* --noise-theta NAME:C[,C2]: the noise's coefficients on the parameter NAME
 * (a theta name: omega_m ... a_agn2), C for gas, C2 for temperature (C2 = C
 * unless given), into c[k][j] (hb_interp.noise_theta); the option repeats. */
hb_status hb_cli_noise_theta(const char *opt, const char *text, double c[2][HB_NTHETA]);
/* --loss-weight K[,KV[,KP]] (hb_loss_weights' three slopes): KV = K and KP = 0 unless given. */
hb_status hb_cli_loss_weight(const char *opt, const char *text, double kappa[3]);
/* Up to cap comma-separated numbers ("1" or "1,2") into out[0..*n). */
hb_status hb_cli_double_list(const char *opt, const char *text, int cap, double *out, int *n);
hb_status hb_cli_long(const char *opt, const char *text, long *out);
/* An integer that fits an int (a larger one refused, not wrapped). */
hb_status hb_cli_int(const char *opt, const char *text, int *out);
/* Is this a "section.key=value" override? */
int hb_cli_is_override(const char *arg);

#endif
