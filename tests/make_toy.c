/* make_toy DIR [N]: the toy training set (3 x 3 grid in Omega_m, A_AGN2,
 * 16^3; N: an N-box Latin hypercube) and test boxes for the command-line
 * tests (tests/toy.h).
 * make_toy cmd PREFIX BOX.h5...: the boxes' fields as CAMELS Multifield
 * Dataset grids, PREFIX_Mcdm.npy, PREFIX_Mgas.npy, PREFIX_T.npy (float32,
 * shape (n_boxes, N, N, N), grid i from the i-th box; the densities times
 * a mass per cell, CMD_MASS_DM and CMD_MASS_GAS, as CMD holds masses).
 * make_toy snap OUT SEED: a one-file Gadget/Arepo HDF5 snapshot (toy.h's
 * toy_write_gadget): 8^3 DM particles about a lattice and 64 gas
 * particles, positions, masses and energies drawn from SEED. */
#include <hdf5.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "toy.h"

#define CMD_MASS_DM 3.1e10f
#define CMD_MASS_GAS 4.7e9f

/* One field of n box files, each N^3, into an NPY v1 array of shape (n, N, N, N), times scale. */
static int cmd_grids(const char *out, const char *field, float scale, char **boxes, int n)
{
    FILE *f = fopen(out, "wb");
    float *buf = NULL;
    int bad = !f, N = 0;
    for (int b = 0; b < n && !bad; b++) {
        hid_t h = H5Fopen(boxes[b], H5F_ACC_RDONLY, H5P_DEFAULT), d = h < 0 ? -1 : H5Dopen2(h, field, H5P_DEFAULT);
        hid_t sp = d < 0 ? -1 : H5Dget_space(d);
        hsize_t dims[3] = {0, 0, 0};
        bad = sp < 0 || H5Sget_simple_extent_dims(sp, dims, NULL) != 3 || (b && dims[0] != (hsize_t)N);
        if (!bad && b == 0) {
            N = (int)dims[0];
            bad = toy_npy_header(f, n, N);
            buf = malloc((size_t)N * N * N * sizeof *buf);
            bad |= !buf;
        }
        bad = bad || H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0;
        for (size_t i = 0; !bad && i < (size_t)N * N * N; i++) buf[i] *= scale;
        bad = bad || fwrite(buf, sizeof *buf, (size_t)N * N * N, f) != (size_t)N * N * N;
        if (sp >= 0) H5Sclose(sp);
        if (d >= 0) H5Dclose(d);
        if (h >= 0) H5Fclose(h);
    }
    free(buf);
    if (f && fclose(f)) bad = 1;
    if (bad) fprintf(stderr, "make_toy cmd: cannot write %s from %s\n", out, field);
    return bad;
}

static int snapshot(const char *out, long seed)
{
    enum { ND = 512, NG = 64 };
    static double dx[ND][3], gx[NG][3], gm[NG], gu[NG], ge[NG];
    for (size_t i = 0; i < ND; i++)
        for (int c = 0; c < 3; c++) {   /* the node's corner plus a jitter of ~0.3 of the spacing (kpc/h) */
            const size_t node[3] = {i / 64, i / 8 % 8, i % 8};
            dx[i][c] = fmod(125.0 * (double)node[c] + 125.0 * toy_g(seed, 3 * i + (size_t)c) + 1000.0, 1000.0);
        }
    for (size_t i = 0; i < NG; i++) {
        for (int c = 0; c < 3; c++) gx[i][c] = 500.0 + 1500.0 * toy_g(seed + 1, 3 * i + (size_t)c);
        for (int c = 0; c < 3; c++) gx[i][c] = fmod(fmod(gx[i][c], 1000.0) + 1000.0, 1000.0);
        gm[i] = 1e-3 * pow(10, toy_g(seed + 2, i));
        gu[i] = 300.0 * pow(10, 3 * toy_g(seed + 3, i));
        ge[i] = 1.0;
    }
    toy_write_gadget(out, 1, (const double(*)[3])dx, ND, (const double(*)[3])gx, gm, gu, ge, NG, ND, NG);
    return 0;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    if (argc == 4 && !strcmp(argv[1], "snap")) {
        const int bad = snapshot(argv[2], atol(argv[3]));
        MPI_Finalize();
        return bad;
    }
    if (argc >= 4 && !strcmp(argv[1], "cmd")) {
        static const char *const field[3] = {"/fields/dm_density", "/fields/gas_density", "/fields/gas_temperature"};
        static const char *const suffix[3] = {"Mcdm", "Mgas", "T"};
        const float scale[3] = {CMD_MASS_DM, CMD_MASS_GAS, 1.0f};
        int bad = 0;
        for (int k = 0; k < 3 && !bad; k++) {
            char p[1024];
            snprintf(p, sizeof p, "%s_%s.npy", argv[2], suffix[k]);
            bad = cmd_grids(p, field[k], scale[k], argv + 3, argc - 3);
        }
        MPI_Finalize();
        return bad;
    }
    const char *dir = argc > 1 ? argv[1] : "toy";
    mkdir(dir, 0755);
    int nlh = argc > 2 ? atoi(argv[2]) : 0;   /* make_toy DIR N: an N-box Latin hypercube */
    static const double oms[3] = {0.2, 0.3, 0.4}, agns[3] = {0.5, 1.0, 2.0};
    char p[1024];
    int bad = 0;
    for (int i = 0; i < (nlh > 0 ? nlh : 9); i++) {
        double om = oms[i / 3 % 3], agn2 = agns[i % 3];
        if (nlh > 0) toy_lh(i, nlh, &om, &agn2);
        snprintf(p, sizeof p, "%s/box%02d.h5", dir, i);
        bad |= toy_write(p, 16, 25.0, om, agn2, 100 + i, 1) != HB_OK;
    }
    snprintf(p, sizeof p, "%s/../toy_test.h5", dir);
    bad |= toy_write(p, 16, 25.0, 0.35, 1.41, 777, 1) != HB_OK;
    snprintf(p, sizeof p, "%s/../toy_dm18.h5", dir);   /* a grid that is not a multiple of 4 */
    bad |= toy_write(p, 18, 25.0 * 18 / 16, 0.3, 1.0, 5, 0) != HB_OK;
    MPI_Finalize();
    return bad;
}
