/*
 * core.c — errors, checks, aligned allocation, RNG, clock. See include/warm/core.h.
 */
#include "warm/core.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

warm_status warm_error_set(warm_error *err, warm_status code, const char *fmt, ...) {
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

warm_status warm_error_prefix(warm_error *err, const char *fmt, ...) {
    if (!err) return WARM_OK;
    char prefix[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* Assemble by hand: truncation of an over-long message is intended, not an error. */
    size_t np = strlen(prefix), no = strnlen(old, sizeof old - 1), cap = sizeof err->msg - 1, k = 0;
    for (size_t i = 0; i < np && k < cap; i++) err->msg[k++] = prefix[i];
    for (size_t i = 0; i < 2 && k < cap; i++) err->msg[k++] = ": "[i];
    for (size_t i = 0; i < no && k < cap; i++) err->msg[k++] = old[i];
    err->msg[k] = 0;
    return err->code;
}

const char *warm_status_str(warm_status s) {
    switch (s) {
    case WARM_OK: return "ok";
    case WARM_ERR_IO: return "I/O error";
    case WARM_ERR_FORMAT: return "format error";
    case WARM_ERR_NOMEM: return "out of memory";
    case WARM_ERR_ARG: return "invalid argument";
    case WARM_ERR_MISMATCH: return "mismatch";
    }
    return "unknown error";
}

void warm_abort_at(const char *file, int line, const char *fmt, ...) {
    fprintf(stderr, "warm: internal error at %s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

void warm_check_failed(const char *file, int line, const char *cond, const char *fmt, ...) {
    fprintf(stderr, "warm: internal error at %s:%d: check failed: %s: ", file, line, cond);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

void *warm_alloc(size_t bytes) {
    if (bytes == 0) bytes = 64;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded < bytes) return NULL;
    void *p = aligned_alloc(64, rounded);
    /* Touch every page now: lazy first-touch costs seconds inside the first training step (style.md). */
    if (p) memset(p, 0, rounded);
    return p;
}

void warm_free(void *p) { free(p); }

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void warm_rng_seed(warm_rng *r, uint64_t seed) {
    uint64_t x = seed;
    r->s = splitmix64(&x);
    if (r->s == 0) r->s = 0x2545F4914F6CDD1Dull; /* xorshift state must be non-zero */
}

uint64_t warm_rng_u64(warm_rng *r) {
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1Dull;
}

uint32_t warm_rng_u32(warm_rng *r) { return (uint32_t)(warm_rng_u64(r) >> 32); }

float warm_rng_uniform(warm_rng *r) { return (float)(warm_rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

float warm_rng_normal(warm_rng *r) {
    /* Box-Muller in double; u1 in (0, 1] so log is finite. */
    double u1 = ((double)(warm_rng_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(warm_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * WARM_PI * u2));
}

uint32_t warm_rng_below(warm_rng *r, uint32_t n) {
    /* Lemire's multiply-shift with rejection: unbiased. */
    uint64_t m = (uint64_t)warm_rng_u32(r) * n;
    uint32_t lo = (uint32_t)m;
    if (lo < n) {
        uint32_t t = (uint32_t)(-n) % n;
        while (lo < t) {
            m = (uint64_t)warm_rng_u32(r) * n;
            lo = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

char *warm_read_file(const char *path, size_t *size, warm_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        warm_error_set(err, WARM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    long len = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) warm_error_set(err, WARM_ERR_IO, "%s: cannot seek", path);
    else if (!(buf = malloc((size_t)len + 1))) warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", path);
    else if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
        warm_error_set(err, WARM_ERR_IO, "%s: short read", path);
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[len] = 0;
        *size = (size_t)len;
    }
    return buf;
}

double warm_time_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int warm_num_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* ---- stale temp files ---- */

/* Calls fn(dir/name, ctx) for every entry of dir but . and .. (entries may be removed meanwhile). */
static void each_entry(const char *dir, void (*fn)(const char *path, const char *name, const void *ctx),
                       const void *ctx) {
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(n);
        if (p) snprintf(p, n, "%s/%s", dir, e->d_name), fn(p, e->d_name, ctx);
        free(p);
    }
    if (d) closedir(d);
}

static void unlink_entry(const char *path, const char *name, const void *ctx) {
    (void)name, (void)ctx;
    unlink(path);
}

/* A file, or a directory and the files in it (a killed merge's temp directory holds no subdirectories). */
static void remove_tree1(const char *p) {
    struct stat st;
    if (lstat(p, &st) != 0) return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(p);
        return;
    }
    each_entry(p, unlink_entry, NULL);
    rmdir(p);
}

/* pid of a "<base>.tmp.<digits>" name, or 0 when name is not one. */
static long tmp_pid(const char *name, const char *base) {
    size_t blen = strlen(base);
    if (strncmp(name, base, blen) != 0 || strncmp(name + blen, ".tmp.", 5) != 0) return 0;
    const char *d = name + blen + 5;
    size_t n = strlen(d);
    if (n == 0 || n > 9 || strspn(d, "0123456789") != n) return 0;
    return atol(d);
}

static void sweep_entry(const char *path, const char *name, const void *base) {
    long pid = tmp_pid(name, base);
    if (pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH) remove_tree1(path);
}

void warm_tmp_sweep(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = slash ? malloc((size_t)(slash - path) + 2) : NULL;
    if (slash && !dir) return;
    if (dir) {
        size_t n = slash == path ? 1 : (size_t)(slash - path); /* "/x" lives in "/" */
        memcpy(dir, path, n);
        dir[n] = 0;
    }
    if (*(slash ? slash + 1 : path)) each_entry(dir ? dir : ".", sweep_entry, slash ? slash + 1 : path);
    free(dir);
}
