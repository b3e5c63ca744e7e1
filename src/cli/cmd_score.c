/*
 * cmd_score.c — `warm score`: adds a reward-model score to every row of a JSONL file.
 *
 * Row forms (each line may use either):
 *   response row  "prompt" (or "prompt_ids") + "response" / "completion" (text) or "response_ids"
 *                 -> adds "reward"
 *   pair row      optional "prompt" / "prompt_ids", "chosen" + "rejected" (text) or "chosen_ids" + "rejected_ids"
 *                 -> adds "reward_chosen" and "reward_rejected"
 * Every other field is kept as it is; an existing reward field is replaced. Token ids are scored as they are;
 * text responses get EOS appended as the preference loader does (unless they end with it already), unless
 * the row says "eos": false (rows written by `warm sample` carry "response_ids" and "eos", and the ids win).
 *
 * Prefix reuse: consecutive rows with the same prompt tokens (N samples of one prompt, as `warm sample`
 * writes them) form one group whose prompt is computed once for all their responses (warm_scorer_groups);
 * a pair row without a prompt shares the leading tokens its two sides have in common. Rows are scored in
 * batches of about --batch rows (a run of one prompt is not split unless it exceeds 16 batches), then written
 * in input order. Output is atomic; an error names the input line.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "warm/data.h"
#include "warm/eval.h"
#include "warm/model.h"
#include "warm/progress.h"
#include "warm/tokenizer.h"

static const char *const strategy_choices[] = {"auto", "packed", "batched", "decode", NULL};

typedef struct {
    const char *rm, *data, *tok, *out;
    int strategy, max_rows, batch, allow_unk;
} score_args;

/* One pending input row. Prompt tokens live in the prompt pool, responses in the response pool (the
 * responses of consecutive rows are therefore contiguous, as a group's continuations must be). */
typedef struct {
    cJSON *row;          /* deep copy of the input object, written out after scoring */
    int64_t line;
    int pair;            /* 0: one response; 1: chosen and rejected */
    int64_t p_off;       /* prompt in the prompt pool */
    int32_t p_len;
    int64_t r_off;       /* responses in the response pool: one, or chosen then rejected */
    int32_t r_len[2];
    int32_t shared;      /* pair without a prompt: leading tokens of the chosen side shared with the rejected
                            side, stored once (the rejected side is stored from there on) */
    float reward[2];
} pending_row;

typedef struct {
    const score_args *a;
    const warm_model *m;
    const warm_tokenizer *tok;
    warm_scorer *sc;
    warm_jsonl_writer *w;
    pending_row *rows;
    int64_t n, cap;
    warm_ids prompts, resps;
    warm_eval_group *groups;
    int *lens;
    float *rewards;
    int64_t n_rows, n_seq, n_groups;
} score_state;

static int has_key(const cJSON *obj, const char *key) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    return it && !cJSON_IsNull(it);
}

/* Appends the tokens of a text or id field to pool; *n = count. ids: taken as they are; text: EOS appended
 * when eos. */
static warm_status read_seq(score_state *s, const warm_jsonl_reader *r, const cJSON *obj, const char *text_key,
                            const char *ids_key, int eos, warm_ids *pool, int32_t *n, warm_error *err) {
    int cnt = 0, present = 0;
    warm_status st = warm_jsonl_get_ids(r, obj, ids_key, 0, s->m->cfg.vocab_size, pool, &cnt, &present, err);
    if (st || present) {
        *n = cnt;
        return st;
    }
    const char *text = NULL;
    st = warm_jsonl_get_str(r, obj, text_key, 1, &text, NULL, err);
    if (st) return st;
    if (!s->tok)
        return warm_jsonl_fail(r, err, WARM_ERR_ARG, "\"%s\" is text: pass --tokenizer (or give \"%s\")", text_key,
                               ids_key);
    st = warm_jsonl_tokenize(r, text_key, s->tok, text, s->a->allow_unk, eos, pool, &cnt, err);
    *n = cnt;
    return st;
}

/* Parses one input row into a pending row (tokens appended to the pools). */
static warm_status read_row(score_state *s, const warm_jsonl_reader *r, const cJSON *obj, pending_row *p,
                            warm_error *err) {
    memset(p, 0, sizeof *p);
    p->line = warm_jsonl_lineno(r);
    int is_pair = has_key(obj, "chosen") || has_key(obj, "chosen_ids") || has_key(obj, "rejected") ||
                  has_key(obj, "rejected_ids");
    int is_resp = has_key(obj, "response") || has_key(obj, "response_ids") || has_key(obj, "completion");
    if (is_pair && is_resp)
        return warm_jsonl_fail(r, err, WARM_ERR_FORMAT, "has both a response and chosen/rejected fields");
    if (!is_pair && !is_resp)
        return warm_jsonl_fail(r, err, WARM_ERR_FORMAT, "needs \"response\" (or \"completion\", \"response_ids\") "
                               "or \"chosen\" and \"rejected\"");
    if (has_key(obj, "response") && has_key(obj, "completion") && !has_key(obj, "response_ids"))
        return warm_jsonl_fail(r, err, WARM_ERR_FORMAT, "has both \"response\" and \"completion\"");
    int eos = 1, eos_present = 0;
    warm_status st = warm_jsonl_get_bool(r, obj, "eos", 0, &eos, &eos_present, err);
    if (st) return st;
    if (!eos_present) eos = 1;
    /* Prompt: required for a response row, optional for a pair. */
    p->p_off = s->prompts.n;
    if (is_resp || has_key(obj, "prompt") || has_key(obj, "prompt_ids"))
        st = read_seq(s, r, obj, "prompt", "prompt_ids", 0, &s->prompts, &p->p_len, err);
    if (st) return st;
    p->r_off = s->resps.n;
    p->pair = is_pair;
    if (is_resp) {
        const char *key = has_key(obj, "response") ? "response" : "completion";
        st = read_seq(s, r, obj, key, "response_ids", eos, &s->resps, &p->r_len[0], err);
    } else {
        st = read_seq(s, r, obj, "chosen", "chosen_ids", eos, &s->resps, &p->r_len[0], err);
        if (!st) st = read_seq(s, r, obj, "rejected", "rejected_ids", eos, &s->resps, &p->r_len[1], err);
    }
    if (st) return st;
    int P = s->m->cfg.n_positions;
    for (int k = 0; k <= p->pair; k++) {
        int32_t len = p->p_len + p->r_len[k];
        if (len < 1) return warm_jsonl_fail(r, err, WARM_ERR_FORMAT, "prompt and response are both empty");
        if (len > P)
            return warm_jsonl_fail(r, err, WARM_ERR_FORMAT, "%s has %d tokens, more than the model's context %d",
                                   p->pair ? (k ? "prompt + rejected" : "prompt + chosen") : "prompt + response", len,
                                   P);
    }
    if (p->pair && p->p_len == 0) {
        /* Implicit prompt: keep the shared head of the two sides once (each side keeps >= 1 own token). */
        int32_t *c = s->resps.v + p->r_off, *j = c + p->r_len[0];
        int32_t lim = (p->r_len[0] < p->r_len[1] ? p->r_len[0] : p->r_len[1]) - 1, k = 0;
        while (k < lim && c[k] == j[k]) k++;
        if (k > 0) {
            memmove(j, j + k, (size_t)(p->r_len[1] - k) * sizeof(int32_t));
            s->resps.n -= k;
        }
        p->shared = k;
    }
    p->row = cJSON_Duplicate(obj, 1);
    if (!p->row) return warm_error_set(err, WARM_ERR_NOMEM, "score: out of memory");
    return WARM_OK;
}

static int same_prompt(const score_state *s, const pending_row *a, const pending_row *b) {
    return a->p_len > 0 && a->p_len == b->p_len &&
           memcmp(s->prompts.v + a->p_off, s->prompts.v + b->p_off, (size_t)a->p_len * sizeof(int32_t)) == 0;
}

static warm_status set_reward(cJSON *row, const char *key, float v, warm_error *err) {
    cJSON *num = cJSON_CreateNumber((double)v);
    if (!num) return warm_error_set(err, WARM_ERR_NOMEM, "score: out of memory");
    if (cJSON_GetObjectItemCaseSensitive(row, key)) cJSON_ReplaceItemInObjectCaseSensitive(row, key, num);
    else cJSON_AddItemToObject(row, key, num);
    return WARM_OK;
}

/* Scores pending rows [0, nflush) (groups of consecutive rows sharing a prompt) and writes them; a row left
 * over (nflush = n - 1) moves to the front of the batch with its tokens. */
static warm_status flush(score_state *s, int64_t nflush, warm_error *err) {
    if (nflush == 0) return WARM_OK;
    int64_t ng = 0, nseq = 0;
    /* Groups: a run of rows with one prompt, or one implicit-prompt pair with its shared head. */
    for (int64_t i = 0; i < nflush;) {
        pending_row *p = &s->rows[i];
        warm_eval_group *g = &s->groups[ng++];
        if (p->pair && p->p_len == 0) {
            g->prefix = s->resps.v + p->r_off;
            g->prefix_len = p->shared;
            g->n = 2;
            g->conts = s->resps.v + p->r_off + p->shared;
            g->lens = s->lens + nseq;
            s->lens[nseq++] = p->r_len[0] - p->shared;
            s->lens[nseq++] = p->r_len[1] - p->shared;
            i++;
            continue;
        }
        g->prefix = s->prompts.v + p->p_off;
        g->prefix_len = p->p_len;
        g->conts = s->resps.v + p->r_off;
        g->lens = s->lens + nseq;
        g->n = 0;
        int64_t j = i;
        do {
            const pending_row *q = &s->rows[j];
            for (int k = 0; k <= q->pair; k++) s->lens[nseq++] = q->r_len[k];
            g->n += 1 + q->pair;
            j++;
        } while (j < nflush && !(s->rows[j].pair && s->rows[j].p_len == 0) && same_prompt(s, p, &s->rows[j]));
        i = j;
    }
    warm_status st = warm_scorer_groups(s->sc, s->groups, ng, s->rewards, err);
    int64_t k = 0;
    for (int64_t i = 0; i < nflush && !st; i++) {
        pending_row *p = &s->rows[i];
        if (p->pair) {
            st = set_reward(p->row, "reward_chosen", s->rewards[k], err);
            if (!st) st = set_reward(p->row, "reward_rejected", s->rewards[k + 1], err);
            k += 2;
        } else {
            st = set_reward(p->row, "reward", s->rewards[k++], err);
        }
        if (!st) st = warm_jsonl_write(s->w, p->row, err);
    }
    s->n_rows += nflush;
    s->n_seq += nseq;
    s->n_groups += ng;
    for (int64_t i = 0; i < nflush; i++) cJSON_Delete(s->rows[i].row);
    int64_t left = s->n - nflush;
    if (left == 1) {
        /* Its tokens are the last ones of both pools. */
        pending_row keep = s->rows[nflush];
        size_t pn = (size_t)(s->prompts.n - keep.p_off), rn = (size_t)(s->resps.n - keep.r_off);
        memmove(s->prompts.v, s->prompts.v + keep.p_off, pn * sizeof(int32_t));
        memmove(s->resps.v, s->resps.v + keep.r_off, rn * sizeof(int32_t));
        keep.p_off = 0;
        keep.r_off = 0;
        s->rows[0] = keep;
        s->prompts.n = (int64_t)pn;
        s->resps.n = (int64_t)rn;
    } else {
        s->prompts.n = 0;
        s->resps.n = 0;
    }
    s->n = left;
    return st;
}

/* Room for one more pending row (and its two sequences and group). */
static warm_status grow(score_state *s, warm_error *err) {
    if (s->n < s->cap) return WARM_OK;
    int64_t cap = s->cap ? 2 * s->cap : 256;
    pending_row *rows = realloc(s->rows, (size_t)cap * sizeof *rows);
    if (rows) s->rows = rows;
    warm_eval_group *groups = rows ? realloc(s->groups, (size_t)cap * sizeof *groups) : NULL;
    if (groups) s->groups = groups;
    int *lens = groups ? realloc(s->lens, (size_t)cap * 2 * sizeof *lens) : NULL;
    if (lens) s->lens = lens;
    float *rw = lens ? realloc(s->rewards, (size_t)cap * 2 * sizeof *rw) : NULL;
    if (rw) s->rewards = rw;
    if (!rw) return warm_error_set(err, WARM_ERR_NOMEM, "score: out of memory (%" PRId64 " rows)", cap);
    s->cap = cap;
    return WARM_OK;
}

static warm_status score_file(score_state *s, warm_jsonl_reader *r, warm_progress *prog, warm_error *err) {
    warm_status st = WARM_OK;
    int64_t limit = 16 * (int64_t)s->a->batch;
    for (;;) {
        const cJSON *obj;
        st = warm_jsonl_next(r, &obj, err);
        if (st || !obj) break;
        st = grow(s, err);
        if (st) break;
        pending_row *p = &s->rows[s->n];
        st = read_row(s, r, obj, p, err);
        if (st) break;
        s->n++;
        /* Score the rows before this one when the batch is full and this row starts a new prompt (or the
         * batch reached its cap). */
        int64_t before = s->n - 1;
        if (before > 0 && (before >= limit || (before >= s->a->batch && !same_prompt(s, &s->rows[before - 1], p)))) {
            st = flush(s, before, err);
            if (st) break;
            warm_progress_update(prog, s->n_rows);
        }
    }
    if (!st) st = flush(s, s->n, err);
    return st;
}

static int run_score(const score_args *a) {
    warm_error err = {0};
    score_state s;
    memset(&s, 0, sizeof s);
    s.a = a;
    warm_model m;
    memset(&m, 0, sizeof m);
    warm_tokenizer *tok = NULL;
    warm_jsonl_reader *r = NULL;
    warm_status st = warm_model_load(&m, a->rm, 0, &err);
    if (!st && a->tok) st = warm_tok_open(&tok, a->tok, &err);
    if (!st && tok && warm_tok_vocab_size(tok) > m.cfg.vocab_size)
        st = warm_error_set(&err, WARM_ERR_MISMATCH, "%s has %d tokens, the model's vocabulary %d", a->tok,
                            warm_tok_vocab_size(tok), m.cfg.vocab_size);
    s.m = &m;
    s.tok = tok;
    warm_eval_opts o = warm_eval_opts_default();
    o.strategy = (warm_eval_strategy)a->strategy;
    o.max_rows = a->max_rows;
    if (!st) st = warm_scorer_init(&s.sc, &m, &o, &err);
    if (!st) st = warm_jsonl_open(&r, a->data, &err);
    if (!st) st = warm_jsonl_writer_open(&s.w, a->out, &err);
    warm_progress prog;
    warm_progress_init(&prog, stderr, "score", 0);
    if (!st) st = score_file(&s, r, &prog, &err);
    if (!st) st = warm_jsonl_writer_commit(s.w, &err);
    else if (s.w) warm_jsonl_writer_abort(s.w);
    if (!st) {
        warm_progress_update(&prog, s.n_rows);
        warm_progress_finish(&prog);
        warm_scorer_stats ss = warm_scorer_get_stats(s.sc);
        printf("score: %" PRId64 " rows, %" PRId64 " sequences in %" PRId64 " prompt groups -> %s\n", s.n_rows,
               s.n_seq, s.n_groups, a->out);
        printf("scoring: %.2f s, %.0f sequences/s, %.0f tokens/s (%s)\n", ss.seconds,
               ss.seconds > 0 ? (double)ss.sequences / ss.seconds : 0.0,
               ss.seconds > 0 ? (double)ss.seq_tokens / ss.seconds : 0.0,
               warm_eval_strategy_name((warm_eval_strategy)a->strategy));
    }
    for (int64_t i = 0; i < s.n; i++) cJSON_Delete(s.rows[i].row);
    free(s.rows);
    free(s.groups);
    free(s.lens);
    free(s.rewards);
    warm_ids_free(&s.prompts);
    warm_ids_free(&s.resps);
    warm_scorer_free(s.sc);
    warm_jsonl_close(r);
    warm_tok_free(tok);
    warm_model_free(&m);
    return st == WARM_OK ? CLI_EXIT_OK : cli_fail("score", &err);
}

int cli_cmd_score(int argc, char **argv) {
    score_args a;
    memset(&a, 0, sizeof a);
    warm_opt opts[] = {
        {.name = "rm", .kind = WARM_OPT_STRING, .dest = &a.rm, .metavar = "FILE", .required = 1,
         .help = "reward model checkpoint"},
        {.name = "data", .kind = WARM_OPT_STRING, .dest = &a.data, .metavar = "JSONL", .required = 1,
         .help = "rows with prompt + response (or completion, response_ids), or chosen + rejected"},
        CLI_OPT_TOKENIZER(&a.tok, 0, "needed for text fields"),
        {.name = "out", .short_name = 'o', .kind = WARM_OPT_STRING, .dest = &a.out, .metavar = "JSONL", .required = 1,
         .help = "the input rows with \"reward\" (or \"reward_chosen\", \"reward_rejected\") added"},
        {.name = "batch", .kind = WARM_OPT_INT, .dest = &a.batch, .min = 1, .max = 1 << 20, .def = "1024",
         .help = "rows scored together (a run of rows with one prompt is kept together)"},
        {.name = "strategy", .kind = WARM_OPT_CHOICE, .dest = &a.strategy, .choices = strategy_choices,
         .def = "auto", .help = "scoring engine (auto = packed; see docs/eval.md)"},
        {.name = "max-rows", .kind = WARM_OPT_INT, .dest = &a.max_rows, .min = 1, .max = 1 << 24, .def = "2048",
         .help = "token rows per forward pass (bounds memory)"},
        {.name = "allow-unk", .kind = WARM_OPT_FLAG, .dest = &a.allow_unk,
         .help = "map unknown words to <unk> instead of failing"},
    };
    warm_opts_cmd cmd = {
        .prog = "warm", .name = "score",
        .desc = "Adds a reward to each row of a JSONL file: \"reward\" for prompt + response rows,\n"
                "\"reward_chosen\" and \"reward_rejected\" for pair rows. Consecutive rows with the same\n"
                "prompt are scored with one prompt computation. Text responses get EOS appended unless the\n"
                "row has \"eos\": false; token ids (response_ids, *_ids) are scored as they are.",
        .opts = opts, .nopts = CLI_NOPTS(opts),
        .epilog = "example: warm score --rm warm6.safetensors --tokenizer task/tokenizer.json \\\n"
                  "           --data samples.jsonl -o samples.scored.jsonl"};
    warm_opts_result res;
    int rc = cli_parse(&cmd, argc, argv, &res);
    if (rc != CLI_PARSE_OK) return cli_parse_exit(rc);
    int code = run_score(&a);
    warm_opts_free(&cmd, &res);
    return code;
}
