/*
 * test_hf.c — Hugging Face model directories both ways (warm_hf_import, warm_hf_export; src/merge/hf_export.c),
 * against tests/fixtures/hf_tiny, which scripts/make_hf_fixtures.py wrote with numpy alone: a tiny GPT-2 reward
 * model as transformers saves it (prefixed names, legacy attn.bias buffers, a config.json with keys warm does not
 * use, a WordLevel tokenizer.json) and the rewards and log-probabilities of a numpy GPT-2 forward pass.
 *
 * Import: the rewards and per-token log-probabilities warm computes from the directory equal numpy's.
 * Export: the exported weights are the fixture's bytes, under the fixture's names, and nothing else; config.json
 * and the tokenizer files say what the fixture's say; the LM export drops score.weight; errors leave no trace.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"
#include "warm/merge.h"
#include "warm/model.h"
#include "warm/safetensors.h"
#include "warm/tokenizer.h"

static void fixture_path(char *buf, size_t n, const char *file) {
    snprintf(buf, n, "%s/hf_tiny%s%s", test_fixture_dir(), file ? "/" : "", file ? file : "");
}

static void rm_tree(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* The fixture directory imported as a reward model, and a fresh temp directory. */
static void import_fixture(warm_model *m, char *tmp, size_t n) {
    char dir[1024];
    warm_error err = {0};
    fixture_path(dir, sizeof dir, NULL);
    assert_int_equal(warm_hf_import(m, dir, 1, NULL, &err), WARM_OK);
    test_tmpdir(tmp, n);
}

static cJSON *read_json(const char *path) {
    size_t n;
    char *text = warm_read_file(path, &n, NULL);
    assert_non_null(text);
    cJSON *o = cJSON_Parse(text);
    free(text);
    assert_non_null(o);
    return o;
}

static cJSON *read_fixture_json(const char *file) {
    char p[1024];
    fixture_path(p, sizeof p, file);
    return read_json(p);
}

/* The fixture's vocabulary as a WORD tokenizer. */
static warm_tokenizer *fixture_tokenizer(void) {
    cJSON *e = read_fixture_json("expected.json");
    const cJSON *words = cJSON_GetObjectItem(e, "words");
    int n = cJSON_GetArraySize(words);
    const char *w[64];
    assert_true(n <= 64);
    for (int i = 0; i < n; i++) w[i] = cJSON_GetArrayItem(words, i)->valuestring;
    warm_tokenizer *t = NULL;
    warm_error err = {0};
    assert_int_equal(warm_tok_from_words(&t, w, n, &err), WARM_OK);
    cJSON_Delete(e);
    return t;
}

static void test_import_matches_numpy(void **state) {
    (void)state;
    char dir[1024], file[1024];
    fixture_path(dir, sizeof dir, NULL);
    fixture_path(file, sizeof file, "model.safetensors");
    warm_model m, m2;
    warm_error err = {0};
    int head = 0;
    assert_int_equal(warm_hf_import(&m, dir, 1, &head, &err), WARM_OK);
    assert_int_equal(head, 1);
    /* the same weights through the single-file loader (config.json beside the file) */
    assert_int_equal(warm_model_load(&m2, file, 0, &err), WARM_OK);
    assert_int_equal(m.n_params, m2.n_params);
    assert_memory_equal(m.params, m2.params, m.n_params * sizeof(float));
    warm_model_free(&m2);
    /* and through the single-file loader given the directory (what eval, score, bon, ... call) */
    assert_int_equal(warm_model_load(&m2, dir, 0, &err), WARM_OK);
    assert_memory_equal(m.params, m2.params, m.n_params * sizeof(float));
    warm_model_free(&m2);
    assert_int_equal(m.cfg.pad_token_id, 0);
    assert_int_equal(m.cfg.eos_token_id, 1);

    cJSON *e = read_fixture_json("expected.json");
    const cJSON *seqs = cJSON_GetObjectItem(e, "sequences"), *row;
    int checked = 0;
    cJSON_ArrayForEach(row, seqs) {
        const cJSON *ids_j = cJSON_GetObjectItem(row, "ids");
        int n = cJSON_GetArraySize(ids_j);
        int32_t ids[64];
        for (int i = 0; i < n; i++) ids[i] = (int32_t)cJSON_GetArrayItem(ids_j, i)->valueint;
        double want = cJSON_GetObjectItem(row, "reward")->valuedouble;
        float r = 0;
        int zero = 0;
        assert_int_equal(warm_score_responses(&m, ids, n, ids, &zero, 1, &r, &err), WARM_OK);
        if (fabs((double)r - want) > 1e-5 * (1 + fabs(want))) fail_msg("reward %.7f, numpy %.7f", (double)r, want);
        const cJSON *lp = cJSON_GetObjectItem(row, "logprobs");
        if (n >= 2) {
            float got[64];
            int len = n - 1;
            assert_int_equal(warm_decode_logprobs(&m, ids, 1, ids + 1, len, &len, 1, got, &err), WARM_OK);
            for (int t = 0; t < len; t++) {
                double w = cJSON_GetArrayItem(lp, t)->valuedouble;
                if (fabs((double)got[t] - w) > 1e-4 * (1 + fabs(w))) fail_msg("log-prob %d: %.7f, numpy %.7f", t, (double)got[t], w);
            }
        }
        checked++;
    }
    assert_int_equal(checked, 4);
    cJSON_Delete(e);
    warm_model_free(&m);
}

/* Every tensor of the fixture but the legacy buffers (and score.weight when !with_head) is in out, byte for
 * byte, F32, under the same name; out holds nothing else. */
static void check_weights(const char *out_file, int with_head) {
    char fx[1024];
    fixture_path(fx, sizeof fx, "model.safetensors");
    warm_st_file a, b;
    warm_error err = {0};
    assert_int_equal(warm_st_open(&a, fx, &err), WARM_OK);
    assert_int_equal(warm_st_open(&b, out_file, &err), WARM_OK);
    assert_string_equal(warm_st_meta(&b, "format"), "pt");
    int expected = 0;
    for (int i = 0; i < a.n_tensors; i++) {
        const warm_st_tensor *t = &a.tensors[i];
        size_t nl = strlen(t->name);
        if (nl > 10 && !strcmp(t->name + nl - 10, ".attn.bias")) {
            assert_null(warm_st_find(&b, t->name));
            continue;
        }
        if (!with_head && !strcmp(t->name, "score.weight")) {
            assert_null(warm_st_find(&b, t->name));
            continue;
        }
        const warm_st_tensor *u = warm_st_find(&b, t->name);
        if (!u) fail_msg("%s: missing in the export", t->name);
        assert_int_equal(u->dtype, WARM_DTYPE_F32);
        assert_int_equal(u->ndim, t->ndim);
        for (int d = 0; d < t->ndim; d++) assert_int_equal(u->shape[d], t->shape[d]);
        assert_int_equal(u->end - u->begin, t->end - t->begin);
        assert_memory_equal(u->data, t->data, t->end - t->begin);
        expected++;
    }
    assert_int_equal(b.n_tensors, expected);
    warm_st_close(&a);
    warm_st_close(&b);
}

static void check_config(const char *dir, const char *arch) {
    char p[1200];
    snprintf(p, sizeof p, "%s/config.json", dir);
    cJSON *got = read_json(p), *want = read_fixture_json("config.json");
    static const char *const keys[] = {"vocab_size", "n_positions", "n_ctx", "n_layer", "n_head", "n_embd",
                                       "bos_token_id", "eos_token_id", "pad_token_id", "layer_norm_epsilon"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *g = cJSON_GetObjectItem(got, keys[i]), *w = cJSON_GetObjectItem(want, keys[i]);
        if (!cJSON_IsNumber(g) || g->valuedouble != w->valuedouble) fail_msg("config.json: %s differs", keys[i]);
    }
    assert_string_equal(cJSON_GetObjectItem(got, "model_type")->valuestring, "gpt2");
    assert_string_equal(cJSON_GetObjectItem(got, "activation_function")->valuestring, "gelu_new");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(got, "tie_word_embeddings")));
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(got, "architectures"), 0)->valuestring, arch);
    const cJSON *nl = cJSON_GetObjectItem(got, "num_labels");
    if (!strcmp(arch, "GPT2ForSequenceClassification")) assert_int_equal(nl->valueint, 1);
    else assert_null(nl);
    cJSON_Delete(got);
    cJSON_Delete(want);
}

static void test_export_rm_with_tokenizer(void **state) {
    (void)state;
    char tmp[256], out[512], p[600], tokpath[600];
    warm_model m;
    warm_error err = {0};
    import_fixture(&m, tmp, sizeof tmp);
    snprintf(out, sizeof out, "%s/rm", tmp);
    /* the tokenizer as a file, so warm_tok_open(spec) and the exporter see the same thing */
    warm_tokenizer *t = fixture_tokenizer();
    snprintf(tokpath, sizeof tokpath, "%s/words.json", tmp);
    assert_int_equal(warm_tok_save(t, tokpath, &err), WARM_OK);
    warm_hf_file *files = NULL;
    int nf = 0, shards = 0;
    assert_int_equal(warm_hf_tokenizer_files(tokpath, t, m.cfg.n_positions, &files, &nf, &err), WARM_OK);
    assert_int_equal(nf, 3);
    assert_int_equal(warm_hf_export(&m, WARM_HF_RM, out, WARM_DTYPE_F32, 0, files, nf, &shards, &err), WARM_OK);
    assert_int_equal(shards, 1);
    snprintf(p, sizeof p, "%s/model.safetensors", out);
    check_weights(p, 1);
    check_config(out, "GPT2ForSequenceClassification");

    /* tokenizer.json: the fixture's vocabulary, model and pre-tokenizer; specials as added tokens */
    snprintf(p, sizeof p, "%s/tokenizer.json", out);
    cJSON *got = read_json(p), *want = read_fixture_json("tokenizer.json");
    const cJSON *gm = cJSON_GetObjectItem(got, "model"), *wm = cJSON_GetObjectItem(want, "model");
    assert_string_equal(cJSON_GetObjectItem(gm, "type")->valuestring, "WordLevel");
    assert_string_equal(cJSON_GetObjectItem(gm, "unk_token")->valuestring,
                        cJSON_GetObjectItem(wm, "unk_token")->valuestring);
    const cJSON *gv = cJSON_GetObjectItem(gm, "vocab"), *wv = cJSON_GetObjectItem(wm, "vocab"), *it;
    assert_int_equal(cJSON_GetArraySize(gv), cJSON_GetArraySize(wv));
    cJSON_ArrayForEach(it, wv) {
        const cJSON *g = cJSON_GetObjectItem(gv, it->string);
        if (!g || g->valueint != it->valueint) fail_msg("tokenizer.json: \"%s\" differs", it->string);
    }
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(got, "pre_tokenizer"), "type")->valuestring,
                        "WhitespaceSplit");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(got, "added_tokens")), 3);
    cJSON_Delete(got);
    cJSON_Delete(want);
    snprintf(p, sizeof p, "%s/tokenizer_config.json", out);
    got = read_json(p);
    assert_string_equal(cJSON_GetObjectItem(got, "pad_token")->valuestring, "<pad>");
    assert_string_equal(cJSON_GetObjectItem(got, "eos_token")->valuestring, "<eos>");
    assert_int_equal(cJSON_GetObjectItem(got, "model_max_length")->valueint, m.cfg.n_positions);
    cJSON_Delete(got);

    /* round trip: the export imports to the same parameters */
    warm_model back;
    assert_int_equal(warm_hf_import(&back, out, 1, NULL, &err), WARM_OK);
    assert_memory_equal(back.params, m.params, m.n_params * sizeof(float));
    warm_model_free(&back);

    /* exporting again with tokenizer files replaces the directory; without them it is refused (the tokenizer
     * files would be lost) and the directory stays as it was */
    assert_int_equal(warm_hf_export(&m, WARM_HF_LM, out, WARM_DTYPE_F32, 0, files, nf, NULL, &err), WARM_OK);
    check_config(out, "GPT2LMHeadModel");
    assert_int_equal(warm_hf_export(&m, WARM_HF_RM, out, WARM_DTYPE_F32, 0, NULL, 0, NULL, &err), WARM_ERR_ARG);
    assert_non_null(strstr(err.msg, "refusing to replace"));
    check_config(out, "GPT2LMHeadModel");
    snprintf(p, sizeof p, "%s/tokenizer.json", out);
    assert_int_equal(access(p, F_OK), 0);

    warm_hf_files_free(files, nf);
    warm_tok_free(t);
    warm_model_free(&m);
    rm_tree(tmp);
}

static void test_export_lm_sharded(void **state) {
    (void)state;
    char tmp[256], out[512], p[600];
    warm_model m;
    warm_error err = {0};
    import_fixture(&m, tmp, sizeof tmp);
    snprintf(out, sizeof out, "%s/lm", tmp);
    int shards = 0;
    assert_int_equal(warm_hf_export(&m, WARM_HF_LM, out, WARM_DTYPE_F32, 2048, NULL, 0, &shards, &err), WARM_OK);
    assert_true(shards > 1);
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", out);
    cJSON *idx = read_json(p);
    const cJSON *map = cJSON_GetObjectItem(idx, "weight_map");
    assert_null(cJSON_GetObjectItem(map, "score.weight"));
    assert_non_null(cJSON_GetObjectItem(map, "transformer.wte.weight"));
    cJSON_Delete(idx);
    check_config(out, "GPT2LMHeadModel");
    warm_model back;
    int head = 1;
    assert_int_equal(warm_hf_import(&back, out, 0, &head, &err), WARM_OK);
    assert_int_equal(head, 0);
    const warm_tensor *wte = warm_model_find(&m, "transformer.wte.weight");
    assert_memory_equal(back.params + wte->offset, m.params + wte->offset, wte->numel * sizeof(float));
    warm_model_free(&back);
    /* the single-file loader names the sharded directory instead of guessing */
    assert_int_equal(warm_model_load(&back, out, 1, &err), WARM_ERR_ARG);
    assert_non_null(strstr(err.msg, "sharded"));
    /* a reward model needs score.weight */
    assert_int_equal(warm_hf_import(&back, out, 1, NULL, &err), WARM_ERR_MISMATCH);
    assert_non_null(strstr(err.msg, "score.weight"));
    warm_model_free(&m);
    rm_tree(tmp);
}

static void test_export_refusals(void **state) {
    (void)state;
    char tmp[256], out[512], p[600];
    warm_model m;
    warm_error err = {0};
    import_fixture(&m, tmp, sizeof tmp);
    /* a file name is not a directory export */
    snprintf(out, sizeof out, "%s/x.safetensors", tmp);
    assert_int_equal(warm_hf_export(&m, WARM_HF_RM, out, WARM_DTYPE_F32, 0, NULL, 0, NULL, &err), WARM_ERR_ARG);
    assert_int_not_equal(access(out, F_OK), 0);
    /* a directory holding someone else's file is not replaced, and keeps the file */
    snprintf(out, sizeof out, "%s/mine", tmp);
    assert_int_equal(mkdir(out, 0755), 0);
    snprintf(p, sizeof p, "%s/notes.txt", out);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("keep me\n", f);
    fclose(f);
    assert_int_not_equal(warm_hf_export(&m, WARM_HF_RM, out, WARM_DTYPE_F32, 0, NULL, 0, NULL, &err), WARM_OK);
    assert_int_equal(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/config.json", out);
    assert_int_not_equal(access(p, F_OK), 0);
    /* only tokenizer file names go beside the weights */
    snprintf(out, sizeof out, "%s/bad", tmp);
    warm_hf_file bad = {"../escape.json", "{}", 2};
    assert_int_equal(warm_hf_export(&m, WARM_HF_RM, out, WARM_DTYPE_F32, 0, &bad, 1, NULL, &err), WARM_ERR_ARG);
    assert_int_not_equal(access(out, F_OK), 0);
    warm_model_free(&m);
    rm_tree(tmp);
}

/* GPT-2 BPE: the tokenizer's own files are copied byte for byte (../shared/data/gpt2-tokenizer). */
static void test_export_bpe_tokenizer_files(void **state) {
    (void)state;
    char src[1024], tmp[256], out[512], a[1200], b[1200];
    snprintf(src, sizeof src, "%s/gpt2-tokenizer", test_shared_data());
    snprintf(a, sizeof a, "%s/encoder.json", src);
    if (access(a, R_OK) != 0) skip();
    warm_tokenizer *t = NULL;
    warm_error err = {0};
    assert_int_equal(warm_tok_open(&t, src, &err), WARM_OK);
    warm_config cfg = warm_config_default(warm_tok_vocab_size(t), 8, 1, 1, 4);
    warm_model m;
    assert_int_equal(warm_model_init(&m, &cfg, &err), WARM_OK);
    warm_hf_file *files = NULL;
    int nf = 0;
    assert_int_equal(warm_hf_tokenizer_files(src, t, cfg.n_positions, &files, &nf, &err), WARM_OK);
    test_tmpdir(tmp, sizeof tmp);
    snprintf(out, sizeof out, "%s/bpe", tmp);
    assert_int_equal(warm_hf_export(&m, WARM_HF_LM, out, WARM_DTYPE_F32, 0, files, nf, NULL, &err), WARM_OK);
    static const char *const pairs[2][2] = {{"encoder.json", "vocab.json"}, {"vocab.bpe", "merges.txt"}};
    for (int k = 0; k < 2; k++) {
        size_t na, nb;
        snprintf(a, sizeof a, "%s/%s", src, pairs[k][0]);
        snprintf(b, sizeof b, "%s/%s", out, pairs[k][1]);
        char *x = warm_read_file(a, &na, NULL), *y = warm_read_file(b, &nb, NULL);
        assert_non_null(x);
        assert_non_null(y);
        assert_int_equal(na, nb);
        assert_memory_equal(x, y, na);
        free(x);
        free(y);
    }
    snprintf(b, sizeof b, "%s/tokenizer_config.json", out);
    cJSON *c = read_json(b);
    assert_string_equal(cJSON_GetObjectItem(c, "tokenizer_class")->valuestring, "GPT2Tokenizer");
    assert_string_equal(cJSON_GetObjectItem(c, "pad_token")->valuestring, "<|endoftext|>");
    cJSON_Delete(c);
    warm_hf_files_free(files, nf);
    warm_tok_free(t);
    warm_model_free(&m);
    rm_tree(tmp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import_matches_numpy),
        cmocka_unit_test(test_export_rm_with_tokenizer),
        cmocka_unit_test(test_export_lm_sharded),
        cmocka_unit_test(test_export_refusals),
        cmocka_unit_test(test_export_bpe_tokenizer_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
