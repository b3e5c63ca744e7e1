/*
 * cmd_task.c — `warm task <sub>`: the embedded summarisation task (include/warm/task.h, docs/task.md).
 *
 * A sub-dispatcher: `warm task` finds <sub> in task_subs and calls it with argv shifted, so each
 * subcommand sees its own name as argv[0] and parses options as a command named "task <sub>".
 *   generate  the world and its splits, from a seed
 *   gold      the gold reward over a JSONL file
 *   prefs     oracle-labelled preference pairs (src/task/prefs.c)
 *   stats     statistics of the task's data (src/task/stats.c)
 * Adding a subcommand (prefs, stats, ...): write `static int task_<sub>(int argc, char **argv)` and add one
 * row to task_subs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "warm/task.h"

/* ---- warm task generate ---- */

/* Default texts for the option table, printed from warm_task_config_default (one source of truth). */
typedef struct {
    char seed[32], n[6][16], ctx[16], room[16], budget[16], w[6][32], detail[32];
} gen_defaults;

static void fill_defaults(gen_defaults *d, const warm_task_config *c) {
    const int n[6] = {c->n_pretrain, c->n_sft_train, c->n_sft_val, c->n_prompts_train, c->n_prompts_val,
                      c->n_prompts_ood};
    const double w[6] = {c->gold.coverage, c->gold.hallucination, c->gold.repetition, c->gold.length,
                         c->gold.missing_eos, c->gold.extra};
    snprintf(d->seed, sizeof d->seed, "%llu", (unsigned long long)c->seed);
    for (int i = 0; i < 6; i++) snprintf(d->n[i], sizeof d->n[i], "%d", n[i]);
    for (int i = 0; i < 6; i++) snprintf(d->w[i], sizeof d->w[i], "%g", w[i]);
    snprintf(d->detail, sizeof d->detail, "%g", c->detail);
    snprintf(d->ctx, sizeof d->ctx, "%d", c->ctx);
    snprintf(d->room, sizeof d->room, "%d", c->response_room);
    snprintf(d->budget, sizeof d->budget, "%d", c->gold.budget);
}

static void print_generated(const char *dir, const warm_task_config *c, double secs) {
    printf("wrote %s in %.2fs (seed %llu, ctx %d, response room %d):\n", dir, secs, (unsigned long long)c->seed,
           c->ctx, c->response_room);
    printf("  pretrain.jsonl       %d documents\n", c->n_pretrain);
    printf("  sft_train.jsonl      %d pairs\n  sft_val.jsonl        %d pairs\n", c->n_sft_train, c->n_sft_val);
    printf("  prompts_train.jsonl  %d prompts\n  prompts_val.jsonl    %d prompts\n", c->n_prompts_train,
           c->n_prompts_val);
    printf("  prompts_ood.jsonl    %d prompts\n  task.json, tokenizer.json\n", c->n_prompts_ood);
}

static int task_generate(int argc, char **argv) {
    warm_task_config c, def;
    warm_task_config_default(&def);
    c = def;
    gen_defaults d;
    fill_defaults(&d, &def);
    int64_t seed = 0;
    const char *out = NULL;
    warm_opt opts[] = {
        {.name = "out", .short_name = 'o', .kind = WARM_OPT_STRING, .dest = &out, .metavar = "DIR",
         .help = "output directory (created if missing; files in it are replaced)", .required = 1},
        {.name = "seed", .kind = WARM_OPT_INT64, .dest = &seed, .min = 0, .max = 9007199254740992.0, .def = d.seed,
         .help = "seed: every file is a pure function of it"},
        {.name = "n-pretrain", .kind = WARM_OPT_INT, .dest = &c.n_pretrain, .min = 0, .max = 1e7, .def = d.n[0],
         .help = "pretraining documents"},
        {.name = "n-sft", .kind = WARM_OPT_INT, .dest = &c.n_sft_train, .min = 0, .max = 1e7, .def = d.n[1],
         .help = "SFT pairs (post -> reference summary)"},
        {.name = "n-sft-val", .kind = WARM_OPT_INT, .dest = &c.n_sft_val, .min = 0, .max = 1e7, .def = d.n[2],
         .help = "held-out SFT pairs"},
        {.name = "n-prompts", .kind = WARM_OPT_INT, .dest = &c.n_prompts_train, .min = 0, .max = 1e7, .def = d.n[3],
         .help = "preference (train) prompts"},
        {.name = "n-val", .kind = WARM_OPT_INT, .dest = &c.n_prompts_val, .min = 0, .max = 1e7, .def = d.n[4],
         .help = "ID validation prompts"},
        {.name = "n-ood", .kind = WARM_OPT_INT, .dest = &c.n_prompts_ood, .min = 0, .max = 1e7, .def = d.n[5],
         .help = "OOD prompts (4-5 facts, longer posts, reversed topic mix)"},
        {.name = "ctx", .kind = WARM_OPT_INT, .dest = &c.ctx, .min = 112, .max = 65536, .def = d.ctx,
         .help = "model context: prompt + reference + <eos> fit in it"},
        {.name = "response-room", .kind = WARM_OPT_INT, .dest = &c.response_room, .min = 16, .max = 65536,
         .def = d.room, .help = "tokens kept free after each prompt for a response"},
        {.name = "budget", .kind = WARM_OPT_INT, .dest = &c.gold.budget, .min = 0, .max = 100000, .def = d.budget,
         .help = "gold: words allowed before the length penalty"},
        {.name = "w-coverage", .kind = WARM_OPT_DOUBLE, .dest = &c.gold.coverage, .min = 0, .max = 1e6,
         .def = d.w[0], .help = "gold: weight of frequency-weighted coverage"},
        {.name = "w-hallucination", .kind = WARM_OPT_DOUBLE, .dest = &c.gold.hallucination, .min = 0, .max = 1e6,
         .def = d.w[1], .help = "gold: penalty per invented fact"},
        {.name = "w-repetition", .kind = WARM_OPT_DOUBLE, .dest = &c.gold.repetition, .min = 0, .max = 1e6,
         .def = d.w[2], .help = "gold: penalty per repeated 4-gram"},
        {.name = "w-length", .kind = WARM_OPT_DOUBLE, .dest = &c.gold.length, .min = 0, .max = 1e6, .def = d.w[3],
         .help = "gold: penalty per word over the budget"},
        {.name = "w-eos", .kind = WARM_OPT_DOUBLE, .dest = &c.gold.missing_eos, .min = 0, .max = 1e6, .def = d.w[4],
         .help = "gold: penalty for a summary without <eos>"},
        {.name = "w-extra", .kind = WARM_OPT_DOUBLE, .dest = &c.gold.extra, .min = 0, .max = 1e6, .def = d.w[5],
         .help = "gold: penalty per word outside the fact clauses (details, fillers)"},
        {.name = "detail", .kind = WARM_OPT_DOUBLE, .dest = &c.detail, .min = 0, .max = 1, .def = d.detail,
         .help = "probability that a reference clause carries a detail (\"at the lab\"; at most 2)"},
    };
    warm_opts_cmd cmd = {.prog = "warm", .name = "task generate",
                         .desc = "Generates the embedded summarisation task: tokenizer.json, task.json,\n"
                                 "pretrain.jsonl, sft_{train,val}.jsonl, prompts_{train,val,ood}.jsonl.",
                         .opts = opts, .nopts = CLI_NOPTS(opts),
                         .epilog = "example:\n  warm task generate --seed 1 --out runs/task"};
    warm_opts_result res;
    int rc = cli_parse(&cmd, argc, argv, &res);
    if (rc != CLI_PARSE_OK) return cli_parse_exit(rc);
    c.seed = (uint64_t)seed;
    warm_error err = {0};
    double t0 = warm_time_now();
    warm_status st = warm_task_generate(&c, out, &err);
    if (st == WARM_OK) print_generated(out, &c, warm_time_now() - t0);
    warm_opts_free(&cmd, &res);
    return st == WARM_OK ? CLI_EXIT_OK : cli_fail("task generate", &err);
}

/* ---- warm task gold ---- */

static int task_gold(int argc, char **argv) {
    const char *task = NULL, *in = NULL, *out = NULL;
    warm_opt opts[] = {
        {.name = "task", .short_name = 't', .kind = WARM_OPT_STRING, .dest = &task, .metavar = "DIR",
         .help = "task directory (task.json, tokenizer.json)", .required = 1},
        {.name = "in", .short_name = 'i', .kind = WARM_OPT_STRING, .dest = &in, .metavar = "F.jsonl",
         .help = "rows with \"prompt\" and \"response\", \"completion\", or \"chosen\" + \"rejected\"\n(text or *_ids)",
         .required = 1},
        {.name = "out", .short_name = 'o', .kind = WARM_OPT_STRING, .dest = &out, .metavar = "G.jsonl",
         .help = "the rows with gold fields added (written atomically)", .required = 1},
    };
    warm_opts_cmd cmd = {.prog = "warm", .name = "task gold",
                         .desc = "Scores responses with the task's gold reward. Adds \"gold\" and \"gold_parts\"\n"
                                 "(or gold_chosen/gold_rejected and their _parts) to every row.\n"
                                 "Text responses end with the <eos> a trainer appends (TRL), unless the row has\n"
                                 "\"eos\": false (a `warm sample` row that hit the token limit); a \"<field>_ids\"\n"
                                 "array (response_ids, chosen_ids, prompt_ids, ...) wins and is scored as given.",
                         .opts = opts, .nopts = CLI_NOPTS(opts),
                         .epilog = "example:\n  warm task gold --task runs/task --in samples.jsonl --out scored.jsonl"};
    warm_opts_result res;
    int rc = cli_parse(&cmd, argc, argv, &res);
    if (rc != CLI_PARSE_OK) return cli_parse_exit(rc);
    warm_error err = {0};
    warm_task_world *w = NULL;
    int rows = 0;
    warm_status st = warm_task_load(&w, task, &err);
    if (st == WARM_OK) st = warm_task_gold_jsonl(w, in, out, &rows, &err);
    if (st == WARM_OK) printf("scored %d rows: %s\n", rows, out);
    warm_task_free(w);
    warm_opts_free(&cmd, &res);
    return st == WARM_OK ? CLI_EXIT_OK : cli_fail("task gold", &err);
}

/* ---- warm task prefs ---- */

#define MAX_GENERATORS 8

/* Parses "[NAME=]PATH[@TEMPERATURE]" into a generator spec (the model is loaded later). */
static int parse_generator(const char *spec, char *name, size_t nn, char *path, size_t np, float *temp) {
    const char *eq = strchr(spec, '='), *p = eq ? eq + 1 : spec, *at = strrchr(p, '@');
    *temp = 1.0f;
    if (at) {
        char *end = NULL;
        double t = strtod(at + 1, &end);
        if (end == at + 1 || *end || !(t >= 0 && t <= 100)) return -1;
        *temp = (float)t;
    }
    size_t plen = at ? (size_t)(at - p) : strlen(p);
    if (plen == 0 || plen >= np) return -1;
    memcpy(path, p, plen);
    path[plen] = 0;
    if (eq) snprintf(name, nn, "%.*s", (int)(eq - spec), spec);
    else {
        char own[256]; /* built apart from name: gcc cannot tell that name and path never overlap */
        snprintf(own, sizeof own, "%s@%g", path, (double)*temp);
        snprintf(name, nn, "%s", own);
    }
    return 0;
}

typedef struct {
    char name[MAX_GENERATORS + 1][256], path[MAX_GENERATORS + 1][4096];
    warm_model models[MAX_GENERATORS + 1];
    warm_task_generator gen[MAX_GENERATORS + 1];
    int n;
} generators;

static warm_status load_generator(generators *g, const char *spec, warm_error *err) {
    int i = g->n;
    if (i > MAX_GENERATORS) return warm_error_set(err, WARM_ERR_ARG, "at most %d OOD generators", MAX_GENERATORS);
    if (parse_generator(spec, g->name[i], sizeof g->name[i], g->path[i], sizeof g->path[i], &g->gen[i].temperature))
        return warm_error_set(err, WARM_ERR_ARG, "generator \"%s\": expected [NAME=]CHECKPOINT[@TEMPERATURE]", spec);
    warm_status s = warm_model_load(&g->models[i], g->path[i], 1, err);
    if (s) return s;
    g->gen[i].name = g->name[i];
    g->gen[i].model = &g->models[i];
    g->n++;
    return WARM_OK;
}

static const char *const pair_choices[] = {"random", "closest", NULL}; /* order: WARM_PAIRS_* */

static int task_prefs(int argc, char **argv) {
    const char *task = NULL, *policy = NULL, *out = NULL;
    warm_opt_list ood = {0};
    warm_task_prefs_config c;
    warm_task_prefs_config_default(&c);
    double temperature = 1.0;
    int64_t seed = 1;
    warm_opt opts[] = {
        {.name = "task", .short_name = 't', .kind = WARM_OPT_STRING, .dest = &task, .metavar = "DIR", .required = 1,
         .help = "task directory (prompts_{train,val,ood}.jsonl, task.json, tokenizer.json)"},
        {.name = "policy", .kind = WARM_OPT_STRING, .dest = &policy, .metavar = "[NAME=]CKPT", .required = 1,
         .help = "the SFT policy: two samples per train/val prompt"},
        {.name = "temperature", .kind = WARM_OPT_DOUBLE, .dest = &temperature, .min = 0, .max = 100, .def = "1",
         .help = "sampling temperature of the policy"},
        {.name = "ood", .kind = WARM_OPT_STRING_LIST, .dest = &ood, .metavar = "GEN,GEN,...",
         .help = "OOD generators [NAME=]CKPT[@TEMP] (>= 2): each OOD pair mixes two of them;\n"
                 "default: the policy at temperatures 1.5 and 0.7"},
        {.name = "tau", .kind = WARM_OPT_DOUBLE, .dest = &c.tau, .min = 1e-6, .max = 1e6, .def = "0.25",
         .help = "BT labelling temperature: P(a > b) = sigma((gold_a - gold_b) / tau)"},
        {.name = "corrupt", .kind = WARM_OPT_DOUBLE, .dest = &c.corrupt, .min = 0, .max = 1, .def = "0",
         .help = "fraction of train labels swapped on purpose (recorded as \"corrupted\": true)"},
        {.name = "max-new", .kind = WARM_OPT_INT, .dest = &c.max_new, .min = 1, .max = 65536, .def = "32",
         .help = "most tokens per response"},
        {.name = "limit-train", .kind = WARM_OPT_INT, .dest = &c.limit_train, .min = 0, .max = 1 << 30, .def = "0",
         .help = "first K train prompts (0 = all)"},
        {.name = "limit-val", .kind = WARM_OPT_INT, .dest = &c.limit_val, .min = 0, .max = 1 << 30, .def = "0",
         .help = "first K val prompts (0 = all)"},
        {.name = "limit-ood", .kind = WARM_OPT_INT, .dest = &c.limit_ood, .min = 0, .max = 1 << 30, .def = "0",
         .help = "first K OOD prompts (0 = all)"},
        {.name = "ood-val", .kind = WARM_OPT_INT, .dest = &c.ood_val, .min = 0, .max = 1 << 30, .def = "0",
         .help = "the pairs of the first K OOD prompts get split \"ood_val\": a held-out OOD set to rank "
                 "members on, disjoint from the \"ood\" test pairs"},
        {.name = "clean-out", .kind = WARM_OPT_STRING, .dest = &c.clean_path, .metavar = "JSONL",
         .help = "also write the same pairs without the --corrupt swaps here (the clean setup, in the same pass)"},
        {.name = "draws", .kind = WARM_OPT_INT, .dest = &c.draws, .min = 2, .max = 64, .def = "2",
         .help = "responses drawn per prompt; the pair is drawn among those with different gold rewards "
                 "(OOD: and different generators), so fewer pairs are gold ties"},
{.name = "pairs", .kind = WARM_OPT_CHOICE, .dest = &c.pair_select, .choices = pair_choices, .def = "random",
         .help = "which two of the --draws responses form the pair: random (uniformly among those with "
                 "different gold) or closest (only the fewest-token-edits ones among those: contrastive pairs)"},
                {.name = "seed", .kind = WARM_OPT_INT64, .dest = &seed, .min = 0, .max = 9e18, .def = "1",
         .help = "seed of sampling, labels and corruption"},
        {.name = "out", .short_name = 'o', .kind = WARM_OPT_STRING, .dest = &out, .metavar = "JSONL", .required = 1,
         .help = "preference pairs of every split (TRL format + split, corrupted, gold_*, *_ids, sources)"},
    };
    warm_opts_cmd cmd = {.prog = "warm", .name = "task prefs",
                         .desc = "Samples response pairs and labels them with the gold reward by Bradley-Terry\n"
                                 "sampling; optionally corrupts a fraction of the training labels.",
                         .opts = opts, .nopts = CLI_NOPTS(opts),
                         .epilog = "example:\n  warm task prefs --task task --policy sft/final.safetensors \\\n"
                                   "    --ood sft/final.safetensors@1.5,pre=pretrain/final.safetensors --corrupt 0.25 -o prefs.jsonl"};
    warm_opts_result res;
    int rc = cli_parse(&cmd, argc, argv, &res);
    if (rc != CLI_PARSE_OK) return cli_parse_exit(rc);
    c.seed = (uint64_t)seed;
    warm_error err = {0};
    warm_task_world *w = NULL;
    generators *g = calloc(1, sizeof *g);
    char polspec[4200];
    snprintf(polspec, sizeof polspec, "%s@%g", policy, temperature);
    warm_status st = g ? warm_task_load(&w, task, &err) : warm_error_set(&err, WARM_ERR_NOMEM, "out of memory");
    if (!st) st = load_generator(g, strchr(policy, '@') ? policy : polspec, &err);
    for (int i = 0; i < ood.n && !st; i++) st = load_generator(g, ood.str[i], &err);
    if (!st && ood.n == 0) {
        snprintf(polspec, sizeof polspec, "%s@1.5", policy);
        st = load_generator(g, polspec, &err);
        snprintf(polspec, sizeof polspec, "%s@0.7", policy);
        if (!st) st = load_generator(g, polspec, &err);
    }
    warm_task_prefs_summary sum;
    if (!st) st = warm_task_prefs(w, task, &g->gen[0], g->gen + 1, g->n - 1, &c, out, stderr, &sum, &err);
    if (!st) {
        static const char *names[3] = {"train", "val", "ood"};
        printf("wrote %s in %.1f s:\n", out, sum.seconds);
        for (int i = 0; i < 3; i++)
            printf("  %-5s %6lld pairs, label agrees with the gold order on %.1f%% (%lld gold ties)\n", names[i],
                   (long long)sum.n[i],
                   100.0 * (double)sum.n_gold_agree[i] / (double)(sum.n[i] - sum.n_gold_ties[i] > 0 ? sum.n[i] - sum.n_gold_ties[i] : 1),
                   (long long)sum.n_gold_ties[i]);
        if (sum.n_ood_val) printf("  (%lld of the ood pairs have split \"ood_val\": held out for selection)\n",
                                  (long long)sum.n_ood_val);
        printf("  %lld train labels corrupted (%.1f%%)\n", (long long)sum.n_corrupted,
               100.0 * (double)sum.n_corrupted / (double)(sum.n[0] ? sum.n[0] : 1));
    }
    for (int i = 0; g && i < g->n; i++) warm_model_free(&g->models[i]);
    free(g);
    warm_task_free(w);
    warm_opts_free(&cmd, &res);
    return st == WARM_OK ? CLI_EXIT_OK : cli_fail("task prefs", &err);
}

/* ---- warm task stats ---- */

static int task_stats(int argc, char **argv) {
    const char *task = NULL, *prefs = NULL, *json = NULL;
    warm_opt opts[] = {
        {.name = "task", .short_name = 't', .kind = WARM_OPT_STRING, .dest = &task, .metavar = "DIR", .required = 1,
         .help = "task directory"},
        {.name = "prefs", .kind = WARM_OPT_STRING, .dest = &prefs, .metavar = "JSONL", .required = 1,
         .help = "pairs written by `warm task prefs`"},
        {.name = "json", .kind = WARM_OPT_STRING, .dest = &json, .metavar = "PATH", .help = "also write the numbers as JSON"},
    };
    warm_opts_cmd cmd = {.prog = "warm", .name = "task stats",
                         .desc = "Gold-reward distribution by response source and of the references, label\n"
                                 "agreement with the gold order, the length cue, and failure shares.",
                         .opts = opts, .nopts = CLI_NOPTS(opts)};
    warm_opts_result res;
    int rc = cli_parse(&cmd, argc, argv, &res);
    if (rc != CLI_PARSE_OK) return cli_parse_exit(rc);
    warm_error err = {0};
    warm_task_world *w = NULL;
    warm_status st = warm_task_load(&w, task, &err);
    if (!st) st = warm_task_stats(w, task, prefs, stdout, json, &err);
    warm_task_free(w);
    warm_opts_free(&cmd, &res);
    return st == WARM_OK ? CLI_EXIT_OK : cli_fail("task stats", &err);
}

/* ---- dispatch ---- */

static const warm_cli_command task_subs[] = {
    {"generate", "generate the world and its splits from a seed", task_generate},
    {"gold", "score responses in a JSONL file with the gold reward", task_gold},
    {"prefs", "sample response pairs and label them with the gold reward (BT noise, corruption)", task_prefs},
    {"stats", "statistics of the task's data: gold by source, label agreement, length cue", task_stats},
    /* ---- add task subcommands here ---- */
};
#define TASK_NSUBS ((int)(sizeof task_subs / sizeof task_subs[0]))

static void task_usage(FILE *f) {
    fputs("usage: warm task <subcommand> [options]\n\n"
          "The embedded summarisation task and its gold reward (docs/task.md).\n\nsubcommands:\n", f);
    for (int i = 0; i < TASK_NSUBS; i++) fprintf(f, "  %-10s %s\n", task_subs[i].name, task_subs[i].summary);
    fputs("\nRun 'warm task <subcommand> --help' for its options.\n", f);
}

static int task_unknown(const char *name) {
    const char *names[TASK_NSUBS + 1];
    for (int i = 0; i < TASK_NSUBS; i++) names[i] = task_subs[i].name;
    names[TASK_NSUBS] = NULL;
    const char *near = warm_opts_suggest(name, names);
    if (near) cli_error("task", "unknown subcommand '%s' (did you mean '%s'?)", name, near);
    else cli_error("task", "unknown subcommand '%s'", name);
    fputs("Run 'warm task --help' for the list of subcommands.\n", stderr);
    return CLI_EXIT_USAGE;
}

int cli_cmd_task(int argc, char **argv) {
    if (argc < 2) {
        task_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        task_usage(stdout);
        return CLI_EXIT_OK;
    }
    for (int i = 0; i < TASK_NSUBS; i++)
        if (strcmp(task_subs[i].name, sub) == 0) return task_subs[i].run(argc - 1, argv + 1);
    return task_unknown(sub);
}
