/*
 * cmd_report.c — `warm report --run DIR [-o OUT.md]`: report.md of a demo run, with the paper's claims C1-C17
 * and verdicts computed from the run's files (warm_report_write in src/report; docs/report.md).
 * `warm report --runs DIR... [-o OUT.md] [--json OUT.json]`: the report over several runs of one scale with
 * different seeds, each claim's statistics as mean and 95 % interval over seeds (warm_report_write_runs).
 * Prints the verdict counts and the output path.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "warm/report.h"

/* The default output over seeds: report.md in the directory that holds the first run ("." when none). */
static void default_out(const char *first, char *buf, size_t n) {
    size_t len = strlen(first);
    while (len > 1 && first[len - 1] == '/') len--; /* "runs/seed-1/" -> "runs/seed-1" */
    const char *slash = NULL;
    for (size_t i = 0; i < len; i++)
        if (first[i] == '/') slash = first + i;
    if (!slash) snprintf(buf, n, "report.md");
    else if (slash == first) snprintf(buf, n, "/report.md");
    else snprintf(buf, n, "%.*s/report.md", (int)(slash - first), first);
}

int cli_cmd_report(int argc, char **argv) {
    const char *run = NULL, *out = NULL, *json = NULL;
    int runs = 0;
    warm_opt opts[] = {
        {.name = "run", .kind = WARM_OPT_STRING, .dest = &run, .metavar = "DIR",
         .help = "run directory written by `warm demo` (run.json, plan.json and the files it names)"},
        {.name = "runs", .kind = WARM_OPT_FLAG, .dest = &runs,
         .help = "the arguments DIR... are demo runs of one scale with different seeds (1 to 31): report each "
                 "claim's statistics as mean and 95 % Student-t interval over seeds, with a verdict from the "
                 "interval (holds / does not hold / inconclusive)"},
        {.name = "out", .short_name = 'o', .kind = WARM_OPT_STRING, .dest = &out, .metavar = "OUT.md",
         .help = "output Markdown file, written atomically (default: DIR/report.md; with --runs, report.md "
                 "beside the first run, e.g. runs/report.md for runs/seed-1)"},
        {.name = "json", .kind = WARM_OPT_STRING, .dest = &json, .metavar = "OUT.json",
         .help = "with --runs: also write the aggregated numbers (per claim and statistic: values per seed, "
                 "mean, sd, interval, verdict) as JSON, atomically"},
    };
    warm_opts_cmd cmd = {
        .prog = "warm",
        .name = "report",
        .desc = "Writes report.md of a demo run: a table of the WARM paper's claims C1-C17, each with the measured\n"
                "numbers and a verdict (holds / does not hold / not measured at this scale) computed from the\n"
                "run's files, then the run facts, reward models, LMC, best-of-n, RL and toy-model tables.\n"
                "An absent file makes the claims that need it \"not measured\"; a malformed one is an error.\n"
                "With --runs DIR...: the same claims over several seeds (runs of one scale; a mix is refused),\n"
                "each verdict from the 95 % intervals of the claim's statistics (docs/report.md).",
        .args = "[DIR...]",
        .min_args = 0,
        .max_args = WARM_OPTS_UNLIMITED,
        .opts = opts,
        .nopts = CLI_NOPTS(opts),
        .epilog = "examples:\n  warm report --run runs/small-1\n"
                  "  warm report --runs runs/seed-1 runs/seed-2 runs/seed-3 --json runs/report.json\n",
    };
    warm_opts_result res;
    int rc = cli_parse(&cmd, argc, argv, &res);
    if (rc != CLI_PARSE_OK) return cli_parse_exit(rc);
    const char *usage = NULL;
    if (run && runs) usage = "give either --run DIR or --runs DIR..., not both";
    else if (!run && !runs) usage = "give --run DIR (one run) or --runs DIR... (several seeds)";
    else if (run && res.nargs) usage = "--run takes one directory; for several seeds use --runs DIR...";
    else if (runs && res.nargs == 0) usage = "--runs needs at least one run directory";
    else if (runs && res.nargs > WARM_REPORT_MAX_RUNS) usage = "--runs takes at most 31 run directories";
    else if (json && !runs) usage = "--json goes with --runs";
    if (usage) {
        cli_error("report", "%s (see warm report --help)", usage);
        warm_opts_free(&cmd, &res);
        return CLI_EXIT_USAGE;
    }
    warm_error err = {0};
    warm_report_summary sum;
    char def[4096];
    if (!out) {
        if (run) snprintf(def, sizeof def, "%s/report.md", run);
        else default_out(res.args[0], def, sizeof def);
        out = def;
    }
    warm_status st = run ? warm_report_write(run, out, &sum, &err)
                         : warm_report_write_runs((const char *const *)res.args, res.nargs, out, json, &sum, &err);
    if (st == WARM_OK && run)
        printf("claims: %d hold, %d do not hold, %d not measured at this scale\nwrote %s\n", sum.holds,
               sum.does_not_hold, sum.not_measured, out);
    else if (st == WARM_OK)
        printf("claims over %d seed%s: %d hold, %d do not hold, %d inconclusive, %d not measured at this scale\n"
               "wrote %s%s%s\n",
               res.nargs, res.nargs > 1 ? "s" : "", sum.holds, sum.does_not_hold, sum.inconclusive, sum.not_measured,
               out, json ? " and " : "", json ? json : "");
    warm_opts_free(&cmd, &res);
    return st == WARM_OK ? CLI_EXIT_OK : cli_fail("report", &err);
}
