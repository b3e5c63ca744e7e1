/*
 * test_safetensors.c — dtype conversions (hand-derived bit patterns + exhaustive 16-bit round trips), writer
 * layout and round trips, reader rejection of hand-crafted bad files (each error message checked), and the
 * atomic-write guarantees (no temp file left, an existing file never clobbered).
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
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"
#include "warm/safetensors.h"

/* ------------------------------------------------------------------ helpers */

static float f_from_bits(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static uint32_t f_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static void path_in(char *out, size_t n, const char *dir, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

static void write_bytes(const char *path, const void *buf, size_t n) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    if (n) assert_int_equal(fwrite(buf, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

/* Writes an 8-byte little-endian length field (len_field), then hdr, then data_len bytes 0, 1, 2, ... */
static void write_st_raw(const char *path, uint64_t len_field, const char *hdr, size_t data_len) {
    size_t hl = strlen(hdr), n = 8 + hl + data_len;
    uint8_t *buf = malloc(n);
    assert_non_null(buf);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(len_field >> (8 * i));
    memcpy(buf + 8, hdr, hl);
    for (size_t i = 0; i < data_len; i++) buf[8 + hl + i] = (uint8_t)i;
    write_bytes(path, buf, n);
    free(buf);
}

static void write_st(const char *path, const char *hdr, size_t data_len) {
    write_st_raw(path, strlen(hdr), hdr, data_len);
}

static uint8_t *read_file(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    *n = (size_t)len;
    return buf;
}

/* Number of directory entries whose name contains needle. */
static int count_entries(const char *dir, const char *needle) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int c = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, needle)) c++;
    closedir(d);
    return c;
}

static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    char p[512];
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        path_in(p, sizeof p, dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Opens a crafted file expecting WARM_ERR_FORMAT and a message with the path and the given substring. */
static void expect_reject(const char *path, const char *substr) {
    warm_st_file f;
    warm_error err = {0};
    warm_status s = warm_st_open(&f, path, &err);
    if (s != WARM_ERR_FORMAT || !strstr(err.msg, substr) || !strstr(err.msg, path)) {
        print_error("expected FORMAT error containing '%s', got %d: %s\n", substr, (int)s, err.msg);
        fail();
    }
    assert_null(f.tensors);
    assert_null(f.map);
    assert_null(f.path);
}

static void expect_reject_hdr(const char *dir, const char *hdr, size_t data_len, const char *substr) {
    char p[512];
    path_in(p, sizeof p, dir, "bad.safetensors");
    write_st(p, hdr, data_len);
    expect_reject(p, substr);
}

/* ------------------------------------------------------------------ dtypes and conversions */

static void test_dtype_table(void **state) {
    (void)state;
    int expect_bits[WARM_DTYPE_COUNT] = {8, 8, 8, 8, 8, 8, 8, 8, 16, 16, 16, 16, 32, 32, 32, 64, 64, 64, 64, 4, 6, 6};
    for (int i = 0; i < WARM_DTYPE_COUNT; i++) {
        warm_dtype d;
        assert_int_equal(warm_dtype_from_name(warm_dtype_name((warm_dtype)i), &d), 0);
        assert_int_equal(d, i);
        assert_int_equal(warm_dtype_bits((warm_dtype)i), expect_bits[i]);
    }
    warm_dtype d;
    assert_string_equal(warm_dtype_name(WARM_DTYPE_F8_E4M3FNUZ), "F8_E4M3FNUZ");
    assert_int_equal(warm_dtype_from_name("f32", &d), -1);
    assert_int_equal(warm_dtype_from_name("F33", &d), -1);
    assert_int_equal(warm_dtype_from_name("", &d), -1);
}

static void test_bf16_rounding(void **state) {
    (void)state;
    assert_int_equal(warm_f32_to_bf16(1.0f), 0x3F80);
    assert_int_equal(warm_f32_to_bf16(f_from_bits(0x3F808000)), 0x3F80); /* 1.00390625: tie, 0x3F80 even */
    assert_int_equal(warm_f32_to_bf16(f_from_bits(0x3F818000)), 0x3F82); /* tie, 0x3F81 odd -> up */
    assert_int_equal(warm_f32_to_bf16(f_from_bits(0x3F808001)), 0x3F81); /* above the tie */
    assert_int_equal(warm_f32_to_bf16(f_from_bits(0x3F807FFF)), 0x3F80); /* below the tie */
    assert_int_equal(warm_f32_to_bf16(-2.0f), 0xC000);
    assert_int_equal(warm_f32_to_bf16(-0.0f), 0x8000);
    assert_int_equal(warm_f32_to_bf16(f_from_bits(0x7F7FFFFF)), 0x7F80); /* FLT_MAX rounds to Inf */
    assert_int_equal(warm_f32_to_bf16(INFINITY), 0x7F80);
    assert_int_equal(warm_f32_to_bf16(-INFINITY), 0xFF80);
    /* NaN whose payload sits only in the low 16 bits: plain rounding would give Inf. */
    uint16_t h = warm_f32_to_bf16(f_from_bits(0x7F800001));
    assert_int_equal(h & 0x7F80, 0x7F80);
    assert_true((h & 0x007F) != 0);
    assert_true(isnan(warm_bf16_to_f32(h)));
    assert_true(isnan(warm_bf16_to_f32(warm_f32_to_bf16(NAN))));
    assert_true(warm_bf16_to_f32(0x3F80) == 1.0f);
    assert_true(warm_bf16_to_f32(0xC049) == f_from_bits(0xC0490000));
    /* Every non-NaN BF16 survives BF16 -> F32 -> BF16. */
    for (uint32_t b = 0; b < 0x10000; b++) {
        float x = warm_bf16_to_f32((uint16_t)b);
        if (isnan(x)) assert_true(isnan(warm_bf16_to_f32(warm_f32_to_bf16(x))));
        else assert_int_equal(warm_f32_to_bf16(x), b);
    }
}

static void test_f16_rounding(void **state) {
    (void)state;
    const float tiny = 5.9604644775390625e-8f; /* 2^-24, smallest F16 subnormal */
    assert_int_equal(warm_f32_to_f16(1.0f), 0x3C00);
    assert_int_equal(warm_f32_to_f16(-2.0f), 0xC000);
    assert_int_equal(warm_f32_to_f16(-0.0f), 0x8000);
    assert_int_equal(warm_f32_to_f16(65504.0f), 0x7BFF);
    assert_int_equal(warm_f32_to_f16(65519.0f), 0x7BFF);
    assert_int_equal(warm_f32_to_f16(65520.0f), 0x7C00); /* midpoint to 2^16 ties to "even" = Inf */
    assert_int_equal(warm_f32_to_f16(1e6f), 0x7C00);
    assert_int_equal(warm_f32_to_f16(-1e6f), 0xFC00);
    assert_int_equal(warm_f32_to_f16(-INFINITY), 0xFC00);
    assert_int_equal(warm_f32_to_f16(f_from_bits(0x3F801000)), 0x3C00); /* 1 + 2^-11: tie, even down */
    assert_int_equal(warm_f32_to_f16(f_from_bits(0x3F803000)), 0x3C02); /* 1 + 3*2^-11: tie, odd up */
    assert_int_equal(warm_f32_to_f16(f_from_bits(0x3F801001)), 0x3C01);
    assert_int_equal(warm_f32_to_f16(tiny), 0x0001);
    assert_int_equal(warm_f32_to_f16(5.96e-8f), 0x0001);
    assert_int_equal(warm_f32_to_f16(tiny * 0.5f), 0x0000);        /* 2^-25: tie, even = 0 */
    assert_int_equal(warm_f32_to_f16(f_from_bits(0x33000001)), 0x0001); /* just above 2^-25 */
    assert_int_equal(warm_f32_to_f16(tiny * 1.5f), 0x0002);        /* tie between 1 and 2 -> 2 */
    assert_int_equal(warm_f32_to_f16(tiny * 2.5f), 0x0002);        /* tie between 2 and 3 -> 2 */
    assert_int_equal(warm_f32_to_f16(-tiny * 1023.0f), 0x83FF);    /* largest subnormal */
    assert_int_equal(warm_f32_to_f16(tiny * 1023.5f), 0x0400);     /* tie rounds up to the smallest normal */
    assert_int_equal(warm_f32_to_f16(6.103515625e-05f), 0x0400);   /* 2^-14 */
    assert_int_equal(warm_f32_to_f16(1e-10f), 0x0000);
    uint16_t h = warm_f32_to_f16(NAN);
    assert_int_equal(h & 0x7C00, 0x7C00);
    assert_true((h & 0x03FF) != 0);
    assert_true(isnan(warm_f16_to_f32(warm_f32_to_f16(f_from_bits(0x7F800001)))));
    assert_true(warm_f16_to_f32(0x0001) == tiny);
    assert_true(warm_f16_to_f32(0x03FF) == tiny * 1023.0f);
    assert_true(warm_f16_to_f32(0x7BFF) == 65504.0f);
    assert_true(warm_f16_to_f32(0xFC00) == -INFINITY);
    assert_true(warm_f16_to_f32(0x3555) == f_from_bits(0x3EAAA000));
    /* Every non-NaN F16 survives F16 -> F32 -> F16. */
    for (uint32_t b = 0; b < 0x10000; b++) {
        float x = warm_f16_to_f32((uint16_t)b);
        if (isnan(x)) assert_true(isnan(warm_f16_to_f32(warm_f32_to_f16(x))));
        else assert_int_equal(warm_f32_to_f16(x), b);
    }
}

/* ------------------------------------------------------------------ writer + reader round trips */

static const warm_st_tensor *find_checked(const warm_st_file *f, const char *name) {
    const warm_st_tensor *t = warm_st_find(f, name);
    if (!t) {
        print_error("tensor '%s' missing\n", name);
        fail();
    }
    return t;
}

static void check_layout(const warm_st_file *f) {
    assert_int_equal(f->map[8], '{');
    assert_int_equal(f->header_len % 8, 0);
    for (int i = 0; i < f->n_tensors; i++) {
        const warm_st_tensor *t = &f->tensors[i];
        uint64_t esize = (uint64_t)warm_dtype_bits(t->dtype) / 8;
        assert_int_equal(t->begin % esize, 0);
        assert_int_equal((uintptr_t)t->data % esize, 0);
        if (i > 0) { /* header order = layout order: descending element size, then name */
            const warm_st_tensor *p = &f->tensors[i - 1];
            uint64_t pe = (uint64_t)warm_dtype_bits(p->dtype) / 8;
            assert_true(pe > esize || (pe == esize && strcmp(p->name, t->name) < 0));
            assert_int_equal(t->begin, p->end);
        }
    }
}

static void test_roundtrip(void **state) {
    (void)state;
    char dir[64], p[512];
    test_tmpdir(dir, sizeof dir);
    path_in(p, sizeof p, dir, "model.safetensors");
    float a[12], b[5], c[6], scalar[1] = {-3.25f};
    for (int i = 0; i < 12; i++) a[i] = (float)i * 0.5f - 2.0f;
    const float bv[5] = {1.0f, -0.0f, 3.0f, f_from_bits(0x3F818000), 1e30f};
    memcpy(b, bv, sizeof b);
    const float cv[6] = {0.5f, -65504.0f, 5.96e-8f, 100000.0f, 1.0f / 3.0f, -1.0f};
    memcpy(c, cv, sizeof c);
    int64_t i64[3] = {-1, 1LL << 40, 7};
    int32_t i32[2] = {-5, 123456};
    warm_st_spec specs[] = {
        {"b.bf16", WARM_DTYPE_BF16, 1, {5}},
        {"a.f32", WARM_DTYPE_F32, 2, {3, 4}},
        {"c.f16", WARM_DTYPE_F16, 2, {2, 3}},
        {"idx", WARM_DTYPE_I64, 1, {3}},
        {"n32", WARM_DTYPE_I32, 1, {2}},
        {"scalar", WARM_DTYPE_F32, 0, {0}},
        {"empty", WARM_DTYPE_F32, 2, {0, 4}},
        {"quote\"name\\", WARM_DTYPE_BF16, 1, {1}},
    };
    const char *mk[] = {"warm.seed", "format", "warm.note"};
    const char *mv[] = {"42", "pt", "line\n\"quoted\" \xc3\xa9"};
    warm_st_writer *w;
    warm_error err = {0};
    assert_int_equal(warm_st_writer_open(&w, p, specs, 8, mk, mv, 3, &err), WARM_OK);
    assert_int_equal(warm_st_writer_put(w, 0, b, &err), WARM_OK);
    assert_int_equal(warm_st_writer_put(w, 2, c, &err), WARM_OK);
    assert_int_equal(warm_st_writer_put(w, 1, a, &err), WARM_OK);
    assert_int_equal(warm_st_writer_put_raw(w, 3, i64, &err), WARM_OK);
    assert_int_equal(warm_st_writer_put_raw(w, 4, i32, &err), WARM_OK);
    assert_int_equal(warm_st_writer_put(w, 5, scalar, &err), WARM_OK);
    assert_int_equal(warm_st_writer_put(w, 6, NULL, &err), WARM_OK);
    assert_int_equal(warm_st_writer_put(w, 7, scalar, &err), WARM_OK);
    assert_int_equal(warm_st_writer_commit(w, &err), WARM_OK);
    assert_int_equal(count_entries(dir, ".tmp."), 0);

    warm_st_file f;
    assert_int_equal(warm_st_open(&f, p, &err), WARM_OK);
    assert_int_equal(f.n_tensors, 8);
    check_layout(&f);
    assert_string_equal(warm_st_meta(&f, "format"), "pt");
    assert_string_equal(warm_st_meta(&f, "warm.seed"), "42");
    assert_string_equal(warm_st_meta(&f, "warm.note"), mv[2]);
    assert_int_equal(f.n_meta, 3);
    assert_null(warm_st_meta(&f, "absent"));

    float out[12];
    const warm_st_tensor *t = find_checked(&f, "a.f32");
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[1], 4);
    assert_int_equal(warm_st_to_f32(&f, t, out, &err), WARM_OK);
    assert_memory_equal(out, a, sizeof a);
    t = find_checked(&f, "b.bf16");
    assert_int_equal(warm_st_to_f32(&f, t, out, &err), WARM_OK);
    const uint32_t bexp[5] = {0x3F800000, 0x80000000, 0x40400000, 0x3F820000, 0x714A0000};
    for (int i = 0; i < 5; i++) assert_int_equal(f_bits(out[i]), bexp[i]);
    t = find_checked(&f, "c.f16");
    assert_int_equal(warm_st_to_f32(&f, t, out, &err), WARM_OK);
    assert_true(out[0] == 0.5f && out[1] == -65504.0f && out[5] == -1.0f);
    assert_true(out[2] == 5.9604644775390625e-8f && isinf(out[3]));
    assert_true(fabsf(out[4] - 1.0f / 3.0f) < 1e-4f);
    assert_int_equal(warm_st_to_f32_range(&f, t, 4, 2, out, &err), WARM_OK);
    assert_true(out[1] == -1.0f);
    t = find_checked(&f, "idx");
    assert_memory_equal(t->data, i64, sizeof i64);
    t = find_checked(&f, "n32");
    assert_memory_equal(t->data, i32, sizeof i32);
    t = find_checked(&f, "scalar");
    assert_int_equal(t->ndim, 0);
    assert_int_equal(t->numel, 1);
    assert_int_equal(warm_st_to_f32(&f, t, out, &err), WARM_OK);
    assert_true(out[0] == -3.25f);
    t = find_checked(&f, "empty");
    assert_int_equal(t->numel, 0);
    assert_int_equal(t->begin, t->end);
    assert_int_equal(warm_st_to_f32(&f, t, out, &err), WARM_OK);
    find_checked(&f, "quote\"name\\");
    warm_st_close(&f);
    remove_dir(dir);
}

/* put_range in any order, with overlaps; commit must refuse a tensor with a hole. */
static void test_put_range(void **state) {
    (void)state;
    char dir[64], p[512];
    test_tmpdir(dir, sizeof dir);
    path_in(p, sizeof p, dir, "r.safetensors");
    enum { N = 100000 }; /* more than one conversion chunk */
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    for (int i = 0; i < N; i++) x[i] = (float)(i % 1000) - 500.0f;
    warm_st_spec specs[] = {{"w", WARM_DTYPE_F16, 2, {100, 1000}}, {"v", WARM_DTYPE_F32, 1, {10}}};
    warm_st_writer *w;
    warm_error err = {0};
    assert_int_equal(warm_st_writer_open(&w, p, specs, 2, NULL, NULL, 0, &err), WARM_OK);
    assert_int_equal(warm_st_writer_put_range(w, 0, 60000, 40000, x + 60000, &err), WARM_OK);
    assert_int_equal(warm_st_writer_put_range(w, 0, 0, 30000, x, &err), WARM_OK);
    assert_int_equal(warm_st_writer_put_range(w, 0, 25000, 40000, x + 25000, &err), WARM_OK);
    assert_int_equal(warm_st_writer_put_range(w, 1, 0, 5, x, &err), WARM_OK);
    assert_int_equal(warm_st_writer_put_range(w, 1, 6, 4, x + 6, &err), WARM_OK);
    assert_int_equal(warm_st_writer_put_range(w, 1, 8, 3, x, &err), WARM_ERR_ARG); /* past the end */
    assert_non_null(strstr(err.msg, "'v'"));
    assert_int_equal(warm_st_writer_commit(w, &err), WARM_ERR_ARG); /* element 5 of 'v' missing */
    assert_non_null(strstr(err.msg, "'v' was not fully written (9 of 10"));
    assert_int_equal(access(p, F_OK), -1);
    assert_int_equal(count_entries(dir, ".tmp."), 0);

    assert_int_equal(warm_st_writer_open(&w, p, specs, 2, NULL, NULL, 0, &err), WARM_OK);
    assert_int_equal(warm_st_writer_put_range(w, 0, 50000, 50000, x + 50000, &err), WARM_OK);
    assert_int_equal(warm_st_writer_put_range(w, 0, 0, 50000, x, &err), WARM_OK);
    assert_int_equal(warm_st_writer_put(w, 1, x, &err), WARM_OK);
    assert_int_equal(warm_st_writer_commit(w, &err), WARM_OK);
    warm_st_file f;
    assert_int_equal(warm_st_open(&f, p, &err), WARM_OK);
    const warm_st_tensor *t = find_checked(&f, "w");
    assert_int_equal(warm_st_to_f32(&f, t, y, &err), WARM_OK);
    assert_memory_equal(x, y, N * sizeof *x); /* small integers are exact in F16 */
    assert_int_equal(warm_st_to_f32_range(&f, t, N - 1, 2, y, &err), WARM_ERR_ARG);
    warm_st_close(&f);
    free(x);
    free(y);
    remove_dir(dir);
}

static void test_empty_file(void **state) {
    (void)state;
    char dir[64], p[512];
    test_tmpdir(dir, sizeof dir);
    path_in(p, sizeof p, dir, "empty.safetensors");
    warm_error err = {0};
    assert_int_equal(warm_st_write(p, NULL, NULL, 0, NULL, NULL, 0, &err), WARM_OK);
    warm_st_file f;
    assert_int_equal(warm_st_open(&f, p, &err), WARM_OK);
    assert_int_equal(f.n_tensors, 0);
    assert_null(f.map);
    assert_int_equal(f.header_len % 8, 0);
    assert_int_equal(f.size, 8 + f.header_len);
    assert_string_equal(warm_st_meta(&f, "format"), "pt");
    warm_st_close(&f);
    /* Only zero-size tensors: the data buffer is empty too. Surrounding whitespace is accepted. */
    write_st(p, "  {\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}} \n", 0);
    assert_int_equal(warm_st_open(&f, p, &err), WARM_OK);
    assert_int_equal(f.n_tensors, 1);
    assert_int_equal(f.n_meta, 0);
    warm_st_close(&f);
    write_st(p, "{}", 0);
    assert_int_equal(warm_st_open(&f, p, &err), WARM_OK);
    warm_st_close(&f);
    remove_dir(dir);
}

/* Files from other writers may leave tensors unaligned: the reader must copy, not cast. */
static void test_unaligned_read(void **state) {
    (void)state;
    char dir[64], p[512];
    test_tmpdir(dir, sizeof dir);
    path_in(p, sizeof p, dir, "u.safetensors");
    const char *hdr = "{\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                      "\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1,9]},"
                      "\"h\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[9,11]},"
                      "\"__metadata__\":{}}";
    size_t hl = strlen(hdr);
    uint8_t buf[512] = {0};
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(hl >> (8 * i));
    memcpy(buf + 8, hdr, hl);
    float xv[2] = {1.5f, -7.0f};
    uint16_t hv = 0x3C00;
    memcpy(buf + 8 + hl + 1, xv, 8);
    memcpy(buf + 8 + hl + 9, &hv, 2);
    write_bytes(p, buf, 8 + hl + 11);
    warm_st_file f;
    warm_error err = {0};
    assert_int_equal(warm_st_open(&f, p, &err), WARM_OK);
    float out[2];
    assert_int_equal(warm_st_to_f32(&f, find_checked(&f, "x"), out, &err), WARM_OK);
    assert_true(out[0] == 1.5f && out[1] == -7.0f);
    assert_int_equal(warm_st_to_f32(&f, find_checked(&f, "h"), out, &err), WARM_OK);
    assert_true(out[0] == 1.0f);
    assert_int_equal(warm_st_to_f32(&f, find_checked(&f, "b"), out, &err), WARM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "tensor 'b': dtype U8 cannot be read as float"));
    warm_st_close(&f);
    remove_dir(dir);
}

/* ------------------------------------------------------------------ reader rejections */

static void test_reject_truncated(void **state) {
    (void)state;
    char dir[64], p[512];
    test_tmpdir(dir, sizeof dir);
    path_in(p, sizeof p, dir, "t.safetensors");
    write_bytes(p, "\x10\x00\x00", 3);
    expect_reject(p, "truncated: file is 3 bytes");
    write_bytes(p, "", 0);
    expect_reject(p, "truncated: file is 0 bytes");
    write_st_raw(p, 1000, "{}", 0); /* length field beyond the file */
    expect_reject(p, "header length 1000 goes beyond the end of the file");
    write_st_raw(p, 100000001, "", 0); /* just the 8-byte length field */
    expect_reject(p, "header too large");
    write_st_raw(p, UINT64_MAX, "", 0);
    expect_reject(p, "header too large");
    /* data cut short: the tensor needs 16 bytes, only 8 are there */
    expect_reject_hdr(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8,
                      "truncated: tensors need 16 data bytes but the file holds 8");
    warm_st_file f;
    warm_error err = {0};
    path_in(p, sizeof p, dir, "missing.safetensors");
    assert_int_equal(warm_st_open(&f, p, &err), WARM_ERR_IO);
    assert_non_null(strstr(err.msg, p));
    assert_int_equal(warm_st_open(&f, dir, &err), WARM_ERR_IO); /* a directory */
    remove_dir(dir);
}

static void test_reject_json(void **state) {
    (void)state;
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    expect_reject_hdr(dir, "{\"a\": {", 0, "not valid JSON");
    expect_reject_hdr(dir, "", 0, "not valid JSON");
    expect_reject_hdr(dir, "[]", 0, "header is not a JSON object");
    expect_reject_hdr(dir, "{} {}", 0, "unexpected data after the top-level object");
    expect_reject_hdr(dir, "{},", 0, "unexpected data after the top-level object");
    expect_reject_hdr(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4, "invalid number");
    expect_reject_hdr(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.],\"data_offsets\":[0,4]}}", 4, "invalid number");
    expect_reject_hdr(dir, "{\x01}", 0, "unexpected character at byte 1");     /* cJSON: whitespace */
    expect_reject_hdr(dir, "\xef\xbb\xbf{}", 0, "unexpected character at byte 0"); /* BOM */
    expect_reject_hdr(dir, "{\"a\tb\":{}}", 0, "control character inside a string");
    expect_reject_hdr(dir, "{\"a\\x\":{}}", 0, "invalid escape");
    expect_reject_hdr(dir, "{\"\xff\":{}}", 0, "not valid UTF-8 (byte 2)");
    expect_reject_hdr(dir, "{\"\xed\xa0\x80\":{}}", 0, "not valid UTF-8"); /* encoded surrogate */
    expect_reject_hdr(dir, "{\"a\":nul}", 0, "invalid literal");
    remove_dir(dir);
}

static void test_reject_entries(void **state) {
    (void)state;
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    expect_reject_hdr(dir, "{\"w\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                      "tensor 'w': unknown dtype 'F33'");
    expect_reject_hdr(dir, "{\"w\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                      "tensor 'w': dtype is not a string");
    expect_reject_hdr(dir, "{\"w\":[1]}", 0, "tensor 'w': entry is not an object");
    expect_reject_hdr(dir, "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "tensor 'w': missing 'shape'");
    expect_reject_hdr(dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
                      "tensor 'w': shape entry 0 is not a non-negative integer");
    expect_reject_hdr(dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
                      "shape entry 0");
    expect_reject_hdr(dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
                      "data_offsets must be two non-negative integers");
    expect_reject_hdr(dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "end before");
    expect_reject_hdr(dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4,
                      "tensor 'w': unknown field 'x'");
    expect_reject_hdr(dir, "{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                      "field 'dtype' appears twice");
    expect_reject_hdr(dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
                      "shape has 9 dimensions");
    expect_reject_hdr(dir, "{\"h.0.attn.c_attn.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,40]}}",
                      40, "tensor 'h.0.attn.c_attn.weight': shape [3, 4] × F32 = 48 bytes but data_offsets span 40");
    expect_reject_hdr(dir, "{\"w\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2,
                      "tensor 'w': misaligned slice");
    expect_reject_hdr(dir, "{\"w\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}",
                      8, "overflows");
    expect_reject_hdr(dir, "{\"__metadata__\":{\"n\":1}}", 0, "__metadata__ key 'n': value is not a string");
    expect_reject_hdr(dir, "{\"__metadata__\":[]}", 0, "__metadata__ is not an object");
    expect_reject_hdr(dir, "{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0, "__metadata__ key 'k' appears twice");
    expect_reject_hdr(dir, "{\"__metadata__\":{},\"__metadata__\":{}}", 0, "__metadata__ appears twice");
    remove_dir(dir);
}

static void test_reject_layout(void **state) {
    (void)state;
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    expect_reject_hdr(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
                      "tensor 'b': data_offsets [4, 12] overlap tensor 'a'");
    expect_reject_hdr(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
                      "overlap");
    expect_reject_hdr(dir, "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]},"
                           "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 20,
                      "tensor 'b': gap in the data buffer: bytes [8, 12)");
    expect_reject_hdr(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16,
                      "tensor 'a': gap in the data buffer: bytes [0, 8)");
    expect_reject_hdr(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12,
                      "4 trailing bytes after the last tensor");
    expect_reject_hdr(dir, "{}", 3, "3 trailing bytes");
    expect_reject_hdr(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                           "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16,
                      "duplicate tensor name 'a'");
    /* zero-size tensors may sit anywhere in the tiling, including at the same offset as another */
    char p[512];
    path_in(p, sizeof p, dir, "ok.safetensors");
    write_st(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
                "\"y\":{\"dtype\":\"F32\",\"shape\":[2,0],\"data_offsets\":[8,8]}}", 8);
    warm_st_file f;
    warm_error err = {0};
    assert_int_equal(warm_st_open(&f, p, &err), WARM_OK);
    assert_int_equal(f.n_tensors, 3);
    warm_st_close(&f);
    remove_dir(dir);
}

/* ------------------------------------------------------------------ writer failures */

static void test_writer_rejects(void **state) {
    (void)state;
    char dir[64], p[512];
    test_tmpdir(dir, sizeof dir);
    path_in(p, sizeof p, dir, "w.safetensors");
    warm_st_writer *w = (warm_st_writer *)1;
    warm_error err = {0};
    warm_st_spec dup[] = {{"a", WARM_DTYPE_F32, 1, {2}}, {"a", WARM_DTYPE_F16, 1, {2}}};
    assert_int_equal(warm_st_writer_open(&w, p, dup, 2, NULL, NULL, 0, &err), WARM_ERR_ARG);
    assert_null(w);
    assert_non_null(strstr(err.msg, "duplicate tensor name 'a'"));
    warm_st_spec sub[] = {{"q", WARM_DTYPE_F4, 1, {2}}};
    assert_int_equal(warm_st_writer_open(&w, p, sub, 1, NULL, NULL, 0, &err), WARM_ERR_ARG);
    assert_non_null(strstr(err.msg, "tensor 'q': dtype F4 is not supported"));
    warm_st_spec neg[] = {{"n", WARM_DTYPE_F32, 1, {-2}}};
    assert_int_equal(warm_st_writer_open(&w, p, neg, 1, NULL, NULL, 0, &err), WARM_ERR_ARG);
    warm_st_spec meta[] = {{"__metadata__", WARM_DTYPE_F32, 1, {2}}};
    assert_int_equal(warm_st_writer_open(&w, p, meta, 1, NULL, NULL, 0, &err), WARM_ERR_ARG);
    const char *mk[] = {"format"}, *mv[] = {"tf"};
    assert_int_equal(warm_st_writer_open(&w, p, NULL, 0, mk, mv, 1, &err), WARM_ERR_ARG);
    assert_non_null(strstr(err.msg, "'format' must be"));
    const char *mk2[] = {"k", "k"}, *mv2[] = {"1", "2"};
    assert_int_equal(warm_st_writer_open(&w, p, NULL, 0, mk2, mv2, 2, &err), WARM_ERR_ARG);
    assert_non_null(strstr(err.msg, "metadata key 'k' given twice"));
    warm_st_spec ints[] = {{"i", WARM_DTYPE_I32, 1, {2}}};
    float x[2] = {1, 2};
    assert_int_equal(warm_st_writer_open(&w, p, ints, 1, NULL, NULL, 0, &err), WARM_OK);
    assert_int_equal(warm_st_writer_put(w, 0, x, &err), WARM_ERR_ARG);
    assert_non_null(strstr(err.msg, "tensor 'i': dtype I32 cannot be written from floats"));
    assert_int_equal(warm_st_writer_put(w, 1, x, &err), WARM_ERR_ARG);
    warm_st_writer_abort(w);
    warm_st_writer_abort(NULL);
    assert_int_equal(count_entries(dir, "w.safetensors"), 0);
    remove_dir(dir);
}

static void test_writer_atomic(void **state) {
    (void)state;
    char dir[64], p[512];
    test_tmpdir(dir, sizeof dir);
    path_in(p, sizeof p, dir, "m.safetensors");
    warm_error err = {0};
    float v1[4] = {1, 2, 3, 4}, v2[4] = {9, 9, 9, 9};
    warm_st_spec s = {"w", WARM_DTYPE_F32, 1, {4}};
    const float *d1[] = {v1};
    assert_int_equal(warm_st_write(p, &s, d1, 1, NULL, NULL, 0, &err), WARM_OK);
    size_t n0, n1;
    uint8_t *orig = read_file(p, &n0);

    /* abort after a partial write: original intact, no temp file */
    warm_st_writer *w;
    assert_int_equal(warm_st_writer_open(&w, p, &s, 1, NULL, NULL, 0, &err), WARM_OK);
    assert_int_equal(count_entries(dir, ".tmp."), 1);
    assert_int_equal(warm_st_writer_put_range(w, 0, 0, 2, v2, &err), WARM_OK);
    warm_st_writer_abort(w);
    /* commit of an incomplete writer fails the same way */
    assert_int_equal(warm_st_writer_open(&w, p, &s, 1, NULL, NULL, 0, &err), WARM_OK);
    assert_int_equal(warm_st_writer_commit(w, &err), WARM_ERR_ARG);
    /* a stale temp file of the same name makes open fail without touching it or the target */
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", p, (long)getpid());
    write_bytes(tmp, "x", 1);
    assert_int_equal(warm_st_writer_open(&w, p, &s, 1, NULL, NULL, 0, &err), WARM_ERR_IO);
    assert_non_null(strstr(err.msg, "cannot create"));
    unlink(tmp);

    uint8_t *now = read_file(p, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(orig, now, n0);
    free(now);
    assert_int_equal(count_entries(dir, ".tmp."), 0);

    /* a missing directory: clean I/O error naming the path */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/no/such/dir/m.safetensors", dir);
    const float *d2[] = {v2};
    assert_int_equal(warm_st_write(bad, &s, d2, 1, NULL, NULL, 0, &err), WARM_ERR_IO);
    assert_non_null(strstr(err.msg, bad));

    /* a successful rewrite replaces the file */
    assert_int_equal(warm_st_write(p, &s, d2, 1, NULL, NULL, 0, &err), WARM_OK);
    warm_st_file f;
    float out[4];
    assert_int_equal(warm_st_open(&f, p, &err), WARM_OK);
    assert_int_equal(warm_st_to_f32(&f, find_checked(&f, "w"), out, &err), WARM_OK);
    assert_memory_equal(out, v2, sizeof v2);
    warm_st_close(&f);
    assert_int_equal(count_entries(dir, ".tmp."), 0);
    free(orig);
    remove_dir(dir);
}

/* A writer killed with SIGKILL leaves "<path>.tmp.<pid>"; the next writer of <path> removes those of dead processes
 * (files and directories), and only those: a live process's temp file and another path's stay. */
static void test_writer_sweeps_stale_tmp(void **state) {
    (void)state;
    char dir[256], p[400], q[420];
    test_tmpdir(dir, sizeof dir);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) _exit(0);
    assert_int_equal(waitpid(child, NULL, 0), child); /* reaped: its pid names no process now */
    const char *names[4] = {"x.safetensors.tmp.%ld", "x.safetensors.tmp.%ld", "y.safetensors.tmp.%ld",
                            "x.safetensors.tmp.%ldz"};
    long pids[4] = {(long)child, (long)getppid(), (long)child, (long)child};
    for (int i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, names[i], pids[i]);
        snprintf(p, sizeof p, "%s/%s", dir, name);
        FILE *f = fopen(p, "wb");
        assert_non_null(f);
        fputs("partial", f);
        fclose(f);
    }
    snprintf(p, sizeof p, "%s/x.safetensors.tmp.%ld", dir, (long)child + 100000000L); /* a dead pid's directory */
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(q, sizeof q, "%s/shard", p);
    FILE *f = fopen(q, "wb");
    assert_non_null(f);
    fclose(f);
    float v[2] = {1, 2};
    const float *d[1] = {v};
    warm_st_spec spec[1] = {{"t", WARM_DTYPE_F32, 1, {2}}};
    warm_error err;
    snprintf(p, sizeof p, "%s/x.safetensors", dir);
    assert_int_equal(warm_st_write(p, spec, d, 1, NULL, NULL, 0, &err), WARM_OK);
    /* left: the live parent's temp file, y's, the one with a non-numeric suffix, and x.safetensors itself */
    assert_int_equal(count_entries(dir, ".tmp."), 3);
    snprintf(p, sizeof p, "%s/x.safetensors.tmp.%ld", dir, (long)child);
    assert_int_equal(access(p, F_OK), -1);
    snprintf(p, sizeof p, "%s/x.safetensors.tmp.%ld", dir, (long)getppid());
    assert_int_equal(access(p, F_OK), 0);
    remove_dir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtype_table),      cmocka_unit_test(test_bf16_rounding),
        cmocka_unit_test(test_f16_rounding),     cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_put_range),        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_unaligned_read),   cmocka_unit_test(test_reject_truncated),
        cmocka_unit_test(test_reject_json),      cmocka_unit_test(test_reject_entries),
        cmocka_unit_test(test_reject_layout),    cmocka_unit_test(test_writer_rejects),
        cmocka_unit_test(test_writer_atomic),    cmocka_unit_test(test_writer_sweeps_stale_tmp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
