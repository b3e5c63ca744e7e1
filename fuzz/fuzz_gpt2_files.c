/*
 * fuzz_gpt2_files.c — GPT-2's tokenizer files (`--tokenizer gpt2` or a directory: encoder.json / vocab.json
 * and vocab.bpe / merges.txt): warm_tok_load_gpt2 on the input's two parts, encoder.json, then "\n--8<--\n"
 * and vocab.bpe; then fuzz_bpe_roundtrip (fuzz_tok.h) on the input's own bytes.
 */
#include "fuzz_util.h"
#include "fuzz_tok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *at[2];
    size_t len[2];
    int n = fuzz_split(data, size, at, len, 2);
    char enc[512], bpe[512];
    fuzz_write(enc, sizeof enc, "encoder.json", at[0], len[0]);
    fuzz_write(bpe, sizeof bpe, "vocab.bpe", n > 1 ? at[1] : at[0], n > 1 ? len[1] : 0);
    warm_error err;
    warm_tokenizer *t = NULL;
    if (warm_tok_load_gpt2(&t, enc, bpe, &err) != WARM_OK) return 0;
    fuzz_bpe_roundtrip(t, data, size);
    warm_tok_free(t);
    return 0;
}
