/*
 * tokenizer.c — the public API of include/warm/tokenizer.h: one handle, two kinds. Each call dispatches on
 * warm_tokenizer.kind to wordtok.c (WORD) or bpe.c (BPE); the loaders here decide the kind from the file
 * (a JSON file with "model" is a Hugging Face tokenizer.json, anything else must be warm's WORD file) or
 * from the `--tokenizer` spelling (warm_tok_open: "gpt2", a directory, a file).
 */
#include "text/tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static warm_status wrap(warm_tokenizer **out, warm_tok_kind kind, tok_word *w, tok_bpe *b, warm_status s,
                        warm_error *err) {
    *out = NULL;
    if (s != WARM_OK) return s;
    warm_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        tok_word_free(w);
        tok_bpe_free(b);
        return warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
    }
    t->kind = kind;
    t->word = w;
    t->bpe = b;
    *out = t;
    return WARM_OK;
}

warm_status warm_tok_from_words(warm_tokenizer **out, const char *const *words, int n, warm_error *err) {
    tok_word *w = NULL;
    warm_status s = tok_word_from_words(&w, words, n, err);
    return wrap(out, WARM_TOK_WORD, w, NULL, s, err);
}

warm_status warm_tok_load_gpt2(warm_tokenizer **out, const char *encoder_json, const char *vocab_bpe,
                               warm_error *err) {
    tok_bpe *b = NULL;
    warm_status s = tok_bpe_load_gpt2(&b, encoder_json, vocab_bpe, err);
    return wrap(out, WARM_TOK_BPE, NULL, b, s, err);
}

warm_status warm_tok_load(warm_tokenizer **out, const char *path, warm_error *err) {
    *out = NULL;
    size_t size = 0;
    char *text = warm_read_file(path, &size, err);
    if (!text) return err ? err->code : WARM_ERR_IO;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, size, &end, 0);
    warm_status s;
    tok_word *w = NULL;
    tok_bpe *b = NULL;
    if (!root) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        s = warm_error_set(err, WARM_ERR_FORMAT, "%s: invalid JSON near byte %zu", path, at);
    } else if (cJSON_IsObject(root) && cJSON_GetObjectItemCaseSensitive(root, "model")) {
        s = tok_bpe_from_hf(&b, root, path, err);
    } else {
        s = tok_word_from_json(&w, root, path, err);
    }
    cJSON_Delete(root);
    free(text);
    return wrap(out, b ? WARM_TOK_BPE : WARM_TOK_WORD, w, b, s, err);
}

const char *warm_tok_gpt2_dir(char *buf, size_t cap) {
    const char *d = getenv("WARM_GPT2_DIR");
    const char *shared = getenv("WARM_SHARED_DATA");
    if (d && d[0]) snprintf(buf, cap, "%s", d);
    else if (shared && shared[0]) snprintf(buf, cap, "%s/gpt2-tokenizer", shared);
    else snprintf(buf, cap, "../shared/data/gpt2-tokenizer");
    return buf;
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* A directory: encoder.json + vocab.bpe (OpenAI's names), vocab.json + merges.txt (Hugging Face's names for
 * the same two files), or tokenizer.json. */
static warm_status open_dir(warm_tokenizer **out, const char *dir, const char *why, warm_error *err) {
    static const char *const pairs[2][2] = {{"encoder.json", "vocab.bpe"}, {"vocab.json", "merges.txt"}};
    char a[4096], b[4096];
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return warm_error_set(err, WARM_ERR_IO, "%s: no such directory%s", dir, why);
    for (int k = 0; k < 2; k++) {
        snprintf(a, sizeof a, "%s/%s", dir, pairs[k][0]);
        snprintf(b, sizeof b, "%s/%s", dir, pairs[k][1]);
        if (is_file(a) && is_file(b)) return warm_tok_load_gpt2(out, a, b, err);
    }
    snprintf(a, sizeof a, "%s/tokenizer.json", dir);
    if (is_file(a)) return warm_tok_load(out, a, err);
    return warm_error_set(err, WARM_ERR_IO,
                          "%s: no tokenizer there (looked for encoder.json + vocab.bpe, vocab.json + merges.txt, "
                          "tokenizer.json)%s",
                          dir, why);
}

warm_status warm_tok_open(warm_tokenizer **out, const char *spec, warm_error *err) {
    *out = NULL;
    if (!spec || !spec[0]) return warm_error_set(err, WARM_ERR_ARG, "no tokenizer given");
    if (strcmp(spec, "gpt2") == 0) {
        char dir[4096];
        warm_tok_gpt2_dir(dir, sizeof dir);
        return open_dir(out, dir, " for --tokenizer gpt2: set WARM_GPT2_DIR to the directory of the GPT-2 files",
                        err);
    }
    struct stat st;
    if (stat(spec, &st) == 0 && S_ISDIR(st.st_mode)) return open_dir(out, spec, "", err);
    return warm_tok_load(out, spec, err);
}

warm_status warm_tok_save(const warm_tokenizer *t, const char *path, warm_error *err) {
    if (t->kind == WARM_TOK_BPE)
        return warm_error_set(err, WARM_ERR_ARG, "%s: a BPE tokenizer is not saved by warm (keep its own files)",
                              path);
    return tok_word_save(t->word, path, err);
}

void warm_tok_free(warm_tokenizer *t) {
    if (!t) return;
    tok_word_free(t->word);
    tok_bpe_free(t->bpe);
    free(t);
}

warm_tok_kind warm_tok_kind_of(const warm_tokenizer *t) { return t->kind; }

int warm_tok_vocab_size(const warm_tokenizer *t) {
    return t->kind == WARM_TOK_BPE ? tok_bpe_vocab_size(t->bpe) : tok_word_vocab_size(t->word);
}

int32_t warm_tok_pad(const warm_tokenizer *t) {
    return t->kind == WARM_TOK_BPE ? tok_bpe_eos(t->bpe) : tok_word_special(t->word, 0);
}

int32_t warm_tok_eos(const warm_tokenizer *t) {
    return t->kind == WARM_TOK_BPE ? tok_bpe_eos(t->bpe) : tok_word_special(t->word, 1);
}

int32_t warm_tok_unk(const warm_tokenizer *t) { return t->kind == WARM_TOK_BPE ? -1 : tok_word_special(t->word, 2); }

int32_t warm_tok_id(const warm_tokenizer *t, const char *word) {
    if (!word) return -1;
    return t->kind == WARM_TOK_BPE ? tok_bpe_id(t->bpe, word, strlen(word)) : tok_word_id(t->word, word, strlen(word));
}

const char *warm_tok_word(const warm_tokenizer *t, int32_t id) {
    return t->kind == WARM_TOK_BPE ? tok_bpe_word(t->bpe, id) : tok_word_word(t->word, id);
}

warm_status warm_tok_encode_n(const warm_tokenizer *t, const char *text, size_t len, int flags, int32_t *ids,
                              int max, int *n, warm_error *err) {
    *n = 0;
    if (max < 0 || (max > 0 && !ids) || (len > 0 && !text))
        return warm_error_set(err, WARM_ERR_ARG, "warm_tok_encode: bad arguments");
    if (t->kind == WARM_TOK_BPE) return tok_bpe_encode(t->bpe, text, len, flags, ids, max, n, err);
    return tok_word_encode(t->word, text, len, flags & WARM_TOK_ALLOW_UNK, ids, max, n, err);
}

warm_status warm_tok_encode(const warm_tokenizer *t, const char *text, int allow_unk, int32_t *ids, int max, int *n,
                            warm_error *err) {
    if (!text) text = "";
    return warm_tok_encode_n(t, text, strlen(text), allow_unk ? WARM_TOK_ALLOW_UNK : 0, ids, max, n, err);
}

char *warm_tok_decode_n(const warm_tokenizer *t, const int32_t *ids, int n, size_t *len) {
    return t->kind == WARM_TOK_BPE ? tok_bpe_decode(t->bpe, ids, n, len) : tok_word_decode(t->word, ids, n, len);
}

char *warm_tok_decode(const warm_tokenizer *t, const int32_t *ids, int n) { return warm_tok_decode_n(t, ids, n, NULL); }
