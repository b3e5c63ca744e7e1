/*
 * bench_rl.c — RL steps/s of warm_rl_step (src/align/rl.c) and where a step's time goes, on random weights:
 *   policy, frozen SFT reference and reward model all of one config (S: V 8192, ctx 128, 4 layers x 4 heads x
 *   width 256; or the embedded task's: V 316, 4 x 4 x 128), P prompts of 64 tokens, k samples each, max_new new
 *   tokens (an eos id that random weights practically never sample, so every response has max_new tokens).
 * Split: sampling (KV-cache decode, the k samples of a prompt sharing its prefix), the reference log-probs (KL),
 * the reward model's scores (packed engine, shared prefix), the update (surrogate forward + backward, AdamW).
 * Baseline in the same run: the same rollouts sampled one response at a time (warm_generate with n = 1, k calls
 * per prompt: no shared prefix, no batching across samples), which is what a per-sample decode loop costs.
 * Usage: bench_rl [S|task] [steps] [k]   (threads: OMP_NUM_THREADS)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warm/eval.h"
#include "warm/model.h"
#include "warm/rl.h"

static void die(const warm_error *e) {
    fprintf(stderr, "bench_rl: %s\n", e->msg);
    exit(1);
}

typedef struct {
    warm_scorer *sc;
    int32_t *packed;
} rm_ctx;

static warm_status rm_reward(void *ctx, const int32_t *prompt, int prompt_len, const int32_t *resp, int stride,
                             const int *lens, int n, float *out, warm_error *err) {
    rm_ctx *c = ctx;
    int total = 0;
    for (int i = 0; i < n; i++) {
        memcpy(c->packed + total, resp + (size_t)i * stride, (size_t)lens[i] * sizeof *resp);
        total += lens[i];
    }
    warm_eval_group g = {.prefix = prompt, .prefix_len = prompt_len, .n = n, .conts = c->packed, .lens = lens};
    return warm_scorer_groups(c->sc, &g, 1, out, err);
}

int main(int argc, char **argv) {
    const char *which = argc > 1 ? argv[1] : "S";
    int steps = argc > 2 ? atoi(argv[2]) : 3, k = argc > 3 ? atoi(argv[3]) : 4;
    int task = strcmp(which, "task") == 0;
    if ((!task && strcmp(which, "S") != 0) || steps < 1 || k < 2) {
        fprintf(stderr, "usage: bench_rl [S|task] [steps] [k>=2]\n");
        return 2;
    }
    const int P = 8, PL = 64, M = 32;
    warm_config cfg = task ? warm_config_default(316, 128, 4, 4, 128) : warm_config_default(8192, 128, 4, 4, 256);
    cfg.embd_pdrop = cfg.attn_pdrop = cfg.resid_pdrop = 0.0f;
    warm_error err = {0};
    warm_model pol, ref, rm;
    if (warm_model_init(&pol, &cfg, &err) || warm_model_init(&ref, &cfg, &err) || warm_model_init(&rm, &cfg, &err))
        die(&err);
    warm_model_init_weights(&pol, 1);
    warm_model_init_weights(&rm, 2);
    memcpy(ref.params, pol.params, pol.n_params * sizeof(float));
    if (warm_model_alloc_train(&pol, &err)) die(&err);
    int32_t eos = cfg.vocab_size - 1;
    int32_t *prompts = malloc((size_t)P * PL * sizeof *prompts);
    const int32_t *pp[8];
    int plen[8];
    warm_rng r;
    warm_rng_seed(&r, 7);
    for (int i = 0; i < P * PL; i++) prompts[i] = (int32_t)warm_rng_below(&r, (uint32_t)(cfg.vocab_size - 1));
    for (int p = 0; p < P; p++) pp[p] = prompts + (size_t)p * PL, plen[p] = PL;
    warm_rl_config rc = {.k = k, .max_new = M, .beta = 0.05f, .normalize = 1};
    warm_rl *rl = NULL;
    if (warm_rl_init(&rl, &pol, &ref, &rc, P, PL + M, &err)) die(&err);
    rm_ctx c = {NULL, malloc((size_t)k * M * sizeof(int32_t))};
    warm_eval_opts eo = warm_eval_opts_default();
    if (warm_scorer_init(&c.sc, &rm, &eo, &err)) die(&err);
    warm_adamw_config opt = warm_adamw_default(1e-5f);
    opt.grad_clip = 1.0f;
    warm_rl_norm nm = {0};
    warm_rng rng;
    warm_rng_seed(&rng, 1);
    warm_rl_stats s, sum = {0};
    if (warm_rl_step(rl, pp, plen, P, rm_reward, &c, NULL, NULL, &opt, eos, &rng, &nm, &s, &err)) die(&err); /* warm-up */
    double t0 = warm_time_now(), toks = 0;
    for (int i = 0; i < steps; i++) {
        if (warm_rl_step(rl, pp, plen, P, rm_reward, &c, NULL, NULL, &opt, eos, &rng, &nm, &s, &err)) die(&err);
        sum.t_sample += s.t_sample, sum.t_ref += s.t_ref, sum.t_reward += s.t_reward, sum.t_update += s.t_update;
        toks += s.resp_len * P * k;
    }
    double dt = warm_time_now() - t0;
    int th = warm_num_threads();
    printf("warm config=%s threads=%d what=rl_step prompts=%d k=%d prompt=%d new=%d steps_per_s=%.3f "
           "sampled_tokens_per_s=%.0f\n", which, th, P, k, PL, M, steps / dt, toks / dt);
    printf("warm config=%s threads=%d what=rl_split sample_s=%.3f ref_s=%.3f reward_s=%.3f update_s=%.3f "
           "other_s=%.3f (per step; shares %.0f%% / %.0f%% / %.0f%% / %.0f%%)\n", which, th, sum.t_sample / steps,
           sum.t_ref / steps, sum.t_reward / steps, sum.t_update / steps,
           (dt - sum.t_sample - sum.t_ref - sum.t_reward - sum.t_update) / steps, 100 * sum.t_sample / dt,
           100 * sum.t_ref / dt, 100 * sum.t_reward / dt, 100 * sum.t_update / dt);
    /* baseline: the same number of samples, one warm_generate call per sample */
    warm_sampler smp = {1.0f, 0, 1.0f};
    int32_t *out = malloc((size_t)M * sizeof *out);
    float *lp = malloc((size_t)M * sizeof *lp);
    int len;
    t0 = warm_time_now();
    for (int i = 0; i < steps; i++)
        for (int p = 0; p < P; p++)
            for (int j = 0; j < k; j++)
                if (warm_generate(&pol, pp[p], plen[p], 1, M, &smp, eos, &rng, out, lp, &len, &err)) die(&err);
    double base = (warm_time_now() - t0) / steps;
    printf("warm config=%s threads=%d what=rl_sampling shared_prefix_batch_s=%.3f one_at_a_time_s=%.3f speedup=%.2f\n",
           which, th, sum.t_sample / steps, base, base / (sum.t_sample / steps));
    free(out);
    free(lp);
    warm_scorer_free(c.sc);
    free(c.packed);
    warm_rl_free(rl);
    free(prompts);
    warm_model_free(&pol);
    warm_model_free(&ref);
    warm_model_free(&rm);
    return 0;
}
