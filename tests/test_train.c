/*
 * test_train.c — the LM training loop: loss goes down on a learnable toy language, validation loss is
 * reported, kept checkpoints appear, an interrupted run resumed in the same directory ends bit-identical
 * to an uninterrupted one, and a finished run is not redone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "warm/data.h"
#include "warm/tokenizer.h"
#include "warm/train.h"

/* A toy language: "a b c d ..." counting sequences of random start and length: next token is predictable. */
static void write_corpus(const char *path, int rows, uint64_t seed) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    warm_rng r;
    warm_rng_seed(&r, seed);
    for (int i = 0; i < rows; i++) {
        int start = (int)warm_rng_below(&r, 10), len = 4 + (int)warm_rng_below(&r, 8);
        fprintf(f, "{\"text\":\"");
        for (int k = 0; k < len; k++) fprintf(f, "%sw%d", k ? " " : "", (start + k) % 20);
        fprintf(f, "\"}\n");
    }
    fclose(f);
}

typedef struct {
    char dir[64], data[128];
    warm_tokenizer *tok;
    warm_lmdata d;
    int64_t *idx, n;
} fixture;

static int setup(void **state) {
    fixture *fx = calloc(1, sizeof *fx);
    test_tmpdir(fx->dir, sizeof fx->dir);
    snprintf(fx->data, sizeof fx->data, "%s/corpus.jsonl", fx->dir);
    write_corpus(fx->data, 200, 1);
    char words[20][16];
    const char *wp[20];
    for (int i = 0; i < 20; i++) {
        snprintf(words[i], sizeof words[i], "w%d", i);
        wp[i] = words[i];
    }
    warm_error err;
    if (warm_tok_from_words(&fx->tok, wp, 20, &err)) return -1;
    if (warm_lm_load(&fx->d, fx->data, fx->tok, NULL, &err)) return -1;
    if (warm_lm_subset(&fx->d, NULL, -1, &fx->idx, &fx->n, &err)) return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    free(fx->idx);
    warm_lm_free(&fx->d);
    warm_tok_free(fx->tok);
    free(fx);
    return 0;
}

static void fresh_model(fixture *fx, warm_model *m) {
    warm_config cfg = warm_config_default(warm_tok_vocab_size(fx->tok), 16, 1, 2, 16);
    cfg.pad_token_id = warm_tok_pad(fx->tok);
    cfg.eos_token_id = cfg.bos_token_id = warm_tok_eos(fx->tok);
    warm_error err;
    assert_int_equal(warm_model_init(m, &cfg, &err), WARM_OK);
    warm_model_init_weights(m, 3);
}

static warm_lm_train_config config(const char *dir) {
    warm_lm_train_config c = warm_lm_train_default();
    c.out_dir = dir;
    c.batch = 8;
    c.steps = 40;
    c.save_every = 20;
    c.eval_every = 20;
    c.opt.lr = 1e-2f;
    c.opt.warmup_steps = 5;
    c.seed = 9;
    c.resume = 1;
    return c;
}

static void test_loss_decreases(void **state) {
    fixture *fx = *state;
    char out[128], path[200];
    snprintf(out, sizeof out, "%s/a", fx->dir);
    warm_model m;
    fresh_model(fx, &m);
    warm_lm_train_config c = config(out);
    warm_lm_train_result r;
    warm_error err;
    assert_int_equal(warm_lm_train(&m, &fx->d, fx->idx, fx->n, &fx->d, fx->idx, fx->n, &c, &r, &err), WARM_OK);
    assert_int_equal(r.steps_done, 40);
    /* Uniform guessing over 23 tokens costs log 23 = 3.14 nats; the counting language is nearly deterministic. */
    assert_true(r.val_loss_first > 2.5f);
    assert_true(r.val_loss < 0.6f * r.val_loss_first);
    snprintf(path, sizeof path, "%s/step-0000020.safetensors", out);
    assert_true(warm_file_exists(path));
    snprintf(path, sizeof path, "%s/final.safetensors", out);
    assert_true(warm_file_exists(path));
    /* A finished run is not redone. */
    warm_model m2;
    fresh_model(fx, &m2);
    assert_int_equal(warm_lm_train(&m2, &fx->d, fx->idx, fx->n, NULL, NULL, 0, &c, &r, &err), WARM_OK);
    assert_int_equal(r.already_done, 1);
    warm_model_free(&m);
    warm_model_free(&m2);
}

/*
 * Trains into dir for 13 steps (mid-epoch: 13 * 8 rows of 200), optionally tears the last.* pair (weights saved
 * again as step 7 with one changed value: a run killed between the state and the weights write), then runs again
 * to the end in a fresh model; checks the resume point and that the final weights equal want's.
 */
static void interrupted_run(fixture *fx, warm_lm_train_config c, const char *dir, int torn, int64_t resumed_from,
                            const warm_model *want) {
    warm_error err;
    warm_lm_train_result r;
    warm_model m;
    fresh_model(fx, &m);
    c.out_dir = dir;
    c.stop_after = 13;
    assert_int_equal(warm_lm_train(&m, &fx->d, fx->idx, fx->n, NULL, NULL, 0, &c, &r, &err), WARM_OK);
    assert_int_equal(r.steps_done, 13);
    if (torn) {
        char wpath[200];
        snprintf(wpath, sizeof wpath, "%s/last.safetensors", dir);
        const char *k[1] = {"warm.step"}, *v[1] = {"7"};
        m.params[0] += 1.0f;
        assert_int_equal(warm_model_save(&m, wpath, WARM_DTYPE_F32, k, v, 1, &err), WARM_OK);
    }
    warm_model_free(&m);
    fresh_model(fx, &m);
    c.stop_after = 0;
    assert_int_equal(warm_lm_train(&m, &fx->d, fx->idx, fx->n, NULL, NULL, 0, &c, &r, &err), WARM_OK);
    assert_int_equal(r.resumed_from, resumed_from);
    assert_int_equal(r.steps_done, 40);
    assert_memory_equal(want->params, m.params, want->n_params * sizeof(float));
    warm_model_free(&m);
}

static void test_resume_bit_exact(void **state) {
    fixture *fx = *state;
    char a[128], b[128], d[128];
    snprintf(a, sizeof a, "%s/straight", fx->dir);
    snprintf(b, sizeof b, "%s/interrupted", fx->dir);
    snprintf(d, sizeof d, "%s/torn", fx->dir);
    warm_error err;
    warm_lm_train_result r;
    warm_model ma;
    fresh_model(fx, &ma);
    warm_lm_train_config c = config(a);
    c.save_every = 0;
    assert_int_equal(warm_lm_train(&ma, &fx->d, fx->idx, fx->n, NULL, NULL, 0, &c, &r, &err), WARM_OK);
    /* Interrupted after 13 steps, then resumed in a new process-like state. */
    interrupted_run(fx, c, b, 0, 13, &ma);
    /* A run killed between the two last.* writes must not resume from the mixed pair: it starts over and still
     * ends bit-identical (before the fix it resumed at 13 with the other step's weights). */
    interrupted_run(fx, c, d, 1, 0, &ma);
    /* Another seed resumed into the same directory is refused. */
    c.out_dir = b;
    c.seed = 10;
    c.steps = 50;
    warm_model mc;
    fresh_model(fx, &mc);
    assert_int_not_equal(warm_lm_train(&mc, &fx->d, fx->idx, fx->n, NULL, NULL, 0, &c, &r, &err), WARM_OK);
    assert_non_null(strstr(err.msg, "seed"));
    warm_model_free(&ma);
    warm_model_free(&mc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_decreases),
        cmocka_unit_test(test_resume_bit_exact),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
