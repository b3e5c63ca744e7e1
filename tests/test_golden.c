/*
 * test_golden.c — warm against PyTorch. tests/fixtures/golden_*.safetensors were written by
 * scripts/make_golden.py (plain-torch GPT-2, float64 reference computed from F32 weights; see
 * tests/fixtures/README.md for the contents and for why each tolerance is what it is). Compared here:
 * logits, masked LM loss and every parameter gradient; BT rewards, loss (margin + centring) and every
 * gradient; the weights after 3 AdamW steps with global-norm clipping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "warm/kernels.h"
#include "warm/model.h"

typedef struct {
    warm_model m;
    warm_st_file d;
    warm_trainer *tr;
} golden;

static int setup(void **state) {
    golden *g = calloc(1, sizeof *g);
    char path[512];
    warm_error err;
    snprintf(path, sizeof path, "%s/golden_model.safetensors", test_fixture_dir());
    if (warm_model_load(&g->m, path, 0, &err)) { print_error("%s\n", err.msg); return -1; }
    snprintf(path, sizeof path, "%s/golden_data.safetensors", test_fixture_dir());
    if (warm_st_open(&g->d, path, &err)) { print_error("%s\n", err.msg); return -1; }
    if (warm_model_alloc_train(&g->m, &err) || warm_trainer_init(&g->tr, &g->m, 4, 12, 1, &err)) return -1;
    *state = g;
    return 0;
}

static int teardown(void **state) {
    golden *g = *state;
    warm_trainer_free(g->tr);
    warm_st_close(&g->d);
    warm_model_free(&g->m);
    free(g);
    return 0;
}

/* Tensor `name` of the data file as floats (malloc'd), asserting its element count. */
static float *get_f32(golden *g, const char *name, size_t numel) {
    const warm_st_tensor *t = warm_st_find(&g->d, name);
    if (!t) fail_msg("fixture lacks %s", name);
    assert_int_equal(t->numel, numel);
    float *x = malloc(numel * sizeof(float) + 4);
    warm_error err;
    assert_int_equal(warm_st_to_f32(&g->d, t, x, &err), WARM_OK);
    return x;
}

static int32_t *get_i32(golden *g, const char *name, size_t numel) {
    const warm_st_tensor *t = warm_st_find(&g->d, name);
    if (!t) fail_msg("fixture lacks %s", name);
    assert_int_equal(t->dtype, WARM_DTYPE_I32);
    assert_int_equal(t->numel, numel);
    int32_t *x = malloc(numel * sizeof(int32_t) + 4);
    memcpy(x, t->data, numel * sizeof(int32_t));
    return x;
}

static double max_abs(const float *x, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)x[i]));
    return m;
}

/* Every gradient under prefix ("lm.grad." / "bt.grad."): atol 1e-5 x (largest |grad| of the case), rtol 1e-3. */
static void check_grads(golden *g, const char *prefix, int with_head) {
    double gmax = 0;
    for (int i = 0; i < g->m.n_tensors; i++) gmax = fmax(gmax, max_abs(g->m.grads + g->m.tensors[i].offset, g->m.tensors[i].numel));
    assert_true(gmax > 0);
    int compared = 0;
    for (int i = 0; i < g->m.n_tensors; i++) {
        const warm_tensor *t = &g->m.tensors[i];
        if (!with_head && strcmp(t->name, "score.weight") == 0) continue;
        char name[128];
        snprintf(name, sizeof name, "%s%s", prefix, t->name);
        float *want = get_f32(g, name, t->numel);
        size_t worst;
        double e = test_max_rel_err(g->m.grads + t->offset, want, t->numel, 1e-5 * gmax, 1e-3, &worst);
        if (e > 1.0)
            fail_msg("%s[%zu]: warm %.8g torch %.8g", name, worst, (double)g->m.grads[t->offset + worst],
                     (double)want[worst]);
        compared++;
        free(want);
    }
    assert_int_equal(compared, g->m.n_tensors - (with_head ? 0 : 1));
}

static void test_lm(void **state) {
    golden *g = *state;
    int B = 3, T = 12, V = g->m.cfg.vocab_size, C = g->m.cfg.n_embd;
    int32_t *tok = get_i32(g, "lm.tokens", 36), *len = get_i32(g, "lm.lengths", 3), *tgt = get_i32(g, "lm.targets", 36);
    float *mask = get_f32(g, "lm.mask", 36), *want = get_f32(g, "lm.logits", (size_t)36 * V);
    float *loss_want = get_f32(g, "lm.loss", 1);
    /* logits at every real position */
    const float *h = warm_trainer_forward(g->tr, tok, len, B, T, 0, 0);
    float *logits = malloc((size_t)B * T * V * sizeof(float));
    warm_global_view gv = warm_model_globals(&g->m, g->m.params);
    warm_sgemm(0, 1, B * T, V, C, 1.0f, h, C, gv.wte, C, 0.0f, logits, V);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < len[b]; t++) {
            size_t off = ((size_t)b * T + t) * V, worst;
            double e = test_max_rel_err(logits + off, want + off, (size_t)V, 1e-5, 1e-4, &worst);
            if (e > 1.0) fail_msg("logits[%d,%d,%zu]: warm %.8g torch %.8g", b, t, worst, (double)logits[off + worst],
                                  (double)want[off + worst]);
        }
    warm_model_zero_grad(&g->m);
    float loss = warm_trainer_lm_step(g->tr, tok, len, tgt, mask, B, T, 0, 0, 1);
    assert_float_equal(loss, loss_want[0], 1e-5);
    check_grads(g, "lm.grad.", 0);
    free(tok); free(len); free(tgt); free(mask); free(want); free(loss_want); free(logits);
}

static void test_bt(void **state) {
    golden *g = *state;
    int32_t *tok = get_i32(g, "bt.tokens", 48), *len = get_i32(g, "bt.lengths", 4);
    float *margins = get_f32(g, "bt.margins", 2), *center = get_f32(g, "bt.center", 1);
    float *rw = get_f32(g, "bt.rewards", 4), *loss_want = get_f32(g, "bt.loss", 1);
    float r[4];
    warm_model_zero_grad(&g->m);
    warm_bt_stats st = warm_trainer_bt_step(g->tr, tok, len, 2, 12, margins, center[0], 0, 0, 1, r);
    for (int i = 0; i < 4; i++) assert_float_equal(r[i], rw[i], 1e-5);
    assert_float_equal(st.loss, loss_want[0], 1e-5);
    check_grads(g, "bt.grad.", 1);
    free(tok); free(len); free(margins); free(center); free(rw); free(loss_want);
}

static void test_adamw(void **state) {
    golden *g = *state;
    warm_model *m = &g->m;
    int32_t *tok = get_i32(g, "bt.tokens", 48), *len = get_i32(g, "bt.lengths", 4);
    float *margins = get_f32(g, "bt.margins", 2), *center = get_f32(g, "bt.center", 1);
    float *max_norm = get_f32(g, "adam.max_norm", 1), *losses = get_f32(g, "adam.losses", 3);
    float *norms = get_f32(g, "adam.grad_norms", 3);
    warm_adamw_config oc = warm_adamw_default(1e-2f);
    oc.weight_decay = 0.1f;
    oc.grad_clip = max_norm[0];
    warm_model_zero_grad(m);
    for (int s = 0; s < 3; s++) {
        warm_bt_stats st = warm_trainer_bt_step(g->tr, tok, len, 2, 12, margins, center[0], 0, 0, 1, NULL);
        assert_float_equal(st.loss, losses[s], 2e-5);
        float norm = warm_model_adamw_step(m, &oc, 0);
        assert_float_equal(norm, norms[s], 1e-4 * norms[s]);
    }
    /* Key-bias entries [C, 2C) of c_attn.bias have a zero true gradient: their Adam step follows rounding
     * noise, so they are skipped (fixtures README). Everything else: max 2e-3 and mean 5e-6. */
    int C = m->cfg.n_embd;
    double sum = 0, worst = 0;
    size_t count = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const warm_tensor *t = &m->tensors[i];
        char name[128];
        snprintf(name, sizeof name, "adam.%s", t->name);
        float *want = get_f32(g, name, t->numel);
        int key_bias = strstr(t->name, "c_attn.bias") != NULL;
        for (size_t j = 0; j < t->numel; j++) {
            if (key_bias && (int)j >= C && (int)j < 2 * C) continue;
            double e = fabs((double)m->params[t->offset + j] - (double)want[j]);
            if (e > 2e-3) fail_msg("%s[%zu]: warm %.8g torch %.8g", name, j, (double)m->params[t->offset + j], (double)want[j]);
            sum += e;
            worst = fmax(worst, e);
            count++;
        }
        free(want);
    }
    print_message("adamw: %zu entries, mean abs diff %.3g, max %.3g\n", count, sum / (double)count, worst);
    assert_true(sum / (double)count < 5e-6);
    free(tok); free(len); free(margins); free(center); free(max_norm); free(losses); free(norms);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lm),
        cmocka_unit_test(test_bt),
        cmocka_unit_test(test_adamw),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
