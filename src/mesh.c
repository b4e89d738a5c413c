/* Distributed mesh and FFTs on FFTW-MPI (hb/mesh.h). */
#include "hb/mesh.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hb/halo.h"
#include "hb/mpiutil.h"

hb_status hb_mesh_init(hb_mesh *m, int N, double L, MPI_Comm comm, unsigned flags)
{
    static int fftw_mpi_ready = 0;
    memset(m, 0, sizeof *m);
    if (N < 2 || N % 2) return HB_ERR0(HB_EARG, "mesh size N=%d: need an even N >= 2", N);
    if (!(L > 0)) return HB_ERR0(HB_EARG, "box size %g: need L > 0", L);
    if (!fftw_mpi_ready) {
        fftwf_mpi_init();
        fftw_mpi_ready = 1;
    }
    m->comm = comm;
    HB_TRY(hb_mpi(MPI_Comm_rank(comm, &m->rank)));
    HB_TRY(hb_mpi(MPI_Comm_size(comm, &m->nranks)));
    m->N = N;
    m->L = L;
    m->nzc = N / 2 + 1;
    m->zpad = 2 * m->nzc;
    m->alloc_local = fftwf_mpi_local_size_3d_transposed(N, N, m->nzc, comm, &m->nx_local, &m->x0,
                                                        &m->ny_local, &m->y0);
    if (m->alloc_local < 1) m->alloc_local = 1;   /* fftw_alloc(0) may return NULL */

    m->plane_owner = malloc((size_t)N * sizeof *m->plane_owner);
    m->rank_x0 = malloc((size_t)m->nranks * sizeof *m->rank_x0);
    m->rank_nx = malloc((size_t)m->nranks * sizeof *m->rank_nx);
    float *tmp = hb_mesh_alloc(m);
    int bad = !m->plane_owner || !m->rank_x0 || !m->rank_nx || !tmp;
    if (hb_mpi_any(comm, bad)) {
        fftwf_free(tmp);
        hb_mesh_free(m);
        return bad ? HB_ERR(HB_ENOMEM, "mesh %d^3: out of memory", N) : hb_err_quiet(HB_ENOMEM);
    }
    hb_status rc = hb_slab_tables(comm, m->nranks, (long)m->x0, (long)m->nx_local, m->rank_x0, m->rank_nx,
                                  m->plane_owner);
    if (rc != HB_OK) {
        fftwf_free(tmp);
        hb_mesh_free(m);
        return rc;
    }

    m->fwd = fftwf_mpi_plan_dft_r2c_3d(N, N, N, tmp, (fftwf_complex *)tmp, comm,
                                       flags | FFTW_MPI_TRANSPOSED_OUT);
    m->bwd = fftwf_mpi_plan_dft_c2r_3d(N, N, N, (fftwf_complex *)tmp, tmp, comm,
                                       flags | FFTW_MPI_TRANSPOSED_IN);
    fftwf_free(tmp);
    if (hb_mpi_any(comm, !m->fwd || !m->bwd)) {
        hb_mesh_free(m);
        return HB_ERR0(HB_EARG, "FFTW could not plan a %d^3 transform on %d ranks", N, m->nranks);
    }
    return HB_OK;
}

void hb_mesh_free(hb_mesh *m)
{
    if (m->fwd) fftwf_destroy_plan(m->fwd);
    if (m->bwd) fftwf_destroy_plan(m->bwd);
    free(m->plane_owner);
    free(m->rank_x0);
    free(m->rank_nx);
    memset(m, 0, sizeof *m);
}

float *hb_mesh_alloc(const hb_mesh *m)
{
    size_t n = 2 * (size_t)m->alloc_local;
    float *p = fftwf_alloc_real(n);
    if (p) memset(p, 0, n * sizeof *p);
    return p;
}

void hb_mesh_r2c(const hb_mesh *m, float *buf)
{
    fftwf_mpi_execute_dft_r2c(m->fwd, buf, (fftwf_complex *)buf);
}

void hb_mesh_c2r_raw(const hb_mesh *m, float *buf)
{
    fftwf_mpi_execute_dft_c2r(m->bwd, (fftwf_complex *)buf, buf);
}

void hb_mesh_c2r(const hb_mesh *m, float *buf)
{
    hb_mesh_c2r_raw(m, buf);
    const float inv = 1.0f / ((float)m->N * (float)m->N * (float)m->N);
    for (ptrdiff_t i = 0; i < m->nx_local; i++)
        for (int j = 0; j < m->N; j++) {
            float *row = buf + hb_mesh_ridx(m, i, j, 0);
            for (int k = 0; k < m->N; k++) row[k] *= inv;
        }
}

double hb_mesh_sum(const hb_mesh *m, const float *buf)
{
    double s = 0;
    for (ptrdiff_t i = 0; i < m->nx_local; i++)
        for (int j = 0; j < m->N; j++) {
            const float *row = buf + hb_mesh_ridx(m, i, j, 0);
            double rs = 0;
            for (int k = 0; k < m->N; k++) rs += row[k];
            s += rs;
        }
    if (hb_mpi(MPI_Allreduce(MPI_IN_PLACE, &s, 1, MPI_DOUBLE, MPI_SUM, m->comm)) != HB_OK) return NAN;
    return s;
}
