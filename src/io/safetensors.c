/*
 * safetensors.c — validated mmap reader and atomic writer for safetensors files (formats.md §1).
 *
 * Reader. The file is untrusted input. warm_st_open:
 *   1. fstat, then pread the 8-byte little-endian header length N: the file must hold the 8 bytes,
 *      N <= WARM_ST_MAX_HEADER and 8 + N <= file size (checked before anything is allocated from N);
 *   2. pread the N header bytes into a heap buffer and check them: valid UTF-8, then a lexical pass for
 *      the RFC 8259 rules that cJSON 1.7 relaxes (it treats every byte <= 0x20 as whitespace, takes leading
 *      zeros and "1." / "-.5", a UTF-8 BOM, raw control characters inside strings), then cJSON builds
 *      the tree; only JSON whitespace may surround the top-level object;
 *   3. every member other than "__metadata__" is a tensor entry {dtype, shape, data_offsets} with no
 *      other or repeated field; integers must be exact in a double (<= 2^53, far beyond any real file);
 *      numel x bits is computed with overflow checks, must be whole bytes and equal END - BEGIN;
 *   4. names are unique (cJSON keeps repeated keys as separate children, so we sort and compare);
 *   5. sorted by (BEGIN, END), tensors tile the data buffer: first BEGIN = 0, each BEGIN = previous END,
 *      last END = file size - 8 - N;
 *   6. only then the whole file is mapped read-only (not at all when the data buffer is empty: mmap of
 *      0 bytes fails) and each tensor's data pointer set. Data pointers may be unaligned (other writers
 *      need not align), so conversions read through memcpy / byte loads.
 * Every message starts with the file path and names the tensor or key at fault.
 *
 * Writer. warm_st_writer_open validates the specs, orders tensors by descending element size then name
 * (so every offset is a multiple of its element size), lays them back to back, writes the header
 * ({"__metadata__":{"format":"pt",...}, tensors...} padded with spaces to N % 8 == 0) into
 * "<path>.tmp.<pid>" (O_EXCL, 0644; temp files of killed writers of <path> are swept first, warm_tmp_sweep)
 * and sizes that file with ftruncate. put/put_range/put_raw pwrite at
 * fixed offsets, converting floats in 64 KiB chunks; each tensor keeps a sorted list of written element
 * spans, merged on insertion, so commit can prove full coverage whatever the write order. Commit fsyncs,
 * renames over <path> and fsyncs the directory; every failure before the rename unlinks the temp file,
 * so an existing <path> is never touched. Byte order: the host must be little-endian (checked).
 */
#include "warm/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_EXACT_INT 9007199254740992.0 /* 2^53: every integer up to here is exact in a double */
#define CHUNK_ELEMS 32768                /* conversion buffer: 64 KiB of F16/BF16 */

/* ================================================================ shared helpers */

static int host_little_endian(void) {
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static int cmp_str_ptr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts a copy of names[0..n) and returns the first repeated one, or NULL; *oom set on allocation failure. */
static const char *find_duplicate(const char *const *names, size_t n, int *oom) {
    *oom = 0;
    if (n < 2) return NULL;
    const char **s = malloc(n * sizeof *s);
    if (!s) {
        *oom = 1;
        return NULL;
    }
    memcpy(s, names, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_str_ptr);
    const char *dup = NULL;
    for (size_t i = 1; i < n && !dup; i++)
        if (strcmp(s[i - 1], s[i]) == 0) dup = s[i];
    free(s);
    return dup;
}

/* Offset of the first byte that breaks strict UTF-8 (overlongs, surrogates, > U+10FFFF), or n if valid. */
static size_t utf8_check(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint32_t c = s[i], cp, min;
        size_t len;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; min = 0x10000; }
        else return i;
        if (len > n - i) return i;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
        i += len;
    }
    return n;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* ================================================================ strict JSON lexical pass */

/* String starting at s[*pos] == '"'. On success *pos is just past the closing quote. */
static const char *lex_string(const char *s, size_t n, size_t *pos) {
    size_t i = *pos + 1;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        *pos = i;
        if (c == '"') {
            *pos = i + 1;
            return NULL;
        }
        if (c < 0x20) return "control character inside a string";
        if (c != '\\') { i++; continue; }
        if (i + 1 >= n) break;
        if (memchr("\"\\/bfnrt", s[i + 1], 8)) { i += 2; continue; }
        if (s[i + 1] != 'u') return "invalid escape in a string";
        for (size_t k = i + 2; k < i + 6; k++)
            if (k >= n || !memchr("0123456789abcdefABCDEF", s[k], 22)) return "invalid \\u escape";
        i += 6;
    }
    *pos = n;
    return "unterminated string";
}

/* Number per RFC 8259: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? and nothing number-like after it. */
static const char *lex_number(const char *s, size_t n, size_t *pos) {
    size_t i = *pos;
    const char *bad = "invalid number";
    if (s[i] == '-') i++;
    if (i < n && s[i] == '0') i++;
    else if (i < n && is_digit(s[i])) while (i < n && is_digit(s[i])) i++;
    else { *pos = i; return bad; }
    if (i < n && s[i] == '.') {
        if (++i >= n || !is_digit(s[i])) { *pos = i; return bad; }
        while (i < n && is_digit(s[i])) i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        if (++i < n && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= n || !is_digit(s[i])) { *pos = i; return bad; }
        while (i < n && is_digit(s[i])) i++;
    }
    *pos = i;
    if (i < n && (is_digit(s[i]) || s[i] == '.' || s[i] == 'e' || s[i] == 'E' || s[i] == '+' || s[i] == '-'))
        return bad;
    return NULL;
}

static const char *lex_literal(const char *s, size_t n, size_t *pos) {
    static const char *const lits[] = {"true", "false", "null"};
    for (int k = 0; k < 3; k++) {
        size_t len = strlen(lits[k]);
        if (n - *pos >= len && memcmp(s + *pos, lits[k], len) == 0) {
            *pos += len;
            return NULL;
        }
    }
    return "invalid literal";
}

/* One token at s[*pos]; on success *pos moves past it, on failure it marks the offending byte. */
static const char *lex_token(const char *s, size_t n, size_t *pos) {
    char c = s[*pos];
    if (memchr(" \t\n\r{}[]:,", c, 10)) { /* JSON whitespace and structural characters */
        (*pos)++;
        return NULL;
    }
    if (c == '"') return lex_string(s, n, pos);
    if (c == '-' || is_digit(c)) return lex_number(s, n, pos);
    if (c == 't' || c == 'f' || c == 'n') return lex_literal(s, n, pos);
    return "unexpected character";
}

/* Checks the tokens of s[0..n); on failure returns a reason and sets *at to the byte offset. */
static const char *json_lex_check(const char *s, size_t n, size_t *at) {
    size_t i = 0;
    while (i < n) {
        const char *why = lex_token(s, n, &i);
        if (why) {
            *at = i;
            return why;
        }
    }
    return NULL;
}

static int is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* ================================================================ reader: file access */

static warm_status pread_all(int fd, void *buf, size_t n, uint64_t off) {
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return WARM_ERR_IO;
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return WARM_OK;
}

static uint64_t load_u64_le(const uint8_t *b) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

/* Opens path, checks the size and the header length field; on success *fd is open and *hdr holds N + 1
 * bytes (NUL-terminated header text). */
static warm_status read_header(warm_st_file *f, int *fd, char **hdr, warm_error *err) {
    struct stat st;
    uint8_t len8[8];
    *fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0) return warm_error_set(err, WARM_ERR_IO, "%s: cannot open: %s", f->path, strerror(errno));
    if (fstat(*fd, &st) != 0) return warm_error_set(err, WARM_ERR_IO, "%s: fstat: %s", f->path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return warm_error_set(err, WARM_ERR_IO, "%s: not a regular file", f->path);
    if ((uint64_t)st.st_size > SIZE_MAX)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: file too large to map", f->path);
    f->size = (size_t)st.st_size;
    if (f->size < 8)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: truncated: file is %zu bytes, less than the 8-byte header "
                              "length field", f->path, f->size);
    if (pread_all(*fd, len8, 8, 0) != WARM_OK)
        return warm_error_set(err, WARM_ERR_IO, "%s: read error: %s", f->path, strerror(errno));
    f->header_len = load_u64_le(len8);
    if (f->header_len > WARM_ST_MAX_HEADER)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: header too large: %" PRIu64 " bytes (limit %llu)", f->path,
                              f->header_len, WARM_ST_MAX_HEADER);
    if (f->header_len > f->size - 8)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: truncated: header length %" PRIu64 " goes beyond the end "
                              "of the file (%zu bytes)", f->path, f->header_len, f->size);
    *hdr = malloc((size_t)f->header_len + 1);
    if (!*hdr) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory for the header", f->path);
    if (pread_all(*fd, *hdr, (size_t)f->header_len, 8) != WARM_OK)
        return warm_error_set(err, WARM_ERR_IO, "%s: read error: %s", f->path, strerror(errno));
    (*hdr)[f->header_len] = '\0';
    return WARM_OK;
}

/* ================================================================ reader: header entries */

/* Non-negative integer exactly representable in a double. */
static int json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0.0 && d <= MAX_EXACT_INT) || d != (double)(uint64_t)d) return 0;
    *out = (uint64_t)d;
    return 1;
}

static void format_shape(const warm_st_tensor *t, char *buf, size_t cap) {
    size_t len = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < t->ndim && len < cap; d++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%" PRId64, d ? ", " : "", t->shape[d]);
    if (len < cap) snprintf(buf + len, cap - len, "]");
}

static warm_status parse_dtype(const warm_st_file *f, const char *name, const cJSON *v, warm_st_tensor *t,
                               warm_error *err) {
    if (!cJSON_IsString(v))
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: tensor '%s': dtype is not a string", f->path, name);
    if (warm_dtype_from_name(v->valuestring, &t->dtype) != 0)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%s'", f->path, name,
                              v->valuestring);
    return WARM_OK;
}

static warm_status parse_shape(const warm_st_file *f, const char *name, const cJSON *v, warm_st_tensor *t,
                               warm_error *err) {
    if (!cJSON_IsArray(v))
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: tensor '%s': shape is not an array", f->path, name);
    int nd = cJSON_GetArraySize(v);
    if (nd > WARM_ST_MAX_DIMS)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: tensor '%s': shape has %d dimensions (at most %d supported)",
                              f->path, name, nd, WARM_ST_MAX_DIMS);
    t->ndim = 0;
    for (const cJSON *d = v->child; d; d = d->next) {
        uint64_t x;
        if (!json_uint(d, &x))
            return warm_error_set(err, WARM_ERR_FORMAT, "%s: tensor '%s': shape entry %d is not a non-negative "
                                  "integer", f->path, name, t->ndim);
        t->shape[t->ndim++] = (int64_t)x;
    }
    return WARM_OK;
}

static warm_status parse_offsets(const warm_st_file *f, const char *name, const cJSON *v, warm_st_tensor *t,
                                 warm_error *err) {
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2 || !json_uint(v->child, &t->begin) ||
        !json_uint(v->child->next, &t->end))
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: tensor '%s': data_offsets must be two non-negative "
                              "integers", f->path, name);
    if (t->end < t->begin)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] end "
                              "before they begin", f->path, name, t->begin, t->end);
    return WARM_OK;
}

/* numel x bits must be whole bytes equal to END - BEGIN; every product overflow-checked. */
static warm_status check_size(const warm_st_file *f, const warm_st_tensor *t, warm_error *err) {
    char shp[256];
    uint64_t numel = 1, bits = (uint64_t)warm_dtype_bits(t->dtype);
    format_shape(t, shp, sizeof shp);
    for (int d = 0; d < t->ndim; d++) {
        uint64_t x = (uint64_t)t->shape[d];
        if (x != 0 && numel > UINT64_MAX / x)
            return warm_error_set(err, WARM_ERR_FORMAT, "%s: tensor '%s': shape %s overflows", f->path, t->name, shp);
        numel *= x;
    }
    if (numel > UINT64_MAX / bits)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: tensor '%s': shape %s overflows", f->path, t->name, shp);
    if ((numel * bits) % 8 != 0)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: tensor '%s': misaligned slice: shape %s × %s is %" PRIu64
                              " bits, not whole bytes", f->path, t->name, shp, warm_dtype_name(t->dtype), numel * bits);
    if (numel * bits / 8 != t->end - t->begin)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: tensor '%s': shape %s × %s = %" PRIu64 " bytes but "
                              "data_offsets span %" PRIu64, f->path, t->name, shp, warm_dtype_name(t->dtype),
                              numel * bits / 8, t->end - t->begin);
    return WARM_OK;
}

/* Field dispatch for one tensor entry; seen[] catches repeated fields. */
static warm_status parse_field(const warm_st_file *f, const char *name, const cJSON *v, warm_st_tensor *t,
                               int seen[3], warm_error *err) {
    static const char *const fields[3] = {"dtype", "shape", "data_offsets"};
    for (int k = 0; k < 3; k++) {
        if (strcmp(v->string, fields[k]) != 0) continue;
        if (seen[k]++)
            return warm_error_set(err, WARM_ERR_FORMAT, "%s: tensor '%s': field '%s' appears twice", f->path, name,
                                  fields[k]);
        if (k == 0) return parse_dtype(f, name, v, t, err);
        if (k == 1) return parse_shape(f, name, v, t, err);
        return parse_offsets(f, name, v, t, err);
    }
    return warm_error_set(err, WARM_ERR_FORMAT, "%s: tensor '%s': unknown field '%s'", f->path, name, v->string);
}

static warm_status parse_tensor(const warm_st_file *f, const cJSON *item, warm_st_tensor *t, warm_error *err) {
    const char *name = item->string;
    int seen[3] = {0, 0, 0};
    if (!cJSON_IsObject(item))
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: tensor '%s': entry is not an object", f->path, name);
    for (const cJSON *v = item->child; v; v = v->next) {
        warm_status s = parse_field(f, name, v, t, seen, err);
        if (s != WARM_OK) return s;
    }
    if (!seen[0] || !seen[1] || !seen[2])
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: tensor '%s': missing '%s'", f->path, name,
                              !seen[0] ? "dtype" : !seen[1] ? "shape" : "data_offsets");
    t->name = strdup(name);
    if (!t->name) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", f->path);
    warm_status s = check_size(f, t, err);
    if (s != WARM_OK) return s;
    t->numel = 1;
    for (int d = 0; d < t->ndim; d++) t->numel *= (uint64_t)t->shape[d];
    return WARM_OK;
}

static warm_status parse_meta(warm_st_file *f, const cJSON *m, warm_error *err) {
    if (cJSON_IsNull(m)) return WARM_OK; /* the reference reader takes null as "no metadata" */
    if (!cJSON_IsObject(m))
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: __metadata__ is not an object", f->path);
    int n = cJSON_GetArraySize(m);
    f->meta_keys = calloc((size_t)n + 1, sizeof *f->meta_keys);
    f->meta_vals = calloc((size_t)n + 1, sizeof *f->meta_vals);
    if (!f->meta_keys || !f->meta_vals) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", f->path);
    for (const cJSON *v = m->child; v; v = v->next) {
        if (!cJSON_IsString(v))
            return warm_error_set(err, WARM_ERR_FORMAT, "%s: __metadata__ key '%s': value is not a string "
                                  "(metadata maps strings to strings)", f->path, v->string);
        f->meta_keys[f->n_meta] = strdup(v->string);
        f->meta_vals[f->n_meta] = strdup(v->valuestring);
        if (!f->meta_keys[f->n_meta] || !f->meta_vals[f->n_meta++])
            return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", f->path);
    }
    int oom;
    const char *dup = find_duplicate((const char *const *)f->meta_keys, (size_t)f->n_meta, &oom);
    if (oom) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", f->path);
    if (dup) return warm_error_set(err, WARM_ERR_FORMAT, "%s: __metadata__ key '%s' appears twice", f->path, dup);
    return WARM_OK;
}

/* ================================================================ reader: whole header */

static warm_status check_unique_names(const warm_st_file *f, warm_error *err) {
    const char **names = malloc(((size_t)f->n_tensors + 1) * sizeof *names);
    if (!names) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", f->path);
    for (int i = 0; i < f->n_tensors; i++) names[i] = f->tensors[i].name;
    int oom;
    const char *dup = find_duplicate(names, (size_t)f->n_tensors, &oom);
    warm_status s = WARM_OK;
    if (oom) s = warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", f->path);
    else if (dup) s = warm_error_set(err, WARM_ERR_FORMAT, "%s: duplicate tensor name '%s'", f->path, dup);
    free(names);
    return s;
}

static int cmp_tensor_offsets(const void *a, const void *b) {
    const warm_st_tensor *x = *(const warm_st_tensor *const *)a, *y = *(const warm_st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* Walks tensors in (BEGIN, END) order; each must start where the previous one ended. */
static warm_status check_tiling_sorted(const warm_st_file *f, const warm_st_tensor *const *s, warm_error *err) {
    uint64_t data_size = (uint64_t)f->size - 8 - f->header_len, prev_end = 0;
    for (int i = 0; i < f->n_tensors; i++) {
        const warm_st_tensor *t = s[i];
        if (t->begin < prev_end)
            return warm_error_set(err, WARM_ERR_FORMAT, "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] "
                                  "overlap tensor '%s' (which ends at %" PRIu64 ")", f->path, t->name, t->begin,
                                  t->end, s[i - 1]->name, prev_end);
        if (t->begin > prev_end)
            return warm_error_set(err, WARM_ERR_FORMAT, "%s: tensor '%s': gap in the data buffer: bytes [%" PRIu64
                                  ", %" PRIu64 ") before it belong to no tensor", f->path, t->name, prev_end, t->begin);
        prev_end = t->end;
    }
    if (prev_end > data_size)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: truncated: tensors need %" PRIu64 " data bytes but the file "
                              "holds %" PRIu64, f->path, prev_end, data_size);
    if (prev_end < data_size)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: %" PRIu64 " trailing bytes after the last tensor (data "
                              "buffer is %" PRIu64 " bytes, tensors end at %" PRIu64 ")", f->path,
                              data_size - prev_end, data_size, prev_end);
    return WARM_OK;
}

static warm_status check_tiling(const warm_st_file *f, warm_error *err) {
    const warm_st_tensor **s = malloc(((size_t)f->n_tensors + 1) * sizeof *s);
    if (!s) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", f->path);
    for (int i = 0; i < f->n_tensors; i++) s[i] = &f->tensors[i];
    qsort(s, (size_t)f->n_tensors, sizeof *s, cmp_tensor_offsets);
    warm_status st = check_tiling_sorted(f, s, err);
    free(s);
    return st;
}

/* Strict text checks, then cJSON; *root is the top-level object. */
static warm_status parse_json(const warm_st_file *f, const char *hdr, cJSON **root, warm_error *err) {
    size_t n = (size_t)f->header_len, at = utf8_check((const uint8_t *)hdr, n);
    if (at != n)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: header is not valid UTF-8 (byte %zu)", f->path, at);
    const char *why = json_lex_check(hdr, n, &at);
    if (why) return warm_error_set(err, WARM_ERR_FORMAT, "%s: header is not valid JSON: %s at byte %zu", f->path,
                                   why, at);
    const char *end = NULL;
    *root = cJSON_ParseWithLengthOpts(hdr, n, &end, 0);
    if (!*root)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: header is not valid JSON (parse error near byte %zu)",
                              f->path, end ? (size_t)(end - hdr) : (size_t)0);
    while (end < hdr + n && is_json_space(*end)) end++;
    if (end != hdr + n)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: header is not valid JSON: unexpected data after the "
                              "top-level object at byte %zu", f->path, (size_t)(end - hdr));
    if (!cJSON_IsObject(*root))
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: header is not a JSON object", f->path);
    return WARM_OK;
}

static warm_status parse_entries(warm_st_file *f, const cJSON *root, warm_error *err) {
    int n = cJSON_GetArraySize(root), seen_meta = 0;
    f->tensors = calloc((size_t)n + 1, sizeof *f->tensors);
    if (!f->tensors) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", f->path);
    for (const cJSON *v = root->child; v; v = v->next) {
        warm_status s;
        if (strcmp(v->string, "__metadata__") == 0) {
            if (seen_meta++)
                return warm_error_set(err, WARM_ERR_FORMAT, "%s: __metadata__ appears twice", f->path);
            s = parse_meta(f, v, err);
        } else {
            s = parse_tensor(f, v, &f->tensors[f->n_tensors], err);
            if (f->tensors[f->n_tensors].name) f->n_tensors++; /* so close() frees a half-parsed entry */
        }
        if (s != WARM_OK) return s;
    }
    return WARM_OK;
}

static warm_status parse_header(warm_st_file *f, const char *hdr, warm_error *err) {
    cJSON *root = NULL;
    warm_status s = parse_json(f, hdr, &root, err);
    if (s == WARM_OK) s = parse_entries(f, root, err);
    cJSON_Delete(root);
    if (s == WARM_OK) s = check_unique_names(f, err);
    if (s == WARM_OK) s = check_tiling(f, err);
    return s;
}

static warm_status map_data(warm_st_file *f, int fd, warm_error *err) {
    size_t data_start = 8 + (size_t)f->header_len;
    if (f->size == data_start) return WARM_OK; /* empty data buffer: nothing to map */
    void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) return warm_error_set(err, WARM_ERR_IO, "%s: mmap: %s", f->path, strerror(errno));
    f->map = m;
    for (int i = 0; i < f->n_tensors; i++) f->tensors[i].data = f->map + data_start + f->tensors[i].begin;
    return WARM_OK;
}

/* ================================================================ reader: public API */

warm_status warm_st_open(warm_st_file *f, const char *path, warm_error *err) {
    WARM_CHECK(host_little_endian(), "safetensors I/O assumes a little-endian host");
    memset(f, 0, sizeof *f);
    f->path = strdup(path);
    if (!f->path) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", path);
    int fd = -1;
    char *hdr = NULL;
    warm_status s = read_header(f, &fd, &hdr, err);
    if (s == WARM_OK) s = parse_header(f, hdr, err);
    if (s == WARM_OK) s = map_data(f, fd, err);
    free(hdr);
    if (fd >= 0) close(fd);
    if (s != WARM_OK) warm_st_close(f);
    return s;
}

void warm_st_close(warm_st_file *f) {
    if (!f) return;
    if (f->map) munmap(f->map, f->size);
    for (int i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->tensors);
    for (int i = 0; i < f->n_meta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_vals[i]);
    }
    free(f->meta_keys);
    free(f->meta_vals);
    free(f->path);
    memset(f, 0, sizeof *f);
}

const warm_st_tensor *warm_st_find(const warm_st_file *f, const char *name) {
    for (int i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *warm_st_meta(const warm_st_file *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_vals[i];
    return NULL;
}

warm_status warm_st_to_f32_range(const warm_st_file *f, const warm_st_tensor *t, uint64_t first, uint64_t count,
                                 float *out, warm_error *err) {
    const char *path = f ? f->path : "(safetensors)";
    if (first > t->numel || count > t->numel - first)
        return warm_error_set(err, WARM_ERR_ARG, "%s: tensor '%s': range [%" PRIu64 ", %" PRIu64 ") is outside its %"
                              PRIu64 " elements", path, t->name, first, first + count, t->numel);
    if (t->dtype != WARM_DTYPE_F32 && t->dtype != WARM_DTYPE_F16 && t->dtype != WARM_DTYPE_BF16)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: tensor '%s': dtype %s cannot be read as float (F32, F16 "
                              "or BF16 only)", path, t->name, warm_dtype_name(t->dtype));
    if (count == 0) return WARM_OK;
    if (t->dtype == WARM_DTYPE_F32) {
        memcpy(out, t->data + first * 4, (size_t)count * 4); /* memcpy: data may be unaligned */
        return WARM_OK;
    }
    const uint8_t *p = t->data + first * 2;
    for (uint64_t i = 0; i < count; i++, p += 2) {
        uint16_t h = (uint16_t)(p[0] | (p[1] << 8));
        out[i] = t->dtype == WARM_DTYPE_F16 ? warm_f16_to_f32(h) : warm_bf16_to_f32(h);
    }
    return WARM_OK;
}

warm_status warm_st_to_f32(const warm_st_file *f, const warm_st_tensor *t, float *out, warm_error *err) {
    return warm_st_to_f32_range(f, t, 0, t->numel, out, err);
}

/* ================================================================ writer: state */

typedef struct {
    uint64_t lo, hi; /* written elements [lo, hi) */
} span;

typedef struct {
    char *name;           /* copy of the spec's name */
    warm_dtype dtype;
    int ndim;
    int64_t shape[WARM_ST_MAX_DIMS];
    uint64_t numel, esize, begin; /* esize = bytes per element; begin relative to the data buffer */
    span *done;           /* sorted, disjoint, non-adjacent */
    int n_done, cap_done;
} wtensor;

struct warm_st_writer {
    char *path, *tmp;
    int fd;               /* temp file; -1 once closed */
    int tmp_exists;       /* unlink tmp on abort */
    int n;
    wtensor *t;           /* (n) in spec order */
    uint64_t data_start;  /* 8 + N */
    uint16_t *chunk;      /* (CHUNK_ELEMS) conversion buffer */
};

static void writer_free(warm_st_writer *w) {
    if (!w) return;
    if (w->fd >= 0) close(w->fd);
    if (w->tmp_exists) unlink(w->tmp);
    for (int i = 0; i < w->n && w->t; i++) {
        free(w->t[i].name);
        free(w->t[i].done);
    }
    free(w->t);
    free(w->chunk);
    free(w->tmp);
    free(w->path);
    free(w);
}

/* Adds [lo, hi) to t's written spans, merging overlapping or touching spans. 0 on success, -1 on OOM. */
static int spans_add(wtensor *t, uint64_t lo, uint64_t hi) {
    if (t->n_done == t->cap_done) {
        int cap = t->cap_done ? 2 * t->cap_done : 4;
        span *d = realloc(t->done, (size_t)cap * sizeof *d);
        if (!d) return -1;
        t->done = d;
        t->cap_done = cap;
    }
    int k = t->n_done;
    while (k > 0 && t->done[k - 1].lo > lo) { t->done[k] = t->done[k - 1]; k--; }
    t->done[k] = (span){lo, hi};
    t->n_done++;
    int out = 0;
    for (int i = 1; i < t->n_done; i++) {
        if (t->done[i].lo <= t->done[out].hi) {
            if (t->done[i].hi > t->done[out].hi) t->done[out].hi = t->done[i].hi;
        } else {
            t->done[++out] = t->done[i];
        }
    }
    t->n_done = out + 1;
    return 0;
}

static uint64_t spans_total(const wtensor *t) {
    uint64_t s = 0;
    for (int i = 0; i < t->n_done; i++) s += t->done[i].hi - t->done[i].lo;
    return s;
}

static warm_status pwrite_all(warm_st_writer *w, const void *buf, size_t n, uint64_t off, warm_error *err) {
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t r = pwrite(w->fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            return warm_error_set(err, WARM_ERR_IO, "%s: write to %s failed: %s", w->path, w->tmp,
                                  r < 0 ? strerror(errno) : "no progress");
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return WARM_OK;
}

/* ================================================================ writer: header text */

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) { b->oom = 1; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_u64(sbuf *b, uint64_t v) {
    char tmp[24];
    sb_put(b, tmp, (size_t)snprintf(tmp, sizeof tmp, "%" PRIu64, v));
}

/* JSON string literal: escapes '"', '\\' and control characters; UTF-8 passes through (validated earlier). */
static void sb_json_str(sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') { esc[0] = '\\'; esc[1] = (char)c; sb_put(b, esc, 2); }
        else if (c < 0x20) sb_put(b, esc, (size_t)snprintf(esc, sizeof esc, "\\u%04x", c));
        else sb_put(b, s, 1);
    }
    sb_put(b, "\"", 1);
}

static void sb_tensor(sbuf *b, const wtensor *t) {
    sb_put(b, ",", 1);
    sb_json_str(b, t->name);
    sb_str(b, ":{\"dtype\":\"");
    sb_str(b, warm_dtype_name(t->dtype));
    sb_str(b, "\",\"shape\":[");
    for (int d = 0; d < t->ndim; d++) {
        if (d) sb_put(b, ",", 1);
        sb_u64(b, (uint64_t)t->shape[d]);
    }
    sb_str(b, "],\"data_offsets\":[");
    sb_u64(b, t->begin);
    sb_put(b, ",", 1);
    sb_u64(b, t->begin + t->numel * t->esize);
    sb_str(b, "]}");
}

/* The header JSON for tensors in layout order, padded with spaces to a multiple of 8 bytes. */
static void build_header(sbuf *b, wtensor *const *order, int n, const char *const *mk, const char *const *mv,
                         int n_meta) {
    sb_str(b, "{\"__metadata__\":{\"format\":\"pt\"");
    for (int i = 0; i < n_meta; i++) {
        if (strcmp(mk[i], "format") == 0) continue; /* validated to be "pt", already written */
        sb_put(b, ",", 1);
        sb_json_str(b, mk[i]);
        sb_put(b, ":", 1);
        sb_json_str(b, mv[i]);
    }
    sb_put(b, "}", 1);
    for (int i = 0; i < n; i++) sb_tensor(b, order[i]);
    sb_put(b, "}", 1);
    while (!b->oom && b->len % 8 != 0) sb_put(b, " ", 1);
}

/* ================================================================ writer: validation and layout */

/* Checks one spec; *nbytes = its data size. */
static warm_status check_spec(const char *path, const warm_st_spec *s, int i, uint64_t *nbytes, warm_error *err) {
    if (!s->name) return warm_error_set(err, WARM_ERR_ARG, "%s: tensor spec %d has no name", path, i);
    size_t len = strlen(s->name);
    if (utf8_check((const uint8_t *)s->name, len) != len)
        return warm_error_set(err, WARM_ERR_ARG, "%s: tensor spec %d: name is not valid UTF-8", path, i);
    if (strcmp(s->name, "__metadata__") == 0)
        return warm_error_set(err, WARM_ERR_ARG, "%s: '__metadata__' cannot be a tensor name", path);
    int bits = warm_dtype_bits(s->dtype);
    if (bits == 0 || bits % 8 != 0)
        return warm_error_set(err, WARM_ERR_ARG, "%s: tensor '%s': dtype %s is not supported by the writer (sub-byte "
                              "or invalid)", path, s->name, warm_dtype_name(s->dtype));
    if (s->ndim < 0 || s->ndim > WARM_ST_MAX_DIMS)
        return warm_error_set(err, WARM_ERR_ARG, "%s: tensor '%s': ndim %d out of range [0, %d]", path, s->name,
                              s->ndim, WARM_ST_MAX_DIMS);
    uint64_t bytes = (uint64_t)bits / 8;
    for (int d = 0; d < s->ndim; d++) {
        if (s->shape[d] < 0)
            return warm_error_set(err, WARM_ERR_ARG, "%s: tensor '%s': negative dimension %" PRId64, path, s->name,
                                  s->shape[d]);
        if (s->shape[d] != 0 && bytes > (uint64_t)INT64_MAX / (uint64_t)s->shape[d])
            return warm_error_set(err, WARM_ERR_ARG, "%s: tensor '%s': size overflows", path, s->name);
        bytes *= (uint64_t)s->shape[d];
    }
    *nbytes = bytes;
    return WARM_OK;
}

static warm_status check_meta(const char *path, const char *const *mk, const char *const *mv, int n_meta,
                              warm_error *err) {
    for (int i = 0; i < n_meta; i++) {
        if (!mk[i] || !mv[i])
            return warm_error_set(err, WARM_ERR_ARG, "%s: metadata pair %d has a NULL key or value", path, i);
        size_t lk = strlen(mk[i]), lv = strlen(mv[i]);
        if (utf8_check((const uint8_t *)mk[i], lk) != lk || utf8_check((const uint8_t *)mv[i], lv) != lv)
            return warm_error_set(err, WARM_ERR_ARG, "%s: metadata key '%s': key or value is not valid UTF-8", path,
                                  mk[i]);
        if (strcmp(mk[i], "format") == 0 && strcmp(mv[i], "pt") != 0)
            return warm_error_set(err, WARM_ERR_ARG, "%s: metadata 'format' must be \"pt\" (got \"%s\")", path, mv[i]);
    }
    int oom;
    const char *dup = find_duplicate(mk, (size_t)n_meta, &oom);
    if (oom) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", path);
    if (dup) return warm_error_set(err, WARM_ERR_ARG, "%s: metadata key '%s' given twice", path, dup);
    return WARM_OK;
}

static warm_status check_specs(const char *path, const warm_st_spec *specs, int n, warm_error *err) {
    const char **names = malloc(((size_t)n + 1) * sizeof *names);
    if (!names) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", path);
    warm_status s = WARM_OK;
    uint64_t total = 0, bytes = 0;
    for (int i = 0; i < n && s == WARM_OK; i++) {
        s = check_spec(path, &specs[i], i, &bytes, err);
        names[i] = specs[i].name;
        if (s == WARM_OK && bytes > (uint64_t)INT64_MAX / 2 - total)
            s = warm_error_set(err, WARM_ERR_ARG, "%s: total tensor size overflows", path);
        total += bytes;
    }
    if (s == WARM_OK) {
        int oom;
        const char *dup = find_duplicate(names, (size_t)n, &oom);
        if (oom) s = warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", path);
        else if (dup) s = warm_error_set(err, WARM_ERR_ARG, "%s: duplicate tensor name '%s'", path, dup);
    }
    free(names);
    return s;
}

static int cmp_layout(const void *a, const void *b) {
    const wtensor *x = *(wtensor *const *)a, *y = *(wtensor *const *)b;
    if (x->esize != y->esize) return x->esize > y->esize ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Fills w->t from specs, assigns offsets in layout order and builds the header text into *hb. */
static warm_status plan_layout(warm_st_writer *w, const warm_st_spec *specs, const char *const *mk,
                               const char *const *mv, int n_meta, sbuf *hb, warm_error *err) {
    wtensor **order = malloc(((size_t)w->n + 1) * sizeof *order);
    if (!order) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", w->path);
    for (int i = 0; i < w->n; i++) {
        wtensor *t = &w->t[i];
        t->name = strdup(specs[i].name);
        if (!t->name) {
            free(order);
            return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", w->path);
        }
        t->dtype = specs[i].dtype;
        t->ndim = specs[i].ndim;
        memcpy(t->shape, specs[i].shape, (size_t)t->ndim * sizeof t->shape[0]);
        t->esize = (uint64_t)warm_dtype_bits(t->dtype) / 8;
        t->numel = 1;
        for (int d = 0; d < t->ndim; d++) t->numel *= (uint64_t)t->shape[d];
        order[i] = t;
    }
    qsort(order, (size_t)w->n, sizeof *order, cmp_layout);
    uint64_t off = 0;
    for (int i = 0; i < w->n; i++) {
        order[i]->begin = off;
        off += order[i]->numel * order[i]->esize;
    }
    build_header(hb, order, w->n, mk, mv, n_meta);
    free(order);
    if (hb->oom) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory for the header", w->path);
    w->data_start = 8 + hb->len;
    return WARM_OK;
}

/* Creates the temp file, writes length + header and extends it to the full size. */
static warm_status create_tmp(warm_st_writer *w, const sbuf *hb, uint64_t data_bytes, warm_error *err) {
    size_t cap = strlen(w->path) + 32;
    w->tmp = malloc(cap);
    if (!w->tmp) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", w->path);
    snprintf(w->tmp, cap, "%s.tmp.%ld", w->path, (long)getpid());
    warm_tmp_sweep(w->path); /* temp files of killed writers of this path */
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (w->fd < 0) return warm_error_set(err, WARM_ERR_IO, "%s: cannot create %s: %s", w->path, w->tmp,
                                         strerror(errno));
    w->tmp_exists = 1;
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)(hb->len >> (8 * i));
    warm_status s = pwrite_all(w, len8, 8, 0, err);
    if (s == WARM_OK) s = pwrite_all(w, hb->p, hb->len, 8, err);
    if (s != WARM_OK) return s;
    if (data_bytes > (uint64_t)INT64_MAX - w->data_start ||
        ftruncate(w->fd, (off_t)(w->data_start + data_bytes)) != 0)
        return warm_error_set(err, WARM_ERR_IO, "%s: cannot size %s to %" PRIu64 " bytes: %s", w->path, w->tmp,
                              w->data_start + data_bytes, strerror(errno));
    return WARM_OK;
}

/* ================================================================ writer: public API */

warm_status warm_st_writer_open(warm_st_writer **wp, const char *path, const warm_st_spec *specs, int n,
                                const char *const *meta_keys, const char *const *meta_vals, int n_meta,
                                warm_error *err) {
    WARM_CHECK(host_little_endian(), "safetensors I/O assumes a little-endian host");
    *wp = NULL;
    if (n < 0 || n_meta < 0 || (n > 0 && !specs) || (n_meta > 0 && (!meta_keys || !meta_vals)))
        return warm_error_set(err, WARM_ERR_ARG, "%s: bad tensor or metadata list", path);
    warm_status s = check_specs(path, specs, n, err);
    if (s == WARM_OK) s = check_meta(path, meta_keys, meta_vals, n_meta, err);
    if (s != WARM_OK) return s;
    warm_st_writer *w = calloc(1, sizeof *w);
    if (!w) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", path);
    w->fd = -1;
    w->n = n;
    w->path = strdup(path);
    w->t = calloc((size_t)n + 1, sizeof *w->t);
    w->chunk = malloc(CHUNK_ELEMS * sizeof *w->chunk);
    if (!w->path || !w->t || !w->chunk) {
        writer_free(w);
        return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", path);
    }
    sbuf hb = {NULL, 0, 0, 0};
    s = plan_layout(w, specs, meta_keys, meta_vals, n_meta, &hb, err);
    uint64_t data_bytes = 0;
    for (int i = 0; i < n; i++) data_bytes += w->t[i].numel * w->t[i].esize;
    if (s == WARM_OK) s = create_tmp(w, &hb, data_bytes, err);
    free(hb.p);
    if (s != WARM_OK) {
        writer_free(w);
        return s;
    }
    *wp = w;
    return WARM_OK;
}

/* Converts count floats to 16-bit patterns in chunks and writes them from byte offset off. */
static warm_status put_half(warm_st_writer *w, const wtensor *t, const float *data, uint64_t count, uint64_t off,
                            warm_error *err) {
    for (uint64_t done = 0; done < count;) {
        size_t k = count - done < CHUNK_ELEMS ? (size_t)(count - done) : CHUNK_ELEMS;
        const float *src = data + done;
        for (size_t j = 0; j < k; j++)
            w->chunk[j] = t->dtype == WARM_DTYPE_F16 ? warm_f32_to_f16(src[j]) : warm_f32_to_bf16(src[j]);
        warm_status s = pwrite_all(w, w->chunk, k * 2, off + done * 2, err);
        if (s != WARM_OK) return s;
        done += k;
    }
    return WARM_OK;
}

static warm_status check_index(const warm_st_writer *w, int i, warm_error *err) {
    if (!w || i < 0 || i >= w->n)
        return warm_error_set(err, WARM_ERR_ARG, "%s: tensor index %d out of range [0, %d)", w ? w->path : "(writer)",
                              i, w ? w->n : 0);
    return WARM_OK;
}

warm_status warm_st_writer_put_range(warm_st_writer *w, int i, uint64_t first, uint64_t count, const float *data,
                                     warm_error *err) {
    warm_status s = check_index(w, i, err);
    if (s != WARM_OK) return s;
    wtensor *t = &w->t[i];
    if (t->dtype != WARM_DTYPE_F32 && t->dtype != WARM_DTYPE_F16 && t->dtype != WARM_DTYPE_BF16)
        return warm_error_set(err, WARM_ERR_ARG, "%s: tensor '%s': dtype %s cannot be written from floats (use "
                              "warm_st_writer_put_raw)", w->path, t->name, warm_dtype_name(t->dtype));
    if (first > t->numel || count > t->numel - first)
        return warm_error_set(err, WARM_ERR_ARG, "%s: tensor '%s': range [%" PRIu64 ", %" PRIu64 ") is outside its %"
                              PRIu64 " elements", w->path, t->name, first, first + count, t->numel);
    if (count == 0) return WARM_OK;
    uint64_t off = w->data_start + t->begin + first * t->esize;
    if (t->dtype == WARM_DTYPE_F32) s = pwrite_all(w, data, (size_t)count * 4, off, err);
    else s = put_half(w, t, data, count, off, err);
    if (s == WARM_OK && spans_add(t, first, first + count) != 0)
        s = warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", w->path);
    return s;
}

warm_status warm_st_writer_put(warm_st_writer *w, int i, const float *data, warm_error *err) {
    warm_status s = check_index(w, i, err);
    if (s != WARM_OK) return s;
    return warm_st_writer_put_range(w, i, 0, w->t[i].numel, data, err);
}

warm_status warm_st_writer_put_raw(warm_st_writer *w, int i, const void *bytes, warm_error *err) {
    warm_status s = check_index(w, i, err);
    if (s != WARM_OK) return s;
    wtensor *t = &w->t[i];
    if (t->numel == 0) return WARM_OK;
    s = pwrite_all(w, bytes, (size_t)(t->numel * t->esize), w->data_start + t->begin, err);
    if (s == WARM_OK && spans_add(t, 0, t->numel) != 0)
        s = warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", w->path);
    return s;
}

/* fsync the directory holding path so the rename itself is durable. */
static warm_status sync_dir(const char *path, warm_error *err) {
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    warm_status s = WARM_OK;
    /* Some file systems refuse fsync on directories (EINVAL); the data itself is already synced. */
    if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL))
        s = warm_error_set(err, WARM_ERR_IO, "%s: renamed, but syncing directory %s failed: %s", path, dir,
                           strerror(errno));
    if (fd >= 0) close(fd);
    free(dir);
    return s;
}

static warm_status check_complete(const warm_st_writer *w, warm_error *err) {
    for (int i = 0; i < w->n; i++) {
        const wtensor *t = &w->t[i];
        if (t->numel > 0 && !(t->n_done == 1 && t->done[0].lo == 0 && t->done[0].hi == t->numel))
            return warm_error_set(err, WARM_ERR_ARG, "%s: tensor '%s' was not fully written (%" PRIu64 " of %" PRIu64
                                  " elements)", w->path, t->name, spans_total(t), t->numel);
    }
    return WARM_OK;
}

warm_status warm_st_writer_commit(warm_st_writer *w, warm_error *err) {
    if (!w) return warm_error_set(err, WARM_ERR_ARG, "warm_st_writer_commit: NULL writer");
    warm_status s = check_complete(w, err);
    if (s == WARM_OK && fsync(w->fd) != 0)
        s = warm_error_set(err, WARM_ERR_IO, "%s: fsync of %s failed: %s", w->path, w->tmp, strerror(errno));
    if (s == WARM_OK) {
        int rc = close(w->fd);
        w->fd = -1;
        if (rc != 0) s = warm_error_set(err, WARM_ERR_IO, "%s: close of %s failed: %s", w->path, w->tmp,
                                        strerror(errno));
    }
    if (s == WARM_OK && rename(w->tmp, w->path) != 0)
        s = warm_error_set(err, WARM_ERR_IO, "%s: rename from %s failed: %s", w->path, w->tmp, strerror(errno));
    if (s == WARM_OK) {
        w->tmp_exists = 0;
        s = sync_dir(w->path, err);
    }
    writer_free(w);
    return s;
}

void warm_st_writer_abort(warm_st_writer *w) { writer_free(w); }

warm_status warm_st_write(const char *path, const warm_st_spec *specs, const float *const *data, int n,
                          const char *const *meta_keys, const char *const *meta_vals, int n_meta, warm_error *err) {
    warm_st_writer *w;
    warm_status s = warm_st_writer_open(&w, path, specs, n, meta_keys, meta_vals, n_meta, err);
    for (int i = 0; i < n && s == WARM_OK; i++) s = warm_st_writer_put(w, i, data[i], err);
    if (s != WARM_OK) {
        warm_st_writer_abort(w);
        return s;
    }
    return warm_st_writer_commit(w, err);
}
