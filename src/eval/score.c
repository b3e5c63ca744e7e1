/*
 * score.c — reward scoring engines behind warm/eval.h: packed prefix sharing (the default), batched full
 * sequences through the training path, and the decode path. See docs/eval.md for measurements.
 *
 * Work unit: a group = a shared prefix and n continuations (sequence k = prefix + continuation k). A
 * preference pair is a group of two whose prefix is warm_pref_shared_prefix (the prompt, plus any leading
 * response tokens the two sides share); `warm score` makes one group of all responses to one prompt.
 *
 * PACKED engine. A pass holds up to R token rows (R = max_rows): for each group, its prefix rows, then the
 * rows of each continuation, back to back with no padding. A row r at absolute position pos attends to two
 * contiguous ranges of rows of the pass — [a0, a0 + an) (its group's prefix, capped at its own position) and
 * [b0, b0 + bn) (its own continuation up to itself) — which is exactly positions 0..pos of its sequence, in
 * order. So every linear layer is one (R, C) x (C, OC) GEMM over all groups, the prefix is computed once per
 * group and pass, and nothing is spent on pads. Groups whose continuations do not fit one pass are split,
 * recomputing the prefix in the next pass. The reward of a continuation is read at its last row (or at the
 * last prefix row for an empty continuation). In the last layer only those pooled rows need the attention
 * output, the MLP and ln_f, so after the Q/K/V product of all rows (keys and values are still needed) the
 * pooled rows are gathered and the rest of the layer runs on them alone.
 *
 *   Attention of one row and head: scores s_j = sum_i q_i k_ji over the head's HS channels, i ascending,
 *   computed with the keys transposed (kT, (C, R)) so that 16 keys fill one vector; each s_j is still a
 *   plain sequential sum over i (ISO C mode: no FMA contraction). Then a vectorised softmax and
 *   y = sum_j p_j v_j, keys in order. Rows are independent: one thread per row, any thread count.
 *
 *   Linear layers run over at least MIN_GEMM_ROWS rows (linear_rows), so each row's result depends on that
 *   row alone: a pair gets the same bits whichever pairs share its pass (tests/test_eval.c).
 *
 *   Measured (docs/eval.md): 650 pairs per CPU-second on the task's pairs at L 4, C 128, about twice the
 *   batched and decode engines, from 0.61 rows per sequence token (prompt once, last layer pruned) against
 *   1.0 and a similar cost per row.
 *
 * BATCHED engine. Every sequence is written in full (prefix + continuation) into right-padded (B, T) rows,
 * sequences sorted by length (ties by order) so that a batch pads to little more than its own lengths, and
 * warm_trainer_rewards runs them. The trainer takes a non-const model for training; it only reads the
 * parameters here, through a shallow copy of the model struct (same parameter arena).
 *
 * DECODE engine. Per group: warm_decode_prefill of the prefix, then warm_decode_extend of up to DECODE_SEQS
 * continuations at once, each reward read from the final hidden state (warm_model_reward_from_hidden).
 * Decoder and KV cache are allocated once per scorer (warm_score_responses allocates both per call, which
 * costs more than scoring one pair). A group without a prefix prefills each sequence on its own.
 *
 * Determinism: every engine runs a fixed sequence of kernel calls for a given input, and the kernels are
 * thread-count independent; so are the attention loops here (one row per thread).
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "warm/eval.h"
#include "warm/kernels.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#define DEFAULT_MAX_ROWS 2048
/* Pairs converted to groups at a time: bounds the token scratch (2 * context ints per pair). */
#define PAIR_CHUNK 512
/* Fewest rows a linear layer of the packed engine runs (see linear_rows); passes hold at least this many. */
#define MIN_GEMM_ROWS 16
/* Continuations extended together by the decode engine (as warm_score_responses). */
#define DECODE_SEQS 64

typedef struct {
    int cap;                                    /* rows per pass */
    float *x, *xq, *ln, *qkv, *atty, *tmp, *fch; /* (cap, C) except qkv (cap, 3C), fch (cap, 4C) */
    float *kT;                                  /* (C, R) keys of the pass, transposed (+ 32 floats) */
    int nthr;                                   /* threads of the attention loop */
    float *sc;                                  /* (nthr, NH, P + 32) attention scores, a strip per thread */
    int32_t *tok, *pos, *a0, *an, *b0, *bn;     /* (cap) per row: token, position, key ranges */
    int32_t *q;                                 /* (cap) pooled rows (their rewards are read) */
    int64_t *out;                               /* (cap) reward index of each pooled row */
} packed_ws;

struct warm_scorer {
    const warm_model *m;
    warm_model alias; /* shallow copy handed to the trainer (BATCHED) */
    warm_eval_strategy strategy;
    int max_rows;
    warm_progress *progress;
    packed_ws pk;
    /* BATCHED */
    warm_trainer *tr;
    int bmax, tmax;
    int32_t *btok, *blen;
    float *bout;
    /* DECODE */
    warm_decoder *dec;
    warm_kvcache kv;
    int kv_ready;
    float *dhid; /* (DECODE_SEQS + 1, C): hidden states of the extended sequences, then the prefix's */
    /* pairs: token scratch and groups of one chunk */
    int32_t *ptok;
    int *plens;
    warm_eval_group *pg;
    float *pr;
    warm_scorer_stats st;
};

const char *warm_eval_strategy_name(warm_eval_strategy s) {
    switch (s) {
    case WARM_EVAL_AUTO:
    case WARM_EVAL_PACKED: return "packed";
    case WARM_EVAL_BATCHED: return "batched";
    case WARM_EVAL_DECODE: return "decode";
    }
    return "?";
}

int warm_eval_strategy_parse(const char *name) {
    if (!name) return -1;
    if (strcmp(name, "auto") == 0) return WARM_EVAL_AUTO;
    if (strcmp(name, "packed") == 0) return WARM_EVAL_PACKED;
    if (strcmp(name, "batched") == 0) return WARM_EVAL_BATCHED;
    if (strcmp(name, "decode") == 0) return WARM_EVAL_DECODE;
    return -1;
}

warm_eval_opts warm_eval_opts_default(void) {
    warm_eval_opts o = {WARM_EVAL_AUTO, DEFAULT_MAX_ROWS, NULL};
    return o;
}

/* ================================================================ packed engine */

static void packed_free(packed_ws *w) {
    warm_free(w->x); warm_free(w->xq); warm_free(w->ln); warm_free(w->qkv); warm_free(w->atty);
    warm_free(w->tmp); warm_free(w->fch); warm_free(w->kT); warm_free(w->sc);
    free(w->tok); free(w->pos); free(w->a0); free(w->an); free(w->b0); free(w->bn); free(w->q); free(w->out);
    memset(w, 0, sizeof *w);
}

static warm_status packed_init(packed_ws *w, const warm_config *c, int cap, warm_error *err) {
    memset(w, 0, sizeof *w);
    size_t R = (size_t)cap, C = (size_t)c->n_embd, P = (size_t)c->n_positions;
    w->cap = cap;
    w->x = warm_alloc(R * C * sizeof(float));
    w->xq = warm_alloc(R * C * sizeof(float));
    w->ln = warm_alloc(R * C * sizeof(float));
    w->qkv = warm_alloc(R * 3 * C * sizeof(float));
    w->atty = warm_alloc(R * C * sizeof(float));
    w->tmp = warm_alloc(R * C * sizeof(float));
    w->fch = warm_alloc(R * 4 * C * sizeof(float));
    w->kT = warm_alloc((R * C + 32) * sizeof(float)); /* + 32: see score_block */
    w->nthr = warm_num_threads() > 0 ? warm_num_threads() : 1;
    w->sc = warm_alloc((size_t)w->nthr * (size_t)c->n_head * (P + 32) * sizeof(float));
    w->tok = malloc(R * sizeof(int32_t));
    w->pos = malloc(R * sizeof(int32_t));
    w->a0 = malloc(R * sizeof(int32_t));
    w->an = malloc(R * sizeof(int32_t));
    w->b0 = malloc(R * sizeof(int32_t));
    w->bn = malloc(R * sizeof(int32_t));
    w->q = malloc(R * sizeof(int32_t));
    w->out = malloc(R * sizeof(int64_t));
    if (!w->x || !w->xq || !w->ln || !w->qkv || !w->atty || !w->tmp || !w->fch || !w->kT || !w->sc || !w->tok ||
        !w->pos || !w->a0 || !w->an || !w->b0 || !w->bn || !w->q || !w->out) {
        packed_free(w);
        return warm_error_set(err, WARM_ERR_NOMEM, "scorer: cannot allocate buffers for %d rows", cap);
    }
    return WARM_OK;
}

/*
 * Attention kernels. Each query row is independent work; the per-row code is compiled for AVX-512 and for the
 * baseline, picked at run time (the build is generic x86-64). Scores: a 16-float GCC vector
 * holds 16 keys' partial sums for one head, four heads run as four independent chains (the add latency is
 * the limit otherwise); every lane is the sequential sum over i that a scalar loop would do, and C11 mode
 * forbids FMA contraction, so every variant gives the same bits. The weighted sum of values runs over keys
 * in order, the C channels of each key's value row as vectors.
 */
#pragma GCC diagnostic ignored "-Wpsabi" /* v16f values only live inside always-inline helpers */
typedef float v16f __attribute__((vector_size(16 * sizeof(float))));
typedef int32_t v16i __attribute__((vector_size(16 * sizeof(int32_t))));
#define EVAL_INLINE inline __attribute__((always_inline))

static EVAL_INLINE v16f v16_load(const float *p) {
    v16f v;
    memcpy(&v, p, sizeof v);
    return v;
}
static EVAL_INLINE void v16_store(float *p, const v16f *v) { memcpy(p, v, sizeof *v); }

/* Lane-wise max (exact, so the order of a max reduction does not matter). Vector arguments go by pointer:
 * gcc notes an ABI change for 64-byte vectors passed by value, even to inlined functions. */
static EVAL_INLINE v16f v16_max(const v16f *a, const v16f *b) {
    v16i gt = *a > *b;
    return (v16f)((gt & (v16i)*a) | (~gt & (v16i)*b));
}

/*
 * Scaled scores of the 16 * nb keys (nb = 1 or 2, a constant at each call) at columns kcol.. of kT, for every
 * head: sc[h * ldsc + out + l] = scale * sum_{i < HS} q[h HS + i] kT[(h HS + i) R + kcol + l], i ascending.
 * Four heads (times nb key blocks) run as independent chains. Always whole blocks: keys past the caller's
 * range are garbage that the caller overwrites or masks (kT is padded so the reads stay inside).
 */
static EVAL_INLINE void score_block(float *sc, size_t ldsc, int out, const float *q, const float *kT, size_t R,
                                    int kcol, int HS, int NH, float scale, int nb) {
    int h = 0;
    size_t hs = (size_t)HS * R;
    for (; h + 4 <= NH; h += 4) {
        const float *k0 = kT + (size_t)h * hs + kcol, *q0 = q + h * HS;
        v16f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0};
        for (int i = 0; i < HS; i++) {
            const float *k = k0 + (size_t)i * R;
            float x0 = q0[i], x1 = q0[HS + i], x2 = q0[2 * HS + i], x3 = q0[3 * HS + i];
            a0 += x0 * v16_load(k);
            a1 += x1 * v16_load(k + hs);
            a2 += x2 * v16_load(k + 2 * hs);
            a3 += x3 * v16_load(k + 3 * hs);
            if (nb == 2) {
                b0 += x0 * v16_load(k + 16);
                b1 += x1 * v16_load(k + hs + 16);
                b2 += x2 * v16_load(k + 2 * hs + 16);
                b3 += x3 * v16_load(k + 3 * hs + 16);
            }
        }
        float *o = sc + (size_t)h * ldsc + out;
        a0 *= scale;
        a1 *= scale;
        a2 *= scale;
        a3 *= scale;
        v16_store(o, &a0);
        v16_store(o + ldsc, &a1);
        v16_store(o + 2 * ldsc, &a2);
        v16_store(o + 3 * ldsc, &a3);
        if (nb == 2) {
            b0 *= scale;
            b1 *= scale;
            b2 *= scale;
            b3 *= scale;
            v16_store(o + 16, &b0);
            v16_store(o + ldsc + 16, &b1);
            v16_store(o + 2 * ldsc + 16, &b2);
            v16_store(o + 3 * ldsc + 16, &b3);
        }
    }
    for (; h < NH; h++) {
        for (int b = 0; b < nb; b++) {
            const float *k0 = kT + (size_t)h * hs + kcol + 16 * b, *q0 = q + h * HS;
            v16f a = {0};
            for (int i = 0; i < HS; i++) a += q0[i] * v16_load(k0 + (size_t)i * R);
            a *= scale;
            v16_store(sc + (size_t)h * ldsc + out + 16 * b, &a);
        }
    }
}

/* Scores of n keys at columns kcol.. into strip positions out.. (whole blocks, see score_block). wide: two key
 * blocks per call (eight chains: AVX-512 has the 32 registers for them; narrower ISAs would spill). */
static EVAL_INLINE void score_range(float *sc, size_t ldsc, int out, const float *q, const float *kT, size_t R,
                                    int kcol, int n, int HS, int NH, float scale, int wide) {
    int j = 0;
    if (wide)
        for (; j + 16 < n; j += 32) score_block(sc, ldsc, out + j, q, kT, R, kcol + j, HS, NH, scale, 2);
    for (; j < n; j += 16) score_block(sc, ldsc, out + j, q, kT, R, kcol + j, HS, NH, scale, 1);
}

static EVAL_INLINE v16f v16_splat(float x) { return (v16f){0} + x; }

/*
 * exp on 16 lanes for x <= 0 (softmax arguments s - max): n = round(x / ln2), r = x - n ln2 in two parts
 * (Cody-Waite; n * 0.693359375 is exact), exp(r) by its Taylor polynomial to r^7 (|r| <= ln2/2, truncation
 * < 6e-9 relative), times 2^n built in the exponent bits: about 1-2 ulp. x < -87 is clamped to -87 (2^n stays
 * normal; exp(-87) = 1.6e-38 is negligible beside the max's exp(0) = 1); NaN stays NaN.
 */
static EVAL_INLINE v16f v16_exp(const v16f *px) {
    const float shifter = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer in the low mantissa bits */
    v16f lo = v16_splat(-87.0f), x = *px;
    v16i small = x < lo;
    x = (v16f)((small & (v16i)lo) | (~small & (v16i)x));
    v16f t = x * 1.44269504088896341f + shifter;
    v16f n = t - shifter;
    v16f r = x - n * 0.693359375f;
    r = r - n * -2.12194440054690583e-4f;
    v16f p = v16_splat(1.0f / 5040.0f);
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    v16i e = ((v16i)t - 0x4B400000 + 127) << 23;
    return p * (v16f)e;
}

/*
 * Softmax in place over s[0..nk) (a strip padded to 16 * nblk floats): max, exp, sum and scaling on 16 lanes.
 * The sum is taken per lane over the blocks in order, then over the lanes in order: fixed, whatever the ISA.
 */
static EVAL_INLINE void softmax_strip(float *s, int nk) {
    int nblk = (nk + 15) / 16;
    for (int t = nk; t < nblk * 16; t++) s[t] = -INFINITY;
    v16f vm = v16_load(s);
    for (int b = 1; b < nblk; b++) {
        v16f x = v16_load(s + 16 * b);
        vm = v16_max(&vm, &x);
    }
    float lanes[16], mx = -INFINITY;
    v16_store(lanes, &vm);
    for (int l = 0; l < 16; l++) mx = lanes[l] > mx ? lanes[l] : mx;
    v16f acc = {0};
    for (int b = 0; b < nblk; b++) {
        v16f x = v16_load(s + 16 * b) - mx;
        v16f e = v16_exp(&x);
        v16_store(s + 16 * b, &e);
    }
    for (int t = nk; t < nblk * 16; t++) s[t] = 0.0f;
    for (int b = 0; b < nblk; b++) acc += v16_load(s + 16 * b);
    v16_store(lanes, &acc);
    float sum = 0.0f;
    for (int l = 0; l < 16; l++) sum += lanes[l];
    float inv = 1.0f / sum;
    for (int b = 0; b < nblk; b++) {
        v16f p = v16_load(s + 16 * b) * inv;
        v16_store(s + 16 * b, &p);
    }
}

/*
 * y (C) = sum_j p_h(j) v_j over the keys j of both ranges in order (value rows of stride ldv), head h's
 * weights on head h's channels. With HS a multiple of 16, up to four 16-channel vectors are accumulated in
 * registers over all keys (independent chains); otherwise a scalar loop per channel.
 */
static EVAL_INLINE void weighted_values(float *y, const float *va, int an, const float *vb, int bn, size_t ldv,
                                        const float *sc, size_t ldsc, int C, int HS) {
    if (HS % 16 != 0) {
        for (int c = 0; c < C; c++) {
            const float *p = sc + (size_t)(c / HS) * ldsc;
            float acc = 0.0f;
            for (int j = 0; j < an; j++) acc += p[j] * va[(size_t)j * ldv + c];
            for (int j = 0; j < bn; j++) acc += p[an + j] * vb[(size_t)j * ldv + c];
            y[c] = acc;
        }
        return;
    }
    int c0 = 0;
    for (; c0 + 64 <= C; c0 += 64) {
        const float *p0 = sc + (size_t)(c0 / HS) * ldsc, *p1 = sc + (size_t)((c0 + 16) / HS) * ldsc;
        const float *p2 = sc + (size_t)((c0 + 32) / HS) * ldsc, *p3 = sc + (size_t)((c0 + 48) / HS) * ldsc;
        v16f y0 = {0}, y1 = {0}, y2 = {0}, y3 = {0};
        for (int j = 0; j < an; j++) {
            const float *v = va + (size_t)j * ldv + c0;
            y0 += p0[j] * v16_load(v);
            y1 += p1[j] * v16_load(v + 16);
            y2 += p2[j] * v16_load(v + 32);
            y3 += p3[j] * v16_load(v + 48);
        }
        for (int j = 0; j < bn; j++) {
            const float *v = vb + (size_t)j * ldv + c0;
            y0 += p0[an + j] * v16_load(v);
            y1 += p1[an + j] * v16_load(v + 16);
            y2 += p2[an + j] * v16_load(v + 32);
            y3 += p3[an + j] * v16_load(v + 48);
        }
        v16_store(y + c0, &y0);
        v16_store(y + c0 + 16, &y1);
        v16_store(y + c0 + 32, &y2);
        v16_store(y + c0 + 48, &y3);
    }
    for (; c0 < C; c0 += 16) {
        const float *p = sc + (size_t)(c0 / HS) * ldsc;
        v16f acc = {0};
        for (int j = 0; j < an; j++) acc += p[j] * v16_load(va + (size_t)j * ldv + c0);
        for (int j = 0; j < bn; j++) acc += p[an + j] * v16_load(vb + (size_t)j * ldv + c0);
        v16_store(y + c0, &acc);
    }
}

typedef struct {
    const packed_ws *w;
    const int32_t *rows; /* query rows (NULL: row i) */
    int R, C, NH, P;
} attn_job;

/* Causal attention of query i of the job -> w->atty row i; sc: NH strips of P + 32 floats of scratch. */
static EVAL_INLINE void attend_row_body(const attn_job *jb, int i, float *sc, int wide) {
    const packed_ws *w = jb->w;
    int R = jb->R, C = jb->C, NH = jb->NH, HS = C / NH;
    size_t ldsc = (size_t)jb->P + 32;
    int r = jb->rows ? jb->rows[i] : i;
    int a0 = w->a0[r], an = w->an[r], b0 = w->b0[r], bn = w->bn[r], nk = an + bn;
    float scale = 1.0f / sqrtf((float)HS);
    const float *q = w->qkv + (size_t)r * 3 * C;
    /* Scores of the prefix keys, then of the own keys (whose stores overwrite the prefix's spill-over). */
    score_range(sc, ldsc, 0, q, w->kT, (size_t)R, a0, an, HS, NH, scale, wide);
    score_range(sc, ldsc, an, q, w->kT, (size_t)R, b0, bn, HS, NH, scale, wide);
    for (int h = 0; h < NH; h++) softmax_strip(sc + (size_t)h * ldsc, nk);
    const float *v = w->qkv + 2 * C;
    weighted_values(w->atty + (size_t)i * C, v + (size_t)a0 * 3 * C, an, v + (size_t)b0 * 3 * C, bn, (size_t)3 * C,
                    sc, ldsc, C, HS);
}

typedef void (*attend_fn)(const attn_job *jb, int i, float *sc);
static void attend_portable(const attn_job *jb, int i, float *sc) { attend_row_body(jb, i, sc, 0); }
#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx512f"))) static void attend_avx512(const attn_job *jb, int i, float *sc) {
    attend_row_body(jb, i, sc, 1);
}
#endif

/*
 * AVX-512 when the CPU has it, else the baseline build. (An AVX2 copy was slower than the baseline one: gcc
 * splits 64-byte vectors and their masks into 16-byte pieces through the stack there; measured 394 against
 * 428 pairs/s.) WARM_KERNEL_ISA=portable forces the baseline, as for the kernels (docs/determinism.md), so
 * tests can compare the two on one machine.
 */
static attend_fn pick_attend(void) {
#if defined(__x86_64__) || defined(__i386__)
    const char *cap = getenv("WARM_KERNEL_ISA");
    if ((!cap || strcmp(cap, "portable") != 0) && __builtin_cpu_supports("avx512f")) return attend_avx512;
#endif
    return attend_portable;
}

/* Attention for nrows query rows (rows[i], or i when rows == NULL) of a pass of R rows -> atty (nrows, C).
 * At most w->nthr threads, each with its own score strip. */
static void packed_attention(packed_ws *w, int R, const int32_t *rows, int nrows, int C, int NH, int P) {
    attn_job jb = {w, rows, R, C, NH, P};
    attend_fn fn = pick_attend();
    size_t strip = (size_t)NH * ((size_t)P + 32);
#pragma omp parallel for num_threads(w->nthr) schedule(dynamic, 16)
    for (int i = 0; i < nrows; i++) {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        fn(&jb, i, w->sc + (size_t)t * strip);
    }
}

/*
 * Linear layer over the first N rows, run over at least MIN_GEMM_ROWS rows: warm_sgemm picks its path from
 * the shape, and few-row products take a path that sums in another order; with every product on the packed
 * path, each row's result depends on that row alone, so a pair's reward does not depend on which pairs share
 * its pass (or on the subset evaluated). The extra rows are scratch whose results are ignored.
 */
static void linear_rows(float *out, const float *inp, const float *w, const float *b, int N, int C, int OC) {
    warm_linear_forward(out, inp, w, b, N < MIN_GEMM_ROWS ? MIN_GEMM_ROWS : N, C, OC);
}

static void add_inplace(float *x, const float *y, size_t n) {
#pragma omp parallel for schedule(static) if (n > (1u << 16))
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

/* Runs the R prepared rows of a pass; writes the rewards of the nq pooled rows to rewards[out[i]]. */
static void packed_forward(const warm_model *m, packed_ws *w, int R, int nq, float *rewards) {
    const warm_config *c = &m->cfg;
    int C = c->n_embd, NH = c->n_head, L = c->n_layer, P = c->n_positions;
    warm_global_view g = warm_model_globals(m, m->params);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < R; r++) {
        const float *te = g.wte + (size_t)w->tok[r] * C, *pe = g.wpe + (size_t)w->pos[r] * C;
        float *o = w->x + (size_t)r * C;
        for (int i = 0; i < C; i++) o[i] = te[i] + pe[i];
    }
    float *res = w->x;
    for (int l = 0; l < L; l++) {
        warm_layer_view lw = warm_model_layer(m, m->params, l);
        int last = l == L - 1, nrows = last ? nq : R;
        warm_layernorm_forward(w->ln, NULL, NULL, w->x, lw.ln1w, lw.ln1b, R, C);
        linear_rows(w->qkv, w->ln, lw.qkvw, lw.qkvb, R, C, 3 * C);
        /* kT (C, R) = the keys transposed, 16 rows at a time (their K blocks stay in L1). */
#pragma omp parallel for schedule(static)
        for (int r0 = 0; r0 < R; r0 += 16) {
            int r1 = R - r0 < 16 ? R : r0 + 16;
            for (int ch = 0; ch < C; ch++)
                for (int r = r0; r < r1; r++) w->kT[(size_t)ch * R + r] = w->qkv[(size_t)r * 3 * C + C + ch];
        }
        packed_attention(w, R, last ? w->q : NULL, nrows, C, NH, P);
        linear_rows(w->tmp, w->atty, lw.attprojw, lw.attprojb, nrows, C, C);
        if (last) {
            /* Only the pooled rows go on: gather their residual stream. */
            for (int i = 0; i < nq; i++)
                memcpy(w->xq + (size_t)i * C, w->x + (size_t)w->q[i] * C, (size_t)C * sizeof(float));
            res = w->xq;
        }
        add_inplace(res, w->tmp, (size_t)nrows * C);
        warm_layernorm_forward(w->ln, NULL, NULL, res, lw.ln2w, lw.ln2b, nrows, C);
        linear_rows(w->fch, w->ln, lw.fcw, lw.fcb, nrows, C, 4 * C);
        warm_gelu_forward(w->fch, w->fch, (size_t)nrows * 4 * C);
        linear_rows(w->tmp, w->fch, lw.fcprojw, lw.fcprojb, nrows, 4 * C, C);
        add_inplace(res, w->tmp, (size_t)nrows * C);
    }
    warm_layernorm_forward(w->ln, NULL, NULL, res, g.lnfw, g.lnfb, nq, C);
    for (int i = 0; i < nq; i++) rewards[w->out[i]] = warm_model_reward_from_hidden(m, w->ln + (size_t)i * C);
}

/* Packs groups into passes of at most cap rows and runs them. */
static void packed_groups(warm_scorer *s, const warm_eval_group *g, int64_t ng, float *rewards, int report) {
    packed_ws *w = &s->pk;
    int64_t gi = 0, base = 0, coff = 0;
    int c = 0;
    while (gi < ng) {
        int R = 0, nq = 0;
        while (gi < ng) {
            const warm_eval_group *G = &g[gi];
            int p = G->prefix_len;
            if (R + p + G->lens[c] > w->cap) break;
            int pstart = R;
            for (int t = 0; t < p; t++, R++) {
                w->tok[R] = G->prefix[t];
                w->pos[R] = t;
                w->a0[R] = pstart;
                w->an[R] = t + 1;
                w->b0[R] = 0;
                w->bn[R] = 0;
            }
            while (c < G->n && R + G->lens[c] <= w->cap) {
                int len = G->lens[c], cs = R;
                for (int j = 0; j < len; j++, R++) {
                    w->tok[R] = G->conts[coff + j];
                    w->pos[R] = p + j;
                    w->a0[R] = pstart;
                    w->an[R] = p;
                    w->b0[R] = cs;
                    w->bn[R] = j + 1;
                }
                w->q[nq] = len > 0 ? R - 1 : pstart + p - 1;
                w->out[nq++] = base + c;
                coff += len;
                c++;
            }
            if (c < G->n) break; /* the pass is full: this group goes on in the next one */
            base += G->n;
            gi++;
            c = 0;
            coff = 0;
        }
        /* check_groups guarantees that one sequence fits an empty pass (cap >= context). */
        WARM_CHECK(R > 0 && nq > 0, "packed pass of %d rows at group %" PRId64, R, gi);
        packed_forward(s->m, w, R, nq, rewards);
        s->st.rows += R;
        if (report && s->progress) warm_progress_update(s->progress, s->progress->done + nq);
    }
}

/* ================================================================ batched engine (training path) */

typedef struct {
    int64_t g;   /* group */
    int64_t off; /* offset of the continuation in the group's conts */
    int32_t k;   /* continuation index */
    int32_t len; /* full sequence length */
    int64_t idx; /* reward index */
} seq_ref;

static int seq_cmp(const void *pa, const void *pb) {
    const seq_ref *a = pa, *b = pb;
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static warm_status batched_groups(warm_scorer *s, const warm_eval_group *g, int64_t ng, float *rewards, int report,
                                  warm_error *err) {
    int64_t total = 0;
    for (int64_t i = 0; i < ng; i++) total += g[i].n;
    seq_ref *seq = malloc((size_t)(total > 0 ? total : 1) * sizeof *seq);
    if (!seq) return warm_error_set(err, WARM_ERR_NOMEM, "scorer: out of memory (%" PRId64 " sequences)", total);
    int64_t k = 0;
    for (int64_t i = 0; i < ng; i++) {
        int64_t off = 0;
        for (int j = 0; j < g[i].n; j++, k++) {
            seq[k] = (seq_ref){i, off, j, g[i].prefix_len + g[i].lens[j], k};
            off += g[i].lens[j];
        }
    }
    qsort(seq, (size_t)total, sizeof *seq, seq_cmp);
    int32_t pad = s->m->cfg.pad_token_id;
    if (pad < 0 || pad >= s->m->cfg.vocab_size) pad = 0; /* pads are never read (right padding) */
    for (int64_t b0 = 0; b0 < total; b0 += s->bmax) {
        int B = total - b0 < s->bmax ? (int)(total - b0) : s->bmax;
        int T = seq[b0 + B - 1].len; /* sorted: the batch's longest is last */
        for (int b = 0; b < B; b++) {
            const seq_ref *q = &seq[b0 + b];
            const warm_eval_group *G = &g[q->g];
            int32_t *row = s->btok + (size_t)b * T;
            memcpy(row, G->prefix, (size_t)G->prefix_len * sizeof(int32_t));
            memcpy(row + G->prefix_len, G->conts + q->off, (size_t)G->lens[q->k] * sizeof(int32_t));
            for (int t = q->len; t < T; t++) row[t] = pad;
            s->blen[b] = q->len;
        }
        warm_trainer_rewards(s->tr, s->btok, s->blen, B, T, s->bout);
        for (int b = 0; b < B; b++) rewards[seq[b0 + b].idx] = s->bout[b];
        s->st.rows += (int64_t)B * T;
        if (report && s->progress) warm_progress_update(s->progress, s->progress->done + B);
    }
    free(seq);
    return WARM_OK;
}

/* ================================================================ decode engine */

/* (Re)allocates the KV cache for n_seq sequences; prefix and suffix each up to the context. */
static warm_status decode_kv(warm_scorer *s, int n_seq, warm_error *err) {
    if (s->kv_ready && s->kv.n_seq >= n_seq) return WARM_OK;
    if (s->kv_ready) warm_kvcache_free(&s->kv);
    s->kv_ready = 0;
    /* One cache serves every group: the longest prefix and the longest continuation may come from different
     * groups and together exceed the context, which the cache's own check forbids for one sequence; every
     * position actually used stays below the context. */
    warm_config c = s->m->cfg;
    int P = c.n_positions;
    c.n_positions = 2 * P;
    warm_status st = warm_kvcache_init(&s->kv, &c, P, P, n_seq, err);
    if (st) return st;
    s->kv_ready = 1;
    return WARM_OK;
}

static warm_status decode_groups(warm_scorer *s, const warm_eval_group *g, int64_t ng, float *rewards, int report,
                                 warm_error *err) {
    const warm_model *m = s->m;
    int C = m->cfg.n_embd;
    float *hp = s->dhid + (size_t)DECODE_SEQS * C;
    int counts[DECODE_SEQS];
    int64_t base = 0;
    warm_status st = WARM_OK;
    for (int64_t i = 0; i < ng && !st; i++) {
        const warm_eval_group *G = &g[i];
        const int32_t *tok = G->conts;
        if (G->prefix_len == 0) {
            /* No shared prefix: each sequence is its own prompt. */
            for (int k = 0; k < G->n && !st; k++) {
                st = decode_kv(s, 1, err);
                if (!st) st = warm_decode_prefill(s->dec, &s->kv, tok, G->lens[k], NULL, hp, err);
                if (!st) rewards[base + k] = warm_model_reward_from_hidden(m, hp);
                tok += G->lens[k];
                s->st.rows += G->lens[k];
            }
        } else {
            int nseq = G->n < DECODE_SEQS ? G->n : DECODE_SEQS;
            st = decode_kv(s, nseq, err);
            if (!st) st = warm_decode_prefill(s->dec, &s->kv, G->prefix, G->prefix_len, NULL, hp, err);
            s->st.rows += G->prefix_len;
            for (int k0 = 0; k0 < G->n && !st; k0 += DECODE_SEQS) {
                int kn = G->n - k0 < DECODE_SEQS ? G->n - k0 : DECODE_SEQS;
                warm_kvcache_reset_suffixes(&s->kv);
                for (int j = 0; j < s->kv.n_seq; j++) counts[j] = j < kn ? G->lens[k0 + j] : 0;
                st = warm_decode_extend(s->dec, &s->kv, tok, counts, NULL, s->dhid, err);
                for (int j = 0; j < kn && !st; j++) {
                    const float *h = counts[j] ? s->dhid + (size_t)j * C : hp;
                    rewards[base + k0 + j] = warm_model_reward_from_hidden(m, h);
                    tok += counts[j];
                    s->st.rows += counts[j];
                }
            }
        }
        base += G->n;
        if (report && s->progress && !st) warm_progress_update(s->progress, s->progress->done + G->n);
    }
    return st;
}

/* ================================================================ scorer */

void warm_scorer_free(warm_scorer *s) {
    if (!s) return;
    packed_free(&s->pk);
    warm_trainer_free(s->tr);
    free(s->btok);
    free(s->blen);
    free(s->bout);
    warm_decoder_free(s->dec);
    if (s->kv_ready) warm_kvcache_free(&s->kv);
    free(s->dhid);
    free(s->ptok);
    free(s->plens);
    free(s->pg);
    free(s->pr);
    free(s);
}

warm_status warm_scorer_init(warm_scorer **out, const warm_model *m, const warm_eval_opts *opts, warm_error *err) {
    *out = NULL;
    warm_eval_opts o = opts ? *opts : warm_eval_opts_default();
    if (o.strategy < WARM_EVAL_AUTO || o.strategy > WARM_EVAL_DECODE)
        return warm_error_set(err, WARM_ERR_ARG, "scorer: unknown strategy %d", (int)o.strategy);
    const warm_config *c = &m->cfg;
    int P = c->n_positions;
    if (o.max_rows <= 0) o.max_rows = DEFAULT_MAX_ROWS;
    if (o.max_rows < P) o.max_rows = P;
    if (o.max_rows < MIN_GEMM_ROWS) o.max_rows = MIN_GEMM_ROWS;
    warm_scorer *s = calloc(1, sizeof *s);
    if (!s) return warm_error_set(err, WARM_ERR_NOMEM, "scorer: out of memory");
    s->m = m;
    s->alias = *m;
    s->strategy = o.strategy == WARM_EVAL_AUTO ? WARM_EVAL_PACKED : o.strategy;
    s->max_rows = o.max_rows;
    s->progress = o.progress;
    warm_status st = WARM_OK;
    size_t pair_tok = (size_t)PAIR_CHUNK * 2 * (size_t)P;
    s->ptok = malloc(pair_tok * sizeof(int32_t));
    s->plens = malloc((size_t)PAIR_CHUNK * 2 * sizeof(int));
    s->pg = malloc((size_t)PAIR_CHUNK * sizeof(warm_eval_group));
    s->pr = malloc((size_t)PAIR_CHUNK * 2 * sizeof(float));
    if (!s->ptok || !s->plens || !s->pg || !s->pr) st = warm_error_set(err, WARM_ERR_NOMEM, "scorer: out of memory");
    if (!st && s->strategy == WARM_EVAL_PACKED) st = packed_init(&s->pk, c, s->max_rows, err);
    if (!st && s->strategy == WARM_EVAL_BATCHED) {
        s->tmax = P;
        s->bmax = s->max_rows / P;
        st = warm_trainer_init(&s->tr, &s->alias, s->bmax, s->tmax, 0, err);
        s->btok = malloc((size_t)s->bmax * s->tmax * sizeof(int32_t));
        s->blen = malloc((size_t)s->bmax * sizeof(int32_t));
        s->bout = malloc((size_t)s->bmax * sizeof(float));
        if (!st && (!s->btok || !s->blen || !s->bout))
            st = warm_error_set(err, WARM_ERR_NOMEM, "scorer: out of memory");
    }
    if (!st && s->strategy == WARM_EVAL_DECODE) {
        st = warm_decoder_init(&s->dec, m, P, err);
        s->dhid = malloc((size_t)(DECODE_SEQS + 1) * c->n_embd * sizeof(float));
        if (!st && !s->dhid) st = warm_error_set(err, WARM_ERR_NOMEM, "scorer: out of memory");
        if (!st) st = decode_kv(s, 2, err);
    }
    if (st) {
        warm_scorer_free(s);
        return st;
    }
    *out = s;
    return WARM_OK;
}

warm_scorer_stats warm_scorer_get_stats(const warm_scorer *s) { return s->st; }

/* Checks every group: sizes, lengths within the context, tokens within the vocabulary. */
static warm_status check_groups(const warm_model *m, const warm_eval_group *g, int64_t ng, warm_error *err) {
    int P = m->cfg.n_positions, V = m->cfg.vocab_size;
    for (int64_t i = 0; i < ng; i++) {
        const warm_eval_group *G = &g[i];
        if (G->n < 1 || G->prefix_len < 0 || G->prefix_len > P || (G->prefix_len > 0 && !G->prefix))
            return warm_error_set(err, WARM_ERR_ARG, "group %" PRId64 ": %d continuations, prefix of %d tokens", i,
                                  G->n, G->prefix_len);
        for (int t = 0; t < G->prefix_len; t++)
            if (G->prefix[t] < 0 || G->prefix[t] >= V)
                return warm_error_set(err, WARM_ERR_ARG, "group %" PRId64 ": token %d at position %d is outside the "
                                      "vocabulary [0, %d)", i, G->prefix[t], t, V);
        int64_t off = 0;
        for (int k = 0; k < G->n; k++) {
            int len = G->lens[k];
            if (len < 0 || G->prefix_len + (int64_t)len < 1 || G->prefix_len + (int64_t)len > P)
                return warm_error_set(err, WARM_ERR_ARG, "group %" PRId64 ", sequence %d: %" PRId64 " tokens (the "
                                      "model takes 1..%d)", i, k, G->prefix_len + (int64_t)len, P);
            for (int t = 0; t < len; t++)
                if (G->conts[off + t] < 0 || G->conts[off + t] >= V)
                    return warm_error_set(err, WARM_ERR_ARG, "group %" PRId64 ", sequence %d: token %d is outside the "
                                          "vocabulary [0, %d)", i, k, G->conts[off + t], V);
            off += len;
        }
    }
    return WARM_OK;
}

static warm_status score_groups(warm_scorer *s, const warm_eval_group *g, int64_t ng, float *rewards, int report,
                                warm_error *err) {
    warm_status st = check_groups(s->m, g, ng, err);
    if (st) return st;
    double t0 = warm_time_now();
    if (s->strategy == WARM_EVAL_PACKED) packed_groups(s, g, ng, rewards, report);
    else if (s->strategy == WARM_EVAL_BATCHED) st = batched_groups(s, g, ng, rewards, report, err);
    else st = decode_groups(s, g, ng, rewards, report, err);
    s->st.seconds += warm_time_now() - t0;
    if (st) return st;
    for (int64_t i = 0; i < ng; i++) {
        s->st.sequences += g[i].n;
        for (int k = 0; k < g[i].n; k++) s->st.seq_tokens += g[i].prefix_len + g[i].lens[k];
    }
    return WARM_OK;
}

warm_status warm_scorer_groups(warm_scorer *s, const warm_eval_group *g, int64_t ng, float *rewards, warm_error *err) {
    return score_groups(s, g, ng, rewards, 1, err);
}

/* Token t of side k of a pair (prompt, then response). */
static int32_t pair_token(const warm_pref_view *v, int k, int32_t t) {
    return t < v->prompt_len ? v->prompt[t] : v->resp[k][t - v->prompt_len];
}

warm_status warm_scorer_pairs(warm_scorer *s, const warm_prefs *d, const int64_t *idx, int64_t n, float *r_chosen,
                              float *r_rejected, warm_error *err) {
    int P = s->m->cfg.n_positions, V = s->m->cfg.vocab_size;
    for (int64_t c0 = 0; c0 < n; c0 += PAIR_CHUNK) {
        int cn = n - c0 < PAIR_CHUNK ? (int)(n - c0) : PAIR_CHUNK;
        int32_t *tok = s->ptok;
        for (int i = 0; i < cn; i++) {
            int64_t row = idx[c0 + i];
            if (row < 0 || row >= d->n)
                return warm_error_set(err, WARM_ERR_ARG, "score pairs: index %" PRId64 " outside [0, %" PRId64 ")", row,
                                      d->n);
            warm_pref_view v = warm_prefs_view(d, row);
            int32_t len[2] = {v.prompt_len + v.resp_len[0], v.prompt_len + v.resp_len[1]};
            for (int k = 0; k < 2; k++) {
                if (len[k] < 1 || len[k] > P)
                    return warm_error_set(err, WARM_ERR_ARG, "line %" PRId64 ": the %s sequence has %d tokens; the "
                                          "model takes 1..%d", d->rows[row].line, k ? "rejected" : "chosen", len[k], P);
                for (int32_t t = 0; t < len[k]; t++) {
                    int32_t id = pair_token(&v, k, t);
                    if (id < 0 || id >= V)
                        return warm_error_set(err, WARM_ERR_ARG, "line %" PRId64 ": token %d is outside the model's "
                                              "vocabulary [0, %d)", d->rows[row].line, id, V);
                }
            }
            /* Layout: the chosen sequence in full, then the rejected one's tail after the shared prefix, so
             * that both continuations lie back to back. */
            int32_t sh = warm_pref_shared_prefix(&v);
            for (int32_t t = 0; t < len[0]; t++) tok[t] = pair_token(&v, 0, t);
            for (int32_t t = sh; t < len[1]; t++) tok[len[0] + t - sh] = pair_token(&v, 1, t);
            s->plens[2 * i] = len[0] - sh;
            s->plens[2 * i + 1] = len[1] - sh;
            s->pg[i] = (warm_eval_group){tok, sh, 2, tok + sh, s->plens + 2 * i};
            tok += len[0] + len[1] - sh;
        }
        warm_status st = score_groups(s, s->pg, cn, s->pr, 0, err);
        if (st) return st;
        for (int i = 0; i < cn; i++) {
            r_chosen[c0 + i] = s->pr[2 * i];
            r_rejected[c0 + i] = s->pr[2 * i + 1];
        }
        if (s->progress) warm_progress_update(s->progress, s->progress->done + cn);
    }
    return WARM_OK;
}

warm_status warm_eval_score_groups(const warm_model *m, const warm_eval_group *g, int64_t ng,
                                   const warm_eval_opts *opts, float *rewards, warm_error *err) {
    warm_scorer *s = NULL;
    warm_status st = warm_scorer_init(&s, m, opts, err);
    if (!st) st = warm_scorer_groups(s, g, ng, rewards, err);
    warm_scorer_free(s);
    return st;
}

warm_status warm_eval_score_pairs_ex(const warm_model *m, const warm_prefs *d, const int64_t *idx, int64_t n,
                                     const warm_eval_opts *opts, float *r_chosen, float *r_rejected,
                                     warm_error *err) {
    warm_scorer *s = NULL;
    warm_status st = warm_scorer_init(&s, m, opts, err);
    if (!st) st = warm_scorer_pairs(s, d, idx, n, r_chosen, r_rejected, err);
    warm_scorer_free(s);
    return st;
}

warm_status warm_eval_score_pairs(const warm_model *m, const warm_prefs *d, const int64_t *idx, int64_t n,
                                  float *r_chosen, float *r_rejected, warm_error *err) {
    return warm_eval_score_pairs_ex(m, d, idx, n, NULL, r_chosen, r_rejected, err);
}
