/*
 * fuzz_tokenizer.c — a tokenizer JSON file (`--tokenizer` of pretrain, sft, sample, score, tokenize, ...;
 * task/tokenizer.json): warm_tok_load, which reads warm's WORD file or a Hugging Face tokenizer.json (BPE) by
 * content. Then, WORD: every word encodes to its own id, and a save/load round trip gives the same vocabulary;
 * BPE: fuzz_bpe_roundtrip (fuzz_tok.h) on the input's own bytes.
 */
#include "fuzz_util.h"
#include "fuzz_tok.h"

#include "warm/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512], back[512];
    fuzz_write(path, sizeof path, "tokenizer.json", data, size);
    warm_error err;
    warm_tokenizer *t = NULL, *u = NULL;
    if (warm_tok_load(&t, path, &err) != WARM_OK) return 0;
    if (warm_tok_kind_of(t) == WARM_TOK_BPE) {
        fuzz_bpe_roundtrip(t, data, size);
        warm_tok_free(t);
        return 0;
    }
    int V = warm_tok_vocab_size(t);
    /* Encode each word of the vocabulary (capped) and a text of the first few, then decode. */
    int32_t ids[64];
    int n = 0;
    for (int32_t i = 0; i < V && i < 64; i++) {
        const char *w = warm_tok_word(t, i);
        if (!w || warm_tok_id(t, w) != i) {
            fprintf(stderr, "word %d does not map back to its id\n", (int)i);
            abort();
        }
        if (warm_tok_encode(t, w, 0, ids, 64, &n, &err) != WARM_OK || n != 1 || ids[0] != i) {
            fprintf(stderr, "word %d does not encode to itself\n", (int)i);
            abort();
        }
    }
    ids[0] = -1, ids[1] = V, ids[2] = 0;
    char *txt = warm_tok_decode(t, ids, 3);
    free(txt);
    warm_tok_encode(t, "the cat <unk> sat", 1, ids, 64, &n, &err);
    if (warm_tok_save(t, fuzz_path(back, sizeof back, "back.json"), &err) == WARM_OK) {
        if (warm_tok_load(&u, back, &err) != WARM_OK || warm_tok_vocab_size(u) != V || warm_tok_pad(u) != warm_tok_pad(t) ||
            warm_tok_eos(u) != warm_tok_eos(t) || warm_tok_unk(u) != warm_tok_unk(t)) {
            fprintf(stderr, "tokenizer save/load round trip failed\n");
            abort();
        }
        warm_tok_free(u);
    }
    warm_tok_free(t);
    return 0;
}
