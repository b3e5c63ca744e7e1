/*
 * bench_pairs.c — reward-model pair training throughput on realistic preference pairs: the padded
 * two-sequence BT step against the shared-prefix packed step (warm_trainer_set_pair_packing), both in warm.
 *
 * Pairs: synthetic by default (seed 1): prompt length uniform in [60, 90], chosen and rejected lengths each
 * uniform in [8, 20], every token uniform in [0, 314] (vocab 316, pad 315), chosen and rejected drawn
 * independently; or the first rows of a preference JSONL with prompt_ids / chosen_ids / rejected_ids (--prefs,
 * e.g. the demo's prefs_clean.jsonl). --dump FILE writes the pairs used as such a JSONL, so that
 * bench/torch_bench.py --pairs FILE times PyTorch on exactly the same pairs.
 * Model: GPT-2, vocab 316, context 128, 4 layers, 4 heads, width --width (128 or 256), dropout 0.1.
 * Step: P pairs (--pairs, default 16, as warm train-rm) taken in order from the set (cycling), BT loss with
 * dropout, backward, AdamW (clip 1.0); padded rows are padded to the batch's longest sequence (what warm
 * train-rm and TRL's collator do), last layer pruned in both modes. 3 warm-up steps, then --steps timed.
 * Printed per mode: pairs/s, tokens/s (real tokens: prompt + response of both sequences, the count train-rm
 * logs, identical for both modes) and the rows the step computed per pair.
 * Usage: bench_pairs [--width C] [--pairs P] [--steps N] [--n-pairs M] [--prefs FILE] [--dump FILE]
 *        (threads: OMP_NUM_THREADS)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warm/data.h"
#include "warm/model.h"

enum { V = 316, CTX = 128, PAD = V - 1 };

typedef struct {
    int n;
    int32_t *plen, *clen, *rlen; /* (n) */
    int32_t **prompt, **chosen, **rejected; /* (n) pointers into pool */
    int32_t *pool;
} pair_set;

static void die(const char *msg) {
    fprintf(stderr, "bench_pairs: %s\n", msg);
    exit(1);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory");
    return p;
}

static void set_alloc(pair_set *s, int n, size_t pool) {
    s->n = n;
    s->plen = xmalloc((size_t)n * sizeof(int32_t));
    s->clen = xmalloc((size_t)n * sizeof(int32_t));
    s->rlen = xmalloc((size_t)n * sizeof(int32_t));
    s->prompt = xmalloc((size_t)n * sizeof(int32_t *));
    s->chosen = xmalloc((size_t)n * sizeof(int32_t *));
    s->rejected = xmalloc((size_t)n * sizeof(int32_t *));
    s->pool = xmalloc(pool * sizeof(int32_t));
}

static int32_t uniform(warm_rng *r, int lo, int hi) { return lo + (int32_t)warm_rng_below(r, (uint32_t)(hi - lo + 1)); }

static void set_synthetic(pair_set *s, int n) {
    set_alloc(s, n, (size_t)n * (90 + 20 + 20));
    warm_rng r;
    warm_rng_seed(&r, 1);
    int32_t *p = s->pool;
    for (int i = 0; i < n; i++) {
        s->plen[i] = uniform(&r, 60, 90);
        s->clen[i] = uniform(&r, 8, 20);
        s->rlen[i] = uniform(&r, 8, 20);
        int32_t *lens[3] = {&s->plen[i], &s->clen[i], &s->rlen[i]};
        int32_t **dst[3] = {&s->prompt[i], &s->chosen[i], &s->rejected[i]};
        for (int k = 0; k < 3; k++) {
            *dst[k] = p;
            for (int t = 0; t < *lens[k]; t++) *p++ = uniform(&r, 0, V - 2);
        }
    }
}

static void set_from_prefs(pair_set *s, const char *path, int n) {
    warm_prefs d;
    warm_error err;
    warm_prefs_opts o = warm_prefs_opts_default();
    o.vocab_size = V;
    o.pad_id = PAD;
    o.max_len = CTX;
    if (warm_prefs_load(&d, path, NULL, &o, &err)) die(err.msg);
    if (d.n < 1) die("no pairs in the file");
    if (n > d.n) n = (int)d.n;
    set_alloc(s, n, (size_t)n * 3 * CTX);
    int32_t *p = s->pool;
    for (int i = 0; i < n; i++) {
        warm_pref_view v = warm_prefs_view(&d, i);
        s->plen[i] = v.prompt_len;
        s->clen[i] = v.resp_len[0];
        s->rlen[i] = v.resp_len[1];
        if (s->clen[i] < 1 || s->rlen[i] < 1) die("a pair with an empty response");
        const int32_t *src[3] = {v.prompt, v.resp[0], v.resp[1]};
        int32_t lens[3] = {v.prompt_len, v.resp_len[0], v.resp_len[1]};
        int32_t **dst[3] = {&s->prompt[i], &s->chosen[i], &s->rejected[i]};
        for (int k = 0; k < 3; k++) {
            *dst[k] = p;
            memcpy(p, src[k], (size_t)lens[k] * sizeof *p);
            p += lens[k];
        }
    }
    warm_prefs_free(&d);
}

static void write_ids(FILE *f, const char *name, const int32_t *x, int n) {
    fprintf(f, "\"%s\":[", name);
    for (int t = 0; t < n; t++) fprintf(f, "%s%d", t ? "," : "", (int)x[t]);
    fprintf(f, "]");
}

static void set_dump(const pair_set *s, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) die(strerror(errno));
    for (int i = 0; i < s->n; i++) {
        fprintf(f, "{");
        write_ids(f, "prompt_ids", s->prompt[i], s->plen[i]);
        fprintf(f, ",");
        write_ids(f, "chosen_ids", s->chosen[i], s->clen[i]);
        fprintf(f, ",");
        write_ids(f, "rejected_ids", s->rejected[i], s->rlen[i]);
        fprintf(f, "}\n");
    }
    if (fclose(f)) die("cannot write the dump");
}

/* Pairs first..first+P-1 (cycling) as (2P, T) right-padded rows, T = the longest; returns T. */
static int make_batch(const pair_set *s, int first, int P, int32_t *tok, int32_t *len) {
    int T = 1;
    for (int p = 0; p < P; p++) {
        int i = (first + p) % s->n;
        len[p] = s->plen[i] + s->clen[i];
        len[P + p] = s->plen[i] + s->rlen[i];
        T = len[p] > T ? len[p] : T;
        T = len[P + p] > T ? len[P + p] : T;
    }
    for (int p = 0; p < P; p++) {
        int i = (first + p) % s->n;
        int32_t *a = tok + (size_t)p * T, *b = tok + (size_t)(P + p) * T;
        memcpy(a, s->prompt[i], (size_t)s->plen[i] * sizeof *a);
        memcpy(b, s->prompt[i], (size_t)s->plen[i] * sizeof *b);
        memcpy(a + s->plen[i], s->chosen[i], (size_t)s->clen[i] * sizeof *a);
        memcpy(b + s->plen[i], s->rejected[i], (size_t)s->rlen[i] * sizeof *b);
        for (int t = len[p]; t < T; t++) a[t] = PAD;
        for (int t = len[P + p]; t < T; t++) b[t] = PAD;
    }
    return T;
}

static long parse_int(const char *s, long lo, long hi, const char *what) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "bench_pairs: %s must be an integer in [%ld, %ld]\n", what, lo, hi);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv) {
    int C = 256, P = 16, steps = 20, n_pairs = 256;
    const char *prefs = NULL, *dump = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) { fprintf(stderr, "bench_pairs: %s needs a value\n", a); return 2; }
        if (strcmp(a, "--width") == 0) C = (int)parse_int(v, 4, 4096, "--width");
        else if (strcmp(a, "--pairs") == 0) P = (int)parse_int(v, 1, 4096, "--pairs");
        else if (strcmp(a, "--steps") == 0) steps = (int)parse_int(v, 1, 1000000, "--steps");
        else if (strcmp(a, "--n-pairs") == 0) n_pairs = (int)parse_int(v, 1, 10000000, "--n-pairs");
        else if (strcmp(a, "--prefs") == 0) prefs = v;
        else if (strcmp(a, "--dump") == 0) dump = v;
        else { fprintf(stderr, "bench_pairs: unknown option %s\n", a); return 2; }
        i++;
    }
    if (C % 4) die("--width must be a multiple of the 4 heads");
    pair_set s;
    if (prefs) set_from_prefs(&s, prefs, n_pairs);
    else set_synthetic(&s, n_pairs);
    if (dump) set_dump(&s, dump);
    double ptok = 0, rtok = 0;
    for (int i = 0; i < s.n; i++) {
        ptok += s.plen[i];
        rtok += s.clen[i] + s.rlen[i];
    }
    printf("# pairs: %s, %d pairs, mean prompt %.1f tokens, mean response %.1f tokens; %d pairs/step\n",
           prefs ? prefs : "synthetic (seed 1: prompt U[60,90], responses U[8,20], tokens U[0,314])", s.n,
           ptok / s.n, rtok / (2.0 * s.n), P);

    warm_error err;
    warm_config cfg = warm_config_default(V, CTX, 4, 4, C);
    warm_model m;
    if (warm_model_init(&m, &cfg, &err) || warm_model_alloc_train(&m, &err)) die(err.msg);
    warm_model_init_weights(&m, 1);
    warm_trainer *tr;
    if (warm_trainer_init(&tr, &m, 2 * P, CTX, 0, &err)) die(err.msg);
    int32_t *tok = xmalloc((size_t)2 * P * CTX * sizeof *tok), *len = xmalloc((size_t)2 * P * sizeof *len);
    warm_adamw_config oc = warm_adamw_default(1e-5f);
    oc.grad_clip = 1.0f;
    const char *names[2] = {"padded", "packed"};
    for (int packed = 0; packed <= 1; packed++) {
        warm_trainer_set_pair_packing(tr, packed);
        double tokens = 0, rows = 0, t0 = 0;
        for (int st = -3; st < steps; st++) { /* 3 warm-up steps */
            if (st == 0) t0 = warm_time_now();
            int first = ((st + 3) * P) % s.n;
            int T = make_batch(&s, first, P, tok, len);
            warm_trainer_bt_step(tr, tok, len, P, T, NULL, 0.0f, 1, (uint64_t)(st + 3), 1, NULL);
            warm_model_adamw_step(&m, &oc, 0);
            if (st < 0) continue;
            for (int b = 0; b < 2 * P; b++) tokens += len[b];
            if (!packed) rows += 2.0 * P * T;
            for (int p = 0; packed && p < P; p++) { /* prefix + both rests: the rows the packed step runs */
                int k = 0, la = len[p], lb = len[P + p], cap = (la < lb ? la : lb) - 1;
                const int32_t *a = tok + (size_t)p * T, *b = tok + (size_t)(P + p) * T;
                while (k < cap && a[k] == b[k]) k++;
                rows += la + lb - k;
            }
        }
        double dt = warm_time_now() - t0;
        printf("warm width=%d threads=%d step=%s pairs_per_s=%.1f tokens_per_s=%.0f rows_per_pair=%.1f "
               "ms_per_step=%.1f steps=%d\n", C, warm_num_threads(), names[packed], steps * P / dt, tokens / dt,
               rows / (steps * P), dt / steps * 1e3, steps);
    }
    free(tok); free(len);
    free(s.plen); free(s.clen); free(s.rlen); free(s.prompt); free(s.chosen); free(s.rejected); free(s.pool);
    warm_trainer_free(tr);
    warm_model_free(&m);
    return 0;
}
