/* The mock hydro painter (hb/mock.h). */
#include "hb/mock.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb/h5io.h"
#include "hb/mpiutil.h"
#include "hb/rng.h"

hb_mock_config hb_mock_config_default(void)
{
    hb_mock_config c = {HB_MOCK_F0,      HB_MOCK_R0,         HB_MOCK_DELTA_C,    HB_MOCK_WIDTH,
                        HB_MOCK_K_JEANS, HB_MOCK_R_HALO,     HB_MOCK_R_NOISE,    HB_MOCK_SIGMA_GAS0,
                        HB_MOCK_SIGMA_GAS1, HB_MOCK_T0,      HB_MOCK_GAMMA,      HB_MOCK_GAS_FLOOR, 1};
    return c;
}

uint64_t hb_mock_seed(long mock_seed, long box_seed)
{
    return mock_seed ? (uint64_t)mock_seed : (uint64_t)box_seed + 7919;
}

/* out = iFFT(in_k * filter) for real-space out; in_k (Fourier) is kept. */
static void filtered(const hb_mesh *m, const float *in_k, float *out, double r)
{
    const int N = m->N;
    const double kf = hb_mesh_kf(m);
    for (ptrdiff_t jy = 0; jy < m->ny_local; jy++) {
        int ny = hb_mesh_freq(m, (int)(m->y0 + jy));
        for (int ix = 0; ix < N; ix++) {
            int nx = hb_mesh_freq(m, ix);
            for (int iz = 0; iz <= N / 2; iz++) {
                double k2 = kf * kf * ((double)nx * nx + (double)ny * ny + (double)iz * iz);
                float g = (float)exp(-0.5 * k2 * r * r);
                size_t c = 2 * hb_mesh_kidx(m, jy, ix, iz);
                out[c] = in_k[c] * g;
                out[c + 1] = in_k[c + 1] * g;
            }
        }
    }
    hb_mesh_c2r(m, out);
}

#define FOR_CELLS(m) for (ptrdiff_t i_ = 0; i_ < (m)->nx_local; i_++) for (int j_ = 0; j_ < (m)->N; j_++) \
                     for (int k_ = 0; k_ < (m)->N; k_++)
#define CELL(m) hb_mesh_ridx((m), i_, j_, k_)

/* A unit-variance Gaussian field: white noise keyed by (seed, stream, global
 * cell), smoothed over r, renormalised. work: scratch mesh buffer. */
static hb_status noise_field(const hb_mesh *m, uint64_t seed, uint32_t sub, double r, float *out, float *work)
{
    const int N = m->N;
    memset(work, 0, 2 * (size_t)m->alloc_local * sizeof *work);
    FOR_CELLS(m) {
        uint64_t g = ((uint64_t)(m->x0 + i_) * N + (uint64_t)j_) * N + (uint64_t)k_;
        double n[2];
        hb_rng_normal2(seed, HB_STREAM_MOCK, g, sub, n);
        work[CELL(m)] = (float)n[0];
    }
    hb_mesh_r2c(m, work);
    filtered(m, work, out, r);
    double s2 = 0;
    FOR_CELLS(m) s2 += (double)out[CELL(m)] * out[CELL(m)];
    HB_TRY(hb_mpi_sum(m->comm, &s2, 1));
    float inv = (float)(1.0 / sqrt(s2 / pow((double)N, 3)));
    FOR_CELLS(m) out[CELL(m)] *= inv;
    return HB_OK;
}

static double global_mean(const hb_mesh *m, const float *a)
{
    return hb_mesh_sum(m, a) / pow((double)m->N, 3);
}

hb_status hb_mock_paint(const hb_mesh *m, const float *rho_dm, const hb_mock_config *c, const double th[HB_NTHETA],
                        double z, float *gas, float *temp, float *stars, double *f_star)
{
    const size_t nb = 2 * (size_t)m->alloc_local;
    float *dk = hb_mesh_alloc(m), *rs = hb_mesh_alloc(m), *S = hb_mesh_alloc(m), *ej = hb_mesh_alloc(m);
    float *xi = hb_mesh_alloc(m), *work = hb_mesh_alloc(m);
    if (hb_mpi_any(m->comm, !dk || !rs || !S || !ej || !xi || !work)) {
        fftwf_free(dk); fftwf_free(rs); fftwf_free(S); fftwf_free(ej); fftwf_free(xi); fftwf_free(work);
        return HB_ERR0(HB_ENOMEM, "mock painter meshes (%d^3)", m->N);
    }
    const double sn1 = th[HB_A_SN1], agn1 = th[HB_A_AGN1], sn2 = th[HB_A_SN2], agn2 = th[HB_A_AGN2];
    const double f_ej = fmin(c->f0 * pow(agn1, 0.3) * pow(agn2, 0.6) * pow(sn1, -0.3), 0.9);
    const double r_ej = c->r0 * sqrt(agn2 * sn2);
    const double kj = c->k_jeans * sqrt(1 + z);
    const double fs = 0.05 * pow(sn1, -0.3);
    if (f_star) *f_star = fs;
    /* delta_k of the DM */
    memcpy(dk, rho_dm, nb * sizeof *dk);
    FOR_CELLS(m) dk[CELL(m)] -= 1.0f;
    hb_mesh_r2c(m, dk);
    /* rho_s: Jeans-filtered density (a Gaussian of width 1/k_J) */
    filtered(m, dk, rs, 1.0 / kj);
    FOR_CELLS(m) rs[CELL(m)] = fmaxf(1.0f + rs[CELL(m)], (float)c->floor);
    /* S: the halo mask from the density smoothed over R_h; 1 + delta_h kept in work */
    filtered(m, dk, work, c->r_h);
    const float lnc = (float)log(1 + c->delta_c), wi = (float)(1.0 / c->w);
    FOR_CELLS(m) {
        float dh = fmaxf(1.0f + work[CELL(m)], 1e-6f);
        S[CELL(m)] = 1.0f / (1.0f + expf(-(logf(dh) - lnc) * wi));
        xi[CELL(m)] = dh;   /* keep 1 + delta_h for the shock temperature */
    }
    /* ejection: a fraction f_ej S of the gas moved over R_ej (mass conserving) */
    memset(ej, 0, nb * sizeof *ej);
    FOR_CELLS(m) ej[CELL(m)] = rs[CELL(m)] * (float)f_ej * S[CELL(m)];
    memcpy(work, ej, nb * sizeof *work);
    hb_mesh_r2c(m, work);
    filtered(m, work, ej, r_ej);
    FOR_CELLS(m) gas[CELL(m)] = rs[CELL(m)] * (1.0f - (float)f_ej * S[CELL(m)]) + fmaxf(ej[CELL(m)], 0.0f);
    /* the smoothed mask S_e for the feedback heating, rescaled to max 1 */
    memcpy(work, S, nb * sizeof *work);
    hb_mesh_r2c(m, work);
    filtered(m, work, ej, r_ej);
    double smax = 0;
    FOR_CELLS(m) smax = fmax(smax, ej[CELL(m)]);
    hb_mpi_max(m->comm, &smax, 1);
    /* stochastic part: lognormal scatter, stronger in halos and with A_AGN2 */
    float *dh = work;   /* reuse: work <- 1 + delta_h copy */
    memcpy(dh, xi, nb * sizeof *dh);
    float *noise = xi;
    hb_status rc = noise_field(m, c->seed, 0, c->r_xi, noise, dk);
    if (rc == HB_OK) {
        FOR_CELLS(m) {
            float sg = (float)(c->sg0 + c->sg1 * S[CELL(m)] * sqrt(agn2));
            gas[CELL(m)] *= expf(sg * noise[CELL(m)] - 0.5f * sg * sg);
        }
        double mu = global_mean(m, gas);
        FOR_CELLS(m) gas[CELL(m)] = (float)(gas[CELL(m)] / mu);
        if (stars) {
            FOR_CELLS(m) stars[CELL(m)] = rs[CELL(m)] * S[CELL(m)];
            double ms = global_mean(m, stars);
            FOR_CELLS(m) stars[CELL(m)] = (float)(ms > 0 ? stars[CELL(m)] / ms : 1.0);
        }
    }
    /* temperature: IGM relation, shock heating in halos, feedback heating */
    if (rc == HB_OK) rc = noise_field(m, c->seed, 1, c->r_xi, noise, dk);
    if (rc == HB_OK) {
        const double a = 1 / (1 + z);
        const double t0 = z >= 2 ? 1e4 : c->t0 + (1e4 - c->t0) * (1 - a) / (1 - 1.0 / 3);   /* 5e3 K at z=0 to 1e4 K at z=2, linear in a */
        const double lc = log(1 + c->delta_c), efb = 0.25 * log(agn1) + 0.15 * log(sn1);
        FOR_CELLS(m) {
            double dg = gas[CELL(m)], s = S[CELL(m)];
            double t_igm = t0 * pow(fmax(dg, 1e-6), c->gamma - 1);
            double t_sh = 1e6 * s * exp(2.0 / 3.0 * (log(dh[CELL(m)]) - lc));
            double se = smax > 0 ? ej[CELL(m)] / smax : 0;
            double st = 0.2 + 0.2 * s;
            double t = fmax(t_igm, t_sh) * exp(se * efb) * exp(st * noise[CELL(m)] - 0.5 * st * st);
            temp[CELL(m)] = (float)fmin(fmax(t, 1e3), 1e8);
        }
    }
    fftwf_free(dk); fftwf_free(rs); fftwf_free(S); fftwf_free(ej); fftwf_free(xi); fftwf_free(work);
    return rc;
}

void hb_mock_total(const hb_mesh *m, const float *rho_dm, const float *gas, const float *stars, double f_b,
                   double f_star, float *tot)
{
    const float a = (float)(1 - f_b), g = (float)(f_b * (1 - f_star)), s = (float)(f_b * f_star);
    FOR_CELLS(m) tot[CELL(m)] = a * rho_dm[CELL(m)] + g * gas[CELL(m)] + (stars ? s * stars[CELL(m)] : s);
}

/* The DM field of a box file on a fresh mesh, its description and mass assignment. */
static hb_status read_dm(const char *path, hb_mesh *m, float **dm, hb_boxinfo *bi, char *mas, size_t cap,
                         MPI_Comm comm)
{
    hb_h5 f;
    HB_TRY(hb_h5_open(&f, path, comm));
    int N = 0;
    hb_status rc = hb_h5_field_size(&f, HB_FIELD_DM, &N);
    if (rc == HB_OK) rc = hb_box_read_info(&f, bi);
    snprintf(mas, cap, "none");
    if (rc == HB_OK && hb_h5_attr_exists(&f, HB_FIELD_DM, "mass_assignment")) {
        rc = hb_h5_attr_read_string(&f, HB_FIELD_DM, "mass_assignment", mas, cap);
    }
    if (rc == HB_OK) rc = hb_mesh_init(m, N, bi->box_size, comm, FFTW_ESTIMATE);
    if (rc == HB_OK) {
        *dm = hb_mesh_alloc(m);
        rc = hb_mpi_any(comm, !*dm) ? HB_ERR0(HB_ENOMEM, "DM mesh")
                                    : hb_box_read_mesh_field(&f, HB_FIELD_DM, m, *dm, HB_VALUES_DENSITY);
        if (rc != HB_OK) hb_mesh_free(m);
    }
    hb_h5_close(&f);
    return rc;
}

hb_status hb_mock_paint_file(const char *dm_path, const char *out, const hb_mock_config *c, long mock_seed,
                             const double theta_override[HB_NTHETA], const hb_provenance *prov, MPI_Comm comm)
{
    hb_mesh m;
    float *dm = NULL;
    hb_boxinfo bi;
    char mas[32];
    HB_TRY(read_dm(dm_path, &m, &dm, &bi, mas, sizeof mas, comm));
    hb_theta_override(bi.theta, theta_override);
    hb_status rc = hb_theta_check(bi.theta, dm_path);
    float *gas = hb_mesh_alloc(&m), *temp = hb_mesh_alloc(&m), *stars = hb_mesh_alloc(&m);
    if (rc == HB_OK && hb_mpi_any(comm, !gas || !temp || !stars)) rc = HB_ERR0(HB_ENOMEM, "gas meshes");
    hb_mock_config mc = *c;
    mc.seed = hb_mock_seed(mock_seed, bi.seed);
    double fs = 0;
    if (rc == HB_OK) rc = hb_mock_paint(&m, dm, &mc, bi.theta, bi.redshift, gas, temp, stars, &fs);
    if (rc == HB_OK) {
        hb_box_fields bf = hb_box_fields_mesh(&m, dm, mas, gas, temp, "none");
        bf.field[HB_BOX_STARS] = stars;
        hb_h5_attr extra[] = {{"stellar_fraction", 'd', fs, 0, NULL}, {"gas_model", 's', 0, 0, "hydrobridge mock (SBP-1)"},
                              {"mock_seed", 'l', 0, (long)mc.seed, NULL}};
        rc = hb_box_write(out, comm, &bf, &bi, extra, 3, prov);
    }
    fftwf_free(dm); fftwf_free(gas); fftwf_free(temp); fftwf_free(stars);
    hb_mesh_free(&m);
    return rc;
}
