/*
 * warm/opts.h — table-driven command-line option parser and help formatter.
 *
 * A command describes its options as an array of warm_opt specs (long name, optional short alias, kind,
 * destination, inclusive range, metavar, help, default text, required). warm_opts_parse walks argv once:
 *
 *   --name value, --name=value   long options (exact names only; no abbreviations)
 *   -x value, -xvalue, -x=value  short aliases, where a spec has one
 *   --flag                       FLAG options take no value
 *   --                           everything after it is a positional argument
 *   -h, --help                   stops parsing and sets res->help (the caller prints the help)
 *   anything else                a positional argument ("-" alone is one too: stdin/stdout)
 *
 * A value given as a separate argument may not start with "--" (so `--out --lr 1e-5` is reported as a
 * missing value instead of writing a file called "--lr"); `--out=--odd` passes such a value on purpose.
 * Repeating a scalar option is allowed: the last value wins. Unknown options are rejected with the closest
 * known name when it is within edit distance 2.
 *
 * Numbers go through strtoll/strtod with an end pointer and errno: empty strings, trailing junk, leading
 * blanks, nan/inf, values that overflow the destination type (1e999, 2^31 for an int) and values outside
 * [min, max] are errors whose message names the option, e.g.
 *     --lr: "abc" is not a number
 *     --lr: 1e999 is out of range [0, 10]
 *     unknown option --lrr (did you mean --lr?)
 * Messages carry no program prefix; the CLI prints them as "warm <cmd>: <message>".
 *
 * Defaults: a spec's `def` text is parsed into *dest before argv is read, with the same rules, and is what
 * help shows, so the table is the one source of truth. With def == NULL, *dest keeps the caller's value.
 *
 * Memory: list options (FLOAT_LIST, INT_LIST, STRING_LIST) allocate. Their destinations must start zeroed
 * ({0}). After a successful parse without help the caller releases them with warm_opts_free; when
 * warm_opts_parse fails or sees --help it has already released everything itself. STRING destinations
 * point into argv or into the spec's def text (not copied); STRING_LIST elements are copies.
 *
 * Specs are checked with WARM_CHECK (unique names, a destination, choices for CHOICE, no "help"/'h'):
 * a malformed table is a programmer error, not a user error.
 */
#ifndef WARM_OPTS_H
#define WARM_OPTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "warm/core.h"

typedef enum {
    WARM_OPT_FLAG,        /* int *: set to 1 when given; takes no value */
    WARM_OPT_INT,         /* int * */
    WARM_OPT_INT64,       /* int64_t * */
    WARM_OPT_FLOAT,       /* float * (finite, representable as float) */
    WARM_OPT_DOUBLE,      /* double * (finite) */
    WARM_OPT_STRING,      /* const char ** (points into argv / def; not copied) */
    WARM_OPT_CHOICE,      /* int *: index into the spec's NULL-terminated choices */
    WARM_OPT_FLOAT_LIST,  /* warm_opt_list *: comma-separated finite doubles -> f64[n] */
    WARM_OPT_INT_LIST,    /* warm_opt_list *: comma-separated integers -> i64[n] */
    WARM_OPT_STRING_LIST, /* warm_opt_list *: comma-separated non-empty strings -> str[n] (copies) */
} warm_opt_kind;

/* Destination of a list option. Start zeroed; released by warm_opts_free. Empty elements are errors. */
typedef struct {
    int n;          /* number of elements (>= 1 once set) */
    double *f64;    /* FLOAT_LIST: (n) */
    int64_t *i64;   /* INT_LIST: (n) */
    char **str;     /* STRING_LIST: (n) NUL-terminated copies, one allocation with the pointer array */
} warm_opt_list;

typedef struct {
    const char *name;             /* long name without dashes, e.g. "lr" (required, unique) */
    char short_name;              /* alias letter, e.g. 'o' for -o; 0: none ('h' is reserved for help) */
    warm_opt_kind kind;
    void *dest;                   /* see warm_opt_kind for the pointed-to type */
    double min, max;              /* when min < max: numbers and list elements must lie in [min, max] */
    const char *const *choices;   /* CHOICE: NULL-terminated list of accepted words */
    const char *metavar;          /* value name in help ("PATH"); NULL: derived from the kind */
    const char *help;             /* one sentence; may contain '\n'; wrapped in the help output */
    const char *def;              /* default as text, parsed into *dest first and shown; NULL: none */
    int required;                 /* 1: must appear on the command line */
    int seen;                     /* out: times the option was given on the command line */
} warm_opt;

#define WARM_OPTS_UNLIMITED (-1)

typedef struct {
    const char *prog;      /* program prefix for the usage line, e.g. "warm"; NULL: none */
    const char *name;      /* command name, e.g. "train-rm" */
    const char *desc;      /* description printed verbatim under the usage line; NULL: none */
    const char *args;      /* positional usage text, e.g. "CKPT..." ; NULL: none */
    int min_args;          /* fewest positional arguments accepted */
    int max_args;          /* most positional arguments; 0: none; WARM_OPTS_UNLIMITED: no limit */
    warm_opt *opts;        /* (nopts) option specs; may be NULL when nopts == 0 */
    int nopts;
    const char *epilog;    /* printed verbatim after the options (examples); NULL: none */
} warm_opts_cmd;

typedef struct {
    int help;       /* 1: -h/--help was given; nothing after it was read and nothing needs freeing */
    int nargs;      /* number of positional arguments */
    char **args;    /* (nargs) positional arguments in order, pointing into argv; array owned here */
} warm_opts_result;

/*
 * Parses argv[1..argc) (argv[0] is the command name and is skipped) against cmd. Applies defaults, then
 * options, then checks required options and the positional count. On WARM_ERR_ARG / WARM_ERR_NOMEM err holds
 * the message and all allocations are already released. On WARM_OK with res->help == 0 the caller owns the
 * list values and res->args: release them with warm_opts_free(cmd, res).
 */
warm_status warm_opts_parse(const warm_opts_cmd *cmd, int argc, char **argv, warm_opts_result *res,
                            warm_error *err);

/* Releases list destinations of cmd's options (zeroing them) and res->args. Idempotent; res may be NULL. */
void warm_opts_free(const warm_opts_cmd *cmd, warm_opts_result *res);

/* Writes the command's help (usage, description, options with metavar, default, range, epilog) to f. */
void warm_opts_print_help(FILE *f, const warm_opts_cmd *cmd);

/* Writes the one-line "usage: prog name [options] ARGS" to f. */
void warm_opts_print_usage(FILE *f, const warm_opts_cmd *cmd);

/*
 * Optimal-string-alignment edit distance (insertions, deletions, substitutions and adjacent transpositions
 * cost 1), case-sensitive. Strings longer than 64 bytes compare as distance 1000.
 */
int warm_opts_edit_distance(const char *a, const char *b);

/*
 * The candidate closest to word, if its distance is <= 2 and smaller than strlen(word) (so that a one-letter
 * typo is not "corrected" into an unrelated name); NULL otherwise. cands is NULL-terminated.
 */
const char *warm_opts_suggest(const char *word, const char *const *cands);

#endif
