/*
 * ckpt.c — a checkpoint as merge sees it: one .safetensors file, or a Hugging Face directory with
 * model.safetensors or model.safetensors.index.json + shards (formats.md §2).
 *
 * Layout: files[] are the validated, mapped safetensors files (warm_st_open); tensors[] lists every tensor
 * of every file (file order, then header order) except the legacy GPT-2 buffers h.N.attn.bias and
 * h.N.attn.masked_bias; by_key[] sorts them by canonical key (name without "transformer.") for lookups.
 * Invariant: keys are unique within a checkpoint (a file holding both "wte.weight" and
 * "transformer.wte.weight" is refused).
 *
 * The index is untrusted input like the shards: strict JSON through cJSON, a "weight_map" object of
 * strings with no repeated key, shard names that are plain file names (no '/', no "." or ".."), every map
 * entry present in its shard, and every shard tensor listed in the map for that very shard (so no tensor
 * can hide in a second shard). "metadata" is optional and not interpreted (total_size is informative).
 */
#include "merge/merge_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PREFIX "transformer."
#define MAX_JSON_BYTES (64u << 20) /* config.json / index: far beyond any real one (GPT-2 XL index: 40 KB) */

const char *warm_ckpt_canonical(const char *name) {
    size_t n = strlen(PREFIX);
    return strncmp(name, PREFIX, n) == 0 ? name + n : name;
}

/* h.<digits>.attn.bias or h.<digits>.attn.masked_bias (canonical key). */
static int is_legacy_buffer(const char *key) {
    if (strncmp(key, "h.", 2) != 0) return 0;
    const char *p = key + 2;
    if (*p < '0' || *p > '9') return 0;
    while (*p >= '0' && *p <= '9') p++;
    return strcmp(p, ".attn.bias") == 0 || strcmp(p, ".attn.masked_bias") == 0;
}

char *merge_read_text(const char *path, int *missing, warm_error *err) {
    if (missing) *missing = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        if (missing && errno == ENOENT) {
            *missing = 1;
            return NULL;
        }
        warm_error_set(err, WARM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 65536 + 1) {
            cap = cap ? 2 * cap : 65536 * 2;
            char *nb = cap <= MAX_JSON_BYTES + 65536 * 2 ? realloc(buf, cap) : NULL;
            if (!nb) {
                free(buf);
                fclose(fp);
                warm_error_set(err, WARM_ERR_FORMAT, "%s: too large (limit %u bytes) or out of memory", path,
                               MAX_JSON_BYTES);
                return NULL;
            }
            buf = nb;
        }
        size_t k = fread(buf + n, 1, 65536, fp);
        n += k;
        if (k < 65536) break;
    }
    int bad = ferror(fp);
    fclose(fp);
    if (bad || n > MAX_JSON_BYTES) {
        free(buf);
        warm_error_set(err, bad ? WARM_ERR_IO : WARM_ERR_FORMAT, "%s: %s", path, bad ? "read error" : "too large");
        return NULL;
    }
    if (memchr(buf, 0, n)) {
        free(buf);
        warm_error_set(err, WARM_ERR_FORMAT, "%s: contains a NUL byte: not a JSON text", path);
        return NULL;
    }
    buf[n] = 0;
    return buf;
}

char *merge_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

/* ---------------------------------------------------------------------------------------------- tensors */

typedef struct {
    const char *key;
    int idx;
} key_idx;

static int cmp_key_idx(const void *a, const void *b) {
    return strcmp(((const key_idx *)a)->key, ((const key_idx *)b)->key);
}

/* Fills tensors[] and by_key[] from files[]; refuses two spellings of one tensor. */
static warm_status build_keys(warm_ckpt *c, warm_error *err) {
    int total = 0;
    for (int f = 0; f < c->n_files; f++) total += c->files[f].n_tensors;
    c->tensors = calloc((size_t)total + 1, sizeof *c->tensors);
    c->by_key = calloc((size_t)total + 1, sizeof *c->by_key);
    if (!c->tensors || !c->by_key) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", c->path);
    for (int f = 0; f < c->n_files; f++) {
        for (int i = 0; i < c->files[f].n_tensors; i++) {
            const warm_st_tensor *t = &c->files[f].tensors[i];
            const char *key = warm_ckpt_canonical(t->name);
            if (is_legacy_buffer(key)) {
                c->n_skipped++;
                continue;
            }
            c->tensors[c->n_tensors] = (warm_ckpt_tensor){.key = key, .file = &c->files[f], .t = t};
            c->n_tensors++;
        }
    }
    key_idx *tmp = malloc(((size_t)c->n_tensors + 1) * sizeof *tmp);
    if (!tmp) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", c->path);
    for (int i = 0; i < c->n_tensors; i++) tmp[i] = (key_idx){c->tensors[i].key, i};
    qsort(tmp, (size_t)c->n_tensors, sizeof *tmp, cmp_key_idx);
    for (int i = 0; i < c->n_tensors; i++) c->by_key[i] = tmp[i].idx;
    free(tmp);
    for (int i = 1; i < c->n_tensors; i++) {
        const warm_ckpt_tensor *a = &c->tensors[c->by_key[i - 1]], *b = &c->tensors[c->by_key[i]];
        if (strcmp(a->key, b->key) == 0)
            return warm_error_set(err, WARM_ERR_FORMAT, "%s: tensors '%s' (%s) and '%s' (%s) are two spellings of one "
                                  "tensor", c->path, a->t->name, a->file->path, b->t->name, b->file->path);
    }
    return WARM_OK;
}

const warm_ckpt_tensor *warm_ckpt_find(const warm_ckpt *c, const char *name) {
    const char *key = warm_ckpt_canonical(name);
    int lo = 0, hi = c->n_tensors;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int r = strcmp(c->tensors[c->by_key[mid]].key, key);
        if (r == 0) return &c->tensors[c->by_key[mid]];
        if (r < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* ---------------------------------------------------------------------------------------------- index */

typedef struct {
    const char *name;   /* tensor name (in the cJSON tree) */
    int shard;          /* index into the sorted shard names */
} map_entry;

static int cmp_map_entry(const void *a, const void *b) {
    return strcmp(((const map_entry *)a)->name, ((const map_entry *)b)->name);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static int valid_shard_name(const char *s) {
    return s[0] && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* Sorted unique shard names of the map; *names is malloc'd (pointers into the tree). */
static warm_status shard_names(const char *ipath, const cJSON *wm, const char ***names, int *n, warm_error *err) {
    int cnt = cJSON_GetArraySize(wm);
    const char **v = malloc(((size_t)cnt + 1) * sizeof *v);
    if (!v) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", ipath);
    int k = 0;
    for (const cJSON *e = wm->child; e; e = e->next) {
        if (!cJSON_IsString(e)) {
            free(v);
            return warm_error_set(err, WARM_ERR_FORMAT, "%s: weight_map entry '%s' is not a string", ipath, e->string);
        }
        if (!valid_shard_name(e->valuestring)) {
            free(v);
            return warm_error_set(err, WARM_ERR_FORMAT, "%s: weight_map entry '%s': shard name '%s' is not a plain "
                                  "file name in the directory", ipath, e->string, e->valuestring);
        }
        v[k++] = e->valuestring;
    }
    qsort(v, (size_t)k, sizeof *v, cmp_str);
    int u = 0;
    for (int i = 0; i < k; i++)
        if (u == 0 || strcmp(v[u - 1], v[i]) != 0) v[u++] = v[i];
    *names = v;
    *n = u;
    return WARM_OK;
}

/* Sorted (name, shard) entries of the map; repeated keys refused. */
static warm_status map_entries(const char *ipath, const cJSON *wm, const char **names, int n_names, map_entry **out,
                               int *n, warm_error *err) {
    int cnt = cJSON_GetArraySize(wm);
    map_entry *v = malloc(((size_t)cnt + 1) * sizeof *v);
    if (!v) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", ipath);
    int k = 0;
    for (const cJSON *e = wm->child; e; e = e->next) {
        const char **hit = bsearch(&e->valuestring, names, (size_t)n_names, sizeof *names, cmp_str);
        v[k++] = (map_entry){e->string, (int)(hit - names)};
    }
    qsort(v, (size_t)k, sizeof *v, cmp_map_entry);
    for (int i = 1; i < k; i++) {
        if (strcmp(v[i - 1].name, v[i].name) == 0) {
            warm_status s = warm_error_set(err, WARM_ERR_FORMAT, "%s: weight_map lists '%s' twice", ipath, v[i].name);
            free(v);
            return s;
        }
    }
    *out = v;
    *n = k;
    return WARM_OK;
}

/* formats.md §2 "our rule": map and shards agree exactly. */
static warm_status check_map(const warm_ckpt *c, const char *ipath, const char **names, const map_entry *me, int n_me,
                             warm_error *err) {
    for (int i = 0; i < n_me; i++)
        if (!warm_st_find(&c->files[me[i].shard], me[i].name))
            return warm_error_set(err, WARM_ERR_FORMAT, "%s: weight_map sends '%s' to %s, which does not hold it",
                                  ipath, me[i].name, names[me[i].shard]);
    for (int f = 0; f < c->n_files; f++) {
        for (int i = 0; i < c->files[f].n_tensors; i++) {
            map_entry key = {c->files[f].tensors[i].name, 0};
            const map_entry *hit = bsearch(&key, me, (size_t)n_me, sizeof *me, cmp_map_entry);
            if (!hit)
                return warm_error_set(err, WARM_ERR_FORMAT, "%s: shard %s holds '%s', which weight_map does not list",
                                      ipath, names[f], key.name);
            if (hit->shard != f)
                return warm_error_set(err, WARM_ERR_FORMAT, "%s: shard %s holds '%s', which weight_map sends to %s",
                                      ipath, names[f], key.name, names[hit->shard]);
        }
    }
    return WARM_OK;
}

static warm_status open_shards(warm_ckpt *c, const char *dir, const char **names, int n, warm_error *err) {
    c->files = calloc((size_t)n, sizeof *c->files);
    if (!c->files) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", c->path);
    for (int i = 0; i < n; i++) {
        char *p = merge_join(dir, names[i]);
        if (!p) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", c->path);
        warm_status s = warm_st_open(&c->files[i], p, err);
        free(p);
        if (s) return s;
        c->n_files++;
    }
    return WARM_OK;
}

static warm_status open_index(warm_ckpt *c, const char *dir, const char *ipath, warm_error *err) {
    char *text = merge_read_text(ipath, NULL, err);
    if (!text) return err ? err->code : WARM_ERR_IO;
    cJSON *root = cJSON_Parse(text);
    free(text);
    warm_status s = WARM_OK;
    const cJSON *wm = root ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    if (!root || !cJSON_IsObject(root)) s = warm_error_set(err, WARM_ERR_FORMAT, "%s: not a JSON object", ipath);
    else if (!cJSON_IsObject(wm)) s = warm_error_set(err, WARM_ERR_FORMAT, "%s: no \"weight_map\" object", ipath);
    else if (!wm->child) s = warm_error_set(err, WARM_ERR_FORMAT, "%s: \"weight_map\" is empty", ipath);
    const char **names = NULL;
    map_entry *me = NULL;
    int n_names = 0, n_me = 0;
    if (!s) s = shard_names(ipath, wm, &names, &n_names, err);
    if (!s) s = map_entries(ipath, wm, names, n_names, &me, &n_me, err);
    if (!s) s = open_shards(c, dir, names, n_names, err);
    if (!s) s = check_map(c, ipath, names, me, n_me, err);
    free(me);
    free(names);
    cJSON_Delete(root);
    return s;
}

/* ---------------------------------------------------------------------------------------------- open */

static warm_status open_single(warm_ckpt *c, const char *file, warm_error *err) {
    c->files = calloc(1, sizeof *c->files);
    if (!c->files) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", c->path);
    warm_status s = warm_st_open(&c->files[0], file, err);
    if (!s) c->n_files = 1;
    return s;
}

static int is_regular(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static warm_status open_dir(warm_ckpt *c, const char *dir, warm_error *err) {
    char *single = merge_join(dir, "model.safetensors"), *index = merge_join(dir, "model.safetensors.index.json");
    char *cfg = merge_join(dir, "config.json");
    warm_status s = WARM_OK;
    if (!single || !index || !cfg) s = warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", c->path);
    else if (is_regular(single)) s = open_single(c, single, err);
    else if (is_regular(index)) s = open_index(c, dir, index, err);
    else s = warm_error_set(err, WARM_ERR_FORMAT, "%s: directory holds neither model.safetensors nor "
                            "model.safetensors.index.json (pickled pytorch_model.bin is not read)", c->path);
    if (!s) {
        int missing;
        c->config_json = merge_read_text(cfg, &missing, err);
        if (!c->config_json && !missing) s = err ? err->code : WARM_ERR_IO;
    }
    free(single);
    free(index);
    free(cfg);
    return s;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

warm_status warm_ckpt_open(warm_ckpt *c, const char *path, warm_error *err) {
    memset(c, 0, sizeof *c);
    c->path = strdup(path);
    if (!c->path) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", path);
    struct stat st;
    warm_status s;
    if (stat(path, &st) != 0) {
        s = warm_error_set(err, WARM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
        c->is_dir = 1;
        s = open_dir(c, path, err);
    } else if (ends_with(path, ".index.json")) {
        /* The index file itself: its directory is the checkpoint. */
        char *dir = strdup(path);
        if (!dir) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", path);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        c->is_dir = 1;
        s = open_index(c, slash ? dir : ".", path, err);
        free(dir);
    } else {
        s = open_single(c, path, err);
    }
    if (!s) s = build_keys(c, err);
    if (s) warm_ckpt_close(c);
    return s;
}

void warm_ckpt_close(warm_ckpt *c) {
    if (!c) return;
    for (int i = 0; i < c->n_files; i++) warm_st_close(&c->files[i]);
    free(c->files);
    free(c->tensors);
    free(c->by_key);
    free(c->config_json);
    free(c->path);
    memset(c, 0, sizeof *c);
}

const char *warm_ckpt_meta(const warm_ckpt *c, const char *key) {
    return c->n_files > 0 ? warm_st_meta(&c->files[0], key) : NULL;
}

const char *warm_ckpt_config_text(const warm_ckpt *c) {
    const char *m = warm_ckpt_meta(c, "warm.config");
    return m ? m : c->config_json;
}

warm_status warm_ckpt_model_config(const warm_ckpt *c, warm_config *cfg, warm_error *err) {
    const char *js = warm_ckpt_config_text(c);
    if (!js)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: no model config (no \"warm.config\" metadata and no "
                              "config.json)", c->path);
    warm_status s = warm_config_from_json(cfg, js, err);
    if (s) warm_error_prefix(err, "%s: config", c->path);
    return s;
}
