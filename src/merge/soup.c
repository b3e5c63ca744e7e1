/*
 * soup.c — in-memory combinations for evaluation (warm_merge_into_model) and the soup selections of
 * warm_merge: greedy (model soups) and top (the paper's best-first M).
 *
 * Memory: one warm_model (the candidate) whatever M: every candidate is recomputed from the mapped inputs
 * by the same kernel as the streamed output, rounded through the output dtype, so the accuracy recorded
 * for a soup is the accuracy of the file that gets written. Greedy costs M single evaluations plus M − 1
 * candidate evaluations and reads each selected member once per candidate (O(M²) input reads, small next
 * to the evaluations).
 *
 * Greedy rule (Wortsman et al. 2022, "greedy soup"): rank by accuracy, best first (ties keep input order);
 * soup = {best}; for each next member, the candidate soup ∪ {member} (uniform mean) is kept when its
 * accuracy >= the soup's. The soup's accuracy never decreases, so it is >= the best member's.
 */
#include "merge/merge_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "warm/progress.h"

static warm_status check_table_tensor(const warm_tensor *t, const warm_ckpt *c, const warm_ckpt_tensor **out,
                                      warm_error *err) {
    const warm_ckpt_tensor *y = warm_ckpt_find(c, t->name);
    if (!y) return warm_error_set(err, WARM_ERR_MISMATCH, "%s: tensor '%s' is missing", c->path, t->name);
    if (!merge_is_float(y->t->dtype))
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: tensor '%s' has dtype %s (F32, F16 or BF16 expected)",
                              y->file->path, y->t->name, warm_dtype_name(y->t->dtype));
    int same = y->t->ndim == t->ndim;
    for (int d = 0; same && d < t->ndim; d++) same = y->t->shape[d] == t->shape[d];
    if (!same)
        return warm_error_set(err, WARM_ERR_MISMATCH, "%s: tensor '%s' does not have the model's shape [%lld%s%lld]",
                              y->file->path, y->t->name, (long long)t->shape[0], t->ndim > 1 ? ", " : "",
                              t->ndim > 1 ? (long long)t->shape[1] : 0LL);
    *out = y;
    return WARM_OK;
}

warm_status warm_merge_into_model(warm_model *m, const warm_ckpt *const *ck, const double *coef, int n, double divisor,
                                  warm_dtype round_to, warm_error *err) {
    if (n < 1 || !(divisor != 0.0) || !merge_is_float(round_to))
        return warm_error_set(err, WARM_ERR_ARG, "merge into model: need >= 1 checkpoint, a non-zero divisor and an "
                              "F32/F16/BF16 rounding");
    const warm_ckpt_tensor **x = calloc((size_t)n, sizeof *x);
    int nsc = 0;
    merge_scratch *sc = merge_scratch_alloc(1, &nsc);
    warm_status s = x && sc ? WARM_OK : warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
    int n_read = 0;
    for (int i = 0; i < n; i++) n_read += coef[i] != 0.0;
    const uint64_t block = merge_block_elems(n_read);
    for (int k = 0; k < m->n_tensors && !s; k++) {
        const warm_tensor *t = &m->tensors[k];
        for (int i = 0; i < n && !s; i++) s = check_table_tensor(t, ck[i], &x[i], err);
        if (s) break;
        merge_lin L = {.n = n, .x = x, .c = coef, .base = NULL, .div = divisor, .scale = 1.0, .round = round_to,
                       .through = 1};
        for (uint64_t first = 0; first < t->numel; first += block) {
            uint64_t cnt = t->numel - first < block ? t->numel - first : block;
            merge_lin_block(&L, first, cnt, m->params + t->offset + first, sc, nsc);
            for (int i = 0; i < n; i++)
                if (coef[i] != 0.0) merge_pages_release(x[i], first, cnt);
        }
    }
    free(x);
    merge_scratch_free(sc, nsc);
    return s;
}

/* ---------------------------------------------------------------------------------------------- selection */

typedef struct {
    const warm_ckpt **ck;     /* (n) */
    int n;
    const warm_merge_opts *o;
    warm_dtype round_to;
    warm_model m;
    double *c;                /* (n) scratch coefficients */
    warm_progress prog;
    int64_t evals;
} soup_ctx;

/* Accuracy of the uniform mean of the members with sel[i] != 0. */
static warm_status eval_subset(soup_ctx *S, const uint8_t *sel, double *acc, warm_error *err) {
    int k = 0;
    for (int i = 0; i < S->n; i++) {
        S->c[i] = sel[i] ? 1.0 : 0.0;
        k += sel[i] != 0;
    }
    warm_status s = warm_merge_into_model(&S->m, S->ck, S->c, S->n, (double)k, S->round_to, err);
    if (!s) s = S->o->eval(S->o->eval_ctx, &S->m, acc, err);
    if (!s && isnan(*acc)) s = warm_error_set(err, WARM_ERR_ARG, "the evaluator returned NaN");
    if (!s) {
        warm_progress_set_extra(&S->prog, "last acc %.4f", *acc);
        warm_progress_update(&S->prog, ++S->evals);
    }
    return s;
}

/* Ranks members by accuracy alone, best first; ties keep input order (insertion sort is stable). */
static warm_status rank_members(soup_ctx *S, uint8_t *sel, warm_merge_report *rep, warm_error *err) {
    for (int i = 0; i < S->n; i++) {
        memset(sel, 0, (size_t)S->n);
        sel[i] = 1;
        double acc;
        warm_status s = eval_subset(S, sel, &acc, err);
        if (s) return warm_error_prefix(err, "evaluating %s", S->ck[i]->path);
        int j = i;
        while (j > 0 && rep->ranking[j - 1].acc < acc) {
            rep->ranking[j] = rep->ranking[j - 1];
            j--;
        }
        rep->ranking[j] = (warm_merge_rank){.input = i, .acc = acc};
    }
    return WARM_OK;
}

static warm_status greedy(soup_ctx *S, uint8_t *sel, warm_merge_report *rep, warm_error *err) {
    memset(sel, 0, (size_t)S->n);
    sel[rep->ranking[0].input] = 1;
    rep->accepted[0] = 1;
    rep->step_acc[0] = rep->ranking[0].acc;
    double soup = rep->ranking[0].acc;
    for (int k = 1; k < S->n; k++) {
        int i = rep->ranking[k].input;
        sel[i] = 1;
        double acc;
        warm_status s = eval_subset(S, sel, &acc, err);
        if (s) return s;
        rep->step_acc[k] = acc;
        if (acc >= soup) {
            soup = acc;
            rep->accepted[k] = 1;
        } else {
            sel[i] = 0;
        }
    }
    rep->soup_acc = soup;
    return WARM_OK;
}

static warm_status top(soup_ctx *S, uint8_t *sel, warm_merge_report *rep, warm_error *err) {
    memset(sel, 0, (size_t)S->n);
    for (int k = 0; k < S->n; k++) {
        rep->step_acc[k] = NAN;
        rep->accepted[k] = k < S->o->top_m;
        if (k < S->o->top_m) sel[rep->ranking[k].input] = 1;
    }
    if (S->o->top_m == 1) {
        rep->soup_acc = rep->ranking[0].acc; /* the mean of one member is that member, bit for bit */
        return WARM_OK;
    }
    return eval_subset(S, sel, &rep->soup_acc, err);
}

warm_status merge_soup_select(const warm_ckpt *in, int n, const warm_merge_opts *o, warm_dtype round_to,
                              double *coef, warm_merge_report *rep, warm_error *err) {
    soup_ctx S;
    memset(&S, 0, sizeof S);
    S.n = n;
    S.o = o;
    S.round_to = round_to;
    warm_config cfg;
    warm_status s = warm_ckpt_model_config(&in[0], &cfg, err);
    if (s) return s;
    S.ck = calloc((size_t)n, sizeof *S.ck);
    S.c = calloc((size_t)n, sizeof *S.c);
    uint8_t *sel = calloc((size_t)n, 1);
    if (!S.ck || !S.c || !sel) s = warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n && !s; i++) S.ck[i] = &in[i];
    if (!s) s = warm_model_init(&S.m, &cfg, err);
    if (!s) {
        int64_t evals = n + (o->method == WARM_MERGE_GREEDY ? n - 1 : o->top_m > 1);
        warm_progress_init(&S.prog, o->progress, warm_merge_method_name(o->method), evals);
        s = rank_members(&S, sel, rep, err);
        if (!s) s = o->method == WARM_MERGE_GREEDY ? greedy(&S, sel, rep, err) : top(&S, sel, rep, err);
        if (!s) warm_progress_finish(&S.prog);
        else warm_progress_clear(&S.prog);
        warm_model_free(&S.m);
    }
    for (int i = 0; i < n && !s; i++) {
        coef[i] = sel[i] ? 1.0 : 0.0;
        rep->n_selected += sel[i] != 0;
    }
    free(S.ck);
    free(S.c);
    free(sel);
    return s;
}
