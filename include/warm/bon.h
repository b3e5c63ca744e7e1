/*
 * warm/bon.h — best-of-n with the unbiased pool estimator (docs/bon.md).
 *
 * A POOL is K >= n responses sampled once from the SFT policy for one prompt. Every selector (a reward model,
 * a WARM merge or a prediction ensemble) scores the same pool with its PROXY reward; the CONTROL reward is the
 * task's gold reward. Every quantity below is an exact expectation over a uniformly random n-subset of the
 * pool (what best-of-n of fresh samples estimates without bias), never one noisy draw.
 *
 * TIE RULE. Best-of-n picks the subset's highest proxy reward; among equal proxy rewards it picks the one
 * with the LOWEST pool index (first-occurrence argmax). Equivalently the pool is ranked by (proxy ascending,
 * pool index descending) and the pick is the subset's highest rank. The rank of a response is 1..K.
 *
 * ESTIMATOR. The response of rank i is the pick of a uniformly random n-subset with probability
 *     w_n(i) = C(i-1, n-1) / C(K, n)            (0 for i < n; sum over i = 1)
 * computed by the stable recurrence w_n(K) = n/K, w_n(i-1) = w_n(i) (i-n)/(i-1) in double. E[control of
 * BoN_n] = sum_i w_n(i) control_(i); the same for the proxy reward. With n = 1 this is the pool mean.
 *
 * KL(BoN_n || SFT) = log n - (n-1)/n nats (analytic; Hilton 2023, Beirami et al. 2024).
 *
 * WIN RATES (control comparison, ties count 1/2), both exact:
 *   vs SFT : the selector's BoN_n pick against a response drawn uniformly from the same pool, independently
 *            of the subset (the empirical SFT distribution; the draw may be the pick itself, a tie). With
 *            n = 1 it is exactly 1/2.
 *   vs REF : the selector's pick against the reference selector's pick FROM THE SAME n-subset (as in the
 *            paper, where every selector chooses among the same N candidates). The joint probability that
 *            A picks a and B picks b is C(m, n-2)/C(K, n) for a != b (b ranks below a for A, a below b for B,
 *            m = responses ranked below a by A and below b by B) and C(m, n-1)/C(K, n) for a = b (m =
 *            responses ranked below a by both). O(K^2) per selector, prompt and n. A selector against
 *            itself is exactly 1/2 (warm_bon_evaluate writes 1/2 for the reference selector and, for both
 *            win rates, at n = 1, where the sums equal 1/2 up to rounding).
 *
 * Results are averaged over prompts (per-prompt expectations summed in prompt order in double, then divided
 * by the number of prompts): deterministic and independent of the thread count.
 */
#ifndef WARM_BON_H
#define WARM_BON_H

#include <stdint.h>

#include "warm/core.h"

/* KL(BoN_n || SFT) = log n - (n-1)/n (nats); n >= 1. */
double warm_bon_kl(int n);

/*
 * The doubling ladder 1, 2, 4, ... <= n_max, plus n_max itself when it is not a power of two. ns must hold
 * 32 values; *count receives how many. n_max < 1 is WARM_ERR_ARG.
 */
warm_status warm_bon_ladder(int n_max, int *ns, int *count, warm_error *err);

/*
 * Order of the pool under the tie rule: order[r] = pool index of the response of rank r+1 (ascending).
 * rank (may be NULL) receives the inverse: rank[k] = 0-based rank of response k.
 * Proxy rewards must not be NaN (warm_bon_* functions that take proxies check this).
 */
void warm_bon_order(const float *proxy, int K, int *order, int *rank);

/* w[r] = w_n(r+1), r = 0..K-1 (see ESTIMATOR). 1 <= n <= K, else WARM_ERR_ARG. */
warm_status warm_bon_weights(int K, int n, double *w, warm_error *err);

/*
 * Expected value of `value` at the BoN_n pick of `proxy` over the pool (K values each): pass value = the
 * control rewards for E[control], value = proxy for E[proxy]. WARM_ERR_ARG on n outside [1, K] or a NaN
 * proxy; WARM_ERR_NOMEM.
 */
warm_status warm_bon_expect(const float *proxy, const float *value, int K, int n, double *out, warm_error *err);

/* Exact win rate (control, ties 1/2) of proxy_a's BoN_n pick against a uniform pool sample. */
warm_status warm_bon_winrate_sft(const float *proxy_a, const float *control, int K, int n, double *out,
                                 warm_error *err);
/* Exact win rate (control, ties 1/2) of proxy_a's BoN_n pick against proxy_b's pick from the same n-subset. */
warm_status warm_bon_winrate_ref(const float *proxy_a, const float *proxy_b, const float *control, int K, int n,
                                 double *out, warm_error *err);

/* One point of a best-of-n curve: a selector at one n, averaged over prompts. */
typedef struct {
    int n;
    double kl;           /* log n - (n-1)/n */
    double proxy_mean;   /* E[the selector's own proxy reward of its pick] */
    double control_mean; /* E[control reward of the pick] */
    double win_sft;      /* win rate of the pick against a uniform pool (SFT) sample */
    double win_ref;      /* win rate of the pick against the reference selector's pick, same subset */
} warm_bon_point;

/*
 * All selectors on the SAME pools: P prompts, K responses each. control (P*K): control rewards, prompt-major;
 * proxy[s] (P*K) for s < S: selector s's proxy rewards of the same responses. ref in [0, S): the reference
 * selector for win_ref. ns (n_ns): the n values, each in [1, K]. out (S * n_ns): point s * n_ns + j is
 * selector s at ns[j], averaged over the P prompts. Errors: WARM_ERR_ARG (sizes, NaN proxy or control,
 * n outside [1, K]), WARM_ERR_NOMEM.
 */
warm_status warm_bon_evaluate(int P, int K, const float *control, const float *const *proxy, int S, int ref,
                              const int *ns, int n_ns, warm_bon_point *out, warm_error *err);

#endif
