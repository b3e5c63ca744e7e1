/*
 * cmd_lm.c — `warm pretrain` and `warm sft`: the LM trainer (src/train/lm.c) from the command line.
 * pretrain starts from a fresh GPT-2 (sizes from options, vocabulary from the tokenizer) or --init;
 * sft requires --init (the pretrained model) and trains on prompt/completion rows (loss on completions).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "warm/data.h"
#include "warm/tokenizer.h"
#include "warm/train.h"

static const char *const schedules[] = {"constant", "cosine", "linear", NULL};

typedef struct {
    const char *data, *val, *tok, *init, *out;
    int layers, heads, width, context, batch, warmup, schedule, eval_every, save_every, log_every, eval_batches;
    int restart;
    int64_t steps, seed;
    double dropout, lr, wd, clip, min_lr_frac;
} lm_args;

static warm_status make_model(warm_model *m, const lm_args *a, const warm_tokenizer *tok, warm_error *err) {
    if (a->init) {
        warm_status s = warm_model_load(m, a->init, 1, err);
        if (!s && m->cfg.vocab_size != warm_tok_vocab_size(tok)) {
            s = warm_error_set(err, WARM_ERR_MISMATCH, "%s: vocabulary %d, the tokenizer has %d", a->init,
                               m->cfg.vocab_size, warm_tok_vocab_size(tok));
            warm_model_free(m);
        }
        if (!s && a->dropout >= 0) m->cfg.embd_pdrop = m->cfg.attn_pdrop = m->cfg.resid_pdrop = (float)a->dropout;
        return s;
    }
    int V = warm_tok_vocab_size(tok);
    warm_config cfg = warm_config_default(V, a->context, a->layers, a->heads, a->width);
    cfg.bos_token_id = cfg.eos_token_id = warm_tok_eos(tok);
    cfg.pad_token_id = warm_tok_pad(tok);
    if (a->dropout >= 0) cfg.embd_pdrop = cfg.attn_pdrop = cfg.resid_pdrop = (float)a->dropout;
    warm_status s = warm_model_init(m, &cfg, err);
    if (!s) warm_model_init_weights(m, (uint64_t)a->seed);
    return s;
}

static int run_lm(const char *name, const lm_args *a) {
    warm_error err = {0};
    warm_tokenizer *tok = NULL;
    warm_lmdata train = {0}, val = {0};
    warm_model m;
    memset(&m, 0, sizeof m);
    int64_t *tidx = NULL, *vidx = NULL, nt = 0, nv = 0;
    warm_status s = warm_tok_open(&tok, a->tok, &err);
    if (!s) s = make_model(&m, a, tok, &err);
    warm_lm_opts lo = warm_lm_opts_default();
    if (!s) lo.max_len = m.cfg.n_positions;
    if (!s) s = warm_lm_load(&train, a->data, tok, &lo, &err);
    if (!s) s = warm_lm_subset(&train, NULL, -1, &tidx, &nt, &err);
    if (!s && a->val) s = warm_lm_load(&val, a->val, tok, &lo, &err);
    if (!s && a->val) s = warm_lm_subset(&val, NULL, -1, &vidx, &nv, &err);
    if (!s && nt == 0) s = warm_error_set(&err, WARM_ERR_ARG, "%s: no usable rows", a->data);
    if (!s) {
        fprintf(stderr, "%s: %lld training rows (%lld truncated, %lld dropped as too long), %lld validation rows; "
                "model %zu parameters\n", name, (long long)nt, (long long)train.n_truncated,
                (long long)train.n_dropped_long, (long long)nv, m.n_params);
        warm_lm_train_config c = warm_lm_train_default();
        c.out_dir = a->out;
        c.batch = a->batch;
        c.steps = a->steps;
        c.eval_every = a->eval_every;
        c.save_every = a->save_every;
        c.log_every = a->log_every;
        c.eval_batches = a->eval_batches;
        c.seed = (uint64_t)a->seed;
        c.resume = !a->restart;
        c.progress = stderr;
        c.opt.lr = (float)a->lr;
        c.opt.weight_decay = (float)a->wd;
        c.opt.grad_clip = (float)a->clip;
        c.opt.warmup_steps = a->warmup;
        c.opt.schedule = a->schedule;
        c.opt.min_lr_frac = (float)a->min_lr_frac;
        warm_lm_train_result r;
        s = warm_lm_train(&m, &train, tidx, nt, a->val ? &val : NULL, vidx, nv, &c, &r, &err);
        if (!s && r.already_done)
            printf("%s: %s/final.safetensors exists; nothing to do (--restart to train again)\n", name, a->out);
        else if (!s)
            printf("%s: %lld steps%s in %.1f s (%.0f tokens/s); train loss %.4f; val loss %.4f -> %.4f; wrote %s/final.safetensors\n",
                   name, (long long)r.steps_done, r.resumed_from ? " (resumed)" : "", r.seconds, r.tokens_per_s,
                   (double)r.last_loss, (double)r.val_loss_first, (double)r.val_loss, a->out);
    }
    free(tidx);
    free(vidx);
    warm_lm_free(&train);
    warm_lm_free(&val);
    warm_model_free(&m);
    warm_tok_free(tok);
    return s == WARM_OK ? CLI_EXIT_OK : cli_fail(name, &err);
}

static int lm_command(int argc, char **argv, int sft) {
    const char *name = sft ? "sft" : "pretrain";
    lm_args a;
    memset(&a, 0, sizeof a);
    a.dropout = -1;
    warm_opt opts[] = {
        {.name = "data", .kind = WARM_OPT_STRING, .dest = &a.data, .metavar = "JSONL", .required = 1,
         .help = sft ? "SFT rows {\"prompt\", \"completion\"} (loss on the completion + EOS only)"
                     : "pretraining rows {\"text\"} (SFT rows are accepted too)"},
        {.name = "val", .kind = WARM_OPT_STRING, .dest = &a.val, .metavar = "JSONL", .help = "validation rows"},
        CLI_OPT_TOKENIZER(&a.tok, 1, "the vocabulary of the model and the data"),
        {.name = "init", .kind = WARM_OPT_STRING, .dest = &a.init, .metavar = "CKPT", .required = sft,
         .help = sft ? "the pretrained model to fine-tune" : "start from this checkpoint instead of a fresh init"},
        {.name = "out", .short_name = 'o', .kind = WARM_OPT_STRING, .dest = &a.out, .metavar = "DIR", .required = 1,
         .help = "run directory: final.safetensors, step-N.safetensors, last.* (resume), metrics.jsonl"},
        {.name = "layers", .kind = WARM_OPT_INT, .dest = &a.layers, .min = 1, .max = 64, .def = "4",
         .help = "blocks of a fresh model"},
        {.name = "heads", .kind = WARM_OPT_INT, .dest = &a.heads, .min = 1, .max = 64, .def = "4",
         .help = "attention heads of a fresh model"},
        {.name = "width", .kind = WARM_OPT_INT, .dest = &a.width, .min = 8, .max = 4096, .def = "128",
         .help = "embedding width of a fresh model"},
        {.name = "context", .kind = WARM_OPT_INT, .dest = &a.context, .min = 8, .max = 4096, .def = "128",
         .help = "context length of a fresh model (longer rows: truncated/dropped)"},
        {.name = "dropout", .kind = WARM_OPT_DOUBLE, .dest = &a.dropout, .min = 0, .max = 0.9,
         .help = "dropout rate (default: 0.1 fresh, the checkpoint's with --init)"},
        {.name = "steps", .kind = WARM_OPT_INT64, .dest = &a.steps, .min = 1, .max = 1e9, .def = sft ? "600" : "1000",
         .help = "optimiser steps"},
        {.name = "batch", .kind = WARM_OPT_INT, .dest = &a.batch, .min = 1, .max = 4096, .def = "16",
         .help = "sequences per step"},
        {.name = "lr", .kind = WARM_OPT_DOUBLE, .dest = &a.lr, .min = 0, .max = 1, .def = sft ? "3e-4" : "1e-3",
         .help = "peak learning rate"},
        {.name = "warmup", .kind = WARM_OPT_INT, .dest = &a.warmup, .min = 0, .max = 1e9, .def = "50",
         .help = "linear warm-up steps"},
        {.name = "schedule", .kind = WARM_OPT_CHOICE, .dest = &a.schedule, .choices = schedules, .def = "cosine",
         .help = "decay after warm-up"},
        {.name = "min-lr-frac", .kind = WARM_OPT_DOUBLE, .dest = &a.min_lr_frac, .min = 0, .max = 1, .def = "0.1",
         .help = "final learning rate as a fraction of --lr"},
        {.name = "weight-decay", .kind = WARM_OPT_DOUBLE, .dest = &a.wd, .min = 0, .max = 10, .def = "0.1",
         .help = "AdamW decoupled weight decay (2-D tensors only)"},
        {.name = "clip", .kind = WARM_OPT_DOUBLE, .dest = &a.clip, .min = 0, .max = 1e6, .def = "1",
         .help = "global gradient-norm clip (0 = off)"},
        {.name = "seed", .kind = WARM_OPT_INT64, .dest = &a.seed, .min = 0, .max = 9e18, .def = "1",
         .help = "seed of the init, the data order and dropout"},
        {.name = "eval-every", .kind = WARM_OPT_INT, .dest = &a.eval_every, .min = 0, .max = 1e9, .def = "100",
         .help = "validation loss every K steps (and at the end)"},
        {.name = "eval-batches", .kind = WARM_OPT_INT, .dest = &a.eval_batches, .min = 0, .max = 1e9, .def = "0",
         .help = "cap on validation batches (0 = all)"},
        {.name = "save-every", .kind = WARM_OPT_INT, .dest = &a.save_every, .min = 0, .max = 1e9, .def = "0",
         .help = "keep a checkpoint every K steps (SFT: the Baklava initialisations); 0 = final only"},
        {.name = "log-every", .kind = WARM_OPT_INT, .dest = &a.log_every, .min = 1, .max = 1e9, .def = "10",
         .help = "metrics line every K steps"},
        {.name = "restart", .kind = WARM_OPT_FLAG, .dest = &a.restart,
         .help = "ignore a previous run in --out instead of resuming it"},
    };
    warm_opts_cmd cmd = {.prog = "warm", .name = name,
                         .desc = sft ? "Supervised fine-tuning: LM loss on completions given prompts; checkpoints kept\n"
                                       "every --save-every steps are the Baklava initialisations of reward models."
                                     : "Pretrains a GPT-2 language model on text (next-token loss on every token).",
                         .opts = opts, .nopts = CLI_NOPTS(opts),
                         .epilog = sft ? "example: warm sft --init pre/final.safetensors --data task/sft_train.jsonl \\\n"
                                         "           --val task/sft_val.jsonl --tokenizer task/tokenizer.json -o sft"
                                       : "example: warm pretrain --data task/pretrain.jsonl --tokenizer task/tokenizer.json -o pre"};
    warm_opts_result res;
    int rc = cli_parse(&cmd, argc, argv, &res);
    if (rc != CLI_PARSE_OK) return cli_parse_exit(rc);
    int code = run_lm(name, &a);
    warm_opts_free(&cmd, &res);
    return code;
}

int cli_cmd_pretrain(int argc, char **argv) { return lm_command(argc, argv, 0); }
int cli_cmd_sft(int argc, char **argv) { return lm_command(argc, argv, 1); }
