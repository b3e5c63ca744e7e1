/*
 * cmd_train_rm.c — `warm train-rm`: one reward-model member (warm_rm_init_model + warm_rm_train,
 * include/warm/rm.h): the SFT body with the probed head, full Bradley-Terry fine-tuning, TRL's metrics in
 * DIR/metrics.jsonl, DIR/final.safetensors, exact resume. `warm sweep` runs one of these per member and
 * checks its pass-through options with --dry-run first.
 *
 * Under mpirun (the MPI build), the ranks train the one member together, data parallel (warm/rm.h,
 * docs/scale.md): rank 0 prints and writes, every rank returns the same exit code. `warm sweep` under mpirun
 * calls cli_train_rm_with in-process with the ranks of one member.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "warm/dist.h"
#include "warm/rm.h"
#include "warm/tokenizer.h"
#include "warm/train.h"

static const char *const schedules[] = {"constant", "cosine", "linear", NULL};

typedef struct {
    const char *init, *head, *data, *subset, *val, *val_subset, *tok, *out;
    double lr, dropout, wd, clip, center, min_lr_frac, epochs, bucket_mb;
    int64_t steps, seed, stop_after;
    int batch, warmup, schedule, margin, save_every, resume_every, eval_every, eval_batches, log_every;
    int restart, dry_run, no_overlap;
} rm_args;

static warm_rm_hparams hparams_of(const rm_args *a, warm_rm_head_source src, int64_t steps) {
    warm_rm_hparams h;
    memset(&h, 0, sizeof h);
    h.init = a->init;
    h.head = a->head;
    h.head_source = warm_rm_head_source_name(src);
    h.data = a->data;
    h.subset = a->subset;
    h.lr = a->lr;
    h.dropout = a->dropout;
    h.weight_decay = a->wd;
    h.clip = a->clip;
    h.center = a->center;
    h.min_lr_frac = a->min_lr_frac;
    h.batch = a->batch;
    h.warmup = a->warmup;
    h.schedule = schedules[a->schedule];
    h.steps = steps;
    h.seed = (uint64_t)a->seed;
    h.use_margins = a->margin;
    return h;
}

static void print_result(const rm_args *a, const warm_rm_train_result *r, int64_t steps) {
    if (r->already_done) {
        printf("train-rm: %s/final.safetensors exists (%lld steps); nothing to do (--restart to train again)\n",
               a->out, (long long)r->steps_done);
        return;
    }
    printf("train-rm: %lld steps%s in %.1f s (%.0f tokens/s); train loss %.4f acc %.3f", (long long)r->steps_done,
           r->resumed_from ? " (resumed)" : "", r->seconds, r->tokens_per_s, (double)r->last.loss,
           (double)r->last.accuracy);
    if (r->val.n > 0) {
        printf("; val acc %.4f (>) %.4f (>=)", (double)r->val.acc_gt, (double)r->val.acc_ge);
        if (r->val_first.n > 0) printf(" [start %.4f (>)]", (double)r->val_first.acc_gt);
    }
    if (r->steps_done < steps)
        printf("; stopped at step %lld of %lld (run the command again to continue)\n", (long long)r->steps_done,
               (long long)steps);
    else
        printf("; wrote %s/final.safetensors\n", a->out);
}

static int run_train_rm(const rm_args *a, int steps_given, warm_dist *dist) {
    warm_error err = {0};
    int lead = warm_dist_rank(dist) == 0;
    warm_tokenizer *tok = NULL;
    warm_prefs train = {0}, val = {0};
    warm_model m;
    memset(&m, 0, sizeof m);
    int64_t *tidx = NULL, *vidx = NULL, nt = 0, nv = 0;
    int have_model = 0;
    char *json = NULL, *key = NULL;
    warm_rm_head_source src = WARM_RM_HEAD_INIT;
    warm_status s = a->tok ? warm_tok_open(&tok, a->tok, &err) : WARM_OK;
    if (!s) s = warm_rm_init_model(&m, a->init, a->head, (float)a->dropout, (uint64_t)a->seed, &src, &err);
    have_model = !s;
    if (!s) s = warm_rm_load_pairs(&train, a->data, a->subset, tok, &m.cfg, &tidx, &nt, &err);
    if (!s && a->val) s = warm_rm_load_pairs(&val, a->val, a->val_subset, tok, &m.cfg, &vidx, &nv, &err);
    int64_t steps = steps_given ? a->steps : warm_rm_steps_for_epochs(a->epochs, nt, a->batch);
    warm_rm_hparams h = hparams_of(a, src, steps);
    if (!s && (!(json = warm_rm_hparams_json(&h, 1)) || !(key = warm_rm_hparams_json(&h, 0))))
        s = warm_error_set(&err, WARM_ERR_NOMEM, "out of memory");
    if (!s && lead) {
        if (warm_dist_size(dist) > 1)
            fprintf(stderr, "train-rm: data parallel over %d ranks\n", warm_dist_size(dist));
        fprintf(stderr, "train-rm: %lld pairs (%lld dropped as too long), %lld validation pairs; %lld steps of %d "
                "pairs (%.2f epochs); head from %s; %zu parameters\n", (long long)nt, (long long)train.n_dropped_long,
                (long long)nv, (long long)steps, a->batch, (double)steps * a->batch / (double)nt,
                src == WARM_RM_HEAD_FILE ? a->head : warm_rm_head_source_name(src), m.n_params);
    }
    if (!s) {
        warm_rm_train_config c = warm_rm_train_default();
        c.out_dir = a->out;
        c.batch = a->batch;
        c.steps = steps;
        c.log_every = a->log_every;
        c.eval_every = a->eval_every;
        c.eval_batches = a->eval_batches;
        c.save_every = a->save_every;
        c.resume_every = a->resume_every;
        c.opt.lr = (float)a->lr;
        c.opt.weight_decay = (float)a->wd;
        c.opt.grad_clip = (float)a->clip;
        c.opt.warmup_steps = a->warmup;
        c.opt.schedule = a->schedule;
        c.opt.min_lr_frac = (float)a->min_lr_frac;
        c.center = (float)a->center;
        c.use_margins = a->margin;
        c.seed = (uint64_t)a->seed;
        c.resume = !a->restart;
        c.stop_after = a->stop_after;
        c.train_json = json;
        c.run_key = key;
        c.progress = stderr;
        c.dist = dist;
        c.bucket_floats = (size_t)(a->bucket_mb * 1048576.0 / sizeof(float));
        c.overlap = !a->no_overlap;
        warm_rm_train_result r;
        s = warm_rm_train(&m, &train, tidx, nt, a->val ? &val : NULL, vidx, nv, &c, &r, &err);
        if (!s && lead) print_result(a, &r, steps);
        if (!s && lead && warm_dist_size(dist) > 1)
            printf("train-rm: %d ranks; %.2f s of %.1f s waiting for gradient sums\n", warm_dist_size(dist),
                   r.allreduce_wait_s, r.seconds);
    }
    free(json);
    free(key);
    free(tidx);
    free(vidx);
    warm_prefs_free(&train);
    warm_prefs_free(&val);
    if (have_model) warm_model_free(&m);
    warm_tok_free(tok);
    if (s == WARM_OK) return CLI_EXIT_OK;
    if (lead) return cli_fail("train-rm", &err);
    return err.code == WARM_ERR_ARG ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE; /* rank 0 printed it */
}

int cli_train_rm_with(int argc, char **argv, warm_dist *dist) {
    rm_args a;
    memset(&a, 0, sizeof a);
    warm_opt opts[] = {
        {.name = "init", .kind = WARM_OPT_STRING, .dest = &a.init, .metavar = "CKPT", .required = 1,
         .help = "the SFT checkpoint the member starts from (Baklava: one of several SFT steps)"},
        {.name = "head", .kind = WARM_OPT_STRING, .dest = &a.head, .metavar = "PATH",
         .help = "head file from `warm probe` (its score.weight replaces the init's); default: the init's\n"
                 "score.weight, or a fresh N(0, 0.02) head when it has none"},
        {.name = "data", .kind = WARM_OPT_STRING, .dest = &a.data, .metavar = "JSONL", .required = 1,
         .help = "training pairs (TRL prompt/chosen/rejected, or *_ids)"},
        {.name = "subset", .kind = WARM_OPT_STRING, .dest = &a.subset, .metavar = "SPLITS",
         .help = "use only rows whose \"split\" is in this comma-separated list (e.g. train); default: all rows"},
        {.name = "val", .kind = WARM_OPT_STRING, .dest = &a.val, .metavar = "JSONL", .help = "validation pairs"},
        {.name = "val-subset", .kind = WARM_OPT_STRING, .dest = &a.val_subset, .metavar = "SPLITS",
         .help = "split filter for --val (e.g. val)"},
        CLI_OPT_TOKENIZER(&a.tok, 0, "for text rows (pre-tokenised rows need none)"),
        {.name = "out", .short_name = 'o', .kind = WARM_OPT_STRING, .dest = &a.out, .metavar = "DIR", .required = 1,
         .help = "run directory: final.safetensors, step-N.safetensors, last.* (resume), metrics.jsonl"},
        {.name = "lr", .kind = WARM_OPT_DOUBLE, .dest = &a.lr, .min = 0, .max = 1, .def = "1e-4",
         .help = "peak learning rate (TRL's default; the paper's grid: 1e-5, 4e-5, 1e-4)"},
        {.name = "dropout", .kind = WARM_OPT_DOUBLE, .dest = &a.dropout, .min = 0, .max = 0.9, .def = "0.1",
         .help = "dropout rate of embeddings, attention and residuals (the paper's grid: 0.05, 0.1)"},
        {.name = "seed", .kind = WARM_OPT_INT64, .dest = &a.seed, .min = 0, .max = 9007199254740992.0, .def = "1",
         .help = "seed of the data order and dropout masks (and of a fresh head)"},
        {.name = "steps", .kind = WARM_OPT_INT64, .dest = &a.steps, .min = 1, .max = 1e9,
         .help = "optimiser steps (instead of --epochs)"},
        {.name = "epochs", .kind = WARM_OPT_DOUBLE, .dest = &a.epochs, .min = 1e-6, .max = 1e6, .def = "1",
         .help = "passes over the training pairs, when --steps is not given"},
        {.name = "batch", .kind = WARM_OPT_INT, .dest = &a.batch, .min = 1, .max = 4096, .def = "16",
         .help = "pairs per step"},
        {.name = "warmup", .kind = WARM_OPT_INT, .dest = &a.warmup, .min = 0, .max = 1e9, .def = "0",
         .help = "linear warm-up steps"},
        {.name = "schedule", .kind = WARM_OPT_CHOICE, .dest = &a.schedule, .choices = schedules, .def = "linear",
         .help = "decay after warm-up (TRL: linear to 0)"},
        {.name = "min-lr-frac", .kind = WARM_OPT_DOUBLE, .dest = &a.min_lr_frac, .min = 0, .max = 1, .def = "0",
         .help = "final learning rate as a fraction of --lr"},
        {.name = "weight-decay", .kind = WARM_OPT_DOUBLE, .dest = &a.wd, .min = 0, .max = 10, .def = "0",
         .help = "AdamW decoupled weight decay (2-D tensors only)"},
        {.name = "clip", .kind = WARM_OPT_DOUBLE, .dest = &a.clip, .min = 0, .max = 1e6, .def = "1",
         .help = "global gradient-norm clip (0 = off)"},
        {.name = "margin", .kind = WARM_OPT_FLAG, .dest = &a.margin,
         .help = "use the data's \"margin\" field: -log sigma(r+ - r- - margin)"},
        {.name = "center", .kind = WARM_OPT_DOUBLE, .dest = &a.center, .min = 0, .max = 100, .def = "0",
         .help = "centring coefficient eta * mean (r+ + r-)^2 (TRL's center_rewards_coefficient; 0.01 suggested)"},
        {.name = "log-every", .kind = WARM_OPT_INT, .dest = &a.log_every, .min = 1, .max = 1e9, .def = "10",
         .help = "metrics line every K steps"},
        {.name = "eval-every", .kind = WARM_OPT_INT, .dest = &a.eval_every, .min = 0, .max = 1e9, .def = "0",
         .help = "validation every K steps (0: before the first step and at the end only)"},
        {.name = "eval-batches", .kind = WARM_OPT_INT, .dest = &a.eval_batches, .min = 0, .max = 1e9, .def = "0",
         .help = "cap on validation batches (0 = all)"},
        {.name = "save-every", .kind = WARM_OPT_INT, .dest = &a.save_every, .min = 0, .max = 1e9, .def = "0",
         .help = "keep step-N.safetensors every K steps (averaging along one run); 0 = final only"},
        {.name = "resume-every", .kind = WARM_OPT_INT, .dest = &a.resume_every, .min = 0, .max = 1e9, .def = "100",
         .help = "write the resumable last.* every K steps (0: only at the end)"},
        {.name = "stop-after", .kind = WARM_OPT_INT64, .dest = &a.stop_after, .min = 0, .max = 1e9, .def = "0",
         .help = "stop after K steps of this call, resumable (0 = run to the end)"},
        {.name = "restart", .kind = WARM_OPT_FLAG, .dest = &a.restart,
         .help = "ignore a previous run in --out instead of resuming it"},
        {.name = "dry-run", .kind = WARM_OPT_FLAG, .dest = &a.dry_run,
         .help = "check the options and exit (used by `warm sweep` before it starts members)"},
        {.name = "bucket-mb", .kind = WARM_OPT_DOUBLE, .dest = &a.bucket_mb, .min = 0.01, .max = 1024, .def = "25",
         .help = "under mpirun: gradients are summed over the ranks in buckets of this many MiB (PyTorch DDP's\n"
                 "bucket_cap_mb)"},
        {.name = "no-overlap", .kind = WARM_OPT_FLAG, .dest = &a.no_overlap,
         .help = "under mpirun: sum the gradients after the backward pass instead of during it"},
    };
    warm_opts_cmd cmd = {.prog = "warm", .name = "train-rm",
                         .desc = "Trains one reward model (a WARM member): full Bradley-Terry fine-tuning from an SFT\n"
                                 "checkpoint and the probed head. Logs TRL's metrics (loss, accuracy, margin,\n"
                                 "reward mean/min/max) to DIR/metrics.jsonl; rerunning the same command resumes.\n"
                                 "Under mpirun (make MPI=1) the ranks train it together, data parallel: each rank\n"
                                 "takes a share of every batch and the gradients are summed (docs/scale.md).",
                         .opts = opts, .nopts = CLI_NOPTS(opts),
                         .epilog = "example: warm train-rm --init sft/final.safetensors --head head.safetensors \\\n"
                                   "           --data prefs.jsonl --subset train --val prefs.jsonl --val-subset val \\\n"
                                   "           --tokenizer task/tokenizer.json --lr 4e-5 --dropout 0.1 --seed 1 -o rm1"};
    warm_opts_result res;
    int rc = cli_parse(&cmd, argc, argv, &res);
    if (rc != CLI_PARSE_OK) return cli_parse_exit(rc);
    int steps_given = 0, epochs_given = 0;
    for (int i = 0; i < cmd.nopts; i++) {
        if (strcmp(opts[i].name, "steps") == 0) steps_given = opts[i].seen > 0;
        if (strcmp(opts[i].name, "epochs") == 0) epochs_given = opts[i].seen > 0;
    }
    int code;
    if (steps_given && epochs_given) {
        cli_error("train-rm", "give --steps or --epochs, not both");
        code = CLI_EXIT_USAGE;
    } else if (a.dry_run) {
        code = CLI_EXIT_OK;
    } else {
        code = run_train_rm(&a, steps_given, dist);
    }
    warm_opts_free(&cmd, &res);
    return code;
}

int cli_cmd_train_rm(int argc, char **argv) {
    warm_dist *world = NULL;
    warm_error err = {0};
    if (warm_dist_world(&world, &err)) {
        cli_error("train-rm", "%s", err.msg);
        return CLI_EXIT_USAGE;
    }
    int code = cli_train_rm_with(argc, argv, world);
    warm_dist_free(world);
    return code;
}
