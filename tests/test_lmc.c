/*
 * test_lmc.c — the linear-mode-connectivity diagnostic (warm_lmc_*, warm/eval.h): endpoints equal each
 * member's own evaluation, ENS at the endpoints equals them, Diag is the straight line, WA at λ = 0.5 is the
 * uniform merge written by warm_merge (same weight bits, same accuracy), mismatched inputs are refused
 * naming the tensor or field, nothing is written but the requested CSV, and a BF16 member interpolates to
 * its exactly widened values (λ = 1) and to the F32 uniform merge (λ = 0.5).
 *
 * Fixtures are made here: two tiny random GPT-2 reward models around one init, saved as F32 safetensors in
 * a temp directory, and a hand-written pre-tokenised preference file with splits train (some rows
 * corrupted), val and ood.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"
#include "warm/eval.h"
#include "warm/merge.h"
#include "warm/model.h"

static warm_config tiny_config(void) { return warm_config_default(32, 16, 1, 2, 16); }

typedef struct {
    char dir[64];
    char a[128], b[128], data[128];
    warm_prefs d;
} fixture;

static void save_member(const char *path, float noise, uint64_t seed) {
    warm_config cfg = tiny_config();
    warm_model m;
    warm_error err = {0};
    assert_int_equal(warm_model_init(&m, &cfg, &err), WARM_OK);
    warm_model_init_weights(&m, 7);
    warm_rng r;
    warm_rng_seed(&r, seed);
    for (size_t j = 0; j < m.n_params; j++) m.params[j] += noise * warm_rng_normal(&r);
    assert_int_equal(warm_model_save(&m, path, WARM_DTYPE_F32, NULL, NULL, 0, &err), WARM_OK);
    warm_model_free(&m);
}

/* 90 pairs of random ids in [0, 31): 40 train (every 4th corrupted), 25 val, 25 ood. */
static void write_prefs(const char *path) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    warm_rng r;
    warm_rng_seed(&r, 2024);
    for (int p = 0; p < 90; p++) {
        const char *keys[3] = {"prompt_ids", "chosen_ids", "rejected_ids"};
        fputc('{', f);
        for (int k = 0; k < 3; k++) {
            int len = 1 + (int)warm_rng_below(&r, 4);
            fprintf(f, "%s\"%s\":[", k ? "," : "", keys[k]);
            for (int t = 0; t < len; t++) fprintf(f, "%s%u", t ? "," : "", warm_rng_below(&r, 31));
            fputc(']', f);
        }
        const char *split = p < 40 ? "train" : p < 65 ? "val" : "ood";
        fprintf(f, ",\"split\":\"%s\",\"corrupted\":%s}\n", split, p < 40 && p % 4 == 0 ? "true" : "false");
    }
    fclose(f);
}

static int setup(void **state) {
    fixture *fx = calloc(1, sizeof *fx);
    test_tmpdir(fx->dir, sizeof fx->dir);
    snprintf(fx->a, sizeof fx->a, "%s/a.safetensors", fx->dir);
    snprintf(fx->b, sizeof fx->b, "%s/b.safetensors", fx->dir);
    snprintf(fx->data, sizeof fx->data, "%s/prefs.jsonl", fx->dir);
    save_member(fx->a, 0.05f, 1);
    save_member(fx->b, 0.05f, 2);
    write_prefs(fx->data);
    warm_config cfg = tiny_config();
    warm_prefs_opts po = warm_prefs_opts_default();
    po.vocab_size = cfg.vocab_size;
    po.pad_id = cfg.pad_token_id;
    po.max_len = cfg.n_positions;
    warm_error err = {0};
    if (warm_prefs_load(&fx->d, fx->data, NULL, &po, &err) != WARM_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    *state = fx;
    return 0;
}

/* Removes the flat temp directory. */
static int teardown(void **state) {
    fixture *fx = *state;
    DIR *d = opendir(fx->dir);
    if (d) {
        for (struct dirent *e; (e = readdir(d));) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[512];
            snprintf(p, sizeof p, "%s/%s", fx->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(fx->dir);
    warm_prefs_free(&fx->d);
    free(fx);
    return 0;
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void open_pair(const fixture *fx, warm_ckpt *a, warm_ckpt *b) {
    warm_error err = {0};
    assert_int_equal(warm_ckpt_open(a, fx->a, &err), WARM_OK);
    assert_int_equal(warm_ckpt_open(b, fx->b, &err), WARM_OK);
}

static void run_lmc(const fixture *fx, int grid, warm_lmc_result *r) {
    warm_ckpt a, b;
    open_pair(fx, &a, &b);
    warm_lmc_opts o = warm_lmc_opts_default();
    o.grid = grid;
    warm_error err = {0};
    warm_status st = warm_lmc_run(&a, &b, &fx->d, &o, r, &err);
    if (st) fprintf(stderr, "lmc: %s\n", err.msg);
    assert_int_equal(st, WARM_OK);
    warm_ckpt_close(&a);
    warm_ckpt_close(&b);
}

/* acc_ge, acc_gt of model m on subset s, and its rewards (rc, rr: s->n). */
static void own_eval(const warm_model *m, const warm_prefs *d, const warm_eval_subset *s, float *rc, float *rr,
                     warm_pair_metrics *met) {
    warm_error err = {0};
    assert_int_equal(warm_eval_score_pairs(m, d, s->idx, s->n, rc, rr, &err), WARM_OK);
    warm_eval_metrics(rc, rr, s->n, 0, met);
}

/* ------------------------------------------------------------------------------------------------------ */

static void test_endpoints_ens_diag(void **state) {
    fixture *fx = *state;
    int before = count_entries(fx->dir);
    warm_lmc_result r;
    run_lmc(fx, 5, &r);
    assert_int_equal(count_entries(fx->dir), before); /* nothing written */
    assert_int_equal(r.n_lambda, 5);
    assert_int_equal(r.mid, 2);
    assert_true(r.lambda[0] == 0.0 && r.lambda[2] == 0.5 && r.lambda[4] == 1.0);
    assert_int_equal(r.n_evals, 5);

    warm_eval_subset *subs = NULL;
    int ns = 0;
    warm_error err = {0};
    assert_int_equal(warm_eval_subsets(&fx->d, NULL, &subs, &ns, &err), WARM_OK);
    assert_int_equal(ns, r.n_subsets);
    assert_int_equal(ns, 5); /* train, train-clean, train-corrupt, val, ood */
    warm_model ma, mb;
    assert_int_equal(warm_model_load(&ma, fx->a, 0, &err), WARM_OK);
    assert_int_equal(warm_model_load(&mb, fx->b, 0, &err), WARM_OK);
    for (int j = 0; j < ns; j++) {
        const warm_lmc_subset *q = &r.subsets[j];
        assert_string_equal(q->name, subs[j].name);
        assert_int_equal(q->n, subs[j].n);
        float *ac = malloc((size_t)subs[j].n * sizeof(float)), *ar = malloc((size_t)subs[j].n * sizeof(float));
        float *bc = malloc((size_t)subs[j].n * sizeof(float)), *br = malloc((size_t)subs[j].n * sizeof(float));
        warm_pair_metrics A, B, E;
        own_eval(&ma, &fx->d, &subs[j], ac, ar, &A);
        own_eval(&mb, &fx->d, &subs[j], bc, br, &B);
        const warm_lmc_point *p0 = &q->pts[0], *p1 = &q->pts[4];
        /* Endpoints: WA, ENS and Diag equal each member's own evaluation exactly. */
        assert_true(p0->wa_ge == A.acc_ge && p0->wa_gt == A.acc_gt);
        assert_true(p0->ens_ge == A.acc_ge && p0->ens_gt == A.acc_gt);
        assert_true(p0->diag_ge == A.acc_ge && p0->diag_gt == A.acc_gt);
        assert_true(p1->wa_ge == B.acc_ge && p1->wa_gt == B.acc_gt);
        assert_true(p1->ens_ge == B.acc_ge && p1->ens_gt == B.acc_gt);
        assert_true(p1->diag_ge == B.acc_ge && p1->diag_gt == B.acc_gt);
        /* Diag is the straight line. */
        for (int i = 0; i < 5; i++) {
            double l = r.lambda[i];
            assert_true(fabs(q->pts[i].diag_ge - ((1 - l) * A.acc_ge + l * B.acc_ge)) < 1e-15);
            assert_true(fabs(q->pts[i].diag_gt - ((1 - l) * A.acc_gt + l * B.acc_gt)) < 1e-15);
            assert_true(q->pts[i].lambda == l);
        }
        /* ENS at 0.5 is warm_eval_ensemble's mean of the two members. */
        const float *cs[2] = {ac, bc}, *rs[2] = {ar, br};
        float *ec = malloc((size_t)subs[j].n * sizeof(float)), *er = malloc((size_t)subs[j].n * sizeof(float));
        warm_eval_ensemble(cs, 2, subs[j].n, WARM_ENS_MEAN, 0, ec);
        warm_eval_ensemble(rs, 2, subs[j].n, WARM_ENS_MEAN, 0, er);
        warm_eval_metrics(ec, er, subs[j].n, 0, &E);
        assert_true(q->pts[2].ens_ge == E.acc_ge && q->pts[2].ens_gt == E.acc_gt);
        /* Midpoint gains. */
        assert_true(q->gain_wa_diag_ge == q->pts[2].wa_ge - q->pts[2].diag_ge);
        assert_true(q->gain_wa_ens_ge == q->pts[2].wa_ge - q->pts[2].ens_ge);
        free(ac), free(ar), free(bc), free(br), free(ec), free(er);
    }
    warm_model_free(&ma);
    warm_model_free(&mb);
    warm_eval_subsets_free(subs, ns);
    warm_lmc_result_free(&r);
}

/* WA at λ = 0.5 is the uniform merge written by warm_merge: same weight bits, same accuracy per subset. */
static void test_midpoint_is_uniform_merge(void **state) {
    fixture *fx = *state;
    char out[160];
    snprintf(out, sizeof out, "%s/uniform.safetensors", fx->dir);
    const char *ins[2] = {fx->a, fx->b};
    warm_error err = {0};
    assert_int_equal(warm_merge(ins, 2, out, NULL, NULL, &err), WARM_OK);
    warm_model merged, interp;
    assert_int_equal(warm_model_load(&merged, out, 0, &err), WARM_OK);
    warm_ckpt a, b;
    open_pair(fx, &a, &b);
    warm_config cfg;
    assert_int_equal(warm_lmc_check(&a, &b, &cfg, &err), WARM_OK);
    assert_int_equal(warm_model_init(&interp, &cfg, &err), WARM_OK);
    assert_int_equal(warm_lmc_interpolate(&interp, &a, &b, 0.5, &err), WARM_OK);
    assert_int_equal(interp.n_params, merged.n_params);
    assert_memory_equal(interp.params, merged.params, merged.n_params * sizeof(float));
    /* λ = 0 and 1 return the endpoints bit for bit. */
    warm_model ma;
    assert_int_equal(warm_model_load(&ma, fx->a, 0, &err), WARM_OK);
    assert_int_equal(warm_lmc_interpolate(&interp, &a, &b, 0.0, &err), WARM_OK);
    assert_memory_equal(interp.params, ma.params, ma.n_params * sizeof(float));
    warm_model_free(&ma);
    assert_int_equal(warm_model_load(&ma, fx->b, 0, &err), WARM_OK);
    assert_int_equal(warm_lmc_interpolate(&interp, &a, &b, 1.0, &err), WARM_OK);
    assert_memory_equal(interp.params, ma.params, ma.n_params * sizeof(float));
    warm_model_free(&ma);
    warm_ckpt_close(&a);
    warm_ckpt_close(&b);

    warm_lmc_result r;
    run_lmc(fx, 3, &r);
    assert_int_equal(r.mid, 1);
    warm_eval_subset *subs = NULL;
    int ns = 0;
    assert_int_equal(warm_eval_subsets(&fx->d, NULL, &subs, &ns, &err), WARM_OK);
    for (int j = 0; j < ns; j++) {
        float *c = malloc((size_t)subs[j].n * sizeof(float)), *rr = malloc((size_t)subs[j].n * sizeof(float));
        warm_pair_metrics M;
        own_eval(&merged, &fx->d, &subs[j], c, rr, &M);
        assert_true(r.subsets[j].pts[1].wa_ge == M.acc_ge);
        assert_true(r.subsets[j].pts[1].wa_gt == M.acc_gt);
        free(c), free(rr);
    }
    warm_eval_subsets_free(subs, ns);
    warm_lmc_result_free(&r);
    warm_model_free(&merged);
    warm_model_free(&interp);
    unlink(out);
}

/* Mixed dtypes: B stored as BF16. λ = 1 gives its (exactly widened) values, λ = 0.5 the F32 uniform merge. */
static void test_mixed_dtypes(void **state) {
    fixture *fx = *state;
    char bf[160], out[160];
    snprintf(bf, sizeof bf, "%s/b_bf16.safetensors", fx->dir);
    snprintf(out, sizeof out, "%s/mixed.safetensors", fx->dir);
    warm_error err = {0};
    warm_model mb;
    assert_int_equal(warm_model_load(&mb, fx->b, 0, &err), WARM_OK);
    assert_int_equal(warm_model_save(&mb, bf, WARM_DTYPE_BF16, NULL, NULL, 0, &err), WARM_OK);
    warm_model_free(&mb);
    assert_int_equal(warm_model_load(&mb, bf, 0, &err), WARM_OK);
    const char *ins[2] = {fx->a, bf};
    warm_merge_opts mo = warm_merge_opts_default();
    mo.out_dtype = WARM_DTYPE_F32;
    assert_int_equal(warm_merge(ins, 2, out, &mo, NULL, &err), WARM_OK);
    warm_model merged, m;
    assert_int_equal(warm_model_load(&merged, out, 0, &err), WARM_OK);
    warm_ckpt a, b;
    assert_int_equal(warm_ckpt_open(&a, fx->a, &err), WARM_OK);
    assert_int_equal(warm_ckpt_open(&b, bf, &err), WARM_OK);
    warm_config cfg;
    assert_int_equal(warm_lmc_check(&a, &b, &cfg, &err), WARM_OK);
    assert_int_equal(warm_model_init(&m, &cfg, &err), WARM_OK);
    assert_int_equal(warm_lmc_interpolate(&m, &a, &b, 1.0, &err), WARM_OK);
    assert_memory_equal(m.params, mb.params, m.n_params * sizeof(float));
    assert_int_equal(warm_lmc_interpolate(&m, &a, &b, 0.5, &err), WARM_OK);
    assert_memory_equal(m.params, merged.params, m.n_params * sizeof(float));
    warm_ckpt_close(&a);
    warm_ckpt_close(&b);
    warm_model_free(&m);
    warm_model_free(&mb);
    warm_model_free(&merged);
    unlink(bf);
    unlink(out);
}

/* An even grid has no λ = 0.5: the gains are NaN. A subset spec restricts the subsets. */
static void test_even_grid_and_subset(void **state) {
    fixture *fx = *state;
    warm_ckpt a, b;
    open_pair(fx, &a, &b);
    warm_lmc_opts o = warm_lmc_opts_default();
    o.grid = 4;
    o.subset = "split=ood|val";
    warm_lmc_result r;
    warm_error err = {0};
    assert_int_equal(warm_lmc_run(&a, &b, &fx->d, &o, &r, &err), WARM_OK);
    assert_int_equal(r.mid, -1);
    assert_int_equal(r.n_subsets, 2);
    assert_string_equal(r.subsets[0].name, "val");
    assert_string_equal(r.subsets[1].name, "ood");
    assert_true(isnan(r.subsets[0].gain_wa_diag_ge) && isnan(r.subsets[1].gain_wa_ens_ge));
    assert_int_equal(r.n_scored, 50);
    warm_lmc_result_free(&r);
    o.grid = 1;
    assert_int_equal(warm_lmc_run(&a, &b, &fx->d, &o, &r, &err), WARM_ERR_ARG);
    o.grid = 3;
    o.subset = "split=nosuch";
    assert_int_not_equal(warm_lmc_run(&a, &b, &fx->d, &o, &r, &err), WARM_OK);
    warm_ckpt_close(&a);
    warm_ckpt_close(&b);
}

/* Writes a's tensors to path, leaving out `drop` and giving score.weight `score_rows` rows. */
static void write_variant(const fixture *fx, const char *path, const char *drop, int score_rows,
                          const warm_config *cfg) {
    warm_model m;
    warm_error err = {0};
    assert_int_equal(warm_model_load(&m, fx->a, 0, &err), WARM_OK);
    warm_st_spec *specs = calloc((size_t)m.n_tensors, sizeof *specs);
    const float **data = calloc((size_t)m.n_tensors, sizeof *data);
    float *score2 = calloc((size_t)(score_rows * m.cfg.n_embd), sizeof(float));
    int n = 0;
    for (int k = 0; k < m.n_tensors; k++) {
        const warm_tensor *t = &m.tensors[k];
        if (drop && strcmp(t->name, drop) == 0) continue;
        specs[n] = (warm_st_spec){.name = t->name, .dtype = WARM_DTYPE_F32, .ndim = t->ndim};
        for (int d = 0; d < t->ndim; d++) specs[n].shape[d] = t->shape[d];
        data[n] = m.params + t->offset;
        if (strcmp(t->name, "score.weight") == 0) {
            specs[n].shape[0] = score_rows;
            data[n] = score2;
        }
        n++;
    }
    char *cj = warm_config_to_json(cfg);
    const char *keys[1] = {"warm.config"}, *vals[1] = {cj};
    assert_int_equal(warm_st_write(path, specs, data, n, keys, vals, 1, &err), WARM_OK);
    free(cj);
    free(specs);
    free(data);
    free(score2);
    warm_model_free(&m);
}

static void expect_refusal(const fixture *fx, const char *path, warm_status code, const char *needle) {
    warm_ckpt a, c;
    warm_error err = {0};
    assert_int_equal(warm_ckpt_open(&a, fx->a, &err), WARM_OK);
    assert_int_equal(warm_ckpt_open(&c, path, &err), WARM_OK);
    warm_lmc_result r;
    assert_int_equal(warm_lmc_run(&a, &c, &fx->d, NULL, &r, &err), code);
    if (!strstr(err.msg, needle)) fprintf(stderr, "message without '%s': %s\n", needle, err.msg);
    assert_non_null(strstr(err.msg, needle));
    assert_null(r.subsets);
    /* Either order. */
    memset(&err, 0, sizeof err);
    assert_int_equal(warm_lmc_run(&c, &a, &fx->d, NULL, &r, &err), code);
    assert_non_null(strstr(err.msg, needle));
    warm_ckpt_close(&a);
    warm_ckpt_close(&c);
}

static void test_mismatch_names_tensor(void **state) {
    fixture *fx = *state;
    warm_config cfg = tiny_config();
    char p1[160], p2[160], p3[160];
    snprintf(p1, sizeof p1, "%s/missing.safetensors", fx->dir);
    snprintf(p2, sizeof p2, "%s/shape.safetensors", fx->dir);
    snprintf(p3, sizeof p3, "%s/heads.safetensors", fx->dir);
    write_variant(fx, p1, "transformer.h.0.ln_2.bias", 1, &cfg);
    write_variant(fx, p2, NULL, 2, &cfg);
    warm_config c4 = cfg;
    c4.n_head = 4;
    write_variant(fx, p3, NULL, 1, &c4);
    int before = count_entries(fx->dir);
    expect_refusal(fx, p1, WARM_ERR_MISMATCH, "transformer.h.0.ln_2.bias");
    expect_refusal(fx, p2, WARM_ERR_MISMATCH, "score.weight");
    expect_refusal(fx, p3, WARM_ERR_MISMATCH, "n_head");
    assert_int_equal(count_entries(fx->dir), before);
    unlink(p1);
    unlink(p2);
    unlink(p3);
}

/* The CSV: header, one row per subset and λ, written atomically (no temp file left behind). */
static void test_csv(void **state) {
    fixture *fx = *state;
    warm_lmc_result r;
    run_lmc(fx, 3, &r);
    char path[160];
    snprintf(path, sizeof path, "%s/lmc.csv", fx->dir);
    int before = count_entries(fx->dir);
    warm_error err = {0};
    assert_int_equal(warm_lmc_write_csv(&r, path, &err), WARM_OK);
    assert_int_equal(count_entries(fx->dir), before + 1);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[512];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "subset,lambda,wa_acc_ge,wa_acc_gt,ens_acc_ge,ens_acc_gt,diag_acc_ge\n");
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        int j = rows / 3, i = rows % 3;
        char name[96];
        double l, v[5];
        assert_int_equal(sscanf(line, "%95[^,],%lf,%lf,%lf,%lf,%lf,%lf", name, &l, &v[0], &v[1], &v[2], &v[3], &v[4]), 7);
        assert_string_equal(name, r.subsets[j].name);
        assert_true(l == r.lambda[i]);
        assert_true(fabs(v[0] - r.subsets[j].pts[i].wa_ge) < 1e-9);
        assert_true(fabs(v[4] - r.subsets[j].pts[i].diag_ge) < 1e-9);
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, 3 * r.n_subsets);
    unlink(path);
    warm_lmc_result_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoints_ens_diag),    cmocka_unit_test(test_midpoint_is_uniform_merge),
        cmocka_unit_test(test_even_grid_and_subset),  cmocka_unit_test(test_mismatch_names_tensor),
        cmocka_unit_test(test_mixed_dtypes),          cmocka_unit_test(test_csv),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
