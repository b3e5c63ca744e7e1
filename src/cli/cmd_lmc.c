/*
 * cmd_lmc.c — `warm lmc`: the linear-mode-connectivity diagnostic of the paper's E1/E2 (Figures 3 and 4)
 * between two reward models: accuracy of the weight average WA_λ, the prediction ensemble ENS_λ and the
 * straight line Diag_λ on a λ grid, per subset, plus the midpoint gains WA − Diag and WA − ENS
 * (warm_lmc_run in src/eval/lmc.c; docs/eval.md §"warm lmc").
 *
 * Outputs: a table on stdout, the CSV (-o, atomic), optionally JSON (--json, atomic) and figures
 * (--plot PREFIX: PREFIX_<subset>.svg and .png through gnuplot and scripts/plot_lmc.gp; without gnuplot a
 * note is printed and the rest still succeeds).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "warm/data.h"
#include "warm/eval.h"
#include "warm/merge.h"
#include "warm/progress.h"
#include "warm/tokenizer.h"

static const char *const strategy_choices[] = {"auto", "packed", "batched", "decode", NULL};

typedef struct {
    const char *a, *b, *data, *tok, *subset, *out, *json, *plot, *plot_script;
    int grid, strategy, max_rows, allow_unk, quiet, plot_script_given;
} lmc_args;

/* ---------------------------------------------------------------------------------------------------- */
/* Table                                                                                                  */

static void fmt_acc(char *buf, size_t n, double v) {
    if (isnan(v)) snprintf(buf, n, "-");
    else snprintf(buf, n, "%.4f", v);
}

static void fmt_gain(char *buf, size_t n, double v) {
    if (isnan(v)) snprintf(buf, n, "-");
    else snprintf(buf, n, "%+.4f", v);
}

static void print_subset(const warm_lmc_result *r, const warm_lmc_subset *q) {
    printf("\n%s (%" PRId64 " pairs)\n", q->name, q->n);
    printf("  %6s %8s %8s %8s   %8s %8s %8s\n", "lambda", "WA>=", "ENS>=", "Diag>=", "WA>", "ENS>", "Diag>");
    for (int i = 0; i < r->n_lambda; i++) {
        const warm_lmc_point *p = &q->pts[i];
        char v[6][16];
        fmt_acc(v[0], sizeof v[0], p->wa_ge);
        fmt_acc(v[1], sizeof v[1], p->ens_ge);
        fmt_acc(v[2], sizeof v[2], p->diag_ge);
        fmt_acc(v[3], sizeof v[3], p->wa_gt);
        fmt_acc(v[4], sizeof v[4], p->ens_gt);
        fmt_acc(v[5], sizeof v[5], p->diag_gt);
        printf("  %6.3f %8s %8s %8s   %8s %8s %8s\n", r->lambda[i], v[0], v[1], v[2], v[3], v[4], v[5]);
    }
}

static void print_gains(const warm_lmc_result *r) {
    if (r->mid < 0) {
        printf("\nmidpoint gains: the grid has no lambda = 0.5 (use an odd --grid); not computed\n");
        return;
    }
    printf("\nmidpoint (lambda = 0.5) gains, acc>= (acc> in brackets):\n");
    printf("  %-16s %8s %8s %8s %18s %18s\n", "subset", "WA", "ENS", "Diag", "WA-Diag", "WA-ENS");
    for (int j = 0; j < r->n_subsets; j++) {
        const warm_lmc_subset *q = &r->subsets[j];
        const warm_lmc_point *p = &q->pts[r->mid];
        char v[7][24], g1[64], g2[64];
        fmt_acc(v[0], sizeof v[0], p->wa_ge);
        fmt_acc(v[1], sizeof v[1], p->ens_ge);
        fmt_acc(v[2], sizeof v[2], p->diag_ge);
        fmt_gain(v[3], sizeof v[3], q->gain_wa_diag_ge);
        fmt_gain(v[4], sizeof v[4], q->gain_wa_diag_gt);
        fmt_gain(v[5], sizeof v[5], q->gain_wa_ens_ge);
        fmt_gain(v[6], sizeof v[6], q->gain_wa_ens_gt);
        snprintf(g1, sizeof g1, "%s (%s)", v[3], v[4]);
        snprintf(g2, sizeof g2, "%s (%s)", v[5], v[6]);
        printf("  %-16s %8s %8s %8s %18s %18s\n", q->name, v[0], v[1], v[2], g1, g2);
    }
}

/* ---------------------------------------------------------------------------------------------------- */
/* JSON                                                                                                   */

static cJSON *series(const warm_lmc_result *r, const warm_lmc_subset *q, size_t field) {
    double *v = malloc((size_t)r->n_lambda * sizeof *v);
    if (!v) return NULL;
    for (int i = 0; i < r->n_lambda; i++) memcpy(&v[i], (const char *)&q->pts[i] + field, sizeof(double));
    cJSON *a = cJSON_CreateDoubleArray(v, r->n_lambda);
    free(v);
    return a;
}

static void add_num_or_null(cJSON *o, const char *k, double v) {
    if (isnan(v)) cJSON_AddNullToObject(o, k);
    else cJSON_AddNumberToObject(o, k, v);
}

static cJSON *build_json(const lmc_args *a, const warm_prefs *d, const warm_lmc_result *r) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON_AddStringToObject(root, "a", a->a);
    cJSON_AddStringToObject(root, "b", a->b);
    cJSON_AddStringToObject(root, "data", a->data);
    cJSON_AddNumberToObject(root, "pairs", (double)d->n);
    cJSON_AddNumberToObject(root, "grid", r->n_lambda);
    cJSON_AddItemToObject(root, "lambda", cJSON_CreateDoubleArray(r->lambda, r->n_lambda));
    cJSON *rules = cJSON_AddObjectToObject(root, "rules");
    cJSON_AddStringToObject(rules, "wa", "Acc of the weights (1-lambda) phi_a + lambda phi_b (f64 accumulation, F32)");
    cJSON_AddStringToObject(rules, "ens", "Acc of the rewards (1-lambda) r_a + lambda r_b");
    cJSON_AddStringToObject(rules, "diag", "(1-lambda) Acc(phi_a) + lambda Acc(phi_b)");
    cJSON_AddStringToObject(rules, "acc_ge", "mean 1[r+ >= r-]: ties count as correct (WARM paper)");
    cJSON_AddStringToObject(rules, "acc_gt", "mean 1[r+ > r-]: strict (TRL, reward-bench v1)");
    cJSON *subs = cJSON_AddArrayToObject(root, "subsets");
    static const struct {
        const char *key;
        size_t off;
    } cols[] = {
        {"wa_acc_ge", offsetof(warm_lmc_point, wa_ge)},     {"wa_acc_gt", offsetof(warm_lmc_point, wa_gt)},
        {"ens_acc_ge", offsetof(warm_lmc_point, ens_ge)},   {"ens_acc_gt", offsetof(warm_lmc_point, ens_gt)},
        {"diag_acc_ge", offsetof(warm_lmc_point, diag_ge)}, {"diag_acc_gt", offsetof(warm_lmc_point, diag_gt)},
    };
    for (int j = 0; j < r->n_subsets; j++) {
        const warm_lmc_subset *q = &r->subsets[j];
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        cJSON_AddStringToObject(o, "name", q->name);
        if (q->split >= 0) cJSON_AddStringToObject(o, "split", d->split_names.v[q->split]);
        else cJSON_AddNullToObject(o, "split");
        if (q->corrupted >= 0) cJSON_AddBoolToObject(o, "corrupted", q->corrupted);
        else cJSON_AddNullToObject(o, "corrupted");
        cJSON_AddNumberToObject(o, "n", (double)q->n);
        for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
            cJSON_AddItemToObject(o, cols[c].key, series(r, q, cols[c].off));
        if (r->mid >= 0) {
            cJSON *m = cJSON_AddObjectToObject(o, "midpoint");
            cJSON_AddNumberToObject(m, "lambda", 0.5);
            add_num_or_null(m, "wa_minus_diag_ge", q->gain_wa_diag_ge);
            add_num_or_null(m, "wa_minus_ens_ge", q->gain_wa_ens_ge);
            add_num_or_null(m, "wa_minus_diag_gt", q->gain_wa_diag_gt);
            add_num_or_null(m, "wa_minus_ens_gt", q->gain_wa_ens_gt);
        } else {
            cJSON_AddNullToObject(o, "midpoint");
        }
        cJSON_AddItemToArray(subs, o);
    }
    cJSON *sp = cJSON_AddObjectToObject(root, "speed");
    cJSON_AddStringToObject(sp, "strategy", warm_eval_strategy_name((warm_eval_strategy)a->strategy));
    cJSON_AddNumberToObject(sp, "pairs_scored", (double)r->n_scored);
    cJSON_AddNumberToObject(sp, "model_evaluations", r->n_evals);
    cJSON_AddNumberToObject(sp, "seconds", r->seconds);
    cJSON_AddNumberToObject(sp, "pairs_per_s", r->seconds > 0 ? (double)r->n_scored * r->n_evals / r->seconds : 0.0);
    return root;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Figures                                                                                                */

/* A subset name as a file-name part: letters, digits, '-', '_' and '.' kept, anything else '_'. */
static void file_part(const char *s, char *out, size_t n) {
    size_t k = 0;
    for (; *s && k + 1 < n; s++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                 c == '.';
        out[k++] = ok ? c : '_';
    }
    out[k] = 0;
}

/* Figures of every subset; 0 when written or skipped (no gnuplot), -1 on a failure (printed). */
static int make_plots(const lmc_args *a, const warm_lmc_result *r) {
    char gnuplot[4096], script[4096];
    if (!cli_find_on_path("gnuplot", gnuplot, sizeof gnuplot)) {
        printf("note: gnuplot is not on PATH; no figures written (install gnuplot-nox, e.g. "
               "`sh scripts/install-deps.sh plot`, then plot %s with scripts/plot_lmc.gp)\n", a->out);
        return 0;
    }
    if (!cli_find_repo_file(a->plot_script, a->plot_script_given, script, sizeof script)) {
        cli_error("lmc", "plot script %s not found (give --plot-script PATH)", a->plot_script);
        return -1;
    }
    int fails = 0;
    for (int j = 0; j < r->n_subsets; j++) {
        char part[128], base[4096];
        file_part(r->subsets[j].name, part, sizeof part);
        snprintf(base, sizeof base, "%s_%s", a->plot, part);
        const char *args[3] = {a->out, r->subsets[j].name, base};
        if (cli_run_gnuplot(gnuplot, script, args, 3) != 0) {
            cli_error("lmc", "gnuplot failed for subset %s (%s)", r->subsets[j].name, script);
            fails++;
        } else {
            printf("wrote %s.svg, %s.png\n", base, base);
        }
    }
    return fails ? -1 : 0;
}

/* ---------------------------------------------------------------------------------------------------- */
/* The command                                                                                            */

/* Distinct rows of the selected subsets (the pairs each model evaluation scores), for the progress bar. */
static int64_t union_size(const warm_prefs *d, const char *spec) {
    warm_eval_subset *s = NULL;
    int n = 0;
    warm_error err = {0};
    if (warm_eval_subsets(d, spec, &s, &n, &err) != WARM_OK) return 0;
    uint8_t *seen = calloc((size_t)(d->n > 0 ? d->n : 1), 1);
    int64_t u = 0;
    for (int j = 0; seen && j < n; j++)
        for (int64_t k = 0; k < s[j].n; k++)
            if (!seen[s[j].idx[k]]) {
                seen[s[j].idx[k]] = 1;
                u++;
            }
    free(seen);
    warm_eval_subsets_free(s, n);
    return u;
}

static int run_lmc(const lmc_args *a) {
    warm_error err = {0};
    warm_ckpt ca, cb;
    memset(&ca, 0, sizeof ca);
    memset(&cb, 0, sizeof cb);
    warm_tokenizer *tok = NULL;
    warm_prefs d;
    memset(&d, 0, sizeof d);
    warm_lmc_result r;
    memset(&r, 0, sizeof r);
    warm_config cfg;
    warm_status st = warm_ckpt_open(&ca, a->a, &err);
    if (!st) st = warm_ckpt_open(&cb, a->b, &err);
    if (!st) st = warm_lmc_check(&ca, &cb, &cfg, &err);
    if (!st && a->tok) st = warm_tok_open(&tok, a->tok, &err);
    warm_prefs_opts po = warm_prefs_opts_default();
    if (!st) {
        po.max_len = cfg.n_positions;
        po.allow_unk = a->allow_unk;
        po.vocab_size = cfg.vocab_size;
        po.pad_id = cfg.pad_token_id >= 0 && cfg.pad_token_id < cfg.vocab_size ? cfg.pad_token_id : 0;
        st = warm_prefs_load(&d, a->data, tok, &po, &err);
    }
    warm_progress prog;
    if (!st) {
        printf("lmc: A = %s, B = %s\ndata: %s: %" PRId64 " pairs", a->a, a->b, a->data, d.n);
        if (d.n_dropped_long) printf(" (%" PRId64 " dropped: longer than the context %d)", d.n_dropped_long, po.max_len);
        printf("; grid of %d lambda values over [0, 1]\n", a->grid);
        fflush(stdout);
        warm_lmc_opts o = warm_lmc_opts_default();
        o.grid = a->grid;
        o.subset = a->subset;
        o.eval.strategy = (warm_eval_strategy)a->strategy;
        o.eval.max_rows = a->max_rows;
        if (!a->quiet) {
            warm_progress_init(&prog, stderr, "lmc", (int64_t)a->grid * union_size(&d, a->subset));
            o.eval.progress = &prog;
        }
        st = warm_lmc_run(&ca, &cb, &d, &o, &r, &err);
        if (!a->quiet) {
            if (!st) warm_progress_finish(&prog);
            else warm_progress_clear(&prog);
        }
    }
    int plot_fail = 0;
    if (!st) {
        printf("\nWA: weights (1-l) A + l B; ENS: rewards (1-l) r_A + l r_B; Diag: (1-l) Acc(A) + l Acc(B).\n"
               "acc>= counts ties as correct (WARM paper); acc> is strict (reward-bench).\n");
        for (int j = 0; j < r.n_subsets; j++) print_subset(&r, &r.subsets[j]);
        print_gains(&r);
        printf("\nscored %" PRId64 " pairs x %d models in %.2f s (%.0f pairs/s)\n", r.n_scored, r.n_evals, r.seconds,
               r.seconds > 0 ? (double)r.n_scored * r.n_evals / r.seconds : 0.0);
        st = warm_lmc_write_csv(&r, a->out, &err);
        if (!st) printf("wrote %s\n", a->out);
    }
    if (!st && a->json) {
        cJSON *root = build_json(a, &d, &r);
        st = root ? warm_json_write(a->json, root, &err) : warm_error_set(&err, WARM_ERR_NOMEM, "lmc: out of memory");
        cJSON_Delete(root);
        if (!st) printf("wrote %s\n", a->json);
    }
    if (!st && a->plot) plot_fail = make_plots(a, &r) != 0;
    warm_lmc_result_free(&r);
    warm_prefs_free(&d);
    warm_tok_free(tok);
    warm_ckpt_close(&ca);
    warm_ckpt_close(&cb);
    if (st) return cli_fail("lmc", &err);
    return plot_fail ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

int cli_cmd_lmc(int argc, char **argv) {
    lmc_args a;
    memset(&a, 0, sizeof a);
    warm_opt opts[] = {
        {.name = "a", .kind = WARM_OPT_STRING, .dest = &a.a, .metavar = "CKPT", .required = 1,
         .help = "first reward model (lambda = 0): .safetensors file or HF directory"},
        {.name = "b", .kind = WARM_OPT_STRING, .dest = &a.b, .metavar = "CKPT", .required = 1,
         .help = "second reward model (lambda = 1); same config, tensor names and shapes as --a"},
        {.name = "data", .kind = WARM_OPT_STRING, .dest = &a.data, .metavar = "JSONL", .required = 1,
         .help = "preference pairs: prompt/chosen/rejected or *_ids, optional split and corrupted"},
        CLI_OPT_TOKENIZER(&a.tok, 0, "needed when the data holds text"),
        {.name = "subset", .kind = WARM_OPT_STRING, .dest = &a.subset, .metavar = "SPEC",
         .help = "restrict the subsets: split=NAME[|NAME...],corrupted=true|false (default: every subset)"},
        {.name = "grid", .kind = WARM_OPT_INT, .dest = &a.grid, .min = 2, .max = 1001, .def = "11",
         .help = "lambda values evenly spaced over [0, 1], ends included (odd: 0.5 is on it)"},
        {.name = "out", .short_name = 'o', .kind = WARM_OPT_STRING, .dest = &a.out, .metavar = "CSV", .required = 1,
         .help = "CSV: subset,lambda,wa_acc_ge,wa_acc_gt,ens_acc_ge,ens_acc_gt,diag_acc_ge (atomic)"},
        {.name = "json", .kind = WARM_OPT_STRING, .dest = &a.json, .metavar = "OUT",
         .help = "every number (both rules for all three curves, midpoint gains) as JSON (atomic)"},
        {.name = "plot", .kind = WARM_OPT_STRING, .dest = &a.plot, .metavar = "PREFIX",
         .help = "figures PREFIX_<subset>.svg and .png with gnuplot (skipped with a note when it is missing)"},
        {.name = "plot-script", .kind = WARM_OPT_STRING, .dest = &a.plot_script, .metavar = "GP",
         .def = "scripts/plot_lmc.gp",
         .help = "gnuplot script for --plot (when the default is not in the working directory, the one of the "
                 "repository the binary was built in)"},
        {.name = "strategy", .kind = WARM_OPT_CHOICE, .dest = &a.strategy, .choices = strategy_choices,
         .def = "auto", .help = "scoring engine (auto = packed; see docs/eval.md)"},
        {.name = "max-rows", .kind = WARM_OPT_INT, .dest = &a.max_rows, .min = 1, .max = 1 << 24, .def = "2048",
         .help = "token rows per forward pass (bounds memory)"},
        {.name = "allow-unk", .kind = WARM_OPT_FLAG, .dest = &a.allow_unk,
         .help = "map unknown words to <unk> instead of failing"},
        {.name = "quiet", .short_name = 'q', .kind = WARM_OPT_FLAG, .dest = &a.quiet, .help = "no progress line"},
    };
    warm_opts_cmd cmd = {
        .prog = "warm",
        .name = "lmc",
        .desc = "Linear mode connectivity (WARM paper E1/E2, Figures 3-4): accuracy along lambda in [0, 1] of the\n"
                "weight average WA = (1-l) A + l B (interpolated in memory), the prediction ensemble\n"
                "ENS = (1-l) r_A + l r_B and the straight line Diag = (1-l) Acc(A) + l Acc(B), per subset,\n"
                "with both accuracy rules, plus the midpoint gains WA-Diag and WA-ENS at l = 0.5.",
        .opts = opts,
        .nopts = CLI_NOPTS(opts),
        .epilog = "examples:\n"
                  "  warm lmc --a rm1.safetensors --b rm2.safetensors --data prefs.jsonl \\\n"
                  "           --tokenizer task/tokenizer.json --grid 11 -o lmc.csv --json lmc.json --plot fig/lmc\n"
                  "  warm lmc --a rm1 --b rm2 --data prefs.jsonl --subset split=ood -o ood.csv\n",
    };
    warm_opts_result res;
    int rc = cli_parse(&cmd, argc, argv, &res);
    if (rc != CLI_PARSE_OK) return cli_parse_exit(rc);
    for (int i = 0; i < CLI_NOPTS(opts); i++)
        if (strcmp(opts[i].name, "plot-script") == 0) a.plot_script_given = opts[i].seen > 0;
    rc = run_lmc(&a);
    warm_opts_free(&cmd, &res);
    return rc;
}
