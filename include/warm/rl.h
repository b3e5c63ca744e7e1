/*
 * warm/rl.h — KL-regularised on-policy RL of a GPT-2 policy against a reward model (docs/rl.md).
 *
 * OBJECTIVE. For a prompt x and a response y ~ pi(.|x) the return is
 *     R(x, y) = rn(x, y) - beta * KL(x, y),   KL(x, y) = sum_t [log pi(y_t | x, y_<t) - log pi_SFT(y_t | x, y_<t)]
 * (the per-token log-ratio to the frozen SFT policy summed over the response: the sampled "k1" estimator,
 * whose expectation over y ~ pi is exactly KL(pi(.|x) || pi_SFT(.|x)) over whole responses). rn is the reward
 * model's reward normalised by running statistics (warm_rl_norm): rn = (r - mean) / std over every reward
 * seen so far, this step's included.
 *
 * GRADIENT. REINFORCE with a leave-one-out baseline (RLOO): k responses per prompt, advantage
 *     A_i = R_i - mean_{j != i} R_j,
 * surrogate L = -(1 / (P k)) sum_i A_i sum_t log pi(y_i,t | ...), returns treated as constants. Its gradient
 * is an unbiased estimate of -grad E[R] (the baseline does not depend on y_i), no value head is needed.
 * pi is the model's softmax at temperature 1 (what is sampled is what is differentiated); no dropout.
 */
#ifndef WARM_RL_H
#define WARM_RL_H

#include <stdint.h>

#include "warm/core.h"
#include "warm/model.h"

/*
 * Rewards of n responses to one prompt: response i is resp + i * stride, lens[i] tokens (eos included when
 * emitted). out (n). Used for the proxy reward model(s) and for the gold (control) reward.
 */
typedef warm_status (*warm_rl_reward_fn)(void *ctx, const int32_t *prompt, int prompt_len, const int32_t *resp,
                                         int stride, const int *lens, int n, float *out, warm_error *err);

typedef struct {
    int k;        /* responses per prompt, >= 2 (leave-one-out) */
    int max_new;  /* tokens per response at most */
    float beta;   /* KL coefficient, >= 0 */
    int normalize;/* 1: running mean/std normalisation of the RM reward; 0: raw reward */
} warm_rl_config;

/* Running statistics of the RM reward (Welford, in double; saved with checkpoints for exact resume). */
typedef struct {
    int64_t n;
    double mean, m2;
} warm_rl_norm;
void warm_rl_norm_update(warm_rl_norm *s, const float *r, int n);
/* Population std of what was seen; 1 before two values, at least 1e-6. */
double warm_rl_norm_std(const warm_rl_norm *s);

/* Leave-one-out advantages of k >= 2 returns: adv[i] = R[i] - mean_{j != i} R[j]. */
void warm_rl_loo(const double *R, int k, double *adv);

typedef struct {
    double reward;      /* mean raw RM reward of the step's responses */
    double kl;          /* mean KL(x, y) (nats, per response) */
    double objective;   /* mean R = rn - beta KL */
    double gold;        /* mean gold reward (NAN without a gold function) */
    double loss;        /* surrogate value */
    double grad_norm;   /* pre-clip global norm */
    double resp_len;    /* mean response length (tokens) */
    double lr;
    /* wall seconds of this step's parts (not part of the results: they vary run to run) */
    double t_sample;    /* the policy's k samples per prompt (KV-cache decode, shared prompt prefix) */
    double t_ref;       /* the frozen SFT model's log-probs of those samples (KL) */
    double t_reward;    /* the proxy reward model's scores */
    double t_gold;      /* the gold reward (0 without one) */
    double t_update;    /* the surrogate's forward + backward through the training path and the AdamW step */
} warm_rl_stats;

/*
 * Oracle win rate of policy A over policy B on one prompt: the probability that a random sample of A has a
 * higher gold reward than a random sample of B, ties counting 1/2, exact over the ka x kb pairs of their
 * samples' gold rewards ga (ka), gb (kb).
 */
double warm_rl_winrate(const float *ga, int ka, const float *gb, int kb);

/* Workspace of an RL run: the policy's trainer and the rollout buffers, for up to P prompts per step. */
typedef struct warm_rl warm_rl;
/* policy must have training arenas (warm_model_alloc_train); ref is the frozen SFT model (same vocabulary).
 * Tmax: longest prompt + max_new (<= the policy's context). */
warm_status warm_rl_init(warm_rl **rl, warm_model *policy, const warm_model *ref, const warm_rl_config *c, int P,
                         int Tmax, warm_error *err);
void warm_rl_free(warm_rl *rl);

/*
 * The surrogate's gradient alone (what warm_rl_step runs before its AdamW step): rows prompt + response for
 * P*k responses (response i at resp + i * stride, lens[i] tokens, prompt i / k), advantages adv (P*k);
 * gradients of L = -(1 / (P k)) sum_i adv_i sum_t log pi(y_i,t | ...) accumulate into the policy's grads.
 * Returns L.
 */
double warm_rl_surrogate_backward(warm_rl *rl, const int32_t *const *prompts, const int *prompt_len, int P,
                                  const int32_t *resp, int stride, const int *lens, const double *adv);

/*
 * One RL step on P prompts (prompts[p], prompt_len[p] tokens): k samples each from the policy (warm_generate,
 * one RNG stream), SFT log-probs, rewards from rm (and gold when non-NULL), normalisation, RLOO advantages,
 * the surrogate's gradient through the training path, one AdamW step (opt, at the policy's step count).
 * eos ends a response. Deterministic given rng, norm and the models; independent of the thread count as the
 * kernels are.
 */
warm_status warm_rl_step(warm_rl *rl, const int32_t *const *prompts, const int *prompt_len, int P,
                         warm_rl_reward_fn rm, void *rm_ctx, warm_rl_reward_fn gold, void *gold_ctx,
                         const warm_adamw_config *opt, int32_t eos, warm_rng *rng, warm_rl_norm *norm,
                         warm_rl_stats *stats, warm_error *err);

#endif
