/*
 * gold.c — the fact parser and the gold reward g(post, summary) of include/warm/task.h.
 *
 * Everything works on token ids and allocates nothing: facts are found by scanning for the 4-word pattern
 * NAME VERB "the" OBJECT, and counts are recomputed by rescanning instead of stored (posts have < 100 words
 * and summaries a few dozen, so the O(n^2) scans cost microseconds). The text entry point tokenizes with
 * <unk> for unknown words and calls the id version.
 */
#include <stdlib.h>
#include <string.h>

#include "task/task_internal.h"

#define GOLD_NGRAM 4 /* repetition is counted on word 4-grams: one fact clause is exactly 4 words */

static int is_fact_at(const warm_task_world *w, const int32_t *ids, int n, int i) {
    return i + 3 < n && warm_task_word_category(w, ids[i]) == WARM_TASK_WORD_NAME &&
           warm_task_word_category(w, ids[i + 1]) == WARM_TASK_WORD_VERB && ids[i + 2] == w->article &&
           warm_task_word_category(w, ids[i + 3]) == WARM_TASK_WORD_OBJECT;
}

/* Next fact at or after *i; advances *i past it. 0 when there is none. */
static int next_fact(const warm_task_world *w, const int32_t *ids, int n, int *i, warm_fact *f) {
    for (; *i + 3 < n; (*i)++) {
        if (!is_fact_at(w, ids, n, *i)) continue;
        *f = (warm_fact){ids[*i], ids[*i + 1], ids[*i + 3], *i};
        *i += 4;
        return 1;
    }
    return 0;
}

int warm_task_parse_facts(const warm_task_world *w, const int32_t *ids, int n, warm_fact *facts, int max) {
    int count = 0, i = 0;
    warm_fact f;
    while (next_fact(w, ids, n, &i, &f)) {
        if (count < max) facts[count] = f;
        count++;
    }
    return count;
}

int warm_task_split_prompt(const warm_task_world *w, const int32_t *ids, int n) {
    for (int i = 0; i < n; i++)
        if (ids[i] == w->sep) return i;
    return n;
}

static int same_fact(const warm_fact *a, const warm_fact *b) {
    return a->name == b->name && a->verb == b->verb && a->object == b->object;
}

/* Statements of f in ids[0..n), counting only those that start before position `before`. */
static int count_fact(const warm_task_world *w, const int32_t *ids, int n, const warm_fact *f, int before) {
    int count = 0, i = 0;
    warm_fact g;
    while (next_fact(w, ids, n, &i, &g) && g.pos < before) count += same_fact(f, &g);
    return count;
}

/* Post side: total statements and distinct facts. */
static void post_facts(const warm_task_world *w, const int32_t *post, int n, int *total, int *distinct) {
    int i = 0;
    warm_fact f;
    *total = *distinct = 0;
    while (next_fact(w, post, n, &i, &f)) {
        (*total)++;
        *distinct += count_fact(w, post, n, &f, f.pos) == 0;
    }
}

/* Positions i whose 4-gram already started at an earlier position. */
static int repeated_ngrams(const int32_t *ids, int n) {
    int rep = 0;
    for (int i = 1; i + GOLD_NGRAM <= n; i++)
        for (int j = 0; j < i; j++)
            if (memcmp(ids + i, ids + j, GOLD_NGRAM * sizeof *ids) == 0) {
                rep++;
                break;
            }
    return rep;
}

/* Words outside the fact clauses, other than the connectives "and" "," "." and pads. */
static int extra_words(const warm_task_world *w, const int32_t *ids, int n) {
    int extra = 0, i = 0, start = 0;
    warm_fact f;
    for (;;) {
        int found = next_fact(w, ids, n, &i, &f), end = found ? f.pos : n;
        for (int j = start; j < end; j++)
            extra += ids[j] != w->pad && ids[j] != w->connective[0] && ids[j] != w->connective[1] &&
                     ids[j] != w->connective[2];
        if (!found) return extra;
        start = i;
    }
}

/* Summary side: coverage weight, covered, hallucinated, repeated and stated facts. */
static void summary_facts(const warm_task_world *w, const int32_t *post, int n_post, const int32_t *sum, int n_sum,
                          int *weight, warm_gold *g) {
    int i = 0;
    warm_fact f;
    *weight = 0;
    while (next_fact(w, sum, n_sum, &i, &f)) {
        g->n_stated++;
        if (count_fact(w, sum, n_sum, &f, f.pos) > 0) {
            g->n_repeated_facts++;
            continue;
        }
        int c = count_fact(w, post, n_post, &f, n_post);
        *weight += c;
        if (c > 0) g->n_covered++;
        else g->n_hallucinated++;
    }
}

double warm_task_gold_ids(const warm_task_world *w, const int32_t *prompt, int n_prompt, const int32_t *resp,
                          int n_resp, warm_gold *parts) {
    warm_gold g = {0};
    const warm_gold_weights *wt = &w->cfg.gold;
    int n_post = warm_task_split_prompt(w, prompt, n_prompt), total = 0, weight = 0, n_sum = 0;
    while (n_sum < n_resp && resp[n_sum] != w->eos) n_sum++;
    g.has_eos = n_sum < n_resp;
    for (int i = 0; i < n_sum; i++) g.n_words += resp[i] != w->pad;
    post_facts(w, prompt, n_post, &total, &g.n_post_facts);
    summary_facts(w, prompt, n_post, resp, n_sum, &weight, &g);
    g.coverage = total > 0 ? (double)weight / (double)total : 0.0;
    g.n_repeated = repeated_ngrams(resp, n_sum);
    g.over_budget = g.n_words > wt->budget ? g.n_words - wt->budget : 0;
    g.n_extra = extra_words(w, resp, n_sum);
    g.total = wt->coverage * g.coverage - wt->hallucination * g.n_hallucinated - wt->repetition * g.n_repeated -
              wt->length * g.over_budget - (g.has_eos ? 0.0 : wt->missing_eos) - wt->extra * g.n_extra;
    if (parts) *parts = g;
    return g.total;
}

/* Tokenizes text (unknown words -> <unk>) into a malloc'd array. */
static warm_status encode_all(const warm_task_world *w, const char *text, int32_t **ids, int *n, warm_error *err) {
    *ids = NULL;
    warm_tok_encode(w->tok, text, 1, NULL, 0, n, NULL); /* counts only: over the limit of 0 */
    *ids = malloc((size_t)(*n > 0 ? *n : 1) * sizeof **ids);
    if (!*ids) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
    return warm_tok_encode(w->tok, text, 1, *ids, *n, n, err);
}

warm_status warm_task_gold(const warm_task_world *w, const char *prompt, const char *summary, warm_gold *parts,
                           warm_error *err) {
    int32_t *p = NULL, *s = NULL;
    int np = 0, ns = 0;
    warm_status st = encode_all(w, prompt, &p, &np, err);
    if (st == WARM_OK) st = encode_all(w, summary, &s, &ns, err);
    if (st == WARM_OK) warm_task_gold_ids(w, p, np, s, ns, parts);
    free(p);
    free(s);
    return st;
}
