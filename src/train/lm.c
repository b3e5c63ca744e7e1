/*
 * lm.c — the LM training loop (pretraining and SFT): seeded resumable data order, masked LM loss, AdamW with
 * warm-up + schedule, validation loss, kept checkpoints (Baklava initialisations), exact resume, metrics.
 * See include/warm/train.h for the output directory layout.
 */
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "warm/progress.h"
#include "warm/train.h"

warm_status warm_mkdir_p(const char *path, warm_error *err) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return warm_error_set(err, WARM_ERR_ARG, "%s: path too long", path);
    for (char *p = buf + 1;; p++) {
        int end = *p == 0;
        if (*p == '/' || end) {
            *p = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return warm_error_set(err, WARM_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
            if (end) break;
            *p = '/';
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return warm_error_set(err, WARM_ERR_IO, "%s: not a directory", path);
    return WARM_OK;
}

int warm_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

warm_lm_train_config warm_lm_train_default(void) {
    warm_lm_train_config c;
    memset(&c, 0, sizeof c);
    c.batch = 16;
    c.steps = 1000;
    c.log_every = 10;
    c.opt = warm_adamw_default(1e-3f);
    c.opt.weight_decay = 0.1f;
    c.opt.grad_clip = 1.0f;
    c.opt.schedule = 1;
    c.opt.min_lr_frac = 0.1f;
    return c;
}

/* Batch buffers for up to B rows of up to T tokens. */
typedef struct {
    int32_t *tokens, *targets, *lengths;
    float *mask;
} lm_buffers;

static warm_status buffers_init(lm_buffers *b, int B, int T, warm_error *err) {
    size_t n = (size_t)B * (size_t)T;
    b->tokens = malloc(n * sizeof(int32_t));
    b->targets = malloc(n * sizeof(int32_t));
    b->lengths = malloc((size_t)B * sizeof(int32_t));
    b->mask = malloc(n * sizeof(float));
    if (!b->tokens || !b->targets || !b->lengths || !b->mask)
        return warm_error_set(err, WARM_ERR_NOMEM, "lm: out of memory for batch buffers");
    return WARM_OK;
}

static void buffers_free(lm_buffers *b) {
    free(b->tokens);
    free(b->targets);
    free(b->lengths);
    free(b->mask);
}

static float mask_sum(const float *mask, const int32_t *lengths, int B, int T) {
    double s = 0.0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < lengths[b]; t++) s += (double)mask[(size_t)b * T + t];
    return (float)s;
}

static warm_status eval_with(warm_trainer *tr, const warm_lmdata *d, const int64_t *idx, int64_t n, int batch,
                             int max_batches, lm_buffers *buf, float *loss, warm_error *err) {
    double total = 0.0, weight = 0.0;
    int nb = 0;
    for (int64_t i = 0; i < n && (max_batches <= 0 || nb < max_batches); i += batch, nb++) {
        int B = (int)(n - i < batch ? n - i : batch), T;
        warm_status s = warm_lm_batch(d, idx + i, B, 0, buf->tokens, buf->targets, buf->mask, buf->lengths, &T, err);
        if (s) return s;
        float w = mask_sum(buf->mask, buf->lengths, B, T);
        if (w <= 0.0f) continue;
        float l = warm_trainer_lm_step(tr, buf->tokens, buf->lengths, buf->targets, buf->mask, B, T, 0, 0, 0);
        total += (double)l * (double)w;
        weight += (double)w;
    }
    *loss = weight > 0.0 ? (float)(total / weight) : NAN;
    return WARM_OK;
}

warm_status warm_lm_eval(warm_model *m, const warm_lmdata *d, const int64_t *idx, int64_t n, int batch,
                         int max_batches, float *loss, warm_error *err) {
    warm_trainer *tr = NULL;
    lm_buffers buf = {0};
    warm_status s = warm_trainer_init(&tr, m, batch, d->max_seq, 1, err);
    if (!s) s = buffers_init(&buf, batch, d->max_seq, err);
    if (!s) s = eval_with(tr, d, idx, n, batch, max_batches, &buf, loss, err);
    buffers_free(&buf);
    warm_trainer_free(tr);
    return s;
}

/* ---- checkpoints ---- */

static warm_status save_resumable(warm_model *m, const char *dir, const warm_order *o, uint64_t seed,
                                  warm_error *err) {
    char wpath[4200], spath[4200];
    snprintf(wpath, sizeof wpath, "%s/last.safetensors", dir);
    snprintf(spath, sizeof spath, "%s/last.state.safetensors", dir);
    /* rng_state carries the seed: data order and dropout masks are pure functions of (seed, epoch, step). */
    warm_train_meta meta = {m->step, seed, o->pos, o->epoch};
    /* State first, weights second: a crash between the two leaves last.state newer than last.safetensors,
     * which resume detects (step mismatch) instead of silently mixing steps. */
    warm_status s = warm_train_state_save(m, spath, &meta, err);
    if (!s) {
        char step[32];
        snprintf(step, sizeof step, "%lld", (long long)m->step);
        const char *k[1] = {"warm.step"}, *v[1] = {step};
        s = warm_model_save(m, wpath, WARM_DTYPE_F32, k, v, 1, err);
    }
    return s;
}

static warm_status save_kept(const warm_model *m, const char *dir, const char *name, warm_error *err) {
    char path[4200], step[32];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(step, sizeof step, "%lld", (long long)m->step);
    const char *k[1] = {"warm.step"}, *v[1] = {step};
    return warm_model_save(m, path, WARM_DTYPE_F32, k, v, 1, err);
}

/* Loads out_dir/last.* into m and positions the data order; *resumed = step (0 if nothing to resume). A pair whose
 * two files name different steps (a run killed between the two writes: state first, weights second) is not
 * resumed: m keeps its starting weights with fresh optimiser state and the run trains from step 0, which gives
 * the same result because the run is deterministic. */
static warm_status try_resume(warm_model *m, const char *dir, warm_order *o, uint64_t seed, int64_t *resumed,
                              warm_error *err) {
    char wpath[4200], spath[4200];
    snprintf(wpath, sizeof wpath, "%s/last.safetensors", dir);
    snprintf(spath, sizeof spath, "%s/last.state.safetensors", dir);
    *resumed = 0;
    if (!warm_file_exists(wpath) || !warm_file_exists(spath)) return WARM_OK;
    warm_st_file f;
    warm_status s = warm_st_open(&f, wpath, err);
    if (s) return s;
    int64_t wstep = warm_st_meta_step(&f);
    warm_st_close(&f);
    warm_model saved;
    s = warm_model_load(&saved, wpath, 0, err);
    if (s) return s;
    if (saved.n_params != m->n_params || memcmp(&saved.cfg, &m->cfg, sizeof m->cfg) != 0) {
        warm_model_free(&saved);
        return warm_error_set(err, WARM_ERR_MISMATCH, "%s: the run in this directory has another model config", wpath);
    }
    /* saved keeps the starting weights, m takes the saved ones */
    for (size_t i = 0; i < m->n_params; i++) {
        float x = m->params[i];
        m->params[i] = saved.params[i];
        saved.params[i] = x;
    }
    warm_train_meta meta;
    s = warm_train_state_load(m, spath, &meta, err);
    if (!s && meta.rng_state != seed)
        s = warm_error_set(err, WARM_ERR_MISMATCH, "%s: saved with seed %llu, this run uses %llu", spath,
                           (unsigned long long)meta.rng_state, (unsigned long long)seed);
    if (!s && meta.step != wstep) { /* back to the starting weights, fresh optimiser state */
        memcpy(m->params, saved.params, m->n_params * sizeof(float));
        memset(m->m, 0, m->n_params * sizeof(float));
        memset(m->v, 0, m->n_params * sizeof(float));
        m->step = 0;
    }
    int mismatch = !s && meta.step != wstep;
    warm_model_free(&saved);
    if (s || mismatch) return s;
    s = warm_order_seek(o, meta.epoch, meta.data_pos, err);
    if (!s) *resumed = meta.step;
    return s;
}

/* ---- the loop ---- */

typedef struct {
    FILE *f;
} metrics_log;

static void metrics_line(metrics_log *ml, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void metrics_line(metrics_log *ml, const char *fmt, ...) {
    if (!ml->f) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(ml->f, fmt, ap);
    va_end(ap);
    fputc('\n', ml->f);
    fflush(ml->f);
}

warm_status warm_lm_train(warm_model *m, const warm_lmdata *train, const int64_t *train_idx, int64_t n_train,
                          const warm_lmdata *val, const int64_t *val_idx, int64_t n_val, const warm_lm_train_config *c,
                          warm_lm_train_result *res, warm_error *err) {
    memset(res, 0, sizeof *res);
    res->val_loss = res->val_loss_first = NAN;
    if (c->batch < 1 || c->steps < 1) return warm_error_set(err, WARM_ERR_ARG, "lm: batch and steps must be >= 1");
    if (train->max_seq > m->cfg.n_positions)
        return warm_error_set(err, WARM_ERR_ARG, "lm: data rows of %d tokens exceed the model's context %d",
                              train->max_seq, m->cfg.n_positions);
    warm_status s = warm_mkdir_p(c->out_dir, err);
    if (s) return s;
    char final_path[4200];
    snprintf(final_path, sizeof final_path, "%s/final.safetensors", c->out_dir);
    int Tmax = train->max_seq;
    if (val && val->max_seq > Tmax) Tmax = val->max_seq;
    warm_order order = {0};
    warm_trainer *tr = NULL;
    lm_buffers buf = {0};
    int64_t *rows = malloc((size_t)c->batch * sizeof *rows);
    s = rows ? WARM_OK : warm_error_set(err, WARM_ERR_NOMEM, "lm: out of memory");
    if (!s) s = warm_model_alloc_train(m, err);
    if (!s) s = warm_order_init(&order, n_train, c->seed, 1, err);
    if (!s) s = warm_trainer_init(&tr, m, c->batch, Tmax, 1, err);
    if (!s) s = buffers_init(&buf, c->batch, Tmax, err);
    if (!s && c->resume) s = try_resume(m, c->out_dir, &order, c->seed, &res->resumed_from, err);
    if (!s && res->resumed_from == 0) m->step = 0;
    if (!s && res->resumed_from >= c->steps && warm_file_exists(final_path)) {
        res->already_done = 1;
        res->steps_done = m->step;
        buffers_free(&buf);
        warm_trainer_free(tr);
        warm_order_free(&order);
        free(rows);
        return WARM_OK;
    }
    if (!s && val && n_val > 0 && res->resumed_from == 0)
        s = eval_with(tr, val, val_idx, n_val, c->batch, c->eval_batches, &buf, &res->val_loss_first, err);
    char mpath[4200];
    snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", c->out_dir);
    if (!s && res->resumed_from) s = warm_metrics_trim(mpath, res->resumed_from, err);
    metrics_log ml = {s ? NULL : fopen(mpath, res->resumed_from ? "a" : "w")};
    if (!s && !ml.f) s = warm_error_set(err, WARM_ERR_IO, "%s: cannot open for writing", mpath);
    if (!s && !isnan(res->val_loss_first)) metrics_line(&ml, "{\"step\":0,\"val_loss\":%.6f}", (double)res->val_loss_first);
    warm_adamw_config opt = c->opt;
    opt.total_steps = (int)c->steps;
    warm_progress prog;
    warm_progress_init(&prog, c->progress, "train", c->steps);
    double t0 = warm_time_now(), loss_acc = 0.0, tokens = 0.0;
    int loss_n = 0;
    int64_t stop_at = c->stop_after > 0 && m->step + c->stop_after < c->steps ? m->step + c->stop_after : c->steps;
    while (!s && m->step < stop_at) {
        warm_order_take(&order, train_idx, rows, c->batch);
        int T;
        s = warm_lm_batch(train, rows, c->batch, 0, buf.tokens, buf.targets, buf.mask, buf.lengths, &T, err);
        if (s) break;
        /* Dropout key: a pure function of (seed, step), so a resumed run draws the same masks. */
        uint64_t key = warm_hash64(c->seed, (uint64_t)m->step);
        float loss = warm_trainer_lm_step(tr, buf.tokens, buf.lengths, buf.targets, buf.mask, c->batch, T, 1, key, 1);
        float lr = warm_lr_at(&opt, m->step);
        float gnorm = warm_model_adamw_step(m, &opt, 0);
        if (!isfinite(loss) || !isfinite(gnorm)) {
            s = warm_error_set(err, WARM_ERR_ARG, "lm: loss %g / gradient norm %g at step %lld is not finite "
                               "(lower the learning rate?)", (double)loss, (double)gnorm, (long long)m->step);
            break;
        }
        for (int b = 0; b < c->batch; b++) tokens += buf.lengths[b];
        loss_acc += (double)loss;
        loss_n++;
        int64_t step = m->step;
        if (c->log_every > 0 && (step % c->log_every == 0 || step == c->steps)) {
            res->last_loss = (float)(loss_acc / loss_n);
            metrics_line(&ml, "{\"step\":%lld,\"loss\":%.6f,\"lr\":%.6g,\"grad_norm\":%.6g,\"tokens\":%.0f}",
                         (long long)step, (double)res->last_loss, (double)lr, (double)gnorm, tokens);
            warm_progress_set_extra(&prog, "loss %.4f", (double)res->last_loss);
            loss_acc = 0.0;
            loss_n = 0;
        }
        int last = step == c->steps;
        if (val && n_val > 0 && ((c->eval_every > 0 && step % c->eval_every == 0) || last)) {
            s = eval_with(tr, val, val_idx, n_val, c->batch, c->eval_batches, &buf, &res->val_loss, err);
            if (!s) metrics_line(&ml, "{\"step\":%lld,\"val_loss\":%.6f}", (long long)step, (double)res->val_loss);
        }
        if (!s && c->save_every > 0 && step % c->save_every == 0) {
            char name[64];
            snprintf(name, sizeof name, "step-%07lld.safetensors", (long long)step);
            s = save_kept(m, c->out_dir, name, err);
            if (!s) s = save_resumable(m, c->out_dir, &order, c->seed, err);
        }
        warm_progress_update(&prog, step);
    }
    if (!s) s = save_resumable(m, c->out_dir, &order, c->seed, err);
    if (!s && m->step == c->steps) s = save_kept(m, c->out_dir, "final.safetensors", err);
    if (!s) warm_progress_finish(&prog);
    else warm_progress_clear(&prog);
    res->steps_done = m->step;
    res->seconds = warm_time_now() - t0;
    res->tokens_per_s = res->seconds > 0 ? tokens / res->seconds : 0;
    if (ml.f) fclose(ml.f);
    buffers_free(&buf);
    warm_trainer_free(tr);
    warm_order_free(&order);
    free(rows);
    return s;
}
