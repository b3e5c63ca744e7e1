/*
 * warm/eval.h — reward-model evaluation: scoring preference pairs, pairwise accuracy both ways the field
 * uses it, margins, calibration, prediction ensembles (docs/eval.md).
 *
 * Accuracy rules (record which one a number used):
 *   acc_ge  = mean 1[r+ >= r-]   the WARM paper's rule (ties count as correct)
 *   acc_gt  = mean 1[r+ >  r-]   TRL / reward-bench v1 (strict)
 * Calibration: expected calibration error of p = sigma(r+ - r-) as the predicted probability that the
 * labelled order is right, over equal-width bins of p in [0.5, 1] after folding (p < 0.5 -> 1 - p,
 * outcome flipped), default 10 bins. An exact tie (p = 0.5) predicts neither order: its outcome counts 1/2.
 *
 * Scoring. Every reward is the model's reward head at the last token of prompt + response (the pooling rule
 * of warm/model.h), without dropout. Three engines compute the same numbers (to float rounding):
 *   PACKED   (default, the fastest measured): token rows of many groups (a shared prefix and its
 *            continuations, e.g. a prompt and the two responses of a pair) packed back to back, no padding;
 *            the prefix is computed once per group; every linear layer runs as one big GEMM over all rows
 *            and each row attends to its group's prefix and its own continuation. The last layer runs its
 *            attention output and MLP only for the rows whose reward is read.
 *   BATCHED  warm_trainer_rewards over (B, T) right-padded full sequences, sorted by length to limit
 *            padding; recomputes a shared prompt for every sequence.
 *   DECODE   the decode path: one warm_decode_prefill of the shared prefix and one warm_decode_extend of
 *            the continuations per group (what warm_score_responses does, with buffers reused).
 * All are deterministic and independent of the thread count; with PACKED a sequence's reward also does not
 * depend on what else is scored in the same call (a subset scored alone gets the bits it gets inside the
 * whole set). Memory is bounded by max_rows (token rows per forward pass), not by the number of pairs.
 * Measured speeds: docs/eval.md.
 */
#ifndef WARM_EVAL_H
#define WARM_EVAL_H

#include <stdint.h>

#include "warm/core.h"
#include "warm/data.h"
#include "warm/model.h"
#include "warm/progress.h"

typedef enum {
    WARM_EVAL_AUTO = 0,    /* the default engine: PACKED */
    WARM_EVAL_PACKED = 1,
    WARM_EVAL_BATCHED = 2,
    WARM_EVAL_DECODE = 3,
} warm_eval_strategy;

/* Name of an engine ("packed", "batched", "decode"; AUTO gives the engine it stands for). */
const char *warm_eval_strategy_name(warm_eval_strategy s);
/* Parses "auto", "packed", "batched" or "decode"; -1 for anything else. */
int warm_eval_strategy_parse(const char *name);

typedef struct {
    warm_eval_strategy strategy;
    int max_rows;            /* token rows per forward pass (memory bound); <= 0: default 2048. Raised to the
                                model context when smaller (one sequence must fit) */
    warm_progress *progress; /* may be NULL; advanced by pairs (pair functions) or sequences (group functions) */
} warm_eval_opts;
/* Defaults: AUTO, 2048 rows, no progress. */
warm_eval_opts warm_eval_opts_default(void);

/*
 * Rewards of both sides of pairs idx[0..n) of d under model m: r_chosen[i], r_rejected[i]. No dropout.
 * Deterministic and independent of the thread count. Uses the default options (no progress).
 * Errors: a token outside the model's vocabulary or a sequence longer than its context (WARM_ERR_ARG naming
 * the data line), out of memory.
 */
warm_status warm_eval_score_pairs(const warm_model *m, const warm_prefs *d, const int64_t *idx, int64_t n,
                                  float *r_chosen, float *r_rejected, warm_error *err);
/* The same with options (engine, memory bound, progress); opts NULL = defaults. */
warm_status warm_eval_score_pairs_ex(const warm_model *m, const warm_prefs *d, const int64_t *idx, int64_t n,
                                     const warm_eval_opts *opts, float *r_chosen, float *r_rejected,
                                     warm_error *err);

/*
 * A group of sequences that share their first prefix_len tokens: sequence k = prefix + continuation k.
 * conts holds the n continuations back to back (sum of lens tokens); a continuation of length 0 scores
 * the prefix itself (its reward is read at the last prefix token; needs prefix_len >= 1). Every sequence
 * must have 1..n_positions tokens.
 */
typedef struct {
    const int32_t *prefix;  /* (prefix_len); may be NULL when prefix_len == 0 */
    int32_t prefix_len;     /* >= 0 */
    int32_t n;              /* continuations, >= 1 */
    const int32_t *conts;   /* (sum of lens) */
    const int *lens;        /* (n), >= 0 */
} warm_eval_group;

/*
 * A reusable scorer for one model: engine buffers are allocated once and kept across calls (the model must
 * outlive it and must not change size). Counters in warm_scorer_stats.
 */
typedef struct warm_scorer warm_scorer;
warm_status warm_scorer_init(warm_scorer **s, const warm_model *m, const warm_eval_opts *opts, warm_error *err);
void warm_scorer_free(warm_scorer *s);
/* Rewards of every sequence of groups g[0..ng), group by group: rewards has sum of g[i].n values. */
warm_status warm_scorer_groups(warm_scorer *s, const warm_eval_group *g, int64_t ng, float *rewards,
                               warm_error *err);
/* As warm_eval_score_pairs_ex with this scorer. Each pair is one group: its shared prefix
 * (warm_pref_shared_prefix) and the two remainders. */
warm_status warm_scorer_pairs(warm_scorer *s, const warm_prefs *d, const int64_t *idx, int64_t n, float *r_chosen,
                              float *r_rejected, warm_error *err);

typedef struct {
    int64_t sequences;     /* rewards computed */
    int64_t seq_tokens;    /* tokens of those full sequences (prompt + response each): the work of a naive scorer */
    int64_t rows;          /* token rows the engine ran through the model (padding and recomputation included) */
    double seconds;        /* wall time spent in the scoring calls */
} warm_scorer_stats;
warm_scorer_stats warm_scorer_get_stats(const warm_scorer *s);

/* One-shot group scoring (a scorer for the duration of the call); opts NULL = defaults. */
warm_status warm_eval_score_groups(const warm_model *m, const warm_eval_group *g, int64_t ng,
                                   const warm_eval_opts *opts, float *rewards, warm_error *err);

/* ------------------------------------------------------------------------------------------------------ */
/* Metrics                                                                                                  */

typedef struct {
    int64_t n;          /* pairs */
    int64_t ties;       /* r+ == r- */
    double acc_ge;      /* ties count as correct (paper) */
    double acc_gt;      /* strict (reward-bench) */
    double margin;      /* mean r+ - r- */
    double ece;         /* expected calibration error of sigma(r+ - r-) */
    double bt_loss;     /* mean -log sigma(r+ - r-) */
} warm_pair_metrics;

/*
 * Metrics of n pairs (differences computed in double). ece_bins <= 0 means 10; more than 1000 are clamped to
 * 1000. With n = 0 every rate, mean and the ECE are NAN (n = ties = 0).
 */
void warm_eval_metrics(const float *r_chosen, const float *r_rejected, int64_t n, int ece_bins, warm_pair_metrics *out);

typedef enum { WARM_ENS_MEAN = 0, WARM_ENS_MIN = 1, WARM_ENS_MEAN_STD = 2 } warm_ens_kind;
/*
 * Prediction ensemble of M members' rewards (scores[k] has n values): mean (the paper's ENS), min (Coste et
 * al.'s WCO), mean - lambda * std (Eisenstein et al.'s MEAN_MINUS_STD, the std form of Coste's UWO, which
 * penalises the variance; population std over members, i.e. divided by M). Computed in double per element, members in order. out has n values (it may alias a
 * member: element i depends only on the members' element i).
 */
void warm_eval_ensemble(const float *const *scores, int M, int64_t n, warm_ens_kind kind, float lambda, float *out);
/* "mean", "min", "mean-std". */
const char *warm_ens_name(warm_ens_kind k);

/*
 * "Longer response wins" baseline on pairs idx[0..n) of d (formats.md §6): the fraction whose chosen
 * response has more tokens than the rejected one; equal lengths count 1/2 (a coin flip). NAN when n = 0.
 * Lengths are response tokens (EOS included for text rows); for implicit-prompt rows the whole sequences,
 * which differ by the same amount.
 */
double warm_eval_length_baseline(const warm_prefs *d, const int64_t *idx, int64_t n);

typedef struct {
    int64_t n_gold;     /* pairs with both gold rewards and gold_chosen != gold_rejected */
    double label_gold;  /* fraction of them whose label (chosen over rejected) agrees with the gold order */
    double rm_gold;     /* fraction where the RM's order agrees with the gold order (r+ >= r- orders chosen
                           first, the paper's tie rule) */
} warm_gold_metrics;
/* Gold-order agreement of pairs idx[0..n) of d, rewards r_chosen/r_rejected (n) in the same order as idx
 * (both NULL: the label agreement only, rm_gold = NAN). Rates are NAN when n_gold = 0. */
void warm_eval_gold(const warm_prefs *d, const int64_t *idx, int64_t n, const float *r_chosen,
                    const float *r_rejected, warm_gold_metrics *out);

/* ------------------------------------------------------------------------------------------------------ */
/* Subsets                                                                                                  */

/*
 * The evaluation subsets of a data set: every split present, in order of first appearance (named after the
 * split; "all" when no row has one, "unsplit" for the rows without one when others have one); a split with
 * corrupted rows also gets "<split>-clean" and "<split>-corrupt". spec (NULL = none) restricts them:
 * "split=NAME[|NAME...],corrupted=true|false", either key optional — only the listed splits ("unsplit"
 * names the rows without one), and with corrupted=... only the clean (or corrupted) rows of each split (named
 * "<split>-clean" / "<split>-corrupt" when the split has corrupted rows, else "<split>"). Empty subsets are
 * left out. A bad spec is WARM_ERR_ARG naming the item.
 */
typedef struct {
    char name[96];
    int32_t split;      /* index into d->split_names; -1: rows without a split */
    int corrupted;      /* -1 any, 0 clean rows only, 1 corrupted rows only */
    int64_t *idx;       /* (n) rows in file order (malloc'd) */
    int64_t n;
} warm_eval_subset;
warm_status warm_eval_subsets(const warm_prefs *d, const char *spec, warm_eval_subset **out, int *n_out,
                              warm_error *err);
void warm_eval_subsets_free(warm_eval_subset *s, int n);

/* ====================================================================================================== */
/* Linear mode connectivity: WA vs ENS vs Diag along the segment between two members (src/eval/lmc.c)     */

/*
 * The paper's E1/E2 diagnostic (Figures 3 and 4). For λ on a grid over [0, 1] and per evaluation subset:
 *   WA_λ    Acc(r_{(1−λ)φ_a + λφ_b})          weights interpolated in memory (warm_lmc_interpolate)
 *   ENS_λ   Acc((1−λ) r_{φ_a} + λ r_{φ_b})    rewards interpolated: (float)((1−λ) r_a + λ r_b) in double
 *   Diag_λ  (1−λ) Acc(φ_a) + λ Acc(φ_b)       the straight line between the endpoints
 * each with both accuracy rules (acc_ge, the paper's; acc_gt). The endpoints are scored once (their rewards
 * give ENS and Diag at every λ and WA at λ = 0 and 1, where the interpolation returns φ_a and φ_b bit for
 * bit); WA is scored once per interior λ. Every model scores the union of the subsets once; a subset's
 * numbers are those of its rows (the packed engine gives a row the same bits whatever else is scored).
 * No file is written: one warm_model holds the interpolated weights.
 */
#include "warm/merge.h"

typedef struct {
    int grid;               /* λ_i = i / (grid − 1), i = 0..grid−1; 2..1001. 0.5 is on it iff grid is odd */
    const char *subset;     /* warm_eval_subsets spec; NULL: every subset */
    warm_eval_opts eval;    /* engine, memory bound, progress (advanced by pairs; grid evaluations of the
                               union in all: the 2 endpoints and the grid − 2 interior λ) */
} warm_lmc_opts;
/* grid 11, every subset, default scoring options. */
warm_lmc_opts warm_lmc_opts_default(void);

typedef struct {
    double lambda;
    double wa_ge, wa_gt;     /* weight average */
    double ens_ge, ens_gt;   /* prediction ensemble */
    double diag_ge, diag_gt; /* straight line between the endpoints' accuracies */
} warm_lmc_point;

typedef struct {
    char name[96];           /* as warm_eval_subsets names it */
    int32_t split;           /* index into the data's split_names; -1: rows without a split */
    int corrupted;           /* -1 any, 0 clean rows, 1 corrupted rows */
    int64_t n;               /* pairs */
    warm_lmc_point *pts;     /* (n_lambda) */
    /* At λ = 0.5 (NAN when the grid lacks it): WA − Diag and WA − ENS, with each rule. */
    double gain_wa_diag_ge, gain_wa_ens_ge, gain_wa_diag_gt, gain_wa_ens_gt;
} warm_lmc_subset;

typedef struct {
    int n_lambda;
    double *lambda;          /* (n_lambda) */
    int mid;                 /* index of λ = 0.5, or -1 */
    int n_subsets;
    warm_lmc_subset *subsets; /* (n_subsets) */
    int64_t n_scored;        /* pairs in the union of the subsets */
    int n_evals;             /* model evaluations of the union (2 + interior λ) */
    double seconds;          /* wall time spent scoring */
} warm_lmc_result;
/* Frees the arrays (safe on a zeroed result). */
void warm_lmc_result_free(warm_lmc_result *r);

/*
 * Checks that a and b can be interpolated: the same GPT-2 config (sizes, heads, token ids; training-only
 * fields such as dropout may differ), the same tensor names (canonical keys) with the same shapes, and a
 * tensor floating in one exactly when it is in the other (the model's tensors must be F32/F16/BF16:
 * warm_lmc_interpolate). WARM_ERR_MISMATCH naming the tensor or field and both paths (WARM_ERR_FORMAT when
 * a checkpoint has no config); cfg (may be NULL) receives a's config.
 */
warm_status warm_lmc_check(const warm_ckpt *a, const warm_ckpt *b, warm_config *cfg, warm_error *err);

/*
 * m->params = (1 − λ) φ_a + λ φ_b (warm_merge_into_model with coefficients (1 − λ, λ), accumulated in double,
 * rounded once to F32). λ = 0 and 1 give the endpoints bit for bit (the other input is not read); λ = 0.5
 * gives the bits of the uniform merge of a and b (`warm merge a b`, F32 output). m must have the inputs'
 * config (warm_lmc_check).
 */
warm_status warm_lmc_interpolate(warm_model *m, const warm_ckpt *a, const warm_ckpt *b, double lambda,
                                 warm_error *err);

/*
 * The diagnostic on the pairs of d (loaded with a vocabulary and context the model covers). o NULL:
 * defaults. On success *r is filled (release with warm_lmc_result_free). Errors: warm_lmc_check's, a bad
 * grid or subset spec, no pairs (WARM_ERR_ARG), data outside the model's vocabulary or context
 * (WARM_ERR_MISMATCH), scoring errors, out of memory.
 */
warm_status warm_lmc_run(const warm_ckpt *a, const warm_ckpt *b, const warm_prefs *d, const warm_lmc_opts *o,
                         warm_lmc_result *r, warm_error *err);

/*
 * Writes r as CSV, atomically (temp file, fsync, rename): header
 *   subset,lambda,wa_acc_ge,wa_acc_gt,ens_acc_ge,ens_acc_gt,diag_acc_ge
 * then one row per subset and λ (subsets in order, λ ascending); numbers with %.10g, NaN as "nan"; a subset
 * name holding a comma, quote or newline is quoted (RFC 4180).
 */
warm_status warm_lmc_write_csv(const warm_lmc_result *r, const char *path, warm_error *err);

#endif
