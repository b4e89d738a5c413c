/* hydrobridge validate. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "hb/validate.h"

static const char *VAL_USAGE =
    "usage: hydrobridge validate --truth T.h5 [T2.h5 ...] --emulated E.h5 [E2.h5 ...] [--out report]\n"
    "                            [--fail-above X]\n"
    "Compare emulated boxes with the truth: per field (gas density, gas temperature, total matter) the\n"
    "P(k) of both, their ratio, the cross-correlation r(k), the PDF of the log field with its\n"
    "Wasserstein-1 distance, and the suppression P_gas/P_dm; averaged over pairs (emulated file j goes\n"
    "with truth j mod n_truth, so several sampler seeds can follow each other) with the scatter.\n"
    "Writes report.h5 (every curve) and report.txt (summary by k band) and prints the summary.\n"
    "--fail-above X: exit non-zero when, below half the Nyquist frequency, a mean |ratio - 1| or 1 - r\n"
    "exceeds X, or a PDF distance exceeds X dex.\n";

hb_status hb_cmd_validate(int argc, char **argv)
{
    char *truth[4096], *emu[4096];
    int nt = 0, ne = 0, mode = 0;
    const char *out = "report";
    double fail_above = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) { hb_cli_usage(VAL_USAGE); return HB_OK; }
        if (strcmp(argv[i], "--truth") == 0) { mode = 1; continue; }
        if (strcmp(argv[i], "--emulated") == 0) { mode = 2; continue; }
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) { out = argv[++i]; mode = 0; continue; }
        if (strcmp(argv[i], "--fail-above") == 0 && i + 1 < argc) {
            HB_TRY(hb_cli_double("--fail-above", argv[++i], &fail_above));
            mode = 0;
            continue;
        }
        if (argv[i][0] == '-' || mode == 0) return HB_ERR0(HB_EARG, "unexpected argument \"%s\"\n%s", argv[i], VAL_USAGE);
        if (mode == 1 && nt < 4096) truth[nt++] = argv[i];
        else if (mode == 2 && ne < 4096) emu[ne++] = argv[i];
    }
    hb_val_summary s;
    HB_TRY(hb_validate(truth, nt, emu, ne, out, &s, MPI_COMM_WORLD));
    const char *bands[HB_VAL_NBAND] = {"k < kN/4", "kN/4..kN/2", "kN/2..kN"};
    hb_log0("validate: %d pairs, k_Nyquist = %.2f h/Mpc; report in %s.h5 and %s.txt", s.n_pairs, s.k_nyq, out, out);
    hb_log0("%-16s %-11s %14s %9s %13s", "field", "band", "<|ratio-1|>", "<r(k)>", "PDF W1 [dex]");
    int fail = 0;
    for (int f = 0; f < HB_VAL_NFIELD; f++) {
        if (!s.present[f]) continue;
        for (int b = 0; b < HB_VAL_NBAND; b++) {
            hb_log0("%-16s %-11s %14.4f %9.4f %13.4f", HB_VAL_FIELD_NAMES[f], bands[b], s.ratio_dev[f][b], s.r[f][b],
                    s.pdf_w1[f]);
            if (fail_above >= 0 && b < 2 && (s.ratio_dev[f][b] > fail_above || 1 - s.r[f][b] > fail_above)) fail = 1;
        }
        if (fail_above >= 0 && s.pdf_w1[f] > fail_above) fail = 1;
    }
    if (fail) return HB_ERR0(HB_ENUM, "a validation metric exceeds --fail-above %g", fail_above);
    return HB_OK;
}
