/*
 * wordtok.c — the WORD tokenizer of include/warm/tokenizer.h (behind tokenizer.c's dispatch): a fixed list of
 * words, one id each.
 *
 * Layout: words[V] owns one NUL-terminated copy per word (id = index); an open-addressing hash table
 * (FNV-1a, linear probing, capacity a power of two >= 2V) maps a word to its id. The three specials
 * "<pad>", "<eos>", "<unk>" are always present; warm_tok_from_words puts any missing ones first, in that
 * order, so a fresh vocabulary has pad 0, eos 1, unk 2.
 *
 * Invariants: words are unique, non-empty, free of ASCII whitespace; pad/eos/unk index the words with those
 * names. The JSON file {"kind":"word","vocab":[...],"pad":i,"eos":i,"unk":i} is read strictly (unknown or
 * duplicate keys, wrong types, bad ids, duplicate words are errors naming the file) and written atomically
 * (warm_jsonl_writer of warm/data.h: temp file, fflush + fsync, rename).
 *
 * Decode writes an out-of-range id as "<unk>": decoding serves reports, and a bad id there must not hide
 * the rest of the text.
 */
#include "text/tok_internal.h"

#include "warm/data.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


struct tok_word {
    int V;            /* vocabulary size */
    char **words;     /* (V) owned copies */
    int32_t *table;   /* (cap) word id or -1 */
    uint32_t cap;     /* power of two >= 2V */
    int32_t pad, eos, unk;
};

static const char *const tok_specials[3] = {"<pad>", "<eos>", "<unk>"};

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* Id of the n-byte word s (not necessarily NUL-terminated), or -1. */
static int32_t lookup(const tok_word *t, const char *s, size_t n) {
    for (uint32_t h = tok_fnv1a(s, n) & (t->cap - 1);; h = (h + 1) & (t->cap - 1)) {
        int32_t id = t->table[h];
        if (id < 0) return -1;
        if (strnlen(t->words[id], n + 1) == n && memcmp(t->words[id], s, n) == 0) return id;
    }
}

void tok_word_free(tok_word *t) {
    if (!t) return;
    for (int i = 0; i < t->V; i++) free(t->words[i]);
    free(t->words);
    free(t->table);
    free(t);
}

static warm_status check_word(const char *w, int i, warm_error *err) {
    if (!w || !w[0]) return warm_error_set(err, WARM_ERR_ARG, "word %d is empty", i);
    for (const char *p = w; *p; p++)
        if (is_space(*p)) return warm_error_set(err, WARM_ERR_ARG, "word %d (\"%.64s\") contains whitespace", i, w);
    return WARM_OK;
}

/* Appends a copy of w as the next id; duplicates are an error. */
static warm_status add_word(tok_word *t, const char *w, warm_error *err) {
    warm_status s = check_word(w, t->V, err);
    if (s != WARM_OK) return s;
    size_t n = strlen(w);
    uint32_t h = tok_fnv1a(w, n) & (t->cap - 1);
    for (; t->table[h] >= 0; h = (h + 1) & (t->cap - 1))
        if (strcmp(t->words[t->table[h]], w) == 0)
            return warm_error_set(err, WARM_ERR_ARG, "duplicate word \"%.64s\" (ids %d and %d)", w, t->table[h], t->V);
    if (!(t->words[t->V] = strdup(w))) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
    t->table[h] = t->V++;
    return WARM_OK;
}

/* An empty tokenizer with room for max_words words. */
static warm_status tok_alloc(tok_word **out, int max_words, warm_error *err) {
    *out = NULL;
    if (max_words < 0 || max_words > (1 << 24))
        return warm_error_set(err, WARM_ERR_ARG, "vocabulary of %d words is out of range", max_words);
    tok_word *t = calloc(1, sizeof *t);
    uint32_t cap = 16;
    while (cap < 2u * (uint32_t)max_words) cap *= 2;
    if (t) {
        t->cap = cap;
        t->words = calloc((size_t)max_words + 1, sizeof *t->words);
        t->table = malloc(cap * sizeof *t->table);
    }
    if (!t || !t->words || !t->table) {
        tok_word_free(t);
        return warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
    }
    memset(t->table, 0xff, cap * sizeof *t->table); /* all -1 */
    *out = t;
    return WARM_OK;
}

static void set_special_ids(tok_word *t) {
    t->pad = lookup(t, "<pad>", 5);
    t->eos = lookup(t, "<eos>", 5);
    t->unk = lookup(t, "<unk>", 5);
}

warm_status tok_word_from_words(tok_word **out, const char *const *words, int n, warm_error *err) {
    *out = NULL;
    if (n < 0 || (n > 0 && !words)) return warm_error_set(err, WARM_ERR_ARG, "warm_tok_from_words: no words");
    tok_word *t;
    warm_status s = tok_alloc(&t, n + 3, err);
    for (int k = 0; k < 3 && s == WARM_OK; k++) {
        int present = 0;
        for (int i = 0; i < n && !present; i++) present = words[i] && strcmp(words[i], tok_specials[k]) == 0;
        if (!present) s = add_word(t, tok_specials[k], err);
    }
    for (int i = 0; i < n && s == WARM_OK; i++) s = add_word(t, words[i], err);
    if (s != WARM_OK) {
        tok_word_free(t);
        return s;
    }
    set_special_ids(t);
    *out = t;
    return WARM_OK;
}

int tok_word_vocab_size(const tok_word *t) { return t->V; }

int32_t tok_word_special(const tok_word *t, int which) { return which == 0 ? t->pad : which == 1 ? t->eos : t->unk; }

int32_t tok_word_id(const tok_word *t, const char *s, size_t n) { return lookup(t, s, n); }

const char *tok_word_word(const tok_word *t, int32_t id) { return id >= 0 && id < t->V ? t->words[id] : NULL; }

warm_status tok_word_encode(const tok_word *t, const char *text, size_t len, int allow_unk, int32_t *ids, int max,
                            int *n, warm_error *err) {
    int count = 0;
    *n = 0;
    for (const char *p = text, *end = text + len; p < end;) {
        while (p < end && is_space(*p)) p++;
        if (p == end) break;
        const char *start = p;
        while (p < end && !is_space(*p)) p++;
        int32_t id = lookup(t, start, (size_t)(p - start));
        if (id < 0 && !allow_unk)
            return warm_error_set(err, WARM_ERR_FORMAT, "unknown word \"%.*s\" (word %d)",
                                  (int)(p - start > 64 ? 64 : p - start), start, count + 1);
        if (count < max) ids[count] = id < 0 ? t->unk : id;
        count++;
    }
    *n = count;
    if (count > max)
        return warm_error_set(err, WARM_ERR_ARG, "text has %d tokens, more than the limit of %d", count, max);
    return WARM_OK;
}

char *tok_word_decode(const tok_word *t, const int32_t *ids, int n, size_t *len_out) {
    size_t len = 1;
    for (int i = 0; i < n; i++) {
        const char *w = tok_word_word(t, ids[i]);
        len += strlen(w ? w : "<unk>") + 1;
    }
    char *out = malloc(len), *p = out;
    if (!out) return NULL;
    for (int i = 0; i < n; i++) {
        const char *w = tok_word_word(t, ids[i]);
        if (!w) w = "<unk>";
        if (i) *p++ = ' ';
        size_t k = strlen(w);
        memcpy(p, w, k);
        p += k;
    }
    *p = 0;
    if (len_out) *len_out = (size_t)(p - out);
    return out;
}

/* ---- JSON file ------------------------------------------------------------------------------------- */

/* Checks that obj has only the listed keys, each at most once. */
static warm_status check_keys(const cJSON *obj, const char *const *keys, int nkeys, const char *path,
                              warm_error *err) {
    for (const cJSON *a = obj->child; a; a = a->next) {
        int known = 0;
        for (int k = 0; k < nkeys && !known; k++) known = strcmp(a->string, keys[k]) == 0;
        if (!known) return warm_error_set(err, WARM_ERR_FORMAT, "%s: unknown key \"%.64s\"", path, a->string);
        for (const cJSON *b = a->next; b; b = b->next)
            if (strcmp(a->string, b->string) == 0)
                return warm_error_set(err, WARM_ERR_FORMAT, "%s: duplicate key \"%.64s\"", path, a->string);
    }
    return WARM_OK;
}

/* vocab[id] must be the special's name. */
static warm_status check_special(const cJSON *root, const char *key, const char *name, const tok_word *t,
                                 const char *path, warm_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
    if (!(d >= 0 && d < (double)t->V && d == (double)(int)d))
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: \"%s\" must be an id in [0, %d)", path, key, t->V);
    const char *w = t->words[(int)d];
    if (strcmp(w, name) != 0)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: \"%s\" is id %d, which is \"%.64s\", not \"%s\"", path, key,
                              (int)d, w, name);
    return WARM_OK;
}

static warm_status vocab_from_json(tok_word *t, const cJSON *vocab, const char *path, warm_error *err) {
    for (const cJSON *w = vocab->child; w; w = w->next) {
        warm_status s = cJSON_IsString(w) ? add_word(t, w->valuestring, err)
                                          : warm_error_set(err, WARM_ERR_FORMAT, "vocab entry %d is not a string", t->V);
        if (s == WARM_OK) continue;
        if (s != WARM_ERR_NOMEM && err) err->code = s = WARM_ERR_FORMAT; /* a bad word in a file is a format error */
        warm_error_prefix(err, "%s", path);
        return s;
    }
    return WARM_OK;
}

warm_status tok_word_from_json(tok_word **out, const cJSON *root, const char *path, warm_error *err) {
    *out = NULL;
    static const char *const keys[] = {"kind", "vocab", "pad", "eos", "unk"};
    if (!cJSON_IsObject(root)) return warm_error_set(err, WARM_ERR_FORMAT, "%s: not a JSON object", path);
    warm_status s = check_keys(root, keys, 5, path, err);
    if (s != WARM_OK) return s;
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(root, "kind");
    if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "word") != 0)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: \"kind\" must be \"word\"", path);
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(root, "vocab");
    if (!cJSON_IsArray(vocab)) return warm_error_set(err, WARM_ERR_FORMAT, "%s: \"vocab\" must be an array", path);
    tok_word *t;
    if ((s = tok_alloc(&t, cJSON_GetArraySize(vocab), err)) != WARM_OK) return warm_error_prefix(err, "%s", path);
    if ((s = vocab_from_json(t, vocab, path, err)) == WARM_OK &&
        (s = check_special(root, "pad", "<pad>", t, path, err)) == WARM_OK &&
        (s = check_special(root, "eos", "<eos>", t, path, err)) == WARM_OK)
        s = check_special(root, "unk", "<unk>", t, path, err);
    if (s != WARM_OK) {
        tok_word_free(t);
        return s;
    }
    set_special_ids(t);
    *out = t;
    return WARM_OK;
}

static cJSON *tok_to_json(const tok_word *t) {
    cJSON *root = cJSON_CreateObject();
    cJSON *vocab = cJSON_CreateStringArray((const char *const *)t->words, t->V);
    if (!root || !vocab || !cJSON_AddStringToObject(root, "kind", "word") ||
        !cJSON_AddItemToObject(root, "vocab", vocab)) {
        cJSON_Delete(vocab); /* not attached to root yet */
        cJSON_Delete(root);
        return NULL;
    }
    if (!cJSON_AddNumberToObject(root, "pad", t->pad) || !cJSON_AddNumberToObject(root, "eos", t->eos) ||
        !cJSON_AddNumberToObject(root, "unk", t->unk)) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

warm_status tok_word_save(const tok_word *t, const char *path, warm_error *err) {
    cJSON *root = tok_to_json(t);
    if (!root) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", path);
    /* One line of JSON through the atomic JSONL writer (temp file, fflush + fsync, rename). */
    warm_jsonl_writer *w = NULL;
    warm_status s = warm_jsonl_writer_open(&w, path, err);
    if (s == WARM_OK) s = warm_jsonl_write(w, root, err);
    if (s == WARM_OK) s = warm_jsonl_writer_commit(w, err);
    else warm_jsonl_writer_abort(w);
    cJSON_Delete(root);
    return s;
}
