/*
 * test_matmul.c — warm_sgemm against warm_sgemm_naive, and the linear-layer kernels against plain loops.
 *
 * Oracle: warm_sgemm_naive accumulates every element in double (k ascending) and applies alpha and beta in
 * double, so it is exact to a few ulps of the result; the loops for the linear layers below do the same.
 *
 * Tolerance (justified, not tuned): the fast paths sum K products in float with FMAs, in blocks of at most
 * 384 (packed path), in one chain (few-row path) or in 16 lane sums and a 4-level tree (few-row dot path),
 * then add the blocks and the beta term: at most K + 3 roundings on any element's path. The standard
 * bound for recursive summation gives
 *     |c - c_exact| <= (K + 4) * 2^-24 * (|alpha| * sum_k |a_ik b_kj| + |beta| * |c_old|)
 * (one extra unit for the final rounding, first order in 2^-24). Each element is checked against its own
 * bound, computed in double. A wrong index or a missed block gives errors of order sum|ab|, far above it.
 *
 * Besides values, the tests check: C's padding columns (ldc > N) are never written; beta = 0 ignores NaN in
 * C; alpha = 0 and K = 0 only scale C; results are bit-identical with 1, 2 and 3 OpenMP threads; every
 * micro-kernel variant (WARM_SGEMM_ISA=portable|avx2 caps the AVX-512 default) passes the same checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_util.h"
#include "warm/core.h"
#include "warm/kernels.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define SENTINEL 12345.0f /* marks C's padding columns, which must survive every call */

static void fill_uniform(float *x, size_t n, warm_rng *rng) {
    for (size_t i = 0; i < n; i++) x[i] = warm_rng_uniform(rng) * 2.0f - 1.0f;
}

static float *alloc_floats(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    assert_non_null(p);
    return p;
}

/* op(X)(i, k) for a row-major X with leading dimension ld. */
static float op_at(const float *X, int ld, int trans, int i, int k) {
    return trans ? X[(size_t)k * ld + i] : X[(size_t)i * ld + k];
}

typedef struct {
    int tA, tB, M, N, K;
    float alpha, beta;
    int pad;     /* extra elements per row of A, B and C (leading dimensions larger than needed) */
    int nan_c;   /* fill C with NaN (only meaningful with beta = 0) */
} gemm_case;

/* Runs one case through warm_sgemm and the oracle; checks every element against its bound. */
static void check_case(const gemm_case *t, warm_rng *rng) {
    int lda = (t->tA ? t->M : t->K) + t->pad, ldb = (t->tB ? t->K : t->N) + t->pad, ldc = t->N + t->pad;
    size_t na = (size_t)(t->tA ? t->K : t->M) * lda, nb = (size_t)(t->tB ? t->N : t->K) * ldb;
    size_t nc = (size_t)t->M * ldc;
    float *A = alloc_floats(na), *B = alloc_floats(nb), *C = alloc_floats(nc), *R = alloc_floats(nc);
    float *C0 = alloc_floats(nc);
    fill_uniform(A, na, rng);
    fill_uniform(B, nb, rng);
    fill_uniform(C0, nc, rng);
    for (int i = 0; i < t->M; i++)
        for (int j = 0; j < ldc; j++) {
            float *c = &C0[(size_t)i * ldc + j];
            if (j >= t->N) *c = SENTINEL;
            else if (t->nan_c) *c = NAN;
        }
    memcpy(C, C0, nc * sizeof(float));
    memcpy(R, C0, nc * sizeof(float));
    warm_sgemm(t->tA, t->tB, t->M, t->N, t->K, t->alpha, A, lda, B, ldb, t->beta, C, ldc);
    warm_sgemm_naive(t->tA, t->tB, t->M, t->N, t->K, t->alpha, A, lda, B, ldb, t->beta, R, ldc);
    for (int i = 0; i < t->M; i++) {
        for (int j = 0; j < ldc; j++) {
            size_t at = (size_t)i * ldc + j;
            if (j >= t->N) {
                assert_true(C[at] == SENTINEL);
                continue;
            }
            double sum_abs = 0;
            for (int k = 0; k < t->K; k++)
                sum_abs += fabs((double)op_at(A, lda, t->tA, i, k) * (double)op_at(B, ldb, t->tB, k, j));
            double c_old = t->beta == 0.0f ? 0.0 : fabs((double)C0[at]);
            double bound =
                (t->K + 4) * ldexp(1.0, -24) * (fabs((double)t->alpha) * sum_abs + fabs((double)t->beta) * c_old);
            double err = fabs((double)C[at] - (double)R[at]);
            if (!(err <= bound)) {
                print_error("tA=%d tB=%d M=%d N=%d K=%d alpha=%g beta=%g pad=%d: C(%d,%d) = %.9g, ref %.9g, "
                            "err %.3g > bound %.3g\n", t->tA, t->tB, t->M, t->N, t->K, (double)t->alpha,
                            (double)t->beta, t->pad, i, j, (double)C[at], (double)R[at], err, bound);
                fail();
            }
        }
    }
    free(A);
    free(B);
    free(C);
    free(R);
    free(C0);
}

/* All four transpose combinations of one shape, with the given alpha, beta, padding and NaN flag. */
static void check_all_trans(int M, int N, int K, float alpha, float beta, int pad, int nan_c, warm_rng *rng) {
    for (int tA = 0; tA < 2; tA++)
        for (int tB = 0; tB < 2; tB++) {
            gemm_case t = {tA, tB, M, N, K, alpha, beta, pad, nan_c};
            check_case(&t, rng);
        }
}

/* Odd and edge sizes around the 12 x 32 register tile, both sides of the small-shape cutoff. */
static void test_sgemm_shapes(void **state) {
    (void)state;
    warm_rng rng;
    warm_rng_seed(&rng, 1);
    static const int sizes[] = {1, 2, 7, 12, 13, 31, 33, 65};
    int ns = (int)(sizeof sizes / sizeof sizes[0]);
    for (int a = 0; a < ns; a++)
        for (int b = 0; b < ns; b++)
            for (int c = 0; c < ns; c += 2) check_all_trans(sizes[a], sizes[b], sizes[c], 1.0f, 0.0f, 0, 0, &rng);
    check_all_trans(3, 5, 7, 1.0f, 0.0f, 0, 0, &rng);
}

/* Every row count of the few-row paths (M <= 12) and of an edge tile of the packed path (M = 13..24), and
 * every column edge of a 32-wide tile; shapes large enough to skip the tiny-shape loop. */
static void check_tile_edges(warm_rng *rng) {
    for (int M = 1; M <= 24; M++) check_all_trans(M, 37, 300, 1.0f, 0.0f, 0, 0, rng);
    for (int N = 1; N <= 33; N += 4) check_all_trans(13, N, 700, 1.0f, 1.0f, 1, 0, rng);
}

static void test_sgemm_tile_edges(void **state) {
    (void)state;
    warm_rng rng;
    warm_rng_seed(&rng, 10);
    check_tile_edges(&rng);
}

/* Shapes that cross every block boundary: K > 384 (several K blocks, unequal split), N > 480 (several
 * column blocks), M > 96 (several packed A groups) or small enough for the resident-A schedule (37 and 50
 * rows with several column blocks), plus decode-sized M. */
static void test_sgemm_blocking(void **state) {
    (void)state;
    warm_rng rng;
    warm_rng_seed(&rng, 2);
    check_all_trans(257, 65, 800, 1.0f, 0.0f, 0, 0, &rng);
    check_all_trans(37, 1000, 300, 1.0f, 1.0f, 3, 0, &rng);
    check_all_trans(50, 1000, 800, 0.5f, 0.0f, 0, 0, &rng);
    check_all_trans(3100, 40, 20, 1.0f, 0.0f, 0, 0, &rng);
    check_all_trans(1, 777, 389, 1.0f, 0.0f, 0, 0, &rng);
    check_all_trans(5, 520, 64, 1.0f, 1.0f, 0, 0, &rng);
    check_all_trans(64, 96, 769, 1.0f, 0.0f, 0, 0, &rng);
    check_all_trans(200, 1, 500, 1.0f, 0.0f, 0, 0, &rng);
    /* Few rows with transB take the dot-product path: K below one vector, K with a tail, padded rows. */
    check_all_trans(2, 1000, 7, 1.0f, 0.0f, 0, 0, &rng);
    check_all_trans(5, 301, 77, -1.0f, 0.5f, 3, 0, &rng);
    check_all_trans(12, 130, 64, 1.0f, 0.0f, 1, 1, &rng);
}

/* Leading dimensions larger than the rows; C's padding must stay untouched. */
static void test_sgemm_strides(void **state) {
    (void)state;
    warm_rng rng;
    warm_rng_seed(&rng, 3);
    static const int pads[] = {1, 5, 16, 33};
    for (int p = 0; p < 4; p++) {
        check_all_trans(7, 31, 33, 1.0f, 0.0f, pads[p], 0, &rng);
        check_all_trans(65, 33, 129, 1.0f, 1.0f, pads[p], 0, &rng);
        check_all_trans(13, 70, 400, -0.5f, 2.0f, pads[p], 0, &rng);
    }
}

/* alpha and beta variants; beta = 0 with NaN in C. */
static void test_sgemm_alpha_beta(void **state) {
    (void)state;
    warm_rng rng;
    warm_rng_seed(&rng, 4);
    static const float ab[][2] = {{1, 0}, {1, 1}, {0.5f, -2}, {-1.5f, 0.25f}, {2, 1}, {3, 0}};
    for (int v = 0; v < 6; v++) {
        check_all_trans(31, 33, 65, ab[v][0], ab[v][1], 0, 0, &rng);
        check_all_trans(100, 70, 450, ab[v][0], ab[v][1], 2, 0, &rng);
    }
    check_all_trans(31, 33, 65, 1.0f, 0.0f, 0, 1, &rng);
    check_all_trans(100, 70, 450, -2.0f, 0.0f, 1, 1, &rng);
    check_all_trans(2, 3, 4, 1.0f, 0.0f, 0, 1, &rng);
}

/* M, N or K = 0, alpha = 0: C = beta C without reading A or B (NaN there must not leak in). */
static void test_sgemm_degenerate(void **state) {
    (void)state;
    float A[4] = {NAN, NAN, NAN, NAN}, B[4] = {NAN, NAN, NAN, NAN};
    float C[6] = {1, 2, 3, 4, 5, 6};
    warm_sgemm(0, 0, 0, 3, 2, 1.0f, A, 2, B, 3, 0.0f, C, 3);
    warm_sgemm(0, 0, 2, 0, 2, 1.0f, A, 2, B, 1, 0.0f, C, 3);
    for (int i = 0; i < 6; i++) assert_true(C[i] == (float)(i + 1));
    warm_sgemm(0, 0, 2, 3, 0, 1.0f, A, 1, B, 3, 2.0f, C, 3); /* K = 0: C = 2 C */
    for (int i = 0; i < 6; i++) assert_true(C[i] == 2.0f * (float)(i + 1));
    warm_sgemm(1, 1, 2, 3, 2, 0.0f, A, 2, B, 2, 0.5f, C, 3); /* alpha = 0: C = C / 2, NaN A unread */
    for (int i = 0; i < 6; i++) assert_true(C[i] == (float)(i + 1));
    warm_sgemm(0, 0, 2, 3, 0, 1.0f, A, 1, B, 3, 0.0f, C, 3); /* K = 0, beta = 0: zeros */
    for (int i = 0; i < 6; i++) assert_true(C[i] == 0.0f);
    float one_a = 3.0f, one_b = -2.0f, one_c = NAN;
    warm_sgemm(1, 1, 1, 1, 1, 1.0f, &one_a, 1, &one_b, 1, 0.0f, &one_c, 1);
    assert_true(one_c == -6.0f);
}

static void set_threads(int n) {
#ifdef _OPENMP
    omp_set_num_threads(n);
#else
    (void)n;
#endif
}

/*
 * The same product with 1, 2 and 3 threads must give the same bits (the K order never depends on threads;
 * 3 threads on 2 cores also exercise uneven splits of the work items).
 */
static void test_sgemm_thread_determinism(void **state) {
    (void)state;
    int saved_threads = warm_num_threads();
    warm_rng rng;
    warm_rng_seed(&rng, 5);
    static const int shapes[][3] = {{300, 520, 800}, {3, 1100, 400}, {1000, 20, 100}, {70, 64, 2000}, {40, 2000, 50}};
    for (int s = 0; s < 5; s++)
        for (int tA = 0; tA < 2; tA++)
            for (int tB = 0; tB < 2; tB++) {
                int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
                size_t nc = (size_t)M * N;
                float *A = alloc_floats((size_t)M * K), *B = alloc_floats((size_t)K * N);
                float *C0 = alloc_floats(nc), *C1 = alloc_floats(nc), *Ct = alloc_floats(nc);
                fill_uniform(A, (size_t)M * K, &rng);
                fill_uniform(B, (size_t)K * N, &rng);
                fill_uniform(C0, nc, &rng);
                int lda = tA ? M : K, ldb = tB ? K : N;
                for (int threads = 1; threads <= 3; threads++) {
                    float *C = threads == 1 ? C1 : Ct;
                    memcpy(C, C0, nc * sizeof(float));
                    set_threads(threads);
                    warm_sgemm(tA, tB, M, N, K, 0.75f, A, lda, B, ldb, 1.0f, C, N);
                    if (threads > 1) assert_memory_equal(C1, Ct, nc * sizeof(float));
                }
                free(A);
                free(B);
                free(C0);
                free(C1);
                free(Ct);
            }
    set_threads(saved_threads);
}

/* Every micro-kernel variant this CPU has passes the value checks (WARM_SGEMM_ISA lowers the choice). */
static void test_sgemm_isa_variants(void **state) {
    (void)state;
    static const char *caps[] = {"avx2", "portable"};
    for (int v = 0; v < 2; v++) {
        assert_int_equal(setenv("WARM_SGEMM_ISA", caps[v], 1), 0);
        warm_rng rng;
        warm_rng_seed(&rng, 6);
        check_tile_edges(&rng);
        check_all_trans(31, 33, 65, 1.0f, 0.0f, 0, 1, &rng);
        check_all_trans(65, 100, 450, 0.5f, -1.0f, 3, 0, &rng);
        check_all_trans(13, 520, 31, 1.0f, 1.0f, 0, 0, &rng);
    }
    assert_int_equal(unsetenv("WARM_SGEMM_ISA"), 0);
}

/* linear forward: out = inp W + b in double; bound as above with the bias as one more addend. */
static void check_linear_forward(int N, int C, int OC, int with_bias, warm_rng *rng) {
    float *inp = alloc_floats((size_t)N * C), *w = alloc_floats((size_t)C * OC), *b = alloc_floats((size_t)OC);
    float *out = alloc_floats((size_t)N * OC);
    fill_uniform(inp, (size_t)N * C, rng);
    fill_uniform(w, (size_t)C * OC, rng);
    fill_uniform(b, (size_t)OC, rng);
    for (size_t i = 0; i < (size_t)N * OC; i++) out[i] = NAN; /* forward overwrites */
    warm_linear_forward(out, inp, w, with_bias ? b : NULL, N, C, OC);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double acc = with_bias ? (double)b[o] : 0.0, sum_abs = with_bias ? fabs((double)b[o]) : 0.0;
            for (int c = 0; c < C; c++) {
                acc += (double)inp[(size_t)n * C + c] * (double)w[(size_t)c * OC + o];
                sum_abs += fabs((double)inp[(size_t)n * C + c] * (double)w[(size_t)c * OC + o]);
            }
            double bound = (C + 4) * ldexp(1.0, -24) * sum_abs;
            assert_true(fabs((double)out[(size_t)n * OC + o] - acc) <= bound);
        }
    free(inp);
    free(w);
    free(b);
    free(out);
}

static void test_linear_forward(void **state) {
    (void)state;
    warm_rng rng;
    warm_rng_seed(&rng, 7);
    check_linear_forward(3, 5, 7, 1, &rng);
    check_linear_forward(64, 48, 144, 1, &rng);
    check_linear_forward(130, 400, 97, 0, &rng);
    check_linear_forward(1, 64, 1, 1, &rng); /* reward head: C -> 1 */
    check_linear_forward(3, 64, 200, 1, &rng); /* decode rows: the unpacked few-row path, with bias */
}

/* |got - (init + exact)| <= (terms + 4) * 2^-24 * (|init| + sum_abs). */
static void assert_accumulated(float got, float init, double exact, double sum_abs, int terms) {
    double bound = (terms + 4) * ldexp(1.0, -24) * (fabs((double)init) + sum_abs);
    assert_true(fabs((double)got - ((double)init + exact)) <= bound);
}

/* linear backward: the three gradients accumulate (+=) onto non-zero starting values; any may be NULL. */
static void check_linear_backward(int N, int C, int OC, warm_rng *rng) {
    size_t ni = (size_t)N * C, nw = (size_t)C * OC, no = (size_t)N * OC;
    float *inp = alloc_floats(ni), *w = alloc_floats(nw), *dout = alloc_floats(no);
    float *dinp = alloc_floats(ni), *dw = alloc_floats(nw), *db = alloc_floats((size_t)OC);
    float *dinp0 = alloc_floats(ni), *dw0 = alloc_floats(nw), *db0 = alloc_floats((size_t)OC);
    fill_uniform(inp, ni, rng);
    fill_uniform(w, nw, rng);
    fill_uniform(dout, no, rng);
    fill_uniform(dinp0, ni, rng);
    fill_uniform(dw0, nw, rng);
    fill_uniform(db0, (size_t)OC, rng);
    memcpy(dinp, dinp0, ni * sizeof(float));
    memcpy(dw, dw0, nw * sizeof(float));
    memcpy(db, db0, (size_t)OC * sizeof(float));
    warm_linear_backward(dinp, dw, db, dout, inp, w, N, C, OC);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            double acc = 0, sa = 0;
            for (int o = 0; o < OC; o++) {
                double p = (double)dout[(size_t)n * OC + o] * (double)w[(size_t)c * OC + o];
                acc += p;
                sa += fabs(p);
            }
            assert_accumulated(dinp[(size_t)n * C + c], dinp0[(size_t)n * C + c], acc, sa, OC);
        }
    for (int c = 0; c < C; c++)
        for (int o = 0; o < OC; o++) {
            double acc = 0, sa = 0;
            for (int n = 0; n < N; n++) {
                double p = (double)inp[(size_t)n * C + c] * (double)dout[(size_t)n * OC + o];
                acc += p;
                sa += fabs(p);
            }
            assert_accumulated(dw[(size_t)c * OC + o], dw0[(size_t)c * OC + o], acc, sa, N);
        }
    for (int o = 0; o < OC; o++) {
        double acc = 0, sa = 0;
        for (int n = 0; n < N; n++) {
            acc += (double)dout[(size_t)n * OC + o];
            sa += fabs((double)dout[(size_t)n * OC + o]);
        }
        assert_accumulated(db[o], db0[o], acc, sa, N);
    }
    /* NULL outputs are skipped; the others come out exactly as in the full call (dbias without dweight takes
     * the separate column-sum pass, with dweight it is summed while the GEMM packs dout: the same bits). */
    float *dw_full = alloc_floats(nw), *db_full = alloc_floats((size_t)OC);
    memcpy(dw_full, dw, nw * sizeof(float));
    memcpy(db_full, db, (size_t)OC * sizeof(float));
    memcpy(dw, dw0, nw * sizeof(float));
    memcpy(db, db0, (size_t)OC * sizeof(float));
    warm_linear_backward(NULL, dw, NULL, dout, inp, w, N, C, OC);
    warm_linear_backward(NULL, NULL, db, dout, inp, w, N, C, OC);
    assert_memory_equal(dw, dw_full, nw * sizeof(float));
    assert_memory_equal(db, db_full, (size_t)OC * sizeof(float));
    warm_linear_backward(NULL, NULL, NULL, dout, inp, w, N, C, OC);
    free(dw_full);
    free(db_full);
    free(inp);
    free(w);
    free(dout);
    free(dinp);
    free(dw);
    free(db);
    free(dinp0);
    free(dw0);
    free(db0);
}

static void test_linear_backward(void **state) {
    (void)state;
    warm_rng rng;
    warm_rng_seed(&rng, 8);
    check_linear_backward(3, 5, 7, &rng);
    check_linear_backward(64, 48, 144, &rng);
    check_linear_backward(130, 100, 400, &rng);
    check_linear_backward(500, 40, 1, &rng);
    /* two K blocks and several column blocks: dbias summed inside the weight-gradient GEMM's packing must equal
     * bias_backward's (the NULL-output calls in check_linear_backward compare the two bit for bit) */
    check_linear_backward(600, 64, 1024, &rng);
}

/* The whole backward is bit-identical with 1 and 2 threads, dbias included. */
static void test_linear_backward_determinism(void **state) {
    (void)state;
    int N = 256, C = 96, OC = 300, saved_threads = warm_num_threads();
    size_t ni = (size_t)N * C, nw = (size_t)C * OC, no = (size_t)N * OC;
    warm_rng rng;
    warm_rng_seed(&rng, 9);
    float *inp = alloc_floats(ni), *w = alloc_floats(nw), *dout = alloc_floats(no);
    float *g[2][3];
    fill_uniform(inp, ni, &rng);
    fill_uniform(w, nw, &rng);
    fill_uniform(dout, no, &rng);
    for (int t = 0; t < 2; t++) {
        g[t][0] = calloc(ni, sizeof(float));
        g[t][1] = calloc(nw, sizeof(float));
        g[t][2] = calloc((size_t)OC, sizeof(float));
        assert_true(g[t][0] && g[t][1] && g[t][2]);
        set_threads(t + 1);
        warm_linear_backward(g[t][0], g[t][1], g[t][2], dout, inp, w, N, C, OC);
    }
    set_threads(saved_threads);
    assert_memory_equal(g[0][0], g[1][0], ni * sizeof(float));
    assert_memory_equal(g[0][1], g[1][1], nw * sizeof(float));
    assert_memory_equal(g[0][2], g[1][2], (size_t)OC * sizeof(float));
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < 3; i++) free(g[t][i]);
    free(inp);
    free(w);
    free(dout);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgemm_shapes),
        cmocka_unit_test(test_sgemm_tile_edges),
        cmocka_unit_test(test_sgemm_blocking),
        cmocka_unit_test(test_sgemm_strides),
        cmocka_unit_test(test_sgemm_alpha_beta),
        cmocka_unit_test(test_sgemm_degenerate),
        cmocka_unit_test(test_sgemm_thread_determinism),
        cmocka_unit_test(test_sgemm_isa_variants),
        cmocka_unit_test(test_linear_forward),
        cmocka_unit_test(test_linear_backward),
        cmocka_unit_test(test_linear_backward_determinism),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
