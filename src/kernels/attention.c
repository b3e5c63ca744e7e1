/*
 * attention.c — causal multi-head self-attention, forward and backward, with dropout on the probabilities.
 *
 * Layout (GPT-2 c_attn output): qkv (B, T, 3C) holds q | k | v blocks of C columns; head h uses columns
 * h*HS .. h*HS+HS-1 of each block, HS = C/NH. out (B, T, C) puts head h in the same columns. att (B, NH, T, T)
 * holds the softmax probabilities P (before dropout): row t has columns 0..t, the rest are written as zero.
 *
 *   S = q k^T / sqrt(HS) (s <= t),  P = softmax(S),  Pd = P * mask / (1 - p),  out = Pd v
 *
 * The dropout mask is a pure function of (drop_key, ((b*NH + h)*T + t)*T + s), so backward recomputes it.
 * Backward, with dS = P * (dP - sum_s P dP) the softmax backward and the score scale folded into dS:
 *
 *   pass 1, per row t:  dPd = dout_t . v_s,  dP = dPd * mask / (1 - p),  dS[t][.],  dq_t += sum_s dS[t][s] k_s
 *   pass 2, per key s:  dk_s += sum_t dS[t][s] q_t,  dv_s += sum_t Pd[t][s] dout_t
 *
 * Each sum is a register accumulation over one index in ascending order; pass 2 reads the dS and Pd matrices
 * pass 1 stored, instead of scattering += into every dk/dv row for every t.
 *
 * One query row per sequence (warm_attention_forward_rows / _backward_rows, the reward step's last layer, where
 * only the pooled row of each sequence reaches the loss): row t = qpos[b] attends to keys 0..t of its own
 * sequence. The per-row work (query_row, grad_row) is the same code as in the full kernels and the dropout
 * mask keeps the full numbering, so forward equals row (b, qpos[b]) of the full kernel bit for bit, and
 * backward equals the full backward with dout zero on every other row (see head_backward_row_body).
 *
 * Parallelism and determinism: one (b, h) pair per work item (OpenMP collapse(2)). A pair reads its own head
 * columns and writes only its own head columns of out / dqkv and its own att block, so no two threads touch
 * the same output element, and within a pair every sum runs in a fixed order.
 *
 * Vectorisation: accumulators are 16-float GCC vectors (v16f), four independent ones per loop so that add
 * latency is hidden. The pair's rows are first copied into contiguous workspace: q, k, v (and dout) as
 * (T, HS), and for the score dot products the keys (values, in backward) transposed in blocks of 16 rows,
 * (nblk, HS, 16) with block c, row i, lane j = k[16c + j][i]. Then one query row gets 16 scores per vector,
 * each summed over i in order like a scalar dot product, and the weighted sums over rows (out_t, dq_t, dk_s,
 * dv_s) run 16 columns per vector. exp is warm_vexpf (branch-free, vectorisable; see gelu.c), since gcc has
 * no vector expf without fast-math; the dropout keep test is an integer compare (see drop_mult).
 *
 * ISA: the per-head workers are compiled twice, with target("avx512f,avx512dq") (a v16f is one zmm register)
 * and for the baseline (SSE2, where gcc keeps a v16f in memory: correct but ~18x slower), and picked at run
 * time. v16f arithmetic is lane-wise IEEE and -std=c11 implies -ffp-contract=off (no FMA), so both copies
 * give the same bits (tested through the WARM_KERNEL_ISA=portable hook). Measured on the 2-core Xeon, B=4,
 * T=256, C=768, NH=12, one thread: forward 11 ms (37 GFLOP/s), backward 19 ms (42 GFLOP/s) with p = 0;
 * dropout p = 0.1 adds ~1 ms to each.
 */
#include "warm/kernels.h"
#include "kernels/simd.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "warm/core.h"
#ifdef _OPENMP
#include <omp.h>
#endif

/*
 * Every helper is forced inline into the per-head workers, which are compiled twice (see "ISA" above). A
 * helper left out of line would be compiled for the baseline only, where a 16-float vector lives in memory.
 */

/* Vector width in floats and the key-block height of the packed layout. */
#define VW 16

/*
 * GCC vector extension; no alignment is assumed (loads and stores go through memcpy). gcc warns that passing
 * a 64-byte vector by value has a different ABI without AVX-512; every function taking or returning one is
 * forced inline, so no such call exists and the warning is silenced for this file.
 */
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float v16f __attribute__((vector_size(VW * sizeof(float))));
typedef int32_t v16i __attribute__((vector_size(VW * sizeof(int32_t)))); /* lane masks of v16f compares */

static WARM_INLINE v16f v16_load(const float *p) {
    v16f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static WARM_INLINE void v16_store(float *p, const v16f *v) { memcpy(p, v, sizeof *v); }


/* Sizes shared by the per-head workers. */
typedef struct {
    int B, T, C, NH, HS;
    size_t C3;         /* row stride of qkv: 3C */
    int nblk;          /* key blocks of the packed layout: ceil(T / VW) rounded up to a multiple of 4 */
    size_t TH, TP, PK; /* floats in a (T, HS) copy, in a row padded to nblk*VW, in a packed (nblk, HS, VW) */
    float scale;       /* 1 / sqrt(HS) */
    float p, inv_keep; /* dropout rate, 1 / (1 - p) */
    uint64_t keep_min; /* ceil(p * 2^24): element kept iff (hash >> 40) >= keep_min (see drop_mult) */
    uint64_t key;
    int set;           /* full backward: overwrite dqkv instead of accumulating (warm_attention_backward_set) */
} att_dims;

/* Rounds a float count up to a multiple of 16 (64 bytes), so workspace slices stay cache-line aligned. */
static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

/* Rounds a block count up to a multiple of 4: dot_blocks works on 4 blocks at a time. */
static int round4(int n) { return (n + 3) & ~3; }

static att_dims att_dims_make(int B, int T, int C, int NH, float p, uint64_t key) {
    WARM_CHECK(B >= 0 && T >= 0 && NH > 0 && C > 0 && C % NH == 0, "B=%d T=%d C=%d NH=%d", B, T, C, NH);
    WARM_CHECK(p >= 0.0f && p <= 1.0f, "dropout rate %g", (double)p);
    att_dims d;
    d.B = B, d.T = T, d.C = C, d.NH = NH, d.HS = C / NH, d.C3 = 3 * (size_t)C;
    d.nblk = round4((T + VW - 1) / VW);
    d.TH = round16((size_t)T * (size_t)d.HS);
    d.TP = round16((size_t)d.nblk * VW);
    d.PK = (size_t)d.nblk * (size_t)d.HS * VW;
    d.scale = 1.0f / sqrtf((float)d.HS);
    d.p = p, d.inv_keep = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f, d.key = key;
    d.keep_min = (uint64_t)ceilf(p * 16777216.0f); /* 2^24: the hash's top 24 bits are compared */
    d.set = 0;
    return d;
}

static float *alloc_or_die(size_t floats) {
    float *w = warm_alloc(floats * sizeof(float));
    WARM_CHECK(w != NULL, "out of memory (attention workspace, %zu floats)", floats);
    return w;
}

/* dst (n, HS) contiguous <- the first n rows of src, row stride ld. */
static WARM_INLINE void copy_first_rows(float *restrict dst, const float *restrict src, size_t ld, int n,
                                        const att_dims *d) {
    for (int s = 0; s < n; s++)
        memcpy(dst + (size_t)s * (size_t)d->HS, src + (size_t)s * ld, (size_t)d->HS * sizeof(float));
}

/* dst (T, HS) contiguous <- src rows with stride ld. */
static WARM_INLINE void copy_rows(float *restrict dst, const float *restrict src, size_t ld, const att_dims *d) {
    copy_first_rows(dst, src, ld, d->T, d);
}

/* dst (nblk, HS, VW) <- the first n rows of src (n, HS contiguous), transposed per block of VW rows; rows >= n
 * are 0. */
static WARM_INLINE void pack_first_blocks(float *restrict dst, const float *restrict src, int n,
                                          const att_dims *d) {
    int HS = d->HS;
    memset(dst, 0, d->PK * sizeof(float));
    for (int s = 0; s < n; s++) {
        float *col = dst + (size_t)(s / VW) * (size_t)HS * VW + s % VW;
        const float *row = src + (size_t)s * (size_t)HS;
        for (int i = 0; i < HS; i++) col[(size_t)i * VW] = row[i];
    }
}

/* pack_first_blocks of all T rows. */
static WARM_INLINE void pack_blocks(float *restrict dst, const float *restrict src, const att_dims *d) {
    pack_first_blocks(dst, src, d->T, d);
}

/*
 * out (nb*VW) = scale * (a (HS) . packed rows 0 .. nb*VW-1), nb a multiple of 4; each dot product runs over i
 * in order. Four blocks at a time: four independent add chains hide the add latency (one chain alone is
 * latency-bound; padding the packed keys to whole groups of 4 blocks is cheaper than a single-chain tail).
 */
static WARM_INLINE void dot_blocks(float *restrict out, const float *restrict a, const float *restrict packed,
                                   int nb, int HS, float scale) {
    size_t bs = (size_t)HS * VW; /* floats per packed block */
    for (int c = 0; c < nb; c += 4) {
        const float *blk = packed + (size_t)c * bs;
        v16f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        for (int i = 0; i < HS; i++) {
            const float *bi = blk + (size_t)i * VW;
            a0 += a[i] * v16_load(bi);
            a1 += a[i] * v16_load(bi + bs);
            a2 += a[i] * v16_load(bi + 2 * bs);
            a3 += a[i] * v16_load(bi + 3 * bs);
        }
        a0 *= scale, a1 *= scale, a2 *= scale, a3 *= scale;
        v16_store(out + (size_t)c * VW, &a0);
        v16_store(out + (size_t)(c + 1) * VW, &a1);
        v16_store(out + (size_t)(c + 2) * VW, &a2);
        v16_store(out + (size_t)(c + 3) * VW, &a3);
    }
}

/*
 * y (HS) = sum_{s<n} w[s*ws] * rows[s*HS + i], s ascending; rows (n, HS) contiguous. 64 columns (four
 * independent chains) at a time, then 16, then single columns.
 */
static WARM_INLINE void weighted_rows(float *restrict y, const float *restrict w, size_t ws,
                                      const float *restrict rows, int n, int HS) {
    int i0 = 0;
    for (; i0 + 4 * VW <= HS; i0 += 4 * VW) {
        v16f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        for (int s = 0; s < n; s++) {
            const float *r = rows + (size_t)s * (size_t)HS + i0;
            float ww = w[(size_t)s * ws];
            a0 += ww * v16_load(r);
            a1 += ww * v16_load(r + VW);
            a2 += ww * v16_load(r + 2 * VW);
            a3 += ww * v16_load(r + 3 * VW);
        }
        v16_store(y + i0, &a0);
        v16_store(y + i0 + VW, &a1);
        v16_store(y + i0 + 2 * VW, &a2);
        v16_store(y + i0 + 3 * VW, &a3);
    }
    for (; i0 + VW <= HS; i0 += VW) {
        v16f acc = {0};
        for (int s = 0; s < n; s++) acc += w[(size_t)s * ws] * v16_load(rows + (size_t)s * (size_t)HS + i0);
        v16_store(y + i0, &acc);
    }
    for (; i0 < HS; i0++) {
        float acc = 0.0f;
        for (int s = 0; s < n; s++) acc += w[(size_t)s * ws] * rows[(size_t)s * (size_t)HS + i0];
        y[i0] = acc;
    }
}

/* sum_{s<n} a[s] * b[s]: VW lane partial sums, added in lane order, then the tail. */
static WARM_INLINE float lane_dot(const float *restrict a, const float *restrict b, int n) {
    v16f acc = {0};
    int s = 0;
    for (; s + VW <= n; s += VW) acc += v16_load(a + s) * v16_load(b + s);
    float r = 0.0f;
    for (int j = 0; j < VW; j++) r += acc[j];
    for (; s < n; s++) r += a[s] * b[s];
    return r;
}

/* sum_{s<n} a[s], in the same order as lane_dot. */
static WARM_INLINE float lane_sum(const float *restrict a, int n) {
    v16f acc = {0};
    int s = 0;
    for (; s + VW <= n; s += VW) acc += v16_load(a + s);
    float r = 0.0f;
    for (int j = 0; j < VW; j++) r += acc[j];
    for (; s < n; s++) r += a[s];
    return r;
}

/*
 * The dropout multiplier of element (row t of pair bh, column s): 1/(1-p) if kept, else 0. This is
 * warm_dropout_keep written as an integer compare: (hash >> 40) * 2^-24 >= p holds, both sides being exact
 * floats, iff (hash >> 40) >= ceil(p * 2^24) = d->keep_min. The integer form vectorises (with AVX-512DQ's
 * 64-bit multiply); a float compare-and-select does not under -ftrapping-math.
 */
static WARM_INLINE float drop_mult(const att_dims *d, uint64_t row_base, int s) {
    int32_t keep = (warm_hash64(d->key, row_base + (uint64_t)s) >> 40) >= d->keep_min;
    return (float)keep * d->inv_keep; /* arithmetic rather than ?: keeps the loop free of branches */
}

/* Index of element (bh, t, 0) in the mask numbering of kernels.h. */
static WARM_INLINE uint64_t drop_base(const att_dims *d, size_t bh, int t) {
    return ((uint64_t)bh * (uint64_t)d->T + (uint64_t)t) * (uint64_t)d->T;
}

/*
 * max_{s<n} a[s] (n >= 1), VW lanes at a time. The lane-wise select is written with a vector compare and bit
 * masks (gcc's C front end has no vector ?:). A NaN never wins a compare; it still reaches the softmax through
 * exp(NaN - max).
 */
static WARM_INLINE float lane_max(const float *restrict a, int n) {
    float mx = a[0];
    int s = 0;
    if (n >= VW) {
        v16f m = v16_load(a);
        for (s = VW; s + VW <= n; s += VW) {
            v16f x = v16_load(a + s);
            v16i gt = x > m;
            m = (v16f)(((v16i)x & gt) | ((v16i)m & ~gt));
        }
        mx = m[0];
        for (int j = 1; j < VW; j++) mx = m[j] > mx ? m[j] : mx;
    }
    for (; s < n; s++) mx = a[s] > mx ? a[s] : mx;
    return mx;
}

/* P (T) <- softmax of row (n = t+1 scores), zero past n. row is overwritten with exp(row - max). */
static WARM_INLINE void softmax_row(float *restrict P, float *restrict row, int n, int T) {
    float mx = lane_max(row, n);
    for (int s = 0; s < n; s++) row[s] = warm_vexpf(row[s] - mx);
    float sum = lane_sum(row, n);
    for (int s = 0; s < n; s++) P[s] = row[s] / sum;
    for (int s = n; s < T; s++) P[s] = 0.0f;
}

/* Forward workspace: packed keys (nblk, HS, VW), values (T, HS), a score row, a weight row. */
static size_t fwd_ws_floats(const att_dims *d) { return round16(d->PK) + d->TH + 2 * d->TP; }

/*
 * Query row t of pair bh: P (T) <- softmax(q_t . k_s * scale, s <= t), y (HS) <- sum_s Pd[s] v_s, with kp the
 * packed keys and vc the values (rows 0..t at least). row and wrow are scratch rows (TP). Shared by the full
 * and the one-row-per-sequence kernels, so both compute a row the same way.
 */
static WARM_INLINE void query_row(float *y, float *P, const float *q_t, const float *kp, const float *vc,
                                  uint64_t base, int t, const att_dims *d, float *row, float *wrow) {
    int n = t + 1;
    dot_blocks(row, q_t, kp, round4(t / VW + 1), d->HS, d->scale);
    softmax_row(P, row, n, d->T);
    const float *w = P;
    if (d->p > 0.0f) {
        for (int s = 0; s < n; s++) wrow[s] = P[s] * drop_mult(d, base, s);
        w = wrow;
    }
    weighted_rows(y, w, 1, vc, n, d->HS);
}

/* One (b, h) pair: out (T rows, head columns), att (T, T). */
static WARM_INLINE void head_forward_body(float *out, float *att, const float *qkv, int b, int h, const att_dims *d,
                                          float *ws) {
    int T = d->T, HS = d->HS;
    size_t bh = (size_t)b * (size_t)d->NH + (size_t)h;
    const float *q = qkv + (size_t)b * (size_t)T * d->C3 + (size_t)h * (size_t)HS;
    float *kp = ws, *vc = kp + round16(d->PK), *row = vc + d->TH, *wrow = row + d->TP;
    copy_rows(vc, q + d->C, d->C3, d); /* k, contiguous, then packed */
    pack_blocks(kp, vc, d);
    copy_rows(vc, q + 2 * (size_t)d->C, d->C3, d);
    for (int t = 0; t < T; t++)
        query_row(out + ((size_t)b * (size_t)T + (size_t)t) * (size_t)d->C + (size_t)h * (size_t)HS,
                  att + (bh * (size_t)T + (size_t)t) * (size_t)T, q + (size_t)t * d->C3, kp, vc, drop_base(d, bh, t),
                  t, d, row, wrow);
}

/*
 * One (b, h) pair, one query row t = qpos[b]: out (B, C) row b and att (B, NH, T) row bh. Only keys and values
 * 0..t are copied; dot_blocks still sweeps whole packed blocks, whose rows past t are zero and whose scores
 * past t are never read, so every lane that is read is computed as in head_forward_body.
 */
static WARM_INLINE void head_forward_row_body(float *out, float *att, const float *qkv, const int32_t *qpos, int b,
                                              int h, const att_dims *d, float *ws) {
    int T = d->T, HS = d->HS, t = qpos[b];
    size_t bh = (size_t)b * (size_t)d->NH + (size_t)h;
    const float *q = qkv + (size_t)b * (size_t)T * d->C3 + (size_t)h * (size_t)HS;
    float *kp = ws, *vc = kp + round16(d->PK), *row = vc + d->TH, *wrow = row + d->TP;
    copy_first_rows(vc, q + d->C, d->C3, t + 1, d);
    pack_first_blocks(kp, vc, t + 1, d);
    copy_first_rows(vc, q + 2 * (size_t)d->C, d->C3, t + 1, d);
    query_row(out + (size_t)b * (size_t)d->C + (size_t)h * (size_t)HS, att + bh * (size_t)T, q + (size_t)t * d->C3,
              kp, vc, drop_base(d, bh, t), t, d, row, wrow);
}

/*
 * Backward workspace: q, k, dout copies (T, HS), packed values (nblk, HS, VW), the dS and Pd matrices
 * (T, T; row t holds columns 0..t), dq rows (T, HS), a dPd row, dk and dv rows (HS).
 */
static size_t bwd_ws_floats(const att_dims *d) {
    size_t tt = round16((size_t)d->T * (size_t)d->T);
    return 4 * d->TH + round16(d->PK) + 2 * tt + d->TP + 2 * round16((size_t)d->HS);
}

/*
 * Pass 1 for query row t (probabilities P (t+1), output gradient g_t (HS), dropout elements base + s): ds (t+1) <- dS row with
 * the score scale folded in, pd (t+1) <- Pd row (skipped when NULL, i.e. without dropout), dq_t (HS) <-
 * sum_s dS[s] k_s. vp: packed values, kc: keys (rows 0..t at least), row: scratch (TP). Shared by the full and
 * the one-row-per-sequence backward.
 */
static WARM_INLINE void grad_row(float *ds, float *pd, float *dq_t, const float *P, const float *g_t,
                                 const float *vp, const float *kc, uint64_t base, int t, const att_dims *d,
                                 float *row) {
    int n = t + 1;
    dot_blocks(row, g_t, vp, round4(t / VW + 1), d->HS, 1.0f); /* dPd */
    if (pd) {
        /* one mask evaluation per element: Pd = P * m and dP = dPd * m, m = mask / (1-p) */
        for (int s = 0; s < n; s++) {
            float m = drop_mult(d, base, s);
            pd[s] = P[s] * m;
            row[s] *= m;
        }
    }
    float pdp = lane_dot(P, row, n);
    for (int s = 0; s < n; s++) ds[s] = P[s] * (row[s] - pdp) * d->scale;
    weighted_rows(dq_t, ds, 1, kc, n, d->HS);
}

/* One (b, h) pair: dqkv (T rows, head columns of the q, k, v blocks) += gradients. */
static WARM_INLINE void head_backward_body(float *dqkv, const float *dout, const float *qkv, const float *att,
                                           int b, int h, const att_dims *d, float *ws) {
    int T = d->T, HS = d->HS;
    size_t C3 = d->C3, bh = (size_t)b * (size_t)d->NH + (size_t)h;
    size_t head_off = (size_t)b * (size_t)T * C3 + (size_t)h * (size_t)HS;
    float *dq = dqkv + head_off, *dk = dq + d->C, *dv = dq + 2 * (size_t)d->C;
    const float *attb = att + bh * (size_t)T * (size_t)T;

    size_t tt = round16((size_t)T * (size_t)T);
    float *qc = ws, *kc = qc + d->TH, *gc = kc + d->TH, *vp = gc + d->TH;
    float *dS = vp + round16(d->PK), *Pd = dS + tt, *dqw = Pd + tt, *row = dqw + d->TH;
    float *acc_k = row + d->TP, *acc_v = acc_k + round16((size_t)HS);
    copy_rows(qc, qkv + head_off, C3, d);
    copy_rows(kc, qkv + head_off + d->C, C3, d);
    copy_rows(gc, dout + (size_t)b * (size_t)T * (size_t)d->C + (size_t)h * (size_t)HS, (size_t)d->C, d);
    copy_rows(dqw, qkv + head_off + 2 * (size_t)d->C, C3, d); /* v, staged in dqw (T, HS) before packing */
    pack_blocks(vp, dqw, d);
    if (d->p == 0.0f) Pd = NULL; /* then Pd = P, read from att */

    /* pass 1, per query row t: dS row, Pd row, dq_t */
    for (int t = 0; t < T; t++)
        grad_row(dS + (size_t)t * (size_t)T, Pd ? Pd + (size_t)t * (size_t)T : NULL, dqw + (size_t)t * (size_t)HS,
                 attb + (size_t)t * (size_t)T, gc + (size_t)t * (size_t)HS, vp, kc, drop_base(d, bh, t), t, d, row);
    /*
     * pass 2, per key row s: dk_s and dv_s sum over the query rows t >= s (column s of dS and Pd); then row s
     * of dqkv (its q, k and v parts) is updated in one go. Rows of dqkv are 12 KB apart in GPT-2 small, too
     * far for the hardware prefetcher, so the next row is prefetched by hand.
     */
    const float *pdm = Pd ? Pd : attb;
    for (int s = 0; s < T; s++) {
        if (s + 1 < T)
            for (int i = 0; i < HS; i += VW) {
                __builtin_prefetch(dq + (size_t)(s + 1) * C3 + i, 1);
                __builtin_prefetch(dk + (size_t)(s + 1) * C3 + i, 1);
                __builtin_prefetch(dv + (size_t)(s + 1) * C3 + i, 1);
            }
        size_t off = (size_t)s * (size_t)T + (size_t)s; /* element [s][s], then down the column */
        weighted_rows(acc_k, dS + off, (size_t)T, qc + (size_t)s * (size_t)HS, T - s, HS);
        weighted_rows(acc_v, pdm + off, (size_t)T, gc + (size_t)s * (size_t)HS, T - s, HS);
        float *dqs = dq + (size_t)s * C3, *dks = dk + (size_t)s * C3, *dvs = dv + (size_t)s * C3;
        const float *aq = dqw + (size_t)s * (size_t)HS;
        if (d->set) { /* every row s of the pair's columns is written here exactly once */
            for (int i = 0; i < HS; i++) {
                dqs[i] = aq[i];
                dks[i] = acc_k[i];
                dvs[i] = acc_v[i];
            }
        } else {
            for (int i = 0; i < HS; i++) {
                dqs[i] += aq[i];
                dks[i] += acc_k[i];
                dvs[i] += acc_v[i];
            }
        }
    }
}

/* Backward workspace of the one-row kernel: keys and values (T, HS), packed values, ds, pd, a dPd row (TP),
 * the dq row (HS). */
static size_t bwd_row_ws_floats(const att_dims *d) {
    return 2 * d->TH + round16(d->PK) + 3 * d->TP + round16((size_t)d->HS);
}

/*
 * One (b, h) pair, one query row t = qpos[b] with output gradient row b of dout (B, C): dqkv += dq at row t and
 * dk_s = dS[s] q_t, dv_s = Pd[s] g_t at rows s <= t. The full backward sums dk_s and dv_s over every query row
 * t' >= s; when only row t has a nonzero output gradient the other terms are exact zeros (dS and Pd g of a
 * zero row) and 0 + x = x, so each element gets the same single product as here: bit-identical to
 * head_backward_body with dout zero on the other rows.
 */
static WARM_INLINE void head_backward_row_body(float *dqkv, const float *dout, const float *qkv, const float *att,
                                               const int32_t *qpos, int b, int h, const att_dims *d, float *ws) {
    int T = d->T, HS = d->HS, t = qpos[b], n = t + 1;
    size_t C3 = d->C3, bh = (size_t)b * (size_t)d->NH + (size_t)h;
    size_t head_off = (size_t)b * (size_t)T * C3 + (size_t)h * (size_t)HS;
    float *dq = dqkv + head_off, *dk = dq + d->C, *dv = dq + 2 * (size_t)d->C;
    const float *P = att + bh * (size_t)T, *q_t = qkv + head_off + (size_t)t * C3;
    const float *g = dout + (size_t)b * (size_t)d->C + (size_t)h * (size_t)HS;
    float *kc = ws, *vc = kc + d->TH, *vp = vc + d->TH;
    float *ds = vp + round16(d->PK), *pd = ds + d->TP, *row = pd + d->TP, *dqw = row + d->TP;
    copy_first_rows(kc, qkv + head_off + d->C, C3, n, d);
    copy_first_rows(vc, qkv + head_off + 2 * (size_t)d->C, C3, n, d);
    pack_first_blocks(vp, vc, n, d);
    if (d->p == 0.0f) pd = NULL; /* then Pd = P */
    grad_row(ds, pd, dqw, P, g, vp, kc, drop_base(d, bh, t), t, d, row);
    const float *pdm = pd ? pd : P;
    float *dqt = dq + (size_t)t * C3;
    for (int i = 0; i < HS; i++) dqt[i] += dqw[i];
    for (int s = 0; s < n; s++) {
        float *dks = dk + (size_t)s * C3, *dvs = dv + (size_t)s * C3;
        float wk = ds[s], wv = pdm[s];
        for (int i = 0; i < HS; i++) {
            dks[i] += wk * q_t[i];
            dvs[i] += wv * g[i];
        }
    }
}


/*
 * ---- Tree attention (shared-prefix pairs, see kernels.h) ----
 * Pair i, sequence k (0: a, 1: b) of n = prefix + len_k positions: position t is packed row tree_row(k, t). One
 * work item is one (pair, head); it runs sequence a, then sequence b, each as a causal sequence of its own over
 * gathered rows (the prefix rows are gathered for both). Queries: every position of a, the positions >= prefix
 * of b (the prefix's queries belong to a); with `last`, only each sequence's last position. The dropout element
 * of (query row r, head h, key position s) is (r*NH + h)*T + s, whichever kernel computes it.
 * Backward overwrites dqkv on every row of the pair: sequence a sets dq, dk, dv of its rows (dq 0 where a row
 * has no query); sequence b sets those of its own rows and adds its dk, dv sums to the prefix rows.
 */
static WARM_INLINE size_t tree_row(const warm_tree_pair *pr, int k, int t) {
    return (size_t)pr->start + (size_t)t + (k && t >= pr->prefix ? (size_t)pr->len_a : 0);
}

static WARM_INLINE int tree_len(const warm_tree_pair *pr, int k) { return pr->prefix + (k ? pr->len_b : pr->len_a); }

/* First query position of sequence k. */
static WARM_INLINE int tree_first(const warm_tree_pair *pr, int k, int last) {
    return last ? tree_len(pr, k) - 1 : (k ? pr->prefix : 0);
}

static WARM_INLINE uint64_t tree_base(const att_dims *d, size_t r, int h) {
    return ((uint64_t)r * (uint64_t)d->NH + (uint64_t)h) * (uint64_t)d->T;
}

/* dst (n, HS) <- positions 0..n-1 of sequence k, from src (the head's columns of one block, row stride ld). */
static WARM_INLINE void tree_gather(float *restrict dst, const float *restrict src, size_t ld,
                                    const warm_tree_pair *pr, int k, int n, const att_dims *d) {
    for (int t = 0; t < n; t++)
        memcpy(dst + (size_t)t * (size_t)d->HS, src + tree_row(pr, k, t) * ld, (size_t)d->HS * sizeof(float));
}

/* Output row of query position t of sequence k: its packed row, or k*P + i with `last`. */
static WARM_INLINE size_t tree_out(const warm_tree_pair *pr, int k, int t, int i, int last, const att_dims *d) {
    return last ? (size_t)k * (size_t)d->B + (size_t)i : tree_row(pr, k, t);
}

static WARM_INLINE void tree_forward_body(float *out, float *att, const float *qkv, const warm_tree_pair *pairs,
                                          int last, int i, int h, const att_dims *d, float *ws) {
    const warm_tree_pair *pr = &pairs[i];
    size_t hc = (size_t)h * (size_t)d->HS, NH = (size_t)d->NH, T = (size_t)d->T;
    float *kp = ws, *vc = kp + round16(d->PK), *row = vc + d->TH, *wrow = row + d->TP;
    for (int k = 0; k < 2; k++) {
        int n = tree_len(pr, k);
        tree_gather(vc, qkv + hc + d->C, d->C3, pr, k, n, d); /* keys, then packed */
        pack_first_blocks(kp, vc, n, d);
        tree_gather(vc, qkv + hc + 2 * (size_t)d->C, d->C3, pr, k, n, d);
        for (int t = tree_first(pr, k, last); t < n; t++) {
            size_t r = tree_row(pr, k, t), o = tree_out(pr, k, t, i, last, d);
            query_row(out + o * (size_t)d->C + hc, att + (o * NH + (size_t)h) * T, qkv + r * d->C3 + hc, kp, vc,
                      tree_base(d, r, h), t, d, row, wrow);
        }
    }
}

/* Backward workspace: as bwd_ws_floats (q, k, dout, staged v / dq copies, packed values, dS and Pd, rows). */
static WARM_INLINE void tree_backward_body(float *dqkv, const float *dout, const float *qkv, const float *att,
                                           const warm_tree_pair *pairs, int last, int i, int h, const att_dims *d,
                                           float *ws) {
    const warm_tree_pair *pr = &pairs[i];
    int HS = d->HS;
    size_t hc = (size_t)h * (size_t)HS, NH = (size_t)d->NH, T = (size_t)d->T, C3 = d->C3, C = (size_t)d->C;
    size_t tt = round16(T * T);
    float *qc = ws, *kc = qc + d->TH, *gc = kc + d->TH, *vp = gc + d->TH;
    float *dS = vp + round16(d->PK), *Pd = dS + tt, *dqw = Pd + tt, *row = dqw + d->TH;
    float *acc_k = row + d->TP, *acc_v = acc_k + round16((size_t)HS);
    for (int k = 0; k < 2; k++) {
        int n = tree_len(pr, k), t0 = tree_first(pr, k, last);
        tree_gather(qc, qkv + hc, C3, pr, k, n, d);
        tree_gather(kc, qkv + hc + C, C3, pr, k, n, d);
        tree_gather(dqw, qkv + hc + 2 * C, C3, pr, k, n, d); /* v, staged in dqw before packing */
        pack_first_blocks(vp, dqw, n, d);
        /* pass 1, per query position t: dS row, Pd row (P itself without dropout), dq_t */
        for (int t = t0; t < n; t++) {
            size_t o = tree_out(pr, k, t, i, last, d), r = tree_row(pr, k, t);
            const float *P = att + (o * NH + (size_t)h) * T;
            float *g_t = gc + (size_t)t * (size_t)HS, *pd = Pd + (size_t)t * T;
            memcpy(g_t, dout + o * C + hc, (size_t)HS * sizeof(float));
            grad_row(dS + (size_t)t * T, d->p > 0.0f ? pd : NULL, dqw + (size_t)t * (size_t)HS, P, g_t, vp, kc,
                     tree_base(d, r, h), t, d, row);
            if (d->p == 0.0f) memcpy(pd, P, (size_t)(t + 1) * sizeof(float));
        }
        /* pass 2, per key position s: dk_s, dv_s sum over the query positions t >= max(s, t0) */
        for (int s = 0; s < n; s++) {
            int lo = s > t0 ? s : t0;
            weighted_rows(acc_k, dS + (size_t)lo * T + (size_t)s, T, qc + (size_t)lo * (size_t)HS, n - lo, HS);
            weighted_rows(acc_v, Pd + (size_t)lo * T + (size_t)s, T, gc + (size_t)lo * (size_t)HS, n - lo, HS);
            float *dq = dqkv + tree_row(pr, k, s) * C3 + hc, *dk = dq + C, *dv = dq + 2 * C;
            if (k == 1 && s < pr->prefix) { /* a prefix row: sequence a has set it */
                for (int j = 0; j < HS; j++) {
                    dk[j] += acc_k[j];
                    dv[j] += acc_v[j];
                }
            } else {
                const float *aq = dqw + (size_t)s * (size_t)HS;
                for (int j = 0; j < HS; j++) {
                    dq[j] = s >= t0 ? aq[j] : 0.0f;
                    dk[j] = acc_k[j];
                    dv[j] = acc_v[j];
                }
            }
        }
    }
}

/* The two compilations of the per-head workers (see "ISA" at the top). */
typedef void (*head_fwd_fn)(float *out, float *att, const float *qkv, int b, int h, const att_dims *d, float *ws);
typedef void (*head_bwd_fn)(float *dqkv, const float *dout, const float *qkv, const float *att, int b, int h,
                            const att_dims *d, float *ws);

static void head_forward_base(float *out, float *att, const float *qkv, int b, int h, const att_dims *d, float *ws) {
    head_forward_body(out, att, qkv, b, h, d, ws);
}

static void head_backward_base(float *dqkv, const float *dout, const float *qkv, const float *att, int b, int h,
                               const att_dims *d, float *ws) {
    head_backward_body(dqkv, dout, qkv, att, b, h, d, ws);
}

typedef void (*row_fwd_fn)(float *out, float *att, const float *qkv, const int32_t *qpos, int b, int h,
                           const att_dims *d, float *ws);
typedef void (*row_bwd_fn)(float *dqkv, const float *dout, const float *qkv, const float *att, const int32_t *qpos,
                           int b, int h, const att_dims *d, float *ws);

static void row_forward_base(float *out, float *att, const float *qkv, const int32_t *qpos, int b, int h,
                             const att_dims *d, float *ws) {
    head_forward_row_body(out, att, qkv, qpos, b, h, d, ws);
}

static void row_backward_base(float *dqkv, const float *dout, const float *qkv, const float *att,
                              const int32_t *qpos, int b, int h, const att_dims *d, float *ws) {
    head_backward_row_body(dqkv, dout, qkv, att, qpos, b, h, d, ws);
}

typedef void (*tree_fwd_fn)(float *out, float *att, const float *qkv, const warm_tree_pair *pairs, int last, int i,
                            int h, const att_dims *d, float *ws);
typedef void (*tree_bwd_fn)(float *dqkv, const float *dout, const float *qkv, const float *att,
                            const warm_tree_pair *pairs, int last, int i, int h, const att_dims *d, float *ws);

static void tree_forward_base(float *out, float *att, const float *qkv, const warm_tree_pair *pairs, int last, int i,
                              int h, const att_dims *d, float *ws) {
    tree_forward_body(out, att, qkv, pairs, last, i, h, d, ws);
}

static void tree_backward_base(float *dqkv, const float *dout, const float *qkv, const float *att,
                               const warm_tree_pair *pairs, int last, int i, int h, const att_dims *d, float *ws) {
    tree_backward_body(dqkv, dout, qkv, att, pairs, last, i, h, d, ws);
}

#ifdef WARM_KERNELS_X86
__attribute__((target("avx512f,avx512dq"))) static void tree_forward_avx512(float *out, float *att, const float *qkv,
                                                                            const warm_tree_pair *pairs, int last,
                                                                            int i, int h, const att_dims *d,
                                                                            float *ws) {
    tree_forward_body(out, att, qkv, pairs, last, i, h, d, ws);
}

__attribute__((target("avx512f,avx512dq"))) static void tree_backward_avx512(float *dqkv, const float *dout,
                                                                             const float *qkv, const float *att,
                                                                             const warm_tree_pair *pairs, int last,
                                                                             int i, int h, const att_dims *d,
                                                                             float *ws) {
    tree_backward_body(dqkv, dout, qkv, att, pairs, last, i, h, d, ws);
}

__attribute__((target("avx512f,avx512dq"))) static void row_forward_avx512(float *out, float *att, const float *qkv,
                                                                           const int32_t *qpos, int b, int h,
                                                                           const att_dims *d, float *ws) {
    head_forward_row_body(out, att, qkv, qpos, b, h, d, ws);
}

__attribute__((target("avx512f,avx512dq"))) static void row_backward_avx512(float *dqkv, const float *dout,
                                                                            const float *qkv, const float *att,
                                                                            const int32_t *qpos, int b, int h,
                                                                            const att_dims *d, float *ws) {
    head_backward_row_body(dqkv, dout, qkv, att, qpos, b, h, d, ws);
}

__attribute__((target("avx512f,avx512dq"))) static void head_forward_avx512(float *out, float *att,
                                                                            const float *qkv, int b, int h,
                                                                            const att_dims *d, float *ws) {
    head_forward_body(out, att, qkv, b, h, d, ws);
}

__attribute__((target("avx512f,avx512dq"))) static void head_backward_avx512(float *dqkv, const float *dout,
                                                                             const float *qkv, const float *att,
                                                                             int b, int h, const att_dims *d,
                                                                             float *ws) {
    head_backward_body(dqkv, dout, qkv, att, b, h, d, ws);
}
#endif


/* One attention call: which per-(b, h) worker runs, and its arguments. */
typedef enum { ATT_FWD, ATT_BWD, ATT_ROW_FWD, ATT_ROW_BWD, ATT_TREE_FWD, ATT_TREE_BWD } att_kind;
typedef struct {
    att_kind kind;
    head_fwd_fn fwd;
    head_bwd_fn bwd;
    row_fwd_fn rfwd;
    row_bwd_fn rbwd;
    tree_fwd_fn tfwd;
    tree_bwd_fn tbwd;
    float *out, *att, *dqkv;
    const float *qkv, *dout, *att_in;
    const int32_t *qpos;
    const warm_tree_pair *pairs; /* tree kernels: the pairs (d->B of them) */
    int last;                    /* tree kernels: last position of each sequence only */
} att_job;

/* Runs the job's worker for every (b, h) pair (tree kernels: b is the pair index), one pair per work item (collapse(2), static schedule), each
 * thread with its own `per` floats of ws. */
static void run_heads(const att_job *j, const att_dims *d, float *ws, size_t per) {
    int B = d->B, NH = d->NH;
    (void)per; /* used by the OpenMP build only */
#ifdef _OPENMP
#pragma omp parallel
#endif
    {
        float *mine = ws;
#ifdef _OPENMP
        mine += per * (size_t)omp_get_thread_num();
#pragma omp for collapse(2) schedule(static)
#endif
        for (int b = 0; b < B; b++)
            for (int h = 0; h < NH; h++) switch (j->kind) {
                case ATT_FWD: j->fwd(j->out, j->att, j->qkv, b, h, d, mine); break;
                case ATT_BWD: j->bwd(j->dqkv, j->dout, j->qkv, j->att_in, b, h, d, mine); break;
                case ATT_ROW_FWD: j->rfwd(j->out, j->att, j->qkv, j->qpos, b, h, d, mine); break;
                case ATT_ROW_BWD: j->rbwd(j->dqkv, j->dout, j->qkv, j->att_in, j->qpos, b, h, d, mine); break;
                case ATT_TREE_FWD: j->tfwd(j->out, j->att, j->qkv, j->pairs, j->last, b, h, d, mine); break;
                case ATT_TREE_BWD:
                    j->tbwd(j->dqkv, j->dout, j->qkv, j->att_in, j->pairs, j->last, b, h, d, mine);
                    break;
                }
    }
}

void warm_attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH, float p,
                            uint64_t drop_key) {
    att_dims d = att_dims_make(B, T, C, NH, p, drop_key);
    if (B == 0 || T == 0) return;
    size_t per = fwd_ws_floats(&d);
    float *ws = alloc_or_die(per * (size_t)warm_num_threads());
    head_fwd_fn head = head_forward_base;
#ifdef WARM_KERNELS_X86
    if (warm_kernels_avx512(1)) head = head_forward_avx512;
#endif
    att_job j = {.kind = ATT_FWD, .fwd = head, .out = out, .att = att, .qkv = qkv};
    run_heads(&j, &d, ws, per);
    warm_free(ws);
}

static void attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att, int B, int T,
                               int C, int NH, float p, uint64_t drop_key, float *scratch, int set) {
    att_dims d = att_dims_make(B, T, C, NH, p, drop_key);
    d.set = set;
    if (B == 0 || T == 0 || dqkv == NULL) return;
    /* scratch (B*NH*T*T floats) holds the per-thread workspaces when they fit; otherwise allocate them. */
    size_t per = bwd_ws_floats(&d), nthr = (size_t)warm_num_threads();
    size_t have = (size_t)B * (size_t)NH * (size_t)T * (size_t)T;
    int own = scratch == NULL || per * nthr > have;
    float *ws = own ? alloc_or_die(per * nthr) : scratch;
    head_bwd_fn head = head_backward_base;
#ifdef WARM_KERNELS_X86
    if (warm_kernels_avx512(1)) head = head_backward_avx512;
#endif
    att_job j = {.kind = ATT_BWD, .bwd = head, .dqkv = dqkv, .dout = dout, .qkv = qkv, .att_in = att};
    run_heads(&j, &d, ws, per);
    if (own) warm_free(ws);
}

void warm_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att, int B, int T,
                             int C, int NH, float p, uint64_t drop_key, float *scratch) {
    attention_backward(dqkv, dout, qkv, att, B, T, C, NH, p, drop_key, scratch, 0);
}

void warm_attention_backward_set(float *dqkv, const float *dout, const float *qkv, const float *att, int B, int T,
                                 int C, int NH, float p, uint64_t drop_key, float *scratch) {
    attention_backward(dqkv, dout, qkv, att, B, T, C, NH, p, drop_key, scratch, 1);
}

static void check_qpos(const int32_t *qpos, int B, int T) {
    for (int b = 0; b < B; b++)
        WARM_CHECK(qpos[b] >= 0 && qpos[b] < T, "query row %d of sequence %d not in [0, %d)", qpos[b], b, T);
}

void warm_attention_forward_rows(float *out, float *att, const float *qkv, const int32_t *qpos, int B, int T, int C,
                                 int NH, float p, uint64_t drop_key) {
    att_dims d = att_dims_make(B, T, C, NH, p, drop_key);
    if (B == 0 || T == 0) return;
    check_qpos(qpos, B, T);
    size_t per = fwd_ws_floats(&d);
    float *ws = alloc_or_die(per * (size_t)warm_num_threads());
    row_fwd_fn head = row_forward_base;
#ifdef WARM_KERNELS_X86
    if (warm_kernels_avx512(1)) head = row_forward_avx512;
#endif
    att_job j = {.kind = ATT_ROW_FWD, .rfwd = head, .out = out, .att = att, .qkv = qkv, .qpos = qpos};
    run_heads(&j, &d, ws, per);
    warm_free(ws);
}

void warm_attention_backward_rows(float *dqkv, const float *dout, const float *qkv, const float *att,
                                  const int32_t *qpos, int B, int T, int C, int NH, float p, uint64_t drop_key) {
    att_dims d = att_dims_make(B, T, C, NH, p, drop_key);
    if (B == 0 || T == 0 || dqkv == NULL) return;
    check_qpos(qpos, B, T);
    size_t per = bwd_row_ws_floats(&d);
    float *ws = alloc_or_die(per * (size_t)warm_num_threads());
    row_bwd_fn head = row_backward_base;
#ifdef WARM_KERNELS_X86
    if (warm_kernels_avx512(1)) head = row_backward_avx512;
#endif
    att_job j = {.kind = ATT_ROW_BWD, .rbwd = head, .dqkv = dqkv, .dout = dout, .qkv = qkv, .att_in = att, .qpos = qpos};
    run_heads(&j, &d, ws, per);
    warm_free(ws);
}

static void check_tree(const warm_tree_pair *pairs, int P, int T) {
    for (int i = 0; i < P; i++) {
        const warm_tree_pair *pr = &pairs[i];
        int n = pr->prefix + (pr->len_a > pr->len_b ? pr->len_a : pr->len_b);
        WARM_CHECK(pr->start >= 0 && pr->prefix >= 0 && pr->len_a >= 1 && pr->len_b >= 1 && n <= T,
                   "tree pair %d: start %d prefix %d lengths %d, %d (context %d)", i, (int)pr->start,
                   (int)pr->prefix, (int)pr->len_a, (int)pr->len_b, T);
    }
}

static void tree_forward(float *out, float *att, const float *qkv, const warm_tree_pair *pairs, int P, int T, int C,
                         int NH, float p, uint64_t drop_key, int last) {
    att_dims d = att_dims_make(P, T, C, NH, p, drop_key);
    if (P == 0 || T == 0) return;
    check_tree(pairs, P, T);
    size_t per = fwd_ws_floats(&d);
    float *ws = alloc_or_die(per * (size_t)warm_num_threads());
    tree_fwd_fn f = tree_forward_base;
#ifdef WARM_KERNELS_X86
    if (warm_kernels_avx512(1)) f = tree_forward_avx512;
#endif
    att_job j = {.kind = ATT_TREE_FWD, .tfwd = f, .out = out, .att = att, .qkv = qkv, .pairs = pairs, .last = last};
    run_heads(&j, &d, ws, per);
    warm_free(ws);
}

static void tree_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                          const warm_tree_pair *pairs, int P, int T, int C, int NH, float p, uint64_t drop_key,
                          float *scratch, size_t scratch_floats, int last) {
    att_dims d = att_dims_make(P, T, C, NH, p, drop_key);
    if (P == 0 || T == 0) return;
    check_tree(pairs, P, T);
    size_t per = bwd_ws_floats(&d), nthr = (size_t)warm_num_threads();
    int own = scratch == NULL || per * nthr > scratch_floats;
    float *ws = own ? alloc_or_die(per * nthr) : scratch;
    tree_bwd_fn f = tree_backward_base;
#ifdef WARM_KERNELS_X86
    if (warm_kernels_avx512(1)) f = tree_backward_avx512;
#endif
    att_job j = {.kind = ATT_TREE_BWD, .tbwd = f, .dqkv = dqkv, .dout = dout, .qkv = qkv, .att_in = att,
                 .pairs = pairs, .last = last};
    run_heads(&j, &d, ws, per);
    if (own) warm_free(ws);
}

void warm_attention_tree_forward(float *out, float *att, const float *qkv, const warm_tree_pair *pairs, int P, int T,
                                 int C, int NH, float p, uint64_t drop_key) {
    tree_forward(out, att, qkv, pairs, P, T, C, NH, p, drop_key, 0);
}

void warm_attention_tree_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                                  const warm_tree_pair *pairs, int P, int T, int C, int NH, float p,
                                  uint64_t drop_key, float *scratch, size_t scratch_floats) {
    tree_backward(dqkv, dout, qkv, att, pairs, P, T, C, NH, p, drop_key, scratch, scratch_floats, 0);
}

void warm_attention_tree_forward_last(float *out, float *att, const float *qkv, const warm_tree_pair *pairs, int P,
                                      int T, int C, int NH, float p, uint64_t drop_key) {
    tree_forward(out, att, qkv, pairs, P, T, C, NH, p, drop_key, 1);
}

void warm_attention_tree_backward_last(float *dqkv, const float *dout, const float *qkv, const float *att,
                                       const warm_tree_pair *pairs, int P, int T, int C, int NH, float p,
                                       uint64_t drop_key, float *scratch, size_t scratch_floats) {
    tree_backward(dqkv, dout, qkv, att, pairs, P, T, C, NH, p, drop_key, scratch, scratch_floats, 1);
}
