/*
 * simd.h — helpers private to src/kernels: a branch-free vectorisable float exp, and the run-time choice
 * of AVX-512 code paths (with the WARM_KERNEL_ISA=portable testing hook that forces the portable path).
 * Not a public header.
 */
#ifndef WARM_KERNELS_SIMD_H
#define WARM_KERNELS_SIMD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WARM_INLINE inline __attribute__((always_inline))

#if defined(__x86_64__) || defined(__i386__)
#define WARM_KERNELS_X86 1
#endif

/*
 * exp(x) for float, branch-free so that loops calling it vectorise. Used by gelu.c and attention.c.
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

/* 1 when the AVX-512 copies may run: the CPU has AVX-512F (and DQ when need_dq) and WARM_KERNEL_ISA is not
 * "portable". Always 0 off x86. */
static inline int warm_kernels_avx512(int need_dq) {
#ifdef WARM_KERNELS_X86
    const char *cap = getenv("WARM_KERNEL_ISA");
    if (cap != NULL && strcmp(cap, "portable") == 0) return 0;
    return __builtin_cpu_supports("avx512f") && (!need_dq || __builtin_cpu_supports("avx512dq"));
#else
    (void)need_dq;
    return 0;
#endif
}

#endif
