/*
 * report_md_seeds.c — the Markdown text of the report over several seeds (`warm report --runs`): the claims
 * table with means and 95 % intervals over seeds, the rules, one table per claim with every statistic's value
 * per seed, the runs, and the first run's figures.
 *
 * Like report_md.c: 3 decimals ("-" for a missing number), table-safe strings, no clock or environment read,
 * so the same runs give the same bytes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

/* A seed as text: integers without decimals. */
static const char *seed_str(char buf[32], double v) {
    if (v == floor(v) && fabs(v) < 1e15) snprintf(buf, 32, "%.0f", v);
    else snprintf(buf, 32, "%g", v);
    return buf;
}

static const char *rule_text(char buf[64], const warm_report_stat *t) {
    static const char *const op[] = {">", ">=", "<", "<="};
    char v[32];
    if (t->rule == WARM_REPORT_ALL) snprintf(buf, 64, "yes in every seed");
    else if (t->rule == WARM_REPORT_INFO) snprintf(buf, 64, "(printed only)");
    else snprintf(buf, 64, "%s %s", op[t->rule], t->threshold == 0 ? "0" : rp_f3(v, t->threshold));
    return buf;
}

/* A statistic's value in its own format: signed difference when the threshold is 0, yes/no for ALL. */
static const char *value_str(char buf[32], const warm_report_stat *t, double v) {
    if (isnan(v)) return strcpy(buf, "-");
    if (t->rule == WARM_REPORT_ALL) return strcpy(buf, v >= 1 ? "yes" : "no");
    return t->threshold == 0 && t->rule != WARM_REPORT_INFO ? rp_s3(buf, v) : rp_f3(buf, v);
}

static void claims_section(const warm_report_seeds *agg, rp_buf *b) {
    int cnt[4] = {0, 0, 0, 0};
    for (int i = 0; i < WARM_REPORT_NCLAIMS; i++) cnt[agg->claims[i].claim.verdict]++;
    rp_printf(b, "## Claims\n\n**%d hold, %d do not hold, %d inconclusive, %d not measured at this scale** (of %d "
                 "claims checked; 95 %% intervals over %d seed%s).\n\n",
              cnt[WARM_REPORT_HOLDS], cnt[WARM_REPORT_DOES_NOT_HOLD], cnt[WARM_REPORT_INCONCLUSIVE],
              cnt[WARM_REPORT_NOT_MEASURED], WARM_REPORT_NCLAIMS, agg->n_runs, agg->n_runs > 1 ? "s" : "");
    rp_printf(b, "| # | claim | paper | measured: mean [95 %% interval] over seeds (acc_ge) | verdict |\n"
                 "|---|---|---|---|---|\n");
    for (int i = 0; i < WARM_REPORT_NCLAIMS; i++) {
        const warm_report_claim *c = &agg->claims[i].claim;
        char nums[1600], det[600];
        int bold = c->verdict == WARM_REPORT_HOLDS;
        rp_printf(b, "| %s | %s | %s | %s | %s%s%s%s%s |\n", c->id, c->claim, c->source,
                  rp_md(nums, sizeof nums, c->numbers), bold ? "**" : "", warm_report_verdict_str(c->verdict),
                  bold ? "**" : "", c->detail[0] ? ": " : "", c->detail[0] ? rp_md(det, sizeof det, c->detail) : "");
    }
    rp_printf(b, "\nC18 (distillation) is outside this demo. C12-C16 rest on RL runs: at small scale a cut form (the "
                 "clean setup, 48 steps, no beta sweep, no M=10), so C14 and C16 are measured at full scale only.\n");
}

static void rules_section(rp_buf *b) {
    rp_printf(b, "\n### Rules over seeds\n\n"
                 "Each claim rests on a few statistics, one value per seed. Over the n seeds that measured the claim, "
                 "a statistic gets its mean and the 95 %% Student-t interval mean +- t_{0.975, n-1} s / sqrt(n), "
                 "s the sample standard deviation. A statistic **holds** when its interval lies on the claim's side "
                 "of the threshold (lower bound > 0 for \"> 0\", >= 0 for \">= 0\"), **does not hold** when it lies "
                 "wholly on the other side, and is **inconclusive** when it straddles the threshold. A claim holds "
                 "when all its statistics hold, does not hold when one does not, and is inconclusive otherwise. "
                 "Where the single-run rule allows a tolerance tol = sqrt(0.25 / n), the interval replaces it. A "
                 "seed enters a claim only when its own run measured the claim; a claim that one seed alone measured "
                 "keeps that run's single-run verdict (n = 1).\n\nt_{0.975, df} for df = 1..30, from the standard "
                 "table (NIST/SEMATECH e-Handbook of Statistical Methods, 1.3.6.7.2):");
    for (int df = 1; df <= 30; df++) rp_printf(b, "%s %.3f", df > 1 ? "," : "", warm_report_t975(df));
    rp_printf(b, ".\n\n");
}

static void claim_rules(const warm_report_seeds *agg, rp_buf *b) {
    for (int i = 0; i < WARM_REPORT_NCLAIMS; i++)
        rp_printf(b, "- **%s**: %s\n", agg->claims[i].claim.id, rp_claim_seeds_rule(i));
}

/* One claim: its single-run verdicts, then every statistic per seed with mean, interval and verdict. */
static void claim_stats(const warm_report_seeds *agg, int c, rp_buf *b) {
    const warm_report_seed_claim *a = &agg->claims[c];
    char x[600], s[32], v[4][32];
    rp_printf(b, "\n### %s: %s\n\n", a->claim.id, warm_report_verdict_str(a->claim.verdict));
    rp_printf(b, "Single-run verdicts:");
    for (int i = 0; i < agg->n_runs; i++)
        rp_printf(b, "%s seed %s %s", i ? "," : "", seed_str(s, agg->seeds[i]), warm_report_verdict_str(a->run_verdict[i]));
    rp_printf(b, ".\n");
    if (a->n_stats) {
        rp_printf(b, "\n| statistic | needs |");
        for (int i = 0; i < agg->n_runs; i++) rp_printf(b, " seed %s |", seed_str(s, agg->seeds[i]));
        rp_printf(b, " mean | 95 %% interval | n | verdict |\n|---|---|");
        for (int i = 0; i < agg->n_runs; i++) rp_printf(b, "---:|");
        rp_printf(b, "---:|---|---:|---|\n");
    }
    for (int j = 0; j < a->n_stats; j++) {
        const warm_report_stat *t = &a->stats[j];
        char r[64];
        rp_printf(b, "| %s | %s |", rp_md(x, sizeof x, t->name), rule_text(r, t));
        for (int i = 0; i < agg->n_runs; i++) rp_printf(b, " %s |", value_str(v[0], t, t->value[i]));
        if (t->rule == WARM_REPORT_ALL)
            rp_printf(b, " %.0f of %d yes | - |", t->mean * t->n, t->n);
        else if (t->n >= 2)
            rp_printf(b, " %s | [%s, %s] |", value_str(v[1], t, t->mean), value_str(v[2], t, t->lo),
                      value_str(v[3], t, t->hi));
        else
            rp_printf(b, " %s | - |", value_str(v[1], t, t->mean));
        rp_printf(b, " %d | %s |\n", t->n,
                  t->n < 2 ? "n = 1" : t->rule == WARM_REPORT_INFO ? "-" : warm_report_verdict_str(t->verdict));
    }
    for (int i = 0; i < agg->n_runs; i++)
        if (a->why_unused[i][0])
            rp_printf(b, "\nSeed %s unused: %s\n", seed_str(s, agg->seeds[i]), rp_md(x, sizeof x, a->why_unused[i]));
}

static void runs_section(const rp_run *runs, const warm_report_seeds *agg, rp_buf *b) {
    char x[600], y[256], z[256], s[32];
    rp_printf(b, "\n## Runs\n\n| seed | directory | started | finished | stage seconds | single-run verdicts |\n"
                 "|---:|---|---|---|---:|---|\n");
    for (int i = 0; i < agg->n_runs; i++) {
        const rp_run *r = &runs[i];
        double total = 0;
        for (int k = 0; k < r->n_stages; k++)
            if (!isnan(r->stages[k].seconds)) total += r->stages[k].seconds;
        int cnt[4] = {0, 0, 0, 0};
        for (int c = 0; c < WARM_REPORT_NCLAIMS; c++) cnt[agg->claims[c].run_verdict[i]]++;
        rp_printf(b, "| %s | %s | %s | %s | %.1f | %d hold, %d do not hold, %d not measured |\n",
                  seed_str(s, agg->seeds[i]), rp_md(x, sizeof x, agg->dirs[i]), rp_md(y, sizeof y, r->started),
                  r->finished ? rp_md(z, sizeof z, r->finished) : "not finished", total, cnt[WARM_REPORT_HOLDS],
                  cnt[WARM_REPORT_DOES_NOT_HOLD], cnt[WARM_REPORT_NOT_MEASURED]);
    }
    rp_printf(b, "\nEach run directory holds its own report.md (the single-run report, with the tables behind the "
                 "numbers) and its figures.\n");
}

void rp_markdown_seeds(const rp_run *runs, const warm_report_seeds *agg, const char *link_prefix, rp_buf *b) {
    char x[256], s[32];
    rp_printf(b, "# WARM reproduction report over seeds: scale %s, seeds", rp_md(x, sizeof x, agg->scale));
    for (int i = 0; i < agg->n_runs; i++) rp_printf(b, "%s %s", i ? "," : "", seed_str(s, agg->seeds[i]));
    rp_printf(b, " (n = %d)\n\n", agg->n_runs);
    rp_printf(b, "Written by `warm report --runs` from %d `warm demo` run%s of one scale with different seeds. Each "
                 "claim's numbers are means over the seeds with a 95 %% Student-t interval, and the verdict says "
                 "whether the interval lies on the claim's side (Ram\xc3\xa9 et al. 2024, WARM; see "
                 "docs/report.md).\n\n",
              agg->n_runs, agg->n_runs > 1 ? "s" : "");
    claims_section(agg, b);
    rules_section(b);
    claim_rules(agg, b);
    rp_printf(b, "\n## Statistics per claim\n\nEvery statistic per seed (\"-\": the seed does not enter this claim), "
                 "its mean, 95 %% interval, number of seeds and verdict.\n");
    for (int c = 0; c < WARM_REPORT_NCLAIMS; c++) claim_stats(agg, c, b);
    runs_section(runs, agg, b);
    rp_buf fig = {0};
    rp_figures(&runs[0], link_prefix, &fig);
    if (fig.s && fig.len) {
        rp_printf(b, "\n## Figures of seed %s\n\nThe figures of the first run; the other seeds have theirs in their "
                     "run directories.\n",
                  seed_str(s, agg->seeds[0]));
        rp_printf(b, "%s", fig.s);
    }
    if (fig.oom) b->oom = 1;
    free(fig.s);
    rp_printf(b, "\n## How to read this\n\n"
                 "- \"inconclusive\" means the seeds disagree more than their mean departs from the threshold: more "
                 "seeds (or a larger scale) are needed to tell.\n"
                 "- With 2 or 3 seeds the interval is wide (t = 12.706 for 2 seeds, 4.303 for 3): a claim that holds "
                 "over few seeds has a large, consistent effect.\n"
                 "- The intervals treat the seeds as independent draws of the whole pipeline (task, training, "
                 "sampling); they do not cover the evaluation noise within a run separately.\n");
}
