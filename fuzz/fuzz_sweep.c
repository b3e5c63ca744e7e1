/*
 * fuzz_sweep.c — a sweep's manifest.json (`warm sweep` resuming an -o directory, `warm demo` reading its
 * sweeps): warm_sweep_load, and a save/load round trip of what it accepted (into a second directory).
 */
#include "fuzz_util.h"

#include <sys/stat.h>

#include "warm/rm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512], dir2[512], p2[600];
    fuzz_write(path, sizeof path, "manifest.json", data, size);
    warm_error err;
    warm_sweep s;
    if (warm_sweep_load(&s, path, &err) != WARM_OK) return 0;
    char buf[1024];
    for (int i = 0; i < s.n; i++) {
        warm_sweep_member_dir(&s, i, buf, sizeof buf);
        warm_sweep_member_file(&s, i, buf, sizeof buf);
    }
    /* Save into another directory and load again: the manifest warm writes must be one it reads. */
    fuzz_path(dir2, sizeof dir2, "again");
    mkdir(dir2, 0700);
    char *old = s.dir;
    s.dir = dir2;
    warm_status st = warm_sweep_save(&s, &err);
    s.dir = old;
    if (st == WARM_OK) {
        warm_sweep t;
        snprintf(p2, sizeof p2, "%s/manifest.json", dir2);
        if (warm_sweep_load(&t, p2, &err) != WARM_OK || t.n != s.n) {
            fprintf(stderr, "manifest save/load round trip failed: %s\n", err.msg);
            abort();
        }
        warm_sweep_free(&t);
    }
    warm_sweep_free(&s);
    return 0;
}
