/*
 * bench_train.c — whole-model throughput of warm on the benchmark configs of issue 2:
 *   train:  reward-model step = forward + backward of 2P full-length sequences, BT loss, AdamW (clip 1.0)
 *   score:  forward only (rewards), same batch: score_full = every row of every layer; score = the last layer
 *           pruned to the pooled rows (warm_trainer_rewards); score_packed / score_batched = the engines of
 *           src/eval/score.c that warm eval, score, bon and lmc run
 *   decode: N samples from one prompt with the KV cache (shared prefix) vs a full recompute per token
 * FLOPs counted as bench/torch_bench.py does: train = (6 * 12 L C^2 + 12 L T C) per token (matmuls x3 for
 * forward+backward, attention QK^T and AV at full T); score = one third of that.
 * The train step prunes its last layer to the pooled rows (warm_trainer_set_prune) unless told otherwise; the
 * FLOP figure stays the nominal one of the full step, so with pruning it is an effective rate.
 * Usage: bench_train [S|M] [steps] [prune|noprune|both|score]   (threads: OMP_NUM_THREADS; both: noprune, then
 * prune; score: scoring only, for profiling the forward path)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warm/eval.h"
#include "warm/kernels.h"
#include "warm/model.h"

static void die(const warm_error *e) {
    fprintf(stderr, "bench_train: %s\n", e->msg);
    exit(1);
}

/* Seconds per reward-model step (3 warm-up steps, then `steps` timed), last layer pruned or not. */
static double time_train(warm_trainer *tr, warm_model *m, const int32_t *tok, const int32_t *len, int P, int T,
                         int steps, int prune) {
    warm_adamw_config oc = warm_adamw_default(1e-5f);
    oc.grad_clip = 1.0f;
    warm_trainer_set_prune(tr, prune);
    for (int s = 0; s < 3; s++) { /* warm-up */
        warm_trainer_bt_step(tr, tok, len, P, T, NULL, 0.0f, 1, (uint64_t)s, 1, NULL);
        warm_model_adamw_step(m, &oc, 0);
    }
    double t0 = warm_time_now();
    for (int s = 0; s < steps; s++) {
        warm_trainer_bt_step(tr, tok, len, P, T, NULL, 0.0f, 1, (uint64_t)s, 1, NULL);
        warm_model_adamw_step(m, &oc, 0);
    }
    return (warm_time_now() - t0) / steps;
}

/* The scoring engines of warm eval/score/bon (src/eval/score.c) on the same B full-length sequences, each its own
 * group (no shared prefix: the same work as warm_trainer_rewards and PyTorch's forward). */
static void score_engines(const warm_model *m, const int32_t *tok, int B, int T, int steps, const char *which,
                          double flops_tok_fwd) {
    warm_eval_group *g = calloc((size_t)B, sizeof *g);
    int *lens = malloc((size_t)B * sizeof *lens);
    float *rw = malloc((size_t)B * sizeof *rw);
    for (int b = 0; b < B; b++) {
        lens[b] = T;
        g[b] = (warm_eval_group){NULL, 0, 1, tok + (size_t)b * T, &lens[b]};
    }
    warm_eval_strategy engines[2] = {WARM_EVAL_PACKED, WARM_EVAL_BATCHED};
    for (int e = 0; e < 2; e++) {
        warm_eval_opts o = warm_eval_opts_default();
        o.strategy = engines[e];
        o.max_rows = B * T;
        warm_scorer *sc;
        warm_error err;
        if (warm_scorer_init(&sc, m, &o, &err) || warm_scorer_groups(sc, g, B, rw, &err)) die(&err);
        double t0 = warm_time_now();
        for (int s = 0; s < steps; s++)
            if (warm_scorer_groups(sc, g, B, rw, &err)) die(&err);
        double dt = (warm_time_now() - t0) / steps, tokens = (double)B * T;
        printf("warm config=%s threads=%d what=score_%s tokens_per_s=%.0f gflops=%.1f ms_per_batch=%.1f\n", which,
               warm_num_threads(), warm_eval_strategy_name(engines[e]), tokens / dt, flops_tok_fwd * tokens / dt / 1e9,
               dt * 1e3);
        warm_scorer_free(sc);
    }
    free(g); free(lens); free(rw);
}

int main(int argc, char **argv) {
    const char *which = argc > 1 ? argv[1] : "S";
    int steps = argc > 2 ? atoi(argv[2]) : 10;
    const char *mode = argc > 3 ? argv[3] : "prune";
    int lo = 1, hi = 1; /* prune settings to run, in order */
    int score_only = strcmp(mode, "score") == 0;
    if (strcmp(mode, "noprune") == 0) lo = hi = 0;
    else if (strcmp(mode, "both") == 0) lo = 0;
    else if (score_only) lo = 1, hi = 0;
    else if (strcmp(mode, "prune") != 0) {
        fprintf(stderr, "bench_train: mode must be prune, noprune, both or score\n");
        return 2;
    }
    if (steps < 1) { fprintf(stderr, "bench_train: steps must be >= 1\n"); return 2; }
    int V = 8192, T, L, NH, C, P;
    if (strcmp(which, "S") == 0) { T = 128; L = 4; NH = 4; C = 256; P = 8; }
    else if (strcmp(which, "M") == 0) { T = 256; L = 6; NH = 6; C = 384; P = 4; }
    else { fprintf(stderr, "bench_train: config must be S or M\n"); return 2; }
    warm_error err;
    warm_config cfg = warm_config_default(V, T, L, NH, C);
    warm_model m;
    if (warm_model_init(&m, &cfg, &err) || warm_model_alloc_train(&m, &err)) die(&err);
    warm_model_init_weights(&m, 1);
    warm_trainer *tr;
    if (warm_trainer_init(&tr, &m, 2 * P, T, 0, &err)) die(&err);
    int B = 2 * P;
    int32_t *tok = malloc((size_t)B * T * sizeof *tok), *len = malloc((size_t)B * sizeof *len);
    warm_rng r;
    warm_rng_seed(&r, 3);
    for (int i = 0; i < B * T; i++) tok[i] = (int32_t)warm_rng_below(&r, (uint32_t)V);
    for (int b = 0; b < B; b++) len[b] = T;
    double tokens = (double)B * T;
    double flops_tok_fwd = 2.0 * 12.0 * L * (double)C * C + 4.0 * L * (double)T * C;

    double dt, t0;
    for (int prune = lo; prune <= hi; prune++) {
        dt = time_train(tr, &m, tok, len, P, T, steps, prune);
        printf("warm config=%s threads=%d what=train prune=%d tokens_per_s=%.0f gflops=%.1f ms_per_step=%.1f\n",
               which, warm_num_threads(), prune, tokens / dt, 3.0 * flops_tok_fwd * tokens / dt / 1e9, dt * 1e3);
    }

    /* Scoring through the training path: the full forward (every row of every layer, as before issue 15), then
     * warm_trainer_rewards (last layer pruned to the pooled rows), alternating, best of 3 rounds each. */
    float *rw = malloc((size_t)B * sizeof *rw);
    double best[2] = {1e30, 1e30};
    for (int round = 0; round < 3; round++)
        for (int pruned = 0; pruned < 2; pruned++) {
            t0 = warm_time_now();
            for (int s = 0; s < steps; s++) {
                if (pruned) warm_trainer_rewards(tr, tok, len, B, T, rw);
                else warm_trainer_forward(tr, tok, len, B, T, 0, 0);
            }
            dt = (warm_time_now() - t0) / steps;
            if (dt < best[pruned]) best[pruned] = dt;
        }
    for (int pruned = 0; pruned < 2; pruned++)
        printf("warm config=%s threads=%d what=%s tokens_per_s=%.0f gflops=%.1f ms_per_batch=%.1f\n", which,
               warm_num_threads(), pruned ? "score" : "score_full", tokens / best[pruned],
               flops_tok_fwd * tokens / best[pruned] / 1e9, best[pruned] * 1e3);
    score_engines(&m, tok, B, T, steps, which, flops_tok_fwd);
    if (score_only) {
        free(rw); free(tok); free(len);
        warm_trainer_free(tr);
        warm_model_free(&m);
        return 0;
    }

    /* Decode: n samples of `gen` tokens after a `pl`-token prompt. */
    int n = 8, pl = T / 4, gen = T / 2;
    int32_t *out = malloc((size_t)n * gen * sizeof *out);
    int lens[8];
    warm_sampler smp = {1.0f, 0, 1.0f};
    t0 = warm_time_now();
    if (warm_generate(&m, tok, pl, n, gen, &smp, -1, &r, out, NULL, lens, &err)) die(&err);
    dt = warm_time_now() - t0;
    printf("warm config=%s threads=%d what=decode_kv samples=%d prompt=%d new=%d tokens_per_s=%.0f\n", which,
           warm_num_threads(), n, pl, gen, n * gen / dt);
    /* Full recompute: each new token re-runs the training forward over the whole sequence (batch of n). */
    warm_trainer *tr2;
    if (warm_trainer_init(&tr2, &m, n, pl + gen, 1, &err)) die(&err);
    int32_t *seq = malloc((size_t)n * (pl + gen) * sizeof *seq), *sl = malloc((size_t)n * sizeof *sl);
    int recompute_steps = gen;
    t0 = warm_time_now();
    for (int t = 0; t < recompute_steps; t++) {
        int cur = pl + t;
        for (int s = 0; s < n; s++) {
            memcpy(seq + (size_t)s * cur, tok, (size_t)cur * sizeof *seq);
            sl[s] = cur;
        }
        const float *h = warm_trainer_forward(tr2, seq, sl, n, cur, 0, 0);
        /* logits of the last position only, as a sampler needs */
        float *lg = malloc((size_t)n * V * sizeof *lg);
        warm_global_view g = warm_model_globals(&m, m.params);
        for (int s = 0; s < n; s++)
            warm_sgemm(0, 1, 1, V, C, 1.0f, h + ((size_t)s * cur + cur - 1) * C, C, g.wte, C, 0.0f, lg + (size_t)s * V, V);
        free(lg);
    }
    dt = warm_time_now() - t0;
    printf("warm config=%s threads=%d what=decode_recompute samples=%d prompt=%d new=%d tokens_per_s=%.0f\n", which,
           warm_num_threads(), n, pl, recompute_steps, n * recompute_steps / dt);
    free(seq); free(sl); free(out); free(rw); free(tok); free(len);
    warm_trainer_free(tr2);
    warm_trainer_free(tr);
    warm_model_free(&m);
    return 0;
}
