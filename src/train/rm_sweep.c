/*
 * rm_sweep.c — sweeps of reward-model members: drawing hyperparameters from a grid, the manifest
 * (DIR/manifest.json, rewritten atomically after every change), taking over an interrupted sweep, and
 * running members as child processes (`warm train-rm`, J at a time) followed by their evaluation on the
 * validation and OOD sets. See include/warm/rm.h and docs/reward-models.md.
 *
 * Processes: a child is fork + execve of the warm binary with its stdout/stderr appended to
 * DIR/member-XX/train.log and OMP_NUM_THREADS set to threads_per_job. The parent polls its own children
 * with waitpid(pid, WNOHANG) (never waitpid(-1): the caller may have other children) and evaluates
 * finished members only while no child runs, so evaluation never competes with training for cores.
 *
 * Ranks (a sweep under mpirun, warm_sweep_run_config.dist): no processes are forked; every rank runs the
 * same rounds, each group of ranks training its member in-process through the run_member hook (the CLI's
 * train-rm), and reports to rank 0 after every round (a gather), which alone writes the manifest. A killed
 * rank takes the job down (MPI aborts every rank); what was finished stays: final checkpoints are atomic
 * and recorded round by round, and train-rm resumes a half-trained member from its last.* on the rerun.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "warm/dist.h"
#include "warm/rm.h"
#include "warm/tokenizer.h"
#include "warm/train.h"

extern char **environ;

#define PATH_CAP 4200
#define MANIFEST_FORMAT "warm.sweep/1"

const char *warm_member_status_name(warm_member_status s) {
    switch (s) {
    case WARM_MEMBER_PENDING: return "pending";
    case WARM_MEMBER_TRAINED: return "trained";
    case WARM_MEMBER_DONE: return "done";
    case WARM_MEMBER_FAILED: return "failed";
    }
    return "?";
}

static int status_from_name(const char *s, warm_member_status *out) {
    for (int i = 0; i <= WARM_MEMBER_FAILED; i++)
        if (strcmp(s, warm_member_status_name((warm_member_status)i)) == 0) {
            *out = (warm_member_status)i;
            return 0;
        }
    return -1;
}

static char *dupstr(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static void member_reset(warm_sweep_member *m, int index) {
    memset(m, 0, sizeof *m);
    m->index = index;
    m->exit_code = -1;
    m->status = WARM_MEMBER_PENDING;
}

void warm_sweep_free(warm_sweep *s) {
    if (!s) return;
    for (int i = 0; i < s->n; i++) free(s->members[i].init);
    free(s->members);
    for (int i = 0; i < s->n_args; i++) free(s->args[i]);
    free(s->args);
    free(s->dir);
    free(s->val);
    free(s->val_subset);
    free(s->ood);
    free(s->ood_subset);
    memset(s, 0, sizeof *s);
}

/* ---- planning ---- */

warm_status warm_sweep_plan(const warm_sweep_space *sp, warm_sweep *s, warm_error *err) {
    if (sp->n_inits < 1 || sp->n_lrs < 1 || sp->n_dropouts < 1 || sp->n_seeds < 0)
        return warm_error_set(err, WARM_ERR_ARG, "sweep: at least one init, lr and dropout are needed");
    for (int i = 0; i < sp->n_lrs; i++)
        if (!(sp->lrs[i] >= 0.0 && sp->lrs[i] <= 1.0))
            return warm_error_set(err, WARM_ERR_ARG, "sweep: learning rate %g is outside [0, 1]", sp->lrs[i]);
    for (int i = 0; i < sp->n_dropouts; i++)
        if (!(sp->dropouts[i] >= 0.0 && sp->dropouts[i] < 1.0))
            return warm_error_set(err, WARM_ERR_ARG, "sweep: dropout %g is outside [0, 1)", sp->dropouts[i]);
    int64_t ns = sp->n_seeds > 0 ? sp->n_seeds : 1;
    int64_t size = (int64_t)sp->n_inits * sp->n_lrs * sp->n_dropouts * ns;
    if (size > 100000) return warm_error_set(err, WARM_ERR_ARG, "sweep: the grid has %lld points (at most 100000)",
                                             (long long)size);
    int64_t M = sp->grid ? size : sp->members;
    if (M < 1 || M > 10000) return warm_error_set(err, WARM_ERR_ARG, "sweep: %lld members (1 to 10000)", (long long)M);
    if (!sp->grid && sp->n_seeds > 0 && M > size)
        return warm_error_set(err, WARM_ERR_ARG, "sweep: %lld members from a grid of %lld points (seeds included) "
                              "would repeat identical runs; add seeds or leave --seeds out", (long long)M,
                              (long long)size);
    int64_t *pts = malloc((size_t)M * sizeof *pts), *perm = malloc((size_t)size * sizeof *perm);
    warm_sweep_member *mem = calloc((size_t)M, sizeof *mem);
    if (!pts || !perm || !mem) {
        free(pts);
        free(perm);
        free(mem);
        return warm_error_set(err, WARM_ERR_NOMEM, "sweep: out of memory");
    }
    if (sp->grid) {
        for (int64_t i = 0; i < M; i++) pts[i] = i;
    } else {
        /* Shuffled passes over the grid: no point repeats until every point was used. */
        warm_rng r;
        warm_rng_seed(&r, sp->draw_seed);
        for (int64_t i = 0; i < M; i++) {
            int64_t k = i % size;
            if (k == 0) {
                for (int64_t j = 0; j < size; j++) perm[j] = j;
                for (int64_t j = size - 1; j > 0; j--) {
                    int64_t t = (int64_t)warm_rng_below(&r, (uint32_t)(j + 1)), x = perm[j];
                    perm[j] = perm[t];
                    perm[t] = x;
                }
            }
            pts[i] = perm[k];
        }
    }
    warm_status st = WARM_OK;
    for (int64_t i = 0; i < M; i++) {
        /* Point index = ((init * n_lrs + lr) * n_dropouts + dropout) * ns + seed. */
        int64_t p = pts[i];
        int64_t si = p % ns, di = (p / ns) % sp->n_dropouts, li = (p / ns / sp->n_dropouts) % sp->n_lrs;
        int64_t ii = p / ns / sp->n_dropouts / sp->n_lrs;
        member_reset(&mem[i], (int)i);
        mem[i].init = dupstr(sp->inits[ii]);
        mem[i].lr = sp->lrs[li];
        mem[i].dropout = sp->dropouts[di];
        mem[i].seed = sp->n_seeds > 0 ? sp->seeds[si] : i + 1;
        if (!mem[i].init) st = warm_error_set(err, WARM_ERR_NOMEM, "sweep: out of memory");
    }
    free(pts);
    free(perm);
    if (st) {
        for (int64_t i = 0; i < M; i++) free(mem[i].init);
        free(mem);
        return st;
    }
    for (int i = 0; i < s->n; i++) free(s->members[i].init);
    free(s->members);
    s->members = mem;
    s->n = (int)M;
    s->grid = sp->grid;
    s->draw_seed = sp->draw_seed;
    return WARM_OK;
}

void warm_sweep_member_dir(const warm_sweep *s, int i, char *buf, size_t n) {
    snprintf(buf, n, "%s/member-%02d", s->dir ? s->dir : ".", s->members[i].index);
}

void warm_sweep_member_file(const warm_sweep *s, int i, char *buf, size_t n) {
    snprintf(buf, n, "%s/member-%02d/final.safetensors", s->dir ? s->dir : ".", s->members[i].index);
}

/* ---- manifest ---- */

static cJSON *metrics_json(const warm_pair_metrics *m) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "n", (double)m->n);
    cJSON_AddNumberToObject(o, "ties", (double)m->ties);
    cJSON_AddNumberToObject(o, "acc_ge", m->acc_ge);
    cJSON_AddNumberToObject(o, "acc_gt", m->acc_gt);
    cJSON_AddNumberToObject(o, "margin", m->margin);
    cJSON_AddNumberToObject(o, "ece", m->ece);
    cJSON_AddNumberToObject(o, "bt_loss", m->bt_loss);
    return o;
}

static void add_str_or_null(cJSON *o, const char *k, const char *v) {
    if (v) cJSON_AddStringToObject(o, k, v);
    else cJSON_AddNullToObject(o, k);
}

/* Members that have metric set `which` (0 val, 1 ood), best acc_ge first, ties by index. */
static cJSON *ranking_json(const warm_sweep *s, int which) {
    int *ix = malloc((size_t)(s->n > 0 ? s->n : 1) * sizeof *ix), k = 0;
    cJSON *a = cJSON_CreateArray();
    if (!ix || !a) {
        free(ix);
        cJSON_Delete(a);
        return NULL;
    }
    for (int i = 0; i < s->n; i++)
        if (which ? s->members[i].has_ood : s->members[i].has_val) ix[k++] = i;
    for (int i = 1; i < k; i++) /* insertion sort: stable, so equal accuracies keep index order */
        for (int j = i; j > 0; j--) {
            const warm_sweep_member *a1 = &s->members[ix[j - 1]], *a2 = &s->members[ix[j]];
            double x = which ? a1->ood.acc_ge : a1->val.acc_ge, y = which ? a2->ood.acc_ge : a2->val.acc_ge;
            if (!(y > x)) break;
            int t = ix[j];
            ix[j] = ix[j - 1];
            ix[j - 1] = t;
        }
    for (int i = 0; i < k; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(s->members[ix[i]].index));
    free(ix);
    return a;
}

static cJSON *sweep_json(const warm_sweep *s) {
    cJSON *o = cJSON_CreateObject(), *args = cJSON_CreateArray(), *mem = cJSON_CreateArray();
    if (!o || !args || !mem) {
        cJSON_Delete(o);
        cJSON_Delete(args);
        cJSON_Delete(mem);
        return NULL;
    }
    cJSON_AddStringToObject(o, "format", MANIFEST_FORMAT);
    cJSON_AddBoolToObject(o, "grid", s->grid != 0);
    cJSON_AddNumberToObject(o, "draw_seed", (double)s->draw_seed);
    for (int i = 0; i < s->n_args; i++) cJSON_AddItemToArray(args, cJSON_CreateString(s->args[i]));
    cJSON_AddItemToObject(o, "train_args", args);
    add_str_or_null(o, "val", s->val);
    add_str_or_null(o, "val_subset", s->val_subset);
    add_str_or_null(o, "ood", s->ood);
    add_str_or_null(o, "ood_subset", s->ood_subset);
    int done = 0;
    for (int i = 0; i < s->n; i++) {
        const warm_sweep_member *m = &s->members[i];
        cJSON *e = cJSON_CreateObject();
        if (!e) continue;
        char dir[64], file[96];
        snprintf(dir, sizeof dir, "member-%02d", m->index);
        snprintf(file, sizeof file, "%s/final.safetensors", dir);
        cJSON_AddNumberToObject(e, "index", m->index);
        cJSON_AddStringToObject(e, "dir", dir);
        cJSON_AddStringToObject(e, "file", file);
        cJSON_AddStringToObject(e, "init", m->init ? m->init : "");
        cJSON_AddNumberToObject(e, "lr", m->lr);
        cJSON_AddNumberToObject(e, "dropout", m->dropout);
        cJSON_AddNumberToObject(e, "seed", (double)m->seed);
        cJSON_AddStringToObject(e, "status", warm_member_status_name(m->status));
        cJSON_AddNumberToObject(e, "exit_code", m->exit_code);
        cJSON_AddNumberToObject(e, "train_seconds", m->train_seconds);
        if (m->has_val) cJSON_AddItemToObject(e, "val", metrics_json(&m->val));
        else cJSON_AddNullToObject(e, "val");
        if (m->has_ood) cJSON_AddItemToObject(e, "ood", metrics_json(&m->ood));
        else cJSON_AddNullToObject(e, "ood");
        cJSON_AddItemToArray(mem, e);
        done += m->status == WARM_MEMBER_DONE;
    }
    cJSON_AddNumberToObject(o, "n_members", s->n);
    cJSON_AddNumberToObject(o, "n_done", done);
    cJSON_AddItemToObject(o, "members", mem);
    cJSON_AddItemToObject(o, "ranking_val", ranking_json(s, 0));
    cJSON_AddItemToObject(o, "ranking_ood", ranking_json(s, 1));
    return o;
}

warm_status warm_sweep_save(const warm_sweep *s, warm_error *err) {
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/manifest.json", s->dir ? s->dir : ".");
    cJSON *o = sweep_json(s);
    if (!o) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", path);
    warm_status st = warm_json_write(path, o, err);
    cJSON_Delete(o);
    return st;
}

static char *read_file(const char *path, warm_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        warm_error_set(err, WARM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *b2 = cap > ((size_t)1 << 30) ? NULL : realloc(buf, cap * 2);
            if (!b2) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b2;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        warm_error_set(err, bad ? WARM_ERR_IO : WARM_ERR_NOMEM, "%s: cannot read", path);
        return NULL;
    }
    buf[n] = 0;
    return buf;
}

/* Field getters for the manifest: errors name the file, the member and the key. */
typedef struct {
    const char *path;
    int member; /* -1: top level */
    warm_error *err;
} mctx;

static warm_status mfail(const mctx *c, const char *key, const char *what) {
    if (c->member >= 0)
        return warm_error_set(c->err, WARM_ERR_FORMAT, "%s: members[%d].%s %s", c->path, c->member, key, what);
    return warm_error_set(c->err, WARM_ERR_FORMAT, "%s: \"%s\" %s", c->path, key, what);
}

static warm_status get_num(const mctx *c, const cJSON *o, const char *key, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return mfail(c, key, "must be a number");
    *out = v->valuedouble;
    return WARM_OK;
}

/* An integer in [lo, hi] (the CLI's ranges: seeds 0..9e15; counts; exit codes), so the casts below are defined. */
static warm_status get_int(const mctx *c, const cJSON *o, const char *key, double lo, double hi, int64_t *out) {
    double x = 0;
    warm_status s = get_num(c, o, key, &x);
    if (!s && !(x >= lo && x <= hi && x == floor(x))) {
        char why[96];
        snprintf(why, sizeof why, "must be an integer in [%.0f, %.0f]", lo, hi);
        return mfail(c, key, why);
    }
    if (!s) *out = (int64_t)x;
    return s;
}

/* A string or null (-> NULL); malloc'd copy into *out. */
static warm_status get_opt_str(const mctx *c, const cJSON *o, const char *key, char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v)) return WARM_OK;
    if (!cJSON_IsString(v)) return mfail(c, key, "must be a string or null");
    *out = dupstr(v->valuestring);
    return *out ? WARM_OK : warm_error_set(c->err, WARM_ERR_NOMEM, "%s: out of memory", c->path);
}

static warm_status get_metrics(const mctx *c, const cJSON *o, const char *key, warm_pair_metrics *m, int *has) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *has = 0;
    if (!v || cJSON_IsNull(v)) return WARM_OK;
    if (!cJSON_IsObject(v)) return mfail(c, key, "must be an object or null");
    warm_status s = get_int(c, v, "n", 0, 9e15, &m->n);
    if (!s) s = get_int(c, v, "ties", 0, 9e15, &m->ties);
    if (!s) s = get_num(c, v, "acc_ge", &m->acc_ge);
    if (!s) s = get_num(c, v, "acc_gt", &m->acc_gt);
    if (!s) s = get_num(c, v, "margin", &m->margin);
    if (!s) s = get_num(c, v, "ece", &m->ece);
    if (!s) s = get_num(c, v, "bt_loss", &m->bt_loss);
    *has = !s;
    return s;
}

static warm_status member_from_json(const mctx *c, const cJSON *e, warm_sweep_member *m) {
    if (!cJSON_IsObject(e)) return mfail(c, "", "must be an object");
    double secs = 0;
    int64_t index = -1, code = -1;
    member_reset(m, c->member);
    warm_status s = get_int(c, e, "index", 0, 1e6, &index);
    if (!s) s = get_opt_str(c, e, "init", &m->init);
    if (!s && !m->init) s = mfail(c, "init", "is missing");
    if (!s) s = get_num(c, e, "lr", &m->lr);
    if (!s) s = get_num(c, e, "dropout", &m->dropout);
    if (!s) s = get_int(c, e, "seed", 0, 9e15, &m->seed);
    if (!s) s = get_int(c, e, "exit_code", -1, 65535, &code);
    if (!s) s = get_num(c, e, "train_seconds", &secs);
    if (!s) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(e, "status");
        if (!cJSON_IsString(st) || status_from_name(st->valuestring, &m->status) != 0)
            s = mfail(c, "status", "must be one of pending, trained, done, failed");
    }
    if (!s) s = get_metrics(c, e, "val", &m->val, &m->has_val);
    if (!s) s = get_metrics(c, e, "ood", &m->ood, &m->has_ood);
    if (!s && (index != c->member)) s = mfail(c, "index", "must equal the member's position");
    m->exit_code = (int)code;
    m->train_seconds = secs;
    return s;
}

static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return dupstr(".");
    size_t n = (size_t)(slash - path);
    if (n == 0) n = 1;
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = 0;
    }
    return d;
}

warm_status warm_sweep_load(warm_sweep *s, const char *path, warm_error *err) {
    memset(s, 0, sizeof *s);
    char *text = read_file(path, err);
    if (!text) return err ? err->code : WARM_ERR_IO;
    cJSON *o = cJSON_Parse(text);
    free(text);
    mctx c = {path, -1, err};
    warm_status st = WARM_OK;
    const cJSON *fmt = o ? cJSON_GetObjectItemCaseSensitive(o, "format") : NULL;
    if (!cJSON_IsObject(o)) st = warm_error_set(err, WARM_ERR_FORMAT, "%s: not a JSON object", path);
    else if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, MANIFEST_FORMAT) != 0)
        st = mfail(&c, "format", "must be \"" MANIFEST_FORMAT "\"");
    int64_t seed = 0;
    if (!st) st = get_int(&c, o, "draw_seed", 0, 9e15, &seed);
    s->draw_seed = (uint64_t)seed;
    if (!st) s->grid = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "grid"));
    if (!st) st = get_opt_str(&c, o, "val", &s->val);
    if (!st) st = get_opt_str(&c, o, "val_subset", &s->val_subset);
    if (!st) st = get_opt_str(&c, o, "ood", &s->ood);
    if (!st) st = get_opt_str(&c, o, "ood_subset", &s->ood_subset);
    const cJSON *args = o ? cJSON_GetObjectItemCaseSensitive(o, "train_args") : NULL;
    const cJSON *mem = o ? cJSON_GetObjectItemCaseSensitive(o, "members") : NULL;
    if (!st && !cJSON_IsArray(args)) st = mfail(&c, "train_args", "must be an array of strings");
    if (!st && !cJSON_IsArray(mem)) st = mfail(&c, "members", "must be an array");
    if (!st) {
        int na = cJSON_GetArraySize(args), nm = cJSON_GetArraySize(mem);
        s->args = calloc((size_t)(na > 0 ? na : 1), sizeof *s->args);
        s->members = calloc((size_t)(nm > 0 ? nm : 1), sizeof *s->members);
        if (!s->args || !s->members) st = warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", path);
        for (int i = 0; !st && i < na; i++) {
            const cJSON *a = cJSON_GetArrayItem(args, i);
            if (!cJSON_IsString(a)) st = mfail(&c, "train_args", "must be an array of strings");
            else if (!(s->args[i] = dupstr(a->valuestring))) st = warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
            else s->n_args = i + 1;
        }
        for (int i = 0; !st && i < nm; i++) {
            c.member = i;
            st = member_from_json(&c, cJSON_GetArrayItem(mem, i), &s->members[i]);
            s->n = i + 1;
        }
    }
    cJSON_Delete(o);
    if (!st && !(s->dir = dir_of(path))) st = warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
    if (st) warm_sweep_free(s);
    return st;
}

/* ---- taking over an earlier run ---- */

static int same_str(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

warm_status warm_sweep_resume(warm_sweep *s, warm_error *err) {
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/manifest.json", s->dir);
    if (warm_file_exists(path)) {
        warm_sweep old;
        warm_status st = warm_sweep_load(&old, path, err);
        if (st) return st;
        if (old.n_args != s->n_args)
            st = warm_error_set(err, WARM_ERR_MISMATCH, "%s: the sweep in %s was started with other train-rm options "
                                "(%d arguments, now %d); use another directory", path, s->dir, old.n_args, s->n_args);
        for (int i = 0; !st && i < s->n_args; i++)
            if (strcmp(old.args[i], s->args[i]) != 0)
                st = warm_error_set(err, WARM_ERR_MISMATCH, "%s: the sweep in %s was started with train-rm argument "
                                    "\"%s\" where this run has \"%s\"; use another directory", path, s->dir,
                                    old.args[i], s->args[i]);
        if (!st && !(same_str(old.val, s->val) && same_str(old.val_subset, s->val_subset) &&
                     same_str(old.ood, s->ood) && same_str(old.ood_subset, s->ood_subset)))
            st = warm_error_set(err, WARM_ERR_MISMATCH, "%s: the sweep was started with other --val/--ood data", path);
        int common = old.n < s->n ? old.n : s->n;
        for (int i = 0; !st && i < common; i++) {
            const warm_sweep_member *a = &old.members[i];
            warm_sweep_member *b = &s->members[i];
            if (strcmp(a->init, b->init) != 0 || a->lr != b->lr || a->dropout != b->dropout || a->seed != b->seed)
                st = warm_error_set(err, WARM_ERR_MISMATCH, "%s: member %d was (init %s, lr %g, dropout %g, seed %lld); "
                                    "this plan has (init %s, lr %g, dropout %g, seed %lld): same lists, --members "
                                    "prefix and --draw-seed are needed to continue a sweep", path, i, a->init, a->lr,
                                    a->dropout, (long long)a->seed, b->init, b->lr, b->dropout, (long long)b->seed);
            else {
                b->status = a->status;
                b->exit_code = a->exit_code;
                b->train_seconds = a->train_seconds;
                b->has_val = a->has_val;
                b->val = a->val;
                b->has_ood = a->has_ood;
                b->ood = a->ood;
            }
        }
        warm_sweep_free(&old);
        if (st) return st;
    }
    for (int i = 0; i < s->n; i++) {
        warm_sweep_member *m = &s->members[i];
        char file[PATH_CAP];
        warm_sweep_member_file(s, i, file, sizeof file);
        if ((m->status == WARM_MEMBER_TRAINED || m->status == WARM_MEMBER_DONE) && !warm_file_exists(file)) {
            m->status = WARM_MEMBER_PENDING;
            m->has_val = m->has_ood = 0;
        }
    }
    warm_status st = warm_mkdir_p(s->dir, err);
    return st ? st : warm_sweep_save(s, err);
}

/* ---- member command lines ---- */

/* Shortest %g text that reads back as exactly x. */
static void fmt_exact(char *buf, size_t n, double x) {
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, n, "%.*g", p, x);
        if (strtod(buf, NULL) == x) return;
    }
}

char **warm_sweep_member_argv(const warm_sweep *s, int i, const char *exe) {
    const warm_sweep_member *m = &s->members[i];
    int n = 12 + s->n_args + 1;
    char **argv = calloc((size_t)n, sizeof *argv);
    if (!argv) return NULL;
    char lr[32], dr[32], seed[32], dir[PATH_CAP];
    fmt_exact(lr, sizeof lr, m->lr);
    fmt_exact(dr, sizeof dr, m->dropout);
    snprintf(seed, sizeof seed, "%lld", (long long)m->seed);
    warm_sweep_member_dir(s, i, dir, sizeof dir);
    const char *fixed[12] = {exe, "train-rm", "--init", m->init, "--lr", lr, "--dropout", dr, "--seed", seed, "-o", dir};
    int k = 0, ok = 1;
    for (; k < 12; k++) ok &= (argv[k] = dupstr(fixed[k])) != NULL;
    for (int j = 0; j < s->n_args; j++, k++) ok &= (argv[k] = dupstr(s->args[j])) != NULL;
    if (!ok) {
        warm_sweep_argv_free(argv);
        return NULL;
    }
    return argv;
}

void warm_sweep_argv_free(char **argv) {
    if (!argv) return;
    for (char **p = argv; *p; p++) free(*p);
    free(argv);
}

/* ---- evaluation ---- */

typedef struct {
    warm_tokenizer *tok;
    warm_prefs val, ood;
    int64_t *vidx, *oidx, nv, no;
    int loaded;
} eval_data;

static void eval_data_free(eval_data *e) {
    warm_prefs_free(&e->val);
    warm_prefs_free(&e->ood);
    free(e->vidx);
    free(e->oidx);
    warm_tok_free(e->tok);
    memset(e, 0, sizeof *e);
}

/* Loads the evaluation data on first use, with the length limit of the first evaluated model. */
static warm_status eval_data_load(eval_data *e, const warm_sweep *s, const warm_sweep_run_config *rc,
                                  const warm_config *cfg, warm_error *err) {
    if (e->loaded) return WARM_OK;
    warm_status st = WARM_OK;
    if (rc->tokenizer) st = warm_tok_open(&e->tok, rc->tokenizer, err);
    if (!st && s->val) st = warm_rm_load_pairs(&e->val, s->val, s->val_subset, e->tok, cfg, &e->vidx, &e->nv, err);
    if (!st && s->ood) st = warm_rm_load_pairs(&e->ood, s->ood, s->ood_subset, e->tok, cfg, &e->oidx, &e->no, err);
    e->loaded = !st;
    return st;
}

static warm_status score_set(const warm_model *m, const warm_prefs *d, const int64_t *idx, int64_t n,
                             warm_pair_metrics *out, warm_error *err) {
    if (d->max_seq > m->cfg.n_positions)
        return warm_error_set(err, WARM_ERR_MISMATCH, "evaluation rows of %d tokens exceed a member's context %d",
                              d->max_seq, m->cfg.n_positions);
    float *rc = malloc((size_t)n * sizeof *rc), *rr = malloc((size_t)n * sizeof *rr);
    warm_status st = rc && rr ? WARM_OK : warm_error_set(err, WARM_ERR_NOMEM, "sweep: out of memory");
    if (!st) st = warm_eval_score_pairs(m, d, idx, n, rc, rr, err);
    if (!st) warm_eval_metrics(rc, rr, n, 10, out);
    free(rc);
    free(rr);
    return st;
}

static void log_eval(const warm_sweep_member *mb, FILE *log) {
    if (!log) return;
    fprintf(log, "sweep: member %02d", mb->index);
    if (mb->has_val) fprintf(log, "  val acc %.4f (>=) %.4f (>)", mb->val.acc_ge, mb->val.acc_gt);
    if (mb->has_ood) fprintf(log, "  ood acc %.4f (>=) %.4f (>)", mb->ood.acc_ge, mb->ood.acc_gt);
    fputc('\n', log);
    fflush(log);
}

static warm_status evaluate_member(warm_sweep *s, int i, const warm_sweep_run_config *rc, eval_data *e,
                                   warm_error *err) {
    warm_sweep_member *mb = &s->members[i];
    char file[PATH_CAP];
    warm_sweep_member_file(s, i, file, sizeof file);
    warm_model m;
    warm_status st = warm_model_load(&m, file, 0, err);
    if (st) return st;
    st = eval_data_load(e, s, rc, &m.cfg, err);
    if (!st && e->nv > 0) st = score_set(&m, &e->val, e->vidx, e->nv, &mb->val, err);
    if (!st && e->no > 0) st = score_set(&m, &e->ood, e->oidx, e->no, &mb->ood, err);
    warm_model_free(&m);
    if (st) {
        warm_error_prefix(err, "evaluating %s", file);
        return st;
    }
    mb->has_val = e->nv > 0;
    mb->has_ood = e->no > 0;
    mb->status = WARM_MEMBER_DONE;
    log_eval(mb, rc->log);
    return WARM_OK;
}

/* ---- processes ---- */

/* environ without OMP_NUM_THREADS / WARM_PROGRESS, plus our values. */
static char **child_env(int threads) {
    int n = 0;
    for (char **p = environ; p && *p; p++) n++;
    char **env = calloc((size_t)n + 3, sizeof *env);
    if (!env) return NULL;
    int k = 0;
    for (char **p = environ; p && *p; p++)
        if (strncmp(*p, "OMP_NUM_THREADS=", 16) != 0 && strncmp(*p, "WARM_PROGRESS=", 14) != 0) env[k++] = *p;
    static char progress[] = "WARM_PROGRESS=plain";
    env[k++] = progress;
    char *omp = malloc(48);
    if (!omp) {
        free(env);
        return NULL;
    }
    snprintf(omp, 48, "OMP_NUM_THREADS=%d", threads > 0 ? threads : 1);
    env[k++] = omp;
    env[k] = NULL;
    return env;
}

static void child_env_free(char **env) {
    if (!env) return;
    int k = 0;
    while (env[k]) k++;
    free(env[k - 1]); /* the OMP_NUM_THREADS string is the last entry and the only one we allocated */
    free(env);
}

static warm_status spawn(const char *exe, char *const *argv, char *const *env, const char *log_path, pid_t *pid,
                         warm_error *err) {
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) return warm_error_set(err, WARM_ERR_IO, "%s: cannot open: %s", log_path, strerror(errno));
    fflush(NULL);
    pid_t p = fork();
    if (p < 0) {
        int e = errno;
        close(fd);
        return warm_error_set(err, WARM_ERR_IO, "fork: %s", strerror(e));
    }
    if (p == 0) {
        /* Child: only async-signal-safe calls until execve. */
        if (dup2(fd, 1) < 0 || dup2(fd, 2) < 0) _exit(127);
        close(fd);
        execve(exe, argv, env);
        static const char msg[] = "warm sweep: cannot execute the warm binary\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(127);
    }
    close(fd);
    *pid = p;
    return WARM_OK;
}

static int exit_code_of(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 255;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

typedef struct {
    pid_t pid;
    int member;
    double start;
} slot;

/* Records the end of member i's training run; saves the manifest. */
static warm_status finish_member(warm_sweep *s, int i, int code, double secs, int interrupted,
                                 const warm_sweep_run_config *rc, warm_error *err) {
    warm_sweep_member *m = &s->members[i];
    char file[PATH_CAP], dir[PATH_CAP];
    warm_sweep_member_file(s, i, file, sizeof file);
    warm_sweep_member_dir(s, i, dir, sizeof dir);
    m->exit_code = code;
    m->train_seconds = secs;
    if (code == 0 && warm_file_exists(file)) m->status = WARM_MEMBER_TRAINED;
    else m->status = interrupted ? WARM_MEMBER_PENDING : WARM_MEMBER_FAILED;
    if (rc->log) {
        if (m->status == WARM_MEMBER_TRAINED)
            fprintf(rc->log, "sweep: member %02d trained in %.1f s\n", m->index, secs);
        else if (interrupted)
            fprintf(rc->log, "sweep: member %02d interrupted (resumes on the next run)\n", m->index);
        else
            fprintf(rc->log, "sweep: member %02d FAILED (exit %d%s): see %s/train.log\n", m->index, code,
                    code == 0 ? ", no final.safetensors" : "", dir);
        fflush(rc->log);
    }
    return warm_sweep_save(s, err);
}

static void log_start(const warm_sweep *s, int i, long pid, const warm_sweep_run_config *rc) {
    if (!rc->log) return;
    const warm_sweep_member *m = &s->members[i];
    fprintf(rc->log, "sweep: member %02d started (init %s, lr %g, dropout %g, seed %lld)", m->index, m->init, m->lr,
            m->dropout, (long long)m->seed);
    if (pid > 0) fprintf(rc->log, ", pid %ld", pid);
    fputc('\n', rc->log);
    fflush(rc->log);
}

/* Starts member i: fork/exec, or the test hook (which runs to completion here). */
static warm_status start_member(warm_sweep *s, int i, const warm_sweep_run_config *rc, char **env, slot *sl,
                                int *ran_inline, warm_error *err) {
    char dir[PATH_CAP], log_path[PATH_CAP + 16];
    warm_sweep_member_dir(s, i, dir, sizeof dir);
    snprintf(log_path, sizeof log_path, "%s/train.log", dir);
    warm_status st = warm_mkdir_p(dir, err);
    if (st) return st;
    char **argv = warm_sweep_member_argv(s, i, rc->exe ? rc->exe : "warm");
    if (!argv) return warm_error_set(err, WARM_ERR_NOMEM, "sweep: out of memory");
    *ran_inline = rc->run_member != NULL;
    double t0 = warm_time_now();
    if (rc->run_member) {
        log_start(s, i, 0, rc);
        int code = rc->run_member(rc->run_ctx, s, i, argv, NULL);
        st = finish_member(s, i, code, warm_time_now() - t0, 0, rc, err);
    } else {
        st = spawn(rc->exe, argv, env, log_path, &sl->pid, err);
        if (!st) {
            sl->member = i;
            sl->start = t0;
            log_start(s, i, (long)sl->pid, rc);
        }
    }
    warm_sweep_argv_free(argv);
    return st;
}

/* Waits for every running child after SIGTERM; marks them pending. */
static void stop_children(warm_sweep *s, slot *slots, int *nrun, const warm_sweep_run_config *rc) {
    for (int k = 0; k < *nrun; k++) kill(slots[k].pid, SIGTERM);
    for (int k = 0; k < *nrun; k++) {
        int status = 0;
        while (waitpid(slots[k].pid, &status, 0) < 0 && errno == EINTR) {}
        warm_error ignore;
        finish_member(s, slots[k].member, exit_code_of(status), warm_time_now() - slots[k].start, 1, rc, &ignore);
    }
    *nrun = 0;
}

/* Reaps finished children (non-blocking); *reaped = how many. */
static warm_status reap(warm_sweep *s, slot *slots, int *nrun, const warm_sweep_run_config *rc, int *reaped,
                        warm_error *err) {
    *reaped = 0;
    for (int k = 0; k < *nrun;) {
        int status = 0;
        pid_t r = waitpid(slots[k].pid, &status, WNOHANG);
        if (r == 0 || (r < 0 && errno == EINTR)) {
            k++;
            continue;
        }
        int code = r < 0 ? 255 : exit_code_of(status);
        warm_status st = finish_member(s, slots[k].member, code, warm_time_now() - slots[k].start, 0, rc, err);
        slots[k] = slots[--*nrun];
        ++*reaped;
        if (st) return st;
    }
    return WARM_OK;
}

/* WARM_OK when every member is done, else an error naming the others. */
static warm_status sweep_outcome(const warm_sweep *s, warm_error *err) {
    char names[512] = "";
    int failed = 0;
    size_t used = 0;
    for (int i = 0; i < s->n; i++)
        if (s->members[i].status != WARM_MEMBER_DONE) {
            failed++;
            if (used < sizeof names - 16)
                used += (size_t)snprintf(names + used, sizeof names - used, "%s%02d", failed > 1 ? ", " : "",
                                         s->members[i].index);
        }
    if (!failed) return WARM_OK;
    return warm_error_set(err, WARM_ERR_IO, "%d of %d members failed (%s); see %s/member-XX/train.log, then run the "
                          "same command again to retry them", failed, s->n, names, s->dir);
}

/* ---- ranks: a sweep under mpirun ---- */

/* What a rank reports to rank 0 after a round of training or evaluation (member -1: nothing). */
typedef struct {
    int32_t member, code, has_val, has_ood;
    double seconds;
    warm_pair_metrics val, ood;
} rank_report;

/* Rank 0's member statuses to every rank. */
static warm_status share_statuses(warm_sweep *s, warm_dist *d, warm_error *err) {
    int32_t *st = malloc((size_t)(s->n > 0 ? s->n : 1) * sizeof *st);
    if (!st) return warm_error_set(err, WARM_ERR_NOMEM, "sweep: out of memory");
    for (int i = 0; i < s->n; i++) st[i] = (int32_t)s->members[i].status;
    warm_status r = warm_dist_bcast(d, st, (size_t)s->n * sizeof *st, 0, err);
    for (int i = 0; i < s->n && !r; i++) s->members[i].status = (warm_member_status)st[i];
    free(st);
    return r;
}

/* Gathers one report per rank on rank 0, which records them (training: finish_member; evaluation: the
 * metrics) and rewrites the manifest; every rank returns rank 0's status. */
static warm_status gather_round(warm_sweep *s, warm_dist *d, const rank_report *mine, int evaluation,
                                const warm_sweep_run_config *rc, warm_error *err) {
    int R = warm_dist_size(d), me = warm_dist_rank(d);
    rank_report *all = me == 0 ? calloc((size_t)R, sizeof *all) : NULL;
    warm_status st = me == 0 && !all ? warm_error_set(err, WARM_ERR_NOMEM, "sweep: out of memory") : WARM_OK;
    st = warm_dist_agree(d, st, err);
    if (!st) st = warm_dist_gather(d, mine, sizeof *mine, all, 0, err);
    for (int r = 0; me == 0 && !st && r < R; r++) {
        const rank_report *e = &all[r];
        if (e->member < 0) continue;
        warm_sweep_member *mb = &s->members[e->member];
        if (!evaluation) {
            st = finish_member(s, e->member, e->code, e->seconds, 0, rc, err);
            continue;
        }
        mb->has_val = e->has_val;
        mb->has_ood = e->has_ood;
        mb->val = e->val;
        mb->ood = e->ood;
        mb->status = WARM_MEMBER_DONE;
        log_eval(mb, rc->log);
    }
    if (me == 0 && !st && evaluation) st = warm_sweep_save(s, err);
    free(all);
    return warm_dist_agree(d, st, err);
}

/* Trains the pending and failed members in rounds: group g of k ranks trains todo[round * G + g]. */
static warm_status train_rounds(warm_sweep *s, const warm_sweep_run_config *rc, warm_dist *group, int color,
                                int G, warm_error *err) {
    int *todo = malloc((size_t)(s->n > 0 ? s->n : 1) * sizeof *todo), nt = 0;
    if (!todo) return warm_error_set(err, WARM_ERR_NOMEM, "sweep: out of memory");
    for (int i = 0; i < s->n; i++)
        if (s->members[i].status == WARM_MEMBER_PENDING || s->members[i].status == WARM_MEMBER_FAILED) todo[nt++] = i;
    warm_status st = WARM_OK;
    for (int round = 0; !st && round * G < nt; round++) {
        rank_report mine;
        memset(&mine, 0, sizeof mine);
        mine.member = -1;
        for (int g = 0; g < G && round * G + g < nt; g++) log_start(s, todo[round * G + g], 0, rc);
        int k = round * G + color;
        if (color < G && k < nt) {
            int i = todo[k];
            char **argv = warm_sweep_member_argv(s, i, rc->exe ? rc->exe : "warm");
            double t0 = warm_time_now();
            int code = argv ? rc->run_member(rc->run_ctx, s, i, argv, group) : 255;
            warm_sweep_argv_free(argv);
            if (warm_dist_rank(group) == 0) {
                mine.member = i;
                mine.code = code;
                mine.seconds = warm_time_now() - t0;
            }
        }
        st = gather_round(s, rc->dist, &mine, 0, rc, err);
    }
    free(todo);
    return st;
}

/* Evaluates the trained members, member j of the list on rank j mod R. */
static warm_status evaluate_spread(warm_sweep *s, const warm_sweep_run_config *rc, warm_error *err) {
    warm_dist *d = rc->dist;
    int R = warm_dist_size(d), me = warm_dist_rank(d), nl = 0;
    warm_status st = share_statuses(s, d, err);
    int *list = malloc((size_t)(s->n > 0 ? s->n : 1) * sizeof *list);
    if (!st && !list) st = warm_error_set(err, WARM_ERR_NOMEM, "sweep: out of memory");
    for (int i = 0; !st && i < s->n; i++)
        if (s->members[i].status == WARM_MEMBER_TRAINED) list[nl++] = i;
    eval_data e;
    memset(&e, 0, sizeof e);
    warm_sweep_run_config quiet = *rc;
    quiet.log = NULL; /* rank 0 logs what it gathers */
    for (int j0 = 0; !st && j0 < nl; j0 += R) {
        rank_report mine;
        memset(&mine, 0, sizeof mine);
        mine.member = -1;
        warm_status mst = WARM_OK;
        if (j0 + me < nl) {
            int i = list[j0 + me];
            mst = evaluate_member(s, i, &quiet, &e, err);
            const warm_sweep_member *mb = &s->members[i];
            mine = (rank_report){i, 0, mb->has_val, mb->has_ood, 0.0, mb->val, mb->ood};
        }
        st = warm_dist_agree(d, mst, err);
        if (!st) st = gather_round(s, d, &mine, 1, rc, err);
    }
    eval_data_free(&e);
    free(list);
    return st;
}

static warm_status sweep_run_ranks(warm_sweep *s, const warm_sweep_run_config *rc, warm_error *err) {
    warm_dist *d = rc->dist;
    if (!rc->run_member)
        return warm_error_set(err, WARM_ERR_ARG, "sweep: over ranks, members train in-process: run_member is needed");
    int R = warm_dist_size(d), me = warm_dist_rank(d);
    int k = s->n > 0 && R >= s->n ? R / s->n : 1, G = R / k, color = me < G * k ? me / k : G;
    warm_dist *group = NULL;
    warm_status st = share_statuses(s, d, err);
    if (!st) st = warm_dist_split(d, color, &group, err);
    if (!st && rc->log)
        fprintf(rc->log, "sweep: %d ranks: %d member%s at a time, %d rank%s each%s\n", R, G, G > 1 ? "s" : "", k,
                k > 1 ? "s (data parallel)" : "", R > G * k ? "; the other ranks wait" : "");
    if (!st) st = train_rounds(s, rc, group, color, G, err);
    warm_dist_free(group);
    if (!st) st = evaluate_spread(s, rc, err);
    if (!st && me == 0) st = sweep_outcome(s, err);
    return warm_dist_agree(d, st, err);
}

warm_status warm_sweep_run(warm_sweep *s, const warm_sweep_run_config *rc, warm_error *err) {
    if (warm_dist_size(rc->dist) > 1) return sweep_run_ranks(s, rc, err);
    if (!rc->run_member && !rc->exe) return warm_error_set(err, WARM_ERR_ARG, "sweep: no warm binary to run");
    int jobs = rc->run_member ? 1 : (rc->jobs > 0 ? rc->jobs : 1);
    int *queue = malloc((size_t)(s->n > 0 ? s->n : 1) * sizeof *queue), nq = 0, qi = 0, nrun = 0;
    slot *slots = calloc((size_t)jobs, sizeof *slots);
    char **env = rc->run_member ? NULL : child_env(rc->threads_per_job);
    eval_data e;
    memset(&e, 0, sizeof e);
    warm_status st = queue && slots && (env || rc->run_member) ? WARM_OK
                                                               : warm_error_set(err, WARM_ERR_NOMEM, "sweep: out of memory");
    for (int i = 0; i < s->n && !st; i++)
        if (s->members[i].status == WARM_MEMBER_PENDING || s->members[i].status == WARM_MEMBER_FAILED) queue[nq++] = i;
    int interrupted = 0;
    while (!st) {
        if (rc->stop && *rc->stop) {
            interrupted = 1;
            stop_children(s, slots, &nrun, rc);
            break;
        }
        while (!st && nrun < jobs && qi < nq && !(rc->stop && *rc->stop)) {
            int inline_run = 0;
            st = start_member(s, queue[qi++], rc, env, &slots[nrun], &inline_run, err);
            if (!st && !inline_run) nrun++;
        }
        if (st) break;
        if (nrun == 0) {
            /* Nothing trains now: evaluate what is waiting (between members, or at the end). */
            for (int i = 0; i < s->n && !st && !(rc->stop && *rc->stop); i++)
                if (s->members[i].status == WARM_MEMBER_TRAINED) {
                    st = evaluate_member(s, i, rc, &e, err);
                    if (!st) st = warm_sweep_save(s, err);
                }
            if (st || qi >= nq) break;
            continue;
        }
        int reaped = 0;
        st = reap(s, slots, &nrun, rc, &reaped, err);
        if (!st && !reaped) sleep_ms(100);
    }
    if (st && nrun > 0) stop_children(s, slots, &nrun, rc);
    if (!st && (interrupted || (rc->stop && *rc->stop))) {
        warm_error ignore;
        warm_sweep_save(s, &ignore);
        st = warm_error_set(err, WARM_ERR_IO, "interrupted; run the same command again to continue");
    }
    if (!st) st = sweep_outcome(s, err);
    eval_data_free(&e);
    child_env_free(env);
    free(queue);
    free(slots);
    return st;
}
