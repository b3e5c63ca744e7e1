/*
 * output.c — where a merge goes: one .safetensors file, or a Hugging Face directory (model.safetensors, or
 * shards + model.safetensors.index.json, plus config.json), written atomically.
 *
 * File output: one warm_st_writer (temp file, fsync, rename over the path).
 * Directory output: everything is built in "<out>.tmp.<pid>" (created with mkdir, so it is ours alone):
 * shards through atomic writers, then the index and config.json (written, fsynced), then the directory is
 * fsynced and swapped in: rename(tmp, out) when out does not exist; otherwise one atomic exchange of the two
 * directories (Linux renameat2 RENAME_EXCHANGE), after which the old output sits at the temp name and its
 * files are removed (a run killed before that leaves it to the next writer's warm_tmp_sweep). Where the kernel
 * or filesystem cannot exchange: rename(out, "<out>.old.<pid>"), rename(tmp, out) (on failure the old one is
 * renamed back), then the old directory's files are removed. So at every instant <out> is either the complete
 * old output or the complete new one (with the fallback: absent for the gap between its two renames). An existing directory is replaced only if each of its entries is a name this
 * module writes (checked before the merge starts and again just before the swap); on any failure the temp
 * directory and everything in it are removed.
 *
 * Sharding (huggingface_hub's rule): tensors in the given order fill a shard until the next one would pass
 * shard_size bytes of tensor data; a tensor larger than shard_size gets a shard of its own. One shard is
 * written as model.safetensors without an index. total_size in the index = the sum of tensor bytes.
 */
#include "merge/merge_internal.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

int merge_out_is_dir(const char *out) { return !ends_with(out, ".safetensors"); }

/* Names this module writes into an output directory (tok: with tokenizer files, as an export writes). */
static int our_entry(const char *name, int tok) {
    if (!strcmp(name, "model.safetensors") || !strcmp(name, "model.safetensors.index.json") ||
        !strcmp(name, "config.json") || (tok && warm_hf_file_name_ok(name)))
        return 1;
    /* model-DDDDD-of-DDDDD.safetensors */
    if (strlen(name) != strlen("model-00001-of-00001.safetensors") || strncmp(name, "model-", 6) != 0 ||
        strncmp(name + 11, "-of-", 4) != 0 || strcmp(name + 20, ".safetensors") != 0)
        return 0;
    for (int i = 0; i < 5; i++)
        if (name[6 + i] < '0' || name[6 + i] > '9' || name[15 + i] < '0' || name[15 + i] > '9') return 0;
    return 1;
}

/* out without trailing slashes (malloc'd). */
static char *strip_slashes(const char *out) {
    char *p = strdup(out);
    if (!p) return NULL;
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') p[--n] = 0;
    return p;
}

/* The first entry of dir that this module would not write (malloc'd), or NULL when all are ours; *io set
 * when the directory cannot be read. */
static char *foreign_entry(const char *dir, int tok, int *io) {
    *io = 0;
    DIR *d = opendir(dir);
    if (!d) {
        *io = 1;
        return NULL;
    }
    char *bad = NULL;
    for (struct dirent *e; !bad && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (!our_entry(e->d_name, tok)) bad = strdup(e->d_name);
    }
    closedir(d);
    return bad;
}

warm_status merge_output_precheck(const char *out, uint64_t shard_size, int tok_files, warm_error *err) {
    int is_dir = merge_out_is_dir(out);
    if (!out[0]) return warm_error_set(err, WARM_ERR_ARG, "empty output path");
    if (!is_dir && shard_size)
        return warm_error_set(err, WARM_ERR_ARG, "%s: --shard-size needs a directory output (a path not ending in "
                              ".safetensors)", out);
    struct stat st;
    if (stat(out, &st) != 0) return WARM_OK;
    if (!is_dir && S_ISDIR(st.st_mode))
        return warm_error_set(err, WARM_ERR_ARG, "%s: is a directory, but a path ending in .safetensors names a file",
                              out);
    if (is_dir && !S_ISDIR(st.st_mode))
        return warm_error_set(err, WARM_ERR_ARG, "%s: exists and is not a directory (a path not ending in "
                              ".safetensors names an output directory)", out);
    if (!is_dir) return WARM_OK;
    int io;
    char *bad = foreign_entry(out, tok_files, &io);
    if (io) return warm_error_set(err, WARM_ERR_IO, "%s: cannot read the existing directory: %s", out, strerror(errno));
    if (!bad) return WARM_OK;
    warm_status s = warm_error_set(err, WARM_ERR_ARG, "%s: the existing directory holds '%s', which this output "
                                   "does not write; refusing to replace it (remove it or choose another output)", out,
                                   bad);
    free(bad);
    return s;
}

/* ---------------------------------------------------------------------------------------------- helpers */

static warm_status fsync_path(const char *path, int dir, warm_error *err) {
    int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    /* Some file systems refuse fsync on directories (EINVAL); file data was synced already. */
    if (fd < 0 || (fsync(fd) != 0 && !(dir && errno == EINVAL))) {
        warm_status s = warm_error_set(err, WARM_ERR_IO, "%s: fsync failed: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return s;
    }
    close(fd);
    return WARM_OK;
}

static warm_status parent_fsync(const char *path, warm_error *err) {
    char *p = strdup(path);
    if (!p) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
    char *slash = strrchr(p, '/');
    const char *dir = ".";
    if (slash == p) dir = "/";
    else if (slash) {
        *slash = 0;
        dir = p;
    }
    warm_status s = fsync_path(dir, 1, err);
    free(p);
    return s;
}

/* Creates path (must not exist), writes text, fsyncs. */
static warm_status write_bytes(const char *path, const char *text, size_t n, warm_error *err) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return warm_error_set(err, WARM_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, text + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            warm_status s = warm_error_set(err, WARM_ERR_IO, "%s: write failed: %s", path, strerror(errno));
            close(fd);
            return s;
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0) {
        warm_status s = warm_error_set(err, WARM_ERR_IO, "%s: fsync failed: %s", path, strerror(errno));
        close(fd);
        return s;
    }
    if (close(fd) != 0) return warm_error_set(err, WARM_ERR_IO, "%s: close failed: %s", path, strerror(errno));
    return WARM_OK;
}

static warm_status write_text(const char *path, const char *text, warm_error *err) {
    return write_bytes(path, text, strlen(text), err);
}

/* Removes the entries of dir (all when only_ours is 0, else only names we write), then dir itself. */
static void remove_dir(const char *dir, int only_ours) {
    DIR *d = opendir(dir);
    if (d) {
        for (struct dirent *e; (e = readdir(d));) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            if (only_ours && !our_entry(e->d_name, 1)) continue; /* checked before the swap */
            char *p = merge_join(dir, e->d_name);
            if (p) unlink(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* ---------------------------------------------------------------------------------------------- writing */

/* Writes tensors t[lo..hi) into one file at path. */
static warm_status write_file(const char *path, const merge_out_tensor *t, int lo, int hi, const char *const *mk,
                              const char *const *mv, int n_meta, merge_produce_fn produce, void *ctx, warm_error *err) {
    int n = hi - lo;
    warm_st_spec *specs = calloc((size_t)n + 1, sizeof *specs);
    if (!specs) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < n; i++) {
        const merge_out_tensor *o = &t[lo + i];
        specs[i].name = o->name;
        specs[i].dtype = o->dtype;
        specs[i].ndim = o->ndim;
        memcpy(specs[i].shape, o->shape, sizeof o->shape);
    }
    warm_st_writer *w;
    warm_status s = warm_st_writer_open(&w, path, specs, n, mk, mv, n_meta, err);
    free(specs);
    for (int i = 0; i < n && !s; i++) s = produce(ctx, lo + i, w, i, err);
    if (s) {
        warm_st_writer_abort(w);
        return s;
    }
    return warm_st_writer_commit(w, err);
}

/* shard_of[i] for each tensor; returns the number of shards. */
static int plan_shards(const merge_out_tensor *t, int n, uint64_t shard_size, int *shard_of) {
    int k = 0;
    uint64_t used = 0;
    for (int i = 0; i < n; i++) {
        if (shard_size && used > 0 && (used >= shard_size || t[i].bytes > shard_size - used)) {
            k++;
            used = 0;
        }
        used += t[i].bytes;
        shard_of[i] = k;
    }
    return k + 1;
}

static char *shard_name(int s, int n_shards) {
    char *p = malloc(48);
    if (!p) return NULL;
    if (n_shards == 1) snprintf(p, 48, "model.safetensors");
    else snprintf(p, 48, "model-%05d-of-%05d.safetensors", s + 1, n_shards);
    return p;
}

static warm_status write_index(const char *tmp, const merge_out_tensor *t, int n, const int *shard_of, int n_shards,
                               warm_error *err) {
    cJSON *root = cJSON_CreateObject(), *meta = cJSON_CreateObject(), *wm = cJSON_CreateObject();
    uint64_t total = 0;
    for (int i = 0; i < n; i++) total += t[i].bytes;
    int ok = root && meta && wm;
    if (ok) {
        cJSON_AddItemToObject(root, "metadata", meta);
        cJSON_AddItemToObject(root, "weight_map", wm);
        meta = wm = NULL;
    }
    ok = ok && cJSON_AddNumberToObject(cJSON_GetObjectItemCaseSensitive(root, "metadata"), "total_size",
                                       (double)total);
    cJSON *map = ok ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    for (int i = 0; i < n && ok; i++) {
        char *sn = shard_name(shard_of[i], n_shards);
        ok = sn && cJSON_AddStringToObject(map, t[i].name, sn);
        free(sn);
    }
    char *text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    cJSON_Delete(meta);
    cJSON_Delete(wm);
    char *path = merge_join(tmp, "model.safetensors.index.json");
    warm_status s;
    if (!text || !path) s = warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory for the index", tmp);
    else s = write_text(path, text, err);
    free(text);
    free(path);
    return s;
}

#if defined(__linux__) && defined(SYS_renameat2)
long syscall(long number, ...); /* unistd.h declares it only with _DEFAULT_SOURCE / _GNU_SOURCE */
#endif

/* Swaps the two paths atomically (renameat2 with RENAME_EXCHANGE, Linux >= 3.15; glibc declares renameat2 only
 * with _GNU_SOURCE, so the system call is made directly). -1 with errno EINVAL / ENOSYS where unsupported. */
static int exchange_paths(const char *a, const char *b) {
#if defined(__linux__) && defined(SYS_renameat2)
    return (int)syscall(SYS_renameat2, (long)AT_FDCWD, a, (long)AT_FDCWD, b, 2L /* RENAME_EXCHANGE */);
#else
    (void)a, (void)b;
    errno = ENOSYS;
    return -1;
#endif
}

/* Moves the finished temp directory to out (see the file comment). */
static warm_status swap_in(const char *tmp, const char *out, int tok, warm_error *err) {
    struct stat st;
    if (lstat(out, &st) != 0) {
        if (rename(tmp, out) != 0)
            return warm_error_set(err, WARM_ERR_IO, "%s: rename from %s failed: %s", out, tmp, strerror(errno));
        return parent_fsync(out, err);
    }
    int io;
    char *bad = S_ISDIR(st.st_mode) ? foreign_entry(out, tok, &io) : NULL;
    if (!S_ISDIR(st.st_mode) || bad) {
        warm_status s = warm_error_set(err, WARM_ERR_IO, "%s: %s%s%s; not replaced", out,
                                       bad ? "the existing directory now holds '" : "is no longer a directory",
                                       bad ? bad : "", bad ? "'" : "");
        free(bad);
        return s;
    }
    if (exchange_paths(tmp, out) == 0) { /* tmp now holds the old output */
        remove_dir(tmp, 1);
        return parent_fsync(out, err);
    }
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
        return warm_error_set(err, WARM_ERR_IO, "%s: cannot exchange it with %s: %s", out, tmp, strerror(errno));
    size_t cap = strlen(out) + 32;
    char *old = malloc(cap);
    if (!old) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", out);
    snprintf(old, cap, "%s.old.%ld", out, (long)getpid());
    warm_status s = WARM_OK;
    if (rename(out, old) != 0) {
        s = warm_error_set(err, WARM_ERR_IO, "%s: cannot move the existing output aside: %s", out, strerror(errno));
    } else if (rename(tmp, out) != 0) {
        s = warm_error_set(err, WARM_ERR_IO, "%s: rename from %s failed: %s", out, tmp, strerror(errno));
        (void)rename(old, out); /* put the old output back */
    } else {
        remove_dir(old, 1);
        s = parent_fsync(out, err);
    }
    free(old);
    return s;
}

static warm_status write_dir(const char *out, const merge_out_tensor *t, int n, uint64_t shard_size,
                             const char *const *mk, const char *const *mv, int n_meta, const char *config_json,
                             const warm_hf_file *files, int n_files, merge_produce_fn produce, void *ctx,
                             int *n_shards, warm_error *err) {
    int *shard_of = calloc((size_t)n + 1, sizeof *shard_of);
    size_t cap = strlen(out) + 32;
    char *tmp = malloc(cap);
    if (!shard_of || !tmp) {
        free(shard_of);
        free(tmp);
        return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", out);
    }
    int ns = plan_shards(t, n, shard_size, shard_of);
    snprintf(tmp, cap, "%s.tmp.%ld", out, (long)getpid());
    warm_tmp_sweep(out); /* directories of killed merges into the same output */
    warm_status s = WARM_OK;
    if (mkdir(tmp, 0755) != 0) {
        s = warm_error_set(err, WARM_ERR_IO, "%s: cannot create the temporary directory %s: %s", out, tmp,
                           strerror(errno));
        free(shard_of);
        free(tmp);
        return s;
    }
    for (int sh = 0, lo = 0; sh < ns && !s; sh++) {
        int hi = lo;
        while (hi < n && shard_of[hi] == sh) hi++;
        char *name = shard_name(sh, ns), *path = name ? merge_join(tmp, name) : NULL;
        if (!path) s = warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", out);
        else s = write_file(path, t, lo, hi, mk, mv, n_meta, produce, ctx, err);
        free(name);
        free(path);
        lo = hi;
    }
    if (!s && ns > 1) s = write_index(tmp, t, n, shard_of, ns, err);
    if (!s && config_json) {
        char *p = merge_join(tmp, "config.json");
        s = p ? write_text(p, config_json, err) : warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", out);
        free(p);
    }
    for (int i = 0; i < n_files && !s; i++) {
        char *p = merge_join(tmp, files[i].name);
        s = p ? write_bytes(p, files[i].data, files[i].len, err)
              : warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", out);
        free(p);
    }
    if (!s) s = fsync_path(tmp, 1, err);
    if (!s) s = swap_in(tmp, out, n_files > 0, err);
    if (s) remove_dir(tmp, 0);
    else *n_shards = ns;
    free(shard_of);
    free(tmp);
    return s;
}

warm_status merge_write_output(const char *out, const merge_out_tensor *t, int n, uint64_t shard_size,
                               const char *const *mk, const char *const *mv, int n_meta, const char *config_json,
                               const warm_hf_file *files, int n_files, merge_produce_fn produce, void *ctx,
                               int *n_shards, warm_error *err) {
    warm_status s = merge_output_precheck(out, shard_size, n_files > 0, err);
    if (s) return s;
    for (int i = 0; i < n_files; i++)
        if (!warm_hf_file_name_ok(files[i].name))
            return warm_error_set(err, WARM_ERR_ARG, "%s: '%s' is not a tokenizer file name of a model directory", out,
                                  files[i].name);
    if (n_files > 0 && !merge_out_is_dir(out))
        return warm_error_set(err, WARM_ERR_ARG, "%s: tokenizer files need a directory output", out);
    if (!merge_out_is_dir(out)) {
        s = write_file(out, t, 0, n, mk, mv, n_meta, produce, ctx, err);
        if (!s) *n_shards = 1;
        return s;
    }
    char *dir = strip_slashes(out);
    if (!dir) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", out);
    s = write_dir(dir, t, n, shard_size, mk, mv, n_meta, config_json, files, n_files, produce, ctx, n_shards, err);
    free(dir);
    return s;
}
