/*
 * combine.c — the arithmetic of merging: θ = θ_0 + scale · (Σ_i c_i (x_i − θ_0)) / div per element, and the
 * page management that keeps the resident set of the memory-mapped inputs small.
 *
 * Numerics (merge.h, "Numerics"): each input element is read as float (exact for F32/F16/BF16) and widened
 * to double; the accumulator is double, summed in source order, so the result of an element never depends
 * on the thread count or the chunking. Dividing by div is one IEEE division: Σ of k copies of x is k·x
 * exactly (k·x needs at most 24 + log2 k of double's 53 bits), so the mean of k copies is x bit for bit.
 *
 * Rounding. F32 output: (float)d, round to nearest even. F16/BF16 output: the writer converts float to
 * 16 bits with RNE, so we hand it round_to_odd(d): the float nearest d when d is a float, else whichever of
 * the two floats enclosing d has an odd last bit. Float has 24 bits, at least 2 more than F16 (11) or BF16
 * (8), so RNE_16(RO_float(d)) == RNE_16(d) (Boldo & Melquiond's round-to-odd lemma): one correct rounding
 * of the double. A plain cascade double -> float (RNE) -> bf16 (RNE) rounds twice and is wrong exactly when
 * the float rounding lands on a BF16 midpoint (a test reproduces such a case).
 *
 * Pages (Linux madvise; hence _DEFAULT_SOURCE below, the one non-POSIX call of the module). A mapped file's
 * pages that we touched count in our RSS until unmapped. After a block is consumed we MADV_DONTNEED its
 * pages: for a read-only private file mapping that only drops our page-table entries (the page cache keeps
 * the data, a later touch maps it again), so resident memory stays at a few blocks whatever M is. The
 * release range is rounded outwards to whole pages, so it can drop a neighbour's page that is still
 * needed: that costs one minor fault, never correctness. MADV_WILLNEED on the next block starts
 * asynchronous readahead for inputs that are not cached yet.
 */
#define _DEFAULT_SOURCE /* madvise, MADV_DONTNEED / MADV_WILLNEED (glibc hides them under strict POSIX) */

#include "merge/merge_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* ---------------------------------------------------------------------------------------------- rounding */

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

/* d rounded to float with round-to-odd (see the file comment), branch-free so that loops vectorise (a
 * branch on the last bit mispredicts half the time). Bit patterns of floats of one sign are ordered like
 * their magnitudes, so ±1 on the pattern moves to the neighbour away from / towards zero. Exact values,
 * ±Inf and NaN (which stays NaN: a payload bit flips at most) pass through; a finite d beyond the float
 * range becomes ±FLT_MAX (odd), which the 16-bit conversion then rounds to ±Inf as the double would. */
static inline float round_to_odd(double d) {
    float f = (float)d;
    uint32_t u = f32_bits(f);
    uint32_t inexact = (double)f != d;
    uint32_t even = ~u & 1u;
    uint32_t down = fabs((double)f) > fabs(d);
    u += (inexact & even) * (1u - 2u * down); /* +1, or -1 as unsigned wrap-around */
    return f32_from_bits(u);
}

/* Final value of one element: what the writer should receive (through = 0) or the rounded value itself. */
static float finish(double d, warm_dtype dt, int through) {
    if (dt == WARM_DTYPE_F32) return (float)d;
    float ro = round_to_odd(d);
    if (!through) return ro;
    return dt == WARM_DTYPE_BF16 ? warm_bf16_to_f32(warm_f32_to_bf16(ro)) : warm_f16_to_f32(warm_f32_to_f16(ro));
}

/* ---------------------------------------------------------------------------------------------- reading */

/* Elements [first, first+count) of t as floats: a pointer into the mapping when the tensor is F32 and
 * 4-aligned there (no copy), else converted into buf. */
static const float *read_f32(const warm_ckpt_tensor *t, uint64_t first, uint64_t count, float *buf) {
    const uint8_t *p = t->t->data + first * 4;
    if (t->t->dtype == WARM_DTYPE_F32 && ((uintptr_t)p & 3u) == 0) return (const float *)(const void *)p;
    warm_status s = warm_st_to_f32_range(t->file, t->t, first, count, buf, NULL);
    WARM_CHECK(s == WARM_OK, "plan admitted tensor '%s' of dtype %s", t->t->name, warm_dtype_name(t->t->dtype));
    return buf;
}

/* ---------------------------------------------------------------------------------------------- kernel */

/*
 * acc[j] = (init ? 0 : acc[j]) + c[0] x[0][j] + ... + c[g-1] x[g-1][j], added left to right (the first term
 * replaces the accumulator when init, so that signed zeros survive: +0.0 + (−0.0) would turn the mean of
 * copies of −0.0 into +0.0). Up to four inputs are read in one loop: the same additions in the same order
 * as one pass per input (so the same bits), but four independent load streams in flight instead of one
 * and a quarter of the accumulator traffic.
 *
 * The body is compiled twice, plain (SSE2: two doubles per instruction) and with target("avx2") (four),
 * picked per call with __builtin_cpu_supports as in kernels/matmul.c. Both do the same IEEE multiplies
 * and adds in the same order (no FMA: the strict C11 build does not contract a*b + c), so the results
 * are identical; AVX2 only halves the instruction count of a loop that is otherwise compute-bound on
 * cached inputs. WARM_MERGE_ISA=portable in the environment forces the plain variant (tests).
 */
static inline __attribute__((always_inline)) void acc_group_body(double *restrict acc, int init,
                                                                  const float *const *x, const double *c, int g,
                                                                  uint64_t n) {
    const float *x0 = x[0], *x1 = g > 1 ? x[1] : NULL, *x2 = g > 2 ? x[2] : NULL, *x3 = g > 3 ? x[3] : NULL;
    const double c0 = c[0], c1 = g > 1 ? c[1] : 0, c2 = g > 2 ? c[2] : 0, c3 = g > 3 ? c[3] : 0;
    if (g == 4 && init) {
        for (uint64_t j = 0; j < n; j++) {
            double a = c0 * (double)x0[j];
            a += c1 * (double)x1[j];
            a += c2 * (double)x2[j];
            a += c3 * (double)x3[j];
            acc[j] = a;
        }
    } else if (g == 4) {
        for (uint64_t j = 0; j < n; j++) {
            double a = acc[j];
            a += c0 * (double)x0[j];
            a += c1 * (double)x1[j];
            a += c2 * (double)x2[j];
            a += c3 * (double)x3[j];
            acc[j] = a;
        }
    } else if (g == 2 && init) {
        for (uint64_t j = 0; j < n; j++) {
            double a = c0 * (double)x0[j];
            a += c1 * (double)x1[j];
            acc[j] = a;
        }
    } else if (g == 2) {
        for (uint64_t j = 0; j < n; j++) {
            double a = acc[j];
            a += c0 * (double)x0[j];
            a += c1 * (double)x1[j];
            acc[j] = a;
        }
    } else {
        for (int k = 0; k < g; k++, init = 0) {
            const float *xk = x[k];
            const double ck = c[k];
            if (init)
                for (uint64_t j = 0; j < n; j++) acc[j] = ck * (double)xk[j];
            else
                for (uint64_t j = 0; j < n; j++) acc[j] += ck * (double)xk[j];
        }
    }
}

/* out[j] = (float)(acc[j] / d): the final rounding of the common case (no base, F32 output). Division is the
 * slowest instruction of the merge (a fifth of the time at M = 2); when d is a power of two, multiplying by
 * 1/d (exact) gives the same quotient bit for bit, so M = 2, 4, 8... skip it. */
static inline __attribute__((always_inline)) void div_f32_body(float *restrict out, const double *restrict acc,
                                                                double d, uint64_t n) {
    int e;
    if (frexp(d, &e) == 0.5) {
        const double r = 1.0 / d;
        for (uint64_t j = 0; j < n; j++) out[j] = (float)(acc[j] * r);
    } else {
        for (uint64_t j = 0; j < n; j++) out[j] = (float)(acc[j] / d);
    }
}

static void acc_group_plain(double *restrict acc, int init, const float *const *x, const double *c, int g,
                            uint64_t n) {
    acc_group_body(acc, init, x, c, g, n);
}

__attribute__((target("avx2"))) static void acc_group_avx2(double *restrict acc, int init, const float *const *x,
                                                           const double *c, int g, uint64_t n) {
    acc_group_body(acc, init, x, c, g, n);
}

static void div_f32_plain(float *restrict out, const double *restrict acc, double d, uint64_t n) {
    div_f32_body(out, acc, d, n);
}

__attribute__((target("avx2"))) static void div_f32_avx2(float *restrict out, const double *restrict acc, double d,
                                                         uint64_t n) {
    div_f32_body(out, acc, d, n);
}

static int use_avx2(void) {
    const char *isa = getenv("WARM_MERGE_ISA");
    return __builtin_cpu_supports("avx2") && !(isa && strcmp(isa, "portable") == 0);
}

static void acc_group(double *restrict acc, int init, const float *const *x, const double *c, int g, uint64_t n,
                      int avx2) {
    if (avx2) acc_group_avx2(acc, init, x, c, g, n);
    else acc_group_plain(acc, init, x, c, g, n);
}

/* Same with a base: acc[j] (=|+=) c·(x[j] − b[j]) for one input. */
static void acc_delta(double *restrict acc, int init, const float *x, double c, const float *b, uint64_t n) {
    if (init)
        for (uint64_t j = 0; j < n; j++) acc[j] = c * ((double)x[j] - (double)b[j]);
    else
        for (uint64_t j = 0; j < n; j++) acc[j] += c * ((double)x[j] - (double)b[j]);
}

static void lin_chunk(const merge_lin *L, uint64_t first, uint64_t count, merge_scratch *s, float *out,
                      const double *acc_in, double *acc_out) {
    double *acc = s->acc;
    const float *b = L->base ? read_f32(L->base, first, count, s->b) : NULL;
    const float *xs[MERGE_GROUP];
    double cs[MERGE_GROUP];
    int g = 0, init = 1;
    if (acc_in) { /* continue the sums of the inputs before this rank's */
        memcpy(acc, acc_in, count * sizeof *acc);
        init = 0;
    }
    for (int i = 0; i < L->n; i++) {
        if (L->c[i] == 0.0) continue;
        const float *x = read_f32(L->x[i], first, count, s->x + (size_t)g * MERGE_CHUNK);
        if (b) {
            acc_delta(acc, init, x, L->c[i], b, count);
            init = 0;
            continue;
        }
        xs[g] = x;
        cs[g++] = L->c[i];
        if (g == MERGE_GROUP) {
            acc_group(acc, init, xs, cs, g, count, L->avx2);
            init = g = 0;
        }
    }
    if (g > 0) {
        acc_group(acc, init, xs, cs, g, count, L->avx2);
        init = 0;
    }
    if (init)
        for (uint64_t j = 0; j < count; j++) acc[j] = 0.0;
    if (acc_out) {
        memcpy(acc_out, acc, count * sizeof *acc);
        return;
    }
    if (!b && L->round == WARM_DTYPE_F32 && L->scale == 1.0) { /* the common case, vectorised */
        if (L->avx2) div_f32_avx2(out, acc, L->div, count);
        else div_f32_plain(out, acc, L->div, count);
        return;
    }
    /* General case, each step a simple loop over the L2-resident accumulators: v = θ_0 + scale · acc / div. */
    if (L->div != 1.0)
        for (uint64_t j = 0; j < count; j++) acc[j] /= L->div;
    if (L->scale != 1.0)
        for (uint64_t j = 0; j < count; j++) acc[j] *= L->scale;
    if (b)
        for (uint64_t j = 0; j < count; j++) acc[j] += (double)b[j];
    if (L->round == WARM_DTYPE_F32)
        for (uint64_t j = 0; j < count; j++) out[j] = (float)acc[j];
    else if (!L->through)
        for (uint64_t j = 0; j < count; j++) out[j] = round_to_odd(acc[j]);
    else
        for (uint64_t j = 0; j < count; j++) out[j] = finish(acc[j], L->round, L->through);
}

void merge_lin_block(const merge_lin *L0, uint64_t first, uint64_t count, float *out, merge_scratch *sc, int n_sc) {
    int64_t nch = (int64_t)((count + MERGE_CHUNK - 1) / MERGE_CHUNK);
    merge_lin Lv = *L0;
    Lv.avx2 = use_avx2();
    const merge_lin *L = &Lv;
#pragma omp parallel for schedule(static) num_threads(n_sc) if (nch > 1 && n_sc > 1)
    for (int64_t k = 0; k < nch; k++) {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        WARM_CHECK(tid < n_sc, "thread %d has no scratch (%d allocated)", tid, n_sc);
        uint64_t off = (uint64_t)k * MERGE_CHUNK;
        uint64_t cnt = count - off < MERGE_CHUNK ? count - off : MERGE_CHUNK;
        lin_chunk(L, first + off, cnt, &sc[tid], out ? out + off : NULL, L->acc_in ? L->acc_in + off : NULL,
                  L->acc_out ? L->acc_out + off : NULL);
    }
}

void merge_dot3(const warm_ckpt_tensor *a, const warm_ckpt_tensor *b, const warm_ckpt_tensor *base, double *aa,
                double *bb, double *ab, merge_scratch *sc) {
    double saa = 0, sbb = 0, sab = 0;
    uint64_t n = a->t->numel;
    for (uint64_t first = 0; first < n; first += MERGE_CHUNK) {
        uint64_t cnt = n - first < MERGE_CHUNK ? n - first : MERGE_CHUNK;
        const float *xa = read_f32(a, first, cnt, sc->x);
        const float *xb = read_f32(b, first, cnt, sc->b);
        /* The base needs a third buffer: borrow the accumulator's memory (cnt floats fit in cnt doubles). */
        const float *x0 = base ? read_f32(base, first, cnt, (float *)(void *)sc->acc) : NULL;
        for (uint64_t j = 0; j < cnt; j++) {
            double u = (double)xa[j] - (x0 ? (double)x0[j] : 0.0);
            double v = (double)xb[j] - (x0 ? (double)x0[j] : 0.0);
            saa += u * u;
            sbb += v * v;
            sab += u * v;
        }
        merge_pages_release(a, first, cnt);
        merge_pages_release(b, first, cnt);
        if (base) merge_pages_release(base, first, cnt);
    }
    *aa = saa;
    *bb = sbb;
    *ab = sab;
}

/* ---------------------------------------------------------------------------------------------- scratch */

merge_scratch *merge_scratch_alloc(int threads, int *n) {
    int nt = threads < 1 ? 1 : threads;
    merge_scratch *s = calloc((size_t)nt, sizeof *s);
    if (!s) return NULL;
    for (int i = 0; i < nt; i++) {
        s[i].acc = malloc(MERGE_CHUNK * sizeof(double));
        s[i].x = malloc((size_t)MERGE_GROUP * MERGE_CHUNK * sizeof(float));
        s[i].b = malloc(MERGE_CHUNK * sizeof(float));
        if (!s[i].acc || !s[i].x || !s[i].b) {
            merge_scratch_free(s, i + 1);
            return NULL;
        }
    }
    *n = nt;
    return s;
}

void merge_scratch_free(merge_scratch *s, int n) {
    if (!s) return;
    for (int i = 0; i < n; i++) {
        free(s[i].acc);
        free(s[i].x);
        free(s[i].b);
    }
    free(s);
}

/* ---------------------------------------------------------------------------------------------- pages */

/* Page-aligned [lo, hi) covering the bytes of elements [first, first+count), widened by margin bytes on each
 * side and clipped to the mapping. */
static int page_range(const warm_ckpt_tensor *t, uint64_t first, uint64_t count, size_t margin, uint8_t **lo,
                      size_t *len) {
    const warm_st_file *f = t->file;
    if (!f->map || count == 0) return 0;
    size_t es = (size_t)warm_dtype_bits(t->t->dtype) / 8;
    long ps = sysconf(_SC_PAGESIZE);
    size_t page = ps > 0 ? (size_t)ps : 4096;
    size_t a = (size_t)(t->t->data - f->map) + (size_t)first * es;
    size_t b = a + (size_t)count * es;
    a = a > margin ? a - margin : 0;
    b = b + margin < f->size ? b + margin : f->size;
    a -= a % page;
    b = b % page ? b + (page - b % page) : b;
    if (b > f->size) b = f->size;
    if (b <= a) return 0;
    *lo = f->map + a;
    *len = b - a;
    return 1;
}

/* Read faults on a file mapping also map the neighbours of the faulting page ("fault-around", a window of
 * 64 KiB by default and at most 2 MiB), which may lie outside the block just consumed; releasing 2 MiB
 * more on each side catches them (zapping unmapped page-table ranges costs next to nothing). */
#define RELEASE_MARGIN ((size_t)2 << 20)

void merge_pages_release(const warm_ckpt_tensor *t, uint64_t first, uint64_t count) {
    uint8_t *lo;
    size_t len;
    if (page_range(t, first, count, RELEASE_MARGIN, &lo, &len))
        (void)madvise(lo, len, MADV_DONTNEED); /* advisory: ignore errors */
}

void merge_pages_prefetch(const warm_ckpt_tensor *t, uint64_t first, uint64_t count) {
    uint8_t *lo;
    size_t len;
    if (page_range(t, first, count, 0, &lo, &len)) (void)madvise(lo, len, MADV_WILLNEED);
}
