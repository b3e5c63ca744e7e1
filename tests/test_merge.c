/*
 * test_merge.c — warm merge: bit-exactness of the uniform mean, hand-computed averages in every dtype (with
 * hand-derived round-to-nearest-even cases, one of which a double -> float -> bf16 cascade gets wrong),
 * weighted normalisation, lerp/slerp endpoints and norms, task arithmetic, greedy/top soups (a scripted
 * evaluator with a hand-derived path, and the real evaluator on tiny random models), files written by an
 * independent numpy writer (tests/fixtures/merge_*, scripts/make_merge_fixtures.py), sharded output, and
 * refusals: mismatched names/shapes/dtypes/configs, corrupt inputs and indexes, foreign output directories —
 * each with its message checked, no output left behind and an existing output untouched.
 *
 * Every test works in its own fresh directory under /tmp and removes it at the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"
#include "warm/data.h"
#include "warm/merge.h"
#include "warm/model.h"
#include "warm/safetensors.h"

/* ------------------------------------------------------------------ helpers */

static uint32_t f_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static float f_from_bits(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* dir/name in one of 256 rotating buffers (enough for the paths one test keeps at a time; long-lived ones
 * are strdup'd). */
static char *pjoin(const char *dir, const char *name) {
    static char bufs[256][512];
    static int k;
    char tmp[512];
    size_t a = strlen(dir), b = strlen(name);
    assert_true(a + b + 2 <= sizeof tmp);
    memcpy(tmp, dir, a);
    tmp[a] = '/';
    memcpy(tmp + a + 1, name, b + 1);
    char *out = bufs[k++ % 256];
    memcpy(out, tmp, a + b + 2);
    return out;
}

static void free_const(const char *p) { free((char *)(uintptr_t)p); }

static void rm_rf(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            for (struct dirent *e; (e = readdir(d));) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
                char sub[1024];
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                rm_rf(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Entries of dir whose name contains needle. */
static int count_entries(const char *dir, const char *needle) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, needle)) n++;
    closedir(d);
    return n;
}

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static void write_text_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = 0;
    fclose(f);
    return b;
}

/* A file of 1-D float tensors: names[i] has n[i] elements data[i], stored as dtypes[i]. */
typedef struct {
    const char *name;
    warm_dtype dtype;
    int n;
    const float *data;
} tspec;

static void write_st(const char *path, const tspec *t, int nt, const char *meta_key, const char *meta_val) {
    warm_st_spec specs[16];
    const float *data[16];
    for (int i = 0; i < nt; i++) {
        specs[i] = (warm_st_spec){.name = t[i].name, .dtype = t[i].dtype, .ndim = 1, .shape = {t[i].n}};
        data[i] = t[i].data;
    }
    const char *k[1] = {meta_key}, *v[1] = {meta_val};
    warm_error err = {0};
    warm_status s = warm_st_write(path, specs, data, nt, k, v, meta_key ? 1 : 0, &err);
    if (s) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(s, WARM_OK);
}

/* One 1-D tensor "w" of n floats. */
static void write_vec(const char *path, warm_dtype dt, const float *x, int n) {
    tspec t = {"w", dt, n, x};
    write_st(path, &t, 1, NULL, NULL);
}

/* Tensor key of checkpoint path as floats (malloc'd); *n = numel; *dt = stored dtype. */
static float *read_tensor(const char *path, const char *key, uint64_t *n, warm_dtype *dt) {
    warm_ckpt c;
    warm_error err = {0};
    warm_status s = warm_ckpt_open(&c, path, &err);
    if (s) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(s, WARM_OK);
    const warm_ckpt_tensor *t = warm_ckpt_find(&c, key);
    assert_non_null(t);
    float *x = malloc((size_t)t->t->numel * sizeof *x + 4);
    assert_non_null(x);
    assert_int_equal(warm_st_to_f32(t->file, t->t, x, &err), WARM_OK);
    if (n) *n = t->t->numel;
    if (dt) *dt = t->t->dtype;
    warm_ckpt_close(&c);
    return x;
}

/* Raw bytes of tensor key (malloc'd). */
static uint8_t *read_raw(const char *path, const char *key, size_t *len, warm_dtype *dt) {
    warm_ckpt c;
    warm_error err = {0};
    assert_int_equal(warm_ckpt_open(&c, path, &err), WARM_OK);
    const warm_ckpt_tensor *t = warm_ckpt_find(&c, key);
    if (!t) fprintf(stderr, "no tensor %s in %s\n", key, path);
    assert_non_null(t);
    *len = (size_t)(t->t->end - t->t->begin);
    uint8_t *b = malloc(*len + 1);
    assert_non_null(b);
    if (*len) memcpy(b, t->t->data, *len);
    if (dt) *dt = t->t->dtype;
    warm_ckpt_close(&c);
    return b;
}

static warm_status merge_paths(const char **in, int n, const char *out, const warm_merge_opts *o,
                               warm_merge_report *rep, warm_error *err) {
    return warm_merge((const char *const *)in, n, out, o, rep, err);
}

static void merge_ok(const char **in, int n, const char *out, const warm_merge_opts *o, warm_merge_report *rep) {
    warm_error err = {0};
    warm_status s = merge_paths(in, n, out, o, rep, &err);
    if (s) fprintf(stderr, "merge failed: %s\n", err.msg);
    assert_int_equal(s, WARM_OK);
}

/* Expects a failure with code and a message containing each of the NULL-terminated needles. */
static void merge_fails(const char **in, int n, const char *out, const warm_merge_opts *o, warm_status code, ...) {
    warm_error err = {0};
    warm_status s = merge_paths(in, n, out, o, NULL, &err);
    if (s != code) fprintf(stderr, "expected %s, got %s: %s\n", warm_status_str(code), warm_status_str(s), err.msg);
    assert_int_equal(s, code);
    va_list ap;
    va_start(ap, code);
    for (const char *needle; (needle = va_arg(ap, const char *));) {
        if (!strstr(err.msg, needle)) fprintf(stderr, "message '%s' lacks '%s'\n", err.msg, needle);
        assert_non_null(strstr(err.msg, needle));
    }
    va_end(ap);
}

/* ------------------------------------------------------------------ uniform: bit-exact */

static void test_uniform_copies_bit_exact(void **state) {
    (void)state;
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    enum { N = 70000 }; /* more than a kernel chunk and not a multiple of it */
    float *x = malloc(N * sizeof *x);
    assert_non_null(x);
    warm_rng r;
    warm_rng_seed(&r, 7);
    for (int i = 0; i < N; i++) x[i] = warm_rng_normal(&r) * 3.0f;
    const float special[] = {-0.0f, 0.0f, 1e-45f, -1.17549435e-38f, 3.40282347e38f, -3.40282347e38f, INFINITY,
                             -INFINITY, 1.0f / 3.0f, 16777215.0f};
    memcpy(x, special, sizeof special);
    const char *in = pjoin(dir, "a.safetensors");
    write_vec(in, WARM_DTYPE_F32, x, N);
    for (int k = 1; k <= 7; k++) {
        const char *ins[7];
        for (int i = 0; i < k; i++) ins[i] = in;
        warm_merge_opts o = warm_merge_opts_default();
        o.block_elems = 40000; /* several blocks, the last one partial */
        o.threads = 1 + k % 2;  /* results do not depend on the thread count */
        const char *out = pjoin(dir, "out.safetensors");
        merge_ok(ins, k, out, &o, NULL);
        size_t la, lb;
        uint8_t *a = read_raw(in, "w", &la, NULL), *b = read_raw(out, "w", &lb, NULL);
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, la);
        free(a);
        free(b);
    }
    free(x);
    rm_rf(dir);
}

/* The mean of copies is exact in the 16-bit dtypes too (through the round-to-odd path). */
static void test_uniform_copies_half(void **state) {
    (void)state;
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    float x[1000];
    warm_rng r;
    warm_rng_seed(&r, 9);
    for (int i = 0; i < 1000; i++) x[i] = warm_rng_normal(&r);
    const warm_dtype dts[2] = {WARM_DTYPE_BF16, WARM_DTYPE_F16};
    for (int d = 0; d < 2; d++) {
        const char *in = pjoin(dir, "h.safetensors"), *out = pjoin(dir, "o.safetensors");
        write_vec(in, dts[d], x, 1000);
        const char *ins[3] = {in, in, in};
        merge_ok(ins, 3, out, NULL, NULL);
        size_t la, lb;
        warm_dtype dt;
        uint8_t *a = read_raw(in, "w", &la, NULL), *b = read_raw(out, "w", &lb, &dt);
        assert_int_equal(dt, dts[d]); /* default output dtype: the input's */
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, la);
        free(a);
        free(b);
    }
    /* Special F32 values merged to BF16/F16: exactly what the scalar conversions give (NaN stays NaN). */
    const float sp[9] = {NAN, INFINITY, -INFINITY, -0.0f, 3.40282347e38f, 1e-40f, 65504.0f, 70000.0f, -1.0f / 3.0f};
    write_vec(pjoin(dir, "s.safetensors"), WARM_DTYPE_F32, sp, 9);
    const char *ss[3] = {pjoin(dir, "s.safetensors"), pjoin(dir, "s.safetensors"), pjoin(dir, "s.safetensors")};
    for (int d = 0; d < 2; d++) {
        warm_merge_opts o = warm_merge_opts_default();
        o.out_dtype = dts[d];
        merge_ok(ss, 3, pjoin(dir, "o.safetensors"), &o, NULL);
        size_t len;
        uint8_t *raw = read_raw(pjoin(dir, "o.safetensors"), "w", &len, NULL);
        assert_int_equal(len, 18);
        for (int i = 0; i < 9; i++) {
            uint16_t got = (uint16_t)(raw[2 * i] | (raw[2 * i + 1] << 8));
            uint16_t want = dts[d] == WARM_DTYPE_BF16 ? warm_f32_to_bf16(sp[i]) : warm_f32_to_f16(sp[i]);
            if (i == 0) assert_true(isnan(dts[d] == WARM_DTYPE_BF16 ? warm_bf16_to_f32(got) : warm_f16_to_f32(got)));
            else assert_int_equal(got, want);
        }
        free(raw);
    }
    rm_rf(dir);
}

/* ------------------------------------------------------------------ hand-computed averages per dtype */

static void test_hand_average_dtypes(void **state) {
    (void)state;
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    /* Mixed inputs: 1.5 (F32) + 2.0 (F16) + 3.0 (BF16), and -0.75, 0.25, 4.0: exact in every dtype. */
    const float a[2] = {1.5f, -0.75f}, b[2] = {2.0f, 0.25f}, c[2] = {3.0f, 4.0f};
    write_vec(pjoin(dir, "a.safetensors"), WARM_DTYPE_F32, a, 2);
    write_vec(pjoin(dir, "b.safetensors"), WARM_DTYPE_F16, b, 2);
    write_vec(pjoin(dir, "c.safetensors"), WARM_DTYPE_BF16, c, 2);
    const char *ins[3] = {pjoin(dir, "a.safetensors"), pjoin(dir, "b.safetensors"), pjoin(dir, "c.safetensors")};
    warm_merge_opts o = warm_merge_opts_default();
    const char *out = pjoin(dir, "o.safetensors");
    merge_ok(ins, 3, out, &o, NULL);
    warm_dtype dt;
    float *y = read_tensor(out, "w", NULL, &dt);
    assert_int_equal(dt, WARM_DTYPE_F32); /* first input's dtype */
    assert_true(f_bits(y[0]) == f_bits((float)(6.5 / 3.0)));
    assert_true(f_bits(y[1]) == f_bits((float)(3.5 / 3.0)));
    free(y);

    /* BF16 ties: ulp(1) = 2^-7 in BF16 (7 fraction bits).
     *   mean(1, 1 + 2^-7)          = 1 + 2^-8         tie between 0x3F80 and 0x3F81 -> even 0x3F80
     *   mean(1 + 2^-7, 1 + 2^-6)   = 1 + 3 * 2^-8     tie between 0x3F81 and 0x3F82 -> even 0x3F82
     *   mean(1, 1 + 2^-7 + 2^-23)  = 1 + 2^-8 + 2^-24 just above the first tie      -> 0x3F81
     * The last one is not a float: float RNE gives 1 + 2^-8 (a BF16 tie, even neighbour), so the cascade
     * double -> float -> bf16 would give 0x3F80. One correct rounding gives 0x3F81. */
    const float p[3] = {1.0f, 1.0f + 0x1p-7f, 1.0f}, q[3] = {1.0f + 0x1p-7f, 1.0f + 0x1p-6f, 1.0f + 0x1p-7f + 0x1p-23f};
    write_vec(pjoin(dir, "p.safetensors"), WARM_DTYPE_F32, p, 3);
    write_vec(pjoin(dir, "q.safetensors"), WARM_DTYPE_F32, q, 3);
    const char *pq[2] = {pjoin(dir, "p.safetensors"), pjoin(dir, "q.safetensors")};
    o.out_dtype = WARM_DTYPE_BF16;
    merge_ok(pq, 2, out, &o, NULL);
    size_t len;
    uint8_t *raw = read_raw(out, "w", &len, &dt);
    assert_int_equal(dt, WARM_DTYPE_BF16);
    assert_int_equal(len, 6);
    const uint16_t want_bf16[3] = {0x3F80, 0x3F82, 0x3F81};
    for (int i = 0; i < 3; i++) assert_int_equal(raw[2 * i] | (raw[2 * i + 1] << 8), want_bf16[i]);
    assert_int_equal(warm_f32_to_bf16((float)((1.0 + (1.0 + 0x1p-7 + 0x1p-23)) / 2)), 0x3F80); /* the cascade */
    free(raw);

    /* F16 ties: ulp(1) = 2^-10. mean(1, 1 + 2^-10) = 1 + 2^-11 -> 0x3C00; mean(1 + 2^-10, 1 + 2^-9) -> 0x3C02. */
    const float r1[2] = {1.0f, 1.0f + 0x1p-10f}, r2[2] = {1.0f + 0x1p-10f, 1.0f + 0x1p-9f};
    write_vec(pjoin(dir, "p.safetensors"), WARM_DTYPE_F32, r1, 2);
    write_vec(pjoin(dir, "q.safetensors"), WARM_DTYPE_F32, r2, 2);
    o.out_dtype = WARM_DTYPE_F16;
    merge_ok(pq, 2, out, &o, NULL);
    raw = read_raw(out, "w", &len, &dt);
    assert_int_equal(dt, WARM_DTYPE_F16);
    assert_int_equal(raw[0] | (raw[1] << 8), 0x3C00);
    assert_int_equal(raw[2] | (raw[3] << 8), 0x3C02);
    free(raw);
    rm_rf(dir);
}

/* ------------------------------------------------------------------ weighted, lerp, slerp, task arithmetic */

static void test_weighted_normalisation(void **state) {
    (void)state;
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    float a[500], b[500];
    warm_rng r;
    warm_rng_seed(&r, 3);
    for (int i = 0; i < 500; i++) {
        a[i] = warm_rng_normal(&r);
        b[i] = warm_rng_normal(&r);
    }
    write_vec(pjoin(dir, "a.safetensors"), WARM_DTYPE_F32, a, 500);
    write_vec(pjoin(dir, "b.safetensors"), WARM_DTYPE_F32, b, 500);
    const char *ins[2] = {pjoin(dir, "a.safetensors"), pjoin(dir, "b.safetensors")};
    const double w[3][2] = {{1, 3}, {0.25, 0.75}, {2, 6}};
    float *res[3];
    for (int k = 0; k < 3; k++) {
        warm_merge_opts o = warm_merge_opts_default();
        o.method = WARM_MERGE_WEIGHTED;
        o.weights = w[k];
        o.n_weights = 2;
        warm_merge_report rep;
        merge_ok(ins, 2, pjoin(dir, "o.safetensors"), &o, &rep);
        assert_true(rep.coef[0] == 0.25 && rep.coef[1] == 0.75);
        warm_merge_report_free(&rep);
        res[k] = read_tensor(pjoin(dir, "o.safetensors"), "w", NULL, NULL);
    }
    for (int i = 0; i < 500; i++) {
        float want = (float)(((double)a[i] + 3.0 * (double)b[i]) / 4.0);
        for (int k = 0; k < 3; k++) assert_true(f_bits(res[k][i]) == f_bits(want));
    }
    for (int k = 0; k < 3; k++) free(res[k]);
    rm_rf(dir);
}

static void test_lerp(void **state) {
    (void)state;
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    float a[300], b[300];
    warm_rng r;
    warm_rng_seed(&r, 4);
    for (int i = 0; i < 300; i++) {
        a[i] = warm_rng_normal(&r);
        b[i] = warm_rng_normal(&r) * 10.0f;
    }
    write_vec(pjoin(dir, "a.safetensors"), WARM_DTYPE_F32, a, 300);
    write_vec(pjoin(dir, "b.safetensors"), WARM_DTYPE_F32, b, 300);
    const char *ins[2] = {pjoin(dir, "a.safetensors"), pjoin(dir, "b.safetensors")};
    const double lams[3] = {0.0, 1.0, 0.25};
    for (int k = 0; k < 3; k++) {
        warm_merge_opts o = warm_merge_opts_default();
        o.method = WARM_MERGE_LERP;
        o.lambda = lams[k];
        merge_ok(ins, 2, pjoin(dir, "o.safetensors"), &o, NULL);
        float *y = read_tensor(pjoin(dir, "o.safetensors"), "w", NULL, NULL);
        for (int i = 0; i < 300; i++) {
            float want = (float)((1.0 - lams[k]) * (double)a[i] + lams[k] * (double)b[i]);
            assert_true(f_bits(y[i]) == f_bits(want));
        }
        if (k == 0) assert_memory_equal(y, a, sizeof a);
        if (k == 1) assert_memory_equal(y, b, sizeof b);
        free(y);
    }
    rm_rf(dir);
}

static double norm(const float *x, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)x[i] * (double)x[i];
    return sqrt(s);
}

static void test_slerp(void **state) {
    (void)state;
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    enum { N = 4000 };
    static float a[N], b[N], par[N], zero[N];
    warm_rng r;
    warm_rng_seed(&r, 5);
    for (int i = 0; i < N; i++) {
        a[i] = warm_rng_normal(&r);
        b[i] = 0.6f * a[i] + 2.0f * warm_rng_normal(&r); /* correlated, far from parallel, larger norm */
        par[i] = 2.0f * a[i];
    }
    par[0] += 1e-3f; /* nearly parallel: |cos| > 0.9995 */
    const float e0[2] = {1.0f, 0.0f}, e1[2] = {0.0f, 2.0f}, z1[2] = {0.0f, 0.0f};
    tspec ta[4] = {{"v", WARM_DTYPE_F32, N, a}, {"p", WARM_DTYPE_F32, N, a}, {"e", WARM_DTYPE_F32, 2, e0},
                   {"z", WARM_DTYPE_F32, N, zero}};
    tspec tb[4] = {{"v", WARM_DTYPE_F32, N, b}, {"p", WARM_DTYPE_F32, N, par}, {"e", WARM_DTYPE_F32, 2, e1},
                   {"z", WARM_DTYPE_F32, N, a}};
    (void)z1;
    write_st(pjoin(dir, "a.safetensors"), ta, 4, NULL, NULL);
    write_st(pjoin(dir, "b.safetensors"), tb, 4, NULL, NULL);
    const char *ins[2] = {pjoin(dir, "a.safetensors"), pjoin(dir, "b.safetensors")};
    const char *out = pjoin(dir, "o.safetensors");
    double na = norm(a, N), nb = norm(b, N);
    const double lams[5] = {0.0, 1.0, 0.3, 0.5, 0.9};
    for (int k = 0; k < 5; k++) {
        double lam = lams[k];
        warm_merge_opts o = warm_merge_opts_default();
        o.method = WARM_MERGE_SLERP;
        o.lambda = lam;
        warm_merge_report rep;
        merge_ok(ins, 2, out, &o, &rep);
        assert_int_equal(rep.n_slerp_fallback, 2); /* "p" (parallel) and "z" (zero norm) */
        warm_merge_report_free(&rep);
        float *v = read_tensor(out, "v", NULL, NULL), *p = read_tensor(out, "p", NULL, NULL);
        float *e = read_tensor(out, "e", NULL, NULL), *z = read_tensor(out, "z", NULL, NULL);
        if (lam == 0.0) assert_memory_equal(v, a, sizeof a);
        if (lam == 1.0) assert_memory_equal(v, b, sizeof b);
        double nv = norm(v, N);
        assert_true(nv >= fmin(na, nb) * (1 - 1e-6) && nv <= fmax(na, nb) * (1 + 1e-6));
        assert_true(fabs(nv - ((1 - lam) * na + lam * nb)) <= 1e-5 * nv); /* linear norm interpolation */
        for (int i = 0; i < N; i++) {
            assert_true(f_bits(p[i]) == f_bits((float)((1 - lam) * (double)a[i] + lam * (double)par[i])));
            assert_true(z[i] == (float)(lam * (double)a[i])); /* value: 0 * a[i] may be -0 */
        }
        /* e0 = (1, 0), e1 = (0, 2), orthogonal: Ω = π/2, result = (1 - λ + 2λ) (cos(λπ/2), sin(λπ/2)). */
        double nn = 1 - lam + 2 * lam;
        assert_true(fabs((double)e[0] - nn * cos(lam * WARM_PI / 2)) < 1e-6);
        assert_true(fabs((double)e[1] - nn * sin(lam * WARM_PI / 2)) < 1e-6);
        free(v);
        free(p);
        free(e);
        free(z);
    }
    /* With a base: the interpolation runs on the deltas; λ = 0 gives a back (to rounding of (a - base) + base). */
    float base[N];
    for (int i = 0; i < N; i++) base[i] = 0.5f * a[i] + 0.1f;
    tspec tbase[4] = {{"v", WARM_DTYPE_F32, N, base}, {"p", WARM_DTYPE_F32, N, base}, {"e", WARM_DTYPE_F32, 2, z1},
                      {"z", WARM_DTYPE_F32, N, zero}};
    write_st(pjoin(dir, "base.safetensors"), tbase, 4, NULL, NULL);
    warm_merge_opts o = warm_merge_opts_default();
    o.method = WARM_MERGE_SLERP;
    o.lambda = 0.0;
    o.base = pjoin(dir, "base.safetensors");
    merge_ok(ins, 2, out, &o, NULL);
    float *v = read_tensor(out, "v", NULL, NULL);
    for (int i = 0; i < N; i++) assert_true(fabsf(v[i] - a[i]) <= 1e-6f * (1 + fabsf(a[i])));
    free(v);
    rm_rf(dir);
}

static void test_task_arithmetic(void **state) {
    (void)state;
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    const float base[4] = {1.0f, -2.0f, 0.5f, 0.0f}, a[4] = {1.5f, -2.0f, 0.25f, 1.0f};
    const float b[4] = {0.0f, -1.0f, 0.5f, 3.0f};
    write_vec(pjoin(dir, "base.safetensors"), WARM_DTYPE_F32, base, 4);
    write_vec(pjoin(dir, "a.safetensors"), WARM_DTYPE_F32, a, 4);
    write_vec(pjoin(dir, "b.safetensors"), WARM_DTYPE_F32, b, 4);
    const char *ins[2] = {pjoin(dir, "a.safetensors"), pjoin(dir, "b.safetensors")};
    warm_merge_opts o = warm_merge_opts_default();
    o.method = WARM_MERGE_TASK_ARITHMETIC;
    o.base = pjoin(dir, "base.safetensors");
    o.scale = 0.5;
    merge_ok(ins, 2, pjoin(dir, "o.safetensors"), &o, NULL);
    float *y = read_tensor(pjoin(dir, "o.safetensors"), "w", NULL, NULL);
    /* base + 0.5 * ((a - base) + (b - base)), by hand: */
    const float want[4] = {1.0f + 0.5f * (0.5f - 1.0f), -2.0f + 0.5f * (0.0f + 1.0f), 0.5f + 0.5f * (-0.25f + 0.0f),
                           0.0f + 0.5f * (1.0f + 3.0f)};
    assert_memory_equal(y, want, sizeof want);
    free(y);
    /* Weights w = (2, -1), s = 1: base + 2 (a - base) - (b - base) = {3, -3, 0, -1}. */
    const double w[2] = {2, -1};
    o.scale = 1;
    o.weights = w;
    o.n_weights = 2;
    merge_ok(ins, 2, pjoin(dir, "o.safetensors"), &o, NULL);
    y = read_tensor(pjoin(dir, "o.safetensors"), "w", NULL, NULL);
    const float want2[4] = {3.0f, -3.0f, 0.0f, -1.0f};
    assert_memory_equal(y, want2, sizeof want2);
    free(y);
    rm_rf(dir);
}

/* ------------------------------------------------------------------ files from the numpy writer */

static const char *const FIXTURE_KEYS[] = {"wte.weight", "wpe.weight", "h.0.ln_1.weight", "h.0.attn.c_attn.weight",
                                           "h.0.attn.c_attn.bias", "ln_f.bias", "score.weight", NULL};

static void fixture_inputs(const char *ins[5]) {
    static char b[5][512];
    const char *names[5] = {"merge_a.safetensors", "merge_b_f16.safetensors", "merge_c_bf16.safetensors",
                            "merge_d_sharded", "merge_e_bare.safetensors"};
    for (int i = 0; i < 5; i++) {
        snprintf(b[i], sizeof b[i], "%s/%s", test_fixture_dir(), names[i]);
        ins[i] = b[i];
    }
}

/* Every fixture key of out equals prefix.key of merge_expected, byte for byte, in dtype dt. */
static void compare_with_expected(const char *out, const char *prefix, warm_dtype dt) {
    char exp[512], key[128];
    snprintf(exp, sizeof exp, "%s/merge_expected.safetensors", test_fixture_dir());
    for (int k = 0; FIXTURE_KEYS[k]; k++) {
        snprintf(key, sizeof key, "%s.%s", prefix, FIXTURE_KEYS[k]);
        size_t la, lb;
        warm_dtype da, db;
        uint8_t *a = read_raw(out, FIXTURE_KEYS[k], &la, &da), *b = read_raw(exp, key, &lb, &db);
        assert_int_equal(da, dt);
        assert_int_equal(db, dt);
        assert_int_equal(la, lb);
        if (memcmp(a, b, la) != 0) fprintf(stderr, "%s differs from numpy's %s\n", FIXTURE_KEYS[k], key);
        assert_memory_equal(a, b, la);
        free(a);
        free(b);
    }
    size_t la, lb;
    uint8_t *a = read_raw(out, "position_ids", &la, NULL), *b = read_raw(exp, "position_ids", &lb, NULL);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    free(a);
    free(b);
}

static void test_numpy_fixtures(void **state) {
    (void)state;
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    const char *ins[5];
    fixture_inputs(ins);
    const char *out = pjoin(dir, "o.safetensors");
    warm_merge_opts o = warm_merge_opts_default();
    warm_merge_report rep;
    merge_ok(ins, 5, out, &o, &rep);
    assert_int_equal(rep.n_averaged, 7);
    assert_int_equal(rep.n_copied, 1);
    assert_int_equal(rep.n_skipped, 2); /* h.0.attn.bias and h.0.attn.masked_bias of the bare file */
    warm_merge_report_free(&rep);
    compare_with_expected(out, "uniform", WARM_DTYPE_F32);
    /* Names follow the first input (prefixed); the legacy buffers are gone. */
    warm_st_file f;
    warm_error err = {0};
    assert_int_equal(warm_st_open(&f, out, &err), WARM_OK);
    assert_int_equal(f.n_tensors, 8);
    assert_non_null(warm_st_find(&f, "transformer.wte.weight"));
    assert_non_null(warm_st_find(&f, "score.weight"));
    assert_null(warm_st_find(&f, "h.0.attn.bias"));
    assert_null(warm_st_find(&f, "transformer.h.0.attn.bias"));
    warm_st_close(&f);

    o.out_dtype = WARM_DTYPE_BF16;
    merge_ok(ins, 5, out, &o, NULL);
    compare_with_expected(out, "uniform_bf16", WARM_DTYPE_BF16);
    o.out_dtype = WARM_DTYPE_F16;
    merge_ok(ins, 5, out, &o, NULL);
    compare_with_expected(out, "uniform_f16", WARM_DTYPE_F16);

    const double w[5] = {1, 2, 3, 4, 5};
    o = warm_merge_opts_default();
    o.method = WARM_MERGE_WEIGHTED;
    o.weights = w;
    o.n_weights = 5;
    o.out_dtype = WARM_DTYPE_F32;
    merge_ok(ins, 5, out, &o, NULL);
    compare_with_expected(out, "weighted", WARM_DTYPE_F32);

    /* Same merge with the sharded directory first: the output directory gets its config.json. */
    const char *ins2[5] = {ins[3], ins[0], ins[1], ins[2], ins[4]};
    o = warm_merge_opts_default();
    o.out_dtype = WARM_DTYPE_F32;
    o.shard_size = 600;
    const char *odir = pjoin(dir, "soup");
    merge_ok(ins2, 5, odir, &o, &rep);
    assert_true(rep.n_shards > 1);
    warm_merge_report_free(&rep);
    compare_with_expected(odir, "uniform", WARM_DTYPE_F32);
    char cfg_src[600];
    snprintf(cfg_src, sizeof cfg_src, "%s/config.json", ins[3]);
    char *c1 = slurp(cfg_src), *c2 = slurp(pjoin(odir, "config.json"));
    assert_non_null(c1);
    assert_non_null(c2);
    assert_string_equal(c1, c2);
    /* To a single file, the directory's (GPT-2) config.json travels as "warm.config" metadata. */
    o.shard_size = 0;
    merge_ok(ins2, 5, out, &o, NULL);
    assert_int_equal(warm_st_open(&f, out, &err), WARM_OK);
    assert_non_null(warm_st_meta(&f, "warm.config"));
    assert_string_equal(warm_st_meta(&f, "warm.config"), c1);
    warm_st_close(&f);
    free(c1);
    free(c2);
    rm_rf(dir);
}

/* ------------------------------------------------------------------ sharded output */

static void test_sharded_output(void **state) {
    (void)state;
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    static float x[6][1000];
    warm_rng r;
    warm_rng_seed(&r, 11);
    for (int t = 0; t < 6; t++)
        for (int i = 0; i < 1000; i++) x[t][i] = warm_rng_normal(&r);
    /* Sizes 4000 bytes each except "t2" (big: 1000 floats + ... all same); shard limit 9000 -> 2 per shard. */
    tspec ts[6] = {{"t0", WARM_DTYPE_F32, 1000, x[0]}, {"t1", WARM_DTYPE_F32, 1000, x[1]},
                   {"t2", WARM_DTYPE_F32, 1000, x[2]}, {"t3", WARM_DTYPE_F32, 1000, x[3]},
                   {"t4", WARM_DTYPE_F32, 1000, x[4]}, {"t5", WARM_DTYPE_F32, 1000, x[5]}};
    write_st(pjoin(dir, "a.safetensors"), ts, 6, "warm.config", "{\"n_embd\": 8}");
    const char *ins[2] = {pjoin(dir, "a.safetensors"), pjoin(dir, "a.safetensors")};
    warm_merge_opts o = warm_merge_opts_default();
    o.shard_size = 9000;
    const char *out = pjoin(dir, "out");
    warm_merge_report rep;
    merge_ok(ins, 2, out, &o, &rep);
    assert_int_equal(rep.n_shards, 3);
    warm_merge_report_free(&rep);
    assert_true(exists(pjoin(out, "model-00001-of-00003.safetensors")));
    assert_true(exists(pjoin(out, "model-00003-of-00003.safetensors")));
    char *idx = slurp(pjoin(out, "model.safetensors.index.json"));
    assert_non_null(idx);
    assert_non_null(strstr(idx, "\"total_size\""));
    assert_non_null(strstr(idx, "24000"));
    assert_non_null(strstr(idx, "\"t5\""));
    free(idx);
    /* config.json from the first input's warm.config (a file input). */
    char *cfg = slurp(pjoin(out, "config.json"));
    assert_non_null(cfg);
    assert_string_equal(cfg, "{\"n_embd\": 8}");
    free(cfg);
    for (int t = 0; t < 6; t++) {
        char key[16];
        snprintf(key, sizeof key, "t%d", t);
        float *y = read_tensor(out, key, NULL, NULL);
        assert_memory_equal(y, x[t], sizeof x[t]);
        free(y);
    }
    /* Re-merging over it replaces the directory (only our files there); one shard -> model.safetensors. */
    o.shard_size = 0;
    merge_ok(ins, 2, out, &o, NULL);
    assert_true(exists(pjoin(out, "model.safetensors")));
    assert_false(exists(pjoin(out, "model.safetensors.index.json")));
    assert_false(exists(pjoin(out, "model-00001-of-00003.safetensors")));
    assert_int_equal(count_entries(dir, ".tmp."), 0);
    assert_int_equal(count_entries(dir, ".old."), 0);
    /* A tensor larger than the limit gets a shard of its own. */
    o.shard_size = 100;
    merge_ok(ins, 2, out, &o, &rep);
    assert_int_equal(rep.n_shards, 6);
    warm_merge_report_free(&rep);
    rm_rf(dir);
}

/* ------------------------------------------------------------------ soups */

/* Scripted evaluator: acc = 1 - |score.weight[0] - 0.5| (exact for the values used). */
static warm_status fake_eval(void *ctx, const warm_model *m, double *acc, warm_error *err) {
    (void)err;
    int *calls = ctx;
    (*calls)++;
    const warm_tensor *t = warm_model_find(m, "score.weight");
    *acc = 1.0 - fabs((double)m->params[t->offset] - 0.5);
    return WARM_OK;
}

static warm_config tiny_config(void) { return warm_config_default(32, 16, 1, 2, 16); }

static void save_member(const char *path, uint64_t seed, float s0) {
    warm_config cfg = tiny_config();
    warm_model m;
    warm_error err = {0};
    assert_int_equal(warm_model_init(&m, &cfg, &err), WARM_OK);
    warm_model_init_weights(&m, seed);
    m.params[warm_model_find(&m, "score.weight")->offset] = s0;
    assert_int_equal(warm_model_save(&m, path, WARM_DTYPE_F32, NULL, NULL, 0, &err), WARM_OK);
    warm_model_free(&m);
}

static void test_greedy_scripted(void **state) {
    (void)state;
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    /* Members' score.weight[0]: 0.75 (acc 0.75), 0.25 (0.75), 1.25 (0.25), 0.125 (0.625). Ranking (ties: input
     * order): m0, m1, m3, m2. Greedy: {m0} 0.75; + m1 -> mean 0.5, acc 1 >= 0.75: added; + m3 -> mean 0.375,
     * 0.875 < 1: rejected; + m2 -> mean 0.75, 0.75: rejected. Soup {m0, m1}. */
    const float s0[4] = {0.75f, 0.25f, 1.25f, 0.125f};
    const char *ins[4];
    char names[4][32];
    for (int i = 0; i < 4; i++) {
        snprintf(names[i], sizeof names[i], "m%d.safetensors", i);
        ins[i] = strdup(pjoin(dir, names[i]));
        save_member(ins[i], (uint64_t)i + 1, s0[i]);
    }
    int calls = 0;
    warm_merge_opts o = warm_merge_opts_default();
    o.method = WARM_MERGE_GREEDY;
    o.eval = fake_eval;
    o.eval_ctx = &calls;
    warm_merge_report rep;
    const char *out = pjoin(dir, "soup.safetensors");
    merge_ok(ins, 4, out, &o, &rep);
    assert_int_equal(calls, 4 + 3);
    const int order[4] = {0, 1, 3, 2};
    for (int k = 0; k < 4; k++) assert_int_equal(rep.ranking[k].input, order[k]);
    assert_int_equal(rep.accepted[0], 1);
    assert_int_equal(rep.accepted[1], 1);
    assert_int_equal(rep.accepted[2], 0);
    assert_int_equal(rep.accepted[3], 0);
    assert_int_equal(rep.n_selected, 2);
    assert_true(rep.soup_acc >= rep.ranking[0].acc);
    assert_true(rep.soup_acc == 1.0);
    assert_true(rep.step_acc[0] == 0.75 && rep.step_acc[1] == 1.0 && rep.step_acc[2] == 0.875 &&
                rep.step_acc[3] == 0.75);
    assert_true(rep.coef[0] == 0.5 && rep.coef[1] == 0.5 && rep.coef[2] == 0 && rep.coef[3] == 0);
    warm_merge_report_free(&rep);
    float *y = read_tensor(out, "score.weight", NULL, NULL);
    assert_true(y[0] == 0.5f);
    free(y);
    warm_st_file f;
    warm_error err = {0};
    assert_int_equal(warm_st_open(&f, out, &err), WARM_OK);
    const char *meta = warm_st_meta(&f, "warm.merge");
    assert_non_null(meta);
    assert_non_null(strstr(meta, "\"method\":\"greedy\""));
    assert_non_null(strstr(meta, "\"ranking\""));
    assert_non_null(strstr(meta, "\"in_soup\":false"));
    assert_non_null(warm_st_meta(&f, "warm.config"));
    warm_st_close(&f);

    /* top 3: m0, m1, m3 -> mean(0.75, 0.25, 0.125) = 0.375, acc 0.875 */
    calls = 0;
    o.method = WARM_MERGE_TOP;
    o.top_m = 3;
    merge_ok(ins, 4, out, &o, &rep);
    assert_int_equal(calls, 4 + 1);
    assert_int_equal(rep.n_selected, 3);
    assert_true(rep.coef[2] == 0 && rep.coef[3] > 0);
    assert_true(rep.soup_acc == 0.875);
    warm_merge_report_free(&rep);
    for (int i = 0; i < 4; i++) free_const(ins[i]);
    rm_rf(dir);
}

/* Tiny random reward models around a shared init, real evaluator on a tiny pre-tokenised preference file. */
static void test_greedy_real_eval(void **state) {
    (void)state;
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    warm_config cfg = tiny_config();
    warm_error err = {0};
    warm_rng r;
    warm_rng_seed(&r, 99);
    enum { M = 5 };
    const char *ins[M];
    for (int i = 0; i < M; i++) {
        warm_model m;
        assert_int_equal(warm_model_init(&m, &cfg, &err), WARM_OK);
        warm_model_init_weights(&m, 1);
        for (size_t j = 0; j < m.n_params; j++) m.params[j] += 0.05f * warm_rng_normal(&r);
        char name[32];
        snprintf(name, sizeof name, "rm%d.safetensors", i);
        ins[i] = strdup(pjoin(dir, name));
        assert_int_equal(warm_model_save(&m, ins[i], WARM_DTYPE_F32, NULL, NULL, 0, &err), WARM_OK);
        warm_model_free(&m);
    }
    /* 60 pairs of random ids in [0, 31). */
    FILE *f = fopen(pjoin(dir, "val.jsonl"), "w");
    assert_non_null(f);
    for (int p = 0; p < 60; p++) {
        const char *keys[3] = {"prompt_ids", "chosen_ids", "rejected_ids"};
        fputc('{', f);
        for (int k = 0; k < 3; k++) {
            int len = 2 + (int)warm_rng_below(&r, 4);
            fprintf(f, "%s\"%s\":[", k ? "," : "", keys[k]);
            for (int t = 0; t < len; t++) fprintf(f, "%s%u", t ? "," : "", warm_rng_below(&r, 31));
            fputc(']', f);
        }
        fputs("}\n", f);
    }
    fclose(f);
    warm_prefs prefs;
    warm_prefs_opts po = warm_prefs_opts_default();
    po.vocab_size = cfg.vocab_size;
    po.pad_id = cfg.pad_token_id;
    assert_int_equal(warm_prefs_load(&prefs, pjoin(dir, "val.jsonl"), NULL, &po, &err), WARM_OK);
    warm_merge_prefs_eval ev = {.prefs = &prefs, .idx = NULL, .n = 0};
    warm_merge_opts o = warm_merge_opts_default();
    o.method = WARM_MERGE_GREEDY;
    o.eval = warm_merge_eval_prefs;
    o.eval_ctx = &ev;
    warm_merge_report rep;
    const char *out = strdup(pjoin(dir, "soup.safetensors"));
    merge_ok(ins, M, out, &o, &rep);
    double best = 0;
    for (int k = 0; k < M; k++) best = fmax(best, rep.ranking[k].acc);
    assert_true(rep.ranking[0].acc == best);
    assert_true(rep.soup_acc >= best);
    /* The written soup, evaluated again, has exactly the recorded accuracy. */
    warm_model m;
    assert_int_equal(warm_model_load(&m, out, 0, &err), WARM_OK);
    double acc;
    assert_int_equal(warm_merge_eval_prefs(&ev, &m, &acc, &err), WARM_OK);
    assert_true(acc == rep.soup_acc);
    warm_model_free(&m);
    /* ... and its tensors are the uniform mean of the selected members. */
    const char *sel[M];
    int ns = 0;
    for (int i = 0; i < M; i++)
        if (rep.coef[i] > 0) sel[ns++] = ins[i];
    assert_int_equal(ns, rep.n_selected);
    warm_merge_report_free(&rep);
    const char *out2 = pjoin(dir, "uniform.safetensors");
    merge_ok(sel, ns, out2, NULL, NULL);
    size_t la, lb;
    uint8_t *a = read_raw(out, "transformer.h.0.mlp.c_fc.weight", &la, NULL);
    uint8_t *b = read_raw(out2, "transformer.h.0.mlp.c_fc.weight", &lb, NULL);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    free(a);
    free(b);
    warm_prefs_free(&prefs);
    for (int i = 0; i < M; i++) free_const(ins[i]);
    free_const(out);
    rm_rf(dir);
}

/* ------------------------------------------------------------------ refusals */

/* An existing output with known content: every failing merge must leave it as it was, with no temp files. */
static void check_untouched(const char *dir, const char *out) {
    char *c = slurp(out);
    assert_non_null(c);
    assert_string_equal(c, "OLD OUTPUT");
    free(c);
    assert_int_equal(count_entries(dir, ".tmp."), 0);
}

static void test_refuse_mismatches(void **state) {
    (void)state;
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    const float x[4] = {1, 2, 3, 4}, y[6] = {1, 2, 3, 4, 5, 6};
    tspec good[2] = {{"transformer.a", WARM_DTYPE_F32, 4, x}, {"b", WARM_DTYPE_F32, 4, x}};
    tspec extra[3] = {{"transformer.a", WARM_DTYPE_F32, 4, x}, {"b", WARM_DTYPE_F32, 4, x},
                      {"c", WARM_DTYPE_F32, 4, x}};
    tspec shape[2] = {{"a", WARM_DTYPE_F32, 4, x}, {"b", WARM_DTYPE_F32, 6, y}};
    tspec missing[1] = {{"a", WARM_DTYPE_F32, 4, x}};
    write_st(pjoin(dir, "good.safetensors"), good, 2, NULL, NULL);
    write_st(pjoin(dir, "extra.safetensors"), extra, 3, NULL, NULL);
    write_st(pjoin(dir, "shape.safetensors"), shape, 2, NULL, NULL);
    write_st(pjoin(dir, "missing.safetensors"), missing, 1, NULL, NULL);
    const char *out = strdup(pjoin(dir, "out.safetensors"));
    write_text_file(out, "OLD OUTPUT");
    const char *g = strdup(pjoin(dir, "good.safetensors"));

    const char *in1[2] = {g, pjoin(dir, "extra.safetensors")};
    merge_fails(in1, 2, out, NULL, WARM_ERR_MISMATCH, "'c'", "extra.safetensors", "good.safetensors", NULL);
    check_untouched(dir, out);
    const char *in2[2] = {g, pjoin(dir, "missing.safetensors")};
    merge_fails(in2, 2, out, NULL, WARM_ERR_MISMATCH, "'b'", "missing.safetensors", "good.safetensors", NULL);
    check_untouched(dir, out);
    const char *in3[2] = {g, pjoin(dir, "shape.safetensors")};
    merge_fails(in3, 2, out, NULL, WARM_ERR_MISMATCH, "tensor 'b': shape [4]", "[6]", "shape.safetensors", NULL);
    check_untouched(dir, out);

    /* Floating vs integer, differing integer buffers, F64. */
    warm_st_spec si = {.name = "b", .dtype = WARM_DTYPE_I32, .ndim = 1, .shape = {4}};
    warm_st_spec sf = {.name = "transformer.a", .dtype = WARM_DTYPE_F32, .ndim = 1, .shape = {4}};
    int32_t iv[4] = {1, 2, 3, 4};
    warm_error err = {0};
    warm_st_writer *w;
    warm_st_spec two[2] = {sf, si};
    assert_int_equal(warm_st_writer_open(&w, pjoin(dir, "int1.safetensors"), two, 2, NULL, NULL, 0, &err), WARM_OK);
    assert_int_equal(warm_st_writer_put(w, 0, x, &err), WARM_OK);
    assert_int_equal(warm_st_writer_put_raw(w, 1, iv, &err), WARM_OK);
    assert_int_equal(warm_st_writer_commit(w, &err), WARM_OK);
    iv[2] = 7;
    assert_int_equal(warm_st_writer_open(&w, pjoin(dir, "int2.safetensors"), two, 2, NULL, NULL, 0, &err), WARM_OK);
    assert_int_equal(warm_st_writer_put(w, 0, x, &err), WARM_OK);
    assert_int_equal(warm_st_writer_put_raw(w, 1, iv, &err), WARM_OK);
    assert_int_equal(warm_st_writer_commit(w, &err), WARM_OK);
    const char *in4[2] = {g, pjoin(dir, "int1.safetensors")};
    merge_fails(in4, 2, out, NULL, WARM_ERR_MISMATCH, "tensor 'b': dtype F32", "I32", "int1.safetensors", NULL);
    check_untouched(dir, out);
    const char *in5[2] = {pjoin(dir, "int1.safetensors"), pjoin(dir, "int2.safetensors")};
    merge_fails(in5, 2, out, NULL, WARM_ERR_MISMATCH, "tensor 'b' (I32) differs", "int2.safetensors", NULL);
    check_untouched(dir, out);
    const char *in5b[2] = {pjoin(dir, "int1.safetensors"), pjoin(dir, "int1.safetensors")};
    merge_ok(in5b, 2, pjoin(dir, "intok.safetensors"), NULL, NULL); /* identical integers are copied */
    size_t len;
    uint8_t *raw = read_raw(pjoin(dir, "intok.safetensors"), "b", &len, NULL);
    assert_int_equal(len, 16);
    assert_int_equal(raw[8], 3);
    free(raw);
    double dv[4] = {1, 2, 3, 4};
    warm_st_spec sd = {.name = "b", .dtype = WARM_DTYPE_F64, .ndim = 1, .shape = {4}};
    warm_st_spec two_d[2] = {sf, sd};
    assert_int_equal(warm_st_writer_open(&w, pjoin(dir, "f64.safetensors"), two_d, 2, NULL, NULL, 0, &err), WARM_OK);
    assert_int_equal(warm_st_writer_put(w, 0, x, &err), WARM_OK);
    assert_int_equal(warm_st_writer_put_raw(w, 1, dv, &err), WARM_OK);
    assert_int_equal(warm_st_writer_commit(w, &err), WARM_OK);
    const char *in6[2] = {pjoin(dir, "f64.safetensors"), pjoin(dir, "f64.safetensors")};
    merge_fails(in6, 2, out, NULL, WARM_ERR_FORMAT, "'b'", "F64", NULL);
    check_untouched(dir, out);

    /* Corrupt input: truncated copy of a good file. */
    char *data = slurp(g);
    assert_non_null(data);
    FILE *f = fopen(pjoin(dir, "trunc.safetensors"), "wb");
    assert_non_null(f);
    fwrite(data, 1, 40, f);
    fclose(f);
    free(data);
    const char *in7[2] = {g, pjoin(dir, "trunc.safetensors")};
    merge_fails(in7, 2, out, NULL, WARM_ERR_FORMAT, "trunc.safetensors", NULL);
    check_untouched(dir, out);
    const char *in8[2] = {g, pjoin(dir, "nonexistent.safetensors")};
    merge_fails(in8, 2, out, NULL, WARM_ERR_IO, "nonexistent.safetensors", NULL);
    check_untouched(dir, out);
    free_const(g);
    free_const(out);
    rm_rf(dir);
}

static void test_refuse_configs(void **state) {
    (void)state;
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    const float x[4] = {1, 2, 3, 4};
    tspec t[1] = {{"a", WARM_DTYPE_F32, 4, x}};
    write_st(pjoin(dir, "h2.safetensors"), t, 1, "warm.config", "{\"n_head\":2,\"n_embd\":8,\"resid_pdrop\":0.1}");
    write_st(pjoin(dir, "h4.safetensors"), t, 1, "warm.config", "{\"n_head\":4,\"n_embd\":8,\"resid_pdrop\":0.1}");
    write_st(pjoin(dir, "drop.safetensors"), t, 1, "warm.config",
             "{\"n_head\":2,\"n_embd\":8,\"resid_pdrop\":0.05,\"initializer_range\":0.01}");
    const char *out = strdup(pjoin(dir, "out.safetensors"));
    write_text_file(out, "OLD OUTPUT");
    const char *in1[2] = {strdup(pjoin(dir, "h2.safetensors")), pjoin(dir, "h4.safetensors")};
    merge_fails(in1, 2, out, NULL, WARM_ERR_MISMATCH, "config key 'n_head' differs", "h2.safetensors",
                "h4.safetensors", NULL);
    check_untouched(dir, out);
    warm_merge_opts o = warm_merge_opts_default();
    o.check_config = 0;
    merge_ok(in1, 2, pjoin(dir, "forced.safetensors"), &o, NULL);
    /* Dropout and init range differ between members of one run: allowed. */
    const char *in2[2] = {in1[0], pjoin(dir, "drop.safetensors")};
    merge_ok(in2, 2, pjoin(dir, "ok.safetensors"), NULL, NULL);
    free_const(in1[0]);
    free_const(out);
    rm_rf(dir);
}

static void copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    assert_non_null(a);
    assert_non_null(b);
    char buf[4096];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, a)) > 0) assert_int_equal(fwrite(buf, 1, k, b), k);
    fclose(a);
    assert_int_equal(fclose(b), 0);
}

static void test_refuse_bad_index(void **state) {
    (void)state;
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    char src[512];
    snprintf(src, sizeof src, "%s/merge_d_sharded", test_fixture_dir());
    const char *sd = strdup(pjoin(dir, "sh"));
    mkdir(sd, 0755);
    copy_file(pjoin(src, "model-00001-of-00002.safetensors"), pjoin(sd, "model-00001-of-00002.safetensors"));
    copy_file(pjoin(src, "model-00002-of-00002.safetensors"), pjoin(sd, "model-00002-of-00002.safetensors"));
    const char *out = strdup(pjoin(dir, "out.safetensors"));
    const char *ins[2] = {sd, sd};
    char *orig = slurp(pjoin(src, "model.safetensors.index.json"));
    assert_non_null(orig);
    warm_ckpt c;
    warm_error err = {0};
    /* 1. the index as written: fine */
    write_text_file(pjoin(sd, "model.safetensors.index.json"), orig);
    assert_int_equal(warm_ckpt_open(&c, sd, &err), WARM_OK);
    assert_int_equal(c.n_files, 2);
    warm_ckpt_close(&c);
    /* 2. an entry sent to the wrong shard */
    char *bad = strdup(orig);
    char *p = strstr(bad, "\"transformer.wte.weight\": \"model-00002");
    assert_non_null(p);
    p[strlen("\"transformer.wte.weight\": \"model-0000")] = '1';
    write_text_file(pjoin(sd, "model.safetensors.index.json"), bad);
    merge_fails(ins, 2, out, NULL, WARM_ERR_FORMAT, "transformer.wte.weight", "does not hold it", NULL);
    free(bad);
    /* 3. a shard tensor missing from the map */
    write_text_file(pjoin(sd, "model.safetensors.index.json"),
                    "{\"metadata\":{},\"weight_map\":{\"score.weight\":\"model-00001-of-00002.safetensors\"}}");
    merge_fails(ins, 2, out, NULL, WARM_ERR_FORMAT, "which weight_map does not list", NULL);
    /* 4. a shard name escaping the directory, a missing shard, a repeated key, no weight_map */
    write_text_file(pjoin(sd, "model.safetensors.index.json"),
                    "{\"weight_map\":{\"score.weight\":\"../x.safetensors\"}}");
    merge_fails(ins, 2, out, NULL, WARM_ERR_FORMAT, "not a plain file name", NULL);
    write_text_file(pjoin(sd, "model.safetensors.index.json"),
                    "{\"weight_map\":{\"score.weight\":\"model-00009-of-00009.safetensors\"}}");
    merge_fails(ins, 2, out, NULL, WARM_ERR_IO, "model-00009-of-00009.safetensors", NULL);
    write_text_file(pjoin(sd, "model.safetensors.index.json"),
                    "{\"weight_map\":{\"score.weight\":\"model-00001-of-00002.safetensors\","
                    "\"score.weight\":\"model-00001-of-00002.safetensors\"}}");
    merge_fails(ins, 2, out, NULL, WARM_ERR_FORMAT, "lists 'score.weight' twice", NULL);
    write_text_file(pjoin(sd, "model.safetensors.index.json"), "{\"metadata\":{}}");
    merge_fails(ins, 2, out, NULL, WARM_ERR_FORMAT, "no \"weight_map\"", NULL);
    unlink(pjoin(sd, "model.safetensors.index.json"));
    merge_fails(ins, 2, out, NULL, WARM_ERR_FORMAT, "neither model.safetensors", NULL);
    assert_false(exists(out));
    assert_int_equal(count_entries(dir, ".tmp."), 0);
    free(orig);
    free_const(sd);
    free_const(out);
    rm_rf(dir);
}

static void test_refuse_options_and_outputs(void **state) {
    (void)state;
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    const float x[4] = {1, 2, 3, 4};
    write_vec(pjoin(dir, "a.safetensors"), WARM_DTYPE_F32, x, 4);
    const char *a = strdup(pjoin(dir, "a.safetensors"));
    const char *ins[3] = {a, a, a};
    const char *out = strdup(pjoin(dir, "o.safetensors"));
    warm_merge_opts o = warm_merge_opts_default();
    o.method = WARM_MERGE_LERP;
    o.lambda = 0.5;
    merge_fails(ins, 3, out, &o, WARM_ERR_ARG, "exactly 2 inputs", NULL);
    o.method = WARM_MERGE_SLERP;
    o.lambda = 1.5;
    merge_fails(ins, 2, out, &o, WARM_ERR_ARG, "in [0, 1]", NULL);
    const double w2[2] = {1, 1}, wneg[3] = {1, -1, 1}, wzero[3] = {0, 0, 0};
    o = warm_merge_opts_default();
    o.method = WARM_MERGE_WEIGHTED;
    o.weights = w2;
    o.n_weights = 2;
    merge_fails(ins, 3, out, &o, WARM_ERR_ARG, "2 weights for 3 inputs", NULL);
    o.weights = wneg;
    o.n_weights = 3;
    merge_fails(ins, 3, out, &o, WARM_ERR_ARG, "weight 2", NULL);
    o.weights = wzero;
    merge_fails(ins, 3, out, &o, WARM_ERR_ARG, "sum to 0", NULL);
    o = warm_merge_opts_default();
    o.method = WARM_MERGE_TASK_ARITHMETIC;
    merge_fails(ins, 3, out, &o, WARM_ERR_ARG, "needs a base", NULL);
    o = warm_merge_opts_default();
    o.base = a;
    merge_fails(ins, 3, out, &o, WARM_ERR_ARG, "only used by slerp and task-arithmetic", NULL);
    o = warm_merge_opts_default();
    o.method = WARM_MERGE_TOP;
    o.eval = fake_eval;
    o.top_m = 4;
    merge_fails(ins, 3, out, &o, WARM_ERR_ARG, "m = 4", NULL);
    o = warm_merge_opts_default();
    o.method = WARM_MERGE_GREEDY;
    merge_fails(ins, 3, out, &o, WARM_ERR_ARG, "evaluator", NULL);
    o = warm_merge_opts_default();
    o.shard_size = 1000;
    merge_fails(ins, 3, out, &o, WARM_ERR_ARG, "--shard-size needs a directory", NULL);
    assert_false(exists(out));
    /* A directory output over a directory holding foreign files: refused, the directory untouched. */
    const char *od = strdup(pjoin(dir, "hf"));
    mkdir(od, 0755);
    write_text_file(pjoin(od, "tokenizer.json"), "{}");
    write_text_file(pjoin(od, "model.safetensors"), "OLD OUTPUT");
    o = warm_merge_opts_default();
    merge_fails(ins, 3, od, &o, WARM_ERR_ARG, "tokenizer.json", "refusing to replace", NULL);
    check_untouched(od, pjoin(od, "model.safetensors"));
    assert_int_equal(count_entries(dir, ".tmp."), 0);
    /* A file path that is a directory, a directory path that is a file, a directory under a file. */
    mkdir(pjoin(dir, "d.safetensors"), 0755);
    merge_fails(ins, 3, pjoin(dir, "d.safetensors"), &o, WARM_ERR_ARG, "is a directory", NULL);
    merge_fails(ins, 3, pjoin(dir, "a.safetensors/x"), &o, WARM_ERR_IO, "cannot create the temporary directory",
                NULL);
    write_text_file(pjoin(dir, "plain"), "OLD OUTPUT");
    merge_fails(ins, 3, pjoin(dir, "plain"), &o, WARM_ERR_ARG, "is not a directory", NULL);
    check_untouched(dir, pjoin(dir, "plain"));
    merge_ok(ins, 3, a, NULL, NULL); /* a file output may replace one of the (mapped) inputs */
    /* A failing merge into an existing (ours-only) output directory leaves it as it was. */
    unlink(pjoin(od, "tokenizer.json"));
    const float y[3] = {1, 2, 3};
    write_vec(pjoin(dir, "short.safetensors"), WARM_DTYPE_F32, y, 3);
    const char *bad[2] = {a, pjoin(dir, "short.safetensors")};
    merge_fails(bad, 2, od, &o, WARM_ERR_MISMATCH, "shape", NULL);
    check_untouched(od, pjoin(od, "model.safetensors"));
    assert_int_equal(count_entries(dir, ".tmp."), 0);
    free_const(a);
    free_const(out);
    free_const(od);
    rm_rf(dir);
}

/* ------------------------------------------------------------------ in-memory combination */

static void test_into_model(void **state) {
    (void)state;
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    const char *p1 = strdup(pjoin(dir, "m1.safetensors")), *p2 = strdup(pjoin(dir, "m2.safetensors"));
    save_member(p1, 1, 0.25f);
    save_member(p2, 2, 0.75f);
    warm_ckpt c1, c2;
    warm_error err = {0};
    assert_int_equal(warm_ckpt_open(&c1, p1, &err), WARM_OK);
    assert_int_equal(warm_ckpt_open(&c2, p2, &err), WARM_OK);
    warm_config cfg;
    assert_int_equal(warm_ckpt_model_config(&c1, &cfg, &err), WARM_OK);
    warm_model m, a, b;
    assert_int_equal(warm_model_init(&m, &cfg, &err), WARM_OK);
    assert_int_equal(warm_model_load(&a, p1, 0, &err), WARM_OK);
    assert_int_equal(warm_model_load(&b, p2, 0, &err), WARM_OK);
    const warm_ckpt *ck[2] = {&c1, &c2};
    const double coef[2] = {0.7, 0.3};
    assert_int_equal(warm_merge_into_model(&m, ck, coef, 2, 1.0, WARM_DTYPE_F32, &err), WARM_OK);
    for (size_t j = 0; j < m.n_params; j++)
        assert_true(f_bits(m.params[j]) ==
                    f_bits((float)(0.7 * (double)a.params[j] + 0.3 * (double)b.params[j])));
    /* Rounded through BF16: every value is a BF16 value. */
    assert_int_equal(warm_merge_into_model(&m, ck, coef, 2, 1.0, WARM_DTYPE_BF16, &err), WARM_OK);
    for (size_t j = 0; j < m.n_params; j++) assert_int_equal(f_bits(m.params[j]) & 0xFFFFu, 0);
    (void)f_from_bits;
    warm_model_free(&m);
    warm_model_free(&a);
    warm_model_free(&b);
    warm_ckpt_close(&c1);
    warm_ckpt_close(&c2);
    free_const(p1);
    free_const(p2);
    rm_rf(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uniform_copies_bit_exact), cmocka_unit_test(test_uniform_copies_half),
        cmocka_unit_test(test_hand_average_dtypes),      cmocka_unit_test(test_weighted_normalisation),
        cmocka_unit_test(test_lerp),                     cmocka_unit_test(test_slerp),
        cmocka_unit_test(test_task_arithmetic),          cmocka_unit_test(test_numpy_fixtures),
        cmocka_unit_test(test_sharded_output),           cmocka_unit_test(test_into_model),
        cmocka_unit_test(test_refuse_mismatches),        cmocka_unit_test(test_refuse_configs),
        cmocka_unit_test(test_refuse_bad_index),         cmocka_unit_test(test_refuse_options_and_outputs),
        cmocka_unit_test(test_greedy_scripted),          cmocka_unit_test(test_greedy_real_eval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
