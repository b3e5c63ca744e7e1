/*
 * report_seeds.c — the claims over several demo runs of one scale (different seeds): warm/report.h, "SEVERAL
 * SEEDS", and docs/report.md.
 *
 * Each run is loaded (report_load.c) and decided on its own (report_claims.c), which also records the scalar
 * statistics each claim rests on. Per claim, a run ENTERS when its own verdict is measured and it gives the
 * same statistics (same names, in order) as the first such run; every other run is listed with its reason.
 * Per statistic: mean, sample standard deviation s and the 95 % Student-t interval mean +- t s / sqrt(n),
 * t = t_{0.975, n-1} from the table below. Then the verdict of each statistic and of the claim.
 *
 * Memory: the per-run claims and statistics live in one allocation freed before returning; the rp_runs stay
 * loaded for the Markdown writer (rp_seeds_free).
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

/*
 * t_{0.975, df}: the two-sided 95 % quantiles of Student's t for df = 1..30, as printed (3 decimals) in the
 * standard tables, e.g. NIST/SEMATECH e-Handbook of Statistical Methods, section 1.3.6.7.2 "Critical values
 * of the Student's t distribution", column 0.975. test_report checks each against a numerical integral of the
 * t density.
 */
static const double t975[30] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};

double warm_report_t975(int df) { return df >= 1 && df <= 30 ? t975[df - 1] : RP_NAN; }

void warm_report_interval(const double *v, int n, int *n_used, double *mean, double *sd, double *lo, double *hi) {
    int k = 0, same = 1;
    double sum = 0, first = RP_NAN;
    for (int i = 0; i < n; i++) {
        if (isnan(v[i])) continue;
        if (k == 0) first = v[i];
        else if (v[i] != first) same = 0;
        sum += v[i];
        k++;
    }
    if (n_used) *n_used = k;
    *mean = k ? sum / k : RP_NAN;
    *sd = *lo = *hi = RP_NAN;
    if (k < 2) return;
    if (same) { /* exact: the rounding of sum / k must not move equal values off a threshold */
        *mean = first;
        *sd = 0;
        *lo = *hi = first;
        return;
    }
    double ss = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(v[i])) ss += (v[i] - *mean) * (v[i] - *mean);
    *sd = sqrt(ss / (k - 1));
    double half = warm_report_t975(k - 1) * *sd / sqrt((double)k);
    *lo = *mean - half;
    *hi = *mean + half;
}

warm_report_verdict warm_report_interval_verdict(warm_report_rule rule, double t, double lo, double hi) {
    if (isnan(lo) || isnan(hi) || rule == WARM_REPORT_INFO) return WARM_REPORT_NOT_MEASURED;
    int yes = 0, no = 0;
    switch (rule) {
    case WARM_REPORT_GT: yes = lo > t, no = hi <= t; break;
    case WARM_REPORT_GE: yes = lo >= t, no = hi < t; break;
    case WARM_REPORT_LT: yes = hi < t, no = lo >= t; break;
    case WARM_REPORT_LE: yes = hi <= t, no = lo > t; break;
    case WARM_REPORT_ALL: yes = lo >= 1, no = hi <= 0; break; /* lo, hi: the least and the most of the 0/1s */
    case WARM_REPORT_INFO: break;
    }
    return yes ? WARM_REPORT_HOLDS : no ? WARM_REPORT_DOES_NOT_HOLD : WARM_REPORT_INCONCLUSIVE;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Loading and checking the runs                                                                         */

void rp_seeds_free(rp_run *runs, int n) {
    for (int i = 0; i < n; i++) rp_run_free(&runs[i]);
}

/* Loads run i and checks it against the runs before it (scale, seed). */
static warm_status load_one(rp_run *runs, int i, const char *dir, warm_report_seeds *agg, warm_error *err) {
    warm_status s = rp_run_load(&runs[i], dir, err);
    if (s) return s;
    const rp_run *r = &runs[i];
    const char *scale = r->scale ? r->scale : r->plan_scale;
    double seed = !isnan(r->seed) ? r->seed : r->plan_seed;
    if (!scale)
        s = warm_error_set(err, WARM_ERR_ARG, "%s: no scale (run.json and plan.json missing or without \"scale\"): "
                           "cannot check that the runs share one", dir);
    else if (isnan(seed))
        s = warm_error_set(err, WARM_ERR_ARG, "%s: no seed (run.json and plan.json missing or without \"seed\"): "
                           "cannot check that the runs are independent", dir);
    else if (i == 0 && strlen(scale) >= sizeof agg->scale)
        s = warm_error_set(err, WARM_ERR_ARG, "%s: scale name \"%.40s...\" too long", dir, scale);
    else if (i > 0 && strcmp(scale, agg->scale) != 0)
        s = warm_error_set(err, WARM_ERR_ARG, "the runs mix scales: %s is a %s-scale run but %s is %s-scale; give "
                           "runs of one scale", agg->dirs[0], agg->scale, dir, scale);
    for (int j = 0; !s && j < i; j++)
        if (agg->seeds[j] == seed)
            s = warm_error_set(err, WARM_ERR_ARG, "%s and %s both have seed %g: the interval needs independent "
                               "runs (distinct seeds)", agg->dirs[j], dir, seed);
    if (s) {
        rp_run_free(&runs[i]);
        return s;
    }
    if (i == 0) snprintf(agg->scale, sizeof agg->scale, "%s", scale);
    agg->dirs[i] = dir;
    agg->seeds[i] = seed;
    return WARM_OK;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Aggregation                                                                                           */

/* Why run i cannot enter the claim ("" when it can); ref: the run whose statistics are the reference. */
static void why_unused(const warm_report_claim *c, const rp_stats *st, const rp_stats *ref, double ref_seed,
                       char *why, size_t n) {
    why[0] = 0;
    if (c->verdict == WARM_REPORT_NOT_MEASURED) {
        snprintf(why, n, "not measured: %s", c->detail);
        return;
    }
    if (st->overflow) {
        snprintf(why, n, "more than %d statistics", WARM_REPORT_MAX_STATS);
        return;
    }
    for (int j = 0; j < st->n; j++)
        if (st->s[j].rule != WARM_REPORT_INFO && !isfinite(st->s[j].value)) {
            snprintf(why, n, "%s is not a number", st->s[j].name);
            return;
        }
    if (!ref || ref == st) return;
    int same = ref->n == st->n;
    for (int j = 0; same && j < st->n; j++) same = strcmp(ref->s[j].name, st->s[j].name) == 0;
    if (!same) snprintf(why, n, "other statistics than the run with seed %g (another n ladder or member count?)",
                        ref_seed);
}

/* Severity order for the summary: the statistics that decide come first. */
static int severity(warm_report_verdict v) {
    return v == WARM_REPORT_DOES_NOT_HOLD ? 0 : v == WARM_REPORT_INCONCLUSIVE ? 1 : v == WARM_REPORT_HOLDS ? 2 : 3;
}

static const char *rule_str(warm_report_rule r) {
    static const char *const s[] = {">", ">=", "<", "<=", "all", "info"};
    return s[r];
}

/* The claim's numbers: n, then up to four statistics (the deciding ones first) as "name mean [lo, hi]". */
static void numbers(warm_report_seed_claim *a) {
    char *dst = a->claim.numbers;
    size_t cap = sizeof a->claim.numbers;
    snprintf(dst, cap, "n = %d seeds: ", a->n_used);
    int shown = 0;
    for (int sev = 0; sev <= 3; sev++)
        for (int j = 0; j < a->n_stats && shown < 4; j++) {
            const warm_report_stat *t = &a->stats[j];
            if (severity(t->verdict) != sev) continue;
            char m[32], l[32], h[32];
            /* Differences (threshold 0) signed, levels such as win rates plain. */
            const char *(*f)(char *, double) = t->threshold == 0 && t->rule != WARM_REPORT_INFO ? rp_s3 : rp_f3;
            if (t->rule == WARM_REPORT_ALL)
                rp_cat(dst, cap, "%s%s: %.0f of %d", shown ? "; " : "", t->name, t->mean * t->n, t->n);
            else
                rp_cat(dst, cap, "%s%s %s [%s, %s]", shown ? "; " : "", t->name, f(m, t->mean), f(l, t->lo), f(h, t->hi));
            shown++;
        }
    if (a->n_stats > shown) rp_cat(dst, cap, "; %d more below", a->n_stats - shown);
}

/* Verdict and detail of a claim from its statistics (n_used >= 2). */
static void decide(warm_report_seed_claim *a) {
    int bad = 0, unsure = 0, decided = 0;
    const char *first_bad = NULL, *first_unsure = NULL;
    for (int j = 0; j < a->n_stats; j++) {
        const warm_report_stat *t = &a->stats[j];
        if (t->rule == WARM_REPORT_INFO) continue;
        decided++;
        if (t->verdict == WARM_REPORT_DOES_NOT_HOLD && !bad++) first_bad = t->name;
        if (t->verdict == WARM_REPORT_INCONCLUSIVE && !unsure++) first_unsure = t->name;
    }
    char *d = a->claim.detail;
    size_t cap = sizeof a->claim.detail;
    d[0] = 0;
    if (decided == 0) {
        a->claim.verdict = WARM_REPORT_NOT_MEASURED;
        snprintf(d, cap, "no statistic to decide on");
    } else if (bad) {
        a->claim.verdict = WARM_REPORT_DOES_NOT_HOLD;
        snprintf(d, cap, "%d of %d statistics on the other side of the threshold, first: %s", bad, decided,
                 first_bad);
    } else if (unsure) {
        a->claim.verdict = WARM_REPORT_INCONCLUSIVE;
        snprintf(d, cap, "%d of %d statistics straddle the threshold, first: %s", unsure, decided, first_unsure);
    } else {
        a->claim.verdict = WARM_REPORT_HOLDS;
    }
}

static void aggregate_claim(warm_report_seeds *agg, int c, const warm_report_claim *claims, const rp_stats *stats) {
    int n = agg->n_runs;
    warm_report_seed_claim *a = &agg->claims[c];
    const warm_report_claim *first = &claims[c]; /* run 0's claim: id, texts */
    a->claim.id = first->id;
    a->claim.claim = first->claim;
    a->claim.source = first->source;
    /* The reference: the first run that can enter on its own. */
    const rp_stats *ref = NULL;
    double ref_seed = 0;
    int ref_i = -1;
    for (int i = 0; i < n && !ref; i++) {
        char why[160];
        why_unused(&claims[i * WARM_REPORT_NCLAIMS + c], &stats[i * WARM_REPORT_NCLAIMS + c], NULL, 0, why,
                   sizeof why);
        if (!why[0]) ref = &stats[i * WARM_REPORT_NCLAIMS + c], ref_seed = agg->seeds[i], ref_i = i;
    }
    for (int i = 0; i < n; i++) {
        const warm_report_claim *k = &claims[i * WARM_REPORT_NCLAIMS + c];
        a->run_verdict[i] = k->verdict;
        why_unused(k, &stats[i * WARM_REPORT_NCLAIMS + c], ref, ref_seed, a->why_unused[i], sizeof a->why_unused[i]);
        a->used[i] = ref && !a->why_unused[i][0];
        a->n_used += a->used[i];
    }
    if (!ref) { /* no run can enter */
        a->claim.verdict = WARM_REPORT_NOT_MEASURED;
        char why[sizeof a->why_unused[0]]; /* a copy: gcc cannot tell the two members of *agg apart */
        memcpy(why, a->why_unused[0], sizeof why);
        if (n == 1) snprintf(a->claim.detail, sizeof a->claim.detail, "%s", first->detail);
        else snprintf(a->claim.detail, sizeof a->claim.detail, "in no run; seed %g: %s", agg->seeds[0], why);
        return;
    }
    a->n_stats = ref->n;
    for (int j = 0; j < ref->n; j++) {
        warm_report_stat *t = &a->stats[j];
        snprintf(t->name, sizeof t->name, "%s", ref->s[j].name);
        t->rule = ref->s[j].rule;
        t->threshold = ref->s[j].threshold;
        for (int i = 0; i < n; i++)
            t->value[i] = a->used[i] ? stats[i * WARM_REPORT_NCLAIMS + c].s[j].value : RP_NAN;
        warm_report_interval(t->value, n, &t->n, &t->mean, &t->sd, &t->lo, &t->hi);
        if (t->rule == WARM_REPORT_ALL && t->n >= 2) { /* a yes/no per run: the interval is the range */
            t->lo = INFINITY, t->hi = -INFINITY;
            for (int i = 0; i < n; i++)
                if (!isnan(t->value[i])) t->lo = fmin(t->lo, t->value[i]), t->hi = fmax(t->hi, t->value[i]);
        }
        t->verdict = t->n >= 2 ? warm_report_interval_verdict(t->rule, t->threshold, t->lo, t->hi)
                               : WARM_REPORT_NOT_MEASURED;
    }
    if (a->n_used == 1) { /* the interval needs two runs: the single-run verdict and numbers stand */
        const warm_report_claim *k = &claims[ref_i * WARM_REPORT_NCLAIMS + c];
        a->claim.verdict = k->verdict;
        snprintf(a->claim.numbers, sizeof a->claim.numbers, "n = 1 (seed %g): %.1480s", agg->seeds[ref_i], k->numbers);
        snprintf(a->claim.detail, sizeof a->claim.detail, "%s", k->detail);
    } else {
        numbers(a);
        decide(a);
    }
    int unused = n - a->n_used;
    if (unused && n > 1)
        rp_cat(a->claim.detail, sizeof a->claim.detail, "%s%d of %d runs unused (see below)", a->claim.detail[0] ? "; " : "",
            unused, n);
}

warm_status rp_seeds_load(rp_run *runs, const char *const *dirs, int n, warm_report_seeds *agg, warm_error *err) {
    if (n < 1 || n > WARM_REPORT_MAX_RUNS)
        return warm_error_set(err, WARM_ERR_ARG, "%d runs given: 1 to %d (the t table goes to %d degrees of freedom)",
                              n, WARM_REPORT_MAX_RUNS, WARM_REPORT_MAX_RUNS - 1);
    memset(agg, 0, sizeof *agg);
    agg->n_runs = n;
    warm_report_claim *claims = malloc((size_t)n * WARM_REPORT_NCLAIMS * sizeof *claims);
    rp_stats *stats = malloc((size_t)n * WARM_REPORT_NCLAIMS * sizeof *stats);
    if (!claims || !stats) {
        free(claims);
        free(stats);
        return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", dirs[0]);
    }
    warm_status s = WARM_OK;
    int loaded = 0;
    for (; loaded < n && !s; loaded++) {
        s = load_one(runs, loaded, dirs[loaded], agg, err);
        if (s) break;
        rp_claims(&runs[loaded], &claims[loaded * WARM_REPORT_NCLAIMS], &stats[loaded * WARM_REPORT_NCLAIMS]);
    }
    if (!s)
        for (int c = 0; c < WARM_REPORT_NCLAIMS; c++) aggregate_claim(agg, c, claims, stats);
    else
        rp_seeds_free(runs, loaded);
    free(claims);
    free(stats);
    return s;
}

/* ---------------------------------------------------------------------------------------------------- */
/* JSON                                                                                                  */

static cJSON *num_or_null(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

static cJSON *stat_json(const warm_report_stat *t, int n_runs) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", t->name);
    cJSON_AddStringToObject(o, "rule", rule_str(t->rule));
    cJSON_AddItemToObject(o, "threshold", num_or_null(t->rule >= WARM_REPORT_ALL ? RP_NAN : t->threshold));
    cJSON *v = cJSON_AddArrayToObject(o, "values");
    for (int i = 0; i < n_runs; i++) cJSON_AddItemToArray(v, num_or_null(t->value[i]));
    cJSON_AddNumberToObject(o, "n", t->n);
    cJSON_AddItemToObject(o, "mean", num_or_null(t->mean));
    cJSON_AddItemToObject(o, "sd", num_or_null(t->sd));
    cJSON_AddItemToObject(o, "lo", num_or_null(t->lo));
    cJSON_AddItemToObject(o, "hi", num_or_null(t->hi));
    cJSON_AddStringToObject(o, "verdict", t->n >= 2 && t->rule != WARM_REPORT_INFO
                                              ? warm_report_verdict_str(t->verdict) : "-");
    return o;
}

cJSON *rp_seeds_json(const warm_report_seeds *agg) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON_AddStringToObject(root, "format", "warm-report-seeds/1");
    cJSON_AddStringToObject(root, "scale", agg->scale);
    cJSON_AddStringToObject(root, "interval", "95 % Student-t over the runs that measured the claim: mean +- "
                                              "t_{0.975, n-1} sd / sqrt(n)");
    cJSON_AddStringToObject(root, "t_table", "t_{0.975, df} for df = 1..30, 3 decimals, from the standard table "
                                             "(NIST/SEMATECH e-Handbook of Statistical Methods, 1.3.6.7.2)");
    cJSON *runs = cJSON_AddArrayToObject(root, "runs");
    for (int i = 0; i < agg->n_runs; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "dir", agg->dirs[i]);
        cJSON_AddNumberToObject(o, "seed", agg->seeds[i]);
        cJSON_AddItemToArray(runs, o);
    }
    cJSON *cs = cJSON_AddArrayToObject(root, "claims");
    for (int c = 0; c < WARM_REPORT_NCLAIMS; c++) {
        const warm_report_seed_claim *a = &agg->claims[c];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", a->claim.id);
        cJSON_AddStringToObject(o, "claim", a->claim.claim);
        cJSON_AddStringToObject(o, "verdict", warm_report_verdict_str(a->claim.verdict));
        cJSON_AddStringToObject(o, "detail", a->claim.detail);
        cJSON_AddStringToObject(o, "rule", rp_claim_seeds_rule(c));
        cJSON_AddNumberToObject(o, "n_used", a->n_used);
        cJSON *rv = cJSON_AddArrayToObject(o, "runs");
        for (int i = 0; i < agg->n_runs; i++) {
            cJSON *r = cJSON_CreateObject();
            cJSON_AddNumberToObject(r, "seed", agg->seeds[i]);
            cJSON_AddBoolToObject(r, "used", a->used[i]);
            cJSON_AddStringToObject(r, "single_run_verdict", warm_report_verdict_str(a->run_verdict[i]));
            if (a->why_unused[i][0]) cJSON_AddStringToObject(r, "why_unused", a->why_unused[i]);
            cJSON_AddItemToArray(rv, r);
        }
        cJSON *st = cJSON_AddArrayToObject(o, "stats");
        for (int j = 0; j < a->n_stats; j++) cJSON_AddItemToArray(st, stat_json(&a->stats[j], agg->n_runs));
        cJSON_AddItemToArray(cs, o);
    }
    if (cJSON_GetArraySize(cs) != WARM_REPORT_NCLAIMS) { /* an allocation failed on the way */
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}
