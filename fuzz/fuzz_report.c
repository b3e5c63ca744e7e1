/*
 * fuzz_report.c — the JSON of a demo run that `warm report` reads (run.json, plan.json and the result files
 * plan.json names: eval, best-of-n, LMC, toy and task-statistics JSON). The input holds four files separated by
 * "\n--8<--\n": run.json, plan.json, a.json, b.json (a plan under test names a.json / b.json as its result
 * files); missing parts are absent files. Then warm_report_write computes every claim and writes report.md.
 */
#include "fuzz_util.h"

#include "warm/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const names[4] = {"run.json", "plan.json", "a.json", "b.json"};
    const uint8_t *at[4];
    size_t len[4];
    int n = fuzz_split(data, size, at, len, 4);
    char p[512];
    for (int i = 0; i < 4; i++) {
        if (i < n) fuzz_write(p, sizeof p, names[i], at[i], len[i]);
        else fuzz_unlink(names[i]);
    }
    warm_error err;
    warm_report_summary sum;
    warm_report_write(fuzz_dir(), fuzz_path(p, sizeof p, "report.md"), &sum, &err);
    return 0;
}
