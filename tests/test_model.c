/*
 * test_model.c — the model's own invariants (the PyTorch golden comparison is in test_golden.c):
 * deterministic init, finite-difference checks of both losses through the whole model (dropout on),
 * decode path == training forward at every position (with and without a shared prefix), padded ==
 * unpadded rewards, prefix-sharing scorer == trainer rewards, checkpoint round trips, exact resume,
 * frozen-body training, thread-count bit identity, and the sampler.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "test_util.h"
#include "warm/kernels.h"
#include "warm/model.h"

static void make_model(warm_model *m, int V, int P, int L, int NH, int C, float drop, uint64_t seed, float scale) {
    warm_config cfg = warm_config_default(V, P, L, NH, C);
    cfg.embd_pdrop = cfg.attn_pdrop = cfg.resid_pdrop = drop;
    warm_error err;
    assert_int_equal(warm_model_init(m, &cfg, &err), WARM_OK);
    warm_model_init_weights(m, seed);
    /* Larger, non-trivial weights (LayerNorm and biases too) so every path carries signal. */
    warm_rng r;
    warm_rng_seed(&r, seed ^ 0xABCDu);
    for (size_t i = 0; i < m->n_params; i++) m->params[i] += scale * warm_rng_normal(&r);
}

static void random_tokens(int32_t *t, size_t n, int V, uint64_t seed) {
    warm_rng r;
    warm_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) t[i] = (int32_t)warm_rng_below(&r, (uint32_t)V);
}

static void test_init_deterministic(void **state) {
    (void)state;
    warm_model a, b, c;
    make_model(&a, 97, 16, 2, 2, 16, 0.1f, 7, 0.0f);
    make_model(&b, 97, 16, 2, 2, 16, 0.1f, 7, 0.0f);
    make_model(&c, 97, 16, 2, 2, 16, 0.1f, 8, 0.0f);
    assert_memory_equal(a.params, b.params, a.n_params * sizeof(float));
    assert_true(memcmp(a.params, c.params, a.n_params * sizeof(float)) != 0);
    /* wte ~ N(0, 0.02): 97*16 = 1552 draws, sample std within 10 % of 0.02 (5 sigma is ~9 %). */
    const warm_tensor *t = warm_model_find(&a, "transformer.wte.weight");
    double ss = 0;
    for (size_t i = 0; i < t->numel; i++) ss += (double)a.params[t->offset + i] * (double)a.params[t->offset + i];
    double sd = sqrt(ss / (double)t->numel);
    assert_true(fabs(sd - 0.02) < 0.002);
    const warm_tensor *ln = warm_model_find(&a, "transformer.h.1.ln_2.weight");
    for (size_t i = 0; i < ln->numel; i++) assert_true(a.params[ln->offset + i] == 1.0f);
    assert_int_equal(a.n_tensors, 2 + 12 * 2 + 3);
    assert_non_null(warm_model_find(&a, "score.weight"));
    warm_model_free(&a);
    warm_model_free(&b);
    warm_model_free(&c);
}

/* Loss of the current params for the FD check: LM (which=0) or BT (which=1), dropout on with a fixed key. */
typedef struct {
    warm_trainer *tr;
    int32_t tok[4 * 7], tgt[4 * 7], len[4];
    float mask[4 * 7], margins[2];
} fd_case;

static float fd_loss(fd_case *k, int which, int backward) {
    if (which == 0)
        return warm_trainer_lm_step(k->tr, k->tok, k->len, k->tgt, k->mask, 4, 7, 1, 99, backward);
    return warm_trainer_bt_step(k->tr, k->tok, k->len, 2, 7, k->margins, 0.05f, 1, 99, backward, NULL).loss;
}

static void check_fd(int which) {
    warm_model m;
    make_model(&m, 11, 8, 2, 2, 8, 0.2f, 3, 0.3f);
    warm_error err;
    assert_int_equal(warm_model_alloc_train(&m, &err), WARM_OK);
    fd_case k;
    assert_int_equal(warm_trainer_init(&k.tr, &m, 4, 7, 1, &err), WARM_OK);
    random_tokens(k.tok, 28, 11, 5);
    random_tokens(k.tgt, 28, 11, 6);
    int lens[4] = {7, 5, 3, 6};
    memcpy(k.len, lens, sizeof lens);
    for (int i = 0; i < 28; i++) k.mask[i] = (i % 7) >= 1 ? 1.0f : 0.0f;
    k.margins[0] = 0.0f;
    k.margins[1] = 0.3f;
    warm_model_zero_grad(&m);
    fd_loss(&k, which, 1);
    /* Central differences in float: the loss is O(1), h = 1e-2 keeps rounding noise (~1e-7/h) well below
     * the truncation error (~h^2 * third derivative), both ~1e-4. */
    const float h = 1e-2f;
    int checked = 0, bad = 0;
    for (int ti = 0; ti < m.n_tensors; ti++) {
        const warm_tensor *t = &m.tensors[ti];
        if (which == 0 && strcmp(t->name, "score.weight") == 0) continue;
        for (size_t j = 0; j < t->numel; j += 1 + t->numel / 6) {
            float *p = m.params + t->offset + j, saved = *p;
            *p = saved + h;
            double lp = fd_loss(&k, which, 0);
            *p = saved - h;
            double lm = fd_loss(&k, which, 0);
            *p = saved;
            double fd = (lp - lm) / (2.0 * (double)h), an = m.grads[t->offset + j];
            checked++;
            if (fabs(fd - an) > 2e-3 + 2e-2 * fabs(an)) {
                bad++;
                print_error("%s[%zu]: fd %.6g analytic %.6g\n", t->name, j, fd, an);
            }
        }
    }
    assert_true(checked > 100);
    assert_int_equal(bad, 0);
    warm_trainer_free(k.tr);
    warm_model_free(&m);
}

static void test_fd_lm_loss(void **state) { (void)state; check_fd(0); }
static void test_fd_bt_loss(void **state) { (void)state; check_fd(1); }

/* Logits (T, V) of one sequence by the training forward. */
static void forward_logits(warm_model *m, const int32_t *tok, int T, float *logits) {
    warm_trainer *tr;
    warm_error err;
    assert_int_equal(warm_trainer_init(&tr, m, 1, T, 0, &err), WARM_OK);
    int32_t len = T;
    const float *h = warm_trainer_forward(tr, tok, &len, 1, T, 0, 0);
    warm_global_view g = warm_model_globals(m, m->params);
    warm_sgemm_naive(0, 1, T, m->cfg.vocab_size, m->cfg.n_embd, 1.0f, h, m->cfg.n_embd, g.wte, m->cfg.n_embd, 0.0f,
                     logits, m->cfg.vocab_size);
    warm_trainer_free(tr);
}

static void test_decode_matches_forward(void **state) {
    (void)state;
    enum { V = 53, P = 40, T = 24, PRE = 9, NS = 3 };
    warm_model m;
    make_model(&m, V, P, 2, 4, 32, 0.1f, 11, 0.05f);
    warm_error err;
    int32_t seqs[NS][T];
    for (int s = 0; s < NS; s++) {
        random_tokens(seqs[s], T, V, 100 + (uint64_t)s);
        if (s > 0) memcpy(seqs[s], seqs[0], PRE * sizeof(int32_t)); /* shared prompt */
    }
    float *ref = malloc((size_t)NS * T * V * sizeof(float));
    for (int s = 0; s < NS; s++) forward_logits(&m, seqs[s], T, ref + (size_t)s * T * V);

    /* (a) no sharing: prefill 1 token, then one token at a time. */
    warm_kvcache kv;
    warm_decoder *d;
    float lg[NS * V];
    assert_int_equal(warm_kvcache_init(&kv, &m.cfg, 1, T - 1, 1, &err), WARM_OK);
    assert_int_equal(warm_decoder_init(&d, &m, 16, &err), WARM_OK);
    assert_int_equal(warm_decode_prefill(d, &kv, seqs[0], 1, lg, NULL, &err), WARM_OK);
    assert_true(test_max_rel_err(lg, ref, V, 1e-4, 1e-4, NULL) <= 1.0);
    for (int t = 1; t < T; t++) {
        int one = 1;
        assert_int_equal(warm_decode_extend(d, &kv, &seqs[0][t], &one, lg, NULL, &err), WARM_OK);
        assert_true(test_max_rel_err(lg, ref + (size_t)t * V, V, 1e-4, 1e-4, NULL) <= 1.0);
    }
    warm_kvcache_free(&kv);

    /* (b) shared prefix of PRE tokens, NS sequences decoded together one token per step. */
    assert_int_equal(warm_kvcache_init(&kv, &m.cfg, PRE, T - PRE, NS, &err), WARM_OK);
    assert_int_equal(warm_decode_prefill(d, &kv, seqs[0], PRE, lg, NULL, &err), WARM_OK);
    assert_true(test_max_rel_err(lg, ref + (size_t)(PRE - 1) * V, V, 1e-4, 1e-4, NULL) <= 1.0);
    for (int t = PRE; t < T; t++) {
        int32_t next[NS];
        int counts[NS];
        for (int s = 0; s < NS; s++) { next[s] = seqs[s][t]; counts[s] = 1; }
        assert_int_equal(warm_decode_extend(d, &kv, next, counts, lg, NULL, &err), WARM_OK);
        for (int s = 0; s < NS; s++)
            assert_true(test_max_rel_err(lg + (size_t)s * V, ref + ((size_t)s * T + t) * V, V, 1e-4, 1e-4, NULL) <= 1.0);
    }
    /* (c) whole suffixes in one call (rows > max_rows splits into passes): last-token logits. */
    warm_kvcache_reset_suffixes(&kv);
    int32_t all[NS * (T - PRE)];
    int counts[NS];
    for (int s = 0; s < NS; s++) {
        memcpy(all + s * (T - PRE), seqs[s] + PRE, (T - PRE) * sizeof(int32_t));
        counts[s] = T - PRE;
    }
    assert_int_equal(warm_decode_extend(d, &kv, all, counts, lg, NULL, &err), WARM_OK);
    for (int s = 0; s < NS; s++)
        assert_true(test_max_rel_err(lg + (size_t)s * V, ref + ((size_t)s * T + T - 1) * V, V, 1e-4, 1e-4, NULL) <= 1.0);
    warm_kvcache_free(&kv);
    warm_decoder_free(d);
    free(ref);
    warm_model_free(&m);
}

static void test_padded_rewards(void **state) {
    (void)state;
    enum { V = 40, T = 12, B = 3 };
    warm_model m;
    make_model(&m, V, 16, 2, 2, 16, 0.1f, 21, 0.05f);
    warm_error err;
    warm_trainer *tr;
    assert_int_equal(warm_trainer_init(&tr, &m, B, T, 0, &err), WARM_OK);
    int32_t tok[B * T], len[B] = {12, 5, 8};
    random_tokens(tok, B * T, V, 3);
    float padded[B], alone[B];
    warm_trainer_rewards(tr, tok, len, B, T, padded);
    /* Pruned scoring (last layer on the pooled rows) = the reward head on the full forward's pooled rows. */
    const float *h = warm_trainer_forward(tr, tok, len, B, T, 0, 0);
    for (int b = 0; b < B; b++) {
        float full = warm_model_reward_from_hidden(&m, h + ((size_t)b * T + (size_t)len[b] - 1) * 16);
        assert_float_equal(padded[b], full, 1e-5);
        assert_true(padded[b] != 0.0f);
    }
    for (int b = 0; b < B; b++) {
        warm_trainer_rewards(tr, tok + b * T, &len[b], 1, len[b], &alone[b]);
        assert_float_equal(padded[b], alone[b], 1e-5);
    }
    /* Changing pad tokens changes nothing. */
    for (int t = 5; t < T; t++) tok[1 * T + t] = (tok[1 * T + t] + 7) % V;
    float again[B];
    warm_trainer_rewards(tr, tok, len, B, T, again);
    assert_true(again[1] == padded[1]);
    /* Prefix-sharing scorer: prompt = first 3 tokens of row 0, responses = the rest of each row's tokens. */
    int32_t prompt[3] = {tok[0], tok[1], tok[2]};
    int32_t resp[B * T];
    int rl[B], n = 0;
    float want[B], got[B];
    int32_t full[B * T], fl[B];
    for (int b = 0; b < B; b++) {
        rl[b] = len[b] - 3;
        memcpy(resp + n, tok + b * T + 3, (size_t)rl[b] * sizeof(int32_t));
        memcpy(full + b * T, prompt, sizeof prompt);
        memcpy(full + b * T + 3, tok + b * T + 3, (size_t)(T - 3) * sizeof(int32_t));
        fl[b] = len[b];
        n += rl[b];
    }
    warm_trainer_rewards(tr, full, fl, B, T, want);
    assert_int_equal(warm_score_responses(&m, prompt, 3, resp, rl, B, got, &err), WARM_OK);
    for (int b = 0; b < B; b++) assert_float_equal(got[b], want[b], 1e-4);
    warm_trainer_free(tr);
    warm_model_free(&m);
}

/* Trains `steps` BT steps on a fixed batch stream derived from the step number. */
static void bt_train(warm_model *m, warm_trainer *tr, int steps) {
    warm_adamw_config oc = warm_adamw_default(3e-3f);
    oc.weight_decay = 0.1f;
    oc.grad_clip = 0.5f;
    oc.warmup_steps = 2;
    oc.total_steps = 8;
    oc.schedule = 1;
    for (int s = 0; s < steps; s++) {
        int32_t tok[4 * 6], len[4] = {6, 4, 5, 6};
        random_tokens(tok, 24, m->cfg.vocab_size, 1000 + (uint64_t)m->step);
        warm_trainer_bt_step(tr, tok, len, 2, 6, NULL, 0.01f, 1, (uint64_t)m->step, 1, NULL);
        warm_model_adamw_step(m, &oc, 0);
    }
}

static void test_save_load_resume(void **state) {
    (void)state;
    char dir[64], wpath[128], spath[128];
    test_tmpdir(dir, sizeof dir);
    snprintf(wpath, sizeof wpath, "%s/m.safetensors", dir);
    snprintf(spath, sizeof spath, "%s/m.state.safetensors", dir);
    warm_error err;
    warm_model a;
    make_model(&a, 30, 8, 1, 2, 8, 0.1f, 5, 0.0f);
    assert_int_equal(warm_model_alloc_train(&a, &err), WARM_OK);
    warm_trainer *tra;
    assert_int_equal(warm_trainer_init(&tra, &a, 4, 6, 0, &err), WARM_OK);
    bt_train(&a, tra, 3);
    warm_train_meta meta = {a.step, 42, 17, 1};
    assert_int_equal(warm_model_save(&a, wpath, WARM_DTYPE_F32, NULL, NULL, 0, &err), WARM_OK);
    assert_int_equal(warm_train_state_save(&a, spath, &meta, &err), WARM_OK);
    bt_train(&a, tra, 3);

    warm_model b;
    assert_int_equal(warm_model_load(&b, wpath, 0, &err), WARM_OK);
    warm_train_meta got;
    assert_int_equal(warm_train_state_load(&b, spath, &got, &err), WARM_OK);
    assert_int_equal(got.step, 3);
    assert_int_equal(got.rng_state, 42);
    assert_int_equal(got.data_pos, 17);
    warm_trainer *trb;
    assert_int_equal(warm_trainer_init(&trb, &b, 4, 6, 0, &err), WARM_OK);
    bt_train(&b, trb, 3);
    assert_int_equal(a.n_params, b.n_params);
    assert_memory_equal(a.params, b.params, a.n_params * sizeof(float)); /* bit-exact resume */

    /* BF16 save: loaded values are the bf16 roundings. */
    assert_int_equal(warm_model_save(&a, wpath, WARM_DTYPE_BF16, NULL, NULL, 0, &err), WARM_OK);
    warm_model c;
    assert_int_equal(warm_model_load(&c, wpath, 0, &err), WARM_OK);
    for (size_t i = 0; i < a.n_params; i++) assert_true(c.params[i] == warm_bf16_to_f32(warm_f32_to_bf16(a.params[i])));
    /* A missing state file is an error naming it. */
    assert_int_not_equal(warm_train_state_load(&c, "/nonexistent/x.safetensors", &got, &err), WARM_OK);
    assert_non_null(strstr(err.msg, "/nonexistent/x.safetensors"));
    warm_model_free(&c);
    warm_trainer_free(tra);
    warm_trainer_free(trb);
    warm_model_free(&a);
    warm_model_free(&b);
}

static void test_freeze_body(void **state) {
    (void)state;
    warm_model m;
    make_model(&m, 30, 8, 1, 2, 8, 0.1f, 5, 0.05f);
    warm_error err;
    assert_int_equal(warm_model_alloc_train(&m, &err), WARM_OK);
    warm_trainer *tr;
    assert_int_equal(warm_trainer_init(&tr, &m, 4, 6, 0, &err), WARM_OK);
    warm_trainer_set_freeze_body(tr, 1);
    int32_t tok[24], len[4] = {6, 4, 5, 6};
    random_tokens(tok, 24, 30, 9);
    float *before = malloc(m.n_params * sizeof(float));
    memcpy(before, m.params, m.n_params * sizeof(float));
    warm_trainer_bt_step(tr, tok, len, 2, 6, NULL, 0.0f, 1, 1, 1, NULL);
    const warm_tensor *sc = warm_model_find(&m, "score.weight");
    for (size_t i = 0; i < m.n_params; i++)
        if (i < sc->offset || i >= sc->offset + sc->numel) assert_true(m.grads[i] == 0.0f);
    warm_adamw_config oc = warm_adamw_default(1e-2f);
    warm_model_adamw_step(&m, &oc, 1);
    int changed = 0;
    for (size_t i = 0; i < m.n_params; i++) {
        int in_head = i >= sc->offset && i < sc->offset + sc->numel;
        if (!in_head) assert_true(m.params[i] == before[i]);
        else changed += m.params[i] != before[i];
    }
    assert_true(changed > 0);
    free(before);
    warm_trainer_free(tr);
    warm_model_free(&m);
}

static void test_thread_invariance(void **state) {
    (void)state;
#ifdef _OPENMP
    warm_model m;
    make_model(&m, 300, 64, 2, 4, 64, 0.1f, 5, 0.02f);
    warm_error err;
    assert_int_equal(warm_model_alloc_train(&m, &err), WARM_OK);
    warm_trainer *tr;
    assert_int_equal(warm_trainer_init(&tr, &m, 8, 48, 1, &err), WARM_OK);
    int32_t tok[8 * 48], len[8] = {48, 40, 33, 48, 12, 48, 20, 47};
    random_tokens(tok, 8 * 48, 300, 77);
    float *g1 = malloc(m.n_params * sizeof(float));
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    warm_trainer_bt_step(tr, tok, len, 4, 48, NULL, 0.0f, 1, 5, 1, NULL);
    warm_trainer_lm_step(tr, tok, len, tok, NULL, 8, 48, 1, 6, 1);
    memcpy(g1, m.grads, m.n_params * sizeof(float));
    warm_model_zero_grad(&m);
    omp_set_num_threads(2);
    warm_trainer_bt_step(tr, tok, len, 4, 48, NULL, 0.0f, 1, 5, 1, NULL);
    warm_trainer_lm_step(tr, tok, len, tok, NULL, 8, 48, 1, 6, 1);
    omp_set_num_threads(saved);
    assert_memory_equal(g1, m.grads, m.n_params * sizeof(float));
    free(g1);
    warm_trainer_free(tr);
    warm_model_free(&m);
#else
    skip();
#endif
}

static void test_sampler(void **state) {
    (void)state;
    float lg[4] = {logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f)};
    warm_rng r;
    warm_rng_seed(&r, 1);
    warm_sampler greedy = {0.0f, 0, 1.0f}, plain = {1.0f, 0, 1.0f}, topk1 = {1.0f, 1, 1.0f}, topp = {1.0f, 0, 0.7f};
    float lp;
    assert_int_equal(warm_sample(lg, 4, &greedy, &r, &lp), 0);
    assert_float_equal(lp, logf(0.5f), 1e-6);
    assert_int_equal(warm_sample(lg, 4, &topk1, &r, NULL), 0);
    int cnt[4] = {0}, n = 40000;
    for (int i = 0; i < n; i++) cnt[warm_sample(lg, 4, &plain, &r, NULL)]++;
    double p[4] = {0.5, 0.3, 0.15, 0.05};
    for (int k = 0; k < 4; k++) {
        double sd = sqrt(p[k] * (1 - p[k]) / n);
        assert_true(fabs((double)cnt[k] / n - p[k]) < 5 * sd);
    }
    /* top-p 0.7 keeps {0, 1} (0.5 < 0.7 <= 0.8), renormalised 5/8 vs 3/8; logprob stays untruncated. */
    int c01[4] = {0};
    for (int i = 0; i < n; i++) {
        int t = warm_sample(lg, 4, &topp, &r, &lp);
        c01[t]++;
        assert_float_equal(lp, logf((float)p[t]), 1e-5);
    }
    assert_int_equal(c01[2] + c01[3], 0);
    assert_true(fabs((double)c01[0] / n - 0.625) < 5 * sqrt(0.625 * 0.375 / n));
}

static void test_generate_greedy(void **state) {
    (void)state;
    enum { V = 37, MAXN = 10 };
    warm_model m;
    make_model(&m, V, 32, 2, 2, 16, 0.1f, 13, 0.1f);
    warm_error err;
    int32_t prompt[5];
    random_tokens(prompt, 5, V, 1);
    int32_t out[3 * MAXN];
    float lps[3 * MAXN];
    int lens[3];
    warm_sampler g = {0.0f, 0, 1.0f};
    warm_rng r;
    warm_rng_seed(&r, 0);
    assert_int_equal(warm_generate(&m, prompt, 5, 3, MAXN, &g, -1, &r, out, lps, lens, &err), WARM_OK);
    /* Reference: greedy by full recompute with the training forward. */
    int32_t seq[5 + MAXN];
    memcpy(seq, prompt, sizeof prompt);
    float *lg = malloc((size_t)(5 + MAXN) * V * sizeof(float));
    for (int t = 0; t < MAXN; t++) {
        forward_logits(&m, seq, 5 + t, lg);
        const float *last = lg + (size_t)(4 + t) * V;
        int best = 0;
        for (int i = 1; i < V; i++) if (last[i] > last[best]) best = i;
        seq[5 + t] = best;
    }
    for (int s = 0; s < 3; s++) {
        assert_int_equal(lens[s], MAXN);
        for (int t = 0; t < MAXN; t++) assert_int_equal(out[s * MAXN + t], seq[5 + t]);
    }
    /* Temperature -> 0 converges to greedy: at T = 1e-3 the logit gaps here (> 1e-2) make every other token
     * weigh < e^-10 against the argmax, so 3 x 10 draws match greedy with probability > 0.999. */
    warm_sampler cold = {1e-3f, 0, 1.0f};
    assert_int_equal(warm_generate(&m, prompt, 5, 3, MAXN, &cold, -1, &r, out, lps, lens, &err), WARM_OK);
    for (int s = 0; s < 3; s++)
        for (int t = 0; t < MAXN; t++) assert_int_equal(out[s * MAXN + t], seq[5 + t]);
    /* Stops at eos: make eos the first greedy token. */
    assert_int_equal(warm_generate(&m, prompt, 5, 2, MAXN, &g, seq[5], &r, out, NULL, lens, &err), WARM_OK);
    assert_int_equal(lens[0], 1);
    assert_int_equal(out[0], seq[5]);
    /* Too long for the context: error, not a crash. */
    assert_int_not_equal(warm_generate(&m, prompt, 5, 1, 40, &g, -1, &r, out, NULL, lens, &err), WARM_OK);
    free(lg);
    warm_model_free(&m);
}

static void test_config_json(void **state) {
    (void)state;
    warm_config c = warm_config_default(100, 64, 3, 4, 32), d;
    c.attn_pdrop = 0.05f;
    warm_error err;
    char *js = warm_config_to_json(&c);
    assert_int_equal(warm_config_from_json(&d, js, &err), WARM_OK);
    assert_memory_equal(&c, &d, sizeof c);
    free(js);
    assert_int_equal(warm_config_from_json(&d, "{\"vocab_size\":10,\"max_position_embeddings\":8,"
                                               "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"hidden_size\":8}",
                                           &err), WARM_OK);
    assert_int_equal(d.n_positions, 8);
    assert_int_not_equal(warm_config_from_json(&d, "{\"vocab_size\":10,\"n_positions\":8,\"n_layer\":1,"
                                                   "\"n_head\":3,\"n_embd\":8}", &err), WARM_OK);
    assert_non_null(strstr(err.msg, "n_head"));
    assert_int_not_equal(warm_config_from_json(&d, "{\"vocab_size\":10,\"n_positions\":8,\"n_layer\":1,"
                                                   "\"n_head\":2,\"n_embd\":8,\"reorder_and_upcast_attn\":true}", &err),
                         WARM_OK);
    assert_non_null(strstr(err.msg, "reorder_and_upcast_attn"));
}

/* A bare-named GPT-2 file (as saved from GPT2Model, no "transformer." prefix) with the legacy attn.bias /
 * attn.masked_bias buffers loads into the model; the buffers are skipped; a missing head is allowed only
 * when asked; a tensor given under both spellings is refused. */
static void test_load_bare_names_legacy(void **state) {
    (void)state;
    warm_model a;
    make_model(&a, 30, 8, 2, 2, 8, 0.1f, 5, 0.05f);
    int n = a.n_tensors - 1 + 2 * a.cfg.n_layer; /* all but score, plus 2 buffers per layer */
    warm_st_spec *specs = calloc((size_t)n, sizeof *specs);
    const float **data = calloc((size_t)n, sizeof *data);
    char (*names)[64] = calloc((size_t)n, sizeof *names);
    float *mask = calloc(64, sizeof(float)), minus = -1e4f;
    int k = 0;
    for (int i = 0; i < a.n_tensors - 1; i++, k++) {
        const warm_tensor *t = &a.tensors[i];
        snprintf(names[k], sizeof names[k], "%s", t->name + strlen("transformer."));
        specs[k] = (warm_st_spec){names[k], WARM_DTYPE_F32, t->ndim, {t->shape[0], t->shape[1]}};
        data[k] = a.params + t->offset;
    }
    for (int l = 0; l < a.cfg.n_layer; l++) {
        snprintf(names[k], sizeof names[k], "h.%d.attn.bias", l);
        specs[k] = (warm_st_spec){names[k], WARM_DTYPE_F32, 4, {1, 1, 8, 8}};
        data[k++] = mask;
        snprintf(names[k], sizeof names[k], "h.%d.attn.masked_bias", l);
        specs[k] = (warm_st_spec){names[k], WARM_DTYPE_F32, 0, {0}};
        data[k++] = &minus;
    }
    char dir[64], path[128];
    test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/bare.safetensors", dir);
    warm_error err;
    assert_int_equal(warm_st_write(path, specs, data, n, NULL, NULL, 0, &err), WARM_OK);
    warm_st_file f;
    assert_int_equal(warm_st_open(&f, path, &err), WARM_OK);
    warm_model b;
    assert_int_equal(warm_model_init(&b, &a.cfg, &err), WARM_OK);
    assert_int_not_equal(warm_model_load_weights(&b, &f, 0, NULL, &err), WARM_OK);
    assert_non_null(strstr(err.msg, "score.weight"));
    int head = 1;
    assert_int_equal(warm_model_load_weights(&b, &f, 1, &head, &err), WARM_OK);
    assert_int_equal(head, 0);
    for (int i = 0; i < a.n_tensors - 1; i++) /* per tensor: make_model also perturbed the alignment padding */
        assert_memory_equal(a.params + a.tensors[i].offset, b.params + b.tensors[i].offset, a.tensors[i].numel * sizeof(float));
    warm_st_close(&f);
    /* the same tensor under both spellings */
    specs[0].name = "transformer.wte.weight";
    warm_st_spec two[2] = {specs[0], specs[0]};
    two[1].name = "wte.weight";
    const float *d2[2] = {data[0], data[0]};
    assert_int_equal(warm_st_write(path, two, d2, 2, NULL, NULL, 0, &err), WARM_OK);
    assert_int_equal(warm_st_open(&f, path, &err), WARM_OK);
    assert_int_not_equal(warm_model_load_weights(&b, &f, 1, NULL, &err), WARM_OK);
    assert_non_null(strstr(err.msg, "twice"));
    warm_st_close(&f);
    free(specs); free(data); free(names); free(mask);
    warm_model_free(&a);
    warm_model_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_deterministic), cmocka_unit_test(test_config_json),
        cmocka_unit_test(test_fd_lm_loss),         cmocka_unit_test(test_fd_bt_loss),
        cmocka_unit_test(test_decode_matches_forward), cmocka_unit_test(test_padded_rewards),
        cmocka_unit_test(test_save_load_resume),   cmocka_unit_test(test_freeze_body),
        cmocka_unit_test(test_thread_invariance),  cmocka_unit_test(test_sampler),
        cmocka_unit_test(test_generate_greedy),    cmocka_unit_test(test_load_bare_names_legacy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
