/*
 * cmd_task.c — `warm task <sub>`: the embedded summarisation task (include/warm/task.h, docs/task.md).
 *
 * A sub-dispatcher: `warm task` finds <sub> in task_subs and calls it with argv shifted, so each
 * subcommand sees its own name as argv[0] and parses options as a command named "task <sub>".
 *   generate  the world and its splits, from a seed
 *   gold      the gold reward over a JSONL file
 * Adding a subcommand (prefs, stats, ...): write `static int task_<sub>(int argc, char **argv)` and add one
 * row to task_subs.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "warm/task.h"

/* ---- warm task generate ---- */

/* Default texts for the option table, printed from warm_task_config_default (one source of truth). */
typedef struct {
    char seed[32], n[6][16], ctx[16], room[16], budget[16], w[5][32];
} gen_defaults;

static void fill_defaults(gen_defaults *d, const warm_task_config *c) {
    const int n[6] = {c->n_pretrain, c->n_sft_train, c->n_sft_val, c->n_prompts_train, c->n_prompts_val,
                      c->n_prompts_ood};
    const double w[5] = {c->gold.coverage, c->gold.hallucination, c->gold.repetition, c->gold.length,
                         c->gold.missing_eos};
    snprintf(d->seed, sizeof d->seed, "%llu", (unsigned long long)c->seed);
    for (int i = 0; i < 6; i++) snprintf(d->n[i], sizeof d->n[i], "%d", n[i]);
    for (int i = 0; i < 5; i++) snprintf(d->w[i], sizeof d->w[i], "%g", w[i]);
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

/* ---- dispatch ---- */

static const warm_cli_command task_subs[] = {
    {"generate", "generate the world and its splits from a seed", task_generate},
    {"gold", "score responses in a JSONL file with the gold reward", task_gold},
    /* ---- add task subcommands here (prefs, stats) ---- */
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
