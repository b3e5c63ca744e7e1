/*
 * lmdata.c — language-model data sets: pretraining text and SFT prompt/completion pairs, and their batches
 * (tokens, next-token targets, loss mask). See warm/data.h for the row forms and the API.
 *
 * Layout. One int32 pool holds every row's ids back to back; a row (warm_lm_row) is one span of it. An SFT
 * row's span is prompt ids then completion ids then EOS; prompt_len marks the boundary, so the sampler can
 * read the prompt (warm_lm_view_row) and the batch builder can mask it. Pretraining rows have prompt_len 0.
 *
 * Loss mask. Position t predicts token t + 1. A position counts when a next token exists (t + 1 < len) and,
 * for SFT, when that next token belongs to the completion (t + 1 >= prompt_len). Example, prompt [a b],
 * completion [c] + EOS: tokens a b c EOS, targets b c EOS 0, mask 0 1 1 0 — the loss covers c and EOS.
 *
 * Length rules. Pretraining rows are cut to max_len (their tail, EOS included, is lost; counted); SFT rows
 * over max_len are dropped (counted), because a cut completion would teach the model to stop without EOS
 * and a cut prompt would change the task. Rows with fewer than two tokens give no target and are dropped.
 */
#include "warm/data.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

warm_lm_opts warm_lm_opts_default(void) {
    warm_lm_opts o = {.max_len = 1024, .allow_unk = 0};
    return o;
}

/* Optional "split" and "id", as for preference rows. */
static warm_status read_meta(const warm_jsonl_reader *r, const cJSON *obj, warm_lmdata *d, warm_lm_row *row,
                             warm_error *err) {
    warm_status s = warm_jsonl_get_name(r, obj, "split", &d->split_names, &row->split, err);
    return s == WARM_OK ? warm_jsonl_get_label(r, obj, "id", &d->strs, &row->id_off, err) : s;
}

/* Tokens of one row into the pool; row->kind, prompt_len and len set. */
static warm_status read_tokens(const warm_jsonl_reader *r, const cJSON *obj, const warm_tokenizer *tok,
                               int allow_unk, warm_lmdata *d, warm_lm_row *row, warm_error *err) {
    const char *text = NULL, *prompt = NULL, *completion = NULL;
    int has_text = 0, has_prompt = 0, has_completion = 0, n = 0;
    warm_status s = warm_jsonl_get_str(r, obj, "text", 0, &text, &has_text, err);
    if (s == WARM_OK) s = warm_jsonl_get_str(r, obj, "prompt", 0, &prompt, &has_prompt, err);
    if (s == WARM_OK) s = warm_jsonl_get_str(r, obj, "completion", 0, &completion, &has_completion, err);
    if (s != WARM_OK) return s;
    if (has_text && (has_prompt || has_completion))
        return warm_jsonl_fail(r, err, WARM_ERR_FORMAT, "a row holds either \"text\" or \"prompt\" and "
                               "\"completion\", not both");
    if (has_text) {
        row->kind = WARM_LM_TEXT;
        s = warm_jsonl_tokenize(r, "text", tok, text, allow_unk, 1, &d->ids, &n, err);
        row->len = n;
        return s;
    }
    if (!has_prompt && !has_completion)
        return warm_jsonl_fail(r, err, WARM_ERR_FORMAT, "missing \"text\" (pretraining) or \"prompt\" and "
                               "\"completion\" (SFT)");
    if (!has_prompt || !has_completion)
        return warm_jsonl_fail(r, err, WARM_ERR_FORMAT, "missing \"%s\"", has_prompt ? "completion" : "prompt");
    row->kind = WARM_LM_SFT;
    s = warm_jsonl_tokenize(r, "prompt", tok, prompt, allow_unk, 0, &d->ids, &n, err);
    if (s != WARM_OK) return s;
    row->prompt_len = n;
    s = warm_jsonl_tokenize(r, "completion", tok, completion, allow_unk, 1, &d->ids, &n, err);
    row->len = row->prompt_len + n;
    return s;
}

static warm_status push_row(warm_lmdata *d, int64_t *cap, const warm_lm_row *row, warm_error *err) {
    if (d->n == *cap) {
        int64_t c = *cap ? *cap * 2 : 256;
        warm_lm_row *p = realloc(d->rows, (size_t)c * sizeof *p);
        if (!p) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory (%" PRId64 " rows)", c);
        d->rows = p;
        *cap = c;
    }
    d->rows[d->n++] = *row;
    return WARM_OK;
}

/* Applies the length rules; returns 1 when the row is kept (its ids otherwise rolled back). */
static int apply_length_rules(warm_lmdata *d, warm_lm_row *row, int max_len) {
    if (max_len > 0 && row->len > max_len) {
        if (row->kind == WARM_LM_SFT) {
            d->ids.n = row->off;
            d->n_dropped_long++;
            return 0;
        }
        row->len = max_len;
        row->truncated = 1;
        d->ids.n = row->off + max_len;
    }
    if (row->len < 2) {
        d->ids.n = row->off;
        d->n_dropped_empty++;
        return 0;
    }
    d->n_truncated += row->truncated;
    return 1;
}

warm_status warm_lm_load(warm_lmdata *d, const char *path, const warm_tokenizer *tok, const warm_lm_opts *opts,
                         warm_error *err) {
    memset(d, 0, sizeof *d);
    if (!tok) return warm_error_set(err, WARM_ERR_ARG, "%s: LM data needs a tokenizer", path);
    warm_lm_opts o = opts ? *opts : warm_lm_opts_default();
    d->vocab_size = warm_tok_vocab_size(tok);
    d->pad_id = warm_tok_pad(tok);
    d->eos_id = warm_tok_eos(tok);
    warm_jsonl_reader *r;
    warm_status s = warm_jsonl_open(&r, path, err);
    if (s != WARM_OK) return s;
    int64_t cap = 0;
    for (;;) {
        const cJSON *obj;
        if ((s = warm_jsonl_next(r, &obj, err)) != WARM_OK || !obj) break;
        d->n_lines++;
        warm_lm_row row;
        memset(&row, 0, sizeof row);
        row.off = d->ids.n;
        row.line = warm_jsonl_lineno(r);
        if ((s = read_tokens(r, obj, tok, o.allow_unk, d, &row, err)) != WARM_OK) break;
        if ((s = read_meta(r, obj, d, &row, err)) != WARM_OK) break;
        if (!apply_length_rules(d, &row, o.max_len)) continue;
        if ((s = push_row(d, &cap, &row, err)) != WARM_OK) {
            warm_error_prefix(err, "%s", path);
            break;
        }
        if (row.len > d->max_seq) d->max_seq = row.len;
        if (row.kind == WARM_LM_SFT) d->n_sft++;
        else d->n_text++;
    }
    warm_jsonl_close(r);
    if (s != WARM_OK) warm_lm_free(d);
    return s;
}

void warm_lm_free(warm_lmdata *d) {
    if (!d) return;
    free(d->rows);
    warm_ids_free(&d->ids);
    warm_strpool_free(&d->strs);
    warm_names_free(&d->split_names);
    memset(d, 0, sizeof *d);
}

const char *warm_lm_split(const warm_lmdata *d, int64_t i) {
    WARM_CHECK(i >= 0 && i < d->n, "row %" PRId64 " of %" PRId64, i, d->n);
    int32_t k = d->rows[i].split;
    return k >= 0 ? d->split_names.v[k] : NULL;
}

const char *warm_lm_id(const warm_lmdata *d, int64_t i) {
    WARM_CHECK(i >= 0 && i < d->n, "row %" PRId64 " of %" PRId64, i, d->n);
    return d->rows[i].id_off >= 0 ? d->strs.v + d->rows[i].id_off : NULL;
}

warm_status warm_lm_subset(const warm_lmdata *d, const char *splits, int kind, int64_t **idx, int64_t *n,
                           warm_error *err) {
    *n = 0;
    *idx = malloc((size_t)(d->n > 0 ? d->n : 1) * sizeof **idx);
    if (!*idx) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory (subset of %" PRId64 " rows)", d->n);
    for (int64_t i = 0; i < d->n; i++) {
        if (splits && !warm_names_listed(splits, warm_lm_split(d, i))) continue;
        if (kind >= 0 && d->rows[i].kind != kind) continue;
        (*idx)[(*n)++] = i;
    }
    return WARM_OK;
}

warm_lm_view warm_lm_view_row(const warm_lmdata *d, int64_t i) {
    WARM_CHECK(i >= 0 && i < d->n, "row %" PRId64 " of %" PRId64, i, d->n);
    const warm_lm_row *row = &d->rows[i];
    warm_lm_view v = {
        .prompt = d->ids.v + row->off,
        .prompt_len = row->prompt_len,
        .completion = d->ids.v + row->off + row->prompt_len,
        .completion_len = row->len - row->prompt_len,
    };
    return v;
}

warm_status warm_lm_batch(const warm_lmdata *d, const int64_t *rows, int B, int T, int32_t *tokens, int32_t *targets,
                          float *loss_mask, int32_t *lengths, int *T_used, warm_error *err) {
    if (B <= 0 || T < 0) return warm_error_set(err, WARM_ERR_ARG, "LM batch: B = %d, T = %d", B, T);
    int need = 0;
    for (int b = 0; b < B; b++) {
        if (rows[b] < 0 || rows[b] >= d->n)
            return warm_error_set(err, WARM_ERR_ARG, "LM batch: row index %" PRId64 " outside [0, %" PRId64 ")",
                                  rows[b], d->n);
        const warm_lm_row *row = &d->rows[rows[b]];
        if (row->len > need) need = row->len;
        if (T > 0 && row->len > T)
            return warm_error_set(err, WARM_ERR_ARG, "LM batch: row %" PRId64 " (line %" PRId64 ") has %d tokens, "
                                  "more than T = %d (load with max_len <= T)", rows[b], row->line, row->len, T);
    }
    int Tu = T > 0 ? T : need;
    for (int b = 0; b < B; b++) {
        const warm_lm_row *row = &d->rows[rows[b]];
        const int32_t *src = d->ids.v + row->off;
        int32_t *tok = tokens + (size_t)b * (size_t)Tu, *tgt = targets + (size_t)b * (size_t)Tu;
        float *mask = loss_mask + (size_t)b * (size_t)Tu;
        int len = row->len;
        for (int t = 0; t < Tu; t++) {
            int has_next = t + 1 < len;
            tok[t] = t < len ? src[t] : d->pad_id;
            tgt[t] = has_next ? src[t + 1] : 0;
            mask[t] = has_next && t + 1 >= row->prompt_len ? 1.0f : 0.0f;
        }
        lengths[b] = len;
    }
    *T_used = Tu;
    return WARM_OK;
}
