/*
 * lmc.c — linear mode connectivity between two reward models (paper §4 E1/E2, Figures 3 and 4): accuracy of
 * the weight average WA_λ, of the prediction ensemble ENS_λ and of the straight line Diag_λ, per subset.
 *
 * Work: the union of the selected subsets is scored once per model. The endpoints φ_a, φ_b are scored first
 * (λ = 0 and 1 of the interpolation return them bit for bit); their rewards give ENS_λ and Diag_λ at every
 * λ and WA at the endpoints. Each interior λ costs one in-memory interpolation (warm_merge_into_model: the
 * double-accumulating kernel of `warm merge`, so λ = 0.5 is the uniform merge's bits) and one scoring of
 * the union. One warm_model and one scorer are reused for every λ (only the parameter values change).
 *
 * Layout of the rewards: (n_scored) floats per model and side, in union order; a subset maps its rows to
 * union positions through pos.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warm/eval.h"

warm_lmc_opts warm_lmc_opts_default(void) {
    warm_lmc_opts o;
    memset(&o, 0, sizeof o);
    o.grid = 11;
    o.subset = NULL;
    o.eval = warm_eval_opts_default();
    return o;
}

void warm_lmc_result_free(warm_lmc_result *r) {
    if (!r) return;
    for (int j = 0; r->subsets && j < r->n_subsets; j++) free(r->subsets[j].pts);
    free(r->subsets);
    free(r->lambda);
    memset(r, 0, sizeof *r);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Compatibility                                                                                          */

static int is_float_dtype(warm_dtype d) {
    return d == WARM_DTYPE_F32 || d == WARM_DTYPE_F16 || d == WARM_DTYPE_BF16 || d == WARM_DTYPE_F64 ||
           d == WARM_DTYPE_F8_E5M2 || d == WARM_DTYPE_F8_E4M3 || d == WARM_DTYPE_F8_E8M0 ||
           d == WARM_DTYPE_F8_E4M3FNUZ || d == WARM_DTYPE_F8_E5M2FNUZ || d == WARM_DTYPE_F4 ||
           d == WARM_DTYPE_F6_E2M3 || d == WARM_DTYPE_F6_E3M2;
}

static void shape_str(const warm_st_tensor *t, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < t->ndim && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

/* Every tensor of x has a counterpart in y with the same shape and kind of dtype. */
static warm_status check_tensors(const warm_ckpt *x, const warm_ckpt *y, warm_error *err) {
    for (int i = 0; i < x->n_tensors; i++) {
        const warm_ckpt_tensor *tx = &x->tensors[i];
        const warm_ckpt_tensor *ty = warm_ckpt_find(y, tx->key);
        if (!ty)
            return warm_error_set(err, WARM_ERR_MISMATCH, "tensor '%s' is in %s but not in %s", tx->t->name,
                                  x->path, y->path);
        int same = tx->t->ndim == ty->t->ndim;
        for (int d = 0; same && d < tx->t->ndim; d++) same = tx->t->shape[d] == ty->t->shape[d];
        if (!same) {
            char sx[96], sy[96];
            shape_str(tx->t, sx, sizeof sx);
            shape_str(ty->t, sy, sizeof sy);
            return warm_error_set(err, WARM_ERR_MISMATCH, "tensor '%s' has shape %s in %s but %s in %s",
                                  tx->t->name, sx, x->path, sy, y->path);
        }
        if (is_float_dtype(tx->t->dtype) != is_float_dtype(ty->t->dtype))
            return warm_error_set(err, WARM_ERR_MISMATCH, "tensor '%s' is %s in %s but %s in %s", tx->t->name,
                                  warm_dtype_name(tx->t->dtype), x->path, warm_dtype_name(ty->t->dtype), y->path);
    }
    return WARM_OK;
}

/* Fields that change the function the tensors compute (dropout and the init range do not). */
static warm_status check_configs(const warm_ckpt *a, const warm_ckpt *b, const warm_config *x, const warm_config *y,
                                 warm_error *err) {
    const struct {
        const char *name;
        int32_t va, vb;
    } f[] = {
        {"vocab_size", x->vocab_size, y->vocab_size},    {"n_positions", x->n_positions, y->n_positions},
        {"n_layer", x->n_layer, y->n_layer},             {"n_head", x->n_head, y->n_head},
        {"n_embd", x->n_embd, y->n_embd},                {"bos_token_id", x->bos_token_id, y->bos_token_id},
        {"eos_token_id", x->eos_token_id, y->eos_token_id}, {"pad_token_id", x->pad_token_id, y->pad_token_id},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].va != f[i].vb)
            return warm_error_set(err, WARM_ERR_MISMATCH, "config field '%s' differs: %d in %s but %d in %s",
                                  f[i].name, (int)f[i].va, a->path, (int)f[i].vb, b->path);
    return WARM_OK;
}

warm_status warm_lmc_check(const warm_ckpt *a, const warm_ckpt *b, warm_config *cfg, warm_error *err) {
    warm_config ca, cb;
    warm_status st = warm_ckpt_model_config(a, &ca, err);
    if (st) return st;
    st = warm_ckpt_model_config(b, &cb, err);
    if (!st) st = check_configs(a, b, &ca, &cb, err);
    if (!st) st = check_tensors(a, b, err);
    if (!st) st = check_tensors(b, a, err);
    if (!st && cfg) *cfg = ca;
    return st;
}

warm_status warm_lmc_interpolate(warm_model *m, const warm_ckpt *a, const warm_ckpt *b, double lambda,
                                 warm_error *err) {
    if (!isfinite(lambda)) return warm_error_set(err, WARM_ERR_ARG, "lambda must be finite");
    const warm_ckpt *ck[2] = {a, b};
    /* 1 − λ is exact for λ in [0.5, 1] and for every grid point i/(G−1) with (G−1) a power of two; elsewhere
     * its rounding is far below the F32 rounding of the result. λ = 0.5 gives (0.5, 0.5): 0.5 φ_a + 0.5 φ_b
     * equals (φ_a + φ_b) / 2 in double exactly (scaling by a power of two), hence the uniform merge's bits. */
    const double coef[2] = {1.0 - lambda, lambda};
    return warm_merge_into_model(m, ck, coef, 2, 1.0, WARM_DTYPE_F32, err);
}

/* ---------------------------------------------------------------------------------------------------- */
/* The diagnostic                                                                                         */

typedef struct {
    warm_eval_subset *sub;   /* (nsub) from warm_eval_subsets */
    int nsub;
    int64_t **pos;           /* (nsub) x (sub[j].n): union positions of the subset's rows */
    int64_t *urows, nu;      /* union of the subsets' rows, file order */
    float *ra_c, *ra_r;      /* (nu) rewards of φ_a: chosen, rejected */
    float *rb_c, *rb_r;      /* (nu) φ_b */
    float *rw_c, *rw_r;      /* (nu) WA_λ, then ENS_λ (reused) */
    float *tc, *tr;          /* (largest subset) gathered rewards */
    warm_model m;
    warm_scorer *sc;
} lmc_state;

static void state_free(lmc_state *s) {
    for (int j = 0; s->pos && j < s->nsub; j++) free(s->pos[j]);
    free(s->pos);
    warm_eval_subsets_free(s->sub, s->nsub);
    free(s->urows);
    free(s->ra_c);
    free(s->ra_r);
    free(s->rb_c);
    free(s->rb_r);
    free(s->rw_c);
    free(s->rw_r);
    free(s->tc);
    free(s->tr);
    warm_scorer_free(s->sc);
    warm_model_free(&s->m);
}

/* Subsets, their union in file order, and each subset's positions in it. */
static warm_status build_rows(const warm_prefs *d, const char *spec, lmc_state *s, warm_error *err) {
    warm_status st = warm_eval_subsets(d, spec, &s->sub, &s->nsub, err);
    if (st) return st;
    if (s->nsub == 0)
        return warm_error_set(err, WARM_ERR_ARG, "no pairs %s", spec ? "match the subset spec" : "to evaluate");
    size_t nd = (size_t)(d->n > 0 ? d->n : 1);
    int64_t *where = malloc(nd * sizeof *where);
    s->urows = malloc(nd * sizeof *s->urows);
    s->pos = calloc((size_t)s->nsub, sizeof *s->pos);
    if (!where || !s->urows || !s->pos) {
        free(where);
        return warm_error_set(err, WARM_ERR_NOMEM, "lmc: out of memory");
    }
    for (int64_t i = 0; i < d->n; i++) where[i] = -1;
    for (int j = 0; j < s->nsub; j++)
        for (int64_t k = 0; k < s->sub[j].n; k++) where[s->sub[j].idx[k]] = 0;
    s->nu = 0;
    for (int64_t i = 0; i < d->n; i++)
        if (where[i] == 0) {
            where[i] = s->nu;
            s->urows[s->nu++] = i;
        }
    for (int j = 0; j < s->nsub && !st; j++) {
        s->pos[j] = malloc((size_t)(s->sub[j].n > 0 ? s->sub[j].n : 1) * sizeof(int64_t));
        if (!s->pos[j]) st = warm_error_set(err, WARM_ERR_NOMEM, "lmc: out of memory");
        for (int64_t k = 0; !st && k < s->sub[j].n; k++) s->pos[j][k] = where[s->sub[j].idx[k]];
    }
    free(where);
    return st;
}

static warm_status alloc_buffers(lmc_state *s, warm_error *err) {
    size_t n = (size_t)(s->nu > 0 ? s->nu : 1), big = 1;
    for (int j = 0; j < s->nsub; j++)
        if ((size_t)s->sub[j].n > big) big = (size_t)s->sub[j].n;
    float **bufs[6] = {&s->ra_c, &s->ra_r, &s->rb_c, &s->rb_r, &s->rw_c, &s->rw_r};
    for (int k = 0; k < 6; k++)
        if (!(*bufs[k] = malloc(n * sizeof(float)))) return warm_error_set(err, WARM_ERR_NOMEM, "lmc: out of memory");
    s->tc = malloc(big * sizeof(float));
    s->tr = malloc(big * sizeof(float));
    if (!s->tc || !s->tr) return warm_error_set(err, WARM_ERR_NOMEM, "lmc: out of memory");
    return WARM_OK;
}

/* acc_ge, acc_gt of subset j under the union rewards (c, r). */
static void subset_acc(lmc_state *s, int j, const float *c, const float *r, double *ge, double *gt) {
    const int64_t *pos = s->pos[j];
    for (int64_t k = 0; k < s->sub[j].n; k++) {
        s->tc[k] = c[pos[k]];
        s->tr[k] = r[pos[k]];
    }
    warm_pair_metrics met;
    warm_eval_metrics(s->tc, s->tr, s->sub[j].n, 0, &met);
    *ge = met.acc_ge;
    *gt = met.acc_gt;
}

/* Interpolates the weights to λ and scores the union into (c, r). */
static warm_status score_at(lmc_state *s, const warm_ckpt *a, const warm_ckpt *b, const warm_prefs *d,
                            double lambda, float *c, float *r, warm_error *err) {
    warm_status st = warm_lmc_interpolate(&s->m, a, b, lambda, err);
    if (!st) st = warm_scorer_pairs(s->sc, d, s->urows, s->nu, c, r, err);
    return st;
}

/* ENS_λ rewards: (float)((1 − λ) r_a + λ r_b), in double per element (at λ = 0.5 the bits of
 * warm_eval_ensemble's mean of the two). */
static void ensemble(const float *xa, const float *xb, int64_t n, double lambda, float *out) {
    for (int64_t i = 0; i < n; i++) out[i] = (float)((1.0 - lambda) * (double)xa[i] + lambda * (double)xb[i]);
}

static warm_status result_alloc(const lmc_state *s, int grid, warm_lmc_result *r, warm_error *err) {
    r->n_lambda = grid;
    r->lambda = malloc((size_t)grid * sizeof *r->lambda);
    r->subsets = calloc((size_t)s->nsub, sizeof *r->subsets);
    if (!r->lambda || !r->subsets) return warm_error_set(err, WARM_ERR_NOMEM, "lmc: out of memory");
    r->n_subsets = s->nsub;
    r->mid = -1;
    for (int i = 0; i < grid; i++) {
        r->lambda[i] = (double)i / (double)(grid - 1);
        if (r->lambda[i] == 0.5) r->mid = i;
    }
    for (int j = 0; j < s->nsub; j++) {
        warm_lmc_subset *q = &r->subsets[j];
        memcpy(q->name, s->sub[j].name, sizeof q->name);
        q->split = s->sub[j].split;
        q->corrupted = s->sub[j].corrupted;
        q->n = s->sub[j].n;
        q->pts = calloc((size_t)grid, sizeof *q->pts);
        if (!q->pts) return warm_error_set(err, WARM_ERR_NOMEM, "lmc: out of memory");
    }
    return WARM_OK;
}

/* ENS and Diag at every λ, WA at the endpoints: all from the endpoints' rewards. */
static void fill_from_endpoints(lmc_state *s, warm_lmc_result *r) {
    for (int j = 0; j < s->nsub; j++) {
        double ga, ta, gb, tb;
        subset_acc(s, j, s->ra_c, s->ra_r, &ga, &ta);
        subset_acc(s, j, s->rb_c, s->rb_r, &gb, &tb);
        for (int i = 0; i < r->n_lambda; i++) {
            warm_lmc_point *p = &r->subsets[j].pts[i];
            double l = r->lambda[i];
            p->lambda = l;
            p->diag_ge = (1.0 - l) * ga + l * gb;
            p->diag_gt = (1.0 - l) * ta + l * tb;
        }
        warm_lmc_point *p0 = &r->subsets[j].pts[0], *p1 = &r->subsets[j].pts[r->n_lambda - 1];
        p0->wa_ge = ga;
        p0->wa_gt = ta;
        p1->wa_ge = gb;
        p1->wa_gt = tb;
    }
    for (int i = 0; i < r->n_lambda; i++) {
        ensemble(s->ra_c, s->rb_c, s->nu, r->lambda[i], s->rw_c);
        ensemble(s->ra_r, s->rb_r, s->nu, r->lambda[i], s->rw_r);
        for (int j = 0; j < s->nsub; j++) {
            warm_lmc_point *p = &r->subsets[j].pts[i];
            subset_acc(s, j, s->rw_c, s->rw_r, &p->ens_ge, &p->ens_gt);
        }
    }
}

static void fill_gains(warm_lmc_result *r) {
    for (int j = 0; j < r->n_subsets; j++) {
        warm_lmc_subset *q = &r->subsets[j];
        if (r->mid < 0) {
            q->gain_wa_diag_ge = q->gain_wa_ens_ge = q->gain_wa_diag_gt = q->gain_wa_ens_gt = NAN;
            continue;
        }
        const warm_lmc_point *p = &q->pts[r->mid];
        q->gain_wa_diag_ge = p->wa_ge - p->diag_ge;
        q->gain_wa_ens_ge = p->wa_ge - p->ens_ge;
        q->gain_wa_diag_gt = p->wa_gt - p->diag_gt;
        q->gain_wa_ens_gt = p->wa_gt - p->ens_gt;
    }
}

static warm_status check_data(const warm_ckpt *a, const warm_config *cfg, const warm_prefs *d, warm_error *err) {
    if (d->vocab_size > cfg->vocab_size)
        return warm_error_set(err, WARM_ERR_MISMATCH, "%s has a vocabulary of %d tokens, the data uses %d",
                              a->path, (int)cfg->vocab_size, (int)d->vocab_size);
    if (d->max_seq > cfg->n_positions)
        return warm_error_set(err, WARM_ERR_MISMATCH,
                              "%s has a context of %d tokens, the longest pair of the data has %d", a->path,
                              (int)cfg->n_positions, (int)d->max_seq);
    return WARM_OK;
}

warm_status warm_lmc_run(const warm_ckpt *a, const warm_ckpt *b, const warm_prefs *d, const warm_lmc_opts *o,
                         warm_lmc_result *r, warm_error *err) {
    warm_lmc_opts def = warm_lmc_opts_default();
    if (!o) o = &def;
    memset(r, 0, sizeof *r);
    if (o->grid < 2 || o->grid > 1001)
        return warm_error_set(err, WARM_ERR_ARG, "the grid needs 2..1001 points, not %d", o->grid);
    lmc_state s;
    memset(&s, 0, sizeof s);
    warm_config cfg;
    warm_status st = warm_lmc_check(a, b, &cfg, err);
    if (!st) st = check_data(a, &cfg, d, err);
    if (!st) st = build_rows(d, o->subset, &s, err);
    if (!st) st = alloc_buffers(&s, err);
    if (!st) st = result_alloc(&s, o->grid, r, err);
    if (!st) st = warm_model_init(&s.m, &cfg, err);
    if (!st) st = warm_scorer_init(&s.sc, &s.m, &o->eval, err);
    /* Endpoints, then ENS and Diag everywhere, then WA at each interior λ. */
    if (!st) st = score_at(&s, a, b, d, 0.0, s.ra_c, s.ra_r, err);
    if (!st) st = score_at(&s, a, b, d, 1.0, s.rb_c, s.rb_r, err);
    if (!st) fill_from_endpoints(&s, r);
    for (int i = 1; i + 1 < r->n_lambda && !st; i++) {
        st = score_at(&s, a, b, d, r->lambda[i], s.rw_c, s.rw_r, err);
        for (int j = 0; j < s.nsub && !st; j++) {
            warm_lmc_point *p = &r->subsets[j].pts[i];
            subset_acc(&s, j, s.rw_c, s.rw_r, &p->wa_ge, &p->wa_gt);
        }
    }
    if (!st) {
        fill_gains(r);
        r->n_scored = s.nu;
        r->n_evals = o->grid;
        r->seconds = warm_scorer_get_stats(s.sc).seconds;
    }
    state_free(&s);
    if (st) warm_lmc_result_free(r);
    return st;
}

/* ---------------------------------------------------------------------------------------------------- */
/* CSV                                                                                                    */

static void csv_num(char *buf, size_t n, double v) {
    if (isnan(v)) snprintf(buf, n, "nan");
    else snprintf(buf, n, "%.10g", v);
}

/* A CSV field: as is, or quoted with doubled quotes when it holds a comma, quote or line break. */
static void csv_field(char *buf, size_t n, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        snprintf(buf, n, "%s", s);
        return;
    }
    size_t k = 0;
    if (k + 1 < n) buf[k++] = '"';
    for (const char *c = s; *c && k + 3 < n; c++) {
        if (*c == '"') buf[k++] = '"';
        buf[k++] = *c;
    }
    if (k + 1 < n) buf[k++] = '"';
    buf[k] = 0;
}

warm_status warm_lmc_write_csv(const warm_lmc_result *r, const char *path, warm_error *err) {
    warm_jsonl_writer *w = NULL;
    warm_status st = warm_jsonl_writer_open(&w, path, err);
    if (!st) st = warm_jsonl_write_line(w, "subset,lambda,wa_acc_ge,wa_acc_gt,ens_acc_ge,ens_acc_gt,diag_acc_ge", err);
    for (int j = 0; j < r->n_subsets && !st; j++) {
        char name[200];
        csv_field(name, sizeof name, r->subsets[j].name);
        for (int i = 0; i < r->n_lambda && !st; i++) {
            const warm_lmc_point *p = &r->subsets[j].pts[i];
            char v[6][32], line[512];
            csv_num(v[0], sizeof v[0], p->wa_ge);
            csv_num(v[1], sizeof v[1], p->wa_gt);
            csv_num(v[2], sizeof v[2], p->ens_ge);
            csv_num(v[3], sizeof v[3], p->ens_gt);
            csv_num(v[4], sizeof v[4], p->diag_ge);
            csv_num(v[5], sizeof v[5], r->lambda[i]);
            snprintf(line, sizeof line, "%s,%s,%s,%s,%s,%s,%s", name, v[5], v[0], v[1], v[2], v[3], v[4]);
            st = warm_jsonl_write_line(w, line, err);
        }
    }
    if (!st) return warm_jsonl_writer_commit(w, err);
    if (w) warm_jsonl_writer_abort(w);
    return st;
}
