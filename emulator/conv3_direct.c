/* Direct 3x3x3 periodic convolution, channels last, for output channel
 * counts that are multiples of the vector width VW (16 floats with AVX-512,
 * 8 with AVX, 4 otherwise: the reference U-Net's at w = 16, 32, ...).
 *
 * im2col + SGEMM spends more time copying (im2col, then OpenBLAS packing the
 * copy again) than multiplying. Here the input is copied once, in chunks of
 * x-planes, into a buffer padded by one voxel in x and z (y wraps through row
 * pointers), and a register-blocked kernel reads it in place: NZ consecutive
 * output voxels times NV vectors of VW output channels stay in registers over
 * all 27 taps and input channels. The vectors are GCC vector extensions of the
 * ISA's own width, and the blocks are sized to its register file (32 vector
 * registers with AVX-512, 16 otherwise) with enough independent accumulators
 * (NZ x NV >= 12) to keep both FMA pipes busy. The blocking does not change
 * the order of any sum: results are bitwise the same for every block size.
 * With 16 registers the output channels go in blocks of at most NV = 2
 * vectors (NZ = 6): NV = 4 (NZ = 3) has no register left for the weights,
 * loads 15 operands per 12 FMAs against 8, and made the demo's training
 * step 13-15% slower on a Zen 2 core.
 *
 * The weight gradient runs over tasks (tap, block of input channels, block of
 * output channels), each summing over every voxel of a chunk in a fixed order
 * into its own entries: the result does not depend on the thread count. */
#include "nn_internal.h"

#include "hb/nn.h"

#include <string.h>
#if defined(__FMA__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#if defined(__AVX512F__)
#define VW 16
/* output voxels per block (forward) and input channels per block (weight
 * gradient) for NV = 1, 2, 3, 4 vectors: NV x block accumulators + NV loads <= 32 */
#define B1 16
#define B2 8
#define B3 6
#define B4 4
#define NVMAX 4   /* output-channel vectors per block */
#else
#if defined(__AVX__)
#define VW 8
#else
#define VW 4
#endif
/* 16 registers: 12 accumulators cover the FMA latency on two pipes (8, the
 * earlier blocking, left a Zen 2 core latency-bound: training step 20%
 * slower); the weight vectors can be FMA memory operands, so NV = 4 still
 * fits 3 x 4 */
#define B1 12
#define B2 6
#define B3 4
#define B4 3
#define NVMAX 2
#endif
typedef float vec __attribute__((vector_size(4 * VW), aligned(4)));   /* unaligned loads allowed */

/* padded input per chunk: 1 MB, about one core's L2 */
static size_t chunk_floats = 1u << 18;
static int nv_max = NVMAX;

void hb_conv3_direct_set_chunk(size_t floats) { chunk_floats = floats ? floats : 1u << 18; }
void hb_conv3_direct_set_vectors(int nv) { nv_max = nv >= 1 && nv <= 4 ? nv : NVMAX; }

/* x-planes of output per chunk for C channels on a (Y, Z) plane. */
static int chunk_planes(int C, int X, int Y, int Z)
{
    long per = (long)Y * (Z + 2) * C;
    long n = (long)(chunk_floats / (size_t)per) - 2;
    if (n < 1) n = 1;
    if (n > X) n = X;
    return (int)n;
}

int hb_conv3_direct_ok(int Ci, int Co) { return Ci > 0 && Co % VW == 0 && Co > 0; }

size_t hb_conv3_direct_workspace(int C, int X, int Y, int Z)
{
    return (size_t)(chunk_planes(C, X, Y, Z) + 2) * Y * (Z + 2) * C;
}

/* pad[(xx, y, zz)] = in(x0 + xx - 1, y, wrap(zz - 1)) for xx in [0, nx+2), zz in [0, Z+2):
 * x wraps within X planes (HB_XWRAP) or reads the halo planes of an input
 * of X + 2 planes whose plane 0 is x = -1 (HB_XHALO). */
static void pad_chunk(float *pad, const float *in, int C, int X, int Y, int Z, int x0, int nx, int xmode)
{
    const size_t zr = (size_t)(Z + 2) * C, row = (size_t)Z * C;
#pragma omp for schedule(static)
    for (int r = 0; r < (nx + 2) * Y; r++) {
        int xx = r / Y, y = r % Y;
        int xs = xmode == HB_XHALO ? x0 + xx : ((x0 + xx - 1) % X + X) % X;
        const float *src = in + ((size_t)xs * Y + y) * row;
        float *dst = pad + (size_t)r * zr;
        memcpy(dst, src + row - C, (size_t)C * sizeof *dst);
        memcpy(dst + C, src, row * sizeof *dst);
        memcpy(dst + C + row, src, (size_t)C * sizeof *dst);
    }
}

/* The nine padded rows (kx, ky) feeding output row (xx, y) of a chunk. */
static void row_pointers(const float *rows[9], const float *pad, int C, int Y, int Z, int xx, int y)
{
    const size_t zr = (size_t)(Z + 2) * C;
    for (int kx = 0; kx < 3; kx++)
        for (int ky = 0; ky < 3; ky++) {
            int ys = y + ky - 1;
            ys = ys < 0 ? ys + Y : (ys >= Y ? ys - Y : ys);
            rows[kx * 3 + ky] = pad + ((size_t)(xx + kx) * Y + ys) * zr;
        }
}

/* The accumulator block of both kernels: acc[i][v] for i < NA, v < NV, kept in
 * registers (fixed array sizes; the loops unroll fully once NA and NV are constants). */
static inline __attribute__((always_inline)) void acc_zero(vec acc[16][4], const int NA, const int NV)
{
#pragma GCC unroll 16
    for (int i = 0; i < NA; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[i][v] = (vec){0};
}

/* acc + x b, one rounding where the ISA has FMA. Written out, since GCC's
 * tuning for AMD cores (avoid_fma_chains) turns the lone accumulator of a
 * one-voxel, one-vector block into a multiply and an add, whose result then
 * differs from every other blocking's in the last bit. */
static inline __attribute__((always_inline)) vec fma_bcast(float x, vec b, vec acc)
{
#if defined(__AVX512F__)
    return (vec)_mm512_fmadd_ps(_mm512_set1_ps(x), (__m512)b, (__m512)acc);
#elif defined(__FMA__)
    return (vec)_mm256_fmadd_ps(_mm256_set1_ps(x), (__m256)b, (__m256)acc);
#else
    return acc + x * b;
#endif
}

/* acc[i][v] += a[i * stride] * b[v]: one rank-1 update of the block. */
static inline __attribute__((always_inline)) void acc_outer(vec acc[16][4], const float *a, size_t stride,
                                                             const vec b[4], const int NA, const int NV)
{
#pragma GCC unroll 16
    for (int i = 0; i < NA; i++) {
        float x = a[(size_t)i * stride];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[i][v] = fma_bcast(x, b[v], acc[i][v]);
    }
}

/* out[j][c0 .. c0+VW NV) (+)= bias + sum over taps and ci, for NZ voxels
 * starting at padded z offset z0 of the nine rows. */
static inline __attribute__((always_inline)) void fwd_block(float *restrict out,
        const float *const rows[9], int z0, const float *restrict w, const float *restrict bias,
        int Ci, int Co, int c0, int accumulate, const int NV, const int NZ)
{
    vec acc[16][4];
    acc_zero(acc, NZ, NV);
    for (int r = 0; r < 9; r++)
        for (int kz = 0; kz < 3; kz++) {
            const float *s = rows[r] + (size_t)(z0 + kz) * Ci;
            const float *wt = w + (size_t)(r * 3 + kz) * Ci * Co + c0;
            for (int ci = 0; ci < Ci; ci++) {
                vec wv[4];
#pragma GCC unroll 4
                for (int v = 0; v < NV; v++) wv[v] = *(const vec *)(wt + (size_t)ci * Co + VW * v);
                acc_outer(acc, s + ci, (size_t)Ci, wv, NZ, NV);
            }
        }
#pragma GCC unroll 16
    for (int j = 0; j < NZ; j++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            vec *o = (vec *)(out + (size_t)j * Co + c0 + VW * v);
            vec x = acc[j][v];
            if (bias) x += *(const vec *)(bias + c0 + VW * v);
            *o = accumulate ? *o + x : x;
        }
}

/* One output row of Z voxels, channels [c0, c0 + VW NV): blocks of NZ, then
 * the remainder in blocks of 8, 4, 2, 1. */
#define FWD_ROW(NV, NZ)                                                                            \
    static void fwd_row_##NV(float *out, const float *const rows[9], int Z, const float *w,        \
                             const float *bias, int Ci, int Co, int c0, int accumulate)           \
    {                                                                                              \
        int z = 0;                                                                                 \
        for (; z + NZ <= Z; z += NZ)                                                               \
            fwd_block(out + (size_t)z * Co, rows, z, w, bias, Ci, Co, c0, accumulate, NV, NZ);     \
        if (NZ > 8 && z + 8 <= Z) {                                                                \
            fwd_block(out + (size_t)z * Co, rows, z, w, bias, Ci, Co, c0, accumulate, NV, 8);      \
            z += 8;                                                                                \
        }                                                                                          \
        if (NZ > 4 && z + 4 <= Z) {                                                                \
            fwd_block(out + (size_t)z * Co, rows, z, w, bias, Ci, Co, c0, accumulate, NV, 4);      \
            z += 4;                                                                                \
        }                                                                                          \
        if (NZ > 2 && z + 2 <= Z) {                                                                \
            fwd_block(out + (size_t)z * Co, rows, z, w, bias, Ci, Co, c0, accumulate, NV, 2);      \
            z += 2;                                                                                \
        }                                                                                          \
        for (; z < Z; z++)                                                                         \
            fwd_block(out + (size_t)z * Co, rows, z, w, bias, Ci, Co, c0, accumulate, NV, 1);      \
    }
FWD_ROW(1, B1)
FWD_ROW(2, B2)
FWD_ROW(3, B3)
FWD_ROW(4, B4)

void hb_conv3_direct(float *out, const float *in, const float *w, const float *b, int Ci, int Co, int X, int Y,
                     int Z, int xmode, int xa, int xb, float *pad, int accumulate)
{
    const int nxc = chunk_planes(Ci, X, Y, Z);
#pragma omp parallel
    for (int x0 = xa; x0 < xb; x0 += nxc) {
        int nx = xb - x0 < nxc ? xb - x0 : nxc;
        pad_chunk(pad, in, Ci, X, Y, Z, x0, nx, xmode);   /* ends in a barrier */
        float *ob = out + (size_t)x0 * Y * Z * Co;
#pragma omp for schedule(static)
        for (int r = 0; r < nx * Y; r++) {
            const float *rows[9];
            row_pointers(rows, pad, Ci, Y, Z, r / Y, r % Y);
            float *o = ob + (size_t)r * Z * Co;
            for (int c0 = 0; c0 < Co; c0 += nv_max * VW) {
                int nv = (Co - c0) / VW < nv_max ? (Co - c0) / VW : nv_max;
                if (nv == 4) fwd_row_4(o, rows, Z, w, b, Ci, Co, c0, accumulate);
                else if (nv == 3) fwd_row_3(o, rows, Z, w, b, Ci, Co, c0, accumulate);
                else if (nv == 2) fwd_row_2(o, rows, Z, w, b, Ci, Co, c0, accumulate);
                else fwd_row_1(o, rows, Z, w, b, Ci, Co, c0, accumulate);
            }
        }   /* implicit barrier: the next chunk may overwrite pad */
    }
}

/* dw[tap][ci0 + i][c0 + VW v] += sum over the chunk's voxels of
 * in(voxel + offset(tap))[ci0 + i] * dout(voxel)[c0 + VW v], i < NCI, v < NV. */
static inline __attribute__((always_inline)) void dw_block(float *restrict dw, const float *pad,
        const float *dout, int tap, int ci0, int c0, int Ci, int Co, int nx, int Y, int Z,
        const int NV, const int NCI)
{
    const int kx = tap / 9, ky = tap / 3 % 3, kz = tap % 3;
    vec acc[16][4];
    acc_zero(acc, NCI, NV);
    const size_t zr = (size_t)(Z + 2) * Ci;
    for (int xx = 0; xx < nx; xx++)
        for (int y = 0; y < Y; y++) {
            int ys = y + ky - 1;
            ys = ys < 0 ? ys + Y : (ys >= Y ? ys - Y : ys);
            const float *s = pad + ((size_t)(xx + kx) * Y + ys) * zr + (size_t)kz * Ci + ci0;
            const float *d = dout + ((size_t)xx * Y + y) * Z * Co + c0;
            for (int z = 0; z < Z; z++) {
                vec dv[4];
#pragma GCC unroll 4
                for (int v = 0; v < NV; v++) dv[v] = *(const vec *)(d + (size_t)z * Co + VW * v);
                acc_outer(acc, s + (size_t)z * Ci, 1, dv, NCI, NV);
            }
        }
#pragma GCC unroll 16
    for (int i = 0; i < NCI; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            vec *o = (vec *)(dw + ((size_t)tap * Ci + ci0 + i) * Co + c0 + VW * v);
            *o += acc[i][v];
        }
}

/* All input channels [ci0, ci1) of one (tap, c0) task, NCI at a time, then the remainder. */
#define DW_TASK(NV, NCI)                                                                           \
    static void dw_task_##NV(float *dw, const float *pad, const float *dout, int tap, int ci0,    \
                             int ci1, int c0, int Ci, int Co, int nx, int Y, int Z)                \
    {                                                                                              \
        int ci = ci0;                                                                              \
        for (; ci + NCI <= ci1; ci += NCI)                                                         \
            dw_block(dw, pad, dout, tap, ci, c0, Ci, Co, nx, Y, Z, NV, NCI);                       \
        if (NCI > 8 && ci + 8 <= ci1) {                                                            \
            dw_block(dw, pad, dout, tap, ci, c0, Ci, Co, nx, Y, Z, NV, 8);                         \
            ci += 8;                                                                               \
        }                                                                                          \
        if (NCI > 4 && ci + 4 <= ci1) {                                                            \
            dw_block(dw, pad, dout, tap, ci, c0, Ci, Co, nx, Y, Z, NV, 4);                         \
            ci += 4;                                                                               \
        }                                                                                          \
        if (NCI > 2 && ci + 2 <= ci1) {                                                            \
            dw_block(dw, pad, dout, tap, ci, c0, Ci, Co, nx, Y, Z, NV, 2);                         \
            ci += 2;                                                                               \
        }                                                                                          \
        for (; ci < ci1; ci++) dw_block(dw, pad, dout, tap, ci, c0, Ci, Co, nx, Y, Z, NV, 1);      \
    }
DW_TASK(1, B1)
DW_TASK(2, B2)
DW_TASK(3, B3)
DW_TASK(4, B4)

void hb_conv3_direct_dw(float *dw, const float *in, const float *dout, int Ci, int Co, int X, int Y, int Z,
                        int xmode, float *pad)
{
    const int nxc = chunk_planes(Ci, X, Y, Z);
    const int nvm = nv_max;
    const int nco = (Co + nvm * VW - 1) / (nvm * VW);   /* output-channel blocks of up to nv_max vectors */
    const int cib = Ci < 16 ? Ci : 16;    /* input channels per task */
    const int nci = (Ci + cib - 1) / cib;
    const int ntask = 27 * nci * nco;
#pragma omp parallel
    for (int x0 = 0; x0 < X; x0 += nxc) {
        int nx = X - x0 < nxc ? X - x0 : nxc;
        pad_chunk(pad, in, Ci, X, Y, Z, x0, nx, xmode);
        const float *db = dout + (size_t)x0 * Y * Z * Co;
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < ntask; t++) {
            int tap = t / (nci * nco), ib = t / nco % nci, c0 = t % nco * nvm * VW;
            int ci0 = ib * cib, ci1 = ci0 + cib < Ci ? ci0 + cib : Ci;
            int nv = (Co - c0) / VW < nvm ? (Co - c0) / VW : nvm;
            if (nv == 4) dw_task_4(dw, pad, db, tap, ci0, ci1, c0, Ci, Co, nx, Y, Z);
            else if (nv == 3) dw_task_3(dw, pad, db, tap, ci0, ci1, c0, Ci, Co, nx, Y, Z);
            else if (nv == 2) dw_task_2(dw, pad, db, tap, ci0, ci1, c0, Ci, Co, nx, Y, Z);
            else dw_task_1(dw, pad, db, tap, ci0, ci1, c0, Ci, Co, nx, Y, Z);
        }
    }
}
