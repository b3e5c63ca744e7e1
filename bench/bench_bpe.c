/*
 * bench_bpe.c — GPT-2 byte-level BPE encoding speed on one core (the tokenizer is single-threaded).
 *
 * Validates first: Tiny Shakespeare encodes to 338,025 tokens (formats.md §5) and decodes back to the same
 * bytes. Then times, best and mean of --repeat runs, in MB/s of input text (10^6 bytes) and tokens/s:
 *   whole      input.txt (1,115,394 bytes) in one call
 *   lines      the same text line by line, 40,000 calls (the shape of JSONL data)
 *   naive/heap the whole text with the merge loop forced to GPT-2's algorithm / to the heap
 *   mixed      tests/fixtures/bpe_hard.txt (scripts, emoji, invalid UTF-8, long pieces) repeated to ~1 MB
 *   decode     the ids of the whole text back to bytes
 * and the load time of encoder.json + vocab.bpe. bench/bpe_node.js times the npm encoders on the same text
 * (bench/run.sh runs both).
 * Usage: bench_bpe [--repeat N] [--shared DIR]   (DIR: $WARM_SHARED_DATA, else ../shared/data)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/tok_internal.h"
#include "warm/tokenizer.h"

static void die(const char *msg) {
    fprintf(stderr, "bench_bpe: %s\n", msg);
    exit(1);
}

typedef struct {
    const char *name;
    double best, mean; /* seconds */
    size_t bytes;
    int tokens;
} timing;

static void report(const timing *t) {
    printf("%-7s %9.1f MB/s best %9.1f MB/s mean %12.0f tokens/s best  (%zu bytes, %d tokens)\n", t->name,
           (double)t->bytes / t->best / 1e6, (double)t->bytes / t->mean / 1e6, t->tokens / t->best, t->bytes,
           t->tokens);
}

/* Encodes text (whole, or line by line) repeat times; ids must hold len + 1. */
static timing time_encode(const char *name, const warm_tokenizer *tok, const char *text, size_t len, int by_line,
                          int repeat, int32_t *ids) {
    timing t = {name, 1e30, 0, len, 0};
    warm_error err = {0};
    for (int r = 0; r < repeat; r++) {
        double t0 = warm_time_now();
        int total = 0;
        for (size_t i = 0; i < len;) {
            size_t n = len - i;
            if (by_line) {
                const char *nl = memchr(text + i, '\n', n);
                if (nl) n = (size_t)(nl - (text + i)) + 1;
            }
            int got = 0;
            if (warm_tok_encode_n(tok, text + i, n, 0, ids + total, (int)(len + 1) - total, &got, &err) != WARM_OK)
                die(err.msg);
            total += got;
            i += n;
        }
        double dt = warm_time_now() - t0;
        t.best = dt < t.best ? dt : t.best;
        t.mean += dt / repeat;
        t.tokens = total;
    }
    return t;
}

static char *read_or_die(const char *path, size_t *len) {
    warm_error err = {0};
    char *s = warm_read_file(path, len, &err);
    if (!s) die(err.msg);
    return s;
}

int main(int argc, char **argv) {
    int repeat = 10;
    const char *shared = getenv("WARM_SHARED_DATA");
    if (!shared) shared = "../shared/data";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) repeat = atoi(argv[++i]);
        else if (strcmp(argv[i], "--shared") == 0 && i + 1 < argc) shared = argv[++i];
        else die("usage: bench_bpe [--repeat N] [--shared DIR]");
    }
    if (repeat < 1) die("--repeat must be >= 1");
    char enc[4096], merges[4096], input[4096];
    snprintf(enc, sizeof enc, "%s/gpt2-tokenizer/encoder.json", shared);
    snprintf(merges, sizeof merges, "%s/gpt2-tokenizer/vocab.bpe", shared);
    snprintf(input, sizeof input, "%s/tinyshakespeare/input.txt", shared);
    warm_error err = {0};
    warm_tokenizer *tok = NULL;
    double t0 = warm_time_now();
    if (warm_tok_load_gpt2(&tok, enc, merges, &err) != WARM_OK) die(err.msg);
    printf("load encoder.json + vocab.bpe: %.1f ms\n", 1e3 * (warm_time_now() - t0));
    size_t len = 0, hard_len = 0;
    char *text = read_or_die(input, &len), *hard = read_or_die("tests/fixtures/bpe_hard.txt", &hard_len);
    int32_t *ids = malloc((len + 1) * sizeof *ids);
    if (!ids) die("out of memory");

    /* Validation: the documented count and an exact round trip. */
    int n = 0;
    if (warm_tok_encode_n(tok, text, len, 0, ids, (int)len + 1, &n, &err) != WARM_OK) die(err.msg);
    size_t back_len = 0;
    char *back = warm_tok_decode_n(tok, ids, n, &back_len);
    int ok = n == 338025 && back && back_len == len && memcmp(back, text, len) == 0;
    free(back);
    printf("validation: %d tokens (expected 338025), round trip %s\n", n, ok ? "exact" : "DIFFERS");
    if (!ok) die("VALIDATION FAILED");

    timing whole = time_encode("whole", tok, text, len, 0, repeat, ids);
    report(&whole);
    timing lines = time_encode("lines", tok, text, len, 1, repeat, ids);
    report(&lines);
    tok_bpe_set_merge_algo(tok->bpe, TOK_MERGE_NAIVE);
    timing naive = time_encode("naive", tok, text, len, 0, repeat, ids);
    report(&naive);
    tok_bpe_set_merge_algo(tok->bpe, TOK_MERGE_HEAP);
    timing heap = time_encode("heap", tok, text, len, 0, repeat, ids);
    report(&heap);
    tok_bpe_set_merge_algo(tok->bpe, TOK_MERGE_AUTO);

    size_t copies = len / hard_len + 1, mixed_len = copies * hard_len;
    char *mixed = malloc(mixed_len);
    int32_t *mixed_ids = malloc((mixed_len + 1) * sizeof *mixed_ids);
    if (!mixed || !mixed_ids) die("out of memory");
    for (size_t c = 0; c < copies; c++) memcpy(mixed + c * hard_len, hard, hard_len);
    timing mix = time_encode("mixed", tok, mixed, mixed_len, 0, repeat, mixed_ids);
    report(&mix);

    if (warm_tok_encode_n(tok, text, len, 0, ids, (int)len + 1, &n, &err) != WARM_OK) die(err.msg);
    timing dec = {"decode", 1e30, 0, len, n};
    for (int r = 0; r < repeat; r++) {
        t0 = warm_time_now();
        char *s = warm_tok_decode_n(tok, ids, n, &back_len);
        double dt = warm_time_now() - t0;
        free(s);
        dec.best = dt < dec.best ? dt : dec.best;
        dec.mean += dt / repeat;
    }
    report(&dec);
    free(mixed);
    free(mixed_ids);
    free(ids);
    free(text);
    free(hard);
    warm_tok_free(tok);
    return 0;
}
