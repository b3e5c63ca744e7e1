/*
 * decode.c — the decode path: token-at-a-time forward with a KV cache, for sampling (best-of-N, RL
 * rollouts) and for scoring many responses to one prompt.
 *
 * One prompt prefix is run once (prefill) and its keys/values stored once; n_seq sequences then extend it,
 * each with its own suffix cache. A call to warm_decode_extend runs all new tokens of all sequences as one
 * batch of rows through the same linear kernels as training (so batched decode of n samples costs one
 * (n, C) x (C, OC) matmul per layer per step, not n matrix-vector products).
 *
 * Row bookkeeping: each row has its sequence s (-1 = the prefix) and its absolute position; its keys are
 * prefix[0 .. min(pos, prefix_len - 1)] followed, for s >= 0, by suffix_s[0 .. pos - prefix_len].
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "warm/kernels.h"
#include "warm/model.h"

/* Last-token rows whose logits are computed together: one (rows, C) x (C, V) matmul instead of rows
 * matrix-vector products (which run at a tenth of the speed). */
#define LOGIT_ROWS 64

struct warm_decoder {
    const warm_model *m;
    int max_rows;
    float *x, *ln, *qkv, *atty, *tmp, *fch, *hid; /* (R, C), (R, C), (R, 3C), (R, C), (R, C), (R, 4C), (R, C) */
    float *mean, *rstd;                           /* (R) */
    float *scores;                                /* (R, P) attention scratch */
    float *lg;                                    /* (LOGIT_ROWS, V) logits of gathered rows */
    int *lg_seq;                                  /* (LOGIT_ROWS) sequence of each gathered row */
    int *row_seq, *row_pos;                       /* (R) */
    int32_t *row_tok;                             /* (R) */
};

warm_status warm_kvcache_init(warm_kvcache *kv, const warm_config *cfg, int max_prefix, int max_suffix, int n_seq,
                              warm_error *err) {
    memset(kv, 0, sizeof *kv);
    if (max_prefix < 1 || max_suffix < 0 || n_seq < 1 || max_prefix + max_suffix > cfg->n_positions)
        return warm_error_set(err, WARM_ERR_ARG, "kv cache: prefix %d + suffix %d exceeds the context %d (n_seq %d)",
                              max_prefix, max_suffix, cfg->n_positions, n_seq);
    kv->L = cfg->n_layer;
    kv->C = cfg->n_embd;
    kv->NH = cfg->n_head;
    kv->max_prefix = max_prefix;
    kv->max_suffix = max_suffix;
    kv->n_seq = n_seq;
    size_t pre = (size_t)kv->L * max_prefix * kv->C, suf = (size_t)kv->L * n_seq * (size_t)(max_suffix > 0 ? max_suffix : 1) * kv->C;
    kv->kp = warm_alloc(pre * sizeof(float));
    kv->vp = warm_alloc(pre * sizeof(float));
    kv->ks = warm_alloc(suf * sizeof(float));
    kv->vs = warm_alloc(suf * sizeof(float));
    kv->suffix_len = calloc((size_t)n_seq, sizeof(int));
    if (!kv->kp || !kv->vp || !kv->ks || !kv->vs || !kv->suffix_len) {
        warm_kvcache_free(kv);
        return warm_error_set(err, WARM_ERR_NOMEM, "kv cache: cannot allocate %.1f MB",
                              (double)(2 * (pre + suf)) * 4.0 / 1e6);
    }
    return WARM_OK;
}

void warm_kvcache_free(warm_kvcache *kv) {
    warm_free(kv->kp);
    warm_free(kv->vp);
    warm_free(kv->ks);
    warm_free(kv->vs);
    free(kv->suffix_len);
    memset(kv, 0, sizeof *kv);
}

void warm_kvcache_reset_suffixes(warm_kvcache *kv) { memset(kv->suffix_len, 0, (size_t)kv->n_seq * sizeof(int)); }

warm_status warm_decoder_init(warm_decoder **out, const warm_model *m, int max_rows, warm_error *err) {
    *out = NULL;
    if (max_rows < 1) return warm_error_set(err, WARM_ERR_ARG, "decoder: max_rows must be >= 1");
    warm_decoder *d = calloc(1, sizeof *d);
    if (!d) return warm_error_set(err, WARM_ERR_NOMEM, "decoder: out of memory");
    d->m = m;
    d->max_rows = max_rows;
    size_t R = (size_t)max_rows, C = (size_t)m->cfg.n_embd, P = (size_t)m->cfg.n_positions;
    d->x = warm_alloc(R * C * sizeof(float));
    d->ln = warm_alloc(R * C * sizeof(float));
    d->qkv = warm_alloc(R * 3 * C * sizeof(float));
    d->atty = warm_alloc(R * C * sizeof(float));
    d->tmp = warm_alloc(R * C * sizeof(float));
    d->fch = warm_alloc(R * 4 * C * sizeof(float));
    d->hid = warm_alloc(R * C * sizeof(float));
    d->mean = warm_alloc(R * sizeof(float));
    d->rstd = warm_alloc(R * sizeof(float));
    d->scores = warm_alloc(R * P * sizeof(float));
    d->row_seq = calloc(R, sizeof(int));
    d->row_pos = calloc(R, sizeof(int));
    d->row_tok = calloc(R, sizeof(int32_t));
    d->lg = warm_alloc((size_t)LOGIT_ROWS * (size_t)m->cfg.vocab_size * sizeof(float));
    d->lg_seq = calloc(LOGIT_ROWS, sizeof(int));
    if (!d->lg || !d->lg_seq || !d->x || !d->ln || !d->qkv || !d->atty || !d->tmp || !d->fch || !d->hid || !d->mean || !d->rstd ||
        !d->scores || !d->row_seq || !d->row_pos || !d->row_tok) {
        warm_decoder_free(d);
        return warm_error_set(err, WARM_ERR_NOMEM, "decoder: cannot allocate scratch for %d rows", max_rows);
    }
    *out = d;
    return WARM_OK;
}

void warm_decoder_free(warm_decoder *d) {
    if (!d) return;
    warm_free(d->x); warm_free(d->ln); warm_free(d->qkv); warm_free(d->atty); warm_free(d->tmp);
    warm_free(d->fch); warm_free(d->hid); warm_free(d->mean); warm_free(d->rstd); warm_free(d->scores);
    free(d->row_seq); free(d->row_pos); free(d->row_tok);
    warm_free(d->lg); free(d->lg_seq);
    free(d);
}

/* Key/value rows of layer l for sequence s at absolute position pos. */
static float *k_at(const warm_kvcache *kv, int l, int s, int pos) {
    if (s < 0 || pos < kv->prefix_len) return kv->kp + ((size_t)l * kv->max_prefix + (size_t)pos) * kv->C;
    return kv->ks + (((size_t)l * kv->n_seq + (size_t)s) * kv->max_suffix + (size_t)(pos - kv->prefix_len)) * kv->C;
}
static float *v_at(const warm_kvcache *kv, int l, int s, int pos) {
    if (s < 0 || pos < kv->prefix_len) return kv->vp + ((size_t)l * kv->max_prefix + (size_t)pos) * kv->C;
    return kv->vs + (((size_t)l * kv->n_seq + (size_t)s) * kv->max_suffix + (size_t)(pos - kv->prefix_len)) * kv->C;
}

/* Causal attention of R rows over the cache (their own K/V already stored). */
static void cached_attention(warm_decoder *d, const warm_kvcache *kv, int l, int R) {
    int C = kv->C, NH = kv->NH, HS = C / NH, P = d->m->cfg.n_positions;
    float scale = 1.0f / sqrtf((float)HS);
#pragma omp parallel for
    for (int r = 0; r < R; r++) {
        int s = d->row_seq[r], pos = d->row_pos[r];
        float *sc = d->scores + (size_t)r * P;
        const float *q = d->qkv + (size_t)r * 3 * C;
        float *y = d->atty + (size_t)r * C;
        for (int h = 0; h < NH; h++) {
            float mx = -INFINITY;
            for (int j = 0; j <= pos; j++) {
                const float *k = k_at(kv, l, s, j) + h * HS;
                float dot = 0.0f;
                for (int i = 0; i < HS; i++) dot += q[h * HS + i] * k[i];
                sc[j] = dot * scale;
                if (sc[j] > mx) mx = sc[j];
            }
            float sum = 0.0f;
            for (int j = 0; j <= pos; j++) {
                sc[j] = expf(sc[j] - mx);
                sum += sc[j];
            }
            float inv = 1.0f / sum;
            float *yh = y + h * HS;
            for (int i = 0; i < HS; i++) yh[i] = 0.0f;
            for (int j = 0; j <= pos; j++) {
                const float *v = v_at(kv, l, s, j) + h * HS;
                float a = sc[j] * inv;
                for (int i = 0; i < HS; i++) yh[i] += a * v[i];
            }
        }
    }
}

/* Runs R prepared rows (row_seq/row_pos/row_tok) through the model; leaves ln_f output in d->hid. */
static void run_rows(warm_decoder *d, warm_kvcache *kv, int R) {
    const warm_model *m = d->m;
    int C = m->cfg.n_embd;
    size_t RC = (size_t)R * C;
    warm_global_view g = warm_model_globals(m, m->params);
    for (int r = 0; r < R; r++) {
        const float *te = g.wte + (size_t)d->row_tok[r] * C, *pe = g.wpe + (size_t)d->row_pos[r] * C;
        for (int i = 0; i < C; i++) d->x[(size_t)r * C + i] = te[i] + pe[i];
    }
    for (int l = 0; l < m->cfg.n_layer; l++) {
        warm_layer_view w = warm_model_layer(m, m->params, l);
        warm_layernorm_forward(d->ln, d->mean, d->rstd, d->x, w.ln1w, w.ln1b, R, C);
        warm_linear_forward(d->qkv, d->ln, w.qkvw, w.qkvb, R, C, 3 * C);
        for (int r = 0; r < R; r++) {
            memcpy(k_at(kv, l, d->row_seq[r], d->row_pos[r]), d->qkv + (size_t)r * 3 * C + C, (size_t)C * sizeof(float));
            memcpy(v_at(kv, l, d->row_seq[r], d->row_pos[r]), d->qkv + (size_t)r * 3 * C + 2 * C, (size_t)C * sizeof(float));
        }
        cached_attention(d, kv, l, R);
        warm_linear_forward(d->tmp, d->atty, w.attprojw, w.attprojb, R, C, C);
        for (size_t i = 0; i < RC; i++) d->x[i] += d->tmp[i];
        warm_layernorm_forward(d->ln, d->mean, d->rstd, d->x, w.ln2w, w.ln2b, R, C);
        warm_linear_forward(d->fch, d->ln, w.fcw, w.fcb, R, C, 4 * C);
        warm_gelu_forward(d->fch, d->fch, RC * 4);
        warm_linear_forward(d->tmp, d->fch, w.fcprojw, w.fcprojb, R, 4 * C, C);
        for (size_t i = 0; i < RC; i++) d->x[i] += d->tmp[i];
    }
    warm_layernorm_forward(d->hid, d->mean, d->rstd, d->x, g.lnfw, g.lnfb, R, C);
}

static void logits_of(const warm_model *m, const float *h, int rows, float *logits) {
    warm_global_view g = warm_model_globals(m, m->params);
    int C = m->cfg.n_embd, V = m->cfg.vocab_size;
    warm_sgemm(0, 1, rows, V, C, 1.0f, h, C, g.wte, C, 0.0f, logits, V);
}

/* Logits of the ng gathered rows (hidden in d->tmp) scattered to their sequences' rows of logits. */
static void flush_logits(warm_decoder *d, int ng, float *logits) {
    int V = d->m->cfg.vocab_size;
    logits_of(d->m, d->tmp, ng, d->lg);
    for (int i = 0; i < ng; i++) memcpy(logits + (size_t)d->lg_seq[i] * V, d->lg + (size_t)i * V, (size_t)V * sizeof(float));
}

warm_status warm_decode_prefill(warm_decoder *d, warm_kvcache *kv, const int32_t *prompt, int len, float *logits_last,
                                float *hidden_last, warm_error *err) {
    const warm_model *m = d->m;
    int C = m->cfg.n_embd;
    if (len < 1 || len > kv->max_prefix)
        return warm_error_set(err, WARM_ERR_ARG, "prefill: prompt of %d tokens does not fit the cache (max %d)", len,
                              kv->max_prefix);
    for (int i = 0; i < len; i++)
        if (prompt[i] < 0 || prompt[i] >= m->cfg.vocab_size)
            return warm_error_set(err, WARM_ERR_ARG, "prefill: token %d at position %d outside the vocabulary",
                                  prompt[i], i);
    kv->prefix_len = 0;
    warm_kvcache_reset_suffixes(kv);
    /* Rows in chunks of max_rows; each chunk sees the earlier chunks through the cache. */
    for (int start = 0; start < len; start += d->max_rows) {
        int R = len - start < d->max_rows ? len - start : d->max_rows;
        for (int r = 0; r < R; r++) {
            d->row_seq[r] = -1;
            d->row_pos[r] = start + r;
            d->row_tok[r] = prompt[start + r];
        }
        kv->prefix_len = start + R;
        run_rows(d, kv, R);
        if (start + R == len) {
            if (hidden_last) memcpy(hidden_last, d->hid + (size_t)(R - 1) * C, (size_t)C * sizeof(float));
            if (logits_last) logits_of(m, d->hid + (size_t)(R - 1) * C, 1, logits_last);
        }
    }
    kv->prefix_len = len;
    return WARM_OK;
}

/* warm_decode_extend; with all_logits non-NULL, every appended row's logits go to all_logits (total rows, V) in
 * the order of tokens (logits and hidden are then unused). */
static warm_status extend_impl(warm_decoder *d, warm_kvcache *kv, const int32_t *tokens, const int *counts,
                               float *logits, float *hidden, float *all_logits, warm_error *err) {
    const warm_model *m = d->m;
    int C = m->cfg.n_embd, V = m->cfg.vocab_size;
    if (kv->prefix_len < 1) return warm_error_set(err, WARM_ERR_ARG, "decode: no prompt prefilled");
    int total = 0;
    for (int s = 0; s < kv->n_seq; s++) {
        if (counts[s] < 0 || kv->suffix_len[s] + counts[s] > kv->max_suffix)
            return warm_error_set(err, WARM_ERR_ARG, "decode: sequence %d would exceed %d suffix tokens", s,
                                  kv->max_suffix);
        total += counts[s];
    }
    for (int i = 0; i < total; i++)
        if (tokens[i] < 0 || tokens[i] >= V)
            return warm_error_set(err, WARM_ERR_ARG, "decode: token %d outside the vocabulary", tokens[i]);
    /* Pack rows sequence by sequence; a sequence longer than max_rows is split over several passes. */
    int s = 0, done_in_s = 0, consumed = 0;
    while (consumed < total) {
        int R = 0;
        while (R < d->max_rows && s < kv->n_seq) {
            if (done_in_s == counts[s]) { s++; done_in_s = 0; continue; }
            d->row_seq[R] = s;
            d->row_pos[R] = kv->prefix_len + kv->suffix_len[s] + done_in_s;
            d->row_tok[R] = tokens[consumed + R];
            R++;
            done_in_s++;
        }
        run_rows(d, kv, R);
        int ng = 0;
        for (int r = 0; r < R; r++) {
            int rs = d->row_seq[r];
            if (all_logits) {
                memcpy(d->tmp + (size_t)ng * C, d->hid + (size_t)r * C, (size_t)C * sizeof(float));
                d->lg_seq[ng++] = consumed + r;
                if (ng == LOGIT_ROWS) {
                    flush_logits(d, ng, all_logits);
                    ng = 0;
                }
                continue;
            }
            int last = d->row_pos[r] == kv->prefix_len + kv->suffix_len[rs] + counts[rs] - 1;
            if (!last) continue;
            if (hidden) memcpy(hidden + (size_t)rs * C, d->hid + (size_t)r * C, (size_t)C * sizeof(float));
            if (!logits) continue;
            /* gather into tmp (free after run_rows), flush every LOGIT_ROWS rows */
            memcpy(d->tmp + (size_t)ng * C, d->hid + (size_t)r * C, (size_t)C * sizeof(float));
            d->lg_seq[ng++] = rs;
            if (ng == LOGIT_ROWS || ng == R) {
                flush_logits(d, ng, logits);
                ng = 0;
            }
        }
        if (ng) flush_logits(d, ng, all_logits ? all_logits : logits);
        consumed += R;
    }
    for (int q = 0; q < kv->n_seq; q++) kv->suffix_len[q] += counts[q];
    return WARM_OK;
}

warm_status warm_decode_extend(warm_decoder *d, warm_kvcache *kv, const int32_t *tokens, const int *counts,
                               float *logits, float *hidden, warm_error *err) {
    return extend_impl(d, kv, tokens, counts, logits, hidden, NULL, err);
}

float warm_model_reward_from_hidden(const warm_model *m, const float *h) {
    warm_global_view g = warm_model_globals(m, m->params);
    double s = 0.0;
    for (int i = 0; i < m->cfg.n_embd; i++) s += (double)g.score[i] * (double)h[i];
    return (float)s;
}

/* log softmax(x)[t] in double, computed as warm_sample computes its logprob at temperature 1. */
static double log_softmax_at(const float *x, int V, int32_t t) {
    float mx = x[0];
    for (int v = 1; v < V; v++) mx = x[v] > mx ? x[v] : mx;
    double sum = 0.0;
    for (int v = 0; v < V; v++) sum += exp((double)(x[v] - mx));
    double lse = (double)mx + log(sum);
    return (double)x[t] - lse; /* warm_sample's expression at T = 1: the same bits */
}

/*
 * n sequences after one shared prompt, decoded as one batch per step. forced == NULL: tokens are sampled
 * (smp, rng) until eos or max_new; else sequence i is forced_lens[i] tokens of forced + i * max_new (teacher
 * forcing) and out_logprobs receives their log-probabilities at temperature 1.
 */
static warm_status decode_batch(const warm_model *m, const int32_t *prompt, int prompt_len, int n, int max_new,
                                const warm_sampler *smp, int32_t eos, warm_rng *rng, const int32_t *forced,
                                const int *forced_lens, int32_t *out_tokens, float *out_logprobs, int *out_lens,
                                warm_error *err) {
    int V = m->cfg.vocab_size;
    if (n < 1 || max_new < 1) return warm_error_set(err, WARM_ERR_ARG, "generate: n and max_new must be >= 1");
    warm_kvcache kv;
    warm_decoder *d = NULL;
    warm_status s = warm_kvcache_init(&kv, &m->cfg, prompt_len, max_new, n, err);
    if (s) return s;
    int rows = prompt_len > n ? prompt_len : n;
    s = warm_decoder_init(&d, m, rows > 512 ? 512 : rows, err);
    float *logits = s ? NULL : malloc((size_t)n * V * sizeof(float));
    int32_t *next = s ? NULL : malloc((size_t)n * sizeof(int32_t));
    int *counts = s ? NULL : calloc((size_t)n, sizeof(int));
    if (!s && (!logits || !next || !counts)) s = warm_error_set(err, WARM_ERR_NOMEM, "generate: out of memory");
    if (!s) s = warm_decode_prefill(d, &kv, prompt, prompt_len, logits, NULL, err);
    for (int i = 1; i < n && !s; i++) memcpy(logits + (size_t)i * V, logits, (size_t)V * sizeof(float));
    for (int i = 0; i < n; i++) out_lens[i] = 0;
    for (int step = 0; step < max_new && !s; step++) {
        int active = 0;
        for (int i = 0; i < n; i++) {
            counts[i] = 0;
            int32_t t;
            float lp;
            if (forced) {
                if (out_lens[i] == forced_lens[i]) continue;
                t = forced[(size_t)i * max_new + out_lens[i]];
                lp = (float)log_softmax_at(logits + (size_t)i * V, V, t);
            } else {
                int finished = out_lens[i] > 0 && out_tokens[(size_t)i * max_new + out_lens[i] - 1] == eos;
                if (finished || out_lens[i] == max_new) continue;
                t = warm_sample(logits + (size_t)i * V, V, smp, rng, &lp);
                out_tokens[(size_t)i * max_new + out_lens[i]] = t;
            }
            if (out_logprobs) out_logprobs[(size_t)i * max_new + out_lens[i]] = lp;
            out_lens[i]++;
            int more = forced ? out_lens[i] < forced_lens[i] : t != eos && out_lens[i] < max_new;
            if (more) {
                next[active++] = t;
                counts[i] = 1;
            }
        }
        if (active == 0) break;
        s = warm_decode_extend(d, &kv, next, counts, logits, NULL, err);
    }
    free(logits);
    free(next);
    free(counts);
    warm_decoder_free(d);
    warm_kvcache_free(&kv);
    return s;
}

warm_status warm_generate(const warm_model *m, const int32_t *prompt, int prompt_len, int n, int max_new,
                          const warm_sampler *smp, int32_t eos, warm_rng *rng, int32_t *out_tokens, float *out_logprobs,
                          int *out_lens, warm_error *err) {
    return decode_batch(m, prompt, prompt_len, n, max_new, smp, eos, rng, NULL, NULL, out_tokens, out_logprobs,
                        out_lens, err);
}

/* The argument checks shared by the two teacher-forcing functions. */
static warm_status check_logprob_args(const warm_model *m, int prompt_len, int stride, const int *lens, int n,
                                      warm_error *err) {
    if (n < 1 || stride < 1 || prompt_len < 1 || prompt_len + stride > m->cfg.n_positions)
        return warm_error_set(err, WARM_ERR_ARG, "logprobs: n %d, stride %d, prompt %d, context %d", n, stride,
                              prompt_len, m->cfg.n_positions);
    for (int i = 0; i < n; i++)
        if (lens[i] < 1 || lens[i] > stride)
            return warm_error_set(err, WARM_ERR_ARG, "logprobs: response %d has %d tokens (1..%d)", i, lens[i], stride);
    return WARM_OK;
}

warm_status warm_decode_logprobs(const warm_model *m, const int32_t *prompt, int prompt_len, const int32_t *resp,
                                 int stride, const int *lens, int n, float *out, warm_error *err) {
    warm_status cs = check_logprob_args(m, prompt_len, stride, lens, n, err);
    if (cs) return cs;
    int *got = malloc((size_t)n * sizeof *got);
    if (!got) return warm_error_set(err, WARM_ERR_NOMEM, "logprobs: out of memory");
    warm_status s = decode_batch(m, prompt, prompt_len, n, stride, NULL, 0, NULL, resp, lens, NULL, out, got, err);
    free(got);
    return s;
}

/* A cache for one prompt of prompt_len tokens and G suffixes of up to max_suffix tokens, and a decoder for it
 * (the shape warm_prefill_logprobs and warm_score_responses work in); on failure neither is left allocated. */
static warm_status group_cache_open(const warm_model *m, int prompt_len, int max_suffix, int G, warm_kvcache *kv,
                                    warm_decoder **d, warm_error *err) {
    *d = NULL;
    warm_status s = warm_kvcache_init(kv, &m->cfg, prompt_len, max_suffix, G, err);
    if (s) return s;
    s = warm_decoder_init(d, m, 512, err);
    if (s) warm_kvcache_free(kv);
    return s;
}

warm_status warm_prefill_logprobs(const warm_model *m, const int32_t *prompt, int prompt_len, const int32_t *resp,
                                  int stride, const int *lens, int n, float *out, warm_error *err) {
    warm_status cs = check_logprob_args(m, prompt_len, stride, lens, n, err);
    if (cs) return cs;
    int V = m->cfg.vocab_size;
    for (int i = 0; i < n; i++)
        for (int t = 0; t < lens[i]; t++)
            if (resp[(size_t)i * stride + t] < 0 || resp[(size_t)i * stride + t] >= V)
                return warm_error_set(err, WARM_ERR_ARG, "logprobs: token %d outside the vocabulary",
                                      resp[(size_t)i * stride + t]);
    /* Sequences in groups of at most `cap` appended rows (one extend call each; bounds the logits buffer). */
    int total = 0;
    for (int i = 0; i < n; i++) total += lens[i] - 1;
    int cap = total < 256 ? total : 256, G = n < 64 ? n : 64;
    if (cap < stride) cap = stride; /* one response always fits a group */
    warm_kvcache kv;
    warm_decoder *d = NULL;
    warm_status s = group_cache_open(m, prompt_len, stride, G, &kv, &d, err);
    if (s) return s;
    float *first = s ? NULL : malloc((size_t)V * sizeof(float));
    float *lg = s ? NULL : warm_alloc((size_t)cap * V * sizeof(float));
    int32_t *tok = s ? NULL : malloc((size_t)cap * sizeof(int32_t));
    int *counts = s ? NULL : calloc((size_t)G, sizeof(int));
    if (!s && (!first || !lg || !tok || !counts)) s = warm_error_set(err, WARM_ERR_NOMEM, "logprobs: out of memory");
    /* the first response token follows the prompt: one prefill for all */
    if (!s) s = warm_decode_prefill(d, &kv, prompt, prompt_len, first, NULL, err);
    for (int i = 0; i < n && !s; i++) out[(size_t)i * stride] = (float)log_softmax_at(first, V, resp[(size_t)i * stride]);
    for (int g0 = 0; g0 < n && !s;) {
        int gn = 0, rows = 0;
        while (g0 + gn < n && gn < G && rows + lens[g0 + gn] - 1 <= cap) rows += lens[g0 + gn++] - 1;
        warm_kvcache_reset_suffixes(&kv);
        for (int j = 0, o = 0; j < G; j++) {
            counts[j] = j < gn ? lens[g0 + j] - 1 : 0;
            if (j < gn) memcpy(tok + o, resp + (size_t)(g0 + j) * stride, (size_t)counts[j] * sizeof(int32_t));
            o += counts[j];
        }
        if (rows > 0) s = extend_impl(d, &kv, tok, counts, NULL, NULL, lg, err);
        for (int j = 0, r = 0; j < gn && !s; j++) {
            const int32_t *y = resp + (size_t)(g0 + j) * stride;
            for (int t = 1; t < lens[g0 + j]; t++, r++)
                out[(size_t)(g0 + j) * stride + t] = (float)warm_logprob_at(lg + (size_t)r * V, V, y[t]);
        }
        g0 += gn;
    }
    free(first);
    warm_free(lg);
    free(tok);
    free(counts);
    warm_decoder_free(d);
    warm_kvcache_free(&kv);
    return s;
}

warm_status warm_score_responses(const warm_model *m, const int32_t *prompt, int prompt_len, const int32_t *responses,
                                 const int *lens, int n, float *rewards, warm_error *err) {
    int C = m->cfg.n_embd, max_len = 0;
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        if (lens[i] < 0) return warm_error_set(err, WARM_ERR_ARG, "score: response %d has negative length", i);
        if (lens[i] > max_len) max_len = lens[i];
        total += (size_t)lens[i];
    }
    /* Responses are scored in groups that share one cache; the group size bounds memory. */
    int group = n < 64 ? n : 64;
    warm_kvcache kv;
    warm_decoder *d = NULL;
    warm_status s = group_cache_open(m, prompt_len, max_len, group, &kv, &d, err);
    if (s) return s;
    float *hp = s ? NULL : malloc((size_t)C * sizeof(float));
    float *hid = s ? NULL : malloc((size_t)group * C * sizeof(float));
    int *counts = s ? NULL : calloc((size_t)group, sizeof(int));
    if (!s && (!hp || !hid || !counts)) s = warm_error_set(err, WARM_ERR_NOMEM, "score: out of memory");
    if (!s) s = warm_decode_prefill(d, &kv, prompt, prompt_len, NULL, hp, err);
    const int32_t *tok = responses;
    for (int g0 = 0; g0 < n && !s; g0 += group) {
        int gn = n - g0 < group ? n - g0 : group;
        warm_kvcache_reset_suffixes(&kv);
        for (int i = 0; i < group; i++) counts[i] = i < gn ? lens[g0 + i] : 0;
        s = warm_decode_extend(d, &kv, tok, counts, NULL, hid, err);
        for (int i = 0; i < gn && !s; i++) {
            rewards[g0 + i] = warm_model_reward_from_hidden(m, lens[g0 + i] ? hid + (size_t)i * C : hp);
            tok += lens[g0 + i];
        }
    }
    (void)total;
    free(hp);
    free(hid);
    free(counts);
    warm_decoder_free(d);
    warm_kvcache_free(&kv);
    return s;
}
