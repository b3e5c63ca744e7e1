/*
 * test_toy.c — the bag-of-features toy model (warm/toy.h, claim C17): the exact finite-M expectation
 * E[(Bin(M,p)/M)^L] against hand-derived values, closed forms (L = 2, 3) and brute-force enumeration of every
 * selector vector; the Monte Carlo against that theory for several settings (norms, dimensions, noise, M, L);
 * WA < ENS strictly for 0 < p < 1; p = 1 surviving and p = 0 vanishing exactly; L = 1 and M = 1 making WA and
 * ENS coincide; determinism in the seed; argument errors naming the field.
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

#include "warm/toy.h"

#define NSE 4.0     /* tolerance of the MC checks: standard errors ... */
#define SLACK 1e-3  /* ... plus this absolute slack (the same rule as `warm toy`) */
#define MAXF 8

static warm_toy_config base_config(const double *p, int F) {
    warm_toy_config c = {.F = F, .p = p, .znorm = NULL, .d = 4, .sigma = 0.1, .M = 10, .L = 2, .trials = 20000,
                         .seed = 1};
    return c;
}

/* E[(K/M)^L] by enumerating all 2^M selector vectors of one feature (M <= 16). */
static double brute_expect(double p, int M, int L) {
    double s = 0;
    for (unsigned mask = 0; mask < (1u << M); mask++) {
        int k = __builtin_popcount(mask);
        double prob = 1;
        for (int i = 0; i < M; i++) prob *= ((mask >> i) & 1u) ? p : 1 - p;
        s += prob * pow((double)k / M, L);
    }
    return s;
}

static void test_exact_expectation(void **state) {
    (void)state;
    /* by hand: M = 2, p = 1/2: K/2 in {0, 1/2, 1} w.p. 1/4, 1/2, 1/4 -> E[(K/2)^2] = 1/8 + 1/4 = 0.375 */
    assert_true(fabs(warm_toy_wa_expect(0.5, 2, 2) - 0.375) < 1e-14);
    /* E[(K/2)^3] = 1/2 * 1/8 + 1/4 = 0.3125 */
    assert_true(fabs(warm_toy_wa_expect(0.5, 2, 3) - 0.3125) < 1e-14);
    const double ps[] = {0.0, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.999, 1.0};
    for (size_t a = 0; a < sizeof ps / sizeof ps[0]; a++) {
        double p = ps[a];
        for (int L = 1; L <= 5; L++) {
            assert_true(fabs(warm_toy_wa_expect(p, 1, L) - p) < 1e-14); /* one run: K/M is 0 or 1 */
        }
        const int Ms[] = {1, 2, 3, 5, 10, 100, 1000};
        for (size_t b = 0; b < sizeof Ms / sizeof Ms[0]; b++) {
            int M = Ms[b];
            double q = 1 - p;
            assert_true(fabs(warm_toy_wa_expect(p, M, 1) - p) < 1e-12);
            /* variance of the mean: E[X^2] = p^2 + p(1-p)/M */
            double l2 = p * p + p * q / M;
            assert_true(fabs(warm_toy_wa_expect(p, M, 2) - l2) < 1e-12);
            /* third raw moment of Bin(M, p) over M^3 (falling factorials and Stirling numbers S(3, i)) */
            double l3 = (M * p + 3.0 * M * (M - 1) * p * p + (double)M * (M - 1) * (M - 2) * p * p * p) / pow(M, 3);
            assert_true(fabs(warm_toy_wa_expect(p, M, 3) - l3) < 1e-12);
        }
        for (int M = 1; M <= 12; M++)
            for (int L = 1; L <= 4; L++) assert_true(fabs(warm_toy_wa_expect(p, M, L) - brute_expect(p, M, L)) < 1e-13);
    }
    assert_true(warm_toy_wa_expect(0.0, 7, 3) == 0.0);
    assert_true(warm_toy_wa_expect(1.0, 7, 3) == 1.0);
    /* large M: finite, and converging to p^L from above (Jensen) */
    double big = warm_toy_wa_expect(0.3, 1000000, 2);
    assert_true(isfinite(big) && big > 0.09 && big - 0.09 < 1e-6);
    assert_true(fabs(warm_toy_wa_expect(0.3, 1000000, 4) - pow(0.3, 4)) < 1e-6);
}

static void test_within(void **state) {
    (void)state;
    double z = -1;
    assert_true(warm_toy_within(1.0, 0.1, 1.3, 4, 0, &z));
    assert_true(fabs(z - 3.0) < 1e-12);
    assert_false(warm_toy_within(1.0, 0.1, 1.5, 4, 0, &z));
    assert_true(warm_toy_within(1.0, 0.1, 1.5, 4, 0.2, NULL));
    assert_true(warm_toy_within(2.0, 0.0, 2.0, 4, 0, &z) && z == 0.0);
    assert_false(warm_toy_within(2.0, 0.0, 2.5, 4, 0.1, &z));
    assert_true(isinf(z));
    /* rounding-level differences are not Monte-Carlo error */
    assert_true(warm_toy_within(0.3 + 1e-15, 1e-17, 0.3, 4, 0, &z) && z == 0.0);
}

/* Every MC estimate within NSE se + SLACK of its finite-M theory, and the theory fields as documented. */
static void check_against_theory(const warm_toy_config *c, const warm_toy_feature *f) {
    for (int j = 0; j < c->F; j++) {
        double z;
        assert_true(f[j].p == c->p[j]);
        assert_true(f[j].theory_ens == c->p[j]);
        assert_true(fabs(f[j].theory_wa_inf - pow(c->p[j], c->L)) < 1e-15);
        assert_true(fabs(f[j].theory_wa_M - warm_toy_wa_expect(c->p[j], c->M, c->L)) < 1e-15);
        int ok_e = warm_toy_within(f[j].mc_ens, f[j].mc_ens_se, f[j].theory_ens, NSE, SLACK, &z);
        if (!ok_e) printf("  feature %d ENS: mc %.6f +- %.6f vs %.6f (z %.2f)\n", j, f[j].mc_ens, f[j].mc_ens_se,
                          f[j].theory_ens, z);
        int ok_w = warm_toy_within(f[j].mc_wa, f[j].mc_wa_se, f[j].theory_wa_M, NSE, SLACK, &z);
        if (!ok_w) printf("  feature %d WA: mc %.6f +- %.6f vs %.6f (z %.2f)\n", j, f[j].mc_wa, f[j].mc_wa_se,
                          f[j].theory_wa_M, z);
        int ok_g = warm_toy_within(f[j].mc_gap, f[j].mc_gap_se, f[j].theory_wa_M - f[j].theory_ens, NSE, SLACK, &z);
        assert_true(ok_e && ok_w && ok_g);
        assert_true(fabs(f[j].mc_gap - (f[j].mc_wa - f[j].mc_ens)) < 1e-9);
    }
}

static void test_mc_matches_theory(void **state) {
    (void)state;
    warm_error err = {0};
    warm_toy_feature f[MAXF];
    /* the command's defaults */
    const double p6[] = {0.1, 0.3, 0.5, 0.7, 0.9, 1.0};
    warm_toy_config c = base_config(p6, 6);
    assert_int_equal(warm_toy_run(&c, f, &err), WARM_OK);
    check_against_theory(&c, f);
    /* finite-M correction is visible: at M = 10, p = 0.1 the WA coefficient is 0.019, not p^2 = 0.01 */
    assert_true(f[0].mc_wa > 0.015);
    /* unequal norms, one coordinate per block, more noise, three layers, more runs */
    const double p3[] = {0.2, 0.6, 0.95};
    const double zn[] = {0.5, 2.0, 3.0};
    c = base_config(p3, 3);
    c.znorm = zn;
    c.d = 1;
    c.sigma = 0.5;
    c.M = 50;
    c.L = 3;
    c.trials = 10000;
    c.seed = 11;
    assert_int_equal(warm_toy_run(&c, f, &err), WARM_OK);
    check_against_theory(&c, f);
    /* many runs: the finite-M theory is close to p^L and the MC follows it */
    const double p1[] = {0.3};
    c = base_config(p1, 1);
    c.M = 400;
    c.trials = 4000;
    c.seed = 5;
    assert_int_equal(warm_toy_run(&c, f, &err), WARM_OK);
    check_against_theory(&c, f);
    assert_true(fabs(f[0].theory_wa_M - 0.09) < 1e-3);
    assert_true(fabs(f[0].mc_wa - 0.09) < 2e-3);
}

static void test_wa_shrinks_more(void **state) {
    (void)state;
    warm_error err = {0};
    warm_toy_feature f[MAXF];
    const double p[] = {0.05, 0.3, 0.5, 0.8, 0.97};
    for (int L = 2; L <= 4; L++) {
        warm_toy_config c = base_config(p, 5);
        c.L = L;
        c.trials = 5000;
        c.seed = (uint64_t)L;
        assert_int_equal(warm_toy_run(&c, f, &err), WARM_OK);
        for (int j = 0; j < 5; j++) {
            assert_true(f[j].theory_wa_M < f[j].theory_ens);
            assert_true(f[j].theory_wa_inf < f[j].theory_wa_M);
            assert_true(f[j].mc_wa < f[j].mc_ens);
            assert_true(f[j].mc_gap + NSE * f[j].mc_gap_se < 0); /* significantly below */
        }
    }
}

/* sigma = 0: a feature every run learns contributes exactly |z|^2, one no run learns exactly 0. */
static void test_p_one_and_zero(void **state) {
    (void)state;
    warm_error err = {0};
    warm_toy_feature f[MAXF];
    const double p[] = {1.0, 0.0, 1.0};
    const double zn[] = {1.0, 1.0, 3.0};
    warm_toy_config c = base_config(p, 3);
    c.znorm = zn;
    c.sigma = 0;
    c.L = 3;
    c.trials = 500;
    assert_int_equal(warm_toy_run(&c, f, &err), WARM_OK);
    for (int j = 0; j < 3; j += 2) {
        assert_true(fabs(f[j].mc_ens - 1) < 1e-12 && fabs(f[j].mc_wa - 1) < 1e-12);
        assert_true(f[j].mc_ens_se < 1e-12 && f[j].mc_wa_se < 1e-12);
        assert_true(f[j].theory_wa_M == 1 && f[j].theory_wa_inf == 1);
    }
    assert_true(f[1].mc_ens == 0 && f[1].mc_wa == 0 && f[1].mc_ens_se == 0 && f[1].mc_wa_se == 0);
    assert_true(f[1].theory_wa_M == 0 && f[1].theory_wa_inf == 0);
    /* with noise, p = 1 still survives on average */
    c.sigma = 0.3;
    c.trials = 4000;
    assert_int_equal(warm_toy_run(&c, f, &err), WARM_OK);
    check_against_theory(&c, f);
    assert_true(fabs(f[0].mc_ens - 1) < 0.05 && fabs(f[0].mc_wa - f[0].mc_ens) < 1e-12);
}

/* L = 1 is a linear model, and M = 1 averages nothing: WA equals ENS trial by trial. */
static void test_wa_equals_ens(void **state) {
    (void)state;
    warm_error err = {0};
    warm_toy_feature f[MAXF];
    const double p[] = {0.2, 0.5, 0.9};
    warm_toy_config c = base_config(p, 3);
    c.L = 1;
    c.trials = 3000;
    assert_int_equal(warm_toy_run(&c, f, &err), WARM_OK);
    for (int j = 0; j < 3; j++) {
        assert_true(fabs(f[j].mc_wa - f[j].mc_ens) < 1e-12 && fabs(f[j].mc_gap) < 1e-12);
        assert_true(fabs(f[j].theory_wa_M - p[j]) < 1e-12);
    }
    check_against_theory(&c, f);
    c.L = 3;
    c.M = 1;
    assert_int_equal(warm_toy_run(&c, f, &err), WARM_OK);
    for (int j = 0; j < 3; j++) assert_true(fabs(f[j].mc_wa - f[j].mc_ens) < 1e-12);
    check_against_theory(&c, f);
}

static void test_determinism(void **state) {
    (void)state;
    warm_error err = {0};
    warm_toy_feature a[MAXF], b[MAXF];
    const double p[] = {0.3, 0.6};
    warm_toy_config c = base_config(p, 2);
    c.trials = 2000;
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    assert_int_equal(warm_toy_run(&c, a, &err), WARM_OK);
    assert_int_equal(warm_toy_run(&c, b, &err), WARM_OK);
    assert_memory_equal(a, b, 2 * sizeof a[0]);
    c.seed = 2;
    assert_int_equal(warm_toy_run(&c, b, &err), WARM_OK);
    assert_true(a[0].mc_ens != b[0].mc_ens && a[0].mc_wa != b[0].mc_wa && a[1].mc_wa != b[1].mc_wa);
}

static void expect_arg(const warm_toy_config *c, const char *needle) {
    warm_error err = {0};
    warm_toy_feature f[MAXF];
    assert_int_equal(warm_toy_run(c, f, &err), WARM_ERR_ARG);
    assert_int_equal(err.code, WARM_ERR_ARG);
    if (!strstr(err.msg, needle)) printf("  message \"%s\" lacks \"%s\"\n", err.msg, needle);
    assert_non_null(strstr(err.msg, needle));
}

static void test_errors(void **state) {
    (void)state;
    warm_error err = {0};
    warm_toy_feature f[MAXF];
    double p[] = {0.5, 0.5};
    double zn[] = {1.0, 1.0};
    const warm_toy_config good = base_config(p, 2);
    warm_toy_config c = good;
    assert_int_equal(warm_toy_run(NULL, f, &err), WARM_ERR_ARG);
    assert_int_equal(warm_toy_run(&c, NULL, &err), WARM_ERR_ARG);
    c.p = NULL;
    expect_arg(&c, "p must not be NULL");
    c = good;
    c.F = 0;
    expect_arg(&c, "F = 0");
    c = good;
    c.F = WARM_TOY_MAX_F + 1;
    expect_arg(&c, "F = ");
    c = good;
    p[1] = -0.1;
    expect_arg(&c, "p[1]");
    p[1] = 1.5;
    expect_arg(&c, "p[1]");
    p[1] = NAN;
    expect_arg(&c, "p[1]");
    p[1] = 0.5;
    c = good;
    c.znorm = zn;
    zn[0] = 0;
    expect_arg(&c, "znorm[0]");
    zn[0] = INFINITY;
    expect_arg(&c, "znorm[0]");
    zn[0] = 1;
    c = good;
    c.d = 0;
    expect_arg(&c, "d = 0");
    c = good;
    c.sigma = -1;
    expect_arg(&c, "sigma");
    c.sigma = NAN;
    expect_arg(&c, "sigma");
    c.sigma = INFINITY;
    expect_arg(&c, "sigma");
    c = good;
    c.M = 0;
    expect_arg(&c, "M = 0");
    c = good;
    c.L = 0;
    expect_arg(&c, "L = 0");
    c = good;
    c.L = WARM_TOY_MAX_L + 1;
    expect_arg(&c, "L = ");
    c = good;
    c.trials = 1;
    expect_arg(&c, "trials = 1");
    c = good;
    c.trials = 100;
    assert_int_equal(warm_toy_run(&c, f, &err), WARM_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_expectation), cmocka_unit_test(test_within),
        cmocka_unit_test(test_mc_matches_theory), cmocka_unit_test(test_wa_shrinks_more),
        cmocka_unit_test(test_p_one_and_zero),    cmocka_unit_test(test_wa_equals_ens),
        cmocka_unit_test(test_determinism),       cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
