/*
 * gelu.c — GELU with the tanh approximation ("gelu_new", GPT-2's MLP activation), forward and backward.
 *
 *   gelu(x) = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
 *
 * Evaluation: 0.5 (1 + tanh(u)) = sigmoid(2u) = 1 / (1 + exp(-2u)), so gelu(x) = x / (1 + exp(-2u)). This
 * needs one exp and one division, and unlike 1 + tanh(u) it does not cancel for negative x. glibc's vector
 * tanhf/expf are only used by gcc under -ffast-math, which we do not use (style.md), so exp is written here
 * as branch-free float code (warm_vexpf below) that gcc vectorises. The derivative reuses s = sigmoid(2u):
 *
 *   gelu'(x) = s + 2 x s (1 - s) u'(x),  u'(x) = sqrt(2/pi) (1 + 3 * 0.044715 x^2),  1 - s = e s, e = exp(-2u).
 *
 * Layout: flat arrays of n floats; every element is independent, so threads split the range statically in
 * fixed chunks.
 */
#include "warm/kernels.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* sqrt(2/pi); written out because strict C11 has no M_PI. */
#define GELU_K 0.7978845608028654f
/* The cubic coefficient of the tanh approximation (Hendrycks & Gimpel 2016, GPT-2's gelu_new). */
#define GELU_C 0.044715f

/*
 * The loops are compiled twice, for the baseline ISA and with target("avx512f") (16 lanes instead of 4),
 * and picked at run time (pick_avx512). Helpers are forced inline so that each copy gets its own. Both copies
 * execute the same IEEE operations per element (no FMA contraction under -std=c11), so they agree bit for bit.
 * Measured, 1024 x 3072 elements (one GPT-2 MLP at B*T = 1024), one thread of the Xeon: forward 2.1 ms,
 * backward 3.0 ms with AVX-512; 6.3 ms and 11.5 ms on the baseline path.
 */
#define WARM_INLINE inline __attribute__((always_inline))

/* Elements per parallel work item: 64 KB of floats, enough to amortise the hand-off. */
#define GELU_CHUNK 16384

/*
 * exp(x) for float, branch-free so that loops calling it vectorise. Kept identical to the copy in
 * attention.c (one static copy per file: kernels.h exports no helpers).
 *   n = round(x / ln2), r = x - n ln2 (Cody-Waite: ln2 split into a high part with few mantissa bits, so n*hi
 *   is exact, and a low correction), exp(r) by its Taylor series to r^7 (|r| <= ln2/2: the r^8/8! term is
 *   < 6e-9 relative, below half an ulp), times 2^n built in the exponent bits. Error about 1-2 ulp.
 * |x| is clamped to 87 so that 2^n stays a normal float: exp(-87) = 1.6e-38 stands in for smaller results
 * and exp(87) = 6.1e37 for larger ones. The clamp works on the bit pattern: a float compare-and-select is
 * not vectorised by gcc under the default -ftrapping-math, and fminf/fmaxf would turn NaN into a number.
 * Integer compares leave NaN (magnitude bits above those of infinity) as NaN.
 */
static WARM_INLINE float warm_vexpf(float x) {
    /* 1.5 * 2^23: adding it rounds x/ln2 to an integer held in the low mantissa bits. */
    const float shifter = 12582912.0f;
    uint32_t xb;
    memcpy(&xb, &x, sizeof xb);
    uint32_t mag = xb & 0x7FFFFFFFu;
    /* 0x42AE0000 = 87.0f, 0x7F800000 = infinity: finite |x| > 87 and +-inf become +-87. */
    mag = (mag > 0x42AE0000u && mag <= 0x7F800000u) ? 0x42AE0000u : mag;
    xb = (xb & 0x80000000u) | mag;
    memcpy(&x, &xb, sizeof x);
    float t = x * 1.44269504088896341f + shifter;
    float n = t - shifter;
    float r = x - n * 0.693359375f;       /* ln2 high part: 355/512, n * 355/512 is exact for |n| < 2^15 */
    r = r - n * -2.12194440054690583e-4f; /* ln2 low part: ln2 - 355/512 */
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t tb;
    memcpy(&tb, &t, sizeof tb);
    /* The low mantissa bits of t hold n in two's complement; 0x4B400000 is the bit pattern of the shifter. */
    uint32_t eb = (uint32_t)(tb - 0x4B400000 + 127) << 23;
    float scale;
    memcpy(&scale, &eb, sizeof scale);
    return p * scale;
}

/* out (n) = gelu(inp (n)); out may alias inp. */
static WARM_INLINE void gelu_forward_body(float *out, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_K * (x + GELU_C * x * x * x);
        out[i] = x / (1.0f + warm_vexpf(-2.0f * u));
    }
}

/* dinp (n) += gelu'(inp) * dout. */
static WARM_INLINE void gelu_backward_body(float *dinp, const float *inp, const float *dout, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_K * (x + GELU_C * x * x * x);
        float du = GELU_K * (1.0f + 3.0f * GELU_C * x * x);
        float e = warm_vexpf(-2.0f * u);
        float s = 1.0f / (1.0f + e);
        dinp[i] += (s + 2.0f * x * s * (e * s) * du) * dout[i];
    }
}

typedef void (*gelu_fwd_fn)(float *out, const float *inp, size_t n);
typedef void (*gelu_bwd_fn)(float *dinp, const float *inp, const float *dout, size_t n);

static void gelu_forward_base(float *out, const float *inp, size_t n) { gelu_forward_body(out, inp, n); }
static void gelu_backward_base(float *dinp, const float *inp, const float *dout, size_t n) {
    gelu_backward_body(dinp, inp, dout, n);
}

#if defined(__x86_64__) || defined(__i386__)
#define WARM_GELU_X86 1
__attribute__((target("avx512f"))) static void gelu_forward_avx512(float *out, const float *inp, size_t n) {
    gelu_forward_body(out, inp, n);
}
__attribute__((target("avx512f"))) static void gelu_backward_avx512(float *dinp, const float *inp,
                                                                    const float *dout, size_t n) {
    gelu_backward_body(dinp, inp, dout, n);
}
#endif

/* Whether to run the AVX-512 copies: the CPU has AVX-512F and WARM_KERNEL_ISA (testing hook) is not "portable". */
static int pick_avx512(void) {
#ifdef WARM_GELU_X86
    const char *cap = getenv("WARM_KERNEL_ISA");
    return (cap == NULL || strcmp(cap, "portable") != 0) && __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

/* out (n) = gelu(inp (n)); out may alias inp. */
void warm_gelu_forward(float *out, const float *inp, size_t n) {
    gelu_fwd_fn fn = gelu_forward_base;
#ifdef WARM_GELU_X86
    if (pick_avx512()) fn = gelu_forward_avx512;
#endif
    size_t nchunks = (n + GELU_CHUNK - 1) / GELU_CHUNK;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (nchunks > 1)
#endif
    for (size_t c = 0; c < nchunks; c++) {
        size_t i0 = c * GELU_CHUNK;
        fn(out + i0, inp + i0, n - i0 < GELU_CHUNK ? n - i0 : GELU_CHUNK);
    }
}

/* dinp (n) += gelu'(inp) * dout (n). */
void warm_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n) {
    gelu_bwd_fn fn = gelu_backward_base;
#ifdef WARM_GELU_X86
    if (pick_avx512()) fn = gelu_backward_avx512;
#endif
    size_t nchunks = (n + GELU_CHUNK - 1) / GELU_CHUNK;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (nchunks > 1)
#endif
    for (size_t c = 0; c < nchunks; c++) {
        size_t i0 = c * GELU_CHUNK;
        fn(dinp + i0, inp + i0, dout + i0, n - i0 < GELU_CHUNK ? n - i0 : GELU_CHUNK);
    }
}
