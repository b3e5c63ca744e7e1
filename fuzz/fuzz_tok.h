/*
 * fuzz_tok.h — the fixed word tokenizer the data targets tokenise with (a few words of every kind the task
 * uses, plus the specials pad 0, eos 1, unk 2), built once per process.
 */
#ifndef WARM_FUZZ_TOK_H
#define WARM_FUZZ_TOK_H

#include <stdio.h>
#include <stdlib.h>

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

#endif
