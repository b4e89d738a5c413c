/* Helpers shared by the subcommands (src/cli.h). */
#include "cli.h"

#include "hb/interp.h"
#include "hb/mpiutil.h"
#include "hb/smooth.h"
#include "hb/validate.h"

#include <cblas.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <limits.h>

void hb_cli_usage(const char *usage)
{
    if (hb_world_rank() == 0) fputs(usage, stdout);
}

hb_status hb_cli_double(const char *opt, const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno || !isfinite(v)) {
        return HB_ERR0(HB_EARG, "option %s: expected a number, found \"%s\"", opt, text);
    }
    *out = v;
    return HB_OK;
}

hb_status hb_cli_double_pair(const char *opt, const char *text, double out[2])
{
    int n;
    HB_TRY(hb_cli_double_list(opt, text, 2, out, &n));
    if (n < 2) out[1] = out[0];
    return HB_OK;
}

hb_status hb_cli_expect(int ok, const char *opt, const char *expected, double found)
{
    return ok ? HB_OK : HB_ERR0(HB_EARG, "option %s: expected %s, found %g", opt, expected, found);
}

/* "a,b,c" of n values into buf. */
static const char *join_values(const double *v, int n, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < n && len < cap; i++) len += (size_t)snprintf(buf + len, cap - len, "%s%g", i ? "," : "", v[i]);
    return buf;
}

hb_status hb_cli_threads(const char *text)
{
    int n = 0;
    HB_TRY(hb_cli_int("--threads", text, &n));
    HB_TRY(hb_cli_expect(n >= 1, "--threads", "a positive integer", n));
    openblas_set_num_threads(n);
    omp_set_num_threads(n);
    return HB_OK;
}

hb_status hb_cli_smooth(hb_interp *ic, int n, const double *r, int nh, const double *halo)
{
    if (hb_smooth_set(ic, n, r, nh, halo)) return HB_OK;
    char a[160], b[64];
    return HB_ERR0(HB_EARG, "options --dm-smooth, --dm-halo: expected " HB_SMOOTH_OPTIONS_RULE ", found --dm-smooth %s "
                   "--dm-halo %s", n ? join_values(r, n, a, sizeof a) : "(none)",
                   nh ? join_values(halo, nh, b, sizeof b) : "(none)");
}

void hb_cli_smooth_values(const hb_interp *ic, char *smooth, size_t cs, char *halo, size_t ch)
{
    double r[HB_SMOOTH_MAX_CH], h[2];
    int n, nh;
    hb_smooth_split(ic, r, &n, h, &nh);
    snprintf(smooth, cs, "0");
    for (int j = 0, len = 0; j < n && len < (int)cs; j++) {
        len += snprintf(smooth + len, cs - (size_t)len, "%s%g", j ? "," : "", r[j]);
    }
    if (nh) snprintf(halo, ch, "%g,%g", h[0], h[1]);
    else snprintf(halo, ch, "0");
}

hb_status hb_cli_noise(const char *opt, const double *c, int n)
{
    const int i = hb_interp_noise_bad(c, n);
    if (i < 0) return HB_OK;
    char name[96];
    return HB_ERR0(HB_EARG, "option %s: expected values within [-2, 2], found %g for %s", opt, c[i],
                   hb_interp_noise_name(i, n, name, sizeof name));
}

hb_status hb_cli_noise_theta(const char *opt, const char *text, double c[2][HB_NTHETA])
{
    const char *colon = strchr(text, ':');
    const int j = colon ? hb_theta_find(text, (size_t)(colon - text)) : -1;
    if (j < 0) {
        return HB_ERR0(HB_EARG, "option %s: expected NAME:C[,C2] with NAME one of " HB_THETA_NAMES ", found \"%s\"",
                       opt, text);
    }
    double v[2];
    HB_TRY(hb_cli_double_pair(opt, colon + 1, v));
    c[0][j] = v[0];
    c[1][j] = v[1];
    return HB_OK;
}

hb_status hb_cli_double_list(const char *opt, const char *text, int cap, double *out, int *n)
{
    char buf[256];
    if (snprintf(buf, sizeof buf, "%s", text) >= (int)sizeof buf) {
        return HB_ERR0(HB_EARG, "option %s: \"%.40s...\" is too long", opt, text);
    }
    *n = 0;
    for (char *p = buf, *comma;; p = comma + 1) {
        comma = strchr(p, ',');
        if (comma) *comma = 0;
        if (*n == cap) {
            return HB_ERR0(HB_EARG, "option %s: expected at most %d comma-separated numbers, found \"%s\"", opt, cap,
                           text);
        }
        HB_TRY(hb_cli_double(opt, p, &out[(*n)++]));
        if (!comma) return HB_OK;
    }
}

hb_status hb_cli_loss_weight(const char *opt, const char *text, double kappa[3])
{
    int n;
    HB_TRY(hb_cli_double_list(opt, text, 3, kappa, &n));
    if (n < 2) kappa[1] = kappa[0];
    if (n < 3) kappa[2] = 0;
    return HB_OK;
}

hb_status hb_cli_long(const char *opt, const char *text, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (end == text || *end || errno) {
        return HB_ERR0(HB_EARG, "option %s: expected an integer, found \"%s\"", opt, text);
    }
    *out = v;
    return HB_OK;
}

hb_status hb_cli_int(const char *opt, const char *text, int *out)
{
    long v = 0;
    HB_TRY(hb_cli_long(opt, text, &v));
    if (v < INT_MIN || v > INT_MAX) {
        return HB_ERR0(HB_EARG, "option %s: expected an integer within [%d, %d], found \"%s\"", opt, INT_MIN, INT_MAX, text);
    }
    *out = (int)v;
    return HB_OK;
}

int hb_cli_is_override(const char *arg)
{
    const char *eq = strchr(arg, '='), *dot = strchr(arg, '.');
    return eq && dot && dot < eq && arg[0] != '-';
}

void hb_cli_print_summary(const hb_val_summary *s)
{
    hb_log0("%-16s %-11s %8s %8s %8s %7s %7s %7s   %s", "field", "band", "ens_err", "single", "floor", "r",
            "floor_r", "w1_dex", "null90: ens single (r: 10th)");
    for (int f = 0; f < HB_VAL_NFIELD; f++) {
        if (!s->present[f]) continue;
        for (int b = 0; b < HB_VAL_NBAND; b++) {
            const hb_val_band *x = &s->band[f][b];
            hb_log0("%-16s %-11s %8.4f %8.4f %8.4f %7.4f %7.4f %7.4f   %.4f %.4f (%.4f)", HB_VAL_FIELD_NAMES[f],
                    HB_VAL_BAND_NAMES[b], x->ens_err, x->single_err, x->floor_err, x->r, x->floor_r, s->w1[f],
                    x->ens_null90, x->single_null90, x->r_null10);
        }
    }
    if (s->has_tails) {
        hb_log0("gas mass fraction above 1e6 K: truth %.4f, emulated %.4f (error %.3f, null90 %.3f)", s->hot_truth,
                s->hot_emu, s->hot_err, s->hot_null90);
        hb_log0("99th / 99.9th percentiles: gas %.4g / %.4g (truth %.4g / %.4g), temperature %.4g / %.4g K (truth "
                "%.4g / %.4g)", s->pct_emu[0][0], s->pct_emu[0][1], s->pct_truth[0][0], s->pct_truth[0][1],
                s->pct_emu[1][0], s->pct_emu[1][1], s->pct_truth[1][0], s->pct_truth[1][1]);
    }
}

int hb_cli_print_goals(const hb_val_summary *s)
{
    hb_val_goal g[HB_VAL_MAXGOAL];
    int nm;
    const int n = hb_val_goals(s, g, HB_VAL_MAXGOAL), met = hb_val_goals_met(g, n, &nm), unmet = nm - met;
    for (int i = 0; i < n; i++) {
        hb_log0("goal %2d: %-58s %8.4f %s %7.4f (null %7.4f, met by %3.0f%% of it): %s", i + 1, g[i].what, g[i].figure,
                g[i].higher_is_better ? ">=" : "<=", g[i].threshold, g[i].null, 100 * s->null_goal_rate[i],
                hb_val_goal_verdict(&g[i]));
    }
    char without[96] = "";
    if (nm < n) snprintf(without, sizeof without, " (%d more need a floor: repaints of the truth)", n - nm);
    if (s->null_splits)
        hb_log0("%d of %d goals met%s; a perfect emulator (mock repaints for the samples) meets all %d in %d of %d "
                "null splits", met, nm, without, nm, s->null_all_met, s->null_splits);
    else
        hb_log0("%d of %d goals met%s", met, nm, without);
    double spread[HB_VAL_NSPREAD];
    const int nc = hb_val_spread_checks(s, g, spread, HB_VAL_NSPREAD);
    for (int i = 0; i < nc; i++)
        hb_log0("spread %d: %-70s %6.3f (|ln| %6.3f, null %6.3f): %s", i + 1, g[i].what, spread[i], g[i].figure,
                g[i].null, hb_val_spread_verdict(&g[i]));
    if (s->n_boxes > 1) {
        for (int b = 0; b < s->n_boxes; b++) {
            const hb_val_box *x = &s->box[b];
            char missed[HB_VAL_MISSED_LEN];
            hb_val_box_missed(x, missed, sizeof missed);
            hb_log0("  box %-20s alone: %2d of %2d goals met (a perfect emulator: %.1f expected, all in %.0f%%); "
                    "spread %d of %d; missed: %s", x->name, x->met, x->n_goals, x->null_expected,
                    100 * x->null_all_rate, x->spread_met, x->n_spread, missed);
        }
        hb_val_box sum;
        hb_val_box_totals(s, &sum);
        hb_log0("box by box: %d of %d goals met; a perfect emulator expects %.1f; spread checks %d of %d (a perfect "
                "emulator: %.1f)", sum.met, sum.n_goals, sum.null_expected, sum.spread_met, sum.n_spread,
                sum.spread_null_expected);
    }
    return unmet;
}

/* ---- output paths ------------------------------------------------------- */

#define HB_NAME_MAX 200   /* MPI-IO aborts on file names (with ".tmp") of about 240 characters */

/* The canonical form of a path that may not exist yet: realpath of its
 * directory, then its last component. */
static int canonical(const char *path, char *out, size_t cap)
{
    char dir[PATH_MAX], real[PATH_MAX];
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - path == 0 ? 1 : slash - path), path);
    else snprintf(dir, sizeof dir, ".");
    if (!realpath(dir, real)) return -1;
    return snprintf(out, cap, "%s/%s", real, base) >= (int)cap ? -1 : 0;
}

static hb_status check_one_output(const char *out, const char *const *ins, int nin)
{
    const char *slash = strrchr(out, '/'), *base = slash ? slash + 1 : out;
    if (!out[0] || !base[0]) return HB_ERR(HB_EARG, "output \"%s\": expected a file name", out);
    if (strlen(base) > HB_NAME_MAX) {
        return HB_ERR(HB_EARG, "output %s: the file name has %zu characters; at most %d (MPI-IO fails on longer ones)",
                      out, strlen(base), HB_NAME_MAX);
    }
    if (strlen(out) > PATH_MAX - 16) return HB_ERR(HB_EARG, "output path of %zu characters is too long", strlen(out));
    char dir[PATH_MAX];
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - out == 0 ? 1 : slash - out), out);
    else snprintf(dir, sizeof dir, ".");
    struct stat sd, so;
    if (stat(dir, &sd) != 0 || !S_ISDIR(sd.st_mode)) return HB_ERR(HB_EIO, "output %s: directory %s does not exist", out, dir);
    if (access(dir, W_OK | X_OK) != 0) return HB_ERR(HB_EIO, "output %s: directory %s is not writable", out, dir);
    if (stat(out, &so) == 0) {
        if (S_ISDIR(so.st_mode)) return HB_ERR(HB_EIO, "output %s is a directory", out);
        for (int i = 0; i < nin; i++) {
            struct stat si;
            if (ins[i] && stat(ins[i], &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino) {
                return HB_ERR(HB_EARG, "output %s is the input %s: writing it would destroy the input", out, ins[i]);
            }
        }
    }
    return HB_OK;
}

hb_status hb_cli_check_io(const char *const *outs, int nout, const char *const *ins, int nin)
{
    hb_status rc = HB_OK;
    if (hb_world_rank() == 0) {
        char (*canon)[PATH_MAX] = malloc((size_t)(nout > 0 ? nout : 1) * sizeof *canon);
        if (!canon) rc = HB_ERR(HB_ENOMEM, "output paths");
        for (int i = 0; i < nout && rc == HB_OK; i++) {
            rc = check_one_output(outs[i], ins, nin);
            if (rc == HB_OK && canonical(outs[i], canon[i], sizeof canon[i]) != 0) {
                rc = HB_ERR(HB_EIO, "output %s: cannot resolve its directory", outs[i]);
            }
            for (int j = 0; j < i && rc == HB_OK; j++) {
                if (strcmp(canon[i], canon[j]) == 0) {
                    rc = HB_ERR(HB_EARG, "outputs %s and %s are the same file: the second would overwrite the first",
                                outs[j], outs[i]);
                }
            }
        }
        free(canon);
    }
    return hb_mpi_agree(MPI_COMM_WORLD, rc);
}

/* ---- overrides a command uses ------------------------------------------- */

/* Does key match pattern: "section." (a prefix) or a full key? */
static int key_matches(const char *key, size_t len, const char *pat)
{
    size_t pl = strlen(pat);
    return pat[pl - 1] == '.' ? strncmp(key, pat, pl) == 0 : len == pl && strncmp(key, pat, pl) == 0;
}

/* "a, b*, c" of a NULL-terminated key list ("section." shown as section.*). */
static void join_keys(const char *const *keys, char *out, size_t cap)
{
    out[0] = '\0';
    for (int u = 0; keys && keys[u]; u++) {
        size_t l = strlen(out);
        snprintf(out + l, cap - l, "%s%s%s", u ? ", " : "", keys[u], keys[u][strlen(keys[u]) - 1] == '.' ? "*" : "");
    }
}

hb_status hb_cli_check_overrides(const char *cmd, char *const *over, int n, const char *const *used,
                                 const char *const *not_used)
{
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(over[i], '=');
        size_t len = eq ? (size_t)(eq - over[i]) : strlen(over[i]);
        for (int j = 0; j < i; j++) {
            if (strncmp(over[j], over[i], len + 1) == 0) {
                return HB_ERR0(HB_EARG, "%s: %.*s is given twice (%s and %s)", cmd, (int)len, over[i], over[j], over[i]);
            }
        }
        int ok = 0;
        for (int u = 0; used[u] && !ok; u++) ok = key_matches(over[i], len, used[u]);
        for (int u = 0; not_used && not_used[u] && ok; u++) ok = !key_matches(over[i], len, not_used[u]);
        if (!ok) {
            char list[512], deny[256];
            join_keys(used, list, sizeof list);
            join_keys(not_used, deny, sizeof deny);
            return HB_ERR0(HB_EARG, "%s does not use %.*s (it would be ignored); it takes %s%s%s", cmd, (int)len,
                           over[i], list, deny[0] ? ", except " : "", deny);
        }
    }
    return HB_OK;
}
