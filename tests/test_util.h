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

#include <cjson/cJSON.h>

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

/* Parses the JSON file rel under test_shared_data(); NULL (after a message naming the file, prefixed by who)
 * when it cannot be read or parsed. The caller frees the result with cJSON_Delete. */
static inline cJSON *test_shared_json(const char *rel, const char *who) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", test_shared_data(), rel);
    size_t size;
    warm_error err;
    char *text = warm_read_file(path, &size, &err);
    if (!text) {
        fprintf(stderr, "%s: %s (set WARM_SHARED_DATA to the shared data folder)\n", who, err.msg);
        return NULL;
    }
    cJSON *json = cJSON_ParseWithLength(text, size);
    free(text);
    if (!json) fprintf(stderr, "%s: %s: invalid JSON\n", who, path);
    return json;
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

/*
 * The easy preference task of the reward-model tests, as pre-tokenised JSONL: vocabulary TEST_PAIRS_V (0 pad,
 * 1 eos, 2 MARKER, 3.. content); a prompt of 3-5 content tokens, responses of 3-6 content tokens + eos; the
 * chosen response has one token replaced by MARKER, the rejected one is an independent response without it.
 * n_train "train" rows then n_val "val" rows; with shuffle, exactly half of the train rows (a random half)
 * have chosen and rejected swapped. Returns 0, or -1 when the file cannot be written.
 */
enum { TEST_PAIRS_V = 24, TEST_PAIRS_PAD = 0, TEST_PAIRS_EOS = 1, TEST_PAIRS_MARKER = 2 };

static inline int test_pairs_content(warm_rng *r) { return 3 + (int)warm_rng_below(r, TEST_PAIRS_V - 3); }

static inline void test_put_ids(FILE *f, const char *key, const int *ids, int n) {
    fprintf(f, "\"%s\":[", key);
    for (int i = 0; i < n; i++) fprintf(f, "%s%d", i ? "," : "", ids[i]);
    fputc(']', f);
}

static inline int test_write_marker_pairs(const char *path, int n_train, int n_val, int shuffle, uint64_t seed) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    warm_rng r;
    warm_rng_seed(&r, seed);
    int *swap = calloc((size_t)n_train + 1, sizeof *swap);
    if (!swap) {
        fclose(f);
        return -1;
    }
    for (int i = 0; i < n_train / 2; i++) swap[i] = 1;
    for (int i = n_train - 1; i > 0; i--) {
        int j = (int)warm_rng_below(&r, (uint32_t)(i + 1)), t = swap[i];
        swap[i] = swap[j];
        swap[j] = t;
    }
    for (int i = 0; i < n_train + n_val; i++) {
        int prompt[5], a[7], b[7];
        int np = 3 + (int)warm_rng_below(&r, 3), na = 3 + (int)warm_rng_below(&r, 4), nb = 3 + (int)warm_rng_below(&r, 4);
        for (int k = 0; k < np; k++) prompt[k] = test_pairs_content(&r);
        for (int k = 0; k < na; k++) a[k] = test_pairs_content(&r);
        for (int k = 0; k < nb; k++) b[k] = test_pairs_content(&r);
        a[warm_rng_below(&r, (uint32_t)na)] = TEST_PAIRS_MARKER;
        a[na++] = TEST_PAIRS_EOS;
        b[nb++] = TEST_PAIRS_EOS;
        int sw = i < n_train && shuffle && swap[i];
        fputc('{', f);
        test_put_ids(f, "prompt_ids", prompt, np);
        fputc(',', f);
        test_put_ids(f, "chosen_ids", sw ? b : a, sw ? nb : na);
        fputc(',', f);
        test_put_ids(f, "rejected_ids", sw ? a : b, sw ? na : nb);
        fprintf(f, ",\"split\":\"%s\"}\n", i < n_train ? "train" : "val");
    }
    free(swap);
    return fclose(f) == 0 ? 0 : -1;
}

#endif
