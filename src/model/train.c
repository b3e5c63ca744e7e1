/*
 * train.c — the batched training path: forward over right-padded (B, T) token batches keeping every
 * activation backward needs, the tied LM head with masked cross-entropy, the reward head with the
 * Bradley-Terry loss, backward through the whole model, and AdamW with global-norm clipping and schedules.
 *
 * Activation arena (sized for Bmax*Tmax rows at init, used with the current B*T rows contiguously):
 *   encoded (N, C); per layer: ln1 (N, C), ln1_mean/rstd (N), qkv (N, 3C), att (B, NH, T, T), atty (N, C),
 *   res2 (N, C), ln2 (N, C), ln2_mean/rstd (N), fch (N, 4C), fch_gelu (N, 4C), res3 (N, C);
 *   lnf (N, C), lnf_mean/rstd (N); logits (N, V) when the LM head is enabled.
 * res2 = residual after attention, res3 = residual after the MLP; the input residual of layer l is res3 of
 * layer l-1 (encoded for l = 0).
 *
 * Dropout masks are counter-based (warm_dropout_keep on a per-site key derived from dropout_key), so the
 * backward pass recomputes them and nothing is stored; the same key gives the same masks on any thread count.
 * Sites: embeddings; per layer attention probabilities, attention output, MLP output.
 *
 * Pruning (the reward step, warm_trainer_set_prune): the BT loss reads one row per sequence, the pooled row
 * rows[b] = b*T + qpos[b], qpos[b] = len_b - 1. In the last layer every other row's output is discarded, so
 * after ln_1 and c_attn (which still run over all N rows: the pooled query attends to every earlier key and
 * value) the layer runs on B compact rows only: attention for the B query rows, c_proj, its dropout and
 * residual, ln_2, the MLP, its dropout and residual, and ln_f. The compact (B, C) rows live in the first B rows
 * of the last layer's activation buffers (att: B*NH rows of T). Dropout masks are taken at the rows' original
 * indices, so a pruned step computes what the full step computes. Backward mirrors it (rows that do not reach
 * the loss have zero gradients in the full step) down to c_attn, whose backward runs over every row again.
 * Bit-identical except for the last layer's c_proj, c_fc and mlp.c_proj weight gradients: those sums over
 * rows run as one block of B rows instead of GEMM depth blocks over N rows with zeros in between, a different
 * rounding (and with B <= 12 rows the GEMM takes its few-row path, which rounds differently from the packed
 * one). Saves about 75% of the last layer (config S: ~18% of the step). warm_trainer_rewards (scoring, the
 * BATCHED engine) prunes the same way: its rewards match the full forward's to float rounding.
 *
 * Shared-prefix pairs (the BT step's default, warm_trainer_set_pair_packing): instead of 2P rows of T, the
 * forward runs one token stream. Pair p contributes prefix + len_a + len_b rows: the longest common prefix of
 * chosen and rejected (at most min(len) - 1 tokens, so both keep a pooled row of their own), the rest of chosen,
 * the rest of rejected; tr->pos holds each row's position id (the continuations both start at prefix) and
 * tr->pairs the spans. Every row-wise op (LayerNorm, linears, GELU, dropout, residuals) runs on the N stream
 * rows unchanged; attention is the tree kernel (warm_attention_tree_*): each sequence attends causally to its
 * own rows only, so rejected never sees chosen and different pairs never see each other (block-diagonal).
 * Prefix rows get gradient from both sequences through the kernel's dk/dv sums and through every row-wise op
 * (one row serves two sequences). Pooled rows are rows[p] = last row of chosen, rows[P + p] = last row of
 * rejected, and pruning applies as above (warm_attention_tree_*_last for the 2P pooled queries). The attention
 * arena (B, NH, T, T) holds the stream's (N, NH, T) probabilities since N <= B*T. Dropout masks are numbered
 * by stream row, so they differ from the padded step's; the LM step and scoring always run padded rows.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "warm/kernels.h"
#include "warm/model.h"

typedef struct {
    float *ln1, *ln1_mean, *ln1_rstd, *qkv, *att, *atty, *res2, *ln2, *ln2_mean, *ln2_rstd, *fch, *fch_gelu, *res3;
} layer_acts;

struct warm_trainer {
    warm_model *m;
    int Bmax, Tmax, with_lm, freeze_body;
    double lm_den;             /* > 0: the LM loss's denominator instead of sum of weights (signed weights) */
    int prune;                 /* the BT step prunes its last layer (default 1) */
    int pairs_packed;          /* the BT step packs shared-prefix pairs (default 1; 0: padded rows) */
    int pruned;                /* the last forward was pruned: lnf and the last layer hold (B, C) rows */
    int B, T;                  /* shape of the last forward: B sequences (2P when packed), width / position bound T */
    int N;                     /* token rows of the last forward: B*T padded, the packed stream's length packed */
    int packed;                /* the last forward ran packed pairs (tree attention over tr->pairs) */
    int P;                     /* pairs of the last packed forward */
    int train;                 /* dropout on in the last forward */
    uint64_t key;              /* dropout key of the last forward */
    int64_t row0;              /* packed row of the whole batch where the last forward's rows start (a part of
                                  a batch, warm_trainer_bt_step_part; 0 otherwise): offsets the dropout masks */
    void (*grad_ready)(void *ctx, size_t from); /* backward: m->grads[from..n_params) are final (or NULL) */
    void *grad_ctx;
    float *arena;
    float *encoded;            /* (N, C) */
    layer_acts *layers;        /* (L) */
    float *lnf, *lnf_mean, *lnf_rstd;
    float *logits;             /* (N, V) or NULL */
    float *row_w;              /* (N) loss weights */
    /* backward scratch */
    float *dres, *dln, *dqkv, *datty, *dfch, *dfch_gelu, *att_scratch;
    float *dres_c;             /* (Bmax, C) residual gradient at the pooled rows (pruned backward) */
    int32_t *tokens;           /* (N) copy of the last forward's tokens */
    int32_t *pos;              /* (N) position id of each row */
    warm_tree_pair *pairs;     /* (Bmax) spans of the last packed forward */
    int32_t *lengths;          /* (Bmax) */
    int32_t *qpos;             /* (Bmax) pooled position len_b - 1 of each sequence */
    int32_t *rows;             /* (Bmax) pooled row b*T + qpos[b] in the (N, C) layout */
};

/* Per-site dropout keys. */
enum { SITE_EMB = 0, SITE_ATT = 1, SITE_ATT_OUT = 2, SITE_MLP_OUT = 3 };
static uint64_t site_key(uint64_t key, int layer, int site) {
    return warm_hash64(key, (uint64_t)(layer + 1) * 4u + (uint64_t)site);
}

/* The key of a site in the last forward. A part of a batch (warm_trainer_bt_step_part) starts at packed row
 * row0 of the whole batch's stream, and its mask elements must be the whole batch's: element i of the part
 * is element i + i0 of the whole (i0 = row0 * C for the (N, C) sites, row0 * NH * T for the attention
 * probabilities, whose element of (row r, head h, key s) is (r*NH + h)*T + s). warm_hash64(key, i0 + i) ==
 * warm_hash64(key + GOLDEN * i0, i) (core.h: the index enters as key + GOLDEN * (idx + 1), modulo 2^64), so
 * the offset folds into the key and no kernel needs to know. */
#define GOLDEN 0x9E3779B97F4A7C15ull
static uint64_t tr_key(const warm_trainer *tr, int layer, int site) {
    const warm_config *c = &tr->m->cfg;
    uint64_t per_row = site == SITE_ATT ? (uint64_t)c->n_head * (uint64_t)tr->T : (uint64_t)c->n_embd;
    return site_key(tr->key, layer, site) + GOLDEN * ((uint64_t)tr->row0 * per_row);
}

warm_status warm_trainer_init(warm_trainer **out, warm_model *m, int Bmax, int Tmax, int with_lm, warm_error *err) {
    *out = NULL;
    const warm_config *c = &m->cfg;
    if (Bmax < 1 || Tmax < 1 || Tmax > c->n_positions)
        return warm_error_set(err, WARM_ERR_ARG, "trainer: batch %d x %d invalid (context is %d)", Bmax, Tmax,
                              c->n_positions);
    warm_trainer *tr = calloc(1, sizeof *tr);
    if (!tr) return warm_error_set(err, WARM_ERR_NOMEM, "trainer: out of memory");
    tr->m = m;
    tr->Bmax = Bmax;
    tr->Tmax = Tmax;
    tr->with_lm = with_lm;
    size_t N = (size_t)Bmax * Tmax, C = (size_t)c->n_embd, L = (size_t)c->n_layer, NH = (size_t)c->n_head;
    size_t att = (size_t)Bmax * NH * Tmax * Tmax;
    size_t per_layer = N * C * 6 + N * 4 + N * 3 * C + att + N * 4 * C * 2;
    size_t total = N * C + L * per_layer + N * C + 2 * N + (with_lm ? N * (size_t)c->vocab_size : 0) + N +
                   N * C * 3 + N * 3 * C + N * 4 * C * 2 + att + (size_t)Bmax * C;
    tr->arena = warm_alloc(total * sizeof(float));
    tr->layers = calloc(L, sizeof *tr->layers);
    tr->tokens = calloc(N, sizeof *tr->tokens);
    tr->lengths = calloc((size_t)Bmax, sizeof *tr->lengths);
    tr->qpos = calloc((size_t)Bmax, sizeof *tr->qpos);
    tr->rows = calloc((size_t)Bmax, sizeof *tr->rows);
    tr->pos = calloc(N, sizeof *tr->pos);
    tr->pairs = calloc((size_t)Bmax, sizeof *tr->pairs);
    tr->prune = 1;
    tr->pairs_packed = 1;
    if (!tr->arena || !tr->layers || !tr->tokens || !tr->lengths || !tr->qpos || !tr->rows || !tr->pos || !tr->pairs) {
        warm_trainer_free(tr);
        return warm_error_set(err, WARM_ERR_NOMEM, "trainer: cannot allocate %.1f MB of activations",
                              (double)total * 4.0 / 1e6);
    }
    float *p = tr->arena;
#define TAKE(ptr, n) do { (ptr) = p; p += (n); } while (0)
    TAKE(tr->encoded, N * C);
    for (size_t l = 0; l < L; l++) {
        layer_acts *a = &tr->layers[l];
        TAKE(a->ln1, N * C); TAKE(a->ln1_mean, N); TAKE(a->ln1_rstd, N); TAKE(a->qkv, N * 3 * C);
        TAKE(a->att, att); TAKE(a->atty, N * C); TAKE(a->res2, N * C); TAKE(a->ln2, N * C);
        TAKE(a->ln2_mean, N); TAKE(a->ln2_rstd, N); TAKE(a->fch, N * 4 * C); TAKE(a->fch_gelu, N * 4 * C);
        TAKE(a->res3, N * C);
    }
    TAKE(tr->lnf, N * C); TAKE(tr->lnf_mean, N); TAKE(tr->lnf_rstd, N);
    if (with_lm) TAKE(tr->logits, N * (size_t)c->vocab_size);
    TAKE(tr->row_w, N);
    TAKE(tr->dres, N * C); TAKE(tr->dln, N * C); TAKE(tr->datty, N * C); TAKE(tr->dqkv, N * 3 * C);
    TAKE(tr->dfch, N * 4 * C); TAKE(tr->dfch_gelu, N * 4 * C); TAKE(tr->att_scratch, att);
    TAKE(tr->dres_c, (size_t)Bmax * C);
#undef TAKE
    *out = tr;
    return WARM_OK;
}

void warm_trainer_free(warm_trainer *tr) {
    if (!tr) return;
    warm_free(tr->arena);
    free(tr->layers);
    free(tr->tokens);
    free(tr->lengths);
    free(tr->qpos);
    free(tr->rows);
    free(tr->pos);
    free(tr->pairs);
    free(tr);
}

void warm_trainer_set_freeze_body(warm_trainer *tr, int freeze) { tr->freeze_body = freeze; }

void warm_trainer_set_prune(warm_trainer *tr, int on) { tr->prune = on != 0; }

void warm_trainer_set_lm_denominator(warm_trainer *tr, double den) { tr->lm_den = den > 0 ? den : 0.0; }

void warm_trainer_set_pair_packing(warm_trainer *tr, int on) { tr->pairs_packed = on != 0; }

void warm_trainer_set_grad_ready(warm_trainer *tr, void (*fn)(void *ctx, size_t from), void *ctx) {
    tr->grad_ready = fn;
    tr->grad_ctx = ctx;
}

static void grad_ready(const warm_trainer *tr, const float *first_final) {
    if (tr->grad_ready) tr->grad_ready(tr->grad_ctx, (size_t)(first_final - tr->m->grads));
}

/* ---- forward ---- */

/* out (N, C) = wte[tokens] + wpe[pos]. */
static void embed_forward(float *out, const int32_t *tokens, const int32_t *pos, const float *wte, const float *wpe,
                          int N, int C) {
#pragma omp parallel for
    for (int bt = 0; bt < N; bt++) {
        const float *te = wte + (size_t)tokens[bt] * C, *pe = wpe + (size_t)pos[bt] * C;
        float *o = out + (size_t)bt * C;
        for (int i = 0; i < C; i++) o[i] = te[i] + pe[i];
    }
}

static void residual_forward(float *out, const float *a, const float *b, size_t n) {
#pragma omp parallel for
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/* out (R, C) += rows rows[r] of full (N, C): the residual input of gathered rows. */
static void gather_add(float *out, const float *full, const int32_t *rows, int R, int C) {
#pragma omp parallel for if ((size_t)R * (size_t)C > 65536)
    for (int r = 0; r < R; r++) {
        const float *f = full + (size_t)rows[r] * C;
        float *o = out + (size_t)r * C;
        for (int i = 0; i < C; i++) o[i] = o[i] + f[i];
    }
}

/* MLP block of layer l over R rows of res2: res3 = res2 + dropout(c_proj(gelu(c_fc(ln_2(res2))))). */
static void mlp_forward(warm_trainer *tr, int l, int R, const int32_t *rows, float pr) {
    warm_model *m = tr->m;
    int C = m->cfg.n_embd;
    warm_layer_view w = warm_model_layer(m, m->params, l);
    layer_acts *a = &tr->layers[l];
    warm_layernorm_forward(a->ln2, a->ln2_mean, a->ln2_rstd, a->res2, w.ln2w, w.ln2b, R, C);
    warm_linear_forward(a->fch, a->ln2, w.fcw, w.fcb, R, C, 4 * C);
    warm_gelu_forward(a->fch_gelu, a->fch, (size_t)R * 4 * C);
    warm_linear_forward(a->res3, a->fch_gelu, w.fcprojw, w.fcprojb, R, 4 * C, C);
    if (rows) {
        warm_dropout_forward_rows(a->res3, rows, R, C, pr, tr_key(tr, l, SITE_MLP_OUT));
        residual_forward(a->res3, a->res3, a->res2, (size_t)R * C);
    } else { /* dropout and residual add in one pass (the same bits) */
        warm_dropout_residual_forward(a->res3, a->res3, a->res2, (size_t)R * C, pr, tr_key(tr, l, SITE_MLP_OUT));
    }
}

/* Layer l over all N rows; res (N, C) is its input residual. */
static void layer_forward(warm_trainer *tr, int l, const float *res, float pa, float pr) {
    warm_model *m = tr->m;
    int B = tr->B, T = tr->T, C = m->cfg.n_embd, NH = m->cfg.n_head, N = tr->N;
    warm_layer_view w = warm_model_layer(m, m->params, l);
    layer_acts *a = &tr->layers[l];
    /* attention block: res2 = res + dropout(c_proj(attn(ln_1(res)))) */
    warm_layernorm_forward(a->ln1, a->ln1_mean, a->ln1_rstd, res, w.ln1w, w.ln1b, N, C);
    warm_linear_forward(a->qkv, a->ln1, w.qkvw, w.qkvb, N, C, 3 * C);
    uint64_t ka = tr_key(tr, l, SITE_ATT);
    if (tr->packed) warm_attention_tree_forward(a->atty, a->att, a->qkv, tr->pairs, tr->P, T, C, NH, pa, ka);
    else warm_attention_forward(a->atty, a->att, a->qkv, B, T, C, NH, pa, ka);
    warm_linear_forward(a->res2, a->atty, w.attprojw, w.attprojb, N, C, C);
    warm_dropout_residual_forward(a->res2, a->res2, res, (size_t)N * C, pr, tr_key(tr, l, SITE_ATT_OUT));
    mlp_forward(tr, l, N, NULL, pr);
}

/* The pruned last layer (see "Pruning" at the top): keys and values of every row, the rest on the B pooled rows. */
static void layer_forward_pruned(warm_trainer *tr, int l, const float *res, float pa, float pr) {
    warm_model *m = tr->m;
    int B = tr->B, T = tr->T, C = m->cfg.n_embd, NH = m->cfg.n_head, N = tr->N;
    warm_layer_view w = warm_model_layer(m, m->params, l);
    layer_acts *a = &tr->layers[l];
    warm_layernorm_forward(a->ln1, a->ln1_mean, a->ln1_rstd, res, w.ln1w, w.ln1b, N, C);
    warm_linear_forward(a->qkv, a->ln1, w.qkvw, w.qkvb, N, C, 3 * C);
    /* From here on compact rows: row b of atty, res2, ... is sequence b's pooled row tr->rows[b]. */
    uint64_t ka = tr_key(tr, l, SITE_ATT);
    if (tr->packed) warm_attention_tree_forward_last(a->atty, a->att, a->qkv, tr->pairs, tr->P, T, C, NH, pa, ka);
    else warm_attention_forward_rows(a->atty, a->att, a->qkv, tr->qpos, B, T, C, NH, pa, ka);
    warm_linear_forward(a->res2, a->atty, w.attprojw, w.attprojb, B, C, C);
    warm_dropout_forward_rows(a->res2, tr->rows, B, C, pr, tr_key(tr, l, SITE_ATT_OUT));
    gather_add(a->res2, res, tr->rows, B, C);
    mlp_forward(tr, l, B, tr->rows, pr);
}

/* The rows of a right-padded forward: tokens (B, T), positions t of each row, pooled rows b*T + len_b - 1. */
static void setup_padded(warm_trainer *tr, const int32_t *tokens, const int32_t *lengths, int B, int T) {
    WARM_CHECK(B >= 1 && B <= tr->Bmax && T >= 1 && T <= tr->Tmax, "batch %d x %d exceeds %d x %d", B, T, tr->Bmax,
               tr->Tmax);
    int N = B * T;
    for (int b = 0; b < B; b++)
        WARM_CHECK(lengths[b] >= 1 && lengths[b] <= T, "row %d: length %d not in [1, %d]", b, lengths[b], T);
    tr->B = B;
    tr->T = T;
    tr->N = N;
    tr->packed = 0;
    tr->P = 0;
    tr->row0 = 0;
    memcpy(tr->tokens, tokens, (size_t)N * sizeof *tokens);
    memcpy(tr->lengths, lengths, (size_t)B * sizeof *lengths);
    for (int i = 0; i < N; i++) tr->pos[i] = i % T;
    for (int b = 0; b < B; b++) {
        tr->qpos[b] = lengths[b] - 1;
        tr->rows[b] = b * T + tr->qpos[b];
    }
}

/*
 * The rows of a packed pair forward (see "Shared-prefix pairs" at the top): P pairs of right-padded rows (chosen
 * b = p, rejected b = P + p, each (T) with lengths) become one stream of sum_p (prefix + len_a + len_b) rows.
 * The prefix is the longest common token prefix, capped at min(len) - 1 so each continuation keeps a token.
 * Only pairs [p0, p1) are set up (as pairs 0 .. p1-p0-1); tr->row0 counts the stream rows of the pairs before
 * p0, so their dropout masks are the whole batch's.
 */
static void setup_packed(warm_trainer *tr, const int32_t *tokens, const int32_t *lengths, int P, int T, int p0,
                         int p1) {
    int Ps = p1 - p0, B = 2 * Ps;
    WARM_CHECK(0 <= p0 && p0 < p1 && p1 <= P && B <= tr->Bmax && T >= 1 && T <= tr->Tmax,
               "pairs [%d, %d) of %d x %d exceed %d x %d", p0, p1, P, T, tr->Bmax, tr->Tmax);
    int64_t row0 = 0;
    int32_t n = 0;
    for (int p = 0; p < p1; p++) {
        const int32_t *ra = tokens + (size_t)p * T, *rb = tokens + (size_t)(P + p) * T;
        int la = lengths[p], lb = lengths[P + p], cap = (la < lb ? la : lb) - 1, k = 0;
        WARM_CHECK(la >= 1 && la <= T && lb >= 1 && lb <= T, "pair %d: lengths %d, %d not in [1, %d]", p, la, lb, T);
        while (k < cap && ra[k] == rb[k]) k++;
        if (p < p0) {
            row0 += la + lb - k;
            continue;
        }
        int q = p - p0;
        warm_tree_pair *pr = &tr->pairs[q];
        *pr = (warm_tree_pair){n, k, la - k, lb - k};
        /* N <= sum_p (la + lb) <= B*T <= Bmax*Tmax: the stream always fits the arena */
        memcpy(tr->tokens + n, ra, (size_t)la * sizeof *ra);
        memcpy(tr->tokens + n + la, rb + k, (size_t)(lb - k) * sizeof *rb);
        for (int t = 0; t < la; t++) tr->pos[n + t] = t;
        for (int t = k; t < lb; t++) tr->pos[n + la + t - k] = t;
        tr->qpos[q] = la - 1;
        tr->qpos[Ps + q] = lb - 1;
        tr->rows[q] = n + la - 1;
        tr->rows[Ps + q] = n + la + lb - k - 1;
        tr->lengths[q] = la;
        tr->lengths[Ps + q] = lb;
        n += la + lb - k;
    }
    tr->B = B;
    tr->T = T;
    tr->N = n;
    tr->packed = 1;
    tr->P = Ps;
    tr->row0 = row0;
}

/* Forward over the rows set up by setup_padded / setup_packed; prune: run the last layer and ln_f on the pooled
 * rows only (lnf is then (B, C)). */
static const float *forward(warm_trainer *tr, int train, uint64_t dropout_key, int prune) {
    warm_model *m = tr->m;
    const warm_config *c = &m->cfg;
    int C = c->n_embd, N = tr->N, B = tr->B, L = c->n_layer;
    for (int i = 0; i < N; i++)
        WARM_CHECK(tr->tokens[i] >= 0 && tr->tokens[i] < c->vocab_size, "token %d at %d outside vocabulary",
                   tr->tokens[i], i);
    tr->train = train;
    tr->key = dropout_key;
    tr->pruned = prune && L > 0;
    float pe = train ? c->embd_pdrop : 0.0f, pa = train ? c->attn_pdrop : 0.0f, pr = train ? c->resid_pdrop : 0.0f;

    warm_global_view g = warm_model_globals(m, m->params);
    embed_forward(tr->encoded, tr->tokens, tr->pos, g.wte, g.wpe, N, C);
    warm_dropout_forward(tr->encoded, (size_t)N * C, pe, tr_key(tr, -1, SITE_EMB));
    const float *res = tr->encoded;
    for (int l = 0; l < L; l++) {
        if (tr->pruned && l == L - 1) layer_forward_pruned(tr, l, res, pa, pr);
        else layer_forward(tr, l, res, pa, pr);
        res = tr->layers[l].res3;
    }
    warm_layernorm_forward(tr->lnf, tr->lnf_mean, tr->lnf_rstd, res, g.lnfw, g.lnfb, tr->pruned ? B : N, C);
    return tr->lnf;
}

const float *warm_trainer_forward(warm_trainer *tr, const int32_t *tokens, const int32_t *lengths, int B, int T,
                                  int train, uint64_t dropout_key) {
    setup_padded(tr, tokens, lengths, B, T);
    return forward(tr, train, dropout_key, 0);
}

/* ---- backward ---- */

/* Linear backward that OVERWRITES dinp = dout W^T (GEMM with beta = 0: no zeroing pass over the scratch)
 * and accumulates the weight and bias gradients. */
static void linear_backward_set(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                                const float *weight, int N, int C, int OC) {
    warm_sgemm(0, 1, N, C, OC, 1.0f, dout, OC, weight, OC, 0.0f, dinp, C);
    warm_linear_backward(NULL, dweight, dbias, dout, inp, weight, N, C, OC);
}

/* The gradient entering a residual branch from dres (R, C): dres itself without dropout, else a masked copy
 * in scratch (masks of rows[r] when the rows are gathered, rows != NULL). */
static const float *branch_grad(warm_trainer *tr, const float *dres, int R, const int32_t *rows, float p,
                                uint64_t key) {
    if (p <= 0.0f) return dres;
    int C = tr->m->cfg.n_embd;
    size_t n = (size_t)R * C;
    if (rows) {
        memcpy(tr->dln, dres, n * sizeof(float));
        warm_dropout_backward_rows(tr->dln, rows, R, C, p, key);
    } else {
        warm_dropout_backward_to(tr->dln, dres, n, p, key); /* copy and mask in one pass */
    }
    return tr->dln;
}

/* MLP block of layer l over R rows: dres (R, C), the gradient at res3, flows through (residual) and gains the
 * branch's gradient at res2. */
static void mlp_backward(warm_trainer *tr, int l, float *dres, int R, const int32_t *rows, float pr) {
    warm_model *m = tr->m;
    int C = m->cfg.n_embd;
    warm_layer_view w = warm_model_layer(m, m->params, l), dw = warm_model_layer(m, m->grads, l);
    layer_acts *a = &tr->layers[l];
    const float *db = branch_grad(tr, dres, R, rows, pr, tr_key(tr, l, SITE_MLP_OUT));
    linear_backward_set(tr->dfch_gelu, dw.fcprojw, dw.fcprojb, db, a->fch_gelu, w.fcprojw, R, 4 * C, C);
    warm_gelu_backward_set(tr->dfch, a->fch, tr->dfch_gelu, (size_t)R * 4 * C);
    linear_backward_set(tr->datty, dw.fcw, dw.fcb, tr->dfch, a->ln2, w.fcw, R, C, 4 * C);
    warm_layernorm_backward(dres, dw.ln2w, dw.ln2b, tr->datty, a->res2, w.ln2w, a->ln2_mean, a->ln2_rstd, R, C);
}

/* From dqkv (N, 3C) through c_attn and ln_1 of layer l into dres (N, C); res is the layer's input residual. */
static void qkv_backward(warm_trainer *tr, int l, const float *res) {
    warm_model *m = tr->m;
    int C = m->cfg.n_embd, N = tr->N;
    warm_layer_view w = warm_model_layer(m, m->params, l), dw = warm_model_layer(m, m->grads, l);
    layer_acts *a = &tr->layers[l];
    linear_backward_set(tr->dln, dw.qkvw, dw.qkvb, tr->dqkv, a->ln1, w.qkvw, N, C, 3 * C);
    warm_layernorm_backward(tr->dres, dw.ln1w, dw.ln1b, tr->dln, res, w.ln1w, a->ln1_mean, a->ln1_rstd, N, C);
}

/* Layer l over all rows: tr->dres (N, C) from the gradient at res3 to the gradient at the layer's input. */
/* Floats of tr->att_scratch (the attention backward's workspace). */
static size_t att_scratch_floats(const warm_trainer *tr) {
    return (size_t)tr->Bmax * (size_t)tr->m->cfg.n_head * (size_t)tr->Tmax * (size_t)tr->Tmax;
}

static void layer_backward(warm_trainer *tr, int l, const float *res, float pa, float pr) {
    warm_model *m = tr->m;
    int B = tr->B, T = tr->T, C = m->cfg.n_embd, NH = m->cfg.n_head, N = tr->N;
    warm_layer_view w = warm_model_layer(m, m->params, l), dw = warm_model_layer(m, m->grads, l);
    layer_acts *a = &tr->layers[l];
    mlp_backward(tr, l, tr->dres, N, NULL, pr);
    const float *db = branch_grad(tr, tr->dres, N, NULL, pr, tr_key(tr, l, SITE_ATT_OUT));
    linear_backward_set(tr->datty, dw.attprojw, dw.attprojb, db, a->atty, w.attprojw, N, C, C);
    uint64_t ka = tr_key(tr, l, SITE_ATT);
    if (tr->packed) /* every row belongs to a pair and is overwritten */
        warm_attention_tree_backward(tr->dqkv, tr->datty, a->qkv, a->att, tr->pairs, tr->P, T, C, NH, pa, ka,
                                     tr->att_scratch, att_scratch_floats(tr));
    else
        warm_attention_backward_set(tr->dqkv, tr->datty, a->qkv, a->att, B, T, C, NH, pa, ka, tr->att_scratch);
    qkv_backward(tr, l, res);
}

/* The pruned last layer: tr->dres_c (B, C) at the pooled rows in, tr->dres (N, C) at the layer's input out. */
static void layer_backward_pruned(warm_trainer *tr, int l, const float *res, float pa, float pr) {
    warm_model *m = tr->m;
    int B = tr->B, T = tr->T, C = m->cfg.n_embd, NH = m->cfg.n_head, N = tr->N;
    warm_layer_view w = warm_model_layer(m, m->params, l), dw = warm_model_layer(m, m->grads, l);
    layer_acts *a = &tr->layers[l];
    mlp_backward(tr, l, tr->dres_c, B, tr->rows, pr);
    const float *db = branch_grad(tr, tr->dres_c, B, tr->rows, pr, tr_key(tr, l, SITE_ATT_OUT));
    linear_backward_set(tr->datty, dw.attprojw, dw.attprojb, db, a->atty, w.attprojw, B, C, C);
    uint64_t ka = tr_key(tr, l, SITE_ATT);
    if (tr->packed) { /* overwrites every row */
        warm_attention_tree_backward_last(tr->dqkv, tr->datty, a->qkv, a->att, tr->pairs, tr->P, T, C, NH, pa, ka,
                                          tr->att_scratch, att_scratch_floats(tr));
    } else {
        memset(tr->dqkv, 0, (size_t)N * 3 * C * sizeof(float));
        warm_attention_backward_rows(tr->dqkv, tr->datty, a->qkv, a->att, tr->qpos, B, T, C, NH, pa, ka);
    }
    /* The skip path: the gradient at the layer's input is zero but at the pooled rows, plus ln_1's. */
    memset(tr->dres, 0, (size_t)N * C * sizeof(float));
    for (int b = 0; b < B; b++)
        memcpy(tr->dres + (size_t)tr->rows[b] * C, tr->dres_c + (size_t)b * C, (size_t)C * sizeof(float));
    qkv_backward(tr, l, res);
}

/* Backward from dlnf (in tr->dln: (N, C), or (B, C) after a pruned forward) through ln_f and every layer into
 * m->grads. */
static void body_backward(warm_trainer *tr) {
    warm_model *m = tr->m;
    const warm_config *c = &m->cfg;
    int B = tr->B, C = c->n_embd, N = tr->N, L = c->n_layer;
    float pe = tr->train ? c->embd_pdrop : 0.0f, pa = tr->train ? c->attn_pdrop : 0.0f;
    float pr = tr->train ? c->resid_pdrop : 0.0f;
    warm_global_view g = warm_model_globals(m, m->params), dg = warm_model_globals(m, m->grads);
    const float *last = L > 0 ? tr->layers[L - 1].res3 : tr->encoded;
    int R = tr->pruned ? B : N;
    float *dtop = tr->pruned ? tr->dres_c : tr->dres;
    memset(dtop, 0, (size_t)R * C * sizeof(float));
    warm_layernorm_backward(dtop, dg.lnfw, dg.lnfb, tr->dln, last, g.lnfw, tr->lnf_mean, tr->lnf_rstd, R, C);
    grad_ready(tr, dg.lnfw); /* ln_f and score (the arena's last tensors) are final */
    for (int l = L - 1; l >= 0; l--) {
        const float *res = l == 0 ? tr->encoded : tr->layers[l - 1].res3;
        if (tr->pruned && l == L - 1) layer_backward_pruned(tr, l, res, pa, pr);
        else layer_backward(tr, l, res, pa, pr);
        grad_ready(tr, warm_model_layer(m, m->grads, l).ln1w); /* ln_1.weight starts layer l's tensors */
    }
    /* embeddings: rows scattered into wte by token id, positions into wpe; fixed row order (deterministic). */
    size_t NC = (size_t)N * C;
    warm_dropout_backward(tr->dres, NC, pe, tr_key(tr, -1, SITE_EMB));
    /* Threads take strips of 16 columns (one cache line of each row); every element still sums its rows in
     * ascending order, so the result does not depend on the split. */
    enum { STRIP = 16 };
    int nstrips = (C + STRIP - 1) / STRIP;
#pragma omp parallel for schedule(static)
    for (int sidx = 0; sidx < nstrips; sidx++) {
        int i0 = sidx * STRIP, i1 = i0 + STRIP < C ? i0 + STRIP : C;
        for (int bt = 0; bt < N; bt++) {
            const float *d = tr->dres + (size_t)bt * C;
            float *wt = dg.wte + (size_t)tr->tokens[bt] * C, *wp = dg.wpe + (size_t)tr->pos[bt] * C;
            for (int i = i0; i < i1; i++) {
                wt[i] += d[i];
                wp[i] += d[i];
            }
        }
    }
    grad_ready(tr, m->grads);
}

/* ---- LM head ---- */

float warm_trainer_lm_step(warm_trainer *tr, const int32_t *tokens, const int32_t *lengths, const int32_t *targets,
                           const float *loss_mask, int B, int T, int train, uint64_t dropout_key, int backward) {
    WARM_CHECK(tr->with_lm, "trainer was created without the LM head");
    warm_model *m = tr->m;
    int C = m->cfg.n_embd, V = m->cfg.vocab_size, N = B * T;
    if (backward) WARM_CHECK(m->grads != NULL, "warm_model_alloc_train was not called");
    warm_trainer_forward(tr, tokens, lengths, B, T, train, dropout_key);
    warm_global_view g = warm_model_globals(m, m->params);
    warm_sgemm(0, 1, N, V, C, 1.0f, tr->lnf, C, g.wte, C, 0.0f, tr->logits, V);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            int i = b * T + t;
            tr->row_w[i] = t < lengths[b] ? (loss_mask ? loss_mask[i] : 1.0f) : 0.0f;
        }
    /* In place: logits become d loss / d logits when backward (they are not needed afterwards). */
    float loss = tr->lm_den > 0
                     ? warm_crossentropy_forward_backward_den(backward ? tr->logits : NULL, tr->logits, targets,
                                                              tr->row_w, N, V, tr->lm_den)
                     : warm_crossentropy_forward_backward(backward ? tr->logits : NULL, tr->logits, targets,
                                                          tr->row_w, N, V);
    if (!backward) return loss;
    warm_global_view dg = warm_model_globals(m, m->grads);
    memset(tr->dln, 0, (size_t)N * C * sizeof(float));
    warm_sgemm(0, 0, N, C, V, 1.0f, tr->logits, V, g.wte, C, 1.0f, tr->dln, C);
    warm_sgemm(1, 0, V, C, N, 1.0f, tr->logits, V, tr->lnf, C, 1.0f, dg.wte, C);
    if (!tr->freeze_body) body_backward(tr);
    return loss;
}

/* ---- reward head ---- */

static float dotf(const float *a, const float *b, int n) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return (float)s;
}

/* Row of sequence b's pooled token in lnf: b after a pruned forward (lnf is (B, C)), else tr->rows[b]. */
static size_t pooled_row(const warm_trainer *tr, int b) { return tr->pruned ? (size_t)b : (size_t)tr->rows[b]; }

static void pooled_rewards(const warm_trainer *tr, int B, float *out) {
    warm_global_view g = warm_model_globals(tr->m, tr->m->params);
    int C = tr->m->cfg.n_embd;
    for (int b = 0; b < B; b++) out[b] = dotf(g.score, tr->lnf + pooled_row(tr, b) * C, C);
}

static double log1p_exp(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }

/* Forward over the rows set up for pairs [p0, p1) of a P-pair batch (tr->P = p1 - p0 of them), the BT loss
 * terms of those pairs divided by P (so a partition of [0, P) sums to the whole batch's gradient), backward. */
static warm_bt_stats bt_loss_backward(warm_trainer *tr, int P, int p0, int p1, const float *margins, float center,
                                      int train, uint64_t dropout_key, int backward, float *rewards) {
    warm_model *m = tr->m;
    int C = m->cfg.n_embd, Ps = p1 - p0, B = 2 * Ps;
    if (backward) WARM_CHECK(m->grads != NULL, "warm_model_alloc_train was not called");
    forward(tr, train, dropout_key, tr->prune);
    float *r = tr->row_w; /* (2Ps) rewards live in the row-weight scratch */
    pooled_rewards(tr, B, r);
    warm_bt_stats st = {0, 0, 0, 0, INFINITY, -INFINITY};
    double loss = 0, acc = 0, margin = 0, rsum = 0;
    float dr[2 * 4096];
    WARM_CHECK(B <= 2 * 4096, "too many pairs in one step");
    for (int p = 0; p < Ps; p++) {
        double d = (double)r[p] - (double)r[Ps + p] - (margins ? (double)margins[p0 + p] : 0.0);
        double s = (double)r[p] + (double)r[Ps + p];
        loss += log1p_exp(-d) + (double)center * s * s;
        acc += r[p] > r[Ps + p];
        margin += (double)r[p] - (double)r[Ps + p];
        /* d/dd of -log sigma(d) = sigma(d) - 1; centring adds 2*center*s to both rewards. */
        double g = (sigmoid(d) - 1.0) / P, gc = 2.0 * (double)center * s / P;
        dr[p] = (float)(g + gc);
        dr[Ps + p] = (float)(-g + gc);
    }
    for (int b = 0; b < B; b++) {
        rsum += (double)r[b];
        st.reward_min = fminf(st.reward_min, r[b]);
        st.reward_max = fmaxf(st.reward_max, r[b]);
    }
    st.loss = (float)(loss / Ps);
    st.accuracy = (float)(acc / Ps);
    st.margin = (float)(margin / Ps);
    st.reward_mean = (float)(rsum / B);
    if (rewards) memcpy(rewards, r, (size_t)B * sizeof(float));
    if (!backward) return st;
    warm_global_view g = warm_model_globals(m, m->params), dg = warm_model_globals(m, m->grads);
    size_t NC = (size_t)(tr->pruned ? B : tr->N) * C; /* dlnf: (B, C) after a pruned forward, else (N, C) */
    memset(tr->dln, 0, NC * sizeof(float));
    for (int b = 0; b < B; b++) {
        size_t row = pooled_row(tr, b) * C;
        for (int i = 0; i < C; i++) {
            dg.score[i] += dr[b] * tr->lnf[row + i];
            tr->dln[row + i] += dr[b] * g.score[i];
        }
    }
    if (!tr->freeze_body) body_backward(tr);
    return st;
}

warm_bt_stats warm_trainer_bt_step(warm_trainer *tr, const int32_t *tokens, const int32_t *lengths, int P, int T,
                                   const float *margins, float center, int train, uint64_t dropout_key, int backward,
                                   float *rewards) {
    if (tr->pairs_packed)
        return warm_trainer_bt_step_part(tr, tokens, lengths, P, T, 0, P, margins, center, train, dropout_key,
                                         backward, rewards);
    setup_padded(tr, tokens, lengths, 2 * P, T);
    return bt_loss_backward(tr, P, 0, P, margins, center, train, dropout_key, backward, rewards);
}

warm_bt_stats warm_trainer_bt_step_part(warm_trainer *tr, const int32_t *tokens, const int32_t *lengths, int P, int T,
                                        int p0, int p1, const float *margins, float center, int train,
                                        uint64_t dropout_key, int backward, float *rewards) {
    WARM_CHECK(tr->pairs_packed, "a part of a batch needs pair packing");
    WARM_CHECK(0 <= p0 && p0 <= p1 && p1 <= P, "pairs [%d, %d) of %d", p0, p1, P);
    if (p0 == p1) {
        warm_bt_stats none = {0, 0, 0, 0, INFINITY, -INFINITY};
        return none;
    }
    setup_packed(tr, tokens, lengths, P, T, p0, p1);
    return bt_loss_backward(tr, P, p0, p1, margins, center, train, dropout_key, backward, rewards);
}

void warm_trainer_pair_hidden(warm_trainer *tr, const int32_t *tokens, const int32_t *lengths, int P, int T,
                              float *out) {
    if (tr->pairs_packed) setup_packed(tr, tokens, lengths, P, T, 0, P);
    else setup_padded(tr, tokens, lengths, 2 * P, T);
    forward(tr, 0, 0, 1);
    int C = tr->m->cfg.n_embd;
    for (int b = 0; b < 2 * P; b++)
        memcpy(out + (size_t)b * C, tr->lnf + pooled_row(tr, b) * C, (size_t)C * sizeof(float));
}

/* Scoring reads one row per sequence, so the last layer is pruned as in the BT step (see "Pruning"). */
void warm_trainer_rewards(warm_trainer *tr, const int32_t *tokens, const int32_t *lengths, int B, int T, float *out) {
    setup_padded(tr, tokens, lengths, B, T);
    forward(tr, 0, 0, 1);
    pooled_rewards(tr, B, out);
}

/* ---- optimiser ---- */

warm_adamw_config warm_adamw_default(float lr) {
    warm_adamw_config c = {lr, 0.9f, 0.999f, 1e-8f, 0.0f, 1.0f, 0, 0, 0, 0.0f};
    return c;
}

float warm_lr_at(const warm_adamw_config *c, int64_t s) {
    if (c->warmup_steps > 0 && s < c->warmup_steps) return c->lr * (float)(s + 1) / (float)c->warmup_steps;
    if (c->schedule == 0 || c->total_steps <= c->warmup_steps) return c->lr;
    double frac = (double)(s - c->warmup_steps) / (double)(c->total_steps - c->warmup_steps);
    if (frac > 1.0) frac = 1.0;
    double lo = (double)c->lr * (double)c->min_lr_frac, hi = (double)c->lr;
    if (c->schedule == 1) return (float)(lo + 0.5 * (hi - lo) * (1.0 + cos(WARM_PI * frac)));
    return (float)(hi + (lo - hi) * frac);
}

void warm_model_zero_grad(warm_model *m) {
    if (m->grads) memset(m->grads, 0, m->n_params * sizeof(float));
}

float warm_model_adamw_step(warm_model *m, const warm_adamw_config *c, int head_only) {
    WARM_CHECK(m->grads && m->m && m->v, "warm_model_alloc_train was not called");
    int first = head_only ? m->n_tensors - 1 : 0;
    double ss = 0.0;
    for (int i = first; i < m->n_tensors; i++) ss += warm_sumsq(m->grads + m->tensors[i].offset, m->tensors[i].numel);
    float norm = (float)sqrt(ss);
    /* torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when that is below 1. */
    float scale = 1.0f;
    if (c->grad_clip > 0.0f) {
        float coef = c->grad_clip / (norm + 1e-6f);
        if (coef < 1.0f) scale = coef;
    }
    float lr = warm_lr_at(c, m->step);
    m->step++;
    float bc1 = 1.0f - (float)pow((double)c->beta1, (double)m->step);
    float bc2 = 1.0f - (float)pow((double)c->beta2, (double)m->step);
    /* Runs of adjacent tensors with the same decay setting are one call (the update is elementwise), and each
     * call zeroes the gradients it has read; whatever no run covered is zeroed afterwards. */
    size_t covered = 0;
    for (int i = first; i < m->n_tensors;) {
        const warm_tensor *t = &m->tensors[i];
        size_t off = t->offset, n = t->numel;
        int j = i + 1;
        while (j < m->n_tensors && m->tensors[j].decay == t->decay && m->tensors[j].offset == off + n)
            n += m->tensors[j++].numel;
        warm_adamw_update_zero(m->params + off, m->grads + off, m->m + off, m->v + off, n, lr, c->beta1, c->beta2,
                               c->eps, t->decay ? c->weight_decay : 0.0f, bc1, bc2, scale);
        covered += n;
        i = j;
    }
    if (first != 0 || covered != m->n_params) warm_model_zero_grad(m);
    return norm;
}
