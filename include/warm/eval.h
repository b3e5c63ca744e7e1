/*
 * warm/eval.h — reward-model evaluation: scoring preference pairs, pairwise accuracy both ways the field
 * uses it, margins, calibration, prediction ensembles.
 *
 * Accuracy rules (record which one a number used):
 *   acc_ge  = mean 1[r+ >= r-]   the WARM paper's rule (ties count as correct)
 *   acc_gt  = mean 1[r+ >  r-]   TRL / reward-bench v1 (strict)
 * Calibration: expected calibration error of p = sigma(r+ - r-) as the predicted probability that the
 * labelled order is right, over equal-width bins of p in [0.5, 1] after folding (p < 0.5 -> 1 - p,
 * outcome flipped), default 10 bins.
 */
#ifndef WARM_EVAL_H
#define WARM_EVAL_H

#include <stdint.h>

#include "warm/core.h"
#include "warm/data.h"
#include "warm/model.h"

/*
 * Rewards of both sides of pairs idx[0..n) of d under model m: r_chosen[i], r_rejected[i]. No dropout.
 * Deterministic and independent of the thread count. progress may be NULL.
 */
warm_status warm_eval_score_pairs(const warm_model *m, const warm_prefs *d, const int64_t *idx, int64_t n,
                                  float *r_chosen, float *r_rejected, warm_error *err);

typedef struct {
    int64_t n;          /* pairs */
    int64_t ties;       /* r+ == r- */
    double acc_ge;      /* ties count as correct (paper) */
    double acc_gt;      /* strict (reward-bench) */
    double margin;      /* mean r+ - r- */
    double ece;         /* expected calibration error of sigma(r+ - r-) */
    double bt_loss;     /* mean -log sigma(r+ - r-) */
} warm_pair_metrics;

void warm_eval_metrics(const float *r_chosen, const float *r_rejected, int64_t n, int ece_bins, warm_pair_metrics *out);

typedef enum { WARM_ENS_MEAN = 0, WARM_ENS_MIN = 1, WARM_ENS_MEAN_STD = 2 } warm_ens_kind;
/*
 * Prediction ensemble of M members' rewards (scores[k] has n values): mean (the paper's ENS), min (WCO),
 * mean - lambda * std (UWO; population std over members). out has n values.
 */
void warm_eval_ensemble(const float *const *scores, int M, int64_t n, warm_ens_kind kind, float lambda, float *out);

#endif
