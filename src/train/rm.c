/*
 * rm.c — what every reward-model member starts from: head files (load/save score.weight), member
 * initialisation (SFT body + probed head, dropout rates), pooled features of preference pairs, and the
 * linear probe that fits the shared head ω0 on frozen features (see include/warm/rm.h).
 *
 * The probe works on fixed feature matrices: the reward is linear in the head, r = w . x, so after one
 * forward per sequence the fit never touches the transformer again. With d_i = xc_i - xr_i and
 * s_i = xc_i + xr_i, the objective and its gradient are
 *     f(w)  = mean_i softplus(m_i - w.d_i) + eta * mean_i (w.s_i)^2 + (l2/2)|w|^2
 *     df/dw = mean_i (sigma(w.d_i - m_i) - 1) d_i + 2 eta mean_i (w.s_i) s_i + l2 w
 * Reductions run sequentially in row order (in double), so the fit is bit-reproducible on any thread count.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warm/kernels.h"
#include "warm/progress.h"
#include "warm/rm.h"

/* ---- heads ---- */

warm_status warm_rm_load_head(warm_model *m, const char *path, warm_error *err) {
    warm_st_file f;
    warm_status s = warm_st_open(&f, path, err);
    if (s) return s;
    const warm_st_tensor *t = warm_st_find(&f, "score.weight");
    int C = m->cfg.n_embd;
    if (!t)
        s = warm_error_set(err, WARM_ERR_FORMAT, "%s: no score.weight (not a head or reward model file)", path);
    else if (!((t->ndim == 2 && t->shape[0] == 1 && t->shape[1] == C) || (t->ndim == 1 && t->shape[0] == C)))
        s = warm_error_set(err, WARM_ERR_MISMATCH, "%s: score.weight must have shape [1, %d] for this model", path, C);
    else {
        warm_global_view g = warm_model_globals(m, m->params);
        s = warm_st_to_f32(&f, t, g.score, err);
    }
    warm_st_close(&f);
    return s;
}

warm_status warm_rm_save_head(const float *w, int C, const char *path, const char *const *keys,
                              const char *const *vals, int n_meta, warm_error *err) {
    if (C < 1) return warm_error_set(err, WARM_ERR_ARG, "%s: head width %d", path, C);
    const char **k = calloc((size_t)n_meta + 1, sizeof *k), **v = calloc((size_t)n_meta + 1, sizeof *v);
    if (!k || !v) {
        free(k);
        free(v);
        return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", path);
    }
    k[0] = "warm.head";
    v[0] = "score.weight [1, C], last-non-pad pooling";
    for (int i = 0; i < n_meta; i++) {
        k[i + 1] = keys[i];
        v[i + 1] = vals[i];
    }
    warm_st_spec spec = {.name = "score.weight", .dtype = WARM_DTYPE_F32, .ndim = 2, .shape = {1, C}};
    const float *data[1] = {w};
    warm_status s = warm_st_write(path, &spec, data, 1, k, v, n_meta + 1, err);
    free(k);
    free(v);
    return s;
}

const char *warm_rm_head_source_name(warm_rm_head_source s) {
    switch (s) {
    case WARM_RM_HEAD_FILE: return "file";
    case WARM_RM_HEAD_INIT: return "init";
    case WARM_RM_HEAD_FRESH: return "fresh";
    }
    return "?";
}

/* 1 when the safetensors file at path holds score.weight (checked before loading: warm_model_load leaves a
 * missing head at zero without saying so). */
static warm_status file_has_head(const char *path, int *has, warm_error *err) {
    warm_st_file f;
    warm_status s = warm_st_open(&f, path, err);
    if (s) return s;
    *has = warm_st_find(&f, "score.weight") != NULL;
    warm_st_close(&f);
    return WARM_OK;
}

warm_status warm_rm_init_model(warm_model *m, const char *init, const char *head_path, float dropout,
                               uint64_t head_seed, warm_rm_head_source *src, warm_error *err) {
    int has_head = 0;
    warm_status s = file_has_head(init, &has_head, err);
    if (!s) s = warm_model_load(m, init, 1, err);
    if (s) return s;
    if (!(dropout < 1.0f)) {
        warm_model_free(m);
        return warm_error_set(err, WARM_ERR_ARG, "dropout %g must be below 1", (double)dropout);
    }
    if (dropout >= 0.0f) m->cfg.embd_pdrop = m->cfg.attn_pdrop = m->cfg.resid_pdrop = dropout;
    warm_rm_head_source from = WARM_RM_HEAD_INIT;
    if (head_path) {
        s = warm_rm_load_head(m, head_path, err);
        from = WARM_RM_HEAD_FILE;
    } else if (!has_head) {
        /* The distribution warm_model_init_weights gives score.weight, from a stream of its own. */
        warm_rng r;
        warm_rng_seed(&r, warm_hash64(head_seed, 0x6865616400ull));
        warm_global_view g = warm_model_globals(m, m->params);
        for (int i = 0; i < m->cfg.n_embd; i++) g.score[i] = m->cfg.initializer_range * warm_rng_normal(&r);
        from = WARM_RM_HEAD_FRESH;
    }
    if (s) {
        warm_model_free(m);
        return s;
    }
    if (src) *src = from;
    return WARM_OK;
}

/* ---- data ---- */

warm_status warm_rm_load_pairs(warm_prefs *d, const char *path, const char *subset, const warm_tokenizer *tok,
                               const warm_config *cfg, int64_t **idx, int64_t *n, warm_error *err) {
    *idx = NULL;
    *n = 0;
    warm_prefs_opts po = warm_prefs_opts_default();
    po.max_len = cfg->n_positions;
    po.vocab_size = cfg->vocab_size;
    po.pad_id = cfg->pad_token_id;
    warm_status s = warm_prefs_load(d, path, tok, &po, err);
    if (!s && tok && warm_tok_vocab_size(tok) != cfg->vocab_size)
        s = warm_error_set(err, WARM_ERR_MISMATCH, "%s: the tokenizer has %d words, the model %d", path,
                           warm_tok_vocab_size(tok), cfg->vocab_size);
    if (!s) s = warm_prefs_subset(d, subset, -1, idx, n, err);
    if (!s && *n == 0)
        s = warm_error_set(err, WARM_ERR_ARG, "%s: no pairs%s%s%s", path, subset ? " in subset \"" : "",
                           subset ? subset : "", subset ? "\"" : "");
    if (s) {
        free(*idx);
        *idx = NULL;
        *n = 0;
        warm_prefs_free(d);
    }
    return s;
}

/* ---- features ---- */

warm_status warm_rm_features(warm_model *m, const warm_prefs *d, const int64_t *idx, int64_t n, int batch,
                             float *fc, float *fr, FILE *progress, warm_error *err) {
    if (n <= 0) return WARM_OK;
    if (batch < 2) batch = 2;
    int C = m->cfg.n_embd, P = batch / 2;
    if (d->max_seq > m->cfg.n_positions)
        return warm_error_set(err, WARM_ERR_ARG, "features: rows of %d tokens exceed the model's context %d",
                              d->max_seq, m->cfg.n_positions);
    /* Pairs in order, batch / 2 per forward, each packed as its shared prefix plus both continuations (no
     * padding, the prompt run once: warm_trainer_pair_hidden); a sequence's feature depends on it alone. */
    int32_t *tokens = malloc((size_t)2 * P * (size_t)d->max_seq * sizeof *tokens);
    int32_t *lengths = malloc((size_t)2 * P * sizeof *lengths);
    float *h = malloc((size_t)2 * P * (size_t)C * sizeof *h);
    warm_trainer *tr = NULL;
    warm_status s = tokens && lengths && h ? WARM_OK : warm_error_set(err, WARM_ERR_NOMEM, "features: out of memory");
    if (!s) s = warm_trainer_init(&tr, m, 2 * P, d->max_seq, 0, err);
    warm_progress prog;
    warm_progress_init(&prog, progress, "features", 2 * n);
    for (int64_t i = 0; !s && i < n; i += P) {
        int k = (int)(n - i < P ? n - i : P), T;
        s = warm_prefs_batch(d, idx + i, k, 0, tokens, lengths, NULL, &T, err);
        if (s) break;
        warm_trainer_pair_hidden(tr, tokens, lengths, k, T, h);
        memcpy(fc + (size_t)i * C, h, (size_t)k * C * sizeof(float));
        memcpy(fr + (size_t)i * C, h + (size_t)k * C, (size_t)k * C * sizeof(float));
        warm_progress_update(&prog, 2 * (i + k));
    }
    if (!s) warm_progress_finish(&prog);
    else warm_progress_clear(&prog);
    warm_trainer_free(tr);
    free(tokens);
    free(lengths);
    free(h);
    return s;
}

/* ---- probe ---- */

warm_probe_config warm_probe_default(void) {
    warm_probe_config c;
    memset(&c, 0, sizeof c);
    c.steps = 1000;
    c.lr = 0.02f;
    c.l2 = 0.01f;
    c.batch = 64;
    return c;
}

static double dot_d(const float *a, const float *b, int n) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}
static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }

void warm_probe_stats_of(const float *w, const float *fc, const float *fr, const float *margins, int64_t n, int C,
                         float center, warm_probe_stats *out) {
    memset(out, 0, sizeof *out);
    out->n = n;
    if (n <= 0) return;
    double loss = 0, gt = 0, ge = 0, mg = 0;
    for (int64_t i = 0; i < n; i++) {
        double rc = dot_d(w, fc + (size_t)i * C, C), rr = dot_d(w, fr + (size_t)i * C, C);
        /* Accuracy compares the float rewards a model would report. */
        float fc32 = (float)rc, fr32 = (float)rr;
        double m = margins ? (double)margins[i] : 0.0;
        loss += softplus(-(rc - rr - m)) + (double)center * (rc + rr) * (rc + rr);
        gt += fc32 > fr32;
        ge += fc32 >= fr32;
        mg += rc - rr;
    }
    out->loss = loss / (double)n;
    out->acc_gt = gt / (double)n;
    out->acc_ge = ge / (double)n;
    out->margin = mg / (double)n;
}

warm_status warm_probe_fit(const float *fc, const float *fr, const float *margins, int64_t n, int C,
                           const warm_probe_config *c, float *w, warm_error *err) {
    if (n < 1 || C < 1) return warm_error_set(err, WARM_ERR_ARG, "probe: no pairs to fit");
    if (c->steps < 0 || !(c->lr > 0.0f) || !(c->l2 >= 0.0f) || !(c->center >= 0.0f))
        return warm_error_set(err, WARM_ERR_ARG, "probe: steps >= 0, lr > 0, l2 >= 0 and center >= 0 required");
    size_t nc = (size_t)n * (size_t)C;
    /* D = fc - fr and S = fc + fr, the only combinations the objective uses (S only with centring). */
    float *D = malloc(nc * sizeof *D), *S = c->center > 0.0f ? malloc(nc * sizeof *S) : NULL;
    float *g = calloc((size_t)C, sizeof *g), *am = calloc((size_t)C, sizeof *am), *av = calloc((size_t)C, sizeof *av);
    double *acc = calloc((size_t)C, sizeof *acc);
    if (!D || (c->center > 0.0f && !S) || !g || !am || !av || !acc) {
        free(D); free(S); free(g); free(am); free(av); free(acc);
        return warm_error_set(err, WARM_ERR_NOMEM, "probe: out of memory for %lld x %d features", (long long)n, C);
    }
    for (size_t i = 0; i < nc; i++) {
        D[i] = fc[i] - fr[i];
        if (S) S[i] = fc[i] + fr[i];
    }
    warm_adamw_config opt = warm_adamw_default(c->lr);
    opt.schedule = 1; /* cosine to lr/100: large steps first, then settle on the optimum */
    opt.min_lr_frac = 0.01f;
    opt.total_steps = c->steps;
    warm_status s = WARM_OK;
    for (int step = 0; step < c->steps; step++) {
        memset(acc, 0, (size_t)C * sizeof *acc);
        double f = 0.0;
        for (int64_t i = 0; i < n; i++) {
            const float *d = D + (size_t)i * C;
            double z = dot_d(w, d, C) - (margins ? (double)margins[i] : 0.0);
            double gi = sigmoid(z) - 1.0;
            f += softplus(-z);
            for (int k = 0; k < C; k++) acc[k] += gi * (double)d[k];
            if (S) {
                const float *si = S + (size_t)i * C;
                double q = dot_d(w, si, C);
                f += (double)c->center * q * q;
                for (int k = 0; k < C; k++) acc[k] += 2.0 * (double)c->center * q * (double)si[k];
            }
        }
        if (!isfinite(f)) {
            s = warm_error_set(err, WARM_ERR_ARG, "probe: objective is not finite at step %d (non-finite "
                               "features, or lower --lr)", step);
            break;
        }
        for (int k = 0; k < C; k++) g[k] = (float)(acc[k] / (double)n + (double)c->l2 * (double)w[k]);
        float lr = warm_lr_at(&opt, step);
        float bc1 = 1.0f - (float)pow((double)opt.beta1, (double)(step + 1));
        float bc2 = 1.0f - (float)pow((double)opt.beta2, (double)(step + 1));
        warm_adamw_update(w, g, am, av, (size_t)C, lr, opt.beta1, opt.beta2, opt.eps, 0.0f, bc1, bc2, 1.0f);
    }
    free(D); free(S); free(g); free(am); free(av); free(acc);
    return s;
}

static warm_status margins_of(const warm_prefs *d, const int64_t *idx, int64_t n, float **out, warm_error *err) {
    *out = malloc((size_t)(n > 0 ? n : 1) * sizeof **out);
    if (!*out) return warm_error_set(err, WARM_ERR_NOMEM, "probe: out of memory");
    for (int64_t i = 0; i < n; i++) (*out)[i] = d->rows[idx[i]].margin;
    return WARM_OK;
}

warm_status warm_probe_run(warm_model *m, const warm_prefs *train, const int64_t *tidx, int64_t nt,
                           const warm_prefs *val, const int64_t *vidx, int64_t nv, const warm_probe_config *c,
                           warm_probe_result *res, warm_error *err) {
    memset(res, 0, sizeof *res);
    if (nt < 1) return warm_error_set(err, WARM_ERR_ARG, "probe: no training pairs");
    if (!val) nv = 0;
    int C = m->cfg.n_embd;
    size_t nts = (size_t)nt * C, nvs = (size_t)(nv > 0 ? nv : 1) * C;
    float *tc = malloc(nts * sizeof *tc), *tr = malloc(nts * sizeof *tr);
    float *vc = malloc(nvs * sizeof *vc), *vr = malloc(nvs * sizeof *vr), *w = calloc((size_t)C, sizeof *w);
    float *tm = NULL, *vm = NULL;
    warm_status s = tc && tr && vc && vr && w ? WARM_OK
                                              : warm_error_set(err, WARM_ERR_NOMEM, "probe: out of memory for features");
    double t0 = warm_time_now();
    if (!s) s = warm_rm_features(m, train, tidx, nt, c->batch, tc, tr, c->progress, err);
    if (!s && nv > 0) s = warm_rm_features(m, val, vidx, nv, c->batch, vc, vr, c->progress, err);
    if (!s && c->use_margins) s = margins_of(train, tidx, nt, &tm, err);
    if (!s && c->use_margins && nv > 0) s = margins_of(val, vidx, nv, &vm, err);
    double t1 = warm_time_now();
    if (!s) warm_probe_stats_of(w, tc, tr, tm, nt, C, c->center, &res->train_zero);
    /* Candidates: the grid when there is validation data to choose with, else the single l2. */
    int use_grid = c->n_l2 > 0 && nv > 0, ncand = use_grid ? c->n_l2 : 1;
    if (ncand > WARM_PROBE_MAX_L2) ncand = WARM_PROBE_MAX_L2;
    float *best = malloc((size_t)C * sizeof *best);
    if (!s && !best) s = warm_error_set(err, WARM_ERR_NOMEM, "probe: out of memory");
    for (int k = 0; !s && k < ncand; k++) {
        warm_probe_config ck = *c;
        ck.l2 = use_grid ? c->l2_grid[k] : c->l2;
        memset(w, 0, (size_t)C * sizeof *w);
        s = warm_probe_fit(tc, tr, tm, nt, C, &ck, w, err);
        if (s) break;
        res->tried_l2[k] = ck.l2;
        if (nv > 0) warm_probe_stats_of(w, vc, vr, vm, nv, C, c->center, &res->tried_val[k]);
        res->n_tried = k + 1;
        if (k == 0 || res->tried_val[k].loss < res->val.loss) {
            res->l2 = ck.l2;
            res->val = res->tried_val[k];
            memcpy(best, w, (size_t)C * sizeof *w);
        }
    }
    if (!s) {
        res->feature_seconds = t1 - t0;
        res->fit_seconds = warm_time_now() - t1;
        warm_probe_stats_of(best, tc, tr, tm, nt, C, c->center, &res->train);
        if (nv == 0) memset(&res->val, 0, sizeof res->val);
        res->head_norm = sqrt(dot_d(best, best, C));
        memcpy(warm_model_globals(m, m->params).score, best, (size_t)C * sizeof *best);
    }
    free(best);
    free(tc); free(tr); free(vc); free(vr); free(w); free(tm); free(vm);
    return s;
}
