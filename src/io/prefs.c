/*
 * prefs.c — preference data sets for Bradley-Terry training and evaluation, and the seeded resumable data
 * order shared by every trainer. See warm/data.h for the row forms and the API.
 *
 * Layout. All token ids of a data set live in one int32 pool (d->ids); a row (warm_pref_row) holds three
 * (offset, length) spans into it — prompt, chosen response, rejected response — plus its labels and
 * metadata. Id strings live back to back in d->strs; split names are interned in d->split_names and rows
 * store their index. Rows appear in file order; dropped rows leave nothing in the pools (the pool is rolled
 * back to the row's start).
 *
 * Invariants after a successful load, for every row: prompt_len + chosen_len and prompt_len + rejected_len
 * are in [1, max_len] (or [1, ...] without a limit) and <= d->max_seq; every id is in [0, vocab_size).
 *
 * TRL parity (anchors.md §1): explicit prompts are concatenated with the responses, EOS is appended to text
 * responses when missing, over-long pairs are dropped (not truncated), the batch is chosen rows then
 * rejected rows, padded on the right.
 *
 * Order. warm_order shuffles each epoch with a stream seeded by warm_hash64(seed, epoch), so any epoch's
 * permutation can be rebuilt from (seed, epoch) alone and a run resumed at (epoch, pos) continues exactly.
 */
#include "warm/data.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

warm_prefs_opts warm_prefs_opts_default(void) {
    warm_prefs_opts o = {.max_len = 1024, .allow_unk = 0, .vocab_size = 0, .pad_id = -1};
    return o;
}

/* ================================================================ loading */

/* TRL's conversational form (a list of {"role", "content"} messages) gets a message of its own. */
static warm_status text_field(const warm_jsonl_reader *r, const cJSON *obj, const char *key, int required,
                              const char **out, int *present, warm_error *err) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (x && cJSON_IsArray(x))
        return warm_jsonl_fail(r, err, WARM_ERR_FORMAT, "\"%s\" is a list (conversational format?): warm reads "
                               "plain text; apply the chat template when converting the data", key);
    return warm_jsonl_get_str(r, obj, key, required, out, present, err);
}

/* Token spans of a row in the pool: prompt, chosen, rejected. */
static warm_status read_ids_form(const warm_jsonl_reader *r, const cJSON *obj, warm_prefs *d, int32_t len[3],
                                 warm_error *err) {
    static const char *const keys[3] = {"prompt_ids", "chosen_ids", "rejected_ids"};
    for (int k = 0; k < 3; k++) {
        int n = 0, present = 0;
        warm_status s = warm_jsonl_get_ids(r, obj, keys[k], k > 0, d->vocab_size, &d->ids, &n, &present, err);
        if (s != WARM_OK) return s;
        len[k] = n;
    }
    if (len[0] + len[1] == 0 || len[0] + len[2] == 0)
        return warm_jsonl_fail(r, err, WARM_ERR_FORMAT, "prompt_ids + %s is empty (a sequence needs a token)",
                               len[0] + len[1] == 0 ? "chosen_ids" : "rejected_ids");
    return WARM_OK;
}

size_t warm_pref_hh_split(const char *chosen, const char *rejected) {
    static const char marker[] = "\n\nAssistant:";
    size_t common = 0, m = sizeof marker - 1, cut = 0;
    while (chosen[common] && chosen[common] == rejected[common]) common++;
    for (size_t i = 0; i + m <= common; i++)
        if (memcmp(chosen + i, marker, m) == 0) cut = i + m;
    return cut;
}

static warm_status read_text_form(const warm_jsonl_reader *r, const cJSON *obj, const warm_tokenizer *tok,
                                  int allow_unk, warm_prefs *d, int32_t len[3], warm_error *err) {
    static const char *const keys[3] = {"prompt", "chosen", "rejected"};
    const char *text[3] = {"", NULL, NULL};
    int has_prompt = 0, present = 0;
    for (int k = 0; k < 3; k++) {
        warm_status s = text_field(r, obj, keys[k], k > 0, &text[k], k == 0 ? &has_prompt : &present, err);
        if (s != WARM_OK) return s;
    }
    if (!tok)
        return warm_jsonl_fail(r, err, WARM_ERR_ARG, "text row but no tokenizer given (pre-tokenised rows use "
                               "prompt_ids/chosen_ids/rejected_ids)");
    /* Implicit prompt in HH form: the prompt is the common head up to its last "\n\nAssistant:". */
    size_t cut = has_prompt ? 0 : warm_pref_hh_split(text[1], text[2]);
    char *prompt = NULL;
    if (cut > 0) {
        if (!(prompt = malloc(cut + 1))) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
        memcpy(prompt, text[1], cut);
        prompt[cut] = 0;
        text[0] = prompt;
        text[1] += cut;
        text[2] += cut;
    }
    warm_status s = WARM_OK;
    for (int k = 0; k < 3 && s == WARM_OK; k++) {
        int n = 0;
        s = warm_jsonl_tokenize(r, keys[k], tok, text[k], allow_unk, k > 0, &d->ids, &n, err);
        len[k] = n;
    }
    free(prompt);
    return s;
}

static int has_key(const cJSON *obj, const char *key) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(obj, key);
    return x && !cJSON_IsNull(x);
}

/* Labels and metadata: margin, split, corrupted, gold rewards, id. */
static warm_status read_meta(const warm_jsonl_reader *r, const cJSON *obj, warm_prefs *d, warm_pref_row *row,
                             warm_error *err) {
    double margin = 0, gc = 0, gr = 0;
    int has_m = 0, has_gc = 0, has_gr = 0, corrupted = 0, present = 0;
    warm_status s = warm_jsonl_get_num(r, obj, "margin", 0, &margin, &has_m, err);
    if (s == WARM_OK) s = warm_jsonl_get_num(r, obj, "gold_chosen", 0, &gc, &has_gc, err);
    if (s == WARM_OK) s = warm_jsonl_get_num(r, obj, "gold_rejected", 0, &gr, &has_gr, err);
    if (s == WARM_OK) s = warm_jsonl_get_bool(r, obj, "corrupted", 0, &corrupted, &present, err);
    if (s == WARM_OK) s = warm_jsonl_get_name(r, obj, "split", &d->split_names, &row->split, err);
    if (s == WARM_OK) s = warm_jsonl_get_label(r, obj, "id", &d->strs, &row->id_off, err);
    if (s != WARM_OK) return s;
    row->margin = has_m ? (float)margin : 0.0f;
    row->has_margin = (uint8_t)has_m;
    row->gold_chosen = has_gc ? (float)gc : NAN;
    row->gold_rejected = has_gr ? (float)gr : NAN;
    row->corrupted = (uint8_t)corrupted;
    return WARM_OK;
}

static warm_status push_row(warm_prefs *d, int64_t *cap, const warm_pref_row *row, warm_error *err) {
    if (d->n == *cap) {
        int64_t c = *cap ? *cap * 2 : 256;
        warm_pref_row *p = realloc(d->rows, (size_t)c * sizeof *p);
        if (!p) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory (%" PRId64 " rows)", c);
        d->rows = p;
        *cap = c;
    }
    d->rows[d->n++] = *row;
    return WARM_OK;
}

/* Parses one row; *keep = 0 when it is dropped for length (its ids are then rolled back). */
static warm_status parse_row(const warm_jsonl_reader *r, const cJSON *obj, const warm_tokenizer *tok,
                             const warm_prefs_opts *o, warm_prefs *d, warm_pref_row *row, int *keep,
                             warm_error *err) {
    memset(row, 0, sizeof *row);
    row->line = warm_jsonl_lineno(r);
    *keep = 0;
    int64_t start = d->ids.n;
    int32_t len[3] = {0, 0, 0};
    int pretok = has_key(obj, "chosen_ids") || has_key(obj, "rejected_ids") || has_key(obj, "prompt_ids");
    warm_status s = pretok ? read_ids_form(r, obj, d, len, err) : read_text_form(r, obj, tok, o->allow_unk, d, len,
                                                                                  err);
    if (s == WARM_OK) s = read_meta(r, obj, d, row, err);
    if (s != WARM_OK) return s;
    int64_t lc = (int64_t)len[0] + len[1], lr = (int64_t)len[0] + len[2];
    if (o->max_len > 0 && (lc > o->max_len || lr > o->max_len)) {
        d->ids.n = start;
        return WARM_OK;
    }
    row->pretokenised = (uint8_t)pretok;
    row->prompt_off = start;
    row->prompt_len = len[0];
    row->chosen_off = start + len[0];
    row->chosen_len = len[1];
    row->rejected_off = start + len[0] + len[1];
    row->rejected_len = len[2];
    *keep = 1;
    return WARM_OK;
}

static warm_status setup_vocab(warm_prefs *d, const warm_tokenizer *tok, const warm_prefs_opts *o, const char *path,
                               warm_error *err) {
    if (tok) {
        d->vocab_size = warm_tok_vocab_size(tok);
        d->pad_id = warm_tok_pad(tok);
        d->eos_id = warm_tok_eos(tok);
        return WARM_OK;
    }
    if (o->vocab_size <= 0 || o->pad_id < 0 || o->pad_id >= o->vocab_size)
        return warm_error_set(err, WARM_ERR_ARG, "%s: without a tokenizer, vocab_size (%d) and a pad id in "
                              "[0, vocab_size) (%d) are needed", path, (int)o->vocab_size, (int)o->pad_id);
    d->vocab_size = o->vocab_size;
    d->pad_id = o->pad_id;
    d->eos_id = -1;
    return WARM_OK;
}

warm_status warm_prefs_load(warm_prefs *d, const char *path, const warm_tokenizer *tok, const warm_prefs_opts *opts,
                            warm_error *err) {
    memset(d, 0, sizeof *d);
    warm_prefs_opts o = opts ? *opts : warm_prefs_opts_default();
    warm_status s = setup_vocab(d, tok, &o, path, err);
    if (s != WARM_OK) return s;
    warm_jsonl_reader *r;
    if ((s = warm_jsonl_open(&r, path, err)) != WARM_OK) return s;
    int64_t cap = 0;
    for (;;) {
        const cJSON *obj;
        if ((s = warm_jsonl_next(r, &obj, err)) != WARM_OK || !obj) break;
        d->n_lines++;
        warm_pref_row row;
        int keep;
        if ((s = parse_row(r, obj, tok, &o, d, &row, &keep, err)) != WARM_OK) break;
        if (!keep) {
            d->n_dropped_long++;
            continue;
        }
        if ((s = push_row(d, &cap, &row, err)) != WARM_OK) {
            warm_error_prefix(err, "%s", path);
            break;
        }
        int32_t m = row.prompt_len + (row.chosen_len > row.rejected_len ? row.chosen_len : row.rejected_len);
        if (m > d->max_seq) d->max_seq = m;
        d->n_margin += row.has_margin;
    }
    warm_jsonl_close(r);
    if (s != WARM_OK) warm_prefs_free(d);
    return s;
}

void warm_prefs_free(warm_prefs *d) {
    if (!d) return;
    free(d->rows);
    warm_ids_free(&d->ids);
    warm_strpool_free(&d->strs);
    warm_names_free(&d->split_names);
    memset(d, 0, sizeof *d);
}

const char *warm_prefs_split(const warm_prefs *d, int64_t i) {
    WARM_CHECK(i >= 0 && i < d->n, "row %" PRId64 " of %" PRId64, i, d->n);
    int32_t k = d->rows[i].split;
    return k >= 0 ? d->split_names.v[k] : NULL;
}

const char *warm_prefs_id(const warm_prefs *d, int64_t i) {
    WARM_CHECK(i >= 0 && i < d->n, "row %" PRId64 " of %" PRId64, i, d->n);
    return d->rows[i].id_off >= 0 ? d->strs.v + d->rows[i].id_off : NULL;
}

/* ================================================================ subsets */

warm_status warm_prefs_subset(const warm_prefs *d, const char *splits, int corrupted, int64_t **idx, int64_t *n,
                              warm_error *err) {
    *n = 0;
    *idx = malloc((size_t)(d->n > 0 ? d->n : 1) * sizeof **idx);
    if (!*idx) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory (subset of %" PRId64 " rows)", d->n);
    for (int64_t i = 0; i < d->n; i++) {
        if (splits && !warm_names_listed(splits, warm_prefs_split(d, i))) continue;
        if (corrupted >= 0 && d->rows[i].corrupted != (corrupted != 0)) continue;
        (*idx)[(*n)++] = i;
    }
    return WARM_OK;
}

/* ================================================================ views and batches */

warm_pref_view warm_prefs_view(const warm_prefs *d, int64_t i) {
    WARM_CHECK(i >= 0 && i < d->n, "row %" PRId64 " of %" PRId64, i, d->n);
    const warm_pref_row *row = &d->rows[i];
    warm_pref_view v = {
        .prompt = d->ids.v + row->prompt_off,
        .prompt_len = row->prompt_len,
        .resp = {d->ids.v + row->chosen_off, d->ids.v + row->rejected_off},
        .resp_len = {row->chosen_len, row->rejected_len},
    };
    return v;
}

int32_t warm_pref_shared_prefix(const warm_pref_view *v) {
    int32_t shortest = v->resp_len[0] < v->resp_len[1] ? v->resp_len[0] : v->resp_len[1];
    int32_t k = 0;
    while (k < shortest && v->resp[0][k] == v->resp[1][k]) k++;
    int32_t shared = v->prompt_len + k;
    /* Each side keeps one token of its own: its reward is read after that token. */
    int32_t cap = v->prompt_len + shortest - 1;
    if (shared > cap) shared = cap;
    return shared > 0 ? shared : 0;
}

warm_status warm_prefs_batch(const warm_prefs *d, const int64_t *pairs, int P, int T, int32_t *tokens,
                             int32_t *lengths, float *margins, int *T_used, warm_error *err) {
    if (P <= 0 || T < 0) return warm_error_set(err, WARM_ERR_ARG, "prefs batch: P = %d, T = %d", P, T);
    int need = 0;
    for (int p = 0; p < P; p++) {
        if (pairs[p] < 0 || pairs[p] >= d->n)
            return warm_error_set(err, WARM_ERR_ARG, "prefs batch: pair index %" PRId64 " outside [0, %" PRId64 ")",
                                  pairs[p], d->n);
        const warm_pref_row *row = &d->rows[pairs[p]];
        int m = row->prompt_len + (row->chosen_len > row->rejected_len ? row->chosen_len : row->rejected_len);
        if (m > need) need = m;
        if (T > 0 && m > T)
            return warm_error_set(err, WARM_ERR_ARG, "prefs batch: pair %" PRId64 " (line %" PRId64 ") has %d "
                                  "tokens, more than T = %d (load with max_len <= T)", pairs[p], row->line, m, T);
    }
    int Tu = T > 0 ? T : need;
    for (int side = 0; side < 2; side++) {
        for (int p = 0; p < P; p++) {
            warm_pref_view v = warm_prefs_view(d, pairs[p]);
            int b = side * P + p, len = v.prompt_len + v.resp_len[side];
            int32_t *out = tokens + (size_t)b * (size_t)Tu;
            memcpy(out, v.prompt, (size_t)v.prompt_len * sizeof *out);
            memcpy(out + v.prompt_len, v.resp[side], (size_t)v.resp_len[side] * sizeof *out);
            for (int t = len; t < Tu; t++) out[t] = d->pad_id;
            lengths[b] = len;
        }
    }
    if (margins)
        for (int p = 0; p < P; p++) margins[p] = d->rows[pairs[p]].margin;
    *T_used = Tu;
    return WARM_OK;
}

/* ================================================================ order */

static void order_shuffle(warm_order *o) {
    for (int64_t i = 0; i < o->n; i++) o->perm[i] = i;
    if (!o->shuffle) return;
    warm_rng rng;
    warm_rng_seed(&rng, warm_hash64(o->seed, (uint64_t)o->epoch));
    for (int64_t i = o->n - 1; i > 0; i--) {
        int64_t j = (int64_t)warm_rng_below(&rng, (uint32_t)(i + 1));
        int64_t t = o->perm[i];
        o->perm[i] = o->perm[j];
        o->perm[j] = t;
    }
}

warm_status warm_order_init(warm_order *o, int64_t n, uint64_t seed, int shuffle, warm_error *err) {
    memset(o, 0, sizeof *o);
    if (n <= 0) return warm_error_set(err, WARM_ERR_ARG, "no rows to iterate over (empty data set or subset)");
    if ((uint64_t)n > UINT32_MAX)
        return warm_error_set(err, WARM_ERR_ARG, "%" PRId64 " rows: more than the order supports (2^32 - 1)", n);
    o->perm = malloc((size_t)n * sizeof *o->perm);
    if (!o->perm) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory (order of %" PRId64 " rows)", n);
    o->n = n;
    o->seed = seed;
    o->shuffle = shuffle != 0;
    order_shuffle(o);
    return WARM_OK;
}

void warm_order_free(warm_order *o) {
    if (!o) return;
    free(o->perm);
    memset(o, 0, sizeof *o);
}

warm_status warm_order_seek(warm_order *o, int64_t epoch, int64_t pos, warm_error *err) {
    if (epoch < 0 || pos < 0 || pos > o->n || (pos == o->n && epoch == INT64_MAX))
        return warm_error_set(err, WARM_ERR_ARG, "data position (epoch %" PRId64 ", pos %" PRId64 ") is outside "
                              "an order of %" PRId64 " rows", epoch, pos, o->n);
    if (pos == o->n) {
        epoch++;
        pos = 0;
    }
    if (epoch != o->epoch) {
        o->epoch = epoch;
        order_shuffle(o);
    }
    o->pos = pos;
    return WARM_OK;
}

void warm_order_take(warm_order *o, const int64_t *map, int64_t *out, int k) {
    WARM_CHECK(o->perm && o->n > 0, "warm_order_take on an uninitialised order");
    for (int i = 0; i < k; i++) {
        int64_t item = o->perm[o->pos];
        out[i] = map ? map[item] : item;
        if (++o->pos == o->n) {
            o->epoch++;
            o->pos = 0;
            order_shuffle(o);
        }
    }
}
