/*
 * warm/tokenizer.h — tokenizers behind one API. Kinds:
 *   WORD: the embedded task's word-level vocabulary (a few hundred words + specials), saved as JSON beside
 *         the task data. Text is split on ASCII whitespace; each word must be in the vocabulary.
 *   (GPT-2 byte-level BPE for real text is planned behind the same API; see formats.md §5.)
 * Special tokens of a WORD vocabulary: "<pad>", "<eos>", "<unk>" (ids recorded in the file).
 */
#ifndef WARM_TOKENIZER_H
#define WARM_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "warm/core.h"

typedef struct warm_tokenizer warm_tokenizer;

/* Builds a WORD tokenizer from n words (specials added first if absent); words must be unique, non-empty,
 * without whitespace. */
warm_status warm_tok_from_words(warm_tokenizer **t, const char *const *words, int n, warm_error *err);
/* Loads/saves the JSON file {"kind":"word","vocab":[...],"pad":i,"eos":i,"unk":i}; save is atomic. */
warm_status warm_tok_load(warm_tokenizer **t, const char *path, warm_error *err);
warm_status warm_tok_save(const warm_tokenizer *t, const char *path, warm_error *err);
void warm_tok_free(warm_tokenizer *t);

int warm_tok_vocab_size(const warm_tokenizer *t);
int32_t warm_tok_pad(const warm_tokenizer *t);
int32_t warm_tok_eos(const warm_tokenizer *t);
int32_t warm_tok_unk(const warm_tokenizer *t);
/* id of a word, or -1. */
int32_t warm_tok_id(const warm_tokenizer *t, const char *word);
/* Word of an id (NULL if out of range). */
const char *warm_tok_word(const warm_tokenizer *t, int32_t id);

/*
 * Encodes text into at most max ids; *n receives the count. Unknown words map to <unk> when allow_unk,
 * otherwise WARM_ERR_FORMAT naming the word. More than max tokens is WARM_ERR_ARG (n = the full count).
 */
warm_status warm_tok_encode(const warm_tokenizer *t, const char *text, int allow_unk, int32_t *ids, int max, int *n,
                            warm_error *err);
/* Decodes ids to words joined by single spaces (malloc'd; NULL on OOM). Specials are written as their names. */
char *warm_tok_decode(const warm_tokenizer *t, const int32_t *ids, int n);

#endif
