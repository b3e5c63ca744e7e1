/*
 * dist_mpi.c — the dist layer of `make MPI=1` (include/warm/dist.h) over MPI (Open MPI from Debian).
 *
 * A handle owns one communicator: the world (MPI_COMM_WORLD itself, never freed) or a split of it (freed).
 * MPI's int counts: every transfer is cut into pieces of at most DIST_PIECE elements, so arenas of any size
 * go through. Reductions are MPI_SUM/MIN/MAX on MPI_FLOAT / MPI_DOUBLE with MPI_IN_PLACE.
 *
 * Identical sums on every rank. Data-parallel training keeps one copy of the weights per rank and applies
 * the same AdamW step to the summed gradients, so every rank must receive the same bits from an allreduce.
 * Open MPI's algorithms give that (each block is reduced once and then distributed, or combined
 * symmetrically: a + b == b + a exactly in IEEE arithmetic); the trainer checks it at every checkpoint
 * (a hash of the weights, compared with rank 0's) instead of trusting it.
 */
#include <mpi.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "warm/dist.h"

/* Elements per MPI call (MPI counts are int). */
#define DIST_PIECE ((size_t)1 << 28)

struct warm_dist {
    MPI_Comm comm;
    int rank, size;
    int owns_comm;     /* a split: MPI_Comm_free on release */
    int owns_init;     /* the world handle that called MPI_Init_thread: MPI_Finalize on release */
    int solo;          /* one process without MPI (no launcher) */
};

int warm_dist_built_with_mpi(void) { return 1; }

static warm_dist *solo_handle(void) {
    warm_dist *d = calloc(1, sizeof *d);
    if (d) {
        d->solo = 1;
        d->size = 1;
    }
    return d;
}

warm_status warm_dist_world(warm_dist **d, warm_error *err) {
    *d = NULL;
    if (warm_dist_launched() == 0) {
        *d = solo_handle();
        return *d ? WARM_OK : warm_error_set(err, WARM_ERR_NOMEM, "dist: out of memory");
    }
    warm_dist *h = calloc(1, sizeof *h);
    if (!h) return warm_error_set(err, WARM_ERR_NOMEM, "dist: out of memory");
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        int provided = 0;
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
            free(h);
            return warm_error_set(err, WARM_ERR_IO, "MPI_Init_thread failed");
        }
        h->owns_init = 1;
    }
    h->comm = MPI_COMM_WORLD;
    MPI_Comm_rank(h->comm, &h->rank);
    MPI_Comm_size(h->comm, &h->size);
    *d = h;
    return WARM_OK;
}

void warm_dist_free(warm_dist *d) {
    if (!d) return;
    if (d->owns_comm) MPI_Comm_free(&d->comm);
    if (d->owns_init) {
        int fin = 0;
        MPI_Finalized(&fin);
        if (!fin) MPI_Finalize();
    }
    free(d);
}

int warm_dist_rank(const warm_dist *d) { return d ? d->rank : 0; }
int warm_dist_size(const warm_dist *d) { return d ? d->size : 1; }

/* 1 when d has partners to talk to. */
static int multi(const warm_dist *d) { return d && !d->solo && d->size > 1; }

warm_status warm_dist_split(const warm_dist *d, int color, warm_dist **out, warm_error *err) {
    *out = NULL;
    if (!d || d->solo) {
        *out = solo_handle();
        return *out ? WARM_OK : warm_error_set(err, WARM_ERR_NOMEM, "dist: out of memory");
    }
    warm_dist *h = calloc(1, sizeof *h);
    if (!h) return warm_error_set(err, WARM_ERR_NOMEM, "dist: out of memory");
    MPI_Comm_split(d->comm, color < 0 ? 0 : color, d->rank, &h->comm);
    h->owns_comm = 1;
    MPI_Comm_rank(h->comm, &h->rank);
    MPI_Comm_size(h->comm, &h->size);
    *out = h;
    return WARM_OK;
}

static MPI_Op mpi_op(warm_dist_op op) { return op == WARM_DIST_MIN ? MPI_MIN : op == WARM_DIST_MAX ? MPI_MAX : MPI_SUM; }

static warm_status allreduce(warm_dist *d, void *x, size_t n, size_t es, MPI_Datatype t, warm_dist_op op) {
    if (!multi(d)) return WARM_OK;
    for (size_t i = 0; i < n; i += DIST_PIECE) {
        size_t k = n - i < DIST_PIECE ? n - i : DIST_PIECE;
        MPI_Allreduce(MPI_IN_PLACE, (char *)x + i * es, (int)k, t, mpi_op(op), d->comm);
    }
    return WARM_OK;
}

warm_status warm_dist_allreduce_f32(warm_dist *d, float *x, size_t n, warm_dist_op op, warm_error *err) {
    (void)err;
    return allreduce(d, x, n, sizeof *x, MPI_FLOAT, op);
}

warm_status warm_dist_allreduce_f64(warm_dist *d, double *x, size_t n, warm_dist_op op, warm_error *err) {
    (void)err;
    return allreduce(d, x, n, sizeof *x, MPI_DOUBLE, op);
}

warm_status warm_dist_bcast(warm_dist *d, void *buf, size_t bytes, int root, warm_error *err) {
    if (!multi(d)) return root == 0 ? WARM_OK : warm_error_set(err, WARM_ERR_ARG, "dist: root %d of one process", root);
    for (size_t i = 0; i < bytes; i += DIST_PIECE)
        MPI_Bcast((char *)buf + i, (int)(bytes - i < DIST_PIECE ? bytes - i : DIST_PIECE), MPI_BYTE, root, d->comm);
    return WARM_OK;
}

warm_status warm_dist_gather(warm_dist *d, const void *send, size_t bytes, void *recv, int root, warm_error *err) {
    if (bytes > (size_t)INT_MAX) return warm_error_set(err, WARM_ERR_ARG, "dist: gather of %zu bytes per rank", bytes);
    if (!multi(d)) {
        if (bytes) memmove(recv, send, bytes);
        return WARM_OK;
    }
    MPI_Gather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, root, d->comm);
    return WARM_OK;
}

warm_status warm_dist_send_f64(warm_dist *d, const double *x, size_t n, int to, int tag, warm_error *err) {
    if (!multi(d) || to < 0 || to >= d->size) return warm_error_set(err, WARM_ERR_ARG, "dist: no rank %d", to);
    for (size_t i = 0; i < n; i += DIST_PIECE)
        MPI_Send(x + i, (int)(n - i < DIST_PIECE ? n - i : DIST_PIECE), MPI_DOUBLE, to, tag, d->comm);
    return WARM_OK;
}

warm_status warm_dist_recv_f64(warm_dist *d, double *x, size_t n, int from, int tag, warm_error *err) {
    if (!multi(d) || from < 0 || from >= d->size) return warm_error_set(err, WARM_ERR_ARG, "dist: no rank %d", from);
    for (size_t i = 0; i < n; i += DIST_PIECE)
        MPI_Recv(x + i, (int)(n - i < DIST_PIECE ? n - i : DIST_PIECE), MPI_DOUBLE, from, tag, d->comm,
                 MPI_STATUS_IGNORE);
    return WARM_OK;
}

void warm_dist_barrier(warm_dist *d) {
    if (multi(d)) MPI_Barrier(d->comm);
}

warm_status warm_dist_agree(warm_dist *d, warm_status st, warm_error *err) {
    if (!multi(d)) return st;
    int mine = st != WARM_OK ? d->rank : d->size, first = d->size;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, d->comm);
    if (first == d->size) return WARM_OK;
    warm_error e;
    memset(&e, 0, sizeof e);
    if (d->rank == first && err) e = *err;
    if (d->rank == first && !err) e.code = st;
    MPI_Bcast(&e, (int)sizeof e, MPI_BYTE, first, d->comm);
    if (d->rank != first) {
        if (err) warm_error_set(err, e.code, "rank %d: %s", first, e.msg);
        return e.code ? e.code : WARM_ERR_IO;
    }
    return st;
}

/* ---- the gradient reducer ---- */

typedef struct {
    size_t lo, hi;      /* elements [lo, hi) of the arena */
    MPI_Request req;
    int started;
} bucket;

struct warm_dist_reducer {
    warm_dist *d;
    float *x;
    size_t n;
    int overlap;
    int nb, next;       /* buckets; the next to start (bucket 0 is the arena's end) */
    bucket *b;
    double wait_s;
};

warm_status warm_dist_reducer_init(warm_dist_reducer **out, warm_dist *d, float *x, size_t n, size_t bucket_floats,
                                   int overlap, warm_error *err) {
    *out = NULL;
    if (bucket_floats < 1) bucket_floats = 1;
    if (bucket_floats > DIST_PIECE) bucket_floats = DIST_PIECE;
    warm_dist_reducer *r = calloc(1, sizeof *r);
    size_t nb = n ? (n + bucket_floats - 1) / bucket_floats : 0;
    if (r) r->b = calloc(nb + 1, sizeof *r->b);
    if (!r || !r->b) {
        free(r);
        return warm_error_set(err, WARM_ERR_NOMEM, "dist: out of memory for %zu buckets", nb);
    }
    r->d = d;
    r->x = x;
    r->n = n;
    r->overlap = overlap;
    r->nb = (int)nb;
    for (size_t j = 0; j < nb; j++) {
        r->b[j].hi = n - j * bucket_floats;
        r->b[j].lo = r->b[j].hi > bucket_floats ? r->b[j].hi - bucket_floats : 0;
    }
    *out = r;
    return WARM_OK;
}

static void start_bucket(warm_dist_reducer *r, bucket *b) {
    MPI_Iallreduce(MPI_IN_PLACE, r->x + b->lo, (int)(b->hi - b->lo), MPI_FLOAT, MPI_SUM, r->d->comm, &b->req);
    b->started = 1;
}

void warm_dist_reducer_ready(warm_dist_reducer *r, size_t from) {
    if (!r || !multi(r->d) || !r->overlap) return;
    while (r->next < r->nb && r->b[r->next].lo >= from) start_bucket(r, &r->b[r->next++]);
    /* Open MPI moves a nonblocking collective on only inside MPI calls: test the ones in flight. */
    for (int j = 0; j < r->next; j++)
        if (r->b[j].started) {
            int done = 0;
            MPI_Test(&r->b[j].req, &done, MPI_STATUS_IGNORE);
            if (done) r->b[j].started = 0;
        }
}

warm_status warm_dist_reducer_finish(warm_dist_reducer *r, warm_error *err) {
    (void)err;
    if (!r || !multi(r->d)) return WARM_OK;
    double t0 = MPI_Wtime();
    if (!r->overlap) {
        for (int j = 0; j < r->nb; j++)
            MPI_Allreduce(MPI_IN_PLACE, r->x + r->b[j].lo, (int)(r->b[j].hi - r->b[j].lo), MPI_FLOAT, MPI_SUM,
                          r->d->comm);
    } else {
        while (r->next < r->nb) start_bucket(r, &r->b[r->next++]);
        for (int j = 0; j < r->nb; j++)
            if (r->b[j].started) {
                MPI_Wait(&r->b[j].req, MPI_STATUS_IGNORE);
                r->b[j].started = 0;
            }
    }
    r->next = 0;
    r->wait_s += MPI_Wtime() - t0;
    return WARM_OK;
}

double warm_dist_reducer_wait_seconds(const warm_dist_reducer *r) { return r ? r->wait_s : 0.0; }

void warm_dist_reducer_free(warm_dist_reducer *r) {
    if (!r) return;
    free(r->b);
    free(r);
}
