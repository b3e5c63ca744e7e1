/*
 * test_pipeline.c — the task's pipeline at a small scale (issue 3): pretraining then SFT lowers the SFT
 * validation loss and raises the mean gold reward of sampled summaries over the pretrained model's;
 * preference pairs record their corruption exactly, with a corrupted fraction within binomial tolerance;
 * labels agree with the gold order more often than chance; malformed prompt lines name the line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "warm/data.h"
#include "warm/task.h"
#include "warm/train.h"

typedef struct {
    char dir[64], task[128];
    warm_task_world *w;
    warm_model pre, sft;
} pipeline;

static void train_lm(pipeline *p, warm_model *m, const char *file, const char *out, int steps, float lr) {
    char path[256], val[256], dir[256];
    snprintf(path, sizeof path, "%s/%s", p->task, file);
    snprintf(val, sizeof val, "%s/sft_val.jsonl", p->task);
    snprintf(dir, sizeof dir, "%s/%s", p->dir, out);
    warm_error err;
    warm_lmdata d = {0}, v = {0};
    int64_t *idx, *vidx, n, nv;
    warm_lm_opts o = warm_lm_opts_default();
    o.max_len = m->cfg.n_positions;
    const warm_tokenizer *tok = warm_task_tokenizer(p->w);
    assert_int_equal(warm_lm_load(&d, path, tok, &o, &err), WARM_OK);
    assert_int_equal(warm_lm_load(&v, val, tok, &o, &err), WARM_OK);
    assert_int_equal(warm_lm_subset(&d, NULL, -1, &idx, &n, &err), WARM_OK);
    assert_int_equal(warm_lm_subset(&v, NULL, -1, &vidx, &nv, &err), WARM_OK);
    warm_lm_train_config c = warm_lm_train_default();
    c.out_dir = dir;
    c.batch = 16;
    c.steps = steps;
    c.opt.lr = lr;
    c.opt.warmup_steps = 20;
    c.seed = 1;
    warm_lm_train_result r;
    assert_int_equal(warm_lm_train(m, &d, idx, n, &v, vidx, nv, &c, &r, &err), WARM_OK);
    print_message("%s: val loss %.3f -> %.3f (%.1f s)\n", out, (double)r.val_loss_first, (double)r.val_loss, r.seconds);
    free(idx);
    free(vidx);
    warm_lm_free(&d);
    warm_lm_free(&v);
}

static int setup(void **state) {
    pipeline *p = calloc(1, sizeof *p);
    test_tmpdir(p->dir, sizeof p->dir);
    snprintf(p->task, sizeof p->task, "%s/task", p->dir);
    warm_task_config tc;
    warm_task_config_default(&tc);
    tc.n_pretrain = 1500;
    tc.n_sft_train = 1500;
    tc.n_sft_val = 100;
    tc.n_prompts_train = 400;
    tc.n_prompts_val = 60;
    tc.n_prompts_ood = 60;
    warm_error err;
    if (warm_task_generate(&tc, p->task, &err) || warm_task_load(&p->w, p->task, &err)) return -1;
    const warm_tokenizer *tok = warm_task_tokenizer(p->w);
    warm_config cfg = warm_config_default(warm_tok_vocab_size(tok), 128, 2, 2, 64);
    cfg.eos_token_id = cfg.bos_token_id = warm_tok_eos(tok);
    cfg.pad_token_id = warm_tok_pad(tok);
    if (warm_model_init(&p->pre, &cfg, &err)) return -1;
    warm_model_init_weights(&p->pre, 1);
    *state = p;
    return 0;
}

static int teardown(void **state) {
    pipeline *p = *state;
    warm_model_free(&p->pre);
    warm_model_free(&p->sft);
    warm_task_free(p->w);
    free(p);
    return 0;
}

/* Gold rewards of greedy summaries of the first k val prompts into g (k). */
static void greedy_gold(pipeline *p, const warm_model *m, int k, double *g) {
    char path[256];
    snprintf(path, sizeof path, "%s/prompts_val.jsonl", p->task);
    warm_jsonl_reader *r;
    warm_error err;
    assert_int_equal(warm_jsonl_open(&r, path, &err), WARM_OK);
    const warm_tokenizer *tok = warm_task_tokenizer(p->w);
    int32_t prompt[128], out[32];
    int lens[1];
    warm_sampler smp = {0.0f, 0, 1.0f}; /* greedy: the mode of each policy */
    for (int i = 0; i < k; i++) {
        const cJSON *obj;
        const char *text;
        int plen;
        assert_int_equal(warm_jsonl_next(r, &obj, &err), WARM_OK);
        assert_int_equal(warm_jsonl_get_str(r, obj, "prompt", 1, &text, NULL, &err), WARM_OK);
        assert_int_equal(warm_tok_encode(tok, text, 0, prompt, 128, &plen, &err), WARM_OK);
        warm_rng rng;
        warm_rng_seed(&rng, (uint64_t)i);
        assert_int_equal(warm_generate(m, prompt, plen, 1, 32, &smp, warm_tok_eos(tok), &rng, out, NULL, lens, &err),
                         WARM_OK);
        g[i] = warm_task_gold_ids(p->w, prompt, plen, out, lens[0], NULL);
    }
    warm_jsonl_close(r);
}

static void test_sft_improves(void **state) {
    pipeline *p = *state;
    train_lm(p, &p->pre, "pretrain.jsonl", "pre", 400, 3e-3f);
    warm_error err;
    char path[256];
    snprintf(path, sizeof path, "%s/pre/final.safetensors", p->dir);
    assert_int_equal(warm_model_load(&p->sft, path, 1, &err), WARM_OK);
    /* SFT validation loss of the pretrained model, then after SFT. */
    char val[256];
    snprintf(val, sizeof val, "%s/sft_val.jsonl", p->task);
    warm_lmdata v = {0};
    int64_t *vidx, nv;
    assert_int_equal(warm_lm_load(&v, val, warm_task_tokenizer(p->w), NULL, &err), WARM_OK);
    assert_int_equal(warm_lm_subset(&v, NULL, -1, &vidx, &nv, &err), WARM_OK);
    float before, after;
    assert_int_equal(warm_lm_eval(&p->sft, &v, vidx, nv, 16, 0, &before, &err), WARM_OK);
    train_lm(p, &p->sft, "sft_train.jsonl", "sft", 1200, 2e-3f);
    assert_int_equal(warm_lm_eval(&p->sft, &v, vidx, nv, 16, 0, &after, &err), WARM_OK);
    print_message("SFT val loss %.3f -> %.3f\n", (double)before, (double)after);
    assert_true(after < 0.8f * before);
    /* Paired over the 60 val prompts: the mean gain must exceed 3 standard errors of the paired differences. */
    enum { K = 60 };
    double g_pre[K], g_sft[K], mean = 0, var = 0, mp = 0, ms = 0;
    greedy_gold(p, &p->pre, K, g_pre);
    greedy_gold(p, &p->sft, K, g_sft);
    for (int i = 0; i < K; i++) { mean += (g_sft[i] - g_pre[i]) / K; mp += g_pre[i] / K; ms += g_sft[i] / K; }
    for (int i = 0; i < K; i++) var += (g_sft[i] - g_pre[i] - mean) * (g_sft[i] - g_pre[i] - mean) / (K - 1);
    double se = sqrt(var / K);
    print_message("mean gold (greedy): pretrained %.3f, SFT %.3f, gain %.3f +- %.3f\n", mp, ms, mean, se);
    assert_true(mean > 3 * se && mean > 0);
    free(vidx);
    warm_lm_free(&v);
}

static void test_prefs_corruption(void **state) {
    pipeline *p = *state;
    char out[256];
    snprintf(out, sizeof out, "%s/prefs.jsonl", p->dir);
    warm_task_generator pol = {"sft", &p->sft, 1.0f};
    warm_task_generator ood[2] = {{"sft-hot", &p->sft, 1.5f}, {"pre", &p->pre, 1.0f}};
    warm_task_prefs_config c;
    warm_task_prefs_config_default(&c);
    c.corrupt = 0.25;
    c.seed = 7;
    char clean[256];
    snprintf(clean, sizeof clean, "%s/prefs_clean.jsonl", p->dir);
    c.clean_path = clean;
    warm_task_prefs_summary sum;
    warm_error err;
    assert_int_equal(warm_task_prefs(p->w, p->task, &pol, ood, 2, &c, out, NULL, &sum, &err), WARM_OK);
    assert_int_equal(sum.n[0], 400);
    assert_int_equal(sum.n[1], 60);
    assert_int_equal(sum.n[2], 60);
    /* Binomial(400, 0.25): sd = sqrt(400 * 0.25 * 0.75) = 8.66; 4 sd = 35. */
    assert_true(labs((long)sum.n_corrupted - 100) <= 35);
    /* The file records exactly the corrupted rows, only in train, and the loader reads them back. */
    warm_prefs d = {0};
    assert_int_equal(warm_prefs_load(&d, out, warm_task_tokenizer(p->w), NULL, &err), WARM_OK);
    int64_t *idx, n, *all, nall;
    assert_int_equal(warm_prefs_subset(&d, NULL, 1, &idx, &n, &err), WARM_OK);
    assert_int_equal(n, sum.n_corrupted);
    for (int64_t i = 0; i < n; i++) assert_string_equal(warm_prefs_split(&d, idx[i]), "train");
    assert_int_equal(warm_prefs_subset(&d, NULL, -1, &all, &nall, &err), WARM_OK);
    assert_int_equal(nall, 520);
    /* Gold fields match a recomputation from the ids, and clean labels agree with gold better than chance. */
    int64_t agree = 0, decided = 0;
    for (int64_t i = 0; i < nall; i++) {
        const warm_pref_row *row = &d.rows[all[i]];
        warm_pref_view v = warm_prefs_view(&d, all[i]);
        double gc = warm_task_gold_ids(p->w, v.prompt, v.prompt_len, v.resp[0], v.resp_len[0], NULL);
        assert_float_equal(gc, row->gold_chosen, 1e-6);
        if (!row->corrupted && row->gold_chosen != row->gold_rejected) {
            decided++;
            agree += row->gold_chosen > row->gold_rejected;
        }
    }
    assert_true(decided > 50);
    assert_true((double)agree / (double)decided > 0.7);
    /* The clean twin: the same pairs in the same order, the corrupted ones swapped back, nothing corrupted. */
    warm_prefs e = {0};
    assert_int_equal(warm_prefs_load(&e, clean, warm_task_tokenizer(p->w), NULL, &err), WARM_OK);
    assert_int_equal(e.n, d.n);
    for (int64_t i = 0; i < d.n; i++) {
        warm_pref_view a = warm_prefs_view(&d, i), b = warm_prefs_view(&e, i);
        int sw = d.rows[i].corrupted;
        assert_false(e.rows[i].corrupted);
        assert_int_equal(a.prompt_len, b.prompt_len);
        for (int side = 0; side < 2; side++) {
            assert_int_equal(a.resp_len[side], b.resp_len[side ^ sw]);
            assert_memory_equal(a.resp[side], b.resp[side ^ sw], (size_t)a.resp_len[side] * sizeof(int32_t));
        }
        assert_float_equal(d.rows[i].gold_chosen, sw ? e.rows[i].gold_rejected : e.rows[i].gold_chosen, 0);
    }
    warm_prefs_free(&e);
    free(idx);
    free(all);
    warm_prefs_free(&d);
}

/*
 * draws = 4: the pair is drawn among responses with different gold, so a pair is a gold tie only when all four
 * draws tie. With draws = 2 the same prompts give more ties; gold fields still match a recomputation from the
 * ids; draws < 2 is refused.
 */
static void test_prefs_draws(void **state) {
    pipeline *p = *state;
    char out2[256], out4[256];
    snprintf(out2, sizeof out2, "%s/prefs_d2.jsonl", p->dir);
    snprintf(out4, sizeof out4, "%s/prefs_d4.jsonl", p->dir);
    warm_task_generator pol = {"sft", &p->sft, 1.0f};
    warm_task_generator ood[2] = {{"sft-hot", &p->sft, 1.5f}, {"pre", &p->pre, 1.0f}};
    warm_task_prefs_config c;
    warm_task_prefs_config_default(&c);
    c.seed = 3;
    c.limit_train = 150;
    warm_task_prefs_summary s2, s4;
    warm_error err;
    assert_int_equal(warm_task_prefs(p->w, p->task, &pol, ood, 2, &c, out2, NULL, &s2, &err), WARM_OK);
    c.draws = 4;
    assert_int_equal(warm_task_prefs(p->w, p->task, &pol, ood, 2, &c, out4, NULL, &s4, &err), WARM_OK);
    int64_t ties2 = s2.n_gold_ties[0] + s2.n_gold_ties[1], ties4 = s4.n_gold_ties[0] + s4.n_gold_ties[1];
    print_message("gold ties (train + val): draws 2: %lld, draws 4: %lld of %lld\n", (long long)ties2,
                  (long long)ties4, (long long)(s4.n[0] + s4.n[1]));
    assert_int_equal(s4.n[0], 150);
    assert_true(ties2 > 10);
    assert_true(ties4 < ties2);
    warm_prefs d = {0};
    assert_int_equal(warm_prefs_load(&d, out4, warm_task_tokenizer(p->w), NULL, &err), WARM_OK);
    int64_t *all, nall;
    assert_int_equal(warm_prefs_subset(&d, NULL, -1, &all, &nall, &err), WARM_OK);
    for (int64_t i = 0; i < nall; i++) {
        const warm_pref_row *row = &d.rows[all[i]];
        warm_pref_view v = warm_prefs_view(&d, all[i]);
        double gc = warm_task_gold_ids(p->w, v.prompt, v.prompt_len, v.resp[0], v.resp_len[0], NULL);
        double gr = warm_task_gold_ids(p->w, v.prompt, v.prompt_len, v.resp[1], v.resp_len[1], NULL);
        assert_float_equal(gc, row->gold_chosen, 1e-6);
        assert_float_equal(gr, row->gold_rejected, 1e-6);
    }
    free(all);
    warm_prefs_free(&d);
    /* Out of range is refused. */
    c.draws = 1;
    assert_int_not_equal(warm_task_prefs(p->w, p->task, &pol, ood, 2, &c, out4, NULL, &s4, &err), WARM_OK);
    assert_non_null(strstr(err.msg, "draws"));
}

static void test_malformed_prompts(void **state) {
    pipeline *p = *state;
    char bad[200], out[256];
    snprintf(bad, sizeof bad, "%s/bad", p->dir);
    assert_int_equal(warm_mkdir_p(bad, NULL), WARM_OK);
    char path[300];
    snprintf(path, sizeof path, "%s/prompts_train.jsonl", bad);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"prompt\":\"alice TL;DR:\"}\n\n{\"prompt\": 3}\n");
    fclose(f);
    snprintf(out, sizeof out, "%s/out.jsonl", bad);
    warm_task_generator pol = {"sft", &p->sft, 1.0f}, ood[2] = {pol, pol};
    warm_task_prefs_config c;
    warm_task_prefs_config_default(&c);
    warm_task_prefs_summary sum;
    warm_error err;
    assert_int_not_equal(warm_task_prefs(p->w, bad, &pol, ood, 2, &c, out, NULL, &sum, &err), WARM_OK);
    assert_non_null(strstr(err.msg, "prompts_train.jsonl:3"));
    assert_false(warm_file_exists(out)); /* nothing half-written */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sft_improves),
        cmocka_unit_test(test_prefs_corruption),
        cmocka_unit_test(test_prefs_draws),
        cmocka_unit_test(test_malformed_prompts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
