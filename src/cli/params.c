/* Parameters: the schema, INI parsing through iniparser, overrides,
 * validation and broadcast (hb/params.h). */
#include "hb/params.h"

#include <ctype.h>
#include <errno.h>
#include <iniparser.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hb/box.h"
#include "hb/mock.h"
#include "hb/mpiutil.h"

#define STR_(x) #x
#define STR(x) STR_(x)   /* a macro's value as a string: defaults shared with C code */

typedef enum { PT_DOUBLE, PT_INT, PT_STRING, PT_DLIST, PT_CHOICE } ptype;

typedef struct spec {
    const char *key;       /* "section.key" */
    ptype       type;
    const char *def;       /* default text; NULL = no default (required where used) */
    double      min, max;  /* inclusive range for numbers (each list entry) */
    const char *choices;   /* "a|b|c" for PT_CHOICE */
    const char *help;
} spec;

/* The only place defaults live. CAMELS-like: 25 Mpc/h box, Planck-like
 * Omega_b, h and n_s of the CAMELS LH suites (SCIENCE.md 2.1). */
static const spec SCHEMA[] = {
    {"cosmology.omega_m", PT_DOUBLE, NULL, HB_OMEGA_M_MIN, HB_OMEGA_M_MAX, NULL, "matter density today (CDM + baryons)"},
    {"cosmology.omega_b", PT_DOUBLE, "0.049", 0.0, 0.3, NULL, "baryon density today"},
    {"cosmology.h", PT_DOUBLE, "0.6711", 0.3, 1.2, NULL, "H0 / (100 km/s/Mpc)"},
    {"cosmology.n_s", PT_DOUBLE, "0.9624", 0.5, 1.5, NULL, "primordial spectral index"},
    {"cosmology.sigma_8", PT_DOUBLE, NULL, HB_SIGMA_8_MIN, HB_SIGMA_8_MAX, NULL, "rms linear overdensity in 8 Mpc/h spheres at z=0"},
    {"cosmology.t_cmb", PT_DOUBLE, "2.7255", 1.0, 4.0, NULL, "CMB temperature [K] (transfer function)"},
    {"cosmology.transfer", PT_CHOICE, "eh98", 0, 0, "eh98|eh98_nowiggle|table",
     "linear power: Eisenstein & Hu 1998 with or without BAO wiggles, or a table (cosmology.pk_table)"},
    {"cosmology.pk_table", PT_STRING, "", 0, 0, NULL,
     "transfer = table: P(k, z = 0) file, columns k [h/Mpc] and P [(Mpc/h)^3], '#' comments (CAMB "
     "matterpower.dat, CLASS _pk.dat); log-log cubic spline; must cover every k of the initial conditions"},
    {"cosmology.pk_renormalise", PT_INT, "1", 0, 1, NULL,
     "transfer = table: 1 scales the table to sigma_8; 0 uses it as it is (its sigma_8 must match within 1%)"},
    {"feedback.a_sn1", PT_DOUBLE, "1.0", HB_A_MIN, HB_A_MAX, NULL, "CAMELS A_SN1 (SN wind energy)"},
    {"feedback.a_agn1", PT_DOUBLE, "1.0", HB_A_MIN, HB_A_MAX, NULL, "CAMELS A_AGN1 (AGN kinetic-mode energy)"},
    {"feedback.a_sn2", PT_DOUBLE, "1.0", HB_A_MIN, HB_A_MAX, NULL, "CAMELS A_SN2 (SN wind speed)"},
    {"feedback.a_agn2", PT_DOUBLE, "1.0", HB_A_MIN, HB_A_MAX, NULL, "CAMELS A_AGN2 (AGN burstiness)"},
    {"simulation.box_size", PT_DOUBLE, "25.0", 1e-3, 1e5, NULL, "comoving box side [Mpc/h]"},
    {"simulation.n_particles", PT_INT, "64", 2, 4096, NULL, "particles per side"},
    {"simulation.mesh_factor", PT_INT, "2", 1, 4, NULL, "force-mesh cells per particle per side"},
    {"simulation.n_grid", PT_INT, "0", 0, 8192, NULL, "output grid per side (0: n_particles)"},
    {"simulation.z_init", PT_DOUBLE, "9.0", 0.0, 1000.0, NULL, "starting redshift"},
    {"simulation.z_out", PT_DLIST, "0.0", 0.0, 1000.0, NULL, "output redshifts, comma separated"},
    {"simulation.n_steps", PT_INT, "10", 1, 100000, NULL, "KDK steps from z_init to the last output"},
    {"simulation.seed", PT_INT, "1", 0, 2147483647, NULL, "random seed of the initial conditions"},
    {"simulation.lpt_order", PT_INT, "2", 1, 2, NULL, "1: Zel'dovich, 2: 2LPT initial conditions"},
    {"simulation.fixed_amplitude", PT_INT, "0", 0, 1, NULL, "1: |delta_k|^2 = P(k) exactly (random phases only)"},
    {"simulation.force_kernel", PT_CHOICE, "fastpm", 0, 0, "fastpm|spectral",
     "fastpm: discrete-Laplacian Green's function + 4-point gradient; "
     "spectral: -1/k^2, ik and deconvolution of the mass-assignment window"},
    {"simulation.mass_assignment", PT_CHOICE, "tsc", 0, 0, "cic|tsc|pcs",
     "force-mesh mass assignment and readout (orders 2, 3, 4); TSC keeps linear growth "
     "within 1% where CIC's lattice discreteness adds ~1-2% (README, PM accuracy)"},
    {"simulation.interlacing", PT_INT, "0", 0, 1, NULL,
     "1: average forces from two grids offset by half a cell (twice the FFTs, less aliasing)"},
    {"simulation.ic", PT_CHOICE, "gaussian", 0, 0, "gaussian|plane_wave|file",
     "gaussian: random field from P_lin; plane_wave: Zel'dovich pancake along x; file: Gadget initial "
     "conditions (simulation.ic_file; the start redshift is the file's, z_init is not used)"},
    {"simulation.ic_file", PT_STRING, "", 0, 0, NULL,
     "ic = file: Gadget IC file or set (binary SnapFormat 1 as N-GenIC/2LPTic write it, or HDF5): a file, "
     "BASE.0 of a set, or BASE"},
    {"simulation.ic_length_unit", PT_CHOICE, "auto", 0, 0, "auto|mpc|kpc",
     "ic = file: unit of the file's lengths; auto compares its BoxSize with simulation.box_size"},
    {"simulation.inverted_phases", PT_INT, "0", 0, 1, NULL,
     "1: delta_k -> -delta_k, the partner of a paired run (with fixed_amplitude = 1: paired-fixed)"},
    {"simulation.plane_wave_a_cross", PT_DOUBLE, "1.0", 1e-4, 100.0, NULL,
     "plane_wave: scale factor of shell crossing"},
    {"simulation.plane_wave_mode", PT_INT, "1", 1, 64, NULL, "plane_wave: wavelength = box_size / mode"},
    {"mock.seed", PT_INT, "0", 0, 2147483647, NULL, "seed of the mock painter's noise (0: simulation.seed + 7919)"},
    {"mock.f0", PT_DOUBLE, STR(HB_MOCK_F0), 0.0, 0.9, NULL, "mock: ejected gas fraction in halos at A = 1 (calibrated)"},
    {"mock.r0", PT_DOUBLE, STR(HB_MOCK_R0), 0.01, 20.0, NULL, "mock: ejection radius at A = 1 [Mpc/h] (calibrated)"},
    {"mock.delta_c", PT_DOUBLE, STR(HB_MOCK_DELTA_C), 1.0, 1e4, NULL, "mock: halo overdensity threshold of the mask (calibrated)"},
    {"mock.width", PT_DOUBLE, STR(HB_MOCK_WIDTH), 0.05, 5.0, NULL, "mock: width of the halo mask in ln(1+delta) (calibrated)"},
    {"mock.k_jeans", PT_DOUBLE, STR(HB_MOCK_K_JEANS), 0.1, 1e3, NULL, "mock: Jeans filtering scale at z = 0 [h/Mpc] (calibrated)"},
    {"mock.r_halo", PT_DOUBLE, STR(HB_MOCK_R_HALO), 0.0, 10.0, NULL, "mock: smoothing of the density for the halo mask [Mpc/h]"},
    {"mock.r_noise", PT_DOUBLE, STR(HB_MOCK_R_NOISE), 0.0, 10.0, NULL, "mock: smoothing of the noise fields [Mpc/h]"},
    {"mock.sigma_gas0", PT_DOUBLE, STR(HB_MOCK_SIGMA_GAS0), 0.0, 2.0, NULL, "mock: lognormal gas scatter outside halos (calibrated)"},
    {"mock.sigma_gas1", PT_DOUBLE, STR(HB_MOCK_SIGMA_GAS1), 0.0, 2.0, NULL, "mock: extra gas scatter in halos (times A_AGN2^0.5)"},
    {"mock.gas_floor", PT_DOUBLE, STR(HB_MOCK_GAS_FLOOR), 1e-4, 1.0, NULL, "mock: smallest smoothed gas density, in units of the mean"},
    {"mock.t0", PT_DOUBLE, STR(HB_MOCK_T0), 100.0, 1e6, NULL, "mock: IGM temperature at mean density at z = 0 [K]"},
    {"mock.gamma", PT_DOUBLE, STR(HB_MOCK_GAMMA), 0.5, 3.0, NULL, "mock: slope of the IGM temperature-density relation"},
    {"output.file", PT_STRING, "dm_z{z}.h5", 0, 0, NULL,
     "output file; {z} is replaced by the redshift (%.2f), needed with several outputs"},
    {"output.particles", PT_INT, "0", 0, 1, NULL, "1: also write particle positions and velocities"},
    {"output.mass_assignment", PT_CHOICE, "cic", 0, 0, "cic|tsc",
     "mass assignment of the output DM density (tsc leaves no cell empty at n_grid = n_particles)"},
};
enum { N_SCHEMA = sizeof SCHEMA / sizeof SCHEMA[0] };
_Static_assert(N_SCHEMA <= HB_PARAMS_MAX, "raise HB_PARAMS_MAX");
_Static_assert(N_SCHEMA <= HB_PROV_MAX, "raise HB_PROV_MAX (hb/box.h)");

static int find_key(const char *key)
{
    for (int i = 0; i < N_SCHEMA; i++) {
        if (strcmp(SCHEMA[i].key, key) == 0) return i;
    }
    return -1;
}

int hb_params_count(void) { return N_SCHEMA; }
const char *hb_params_key(int i) { return (i >= 0 && i < N_SCHEMA) ? SCHEMA[i].key : NULL; }

void hb_params_defaults(hb_params *p)
{
    memset(p, 0, sizeof *p);
    for (int i = 0; i < N_SCHEMA; i++) {
        if (SCHEMA[i].def) snprintf(p->val[i], HB_PARAM_LEN, "%s", SCHEMA[i].def);
    }
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    size_t i = 0;
    while (s[i] && isspace((unsigned char)s[i])) i++;
    if (i) memmove(s, s + i, n - i + 1);
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (*end && isspace((unsigned char)*end)) end++;
    if (end == s || *end || errno || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

/* Checks `value` against spec i; on failure writes the reason to why. */
static int check_value(int i, const char *value, char *why, size_t nwhy)
{
    const spec *s = &SCHEMA[i];
    double v;
    switch (s->type) {
    case PT_DOUBLE:
    case PT_INT:
        if (!parse_double(value, &v)) {
            snprintf(why, nwhy, "expected a number, found \"%s\"", value);
            return 0;
        }
        if (s->type == PT_INT && v != floor(v)) {
            snprintf(why, nwhy, "expected an integer, found \"%s\"", value);
            return 0;
        }
        if (v < s->min || v > s->max) {
            snprintf(why, nwhy, "%s is outside the allowed range [%g, %g]", value, s->min, s->max);
            return 0;
        }
        return 1;
    case PT_DLIST: {
        char buf[HB_PARAM_LEN];
        snprintf(buf, sizeof buf, "%s", value);
        int n = 0;
        for (char *tok = strtok(buf, ", \t"); tok; tok = strtok(NULL, ", \t"), n++) {
            if (!parse_double(tok, &v)) {
                snprintf(why, nwhy, "expected a list of numbers, found \"%s\"", tok);
                return 0;
            }
            if (v < s->min || v > s->max) {
                snprintf(why, nwhy, "entry %s is outside the allowed range [%g, %g]", tok, s->min,
                         s->max);
                return 0;
            }
        }
        if (n == 0) snprintf(why, nwhy, "expected at least one number, found \"%s\"", value);
        return n > 0;
    }
    case PT_CHOICE: {
        const char *c = s->choices;
        size_t len = strlen(value);
        while (c && *c) {
            const char *bar = strchr(c, '|');
            size_t cl = bar ? (size_t)(bar - c) : strlen(c);
            if (cl == len && strncmp(c, value, len) == 0) return 1;
            c = bar ? bar + 1 : NULL;
        }
        snprintf(why, nwhy, "\"%s\" is not one of %s", value, s->choices);
        return 0;
    }
    case PT_STRING:
        if (!*value) {
            snprintf(why, nwhy, "expected a non-empty string");
            return 0;
        }
        return 1;
    }
    return 0;
}

hb_status hb_params_set(hb_params *p, const char *key, const char *value)
{
    int i = find_key(key);
    if (i < 0) return HB_ERR(HB_EARG, "unknown parameter \"%s\" (hydrobridge params lists them)", key);
    char v[HB_PARAM_LEN], why[512];
    if (strlen(value) >= HB_PARAM_LEN) {
        return HB_ERR(HB_EARG, "%s: value longer than %d characters", key, HB_PARAM_LEN - 1);
    }
    snprintf(v, sizeof v, "%s", value);
    trim(v);
    if (!check_value(i, v, why, sizeof why)) return HB_ERR(HB_EARG, "%s: %s", key, why);
    memcpy(p->val[i], v, sizeof v);
    p->given[i] = 1;
    return HB_OK;
}

/* The line of `key` inside [section] of file, for error messages; 0 if not found. */
/* The line of key in [section] of file (0: not found); *again: the line of
 * a second occurrence (0: none). */
static int find_line(const char *file, const char *section, const char *key, int *again)
{
    *again = 0;
    FILE *f = fopen(file, "r");
    if (!f) return 0;
    char line[1024], cur[256] = "";
    int lineno = 0, found = 0;
    while (!*again && fgets(line, sizeof line, f)) {
        lineno++;
        char *s = line;
        while (isspace((unsigned char)*s)) s++;
        if (*s == '[') {
            char *e = strchr(s, ']');
            if (e) {
                *e = '\0';
                snprintf(cur, sizeof cur, "%s", s + 1);
                trim(cur);
            }
            continue;
        }
        size_t kl = strlen(key);
        if (strcasecmp(cur, section) == 0 && strncasecmp(s, key, kl) == 0 &&
            (isspace((unsigned char)s[kl]) || s[kl] == '=')) {
            if (found) *again = lineno;
            else found = lineno;
        }
    }
    fclose(f);
    return found;
}

static hb_status parse_file(hb_params *p, const char *file)
{
    FILE *f = fopen(file, "r");
    if (!f) return HB_ERR(HB_EIO, "cannot open parameter file %s: %s", file, strerror(errno));
    fclose(f);
    dictionary *d = iniparser_load(file);
    if (!d) return HB_ERR(HB_EIO, "cannot parse parameter file %s (iniparser message above)", file);
    hb_status rc = HB_OK;
    int nsec = iniparser_getnsec(d);
    for (int s = 0; s < nsec && rc == HB_OK; s++) {
        const char *sec = iniparser_getsecname(d, s);
        int nk = iniparser_getsecnkeys(d, sec);
        if (nk <= 0) continue;
        const char **keys = calloc((size_t)nk, sizeof *keys);
        if (!keys) { rc = HB_ERR(HB_ENOMEM, "out of memory"); break; }
        iniparser_getseckeys(d, sec, keys);
        for (int k = 0; k < nk && rc == HB_OK; k++) {
            const char *colon = strchr(keys[k], ':');
            const char *name = colon ? colon + 1 : keys[k];
            char full[256], why[512];
            snprintf(full, sizeof full, "%s.%s", sec, name);
            int i = find_key(full);
            int again, line = find_line(file, sec, name, &again);
            if (again) {
                rc = HB_ERR(HB_EARG, "%s:%d: %s is set twice (also on line %d); which one holds is not obvious, so "
                            "neither does", file, again, full, line);
                break;
            }
            if (i < 0) {
                rc = HB_ERR(HB_EARG, "%s:%d: unknown parameter \"%s\" in [%s] "
                            "(hydrobridge params lists the known ones)", file, line, name, sec);
                break;
            }
            const char *v = iniparser_getstring(d, keys[k], "");
            char val[HB_PARAM_LEN];
            snprintf(val, sizeof val, "%s", v);
            trim(val);
            if (!check_value(i, val, why, sizeof why)) {
                rc = HB_ERR(HB_EARG, "%s:%d: %s: %s", file, line, full, why);
                break;
            }
            memcpy(p->val[i], val, sizeof val);
            p->given[i] = 1;
        }
        free(keys);
    }
    iniparser_freedict(d);
    return rc;
}

hb_status hb_params_require(const hb_params *p, const char *const *required)
{
    for (int r = 0; required && required[r]; r++) {
        int i = find_key(required[r]);
        if (i < 0) return HB_ERR0(HB_EARG, "unknown required key %s", required[r]);
        if (!p->val[i][0]) {
            return HB_ERR0(HB_EARG, "missing required parameter %s%s%s (%s)", required[r],
                           p->source[0] ? " in " : "", p->source, SCHEMA[i].help);
        }
    }
    return HB_OK;
}

static hb_status load_local(hb_params *p, const char *file, int n_over, char *const *over)
{
    if (file) HB_TRY(parse_file(p, file));
    for (int o = 0; o < n_over; o++) {
        const char *eq = strchr(over[o], '=');
        if (!eq || eq == over[o]) {
            return HB_ERR(HB_EARG, "override \"%s\": expected section.key=value", over[o]);
        }
        char key[256];
        size_t kl = (size_t)(eq - over[o]);
        if (kl >= sizeof key) return HB_ERR(HB_EARG, "override \"%s\": key too long", over[o]);
        memcpy(key, over[o], kl);
        key[kl] = '\0';
        trim(key);
        HB_TRY(hb_params_set(p, key, eq + 1));
    }
    return HB_OK;
}

hb_status hb_params_load(hb_params *p, const char *file, int n_over, char *const *over,
                         const char *const *required, MPI_Comm comm)
{
    int rank;
    HB_TRY(hb_mpi(MPI_Comm_rank(comm, &rank)));
    hb_params_defaults(p);
    if (file) snprintf(p->source, sizeof p->source, "%s", file);
    hb_status rc = HB_OK;
    if (rank == 0) rc = load_local(p, file, n_over, over);
    HB_TRY(hb_mpi_agree(comm, rc));
    HB_TRY(hb_mpi(MPI_Bcast(p, (int)sizeof *p, MPI_BYTE, 0, comm)));
    return hb_params_require(p, required);
}

static int lookup(const hb_params *p, const char *key, ptype want)
{
    int i = find_key(key);
    if (i < 0 || SCHEMA[i].type != want) {
        HB_ERR(HB_EARG, "internal: parameter %s is not in the schema as that type", key);
        return -1;
    }
    (void)p;
    return i;
}

double hb_params_double(const hb_params *p, const char *key)
{
    int i = lookup(p, key, PT_DOUBLE);
    double v;
    return (i >= 0 && parse_double(p->val[i], &v)) ? v : NAN;
}

long hb_params_int(const hb_params *p, const char *key)
{
    int i = lookup(p, key, PT_INT);
    double v;
    return (i >= 0 && parse_double(p->val[i], &v)) ? (long)v : 0;
}

const char *hb_params_string(const hb_params *p, const char *key)
{
    int i = find_key(key);
    if (i < 0 || (SCHEMA[i].type != PT_STRING && SCHEMA[i].type != PT_CHOICE)) {
        HB_ERR(HB_EARG, "internal: parameter %s is not a string in the schema", key);
        return "";
    }
    return p->val[i];
}

int hb_params_given(const hb_params *p, const char *key)
{
    int i = find_key(key);
    return i >= 0 && p->given[i];
}

const char *hb_params_value(const hb_params *p, int i)
{
    return (i >= 0 && i < N_SCHEMA) ? p->val[i] : "";
}

int hb_params_is_set(const hb_params *p, const char *key)
{
    int i = find_key(key);
    return i >= 0 && p->val[i][0] != '\0';
}

int hb_params_dlist(const hb_params *p, const char *key, double *out, int cap)
{
    int i = lookup(p, key, PT_DLIST);
    if (i < 0) return 0;
    char buf[HB_PARAM_LEN];
    snprintf(buf, sizeof buf, "%s", p->val[i]);
    int n = 0;
    for (char *tok = strtok(buf, ", \t"); tok && n < cap; tok = strtok(NULL, ", \t")) {
        if (parse_double(tok, &out[n])) n++;
    }
    return n;
}

void hb_params_fprint(const hb_params *p, FILE *f, const char *prefix)
{
    for (int i = 0; i < N_SCHEMA; i++) {
        if (p->val[i][0]) fprintf(f, "%s%s = %s\n", prefix, SCHEMA[i].key, p->val[i]);
    }
}

void hb_params_fprint_reference(FILE *f)
{
    static const char *tname[] = {"number", "integer", "string", "list", "choice"};
    for (int i = 0; i < N_SCHEMA; i++) {
        const spec *s = &SCHEMA[i];
        fprintf(f, "%-32s %-8s default %-12s ", s->key, tname[s->type], s->def ? s->def : "(required)");
        if (s->type == PT_CHOICE) fprintf(f, "one of %s", s->choices);
        else if (s->type != PT_STRING) fprintf(f, "range [%g, %g]", s->min, s->max);
        fprintf(f, "\n    %s\n", s->help);
    }
}
