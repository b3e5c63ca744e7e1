/*
 * warm/core.h — status codes, error messages, always-on checks, RNG, timing.
 *
 * Every library function that can fail for a user reason (bad file, bad option, out of memory) returns a
 * warm_status and, when given a non-NULL warm_error, leaves a message that names the file, line, tensor or
 * record at fault. Only the CLI exits. WARM_CHECK/WARM_ABORT are for broken invariants (programmer errors)
 * and stay on in release builds.
 */
#ifndef WARM_CORE_H
#define WARM_CORE_H

#include <stddef.h>
#include <stdint.h>

#define WARM_VERSION "0.1.0"

typedef enum {
    WARM_OK = 0,
    WARM_ERR_IO,       /* open/read/write/fsync/rename failed */
    WARM_ERR_FORMAT,   /* a file or record is malformed */
    WARM_ERR_NOMEM,    /* allocation failed */
    WARM_ERR_ARG,      /* a caller-supplied value is out of range */
    WARM_ERR_MISMATCH, /* names, shapes or configs of two inputs disagree */
} warm_status;

typedef struct {
    warm_status code;
    char msg[1024];
} warm_error;

/* Records code and a printf-style message in err (if non-NULL); returns code. */
warm_status warm_error_set(warm_error *err, warm_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prepends "prefix: " to an existing message (e.g. the file name); returns err->code (or WARM_OK if err NULL). */
warm_status warm_error_prefix(warm_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *warm_status_str(warm_status s);

/* Always-on checks (not tied to NDEBUG). */
void warm_abort_at(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
#define WARM_ABORT(...) warm_abort_at(__FILE__, __LINE__, __VA_ARGS__)
void warm_check_failed(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));
/* WARM_CHECK(cond, fmt, ...): the message is required (it says what broke). */
#define WARM_CHECK(cond, ...) do { if (!(cond)) warm_check_failed(__FILE__, __LINE__, #cond, __VA_ARGS__); } while (0)

/* Aligned (64-byte), zero-filled, touched allocation; NULL on failure. Free with warm_free. */
void *warm_alloc(size_t bytes);
void warm_free(void *p);

/*
 * RNG: xorshift64* stream with explicit state (never global). warm_rng_seed mixes the seed through
 * splitmix64 so that seeds 0, 1, 2... give unrelated streams.
 */
typedef struct { uint64_t s; } warm_rng;
void warm_rng_seed(warm_rng *r, uint64_t seed);
uint32_t warm_rng_u32(warm_rng *r);
uint64_t warm_rng_u64(warm_rng *r);
float warm_rng_uniform(warm_rng *r);          /* [0, 1) with 24 random bits */
float warm_rng_normal(warm_rng *r);           /* standard normal (Box-Muller, one draw per call) */
uint32_t warm_rng_below(warm_rng *r, uint32_t n); /* uniform in [0, n), n > 0, unbiased */

/* Stateless hash for counter-based randomness (dropout masks): same (key, idx) -> same bits, on any thread. */
static inline uint64_t warm_hash64(uint64_t key, uint64_t idx) {
    uint64_t z = key + 0x9E3779B97F4A7C15ull * (idx + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
/* Dropout keep-test: true with probability 1-p, deterministic in (key, idx). */
static inline int warm_dropout_keep(uint64_t key, uint64_t idx, float p) {
    return (float)(warm_hash64(key, idx) >> 40) * (1.0f / 16777216.0f) >= p;
}

/* Reads a whole file into a NUL-terminated malloc'd buffer (*size = bytes, NUL excluded); NULL on failure with
 * err naming the path. */
char *warm_read_file(const char *path, size_t *size, warm_error *err);

/*
 * Atomic writers (safetensors, JSONL/JSON, merge directories) build "<path>.tmp.<pid>" and rename it into place;
 * a writer killed with SIGKILL (or a crash) leaves its temp file behind. Before creating its own, a writer calls
 * this: it removes every "<basename of path>.tmp.<pid>" in path's directory whose pid is not a running process
 * (kill(pid, 0) fails with ESRCH) — a file, or a directory and the files in it. Best effort: a leftover it cannot
 * remove costs disk space, not correctness, so errors are ignored. Not for paths shared with writers this
 * process cannot see (another machine, another pid namespace): their pid may look dead while they write.
 */
void warm_tmp_sweep(const char *path);

/* Monotonic wall-clock seconds. */
double warm_time_now(void);

/* Number of worker threads used by kernels (OpenMP max threads, or 1 without OpenMP). */
int warm_num_threads(void);

#define WARM_PI 3.14159265358979323846

#endif
