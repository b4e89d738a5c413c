/* Particle-mesh force (hb/force.h). */
#include "hb/force.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hb/mpiutil.h"
#include "hb/paint.h"

hb_force_config hb_force_config_default(void)
{
    hb_force_config c = {HB_KERNEL_FASTPM, 2, 0};
    return c;
}

hb_status hb_force_init(hb_force *f, const hb_mesh *m, const hb_force_config *cfg, long n_particles_total)
{
    memset(f, 0, sizeof *f);
    f->cfg = *cfg;
    f->mesh = m;
    hb_kernel kernel = cfg->kernel;
    HB_TRY(hb_painter_init(&f->painter, m, cfg->order, cfg->interlace));
    f->weight = pow((double)m->N, 3) / (double)n_particles_total;
    f->delta = hb_mesh_alloc(m);
    f->work = hb_mesh_alloc(m);
    f->grad = malloc((size_t)m->N * sizeof *f->grad);
    f->lap = malloc((size_t)m->N * sizeof *f->lap);
    f->win = malloc((size_t)m->N * sizeof *f->win);
    int bad = !f->delta || !f->work || !f->grad || !f->lap || !f->win;
    if (hb_mpi_any(m->comm, bad)) {
        hb_force_free(f);
        return bad ? HB_ERR(HB_ENOMEM, "force mesh %d^3", m->N) : hb_err_quiet(HB_ENOMEM);
    }
    /* 1-D factors per integer wave number; k = 2 pi n / L, h = L / N */
    const double h = m->L / m->N;
    for (int i = 0; i < m->N; i++) {
        int n = hb_mesh_freq(m, i);
        double k = 2 * M_PI * n / m->L;
        double s = (n == 0) ? 1.0 : sin(0.5 * k * h) / (0.5 * k * h);
        f->win[i] = pow(s, cfg->order);   /* window of one assignment along one axis */
        if (kernel == HB_KERNEL_FASTPM) {
            f->grad[i] = (8 * sin(k * h) - sin(2 * k * h)) / (6 * h);
            f->lap[i] = pow(2 / h * sin(0.5 * k * h), 2);
        } else {
            f->grad[i] = (2 * abs(n) == m->N) ? 0.0 : k;   /* the Nyquist derivative is undefined */
            f->lap[i] = k * k;
        }
    }
    return HB_OK;
}

void hb_force_free(hb_force *f)
{
    hb_painter_free(&f->painter);
    fftwf_free(f->delta);
    fftwf_free(f->work);
    free(f->grad);
    free(f->lap);
    free(f->win);
    memset(f, 0, sizeof *f);
}

/* Given delta_k in f->delta, leave component d of the force field (real
 * space) in wk. delta_k is kept. */
static void force_component(hb_force *f, int d, float *wk)
{
    const hb_mesh *m = f->mesh;
    const int N = m->N;
    hb_timer_start(&f->t_kernel);
    const float *dk = f->delta;
    const double inv = 1.0 / ((double)N * N * N);   /* the c2r normalisation, folded in */
    for (ptrdiff_t jy = 0; jy < m->ny_local; jy++) {
        int iy = (int)(m->y0 + jy);
        for (int ix = 0; ix < N; ix++) {
            int idx[3] = {ix, iy, 0};
            for (int iz = 0; iz <= N / 2; iz++) {
                idx[2] = iz;
                size_t c = 2 * hb_mesh_kidx(m, jy, ix, iz);
                double k2 = f->lap[ix] + f->lap[iy] + f->lap[iz];
                double g = 0;
                if (k2 > 0) {
                    /* F_k = i D_d delta_k / k^2 */
                    g = f->grad[idx[d]] * inv / k2;
                    if (f->cfg.kernel == HB_KERNEL_SPECTRAL) {
                        double w = f->win[ix] * f->win[iy] * f->win[iz];
                        g /= w * w;   /* paint and readout: W^2 */
                    }
                }
                float re = dk[c], im = dk[c + 1];
                wk[c] = (float)(-g * im);
                wk[c + 1] = (float)(g * re);
            }
        }
    }
    hb_timer_stop(&f->t_kernel);
    hb_timer_start(&f->t_fft);
    hb_mesh_c2r_raw(m, wk);
    hb_timer_stop(&f->t_fft);
}

hb_status hb_force_compute(hb_force *f, hb_particles *p)
{
    const hb_mesh *m = f->mesh;
    const int passes = f->cfg.interlace ? 2 : 1;
    for (int pass = 0; pass < passes; pass++) {
        /* pass 1 paints on nodes shifted by half a cell: the same force law
         * on another grid, whose odd aliasing images have the other sign */
        const double shift = 0.5 * pass;
        memset(f->delta, 0, 2 * (size_t)m->alloc_local * sizeof *f->delta);
        hb_timer_start(&f->t_paint);
        HB_TRY(hb_painter_paint(&f->painter, f->delta, p, f->weight, p->mass, shift));
        hb_timer_stop(&f->t_paint);
        hb_timer_start(&f->t_fft);
        hb_mesh_r2c(m, f->delta);   /* the mean (DC mode) drops out: k2 = 0 there */
        hb_timer_stop(&f->t_fft);
        /* the three components: in work and the painter's two scratch meshes
         * (its fixed-point slab, idle until the next paint), read out together */
        const float *comp[3] = {f->work, hb_painter_scratch(&f->painter, 0), hb_painter_scratch(&f->painter, 1)};
        for (int d = 0; d < 3; d++) force_component(f, d, (float *)comp[d]);
        hb_timer_start(&f->t_readout);
        HB_TRY(hb_painter_readout_n(&f->painter, comp, 3, p, p->acc, 3, shift, pass > 0, 1.0f));
        hb_timer_stop(&f->t_readout);
    }
    if (passes > 1) {
        for (size_t i = 0; i < 3 * p->n; i++) p->acc[i] *= 0.5f;   /* the mean of the two passes */
    }
    return HB_OK;
}
