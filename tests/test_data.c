/*
 * test_data.c — JSONL reader/writer (src/io/jsonl.c), preference data (src/io/prefs.c), data order and LM
 * data (src/io/lmdata.c).
 *
 * Every test gets a fresh temp directory and a small word tokenizer (pad 0, eos 1, unk 2, then the words
 * below from id 3), writes its input files by hand and checks ids, labels, counts and batches against values
 * derived by hand. Error tests assert the whole "<path>:<line>: <message>" text where it matters, and the
 * line number everywhere. The ASan build checks that failed loads leak nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"
#include "warm/data.h"
#include "warm/tokenizer.h"

/* ---------------------------------------------------------------------------------------------------- */
/* Fixtures                                                                                              */

/* Ids: <pad> 0, <eos> 1, <unk> 2, then these from 3 (the = 3, cat = 4, ..., g = 16). */
static const char *const WORDS[] = {"the", "cat", "sat", "on", "mat", "dog", "ran", "a", "b", "c", "d", "e",
                                    "f", "g"};
enum { PAD = 0, EOS = 1, UNK = 2, THE = 3, CAT = 4, SAT = 5, ON = 6, MAT = 7, DOG = 8, RAN = 9, A = 10, B = 11,
       C = 12, D = 13, E = 14, F = 15, G = 16, NWORDS = 17 };

typedef struct {
    char dir[64];
    char path[256];
    warm_tokenizer *tok;
} fx;

static int setup(void **state) {
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    test_tmpdir(f->dir, sizeof f->dir);
    warm_error err = {0};
    assert_int_equal(warm_tok_from_words(&f->tok, WORDS, (int)(sizeof WORDS / sizeof WORDS[0]), &err), WARM_OK);
    assert_int_equal(warm_tok_vocab_size(f->tok), NWORDS);
    assert_int_equal(warm_tok_pad(f->tok), PAD);
    assert_int_equal(warm_tok_eos(f->tok), EOS);
    assert_int_equal(warm_tok_id(f->tok, "g"), G);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    DIR *d = opendir(f->dir);
    if (d) {
        char p[512];
        for (struct dirent *e; (e = readdir(d));) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(f->dir);
    warm_tok_free(f->tok);
    free(f);
    return 0;
}

/* Writes n bytes of text to <dir>/<name>; returns the path (f->path). */
static const char *put_bytes(fx *f, const char *name, const char *text, size_t n) {
    snprintf(f->path, sizeof f->path, "%s/%s", f->dir, name);
    FILE *fp = fopen(f->path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
    return f->path;
}

static const char *put(fx *f, const char *name, const char *text) { return put_bytes(f, name, text, strlen(text)); }

static void assert_ids(const int32_t *got, int n_got, const int32_t *want, int n_want) {
    assert_int_equal(n_got, n_want);
    for (int i = 0; i < n_want; i++) {
        if (got[i] != want[i]) fail_msg("id %d: got %d, want %d", i, (int)got[i], (int)want[i]);
    }
}
#define ASSERT_IDS(got, n, ...) do { \
        const int32_t want_[] = {__VA_ARGS__}; \
        assert_ids((got), (int)(n), want_, (int)(sizeof want_ / sizeof want_[0])); \
    } while (0)

/* Expects err to hold "<path>:<line>: " followed by text containing `what`. */
static void assert_err_at(const warm_error *err, const char *path, int line, const char *what) {
    char prefix[400];
    snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
    if (strncmp(err->msg, prefix, strlen(prefix)) != 0 || !strstr(err->msg, what))
        fail_msg("error \"%s\" does not start with \"%s\" and contain \"%s\"", err->msg, prefix, what);
}

/* ---------------------------------------------------------------------------------------------------- */
/* JSONL reader and writer                                                                               */

/* Blank lines are skipped but counted; CRLF, a BOM on line 1 and a last line without "\n" are accepted. */
static void test_jsonl_lines(void **state) {
    fx *f = *state;
    const char text[] = "\xEF\xBB\xBF{\"k\":1}\r\n\n   \r\n{\"k\":2}\n\t\n{\"k\":3}";
    const char *path = put_bytes(f, "a.jsonl", text, sizeof text - 1);
    warm_jsonl_reader *r;
    warm_error err = {0};
    assert_int_equal(warm_jsonl_open(&r, path, &err), WARM_OK);
    const int want_line[] = {1, 4, 6};
    for (int i = 0; i < 3; i++) {
        const cJSON *obj;
        assert_int_equal(warm_jsonl_next(r, &obj, &err), WARM_OK);
        assert_non_null(obj);
        assert_int_equal(warm_jsonl_lineno(r), want_line[i]);
        double k = 0;
        assert_int_equal(warm_jsonl_get_num(r, obj, "k", 1, &k, NULL, &err), WARM_OK);
        assert_true(k == (double)(i + 1));
    }
    const cJSON *obj;
    assert_int_equal(warm_jsonl_next(r, &obj, &err), WARM_OK);
    assert_null(obj);
    warm_jsonl_close(r);

    /* A BOM at the start of a later line (concatenated files) is tolerated as well; inside a line it is not. */
    const char bom2[] = "{}\n\xEF\xBB\xBF{}\n{\"a\": \xEF\xBB\xBF" "1}\n";
    path = put_bytes(f, "b.jsonl", bom2, sizeof bom2 - 1);
    assert_int_equal(warm_jsonl_open(&r, path, &err), WARM_OK);
    assert_int_equal(warm_jsonl_next(r, &obj, &err), WARM_OK);
    assert_int_equal(warm_jsonl_next(r, &obj, &err), WARM_OK);
    assert_non_null(obj);
    assert_int_equal(warm_jsonl_next(r, &obj, &err), WARM_ERR_FORMAT);
    assert_err_at(&err, path, 3, "invalid JSON at column 7");
    warm_jsonl_close(r);
}

/* A line of about 1 MB has no special status. */
static void test_jsonl_long_line(void **state) {
    fx *f = *state;
    size_t n_words = 200000;
    char *text = malloc(n_words * 4 + 64);
    assert_non_null(text);
    char *p = text + sprintf(text, "{\"text\": \"");
    for (size_t i = 0; i < n_words; i++) p += sprintf(p, i ? " cat" : "cat");
    p += sprintf(p, "\"}\n");
    const char *path = put_bytes(f, "long.jsonl", text, (size_t)(p - text));
    free(text);
    warm_jsonl_reader *r;
    warm_error err = {0};
    assert_int_equal(warm_jsonl_open(&r, path, &err), WARM_OK);
    const char *line;
    size_t len;
    assert_int_equal(warm_jsonl_next_line(r, &line, &len, &err), WARM_OK);
    assert_int_equal(len, n_words * 4 - 1 + 12);
    warm_jsonl_close(r);

    warm_lmdata d;
    warm_lm_opts o = warm_lm_opts_default();
    o.max_len = 0;
    assert_int_equal(warm_lm_load(&d, path, f->tok, &o, &err), WARM_OK);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.rows[0].len, (int)n_words + 1);
    assert_int_equal(d.ids.v[n_words], EOS);
    warm_lm_free(&d);
}

static void test_jsonl_syntax_errors(void **state) {
    fx *f = *state;
    static const struct { const char *text; int line; const char *what; } cases[] = {
        {"{}\n{\"a\": }\n", 2, "invalid JSON at column 7"},
        {"{}\n\n[1, 2]\n", 3, "not a JSON object"},
        {"\"chosen\"\n", 1, "not a JSON object"},
        {"{} {}\n", 1, "unexpected text after the JSON value at column 4"},
        {"{}\n{\"a\": 1, \"a\": 2}\n", 2, "duplicate key \"a\""},
        {"{\"a\": 1\n", 1, "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = put(f, "bad.jsonl", cases[i].text);
        warm_jsonl_reader *r;
        warm_error err = {0};
        assert_int_equal(warm_jsonl_open(&r, path, &err), WARM_OK);
        const cJSON *obj = NULL;
        warm_status s;
        while ((s = warm_jsonl_next(r, &obj, &err)) == WARM_OK && obj) {}
        assert_int_equal(s, WARM_ERR_FORMAT);
        assert_err_at(&err, path, cases[i].line, cases[i].what);
        warm_jsonl_close(r);
    }
    /* A NUL byte inside a line. */
    const char nul[] = "{}\n{\"a\"\0: 1}\n";
    const char *path = put_bytes(f, "nul.jsonl", nul, sizeof nul - 1);
    warm_jsonl_reader *r;
    warm_error err = {0};
    assert_int_equal(warm_jsonl_open(&r, path, &err), WARM_OK);
    const cJSON *obj;
    assert_int_equal(warm_jsonl_next(r, &obj, &err), WARM_OK);
    assert_int_equal(warm_jsonl_next(r, &obj, &err), WARM_ERR_FORMAT);
    assert_err_at(&err, path, 2, "NUL byte");
    warm_jsonl_close(r);
    /* A missing file names the path. */
    char missing[300];
    snprintf(missing, sizeof missing, "%s/none.jsonl", f->dir);
    assert_int_equal(warm_jsonl_open(&r, missing, &err), WARM_ERR_IO);
    assert_non_null(strstr(err.msg, missing));
}

static int count_files(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* Rows come back one per line; abort leaves the old file and no temp file. */
static void test_jsonl_writer(void **state) {
    fx *f = *state;
    char path[300];
    snprintf(path, sizeof path, "%s/out.jsonl", f->dir);
    warm_jsonl_writer *w;
    warm_error err = {0};
    assert_int_equal(warm_jsonl_writer_open(&w, path, &err), WARM_OK);
    for (int i = 0; i < 3; i++) {
        cJSON *row = cJSON_CreateObject();
        cJSON_AddNumberToObject(row, "i", i);
        cJSON_AddStringToObject(row, "s", "two\nlines");
        assert_int_equal(warm_jsonl_write(w, row, &err), WARM_OK);
        cJSON_Delete(row);
    }
    assert_int_equal(warm_jsonl_write_line(w, "{\"raw\": true}", &err), WARM_OK);
    assert_int_equal(warm_jsonl_write_line(w, "a\nb", &err), WARM_ERR_ARG);
    assert_int_equal(count_files(f->dir), 1); /* only the temp file so far */
    assert_int_equal(warm_jsonl_writer_commit(w, &err), WARM_OK);
    assert_int_equal(count_files(f->dir), 1);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0600, 0600);

    warm_jsonl_reader *r;
    assert_int_equal(warm_jsonl_open(&r, path, &err), WARM_OK);
    const cJSON *obj;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(warm_jsonl_next(r, &obj, &err), WARM_OK);
        assert_int_equal(warm_jsonl_lineno(r), i + 1);
        const char *s = NULL;
        assert_int_equal(warm_jsonl_get_str(r, obj, "s", 1, &s, NULL, &err), WARM_OK);
        assert_string_equal(s, "two\nlines");
    }
    assert_int_equal(warm_jsonl_next(r, &obj, &err), WARM_OK);
    int raw = 0;
    assert_int_equal(warm_jsonl_get_bool(r, obj, "raw", 1, &raw, NULL, &err), WARM_OK);
    assert_int_equal(raw, 1);
    assert_int_equal(warm_jsonl_next(r, &obj, &err), WARM_OK);
    assert_null(obj);
    warm_jsonl_close(r);

    /* Abort: the committed file is untouched and the temp file is gone. */
    assert_int_equal(warm_jsonl_writer_open(&w, path, &err), WARM_OK);
    assert_int_equal(warm_jsonl_write_line(w, "{}", &err), WARM_OK);
    assert_int_equal(count_files(f->dir), 2);
    warm_jsonl_writer_abort(w);
    assert_int_equal(count_files(f->dir), 1);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 10);

    /* A directory that does not exist is an I/O error naming the path. */
    char bad[320];
    snprintf(bad, sizeof bad, "%s/no/such/dir.jsonl", f->dir);
    assert_int_equal(warm_jsonl_writer_open(&w, bad, &err), WARM_ERR_IO);
    assert_non_null(strstr(err.msg, bad));
}

/* ---------------------------------------------------------------------------------------------------- */
/* Preference data: row forms                                                                            */

static warm_prefs load_prefs_ok(fx *f, const char *text, const warm_prefs_opts *o) {
    const char *path = put(f, "prefs.jsonl", text);
    warm_prefs d;
    warm_error err = {0};
    warm_status s = warm_prefs_load(&d, path, f->tok, o, &err);
    if (s != WARM_OK) fail_msg("load failed: %s", err.msg);
    return d;
}

/* Explicit prompt: prompt as is, each response + EOS; EOS appended exactly once. */
static void test_prefs_explicit(void **state) {
    fx *f = *state;
    warm_prefs d = load_prefs_ok(f,
        "{\"prompt\": \"the cat\", \"chosen\": \"sat on\", \"rejected\": \"ran\"}\n"
        "{\"prompt\": \"a\", \"chosen\": \"b <eos>\", \"rejected\": \"\"}\n"
        "{\"prompt\": \"\", \"chosen\": \"  c  \", \"rejected\": \"<eos>\"}\n", NULL);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.n_lines, 3);
    warm_pref_view v = warm_prefs_view(&d, 0);
    ASSERT_IDS(v.prompt, v.prompt_len, THE, CAT);
    ASSERT_IDS(v.resp[0], v.resp_len[0], SAT, ON, EOS);
    ASSERT_IDS(v.resp[1], v.resp_len[1], RAN, EOS);
    v = warm_prefs_view(&d, 1);
    ASSERT_IDS(v.prompt, v.prompt_len, A);
    ASSERT_IDS(v.resp[0], v.resp_len[0], B, EOS);     /* already ended with EOS: not doubled */
    ASSERT_IDS(v.resp[1], v.resp_len[1], EOS);        /* empty response: just EOS */
    v = warm_prefs_view(&d, 2);
    assert_int_equal(v.prompt_len, 0);
    ASSERT_IDS(v.resp[0], v.resp_len[0], C, EOS);
    ASSERT_IDS(v.resp[1], v.resp_len[1], EOS);
    assert_int_equal(d.max_seq, 5);
    assert_int_equal(d.pad_id, PAD);
    assert_int_equal(d.eos_id, EOS);
    assert_false(d.rows[0].pretokenised);
    assert_int_equal(d.rows[2].line, 3);
    warm_prefs_free(&d);
}

/* Implicit prompt: prompt empty, the whole text is the response (+ EOS). */
static void test_prefs_implicit(void **state) {
    fx *f = *state;
    warm_prefs d = load_prefs_ok(f, "{\"chosen\": \"the cat sat\", \"rejected\": \"the cat ran\"}\n", NULL);
    assert_int_equal(d.n, 1);
    warm_pref_view v = warm_prefs_view(&d, 0);
    assert_int_equal(v.prompt_len, 0);
    ASSERT_IDS(v.resp[0], v.resp_len[0], THE, CAT, SAT, EOS);
    ASSERT_IDS(v.resp[1], v.resp_len[1], THE, CAT, RAN, EOS);
    /* The scorer may still share "the cat". */
    assert_int_equal(warm_pref_shared_prefix(&v), 2);
    warm_prefs_free(&d);
}

/* Pre-tokenised rows: ids as given (no EOS), prompt_ids optional, works without a tokenizer. */
static void test_prefs_pretokenised(void **state) {
    fx *f = *state;
    const char *path = put(f, "ids.jsonl",
        "{\"prompt_ids\": [3, 4], \"chosen_ids\": [5], \"rejected_ids\": [9, 6]}\n"
        "{\"chosen_ids\": [16, 1], \"rejected_ids\": [7], \"chosen\": \"ignored text\"}\n"
        "{\"prompt_ids\": [], \"chosen_ids\": [0], \"rejected_ids\": [2]}\n");
    warm_prefs_opts o = warm_prefs_opts_default();
    o.vocab_size = NWORDS;
    o.pad_id = 0;
    for (int with_tok = 0; with_tok < 2; with_tok++) {
        warm_prefs d;
        warm_error err = {0};
        assert_int_equal(warm_prefs_load(&d, path, with_tok ? f->tok : NULL, &o, &err), WARM_OK);
        assert_int_equal(d.n, 3);
        warm_pref_view v = warm_prefs_view(&d, 0);
        ASSERT_IDS(v.prompt, v.prompt_len, 3, 4);
        ASSERT_IDS(v.resp[0], v.resp_len[0], 5);
        ASSERT_IDS(v.resp[1], v.resp_len[1], 9, 6);
        v = warm_prefs_view(&d, 1);
        assert_int_equal(v.prompt_len, 0);
        ASSERT_IDS(v.resp[0], v.resp_len[0], 16, 1);
        ASSERT_IDS(v.resp[1], v.resp_len[1], 7);
        v = warm_prefs_view(&d, 2);
        ASSERT_IDS(v.resp[0], v.resp_len[0], 0);
        assert_true(d.rows[1].pretokenised);
        assert_int_equal(d.eos_id, with_tok ? EOS : -1);
        warm_prefs_free(&d);
    }
    /* Without a tokenizer a text row is an error naming its line; so are missing vocab/pad options. */
    path = put(f, "mixed.jsonl",
               "{\"chosen_ids\": [3], \"rejected_ids\": [4]}\n{\"chosen\": \"a\", \"rejected\": \"b\"}\n");
    warm_prefs d;
    warm_error err = {0};
    assert_int_equal(warm_prefs_load(&d, path, NULL, &o, &err), WARM_ERR_ARG);
    assert_err_at(&err, path, 2, "no tokenizer");
    assert_int_equal(d.n, 0);
    assert_null(d.rows);
    assert_int_equal(warm_prefs_load(&d, path, NULL, NULL, &err), WARM_ERR_ARG);
    assert_non_null(strstr(err.msg, "vocab_size"));
    /* ... and mixed forms are fine with one. */
    assert_int_equal(warm_prefs_load(&d, path, f->tok, NULL, &err), WARM_OK);
    assert_int_equal(d.n, 2);
    warm_pref_view v = warm_prefs_view(&d, 1);
    ASSERT_IDS(v.resp[0], v.resp_len[0], A, EOS);
    warm_prefs_free(&d);
}

/* margin, split, corrupted, gold rewards and id; absent fields get their documented defaults. */
static void test_prefs_labels(void **state) {
    fx *f = *state;
    warm_prefs d = load_prefs_ok(f,
        "{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\", \"margin\": 0.5, \"split\": \"train\", "
        "\"corrupted\": true, \"gold_chosen\": 1.25, \"gold_rejected\": -2, \"id\": \"p-1\", \"subset\": \"x\"}\n"
        "{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\", \"split\": \"ood\", \"corrupted\": false, "
        "\"id\": 17}\n"
        "{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\", \"margin\": null, \"split\": \"train\"}\n"
        "{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\", \"split\": \"my-holdout\", \"margin\": -3}\n",
        NULL);
    assert_int_equal(d.n, 4);
    assert_true(d.rows[0].margin == 0.5f && d.rows[0].has_margin);
    assert_true(d.rows[1].margin == 0.0f && !d.rows[1].has_margin);
    assert_true(d.rows[2].margin == 0.0f && !d.rows[2].has_margin);
    assert_true(d.rows[3].margin == -3.0f && d.rows[3].has_margin);
    assert_int_equal(d.n_margin, 2);
    assert_string_equal(warm_prefs_split(&d, 0), "train");
    assert_string_equal(warm_prefs_split(&d, 1), "ood");
    assert_string_equal(warm_prefs_split(&d, 2), "train");
    assert_string_equal(warm_prefs_split(&d, 3), "my-holdout");
    assert_int_equal(d.split_names.n, 3);
    assert_int_equal(d.rows[0].corrupted, 1);
    assert_int_equal(d.rows[1].corrupted, 0);
    assert_int_equal(d.rows[2].corrupted, 0);
    assert_true(d.rows[0].gold_chosen == 1.25f && d.rows[0].gold_rejected == -2.0f);
    assert_true(isnan(d.rows[1].gold_chosen) && isnan(d.rows[1].gold_rejected));
    assert_string_equal(warm_prefs_id(&d, 0), "p-1");
    assert_string_equal(warm_prefs_id(&d, 1), "17");
    assert_null(warm_prefs_id(&d, 2));
    warm_prefs_free(&d);
}

/* An empty file, or blank lines only, is a data set of zero rows. */
static void test_prefs_empty(void **state) {
    fx *f = *state;
    const char *texts[] = {"", "\n\n  \r\n", "\xEF\xBB\xBF"};
    for (int i = 0; i < 3; i++) {
        warm_prefs d = load_prefs_ok(f, texts[i], NULL);
        assert_int_equal(d.n, 0);
        assert_int_equal(d.n_lines, 0);
        assert_int_equal(d.max_seq, 0);
        int64_t *idx, n;
        warm_error err = {0};
        assert_int_equal(warm_prefs_subset(&d, NULL, -1, &idx, &n, &err), WARM_OK);
        assert_int_equal(n, 0);
        free(idx);
        warm_order o;
        assert_int_equal(warm_order_init(&o, n, 1, 1, &err), WARM_ERR_ARG);
        warm_prefs_free(&d);
    }
}

/* CRLF line ends and a BOM: same rows, same line numbers as an editor shows. */
static void test_prefs_crlf_bom(void **state) {
    fx *f = *state;
    warm_prefs d = load_prefs_ok(f,
        "\xEF\xBB\xBF{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\"}\r\n"
        "\r\n"
        "{\"prompt\": \"d\", \"chosen\": \"e\", \"rejected\": \"f\"}", NULL);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.rows[1].line, 3);
    warm_pref_view v = warm_prefs_view(&d, 1);
    ASSERT_IDS(v.prompt, v.prompt_len, D);
    ASSERT_IDS(v.resp[1], v.resp_len[1], F, EOS);
    warm_prefs_free(&d);
}

/* Malformed rows: WARM_ERR_FORMAT (or ARG) and a message naming file, line and field. */
static void test_prefs_errors(void **state) {
    fx *f = *state;
    static const struct { const char *row; warm_status code; const char *what; } cases[] = {
        {"{\"prompt\": \"a\", \"chosen\": 5, \"rejected\": \"c\"}", WARM_ERR_FORMAT, "\"chosen\" must be a string"},
        {"{\"prompt\": \"a\", \"chosen\": \"b\"}", WARM_ERR_FORMAT, "missing \"rejected\""},
        {"{\"prompt\": \"a\"}", WARM_ERR_FORMAT, "missing \"chosen\""},
        {"{\"prompt\": [1], \"chosen\": \"b\", \"rejected\": \"c\"}", WARM_ERR_FORMAT, "\"prompt\" is a list"},
        {"{\"prompt\": \"a\", \"chosen\": \"b zebra\", \"rejected\": \"c\"}", WARM_ERR_FORMAT,
         "\"chosen\": unknown word \"zebra\""},
        {"{\"chosen_ids\": [3, 17], \"rejected_ids\": [4]}", WARM_ERR_FORMAT,
         "\"chosen_ids\"[1] = 17 is outside the vocabulary [0, 17)"},
        {"{\"chosen_ids\": [3], \"rejected_ids\": [-1]}", WARM_ERR_FORMAT, "\"rejected_ids\"[0] = -1 is outside"},
        {"{\"chosen_ids\": [3.5], \"rejected_ids\": [4]}", WARM_ERR_FORMAT, "\"chosen_ids\"[0] must be an integer"},
        {"{\"chosen_ids\": [\"3\"], \"rejected_ids\": [4]}", WARM_ERR_FORMAT, "\"chosen_ids\"[0] must be an integer"},
        {"{\"chosen_ids\": 3, \"rejected_ids\": [4]}", WARM_ERR_FORMAT, "\"chosen_ids\" must be an array of integers"},
        {"{\"chosen_ids\": [3]}", WARM_ERR_FORMAT, "missing \"rejected_ids\""},
        {"{\"chosen_ids\": [], \"rejected_ids\": [4]}", WARM_ERR_FORMAT, "prompt_ids + chosen_ids is empty"},
        {"{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\", \"margin\": \"1\"}", WARM_ERR_FORMAT,
         "\"margin\" must be a number"},
        {"{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\", \"margin\": 1e999}", WARM_ERR_FORMAT,
         "\"margin\" must be a finite number"},
        {"{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\", \"corrupted\": 1}", WARM_ERR_FORMAT,
         "\"corrupted\" must be true or false"},
        {"{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\", \"split\": 2}", WARM_ERR_FORMAT,
         "\"split\" must be a string"},
        {"{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\", \"gold_chosen\": true}", WARM_ERR_FORMAT,
         "\"gold_chosen\" must be a number"},
        {"{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\", \"id\": 1.5}", WARM_ERR_FORMAT,
         "\"id\" must be a string or an integer"},
        {"{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\"", WARM_ERR_FORMAT, "invalid JSON"},
        {"[\"a\", \"b\"]", WARM_ERR_FORMAT, "not a JSON object"},
    };
    const char *good = "{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\"}\n";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* good, blank, good, then the bad row on line 4, then another good row */
        char text[1024];
        snprintf(text, sizeof text, "%s\n%s%s\n%s", good, good, cases[i].row, good);
        const char *path = put(f, "bad.jsonl", text);
        warm_prefs d;
        warm_error err = {0};
        warm_status s = warm_prefs_load(&d, path, f->tok, NULL, &err);
        if (s != cases[i].code) fail_msg("case %zu: status %d (%s)", i, (int)s, err.msg);
        assert_err_at(&err, path, 4, cases[i].what);
        assert_int_equal(d.n, 0);
    }
}

/* The messages of the data format's documentation, exactly. */
static void test_prefs_error_text(void **state) {
    fx *f = *state;
    static const struct { const char *row17; const char *msg; } cases[] = {
        {"{\"prompt\": \"a\", \"chosen\": true, \"rejected\": \"c\"}", "\"chosen\" must be a string"},
        {"{\"prompt\": \"a\", \"chosen\": null, \"rejected\": \"c\"}", "missing \"chosen\""},
        {"[{\"prompt\": \"a\"}]", "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[4096] = "";
        for (int k = 0; k < 16; k++) strcat(text, "{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\"}\n");
        strcat(text, cases[i].row17);
        const char *path = put(f, "prefs.jsonl", text);
        warm_prefs d;
        warm_error err = {0};
        assert_int_equal(warm_prefs_load(&d, path, f->tok, NULL, &err), WARM_ERR_FORMAT);
        char want[400];
        snprintf(want, sizeof want, "%s:17: %s", path, cases[i].msg);
        assert_string_equal(err.msg, want);
    }
}

/* Over-long pairs (either side, prompt included) are dropped and counted; length == max_len is kept. */
static void test_prefs_max_len(void **state) {
    fx *f = *state;
    warm_prefs_opts o = warm_prefs_opts_default();
    o.max_len = 4;
    warm_prefs d = load_prefs_ok(f,
        "{\"prompt\": \"a b\", \"chosen\": \"c\", \"rejected\": \"d\"}\n"            /* 4 / 4: kept */
        "{\"prompt\": \"a\", \"chosen\": \"c d\", \"rejected\": \"e\"}\n"            /* 4 / 3: kept */
        "{\"prompt\": \"a b\", \"chosen\": \"c\", \"rejected\": \"d e f\"}\n"        /* 3 / 5: dropped */
        "{\"prompt\": \"a b c\", \"chosen\": \"d e\", \"rejected\": \"f\"}\n"        /* 6 / 5: dropped */
        "{\"chosen\": \"a b c\", \"rejected\": \"d e f <eos>\"}\n"                   /* 4 / 4: kept */
        "{\"chosen_ids\": [3, 3, 3, 3, 3], \"rejected_ids\": [4]}\n"                 /* 5 / 1: dropped */
        "{\"prompt_ids\": [3, 3], \"chosen_ids\": [3, 3], \"rejected_ids\": [4]}\n", /* 4 / 3: kept */
        &o);
    assert_int_equal(d.n_lines, 7);
    assert_int_equal(d.n, 4);
    assert_int_equal(d.n_dropped_long, 3);
    assert_int_equal(d.max_seq, 4);
    const int64_t want_lines[] = {1, 2, 5, 7};
    for (int i = 0; i < 4; i++) assert_int_equal(d.rows[i].line, want_lines[i]);
    /* Dropped rows leave nothing behind in the pool: prompt + chosen + rejected ids of kept rows only. */
    assert_int_equal(d.ids.n, (2 + 2 + 2) + (1 + 3 + 2) + (0 + 4 + 4) + (2 + 2 + 1));
    warm_pref_view v = warm_prefs_view(&d, 3);
    ASSERT_IDS(v.prompt, v.prompt_len, 3, 3);
    ASSERT_IDS(v.resp[1], v.resp_len[1], 4);
    warm_prefs_free(&d);
    /* No limit. */
    o.max_len = 0;
    d = load_prefs_ok(f, "{\"chosen_ids\": [3, 3, 3, 3, 3], \"rejected_ids\": [4]}\n", &o);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.n_dropped_long, 0);
    warm_prefs_free(&d);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Preference batches, subsets, shared prefixes                                                          */

static void test_prefs_batch(void **state) {
    fx *f = *state;
    warm_prefs d = load_prefs_ok(f,
        "{\"prompt\": \"the\", \"chosen\": \"cat\", \"rejected\": \"dog ran\", \"margin\": 2}\n"
        "{\"prompt\": \"a b\", \"chosen\": \"c d e\", \"rejected\": \"f\"}\n"
        "{\"prompt_ids\": [10], \"chosen_ids\": [11], \"rejected_ids\": [12]}\n", NULL);
    int32_t tokens[4 * 8], lengths[4];
    float margins[2];
    int T = -1;
    warm_error err = {0};
    const int64_t pairs[2] = {1, 0};
    /* Dynamic T: the longest row of the batch, a b c d e EOS = 6. */
    assert_int_equal(warm_prefs_batch(&d, pairs, 2, 0, tokens, lengths, margins, &T, &err), WARM_OK);
    assert_int_equal(T, 6);
    const int32_t want[4][6] = {
        {A, B, C, D, E, EOS},         /* chosen of pair 1 */
        {THE, CAT, EOS, PAD, PAD, PAD}, /* chosen of pair 0 */
        {A, B, F, EOS, PAD, PAD},     /* rejected of pair 1 */
        {THE, DOG, RAN, EOS, PAD, PAD}, /* rejected of pair 0 */
    };
    for (int b = 0; b < 4; b++) ASSERT_IDS(tokens + b * T, T, want[b][0], want[b][1], want[b][2], want[b][3],
                                           want[b][4], want[b][5]);
    ASSERT_IDS(lengths, 4, 6, 3, 4, 4);
    assert_true(margins[0] == 0.0f && margins[1] == 2.0f);
    /* Fixed T = 8, margins not wanted. */
    assert_int_equal(warm_prefs_batch(&d, pairs, 2, 8, tokens, lengths, NULL, &T, &err), WARM_OK);
    assert_int_equal(T, 8);
    ASSERT_IDS(tokens + 1 * 8, 8, THE, CAT, EOS, PAD, PAD, PAD, PAD, PAD);
    ASSERT_IDS(tokens + 3 * 8, 8, THE, DOG, RAN, EOS, PAD, PAD, PAD, PAD);
    /* A single pre-tokenised pair. */
    const int64_t one = 2;
    assert_int_equal(warm_prefs_batch(&d, &one, 1, 0, tokens, lengths, margins, &T, &err), WARM_OK);
    assert_int_equal(T, 2);
    ASSERT_IDS(tokens, 4, 10, 11, 10, 12);
    ASSERT_IDS(lengths, 2, 2, 2);
    /* Errors: T too small names the pair and its line; bad indices; P = 0. */
    assert_int_equal(warm_prefs_batch(&d, pairs, 2, 5, tokens, lengths, NULL, &T, &err), WARM_ERR_ARG);
    assert_non_null(strstr(err.msg, "line 2"));
    const int64_t bad = 3;
    assert_int_equal(warm_prefs_batch(&d, &bad, 1, 0, tokens, lengths, NULL, &T, &err), WARM_ERR_ARG);
    assert_int_equal(warm_prefs_batch(&d, pairs, 0, 0, tokens, lengths, NULL, &T, &err), WARM_ERR_ARG);
    warm_prefs_free(&d);
}

static void test_prefs_subset(void **state) {
    fx *f = *state;
    warm_prefs d = load_prefs_ok(f,
        "{\"chosen\": \"a\", \"rejected\": \"b\", \"split\": \"train\", \"corrupted\": true}\n"
        "{\"chosen\": \"a\", \"rejected\": \"b\", \"split\": \"train\"}\n"
        "{\"chosen\": \"a\", \"rejected\": \"b\", \"split\": \"val\"}\n"
        "{\"chosen\": \"a\", \"rejected\": \"b\"}\n"
        "{\"chosen\": \"a\", \"rejected\": \"b\", \"split\": \"ood\", \"corrupted\": false}\n"
        "{\"chosen\": \"a\", \"rejected\": \"b\", \"split\": \"train\", \"corrupted\": true}\n", NULL);
    static const struct { const char *splits; int corrupted; int n; int64_t idx[6]; } cases[] = {
        {NULL, -1, 6, {0, 1, 2, 3, 4, 5}},
        {"train", -1, 3, {0, 1, 5}},
        {"train", 1, 2, {0, 5}},
        {"train", 0, 1, {1}},
        {NULL, 0, 4, {1, 2, 3, 4}},
        {"val,ood", -1, 2, {2, 4}},
        {"", -1, 1, {3}},
        {"train,", 0, 2, {1, 3}},
        {"test", -1, 0, {0}},
        {"tra", -1, 0, {0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t *idx, n;
        warm_error err = {0};
        assert_int_equal(warm_prefs_subset(&d, cases[i].splits, cases[i].corrupted, &idx, &n, &err), WARM_OK);
        if (n != cases[i].n) fail_msg("case %zu: %d rows, want %d", i, (int)n, cases[i].n);
        for (int k = 0; k < n; k++) assert_int_equal(idx[k], cases[i].idx[k]);
        free(idx);
    }
    warm_prefs_free(&d);
}

static void test_pref_shared_prefix(void **state) {
    (void)state;
    const int32_t p[] = {3, 4}, x[] = {5, 6, 7}, y[] = {5, 6, 8}, z[] = {5};
    warm_pref_view v = {.prompt = p, .prompt_len = 2, .resp = {x, y}, .resp_len = {3, 3}};
    assert_int_equal(warm_pref_shared_prefix(&v), 4); /* prompt + "5 6" */
    v.resp[1] = z;
    v.resp_len[1] = 1;
    assert_int_equal(warm_pref_shared_prefix(&v), 2); /* z must keep its own token */
    v.resp[1] = x;
    v.resp_len[1] = 3;
    assert_int_equal(warm_pref_shared_prefix(&v), 4); /* identical: each side keeps its last token */
    v.prompt_len = 0;
    v.resp[1] = z;
    v.resp_len[1] = 1;
    assert_int_equal(warm_pref_shared_prefix(&v), 0);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Order                                                                                                 */

static void take_all(warm_order *o, const int64_t *map, int64_t *out, int n, int k) {
    for (int i = 0; i < n; i += k) warm_order_take(o, map, out + i, n - i < k ? n - i : k);
}

/* Same seed -> same order; every epoch is a permutation; epochs and seeds differ; resume is exact. */
static void test_order(void **state) {
    (void)state;
    enum { N = 37, EPOCHS = 4, TOTAL = N * EPOCHS };
    warm_order a, b;
    warm_error err = {0};
    int64_t ra[TOTAL], rb[TOTAL];
    assert_int_equal(warm_order_init(&a, N, 42, 1, &err), WARM_OK);
    assert_int_equal(warm_order_init(&b, N, 42, 1, &err), WARM_OK);
    take_all(&a, NULL, ra, TOTAL, 5);
    take_all(&b, NULL, rb, TOTAL, 7); /* batch size does not matter */
    assert_memory_equal(ra, rb, sizeof ra);
    assert_int_equal(a.epoch, EPOCHS);
    assert_int_equal(a.pos, 0);
    for (int e = 0; e < EPOCHS; e++) {
        int seen[N] = {0};
        for (int i = 0; i < N; i++) seen[ra[e * N + i]]++;
        for (int i = 0; i < N; i++) assert_int_equal(seen[i], 1);
    }
    assert_memory_not_equal(ra, ra + N, N * sizeof ra[0]);
    int identity = 1;
    for (int i = 0; i < N; i++) identity &= ra[i] == i;
    assert_false(identity);
    warm_order_free(&b);
    assert_int_equal(warm_order_init(&b, N, 43, 1, &err), WARM_OK);
    take_all(&b, NULL, rb, N, 8);
    assert_memory_not_equal(ra, rb, N * sizeof ra[0]);
    warm_order_free(&b);

    /* Resume at every (epoch, pos) boundary a batch of 6 can leave, in a fresh order. */
    for (int start = 0; start < TOTAL; start += 6) {
        assert_int_equal(warm_order_init(&b, N, 42, 1, &err), WARM_OK);
        assert_int_equal(warm_order_seek(&b, start / N, start % N, &err), WARM_OK);
        int left = TOTAL - start;
        take_all(&b, NULL, rb, left, 6);
        assert_memory_equal(rb, ra + start, (size_t)left * sizeof ra[0]);
        warm_order_free(&b);
    }
    /* The position saved after the run's last step equals the seek target that continues it. */
    warm_order_free(&a);
    assert_int_equal(warm_order_init(&a, N, 42, 1, &err), WARM_OK);
    warm_order_take(&a, NULL, ra, 20);
    int64_t ep = a.epoch, pos = a.pos;
    warm_order_take(&a, NULL, ra, 30);
    assert_int_equal(warm_order_init(&b, N, 42, 1, &err), WARM_OK);
    assert_int_equal(warm_order_seek(&b, ep, pos, &err), WARM_OK);
    warm_order_take(&b, NULL, rb, 30);
    assert_memory_equal(ra, rb, 30 * sizeof ra[0]);
    /* pos == n is the start of the next epoch; out of range is an error. */
    assert_int_equal(warm_order_seek(&b, 1, N, &err), WARM_OK);
    assert_int_equal(b.epoch, 2);
    assert_int_equal(b.pos, 0);
    assert_int_equal(warm_order_seek(&b, 0, N + 1, &err), WARM_ERR_ARG);
    assert_int_equal(warm_order_seek(&b, -1, 0, &err), WARM_ERR_ARG);
    warm_order_free(&a);
    warm_order_free(&b);

    /* No shuffle: 0..n-1 every epoch; map translates positions (a subset's index list). */
    const int64_t map[3] = {10, 20, 30};
    assert_int_equal(warm_order_init(&a, 3, 42, 0, &err), WARM_OK);
    warm_order_take(&a, map, ra, 7);
    const int64_t want[7] = {10, 20, 30, 10, 20, 30, 10};
    assert_memory_equal(ra, want, sizeof want);
    warm_order_free(&a);
    /* A shuffled map keeps the permutation property over the subset. */
    assert_int_equal(warm_order_init(&a, 3, 5, 1, &err), WARM_OK);
    warm_order_take(&a, map, ra, 3);
    assert_int_equal(ra[0] + ra[1] + ra[2], 60);
    assert_true(ra[0] != ra[1] && ra[1] != ra[2] && ra[0] != ra[2]);
    warm_order_free(&a);
}

/* ---------------------------------------------------------------------------------------------------- */
/* LM data                                                                                               */

static warm_lmdata load_lm_ok(fx *f, const char *text, const warm_lm_opts *o) {
    const char *path = put(f, "lm.jsonl", text);
    warm_lmdata d;
    warm_error err = {0};
    warm_status s = warm_lm_load(&d, path, f->tok, o, &err);
    if (s != WARM_OK) fail_msg("load failed: %s", err.msg);
    return d;
}

static void test_lm_forms(void **state) {
    fx *f = *state;
    warm_lmdata d = load_lm_ok(f,
        "{\"text\": \"the cat sat\"}\n"
        "{\"prompt\": \"the dog\", \"completion\": \"ran\", \"split\": \"val\", \"id\": \"s1\"}\n"
        "{\"text\": \"on a mat <eos>\"}\n"
        "{\"prompt\": \"a\", \"completion\": \"b <eos>\"}\n"
        "{\"prompt\": \"\", \"completion\": \"c\"}\n", NULL);
    assert_int_equal(d.n, 5);
    assert_int_equal(d.n_text, 2);
    assert_int_equal(d.n_sft, 3);
    warm_lm_view v = warm_lm_view_row(&d, 0);
    assert_int_equal(v.prompt_len, 0);
    ASSERT_IDS(v.completion, v.completion_len, THE, CAT, SAT, EOS);
    v = warm_lm_view_row(&d, 1);
    ASSERT_IDS(v.prompt, v.prompt_len, THE, DOG);
    ASSERT_IDS(v.completion, v.completion_len, RAN, EOS);
    assert_int_equal(d.rows[1].kind, WARM_LM_SFT);
    assert_string_equal(warm_lm_split(&d, 1), "val");
    assert_null(warm_lm_split(&d, 0));
    assert_string_equal(warm_lm_id(&d, 1), "s1");
    v = warm_lm_view_row(&d, 2);
    ASSERT_IDS(v.completion, v.completion_len, ON, A, MAT, EOS); /* EOS exactly once */
    v = warm_lm_view_row(&d, 3);
    ASSERT_IDS(v.completion, v.completion_len, B, EOS);
    v = warm_lm_view_row(&d, 4);
    assert_int_equal(v.prompt_len, 0);
    ASSERT_IDS(v.completion, v.completion_len, C, EOS);
    assert_int_equal(d.max_seq, 4);
    int64_t *idx, n;
    warm_error err = {0};
    assert_int_equal(warm_lm_subset(&d, NULL, WARM_LM_SFT, &idx, &n, &err), WARM_OK);
    assert_int_equal(n, 3);
    assert_true(idx[0] == 1 && idx[1] == 3 && idx[2] == 4);
    free(idx);
    assert_int_equal(warm_lm_subset(&d, "val", -1, &idx, &n, &err), WARM_OK);
    assert_int_equal(n, 1);
    assert_int_equal(idx[0], 1);
    free(idx);
    assert_int_equal(warm_lm_subset(&d, "", WARM_LM_TEXT, &idx, &n, &err), WARM_OK);
    assert_int_equal(n, 2);
    free(idx);
    warm_lm_free(&d);
}

/*
 * Hand-derived batch, T = 5:
 *   row 0 SFT  prompt [the dog] completion [ran] + EOS   tokens the dog ran EOS pad
 *              targets dog ran EOS 0 0; mask 0 1 1 0 0 (targets ran and EOS are the completion)
 *   row 1 text [a b] + EOS                               tokens a b EOS pad pad
 *              targets b EOS 0 0 0;     mask 1 1 0 0 0
 *   row 2 SFT  prompt [] completion [c d] + EOS         tokens c d EOS pad pad
 *              targets d EOS 0 0 0;     mask 1 1 0 0 0
 */
static void test_lm_batch(void **state) {
    fx *f = *state;
    warm_lmdata d = load_lm_ok(f,
        "{\"prompt\": \"the dog\", \"completion\": \"ran\"}\n"
        "{\"text\": \"a b\"}\n"
        "{\"prompt\": \"\", \"completion\": \"c d\"}\n", NULL);
    const int64_t rows[3] = {0, 1, 2};
    int32_t tokens[3 * 5], targets[3 * 5], lengths[3];
    float mask[3 * 5];
    int T = 0;
    warm_error err = {0};
    assert_int_equal(warm_lm_batch(&d, rows, 3, 5, tokens, targets, mask, lengths, &T, &err), WARM_OK);
    assert_int_equal(T, 5);
    ASSERT_IDS(tokens, 15, THE, DOG, RAN, EOS, PAD, A, B, EOS, PAD, PAD, C, D, EOS, PAD, PAD);
    ASSERT_IDS(targets, 15, DOG, RAN, EOS, 0, 0, B, EOS, 0, 0, 0, D, EOS, 0, 0, 0);
    ASSERT_IDS(lengths, 3, 4, 3, 3);
    const float want_mask[15] = {0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0};
    for (int i = 0; i < 15; i++)
        if (mask[i] != want_mask[i]) fail_msg("mask[%d] = %g, want %g", i, (double)mask[i], (double)want_mask[i]);
    /* Dynamic T = 4 (the longest row), rows reordered. */
    const int64_t rows2[2] = {1, 0};
    assert_int_equal(warm_lm_batch(&d, rows2, 2, 0, tokens, targets, mask, lengths, &T, &err), WARM_OK);
    assert_int_equal(T, 4);
    ASSERT_IDS(tokens, 8, A, B, EOS, PAD, THE, DOG, RAN, EOS);
    ASSERT_IDS(targets, 8, B, EOS, 0, 0, DOG, RAN, EOS, 0);
    const float want2[8] = {1, 1, 0, 0, 0, 1, 1, 0};
    assert_memory_equal(mask, want2, sizeof want2);
    /* Errors. */
    assert_int_equal(warm_lm_batch(&d, rows, 3, 3, tokens, targets, mask, lengths, &T, &err), WARM_ERR_ARG);
    assert_non_null(strstr(err.msg, "line 1"));
    const int64_t bad = -1;
    assert_int_equal(warm_lm_batch(&d, &bad, 1, 0, tokens, targets, mask, lengths, &T, &err), WARM_ERR_ARG);
    warm_lm_free(&d);
}

/* Pretraining rows are truncated, SFT rows dropped; rows without a target are dropped. */
static void test_lm_length_rules(void **state) {
    fx *f = *state;
    warm_lm_opts o = warm_lm_opts_default();
    o.max_len = 3;
    warm_lmdata d = load_lm_ok(f,
        "{\"text\": \"a b c d\"}\n"                          /* 5 -> truncated to a b c */
        "{\"text\": \"a b\"}\n"                              /* 3: kept whole */
        "{\"prompt\": \"a b\", \"completion\": \"c\"}\n"     /* 4: dropped */
        "{\"prompt\": \"a\", \"completion\": \"c\"}\n"       /* 3: kept */
        "{\"text\": \"\"}\n"                                 /* [EOS]: no target, dropped */
        "{\"prompt\": \"\", \"completion\": \"<eos>\"}\n",   /* [EOS]: dropped */
        &o);
    assert_int_equal(d.n_lines, 6);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.n_truncated, 1);
    assert_int_equal(d.n_dropped_long, 1);
    assert_int_equal(d.n_dropped_empty, 2);
    assert_true(d.rows[0].truncated && !d.rows[1].truncated);
    warm_lm_view v = warm_lm_view_row(&d, 0);
    ASSERT_IDS(v.completion, v.completion_len, A, B, C);
    v = warm_lm_view_row(&d, 2);
    ASSERT_IDS(v.prompt, v.prompt_len, A);
    assert_int_equal(d.rows[2].line, 4);
    assert_int_equal(d.ids.n, 3 + 3 + 3);
    assert_int_equal(d.max_seq, 3);
    /* The truncated row has no target past its end: every position but the last counts. */
    int32_t tokens[3], targets[3], len;
    float mask[3];
    int T;
    warm_error err = {0};
    const int64_t r0 = 0;
    assert_int_equal(warm_lm_batch(&d, &r0, 1, 0, tokens, targets, mask, &len, &T, &err), WARM_OK);
    ASSERT_IDS(targets, 3, B, C, 0);
    assert_true(mask[0] == 1.0f && mask[1] == 1.0f && mask[2] == 0.0f);
    warm_lm_free(&d);
}

static void test_lm_errors(void **state) {
    fx *f = *state;
    static const struct { const char *row; const char *what; } cases[] = {
        {"{\"text\": \"a\", \"prompt\": \"b\"}", "either \"text\" or \"prompt\""},
        {"{\"prompt\": \"a\"}", "missing \"completion\""},
        {"{\"completion\": \"a\"}", "missing \"prompt\""},
        {"{\"txt\": \"a\"}", "missing \"text\""},
        {"{\"text\": 3}", "\"text\" must be a string"},
        {"{\"prompt\": \"a\", \"completion\": [\"b\"]}", "\"completion\" must be a string"},
        {"{\"text\": \"a zebra\"}", "\"text\": unknown word \"zebra\""},
        {"{\"text\": \"a\", \"split\": false}", "\"split\" must be a string"},
        {"{\"text\": \"a\"", "invalid JSON"},
        {"7", "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "{\"text\": \"a b\"}\r\n\r\n%s\r\n{\"text\": \"a b\"}\r\n", cases[i].row);
        const char *path = put(f, "bad.jsonl", text);
        warm_lmdata d;
        warm_error err = {0};
        assert_int_equal(warm_lm_load(&d, path, f->tok, NULL, &err), WARM_ERR_FORMAT);
        assert_err_at(&err, path, 3, cases[i].what);
        assert_int_equal(d.n, 0);
    }
    /* Unknown words allowed on request. */
    warm_lm_opts o = warm_lm_opts_default();
    o.allow_unk = 1;
    warm_lmdata d = load_lm_ok(f, "{\"text\": \"a zebra\"}\n", &o);
    warm_lm_view v = warm_lm_view_row(&d, 0);
    ASSERT_IDS(v.completion, v.completion_len, A, UNK, EOS);
    warm_lm_free(&d);
    /* No tokenizer. */
    warm_error err = {0};
    assert_int_equal(warm_lm_load(&d, f->path, NULL, NULL, &err), WARM_ERR_ARG);
    /* Empty file: zero rows. */
    d = load_lm_ok(f, "\n\n", NULL);
    assert_int_equal(d.n, 0);
    warm_lm_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_jsonl_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jsonl_long_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jsonl_syntax_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jsonl_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefs_explicit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefs_implicit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefs_pretokenised, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefs_labels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefs_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefs_crlf_bom, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefs_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefs_error_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefs_max_len, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefs_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefs_subset, setup, teardown),
        cmocka_unit_test(test_pref_shared_prefix),
        cmocka_unit_test(test_order),
        cmocka_unit_test_setup_teardown(test_lm_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lm_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lm_length_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lm_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
