/*
 * rl.c — KL-regularised REINFORCE with a leave-one-out baseline (warm/rl.h, docs/rl.md).
 *
 * Rollouts use the decode path (warm_generate: one KV prefix per prompt shared by its k samples); the SFT
 * log-probs use the same path with teacher forcing; the gradient runs the policy's batched training path with
 * the LM loss weighted by the advantages (warm_trainer_set_lm_denominator: signed weights, fixed P*k).
 */
#include "warm/rl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void warm_rl_norm_update(warm_rl_norm *s, const float *r, int n) {
    for (int i = 0; i < n; i++) {
        s->n++;
        double d = (double)r[i] - s->mean;
        s->mean += d / (double)s->n;
        s->m2 += d * ((double)r[i] - s->mean);
    }
}

double warm_rl_norm_std(const warm_rl_norm *s) {
    if (s->n < 2) return 1.0;
    double sd = sqrt(s->m2 / (double)s->n);
    return sd > 1e-6 ? sd : 1e-6;
}

void warm_rl_loo(const double *R, int k, double *adv) {
    WARM_CHECK(k >= 2, "leave-one-out needs k >= 2 (k = %d)", k);
    double sum = 0.0;
    for (int i = 0; i < k; i++) sum += R[i];
    for (int i = 0; i < k; i++) adv[i] = R[i] - (sum - R[i]) / (double)(k - 1);
}

double warm_rl_winrate(const float *ga, int ka, const float *gb, int kb) {
    WARM_CHECK(ka > 0 && kb > 0, "ka %d kb %d", ka, kb);
    double w = 0.0;
    for (int i = 0; i < ka; i++)
        for (int j = 0; j < kb; j++) w += ga[i] > gb[j] ? 1.0 : ga[i] == gb[j] ? 0.5 : 0.0;
    return w / ((double)ka * (double)kb);
}

struct warm_rl {
    warm_model *policy;
    const warm_model *ref;
    warm_rl_config c;
    int P, Tmax;
    warm_trainer *tr;
    int32_t *resp;     /* (P*k, max_new) */
    int *lens;         /* (P*k) */
    float *lp, *lp_ref;/* (P*k, max_new) */
    float *r, *g;      /* (P*k) */
    double *R, *adv;   /* (P*k) */
    int32_t *tok, *tgt;/* (P*k, Tmax) */
    int32_t *rowlen;   /* (P*k) */
    float *mask;       /* (P*k, Tmax) */
};

void warm_rl_free(warm_rl *rl) {
    if (!rl) return;
    warm_trainer_free(rl->tr);
    free(rl->resp); free(rl->lens); free(rl->lp); free(rl->lp_ref); free(rl->r); free(rl->g);
    free(rl->R); free(rl->adv); free(rl->tok); free(rl->tgt); free(rl->rowlen); free(rl->mask);
    free(rl);
}

warm_status warm_rl_init(warm_rl **out, warm_model *policy, const warm_model *ref, const warm_rl_config *c, int P,
                         int Tmax, warm_error *err) {
    *out = NULL;
    if (c->k < 2 || c->max_new < 1 || !(c->beta >= 0.0f) || P < 1)
        return warm_error_set(err, WARM_ERR_ARG, "rl: k %d (>= 2), max_new %d (>= 1), beta %g (>= 0), prompts %d",
                              c->k, c->max_new, (double)c->beta, P);
    if (!policy->grads) return warm_error_set(err, WARM_ERR_ARG, "rl: the policy has no training arenas");
    if (ref->cfg.vocab_size != policy->cfg.vocab_size)
        return warm_error_set(err, WARM_ERR_MISMATCH, "rl: policy vocabulary %d, SFT %d", policy->cfg.vocab_size,
                              ref->cfg.vocab_size);
    if (Tmax < 2 || Tmax > policy->cfg.n_positions || Tmax > ref->cfg.n_positions)
        return warm_error_set(err, WARM_ERR_ARG, "rl: sequence length %d outside [2, context]", Tmax);
    warm_rl *rl = calloc(1, sizeof *rl);
    if (!rl) return warm_error_set(err, WARM_ERR_NOMEM, "rl: out of memory");
    rl->policy = policy;
    rl->ref = ref;
    rl->c = *c;
    rl->P = P;
    rl->Tmax = Tmax;
    size_t n = (size_t)P * c->k, M = (size_t)c->max_new;
    rl->resp = malloc(n * M * sizeof *rl->resp);
    rl->lens = malloc(n * sizeof *rl->lens);
    rl->lp = malloc(n * M * sizeof *rl->lp);
    rl->lp_ref = malloc(n * M * sizeof *rl->lp_ref);
    rl->r = malloc(n * sizeof *rl->r);
    rl->g = malloc(n * sizeof *rl->g);
    rl->R = malloc(n * sizeof *rl->R);
    rl->adv = malloc(n * sizeof *rl->adv);
    rl->tok = malloc(n * (size_t)Tmax * sizeof *rl->tok);
    rl->tgt = malloc(n * (size_t)Tmax * sizeof *rl->tgt);
    rl->rowlen = malloc(n * sizeof *rl->rowlen);
    rl->mask = malloc(n * (size_t)Tmax * sizeof *rl->mask);
    if (!rl->resp || !rl->lens || !rl->lp || !rl->lp_ref || !rl->r || !rl->g || !rl->R || !rl->adv || !rl->tok ||
        !rl->tgt || !rl->rowlen || !rl->mask) {
        warm_rl_free(rl);
        return warm_error_set(err, WARM_ERR_NOMEM, "rl: out of memory for %zu rollouts", n);
    }
    warm_status s = warm_trainer_init(&rl->tr, policy, (int)n, Tmax, 1, err);
    if (s) {
        warm_rl_free(rl);
        return s;
    }
    warm_trainer_set_lm_denominator(rl->tr, (double)n);
    *out = rl;
    return WARM_OK;
}

double warm_rl_surrogate_backward(warm_rl *rl, const int32_t *const *prompts, const int *prompt_len, int P,
                                  const int32_t *resp, int stride, const int *lens, const double *adv) {
    const int k = rl->c.k, T = rl->Tmax, n = P * k;
    WARM_CHECK(P >= 1 && P <= rl->P, "P = %d", P);
    /* Rows: prompt + response; the weight A_i sits at the positions whose target is a response token. */
    for (int p = 0; p < P; p++)
        for (int j = 0; j < k; j++) {
            int i = p * k + j, L = prompt_len[p] + lens[i];
            WARM_CHECK(lens[i] >= 1 && lens[i] <= stride && L <= T, "row %d: %d + %d tokens, T %d", i, prompt_len[p],
                       lens[i], T);
            int32_t *tok = rl->tok + (size_t)i * T, *tgt = rl->tgt + (size_t)i * T;
            float *w = rl->mask + (size_t)i * T;
            memcpy(tok, prompts[p], (size_t)prompt_len[p] * sizeof *tok);
            memcpy(tok + prompt_len[p], resp + (size_t)i * stride, (size_t)lens[i] * sizeof *tok);
            for (int t = L; t < T; t++) tok[t] = 0;
            for (int t = 0; t < T; t++) {
                tgt[t] = t + 1 < L ? tok[t + 1] : 0;
                w[t] = (t >= prompt_len[p] - 1 && t + 1 < L) ? (float)adv[i] : 0.0f;
            }
            rl->rowlen[i] = L;
        }
    warm_trainer_set_lm_denominator(rl->tr, (double)n);
    return (double)warm_trainer_lm_step(rl->tr, rl->tok, rl->rowlen, rl->tgt, rl->mask, n, T, 0, 0, 1);
}

warm_status warm_rl_step(warm_rl *rl, const int32_t *const *prompts, const int *prompt_len, int P,
                         warm_rl_reward_fn rm, void *rm_ctx, warm_rl_reward_fn gold, void *gold_ctx,
                         const warm_adamw_config *opt, int32_t eos, warm_rng *rng, warm_rl_norm *norm,
                         warm_rl_stats *st, warm_error *err) {
    const int k = rl->c.k, M = rl->c.max_new, T = rl->Tmax;
    if (P < 1 || P > rl->P) return warm_error_set(err, WARM_ERR_ARG, "rl step: %d prompts (1..%d)", P, rl->P);
    for (int p = 0; p < P; p++)
        if (prompt_len[p] < 1 || prompt_len[p] + M > T)
            return warm_error_set(err, WARM_ERR_ARG, "rl step: prompt %d of %d tokens + %d new exceeds %d", p,
                                  prompt_len[p], M, T);
    warm_sampler smp = {1.0f, 0, 1.0f};
    warm_status s = WARM_OK;
    double t_sample = 0, t_ref = 0, t_reward = 0, t_gold = 0, t0;
    for (int p = 0; p < P && !s; p++) {
        size_t o = (size_t)p * k;
        t0 = warm_time_now();
        s = warm_generate(rl->policy, prompts[p], prompt_len[p], k, M, &smp, eos, rng, rl->resp + o * M,
                          rl->lp + o * M, rl->lens + o, err);
        t_sample += warm_time_now() - t0;
        t0 = warm_time_now();
        if (!s) s = warm_prefill_logprobs(rl->ref, prompts[p], prompt_len[p], rl->resp + o * M, M, rl->lens + o, k,
                                          rl->lp_ref + o * M, err);
        t_ref += warm_time_now() - t0;
        t0 = warm_time_now();
        if (!s) s = rm(rm_ctx, prompts[p], prompt_len[p], rl->resp + o * M, M, rl->lens + o, k, rl->r + o, err);
        t_reward += warm_time_now() - t0;
        t0 = warm_time_now();
        if (!s && gold)
            s = gold(gold_ctx, prompts[p], prompt_len[p], rl->resp + o * M, M, rl->lens + o, k, rl->g + o, err);
        t_gold += warm_time_now() - t0;
        if (s) warm_error_prefix(err, "rl prompt %d", p);
    }
    if (s) return s;
    int n = P * k;
    for (int i = 0; i < n; i++)
        if (!isfinite(rl->r[i])) return warm_error_set(err, WARM_ERR_ARG, "rl: non-finite reward %g", (double)rl->r[i]);
    if (rl->c.normalize) warm_rl_norm_update(norm, rl->r, n);
    double mu = rl->c.normalize ? norm->mean : 0.0, sd = rl->c.normalize ? warm_rl_norm_std(norm) : 1.0;
    memset(st, 0, sizeof *st);
    for (int i = 0; i < n; i++) {
        double kl = 0.0;
        for (int t = 0; t < rl->lens[i]; t++)
            kl += (double)rl->lp[(size_t)i * M + t] - (double)rl->lp_ref[(size_t)i * M + t];
        rl->R[i] = ((double)rl->r[i] - mu) / sd - (double)rl->c.beta * kl;
        st->reward += (double)rl->r[i];
        st->kl += kl;
        st->objective += rl->R[i];
        st->gold += gold ? (double)rl->g[i] : 0.0;
        st->resp_len += rl->lens[i];
    }
    st->reward /= n;
    st->kl /= n;
    st->objective /= n;
    st->gold = gold ? st->gold / n : (double)NAN;
    st->resp_len /= n;
    for (int p = 0; p < P; p++) warm_rl_loo(rl->R + (size_t)p * k, k, rl->adv + (size_t)p * k);
    t0 = warm_time_now();
    st->loss = warm_rl_surrogate_backward(rl, prompts, prompt_len, P, rl->resp, M, rl->lens, rl->adv);
    st->lr = warm_lr_at(opt, rl->policy->step);
    st->grad_norm = warm_model_adamw_step(rl->policy, opt, 0);
    st->t_update = warm_time_now() - t0;
    st->t_sample = t_sample;
    st->t_ref = t_ref;
    st->t_reward = t_reward;
    st->t_gold = t_gold;
    return WARM_OK;
}
