/*
 * bpe_load.c — the files of a GPT-2 byte-level BPE tokenizer, read strictly into bpe.c's tables:
 *   encoder.json  a JSON object spelling -> id (Hugging Face: vocab.json, the same file);
 *   vocab.bpe     "#version: ..." then one merge "left right" per line, in rank order (HF: merges.txt);
 *   tokenizer.json (Hugging Face) with model.type "BPE" (vocab + merges as strings "a b" or pairs
 *                 ["a", "b"]), pre_tokenizer ByteLevel without prefix space, no normalizer, a ByteLevel or
 *                 no decoder/post-processor, special added tokens only. Anything else is refused with the
 *                 file and field named: warm would silently encode differently from the file's owner.
 * Errors name the file, and the line for vocab.bpe ("vocab.bpe:12: ...").
 */
#include "text/tok_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An integer-valued JSON number in [0, 2^31), or -1. */
static int64_t json_id(const cJSON *v) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    return d >= 0 && d < 2147483648.0 && d == floor(d) ? (int64_t)d : -1;
}

/* Adds the tokens of a JSON object spelling -> id. */
static warm_status add_vocab(tok_bpe *b, const cJSON *vocab, const char *where, warm_error *err) {
    for (const cJSON *e = vocab->child; e; e = e->next) {
        int64_t id = json_id(e);
        if (id < 0)
            return warm_error_set(err, WARM_ERR_FORMAT, "%s: the id of \"%.64s\" is not an integer >= 0", where,
                                  e->string);
        warm_status s = tok_bpe_add_token(b, e->string, strlen(e->string), id, where, err);
        if (s != WARM_OK) return s;
    }
    return WARM_OK;
}

/* Adds the merge "left right" (exactly one space, both parts non-empty) of n bytes. */
static warm_status add_merge_line(tok_bpe *b, const char *s, size_t n, const char *where, warm_error *err) {
    const char *sp = memchr(s, ' ', n);
    if (!sp || sp == s || sp == s + n - 1 || memchr(sp + 1, ' ', n - (size_t)(sp + 1 - s)))
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: not a merge \"left right\": \"%.*s\"", where,
                              (int)(n > 64 ? 64 : n), s);
    return tok_bpe_add_merge(b, s, (size_t)(sp - s), sp + 1, n - (size_t)(sp + 1 - s), where, err);
}

/* Merges of a vocab.bpe / merges.txt text: an optional "#version" first line, then one merge per line; only
 * the end of the file may hold empty lines. Counts them first when b is NULL (*count). */
static warm_status read_merge_lines(tok_bpe *b, const char *text, size_t size, const char *path, int *count,
                                    warm_error *err) {
    int line = 0, merges = 0;
    size_t i = 0;
    if (size >= 8 && memcmp(text, "#version", 8) == 0) {
        const char *nl = memchr(text, '\n', size);
        i = nl ? (size_t)(nl - text) + 1 : size;
        line = 1;
    }
    for (; i < size; line++) {
        const char *s = text + i, *nl = memchr(s, '\n', size - i);
        size_t n = nl ? (size_t)(nl - s) : size - i;
        i += n + (nl ? 1 : 0);
        if (n > 0 && s[n - 1] == '\r') n--;
        if (n == 0) {
            size_t k = i;
            while (k < size && (text[k] == '\n' || text[k] == '\r')) k++;
            if (k == size) break;
            return warm_error_set(err, WARM_ERR_FORMAT, "%s:%d: empty line", path, line + 1);
        }
        merges++;
        if (!b) continue;
        char where[4200];
        snprintf(where, sizeof where, "%s:%d", path, line + 1);
        warm_status st = add_merge_line(b, s, n, where, err);
        if (st != WARM_OK) return st;
    }
    *count = merges;
    return WARM_OK;
}

static warm_status parse_json_file(cJSON **root, char **text, size_t *size, const char *path, warm_error *err) {
    *root = NULL;
    if (!(*text = warm_read_file(path, size, err))) return err ? err->code : WARM_ERR_IO;
    const char *end = NULL;
    if (!(*root = cJSON_ParseWithLengthOpts(*text, *size, &end, 0)))
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: invalid JSON near byte %zu", path,
                              end && end >= *text ? (size_t)(end - *text) : 0);
    return WARM_OK;
}

warm_status tok_bpe_load_gpt2(tok_bpe **out, const char *encoder_json, const char *vocab_bpe, warm_error *err) {
    *out = NULL;
    cJSON *root = NULL;
    char *json = NULL, *merges = NULL;
    size_t json_size = 0, merges_size = 0;
    tok_bpe *b = NULL;
    int nmerges = 0;
    warm_status s = parse_json_file(&root, &json, &json_size, encoder_json, err);
    if (s == WARM_OK && !cJSON_IsObject(root))
        s = warm_error_set(err, WARM_ERR_FORMAT, "%s: not a JSON object (spelling -> id)", encoder_json);
    if (s == WARM_OK && !(merges = warm_read_file(vocab_bpe, &merges_size, err))) s = err ? err->code : WARM_ERR_IO;
    if (s == WARM_OK) s = read_merge_lines(NULL, merges, merges_size, vocab_bpe, &nmerges, err);
    if (s == WARM_OK && (s = tok_bpe_new(&b, cJSON_GetArraySize(root), nmerges, err)) != WARM_OK)
        warm_error_prefix(err, "%s", encoder_json);
    if (s == WARM_OK) s = add_vocab(b, root, encoder_json, err);
    if (s == WARM_OK) s = tok_bpe_finish(b, encoder_json, err);
    if (s == WARM_OK) s = read_merge_lines(b, merges, merges_size, vocab_bpe, &nmerges, err);
    if (s == WARM_OK) s = tok_bpe_check_monotonic(b, err);
    cJSON_Delete(root);
    free(json);
    free(merges);
    if (s != WARM_OK) {
        tok_bpe_free(b);
        return s;
    }
    *out = b;
    return WARM_OK;
}

/* ---- Hugging Face tokenizer.json ------------------------------------------------------------------------ */

/* obj[key] absent or null. */
static int absent(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return !v || cJSON_IsNull(v);
}

/* obj[key]'s "type" string, "" when obj[key] is absent or null, "?" when it has none. */
static const char *type_of(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return "";
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(v, "type");
    return cJSON_IsString(t) ? t->valuestring : "?";
}

/* obj[key] absent, null, false, or the empty string (an option switched off). */
static int off(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return !v || cJSON_IsNull(v) || cJSON_IsFalse(v) || (cJSON_IsString(v) && !v->valuestring[0]);
}

/* The parts of the file warm does not implement: refused, each with its name. */
static warm_status check_hf_pipeline(const cJSON *root, const cJSON *model, const char *path, warm_error *err) {
    const char *mt = type_of(root, "model");
    if (strcmp(mt, "BPE") != 0)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: model.type is \"%.64s\": warm reads only BPE models "
                              "(GPT-2 byte-level)", path, mt);
    static const char *const model_off[] = {"dropout", "continuing_subword_prefix", "end_of_word_suffix",
                                            "byte_fallback", "ignore_merges"};
    for (int k = 0; k < 5; k++)
        if (!off(model, model_off[k]))
            return warm_error_set(err, WARM_ERR_FORMAT, "%s: model.%s is set: not supported", path, model_off[k]);
    if (!absent(root, "normalizer"))
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: normalizer \"%.64s\" is not supported (GPT-2 has none)",
                              path, type_of(root, "normalizer"));
    const char *pt = type_of(root, "pre_tokenizer");
    if (strcmp(pt, "ByteLevel") != 0)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: pre_tokenizer \"%.64s\" is not supported (only ByteLevel)",
                              path, pt);
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    if (!off(pre, "add_prefix_space"))
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: pre_tokenizer.add_prefix_space is true: not supported", path);
    const cJSON *re = cJSON_GetObjectItemCaseSensitive(pre, "use_regex");
    if (re && !cJSON_IsTrue(re))
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: pre_tokenizer.use_regex is not true: not supported", path);
    static const char *const stages[] = {"post_processor", "decoder"};
    for (int k = 0; k < 2; k++) {
        const char *t = type_of(root, stages[k]);
        if (t[0] && strcmp(t, "ByteLevel") != 0)
            return warm_error_set(err, WARM_ERR_FORMAT, "%s: %s \"%.64s\" is not supported (only ByteLevel or null)",
                                  path, stages[k], t);
    }
    return WARM_OK;
}

/* The id count: vocabulary entries, or past the highest added token. */
static warm_status hf_size(const cJSON *vocab, const cJSON *added, int *V, const char *path, warm_error *err) {
    int64_t n = cJSON_GetArraySize(vocab);
    for (const cJSON *a = added ? added->child : NULL; a; a = a->next) {
        int64_t id = json_id(cJSON_GetObjectItemCaseSensitive(a, "id"));
        if (id < 0) return warm_error_set(err, WARM_ERR_FORMAT, "%s: added_tokens: an \"id\" is not an integer >= 0", path);
        if (id + 1 > n) n = id + 1;
    }
    if (n > (1 << 24)) return warm_error_set(err, WARM_ERR_FORMAT, "%s: %lld ids: too many", path, (long long)n);
    *V = (int)n;
    return WARM_OK;
}

static warm_status add_hf_specials(tok_bpe *b, const cJSON *added, const char *path, warm_error *err) {
    int i = 0;
    for (const cJSON *a = added ? added->child : NULL; a; a = a->next, i++) {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(a, "content");
        const cJSON *special = cJSON_GetObjectItemCaseSensitive(a, "special");
        char where[4200];
        snprintf(where, sizeof where, "%s: added_tokens[%d]", path, i);
        if (!cJSON_IsString(content) || !content->valuestring[0])
            return warm_error_set(err, WARM_ERR_FORMAT, "%s: \"content\" is not a non-empty string", where);
        if (!cJSON_IsTrue(special))
            return warm_error_set(err, WARM_ERR_FORMAT, "%s: \"%.64s\" is not special: not supported", where,
                                  content->valuestring);
        static const char *const opts[] = {"single_word", "lstrip", "rstrip"};
        for (int k = 0; k < 3; k++)
            if (!off(a, opts[k]))
                return warm_error_set(err, WARM_ERR_FORMAT, "%s: \"%s\" is set: not supported", where, opts[k]);
        warm_status s = tok_bpe_add_special(b, content->valuestring,
                                            json_id(cJSON_GetObjectItemCaseSensitive(a, "id")), where, err);
        if (s != WARM_OK) return s;
    }
    return WARM_OK;
}

/* model.merges: strings "left right" or pairs ["left", "right"]. */
static warm_status add_hf_merges(tok_bpe *b, const cJSON *merges, const char *path, warm_error *err) {
    int i = 0;
    for (const cJSON *m = merges->child; m; m = m->next, i++) {
        char where[4200];
        snprintf(where, sizeof where, "%s: model.merges[%d]", path, i);
        warm_status s;
        if (cJSON_IsString(m)) {
            s = add_merge_line(b, m->valuestring, strlen(m->valuestring), where, err);
        } else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(m->child) &&
                   cJSON_IsString(m->child->next)) {
            const char *l = m->child->valuestring, *r = m->child->next->valuestring;
            s = tok_bpe_add_merge(b, l, strlen(l), r, strlen(r), where, err);
        } else {
            s = warm_error_set(err, WARM_ERR_FORMAT, "%s: not a string \"a b\" nor a pair [\"a\", \"b\"]", where);
        }
        if (s != WARM_OK) return s;
    }
    return WARM_OK;
}

warm_status tok_bpe_from_hf(tok_bpe **out, const cJSON *root, const char *path, warm_error *err) {
    *out = NULL;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(model)) return warm_error_set(err, WARM_ERR_FORMAT, "%s: \"model\" is not an object", path);
    warm_status s = check_hf_pipeline(root, model, path, err);
    if (s != WARM_OK) return s;
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (!cJSON_IsObject(vocab)) return warm_error_set(err, WARM_ERR_FORMAT, "%s: model.vocab is not an object", path);
    if (!cJSON_IsArray(merges)) return warm_error_set(err, WARM_ERR_FORMAT, "%s: model.merges is not an array", path);
    if (added && !cJSON_IsArray(added) && !cJSON_IsNull(added))
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: added_tokens is not an array", path);
    int V = 0;
    tok_bpe *b = NULL;
    char where[4200];
    snprintf(where, sizeof where, "%s: model.vocab", path);
    if ((s = hf_size(vocab, added, &V, path, err)) == WARM_OK &&
        (s = tok_bpe_new(&b, V, cJSON_GetArraySize(merges), err)) != WARM_OK)
        warm_error_prefix(err, "%s", path);
    if (s == WARM_OK) s = add_vocab(b, vocab, where, err);
    if (s == WARM_OK) s = add_hf_specials(b, added, path, err);
    if (s == WARM_OK) s = tok_bpe_finish(b, path, err);
    if (s == WARM_OK) s = add_hf_merges(b, merges, path, err);
    if (s == WARM_OK) s = tok_bpe_check_monotonic(b, err);
    if (s != WARM_OK) {
        tok_bpe_free(b);
        return s;
    }
    *out = b;
    return WARM_OK;
}
