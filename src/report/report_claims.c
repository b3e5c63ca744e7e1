/*
 * report_claims.c — the verdicts of claims C1-C17 (paper.md §8) from a loaded run (report_internal.h).
 *
 * Every claim is an AND of conditions on the numbers of the run's files. Each claim function gathers what it
 * needs; anything it cannot find (plan.json has no such pair or selector, the file is absent, the subset or
 * lambda = 0.5 is not in the file) makes the claim "not measured at this scale" and is named in the detail.
 * Otherwise the claim holds when every condition holds, and the first failed condition is named.
 * Accuracies are acc_ge; tol = sqrt(0.25 / n) with n the pairs of the subset used.
 *
 * Beside the conditions, each claim records the scalar STATISTICS its verdict rests on (stat(): a name, the
 * side of a threshold the claim needs, the value), so that `warm report --runs` can put a 95 % interval over
 * seeds on each (report_seeds.c). A statistic mirrors its condition, except that a tolerance (tol) becomes 0:
 * over seeds the interval is the noise allowance.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "report/report_internal.h"

#define WIN_SLACK 0.002 /* win rates: 1/2 and monotonicity are checked with this slack (C10) */

/* The claim being built: numbers and detail are appended with "; " between parts. */
typedef struct {
    warm_report_claim *c;
    rp_stats *st; /* NULL: statistics not wanted */
    int unknown, failed;
} cl;

void rp_cat(char *dst, size_t cap, const char *fmt, ...) {
    size_t len = strlen(dst);
    if (len + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst + len, cap - len, fmt, ap);
    va_end(ap);
}

#define NUMS(k, ...) rp_cat((k)->c->numbers, sizeof (k)->c->numbers, __VA_ARGS__)

/* Records why the claim cannot be measured (the first few reasons are kept). */
static void unknown(cl *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void unknown(cl *k, const char *fmt, ...) {
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (!k->unknown) k->c->detail[0] = 0; /* "not measured" outranks a failed condition */
    if (!strstr(k->c->detail, why)) rp_cat(k->c->detail, sizeof k->c->detail, "%s%s", k->unknown ? "; " : "", why);
    k->unknown++;
}

/* Records the result of one condition; the first failure is named. */
static void check(cl *k, int ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void check(cl *k, int ok, const char *fmt, ...) {
    if (ok) return;
    if (!k->failed && !k->unknown) {
        char why[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof why, fmt, ap);
        va_end(ap);
        snprintf(k->c->detail, sizeof k->c->detail, "%s", why);
    }
    k->failed++;
}

/* Records one statistic of the claim. */
static void stat(cl *k, warm_report_rule rule, double threshold, double v, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void stat(cl *k, warm_report_rule rule, double threshold, double v, const char *fmt, ...) {
    if (!k->st) return;
    if (k->st->n == WARM_REPORT_MAX_STATS) {
        k->st->overflow = 1;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->st->s[k->st->n].name, sizeof k->st->s[0].name, fmt, ap);
    va_end(ap);
    k->st->s[k->st->n].rule = rule;
    k->st->s[k->st->n].threshold = threshold;
    k->st->s[k->st->n].value = v;
    k->st->n++;
}

static void finish(cl *k) {
    if (k->unknown) k->c->verdict = WARM_REPORT_NOT_MEASURED;
    else k->c->verdict = k->failed ? WARM_REPORT_DOES_NOT_HOLD : WARM_REPORT_HOLDS;
    if (k->c->verdict == WARM_REPORT_HOLDS) k->c->detail[0] = 0;
}

double rp_tol(double n) { return n > 0 ? sqrt(0.25 / n) : RP_NAN; }

/* ---------------------------------------------------------------------------------------------------- */
/* Finding the inputs                                                                                    */

/* The subset of the first lmc pair of this kind, or NULL (reason recorded). need_mid: lambda 0.5 required. */
static const rp_lmc_subset *lmc_need(const rp_run *r, cl *k, const rp_lmc_pair *p, const char *kind,
                                     const char *subset, int need_mid) {
    if (!r->has_plan) return unknown(k, "plan.json missing"), NULL;
    if (!p) return unknown(k, "plan.json has no %s pair", kind), NULL;
    if (!p->present) return unknown(k, "%s missing", p->json), NULL;
    int j = rp_lmc_sub(p, subset);
    if (j < 0) return unknown(k, "%s has no subset %s", p->json, subset), NULL;
    if (need_mid && p->mid < 0) return unknown(k, "%s: no lambda = 0.5 on the grid", p->json), NULL;
    return &p->subs[j];
}

static const rp_setup *clean_need(const rp_run *r, cl *k) {
    if (!r->has_plan) return unknown(k, "plan.json missing"), NULL;
    const rp_setup *u = rp_clean_setup(r);
    if (!u) unknown(k, "plan.json has no clean setup (corrupt = 0)");
    return u;
}

/* The setup's bon file, or NULL (reason recorded). */
static const rp_bon *bon_need(cl *k, const rp_setup *u) {
    if (!u->has_bon) return unknown(k, "setup %s has no BoN in plan.json", u->name), NULL;
    if (!u->bon.present) return unknown(k, "%s missing", u->bon_path), NULL;
    return &u->bon;
}

/* Index of a selector of the plan in the setup's bon file, or -1 (reason recorded). */
static int sel_need(cl *k, const rp_setup *u, const char *name) {
    int i = rp_bon_sel_index(&u->bon, name);
    if (i < 0) unknown(k, "%s has no selector %s", u->bon_path, name);
    return i;
}

/* ---------------------------------------------------------------------------------------------------- */
/* LMC: C1-C7                                                                                            */

static const char *const diverse[4] = {"ckpt", "seed", "lr", "sft"};

static void claim_c1(const rp_run *r, cl *k) {
    char a[32], b[32], t[32];
    for (int i = 0; i < 4; i++) {
        const rp_lmc_pair *p = rp_lmc_kind(r, diverse[i]);
        const rp_lmc_subset *q = lmc_need(r, k, p, diverse[i], "ood", 0);
        if (!q) continue;
        double tol = rp_tol(q->n), lo = INFINITY, inner = INFINITY;
        int worst = 0;
        for (int l = 0; l < p->grid; l++) {
            double g = q->wa[l] - q->diag[l];
            if (g < lo) lo = g, worst = l;
            if (p->lambda[l] > 0 && p->lambda[l] < 1) inner = fmin(inner, g);
        }
        /* Over seeds: the interior minimum (at lambda 0 and 1 WA = Diag, which would pin the minimum at 0). */
        stat(k, WARM_REPORT_GE, 0, isinf(inner) ? RP_NAN : inner, "%s: min WA-Diag over 0 < lambda < 1, ood",
             diverse[i]);
        NUMS(k, "%s%s: min WA-Diag %s", k->c->numbers[0] ? "; " : "", diverse[i], rp_s3(a, lo));
        if (p->mid >= 0) NUMS(k, ", mid %s", rp_s3(b, q->wa[p->mid] - q->diag[p->mid]));
        NUMS(k, " (tol %s)", rp_f3(t, tol));
        check(k, lo >= -tol, "%s: WA < Diag - tol at lambda %.2f", diverse[i], p->lambda[worst]);
    }
}

static void claim_c2(const rp_run *r, cl *k) {
    char a[32], g[32];
    for (int i = 0; i < 4; i++) {
        const rp_lmc_pair *p = rp_lmc_kind(r, diverse[i]);
        const rp_lmc_subset *q = lmc_need(r, k, p, diverse[i], "ood", 0);
        if (!q) continue;
        double A = 0, G = -INFINITY;
        for (int l = 0; l < p->grid; l++) {
            A = fmax(A, fabs(q->wa[l] - q->ens[l]));
            G = fmax(G, q->wa[l] - q->diag[l]);
        }
        NUMS(k, "%s%s: A %s, G %s", k->c->numbers[0] ? "; " : "", diverse[i], rp_f3(a, A), rp_s3(g, G));
        stat(k, WARM_REPORT_GT, 0, G - A, "%s: G - A (max WA-Diag - max abs(WA-ENS)), ood", diverse[i]);
        check(k, A < G, "%s: A >= G", diverse[i]);
    }
}

/* Midpoint WA - Diag of a kind on a subset (NAN, reason recorded, when not available). */
static double mid_gain(const rp_run *r, cl *k, const char *kind, const char *subset) {
    const rp_lmc_pair *p = rp_lmc_kind(r, kind);
    const rp_lmc_subset *q = lmc_need(r, k, p, kind, subset, 1);
    return q ? q->wa[p->mid] - q->diag[p->mid] : RP_NAN;
}

static void claim_c3(const rp_run *r, cl *k) {
    double g[4];
    char b[32];
    for (int i = 0; i < 4; i++) {
        g[i] = mid_gain(r, k, diverse[i], "ood");
        NUMS(k, "%s%s %s", i ? " < " : "", diverse[i], rp_s3(b, g[i]));
    }
    int in_order = 0;
    for (int i = 0; i < 3; i++) {
        in_order += g[i] < g[i + 1];
        stat(k, WARM_REPORT_GT, 0, g[i + 1] - g[i], "midpoint WA-Diag: %s - %s, ood", diverse[i + 1], diverse[i]);
    }
    check(k, in_order == 3, "%d of 3 in order", in_order);
}

static void claim_c4(const rp_run *r, cl *k) {
    const rp_lmc_pair *pc = rp_lmc_kind(r, "ckpt"), *ps = rp_lmc_kind(r, "seed");
    const rp_lmc_subset *qc = lmc_need(r, k, pc, "ckpt", "ood", 1), *qs = lmc_need(r, k, ps, "seed", "ood", 1);
    if (!qc || !qs) return;
    double c = qc->wa[pc->mid], s = qs->wa[ps->mid];
    char a[32], b[32];
    NUMS(k, "WA_0.5 on ood: ckpt %s < seed %s", rp_f3(a, c), rp_f3(b, s));
    stat(k, WARM_REPORT_LT, 0, c - s, "WA_0.5(ckpt) - WA_0.5(seed), ood");
    check(k, c < s, "ckpt >= seed");
}

static void claim_c5(const rp_run *r, cl *k) {
    char a[32], b[32];
    double g = mid_gain(r, k, "scratch", "ood");
    if (isnan(g)) return;
    NUMS(k, "scratch WA_0.5 - Diag_0.5: ood %s", rp_s3(a, g));
    stat(k, WARM_REPORT_LT, 0, g, "scratch: WA_0.5 - Diag_0.5, ood");
    const rp_lmc_pair *p = rp_lmc_kind(r, "scratch");
    int j = rp_lmc_sub(p, "val");
    if (j >= 0) NUMS(k, ", val %s", rp_s3(b, p->subs[j].wa[p->mid] - p->subs[j].diag[p->mid]));
    check(k, g < 0, "WA_0.5 >= Diag_0.5 on ood");
}

/* The corrupt pairs (kind "corrupt") that can give subset; n_pairs counts them all. 0 when one cannot. */
static int corrupt_ok(const rp_run *r, cl *k, const char *subset, int need_mid, int *n_pairs) {
    int ok = 1, n = 0;
    if (!r->has_plan) {
        unknown(k, "plan.json missing");
        return 0;
    }
    for (int i = 0; i < r->n_lmc; i++) {
        if (strcmp(r->lmc[i].kind, "corrupt") != 0) continue;
        n++;
        if (!lmc_need(r, k, &r->lmc[i], "corrupt", subset, need_mid)) ok = 0;
    }
    if (n == 0) unknown(k, "plan.json has no corrupt pair");
    *n_pairs = n;
    return ok && n > 0;
}

static void claim_c6(const rp_run *r, cl *k) {
    int n = 0;
    if (!corrupt_ok(r, k, "train-corrupt", 1, &n)) return;
    double wa = 0, ens = 0, diag = 0;
    for (int i = 0; i < r->n_lmc; i++) {
        const rp_lmc_pair *p = &r->lmc[i];
        if (strcmp(p->kind, "corrupt") != 0) continue;
        const rp_lmc_subset *q = &p->subs[rp_lmc_sub(p, "train-corrupt")];
        wa += q->wa[p->mid] / n;
        ens += q->ens[p->mid] / n;
        diag += q->diag[p->mid] / n;
    }
    char a[32], b[32], c[32];
    NUMS(k, "train-corrupt, mean of %d pair%s at lambda 0.5: WA %s, ENS %s, Diag %s", n, n > 1 ? "s" : "",
         rp_f3(a, wa), rp_f3(b, ens), rp_f3(c, diag));
    check(k, wa < ens, "WA >= ENS");
    check(k, wa < diag, "WA >= Diag");
    stat(k, WARM_REPORT_LT, 0, wa - ens, "WA_0.5 - ENS_0.5, train-corrupt (mean over pairs)");
    stat(k, WARM_REPORT_LT, 0, wa - diag, "WA_0.5 - Diag_0.5, train-corrupt (mean over pairs)");
}

static void claim_c7(const rp_run *r, cl *k) {
    static const char *const subs[4] = {"train-corrupt", "train-clean", "val", "ood"};
    double d[4];
    int n = 0;
    for (int s = 0; s < 4; s++) {
        d[s] = NAN;
        if (!corrupt_ok(r, k, subs[s], 0, &n)) continue;
        double sum = 0;
        int cnt = 0;
        for (int i = 0; i < r->n_lmc; i++) {
            const rp_lmc_pair *p = &r->lmc[i];
            if (strcmp(p->kind, "corrupt") != 0) continue;
            const rp_lmc_subset *q = &p->subs[rp_lmc_sub(p, subs[s])];
            for (int l = 0; l < p->grid; l++)
                if (p->lambda[l] > 0 && p->lambda[l] < 1) sum += q->wa[l] - q->ens[l], cnt++;
        }
        if (cnt == 0) unknown(k, "no lambda in (0, 1) on the grid");
        else d[s] = sum / cnt;
    }
    char b[32];
    for (int s = 0; s < 4; s++) NUMS(k, "%sd(%s) %s", s ? ", " : "", subs[s], rp_s3(b, d[s]));
    if (n) NUMS(k, " (%d pair%s)", n, n > 1 ? "s" : "");
    check(k, d[0] < d[1], "d(train-corrupt) >= d(train-clean)");
    check(k, d[1] <= 0, "d(train-clean) > 0");
    check(k, d[1] <= d[2], "d(train-clean) > d(val)");
    check(k, d[2] <= d[3], "d(val) > d(ood)");
    check(k, d[3] > 0, "d(ood) <= 0");
    stat(k, WARM_REPORT_LT, 0, d[0] - d[1], "d(train-corrupt) - d(train-clean)");
    stat(k, WARM_REPORT_LE, 0, d[1], "d(train-clean)");
    stat(k, WARM_REPORT_LE, 0, d[1] - d[2], "d(train-clean) - d(val)");
    stat(k, WARM_REPORT_LE, 0, d[2] - d[3], "d(val) - d(ood)");
    stat(k, WARM_REPORT_GT, 0, d[3], "d(ood)");
}

/* ---------------------------------------------------------------------------------------------------- */
/* Top-M: C8                                                                                             */

/* Number N of merges bw1..bwN (and wb1..wbN) in a top-M eval file; 0 when none. */
static void claim_c8(const rp_run *r, cl *k) {
    const rp_setup *u = clean_need(r, k);
    if (!u) return;
    const rp_eval *e = &u->topm;
    if (!u->eval_topm_path) {
        unknown(k, "setup %s has no eval_topm in plan.json", u->name);
        return;
    }
    if (!e->present) {
        unknown(k, "%s missing", u->eval_topm_path);
        return;
    }
    int N = rp_topm_n(u), j = rp_eval_sub(e, "ood");
    if (N < 2) {
        unknown(k, "%s: fewer than two merges bw1, bw2", u->eval_topm_path);
        return;
    }
    if (j < 0) {
        unknown(k, "%s has no subset ood", u->eval_topm_path);
        return;
    }
    char b[32];
    for (int o = 0; o < 2; o++) {
        NUMS(k, "%s%s:", o ? "; " : "", o ? "worst->best wb" : "best->worst bw");
        for (int m = 1; m <= N; m++) {
            double v = rp_topm_acc(u, o ? "wb" : "bw", m, "ood");
            if (isnan(v)) unknown(k, "%s has no %s%d on ood", u->eval_topm_path, o ? "wb" : "bw", m);
            NUMS(k, " %s", rp_f3(b, v));
        }
    }
    double tol = rp_tol(e->sub_n[j]);
    NUMS(k, " (M = 1..%d, ood; tol %s)", N, rp_f3(b, tol));
    for (int m = 2; m <= (N - 1 < 3 ? N - 1 : 3); m++) {
        double bw = rp_topm_acc(u, "bw", m, "ood"), wb = rp_topm_acc(u, "wb", m, "ood");
        check(k, bw >= wb, "bw%d < wb%d", m, m);
        stat(k, WARM_REPORT_GE, 0, bw - wb, "bw%d - wb%d, ood", m, m);
    }
    double wb_n = rp_topm_acc(u, "wb", N, "ood"), wb_1 = rp_topm_acc(u, "wb", 1, "ood");
    double bw_n = rp_topm_acc(u, "bw", N, "ood"), bw_1 = rp_topm_acc(u, "bw", 1, "ood");
    check(k, wb_n > wb_1, "wb%d <= wb1", N);
    check(k, bw_n >= bw_1 - tol, "bw%d < bw1 - tol", N);
    stat(k, WARM_REPORT_GT, 0, wb_n - wb_1, "wb%d - wb1, ood", N);
    stat(k, WARM_REPORT_GE, 0, bw_n - bw_1, "bw%d - bw1, ood (tol replaced by the interval)", N);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Best-of-n: C9-C11                                                                                     */

static void claim_c9(const rp_run *r, cl *k) {
    if (!r->has_plan) {
        unknown(k, "plan.json missing");
        return;
    }
    if (r->n_setups == 0) {
        unknown(k, "plan.json has no setups");
        return;
    }
    for (int s = 0; s < r->n_setups; s++) {
        const rp_setup *u = &r->setups[s];
        const rp_bon *b = bon_need(k, u);
        if (!b) continue;
        int ib = sel_need(k, u, u->warm_big), i2 = sel_need(k, u, u->warm2), ie = sel_need(k, u, u->ens2),
            i1 = sel_need(k, u, u->best);
        if (ib < 0 || i2 < 0 || ie < 0 || i1 < 0) continue;
        int held[3] = {0, 0, 0}, total = 0;
        for (int p = 0; p < b->n_points; p++) {
            if (b->n[p] <= 1) continue;
            total++;
            double cb = b->sel[ib].control[p], c2 = b->sel[i2].control[p], ce = b->sel[ie].control[p],
                   c1 = b->sel[i1].control[p];
            held[0] += cb > c2;
            held[1] += c2 > ce;
            held[2] += ce >= c1;
            check(k, cb > c2 && c2 > ce && ce >= c1, "%s: order broken at n = %.0f", u->name, b->n[p]);
            stat(k, WARM_REPORT_GT, 0, cb - c2, "%s n = %.0f: WARM%d - WARM2", u->name, b->n[p], u->warm_big_m);
            stat(k, WARM_REPORT_GT, 0, c2 - ce, "%s n = %.0f: WARM2 - ENS2", u->name, b->n[p]);
            stat(k, WARM_REPORT_GE, 0, ce - c1, "%s n = %.0f: ENS2 - best", u->name, b->n[p]);
        }
        if (total == 0) {
            unknown(k, "%s has no n > 1", u->bon_path);
            continue;
        }
        int L = b->n_points - 1;
        char x[4][32];
        NUMS(k, "%s%s at n = %.0f: WARM%d %s > WARM2 %s > ENS2 %s >= best %s; held at %d/%d, %d/%d, %d/%d n > 1",
             k->c->numbers[0] ? "; " : "", u->name, b->n[L], u->warm_big_m, rp_f3(x[0], b->sel[ib].control[L]),
             rp_f3(x[1], b->sel[i2].control[L]), rp_f3(x[2], b->sel[ie].control[L]),
             rp_f3(x[3], b->sel[i1].control[L]), held[0], total, held[1], total, held[2], total);
        if (u->warm_big_m != 6) NUMS(k, " (WARM M=%d stands in for M=6)", u->warm_big_m);
    }
}

/* C10 on one setup; verdict only when counted. */
static void c10_setup(cl *k, const rp_setup *u, int counted) {
    const rp_bon *b = &u->bon;
    int ib = rp_bon_sel_index(b, u->warm_big);
    if (ib < 0 || strcmp(b->ref, u->warm_big) != 0) {
        if (counted)
            unknown(k, "%s: ref is %s, not the WARM M=%d selector %s", u->bon_path, b->ref, u->warm_big_m,
                    u->warm_big);
        return;
    }
    double lo = INFINITY, hi = -INFINITY, worst = -INFINITY;
    const char *who = "-";
    int total = 0;
    for (int p = 0; p < b->n_points; p++) {
        double w = b->sel[ib].win_sft[p];
        if (b->n[p] > 1) {
            total++;
            lo = fmin(lo, w);
            hi = fmax(hi, w);
            if (counted) check(k, w > 0.5, "%s: WARM vs SFT <= 0.5 at n = %.0f", u->name, b->n[p]);
            if (counted) stat(k, WARM_REPORT_GT, 0.5, w, "n = %.0f: WARM%d win rate vs SFT", b->n[p], u->warm_big_m);
        }
        if (counted && p > 0) {
            double rise = w - b->sel[ib].win_sft[p - 1];
            check(k, rise >= -WIN_SLACK, "%s: WARM vs SFT falls at n = %.0f", u->name, b->n[p]);
            stat(k, WARM_REPORT_GE, -WIN_SLACK, rise, "n = %.0f vs %.0f: rise of WARM%d's win rate vs SFT", b->n[p],
                 b->n[p - 1], u->warm_big_m);
        }
        double top = -INFINITY; /* the best other selector's win rate vs WARM at this n */
        for (int i = 0; i < b->n_sel; i++) {
            if (i == ib) continue;
            double v = b->sel[i].win_ref[p];
            top = fmax(top, v);
            if (v > worst) worst = v, who = b->sel[i].name;
            if (counted)
                check(k, v <= 0.5 + WIN_SLACK, "%s: %s beats WARM at n = %.0f", u->name, b->sel[i].name, b->n[p]);
        }
        if (counted && b->n_sel > 1)
            stat(k, WARM_REPORT_LE, 0.5 + WIN_SLACK, top, "n = %.0f: best other selector's win rate vs WARM%d",
                 b->n[p], u->warm_big_m);
    }
    if (counted && total == 0) unknown(k, "%s has no n > 1", u->bon_path);
    char x[3][32];
    NUMS(k, "%s%s: WARM%d vs SFT %s..%s over n > 1; best other vs WARM%d %s (%s)", k->c->numbers[0] ? "; " : "",
         u->name, u->warm_big_m, rp_f3(x[0], lo), rp_f3(x[1], hi), u->warm_big_m, rp_f3(x[2], worst), who);
}

static void claim_c10(const rp_run *r, cl *k) {
    const rp_setup *u = clean_need(r, k);
    if (!u || !bon_need(k, u)) return;
    c10_setup(k, u, 1);
    const rp_setup *v = rp_corrupt_setup(r);
    if (v && v->has_bon && v->bon.present) c10_setup(k, v, 0);
}

static void claim_c11(const rp_run *r, cl *k) {
    const rp_setup *u = clean_need(r, k);
    if (!u || !bon_need(k, u)) return;
    if (!u->has_baklava) {
        unknown(k, "setup %s has no Baklava selectors in plan.json", u->name);
        return;
    }
    int iw = sel_need(k, u, u->bak_warm), ie = sel_need(k, u, u->bak_ens), ia = sel_need(k, u, u->bak_a),
        ib = sel_need(k, u, u->bak_b);
    if (iw < 0 || ie < 0 || ia < 0 || ib < 0) return;
    const rp_bon *b = &u->bon;
    int held = 0, total = 0;
    for (int p = 0; p < b->n_points; p++) {
        if (b->n[p] <= 1) continue;
        double w = b->sel[iw].control[p];
        int ok = w > b->sel[ie].control[p] && w > b->sel[ia].control[p] && w > b->sel[ib].control[p];
        total++;
        held += ok;
        check(k, ok, "WARM not above ENS and both members at n = %.0f", b->n[p]);
        double other = fmax(b->sel[ie].control[p], fmax(b->sel[ia].control[p], b->sel[ib].control[p]));
        stat(k, WARM_REPORT_GT, 0, w - other, "n = %.0f: WARM - max(ENS, A, B)", b->n[p]);
    }
    if (total == 0) {
        unknown(k, "%s has no n > 1", u->bon_path);
        return;
    }
    int L = b->n_points - 1;
    char x[4][32];
    NUMS(k, "n = %.0f: WARM %s vs ENS %s, A %s, B %s; held at %d/%d n > 1", b->n[L], rp_f3(x[0], b->sel[iw].control[L]),
         rp_f3(x[1], b->sel[ie].control[L]), rp_f3(x[2], b->sel[ia].control[L]), rp_f3(x[3], b->sel[ib].control[L]),
         held, total);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Toy: C17                                                                                              */

/* Index of the feature whose p is closest to target, skipping `skip`; -1 when none. */
static int toy_near(const rp_run *r, double target, int skip) {
    int best = -1;
    for (int i = 0; i < r->n_toy; i++)
        if (i != skip && (best < 0 || fabs(r->toy[i].p - target) < fabs(r->toy[best].p - target))) best = i;
    return best;
}

static void claim_c17(const rp_run *r, cl *k) {
    if (!r->has_plan) {
        unknown(k, "plan.json missing");
        return;
    }
    if (!r->toy_path) {
        unknown(k, "plan.json names no toy file");
        return;
    }
    if (!r->toy_present) {
        unknown(k, "%s missing", r->toy_path);
        return;
    }
    int a = toy_near(r, 0.3, -1), b = toy_near(r, 0.9, a);
    char x[6][32];
    for (int t = 0; t < 2; t++) {
        int i = t ? b : a;
        if (i < 0) continue;
        const rp_toy_feature *f = &r->toy[i];
        NUMS(k, "%sp = %s: ENS %s (theory %s), WA %s (theory %s; p^L %s)", t ? "; " : "", rp_f3(x[0], f->p),
             rp_f3(x[1], f->mc_ens), rp_f3(x[2], f->theory_ens), rp_f3(x[3], f->mc_wa), rp_f3(x[4], f->theory_wa_m),
             rp_f3(x[5], f->theory_wa_inf));
    }
    NUMS(k, "%smax |z| %s", k->c->numbers[0] ? "; " : "", rp_f3(x[0], r->toy_max_z));
    if (r->toy_m > 0) NUMS(k, " (M = %d, L = %d)", r->toy_m, r->toy_l);
    check(k, r->toy_holds, "`warm toy` reports holds = false");
    stat(k, WARM_REPORT_ALL, 0, r->toy_holds ? 1 : 0, "`warm toy` holds (1 = yes)");
    stat(k, WARM_REPORT_INFO, 0, r->toy_max_z, "max abs(z) of the Monte-Carlo estimates");
}

/* ---------------------------------------------------------------------------------------------------- */
/* RL: C12-C16 (rl-eval files: held-out gold reward, KL and win rates of every run at every evaluated step) */

/* The setup's RL numbers when every eval file is present, else NULL (reason recorded). */
static const rp_rl *rl_need(cl *k, const rp_setup *u) {
    const rp_rl *q = &u->rl;
    if (!q->has_rl) return NULL;
    if (q->n_evals < 1) return unknown(k, "setup %s: plan.json lists no RL evaluation", u->name), NULL;
    int ok = 1;
    for (int e = 0; e < q->n_evals; e++)
        if (!q->eval_present[e]) unknown(k, "%s missing", q->eval_paths[e]), ok = 0;
    return ok ? q : NULL;
}

/* The clean setup's RL numbers, or NULL (reason recorded). */
static const rp_rl *clean_rl_need(const rp_run *r, cl *k) {
    const rp_setup *u = clean_need(r, k);
    if (!u) return NULL;
    if (!u->rl.has_rl) return unknown(k, "the clean setup has no RL runs"), NULL;
    return rl_need(k, u);
}

/* The setups with RL; none is "not measured". */
static int rl_setups(const rp_run *r, cl *k, const rp_setup **out, int max) {
    if (!r->has_plan) return unknown(k, "plan.json missing"), 0;
    int n = 0;
    for (int i = 0; i < r->n_setups && n < max; i++)
        if (r->setups[i].rl.has_rl) out[n++] = &r->setups[i];
    if (!n) unknown(k, "plan.json has no RL runs");
    return n;
}

/* Evaluated step of the highest gold reward of run i (the first on ties). */
static int rl_peak(const rp_rl *q, int i) {
    int best = 0;
    for (int e = 1; e < q->n_evals; e++)
        if (q->runs[i].gold[e] > q->runs[i].gold[best]) best = e;
    return best;
}

/* One standard error of a difference of two independent means. */
static double se2(double a, double b) { return sqrt(a * a + b * b); }

static void claim_c12(const rp_run *r, cl *k) {
    const rp_setup *su[8];
    int n = rl_setups(r, k, su, 8);
    for (int t = 0; t < n; t++) {
        const rp_rl *q = rl_need(k, su[t]);
        if (!q) continue;
        int i = rp_rl_run_index(q, q->best), E = q->n_evals;
        const rp_rl_run *u = &q->runs[i];
        int p = rl_peak(q, i);
        double rise = u->gold[p] - q->sft_gold, fall = u->gold[p] - u->gold[E - 1];
        /* Paired standard errors (differences to the SFT policy on the same prompts) when the files have them. */
        int paired = !isnan(u->gold_dse[p]) && !isnan(u->gold_dse[E - 1]);
        double trise = paired ? u->gold_dse[p] : se2(u->gold_se[p], q->sft_gold_se);
        double tfall = p == E - 1 ? 0.0
                       : paired ? se2(u->gold_dse[p], u->gold_dse[E - 1])
                                : se2(u->gold_se[p], u->gold_se[E - 1]);
        char a[32], b[32], c2[32], d[32], e2[32];
        NUMS(k, "%s%s, best member: gold SFT %s, peak %s at step %.0f (KL %s), last %s at step %.0f", t ? "; " : "",
             su[t]->name, rp_s3(a, q->sft_gold), rp_s3(b, u->gold[p]), q->steps[p], rp_f3(c2, u->kl[p]),
             rp_s3(d, u->gold[E - 1]), q->steps[E - 1]);
        NUMS(k, " (se of the rise %s)", rp_f3(e2, trise));
        stat(k, WARM_REPORT_GT, 0, rise, "%s: peak gold - SFT gold (best member)", su[t]->name);
        stat(k, WARM_REPORT_GT, 0, fall, "%s: peak gold - last gold (best member)", su[t]->name);
        check(k, rise > trise, "%s: the gold reward does not rise above the SFT policy's by one standard error",
              su[t]->name);
        check(k, p < E - 1 && fall > tfall, "%s: the gold reward does not fall after its peak (peak at step %.0f)",
              su[t]->name, q->steps[p]);
    }
}

static void claim_c13(const rp_run *r, cl *k) {
    const rp_setup *su[8];
    int n = rl_setups(r, k, su, 8);
    for (int t = 0; t < n; t++) {
        const rp_rl *q = rl_need(k, su[t]);
        if (!q) continue;
        const char *nm[4] = {q->best, q->warm2, q->warm_big, q->ens2};
        double g[4], kl[4];
        for (int j = 0; j < 4; j++) {
            int i = rp_rl_run_index(q, nm[j]), p = rl_peak(q, i);
            g[j] = q->runs[i].gold[p];
            kl[j] = q->runs[i].kl[p];
        }
        char a[4][32], b[4][32];
        NUMS(k, "%s%s: peak gold (KL there) best %s (%s) < WARM M=2 %s (%s) < WARM M=%d %s (%s); ENS M=2 %s (%s)",
             t ? "; " : "", su[t]->name, rp_s3(a[0], g[0]), rp_f3(b[0], kl[0]), rp_s3(a[1], g[1]), rp_f3(b[1], kl[1]),
             q->warm_big_m, rp_s3(a[2], g[2]), rp_f3(b[2], kl[2]), rp_s3(a[3], g[3]), rp_f3(b[3], kl[3]));
        stat(k, WARM_REPORT_GT, 0, g[1] - g[0], "%s: peak gold WARM M=2 - best member", su[t]->name);
        stat(k, WARM_REPORT_GT, 0, g[2] - g[1], "%s: peak gold WARM M=%d - WARM M=2", su[t]->name, q->warm_big_m);
        stat(k, WARM_REPORT_GE, 0, kl[1] - kl[0], "%s: KL at peak WARM M=2 - best member", su[t]->name);
        stat(k, WARM_REPORT_GE, 0, kl[2] - kl[1], "%s: KL at peak WARM M=%d - WARM M=2", su[t]->name, q->warm_big_m);
        stat(k, WARM_REPORT_GT, 0, g[1] - g[3], "%s: peak gold WARM M=2 - ENS M=2", su[t]->name);
        check(k, g[0] < g[1] && g[1] < g[2], "%s: peak gold does not grow with M", su[t]->name);
        check(k, kl[0] <= kl[1] && kl[1] <= kl[2], "%s: the KL of the peak does not grow with M", su[t]->name);
        check(k, g[1] > g[3], "%s: WARM M=2 does not beat ENS M=2 at peak", su[t]->name);
    }
}

/* The beta of the highest peak gold among the runs of one proxy (name, or name-b<beta>); NAN when fewer than two
 * betas were run. */
static double best_beta(const rp_rl *q, const char *base, int *n_beta) {
    size_t L = strlen(base);
    double bb = RP_NAN, bg = -INFINITY;
    *n_beta = 0;
    for (int i = 0; i < q->n_runs; i++) {
        const char *nm = q->runs[i].name;
        if (strncmp(nm, base, L) != 0 || (nm[L] && strncmp(nm + L, "-b", 2) != 0) || isnan(q->runs[i].beta)) continue;
        (*n_beta)++;
        double g = q->runs[i].gold[rl_peak(q, i)];
        if (g > bg) bg = g, bb = q->runs[i].beta;
    }
    return *n_beta >= 2 ? bb : RP_NAN;
}

static void claim_c14(const rp_run *r, cl *k) {
    const rp_rl *q = clean_rl_need(r, k);
    if (!q) return;
    int nw, nb;
    double bw = best_beta(q, q->warm_big, &nw), bs = best_beta(q, q->best, &nb);
    if (nw < 2 || nb < 2) {
        unknown(k, "no beta sweep at this scale (%d and %d betas run)", nw, nb);
        return;
    }
    NUMS(k, "best beta (highest peak gold): WARM M=%d %g, best member %g (over %d betas)", q->warm_big_m, bw, bs, nw);
    stat(k, WARM_REPORT_LE, 0, log(bw) - log(bs), "log best beta: WARM M=%d - best member", q->warm_big_m);
    check(k, bw <= bs, "WARM's best beta is larger than the best member's");
}

static void claim_c15(const rp_run *r, cl *k) {
    const rp_rl *q = clean_rl_need(r, k);
    if (!q) return;
    int w = rp_rl_run_index(q, q->warm_big), b = rp_rl_run_index(q, q->best), p = rl_peak(q, w);
    /* winrate_vs_first is the row's policy against WARM M=big (the first run) at the same step. */
    double vs_best = 1.0 - q->runs[b].win_ref[p], se_best = q->runs[b].win_ref_se[p];
    double vs_sft = q->runs[w].win_sft[p], se_sft = q->runs[w].win_sft_se[p];
    char a[32], c2[32], d[32], e[32];
    NUMS(k, "WARM M=%d at its peak (step %.0f): wins %s (se %s) against the best member's policy at that step, %s (se "
         "%s) against SFT", q->warm_big_m, q->steps[p], rp_f3(a, vs_best), rp_f3(c2, se_best), rp_f3(d, vs_sft),
         rp_f3(e, se_sft));
    stat(k, WARM_REPORT_GT, 0.5, vs_best, "win rate of WARM M=%d vs the best member at WARM's peak", q->warm_big_m);
    stat(k, WARM_REPORT_GT, 0.5, vs_sft, "win rate of WARM M=%d vs SFT at its peak", q->warm_big_m);
    check(k, vs_best - 0.5 > se_best, "WARM does not beat the best member's policy by one standard error");
    check(k, vs_sft - 0.5 > se_sft, "WARM does not beat the SFT policy by one standard error");
}

static void claim_c16(const rp_run *r, cl *k) {
    const rp_setup *su[8];
    int n = rl_setups(r, k, su, 8), any = 0;
    for (int t = 0; t < n; t++) {
        if (!su[t]->rl.warm_all) continue;
        any++;
        const rp_rl *q = rl_need(k, su[t]);
        if (!q) continue;
        int a = rp_rl_run_index(q, q->warm_all), b = rp_rl_run_index(q, q->warm_big);
        int pa = rl_peak(q, a), pb = rl_peak(q, b);
        double ga = q->runs[a].gold[pa], gb = q->runs[b].gold[pb];
        int paired = !isnan(q->runs[a].gold_dse[pa]) && !isnan(q->runs[b].gold_dse[pb]);
        double tol = paired ? se2(q->runs[a].gold_dse[pa], q->runs[b].gold_dse[pb])
                            : se2(q->runs[a].gold_se[pa], q->runs[b].gold_se[pb]);
        char x[32], y[32], z[32];
        NUMS(k, "%s%s: WARM M=%d peak %s at step %.0f, WARM M=%d peak %s at step %.0f (se of the difference %s)",
             t ? "; " : "", su[t]->name, q->warm_all_m, rp_s3(x, ga), q->steps[pa], q->warm_big_m, rp_s3(y, gb),
             q->steps[pb], rp_f3(z, tol));
        stat(k, WARM_REPORT_LE, 0, ga - gb, "%s: peak gold WARM M=%d - WARM M=%d", su[t]->name, q->warm_all_m,
             q->warm_big_m);
        stat(k, WARM_REPORT_GE, 0, q->steps[pa] - q->steps[pb], "%s: peak step WARM M=%d - WARM M=%d", su[t]->name,
             q->warm_all_m, q->warm_big_m);
        check(k, ga - gb <= tol, "%s: WARM M=%d beats WARM M=%d at peak", su[t]->name, q->warm_all_m, q->warm_big_m);
        check(k, pa >= pb, "%s: WARM M=%d peaks earlier than WARM M=%d", su[t]->name, q->warm_all_m, q->warm_big_m);
    }
    if (n && !any) unknown(k, "no WARM of all members beyond M=6 at this scale");
}

/* ---------------------------------------------------------------------------------------------------- */
/* The table                                                                                             */

static const struct {
    const char *id, *claim, *source, *rule, *seeds; /* seeds: the statistics over seeds */
    void (*fn)(const rp_run *r, cl *k);
} claims[WARM_REPORT_NCLAIMS] = {
    {"C1", "LMC: WA_lambda >= Diag_lambda on OOD for every lambda, within noise", "Obs. 1, Fig. 3",
     "pairs ckpt, seed, lr, sft on `ood`: for every pair and every lambda, WA >= Diag - tol. Numbers: per pair the "
     "min over lambda of WA-Diag and the midpoint WA-Diag.",
     "per pair ckpt, seed, lr, sft: the minimum over 0 < lambda < 1 of WA-Diag on `ood` must be >= 0 (the "
     "interval replaces tol).",
     claim_c1},
    {"C2", "WA ~ ENS: max abs(WA-ENS) small next to the WA-over-Diag gain", "Obs. 2, Fig. 3",
     "same pairs on `ood`: A = max over lambda of |WA-ENS|, G = max over lambda of WA-Diag; holds when A < G for "
     "every pair.",
     "per pair: G - A > 0.",
     claim_c2},
    {"C3", "midpoint gain WA_0.5 - Diag_0.5 grows: ckpt < seed < lr < sft", "Fig. 3a-d",
     "midpoint WA-Diag on `ood`, strictly increasing ckpt < seed < lr < sft; otherwise \"k of 3 in order\".",
     "the margins seed - ckpt, lr - seed, sft - lr of the midpoint WA-Diag on `ood`, each > 0.",
     claim_c3},
    {"C4", "averaging checkpoints of one run is worse than averaging independent runs", "Remark 2, Fig. 3a",
     "WA at lambda 0.5 on `ood`: ckpt pair < seed pair.",
     "WA_0.5(ckpt) - WA_0.5(seed) on `ood` < 0.",
     claim_c4},
    {"C5", "from scratch (no shared pre-training) WA falls below Diag", "Remark 1",
     "scratch pair: midpoint WA-Diag < 0 on `ood` (`val` printed too).",
     "scratch WA_0.5 - Diag_0.5 on `ood` < 0.",
     claim_c5},
    {"C6", "25% swapped labels: WA_0.5 below ENS_0.5 and Diag_0.5 on train-corrupt", "Obs. 3, Figs. 4a, 11",
     "corrupt pairs on `train-corrupt`: the mean over pairs of WA at lambda 0.5 is below the mean ENS and below the "
     "mean Diag there.",
     "on `train-corrupt`, means over the corrupt pairs: WA_0.5 - ENS_0.5 < 0 and WA_0.5 - Diag_0.5 < 0.",
     claim_c6},
    {"C7", "WA-ENS: most negative on train-corrupt, then train-clean (<= 0), val, largest (> 0) on OOD",
     "Obs. 3, Figs. 4-5",
     "d(S) = mean over corrupt pairs and lambda in (0, 1) of WA-ENS on subset S; holds when d(train-corrupt) < "
     "d(train-clean) <= 0, d(train-clean) <= d(val) <= d(ood) and d(ood) > 0.",
     "d(train-corrupt) - d(train-clean) < 0, d(train-clean) <= 0, d(train-clean) - d(val) <= 0, d(val) - d(ood)"
     " <= 0, d(ood) > 0.",
     claim_c7},
    {"C8", "top-M by OOD accuracy: best->worst >= worst->best; accuracy rises with M", "Fig. 10",
     "clean setup, merges of the top-M on `ood`: bwM >= wbM for M = 2..min(3, N-1), wbN > wb1 and "
     "bwN >= bw1 - tol.",
     "bwM - wbM >= 0 for M = 2..min(3, N-1), wbN - wb1 > 0, bwN - bw1 >= 0 (the interval replaces tol), all on "
     "`ood`.",
     claim_c8},
    {"C9", "BoN control reward: WARM M=6 > WARM M=2 > ENS M=2 >= best member, clean and corrupt", "Figs. 6, 15",
     "every setup with BoN, every n > 1: control(WARM M=big) > control(WARM M=2) > control(ENS M=2) >= "
     "control(best member).",
     "per setup and every n > 1: WARM M=big - WARM M=2 > 0, WARM M=2 - ENS M=2 > 0, ENS M=2 - best >= 0.",
     claim_c9},
    {"C10", "BoN oracle: WARM beats SFT (> 50%, rising with n); nothing beats WARM M=6", "Figs. 7, 17a",
     "clean setup (corrupt printed): the bon file's ref is WARM M=big; its win rate vs SFT > 0.5 at every n > 1 and "
     "non-decreasing in n (slack 0.002); every other selector's win rate vs it <= 0.5 + 0.002 at every n.",
     "clean setup: WARM's win rate vs SFT > 0.5 at every n > 1; its rise from each n to the next >= -0.002; the"
     " best other selector's win rate vs WARM <= 0.502 at every n (the slack stays: it is not a noise "
     "tolerance).",
     claim_c10},
    {"C11", "BoN Baklava: WARM of two RMs from different SFT checkpoints beats their ENS and both members",
     "Fig. 16", "clean setup's Baklava selectors, every n > 1: control(WARM) > control(ENS), control(A), control(B).",
     "every n > 1: control(WARM) - max(control(ENS), control(A), control(B)) > 0.",
     claim_c11},
    {"C12", "RL against one RM: the control reward rises, then falls with steps (reward hacking)", "Figs. 1b, 8",
     "every setup with RL, the best member's run at the scale's beta: gold on held-out prompts at its peak step minus "
     "the SFT policy's gold > its standard error (paired over prompts: d_peak = se of gold - SFT gold at the peak), "
     "and the peak before the last evaluated step with the last step's gold below the peak by more than "
     "sqrt(d_peak^2 + d_last^2) (unpaired sqrt(se^2 + se^2) for files without gold_vs_sft_se).",
     "per setup: peak gold - SFT gold > 0 and peak gold - last gold > 0 (best member's run).",
     claim_c12},
    {"C13", "RL: the peak control reward and the KL of the peak grow with M; WARM M=2 beats ENS M=2 at peak",
     "Figs. 1b, 8a-b, 18",
     "every setup with RL: peak gold best member < WARM M=2 < WARM M=big, the KL at those peaks non-decreasing in the "
     "same order, and peak gold WARM M=2 > ENS M=2 (no tolerance, as C9).",
     "per setup: WARM M=2 - best > 0, WARM M=big - WARM M=2 > 0 (peak gold); the KLs at the peaks in that order "
     "differ by >= 0; WARM M=2 - ENS M=2 > 0 (peak gold).",
     claim_c13},
    {"C14", "over beta, the best beta for WARM <= the best beta for the best single RM", "Figs. 8c, 19b",
     "clean setup, runs of WARM M=big and of the best member at every beta of the sweep: the beta of the highest "
     "peak gold of WARM <= that of the best member.",
     "log(best beta of WARM) - log(best beta of the best member) <= 0.",
     claim_c14},
    {"C15", "the WARM M=6 policy at its best step beats the best single-RM policy (> 50%) and SFT", "Fig. 9",
     "clean setup, at the evaluated step where WARM M=big's gold peaks: the probability that a sample of WARM's policy "
     "has a higher gold reward than one of the best member's policy at the same step (ties 1/2), and than one of the "
     "SFT policy, each exceed 0.5 by more than its standard error over prompts.",
     "both win rates - 0.5 > 0.",
     claim_c15},
    {"C16", "M = 10 delays hacking but does not beat M = 6 at peak", "Fig. 9",
     "every setup with a WARM of all members (full scale, M = 10): its peak gold <= WARM M=6's + sqrt(d_a^2 + d_b^2) "
     "(d: the paired standard errors of the peaks' gold - SFT gold), and its peak step >= WARM M=6's.",
     "per setup: peak gold M=10 - M=6 <= 0; peak step M=10 - M=6 >= 0.",
     claim_c16},
    {"C17", "toy model: ENS ~ p_j, WA ~ p_j^L per feature (Monte Carlo)", "Sec. 4.3, Eqs. 4-5",
     "`warm toy` decided it: every Monte-Carlo coefficient within 4 standard errors + 0.001 of the finite-M theory "
     "and WA <= ENS for p < 1 (its \"holds\").",
     "`warm toy`'s yes/no per seed: holds when every seed says yes, does not hold when none does, else "
     "inconclusive (max abs(z) printed).",
     claim_c17},
};

const char *rp_claim_rule(int i) { return i >= 0 && i < WARM_REPORT_NCLAIMS ? claims[i].rule : ""; }

const char *rp_claim_seeds_rule(int i) { return i >= 0 && i < WARM_REPORT_NCLAIMS ? claims[i].seeds : ""; }

void rp_claims(const rp_run *r, warm_report_claim out[WARM_REPORT_NCLAIMS], rp_stats *stats) {
    for (int i = 0; i < WARM_REPORT_NCLAIMS; i++) {
        warm_report_claim *c = &out[i];
        memset(c, 0, sizeof *c);
        c->id = claims[i].id;
        c->claim = claims[i].claim;
        c->source = claims[i].source;
        cl k = {.c = c, .st = stats ? &stats[i] : NULL};
        if (k.st) memset(k.st, 0, sizeof *k.st);
        claims[i].fn(r, &k);
        finish(&k);
    }
}
