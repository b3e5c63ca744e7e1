/*
 * merge.c — warm_merge: checks the options, opens the inputs, builds the plan (every tensor of the first
 * input matched by canonical key in every other input and the base), compares configs, fixes the
 * coefficients of the method (slerp: per tensor, from a first pass over the inputs; greedy/top: from the
 * soup selection in soup.c), then streams the output tensor by tensor, block by block (combine.c) into the
 * file or directory writer (output.c). Formulas, numerics and failure rules: include/warm/merge.h. Over MPI
 * ranks (uniform, weighted) the blocks' double sums are passed along a chain of ranks that each add their
 * own inputs, and rank 0 writes (stream_ranks).
 *
 * Plan layout: x[k * n + i] is output tensor k in input i (k follows the first input's tensor order, which
 * is also the output order and the shard packing order); b[k] is it in the base, or NULL.
 */
#include "merge/merge_internal.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "warm/progress.h"

/* mergekit's slerp threshold: |cos Ω| above it counts as parallel and falls back to lerp. */
#define SLERP_PARALLEL 0.9995

static const char *const method_names[WARM_MERGE_METHOD_COUNT] = {
    "uniform", "weighted", "lerp", "slerp", "task-arithmetic", "greedy", "top",
};

const char *warm_merge_method_name(warm_merge_method m) {
    return (int)m >= 0 && m < WARM_MERGE_METHOD_COUNT ? method_names[m] : "?";
}

int warm_merge_method_from_name(const char *s, warm_merge_method *out) {
    for (int i = 0; s && i < WARM_MERGE_METHOD_COUNT; i++) {
        if (strcmp(s, method_names[i]) == 0) {
            *out = (warm_merge_method)i;
            return 0;
        }
    }
    return -1;
}

warm_merge_opts warm_merge_opts_default(void) {
    warm_merge_opts o;
    memset(&o, 0, sizeof o);
    o.method = WARM_MERGE_UNIFORM;
    o.scale = 1.0;
    o.out_dtype = -1;
    o.check_config = 1;
    return o;
}

void warm_merge_report_free(warm_merge_report *r) {
    if (!r) return;
    free(r->coef);
    free(r->ranking);
    free(r->step_acc);
    free(r->accepted);
    memset(r, 0, sizeof *r);
}

/* ---------------------------------------------------------------------------------------------- options */

static warm_status check_weights(const warm_merge_opts *o, int n, int normalised, warm_error *err) {
    if (o->n_weights != n || !o->weights)
        return warm_error_set(err, WARM_ERR_ARG, "%s: %d weights for %d inputs", method_names[o->method], o->n_weights,
                              n);
    double sum = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(o->weights[i]) || (normalised && o->weights[i] < 0))
            return warm_error_set(err, WARM_ERR_ARG, "%s: weight %d (%g) must be %s", method_names[o->method], i + 1,
                                  o->weights[i], normalised ? "finite and >= 0" : "finite");
        sum += o->weights[i];
    }
    if (normalised && !(sum > 0))
        return warm_error_set(err, WARM_ERR_ARG, "weighted: the weights sum to 0");
    return WARM_OK;
}

static warm_status check_method(int n, const warm_merge_opts *o, warm_error *err) {
    const char *mn = warm_merge_method_name(o->method);
    if (warm_dist_size(o->dist) > 1 && o->method != WARM_MERGE_UNIFORM && o->method != WARM_MERGE_WEIGHTED)
        return warm_error_set(err, WARM_ERR_ARG, "%s: over MPI ranks, merge computes the uniform or weighted average "
                              "(a reduction); run --method %s in one process, without mpirun", mn, mn);
    int uses_base = o->method == WARM_MERGE_SLERP || o->method == WARM_MERGE_TASK_ARITHMETIC;
    int uses_weights = o->method == WARM_MERGE_WEIGHTED || o->method == WARM_MERGE_TASK_ARITHMETIC;
    if (o->base && !uses_base)
        return warm_error_set(err, WARM_ERR_ARG, "%s: a base is only used by slerp and task-arithmetic", mn);
    if (o->weights && !uses_weights)
        return warm_error_set(err, WARM_ERR_ARG, "%s: weights are only used by weighted and task-arithmetic", mn);
    switch (o->method) {
    case WARM_MERGE_UNIFORM: return WARM_OK;
    case WARM_MERGE_WEIGHTED: return check_weights(o, n, 1, err);
    case WARM_MERGE_LERP:
    case WARM_MERGE_SLERP:
        if (n != 2) return warm_error_set(err, WARM_ERR_ARG, "%s: needs exactly 2 inputs (got %d)", mn, n);
        if (!isfinite(o->lambda) || (o->method == WARM_MERGE_SLERP && (o->lambda < 0 || o->lambda > 1)))
            return warm_error_set(err, WARM_ERR_ARG, "%s: lambda %g must be %s", mn, o->lambda,
                                  o->method == WARM_MERGE_SLERP ? "in [0, 1]" : "finite");
        return WARM_OK;
    case WARM_MERGE_TASK_ARITHMETIC:
        if (!o->base) return warm_error_set(err, WARM_ERR_ARG, "task-arithmetic: needs a base checkpoint");
        if (!isfinite(o->scale)) return warm_error_set(err, WARM_ERR_ARG, "task-arithmetic: scale must be finite");
        return o->weights ? check_weights(o, n, 0, err) : WARM_OK;
    case WARM_MERGE_GREEDY:
    case WARM_MERGE_TOP:
        if (!o->eval) return warm_error_set(err, WARM_ERR_ARG, "%s: needs a validation evaluator", mn);
        if (o->method == WARM_MERGE_TOP && (o->top_m < 1 || o->top_m > n))
            return warm_error_set(err, WARM_ERR_ARG, "top: m = %d must be in [1, %d] (the number of inputs)", o->top_m,
                                  n);
        return WARM_OK;
    default: return warm_error_set(err, WARM_ERR_ARG, "unknown merge method %d", (int)o->method);
    }
}

static warm_status check_opts(const char *const *inputs, int n, const char *out, const warm_merge_opts *o,
                              warm_error *err) {
    if (n < 1 || !inputs) return warm_error_set(err, WARM_ERR_ARG, "no input checkpoints");
    if (!out) return warm_error_set(err, WARM_ERR_ARG, "no output path");
    if (o->out_dtype != -1 && o->out_dtype != WARM_DTYPE_F32 && o->out_dtype != WARM_DTYPE_F16 &&
        o->out_dtype != WARM_DTYPE_BF16)
        return warm_error_set(err, WARM_ERR_ARG, "output dtype must be F32, F16 or BF16 (got %s)",
                              warm_dtype_name((warm_dtype)o->out_dtype));
    warm_status s = check_method(n, o, err);
    if (!s) s = merge_output_precheck(out, o->shard_size, 0, err);
    return s;
}

/* ---------------------------------------------------------------------------------------------- plan */

typedef struct {
    int n;                          /* inputs */
    warm_ckpt *in;                  /* (n) */
    warm_ckpt base;
    int has_base;
    int nt;                         /* output tensors */
    const warm_ckpt_tensor **x;     /* (nt * n) */
    const warm_ckpt_tensor **b;     /* (nt) */
    merge_out_tensor *out;          /* (nt) */
    double *tc;                     /* slerp: (nt * 2) per-tensor coefficients */
} plan;

static void plan_free(plan *p) {
    for (int i = 0; i < p->n && p->in; i++) warm_ckpt_close(&p->in[i]);
    if (p->has_base) warm_ckpt_close(&p->base);
    free(p->in);
    free(p->x);
    free(p->b);
    free(p->out);
    free(p->tc);
    memset(p, 0, sizeof *p);
}

/* Floating-point dtypes (the kind test); only F32, F16 and BF16 can be averaged. */
static int floating_kind(warm_dtype d) {
    switch (d) {
    case WARM_DTYPE_F8_E5M2: case WARM_DTYPE_F8_E4M3: case WARM_DTYPE_F8_E8M0: case WARM_DTYPE_F8_E4M3FNUZ:
    case WARM_DTYPE_F8_E5M2FNUZ: case WARM_DTYPE_F16: case WARM_DTYPE_BF16: case WARM_DTYPE_F32:
    case WARM_DTYPE_F64: case WARM_DTYPE_C64: case WARM_DTYPE_F4: case WARM_DTYPE_F6_E2M3: case WARM_DTYPE_F6_E3M2:
        return 1;
    default: return 0;
    }
}

static void shape_str(const warm_st_tensor *t, char *buf, size_t cap) {
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < t->ndim && k < cap; d++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%" PRId64, d ? ", " : "", t->shape[d]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

static int same_shape(const warm_st_tensor *a, const warm_st_tensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return 0;
    return 1;
}

/* Checks that tensor y (of another checkpoint) agrees with t0 of the first input. */
static warm_status match_one(const warm_ckpt_tensor *t0, const warm_ckpt_tensor *y, warm_error *err) {
    const warm_st_tensor *a = t0->t, *b = y->t;
    if (floating_kind(a->dtype) != floating_kind(b->dtype) || (!floating_kind(a->dtype) && a->dtype != b->dtype))
        return warm_error_set(err, WARM_ERR_MISMATCH, "tensor '%s': dtype %s in %s but %s in %s", t0->key,
                              warm_dtype_name(a->dtype), t0->file->path, warm_dtype_name(b->dtype), y->file->path);
    if (floating_kind(b->dtype) && !merge_is_float(b->dtype))
        return warm_error_set(err, WARM_ERR_FORMAT, "tensor '%s' in %s has dtype %s: only F32, F16 and BF16 tensors "
                              "can be averaged", y->t->name, y->file->path, warm_dtype_name(b->dtype));
    if (!same_shape(a, b)) {
        char sa[160], sb[160];
        shape_str(a, sa, sizeof sa);
        shape_str(b, sb, sizeof sb);
        return warm_error_set(err, WARM_ERR_MISMATCH, "tensor '%s': shape %s in %s but %s in %s", t0->key, sa,
                              t0->file->path, sb, y->file->path);
    }
    if (!floating_kind(a->dtype) && a->numel > 0 && memcmp(a->data, b->data, (size_t)(a->end - a->begin)) != 0)
        return warm_error_set(err, WARM_ERR_MISMATCH, "tensor '%s' (%s) differs between %s and %s: non-floating "
                              "tensors are copied and must be identical", t0->key, warm_dtype_name(a->dtype),
                              t0->file->path, y->file->path);
    return WARM_OK;
}

/* Every tensor of c must be in the first input (the reverse direction of match_one's lookups). */
static warm_status match_extra(const warm_ckpt *first, const warm_ckpt *c, warm_error *err) {
    for (int i = 0; i < c->n_tensors; i++)
        if (!warm_ckpt_find(first, c->tensors[i].key))
            return warm_error_set(err, WARM_ERR_MISMATCH, "tensor '%s' is in %s but not in %s", c->tensors[i].t->name,
                                  c->tensors[i].file->path, first->path);
    return WARM_OK;
}

static warm_status match_ckpt(plan *p, const warm_ckpt *c, int slot, warm_error *err) {
    const warm_ckpt *first = &p->in[0];
    for (int k = 0; k < p->nt; k++) {
        const warm_ckpt_tensor *t0 = &first->tensors[k], *y = warm_ckpt_find(c, t0->key);
        if (!y)
            return warm_error_set(err, WARM_ERR_MISMATCH, "tensor '%s' is in %s but not in %s", t0->t->name,
                                  t0->file->path, c->path);
        warm_status s = match_one(t0, y, err);
        if (s) return s;
        if (slot >= 0) p->x[(size_t)k * (size_t)p->n + (size_t)slot] = y;
        else p->b[k] = y;
    }
    return match_extra(first, c, err);
}

static warm_status plan_tensors(plan *p, int out_dtype, warm_error *err) {
    const warm_ckpt *first = &p->in[0];
    p->nt = first->n_tensors;
    p->x = calloc((size_t)p->nt * (size_t)p->n + 1, sizeof *p->x);
    p->b = calloc((size_t)p->nt + 1, sizeof *p->b);
    p->out = calloc((size_t)p->nt + 1, sizeof *p->out);
    if (!p->x || !p->b || !p->out) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory for the merge plan");
    for (int k = 0; k < p->nt; k++) {
        const warm_ckpt_tensor *t0 = &first->tensors[k];
        warm_status s = match_one(t0, t0, err); /* dtype support of the first input itself */
        if (s) return s;
        merge_out_tensor *o = &p->out[k];
        o->name = t0->t->name;
        o->dtype = merge_is_float(t0->t->dtype) && out_dtype >= 0 ? (warm_dtype)out_dtype : t0->t->dtype;
        o->ndim = t0->t->ndim;
        memcpy(o->shape, t0->t->shape, sizeof o->shape);
        o->bytes = t0->t->numel * (uint64_t)(warm_dtype_bits(o->dtype) / 8);
        p->x[(size_t)k * (size_t)p->n] = t0;
    }
    for (int i = 1; i < p->n; i++) {
        warm_status s = match_ckpt(p, &p->in[i], i, err);
        if (s) return s;
    }
    return p->has_base ? match_ckpt(p, &p->base, -1, err) : WARM_OK;
}

static warm_status plan_open(plan *p, const char *const *inputs, int n, const char *base, warm_error *err) {
    memset(p, 0, sizeof *p);
    p->in = calloc((size_t)n, sizeof *p->in);
    if (!p->in) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
    p->n = n;
    for (int i = 0; i < n; i++) {
        warm_status s = warm_ckpt_open(&p->in[i], inputs[i], err);
        if (s) return s;
    }
    if (base) {
        warm_status s = warm_ckpt_open(&p->base, base, err);
        if (s) return s;
        p->has_base = 1;
    }
    return WARM_OK;
}

/* ---------------------------------------------------------------------------------------------- configs */

/* Keys that differ between members of one WARM run without changing the function the weights compute. */
static int config_key_ignored(const char *k) {
    static const char *const exact[] = {"initializer_range", "_name_or_path", "transformers_version", "torch_dtype",
                                        "dtype", "use_cache", "_commit_hash", NULL};
    for (int i = 0; exact[i]; i++)
        if (strcmp(k, exact[i]) == 0) return 1;
    return strstr(k, "pdrop") || strstr(k, "dropout");
}

static const char *config_source(const warm_ckpt *c) {
    return warm_ckpt_meta(c, "warm.config") ? "warm.config metadata" : "config.json";
}

static warm_status compare_configs(const warm_ckpt *a, const warm_ckpt *b, warm_error *err) {
    const char *ta = warm_ckpt_config_text(a), *tb = warm_ckpt_config_text(b);
    if (!ta || !tb) return WARM_OK;
    cJSON *ja = cJSON_Parse(ta), *jb = cJSON_Parse(tb);
    warm_status s = WARM_OK;
    if (!cJSON_IsObject(ja)) s = warm_error_set(err, WARM_ERR_FORMAT, "%s: %s is not a JSON object", a->path,
                                                config_source(a));
    else if (!cJSON_IsObject(jb)) s = warm_error_set(err, WARM_ERR_FORMAT, "%s: %s is not a JSON object", b->path,
                                                     config_source(b));
    for (const cJSON *va = ja ? ja->child : NULL; va && !s; va = va->next) {
        if (!va->string || config_key_ignored(va->string)) continue;
        const cJSON *vb = cJSON_GetObjectItemCaseSensitive(jb, va->string);
        if (!vb || cJSON_Compare(va, vb, 1)) continue;
        char *pa = cJSON_PrintUnformatted(va), *pb = cJSON_PrintUnformatted(vb);
        s = warm_error_set(err, WARM_ERR_MISMATCH, "config key '%s' differs: %.100s in %s (%s) but %.100s in %s (%s)",
                           va->string, pa ? pa : "?", a->path, config_source(a), pb ? pb : "?", b->path,
                           config_source(b));
        free(pa);
        free(pb);
    }
    cJSON_Delete(ja);
    cJSON_Delete(jb);
    return s;
}

static warm_status check_configs(const plan *p, warm_error *err) {
    for (int i = 1; i < p->n; i++) {
        warm_status s = compare_configs(&p->in[0], &p->in[i], err);
        if (s) return s;
    }
    return p->has_base ? compare_configs(&p->in[0], &p->base, err) : WARM_OK;
}

/* ---------------------------------------------------------------------------------------------- coefficients */

typedef struct {
    double *c;        /* (n) */
    double div, scale;
} lin_coefs;

static warm_status linear_coefs(const plan *p, const warm_merge_opts *o, lin_coefs *lc, warm_error *err) {
    int n = p->n;
    lc->c = calloc((size_t)n + 1, sizeof *lc->c);
    if (!lc->c) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
    lc->div = 1.0;
    lc->scale = 1.0;
    switch (o->method) {
    case WARM_MERGE_UNIFORM:
        for (int i = 0; i < n; i++) lc->c[i] = 1.0;
        lc->div = (double)n;
        break;
    case WARM_MERGE_WEIGHTED:
        lc->div = 0.0;
        for (int i = 0; i < n; i++) {
            lc->c[i] = o->weights[i];
            lc->div += o->weights[i];
        }
        break;
    case WARM_MERGE_LERP:
    case WARM_MERGE_SLERP: /* slerp: the lerp fallback; per-tensor coefficients replace these */
        lc->c[0] = 1.0 - o->lambda;
        lc->c[1] = o->lambda;
        break;
    case WARM_MERGE_TASK_ARITHMETIC:
        for (int i = 0; i < n; i++) lc->c[i] = o->weights ? o->weights[i] : 1.0;
        lc->scale = o->scale;
        break;
    default: break; /* greedy/top: filled by the soup selection */
    }
    return WARM_OK;
}

/* Slerp coefficients of one tensor from Σu_a², Σu_b², Σu_a·u_b (see merge.h); returns 1 on lerp fallback.
 * Computed so that λ = 0 gives exactly (1, 0) and λ = 1 exactly (0, 1): sin(Ω)/sin(Ω) and ‖u‖/‖u‖ are 1. */
static int slerp_coefs(double aa, double bb, double ab, double lam, double c[2]) {
    double na = sqrt(aa), nb = sqrt(bb);
    double cosv = na > 0 && nb > 0 ? ab / (na * nb) : 1.0;
    if (!(na > 0 && nb > 0 && isfinite(cosv)) || fabs(cosv) > SLERP_PARALLEL) {
        c[0] = 1.0 - lam;
        c[1] = lam;
        return 1;
    }
    double om = acos(cosv), so = sin(om);
    double norm = (1.0 - lam) * na + lam * nb;
    c[0] = sin((1.0 - lam) * om) / so * norm / na;
    c[1] = sin(lam * om) / so * norm / nb;
    return 0;
}

static warm_status slerp_pass(plan *p, const warm_merge_opts *o, warm_merge_report *rep, warm_error *err) {
    int nsc;
    merge_scratch *sc = merge_scratch_alloc(1, &nsc);
    p->tc = calloc((size_t)p->nt * 2 + 1, sizeof *p->tc);
    if (!sc || !p->tc) {
        merge_scratch_free(sc, sc ? nsc : 0);
        return warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
    }
    for (int k = 0; k < p->nt; k++) {
        const warm_ckpt_tensor *a = p->x[(size_t)k * 2], *b = p->x[(size_t)k * 2 + 1];
        if (!merge_is_float(a->t->dtype)) continue;
        double aa, bb, ab;
        merge_dot3(a, b, p->b[k], &aa, &bb, &ab, sc);
        rep->n_slerp_fallback += slerp_coefs(aa, bb, ab, o->lambda, &p->tc[(size_t)k * 2]);
        rep->bytes_read += (uint64_t)(2 + (p->b[k] != NULL)) * (a->t->end - a->t->begin);
    }
    merge_scratch_free(sc, nsc);
    return WARM_OK;
}

/* ---------------------------------------------------------------------------------------------- metadata */

static cJSON *json_strings(const char *const *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
    return a;
}

static void json_soup(cJSON *o, const char *const *inputs, const warm_merge_report *rep) {
    cJSON *rank = cJSON_AddArrayToObject(o, "ranking");
    cJSON *steps = cJSON_AddArrayToObject(o, "soup");
    for (int k = 0; k < rep->n_inputs && rank && steps; k++) {
        cJSON *r = cJSON_CreateObject(), *st = cJSON_CreateObject();
        const char *in = inputs[rep->ranking[k].input];
        cJSON_AddStringToObject(r, "input", in);
        cJSON_AddNumberToObject(r, "acc", rep->ranking[k].acc);
        cJSON_AddItemToArray(rank, r);
        cJSON_AddStringToObject(st, "input", in);
        if (!isnan(rep->step_acc[k])) cJSON_AddNumberToObject(st, "candidate_acc", rep->step_acc[k]);
        cJSON_AddBoolToObject(st, "in_soup", rep->accepted[k]);
        cJSON_AddItemToArray(steps, st);
    }
    cJSON_AddNumberToObject(o, "soup_acc", rep->soup_acc);
    cJSON_AddStringToObject(o, "acc_rule", "acc_ge (ties count as correct)");
}

/* The "warm.merge" metadata value (malloc'd JSON), or NULL when out of memory. */
static char *merge_json(const char *const *inputs, int n, const warm_merge_opts *o, const warm_merge_report *rep) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddStringToObject(j, "method", warm_merge_method_name(o->method));
    cJSON_AddItemToObject(j, "inputs", json_strings(inputs, n));
    if (o->method != WARM_MERGE_SLERP) {
        cJSON *c = cJSON_AddArrayToObject(j, "coefficients");
        for (int i = 0; c && i < n; i++) cJSON_AddItemToArray(c, cJSON_CreateNumber(rep->coef[i]));
    }
    if (o->weights) {
        cJSON *w = cJSON_AddArrayToObject(j, "weights");
        for (int i = 0; w && i < o->n_weights; i++) cJSON_AddItemToArray(w, cJSON_CreateNumber(o->weights[i]));
    }
    if (o->method == WARM_MERGE_LERP || o->method == WARM_MERGE_SLERP)
        cJSON_AddNumberToObject(j, "lambda", o->lambda);
    if (o->method == WARM_MERGE_SLERP) cJSON_AddNumberToObject(j, "slerp_lerp_fallbacks", rep->n_slerp_fallback);
    if (o->method == WARM_MERGE_TASK_ARITHMETIC) cJSON_AddNumberToObject(j, "scale", o->scale);
    if (o->base) cJSON_AddStringToObject(j, "base", o->base);
    if (o->method == WARM_MERGE_TOP) cJSON_AddNumberToObject(j, "m", o->top_m);
    if (o->method == WARM_MERGE_GREEDY || o->method == WARM_MERGE_TOP) json_soup(j, inputs, rep);
    cJSON_AddStringToObject(j, "dtype",
                            o->out_dtype < 0 ? "input (per tensor)" : warm_dtype_name((warm_dtype)o->out_dtype));
    cJSON_AddStringToObject(j, "accumulate", "f64, one rounding to the output dtype");
    cJSON_AddStringToObject(j, "version", WARM_VERSION);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

/* ---------------------------------------------------------------------------------------------- streaming */

typedef struct {
    plan *p;
    const warm_merge_opts *o;
    lin_coefs lc;
    merge_scratch *sc;
    int n_sc;
    merge_pipe *pipe;       /* output blocks and the writer thread */
    uint64_t block_elems;
    warm_progress prog;
    int64_t blocks_done;
    warm_merge_report *rep;
    /* over ranks (stream_ranks): the writer receives the earlier inputs' sums of every block from rank 1 */
    warm_dist *dist;
    int recv_sums;          /* 1: some earlier input has a non-zero coefficient, so its sums arrive */
    double *acc_in;         /* (block_elems) the sums received for the current block */
    int64_t blocks_recv;
} run_ctx;

static void release_all(const merge_lin *L, uint64_t first, uint64_t cnt, int prefetch) {
    for (int i = 0; i < L->n; i++) {
        if (L->c[i] == 0.0) continue;
        if (prefetch) merge_pages_prefetch(L->x[i], first, cnt);
        else merge_pages_release(L->x[i], first, cnt);
    }
    if (L->base) {
        if (prefetch) merge_pages_prefetch(L->base, first, cnt);
        else merge_pages_release(L->base, first, cnt);
    }
}

static warm_status produce_raw(run_ctx *r, int k, warm_st_writer *w, int wi, warm_error *err) {
    const warm_ckpt_tensor *t0 = r->p->x[(size_t)k * (size_t)r->p->n];
    warm_status s = warm_st_writer_put_raw(w, wi, t0->t->data, err);
    for (int i = 0; i < r->p->n; i++) merge_pages_release(r->p->x[(size_t)k * (size_t)r->p->n + (size_t)i], 0,
                                                          t0->t->numel);
    r->rep->n_copied++;
    r->rep->bytes_read += (uint64_t)r->p->n * (t0->t->end - t0->t->begin);
    r->rep->bytes_written += t0->t->end - t0->t->begin;
    return s;
}

static warm_status produce(void *vctx, int k, warm_st_writer *w, int wi, warm_error *err) {
    run_ctx *r = vctx;
    plan *p = r->p;
    const warm_ckpt_tensor *const *x = &p->x[(size_t)k * (size_t)p->n];
    if (!merge_is_float(x[0]->t->dtype)) return produce_raw(r, k, w, wi, err);
    int slerp = r->o->method == WARM_MERGE_SLERP;
    merge_lin L = {.n = p->n, .x = x, .c = slerp ? &p->tc[(size_t)k * 2] : r->lc.c, .base = p->b[k],
                   .div = slerp ? 1.0 : r->lc.div, .scale = slerp ? 1.0 : r->lc.scale, .round = p->out[k].dtype,
                   .through = 0};
    uint64_t numel = x[0]->t->numel;
    for (uint64_t first = 0; first < numel; first += r->block_elems) {
        uint64_t cnt = numel - first < r->block_elems ? numel - first : r->block_elems;
        uint64_t next = first + cnt;
        if (next < numel) release_all(&L, next, numel - next < r->block_elems ? numel - next : r->block_elems, 1);
        if (r->recv_sums) {
            warm_status s = warm_dist_recv_f64(r->dist, r->acc_in, cnt, 1, 0, err);
            if (s) return s;
            r->blocks_recv++;
            L.acc_in = r->acc_in;
        }
        merge_lin_block(&L, first, cnt, merge_pipe_buffer(r->pipe), r->sc, r->n_sc);
        release_all(&L, first, cnt, 0);
        warm_status s = merge_pipe_submit(r->pipe, w, wi, first, cnt, err);
        if (s) return s;
        warm_progress_update(&r->prog, ++r->blocks_done);
    }
    warm_status s = merge_pipe_drain(r->pipe, err); /* the writer is the caller's again (commit follows) */
    if (s) return s;
    for (int i = 0; i < p->n; i++)
        if (L.c[i] != 0.0) r->rep->bytes_read += x[i]->t->end - x[i]->t->begin;
    if (L.base) r->rep->bytes_read += L.base->t->end - L.base->t->begin;
    r->rep->bytes_written += p->out[k].bytes;
    r->rep->n_averaged++;
    return WARM_OK;
}

static int64_t count_blocks(const plan *p, uint64_t be) {
    int64_t nb = 0;
    for (int k = 0; k < p->nt; k++)
        if (merge_is_float(p->out[k].dtype)) nb += (int64_t)((p->x[(size_t)k * (size_t)p->n]->t->numel + be - 1) / be);
    return nb;
}

/* Metadata pairs: warm.config and warm.pooling of the first input, then warm.merge. A first input without
 * "warm.config" but with a GPT-2 config.json (an HF directory) lends that text, so a single-file output
 * keeps its config too. */
static int build_meta(const plan *p, char *merge_js, const char **mk, const char **mv) {
    int nm = 0;
    static const char *const carried[] = {"warm.config", "warm.pooling"};
    for (int i = 0; i < 2; i++) {
        const char *v = warm_ckpt_meta(&p->in[0], carried[i]);
        if (v) {
            mk[nm] = carried[i];
            mv[nm++] = v;
        }
    }
    warm_config cfg;
    if (!warm_ckpt_meta(&p->in[0], "warm.config") && p->in[0].config_json &&
        warm_config_from_json(&cfg, p->in[0].config_json, NULL) == WARM_OK) {
        mk[nm] = "warm.config";
        mv[nm++] = p->in[0].config_json;
    }
    mk[nm] = "warm.merge";
    mv[nm++] = merge_js;
    return nm;
}

static void drain_sums(run_ctx *r, int64_t total);

/* Elements per streaming block: the same on every rank (it depends on the coefficients, not on who reads). */
static uint64_t block_elems_of(const plan *p, const warm_merge_opts *o, const lin_coefs *lc) {
    int n_read = p->has_base;
    for (int i = 0; i < p->n; i++) n_read += o->method == WARM_MERGE_SLERP || lc->c[i] != 0.0;
    return o->block_elems ? o->block_elems : merge_block_elems(n_read);
}

static warm_status stream_out(plan *p, const char *const *inputs, const char *out, const warm_merge_opts *o,
                              lin_coefs *lc, warm_merge_report *rep, run_ctx *ranks, warm_error *err) {
    run_ctx r;
    memset(&r, 0, sizeof r);
    if (ranks) r = *ranks;
    r.p = p;
    r.o = o;
    r.lc = *lc;
    r.rep = rep;
    r.block_elems = block_elems_of(p, o, lc);
    r.sc = merge_scratch_alloc(o->threads, &r.n_sc);
    char *js = merge_json(inputs, p->n, o, rep);
    warm_status s = WARM_OK;
    if (!r.sc || !js || (r.recv_sums && !(r.acc_in = malloc(r.block_elems * sizeof *r.acc_in))))
        s = warm_error_set(err, WARM_ERR_NOMEM, "out of memory for the merge buffers");
    if (!s) s = merge_pipe_start(&r.pipe, r.block_elems, err);
    if (!s) {
        const char *mk[4], *mv[4];
        int nm = build_meta(p, js, mk, mv);
        const char *cfg = p->in[0].config_json ? p->in[0].config_json : warm_ckpt_meta(&p->in[0], "warm.config");
        warm_progress_init(&r.prog, o->progress, "merge", count_blocks(p, r.block_elems));
        s = merge_write_output(out, p->out, p->nt, o->shard_size, mk, mv, nm, cfg, NULL, 0, produce, &r, &rep->n_shards,
                               err);
        if (!s) warm_progress_finish(&r.prog);
        else warm_progress_clear(&r.prog);
    }
    /* A writer that failed still takes every block rank 1 sends, or rank 1 would wait for it forever. */
    if (s && r.recv_sums && r.acc_in) drain_sums(&r, count_blocks(p, r.block_elems));
    free(js);
    free(r.acc_in);
    merge_pipe_stop(r.pipe);
    merge_scratch_free(r.sc, r.n_sc);
    return s;
}

/* ---------------------------------------------------------------------------------------------- over ranks */

/* Receives (and drops) the blocks not received yet, in their order, up to total. */
static void drain_sums(run_ctx *r, int64_t total) {
    int64_t b = 0;
    for (int k = 0; k < r->p->nt && r->blocks_recv < total; k++) {
        if (!merge_is_float(r->p->out[k].dtype)) continue;
        uint64_t numel = r->p->x[(size_t)k * (size_t)r->p->n]->t->numel;
        for (uint64_t first = 0; first < numel && r->blocks_recv < total; first += r->block_elems, b++) {
            if (b < r->blocks_recv) continue;
            uint64_t cnt = numel - first < r->block_elems ? numel - first : r->block_elems;
            warm_error ignore;
            warm_dist_recv_f64(r->dist, r->acc_in, cnt, 1, 0, &ignore);
            r->blocks_recv++;
        }
    }
}

/* A rank between the first and the writer: for every block, the sums of the inputs before its own (from the
 * next rank), plus its own inputs, to the previous rank. */
static warm_status relay_sums(plan *p, const warm_merge_opts *o, const lin_coefs *lc, const double *mine,
                              int recv_sums, warm_error *err) {
    warm_dist *d = o->dist;
    int me = warm_dist_rank(d);
    uint64_t be = block_elems_of(p, o, lc);
    int n_sc;
    merge_scratch *sc = merge_scratch_alloc(o->threads, &n_sc);
    double *in = recv_sums ? malloc(be * sizeof *in) : NULL, *sums = malloc(be * sizeof *sums);
    warm_status s = sc && sums && (in || !recv_sums) ? WARM_OK
                                                     : warm_error_set(err, WARM_ERR_NOMEM, "out of memory for the merge");
    for (int k = 0; !s && k < p->nt; k++) {
        const warm_ckpt_tensor *const *x = &p->x[(size_t)k * (size_t)p->n];
        if (!merge_is_float(x[0]->t->dtype)) continue;
        merge_lin L = {.n = p->n, .x = x, .c = mine, .base = NULL, .div = lc->div, .scale = lc->scale,
                       .round = p->out[k].dtype, .acc_in = in, .acc_out = sums};
        uint64_t numel = x[0]->t->numel;
        for (uint64_t first = 0; !s && first < numel; first += be) {
            uint64_t cnt = numel - first < be ? numel - first : be;
            if (recv_sums) s = warm_dist_recv_f64(d, in, cnt, me + 1, 0, err);
            if (s) break;
            merge_lin_block(&L, first, cnt, NULL, sc, n_sc);
            release_all(&L, first, cnt, 0);
            s = warm_dist_send_f64(d, sums, cnt, me - 1, 0, err);
        }
    }
    free(in);
    free(sums);
    merge_scratch_free(sc, sc ? n_sc : 0);
    return s;
}

/*
 * The merge over ranks (merge.h, "Over ranks"): working rank r < R' = min(R, n) holds inputs [lo, hi) of the
 * (R'-1-r)-th run; its coefficients are the method's on those inputs and 0 elsewhere (inputs with coefficient
 * 0 are never read). Sums travel from rank R'-1 down to rank 0, which writes; a rank sends only when some
 * input up to its own has a non-zero coefficient, and receives only when one before its own has.
 */
static warm_status stream_ranks(plan *p, const char *const *inputs, const char *out, const warm_merge_opts *o,
                                lin_coefs *lc, warm_merge_report *rep, warm_error *err) {
    int R = warm_dist_size(o->dist), me = warm_dist_rank(o->dist), n = p->n, Ra = R < n ? R : n;
    int b = me < Ra ? Ra - 1 - me : -1, lo = b >= 0 ? b * n / Ra : 0, hi = b >= 0 ? (b + 1) * n / Ra : 0;
    double *mine = calloc((size_t)n, sizeof *mine);
    if (!mine) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
    int before = 0, upto = 0;
    for (int i = 0; i < n; i++) {
        if (i >= lo && i < hi) mine[i] = lc->c[i];
        before |= i < lo && lc->c[i] != 0.0;
        upto |= i < hi && lc->c[i] != 0.0;
    }
    warm_status s = WARM_OK;
    if (me == 0) {
        run_ctx rk;
        memset(&rk, 0, sizeof rk);
        rk.dist = o->dist;
        rk.recv_sums = before;
        lin_coefs local = *lc;
        local.c = mine;
        s = stream_out(p, inputs, out, o, &local, rep, &rk, err);
    } else if (b >= 0 && upto) {
        s = relay_sums(p, o, lc, mine, before, err);
    }
    free(mine);
    return s;
}

/* ---------------------------------------------------------------------------------------------- entry */

static warm_status report_init(warm_merge_report *rep, int n, int soup) {
    memset(rep, 0, sizeof *rep);
    rep->n_inputs = n;
    rep->soup_acc = NAN;
    rep->coef = calloc((size_t)n, sizeof *rep->coef);
    if (soup) {
        rep->ranking = calloc((size_t)n, sizeof *rep->ranking);
        rep->step_acc = calloc((size_t)n, sizeof *rep->step_acc);
        rep->accepted = calloc((size_t)n, sizeof *rep->accepted);
    }
    return rep->coef && (!soup || (rep->ranking && rep->step_acc && rep->accepted)) ? WARM_OK : WARM_ERR_NOMEM;
}

static warm_status run(plan *p, const char *const *inputs, const char *out, const warm_merge_opts *o,
                       warm_merge_report *rep, warm_error *err) {
    int soup = o->method == WARM_MERGE_GREEDY || o->method == WARM_MERGE_TOP;
    if (report_init(rep, p->n, soup)) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < p->n; i++) rep->n_skipped += p->in[i].n_skipped;
    lin_coefs lc = {NULL, 1.0, 1.0};
    warm_status s = linear_coefs(p, o, &lc, err);
    if (!s && soup) {
        warm_dtype rt = o->out_dtype >= 0 ? (warm_dtype)o->out_dtype : WARM_DTYPE_F32;
        if (o->out_dtype < 0 && p->nt > 0 && merge_is_float(p->out[0].dtype)) rt = p->out[0].dtype;
        s = merge_soup_select(p->in, p->n, o, rt, lc.c, rep, err);
        lc.div = 0;
        for (int i = 0; i < p->n; i++) lc.div += lc.c[i];
    }
    if (!s && o->method == WARM_MERGE_SLERP) s = slerp_pass(p, o, rep, err);
    for (int i = 0; i < p->n && !s; i++)
        rep->coef[i] = o->method == WARM_MERGE_SLERP ? (double)NAN : lc.c[i] / lc.div * lc.scale;
    if (!s && warm_dist_size(o->dist) > 1) s = stream_ranks(p, inputs, out, o, &lc, rep, err);
    else if (!s) s = stream_out(p, inputs, out, o, &lc, rep, NULL, err);
    free(lc.c);
    return s;
}

warm_status warm_merge(const char *const *inputs, int n, const char *out, const warm_merge_opts *o,
                       warm_merge_report *rep, warm_error *err) {
    double t0 = warm_time_now();
    warm_merge_opts def = warm_merge_opts_default();
    if (!o) o = &def;
    /* Over ranks every rank makes the same checks and plan; each phase ends with every rank's verdict. */
    warm_status s = warm_dist_agree(o->dist, check_opts(inputs, n, out, o, err), err);
    if (s) return s;
    plan p;
    s = plan_open(&p, inputs, n, o->base, err);
    if (!s) s = plan_tensors(&p, o->out_dtype, err);
    if (!s && o->check_config) s = check_configs(&p, err);
    s = warm_dist_agree(o->dist, s, err);
    warm_merge_report local;
    warm_merge_report *r = rep ? rep : &local;
    memset(r, 0, sizeof *r);
    if (!s) s = warm_dist_agree(o->dist, run(&p, inputs, out, o, r, err), err);
    plan_free(&p);
    if (s || !rep) warm_merge_report_free(r);
    if (!s && rep) rep->seconds = warm_time_now() - t0;
    return s;
}
