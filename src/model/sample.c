/*
 * sample.c — picking the next token from logits: greedy, temperature, top-k and top-p (nucleus).
 *
 * The returned log-probability is that of the chosen token under the temperature-scaled distribution
 * before truncation (top-k/top-p) — the policy's own likelihood, which KL estimates against the SFT model
 * need. With temperature 0 (greedy) it is the log-probability under temperature 1.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "warm/model.h"

static int32_t argmax(const float *x, int V) {
    int32_t best = 0;
    for (int i = 1; i < V; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

typedef struct { float p; int32_t id; } prob_id;

static int by_prob_desc(const void *a, const void *b) {
    const prob_id *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}

int32_t warm_sample(const float *logits, int V, const warm_sampler *s, warm_rng *rng, float *logprob) {
    float T = s->temperature > 0.0f ? s->temperature : 1.0f;
    float mx = -INFINITY;
    for (int i = 0; i < V; i++) mx = fmaxf(mx, logits[i] / T);
    double sum = 0.0;
    for (int i = 0; i < V; i++) sum += exp((double)(logits[i] / T - mx));
    double lse = (double)mx + log(sum);
    int32_t tok;
    if (s->temperature <= 0.0f) {
        tok = argmax(logits, V);
    } else if (s->top_k <= 0 && !(s->top_p < 1.0f)) {
        /* Plain sampling by inverse CDF over the full distribution. */
        double u = (double)warm_rng_uniform(rng) * sum, c = 0.0;
        tok = V - 1;
        for (int i = 0; i < V; i++) {
            c += exp((double)(logits[i] / T - mx));
            if (u < c) { tok = i; break; }
        }
    } else {
        prob_id *pi = malloc((size_t)V * sizeof *pi);
        if (!pi) return argmax(logits, V); /* out of memory: fall back to greedy rather than fail mid-rollout */
        for (int i = 0; i < V; i++) {
            pi[i].p = (float)(exp((double)(logits[i] / T - mx)) / sum);
            pi[i].id = i;
        }
        qsort(pi, (size_t)V, sizeof *pi, by_prob_desc);
        int k = s->top_k > 0 && s->top_k < V ? s->top_k : V;
        double mass = 0.0;
        int keep = 0;
        while (keep < k) {
            mass += (double)pi[keep].p;
            keep++;
            if (s->top_p < 1.0f && mass >= (double)s->top_p) break;
        }
        double u = (double)warm_rng_uniform(rng) * mass, c = 0.0;
        tok = pi[keep - 1].id;
        for (int i = 0; i < keep; i++) {
            c += (double)pi[i].p;
            if (u < c) { tok = pi[i].id; break; }
        }
        free(pi);
    }
    if (logprob) *logprob = (float)((double)(logits[tok] / T) - lse);
    return tok;
}
