/*
 * cmd_bon.c — `warm bon`: best-of-n curves of several selectors on ONE pool of SFT samples (docs/bon.md).
 *
 * For each prompt, K responses are sampled once from the policy (warm_generate: the prompt's KV prefix is
 * shared by the K samples; the prompt's RNG stream is seeded from (seed, prompt index)). Each response gets
 * a control reward: the task's gold reward (warm_task_gold_ids) with --task, or a held-out reward model or
 * ensemble (--control; required on real text, where there is no gold). Every distinct reward model named by a
 * selector or by --control scores the whole pool once (warm_scorer_groups: one group per prompt, prefix
 * computed once); a selector (or a control) with several models is their prediction ensemble
 * (warm_eval_ensemble). warm_bon_evaluate then gives, for every selector and every n of the doubling ladder 1,
 * 2, 4, ..., n_max, the exact expectations over random n-subsets of the pool: proxy and control reward of the
 * pick, win rates against a random SFT sample and against the reference selector's pick from the same subset.
 *
 * Text: with --task, the task's word tokenizer and <eos>; without it, --tokenizer (gpt2 | FILE | DIR) and its
 * eos (<|endoftext|> for GPT-2). Giving both is a usage error: a policy speaks one vocabulary.
 *
 * --selector may be given several times (the option parser keeps the last value, so the values are collected
 * from argv here, before parsing).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "warm/bon.h"
#include "warm/data.h"
#include "warm/eval.h"
#include "warm/model.h"
#include "warm/progress.h"
#include "warm/task.h"
#include "warm/tokenizer.h"
#include "warm/train.h"

#define BON_MAX_SEL 64
#define BON_MAX_MODELS 64
#define BON_MAX_MEMBERS CLI_RM_MAX_MEMBERS

typedef struct {
    char name[64];
    int n_members;
    int member[BON_MAX_MEMBERS]; /* indices into the distinct model paths */
    int ens;                     /* warm_ens_kind (several members) */
} bon_selector;

typedef struct {
    const char *task, *tokenizer, *control, *policy, *prompts, *out, *ref, *selector_last;
    int limit, pool, n_max, max_new, top_k, max_rows, quiet, save_pool;
    double temperature, top_p, lambda;
    int64_t seed;
    /* from the --selector values */
    int n_sel;
    bon_selector sel[BON_MAX_SEL];
    /* from --control (ctl.n_members == 0: the task's gold reward) */
    bon_selector ctl;
    int n_models;
    char *models[BON_MAX_MODELS]; /* malloc'd paths */
} bon_args;

static void args_free(bon_args *a) {
    for (int k = 0; k < a->n_models; k++) free(a->models[k]);
    a->n_models = 0;
}

static int model_index(bon_args *a, const char *path, size_t len) {
    for (int k = 0; k < a->n_models; k++)
        if (strlen(a->models[k]) == len && strncmp(a->models[k], path, len) == 0) return k;
    if (a->n_models == BON_MAX_MODELS) return -1;
    char *p = malloc(len + 1);
    if (!p) return -2;
    memcpy(p, path, len);
    p[len] = 0;
    a->models[a->n_models] = p;
    return a->n_models++;
}

/* Parses list = "RM[,RM...][:ens=mean|min|mean-std]" of option opt into s (members, ens); every path must be
 * readable now, so that a typo fails before the pool is sampled. Usage errors go to stderr. */
static int parse_models(bon_args *a, const char *opt, const char *spec, const char *list, bon_selector *s) {
    cli_rm_spec rs;
    if (!cli_rm_spec_parse("bon", opt, spec, list, &rs)) return 0;
    s->ens = rs.ens;
    s->n_members = 0;
    int ok = 1;
    for (int j = 0; ok && j < rs.n; j++) {
        if (access(rs.path[j], R_OK) != 0) {
            cli_error("bon", "%s: %s: %s", opt, rs.path[j], strerror(errno));
            ok = 0;
            break;
        }
        int k = model_index(a, rs.path[j], strlen(rs.path[j]));
        if (k == -1) cli_error("bon", "at most %d distinct reward models", BON_MAX_MODELS);
        if (k == -2) cli_error("bon", "out of memory");
        if (k < 0) ok = 0;
        else s->member[s->n_members++] = k;
    }
    cli_rm_spec_free(&rs);
    return ok;
}

/* Parses "NAME=RM[,RM...][:ens=mean|min|mean-std]" into a new selector. Usage errors go to stderr. */
static int parse_selector(bon_args *a, const char *spec) {
    if (a->n_sel == BON_MAX_SEL) {
        cli_error("bon", "at most %d selectors", BON_MAX_SEL);
        return 0;
    }
    bon_selector *s = &a->sel[a->n_sel];
    memset(s, 0, sizeof *s);
    s->ens = WARM_ENS_MEAN;
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof s->name) {
        cli_error("bon", "--selector %s: expected NAME=RM[,RM...][:ens=mean|min|mean-std] (NAME of 1-63 chars)", spec);
        return 0;
    }
    memcpy(s->name, spec, (size_t)(eq - spec));
    s->name[eq - spec] = 0;
    if (strpbrk(s->name, ",\"\n\r")) {
        cli_error("bon", "--selector %s: the name may not contain ',' or '\"'", spec);
        return 0;
    }
    for (int i = 0; i < a->n_sel; i++)
        if (strcmp(a->sel[i].name, s->name) == 0) {
            cli_error("bon", "--selector %s: the name %s is used twice", spec, s->name);
            return 0;
        }
    if (!parse_models(a, "--selector", spec, eq + 1, s)) return 0;
    a->n_sel++;
    return 1;
}

/* Collects every --selector value of argv (before "--"). */
static int collect_selectors(bon_args *a, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        const char *v = NULL;
        if (strcmp(argv[i], "--selector") == 0 && i + 1 < argc) v = argv[++i];
        else if (strncmp(argv[i], "--selector=", 11) == 0) v = argv[i] + 11;
        if (v && strncmp(v, "--", 2) != 0 && !parse_selector(a, v)) return 0;
    }
    return 1;
}

/* ---- the run -------------------------------------------------------------------------------------------- */

typedef struct {
    warm_task_world *world;     /* --task, else NULL */
    warm_tokenizer *own_tok;    /* --tokenizer, else NULL */
    const warm_tokenizer *tok;  /* the task's or own_tok */
    int K, max_new;
    cli_prompts pr;       /* prompt tokens, offsets, lengths, ids */
    int32_t *resp;        /* packed responses of all prompts, prompt-major, sample-minor */
    int64_t *r_off;       /* (P) offset of each prompt's first response in resp */
    int *r_len;           /* (P*K) */
    float *gold;          /* (P*K) the task's gold reward; NULL without --task */
    float *control;       /* (P*K) the control reward: gold, or the --control model(s) */
    float **rm;           /* (n_models) rewards (P*K) */
    float **proxy;        /* (n_sel) */
    int n_models, n_sel;
} bon_state;

static void state_free(bon_state *s) {
    warm_task_free(s->world);
    warm_tok_free(s->own_tok);
    cli_prompts_free(&s->pr);
    if (s->control != s->gold) free(s->control);
    free(s->resp); free(s->r_off); free(s->r_len); free(s->gold);
    for (int k = 0; s->rm && k < s->n_models; k++) free(s->rm[k]);
    free(s->rm);
    for (int k = 0; s->proxy && k < s->n_sel; k++) free(s->proxy[k]);
    free(s->proxy);
    memset(s, 0, sizeof *s);
}

/* Samples the pool (K responses per prompt) and, with a task, computes their gold rewards. */
static warm_status sample_pool(const bon_args *a, bon_state *s, warm_error *err) {
    warm_model pol;
    memset(&pol, 0, sizeof pol);
    warm_status st = warm_model_load(&pol, a->policy, 1, err);
    int V = warm_tok_vocab_size(s->tok);
    if (!st && pol.cfg.vocab_size != V)
        st = warm_error_set(err, WARM_ERR_MISMATCH, "%s: vocabulary of %d tokens, the %s has %d", a->policy,
                            pol.cfg.vocab_size, s->world ? "task" : "tokenizer", V);
    if (!st) st = cli_prompts_read(&s->pr, a->prompts, s->tok, pol.cfg.n_positions, s->max_new, a->limit, err);
    int K = s->K, M = s->max_new;
    int32_t *buf = NULL;
    int *lens = NULL;
    if (!st) {
        buf = malloc((size_t)K * M * sizeof *buf);
        lens = malloc((size_t)K * sizeof *lens);
        s->resp = malloc((size_t)s->pr.P * K * M * sizeof *s->resp);
        s->r_off = malloc((size_t)s->pr.P * sizeof *s->r_off);
        s->r_len = malloc((size_t)s->pr.P * K * sizeof *s->r_len);
        if (s->world) s->gold = malloc((size_t)s->pr.P * K * sizeof *s->gold);
        if (!buf || !lens || !s->resp || !s->r_off || !s->r_len || (s->world && !s->gold))
            st = warm_error_set(err, WARM_ERR_NOMEM, "bon: out of memory for a pool of %d x %d responses", s->pr.P, K);
    }
    warm_sampler smp = {(float)a->temperature, a->top_k, (float)a->top_p};
    int32_t eos = warm_tok_eos(s->tok);
    warm_progress prog;
    warm_progress_init(&prog, a->quiet ? NULL : stderr, "bon sample", st ? 0 : s->pr.P);
    int64_t off = 0;
    for (int p = 0; !st && p < s->pr.P; p++) {
        const int32_t *prompt = s->pr.ids.v + s->pr.off[p];
        warm_rng rng;
        warm_rng_seed(&rng, warm_hash64((uint64_t)a->seed, (uint64_t)p));
        st = warm_generate(&pol, prompt, s->pr.len[p], K, M, &smp, eos, &rng, buf, NULL, lens, err);
        if (st) { warm_error_prefix(err, "prompt %d", p + 1); break; }
        s->r_off[p] = off;
        for (int k = 0; k < K; k++) {
            const int32_t *r = buf + (size_t)k * M;
            memcpy(s->resp + off, r, (size_t)lens[k] * sizeof *r);
            s->r_len[(size_t)p * K + k] = lens[k];
            if (s->world)
                s->gold[(size_t)p * K + k] =
                    (float)warm_task_gold_ids(s->world, prompt, s->pr.len[p], s->resp + off, lens[k], NULL);
            off += lens[k];
        }
        warm_progress_update(&prog, p + 1);
    }
    if (!st) warm_progress_finish(&prog);
    free(buf);
    free(lens);
    warm_model_free(&pol);
    return st;
}

/* The rewards (P*K) of sel: one model's, or the prediction ensemble of its models'. */
static warm_status combine(const bon_args *a, const bon_state *s, const bon_selector *sel, float **out,
                           warm_error *err) {
    int64_t NK = (int64_t)s->pr.P * s->K;
    *out = malloc((size_t)NK * sizeof(float));
    if (!*out) return warm_error_set(err, WARM_ERR_NOMEM, "bon: out of memory");
    const float *mem[BON_MAX_MEMBERS];
    for (int j = 0; j < sel->n_members; j++) mem[j] = s->rm[sel->member[j]];
    if (sel->n_members == 1) memcpy(*out, mem[0], (size_t)NK * sizeof(float));
    else warm_eval_ensemble(mem, sel->n_members, NK, (warm_ens_kind)sel->ens, (float)a->lambda, *out);
    return WARM_OK;
}

/* Scores the pool with every distinct reward model, then builds each selector's proxy rewards and the control
 * reward (the --control model(s), else the gold). */
static warm_status score_pool(const bon_args *a, bon_state *s, warm_error *err) {
    int64_t NK = (int64_t)s->pr.P * s->K;
    s->n_models = a->n_models;
    s->n_sel = a->n_sel;
    s->rm = calloc((size_t)a->n_models, sizeof *s->rm);
    s->proxy = calloc((size_t)a->n_sel, sizeof *s->proxy);
    warm_eval_group *g = malloc((size_t)s->pr.P * sizeof *g);
    if (!s->rm || !s->proxy || !g) {
        free(g);
        return warm_error_set(err, WARM_ERR_NOMEM, "bon: out of memory");
    }
    for (int p = 0; p < s->pr.P; p++) {
        g[p].prefix = s->pr.ids.v + s->pr.off[p];
        g[p].prefix_len = s->pr.len[p];
        g[p].n = s->K;
        g[p].conts = s->resp + s->r_off[p];
        g[p].lens = s->r_len + (size_t)p * s->K;
    }
    warm_status st = WARM_OK;
    warm_progress prog;
    warm_progress_init(&prog, a->quiet ? NULL : stderr, "bon score", (int64_t)a->n_models * NK);
    for (int k = 0; !st && k < a->n_models; k++) {
        warm_model m;
        memset(&m, 0, sizeof m);
        s->rm[k] = malloc((size_t)NK * sizeof(float));
        if (!s->rm[k]) { st = warm_error_set(err, WARM_ERR_NOMEM, "bon: out of memory"); break; }
        st = warm_model_load(&m, a->models[k], 0, err);
        if (!st && m.cfg.vocab_size < warm_tok_vocab_size(s->tok))
            st = warm_error_set(err, WARM_ERR_MISMATCH, "%s: vocabulary of %d tokens, the %s has %d", a->models[k],
                                m.cfg.vocab_size, s->world ? "task" : "tokenizer", warm_tok_vocab_size(s->tok));
        warm_eval_opts o = warm_eval_opts_default();
        o.max_rows = a->max_rows;
        o.progress = &prog;
        warm_scorer *sc = NULL;
        if (!st) {
            st = warm_scorer_init(&sc, &m, &o, err);
            if (!st) st = warm_scorer_groups(sc, g, s->pr.P, s->rm[k], err);
            if (st) warm_error_prefix(err, "%s", a->models[k]); /* load errors name the file already */
        }
        warm_scorer_free(sc);
        warm_model_free(&m);
    }
    if (!st) warm_progress_finish(&prog);
    free(g);
    for (int i = 0; !st && i < a->n_sel; i++) st = combine(a, s, &a->sel[i], &s->proxy[i], err);
    if (!st && a->ctl.n_members > 0) st = combine(a, s, &a->ctl, &s->control, err);
    else if (!st) s->control = s->gold;
    return st;
}

/* OUT/pool.jsonl: one row per pool response (prompt_index, id, sample, response_ids, gold (with --task),
 * control (with --control), proxy of every selector; rewards as the float values the estimator used). */
static warm_status write_pool(const bon_args *a, const bon_state *s, warm_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/pool.jsonl", a->out);
    warm_jsonl_writer *w = NULL;
    warm_status st = warm_jsonl_writer_open(&w, path, err);
    for (int p = 0; !st && p < s->pr.P; p++) {
        int64_t off = s->r_off[p];
        for (int k = 0; !st && k < s->K; k++) {
            size_t i = (size_t)p * s->K + k;
            cJSON *row = cJSON_CreateObject();
            if (!row) { st = warm_error_set(err, WARM_ERR_NOMEM, "bon: out of memory"); break; }
            cJSON_AddNumberToObject(row, "prompt_index", p);
            if (s->pr.id[p]) cJSON_AddStringToObject(row, "id", s->pr.id[p]);
            cJSON_AddNumberToObject(row, "sample", k);
            cJSON_AddItemToObject(row, "response_ids", cJSON_CreateIntArray(s->resp + off, s->r_len[i]));
            if (s->gold) cJSON_AddNumberToObject(row, "gold", (double)s->gold[i]);
            if (s->control != s->gold) cJSON_AddNumberToObject(row, "control", (double)s->control[i]);
            cJSON *px = cJSON_AddObjectToObject(row, "proxy");
            for (int j = 0; j < a->n_sel; j++) cJSON_AddNumberToObject(px, a->sel[j].name, (double)s->proxy[j][i]);
            st = warm_jsonl_write(w, row, err);
            cJSON_Delete(row);
            off += s->r_len[i];
        }
    }
    if (st) {
        if (w) warm_jsonl_writer_abort(w);
        return st;
    }
    return warm_jsonl_writer_commit(w, err);
}

static const char *const csv_header = "selector,n,kl,proxy_mean,control_mean,winrate_vs_sft,winrate_vs_ref";

static warm_status write_outputs(const bon_args *a, const bon_state *s, int ref, const warm_bon_point *pts,
                                 const int *ns, int n_ns, warm_error *err) {
    char path[4096];
    warm_status st = warm_mkdir_p(a->out, err);
    if (st) return st;
    /* CSV */
    size_t cap = 256 + (size_t)a->n_sel * n_ns * 256, len = 0;
    char *csv = malloc(cap);
    if (!csv) return warm_error_set(err, WARM_ERR_NOMEM, "bon: out of memory");
    len += (size_t)snprintf(csv + len, cap - len, "%s\n", csv_header);
    for (int i = 0; i < a->n_sel; i++)
        for (int j = 0; j < n_ns; j++) {
            const warm_bon_point *q = &pts[i * n_ns + j];
            len += (size_t)snprintf(csv + len, cap - len, "%s,%d,%.17g,%.17g,%.17g,%.17g,%.17g\n", a->sel[i].name,
                                    q->n, q->kl, q->proxy_mean, q->control_mean, q->win_sft, q->win_ref);
        }
    snprintf(path, sizeof path, "%s/bon.csv", a->out);
    st = warm_text_write(path, csv, err);
    free(csv);
    if (st) return st;
    /* JSON */
    double sft_mean = 0;
    for (int p = 0; p < s->pr.P; p++) {
        double m = 0;
        for (int k = 0; k < s->K; k++) m += (double)s->control[(size_t)p * s->K + k];
        sft_mean += m / s->K;
    }
    sft_mean /= s->pr.P;
    cJSON *root = cJSON_CreateObject();
    cJSON *cfg = cJSON_AddObjectToObject(root, "config");
    if (a->task) cJSON_AddStringToObject(cfg, "task", a->task);
    else cJSON_AddNullToObject(cfg, "task");
    if (a->tokenizer) cJSON_AddStringToObject(cfg, "tokenizer", a->tokenizer);
    else cJSON_AddNullToObject(cfg, "tokenizer");
    if (a->ctl.n_members == 0) {
        cJSON_AddStringToObject(cfg, "control", "gold");
    } else {
        cJSON_AddStringToObject(cfg, "control", "rm");
        cJSON *cm = cJSON_AddArrayToObject(cfg, "control_models");
        for (int j = 0; j < a->ctl.n_members; j++)
            cJSON_AddItemToArray(cm, cJSON_CreateString(a->models[a->ctl.member[j]]));
        if (a->ctl.n_members > 1) cJSON_AddStringToObject(cfg, "control_ens", warm_ens_name((warm_ens_kind)a->ctl.ens));
        else cJSON_AddNullToObject(cfg, "control_ens");
    }
    cJSON_AddStringToObject(cfg, "policy", a->policy);
    cJSON_AddStringToObject(cfg, "prompts", a->prompts);
    cJSON_AddNumberToObject(cfg, "n_prompts", s->pr.P);
    cJSON_AddNumberToObject(cfg, "pool", s->K);
    cJSON_AddNumberToObject(cfg, "n_max", a->n_max);
    cJSON_AddNumberToObject(cfg, "max_new", s->max_new);
    cJSON_AddNumberToObject(cfg, "temperature", a->temperature);
    cJSON_AddNumberToObject(cfg, "top_k", a->top_k);
    cJSON_AddNumberToObject(cfg, "top_p", a->top_p);
    cJSON_AddNumberToObject(cfg, "seed", (double)a->seed);
    cJSON_AddNumberToObject(cfg, "lambda", a->lambda);
    cJSON_AddStringToObject(cfg, "estimator", "exact order statistics over uniform n-subsets of the pool");
    cJSON_AddStringToObject(cfg, "tie_rule", "equal proxy rewards: the lowest pool index wins");
    cJSON_AddStringToObject(cfg, "winrate_vs_sft", "pick vs a uniform pool sample, control reward, ties 1/2");
    cJSON_AddStringToObject(cfg, "winrate_vs_ref", "pick vs the reference's pick from the same n-subset, ties 1/2");
    cJSON_AddStringToObject(root, "ref", a->sel[ref].name);
    cJSON_AddNumberToObject(root, "sft_control_mean", sft_mean);
    cJSON *sels = cJSON_AddArrayToObject(root, "selectors");
    for (int i = 0; i < a->n_sel; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", a->sel[i].name);
        cJSON *ms = cJSON_AddArrayToObject(o, "models");
        for (int j = 0; j < a->sel[i].n_members; j++)
            cJSON_AddItemToArray(ms, cJSON_CreateString(a->models[a->sel[i].member[j]]));
        if (a->sel[i].n_members > 1) cJSON_AddStringToObject(o, "ens", warm_ens_name((warm_ens_kind)a->sel[i].ens));
        else cJSON_AddNullToObject(o, "ens");
        cJSON *rows = cJSON_AddArrayToObject(o, "points");
        for (int j = 0; j < n_ns; j++) {
            const warm_bon_point *q = &pts[i * n_ns + j];
            cJSON *r = cJSON_CreateObject();
            cJSON_AddNumberToObject(r, "n", q->n);
            cJSON_AddNumberToObject(r, "kl", q->kl);
            cJSON_AddNumberToObject(r, "proxy_mean", q->proxy_mean);
            cJSON_AddNumberToObject(r, "control_mean", q->control_mean);
            cJSON_AddNumberToObject(r, "winrate_vs_sft", q->win_sft);
            cJSON_AddNumberToObject(r, "winrate_vs_ref", q->win_ref);
            cJSON_AddItemToArray(rows, r);
        }
        cJSON_AddItemToArray(sels, o);
    }
    cJSON *ladder = cJSON_AddArrayToObject(root, "n");
    for (int j = 0; j < n_ns; j++) cJSON_AddItemToArray(ladder, cJSON_CreateNumber(ns[j]));
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return warm_error_set(err, WARM_ERR_NOMEM, "bon: out of memory");
    snprintf(path, sizeof path, "%s/bon.json", a->out);
    st = warm_text_write(path, text, err);
    free(text);
    return st;
}

static void print_table(const bon_args *a, int ref, const warm_bon_point *pts, int n_ns) {
    printf("%-16s %6s %7s %10s %10s %8s %8s\n", "selector", "n", "KL", "proxy", "control", "vs_sft",
           "vs_ref");
    for (int i = 0; i < a->n_sel; i++)
        for (int j = 0; j < n_ns; j++) {
            const warm_bon_point *q = &pts[i * n_ns + j];
            printf("%-16s %6d %7.3f %10.4f %10.4f %8.4f %8.4f\n", a->sel[i].name, q->n, q->kl, q->proxy_mean,
                   q->control_mean, q->win_sft, q->win_ref);
        }
    printf("(control: %s; win rates on the control reward, ties 1/2; vs_ref: against %s's pick from the same "
           "subset)\n", a->ctl.n_members ? a->control : "the task's gold reward", a->sel[ref].name);
}

/* The text and control sources: exactly one of --task and --tokenizer; a control (the task's gold or
 * --control); --max-new given without a task. 1 when they fit, else 0 after a usage error on stderr. */
static int check_sources(bon_args *a) {
    if (a->task && a->tokenizer) {
        cli_error("bon", "--task and --tokenizer together: the task's tokenizer is the policy's; give one of them");
        return 0;
    }
    if (!a->task && !a->tokenizer) {
        cli_error("bon", "give --task DIR (embedded task) or --tokenizer gpt2|FILE|DIR (real text)");
        return 0;
    }
    if (!a->task && !a->control) {
        cli_error("bon", "no control reward: without --task (whose gold reward is the default control) give "
                         "--control RM[,RM...][:ens=K], a held-out reward model");
        return 0;
    }
    if (!a->task && a->max_new == 0) {
        cli_error("bon", "without --task give --max-new N (0 means the task's response_room)");
        return 0;
    }
    return !a->control || parse_models(a, "--control", a->control, a->control, &a->ctl);
}

static int run_bon(bon_args *a) {
    warm_error err = {0};
    int ref = 0;
    if (a->ref) {
        ref = -1;
        for (int i = 0; i < a->n_sel; i++)
            if (strcmp(a->sel[i].name, a->ref) == 0) ref = i;
        if (ref < 0) {
            cli_error("bon", "--ref %s: no selector has that name", a->ref);
            return CLI_EXIT_USAGE;
        }
    }
    if (a->n_max > a->pool) {
        cli_error("bon", "--n-max %d exceeds --pool %d (best-of-n needs K >= n)", a->n_max, a->pool);
        return CLI_EXIT_USAGE;
    }
    int ns[32], n_ns = 0;
    warm_status st = warm_bon_ladder(a->n_max, ns, &n_ns, &err);
    bon_state s;
    memset(&s, 0, sizeof s);
    s.K = a->pool;
    if (!st && a->task) {
        st = warm_task_load(&s.world, a->task, &err);
        if (!st) s.tok = warm_task_tokenizer(s.world);
        if (!st) s.max_new = a->max_new > 0 ? a->max_new : warm_task_world_config(s.world)->response_room;
    } else if (!st) {
        st = warm_tok_open(&s.own_tok, a->tokenizer, &err);
        s.tok = s.own_tok;
        s.max_new = a->max_new;
    }
    if (!st) st = sample_pool(a, &s, &err);
    if (!st) st = score_pool(a, &s, &err);
    warm_bon_point *pts = NULL;
    if (!st) {
        pts = malloc((size_t)a->n_sel * n_ns * sizeof *pts);
        if (!pts) st = warm_error_set(&err, WARM_ERR_NOMEM, "bon: out of memory");
    }
    if (!st)
        st = warm_bon_evaluate(s.pr.P, s.K, s.control, (const float *const *)s.proxy, a->n_sel, ref, ns, n_ns, pts,
                               &err);
    if (!st) st = write_outputs(a, &s, ref, pts, ns, n_ns, &err);
    if (!st && a->save_pool) st = write_pool(a, &s, &err);
    if (!st) {
        print_table(a, ref, pts, n_ns);
        printf("bon: %d prompts x pool %d, %d selectors -> %s/bon.csv, %s/bon.json\n", s.pr.P, s.K, a->n_sel, a->out,
               a->out);
    }
    free(pts);
    state_free(&s);
    return st == WARM_OK ? CLI_EXIT_OK : cli_fail("bon", &err);
}

int cli_cmd_bon(int argc, char **argv) {
    bon_args a;
    memset(&a, 0, sizeof a);
    warm_opt opts[] = {
        {.name = "task", .kind = WARM_OPT_STRING, .dest = &a.task, .metavar = "DIR",
         .help = "embedded task (task.json, tokenizer.json): its tokenizer, <eos> and gold reward, the default "
                 "control"},
        CLI_OPT_TOKENIZER(&a.tokenizer, 0,
                          "without --task (real text; eos = the tokenizer's, <|endoftext|> for GPT-2)"),
        {.name = "control", .kind = WARM_OPT_STRING, .dest = &a.control, .metavar = "RM[,RM...][:ens=K]",
         .help = "control reward: a held-out reward model, or several = their prediction ensemble (K = mean, "
                 "min or mean-std); required without --task, replaces the gold with it"},
        {.name = "policy", .kind = WARM_OPT_STRING, .dest = &a.policy, .metavar = "CKPT", .required = 1,
         .help = "the SFT policy that samples the pool"},
        {.name = "prompts", .kind = WARM_OPT_STRING, .dest = &a.prompts, .metavar = "JSONL", .required = 1,
         .help = "rows with \"prompt\" (and optional \"id\"), e.g. DIR/prompts_val.jsonl"},
        {.name = "limit", .kind = WARM_OPT_INT, .dest = &a.limit, .min = 0, .max = 1 << 30, .def = "0",
         .help = "first P prompts only (0 = all)"},
        {.name = "pool", .kind = WARM_OPT_INT, .dest = &a.pool, .min = 1, .max = 65536, .def = "64",
         .help = "K: responses sampled once per prompt and shared by every selector and n"},
        {.name = "n-max", .kind = WARM_OPT_INT, .dest = &a.n_max, .min = 1, .max = 65536, .def = "16",
         .help = "largest n of the ladder 1, 2, 4, ... (<= --pool; added when not a power of two)"},
        {.name = "selector", .kind = WARM_OPT_STRING, .dest = &a.selector_last, .metavar = "NAME=RM[,RM...][:ens=K]",
         .required = 1,
         .help = "a selector (repeat the option for several): one reward model (a member or a WARM merge), or\n"
                 "several models = their prediction ensemble, ens = mean (default), min or mean-std"},
        {.name = "ref", .kind = WARM_OPT_STRING, .dest = &a.ref, .metavar = "NAME",
         .help = "reference selector for winrate_vs_ref (default: the first selector)"},
        {.name = "out", .short_name = 'o', .kind = WARM_OPT_STRING, .dest = &a.out, .metavar = "DIR", .required = 1,
         .help = "output directory: bon.csv and bon.json (written atomically)"},
        {.name = "temperature", .kind = WARM_OPT_DOUBLE, .dest = &a.temperature, .min = 0, .max = 100, .def = "1",
         .help = "sampling temperature of the policy"},
        {.name = "top-k", .kind = WARM_OPT_INT, .dest = &a.top_k, .min = 0, .max = 1 << 24, .def = "0",
         .help = "keep the k most likely tokens (0 = off)"},
        {.name = "top-p", .kind = WARM_OPT_DOUBLE, .dest = &a.top_p, .min = 0.001, .max = 1, .def = "1",
         .help = "nucleus sampling mass (1 = off)"},
        {.name = "max-new", .kind = WARM_OPT_INT, .dest = &a.max_new, .min = 0, .max = 65536, .def = "0",
         .help = "most tokens per response (0 = the task's response_room; required without --task)"},
        {.name = "seed", .kind = WARM_OPT_INT64, .dest = &a.seed, .min = 0, .max = 9e18, .def = "1",
         .help = "sampling seed (prompt i uses the stream hash(seed, i))"},
        {.name = "lambda", .kind = WARM_OPT_DOUBLE, .dest = &a.lambda, .min = 0, .max = 1000, .def = "1",
         .help = "std weight of ens=mean-std (selectors and --control)"},
        {.name = "max-rows", .kind = WARM_OPT_INT, .dest = &a.max_rows, .min = 0, .max = 1 << 24, .def = "0",
         .help = "token rows per scoring pass (memory bound; 0 = default)"},
        {.name = "save-pool", .kind = WARM_OPT_FLAG, .dest = &a.save_pool,
         .help = "also write OUT/pool.jsonl: every pool response with its gold (--task), control (--control) "
                 "and proxy rewards"},
        {.name = "quiet", .short_name = 'q', .kind = WARM_OPT_FLAG, .dest = &a.quiet, .help = "no progress bars"},
    };
    warm_opts_cmd cmd = {
        .prog = "warm", .name = "bon",
        .desc = "Best-of-n with a control reward. Samples a pool of K responses per prompt once from the policy\n"
                "(shared prompt prefix), scores it with the control reward (the task's gold reward, or a held-out\n"
                "reward model given by --control: needed on real text) and with every selector, and gives\n"
                "for n = 1, 2, 4, ..., n_max the exact expectations over random n-subsets of the pool (unbiased\n"
                "pool estimator): proxy and control reward of the pick, KL = log n - (n-1)/n, win rates against a\n"
                "random SFT sample and against the reference selector's pick (control reward, ties 1/2).\n"
                "Ties in a proxy reward go to the lowest pool index. See docs/bon.md.",
        .opts = opts, .nopts = CLI_NOPTS(opts),
        .epilog = "example: warm bon --task task --policy sft/final.safetensors --prompts task/prompts_val.jsonl \\\n"
                  "           --limit 200 --pool 64 --n-max 64 --selector phi1=rm1.safetensors \\\n"
                  "           --selector warm2=warm2.safetensors --selector ens2=rm1.safetensors,rm2.safetensors \\\n"
                  "           --ref warm2 -o out/bon\n"
                  "real text: warm bon --tokenizer gpt2 --control ctl.safetensors --policy base.safetensors \\\n"
                  "           --prompts prompts.jsonl --max-new 64 --pool 16 --n-max 16 \\\n"
                  "           --selector rm=rm.safetensors -o out/bon-text"};
    warm_opts_result res;
    int rc = cli_parse(&cmd, argc, argv, &res);
    if (rc != CLI_PARSE_OK) return cli_parse_exit(rc);
    int code;
    if (!check_sources(&a) || !collect_selectors(&a, argc, argv)) code = CLI_EXIT_USAGE;
    else code = run_bon(&a);
    warm_opts_free(&cmd, &res);
    args_free(&a);
    return code;
}
