/*
 * hf_export.c — a warm checkpoint as a Hugging Face model directory that transformers' GPT2LMHeadModel or
 * GPT2ForSequenceClassification loads with from_pretrained: config.json, model.safetensors (or shards + index),
 * and tokenizer files. The directory is written by the merge output code (output.c), so it is atomic in the
 * same way as `warm merge --out DIR`.
 *
 * Facts used (docs/formats.md §3 and transformers' GPT-2 modelling code, read, not copied): weights under
 * "transformer." names with Conv1D [in, out] layout (warm's own layout: nothing is transposed); the LM head is
 * tied to wte and not stored; the classification head is "score.weight" [num_labels, n_embd] without bias;
 * safetensors metadata must carry "format": "pt" for transformers to accept the file.
 */
#include "merge/merge_internal.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int warm_hf_file_name_ok(const char *name) {
    static const char *const ok[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                     "vocab.json", "merges.txt"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (!strcmp(name, ok[i])) return 1;
    return 0;
}

char *warm_hf_config_json(const warm_config *c, warm_hf_arch arch) {
    char *base = warm_config_to_json(c);
    cJSON *o = base ? cJSON_Parse(base) : NULL;
    free(base);
    if (!o) return NULL;
    if (arch == WARM_HF_LM) {
        cJSON_ReplaceItemInObjectCaseSensitive(o, "architectures", cJSON_CreateStringArray(
                                                                       (const char *const[]){"GPT2LMHeadModel"}, 1));
        cJSON_DeleteItemFromObjectCaseSensitive(o, "num_labels");
        cJSON_DeleteItemFromObjectCaseSensitive(o, "id2label");
        cJSON_DeleteItemFromObjectCaseSensitive(o, "label2id");
    }
    cJSON_AddStringToObject(o, "torch_dtype", "float32");
    char *out = cJSON_Print(o);
    cJSON_Delete(o);
    return out;
}

/* ---- tokenizer files ---- */

static warm_status add_file(warm_hf_file *f, int *n, const char *name, char *data, size_t len, warm_error *err) {
    if (!data) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", name);
    f[*n].name = name;
    f[*n].data = data;
    f[*n].len = len;
    (*n)++;
    return WARM_OK;
}

static warm_status add_json(warm_hf_file *f, int *n, const char *name, cJSON *o, warm_error *err) {
    char *text = o ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    return add_file(f, n, name, text, text ? strlen(text) : 0, err);
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static warm_status copy_file(warm_hf_file *f, int *n, const char *name, const char *src, warm_error *err) {
    size_t len = 0;
    char *data = warm_read_file(src, &len, err);
    if (!data) return err && err->code ? err->code : warm_error_set(err, WARM_ERR_IO, "%s: cannot read", src);
    return add_file(f, n, name, data, len, err);
}

/* The BPE source files behind spec (resolved as warm_tok_open does). */
static warm_status bpe_sources(const char *spec, warm_hf_file *f, int *n, warm_error *err) {
    char dir[4096], a[4200], b[4200];
    struct stat st;
    if (!strcmp(spec, "gpt2")) warm_tok_gpt2_dir(dir, sizeof dir);
    else if (stat(spec, &st) == 0 && S_ISDIR(st.st_mode)) snprintf(dir, sizeof dir, "%s", spec);
    else return copy_file(f, n, "tokenizer.json", spec, err);
    static const char *const pairs[2][2] = {{"encoder.json", "vocab.bpe"}, {"vocab.json", "merges.txt"}};
    for (int k = 0; k < 2; k++) {
        snprintf(a, sizeof a, "%s/%s", dir, pairs[k][0]);
        snprintf(b, sizeof b, "%s/%s", dir, pairs[k][1]);
        if (is_file(a) && is_file(b)) {
            warm_status s = copy_file(f, n, "vocab.json", a, err);
            return s ? s : copy_file(f, n, "merges.txt", b, err);
        }
    }
    snprintf(a, sizeof a, "%s/tokenizer.json", dir);
    return copy_file(f, n, "tokenizer.json", a, err);
}

/* tokenizer.json of the `tokenizers` library for a WORD vocabulary. */
static cJSON *word_tokenizer_json(const warm_tokenizer *t) {
    int V = warm_tok_vocab_size(t);
    int32_t special[3] = {warm_tok_pad(t), warm_tok_eos(t), warm_tok_unk(t)};
    cJSON *o = cJSON_CreateObject(), *added = cJSON_CreateArray(), *vocab = cJSON_CreateObject();
    cJSON *model = cJSON_CreateObject(), *pre = cJSON_CreateObject();
    if (!o || !added || !vocab || !model || !pre) {
        cJSON_Delete(o), cJSON_Delete(added), cJSON_Delete(vocab), cJSON_Delete(model), cJSON_Delete(pre);
        return NULL;
    }
    cJSON_AddStringToObject(o, "version", "1.0");
    cJSON_AddNullToObject(o, "truncation");
    cJSON_AddNullToObject(o, "padding");
    for (int k = 0; k < 3; k++) {
        if (special[k] < 0 || (k > 0 && special[k] == special[0]) || (k == 2 && special[2] == special[1])) continue;
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", special[k]);
        cJSON_AddStringToObject(a, "content", warm_tok_word(t, special[k]));
        cJSON_AddBoolToObject(a, "single_word", 0);
        cJSON_AddBoolToObject(a, "lstrip", 0);
        cJSON_AddBoolToObject(a, "rstrip", 0);
        cJSON_AddBoolToObject(a, "normalized", 0);
        cJSON_AddBoolToObject(a, "special", 1);
        cJSON_AddItemToArray(added, a);
    }
    cJSON_AddItemToObject(o, "added_tokens", added);
    cJSON_AddNullToObject(o, "normalizer");
    cJSON_AddStringToObject(pre, "type", "WhitespaceSplit");
    cJSON_AddItemToObject(o, "pre_tokenizer", pre);
    cJSON_AddNullToObject(o, "post_processor");
    cJSON_AddNullToObject(o, "decoder");
    cJSON_AddStringToObject(model, "type", "WordLevel");
    for (int i = 0; i < V; i++) cJSON_AddNumberToObject(vocab, warm_tok_word(t, i), i);
    cJSON_AddItemToObject(model, "vocab", vocab);
    cJSON_AddStringToObject(model, "unk_token", warm_tok_word(t, special[2] >= 0 ? special[2] : special[0]));
    cJSON_AddItemToObject(o, "model", model);
    return o;
}

static cJSON *specials_json(const warm_tokenizer *t, int with_class, int n_positions) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    int bpe = warm_tok_kind_of(t) == WARM_TOK_BPE;
    const char *eos = warm_tok_word(t, warm_tok_eos(t)), *pad = warm_tok_word(t, warm_tok_pad(t));
    const char *unk = bpe ? eos : warm_tok_word(t, warm_tok_unk(t));
    if (with_class) {
        cJSON_AddStringToObject(o, "tokenizer_class", bpe ? "GPT2Tokenizer" : "PreTrainedTokenizerFast");
        cJSON_AddNumberToObject(o, "model_max_length", n_positions);
        if (bpe) cJSON_AddBoolToObject(o, "add_prefix_space", 0);
    }
    cJSON_AddStringToObject(o, "bos_token", eos);
    cJSON_AddStringToObject(o, "eos_token", eos);
    cJSON_AddStringToObject(o, "unk_token", unk);
    cJSON_AddStringToObject(o, "pad_token", pad);
    return o;
}

warm_status warm_hf_tokenizer_files(const char *spec, const warm_tokenizer *t, int n_positions, warm_hf_file **files,
                                    int *n, warm_error *err) {
    *files = NULL;
    *n = 0;
    warm_hf_file *f = calloc(5, sizeof *f);
    if (!f) return warm_error_set(err, WARM_ERR_NOMEM, "tokenizer files: out of memory");
    int k = 0;
    warm_status s;
    if (warm_tok_kind_of(t) == WARM_TOK_BPE) s = bpe_sources(spec, f, &k, err);
    else s = add_json(f, &k, "tokenizer.json", word_tokenizer_json(t), err);
    if (!s) s = add_json(f, &k, "tokenizer_config.json", specials_json(t, 1, n_positions), err);
    if (!s) s = add_json(f, &k, "special_tokens_map.json", specials_json(t, 0, n_positions), err);
    if (s) {
        warm_hf_files_free(f, k);
        return s;
    }
    *files = f;
    *n = k;
    return WARM_OK;
}

void warm_hf_files_free(warm_hf_file *files, int n) {
    if (!files) return;
    for (int i = 0; i < n; i++) {
        void *p; /* the data this module allocated, behind the API's const pointer */
        memcpy(&p, &files[i].data, sizeof p);
        free(p);
    }
    free(files);
}

/* ---- weights ---- */

typedef struct {
    const warm_model *m;
    const int *index; /* output tensor k -> model table index */
} export_ctx;

static warm_status produce(void *vctx, int k, warm_st_writer *w, int wi, warm_error *err) {
    const export_ctx *c = vctx;
    const warm_tensor *t = &c->m->tensors[c->index[k]];
    return warm_st_writer_put(w, wi, c->m->params + t->offset, err);
}

warm_status warm_hf_export(const warm_model *m, warm_hf_arch arch, const char *dir, warm_dtype dtype,
                           uint64_t shard_size, const warm_hf_file *files, int n_files, int *n_shards, warm_error *err) {
    if (dtype != WARM_DTYPE_F32 && dtype != WARM_DTYPE_F16 && dtype != WARM_DTYPE_BF16)
        return warm_error_set(err, WARM_ERR_ARG, "%s: weights can be exported as F32, F16 or BF16 only", dir);
    if (!merge_out_is_dir(dir))
        return warm_error_set(err, WARM_ERR_ARG, "%s: an export is a directory (a name not ending in .safetensors)",
                              dir);
    int n = 0;
    merge_out_tensor *t = calloc((size_t)m->n_tensors, sizeof *t);
    int *index = calloc((size_t)m->n_tensors, sizeof *index);
    char *cfg = warm_hf_config_json(&m->cfg, arch);
    warm_status s = WARM_OK;
    if (!t || !index || !cfg) s = warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", dir);
    for (int i = 0; i < m->n_tensors && !s; i++) {
        const warm_tensor *mt = &m->tensors[i];
        if (arch == WARM_HF_LM && !strcmp(mt->name, "score.weight")) continue;
        t[n].name = mt->name;
        t[n].dtype = dtype;
        t[n].ndim = mt->ndim;
        t[n].shape[0] = mt->shape[0];
        t[n].shape[1] = mt->shape[1];
        t[n].bytes = (uint64_t)mt->numel * (uint64_t)(warm_dtype_bits(dtype) / 8);
        index[n++] = i;
    }
    int ns = 0;
    if (!s) {
        const char *mk[1] = {"format"}, *mv[1] = {"pt"};
        export_ctx c = {m, index};
        s = merge_write_output(dir, t, n, shard_size, mk, mv, 1, cfg, files, n_files, produce, &c, &ns, err);
    }
    if (!s && n_shards) *n_shards = ns;
    free(t);
    free(index);
    free(cfg);
    return s;
}

/* ---- import ---- */

warm_status warm_hf_import(warm_model *m, const char *path, int need_head, int *has_head, warm_error *err) {
    memset(m, 0, sizeof *m);
    warm_ckpt c;
    warm_status s = warm_ckpt_open(&c, path, err);
    if (s) return s;
    warm_config cfg;
    s = warm_ckpt_model_config(&c, &cfg, err);
    if (!s) s = warm_model_init(m, &cfg, err);
    int head = 0;
    for (int i = 0; i < c.n_tensors && !s; i++) {
        const char *key = c.tensors[i].key;
        if (!strcmp(key, "lm_head.weight")) continue;
        char full[160];
        snprintf(full, sizeof full, "%s%s", strcmp(key, "score.weight") ? "transformer." : "", key);
        if (!warm_model_find(m, full))
            s = warm_error_set(err, WARM_ERR_MISMATCH, "%s: unknown tensor '%s' for a GPT-2 model", path,
                               c.tensors[i].t->name);
    }
    for (int i = 0; i < m->n_tensors && !s; i++) {
        const warm_tensor *t = &m->tensors[i];
        const warm_ckpt_tensor *ct = warm_ckpt_find(&c, t->name);
        int is_head = !strcmp(t->name, "score.weight");
        if (!ct) {
            if (is_head && !need_head) continue; /* zero head */
            s = warm_error_set(err, WARM_ERR_MISMATCH, "%s: tensor '%s' is missing%s", path, t->name,
                               is_head ? " (not a reward model)" : "");
            break;
        }
        const warm_st_tensor *ft = ct->t;
        if (ft->ndim != t->ndim || ft->shape[0] != t->shape[0] || (t->ndim == 2 && ft->shape[1] != t->shape[1])) {
            s = warm_error_set(err, WARM_ERR_MISMATCH, "%s: tensor '%s' has another shape than the config gives", path,
                               ft->name);
            break;
        }
        s = warm_st_to_f32(ct->file, ft, m->params + t->offset, err);
        head |= is_head;
    }
    warm_ckpt_close(&c);
    if (s) warm_model_free(m);
    else if (has_head) *has_head = head;
    return s;
}
