/* Network layers, channels last (hb/nn.h). Convolutions: the direct 3x3x3
 * kernels of conv3_direct.c where the channels allow, else im2col + SGEMM
 * over chunks of whole z-rows; the backward pass of conv3 with respect to
 * its input is itself a conv3 of dout with flipped, transposed weights, so
 * every im2col is a gather (no scatter-add, OpenMP-parallel). */
#include "hb/nn.h"
#include "nn_internal.h"

#include <cblas.h>
#include <math.h>
/* libmvec found by CMake, and this compilation for AVX2 (a cached CMake
 * result survives a change of -march) */
#if defined(HB_HAVE_MVEC) && defined(__AVX2__)
#define HB_VEXPF 1
#include <immintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

#define COL_TARGET (1u << 21)   /* floats per im2col chunk (8 MB): keeps chunks cache friendly */

/* Rows of Z voxels per chunk for a K-wide im2col. */
static int chunk_rows(int K, int Z, int rows)
{
    long r = (long)(COL_TARGET / ((size_t)K * (size_t)Z));
    if (r < 1) r = 1;
    if (r > rows) r = rows;
    return (int)r;
}

size_t hb_conv_workspace(int Ci, int Co, int X, int Y, int Z)
{
    /* an im2col chunk of K columns holds chunk_rows(K) * Z * K <= COL_TARGET
     * floats (at least one row): bound it for every K up to the largest */
    const int C = Ci > Co ? Ci : Co;
    const size_t Kmax = 27 * (size_t)C, rows_all = (size_t)X * Y * Z * Kmax;
    size_t need = rows_all < COL_TARGET ? rows_all : COL_TARGET;
    if ((size_t)Z * Kmax > need) need = (size_t)Z * Kmax;
    size_t wf = 27 * (size_t)Ci * Co;   /* flipped conv3 weights */
    size_t pad = hb_conv3_direct_workspace(C, X, Y, Z);
    if (pad > need) need = pad;
    return need > wf ? need : wf;
}

static inline int wrap(int i, int n) { return i < 0 ? i + n : (i >= n ? i - n : i); }

/* col[r*Z + z][(tap, c)] for z-rows [row0, row0+nrows) of a 3x3x3 stencil,
 * periodic in y and z; in x per xmode (hb/nn.h). */
static void im2col3(float *col, const float *in, int C, int X, int Y, int Z, int row0, int nrows, int xmode)
{
    const int K = 27 * C;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < nrows; r++) {
        int x = (row0 + r) / Y, y = (row0 + r) % Y;
        for (int kx = 0; kx < 3; kx++) {
            int xs = xmode == HB_XHALO ? x + kx : wrap(x + kx - 1, X);
            for (int ky = 0; ky < 3; ky++) {
                int ys = wrap(y + ky - 1, Y);
                const float *src = in + ((size_t)xs * Y + ys) * Z * C;
                for (int kz = 0; kz < 3; kz++) {
                    int tap = (kx * 3 + ky) * 3 + kz;
                    float *dst = col + (size_t)r * Z * K + (size_t)tap * C;
                    for (int z = 0; z < Z; z++) {
                        int zs = wrap(z + kz - 1, Z);
                        memcpy(dst + (size_t)z * K, src + (size_t)zs * C, (size_t)C * sizeof *dst);
                    }
                }
            }
        }
    }
}

static void add_bias(float *out, const float *b, size_t n, int C)
{
    if (!b) return;
#pragma omp parallel for schedule(static)
    for (size_t v = 0; v < n; v++)
        for (int c = 0; c < C; c++) out[v * C + c] += b[c];
}

static void bias_grad(float *db, const float *dout, size_t n, int C)
{
    if (!db) return;
    /* double accumulation per channel: n can be millions */
    double *acc = calloc((size_t)C, sizeof *acc);
    for (size_t v = 0; v < n; v++)
        for (int c = 0; c < C; c++) acc[c] += dout[v * C + c];
    for (int c = 0; c < C; c++) db[c] += (float)acc[c];
    free(acc);
}

/* Output planes [xa, xb) of out (+)= conv3(in, w): beta 0 overwrites, 1 accumulates. */
static void conv3_gemm(float *out, const float *in, const float *w, int Ci, int Co, int X, int Y, int Z, int xmode,
                       int xa, int xb, float *col, float beta)
{
    const int K = 27 * Ci, cr = chunk_rows(K, Z, X * Y);
    for (int r0 = xa * Y; r0 < xb * Y; r0 += cr) {
        int nr = xb * Y - r0 < cr ? xb * Y - r0 : cr;
        im2col3(col, in, Ci, X, Y, Z, r0, nr, xmode);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr * Z, Co, K, 1.0f, col, K, w, Co, beta,
                    out + (size_t)r0 * Z * Co, Co);
    }
}

void hb_conv3_planes(float *out, const float *in, const float *w, const float *b, int Ci, int Co, int X, int Y,
                     int Z, int xmode, int xa, int xb, int accumulate, float *col)
{
    if (xa >= xb) return;
    if (hb_conv3_direct_ok(Ci, Co)) {
        hb_conv3_direct(out, in, w, b, Ci, Co, X, Y, Z, xmode, xa, xb, col, accumulate);
        return;
    }
    conv3_gemm(out, in, w, Ci, Co, X, Y, Z, xmode, xa, xb, col, accumulate ? 1.0f : 0.0f);
    const size_t off = (size_t)xa * Y * Z;
    add_bias(out + off * Co, b, (size_t)(xb - xa) * Y * Z, Co);
}

void hb_conv3_wgrad(float *dw, float *db, const float *dout, const float *in, int Ci, int Co, int X, int Y, int Z,
                    int xmode, float *col)
{
    const int K = 27 * Ci, rows = X * Y, cr = chunk_rows(K, Z, rows);
    if (hb_conv3_direct_ok(Ci, Co)) {
        hb_conv3_direct_dw(dw, in, dout, Ci, Co, X, Y, Z, xmode, col);
    } else {
        for (int r0 = 0; r0 < rows; r0 += cr) {   /* dW (27 Ci x Co) += col(in)^T dout */
            int nr = rows - r0 < cr ? rows - r0 : cr;
            im2col3(col, in, Ci, X, Y, Z, r0, nr, xmode);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, Co, nr * Z, 1.0f, col, K,
                        dout + (size_t)r0 * Z * Co, Co, 1.0f, dw, Co);
        }
    }
    bias_grad(db, dout, (size_t)rows * Z, Co);
}

void hb_conv3_igrad(float *din, const float *dout, const float *w, int Ci, int Co, int X, int Y, int Z, int xmode,
                    int xa, int xb, float *col, float *wf)
{
    if (xa >= xb) return;
    /* the adjoint of a periodic convolution is the convolution with the
     * flipped kernel: wf[26 - tap][co][ci] = w[tap][ci][co] */
    for (int tap = 0; tap < 27; tap++)
        for (int ci = 0; ci < Ci; ci++)
            for (int co = 0; co < Co; co++)
                wf[((size_t)(26 - tap) * Co + co) * Ci + ci] = w[((size_t)tap * Ci + ci) * Co + co];
    if (hb_conv3_direct_ok(Co, Ci)) hb_conv3_direct(din, dout, wf, NULL, Co, Ci, X, Y, Z, xmode, xa, xb, col, 1);
    else conv3_gemm(din, dout, wf, Co, Ci, X, Y, Z, xmode, xa, xb, col, 1.0f);
}

void hb_conv3_forward(float *out, const float *in, const float *w, const float *b, int B, int Ci,
                      int Co, int X, int Y, int Z, float *col)
{
    const size_t V = (size_t)X * Y * Z;
    for (int bb = 0; bb < B; bb++)
        hb_conv3_planes(out + bb * V * Co, in + bb * V * Ci, w, b, Ci, Co, X, Y, Z, HB_XWRAP, 0, X, 0, col);
}

void hb_conv3_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                       const float *w, int B, int Ci, int Co, int X, int Y, int Z, float *col,
                       float *dcol)
{
    const size_t V = (size_t)X * Y * Z;
    for (int bb = 0; bb < B; bb++) {
        if (dw) hb_conv3_wgrad(dw, db, dout + bb * V * Co, in + bb * V * Ci, Ci, Co, X, Y, Z, HB_XWRAP, col);
        else if (db) bias_grad(db, dout + bb * V * Co, V, Co);
        if (din) hb_conv3_igrad(din + bb * V * Ci, dout + bb * V * Co, w, Ci, Co, X, Y, Z, HB_XWRAP, 0, X, col, dcol);
    }
}

/* ---- 2x2x2 stride 2 ---------------------------------------------------- */

/* col[(r*Zo + zo)][(tap, c)] = in(2xo+a, 2yo+b, 2zo+c) for output rows [row0, row0+nrows). */
static void im2col_down(float *col, const float *in, int C, int X, int Y, int Z, int row0, int nrows)
{
    const int Yo = Y / 2, Zo = Z / 2, K = 8 * C;
    (void)X;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < nrows; r++) {
        int xo = (row0 + r) / Yo, yo = (row0 + r) % Yo;
        for (int a = 0; a < 2; a++)
            for (int bb = 0; bb < 2; bb++) {
                const float *src = in + ((size_t)(2 * xo + a) * Y + (2 * yo + bb)) * Z * C;
                for (int zo = 0; zo < Zo; zo++)
                    for (int c = 0; c < 2; c++) {
                        int tap = (a * 2 + bb) * 2 + c;
                        memcpy(col + ((size_t)r * Zo + zo) * K + (size_t)tap * C, src + (size_t)(2 * zo + c) * C,
                               (size_t)C * sizeof *col);
                    }
            }
    }
}

/* The adjoint: din(2xo+a, ...) += dcol[...] (each input voxel once: no conflicts). */
static void col2im_down(float *din, const float *dcol, int C, int X, int Y, int Z, int row0, int nrows)
{
    const int Yo = Y / 2, Zo = Z / 2, K = 8 * C;
    (void)X;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < nrows; r++) {
        int xo = (row0 + r) / Yo, yo = (row0 + r) % Yo;
        for (int a = 0; a < 2; a++)
            for (int bb = 0; bb < 2; bb++) {
                float *dst = din + ((size_t)(2 * xo + a) * Y + (2 * yo + bb)) * Z * C;
                for (int zo = 0; zo < Zo; zo++)
                    for (int c = 0; c < 2; c++) {
                        int tap = (a * 2 + bb) * 2 + c;
                        const float *src = dcol + ((size_t)r * Zo + zo) * K + (size_t)tap * C;
                        float *d = dst + (size_t)(2 * zo + c) * C;
                        for (int ch = 0; ch < C; ch++) d[ch] += src[ch];
                    }
            }
    }
}

void hb_down_forward(float *out, const float *in, const float *w, const float *b, int B, int Ci,
                     int Co, int X, int Y, int Z, float *col)
{
    const int K = 8 * Ci, Zo = Z / 2, rows = (X / 2) * (Y / 2), cr = chunk_rows(K, Zo, rows);
    const size_t Vi = (size_t)X * Y * Z, Vo = (size_t)rows * Zo;
    for (int bi = 0; bi < B; bi++)
        for (int r0 = 0; r0 < rows; r0 += cr) {
            int nr = rows - r0 < cr ? rows - r0 : cr;
            im2col_down(col, in + (size_t)bi * Vi * Ci, Ci, X, Y, Z, r0, nr);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr * Zo, Co, K, 1.0f, col, K, w, Co,
                        0.0f, out + ((size_t)bi * Vo + (size_t)r0 * Zo) * Co, Co);
        }
    add_bias(out, b, (size_t)B * Vo, Co);
}

void hb_down_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                      const float *w, int B, int Ci, int Co, int X, int Y, int Z, float *col,
                      float *dcol)
{
    const int K = 8 * Ci, Zo = Z / 2, rows = (X / 2) * (Y / 2), cr = chunk_rows(K, Zo, rows);
    const size_t Vi = (size_t)X * Y * Z, Vo = (size_t)rows * Zo;
    (void)col;
    for (int bi = 0; bi < B; bi++)
        for (int r0 = 0; r0 < rows; r0 += cr) {
            int nr = rows - r0 < cr ? rows - r0 : cr;
            const float *doutc = dout + ((size_t)bi * Vo + (size_t)r0 * Zo) * Co;
            if (dw) {
                im2col_down(dcol, in + (size_t)bi * Vi * Ci, Ci, X, Y, Z, r0, nr);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, Co, nr * Zo, 1.0f, dcol, K, doutc, Co,
                            1.0f, dw, Co);
            }
            if (din) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr * Zo, K, Co, 1.0f, doutc, Co, w, Co,
                            0.0f, dcol, K);
                col2im_down(din + (size_t)bi * Vi * Ci, dcol, Ci, X, Y, Z, r0, nr);
            }
        }
    bias_grad(db, dout, (size_t)B * Vo, Co);
}

/* ---- transposed 2x2x2 stride 2 ----------------------------------------- */

/* out(2x+a, 2y+b, 2z+c)[co] = y[v][(tap, co)] (+ bias) for input rows [row0, row0+nrows). */
static void scatter_up(float *out, const float *y, const float *bias, int Co, int X, int Y, int Z,
                       int row0, int nrows)
{
    const int K = 8 * Co, Yu = 2 * Y, Zu = 2 * Z;
    (void)X;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < nrows; r++) {
        int x = (row0 + r) / Y, yy = (row0 + r) % Y;
        for (int z = 0; z < Z; z++)
            for (int tap = 0; tap < 8; tap++) {
                int a = tap >> 2, bb = (tap >> 1) & 1, c = tap & 1;
                float *dst = out + (((size_t)(2 * x + a) * Yu + (2 * yy + bb)) * Zu + (2 * z + c)) * Co;
                const float *src = y + ((size_t)r * Z + z) * K + (size_t)tap * Co;
                for (int ch = 0; ch < Co; ch++) dst[ch] = src[ch] + (bias ? bias[ch] : 0.0f);
            }
    }
}

static void gather_up(float *dy, const float *dout, int Co, int X, int Y, int Z, int row0, int nrows)
{
    const int K = 8 * Co, Yu = 2 * Y, Zu = 2 * Z;
    (void)X;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < nrows; r++) {
        int x = (row0 + r) / Y, yy = (row0 + r) % Y;
        for (int z = 0; z < Z; z++)
            for (int tap = 0; tap < 8; tap++) {
                int a = tap >> 2, bb = (tap >> 1) & 1, c = tap & 1;
                memcpy(dy + ((size_t)r * Z + z) * K + (size_t)tap * Co,
                       dout + (((size_t)(2 * x + a) * Yu + (2 * yy + bb)) * Zu + (2 * z + c)) * Co,
                       (size_t)Co * sizeof *dy);
            }
    }
}

void hb_up_forward(float *out, const float *in, const float *w, const float *b, int B, int Ci,
                   int Co, int X, int Y, int Z, float *col)
{
    const int K = 8 * Co, rows = X * Y, cr = chunk_rows(K, Z, rows);
    const size_t Vi = (size_t)rows * Z, Vo = 8 * Vi;
    for (int bi = 0; bi < B; bi++)
        for (int r0 = 0; r0 < rows; r0 += cr) {
            int nr = rows - r0 < cr ? rows - r0 : cr;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr * Z, K, Ci, 1.0f,
                        in + ((size_t)bi * Vi + (size_t)r0 * Z) * Ci, Ci, w, K, 0.0f, col, K);
            scatter_up(out + (size_t)bi * Vo * Co, col, b, Co, X, Y, Z, r0, nr);
        }
}

void hb_up_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                    const float *w, int B, int Ci, int Co, int X, int Y, int Z, float *dcol)
{
    const int K = 8 * Co, rows = X * Y, cr = chunk_rows(K, Z, rows);
    const size_t Vi = (size_t)rows * Z, Vo = 8 * Vi;
    for (int bi = 0; bi < B; bi++)
        for (int r0 = 0; r0 < rows; r0 += cr) {
            int nr = rows - r0 < cr ? rows - r0 : cr;
            gather_up(dcol, dout + (size_t)bi * Vo * Co, Co, X, Y, Z, r0, nr);
            const float *inc = in + ((size_t)bi * Vi + (size_t)r0 * Z) * Ci;
            if (dw) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Ci, K, nr * Z, 1.0f, inc, Ci, dcol, K,
                                1.0f, dw, K);
            if (din) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr * Z, Ci, K, 1.0f, dcol, K, w, K,
                                 1.0f, din + ((size_t)bi * Vi + (size_t)r0 * Z) * Ci, Ci);
        }
    bias_grad(db, dout, (size_t)B * Vo, Co);
}

/* ---- 1x1x1, linear ----------------------------------------------------- */

void hb_conv1_forward(float *out, const float *in, const float *w, const float *b, int B, int Ci,
                      int Co, size_t V)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(B * V), Co, Ci, 1.0f, in, Ci, w, Co,
                0.0f, out, Co);
    add_bias(out, b, (size_t)B * V, Co);
}

void hb_conv1_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                       const float *w, int B, int Ci, int Co, size_t V)
{
    if (dw) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Ci, Co, (int)(B * V), 1.0f, in, Ci, dout,
                        Co, 1.0f, dw, Co);
    if (din) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(B * V), Ci, Co, 1.0f, dout, Co, w,
                         Co, 1.0f, din, Ci);
    bias_grad(db, dout, (size_t)B * V, Co);
}

void hb_linear_forward(float *out, const float *in, const float *w, const float *b, int B, int NI, int NO)
{
    for (int n = 0; n < B; n++)
        for (int o = 0; o < NO; o++) {
            float s = b ? b[o] : 0.0f;
            for (int i = 0; i < NI; i++) s += in[n * NI + i] * w[o * NI + i];
            out[n * NO + o] = s;
        }
}

void hb_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                        const float *w, int B, int NI, int NO)
{
    for (int n = 0; n < B; n++)
        for (int o = 0; o < NO; o++) {
            float g = dout[n * NO + o];
            if (db) db[o] += g;
            for (int i = 0; i < NI; i++) {
                if (dw) dw[o * NI + i] += g * in[n * NI + i];
                if (din) din[n * NI + i] += g * w[o * NI + i];
            }
        }
}

/* ---- element-wise ------------------------------------------------------ */

/* Sigmoid 1 / (1 + e^-x) of n floats. With glibc's vector math library
 * (libmvec, HB_VEXPF: found by CMake on x86-64 with AVX2) e^-x comes 8
 * lanes at a time from _ZGVdN8v_expf, the tail through one zero-padded
 * vector: every element goes through the same code whatever its position,
 * so results do not depend on blocking, thread or rank counts. The scalar
 * expf call left the SiLU and FiLM loops unvectorised: 12% of a training
 * step on a Zen 2 core. */
#if defined(HB_VEXPF)
__m256 _ZGVdN8v_expf(__m256 x);   /* libmvec's AVX2 expf (x86-64 vector function ABI) */

static inline __m256 sigmoid8(__m256 x)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 e = _ZGVdN8v_expf(_mm256_xor_ps(x, _mm256_set1_ps(-0.0f)));
    return _mm256_div_ps(one, _mm256_add_ps(one, e));
}

void hb_sigmoid(float *s, const float *x, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(s + i, sigmoid8(_mm256_loadu_ps(x + i)));
    if (i < n) {
        float t[8] = {0};
        memcpy(t, x + i, (n - i) * sizeof *t);
        _mm256_storeu_ps(t, sigmoid8(_mm256_loadu_ps(t)));
        memcpy(s + i, t, (n - i) * sizeof *t);
    }
}
#else
void hb_sigmoid(float *s, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) s[i] = 1.0f / (1.0f + expf(-x[i]));
}
#endif

/* The element-wise loops below go in blocks of SB floats: a block of
 * arguments, its sigmoids, then the block's outputs. */
enum { SB = 64 };

void hb_silu_forward(float *out, const float *in, size_t n)
{
#pragma omp parallel for schedule(static)
    for (size_t i0 = 0; i0 < n; i0 += SB) {
        size_t m = n - i0 < SB ? n - i0 : SB;
        float s[SB];
        hb_sigmoid(s, in + i0, m);
        for (size_t i = 0; i < m; i++) out[i0 + i] = in[i0 + i] * s[i];
    }
}

void hb_silu_backward(float *din, const float *dout, const float *in, size_t n)
{
#pragma omp parallel for schedule(static)
    for (size_t i0 = 0; i0 < n; i0 += SB) {
        size_t m = n - i0 < SB ? n - i0 : SB;
        float s[SB];
        hb_sigmoid(s, in + i0, m);
        for (size_t i = 0; i < m; i++) din[i0 + i] += dout[i0 + i] * s[i] * (1.0f + in[i0 + i] * (1.0f - s[i]));
    }
}

void hb_film_forward(float *out, const float *h, const float *ss, int B, int C, size_t V)
{
    for (int b = 0; b < B; b++) {
        const float *sc = ss + (size_t)b * 2 * C, *sh = sc + C;
        const float *hb = h + (size_t)b * V * C;
        float *ob = out + (size_t)b * V * C;
#pragma omp parallel for schedule(static)
        for (size_t v = 0; v < V; v++)
            for (int c = 0; c < C; c++) ob[v * C + c] = hb[v * C + c] * (1.0f + sc[c]) + sh[c];
    }
}

/* The FiLM gradients of one sample: dss = (sum_v g h, sum_v g) per channel,
 * accumulated in double (V is large); dh += g (1 + scale) when dh != NULL.
 * All pointers point at this sample. */
static void film_grads(float *dh, float *dss, const float *g, const float *h, const float *scale,
                       int C, size_t V)
{
    double *acc = calloc(2 * (size_t)C, sizeof *acc);
    for (size_t v = 0; v < V; v++)
        for (int c = 0; c < C; c++) {
            float gv = g[v * C + c];
            acc[c] += (double)gv * h[v * C + c];
            acc[C + c] += gv;
            if (dh) dh[v * C + c] += gv * (1.0f + scale[c]);
        }
    for (int c = 0; c < 2 * C; c++) dss[c] += (float)acc[c];
    free(acc);
}

void hb_film_backward(float *dh, float *dss, const float *dout, const float *h, const float *ss,
                      int B, int C, size_t V)
{
    for (int b = 0; b < B; b++) {
        size_t o = (size_t)b * V * C;
        film_grads(dh ? dh + o : NULL, dss + (size_t)b * 2 * C, dout + o, h + o, ss + (size_t)b * 2 * C, C, V);
    }
}

/* f = FiLM(h) of voxel channels [c0, c0 + m) and their sigmoids. */
static inline void film_sigmoid(float *restrict f, float *restrict s, const float *restrict h,
                                const float *sc, const float *sh, int c0, int m)
{
    for (int c = 0; c < m; c++) f[c] = h[c] * (1.0f + sc[c0 + c]) + sh[c0 + c];
    hb_sigmoid(s, f, (size_t)m);
}

/* g = d SiLU'(f) for the same channels (g, d at the voxel's channel c0). */
static inline void film_silu_dgrad(float *restrict g, const float *restrict d, const float *h, const float *sc,
                                   const float *sh, int c0, int m)
{
    float f[SB], s[SB];
    film_sigmoid(f, s, h, sc, sh, c0, m);
    for (int c = 0; c < m; c++) g[c] = d[c] * s[c] * (1.0f + f[c] * (1.0f - s[c]));
}

void hb_film_silu_forward(float *out, const float *h, const float *ss, int B, int C, size_t V)
{
    for (int b = 0; b < B; b++) {
        const float *sc = ss + (size_t)b * 2 * C, *sh = sc + C;
        const float *hb = h + (size_t)b * V * C;
        float *ob = out + (size_t)b * V * C;
#pragma omp parallel for schedule(static)
        for (size_t v = 0; v < V; v++)
            for (int c0 = 0; c0 < C; c0 += SB) {
                int m = C - c0 < SB ? C - c0 : SB;
                float f[SB], s[SB];
                film_sigmoid(f, s, hb + v * C + c0, sc, sh, c0, m);
                for (int c = 0; c < m; c++) ob[v * C + c0 + c] = f[c] * s[c];
            }
    }
}

void hb_film_silu_backward(float *dh, float *dss, const float *dout, const float *h, const float *ss,
                           int B, int C, size_t V)
{
    /* g = dout * SiLU'(f), then the FiLM gradients of g */
    float *g = malloc((size_t)V * C * sizeof *g);
    for (int b = 0; b < B; b++) {
        const float *sc = ss + (size_t)b * 2 * C, *sh = sc + C;
        const float *hb = h + (size_t)b * V * C, *db = dout + (size_t)b * V * C;
#pragma omp parallel for schedule(static)
        for (size_t v = 0; v < V; v++)
            for (int c0 = 0; c0 < C; c0 += SB) {
                size_t i = v * C + c0;
                film_silu_dgrad(g + i, db + i, hb + i, sc, sh, c0, C - c0 < SB ? C - c0 : SB);
            }
        size_t o = (size_t)b * V * C;
        film_grads(dh ? dh + o : NULL, dss + (size_t)b * 2 * C, g, hb, sc, C, V);
    }
    free(g);
}

void hb_film_silu_grad_inplace(float *hd, float *dss, const float *ds, const float *ss, int C, size_t V)
{
    const float *sc = ss, *sh = ss + C;
    /* per-channel sums in double over fixed chunks, combined in order: the
     * same bits for any thread count */
    enum { NCHUNK = 32 };
    double *part = calloc((size_t)NCHUNK * 2 * C, sizeof *part);
#pragma omp parallel for schedule(static)
    for (int k = 0; k < NCHUNK; k++) {
        double *acc = part + (size_t)k * 2 * C;
        for (size_t v = V * k / NCHUNK; v < V * (k + 1) / NCHUNK; v++)
            for (int c0 = 0; c0 < C; c0 += SB) {
                int m = C - c0 < SB ? C - c0 : SB;
                float g[SB], *h = hd + v * C + c0;
                film_silu_dgrad(g, ds + v * C + c0, h, sc, sh, c0, m);
                for (int c = 0; c < m; c++) {
                    acc[c0 + c] += (double)g[c] * h[c];
                    acc[C + c0 + c] += g[c];
                    h[c] = g[c] * (1.0f + sc[c0 + c]);
                }
            }
    }
    for (int k = 0; k < NCHUNK; k++)
        for (int c = 0; c < 2 * C; c++) dss[c] += (float)part[(size_t)k * 2 * C + c];
    free(part);
}

void hb_silu_grad_inplace(float *d, const float *g, size_t n)
{
#pragma omp parallel for schedule(static)
    for (size_t i0 = 0; i0 < n; i0 += SB) {
        size_t m = n - i0 < SB ? n - i0 : SB;
        float s[SB];
        hb_sigmoid(s, g + i0, m);
        for (size_t i = 0; i < m; i++) d[i0 + i] *= s[i] * (1.0f + g[i0 + i] * (1.0f - s[i]));
    }
}

void hb_concat_forward(float *out, const float *a, const float *b, int B, int Ca, int Cb, size_t V)
{
    const int C = Ca + Cb;
#pragma omp parallel for schedule(static)
    for (size_t v = 0; v < (size_t)B * V; v++) {
        memcpy(out + v * C, a + v * Ca, (size_t)Ca * sizeof *out);
        memcpy(out + v * C + Ca, b + v * Cb, (size_t)Cb * sizeof *out);
    }
}

void hb_concat_backward(float *da, float *db, const float *dout, int B, int Ca, int Cb, size_t V)
{
    const int C = Ca + Cb;
#pragma omp parallel for schedule(static)
    for (size_t v = 0; v < (size_t)B * V; v++) {
        for (int c = 0; c < Ca; c++) da[v * Ca + c] += dout[v * C + c];
        for (int c = 0; c < Cb; c++) db[v * Cb + c] += dout[v * C + Ca + c];
    }
}

void hb_add_forward(float *out, const float *a, const float *b, size_t n)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void hb_add_backward(float *da, float *db, const float *dout, size_t n)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        da[i] += dout[i];
        db[i] += dout[i];
    }
}

double hb_mse_forward_backward(float *dpred, const float *pred, const float *target, size_t n, float scale)
{
    /* fixed chunks summed in order: deterministic for any thread count */
    enum { NCHUNK = 64 };
    double part[NCHUNK];
    const float k = 2.0f * scale / (float)n;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < NCHUNK; c++) {
        size_t lo = n * c / NCHUNK, hi = n * (c + 1) / NCHUNK;
        double s = 0;
        for (size_t i = lo; i < hi; i++) {
            double d = (double)pred[i] - target[i];
            s += d * d;
            if (dpred) dpred[i] = k * (float)d;
        }
        part[c] = s;
    }
    double s = 0;
    for (int c = 0; c < NCHUNK; c++) s += part[c];
    return s / (double)n;
}

double hb_wmse_forward_backward(float *dpred, const float *pred, const float *target, const float *w, size_t n,
                                int C, float scale)
{
    enum { NCHUNK = 64 };   /* fixed chunks summed in order: deterministic for any thread count */
    double part[NCHUNK];
    const float k = 2.0f * scale / (float)(n * (size_t)C);
#pragma omp parallel for schedule(static)
    for (int c = 0; c < NCHUNK; c++) {
        double s = 0;
        for (size_t i = n * c / NCHUNK; i < n * (c + 1) / NCHUNK; i++) {
            const float wi = w ? w[i] : 1.0f;
            for (int j = 0; j < C; j++) {
                size_t q = i * (size_t)C + (size_t)j;
                double d = (double)pred[q] - target[q];
                s += wi * d * d;
                if (dpred) dpred[q] = k * wi * (float)d;
            }
        }
        part[c] = s;
    }
    double s = 0;
    for (int c = 0; c < NCHUNK; c++) s += part[c];
    return s / (double)(n * (size_t)C);
}

/* ---- references: plain loops in double --------------------------------- */

void hb_conv3_forward_ref(double *out, const double *in, const double *w, const double *b, int B,
                          int Ci, int Co, int X, int Y, int Z)
{
    for (int n = 0; n < B; n++)
        for (int x = 0; x < X; x++)
            for (int y = 0; y < Y; y++)
                for (int z = 0; z < Z; z++)
                    for (int co = 0; co < Co; co++) {
                        double s = b ? b[co] : 0;
                        for (int kx = 0; kx < 3; kx++)
                            for (int ky = 0; ky < 3; ky++)
                                for (int kz = 0; kz < 3; kz++) {
                                    int xs = (x + kx - 1 + X) % X, ys = (y + ky - 1 + Y) % Y, zs = (z + kz - 1 + Z) % Z;
                                    int tap = (kx * 3 + ky) * 3 + kz;
                                    for (int ci = 0; ci < Ci; ci++)
                                        s += w[((size_t)tap * Ci + ci) * Co + co] *
                                             in[((((size_t)n * X + xs) * Y + ys) * Z + zs) * Ci + ci];
                                }
                        out[((((size_t)n * X + x) * Y + y) * Z + z) * Co + co] = s;
                    }
}

void hb_down_forward_ref(double *out, const double *in, const double *w, const double *b, int B,
                         int Ci, int Co, int X, int Y, int Z)
{
    int Xo = X / 2, Yo = Y / 2, Zo = Z / 2;
    for (int n = 0; n < B; n++)
        for (int x = 0; x < Xo; x++)
            for (int y = 0; y < Yo; y++)
                for (int z = 0; z < Zo; z++)
                    for (int co = 0; co < Co; co++) {
                        double s = b ? b[co] : 0;
                        for (int tap = 0; tap < 8; tap++) {
                            int a = tap >> 2, bb = (tap >> 1) & 1, c = tap & 1;
                            for (int ci = 0; ci < Ci; ci++)
                                s += w[((size_t)tap * Ci + ci) * Co + co] *
                                     in[((((size_t)n * X + 2 * x + a) * Y + 2 * y + bb) * Z + 2 * z + c) * Ci + ci];
                        }
                        out[((((size_t)n * Xo + x) * Yo + y) * Zo + z) * Co + co] = s;
                    }
}

void hb_up_forward_ref(double *out, const double *in, const double *w, const double *b, int B,
                       int Ci, int Co, int X, int Y, int Z)
{
    int Xu = 2 * X, Yu = 2 * Y, Zu = 2 * Z;
    for (int n = 0; n < B; n++)
        for (int x = 0; x < Xu; x++)
            for (int y = 0; y < Yu; y++)
                for (int z = 0; z < Zu; z++) {
                    int tap = ((x & 1) * 2 + (y & 1)) * 2 + (z & 1);
                    for (int co = 0; co < Co; co++) {
                        double s = b ? b[co] : 0;
                        for (int ci = 0; ci < Ci; ci++)
                            s += w[((size_t)ci * 8 + tap) * Co + co] *
                                 in[((((size_t)n * X + x / 2) * Y + y / 2) * Z + z / 2) * Ci + ci];
                        out[((((size_t)n * Xu + x) * Yu + y) * Zu + z) * Co + co] = s;
                    }
                }
}
