/* hydrobridge validate. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hb/mpiutil.h"
#include "hb/validate.h"

static const char *VAL_USAGE =
    "usage: hydrobridge validate --truth T.h5 [--repaints R1.h5 ...] --emulated E1.h5 [E2.h5 ...]\n"
    "                            [--truth T2.h5 ...] [--out report] [--fail-above X] [--fail-goals]\n"
    "                            [--fail-spread]\n"
    "Compare emulated boxes with the truth, against the floor of the truth's own scatter. Each --truth\n"
    "starts a held-out box; the --repaints (other realisations of that truth, e.g. the mock painted with\n"
    "other mock.seed) and --emulated (samples, e.g. other sampler seeds) after it belong to it. Per field\n"
    "(gas density, gas temperature, total matter) and k band: the ensemble-mean P(k) error, the mean\n"
    "single-sample error, the same between truth realisations (the floor), r(k) of both, the PDF\n"
    "distance, the tails (gas above 1e6 K, 99th and 99.9th percentiles), the null (repaints standing in\n"
    "for samples, 90th percentile over random splits), the fidelity goals and how often the null itself\n"
    "meets each of them and all of them (a perfect emulator's chances at these sample counts).\n"
    "Writes report.txt (a line per field and band) and report.h5 (every curve).\n"
    "--fail-above X: exit non-zero when, below half the Nyquist frequency, an ensemble or single-sample\n"
    "error or 1 - r exceeds X, or a PDF distance exceeds X dex (a NaN fails). --fail-goals: exit\n"
    "non-zero when a fidelity goal is not met (without --repaints the four goals whose threshold is the\n"
    "floor's are not measured: reported n/a, counted neither way). --fail-spread: exit non-zero when a\n"
    "spread check (the samples' scatter of ln P(k) against the truths', not a goal) is not met (not\n"
    "measured without 2 samples and a repaint).\n";

typedef struct vgroups {
    hb_val_group g[256];
    char        *list[3][256][64];   /* truth, repaints, samples per group */
    int          n;
} vgroups;

/* Parse the groups; mode 1 truth, 2 repaints, 3 emulated. */
static hb_status parse_groups(int argc, char **argv, vgroups *G, const char **out, double *fail_above, int *fail_goals,
                              int *fail_spread)
{
    int mode = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--truth") == 0) { mode = 1; continue; }
        if (strcmp(a, "--repaints") == 0 || strcmp(a, "--emulated") == 0) {
            if (G->n == 0) return HB_ERR0(HB_EARG, "%s before any --truth\n%s", a, VAL_USAGE);
            mode = a[2] == 'r' ? 2 : 3;
            continue;
        }
        if (strcmp(a, "--out") == 0 && i + 1 < argc) { *out = argv[++i]; mode = 0; continue; }
        if (strcmp(a, "--fail-goals") == 0) { *fail_goals = 1; mode = 0; continue; }
        if (strcmp(a, "--fail-spread") == 0) { *fail_spread = 1; mode = 0; continue; }
        if (strcmp(a, "--fail-above") == 0 && i + 1 < argc) {
            HB_TRY(hb_cli_double("--fail-above", argv[++i], fail_above));
            if (*fail_above < 0) return HB_ERR0(HB_EARG, "--fail-above %g: expected a threshold >= 0", *fail_above);
            mode = 0;
            continue;
        }
        if (a[0] == '-' || mode == 0) return HB_ERR0(HB_EARG, "unexpected argument \"%s\"\n%s", a, VAL_USAGE);
        if (mode == 1) {
            if (G->n == 256) return HB_ERR0(HB_EARG, "at most 256 held-out boxes");
            hb_val_group *g = &G->g[G->n++];
            g->truth = a;
            g->repaints = G->list[1][G->n - 1];
            g->samples = G->list[2][G->n - 1];
            mode = 0;   /* one truth per --truth */
        } else {
            hb_val_group *g = &G->g[G->n - 1];
            int *cnt = mode == 2 ? &g->n_repaints : &g->n_samples;
            if (*cnt == 64) return HB_ERR0(HB_EARG, "at most 64 files per list");
            G->list[mode - 1][G->n - 1][(*cnt)++] = (char *)a;
        }
    }
    return HB_OK;
}

/* report.txt and report.h5: none of the boxes compared. */
static hb_status check_outputs(const vgroups *G, const char *out)
{
    const char **ins = malloc(256 * 129 * sizeof *ins);
    if (hb_mpi_any(MPI_COMM_WORLD, !ins)) { free(ins); return HB_ERR0(HB_ENOMEM, "file list"); }
    int n = 0;
    for (int g = 0; g < G->n; g++) {
        ins[n++] = G->g[g].truth;
        for (int i = 0; i < G->g[g].n_repaints; i++) ins[n++] = G->g[g].repaints[i];
        for (int i = 0; i < G->g[g].n_samples; i++) ins[n++] = G->g[g].samples[i];
    }
    char txt[2100], h5[2100];
    snprintf(txt, sizeof txt, "%s.txt", out);
    snprintf(h5, sizeof h5, "%s.h5", out);
    const char *outs[] = {txt, h5};
    hb_status rc = hb_cli_check_io(outs, 2, ins, n);
    free(ins);
    return rc;
}

/* --fail-above: every gated statistic, a NaN failing. */
static int above(const hb_val_summary *s, double x)
{
    for (int f = 0; f < HB_VAL_NFIELD; f++) {
        if (!s->present[f]) continue;
        for (int b = 0; b < 2; b++) {
            const hb_val_band *v = &s->band[f][b];
            double vals[3] = {v->ens_err, v->single_err, 1 - v->r};
            for (int i = 0; i < 3; i++)
                if (!(vals[i] <= x)) return 1;
        }
        if (!(s->w1[f] <= x)) return 1;
    }
    return 0;
}

hb_status hb_cmd_validate(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) { hb_cli_usage(VAL_USAGE); return HB_OK; }
    }
    vgroups *G = calloc(1, sizeof *G);
    if (!G) return HB_ERR(HB_ENOMEM, "argument lists");
    const char *out = "report";
    double fail_above = -1;
    int fail_goals = 0, fail_spread = 0;
    hb_status rc = parse_groups(argc, argv, G, &out, &fail_above, &fail_goals, &fail_spread);
    hb_val_summary s;
    if (rc == HB_OK) rc = check_outputs(G, out);
    if (rc == HB_OK) rc = hb_validate(G->g, G->n, out, &s, MPI_COMM_WORLD);
    free(G);
    HB_TRY(rc);
    hb_log0("validate: %d boxes, %d samples, %d repaints, k_Nyquist = %.2f h/Mpc; report in %s.h5 and %s.txt",
            s.n_groups, s.n_samples, s.n_repaints, s.k_nyq, out, out);
    hb_cli_print_summary(&s);
    int unmet = hb_cli_print_goals(&s);
    if (fail_above >= 0 && above(&s, fail_above)) {
        return HB_ERR0(HB_ENUM, "a validation statistic exceeds --fail-above %g (or is NaN)", fail_above);
    }
    if (fail_goals && unmet) return HB_ERR0(HB_ENUM, "%d fidelity goals not met", unmet);
    hb_val_goal sc[HB_VAL_NSPREAD];
    int measured;
    const int nc = hb_val_spread_checks(&s, sc, NULL, HB_VAL_NSPREAD), met = hb_val_goals_met(sc, nc, &measured);
    if (fail_spread && met < measured) return HB_ERR0(HB_ENUM, "%d spread checks not met", measured - met);
    return HB_OK;
}
