/*
 * jsonl.c — JSON-lines reader with line-numbered errors, typed field getters, tokenising helpers, an atomic
 * JSONL writer, and the small containers the loaders share (id pool, interned names). See warm/data.h.
 *
 * Reader. getline() reads one physical line of any length into a buffer that grows as needed (no fixed
 * limit). Each line: the "\n" and then one "\r" are stripped (CRLF files), a UTF-8 BOM is stripped from line
 * 1 only (cJSON itself also skips one at the start of any later line, which lets concatenated files through),
 * a line holding a NUL byte is rejected (it would silently cut the JSON text short), and lines of
 * blanks (space, tab, CR) are skipped but still counted, so the line numbers in messages are those an editor
 * shows. A final line without "\n" is an ordinary line.
 *
 * Parsing. cJSON parses the line (ParseWithLengthOpts, so the parse end is known without cJSON's global
 * error pointer); only whitespace may follow the value, the value must be an object, and top-level keys must
 * be unique (cJSON keeps repeated keys as separate children and GetObjectItem would silently pick the first).
 * Every message is "<path>:<line>: ..." through warm_jsonl_fail.
 *
 * Writer. Rows are written with stdio to "<path>.tmp.<pid>" beside the target (same directory, so the rename
 * is atomic; O_EXCL, mode 0644 whatever the umask), after sweeping the temp files of killed writers of the same
 * path (warm_tmp_sweep); commit checks the stream, fsyncs, renames and fsyncs the directory. Any failure
 * unlinks the temp file.
 */
#include "warm/data.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ================================================================ reader */

struct warm_jsonl_reader {
    FILE *f;
    char *path;
    char *buf;       /* getline buffer */
    size_t cap;
    int64_t line;    /* physical lines read so far = number of the line last returned */
    cJSON *obj;      /* last parsed object (owned) */
};

warm_status warm_jsonl_open(warm_jsonl_reader **r, const char *path, warm_error *err) {
    *r = NULL;
    warm_jsonl_reader *x = calloc(1, sizeof *x);
    if (!x || !(x->path = strdup(path))) {
        free(x);
        return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", path);
    }
    x->f = fopen(path, "rb");
    if (!x->f) {
        warm_status s = warm_error_set(err, WARM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        free(x->path);
        free(x);
        return s;
    }
    *r = x;
    return WARM_OK;
}

void warm_jsonl_close(warm_jsonl_reader *r) {
    if (!r) return;
    if (r->f) fclose(r->f);
    cJSON_Delete(r->obj);
    free(r->buf);
    free(r->path);
    free(r);
}

int64_t warm_jsonl_lineno(const warm_jsonl_reader *r) { return r->line; }
const char *warm_jsonl_path(const warm_jsonl_reader *r) { return r->path; }

warm_status warm_jsonl_fail(const warm_jsonl_reader *r, warm_error *err, warm_status code, const char *fmt, ...) {
    if (!err) return code;
    char msg[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return warm_error_set(err, code, "%s:%" PRId64 ": %s", r->path, r->line, msg);
}

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

warm_status warm_jsonl_next_line(warm_jsonl_reader *r, const char **line, size_t *len, warm_error *err) {
    *line = NULL;
    *len = 0;
    for (;;) {
        errno = 0;
        ssize_t got = getline(&r->buf, &r->cap, r->f);
        if (got < 0) {
            if (ferror(r->f))
                return warm_error_set(err, WARM_ERR_IO, "%s: read error after line %" PRId64 ": %s", r->path,
                                      r->line, strerror(errno ? errno : EIO));
            if (errno == ENOMEM) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", r->path);
            return WARM_OK; /* end of file */
        }
        r->line++;
        char *s = r->buf;
        size_t n = (size_t)got;
        if (n > 0 && s[n - 1] == '\n') n--;
        if (n > 0 && s[n - 1] == '\r') n--;
        if (r->line == 1 && n >= 3 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB &&
            (unsigned char)s[2] == 0xBF) {
            s += 3;
            n -= 3;
        }
        s[n] = 0;
        if (memchr(s, 0, n)) return warm_jsonl_fail(r, err, WARM_ERR_FORMAT, "line contains a NUL byte");
        if (is_blank(s, n)) continue;
        *line = s;
        *len = n;
        return WARM_OK;
    }
}

/* First repeated key among the members of obj, or NULL. Rows have a handful of keys: quadratic is fine. */
static const char *duplicate_key(const cJSON *obj) {
    for (const cJSON *a = obj->child; a; a = a->next)
        for (const cJSON *b = a->next; b; b = b->next)
            if (strcmp(a->string, b->string) == 0) return a->string;
    return NULL;
}

warm_status warm_jsonl_next(warm_jsonl_reader *r, const cJSON **obj, warm_error *err) {
    *obj = NULL;
    cJSON_Delete(r->obj);
    r->obj = NULL;
    const char *line;
    size_t len;
    warm_status s = warm_jsonl_next_line(r, &line, &len, err);
    if (s != WARM_OK || !line) return s;
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(line, len, &end, 0);
    if (!v) {
        size_t col = end && end >= line && end <= line + len ? (size_t)(end - line) + 1 : 1;
        return warm_jsonl_fail(r, err, WARM_ERR_FORMAT, "invalid JSON at column %zu", col);
    }
    r->obj = v;
    if (!is_blank(end, (size_t)(line + len - end))) {
        size_t col = (size_t)(end - line) + strspn(end, " \t\r") + 1;
        return warm_jsonl_fail(r, err, WARM_ERR_FORMAT, "unexpected text after the JSON value at column %zu", col);
    }
    if (!cJSON_IsObject(v)) return warm_jsonl_fail(r, err, WARM_ERR_FORMAT, "not a JSON object");
    const char *dup = duplicate_key(v);
    if (dup) return warm_jsonl_fail(r, err, WARM_ERR_FORMAT, "duplicate key \"%s\"", dup);
    *obj = v;
    return WARM_OK;
}

/* ================================================================ field getters */

/* The member key of obj, or NULL when missing or null; reports a missing required key. */
static warm_status member(const warm_jsonl_reader *r, const cJSON *obj, const char *key, int required,
                          const cJSON **out, int *present, warm_error *err) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (x && cJSON_IsNull(x)) x = NULL;
    *out = x;
    if (present) *present = x != NULL;
    if (!x && required) return warm_jsonl_fail(r, err, WARM_ERR_FORMAT, "missing \"%s\"", key);
    return WARM_OK;
}

warm_status warm_jsonl_get_str(const warm_jsonl_reader *r, const cJSON *obj, const char *key, int required,
                               const char **out, int *present, warm_error *err) {
    const cJSON *x;
    warm_status s = member(r, obj, key, required, &x, present, err);
    if (s != WARM_OK || !x) return s;
    if (!cJSON_IsString(x)) return warm_jsonl_fail(r, err, WARM_ERR_FORMAT, "\"%s\" must be a string", key);
    *out = x->valuestring;
    return WARM_OK;
}

warm_status warm_jsonl_get_num(const warm_jsonl_reader *r, const cJSON *obj, const char *key, int required,
                               double *out, int *present, warm_error *err) {
    const cJSON *x;
    warm_status s = member(r, obj, key, required, &x, present, err);
    if (s != WARM_OK || !x) return s;
    if (!cJSON_IsNumber(x)) return warm_jsonl_fail(r, err, WARM_ERR_FORMAT, "\"%s\" must be a number", key);
    if (!isfinite(x->valuedouble))
        return warm_jsonl_fail(r, err, WARM_ERR_FORMAT, "\"%s\" must be a finite number", key);
    *out = x->valuedouble;
    return WARM_OK;
}

warm_status warm_jsonl_get_bool(const warm_jsonl_reader *r, const cJSON *obj, const char *key, int required,
                                int *out, int *present, warm_error *err) {
    const cJSON *x;
    warm_status s = member(r, obj, key, required, &x, present, err);
    if (s != WARM_OK || !x) return s;
    if (!cJSON_IsBool(x)) return warm_jsonl_fail(r, err, WARM_ERR_FORMAT, "\"%s\" must be true or false", key);
    *out = cJSON_IsTrue(x) ? 1 : 0;
    return WARM_OK;
}

/* ================================================================ id pool */

warm_status warm_ids_reserve(warm_ids *b, int64_t more, warm_error *err) {
    if (more < 0 || b->n > INT64_MAX - more)
        return warm_error_set(err, WARM_ERR_ARG, "warm_ids_reserve: bad size %" PRId64, more);
    int64_t need = b->n + more;
    if (need <= b->cap) return WARM_OK;
    int64_t cap = b->cap ? b->cap : 1024;
    while (cap < need) cap = cap > INT64_MAX / 2 ? need : cap * 2;
    if ((uint64_t)cap > SIZE_MAX / sizeof(int32_t))
        return warm_error_set(err, WARM_ERR_NOMEM, "out of memory (%" PRId64 " token ids)", cap);
    int32_t *v = realloc(b->v, (size_t)cap * sizeof(int32_t));
    if (!v) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory (%" PRId64 " token ids)", cap);
    b->v = v;
    b->cap = cap;
    return WARM_OK;
}

void warm_ids_free(warm_ids *b) {
    free(b->v);
    b->v = NULL;
    b->n = b->cap = 0;
}

/* 2^31 - 1: the largest count or id an int32 holds. */
#define ID_MAX 2147483647.0

warm_status warm_jsonl_get_ids(const warm_jsonl_reader *r, const cJSON *obj, const char *key, int required,
                               int32_t vocab, warm_ids *b, int *n, int *present, warm_error *err) {
    *n = 0;
    const cJSON *x;
    warm_status s = member(r, obj, key, required, &x, present, err);
    if (s != WARM_OK || !x) return s;
    if (!cJSON_IsArray(x))
        return warm_jsonl_fail(r, err, WARM_ERR_FORMAT, "\"%s\" must be an array of integers", key);
    int count = cJSON_GetArraySize(x);
    if ((s = warm_ids_reserve(b, count, err)) != WARM_OK) return warm_error_prefix(err, "%s:%" PRId64, r->path,
                                                                                   r->line);
    int i = 0;
    for (const cJSON *e = x->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) || fabs(e->valuedouble) > ID_MAX)
            return warm_jsonl_fail(r, err, WARM_ERR_FORMAT, "\"%s\"[%d] must be an integer", key, i);
        double v = e->valuedouble;
        if (v < 0 || v >= (double)vocab)
            return warm_jsonl_fail(r, err, WARM_ERR_FORMAT, "\"%s\"[%d] = %.0f is outside the vocabulary [0, %d)",
                                   key, i, v, (int)vocab);
        b->v[b->n + i] = (int32_t)v;
    }
    b->n += count;
    *n = count;
    return WARM_OK;
}

warm_status warm_jsonl_tokenize(const warm_jsonl_reader *r, const char *key, const warm_tokenizer *tok,
                                const char *text, int allow_unk, int append_eos, warm_ids *b, int *n,
                                warm_error *err) {
    *n = 0;
    /* Byte-level and word-level tokenizers both give at most one token per byte: room for len + EOS avoids a
     * second pass; the retry below covers any tokenizer that does not. */
    size_t len = strlen(text);
    if (len > (size_t)INT32_MAX - 2)
        return warm_jsonl_fail(r, err, WARM_ERR_FORMAT, "\"%s\" is too long (%zu bytes)", key, len);
    int want = (int)len + 2, got = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        warm_status s = warm_ids_reserve(b, want, err);
        if (s != WARM_OK) return warm_error_prefix(err, "%s:%" PRId64, r->path, r->line);
        warm_error e = {0};
        s = warm_tok_encode(tok, text, allow_unk, b->v + b->n, want - 1, &got, &e);
        if (s == WARM_OK) break;
        if (s != WARM_ERR_ARG || attempt == 1 || got < want - 1 || got > INT32_MAX - 2)
            return warm_jsonl_fail(r, err, s, "\"%s\": %s", key, e.msg);
        want = got + 2;
    }
    int32_t eos = warm_tok_eos(tok);
    if (append_eos && (got == 0 || b->v[b->n + got - 1] != eos)) b->v[b->n + got++] = eos;
    b->n += got;
    *n = got;
    return WARM_OK;
}

/* ================================================================ interned names */

int warm_names_intern(warm_names *t, const char *s) {
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->v[i], s) == 0) return i;
    char **v = realloc(t->v, (size_t)(t->n + 1) * sizeof *v);
    if (!v) return -1;
    t->v = v;
    if (!(v[t->n] = strdup(s))) return -1;
    return t->n++;
}

void warm_names_free(warm_names *t) {
    for (int i = 0; i < t->n; i++) free(t->v[i]);
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

int warm_names_listed(const char *list, const char *name) {
    for (const char *p = list;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (name ? strlen(name) == n && strncmp(p, name, n) == 0 : n == 0) return 1;
        if (!comma) return 0;
        p = comma + 1;
    }
}

warm_status warm_jsonl_get_name(const warm_jsonl_reader *r, const cJSON *obj, const char *key, warm_names *t,
                                int32_t *idx, warm_error *err) {
    const char *name = NULL;
    int present = 0;
    *idx = -1;
    warm_status s = warm_jsonl_get_str(r, obj, key, 0, &name, &present, err);
    if (s != WARM_OK || !present) return s;
    int k = warm_names_intern(t, name);
    if (k < 0) return warm_jsonl_fail(r, err, WARM_ERR_NOMEM, "out of memory");
    *idx = k;
    return WARM_OK;
}

/* ================================================================ string pool */

warm_status warm_strpool_add(warm_strpool *p, const char *s, int64_t *off, warm_error *err) {
    size_t len = strlen(s) + 1;
    if ((uint64_t)p->n + len > (uint64_t)p->cap) {
        uint64_t c = p->cap ? (uint64_t)p->cap : 256;
        while (c < (uint64_t)p->n + len) c *= 2;
        char *v = c <= SIZE_MAX && c <= (uint64_t)INT64_MAX ? realloc(p->v, (size_t)c) : NULL;
        if (!v) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory (strings)");
        p->v = v;
        p->cap = (int64_t)c;
    }
    memcpy(p->v + p->n, s, len);
    *off = p->n;
    p->n += (int64_t)len;
    return WARM_OK;
}

void warm_strpool_free(warm_strpool *p) {
    free(p->v);
    p->v = NULL;
    p->n = p->cap = 0;
}

/* 2^53: integers up to here are exact in a double, so "%.0f" prints them exactly. */
#define MAX_EXACT_INT 9007199254740992.0

warm_status warm_jsonl_get_label(const warm_jsonl_reader *r, const cJSON *obj, const char *key, warm_strpool *p,
                                 int64_t *off, warm_error *err) {
    *off = -1;
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!x || cJSON_IsNull(x)) return WARM_OK;
    char num[32];
    const char *text = num;
    if (cJSON_IsString(x))
        text = x->valuestring;
    else if (cJSON_IsNumber(x) && x->valuedouble == floor(x->valuedouble) && fabs(x->valuedouble) <= MAX_EXACT_INT)
        snprintf(num, sizeof num, "%.0f", x->valuedouble);
    else
        return warm_jsonl_fail(r, err, WARM_ERR_FORMAT, "\"%s\" must be a string or an integer", key);
    if (warm_strpool_add(p, text, off, err) != WARM_OK) return warm_jsonl_fail(r, err, WARM_ERR_NOMEM, "out of memory");
    return WARM_OK;
}

/* ================================================================ atomic writer */

struct warm_jsonl_writer {
    FILE *f;
    char *path, *tmp;
};

static void writer_free(warm_jsonl_writer *w, int remove_tmp) {
    if (w->f) fclose(w->f);
    if (remove_tmp && w->tmp) unlink(w->tmp);
    free(w->tmp);
    free(w->path);
    free(w);
}

warm_status warm_jsonl_writer_open(warm_jsonl_writer **w, const char *path, warm_error *err) {
    *w = NULL;
    warm_jsonl_writer *x = calloc(1, sizeof *x);
    size_t n = strlen(path) + sizeof ".tmp." + 24;
    if (!x || !(x->path = strdup(path)) || !(x->tmp = malloc(n))) {
        if (x) free(x->path);
        free(x);
        return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", path);
    }
    /* "<path>.tmp.<pid>" like the safetensors writer, so a killed writer's leftover is recognised and swept */
    snprintf(x->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    warm_tmp_sweep(path);
    int fd = open(x->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        warm_status s = warm_error_set(err, WARM_ERR_IO, "%s: cannot create a temporary file: %s", path,
                                       strerror(errno));
        free(x->tmp);
        x->tmp = NULL;
        writer_free(x, 0);
        return s;
    }
    if (fchmod(fd, 0644) != 0 || !(x->f = fdopen(fd, "wb"))) {
        warm_status s = warm_error_set(err, WARM_ERR_IO, "%s: cannot open %s: %s", path, x->tmp, strerror(errno));
        if (!x->f) close(fd);
        writer_free(x, 1);
        return s;
    }
    *w = x;
    return WARM_OK;
}

warm_status warm_jsonl_write_line(warm_jsonl_writer *w, const char *line, warm_error *err) {
    if (strchr(line, '\n'))
        return warm_error_set(err, WARM_ERR_ARG, "%s: a JSONL line may not contain a newline", w->path);
    if (fputs(line, w->f) == EOF || fputc('\n', w->f) == EOF)
        return warm_error_set(err, WARM_ERR_IO, "%s: write to %s failed: %s", w->path, w->tmp, strerror(errno));
    return WARM_OK;
}

warm_status warm_jsonl_write(warm_jsonl_writer *w, const cJSON *row, warm_error *err) {
    char *text = cJSON_PrintUnformatted(row);
    if (!text) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", w->path);
    warm_status s = warm_jsonl_write_line(w, text, err);
    cJSON_free(text);
    return s;
}

/* fsync the directory holding path so that the rename itself is durable. */
static warm_status sync_dir(const char *path, warm_error *err) {
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    warm_status s = WARM_OK;
    /* Some file systems refuse fsync on directories (EINVAL); the data itself is already synced. */
    if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL))
        s = warm_error_set(err, WARM_ERR_IO, "%s: renamed, but syncing directory %s failed: %s", path, dir,
                           strerror(errno));
    if (fd >= 0) close(fd);
    free(dir);
    return s;
}

warm_status warm_jsonl_writer_commit(warm_jsonl_writer *w, warm_error *err) {
    if (!w) return warm_error_set(err, WARM_ERR_ARG, "warm_jsonl_writer_commit: NULL writer");
    warm_status s = WARM_OK;
    if (fflush(w->f) != 0 || ferror(w->f) || fsync(fileno(w->f)) != 0)
        s = warm_error_set(err, WARM_ERR_IO, "%s: writing %s failed: %s", w->path, w->tmp, strerror(errno));
    int rc = fclose(w->f);
    w->f = NULL;
    if (s == WARM_OK && rc != 0)
        s = warm_error_set(err, WARM_ERR_IO, "%s: close of %s failed: %s", w->path, w->tmp, strerror(errno));
    if (s == WARM_OK && rename(w->tmp, w->path) != 0)
        s = warm_error_set(err, WARM_ERR_IO, "%s: rename from %s failed: %s", w->path, w->tmp, strerror(errno));
    if (s != WARM_OK) {
        writer_free(w, 1);
        return s;
    }
    s = sync_dir(w->path, err);
    writer_free(w, 0);
    return s;
}

void warm_jsonl_writer_abort(warm_jsonl_writer *w) {
    if (w) writer_free(w, 1);
}

/* Formatted JSON through the atomic line writer. */
warm_status warm_text_write(const char *path, char *text, warm_error *err) {
    warm_jsonl_writer *w = NULL;
    warm_status s = warm_jsonl_writer_open(&w, path, err);
    for (char *line = text, *nl; s == WARM_OK && line && *line; line = nl ? nl + 1 : NULL) {
        if ((nl = strchr(line, '\n'))) *nl = 0;
        s = warm_jsonl_write_line(w, line, err);
    }
    if (s == WARM_OK) return warm_jsonl_writer_commit(w, err);
    if (w) warm_jsonl_writer_abort(w);
    return s;
}

warm_status warm_json_write(const char *path, const cJSON *root, warm_error *err) {
    char *text = cJSON_Print(root);
    if (!text) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", path);
    /* cJSON escapes newlines inside strings, so every '\n' of the text ends a line of the layout. */
    warm_status s = warm_text_write(path, text, err);
    cJSON_free(text);
    return s;
}

warm_status warm_metrics_trim(const char *path, int64_t max_step, warm_error *err) {
    size_t n = 0;
    char *text = warm_read_file(path, &n, NULL);
    if (!text) return WARM_OK; /* no log yet */
    /* Keep the complete lines (a torn last line has no '\n') whose "step" is at most max_step, or that have none. */
    size_t keep = 0;
    for (size_t i = 0; i < n;) {
        char *nl = memchr(text + i, '\n', n - i);
        if (!nl) break;
        size_t len = (size_t)(nl - (text + i));
        *nl = 0;
        cJSON *row = cJSON_Parse(text + i);
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(row, "step");
        int ok = row && (!cJSON_IsNumber(st) || st->valuedouble <= (double)max_step);
        cJSON_Delete(row);
        if (ok) {
            memmove(text + keep, text + i, len);
            text[keep + len] = '\n';
            keep += len + 1;
        }
        i += len + 1;
    }
    text[keep] = 0;
    warm_status s = warm_text_write(path, text, err);
    free(text);
    return s;
}
