/*
 * cli.h — what the `warm` subcommands share: the dispatch-table entry type, uniform option parsing with
 * --help, error printing and exit codes. Internal to src/cli (prefix cli_); the logic lives in the library.
 *
 * Adding a command `foo`:
 *   1. write src/cli/cmd_foo.c with `int cli_cmd_foo(int argc, char **argv)` (argv[0] == "foo");
 *   2. declare it below, in the marked block;
 *   3. add one row {"foo", "one-line summary", cli_cmd_foo} to the table in main.c.
 *
 * A command's skeleton:
 *
 *     int cli_cmd_foo(int argc, char **argv) {
 *         const char *out = NULL;
 *         double lr = 0;
 *         warm_opt opts[] = {
 *             {.name = "out", .short_name = 'o', .kind = WARM_OPT_STRING, .dest = &out, .metavar = "PATH",
 *              .help = "output file", .required = 1},
 *             {.name = "lr", .kind = WARM_OPT_DOUBLE, .dest = &lr, .min = 0, .max = 10, .def = "1e-5",
 *              .help = "learning rate"},
 *         };
 *         warm_opts_cmd cmd = {.prog = "warm", .name = "foo", .desc = "Does foo.", .args = "IN",
 *                              .min_args = 1, .max_args = 1, .opts = opts, .nopts = CLI_NOPTS(opts)};
 *         warm_opts_result res;
 *         int rc = cli_parse(&cmd, argc, argv, &res);
 *         if (rc != CLI_PARSE_OK) return cli_parse_exit(rc);
 *         warm_error err = {0};
 *         warm_status st = ...library call with res.args[0], out, lr, &err...;
 *         warm_opts_free(&cmd, &res);
 *         return st == WARM_OK ? CLI_EXIT_OK : cli_fail("foo", &err);
 *     }
 */
#ifndef WARM_CLI_H
#define WARM_CLI_H

#include "warm/core.h"
#include "warm/data.h"
#include "warm/eval.h"
#include "warm/dist.h"
#include "warm/opts.h"
#include "warm/tokenizer.h"

typedef struct {
    const char *name;                  /* subcommand word: `warm <name>` */
    const char *summary;               /* one line for `warm --help` */
    int (*run)(int argc, char **argv); /* argv[0] is the name; returns an exit code (CLI_EXIT_*) */
} warm_cli_command;

/* Exit codes of the `warm` process. */
enum {
    CLI_EXIT_OK = 0,      /* success (also after --help) */
    CLI_EXIT_FAILURE = 1, /* runtime failure: I/O, bad file, out of memory, numerical trouble */
    CLI_EXIT_USAGE = 2,   /* bad command line */
};

/* Results of cli_parse. */
enum {
    CLI_PARSE_OK = 0,    /* options parsed; caller owns res: warm_opts_free(cmd, res) when done */
    CLI_PARSE_HELP = 1,  /* help printed to stdout; nothing to free; exit 0 */
    CLI_PARSE_ERROR = -1 /* "warm <cmd>: <message>" printed to stderr; nothing to free; exit 2 */
};

#define CLI_NOPTS(opts) ((int)(sizeof(opts) / sizeof((opts)[0])))

/*
 * Parses a command's argv with warm_opts_parse; prints the help on -h/--help (stdout), or the error and a
 * pointer to --help (stderr).
 */
int cli_parse(const warm_opts_cmd *cmd, int argc, char **argv, warm_opts_result *res);

/* The process exit code for a non-OK cli_parse result: 0 after help, 2 after an error. */
static inline int cli_parse_exit(int parse_rc) { return parse_rc == CLI_PARSE_HELP ? CLI_EXIT_OK : CLI_EXIT_USAGE; }

/* Prints "warm <cmd>: <message>\n" to stderr. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints a library error as "warm <cmd>: <err->msg>" and returns CLI_EXIT_FAILURE (or CLI_EXIT_USAGE when
 * err->code is WARM_ERR_ARG, i.e. the user passed a bad value the parser could not see). */
int cli_fail(const char *cmd, const warm_error *err);
/* A byte count: "500000000", "5GB", "2GiB", "100M" (decimal K/M/G/T, binary Ki/Mi/Gi/Ti; a trailing B optional);
 * 0 on success, -1 when s is not one. */
int cli_parse_size(const char *s, uint64_t *out);

/* ---- reward-model lists and prompt files (rmspec.c; warm bon, warm rl) ---- */

#define CLI_RM_MAX_MEMBERS 32
typedef struct {
    int n;
    char *path[CLI_RM_MAX_MEMBERS]; /* malloc'd */
    int ens;                        /* warm_ens_kind of several members (default mean) */
} cli_rm_spec;
/* Parses list = "RM[,RM...][:ens=mean|min|mean-std]"; usage errors "opt spec: ..." go to stderr (0 returned). */
int cli_rm_spec_parse(const char *cmd, const char *opt, const char *spec, const char *list, cli_rm_spec *out);
void cli_rm_spec_free(cli_rm_spec *s);

/* Prompts of a JSONL file ("prompt" text, optional "id"), tokenised back to back. Zero-initialise. */
typedef struct {
    warm_ids ids;  /* tokens */
    int64_t *off;  /* (P) */
    int *len;      /* (P) */
    char **id;     /* (P) ids (NULL entries when absent) */
    int P;
} cli_prompts;
/* Reads up to limit (<= 0: all) prompts; each must leave room for max_new tokens in the context ctx. */
warm_status cli_prompts_read(cli_prompts *s, const char *path, const warm_tokenizer *tok, int ctx, int max_new,
                             int limit, warm_error *err);
void cli_prompts_free(cli_prompts *s);

/*
 * The --tokenizer option of every command that reads text (one spec, so the spelling, metavar and help
 * agree everywhere). The value goes to warm_tok_open: "gpt2" (GPT-2 BPE files from $WARM_GPT2_DIR, else
 * $WARM_SHARED_DATA/gpt2-tokenizer, else ../shared/data/gpt2-tokenizer), a tokenizer file (warm's word
 * vocabulary or a Hugging Face tokenizer.json) or a directory of GPT-2 / Hugging Face files. `when` is the
 * command's own first phrase of the help ("for text rows", ...).
 */
#define CLI_OPT_TOKENIZER(dest_, required_, when_)                                                            \
    {.name = "tokenizer", .kind = WARM_OPT_STRING, .dest = (dest_), .metavar = "gpt2|FILE|DIR",              \
     .required = (required_),                                                                                 \
     .help = "tokenizer " when_ ": gpt2 (GPT-2 BPE), a tokenizer.json (warm's word vocabulary or "             \
             "Hugging Face BPE) or a directory of GPT-2 / Hugging Face tokenizer files"}

/* ---- figures (plot.c) ---- */

/* Full path of an executable named prog on PATH, into buf; 0 when there is none. */
int cli_find_on_path(const char *prog, char *buf, size_t n);

/* A file of the repository, e.g. "scripts/plot_lmc.gp": rel itself when readable (or when given = 1: the user
 * named it, no fallback), else the copy beside the build the binary came from (build/<mode>/warm ->
 * ../../rel). 1 when found (path in buf), else 0. */
int cli_find_repo_file(const char *rel, int given, char *buf, size_t n);

/* Runs `gnuplot -c script args...` (at most 8 args) and waits; 0 when it exited with status 0. */
int cli_run_gnuplot(const char *gnuplot, const char *script, const char *const *args, int nargs);

/* ---- command entry points: one line per command, in the same order as the table in main.c ---- */
int cli_cmd_version(int argc, char **argv);
int cli_cmd_init(int argc, char **argv);
int cli_cmd_export(int argc, char **argv);
int cli_cmd_inspect(int argc, char **argv);
int cli_cmd_pretrain(int argc, char **argv);
int cli_cmd_sft(int argc, char **argv);
int cli_cmd_sample(int argc, char **argv);
int cli_cmd_task(int argc, char **argv);
int cli_cmd_merge(int argc, char **argv);
int cli_cmd_probe(int argc, char **argv);
int cli_cmd_train_rm(int argc, char **argv);
/* train-rm with the ranks that train this member together (NULL: this process alone): `warm sweep` under
 * mpirun runs its members in-process through this. */
int cli_train_rm_with(int argc, char **argv, warm_dist *dist);
int cli_cmd_sweep(int argc, char **argv);
int cli_cmd_eval(int argc, char **argv);
int cli_cmd_score(int argc, char **argv);
int cli_cmd_lmc(int argc, char **argv);
int cli_cmd_bon(int argc, char **argv);
int cli_cmd_rl(int argc, char **argv);
int cli_cmd_rl_eval(int argc, char **argv);
int cli_cmd_toy(int argc, char **argv);
int cli_cmd_demo(int argc, char **argv);
int cli_cmd_report(int argc, char **argv);
int cli_cmd_tokenize(int argc, char **argv);
/* ---- add new commands above this line (cli_cmd_init, cli_cmd_inspect, ...) ---- */

#endif
