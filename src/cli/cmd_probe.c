/*
 * cmd_probe.c — `warm probe`: the shared reward head ω0 fitted on frozen SFT features (warm_probe_run,
 * include/warm/rm.h), written as a head-only safetensors file with the recipe and accuracies in its metadata.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "warm/rm.h"
#include "warm/tokenizer.h"

typedef struct {
    const char *init, *data, *subset, *val, *val_subset, *tok, *out;
    int steps, batch, margin;
    double lr, center;
    warm_opt_list l2;
} probe_args;

static void add_stats(cJSON *o, const char *prefix, const warm_probe_stats *s) {
    char k[64];
    snprintf(k, sizeof k, "%s_pairs", prefix);
    cJSON_AddNumberToObject(o, k, (double)s->n);
    snprintf(k, sizeof k, "%s_loss", prefix);
    cJSON_AddNumberToObject(o, k, s->loss);
    snprintf(k, sizeof k, "%s_acc_gt", prefix);
    cJSON_AddNumberToObject(o, k, s->acc_gt);
    snprintf(k, sizeof k, "%s_acc_ge", prefix);
    cJSON_AddNumberToObject(o, k, s->acc_ge);
}

/* The "warm.probe" metadata: source, data, recipe, results. */
static char *probe_json(const probe_args *a, const warm_probe_config *c, const warm_probe_result *r) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "init", a->init);
    cJSON_AddStringToObject(o, "data", a->data);
    if (a->subset) cJSON_AddStringToObject(o, "subset", a->subset);
    if (a->val) cJSON_AddStringToObject(o, "val", a->val);
    if (a->val_subset) cJSON_AddStringToObject(o, "val_subset", a->val_subset);
    cJSON_AddStringToObject(o, "features", "ln_f hidden state at the last non-pad token, dropout off, body frozen");
    cJSON_AddStringToObject(o, "objective", "mean -log sigma(w.(xc - xr) - margin) + center*mean (w.(xc + xr))^2 "
                            "+ l2/2 |w|^2");
    cJSON_AddStringToObject(o, "optimizer", "full-batch adam(0.9, 0.999, 1e-8) from w = 0, cosine to lr/100");
    cJSON_AddNumberToObject(o, "steps", c->steps);
    cJSON_AddNumberToObject(o, "lr", a->lr);
    cJSON_AddNumberToObject(o, "l2", (double)r->l2);
    if (r->n_tried > 1) {
        cJSON *t = cJSON_AddArrayToObject(o, "l2_tried");
        for (int k = 0; t && k < r->n_tried; k++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "l2", (double)r->tried_l2[k]);
            cJSON_AddNumberToObject(e, "val_loss", r->tried_val[k].loss);
            cJSON_AddNumberToObject(e, "val_acc_gt", r->tried_val[k].acc_gt);
            cJSON_AddItemToArray(t, e);
        }
    }
    cJSON_AddNumberToObject(o, "center", a->center);
    cJSON_AddBoolToObject(o, "margin", a->margin != 0);
    add_stats(o, "train", &r->train);
    if (r->val.n > 0) add_stats(o, "val", &r->val);
    cJSON_AddNumberToObject(o, "head_norm", r->head_norm);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static int run_probe(const probe_args *a) {
    warm_error err = {0};
    warm_tokenizer *tok = NULL;
    warm_prefs train = {0}, val = {0};
    warm_model m;
    memset(&m, 0, sizeof m);
    int64_t *tidx = NULL, *vidx = NULL, nt = 0, nv = 0;
    int have_model = 0;
    char *meta = NULL;
    warm_status s = a->tok ? warm_tok_open(&tok, a->tok, &err) : WARM_OK;
    if (!s) s = warm_model_load(&m, a->init, 1, &err);
    have_model = !s;
    if (!s) s = warm_rm_load_pairs(&train, a->data, a->subset, tok, &m.cfg, &tidx, &nt, &err);
    if (!s && a->val) s = warm_rm_load_pairs(&val, a->val, a->val_subset, tok, &m.cfg, &vidx, &nv, &err);
    warm_probe_config c = warm_probe_default();
    float grid[WARM_PROBE_MAX_L2];
    for (int k = 0; k < a->l2.n; k++) grid[k] = (float)a->l2.f64[k];
    c.steps = a->steps;
    c.lr = (float)a->lr;
    c.l2 = grid[0];
    c.l2_grid = a->l2.n > 1 ? grid : NULL;
    c.n_l2 = a->l2.n > 1 ? a->l2.n : 0;
    c.center = (float)a->center;
    c.use_margins = a->margin;
    c.batch = a->batch;
    c.progress = stderr;
    warm_probe_result r;
    if (!s) {
        fprintf(stderr, "probe: %lld training pairs (%lld dropped as too long), %lld validation pairs; width %d\n",
                (long long)nt, (long long)train.n_dropped_long, (long long)nv, m.cfg.n_embd);
        s = warm_probe_run(&m, &train, tidx, nt, a->val ? &val : NULL, vidx, nv, &c, &r, &err);
    }
    if (!s && !(meta = probe_json(a, &c, &r))) s = warm_error_set(&err, WARM_ERR_NOMEM, "out of memory");
    if (!s) {
        const char *k[2] = {"warm.probe", "warm.source"}, *v[2] = {meta, a->init};
        s = warm_rm_save_head(warm_model_globals(&m, m.params).score, m.cfg.n_embd, a->out, k, v, 2, &err);
    }
    if (!s) {
        printf("probe: features %.1f s, fit %.1f s (%d steps); train loss %.4f -> %.4f, acc %.4f (>) %.4f (>=)",
               r.feature_seconds, r.fit_seconds, c.steps, r.train_zero.loss, r.train.loss, r.train.acc_gt,
               r.train.acc_ge);
        if (r.val.n > 0) printf("; val loss %.4f, acc %.4f (>) %.4f (>=)", r.val.loss, r.val.acc_gt, r.val.acc_ge);
        if (r.n_tried > 1) {
            printf("; l2 %g chosen by validation loss from", (double)r.l2);
            for (int k = 0; k < r.n_tried; k++) printf(" %g (%.4f)", (double)r.tried_l2[k], r.tried_val[k].loss);
        }
        printf("; |w| %.3f; wrote %s\n", r.head_norm, a->out);
    }
    free(meta);
    free(tidx);
    free(vidx);
    warm_prefs_free(&train);
    warm_prefs_free(&val);
    if (have_model) warm_model_free(&m);
    warm_tok_free(tok);
    return s == WARM_OK ? CLI_EXIT_OK : cli_fail("probe", &err);
}

int cli_cmd_probe(int argc, char **argv) {
    probe_args a;
    memset(&a, 0, sizeof a);
    warm_opt opts[] = {
        {.name = "init", .kind = WARM_OPT_STRING, .dest = &a.init, .metavar = "CKPT", .required = 1,
         .help = "the SFT model whose frozen features the head reads (its score.weight, if any, is ignored)"},
        {.name = "data", .kind = WARM_OPT_STRING, .dest = &a.data, .metavar = "JSONL", .required = 1,
         .help = "preference pairs (TRL prompt/chosen/rejected, or *_ids)"},
        {.name = "subset", .kind = WARM_OPT_STRING, .dest = &a.subset, .metavar = "SPLITS",
         .help = "use only rows whose \"split\" is in this comma-separated list (e.g. train); default: all rows"},
        {.name = "val", .kind = WARM_OPT_STRING, .dest = &a.val, .metavar = "JSONL",
         .help = "validation pairs (accuracy reported and recorded)"},
        {.name = "val-subset", .kind = WARM_OPT_STRING, .dest = &a.val_subset, .metavar = "SPLITS",
         .help = "split filter for --val (e.g. val)"},
        CLI_OPT_TOKENIZER(&a.tok, 0, "for text rows (pre-tokenised rows need none)"),
        {.name = "out", .short_name = 'o', .kind = WARM_OPT_STRING, .dest = &a.out, .metavar = "PATH", .required = 1,
         .help = "head file: score.weight [1, C] F32 with the recipe and accuracies in its metadata"},
        {.name = "steps", .kind = WARM_OPT_INT, .dest = &a.steps, .min = 1, .max = 1e7, .def = "1000",
         .help = "full-batch Adam steps on the fixed features"},
        {.name = "lr", .kind = WARM_OPT_DOUBLE, .dest = &a.lr, .min = 1e-9, .max = 10, .def = "0.02",
         .help = "Adam step size (cosine decay to lr/100)"},
        {.name = "l2", .kind = WARM_OPT_FLOAT_LIST, .dest = &a.l2, .min = 0, .max = 100, .def = "0.01",
         .metavar = "X[,X...]", .help = "L2 penalty (l2/2)|w|^2 (bounds the head on separable data); a list (at most 16)\n"
                                        "is a grid: the value with the lowest validation loss is kept (needs --val)"},
        {.name = "center", .kind = WARM_OPT_DOUBLE, .dest = &a.center, .min = 0, .max = 100, .def = "0",
         .help = "centring coefficient eta * mean (r+ + r-)^2 (Eisenstein et al.; TRL suggests 0.01)"},
        {.name = "margin", .kind = WARM_OPT_FLAG, .dest = &a.margin,
         .help = "use the data's \"margin\" field: -log sigma(r+ - r- - margin)"},
        {.name = "batch", .kind = WARM_OPT_INT, .dest = &a.batch, .min = 2, .max = 8192, .def = "64",
         .help = "sequences per feature forward"},
    };
    warm_opts_cmd cmd = {.prog = "warm", .name = "probe",
                         .desc = "Linear probe: fits the reward head score.weight on frozen features of an SFT model\n"
                                 "with the Bradley-Terry loss. Every sweep member starts from this one head.",
                         .opts = opts, .nopts = CLI_NOPTS(opts),
                         .epilog = "example: warm probe --init sft/final.safetensors --data prefs.jsonl --subset train \\\n"
                                   "           --val prefs.jsonl --val-subset val --tokenizer task/tokenizer.json -o head.safetensors"};
    warm_opts_result res;
    int rc = cli_parse(&cmd, argc, argv, &res);
    if (rc != CLI_PARSE_OK) return cli_parse_exit(rc);
    int code;
    if (a.l2.n > WARM_PROBE_MAX_L2 || (a.l2.n > 1 && !a.val)) {
        cli_error("probe", a.l2.n > 1 && !a.val ? "a list of --l2 values is chosen on validation data: give --val"
                                                : "at most %d --l2 values", WARM_PROBE_MAX_L2);
        code = CLI_EXIT_USAGE;
    } else {
        code = run_probe(&a);
    }
    warm_opts_free(&cmd, &res);
    return code;
}
