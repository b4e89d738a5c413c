/* tests/toy.h: toy box files with a known conditional distribution, cell by
 * cell: log10 dm = g (white noise, sd TOY_SD); log10 gas = a g + b + s eps;
 * log10 T = d + c g + 0.1 eps' + TOY_HOT_DEX h, h = 1 with probability
 * TOY_HOT_P (a hot phase: a heavy tail in T, like the gas above 1e6 K that
 * sets the temperature P(k)), with a, b, s depending on Omega_m and A_AGN2
 * and c, d on Omega_m (gas is not renormalised here, but emulated gas is, so
 * d carries the testable intercept). */
#ifndef HB_TEST_TOY_H
#define HB_TEST_TOY_H

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "hb/box.h"
#include "hb/h5io.h"
#include "hb/rng.h"

#define TOY_SD 0.3
#define TOY_T_SD 0.1     /* dex */
#define TOY_HOT_P 0.1
#define TOY_HOT_DEX 1.0

static inline double toy_a(double om, double agn2) { return 0.6 + 0.3 * log(agn2) / log(2.0) + 0.2 * (om - 0.3); }
static inline double toy_b(double om, double agn2) { return -0.3 + 1.0 * (om - 0.3) + 0.1 * log(agn2) / log(2.0); }
static inline double toy_s(double om, double agn2) { (void)om; return 0.1 + 0.05 * log(agn2) / log(2.0); }
static inline double toy_c(double om) { return 0.5 + 1.0 * (om - 0.3); }
static inline double toy_d(double om) { return 4.0 + 2.0 * (om - 0.3); }

static inline double toy_g(long seed, size_t i)
{
    double r[2];
    hb_rng_normal2((uint64_t)seed, HB_STREAM_TEST, i, 0, r);
    return TOY_SD * r[0];
}

/* An N^3 toy box (box size L) written by the calling process alone. */
static inline hb_status toy_write(const char *path, int N, double L, double om, double agn2, long seed, int with_gas)
{
    const size_t n = (size_t)N * N * N;
    float *dm = malloc(n * 4), *gas = malloc(n * 4), *t = malloc(n * 4);
    for (size_t i = 0; i < n; i++) {
        double g = toy_g(seed, i), e[2], u[2];
        hb_rng_normal2((uint64_t)seed, HB_STREAM_TEST, i, 1, e);
        hb_rng_uniform2((uint64_t)seed, HB_STREAM_TEST, i, 2, u);
        dm[i] = (float)pow(10, g);
        gas[i] = (float)pow(10, toy_a(om, agn2) * g + toy_b(om, agn2) + toy_s(om, agn2) * e[0]);
        t[i] = (float)pow(10, toy_d(om) + toy_c(om) * g + TOY_T_SD * e[1] + (u[0] < TOY_HOT_P ? TOY_HOT_DEX : 0));
    }
    hb_h5 f;
    hb_status rc = hb_h5_create(&f, path, MPI_COMM_SELF);
    if (rc == HB_OK) rc = hb_h5_write_field(&f, HB_FIELD_DM, N, 0, N, dm, (size_t)N, "none");
    if (rc == HB_OK && with_gas) rc = hb_h5_write_field(&f, HB_FIELD_GAS, N, 0, N, gas, (size_t)N, "none");
    if (rc == HB_OK && with_gas) rc = hb_h5_write_field(&f, HB_FIELD_TEMP, N, 0, N, t, (size_t)N, "none");
    hb_boxinfo b = {L, 0.0, 0.049, 0.6711, 0.9624, {om, 0.8, 1.0, 1.0, 1.0, agn2}, seed};
    if (rc == HB_OK) rc = hb_box_write_info(&f, &b);
    if (rc == HB_OK) rc = hb_h5_commit(&f);
    else hb_h5_abort(&f);
    free(dm);
    free(gas);
    free(t);
    return rc;
}

/* Parameters of box i of an n-box Latin hypercube in Omega_m in [0.2, 0.4]
 * and ln A_AGN2 in [ln 0.5, ln 2]: one box per stratum of each (a fixed
 * pairing of the strata, deterministic). */
static inline void toy_lh(int i, int n, double *om, double *agn2)
{
    int j = (i * 7 + 3) % n;   /* 7 is coprime with the sizes used: a permutation */
    *om = 0.2 + 0.2 * (i + 0.5) / n;
    *agn2 = exp(log(0.5) + (log(2.0) - log(0.5)) * (j + 0.5) / n);
}

/* A Gadget/Arepo HDF5 file with the given particles (serial HDF5 calls): a
 * 1 Mpc/h box in kpc/h at z = 0.5, Omega_m 0.3, DM of MassTable mass 0.5. */
static inline void toy_write_gadget(const char *path, int nfiles, const double (*dx)[3], int ndm,
                                    const double (*gx)[3], const double *gm, const double *gu, const double *ge,
                                    int ngas, int ndm_tot, int ngas_tot)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g = H5Gcreate2(f, "/Header", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    struct { const char *n; int len; double v[6]; } at[] = {
        {"BoxSize", 1, {1000}}, {"Redshift", 1, {0.5}}, {"HubbleParam", 1, {0.6711}}, {"Omega0", 1, {0.3}},
        {"OmegaBaryon", 1, {0.049}}, {"NumFilesPerSnapshot", 1, {nfiles}}, {"MassTable", 6, {0, 0.5, 0, 0, 0, 0}},
        {"NumPart_ThisFile", 6, {ngas, ndm, 0, 0, 0, 0}}, {"NumPart_Total", 6, {ngas_tot, ndm_tot, 0, 0, 0, 0}}};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        hsize_t d = (hsize_t)at[i].len;
        hid_t sp = H5Screate_simple(1, &d, NULL);
        hid_t a = H5Acreate2(g, at[i].n, H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, H5T_NATIVE_DOUBLE, at[i].v);
        H5Aclose(a);
        H5Sclose(sp);
    }
    H5Gclose(g);
    struct { const char *n; const void *d; int rows, cols; } ds[] = {
        {"/PartType1/Coordinates", dx, ndm, 3}, {"/PartType0/Coordinates", gx, ngas, 3},
        {"/PartType0/Masses", gm, ngas, 1}, {"/PartType0/InternalEnergy", gu, ngas, 1},
        {"/PartType0/ElectronAbundance", ge, ngas, 1}};
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        hsize_t d[2] = {(hsize_t)ds[i].rows, (hsize_t)ds[i].cols};
        hid_t sp = H5Screate_simple(ds[i].cols > 1 ? 2 : 1, d, NULL);
        hid_t dd = H5Dcreate2(f, ds[i].n, H5T_IEEE_F64LE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        if (ds[i].rows > 0) H5Dwrite(dd, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, ds[i].d);
        H5Dclose(dd);
        H5Sclose(sp);
    }
    H5Pclose(lcpl);
    H5Fclose(f);
}

/* The header of an NPY v1 file of float32, C order, shape (n, N, N, N); 0 when written. */
static inline int toy_npy_header(FILE *f, int n, int N)
{
    char hdr[128];
    int k = snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d, %d, %d), }", n, N,
                     N, N);
    while ((10 + k + 1) % 64) hdr[k++] = ' ';   /* data 64-byte aligned */
    hdr[k++] = '\n';
    const unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(k & 0xff),
                                   (unsigned char)(k >> 8)};
    return fwrite(pre, 1, 10, f) != 10 || fwrite(hdr, 1, (size_t)k, f) != (size_t)k;
}

#endif
