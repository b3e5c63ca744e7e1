/*
 * report.c — the public API of warm/report.h: load the run (report_load.c), decide the claims
 * (report_claims.c), write the Markdown (report_md.c) through the atomic writer of warm/data.h (temp file,
 * fflush + fsync, rename, directory fsync). Everything is read and computed before the output is opened, so
 * an error leaves the output path untouched. Several seeds: report_seeds.c aggregates, report_md_seeds.c
 * writes; the Markdown and the JSON are both computed before either file is written.
 */
#define _XOPEN_SOURCE 700 /* realpath (XSI; glibc hides it under strict POSIX) */
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"
#include "warm/data.h"

const char *warm_report_verdict_str(warm_report_verdict v) {
    switch (v) {
    case WARM_REPORT_HOLDS: return "holds";
    case WARM_REPORT_DOES_NOT_HOLD: return "does not hold";
    case WARM_REPORT_NOT_MEASURED: return "not measured at this scale";
    case WARM_REPORT_INCONCLUSIVE: return "inconclusive";
    }
    return "?";
}

static void count(warm_report_verdict v, warm_report_summary *sum) {
    if (v == WARM_REPORT_HOLDS) sum->holds++;
    else if (v == WARM_REPORT_DOES_NOT_HOLD) sum->does_not_hold++;
    else if (v == WARM_REPORT_INCONCLUSIVE) sum->inconclusive++;
    else sum->not_measured++;
}

static void summarise(const warm_report_claim *c, warm_report_summary *sum) {
    if (!sum) return;
    memset(sum, 0, sizeof *sum);
    for (int i = 0; i < WARM_REPORT_NCLAIMS; i++) count(c[i].verdict, sum);
}

warm_status warm_report_claims(const char *run_dir, warm_report_claim out[WARM_REPORT_NCLAIMS],
                               warm_report_summary *sum, warm_error *err) {
    rp_run r;
    warm_status s = rp_run_load(&r, run_dir, err);
    if (s) return s;
    rp_claims(&r, out, NULL);
    summarise(out, sum);
    rp_run_free(&r);
    return WARM_OK;
}

/*
 * The prefix that turns a run-relative path into one relative to the report's directory: "" when the report
 * lies in the run directory, else e.g. "../runs/r1/" (from the real paths of both directories). Falls back
 * to the run directory as given when a real path cannot be found.
 */
void rp_link_prefix(const char *run_dir, const char *out_path, char *buf, size_t n) {
    char out_dir[PATH_MAX], a[PATH_MAX + 2], b[PATH_MAX + 2]; /* +2: the "/" appended below */
    const char *slash = strrchr(out_path, '/');
    if (!slash) snprintf(out_dir, sizeof out_dir, ".");
    else snprintf(out_dir, sizeof out_dir, "%.*s", slash == out_path ? 1 : (int)(slash - out_path), out_path);
    if (!realpath(run_dir, a) || !realpath(out_dir, b)) {
        snprintf(buf, n, "%s/", run_dir);
        return;
    }
    if (strcmp(a, b) == 0) {
        buf[0] = 0;
        return;
    }
    /* Common leading components of a (run) and b (report directory). */
    strcat(a, "/");
    strcat(b, "/");
    size_t common = 0;
    for (size_t i = 0; a[i] && a[i] == b[i]; i++)
        if (a[i] == '/') common = i + 1;
    buf[0] = 0;
    for (const char *p = b + common; *p; p++)
        if (*p == '/') strncat(buf, "../", n - strlen(buf) - 1);
    strncat(buf, a + common, n - strlen(buf) - 1);
}

/* Writes text line by line through the atomic writer. */
static warm_status write_text(const char *path, char *text, warm_error *err) {
    warm_jsonl_writer *w = NULL;
    warm_status s = warm_jsonl_writer_open(&w, path, err);
    char *line = text;
    while (!s && *line) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        s = warm_jsonl_write_line(w, line, err);
        if (!nl) break;
        line = nl + 1;
    }
    if (!s) return warm_jsonl_writer_commit(w, err);
    warm_jsonl_writer_abort(w);
    return s;
}

warm_status warm_report_write(const char *run_dir, const char *out_path, warm_report_summary *sum,
                              warm_error *err) {
    char def[4096], prefix[PATH_MAX + 8];
    if (!out_path) {
        if ((size_t)snprintf(def, sizeof def, "%s/report.md", run_dir) >= sizeof def)
            return warm_error_set(err, WARM_ERR_ARG, "%s: path too long", run_dir);
        out_path = def;
    }
    warm_report_claim claims[WARM_REPORT_NCLAIMS];
    rp_run r;
    warm_status s = rp_run_load(&r, run_dir, err);
    if (s) return s;
    rp_claims(&r, claims, NULL);
    summarise(claims, sum);
    rp_link_prefix(run_dir, out_path, prefix, sizeof prefix);
    rp_buf b = {0};
    rp_markdown(&r, claims, prefix, &b);
    rp_run_free(&r);
    if (b.oom || !b.s) s = warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", out_path);
    else s = write_text(out_path, b.s, err);
    free(b.s);
    return s;
}

warm_status warm_report_aggregate(const char *const *run_dirs, int n, warm_report_seeds *out, warm_error *err) {
    rp_run runs[WARM_REPORT_MAX_RUNS];
    warm_status s = rp_seeds_load(runs, run_dirs, n, out, err);
    if (!s) rp_seeds_free(runs, n);
    return s;
}

warm_status warm_report_write_runs(const char *const *run_dirs, int n, const char *out_md, const char *out_json,
                                   warm_report_summary *sum, warm_error *err) {
    if (!out_md) return warm_error_set(err, WARM_ERR_ARG, "report over seeds: no output path");
    warm_report_seeds *agg = malloc(sizeof *agg);
    if (!agg) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", out_md);
    rp_run runs[WARM_REPORT_MAX_RUNS];
    warm_status s = rp_seeds_load(runs, run_dirs, n, agg, err);
    if (s) {
        free(agg);
        return s;
    }
    if (sum) {
        memset(sum, 0, sizeof *sum);
        for (int i = 0; i < WARM_REPORT_NCLAIMS; i++) count(agg->claims[i].claim.verdict, sum);
    }
    char prefix[PATH_MAX + 8];
    rp_link_prefix(run_dirs[0], out_md, prefix, sizeof prefix);
    rp_buf b = {0};
    rp_markdown_seeds(runs, agg, prefix, &b);
    rp_seeds_free(runs, n);
    cJSON *json = out_json ? rp_seeds_json(agg) : NULL;
    free(agg);
    if (b.oom || !b.s || (out_json && !json)) s = warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", out_md);
    if (!s) s = write_text(out_md, b.s, err);
    if (!s && json) s = warm_json_write(out_json, json, err);
    free(b.s);
    cJSON_Delete(json);
    return s;
}
