/*
 * cmd_eval.c — `warm eval`: pairwise accuracy (both rules), ties, margin, calibration and BT loss of reward
 * models on preference pairs, per subset, for each model and for their prediction ensemble; the length
 * baseline and the gold-order agreement beside them (docs/eval.md).
 *
 * Subsets: every split present in the data, in order of first appearance ("all" when no row has a split;
 * "unsplit" for the rows without one when others have one); a split with corrupted rows also gets
 * "<split>-clean" and "<split>-corrupt". --subset split=A|B,corrupted=true|false restricts them: only the
 * listed splits, and with corrupted=... only the clean (or corrupted) rows of each split.
 *
 * Every model is scored once on the union of the selected subsets; the ensemble is computed from those
 * scores (warm_eval_ensemble), exactly as it would be from the --scores file. Models are loaded one at a time.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "warm/data.h"
#include "warm/eval.h"
#include "warm/model.h"
#include "warm/progress.h"
#include "warm/tokenizer.h"

static const char *const ens_choices[] = {"mean", "min", "mean-std", NULL};
static const char *const strategy_choices[] = {"auto", "packed", "batched", "decode", NULL};

typedef struct {
    const char *data, *tok, *subset, *json, *scores;
    int ens, strategy, max_rows, ece_bins, allow_unk;
    double lambda;
    char **rms;   /* (n_rm) */
    int n_rm;
} eval_args;

typedef struct {
    warm_eval_subset sub;         /* name, split, corrupted, rows (idx, n) */
    int64_t *pos;                 /* (n) positions of the rows in the scored union */
    double len_base;              /* longer-response baseline */
    warm_gold_metrics gold_label; /* label vs gold order (rm_gold unused) */
} subset_t;

typedef struct {
    warm_pair_metrics m;
    warm_gold_metrics g;
} cell_t;

/* ---------------------------------------------------------------------------------------------------- */
/* Subsets                                                                                                */

static void subsets_free(subset_t *s, int n) {
    for (int i = 0; s && i < n; i++) {
        free(s[i].pos);
        free(s[i].sub.idx);
    }
    free(s);
}

/* The library's subsets (warm_eval_subsets), with the union positions and baselines added. */
static warm_status build_subsets(const warm_prefs *d, const char *spec, subset_t **out, int *nout, warm_error *err) {
    warm_eval_subset *es = NULL;
    int n = 0;
    warm_status st = warm_eval_subsets(d, spec, &es, &n, err);
    if (st) return st;
    subset_t *s = calloc((size_t)(n > 0 ? n : 1), sizeof *s);
    if (!s) st = warm_error_set(err, WARM_ERR_NOMEM, "eval: out of memory");
    for (int j = 0; j < n && !st; j++) {
        s[j].sub = es[j];
        s[j].pos = malloc((size_t)es[j].n * sizeof(int64_t));
        if (!s[j].pos) st = warm_error_set(err, WARM_ERR_NOMEM, "eval: out of memory");
        s[j].len_base = warm_eval_length_baseline(d, es[j].idx, es[j].n);
        warm_eval_gold(d, es[j].idx, es[j].n, NULL, NULL, &s[j].gold_label);
    }
    /* The index lists now belong to s (freed with it via sub.idx). */
    if (st) {
        for (int j = 0; s && j < n; j++) free(s[j].pos);
        free(s);
        warm_eval_subsets_free(es, n);
        return st;
    }
    free(es);
    *out = s;
    *nout = n;
    return WARM_OK;
}

/* Union of the subsets' rows in file order -> *rows (n); fills each subset's pos. */
static warm_status build_union(const warm_prefs *d, subset_t *s, int ns, int64_t **rows, int64_t *n, warm_error *err) {
    int64_t *where = malloc((size_t)(d->n > 0 ? d->n : 1) * sizeof(int64_t));
    *rows = malloc((size_t)(d->n > 0 ? d->n : 1) * sizeof(int64_t));
    if (!where || !*rows) {
        free(where);
        return warm_error_set(err, WARM_ERR_NOMEM, "eval: out of memory");
    }
    for (int64_t i = 0; i < d->n; i++) where[i] = -1;
    for (int k = 0; k < ns; k++)
        for (int64_t j = 0; j < s[k].sub.n; j++) where[s[k].sub.idx[j]] = 0;
    *n = 0;
    for (int64_t i = 0; i < d->n; i++)
        if (where[i] == 0) {
            where[i] = *n;
            (*rows)[(*n)++] = i;
        }
    for (int k = 0; k < ns; k++)
        for (int64_t j = 0; j < s[k].sub.n; j++) s[k].pos[j] = where[s[k].sub.idx[j]];
    free(where);
    return WARM_OK;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Model names                                                                                            */

/* Display names: file basename without ".safetensors"; the path as given where basenames collide; "#k"
 * appended where even those collide. */
static void model_names(char **paths, int n, char (*names)[128]) {
    for (int k = 0; k < n; k++) {
        const char *b = strrchr(paths[k], '/');
        b = b ? b + 1 : paths[k];
        snprintf(names[k], 128, "%s", b);
        size_t L = strlen(names[k]), ext = strlen(".safetensors");
        if (L > ext && strcmp(names[k] + L - ext, ".safetensors") == 0) names[k][L - ext] = 0;
    }
    int *clash = calloc((size_t)n, sizeof(int));
    for (int k = 0; clash && k < n; k++)
        for (int j = 0; j < n; j++)
            if (j != k && strcmp(names[j], names[k]) == 0) clash[k] = 1;
    for (int k = 0; clash && k < n; k++)
        if (clash[k]) snprintf(names[k], 128, "%s", paths[k]);
    free(clash);
    for (int k = 0; k < n; k++)
        for (int j = 0; j < k; j++)
            if (strcmp(names[j], names[k]) == 0) {
                char tmp[128];
                snprintf(tmp, sizeof tmp, "%.100s#%d", names[k], k + 1);
                memcpy(names[k], tmp, sizeof tmp);
                break;
            }
}

/* ---------------------------------------------------------------------------------------------------- */
/* Output                                                                                                 */

static void fmt_num(char *buf, size_t n, double v, int prec) {
    if (isnan(v)) snprintf(buf, n, "-");
    else snprintf(buf, n, "%.*f", prec, v);
}

static void print_header(int name_w) {
    printf("%-*s %-16s %7s %7s %7s %6s %8s %7s %8s %7s %7s\n", name_w, "model", "subset", "n", "acc>=", "acc>",
           "ties", "margin", "ECE", "BT-loss", "len", "gold");
}

static void print_row(int name_w, const char *model, const subset_t *s, const cell_t *c) {
    char a[6][32];
    fmt_num(a[0], sizeof a[0], c->m.acc_ge, 4);
    fmt_num(a[1], sizeof a[1], c->m.acc_gt, 4);
    fmt_num(a[2], sizeof a[2], c->m.margin, 3);
    fmt_num(a[3], sizeof a[3], c->m.ece, 4);
    fmt_num(a[4], sizeof a[4], c->m.bt_loss, 4);
    fmt_num(a[5], sizeof a[5], c->g.rm_gold, 4);
    char len[32];
    fmt_num(len, sizeof len, s->len_base, 4);
    printf("%-*s %-16s %7" PRId64 " %7s %7s %6" PRId64 " %8s %7s %8s %7s %7s\n", name_w, model, s->sub.name,
           s->sub.n, a[0], a[1], c->m.ties, a[2], a[3], a[4], len, a[5]);
}

static cJSON *metrics_json(const char *model, const subset_t *s, const cell_t *c) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "model", model);
    cJSON_AddStringToObject(o, "subset", s->sub.name);
    cJSON_AddNumberToObject(o, "n", (double)c->m.n);
    cJSON_AddNumberToObject(o, "acc_ge", c->m.acc_ge);
    cJSON_AddNumberToObject(o, "acc_gt", c->m.acc_gt);
    cJSON_AddNumberToObject(o, "ties", (double)c->m.ties);
    cJSON_AddNumberToObject(o, "margin", c->m.margin);
    cJSON_AddNumberToObject(o, "ece", c->m.ece);
    cJSON_AddNumberToObject(o, "bt_loss", c->m.bt_loss);
    cJSON_AddNumberToObject(o, "length_baseline", s->len_base);
    cJSON_AddNumberToObject(o, "gold_n", (double)c->g.n_gold);
    if (c->g.n_gold > 0) cJSON_AddNumberToObject(o, "gold_agreement", c->g.rm_gold);
    else cJSON_AddNullToObject(o, "gold_agreement");
    return o;
}

/* One row per scored pair: row index, line, id, split, corrupted, and [r+, r-] under each model's name. */
static warm_status write_scores(const char *path, const warm_prefs *d, const int64_t *rows, int64_t n, int M,
                                char (*names)[128], float *const *rc, float *const *rr, warm_error *err) {
    warm_jsonl_writer *w = NULL;
    warm_status st = warm_jsonl_writer_open(&w, path, err);
    for (int64_t i = 0; i < n && !st; i++) {
        const warm_pref_row *row = &d->rows[rows[i]];
        cJSON *o = cJSON_CreateObject(), *r = cJSON_CreateObject();
        if (!o || !r) {
            cJSON_Delete(o);
            cJSON_Delete(r);
            st = warm_error_set(err, WARM_ERR_NOMEM, "eval: out of memory");
            break;
        }
        cJSON_AddNumberToObject(o, "row", (double)rows[i]);
        cJSON_AddNumberToObject(o, "line", (double)row->line);
        const char *id = warm_prefs_id(d, rows[i]), *split = warm_prefs_split(d, rows[i]);
        if (id) cJSON_AddStringToObject(o, "id", id);
        if (split) cJSON_AddStringToObject(o, "split", split);
        cJSON_AddBoolToObject(o, "corrupted", row->corrupted);
        for (int k = 0; k < M; k++) {
            double v[2] = {(double)rc[k][i], (double)rr[k][i]};
            cJSON_AddItemToObject(r, names[k], cJSON_CreateDoubleArray(v, 2));
        }
        cJSON_AddItemToObject(o, "rewards", r);
        st = warm_jsonl_write(w, o, err);
        cJSON_Delete(o);
    }
    if (!st) return warm_jsonl_writer_commit(w, err);
    if (w) warm_jsonl_writer_abort(w);
    return st;
}

/* ---------------------------------------------------------------------------------------------------- */
/* The command                                                                                            */

typedef struct {
    warm_prefs d;
    warm_tokenizer *tok;
    subset_t *subs;
    int nsub;
    int64_t *urows, nu;
    float **rc, **rr; /* (M + 1) x nu: members, then the ensemble */
    float *tc, *tr;   /* scratch: one subset's rewards */
    char (*names)[128];
    cell_t *cells;    /* (M + 1) x nsub */
    double secs;
    int64_t seq_tokens;
} eval_state;

static void state_free(eval_state *s, int M) {
    warm_prefs_free(&s->d);
    warm_tok_free(s->tok);
    subsets_free(s->subs, s->nsub);
    free(s->urows);
    for (int k = 0; s->rc && k <= M; k++) free(s->rc[k]);
    for (int k = 0; s->rr && k <= M; k++) free(s->rr[k]);
    free(s->rc);
    free(s->rr);
    free(s->names);
    free(s->cells);
    free(s->tc);
    free(s->tr);
}

/* Checks model k (m: already loaded, else loaded here) against the data, scores the union, frees the model. */
static warm_status score_model(const eval_args *a, eval_state *s, int k, warm_model *loaded, warm_progress *prog,
                               warm_error *err) {
    warm_model m;
    memset(&m, 0, sizeof m);
    warm_status st = WARM_OK;
    if (loaded) m = *loaded;
    else st = warm_model_load(&m, a->rms[k], 0, err);
    if (loaded) memset(loaded, 0, sizeof *loaded);
    if (st) return st;
    if (m.cfg.vocab_size < s->d.vocab_size)
        st = warm_error_set(err, WARM_ERR_MISMATCH, "%s: vocabulary of %d tokens, the data uses %d", a->rms[k],
                            m.cfg.vocab_size, s->d.vocab_size);
    else if (m.cfg.n_positions < s->d.max_seq)
        st = warm_error_set(err, WARM_ERR_MISMATCH, "%s: context of %d tokens, the longest pair of the data has %d",
                            a->rms[k], m.cfg.n_positions, s->d.max_seq);
    warm_eval_opts o = warm_eval_opts_default();
    o.strategy = (warm_eval_strategy)a->strategy;
    o.max_rows = a->max_rows;
    o.progress = prog;
    warm_scorer *sc = NULL;
    if (!st) st = warm_scorer_init(&sc, &m, &o, err);
    if (!st) st = warm_scorer_pairs(sc, &s->d, s->urows, s->nu, s->rc[k], s->rr[k], err);
    if (!st) {
        warm_scorer_stats ss = warm_scorer_get_stats(sc);
        s->secs += ss.seconds;
        s->seq_tokens += ss.seq_tokens;
    }
    warm_scorer_free(sc);
    warm_model_free(&m);
    return st;
}

/* Metrics of model k (k = M: the ensemble) on every subset; c, r: scratch of the largest subset's size. */
static void fill_cells(const eval_args *a, eval_state *s, int k, float *c, float *r) {
    for (int j = 0; j < s->nsub; j++) {
        const subset_t *sb = &s->subs[j];
        for (int64_t i = 0; i < sb->sub.n; i++) {
            c[i] = s->rc[k][sb->pos[i]];
            r[i] = s->rr[k][sb->pos[i]];
        }
        cell_t *cell = &s->cells[(size_t)k * s->nsub + j];
        warm_eval_metrics(c, r, sb->sub.n, a->ece_bins, &cell->m);
        warm_eval_gold(&s->d, sb->sub.idx, sb->sub.n, c, r, &cell->g);
    }
}

static void print_subsets(const eval_state *s) {
    printf("%-16s %7s %7s %7s %12s\n", "subset", "pairs", "len", "gold-n", "label~gold");
    for (int j = 0; j < s->nsub; j++) {
        const subset_t *sb = &s->subs[j];
        char len[32], lg[32];
        fmt_num(len, sizeof len, sb->len_base, 4);
        fmt_num(lg, sizeof lg, sb->gold_label.label_gold, 4);
        printf("%-16s %7" PRId64 " %7s %7" PRId64 " %12s\n", sb->sub.name, sb->sub.n, len, sb->gold_label.n_gold, lg);
    }
}

static cJSON *build_json(const eval_args *a, const eval_state *s, int M) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON_AddStringToObject(root, "data", a->data);
    cJSON_AddNumberToObject(root, "pairs", (double)s->d.n);
    cJSON_AddNumberToObject(root, "dropped_long", (double)s->d.n_dropped_long);
    cJSON *rules = cJSON_AddObjectToObject(root, "rules");
    cJSON_AddStringToObject(rules, "acc_ge", "mean 1[r+ >= r-]: ties count as correct (WARM paper)");
    cJSON_AddStringToObject(rules, "acc_gt", "mean 1[r+ > r-]: strict (TRL, reward-bench v1)");
    cJSON_AddStringToObject(rules, "ece", "folded sigma(r+ - r-), equal-width bins on [0.5, 1]");
    cJSON_AddNumberToObject(rules, "ece_bins", a->ece_bins);
    cJSON_AddStringToObject(rules, "length_baseline", "longer response wins; equal lengths count 1/2");
    cJSON_AddStringToObject(rules, "gold_agreement", "order r+ >= r- agrees with gold_chosen > gold_rejected");
    cJSON *models = cJSON_AddArrayToObject(root, "models");
    for (int k = 0; k < M; k++) {
        cJSON *mo = cJSON_CreateObject();
        cJSON_AddStringToObject(mo, "name", s->names[k]);
        cJSON_AddStringToObject(mo, "path", a->rms[k]);
        cJSON_AddItemToArray(models, mo);
    }
    if (M >= 2) {
        cJSON *e = cJSON_AddObjectToObject(root, "ensemble");
        cJSON_AddStringToObject(e, "name", s->names[M]);
        cJSON_AddStringToObject(e, "kind", warm_ens_name((warm_ens_kind)a->ens));
        cJSON_AddNumberToObject(e, "lambda", a->lambda);
    } else {
        cJSON_AddNullToObject(root, "ensemble");
    }
    cJSON *subs = cJSON_AddArrayToObject(root, "subsets");
    for (int j = 0; j < s->nsub; j++) {
        const subset_t *sb = &s->subs[j];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", sb->sub.name);
        if (sb->sub.split >= 0) cJSON_AddStringToObject(o, "split", s->d.split_names.v[sb->sub.split]);
        else cJSON_AddNullToObject(o, "split");
        if (sb->sub.corrupted >= 0) cJSON_AddBoolToObject(o, "corrupted", sb->sub.corrupted);
        else cJSON_AddNullToObject(o, "corrupted");
        cJSON_AddNumberToObject(o, "n", (double)sb->sub.n);
        cJSON_AddNumberToObject(o, "length_baseline", sb->len_base);
        cJSON_AddNumberToObject(o, "gold_n", (double)sb->gold_label.n_gold);
        if (sb->gold_label.n_gold > 0) cJSON_AddNumberToObject(o, "label_gold_agreement", sb->gold_label.label_gold);
        else cJSON_AddNullToObject(o, "label_gold_agreement");
        cJSON_AddItemToArray(subs, o);
    }
    cJSON *res = cJSON_AddArrayToObject(root, "results");
    int rowsM = M >= 2 ? M + 1 : M;
    for (int k = 0; k < rowsM; k++)
        for (int j = 0; j < s->nsub; j++)
            cJSON_AddItemToArray(res, metrics_json(s->names[k], &s->subs[j], &s->cells[(size_t)k * s->nsub + j]));
    cJSON *sp = cJSON_AddObjectToObject(root, "speed");
    cJSON_AddStringToObject(sp, "strategy", warm_eval_strategy_name((warm_eval_strategy)a->strategy));
    cJSON_AddNumberToObject(sp, "seconds", s->secs);
    cJSON_AddNumberToObject(sp, "pairs_per_s", s->secs > 0 ? (double)(s->nu * M) / s->secs : 0.0);
    cJSON_AddNumberToObject(sp, "tokens_per_s", s->secs > 0 ? (double)s->seq_tokens / s->secs : 0.0);
    return root;
}

static int run_eval(const eval_args *a) {
    int M = a->n_rm;
    eval_state s;
    memset(&s, 0, sizeof s);
    warm_error err = {0};
    warm_status st = WARM_OK;
    if (a->tok) st = warm_tok_open(&s.tok, a->tok, &err);
    /* The first model fixes the context (longer pairs are dropped) and, without a tokenizer, the vocabulary. */
    warm_model m0;
    memset(&m0, 0, sizeof m0);
    if (!st) st = warm_model_load(&m0, a->rms[0], 0, &err);
    if (st && !err.msg[0]) warm_error_set(&err, st, "cannot load %s", a->rms[0]);
    warm_prefs_opts po = warm_prefs_opts_default();
    po.max_len = m0.cfg.n_positions;
    po.allow_unk = a->allow_unk;
    po.vocab_size = m0.cfg.vocab_size;
    po.pad_id = m0.cfg.pad_token_id >= 0 && m0.cfg.pad_token_id < m0.cfg.vocab_size ? m0.cfg.pad_token_id : 0;
    if (!st) st = warm_prefs_load(&s.d, a->data, s.tok, &po, &err);
    if (!st) st = build_subsets(&s.d, a->subset, &s.subs, &s.nsub, &err);
    if (!st && s.nsub == 0)
        st = warm_error_set(&err, WARM_ERR_ARG, "%s: no pairs %s", a->data,
                            a->subset ? "match --subset" : "to evaluate");
    if (!st) st = build_union(&s.d, s.subs, s.nsub, &s.urows, &s.nu, &err);
    s.rc = calloc((size_t)M + 1, sizeof(float *));
    s.rr = calloc((size_t)M + 1, sizeof(float *));
    s.names = calloc((size_t)M + 1, sizeof *s.names);
    s.cells = calloc((size_t)(M + 1) * (size_t)(s.nsub > 0 ? s.nsub : 1), sizeof(cell_t));
    s.tc = malloc((size_t)(s.nu > 0 ? s.nu : 1) * sizeof(float));
    s.tr = malloc((size_t)(s.nu > 0 ? s.nu : 1) * sizeof(float));
    if (!st && (!s.rc || !s.rr || !s.names || !s.cells || !s.tc || !s.tr))
        st = warm_error_set(&err, WARM_ERR_NOMEM, "eval: out of memory");
    for (int k = 0; k <= M && !st; k++) {
        s.rc[k] = malloc((size_t)(s.nu > 0 ? s.nu : 1) * sizeof(float));
        s.rr[k] = malloc((size_t)(s.nu > 0 ? s.nu : 1) * sizeof(float));
        if (!s.rc[k] || !s.rr[k]) st = warm_error_set(&err, WARM_ERR_NOMEM, "eval: out of memory");
    }
    if (st) {
        warm_model_free(&m0);
        state_free(&s, M);
        return cli_fail("eval", &err);
    }
    model_names(a->rms, M, s.names);
    snprintf(s.names[M], 128, "ens(%s)", warm_ens_name((warm_ens_kind)a->ens));

    printf("data: %s: %" PRId64 " pairs", a->data, s.d.n);
    if (s.d.n_dropped_long)
        printf(" (%" PRId64 " dropped: longer than the context %d)", s.d.n_dropped_long, po.max_len);
    printf("; %" PRId64 " scored\n", s.nu);
    print_subsets(&s);
    fflush(stdout);

    /* Score every member on the union, then the ensemble from their scores. */
    warm_progress prog;
    warm_progress_init(&prog, stderr, "eval", (int64_t)M * s.nu);
    for (int k = 0; k < M && !st; k++) st = score_model(a, &s, k, k == 0 ? &m0 : NULL, &prog, &err);
    warm_model_free(&m0); /* only when scoring stopped before it */
    if (st) {
        state_free(&s, M);
        return cli_fail("eval", &err);
    }
    warm_progress_finish(&prog);
    for (int k = 0; k < M; k++) fill_cells(a, &s, k, s.tc, s.tr);
    if (M >= 2) {
        warm_eval_ensemble((const float *const *)s.rc, M, s.nu, (warm_ens_kind)a->ens, (float)a->lambda, s.rc[M]);
        warm_eval_ensemble((const float *const *)s.rr, M, s.nu, (warm_ens_kind)a->ens, (float)a->lambda, s.rr[M]);
        fill_cells(a, &s, M, s.tc, s.tr);
    }

    int name_w = 5, rowsM = M >= 2 ? M + 1 : M;
    for (int k = 0; k < rowsM; k++) name_w = (int)strlen(s.names[k]) > name_w ? (int)strlen(s.names[k]) : name_w;
    printf("\nacc>= counts ties as correct (WARM paper); acc> is strict (reward-bench); len: longer response wins;\n"
           "gold: RM order agrees with the gold order (pairs with gold rewards)");
    if (M >= 2 && a->ens == WARM_ENS_MEAN_STD) printf("; ensemble mean - %g * std", a->lambda);
    printf("\n");
    print_header(name_w);
    for (int k = 0; k < rowsM; k++)
        for (int j = 0; j < s.nsub; j++) print_row(name_w, s.names[k], &s.subs[j], &s.cells[(size_t)k * s.nsub + j]);
    printf("scored %" PRId64 " pairs x %d model%s in %.2f s (%s: %.0f pairs/s, %.0f tokens/s)\n", s.nu, M,
           M > 1 ? "s" : "", s.secs, warm_eval_strategy_name((warm_eval_strategy)a->strategy),
           s.secs > 0 ? (double)(s.nu * M) / s.secs : 0.0, s.secs > 0 ? (double)s.seq_tokens / s.secs : 0.0);

    if (a->json) {
        cJSON *root = build_json(a, &s, M);
        st = root ? warm_json_write(a->json, root, &err) : warm_error_set(&err, WARM_ERR_NOMEM, "eval: out of memory");
        cJSON_Delete(root);
        if (!st) printf("wrote %s\n", a->json);
    }
    if (!st && a->scores) {
        st = write_scores(a->scores, &s.d, s.urows, s.nu, M, s.names, s.rc, s.rr, &err);
        if (!st) printf("wrote %s\n", a->scores);
    }
    state_free(&s, M);
    return st == WARM_OK ? CLI_EXIT_OK : cli_fail("eval", &err);
}

int cli_cmd_eval(int argc, char **argv) {
    eval_args a;
    memset(&a, 0, sizeof a);
    warm_opt_list rm = {0};
    warm_opt opts[] = {
        {.name = "rm", .kind = WARM_OPT_STRING_LIST, .dest = &rm, .metavar = "FILE,...",
         .help = "reward model checkpoints (comma-separated; more may follow as arguments)"},
        {.name = "data", .kind = WARM_OPT_STRING, .dest = &a.data, .metavar = "JSONL", .required = 1,
         .help = "preference pairs: prompt/chosen/rejected or *_ids, optional split, corrupted, gold_*"},
        CLI_OPT_TOKENIZER(&a.tok, 0, "needed when the data holds text"),
        {.name = "subset", .kind = WARM_OPT_STRING, .dest = &a.subset, .metavar = "SPEC",
         .help = "restrict the subsets: split=NAME[|NAME...],corrupted=true|false (either key optional)"},
        {.name = "ens", .kind = WARM_OPT_CHOICE, .dest = &a.ens, .choices = ens_choices, .def = "mean",
         .help = "prediction ensemble of several --rm: mean (ENS), min (WCO), mean-std (UWO)"},
        {.name = "lambda", .kind = WARM_OPT_DOUBLE, .dest = &a.lambda, .min = 0, .max = 1e6, .def = "1",
         .help = "mean-std: weight of the members' standard deviation"},
        {.name = "json", .kind = WARM_OPT_STRING, .dest = &a.json, .metavar = "OUT",
         .help = "write every number as JSON (atomic)"},
        {.name = "scores", .kind = WARM_OPT_STRING, .dest = &a.scores, .metavar = "OUT.jsonl",
         .help = "write each pair's rewards [chosen, rejected] under each model's name (atomic)"},
        {.name = "ece-bins", .kind = WARM_OPT_INT, .dest = &a.ece_bins, .min = 1, .max = 1000, .def = "10",
         .help = "equal-width calibration bins on [0.5, 1]"},
        {.name = "strategy", .kind = WARM_OPT_CHOICE, .dest = &a.strategy, .choices = strategy_choices,
         .def = "auto", .help = "scoring engine (auto = packed; see docs/eval.md)"},
        {.name = "max-rows", .kind = WARM_OPT_INT, .dest = &a.max_rows, .min = 1, .max = 1 << 24, .def = "2048",
         .help = "token rows per forward pass (bounds memory)"},
        {.name = "allow-unk", .kind = WARM_OPT_FLAG, .dest = &a.allow_unk,
         .help = "map unknown words to <unk> instead of failing"},
    };
    warm_opts_cmd cmd = {
        .prog = "warm", .name = "eval",
        .desc = "Evaluates reward models on preference pairs, per subset: pairwise accuracy with ties as\n"
                "correct (acc>=, the WARM paper) and strict (acc>, reward-bench), ties, mean margin, ECE of\n"
                "sigma(r+ - r-), Bradley-Terry loss, the longer-response baseline and, with gold rewards, the\n"
                "gold-order agreement. With several models: each member and their prediction ensemble.",
        .args = "[FILE...]", .min_args = 0, .max_args = WARM_OPTS_UNLIMITED, .opts = opts, .nopts = CLI_NOPTS(opts),
        .epilog = "examples:\n"
                  "  warm eval --rm rm1.safetensors --data prefs.jsonl --tokenizer task/tokenizer.json\n"
                  "  warm eval --rm rm1.safetensors rm2.safetensors --ens mean-std --lambda 0.5 \\\n"
                  "            --data prefs.jsonl --tokenizer task/tokenizer.json \\\n"
                  "            --subset 'split=train,corrupted=true' \\\n"
                  "            --json eval.json --scores scores.jsonl"};
    warm_opts_result res;
    int rc = cli_parse(&cmd, argc, argv, &res);
    if (rc != CLI_PARSE_OK) return cli_parse_exit(rc);
    a.n_rm = rm.n + res.nargs;
    if (a.n_rm == 0) {
        cli_error("eval", "no reward model: give --rm FILE (or files as arguments)");
        warm_opts_free(&cmd, &res);
        return CLI_EXIT_USAGE;
    }
    a.rms = malloc((size_t)a.n_rm * sizeof(char *));
    if (!a.rms) {
        warm_opts_free(&cmd, &res);
        cli_error("eval", "out of memory");
        return CLI_EXIT_FAILURE;
    }
    for (int i = 0; i < rm.n; i++) a.rms[i] = rm.str[i];
    for (int i = 0; i < res.nargs; i++) a.rms[rm.n + i] = res.args[i];
    int code = run_eval(&a);
    free(a.rms);
    warm_opts_free(&cmd, &res);
    return code;
}
