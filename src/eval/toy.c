/*
 * toy.c — Monte-Carlo check of the bag-of-features toy model of the paper's §4.3 (warm/toy.h, docs/toy.md).
 *
 * Data layout (one trial): z, x, omega_bar are (F*d) doubles, block j at [j*d, (j+1)*d); f is (M, F) bytes
 * (run i's selector at f[i*F]); f_bar and zz are (F). All buffers are allocated once per call.
 *
 * The predictions are evaluated literally from the definitions (heads omega_i = sum_j f_i^j z^j, selectors
 * applied L-1 times, M runs averaged by prediction for ENS and by layer for WA) rather than through the
 * closed forms f_bar_j and f_bar_j^L, so the check also covers the algebra of the paper's Eqs. 4-5.
 *
 * Random draws, in this fixed order per trial: the M*F selector bits (run-major), the label, the F*d noise
 * coordinates. Bernoulli(p) is u < p with u uniform on [0, 1) with 53 bits, so p = 0 never and p = 1 always
 * fires.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "warm/toy.h"

/* ---- exact finite-M expectation --------------------------------------------------------------------- */

double warm_toy_wa_expect(double p, int M, int L) {
    if (L == 0) return 1.0;
    if (p <= 0) return 0.0;
    if (p >= 1) return 1.0;
    if (L == 1 || M == 1) return p; /* E[K/M] = p; with one run (K/M)^L = K/M. Exact, no rounding. */
    /* log pmf through lgamma: no underflow of (1-p)^M and no overflow of C(M, k) at large M. lgamma writes
     * the global signgam (POSIX); its return value does not depend on it, and this module is single-threaded. */
    const double lp = log(p), lq = log1p(-p), lgM = lgamma((double)M + 1.0);
    double s = 0;
    for (int k = 0; k <= M; k++) {
        double lpmf = lgM - lgamma((double)k + 1.0) - lgamma((double)(M - k) + 1.0) + k * lp + (M - k) * lq;
        s += exp(lpmf) * pow((double)k / (double)M, (double)L);
    }
    return s;
}

int warm_toy_within(double mc, double se, double theory, double nse, double slack, double *z) {
    double diff = fabs(mc - theory);
    /* A difference at rounding level (L = 1 or M = 1 make WA - ENS a sum of rounding errors, whose standard
     * error is itself at rounding level) is no evidence against the theory: z = 0. */
    if (z) *z = diff <= WARM_TOY_ROUNDING ? 0.0 : se > 0 ? diff / se : (double)INFINITY;
    return diff <= WARM_TOY_ROUNDING || diff <= nse * se + slack;
}

/* ---- argument checks ---------------------------------------------------------------------------------- */

static warm_status check_config(const warm_toy_config *c, const warm_toy_feature *out, warm_error *err) {
    if (!c || !out) return warm_error_set(err, WARM_ERR_ARG, "toy: config and output must not be NULL");
    if (c->F < 1 || c->F > WARM_TOY_MAX_F)
        return warm_error_set(err, WARM_ERR_ARG, "toy: F = %d features must be in [1, %d]", c->F, WARM_TOY_MAX_F);
    if (!c->p) return warm_error_set(err, WARM_ERR_ARG, "toy: p must not be NULL");
    for (int j = 0; j < c->F; j++)
        if (!(c->p[j] >= 0 && c->p[j] <= 1))
            return warm_error_set(err, WARM_ERR_ARG, "toy: p[%d] = %g must be in [0, 1]", j, c->p[j]);
    /* |z|^2 must be a finite positive double: keep |z| well inside the exponent range. */
    for (int j = 0; c->znorm && j < c->F; j++)
        if (!(c->znorm[j] >= 1e-100 && c->znorm[j] <= 1e100))
            return warm_error_set(err, WARM_ERR_ARG, "toy: znorm[%d] = %g must be in [1e-100, 1e100]", j,
                                  c->znorm[j]);
    if (c->d < 1 || c->d > WARM_TOY_MAX_DIM)
        return warm_error_set(err, WARM_ERR_ARG, "toy: d = %d must be in [1, %d]", c->d, WARM_TOY_MAX_DIM);
    if (!(c->sigma >= 0) || !isfinite(c->sigma))
        return warm_error_set(err, WARM_ERR_ARG, "toy: sigma = %g must be finite and >= 0", c->sigma);
    if (c->M < 1 || c->M > WARM_TOY_MAX_M)
        return warm_error_set(err, WARM_ERR_ARG, "toy: M = %d runs must be in [1, %d]", c->M, WARM_TOY_MAX_M);
    if (c->L < 1 || c->L > WARM_TOY_MAX_L)
        return warm_error_set(err, WARM_ERR_ARG, "toy: L = %d layers must be in [1, %d]", c->L, WARM_TOY_MAX_L);
    if (c->trials < 2 || c->trials > WARM_TOY_MAX_TRIALS)
        return warm_error_set(err, WARM_ERR_ARG, "toy: trials = %lld must be in [2, %lld]", (long long)c->trials,
                              (long long)WARM_TOY_MAX_TRIALS);
    return WARM_OK;
}

/* ---- the Monte Carlo ---------------------------------------------------------------------------------- */

/* Running mean and sum of squared deviations (Welford): stable for any number of trials. */
typedef struct {
    double mean, m2;
} welford;

static void welford_add(welford *w, double v, int64_t n /* count including v */) {
    double delta = v - w->mean;
    w->mean += delta / (double)n;
    w->m2 += delta * (v - w->mean);
}

static double welford_se(const welford *w, int64_t n) {
    return sqrt(w->m2 / (double)(n - 1) / (double)n);
}

/* Uniform on [0, 1) with 53 random bits. */
static double uniform53(warm_rng *rng) {
    return (double)(warm_rng_u64(rng) >> 11) * (1.0 / 9007199254740992.0);
}

/* s^n for a small integer n >= 0, by repeated multiplication (selector applied n times). */
static double powi(double s, int n) {
    double r = 1.0;
    for (int k = 0; k < n; k++) r *= s;
    return r;
}

typedef struct {
    const warm_toy_config *c;
    double *z, *x, *omega_bar, *f_bar, *zz; /* (F*d), (F*d), (F*d), (F), (F) */
    double *ens, *wa;                       /* (F): block contributions of this trial */
    unsigned char *f;                       /* (M, F) */
    welford *acc;                           /* (F, 3): ENS, WA, WA - ENS */
} toy_state;

/* z^j = |z^j| (1, ..., 1)/sqrt(d) in block j; zz_j = |z^j|^2 summed from the same coordinates the dot
 * products use, so that sigma = 0 and p = 1 give exactly 1. */
static void build_features(toy_state *s) {
    const int F = s->c->F, d = s->c->d;
    for (int j = 0; j < F; j++) {
        double a = (s->c->znorm ? s->c->znorm[j] : 1.0) / sqrt((double)d);
        s->zz[j] = 0;
        for (int k = 0; k < d; k++) {
            s->z[j * d + k] = a;
            s->zz[j] += a * a;
        }
    }
}

/* Draws the M runs' selectors, a label and an input; returns y. */
static double draw_trial(toy_state *s, warm_rng *rng) {
    const warm_toy_config *c = s->c;
    const int F = c->F, d = c->d;
    for (int i = 0; i < c->M; i++)
        for (int j = 0; j < F; j++) s->f[(size_t)i * F + j] = uniform53(rng) < c->p[j];
    double y = (warm_rng_u64(rng) >> 63) ? 1.0 : -1.0;
    for (int k = 0; k < F * d; k++) s->x[k] = y * s->z[k] + c->sigma * (double)warm_rng_normal(rng);
    return y;
}

/* ENS_M block contributions: ens_j = (1/M) sum_i omega_i[block j] . (f_i^j)^(L-1) x[block j]. */
static void ensemble(toy_state *s) {
    const warm_toy_config *c = s->c;
    const int F = c->F, d = c->d;
    for (int j = 0; j < F; j++) {
        double sum = 0;
        for (int i = 0; i < c->M; i++) {
            double f = s->f[(size_t)i * F + j], g = powi(f, c->L - 1), dot = 0;
            for (int k = 0; k < d; k++) dot += (f * s->z[j * d + k]) * (g * s->x[j * d + k]);
            sum += dot;
        }
        s->ens[j] = sum / c->M;
    }
}

/* WA_M block contributions: omega_bar and f_bar averaged over runs, then
 * wa_j = omega_bar[block j] . f_bar_j^(L-1) x[block j]. */
static void weight_average(toy_state *s) {
    const warm_toy_config *c = s->c;
    const int F = c->F, d = c->d;
    for (int j = 0; j < F; j++) {
        double cnt = 0;
        for (int i = 0; i < c->M; i++) cnt += s->f[(size_t)i * F + j];
        s->f_bar[j] = cnt / c->M;
        for (int k = 0; k < d; k++) {
            double o = 0;
            for (int i = 0; i < c->M; i++) o += s->f[(size_t)i * F + j] * s->z[j * d + k];
            s->omega_bar[j * d + k] = o / c->M;
        }
    }
    for (int j = 0; j < F; j++) {
        double g = powi(s->f_bar[j], c->L - 1), dot = 0;
        for (int k = 0; k < d; k++) dot += s->omega_bar[j * d + k] * (g * s->x[j * d + k]);
        s->wa[j] = dot;
    }
}

static void fill_output(const toy_state *s, warm_toy_feature *out) {
    const warm_toy_config *c = s->c;
    for (int j = 0; j < c->F; j++) {
        const welford *a = &s->acc[3 * j];
        warm_toy_feature *o = &out[j];
        o->p = c->p[j];
        o->theory_ens = c->p[j];
        o->theory_wa_inf = pow(c->p[j], (double)c->L);
        o->theory_wa_M = warm_toy_wa_expect(c->p[j], c->M, c->L);
        o->mc_ens = a[0].mean;
        o->mc_ens_se = welford_se(&a[0], c->trials);
        o->mc_wa = a[1].mean;
        o->mc_wa_se = welford_se(&a[1], c->trials);
        o->mc_gap = a[2].mean;
        o->mc_gap_se = welford_se(&a[2], c->trials);
    }
}

warm_status warm_toy_run(const warm_toy_config *c, warm_toy_feature *out, warm_error *err) {
    warm_status st = check_config(c, out, err);
    if (st) return st;
    const size_t F = (size_t)c->F, Fd = F * (size_t)c->d;
    toy_state s = {.c = c};
    s.z = calloc(Fd, sizeof *s.z);
    s.x = calloc(Fd, sizeof *s.x);
    s.omega_bar = calloc(Fd, sizeof *s.omega_bar);
    s.f_bar = calloc(F, sizeof *s.f_bar);
    s.zz = calloc(F, sizeof *s.zz);
    s.ens = calloc(F, sizeof *s.ens);
    s.wa = calloc(F, sizeof *s.wa);
    s.f = calloc((size_t)c->M * F, 1);
    s.acc = calloc(3 * F, sizeof *s.acc);
    if (!s.z || !s.x || !s.omega_bar || !s.f_bar || !s.zz || !s.ens || !s.wa || !s.f || !s.acc) {
        st = warm_error_set(err, WARM_ERR_NOMEM, "toy: out of memory (F = %d, d = %d, M = %d)", c->F, c->d, c->M);
    } else {
        build_features(&s);
        warm_rng rng;
        warm_rng_seed(&rng, c->seed);
        for (int64_t t = 1; t <= c->trials; t++) {
            double y = draw_trial(&s, &rng);
            ensemble(&s);
            weight_average(&s);
            for (size_t j = 0; j < F; j++) {
                double ve = y * s.ens[j] / s.zz[j], vw = y * s.wa[j] / s.zz[j];
                welford_add(&s.acc[3 * j + 0], ve, t);
                welford_add(&s.acc[3 * j + 1], vw, t);
                welford_add(&s.acc[3 * j + 2], vw - ve, t);
            }
        }
        fill_output(&s, out);
    }
    free(s.z);
    free(s.x);
    free(s.omega_bar);
    free(s.f_bar);
    free(s.zz);
    free(s.ens);
    free(s.wa);
    free(s.f);
    free(s.acc);
    return st;
}
