/*
 * test_eval.c — reward-model evaluation (warm/eval.h): metrics and ECE on hand-made cases with hand-derived
 * values, ensembles by hand, the ensemble's accuracy equal to the accuracy recomputed from the members'
 * saved scores, every scoring engine equal to warm_trainer_rewards on each full sequence, subsets, length and
 * gold baselines, and invariance to the thread count and to how pairs are batched.
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
#ifdef _OPENMP
#include <omp.h>
#endif

#include "test_util.h"
#include "warm/data.h"
#include "warm/eval.h"
#include "warm/model.h"
#include "warm/tokenizer.h"

#define NWORDS 30

/* ---------------------------------------------------------------------------------------------------- */
/* Fixture: a word tokenizer, a preference file with splits, corrupted rows, gold rewards, pairs whose     */
/* responses share leading tokens, an implicit-prompt row and a pre-tokenised row; two small models.       */

typedef struct {
    char dir[64], data[128];
    warm_tokenizer *tok;
    warm_prefs d;
    int64_t *idx, n;
} fixture;

static void words(warm_rng *r, int n, char *out, size_t cap) {
    size_t k = 0;
    out[0] = 0;
    for (int i = 0; i < n; i++)
        k += (size_t)snprintf(out + k, cap - k, "%sw%u", i ? " " : "", warm_rng_below(r, NWORDS));
}

static void write_prefs(const char *path, int rows) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    warm_rng r;
    warm_rng_seed(&r, 11);
    for (int i = 0; i < rows; i++) {
        char p[512], c[256], j[256];
        words(&r, 3 + (int)warm_rng_below(&r, 10), p, sizeof p);
        words(&r, 1 + (int)warm_rng_below(&r, 8), c, sizeof c);
        words(&r, 1 + (int)warm_rng_below(&r, 8), j, sizeof j);
        if (i % 4 == 3) { /* rejected starts like chosen: the shared prefix runs into the responses */
            char t[256];
            size_t lc = strlen(c), lj = strlen(j);
            memcpy(t, c, lc);
            t[lc] = ' ';
            memcpy(t + lc + 1, j, lj + 1); /* at most 8 + 8 words of <= 4 chars: fits */
            memcpy(j, t, lc + lj + 2);
        }
        const char *split = i % 5 == 0 ? "val" : i % 5 == 1 ? "ood" : "train";
        int corrupted = i % 5 >= 2 && i % 3 == 0;
        fprintf(f, "{\"prompt\":\"%s\",\"chosen\":\"%s\",\"rejected\":\"%s\",\"split\":\"%s\",\"corrupted\":%s", p, c,
                j, split, corrupted ? "true" : "false");
        if (i % 2 == 0) fprintf(f, ",\"gold_chosen\":%d,\"gold_rejected\":%d", i % 7, i % 3);
        fprintf(f, "}\n");
    }
    fprintf(f, "{\"chosen\":\"w1 w2 w3 w4\",\"rejected\":\"w1 w2 w5\",\"split\":\"train\"}\n"); /* implicit prompt */
    fprintf(f, "{\"prompt_ids\":[3,4,5],\"chosen_ids\":[6,7],\"rejected_ids\":[8],\"split\":\"ood\"}\n");
    fprintf(f, "{\"chosen\":\"w9\",\"rejected\":\"w9 w8\",\"split\":\"val\"}\n"); /* no shared prefix at all */
    fclose(f);
}

static int setup(void **state) {
    fixture *fx = calloc(1, sizeof *fx);
    test_tmpdir(fx->dir, sizeof fx->dir);
    snprintf(fx->data, sizeof fx->data, "%s/prefs.jsonl", fx->dir);
    write_prefs(fx->data, 60);
    char w[NWORDS][16];
    const char *wp[NWORDS];
    for (int i = 0; i < NWORDS; i++) {
        snprintf(w[i], sizeof w[i], "w%d", i);
        wp[i] = w[i];
    }
    warm_error err = {0};
    if (warm_tok_from_words(&fx->tok, wp, NWORDS, &err)) return -1;
    if (warm_prefs_load(&fx->d, fx->data, fx->tok, NULL, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    if (warm_prefs_subset(&fx->d, NULL, -1, &fx->idx, &fx->n, &err)) return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    free(fx->idx);
    warm_prefs_free(&fx->d);
    warm_tok_free(fx->tok);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", fx->dir);
    if (system(cmd) != 0) return -1;
    free(fx);
    return 0;
}

/* A small random model (sizes chosen to hit the different attention code paths). */
static void make_model(warm_model *m, const fixture *fx, int L, int NH, int C, uint64_t seed) {
    warm_config cfg = warm_config_default(warm_tok_vocab_size(fx->tok), 40, L, NH, C);
    warm_error err = {0};
    assert_int_equal(warm_model_init(m, &cfg, &err), WARM_OK);
    warm_model_init_weights(m, seed);
    /* A larger head spreads the rewards, so that the comparisons below are not all near zero. */
    warm_global_view g = warm_model_globals(m, m->params);
    for (int i = 0; i < C; i++) g.score[i] *= 20.0f;
}

/* Reference: warm_trainer_rewards on each full sequence alone. */
static float trainer_reward(warm_model *m, const int32_t *seq, int len) {
    warm_trainer *tr = NULL;
    warm_error err = {0};
    assert_int_equal(warm_trainer_init(&tr, m, 1, m->cfg.n_positions, 0, &err), WARM_OK);
    int32_t l = len;
    float r = 0;
    warm_trainer_rewards(tr, seq, &l, 1, len, &r);
    warm_trainer_free(tr);
    return r;
}

static int pair_seq(const warm_prefs *d, int64_t i, int side, int32_t *out) {
    warm_pref_view v = warm_prefs_view(d, i);
    memcpy(out, v.prompt, (size_t)v.prompt_len * sizeof(int32_t));
    memcpy(out + v.prompt_len, v.resp[side], (size_t)v.resp_len[side] * sizeof(int32_t));
    return v.prompt_len + v.resp_len[side];
}

static void close_to(double got, double want, double tol) {
    if (!(fabs(got - want) <= tol)) fail_msg("got %.9g, want %.9g (tol %g)", got, want, tol);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Metrics by hand                                                                                        */

static void test_metrics_hand(void **state) {
    (void)state;
    /* d = r+ - r- = {1, 0, -0.5, 3, -1}: one tie, which acc_ge counts as correct and acc_gt does not. */
    const float rc[5] = {2, 1, 0.5f, 0, -1}, rr[5] = {1, 1, 1, -3, 0};
    warm_pair_metrics m;
    warm_eval_metrics(rc, rr, 5, 10, &m);
    assert_int_equal(m.n, 5);
    assert_int_equal(m.ties, 1);
    close_to(m.acc_ge, 3.0 / 5.0, 1e-15); /* d = 1, 0, 3 */
    close_to(m.acc_gt, 2.0 / 5.0, 1e-15); /* d = 1, 3 */
    close_to(m.margin, 2.5 / 5.0, 1e-15);
    /* -log sigma(d) = log(1 + e^-d): log(1+e^-1) + log 2 + log(1+e^0.5) + log(1+e^-3) + log(1+e^1), over 5. */
    double want = (0.31326168751822286 + 0.69314718055994531 + 0.97407698418010669 + 0.04858735157374206 +
                   1.31326168751822286) / 5.0;
    close_to(m.bt_loss, want, 1e-12);
    /* Extreme margins stay finite: -log sigma(-200) = 200, -log sigma(200) = 0. */
    const float bc[2] = {0, 200}, br[2] = {200, 0};
    warm_eval_metrics(bc, br, 2, 10, &m);
    close_to(m.bt_loss, 100.0, 1e-9);
    /* No pairs: NAN rates. */
    warm_eval_metrics(rc, rr, 0, 10, &m);
    assert_int_equal(m.n, 0);
    assert_true(isnan(m.acc_ge) && isnan(m.acc_gt) && isnan(m.ece) && isnan(m.bt_loss) && isnan(m.margin));
}

static void test_ece_hand(void **state) {
    (void)state;
    /*
     * d = 0 (tie: confidence 1/2, outcome 1/2), ln 2 (p = 2/3, right), -ln 2 (p = 1/3: folded to 2/3, wrong),
     * ln 9 (p = 0.9, right), -ln 4 (p = 0.2: folded to 0.8, wrong).
     * 2 bins [0.5, 0.75), [0.75, 1]: bin 0 holds 3 pairs, mean confidence (1/2 + 2/3 + 2/3)/3 = 11/18, mean
     * outcome 1/2: gap 1/9; bin 1 holds 2 pairs, confidence 0.85, outcome 1/2: gap 0.35.
     * ECE = 3/5 * 1/9 + 2/5 * 0.35 = 1/15 + 0.14.
     */
    const float rc[5] = {0, (float)log(2.0), 0, (float)log(9.0), 0};
    const float rr[5] = {0, 0, (float)log(2.0), 0, (float)log(4.0)};
    warm_pair_metrics m;
    warm_eval_metrics(rc, rr, 5, 2, &m);
    close_to(m.ece, 1.0 / 15.0 + 0.14, 1e-6);
    /* 10 bins of width 0.05: the tie alone in bin 0 (gap 0), the two 2/3 pairs together (gap 1/6), 0.9 and 0.8
     * alone (gaps 0.1 and 0.8): ECE = 2/5 * 1/6 + 1/5 * 0.1 + 1/5 * 0.8. */
    warm_eval_metrics(rc, rr, 5, 0, &m);
    close_to(m.ece, 2.0 / 30.0 + 0.02 + 0.16, 1e-6);
    /* Perfectly calibrated: p = 0.75 right three times out of four. */
    const float c4[4] = {(float)log(3.0), (float)log(3.0), (float)log(3.0), 0};
    const float r4[4] = {0, 0, 0, (float)log(3.0)};
    warm_eval_metrics(c4, r4, 4, 10, &m);
    close_to(m.ece, 0.0, 1e-6);
}

static void test_ensemble_hand(void **state) {
    (void)state;
    const float m1[2] = {1, 4}, m2[2] = {2, 0}, m3[2] = {6, 2};
    const float *const s[3] = {m1, m2, m3};
    float out[2];
    warm_eval_ensemble(s, 3, 2, WARM_ENS_MEAN, 0, out);
    close_to(out[0], 3.0, 1e-6);
    close_to(out[1], 2.0, 1e-6);
    warm_eval_ensemble(s, 3, 2, WARM_ENS_MIN, 0, out);
    close_to(out[0], 1.0, 0);
    close_to(out[1], 0.0, 0);
    /* Population std: {1, 2, 6} -> sqrt(14/3); {4, 0, 2} -> sqrt(8/3). */
    warm_eval_ensemble(s, 3, 2, WARM_ENS_MEAN_STD, 0.5f, out);
    close_to(out[0], 3.0 - 0.5 * sqrt(14.0 / 3.0), 1e-6);
    close_to(out[1], 2.0 - 0.5 * sqrt(8.0 / 3.0), 1e-6);
    /* One member: every kind is the member itself. */
    for (int k = 0; k < 3; k++) {
        warm_eval_ensemble(s, 1, 2, (warm_ens_kind)k, 2.0f, out);
        close_to(out[0], 1.0, 0);
        close_to(out[1], 4.0, 0);
    }
    assert_string_equal(warm_ens_name(WARM_ENS_MEAN_STD), "mean-std");
}

/* ---------------------------------------------------------------------------------------------------- */
/* Scoring engines                                                                                        */

static void check_engines(fixture *fx, int L, int NH, int C) {
    warm_model m;
    make_model(&m, fx, L, NH, C, 5);
    int64_t n = fx->n;
    float *want_c = malloc((size_t)n * sizeof(float)), *want_r = malloc((size_t)n * sizeof(float));
    int32_t seq[64];
    for (int64_t i = 0; i < n; i++) {
        want_c[i] = trainer_reward(&m, seq, pair_seq(&fx->d, fx->idx[i], 0, seq));
        want_r[i] = trainer_reward(&m, seq, pair_seq(&fx->d, fx->idx[i], 1, seq));
    }
    float spread = 0;
    for (int64_t i = 0; i < n; i++) spread = fmaxf(spread, fabsf(want_c[i] - want_r[i]));
    assert_true(spread > 0.05f); /* the comparison below is not between constants */
    float *rc = malloc((size_t)n * sizeof(float)), *rr = malloc((size_t)n * sizeof(float));
    for (int s = WARM_EVAL_AUTO; s <= WARM_EVAL_DECODE; s++) {
        for (int rows = 0; rows <= 1; rows++) {
            warm_eval_opts o = warm_eval_opts_default();
            o.strategy = (warm_eval_strategy)s;
            o.max_rows = rows ? 1 : 0; /* 1 is raised to the context: many small passes */
            warm_error err = {0};
            assert_int_equal(warm_eval_score_pairs_ex(&m, &fx->d, fx->idx, n, &o, rc, rr, &err), WARM_OK);
            double e = test_max_rel_err(rc, want_c, (size_t)n, 1e-5, 1e-5, NULL);
            e = fmax(e, test_max_rel_err(rr, want_r, (size_t)n, 1e-5, 1e-5, NULL));
            if (e > 1.0) fail_msg("engine %s (L %d NH %d C %d, max_rows %d): error %.3g x tolerance",
                                  warm_eval_strategy_name((warm_eval_strategy)s), L, NH, C, o.max_rows, e);
        }
    }
    /* The contract function is the default engine. */
    float *dc = malloc((size_t)n * sizeof(float)), *dr = malloc((size_t)n * sizeof(float));
    warm_error err = {0};
    assert_int_equal(warm_eval_score_pairs(&m, &fx->d, fx->idx, n, dc, dr, &err), WARM_OK);
    assert_true(test_max_rel_err(dc, want_c, (size_t)n, 1e-5, 1e-5, NULL) <= 1.0);

    /* A group of N responses to one prompt, one of them empty (scored at the last prompt token). */
    const int32_t prompt[5] = {3, 1, 4, 1, 5}, conts[9] = {9, 2, 6, 5, 3, 5, 8, 9, 7};
    const int lens[4] = {3, 0, 5, 1};
    warm_eval_group g = {prompt, 5, 4, conts, lens};
    for (int s = WARM_EVAL_PACKED; s <= WARM_EVAL_DECODE; s++) {
        warm_eval_opts o = warm_eval_opts_default();
        o.strategy = (warm_eval_strategy)s;
        float got[4];
        assert_int_equal(warm_eval_score_groups(&m, &g, 1, &o, got, &err), WARM_OK);
        int off = 0;
        for (int k = 0; k < 4; k++) {
            memcpy(seq, prompt, sizeof prompt);
            memcpy(seq + 5, conts + off, (size_t)lens[k] * sizeof(int32_t));
            off += lens[k];
            float want = trainer_reward(&m, seq, 5 + lens[k]);
            close_to(got[k], want, 1e-5 + 1e-5 * fabs(want));
        }
    }
    free(want_c); free(want_r); free(rc); free(rr); free(dc); free(dr);
    warm_model_free(&m);
}

static void test_engines_match_trainer(void **state) {
    fixture *fx = *state;
    check_engines(fx, 2, 4, 64); /* head size 16: four-head score chains, 64-channel value blocks */
    check_engines(fx, 1, 3, 36); /* head size 12: the scalar fallbacks */
    check_engines(fx, 2, 2, 32); /* head size 16, two heads */
}

static void test_errors(void **state) {
    fixture *fx = *state;
    warm_model m;
    make_model(&m, fx, 1, 2, 32, 1);
    warm_error err = {0};
    float r[4];
    /* A sequence longer than the context. */
    int32_t prompt[30] = {0}, conts[20] = {0};
    int lens[1] = {15};
    warm_eval_group g = {prompt, 30, 1, conts, lens};
    assert_int_equal(warm_eval_score_groups(&m, &g, 1, NULL, r, &err), WARM_ERR_ARG);
    assert_non_null(strstr(err.msg, "45 tokens"));
    /* A token outside the vocabulary. */
    lens[0] = 1;
    conts[0] = 10000;
    assert_int_equal(warm_eval_score_groups(&m, &g, 1, NULL, r, &err), WARM_ERR_ARG);
    assert_non_null(strstr(err.msg, "vocabulary"));
    /* An empty sequence. */
    warm_eval_group e = {NULL, 0, 1, conts, (int[]){0}};
    assert_int_equal(warm_eval_score_groups(&m, &e, 1, NULL, r, &err), WARM_ERR_ARG);
    /* Pairs too long for a smaller model name their data line. */
    warm_config cfg = warm_config_default(warm_tok_vocab_size(fx->tok), 8, 1, 2, 32);
    warm_model small;
    assert_int_equal(warm_model_init(&small, &cfg, &err), WARM_OK);
    float *rc = malloc((size_t)fx->n * sizeof(float)), *rr = malloc((size_t)fx->n * sizeof(float));
    assert_int_equal(warm_eval_score_pairs(&small, &fx->d, fx->idx, fx->n, rc, rr, &err), WARM_ERR_ARG);
    assert_non_null(strstr(err.msg, "line "));
    free(rc);
    free(rr);
    warm_model_free(&small);
    warm_model_free(&m);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Ensembles from saved scores, subsets, baselines, invariance                                           */

static void test_ensemble_from_saved_scores(void **state) {
    fixture *fx = *state;
    int64_t n = fx->n;
    warm_model m1, m2;
    make_model(&m1, fx, 2, 2, 32, 21);
    make_model(&m2, fx, 2, 2, 32, 22);
    float *c[2], *r[2];
    warm_error err = {0};
    for (int k = 0; k < 2; k++) {
        c[k] = malloc((size_t)n * sizeof(float));
        r[k] = malloc((size_t)n * sizeof(float));
        assert_int_equal(warm_eval_score_pairs(k ? &m2 : &m1, &fx->d, fx->idx, n, c[k], r[k], &err), WARM_OK);
    }
    /* Save the members' scores as text (9 significant digits round-trip a float) and read them back. */
    char path[160];
    snprintf(path, sizeof path, "%s/scores.txt", fx->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int64_t i = 0; i < n; i++)
        fprintf(f, "%.9g %.9g %.9g %.9g\n", (double)c[0][i], (double)r[0][i], (double)c[1][i], (double)r[1][i]);
    fclose(f);
    f = fopen(path, "r");
    assert_non_null(f);
    for (int kind = 0; kind < 3; kind++) {
        rewind(f);
        int64_t right = 0, strict = 0;
        for (int64_t i = 0; i < n; i++) {
            float a, b, x, y;
            assert_int_equal(fscanf(f, "%f %f %f %f", &a, &b, &x, &y), 4);
            /* The rule by hand: mean, min, or mean - 0.7 * population std of two = mean - 0.7 * |u - v| / 2. */
            float ec, er;
            if (kind == WARM_ENS_MEAN) {
                ec = (float)(((double)a + (double)x) / 2);
                er = (float)(((double)b + (double)y) / 2);
            } else if (kind == WARM_ENS_MIN) {
                ec = fminf(a, x);
                er = fminf(b, y);
            } else {
                ec = (float)(((double)a + (double)x) / 2 - (double)0.7f * (fabs((double)a - (double)x) / 2));
                er = (float)(((double)b + (double)y) / 2 - (double)0.7f * (fabs((double)b - (double)y) / 2));
            }
            right += ec >= er;
            strict += ec > er;
        }
        float *ec = malloc((size_t)n * sizeof(float)), *er = malloc((size_t)n * sizeof(float));
        const float *const cs[2] = {c[0], c[1]}, *const rs[2] = {r[0], r[1]};
        warm_eval_ensemble(cs, 2, n, (warm_ens_kind)kind, 0.7f, ec);
        warm_eval_ensemble(rs, 2, n, (warm_ens_kind)kind, 0.7f, er);
        warm_pair_metrics mt;
        warm_eval_metrics(ec, er, n, 10, &mt);
        assert_int_equal((int64_t)llround(mt.acc_ge * (double)n), right);
        assert_int_equal((int64_t)llround(mt.acc_gt * (double)n), strict);
        free(ec);
        free(er);
    }
    fclose(f);
    for (int k = 0; k < 2; k++) {
        free(c[k]);
        free(r[k]);
    }
    warm_model_free(&m1);
    warm_model_free(&m2);
}

static const warm_eval_subset *find_subset(const warm_eval_subset *s, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(s[i].name, name) == 0) return &s[i];
    return NULL;
}

static void test_subsets(void **state) {
    fixture *fx = *state;
    const warm_prefs *d = &fx->d;
    warm_eval_subset *s = NULL;
    int n = 0;
    warm_error err = {0};
    /* Default: every split in order of first appearance; train also clean and corrupt. */
    assert_int_equal(warm_eval_subsets(d, NULL, &s, &n, &err), WARM_OK);
    assert_int_equal(n, 5);
    const char *want[5] = {"val", "ood", "train", "train-clean", "train-corrupt"};
    for (int i = 0; i < 5; i++) assert_string_equal(s[i].name, want[i]);
    int64_t total = 0;
    for (int i = 0; i < 3; i++) total += s[i].n;
    assert_int_equal(total, d->n);
    const warm_eval_subset *tr = find_subset(s, n, "train"), *cl = find_subset(s, n, "train-clean"),
                           *co = find_subset(s, n, "train-corrupt");
    assert_int_equal(cl->n + co->n, tr->n);
    for (int64_t i = 0; i < co->n; i++) {
        assert_int_equal(d->rows[co->idx[i]].corrupted, 1);
        assert_string_equal(warm_prefs_split(d, co->idx[i]), "train");
    }
    for (int64_t i = 1; i < tr->n; i++) assert_true(tr->idx[i] > tr->idx[i - 1]); /* file order */
    int64_t n_val = find_subset(s, n, "val")->n, n_ood = find_subset(s, n, "ood")->n, n_co = co->n;
    warm_eval_subsets_free(s, n);

    /* Filters. */
    assert_int_equal(warm_eval_subsets(d, "split=val|ood", &s, &n, &err), WARM_OK);
    assert_int_equal(n, 2);
    assert_int_equal(s[0].n + s[1].n, n_val + n_ood);
    warm_eval_subsets_free(s, n);
    assert_int_equal(warm_eval_subsets(d, "split=train,corrupted=true", &s, &n, &err), WARM_OK);
    assert_int_equal(n, 1);
    assert_string_equal(s[0].name, "train-corrupt");
    assert_int_equal(s[0].n, n_co);
    warm_eval_subsets_free(s, n);
    assert_int_equal(warm_eval_subsets(d, "corrupted=false", &s, &n, &err), WARM_OK);
    assert_int_equal(n, 3); /* val, ood (no corrupted rows: the whole split), train-clean */
    assert_string_equal(s[2].name, "train-clean");
    warm_eval_subsets_free(s, n);
    assert_int_equal(warm_eval_subsets(d, "split=nosuch", &s, &n, &err), WARM_OK);
    assert_int_equal(n, 0);
    warm_eval_subsets_free(s, n);
    assert_int_equal(warm_eval_subsets(d, "splits=val", &s, &n, &err), WARM_ERR_ARG);
    assert_non_null(strstr(err.msg, "splits"));
    assert_int_equal(warm_eval_subsets(d, "corrupted=maybe", &s, &n, &err), WARM_ERR_ARG);
    assert_int_equal(warm_eval_subsets(d, "val", &s, &n, &err), WARM_ERR_ARG);

    /* A subset scored alone gets exactly the rewards its pairs get inside the whole set (packed engine). */
    warm_model m;
    make_model(&m, fx, 2, 4, 128, 9);
    float *ac = malloc((size_t)fx->n * sizeof(float)), *ar = malloc((size_t)fx->n * sizeof(float));
    assert_int_equal(warm_eval_score_pairs(&m, d, fx->idx, fx->n, ac, ar, &err), WARM_OK);
    assert_int_equal(warm_eval_subsets(d, "split=ood", &s, &n, &err), WARM_OK);
    float sc[64], sr[64];
    assert_true(s[0].n <= 64);
    assert_int_equal(warm_eval_score_pairs(&m, d, s[0].idx, s[0].n, sc, sr, &err), WARM_OK);
    for (int64_t i = 0; i < s[0].n; i++) {
        assert_true(sc[i] == ac[s[0].idx[i]]);
        assert_true(sr[i] == ar[s[0].idx[i]]);
    }
    warm_eval_subsets_free(s, n);
    free(ac);
    free(ar);
    warm_model_free(&m);
}

static void test_subset_names_without_splits(void **state) {
    fixture *fx = *state;
    char path[160];
    snprintf(path, sizeof path, "%s/nosplit.jsonl", fx->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"prompt\":\"w1\",\"chosen\":\"w2\",\"rejected\":\"w3\"}\n");
    fprintf(f, "{\"prompt\":\"w1\",\"chosen\":\"w2\",\"rejected\":\"w3\",\"corrupted\":true}\n");
    fclose(f);
    warm_prefs d;
    warm_error err = {0};
    assert_int_equal(warm_prefs_load(&d, path, fx->tok, NULL, &err), WARM_OK);
    warm_eval_subset *s = NULL;
    int n = 0;
    assert_int_equal(warm_eval_subsets(&d, NULL, &s, &n, &err), WARM_OK);
    assert_int_equal(n, 3);
    assert_string_equal(s[0].name, "all");
    assert_string_equal(s[1].name, "all-clean");
    assert_string_equal(s[2].name, "all-corrupt");
    warm_eval_subsets_free(s, n);
    warm_prefs_free(&d);
}

static void test_length_and_gold(void **state) {
    fixture *fx = *state;
    char path[160];
    snprintf(path, sizeof path, "%s/lg.jsonl", fx->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    /* Lengths: chosen longer, shorter, equal (1/2), longer -> (1 + 0 + 0.5 + 1) / 4. */
    fprintf(f, "{\"prompt\":\"w1\",\"chosen\":\"w2 w3\",\"rejected\":\"w3\",\"gold_chosen\":2,\"gold_rejected\":1}\n");
    fprintf(f, "{\"prompt\":\"w1\",\"chosen\":\"w2\",\"rejected\":\"w3 w4\",\"gold_chosen\":0,\"gold_rejected\":1}\n");
    fprintf(f, "{\"prompt\":\"w1\",\"chosen\":\"w2\",\"rejected\":\"w3\",\"gold_chosen\":1,\"gold_rejected\":1}\n");
    fprintf(f, "{\"prompt\":\"w1\",\"chosen\":\"w2 w3 w4\",\"rejected\":\"w5\"}\n");
    fclose(f);
    warm_prefs d;
    warm_error err = {0};
    assert_int_equal(warm_prefs_load(&d, path, fx->tok, NULL, &err), WARM_OK);
    const int64_t idx[4] = {0, 1, 2, 3};
    close_to(warm_eval_length_baseline(&d, idx, 4), 2.5 / 4.0, 1e-15);
    assert_true(isnan(warm_eval_length_baseline(&d, idx, 0)));
    /* Gold: rows 0 and 1 count (row 2 is a gold tie, row 3 has none); labels agree on row 0 only. RM: row 0
     * ordered chosen first (agrees), row 1 a tie -> chosen first (disagrees with gold). */
    const float rc[4] = {1, 0, 5, 5}, rr[4] = {0, 0, 0, 0};
    warm_gold_metrics g;
    warm_eval_gold(&d, idx, 4, rc, rr, &g);
    assert_int_equal(g.n_gold, 2);
    close_to(g.label_gold, 0.5, 0);
    close_to(g.rm_gold, 0.5, 0);
    const float rc2[4] = {1, -1, 0, 0};
    warm_eval_gold(&d, idx, 4, rc2, rr, &g);
    close_to(g.rm_gold, 1.0, 0);
    warm_eval_gold(&d, idx, 4, NULL, NULL, &g);
    assert_true(isnan(g.rm_gold));
    warm_eval_gold(&d, idx + 3, 1, rc + 3, rr + 3, &g);
    assert_int_equal(g.n_gold, 0);
    assert_true(isnan(g.label_gold));
    warm_prefs_free(&d);
}

static void score_all(const warm_model *m, const fixture *fx, warm_eval_strategy s, int max_rows, float *rc,
                      float *rr) {
    warm_eval_opts o = warm_eval_opts_default();
    o.strategy = s;
    o.max_rows = max_rows;
    warm_error err = {0};
    assert_int_equal(warm_eval_score_pairs_ex(m, &fx->d, fx->idx, fx->n, &o, rc, rr, &err), WARM_OK);
}

static void test_invariance(void **state) {
    fixture *fx = *state;
    warm_model m;
    /* Width 128: the MLP projection has K = 512 > one GEMM depth block, where a few-row product sums in
     * another order than the packed path (what linear_rows in score.c guards against). */
    make_model(&m, fx, 2, 4, 128, 13);
    size_t bytes = (size_t)fx->n * sizeof(float);
    float *c1 = malloc(bytes), *r1 = malloc(bytes), *c2 = malloc(bytes), *r2 = malloc(bytes);
    for (int s = WARM_EVAL_PACKED; s <= WARM_EVAL_DECODE; s++) {
#ifdef _OPENMP
        int prev = omp_get_max_threads();
        omp_set_num_threads(1);
        score_all(&m, fx, (warm_eval_strategy)s, 0, c1, r1);
        omp_set_num_threads(3);
        score_all(&m, fx, (warm_eval_strategy)s, 0, c2, r2);
        omp_set_num_threads(prev);
        assert_memory_equal(c1, c2, bytes);
        assert_memory_equal(r1, r2, bytes);
#endif
        /* Same call twice: same bits. */
        score_all(&m, fx, (warm_eval_strategy)s, 0, c1, r1);
        score_all(&m, fx, (warm_eval_strategy)s, 0, c2, r2);
        assert_memory_equal(c1, c2, bytes);
        assert_memory_equal(r1, r2, bytes);
    }
    /* Packed: the attention's AVX-512 and baseline variants give the same bits. */
    score_all(&m, fx, WARM_EVAL_PACKED, 0, c1, r1);
    setenv("WARM_KERNEL_ISA", "portable", 1);
    score_all(&m, fx, WARM_EVAL_PACKED, 0, c2, r2);
    unsetenv("WARM_KERNEL_ISA");
    assert_memory_equal(c1, c2, bytes);
    assert_memory_equal(r1, r2, bytes);
    /* Packed: the pass size (how pairs are grouped into forward passes) does not change a bit. */
    score_all(&m, fx, WARM_EVAL_PACKED, 1, c1, r1);
    score_all(&m, fx, WARM_EVAL_PACKED, 100000, c2, r2);
    assert_memory_equal(c1, c2, bytes);
    assert_memory_equal(r1, r2, bytes);
    /* The scorer's counters: every pair is two sequences. */
    warm_scorer *sc = NULL;
    warm_error err = {0};
    assert_int_equal(warm_scorer_init(&sc, &m, NULL, &err), WARM_OK);
    assert_int_equal(warm_scorer_pairs(sc, &fx->d, fx->idx, fx->n, c1, r1, &err), WARM_OK);
    warm_scorer_stats st = warm_scorer_get_stats(sc);
    assert_int_equal(st.sequences, 2 * fx->n);
    assert_true(st.rows < st.seq_tokens); /* prompts computed once per pair */
    warm_scorer_free(sc);
    free(c1); free(r1); free(c2); free(r2);
    warm_model_free(&m);
}

static void test_strategy_names(void **state) {
    (void)state;
    assert_int_equal(warm_eval_strategy_parse("auto"), WARM_EVAL_AUTO);
    assert_int_equal(warm_eval_strategy_parse("decode"), WARM_EVAL_DECODE);
    assert_int_equal(warm_eval_strategy_parse("fast"), -1);
    assert_string_equal(warm_eval_strategy_name(WARM_EVAL_AUTO), "packed");
    assert_string_equal(warm_eval_strategy_name(WARM_EVAL_BATCHED), "batched");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_hand),
        cmocka_unit_test(test_ece_hand),
        cmocka_unit_test(test_ensemble_hand),
        cmocka_unit_test(test_strategy_names),
        cmocka_unit_test_setup_teardown(test_engines_match_trainer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ensemble_from_saved_scores, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subsets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subset_names_without_splits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_length_and_gold, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invariance, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
