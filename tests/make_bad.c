/* make_bad: bad inputs for the reliability tests (tests/reliability.sh).
 *   make_bad cell OUT FIELD VALUE   a toy box (16^3) with FIELD[3][4][5] = VALUE
 *                                   (nan, inf, -inf or a number; "zero": the whole field 0)
 *   make_bad attr OUT NAME VALUE    a toy box with the root attribute NAME = VALUE
 *   make_bad setattr FILE NAME VALUE  the root attribute NAME of an existing file set to VALUE
 *   make_bad box OUT N L            a toy box of N^3 cells in L Mpc/h
 *   make_bad flat OUT               a toy box whose gas density and temperature are constant
 *   make_bad shape OUT              a box whose dm_density has the shape (16, 160)
 *   make_bad npy OUT SEED           an NPY v1 file of float32, shape (2, 16, 16, 16), lognormal values
 *   make_bad poison MODEL           set the first weight of MODEL's /ema (or /weights) to NaN, in place
 *   make_bad slope MODEL            set MODEL's /interp/noise_slope to (0, 5), in place
 *   make_bad ntheta MODEL           set MODEL's /interp/noise_theta (2 x 6) to 3 on gas, A_AGN2; 0 elsewhere
 *   make_bad smooth MODEL           set a two-channel MODEL's /interp/dm_smooth to (20, 0, 1, 0.8, 0, 1)
 *                                   (a radius of 20 cells), in place
 *   make_bad threshold MODEL        set a two-channel MODEL's /interp/dm_smooth_threshold to (0, -1), in place
 *   make_bad gas_interp MODEL D S   the standardisation of log10 gas density in MODEL's /interp (channel 1),
 *                                   in place: its mean + D, its std times S (D shifts every sample's gas
 *                                   by D dex; S > 1 widens them: their linear mean far above 1)
 * Serial; the toy boxes are tests/toy.h's. */
#include <hdf5.h>
#include <stdio.h>
#include <string.h>

#include "toy.h"

#define N 16

static float value_of(const char *v)
{
    if (!strcmp(v, "nan")) return NAN;
    if (!strcmp(v, "inf")) return INFINITY;
    if (!strcmp(v, "-inf")) return -INFINITY;
    return strtof(v, NULL);
}

/* Read (write = 0) or overwrite (write = 1) dataset `name` of file path, N^3 floats. */
static int access_field(const char *path, const char *name, float *buf, int write)
{
    hid_t f = H5Fopen(path, write ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return 1;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    int bad = d < 0 || (write ? H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf)
                              : H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf)) < 0;
    if (d >= 0) H5Dclose(d);
    return bad | (H5Fclose(f) < 0);
}

static int cell(const char *out, const char *field, const char *v)
{
    if (toy_write(out, N, 25.0, 0.3, 1.0, 5, 1) != HB_OK) return 1;
    static float buf[N * N * N];
    char name[256];
    snprintf(name, sizeof name, "/fields/%s", field);
    if (access_field(out, name, buf, 0)) return 1;
    if (!strcmp(v, "zero")) memset(buf, 0, sizeof buf);
    else buf[(3 * N + 4) * N + 5] = value_of(v);
    return access_field(out, name, buf, 1);
}

/* Attribute `name` of "/" in the existing file `out` set to v (converted to the attribute's type). */
static int set_attr(const char *out, const char *name, const char *v)
{
    hid_t f = H5Fopen(out, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return 1;
    double x = value_of(v);
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    int bad = a < 0 || H5Awrite(a, H5T_NATIVE_DOUBLE, &x) < 0;
    if (a >= 0) H5Aclose(a);
    return bad | (H5Fclose(f) < 0);
}

static int attr(const char *out, const char *name, const char *v)
{
    if (toy_write(out, N, 25.0, 0.3, 1.0, 5, 1) != HB_OK) return 1;
    return set_attr(out, name, v);
}

/* A toy box whose DM's mass_assignment attribute says mas. */
static int dm_mas(const char *out, const char *mas)
{
    if (toy_write(out, N, 25.0, 0.3, 1.0, 5, 1) != HB_OK) return 1;
    hid_t f = H5Fopen(out, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return 1;
    hid_t d = H5Dopen2(f, HB_FIELD_DM, H5P_DEFAULT), t = H5Tcopy(H5T_C_S1), s = H5Screate(H5S_SCALAR);
    H5Tset_size(t, strlen(mas) + 1);
    int bad = d < 0 || H5Adelete(d, "mass_assignment") < 0;
    hid_t a = bad ? -1 : H5Acreate2(d, "mass_assignment", t, s, H5P_DEFAULT, H5P_DEFAULT);
    bad = bad || a < 0 || H5Awrite(a, t, mas) < 0;
    if (a >= 0) H5Aclose(a);
    if (d >= 0) H5Dclose(d);
    H5Sclose(s);
    H5Tclose(t);
    return bad | (H5Fclose(f) < 0);
}

static int flat(const char *out)
{
    if (toy_write(out, N, 25.0, 0.3, 1.0, 5, 1) != HB_OK) return 1;
    static float buf[N * N * N];
    for (int i = 0; i < N * N * N; i++) buf[i] = 1.0f;
    int bad = access_field(out, "/fields/gas_density", buf, 1);
    for (int i = 0; i < N * N * N; i++) buf[i] = 1e4f;
    return bad | access_field(out, "/fields/gas_temperature", buf, 1);
}

/* The first dataset of a weight group, found by iteration. */
static herr_t first_dataset(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)g; (void)info;
    snprintf((char *)data, 256, "%s", name);
    return 1;   /* stop */
}

static int poison(const char *model)
{
    hid_t f = H5Fopen(model, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return 1;
    const char *set = H5Lexists(f, "/ema", H5P_DEFAULT) > 0 ? "/ema" : "/weights";
    hid_t g = H5Gopen2(f, set, H5P_DEFAULT);
    char name[256] = "";
    H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, first_dataset, name);
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    hid_t s = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(s);
    float *w = malloc((size_t)n * sizeof *w);
    int bad = H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w) < 0;
    w[0] = NAN;
    bad |= H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w) < 0;
    free(w);
    H5Sclose(s);
    H5Dclose(d);
    H5Gclose(g);
    return bad | (H5Fclose(f) < 0);
}

/* Overwrite the doubles of dataset name of a model file. */
static int set_doubles(const char *model, const char *name, const double *v, hssize_t n)
{
    hid_t f = H5Fopen(model, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return 1;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT), sp = d >= 0 ? H5Dget_space(d) : -1;
    const hssize_t have = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    if (sp >= 0) H5Sclose(sp);
    if (have != n) fprintf(stderr, "make_bad: %s:%s holds %lld values, expected %lld\n", model, name, (long long)have,
                           (long long)n);
    int bad = have != n || H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0;
    if (d >= 0) H5Dclose(d);
    return bad | (H5Fclose(f) < 0);
}

/* The standardisation of log10 gas density (channel 1 of /interp/mean and /std) of a model file:
 * its mean + shift, its std times scale. */
static int gas_interp(const char *model, double shift, double scale)
{
    double mean[3] = {0}, sd[3] = {0};
    hid_t f = H5Fopen(model, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return 1;
    hid_t m = H5Dopen2(f, "/interp/mean", H5P_DEFAULT), d = H5Dopen2(f, "/interp/std", H5P_DEFAULT);
    int bad = m < 0 || d < 0 || H5Dread(m, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, mean) < 0 ||
              H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, sd) < 0;
    if (m >= 0) H5Dclose(m);
    if (d >= 0) H5Dclose(d);
    bad |= H5Fclose(f) < 0;
    mean[1] += shift;
    sd[1] *= scale;
    return bad || set_doubles(model, "/interp/mean", mean, 3) || set_doubles(model, "/interp/std", sd, 3);
}

static int shape(const char *out)
{
    static float buf[16 * 160];
    for (int i = 0; i < 16 * 160; i++) buf[i] = 1.0f;
    hid_t f = H5Fcreate(out, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g = H5Gcreate2(f, "/fields", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t d[2] = {16, 160};
    hid_t sp = H5Screate_simple(2, d, NULL);
    hid_t ds = H5Dcreate2(g, "dm_density", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int bad = H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0;
    H5Dclose(ds);
    H5Sclose(sp);
    H5Gclose(g);
    return bad | (H5Fclose(f) < 0);
}

static int npy(const char *out, long seed)
{
    FILE *f = fopen(out, "wb");
    if (!f) return 1;
    int bad = toy_npy_header(f, 2, N);
    for (size_t i = 0; i < 2 * (size_t)N * N * N && !bad; i++) {
        float v = (float)pow(10, toy_g(seed, i));
        bad = fwrite(&v, 4, 1, f) != 1;
    }
    return bad | (fclose(f) != 0);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int bad = 1;
    if (argc == 5 && !strcmp(argv[1], "cell")) bad = cell(argv[2], argv[3], argv[4]);
    else if (argc == 5 && !strcmp(argv[1], "attr")) bad = attr(argv[2], argv[3], argv[4]);
    else if (argc == 5 && !strcmp(argv[1], "setattr")) bad = set_attr(argv[2], argv[3], argv[4]);
    else if (argc == 3 && !strcmp(argv[1], "flat")) bad = flat(argv[2]);
    else if (argc == 4 && !strcmp(argv[1], "mas")) bad = dm_mas(argv[2], argv[3]);
    else if (argc == 5 && !strcmp(argv[1], "box")) bad = toy_write(argv[2], atoi(argv[3]), atof(argv[4]), 0.3, 1.0, 5, 1) != HB_OK;
    else if (argc == 3 && !strcmp(argv[1], "poison")) bad = poison(argv[2]);
    else if (argc == 3 && !strcmp(argv[1], "slope")) bad = set_doubles(argv[2], "/interp/noise_slope", (double[]){0, 5}, 2);
    else if (argc == 3 && !strcmp(argv[1], "ntheta")) bad = set_doubles(argv[2], "/interp/noise_theta", (double[]){0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0}, 12);
    else if (argc == 3 && !strcmp(argv[1], "smooth")) bad = set_doubles(argv[2], "/interp/dm_smooth", (double[]){20, 0, 1, 0.8, 0, 1}, 6);
    else if (argc == 3 && !strcmp(argv[1], "threshold")) bad = set_doubles(argv[2], "/interp/dm_smooth_threshold", (double[]){0, -1}, 2);
    else if (argc == 5 && !strcmp(argv[1], "gas_interp")) bad = gas_interp(argv[2], atof(argv[3]), atof(argv[4]));
    else if (argc == 3 && !strcmp(argv[1], "shape")) bad = shape(argv[2]);
    else if (argc == 4 && !strcmp(argv[1], "npy")) bad = npy(argv[2], atol(argv[3]));
    else fprintf(stderr, "usage: make_bad cell|attr|setattr|box|mas|flat|shape|npy|poison|slope|ntheta|smooth|threshold|gas_interp ...\n");
    MPI_Finalize();
    return bad;
}
