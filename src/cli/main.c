/*
 * main.c — the `warm` command: `warm <command> [options]`.
 *
 * Dispatch is one const table of {name, summary, run}; main finds the command and calls run(argc-1,
 * argv+1), so every command sees its own name as argv[0]. Top-level words: --help/-h/help [CMD] list
 * the commands (or show one command's help), --version/version print the version. An unknown command is
 * a usage error (exit 2) with the closest name suggested. Exit codes: 0 ok, 1 runtime failure, 2 usage.
 * Also here: cli_parse / cli_error / cli_fail shared by the commands (declared in cli.h).
 */
#include <stdarg.h>
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
    {"bon", "best-of-n with a control reward: unbiased pool estimator, KL, win rates, per selector", cli_cmd_bon},
    {"toy", "C17: Monte-Carlo check of the bag-of-features toy model (ENS ~ p_j, WA ~ p_j^2)", cli_cmd_toy},
    {"report", "write report.md of a demo run: the paper's claims C1-C11, C17 computed from the run's files", cli_cmd_report},
    {"tokenize", "text to token ids and back (GPT-2 byte-level BPE or a task vocabulary)", cli_cmd_tokenize},
    {"init", "write a freshly initialised GPT-2 model (safetensors)", cli_cmd_init},
    {"inspect", "validate safetensors files and list tensors, dtypes, shapes, config", cli_cmd_inspect},
    {"version", "print the version and build information", cli_cmd_version},
};
#define CLI_NCOMMANDS ((int)(sizeof cli_commands / sizeof cli_commands[0]))

void cli_error(const char *cmd, const char *fmt, ...) {
    fprintf(stderr, "warm%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
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
