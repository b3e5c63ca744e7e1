/*
 * report_md.c — the Markdown text of report.md (report_internal.h): the claims table first, then the rules,
 * the run facts, the reward models, LMC, best-of-n, the toy model and a reading guide.
 *
 * Numbers are printed with 3 decimals ("-" when a file did not give them). Strings taken from the run's files
 * are made table-safe ('|' and line breaks replaced). Nothing here reads a clock or the environment: the same
 * rp_run and claims give the same bytes. A figure is linked only when its file exists in the run directory.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/report_internal.h"

/* ---------------------------------------------------------------------------------------------------- */
/* Text buffer and formatting                                                                            */

void rp_printf(rp_buf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        size_t room = b->cap - b->len;
        va_list ap;
        va_start(ap, fmt);
        int n = b->s ? vsnprintf(b->s + b->len, room, fmt, ap) : -2;
        va_end(ap);
        if (n >= 0 && (size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        if (n == -1) {
            b->oom = 1;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 16384;
        while (n > 0 && cap - b->len <= (size_t)n) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

/* A rounded zero never carries a minus sign: "-0.000" becomes "0.000" (plain) or "+0.000" (signed). */
const char *rp_f3(char buf[32], double v) {
    if (isnan(v)) return strcpy(buf, "-");
    snprintf(buf, 32, "%.3f", v);
    if (strcmp(buf, "-0.000") == 0) strcpy(buf, "0.000");
    return buf;
}

const char *rp_s3(char buf[32], double v) {
    if (isnan(v)) return strcpy(buf, "-");
    snprintf(buf, 32, "%+.3f", v);
    if (strcmp(buf, "-0.000") == 0) strcpy(buf, "+0.000");
    return buf;
}

/* A general number as short text: integers without decimals, small values like lr in %g. */
static const char *num(char buf[32], double v) {
    if (isnan(v)) return strcpy(buf, "-");
    if (v == floor(v) && fabs(v) < 1e15) snprintf(buf, 32, "%.0f", v);
    else snprintf(buf, 32, "%g", v);
    return buf;
}

/* s made safe inside a Markdown table cell ("-" for NULL): '|' escaped, line breaks and tabs made spaces;
 * truncated to the buffer. */
static const char *md(char *buf, size_t n, const char *s) {
    if (!s || !*s) return snprintf(buf, n, "-"), buf;
    size_t k = 0;
    for (; *s && k + 2 < n; s++) {
        if (*s == '|') buf[k++] = '\\';
        buf[k++] = (*s == '\n' || *s == '\r' || *s == '\t') ? ' ' : *s;
    }
    buf[k] = 0;
    return buf;
}

const char *rp_md(char *buf, size_t n, const char *s) { return md(buf, n, s); }

/* Links the figure when the file exists in the run directory. */
static void figure(const rp_run *r, const char *prefix, const char *rel, const char *alt, rp_buf *b) {
    if (!rel) return;
    char path[2048], a[256];
    snprintf(path, sizeof path, "%s/%s", r->dir, rel);
    if (access(path, R_OK) != 0) return;
    rp_printf(b, "\n![%s](%s%s)\n", md(a, sizeof a, alt), rel[0] == '/' ? "" : prefix, rel);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Claims                                                                                               */

static void claims_section(const rp_run *r, const warm_report_claim *c, rp_buf *b) {
    int cnt[4] = {0, 0, 0, 0};
    for (int i = 0; i < WARM_REPORT_NCLAIMS; i++) cnt[c[i].verdict]++;
    rp_printf(b, "## Claims\n\n**%d hold, %d do not hold, %d not measured at this scale** (of %d claims checked).\n\n",
              cnt[WARM_REPORT_HOLDS], cnt[WARM_REPORT_DOES_NOT_HOLD], cnt[WARM_REPORT_NOT_MEASURED],
              WARM_REPORT_NCLAIMS);
    rp_printf(b, "| # | claim | paper | measured (acc_ge) | verdict |\n|---|---|---|---|---|\n");
    for (int i = 0; i < WARM_REPORT_NCLAIMS; i++) {
        char nums[1600], det[600];
        rp_printf(b, "| %s | %s | %s | %s | %s%s%s%s%s |\n", c[i].id, c[i].claim, c[i].source,
                  md(nums, sizeof nums, c[i].numbers), c[i].verdict == WARM_REPORT_HOLDS ? "**" : "",
                  warm_report_verdict_str(c[i].verdict), c[i].verdict == WARM_REPORT_HOLDS ? "**" : "",
                  c[i].detail[0] ? ": " : "", c[i].detail[0] ? md(det, sizeof det, c[i].detail) : "");
    }
    rp_printf(b, "\nC18 (distillation) is outside this demo. C12-C16 rest on RL runs: at small scale a cut form (the "
                 "clean setup, 48 steps, no beta sweep, no M=10), so C14 and C16 are measured at full scale only.\n");

    rp_printf(b, "\n### Rules\n\nAll accuracies use the paper's rule acc_ge (a tie counts as correct). The noise "
                 "tolerance of an accuracy on n pairs is tol = sqrt(0.25 / n), one standard error at accuracy 1/2, "
                 "with n the pairs of the subset used. WA_lambda: the weights (1-lambda) A + lambda B; ENS_lambda: "
                 "the rewards (1-lambda) r_A + lambda r_B; Diag_lambda: (1-lambda) Acc(A) + lambda Acc(B). A claim "
                 "whose file is absent is \"not measured at this scale\".\n\n");
    for (int i = 0; i < WARM_REPORT_NCLAIMS; i++) rp_printf(b, "- **%s**: %s\n", c[i].id, rp_claim_rule(i));
    if (r->n_missing) {
        rp_printf(b, "\n### Files not found\n\n");
        for (int i = 0; i < r->n_missing; i++)
            rp_printf(b, "- `%s` (%s)\n", r->missing[i].rel, r->missing[i].what);
    }
}

/* ---------------------------------------------------------------------------------------------------- */
/* Run facts and task                                                                                    */

static void run_section(const rp_run *r, rp_buf *b) {
    char x[256], y[256], n1[32], n2[32];
    rp_printf(b, "\n## Run\n\n");
    if (!r->has_run) {
        rp_printf(b, "run.json missing.\n");
    } else {
        rp_printf(b, "| | |\n|---|---|\n| scale | %s |\n| seed | %s |\n", md(x, sizeof x, r->scale), num(n1, r->seed));
        rp_printf(b, "| started | %s |\n| finished | %s |\n", md(x, sizeof x, r->started),
                  r->finished ? md(y, sizeof y, r->finished) : "not finished");
        rp_printf(b, "| machine | %s, %s cores, %s threads, %s |\n", md(x, sizeof x, r->cpu), num(n1, r->cores),
                  num(n2, r->threads), md(y, sizeof y, r->os));
        rp_printf(b, "| warm version | %s |\n", md(x, sizeof x, r->version));
        if (r->n_stages) {
            double total = 0;
            rp_printf(b, "\n| stage | status | seconds |\n|---|---|---:|\n");
            for (int i = 0; i < r->n_stages; i++) {
                const rp_stage *s = &r->stages[i];
                rp_printf(b, "| %s | %s | %s |\n", md(x, sizeof x, s->name), md(y, sizeof y, s->status),
                          isnan(s->seconds) ? "-" : (snprintf(n1, sizeof n1, "%.1f", s->seconds), n1));
                if (!isnan(s->seconds)) total += s->seconds;
            }
            rp_printf(b, "| **total** | | %.1f |\n", total);
        }
    }
    if (r->noise_note) rp_printf(b, "\nEvaluation noise: %s\n", md(x, sizeof x, r->noise_note));
    if (r->stats_present && r->n_stat_splits) {
        rp_printf(b, "\n### Task\n\n| split | pairs | gold ties | corrupted | labels agree with gold |\n"
                     "|---|---:|---:|---:|---:|\n");
        for (int i = 0; i < r->n_stat_splits; i++)
            rp_printf(b, "| %s | %s | %s | %s | %s |\n", r->stat_splits[i].name, num(n1, r->stat_splits[i].pairs),
                      num(n2, r->stat_splits[i].gold_ties), num(x, r->stat_splits[i].corrupted),
                      rp_f3(y, r->stat_splits[i].agree_gold));
    }
}

/* ---------------------------------------------------------------------------------------------------- */
/* Reward models                                                                                         */

static void members_table(const rp_setup *u, rp_buf *b) {
    char x[5][256];
    const rp_eval *e = &u->members_eval;
    rp_printf(b, "| rank | member | init | lr | dropout | seed | val | ood_val | ood |\n"
                 "|---:|---|---|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < u->n_members; i++) {
        const rp_member *m = &u->members[i];
        char n1[32], n2[32], n3[32], n4[32], a1[32], a2[32], a3[32];
        rp_printf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", num(n1, m->rank),
                  md(x[0], sizeof x[0], m->name), md(x[1], sizeof x[1], m->init), num(n2, m->lr),
                  num(n3, m->dropout), num(n4, m->seed), rp_f3(a1, m->val_acc), rp_f3(a2, m->ood_val_acc),
                  rp_f3(a3, rp_eval_acc(e, i, "ood")));
    }
    if (u->eval_members_path && !e->present) rp_printf(b, "\n(ood column: %s missing)\n", u->eval_members_path);
}

static void compare_table(const rp_setup *u, rp_buf *b) {
    const rp_eval *e = &u->members_eval, *t = &u->topm;
    int big = u->has_bon ? u->warm_big_m : u->n_members;
    char nm[64], x[256], a1[32], a2[32];
    rp_printf(b, "\n| model | val | ood |\n|---|---:|---:|\n");
    if (u->n_members)
        rp_printf(b, "| best member (%s) | %s | %s |\n", md(x, sizeof x, u->members[0].name),
                  rp_f3(a1, rp_eval_acc(e, 0, "val")), rp_f3(a2, rp_eval_acc(e, 0, "ood")));
    rp_printf(b, "| ENS of all %d members | %s | %s |\n", u->n_members, rp_f3(a1, rp_eval_acc(e, e->n_models, "val")),
              rp_f3(a2, e->ens ? rp_eval_acc(e, e->n_models, "ood") : RP_NAN));
    int ms[2] = {2, big};
    for (int k = 0; k < (big == 2 ? 1 : 2); k++) {
        snprintf(nm, sizeof nm, "bw%d", ms[k]);
        int i = rp_eval_model(t, nm);
        rp_printf(b, "| WARM M=%d (%s) | %s | %s |\n", ms[k], nm, rp_f3(a1, rp_eval_acc(t, i, "val")),
                  rp_f3(a2, rp_eval_acc(t, i, "ood")));
    }
}

static void topm_table(const rp_setup *u, rp_buf *b) {
    const rp_eval *t = &u->topm;
    if (!t->present) {
        if (u->eval_topm_path) rp_printf(b, "\nTop-M curves: %s missing.\n", u->eval_topm_path);
        return;
    }
    rp_printf(b, "\nTop-M merges (uniform average of the M best members, best->worst, and of the M worst, "
                 "worst->best):\n\n| M | best->worst val | best->worst ood | worst->best val | worst->best ood |\n"
                 "|---:|---:|---:|---:|---:|\n");
    char v[4][32];
    /* bw1, wb1 and wbN come from the members' file when the demo did not evaluate them twice (rp_topm_acc). */
    for (int m = 1, N = rp_topm_n(u); m <= N; m++)
        rp_printf(b, "| %d | %s | %s | %s | %s |\n", m, rp_f3(v[0], rp_topm_acc(u, "bw", m, "val")),
                  rp_f3(v[1], rp_topm_acc(u, "bw", m, "ood")), rp_f3(v[2], rp_topm_acc(u, "wb", m, "val")),
                  rp_f3(v[3], rp_topm_acc(u, "wb", m, "ood")));
}

static void models_section(const rp_run *r, const char *prefix, rp_buf *b) {
    if (!r->has_plan) return;
    char x[256], n1[32];
    rp_printf(b, "\n## Reward models\n\nMembers in rank order (rank 1 = best on the held-out split ood_val); "
                 "accuracies acc_ge.\n");
    for (int s = 0; s < r->n_setups; s++) {
        const rp_setup *u = &r->setups[s];
        rp_printf(b, "\n### Setup %s (%s%% swapped labels)\n\n", md(x, sizeof x, u->name),
                  isnan(u->corrupt) ? "-" : (snprintf(n1, sizeof n1, "%g", 100 * u->corrupt), n1));
        members_table(u, b);
        compare_table(u, b);
        topm_table(u, b);
    }
    figure(r, prefix, r->topm_figure, "top-M curves", b);
}

/* ---------------------------------------------------------------------------------------------------- */
/* LMC                                                                                                   */

static void lmc_section(const rp_run *r, const char *prefix, rp_buf *b) {
    if (!r->has_plan || r->n_lmc == 0) return;
    char x[256], y[64], z[256], v[5][32];
    rp_printf(b, "\n## Linear mode connectivity\n\nMidpoint (lambda = 0.5) gains, acc_ge.\n\n"
                 "| pair | what | setup | val WA-Diag | val WA-ENS | ood WA-Diag | ood WA-ENS | ood pairs |\n"
                 "|---|---|---|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < r->n_lmc; i++) {
        const rp_lmc_pair *p = &r->lmc[i];
        rp_printf(b, "| %s | %s | %s ", md(y, sizeof y, p->kind), md(x, sizeof x, p->label), md(z, sizeof z, p->setup));
        if (!p->present) {
            rp_printf(b, "| %s missing | | | | |\n", md(z, sizeof z, p->json));
            continue;
        }
        int jv = rp_lmc_sub(p, "val"), jo = rp_lmc_sub(p, "ood"), m = p->mid;
        const rp_lmc_subset *qv = jv >= 0 ? &p->subs[jv] : NULL, *qo = jo >= 0 ? &p->subs[jo] : NULL;
        rp_printf(b, "| %s | %s | %s | %s | %s |\n", rp_s3(v[0], qv && m >= 0 ? qv->wa[m] - qv->diag[m] : RP_NAN),
                  rp_s3(v[1], qv && m >= 0 ? qv->wa[m] - qv->ens[m] : RP_NAN),
                  rp_s3(v[2], qo && m >= 0 ? qo->wa[m] - qo->diag[m] : RP_NAN),
                  rp_s3(v[3], qo && m >= 0 ? qo->wa[m] - qo->ens[m] : RP_NAN), num(v[4], qo ? qo->n : RP_NAN));
    }
    /* Label corruption: the four subsets of every corrupt pair (C6, C7). */
    int header = 0;
    static const char *const subs[4] = {"train-corrupt", "train-clean", "val", "ood"};
    for (int i = 0; i < r->n_lmc; i++) {
        const rp_lmc_pair *p = &r->lmc[i];
        if (strcmp(p->kind, "corrupt") != 0 || !p->present) continue;
        if (!header++)
            rp_printf(b, "\nCorrupt pairs at lambda = 0.5, and the mean WA-ENS over lambda in (0, 1):\n\n"
                         "| file | subset | WA_0.5 | ENS_0.5 | Diag_0.5 | mean WA-ENS |\n"
                         "|---|---|---:|---:|---:|---:|\n");
        for (int s = 0; s < 4; s++) {
            int j = rp_lmc_sub(p, subs[s]);
            if (j < 0) continue;
            const rp_lmc_subset *q = &p->subs[j];
            double d = 0;
            int cnt = 0;
            for (int l = 0; l < p->grid; l++)
                if (p->lambda[l] > 0 && p->lambda[l] < 1) d += q->wa[l] - q->ens[l], cnt++;
            int m = p->mid;
            rp_printf(b, "| %s | %s | %s | %s | %s | %s |\n", md(z, sizeof z, p->json), subs[s], rp_f3(v[0], m >= 0 ? q->wa[m] : RP_NAN),
                      rp_f3(v[1], m >= 0 ? q->ens[m] : RP_NAN), rp_f3(v[2], m >= 0 ? q->diag[m] : RP_NAN),
                      rp_s3(v[3], cnt ? d / cnt : RP_NAN));
        }
    }
    for (int i = 0; i < r->n_lmc; i++) {
        char alt[256];
        snprintf(alt, sizeof alt, "LMC %s: %s", r->lmc[i].kind, r->lmc[i].label ? r->lmc[i].label : "");
        figure(r, prefix, r->lmc[i].figure, alt, b);
    }
}

/* ---------------------------------------------------------------------------------------------------- */
/* Best-of-n                                                                                             */

/* The role a selector plays in the plan, or "". */
static const char *role(const rp_setup *u, const char *name, char *buf, size_t n) {
    struct {
        const char *sel, *what;
    } roles[] = {{u->best, "best member"}, {u->warm2, "WARM M=2"}, {u->warm_big, NULL},  {u->ens2, "ENS M=2"},
                 {u->bak_warm, "Baklava WARM"}, {u->bak_ens, "Baklava ENS"}, {u->bak_a, "Baklava A"},
                 {u->bak_b, "Baklava B"}};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        if (!roles[i].sel || strcmp(roles[i].sel, name) != 0) continue;
        if (roles[i].what) snprintf(buf, n, " (%s)", roles[i].what);
        else snprintf(buf, n, " (WARM M=%d)", u->warm_big_m);
        return buf;
    }
    return "";
}

static void bon_table(const rp_setup *u, int win, rp_buf *b) {
    const rp_bon *o = &u->bon;
    char x[256], r[64], v[32];
    rp_printf(b, "\n| n | KL |");
    for (int i = 0; i < o->n_sel; i++)
        rp_printf(b, " %s%s |", md(x, sizeof x, o->sel[i].name), role(u, o->sel[i].name, r, sizeof r));
    rp_printf(b, "\n|---:|---:|");
    for (int i = 0; i < o->n_sel; i++) rp_printf(b, "---:|");
    rp_printf(b, "\n");
    for (int p = 0; p < o->n_points; p++) {
        rp_printf(b, "| %.0f | %s |", o->n[p], rp_f3(v, o->kl[p]));
        for (int i = 0; i < o->n_sel; i++)
            rp_printf(b, " %s |", rp_f3(v, win ? o->sel[i].win_sft[p] : o->sel[i].control[p]));
        rp_printf(b, "\n");
    }
}

static void bon_section(const rp_run *r, const char *prefix, rp_buf *b) {
    if (!r->has_plan) return;
    char x[256], v[32];
    int any = 0;
    for (int s = 0; s < r->n_setups; s++) {
        const rp_setup *u = &r->setups[s];
        if (!u->has_bon) continue;
        if (!any++)
            rp_printf(b, "\n## Best-of-n\n\nExact expectations over n-subsets of a fixed pool of SFT samples; KL = "
                         "log n - (n-1)/n. The control reward is the task's gold reward.\n");
        rp_printf(b, "\n### Setup %s\n\n", md(x, sizeof x, u->name));
        if (!u->bon.present) {
            rp_printf(b, "%s missing.\n", u->bon_path);
            continue;
        }
        rp_printf(b, "Control reward of the pick (SFT sample mean %s):\n", rp_f3(v, u->bon.sft_control));
        bon_table(u, 0, b);
        rp_printf(b, "\nWin rate of the pick against a random SFT sample (control reward, ties 1/2):\n");
        bon_table(u, 1, b);
        char alt[300];
        snprintf(alt, sizeof alt, "best-of-n, setup %s", u->name);
        figure(r, prefix, u->bon_figure, alt, b);
    }
}

/* ---------------------------------------------------------------------------------------------------- */
/* RL                                                                                                   */

static const char *rl_role(const rp_rl *q, const char *name, char *buf, size_t n) {
    buf[0] = 0;
    if (q->warm_big && strcmp(name, q->warm_big) == 0) snprintf(buf, n, " (WARM M=%d)", q->warm_big_m);
    else if (q->warm_all && strcmp(name, q->warm_all) == 0) snprintf(buf, n, " (WARM M=%d)", q->warm_all_m);
    else if (q->warm2 && strcmp(name, q->warm2) == 0) snprintf(buf, n, " (WARM M=2)");
    else if (q->ens2 && strcmp(name, q->ens2) == 0) snprintf(buf, n, " (ENS M=2)");
    else if (q->best && strcmp(name, q->best) == 0) snprintf(buf, n, " (best member)");
    return buf;
}

static void rl_section(const rp_run *r, const char *prefix, rp_buf *b) {
    if (!r->has_plan) return;
    char x[256], ro[64], v[3][32];
    int any = 0;
    for (int s = 0; s < r->n_setups; s++) {
        const rp_setup *u = &r->setups[s];
        const rp_rl *q = &u->rl;
        if (!q->has_rl) continue;
        if (!any++)
            rp_printf(b, "\n## RL\n\n`warm rl` (REINFORCE with a leave-one-out baseline, return = normalised proxy "
                         "reward - beta KL to the SFT policy; docs/rl.md) against each proxy, evaluated by `warm rl-eval` "
                         "on held-out val prompts: mean gold (control) reward +- its standard error over prompts, and "
                         "the KL to the SFT policy in nats per response.\n");
        rp_printf(b, "\n### Setup %s\n\nSFT policy: gold %s +- %s.\n\n| run | beta |", md(x, sizeof x, u->name),
                  rp_f3(v[0], q->sft_gold), rp_f3(v[1], q->sft_gold_se));
        for (int e = 0; e < q->n_evals; e++) rp_printf(b, " step %.0f: gold +- se, KL |", q->steps[e]);
        rp_printf(b, "\n|---|---:|");
        for (int e = 0; e < q->n_evals; e++) rp_printf(b, "---:|");
        rp_printf(b, "\n");
        for (int i = 0; i < q->n_runs; i++) {
            const rp_rl_run *w = &q->runs[i];
            rp_printf(b, "| %s%s | %g |", md(x, sizeof x, w->name), rl_role(q, w->name, ro, sizeof ro), w->beta);
            for (int e = 0; e < q->n_evals; e++)
                rp_printf(b, " %s +- %s, %s |", rp_f3(v[0], w->gold[e]), rp_f3(v[1], w->gold_se[e]), rp_f3(v[2], w->kl[e]));
            rp_printf(b, "\n");
        }
        rp_printf(b, "\nWin rate of %s (WARM M=%d) against each policy at the same step (gold, ties 1/2; paper Fig. 9):"
                     "\n\n| run |", md(x, sizeof x, q->warm_big), q->warm_big_m);
        for (int e = 0; e < q->n_evals; e++) rp_printf(b, " step %.0f |", q->steps[e]);
        rp_printf(b, "\n|---|");
        for (int e = 0; e < q->n_evals; e++) rp_printf(b, "---:|");
        rp_printf(b, "\n| SFT |");
        int wi = rp_rl_run_index(q, q->warm_big);
        for (int e = 0; e < q->n_evals; e++) rp_printf(b, " %s |", rp_f3(v[0], wi >= 0 ? q->runs[wi].win_sft[e] : RP_NAN));
        rp_printf(b, "\n");
        for (int i = 0; i < q->n_runs; i++) {
            if (i == wi) continue;
            const rp_rl_run *w = &q->runs[i];
            rp_printf(b, "| %s%s |", md(x, sizeof x, w->name), rl_role(q, w->name, ro, sizeof ro));
            for (int e = 0; e < q->n_evals; e++) rp_printf(b, " %s |", rp_f3(v[0], 1.0 - w->win_ref[e]));
            rp_printf(b, "\n");
        }
        char alt[300];
        snprintf(alt, sizeof alt, "RL, setup %s: gold vs KL, win rate of WARM", u->name);
        figure(r, prefix, u->rl_figure, alt, b);
    }
}

/* ---------------------------------------------------------------------------------------------------- */
/* Toy, reading guide                                                                                   */

static void toy_section(const rp_run *r, rp_buf *b) {
    if (!r->toy_present) return;
    char v[6][32];
    rp_printf(b, "\n## Toy model (C17)\n\nPer-feature coefficients (per unit |z_j|^2), M = %d runs, L = %d layers; "
                 "`warm toy` says: %s (max |z| %s).\n\n| p | ENS (MC) | ENS (theory) | WA (MC) | WA (theory, this M) "
                 "| p^L |\n|---:|---:|---:|---:|---:|---:|\n",
              r->toy_m, r->toy_l, r->toy_holds ? "holds" : "does not hold", rp_f3(v[0], r->toy_max_z));
    for (int i = 0; i < r->n_toy; i++) {
        const rp_toy_feature *f = &r->toy[i];
        rp_printf(b, "| %s | %s | %s | %s | %s | %s |\n", rp_f3(v[0], f->p), rp_f3(v[1], f->mc_ens),
                  rp_f3(v[2], f->theory_ens), rp_f3(v[3], f->mc_wa), rp_f3(v[4], f->theory_wa_m),
                  rp_f3(v[5], f->theory_wa_inf));
    }
}

static void guide_section(rp_buf *b) {
    rp_printf(b,
              "\n## How to read this\n\n"
              "- Every verdict is computed by `warm report` from the JSON files of this run; rerun it after changing "
              "a file and the table follows. Nothing in the table is written by hand.\n"
              "- \"holds\" means every condition of the rule holds on these numbers; \"does not hold\" names the "
              "first failed condition; \"not measured at this scale\" means a file or an experiment the rule needs "
              "is not part of this run (the reason is given).\n"
              "- A small run has few evaluation pairs: differences below tol = sqrt(0.25 / n) (about 0.022 at "
              "n = 500) are within one standard error and can flip between seeds. `warm demo --seeds 1,2,3` (or "
              "`warm report --runs` over runs with different seeds) puts a 95 %% interval over seeds on each claim.\n"
              "- The paper's reward models are far larger than this demo's small GPT-2 ones, trained on another task: "
              "compare the directions of the effects, not their sizes.\n");
}

void rp_figures(const rp_run *r, const char *link_prefix, rp_buf *b) {
    if (!r->has_plan) return;
    figure(r, link_prefix, r->topm_figure, "top-M curves", b);
    for (int i = 0; i < r->n_lmc; i++) {
        char alt[256];
        snprintf(alt, sizeof alt, "LMC %s: %s", r->lmc[i].kind, r->lmc[i].label ? r->lmc[i].label : "");
        figure(r, link_prefix, r->lmc[i].figure, alt, b);
    }
    for (int s = 0; s < r->n_setups; s++) {
        char alt[300];
        snprintf(alt, sizeof alt, "best-of-n, setup %s", r->setups[s].name);
        if (r->setups[s].has_bon) figure(r, link_prefix, r->setups[s].bon_figure, alt, b);
        snprintf(alt, sizeof alt, "RL, setup %s", r->setups[s].name);
        if (r->setups[s].rl.has_rl) figure(r, link_prefix, r->setups[s].rl_figure, alt, b);
    }
}

void rp_markdown(const rp_run *r, const warm_report_claim *claims, const char *link_prefix, rp_buf *b) {
    char x[256], n1[32];
    const char *scale = r->scale ? r->scale : r->plan_scale;
    double seed = !isnan(r->seed) ? r->seed : r->plan_seed;
    rp_printf(b, "# WARM reproduction report: scale %s, seed %s\n\n", md(x, sizeof x, scale), num(n1, seed));
    rp_printf(b, "Written by `warm report` from the files of one `warm demo` run. The verdicts compare the "
                 "run's numbers with the paper's claims (Ram\xc3\xa9 et al. 2024, WARM); see docs/report.md.\n\n");
    if (!r->has_plan) rp_printf(b, "plan.json missing: no claim can be measured.\n\n");
    claims_section(r, claims, b);
    run_section(r, b);
    models_section(r, link_prefix, b);
    lmc_section(r, link_prefix, b);
    bon_section(r, link_prefix, b);
    rl_section(r, link_prefix, b);
    toy_section(r, b);
    guide_section(b);
}
