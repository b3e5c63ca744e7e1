/*
 * warm/report.h — report.md of a demo run: the paper's claims C1-C17 with their measured numbers and a
 * verdict COMPUTED from the run's files (docs/report.md), never written by hand.
 *
 * INPUT. A run directory written by `warm demo`: DIR/run.json (run facts), DIR/plan.json (what was run and
 * where each result file lies, paths relative to DIR), and the files plan.json names: `warm eval --json` of the
 * members and of the top-M merges, `warm lmc --json` per pair, `warm bon` per setup, `warm rl-eval --json` per
 * setup and evaluated RL step, `warm toy --json`,
 * `warm task stats --json`. Every file is parsed strictly (valid JSON, no duplicate keys, typed keys): a file
 * that exists but is malformed is an error naming the file and the key ("DIR/lmc/seed.json:
 * subsets[1].wa_acc_ge: expected an array of 11 numbers"). A file that is ABSENT is not an error: the claims
 * that need it get the verdict "not measured at this scale" and the report names the missing file.
 *
 * RULES. Accuracies are acc_ge (ties count as correct, the paper's rule) throughout. The noise tolerance of an
 * accuracy on n pairs is tol = sqrt(0.25 / n), one standard error at p = 1/2. The rule of each claim is in
 * docs/report.md and printed under the claims table.
 *
 * OUTPUT. Deterministic: the same files give a byte-identical report (no clock is read; the only dates are
 * those of run.json). Written atomically (temp file, fsync, rename); on an error nothing is written.
 */
#ifndef WARM_REPORT_H
#define WARM_REPORT_H

#include "warm/core.h"

typedef enum {
    WARM_REPORT_NOT_MEASURED = 0, /* a needed file is absent, or the run has no such experiment */
    WARM_REPORT_HOLDS,
    WARM_REPORT_DOES_NOT_HOLD,
    WARM_REPORT_INCONCLUSIVE, /* several seeds only: a 95 % interval straddles the claim's threshold */
} warm_report_verdict;

/* The claims of the table, in order: C1..C17 (C18, distillation, is outside warm). */
#define WARM_REPORT_NCLAIMS 17

typedef struct {
    const char *id;     /* "C1" ... "C17" (static) */
    const char *claim;  /* short statement of the claim (static) */
    const char *source; /* where the paper shows it, e.g. "Obs. 1, Fig. 3" (static) */
    warm_report_verdict verdict;
    char numbers[1536]; /* the measured numbers, one line of Markdown-safe text ("" when nothing was read) */
    char detail[512];   /* why: the failed condition, "k of 3 in order", or the missing files ("" when none) */
} warm_report_claim;

typedef struct {
    int holds, does_not_hold, not_measured; /* verdict counts over the WARM_REPORT_NCLAIMS claims */
    int inconclusive;                       /* several seeds only (0 for one run) */
} warm_report_summary;

/* "holds", "does not hold", "inconclusive" or "not measured at this scale". */
const char *warm_report_verdict_str(warm_report_verdict v);

/*
 * Reads the run directory and fills out[0..WARM_REPORT_NCLAIMS) (sum may be NULL). WARM_ERR_IO when run_dir is
 * not a readable directory or a present file cannot be read; WARM_ERR_FORMAT for a malformed file (message
 * names the file and the key); WARM_ERR_NOMEM.
 */
warm_status warm_report_claims(const char *run_dir, warm_report_claim out[WARM_REPORT_NCLAIMS],
                               warm_report_summary *sum, warm_error *err);

/*
 * Writes the Markdown report of run_dir to out_path (NULL: "<run_dir>/report.md") atomically, and the verdict
 * counts to sum (may be NULL). Same errors as warm_report_claims, plus WARM_ERR_IO when writing fails; on any
 * error out_path is left as it was.
 */
warm_status warm_report_write(const char *run_dir, const char *out_path, warm_report_summary *sum,
                              warm_error *err);

/*
 * SEVERAL SEEDS. `warm report --runs A B C`: demo runs of one scale with different seeds. Each claim's verdict
 * rests on a few scalar STATISTICS (C4: WA_0.5(ckpt) - WA_0.5(seed) on ood, which must be < 0; C9: every
 * ordering margin at every n; docs/report.md lists them all). Every run gives one value of each statistic;
 * over the n runs that measured the claim the statistic gets its mean and the 95 % Student-t interval
 * mean +- t_{0.975, n-1} s / sqrt(n) (s: the sample standard deviation). A statistic's verdict: "holds" when the
 * interval lies on the claim's side of the threshold (lo > 0 for "> 0", lo >= 0 for ">= 0"), "does not hold"
 * when it lies wholly on the other side (hi <= 0 for "> 0", hi < 0 for ">= 0"), "inconclusive" when it straddles
 * the threshold. A claim holds when all its statistics hold, does not hold when one does not, and is
 * inconclusive otherwise. C17 (a yes/no per seed from `warm toy`) holds when every seed says yes, does not hold
 * when none does, and is inconclusive when they disagree.
 *
 * A run enters a claim only when its own single-run verdict is measured (every input file present); the
 * others are listed as unused with their reason. A claim that only one run measured gets that run's
 * single-run verdict (the rules above need n >= 2); one that no run measured is "not measured".
 */

/* Largest number of runs (df = n - 1 <= 30, the range of the t table) and of statistics per claim. */
#define WARM_REPORT_MAX_RUNS 31
#define WARM_REPORT_MAX_STATS 64

/* The side of its threshold a statistic must lie on for the claim to hold. */
typedef enum {
    WARM_REPORT_GT,   /* > threshold */
    WARM_REPORT_GE,   /* >= threshold */
    WARM_REPORT_LT,   /* < threshold */
    WARM_REPORT_LE,   /* <= threshold */
    WARM_REPORT_ALL,  /* a yes (1) / no (0) per run: holds when all say yes, fails when none does */
    WARM_REPORT_INFO, /* printed only; decides nothing */
} warm_report_rule;

typedef struct {
    char name[96];                       /* e.g. "WA_0.5(ckpt) - WA_0.5(seed), ood" */
    warm_report_rule rule;
    double threshold;
    int n;                               /* runs with a value */
    double value[WARM_REPORT_MAX_RUNS];  /* per run, in the order given; NAN where the run is unused */
    double mean, sd, lo, hi;             /* sd, lo, hi: NAN when n < 2; ALL: mean = share of yes, [lo, hi] = range */
    warm_report_verdict verdict;         /* of this statistic alone; NOT_MEASURED when n < 2 or INFO */
} warm_report_stat;

typedef struct {
    warm_report_claim claim;             /* id, claim, source, the verdict over seeds, numbers and detail */
    int n_used;                          /* runs that enter the statistics */
    int used[WARM_REPORT_MAX_RUNS];      /* 1 when run i enters */
    warm_report_verdict run_verdict[WARM_REPORT_MAX_RUNS]; /* each run's single-run verdict */
    char why_unused[WARM_REPORT_MAX_RUNS][160]; /* "" for used runs */
    int n_stats;
    warm_report_stat stats[WARM_REPORT_MAX_STATS];
} warm_report_seed_claim;

typedef struct {
    int n_runs;
    const char *dirs[WARM_REPORT_MAX_RUNS]; /* as given (not copied) */
    double seeds[WARM_REPORT_MAX_RUNS];
    char scale[32];
    warm_report_seed_claim claims[WARM_REPORT_NCLAIMS];
} warm_report_seeds;

/* t_{0.975, df}, the two-sided 95 % Student-t quantile, for df in 1..30; NAN outside. */
double warm_report_t975(int df);

/*
 * Mean, sample standard deviation and 95 % t interval of v[0..n) (NAN values skipped; *n_used gets their
 * count, may be NULL). One value: mean = it, sd = lo = hi = NAN. None: everything NAN.
 */
void warm_report_interval(const double *v, int n, int *n_used, double *mean, double *sd, double *lo, double *hi);

/* The verdict of one statistic whose interval is [lo, hi] (ALL: lo, hi are the least and most of the 0/1s). */
warm_report_verdict warm_report_interval_verdict(warm_report_rule rule, double threshold, double lo, double hi);

/*
 * Reads n run directories (1..WARM_REPORT_MAX_RUNS) and aggregates their claims into *out (large: allocate
 * it). WARM_ERR_ARG when the runs mix scales, when a run's scale is unknown (no run.json or plan.json gives
 * it), when two runs have the same seed or the same directory, or n is out of range; the errors of
 * warm_report_claims for a bad run (the message names the run's file).
 */
warm_status warm_report_aggregate(const char *const *run_dirs, int n, warm_report_seeds *out, warm_error *err);

/*
 * Writes the Markdown report over seeds to out_md and, when out_json is not NULL, the aggregated numbers as
 * JSON (format "warm-report-seeds/1") to out_json; both atomically, after everything is computed. sum gets
 * the claim verdicts over seeds (may be NULL). Errors as warm_report_aggregate, plus WARM_ERR_IO.
 */
warm_status warm_report_write_runs(const char *const *run_dirs, int n, const char *out_md, const char *out_json,
                                   warm_report_summary *sum, warm_error *err);

#endif
