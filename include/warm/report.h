/*
 * warm/report.h — report.md of a demo run: the paper's claims C1-C11 and C17 with their measured numbers and a
 * verdict COMPUTED from the run's files (docs/report.md), never written by hand.
 *
 * INPUT. A run directory written by `warm demo`: DIR/run.json (run facts), DIR/plan.json (what was run and
 * where each result file lies, paths relative to DIR), and the files plan.json names: `warm eval --json` of the
 * members and of the top-M merges, `warm lmc --json` per pair, `warm bon` per setup, `warm toy --json`,
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
} warm_report_verdict;

/* The claims of the table, in order: C1..C11, C17. */
#define WARM_REPORT_NCLAIMS 12

typedef struct {
    const char *id;     /* "C1" ... "C11", "C17" (static) */
    const char *claim;  /* short statement of the claim (static) */
    const char *source; /* where the paper shows it, e.g. "Obs. 1, Fig. 3" (static) */
    warm_report_verdict verdict;
    char numbers[1536]; /* the measured numbers, one line of Markdown-safe text ("" when nothing was read) */
    char detail[512];   /* why: the failed condition, "k of 3 in order", or the missing files ("" when none) */
} warm_report_claim;

typedef struct {
    int holds, does_not_hold, not_measured; /* verdict counts over the WARM_REPORT_NCLAIMS claims */
} warm_report_summary;

/* "holds", "does not hold" or "not measured at this scale". */
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

#endif
