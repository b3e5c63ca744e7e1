/*
 * dist_none.c — the dist layer of the plain build (include/warm/dist.h): no MPI. Every world is one process,
 * reductions and broadcasts leave the data as it is, a gather copies, and there is nobody to send to.
 */
#include <stdlib.h>
#include <string.h>

#include "warm/dist.h"

struct warm_dist {
    int unused;
};

struct warm_dist_reducer {
    int unused;
};

int warm_dist_built_with_mpi(void) { return 0; }

static warm_status one_process(warm_dist **d, warm_error *err) {
    *d = calloc(1, sizeof **d);
    return *d ? WARM_OK : warm_error_set(err, WARM_ERR_NOMEM, "dist: out of memory");
}

warm_status warm_dist_world(warm_dist **d, warm_error *err) {
    *d = NULL;
    int n = warm_dist_launched();
    if (n > 1)
        return warm_error_set(err, WARM_ERR_ARG, "started as one of %d MPI processes, but this warm was built "
                              "without MPI: build it with `make MPI=1` (docs/scale.md), or run it without mpirun", n);
    return one_process(d, err);
}

void warm_dist_free(warm_dist *d) { free(d); }
int warm_dist_rank(const warm_dist *d) { (void)d; return 0; }
int warm_dist_size(const warm_dist *d) { (void)d; return 1; }

warm_status warm_dist_split(const warm_dist *d, int color, warm_dist **out, warm_error *err) {
    (void)d;
    (void)color;
    return one_process(out, err);
}

warm_status warm_dist_allreduce_f32(warm_dist *d, float *x, size_t n, warm_dist_op op, warm_error *err) {
    (void)d, (void)x, (void)n, (void)op, (void)err;
    return WARM_OK;
}

warm_status warm_dist_allreduce_f64(warm_dist *d, double *x, size_t n, warm_dist_op op, warm_error *err) {
    (void)d, (void)x, (void)n, (void)op, (void)err;
    return WARM_OK;
}

warm_status warm_dist_bcast(warm_dist *d, void *buf, size_t bytes, int root, warm_error *err) {
    (void)d, (void)buf, (void)bytes;
    return root == 0 ? WARM_OK : warm_error_set(err, WARM_ERR_ARG, "dist: root %d of one process", root);
}

warm_status warm_dist_gather(warm_dist *d, const void *send, size_t bytes, void *recv, int root, warm_error *err) {
    (void)d;
    if (root != 0) return warm_error_set(err, WARM_ERR_ARG, "dist: root %d of one process", root);
    if (bytes) memmove(recv, send, bytes);
    return WARM_OK;
}

warm_status warm_dist_send_f64(warm_dist *d, const double *x, size_t n, int to, int tag, warm_error *err) {
    (void)d, (void)x, (void)n, (void)tag;
    return warm_error_set(err, WARM_ERR_ARG, "dist: no rank %d in a one-process world", to);
}

warm_status warm_dist_recv_f64(warm_dist *d, double *x, size_t n, int from, int tag, warm_error *err) {
    (void)d, (void)x, (void)n, (void)tag;
    return warm_error_set(err, WARM_ERR_ARG, "dist: no rank %d in a one-process world", from);
}

void warm_dist_barrier(warm_dist *d) { (void)d; }

warm_status warm_dist_agree(warm_dist *d, warm_status st, warm_error *err) {
    (void)d, (void)err;
    return st;
}

warm_status warm_dist_reducer_init(warm_dist_reducer **r, warm_dist *d, float *x, size_t n, size_t bucket_floats,
                                   int overlap, warm_error *err) {
    (void)d, (void)x, (void)n, (void)bucket_floats, (void)overlap;
    *r = calloc(1, sizeof **r);
    return *r ? WARM_OK : warm_error_set(err, WARM_ERR_NOMEM, "dist: out of memory");
}

void warm_dist_reducer_ready(warm_dist_reducer *r, size_t from) { (void)r, (void)from; }

warm_status warm_dist_reducer_finish(warm_dist_reducer *r, warm_error *err) {
    (void)r, (void)err;
    return WARM_OK;
}

double warm_dist_reducer_wait_seconds(const warm_dist_reducer *r) {
    (void)r;
    return 0.0;
}

void warm_dist_reducer_free(warm_dist_reducer *r) { free(r); }
