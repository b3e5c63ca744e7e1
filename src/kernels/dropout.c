/*
 * dropout.c — inverted dropout in place, forward and backward (GPT-2 embd_pdrop and resid_pdrop).
 *
 * Element i of x (n) is kept iff warm_dropout_keep(key, i, p) (core.h: a counter-based hash of (key, i)), and
 * x[i] is multiplied by mask_i / (1 - p), as torch does (so a dropped NaN stays NaN). Nothing is stored:
 * backward recomputes the same mask from the same key, which also makes the mask independent of the thread
 * that evaluates it. The caller derives a fresh key per step, layer and site. p = 0 is a no-op. The _rows
 * variants apply the mask of an (N, C) array to rows gathered from it (the reward step's pruned last layer):
 * row r, gathered from row rows[r], uses elements rows[r]*C + i, so a gathered row is dropped as in place.
 * Two fused forms save a pass over memory in the training step: dropout followed by the residual add
 * (warm_dropout_residual_forward) and the backward map into another array (warm_dropout_backward_to); both
 * perform the same float operations per element as the unfused calls, so they give the same bits.
 *
 * The keep test is warm_dropout_keep in integer form: (hash >> 40) * 2^-24 >= p holds, both sides being exact
 * floats, iff (hash >> 40) >= ceil(p * 2^24). Unlike a float compare-and-select, the integer form vectorises;
 * with AVX-512DQ (64-bit vector multiply, for the hash) the loop runs 8 elements per instruction. The loop
 * is compiled for the baseline and for AVX-512F+DQ and picked at run time, as in gelu.c.
 */
#include "warm/kernels.h"
#include "kernels/simd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "warm/core.h"


/* Elements per parallel work item. */
#define DROPOUT_CHUNK 16384

/* out[i] = x[i] * (mask / (1 - p)) (+ res[i] when add) for global indices i0 + i; keep_min = ceil(p * 2^24).
 * out may alias x or res. add is a compile-time constant at every call. */
static WARM_INLINE void dropout_body(float *out, const float *x, const float *res, int add, size_t n, uint64_t i0,
                                     uint64_t key, uint64_t keep_min, float scale) {
    for (size_t i = 0; i < n; i++) {
        int32_t keep = (warm_hash64(key, i0 + (uint64_t)i) >> 40) >= keep_min;
        float y = x[i] * ((float)keep * scale);
        out[i] = add ? y + res[i] : y;
    }
}

typedef void (*dropout_fn)(float *out, const float *x, const float *res, size_t n, uint64_t i0, uint64_t key,
                           uint64_t keep_min, float scale);

static void dropout_base(float *out, const float *x, const float *res, size_t n, uint64_t i0, uint64_t key,
                         uint64_t keep_min, float scale) {
    dropout_body(out, x, res, 0, n, i0, key, keep_min, scale);
}
static void dropout_add_base(float *out, const float *x, const float *res, size_t n, uint64_t i0, uint64_t key,
                             uint64_t keep_min, float scale) {
    dropout_body(out, x, res, 1, n, i0, key, keep_min, scale);
}

#ifdef WARM_KERNELS_X86
__attribute__((target("avx512f,avx512dq"))) static void dropout_avx512(float *out, const float *x, const float *res,
                                                                       size_t n, uint64_t i0, uint64_t key,
                                                                       uint64_t keep_min, float scale) {
    dropout_body(out, x, res, 0, n, i0, key, keep_min, scale);
}
__attribute__((target("avx512f,avx512dq"))) static void dropout_add_avx512(float *out, const float *x,
                                                                           const float *res, size_t n, uint64_t i0,
                                                                           uint64_t key, uint64_t keep_min,
                                                                           float scale) {
    dropout_body(out, x, res, 1, n, i0, key, keep_min, scale);
}
#endif


/* out (n) <- x * mask(key, p) / (1 - p) (+ res when non-NULL), out aliasing x, res or neither. p = 0 copies
 * (adds) unless out == x with no res (nothing to do). */
static void dropout_map(float *out, const float *x, const float *res, size_t n, float p, uint64_t key) {
    WARM_CHECK(p >= 0.0f && p <= 1.0f, "dropout rate %g", (double)p);
    size_t nchunks = (n + DROPOUT_CHUNK - 1) / DROPOUT_CHUNK;
    if (p == 0.0f) {
        if (res) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (nchunks > 1)
#endif
            for (size_t c = 0; c < nchunks; c++) {
                size_t i0 = c * DROPOUT_CHUNK, m = n - i0 < DROPOUT_CHUNK ? n - i0 : DROPOUT_CHUNK;
                for (size_t i = i0; i < i0 + m; i++) out[i] = x[i] + res[i];
            }
        } else if (out != x) {
            memcpy(out, x, n * sizeof(float));
        }
        return;
    }
    /* The rounded reciprocal, as torch builds it (mask / (1-p)) before multiplying; p = 1 drops everything. */
    const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    const uint64_t keep_min = (uint64_t)ceilf(p * 16777216.0f); /* 2^24: the hash's top 24 bits are compared */
    dropout_fn fn = res ? dropout_add_base : dropout_base;
#ifdef WARM_KERNELS_X86
    if (warm_kernels_avx512(1)) fn = res ? dropout_add_avx512 : dropout_avx512;
#endif
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (nchunks > 1)
#endif
    for (size_t c = 0; c < nchunks; c++) {
        size_t i0 = c * DROPOUT_CHUNK;
        fn(out + i0, x + i0, res ? res + i0 : NULL, n - i0 < DROPOUT_CHUNK ? n - i0 : DROPOUT_CHUNK, (uint64_t)i0,
           key, keep_min, scale);
    }
}

/* x (n) <- x * mask(key, p) / (1 - p). Forward and backward apply the same map. */
static void dropout_apply(float *x, size_t n, float p, uint64_t key) { dropout_map(x, x, NULL, n, p, key); }

/* Gathered rows: row r of x (R, C) takes mask elements rows[r]*C .. rows[r]*C + C-1, as in the full array. */
static void dropout_apply_rows(float *x, const int32_t *rows, int R, int C, float p, uint64_t key) {
    WARM_CHECK(p >= 0.0f && p <= 1.0f, "dropout rate %g", (double)p);
    WARM_CHECK(R >= 0 && C >= 0, "R=%d C=%d", R, C);
    if (p == 0.0f) return;
    const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    const uint64_t keep_min = (uint64_t)ceilf(p * 16777216.0f);
    dropout_fn fn = dropout_base;
#ifdef WARM_KERNELS_X86
    if (warm_kernels_avx512(1)) fn = dropout_avx512;
#endif
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if ((size_t)R * (size_t)C > DROPOUT_CHUNK)
#endif
    for (int r = 0; r < R; r++) {
        WARM_CHECK(rows[r] >= 0, "row index %d", rows[r]);
        float *xr = x + (size_t)r * (size_t)C;
        fn(xr, xr, NULL, (size_t)C, (uint64_t)rows[r] * (uint64_t)C, key, keep_min, scale);
    }
}

void warm_dropout_forward(float *x, size_t n, float p, uint64_t key) { dropout_apply(x, n, p, key); }

void warm_dropout_backward(float *dx, size_t n, float p, uint64_t key) { dropout_apply(dx, n, p, key); }

void warm_dropout_residual_forward(float *out, const float *x, const float *res, size_t n, float p, uint64_t key) {
    dropout_map(out, x, res, n, p, key);
}

void warm_dropout_backward_to(float *dst, const float *dx, size_t n, float p, uint64_t key) {
    dropout_map(dst, dx, NULL, n, p, key);
}

void warm_dropout_forward_rows(float *x, const int32_t *rows, int R, int C, float p, uint64_t key) {
    dropout_apply_rows(x, rows, R, C, p, key);
}

void warm_dropout_backward_rows(float *dx, const int32_t *rows, int R, int C, float p, uint64_t key) {
    dropout_apply_rows(dx, rows, R, C, p, key);
}
