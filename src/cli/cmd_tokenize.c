/*
 * cmd_tokenize.c — `warm tokenize`: text to token ids and back with any tokenizer warm reads
 * (`--tokenizer gpt2|FILE|DIR`, warm_tok_open of warm/tokenizer.h).
 *
 * Modes: --ids (default) text -> ids; --tokens text -> token spellings; --count text -> number of tokens;
 * --text ids -> text. Input: TEXT arguments (joined by single spaces), or --in FILE, or standard input.
 * With --lines each input line (without its newline) is one text, and each gives one output line; otherwise
 * the whole input is one text (encoded bytes as they are, newlines included). Output goes to standard output.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "warm/tokenizer.h"

enum { MODE_IDS, MODE_TOKENS, MODE_COUNT, MODE_TEXT };

typedef struct {
    const char *tok, *in;
    int mode, lines, special;
} tokenize_args;

/* All of f into a malloc'd NUL-terminated buffer; NULL on failure (err set). */
static char *read_stream(FILE *f, const char *name, size_t *len, warm_error *err) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (size_t got; buf; n += got) {
        if (n + 1 >= cap) {
            char *p = realloc(buf, cap *= 2);
            if (!p) break;
            buf = p;
        }
        if ((got = fread(buf + n, 1, cap - n - 1, f)) == 0) break;
    }
    if (!buf || ferror(f)) {
        free(buf);
        warm_error_set(err, buf ? WARM_ERR_IO : WARM_ERR_NOMEM, "%s: %s", name, buf ? strerror(errno) : "out of memory");
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* The input text: arguments joined by spaces, --in FILE ("-": standard input), or standard input. */
static char *read_input(const tokenize_args *a, const warm_opts_result *res, size_t *len, warm_error *err) {
    if (res->nargs > 0) {
        size_t n = 0;
        for (int i = 0; i < res->nargs; i++) n += strlen(res->args[i]) + 1;
        char *buf = malloc(n + 1);
        if (!buf) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory"), NULL;
        buf[0] = 0;
        for (int i = 0; i < res->nargs; i++) strcat(strcat(buf, i ? " " : ""), res->args[i]);
        *len = strlen(buf);
        return buf;
    }
    if (a->in && strcmp(a->in, "-") != 0) return warm_read_file(a->in, len, err);
    return read_stream(stdin, "standard input", len, err);
}

/* Encodes len bytes of text and prints one line: ids, spellings or the count. */
static warm_status encode_line(const warm_tokenizer *t, const tokenize_args *a, const char *text, size_t len,
                               warm_error *err) {
    if (len >= INT_MAX) return warm_error_set(err, WARM_ERR_ARG, "a text of %zu bytes is too long", len);
    int max = (int)len + 1, n = 0; /* a token covers at least one byte */
    int32_t *ids = malloc((size_t)max * sizeof *ids);
    if (!ids) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
    warm_status s = warm_tok_encode_n(t, text, len, a->special ? WARM_TOK_SPECIAL : 0, ids, max, &n, err);
    if (s == WARM_OK && a->mode == MODE_COUNT) printf("%d", n);
    for (int i = 0; s == WARM_OK && a->mode != MODE_COUNT && i < n; i++) {
        if (a->mode == MODE_IDS) printf(i ? " %d" : "%d", ids[i]);
        else printf(i ? " %s" : "%s", warm_tok_word(t, ids[i]));
    }
    if (s == WARM_OK) putchar('\n');
    free(ids);
    return s;
}

/* Decodes the ids written in text[0..len) (separated by spaces, tabs or commas; brackets ignored) and writes
 * the bytes; what: "line N" or "input" for messages. */
static warm_status decode_line(const warm_tokenizer *t, const char *text, size_t len, const char *what,
                               int newline, warm_error *err) {
    int32_t *ids = malloc((len / 2 + 1) * sizeof *ids); /* each id takes a digit and a separator */
    if (!ids) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
    int n = 0, V = warm_tok_vocab_size(t);
    warm_status s = WARM_OK;
    for (const char *p = text, *end = text + len; s == WARM_OK && p < end;) {
        if (strchr(" \t\r\n,[]", *p)) {
            p++;
            continue;
        }
        char *q;
        errno = 0;
        long v = strtol(p, &q, 10);
        if (q == p || q > end || errno || v < 0 || v >= V || (q < end && !strchr(" \t\r\n,[]", *q)))
            s = warm_error_set(err, WARM_ERR_FORMAT, "%s, id %d: \"%.*s\" is not a token id in [0, %d)", what, n + 1,
                               (int)(q > p && q <= end ? q - p : 1), p, V);
        else ids[n++] = (int32_t)v;
        p = q;
    }
    size_t out_len = 0;
    char *out = s == WARM_OK ? warm_tok_decode_n(t, ids, n, &out_len) : NULL;
    if (s == WARM_OK && !out) s = warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
    if (out) {
        fwrite(out, 1, out_len, stdout);
        if (newline) putchar('\n');
    }
    free(out);
    free(ids);
    return s;
}

static warm_status run_tokenize(const tokenize_args *a, const warm_opts_result *res, warm_error *err) {
    warm_tokenizer *t = NULL;
    warm_status s = warm_tok_open(&t, a->tok, err);
    if (s != WARM_OK) return s;
    size_t len = 0;
    char *text = read_input(a, res, &len, err);
    if (!text) s = err->code;
    if (s == WARM_OK && !a->lines) {
        s = a->mode == MODE_TEXT ? decode_line(t, text, len, "input", 0, err) : encode_line(t, a, text, len, err);
    }
    int64_t line = 1;
    for (size_t i = 0; s == WARM_OK && a->lines && i < len; line++) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
        char what[64];
        snprintf(what, sizeof what, "line %lld", (long long)line);
        s = a->mode == MODE_TEXT ? decode_line(t, text + i, n, what, 1, err) : encode_line(t, a, text + i, n, err);
        if (s != WARM_OK && a->mode != MODE_TEXT) warm_error_prefix(err, "%s", what);
        i += n + 1;
    }
    if (fflush(stdout) != 0 && s == WARM_OK) s = warm_error_set(err, WARM_ERR_IO, "standard output: %s", strerror(errno));
    free(text);
    warm_tok_free(t);
    return s;
}

int cli_cmd_tokenize(int argc, char **argv) {
    tokenize_args a = {0};
    int ids = 0, tokens = 0, count = 0, text = 0;
    warm_opt opts[] = {
        {.name = "tokenizer", .short_name = 't', .kind = WARM_OPT_STRING, .dest = &a.tok, .metavar = "gpt2|PATH",
         .def = "gpt2",
         .help = "gpt2 (the GPT-2 files in $WARM_GPT2_DIR, else $WARM_SHARED_DATA/gpt2-tokenizer, else "
                 "../shared/data/gpt2-tokenizer); a directory with encoder.json + vocab.bpe, vocab.json + "
                 "merges.txt or tokenizer.json; or a file: a Hugging Face tokenizer.json (BPE) or warm's "
                 "word-level tokenizer.json"},
        {.name = "in", .short_name = 'i', .kind = WARM_OPT_STRING, .dest = &a.in, .metavar = "FILE",
         .help = "read the input from FILE ('-': standard input, the default when no TEXT is given)"},
        {.name = "ids", .kind = WARM_OPT_FLAG, .dest = &ids, .help = "text -> token ids (the default)"},
        {.name = "tokens", .kind = WARM_OPT_FLAG, .dest = &tokens,
         .help = "text -> token spellings (GPT-2: byte-level, e.g. \"Ġworld\" for \" world\")"},
        {.name = "count", .kind = WARM_OPT_FLAG, .dest = &count, .help = "text -> the number of tokens"},
        {.name = "text", .kind = WARM_OPT_FLAG, .dest = &text,
         .help = "ids -> text: the input holds ids separated by spaces or commas (brackets ignored); "
                 "the bytes are written as they are"},
        {.name = "lines", .short_name = 'l', .kind = WARM_OPT_FLAG, .dest = &a.lines,
         .help = "one text per input line (without its newline), one output line each"},
        {.name = "special", .kind = WARM_OPT_FLAG, .dest = &a.special,
         .help = "read <|endoftext|> in the text as the special token (by default it is ordinary text)"},
    };
    warm_opts_cmd cmd = {
        .prog = "warm", .name = "tokenize",
        .desc = "Turns text into token ids (or token spellings, or a count) and ids back into text.\n"
                "The text is TEXT (arguments joined by spaces), --in FILE, or standard input; output goes\n"
                "to standard output. GPT-2 BPE encodes any bytes and decodes them back exactly.",
        .args = "[TEXT...]", .min_args = 0, .max_args = WARM_OPTS_UNLIMITED, .opts = opts,
        .nopts = CLI_NOPTS(opts),
        .epilog = "examples:\n"
                  "  warm tokenize 'Hello world'                      # 15496 995\n"
                  "  warm tokenize --tokens 'Hello world'             # Hello Ġworld\n"
                  "  warm tokenize --text 15496 995                   # Hello world\n"
                  "  warm tokenize --count --in input.txt             # tokens in a file\n"
                  "  warm tokenize --lines --in data.txt > ids.txt    # one line of ids per line\n"
                  "  WARM_GPT2_DIR=/opt/gpt2 warm tokenize --tokenizer gpt2 'text'"};
    warm_opts_result res;
    int rc = cli_parse(&cmd, argc, argv, &res);
    if (rc != CLI_PARSE_OK) return cli_parse_exit(rc);
    if (ids + tokens + count + text > 1) {
        cli_error("tokenize", "--ids, --tokens, --count and --text exclude each other");
        warm_opts_free(&cmd, &res);
        return CLI_EXIT_USAGE;
    }
    if (res.nargs > 0 && a.in) {
        cli_error("tokenize", "give the text as arguments or with --in, not both");
        warm_opts_free(&cmd, &res);
        return CLI_EXIT_USAGE;
    }
    a.mode = tokens ? MODE_TOKENS : count ? MODE_COUNT : text ? MODE_TEXT : MODE_IDS;
    warm_error err = {0};
    warm_status st = run_tokenize(&a, &res, &err);
    warm_opts_free(&cmd, &res);
    return st == WARM_OK ? CLI_EXIT_OK : cli_fail("tokenize", &err);
}
