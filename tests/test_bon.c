/*
 * test_bon.c — best-of-n (warm/bon.h): the unbiased pool estimator and both exact win rates against
 * brute-force enumeration of every n-subset of small pools (ties in proxy and control rewards included, tie
 * rule: first-occurrence argmax), KL values by hand, the doubling ladder, n = 1 giving the pool (SFT) mean for
 * every selector, all selectors evaluated on one pool equal to each evaluated alone, a selector against
 * itself winning exactly 1/2, and argument errors.
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
#include "warm/bon.h"

#define TOL 1e-12

/* Pool with ties: values drawn from a few levels. */
static void fill(float *v, int K, int levels, warm_rng *rng) {
    for (int k = 0; k < K; k++) v[k] = (float)warm_rng_below(rng, (uint32_t)levels) * 0.5f - 1.0f;
}

/* First-occurrence argmax of v over the members of mask. */
static int pick(const float *v, int K, unsigned mask) {
    int best = -1;
    for (int k = 0; k < K; k++)
        if ((mask >> k) & 1u)
            if (best < 0 || v[k] > v[best]) best = k;
    return best;
}

static double cmp(float a, float b) { return a > b ? 1.0 : a == b ? 0.5 : 0.0; }

typedef struct {
    double proxy, control, win_sft, win_ref;
} brute_res;

/* Every n-subset of the pool, equally likely. */
static brute_res brute(const float *pa, const float *pb, const float *g, int K, int n) {
    brute_res r = {0, 0, 0, 0};
    long count = 0;
    for (unsigned mask = 0; mask < (1u << K); mask++) {
        if (__builtin_popcount(mask) != n) continue;
        int a = pick(pa, K, mask), b = pick(pb, K, mask);
        double sft = 0;
        for (int j = 0; j < K; j++) sft += cmp(g[a], g[j]);
        r.proxy += (double)pa[a];
        r.control += (double)g[a];
        r.win_sft += sft / K;
        r.win_ref += cmp(g[a], g[b]);
        count++;
    }
    r.proxy /= (double)count;
    r.control /= (double)count;
    r.win_sft /= (double)count;
    r.win_ref /= (double)count;
    return r;
}

static void test_brute_force(void **state) {
    (void)state;
    warm_rng rng;
    warm_rng_seed(&rng, 7);
    float pa[10], pb[10], g[10];
    int checked = 0;
    for (int K = 1; K <= 10; K++)
        for (int trial = 0; trial < 12; trial++) {
            /* trial 0: every proxy equal (pure tie rule); otherwise few levels -> many ties */
            fill(pa, K, trial == 0 ? 1 : 2 + trial % 4, &rng);
            fill(pb, K, 2 + trial % 3, &rng);
            fill(g, K, 2 + trial % 5, &rng);
            for (int n = 1; n <= K; n++) {
                brute_res r = brute(pa, pb, g, K, n);
                double e = 0, ep = 0, ws = 0, wr = 0;
                assert_int_equal(warm_bon_expect(pa, g, K, n, &e, NULL), WARM_OK);
                assert_int_equal(warm_bon_expect(pa, pa, K, n, &ep, NULL), WARM_OK);
                assert_int_equal(warm_bon_winrate_sft(pa, g, K, n, &ws, NULL), WARM_OK);
                assert_int_equal(warm_bon_winrate_ref(pa, pb, g, K, n, &wr, NULL), WARM_OK);
                if (fabs(e - r.control) > TOL || fabs(ep - r.proxy) > TOL || fabs(ws - r.win_sft) > TOL ||
                    fabs(wr - r.win_ref) > TOL)
                    fail_msg("K=%d n=%d trial=%d: control %.15g vs %.15g, proxy %.15g vs %.15g, win_sft %.15g vs "
                             "%.15g, win_ref %.15g vs %.15g",
                             K, n, trial, e, r.control, ep, r.proxy, ws, r.win_sft, wr, r.win_ref);
                /* the same through warm_bon_evaluate: two selectors on one pool, ref = the second */
                const float *px[2] = {pa, pb};
                int ns[1] = {n};
                warm_bon_point pt[2];
                assert_int_equal(warm_bon_evaluate(1, K, g, px, 2, 1, ns, 1, pt, NULL), WARM_OK);
                assert_true(fabs(pt[0].control_mean - r.control) <= TOL);
                assert_true(fabs(pt[0].proxy_mean - r.proxy) <= TOL);
                assert_true(fabs(pt[0].win_sft - r.win_sft) <= TOL);
                assert_true(fabs(pt[0].win_ref - r.win_ref) <= TOL);
                assert_true(fabs(pt[1].win_ref - 0.5) <= TOL);
                checked++;
            }
        }
    assert_int_equal(checked, 12 * 55);
}

/* All proxies equal: the pick is the subset's lowest index; P(k) = C(K-1-k, n-1) / C(K, n) (0-based k). */
static void test_tie_rule_by_hand(void **state) {
    (void)state;
    float p[4] = {1, 1, 1, 1}, g[4] = {10, 20, 30, 40};
    double e;
    /* K = 4, n = 2: P(0) = 3/6, P(1) = 2/6, P(2) = 1/6, P(3) = 0 */
    assert_int_equal(warm_bon_expect(p, g, 4, 2, &e, NULL), WARM_OK);
    assert_true(fabs(e - (10 * 3 + 20 * 2 + 30 * 1) / 6.0) < TOL);
    int order[4], rank[4];
    warm_bon_order(p, 4, order, rank);
    for (int r = 0; r < 4; r++) assert_int_equal(order[r], 3 - r);
    for (int k = 0; k < 4; k++) assert_int_equal(rank[k], 3 - k);
}

static void test_kl(void **state) {
    (void)state;
    assert_true(fabs(warm_bon_kl(1)) < 1e-15);
    assert_true(fabs(warm_bon_kl(2) - (log(2.0) - 0.5)) < 1e-15);
    assert_true(fabs(warm_bon_kl(2) - 0.1931471805599453) < 1e-15);
    assert_true(fabs(warm_bon_kl(8) - (log(8.0) - 7.0 / 8.0)) < 1e-15);
    assert_true(fabs(warm_bon_kl(1000) - (log(1000.0) - 0.999)) < 1e-13);
    assert_true(fabs(warm_bon_kl(1000) - 5.908755278982137) < 1e-12); /* the paper's 5.91 */
}

static void test_ladder(void **state) {
    (void)state;
    int ns[32], c = 0;
    assert_int_equal(warm_bon_ladder(8, ns, &c, NULL), WARM_OK);
    assert_int_equal(c, 4);
    assert_int_equal(ns[0], 1); assert_int_equal(ns[1], 2); assert_int_equal(ns[2], 4); assert_int_equal(ns[3], 8);
    assert_int_equal(warm_bon_ladder(10, ns, &c, NULL), WARM_OK);
    assert_int_equal(c, 5);
    assert_int_equal(ns[3], 8); assert_int_equal(ns[4], 10);
    assert_int_equal(warm_bon_ladder(1, ns, &c, NULL), WARM_OK);
    assert_int_equal(c, 1);
    assert_int_equal(ns[0], 1);
    assert_int_equal(warm_bon_ladder(2147483647, ns, &c, NULL), WARM_OK);
    assert_int_equal(c, 32);
    assert_int_equal(ns[31], 2147483647);
    warm_error err = {0};
    assert_int_equal(warm_bon_ladder(0, ns, &c, &err), WARM_ERR_ARG);
}

static void test_weights(void **state) {
    (void)state;
    enum { K = 1000 };
    static double w[K];
    int ns[] = {1, 2, 37, 500, 999, 1000};
    for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
        int n = ns[t];
        assert_int_equal(warm_bon_weights(K, n, w, NULL), WARM_OK);
        double sum = 0, lk = lgamma(K + 1.0) - lgamma(n + 1.0) - lgamma(K - n + 1.0);
        for (int r = 0; r < K; r++) {
            sum += w[r];
            int i = r + 1;
            double ref = i < n ? 0.0 : exp(lgamma((double)i) - lgamma((double)n) - lgamma((double)(i - n + 1)) - lk);
            if (fabs(w[r] - ref) > 1e-12 * fmax(1.0, ref * K)) fail_msg("n=%d rank %d: %.17g vs %.17g", n, i, w[r], ref);
        }
        assert_true(fabs(sum - 1.0) < 1e-12);
    }
    warm_error err = {0};
    assert_int_equal(warm_bon_weights(K, 0, w, &err), WARM_ERR_ARG);
    assert_int_equal(warm_bon_weights(K, K + 1, w, &err), WARM_ERR_ARG);
}

/* n = 1: every selector's expected control reward is the pool (SFT) mean, its win rate vs SFT exactly 1/2. */
static void test_n1_is_sft_mean(void **state) {
    (void)state;
    enum { P = 5, K = 24, S = 3 };
    static float g[P * K], p0[P * K], p1[P * K], p2[P * K];
    warm_rng rng;
    warm_rng_seed(&rng, 3);
    for (int i = 0; i < P * K; i++) {
        g[i] = warm_rng_normal(&rng);
        p0[i] = warm_rng_normal(&rng);
        p1[i] = (float)warm_rng_below(&rng, 3);
        p2[i] = g[i] + 0.1f * warm_rng_normal(&rng);
    }
    double mean = 0;
    for (int p = 0; p < P; p++) {
        double m = 0;
        for (int k = 0; k < K; k++) m += (double)g[p * K + k];
        mean += m / K;
    }
    mean /= P;
    const float *px[S] = {p0, p1, p2};
    int ns[32], c;
    assert_int_equal(warm_bon_ladder(K, ns, &c, NULL), WARM_OK);
    warm_bon_point out[S * 32];
    assert_int_equal(warm_bon_evaluate(P, K, g, px, S, 0, ns, c, out, NULL), WARM_OK);
    for (int s = 0; s < S; s++) {
        assert_int_equal(out[s * c].n, 1);
        assert_true(fabs(out[s * c].control_mean - mean) < 1e-12);
        assert_true(fabs(out[s * c].win_sft - 0.5) < 1e-12);
        assert_true(fabs(out[s * c].kl) < 1e-15);
        assert_int_equal(out[s * c + c - 1].n, K);
    }
    /* a proxy equal to the control reward (up to noise) gains with n; n = K picks the top proxy */
    assert_true(out[2 * c + c - 1].control_mean > out[2 * c].control_mean);
    assert_true(out[2 * c + c - 1].win_sft > 0.5);
}

/* All selectors on one pool: each point equals the selector evaluated alone (win_ref: against the ref alone),
 * identical selectors get identical points, and every selector against itself wins exactly 1/2. */
static void test_same_pool(void **state) {
    (void)state;
    enum { P = 4, K = 40, S = 4 };
    static float g[P * K], pr[S][P * K];
    warm_rng rng;
    warm_rng_seed(&rng, 11);
    for (int i = 0; i < P * K; i++) {
        g[i] = (float)warm_rng_below(&rng, 7);
        pr[0][i] = warm_rng_normal(&rng);
        pr[1][i] = (float)warm_rng_below(&rng, 5);
        pr[2][i] = pr[0][i];
        pr[3][i] = g[i] + warm_rng_normal(&rng);
    }
    const float *px[S] = {pr[0], pr[1], pr[2], pr[3]};
    int ns[32], c;
    assert_int_equal(warm_bon_ladder(32, ns, &c, NULL), WARM_OK);
    int ref = 3;
    warm_bon_point all[S * 32];
    assert_int_equal(warm_bon_evaluate(P, K, g, px, S, ref, ns, c, all, NULL), WARM_OK);
    for (int s = 0; s < S; s++) {
        warm_bon_point alone[32], pair[64];
        assert_int_equal(warm_bon_evaluate(P, K, g, &px[s], 1, 0, ns, c, alone, NULL), WARM_OK);
        const float *two[2] = {px[s], px[ref]};
        assert_int_equal(warm_bon_evaluate(P, K, g, two, 2, 1, ns, c, pair, NULL), WARM_OK);
        for (int j = 0; j < c; j++) {
            const warm_bon_point *a = &all[s * c + j];
            assert_int_equal(a->n, ns[j]);
            assert_true(a->proxy_mean == alone[j].proxy_mean);
            assert_true(a->control_mean == alone[j].control_mean);
            assert_true(a->win_sft == alone[j].win_sft);
            assert_true(fabs(alone[j].win_ref - 0.5) < 1e-12); /* alone, a selector is its own reference */
            /* the reference itself gets the identity 1/2, the pair run its rounded sum */
            if (s == ref) assert_true(fabs(a->win_ref - pair[j].win_ref) < 1e-12);
            else assert_true(a->win_ref == pair[j].win_ref);
            /* per prompt, through the single-pool function */
            double wr = 0;
            for (int p = 0; p < P; p++) {
                double x;
                assert_int_equal(warm_bon_winrate_ref(px[s] + p * K, px[ref] + p * K, g + p * K, K, ns[j], &x, NULL),
                                 WARM_OK);
                wr += x;
            }
            assert_true(fabs(a->win_ref - wr / P) < 1e-12);
        }
    }
    for (int j = 0; j < c; j++) {
        assert_true(all[0 * c + j].control_mean == all[2 * c + j].control_mean);
        assert_true(all[0 * c + j].win_ref == all[2 * c + j].win_ref);
        assert_true(fabs(all[ref * c + j].win_ref - 0.5) < 1e-12);
        double self;
        assert_int_equal(warm_bon_winrate_ref(pr[1], pr[1], g, K, ns[j], &self, NULL), WARM_OK);
        assert_true(fabs(self - 0.5) < 1e-12);
    }
}

static void test_errors(void **state) {
    (void)state;
    float p[3] = {0, 1, 2}, g[3] = {0, 1, 2};
    double x;
    warm_error err = {0};
    assert_int_equal(warm_bon_expect(p, g, 3, 4, &x, &err), WARM_ERR_ARG);
    assert_non_null(strstr(err.msg, "n = 4"));
    assert_int_equal(warm_bon_expect(p, g, 3, 0, &x, &err), WARM_ERR_ARG);
    p[1] = NAN;
    assert_int_equal(warm_bon_expect(p, g, 3, 1, &x, &err), WARM_ERR_ARG);
    assert_non_null(strstr(err.msg, "not finite"));
    p[1] = 1;
    g[2] = INFINITY;
    assert_int_equal(warm_bon_winrate_sft(p, g, 3, 1, &x, &err), WARM_ERR_ARG);
    g[2] = 2;
    const float *px[1] = {p};
    int ns[1] = {2};
    warm_bon_point pt;
    assert_int_equal(warm_bon_evaluate(1, 3, g, px, 1, 1, ns, 1, &pt, &err), WARM_ERR_ARG);
    assert_int_equal(warm_bon_evaluate(0, 3, g, px, 1, 0, ns, 1, &pt, &err), WARM_ERR_ARG);
    assert_int_equal(warm_bon_evaluate(1, 3, g, px, 1, 0, ns, 1, &pt, &err), WARM_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_brute_force),
        cmocka_unit_test(test_tie_rule_by_hand),
        cmocka_unit_test(test_kl),
        cmocka_unit_test(test_ladder),
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_n1_is_sft_mean),
        cmocka_unit_test(test_same_pool),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
