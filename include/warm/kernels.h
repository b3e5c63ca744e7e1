/*
 * warm/kernels.h — the numeric kernels of the transformer, forward and backward, each optimised kernel
 * beside a naive reference twin (the test oracle).
 *
 * Conventions (llm.c): outputs first, then inputs and weights, then sizes. Backward kernels ACCUMULATE
 * into their outputs (+=); the caller zeroes gradients once per step. Any gradient output may be NULL to
 * skip it. N = number of token rows (B*T merged), C = input channels, OC = output channels.
 * Weights of linear layers use the Hugging Face GPT-2 Conv1D layout [in, out]: y = x W + b.
 *
 * Determinism: every output element is computed by exactly one thread with a fixed reduction order that
 * does not depend on the number of threads, so results are bit-identical for any OMP_NUM_THREADS.
 */
#ifndef WARM_KERNELS_H
#define WARM_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Row-major single-precision GEMM: C = alpha * op(A) * op(B) + beta * C, with op(A) of shape [M, K] and
 * op(B) of shape [K, N]. transA = 0: A is [M, K] with row stride lda; transA = 1: A is [K, M] (stride lda)
 * and op(A) = A^T. Likewise for B. beta = 0 ignores C's previous contents (NaN included).
 */
void warm_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                const float *B, int ldb, float beta, float *C, int ldc);
void warm_sgemm_naive(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc);

/* out (N, OC) = inp (N, C) @ weight (C, OC) + bias (OC; may be NULL). */
void warm_linear_forward(float *out, const float *inp, const float *weight, const float *bias, int N, int C, int OC);
/* dinp (N, C) += dout @ weight^T; dweight (C, OC) += inp^T @ dout; dbias (OC) += column sums of dout. */
void warm_linear_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                          const float *weight, int N, int C, int OC);

/* LayerNorm over the last dim, eps 1e-5, biased variance. mean, rstd (N) saved for backward (NULL: not saved). */
void warm_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                            const float *bias, int N, int C);
void warm_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                             const float *weight, const float *mean, const float *rstd, int N, int C);

/* tanh-approximation GELU ("gelu_new"). */
void warm_gelu_forward(float *out, const float *inp, size_t n);
void warm_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);
/* dinp (n) = gelu'(inp) * dout, overwriting: warm_gelu_backward onto a zeroed dinp without the zeroing pass
 * (the same bits, but a zero product stays -0 where 0 + -0 gives +0). */
void warm_gelu_backward_set(float *dinp, const float *inp, const float *dout, size_t n);

/*
 * Causal multi-head self-attention over qkv (B, T, 3C) (q | k | v blocks, head h at columns h*HS.., HS = C/NH).
 * out (B, T, C). att (B, NH, T, T): softmax probabilities saved for backward (row t uses columns 0..t; the
 * rest are zero). Scores are scaled by 1/sqrt(HS).
 * Attention dropout with rate p (p = 0: none): probability element (b, h, t, s) is kept iff
 * warm_dropout_keep(drop_key, ((b*NH + h)*T + t)*T + s, p) and then scaled by 1/(1-p). The mask is recomputed
 * in backward from the same key, so nothing extra is stored.
 * With right padding no mask beyond causality is needed: pads come after every real token.
 */
void warm_attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH,
                            float p, uint64_t drop_key);
/* dqkv (B, T, 3C) += ...; scratch needs B*NH*T*T floats (or NULL to allocate internally). */
void warm_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att, int B, int T,
                             int C, int NH, float p, uint64_t drop_key, float *scratch);
/* The same, overwriting dqkv (every element is written): warm_attention_backward onto zeros without the zeroing
 * pass (the same bits, but a zero gradient keeps its sign where 0 + -0 gives +0). */
void warm_attention_backward_set(float *dqkv, const float *dout, const float *qkv, const float *att, int B, int T,
                                 int C, int NH, float p, uint64_t drop_key, float *scratch);

/*
 * Attention for one query row per sequence: row b of out (B, C) is the attention output of position qpos[b]
 * (0 <= qpos[b] < T) of sequence b over its positions 0..qpos[b] in qkv (B, T, 3C); att (B, NH, T) receives
 * that row's probabilities (zero past qpos[b]). Dropout uses the mask elements of warm_attention_forward
 * (((b*NH + h)*T + qpos[b])*T + s), and the result is bit-identical to row (b, qpos[b]) of that kernel.
 */
void warm_attention_forward_rows(float *out, float *att, const float *qkv, const int32_t *qpos, int B, int T, int C,
                                 int NH, float p, uint64_t drop_key);
/* Backward of warm_attention_forward_rows: dout (B, C); dqkv (B, T, 3C) += dq at row qpos[b] and dk, dv at rows
 * 0..qpos[b] of sequence b. Bit-identical to warm_attention_backward with a dout that is zero on every row but
 * (b, qpos[b]). */
void warm_attention_backward_rows(float *dqkv, const float *dout, const float *qkv, const float *att,
                                  const int32_t *qpos, int B, int T, int C, int NH, float p, uint64_t drop_key);

/*
 * Tree attention over shared-prefix pairs of sequences, packed without padding. Pair i occupies the rows
 * [start, start + prefix + len_a + len_b) of qkv (N, 3C): the shared prefix, then the rest of sequence a, then
 * the rest of sequence b (prefix >= 0, len_a, len_b >= 1, prefix + max(len_a, len_b) <= T). Sequence a is its
 * prefix rows and a's rows, sequence b its prefix rows and b's rows; position t of either is t. Every query
 * attends causally within its own sequence: a row of b sees the prefix and b's earlier rows, never a's, so each
 * sequence gets the attention it would get alone (the prefix's queries are computed once, as part of a).
 * out (N, C) and att (N, NH, T) are written on the pairs' rows: att row (r, h) holds the probabilities over
 * positions 0..t of the query's sequence (t its position), zero past t. Dropout (rate p) element of (query
 * row r, head h, key position s) is warm_dropout_keep(drop_key, (r*NH + h)*T + s, p).
 * Work items are (pair, head): deterministic and thread-count invariant like the kernels above.
 */
typedef struct {
    int32_t start;  /* first packed row of the pair */
    int32_t prefix; /* shared prefix rows (positions 0..prefix-1 of both sequences) */
    int32_t len_a;  /* rows of sequence a after the prefix (>= 1) */
    int32_t len_b;  /* rows of sequence b after the prefix (>= 1) */
} warm_tree_pair;
void warm_attention_tree_forward(float *out, float *att, const float *qkv, const warm_tree_pair *pairs, int P, int T,
                                 int C, int NH, float p, uint64_t drop_key);
/* dqkv (N, 3C) OVERWRITTEN on every row of every pair (other rows untouched); scratch: scratch_floats floats of
 * workspace (allocated internally when NULL or too small). Prefix rows get the sum of both sequences' dk, dv. */
void warm_attention_tree_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                                  const warm_tree_pair *pairs, int P, int T, int C, int NH, float p,
                                  uint64_t drop_key, float *scratch, size_t scratch_floats);
/* Only the last position of each sequence (the pooled rows of a reward model): out (2P, C) row i is the last
 * row of a of pair i, row P + i the last row of b; att (2P, NH, T). Same masks and rows as the full kernel. */
void warm_attention_tree_forward_last(float *out, float *att, const float *qkv, const warm_tree_pair *pairs, int P,
                                      int T, int C, int NH, float p, uint64_t drop_key);
/* Backward of _last: dout (2P, C); dqkv overwritten on every row of every pair (the full backward with dout
 * zero on every row but the last of each sequence). */
void warm_attention_tree_backward_last(float *dqkv, const float *dout, const float *qkv, const float *att,
                                       const warm_tree_pair *pairs, int P, int T, int C, int NH, float p,
                                       uint64_t drop_key, float *scratch, size_t scratch_floats);

/*
 * Inverted dropout in place on x (n): x[i] *= keep(key, i) * (1/(1-p)), with keep = warm_dropout_keep (0 or 1)
 * and the reciprocal rounded to float first, as torch does (a dropped NaN stays NaN). p = 0 is a no-op.
 */
void warm_dropout_forward(float *x, size_t n, float p, uint64_t key);
/* dx[i] *= keep(key, i) * (1/(1-p)), in place (the same mask). */
void warm_dropout_backward(float *dx, size_t n, float p, uint64_t key);
/*
 * Dropout and residual add in one pass: out[i] = x[i] * keep(key, i) * (1/(1-p)) + res[i], bit-identical to
 * warm_dropout_forward(x) followed by out = x + res. out may alias x or res.
 */
void warm_dropout_residual_forward(float *out, const float *x, const float *res, size_t n, float p, uint64_t key);
/* dst[i] = dx[i] * keep(key, i) * (1/(1-p)): warm_dropout_backward on a copy of dx (p = 0 copies). */
void warm_dropout_backward_to(float *dst, const float *dx, size_t n, float p, uint64_t key);
/*
 * Dropout on R rows gathered from an (N, C) array: row r of x (R, C) is row rows[r] of the full array and uses
 * its mask elements rows[r]*C + i, so the result equals those rows of warm_dropout_forward on the full array.
 */
void warm_dropout_forward_rows(float *x, const int32_t *rows, int R, int C, float p, uint64_t key);
/* The same map on gathered gradient rows (backward of warm_dropout_forward_rows). */
void warm_dropout_backward_rows(float *dx, const int32_t *rows, int R, int C, float p, uint64_t key);

/*
 * Softmax cross-entropy over logits (N, V) with integer targets (N) and per-row weights w (N; NULL = all 1).
 * Returns sum_i w_i * nll_i / sum_i w_i (0 if the weights sum to 0). If dlogits is non-NULL it receives
 * (overwrites, not accumulates) d loss / d logits, already scaled by w_i / sum w. dlogits may alias logits.
 * Rows with w_i = 0 still have dlogits zeroed. Computed in double per row for the log-sum-exp.
 */
float warm_crossentropy_forward_backward(float *dlogits, const float *logits, const int32_t *targets,
                                         const float *w, int N, int V);
/* The same with the denominator given instead of sum w (weights may then have any sign, e.g. policy-gradient
 * advantages): returns sum_i w_i nll_i / den, dlogits scaled by w_i / den; den == 0 gives 0 and zero dlogits. */
float warm_crossentropy_forward_backward_den(float *dlogits, const float *logits, const int32_t *targets,
                                             const float *w, int N, int V, double den);

/* log softmax(x)[t] over V logits: max, then the exp sum with warm's vectorised float exp (1-2 ulp) in 16 partial
 * sums added in double. Within ~1e-6 of the double-exp computation; several times faster for large V. */
double warm_logprob_at(const float *x, int V, int32_t t);

/*
 * AdamW on one contiguous range: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= lr * ( (m / bc1) / (sqrt(v / bc2) + eps) + wd * p ), with bc1 = 1 - b1^t, bc2 = 1 - b2^t computed
 * once per step by the caller (PyTorch's AdamW: decoupled decay, p *= 1 - lr*wd first, then the Adam step).
 * grad_scale multiplies g first (global-norm clipping).
 */
void warm_adamw_update(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1, float b2,
                       float eps, float wd, float bc1, float bc2, float grad_scale);
/* warm_adamw_update, then g (n) = 0, chunk by chunk while g is still in cache (no separate zeroing pass). */
void warm_adamw_update_zero(float *p, float *g, float *m, float *v, size_t n, float lr, float b1, float b2, float eps,
                            float wd, float bc1, float bc2, float grad_scale);

/* Sum of squares of x (n) in double, fixed order (blocks of 4096 summed left to right). */
double warm_sumsq(const float *x, size_t n);

#endif
