/*
 * main.c — the `warm` command: `warm <command> [options]`.
 *
 * Dispatch is one const table of {name, summary, run}; main finds the command and calls run(argc-1,
 * argv+1), so every command sees its own name as argv[0]. Top-level words: --help/-h/help [CMD] list
 * the commands (or show one command's help), --version/version print the version. An unknown command is
 * a usage error (exit 2) with the closest name suggested. Exit codes: 0 ok, 1 runtime failure, 2 usage.
 * Under an MPI launcher with more than one process, only the commands of cli_mpi_commands run (train-rm,
 * sweep, merge: docs/scale.md); the others refuse instead of running once per rank.
 * Also here: cli_parse / cli_error / cli_fail shared by the commands (declared in cli.h).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

/* Registering a command is one row here (plus its declaration in cli.h). Pipeline order, then utilities. */
static const warm_cli_command cli_commands[] = {
    /* ---- add new commands here: {"name", "one-line summary", cli_cmd_name}, ---- */
    {"demo", "the WARM paper end to end on the embedded task, with report.md (--scale tiny|small|full)", cli_cmd_demo},
    {"task", "the embedded summarisation task: generate the world, score with the gold reward", cli_cmd_task},
    {"pretrain", "pretrain a GPT-2 language model on text", cli_cmd_pretrain},
    {"sft", "supervised fine-tuning on prompt/completion pairs (keeps Baklava checkpoints)", cli_cmd_sft},
    {"sample", "sample responses from a policy (KV cache, shared prompt prefix, log-probs)", cli_cmd_sample},
    {"probe", "linear probe: fit the shared reward head on frozen SFT features", cli_cmd_probe},
    {"train-rm", "train one reward model (Bradley-Terry fine-tuning from SFT + probed head)", cli_cmd_train_rm},
    {"sweep", "train M diverse reward models in parallel processes, with a resumable manifest", cli_cmd_sweep},
    {"merge", "average checkpoints (WARM): uniform, weighted, lerp, slerp, task arithmetic, soups", cli_cmd_merge},
    {"lmc", "linear mode connectivity: WA vs ENS vs Diag along lambda between two RMs, per subset", cli_cmd_lmc},
    {"eval", "evaluate reward models on preference pairs: accuracy (>= and >), ECE, ensembles", cli_cmd_eval},
    {"score", "add reward-model scores to the responses of a JSONL file (shared prompt prefix)", cli_cmd_score},
    {"rl", "KL-regularised RL of the policy against a reward model (REINFORCE, leave-one-out baseline)", cli_cmd_rl},
    {"rl-eval", "RL policies on held-out prompts: proxy reward, KL to SFT, gold, oracle win rates", cli_cmd_rl_eval},
    {"bon", "best-of-n with a control reward: unbiased pool estimator, KL, win rates, per selector", cli_cmd_bon},
    {"toy", "C17: Monte-Carlo check of the bag-of-features toy model (ENS ~ p_j, WA ~ p_j^2)", cli_cmd_toy},
    {"report", "write report.md of a demo run: the paper's claims C1-C17 computed from the run's files", cli_cmd_report},
    {"tokenize", "text to token ids and back (GPT-2 byte-level BPE or a task vocabulary)", cli_cmd_tokenize},
    {"init", "write a freshly initialised GPT-2 model (safetensors)", cli_cmd_init},
    {"export", "write a checkpoint as a Hugging Face model directory (config.json, model.safetensors, tokenizer)",
     cli_cmd_export},
    {"inspect", "validate safetensors files and list tensors, dtypes, shapes, config", cli_cmd_inspect},
    {"version", "print the version and build information", cli_cmd_version},
};
#define CLI_NCOMMANDS ((int)(sizeof cli_commands / sizeof cli_commands[0]))

/* Commands that run as one job of several ranks under mpirun (the MPI build; docs/scale.md). */
static const char *const cli_mpi_commands[] = {"train-rm", "sweep", "merge", NULL};

static int cli_runs_under_mpi(const char *name) {
    for (int i = 0; cli_mpi_commands[i]; i++)
        if (strcmp(cli_mpi_commands[i], name) == 0) return 1;
    return 0;
}

void cli_error(const char *cmd, const char *fmt, ...) {
    fprintf(stderr, "warm%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* "500000000", "5GB", "2GiB", "100M" (decimal K/M/G/T, binary Ki/Mi/Gi/Ti; a trailing B optional). */
int cli_parse_size(const char *s, uint64_t *out) {
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s || errno || !(v > 0)) return -1;
    static const struct { const char *suf; double mul; } sufs[] = {
        {"", 1}, {"B", 1}, {"K", 1e3}, {"KB", 1e3}, {"M", 1e6}, {"MB", 1e6}, {"G", 1e9}, {"GB", 1e9},
        {"T", 1e12}, {"TB", 1e12}, {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0},
        {"TiB", 1099511627776.0},
    };
    for (size_t i = 0; i < sizeof sufs / sizeof sufs[0]; i++) {
        if (strcmp(end, sufs[i].suf) == 0) {
            double b = floor(v * sufs[i].mul);
            if (!(b >= 1 && b < 1.8e19)) return -1;
            *out = (uint64_t)b;
            return 0;
        }
    }
    return -1;
}

int cli_fail(const char *cmd, const warm_error *err) {
    cli_error(cmd, "%s", err->msg[0] ? err->msg : warm_status_str(err->code));
    return err->code == WARM_ERR_ARG ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
}

int cli_parse(const warm_opts_cmd *cmd, int argc, char **argv, warm_opts_result *res) {
    warm_error err = {0};
    if (warm_opts_parse(cmd, argc, argv, res, &err) != WARM_OK) {
        cli_error(cmd->name, "%s", err.msg);
        fprintf(stderr, "Run 'warm %s --help' for usage.\n", cmd->name);
        return CLI_PARSE_ERROR;
    }
    if (res->help) {
        warm_opts_print_help(stdout, cmd);
        return CLI_PARSE_HELP;
    }
    return CLI_PARSE_OK;
}

static const warm_cli_command *cli_find(const char *name) {
    for (int i = 0; i < CLI_NCOMMANDS; i++)
        if (strcmp(cli_commands[i].name, name) == 0) return &cli_commands[i];
    return NULL;
}

static void cli_print_commands(FILE *f) {
    int width = 0;
    for (int i = 0; i < CLI_NCOMMANDS; i++) {
        int w = (int)strlen(cli_commands[i].name);
        if (w > width) width = w;
    }
    fputs("usage: warm <command> [options]\n"
          "       warm <command> --help\n\n"
          "Weight-averaged reward models (WARM): train reward models, average their weights,\n"
          "and align a policy with best-of-N and KL-regularised RL.\n\n"
          "commands:\n",
          f);
    for (int i = 0; i < CLI_NCOMMANDS; i++)
        fprintf(f, "  %-*s  %s\n", width, cli_commands[i].name, cli_commands[i].summary);
    fputs("\nRun 'warm <command> --help' for the options of one command.\n", f);
}

static int cli_unknown_command(const char *name) {
    const char *names[CLI_NCOMMANDS + 1];
    for (int i = 0; i < CLI_NCOMMANDS; i++) names[i] = cli_commands[i].name;
    names[CLI_NCOMMANDS] = NULL;
    const char *near = warm_opts_suggest(name, names);
    if (name[0] == '-') cli_error(NULL, "unknown option %s", name);
    else if (near) cli_error(NULL, "unknown command '%s' (did you mean '%s'?)", name, near);
    else cli_error(NULL, "unknown command '%s'", name);
    fputs("Run 'warm --help' for the list of commands.\n", stderr);
    return CLI_EXIT_USAGE;
}

/* `warm help [CMD]`: the command list, or CMD's own help. */
static int cli_help(int argc, char **argv) {
    if (argc < 2) {
        cli_print_commands(stdout);
        return CLI_EXIT_OK;
    }
    const warm_cli_command *c = cli_find(argv[1]);
    if (!c) return cli_unknown_command(argv[1]);
    char help_flag[] = "--help";
    char *sub_argv[] = {argv[1], help_flag, NULL};
    return c->run(2, sub_argv);
}

static int cli_dispatch(int argc, char **argv) {
    if (argc < 2) {
        cli_print_commands(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *word = argv[1];
    if (strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0 || strcmp(word, "help") == 0)
        return cli_help(argc - 1, argv + 1);
    if (strcmp(word, "--version") == 0) {
        char version[] = "version";
        char *sub_argv[] = {version, NULL};
        return cli_cmd_version(1, sub_argv);
    }
    const warm_cli_command *c = cli_find(word);
    if (!c) return cli_unknown_command(word);
    int ranks = warm_dist_launched();
    if (ranks > 1 && !cli_runs_under_mpi(c->name)) {
        /* Every rank would run the whole command and write the same outputs. */
        cli_error(c->name, "started as one of %d MPI processes: only train-rm, sweep and merge run under mpirun "
                  "(docs/scale.md); run this command once, without mpirun", ranks);
        return CLI_EXIT_USAGE;
    }
    return c->run(argc - 1, argv + 1);
}

int main(int argc, char **argv) {
    int rc = cli_dispatch(argc, argv);
    /* A full disk or closed pipe on stdout must not look like success (`warm inspect x > /dev/full`). */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error(NULL, "error writing to standard output");
        if (rc == CLI_EXIT_OK) rc = CLI_EXIT_FAILURE;
    }
    return rc;
}
