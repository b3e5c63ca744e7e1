/*
 * bench_matmul.c — validates warm_sgemm against warm_sgemm_naive on the training shapes, then times both.
 *
 * For each linear-layer shape (N token rows, C inputs, OC outputs) it runs the three products of a layer:
 *   fwd     out (N, OC)   = inp (N, C) W (C, OC)        sgemm(0, 0, M=N,  N=OC, K=C)
 *   dinp    dinp (N, C)  += dout (N, OC) W^T             sgemm(0, 1, M=N,  N=C,  K=OC)
 *   dweight dW (C, OC)   += inp^T dout                   sgemm(1, 0, M=C,  N=OC, K=N)
 * plus the tied LM head (logits = x wte^T, transB = 1) and a few decode shapes (M = 1..64 rows).
 * GFLOP/s = 2 M N K / time. warm_sgemm is timed with 1 and 2 threads (best and mean of repeated runs);
 * the naive reference (double accumulation, single thread) is timed once per product, on the rows it
 * validates (all rows, or the first ones when the full naive product would take more than ~2^28 MACs).
 * Validation uses the same error bound as tests/test_matmul.c and also requires the 1- and 2-thread
 * results to be bit-identical; any failure makes the exit status 1.
 *
 * Usage: bench_matmul [--quick]   (--quick: fewer repetitions)
 */
#include "warm/core.h"
#include "warm/kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct {
    const char *name;
    int transA, transB, M, N, K;
} product;

static void fill(float *x, size_t n, warm_rng *rng) {
    for (size_t i = 0; i < n; i++) x[i] = warm_rng_uniform(rng) * 2.0f - 1.0f;
}

static void set_threads(int t) {
#ifdef _OPENMP
    omp_set_num_threads(t);
#else
    (void)t;
#endif
}

/* Max of |c - ref| / bound, bound = (K + 4) * 2^-24 * sum_k |a||b| (inputs in [-1, 1]: sum <= K). */
static double check(const float *c, const float *ref, size_t n, int K) {
    double bound = (K + 4) * ldexp(1.0, -24) * K + 1e-30, worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)c[i] - (double)ref[i]) / bound;
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

/* Seconds of one call (best and mean over reps, after a warm-up call). */
static void time_sgemm(const product *p, const float *A, const float *B, float *C, int reps, double *best,
                       double *mean) {
    int lda = p->transA ? p->M : p->K, ldb = p->transB ? p->K : p->N;
    warm_sgemm(p->transA, p->transB, p->M, p->N, p->K, 1.0f, A, lda, B, ldb, 0.0f, C, p->N);
    double total = 0;
    *best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = warm_time_now();
        warm_sgemm(p->transA, p->transB, p->M, p->N, p->K, 1.0f, A, lda, B, ldb, 0.0f, C, p->N);
        double t = warm_time_now() - t0;
        total += t;
        if (t < *best) *best = t;
    }
    *mean = total / reps;
}

static int run_product(const product *p, int quick, warm_rng *rng) {
    size_t na = (size_t)p->M * p->K, nb = (size_t)p->K * p->N, nc = (size_t)p->M * p->N;
    float *A = warm_alloc(na * sizeof(float)), *B = warm_alloc(nb * sizeof(float));
    float *C = warm_alloc(nc * sizeof(float)), *R = warm_alloc(nc * sizeof(float));
    if (!A || !B || !C || !R) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    fill(A, na, rng);
    fill(B, nb, rng);
    int lda = p->transA ? p->M : p->K, ldb = p->transB ? p->K : p->N;
    double flop = 2.0 * p->M * p->N * p->K;

    /* Validate first (2 threads, then 1: the results must be bit-identical), then time. */
    int vrows = (int)fmin((double)p->M, fmax(1.0, (double)(1 << 28) / ((double)p->N * p->K)));
    double tn0 = warm_time_now();
    warm_sgemm_naive(p->transA, p->transB, vrows, p->N, p->K, 1.0f, A, lda, B, ldb, 0.0f, R, p->N);
    double t_naive = warm_time_now() - tn0, flop_naive = 2.0 * vrows * p->N * p->K;
    set_threads(2);
    warm_sgemm(p->transA, p->transB, p->M, p->N, p->K, 1.0f, A, lda, B, ldb, 0.0f, C, p->N);
    double err = check(C, R, (size_t)vrows * p->N, p->K);
    memcpy(R, C, nc * sizeof(float));
    set_threads(1);
    warm_sgemm(p->transA, p->transB, p->M, p->N, p->K, 1.0f, A, lda, B, ldb, 0.0f, C, p->N);
    int same = memcmp(R, C, nc * sizeof(float)) == 0;
    int ok = err <= 1.0 && same;

    int reps = (int)fmin(50.0, fmax(3.0, (quick ? 0.1 : 0.5) * 100e9 / flop));
    double b1, m1, b2, m2;
    set_threads(1);
    time_sgemm(p, A, B, C, reps, &b1, &m1);
    set_threads(2);
    time_sgemm(p, A, B, C, reps, &b2, &m2);
    printf("%-8s %d%d %5d %5d %5d | %6.1f %6.1f | %6.1f %6.1f | %6.2f | %5.2f %s\n", p->name, p->transA, p->transB,
           p->M, p->N, p->K, flop / b1 * 1e-9, flop / m1 * 1e-9, flop / b2 * 1e-9, flop / m2 * 1e-9,
           flop_naive / t_naive * 1e-9, err, ok ? "ok" : same ? "FAIL (error)" : "FAIL (1 vs 2 threads differ)");
    warm_free(A);
    warm_free(B);
    warm_free(C);
    warm_free(R);
    return ok;
}

/*
 * Per-call cost of the packing buffers at their largest (2 threads x (1.25 MB resident A + 720 KB B block)):
 * malloc, write every page, free, as one sgemm call does. The first call pays the page faults; later ones
 * reuse glibc's heap.
 */
static void time_alloc(void) {
    size_t bytes = 2 * (1280 * 1024 + 384 * 480 * 4);
    double first = 0, t0 = 0;
    int reps = 200;
    for (int r = 0; r <= reps; r++) {
        if (r == 1) t0 = warm_time_now();
        double t = warm_time_now();
        char *p = malloc(bytes + 64);
        if (!p) exit(1);
        for (size_t o = 0; o < bytes; o += 4096) p[o] = (char)o;
        free(p);
        if (r == 0) first = warm_time_now() - t;
    }
    printf("packing buffers (%.1f MB): allocate + touch + free = %.0f us first call, %.1f us after\n",
           (double)bytes / (1 << 20), first * 1e6, (warm_time_now() - t0) / reps * 1e6);
}

int main(int argc, char **argv) {
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    static const int layers[][3] = {{2048, 256, 768}, {2048, 256, 1024}, {1024, 384, 1536}, {256, 768, 3072}};
    warm_rng rng;
    warm_rng_seed(&rng, 1234);
    int ok = 1;
    printf("threads available: %d; GFLOP/s = 2MNK/time\n", warm_num_threads());
    time_alloc();
    printf("product  tt     M     N     K | 1 thread: best mean | 2 threads: best mean | naive | err/bound\n");
    for (size_t s = 0; s < sizeof layers / sizeof layers[0]; s++) {
        int N = layers[s][0], C = layers[s][1], OC = layers[s][2];
        product ps[3] = {{"fwd", 0, 0, N, OC, C}, {"dinp", 0, 1, N, C, OC}, {"dweight", 1, 0, C, OC, N}};
        for (int i = 0; i < 3; i++) ok &= run_product(&ps[i], quick, &rng);
    }
    /* LM head (tied wte, transB) at V = 8192 and GPT-2's 50257 with its two backward products (dx = dlogits
     * wte, dwte = dlogits^T x), larger N and K, and decode rows. */
    static const product extra[] = {
        {"lmhead", 0, 1, 256, 8192, 768},  {"lmhead", 0, 1, 1024, 8192, 256}, {"lmhead", 0, 1, 256, 50257, 768},
        {"lmh-dx", 0, 0, 256, 768, 50257}, {"lmh-dw", 1, 0, 50257, 768, 256},
        {"fwd", 0, 0, 4096, 256, 768},     {"dweight", 1, 0, 768, 3072, 4096}, {"decode", 0, 0, 1, 3072, 768},
        {"decode", 0, 0, 8, 3072, 768},    {"decode", 0, 0, 64, 3072, 768},   {"decode", 0, 1, 1, 8192, 768},
        {"decode", 0, 1, 8, 8192, 768},    {"decode", 0, 1, 64, 8192, 768},   {"decode", 0, 1, 1, 50257, 768},
    };
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) ok &= run_product(&extra[i], quick, &rng);
    printf("%s\n", ok ? "all validations passed" : "VALIDATION FAILED");
    return ok ? 0 : 1;
}
