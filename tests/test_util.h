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
