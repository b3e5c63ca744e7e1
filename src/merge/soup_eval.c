/*
 * soup_eval.c — the ready-made soup evaluator: pairwise accuracy (acc_ge, the paper's rule) of a model on
 * a preference set, through the evaluation module (warm/eval.h). Kept apart from soup.c so that code using
 * warm_merge with its own evaluator does not pull in the evaluation module.
 */
#include <stdlib.h>

#include "merge/merge_internal.h"
#include "warm/eval.h"

warm_status warm_merge_eval_prefs(void *ctx, const warm_model *m, double *acc, warm_error *err) {
    const warm_merge_prefs_eval *e = ctx;
    int64_t n = e->idx ? e->n : e->prefs->n;
    if (n <= 0) return warm_error_set(err, WARM_ERR_ARG, "no validation pairs to evaluate");
    int64_t *all = NULL;
    const int64_t *idx = e->idx;
    if (!idx) {
        all = malloc((size_t)n * sizeof *all);
        if (!all) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; i < n; i++) all[i] = i;
        idx = all;
    }
    float *rc = malloc((size_t)n * sizeof *rc), *rr = malloc((size_t)n * sizeof *rr);
    warm_status s = rc && rr ? WARM_OK : warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
    if (!s) s = warm_eval_score_pairs(m, e->prefs, idx, n, rc, rr, err);
    if (!s) {
        warm_pair_metrics met;
        warm_eval_metrics(rc, rr, n, 10, &met);
        *acc = met.acc_ge;
    }
    free(all);
    free(rc);
    free(rr);
    return s;
}
