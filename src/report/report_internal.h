/*
 * report_internal.h — what the report modules share (internal to src/report, prefix rp_):
 *   report_load.c   parses run.json, plan.json and every file it names into one rp_run;
 *   report_claims.c turns an rp_run into the verdicts of C1-C17;
 *   report_md.c     writes the Markdown text;
 *   report.c        the public API (warm/report.h) and the atomic write.
 *
 * Every allocation of an rp_run comes from its pool (rp_new) and is freed at once by rp_run_free. Numbers a
 * file did not give are NAN. Accuracies are acc_ge.
 */
#ifndef WARM_REPORT_INTERNAL_H
#define WARM_REPORT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "warm/core.h"
#include "warm/report.h"

/* NAN as a double (NAN is a float; conditionals mixing it with doubles would promote). */
#define RP_NAN ((double)NAN)

/* One subset of a `warm lmc --json` file: the three curves over the lambda grid. */
typedef struct {
    const char *name;
    double n;                /* pairs in the subset */
    double *wa, *ens, *diag; /* (grid) acc_ge */
} rp_lmc_subset;

/* One entry of plan.json "lmc" and, when present, its file. */
typedef struct {
    const char *kind, *label, *setup, *json, *figure; /* figure: NULL when the plan names none */
    int present;                                      /* the json file was read */
    int grid, mid;                                    /* lambda values; index of lambda = 0.5, or -1 */
    double *lambda;                                   /* (grid) */
    rp_lmc_subset *subs;
    int n_subs;
} rp_lmc_pair;

/* A `warm eval --json` file: acc[i * n_subs + j] for model i (i = n_models: the ensemble) on subset j. */
typedef struct {
    int present;
    int n_models;
    const char **models; /* (n_models) names, in file order */
    const char *ens;     /* ensemble name, NULL when none */
    int n_subs;
    const char **subs; /* (n_subs) subset names */
    double *sub_n;     /* (n_subs) pairs */
    double *acc;       /* (n_models + 1, n_subs), NAN where the file has no result */
} rp_eval;

/* A `warm bon` file. */
typedef struct {
    const char *name;
    double *control, *win_sft, *win_ref; /* (n_points) */
} rp_bon_sel;

typedef struct {
    int present;
    const char *ref;
    double sft_control;
    int n_points;
    double *n, *kl; /* (n_points) the n ladder and KL, from the first selector (the others must match n) */
    int n_sel;
    rp_bon_sel *sel;
} rp_bon;

/* One RL run of a setup (plan.json "rl".runs[i]) and its numbers at each evaluated step, from the rl-eval files
 * (row i + 1 of every file; row 0 is the SFT policy). NAN where a file is absent. */
typedef struct {
    const char *name, *dir;
    double beta;
    double *kl, *gold, *gold_se, *win_ref, *win_ref_se, *win_sft, *win_sft_se; /* (n_evals) */
    double *gold_dse; /* (n_evals) se of gold - SFT gold, paired over prompts (NAN when the file lacks it) */
} rp_rl_run;

typedef struct {
    int has_rl;
    double beta;
    const char *warm_big, *warm2, *ens2, *best, *warm_all; /* run names; warm_all NULL when the scale has none */
    int warm_big_m, warm_all_m;
    int n_runs;
    rp_rl_run *runs;
    int n_evals;
    double *steps;           /* (n_evals) increasing */
    const char **eval_paths; /* (n_evals) run-relative */
    int *eval_present;       /* (n_evals) */
    double sft_gold, sft_gold_se; /* row 0 of the first present eval file */
} rp_rl;

typedef struct {
    const char *name, *path, *init;
    double rank, lr, dropout, seed, val_acc, ood_val_acc;
} rp_member;

typedef struct {
    const char *name;
    double corrupt; /* fraction of swapped labels (NAN when not given) */
    int n_members;
    rp_member *members;
    const char *eval_members_path, *eval_topm_path; /* NULL when the plan names none */
    rp_eval members_eval, topm;
    int has_bon; /* the plan has a bon object for this setup */
    const char *bon_path, *bon_figure, *rl_figure, *best, *warm2, *warm_big, *ens2;
    int warm_big_m;
    int has_baklava;
    const char *bak_warm, *bak_ens, *bak_a, *bak_b;
    rp_bon bon;
    rp_rl rl;
} rp_setup;

typedef struct {
    const char *name, *status;
    double seconds;
} rp_stage;

typedef struct {
    double p, theory_ens, theory_wa_m, theory_wa_inf, mc_ens, mc_wa;
} rp_toy_feature;

typedef struct {
    const char *rel;  /* path relative to the run directory */
    const char *what; /* what it would have given ("LMC pair seed") */
} rp_missing;

typedef struct rp_blk rp_blk;

typedef struct {
    const char *dir; /* the run directory as given */
    rp_blk *pool;    /* every allocation below */

    /* run.json */
    int has_run;
    const char *scale, *version, *started, *finished, *cpu, *os;
    double seed, cores, threads;
    int n_stages;
    rp_stage *stages;

    /* plan.json */
    int has_plan;
    const char *plan_scale, *noise_note, *topm_figure;
    double plan_seed;
    int n_setups;
    rp_setup *setups;
    int n_lmc;
    rp_lmc_pair *lmc;

    /* toy.json */
    const char *toy_path;
    int toy_present, toy_holds, toy_m, toy_l, n_toy;
    double toy_max_z;
    rp_toy_feature *toy;

    /* task_stats.json: the pairs per split and their agreement with the gold order */
    const char *stats_path;
    int stats_present, n_stat_splits;
    struct {
        const char *name;
        double pairs, gold_ties, corrupted, agree_gold;
    } stat_splits[4];

    int n_missing;
    rp_missing missing[64];
} rp_run;

/* ---- report_load.c ---- */
void *rp_new(rp_run *r, size_t bytes); /* zeroed; NULL when out of memory */
/* Appends the formatted text to the NUL-terminated dst of capacity cap (truncating; nothing when full). */
void rp_cat(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
warm_status rp_run_load(rp_run *r, const char *dir, warm_error *err);
void rp_run_free(rp_run *r);
/* Index of subset name in an lmc pair / eval file, or -1. */
int rp_lmc_sub(const rp_lmc_pair *p, const char *name);
int rp_eval_sub(const rp_eval *e, const char *name);
/* Index of a model name in an eval file (n_models for the ensemble), or -1. */
int rp_eval_model(const rp_eval *e, const char *name);
/* acc_ge of model i on subset name, NAN when absent. */
double rp_eval_acc(const rp_eval *e, int model, const char *subset);
int rp_bon_sel_index(const rp_bon *b, const char *name);
/* Top-M merges of a setup: acc_ge of "<order><m>" (order "bw" or "wb") on subset, NAN when absent. The demo
 * does not evaluate the merges that repeat a model: bw1 is the rank-1 member, wb1 the last-ranked member (both
 * read from the members' eval file), wbN the average of all N members, i.e. bwN. rp_topm_n: the largest M with
 * every bw1..bwM available. */
double rp_topm_acc(const rp_setup *u, const char *order, int m, const char *subset);
int rp_topm_n(const rp_setup *u);
/* Index of an RL run by name, or -1. */
int rp_rl_run_index(const rp_rl *q, const char *name);
/* Whether the (run-relative) path is present in the missing list; 1 and its index when so. */
int rp_is_missing(const rp_run *r, const char *rel);
/* The clean setup (corrupt == 0, else named "clean"), the corrupt one (corrupt > 0), or NULL. */
const rp_setup *rp_clean_setup(const rp_run *r);
const rp_setup *rp_corrupt_setup(const rp_run *r);
/* First lmc entry of this kind, or NULL. */
const rp_lmc_pair *rp_lmc_kind(const rp_run *r, const char *kind);

/* ---- report_claims.c ---- */

/* The statistics one run gives one claim (warm/report.h, several seeds): name, rule, threshold, value. */
typedef struct {
    int n, overflow; /* overflow: the claim has more than WARM_REPORT_MAX_STATS (the extra are dropped) */
    struct {
        char name[96];
        warm_report_rule rule;
        double threshold, value;
    } s[WARM_REPORT_MAX_STATS];
} rp_stats;

/* The verdicts of one run; stats (NULL: not wanted) gets each claim's statistics, stats[i] for out[i]. */
void rp_claims(const rp_run *r, warm_report_claim out[WARM_REPORT_NCLAIMS], rp_stats *stats);
/* The rule of claim i as one line (Markdown). */
const char *rp_claim_rule(int i);
/* The rule of claim i over several seeds: its statistics and their sides (Markdown). */
const char *rp_claim_seeds_rule(int i);
/* tol = sqrt(0.25 / n) (NAN when n <= 0). */
double rp_tol(double n);

/* ---- report_md.c: a growing text buffer and the Markdown writer ---- */
typedef struct {
    char *s;
    size_t len, cap;
    int oom; /* an append failed; the text is incomplete */
} rp_buf;
void rp_printf(rp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Formats v with 3 decimals ("-" for NAN; never "-0.000"); sign: "%+.3f". buf holds 32 bytes. */
const char *rp_f3(char buf[32], double v);
const char *rp_s3(char buf[32], double v);
/* Markdown text of the run; link_prefix is prepended to run-relative figure paths ("" or "../run/"). */
void rp_markdown(const rp_run *r, const warm_report_claim *claims, const char *link_prefix, rp_buf *b);
/* Links every figure of the run's plan whose file exists (top-M, LMC, best-of-n). */
void rp_figures(const rp_run *r, const char *link_prefix, rp_buf *b);
/* s made safe inside a Markdown table cell (see report_md.c). */
const char *rp_md(char *buf, size_t n, const char *s);

/* ---- report_seeds.c: several runs of one scale ---- */
/* Loads the runs (checks: 1..WARM_REPORT_MAX_RUNS, one scale, distinct seeds and directories) and fills agg. */
warm_status rp_seeds_load(rp_run *runs, const char *const *dirs, int n, warm_report_seeds *agg, warm_error *err);
void rp_seeds_free(rp_run *runs, int n);
/* The aggregated numbers as JSON (cJSON_Delete it; NULL when out of memory). */
struct cJSON *rp_seeds_json(const warm_report_seeds *agg);

/* ---- report_md_seeds.c ---- */
/* Markdown of the report over seeds; link_prefix leads from the report to the first run's directory. */
void rp_markdown_seeds(const rp_run *runs, const warm_report_seeds *agg, const char *link_prefix, rp_buf *b);

/* ---- report.c ---- */
/* The prefix that turns a path relative to run_dir into one relative to out_path's directory. */
void rp_link_prefix(const char *run_dir, const char *out_path, char *buf, size_t n);

#endif
