/*
 * test_util.h — small helpers shared by the cmocka tests: locating fixtures and ../shared/data,
 * temp paths, float comparison with a report of the worst element, seeded normal fills.
 */
#ifndef WARM_TEST_UTIL_H
#define WARM_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "warm/core.h"

/* Directory of committed fixtures (tests/fixtures relative to the repo root; tests run from the root). */
static inline const char *test_fixture_dir(void) {
    const char *d = getenv("WARM_FIXTURES");
    return d ? d : "tests/fixtures";
}

/* ../shared/data, or $WARM_SHARED_DATA. */
static inline const char *test_shared_data(void) {
    const char *d = getenv("WARM_SHARED_DATA");
    return d ? d : "../shared/data";
}

/* The warm binary of the build that holds this test (build/MODE/tests/test_x -> build/MODE/warm) into bin;
 * returns 1 when it exists and is executable. */
static inline int test_find_warm(char *bin, size_t n) {
    char exe[512];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return 0;
    exe[len] = 0;
    for (int k = 0; k < 2; k++) {
        char *slash = strrchr(exe, '/');
        if (!slash) return 0;
        *slash = 0;
    }
    snprintf(bin, n, "%s/warm", exe);
    return access(bin, X_OK) == 0;
}

/* A fresh temp directory path (created); caller frees nothing (static buffer per call site is fine). */
static inline void test_tmpdir(char *buf, size_t n) {
    snprintf(buf, n, "/tmp/warm-test-XXXXXX");
    if (!mkdtemp(buf)) { perror("mkdtemp"); abort(); }
}

/* Max of |a-b| / (atol + rtol*|b|) over n elements; returns index of the worst element via *worst. */
static inline double test_max_rel_err(const float *a, const float *b, size_t n, double atol, double rtol, size_t *worst) {
    double m = 0;
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]) / (atol + rtol * fabs((double)b[i]));
        if (!(e <= m)) { m = e; w = i; } /* NaN counts as worst */
        if (isnan(e)) { m = INFINITY; w = i; break; }
    }
    if (worst) *worst = w;
    return m;
}

/* x[i] = sd * N(0, 1), from warm_rng seeded with seed (deterministic test data). */
static inline void test_fill_normal(float *x, size_t n, uint64_t seed, float sd) {
    warm_rng r;
    warm_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) x[i] = sd * warm_rng_normal(&r);
}

#endif
