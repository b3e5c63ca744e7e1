/*
 * crossentropy.c — fused softmax + weighted negative log-likelihood over the vocabulary (LM head loss).
 *
 * logits, dlogits (N, V) row-major; targets (N) in [0, V); w (N) per-row weights (NULL = 1). The loss is
 * sum_i w_i nll_i / sum_i w_i with nll_i = logsumexp(logits_i) - logits_i[target_i]; the gradient
 * (w_i / sum w) (softmax_i - onehot(target_i)) overwrites dlogits, which may alias logits.
 *
 * Numerics: per row, the max is subtracted, exp is evaluated in double (libm exp: this loss is the LM
 * pre-training objective, not on the reward-model path, so accuracy wins over a vector float exp) and the
 * sum of exponentials and its log are kept in double.
 * Aliasing: a row's target logit is read first; each element is then read before it is overwritten by its own
 * exp, and the second pass only reads what the first wrote.
 * Determinism: rows are independent and go to threads whole; per-row losses are stored and then summed
 * sequentially in row order, so the result does not depend on the number of threads.
 */
#include "warm/kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "warm/core.h"
#include "kernels/simd.h"

/*
 * One row: returns nll = logsumexp(x) - x[target]. If d is non-NULL, d (V; may alias x) receives
 * coef * (softmax(x) - onehot(target)).
 */
static double ce_row(float *d, const float *x, int32_t target, double coef, int V) {
    const double xt = (double)x[target];
    float mx = x[0];
    for (int v = 1; v < V; v++) mx = x[v] > mx ? x[v] : mx;
    double sum = 0.0;
    for (int v = 0; v < V; v++) {
        double e = exp((double)x[v] - (double)mx);
        sum += e;
        if (d) d[v] = (float)e;
    }
    if (d) {
        const double c = coef / sum;
        for (int v = 0; v < V; v++) d[v] = (float)((double)d[v] * c);
        d[target] = (float)((double)d[target] - coef);
    }
    return (double)mx + log(sum) - xt;
}

/* dlogits (N, V; may be NULL or alias logits); logits (N, V); targets (N); w (N, NULL = 1). */
float warm_crossentropy_forward_backward(float *dlogits, const float *logits, const int32_t *targets,
                                         const float *w, int N, int V) {
    double wsum = 0.0;
    for (int i = 0; i < N; i++) wsum += w ? (double)w[i] : 1.0;
    return warm_crossentropy_forward_backward_den(dlogits, logits, targets, w, N, V, wsum);
}

float warm_crossentropy_forward_backward_den(float *dlogits, const float *logits, const int32_t *targets,
                                             const float *w, int N, int V, double wsum) {
    WARM_CHECK(N >= 0 && V > 0, "N=%d V=%d", N, V);
    for (int i = 0; i < N; i++)
        WARM_CHECK(targets[i] >= 0 && targets[i] < V, "row %d: target %d outside [0, %d)", i, (int)targets[i], V);
    if (wsum == 0.0) {
        if (dlogits) memset(dlogits, 0, (size_t)N * (size_t)V * sizeof(float));
        return 0.0f;
    }
    double *row_loss = malloc((size_t)(N > 0 ? N : 1) * sizeof(double));
    WARM_CHECK(row_loss != NULL, "out of memory (crossentropy, N=%d)", N);
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int i = 0; i < N; i++) {
        const double wi = w ? (double)w[i] : 1.0;
        size_t off = (size_t)i * (size_t)V;
        if (wi == 0.0) {
            /* skipped rather than multiplied by 0, so a non-finite row with weight 0 cannot poison the loss */
            if (dlogits) memset(dlogits + off, 0, (size_t)V * sizeof(float));
            row_loss[i] = 0.0;
        } else {
            row_loss[i] = wi * ce_row(dlogits ? dlogits + off : NULL, logits + off, targets[i], wi / wsum, V);
        }
    }
    double total = 0.0;
    for (int i = 0; i < N; i++) total += row_loss[i];
    free(row_loss);
    return (float)(total / wsum);
}

double warm_logprob_at(const float *x, int V, int32_t t) {
    float mx = x[0];
    for (int v = 1; v < V; v++) mx = x[v] > mx ? x[v] : mx;
    /* 16 partial sums, so that the exp loop vectorises without reassociating one float sum */
    float acc[16] = {0};
    int v = 0;
    for (; v + 16 <= V; v += 16)
        for (int j = 0; j < 16; j++) acc[j] += warm_vexpf(x[v + j] - mx);
    double sum = 0.0;
    for (; v < V; v++) sum += (double)warm_vexpf(x[v] - mx);
    for (int j = 0; j < 16; j++) sum += (double)acc[j];
    return (double)x[t] - ((double)mx + log(sum));
}
