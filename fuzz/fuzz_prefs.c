/*
 * fuzz_prefs.c — preference JSONL in TRL's forms (`warm train-rm`, `probe`, `sweep`, `eval`, `lmc`, `task stats`):
 * warm_prefs_load with a word tokenizer (text rows) and again without one (only *_ids rows are valid), then
 * what the commands do with the rows: subsets, views, shared prefixes, a padded batch.
 */
#include "fuzz_util.h"
#include "fuzz_tok.h"

#include "warm/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void use(const warm_prefs *d) {
    int64_t *idx = NULL, n = 0;
    warm_error err;
    if (warm_prefs_subset(d, NULL, -1, &idx, &n, &err) != WARM_OK) return;
    for (int64_t i = 0; i < n; i++) {
        warm_pref_view v = warm_prefs_view(d, idx[i]);
        (void)warm_pref_shared_prefix(&v);
        (void)warm_prefs_split(d, idx[i]);
        (void)warm_prefs_id(d, idx[i]);
    }
    if (n > 0 && d->max_seq <= 4096) {
        int P = n < 4 ? (int)n : 4, T = d->max_seq, used = 0;
        int32_t *tok = malloc((size_t)2 * P * T * sizeof *tok), *len = malloc((size_t)2 * P * sizeof *len);
        float margins[4];
        if (tok && len) warm_prefs_batch(d, idx, P, 0, tok, len, margins, &used, &err);
        free(tok);
        free(len);
    }
    free(idx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512];
    fuzz_write(path, sizeof path, "prefs.jsonl", data, size);
    warm_error err;
    warm_prefs d;
    warm_prefs_opts o = warm_prefs_opts_default();
    o.max_len = 256;
    if (warm_prefs_load(&d, path, fuzz_tokenizer(), &o, &err) == WARM_OK) {
        use(&d);
        warm_prefs_free(&d);
    }
    o.allow_unk = 1;
    o.vocab_size = 50;
    o.pad_id = 0;
    if (warm_prefs_load(&d, path, NULL, &o, &err) == WARM_OK) {
        use(&d);
        warm_prefs_free(&d);
    }
    return 0;
}
