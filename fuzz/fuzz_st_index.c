/*
 * fuzz_st_index.c — model.safetensors.index.json of a sharded Hugging Face checkpoint (`warm merge`, `warm lmc`
 * and every checkpoint argument given as a directory or index file): the index parser, the shard list, the
 * weight_map checks against the shards' own headers (warm_ckpt_open), and config.json beside it. The input is
 * the index, then optionally "\n--8<--\n" and the config.json text. Two valid shards are written once at start.
 */
#include "fuzz_util.h"

#include "warm/merge.h"
#include "warm/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void write_shards(void) {
    static const float v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const float *d[2] = {v, v};
    warm_st_spec a[2] = {{"transformer.wte.weight", WARM_DTYPE_F32, 2, {2, 4}},
                         {"transformer.ln_f.bias", WARM_DTYPE_F16, 1, {4}}};
    warm_st_spec b[1] = {{"score.weight", WARM_DTYPE_BF16, 2, {1, 4}}};
    char p[512];
    warm_error err;
    if (warm_st_write(fuzz_path(p, sizeof p, "model-00001-of-00002.safetensors"), a, d, 2, NULL, NULL, 0, &err) ||
        warm_st_write(fuzz_path(p, sizeof p, "model-00002-of-00002.safetensors"), b, d, 1, NULL, NULL, 0, &err)) {
        fprintf(stderr, "fuzz_st_index: %s\n", err.msg);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) write_shards(), ready = 1;
    const uint8_t *at[2];
    size_t len[2];
    int n = fuzz_split(data, size, at, len, 2);
    char ipath[512], cpath[512];
    fuzz_write(ipath, sizeof ipath, "model.safetensors.index.json", at[0], len[0]);
    if (n > 1) fuzz_write(cpath, sizeof cpath, "config.json", at[1], len[1]);
    else fuzz_unlink("config.json");
    warm_error err;
    warm_ckpt c;
    /* Both routes: the directory and the index file itself. */
    for (int route = 0; route < 2; route++) {
        if (warm_ckpt_open(&c, route ? ipath : fuzz_dir(), &err) != WARM_OK) continue;
        for (int i = 0; i < c.n_tensors; i++) warm_ckpt_find(&c, c.tensors[i].key);
        warm_config cfg;
        warm_ckpt_model_config(&c, &cfg, &err);
        warm_ckpt_close(&c);
    }
    return 0;
}
