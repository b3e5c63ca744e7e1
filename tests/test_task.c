/*
 * test_task.c — the embedded task: WORD tokenizer (src/text/wordtok.c), generator, fact parser, gold reward
 * and the JSONL scorer (src/task/).
 *
 * The gold cases are hand-written; their expected values are derived by hand in the comments from the
 * formula of include/warm/task.h (never by calling the code), with the weights pinned by the test so a
 * change of defaults does not silently change what is tested. The world tests generate into temp dirs and
 * check determinism, sizes, context fit, no shared posts, salience of references, and that every reference
 * beats another post's summary.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"
#include "warm/task.h"
#include "warm/tokenizer.h"

/* |a - b| <= eps for doubles (cmocka only has a float version), reporting both values. */
#define assert_near(a, b, eps)                                                                                \
    do {                                                                                                      \
        double a_ = (a), b_ = (b);                                                                            \
        if (!(fabs(a_ - b_) <= (eps))) fail_msg("%s = %.17g, expected %.17g", #a, a_, b_);                    \
    } while (0)

static const char *const task_files[] = {"tokenizer.json", "task.json", "pretrain.jsonl", "sft_train.jsonl",
                                         "sft_val.jsonl", "prompts_train.jsonl", "prompts_val.jsonl",
                                         "prompts_ood.jsonl", NULL};

/* ---------------------------------------------------------------------------------------------------- */
/* Helpers                                                                                               */

static char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    buf[len] = 0;
    fclose(f);
    if (n) *n = (size_t)len;
    return buf;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void join(char *out, size_t n, const char *dir, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

static void remove_task_dir(const char *dir) {
    char path[512];
    for (int i = 0; task_files[i]; i++) {
        join(path, sizeof path, dir, task_files[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void small_config(warm_task_config *c, uint64_t seed) {
    warm_task_config_default(c);
    c->seed = seed;
    c->n_pretrain = 300;
    c->n_sft_train = 200;
    c->n_sft_val = 50;
    c->n_prompts_train = 200;
    c->n_prompts_val = 100;
    c->n_prompts_ood = 100;
}

static void generate_into(char *dir, size_t n, const warm_task_config *c) {
    test_tmpdir(dir, n);
    warm_error err = {0};
    warm_status s = warm_task_generate(c, dir, &err);
    if (s != WARM_OK) fail_msg("generate: %s", err.msg);
}

/* Rows of a JSONL file (array of parsed objects); *n receives the count. */
static cJSON **read_rows(const char *dir, const char *name, int *n) {
    char path[512];
    join(path, sizeof path, dir, name);
    char *text = read_all(path, NULL);
    assert_non_null(text);
    int cap = 1024, k = 0;
    cJSON **rows = malloc((size_t)cap * sizeof *rows);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (k == cap) rows = realloc(rows, (size_t)(cap *= 2) * sizeof *rows);
        rows[k] = cJSON_Parse(line);
        assert_non_null(rows[k]);
        k++;
    }
    free(text);
    *n = k;
    return rows;
}

static void free_rows(cJSON **rows, int n) {
    for (int i = 0; i < n; i++) cJSON_Delete(rows[i]);
    free(rows);
}

static const char *field(const cJSON *row, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, key);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

static int count_tokens(const warm_tokenizer *t, const char *text) {
    int32_t ids[1024];
    int n = 0;
    warm_error err = {0};
    if (warm_tok_encode(t, text, 0, ids, 1024, &n, &err) != WARM_OK) fail_msg("encode: %s", err.msg);
    return n;
}

/* The world of a small generated task (the vocabulary does not depend on the seed). */
typedef struct {
    char dir[64];
    warm_task_world *w;
} world_fixture;

static int world_setup(void **state) {
    world_fixture *f = calloc(1, sizeof *f);
    warm_task_config c;
    small_config(&c, 3);
    generate_into(f->dir, sizeof f->dir, &c);
    warm_error err = {0};
    if (warm_task_load(&f->w, f->dir, &err) != WARM_OK) fail_msg("load: %s", err.msg);
    *state = f;
    return 0;
}

static int world_teardown(void **state) {
    world_fixture *f = *state;
    warm_task_free(f->w);
    remove_task_dir(f->dir);
    free(f);
    return 0;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Tokenizer                                                                                             */

static void test_tok_roundtrip(void **state) {
    (void)state;
    const char *words[] = {"hello", "world", "TL;DR:"};
    warm_tokenizer *t = NULL;
    warm_error err = {0};
    assert_int_equal(warm_tok_from_words(&t, words, 3, &err), WARM_OK);
    assert_int_equal(warm_tok_vocab_size(t), 6);
    assert_int_equal(warm_tok_pad(t), 0);
    assert_int_equal(warm_tok_eos(t), 1);
    assert_int_equal(warm_tok_unk(t), 2);
    assert_int_equal(warm_tok_id(t, "TL;DR:"), 5);
    assert_int_equal(warm_tok_id(t, "mars"), -1);
    assert_null(warm_tok_word(t, 6));
    int32_t ids[8];
    int n = 0;
    assert_int_equal(warm_tok_encode(t, "  hello\tworld \n TL;DR: <eos> ", 0, ids, 8, &n, &err), WARM_OK);
    assert_int_equal(n, 4);
    assert_int_equal(ids[0], 3);
    assert_int_equal(ids[1], 4);
    assert_int_equal(ids[2], 5);
    assert_int_equal(ids[3], 1);
    char *text = warm_tok_decode(t, ids, n);
    assert_string_equal(text, "hello world TL;DR: <eos>");
    free(text);

    char dir[64], path[128];
    test_tmpdir(dir, sizeof dir);
    join(path, sizeof path, dir, "tok.json");
    assert_int_equal(warm_tok_save(t, path, &err), WARM_OK);
    warm_tokenizer *u = NULL;
    if (warm_tok_load(&u, path, &err) != WARM_OK) fail_msg("%s", err.msg);
    assert_int_equal(warm_tok_vocab_size(u), 6);
    for (int i = 0; i < 6; i++) assert_string_equal(warm_tok_word(u, i), warm_tok_word(t, i));
    assert_int_equal(warm_tok_eos(u), 1);
    int32_t ids2[8];
    int n2 = 0;
    assert_int_equal(warm_tok_encode(u, "hello world TL;DR: <eos>", 0, ids2, 8, &n2, &err), WARM_OK);
    assert_int_equal(n2, 4);
    assert_memory_equal(ids, ids2, sizeof ids[0] * 4);
    warm_tok_free(u);
    warm_tok_free(t);
    unlink(path);
    rmdir(dir);
}

static void test_tok_specials_kept_in_place(void **state) {
    (void)state;
    const char *words[] = {"a", "<eos>", "b"};
    warm_tokenizer *t = NULL;
    assert_int_equal(warm_tok_from_words(&t, words, 3, NULL), WARM_OK);
    /* missing specials first (pad, unk), then the words as given: a=2, <eos>=3, b=4 */
    assert_int_equal(warm_tok_vocab_size(t), 5);
    assert_int_equal(warm_tok_pad(t), 0);
    assert_int_equal(warm_tok_unk(t), 1);
    assert_int_equal(warm_tok_eos(t), 3);
    warm_tok_free(t);
}

static void test_tok_errors(void **state) {
    (void)state;
    const char *words[] = {"hello", "world"};
    warm_tokenizer *t = NULL;
    warm_error err = {0};
    assert_int_equal(warm_tok_from_words(&t, words, 2, &err), WARM_OK);
    int32_t ids[4];
    int n = 0;
    assert_int_equal(warm_tok_encode(t, "hello mars world", 0, ids, 4, &n, &err), WARM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "\"mars\""));
    assert_int_equal(warm_tok_encode(t, "hello mars world", 1, ids, 4, &n, &err), WARM_OK);
    assert_int_equal(n, 3);
    assert_int_equal(ids[1], warm_tok_unk(t));
    assert_int_equal(warm_tok_encode(t, "hello hello hello", 0, ids, 2, &n, &err), WARM_ERR_ARG);
    assert_int_equal(n, 3);
    warm_tok_free(t);

    const char *dup[] = {"a", "b", "a"};
    assert_int_equal(warm_tok_from_words(&t, dup, 3, &err), WARM_ERR_ARG);
    assert_null(t);
    assert_non_null(strstr(err.msg, "duplicate word \"a\""));
    const char *space[] = {"a b"};
    assert_int_equal(warm_tok_from_words(&t, space, 1, &err), WARM_ERR_ARG);
    const char *empty[] = {""};
    assert_int_equal(warm_tok_from_words(&t, empty, 1, &err), WARM_ERR_ARG);
}

static void expect_tok_load_error(const char *dir, const char *json, const char *needle) {
    char path[128];
    join(path, sizeof path, dir, "bad.json");
    write_text(path, json);
    warm_tokenizer *t = NULL;
    warm_error err = {0};
    assert_int_equal(warm_tok_load(&t, path, &err), WARM_ERR_FORMAT);
    assert_null(t);
    if (!strstr(err.msg, needle)) fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
    assert_non_null(strstr(err.msg, "bad.json"));
    unlink(path);
}

static void test_tok_load_rejects_bad_files(void **state) {
    (void)state;
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    expect_tok_load_error(dir, "{\"kind\":\"word\",\"vocab\":[\"<pad>\",\"<eos>\",\"<unk>\"", "invalid JSON");
    expect_tok_load_error(dir, "{\"kind\":\"bpe\",\"vocab\":[],\"pad\":0,\"eos\":1,\"unk\":2}", "kind");
    expect_tok_load_error(dir, "{\"kind\":\"word\",\"vocab\":[\"<pad>\",\"<eos>\",\"<unk>\",\"x\",\"x\"],"
                               "\"pad\":0,\"eos\":1,\"unk\":2}", "duplicate word");
    expect_tok_load_error(dir, "{\"kind\":\"word\",\"vocab\":[\"<pad>\",\"<eos>\",\"<unk>\"],\"pad\":0,\"eos\":2,"
                               "\"unk\":1}", "\"eos\" is id 2");
    expect_tok_load_error(dir, "{\"kind\":\"word\",\"vocab\":[\"<pad>\",\"<eos>\",\"<unk>\"],\"pad\":0,\"eos\":1,"
                               "\"unk\":7}", "\"unk\" must be an id");
    expect_tok_load_error(dir, "{\"kind\":\"word\",\"kind\":\"word\",\"vocab\":[],\"pad\":0,\"eos\":1,\"unk\":2}",
                          "duplicate key");
    expect_tok_load_error(dir, "{\"kind\":\"word\",\"vocab\":[\"<pad>\",3],\"pad\":0,\"eos\":1,\"unk\":2}",
                          "not a string");
    rmdir(dir);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Generator                                                                                             */

static void test_generate_deterministic(void **state) {
    (void)state;
    warm_task_config c;
    char a[64], b[64], d[64], pa[512], pb[512];
    small_config(&c, 7);
    generate_into(a, sizeof a, &c);
    generate_into(b, sizeof b, &c);
    c.seed = 8;
    generate_into(d, sizeof d, &c);
    for (int i = 0; task_files[i]; i++) {
        size_t na = 0, nb = 0;
        join(pa, sizeof pa, a, task_files[i]);
        join(pb, sizeof pb, b, task_files[i]);
        char *x = read_all(pa, &na), *y = read_all(pb, &nb);
        assert_non_null(x);
        assert_non_null(y);
        if (na != nb || memcmp(x, y, na) != 0) fail_msg("%s differs between two runs of seed 7", task_files[i]);
        free(y);
        join(pb, sizeof pb, d, task_files[i]);
        y = read_all(pb, &nb);
        assert_non_null(y);
        int same = na == nb && memcmp(x, y, na) == 0;
        /* the vocabulary is seed-independent; task.json records the seed; all data differs */
        if (strcmp(task_files[i], "tokenizer.json") == 0) assert_true(same);
        else if (same) fail_msg("%s is identical for seeds 7 and 8", task_files[i]);
        free(x);
        free(y);
    }
    remove_task_dir(a);
    remove_task_dir(b);
    remove_task_dir(d);
}

/* Checks one prompt split: size, split field, ids, prompt/reference fit, lengths in range. */
static void check_prompt_split(const char *dir, const char *file, const char *split, int expect, int min_words,
                               int max_words, const warm_tokenizer *t, const warm_task_config *c) {
    int n = 0;
    cJSON **rows = read_rows(dir, file, &n);
    assert_int_equal(n, expect);
    for (int i = 0; i < n; i++) {
        const char *prompt = field(rows[i], "prompt");
        int np = count_tokens(t, prompt), nr = count_tokens(t, field(rows[i], "reference"));
        char id[48];
        snprintf(id, sizeof id, "%s-%06d", split, i);
        assert_string_equal(field(rows[i], "id"), id);
        assert_string_equal(field(rows[i], "split"), split);
        size_t len = strlen(prompt);
        assert_true(len > 7 && strcmp(prompt + len - 7, " TL;DR:") == 0);
        assert_true(np - 1 >= min_words && np - 1 <= max_words);
        assert_true(np <= c->ctx - c->response_room);
        assert_true(np + nr + 1 <= c->ctx);
        assert_true(nr >= 8 && nr <= 25);
    }
    free_rows(rows, n);
}

static void test_generate_sizes_and_fit(void **state) {
    (void)state;
    warm_task_config c;
    warm_task_config_default(&c); /* the real default sizes */
    char dir[64];
    generate_into(dir, sizeof dir, &c);
    warm_task_world *w = NULL;
    warm_error err = {0};
    if (warm_task_load(&w, dir, &err) != WARM_OK) fail_msg("load: %s", err.msg);
    const warm_tokenizer *t = warm_task_tokenizer(w);
    assert_in_range(warm_tok_vocab_size(t), 150, 500);
    assert_int_equal(warm_task_world_config(w)->n_prompts_val, 500);
    check_prompt_split(dir, "prompts_train.jsonl", "train", c.n_prompts_train, 40, 80, t, &c);
    check_prompt_split(dir, "prompts_val.jsonl", "val", c.n_prompts_val, 40, 80, t, &c);
    check_prompt_split(dir, "prompts_ood.jsonl", "ood", c.n_prompts_ood, 55, 90, t, &c);
    const char *sft[] = {"sft_train.jsonl", "sft_val.jsonl"};
    const int nsft[] = {c.n_sft_train, c.n_sft_val};
    for (int k = 0; k < 2; k++) {
        int n = 0;
        cJSON **rows = read_rows(dir, sft[k], &n);
        assert_int_equal(n, nsft[k]);
        for (int i = 0; i < n; i++) {
            int np = count_tokens(t, field(rows[i], "prompt")), nc = count_tokens(t, field(rows[i], "completion"));
            assert_true(np <= c.ctx - c.response_room && np + nc + 1 <= c.ctx);
            assert_null(strstr(field(rows[i], "completion"), "<eos>"));
        }
        free_rows(rows, n);
    }
    int n = 0;
    cJSON **rows = read_rows(dir, "pretrain.jsonl", &n);
    assert_int_equal(n, c.n_pretrain);
    for (int i = 0; i < n; i++) assert_true(count_tokens(t, field(rows[i], "text")) + 1 <= c.ctx);
    free_rows(rows, n);
    warm_task_free(w);
    remove_task_dir(dir);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static void test_generate_no_shared_posts(void **state) {
    world_fixture *f = *state;
    const char *files[] = {"prompts_train.jsonl", "prompts_val.jsonl", "prompts_ood.jsonl", "sft_train.jsonl",
                           "sft_val.jsonl"};
    const char *all[1000];
    cJSON **rows[5];
    int nrows[5], total = 0;
    for (int k = 0; k < 5; k++) {
        rows[k] = read_rows(f->dir, files[k], &nrows[k]);
        for (int i = 0; i < nrows[k]; i++) all[total++] = field(rows[k][i], "prompt");
    }
    qsort(all, (size_t)total, sizeof all[0], cmp_str);
    for (int i = 1; i < total; i++)
        if (strcmp(all[i - 1], all[i]) == 0) fail_msg("post appears twice: %s", all[i]);
    for (int k = 0; k < 5; k++) free_rows(rows[k], nrows[k]);
}

static void test_config_check(void **state) {
    (void)state;
    warm_task_config c;
    warm_error err = {0};
    warm_task_config_default(&c);
    assert_int_equal(warm_task_config_check(&c, &err), WARM_OK);
    c.ctx = 100;
    assert_int_equal(warm_task_config_check(&c, &err), WARM_ERR_ARG);
    assert_non_null(strstr(err.msg, "ctx 100"));
    warm_task_config_default(&c);
    c.n_prompts_ood = -1;
    assert_int_equal(warm_task_config_check(&c, &err), WARM_ERR_ARG);
    assert_non_null(strstr(err.msg, "prompts_ood"));
    warm_task_config_default(&c);
    c.gold.hallucination = NAN;
    assert_int_equal(warm_task_config_check(&c, &err), WARM_ERR_ARG);
    assert_non_null(strstr(err.msg, "hallucination"));
    warm_task_config_default(&c);
    c.seed = (1ull << 53) + 1;
    assert_int_equal(warm_task_config_check(&c, &err), WARM_ERR_ARG);
    c.seed = 1;
    c.response_room = 8;
    assert_int_equal(warm_task_config_check(&c, &err), WARM_ERR_ARG);
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    assert_int_equal(warm_task_generate(&c, dir, &err), WARM_ERR_ARG);
    rmdir(dir);
}

static void test_load_rejects_bad_task_json(void **state) {
    world_fixture *f = *state;
    char path[512];
    join(path, sizeof path, f->dir, "task.json");
    char *orig = read_all(path, NULL);
    assert_non_null(orig);
    /* a name that is also listed as a verb */
    char *edited = malloc(strlen(orig) + 32);
    const char *at = strstr(orig, "\"verbs\":");
    assert_non_null(at);
    at = strchr(at, '[');
    snprintf(edited, strlen(orig) + 32, "%.*s\"alice\", %s", (int)(at + 1 - orig), orig, at + 1);
    write_text(path, edited);
    warm_task_world *w = NULL;
    warm_error err = {0};
    assert_int_equal(warm_task_load(&w, f->dir, &err), WARM_ERR_FORMAT);
    assert_null(w);
    assert_non_null(strstr(err.msg, "task.json"));
    assert_non_null(strstr(err.msg, "\"alice\" has two categories"));
    write_text(path, "{\"format\": \"warm-task\", \"version\": 2}");
    assert_int_equal(warm_task_load(&w, f->dir, &err), WARM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "\"version\""));
    write_text(path, orig);
    free(edited);
    free(orig);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Parser and gold reward                                                                                */

static double gold_text(const warm_task_world *w, const char *prompt, const char *summary, warm_gold *g) {
    warm_error err = {0};
    assert_int_equal(warm_task_gold(w, prompt, summary, g, &err), WARM_OK);
    return g->total;
}

static void pin_weights_extra(warm_task_world *w, double len_w, int budget, double extra) {
    warm_gold_weights g = {.coverage = 2.0, .hallucination = 0.5, .repetition = 0.25, .length = len_w,
                           .missing_eos = 1.0, .extra = extra, .budget = budget};
    assert_int_equal(warm_task_set_gold_weights(w, &g, NULL), WARM_OK);
}

/* The weights of the cases below, written before the detail penalty (w_extra = 0). */
static void pin_weights(warm_task_world *w, double len_w, int budget) { pin_weights_extra(w, len_w, budget, 0.0); }

/*
 * Post facts: A = alice booked the flight (stated twice), B = bob missed the train (once), C = carol lost
 * the dog (once); total weight 2 + 1 + 1 = 4.
 */
static const char *const hand_post =
    "so alice booked the flight . like i said , alice booked the flight . bob missed the train at the station . "
    "please help . my friend carol lost the dog . TL;DR:";

static void test_parse_facts(void **state) {
    world_fixture *f = *state;
    const warm_tokenizer *t = warm_task_tokenizer(f->w);
    int32_t ids[128];
    int n = 0;
    assert_int_equal(warm_tok_encode(t, hand_post, 0, ids, 128, &n, NULL), WARM_OK);
    int post_len = warm_task_split_prompt(f->w, ids, n);
    assert_int_equal(post_len, n - 1);
    warm_fact facts[8];
    assert_int_equal(warm_task_parse_facts(f->w, ids, post_len, facts, 8), 4);
    assert_int_equal(facts[0].pos, 1);  /* "so alice ..." */
    assert_int_equal(facts[1].pos, 10); /* "so alice booked the flight . like i said , alice" */
    assert_int_equal(facts[0].name, warm_tok_id(t, "alice"));
    assert_int_equal(facts[0].verb, warm_tok_id(t, "booked"));
    assert_int_equal(facts[0].object, warm_tok_id(t, "flight"));
    assert_int_equal(facts[3].name, warm_tok_id(t, "carol"));
    assert_int_equal(warm_task_parse_facts(f->w, ids, post_len, facts, 1), 4); /* count beyond max */
    assert_int_equal(warm_task_word_category(f->w, warm_tok_id(t, "station")), WARM_TASK_WORD_PLACE);
    assert_int_equal(warm_task_word_category(f->w, warm_tok_id(t, "TL;DR:")), WARM_TASK_WORD_SEPARATOR);
    assert_int_equal(warm_task_word_category(f->w, 100000), WARM_TASK_WORD_OTHER);
}

static void test_gold_hand_cases(void **state) {
    world_fixture *f = *state;
    pin_weights(f->w, 0.1, 20);
    warm_gold g;
    const double eps = 1e-12;

    /* all three facts, 15 words, <eos>: coverage (2+1+1)/4 = 1 -> 2 * 1 = 2.0 */
    assert_near(gold_text(f->w, hand_post, "alice booked the flight , bob missed the train and carol lost "
                                                   "the dog . <eos>", &g), 2.0, eps);
    assert_int_equal(g.n_post_facts, 3);
    assert_int_equal(g.n_covered, 3);
    assert_int_equal(g.n_stated, 3);
    assert_int_equal(g.n_words, 15);
    assert_int_equal(g.n_hallucinated + g.n_repeated + g.over_budget, 0);
    assert_true(g.has_eos);

    /* C missing: coverage (2+1)/4 = 0.75 -> 1.5 */
    assert_near(gold_text(f->w, hand_post, "alice booked the flight and bob missed the train . <eos>", &g),
                        1.5, eps);
    assert_near(g.coverage, 0.75, eps);
    /* the salient A missing instead: (1+1)/4 = 0.5 -> 1.0 (frequency weighting) */
    assert_near(gold_text(f->w, hand_post, "bob missed the train and carol lost the dog . <eos>", &g), 1.0,
                        eps);

    /* A plus an invented fact: 2 * 2/4 - 0.5 * 1 = 0.5 */
    assert_near(gold_text(f->w, hand_post, "alice booked the flight and dave sold the car . <eos>", &g), 0.5,
                        eps);
    assert_int_equal(g.n_hallucinated, 1);
    assert_int_equal(g.n_covered, 1);

    /* A twice: 2 * 2/4 - 0.25 * 1 repeated 4-gram ("alice booked the flight" at word 5) = 0.75 */
    assert_near(gold_text(f->w, hand_post, "alice booked the flight and alice booked the flight . <eos>", &g),
                        0.75, eps);
    assert_int_equal(g.n_repeated, 1);
    assert_int_equal(g.n_repeated_facts, 1);
    assert_int_equal(g.n_stated, 2);

    /* all facts + 11 filler words = 26 words: 2 - 0.1 * (26 - 20) = 1.4 */
    assert_near(gold_text(f->w, hand_post, "alice booked the flight , bob missed the train and carol lost the "
                                                   "dog . please help . i do not know what to do . <eos>", &g), 1.4, eps);
    assert_int_equal(g.n_words, 26);
    assert_int_equal(g.over_budget, 6);

    /* no <eos>: 1.5 - 1 = 0.5; words after the first <eos> are ignored: 1.5 */
    assert_near(gold_text(f->w, hand_post, "alice booked the flight and bob missed the train .", &g), 0.5, eps);
    assert_false(g.has_eos);
    assert_near(gold_text(f->w, hand_post, "alice booked the flight and bob missed the train . <eos> carol "
                                                   "lost the dog carol lost the dog", &g), 1.5, eps);
}

static void test_gold_degenerate_cases(void **state) {
    world_fixture *f = *state;
    pin_weights(f->w, 0.1, 20);
    warm_gold g;
    const double eps = 1e-12;
    /* A three times in a loop, 12 words, no <eos>: 4-grams at 4..8 repeat those at 0..3 and 0 -> 5 repeats.
     * 2 * 2/4 - 0.25 * 5 - 1 = -1.25 */
    assert_near(gold_text(f->w, hand_post, "alice booked the flight alice booked the flight alice booked the "
                                                   "flight", &g), -1.25, eps);
    assert_int_equal(g.n_repeated, 5);
    assert_int_equal(g.n_stated, 3);
    assert_int_equal(g.n_repeated_facts, 2);
    /* empty summaries: 0 with <eos>, -1 without */
    assert_near(gold_text(f->w, hand_post, "<eos>", &g), 0.0, eps);
    assert_int_equal(g.n_words, 0);
    assert_near(gold_text(f->w, hand_post, "", &g), -1.0, eps);
    /* unknown words are words, never facts: 2 * 3/4 - 0 = 1.5 */
    assert_near(gold_text(f->w, hand_post, "alice booked the flight and bob missed the train zzz . <eos>",
                                  &g), 1.5, eps);
    assert_int_equal(g.n_words, 11);
    /* a post without facts: coverage 0; the fact is invented: -0.5 */
    assert_near(gold_text(f->w, "please help . TL;DR:", "alice booked the flight . <eos>", &g), -0.5, eps);
    /* tighter budget and heavier length weight: 15 words, budget 10: 2 - 0.5 * 5 = -0.5 */
    pin_weights(f->w, 0.5, 10);
    assert_near(gold_text(f->w, hand_post, "alice booked the flight , bob missed the train and carol lost "
                                                   "the dog . <eos>", &g), -0.5, eps);
    warm_gold_weights bad = {.coverage = -1};
    assert_int_equal(warm_task_set_gold_weights(f->w, &bad, NULL), WARM_ERR_ARG);
    pin_weights(f->w, 0.1, 20);
}

/* The detail penalty: every word outside the fact clauses except "and" "," "." costs w_extra (0.5 here). */
static void test_gold_extra_words(void **state) {
    world_fixture *f = *state;
    pin_weights_extra(f->w, 0.1, 20, 0.5);
    warm_gold g;
    const double eps = 1e-12;
    /* connectives are free: all three facts, 2.0, no extra word */
    assert_near(gold_text(f->w, hand_post, "alice booked the flight , bob missed the train and carol lost "
                                           "the dog . <eos>", &g), 2.0, eps);
    assert_int_equal(g.n_extra, 0);
    /* a place detail: "at the station" is 3 extra words ("the" outside a clause counts): 1.5 - 0.5 * 3 = 0 */
    assert_near(gold_text(f->w, hand_post, "alice booked the flight and bob missed the train at the station . "
                                           "<eos>", &g), 0.0, eps);
    assert_int_equal(g.n_extra, 3);
    assert_int_equal(g.n_covered, 2);
    /* a prefix and a suffix: "yesterday", "last night": 1.5 - 0.5 * 3 = 0 */
    assert_near(gold_text(f->w, hand_post, "yesterday alice booked the flight and bob missed the train last "
                                           "night . <eos>", &g), 0.0, eps);
    assert_int_equal(g.n_extra, 3);
    /* fillers: the 26-word case of test_gold_hand_cases: "please help i do not know what to do" = 9 extra
     * words (the two "." are free): 2 - 0.1 * 6 - 0.5 * 9 = -3.1 */
    assert_near(gold_text(f->w, hand_post, "alice booked the flight , bob missed the train and carol lost the "
                                           "dog . please help . i do not know what to do . <eos>", &g), -3.1, eps);
    assert_int_equal(g.n_extra, 9);
    /* an unknown word is an extra word; words after <eos> are not: 1.5 - 0.5 = 1.0 */
    assert_near(gold_text(f->w, hand_post, "alice booked the flight and bob missed the train zzz . <eos> so so",
                          &g), 1.0, eps);
    assert_int_equal(g.n_extra, 1);
    /* a clause broken by a detail is no fact: "alice booked at the airport the flight" states nothing:
     * extra = all 7 words; coverage 0; -0.5 * 7 = -3.5 */
    assert_near(gold_text(f->w, hand_post, "alice booked at the airport the flight . <eos>", &g), -3.5, eps);
    assert_int_equal(g.n_stated, 0);
    assert_int_equal(g.n_extra, 7);
    pin_weights(f->w, 0.1, 20);
}

static void test_gold_ids_matches_text(void **state) {
    world_fixture *f = *state;
    pin_weights(f->w, 0.1, 20);
    const warm_tokenizer *t = warm_task_tokenizer(f->w);
    int32_t prompt[160], resp[40];
    int np = 0, nr = 0;
    const int32_t pad = warm_tok_pad(t);
    /* left-padded prompt, right-padded response after <eos> */
    for (int i = 0; i < 5; i++) prompt[i] = pad;
    assert_int_equal(warm_tok_encode(t, hand_post, 0, prompt + 5, 150, &np, NULL), WARM_OK);
    assert_int_equal(warm_tok_encode(t, "alice booked the flight and dave sold the car . <eos>", 0, resp, 30, &nr,
                                     NULL), WARM_OK);
    for (int i = 0; i < 6; i++) resp[nr + i] = pad;
    warm_gold g, h;
    double a = warm_task_gold_ids(f->w, prompt, np + 5, resp, nr + 6, &g);
    double b = gold_text(f->w, hand_post, "alice booked the flight and dave sold the car . <eos>", &h);
    assert_near(a, b, 0.0);
    assert_near(a, 0.5, 1e-12);
    assert_near(g.coverage, h.coverage, 0.0);
    const int gi[] = {g.n_post_facts, g.n_covered, g.n_stated, g.n_hallucinated, g.n_repeated_facts, g.n_repeated,
                      g.n_words, g.over_budget, g.has_eos};
    const int hi[] = {h.n_post_facts, h.n_covered, h.n_stated, h.n_hallucinated, h.n_repeated_facts, h.n_repeated,
                      h.n_words, h.over_budget, h.has_eos};
    assert_memory_equal(gi, hi, sizeof gi);
    assert_int_equal(g.n_words, 10); /* pads after <eos> are ignored */
    assert_near(warm_task_gold_ids(f->w, prompt, np + 5, resp, nr + 6, NULL), a, 0.0);
}

/* Every reference is clean and beats another post's reference and a shuffle of it; references hold the
 * most salient facts. */
static void check_references(const warm_task_world *w, const char *dir, const char *file, int min_facts,
                             int max_facts) {
    int n = 0;
    cJSON **rows = read_rows(dir, file, &n);
    warm_rng r;
    warm_rng_seed(&r, 11);
    for (int i = 0; i < n; i++) {
        const char *prompt = field(rows[i], "prompt"), *other = field(rows[(i + 1) % n], "reference");
        char own[256], shuffled[256], *words[64];
        snprintf(own, sizeof own, "%s <eos>", field(rows[i], "reference"));
        snprintf(shuffled, sizeof shuffled, "%s", other);
        int nw = 0;
        for (char *tok = strtok(shuffled, " "); tok && nw < 64; tok = strtok(NULL, " ")) words[nw++] = tok;
        for (int k = nw - 1; k > 0; k--) {
            int j = (int)warm_rng_below(&r, (uint32_t)k + 1);
            char *tmp = words[k];
            words[k] = words[j];
            words[j] = tmp;
        }
        char shuf[256] = "", oth[256];
        for (int k = 0; k < nw; k++) snprintf(shuf + strlen(shuf), sizeof shuf - strlen(shuf), "%s ", words[k]);
        snprintf(shuf + strlen(shuf), sizeof shuf - strlen(shuf), "<eos>");
        snprintf(oth, sizeof oth, "%s <eos>", other);
        warm_gold g, go, gs;
        double own_g = gold_text(w, prompt, own, &g);
        assert_true(own_g > gold_text(w, prompt, oth, &go));
        assert_true(own_g > gold_text(w, prompt, shuf, &gs));
        assert_int_equal(g.n_hallucinated + g.n_repeated + g.n_repeated_facts + g.over_budget, 0);
        assert_true(g.has_eos);
        assert_int_equal(g.n_covered, g.n_stated);
        assert_in_range(g.n_post_facts, (uintmax_t)min_facts, (uintmax_t)max_facts);
        assert_true(g.coverage > 0.3 && g.coverage <= 1.0);
    }
    free_rows(rows, n);
}

static void test_references_beat_other_summaries(void **state) {
    world_fixture *f = *state;
    pin_weights(f->w, 0.1, 20);
    check_references(f->w, f->dir, "prompts_val.jsonl", 2, 4);
    check_references(f->w, f->dir, "prompts_train.jsonl", 2, 4);
    check_references(f->w, f->dir, "prompts_ood.jsonl", 4, 5);
}

/* The reference states facts no less salient than any fact it leaves out. */
static void test_references_are_most_salient(void **state) {
    world_fixture *f = *state;
    const warm_tokenizer *t = warm_task_tokenizer(f->w);
    int n = 0;
    cJSON **rows = read_rows(f->dir, "prompts_val.jsonl", &n);
    for (int i = 0; i < n; i++) {
        int32_t p[160], s[40];
        int np = 0, ns = 0;
        assert_int_equal(warm_tok_encode(t, field(rows[i], "prompt"), 0, p, 160, &np, NULL), WARM_OK);
        assert_int_equal(warm_tok_encode(t, field(rows[i], "reference"), 0, s, 40, &ns, NULL), WARM_OK);
        np = warm_task_split_prompt(f->w, p, np);
        warm_fact pf[32], sf[8];
        int npf = warm_task_parse_facts(f->w, p, np, pf, 32), nsf = warm_task_parse_facts(f->w, s, ns, sf, 8);
        assert_true(nsf >= 2 && nsf <= 3);
        int min_in = 99, max_out = 0;
        for (int a = 0; a < npf; a++) {
            int count = 0, in_ref = 0;
            for (int b = 0; b < npf; b++)
                count += pf[a].name == pf[b].name && pf[a].verb == pf[b].verb && pf[a].object == pf[b].object;
            for (int b = 0; b < nsf; b++)
                in_ref |= pf[a].name == sf[b].name && pf[a].verb == sf[b].verb && pf[a].object == sf[b].object;
            if (in_ref && count < min_in) min_in = count;
            if (!in_ref && count > max_out) max_out = count;
        }
        assert_true(min_in >= max_out);
        assert_true(min_in >= 1);
    }
    free_rows(rows, n);
}

/* Details: the same posts with and without them; a detailed reference is the plain one plus extra words,
 * which cost exactly w_extra each; about 1 - P(no clause draws a detail) of the references carry one. */
static void test_reference_details(void **state) {
    world_fixture *f = *state;
    pin_weights_extra(f->w, 0.1, 20, 0.5);
    const warm_tokenizer *t = warm_task_tokenizer(f->w);
    warm_task_config c;
    small_config(&c, 3);
    assert_near(c.detail, 0.5, 0.0); /* the default the share below is derived from */
    c.detail = 0;
    char plain_dir[64];
    generate_into(plain_dir, sizeof plain_dir, &c);
    int n = 0, m = 0, with_detail = 0;
    cJSON **rows = read_rows(f->dir, "prompts_train.jsonl", &n), **plain = read_rows(plain_dir, "prompts_train.jsonl", &m);
    assert_int_equal(n, m);
    double expected = 0;
    for (int i = 0; i < n; i++) {
        const char *prompt = field(rows[i], "prompt");
        assert_string_equal(prompt, field(plain[i], "prompt"));
        char a[256], b[256];
        snprintf(a, sizeof a, "%s <eos>", field(rows[i], "reference"));
        snprintf(b, sizeof b, "%s <eos>", field(plain[i], "reference"));
        warm_gold ga, gb;
        double da = gold_text(f->w, prompt, a, &ga), db = gold_text(f->w, prompt, b, &gb);
        assert_int_equal(gb.n_extra, 0);
        assert_true(ga.n_extra <= 6 && ga.n_words <= 20 && ga.over_budget == 0);
        assert_int_equal(ga.n_stated, gb.n_stated); /* the same facts */
        assert_int_equal(ga.n_covered, gb.n_covered);
        assert_near(ga.coverage, gb.coverage, 0.0);
        assert_int_equal(ga.n_words, gb.n_words + ga.n_extra);
        assert_near(db - da, 0.5 * ga.n_extra, 1e-12);
        with_detail += ga.n_extra > 0;
        int32_t ids[64];
        int ns = 0;
        assert_int_equal(warm_tok_encode(t, field(plain[i], "reference"), 0, ids, 64, &ns, NULL), WARM_OK);
        warm_fact facts[8];
        int k = warm_task_parse_facts(f->w, ids, ns, facts, 8);
        expected += 1.0 - pow(0.5, k); /* k clauses, each a detail with p = 0.5 (2 and 3 fit the room) */
    }
    /* the observed share of references with a detail against its expectation (binomial sd <= 0.5 sqrt(n)) */
    assert_true(fabs((double)with_detail - expected) < 4.0 * 0.5 * sqrt((double)n));
    free_rows(rows, n);
    free_rows(plain, m);
    remove_task_dir(plain_dir);
    pin_weights(f->w, 0.1, 20);
}

/* ---------------------------------------------------------------------------------------------------- */
/* JSONL scoring                                                                                         */

static double row_gold(const cJSON *row, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, key);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static void test_gold_jsonl(void **state) {
    world_fixture *f = *state;
    pin_weights(f->w, 0.1, 20);
    const warm_tokenizer *t = warm_task_tokenizer(f->w);
    char in[512], out[512];
    join(in, sizeof in, f->dir, "in.jsonl");
    join(out, sizeof out, f->dir, "out.jsonl");
    /* token ids of "alice booked the flight and bob missed the train ." (no <eos>) and of the prompt */
    int32_t ids[160];
    int n = 0, np = 0;
    char resp_ids[512] = "[", prompt_ids[1024] = "[";
    assert_int_equal(warm_tok_encode(t, "alice booked the flight and bob missed the train .", 0, ids, 160, &n, NULL),
                     WARM_OK);
    for (int i = 0; i < n; i++) snprintf(resp_ids + strlen(resp_ids), 16, "%d%s", ids[i], i + 1 < n ? "," : "]");
    assert_int_equal(warm_tok_encode(t, hand_post, 0, ids, 160, &np, NULL), WARM_OK);
    for (int i = 0; i < np; i++) snprintf(prompt_ids + strlen(prompt_ids), 16, "%d%s", ids[i], i + 1 < np ? "," : "]");
    char *text = malloc(16384);
    const char *p = hand_post, *ab = "alice booked the flight and bob missed the train .";
    snprintf(text, 16384,
             "{\"prompt\": \"%s\", \"response\": \"alice booked the flight . <eos>\", \"gold\": 99}\n"
             "\n"
             "{\"prompt\": \"%s\", \"completion\": \"%s\"}\r\n"
             "{\"id\": \"p3\", \"prompt\": \"%s\", \"chosen\": \"%s\", "
             "\"rejected\": \"alice booked the flight and dave sold the car .\"}\n"
             "{\"prompt\": \"%s\", \"response\": \"%s\", \"eos\": false}\n"
             "{\"prompt\": \"%s\", \"response\": \"%s\", \"eos\": true}\n"
             "{\"prompt\": \"%s\", \"response\": \"%s\"}\n"
             "{\"prompt\": \"ignored\", \"prompt_ids\": %s, \"response\": \"ignored <eos>\", "
             "\"response_ids\": %s}\n"
             "{\"prompt_ids\": %s, \"chosen_ids\": %s, \"rejected_ids\": []}\n",
             p, p, ab, p, ab, p, ab, p, ab, p, ab, prompt_ids, resp_ids, prompt_ids, resp_ids);
    write_text(in, text);
    free(text);
    warm_error err = {0};
    int rows_n = 0;
    if (warm_task_gold_jsonl(f->w, in, out, &rows_n, &err) != WARM_OK) fail_msg("%s", err.msg);
    assert_int_equal(rows_n, 8);
    cJSON **rows = read_rows(f->dir, "out.jsonl", &n);
    assert_int_equal(n, 8);
    /* 1: A only, 5 words, literal <eos>: 2 * 2/4 = 1.0 (the old "gold" replaced) */
    assert_near(row_gold(rows[0], "gold"), 1.0, 1e-9);
    const cJSON *parts = cJSON_GetObjectItem(rows[0], "gold_parts");
    assert_int_equal(cJSON_GetObjectItem(parts, "words")->valueint, 5);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(parts, "eos")));
    /* 2: a completion ends with the <eos> the trainer appends: 2 * 3/4 = 1.5 */
    assert_near(row_gold(rows[1], "gold"), 1.5, 1e-9);
    /* 3: a text pair, <eos> appended to both: 1.5 vs 2 * 2/4 - 0.5 = 0.5; other keys kept, "id" still first */
    assert_near(row_gold(rows[2], "gold_chosen"), 1.5, 1e-9);
    assert_near(row_gold(rows[2], "gold_rejected"), 0.5, 1e-9);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(rows[2], "gold_rejected_parts"), "hallucinated")->valueint,
                     1);
    assert_string_equal(rows[2]->child->string, "id");
    /* 4-6: a sample that hit the token limit ("eos": false) loses w_eos = 1; true or absent: 1.5 */
    assert_near(row_gold(rows[3], "gold"), 0.5, 1e-9);
    assert_near(row_gold(rows[4], "gold"), 1.5, 1e-9);
    assert_near(row_gold(rows[5], "gold"), 1.5, 1e-9);
    /* 7: ids win over text and are taken as they are: no <eos> id -> 0.5 */
    assert_near(row_gold(rows[6], "gold"), 0.5, 1e-9);
    /* 8: pre-tokenised pair; the empty rejected response scores 0 - 1 (no <eos>) = -1 */
    assert_near(row_gold(rows[7], "gold_chosen"), 0.5, 1e-9);
    assert_near(row_gold(rows[7], "gold_rejected"), -1.0, 1e-9);
    free_rows(rows, n);
    unlink(in);
    unlink(out);
}

static void expect_jsonl_error(const warm_task_world *w, const char *dir, const char *text, const char *needle) {
    char in[512], out[512];
    join(in, sizeof in, dir, "bad.jsonl");
    join(out, sizeof out, dir, "bad_out.jsonl");
    write_text(in, text);
    warm_error err = {0};
    assert_int_equal(warm_task_gold_jsonl(w, in, out, NULL, &err), WARM_ERR_FORMAT);
    if (!strstr(err.msg, needle)) fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
    assert_int_equal(access(out, F_OK), -1); /* nothing written */
    unlink(in);
}

static void test_gold_jsonl_malformed(void **state) {
    world_fixture *f = *state;
    const char *ok = "{\"prompt\": \"please help . TL;DR:\", \"response\": \"<eos>\"}\n";
    char text[1024];
    snprintf(text, sizeof text, "%s\n%s{\"prompt\": \"x\", \"response\": \n%s", ok, ok, ok);
    expect_jsonl_error(f->w, f->dir, text, "bad.jsonl:4: invalid JSON");
    snprintf(text, sizeof text, "%s%s{\"response\": \"a\"}\n", ok, ok);
    expect_jsonl_error(f->w, f->dir, text, "bad.jsonl:3: missing \"prompt\"");
    snprintf(text, sizeof text, "%s[1, 2]\n", ok);
    expect_jsonl_error(f->w, f->dir, text, "bad.jsonl:2: not a JSON object");
    snprintf(text, sizeof text, "{\"prompt\": \"x\", \"response\": 3}\n");
    expect_jsonl_error(f->w, f->dir, text, "bad.jsonl:1: \"response\" must be a string");
    snprintf(text, sizeof text, "{\"prompt\": \"x\", \"chosen\": \"a\"}\n");
    expect_jsonl_error(f->w, f->dir, text, "bad.jsonl:1: \"chosen\" and \"rejected\"");
    snprintf(text, sizeof text, "{\"prompt\": \"x\", \"id\": 1}\n");
    expect_jsonl_error(f->w, f->dir, text, "bad.jsonl:1: needs");
    snprintf(text, sizeof text, "%s{\"prompt\": \"x\", \"response\": \"y\"} trailing\n", ok);
    expect_jsonl_error(f->w, f->dir, text, "bad.jsonl:2: unexpected text after the JSON value");
    snprintf(text, sizeof text, "{\"prompt\": \"x\", \"response_ids\": [3, 1, 99999]}\n");
    expect_jsonl_error(f->w, f->dir, text, "bad.jsonl:1: \"response_ids\"[2] is not a token id in [0, ");
    snprintf(text, sizeof text, "{\"prompt\": \"x\", \"response_ids\": \"3 1\"}\n");
    expect_jsonl_error(f->w, f->dir, text, "bad.jsonl:1: \"response_ids\" must be an array");
    snprintf(text, sizeof text, "{\"prompt\": \"x\", \"response\": \"y\", \"eos\": 1}\n");
    expect_jsonl_error(f->w, f->dir, text, "bad.jsonl:1: \"eos\" must be true or false");
    snprintf(text, sizeof text, "{\"prompt\": \"x\", \"response\": \"y\", \"prompt\": \"z\"}\n");
    expect_jsonl_error(f->w, f->dir, text, "bad.jsonl:1: duplicate key \"prompt\"");
    warm_error err = {0};
    char missing[512];
    join(missing, sizeof missing, f->dir, "missing.jsonl");
    assert_int_equal(warm_task_gold_jsonl(f->w, missing, missing, NULL, &err), WARM_ERR_IO);
    assert_non_null(strstr(err.msg, "missing.jsonl"));
}

/* Levenshtein distances derived by hand: kitten -> sitting is the textbook 3 (k->s, e->i, +g); the empty
 * sequence is as far as the other's length; one substitution, one deletion; symmetric. */
static void test_edit_distance(void **state) {
    (void)state;
    int32_t row[16];
    const int32_t kitten[] = {'k', 'i', 't', 't', 'e', 'n'}, sitting[] = {'s', 'i', 't', 't', 'i', 'n', 'g'};
    assert_int_equal(warm_task_edit_distance(kitten, 6, sitting, 7, row), 3);
    assert_int_equal(warm_task_edit_distance(sitting, 7, kitten, 6, row), 3);
    assert_int_equal(warm_task_edit_distance(kitten, 0, sitting, 7, row), 7);
    assert_int_equal(warm_task_edit_distance(kitten, 6, sitting, 0, row), 6);
    assert_int_equal(warm_task_edit_distance(kitten, 6, kitten, 6, row), 0);
    /* "alice fixed the sink ." vs "alice broke the sink ." (one substitution) and vs "alice fixed sink ." */
    const int32_t a[] = {10, 20, 4, 30, 8}, b[] = {10, 21, 4, 30, 8}, c[] = {10, 20, 30, 8};
    assert_int_equal(warm_task_edit_distance(a, 5, b, 5, row), 1);
    assert_int_equal(warm_task_edit_distance(a, 5, c, 4, row), 1);
    assert_int_equal(warm_task_edit_distance(b, 5, c, 4, row), 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tok_roundtrip),
        cmocka_unit_test(test_edit_distance),
        cmocka_unit_test(test_tok_specials_kept_in_place),
        cmocka_unit_test(test_tok_errors),
        cmocka_unit_test(test_tok_load_rejects_bad_files),
        cmocka_unit_test(test_generate_deterministic),
        cmocka_unit_test(test_generate_sizes_and_fit),
        cmocka_unit_test(test_config_check),
        cmocka_unit_test_setup_teardown(test_generate_no_shared_posts, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_load_rejects_bad_task_json, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_parse_facts, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_gold_hand_cases, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_gold_degenerate_cases, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_gold_extra_words, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_gold_ids_matches_text, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_references_beat_other_summaries, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_references_are_most_salient, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_reference_details, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_gold_jsonl, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_gold_jsonl_malformed, world_setup, world_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
