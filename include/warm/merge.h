/*
 * warm/merge.h — weight averaging of checkpoints (WARM), streamed from memory-mapped inputs.
 *
 * Checkpoints (warm_ckpt) are a single .safetensors file, or a Hugging Face directory holding
 * model.safetensors (preferred when both exist, as transformers does) or model.safetensors.index.json plus
 * its shards (formats.md §2; "our rule" enforced: every weight_map entry exists in the named shard, no shard
 * holds a tensor the map does not send to it, so no tensor appears in two shards; shard names are plain file
 * names inside the directory). Tensors are matched across checkpoints on a canonical key: the name without a
 * leading "transformer." (so bare GPT2Model files and GPT2ForSequenceClassification files line up); legacy
 * GPT-2 buffers h.N.attn.bias / h.N.attn.masked_bias are skipped and never written.
 *
 * Methods (θ_i: input i's tensor, θ_0: the --base checkpoint's; every floating tensor, head included):
 *   uniform           θ = (Σ_i θ_i) / M                                      (WARM; the default)
 *   weighted          θ = (Σ_i w_i θ_i) / (Σ_i w_i)        w_i >= 0, Σ w_i > 0 (normalised)
 *   lerp              θ = (1 − λ) θ_1 + λ θ_2              two inputs
 *   slerp             per tensor on the flattened vectors u_i = θ_i − θ_0 (θ_0 = 0 without a base), two
 *                     inputs, λ in [0, 1]: cos Ω = <u_1, u_2> / (‖u_1‖ ‖u_2‖),
 *                     θ = θ_0 + (s_1 ‖u‖_λ / ‖u_1‖) u_1 + (s_2 ‖u‖_λ / ‖u_2‖) u_2 with
 *                     s_1 = sin((1−λ)Ω) / sin Ω, s_2 = sin(λΩ) / sin Ω,
 *                     ‖u‖_λ = (1−λ)‖u_1‖ + λ‖u_2‖:
 *                     the direction moves on the great circle and the norm interpolates linearly, so the
 *                     result's norm lies between the endpoints' (equals mergekit's slerp when the norms are
 *                     equal). Falls back to lerp on u when |cos Ω| > 0.9995 (mergekit's threshold) or a norm
 *                     is 0.
 *   task-arithmetic   θ = θ_0 + s · Σ_i w_i (θ_i − θ_0)    w_i = 1 unless weights are given (not normalised);
 *                     mergekit's task_arithmetic (base + λ Σ w_i (θ_i − θ_0)) with λ = s. s = 1/M, w = 1 gives
 *                     the uniform mean of the members.
 *   greedy            model soups (Wortsman et al.): members ranked by validation accuracy, best first (ties:
 *                     input order); the soup starts as the best member; each next member is added when the
 *                     uniform mean of soup ∪ {member} has validation accuracy >= the soup's. Written: the
 *                     uniform mean of the soup.
 *   top               the paper's best-first M: the uniform mean of the M members with the highest validation
 *                     accuracy.
 * Accuracies for greedy/top come from a caller-supplied evaluator applied to an in-memory warm_model holding
 * exactly the weights that would be written (rounded through the output dtype).
 *
 * Numerics. Every element is converted to float (exact for F32, F16 and BF16, mixed freely), widened to
 * double, and accumulated in double in input order; the division by the normaliser is one IEEE division
 * in double. So the mean of k copies of one value is that value bit for bit, and the result does not depend
 * on the thread count. The double result is rounded once to the output dtype: F32 by round-to-nearest-even;
 * F16 and BF16 by round-to-odd to float followed by round-to-nearest-even (the round-to-odd lemma makes this
 * a single correct rounding of the double; a plain double -> float -> bf16 cascade would round twice).
 * Output dtype: per tensor, the first input's dtype unless one is forced. Floating dtypes other than
 * F32/F16/BF16 are refused. Non-floating tensors (integer buffers) must be byte-identical in every input and
 * are copied.
 *
 * Streaming. Inputs stay memory-mapped; the output is produced one tensor at a time and, within a tensor, in
 * blocks (by default 8 MiB of input over all inputs, at most 2^18 elements; each thread takes 16 Ki-element
 * chunks of a block, accumulators in cache). After each block the consumed input pages are dropped from the
 * mapping (madvise DONTNEED; they stay in the page cache) and the next block is prefetched (WILLNEED), so
 * peak resident memory is a few megabytes per input (the kernel maps page-cache folios of up to 2 MiB
 * whole), never the inputs themselves; docs/merge.md has the measurements. A writer thread writes block k
 * while block k + 1 is computed.
 *
 * Output. A path ending in ".safetensors" is one file. Any other path is a directory in Hugging Face layout:
 * model.safetensors, or with shard_size > 0 shards model-0000i-of-0000n.safetensors (tensors in the first
 * input's order, packed greedily; a tensor larger than shard_size gets a shard of its own; a single shard is
 * written as model.safetensors without an index, as huggingface_hub does) plus model.safetensors.index.json
 * ({"metadata": {"total_size": tensor bytes}, "weight_map": ...}), and config.json carried from the first
 * input (its config.json, or its "warm.config" metadata). Every file carries __metadata__ format=pt, the
 * first input's "warm.config" and "warm.pooling", and "warm.merge" (JSON: method, inputs, coefficients,
 * parameters, accumulation, and for greedy/top the ranking and soup accuracies).
 * Failure never leaves partial output and never harms an existing output: a file goes through the atomic
 * writer (temp file, fsync, rename); a directory is built as "<out>.tmp.<pid>" and swapped in by rename at
 * the end. An existing output directory is replaced only when it holds nothing but files this code writes
 * (model*.safetensors, the index, config.json); otherwise the merge refuses before writing anything.
 *
 * Over ranks (o->dist with R > 1; `mpirun warm merge`, docs/scale.md): uniform and weighted only. Every rank
 * opens every input (headers: the plan, checks and refusals are computed identically everywhere) but reads
 * the tensor data of its own inputs only: with R' = min(R, M) working ranks, rank r holds the (R'-1-r)-th of
 * R' contiguous runs of inputs. Block by block, the rank holding the first inputs starts the double sums,
 * each next rank (R'-2, ..., 0) receives them, adds its inputs in order and passes them on, and rank 0 finishes
 * (division, one rounding) and alone writes the output. The sums are the same additions in the same order as
 * one process makes, so the output is byte-identical to the merge of one process; a pipeline of blocks keeps
 * every link busy, each carrying 8 bytes per element. A failure on any rank is every rank's error.
 *
 * Refusals (WARM_ERR_MISMATCH, naming the tensor or key and the two files): a tensor missing from one input,
 * shapes differing, floating vs non-floating dtypes, non-floating tensors whose bytes differ, configs
 * differing in any key both define (compared as JSON values) other than training-only keys (dropout rates,
 * initializer_range, _name_or_path, transformers_version, torch_dtype, use_cache).
 */
#ifndef WARM_MERGE_H
#define WARM_MERGE_H

#include <stdint.h>
#include <stdio.h>

#include "warm/core.h"
#include "warm/data.h"
#include "warm/dist.h"
#include "warm/model.h"
#include "warm/tokenizer.h"
#include "warm/safetensors.h"

/* ====================================================================================================== */
/* Checkpoints: a file or an HF directory (src/merge/ckpt.c)                                               */

typedef struct {
    const char *key;               /* canonical name (no "transformer." prefix); points into t->name */
    const warm_st_file *file;      /* the file (shard) holding it */
    const warm_st_tensor *t;
} warm_ckpt_tensor;

typedef struct {
    char *path;                    /* as given */
    int is_dir;                    /* 1: an HF directory */
    int n_files;
    warm_st_file *files;           /* (n_files) model.safetensors, or the shards in name order */
    int n_tensors;
    warm_ckpt_tensor *tensors;     /* (n_tensors) file order, then header order; legacy buffers left out */
    int *by_key;                   /* (n_tensors) indices sorted by key (for warm_ckpt_find) */
    int n_skipped;                 /* legacy attn.bias / attn.masked_bias buffers left out */
    char *config_json;             /* a directory's config.json text; NULL when absent or for a file */
} warm_ckpt;

/* Opens and validates path (every file fully validated by warm_st_open). On failure c is closed and err
 * names the path and the fault. */
warm_status warm_ckpt_open(warm_ckpt *c, const char *path, warm_error *err);
/* Unmaps and frees; safe on a zeroed or closed checkpoint. */
void warm_ckpt_close(warm_ckpt *c);
/* Tensor by name: a canonical key or the full name with the "transformer." prefix. NULL when absent. */
const warm_ckpt_tensor *warm_ckpt_find(const warm_ckpt *c, const char *name);
/* __metadata__ value of the first file (shard), or NULL. */
const char *warm_ckpt_meta(const warm_ckpt *c, const char *key);
/* The model config as JSON text: "warm.config" metadata, else config.json, else NULL. */
const char *warm_ckpt_config_text(const warm_ckpt *c);
/* Parses warm_ckpt_config_text into a GPT-2 config (WARM_ERR_FORMAT when there is none). */
warm_status warm_ckpt_model_config(const warm_ckpt *c, warm_config *cfg, warm_error *err);

/* Canonical key of a tensor name: name without a leading "transformer." (a pointer into name). */
const char *warm_ckpt_canonical(const char *name);

/* ====================================================================================================== */
/* Merging (src/merge/merge.c, output.c, soup.c)                                                            */

typedef enum {
    WARM_MERGE_UNIFORM = 0,
    WARM_MERGE_WEIGHTED,
    WARM_MERGE_LERP,
    WARM_MERGE_SLERP,
    WARM_MERGE_TASK_ARITHMETIC,
    WARM_MERGE_GREEDY,
    WARM_MERGE_TOP,
    WARM_MERGE_METHOD_COUNT
} warm_merge_method;

/* "uniform", "weighted", "lerp", "slerp", "task-arithmetic", "greedy", "top". */
const char *warm_merge_method_name(warm_merge_method m);
/* 0 on success, -1 for an unknown name. */
int warm_merge_method_from_name(const char *s, warm_merge_method *out);

/* Validation accuracy of the model m (greedy/top). Must be deterministic. */
typedef warm_status (*warm_merge_eval_fn)(void *ctx, const warm_model *m, double *acc, warm_error *err);

typedef struct {
    warm_merge_method method;
    const double *weights;     /* (n_weights) WEIGHTED: required, one per input; TASK_ARITHMETIC: optional */
    int n_weights;
    double lambda;             /* LERP (any finite value; outside [0, 1] extrapolates), SLERP ([0, 1]) */
    double scale;              /* TASK_ARITHMETIC: s */
    const char *base;          /* TASK_ARITHMETIC: required; SLERP: optional */
    int top_m;                 /* TOP: 1..M */
    warm_merge_eval_fn eval;   /* GREEDY, TOP: required */
    void *eval_ctx;
    int out_dtype;             /* -1: per tensor, the first input's; else WARM_DTYPE_F32, _F16 or _BF16 */
    uint64_t shard_size;       /* directory output: most tensor bytes per shard; 0: one model.safetensors */
    int check_config;          /* 1 (default): refuse inputs whose configs differ (see above) */
    uint64_t block_elems;      /* elements per streaming block; 0: 8 MiB of F32 input per block over all
                                  inputs, at most 2^18 and at least 2^16 elements */
    int threads;               /* threads of the combination kernel; <= 1: one (the merge is memory-bound: one
                                  core streams as fast as `cat`; more help only where it cannot saturate
                                  memory bandwidth). Results do not depend on it. */
    FILE *progress;            /* progress lines (warm_progress); NULL: silent (only rank 0 of dist reports) */
    warm_dist *dist;           /* a merge over ranks (below); NULL or one rank: this process alone */
} warm_merge_opts;

/* uniform, out_dtype -1, check_config 1, scale 1, everything else 0/NULL. */
warm_merge_opts warm_merge_opts_default(void);

typedef struct {
    int input;          /* index into the inputs */
    double acc;         /* its validation accuracy alone */
} warm_merge_rank;

typedef struct {
    int n_inputs;
    double *coef;                 /* (n_inputs) normalised coefficient of each input in the result
                                     (uniform/weighted/lerp/greedy/top; for task arithmetic s·w_i; NAN for
                                     slerp, whose coefficients vary per tensor) */
    int n_averaged;               /* floating tensors combined */
    int n_copied;                 /* non-floating tensors copied */
    int n_skipped;                /* legacy buffers left out (all inputs together) */
    int n_slerp_fallback;         /* slerp: tensors that fell back to lerp */
    int n_shards;                 /* files written (1 for file output) */
    uint64_t bytes_read;          /* tensor bytes read from inputs (a slerp tensor is read twice) */
    uint64_t bytes_written;       /* tensor bytes written */
    double seconds;               /* wall time of warm_merge */
    /* greedy / top */
    warm_merge_rank *ranking;     /* (n_inputs) best first; NULL for other methods */
    double *step_acc;             /* (n_inputs) greedy: accuracy of the candidate soup tried at ranking step k
                                     (step 0: the best member alone); top: NAN */
    uint8_t *accepted;            /* (n_inputs) in ranking order: 1 when the member is in the soup */
    int n_selected;               /* members in the soup */
    double soup_acc;              /* accuracy of the written soup (NAN for other methods) */
} warm_merge_report;

/* Frees the report's arrays (safe on a zeroed report). */
void warm_merge_report_free(warm_merge_report *r);

/*
 * Merges inputs[0..n) into out (file or directory, see above). rep (may be NULL) is filled on success and
 * must then be released with warm_merge_report_free. Errors: WARM_ERR_ARG for bad options (method/input
 * count, weights, λ, missing base or evaluator, shard size with a file path, output dtype), WARM_ERR_MISMATCH
 * for inputs that disagree, WARM_ERR_FORMAT / WARM_ERR_IO for unreadable inputs or a failed write.
 */
warm_status warm_merge(const char *const *inputs, int n, const char *out, const warm_merge_opts *o,
                       warm_merge_report *rep, warm_error *err);

/*
 * In-memory linear combination for evaluation (soups, interpolation curves): fills m->params with
 * (Σ_i coef[i] θ_i) / divisor over ck[0..n), tensor by tensor of m's table (every table tensor must be in
 * every checkpoint with the table's shape; other tensors are ignored), with the same double accumulation
 * as warm_merge, rounded once to round_to (F32, F16 or BF16) and stored as float. Inputs with coef 0 are
 * not read.
 */
warm_status warm_merge_into_model(warm_model *m, const warm_ckpt *const *ck, const double *coef, int n, double divisor,
                                  warm_dtype round_to, warm_error *err);

/*
 * Ready-made evaluator over a preference set (src/merge/soup_eval.c; uses warm/eval.h): acc = acc_ge (ties
 * count as correct, the paper's rule) over the pairs idx[0..n) of prefs (idx NULL: all rows).
 */
typedef struct {
    const warm_prefs *prefs;
    const int64_t *idx;        /* (n) or NULL for every row */
    int64_t n;
} warm_merge_prefs_eval;
warm_status warm_merge_eval_prefs(void *ctx, const warm_model *m, double *acc, warm_error *err);


/* ---- Hugging Face model directories (src/merge/hf_export.c) ---- */

/* A file written beside the weights of a model directory (tokenizer files). */
typedef struct {
    const char *name; /* one of the names warm_hf_file_name_ok accepts */
    const char *data;
    size_t len;
} warm_hf_file;

/* 1 for the tokenizer file names a model directory may hold: tokenizer.json, tokenizer_config.json,
 * special_tokens_map.json, vocab.json, merges.txt. */
int warm_hf_file_name_ok(const char *name);

typedef enum {
    WARM_HF_LM = 0, /* GPT2LMHeadModel: no score.weight (the LM head is tied to wte) */
    WARM_HF_RM = 1, /* GPT2ForSequenceClassification with num_labels 1: score.weight */
} warm_hf_arch;

/* config.json of a transformers GPT2Config for c as arch (malloc'd; NULL on OOM). */
char *warm_hf_config_json(const warm_config *c, warm_hf_arch arch);

/*
 * Tokenizer files for a model directory, from a tokenizer opened with warm_tok_open(spec):
 *   WORD: tokenizer.json generated for the `tokenizers` library (WordLevel model, WhitespaceSplit
 *         pre-tokenizer, the specials as added tokens), tokenizer_config.json, special_tokens_map.json;
 *   BPE:  the source files copied byte for byte (encoder.json or vocab.json -> vocab.json, vocab.bpe or
 *         merges.txt -> merges.txt; a tokenizer.json file -> tokenizer.json), tokenizer_config.json
 *         (GPT2Tokenizer, pad = eos = <|endoftext|>), special_tokens_map.json.
 * model_max_length = n_positions. *files (n entries, data and array malloc'd) is freed with warm_hf_files_free.
 */
warm_status warm_hf_tokenizer_files(const char *spec, const warm_tokenizer *t, int n_positions, warm_hf_file **files,
                                    int *n, warm_error *err);
void warm_hf_files_free(warm_hf_file *files, int n);

/*
 * Writes m as a Hugging Face model directory dir: config.json (warm_hf_config_json), model.safetensors (or
 * shards of at most shard_size bytes + model.safetensors.index.json; shard_size 0 = one file) under the
 * "transformer."-prefixed GPT-2 names in dtype (F32, F16 or BF16), metadata {"format": "pt"}, and files[0..n)
 * beside them. Atomic like a merge into a directory: dir is the complete old directory or the complete new one
 * at every instant; an existing dir is replaced only if it holds nothing but files of a model directory.
 * *n_shards (may be NULL) receives the number of safetensors files.
 */
warm_status warm_hf_export(const warm_model *m, warm_hf_arch arch, const char *dir, warm_dtype dtype,
                           uint64_t shard_size, const warm_hf_file *files, int n_files, int *n_shards, warm_error *err);


/*
 * Loads a model from a warm .safetensors file or a Hugging Face directory (model.safetensors, or shards +
 * index; config.json), with or without the "transformer." prefix; "lm_head.weight" (tied to wte) and the legacy
 * attention buffers are skipped, any other unknown tensor is an error naming it. Without "score.weight" the head
 * is zero and *has_head 0 (need_head: that is an error instead). m is initialised here (free with
 * warm_model_free).
 */
warm_status warm_hf_import(warm_model *m, const char *path, int need_head, int *has_head, warm_error *err);

#endif
