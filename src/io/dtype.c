/*
 * dtype.c — safetensors dtype table (names, bit widths) and scalar float conversions.
 *
 * The table follows formats.md §1. Conversions work on bit patterns (memcpy type punning, no unions, no
 * reliance on the FPU rounding mode or fast-math):
 * - BF16 is the top half of an IEEE binary32. F32 -> BF16 rounds to nearest, ties to even, by adding
 *   0x7FFF plus the lowest kept bit before truncating; the carry may run into the exponent, which is exactly
 *   right (it rounds up to the next binade or to Inf). NaN is handled first: rounding could turn a NaN whose
 *   payload sits in the low 16 bits into Inf, so we truncate and force a quiet mantissa bit instead.
 * - F16 (binary16): 5-bit exponent (bias 15), 10-bit mantissa. Normal results round on the 13 dropped
 *   mantissa bits; results below 2^-14 become subnormals (units of 2^-24) rounded on the shifted-out bits;
 *   |x| >= 65520 (the midpoint between the largest finite F16, 65504, and 2^16) rounds to Inf.
 */
#include "warm/safetensors.h"

#include <string.h>

static const struct {
    const char *name;
    int bits;
} dtype_table[WARM_DTYPE_COUNT] = {
    [WARM_DTYPE_BOOL] = {"BOOL", 8},
    [WARM_DTYPE_U8] = {"U8", 8},
    [WARM_DTYPE_I8] = {"I8", 8},
    [WARM_DTYPE_F8_E5M2] = {"F8_E5M2", 8},
    [WARM_DTYPE_F8_E4M3] = {"F8_E4M3", 8},
    [WARM_DTYPE_F8_E8M0] = {"F8_E8M0", 8},
    [WARM_DTYPE_F8_E4M3FNUZ] = {"F8_E4M3FNUZ", 8},
    [WARM_DTYPE_F8_E5M2FNUZ] = {"F8_E5M2FNUZ", 8},
    [WARM_DTYPE_I16] = {"I16", 16},
    [WARM_DTYPE_U16] = {"U16", 16},
    [WARM_DTYPE_F16] = {"F16", 16},
    [WARM_DTYPE_BF16] = {"BF16", 16},
    [WARM_DTYPE_I32] = {"I32", 32},
    [WARM_DTYPE_U32] = {"U32", 32},
    [WARM_DTYPE_F32] = {"F32", 32},
    [WARM_DTYPE_I64] = {"I64", 64},
    [WARM_DTYPE_U64] = {"U64", 64},
    [WARM_DTYPE_F64] = {"F64", 64},
    [WARM_DTYPE_C64] = {"C64", 64},
    [WARM_DTYPE_F4] = {"F4", 4},
    [WARM_DTYPE_F6_E2M3] = {"F6_E2M3", 6},
    [WARM_DTYPE_F6_E3M2] = {"F6_E3M2", 6},
};

static int dtype_valid(warm_dtype d) { return (int)d >= 0 && d < WARM_DTYPE_COUNT; }

const char *warm_dtype_name(warm_dtype d) { return dtype_valid(d) ? dtype_table[d].name : "?"; }

int warm_dtype_bits(warm_dtype d) { return dtype_valid(d) ? dtype_table[d].bits : 0; }

int warm_dtype_from_name(const char *s, warm_dtype *out) {
    for (int i = 0; s && i < WARM_DTYPE_COUNT; i++) {
        if (strcmp(s, dtype_table[i].name) == 0) {
            *out = (warm_dtype)i;
            return 0;
        }
    }
    return -1;
}

static uint32_t f32_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static float f32_from_bits(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

uint16_t warm_f32_to_bf16(float x) {
    uint32_t u = f32_bits(x);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x0040u); /* NaN: keep it NaN */
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float warm_bf16_to_f32(uint16_t h) { return f32_from_bits((uint32_t)h << 16); }

/* |x| in [2^-25, 2^-14) as an F16 subnormal (or the smallest normal when rounding carries). */
static uint16_t f16_subnormal(uint32_t a) {
    uint32_t m = (a & 0x7FFFFFu) | 0x800000u; /* 24-bit significand, value m * 2^(exp-150) */
    uint32_t shift = 126u - (a >> 23);       /* from 2^(exp-150) to units of 2^-24: 14..24 */
    uint32_t r = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (r & 1u))) r++;
    return (uint16_t)r;
}

uint16_t warm_f32_to_f16(float x) {
    uint32_t u = f32_bits(x);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return (uint16_t)(sign | 0x7E00u | ((a >> 13) & 0x3FFu)); /* quiet NaN */
    if (a >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u);    /* >= 65520 (or Inf): Inf */
    if (a >= 0x38800000u) {                                      /* >= 2^-14: normal */
        a += 0xFFFu + ((a >> 13) & 1u);                           /* RNE on the 13 dropped bits */
        return (uint16_t)(sign | ((a - 0x38000000u) >> 13));     /* rebias exponent 127 -> 15 */
    }
    if (a <= 0x33000000u) return sign; /* <= 2^-25: half the smallest subnormal ties to even zero */
    return (uint16_t)(sign | f16_subnormal(a));
}

float warm_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
    if (e == 0x1Fu) return f32_from_bits(sign | 0x7F800000u | (m << 13)); /* Inf / NaN */
    if (e != 0) return f32_from_bits(sign | ((e + 112u) << 23) | (m << 13));
    if (m == 0) return f32_from_bits(sign);
    e = 113; /* subnormal m * 2^-24: normalise so the leading 1 reaches bit 10 */
    while (!(m & 0x400u)) {
        m <<= 1;
        e--;
    }
    return f32_from_bits(sign | (e << 23) | ((m & 0x3FFu) << 13));
}
