/*
 * test_pairs.c — the shared-prefix packed pair step (warm_trainer_set_pair_packing, see train.c "Shared-prefix
 * pairs") and its tree attention kernels (warm_attention_tree_*).
 *
 * Kernel: the tree forward and backward against a double-precision reference written from the definition in
 * kernels.h (every query attends causally within its own sequence; dropout element (r*NH + h)*T + s), with and
 * without dropout, on pairs with an empty prefix, 1-token continuations and a full-context sequence; the
 * last-row kernels bit-identical to the pooled rows of the full ones (backward: dout zero elsewhere).
 * Model, dropout 0: the packed BT step against the padded two-sequence step on pairs with prompts of different
 * lengths, continuations of unequal lengths, a 1-token response, responses sharing their first tokens, a pair
 * sharing no prefix, and a batch of one pair: loss and rewards within 1e-5 relative, every parameter gradient
 * within 1e-5 relative + 1e-5 x (the tensor's largest gradient) absolute, last layer pruned and not.
 * Packed pruned vs packed full with dropout 0.1 (same masks: the same tolerance). Finite differences of the
 * packed loss on a tiny model (dropout on, fixed key). 1 vs 2 threads bit-identical (dropout on, pruned and
 * not), and the same key gives the same bits twice.
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
#ifdef _OPENMP
#include <omp.h>
#endif

#include "test_util.h"
#include "warm/kernels.h"
#include "warm/model.h"

/* ---- kernels ---- */

enum { KT = 37, KC = 200, KNH = 2, KP = 4 }; /* HS = 100: the 64-, 16- and 1-column paths */
static const warm_tree_pair kpairs[KP] = {{0, 20, 5, 17}, {42, 0, 3, 1}, {46, 36, 1, 1}, {84, 10, 27, 2}};
enum { KN = 123 };

/* Packed row of position t of sequence k of pair pr. */
static int ref_row(const warm_tree_pair *pr, int k, int t) {
    return pr->start + t + (k && t >= pr->prefix ? pr->len_a : 0);
}

/* Double reference of the tree attention: out (N, C) and, if dout is non-NULL, dqkv (N, 3C) (zeroed here). */
static void ref_tree(double *out, double *dqkv, const float *qkv, const float *dout, float p, uint64_t key) {
    int HS = KC / KNH;
    float scale = 1.0f / sqrtf((float)HS), inv = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    memset(out, 0, (size_t)KN * KC * sizeof(double));
    if (dqkv) memset(dqkv, 0, (size_t)KN * 3 * KC * sizeof(double));
    double P[KT], Pd[KT], m[KT], dS[KT];
    for (int i = 0; i < KP; i++)
        for (int k = 0; k < 2; k++) {
            const warm_tree_pair *pr = &kpairs[i];
            int n = pr->prefix + (k ? pr->len_b : pr->len_a);
            for (int t = k ? pr->prefix : 0; t < n; t++)
                for (int h = 0; h < KNH; h++) {
                    int r = ref_row(pr, k, t);
                    const float *q = qkv + (size_t)r * 3 * KC + h * HS;
                    double mx = -INFINITY, sum = 0;
                    for (int s = 0; s <= t; s++) {
                        const float *kk = qkv + (size_t)ref_row(pr, k, s) * 3 * KC + KC + h * HS;
                        double d = 0;
                        for (int j = 0; j < HS; j++) d += (double)q[j] * (double)kk[j];
                        P[s] = d * (double)scale;
                        mx = fmax(mx, P[s]);
                    }
                    for (int s = 0; s <= t; s++) sum += (P[s] = exp(P[s] - mx));
                    uint64_t base = ((uint64_t)r * KNH + (uint64_t)h) * KT;
                    for (int s = 0; s <= t; s++) {
                        P[s] /= sum;
                        m[s] = p > 0.0f ? (double)warm_dropout_keep(key, base + (uint64_t)s, p) * (double)inv : 1.0;
                        Pd[s] = P[s] * m[s];
                    }
                    for (int s = 0; s <= t; s++) {
                        const float *v = qkv + (size_t)ref_row(pr, k, s) * 3 * KC + 2 * KC + h * HS;
                        for (int j = 0; j < HS; j++) out[(size_t)r * KC + h * HS + j] += Pd[s] * (double)v[j];
                    }
                    if (!dqkv) continue;
                    const float *g = dout + (size_t)r * KC + h * HS;
                    double pdp = 0;
                    for (int s = 0; s <= t; s++) {
                        const float *v = qkv + (size_t)ref_row(pr, k, s) * 3 * KC + 2 * KC + h * HS;
                        double d = 0;
                        for (int j = 0; j < HS; j++) d += (double)g[j] * (double)v[j];
                        dS[s] = d * m[s]; /* dP */
                        pdp += P[s] * dS[s];
                    }
                    for (int s = 0; s <= t; s++) {
                        dS[s] = P[s] * (dS[s] - pdp) * (double)scale;
                        int rs = ref_row(pr, k, s);
                        const float *kk = qkv + (size_t)rs * 3 * KC + KC + h * HS;
                        double *dq = dqkv + (size_t)r * 3 * KC + h * HS, *dk = dqkv + (size_t)rs * 3 * KC + KC + h * HS;
                        double *dv = dk + KC;
                        for (int j = 0; j < HS; j++) {
                            dq[j] += dS[s] * (double)kk[j];
                            dk[j] += dS[s] * (double)q[j];
                            dv[j] += Pd[s] * (double)g[j];
                        }
                    }
                }
        }
}

/* Max over n of |a - b| / (atol + rtol |b|) against a double reference. */
static double err_vs_ref(const float *a, const double *b, size_t n, double atol, double rtol) {
    double e = 0;
    for (size_t i = 0; i < n; i++) e = fmax(e, fabs((double)a[i] - b[i]) / (atol + rtol * fabs(b[i])));
    return e;
}

static void check_tree_kernels(float p) {
    size_t nqkv = (size_t)KN * 3 * KC, natt = (size_t)KN * KNH * KT;
    float *qkv = malloc(nqkv * sizeof(float)), *out = malloc((size_t)KN * KC * sizeof(float));
    float *att = malloc(natt * sizeof(float)), *dout = malloc((size_t)KN * KC * sizeof(float));
    float *dqkv = malloc(nqkv * sizeof(float));
    double *rout = malloc((size_t)KN * KC * sizeof(double)), *rdqkv = malloc(nqkv * sizeof(double));
    test_fill_normal(qkv, nqkv, 11, 1.0f);
    test_fill_normal(dout, (size_t)KN * KC, 12, 1.0f);
    uint64_t key = 0x7ee5u;
    warm_attention_tree_forward(out, att, qkv, kpairs, KP, KT, KC, KNH, p, key);
    for (size_t i = 0; i < nqkv; i++) dqkv[i] = NAN; /* every row must be overwritten */
    warm_attention_tree_backward(dqkv, dout, qkv, att, kpairs, KP, KT, KC, KNH, p, key, NULL, 0);
    ref_tree(rout, rdqkv, qkv, dout, p, key);
    double ef = err_vs_ref(out, rout, (size_t)KN * KC, 1e-6, 1e-5), eb = err_vs_ref(dqkv, rdqkv, nqkv, 1e-6, 1e-5);
    print_message("p=%.1f: forward %.3g, backward %.3g x tolerance (1e-5 rel + 1e-6 abs)\n", (double)p, ef, eb);
    assert_true(ef <= 1.0);
    assert_true(eb <= 1.0);

    /* Last rows only: forward = those rows of the full kernel; backward = full backward with dout zero elsewhere. */
    float *out_l = malloc((size_t)2 * KP * KC * sizeof(float)), *att_l = malloc((size_t)2 * KP * KNH * KT * sizeof(float));
    float *dz = calloc((size_t)KN * KC, sizeof(float)), *dq_full = malloc(nqkv * sizeof(float));
    float *dq_last = malloc(nqkv * sizeof(float));
    warm_attention_tree_forward_last(out_l, att_l, qkv, kpairs, KP, KT, KC, KNH, p, key);
    for (int i = 0; i < KP; i++)
        for (int k = 0; k < 2; k++) {
            const warm_tree_pair *pr = &kpairs[i];
            int r = ref_row(pr, k, pr->prefix + (k ? pr->len_b : pr->len_a) - 1), o = k * KP + i;
            assert_memory_equal(out_l + (size_t)o * KC, out + (size_t)r * KC, KC * sizeof(float));
            assert_memory_equal(att_l + (size_t)o * KNH * KT, att + (size_t)r * KNH * KT, KNH * KT * sizeof(float));
            memcpy(dz + (size_t)r * KC, dout + (size_t)o * KC, KC * sizeof(float));
        }
    warm_attention_tree_backward(dq_full, dz, qkv, att, kpairs, KP, KT, KC, KNH, p, key, NULL, 0);
    for (size_t i = 0; i < nqkv; i++) dq_last[i] = NAN;
    warm_attention_tree_backward_last(dq_last, dout, qkv, att_l, kpairs, KP, KT, KC, KNH, p, key, NULL, 0);
    assert_memory_equal(dq_last, dq_full, nqkv * sizeof(float));
    free(qkv); free(out); free(att); free(dout); free(dqkv); free(rout); free(rdqkv);
    free(out_l); free(att_l); free(dz); free(dq_full); free(dq_last);
}

static void test_tree_attention(void **state) {
    (void)state;
    check_tree_kernels(0.0f);
    check_tree_kernels(0.1f);
}

/* ---- the BT step ---- */

enum { MV = 61 };

typedef struct {
    warm_model m;
    warm_trainer *tr;
    int P, T;
    int32_t *tok, *len;
    float *margins;
} pair_case;

/*
 * P pairs in (2P, T) right-padded rows: a prompt of plen[p] tokens, then responses of rc[p] and rr[p] tokens;
 * the first `same[p]` response tokens are shared (a longer common prefix than the prompt). plen[p] < 0 makes
 * the two rows differ from the first token (no common prefix at all).
 */
static void case_init(pair_case *k, int L, int NH, int C, int P, int T, const int *plen, const int *rc, const int *rr,
                      const int *same, float drop) {
    warm_config cfg = warm_config_default(MV, T, L, NH, C);
    cfg.embd_pdrop = cfg.attn_pdrop = cfg.resid_pdrop = drop;
    warm_error err;
    assert_int_equal(warm_model_init(&k->m, &cfg, &err), WARM_OK);
    assert_int_equal(warm_model_alloc_train(&k->m, &err), WARM_OK);
    warm_model_init_weights(&k->m, 5);
    warm_rng r;
    warm_rng_seed(&r, 6);
    for (size_t i = 0; i < k->m.n_params; i++) k->m.params[i] += 0.05f * warm_rng_normal(&r);
    assert_int_equal(warm_trainer_init(&k->tr, &k->m, 2 * P, T, 0, &err), WARM_OK);
    k->P = P;
    k->T = T;
    k->tok = malloc((size_t)2 * P * T * sizeof *k->tok);
    k->len = malloc((size_t)2 * P * sizeof *k->len);
    k->margins = malloc((size_t)P * sizeof *k->margins);
    warm_rng_seed(&r, 7);
    for (int p = 0; p < P; p++) {
        int32_t *a = k->tok + (size_t)p * T, *b = k->tok + (size_t)(P + p) * T;
        int pl = plen[p] < 0 ? 0 : plen[p];
        for (int t = 0; t < T; t++) a[t] = b[t] = MV - 1; /* pads */
        for (int t = 0; t < pl; t++) a[t] = b[t] = (int32_t)warm_rng_below(&r, MV - 1);
        for (int t = 0; t < rc[p]; t++) a[pl + t] = (int32_t)warm_rng_below(&r, MV - 1);
        for (int t = 0; t < rr[p]; t++) b[pl + t] = t < same[p] ? a[pl + t] : (int32_t)warm_rng_below(&r, MV - 1);
        if (plen[p] < 0) b[0] = (a[0] + 1) % (MV - 1);
        if (same[p] < rr[p] && same[p] < rc[p] && b[pl + same[p]] == a[pl + same[p]])
            b[pl + same[p]] = (a[pl + same[p]] + 1) % (MV - 1);
        k->len[p] = pl + rc[p];
        k->len[P + p] = pl + rr[p];
        assert_true(k->len[p] <= T && k->len[P + p] <= T);
        k->margins[p] = 0.1f * (float)p;
    }
}

static void case_free(pair_case *k) {
    warm_trainer_free(k->tr);
    warm_model_free(&k->m);
    free(k->tok); free(k->len); free(k->margins);
}

/* One BT step (fresh gradients, dropout key 42 when the model has dropout); grads to g, rewards to r. */
static float case_step(pair_case *k, int packed, int prune, float *g, float *r) {
    warm_trainer_set_pair_packing(k->tr, packed);
    warm_trainer_set_prune(k->tr, prune);
    warm_model_zero_grad(&k->m);
    warm_bt_stats st = warm_trainer_bt_step(k->tr, k->tok, k->len, k->P, k->T, k->margins, 0.05f, 1, 42, 1, r);
    memcpy(g, k->m.grads, k->m.n_params * sizeof(float));
    return st.loss;
}

/* Gradients a vs b per tensor: |a - b| <= 1e-5 |b| + 1e-5 max|b over the tensor| (+ 1e-9). Returns the worst. */
static double grads_close(const warm_model *m, const float *a, const float *b) {
    double worst = 0.0;
    for (int i = 0; i < m->n_tensors; i++) {
        const warm_tensor *t = &m->tensors[i];
        double mx = 0.0;
        for (size_t j = 0; j < t->numel; j++) mx = fmax(mx, fabs((double)b[t->offset + j]));
        size_t w;
        double e = test_max_rel_err(a + t->offset, b + t->offset, t->numel, 1e-9 + 1e-5 * mx, 1e-5, &w);
        if (e > 1.0)
            print_error("%s[%zu]: %.9g vs %.9g (%.3g x tolerance)\n", t->name, w, (double)a[t->offset + w],
                        (double)b[t->offset + w], e);
        worst = fmax(worst, e);
    }
    return worst;
}

/* Packed vs padded with dropout 0, pruned and not. */
static void check_packed_equals_padded(int P, int T, const int *plen, const int *rc, const int *rr, const int *same) {
    pair_case k;
    case_init(&k, 3, 2, 64, P, T, plen, rc, rr, same, 0.0f);
    size_t n = k.m.n_params;
    float *gpad = malloc(n * sizeof(float)), *gpk = malloc(n * sizeof(float));
    float rpad[64], rpk[64];
    for (int prune = 0; prune <= 1; prune++) {
        float lpad = case_step(&k, 0, prune, gpad, rpad), lpk = case_step(&k, 1, prune, gpk, rpk);
        double el = test_max_rel_err(&lpk, &lpad, 1, 1e-9, 1e-5, NULL);
        double er = test_max_rel_err(rpk, rpad, (size_t)2 * P, 1e-7, 1e-5, NULL);
        double eg = grads_close(&k.m, gpk, gpad);
        print_message("P=%d prune=%d: loss padded %.9g packed %.9g; worst x tolerance: loss %.3g rewards %.3g "
                      "gradients %.3g\n", P, prune, (double)lpad, (double)lpk, el, er, eg);
        assert_true(el <= 1.0);
        assert_true(er <= 1.0);
        assert_true(eg <= 1.0);
    }
    free(gpad); free(gpk);
    case_free(&k);
}

static void test_packed_equals_padded(void **state) {
    (void)state;
    /* prompts of different lengths; responses unequal, 1 token, sharing 3 first tokens, no common prefix */
    const int plen[6] = {20, 31, 5, -1, 12, 0}, rc[6] = {7, 1, 9, 10, 4, 6}, rr[6] = {3, 9, 9, 4, 16, 6};
    const int same[6] = {0, 0, 3, 0, 0, 2};
    check_packed_equals_padded(6, 40, plen, rc, rr, same);
}

static void test_packed_one_pair(void **state) {
    (void)state;
    const int plen[1] = {17}, rc[1] = {1}, rr[1] = {5}, same[1] = {0};
    check_packed_equals_padded(1, 24, plen, rc, rr, same);
}

/* Identical chosen and rejected: the prefix is capped so both keep their last token (reward difference 0). */
static void test_packed_identical_pair(void **state) {
    (void)state;
    const int plen[2] = {8, 3}, rc[2] = {4, 2}, rr[2] = {4, 5}, same[2] = {4, 2};
    pair_case k;
    case_init(&k, 2, 2, 32, 2, 16, plen, rc, rr, same, 0.0f);
    size_t n = k.m.n_params;
    float *g0 = malloc(n * sizeof(float)), *g1 = malloc(n * sizeof(float)), r0[4], r1[4];
    float l0 = case_step(&k, 0, 1, g0, r0), l1 = case_step(&k, 1, 1, g1, r1);
    assert_true(r1[0] == r1[2]); /* pair 0: identical sequences, identical rewards */
    assert_true(test_max_rel_err(&l1, &l0, 1, 1e-9, 1e-5, NULL) <= 1.0);
    assert_true(test_max_rel_err(r1, r0, 4, 1e-7, 1e-5, NULL) <= 1.0);
    assert_true(grads_close(&k.m, g1, g0) <= 1.0);
    free(g0); free(g1);
    case_free(&k);
}

/* Pruned vs full packed step with dropout on: the same masks, so the same values up to rounding. */
static void test_packed_pruned_matches_full(void **state) {
    (void)state;
    const int plen[4] = {11, 2, -1, 14}, rc[4] = {5, 1, 6, 2}, rr[4] = {2, 12, 3, 9}, same[4] = {0, 0, 0, 1};
    pair_case k;
    case_init(&k, 3, 2, 64, 4, 24, plen, rc, rr, same, 0.1f);
    size_t n = k.m.n_params;
    float *gf = malloc(n * sizeof(float)), *gp = malloc(n * sizeof(float)), rf[8], rp[8];
    float lf = case_step(&k, 1, 0, gf, rf), lp = case_step(&k, 1, 1, gp, rp);
    print_message("dropout 0.1: loss full %.9g pruned %.9g\n", (double)lf, (double)lp);
    assert_true(test_max_rel_err(&lp, &lf, 1, 1e-9, 1e-6, NULL) <= 1.0);
    assert_true(test_max_rel_err(rp, rf, 8, 1e-7, 1e-6, NULL) <= 1.0);
    assert_true(grads_close(&k.m, gp, gf) <= 1.0);
    /* the same key gives the same bits; dropout does change the result */
    float *g2 = malloc(n * sizeof(float)), r2[8];
    float l2 = case_step(&k, 1, 1, g2, r2);
    assert_memory_equal(&l2, &lp, sizeof l2);
    assert_memory_equal(g2, gp, n * sizeof(float));
    free(gf); free(gp); free(g2);
    case_free(&k);
}

/* Central differences of the packed loss (dropout 0.1 with a fixed key) on a tiny model. */
static void test_packed_finite_differences(void **state) {
    (void)state;
    const int plen[3] = {5, -1, 2}, rc[3] = {3, 2, 1}, rr[3] = {1, 4, 6}, same[3] = {0, 0, 0};
    pair_case k;
    case_init(&k, 2, 2, 8, 3, 10, plen, rc, rr, same, 0.2f);
    warm_model *m = &k.m;
    warm_rng r; /* larger weights (as test_model's FD check): every path carries signal */
    warm_rng_seed(&r, 8);
    for (size_t i = 0; i < m->n_params; i++) m->params[i] += 0.3f * warm_rng_normal(&r);
    warm_trainer_set_pair_packing(k.tr, 1);
    warm_model_zero_grad(m);
    warm_trainer_bt_step(k.tr, k.tok, k.len, 3, 10, k.margins, 0.05f, 1, 99, 1, NULL);
    /* h = 1e-2: rounding noise (~1e-7 / h) and truncation error (~h^2) both ~1e-4 (as test_model's FD check) */
    const float h = 1e-2f;
    int checked = 0, bad = 0;
    for (int ti = 0; ti < m->n_tensors; ti++) {
        const warm_tensor *t = &m->tensors[ti];
        for (size_t j = 0; j < t->numel; j += 1 + t->numel / 7) {
            float *p = m->params + t->offset + j, saved = *p;
            *p = saved + h;
            double lp = warm_trainer_bt_step(k.tr, k.tok, k.len, 3, 10, k.margins, 0.05f, 1, 99, 0, NULL).loss;
            *p = saved - h;
            double lm = warm_trainer_bt_step(k.tr, k.tok, k.len, 3, 10, k.margins, 0.05f, 1, 99, 0, NULL).loss;
            *p = saved;
            double fd = (lp - lm) / (2.0 * (double)h), an = m->grads[t->offset + j];
            checked++;
            if (fabs(fd - an) > 2e-3 + 2e-2 * fabs(an)) {
                bad++;
                print_error("%s[%zu]: fd %.6g analytic %.6g\n", t->name, j, fd, an);
            }
        }
    }
    print_message("%d parameters checked\n", checked);
    assert_true(checked > 100);
    assert_int_equal(bad, 0);
    case_free(&k);
}

static void test_packed_thread_invariance(void **state) {
    (void)state;
#ifdef _OPENMP
    const int plen[5] = {30, 9, -1, 22, 40}, rc[5] = {12, 1, 20, 8, 3}, rr[5] = {17, 14, 2, 8, 9};
    const int same[5] = {0, 0, 0, 4, 0};
    pair_case k;
    case_init(&k, 2, 4, 64, 5, 64, plen, rc, rr, same, 0.1f);
    size_t n = k.m.n_params;
    float *g1 = malloc(n * sizeof(float)), *g2 = malloc(n * sizeof(float)), r1[10], r2[10];
    int saved = omp_get_max_threads();
    for (int prune = 0; prune <= 1; prune++) {
        omp_set_num_threads(1);
        float l1 = case_step(&k, 1, prune, g1, r1);
        omp_set_num_threads(2);
        float l2 = case_step(&k, 1, prune, g2, r2);
        assert_memory_equal(&l1, &l2, sizeof l1);
        assert_memory_equal(r1, r2, sizeof r1);
        assert_memory_equal(g1, g2, n * sizeof(float));
    }
    omp_set_num_threads(saved);
    free(g1); free(g2);
    case_free(&k);
#else
    skip();
#endif
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_attention),
        cmocka_unit_test(test_packed_equals_padded),
        cmocka_unit_test(test_packed_one_pair),
        cmocka_unit_test(test_packed_identical_pair),
        cmocka_unit_test(test_packed_pruned_matches_full),
        cmocka_unit_test(test_packed_finite_differences),
        cmocka_unit_test(test_packed_thread_invariance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
