/*
 * warm/dist.h — several processes working together (MPI): the one place warm talks to MPI.
 *
 * Two builds share this header. `make MPI=1` compiles src/dist/dist_mpi.c with mpicc (Open MPI from Debian);
 * the plain build compiles src/dist/dist_none.c, which has no MPI in it at all: every world has one process
 * and every collective is a copy or a no-op. Library code takes a `warm_dist *` (NULL: this process alone)
 * and never asks which build it is in, so one code path serves both.
 *
 * Who starts MPI. A process calls MPI_Init only when a launcher started it (mpirun/mpiexec set
 * OMPI_COMM_WORLD_SIZE, srun with PMIx sets PMIX_RANK, PMI-1/2 launchers set PMI_RANK): a plain `warm ...`
 * of the MPI build never touches MPI, so it behaves exactly like the plain build (and the processes
 * `warm sweep --jobs` forks never inherit an MPI job). The world handle that initialised MPI finalises it
 * when freed. Threads: MPI_THREAD_FUNNELED — only the thread that called warm_dist_world calls MPI (OpenMP
 * threads compute; the master thread communicates between parallel regions).
 *
 * Collectives must be called by every rank of the communicator in the same order. Errors: an MPI error
 * aborts in MPI's default handler (MPI_ERRORS_ARE_FATAL: a broken job cannot be continued), so the
 * functions below return a status only for what this layer checks itself (sizes, memory). A failure that
 * only one rank sees (an I/O error on the rank that writes) is shared with warm_dist_agree, so that every
 * rank leaves a collective phase together instead of waiting for a partner that has gone.
 */
#ifndef WARM_DIST_H
#define WARM_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "warm/core.h"

typedef struct warm_dist warm_dist;

/* 1 in a build with MPI (make MPI=1), else 0. */
int warm_dist_built_with_mpi(void);

/* The number of processes a launcher started (read from its environment, no MPI call): 0 when this process
 * was not started by one. OMPI_COMM_WORLD_SIZE, then PMI_SIZE, then SLURM_NTASKS when PMIX_RANK or PMI_RANK
 * is set; 1 when a launcher is recognised but does not say how many. */
int warm_dist_launched(void);

/*
 * The world of this process: with MPI and a launcher, MPI_COMM_WORLD (initialising MPI when nobody has);
 * otherwise one process (rank 0 of 1, no MPI). A plain build started by a launcher with more than one
 * process is WARM_ERR_ARG ("built without MPI"): the ranks would each run the whole command.
 */
warm_status warm_dist_world(warm_dist **d, warm_error *err);
/* Frees a handle (NULL is fine): a split communicator is freed; the world handle that initialised MPI
 * finalises it. */
void warm_dist_free(warm_dist *d);

int warm_dist_rank(const warm_dist *d); /* 0 for NULL */
int warm_dist_size(const warm_dist *d); /* 1 for NULL */

/* Sub-communicators: ranks with the same color form one, ordered by their rank in d (MPI_Comm_split).
 * Collective over d. With d NULL or one process: a one-process handle. */
warm_status warm_dist_split(const warm_dist *d, int color, warm_dist **out, warm_error *err);

typedef enum { WARM_DIST_SUM = 0, WARM_DIST_MIN = 1, WARM_DIST_MAX = 2 } warm_dist_op;

/* In-place reductions over every rank of d (counts of any size: split into MPI's int counts). */
warm_status warm_dist_allreduce_f32(warm_dist *d, float *x, size_t n, warm_dist_op op, warm_error *err);
warm_status warm_dist_allreduce_f64(warm_dist *d, double *x, size_t n, warm_dist_op op, warm_error *err);
/* bytes of buf from root to every rank. */
warm_status warm_dist_bcast(warm_dist *d, void *buf, size_t bytes, int root, warm_error *err);
/* Each rank's `bytes` of send, in rank order, into recv (size * bytes) on root (recv may be NULL elsewhere). */
warm_status warm_dist_gather(warm_dist *d, const void *send, size_t bytes, void *recv, int root, warm_error *err);
/* Point to point (doubles; tag >= 0). */
warm_status warm_dist_send_f64(warm_dist *d, const double *x, size_t n, int to, int tag, warm_error *err);
warm_status warm_dist_recv_f64(warm_dist *d, double *x, size_t n, int from, int tag, warm_error *err);
void warm_dist_barrier(warm_dist *d);

/*
 * Makes a status collective: every rank passes its own st (and err holding its message when st != OK) and
 * every rank returns the status of the lowest failing rank, with that rank's message in err (prefixed
 * "rank K: " on the other ranks). WARM_OK on every rank when no rank failed. One process: returns st.
 */
warm_status warm_dist_agree(warm_dist *d, warm_status st, warm_error *err);

/*
 * Gradient reducer: the in-place sum over every rank of a float arena x (n), in buckets of about
 * bucket_floats that are started as nonblocking allreduces (MPI_Iallreduce) while the caller still computes
 * the rest of the arena — data-parallel training calls warm_dist_reducer_ready from the backward pass as
 * each layer's gradients become final. The buckets are a fixed partition of [0, n) cut from the end (the
 * backward pass finishes the arena's last tensors first), so every rank starts the same buckets in the same
 * order whatever its own timing. overlap = 0 starts nothing before warm_dist_reducer_finish (one blocking
 * pass, bucket after bucket: the reference to measure overlap against).
 */
typedef struct warm_dist_reducer warm_dist_reducer;
warm_status warm_dist_reducer_init(warm_dist_reducer **r, warm_dist *d, float *x, size_t n, size_t bucket_floats,
                                   int overlap, warm_error *err);
/* Elements [from, n) of x are final for this step: starts every bucket inside that range not yet started
 * (and lets MPI progress the ones in flight). */
void warm_dist_reducer_ready(warm_dist_reducer *r, size_t from);
/* Starts what is left, waits for every bucket: x holds the sum over ranks. Resets for the next step. */
warm_status warm_dist_reducer_finish(warm_dist_reducer *r, warm_error *err);
/* Seconds spent waiting in warm_dist_reducer_finish (and in blocking reductions) since init. */
double warm_dist_reducer_wait_seconds(const warm_dist_reducer *r);
void warm_dist_reducer_free(warm_dist_reducer *r);

#endif
