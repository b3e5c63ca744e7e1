/*
 * layernorm.c — LayerNorm forward and backward over the last dimension (GPT-2 ln_1, ln_2, ln_f).
 *
 * Layout: inp, out, dout, dinp are (N, C) row-major token rows (B*T merged); weight, bias (C); mean and rstd
 * (N) are saved by forward for backward. Variance is the biased one (divide by C) and eps = 1e-5, as in
 * torch.nn.LayerNorm with GPT-2's layer_norm_epsilon.
 *
 * Determinism: forward and the dinp half of backward give each row to one thread. dweight/dbias are sums over
 * rows; they are parallelised over fixed blocks of columns and every column is summed over rows 0..N-1 in
 * order, so the result does not depend on the number of threads.
 *
 * Vectorisation without fast-math: a float sum is a serial dependency chain that gcc will not reorder. The row
 * reductions below keep LANES independent partial sums (lane j takes elements j, j+LANES, ...), which gcc
 * turns into vector adds; the partials are then added in lane order. The order is fixed by the code, not by
 * the ISA, so SSE2 and AVX-512 builds give the same bits.
 */
#include "warm/kernels.h"

#include <math.h>

#include "warm/core.h"

/* Width of the lane-partial reductions: one AVX-512 vector, four SSE vectors. */
#define LANES 16
/* Columns per dweight/dbias work item: four cache lines of a row, enough for the prefetcher. */
#define COL_BLOCK 64
/* torch.nn.LayerNorm eps used by GPT-2 (config layer_norm_epsilon). */
#define LN_EPS 1e-5f

/* sum_i x[i] (n) with LANES partial sums added in lane order, then the tail. */
static float lane_sum(const float *restrict x, int n) {
    float acc[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) acc[j] += x[i + j];
    float s = 0.0f;
    for (int j = 0; j < LANES; j++) s += acc[j];
    for (; i < n; i++) s += x[i];
    return s;
}

/* sum_i (x[i] - mu)^2 (n), same lane order as lane_sum. */
static float lane_sumsq_dev(const float *restrict x, float mu, int n) {
    float acc[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) {
            float d = x[i + j] - mu;
            acc[j] += d * d;
        }
    float s = 0.0f;
    for (int j = 0; j < LANES; j++) s += acc[j];
    for (; i < n; i++) {
        float d = x[i] - mu;
        s += d * d;
    }
    return s;
}

/* One row: x (C) -> out (C); returns mean and rstd. Two-pass variance (no E[x^2] - mean^2 cancellation). */
static void ln_row_forward(float *out, float *mean_out, float *rstd_out, const float *x, const float *weight,
                           const float *bias, int C) {
    float mu = lane_sum(x, C) / (float)C;
    float var = lane_sumsq_dev(x, mu, C) / (float)C;
    float rs = 1.0f / sqrtf(var + LN_EPS);
    for (int i = 0; i < C; i++) {
        float n = (x[i] - mu) * rs;
        out[i] = n * weight[i] + (bias ? bias[i] : 0.0f);
    }
    if (mean_out) *mean_out = mu;
    if (rstd_out) *rstd_out = rs;
}

/* out, inp (N, C); weight, bias (C); mean, rstd (N), either may be NULL (inference). out may alias inp. */
void warm_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                            const float *bias, int N, int C) {
    WARM_CHECK(N >= 0 && C > 0, "N=%d C=%d", N, C);
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int r = 0; r < N; r++) {
        size_t o = (size_t)r * (size_t)C;
        ln_row_forward(out + o, mean ? mean + r : NULL, rstd ? rstd + r : NULL, inp + o, weight, bias, C);
    }
}

/*
 * One row of dinp (C) += d/dx. With n = (x - mean) * rstd and g = weight * dout:
 *   dx = rstd * (g - mean(g) - n * mean(g * n)).
 * Both means use LANES partial sums, added in lane order then the tail (as lane_sum).
 */
static void ln_row_backward_dinp(float *restrict dinp, const float *restrict dout, const float *restrict x,
                                 const float *restrict weight, float mu, float rs, int C) {
    float ag[LANES] = {0}, agn[LANES] = {0};
    int i = 0;
    for (; i + LANES <= C; i += LANES)
        for (int j = 0; j < LANES; j++) {
            float g = weight[i + j] * dout[i + j];
            ag[j] += g;
            agn[j] += g * ((x[i + j] - mu) * rs);
        }
    float sg = 0.0f, sgn = 0.0f;
    for (int j = 0; j < LANES; j++) {
        sg += ag[j];
        sgn += agn[j];
    }
    for (; i < C; i++) {
        float g = weight[i] * dout[i];
        sg += g;
        sgn += g * ((x[i] - mu) * rs);
    }
    float g_mean = sg / (float)C, gn_mean = sgn / (float)C;
    for (i = 0; i < C; i++) {
        float n = (x[i] - mu) * rs;
        dinp[i] += rs * (weight[i] * dout[i] - g_mean - n * gn_mean);
    }
}

/* Columns c0..c0+nc-1 (nc <= COL_BLOCK) of dweight += sum_r dout * n, dbias += sum_r dout, rows in order. */
static void ln_cols_backward(float *dweight, float *dbias, const float *dout, const float *inp, const float *mean,
                             const float *rstd, int N, int C, int c0, int nc) {
    float aw[COL_BLOCK] = {0}, ab[COL_BLOCK] = {0};
    for (int r = 0; r < N; r++) {
        const float *x = inp + (size_t)r * (size_t)C + c0;
        const float *d = dout + (size_t)r * (size_t)C + c0;
        float mu = mean[r], rs = rstd[r];
        for (int j = 0; j < nc; j++) {
            aw[j] += d[j] * ((x[j] - mu) * rs);
            ab[j] += d[j];
        }
    }
    for (int j = 0; j < nc; j++) {
        if (dweight) dweight[c0 + j] += aw[j];
        if (dbias) dbias[c0 + j] += ab[j];
    }
}

/*
 * dinp (N, C), dweight (C), dbias (C) += gradients; any may be NULL. dout, inp (N, C); weight (C);
 * mean, rstd (N) from forward.
 */
void warm_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                             const float *weight, const float *mean, const float *rstd, int N, int C) {
    WARM_CHECK(N >= 0 && C > 0, "N=%d C=%d", N, C);
    if (dinp) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
        for (int r = 0; r < N; r++) {
            size_t o = (size_t)r * (size_t)C;
            ln_row_backward_dinp(dinp + o, dout + o, inp + o, weight, mean[r], rstd[r], C);
        }
    }
    if (dweight || dbias) {
        int nblocks = (C + COL_BLOCK - 1) / COL_BLOCK;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
        for (int blk = 0; blk < nblocks; blk++) {
            int c0 = blk * COL_BLOCK;
            int nc = C - c0 < COL_BLOCK ? C - c0 : COL_BLOCK;
            ln_cols_backward(dweight, dbias, dout, inp, mean, rstd, N, C, c0, nc);
        }
    }
}
