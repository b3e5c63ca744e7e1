/*
 * model.c — GPT-2 config, the parameter arenas and their named tensor table, initialisation, and loading /
 * saving weights as safetensors under Hugging Face GPT-2 names.
 *
 * Arena layout (floats, one arena per state kind, identical layout for params/grads/m/v), in table order:
 *   transformer.wte.weight (V, C), transformer.wpe.weight (P, C),
 *   for l in 0..L-1, 12 tensors: ln_1.{weight,bias} (C), attn.c_attn.{weight (C, 3C), bias (3C)},
 *     attn.c_proj.{weight (C, C), bias (C)}, ln_2.{weight,bias} (C), mlp.c_fc.{weight (C, 4C), bias (4C)},
 *     mlp.c_proj.{weight (4C, C), bias (C)},
 *   transformer.ln_f.{weight,bias} (C), score.weight (1, C).
 * Linear weights keep the Conv1D [in, out] layout, so files map onto the arena without transposes.
 * Every tensor starts on a 16-float (64-byte) boundary so kernels see aligned rows.
 */
#include "warm/model.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define N_LAYER_TENSORS 12
#define PREFIX "transformer."

static const char *const layer_names[N_LAYER_TENSORS] = {
    "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
    "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
    "mlp.c_proj.weight", "mlp.c_proj.bias",
};

warm_config warm_config_default(int V, int P, int L, int NH, int C) {
    warm_config c;
    memset(&c, 0, sizeof c);
    c.vocab_size = V;
    c.n_positions = P;
    c.n_layer = L;
    c.n_head = NH;
    c.n_embd = C;
    c.embd_pdrop = c.attn_pdrop = c.resid_pdrop = 0.1f;
    c.initializer_range = 0.02f;
    c.bos_token_id = c.eos_token_id = c.pad_token_id = V - 1;
    return c;
}

static int bad_rate(float p) { return !(p >= 0.0f && p < 1.0f); }

warm_status warm_config_check(const warm_config *c, warm_error *err) {
    if (c->vocab_size < 1 || c->vocab_size > (1 << 24))
        return warm_error_set(err, WARM_ERR_ARG, "vocab_size %d out of range [1, 16777216]", c->vocab_size);
    if (c->n_positions < 1 || c->n_positions > 65536)
        return warm_error_set(err, WARM_ERR_ARG, "n_positions %d out of range [1, 65536]", c->n_positions);
    if (c->n_layer < 1 || c->n_layer > 1024)
        return warm_error_set(err, WARM_ERR_ARG, "n_layer %d out of range [1, 1024]", c->n_layer);
    if (c->n_embd < 1 || c->n_embd > 65536)
        return warm_error_set(err, WARM_ERR_ARG, "n_embd %d out of range [1, 65536]", c->n_embd);
    if (c->n_head < 1 || c->n_embd % c->n_head != 0)
        return warm_error_set(err, WARM_ERR_ARG, "n_head %d must be >= 1 and divide n_embd %d", c->n_head,
                              c->n_embd);
    if (bad_rate(c->embd_pdrop)) return warm_error_set(err, WARM_ERR_ARG, "embd_pdrop must be in [0, 1)");
    if (bad_rate(c->attn_pdrop)) return warm_error_set(err, WARM_ERR_ARG, "attn_pdrop must be in [0, 1)");
    if (bad_rate(c->resid_pdrop)) return warm_error_set(err, WARM_ERR_ARG, "resid_pdrop must be in [0, 1)");
    if (!(c->initializer_range > 0.0f))
        return warm_error_set(err, WARM_ERR_ARG, "initializer_range must be > 0");
    int ids[3] = {c->bos_token_id, c->eos_token_id, c->pad_token_id};
    const char *names[3] = {"bos_token_id", "eos_token_id", "pad_token_id"};
    for (int i = 0; i < 3; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return warm_error_set(err, WARM_ERR_ARG, "%s %d outside the vocabulary [0, %d)", names[i], ids[i],
                                  c->vocab_size);
    return WARM_OK;
}

/* ---- config.json ---- */

static const cJSON *json_get(const cJSON *o, const char *a, const char *b, const char *c) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    if (!x && b) x = cJSON_GetObjectItemCaseSensitive(o, b);
    if (!x && c) x = cJSON_GetObjectItemCaseSensitive(o, c);
    return x;
}

static warm_status json_int(const cJSON *o, const char *key, const char *alias1, const char *alias2, int32_t *out,
                            int required, warm_error *err) {
    const cJSON *x = json_get(o, key, alias1, alias2);
    if (!x || cJSON_IsNull(x)) {
        if (required) return warm_error_set(err, WARM_ERR_FORMAT, "config: missing key \"%s\"", key);
        return WARM_OK;
    }
    if (!cJSON_IsNumber(x) || x->valuedouble != floor(x->valuedouble) || fabs(x->valuedouble) > 2147483647.0)
        return warm_error_set(err, WARM_ERR_FORMAT, "config: \"%s\" must be an integer", key);
    *out = (int32_t)x->valuedouble;
    return WARM_OK;
}

static warm_status json_float(const cJSON *o, const char *key, float *out, warm_error *err) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!x || cJSON_IsNull(x)) return WARM_OK;
    if (!cJSON_IsNumber(x)) return warm_error_set(err, WARM_ERR_FORMAT, "config: \"%s\" must be a number", key);
    *out = (float)x->valuedouble;
    return WARM_OK;
}

static warm_status config_reject_unsupported(const cJSON *o, const warm_config *c, warm_error *err) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, "n_inner");
    if (x && !cJSON_IsNull(x) && !(cJSON_IsNumber(x) && x->valuedouble == 4.0 * c->n_embd))
        return warm_error_set(err, WARM_ERR_FORMAT, "config: n_inner must be null or 4*n_embd");
    x = cJSON_GetObjectItemCaseSensitive(o, "activation_function");
    if (x && !(cJSON_IsString(x) && strcmp(x->valuestring, "gelu_new") == 0))
        return warm_error_set(err, WARM_ERR_FORMAT, "config: activation_function must be \"gelu_new\"");
    x = cJSON_GetObjectItemCaseSensitive(o, "layer_norm_epsilon");
    if (x && !(cJSON_IsNumber(x) && fabs(x->valuedouble - 1e-5) < 1e-12))
        return warm_error_set(err, WARM_ERR_FORMAT, "config: layer_norm_epsilon must be 1e-5");
    const char *must_false[2] = {"scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"};
    for (int i = 0; i < 2; i++) {
        x = cJSON_GetObjectItemCaseSensitive(o, must_false[i]);
        if (cJSON_IsTrue(x)) return warm_error_set(err, WARM_ERR_FORMAT, "config: %s=true is not supported", must_false[i]);
    }
    x = cJSON_GetObjectItemCaseSensitive(o, "tie_word_embeddings");
    if (cJSON_IsFalse(x)) return warm_error_set(err, WARM_ERR_FORMAT, "config: untied word embeddings are not supported");
    x = cJSON_GetObjectItemCaseSensitive(o, "model_type");
    if (x && !(cJSON_IsString(x) && strcmp(x->valuestring, "gpt2") == 0))
        return warm_error_set(err, WARM_ERR_FORMAT, "config: model_type must be \"gpt2\"");
    return WARM_OK;
}

warm_status warm_config_from_json(warm_config *c, const char *json, warm_error *err) {
    cJSON *o = cJSON_Parse(json);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return warm_error_set(err, WARM_ERR_FORMAT, "config: not a JSON object");
    }
    warm_config t = warm_config_default(1, 1, 1, 1, 1);
    warm_status s = WARM_OK;
    if (!s) s = json_int(o, "vocab_size", NULL, NULL, &t.vocab_size, 1, err);
    if (!s) s = json_int(o, "n_positions", "max_position_embeddings", "n_ctx", &t.n_positions, 1, err);
    if (!s) s = json_int(o, "n_layer", "num_hidden_layers", NULL, &t.n_layer, 1, err);
    if (!s) s = json_int(o, "n_head", "num_attention_heads", NULL, &t.n_head, 1, err);
    if (!s) s = json_int(o, "n_embd", "hidden_size", NULL, &t.n_embd, 1, err);
    t.bos_token_id = t.eos_token_id = t.pad_token_id = t.vocab_size - 1;
    if (!s) s = json_int(o, "bos_token_id", NULL, NULL, &t.bos_token_id, 0, err);
    if (!s) s = json_int(o, "eos_token_id", NULL, NULL, &t.eos_token_id, 0, err);
    t.pad_token_id = t.eos_token_id; /* GPT-2 convention: pad = eos unless given */
    if (!s) s = json_int(o, "pad_token_id", NULL, NULL, &t.pad_token_id, 0, err);
    if (!s) s = json_float(o, "embd_pdrop", &t.embd_pdrop, err);
    if (!s) s = json_float(o, "attn_pdrop", &t.attn_pdrop, err);
    if (!s) s = json_float(o, "resid_pdrop", &t.resid_pdrop, err);
    if (!s) s = json_float(o, "initializer_range", &t.initializer_range, err);
    if (!s) s = config_reject_unsupported(o, &t, err);
    cJSON_Delete(o);
    if (!s) s = warm_config_check(&t, err);
    if (!s) *c = t;
    return s;
}

char *warm_config_to_json(const warm_config *c) {
    char buf[2048];
    /* %.9g round-trips a float exactly. */
    snprintf(buf, sizeof buf,
             "{\"model_type\":\"gpt2\",\"architectures\":[\"GPT2ForSequenceClassification\"],"
             "\"vocab_size\":%d,\"n_positions\":%d,\"n_ctx\":%d,\"n_layer\":%d,\"n_head\":%d,\"n_embd\":%d,"
             "\"n_inner\":null,\"activation_function\":\"gelu_new\",\"layer_norm_epsilon\":1e-05,"
             "\"embd_pdrop\":%.9g,\"attn_pdrop\":%.9g,\"resid_pdrop\":%.9g,\"initializer_range\":%.9g,"
             "\"bos_token_id\":%d,\"eos_token_id\":%d,\"pad_token_id\":%d,\"scale_attn_weights\":true,"
             "\"tie_word_embeddings\":true,\"num_labels\":1,\"id2label\":{\"0\":\"LABEL_0\"},"
             "\"label2id\":{\"LABEL_0\":0}}",
             c->vocab_size, c->n_positions, c->n_positions, c->n_layer, c->n_head, c->n_embd, (double)c->embd_pdrop,
             (double)c->attn_pdrop, (double)c->resid_pdrop, (double)c->initializer_range, c->bos_token_id,
             c->eos_token_id, c->pad_token_id);
    size_t n = strlen(buf) + 1;
    char *s = malloc(n);
    if (s) memcpy(s, buf, n);
    return s;
}

/* ---- the table ---- */

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

static void add_tensor(warm_tensor *t, int *k, size_t *off, const char *name, int ndim, int64_t d0, int64_t d1) {
    warm_tensor *e = &t[(*k)++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->ndim = ndim;
    e->shape[0] = d0;
    e->shape[1] = ndim == 2 ? d1 : 0;
    e->numel = (size_t)d0 * (size_t)(ndim == 2 ? d1 : 1);
    e->offset = *off;
    /* AdamW decays matrices only (2-D: embeddings, linear weights, the score head), never biases or LayerNorm. */
    e->decay = ndim == 2;
    *off += round16(e->numel);
}

static void build_table(warm_model *m) {
    const warm_config *c = &m->cfg;
    int64_t V = c->vocab_size, P = c->n_positions, C = c->n_embd;
    int k = 0;
    size_t off = 0;
    char name[64];
    add_tensor(m->tensors, &k, &off, PREFIX "wte.weight", 2, V, C);
    add_tensor(m->tensors, &k, &off, PREFIX "wpe.weight", 2, P, C);
    for (int l = 0; l < c->n_layer; l++) {
        int64_t shapes[N_LAYER_TENSORS][2] = {{C, 0}, {C, 0}, {C, 3 * C}, {3 * C, 0}, {C, C}, {C, 0},
                                              {C, 0}, {C, 0}, {C, 4 * C}, {4 * C, 0}, {4 * C, C}, {C, 0}};
        for (int j = 0; j < N_LAYER_TENSORS; j++) {
            snprintf(name, sizeof name, PREFIX "h.%d.%s", l, layer_names[j]);
            add_tensor(m->tensors, &k, &off, name, shapes[j][1] ? 2 : 1, shapes[j][0], shapes[j][1]);
        }
    }
    add_tensor(m->tensors, &k, &off, PREFIX "ln_f.weight", 1, C, 0);
    add_tensor(m->tensors, &k, &off, PREFIX "ln_f.bias", 1, C, 0);
    add_tensor(m->tensors, &k, &off, "score.weight", 2, 1, C);
    m->n_tensors = k;
    m->n_params = off;
}

warm_status warm_model_init(warm_model *m, const warm_config *cfg, warm_error *err) {
    memset(m, 0, sizeof *m);
    warm_status s = warm_config_check(cfg, err);
    if (s) return s;
    m->cfg = *cfg;
    m->tensors = calloc((size_t)(5 + N_LAYER_TENSORS * cfg->n_layer), sizeof *m->tensors);
    if (!m->tensors) return warm_error_set(err, WARM_ERR_NOMEM, "model: out of memory for the tensor table");
    build_table(m);
    m->params = warm_alloc(m->n_params * sizeof(float));
    if (!m->params) {
        warm_model_free(m);
        return warm_error_set(err, WARM_ERR_NOMEM, "model: cannot allocate %zu parameters", m->n_params);
    }
    return WARM_OK;
}

void warm_model_free(warm_model *m) {
    if (!m) return;
    free(m->tensors);
    warm_free(m->params);
    warm_free(m->grads);
    warm_free(m->m);
    warm_free(m->v);
    memset(m, 0, sizeof *m);
}

warm_status warm_model_alloc_train(warm_model *m, warm_error *err) {
    size_t bytes = m->n_params * sizeof(float);
    if (!m->grads) m->grads = warm_alloc(bytes);
    if (!m->m) m->m = warm_alloc(bytes);
    if (!m->v) m->v = warm_alloc(bytes);
    if (!m->grads || !m->m || !m->v)
        return warm_error_set(err, WARM_ERR_NOMEM, "model: cannot allocate training state (3 x %zu bytes)", bytes);
    return WARM_OK;
}

const warm_tensor *warm_model_find(const warm_model *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}

warm_layer_view warm_model_layer(const warm_model *m, float *a, int l) {
    const warm_tensor *t = &m->tensors[2 + N_LAYER_TENSORS * l];
    warm_layer_view v = {
        a + t[0].offset, a + t[1].offset, a + t[2].offset, a + t[3].offset,  a + t[4].offset,  a + t[5].offset,
        a + t[6].offset, a + t[7].offset, a + t[8].offset, a + t[9].offset, a + t[10].offset, a + t[11].offset,
    };
    return v;
}

warm_global_view warm_model_globals(const warm_model *m, float *a) {
    int k = 2 + N_LAYER_TENSORS * m->cfg.n_layer;
    warm_global_view g = {a + m->tensors[0].offset, a + m->tensors[1].offset, a + m->tensors[k].offset,
                          a + m->tensors[k + 1].offset, a + m->tensors[k + 2].offset};
    return g;
}

/* ---- initialisation ---- */

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

void warm_model_init_weights(warm_model *m, uint64_t seed) {
    warm_rng rng;
    warm_rng_seed(&rng, seed);
    float std = m->cfg.initializer_range;
    /* GPT-2: residual projections scaled by 1/sqrt(2L) (two residual additions per layer). */
    float proj_std = std / sqrtf(2.0f * (float)m->cfg.n_layer);
    memset(m->params, 0, m->n_params * sizeof(float));
    for (int i = 0; i < m->n_tensors; i++) {
        const warm_tensor *t = &m->tensors[i];
        float *p = m->params + t->offset;
        if (strstr(t->name, "ln_") && ends_with(t->name, ".weight")) {
            for (size_t j = 0; j < t->numel; j++) p[j] = 1.0f;
        } else if (t->ndim == 2) {
            float s = ends_with(t->name, "c_proj.weight") ? proj_std : std;
            for (size_t j = 0; j < t->numel; j++) p[j] = s * warm_rng_normal(&rng);
        }
    }
}

/* ---- loading ---- */

/* Maps a file's tensor name to our table name; returns 0 = mapped, 1 = skip (legacy/tied), -1 = unknown. */
static int map_name(const char *in, char *out, size_t n) {
    const char *bare = strncmp(in, PREFIX, strlen(PREFIX)) == 0 ? in + strlen(PREFIX) : in;
    if (strcmp(in, "lm_head.weight") == 0) return 1; /* tied to wte */
    if (ends_with(bare, ".attn.bias") || ends_with(bare, ".attn.masked_bias")) return 1; /* legacy masks */
    if (strcmp(in, "score.weight") == 0) {
        snprintf(out, n, "score.weight");
        return 0;
    }
    snprintf(out, n, PREFIX "%s", bare);
    return 0;
}

warm_status warm_model_load_weights(warm_model *m, const warm_st_file *f, int allow_missing_head, int *head_loaded,
                                    warm_error *err) {
    char *seen = calloc((size_t)m->n_tensors, 1);
    if (!seen) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", f->path);
    warm_status s = WARM_OK;
    char name[128];
    for (int i = 0; i < f->n_tensors && !s; i++) {
        const warm_st_tensor *ft = &f->tensors[i];
        int r = map_name(ft->name, name, sizeof name);
        if (r == 1) {
            if (ends_with(ft->name, ".attn.bias") && ft->ndim != 4)
                s = warm_error_set(err, WARM_ERR_FORMAT, "%s: tensor '%s' is not a legacy [1,1,P,P] mask", f->path,
                                   ft->name);
            continue;
        }
        const warm_tensor *t = warm_model_find(m, name);
        if (!t) {
            s = warm_error_set(err, WARM_ERR_MISMATCH, "%s: unknown tensor '%s' for a GPT-2 model", f->path, ft->name);
            break;
        }
        int idx = (int)(t - m->tensors);
        if (seen[idx]) {
            s = warm_error_set(err, WARM_ERR_FORMAT, "%s: tensor '%s' given twice (prefixed and bare names)", f->path,
                               name);
            break;
        }
        int same = ft->ndim == t->ndim && ft->shape[0] == t->shape[0] && (t->ndim == 1 || ft->shape[1] == t->shape[1]);
        if (!same) {
            s = warm_error_set(err, WARM_ERR_MISMATCH,
                               "%s: tensor '%s' has shape [%lld%s%lld] in the file, the config expects [%lld, %lld]",
                               f->path, ft->name, (long long)ft->shape[0], ft->ndim > 1 ? ", " : "",
                               ft->ndim > 1 ? (long long)ft->shape[1] : 0LL, (long long)t->shape[0],
                               (long long)t->shape[1]);
            break;
        }
        s = warm_st_to_f32(f, ft, m->params + t->offset, err);
        seen[idx] = 1;
    }
    int have_head = seen[m->n_tensors - 1];
    for (int i = 0; i < m->n_tensors && !s; i++) {
        if (seen[i] || (i == m->n_tensors - 1 && allow_missing_head)) continue;
        s = warm_error_set(err, WARM_ERR_MISMATCH, "%s: tensor '%s' is missing", f->path, m->tensors[i].name);
    }
    free(seen);
    if (head_loaded) *head_loaded = have_head;
    return s;
}

/* Reads config.json next to path (same directory), if any; returns malloc'd text or NULL. */
static char *read_sidecar_config(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0; else snprintf(dir, sizeof dir, ".");
    char cfgpath[4200];
    snprintf(cfgpath, sizeof cfgpath, "%s/config.json", dir);
    size_t n;
    return warm_read_file(cfgpath, &n, NULL); /* absent is not an error: the caller reports both sources */
}

warm_status warm_model_load(warm_model *m, const char *path, int allow_missing_head, warm_error *err) {
    /* A Hugging Face directory: its model.safetensors (config.json beside it). */
    char dirfile[4000];
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (strlen(path) > sizeof dirfile - 40) return warm_error_set(err, WARM_ERR_ARG, "%.200s...: path too long", path);
        snprintf(dirfile, sizeof dirfile, "%s/model.safetensors", path);
        if (stat(dirfile, &st) != 0) {
            snprintf(dirfile, sizeof dirfile, "%s/model.safetensors.index.json", path);
            return warm_error_set(err, WARM_ERR_ARG, "%s: %s", path,
                                  stat(dirfile, &st) == 0
                                      ? "a sharded directory: join it into one file first (warm export -m DIR "
                                        "--as rm|lm -o DIR2, or warm merge DIR -o FILE.safetensors)"
                                      : "a directory without model.safetensors");
        }
        snprintf(dirfile, sizeof dirfile, "%s/model.safetensors", path);
        path = dirfile;
    }
    warm_st_file f;
    warm_status s = warm_st_open(&f, path, err);
    if (s) return s;
    warm_config cfg;
    const char *json = warm_st_meta(&f, "warm.config");
    char *side = json ? NULL : read_sidecar_config(path);
    if (!json && !side) {
        warm_st_close(&f);
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: no \"warm.config\" in __metadata__ and no config.json beside it",
                              path);
    }
    s = warm_config_from_json(&cfg, json ? json : side, err);
    free(side);
    if (s) warm_error_prefix(err, "%s", path);
    if (!s) s = warm_model_init(m, &cfg, err);
    if (!s) {
        s = warm_model_load_weights(m, &f, allow_missing_head, NULL, err);
        if (s) warm_model_free(m);
    }
    warm_st_close(&f);
    return s;
}

warm_status warm_model_save(const warm_model *m, const char *path, warm_dtype dtype, const char *const *extra_keys,
                            const char *const *extra_vals, int n_extra, warm_error *err) {
    if (dtype != WARM_DTYPE_F32 && dtype != WARM_DTYPE_F16 && dtype != WARM_DTYPE_BF16)
        return warm_error_set(err, WARM_ERR_ARG, "%s: weights can be saved as F32, F16 or BF16 only", path);
    int n = m->n_tensors, nm = 2 + n_extra;
    warm_st_spec *specs = calloc((size_t)n, sizeof *specs);
    const float **data = calloc((size_t)n, sizeof *data);
    const char **keys = calloc((size_t)nm, sizeof *keys), **vals = calloc((size_t)nm, sizeof *vals);
    char *cfg = warm_config_to_json(&m->cfg);
    warm_status s = WARM_OK;
    if (!specs || !data || !keys || !vals || !cfg) {
        s = warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", path);
    } else {
        for (int i = 0; i < n; i++) {
            specs[i].name = m->tensors[i].name;
            specs[i].dtype = dtype;
            specs[i].ndim = m->tensors[i].ndim;
            specs[i].shape[0] = m->tensors[i].shape[0];
            specs[i].shape[1] = m->tensors[i].shape[1];
            data[i] = m->params + m->tensors[i].offset;
        }
        keys[0] = "warm.config"; vals[0] = cfg;
        keys[1] = "warm.pooling"; vals[1] = "last-non-pad";
        for (int i = 0; i < n_extra; i++) { keys[2 + i] = extra_keys[i]; vals[2 + i] = extra_vals[i]; }
        s = warm_st_write(path, specs, (const float *const *)data, n, keys, vals, nm, err);
    }
    free(specs);
    free(data);
    free(keys);
    free(vals);
    free(cfg);
    return s;
}

/* ---- training state ---- */

warm_status warm_train_state_save(const warm_model *m, const char *path, const warm_train_meta *meta, warm_error *err) {
    if (!m->m || !m->v) return warm_error_set(err, WARM_ERR_ARG, "%s: model has no optimiser state to save", path);
    int n = 2 * m->n_tensors;
    warm_st_spec *specs = calloc((size_t)n, sizeof *specs);
    const float **data = calloc((size_t)n, sizeof *data);
    char (*names)[80] = calloc((size_t)n, sizeof *names);
    warm_status s = WARM_OK;
    if (!specs || !data || !names) {
        s = warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", path);
    } else {
        for (int i = 0; i < n; i++) {
            const warm_tensor *t = &m->tensors[i % m->n_tensors];
            snprintf(names[i], sizeof names[i], "%s.%s", i < m->n_tensors ? "adam_m" : "adam_v", t->name);
            specs[i].name = names[i];
            specs[i].dtype = WARM_DTYPE_F32;
            specs[i].ndim = t->ndim;
            specs[i].shape[0] = t->shape[0];
            specs[i].shape[1] = t->shape[1];
            data[i] = (i < m->n_tensors ? m->m : m->v) + t->offset;
        }
        char v[4][32];
        snprintf(v[0], sizeof v[0], "%lld", (long long)meta->step);
        snprintf(v[1], sizeof v[1], "%llu", (unsigned long long)meta->rng_state);
        snprintf(v[2], sizeof v[2], "%lld", (long long)meta->data_pos);
        snprintf(v[3], sizeof v[3], "%lld", (long long)meta->epoch);
        const char *keys[4] = {"warm.step", "warm.rng", "warm.data_pos", "warm.epoch"};
        const char *vals[4] = {v[0], v[1], v[2], v[3]};
        s = warm_st_write(path, specs, (const float *const *)data, n, keys, vals, 4, err);
    }
    free(specs);
    free(data);
    free(names);
    return s;
}

static warm_status meta_i64(const warm_st_file *f, const char *key, int64_t *out, warm_error *err) {
    const char *v = warm_st_meta(f, key);
    char *end = NULL;
    if (!v) return warm_error_set(err, WARM_ERR_FORMAT, "%s: __metadata__ lacks \"%s\"", f->path, key);
    long long x = strtoll(v, &end, 10);
    if (end == v || *end) return warm_error_set(err, WARM_ERR_FORMAT, "%s: \"%s\" = \"%s\" is not an integer", f->path, key, v);
    *out = (int64_t)x;
    return WARM_OK;
}

int64_t warm_st_meta_step(const warm_st_file *f) {
    const char *v = warm_st_meta(f, "warm.step");
    char *end = NULL;
    long long x = v ? strtoll(v, &end, 10) : -1;
    return v && end != v && !*end ? (int64_t)x : -1;
}

warm_status warm_train_state_load(warm_model *m, const char *path, warm_train_meta *meta, warm_error *err) {
    warm_status s = warm_model_alloc_train(m, err);
    if (s) return s;
    warm_st_file f;
    s = warm_st_open(&f, path, err);
    if (s) return s;
    if (!s) s = meta_i64(&f, "warm.step", &meta->step, err);
    if (!s) {
        const char *v = warm_st_meta(&f, "warm.rng");
        char *end = NULL;
        unsigned long long x = v ? strtoull(v, &end, 10) : 0;
        if (!v || end == v || *end) s = warm_error_set(err, WARM_ERR_FORMAT, "%s: bad or missing \"warm.rng\"", path);
        meta->rng_state = (uint64_t)x;
    }
    if (!s) s = meta_i64(&f, "warm.data_pos", &meta->data_pos, err);
    if (!s) s = meta_i64(&f, "warm.epoch", &meta->epoch, err);
    if (!s && f.n_tensors != 2 * m->n_tensors)
        s = warm_error_set(err, WARM_ERR_MISMATCH, "%s: %d tensors, the model needs %d", path, f.n_tensors,
                           2 * m->n_tensors);
    char name[80];
    for (int i = 0; i < 2 * m->n_tensors && !s; i++) {
        const warm_tensor *t = &m->tensors[i % m->n_tensors];
        snprintf(name, sizeof name, "%s.%s", i < m->n_tensors ? "adam_m" : "adam_v", t->name);
        const warm_st_tensor *ft = warm_st_find(&f, name);
        if (!ft) s = warm_error_set(err, WARM_ERR_MISMATCH, "%s: tensor '%s' is missing", path, name);
        else if (ft->dtype != WARM_DTYPE_F32 || ft->numel != t->numel)
            s = warm_error_set(err, WARM_ERR_MISMATCH, "%s: tensor '%s' must be F32 with %zu elements", path, name,
                               t->numel);
        else s = warm_st_to_f32(&f, ft, (i < m->n_tensors ? m->m : m->v) + t->offset, err);
    }
    warm_st_close(&f);
    if (!s) m->step = meta->step;
    return s;
}
