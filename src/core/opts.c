/*
 * opts.c — table-driven option parser and help formatter. See include/warm/opts.h for the rules.
 *
 * Flow of warm_opts_parse: check the spec table (programmer errors abort), reset `seen`, parse every
 * `def` text into its destination, walk argv once (options in place, positionals appended to res->args,
 * "--" switches to positionals only, -h/--help stops), then check required options and the positional
 * count. Every error path releases what the parse allocated, so a caller only frees after success.
 *
 * Values are converted by one routine (set_value) shared by defaults and argv, so a default can never be
 * accepted where the same text typed by the user would be rejected. Number scanning is split in two:
 * scan_* decides syntax/finiteness/overflow of the text, check_* applies the destination type's limits
 * and the spec's [min, max]; both write messages that start with the option's "--name".
 */
#include "warm/opts.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Longest option name / value echoed into a message; longer text is cut (messages are 1 KiB). */
#define MSG_TEXT_MAX 200
/* Help layout: options column starts at 2, help text at most at HELP_COL, lines wrap at HELP_WIDTH. */
#define HELP_COL 30
#define HELP_WIDTH 80

typedef enum { SCAN_OK, SCAN_SYNTAX, SCAN_NONFINITE, SCAN_OVERFLOW } scan_result;

/* ---------------------------------------------------------------------------------------------------- */
/* Spec table checks and lookup                                                                          */

static int is_list(warm_opt_kind k) {
    return k == WARM_OPT_FLOAT_LIST || k == WARM_OPT_INT_LIST || k == WARM_OPT_STRING_LIST;
}

static void check_specs(const warm_opts_cmd *cmd) {
    WARM_CHECK(cmd && cmd->name, "command needs a name");
    WARM_CHECK(cmd->nopts == 0 || cmd->opts, "%s: nopts > 0 without opts", cmd->name);
    WARM_CHECK(cmd->min_args >= 0, "%s", cmd->name);
    WARM_CHECK(cmd->max_args == WARM_OPTS_UNLIMITED || cmd->max_args >= cmd->min_args, "%s", cmd->name);
    for (int i = 0; i < cmd->nopts; i++) {
        const warm_opt *o = &cmd->opts[i];
        WARM_CHECK(o->name && o->name[0] && o->name[0] != '-', "%s: option %d has a bad name", cmd->name, i);
        WARM_CHECK(strchr(o->name, '=') == NULL, "%s: --%s", cmd->name, o->name);
        WARM_CHECK(o->dest, "%s: --%s has no destination", cmd->name, o->name);
        WARM_CHECK(strcmp(o->name, "help") != 0 && o->short_name != 'h', "%s: help is reserved", cmd->name);
        WARM_CHECK(o->kind != WARM_OPT_CHOICE || (o->choices && o->choices[0]), "%s: --%s needs choices",
                   cmd->name, o->name);
        for (int j = 0; j < i; j++) {
            WARM_CHECK(strcmp(o->name, cmd->opts[j].name) != 0, "%s: --%s twice", cmd->name, o->name);
            WARM_CHECK(!o->short_name || o->short_name != cmd->opts[j].short_name, "%s: -%c twice", cmd->name,
                       o->short_name);
        }
    }
}

static warm_opt *find_long(const warm_opts_cmd *cmd, const char *name, size_t len) {
    for (int i = 0; i < cmd->nopts; i++) {
        const char *n = cmd->opts[i].name;
        if (strlen(n) == len && memcmp(n, name, len) == 0) return &cmd->opts[i];
    }
    return NULL;
}

static warm_opt *find_short(const warm_opts_cmd *cmd, char c) {
    for (int i = 0; i < cmd->nopts; i++)
        if (cmd->opts[i].short_name == c) return &cmd->opts[i];
    return NULL;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Edit distance and suggestions                                                                         */

#define EDIT_MAX_LEN 64

static int edit_distance_n(const char *a, size_t la, const char *b, size_t lb) {
    if (la > EDIT_MAX_LEN || lb > EDIT_MAX_LEN) return 1000;
    /* Three rolling rows of the OSA table: d[i][j] = distance between a[:i] and b[:j]. */
    int rows[3][EDIT_MAX_LEN + 1];
    int *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= lb; j++) prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int cost = a[i - 1] != b[j - 1];
            int d = prev[j] + 1;
            if (cur[j - 1] + 1 < d) d = cur[j - 1] + 1;
            if (prev[j - 1] + cost < d) d = prev[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < d)
                d = prev2[j - 2] + 1;
            cur[j] = d;
        }
        int *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

int warm_opts_edit_distance(const char *a, const char *b) {
    return edit_distance_n(a, strlen(a), b, strlen(b));
}

/* Keeps in *best the closest candidate accepted by the rule in opts.h (distance <= 2 and < len). */
static void suggest_step(const char *word, size_t len, const char *cand, const char **best, int *bestd) {
    int d = edit_distance_n(word, len, cand, strlen(cand));
    if (d <= 2 && (size_t)d < len && d < *bestd) {
        *best = cand;
        *bestd = d;
    }
}

const char *warm_opts_suggest(const char *word, const char *const *cands) {
    const char *best = NULL;
    int bestd = 1000;
    size_t len = strlen(word);
    for (size_t i = 0; cands && cands[i]; i++) suggest_step(word, len, cands[i], &best, &bestd);
    return best;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Number scanning                                                                                       */

/* Whole-string base-10 integer. Leading blanks are rejected (strtoll would skip them silently). */
static scan_result scan_int(const char *s, int64_t *out) {
    if (!s[0] || isspace((unsigned char)s[0])) return SCAN_SYNTAX;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end) return SCAN_SYNTAX;
    if (errno == ERANGE) return SCAN_OVERFLOW; /* long long has at least the 64 bits of int64_t */
    *out = (int64_t)v;
    return SCAN_OK;
}

/* Whole-string finite double. ERANGE covers both overflow (1e999) and underflow (1e-400). */
static scan_result scan_double(const char *s, double *out) {
    if (!s[0] || isspace((unsigned char)s[0])) return SCAN_SYNTAX;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end) return SCAN_SYNTAX;
    if (isnan(v) || (isinf(v) && errno != ERANGE)) return SCAN_NONFINITE;
    if (errno == ERANGE) return SCAN_OVERFLOW;
    *out = v;
    return SCAN_OK;
}

/* %g, but integral values below 1e15 in full ("1000000", not "1e+06"): used for ranges in messages/help. */
static void fmt_num(char *buf, size_t n, double v) {
    if (v == floor(v) && fabs(v) < 1e15) snprintf(buf, n, "%.0f", v);
    else snprintf(buf, n, "%g", v);
}

static int has_range(const warm_opt *o) { return o->min < o->max; }

static const char *int_kind_name(warm_opt_kind k) {
    return k == WARM_OPT_INT ? "a 32-bit integer" : "a 64-bit integer";
}

/* ctx is "" or "element 2: " for lists; text is the value as the user typed it. */
static warm_status range_error(const warm_opt *o, const char *ctx, const char *text, const char *type,
                               warm_error *err) {
    if (has_range(o)) {
        char lo[32], hi[32];
        fmt_num(lo, sizeof lo, o->min);
        fmt_num(hi, sizeof hi, o->max);
        return warm_error_set(err, WARM_ERR_ARG, "--%s: %s%.*s is out of range [%s, %s]", o->name, ctx,
                              MSG_TEXT_MAX, text, lo, hi);
    }
    return warm_error_set(err, WARM_ERR_ARG, "--%s: %s%.*s is out of range for %s", o->name, ctx,
                          MSG_TEXT_MAX, text, type);
}

static warm_status get_int(const warm_opt *o, warm_opt_kind k, const char *ctx, const char *s, int64_t *out,
                           warm_error *err) {
    scan_result r = scan_int(s, out);
    if (r == SCAN_SYNTAX)
        return warm_error_set(err, WARM_ERR_ARG, "--%s: %s\"%.*s\" is not an integer", o->name, ctx,
                              MSG_TEXT_MAX, s);
    if (r != SCAN_OK || (k == WARM_OPT_INT && (*out < INT_MIN || *out > INT_MAX)))
        return range_error(o, ctx, s, int_kind_name(k), err);
    if (has_range(o) && ((double)*out < o->min || (double)*out > o->max)) return range_error(o, ctx, s, "", err);
    return WARM_OK;
}

static warm_status get_double(const warm_opt *o, warm_opt_kind k, const char *ctx, const char *s, double *out,
                              warm_error *err) {
    const char *type = k == WARM_OPT_FLOAT ? "a float" : "a double";
    scan_result r = scan_double(s, out);
    if (r == SCAN_SYNTAX)
        return warm_error_set(err, WARM_ERR_ARG, "--%s: %s\"%.*s\" is not a number", o->name, ctx,
                              MSG_TEXT_MAX, s);
    if (r == SCAN_NONFINITE)
        return warm_error_set(err, WARM_ERR_ARG, "--%s: %s\"%.*s\" is not a finite number", o->name, ctx,
                              MSG_TEXT_MAX, s);
    if (r == SCAN_OVERFLOW) return range_error(o, ctx, s, type, err);
    /* A float destination must not overflow to inf or flush a non-zero value to zero. */
    if (k == WARM_OPT_FLOAT && (fabs(*out) > (double)FLT_MAX || (*out != 0.0 && (float)*out == 0.0f)))
        return range_error(o, ctx, s, type, err);
    if (has_range(o) && (*out < o->min || *out > o->max)) return range_error(o, ctx, s, type, err);
    return WARM_OK;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Values                                                                                                */

static warm_status set_choice(const warm_opt *o, const char *s, warm_error *err) {
    for (int i = 0; o->choices[i]; i++) {
        if (strcmp(o->choices[i], s) == 0) {
            *(int *)o->dest = i;
            return WARM_OK;
        }
    }
    char list[512] = "";
    size_t used = 0;
    for (int i = 0; o->choices[i] && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", o->choices[i]);
    const char *near = warm_opts_suggest(s, o->choices);
    if (near)
        return warm_error_set(err, WARM_ERR_ARG, "--%s: \"%.*s\" is not one of %s (did you mean %s?)", o->name,
                              MSG_TEXT_MAX, s, list, near);
    return warm_error_set(err, WARM_ERR_ARG, "--%s: \"%.*s\" is not one of %s", o->name, MSG_TEXT_MAX, s, list);
}

static void list_release(warm_opt_list *l) {
    free(l->f64);
    free(l->i64);
    free(l->str);
    memset(l, 0, sizeof *l);
}

/* Stores element i (text p[0..el), not NUL-terminated) of a list being built in *l; chars: STRING_LIST tail. */
static warm_status list_element(const warm_opt *o, const char *s, const char *p, size_t el, size_t i,
                                warm_opt_list *l, char **chars, warm_error *err) {
    if (el == 0)
        return warm_error_set(err, WARM_ERR_ARG, "--%s: empty element %zu in \"%.*s\"", o->name, i + 1,
                              MSG_TEXT_MAX, s);
    if (l->str) {
        memcpy(*chars, p, el);
        (*chars)[el] = '\0';
        l->str[i] = *chars;
        *chars += el + 1;
        return WARM_OK;
    }
    char ctx[48], elem[MSG_TEXT_MAX + 1];
    snprintf(ctx, sizeof ctx, "element %zu: ", i + 1);
    if (el > MSG_TEXT_MAX)
        return warm_error_set(err, WARM_ERR_ARG, "--%s: %s\"%.20s...\" is too long for a number", o->name, ctx, p);
    memcpy(elem, p, el);
    elem[el] = '\0';
    if (l->f64) return get_double(o, WARM_OPT_DOUBLE, ctx, elem, &l->f64[i], err);
    return get_int(o, WARM_OPT_INT64, ctx, elem, &l->i64[i], err);
}

/*
 * Splits s at commas into a fresh list and swaps it in on success only, so that a failed repeat leaves the
 * previous value for the caller's cleanup. STRING_LIST stores the pointer array and the copied characters
 * in one block so that one free() releases both.
 */
static warm_status set_list(const warm_opt *o, const char *s, warm_error *err) {
    if (!s[0]) return warm_error_set(err, WARM_ERR_ARG, "--%s: empty list", o->name);
    size_t n = 1, len = strlen(s);
    for (const char *c = s; *c; c++) n += *c == ',';
    if (n > (size_t)INT_MAX) return warm_error_set(err, WARM_ERR_ARG, "--%s: too many elements", o->name);
    warm_opt_list fresh = {0};
    fresh.n = (int)n;
    void *block = NULL;
    if (o->kind == WARM_OPT_FLOAT_LIST) block = fresh.f64 = malloc(n * sizeof(double));
    if (o->kind == WARM_OPT_INT_LIST) block = fresh.i64 = malloc(n * sizeof(int64_t));
    if (o->kind == WARM_OPT_STRING_LIST) block = fresh.str = malloc(n * sizeof(char *) + len + 1);
    if (!block) return warm_error_set(err, WARM_ERR_NOMEM, "--%s: out of memory", o->name);

    char *chars = fresh.str ? (char *)(fresh.str + n) : NULL;
    const char *p = s;
    for (size_t i = 0; i < n; i++) {
        size_t el = strcspn(p, ",");
        warm_status st = list_element(o, s, p, el, i, &fresh, &chars, err);
        if (st != WARM_OK) {
            list_release(&fresh);
            return st;
        }
        p += el + (p[el] == ',');
    }
    list_release((warm_opt_list *)o->dest);
    *(warm_opt_list *)o->dest = fresh;
    return WARM_OK;
}

/* Converts text s into o's destination; on error the destination is unchanged. */
static warm_status set_value(const warm_opt *o, const char *s, warm_error *err) {
    int64_t iv;
    double dv;
    warm_status st;
    switch (o->kind) {
    case WARM_OPT_FLAG:
        *(int *)o->dest = 1;
        return WARM_OK;
    case WARM_OPT_INT:
    case WARM_OPT_INT64:
        st = get_int(o, o->kind, "", s, &iv, err);
        if (st != WARM_OK) return st;
        if (o->kind == WARM_OPT_INT) *(int *)o->dest = (int)iv;
        else *(int64_t *)o->dest = iv;
        return WARM_OK;
    case WARM_OPT_FLOAT:
    case WARM_OPT_DOUBLE:
        st = get_double(o, o->kind, "", s, &dv, err);
        if (st != WARM_OK) return st;
        if (o->kind == WARM_OPT_FLOAT) *(float *)o->dest = (float)dv;
        else *(double *)o->dest = dv;
        return WARM_OK;
    case WARM_OPT_STRING:
        *(const char **)o->dest = s;
        return WARM_OK;
    case WARM_OPT_CHOICE:
        return set_choice(o, s, err);
    case WARM_OPT_FLOAT_LIST:
    case WARM_OPT_INT_LIST:
    case WARM_OPT_STRING_LIST:
        return set_list(o, s, err);
    }
    WARM_ABORT("--%s: unknown option kind %d", o->name, (int)o->kind);
}

/* ---------------------------------------------------------------------------------------------------- */
/* argv walk                                                                                             */

static warm_status unknown_long(const warm_opts_cmd *cmd, const char *name, size_t len, warm_error *err) {
    const char *best = NULL;
    int bestd = 1000;
    for (int i = 0; i < cmd->nopts; i++) suggest_step(name, len, cmd->opts[i].name, &best, &bestd);
    suggest_step(name, len, "help", &best, &bestd);
    int shown = len > MSG_TEXT_MAX ? MSG_TEXT_MAX : (int)len;
    if (best)
        return warm_error_set(err, WARM_ERR_ARG, "unknown option --%.*s (did you mean --%s?)", shown, name, best);
    return warm_error_set(err, WARM_ERR_ARG, "unknown option --%.*s", shown, name);
}

/* The value of option o: inline text after '=' (or after -x), else the next argument. */
static warm_status take_value(const warm_opt *o, const char *inline_val, int argc, char **argv, int *i,
                              const char **val, warm_error *err) {
    if (inline_val) {
        *val = inline_val;
        return WARM_OK;
    }
    if (*i + 1 >= argc) return warm_error_set(err, WARM_ERR_ARG, "--%s: missing value", o->name);
    const char *next = argv[*i + 1];
    if (next[0] == '-' && next[1] == '-')
        return warm_error_set(err, WARM_ERR_ARG, "--%s: missing value (next argument \"%.*s\" is an option; "
                              "write --%s=VALUE for a value starting with --)", o->name, MSG_TEXT_MAX, next, o->name);
    *val = argv[++*i];
    return WARM_OK;
}

static warm_status parse_option(const warm_opts_cmd *cmd, int argc, char **argv, int *i, warm_error *err) {
    const char *a = argv[*i];
    warm_opt *o;
    const char *inline_val = NULL;
    if (a[1] == '-') {
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        if (len == 4 && memcmp(name, "help", 4) == 0)
            return warm_error_set(err, WARM_ERR_ARG, "--help takes no value");
        o = find_long(cmd, name, len);
        if (!o) return unknown_long(cmd, name, len, err);
        inline_val = eq ? eq + 1 : NULL;
    } else {
        o = find_short(cmd, a[1]);
        if (!o || (o->kind == WARM_OPT_FLAG && a[2]))
            return warm_error_set(err, WARM_ERR_ARG, "unknown option %.*s", MSG_TEXT_MAX, a);
        if (a[2]) inline_val = a[2] == '=' ? a + 3 : a + 2;
    }
    if (o->kind == WARM_OPT_FLAG) {
        if (inline_val) return warm_error_set(err, WARM_ERR_ARG, "--%s takes no value", o->name);
        o->seen++;
        return set_value(o, "", err);
    }
    const char *val = NULL;
    warm_status st = take_value(o, inline_val, argc, argv, i, &val, err);
    if (st == WARM_OK) st = set_value(o, val, err);
    if (st == WARM_OK) o->seen++;
    return st;
}

static warm_status add_arg(const warm_opts_cmd *cmd, warm_opts_result *res, char *a, warm_error *err) {
    if (cmd->max_args != WARM_OPTS_UNLIMITED && res->nargs >= cmd->max_args) {
        if (cmd->max_args == 0)
            return warm_error_set(err, WARM_ERR_ARG, "unexpected argument \"%.*s\" (%s takes no arguments)",
                                  MSG_TEXT_MAX, a, cmd->name);
        return warm_error_set(err, WARM_ERR_ARG, "too many arguments: \"%.*s\" (at most %d)", MSG_TEXT_MAX, a,
                              cmd->max_args);
    }
    res->args[res->nargs++] = a;
    return WARM_OK;
}

static warm_status apply_defaults(const warm_opts_cmd *cmd, warm_error *err) {
    for (int i = 0; i < cmd->nopts; i++) {
        warm_opt *o = &cmd->opts[i];
        o->seen = 0;
        if (!o->def || o->kind == WARM_OPT_FLAG) continue;
        warm_status st = set_value(o, o->def, err);
        if (st != WARM_OK) return warm_error_prefix(err, "default of --%s", o->name);
    }
    return WARM_OK;
}

static warm_status check_complete(const warm_opts_cmd *cmd, const warm_opts_result *res, warm_error *err) {
    for (int i = 0; i < cmd->nopts; i++) {
        const warm_opt *o = &cmd->opts[i];
        if (o->required && !o->seen) return warm_error_set(err, WARM_ERR_ARG, "missing required option --%s", o->name);
    }
    if (res->nargs < cmd->min_args)
        return warm_error_set(err, WARM_ERR_ARG, "missing argument%s %s (need at least %d, got %d)",
                              cmd->min_args > 1 ? "s" : "", cmd->args ? cmd->args : "", cmd->min_args, res->nargs);
    return WARM_OK;
}

warm_status warm_opts_parse(const warm_opts_cmd *cmd, int argc, char **argv, warm_opts_result *res,
                            warm_error *err) {
    check_specs(cmd);
    memset(res, 0, sizeof *res);
    res->args = malloc((size_t)(argc > 0 ? argc : 1) * sizeof(char *));
    if (!res->args) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory");

    warm_status st = apply_defaults(cmd, err);
    int only_args = 0;
    for (int i = 1; i < argc && st == WARM_OK; i++) {
        char *a = argv[i];
        if (only_args || a[0] != '-' || a[1] == '\0') {
            st = add_arg(cmd, res, a, err);
        } else if (strcmp(a, "--") == 0) {
            only_args = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            warm_opts_free(cmd, res);
            res->help = 1;
            return WARM_OK;
        } else {
            st = parse_option(cmd, argc, argv, &i, err);
        }
    }
    if (st == WARM_OK) st = check_complete(cmd, res, err);
    if (st != WARM_OK) warm_opts_free(cmd, res);
    return st;
}

void warm_opts_free(const warm_opts_cmd *cmd, warm_opts_result *res) {
    for (int i = 0; cmd && i < cmd->nopts; i++)
        if (is_list(cmd->opts[i].kind)) list_release((warm_opt_list *)cmd->opts[i].dest);
    if (res) {
        free(res->args);
        memset(res, 0, sizeof *res);
    }
}

/* ---------------------------------------------------------------------------------------------------- */
/* Help                                                                                                  */

static const char *default_metavar(const warm_opt *o) {
    switch (o->kind) {
    case WARM_OPT_FLAG: return "";
    case WARM_OPT_INT:
    case WARM_OPT_INT64: return "N";
    case WARM_OPT_FLOAT:
    case WARM_OPT_DOUBLE: return "X";
    case WARM_OPT_STRING: return "STR";
    case WARM_OPT_CHOICE: return NULL; /* built from the choices */
    case WARM_OPT_FLOAT_LIST: return "X,...";
    case WARM_OPT_INT_LIST: return "N,...";
    case WARM_OPT_STRING_LIST: return "STR,...";
    }
    return "";
}

/* "  -o, --out PATH" or "      --lr X" into buf. */
static void left_column(const warm_opt *o, char *buf, size_t n) {
    int used = o->short_name ? snprintf(buf, n, "  -%c, --%s", o->short_name, o->name)
                             : snprintf(buf, n, "      --%s", o->name);
    if (used < 0 || (size_t)used >= n || o->kind == WARM_OPT_FLAG) return;
    const char *mv = o->metavar ? o->metavar : default_metavar(o);
    if (mv) {
        snprintf(buf + used, n - (size_t)used, " %s", mv);
        return;
    }
    for (int i = 0; o->choices[i] && (size_t)used < n; i++)
        used += snprintf(buf + used, n - (size_t)used, "%s%s", i ? "," : " {", o->choices[i]);
    if ((size_t)used < n) snprintf(buf + used, n - (size_t)used, "}");
}

/*
 * Writes text word by word from column col, wrapping at HELP_WIDTH with continuation lines indented to
 * indent; '\n' in text forces a break. Returns the column after the last word.
 */
static int put_wrapped(FILE *f, const char *text, int col, int indent) {
    const char *p = text;
    while (*p) {
        if (*p == '\n') {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
            p++;
            continue;
        }
        if (*p == ' ') {
            p++;
            continue;
        }
        int w = (int)strcspn(p, " \n");
        if (col > indent && col + 1 + w > HELP_WIDTH) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
        }
        if (col > indent) {
            fputc(' ', f);
            col++;
        }
        fprintf(f, "%.*s", w, p);
        col += w;
        p += w;
    }
    return col;
}

static void option_details(const warm_opt *o, char *buf, size_t n) {
    int used = 0;
    buf[0] = '\0';
    if (o->required) used += snprintf(buf + used, n - (size_t)used, "required");
    if (o->def && o->kind != WARM_OPT_FLAG && (size_t)used < n)
        used += snprintf(buf + used, n - (size_t)used, "%sdefault: %s", used ? "; " : "", o->def);
    if (has_range(o) && (size_t)used < n) {
        char lo[32], hi[32];
        fmt_num(lo, sizeof lo, o->min);
        fmt_num(hi, sizeof hi, o->max);
        snprintf(buf + used, n - (size_t)used, "%srange [%s, %s]", used ? "; " : "", lo, hi);
    }
}

static void print_option(FILE *f, const char *left, const char *help, const char *details) {
    fputs(left, f);
    if ((help && help[0]) || details[0]) {
        int col = (int)strlen(left);
        if (col + 2 > HELP_COL) fprintf(f, "\n%*s", HELP_COL, "");
        else fprintf(f, "%*s", HELP_COL - col, "");
        col = put_wrapped(f, help ? help : "", HELP_COL, HELP_COL);
        if (details[0]) {
            char paren[600];
            snprintf(paren, sizeof paren, "(%s)", details);
            put_wrapped(f, paren, col, HELP_COL);
        }
    }
    fputc('\n', f);
}

void warm_opts_print_usage(FILE *f, const warm_opts_cmd *cmd) {
    fprintf(f, "usage: %s%s%s%s%s%s\n", cmd->prog ? cmd->prog : "", cmd->prog ? " " : "", cmd->name,
            " [options]", cmd->args ? " " : "", cmd->args ? cmd->args : "");
}

void warm_opts_print_help(FILE *f, const warm_opts_cmd *cmd) {
    warm_opts_print_usage(f, cmd);
    if (cmd->desc) fprintf(f, "\n%s%s", cmd->desc, cmd->desc[strlen(cmd->desc) - 1] == '\n' ? "" : "\n");
    fputs("\noptions:\n", f);
    char left[256], details[512];
    for (int i = 0; i < cmd->nopts; i++) {
        const warm_opt *o = &cmd->opts[i];
        left_column(o, left, sizeof left);
        option_details(o, details, sizeof details);
        print_option(f, left, o->help, details);
    }
    print_option(f, "  -h, --help", "show this help and exit", "");
    if (cmd->epilog) fprintf(f, "\n%s%s", cmd->epilog, cmd->epilog[strlen(cmd->epilog) - 1] == '\n' ? "" : "\n");
}
