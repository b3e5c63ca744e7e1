/*
 * fuzz_lmdata.c — pretraining / SFT JSONL (`warm pretrain`, `warm sft`: {"text"} or {"prompt", "completion"}
 * rows): warm_lm_load with a word tokenizer (strict, then with unknown words allowed), subsets, views, a batch.
 */
#include "fuzz_util.h"
#include "fuzz_tok.h"

#include "warm/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void use(const warm_lmdata *d) {
    int64_t *idx = NULL, n = 0;
    warm_error err;
    if (warm_lm_subset(d, NULL, -1, &idx, &n, &err) != WARM_OK) return;
    for (int64_t i = 0; i < n; i++) {
        (void)warm_lm_view_row(d, idx[i]);
        (void)warm_lm_split(d, idx[i]);
        (void)warm_lm_id(d, idx[i]);
    }
    if (n > 0 && d->max_seq <= 4096) {
        int B = n < 4 ? (int)n : 4, T = d->max_seq, used = 0;
        size_t cells = (size_t)B * T;
        int32_t *tok = malloc(cells * sizeof *tok), *tgt = malloc(cells * sizeof *tgt), *len = malloc(4 * sizeof *len);
        float *mask = malloc(cells * sizeof *mask);
        if (tok && tgt && len && mask) warm_lm_batch(d, idx, B, 0, tok, tgt, mask, len, &used, &err);
        free(tok);
        free(tgt);
        free(len);
        free(mask);
    }
    free(idx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512];
    fuzz_write(path, sizeof path, "lm.jsonl", data, size);
    warm_error err;
    warm_lmdata d;
    warm_lm_opts o = warm_lm_opts_default();
    o.max_len = 64;
    for (int unk = 0; unk < 2; unk++) {
        o.allow_unk = unk;
        if (warm_lm_load(&d, path, fuzz_tokenizer(), &o, &err) == WARM_OK) {
            use(&d);
            warm_lm_free(&d);
        }
    }
    return 0;
}
