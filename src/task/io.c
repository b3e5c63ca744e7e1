/*
 * io.c — file helpers of the task module: an atomic line writer (temp file beside the target; fflush +
 * fsync + rename on commit; the temp file is removed on any failure, so a reader never sees half a file)
 * whole-file reading and path joining.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "task/task_internal.h"

char *warm_task_path(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

warm_status warm_task_out_open(warm_task_out *o, const char *path, warm_error *err) {
    memset(o, 0, sizeof *o);
    o->path = path;
    size_t n = strlen(path) + 16;
    if (!(o->tmp = malloc(n))) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", path);
    snprintf(o->tmp, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(o->tmp);
    /* mkstemp creates 0600; the data files are ordinary outputs. */
    if (fd >= 0 && (fchmod(fd, 0644) != 0 || !(o->f = fdopen(fd, "w")))) close(fd);
    if (!o->f) {
        warm_status s = warm_error_set(err, WARM_ERR_IO, "%s: cannot create temp file: %s", path, strerror(errno));
        if (fd >= 0) unlink(o->tmp);
        free(o->tmp);
        o->tmp = NULL;
        return s;
    }
    return WARM_OK;
}

warm_status warm_task_out_line(warm_task_out *o, char *s, warm_error *err) {
    if (!s) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", o->path);
    int bad = fputs(s, o->f) == EOF || fputc('\n', o->f) == EOF;
    free(s);
    if (bad) return warm_error_set(err, WARM_ERR_IO, "%s: write failed: %s", o->path, strerror(errno));
    return WARM_OK;
}

void warm_task_out_abort(warm_task_out *o) {
    if (o->f) fclose(o->f);
    if (o->tmp) unlink(o->tmp);
    free(o->tmp);
    memset(o, 0, sizeof *o);
}

/* fsync the directory holding path, so that the rename itself survives a crash. */
static warm_status sync_dir(const char *path, warm_error *err) {
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    warm_status s = WARM_OK;
    /* Some file systems refuse fsync on a directory (EINVAL); the file itself is synced already. */
    if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL))
        s = warm_error_set(err, WARM_ERR_IO, "%s: renamed, but syncing directory %s failed: %s", path, dir,
                           strerror(errno));
    if (fd >= 0) close(fd);
    free(dir);
    return s;
}

warm_status warm_task_out_commit(warm_task_out *o, warm_error *err) {
    warm_status s = WARM_OK;
    if (fflush(o->f) != 0 || fsync(fileno(o->f)) != 0)
        s = warm_error_set(err, WARM_ERR_IO, "%s: write failed: %s", o->path, strerror(errno));
    int rc = fclose(o->f);
    o->f = NULL;
    if (s == WARM_OK && rc != 0) s = warm_error_set(err, WARM_ERR_IO, "%s: close failed: %s", o->path, strerror(errno));
    if (s == WARM_OK && rename(o->tmp, o->path) != 0)
        s = warm_error_set(err, WARM_ERR_IO, "%s: rename failed: %s", o->path, strerror(errno));
    if (s == WARM_OK) {
        free(o->tmp);
        o->tmp = NULL;
        s = sync_dir(o->path, err);
    }
    warm_task_out_abort(o);
    return s;
}

char *warm_task_read_file(const char *path, size_t *size, warm_error *err) {
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
