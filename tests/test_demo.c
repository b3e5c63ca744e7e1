/*
 * test_demo.c — `warm demo --scale tiny` end to end (the binary of this build, build/MODE/warm):
 *   - a run stopped after a stage (--stop-after) resumes: the finished stages are skipped, not redone (their
 *     recorded times and their files' modification times do not change);
 *   - the report has the claims table with one row per claim C1-C17, each with a verdict;
 *   - the verdicts are computed from the run's files: rewriting the from-scratch LMC numbers (C5) or the
 *     toy result (C17) in the run directory and regenerating the report flips them;
 *   - a rerun with another scale on the same directory is refused and changes nothing;
 *   - `--seeds 1,2` reuses that run as seed-1 (all its stages skipped), runs seed 2, and writes the report over
 *     seeds (a verdict per claim; report.json with both seeds' values); a rerun resumes and rewrites the same
 *     report.
 * About two minutes (two tiny runs) in the release build; in ASan builds it is skipped by scripts/run-tests.sh (minutes of
 * training without OpenMP), as test_pipeline is.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"
#include "warm/core.h"
#include "warm/data.h"

static char bin[600], run_dir[64];

static int find_binary(void) { return test_find_warm(bin, sizeof bin); }

/* Runs `warm ARGS` with output in DIR/NAME.log; returns the exit status. */
static int warm(const char *log, const char *args) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' %s > '%s/%s' 2>&1", bin, args, run_dir, log);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static char *slurp(const char *rel) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", run_dir, rel);
    size_t n = 0;
    warm_error err = {0};
    return warm_read_file(p, &n, &err);
}

static cJSON *load_json(const char *rel) {
    char *t = slurp(rel);
    assert_non_null(t);
    cJSON *j = cJSON_Parse(t);
    free(t);
    assert_non_null(j);
    return j;
}

static void save_json(const char *rel, const cJSON *j) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", run_dir, rel);
    warm_error err = {0};
    assert_int_equal(warm_json_write(p, j, &err), WARM_OK);
}

static double stage_seconds(const cJSON *run, const char *name, const char **status) {
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(run, "stages")) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) {
            if (status) *status = cJSON_GetObjectItemCaseSensitive(e, "status")->valuestring;
            return cJSON_GetObjectItemCaseSensitive(e, "seconds")->valuedouble;
        }
    }
    return -1;
}

static long long mtime_ns(const char *rel) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", run_dir, rel);
    struct stat sb;
    if (stat(p, &sb) != 0) return -1;
    return (long long)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
}

/* The claims-table row of claim id ("| C5 |"), NULL when absent; the verdict is looked up in that line. */
static const char *verdict(const char *report, const char *id, char *line, size_t n) {
    char key[16];
    snprintf(key, sizeof key, "| %s |", id);
    const char *p = strstr(report, key);
    if (!p) return NULL;
    const char *e = strchr(p, '\n');
    size_t L = e ? (size_t)(e - p) : strlen(p);
    if (L >= n) L = n - 1;
    memcpy(line, p, L);
    line[L] = 0;
    if (strstr(line, "does not hold")) return "does not hold";
    if (strstr(line, "not measured")) return "not measured";
    if (strstr(line, "holds")) return "holds";
    return "?";
}

static void set_series(cJSON *lmc, const char *subset, const char *key, double v) {
    cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(lmc, "subsets")) {
        if (strcmp(cJSON_GetObjectItemCaseSensitive(s, "name")->valuestring, subset) != 0) continue;
        cJSON *a = cJSON_GetObjectItemCaseSensitive(s, key);
        assert_true(cJSON_IsArray(a));
        cJSON *x;
        cJSON_ArrayForEach(x, a) cJSON_SetNumberValue(x, v);
        return;
    }
    fail_msg("lmc file has no subset %s", subset);
}

/* The midpoint gains of a subset (the report recomputes them from the series; kept consistent anyway). */
static void set_midpoint(cJSON *lmc, const char *subset, double gain) {
    cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(lmc, "subsets")) {
        cJSON *m = cJSON_GetObjectItemCaseSensitive(s, "midpoint");
        if (strcmp(cJSON_GetObjectItemCaseSensitive(s, "name")->valuestring, subset) != 0 || !cJSON_IsObject(m))
            continue;
        cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(m, "wa_minus_diag_ge"), gain);
        cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(m, "wa_minus_ens_ge"), gain);
    }
}

/* `warm report` into run/NAME.md, then the verdicts of C5 and C17 there. */
static void expect_verdicts(const char *name, const char *c5, const char *c17) {
    char args[512], log[64], rel[64], line[2048];
    snprintf(args, sizeof args, "report --run '%s/run' -o '%s/run/%s.md'", run_dir, run_dir, name);
    snprintf(log, sizeof log, "%s.log", name);
    assert_int_equal(warm(log, args), 0);
    snprintf(rel, sizeof rel, "run/%s.md", name);
    char *report = slurp(rel);
    assert_non_null(report);
    assert_string_equal(verdict(report, "C5", line, sizeof line), c5);
    assert_string_equal(verdict(report, "C17", line, sizeof line), c17);
    free(report);
}

static void test_demo_tiny(void **state) {
    (void)state;
    if (!find_binary()) fail_msg("the warm binary of this build (%s) is missing: build it first (make)", bin);
    test_tmpdir(run_dir, sizeof run_dir);
    char args[512];

    /* 1. Interrupted run: stop after the clean sweep. */
    snprintf(args, sizeof args, "demo --scale tiny --out '%s/run' --stop-after sweep-clean --no-plots", run_dir);
    assert_int_equal(warm("first.log", args), 0);
    char rel[64];
    snprintf(rel, sizeof rel, "run/run.json");
    cJSON *run1 = load_json(rel);
    static const char *const early[] = {"task", "pretrain", "sft", "prefs", "stats", "probe", "sweep-clean"};
    double secs[7];
    for (int i = 0; i < 7; i++) {
        const char *st = NULL;
        secs[i] = stage_seconds(run1, early[i], &st);
        assert_true(secs[i] >= 0);
        assert_string_equal(st, "done");
    }
    assert_true(stage_seconds(run1, "sweep-corrupt", NULL) < 0); /* not started */
    long long t_pre = mtime_ns("run/pretrain/final.safetensors"), t_sft = mtime_ns("run/sft/final.safetensors");
    long long t_prefs = mtime_ns("run/prefs_clean.jsonl"), t_sweep = mtime_ns("run/sweep_clean/manifest.json");
    assert_true(t_pre > 0 && t_sft > 0 && t_prefs > 0 && t_sweep > 0);
    cJSON_Delete(run1);

    /* 2. Another scale on the same directory is refused. */
    snprintf(args, sizeof args, "demo --scale small --out '%s/run' --no-plots", run_dir);
    assert_int_not_equal(warm("wrong.log", args), 0);
    char *wrong = slurp("wrong.log");
    assert_non_null(wrong);
    assert_non_null(strstr(wrong, "tiny-scale run"));
    free(wrong);

    /* 3. The rerun resumes: earlier stages skipped, files untouched, the rest runs to the report. */
    snprintf(args, sizeof args, "demo --scale tiny --out '%s/run' --no-plots", run_dir);
    assert_int_equal(warm("second.log", args), 0);
    char *log2 = slurp("second.log");
    assert_non_null(log2);
    int skipped = 0;
    for (const char *p = log2; (p = strstr(p, "done earlier")) != NULL; p++) skipped++;
    assert_int_equal(skipped, 7);
    free(log2);
    cJSON *run2 = load_json("run/run.json");
    for (int i = 0; i < 7; i++) assert_true(stage_seconds(run2, early[i], NULL) == secs[i]);
    assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(run2, "finished")));
    cJSON_Delete(run2);
    assert_true(mtime_ns("run/pretrain/final.safetensors") == t_pre);
    assert_true(mtime_ns("run/sft/final.safetensors") == t_sft);
    assert_true(mtime_ns("run/prefs_clean.jsonl") == t_prefs);
    assert_true(mtime_ns("run/sweep_clean/manifest.json") == t_sweep);

    /* 4. The report: one row per claim, each with a verdict. */
    char *report = slurp("run/report.md");
    assert_non_null(report);
    static const char *const ids[] = {"C1",  "C2",  "C3",  "C4",  "C5",  "C6",  "C7",  "C8",  "C9",
                                      "C10", "C11", "C12", "C13", "C14", "C15", "C16", "C17"};
    char line[2048];
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        const char *v = verdict(report, ids[i], line, sizeof line);
        if (!v) fail_msg("report.md has no claims-table row for %s", ids[i]);
        if (strcmp(v, "?") == 0) fail_msg("row %s has no verdict: %s", ids[i], line);
        /* The tiny scale runs every RL experiment but WARM of more members than M = big (C16). */
        int rl = i >= 11 && i <= 15;
        if (rl && (strcmp(v, "not measured") == 0) != (strcmp(ids[i], "C16") == 0))
            fail_msg("row %s: %s", ids[i], line);
    }
    assert_non_null(strstr(report, "\n## RL\n"));
    assert_non_null(strstr(report, "tiny"));
    free(report);

    /* 5. Verdicts come from the files: C5 (WA below Diag between two from-scratch RMs) follows lmc/scratch.json. */
    cJSON *lmc = load_json("run/lmc/scratch.json");
    set_series(lmc, "ood", "wa_acc_ge", 0.0);
    set_series(lmc, "ood", "diag_acc_ge", 0.5);
    set_series(lmc, "ood", "ens_acc_ge", 0.5);
    set_midpoint(lmc, "ood", -0.5);
    save_json("run/lmc/scratch.json", lmc);
    cJSON *toy = load_json("run/toy.json");
    cJSON_ReplaceItemInObjectCaseSensitive(toy, "holds", cJSON_CreateFalse());
    save_json("run/toy.json", toy);
    expect_verdicts("report_a", "holds", "does not hold");

    set_series(lmc, "ood", "wa_acc_ge", 1.0);
    set_midpoint(lmc, "ood", 0.5);
    save_json("run/lmc/scratch.json", lmc);
    cJSON_ReplaceItemInObjectCaseSensitive(toy, "holds", cJSON_CreateTrue());
    save_json("run/toy.json", toy);
    expect_verdicts("report_b", "does not hold", "holds");
    cJSON_Delete(lmc);
    cJSON_Delete(toy);
}

/* The claims-table verdict of a report over seeds (four possible). */
static const char *seeds_verdict(const char *report, const char *id, char *line, size_t n) {
    const char *v = verdict(report, id, line, n);
    if (v && strstr(line, "inconclusive")) return "inconclusive";
    return v;
}

/*
 * `warm demo --seeds 1,2`: the finished run of test_demo_tiny becomes seed-1 (moved, so only seed 2 trains),
 * seed 2 runs, then the report over both seeds; a rerun resumes everything and rewrites the same report.
 */
static void test_demo_seeds(void **state) {
    (void)state;
    if (!find_binary()) fail_msg("the warm binary of this build (%s) is missing: build it first (make)", bin);
    if (!run_dir[0]) test_tmpdir(run_dir, sizeof run_dir);
    char from[128], to[128], args[512];
    snprintf(from, sizeof from, "%s/run", run_dir);
    snprintf(to, sizeof to, "%s/seeds", run_dir);
    mkdir(to, 0755);
    snprintf(to, sizeof to, "%s/seeds/seed-1", run_dir);
    int reused = rename(from, to) == 0; /* else seed 1 runs here too */
    snprintf(args, sizeof args, "demo --scale tiny --seeds 1,2 --out '%s/seeds' --no-plots", run_dir);
    assert_int_equal(warm("seeds.log", args), 0);
    char *log = slurp("seeds.log");
    assert_non_null(log);
    int skipped = 0;
    for (const char *q = log; (q = strstr(q, "done earlier")) != NULL; q++) skipped++;
    if (reused) assert_int_equal(skipped, 16); /* every stage of seed 1 */
    assert_non_null(strstr(log, "report --runs"));
    free(log);
    cJSON *run2 = load_json("seeds/seed-2/run.json");
    assert_true(cJSON_GetObjectItemCaseSensitive(run2, "seed")->valuedouble == 2);
    assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(run2, "finished")));
    cJSON_Delete(run2);
    char *single = slurp("seeds/seed-2/report.md");
    assert_non_null(single);
    free(single);

    /* The report over seeds: a row and a verdict per claim; the JSON has both seeds' values. */
    char *report = slurp("seeds/report.md");
    assert_non_null(report);
    assert_non_null(strstr(report, "scale tiny, seeds 1, 2 (n = 2)"));
    static const char *const ids[] = {"C1",  "C2",  "C3",  "C4",  "C5",  "C6",  "C7",  "C8",  "C9",
                                      "C10", "C11", "C12", "C13", "C14", "C15", "C16", "C17"};
    char line[4096];
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        const char *v = seeds_verdict(report, ids[i], line, sizeof line);
        if (!v || strcmp(v, "?") == 0) fail_msg("report over seeds: no verdict for %s", ids[i]);
    }
    cJSON *j = load_json("seeds/report.json");
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(j, "runs");
    assert_int_equal(cJSON_GetArraySize(runs), 2);
    assert_true(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(runs, 1), "seed")->valuedouble == 2);
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(j, "claims")) {
        const cJSON *st;
        cJSON_ArrayForEach(st, cJSON_GetObjectItemCaseSensitive(c, "stats"))
            assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(st, "values")), 2);
    }
    if (reused) { /* test_demo_tiny left seed 1's scratch pair at WA 1.0 vs Diag 0.5 on ood */
        const cJSON *c5 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "claims"), 4);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(c5, "id")->valuestring, "C5");
        const cJSON *st = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c5, "stats"), 0);
        assert_true(fabs(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(st, "values"), 0)->valuedouble - 0.5) < 1e-9);
    }
    cJSON_Delete(j);

    /* A rerun resumes both seeds (32 stages skipped) and writes the same report. */
    assert_int_equal(warm("seeds2.log", args), 0);
    log = slurp("seeds2.log");
    assert_non_null(log);
    skipped = 0;
    for (const char *q = log; (q = strstr(q, "done earlier")) != NULL; q++) skipped++;
    assert_int_equal(skipped, 32);
    free(log);
    char *again = slurp("seeds/report.md");
    assert_non_null(again);
    assert_string_equal(again, report);
    free(again);
    free(report);
}

static int teardown(void **state) {
    (void)state;
    if (!run_dir[0]) return 0;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", run_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_demo_tiny), cmocka_unit_test(test_demo_seeds)};
    return cmocka_run_group_tests(tests, NULL, teardown);
}
