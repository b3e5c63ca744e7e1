/*
 * bon.c — best-of-n with the unbiased pool estimator: order statistics of a pool ranked by a proxy reward,
 * expected proxy / control reward of the pick, exact win rates (warm/bon.h, docs/bon.md).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "warm/bon.h"

double warm_bon_kl(int n) {
    return log((double)n) - (double)(n - 1) / (double)n;
}

warm_status warm_bon_ladder(int n_max, int *ns, int *count, warm_error *err) {
    if (n_max < 1) return warm_error_set(err, WARM_ERR_ARG, "best-of-n: n_max = %d must be >= 1", n_max);
    int c = 0;
    for (long long v = 1; v <= n_max; v *= 2) ns[c++] = (int)v;
    if (ns[c - 1] != n_max) ns[c++] = n_max;
    *count = c;
    return WARM_OK;
}

/* ---- ranking: in-place heap sort of indices under a strict total order ---------------------------------- */

/* 1 when response a ranks below response b under the tie rule: proxy ascending, index descending (so that
 * among equal proxies the lowest index ranks highest: first-occurrence argmax). */
static int below_proxy(const float *v, int a, int b) {
    if (v[a] != v[b]) return v[a] < v[b];
    return a > b;
}
/* Control order for the win-rate tables: value ascending, index ascending (ties are grouped by value). */
static int below_value(const float *v, int a, int b) {
    if (v[a] != v[b]) return v[a] < v[b];
    return a < b;
}

static void sift_down(int *idx, int start, int end, const float *v, int (*below)(const float *, int, int)) {
    int root = start;
    for (;;) {
        int child = 2 * root + 1;
        if (child >= end) return;
        if (child + 1 < end && below(v, idx[child], idx[child + 1])) child++;
        if (!below(v, idx[root], idx[child])) return;
        int t = idx[root];
        idx[root] = idx[child];
        idx[child] = t;
        root = child;
    }
}

static void heap_sort(int *idx, int K, const float *v, int (*below)(const float *, int, int)) {
    for (int k = 0; k < K; k++) idx[k] = k;
    for (int s = K / 2 - 1; s >= 0; s--) sift_down(idx, s, K, v, below);
    for (int e = K - 1; e > 0; e--) {
        int t = idx[0];
        idx[0] = idx[e];
        idx[e] = t;
        sift_down(idx, 0, e, v, below);
    }
}

void warm_bon_order(const float *proxy, int K, int *order, int *rank) {
    heap_sort(order, K, proxy, below_proxy);
    if (rank)
        for (int r = 0; r < K; r++) rank[order[r]] = r;
}

/* ---- weights and tables ----------------------------------------------------------------------------------- */

static void bon_weights(int K, int n, double *w) {
    w[K - 1] = (double)n / (double)K;
    for (int i = K; i >= 2; i--) /* 1-based rank i -> i-1 */
        w[i - 2] = i - n <= 0 ? 0.0 : w[i - 1] * (double)(i - n) / (double)(i - 1);
}

warm_status warm_bon_weights(int K, int n, double *w, warm_error *err) {
    if (K < 1 || n < 1 || n > K)
        return warm_error_set(err, WARM_ERR_ARG, "best-of-n: n = %d must lie in [1, K = %d]", n, K);
    bon_weights(K, n, w);
    return WARM_OK;
}

/* log C(m, r) from a log-factorial table; -INFINITY when the coefficient is 0. */
static double log_choose(const double *lf, int m, int r) {
    if (r < 0 || m < r) return -INFINITY;
    return lf[m] - lf[r] - lf[m - r];
}

/* sft[k] = (#{j: g_j < g_k} + #{j: g_j == g_k} / 2) / K: the win rate of response k against a uniform pool
 * sample. idx: K ints of scratch. */
static void sft_scores(const float *g, int K, double *sft, int *idx) {
    heap_sort(idx, K, g, below_value);
    for (int lo = 0; lo < K;) {
        int hi = lo + 1;
        while (hi < K && g[idx[hi]] == g[idx[lo]]) hi++;
        double s = ((double)lo + 0.5 * (double)(hi - lo)) / (double)K;
        for (int r = lo; r < hi; r++) sft[idx[r]] = s;
        lo = hi;
    }
}

/*
 * Joint-pick tables for the same-subset win rate, for each n = ns[j]:
 *   t1[j*(K+1) + m] = C(m, n-1) / C(K, n)   (both pick the same response; m below it for both)
 *   t2[j*(K+1) + m] = C(m, n-2) / C(K, n)   (different picks)
 * lf: log-factorials 0..K.
 */
static void joint_tables(int K, const int *ns, int n_ns, const double *lf, double *t1, double *t2) {
    for (int j = 0; j < n_ns; j++) {
        double lk = log_choose(lf, K, ns[j]);
        for (int m = 0; m <= K; m++) {
            t1[(size_t)j * (K + 1) + m] = exp(log_choose(lf, m, ns[j] - 1) - lk);
            t2[(size_t)j * (K + 1) + m] = exp(log_choose(lf, m, ns[j] - 2) - lk);
        }
    }
}

/*
 * acc[j] += P(A's pick beats B's pick from the same ns[j]-subset), control comparison, ties 1/2.
 * For each candidate pick a of A, walk the pool in B's order counting responses ranked below a by A: when the
 * walk reaches a itself (both pick a) the count is m_aa; at a later b that A ranks below a (A picks a, B picks
 * b) it is m_ab.
 */
static void joint_win(const int *rank_a, const int *order_b, const float *g, int K, int n_ns, const double *t1,
                      const double *t2, double *acc) {
    for (int a = 0; a < K; a++) {
        int ra = rank_a[a], cnt = 0, passed = 0;
        for (int q = 0; q < K; q++) {
            int b = order_b[q];
            if (b == a) {
                for (int j = 0; j < n_ns; j++) acc[j] += 0.5 * t1[(size_t)j * (K + 1) + cnt];
                passed = 1;
                continue;
            }
            if (rank_a[b] < ra) {
                if (passed && g[a] >= g[b]) {
                    double c = g[a] > g[b] ? 1.0 : 0.5;
                    for (int j = 0; j < n_ns; j++) acc[j] += c * t2[(size_t)j * (K + 1) + cnt];
                }
                cnt++;
            }
        }
    }
}

/* ---- checks ----------------------------------------------------------------------------------------------- */

static warm_status check_values(const float *v, int64_t n, const char *what, warm_error *err) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return warm_error_set(err, WARM_ERR_ARG, "best-of-n: %s reward %lld is not finite", what, (long long)i);
    return WARM_OK;
}

static warm_status check_n(int K, const int *ns, int n_ns, warm_error *err) {
    if (K < 1) return warm_error_set(err, WARM_ERR_ARG, "best-of-n: pool size K = %d must be >= 1", K);
    for (int j = 0; j < n_ns; j++)
        if (ns[j] < 1 || ns[j] > K)
            return warm_error_set(err, WARM_ERR_ARG, "best-of-n: n = %d must lie in [1, K = %d]", ns[j], K);
    return WARM_OK;
}

/* ---- per-prompt workspace --------------------------------------------------------------------------------- */

typedef struct {
    int K, S, n_ns;
    const int *ns;     /* (n_ns) the n values (the caller's array) */
    int *order, *rank; /* (S, K) */
    int *tmp;          /* (K) */
    double *w;         /* (n_ns, K) */
    double *lf;        /* (K + 1) */
    double *t1, *t2;   /* (n_ns, K + 1) */
    double *sft;       /* (K) */
} bon_ws;

static int ns_of(const bon_ws *ws, int j) { return ws->ns[j]; }

static void ws_free(bon_ws *ws) {
    free(ws->order); free(ws->rank); free(ws->tmp); free(ws->w); free(ws->lf);
    free(ws->t1); free(ws->t2); free(ws->sft);
    memset(ws, 0, sizeof *ws);
}

static int ws_init(bon_ws *ws, int K, int S, const int *ns, int n_ns) {
    memset(ws, 0, sizeof *ws);
    ws->K = K; ws->S = S; ws->n_ns = n_ns; ws->ns = ns;
    ws->order = malloc((size_t)S * K * sizeof(int));
    ws->rank = malloc((size_t)S * K * sizeof(int));
    ws->tmp = malloc((size_t)K * sizeof(int));
    ws->w = malloc((size_t)n_ns * K * sizeof(double));
    ws->lf = malloc((size_t)(K + 1) * sizeof(double));
    ws->t1 = malloc((size_t)n_ns * (K + 1) * sizeof(double));
    ws->t2 = malloc((size_t)n_ns * (K + 1) * sizeof(double));
    ws->sft = malloc((size_t)K * sizeof(double));
    if (!ws->order || !ws->rank || !ws->tmp || !ws->w || !ws->lf || !ws->t1 || !ws->t2 || !ws->sft) {
        ws_free(ws);
        return 0;
    }
    ws->lf[0] = 0.0;
    for (int m = 1; m <= K; m++) ws->lf[m] = ws->lf[m - 1] + log((double)m);
    for (int j = 0; j < n_ns; j++) bon_weights(K, ns[j], ws->w + (size_t)j * K);
    joint_tables(K, ns, n_ns, ws->lf, ws->t1, ws->t2);
    return 1;
}

/*
 * One prompt: out[(s * n_ns + j) * 4 + {0,1,2,3}] = proxy, control, win vs SFT, win vs ref of selector s at
 * ns[j] (overwritten). proxy[s] points at this prompt's K values.
 */
static void prompt_eval(bon_ws *ws, const float *g, const float *const *proxy, int ref, double *out) {
    int K = ws->K, S = ws->S, n_ns = ws->n_ns;
    sft_scores(g, K, ws->sft, ws->tmp);
    for (int s = 0; s < S; s++) warm_bon_order(proxy[s], K, ws->order + (size_t)s * K, ws->rank + (size_t)s * K);
    for (int s = 0; s < S; s++) {
        const int *ord = ws->order + (size_t)s * K;
        double *o = out + (size_t)s * n_ns * 4;
        for (int j = 0; j < n_ns; j++) {
            const double *w = ws->w + (size_t)j * K;
            double ep = 0, ec = 0, es = 0;
            for (int r = 0; r < K; r++) {
                if (w[r] == 0.0) continue;
                int k = ord[r];
                ep += w[r] * (double)proxy[s][k];
                ec += w[r] * (double)g[k];
                es += w[r] * ws->sft[k];
            }
            o[j * 4 + 0] = ep;
            o[j * 4 + 1] = ec;
            o[j * 4 + 2] = es;
            o[j * 4 + 3] = 0.0;
        }
        double acc[64];
        for (int j = 0; j < n_ns; j++) acc[j] = 0.0;
        joint_win(ws->rank + (size_t)s * K, ws->order + (size_t)ref * K, g, K, n_ns, ws->t1, ws->t2, acc);
        /* Exact identities, written as such instead of their rounded sums: a selector against itself, and
         * every selector at n = 1 (both picks are the same single response; the SFT draw is the pool law). */
        for (int j = 0; j < n_ns; j++) {
            o[j * 4 + 3] = (s == ref || ns_of(ws, j) == 1) ? 0.5 : acc[j];
            if (ns_of(ws, j) == 1) o[j * 4 + 2] = 0.5;
        }
    }
}

/* ---- single-pool entry points ----------------------------------------------------------------------------- */

/* Runs prompt_eval for selectors {a, b} (b may be NULL: a alone, ref = a) at one n; res gets 4 doubles of a. */
static warm_status single(const float *a, const float *b, const float *g, int K, int n, double res[4],
                          warm_error *err) {
    warm_status st = check_n(K, &n, 1, err);
    if (!st) st = check_values(a, K, "proxy", err);
    if (!st && b) st = check_values(b, K, "proxy", err);
    if (!st && g) st = check_values(g, K, "control", err);
    if (st) return st;
    bon_ws ws;
    if (!ws_init(&ws, K, b ? 2 : 1, &n, 1)) return warm_error_set(err, WARM_ERR_NOMEM, "best-of-n: out of memory");
    const float *px[2] = {a, b ? b : a};
    double out[8];
    prompt_eval(&ws, g ? g : a, px, b ? 1 : 0, out);
    memcpy(res, out, 4 * sizeof(double));
    ws_free(&ws);
    return WARM_OK;
}

warm_status warm_bon_expect(const float *proxy, const float *value, int K, int n, double *out, warm_error *err) {
    double r[4];
    warm_status st = single(proxy, NULL, value, K, n, r, err);
    if (!st) *out = r[1];
    return st;
}

warm_status warm_bon_winrate_sft(const float *proxy_a, const float *control, int K, int n, double *out,
                                 warm_error *err) {
    double r[4];
    warm_status st = single(proxy_a, NULL, control, K, n, r, err);
    if (!st) *out = r[2];
    return st;
}

warm_status warm_bon_winrate_ref(const float *proxy_a, const float *proxy_b, const float *control, int K, int n,
                                 double *out, warm_error *err) {
    double r[4];
    warm_status st = single(proxy_a, proxy_b, control, K, n, r, err);
    if (!st) *out = r[3];
    return st;
}

/* ---- all selectors, all prompts --------------------------------------------------------------------------- */

warm_status warm_bon_evaluate(int P, int K, const float *control, const float *const *proxy, int S, int ref,
                              const int *ns, int n_ns, warm_bon_point *out, warm_error *err) {
    if (P < 1) return warm_error_set(err, WARM_ERR_ARG, "best-of-n: no prompts");
    if (S < 1) return warm_error_set(err, WARM_ERR_ARG, "best-of-n: no selectors");
    if (ref < 0 || ref >= S)
        return warm_error_set(err, WARM_ERR_ARG, "best-of-n: reference selector %d outside [0, %d)", ref, S);
    if (n_ns < 1 || n_ns > 64)
        return warm_error_set(err, WARM_ERR_ARG, "best-of-n: %d values of n (1..64 allowed)", n_ns);
    warm_status st = check_n(K, ns, n_ns, err);
    int64_t total = (int64_t)P * K;
    if (!st) st = check_values(control, total, "control", err);
    for (int s = 0; s < S && !st; s++) {
        st = check_values(proxy[s], total, "proxy", err);
        if (st) warm_error_prefix(err, "selector %d", s);
    }
    if (st) return st;
    size_t per = (size_t)S * n_ns * 4;
    double *res = malloc((size_t)P * per * sizeof(double));
    if (!res) return warm_error_set(err, WARM_ERR_NOMEM, "best-of-n: out of memory");
    int failed = 0;
#pragma omp parallel
    {
        bon_ws ws;
        const float **px = malloc((size_t)S * sizeof(float *));
        int have_ws = ws_init(&ws, K, S, ns, n_ns);
        int ok = have_ws && px;
        if (!ok) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int p = 0; p < P; p++) {
            if (!ok) continue;
            for (int s = 0; s < S; s++) px[s] = proxy[s] + (size_t)p * K;
            prompt_eval(&ws, control + (size_t)p * K, px, ref, res + (size_t)p * per);
        }
        if (have_ws) ws_free(&ws);
        free(px);
    }
    if (failed) {
        free(res);
        return warm_error_set(err, WARM_ERR_NOMEM, "best-of-n: out of memory");
    }
    for (int s = 0; s < S; s++)
        for (int j = 0; j < n_ns; j++) {
            double sum[4] = {0, 0, 0, 0};
            for (int p = 0; p < P; p++)
                for (int q = 0; q < 4; q++) sum[q] += res[(size_t)p * per + ((size_t)s * n_ns + j) * 4 + q];
            warm_bon_point *o = &out[(size_t)s * n_ns + j];
            o->n = ns[j];
            o->kl = warm_bon_kl(ns[j]);
            o->proxy_mean = sum[0] / P;
            o->control_mean = sum[1] / P;
            o->win_sft = sum[2] / P;
            o->win_ref = sum[3] / P;
        }
    free(res);
    return WARM_OK;
}
