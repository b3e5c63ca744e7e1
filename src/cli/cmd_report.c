/*
 * cmd_report.c — `warm report --run DIR [-o OUT.md]`: report.md of a demo run, with the paper's claims C1-C11
 * and C17 and verdicts computed from the run's files (warm_report_write in src/report; docs/report.md).
 * Prints the verdict counts and the output path.
 */
#include <stdio.h>

#include "cli/cli.h"
#include "warm/report.h"

int cli_cmd_report(int argc, char **argv) {
    const char *run = NULL, *out = NULL;
    warm_opt opts[] = {
        {.name = "run", .kind = WARM_OPT_STRING, .dest = &run, .metavar = "DIR", .required = 1,
         .help = "run directory written by `warm demo` (run.json, plan.json and the files it names)"},
        {.name = "out", .short_name = 'o', .kind = WARM_OPT_STRING, .dest = &out, .metavar = "OUT.md",
         .help = "output Markdown file, written atomically (default: DIR/report.md)"},
    };
    warm_opts_cmd cmd = {
        .prog = "warm",
        .name = "report",
        .desc = "Writes report.md of a demo run: a table of the WARM paper's claims C1-C11 and C17, each with the\n"
                "measured numbers and a verdict (holds / does not hold / not measured at this scale) computed\n"
                "from the run's files, then the run facts, reward models, LMC, best-of-n and toy-model tables.\n"
                "An absent file makes the claims that need it \"not measured\"; a malformed one is an error.",
        .opts = opts,
        .nopts = CLI_NOPTS(opts),
        .epilog = "example:\n  warm report --run runs/small-1\n",
    };
    warm_opts_result res;
    int rc = cli_parse(&cmd, argc, argv, &res);
    if (rc != CLI_PARSE_OK) return cli_parse_exit(rc);
    warm_error err = {0};
    warm_report_summary sum;
    char def[4096];
    if (!out) {
        snprintf(def, sizeof def, "%s/report.md", run);
        out = def;
    }
    warm_status st = warm_report_write(run, out, &sum, &err);
    if (st == WARM_OK)
        printf("claims: %d hold, %d do not hold, %d not measured at this scale\nwrote %s\n", sum.holds,
               sum.does_not_hold, sum.not_measured, out);
    warm_opts_free(&cmd, &res);
    return st == WARM_OK ? CLI_EXIT_OK : cli_fail("report", &err);
}
