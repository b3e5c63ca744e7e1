/*
 * jsonl.c — warm_task_gold_jsonl: the gold reward over a JSONL file of prompts and responses.
 *
 * Lines are read with the library's JSONL reader (include/warm/data.h: one JSON object per line, blank lines
 * skipped but counted, every error "<file>:<line>: ..."). The row is scored, the gold fields are set
 * (replacing earlier ones, other keys kept in order), and the row is written with the atomic JSONL writer,
 * whose temp file replaces out_path only when every line scored.
 *
 * Row conventions (the same as the data loaders and `warm sample`, see include/warm/task.h):
 *   - "<field>_ids" (pre-tokenised, TRL style) wins over the text field and is scored exactly as given;
 *   - text responses follow TRL: the end token is not part of the text and is appended, except on a
 *     "response" row whose boolean "eos" is false (`warm sample` writes it: the sample hit the token limit);
 *   - the prompt is never given an end token.
 * Reported numbers are rounded to 1e-9 so that 2 * 0.7 prints as 1.4, not 1.4000000000000001.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "task/task_internal.h"
#include "warm/data.h"

typedef struct {
    const warm_task_world *w;
    const warm_jsonl_reader *in; /* for "<file>:<line>: " in messages */
    warm_error *err;
} line_ctx;

/* Token ids of one field of a row (malloc'd). */
typedef struct {
    int32_t *v;
    int n;
} id_list;

static warm_status line_fail(const line_ctx *c, warm_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static warm_status line_fail(const line_ctx *c, warm_status code, const char *fmt, ...) {
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return warm_jsonl_fail(c->in, c->err, code, "%s", what);
}

static double round9(double x) { return round(x * 1e9) / 1e9; }

static cJSON *parts_json(const warm_gold *g) {
    cJSON *o = cJSON_CreateObject();
    int ok = o && cJSON_AddNumberToObject(o, "coverage", round9(g->coverage)) &&
             cJSON_AddNumberToObject(o, "post_facts", g->n_post_facts) &&
             cJSON_AddNumberToObject(o, "covered", g->n_covered) && cJSON_AddNumberToObject(o, "stated", g->n_stated) &&
             cJSON_AddNumberToObject(o, "hallucinated", g->n_hallucinated) &&
             cJSON_AddNumberToObject(o, "repeated_facts", g->n_repeated_facts) &&
             cJSON_AddNumberToObject(o, "repeated_ngrams", g->n_repeated) &&
             cJSON_AddNumberToObject(o, "words", g->n_words) &&
             cJSON_AddNumberToObject(o, "over_budget", g->over_budget) &&
             cJSON_AddNumberToObject(o, "extra_words", g->n_extra) && cJSON_AddBoolToObject(o, "eos", g->has_eos);
    if (!ok) cJSON_Delete(o);
    return ok ? o : NULL;
}

/* Sets row[key] = item, replacing an existing value. Frees item on failure. */
static int set_item(cJSON *row, const char *key, cJSON *item) {
    if (!item) return 0;
    int ok = cJSON_GetObjectItemCaseSensitive(row, key) ? cJSON_ReplaceItemInObjectCaseSensitive(row, key, item)
                                                        : cJSON_AddItemToObject(row, key, item);
    if (!ok) cJSON_Delete(item);
    return ok;
}

/* "<key>_ids": an array of token ids of the world's vocabulary. */
static warm_status ids_from_array(const line_ctx *c, const cJSON *arr, const char *key, id_list *out) {
    char name[64];
    snprintf(name, sizeof name, "%s_ids", key);
    if (!cJSON_IsArray(arr)) return line_fail(c, WARM_ERR_FORMAT, "\"%s\" must be an array of token ids", name);
    int n = cJSON_GetArraySize(arr), V = warm_tok_vocab_size(c->w->tok), i = 0;
    if (!(out->v = malloc((size_t)(n + 1) * sizeof *out->v))) return line_fail(c, WARM_ERR_NOMEM, "out of memory");
    for (const cJSON *it = arr->child; it; it = it->next, i++) {
        double d = cJSON_IsNumber(it) ? it->valuedouble : -1;
        if (!(d >= 0 && d < (double)V && d == floor(d)))
            return line_fail(c, WARM_ERR_FORMAT, "\"%s\"[%d] is not a token id in [0, %d)", name, i, V);
        out->v[i] = (int32_t)d;
    }
    out->n = n;
    return WARM_OK;
}

/* Text, tokenised with <unk> for unknown words, plus <eos> when append_eos and none is there yet. */
static warm_status ids_from_text(const line_ctx *c, const char *text, int append_eos, id_list *out) {
    int n = 0;
    warm_tok_encode(c->w->tok, text, 1, NULL, 0, &n, NULL); /* counts only */
    if (!(out->v = malloc((size_t)(n + 1) * sizeof *out->v))) return line_fail(c, WARM_ERR_NOMEM, "out of memory");
    if (warm_tok_encode(c->w->tok, text, 1, out->v, n, &out->n, c->err) != WARM_OK)
        return line_fail(c, WARM_ERR_FORMAT, "cannot tokenise");
    int has_eos = 0;
    for (int i = 0; i < out->n; i++) has_eos |= out->v[i] == c->w->eos;
    if (append_eos && !has_eos) out->v[out->n++] = c->w->eos;
    return WARM_OK;
}

/* The ids of field key ("<key>_ids" first, then the text); *present = 0 when the row has neither. */
static warm_status field_ids(const line_ctx *c, const cJSON *row, const char *key, int append_eos, id_list *out,
                             int *present) {
    char name[64];
    snprintf(name, sizeof name, "%s_ids", key);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(row, name), *text = cJSON_GetObjectItemCaseSensitive(row, key);
    *present = (arr && !cJSON_IsNull(arr)) || (text && !cJSON_IsNull(text));
    if (arr && !cJSON_IsNull(arr)) return ids_from_array(c, arr, key, out);
    if (!text || cJSON_IsNull(text)) return WARM_OK;
    if (!cJSON_IsString(text)) return line_fail(c, WARM_ERR_FORMAT, "\"%s\" must be a string", key);
    return ids_from_text(c, text->valuestring, append_eos, out);
}

/* Scores resp against prompt and sets key and key_parts. */
static warm_status set_gold(const line_ctx *c, cJSON *row, const id_list *prompt, const id_list *resp,
                            const char *key) {
    warm_gold g;
    warm_task_gold_ids(c->w, prompt->v, prompt->n, resp->v, resp->n, &g);
    char parts_key[64];
    snprintf(parts_key, sizeof parts_key, "%s_parts", key);
    if (!set_item(row, key, cJSON_CreateNumber(round9(g.total))) || !set_item(row, parts_key, parts_json(&g)))
        return line_fail(c, WARM_ERR_NOMEM, "out of memory");
    return WARM_OK;
}

/* Whether a "response" gets <eos> appended: yes unless the row's "eos" is false. */
static warm_status response_eos_rule(const line_ctx *c, const cJSON *row, int *append) {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(row, "eos");
    if (e && !cJSON_IsBool(e) && !cJSON_IsNull(e)) return line_fail(c, WARM_ERR_FORMAT, "\"eos\" must be true or false");
    *append = !cJSON_IsFalse(e);
    return WARM_OK;
}

/* A row with "chosen" and "rejected" (text or ids): sets gold_chosen, gold_rejected. *has = 0 without. */
static warm_status score_pair(const line_ctx *c, cJSON *row, const id_list *prompt, int *has) {
    id_list a = {0}, b = {0};
    int has_b = 0;
    warm_status s = field_ids(c, row, "chosen", 1, &a, has);
    if (s == WARM_OK) s = field_ids(c, row, "rejected", 1, &b, &has_b);
    if (s == WARM_OK && *has != has_b) s = line_fail(c, WARM_ERR_FORMAT, "\"chosen\" and \"rejected\" come together");
    if (s == WARM_OK && *has) s = set_gold(c, row, prompt, &a, "gold_chosen");
    if (s == WARM_OK && *has) s = set_gold(c, row, prompt, &b, "gold_rejected");
    free(a.v);
    free(b.v);
    return s;
}

/* A row with "response" (or else "completion"): sets gold. */
static warm_status score_single(const line_ctx *c, cJSON *row, const id_list *prompt) {
    id_list a = {0};
    int has = 0, append = 1;
    warm_status s = response_eos_rule(c, row, &append);
    if (s == WARM_OK) s = field_ids(c, row, "response", append, &a, &has);
    if (s == WARM_OK && !has) s = field_ids(c, row, "completion", 1, &a, &has);
    if (s == WARM_OK && !has)
        s = line_fail(c, WARM_ERR_FORMAT, "needs \"response\", \"completion\", or \"chosen\" and \"rejected\"");
    if (s == WARM_OK) s = set_gold(c, row, prompt, &a, "gold");
    free(a.v);
    return s;
}

static warm_status score_row(const line_ctx *c, cJSON *row) {
    id_list prompt = {0};
    int has_prompt = 0;
    warm_status s = field_ids(c, row, "prompt", 0, &prompt, &has_prompt);
    if (s == WARM_OK && !has_prompt) s = line_fail(c, WARM_ERR_FORMAT, "missing \"prompt\"");
    int pair = 0;
    if (s == WARM_OK) s = score_pair(c, row, &prompt, &pair);
    if (s == WARM_OK && !pair) s = score_single(c, row, &prompt);
    free(prompt.v);
    return s;
}

warm_status warm_task_gold_jsonl(const warm_task_world *w, const char *in_path, const char *out_path, int *n_rows,
                                 warm_error *err) {
    if (n_rows) *n_rows = 0;
    warm_jsonl_reader *in = NULL;
    warm_jsonl_writer *out = NULL;
    warm_status s = warm_jsonl_open(&in, in_path, err);
    if (s == WARM_OK) s = warm_jsonl_writer_open(&out, out_path, err);
    line_ctx c = {w, in, err};
    int rows = 0;
    while (s == WARM_OK) {
        const cJSON *obj = NULL;
        if ((s = warm_jsonl_next(in, &obj, err)) != WARM_OK || !obj) break;
        /* The reader owns obj; the copy gets the gold fields (other keys keep their order). */
        cJSON *row = cJSON_Duplicate(obj, 1);
        s = row ? score_row(&c, row) : line_fail(&c, WARM_ERR_NOMEM, "out of memory");
        if (s == WARM_OK) s = warm_jsonl_write(out, row, err);
        cJSON_Delete(row);
        rows += s == WARM_OK;
    }
    warm_jsonl_close(in);
    if (s == WARM_OK) s = warm_jsonl_writer_commit(out, err);
    else warm_jsonl_writer_abort(out);
    if (s == WARM_OK && n_rows) *n_rows = rows;
    return s;
}
