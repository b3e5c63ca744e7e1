/*
 * fuzz_safetensors.c — a .safetensors file from outside (any checkpoint argument of warm): the header parser
 * and validator (warm_st_open), every tensor's conversion to float, the "warm.config" metadata through the
 * config parser, and the model loader that matches the file against the GPT-2 tensor table (warm_model_load).
 */
#include "fuzz_util.h"

#include "warm/model.h"
#include "warm/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512];
    fuzz_write(path, sizeof path, "in.safetensors", data, size);
    warm_error err;
    warm_st_file f;
    if (warm_st_open(&f, path, &err) == WARM_OK) {
        for (int i = 0; i < f.n_tensors; i++) {
            const warm_st_tensor *t = &f.tensors[i];
            if (t->numel > (1u << 20)) continue; /* a valid header may describe a large tensor: skip the copy */
            float *buf = malloc((size_t)(t->numel ? t->numel : 1) * sizeof *buf);
            if (buf) warm_st_to_f32(&f, t, buf, &err);
            free(buf);
        }
        const char *js = warm_st_meta(&f, "warm.config");
        warm_config cfg;
        if (js) warm_config_from_json(&cfg, js, &err);
        warm_st_close(&f);
    }
    /* The model route: config from the metadata (or config.json beside it, absent here), then the table. Only
     * small configs are allocated, so a header asking for a 10 GB model does not exhaust the harness. */
    if (warm_st_open(&f, path, &err) == WARM_OK) {
        const char *js = warm_st_meta(&f, "warm.config");
        warm_config cfg;
        int small = js && warm_config_from_json(&cfg, js, &err) == WARM_OK &&
                    (int64_t)cfg.vocab_size * cfg.n_embd + (int64_t)12 * cfg.n_layer * cfg.n_embd * cfg.n_embd < (1 << 22);
        warm_st_close(&f);
        if (small) {
            warm_model m;
            if (warm_model_load(&m, path, 1, &err) == WARM_OK) warm_model_free(&m);
        }
    }
    return 0;
}
