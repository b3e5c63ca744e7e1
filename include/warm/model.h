/*
 * warm/model.h — the GPT-2 model: config, parameter arenas with a named tensor table (Hugging Face names and
 * Conv1D [in, out] layouts), batched training forward/backward with an LM head and a reward head, and the
 * decode path (KV cache with a shared prompt prefix).
 *
 * Memory: params, grads, Adam m and Adam v are four arenas with identical layout; the table
 * {name, shape, offset} is the one source of truth. Averaging checkpoints is one flat loop over params.
 *
 * Pooling rule for the reward head ("warm.pooling" = "last-non-pad"): sequences are right-padded; the reward
 * of row b is score.weight . ln_f(h)[b, len_b - 1], i.e. at the last non-pad token (what HF
 * GPT2ForSequenceClassification does with right padding and pad != content). Callers pass lengths, never
 * infer them from a pad id.
 */
#ifndef WARM_MODEL_H
#define WARM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "warm/core.h"
#include "warm/safetensors.h"

typedef struct {
    int32_t vocab_size;   /* V */
    int32_t n_positions;  /* P: maximum sequence length */
    int32_t n_layer;      /* L */
    int32_t n_head;       /* NH */
    int32_t n_embd;       /* C; C % NH == 0 */
    float embd_pdrop, attn_pdrop, resid_pdrop;
    float initializer_range; /* 0.02 */
    int32_t bos_token_id, eos_token_id, pad_token_id;
} warm_config;

/* GPT-2 defaults for the given sizes (dropout 0.1, init range 0.02, bos = eos = pad = V - 1). */
warm_config warm_config_default(int V, int P, int L, int NH, int C);
/* Validates sizes and rates; err names the offending field. */
warm_status warm_config_check(const warm_config *c, warm_error *err);
/* HF config.json keys (aliases accepted) -> config; JSON text in, err names the key. */
warm_status warm_config_from_json(warm_config *c, const char *json, warm_error *err);
/* config -> HF GPT2Config JSON (with GPT2ForSequenceClassification fields); malloc'd string. */
char *warm_config_to_json(const warm_config *c);

typedef struct {
    char name[64];      /* HF name with the "transformer." prefix, or "score.weight" */
    int ndim;
    int64_t shape[2];
    size_t offset;      /* in floats from the arena start */
    size_t numel;
    int decay;          /* 1: AdamW weight decay applies (2-D matrices incl. embeddings and score), 0: 1-D */
} warm_tensor;

/* Per-layer views into an arena (params or grads). Shapes in comments. */
typedef struct {
    float *ln1w, *ln1b;         /* (C) */
    float *qkvw, *qkvb;         /* (C, 3C), (3C) */
    float *attprojw, *attprojb; /* (C, C), (C) */
    float *ln2w, *ln2b;         /* (C) */
    float *fcw, *fcb;           /* (C, 4C), (4C) */
    float *fcprojw, *fcprojb;   /* (4C, C), (C) */
} warm_layer_view;

typedef struct {
    float *wte;   /* (V, C) */
    float *wpe;   /* (P, C) */
    float *lnfw, *lnfb; /* (C) */
    float *score; /* (1, C) */
} warm_global_view;

typedef struct {
    warm_config cfg;
    int n_tensors;
    warm_tensor *tensors;   /* the table */
    size_t n_params;        /* floats in each arena */
    float *params;          /* always allocated */
    float *grads, *m, *v;   /* NULL until warm_model_alloc_train */
    int64_t step;           /* optimiser steps taken */
} warm_model;

/* Allocates params for cfg (zeroed) and builds the table. */
warm_status warm_model_init(warm_model *m, const warm_config *cfg, warm_error *err);
void warm_model_free(warm_model *m);
/* Allocates (zeroed) grads and Adam moments. */
warm_status warm_model_alloc_train(warm_model *m, warm_error *err);
/* GPT-2 initialisation: N(0, initializer_range) for embeddings, matrices and score.weight; the residual
 * projections (attn.c_proj, mlp.c_proj) N(0, initializer_range / sqrt(2L)); LayerNorm weight 1; biases 0. */
void warm_model_init_weights(warm_model *m, uint64_t seed);
const warm_tensor *warm_model_find(const warm_model *m, const char *name);
/* Views of the layer l / globals in arena a (m->params, m->grads, m->m or m->v). */
warm_layer_view warm_model_layer(const warm_model *m, float *a, int l);
warm_global_view warm_model_globals(const warm_model *m, float *a);

/*
 * Loads weights from an open safetensors file. Accepts "transformer."-prefixed and bare GPT-2 names, skips
 * legacy attn.bias / attn.masked_bias buffers, converts F16/BF16 to float, checks shapes, rejects unknown
 * tensors. A missing score.weight is allowed when allow_missing_head (it stays zero) and reported via
 * *head_loaded (may be NULL). Config comes from the caller (see warm_model_load for the metadata route).
 */
warm_status warm_model_load_weights(warm_model *m, const warm_st_file *f, int allow_missing_head, int *head_loaded,
                                    warm_error *err);
/* Opens path, reads config from __metadata__ "warm.config" (or a config.json beside it), inits and loads. */
warm_status warm_model_load(warm_model *m, const char *path, int allow_missing_head, warm_error *err);
/* Atomic save of the weights (dtype F32, F16 or BF16) with __metadata__: format=pt, warm.config (JSON),
 * warm.pooling, plus extra key/value pairs. */
warm_status warm_model_save(const warm_model *m, const char *path, warm_dtype dtype, const char *const *extra_keys,
                            const char *const *extra_vals, int n_extra, warm_error *err);

/*
 * Training state beside a checkpoint, for exact resume: Adam moments (F32 tensors "adam_m.<name>",
 * "adam_v.<name>") and metadata warm.step, warm.rng (the trainer's RNG state), warm.data_pos, warm.epoch.
 * Written atomically like every checkpoint. Weights are saved separately (F32 for exact resume).
 */
typedef struct {
    int64_t step;        /* optimiser steps taken (also m->step) */
    uint64_t rng_state;  /* warm_rng.s of the caller's training RNG */
    int64_t data_pos;    /* position in the caller's data order */
    int64_t epoch;
} warm_train_meta;
warm_status warm_train_state_save(const warm_model *m, const char *path, const warm_train_meta *meta, warm_error *err);
/* Loads moments into m (allocating them) after checking every name/shape; sets m->step = meta->step. */
warm_status warm_train_state_load(warm_model *m, const char *path, warm_train_meta *meta, warm_error *err);
/* The "warm.step" metadata of a saved file (weights or state), or -1 when absent or not an integer. Resume
 * compares the two files of a last.* pair with it: a run killed between the two writes leaves them apart. */
int64_t warm_st_meta_step(const warm_st_file *f);

/* ------------------------------------------------------------------------------------------------------ */
/* Training path                                                                                           */

/*
 * Workspace for batched forward/backward at up to (Bmax, Tmax). Holds every activation backward needs.
 * with_lm: also allocate (Bmax*Tmax, V) logits for the LM head.
 */
typedef struct warm_trainer warm_trainer;

warm_status warm_trainer_init(warm_trainer **tr, warm_model *m, int Bmax, int Tmax, int with_lm, warm_error *err);
void warm_trainer_free(warm_trainer *tr);

/* Only score.weight gets gradients (linear probing); the body's forward still runs. */
void warm_trainer_set_freeze_body(warm_trainer *tr, int freeze);

/*
 * Last-layer pruning in warm_trainer_bt_step (on by default): only the pooled row of each sequence reaches the
 * BT loss, so after ln_1 and c_attn the last layer, ln_f and their backward run on those B rows alone (dropout
 * masks at the rows' original positions). Same loss, rewards and gradients as the full step up to float
 * rounding: with B > 12 rows bit-identical except the last layer's c_proj / c_fc / mlp.c_proj weight gradients
 * (sums over rows blocked differently; see train.c). About 75% of the last layer's work saved. on = 0 runs every row (for comparison). warm_trainer_rewards always prunes (it reads
 * only the pooled rows); the LM step and warm_trainer_forward always run every row.
 */
void warm_trainer_set_prune(warm_trainer *tr, int on);

/*
 * den > 0: warm_trainer_lm_step divides by den instead of the sum of the loss weights, so weights may have any
 * sign (the policy-gradient surrogate sum_i A_i * nll_i / den of warm rl); den <= 0 restores the default.
 */
void warm_trainer_set_lm_denominator(warm_trainer *tr, double den);

/*
 * Shared-prefix packing in warm_trainer_bt_step (on by default): each pair is run as one packed row set holding
 * the longest common token prefix of chosen and rejected once (capped so each keeps at least one token of its
 * own), then the rest of chosen, then the rest of rejected, with tree attention (rejected's rows see the prefix
 * and themselves, never chosen's) and position ids continuing from the prefix; the pairs are concatenated with
 * no padding, so the step's work is proportional to real tokens. Pairs that share no prefix just run as two
 * unpadded sequences. Rewards are read at the same tokens as the padded step (last token of each sequence), and
 * with dropout off loss, rewards and gradients equal the padded step's up to float rounding; dropout masks
 * differ (they are numbered by packed row; still a pure function of the key). on = 0 runs the 2P right-padded
 * rows (the previous behaviour; for tests and benchmarks).
 */
void warm_trainer_set_pair_packing(warm_trainer *tr, int on);

/*
 * Forward over tokens (B, T) right-padded with per-row lengths (1..T). train != 0 enables dropout with
 * counter-based masks keyed by dropout_key (same key -> same masks). Returns the final hidden states
 * (B, T, C) after ln_f (owned by the trainer, valid until the next call).
 */
const float *warm_trainer_forward(warm_trainer *tr, const int32_t *tokens, const int32_t *lengths, int B, int T,
                                  int train, uint64_t dropout_key);

/*
 * LM loss: forward, tied LM head, masked cross-entropy. targets (B, T) are the next tokens, loss_mask (B, T)
 * per-position weights (0/1 typically; NULL = 1 at every position t < len_b; positions t >= len_b never count).
 * Loss = sum(mask * nll) / sum(mask). If backward, grads accumulate into m->grads. Returns the loss.
 */
float warm_trainer_lm_step(warm_trainer *tr, const int32_t *tokens, const int32_t *lengths, const int32_t *targets,
                           const float *loss_mask, int B, int T, int train, uint64_t dropout_key, int backward);

typedef struct {
    float loss;        /* mean BT loss (+ centring term) */
    float accuracy;    /* mean 1[r+ > r-] (strict, as TRL) */
    float margin;      /* mean r+ - r- */
    float reward_mean, reward_min, reward_max; /* over all 2P rewards */
} warm_bt_stats;

/*
 * Bradley-Terry step over P pairs: rows 0..P-1 of tokens are the chosen sequences, rows P..2P-1 the rejected
 * (each right-padded to T, lengths per row; packed internally unless warm_trainer_set_pair_packing(tr, 0)). loss = mean_p -log sigma(r+ - r- - margin_p)
 * + center * mean_p (r+ + r-)^2 (margins may be NULL = 0). Rewards (2P) written to rewards if non-NULL.
 * If backward, grads accumulate into m->grads.
 */
warm_bt_stats warm_trainer_bt_step(warm_trainer *tr, const int32_t *tokens, const int32_t *lengths, int P, int T,
                                   const float *margins, float center, int train, uint64_t dropout_key, int backward,
                                   float *rewards);

/*
 * The step of warm_trainer_bt_step restricted to pairs [p0, p1) of the same P-pair batch (packed pairs only):
 * exactly the part those pairs contribute to the whole step. Their loss terms are divided by P (not p1 - p0)
 * and their dropout masks are those the whole batch's packed stream gives them, so summing the gradients of a
 * partition of [0, P) gives the whole step's gradient up to float summation order (data-parallel training,
 * src/train/rm_train.c; tests/test_dist.c). The returned statistics are means over the part's pairs (its
 * rewards (2 (p1 - p0)): chosen then rejected); an empty part computes nothing and leaves the gradients alone.
 * T must be the whole batch's width (the attention masks are numbered with it).
 */
warm_bt_stats warm_trainer_bt_step_part(warm_trainer *tr, const int32_t *tokens, const int32_t *lengths, int P, int T,
                                        int p0, int p1, const float *margins, float center, int train,
                                        uint64_t dropout_key, int backward, float *rewards);

/*
 * Backward passes report progress: fn(ctx, from) once ln_f's gradients are final, after each layer (from =
 * the offset of its first tensor, ln_1.weight) and after the embeddings (from = 0), meaning m->grads[from ..
 * n_params) will not change again in this step (the arena's order is wte, wpe, h.0 .. h.L-1, ln_f, score).
 * Data-parallel training starts the allreduce of those gradients while the rest of the backward runs
 * (warm/dist.h, warm_dist_reducer_ready). fn NULL: off (the default).
 */
void warm_trainer_set_grad_ready(warm_trainer *tr, void (*fn)(void *ctx, size_t from), void *ctx);

/*
 * Final hidden states (after ln_f) at the pooled token of each sequence of P pairs laid out as for
 * warm_trainer_bt_step, no dropout: out (2P, C), row p chosen, row P + p rejected. Packed like the BT step
 * (warm_trainer_set_pair_packing), last layer always pruned: the features a linear probe trains on.
 */
void warm_trainer_pair_hidden(warm_trainer *tr, const int32_t *tokens, const int32_t *lengths, int P, int T,
                              float *out);

/* Rewards of B sequences (no dropout, no backward): out (B). The last layer runs on the B pooled rows only
 * (as warm_trainer_set_prune), so the rewards equal score.weight . warm_trainer_forward's pooled rows up to
 * float rounding, at about 75% less work in the last layer. */
void warm_trainer_rewards(warm_trainer *tr, const int32_t *tokens, const int32_t *lengths, int B, int T, float *out);

/* ---- optimiser ---- */

typedef struct {
    float lr;            /* peak learning rate */
    float beta1, beta2, eps, weight_decay;
    float grad_clip;     /* global-norm clip; <= 0 disables */
    int warmup_steps;
    int total_steps;     /* for the decay schedule */
    int schedule;        /* 0 constant, 1 cosine to min_lr_frac*lr, 2 linear to min_lr_frac*lr */
    float min_lr_frac;
} warm_adamw_config;

warm_adamw_config warm_adamw_default(float lr);
/* Learning rate at 0-based step s: linear warm-up over warmup_steps, then the schedule. */
float warm_lr_at(const warm_adamw_config *c, int64_t s);
/* Global grad norm (double, fixed order); clips, applies AdamW to every tensor (decay only where
 * tensor.decay; only score.weight when frozen), increments m->step, zeroes grads. Returns the pre-clip norm. */
float warm_model_adamw_step(warm_model *m, const warm_adamw_config *c, int head_only);
void warm_model_zero_grad(warm_model *m);

/* ------------------------------------------------------------------------------------------------------ */
/* Decode path                                                                                             */

/*
 * KV cache for n_seq sequences that share one prompt prefix: the prefix's keys/values are stored once
 * (L, max_prefix, C) and each sequence has its own suffix (L, n_seq, max_suffix, C). A sequence at suffix
 * position j attends to the whole prefix plus its own suffix 0..j.
 */
typedef struct {
    int L, C, NH;
    int max_prefix, max_suffix, n_seq;
    int prefix_len;
    int *suffix_len;        /* (n_seq) tokens already in each suffix */
    float *kp, *vp;         /* (L, max_prefix, C) */
    float *ks, *vs;         /* (L, n_seq, max_suffix, C) */
} warm_kvcache;

warm_status warm_kvcache_init(warm_kvcache *kv, const warm_config *cfg, int max_prefix, int max_suffix, int n_seq,
                              warm_error *err);
void warm_kvcache_free(warm_kvcache *kv);
/* Forgets every suffix (keeps the prefix). */
void warm_kvcache_reset_suffixes(warm_kvcache *kv);

/* Decode workspace (scratch for up to max_rows tokens per call). */
typedef struct warm_decoder warm_decoder;
warm_status warm_decoder_init(warm_decoder **d, const warm_model *m, int max_rows, warm_error *err);
void warm_decoder_free(warm_decoder *d);

/*
 * Runs the prompt (len tokens, positions 0..len-1) into the prefix of kv (replacing any previous prefix and
 * resetting suffixes). If logits_last is non-NULL it receives the (V) logits after the last prompt token; if
 * hidden_last is non-NULL it receives the final (C) hidden state (after ln_f) of the last prompt token.
 */
warm_status warm_decode_prefill(warm_decoder *d, warm_kvcache *kv, const int32_t *prompt, int len, float *logits_last,
                                float *hidden_last, warm_error *err);
/*
 * Appends counts[s] tokens to each sequence s (tokens for sequence s at tokens + offsets implied by the
 * prefix sum of counts) and runs them. Outputs per sequence (the last appended token of s; untouched when
 * counts[s] = 0): logits (n_seq, V) if non-NULL, hidden (n_seq, C) final hidden state if non-NULL.
 * One call with all counts 1 is one decode step for every sequence.
 */
warm_status warm_decode_extend(warm_decoder *d, warm_kvcache *kv, const int32_t *tokens, const int *counts,
                               float *logits, float *hidden, warm_error *err);

/* Reward of a final hidden state (C): score.weight . h. */
float warm_model_reward_from_hidden(const warm_model *m, const float *h);

/* ---- sampling ---- */
typedef struct {
    float temperature;   /* 0 = greedy (argmax, lowest id on ties) */
    int top_k;           /* 0 = off */
    float top_p;         /* 1 = off */
} warm_sampler;

/* Picks a token from logits (V); scratch holds 2*V floats/ints worth of space (V floats + V ints) or NULL.
 * *logprob (may be NULL) receives log p(token) under the temperature-scaled, untruncated distribution
 * (the policy's own log-probability, what KL estimates need). */
int32_t warm_sample(const float *logits, int V, const warm_sampler *s, warm_rng *rng, float *logprob);

/*
 * Generates n samples of up to max_new tokens each for one prompt, sharing the prompt's KV prefix and
 * decoding all n in one batch per step. A sample stops after emitting eos (included). out_tokens (n, max_new),
 * out_logprobs (n, max_new) (may be NULL), out_lens (n).
 */
warm_status warm_generate(const warm_model *m, const int32_t *prompt, int prompt_len, int n, int max_new,
                          const warm_sampler *s, int32_t eos, warm_rng *rng, int32_t *out_tokens,
                          float *out_logprobs, int *out_lens, warm_error *err);

/*
 * Teacher forcing through the same batched decode: per-token log-probabilities (temperature 1, as warm_sample
 * reports them) of n given responses to one prompt, the prompt's KV prefix shared: out[i * stride + t] =
 * log p(resp_i,t | prompt, resp_i,<t) for t < lens[i]; response i is resp + i * stride, 1 <= lens[i] <= stride,
 * prompt_len + stride <= the context. What KL estimates against a frozen reference policy need.
 */
warm_status warm_decode_logprobs(const warm_model *m, const int32_t *prompt, int prompt_len, const int32_t *resp,
                                 int stride, const int *lens, int n, float *out, warm_error *err);

/*
 * The same log-probabilities as warm_decode_logprobs, computed in one pass: the prompt prefilled once, then all
 * tokens of up to 64 responses appended in one call (every row's logits kept), as a prefill does, instead of
 * token by token. Equal to warm_decode_logprobs up to float rounding (not bit for bit: the matmuls see other row
 * counts); 4-5x faster for k x 32-token responses. What the RL step uses for the frozen SFT reference.
 */
warm_status warm_prefill_logprobs(const warm_model *m, const int32_t *prompt, int prompt_len, const int32_t *resp,
                                  int stride, const int *lens, int n, float *out, warm_error *err);

/*
 * Scores n responses to one prompt, reusing the prompt's prefix: rewards[i] = reward at the last token of
 * prompt + response i. responses: the n responses' tokens concatenated, lens (n) their lengths; a response
 * of length 0 gets the reward at the last prompt token.
 */
warm_status warm_score_responses(const warm_model *m, const int32_t *prompt, int prompt_len, const int32_t *responses,
                                 const int *lens, int n, float *rewards, warm_error *err);

#endif
