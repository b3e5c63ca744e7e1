/*
 * merge_internal.h — what the files of src/merge share (prefix merge_): the per-element combination
 * kernel, page management of the mapped inputs, output layout/writing, and small file helpers.
 */
#ifndef WARM_MERGE_INTERNAL_H
#define WARM_MERGE_INTERNAL_H

#include "warm/merge.h"

/* Elements per kernel chunk: the double accumulators (128 KiB) and float staging (64 KiB) stay in L2. */
#define MERGE_CHUNK 16384
/* Inputs read together by one accumulation loop (see combine.c). */
#define MERGE_GROUP 4
/* Default elements per streaming block (the unit of writing, page release and prefetch): the inputs' pages
 * of one block stay mapped until it is done, so the block shrinks as more inputs are read, keeping their
 * sum near MERGE_BLOCK_BUDGET bytes (F32). (Beyond the block, the kernel keeps up to a couple of 2 MiB
 * page-cache folios per input mapped: a few MB per input, measured in docs/merge.md.) */
#define MERGE_BLOCK_MAX (1u << 18)
#define MERGE_BLOCK_MIN (1u << 16)
#define MERGE_BLOCK_BUDGET ((uint64_t)8 << 20)

static inline uint64_t merge_block_elems(int n_read) {
    uint64_t b = MERGE_BLOCK_BUDGET / (4u * (uint64_t)(n_read > 0 ? n_read : 1));
    return b > MERGE_BLOCK_MAX ? MERGE_BLOCK_MAX : b < MERGE_BLOCK_MIN ? MERGE_BLOCK_MIN : b;
}

/* ---- files (ckpt.c) ---- */

/* Whole text file, NUL-terminated, malloc'd; NULL on error. With missing != NULL a nonexistent file is not
 * an error: NULL with *missing = 1. */
char *merge_read_text(const char *path, int *missing, warm_error *err);
/* "dir/name", malloc'd; NULL when out of memory. */
char *merge_join(const char *dir, const char *name);

/* ---- combination kernel (combine.c) ---- */

static inline int merge_is_float(warm_dtype d) {
    return d == WARM_DTYPE_F32 || d == WARM_DTYPE_F16 || d == WARM_DTYPE_BF16;
}

/*
 * One tensor's linear combination: θ = θ_0 + scale · (Σ_i c_i (x_i − θ_0)) / div, with θ_0 = 0 when base is
 * NULL, accumulated in double in source order; sources with c_i == 0 are not read.
 */
typedef struct {
    int n;                              /* sources */
    const warm_ckpt_tensor *const *x;   /* (n) the tensor in each source (same numel) */
    const double *c;                    /* (n) */
    const warm_ckpt_tensor *base;       /* NULL: θ_0 = 0 */
    double div, scale;
    warm_dtype round;                   /* output dtype: F32, F16 or BF16 */
    int through;                        /* 1: out holds the value after rounding to `round` (in-memory use);
                                           0: out holds what the writer converts with RNE (round-to-odd float
                                           for F16/BF16, see combine.c) */
    int avx2;                           /* set by merge_lin_block: which compiled variant runs */
    /* A merge over ranks (merge.c), where each rank adds its own inputs to the sums of the inputs before
     * them: acc_in (count, block-relative) holds those sums (NULL: no earlier term), and acc_out non-NULL
     * receives this rank's sums instead of the finished output. Both NULL: the whole combination. The same
     * IEEE operations in the same order as one process adding every input, so the same bits. */
    const double *acc_in;
    double *acc_out;
} merge_lin;

/* Per-thread scratch: acc (MERGE_CHUNK doubles), x (MERGE_GROUP * MERGE_CHUNK floats), b (MERGE_CHUNK floats). */
typedef struct {
    double *acc;
    float *x, *b;
} merge_scratch;

/* Allocates/frees one scratch per thread (threads < 1: one); *n receives the count, which is also the number
 * of threads merge_lin_block uses. */
merge_scratch *merge_scratch_alloc(int threads, int *n);
void merge_scratch_free(merge_scratch *s, int n);

/* out[0..count) = elements [first, first+count) of L (or the partial sums into L->acc_out), chunks spread
 * over threads (results do not depend on the thread count). Inputs were validated when the plan was built,
 * so this cannot fail. */
void merge_lin_block(const merge_lin *L, uint64_t first, uint64_t count, float *out, merge_scratch *sc, int n_sc);

/* Slerp statistics over the whole tensor (fixed order, one thread): Σ u_a², Σ u_b², Σ u_a u_b in double with
 * u = x − base (base may be NULL). */
void merge_dot3(const warm_ckpt_tensor *a, const warm_ckpt_tensor *b, const warm_ckpt_tensor *base, double *aa,
                double *bb, double *ab, merge_scratch *sc);

/* Pages of elements [first, first+count) of t: drop them from this process's mapping (they stay in the page
 * cache; a later touch maps them again) / ask the kernel to read them ahead. */
void merge_pages_release(const warm_ckpt_tensor *t, uint64_t first, uint64_t count);
void merge_pages_prefetch(const warm_ckpt_tensor *t, uint64_t first, uint64_t count);

/* ---- output (output.c) ---- */

typedef struct {
    const char *name;                 /* output name */
    warm_dtype dtype;
    int ndim;
    int64_t shape[WARM_ST_MAX_DIMS];
    uint64_t bytes;                   /* numel x element size */
} merge_out_tensor;

/* Writes output tensor k (all of it) into writer w, where it has index wi. */
typedef warm_status (*merge_produce_fn)(void *ctx, int k, warm_st_writer *w, int wi, warm_error *err);

/* 1 when out names a directory output (it does not end in ".safetensors"). */
int merge_out_is_dir(const char *out);
/* Checks before any work: shard size only for directories, an existing output of the right kind (and a
 * directory holding only files we write; tok_files: tokenizer files count as ours). */
warm_status merge_output_precheck(const char *out, uint64_t shard_size, int tok_files, warm_error *err);
/*
 * Writes tensors t[0..n) (in this order; shards packed greedily) with the metadata pairs into out, calling
 * produce for each tensor; atomic (see merge.h). config_json (may be NULL) becomes config.json of a
 * directory output, and files[0..n_files) (tokenizer files: names from warm_hf_file_name_ok) are written beside
 * it in the same atomic step (directory outputs only). *n_shards receives the number of safetensors files written.
 */
warm_status merge_write_output(const char *out, const merge_out_tensor *t, int n, uint64_t shard_size,
                               const char *const *mk, const char *const *mv, int n_meta, const char *config_json,
                               const warm_hf_file *files, int n_files, merge_produce_fn produce, void *ctx,
                               int *n_shards, warm_error *err);

/* ---- output pipe: a writer thread overlapping writes with computation (pipe.c) ---- */

typedef struct merge_pipe merge_pipe;
/* Two output buffers of block_elems floats and the writer thread. */
warm_status merge_pipe_start(merge_pipe **p, uint64_t block_elems, warm_error *err);
/* The buffer to fill next (free: the job in flight, if any, uses the other one). */
float *merge_pipe_buffer(merge_pipe *p);
/* Waits for the job in flight, then hands the buffer just filled to the writer thread:
 * warm_st_writer_put_range(w, wi, first, count, buffer). Returns the first failure of any earlier job. */
warm_status merge_pipe_submit(merge_pipe *p, warm_st_writer *w, int wi, uint64_t first, uint64_t count,
                              warm_error *err);
/* Waits for the job in flight; returns the first failure of any job. */
warm_status merge_pipe_drain(merge_pipe *p, warm_error *err);
/* Drains, stops the thread, frees (NULL is fine). */
void merge_pipe_stop(merge_pipe *p);

/* ---- soups (soup.c) ---- */

/* Greedy / top selection over inputs in[0..n) (validated plan: every table tensor in every input): ranks the
 * members, picks the soup, fills rep->ranking/step_acc/accepted/n_selected/soup_acc and coef[0..n) (1 for a
 * member of the soup, 0 otherwise). */
warm_status merge_soup_select(const warm_ckpt *in, int n, const warm_merge_opts *o, warm_dtype round_to,
                              double *coef, warm_merge_report *rep, warm_error *err);

#endif
