/*
 * pipe.c — overlaps writing the output with computing it: one writer thread (POSIX threads) performs
 * warm_st_writer_put_range for block k while the caller computes block k + 1 into the other of two
 * buffers. At most one write is in flight; the caller's next submit (or drain) waits for it and picks up
 * its status, so an I/O error surfaces at the next call and nothing is written after it.
 *
 * Why: reading the inputs and writing the output are both copies through the page cache; done in turn
 * they add up (writing ~0.5 GB costs about as much as reading two inputs), done side by side the merge
 * runs at the pace of its reads on any machine with a spare core. The writer thread sleeps on a condition
 * variable (no spinning), so on a machine without a spare core it costs nothing but the handoff.
 *
 * Thread safety: while a job is in flight the writer thread is the only user of its warm_st_writer; the
 * caller must drain before using that writer itself (commit/abort) or handing the pipe another writer.
 */
#include "merge/merge_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct merge_pipe {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    float *buf[2];           /* (block_elems) each */
    int next;                /* buffer the caller fills next */
    /* the job, guarded by mu */
    int busy, quit;
    warm_st_writer *w;
    int wi;
    uint64_t first, count;
    const float *data;
    warm_status status;      /* of the last finished job */
    warm_error err;
};

static void *writer_main(void *arg) {
    merge_pipe *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->busy && !p->quit) pthread_cond_wait(&p->cv, &p->mu);
        if (p->quit && !p->busy) break;
        pthread_mutex_unlock(&p->mu);
        warm_error e = {0};
        warm_status s = warm_st_writer_put_range(p->w, p->wi, p->first, p->count, p->data, &e);
        pthread_mutex_lock(&p->mu);
        if (s && !p->status) {
            p->status = s;
            p->err = e;
        }
        p->busy = 0;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

warm_status merge_pipe_start(merge_pipe **out, uint64_t block_elems, warm_error *err) {
    *out = NULL;
    merge_pipe *p = calloc(1, sizeof *p);
    if (!p) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory for the output pipe");
    p->buf[0] = malloc((size_t)block_elems * sizeof(float));
    p->buf[1] = malloc((size_t)block_elems * sizeof(float));
    int ok = p->buf[0] && p->buf[1];
    int mu = ok && pthread_mutex_init(&p->mu, NULL) == 0;
    int cv = mu && pthread_cond_init(&p->cv, NULL) == 0;
    int th = cv && pthread_create(&p->thread, NULL, writer_main, p) == 0;
    if (!th) {
        if (cv) pthread_cond_destroy(&p->cv);
        if (mu) pthread_mutex_destroy(&p->mu);
        free(p->buf[0]);
        free(p->buf[1]);
        free(p);
        return warm_error_set(err, ok ? WARM_ERR_IO : WARM_ERR_NOMEM, "cannot start the output writer thread");
    }
    *out = p;
    return WARM_OK;
}

float *merge_pipe_buffer(merge_pipe *p) { return p->buf[p->next]; }

/* Waits until no job is in flight; returns (and reports) the first failure so far. Caller holds mu. */
static warm_status wait_idle(merge_pipe *p, warm_error *err) {
    while (p->busy) pthread_cond_wait(&p->cv, &p->mu);
    if (p->status && err) *err = p->err;
    return p->status;
}

warm_status merge_pipe_submit(merge_pipe *p, warm_st_writer *w, int wi, uint64_t first, uint64_t count,
                              warm_error *err) {
    pthread_mutex_lock(&p->mu);
    warm_status s = wait_idle(p, err);
    if (!s) {
        p->w = w;
        p->wi = wi;
        p->first = first;
        p->count = count;
        p->data = p->buf[p->next];
        p->busy = 1;
        p->next ^= 1;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return s;
}

warm_status merge_pipe_drain(merge_pipe *p, warm_error *err) {
    pthread_mutex_lock(&p->mu);
    warm_status s = wait_idle(p, err);
    pthread_mutex_unlock(&p->mu);
    return s;
}

void merge_pipe_stop(merge_pipe *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    while (p->busy) pthread_cond_wait(&p->cv, &p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->buf[0]);
    free(p->buf[1]);
    free(p);
}
