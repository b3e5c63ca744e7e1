/*
 * test_kernels.c — the non-matmul kernels of kernels.h: LayerNorm, GELU, attention, dropout, cross-entropy,
 * AdamW and sum of squares.
 *
 * Kinds of checks:
 *  - hand-derived values (gelu(1), LayerNorm of [1, 2, 3, 4], cross-entropy of uniform logits = log V, one
 *    AdamW step = -lr * sign(g) after decay);
 *  - comparisons with double-precision reference loops written here from the formulas (LayerNorm, GELU,
 *    attention with and without dropout, cross-entropy, three AdamW steps, sum of squares);
 *  - central finite differences for every backward kernel. The objective is L = sum(out * R) for a fixed random
 *    R (the loss itself for cross-entropy), accumulated in double from the float outputs; each input is moved
 *    by +-h (h = 1e-2, inputs O(1)) and the quotient uses the float values actually stored. With float
 *    forwards the rounding noise in L is ~1e-7 * sqrt(outputs), i.e. ~1e-4 after dividing by 2h, and the
 *    truncation error is ~h^2 = 1e-4 times a third derivative, so an element passes if
 *    |fd - analytic| <= atol + rtol * |fd| with atol = 2e-3, rtol = 1e-2 (cross-entropy: 2e-4, 1e-2);
 *  - contracts: backward kernels accumulate (a second call exactly doubles a zeroed gradient), NULL gradient
 *    outputs are skipped, causality, probability rows sum to 1, dropout rate and scale;
 *  - determinism: bit-identical results with 1 and 2 OpenMP threads (skipped in builds without OpenMP), and
 *    between the AVX-512 and portable paths (WARM_KERNEL_ISA=portable) of GELU, dropout, attention and AdamW.
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
#include "warm/core.h"
#include "warm/kernels.h"

/* ------------------------------------------------------------------ helpers */

/* Finite-difference step and tolerances; see the header comment for the error budget. */
#define FD_H 1e-2f
#define FD_ATOL 2e-3
#define FD_RTOL 1e-2

static float *falloc(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    assert_non_null(p);
    return p;
}

static float *fdup(const float *x, size_t n) {
    float *p = falloc(n);
    memcpy(p, x, n * sizeof(float));
    return p;
}

static void fill_uniform(float *x, size_t n, float lo, float hi, uint64_t seed) {
    warm_rng r;
    warm_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * warm_rng_uniform(&r);
}

static double dot_d(const float *a, const float *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}

/* A scalar objective of the kernel inputs held in ctx. */
typedef double (*objective_fn)(void *ctx);

/*
 * Central differences of f with respect to x[0..n-1] (x is read by f through ctx) against the analytic
 * gradient grad (n). Fails the test if any element is off by more than atol + rtol * |fd|.
 */
static void check_fd(const char *what, objective_fn f, void *ctx, float *x, const float *grad, size_t n, double atol,
                     double rtol) {
    double worst = 0.0;
    size_t wi = 0;
    double wfd = 0.0;
    for (size_t i = 0; i < n; i++) {
        float x0 = x[i];
        x[i] = x0 + FD_H;
        float xp = x[i];
        double lp = f(ctx);
        x[i] = x0 - FD_H;
        float xm = x[i];
        double lm = f(ctx);
        x[i] = x0;
        double fd = (lp - lm) / ((double)xp - (double)xm);
        double err = fabs(fd - (double)grad[i]) / (atol + rtol * fabs(fd));
        if (!(err <= worst)) {
            worst = err;
            wi = i;
            wfd = fd;
        }
    }
    if (!(worst <= 1.0))
        fail_msg("%s: element %zu: finite difference %.8g, analytic %.8g (error %.3g x tolerance)", what, wi, wfd,
                 (double)grad[wi], worst);
}

static void assert_bits_equal(const float *a, const float *b, size_t n, const char *what) {
    if (memcmp(a, b, n * sizeof(float)) != 0) {
        for (size_t i = 0; i < n; i++)
            if (memcmp(a + i, b + i, sizeof(float)) != 0)
                fail_msg("%s: element %zu differs: %.9g vs %.9g", what, i, (double)a[i], (double)b[i]);
    }
}

/* Every element of a is exactly twice that of b (a gradient accumulated twice from zero). */
static void assert_doubled(const float *a, const float *b, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++)
        if (a[i] != 2.0f * b[i]) fail_msg("%s: element %zu: %.9g is not 2 * %.9g", what, i, (double)a[i], (double)b[i]);
}

static void assert_close(const float *a, const float *b, size_t n, double atol, double rtol, const char *what) {
    size_t w;
    double e = test_max_rel_err(a, b, n, atol, rtol, &w);
    if (!(e <= 1.0)) fail_msg("%s: element %zu: %.9g vs reference %.9g", what, w, (double)a[w], (double)b[w]);
}

#ifdef _OPENMP
/* Runs fn(ctx) with 1 and then 2 OpenMP threads, restoring the previous setting. */
static void with_threads(int n, void (*fn)(void *), void *ctx) {
    int prev = omp_get_max_threads();
    omp_set_num_threads(n);
    fn(ctx);
    omp_set_num_threads(prev);
}
#endif

/* ------------------------------------------------------------------ LayerNorm */

typedef struct {
    int N, C;
    float *inp, *w, *b, *out, *mean, *rstd, *R;
} ln_ctx;

static ln_ctx ln_make(int N, int C, uint64_t seed) {
    ln_ctx c = {N, C, falloc((size_t)N * C), falloc((size_t)C), falloc((size_t)C), falloc((size_t)N * C),
                falloc((size_t)N), falloc((size_t)N), falloc((size_t)N * C)};
    fill_uniform(c.inp, (size_t)N * C, -2.0f, 2.0f, seed);
    fill_uniform(c.w, (size_t)C, 0.5f, 1.5f, seed + 1);
    fill_uniform(c.b, (size_t)C, -0.5f, 0.5f, seed + 2);
    fill_uniform(c.R, (size_t)N * C, -1.0f, 1.0f, seed + 3);
    return c;
}

static void ln_free(ln_ctx *c) {
    free(c->inp), free(c->w), free(c->b), free(c->out), free(c->mean), free(c->rstd), free(c->R);
}

static double ln_objective(void *p) {
    ln_ctx *c = p;
    warm_layernorm_forward(c->out, c->mean, c->rstd, c->inp, c->w, c->b, c->N, c->C);
    return dot_d(c->out, c->R, (size_t)c->N * c->C);
}

static void test_layernorm_hand(void **state) {
    (void)state;
    float x[4] = {1, 2, 3, 4}, w[4] = {1, 1, 1, 1}, b[4] = {0, 0, 0, 0}, out[4], mean, rstd;
    warm_layernorm_forward(out, &mean, &rstd, x, w, b, 1, 4);
    /* mean 2.5, biased variance (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25 */
    double rs = 1.0 / sqrt(1.25 + 1e-5);
    assert_float_equal(mean, 2.5f, 0.0f);
    assert_float_equal(rstd, (float)rs, 1e-6f);
    double want[4] = {-1.5 * rs, -0.5 * rs, 0.5 * rs, 1.5 * rs};
    for (int i = 0; i < 4; i++) assert_float_equal(out[i], (float)want[i], 1e-6f);
}

/* Against a double reference, including a row with a large offset (two-pass variance) and C % 16 != 0. */
static void test_layernorm_reference(void **state) {
    (void)state;
    int N = 6, C = 37;
    ln_ctx c = ln_make(N, C, 11);
    for (int i = 0; i < C; i++) c.inp[5 * C + i] += 1000.0f;
    warm_layernorm_forward(c.out, c.mean, c.rstd, c.inp, c.w, c.b, N, C);
    float *ref = falloc((size_t)N * C);
    for (int r = 0; r < N; r++) {
        const float *x = c.inp + r * C;
        double mu = 0, var = 0;
        for (int i = 0; i < C; i++) mu += (double)x[i];
        mu /= C;
        for (int i = 0; i < C; i++) var += ((double)x[i] - mu) * ((double)x[i] - mu);
        var /= C;
        double rs = 1.0 / sqrt(var + 1e-5);
        assert_float_equal(c.mean[r], (float)mu, 1e-6f * (float)fabs(mu) + 1e-7f);
        assert_float_equal(c.rstd[r], (float)rs, 1e-5f * (float)rs);
        for (int i = 0; i < C; i++)
            ref[r * C + i] = (float)(((double)x[i] - mu) * rs * (double)c.w[i] + (double)c.b[i]);
    }
    /* the offset row loses ~log2(1000) bits of its inputs to rounding before normalisation */
    assert_close(c.out, ref, (size_t)N * C, 1e-4, 1e-4, "layernorm out");
    free(ref);
    ln_free(&c);
}

static void test_layernorm_fd(void **state) {
    (void)state;
    int N = 4, C = 37;
    ln_ctx c = ln_make(N, C, 21);
    size_t n = (size_t)N * C;
    float *dinp = falloc(n), *dw = falloc((size_t)C), *db = falloc((size_t)C);
    ln_objective(&c);
    warm_layernorm_backward(dinp, dw, db, c.R, c.inp, c.w, c.mean, c.rstd, N, C);
    check_fd("layernorm dinp", ln_objective, &c, c.inp, dinp, n, FD_ATOL, FD_RTOL);
    check_fd("layernorm dweight", ln_objective, &c, c.w, dw, (size_t)C, FD_ATOL, FD_RTOL);
    check_fd("layernorm dbias", ln_objective, &c, c.b, db, (size_t)C, FD_ATOL, FD_RTOL);
    free(dinp), free(dw), free(db);
    ln_free(&c);
}

/* Backward accumulates, and each NULL output is skipped without changing the others. */
static void test_layernorm_accumulate_null(void **state) {
    (void)state;
    int N = 5, C = 70;
    ln_ctx c = ln_make(N, C, 31);
    size_t n = (size_t)N * C;
    ln_objective(&c);
    float *d1 = falloc(n), *w1 = falloc((size_t)C), *b1 = falloc((size_t)C);
    float *d2 = falloc(n), *w2 = falloc((size_t)C), *b2 = falloc((size_t)C);
    warm_layernorm_backward(d1, w1, b1, c.R, c.inp, c.w, c.mean, c.rstd, N, C);
    warm_layernorm_backward(d2, w2, b2, c.R, c.inp, c.w, c.mean, c.rstd, N, C);
    warm_layernorm_backward(d2, w2, b2, c.R, c.inp, c.w, c.mean, c.rstd, N, C);
    assert_doubled(d2, d1, n, "dinp");
    assert_doubled(w2, w1, (size_t)C, "dweight");
    assert_doubled(b2, b1, (size_t)C, "dbias");
    memset(w2, 0, (size_t)C * sizeof(float));
    warm_layernorm_backward(NULL, w2, NULL, c.R, c.inp, c.w, c.mean, c.rstd, N, C);
    assert_bits_equal(w2, w1, (size_t)C, "dweight alone");
    memset(d2, 0, n * sizeof(float));
    warm_layernorm_backward(d2, NULL, NULL, c.R, c.inp, c.w, c.mean, c.rstd, N, C);
    assert_bits_equal(d2, d1, n, "dinp alone");
    free(d1), free(w1), free(b1), free(d2), free(w2), free(b2);
    ln_free(&c);
}

#ifdef _OPENMP
typedef struct {
    ln_ctx *c;
    float *out, *dinp, *dw, *db;
} ln_run;

static void ln_run_fn(void *p) {
    ln_run *r = p;
    ln_ctx *c = r->c;
    warm_layernorm_forward(r->out, c->mean, c->rstd, c->inp, c->w, c->b, c->N, c->C);
    warm_layernorm_backward(r->dinp, r->dw, r->db, c->R, c->inp, c->w, c->mean, c->rstd, c->N, c->C);
}
#endif

static void test_layernorm_threads(void **state) {
    (void)state;
#ifdef _OPENMP
    int N = 64, C = 768;
    size_t n = (size_t)N * C;
    ln_ctx c = ln_make(N, C, 41);
    ln_run r1 = {&c, falloc(n), falloc(n), falloc((size_t)C), falloc((size_t)C)};
    ln_run r2 = {&c, falloc(n), falloc(n), falloc((size_t)C), falloc((size_t)C)};
    with_threads(1, ln_run_fn, &r1);
    with_threads(2, ln_run_fn, &r2);
    assert_bits_equal(r1.out, r2.out, n, "out");
    assert_bits_equal(r1.dinp, r2.dinp, n, "dinp");
    assert_bits_equal(r1.dw, r2.dw, (size_t)C, "dweight");
    assert_bits_equal(r1.db, r2.db, (size_t)C, "dbias");
    free(r1.out), free(r1.dinp), free(r1.dw), free(r1.db);
    free(r2.out), free(r2.dinp), free(r2.dw), free(r2.db);
    ln_free(&c);
#else
    skip();
#endif
}

/* ------------------------------------------------------------------ GELU */

static double gelu_ref(double x) {
    double u = sqrt(2.0 / WARM_PI) * (x + 0.044715 * x * x * x);
    return x / (1.0 + exp(-2.0 * u)); /* = 0.5 x (1 + tanh u), without cancellation for x < 0 */
}

static void test_gelu_hand(void **state) {
    (void)state;
    float x[6] = {0.0f, 1.0f, -1.0f, 10.0f, -10.0f, 3.0f}, y[6];
    warm_gelu_forward(y, x, 6);
    assert_true(y[0] == 0.0f);
    /* 0.5 (1 + tanh(0.7978845608 * 1.044715)) = 0.5 (1 + 0.6823843) */
    assert_float_equal(y[1], 0.8411920f, 2e-7f);
    assert_float_equal(y[2], -0.1588080f, 2e-7f);
    assert_float_equal(y[3], 10.0f, 0.0f);
    assert_true(fabsf(y[4]) < 1e-20f);
    assert_float_equal(y[5], 2.9963627f, 3e-7f);
    float nan_in = NAN, nan_out, d = 0.0f, one = 1.0f;
    warm_gelu_forward(&nan_out, &nan_in, 1);
    assert_true(isnan(nan_out));
    warm_gelu_backward(&d, &nan_in, &one, 1);
    assert_true(isnan(d));
}

/* Relative error against the double formula over [-12, 12], dense near 0 and in the tails. */
static void test_gelu_reference(void **state) {
    (void)state;
    size_t n = 24001;
    float *x = falloc(n), *y = falloc(n), *ref = falloc(n), *dy = falloc(n), *dref = falloc(n), *ones = falloc(n);
    for (size_t i = 0; i < n; i++) {
        x[i] = -12.0f + 0.001f * (float)i;
        ref[i] = (float)gelu_ref((double)x[i]);
        double h = 1e-6 * fmax(1.0, fabs((double)x[i]));
        dref[i] = (float)((gelu_ref((double)x[i] + h) - gelu_ref((double)x[i] - h)) / (2 * h));
        ones[i] = 1.0f;
    }
    warm_gelu_forward(y, x, n);
    warm_gelu_backward(dy, x, ones, n);
    /*
     * An ulp of x moves -2u by ~|2u| ulps, and exp turns that into a relative error of up to ~90 * 6e-8 in
     * the far negative tail, where gelu < 1e-8 anyway (and float tanh-based gelu rounds to 0); hence atol.
     */
    assert_close(y, ref, n, 1e-8, 2e-6, "gelu forward");
    assert_close(dy, dref, n, 1e-6, 1e-5, "gelu backward");
    free(x), free(y), free(ref), free(dy), free(dref), free(ones);
}

typedef struct {
    size_t n;
    float *x, *y, *R;
} gelu_ctx;

static double gelu_objective(void *p) {
    gelu_ctx *c = p;
    warm_gelu_forward(c->y, c->x, c->n);
    return dot_d(c->y, c->R, c->n);
}

static void test_gelu_fd(void **state) {
    (void)state;
    gelu_ctx c = {67, falloc(67), falloc(67), falloc(67)};
    fill_uniform(c.x, c.n, -4.0f, 4.0f, 51);
    fill_uniform(c.R, c.n, -1.0f, 1.0f, 52);
    float *g1 = falloc(c.n), *g2 = falloc(c.n);
    warm_gelu_backward(g1, c.x, c.R, c.n);
    check_fd("gelu", gelu_objective, &c, c.x, g1, c.n, FD_ATOL, FD_RTOL);
    warm_gelu_backward(g2, c.x, c.R, c.n);
    warm_gelu_backward(g2, c.x, c.R, c.n);
    assert_doubled(g2, g1, c.n, "gelu accumulate");
    free(c.x), free(c.y), free(c.R), free(g1), free(g2);
}

/* ------------------------------------------------------------------ attention */

typedef struct {
    int B, T, C, NH;
    float p;
    uint64_t key;
    float *qkv, *out, *att, *R;
} att_ctx;

static att_ctx att_make(int B, int T, int C, int NH, float p, uint64_t seed) {
    att_ctx c = {B, T, C, NH, p, 0xA77E1234u + seed, falloc((size_t)B * T * 3 * C), falloc((size_t)B * T * C),
                 falloc((size_t)B * NH * T * T), falloc((size_t)B * T * C)};
    fill_uniform(c.qkv, (size_t)B * T * 3 * C, -1.5f, 1.5f, seed);
    fill_uniform(c.R, (size_t)B * T * C, -1.0f, 1.0f, seed + 1);
    for (size_t i = 0; i < (size_t)B * NH * T * T; i++) c.att[i] = NAN; /* forward must write every element */
    return c;
}

static void att_free(att_ctx *c) { free(c->qkv), free(c->out), free(c->att), free(c->R); }

static double att_objective(void *p) {
    att_ctx *c = p;
    warm_attention_forward(c->out, c->att, c->qkv, c->B, c->T, c->C, c->NH, c->p, c->key);
    return dot_d(c->out, c->R, (size_t)c->B * c->T * c->C);
}

/* Straightforward double-precision attention (same mask rule), out (B, T, C) and att (B, NH, T, T). */
static void att_reference(float *out, float *att, const att_ctx *c) {
    int T = c->T, C = c->C, NH = c->NH, HS = C / NH;
    double *pr = malloc((size_t)T * sizeof(double));
    assert_non_null(pr);
    for (int b = 0; b < c->B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const float *q = c->qkv + ((size_t)b * T + t) * 3 * C + h * HS;
                double mx = -INFINITY, sum = 0;
                for (int s = 0; s <= t; s++) {
                    const float *k = c->qkv + ((size_t)b * T + s) * 3 * C + C + h * HS;
                    double d = 0;
                    for (int i = 0; i < HS; i++) d += (double)q[i] * (double)k[i];
                    pr[s] = d / sqrt((double)HS);
                    mx = fmax(mx, pr[s]);
                }
                for (int s = 0; s <= t; s++) sum += (pr[s] = exp(pr[s] - mx));
                float *arow = att + (((size_t)b * NH + h) * T + t) * T;
                for (int s = 0; s < T; s++) arow[s] = s <= t ? (float)(pr[s] / sum) : 0.0f;
                for (int i = 0; i < HS; i++) {
                    double o = 0;
                    for (int s = 0; s <= t; s++) {
                        uint64_t idx = (((uint64_t)b * NH + h) * T + t) * T + s;
                        double m = c->p == 0.0f ? 1.0
                                   : warm_dropout_keep(c->key, idx, c->p) ? 1.0 / (1.0 - (double)c->p)
                                                                          : 0.0;
                        o += pr[s] / sum * m * (double)c->qkv[((size_t)b * T + s) * 3 * C + 2 * C + h * HS + i];
                    }
                    out[((size_t)b * T + t) * C + h * HS + i] = (float)o;
                }
            }
    free(pr);
}

static void att_check_reference(int B, int T, int C, int NH, float p) {
    att_ctx c = att_make(B, T, C, NH, p, (uint64_t)(T * 7 + C));
    float *out = falloc((size_t)B * T * C), *att = falloc((size_t)B * NH * T * T);
    att_objective(&c);
    att_reference(out, att, &c);
    assert_close(c.att, att, (size_t)B * NH * T * T, 1e-7, 1e-5, "attention probabilities");
    assert_close(c.out, out, (size_t)B * T * C, 1e-6, 1e-5, "attention out");
    free(out), free(att);
    att_free(&c);
}

static void test_attention_reference(void **state) {
    (void)state;
    att_check_reference(2, 19, 12, 3, 0.0f); /* HS = 4, T crosses one 16-lane chunk */
    att_check_reference(1, 70, 128, 2, 0.0f); /* HS = 64 as in GPT-2 */
    att_check_reference(2, 19, 12, 3, 0.3f);
    att_check_reference(1, 70, 128, 2, 0.1f);
    /* p exactly at the keep threshold of element (0, 0, 0, 0): kept, since keep means u * 2^-24 >= p */
    uint64_t key = 0xA77E1234u + (uint64_t)(19 * 7 + 12);
    att_check_reference(2, 19, 12, 3, (float)(warm_hash64(key, 0) >> 40) / 16777216.0f);
}

/* Probability rows sum to 1 and are exactly zero above the diagonal; a token's output ignores later tokens. */
static void test_attention_rows_causal(void **state) {
    (void)state;
    int B = 2, T = 33, C = 32, NH = 4;
    att_ctx c = att_make(B, T, C, NH, 0.2f, 61);
    att_objective(&c);
    for (int r = 0; r < B * NH * T; r++) {
        int t = r % T;
        const float *row = c.att + (size_t)r * T;
        double s = 0;
        for (int j = 0; j <= t; j++) s += (double)row[j];
        assert_true(fabs(s - 1.0) < 1e-6);
        for (int j = t + 1; j < T; j++) assert_true(row[j] == 0.0f);
    }
    float *out0 = fdup(c.out, (size_t)B * T * C);
    int t0 = 10;
    for (int b = 0; b < B; b++)
        for (int t = t0 + 1; t < T; t++)
            for (int i = C; i < 3 * C; i++) c.qkv[((size_t)b * T + t) * 3 * C + i] += 0.75f; /* k and v */
    att_objective(&c);
    for (int b = 0; b < B; b++) {
        size_t lo = (size_t)b * T * C;
        assert_bits_equal(c.out + lo, out0 + lo, (size_t)(t0 + 1) * C, "outputs up to t0");
        assert_true(memcmp(c.out + lo + (size_t)(t0 + 1) * C, out0 + lo + (size_t)(t0 + 1) * C,
                           (size_t)(T - t0 - 1) * C * sizeof(float)) != 0);
    }
    free(out0);
    att_free(&c);
}

static void att_check_fd(float p) {
    int B = 2, T = 18, C = 8, NH = 2;
    att_ctx c = att_make(B, T, C, NH, p, 71);
    size_t n = (size_t)B * T * 3 * C;
    float *dqkv = falloc(n);
    att_objective(&c);
    warm_attention_backward(dqkv, c.R, c.qkv, c.att, B, T, C, NH, p, c.key, NULL);
    check_fd(p > 0 ? "attention dqkv (dropout 0.3)" : "attention dqkv", att_objective, &c, c.qkv, dqkv, n, FD_ATOL,
             FD_RTOL);
    free(dqkv);
    att_free(&c);
}

static void test_attention_fd(void **state) {
    (void)state;
    att_check_fd(0.0f);
    att_check_fd(0.3f); /* the mask is a function of the key, so the objective stays smooth */
}

/* Accumulation, and the caller's scratch gives the same bits as the internal workspace. */
static void test_attention_accumulate_scratch(void **state) {
    (void)state;
    int B = 2, T = 40, C = 64, NH = 2;
    att_ctx c = att_make(B, T, C, NH, 0.1f, 81);
    size_t n = (size_t)B * T * 3 * C;
    float *d1 = falloc(n), *d2 = falloc(n), *d3 = falloc(n), *scratch = falloc((size_t)B * NH * T * T);
    for (size_t i = 0; i < (size_t)B * NH * T * T; i++) scratch[i] = NAN; /* no stale workspace may be read */
    att_objective(&c);
    warm_attention_backward(d1, c.R, c.qkv, c.att, B, T, C, NH, c.p, c.key, NULL);
    warm_attention_backward(d2, c.R, c.qkv, c.att, B, T, C, NH, c.p, c.key, NULL);
    warm_attention_backward(d2, c.R, c.qkv, c.att, B, T, C, NH, c.p, c.key, NULL);
    assert_doubled(d2, d1, n, "dqkv accumulate");
    warm_attention_backward(d3, c.R, c.qkv, c.att, B, T, C, NH, c.p, c.key, scratch);
    assert_bits_equal(d3, d1, n, "dqkv with scratch");
    /* the overwriting variant writes every element: from NaN it gives the accumulation onto zeros (values
     * compared: only a zero's sign may differ) */
    for (size_t i = 0; i < n; i++) d3[i] = NAN;
    warm_attention_backward_set(d3, c.R, c.qkv, c.att, B, T, C, NH, c.p, c.key, NULL);
    for (size_t i = 0; i < n; i++)
        if (!(d3[i] == d1[i])) fail_msg("dqkv set, element %zu: %.9g vs %.9g", i, (double)d3[i], (double)d1[i]);
    free(d1), free(d2), free(d3), free(scratch);
    att_free(&c);
}

#ifdef _OPENMP
typedef struct {
    att_ctx *c;
    float *out, *att, *dqkv;
} att_run;

static void att_run_fn(void *p) {
    att_run *r = p;
    att_ctx *c = r->c;
    warm_attention_forward(r->out, r->att, c->qkv, c->B, c->T, c->C, c->NH, c->p, c->key);
    warm_attention_backward(r->dqkv, c->R, c->qkv, r->att, c->B, c->T, c->C, c->NH, c->p, c->key, NULL);
}
#endif

static void test_attention_threads(void **state) {
    (void)state;
#ifdef _OPENMP
    int B = 2, T = 40, C = 96, NH = 3;
    att_ctx c = att_make(B, T, C, NH, 0.1f, 91);
    size_t no = (size_t)B * T * C, na = (size_t)B * NH * T * T, nd = 3 * no;
    att_run r1 = {&c, falloc(no), falloc(na), falloc(nd)}, r2 = {&c, falloc(no), falloc(na), falloc(nd)};
    with_threads(1, att_run_fn, &r1);
    with_threads(2, att_run_fn, &r2);
    assert_bits_equal(r1.out, r2.out, no, "out");
    assert_bits_equal(r1.att, r2.att, na, "att");
    assert_bits_equal(r1.dqkv, r2.dqkv, nd, "dqkv");
    free(r1.out), free(r1.att), free(r1.dqkv), free(r2.out), free(r2.att), free(r2.dqkv);
    att_free(&c);
#else
    skip();
#endif
}

/* ------------------------------------------------------------------ dropout */

static void test_dropout_rate_scale(void **state) {
    (void)state;
    size_t n = 1000000;
    float p = 0.3f, scale = 1.0f / (1.0f - p);
    uint64_t key = 12345;
    float *x = falloc(n), *x0 = falloc(n);
    fill_uniform(x, n, 0.5f, 1.5f, 101);
    memcpy(x0, x, n * sizeof(float));
    warm_dropout_forward(x, n, p, key);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        int keep = warm_dropout_keep(key, i, p);
        kept += (size_t)keep;
        if (x[i] != (keep ? x0[i] * scale : 0.0f))
            fail_msg("element %zu: %.9g from %.9g", i, (double)x[i], (double)x0[i]);
    }
    /* binomial: sd of the kept fraction = sqrt(p (1 - p) / n) = 4.6e-4; allow 5 sd */
    double frac = (double)kept / (double)n;
    assert_true(fabs(frac - (1.0 - (double)p)) < 5.0 * sqrt(0.21 / (double)n));
    /* the same mask in backward */
    float *g = fdup(x0, n);
    warm_dropout_backward(g, n, p, key);
    assert_bits_equal(g, x, n, "backward mask");
    /* p exactly at element 5's threshold keeps it; just above drops it */
    float p_edge = (float)(warm_hash64(key, 5) >> 40) / 16777216.0f;
    for (int k = 0; k < 2; k++) {
        float pk = k ? nextafterf(p_edge, 1.0f) : p_edge;
        memcpy(g, x0, n * sizeof(float));
        warm_dropout_forward(g, 8, pk, key);
        assert_int_equal(warm_dropout_keep(key, 5, pk), !k);
        assert_true(k ? g[5] == 0.0f : g[5] == x0[5] * (1.0f / (1.0f - pk)));
    }
    /* p = 0 is a no-op, p = 1 zeroes */
    memcpy(g, x0, n * sizeof(float));
    warm_dropout_forward(g, n, 0.0f, key);
    assert_bits_equal(g, x0, n, "p = 0");
    warm_dropout_forward(g, 1000, 1.0f, key);
    for (size_t i = 0; i < 1000; i++) assert_true(g[i] == 0.0f);
    free(x), free(x0), free(g);
}

/* warm_gelu_backward_set equals warm_gelu_backward onto zeros (as values: only a zero's sign may differ). */
static void test_gelu_backward_set(void **state) {
    (void)state;
    size_t n = 70001;
    float *x = falloc(n), *dy = falloc(n), *want = falloc(n), *got = falloc(n);
    fill_uniform(x, n, -8.0f, 8.0f, 131);
    fill_uniform(dy, n, -1.0f, 1.0f, 132);
    memset(want, 0, n * sizeof(float));
    warm_gelu_backward(want, x, dy, n);
    fill_uniform(got, n, -1.0f, 1.0f, 133); /* overwritten, not accumulated */
    warm_gelu_backward_set(got, x, dy, n);
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i]) fail_msg("element %zu: %.9g vs %.9g", i, (double)got[i], (double)want[i]);
    free(x), free(dy), free(want), free(got);
}

typedef struct {
    size_t n;
    float p;
    float *x, *y, *R;
} drop_ctx;

static double drop_objective(void *v) {
    drop_ctx *c = v;
    memcpy(c->y, c->x, c->n * sizeof(float));
    warm_dropout_forward(c->y, c->n, c->p, 77);
    return dot_d(c->y, c->R, c->n);
}

static void test_dropout_fd(void **state) {
    (void)state;
    drop_ctx c = {200, 0.4f, falloc(200), falloc(200), falloc(200)};
    fill_uniform(c.x, c.n, -1.0f, 1.0f, 111);
    fill_uniform(c.R, c.n, -1.0f, 1.0f, 112);
    float *g = fdup(c.R, c.n);
    warm_dropout_backward(g, c.n, c.p, 77);
    check_fd("dropout", drop_objective, &c, c.x, g, c.n, FD_ATOL, FD_RTOL);
    free(c.x), free(c.y), free(c.R), free(g);
}

/* The fused dropout kernels equal their unfused compositions bit for bit, aliased or not, p > 0 and p = 0. */
static void test_dropout_fused(void **state) {
    (void)state;
    size_t n = 100003; /* several parallel chunks and a ragged tail */
    uint64_t key = 4242;
    float *x = falloc(n), *res = falloc(n), *want = falloc(n), *got = falloc(n), *got2 = falloc(n);
    fill_uniform(x, n, -2.0f, 2.0f, 121);
    fill_uniform(res, n, -2.0f, 2.0f, 122);
    for (int k = 0; k < 2; k++) {
        float p = k ? 0.0f : 0.3f;
        /* out = dropout(x) + res, against dropout in place followed by the add */
        memcpy(want, x, n * sizeof(float));
        warm_dropout_forward(want, n, p, key);
        for (size_t i = 0; i < n; i++) want[i] = want[i] + res[i];
        warm_dropout_residual_forward(got, x, res, n, p, key);
        assert_bits_equal(got, want, n, "dropout + residual");
        memcpy(got, x, n * sizeof(float)); /* out aliasing x (as train.c calls it) */
        warm_dropout_residual_forward(got, got, res, n, p, key);
        assert_bits_equal(got, want, n, "dropout + residual, out = x");
        memcpy(got2, res, n * sizeof(float)); /* out aliasing res */
        warm_dropout_residual_forward(got2, x, got2, n, p, key);
        assert_bits_equal(got2, want, n, "dropout + residual, out = res");
        /* dst = dropout backward of a copy */
        memcpy(want, x, n * sizeof(float));
        warm_dropout_backward(want, n, p, key);
        warm_dropout_backward_to(got, x, n, p, key);
        assert_bits_equal(got, want, n, "dropout backward to");
    }
    free(x), free(res), free(want), free(got), free(got2);
}

/* ------------------------------------------------------------------ cross-entropy */

static void test_crossentropy_uniform(void **state) {
    (void)state;
    int N = 3, V = 7;
    float logits[21], d[21];
    int32_t tg[3] = {0, 6, 3};
    for (int i = 0; i < N * V; i++) logits[i] = 0.25f;
    float loss = warm_crossentropy_forward_backward(d, logits, tg, NULL, N, V);
    assert_float_equal(loss, (float)log(7.0), 2e-7f);
    for (int i = 0; i < N; i++)
        for (int v = 0; v < V; v++) {
            double want = (1.0 / V - (v == tg[i] ? 1.0 : 0.0)) / N;
            assert_float_equal(d[i * V + v], (float)want, 1e-8f);
        }
}

/* Against a double reference with weights, including a zero weight; aliasing and NULL dlogits. */
static void test_crossentropy_reference(void **state) {
    (void)state;
    int N = 5, V = 300;
    float *x = falloc((size_t)N * V), *d = falloc((size_t)N * V), *ref = falloc((size_t)N * V);
    float w[5] = {1.0f, 0.5f, 0.0f, 2.0f, 1.5f};
    int32_t tg[5] = {0, 299, 17, 150, 42};
    fill_uniform(x, (size_t)N * V, -6.0f, 6.0f, 121);
    x[2 * V + 5] = NAN; /* a zero-weight row must not poison the loss */
    double num = 0, W = 5.0;
    for (int i = 0; i < N; i++) {
        const float *r = x + (size_t)i * V;
        double mx = -INFINITY, s = 0;
        for (int v = 0; v < V; v++) mx = fmax(mx, (double)r[v]);
        for (int v = 0; v < V; v++) s += exp((double)r[v] - mx);
        if (w[i] != 0.0f) num += (double)w[i] * (mx + log(s) - (double)r[tg[i]]);
        for (int v = 0; v < V; v++)
            ref[i * V + v] = w[i] == 0.0f ? 0.0f
                                          : (float)((double)w[i] / W * (exp((double)r[v] - mx) / s - (v == tg[i])));
    }
    float loss = warm_crossentropy_forward_backward(d, x, tg, w, N, V);
    assert_float_equal(loss, (float)(num / W), 1e-6f * (float)fabs(num / W));
    assert_close(d, ref, (size_t)N * V, 1e-9, 1e-6, "dlogits");
    assert_float_equal(warm_crossentropy_forward_backward(NULL, x, tg, w, N, V), loss, 0.0f);
    float *alias = fdup(x, (size_t)N * V);
    assert_float_equal(warm_crossentropy_forward_backward(alias, alias, tg, w, N, V), loss, 0.0f);
    assert_bits_equal(alias, d, (size_t)N * V, "aliased dlogits");
    float zero[5] = {0};
    for (int i = 0; i < N * V; i++) d[i] = 9.0f;
    assert_float_equal(warm_crossentropy_forward_backward(d, x, tg, zero, N, V), 0.0f, 0.0f);
    for (int i = 0; i < N * V; i++) assert_true(d[i] == 0.0f);
    free(x), free(d), free(ref), free(alias);
}

typedef struct {
    int N, V;
    float *x, *w;
    int32_t *tg;
} ce_ctx;

static double ce_objective(void *p) {
    ce_ctx *c = p;
    return (double)warm_crossentropy_forward_backward(NULL, c->x, c->tg, c->w, c->N, c->V);
}

static void test_crossentropy_fd(void **state) {
    (void)state;
    int N = 5, V = 11;
    float w[5] = {1.0f, 0.5f, 0.0f, 2.0f, 1.5f};
    int32_t tg[5] = {3, 0, 10, 7, 3};
    ce_ctx c = {N, V, falloc((size_t)N * V), w, tg};
    fill_uniform(c.x, (size_t)N * V, -2.0f, 2.0f, 131);
    float *d = falloc((size_t)N * V);
    warm_crossentropy_forward_backward(d, c.x, tg, w, N, V);
    /* the objective is one float loss (~2): its rounding is ~2.4e-7 / 2h = 1.2e-5, hence a tighter atol */
    check_fd("crossentropy dlogits", ce_objective, &c, c.x, d, (size_t)N * V, 2e-4, 1e-2);
    free(c.x), free(d);
}

#ifdef _OPENMP
typedef struct {
    ce_ctx *c;
    float *d;
    float loss;
} ce_run;

static void ce_run_fn(void *p) {
    ce_run *r = p;
    r->loss = warm_crossentropy_forward_backward(r->d, r->c->x, r->c->tg, r->c->w, r->c->N, r->c->V);
}
#endif

static void test_crossentropy_threads(void **state) {
    (void)state;
#ifdef _OPENMP
    int N = 33, V = 1000;
    ce_ctx c = {N, V, falloc((size_t)N * V), falloc((size_t)N), malloc((size_t)N * sizeof(int32_t))};
    assert_non_null(c.tg);
    fill_uniform(c.x, (size_t)N * V, -8.0f, 8.0f, 141);
    fill_uniform(c.w, (size_t)N, 0.0f, 2.0f, 142);
    for (int i = 0; i < N; i++) c.tg[i] = (i * 37) % V;
    ce_run r1 = {&c, falloc((size_t)N * V), 0}, r2 = {&c, falloc((size_t)N * V), 0};
    with_threads(1, ce_run_fn, &r1);
    with_threads(2, ce_run_fn, &r2);
    assert_bits_equal(&r1.loss, &r2.loss, 1, "loss");
    assert_bits_equal(r1.d, r2.d, (size_t)N * V, "dlogits");
    free(c.x), free(c.w), free(c.tg), free(r1.d), free(r2.d);
#else
    skip();
#endif
}

/* ------------------------------------------------------------------ AdamW, sum of squares */

/* One step, one element, by hand: m/bc1 = g and sqrt(v/bc2) = |g|, so p -> p (1 - lr wd) - lr g / (|g| + eps). */
static void test_adamw_hand(void **state) {
    (void)state;
    float p = 2.0f, g = -0.5f, m = 0.0f, v = 0.0f;
    float lr = 0.01f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, wd = 0.1f;
    warm_adamw_update(&p, &g, &m, &v, 1, lr, b1, b2, eps, wd, 1.0f - b1, 1.0f - b2, 1.0f);
    assert_float_equal(m, -0.05f, 1e-7f); /* (1 - 0.9f) = 0.100000024 in float */
    assert_float_equal(v, 0.00025f, 2e-8f); /* (1 - 0.999f) = 0.0010000467 in float */
    assert_float_equal(p, 2.0f * (1.0f - 0.001f) + 0.01f, 1e-6f);
}

/*
 * Three steps against the PyTorch formula evaluated in double, with decay and grad_scale. The reference uses
 * the hyperparameters as the kernel receives them (rounded to float: 1 - 0.9f is 0.100000024, not 0.1).
 */
static void test_adamw_reference(void **state) {
    (void)state;
    size_t n = 100003;
    const float flr = 1e-3f, fb1 = 0.9f, fb2 = 0.95f, feps = 1e-8f, fwd = 0.1f, fgs = 0.5f;
    const double lr = flr, b1 = fb1, b2 = fb2, eps = feps, wd = fwd, gs = fgs;
    float *p = falloc(n), *g = falloc(n), *m = falloc(n), *v = falloc(n);
    double *rp = malloc(n * sizeof(double)), *rm = calloc(n, sizeof(double)), *rv = calloc(n, sizeof(double));
    assert_true(rp && rm && rv);
    test_fill_normal(p, n, 151, 1.0f);
    for (size_t i = 0; i < n; i++) rp[i] = p[i];
    for (int t = 1; t <= 3; t++) {
        test_fill_normal(g, n, 160 + (uint64_t)t, 1e-2f);
        float fbc1 = (float)(1.0 - pow(b1, t)), fbc2 = (float)(1.0 - pow(b2, t));
        double bc1 = fbc1, bc2 = fbc2;
        warm_adamw_update(p, g, m, v, n, flr, fb1, fb2, feps, fwd, fbc1, fbc2, fgs);
        for (size_t i = 0; i < n; i++) {
            double gi = gs * (double)g[i];
            rp[i] *= 1.0 - lr * wd;
            rm[i] = b1 * rm[i] + (1.0 - b1) * gi;
            rv[i] = b2 * rv[i] + (1.0 - b2) * gi * gi;
            rp[i] -= lr / bc1 * rm[i] / (sqrt(rv[i]) / sqrt(bc2) + eps);
        }
    }
    for (size_t i = 0; i < n; i++) {
        /*
         * p: the update is ~1e-3 per step, float rounding of p (~1e-7) dominates. m: when g changes sign m
         * cancels, so its error is relative to |g| ~ 5e-3 (float rounding ~3e-10), not to m.
         */
        if (fabs((double)p[i] - rp[i]) > 1e-6 * fmax(1.0, fabs(rp[i])) ||
            fabs((double)m[i] - rm[i]) > 1e-5 * fabs(rm[i]) + 2e-9 ||
            fabs((double)v[i] - rv[i]) > 1e-5 * fabs(rv[i]) + 1e-16)
            fail_msg("element %zu: p %.9g vs %.9g, m %.9g vs %.9g, v %.9g vs %.9g", i, (double)p[i], rp[i],
                     (double)m[i], rm[i], (double)v[i], rv[i]);
    }
    free(p), free(g), free(m), free(v), free(rp), free(rm), free(rv);
}

/* warm_adamw_update_zero: the same p, m, v bits as warm_adamw_update, and g zeroed. */
static void test_adamw_update_zero(void **state) {
    (void)state;
    size_t n = 200003;
    float *p[2], *m[2], *v[2], *g[2];
    for (int k = 0; k < 2; k++) {
        p[k] = falloc(n), m[k] = falloc(n), v[k] = falloc(n), g[k] = falloc(n);
        test_fill_normal(p[k], n, 141, 1.0f);
        test_fill_normal(m[k], n, 142, 1e-2f);
        fill_uniform(v[k], n, 0.0f, 1e-4f, 143);
        test_fill_normal(g[k], n, 144, 1e-2f);
    }
    warm_adamw_update(p[0], g[0], m[0], v[0], n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.19f, 0.0975f, 0.5f);
    warm_adamw_update_zero(p[1], g[1], m[1], v[1], n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.19f, 0.0975f, 0.5f);
    assert_bits_equal(p[1], p[0], n, "adamw zero: p");
    assert_bits_equal(m[1], m[0], n, "adamw zero: m");
    assert_bits_equal(v[1], v[0], n, "adamw zero: v");
    for (size_t i = 0; i < n; i++) assert_true(g[1][i] == 0.0f);
    for (int k = 0; k < 2; k++) free(p[k]), free(m[k]), free(v[k]), free(g[k]);
}

static void test_sumsq(void **state) {
    (void)state;
    size_t n = 3 * 4096 * 100 + 13; /* several parallel batches and a partial block */
    float *x = falloc(n);
    fill_uniform(x, n, -1.0f, 1.0f, 171);
    double ref = 0;
    for (size_t i = 0; i < n; i++) ref += (double)x[i] * (double)x[i];
    double s = warm_sumsq(x, n);
    assert_true(fabs(s - ref) <= 1e-12 * ref);
    assert_true(warm_sumsq(x, 0) == 0.0);
    float three[3] = {1.0f, -2.0f, 3.0f};
    assert_true(warm_sumsq(three, 3) == 14.0);
#ifdef _OPENMP
    int prev = omp_get_max_threads();
    omp_set_num_threads(1);
    double s1 = warm_sumsq(x, n);
    omp_set_num_threads(2);
    double s2 = warm_sumsq(x, n);
    omp_set_num_threads(prev);
    assert_true(memcmp(&s1, &s2, sizeof s1) == 0);
#endif
    free(x);
}

/* ------------------------------------------------------------------ ISA paths */

/*
 * GELU, dropout, attention and AdamW pick an AVX-512 path at run time. Both paths run the same IEEE
 * operations in the same order, so WARM_KERNEL_ISA=portable (the testing hook) must give the same bits.
 * On a CPU without AVX-512 both runs take the portable path and the test holds trivially.
 */
typedef struct {
    float *gelu, *dgelu, *drop, *out, *att, *dqkv, *p, *m, *v;
} isa_run;

static void isa_run_all(isa_run *r) {
    size_t n = 40009; /* three parallel chunks, not a multiple of 16 */
    float *x = falloc(n), *g = falloc(n);
    fill_uniform(x, n, -6.0f, 6.0f, 181);
    fill_uniform(g, n, -1.0f, 1.0f, 182);
    warm_gelu_forward(r->gelu, x, n);
    warm_gelu_backward(r->dgelu, x, g, n);
    memcpy(r->drop, x, n * sizeof(float));
    warm_dropout_forward(r->drop, n, 0.25f, 183);
    att_ctx c = att_make(2, 37, 128, 2, 0.1f, 184);
    warm_attention_forward(r->out, r->att, c.qkv, c.B, c.T, c.C, c.NH, c.p, c.key);
    warm_attention_backward(r->dqkv, c.R, c.qkv, r->att, c.B, c.T, c.C, c.NH, c.p, c.key, NULL);
    att_free(&c);
    memcpy(r->p, x, n * sizeof(float));
    for (int t = 1; t <= 2; t++)
        warm_adamw_update(r->p, g, r->m, r->v, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.1f, 1.0f - powf(0.9f, (float)t),
                          1.0f - powf(0.999f, (float)t), 0.7f);
    free(x), free(g);
}

static void test_isa_paths_identical(void **state) {
    (void)state;
    size_t n = 40009, no = 2 * 37 * 128, na = 2 * 2 * 37 * 37;
    isa_run r[2];
    for (int k = 0; k < 2; k++)
        r[k] = (isa_run){falloc(n), falloc(n), falloc(n), falloc(no), falloc(na), falloc(3 * no),
                         falloc(n), falloc(n), falloc(n)};
    const char *prev = getenv("WARM_KERNEL_ISA");
    char *saved = prev ? strdup(prev) : NULL;
    unsetenv("WARM_KERNEL_ISA");
    isa_run_all(&r[0]);
    setenv("WARM_KERNEL_ISA", "portable", 1);
    isa_run_all(&r[1]);
    if (saved) setenv("WARM_KERNEL_ISA", saved, 1);
    else unsetenv("WARM_KERNEL_ISA");
    free(saved);
    assert_bits_equal(r[0].gelu, r[1].gelu, n, "gelu forward");
    assert_bits_equal(r[0].dgelu, r[1].dgelu, n, "gelu backward");
    assert_bits_equal(r[0].drop, r[1].drop, n, "dropout");
    assert_bits_equal(r[0].out, r[1].out, no, "attention out");
    assert_bits_equal(r[0].att, r[1].att, na, "attention probabilities");
    assert_bits_equal(r[0].dqkv, r[1].dqkv, 3 * no, "attention dqkv");
    assert_bits_equal(r[0].p, r[1].p, n, "adamw p");
    assert_bits_equal(r[0].m, r[1].m, n, "adamw m");
    assert_bits_equal(r[0].v, r[1].v, n, "adamw v");
    for (int k = 0; k < 2; k++) {
        isa_run *q = &r[k];
        free(q->gelu), free(q->dgelu), free(q->drop), free(q->out), free(q->att), free(q->dqkv);
        free(q->p), free(q->m), free(q->v);
    }
}

/* warm_logprob_at against log-softmax in double with libm exp: hand values, then random rows of every length
 * class (below 16, not a multiple of 16, GPT-2's 50,257) with logits spread over +-30. */
static void test_logprob_at(void **state) {
    (void)state;
    float two[2] = {0.0f, 0.0f};
    assert_true(fabs(warm_logprob_at(two, 2, 1) - log(0.5)) < 1e-7);
    float three[3] = {1.0f, 2.0f, 3.0f};
    double z = log(exp(1.0) + exp(2.0) + exp(3.0));
    assert_true(fabs(warm_logprob_at(three, 3, 0) - (1.0 - z)) < 1e-6);
    static const int Vs[4] = {7, 37, 316, 50257};
    float *x = malloc(50257 * sizeof *x);
    warm_rng r;
    warm_rng_seed(&r, 3);
    for (int k = 0; k < 4; k++) {
        int V = Vs[k];
        for (int v = 0; v < V; v++) x[v] = 60.0f * (warm_rng_uniform(&r) - 0.5f);
        double mx = x[0], sum = 0;
        for (int v = 1; v < V; v++) mx = (double)x[v] > mx ? (double)x[v] : mx;
        for (int v = 0; v < V; v++) sum += exp((double)x[v] - mx);
        for (int t = 0; t < V; t += V / 5 + 1) {
            double want = (double)x[t] - mx - log(sum), got = warm_logprob_at(x, V, t);
            if (fabs(got - want) > 2e-6 * (1 + fabs(want))) fail_msg("V %d t %d: %.9g vs %.9g", V, t, got, want);
        }
    }
    free(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layernorm_hand),
        cmocka_unit_test(test_logprob_at),
        cmocka_unit_test(test_layernorm_reference),
        cmocka_unit_test(test_layernorm_fd),
        cmocka_unit_test(test_layernorm_accumulate_null),
        cmocka_unit_test(test_layernorm_threads),
        cmocka_unit_test(test_gelu_hand),
        cmocka_unit_test(test_gelu_reference),
        cmocka_unit_test(test_gelu_fd),
        cmocka_unit_test(test_gelu_backward_set),
        cmocka_unit_test(test_attention_reference),
        cmocka_unit_test(test_attention_rows_causal),
        cmocka_unit_test(test_attention_fd),
        cmocka_unit_test(test_attention_accumulate_scratch),
        cmocka_unit_test(test_attention_threads),
        cmocka_unit_test(test_dropout_rate_scale),
        cmocka_unit_test(test_dropout_fd),
        cmocka_unit_test(test_dropout_fused),
        cmocka_unit_test(test_crossentropy_uniform),
        cmocka_unit_test(test_crossentropy_reference),
        cmocka_unit_test(test_crossentropy_fd),
        cmocka_unit_test(test_crossentropy_threads),
        cmocka_unit_test(test_adamw_hand),
        cmocka_unit_test(test_adamw_reference),
        cmocka_unit_test(test_adamw_update_zero),
        cmocka_unit_test(test_sumsq),
        cmocka_unit_test(test_isa_paths_identical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
