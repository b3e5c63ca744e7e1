/*
 * matmul.c — single-precision GEMM and the linear-layer kernels built on it. See include/warm/kernels.h.
 *
 * Almost every FLOP of training goes through warm_sgemm: the linear layers (HF Conv1D weights [in, out]),
 * their two backward products (dinp = dout W^T, dweight = inp^T dout) and the tied LM head (x wte^T).
 *
 * Design (a GotoBLAS/BLIS loop nest written for row-major C; every thread works on its own buffers):
 *
 *   split C's columns into blocks of <= NC*KC/kc columns (and, for narrow N, its rows into slices); thread t
 *   takes a contiguous run of these work items, then for its items:
 *     for pc in K, kc at a time                         (kc <= KC, fixed by K alone)
 *       [a_resident: pack all its A panels for this pc once, reused by every column block]
 *       for each column block jc:
 *         pack op(B)[pc.., jc..] into NR-column panels  -> bp  (the thread's B block, stays in L2)
 *         for each group of MB A panels: pack op(A)[.., pc..] into MR-row panels -> ap (L2)
 *           for each A panel (kc x MR, stays in L1)
 *             for each B panel (kc x NR, streamed from L2)
 *               micro-kernel: MR x NR tile of C += A panel * B panel, in registers over all of kc
 *
 *   Packed layouts: an A panel is kc rows of MR floats, element (r, k) at ap[k*MR + r]; a B panel is kc rows
 *   of NR floats, element (k, j) at bp[k*NR + j]. Rows past M and columns past N are zero in the packs, so
 *   the micro-kernel always runs a full tile's arithmetic and edges are handled only in the write-back.
 *   Packing absorbs the transposes: the micro-kernel never sees transA/transB or lda/ldb. Packing right
 *   before use into small per-thread buffers matters: packing a whole 2048 x 384 A block into one shared
 *   buffer first (L3-resident) cost ~15% of the input-gradient product; packing a group into L2 costs ~4%.
 *
 *   Micro-kernel (AVX-512): MR = 12 rows x NR = 32 columns = 24 zmm accumulators; per k it loads two B
 *   vectors and broadcasts 12 A scalars, 24 FMAs per 14 loads; 24 independent chains cover the 4-cycle FMA
 *   latency on two FMA ports three times over. (8 x 32 and 14 x 32 measured within noise of it.) An AVX2
 *   variant runs the same packed tile as 6 x 16 sub-tiles; a portable C variant runs it with plain loops.
 *   The variant is picked per call with __builtin_cpu_supports (the build is not -march=native).
 *
 *   Two more paths, chosen by shape alone: tiny products (< SMALL_GEMM_MACS) run a plain triple loop, and
 *   products with few rows (decode, M <= DIRECT_MAX_M) skip packing and read the operands in place
 *   (gemm_direct: dot products of rows for A B^T, broadcast-FMA sweeps along B's rows otherwise).
 *
 * Determinism: C(i, j) = beta*C(i, j) + alpha*acc_1 + alpha*acc_2 + ..., one acc per kc block, each acc a
 * sequential sum over k (one FMA chain). kc depends only on K, and threads split rows and columns of C,
 * never K, so every element is computed by one thread in an order that does not depend on the thread
 * count or on where the work was split: results are bit-identical for any OMP_NUM_THREADS. (They may
 * differ between the AVX-512, AVX2 and portable variants and between the packed, dot and small paths;
 * which path runs depends only on the shape and the CPU.)
 *
 * beta = 0 never reads C (NaN in C is ignored); alpha = 0 or K = 0 only scales C by beta and reads neither
 * A nor B (BLAS semantics).
 *
 * Buffers: one ap + bp pair per thread (<= 2 MB each) is allocated per call with malloc. glibc serves
 * repeat allocations of that size from its heap without fresh page faults (not so aligned_alloc, see
 * gemm_packed); bench_matmul measures the cost (microseconds against milliseconds of work). There is no
 * static scratch, so calls may run concurrently from different threads. If allocation fails the call falls
 * back to the small path (slow, still correct).
 *
 * Testing hook: WARM_SGEMM_ISA=portable|avx2 in the environment caps the micro-kernel variant (it can only
 * lower it), so tests exercise every variant on an AVX-512 machine.
 */
#include "warm/kernels.h"

#include "warm/core.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define WARM_X86 1
#endif

/* OpenMP pragmas vanish without -fopenmp (asan/noomp builds) instead of tripping -Wunknown-pragmas. */
#ifdef _OPENMP
#define WARM_OMP(directive) _Pragma(#directive)
#else
#define WARM_OMP(directive)
#endif

enum {
    MR = 12,   /* rows of the register tile (see the design comment) */
    NR = 32,   /* columns of the register tile: two zmm vectors */
    KC = 384,  /* max depth of one packed block: a 384 x 32 B panel is 48 KB, the A panel 18 KB (L1: 48 KB) */
    NC = 480,  /* max columns of one thread's B block at kc = KC: 384 x 480 x 4 B = 720 KB of the 2 MB L2 (shallower
                * K blocks get proportionally wider B blocks in the same 720 KB, up to 4 NC; see plan_gemm) */
    MB = 8,    /* A panels packed together: 96 rows x 384 x 4 B = 144 KB, beside the B block in L2 */
};

/* Largest packed A kept for all column blocks: beside a 720 KB B block in the 2 MB L2 (M <= 852 at kc 384;
 * measured: 768 x 3072 x 4096 went from 147 to 156 GFLOP/s on one thread with the budget raised from 512 KB). */
#define A_RESIDENT_BYTES (1280 * 1024)

/* Up to this many rows the product skips packing (gemm_direct); DIRECT_COLS columns per work item. */
#define DIRECT_MAX_M 12
#define DIRECT_COLS 64

/* Below this many multiply-adds packing and threads do not pay; the unpacked loop is used (by shape only). */
#define SMALL_GEMM_MACS 8192
/* Below this many multiply-adds one thread does the packed product (forking costs a few microseconds). */
#define PARALLEL_GEMM_MACS (1 << 18)

/* Writes one tile: C = alpha*acc + beta*C (+ bias when beta == 0); m x n valid of the MR x NR tile. */
typedef void (*tile_fn)(int kc, const float *ap, const float *bp, float *c, int ldc, int m, int n, float alpha,
                        float beta, const float *bias);

/* Packs a transposed strip: dst[c*ldd + r] = r < rows ? src[r*lds + c] : 0, for c < cols, r < width. */
typedef void (*transpose_fn)(const float *src, size_t lds, int rows, int cols, float *dst, int ldd, int width);

/* Rows [i0, i0+m) x columns [j0, j0+n) of C straight from the unpacked operands (few-row paths). */
struct gemm_call;
typedef void (*direct_fn)(const struct gemm_call *g, int i0, int m, int j0, int n);

static int imin(int a, int b) { return a < b ? a : b; }
static int ceil_div(int a, int b) { return (a + b - 1) / b; }

/* Scalar write-back of an accumulator tile (row stride NR), shared by the AVX2 and portable kernels. */
static void tile_store(const float *acc, float *c, int ldc, int m, int n, float alpha, float beta, const float *bias) {
    for (int r = 0; r < m; r++) {
        float *cr = c + (size_t)r * ldc;
        const float *ar = acc + r * NR;
        if (beta == 0.0f) {
            for (int j = 0; j < n; j++) cr[j] = alpha * ar[j] + (bias ? bias[j] : 0.0f);
        } else if (beta == 1.0f) {
            for (int j = 0; j < n; j++) cr[j] = cr[j] + alpha * ar[j];
        } else {
            for (int j = 0; j < n; j++) cr[j] = beta * cr[j] + alpha * ar[j];
        }
    }
}

/*
 * Portable transposing pack. Walked in 16-column strips so that the rows being read (one cache line each) and
 * the strip of dst being written stay in L1; a plain row-by-row walk over a 384-deep panel touches 384 dst
 * lines per row and thrashes L1 (it cost ~30% of an LM-head product).
 */
static void transpose_portable(const float *src, size_t lds, int rows, int cols, float *dst, int ldd, int width) {
    for (int c0 = 0; c0 < cols; c0 += 16) {
        int c1 = imin(cols, c0 + 16);
        for (int r = 0; r < width; r++) {
            const float *s = src + (size_t)r * lds;
            for (int c = c0; c < c1; c++) dst[(size_t)c * ldd + r] = r < rows ? s[c] : 0.0f;
        }
    }
}

/* Portable micro-kernel: plain loops the compiler vectorises for the baseline ISA. */
static void tile_portable(int kc, const float *ap, const float *bp, float *c, int ldc, int m, int n, float alpha,
                          float beta, const float *bias) {
    float acc[MR * NR] = {0};
    for (int k = 0; k < kc; k++) {
        for (int r = 0; r < m; r++) {
            float a = ap[r];
            for (int j = 0; j < NR; j++) acc[r * NR + j] += a * bp[j];
        }
        ap += MR;
        bp += NR;
    }
    tile_store(acc, c, ldc, m, n, alpha, beta, bias);
}

#ifdef WARM_X86
/*
 * AVX-512 micro-kernel body for R rows (R is a compile-time constant at every call site, so the row loops
 * unroll and c0/c1 live in zmm registers).
 */
static inline __attribute__((always_inline, target("avx512f,fma"))) void
tile_avx512_rows(const int R, int kc, const float *ap, const float *bp, float *c, int ldc, int n, float alpha,
                 float beta, const float *bias) {
    __m512 c0[MR], c1[MR];
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) c0[r] = c1[r] = _mm512_setzero_ps();
    for (int k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
#pragma GCC unroll 12
        for (int r = 0; r < R; r++) {
            __m512 a = _mm512_set1_ps(ap[r]);
            c0[r] = _mm512_fmadd_ps(a, b0, c0[r]);
            c1[r] = _mm512_fmadd_ps(a, b1, c1[r]);
        }
        ap += MR;
        bp += NR;
    }
    /* Column masks for a partial tile (n < 32); a full tile uses all 32 lanes. */
    __mmask16 k0 = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
    __mmask16 k1 = n >= 32 ? (__mmask16)0xFFFF : n <= 16 ? (__mmask16)0 : (__mmask16)((1u << (n - 16)) - 1u);
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    __m512 bias0 = _mm512_setzero_ps(), bias1 = _mm512_setzero_ps();
    if (bias && beta == 0.0f) {
        bias0 = _mm512_maskz_loadu_ps(k0, bias);
        bias1 = _mm512_maskz_loadu_ps(k1, bias + 16);
    }
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
        float *cr = c + (size_t)r * ldc;
        __m512 v0 = _mm512_mul_ps(va, c0[r]), v1 = _mm512_mul_ps(va, c1[r]);
        if (beta == 0.0f) {
            v0 = _mm512_add_ps(v0, bias0);
            v1 = _mm512_add_ps(v1, bias1);
        } else if (beta == 1.0f) {
            v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(k0, cr), v0);
            v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(k1, cr + 16), v1);
        } else {
            v0 = _mm512_add_ps(_mm512_mul_ps(vb, _mm512_maskz_loadu_ps(k0, cr)), v0);
            v1 = _mm512_add_ps(_mm512_mul_ps(vb, _mm512_maskz_loadu_ps(k1, cr + 16)), v1);
        }
        _mm512_mask_storeu_ps(cr, k0, v0);
        _mm512_mask_storeu_ps(cr + 16, k1, v1);
    }
}

__attribute__((target("avx512f,fma"))) static void tile_avx512(int kc, const float *ap, const float *bp, float *c,
                                                                int ldc, int m, int n, float alpha, float beta,
                                                                const float *bias) {
    /* One specialisation per row count, so short edge tiles and decode rows (M < 12) waste no FMAs. */
    switch (m) {
    case 12: tile_avx512_rows(12, kc, ap, bp, c, ldc, n, alpha, beta, bias); break;
    case 11: tile_avx512_rows(11, kc, ap, bp, c, ldc, n, alpha, beta, bias); break;
    case 10: tile_avx512_rows(10, kc, ap, bp, c, ldc, n, alpha, beta, bias); break;
    case 9: tile_avx512_rows(9, kc, ap, bp, c, ldc, n, alpha, beta, bias); break;
    case 8: tile_avx512_rows(8, kc, ap, bp, c, ldc, n, alpha, beta, bias); break;
    case 7: tile_avx512_rows(7, kc, ap, bp, c, ldc, n, alpha, beta, bias); break;
    case 6: tile_avx512_rows(6, kc, ap, bp, c, ldc, n, alpha, beta, bias); break;
    case 5: tile_avx512_rows(5, kc, ap, bp, c, ldc, n, alpha, beta, bias); break;
    case 4: tile_avx512_rows(4, kc, ap, bp, c, ldc, n, alpha, beta, bias); break;
    case 3: tile_avx512_rows(3, kc, ap, bp, c, ldc, n, alpha, beta, bias); break;
    case 2: tile_avx512_rows(2, kc, ap, bp, c, ldc, n, alpha, beta, bias); break;
    default: tile_avx512_rows(1, kc, ap, bp, c, ldc, n, alpha, beta, bias); break;
    }
}

/*
 * AVX-512 transposing pack, 16 columns at a time: rows (up to 16, missing ones zero) are loaded as vectors,
 * transposed in registers (unpack 32-bit, shuffle 64-bit, then two rounds of 128-bit lane shuffles) and each
 * output column is stored as `width` lanes. Measured 0.17 ns per element against 0.45 for the strip-walking
 * scalar version (which in turn was several times cheaper than a plain row-by-row transpose).
 */
__attribute__((target("avx512f"))) static void transpose_avx512(const float *src, size_t lds, int rows, int cols,
                                                                 float *dst, int ldd, int width) {
    __mmask16 store_mask = (__mmask16)((1u << width) - 1u);
    for (int c0 = 0; c0 < cols; c0 += 16) {
        int nc = imin(16, cols - c0);
        __mmask16 load_mask = (__mmask16)((1u << nc) - 1u);
        __m512 r[16], t[16], u[16];
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++)
            r[i] = i < rows ? _mm512_maskz_loadu_ps(load_mask, src + (size_t)i * lds + c0) : _mm512_setzero_ps();
        /* t: pairs of rows interleaved; u[4g + q] lane L = rows 4g..4g+3 at column 4L + q. */
#pragma GCC unroll 8
        for (int i = 0; i < 16; i += 2) {
            t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
            t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
        }
#pragma GCC unroll 4
        for (int g = 0; g < 16; g += 4) {
            u[g + 0] = _mm512_shuffle_ps(t[g], t[g + 2], 0x44);
            u[g + 1] = _mm512_shuffle_ps(t[g], t[g + 2], 0xEE);
            u[g + 2] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0x44);
            u[g + 3] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
        }
        /* For each q, a 4 x 4 transpose of 128-bit lanes across u[q], u[4+q], u[8+q], u[12+q]. */
#pragma GCC unroll 4
        for (int q = 0; q < 4; q++) {
            __m512 v0 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0x44), v1 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0xEE);
            __m512 v2 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0x44);
            __m512 v3 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0xEE);
            __m512 o[4] = {_mm512_shuffle_f32x4(v0, v2, 0x88), _mm512_shuffle_f32x4(v0, v2, 0xDD),
                           _mm512_shuffle_f32x4(v1, v3, 0x88), _mm512_shuffle_f32x4(v1, v3, 0xDD)};
            for (int L = 0; L < 4; L++)
                if (4 * L + q < nc) _mm512_mask_storeu_ps(dst + (size_t)(c0 + 4 * L + q) * ldd, store_mask, o[L]);
        }
    }
}

/* AVX2 sub-tile: R (<= 6) rows x 16 columns of the packed MR x NR tile into acc (row stride NR). */
static inline __attribute__((always_inline, target("avx2,fma"))) void
subtile_avx2(const int R, int kc, const float *ap, const float *bp, float *acc) {
    __m256 c0[6], c1[6];
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) c0[r] = c1[r] = _mm256_setzero_ps();
    for (int k = 0; k < kc; k++) {
        __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            __m256 a = _mm256_broadcast_ss(ap + r);
            c0[r] = _mm256_fmadd_ps(a, b0, c0[r]);
            c1[r] = _mm256_fmadd_ps(a, b1, c1[r]);
        }
        ap += MR;
        bp += NR;
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        _mm256_storeu_ps(acc + r * NR, c0[r]);
        _mm256_storeu_ps(acc + r * NR + 8, c1[r]);
    }
}

__attribute__((target("avx2,fma"))) static void tile_avx2(int kc, const float *ap, const float *bp, float *c, int ldc,
                                                           int m, int n, float alpha, float beta, const float *bias) {
    /* 16 ymm registers hold a 6 x 16 block (12 accumulators + 2 B vectors + 1 broadcast), so the tile runs in
     * up to four passes over the same packed panels. */
    float acc[MR * NR];
    for (int r0 = 0; r0 < m; r0 += 6) {
        int rows = imin(6, m - r0);
        for (int j0 = 0; j0 < n; j0 += 16) {
            const float *a = ap + r0, *b = bp + j0;
            float *out = acc + r0 * NR + j0;
            if (rows == 6) subtile_avx2(6, kc, a, b, out);
            else if (rows == 5) subtile_avx2(5, kc, a, b, out);
            else if (rows == 4) subtile_avx2(4, kc, a, b, out);
            else if (rows == 3) subtile_avx2(3, kc, a, b, out);
            else if (rows == 2) subtile_avx2(2, kc, a, b, out);
            else subtile_avx2(1, kc, a, b, out);
        }
    }
    tile_store(acc, c, ldc, m, n, alpha, beta, bias);
}
#endif

/* One GEMM call: C = alpha op(A) op(B) + beta C (+ bias broadcast over rows, only with beta = 0). */
typedef struct gemm_call {
    int transA, transB, M, N, K;
    float alpha, beta;
    const float *A, *B, *bias;
    int lda, ldb, ldc;
    float *C;
    tile_fn tile;           /* micro-kernel variant for this CPU (packed path only) */
    transpose_fn transpose; /* its matching transposing pack */
    direct_fn dot;          /* few rows, transB: dot products of rows of A and B (NULL: not on this CPU) */
    direct_fn axpy;         /* few rows, no transB: rows of B scaled into C's rows (NULL: not on this CPU) */
    float *colsum;          /* optional (N), zeroed: receives the column sums of op(B) (= B, no transB) while
                             * B is packed, when the packed path packs every B element once (colsum_done) */
    int colsum_done;
} gemm_call;

#ifdef WARM_X86
/* *c = alpha*s + beta*(*c) (+ bias when beta == 0, and then *c is not read): the tiles' write-back rule. */
static inline void store_rule(float s, float *c, float alpha, float beta, const float *bias) {
    if (beta == 0.0f) *c = alpha * s + (bias ? *bias : 0.0f);
    else if (beta == 1.0f) *c = *c + alpha * s;
    else *c = beta * *c + alpha * s;
}

/*
 * R rows of A x J rows of B (both contiguous along k): R*J dot products, each kept as 16 lane sums over
 * k = lane (mod 16) and reduced by a fixed tree at the end.
 */
static inline __attribute__((always_inline, target("avx512f,fma"))) void
dot_block_avx512(const int R, const int J, const gemm_call *g, int i0, int j0) {
    __m512 acc[4][4];
    const float *a = g->A + (size_t)i0 * g->lda, *b = g->B + (size_t)j0 * g->ldb;
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int j = 0; j < J; j++) acc[r][j] = _mm512_setzero_ps();
    for (int k = 0; k < g->K; k += 16) {
        __mmask16 mk = g->K - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (g->K - k)) - 1u);
        __m512 bv[4];
#pragma GCC unroll 4
        for (int j = 0; j < J; j++) bv[j] = _mm512_maskz_loadu_ps(mk, b + (size_t)j * g->ldb + k);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            __m512 av = _mm512_maskz_loadu_ps(mk, a + (size_t)r * g->lda + k);
#pragma GCC unroll 4
            for (int j = 0; j < J; j++) acc[r][j] = _mm512_fmadd_ps(av, bv[j], acc[r][j]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        float *cr = g->C + (size_t)(i0 + r) * g->ldc + j0;
#pragma GCC unroll 4
        for (int j = 0; j < J; j++)
            store_rule(_mm512_reduce_add_ps(acc[r][j]), cr + j, g->alpha, g->beta, g->bias ? g->bias + j0 + j : NULL);
    }
}

/* Four B rows (columns of C) at a time, one at a time at the edge; four A rows at a time. */
__attribute__((target("avx512f,fma"))) static void dot_avx512(const gemm_call *g, int i0, int m, int j0, int n) {
    for (int j = j0; j < j0 + n;) {
        int wide = j0 + n - j >= 4;
        for (int i = i0; i < i0 + m; i += 4) {
            switch (imin(4, i0 + m - i) * 2 + wide) {
            case 9: dot_block_avx512(4, 4, g, i, j); break;
            case 8: dot_block_avx512(4, 1, g, i, j); break;
            case 7: dot_block_avx512(3, 4, g, i, j); break;
            case 6: dot_block_avx512(3, 1, g, i, j); break;
            case 5: dot_block_avx512(2, 4, g, i, j); break;
            case 4: dot_block_avx512(2, 1, g, i, j); break;
            case 3: dot_block_avx512(1, 4, g, i, j); break;
            default: dot_block_avx512(1, 1, g, i, j); break;
            }
        }
        j += wide ? 4 : 1;
    }
}

/*
 * R rows x 64 columns of C from unpacked operands, for op(B) = B (rows of B contiguous along j): per k, four
 * B vectors are read straight from row k and each of the R rows of A contributes one broadcast FMA per
 * vector; the accumulators are single FMA chains over all of K. Columns past n are masked (never loaded).
 */
static inline __attribute__((always_inline, target("avx512f,fma"))) void
axpy_block_avx512(const int R, const gemm_call *g, int i0, int j0, int n) {
    __m512 acc[6][4];
    __mmask16 mk[4];
    size_t a_row = g->transA ? 1 : (size_t)g->lda, a_k = g->transA ? (size_t)g->lda : 1;
    const float *a = g->A + (g->transA ? (size_t)i0 : (size_t)i0 * g->lda), *b = g->B + j0;
#pragma GCC unroll 4
    for (int v = 0; v < 4; v++) {
        int nv = n - 16 * v;
        mk[v] = nv >= 16 ? (__mmask16)0xFFFF : nv <= 0 ? (__mmask16)0 : (__mmask16)((1u << nv) - 1u);
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) acc[r][v] = _mm512_setzero_ps();
    }
    for (int k = 0; k < g->K; k++) {
        const float *bk = b + (size_t)k * g->ldb;
        __m512 bv[4];
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++) bv[v] = mk[v] ? _mm512_maskz_loadu_ps(mk[v], bk + 16 * v) : _mm512_setzero_ps();
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            __m512 av = _mm512_set1_ps(a[r * a_row + (size_t)k * a_k]);
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
        }
    }
    __m512 va = _mm512_set1_ps(g->alpha), vb = _mm512_set1_ps(g->beta);
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        float *cr = g->C + (size_t)(i0 + r) * g->ldc + j0;
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++) {
            if (!mk[v]) continue;
            __m512 x = _mm512_mul_ps(va, acc[r][v]);
            if (g->beta == 0.0f) {
                if (g->bias) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mk[v], g->bias + j0 + 16 * v));
            } else if (g->beta == 1.0f) {
                x = _mm512_add_ps(_mm512_maskz_loadu_ps(mk[v], cr + 16 * v), x);
            } else {
                x = _mm512_add_ps(_mm512_mul_ps(vb, _mm512_maskz_loadu_ps(mk[v], cr + 16 * v)), x);
            }
            _mm512_mask_storeu_ps(cr + 16 * v, mk[v], x);
        }
    }
}

/* 64 columns at a time, six rows at a time (24 accumulators). */
__attribute__((target("avx512f,fma"))) static void axpy_avx512(const gemm_call *g, int i0, int m, int j0, int n) {
    for (int j = j0; j < j0 + n; j += 64) {
        int nj = imin(64, j0 + n - j);
        for (int i = i0; i < i0 + m; i += 6) {
            switch (imin(6, i0 + m - i)) {
            case 6: axpy_block_avx512(6, g, i, j, nj); break;
            case 5: axpy_block_avx512(5, g, i, j, nj); break;
            case 4: axpy_block_avx512(4, g, i, j, nj); break;
            case 3: axpy_block_avx512(3, g, i, j, nj); break;
            case 2: axpy_block_avx512(2, g, i, j, nj); break;
            default: axpy_block_avx512(1, g, i, j, nj); break;
            }
        }
    }
}
#endif

/* The best variant this CPU runs, capped by WARM_SGEMM_ISA (testing hook, see the top comment). */
static void pick_isa(gemm_call *g) {
    g->tile = tile_portable;
    g->transpose = transpose_portable;
    g->dot = g->axpy = NULL;
#ifdef WARM_X86
    const char *cap = getenv("WARM_SGEMM_ISA");
    int allow512 = !cap || strcmp(cap, "avx512") == 0;
    int allow2 = allow512 || strcmp(cap, "avx2") == 0;
    if (allow512 && __builtin_cpu_supports("avx512f")) {
        g->tile = tile_avx512;
        g->transpose = transpose_avx512;
        g->dot = dot_avx512;
        g->axpy = axpy_avx512;
    } else if (allow2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        g->tile = tile_avx2;
    }
#endif
}

/* op(A)(i, k) and op(B)(k, j) for the unpacked paths. */
static float op_a(const gemm_call *g, int i, int k) {
    return g->transA ? g->A[(size_t)k * g->lda + i] : g->A[(size_t)i * g->lda + k];
}
static float op_b(const gemm_call *g, int k, int j) {
    return g->transB ? g->B[(size_t)j * g->ldb + k] : g->B[(size_t)k * g->ldb + j];
}

/* Unpacked path for tiny shapes: one float dot product per element, k ascending. */
static void gemm_small(const gemm_call *g) {
    for (int i = 0; i < g->M; i++) {
        float *cr = g->C + (size_t)i * g->ldc;
        for (int j = 0; j < g->N; j++) {
            float acc = 0.0f;
            for (int k = 0; k < g->K; k++) acc += op_a(g, i, k) * op_b(g, k, j);
            if (g->beta == 0.0f) cr[j] = g->alpha * acc + (g->bias ? g->bias[j] : 0.0f);
            else cr[j] = g->beta * cr[j] + g->alpha * acc;
        }
    }
}

/*
 * Packs a source whose rows run along k and are contiguous along the panel direction (op(A) with transA,
 * op(B) without transB): row k's len floats are dealt out to consecutive panels of `width` columns
 * (panel p at dst + p*kc*width), zero-padded past len. One pass over each source row keeps the reads
 * sequential. (Software prefetching here, or of the next pack's source during the sweeps, measured no gain,
 * with operands in L3 or cold in DRAM.)
 */
static void pack_k_rows(const float *src, size_t ld, int kc, int len, int width, float *dst, float *colsum) {
    int npan = ceil_div(len, width);
    for (int k = 0; k < kc; k++) {
        const float *s = src + (size_t)k * ld;
        if (colsum) /* column sums of the packed rows, k ascending (bias gradients: bias_backward's order) */
            for (int j = 0; j < len; j++) colsum[j] += s[j];
        for (int p = 0; p < npan; p++) {
            float *d = dst + ((size_t)p * kc + k) * width;
            int n = imin(width, len - p * width);
            if (n == width) {
                memcpy(d, s + p * width, (size_t)width * sizeof(float));
            } else {
                for (int j = 0; j < n; j++) d[j] = s[p * width + j];
                for (int j = n; j < width; j++) d[j] = 0.0f;
            }
        }
    }
}

/* Packs rows i0..i0+m-1, depth p0..p0+kc-1 of op(A) into consecutive MR-row panels (zero rows past m). */
static void pack_a(const gemm_call *g, int i0, int m, int p0, int kc, float *ap) {
    if (g->transA) { /* A is [K, M] */
        pack_k_rows(g->A + (size_t)p0 * g->lda + i0, (size_t)g->lda, kc, m, MR, ap, NULL);
        return;
    }
    for (int p = 0; p * MR < m; p++) /* A is [M, K]: rows contiguous in k, transposed into each panel */
        g->transpose(g->A + (size_t)(i0 + p * MR) * g->lda + p0, (size_t)g->lda, imin(MR, m - p * MR), kc,
                     ap + (size_t)p * kc * MR, MR, MR);
}

/* Packs columns j0..j0+n-1, depth p0..p0+kc-1 of op(B) into consecutive NR-column panels (zero past n). */
static void pack_b(const gemm_call *g, int j0, int n, int p0, int kc, float *bp) {
    if (!g->transB) { /* B is [K, N] */
        pack_k_rows(g->B + (size_t)p0 * g->ldb + j0, (size_t)g->ldb, kc, n, NR, bp, g->colsum ? g->colsum + j0 : NULL);
        return;
    }
    for (int q = 0; q * NR < n; q++) { /* B is [N, K]: column j of op(B) is row j of B, contiguous in k */
        /* Two 16-row halves: the AVX-512 transpose handles 16 rows at a time. */
        int nq = imin(NR, n - q * NR);
        const float *src = g->B + (size_t)(j0 + q * NR) * g->ldb + p0;
        float *dst = bp + (size_t)q * kc * NR;
        g->transpose(src, (size_t)g->ldb, imin(nq, 16), kc, dst, NR, 16);
        if (nq > 16) g->transpose(src + (size_t)16 * g->ldb, (size_t)g->ldb, nq - 16, kc, dst + 16, NR, 16);
        else g->transpose(src, (size_t)g->ldb, 0, kc, dst + 16, NR, 16); /* zero columns 16..31 */
    }
}

/*
 * How the packed product is cut into work items; derived from the shape and the thread count. A work item
 * is (column block jb, row slice): nblk column blocks of nc columns times rsplit slices of the rows.
 */
typedef struct {
    int kc;      /* depth of a K block: depends on K only (determinism) */
    int nc;      /* columns of a B block (multiple of NR) */
    int nblk;    /* number of column blocks */
    int rsplit;  /* number of row slices */
    int threads; /* threads to run */
    int a_resident; /* all packed A panels of a K block stay in L2 and serve every column block */
} gemm_plan;

static gemm_plan plan_gemm(const gemm_call *g, int max_threads) {
    gemm_plan p;
    int kblocks = ceil_div(g->K, KC);
    p.kc = ceil_div(g->K, kblocks); /* equal blocks: K = 4096 gives 11 x 373, not 10 x 384 + 256 */
    int64_t macs = (int64_t)g->M * g->N * g->K;
    int T = macs < PARALLEL_GEMM_MACS ? 1 : max_threads;
    p.threads = T;
    /*
     * Every item packs its own B block and every A panel of its rows, so A is packed nblk times in all and
     * B rsplit times. With fewer natural column blocks than threads, either cut the columns finer (A packed
     * more often) or split the rows (B packed more often): take the cheaper, e.g. rows for the input
     * gradient of a narrow layer (M = 2048 tokens, N = 256), columns for decode (M = 1).
     */
    /* A B block of kc x nc floats within NC*KC (720 KB of L2): shallower K blocks allow wider column blocks,
     * so fewer of them and fewer re-packs of A (256 x 1024 at kc 256: 2 blocks of 512, not 4 of 256). */
    int nc_max = imin((NC * KC / p.kc) / NR * NR, 4 * NC);
    int nb0 = ceil_div(g->N, nc_max);
    int nb_cols = ceil_div(nb0, T) * T; /* a multiple of T keeps threads balanced */
    int rs_rows = ceil_div(T, nb0);
    int64_t a_size = (int64_t)g->M * g->K, b_size = (int64_t)g->K * g->N;
    int by_rows = nb0 < T && (int64_t)nb0 * a_size + rs_rows * b_size < (int64_t)nb_cols * a_size + b_size;
    p.nblk = by_rows ? nb0 : nb_cols;
    p.rsplit = by_rows ? rs_rows : 1;
    p.nc = ceil_div(ceil_div(g->N, p.nblk), NR) * NR;
    p.nblk = ceil_div(g->N, p.nc);
    /* Without residency a thread re-packs A for each of its column blocks (7 times for 256 x 3072 x 768). */
    p.a_resident = p.rsplit == 1 && p.nblk > p.threads &&
                   (int64_t)ceil_div(g->M, MR) * MR * p.kc * (int64_t)sizeof(float) <= A_RESIDENT_BYTES;
    return p;
}

/*
 * The work of one thread: column blocks [jb0, jb1) for row panels [p_lo, p_hi). For each K block, for each
 * column block: pack the B block into bp (L2), then sweep every A panel across the B panels. A panels are
 * packed MB at a time into ap right before use or, when all of them fit (a_resident), once per K block
 * and reused by every column block.
 */
static void gemm_range(const gemm_call *g, const gemm_plan *p, float *ap, float *bp, int jb0, int jb1, int p_lo,
                       int p_hi) {
    int group = p->a_resident ? p_hi - p_lo : MB;
    for (int pc = 0; pc < g->K; pc += p->kc) {
        int kc = imin(p->kc, g->K - pc);
        if (p->a_resident) pack_a(g, p_lo * MR, imin((p_hi - p_lo) * MR, g->M - p_lo * MR), pc, kc, ap);
        /* Later K blocks accumulate onto the first one's result. */
        float beta = pc == 0 ? g->beta : 1.0f;
        for (int jb = jb0; jb < jb1; jb++) {
            int jc = jb * p->nc, n = imin(p->nc, g->N - jc), npan_b = ceil_div(n, NR);
            const float *bias = pc == 0 && g->bias ? g->bias + jc : NULL;
            pack_b(g, jc, n, pc, kc, bp);
            for (int pa0 = p_lo; pa0 < p_hi; pa0 += group) {
                int pa1 = imin(pa0 + group, p_hi);
                if (!p->a_resident) pack_a(g, pa0 * MR, imin((pa1 - pa0) * MR, g->M - pa0 * MR), pc, kc, ap);
                for (int pa = pa0; pa < pa1; pa++) {
                    int row = pa * MR, m = imin(MR, g->M - row);
                    const float *a = ap + (size_t)(pa - pa0) * kc * MR;
                    float *crow = g->C + (size_t)row * g->ldc + jc;
                    for (int q = 0; q < npan_b; q++)
                        g->tile(kc, a, bp + (size_t)q * kc * NR, crow + q * NR, g->ldc, m, imin(NR, n - q * NR),
                                g->alpha, beta, bias ? bias + q * NR : NULL);
                }
            }
        }
    }
}

/* Thread t of nt runs work items [w0, w1) of the plan (contiguous, so its column blocks are adjacent). */
static void gemm_thread(const gemm_call *g, const gemm_plan *p, float *ap, float *bp, int t, int nt) {
    int items = p->nblk * p->rsplit, npan = ceil_div(g->M, MR);
    int w0 = (int)((int64_t)items * t / nt), w1 = (int)((int64_t)items * (t + 1) / nt);
    if (p->rsplit == 1) {
        gemm_range(g, p, ap, bp, w0, w1, 0, npan);
        return;
    }
    for (int w = w0; w < w1; w++) {
        int slice = w % p->rsplit;
        int p_lo = (int)((int64_t)npan * slice / p->rsplit), p_hi = (int)((int64_t)npan * (slice + 1) / p->rsplit);
        gemm_range(g, p, ap, bp, w / p->rsplit, w / p->rsplit + 1, p_lo, p_hi);
    }
}

/* The packed, blocked, threaded product. Returns 0 if the buffers could not be allocated. */
static int gemm_packed(gemm_call *g, int max_threads) {
    gemm_plan p = plan_gemm(g, max_threads);
    /* Column sums ride along only where each B element is packed exactly once: K blocks in ascending order,
     * each column block by one thread (rsplit == 1), B not transposed. */
    if (g->colsum && (p.rsplit != 1 || g->transB)) g->colsum = NULL;
    /* Per thread: the A panels (MB of them, or all when resident) and one B block, in whole cache lines. */
    size_t a_panels = p.a_resident ? (size_t)ceil_div(g->M, MR) : MB;
    size_t a_floats = (a_panels * MR * p.kc + 15) & ~(size_t)15;
    size_t per_thread = a_floats + (((size_t)p.nc * p.kc + 15) & ~(size_t)15);
    /* malloc, aligned by hand: glibc's aligned_alloc of a few MB keeps splitting and trimming its chunk and
     * page-faults afresh on most calls (~1.4 ms for 4 MB), while plain malloc reuses the same heap memory. */
    void *raw = malloc(per_thread * (size_t)p.threads * sizeof(float) + 64);
    if (!raw) return 0;
    float *buf = (float *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
    WARM_OMP(omp parallel num_threads(p.threads))
    {
        int t = 0, nt = 1;
#ifdef _OPENMP
        t = omp_get_thread_num();
        nt = omp_get_num_threads();
#endif
        float *ap = buf + (size_t)t * per_thread;
        gemm_thread(g, &p, ap, ap + a_floats, t, nt);
    }
    free(raw);
    g->colsum_done = g->colsum != NULL;
    return 1;
}

/* C = beta C for the degenerate products (K = 0 or alpha = 0); beta = 0 writes zeros (or the bias). */
static void gemm_scale_only(const gemm_call *g) {
    for (int i = 0; i < g->M; i++) {
        float *cr = g->C + (size_t)i * g->ldc;
        for (int j = 0; j < g->N; j++)
            cr[j] = g->beta == 0.0f ? (g->bias ? g->bias[j] : 0.0f) : g->beta * cr[j];
    }
}

/*
 * Few rows (decode: one token per sequence): packing B costs as much as the product, which is bound by
 * reading B once from memory. So C is computed straight from the unpacked operands, DIRECT_COLS columns per
 * work item: with transB as dot products of contiguous rows (the tied LM head, x wte^T), without it as
 * broadcast-FMA sweeps along B's rows. Measured at M = 1, 8 (N = 3072..50257, K = 768): 2-4x the packed
 * path. Chosen by shape alone, like every path.
 */
static void gemm_direct(const gemm_call *g, direct_fn fn) {
    int chunks = ceil_div(g->N, DIRECT_COLS);
    WARM_OMP(omp parallel for schedule(static) if ((int64_t)g->M * g->N * g->K >= PARALLEL_GEMM_MACS))
    for (int ch = 0; ch < chunks; ch++) fn(g, 0, g->M, ch * DIRECT_COLS, imin(DIRECT_COLS, g->N - ch * DIRECT_COLS));
}

static void gemm_run(gemm_call *g) {
    WARM_CHECK(g->M >= 0 && g->N >= 0 && g->K >= 0, "M=%d N=%d K=%d", g->M, g->N, g->K);
    WARM_CHECK(g->lda >= (g->transA ? g->M : g->K) && g->lda >= 1, "lda=%d too small", g->lda);
    WARM_CHECK(g->ldb >= (g->transB ? g->K : g->N) && g->ldb >= 1, "ldb=%d too small", g->ldb);
    WARM_CHECK(g->ldc >= g->N && g->ldc >= 1, "ldc=%d too small", g->ldc);
    if (g->M == 0 || g->N == 0) return;
    if (g->K == 0 || g->alpha == 0.0f) {
        gemm_scale_only(g);
        return;
    }
    if ((int64_t)g->M * g->N * g->K < SMALL_GEMM_MACS) {
        gemm_small(g);
        return;
    }
    pick_isa(g);
    if (g->dot && g->transB && !g->transA && g->M <= DIRECT_MAX_M) gemm_direct(g, g->dot);
    else if (g->axpy && !g->transB && g->M <= DIRECT_MAX_M) gemm_direct(g, g->axpy);
    else if (!gemm_packed(g, warm_num_threads())) gemm_small(g);
}

void warm_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                int ldb, float beta, float *C, int ldc) {
    gemm_call g = {.transA = transA != 0, .transB = transB != 0, .M = M, .N = N, .K = K, .alpha = alpha,
                   .beta = beta, .A = A, .B = B, .lda = lda, .ldb = ldb, .ldc = ldc, .C = C};
    gemm_run(&g);
}

/* Reference: every element accumulated in double, k ascending, then alpha/beta applied in double. */
void warm_sgemm_naive(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc) {
    gemm_call g = {.transA = transA != 0, .transB = transB != 0, .A = A, .B = B, .lda = lda, .ldb = ldb};
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double acc = 0.0;
            if (alpha != 0.0f)
                for (int k = 0; k < K; k++) acc += (double)op_a(&g, i, k) * (double)op_b(&g, k, j);
            float *c = C + (size_t)i * ldc + j;
            double old = beta == 0.0f ? 0.0 : (double)beta * (double)*c;
            *c = (float)((double)alpha * acc + old);
        }
    }
}

void warm_linear_forward(float *out, const float *inp, const float *weight, const float *bias, int N, int C, int OC) {
    /* The bias is added in the write-back of the first K block (no separate pass over out). */
    gemm_call g = {.M = N, .N = OC, .K = C, .alpha = 1.0f, .beta = 0.0f, .A = inp, .B = weight, .bias = bias,
                   .lda = C, .ldb = OC, .ldc = OC, .C = out};
    gemm_run(&g);
}

/* dbias (OC) += column sums of dout (N, OC): columns split across threads, rows summed in order. */
static void bias_backward(float *dbias, const float *dout, int N, int OC) {
    enum { COLS = 128 }; /* columns per work item: a 512-byte strip per row, vectorised by the compiler */
    int nchunks = ceil_div(OC, COLS);
    WARM_OMP(omp parallel for schedule(static) if ((int64_t)N * OC > (1 << 16)))
    for (int ch = 0; ch < nchunks; ch++) {
        int j0 = ch * COLS, n = imin(COLS, OC - j0);
        float acc[COLS] = {0};
        for (int i = 0; i < N; i++) {
            const float *row = dout + (size_t)i * OC + j0;
            for (int j = 0; j < n; j++) acc[j] += row[j];
        }
        for (int j = 0; j < n; j++) dbias[j0 + j] += acc[j];
    }
}

void warm_linear_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                          const float *weight, int N, int C, int OC) {
    if (dinp) warm_sgemm(0, 1, N, C, OC, 1.0f, dout, OC, weight, OC, 1.0f, dinp, C);
    if (!dweight) {
        if (dbias) bias_backward(dbias, dout, N, OC);
        return;
    }
    /* The bias gradient is summed while the weight-gradient GEMM packs dout (its B operand) instead of in a
     * pass of its own: per column a sum over rows in ascending order from 0, then added to dbias, the same
     * operations as bias_backward (same bits). Where the GEMM does not pack dout once, bias_backward runs. */
    float *sums = dbias ? calloc((size_t)OC, sizeof(float)) : NULL;
    gemm_call g = {.transA = 1, .M = C, .N = OC, .K = N, .alpha = 1.0f, .beta = 1.0f, .A = inp, .B = dout,
                   .lda = C, .ldb = OC, .ldc = OC, .C = dweight, .colsum = sums};
    gemm_run(&g);
    if (dbias && g.colsum_done) {
        for (int j = 0; j < OC; j++) dbias[j] += sums[j];
    } else if (dbias) {
        bias_backward(dbias, dout, N, OC);
    }
    free(sums);
}
