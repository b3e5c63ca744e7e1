/*
 * test_bpe.c — the GPT-2 byte-level BPE tokenizer (src/text/bpe.c, bpe_load.c, tokenizer.c).
 *
 * Golden ids come from implementations independent of warm (scripts/make_bpe_golden.js: Python's regex
 * module for the pieces, npm gpt-3-encoder for the merges, cross-checked with npm js-tiktoken):
 *   - tests/fixtures/bpe_hard.txt + bpe_golden_hard.txt: 197 hand-written hard cases (non-ASCII scripts,
 *     emoji and ZWJ sequences, whitespace runs, numbers, contractions, invalid UTF-8, long pieces), plain
 *     and with <|endoftext|> recognised;
 *   - tests/fixtures/bpe_golden_shakespeare.bin: every one of the 40,000 lines of Tiny Shakespeare (read
 *     from the shared data at run time) and the whole file (338,025 tokens, formats.md §5);
 *   - tests/fixtures/bpe_golden_random.txt: 1,000 random byte strings built from fragments that meet at the
 *     regex's edges (apostrophes, spaces, Unicode spaces, marks, emoji, invalid bytes).
 * Hand-derived cases (comments show the derivation), lossless round trips of random bytes, the two merge
 * algorithms against each other, the Hugging Face tokenizer.json loader (written here from the GPT-2
 * files; refusals of what warm does not implement), malformed files with the file and line named, and the
 * `warm tokenize` command (the binary of this build).
 *
 * Needs ../shared/data/gpt2-tokenizer and ../shared/data/tinyshakespeare ($WARM_SHARED_DATA): without them
 * the group setup fails with a message naming the missing file, and the run fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "test_util.h"
#include "text/tok_internal.h"
#include "warm/tokenizer.h"

typedef struct {
    warm_tokenizer *gpt2;
    char enc[4096], merges[4096]; /* paths of encoder.json, vocab.bpe */
    char *shakespeare;            /* input.txt */
    size_t shakespeare_len;
} fixture;

static int setup(void **state) {
    static fixture f;
    warm_error err = {0};
    snprintf(f.enc, sizeof f.enc, "%s/gpt2-tokenizer/encoder.json", test_shared_data());
    snprintf(f.merges, sizeof f.merges, "%s/gpt2-tokenizer/vocab.bpe", test_shared_data());
    if (warm_tok_load_gpt2(&f.gpt2, f.enc, f.merges, &err) != WARM_OK) {
        fprintf(stderr, "test_bpe: cannot load the GPT-2 tokenizer (set WARM_SHARED_DATA to the shared data): %s\n",
                err.msg);
        return -1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/tinyshakespeare/input.txt", test_shared_data());
    if (!(f.shakespeare = warm_read_file(path, &f.shakespeare_len, &err))) {
        fprintf(stderr, "test_bpe: %s (set WARM_SHARED_DATA to the shared data)\n", err.msg);
        return -1;
    }
    *state = &f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    if (!f) return 0; /* setup failed */
    warm_tok_free(f->gpt2);
    free(f->shakespeare);
    return 0;
}

/* ---- helpers ---------------------------------------------------------------------------------------- */

/* All ids of len bytes of text (malloc'd), their count in *n. */
static int32_t *encode_all(const warm_tokenizer *t, const char *text, size_t len, int flags, int *n) {
    warm_error err = {0};
    int cap = (int)len + 16;
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    assert_non_null(ids);
    if (warm_tok_encode_n(t, text, len, flags, ids, cap, n, &err) != WARM_OK) fail_msg("encode: %s", err.msg);
    return ids;
}

/* Encodes, decodes and checks the bytes come back. */
static void assert_round_trip(const warm_tokenizer *t, const char *text, size_t len, int flags) {
    int n;
    int32_t *ids = encode_all(t, text, len, flags, &n);
    size_t back_len = 0;
    char *back = warm_tok_decode_n(t, ids, n, &back_len);
    assert_non_null(back);
    if (back_len != len || memcmp(back, text, len) != 0)
        fail_msg("round trip of %zu bytes gave %zu bytes back (\"%.40s\")", len, back_len, text);
    free(back);
    free(ids);
}

static void assert_ids(const warm_tokenizer *t, const char *text, int flags, const int32_t *want, int nwant) {
    int n;
    int32_t *ids = encode_all(t, text, strlen(text), flags, &n);
    if (n != nwant) fail_msg("\"%s\": %d ids, expected %d", text, n, nwant);
    for (int i = 0; i < n; i++)
        if (ids[i] != want[i]) fail_msg("\"%s\": id %d is %d, expected %d", text, i, ids[i], want[i]);
    free(ids);
}

static uint32_t fnv1a32(const uint8_t *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 16777619u;
    return h;
}

static uint64_t fnv1a64(const uint8_t *s, size_t n) {
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

static void put_utf8(uint8_t *out, size_t *k, uint32_t cp) {
    if (cp < 0x80) out[(*k)++] = (uint8_t)cp;
    else if (cp < 0x800) {
        out[(*k)++] = (uint8_t)(0xC0 | cp >> 6);
        out[(*k)++] = (uint8_t)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out[(*k)++] = (uint8_t)(0xE0 | cp >> 12);
        out[(*k)++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[(*k)++] = (uint8_t)(0x80 | (cp & 0x3F));
    } else {
        out[(*k)++] = (uint8_t)(0xF0 | cp >> 18);
        out[(*k)++] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        out[(*k)++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[(*k)++] = (uint8_t)(0x80 | (cp & 0x3F));
    }
}

/* A case line of bpe_hard.txt without its escapes (\\ \n \r \t \xHH \u{H...}), into out; returns the length. */
static size_t unescape_case(const char *s, uint8_t *out, int line) {
    size_t k = 0;
    for (const char *p = s; *p;) {
        if (*p != '\\') {
            out[k++] = (uint8_t)*p++;
            continue;
        }
        char c = p[1];
        if (c == '\\' || c == 'n' || c == 'r' || c == 't') {
            out[k++] = c == '\\' ? '\\' : c == 'n' ? '\n' : c == 'r' ? '\r' : '\t';
            p += 2;
        } else if (c == 'x') {
            unsigned v;
            if (sscanf(p + 2, "%2x", &v) != 1) fail_msg("bpe_hard.txt:%d: bad \\x", line);
            out[k++] = (uint8_t)v;
            p += 4;
        } else if (c == 'u' && p[2] == '{') {
            char *end;
            unsigned long cp = strtoul(p + 3, &end, 16);
            if (*end != '}' || cp > 0x10FFFF) fail_msg("bpe_hard.txt:%d: bad \\u{}", line);
            put_utf8(out, &k, (uint32_t)cp);
            p = end + 1;
        } else {
            fail_msg("bpe_hard.txt:%d: unknown escape \\%c", line, c);
        }
    }
    return k;
}

static char *fixture_text(const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", test_fixture_dir(), name);
    size_t n;
    warm_error err = {0};
    char *s = warm_read_file(path, &n, &err);
    if (!s) fail_msg("%s", err.msg);
    return s;
}

/* ---- basics ------------------------------------------------------------------------------------------ */

/* The documented specials and spellings (formats.md §5). */
static void test_gpt2_basics(void **state) {
    const warm_tokenizer *t = ((fixture *)*state)->gpt2;
    assert_int_equal(warm_tok_kind_of(t), WARM_TOK_BPE);
    assert_int_equal(warm_tok_vocab_size(t), 50257);
    assert_int_equal(warm_tok_eos(t), 50256);
    assert_int_equal(warm_tok_pad(t), 50256);
    assert_int_equal(warm_tok_unk(t), -1);
    assert_string_equal(warm_tok_word(t, 50256), "<|endoftext|>");
    assert_string_equal(warm_tok_word(t, 995), "\xC4\xA0world"); /* "Ġworld" */
    assert_int_equal(warm_tok_id(t, "\xC4\xA0world"), 995);
    assert_int_equal(warm_tok_id(t, "!"), 0);
    assert_int_equal(warm_tok_id(t, "\xC4\xA0"), 220); /* space -> U+0120 */
    assert_int_equal(warm_tok_id(t, "\xC4\x8A"), 198); /* newline -> U+010A */
    assert_int_equal(warm_tok_id(t, "no such token"), -1);
    assert_null(warm_tok_word(t, 50257));
    assert_null(warm_tok_word(t, -1));
    assert_int_equal(tok_bpe_ranks_monotonic(t->bpe), 1);
    static const int32_t hello[] = {15496, 995};
    assert_ids(t, "Hello world", 0, hello, 2);
}

/* Hand-derived ids: the pieces by the regex rules, each piece's bytes through the merges. */
static void test_hand_derived(void **state) {
    const warm_tokenizer *t = ((fixture *)*state)->gpt2;
    /* "a\xffb": letters "a" | the invalid byte is one OTHER character: piece "\xff" | "b". Ids: "a" = 64,
     * "b" = 65; byte 0xff maps to U+00FF, the last of the 188 printable bytes (94 + 12 + 82 - 1 = 187). */
    static const int32_t inv[] = {64, 187, 65};
    int n;
    int32_t *ids = encode_all(t, "a\xff" "b", 3, 0, &n);
    assert_int_equal(n, 3);
    assert_memory_equal(ids, inv, sizeof inv);
    free(ids);
    /* "\x00": byte 0 is the first remapped byte, U+0100, id 188. */
    ids = encode_all(t, "\0", 1, 0, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 188);
    free(ids);
    /* "a<|endoftext|>b" with the special recognised: "a" | 50256 | "b". */
    static const int32_t sp[] = {64, 50256, 65};
    assert_ids(t, "a<|endoftext|>b", WARM_TOK_SPECIAL, sp, 3);
    /* Without: "<|" is one OTHER run, "endoftext" letters, "|>" OTHER: more than 3 ids, no 50256. */
    ids = encode_all(t, "a<|endoftext|>b", 15, 0, &n);
    assert_true(n > 3);
    for (int i = 0; i < n; i++) assert_int_not_equal(ids[i], 50256);
    free(ids);
    /* Empty text: no ids. */
    assert_ids(t, "", 0, NULL, 0);
}

/* The pieces of the regex, on the rules of formats.md §5. */
static void test_pretokenizer(void **state) {
    (void)state;
    static const struct {
        const char *text;
        const char *pieces[8];
    } cases[] = {
        {"a  b", {"a", " ", " b"}},
        {"a\tb", {"a", "\t", "b"}},
        {"  \ta", {"  ", "\t", "a"}},
        {"x \n\n", {"x", " \n\n"}},
        {"I'm", {"I", "'m"}},
        {"I'M", {"I", "'", "M"}},
        {"!'s", {"!'", "s"}},
        {" 's", {" '", "s"}},
        {"abc123", {"abc", "123"}},
        {" 123 abc", {" 123", " abc"}},
        {"a\xe2\x80\x83" "b", {"a", "\xe2\x80\x83", "b"}},   /* U+2003 em space: whitespace */
        {"a\xc2\x85\xc2\x85 b", {"a", "\xc2\x85\xc2\x85", " b"}}, /* U+0085: White_Space */
        {"\xef\xbb\xbf" "a", {"\xef\xbb\xbf", "a"}},          /* U+FEFF: not White_Space, OTHER */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const uint8_t *s = (const uint8_t *)cases[c].text;
        size_t n = strlen(cases[c].text), i = 0;
        int k = 0;
        for (; i < n; k++) {
            size_t j = tok_bpe_pretoken_end(s, n, i);
            const char *want = cases[c].pieces[k];
            if (!want || j - i != strlen(want) || memcmp(s + i, want, j - i) != 0)
                fail_msg("\"%s\": piece %d is \"%.*s\", expected \"%s\"", cases[c].text, k, (int)(j - i), s + i,
                         want ? want : "(none)");
            i = j;
        }
        assert_null(cases[c].pieces[k]);
    }
}

/* The generated Unicode 15.0 classes at known code points. */
static void test_unicode_classes(void **state) {
    (void)state;
    assert_string_equal(tok_unicode_version, "15.0.0");
    static const struct {
        uint32_t cp;
        int cls;
    } cases[] = {
        {'a', TOK_UNI_LETTER}, {'Z', TOK_UNI_LETTER}, {'7', TOK_UNI_NUMBER}, {' ', TOK_UNI_SPACE},
        {'\t', TOK_UNI_SPACE}, {0x0B, TOK_UNI_SPACE}, {0x1C, TOK_UNI_OTHER}, {'\'', TOK_UNI_OTHER},
        {0x85, TOK_UNI_SPACE}, {0xA0, TOK_UNI_SPACE}, {0xAA, TOK_UNI_LETTER}, {0xB2, TOK_UNI_NUMBER},
        {0xBD, TOK_UNI_NUMBER}, {0xD7, TOK_UNI_OTHER}, {0x0301, TOK_UNI_OTHER}, {0x0661, TOK_UNI_NUMBER},
        {0x1680, TOK_UNI_SPACE}, {0x200B, TOK_UNI_OTHER}, {0x2028, TOK_UNI_SPACE}, {0x2167, TOK_UNI_NUMBER},
        {0x3000, TOK_UNI_SPACE}, {0x3042, TOK_UNI_LETTER}, {0x4E00, TOK_UNI_LETTER}, {0x9FFF, TOK_UNI_LETTER},
        {0xAC00, TOK_UNI_LETTER}, {0xD7A3, TOK_UNI_LETTER}, {0xFEFF, TOK_UNI_OTHER}, {0xFF10, TOK_UNI_NUMBER},
        {0x1C89, TOK_UNI_OTHER}, /* a letter from Unicode 16.0 on */
        {0x1F600, TOK_UNI_OTHER}, {0x20000, TOK_UNI_LETTER}, {0x2A6DF, TOK_UNI_LETTER}, {0x10FFFF, TOK_UNI_OTHER},
        {0x110000, TOK_UNI_OTHER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (tok_uni_class_of(cases[i].cp) != cases[i].cls)
            fail_msg("U+%04X: class %d, expected %d", cases[i].cp, tok_uni_class_of(cases[i].cp), cases[i].cls);
    for (uint32_t c = 0; c < 256; c++) assert_int_equal(tok_uni_latin1[c], tok_uni_class_of(c));
}

/* ---- golden -------------------------------------------------------------------------------------------- */

/* Every case of bpe_hard.txt against bpe_golden_hard.txt, and its round trip. */
static void test_golden_hard(void **state) {
    const warm_tokenizer *t = ((fixture *)*state)->gpt2;
    char *cases = fixture_text("bpe_hard.txt"), *gold = fixture_text("bpe_golden_hard.txt");
    /* The case text of each line number. */
    char *lines[1024] = {0};
    int nlines = 0;
    for (char *p = cases; *p && nlines < 1023;) {
        char *e = strchr(p, '\n');
        if (e) *e = 0;
        lines[++nlines] = p;
        p = e ? e + 1 : p + strlen(p);
    }
    int checked = 0, special = 0;
    uint8_t *buf = malloc(8192);
    int32_t *want = malloc(8192 * sizeof *want);
    assert_non_null(buf);
    assert_non_null(want);
    for (char *g = strtok(gold, "\n"); g; g = strtok(NULL, "\n")) {
        if (g[0] == '#') continue;
        int line, pos;
        char mode[16];
        unsigned hash;
        if (sscanf(g, "%d %15s %x%n", &line, mode, &hash, &pos) != 3 || line < 1 || line > nlines)
            fail_msg("bpe_golden_hard.txt: bad line \"%.60s\"", g);
        int nwant = 0;
        for (char *p = g + pos, *end; *p; p = end) {
            long v = strtol(p, &end, 10);
            if (end == p) break;
            want[nwant++] = (int32_t)v;
        }
        size_t len = unescape_case(lines[line], buf, line);
        if (fnv1a32(buf, len) != hash)
            fail_msg("bpe_hard.txt:%d changed since bpe_golden_hard.txt was made: run make bpe-fixtures", line);
        int flags = strcmp(mode, "special") == 0 ? WARM_TOK_SPECIAL : 0;
        int n;
        int32_t *ids = encode_all(t, (const char *)buf, len, flags, &n);
        for (int i = 0; i < (n < nwant ? n : nwant); i++)
            if (ids[i] != want[i])
                fail_msg("bpe_hard.txt:%d (%s): id %d is %d, golden %d", line, mode, i, ids[i], want[i]);
        if (n != nwant) fail_msg("bpe_hard.txt:%d (%s): %d ids, golden %d", line, mode, n, nwant);
        free(ids);
        assert_round_trip(t, (const char *)buf, len, flags);
        checked++;
        special += flags != 0;
    }
    assert_true(checked >= 190);
    assert_int_equal(special, 8);
    free(buf);
    free(want);
    free(cases);
    free(gold);
}

/* The random byte strings of bpe_golden_random.txt (HEX IDS... per line), and their round trips. */
static void test_golden_random(void **state) {
    const warm_tokenizer *t = ((fixture *)*state)->gpt2;
    char *gold = fixture_text("bpe_golden_random.txt");
    int cases = 0;
    uint8_t buf[4096];
    int32_t want[4096];
    for (char *g = strtok(gold, "\n"); g; g = strtok(NULL, "\n")) {
        if (g[0] == '#') continue;
        size_t len = 0;
        char *p = g;
        for (unsigned v; *p && *p != ' ' && len < sizeof buf && sscanf(p, "%2x", &v) == 1; p += 2) buf[len++] = (uint8_t)v;
        int nwant = 0;
        for (char *end; *p && nwant < 4096; p = end) {
            long v = strtol(p, &end, 10);
            if (end == p) break;
            want[nwant++] = (int32_t)v;
        }
        cases++;
        int n;
        int32_t *ids = encode_all(t, (const char *)buf, len, 0, &n);
        for (int i = 0; i < (n < nwant ? n : nwant); i++)
            if (ids[i] != want[i]) fail_msg("random case %d: id %d is %d, golden %d", cases, i, ids[i], want[i]);
        if (n != nwant) fail_msg("random case %d: %d ids, golden %d", cases, n, nwant);
        free(ids);
        assert_round_trip(t, (const char *)buf, len, 0);
    }
    assert_int_equal(cases, 1000);
    free(gold);
}

static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* Every line of Tiny Shakespeare and the whole file against bpe_golden_shakespeare.bin (format in
 * tests/fixtures/README.md). */
static void test_golden_shakespeare(void **state) {
    fixture *f = *state;
    char path[4096];
    snprintf(path, sizeof path, "%s/bpe_golden_shakespeare.bin", test_fixture_dir());
    size_t size;
    warm_error err = {0};
    uint8_t *g = (uint8_t *)warm_read_file(path, &size, &err);
    if (!g) fail_msg("%s", err.msg);
    assert_true(size >= 40);
    assert_memory_equal(g, "WBPEG001", 8);
    uint32_t nlines = rd32(g + 8), nids = rd32(g + 12), whole_n = rd32(g + 24);
    assert_int_equal(size, 40 + (size_t)nlines + 2 * (size_t)nids);
    if (rd64(g + 16) != fnv1a64((const uint8_t *)f->shakespeare, f->shakespeare_len))
        fail_msg("tinyshakespeare/input.txt is not the file the golden ids were made from");
    const uint8_t *counts = g + 40, *ids16 = g + 40 + nlines;
    const char *s = f->shakespeare;
    size_t at = 0, k = 0;
    for (uint32_t line = 0; line < nlines; line++) {
        assert_true(at < f->shakespeare_len);
        const char *nl = memchr(s + at, '\n', f->shakespeare_len - at);
        size_t len = nl ? (size_t)(nl - (s + at)) + 1 : f->shakespeare_len - at;
        int n;
        int32_t *ids = encode_all(f->gpt2, s + at, len, 0, &n);
        if (n != counts[line]) fail_msg("input.txt:%u: %d ids, golden %d", line + 1, n, counts[line]);
        for (int i = 0; i < n; i++, k++) {
            int32_t want = ids16[2 * k] | ids16[2 * k + 1] << 8;
            if (ids[i] != want) fail_msg("input.txt:%u: id %d is %d, golden %d", line + 1, i, ids[i], want);
        }
        free(ids);
        at += len;
    }
    assert_int_equal(at, f->shakespeare_len);
    assert_int_equal(k, nids);
    /* The whole file at once: count and hash of the ids as little-endian uint32. */
    int n;
    int32_t *ids = encode_all(f->gpt2, s, f->shakespeare_len, 0, &n);
    assert_int_equal(n, whole_n);
    assert_int_equal(n, 338025);
    uint8_t *le = malloc(4 * (size_t)n);
    assert_non_null(le);
    for (int i = 0; i < n; i++)
        for (int b = 0; b < 4; b++) le[4 * i + b] = (uint8_t)((uint32_t)ids[i] >> (8 * b));
    if (fnv1a64(le, 4 * (size_t)n) != rd64(g + 32)) fail_msg("whole input.txt: ids differ from the golden hash");
    size_t back_len;
    char *back = warm_tok_decode_n(f->gpt2, ids, n, &back_len);
    assert_int_equal(back_len, f->shakespeare_len);
    assert_memory_equal(back, s, back_len);
    free(back);
    free(le);
    free(ids);
    free(g);
}

/* ---- properties ------------------------------------------------------------------------------------------ */

/* Random bytes, random code points and random mixes of both round-trip exactly. */
static void test_round_trip_random(void **state) {
    const warm_tokenizer *t = ((fixture *)*state)->gpt2;
    warm_rng r;
    warm_rng_seed(&r, 13);
    uint8_t buf[600];
    static const uint32_t pool[] = {' ', ' ', '\n', '\t', 'a', 'e', 'Z', '5', '\'', 's', '.', 0x85, 0xA0, 0xE9,
                                    0x0301, 0x0416, 0x3000, 0x4E2D, 0xFEFF, 0x200D, 0x1F600, 0x1F3FD, 0x10FFFF};
    for (int iter = 0; iter < 400; iter++) {
        size_t n = 0, want = warm_rng_below(&r, 500);
        while (n < want) {
            uint32_t kind = warm_rng_below(&r, 3);
            if (kind == 0) buf[n++] = (uint8_t)warm_rng_below(&r, 256);
            else put_utf8(buf, &n, pool[warm_rng_below(&r, sizeof pool / sizeof pool[0])]);
        }
        assert_round_trip(t, (const char *)buf, n, 0);
        assert_round_trip(t, (const char *)buf, n, WARM_TOK_SPECIAL);
    }
}

/* Encodes with the merge loop forced to one algorithm. */
static int32_t *encode_algo(warm_tokenizer *t, int algo, const char *s, size_t n, int *count) {
    tok_bpe_set_merge_algo(t->bpe, algo);
    int32_t *ids = encode_all(t, s, n, 0, count);
    tok_bpe_set_merge_algo(t->bpe, TOK_MERGE_AUTO);
    return ids;
}

static void assert_algos_agree(warm_tokenizer *t, const char *s, size_t n) {
    int na, nb;
    int32_t *a = encode_algo(t, TOK_MERGE_NAIVE, s, n, &na), *b = encode_algo(t, TOK_MERGE_HEAP, s, n, &nb);
    if (na != nb || memcmp(a, b, (size_t)na * sizeof *a) != 0)
        fail_msg("naive and heap merges differ on \"%.40s\" (%zu bytes)", s, n);
    free(a);
    free(b);
}

/* GPT-2's loop and the heap loop give the same ids: on Shakespeare, and on long pieces of letters drawn from
 * few characters (many equal pairs: the order of equal-rank merges matters there). */
static void test_merge_algorithms_agree(void **state) {
    fixture *f = *state;
    assert_algos_agree(f->gpt2, f->shakespeare, f->shakespeare_len);
    warm_rng r;
    warm_rng_seed(&r, 7);
    char buf[400];
    static const char letters[] = "aabeilnorst";
    for (int iter = 0; iter < 300; iter++) {
        size_t n = 1 + warm_rng_below(&r, sizeof buf - 1);
        for (size_t i = 0; i < n; i++) buf[i] = letters[warm_rng_below(&r, sizeof letters - 1)];
        assert_algos_agree(f->gpt2, buf, n);
    }
}

/* Counting: ids = NULL with max 0 gives the count and WARM_ERR_ARG; a short buffer gets the first ids. */
static void test_limits(void **state) {
    const warm_tokenizer *t = ((fixture *)*state)->gpt2;
    warm_error err = {0};
    int n;
    assert_int_equal(warm_tok_encode(t, "Hello world, hello", 0, NULL, 0, &n, NULL), WARM_ERR_ARG);
    assert_int_equal(n, 4);
    int32_t ids[2];
    assert_int_equal(warm_tok_encode(t, "Hello world, hello", 0, ids, 2, &n, &err), WARM_ERR_ARG);
    assert_int_equal(n, 4);
    assert_int_equal(ids[0], 15496);
    assert_int_equal(ids[1], 995);
    assert_non_null(strstr(err.msg, "4 tokens"));
    /* Decode: an out-of-range id becomes U+FFFD, the rest is kept. */
    int32_t bad[] = {15496, 99999, 995};
    char *text = warm_tok_decode(t, bad, 3);
    assert_string_equal(text, "Hello\xEF\xBF\xBD world");
    free(text);
}

/* ---- files ------------------------------------------------------------------------------------------------ */

static void write_file(const char *path, const char *text, size_t n) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, n, fp), n);
    fclose(fp);
}

/* A Hugging Face tokenizer.json made of the GPT-2 files: merges as strings or as pairs. */
static cJSON *hf_json(const fixture *f, int pairs) {
    size_t n;
    char *enc = warm_read_file(f->enc, &n, NULL), *merges = warm_read_file(f->merges, &n, NULL);
    assert_non_null(enc);
    assert_non_null(merges);
    cJSON *root = cJSON_Parse("{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,"
                              "\"added_tokens\":[{\"id\":50256,\"content\":\"<|endoftext|>\",\"single_word\":false,"
                              "\"lstrip\":false,\"rstrip\":false,\"normalized\":true,\"special\":true}],"
                              "\"normalizer\":null,"
                              "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
                              "\"trim_offsets\":true,\"use_regex\":true},"
                              "\"post_processor\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,"
                              "\"trim_offsets\":false,\"use_regex\":true},"
                              "\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,"
                              "\"use_regex\":true},"
                              "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,"
                              "\"continuing_subword_prefix\":\"\",\"end_of_word_suffix\":\"\",\"fuse_unk\":false,"
                              "\"byte_fallback\":false}}");
    assert_non_null(root);
    cJSON *model = cJSON_GetObjectItem(root, "model");
    cJSON_AddItemToObject(model, "vocab", cJSON_Parse(enc));
    cJSON *arr = cJSON_AddArrayToObject(model, "merges");
    char *line = strchr(merges, '\n') + 1; /* after "#version" */
    for (char *e; (e = strchr(line, '\n')) != NULL; line = e + 1) {
        *e = 0;
        if (!*line) continue;
        if (!pairs) {
            cJSON_AddItemToArray(arr, cJSON_CreateString(line));
            continue;
        }
        char *sp = strchr(line, ' ');
        *sp = 0;
        const char *two[2] = {line, sp + 1};
        cJSON_AddItemToArray(arr, cJSON_CreateStringArray(two, 2));
    }
    free(enc);
    free(merges);
    return root;
}

static void save_json(const cJSON *root, const char *path) {
    char *s = cJSON_PrintUnformatted(root);
    assert_non_null(s);
    write_file(path, s, strlen(s));
    free(s);
}

/* Encodes the first 3,000 lines of Shakespeare and the hard cases with both; ids must match. */
static void assert_same_encoding(const fixture *f, const warm_tokenizer *t) {
    assert_int_equal(warm_tok_vocab_size(t), 50257);
    assert_int_equal(warm_tok_eos(t), 50256);
    size_t len = 0;
    for (int lines = 0; lines < 3000 && len < f->shakespeare_len; len++) lines += f->shakespeare[len] == '\n';
    int na, nb;
    int32_t *a = encode_all(f->gpt2, f->shakespeare, len, 0, &na), *b = encode_all(t, f->shakespeare, len, 0, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, (size_t)na * sizeof *a);
    free(a);
    free(b);
    static const int32_t sp[] = {64, 50256, 65};
    assert_ids(t, "a<|endoftext|>b", WARM_TOK_SPECIAL, sp, 3);
}

static void test_hf_tokenizer_json(void **state) {
    fixture *f = *state;
    char dir[64], path[256];
    test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    warm_error err = {0};
    for (int pairs = 0; pairs < 2; pairs++) {
        cJSON *root = hf_json(f, pairs);
        save_json(root, path);
        cJSON_Delete(root);
        warm_tokenizer *t = NULL;
        if (warm_tok_load(&t, path, &err) != WARM_OK) fail_msg("%s", err.msg);
        assert_same_encoding(f, t);
        warm_tok_free(t);
        if (warm_tok_open(&t, dir, &err) != WARM_OK) fail_msg("%s", err.msg); /* a directory with tokenizer.json */
        assert_same_encoding(f, t);
        warm_tok_free(t);
    }
    unlink(path);
    rmdir(dir);
}

/* What warm does not implement is refused, naming the file and the field. */
static void test_hf_refusals(void **state) {
    fixture *f = *state;
    char dir[64], path[256];
    test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    static const struct {
        const char *key, *json, *msg;
    } cases[] = {
        {"normalizer", "{\"type\":\"NFC\"}", "normalizer \"NFC\""},
        {"pre_tokenizer", "{\"type\":\"Whitespace\"}", "pre_tokenizer \"Whitespace\""},
        {"pre_tokenizer", "{\"type\":\"ByteLevel\",\"add_prefix_space\":true}", "add_prefix_space"},
        {"pre_tokenizer", "{\"type\":\"ByteLevel\",\"use_regex\":false}", "use_regex"},
        {"post_processor", "{\"type\":\"TemplateProcessing\"}", "post_processor \"TemplateProcessing\""},
        {"decoder", "{\"type\":\"WordPiece\"}", "decoder \"WordPiece\""},
        {"added_tokens", "[{\"id\":50256,\"content\":\"<|endoftext|>\",\"special\":false}]", "not special"},
        {"added_tokens", "[{\"id\":50256,\"content\":\"<|other|>\",\"special\":true}]", "which is \"<|endoftext|>\""},
        {"model.type", "\"WordPiece\"", "model.type is \"WordPiece\""},
        {"model.dropout", "0.1", "model.dropout"},
        {"model.merges", "[\"a b c\"]", "model.merges[0]"},
        {"model.merges", "[\"zz qq\"]", "is not a token"},
        {"model.merges", "[[\"a\"]]", "model.merges[0]"},
    };
    cJSON *base = hf_json(f, 0);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        cJSON *root = cJSON_Duplicate(base, 1);
        cJSON *obj = root;
        const char *key = cases[c].key;
        if (strncmp(key, "model.", 6) == 0) {
            obj = cJSON_GetObjectItem(root, "model");
            key += 6;
        }
        cJSON_ReplaceItemInObject(obj, key, cJSON_Parse(cases[c].json));
        save_json(root, path);
        cJSON_Delete(root);
        warm_tokenizer *t = NULL;
        warm_error err = {0};
        assert_int_equal(warm_tok_load(&t, path, &err), WARM_ERR_FORMAT);
        assert_null(t);
        if (!strstr(err.msg, path) || !strstr(err.msg, cases[c].msg))
            fail_msg("%s = %s: message \"%s\" lacks the file or \"%s\"", cases[c].key, cases[c].json, err.msg,
                     cases[c].msg);
    }
    cJSON_Delete(base);
    unlink(path);
    rmdir(dir);
}

/* Loads encoder.json + vocab.bpe written from text; returns the status, message in err. */
static warm_status load_texts(const char *dir, const char *enc, const char *merges, warm_error *err) {
    char a[256], b[256];
    snprintf(a, sizeof a, "%s/encoder.json", dir);
    snprintf(b, sizeof b, "%s/vocab.bpe", dir);
    write_file(a, enc, strlen(enc));
    write_file(b, merges, strlen(merges));
    warm_tokenizer *t = NULL;
    warm_status s = warm_tok_load_gpt2(&t, a, b, err);
    if (s != WARM_OK) assert_null(t);
    warm_tok_free(t);
    return s;
}

/* A tiny byte-level vocabulary (the 256 byte symbols, "ab", "<|endoftext|>") as encoder.json text. */
static char *tiny_encoder(int gap, int dup) {
    cJSON *o = cJSON_CreateObject();
    for (int c = 0; c < 256; c++) {
        uint8_t u[4];
        size_t k = 0;
        uint32_t cp = (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || c >= 174 ? (uint32_t)c : 0;
        if (!cp) { /* the k-th remapped byte */
            int rank = 0;
            for (int d = 0; d < c; d++) rank += !((d >= 33 && d <= 126) || (d >= 161 && d <= 172) || d >= 174);
            cp = 256u + (uint32_t)rank;
        }
        put_utf8(u, &k, cp);
        u[k] = 0;
        cJSON_AddNumberToObject(o, (const char *)u, c);
    }
    cJSON_AddNumberToObject(o, "ab", dup ? 5 : 256);
    cJSON_AddNumberToObject(o, "<|endoftext|>", gap ? 300 : 257);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static void expect_error(const char *dir, const char *enc, const char *merges, warm_status code, const char *file,
                         const char *msg) {
    warm_error err = {0};
    assert_int_equal(load_texts(dir, enc, merges, &err), code);
    if (!strstr(err.msg, file) || !strstr(err.msg, msg))
        fail_msg("message \"%s\" lacks \"%s\" or \"%s\"", err.msg, file, msg);
}

/* Malformed encoder.json / vocab.bpe: errors name the file, and the line for vocab.bpe. */
static void test_bad_files(void **state) {
    (void)state;
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    char *good = tiny_encoder(0, 0), *gap = tiny_encoder(1, 0), *dup = tiny_encoder(0, 1);
    warm_error err = {0};
    assert_int_equal(load_texts(dir, good, "#version: 0.2\na b\n", &err), WARM_OK);
    assert_int_equal(load_texts(dir, good, "a b", &err), WARM_OK); /* no version line, no final newline */
    assert_int_equal(load_texts(dir, good, "#version: 0.2\r\na b\r\n\r\n", &err), WARM_OK);
    expect_error(dir, gap, "a b\n", WARM_ERR_FORMAT, "encoder.json", "id 300");
    expect_error(dir, dup, "a b\n", WARM_ERR_FORMAT, "encoder.json", "id 5");
    expect_error(dir, "[1, 2]", "a b\n", WARM_ERR_FORMAT, "encoder.json", "not a JSON object");
    expect_error(dir, "{\"a\": 1", "a b\n", WARM_ERR_FORMAT, "encoder.json", "invalid JSON");
    expect_error(dir, "{\"a\": 0}", "", WARM_ERR_FORMAT, "encoder.json", "out of range");
    expect_error(dir, good, "#version: 0.2\na b\nab\n", WARM_ERR_FORMAT, "vocab.bpe:3", "not a merge");
    expect_error(dir, good, "#version: 0.2\na  b\n", WARM_ERR_FORMAT, "vocab.bpe:2", "not a merge");
    expect_error(dir, good, "#version: 0.2\na b\n\na b\n", WARM_ERR_FORMAT, "vocab.bpe:3", "empty line");
    expect_error(dir, good, "#version: 0.2\na b\na b\n", WARM_ERR_FORMAT, "vocab.bpe:3", "repeats rank 0");
    expect_error(dir, good, "#version: 0.2\nb a\n", WARM_ERR_FORMAT, "vocab.bpe:2", "\"ba\" is not a token");
    expect_error(dir, good, "#version: 0.2\nq xyz\n", WARM_ERR_FORMAT, "vocab.bpe:2", "\"xyz\" is not a token");
    /* A vocabulary without a byte symbol is not byte-level. */
    expect_error(dir, "{\"a\": 0, \"<|endoftext|>\": 1}", "", WARM_ERR_FORMAT, "encoder.json", "out of range");
    warm_tokenizer *t = NULL;
    assert_int_equal(warm_tok_load_gpt2(&t, "/nonexistent/encoder.json", "/nonexistent/vocab.bpe", &err), WARM_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/encoder.json"));
    free(good);
    free(gap);
    free(dup);
    char p[256];
    snprintf(p, sizeof p, "%s/encoder.json", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/vocab.bpe", dir);
    unlink(p);
    rmdir(dir);
}

/* warm_tok_open: "gpt2" through $WARM_GPT2_DIR, a directory with OpenAI's or Hugging Face's file names, a
 * WORD file, and a clear error for a directory without a tokenizer; BPE is not saved. */
static void test_open(void **state) {
    fixture *f = *state;
    warm_error err = {0};
    warm_tokenizer *t = NULL;
    char dir[64], a[256], b[256];
    test_tmpdir(dir, sizeof dir);
    /* An empty directory. */
    assert_int_equal(warm_tok_open(&t, dir, &err), WARM_ERR_IO);
    assert_non_null(strstr(err.msg, dir));
    assert_non_null(strstr(err.msg, "encoder.json"));
    /* "gpt2" with WARM_GPT2_DIR pointing at it: the message says how to fix it. */
    setenv("WARM_GPT2_DIR", dir, 1);
    assert_int_equal(warm_tok_open(&t, "gpt2", &err), WARM_ERR_IO);
    assert_non_null(strstr(err.msg, "WARM_GPT2_DIR"));
    /* Hugging Face's names for the same files. */
    size_t n;
    snprintf(a, sizeof a, "%s/vocab.json", dir);
    snprintf(b, sizeof b, "%s/merges.txt", dir);
    char *enc = warm_read_file(f->enc, &n, NULL);
    write_file(a, enc, n);
    free(enc);
    char *merges = warm_read_file(f->merges, &n, NULL);
    write_file(b, merges, n);
    free(merges);
    if (warm_tok_open(&t, "gpt2", &err) != WARM_OK) fail_msg("%s", err.msg);
    assert_same_encoding(f, t);
    assert_int_equal(warm_tok_save(t, a, &err), WARM_ERR_ARG);
    warm_tok_free(t);
    unsetenv("WARM_GPT2_DIR");
    /* Without WARM_GPT2_DIR, "gpt2" is $WARM_SHARED_DATA/gpt2-tokenizer (the test runner sets it). */
    char want[4096], got[4096];
    snprintf(want, sizeof want, "%s/gpt2-tokenizer", test_shared_data());
    if (getenv("WARM_SHARED_DATA")) assert_string_equal(warm_tok_gpt2_dir(got, sizeof got), want);
    /* A WORD file still opens as WORD. */
    const char *words[] = {"hello", "world"};
    assert_int_equal(warm_tok_from_words(&t, words, 2, &err), WARM_OK);
    snprintf(b, sizeof b, "%s/word.json", dir);
    assert_int_equal(warm_tok_save(t, b, &err), WARM_OK);
    warm_tok_free(t);
    if (warm_tok_open(&t, b, &err) != WARM_OK) fail_msg("%s", err.msg);
    assert_int_equal(warm_tok_kind_of(t), WARM_TOK_WORD);
    assert_int_equal(warm_tok_vocab_size(t), 5);
    warm_tok_free(t);
    unlink(a);
    unlink(b);
    snprintf(a, sizeof a, "%s/merges.txt", dir);
    unlink(a);
    rmdir(dir);
}

/* ---- warm tokenize ------------------------------------------------------------------------------------- */

/* Runs `warm ARGS` in a shell with stdout to DIR/out and stderr to DIR/err; returns the exit status and
 * the output (malloc'd) in *out. */
static int run_warm(const char *bin, const char *dir, const char *args, char **out, size_t *out_len) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s > '%s/out' 2> '%s/err'", bin, args, dir, dir);
    int rc = system(cmd);
    char path[256];
    snprintf(path, sizeof path, "%s/out", dir);
    size_t n = 0;
    *out = warm_read_file(path, out_len ? out_len : &n, NULL);
    assert_non_null(*out);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void expect_cli(const char *bin, const char *dir, const char *args, int want_rc, const char *want_out) {
    char *out;
    int rc = run_warm(bin, dir, args, &out, NULL);
    if (rc != want_rc) fail_msg("warm %s: exit %d, expected %d", args, rc, want_rc);
    if (want_out && strcmp(out, want_out) != 0) fail_msg("warm %s: printed \"%s\", expected \"%s\"", args, out, want_out);
    free(out);
}

/* The command: modes, lines, special, input from a file, exact round trip of invalid UTF-8, errors. */
static void test_cli_tokenize(void **state) {
    (void)state;
    char bin[600], dir[64], args[2048], path[256];
    if (!test_find_warm(bin, sizeof bin)) fail_msg("the warm binary of this build (%s) is missing: build it first", bin);
    test_tmpdir(dir, sizeof dir);
    expect_cli(bin, dir, "tokenize 'Hello world'", 0, "15496 995\n");
    expect_cli(bin, dir, "tokenize --tokenizer gpt2 Hello world", 0, "15496 995\n");
    expect_cli(bin, dir, "tokenize --tokens 'Hello world'", 0, "Hello \xC4\xA0world\n");
    expect_cli(bin, dir, "tokenize --count 'Hello world'", 0, "2\n");
    expect_cli(bin, dir, "tokenize --text 15496 995", 0, "Hello world");
    expect_cli(bin, dir, "tokenize --text '[15496, 995]'", 0, "Hello world");
    expect_cli(bin, dir, "tokenize 'a<|endoftext|>b' --special", 0, "64 50256 65\n");
    snprintf(args, sizeof args, "tokenize --count --in '%s/tinyshakespeare/input.txt'", test_shared_data());
    expect_cli(bin, dir, args, 0, "338025\n");
    /* --lines: one output line per input line; invalid bytes round-trip through ids. */
    static const char text[] = "a\xff" "b\nline two\n\x00\xc3(\n";
    snprintf(path, sizeof path, "%s/in.txt", dir);
    write_file(path, text, sizeof text - 1);
    snprintf(args, sizeof args, "tokenize --lines --in '%s'", path);
    char *ids;
    assert_int_equal(run_warm(bin, dir, args, &ids, NULL), 0);
    assert_non_null(strstr(ids, "64 187 65\n"));
    free(ids);
    snprintf(args, sizeof args, "tokenize --in '%s' > '%s/ids' && '%s' tokenize --text --in '%s/ids'", path, dir, bin,
             dir);
    char *back;
    size_t back_len;
    assert_int_equal(run_warm(bin, dir, args, &back, &back_len), 0);
    assert_int_equal(back_len, sizeof text - 1);
    assert_memory_equal(back, text, back_len);
    free(back);
    /* Errors: exclusive modes (usage, 2), a bad id and a missing tokenizer (failures, 1). */
    expect_cli(bin, dir, "tokenize --ids --text 1", 2, "");
    expect_cli(bin, dir, "tokenize --in x.txt word", 2, "");
    expect_cli(bin, dir, "tokenize --text 50257", 1, "");
    expect_cli(bin, dir, "tokenize --tokenizer /nonexistent/tok.json x", 1, "");
    expect_cli(bin, dir, "tokenize --help", 0, NULL);
    snprintf(args, sizeof args, "rm -rf '%s'", dir);
    assert_int_equal(system(args), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpt2_basics),
        cmocka_unit_test(test_hand_derived),
        cmocka_unit_test(test_pretokenizer),
        cmocka_unit_test(test_unicode_classes),
        cmocka_unit_test(test_golden_hard),
        cmocka_unit_test(test_golden_shakespeare),
        cmocka_unit_test(test_golden_random),
        cmocka_unit_test(test_round_trip_random),
        cmocka_unit_test(test_merge_algorithms_agree),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_hf_tokenizer_json),
        cmocka_unit_test(test_hf_refusals),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_open),
        cmocka_unit_test(test_cli_tokenize),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
