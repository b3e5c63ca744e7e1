/*
 * test_opts.c — option parser (src/core/opts.c) and progress reporter (src/core/progress.c).
 *
 * Parser: every error case asserts that the message names the option and says what is wrong; the two
 * value syntaxes agree; ranges are inclusive; defaults come from the table; lists, choices, flags,
 * positional limits, "--" and help output. The list options allocate, so the ASan build also checks that
 * repeats, errors and --help leak nothing.
 * Progress: time is injected through the *_at functions, so the ETA arithmetic and the exact lines are
 * checked without sleeping; output goes to a tmpfile (never a tty) read back as text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warm/opts.h"
#include "warm/progress.h"

/* ---------------------------------------------------------------------------------------------------- */
/* Fixtures                                                                                              */

#define MAX_WORDS 24

/* A mutable argv built from string literals; parsed strings point into it, so it outlives the parse. */
typedef struct {
    int argc;
    char *argv[MAX_WORDS + 1];
    char text[MAX_WORDS][160];
} test_args;

static void args_fill(test_args *a, const char *const *words) {
    memset(a, 0, sizeof *a);
    for (a->argc = 0; words[a->argc]; a->argc++) {
        assert_true(a->argc < MAX_WORDS);
        snprintf(a->text[a->argc], sizeof a->text[0], "%s", words[a->argc]);
        a->argv[a->argc] = a->text[a->argc];
    }
}

static const char *const merge_choices[] = {"uniform", "weighted", "slerp", NULL};

/* One command with an option of every kind; destinations live beside the table. */
typedef struct {
    double lr;
    int steps;
    int64_t seed;
    const char *out;
    int verbose;
    float scale;
    int merge;
    warm_opt_list lrs, seeds, names;
    warm_opt opts[10];
    warm_opts_cmd cmd;
    warm_opts_result res;
    warm_error err;
    test_args args;
} fixture;

static void fixture_init(fixture *f, int min_args, int max_args) {
    memset(f, 0, sizeof *f);
    f->seed = 7; /* no def: the caller's value stays */
    warm_opt opts[10] = {
        {.name = "lr", .kind = WARM_OPT_DOUBLE, .dest = &f->lr, .min = 0, .max = 10, .def = "1e-5",
         .metavar = "LR", .help = "learning rate"},
        {.name = "steps", .kind = WARM_OPT_INT, .dest = &f->steps, .min = 1, .max = 1000000, .def = "100",
         .help = "training steps"},
        {.name = "seed", .kind = WARM_OPT_INT64, .dest = &f->seed, .help = "random seed"},
        {.name = "out", .short_name = 'o', .kind = WARM_OPT_STRING, .dest = &f->out, .metavar = "PATH",
         .help = "output checkpoint"},
        {.name = "verbose", .short_name = 'v', .kind = WARM_OPT_FLAG, .dest = &f->verbose,
         .help = "say more"},
        {.name = "scale", .kind = WARM_OPT_FLOAT, .dest = &f->scale, .def = "1", .help = "scale factor"},
        {.name = "merge", .kind = WARM_OPT_CHOICE, .dest = &f->merge, .choices = merge_choices,
         .def = "uniform", .help = "how to merge"},
        {.name = "lrs", .kind = WARM_OPT_FLOAT_LIST, .dest = &f->lrs, .min = 0, .max = 1,
         .def = "1e-5,4e-5,1e-4", .help = "learning rates of the members"},
        {.name = "seeds", .kind = WARM_OPT_INT_LIST, .dest = &f->seeds, .help = "member seeds"},
        {.name = "names", .kind = WARM_OPT_STRING_LIST, .dest = &f->names, .help = "member names"},
    };
    memcpy(f->opts, opts, sizeof opts);
    f->cmd = (warm_opts_cmd){.prog = "warm", .name = "demo", .desc = "A demo command.", .args = "IN...",
                             .min_args = min_args, .max_args = max_args, .opts = f->opts, .nopts = 10};
}

/* Parses "demo" + words (NULL-terminated). */
static warm_status fixture_parse(fixture *f, const char *const *words) {
    const char *all[MAX_WORDS + 1] = {"demo"};
    int n = 1;
    while (words[n - 1]) {
        assert_true(n < MAX_WORDS);
        all[n] = words[n - 1];
        n++;
    }
    all[n] = NULL;
    args_fill(&f->args, all);
    memset(&f->err, 0, sizeof f->err);
    return warm_opts_parse(&f->cmd, f->args.argc, f->args.argv, &f->res, &f->err);
}

#define PARSE(f, ...) fixture_parse((f), (const char *const[]){__VA_ARGS__, NULL})
#define PARSE0(f) fixture_parse((f), (const char *const[]){NULL})

static void fixture_done(fixture *f) { warm_opts_free(&f->cmd, &f->res); }

/* Asserts that parsing fails with WARM_ERR_ARG and that the message contains every given substring. */
static void expect_error_(fixture *f, warm_status st, const char *const *needles) {
    if (st != WARM_ERR_ARG) fail_msg("expected WARM_ERR_ARG, got %d (%s)", (int)st, f->err.msg);
    for (int i = 0; needles[i]; i++)
        if (!strstr(f->err.msg, needles[i])) fail_msg("message \"%s\" lacks \"%s\"", f->err.msg, needles[i]);
    /* Failed parses release everything themselves. */
    assert_null(f->res.args);
    assert_null(f->lrs.f64);
    assert_int_equal(f->lrs.n, 0);
}
#define EXPECT_ERROR(f, st, ...) expect_error_((f), (st), (const char *const[]){__VA_ARGS__, NULL})

/* ---------------------------------------------------------------------------------------------------- */
/* Parser: values                                                                                        */

static void test_defaults(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 0, 0);
    assert_int_equal(PARSE0(&f), WARM_OK);
    assert_true(f.lr == 1e-5);
    assert_int_equal(f.steps, 100);
    assert_int_equal(f.seed, 7);
    assert_null(f.out);
    assert_int_equal(f.verbose, 0);
    assert_true(f.scale == 1.0f);
    assert_int_equal(f.merge, 0);
    assert_int_equal(f.lrs.n, 3);
    assert_int_equal(f.seeds.n, 0);
    for (int i = 0; i < 10; i++) assert_int_equal(f.opts[i].seen, 0);
    assert_int_equal(f.res.help, 0);
    assert_int_equal(f.res.nargs, 0);
    fixture_done(&f);
    assert_int_equal(f.lrs.n, 0);
    assert_null(f.lrs.f64);
}

static void test_equals_and_space_forms_agree(void **state) {
    (void)state;
    fixture a, b;
    fixture_init(&a, 0, 0);
    fixture_init(&b, 0, 0);
    assert_int_equal(PARSE(&a, "--lr=0.5", "--steps=42", "--seed=-3", "--out=x.st", "--scale=2.5",
                           "--merge=slerp", "--lrs=0.1,0.2", "--names=a,b"), WARM_OK);
    assert_int_equal(PARSE(&b, "--lr", "0.5", "--steps", "42", "--seed", "-3", "--out", "x.st", "--scale",
                           "2.5", "--merge", "slerp", "--lrs", "0.1,0.2", "--names", "a,b"), WARM_OK);
    assert_true(a.lr == 0.5 && b.lr == 0.5);
    assert_int_equal(a.steps, 42);
    assert_int_equal(b.steps, 42);
    assert_int_equal(a.seed, -3);
    assert_int_equal(b.seed, -3);
    assert_string_equal(a.out, "x.st");
    assert_string_equal(b.out, "x.st");
    assert_true(a.scale == 2.5f && b.scale == 2.5f);
    assert_int_equal(a.merge, 2);
    assert_int_equal(b.merge, 2);
    assert_int_equal(a.lrs.n, 2);
    assert_int_equal(b.lrs.n, 2);
    assert_true(a.lrs.f64[1] == 0.2 && b.lrs.f64[1] == 0.2);
    assert_string_equal(a.names.str[1], "b");
    assert_string_equal(b.names.str[1], "b");
    fixture_done(&a);
    fixture_done(&b);
}

static void test_short_aliases(void **state) {
    (void)state;
    const char *const forms[][3] = {{"-o", "p1", NULL}, {"-op1", NULL, NULL}, {"-o=p1", NULL, NULL}};
    for (int i = 0; i < 3; i++) {
        fixture f;
        fixture_init(&f, 0, 0);
        assert_int_equal(fixture_parse(&f, forms[i]), WARM_OK);
        assert_string_equal(f.out, "p1");
        assert_int_equal(f.opts[3].seen, 1);
        fixture_done(&f);
    }
    fixture f;
    fixture_init(&f, 0, 0);
    EXPECT_ERROR(&f, PARSE(&f, "-x"), "unknown option -x");
    EXPECT_ERROR(&f, PARSE(&f, "-o"), "--out: missing value");
    EXPECT_ERROR(&f, PARSE(&f, "-vq"), "unknown option -vq");
}

static void test_number_errors_name_the_option(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 0, 0);
    EXPECT_ERROR(&f, PARSE(&f, "--lr", "abc"), "--lr: \"abc\" is not a number");
    EXPECT_ERROR(&f, PARSE(&f, "--lr="), "--lr: \"\" is not a number");
    EXPECT_ERROR(&f, PARSE(&f, "--lr", ""), "--lr: \"\" is not a number");
    EXPECT_ERROR(&f, PARSE(&f, "--lr", "1e999"), "--lr: 1e999 is out of range [0, 10]");
    EXPECT_ERROR(&f, PARSE(&f, "--lr", "nan"), "--lr: \"nan\" is not a finite number");
    EXPECT_ERROR(&f, PARSE(&f, "--lr", "inf"), "--lr", "not a finite number");
    EXPECT_ERROR(&f, PARSE(&f, "--lr", "-inf"), "--lr", "not a finite number");
    EXPECT_ERROR(&f, PARSE(&f, "--lr", "0.1x"), "--lr: \"0.1x\" is not a number");
    EXPECT_ERROR(&f, PARSE(&f, "--lr", " 0.1"), "--lr", "is not a number");
    EXPECT_ERROR(&f, PARSE(&f, "--lr", "11"), "--lr: 11 is out of range [0, 10]");
    EXPECT_ERROR(&f, PARSE(&f, "--lr", "-1e-9"), "--lr: -1e-9 is out of range [0, 10]");
    EXPECT_ERROR(&f, PARSE(&f, "--steps", "1.5"), "--steps: \"1.5\" is not an integer");
    EXPECT_ERROR(&f, PARSE(&f, "--steps", "12abc"), "--steps: \"12abc\" is not an integer");
    EXPECT_ERROR(&f, PARSE(&f, "--steps", "0"), "--steps: 0 is out of range [1, 1000000]");
    EXPECT_ERROR(&f, PARSE(&f, "--steps", "99999999999999999999"), "--steps", "out of range");
    EXPECT_ERROR(&f, PARSE(&f, "--seed", "9223372036854775808"), "--seed", "out of range for a 64-bit integer");
    EXPECT_ERROR(&f, PARSE(&f, "--scale", "1e39"), "--scale: 1e39 is out of range for a float");
    EXPECT_ERROR(&f, PARSE(&f, "--scale", "1e-50"), "--scale: 1e-50 is out of range for a float");
    EXPECT_ERROR(&f, PARSE(&f, "--seed", "1e400"), "--seed: \"1e400\" is not an integer");
    /* An int destination without a range still rejects values that do not fit 32 bits. */
    f.opts[1].min = f.opts[1].max = 0;
    EXPECT_ERROR(&f, PARSE(&f, "--steps", "2147483648"), "--steps: 2147483648 is out of range for a 32-bit integer");
    /* A failed value leaves no trace: a good parse afterwards sees the defaults again. */
    assert_int_equal(PARSE(&f, "--seed", "9223372036854775807", "--steps", "-2147483648"), WARM_OK);
    assert_true(f.seed == INT64_MAX);
    assert_int_equal(f.steps, -2147483647 - 1);
    fixture_done(&f);
}

static void test_ranges_are_inclusive(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 0, 0);
    assert_int_equal(PARSE(&f, "--lr", "0", "--steps", "1"), WARM_OK);
    assert_true(f.lr == 0.0);
    assert_int_equal(f.steps, 1);
    fixture_done(&f);
    assert_int_equal(PARSE(&f, "--lr", "10", "--steps", "1000000"), WARM_OK);
    assert_true(f.lr == 10.0);
    assert_int_equal(f.steps, 1000000);
    fixture_done(&f);
    EXPECT_ERROR(&f, PARSE(&f, "--lr", "10.000001"), "--lr", "out of range [0, 10]");
    EXPECT_ERROR(&f, PARSE(&f, "--steps", "1000001"), "--steps", "out of range [1, 1000000]");
}

static void test_repeated_option_last_wins(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 0, 0);
    assert_int_equal(PARSE(&f, "--lr", "1", "--lr=2", "--lrs", "0.1", "--lrs", "0.2,0.3", "-o", "a", "--out",
                           "b"), WARM_OK);
    assert_true(f.lr == 2.0);
    assert_int_equal(f.opts[0].seen, 2);
    assert_int_equal(f.lrs.n, 2);
    assert_true(f.lrs.f64[0] == 0.2);
    assert_string_equal(f.out, "b");
    fixture_done(&f);
}

static void test_unknown_option_suggests(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 0, 0);
    EXPECT_ERROR(&f, PARSE(&f, "--lrr", "1"), "unknown option --lrr", "(did you mean --lr?)");
    EXPECT_ERROR(&f, PARSE(&f, "--setps=5"), "unknown option --setps", "did you mean --steps?");
    EXPECT_ERROR(&f, PARSE(&f, "--hlep"), "did you mean --help?");
    EXPECT_ERROR(&f, PARSE(&f, "--learning-rate", "1"), "unknown option --learning-rate");
    assert_null(strstr(f.err.msg, "did you mean"));
    EXPECT_ERROR(&f, PARSE(&f, "--x"), "unknown option --x");
    assert_null(strstr(f.err.msg, "did you mean"));
    EXPECT_ERROR(&f, PARSE(&f, "--help=1"), "--help takes no value");
}

static void test_missing_value(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 0, 0);
    EXPECT_ERROR(&f, PARSE(&f, "--lr"), "--lr: missing value");
    EXPECT_ERROR(&f, PARSE(&f, "--out", "--lr", "1"), "--out: missing value", "--lr");
    EXPECT_ERROR(&f, PARSE(&f, "--out", "--"), "--out: missing value");
    /* Values that look like options are accepted with '=' and single-dash values are fine. */
    assert_int_equal(PARSE(&f, "--out=--lr", "--seed", "-5"), WARM_OK);
    assert_string_equal(f.out, "--lr");
    assert_int_equal(f.seed, -5);
    fixture_done(&f);
    assert_int_equal(PARSE(&f, "--out", "-"), WARM_OK);
    assert_string_equal(f.out, "-");
    fixture_done(&f);
}

static void test_flags(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 0, 0);
    assert_int_equal(PARSE(&f, "--verbose"), WARM_OK);
    assert_int_equal(f.verbose, 1);
    fixture_done(&f);
    f.verbose = 0;
    assert_int_equal(PARSE(&f, "-v"), WARM_OK);
    assert_int_equal(f.verbose, 1);
    fixture_done(&f);
    EXPECT_ERROR(&f, PARSE(&f, "--verbose=1"), "--verbose takes no value");
}

static void test_choice(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 0, 0);
    assert_int_equal(PARSE(&f, "--merge", "weighted"), WARM_OK);
    assert_int_equal(f.merge, 1);
    fixture_done(&f);
    EXPECT_ERROR(&f, PARSE(&f, "--merge", "unifrom"), "--merge: \"unifrom\" is not one of uniform, weighted, slerp",
                 "did you mean uniform?");
    EXPECT_ERROR(&f, PARSE(&f, "--merge", "mean"), "--merge", "is not one of");
    assert_null(strstr(f.err.msg, "did you mean"));
    EXPECT_ERROR(&f, PARSE(&f, "--merge", "Uniform"), "--merge");
}

static void test_lists(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 0, 0);
    assert_int_equal(PARSE(&f, "--lrs", "1e-5,4e-5,1e-4", "--seeds", "1,-2,3", "--names", "a,bb,c"), WARM_OK);
    assert_int_equal(f.lrs.n, 3);
    assert_true(f.lrs.f64[0] == 1e-5 && f.lrs.f64[1] == 4e-5 && f.lrs.f64[2] == 1e-4);
    assert_int_equal(f.seeds.n, 3);
    assert_int_equal(f.seeds.i64[1], -2);
    assert_int_equal(f.names.n, 3);
    assert_string_equal(f.names.str[0], "a");
    assert_string_equal(f.names.str[1], "bb");
    assert_string_equal(f.names.str[2], "c");
    fixture_done(&f);
    assert_int_equal(PARSE(&f, "--lrs", "0.5"), WARM_OK);
    assert_int_equal(f.lrs.n, 1);
    fixture_done(&f);

    EXPECT_ERROR(&f, PARSE(&f, "--lrs", "1e-5,,2"), "--lrs: empty element 2");
    EXPECT_ERROR(&f, PARSE(&f, "--lrs", ",1e-5"), "--lrs: empty element 1");
    EXPECT_ERROR(&f, PARSE(&f, "--lrs", "1e-5,"), "--lrs: empty element 2");
    EXPECT_ERROR(&f, PARSE(&f, "--lrs="), "--lrs: empty list");
    EXPECT_ERROR(&f, PARSE(&f, "--lrs", "0.5,abc"), "--lrs: element 2: \"abc\" is not a number");
    EXPECT_ERROR(&f, PARSE(&f, "--lrs", "0.5,nan"), "--lrs: element 2", "not a finite number");
    EXPECT_ERROR(&f, PARSE(&f, "--lrs", "0.5,2"), "--lrs: element 2: 2 is out of range [0, 1]");
    EXPECT_ERROR(&f, PARSE(&f, "--seeds", "1,2.5"), "--seeds: element 2: \"2.5\" is not an integer");
    EXPECT_ERROR(&f, PARSE(&f, "--names", "a,,b"), "--names: empty element 2");
    /* A bad repeat after a good one must not leak the first value (checked by ASan). */
    EXPECT_ERROR(&f, PARSE(&f, "--lrs", "0.1,0.2", "--lrs", "x"), "--lrs: element 1");
}

/* ---------------------------------------------------------------------------------------------------- */
/* Parser: positionals, required, help                                                                   */

static void test_positionals(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 0, 0);
    EXPECT_ERROR(&f, PARSE(&f, "a.st"), "unexpected argument \"a.st\"");

    fixture_init(&f, 1, 2);
    assert_int_equal(PARSE(&f, "a", "--lr", "1", "b"), WARM_OK);
    assert_int_equal(f.res.nargs, 2);
    assert_string_equal(f.res.args[0], "a");
    assert_string_equal(f.res.args[1], "b");
    assert_true(f.lr == 1.0);
    fixture_done(&f);
    EXPECT_ERROR(&f, PARSE(&f, "a", "b", "c"), "too many arguments: \"c\" (at most 2)");
    EXPECT_ERROR(&f, PARSE(&f, "--lr", "1"), "missing argument IN... (need at least 1, got 0)");

    fixture_init(&f, 0, WARM_OPTS_UNLIMITED);
    assert_int_equal(PARSE(&f, "a", "b", "c", "d", "e", "-", "f"), WARM_OK);
    assert_int_equal(f.res.nargs, 7);
    assert_string_equal(f.res.args[5], "-");
    fixture_done(&f);
}

static void test_double_dash(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 0, WARM_OPTS_UNLIMITED);
    assert_int_equal(PARSE(&f, "--lr", "2", "--", "--lr", "3", "-v", "--help"), WARM_OK);
    assert_true(f.lr == 2.0);
    assert_int_equal(f.verbose, 0);
    assert_int_equal(f.res.help, 0);
    assert_int_equal(f.res.nargs, 4);
    assert_string_equal(f.res.args[0], "--lr");
    assert_string_equal(f.res.args[3], "--help");
    fixture_done(&f);
    /* A second "--" is an ordinary argument. */
    assert_int_equal(PARSE(&f, "--", "--"), WARM_OK);
    assert_int_equal(f.res.nargs, 1);
    assert_string_equal(f.res.args[0], "--");
    fixture_done(&f);
}

static void test_required(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 0, 0);
    f.opts[3].required = 1;
    EXPECT_ERROR(&f, PARSE(&f, "--lr", "1"), "missing required option --out");
    assert_int_equal(PARSE(&f, "-o", "x"), WARM_OK);
    fixture_done(&f);
    /* --help wins over missing required options and arguments. */
    fixture_init(&f, 2, 2);
    f.opts[3].required = 1;
    assert_int_equal(PARSE(&f, "--help"), WARM_OK);
    assert_int_equal(f.res.help, 1);
    assert_null(f.res.args);
    assert_int_equal(f.lrs.n, 0); /* defaults released: nothing to free after help */
}

static void test_help_flag(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 0, 0);
    assert_int_equal(PARSE(&f, "-h", "--bogus"), WARM_OK);
    assert_int_equal(f.res.help, 1);
    assert_int_equal(PARSE(&f, "--lr", "1", "--help"), WARM_OK);
    assert_int_equal(f.res.help, 1);
    /* Errors before --help are still reported. */
    EXPECT_ERROR(&f, PARSE(&f, "--lr", "x", "--help"), "--lr");
}

static char *help_text(const warm_opts_cmd *cmd) {
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    assert_non_null(m);
    warm_opts_print_help(m, cmd);
    assert_int_equal(fclose(m), 0);
    return buf;
}

static void test_help_output(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 1, WARM_OPTS_UNLIMITED);
    f.opts[3].required = 1;
    f.cmd.epilog = "example: warm demo --lr 1e-4 a b";
    char *h = help_text(&f.cmd);
    const char *needles[] = {"usage: warm demo [options] IN...", "A demo command.", "--lr LR", "--steps N",
                             "--seed N", "-o, --out PATH", "-v, --verbose", "--scale X",
                             "--merge {uniform,weighted,slerp}", "--lrs X,...", "--seeds N,...", "--names STR,...",
                             "-h, --help", "(default: 1e-5; range [0, 10])", "(required)",
                             "range [1, 1000000]", "default: uniform", "example: warm demo", "learning rate"};
    for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++)
        if (!strstr(h, needles[i])) fail_msg("help lacks \"%s\":\n%s", needles[i], h);
    /* Every line fits 80 columns once the option column fits (all of ours do). */
    for (const char *line = h; *line;) {
        size_t n = strcspn(line, "\n");
        if (n > 80) fail_msg("line longer than 80 columns: %.*s", (int)n, line);
        line += n + (line[n] == '\n');
    }
    free(h);

    /* An option with no help, no default and a long name still produces a line. */
    double x = 0;
    warm_opt one[] = {{.name = "a-very-long-option-name-indeed", .kind = WARM_OPT_DOUBLE, .dest = &x}};
    warm_opts_cmd c = {.name = "tiny", .opts = one, .nopts = 1};
    h = help_text(&c);
    assert_non_null(strstr(h, "usage: tiny [options]\n"));
    assert_non_null(strstr(h, "--a-very-long-option-name-indeed X\n"));
    free(h);
}

static void test_bad_default_is_reported(void **state) {
    (void)state;
    int n = 0;
    warm_opt one[] = {{.name = "n", .kind = WARM_OPT_INT, .dest = &n, .min = 1, .max = 5, .def = "9"}};
    warm_opts_cmd c = {.name = "tiny", .opts = one, .nopts = 1};
    warm_opts_result res;
    warm_error err = {0};
    char arg0[] = "tiny";
    char *argv[] = {arg0, NULL};
    assert_int_equal(warm_opts_parse(&c, 1, argv, &res, &err), WARM_ERR_ARG);
    assert_non_null(strstr(err.msg, "default of --n: --n: 9 is out of range [1, 5]"));
}

static void test_edit_distance(void **state) {
    (void)state;
    assert_int_equal(warm_opts_edit_distance("lr", "lrr"), 1);
    assert_int_equal(warm_opts_edit_distance("train", "trian"), 1);
    assert_int_equal(warm_opts_edit_distance("kitten", "sitting"), 3);
    assert_int_equal(warm_opts_edit_distance("", "abc"), 3);
    assert_int_equal(warm_opts_edit_distance("same", "same"), 0);
    const char *cands[] = {"init", "inspect", "version", NULL};
    assert_string_equal(warm_opts_suggest("inpsect", cands), "inspect");
    assert_string_equal(warm_opts_suggest("verison", cands), "version");
    assert_null(warm_opts_suggest("x", cands));
    assert_null(warm_opts_suggest("average", cands));
}

/* ---------------------------------------------------------------------------------------------------- */
/* Progress                                                                                              */

static char *read_all(FILE *f) {
    long n = ftell(f);
    assert_true(n >= 0);
    char *buf = calloc((size_t)n + 1, 1);
    assert_non_null(buf);
    rewind(f);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    return buf;
}

static void test_progress_plain_lines(void **state) {
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    warm_progress p;
    warm_progress_init_at(&p, f, "train", 100, 1000.0);
    warm_progress_set_mode(&p, WARM_PROGRESS_PLAIN);
    assert_true(p.interval == 10.0);

    warm_progress_update_at(&p, 10, 1005.0); /* within 10 s of the start: silent */
    assert_int_equal(ftell(f), 0);
    warm_progress_set_extra(&p, "loss %.3f", 0.6931);
    warm_progress_update_at(&p, 45, 1010.0);
    warm_progress_update_at(&p, 50, 1015.0); /* within 10 s of the last line: silent */
    warm_progress_update_at(&p, 100, 1020.0);
    warm_progress_finish_at(&p, 1020.0);
    warm_progress_finish_at(&p, 1030.0); /* once only */
    warm_progress_update_at(&p, 100, 1040.0); /* after finish: silent */

    char *out = read_all(f);
    assert_string_equal(out, "train: 45/100 (45%) 4.5 it/s eta 12s  loss 0.693\n"
                             "train: 100/100 (100%) 5.0 it/s eta 0s  loss 0.693\n"
                             "train: 100/100 done in 20.0s (5.0 it/s)  loss 0.693\n");
    free(out);
    fclose(f);
}

static void test_progress_eta_math(void **state) {
    (void)state;
    warm_progress p;
    warm_progress_init_at(&p, NULL, "x", 100, 0.0);
    assert_int_equal(p.mode, WARM_PROGRESS_OFF);
    assert_true(warm_progress_eta(&p, 5.0) < 0); /* nothing done: unknown */
    warm_progress_update_at(&p, 45, 10.0);
    assert_true(fabs(warm_progress_rate(&p, 10.0) - 4.5) < 1e-12);
    assert_true(fabs(warm_progress_eta(&p, 10.0) - 55.0 / 4.5) < 1e-12);
    warm_progress_update_at(&p, 120, 10.0);
    assert_true(warm_progress_eta(&p, 10.0) == 0.0); /* overshoot: nothing left */
    p.total = 0;
    assert_true(warm_progress_eta(&p, 10.0) < 0); /* unknown total */
    assert_true(warm_progress_rate(&p, 0.0) == 0.0); /* no time passed */
}

static void test_progress_formats(void **state) {
    (void)state;
    char line[256];
    warm_progress p;
    FILE *f = tmpfile();
    assert_non_null(f);
    warm_progress_init_at(&p, f, "score", 100, 0.0);
    p.done = 45;
    warm_progress_set_mode(&p, WARM_PROGRESS_TTY);
    warm_progress_format(&p, 10.0, 0, line, sizeof line);
    assert_string_equal(line, "score [#########...........] 45/100 4.5 it/s ETA 0:12");
    warm_progress_set_mode(&p, WARM_PROGRESS_PLAIN);
    warm_progress_format(&p, 10.0, 0, line, sizeof line);
    assert_string_equal(line, "score: 45/100 (45%) 4.5 it/s eta 12s");

    /* Slow loops: seconds per item; long ETAs in both styles. */
    p.total = 1000;
    p.done = 2;
    warm_progress_format(&p, 14.0, 0, line, sizeof line);
    assert_string_equal(line, "score: 2/1000 (0%) 7.0 s/it eta 1h56m");
    warm_progress_set_mode(&p, WARM_PROGRESS_TTY);
    warm_progress_format(&p, 14.0, 0, line, sizeof line);
    assert_string_equal(line, "score [....................] 2/1000 7.0 s/it ETA 1:56:26");
    p.done = 0;
    warm_progress_format(&p, 14.0, 0, line, sizeof line);
    assert_string_equal(line, "score [....................] 0/1000 0.0 it/s ETA -:--");

    /* Unknown total. */
    p.total = 0;
    p.done = 30;
    warm_progress_format(&p, 200.0, 0, line, sizeof line);
    assert_string_equal(line, "score 30 6.7 s/it 3:20");
    warm_progress_set_mode(&p, WARM_PROGRESS_PLAIN);
    warm_progress_format(&p, 200.0, 0, line, sizeof line);
    assert_string_equal(line, "score: 30 6.7 s/it elapsed 3m20s");
    warm_progress_format(&p, 200.0, 1, line, sizeof line);
    assert_string_equal(line, "score: 30 done in 3m20s (6.7 s/it)");

    /* Truncation keeps the buffer terminated and reports the full length. */
    char small[8];
    int n = warm_progress_format(&p, 200.0, 1, small, sizeof small);
    assert_int_equal(n, (int)strlen("score: 30 done in 3m20s (6.7 s/it)"));
    assert_string_equal(small, "score: ");
    fclose(f);
}

static void test_progress_tty_redraw(void **state) {
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    warm_progress p;
    warm_progress_init_at(&p, f, "rl", 10, 0.0);
    warm_progress_set_mode(&p, WARM_PROGRESS_TTY);
    warm_progress_set_extra(&p, "reward 1.25");
    warm_progress_update_at(&p, 1, 0.01);  /* first update draws at once */
    warm_progress_update_at(&p, 2, 0.05);  /* < 0.1 s later: skipped */
    warm_progress_set_extra(&p, "%s", "");
    warm_progress_update_at(&p, 5, 1.0);   /* shorter line: padded over the old one */
    warm_progress_clear(&p);
    warm_progress_finish_at(&p, 2.0);
    char *out = read_all(f);
    const char *l1 = "rl [##..................] 1/10 100.0 it/s ETA 0:00  reward 1.25";
    const char *l2 = "rl [##########..........] 5/10 5.0 it/s ETA 0:01";
    char want[512];
    int w1 = (int)strlen(l1), w2 = (int)strlen(l2);
    snprintf(want, sizeof want, "\r%s\r%s%*s\r%*s\r\r%s\n", l1, l2, w1 - w2, "", w2, "",
             "rl: 5/10 done in 2.0s (2.5 it/s)");
    assert_string_equal(out, want);
    free(out);
    fclose(f);
}

static void test_progress_env(void **state) {
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    warm_progress p;
    assert_int_equal(unsetenv("WARM_PROGRESS"), 0);
    warm_progress_init_at(&p, f, "x", 1, 0.0);
    assert_int_equal(p.is_tty, 0);
    assert_int_equal(p.mode, WARM_PROGRESS_PLAIN); /* a file is not a terminal */
    assert_int_equal(setenv("WARM_PROGRESS", "tty", 1), 0);
    warm_progress_init_at(&p, f, "x", 1, 0.0);
    assert_int_equal(p.mode, WARM_PROGRESS_TTY);
    assert_true(p.interval == 0.1);
    assert_int_equal(setenv("WARM_PROGRESS", "off", 1), 0);
    warm_progress_init_at(&p, f, "x", 1, 0.0);
    assert_int_equal(p.mode, WARM_PROGRESS_OFF);
    warm_progress_update_at(&p, 1, 100.0);
    warm_progress_finish_at(&p, 100.0);
    assert_int_equal(ftell(f), 0);
    assert_int_equal(setenv("WARM_PROGRESS", "plain", 1), 0);
    warm_progress_init_at(&p, f, "x", 1, 0.0);
    assert_int_equal(p.mode, WARM_PROGRESS_PLAIN);
    assert_int_equal(unsetenv("WARM_PROGRESS"), 0);
    fclose(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_equals_and_space_forms_agree),
        cmocka_unit_test(test_short_aliases),
        cmocka_unit_test(test_number_errors_name_the_option),
        cmocka_unit_test(test_ranges_are_inclusive),
        cmocka_unit_test(test_repeated_option_last_wins),
        cmocka_unit_test(test_unknown_option_suggests),
        cmocka_unit_test(test_missing_value),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_choice),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_positionals),
        cmocka_unit_test(test_double_dash),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_help_flag),
        cmocka_unit_test(test_help_output),
        cmocka_unit_test(test_bad_default_is_reported),
        cmocka_unit_test(test_edit_distance),
        cmocka_unit_test(test_progress_plain_lines),
        cmocka_unit_test(test_progress_eta_math),
        cmocka_unit_test(test_progress_formats),
        cmocka_unit_test(test_progress_tty_redraw),
        cmocka_unit_test(test_progress_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
