/*
 * fuzz_util.h — shared by the libFuzzer targets fuzz/fuzz_*.c (built by `make MODE=fuzz fuzzers`, run by
 * scripts/fuzz.sh). Every parser of outside input in warm reads a path, so a target writes the fuzz input to a
 * file in a private scratch directory (under TMPDIR, /dev/shm when present: no disk I/O) and calls the real
 * loader on it, exactly as the CLI does. Header-only helpers, one copy per target binary.
 */
#ifndef WARM_FUZZ_UTIL_H
#define WARM_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* mkdtemp is POSIX 2008 but glibc declares it only with _DEFAULT_SOURCE / XOPEN; declare it here. */
char *mkdtemp(char *tmpl);

/* The scratch directory of this process (created on first use, never removed: libFuzzer exits with _exit). */
static inline const char *fuzz_dir(void) {
    static char dir[256];
    if (!dir[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        snprintf(dir, sizeof dir, "%s/warm-fuzz-XXXXXX", base);
        if (!mkdtemp(dir)) {
            perror("fuzz: mkdtemp");
            abort();
        }
    }
    return dir;
}

/* dir/name as a static path (one slot per call site is enough: callers use it before the next call). */
static inline const char *fuzz_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/%s", fuzz_dir(), name);
    return buf;
}

/* Writes bytes to dir/name; aborts on I/O failure (the harness, not the code under test, failed). */
static inline const char *fuzz_write(char *buf, size_t n, const char *name, const uint8_t *data, size_t size) {
    fuzz_path(buf, n, name);
    FILE *f = fopen(buf, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(buf);
        abort();
    }
    return buf;
}

/* Removes dir/name (absent is fine). */
static inline void fuzz_unlink(const char *name) {
    char p[512];
    unlink(fuzz_path(p, sizeof p, name));
}

/*
 * Splits data at the separator line "\n--8<--\n" into up to n parts (part i = [at[i], at[i] + len[i])); the
 * multi-file targets use it so one input carries several files. Returns the number of parts found.
 */
static inline int fuzz_split(const uint8_t *data, size_t size, const uint8_t **at, size_t *len, int n) {
    static const char sep[] = "\n--8<--\n";
    const size_t sl = sizeof sep - 1;
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; k < n - 1 && i + sl <= size; i++)
        if (memcmp(data + i, sep, sl) == 0) {
            at[k] = data + start;
            len[k++] = i - start;
            start = i + sl;
            i = start - 1;
        }
    at[k] = data + start;
    len[k++] = size - start;
    return k;
}

#endif
