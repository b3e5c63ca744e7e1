/*
 * cmd_rl.c — `warm rl`: KL-regularised on-policy RL of a GPT-2 policy against a reward model, a WARM merge or
 * a prediction ensemble (warm/rl.h, docs/rl.md). The reward-model list syntax and the prompt reader are those
 * of `warm bon` (rmspec.c); every member is scored with a warm_scorer (one group per prompt: the prompt's
 * prefix once, its k responses after it) and the members are combined by warm_eval_ensemble.
 *
 * Run directory DIR: last.safetensors (F32 weights, running reward statistics and the run's settings in the
 * metadata) + last.state.safetensors (Adam moments, step, RNG) rewritten every --save-every steps and at the
 * end; step-NNNNNN.safetensors kept at those steps; final.safetensors; log.jsonl (one row per step). Started
 * again with the same DIR it resumes from last.* and gives the same bits as an uninterrupted run.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "warm/data.h"
#include "warm/eval.h"
#include "warm/model.h"
#include "warm/rl.h"
#include "warm/safetensors.h"
#include "warm/task.h"
#include "warm/tokenizer.h"
#include "warm/train.h"

typedef struct {
    const char *policy, *rm, *prompts, *out, *task, *tokenizer;
    double beta, lr, grad_clip, lambda;
    int steps, batch, k, max_new, save_every, warmup, limit, no_norm, quiet, max_rows;
    int64_t seed;
} rl_args;

/* The proxy reward: members scored one by one, then their ensemble (one member: its reward). */
typedef struct {
    cli_rm_spec spec;
    float lambda;
    warm_model *models;
    warm_scorer **scorers;
    float **member_r; /* (n) scratch per member */
    int32_t *packed;
    int cap;
} rm_ctx;

static void rm_ctx_free(rm_ctx *c) {
    for (int j = 0; j < c->spec.n; j++) {
        if (c->scorers) warm_scorer_free(c->scorers[j]);
        if (c->models) warm_model_free(&c->models[j]);
        if (c->member_r) free(c->member_r[j]);
    }
    free(c->scorers);
    free(c->models);
    free(c->member_r);
    free(c->packed);
    cli_rm_spec_free(&c->spec);
}

static warm_status rm_ctx_load(rm_ctx *c, int V, int n_max, int max_rows, int max_tokens, warm_error *err) {
    c->models = calloc((size_t)c->spec.n, sizeof *c->models);
    c->scorers = calloc((size_t)c->spec.n, sizeof *c->scorers);
    c->member_r = calloc((size_t)c->spec.n, sizeof *c->member_r);
    c->packed = malloc((size_t)max_tokens * sizeof *c->packed);
    if (!c->models || !c->scorers || !c->member_r || !c->packed)
        return warm_error_set(err, WARM_ERR_NOMEM, "rl: out of memory");
    c->cap = max_tokens;
    warm_eval_opts o = warm_eval_opts_default();
    o.max_rows = max_rows;
    for (int j = 0; j < c->spec.n; j++) {
        warm_status st = warm_model_load(&c->models[j], c->spec.path[j], 0, err);
        if (!st && c->models[j].cfg.vocab_size < V)
            st = warm_error_set(err, WARM_ERR_MISMATCH, "vocabulary of %d tokens, the policy has %d",
                                c->models[j].cfg.vocab_size, V);
        if (st == WARM_ERR_MISMATCH) warm_error_prefix(err, "%s", c->spec.path[j]);
        if (!st) st = warm_scorer_init(&c->scorers[j], &c->models[j], &o, err);
        if (!st && !(c->member_r[j] = malloc((size_t)n_max * sizeof(float))))
            st = warm_error_set(err, WARM_ERR_NOMEM, "rl: out of memory");
        if (st) return st; /* the load and the checks name the file */
    }
    return WARM_OK;
}

static warm_status rm_reward(void *ctx, const int32_t *prompt, int prompt_len, const int32_t *resp, int stride,
                             const int *lens, int n, float *out, warm_error *err) {
    rm_ctx *c = ctx;
    int total = 0;
    for (int i = 0; i < n; i++) {
        WARM_CHECK(total + lens[i] <= c->cap, "rl: packed responses exceed %d tokens", c->cap);
        memcpy(c->packed + total, resp + (size_t)i * stride, (size_t)lens[i] * sizeof *resp);
        total += lens[i];
    }
    warm_eval_group g = {.prefix = prompt, .prefix_len = prompt_len, .n = n, .conts = c->packed, .lens = lens};
    for (int j = 0; j < c->spec.n; j++) {
        warm_status st = warm_scorer_groups(c->scorers[j], &g, 1, c->member_r[j], err);
        if (st) return warm_error_prefix(err, "%s", c->spec.path[j]);
    }
    if (c->spec.n == 1) memcpy(out, c->member_r[0], (size_t)n * sizeof *out);
    else warm_eval_ensemble((const float *const *)c->member_r, c->spec.n, n, (warm_ens_kind)c->spec.ens, c->lambda, out);
    return WARM_OK;
}

static warm_status gold_reward(void *ctx, const int32_t *prompt, int prompt_len, const int32_t *resp, int stride,
                               const int *lens, int n, float *out, warm_error *err) {
    (void)err;
    for (int i = 0; i < n; i++)
        out[i] = (float)warm_task_gold_ids(ctx, prompt, prompt_len, resp + (size_t)i * stride, lens[i], NULL);
    return WARM_OK;
}

/* Prompt index of batch slot g (global counter): epoch g / P, a seeded permutation of the prompts per epoch. */
static int prompt_at(int *perm, int P, int64_t *perm_epoch, uint64_t seed, int64_t g) {
    int64_t e = g / P;
    if (e != *perm_epoch) {
        warm_rng r;
        warm_rng_seed(&r, warm_hash64(seed ^ 0x726cULL, (uint64_t)e));
        for (int i = 0; i < P; i++) perm[i] = i;
        for (int i = P - 1; i > 0; i--) {
            int j = (int)warm_rng_below(&r, (uint32_t)(i + 1));
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        *perm_epoch = e;
    }
    return perm[g % P];
}

static warm_status save_ckpt(const rl_args *a, const warm_model *pol, const warm_rl_norm *nm, uint64_t rng_state,
                             int keep, warm_error *err) {
    char path[4096], sp[4096], norm[160], beta[64];
    snprintf(norm, sizeof norm, "%" PRId64 " %a %a", nm->n, nm->mean, nm->m2);
    snprintf(beta, sizeof beta, "%.17g", a->beta);
    const char *keys[] = {"warm.rl.norm", "warm.rl.beta", "warm.rl.rm"};
    const char *vals[] = {norm, beta, a->rm};
    snprintf(path, sizeof path, "%s/last.safetensors", a->out);
    snprintf(sp, sizeof sp, "%s/last.state.safetensors", a->out);
    warm_train_meta meta = {pol->step, rng_state, pol->step * a->batch, 0};
    warm_status st = warm_model_save(pol, path, WARM_DTYPE_F32, keys, vals, 3, err);
    if (!st) st = warm_train_state_save(pol, sp, &meta, err);
    if (!st && keep) {
        snprintf(path, sizeof path, "%s/step-%06" PRId64 ".safetensors", a->out, pol->step);
        st = warm_model_save(pol, path, WARM_DTYPE_F32, keys, vals, 3, err);
    }
    return st;
}

static warm_status write_log(const char *out, const cJSON *rows, warm_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/log.jsonl", out);
    warm_jsonl_writer *w = NULL;
    warm_status st = warm_jsonl_writer_open(&w, path, err);
    for (const cJSON *r = rows->child; !st && r; r = r->next) st = warm_jsonl_write(w, r, err);
    if (st) {
        if (w) warm_jsonl_writer_abort(w);
        return st;
    }
    return warm_jsonl_writer_commit(w, err);
}

/* Resume: weights, moments, RNG, reward statistics, and the log rows up to the saved step. */
static warm_status resume(const rl_args *a, warm_model *pol, warm_rl_norm *nm, warm_rng *rng, cJSON *rows,
                          warm_error *err) {
    char path[4096], sp[4096];
    snprintf(path, sizeof path, "%s/last.safetensors", a->out);
    snprintf(sp, sizeof sp, "%s/last.state.safetensors", a->out);
    warm_model_free(pol);
    warm_status st = warm_model_load(pol, path, 1, err);
    if (!st) st = warm_model_alloc_train(pol, err);
    warm_train_meta meta;
    if (!st) st = warm_train_state_load(pol, sp, &meta, err);
    if (st) return st;
    rng->s = meta.rng_state;
    warm_st_file f;
    st = warm_st_open(&f, path, err);
    if (st) return st;
    const char *v = warm_st_meta(&f, "warm.rl.norm");
    if (!v || sscanf(v, "%" SCNd64 " %la %la", &nm->n, &nm->mean, &nm->m2) != 3)
        st = warm_error_set(err, WARM_ERR_FORMAT, "%s: missing or bad warm.rl.norm metadata", path);
    warm_st_close(&f);
    if (st) return st;
    snprintf(path, sizeof path, "%s/log.jsonl", a->out);
    if (!warm_file_exists(path)) return WARM_OK;
    warm_jsonl_reader *r = NULL;
    st = warm_jsonl_open(&r, path, err);
    while (!st) {
        const cJSON *obj;
        st = warm_jsonl_next(r, &obj, err);
        if (st || !obj) break;
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(obj, "step");
        if (cJSON_IsNumber(s) && s->valuedouble <= (double)pol->step) cJSON_AddItemToArray(rows, cJSON_Duplicate(obj, 1));
    }
    warm_jsonl_close(r);
    return st;
}

static warm_status run(const rl_args *a, cli_rm_spec *spec, warm_error *err) {
    warm_model pol, ref;
    memset(&pol, 0, sizeof pol);
    memset(&ref, 0, sizeof ref);
    rm_ctx rc;
    memset(&rc, 0, sizeof rc);
    rc.lambda = (float)a->lambda;
    warm_task_world *world = NULL;
    warm_tokenizer *own_tok = NULL;
    const warm_tokenizer *tok = NULL;
    cli_prompts pr;
    memset(&pr, 0, sizeof pr);
    warm_rl *rl = NULL;
    int *perm = NULL;
    const int32_t **pp = NULL;
    int *plen = NULL;
    cJSON *rows = cJSON_CreateArray();
    warm_status st = rows ? WARM_OK : warm_error_set(err, WARM_ERR_NOMEM, "rl: out of memory");
    rc.spec = *spec; /* owned by rc from here */
    memset(spec, 0, sizeof *spec);
    if (!st && a->task) {
        st = warm_task_load(&world, a->task, err);
        if (!st) tok = warm_task_tokenizer(world);
    } else if (!st) {
        st = warm_tok_open(&own_tok, a->tokenizer, err);
        tok = own_tok;
    }
    if (!st) st = warm_model_load(&ref, a->policy, 1, err);
    if (!st) st = warm_model_load(&pol, a->policy, 1, err);
    if (!st && pol.cfg.vocab_size < warm_tok_vocab_size(tok))
        st = warm_error_set(err, WARM_ERR_MISMATCH, "%s: vocabulary of %d tokens, the tokenizer has %d", a->policy,
                            pol.cfg.vocab_size, warm_tok_vocab_size(tok));
    if (!st) st = warm_model_alloc_train(&pol, err);
    if (!st) st = cli_prompts_read(&pr, a->prompts, tok, pol.cfg.n_positions, a->max_new, a->limit, err);
    int Tmax = 0;
    for (int p = 0; !st && p < pr.P; p++) Tmax = pr.len[p] + a->max_new > Tmax ? pr.len[p] + a->max_new : Tmax;
    int n = a->batch * a->k;
    if (!st) st = rm_ctx_load(&rc, pol.cfg.vocab_size, n, a->max_rows, n * a->max_new, err);
    if (!st) st = warm_mkdir_p(a->out, err);
    warm_rng rng;
    warm_rng_seed(&rng, warm_hash64((uint64_t)a->seed, 0x524cULL));
    warm_rl_norm nm = {0, 0, 0};
    char path[4096];
    snprintf(path, sizeof path, "%s/last.state.safetensors", a->out);
    if (!st && warm_file_exists(path)) {
        st = resume(a, &pol, &nm, &rng, rows, err);
        if (!st && !a->quiet) fprintf(stderr, "rl: resuming %s at step %" PRId64 "\n", a->out, pol.step);
    }
    warm_rl_config c = {a->k, a->max_new, (float)a->beta, !a->no_norm};
    if (!st) st = warm_rl_init(&rl, &pol, &ref, &c, a->batch, Tmax, err);
    perm = malloc((size_t)(pr.P > 0 ? pr.P : 1) * sizeof *perm);
    pp = malloc((size_t)a->batch * sizeof *pp);
    plen = malloc((size_t)a->batch * sizeof *plen);
    if (!st && (!perm || !pp || !plen)) st = warm_error_set(err, WARM_ERR_NOMEM, "rl: out of memory");
    warm_adamw_config opt = warm_adamw_default((float)a->lr);
    opt.weight_decay = 0.0f;
    opt.grad_clip = (float)a->grad_clip;
    opt.warmup_steps = a->warmup;
    opt.total_steps = a->steps;
    int64_t perm_epoch = -1;
    int32_t eos = tok ? warm_tok_eos(tok) : 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!st && pol.step < a->steps) {
        for (int j = 0; j < a->batch; j++) {
            int p = prompt_at(perm, pr.P, &perm_epoch, (uint64_t)a->seed, pol.step * a->batch + j);
            pp[j] = pr.ids.v + pr.off[p];
            plen[j] = pr.len[p];
        }
        warm_rl_stats s;
        st = warm_rl_step(rl, pp, plen, a->batch, rm_reward, &rc, world ? gold_reward : NULL, world, &opt, eos, &rng,
                          &nm, &s, err);
        if (st) break;
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        cJSON *row = cJSON_CreateObject();
        if (!row) { st = warm_error_set(err, WARM_ERR_NOMEM, "rl: out of memory"); break; }
        cJSON_AddNumberToObject(row, "step", (double)pol.step);
        cJSON_AddNumberToObject(row, "reward", s.reward);
        cJSON_AddNumberToObject(row, "kl", s.kl);
        cJSON_AddNumberToObject(row, "objective", s.objective);
        if (world) cJSON_AddNumberToObject(row, "gold", s.gold);
        cJSON_AddNumberToObject(row, "loss", s.loss);
        cJSON_AddNumberToObject(row, "grad_norm", s.grad_norm);
        cJSON_AddNumberToObject(row, "resp_len", s.resp_len);
        cJSON_AddNumberToObject(row, "lr", s.lr);
        cJSON_AddItemToArray(rows, row);
        if (!a->quiet) {
            fprintf(stderr, "rl step %" PRId64 "/%d  reward %.4f  kl %.4f  objective %.4f", pol.step, a->steps,
                    s.reward, s.kl, s.objective);
            if (world) fprintf(stderr, "  gold %.4f", s.gold);
            fprintf(stderr, "  len %.1f  %.2f s (sample %.2f, ref %.2f, rm %.2f, update %.2f)\n", s.resp_len, secs,
                    s.t_sample, s.t_ref, s.t_reward, s.t_update);
        }
        int at_end = pol.step == a->steps, keep = pol.step % a->save_every == 0;
        if (keep || at_end) st = save_ckpt(a, &pol, &nm, rng.s, keep, err);
        if (!st && (keep || at_end)) st = write_log(a->out, rows, err);
    }
    if (!st) {
        snprintf(path, sizeof path, "%s/final.safetensors", a->out);
        st = warm_model_save(&pol, path, WARM_DTYPE_F32, NULL, NULL, 0, err);
    }
    warm_rl_free(rl);
    free(perm);
    free(pp);
    free(plen);
    cJSON_Delete(rows);
    cli_prompts_free(&pr);
    rm_ctx_free(&rc);
    warm_model_free(&pol);
    warm_model_free(&ref);
    warm_task_free(world);
    warm_tok_free(own_tok);
    return st;
}

int cli_cmd_rl(int argc, char **argv) {
    rl_args a;
    memset(&a, 0, sizeof a);
    warm_opt opts[] = {
        {.name = "policy", .kind = WARM_OPT_STRING, .dest = &a.policy, .metavar = "CKPT", .required = 1,
         .help = "the SFT policy: the RL start and the frozen KL reference"},
        {.name = "rm", .kind = WARM_OPT_STRING, .dest = &a.rm, .metavar = "RM[,RM...][:ens=K]", .required = 1,
         .help = "proxy reward: one model or merge, or several (their prediction ensemble, K = mean|min|mean-std)"},
        {.name = "prompts", .kind = WARM_OPT_STRING, .dest = &a.prompts, .metavar = "JSONL", .required = 1,
         .help = "prompts (\"prompt\" text, optional \"id\")"},
        {.name = "kl", .kind = WARM_OPT_DOUBLE, .dest = &a.beta, .min = 0, .max = 1e6, .required = 1,
         .metavar = "BETA", .help = "KL coefficient beta in r - beta * KL(pi || pi_SFT)"},
        {.name = "out", .short_name = 'o', .kind = WARM_OPT_STRING, .dest = &a.out, .metavar = "DIR", .required = 1,
         .help = "run directory (checkpoints, log.jsonl); an existing run resumes"},
        {.name = "task", .kind = WARM_OPT_STRING, .dest = &a.task, .metavar = "DIR",
         .help = "embedded task: its tokenizer, and the gold (control) reward in the progress line and log"},
        CLI_OPT_TOKENIZER(&a.tokenizer, 0, "when there is no --task"),
        {.name = "steps", .kind = WARM_OPT_INT, .dest = &a.steps, .min = 1, .max = 1 << 30, .def = "100",
         .help = "optimiser steps in total"},
        {.name = "batch", .kind = WARM_OPT_INT, .dest = &a.batch, .min = 1, .max = 4096, .def = "8",
         .help = "prompts per step"},
        {.name = "k", .kind = WARM_OPT_INT, .dest = &a.k, .min = 2, .max = 1024, .def = "4",
         .help = "responses per prompt (leave-one-out baseline)"},
        {.name = "max-new", .kind = WARM_OPT_INT, .dest = &a.max_new, .min = 1, .max = 65536, .def = "32",
         .help = "tokens per response at most"},
        {.name = "lr", .kind = WARM_OPT_DOUBLE, .dest = &a.lr, .min = 0, .max = 10, .def = "1e-5",
         .help = "AdamW learning rate (no weight decay)"},
        {.name = "warmup", .kind = WARM_OPT_INT, .dest = &a.warmup, .min = 0, .max = 1 << 30, .def = "0",
         .help = "linear learning-rate warm-up steps"},
        {.name = "grad-clip", .kind = WARM_OPT_DOUBLE, .dest = &a.grad_clip, .min = 0, .max = 1e6, .def = "1",
         .help = "global gradient-norm clip (0: off)"},
        {.name = "save-every", .kind = WARM_OPT_INT, .dest = &a.save_every, .min = 1, .max = 1 << 30, .def = "50",
         .help = "checkpoint (step-N.safetensors, last.*) every N steps"},
        {.name = "seed", .kind = WARM_OPT_INT64, .dest = &a.seed, .min = 0, .max = 9e18, .def = "1",
         .help = "prompt order and sampling"},
        {.name = "no-norm", .kind = WARM_OPT_FLAG, .dest = &a.no_norm,
         .help = "raw RM reward (default: (r - running mean) / running std)"},
        {.name = "lambda", .kind = WARM_OPT_DOUBLE, .dest = &a.lambda, .min = 0, .max = 1000, .def = "1",
         .help = "lambda of ens=mean-std"},
        {.name = "limit", .kind = WARM_OPT_INT, .dest = &a.limit, .min = 0, .max = 1 << 30, .def = "0",
         .help = "use the first N prompts (0: all)"},
        {.name = "max-rows", .kind = WARM_OPT_INT, .dest = &a.max_rows, .min = 0, .max = 1 << 24, .def = "0",
         .help = "scorer rows per forward (0: default)"},
        {.name = "quiet", .short_name = 'q', .kind = WARM_OPT_FLAG, .dest = &a.quiet, .help = "no progress lines"},
    };
    warm_opts_cmd cmd = {
        .prog = "warm", .name = "rl",
        .desc = "KL-regularised RL of a GPT-2 policy: REINFORCE with a leave-one-out baseline over k responses per "
                "prompt, return = normalised RM reward - beta * sum of per-token log(pi / pi_SFT), AdamW "
                "(docs/rl.md). Prints reward, KL and (with --task) the gold reward per step.",
        .opts = opts, .nopts = CLI_NOPTS(opts),
        .epilog = "example: warm rl --task task --policy sft/final.safetensors --rm warm.safetensors \\\n"
                  "           --prompts task/prompts_train.jsonl --kl 0.05 --steps 200 -o rl-warm",
    };
    warm_opts_result res;
    int rc = cli_parse(&cmd, argc, argv, &res);
    if (rc != CLI_PARSE_OK) return cli_parse_exit(rc);
    warm_error err = {0};
    cli_rm_spec spec;
    if (!cli_rm_spec_parse("rl", "--rm", a.rm, a.rm, &spec)) {
        warm_opts_free(&cmd, &res);
        return CLI_EXIT_USAGE;
    }
    warm_status st;
    if (!a.task && !a.tokenizer) st = warm_error_set(&err, WARM_ERR_ARG, "give --task DIR or --tokenizer gpt2|FILE|DIR");
    else st = run(&a, &spec, &err);
    cli_rm_spec_free(&spec);
    warm_opts_free(&cmd, &res);
    return st == WARM_OK ? CLI_EXIT_OK : cli_fail("rl", &err);
}

/* ---- warm rl-eval --------------------------------------------------------------------------------------- */

typedef struct {
    const char *task, *sft, *rm, *prompts, *out, *samples, *json;
    int k, max_new, limit, max_rows;
    double lambda;
    int64_t seed;
} rle_args;

/* k samples per prompt from model m (prompt p's RNG seeded from (seed, p): the same streams for every policy),
 * their mean proxy reward, KL to sft and gold; gold (P*k) kept for the win rates. */
/* One --samples row: the policy, the prompt and response ids, and what rl-eval computed for the sample. */
static warm_status rle_sample_row(warm_jsonl_writer *w, const char *policy, const cli_prompts *pr, int p,
                                  const int32_t *resp, int len, int32_t eos, double proxy, double kl, double gold,
                                  warm_error *err) {
    cJSON *row = cJSON_CreateObject();
    if (!row) return warm_error_set(err, WARM_ERR_NOMEM, "rl-eval: out of memory");
    cJSON_AddStringToObject(row, "policy", policy);
    if (pr->id[p]) cJSON_AddStringToObject(row, "id", pr->id[p]);
    cJSON_AddNumberToObject(row, "prompt_index", p);
    cJSON_AddItemToObject(row, "prompt_ids", cJSON_CreateIntArray(pr->ids.v + pr->off[p], pr->len[p]));
    cJSON_AddItemToObject(row, "response_ids", cJSON_CreateIntArray(resp, len));
    cJSON_AddBoolToObject(row, "eos", len > 0 && resp[len - 1] == eos);
    cJSON_AddNumberToObject(row, "proxy", proxy);
    cJSON_AddNumberToObject(row, "kl", kl);
    cJSON_AddNumberToObject(row, "gold", gold);
    warm_status st = warm_jsonl_write(w, row, err);
    cJSON_Delete(row);
    return st;
}

static warm_status rle_policy(const rle_args *a, const warm_model *m, const warm_model *sft, const cli_prompts *pr,
                              rm_ctx *rc, warm_task_world *world, int32_t eos, float *gold, double out[3],
                              const char *name, warm_jsonl_writer *w, warm_error *err) {
    int k = a->k, M = a->max_new;
    int32_t *resp = malloc((size_t)k * M * sizeof *resp);
    float *lp = malloc((size_t)k * M * sizeof *lp), *lq = malloc((size_t)k * M * sizeof *lq);
    float *r = malloc((size_t)k * sizeof *r);
    int *lens = malloc((size_t)k * sizeof *lens);
    warm_status st = resp && lp && lq && r && lens ? WARM_OK : warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
    warm_sampler smp = {1.0f, 0, 1.0f};
    out[0] = out[1] = out[2] = 0.0;
    for (int p = 0; !st && p < pr->P; p++) {
        const int32_t *x = pr->ids.v + pr->off[p];
        warm_rng rng;
        warm_rng_seed(&rng, warm_hash64((uint64_t)a->seed, (uint64_t)p));
        st = warm_generate(m, x, pr->len[p], k, M, &smp, eos, &rng, resp, lp, lens, err);
        if (!st) st = warm_decode_logprobs(sft, x, pr->len[p], resp, M, lens, k, lq, err);
        if (!st) st = rm_reward(rc, x, pr->len[p], resp, M, lens, k, r, err);
        if (!st) st = gold_reward(world, x, pr->len[p], resp, M, lens, k, gold + (size_t)p * k, err);
        for (int i = 0; !st && i < k; i++) {
            double kl = 0.0;
            for (int t = 0; t < lens[i]; t++) kl += (double)lp[(size_t)i * M + t] - (double)lq[(size_t)i * M + t];
            out[0] += (double)r[i];
            out[1] += kl;
            out[2] += (double)gold[(size_t)p * k + i];
            if (w)
                st = rle_sample_row(w, name, pr, p, resp + (size_t)i * M, lens[i], eos, (double)r[i], kl,
                                    (double)gold[(size_t)p * k + i], err);
        }
        if (st) warm_error_prefix(err, "prompt %d", p + 1);
    }
    for (int j = 0; j < 3; j++) out[j] /= (double)pr->P * k;
    free(resp); free(lp); free(lq); free(r); free(lens);
    return st;
}

static double rle_winrate(const float *ga, const float *gb, int P, int k) {
    double w = 0.0;
    for (int p = 0; p < P; p++) w += warm_rl_winrate(ga + (size_t)p * k, k, gb + (size_t)p * k, k);
    return w / P;
}

/* Mean over prompts of v[p] and its standard error sd / sqrt(P) (0 when P < 2). */
static void rle_mean_se(const double *v, int P, double *mean, double *se) {
    double m = 0.0, ss = 0.0;
    for (int p = 0; p < P; p++) m += v[p];
    m /= P > 0 ? P : 1;
    for (int p = 0; p < P; p++) ss += (v[p] - m) * (v[p] - m);
    *mean = m;
    *se = P > 1 ? sqrt(ss / (P - 1) / P) : 0.0;
}

/* --json: every row of the table with the standard errors over prompts of gold and both win rates. */
static warm_status rle_json(const rle_args *a, char **pol, int n_pol, int P, double (*m)[3], float **gold,
                            warm_error *err) {
    double *v = malloc((size_t)(P > 0 ? P : 1) * sizeof *v);
    cJSON *root = cJSON_CreateObject(), *arr = root ? cJSON_AddArrayToObject(root, "policies") : NULL;
    warm_status st = v && arr ? WARM_OK : warm_error_set(err, WARM_ERR_NOMEM, "rl-eval: out of memory");
    if (!st) {
        cJSON_AddStringToObject(root, "format", "warm-rl-eval/1");
        cJSON_AddStringToObject(root, "sft", a->sft);
        cJSON_AddStringToObject(root, "rm", a->rm);
        cJSON_AddNumberToObject(root, "prompts", P);
        cJSON_AddNumberToObject(root, "k", a->k);
        cJSON_AddNumberToObject(root, "seed", (double)a->seed);
    }
    int first = n_pol > 0 ? 1 : 0;
    for (int q = 0; !st && q <= n_pol; q++) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            st = warm_error_set(err, WARM_ERR_NOMEM, "rl-eval: out of memory");
            break;
        }
        double mean, se;
        cJSON_AddStringToObject(o, "policy", q == 0 ? a->sft : pol[q - 1]);
        cJSON_AddNumberToObject(o, "proxy", m[q][0]);
        cJSON_AddNumberToObject(o, "kl", m[q][1]);
        for (int p = 0; p < P; p++) {
            double g = 0.0;
            for (int i = 0; i < a->k; i++) g += (double)gold[q][(size_t)p * a->k + i];
            v[p] = g / a->k;
        }
        rle_mean_se(v, P, &mean, &se);
        cJSON_AddNumberToObject(o, "gold", m[q][2]);
        cJSON_AddNumberToObject(o, "gold_se", se);
        /* Paired with the SFT row (same prompts, same random streams): the standard error of the per-prompt
         * difference, far below gold_se when prompts differ more than policies. */
        for (int p = 0; p < P; p++) {
            double g = 0.0;
            for (int i = 0; i < a->k; i++) g += (double)gold[0][(size_t)p * a->k + i];
            v[p] -= g / a->k;
        }
        rle_mean_se(v, P, &mean, &se);
        cJSON_AddNumberToObject(o, "gold_vs_sft_se", se);
        for (int t = 0; t < 2; t++) {
            const float *ref = gold[t == 0 ? 0 : first];
            for (int p = 0; p < P; p++)
                v[p] = warm_rl_winrate(gold[q] + (size_t)p * a->k, a->k, ref + (size_t)p * a->k, a->k);
            rle_mean_se(v, P, &mean, &se);
            cJSON_AddNumberToObject(o, t == 0 ? "winrate_vs_sft" : "winrate_vs_first", mean);
            cJSON_AddNumberToObject(o, t == 0 ? "winrate_vs_sft_se" : "winrate_vs_first_se", se);
        }
    }
    if (!st) st = warm_json_write(a->json, root, err);
    cJSON_Delete(root);
    free(v);
    return st;
}

static warm_status rl_eval(const rle_args *a, cli_rm_spec *spec, char **pol, int n_pol, warm_error *err) {
    warm_model sft;
    memset(&sft, 0, sizeof sft);
    rm_ctx rc;
    memset(&rc, 0, sizeof rc);
    rc.spec = *spec;
    memset(spec, 0, sizeof *spec);
    rc.lambda = (float)a->lambda;
    cli_prompts pr;
    memset(&pr, 0, sizeof pr);
    warm_task_world *world = NULL;
    float **gold = calloc((size_t)n_pol + 1, sizeof *gold);
    double (*m)[3] = calloc((size_t)n_pol + 1, sizeof *m);
    char *csv = NULL;
    warm_jsonl_writer *w = NULL;
    warm_status st = gold && m ? WARM_OK : warm_error_set(err, WARM_ERR_NOMEM, "rl-eval: out of memory");
    if (!st && a->samples) st = warm_jsonl_writer_open(&w, a->samples, err);
    if (!st) st = warm_task_load(&world, a->task, err);
    if (!st) st = warm_model_load(&sft, a->sft, 1, err);
    if (!st) st = cli_prompts_read(&pr, a->prompts, warm_task_tokenizer(world), sft.cfg.n_positions, a->max_new,
                                   a->limit, err);
    if (!st) st = rm_ctx_load(&rc, sft.cfg.vocab_size, a->k, a->max_rows, a->k * a->max_new, err);
    int32_t eos = world ? warm_tok_eos(warm_task_tokenizer(world)) : 0;
    for (int q = 0; !st && q <= n_pol; q++) {
        warm_model pm;
        memset(&pm, 0, sizeof pm);
        if (!(gold[q] = malloc((size_t)pr.P * a->k * sizeof(float)))) {
            st = warm_error_set(err, WARM_ERR_NOMEM, "rl-eval: out of memory");
            break;
        }
        st = q == 0 ? WARM_OK : warm_model_load(&pm, pol[q - 1], 1, err);
        if (!st && q > 0 && pm.cfg.vocab_size != sft.cfg.vocab_size)
            st = warm_error_set(err, WARM_ERR_MISMATCH, "%s: vocabulary %d, the SFT policy %d", pol[q - 1],
                                pm.cfg.vocab_size, sft.cfg.vocab_size);
        if (!st)
            st = rle_policy(a, q == 0 ? &sft : &pm, &sft, &pr, &rc, world, eos, gold[q], m[q], q == 0 ? a->sft : pol[q - 1],
                            w, err);
        warm_model_free(&pm);
    }
    size_t cap = 256 + (size_t)(n_pol + 1) * 4400, len = 0;
    if (!st && !(csv = malloc(cap))) st = warm_error_set(err, WARM_ERR_NOMEM, "rl-eval: out of memory");
    if (!st) {
        len += (size_t)snprintf(csv + len, cap - len, "policy,proxy,kl,gold,winrate_vs_sft,winrate_vs_first\n");
        for (int q = 0; q <= n_pol; q++)
            len += (size_t)snprintf(csv + len, cap - len, "%s,%.17g,%.17g,%.17g,%.17g,%.17g\n",
                                    q == 0 ? a->sft : pol[q - 1], m[q][0], m[q][1], m[q][2],
                                    rle_winrate(gold[q], gold[0], pr.P, a->k),
                                    rle_winrate(gold[q], gold[n_pol > 0 ? 1 : 0], pr.P, a->k));
        fputs(csv, stdout);
        if (a->json) st = rle_json(a, pol, n_pol, pr.P, m, gold, err);
        if (!st) st = warm_text_write(a->out, csv, err);
    }
    if (w) {
        if (!st) st = warm_jsonl_writer_commit(w, err);
        else warm_jsonl_writer_abort(w);
    }
    free(csv);
    for (int q = 0; gold && q <= n_pol; q++) free(gold[q]);
    free(gold);
    free(m);
    cli_prompts_free(&pr);
    rm_ctx_free(&rc);
    warm_model_free(&sft);
    warm_task_free(world);
    return st;
}

int cli_cmd_rl_eval(int argc, char **argv) {
    rle_args a;
    memset(&a, 0, sizeof a);
    warm_opt opts[] = {
        {.name = "task", .kind = WARM_OPT_STRING, .dest = &a.task, .metavar = "DIR", .required = 1,
         .help = "embedded task: tokenizer and gold (control) reward"},
        {.name = "sft", .kind = WARM_OPT_STRING, .dest = &a.sft, .metavar = "CKPT", .required = 1,
         .help = "the SFT policy: KL reference and the first row"},
        {.name = "rm", .kind = WARM_OPT_STRING, .dest = &a.rm, .metavar = "RM[,RM...][:ens=K]", .required = 1,
         .help = "proxy reward, as in warm rl"},
        {.name = "prompts", .kind = WARM_OPT_STRING, .dest = &a.prompts, .metavar = "JSONL", .required = 1,
         .help = "held-out prompts"},
        {.name = "out", .short_name = 'o', .kind = WARM_OPT_STRING, .dest = &a.out, .metavar = "CSV", .required = 1,
         .help = "output table (also printed)"},
        {.name = "k", .kind = WARM_OPT_INT, .dest = &a.k, .min = 1, .max = 4096, .def = "8",
         .help = "samples per prompt and policy"},
        {.name = "max-new", .kind = WARM_OPT_INT, .dest = &a.max_new, .min = 1, .max = 65536, .def = "32",
         .help = "tokens per response at most"},
        {.name = "limit", .kind = WARM_OPT_INT, .dest = &a.limit, .min = 0, .max = 1 << 30, .def = "0",
         .help = "use the first N prompts (0: all)"},
        {.name = "seed", .kind = WARM_OPT_INT64, .dest = &a.seed, .min = 0, .max = 9e18, .def = "1",
         .help = "sampling (the same streams for every policy)"},
        {.name = "lambda", .kind = WARM_OPT_DOUBLE, .dest = &a.lambda, .min = 0, .max = 1000, .def = "1",
         .help = "lambda of ens=mean-std"},
        {.name = "max-rows", .kind = WARM_OPT_INT, .dest = &a.max_rows, .min = 0, .max = 1 << 24, .def = "0",
         .help = "scorer rows per forward (0: default)"},
        {.name = "samples", .kind = WARM_OPT_STRING, .dest = &a.samples, .metavar = "JSONL",
         .help = "also write every sample: policy, id, prompt_ids, response_ids, eos, proxy, kl, gold\n"
                 "(warm task gold and warm score read it back)"},
        {.name = "json", .kind = WARM_OPT_STRING, .dest = &a.json, .metavar = "FILE",
         .help = "also write the table as JSON, with the standard errors over prompts of gold, of its\n"
                 "difference to the SFT row (paired) and of the win rates (gold_se, gold_vs_sft_se,\n"
                 "winrate_vs_sft_se, winrate_vs_first_se; warm demo and warm report read it)"},
    };
    warm_opts_cmd cmd = {
        .prog = "warm", .name = "rl-eval", .args = "CKPT...", .min_args = 1, .max_args = WARM_OPTS_UNLIMITED,
        .desc = "Evaluates RL policies (e.g. the step-N checkpoints of warm rl runs) on held-out prompts: k samples "
                "per prompt at temperature 1, mean proxy reward, KL to the SFT policy (sum of per-token "
                "log-ratios), mean gold reward, and oracle win rates by the gold reward (a random sample of the "
                "row's policy vs one of the SFT policy / of the first CKPT, exact over the k x k pairs per "
                "prompt, ties 1/2). The SFT policy is the first row.",
        .opts = opts, .nopts = CLI_NOPTS(opts),
        .epilog = "example: warm rl-eval --task task --sft sft/final.safetensors --rm warm.safetensors \\\n"
                  "           --prompts task/prompts_val.jsonl rl-warm/step-000100.safetensors \\\n"
                  "           rl-best/step-000100.safetensors -o eval.csv",
    };
    warm_opts_result res;
    int rc = cli_parse(&cmd, argc, argv, &res);
    if (rc != CLI_PARSE_OK) return cli_parse_exit(rc);
    cli_rm_spec spec;
    if (!cli_rm_spec_parse("rl-eval", "--rm", a.rm, a.rm, &spec)) {
        warm_opts_free(&cmd, &res);
        return CLI_EXIT_USAGE;
    }
    warm_error err = {0};
    warm_status st = rl_eval(&a, &spec, res.args, res.nargs, &err);
    cli_rm_spec_free(&spec);
    warm_opts_free(&cmd, &res);
    return st == WARM_OK ? CLI_EXIT_OK : cli_fail("rl-eval", &err);
}
