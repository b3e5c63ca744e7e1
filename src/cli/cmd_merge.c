/*
 * cmd_merge.c — `warm merge IN... -o OUT`: weight averaging (WARM) and its relatives, streamed from
 * memory-mapped inputs (library: include/warm/merge.h; formulas and rules: docs/merge.md).
 * greedy/top load the validation preferences (--val, with --tokenizer for text rows) and print the member
 * ranking and the soup accuracies, which the output's "warm.merge" metadata also records. Under mpirun the
 * ranks merge together (warm_merge_opts.dist); rank 0 prints and writes.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "warm/data.h"
#include "warm/dist.h"
#include "warm/merge.h"
#include "warm/tokenizer.h"

static const char *const methods[] = {"uniform", "weighted", "lerp", "slerp", "task-arithmetic", "greedy", "top",
                                      NULL};
static const char *const dtypes[] = {"input", "f32", "bf16", "f16", NULL};

static void print_soup(const warm_merge_report *r, char **inputs, int greedy) {
    printf("ranking by validation accuracy (acc_ge):\n");
    for (int k = 0; k < r->n_inputs; k++)
        printf("  %2d. %-50s %.4f\n", k + 1, inputs[r->ranking[k].input], r->ranking[k].acc);
    if (greedy) {
        printf("greedy soup:\n");
        for (int k = 0; k < r->n_inputs; k++)
            printf("  step %2d: %-46s candidate %.4f  %s\n", k, inputs[r->ranking[k].input], r->step_acc[k],
                   r->accepted[k] ? "added" : "rejected");
    }
    printf("soup: %d of %d members, validation accuracy %.4f\n", r->n_selected, r->n_inputs, r->soup_acc);
}

static void print_summary(const char *out, const warm_merge_report *r, char **inputs, int method) {
    if (method == WARM_MERGE_GREEDY || method == WARM_MERGE_TOP) print_soup(r, inputs, method == WARM_MERGE_GREEDY);
    if (method != WARM_MERGE_SLERP) {
        printf("coefficients:");
        for (int i = 0; i < r->n_inputs; i++) printf(" %.6g", r->coef[i]);
        printf("\n");
    } else {
        printf("slerp: %d tensor(s) fell back to lerp (nearly parallel or zero)\n", r->n_slerp_fallback);
    }
    double gb_in = (double)r->bytes_read / 1e9;
    printf("wrote %s: %d tensors averaged, %d copied, %d legacy buffers skipped, %d file(s); read %.3f GB, wrote "
           "%.3f GB in %.2f s (%.2f GB/s read)\n", out, r->n_averaged, r->n_copied, r->n_skipped, r->n_shards, gb_in,
           (double)r->bytes_written / 1e9, r->seconds, r->seconds > 0 ? gb_in / r->seconds : 0.0);
}

typedef struct {
    const char *val, *tokenizer, *split;
    warm_tokenizer *tok;
    warm_prefs prefs;
    int64_t *idx;
    warm_merge_prefs_eval ev;
} val_set;

/* Loads --val for greedy/top: the model config of the first input gives vocabulary, pad id and context. */
static warm_status load_val(val_set *v, const char *first, warm_error *err) {
    warm_ckpt c;
    warm_config cfg;
    warm_status s = warm_ckpt_open(&c, first, err);
    if (s) return s;
    s = warm_ckpt_model_config(&c, &cfg, err);
    warm_ckpt_close(&c);
    if (s) return s;
    if (v->tokenizer && (s = warm_tok_open(&v->tok, v->tokenizer, err))) return s;
    warm_prefs_opts po = warm_prefs_opts_default();
    po.max_len = cfg.n_positions;
    po.vocab_size = cfg.vocab_size;
    po.pad_id = cfg.pad_token_id;
    s = warm_prefs_load(&v->prefs, v->val, v->tok, &po, err);
    int64_t n = 0;
    if (!s) s = warm_prefs_subset(&v->prefs, v->split, -1, &v->idx, &n, err);
    if (!s && n == 0)
        s = warm_error_set(err, WARM_ERR_ARG, "%s: no validation pairs%s%s", v->val, v->split ? " in split " : "",
                           v->split ? v->split : "");
    v->ev = (warm_merge_prefs_eval){.prefs = &v->prefs, .idx = v->idx, .n = n};
    return s;
}

static void free_val(val_set *v) {
    free(v->idx);
    warm_prefs_free(&v->prefs);
    warm_tok_free(v->tok);
}

int cli_cmd_merge(int argc, char **argv) {
    const char *out = NULL, *base = NULL, *shard = NULL;
    int method = 0, dtype = 0, top_m = 0, no_check = 0, quiet = 0, threads = 1;
    double lambda = 0.5, scale = 1.0;
    warm_opt_list weights = {0};
    val_set v;
    memset(&v, 0, sizeof v);
    warm_opt opts[] = {
        {.name = "out", .short_name = 'o', .kind = WARM_OPT_STRING, .dest = &out, .metavar = "OUT", .required = 1,
         .help = "output: a path ending in .safetensors is one file, anything else a Hugging Face directory\n"
                 "(model.safetensors or shards + index, config.json); written atomically"},
        {.name = "method", .kind = WARM_OPT_CHOICE, .dest = &method, .choices = methods,
         .def = "uniform", .help = "uniform: mean (WARM); weighted: sum w_i x_i / sum w_i; lerp: (1-l) a + l b;\n"
                                   "slerp: spherical per tensor; task-arithmetic: base + s sum w_i (x_i - base);\n"
                                   "greedy: greedy model soup on --val; top: mean of the --m best on --val"},
        {.name = "weights", .kind = WARM_OPT_FLOAT_LIST, .dest = &weights, .metavar = "W1,W2,...",
         .help = "weighted: one weight >= 0 per input (normalised); task-arithmetic: w_i (default 1)"},
        {.name = "lambda", .kind = WARM_OPT_DOUBLE, .dest = &lambda, .min = -1e6, .max = 1e6,
         .help = "lerp/slerp (required): weight of the second input (slerp: in [0, 1])"},
        {.name = "base", .kind = WARM_OPT_STRING, .dest = &base, .metavar = "CKPT",
         .help = "task-arithmetic (required) / slerp (optional): the common base checkpoint"},
        {.name = "scale", .kind = WARM_OPT_DOUBLE, .dest = &scale, .min = -1e6, .max = 1e6, .def = "1",
         .help = "task-arithmetic: s"},
        {.name = "m", .kind = WARM_OPT_INT, .dest = &top_m, .min = 1, .max = 1000000, .help = "top: members kept"},
        {.name = "val", .kind = WARM_OPT_STRING, .dest = &v.val, .metavar = "PREFS",
         .help = "greedy/top: validation preference pairs (JSONL)"},
        CLI_OPT_TOKENIZER(&v.tokenizer, 0, "for text rows of --val (pre-tokenised rows need none)"),
        {.name = "split", .kind = WARM_OPT_STRING, .dest = &v.split, .metavar = "NAMES",
         .help = "greedy/top: only rows of these comma-separated splits of --val"},
        {.name = "dtype", .kind = WARM_OPT_CHOICE, .dest = &dtype, .choices = dtypes, .def = "input",
         .help = "output dtype of floating tensors (input: the first input's, per tensor)"},
        {.name = "shard-size", .kind = WARM_OPT_STRING, .dest = &shard, .metavar = "BYTES",
         .help = "directory output: at most this many tensor bytes per shard (5GB, 2GiB, 500000000)"},
        {.name = "threads", .kind = WARM_OPT_INT, .dest = &threads, .min = 1, .max = 256, .def = "1",
         .help = "threads of the averaging kernel (memory-bound: one core usually streams as fast as\n"
                 "`cat`; the result does not depend on it)"},
        {.name = "no-config-check", .kind = WARM_OPT_FLAG, .dest = &no_check,
         .help = "merge even when the inputs' configs differ"},
        {.name = "quiet", .short_name = 'q', .kind = WARM_OPT_FLAG, .dest = &quiet, .help = "no progress lines"},
    };
    warm_opts_cmd cmd = {
        .prog = "warm", .name = "merge",
        .desc = "Averages checkpoints (safetensors files or Hugging Face directories, sharded or not) tensor by\n"
                "tensor, streaming from memory-mapped inputs: every floating tensor (head included) is\n"
                "accumulated in double and rounded once to the output dtype; integer tensors must be identical\n"
                "and are copied; legacy attn.bias buffers are dropped. Refuses inputs whose tensor names,\n"
                "shapes or configs differ. Under mpirun (make MPI=1, uniform and weighted) each rank reads\n"
                "its own inputs, the sums pass from rank to rank and rank 0 writes the same bytes as one\n"
                "process would (docs/scale.md).",
        .args = "IN...", .min_args = 1, .max_args = WARM_OPTS_UNLIMITED, .opts = opts, .nopts = CLI_NOPTS(opts),
        .epilog = "examples:\n"
                  "  warm merge rm1 rm2 rm3 -o warm3.safetensors\n"
                  "  warm merge a.safetensors b.safetensors --method slerp --lambda 0.3 -o ab.safetensors\n"
                  "  warm merge rm* --method greedy --val val.jsonl --tokenizer tok.txt -o soup/ --shard-size 2GB"};
    warm_opts_result res;
    int rc = cli_parse(&cmd, argc, argv, &res);
    if (rc != CLI_PARSE_OK) return cli_parse_exit(rc);
    warm_merge_opts o = warm_merge_opts_default();
    o.method = (warm_merge_method)method;
    o.weights = weights.n ? weights.f64 : NULL;
    o.n_weights = weights.n;
    o.lambda = lambda;
    o.scale = scale;
    o.base = base;
    o.top_m = top_m;
    o.check_config = !no_check;
    o.threads = threads;
    o.progress = quiet ? NULL : stderr;
    o.out_dtype = dtype == 0 ? -1 : dtype == 1 ? (int)WARM_DTYPE_F32 : dtype == 2 ? (int)WARM_DTYPE_BF16
                                                                                     : (int)WARM_DTYPE_F16;
    int soup = o.method == WARM_MERGE_GREEDY || o.method == WARM_MERGE_TOP;
    const char *usage = NULL;
    if (shard && cli_parse_size(shard, &o.shard_size))
        usage = "--shard-size: expected a byte count such as 2GB or 500000000";
    else if (soup && !v.val) usage = "--val PREFS is required by greedy and top";
    else if (o.method == WARM_MERGE_TOP && !top_m) usage = "--m is required by top";
    else if ((o.method == WARM_MERGE_LERP || o.method == WARM_MERGE_SLERP) && !opts[3].seen) /* opts[3]: --lambda */
        usage = "--lambda is required by lerp and slerp";
    else if (!soup && (v.val || v.tokenizer || v.split))
        usage = "--val/--tokenizer/--split are only used by greedy and top";
    if (usage) {
        cli_error("merge", "%s", usage);
        warm_opts_free(&cmd, &res);
        return CLI_EXIT_USAGE;
    }
    warm_error err = {0};
    warm_dist *world = NULL;
    warm_status st = warm_dist_world(&world, &err);
    int lead = warm_dist_rank(world) == 0;
    o.dist = world;
    if (!lead) o.progress = NULL;
    if (!st && soup) st = load_val(&v, res.args[0], &err);
    if (soup) {
        o.eval = warm_merge_eval_prefs;
        o.eval_ctx = &v.ev;
    }
    warm_merge_report rep;
    memset(&rep, 0, sizeof rep);
    if (!st) st = warm_merge((const char *const *)res.args, res.nargs, out, &o, &rep, &err);
    if (!st && lead) print_summary(out, &rep, res.args, method);
    if (!st && lead && warm_dist_size(world) > 1)
        printf("over %d MPI ranks: each read its own inputs; rank 0 wrote the output\n", warm_dist_size(world));
    warm_merge_report_free(&rep);
    free_val(&v);
    warm_opts_free(&cmd, &res);
    int rank = warm_dist_rank(world);
    warm_dist_free(world);
    if (st == WARM_OK) return CLI_EXIT_OK;
    if (lead) return cli_fail("merge", &err);
    /* Every rank says why it stops: mpirun may end rank 0 before it prints once another rank has exited. */
    cli_error("merge", "rank %d: %s", rank, err.msg[0] ? err.msg : warm_status_str(err.code));
    return err.code == WARM_ERR_ARG ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
}
