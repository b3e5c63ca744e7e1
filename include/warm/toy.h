/*
 * warm/toy.h — Monte-Carlo check of the paper's bag-of-features toy model (§4.3, after Lin et al. 2024,
 * Lemma 5; claim C17; docs/toy.md).
 *
 * THE MODEL. Labels y in {-1, +1} (fair coin). F mutually orthogonal features: feature j lives in its own
 * block of d coordinates, z^j = |z^j| * (1, ..., 1) / sqrt(d) inside block j and 0 elsewhere. An input is
 * x = [x^1; ...; x^F] with x^j ~ N(y z^j, sigma^2 I_d) (sigma is a standard deviation). A run i learns a
 * binary selector f_i in {0,1}^F, f_i^j ~ Bernoulli(p_j) independently; its head is omega_i = sum_j f_i^j z^j.
 *
 * L LAYERS (Remark 4). A run is a stack of L "layers": L-1 selector layers, all equal to the run's f_i (the
 * run learned the feature or it did not), and the head omega_i on top:
 *     r_i(x)  = omega_i^T (f_i ⊙ ... ⊙ f_i ⊙ x)                      (L-1 selectors; L = 2 is the paper)
 *     ENS_M(x) = (1/M) sum_i r_i(x)                                   (average of predictions)
 *     WA_M(x)  = omega_bar^T (f_bar ⊙ ... ⊙ f_bar ⊙ x),  omega_bar = (1/M) sum_i omega_i,
 *                f_bar = (1/M) sum_i f_i                              (every layer averaged separately)
 * where ⊙ scales block j by the selector's j-th entry. L = 1 is a linear model: WA_M = ENS_M exactly.
 *
 * COEFFICIENTS. Block j contributes (1/M) sum_i f_i^j z^j.x^j to ENS_M and f_bar_j^L z^j.x^j to WA_M, and
 * E[y z^j.x^j] = |z^j|^2. The per-feature coefficient is E[y * contribution_j] / |z^j|^2:
 *     ENS: E[f_bar_j] = p_j                          (every M)
 *     WA : E[f_bar_j^L] = E[(Bin(M, p_j) / M)^L]     (finite M; L = 2: p^2 + p(1-p)/M) -> p_j^L as M -> inf
 * so WA shrinks a feature learned by few runs (p = 0.3: 0.3 vs 0.09 at L = 2) and keeps one learned by every
 * run (p = 1: 1 and 1): the paper's Eqs. 4-5.
 *
 * THE MONTE CARLO. Each of `trials` independent trials draws M fresh runs, one label y and one input x, and
 * evaluates ENS_M and WA_M literally (vectors of F*d coordinates, heads and selectors built and averaged as
 * above), recording y * contribution_j / |z^j|^2 for every block. The estimate is the mean over trials and
 * its standard error is the sample standard deviation / sqrt(trials) (Welford accumulation). The WA - ENS gap
 * is recorded per trial as well (paired, so its standard error is much smaller than either one's).
 * Everything is drawn from one warm_rng stream seeded with `seed`, in a fixed order: same config and seed,
 * same bits, on any machine with IEEE doubles.
 */
#ifndef WARM_TOY_H
#define WARM_TOY_H

#include <stdint.h>

#include "warm/core.h"

/* Limits checked by warm_toy_run (WARM_ERR_ARG beyond them). */
#define WARM_TOY_MAX_F 4096
#define WARM_TOY_MAX_DIM 4096
#define WARM_TOY_MAX_M 1000000
#define WARM_TOY_MAX_L 64
#define WARM_TOY_MAX_TRIALS 1000000000LL

typedef struct {
    int F;               /* number of features, 1..WARM_TOY_MAX_F */
    const double *p;     /* (F) probability that a run learns feature j, in [0, 1] */
    const double *znorm; /* (F) |z^j| > 0 and finite; NULL: all 1 */
    int d;               /* coordinates per feature block, 1..WARM_TOY_MAX_DIM */
    double sigma;        /* input noise standard deviation, >= 0 and finite */
    int M;               /* runs averaged, 1..WARM_TOY_MAX_M */
    int L;               /* layers averaged separately, 1..WARM_TOY_MAX_L (2: the paper's head + selector) */
    int64_t trials;      /* Monte-Carlo trials, 2..WARM_TOY_MAX_TRIALS */
    uint64_t seed;       /* RNG seed (warm_rng_seed) */
} warm_toy_config;

/* What warm_toy_run reports for one feature. Coefficients are per unit |z^j|^2. */
typedef struct {
    double p;             /* p_j (copied from the config) */
    double theory_ens;    /* p_j: ENS coefficient, exact for every M */
    double theory_wa_inf; /* p_j^L: WA coefficient as M -> inf */
    double theory_wa_M;   /* E[(Bin(M, p_j) / M)^L]: WA coefficient at this M (warm_toy_wa_expect) */
    double mc_ens, mc_ens_se; /* Monte-Carlo ENS coefficient and its standard error */
    double mc_wa, mc_wa_se;   /* Monte-Carlo WA coefficient and its standard error */
    double mc_gap, mc_gap_se; /* Monte-Carlo WA - ENS (paired per trial) and its standard error; theory:
                               * theory_wa_M - theory_ens <= 0 */
} warm_toy_feature;

/*
 * E[(K / M)^L] for K ~ Binomial(M, p): the exact sum over k = 0..M of the binomial pmf (in log space through
 * lgamma, so large M neither underflows nor overflows) times (k/M)^L. p = 0 gives 0, p = 1 gives 1, M = 1
 * gives p, L = 1 gives p. Arguments are not checked (warm_toy_run checks them): p in [0, 1], M >= 1, L >= 0.
 */
double warm_toy_wa_expect(double p, int M, int L);

/*
 * Runs the Monte Carlo described above and fills out[0..F). Single-threaded; cost O(trials * M * F * d).
 * WARM_ERR_ARG (message naming the field, and the feature index for p / znorm) on a value outside the ranges
 * documented in warm_toy_config or a NULL config / p / out; WARM_ERR_NOMEM.
 */
warm_status warm_toy_run(const warm_toy_config *c, warm_toy_feature *out, warm_error *err);

/* Differences below this are rounding, not Monte-Carlo error (see warm_toy_within). */
#define WARM_TOY_ROUNDING 1e-12

/*
 * Tolerance check used by `warm toy` and the tests: |mc - theory| <= nse * se + slack (or at most
 * WARM_TOY_ROUNDING). *z (may be NULL)
 * receives |mc - theory| / se, or 0 when |mc - theory| <= WARM_TOY_ROUNDING, or INFINITY when se == 0 and
 * they differ by more.
 */
int warm_toy_within(double mc, double se, double theory, double nse, double slack, double *z);

#endif
