/*
 * eval.c — pairwise metrics, prediction ensembles and the baselines printed beside them (warm/eval.h,
 * docs/eval.md). Scoring engines live in score.c.
 *
 * Every sum runs in double in pair order, so the numbers are a pure function of the rewards.
 *   d_i = r+_i - r-_i (double)
 *   acc_ge = mean 1[d >= 0], acc_gt = mean 1[d > 0], ties = #{d == 0}, margin = mean d
 *   bt_loss = mean softplus(-d) = mean -log sigma(d), computed without overflow for any |d|
 *   ECE: p = sigma(d); folded confidence c = max(p, 1 - p) in [0.5, 1], outcome o = 1 when p > 0.5 (the
 *        model orders the pair as labelled), 0 when p < 0.5, 1/2 when p = 0.5; bin b = floor((c - 0.5) * 2B)
 *        (c = 1 goes to the last bin); ECE = sum_b (n_b / n) |mean_b o - mean_b c|.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warm/eval.h"

/* More bins than this are clamped (a bin then holds a handful of pairs at best). */
#define ECE_MAX_BINS 1000

static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }

void warm_eval_metrics(const float *r_chosen, const float *r_rejected, int64_t n, int ece_bins,
                       warm_pair_metrics *out) {
    out->n = n;
    out->ties = 0;
    if (n <= 0) {
        out->n = 0;
        out->acc_ge = out->acc_gt = out->margin = out->ece = out->bt_loss = (double)NAN;
        return;
    }
    int B = ece_bins > 0 ? ece_bins : 10;
    if (B > ECE_MAX_BINS) B = ECE_MAX_BINS;
    double bins[3 * ECE_MAX_BINS] = {0}; /* per bin: count, sum of confidence, sum of outcome */
    int64_t ge = 0, gt = 0;
    double margin = 0, loss = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)r_chosen[i] - (double)r_rejected[i];
        ge += d >= 0;
        gt += d > 0;
        out->ties += d == 0;
        margin += d;
        loss += softplus(-d);
        double p = sigmoid(d), conf = p >= 0.5 ? p : 1.0 - p;
        double outcome = p > 0.5 ? 1.0 : p < 0.5 ? 0.0 : 0.5;
        int b = (int)((conf - 0.5) * 2.0 * B);
        if (b >= B) b = B - 1;
        if (b < 0) b = 0;
        bins[3 * b] += 1;
        bins[3 * b + 1] += conf;
        bins[3 * b + 2] += outcome;
    }
    double ece = 0;
    for (int b = 0; b < B; b++)
        if (bins[3 * b] > 0) ece += fabs(bins[3 * b + 2] - bins[3 * b + 1]) / (double)n;
    out->acc_ge = (double)ge / (double)n;
    out->acc_gt = (double)gt / (double)n;
    out->margin = margin / (double)n;
    out->bt_loss = loss / (double)n;
    out->ece = ece;
}

const char *warm_ens_name(warm_ens_kind k) {
    switch (k) {
    case WARM_ENS_MEAN: return "mean";
    case WARM_ENS_MIN: return "min";
    case WARM_ENS_MEAN_STD: return "mean-std";
    }
    return "?";
}

void warm_eval_ensemble(const float *const *scores, int M, int64_t n, warm_ens_kind kind, float lambda, float *out) {
    WARM_CHECK(M >= 1, "ensemble of %d members", M);
    for (int64_t i = 0; i < n; i++) {
        double sum = 0, mn = INFINITY;
        for (int k = 0; k < M; k++) {
            double v = (double)scores[k][i];
            sum += v;
            if (v < mn) mn = v;
        }
        double mean = sum / M;
        if (kind == WARM_ENS_MIN) {
            out[i] = (float)mn;
        } else if (kind == WARM_ENS_MEAN_STD) {
            double var = 0;
            for (int k = 0; k < M; k++) {
                double e = (double)scores[k][i] - mean;
                var += e * e;
            }
            out[i] = (float)(mean - (double)lambda * sqrt(var / M));
        } else {
            out[i] = (float)mean;
        }
    }
}

double warm_eval_length_baseline(const warm_prefs *d, const int64_t *idx, int64_t n) {
    if (n <= 0) return (double)NAN;
    double wins = 0;
    for (int64_t i = 0; i < n; i++) {
        const warm_pref_row *r = &d->rows[idx[i]];
        wins += r->chosen_len > r->rejected_len ? 1.0 : r->chosen_len == r->rejected_len ? 0.5 : 0.0;
    }
    return wins / (double)n;
}

void warm_eval_gold(const warm_prefs *d, const int64_t *idx, int64_t n, const float *r_chosen,
                    const float *r_rejected, warm_gold_metrics *out) {
    int64_t n_gold = 0, label = 0, rm = 0;
    for (int64_t i = 0; i < n; i++) {
        const warm_pref_row *r = &d->rows[idx[i]];
        if (isnan(r->gold_chosen) || isnan(r->gold_rejected) || r->gold_chosen == r->gold_rejected) continue;
        int gold_chosen_first = r->gold_chosen > r->gold_rejected;
        n_gold++;
        label += gold_chosen_first;
        if (r_chosen && r_rejected) rm += (r_chosen[i] >= r_rejected[i]) == gold_chosen_first;
    }
    out->n_gold = n_gold;
    out->label_gold = n_gold ? (double)label / (double)n_gold : (double)NAN;
    out->rm_gold = n_gold && r_chosen && r_rejected ? (double)rm / (double)n_gold : (double)NAN;
}

/* ================================================================ subsets */

typedef struct {
    char splits[1024]; /* comma-separated names ("unsplit" = rows without a split) */
    int any_split;
    int corrupted;     /* -1 any */
} subset_filter;

static warm_status parse_subset_spec(const char *spec, subset_filter *f, warm_error *err) {
    f->splits[0] = 0;
    f->any_split = 1;
    f->corrupted = -1;
    if (!spec) return WARM_OK;
    char buf[1024];
    if (strlen(spec) >= sizeof buf) return warm_error_set(err, WARM_ERR_ARG, "subset: spec too long");
    strcpy(buf, spec);
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq || eq == item || !eq[1])
            return warm_error_set(err, WARM_ERR_ARG, "subset: \"%s\" is not key=value (keys: split, corrupted)",
                                  item);
        *eq = 0;
        const char *key = item, *val = eq + 1;
        if (strcmp(key, "split") == 0) {
            size_t k = strlen(f->splits);
            if (k + strlen(val) + 2 >= sizeof f->splits)
                return warm_error_set(err, WARM_ERR_ARG, "subset: split list too long");
            if (k) f->splits[k++] = ',';
            for (const char *p = val; *p; p++) f->splits[k++] = *p == '|' ? ',' : *p;
            f->splits[k] = 0;
            f->any_split = 0;
        } else if (strcmp(key, "corrupted") == 0) {
            if (strcmp(val, "true") == 0) f->corrupted = 1;
            else if (strcmp(val, "false") == 0) f->corrupted = 0;
            else return warm_error_set(err, WARM_ERR_ARG, "subset: corrupted=%s: expected true or false", val);
        } else {
            return warm_error_set(err, WARM_ERR_ARG, "subset: unknown key \"%s\" (keys: split, corrupted)", key);
        }
    }
    return WARM_OK;
}

void warm_eval_subsets_free(warm_eval_subset *s, int n) {
    for (int i = 0; s && i < n; i++) free(s[i].idx);
    free(s);
}

/* Appends the subset (split, corrupted) when it has rows. */
static warm_status add_subset(const warm_prefs *d, warm_eval_subset *s, int *n, const char *name, int32_t split,
                              int corrupted, warm_error *err) {
    warm_eval_subset *t = &s[*n];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->split = split;
    t->corrupted = corrupted;
    t->idx = malloc((size_t)(d->n > 0 ? d->n : 1) * sizeof(int64_t));
    if (!t->idx) return warm_error_set(err, WARM_ERR_NOMEM, "subset: out of memory");
    for (int64_t i = 0; i < d->n; i++)
        if (d->rows[i].split == split && (corrupted < 0 || d->rows[i].corrupted == corrupted)) t->idx[t->n++] = i;
    if (t->n == 0) {
        free(t->idx);
        t->idx = NULL;
        return WARM_OK;
    }
    (*n)++;
    return WARM_OK;
}

warm_status warm_eval_subsets(const warm_prefs *d, const char *spec, warm_eval_subset **out, int *n_out,
                              warm_error *err) {
    *out = NULL;
    *n_out = 0;
    subset_filter f;
    warm_status st = parse_subset_spec(spec, &f, err);
    if (st) return st;
    int ns = d->split_names.n;
    /* Per split (slot ns: rows without one): rows, corrupted rows, first row. */
    int64_t *cnt = calloc((size_t)ns + 1, sizeof(int64_t)), *bad = calloc((size_t)ns + 1, sizeof(int64_t));
    int64_t *first = malloc(((size_t)ns + 1) * sizeof(int64_t));
    warm_eval_subset *s = calloc((size_t)3 * ((size_t)ns + 1), sizeof *s);
    if (!cnt || !bad || !first || !s) {
        free(cnt); free(bad); free(first); free(s);
        return warm_error_set(err, WARM_ERR_NOMEM, "subset: out of memory");
    }
    for (int k = 0; k <= ns; k++) first[k] = -1;
    for (int64_t i = 0; i < d->n; i++) {
        int k = d->rows[i].split >= 0 ? d->rows[i].split : ns;
        if (cnt[k]++ == 0) first[k] = i;
        bad[k] += d->rows[i].corrupted;
    }
    /* Splits in order of first appearance (the unsplit rows take their place too). */
    int n = 0;
    for (int visited = 0; visited <= ns && !st; visited++) {
        int k = -1;
        for (int j = 0; j <= ns; j++)
            if (first[j] >= 0 && (k < 0 || first[j] < first[k])) k = j;
        if (k < 0) break;
        first[k] = -1;
        const char *base = k < ns ? d->split_names.v[k] : ns == 0 ? "all" : "unsplit";
        if (!f.any_split && !warm_names_listed(f.splits, base)) continue;
        int32_t split = k < ns ? k : -1;
        char nm[96];
        if (f.corrupted < 0) {
            st = add_subset(d, s, &n, base, split, -1, err);
            if (!st && bad[k] > 0) {
                snprintf(nm, sizeof nm, "%.80s-clean", base);
                st = add_subset(d, s, &n, nm, split, 0, err);
                snprintf(nm, sizeof nm, "%.80s-corrupt", base);
                if (!st) st = add_subset(d, s, &n, nm, split, 1, err);
            }
        } else if (bad[k] == 0) {
            if (f.corrupted == 0) st = add_subset(d, s, &n, base, split, 0, err);
        } else {
            snprintf(nm, sizeof nm, "%.80s-%s", base, f.corrupted ? "corrupt" : "clean");
            st = add_subset(d, s, &n, nm, split, f.corrupted, err);
        }
    }
    free(cnt);
    free(bad);
    free(first);
    if (st) {
        warm_eval_subsets_free(s, n);
        return st;
    }
    *out = s;
    *n_out = n;
    return WARM_OK;
}
