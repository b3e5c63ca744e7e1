/*
 * rm_train.c — one reward-model member: Bradley-Terry fine-tuning of the whole model from (SFT body, probed
 * head) with TRL's logged metrics, validation, kept checkpoints, exact resume and a directory lock.
 * The output directory layout is documented in include/warm/rm.h; the loop mirrors src/train/lm.c.
 *
 * Determinism: the data order is warm_order(n, seed) (a pure function of seed and epoch) and the dropout key
 * of step s is warm_hash64(seed, s), so a run resumed from last.* draws exactly the batches and masks the
 * uninterrupted run would have drawn, and the result is bit-identical.
 *
 * Data parallel (c->dist with R > 1 ranks): every rank keeps the whole model and the whole data order, takes
 * the same batch, and computes the BT step of its part of the pairs, [r*P/R, (r+1)*P/R), with the whole
 * batch's loss scale and dropout masks (warm_trainer_bt_step_part); the gradients are summed over the ranks
 * (warm_dist_reducer: buckets started from the backward pass), and every rank applies the same AdamW step,
 * so the weights stay identical on every rank (checked at every resumable save: a hash of the weights
 * against rank 0's). The result equals the one-process run's up to the summation order of the gradients
 * (docs/scale.md states and tests/test_dist.c checks the tolerance). Validation splits the pairs the same
 * way and sums the statistics. Rank 0 alone locks, reads last.* (and sends it to the others) and writes
 * the directory; every failure is shared (warm_dist_agree), so all ranks stop together.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "warm/progress.h"
#include "warm/rm.h"
#include "warm/train.h"

#define PATH_CAP 4200

warm_rm_train_config warm_rm_train_default(void) {
    warm_rm_train_config c;
    memset(&c, 0, sizeof c);
    c.batch = 16;
    c.steps = 0;
    c.log_every = 10;
    c.resume_every = 100;
    c.resume = 1;
    c.opt = warm_adamw_default(1e-4f);
    c.opt.weight_decay = 0.0f;
    c.opt.grad_clip = 1.0f;
    c.opt.schedule = 2;
    c.opt.min_lr_frac = 0.0f;
    c.bucket_floats = (size_t)25 << 18; /* 25 MiB of floats */
    c.overlap = 1;
    return c;
}

int64_t warm_rm_steps_for_epochs(double epochs, int64_t n, int batch) {
    if (!(epochs > 0.0) || n < 1 || batch < 1) return 1;
    double s = ceil(epochs * (double)n / (double)batch - 1e-9);
    return s < 1.0 ? 1 : (int64_t)s;
}

char *warm_rm_hparams_json(const warm_rm_hparams *h, int with_steps) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "kind", "reward-model");
    cJSON_AddStringToObject(o, "init", h->init ? h->init : "");
    if (h->head) cJSON_AddStringToObject(o, "head", h->head);
    else cJSON_AddNullToObject(o, "head");
    cJSON_AddStringToObject(o, "head_source", h->head_source ? h->head_source : "");
    cJSON_AddStringToObject(o, "data", h->data ? h->data : "");
    if (h->subset) cJSON_AddStringToObject(o, "subset", h->subset);
    else cJSON_AddNullToObject(o, "subset");
    cJSON_AddNumberToObject(o, "lr", h->lr);
    cJSON_AddNumberToObject(o, "dropout", h->dropout);
    cJSON_AddNumberToObject(o, "seed", (double)h->seed);
    cJSON_AddNumberToObject(o, "batch", h->batch);
    if (with_steps) cJSON_AddNumberToObject(o, "steps", (double)h->steps);
    cJSON_AddNumberToObject(o, "warmup", h->warmup);
    cJSON_AddStringToObject(o, "schedule", h->schedule ? h->schedule : "");
    cJSON_AddNumberToObject(o, "min_lr_frac", h->min_lr_frac);
    cJSON_AddNumberToObject(o, "weight_decay", h->weight_decay);
    cJSON_AddNumberToObject(o, "clip", h->clip);
    cJSON_AddNumberToObject(o, "center", h->center);
    cJSON_AddBoolToObject(o, "margin", h->use_margins != 0);
    cJSON_AddStringToObject(o, "optimizer", "adamw(0.9, 0.999, 1e-8)");
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* ---- batches ---- */

typedef struct {
    int32_t *tokens, *lengths;
    float *margins, *rewards;
} bt_buffers;

static warm_status buffers_init(bt_buffers *b, int P, int T, warm_error *err) {
    b->tokens = malloc((size_t)2 * P * (size_t)T * sizeof *b->tokens);
    b->lengths = malloc((size_t)2 * P * sizeof *b->lengths);
    b->margins = malloc((size_t)P * sizeof *b->margins);
    b->rewards = malloc((size_t)2 * P * sizeof *b->rewards);
    if (!b->tokens || !b->lengths || !b->margins || !b->rewards)
        return warm_error_set(err, WARM_ERR_NOMEM, "rm: out of memory for batch buffers");
    return WARM_OK;
}

static void buffers_free(bt_buffers *b) {
    free(b->tokens);
    free(b->lengths);
    free(b->margins);
    free(b->rewards);
}

/* ---- validation ---- */

static double log1p_exp(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

/* Sums over validated pairs: loss, strict and tie-inclusive hits, margin, reward sum, pairs. */
enum { VS_LOSS, VS_GT, VS_GE, VS_MARGIN, VS_REWARD, VS_N, VS_COUNT };

/* Validation of the first n pairs of idx (at most max_pairs, <= 0: all), P pairs per forward. With d of R
 * ranks, rank r scores its share [r*n'/R, (r+1)*n'/R) of the n' pairs and the sums are added over the ranks. */
static warm_status validate_with(warm_trainer *tr, const warm_prefs *d, const int64_t *idx, int64_t n, int P,
                                 int64_t max_pairs, int use_margins, bt_buffers *b, warm_dist *dist,
                                 warm_rm_val_stats *out, warm_error *err) {
    memset(out, 0, sizeof *out);
    double sum[VS_COUNT] = {0};
    if (max_pairs > 0 && n > max_pairs) n = max_pairs;
    int64_t R = warm_dist_size(dist), me = warm_dist_rank(dist), lo = me * n / R, hi = (me + 1) * n / R;
    warm_status s = WARM_OK;
    for (int64_t i = lo; i < hi && !s; i += P) {
        int k = (int)(hi - i < P ? hi - i : P), T;
        s = warm_prefs_batch(d, idx + i, k, 0, b->tokens, b->lengths, b->margins, &T, err);
        if (s) break;
        warm_trainer_bt_step(tr, b->tokens, b->lengths, k, T, NULL, 0.0f, 0, 0, 0, b->rewards);
        for (int p = 0; p < k; p++) {
            float rc = b->rewards[p], rr = b->rewards[k + p];
            double dm = (double)rc - (double)rr - (use_margins ? (double)b->margins[p] : 0.0);
            sum[VS_LOSS] += log1p_exp(-dm);
            sum[VS_GT] += rc > rr;
            sum[VS_GE] += rc >= rr;
            sum[VS_MARGIN] += (double)rc - (double)rr;
            sum[VS_REWARD] += (double)rc + (double)rr;
        }
        sum[VS_N] += k;
    }
    s = warm_dist_agree(dist, s, err);
    if (!s) s = warm_dist_allreduce_f64(dist, sum, VS_COUNT, WARM_DIST_SUM, err);
    if (s) return s;
    double seen = sum[VS_N];
    out->n = (int64_t)seen;
    if (seen > 0) {
        out->loss = (float)(sum[VS_LOSS] / seen);
        out->acc_gt = (float)(sum[VS_GT] / seen);
        out->acc_ge = (float)(sum[VS_GE] / seen);
        out->margin = (float)(sum[VS_MARGIN] / seen);
        out->reward_mean = (float)(sum[VS_REWARD] / (2.0 * seen));
    }
    return WARM_OK;
}

warm_status warm_rm_validate(warm_model *m, const warm_prefs *d, const int64_t *idx, int64_t n, int batch,
                             int use_margins, warm_rm_val_stats *out, warm_error *err) {
    memset(out, 0, sizeof *out);
    if (n <= 0) return WARM_OK;
    if (batch < 1) batch = 1;
    warm_trainer *tr = NULL;
    bt_buffers b = {0};
    warm_status s = warm_trainer_init(&tr, m, 2 * batch, d->max_seq, 0, err);
    if (!s) s = buffers_init(&b, batch, d->max_seq, err);
    if (!s) s = validate_with(tr, d, idx, n, batch, 0, use_margins, &b, NULL, out, err);
    buffers_free(&b);
    warm_trainer_free(tr);
    return s;
}

/* ---- directory lock ---- */

warm_status warm_rm_lock_dir(const char *dir, int *fd, warm_error *err) {
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/.lock", dir);
    *fd = open(path, O_RDWR | O_CREAT, 0644);
    if (*fd < 0) return warm_error_set(err, WARM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(*fd, F_SETLK, &fl) == 0) return WARM_OK;
    int e = errno;
    struct flock who;
    memset(&who, 0, sizeof who);
    who.l_type = F_WRLCK;
    who.l_whence = SEEK_SET;
    long pid = fcntl(*fd, F_GETLK, &who) == 0 && who.l_type != F_UNLCK ? (long)who.l_pid : -1;
    close(*fd);
    *fd = -1;
    if (e == EACCES || e == EAGAIN)
        return warm_error_set(err, WARM_ERR_IO, "%s: another process (pid %ld) is training in this directory", dir, pid);
    return warm_error_set(err, WARM_ERR_IO, "%s: cannot lock: %s", path, strerror(e));
}

/* ---- checkpoints ---- */

static warm_status save_weights(const warm_model *m, const char *path, const warm_rm_train_config *c,
                                warm_error *err) {
    char step[32];
    snprintf(step, sizeof step, "%lld", (long long)m->step);
    const char *k[3] = {"warm.step", NULL, NULL}, *v[3] = {step, NULL, NULL};
    int n = 1;
    if (c->train_json) {
        k[n] = "warm.train";
        v[n++] = c->train_json;
    }
    if (c->run_key) {
        k[n] = "warm.run";
        v[n++] = c->run_key;
    }
    return warm_model_save(m, path, WARM_DTYPE_F32, k, v, n, err);
}

static warm_status save_resumable(const warm_model *m, const warm_order *o, const warm_rm_train_config *c,
                                  warm_error *err) {
    char wpath[PATH_CAP], spath[PATH_CAP];
    snprintf(wpath, sizeof wpath, "%s/last.safetensors", c->out_dir);
    snprintf(spath, sizeof spath, "%s/last.state.safetensors", c->out_dir);
    /* rng_state records the seed: order and masks are pure functions of (seed, epoch, step). State first,
     * weights second; resume requires both to name the same step. */
    warm_train_meta meta = {m->step, c->seed, o->pos, o->epoch};
    warm_status s = warm_train_state_save(m, spath, &meta, err);
    if (!s) s = save_weights(m, wpath, c, err);
    return s;
}

static warm_status save_named(const warm_model *m, const char *name, const warm_rm_train_config *c,
                              warm_error *err) {
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/%s", c->out_dir, name);
    return save_weights(m, path, c, err);
}

/*
 * Loads out_dir/last.* into m and positions the order; *resumed = the step (0: nothing to resume). A pair
 * whose two files name different steps (a run killed between the two writes) sets *restarted and trains
 * from the start: the run is deterministic, so that gives the same result.
 */
static warm_status try_resume(warm_model *m, warm_order *o, const warm_rm_train_config *c, int64_t *resumed,
                              int *restarted, warm_error *err) {
    char wpath[PATH_CAP], spath[PATH_CAP];
    snprintf(wpath, sizeof wpath, "%s/last.safetensors", c->out_dir);
    snprintf(spath, sizeof spath, "%s/last.state.safetensors", c->out_dir);
    *resumed = 0;
    if (!warm_file_exists(wpath) || !warm_file_exists(spath)) return WARM_OK;
    warm_st_file f;
    warm_status s = warm_st_open(&f, wpath, err);
    if (s) return s;
    const char *key = warm_st_meta(&f, "warm.run");
    if (c->run_key && (!key || strcmp(key, c->run_key) != 0))
        s = warm_error_set(err, WARM_ERR_MISMATCH,
                           "%s: the run in this directory has other settings (saved %s; now %s); use another "
                           "directory or --restart", c->out_dir, key ? key : "none", c->run_key);
    int64_t wstep = warm_st_meta_step(&f);
    warm_st_close(&f);
    if (s) return s;
    warm_model saved;
    s = warm_model_load(&saved, wpath, 0, err);
    if (s) return s;
    if (saved.n_params != m->n_params || memcmp(&saved.cfg, &m->cfg, sizeof m->cfg) != 0) {
        warm_model_free(&saved);
        return warm_error_set(err, WARM_ERR_MISMATCH, "%s: the run in this directory has another model config "
                              "(dropout or size)", wpath);
    }
    float *start = malloc(m->n_params * sizeof *start);
    if (!start) {
        warm_model_free(&saved);
        return warm_error_set(err, WARM_ERR_NOMEM, "rm: out of memory");
    }
    memcpy(start, m->params, m->n_params * sizeof *start);
    memcpy(m->params, saved.params, m->n_params * sizeof(float));
    warm_model_free(&saved);
    warm_train_meta meta;
    s = warm_train_state_load(m, spath, &meta, err);
    if (!s && meta.rng_state != c->seed)
        s = warm_error_set(err, WARM_ERR_MISMATCH, "%s: saved with seed %llu, this run uses %llu", spath,
                           (unsigned long long)meta.rng_state, (unsigned long long)c->seed);
    if (!s && meta.step != wstep) {
        /* Back to the caller's starting point with fresh optimiser state. */
        memcpy(m->params, start, m->n_params * sizeof *start);
        memset(m->m, 0, m->n_params * sizeof(float));
        memset(m->v, 0, m->n_params * sizeof(float));
        m->step = 0;
        *restarted = 1;
        free(start);
        return WARM_OK;
    }
    free(start);
    if (!s) s = warm_order_seek(o, meta.epoch, meta.data_pos, err);
    if (!s) *resumed = meta.step;
    return s;
}

/* ---- metrics ---- */

static void metrics_line(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void metrics_line(FILE *f, const char *fmt, ...) {
    if (!f) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fflush(f);
}

static void val_line(FILE *f, int64_t step, const warm_rm_val_stats *v) {
    metrics_line(f, "{\"step\":%lld,\"eval_loss\":%.6f,\"eval_accuracy\":%.6f,\"eval_accuracy_ge\":%.6f,"
                 "\"eval_margin\":%.6f,\"eval_mean_reward\":%.6f,\"eval_pairs\":%lld}",
                 (long long)step, (double)v->loss, (double)v->acc_gt, (double)v->acc_ge, (double)v->margin,
                 (double)v->reward_mean, (long long)v->n);
}

/* Means of the BT statistics over a log interval (min/max over it). */
typedef struct {
    double loss, acc, margin, rmean;
    float rmin, rmax;
    int n;
} interval_acc;

static void interval_reset(interval_acc *a) {
    memset(a, 0, sizeof *a);
    a->rmin = INFINITY;
    a->rmax = -INFINITY;
}

static void interval_add(interval_acc *a, const warm_bt_stats *st) {
    a->loss += (double)st->loss;
    a->acc += (double)st->accuracy;
    a->margin += (double)st->margin;
    a->rmean += (double)st->reward_mean;
    a->rmin = fminf(a->rmin, st->reward_min);
    a->rmax = fmaxf(a->rmax, st->reward_max);
    a->n++;
}

static warm_bt_stats interval_mean(const interval_acc *a) {
    warm_bt_stats s = {(float)(a->loss / a->n), (float)(a->acc / a->n), (float)(a->margin / a->n),
                       (float)(a->rmean / a->n), a->rmin, a->rmax};
    return s;
}

/* ---- ranks (data parallel) ---- */

/* Rank 0 writes; the others wait for its verdict (every rank returns the same status). */
static warm_status lead_save(const warm_model *m, const warm_order *o, const char *name,
                             const warm_rm_train_config *c, warm_error *err) {
    warm_status s = WARM_OK;
    if (warm_dist_rank(c->dist) == 0) s = name ? save_named(m, name, c, err) : save_resumable(m, o, c, err);
    return warm_dist_agree(c->dist, s, err);
}

/* FNV-1a over the weights' bytes: equal on every rank while the ranks agree. */
static uint64_t weights_hash(const warm_model *m) {
    const unsigned char *b = (const unsigned char *)m->params;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < m->n_params * sizeof(float); i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* Every rank must hold rank 0's weights (the allreduce gave every rank the same sums). */
static warm_status check_in_sync(const warm_model *m, const warm_rm_train_config *c, warm_error *err) {
    if (warm_dist_size(c->dist) < 2) return WARM_OK;
    uint64_t mine = weights_hash(m), lead = mine;
    warm_status s = warm_dist_bcast(c->dist, &lead, sizeof lead, 0, err);
    if (!s && mine != lead)
        s = warm_error_set(err, WARM_ERR_MISMATCH, "rm: after step %lld the weights of rank %d differ from rank 0's "
                           "(the gradient allreduce did not give every rank the same sums)", (long long)m->step,
                           warm_dist_rank(c->dist));
    return warm_dist_agree(c->dist, s, err);
}

/* What rank 0 found in the run directory, sent to the others with its last.* weights and moments. */
typedef struct {
    int64_t resumed_from, step, epoch, pos;
    int32_t restarted, already_done;
} resume_head;

static warm_status share_resume(warm_model *m, warm_order *o, warm_rm_train_result *res, int *already_done,
                                const warm_rm_train_config *c, warm_error *err) {
    resume_head h = {res->resumed_from, m->step, o->epoch, o->pos, res->restarted, *already_done};
    warm_status s = warm_dist_bcast(c->dist, &h, sizeof h, 0, err);
    if (!s && h.resumed_from > 0) s = warm_dist_bcast(c->dist, m->params, m->n_params * sizeof(float), 0, err);
    if (!s && h.resumed_from > 0) s = warm_dist_bcast(c->dist, m->m, m->n_params * sizeof(float), 0, err);
    if (!s && h.resumed_from > 0) s = warm_dist_bcast(c->dist, m->v, m->n_params * sizeof(float), 0, err);
    if (!s && warm_dist_rank(c->dist) != 0) {
        res->resumed_from = h.resumed_from;
        res->restarted = h.restarted;
        *already_done = h.already_done;
        m->step = h.step;
        s = warm_order_seek(o, h.epoch, h.pos, err);
    }
    return warm_dist_agree(c->dist, s, err);
}

static void reducer_ready(void *ctx, size_t from) { warm_dist_reducer_ready(ctx, from); }

/* ---- the loop ---- */

typedef struct {
    warm_order order;
    warm_trainer *tr;
    bt_buffers buf;
    int64_t *rows;
    FILE *metrics;
    int lock_fd;
    warm_dist_reducer *red; /* data parallel: the gradient sums (NULL alone) */
} rm_run;

static void run_free(rm_run *r) {
    if (r->metrics) fclose(r->metrics);
    buffers_free(&r->buf);
    warm_trainer_free(r->tr);
    warm_order_free(&r->order);
    warm_dist_reducer_free(r->red);
    free(r->rows);
    if (r->lock_fd >= 0) close(r->lock_fd);
}

static warm_status check_config(const warm_model *m, const warm_prefs *train, const warm_prefs *val,
                                const warm_rm_train_config *c, warm_error *err) {
    if (!c->out_dir) return warm_error_set(err, WARM_ERR_ARG, "rm: no output directory");
    if (c->batch < 1 || c->batch > 4096 || c->steps < 1)
        return warm_error_set(err, WARM_ERR_ARG, "rm: batch must be in [1, 4096] and steps >= 1");
    if (c->steps > INT32_MAX) return warm_error_set(err, WARM_ERR_ARG, "rm: at most %d steps", INT32_MAX);
    if (train->max_seq > m->cfg.n_positions || (val && val->max_seq > m->cfg.n_positions))
        return warm_error_set(err, WARM_ERR_ARG, "rm: data rows of %d tokens exceed the model's context %d",
                              val && val->max_seq > train->max_seq ? val->max_seq : train->max_seq,
                              m->cfg.n_positions);
    return WARM_OK;
}

/* One optimiser step on the next batch; accumulates statistics into acc and tokens. Data parallel: this rank's
 * part of the batch, statistics as its share of the batch means (summed over the ranks when logged). */
static warm_status train_step(warm_model *m, rm_run *r, const warm_prefs *train, const int64_t *tidx,
                              const warm_rm_train_config *c, const warm_adamw_config *opt, interval_acc *acc,
                              double *tokens, float *lr, float *gnorm, warm_error *err) {
    warm_order_take(&r->order, tidx, r->rows, c->batch);
    int T, P = c->batch, R = warm_dist_size(c->dist), me = warm_dist_rank(c->dist);
    warm_status s = warm_prefs_batch(train, r->rows, P, 0, r->buf.tokens, r->buf.lengths, r->buf.margins, &T, err);
    if (s) return s;
    uint64_t key = warm_hash64(c->seed, (uint64_t)m->step);
    const float *margins = c->use_margins ? r->buf.margins : NULL;
    warm_bt_stats st;
    if (R < 2) {
        st = warm_trainer_bt_step(r->tr, r->buf.tokens, r->buf.lengths, P, T, margins, c->center, 1, key, 1, NULL);
    } else {
        int p0 = (int)((int64_t)me * P / R), p1 = (int)((int64_t)(me + 1) * P / R);
        st = warm_trainer_bt_step_part(r->tr, r->buf.tokens, r->buf.lengths, P, T, p0, p1, margins, c->center, 1, key,
                                       1, NULL);
        float share = (float)(p1 - p0) / (float)P;
        st.loss *= share;
        st.accuracy *= share;
        st.margin *= share;
        st.reward_mean *= share;
        s = warm_dist_reducer_finish(r->red, err);
        if (s) return s;
    }
    *lr = warm_lr_at(opt, m->step);
    *gnorm = warm_model_adamw_step(m, opt, 0);
    /* The norm is of the summed gradient, the same on every rank; a part's loss is checked once summed. */
    if ((R < 2 && !isfinite(st.loss)) || !isfinite(*gnorm))
        return warm_error_set(err, WARM_ERR_ARG, "rm: loss %g / gradient norm %g at step %lld is not finite "
                              "(lower the learning rate?)", (double)st.loss, (double)*gnorm, (long long)m->step);
    for (int b = 0; b < 2 * P; b++) *tokens += r->buf.lengths[b];
    interval_add(acc, &st);
    return WARM_OK;
}

/* The interval's statistics over every rank (data parallel: the ranks' shares add up to the batch means). */
static warm_status interval_sum(interval_acc *a, const warm_rm_train_config *c, int64_t step, warm_error *err) {
    if (warm_dist_size(c->dist) < 2) return WARM_OK;
    double sum[4] = {a->loss, a->acc, a->margin, a->rmean}, lo = a->rmin, hi = a->rmax;
    warm_status s = warm_dist_allreduce_f64(c->dist, sum, 4, WARM_DIST_SUM, err);
    if (!s) s = warm_dist_allreduce_f64(c->dist, &lo, 1, WARM_DIST_MIN, err);
    if (!s) s = warm_dist_allreduce_f64(c->dist, &hi, 1, WARM_DIST_MAX, err);
    a->loss = sum[0];
    a->acc = sum[1];
    a->margin = sum[2];
    a->rmean = sum[3];
    a->rmin = (float)lo;
    a->rmax = (float)hi;
    if (!s && !isfinite(a->loss))
        s = warm_error_set(err, WARM_ERR_ARG, "rm: mean loss %g up to step %lld is not finite (lower the learning "
                           "rate?)", a->loss, (long long)step);
    return s;
}

/* Pairs of a rank's part of a batch, at most: ceil(batch / R) (the batch alone). */
static int part_max(const warm_rm_train_config *c) {
    int R = warm_dist_size(c->dist);
    return (c->batch + R - 1) / R;
}

/* Validation on the ranks of c->dist, a part of a batch per forward, capped at eval_batches batches. */
static warm_status validate_run(rm_run *r, const warm_prefs *val, const int64_t *vidx, int64_t nv,
                                const warm_rm_train_config *c, warm_rm_val_stats *out, warm_error *err) {
    int64_t cap = c->eval_batches > 0 ? (int64_t)c->eval_batches * c->batch : 0;
    return validate_with(r->tr, val, vidx, nv, part_max(c), cap, c->use_margins, &r->buf, c->dist, out, err);
}

/* Directory, lock, buffers and the resume point: rank 0 owns the directory, every rank the rest. */
static warm_status run_setup(warm_model *m, rm_run *r, const warm_prefs *train, int64_t nt, const warm_prefs *val,
                             int64_t nv, const warm_rm_train_config *c, warm_rm_train_result *res, int *already_done,
                             warm_error *err) {
    int lead = warm_dist_rank(c->dist) == 0;
    warm_status s = lead ? warm_mkdir_p(c->out_dir, err) : WARM_OK;
    if (!s && lead) s = warm_rm_lock_dir(c->out_dir, &r->lock_fd, err);
    int Tmax = train->max_seq;
    if (nv > 0 && val->max_seq > Tmax) Tmax = val->max_seq;
    r->rows = malloc((size_t)c->batch * sizeof *r->rows);
    if (!s && !r->rows) s = warm_error_set(err, WARM_ERR_NOMEM, "rm: out of memory");
    if (!s) s = warm_model_alloc_train(m, err);
    if (!s) s = warm_order_init(&r->order, nt, c->seed, 1, err);
    /* Data parallel: a rank's part is at most ceil(P / R) pairs, and its activations are sized for that. */
    if (!s) s = warm_trainer_init(&r->tr, m, 2 * part_max(c), Tmax, 0, err);
    if (!s) s = buffers_init(&r->buf, c->batch, Tmax, err);
    if (!s && warm_dist_size(c->dist) > 1) {
        s = warm_dist_reducer_init(&r->red, c->dist, m->grads, m->n_params, c->bucket_floats, c->overlap, err);
        if (!s) warm_trainer_set_grad_ready(r->tr, reducer_ready, r->red);
    }
    if (!s && lead && c->resume) s = try_resume(m, &r->order, c, &res->resumed_from, &res->restarted, err);
    if (!s && res->resumed_from == 0) m->step = 0;
    char final_path[PATH_CAP];
    snprintf(final_path, sizeof final_path, "%s/final.safetensors", c->out_dir);
    *already_done = lead && res->resumed_from >= c->steps && warm_file_exists(final_path);
    s = warm_dist_agree(c->dist, s, err);
    return s ? s : warm_dist_size(c->dist) > 1 ? share_resume(m, &r->order, res, already_done, c, err) : WARM_OK;
}

warm_status warm_rm_train(warm_model *m, const warm_prefs *train, const int64_t *tidx, int64_t nt,
                          const warm_prefs *val, const int64_t *vidx, int64_t nv, const warm_rm_train_config *c,
                          warm_rm_train_result *res, warm_error *err) {
    memset(res, 0, sizeof *res);
    if (!val) nv = 0;
    warm_status s = check_config(m, train, val, c, err);
    if (s) return s;
    int lead = warm_dist_rank(c->dist) == 0, already_done = 0;
    rm_run r;
    memset(&r, 0, sizeof r);
    r.lock_fd = -1;
    s = run_setup(m, &r, train, nt, val, nv, c, res, &already_done, err);
    if (!s && already_done) {
        res->already_done = 1;
        res->steps_done = m->step;
        run_free(&r);
        return WARM_OK;
    }
    if (!s && nv > 0 && res->resumed_from == 0)
        s = validate_run(&r, val, vidx, nv, c, &res->val_first, err);
    if (!s && lead) {
        char mpath[PATH_CAP];
        snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", c->out_dir);
        if (res->resumed_from) s = warm_metrics_trim(mpath, res->resumed_from, err);
        r.metrics = s ? NULL : fopen(mpath, res->resumed_from ? "a" : "w");
        if (!s && !r.metrics) s = warm_error_set(err, WARM_ERR_IO, "%s: cannot open for writing: %s", mpath, strerror(errno));
    }
    if (warm_dist_size(c->dist) > 1) s = warm_dist_agree(c->dist, s, err);
    if (!s && res->val_first.n > 0) val_line(r.metrics, 0, &res->val_first);
    warm_adamw_config opt = c->opt;
    opt.total_steps = (int)c->steps;
    warm_progress prog;
    warm_progress_init(&prog, lead ? c->progress : NULL, "train-rm", c->steps);
    double t0 = warm_time_now(), tokens = 0.0, tokens_total = 0.0;
    interval_acc acc;
    interval_reset(&acc);
    int64_t stop_at = c->stop_after > 0 && m->step + c->stop_after < c->steps ? m->step + c->stop_after : c->steps;
    while (!s && m->step < stop_at) {
        float lr, gnorm;
        s = train_step(m, &r, train, tidx, c, &opt, &acc, &tokens, &lr, &gnorm, err);
        if (s) break;
        int64_t step = m->step;
        if (c->log_every > 0 && (step % c->log_every == 0 || step == c->steps)) {
            s = interval_sum(&acc, c, step, err);
            if (s) break;
            res->last = interval_mean(&acc);
            tokens_total += tokens;
            double epoch = (double)step * c->batch / (double)nt;
            metrics_line(r.metrics, "{\"step\":%lld,\"epoch\":%.4f,\"loss\":%.6f,\"accuracy\":%.4f,\"margin\":%.6f,"
                         "\"mean_reward\":%.6f,\"min_reward\":%.6f,\"max_reward\":%.6f,\"lr\":%.6g,"
                         "\"grad_norm\":%.6g,\"num_tokens\":%.0f}",
                         (long long)step, epoch, (double)res->last.loss, (double)res->last.accuracy,
                         (double)res->last.margin, (double)res->last.reward_mean, (double)res->last.reward_min,
                         (double)res->last.reward_max, (double)lr, (double)gnorm, tokens);
            warm_progress_set_extra(&prog, "loss %.4f acc %.3f", (double)res->last.loss, (double)res->last.accuracy);
            interval_reset(&acc);
            tokens = 0.0;
        }
        int last = step == c->steps;
        if (nv > 0 && ((c->eval_every > 0 && step % c->eval_every == 0) || last)) {
            s = validate_run(&r, val, vidx, nv, c, &res->val, err);
            if (!s) {
                val_line(r.metrics, step, &res->val);
                warm_progress_set_extra(&prog, "loss %.4f val acc %.3f", (double)res->last.loss,
                                        (double)res->val.acc_gt);
            }
        }
        if (!s && c->save_every > 0 && step % c->save_every == 0) {
            char name[64];
            snprintf(name, sizeof name, "step-%07lld.safetensors", (long long)step);
            s = lead_save(m, &r.order, name, c, err);
        }
        if (!s && !last && step < stop_at && c->resume_every > 0 && step % c->resume_every == 0) {
            s = check_in_sync(m, c, err);
            if (!s) s = lead_save(m, &r.order, NULL, c, err);
        }
        warm_progress_update(&prog, step);
    }
    tokens_total += tokens;
    if (!s) s = check_in_sync(m, c, err);
    if (!s) s = lead_save(m, &r.order, NULL, c, err);
    if (!s && m->step == c->steps) s = lead_save(m, &r.order, "final.safetensors", c, err);
    if (!s) warm_progress_finish(&prog);
    else warm_progress_clear(&prog);
    res->steps_done = m->step;
    res->seconds = warm_time_now() - t0;
    res->tokens_per_s = res->seconds > 0 ? tokens_total / res->seconds : 0;
    res->allreduce_wait_s = warm_dist_reducer_wait_seconds(r.red);
    run_free(&r);
    return s;
}
