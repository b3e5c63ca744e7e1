/*
 * fuzz_tok.h — the fixed word tokenizer the data targets tokenise with (a few words of every kind the task
 * uses, plus the specials pad 0, eos 1, unk 2), built once per process.
 */
#ifndef WARM_FUZZ_TOK_H
#define WARM_FUZZ_TOK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warm/tokenizer.h"

static inline const warm_tokenizer *fuzz_tokenizer(void) {
    static warm_tokenizer *tok;
    if (!tok) {
        static const char *const words[] = {"the", "cat", "sat", "on", "a", "mat", "post", "user", ":", "tl;dr",
                                            "good", "bad", "yes", "no", "1", "2", "."};
        warm_error err;
        if (warm_tok_from_words(&tok, words, (int)(sizeof words / sizeof *words), &err) != WARM_OK) {
            fprintf(stderr, "fuzz: tokenizer: %s\n", err.msg);
            abort();
        }
    }
    return tok;
}

/* BPE invariants on any bytes: encoding then decoding gives the bytes back (at most 512 of them), with and
 * without special-token recognition; decoding out-of-range ids does not fail. Aborts when one breaks. */
static inline void fuzz_bpe_roundtrip(const warm_tokenizer *t, const uint8_t *data, size_t size) {
    size_t len = size < 512 ? size : 512;
    int32_t ids[1024];
    warm_error err;
    for (int flags = 0; flags < 2; flags++) {
        int n = 0;
        if (warm_tok_encode_n(t, (const char *)data, len, flags ? WARM_TOK_SPECIAL : 0, ids, 1024, &n, &err) !=
            WARM_OK)
            continue; /* more than 1024 tokens: not possible for 512 bytes, but not this check's business */
        size_t back = 0;
        char *txt = warm_tok_decode_n(t, ids, n, &back);
        if (!txt || back != len || (len && memcmp(txt, data, len) != 0)) {
            fprintf(stderr, "BPE round trip lost bytes (%zu in, %zu out, flags %d)\n", len, back, flags);
            abort();
        }
        free(txt);
    }
    int32_t bad[3] = {-1, warm_tok_vocab_size(t), 0};
    size_t n;
    free(warm_tok_decode_n(t, bad, 3, &n));
}

#endif
