/*
 * report_load.c — parses a demo run directory into an rp_run (report_internal.h).
 *
 * Files are untrusted: each is read whole, parsed by cJSON with nothing allowed after the value, checked for
 * duplicate keys at every level, and every key the report uses is type-checked. An error names the file (as
 * "<dir>/<relative path>") and the key path ("subsets[1].wa_acc_ge"). A file that does not exist (ENOENT) is
 * recorded in r->missing and leaves its struct with present = 0; any other failure to read it is an error.
 * Optional keys may be absent or null; a present key of the wrong type is always an error.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report/report_internal.h"

struct rp_blk {
    rp_blk *next;
    max_align_t data[]; /* the allocation itself, aligned for any type */
};

void *rp_new(rp_run *r, size_t bytes) {
    rp_blk *b = calloc(1, sizeof *b + bytes);
    if (!b) return NULL;
    b->next = r->pool;
    r->pool = b;
    return b->data;
}

void rp_run_free(rp_run *r) {
    for (rp_blk *b = r->pool, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    r->pool = NULL;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Typed getters: errors read "<file>: <at>.<key>: <what>"                                              */

typedef struct {
    rp_run *r;
    char file[1200]; /* display name: "<dir>/<rel>" */
} rp_ctx;

static warm_status fail(const rp_ctx *c, warm_error *err, const char *at, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static warm_status fail(const rp_ctx *c, warm_error *err, const char *at, const char *key, const char *fmt, ...) {
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *dot = at[0] && key[0] ? "." : "";
    return warm_error_set(err, WARM_ERR_FORMAT, "%s: %s%s%s: %s", c->file, at, dot, key, what);
}

static warm_status nomem(const rp_ctx *c, warm_error *err) {
    return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", c->file);
}

/* The value of key, NULL when absent or JSON null. */
static const cJSON *get(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

static warm_status get_num(const rp_ctx *c, const cJSON *o, const char *at, const char *key, int req, double *out,
                           warm_error *err) {
    const cJSON *v = get(o, key);
    *out = NAN;
    if (!v) return req ? fail(c, err, at, key, "missing (expected a number)") : WARM_OK;
    if (!cJSON_IsNumber(v)) return fail(c, err, at, key, "expected a number");
    *out = v->valuedouble;
    return WARM_OK;
}

static warm_status get_str(const rp_ctx *c, const cJSON *o, const char *at, const char *key, int req,
                           const char **out, warm_error *err) {
    const cJSON *v = get(o, key);
    *out = NULL;
    if (!v) return req ? fail(c, err, at, key, "missing (expected a string)") : WARM_OK;
    if (!cJSON_IsString(v)) return fail(c, err, at, key, "expected a string");
    size_t n = strlen(v->valuestring) + 1;
    char *s = rp_new(c->r, n);
    if (!s) return nomem(c, err);
    memcpy(s, v->valuestring, n);
    *out = s;
    return WARM_OK;
}

/* An array (required); *n its length. */
static warm_status get_arr(const rp_ctx *c, const cJSON *o, const char *at, const char *key, int req,
                           const cJSON **out, int *n, warm_error *err) {
    const cJSON *v = get(o, key);
    *out = NULL;
    *n = 0;
    if (!v) return req ? fail(c, err, at, key, "missing (expected an array)") : WARM_OK;
    if (!cJSON_IsArray(v)) return fail(c, err, at, key, "expected an array");
    *out = v;
    *n = cJSON_GetArraySize(v);
    return WARM_OK;
}

/* An array of exactly n numbers into a fresh (n) buffer. */
static warm_status get_nums(const rp_ctx *c, const cJSON *o, const char *at, const char *key, int n, double **out,
                            warm_error *err) {
    const cJSON *v = get(o, key);
    if (!v || !cJSON_IsArray(v) || cJSON_GetArraySize(v) != n)
        return fail(c, err, at, key, "expected an array of %d numbers", n);
    double *x = rp_new(c->r, (size_t)n * sizeof *x);
    if (!x) return nomem(c, err);
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e)) return fail(c, err, at, key, "expected an array of %d numbers", n);
        x[i] = e->valuedouble;
    }
    *out = x;
    return WARM_OK;
}

static int is_obj(const cJSON *v) { return v && cJSON_IsObject(v); }

/* ---------------------------------------------------------------------------------------------------- */
/* Files                                                                                                 */

/* First duplicate key anywhere in v (its name), or NULL. */
static const char *dup_key(const cJSON *v) {
    for (const cJSON *a = v->child; a; a = a->next) {
        if (cJSON_IsObject(v))
            for (const cJSON *b = a->next; b; b = b->next)
                if (a->string && b->string && strcmp(a->string, b->string) == 0) return a->string;
        const char *d = dup_key(a);
        if (d) return d;
    }
    return NULL;
}

static void add_missing(rp_run *r, const char *rel, const char *what) {
    if (rp_is_missing(r, rel) || r->n_missing >= (int)(sizeof r->missing / sizeof r->missing[0])) return;
    r->missing[r->n_missing].rel = rel;
    r->missing[r->n_missing].what = what;
    r->n_missing++;
}

/*
 * Loads DIR/rel as a JSON object into *root (caller deletes). *root stays NULL when the file does not exist
 * (recorded as missing, for `what`). c->file receives the display name.
 */
static warm_status load(rp_ctx *c, const char *rel, const char *what, cJSON **root, warm_error *err) {
    *root = NULL;
    if (rel[0] == '/') snprintf(c->file, sizeof c->file, "%s", rel);
    else snprintf(c->file, sizeof c->file, "%s/%s", c->r->dir, rel);
    struct stat st;
    if (stat(c->file, &st) != 0) {
        if (errno != ENOENT)
            return warm_error_set(err, WARM_ERR_IO, "%s: cannot open: %s", c->file, strerror(errno));
        add_missing(c->r, rel, what);
        return WARM_OK;
    }
    if (!S_ISREG(st.st_mode)) return warm_error_set(err, WARM_ERR_IO, "%s: not a regular file", c->file);
    size_t size = 0;
    char *text = warm_read_file(c->file, &size, err);
    if (!text) return err ? err->code : WARM_ERR_IO;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, size + 1, &end, 1);
    warm_status s = WARM_OK;
    if (!j) {
        ptrdiff_t at = end ? end - text : 0;
        s = warm_error_set(err, WARM_ERR_FORMAT, "%s: invalid JSON near byte %td", c->file, at);
    } else if (!cJSON_IsObject(j)) {
        s = warm_error_set(err, WARM_ERR_FORMAT, "%s: expected a JSON object", c->file);
    } else {
        const char *d = dup_key(j);
        if (d) s = warm_error_set(err, WARM_ERR_FORMAT, "%s: duplicate key \"%s\"", c->file, d);
    }
    free(text);
    if (s != WARM_OK) {
        cJSON_Delete(j);
        return s;
    }
    *root = j;
    return WARM_OK;
}

/* ---------------------------------------------------------------------------------------------------- */
/* run.json                                                                                              */

static warm_status parse_run(rp_ctx *c, const cJSON *j, warm_error *err) {
    rp_run *r = c->r;
    warm_status s = get_str(c, j, "", "scale", 0, &r->scale, err);
    if (!s) s = get_num(c, j, "", "seed", 0, &r->seed, err);
    if (!s) s = get_str(c, j, "", "warm_version", 0, &r->version, err);
    if (!s) s = get_str(c, j, "", "started", 0, &r->started, err);
    if (!s) s = get_str(c, j, "", "finished", 0, &r->finished, err);
    r->cores = r->threads = NAN;
    const cJSON *m = get(j, "machine");
    if (!s && m && !cJSON_IsObject(m)) s = fail(c, err, "", "machine", "expected an object");
    if (!s && m) s = get_str(c, m, "machine", "cpu", 0, &r->cpu, err);
    if (!s && m) s = get_str(c, m, "machine", "os", 0, &r->os, err);
    if (!s && m) s = get_num(c, m, "machine", "cores", 0, &r->cores, err);
    if (!s && m) s = get_num(c, m, "machine", "threads", 0, &r->threads, err);
    const cJSON *a = NULL;
    if (!s) s = get_arr(c, j, "", "stages", 0, &a, &r->n_stages, err);
    if (!s && r->n_stages && !(r->stages = rp_new(r, (size_t)r->n_stages * sizeof *r->stages))) s = nomem(c, err);
    int i = 0;
    for (const cJSON *e = a ? a->child : NULL; !s && e; e = e->next, i++) {
        char at[32];
        snprintf(at, sizeof at, "stages[%d]", i);
        if (!is_obj(e)) return fail(c, err, at, "", "expected an object");
        s = get_str(c, e, at, "name", 1, &r->stages[i].name, err);
        if (!s) s = get_str(c, e, at, "status", 0, &r->stages[i].status, err);
        if (!s) s = get_num(c, e, at, "seconds", 0, &r->stages[i].seconds, err);
    }
    return s;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Result files                                                                                         */

static warm_status parse_lmc(rp_ctx *c, const cJSON *j, rp_lmc_pair *p, warm_error *err) {
    double grid;
    warm_status s = get_num(c, j, "", "grid", 1, &grid, err);
    if (s) return s;
    if (!(grid >= 2 && grid <= 1001 && grid == floor(grid))) return fail(c, err, "", "grid", "expected 2..1001");
    p->grid = (int)grid;
    s = get_nums(c, j, "", "lambda", p->grid, &p->lambda, err);
    p->mid = -1;
    for (int i = 0; !s && i < p->grid; i++)
        if (fabs(p->lambda[i] - 0.5) < 1e-9) p->mid = i;
    const cJSON *a = NULL;
    if (!s) s = get_arr(c, j, "", "subsets", 1, &a, &p->n_subs, err);
    if (!s && p->n_subs && !(p->subs = rp_new(c->r, (size_t)p->n_subs * sizeof *p->subs))) s = nomem(c, err);
    int i = 0;
    for (const cJSON *e = a ? a->child : NULL; !s && e; e = e->next, i++) {
        char at[32];
        snprintf(at, sizeof at, "subsets[%d]", i);
        rp_lmc_subset *q = &p->subs[i];
        if (!is_obj(e)) return fail(c, err, at, "", "expected an object");
        s = get_str(c, e, at, "name", 1, &q->name, err);
        if (!s) s = get_num(c, e, at, "n", 1, &q->n, err);
        if (!s && !(q->n >= 1)) s = fail(c, err, at, "n", "expected a positive number of pairs");
        if (!s) s = get_nums(c, e, at, "wa_acc_ge", p->grid, &q->wa, err);
        if (!s) s = get_nums(c, e, at, "ens_acc_ge", p->grid, &q->ens, err);
        if (!s) s = get_nums(c, e, at, "diag_acc_ge", p->grid, &q->diag, err);
    }
    if (!s) p->present = 1;
    return s;
}

static warm_status parse_eval(rp_ctx *c, const cJSON *j, rp_eval *e, warm_error *err) {
    rp_run *r = c->r;
    const cJSON *ms = NULL, *ss = NULL, *rs = NULL;
    int n_res = 0;
    warm_status s = get_arr(c, j, "", "models", 1, &ms, &e->n_models, err);
    if (!s) s = get_arr(c, j, "", "subsets", 1, &ss, &e->n_subs, err);
    if (!s) s = get_arr(c, j, "", "results", 1, &rs, &n_res, err);
    if (s) return s;
    const cJSON *en = get(j, "ensemble");
    if (en && !cJSON_IsObject(en)) return fail(c, err, "", "ensemble", "expected an object or null");
    if (en && (s = get_str(c, en, "ensemble", "name", 1, &e->ens, err))) return s;
    e->models = rp_new(r, (size_t)(e->n_models + 1) * sizeof *e->models);
    e->subs = rp_new(r, (size_t)(e->n_subs + 1) * sizeof *e->subs);
    e->sub_n = rp_new(r, (size_t)(e->n_subs + 1) * sizeof *e->sub_n);
    e->acc = rp_new(r, (size_t)(e->n_models + 1) * (size_t)(e->n_subs + 1) * sizeof *e->acc);
    if (!e->models || !e->subs || !e->sub_n || !e->acc) return nomem(c, err);
    int i = 0;
    for (const cJSON *m = ms->child; !s && m; m = m->next, i++) {
        char at[32];
        snprintf(at, sizeof at, "models[%d]", i);
        if (!is_obj(m)) return fail(c, err, at, "", "expected an object");
        s = get_str(c, m, at, "name", 1, &e->models[i], err);
    }
    i = 0;
    for (const cJSON *q = ss->child; !s && q; q = q->next, i++) {
        char at[32];
        snprintf(at, sizeof at, "subsets[%d]", i);
        if (!is_obj(q)) return fail(c, err, at, "", "expected an object");
        s = get_str(c, q, at, "name", 1, &e->subs[i], err);
        if (!s) s = get_num(c, q, at, "n", 1, &e->sub_n[i], err);
    }
    for (int k = 0; k < (e->n_models + 1) * e->n_subs; k++) e->acc[k] = NAN;
    i = 0;
    for (const cJSON *x = rs->child; !s && x; x = x->next, i++) {
        char at[32];
        snprintf(at, sizeof at, "results[%d]", i);
        const char *model, *sub;
        double acc;
        if (!is_obj(x)) return fail(c, err, at, "", "expected an object");
        s = get_str(c, x, at, "model", 1, &model, err);
        if (!s) s = get_str(c, x, at, "subset", 1, &sub, err);
        if (!s) s = get_num(c, x, at, "acc_ge", 1, &acc, err);
        if (s) break;
        int mi = rp_eval_model(e, model), si = rp_eval_sub(e, sub);
        if (mi < 0) return fail(c, err, at, "model", "\"%s\" is not in models[] nor the ensemble", model);
        if (si < 0) return fail(c, err, at, "subset", "\"%s\" is not in subsets[]", sub);
        e->acc[mi * e->n_subs + si] = acc;
    }
    if (!s) e->present = 1;
    return s;
}

static warm_status parse_bon(rp_ctx *c, const cJSON *j, rp_bon *b, warm_error *err) {
    const cJSON *ss = NULL;
    warm_status s = get_str(c, j, "", "ref", 1, &b->ref, err);
    if (!s) s = get_num(c, j, "", "sft_control_mean", 0, &b->sft_control, err);
    if (!s) s = get_arr(c, j, "", "selectors", 1, &ss, &b->n_sel, err);
    if (s) return s;
    if (b->n_sel < 1) return fail(c, err, "", "selectors", "expected at least one selector");
    if (!(b->sel = rp_new(c->r, (size_t)b->n_sel * sizeof *b->sel))) return nomem(c, err);
    int i = 0;
    for (const cJSON *e = ss->child; !s && e; e = e->next, i++) {
        char at[48];
        snprintf(at, sizeof at, "selectors[%d]", i);
        rp_bon_sel *q = &b->sel[i];
        const cJSON *ps = NULL;
        int np = 0;
        if (!is_obj(e)) return fail(c, err, at, "", "expected an object");
        s = get_str(c, e, at, "name", 1, &q->name, err);
        if (!s) s = get_arr(c, e, at, "points", 1, &ps, &np, err);
        if (s) break;
        if (i == 0) {
            if (np < 1) return fail(c, err, at, "points", "expected at least one point");
            b->n_points = np;
            b->n = rp_new(c->r, (size_t)np * sizeof *b->n);
            b->kl = rp_new(c->r, (size_t)np * sizeof *b->kl);
        } else if (np != b->n_points) {
            return fail(c, err, at, "points", "expected %d points (as selectors[0])", b->n_points);
        }
        q->control = rp_new(c->r, (size_t)np * sizeof *q->control);
        q->win_sft = rp_new(c->r, (size_t)np * sizeof *q->win_sft);
        q->win_ref = rp_new(c->r, (size_t)np * sizeof *q->win_ref);
        if (!b->n || !b->kl || !q->control || !q->win_sft || !q->win_ref) return nomem(c, err);
        int k = 0;
        for (const cJSON *p = ps->child; !s && p; p = p->next, k++) {
            char pat[80];
            double n, kl;
            snprintf(pat, sizeof pat, "%s.points[%d]", at, k);
            if (!is_obj(p)) return fail(c, err, pat, "", "expected an object");
            s = get_num(c, p, pat, "n", 1, &n, err);
            if (!s) s = get_num(c, p, pat, "kl", 0, &kl, err);
            if (!s) s = get_num(c, p, pat, "control_mean", 1, &q->control[k], err);
            if (!s) s = get_num(c, p, pat, "winrate_vs_sft", 1, &q->win_sft[k], err);
            if (!s) s = get_num(c, p, pat, "winrate_vs_ref", 1, &q->win_ref[k], err);
            if (s) break;
            if (!(n >= 1 && n == floor(n))) return fail(c, err, pat, "n", "expected an integer >= 1");
            if (i == 0) {
                if (k > 0 && !(n > b->n[k - 1])) return fail(c, err, pat, "n", "expected an increasing n ladder");
                b->n[k] = n;
                b->kl[k] = kl;
            } else if (n != b->n[k]) {
                return fail(c, err, pat, "n", "expected %.0f (as selectors[0])", b->n[k]);
            }
        }
    }
    if (!s) b->present = 1;
    return s;
}

static warm_status parse_toy(rp_ctx *c, const cJSON *j, warm_error *err) {
    rp_run *r = c->r;
    const cJSON *h = get(j, "holds");
    if (!h || !cJSON_IsBool(h)) return fail(c, err, "", "holds", "expected true or false");
    r->toy_holds = cJSON_IsTrue(h);
    warm_status s = get_num(c, j, "", "max_abs_z", 0, &r->toy_max_z, err);
    const cJSON *cfg = get(j, "config");
    double m = NAN, l = NAN;
    if (!s && cfg && !cJSON_IsObject(cfg)) s = fail(c, err, "", "config", "expected an object");
    if (!s && cfg) s = get_num(c, cfg, "config", "M", 0, &m, err);
    /* `warm toy` writes "layers"; "L" is accepted as well. */
    if (!s && cfg) s = get_num(c, cfg, "config", get(cfg, "layers") ? "layers" : "L", 0, &l, err);
    r->toy_m = isnan(m) ? 0 : (int)m;
    r->toy_l = isnan(l) ? 0 : (int)l;
    const cJSON *a = NULL;
    if (!s) s = get_arr(c, j, "", "features", 0, &a, &r->n_toy, err);
    if (!s && r->n_toy && !(r->toy = rp_new(r, (size_t)r->n_toy * sizeof *r->toy))) s = nomem(c, err);
    int i = 0;
    for (const cJSON *e = a ? a->child : NULL; !s && e; e = e->next, i++) {
        char at[32];
        snprintf(at, sizeof at, "features[%d]", i);
        rp_toy_feature *f = &r->toy[i];
        if (!is_obj(e)) return fail(c, err, at, "", "expected an object");
        s = get_num(c, e, at, "p", 1, &f->p, err);
        if (!s) s = get_num(c, e, at, "theory_ens", 0, &f->theory_ens, err);
        if (!s) s = get_num(c, e, at, "theory_wa_M", 0, &f->theory_wa_m, err);
        if (!s) s = get_num(c, e, at, "theory_wa_inf", 0, &f->theory_wa_inf, err);
        if (!s) s = get_num(c, e, at, "mc_ens", 0, &f->mc_ens, err);
        if (!s) s = get_num(c, e, at, "mc_wa", 0, &f->mc_wa, err);
    }
    if (!s) r->toy_present = 1;
    return s;
}

static warm_status parse_stats(rp_ctx *c, const cJSON *j, warm_error *err) {
    static const char *names[4] = {"train", "val", "ood", "ood_val"};
    rp_run *r = c->r;
    const cJSON *sp = get(j, "splits");
    if (sp && !cJSON_IsObject(sp)) return fail(c, err, "", "splits", "expected an object");
    warm_status s = WARM_OK;
    for (int i = 0; !s && sp && i < 4; i++) {
        const cJSON *o = get(sp, names[i]);
        if (!o) continue;
        char at[32];
        snprintf(at, sizeof at, "splits.%s", names[i]);
        if (!cJSON_IsObject(o)) return fail(c, err, at, "", "expected an object");
        int k = r->n_stat_splits;
        r->stat_splits[k].name = names[i];
        s = get_num(c, o, at, "pairs", 0, &r->stat_splits[k].pairs, err);
        if (!s) s = get_num(c, o, at, "gold_ties", 0, &r->stat_splits[k].gold_ties, err);
        if (!s) s = get_num(c, o, at, "corrupted", 0, &r->stat_splits[k].corrupted, err);
        if (!s) s = get_num(c, o, at, "agree_gold", 0, &r->stat_splits[k].agree_gold, err);
        r->n_stat_splits++;
    }
    if (!s) r->stats_present = 1;
    return s;
}

/* ---------------------------------------------------------------------------------------------------- */
/* plan.json                                                                                             */

static warm_status parse_member(rp_ctx *c, const cJSON *e, const char *at, rp_member *m, warm_error *err) {
    if (!is_obj(e)) return fail(c, err, at, "", "expected an object");
    warm_status s = get_str(c, e, at, "name", 1, &m->name, err);
    if (!s) s = get_str(c, e, at, "path", 0, &m->path, err);
    if (!s) s = get_str(c, e, at, "init", 0, &m->init, err);
    if (!s) s = get_num(c, e, at, "rank", 0, &m->rank, err);
    if (!s) s = get_num(c, e, at, "lr", 0, &m->lr, err);
    if (!s) s = get_num(c, e, at, "dropout", 0, &m->dropout, err);
    if (!s) s = get_num(c, e, at, "seed", 0, &m->seed, err);
    if (!s) s = get_num(c, e, at, "val_acc", 0, &m->val_acc, err);
    if (!s) s = get_num(c, e, at, "ood_val_acc", 0, &m->ood_val_acc, err);
    return s;
}

static warm_status parse_setup_bon(rp_ctx *c, const cJSON *b, const char *at0, rp_setup *u, warm_error *err) {
    char at[48];
    snprintf(at, sizeof at, "%s.bon", at0);
    if (!cJSON_IsObject(b)) return fail(c, err, at, "", "expected an object or null");
    u->has_bon = 1;
    double m;
    warm_status s = get_str(c, b, at, "json", 1, &u->bon_path, err);
    if (!s) s = get_str(c, b, at, "best", 1, &u->best, err);
    if (!s) s = get_str(c, b, at, "warm2", 1, &u->warm2, err);
    if (!s) s = get_str(c, b, at, "warm_big", 1, &u->warm_big, err);
    if (!s) s = get_str(c, b, at, "ens2", 1, &u->ens2, err);
    if (!s) s = get_num(c, b, at, "warm_big_m", 1, &m, err);
    if (!s && !(m >= 1 && m <= 1e6 && m == floor(m))) s = fail(c, err, at, "warm_big_m", "expected an integer >= 1");
    if (s) return s;
    u->warm_big_m = (int)m;
    const cJSON *k = get(b, "baklava");
    if (!k) return WARM_OK;
    char bat[64];
    snprintf(bat, sizeof bat, "%s.baklava", at);
    if (!cJSON_IsObject(k)) return fail(c, err, bat, "", "expected an object or null");
    u->has_baklava = 1;
    s = get_str(c, k, bat, "warm", 1, &u->bak_warm, err);
    if (!s) s = get_str(c, k, bat, "ens", 1, &u->bak_ens, err);
    if (!s) s = get_str(c, k, bat, "a", 1, &u->bak_a, err);
    if (!s) s = get_str(c, k, bat, "b", 1, &u->bak_b, err);
    return s;
}

/* plan.json setups[i].rl: the RL runs and the rl-eval file of every evaluated step. */
static warm_status parse_setup_rl(rp_ctx *c, const cJSON *b, const char *at0, rp_rl *q, warm_error *err) {
    char at[48];
    snprintf(at, sizeof at, "%s.rl", at0);
    if (!cJSON_IsObject(b)) return fail(c, err, at, "", "expected an object or null");
    q->has_rl = 1;
    double m = NAN, ma = NAN;
    const cJSON *runs = NULL, *evs = NULL;
    warm_status s = get_num(c, b, at, "beta", 0, &q->beta, err);
    if (!s) s = get_str(c, b, at, "warm_big", 1, &q->warm_big, err);
    if (!s) s = get_num(c, b, at, "warm_big_m", 1, &m, err);
    if (!s) s = get_str(c, b, at, "warm2", 1, &q->warm2, err);
    if (!s) s = get_str(c, b, at, "ens2", 1, &q->ens2, err);
    if (!s) s = get_str(c, b, at, "best", 1, &q->best, err);
    if (!s) s = get_str(c, b, at, "warm_all", 0, &q->warm_all, err);
    if (!s && q->warm_all) s = get_num(c, b, at, "warm_all_m", 1, &ma, err);
    if (!s) s = get_arr(c, b, at, "runs", 1, &runs, &q->n_runs, err);
    if (!s) s = get_arr(c, b, at, "evals", 1, &evs, &q->n_evals, err);
    if (s) return s;
    if (!(m >= 1 && m <= 1e6 && m == floor(m))) return fail(c, err, at, "warm_big_m", "expected an integer >= 1");
    q->warm_big_m = (int)m;
    if (q->warm_all && !(ma >= 1 && ma <= 1e6 && ma == floor(ma)))
        return fail(c, err, at, "warm_all_m", "expected an integer >= 1");
    q->warm_all_m = q->warm_all ? (int)ma : 0;
    if (q->n_runs < 1) return fail(c, err, at, "runs", "expected at least one run");
    int E = q->n_evals;
    q->runs = rp_new(c->r, (size_t)q->n_runs * sizeof *q->runs);
    q->steps = rp_new(c->r, (size_t)(E ? E : 1) * sizeof *q->steps);
    q->eval_paths = rp_new(c->r, (size_t)(E ? E : 1) * sizeof *q->eval_paths);
    q->eval_present = rp_new(c->r, (size_t)(E ? E : 1) * sizeof *q->eval_present);
    if (!q->runs || !q->steps || !q->eval_paths || !q->eval_present) return nomem(c, err);
    int i = 0;
    for (const cJSON *e = runs->child; !s && e; e = e->next, i++) {
        char rat[96];
        snprintf(rat, sizeof rat, "%s.runs[%d]", at, i);
        rp_rl_run *u = &q->runs[i];
        if (!is_obj(e)) return fail(c, err, rat, "", "expected an object");
        s = get_str(c, e, rat, "name", 1, &u->name, err);
        if (!s) s = get_str(c, e, rat, "dir", 0, &u->dir, err);
        if (!s) s = get_num(c, e, rat, "beta", 0, &u->beta, err);
        double **col[8] = {&u->kl,      &u->gold,       &u->gold_se,    &u->win_ref,
                           &u->win_ref_se, &u->win_sft, &u->win_sft_se, &u->gold_dse};
        for (int t = 0; !s && t < 8; t++) {
            if (!(*col[t] = rp_new(c->r, (size_t)(E ? E : 1) * sizeof **col[t]))) return nomem(c, err);
            for (int k = 0; k < E; k++) (*col[t])[k] = NAN;
        }
        for (int k = 0; !s && k < i; k++)
            if (strcmp(q->runs[k].name, u->name) == 0) s = fail(c, err, rat, "name", "\"%s\" repeats runs[%d]", u->name, k);
    }
    static const char *const need[4] = {"warm_big", "warm2", "ens2", "best"};
    const char *names[5] = {q->warm_big, q->warm2, q->ens2, q->best, q->warm_all};
    for (int t = 0; !s && t < 5; t++)
        if (names[t] && rp_rl_run_index(q, names[t]) < 0)
            s = fail(c, err, at, t < 4 ? need[t] : "warm_all", "\"%s\" is not in runs[]", names[t]);
    i = 0;
    for (const cJSON *e = evs->child; !s && e; e = e->next, i++) {
        char eat[96];
        snprintf(eat, sizeof eat, "%s.evals[%d]", at, i);
        if (!is_obj(e)) return fail(c, err, eat, "", "expected an object");
        s = get_num(c, e, eat, "step", 1, &q->steps[i], err);
        if (!s) s = get_str(c, e, eat, "json", 1, &q->eval_paths[i], err);
        if (!s && !(q->steps[i] >= 1 && q->steps[i] == floor(q->steps[i]) && (i == 0 || q->steps[i] > q->steps[i - 1])))
            s = fail(c, err, eat, "step", "expected an integer >= 1, increasing over evals[]");
    }
    q->sft_gold = q->sft_gold_se = NAN;
    return s;
}

static warm_status parse_setup(rp_ctx *c, const cJSON *e, int i, rp_setup *u, warm_error *err) {
    char at[32];
    snprintf(at, sizeof at, "setups[%d]", i);
    if (!is_obj(e)) return fail(c, err, at, "", "expected an object");
    const cJSON *ms = NULL;
    warm_status s = get_str(c, e, at, "name", 1, &u->name, err);
    if (!s) s = get_num(c, e, at, "corrupt", 0, &u->corrupt, err);
    if (!s) s = get_arr(c, e, at, "members", 1, &ms, &u->n_members, err);
    if (!s) s = get_str(c, e, at, "eval_members", 0, &u->eval_members_path, err);
    if (!s) s = get_str(c, e, at, "eval_topm", 0, &u->eval_topm_path, err);
    if (s) return s;
    if (u->n_members && !(u->members = rp_new(c->r, (size_t)u->n_members * sizeof *u->members))) return nomem(c, err);
    int k = 0;
    for (const cJSON *m = ms->child; !s && m; m = m->next, k++) {
        char mat[64];
        snprintf(mat, sizeof mat, "%s.members[%d]", at, k);
        s = parse_member(c, m, mat, &u->members[k], err);
    }
    const cJSON *b = get(e, "bon");
    if (!s && b) s = parse_setup_bon(c, b, at, u, err);
    const cJSON *rl = get(e, "rl");
    if (!s && rl) s = parse_setup_rl(c, rl, at, &u->rl, err);
    const cJSON *f = get(e, "figures");
    char fat[48];
    snprintf(fat, sizeof fat, "%s.figures", at);
    if (!s && f && !cJSON_IsObject(f)) s = fail(c, err, fat, "", "expected an object");
    if (!s && f) s = get_str(c, f, fat, "bon", 0, &u->bon_figure, err);
    if (!s && f) s = get_str(c, f, fat, "rl", 0, &u->rl_figure, err);
    return s;
}

static warm_status parse_lmc_entry(rp_ctx *c, const cJSON *e, int i, rp_lmc_pair *p, warm_error *err) {
    char at[32];
    snprintf(at, sizeof at, "lmc[%d]", i);
    if (!is_obj(e)) return fail(c, err, at, "", "expected an object");
    warm_status s = get_str(c, e, at, "kind", 1, &p->kind, err);
    if (!s) s = get_str(c, e, at, "label", 0, &p->label, err);
    if (!s) s = get_str(c, e, at, "setup", 0, &p->setup, err);
    if (!s) s = get_str(c, e, at, "json", 1, &p->json, err);
    if (!s) s = get_str(c, e, at, "figure", 0, &p->figure, err);
    p->mid = -1;
    return s;
}

static warm_status parse_plan(rp_ctx *c, const cJSON *j, warm_error *err) {
    rp_run *r = c->r;
    const char *format = NULL;
    const cJSON *su = NULL, *lm = NULL;
    warm_status s = get_str(c, j, "", "format", 0, &format, err);
    if (!s && format && strcmp(format, "warm-demo-plan/1") != 0)
        s = fail(c, err, "", "format", "\"%s\" is not warm-demo-plan/1", format);
    if (!s) s = get_str(c, j, "", "scale", 0, &r->plan_scale, err);
    if (!s) s = get_num(c, j, "", "seed", 0, &r->plan_seed, err);
    if (!s) s = get_str(c, j, "", "eval_noise_note", 0, &r->noise_note, err);
    if (!s) s = get_str(c, j, "", "topm_figure", 0, &r->topm_figure, err);
    if (!s) s = get_str(c, j, "", "toy", 0, &r->toy_path, err);
    if (!s) s = get_str(c, j, "", "task_stats", 0, &r->stats_path, err);
    if (!s) s = get_arr(c, j, "", "setups", 1, &su, &r->n_setups, err);
    if (!s) s = get_arr(c, j, "", "lmc", 1, &lm, &r->n_lmc, err);
    if (s) return s;
    if (r->n_setups && !(r->setups = rp_new(r, (size_t)r->n_setups * sizeof *r->setups))) return nomem(c, err);
    if (r->n_lmc && !(r->lmc = rp_new(r, (size_t)r->n_lmc * sizeof *r->lmc))) return nomem(c, err);
    int i = 0;
    for (const cJSON *e = su->child; !s && e; e = e->next, i++) s = parse_setup(c, e, i, &r->setups[i], err);
    i = 0;
    for (const cJSON *e = lm->child; !s && e; e = e->next, i++) s = parse_lmc_entry(c, e, i, &r->lmc[i], err);
    if (!s) r->has_plan = 1;
    return s;
}

/* ---------------------------------------------------------------------------------------------------- */
/* The whole run                                                                                          */

typedef warm_status (*parse_fn)(rp_ctx *c, const cJSON *j, void *dst, warm_error *err);

static warm_status run_parse(rp_ctx *c, const cJSON *j, void *dst, warm_error *err) {
    (void)dst;
    return parse_run(c, j, err);
}
static warm_status plan_parse(rp_ctx *c, const cJSON *j, void *dst, warm_error *err) {
    (void)dst;
    return parse_plan(c, j, err);
}
static warm_status lmc_parse(rp_ctx *c, const cJSON *j, void *dst, warm_error *err) { return parse_lmc(c, j, dst, err); }
static warm_status eval_parse(rp_ctx *c, const cJSON *j, void *dst, warm_error *err) {
    return parse_eval(c, j, dst, err);
}
static warm_status bon_parse(rp_ctx *c, const cJSON *j, void *dst, warm_error *err) { return parse_bon(c, j, dst, err); }
/* An `warm rl-eval --json` file: row 0 the SFT policy, row i + 1 RL run i at this step. */
typedef struct {
    rp_rl *q;
    int e;
} rl_eval_dst;

static warm_status parse_rl_eval(rp_ctx *c, const cJSON *j, rl_eval_dst *d, warm_error *err) {
    rp_rl *q = d->q;
    const char *format = NULL;
    const cJSON *ps = NULL;
    int n = 0;
    warm_status s = get_str(c, j, "", "format", 1, &format, err);
    if (!s && strcmp(format, "warm-rl-eval/1") != 0) s = fail(c, err, "", "format", "\"%s\" is not warm-rl-eval/1", format);
    if (!s) s = get_arr(c, j, "", "policies", 1, &ps, &n, err);
    if (s) return s;
    if (n != q->n_runs + 1)
        return fail(c, err, "", "policies", "expected %d rows (the SFT policy and the %d runs of plan.json)",
                    q->n_runs + 1, q->n_runs);
    int i = 0;
    for (const cJSON *e = ps->child; !s && e; e = e->next, i++) {
        char at[48];
        snprintf(at, sizeof at, "policies[%d]", i);
        if (!is_obj(e)) return fail(c, err, at, "", "expected an object");
        double v[7];
        static const char *const key[7] = {"kl", "gold", "gold_se", "winrate_vs_first", "winrate_vs_first_se",
                                           "winrate_vs_sft", "winrate_vs_sft_se"};
        for (int t = 0; !s && t < 7; t++) s = get_num(c, e, at, key[t], 1, &v[t], err);
        double dse = NAN; /* optional: files of warm before 2026-12-06 lack it */
        if (!s) s = get_num(c, e, at, "gold_vs_sft_se", 0, &dse, err);
        if (s) break;
        if (i == 0) {
            if (isnan(q->sft_gold)) q->sft_gold = v[1], q->sft_gold_se = v[2];
            continue;
        }
        rp_rl_run *u = &q->runs[i - 1];
        u->kl[d->e] = v[0];
        u->gold[d->e] = v[1];
        u->gold_se[d->e] = v[2];
        u->win_ref[d->e] = v[3];
        u->win_ref_se[d->e] = v[4];
        u->win_sft[d->e] = v[5];
        u->win_sft_se[d->e] = v[6];
        u->gold_dse[d->e] = dse;
    }
    if (!s) q->eval_present[d->e] = 1;
    return s;
}

static warm_status rl_eval_parse(rp_ctx *c, const cJSON *j, void *dst, warm_error *err) {
    return parse_rl_eval(c, j, dst, err);
}

static warm_status toy_parse(rp_ctx *c, const cJSON *j, void *dst, warm_error *err) {
    (void)dst;
    return parse_toy(c, j, err);
}
static warm_status stats_parse(rp_ctx *c, const cJSON *j, void *dst, warm_error *err) {
    (void)dst;
    return parse_stats(c, j, err);
}

/* Loads rel (when non-NULL) and parses it into dst; an absent file is recorded, not an error. */
static warm_status load_parse(rp_run *r, const char *rel, const char *what, parse_fn fn, void *dst, warm_error *err) {
    if (!rel) return WARM_OK;
    rp_ctx c = {.r = r};
    cJSON *j = NULL;
    warm_status s = load(&c, rel, what, &j, err);
    if (!s && j) s = fn(&c, j, dst, err);
    cJSON_Delete(j);
    return s;
}

/* Consistency between plan.json and the eval files it names. */
static warm_status check_setup(rp_run *r, const rp_setup *u, warm_error *err) {
    const rp_eval *e = &u->members_eval;
    if (e->present && e->n_models != u->n_members)
        return warm_error_set(err, WARM_ERR_MISMATCH, "%s/%s: models: %d models for the %d members of setup %s in "
                              "plan.json", r->dir, u->eval_members_path, e->n_models, u->n_members, u->name);
    return WARM_OK;
}

warm_status rp_run_load(rp_run *r, const char *dir, warm_error *err) {
    memset(r, 0, sizeof *r);
    r->dir = dir;
    r->seed = r->plan_seed = r->toy_max_z = NAN;
    struct stat st;
    if (stat(dir, &st) != 0) return warm_error_set(err, WARM_ERR_IO, "%s: cannot open: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return warm_error_set(err, WARM_ERR_IO, "%s: not a directory", dir);
    warm_status s = load_parse(r, "run.json", "run facts", run_parse, NULL, err);
    if (!s) r->has_run = !rp_is_missing(r, "run.json");
    if (!s) s = load_parse(r, "plan.json", "every claim", plan_parse, NULL, err);
    for (int i = 0; !s && i < r->n_setups; i++) {
        rp_setup *u = &r->setups[i];
        s = load_parse(r, u->eval_members_path, "member accuracies", eval_parse, &u->members_eval, err);
        if (!s) s = load_parse(r, u->eval_topm_path, "top-M curves", eval_parse, &u->topm, err);
        if (!s && u->has_bon) s = load_parse(r, u->bon_path, "best-of-n", bon_parse, &u->bon, err);
        for (int e = 0; !s && u->rl.has_rl && e < u->rl.n_evals; e++) {
            rl_eval_dst d = {&u->rl, e};
            s = load_parse(r, u->rl.eval_paths[e], "RL evaluation", rl_eval_parse, &d, err);
        }
        if (!s) s = check_setup(r, u, err);
    }
    for (int i = 0; !s && i < r->n_lmc; i++)
        s = load_parse(r, r->lmc[i].json, "an LMC pair", lmc_parse, &r->lmc[i], err);
    if (!s) s = load_parse(r, r->toy_path, "the toy model", toy_parse, NULL, err);
    if (!s) s = load_parse(r, r->stats_path, "task statistics", stats_parse, NULL, err);
    if (s) rp_run_free(r);
    return s;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Look-ups                                                                                              */

int rp_lmc_sub(const rp_lmc_pair *p, const char *name) {
    for (int i = 0; p->present && i < p->n_subs; i++)
        if (strcmp(p->subs[i].name, name) == 0) return i;
    return -1;
}

int rp_eval_sub(const rp_eval *e, const char *name) {
    for (int i = 0; i < e->n_subs; i++)
        if (e->subs[i] && strcmp(e->subs[i], name) == 0) return i;
    return -1;
}

int rp_eval_model(const rp_eval *e, const char *name) {
    for (int i = 0; i < e->n_models; i++)
        if (e->models[i] && strcmp(e->models[i], name) == 0) return i;
    if (e->ens && strcmp(e->ens, name) == 0) return e->n_models;
    return -1;
}

double rp_eval_acc(const rp_eval *e, int model, const char *subset) {
    int j = e->present ? rp_eval_sub(e, subset) : -1;
    if (j < 0 || model < 0 || model > e->n_models) return NAN;
    return e->acc[model * e->n_subs + j];
}

int rp_bon_sel_index(const rp_bon *b, const char *name) {
    for (int i = 0; b->present && name && i < b->n_sel; i++)
        if (strcmp(b->sel[i].name, name) == 0) return i;
    return -1;
}

double rp_topm_acc(const rp_setup *u, const char *order, int m, const char *subset) {
    char name[32];
    snprintf(name, sizeof name, "%s%d", order, m);
    int i = u->topm.present ? rp_eval_model(&u->topm, name) : -1;
    if (i >= 0) return rp_eval_acc(&u->topm, i, subset);
    const rp_eval *e = &u->members_eval;
    int n = e->present ? e->n_models : 0;
    if (m == 1 && n > 0) return rp_eval_acc(e, strcmp(order, "bw") == 0 ? 0 : n - 1, subset);
    if (m == n && n > 0 && strcmp(order, "wb") == 0) return rp_topm_acc(u, "bw", m, subset);
    return NAN;
}

int rp_topm_n(const rp_setup *u) {
    int n = 0;
    char name[32];
    for (;;) {
        snprintf(name, sizeof name, "bw%d", n + 1);
        int here = u->topm.present && rp_eval_model(&u->topm, name) >= 0;
        if (!here && !(n == 0 && u->members_eval.present && u->members_eval.n_models > 0)) return n;
        n++;
    }
}

int rp_rl_run_index(const rp_rl *q, const char *name) {
    for (int i = 0; name && i < q->n_runs; i++)
        if (strcmp(q->runs[i].name, name) == 0) return i;
    return -1;
}

int rp_is_missing(const rp_run *r, const char *rel) {
    for (int i = 0; rel && i < r->n_missing; i++)
        if (strcmp(r->missing[i].rel, rel) == 0) return 1;
    return 0;
}

const rp_setup *rp_clean_setup(const rp_run *r) {
    for (int i = 0; i < r->n_setups; i++)
        if (r->setups[i].corrupt == 0) return &r->setups[i];
    for (int i = 0; i < r->n_setups; i++)
        if (isnan(r->setups[i].corrupt) && strcmp(r->setups[i].name, "clean") == 0) return &r->setups[i];
    return NULL;
}

const rp_setup *rp_corrupt_setup(const rp_run *r) {
    for (int i = 0; i < r->n_setups; i++)
        if (r->setups[i].corrupt > 0) return &r->setups[i];
    for (int i = 0; i < r->n_setups; i++)
        if (isnan(r->setups[i].corrupt) && strcmp(r->setups[i].name, "corrupt") == 0) return &r->setups[i];
    return NULL;
}

const rp_lmc_pair *rp_lmc_kind(const rp_run *r, const char *kind) {
    for (int i = 0; i < r->n_lmc; i++)
        if (strcmp(r->lmc[i].kind, kind) == 0) return &r->lmc[i];
    return NULL;
}
