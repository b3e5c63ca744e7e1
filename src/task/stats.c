/*
 * stats.c — warm_task_stats: the numbers that show the task is neither trivial nor impossible (issue 3):
 * gold distribution by response source and of the references, label agreement with the gold order, the
 * length cue (how often chosen / gold-better responses are the longer ones) and failure shares
 * (hallucinated or repeated facts, missing <eos>).
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "warm/data.h"
#include "warm/task.h"

#define MAX_SOURCES 16

typedef struct {
    char name[64];
    int64_t n, n_hal, n_rep, n_noeos;
    double words;
    double *gold;     /* (n) values, grown */
    int64_t cap;
} source_stats;

typedef struct {
    int64_t pairs, ties, agree, corrupted, agree_clean, n_clean, agree_corrupt;
    int64_t chosen_longer, len_decided, goldbetter_longer, len_gold_decided;
} split_stats;

typedef struct {
    source_stats src[MAX_SOURCES];
    int n_src;
    split_stats split[4];
    int32_t *ids;     /* scratch */
} stats_acc;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static source_stats *source_get(stats_acc *a, const char *name, warm_error *err) {
    for (int i = 0; i < a->n_src; i++)
        if (strcmp(a->src[i].name, name) == 0) return &a->src[i];
    if (a->n_src == MAX_SOURCES) {
        warm_error_set(err, WARM_ERR_ARG, "stats: more than %d response sources", MAX_SOURCES);
        return NULL;
    }
    source_stats *s = &a->src[a->n_src++];
    snprintf(s->name, sizeof s->name, "%s", name);
    return s;
}

static warm_status source_add(source_stats *s, const warm_gold *g, warm_error *err) {
    if (s->n == s->cap) {
        int64_t cap = s->cap ? 2 * s->cap : 256;
        double *v = realloc(s->gold, (size_t)cap * sizeof *v);
        if (!v) return warm_error_set(err, WARM_ERR_NOMEM, "stats: out of memory");
        s->gold = v;
        s->cap = cap;
    }
    s->gold[s->n++] = g->total;
    s->n_hal += g->n_hallucinated > 0;
    s->n_rep += g->n_repeated > 0;
    s->n_noeos += !g->has_eos;
    s->words += g->n_words;
    return WARM_OK;
}

static int split_index(const char *s) {
    if (!s) return -1;
    return strcmp(s, "train") == 0 ? 0 : strcmp(s, "val") == 0 ? 1 : strcmp(s, "ood") == 0 ? 2 : strcmp(s, "ood_val") == 0 ? 3 : -1;
}

/* One prefs row: gold of both sides by source, agreement, length cue. */
static warm_status add_row(stats_acc *a, const warm_task_world *w, warm_jsonl_reader *r, const cJSON *obj,
                           warm_error *err) {
    const char *split = NULL, *srcname[2] = {"unknown", "unknown"};
    int corrupted = 0, n[3];
    warm_ids ids = {0};
    const char *keys[3] = {"prompt_ids", "chosen_ids", "rejected_ids"};
    warm_status s = warm_jsonl_get_str(r, obj, "split", 0, &split, NULL, err);
    if (!s) s = warm_jsonl_get_bool(r, obj, "corrupted", 0, &corrupted, NULL, err);
    if (!s) s = warm_jsonl_get_str(r, obj, "chosen_source", 0, &srcname[0], NULL, err);
    if (!s) s = warm_jsonl_get_str(r, obj, "rejected_source", 0, &srcname[1], NULL, err);
    int32_t V = warm_tok_vocab_size(warm_task_tokenizer(w));
    for (int k = 0; k < 3 && !s; k++) s = warm_jsonl_get_ids(r, obj, keys[k], 1, V, &ids, &n[k], NULL, err);
    if (s) { warm_ids_free(&ids); return s; }
    warm_gold g[2];
    for (int k = 0; k < 2; k++) {
        warm_task_gold_ids(w, ids.v, n[0], ids.v + n[0] + (k ? n[1] : 0), n[1 + k], &g[k]);
        source_stats *src = source_get(a, srcname[k], err);
        if (!src || (s = source_add(src, &g[k], err))) break;
    }
    warm_ids_free(&ids);
    if (s || err->code) return s ? s : err->code;
    int si = split_index(split);
    if (si < 0) return WARM_OK;
    split_stats *ss = &a->split[si];
    ss->pairs++;
    /* Agreement of the label with the gold order; a corrupted pair's label was swapped after labelling. */
    if (g[0].total == g[1].total) ss->ties++;
    else {
        int agree = g[0].total > g[1].total;
        ss->agree += agree;
        if (corrupted) { ss->corrupted++; ss->agree_corrupt += agree; }
        else { ss->n_clean++; ss->agree_clean += agree; }
    }
    if (g[0].n_words != g[1].n_words) {
        ss->len_decided++;
        ss->chosen_longer += g[0].n_words > g[1].n_words;
        if (g[0].total != g[1].total) {
            ss->len_gold_decided++;
            int better = g[0].total > g[1].total ? 0 : 1;
            ss->goldbetter_longer += g[better].n_words > g[1 - better].n_words;
        }
    }
    return WARM_OK;
}

/* Gold of the references of prompts_val.jsonl (scored as SFT data: with the <eos> a trainer appends). */
static warm_status add_references(stats_acc *a, const warm_task_world *w, const char *task_dir, warm_error *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/prompts_val.jsonl", task_dir);
    warm_jsonl_reader *r = NULL;
    warm_status s = warm_jsonl_open(&r, path, err);
    source_stats *src = s ? NULL : source_get(a, "reference", err);
    if (!s && !src) s = err->code;
    while (!s) {
        const cJSON *obj;
        s = warm_jsonl_next(r, &obj, err);
        if (s || !obj) break;
        const char *prompt = NULL, *ref = NULL;
        s = warm_jsonl_get_str(r, obj, "prompt", 1, &prompt, NULL, err);
        if (!s) s = warm_jsonl_get_str(r, obj, "reference", 1, &ref, NULL, err);
        size_t n = ref ? strlen(ref) : 0;
        char *withend = s ? NULL : malloc(n + 8);
        if (!s && !withend) s = warm_error_set(err, WARM_ERR_NOMEM, "stats: out of memory");
        warm_gold g;
        if (!s) {
            snprintf(withend, n + 8, "%s <eos>", ref);
            s = warm_task_gold(w, prompt, withend, &g, err);
        }
        if (!s) s = source_add(src, &g, err);
        free(withend);
    }
    warm_jsonl_close(r);
    return s;
}

static double ratio(int64_t a, int64_t b) { return b ? (double)a / (double)b : (double)NAN; }
static double pct(int64_t a, int64_t b) { return 100.0 * ratio(a, b); }

static cJSON *report_sources(stats_acc *a, FILE *out) {
    cJSON *arr = cJSON_CreateArray();
    fprintf(out, "gold reward by response source\n  %-14s %6s %7s %6s %7s %7s %7s %6s %6s %6s %6s\n", "source", "n",
            "mean", "sd", "p10", "p50", "p90", "words", "%hal", "%rep", "%noeos");
    for (int i = 0; i < a->n_src; i++) {
        source_stats *s = &a->src[i];
        if (s->n == 0) continue;
        double mean = 0, var = 0;
        for (int64_t k = 0; k < s->n; k++) mean += s->gold[k];
        mean /= (double)s->n;
        for (int64_t k = 0; k < s->n; k++) var += (s->gold[k] - mean) * (s->gold[k] - mean);
        double sd = sqrt(var / (double)s->n);
        qsort(s->gold, (size_t)s->n, sizeof(double), cmp_double);
        double q[3] = {s->gold[s->n / 10], s->gold[s->n / 2], s->gold[(s->n * 9) / 10]};
        fprintf(out, "  %-14s %6lld %7.3f %6.3f %7.3f %7.3f %7.3f %6.1f %6.1f %6.1f %6.1f\n", s->name,
                (long long)s->n, mean, sd, q[0], q[1], q[2], s->words / (double)s->n, pct(s->n_hal, s->n),
                pct(s->n_rep, s->n), pct(s->n_noeos, s->n));
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "source", s->name);
        cJSON_AddNumberToObject(o, "n", (double)s->n);
        cJSON_AddNumberToObject(o, "gold_mean", mean);
        cJSON_AddNumberToObject(o, "gold_sd", sd);
        cJSON_AddNumberToObject(o, "gold_p10", q[0]);
        cJSON_AddNumberToObject(o, "gold_p50", q[1]);
        cJSON_AddNumberToObject(o, "gold_p90", q[2]);
        cJSON_AddNumberToObject(o, "mean_words", s->words / (double)s->n);
        cJSON_AddNumberToObject(o, "share_hallucinated", (double)s->n_hal / (double)s->n);
        cJSON_AddNumberToObject(o, "share_repeated", (double)s->n_rep / (double)s->n);
        cJSON_AddNumberToObject(o, "share_no_eos", (double)s->n_noeos / (double)s->n);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static cJSON *report_splits(stats_acc *a, FILE *out) {
    static const char *names[4] = {"train", "val", "ood", "ood_val"};
    cJSON *obj = cJSON_CreateObject();
    fprintf(out, "\nlabels (agreement with the gold order excludes gold ties)\n"
                 "  %-6s %6s %6s %8s %8s %10s %9s %13s\n", "split", "pairs", "ties", "%agree", "%clean", "%corrupted",
            "%chosen", "%gold-better");
    fprintf(out, "  %-6s %6s %6s %8s %8s %10s %9s %13s\n", "", "", "", "", "agree", "agree", "longer", "longer");
    for (int i = 0; i < 4; i++) {
        split_stats *s = &a->split[i];
        if (!s->pairs) continue;
        int64_t decided = s->pairs - s->ties;
        fprintf(out, "  %-6s %6lld %6lld %8.1f %8.1f %10.1f %9.1f %13.1f\n", names[i], (long long)s->pairs,
                (long long)s->ties, pct(s->agree, decided), pct(s->agree_clean, s->n_clean),
                pct(s->agree_corrupt, s->corrupted), pct(s->chosen_longer, s->len_decided),
                pct(s->goldbetter_longer, s->len_gold_decided));
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "pairs", (double)s->pairs);
        cJSON_AddNumberToObject(o, "gold_ties", (double)s->ties);
        cJSON_AddNumberToObject(o, "corrupted", (double)s->corrupted);
        cJSON_AddNumberToObject(o, "agree_gold", ratio(s->agree, decided));
        cJSON_AddNumberToObject(o, "agree_gold_clean", ratio(s->agree_clean, s->n_clean));
        cJSON_AddNumberToObject(o, "agree_gold_corrupted", ratio(s->agree_corrupt, s->corrupted));
        cJSON_AddNumberToObject(o, "chosen_longer", ratio(s->chosen_longer, s->len_decided));
        cJSON_AddNumberToObject(o, "gold_better_longer",
                                ratio(s->goldbetter_longer, s->len_gold_decided));
        cJSON_AddItemToObject(obj, names[i], o);
    }
    return obj;
}

warm_status warm_task_stats(const warm_task_world *w, const char *task_dir, const char *prefs_path, FILE *out,
                            const char *json_path, warm_error *err) {
    stats_acc *a = calloc(1, sizeof *a);
    if (!a) return warm_error_set(err, WARM_ERR_NOMEM, "stats: out of memory");
    err->code = WARM_OK;
    warm_jsonl_reader *r = NULL;
    warm_status s = warm_jsonl_open(&r, prefs_path, err);
    while (!s) {
        const cJSON *obj;
        s = warm_jsonl_next(r, &obj, err);
        if (s || !obj) break;
        s = add_row(a, w, r, obj, err);
    }
    warm_jsonl_close(r);
    if (!s) s = add_references(a, w, task_dir, err);
    if (!s) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddItemToObject(root, "sources", report_sources(a, out));
        cJSON_AddItemToObject(root, "splits", report_splits(a, out));
        if (json_path) {
            warm_jsonl_writer *wr = NULL;
            s = warm_jsonl_writer_open(&wr, json_path, err);
            if (!s) s = warm_jsonl_write(wr, root, err);
            if (!s) s = warm_jsonl_writer_commit(wr, err);
            else warm_jsonl_writer_abort(wr);
        }
        cJSON_Delete(root);
    }
    for (int i = 0; i < a->n_src; i++) free(a->src[i].gold);
    free(a);
    return s;
}
