/*
 * warm/tokenizer.h — tokenizers behind one API. Kinds (warm_tok_kind):
 *   WORD: the embedded task's word-level vocabulary (a few hundred words + specials), saved as JSON beside
 *         the task data. Text is split on ASCII whitespace; each word must be in the vocabulary.
 *         Specials "<pad>", "<eos>", "<unk>" (ids recorded in the file).
 *   BPE:  GPT-2 byte-level BPE (docs/tokenizer.md, formats.md §5), from encoder.json + vocab.bpe (OpenAI's
 *         files; Hugging Face's vocab.json + merges.txt are the same files) or from a Hugging Face
 *         tokenizer.json (model BPE, ByteLevel pre-tokenizer). Encoding is byte-exact GPT-2: the
 *         pre-tokenisation regex over Unicode 15.0 classes, the byte-to-unicode map, merge ranks. Any byte
 *         string encodes (a byte that is not part of valid UTF-8 counts as one "other" character) and
 *         decodes back to the same bytes.
 *         Specials: eos = pad = the id of "<|endoftext|>" (50256 in GPT-2), as GPT-2 uses it; there is no
 *         unk (warm_tok_unk gives -1: every byte has a token). "<|endoftext|>" written in the text is
 *         ordinary text (formats.md §5) unless the caller passes WARM_TOK_SPECIAL.
 */
#ifndef WARM_TOKENIZER_H
#define WARM_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "warm/core.h"

typedef struct warm_tokenizer warm_tokenizer;

typedef enum {
    WARM_TOK_WORD = 0, /* word-level vocabulary of the embedded task */
    WARM_TOK_BPE = 1,  /* GPT-2 byte-level BPE */
} warm_tok_kind;

/* Flags of warm_tok_encode_n. */
enum {
    WARM_TOK_ALLOW_UNK = 1, /* WORD: unknown words become <unk> instead of an error (BPE has no unknowns) */
    WARM_TOK_SPECIAL = 2,   /* BPE: special tokens written in the text ("<|endoftext|>") become their ids */
};

/* Builds a WORD tokenizer from n words (specials added first if absent); words must be unique, non-empty,
 * without whitespace. */
warm_status warm_tok_from_words(warm_tokenizer **t, const char *const *words, int n, warm_error *err);
/*
 * Loads a tokenizer JSON file, by content: warm's WORD file {"kind":"word","vocab":[...],"pad":i,"eos":i,
 * "unk":i}, or a Hugging Face tokenizer.json (an object with "model"; only model.type "BPE" with a ByteLevel
 * pre-tokenizer is accepted: other models, normalizers, pre-tokenizers, post-processors and non-special
 * added tokens are refused with an error naming the file and the field).
 */
warm_status warm_tok_load(warm_tokenizer **t, const char *path, warm_error *err);
/* Loads a BPE tokenizer from encoder.json (token -> id) and vocab.bpe (merges in rank order); errors name
 * the file, and the line for vocab.bpe. */
warm_status warm_tok_load_gpt2(warm_tokenizer **t, const char *encoder_json, const char *vocab_bpe,
                               warm_error *err);
/*
 * Opens a tokenizer named as on the command line (`--tokenizer gpt2|FILE`):
 *   "gpt2"  the GPT-2 files in the directory warm_tok_gpt2_dir() gives;
 *   a directory holding encoder.json + vocab.bpe, or vocab.json + merges.txt, or tokenizer.json;
 *   a file: warm_tok_load.
 */
warm_status warm_tok_open(warm_tokenizer **t, const char *spec, warm_error *err);
/* The directory "gpt2" means: $WARM_GPT2_DIR if set, else $WARM_SHARED_DATA/gpt2-tokenizer if that is set,
 * else ../shared/data/gpt2-tokenizer (relative to the working directory). */
const char *warm_tok_gpt2_dir(char *buf, size_t cap);
/* Saves a WORD tokenizer (atomic). A BPE tokenizer cannot be saved here: WARM_ERR_ARG. */
warm_status warm_tok_save(const warm_tokenizer *t, const char *path, warm_error *err);
void warm_tok_free(warm_tokenizer *t);

warm_tok_kind warm_tok_kind_of(const warm_tokenizer *t);
int warm_tok_vocab_size(const warm_tokenizer *t);
int32_t warm_tok_pad(const warm_tokenizer *t);
int32_t warm_tok_eos(const warm_tokenizer *t);
int32_t warm_tok_unk(const warm_tokenizer *t); /* -1 for BPE */
/* id of a word (BPE: a token in its byte-level spelling, "Ġthe"), or -1. */
int32_t warm_tok_id(const warm_tokenizer *t, const char *word);
/* Word of an id (BPE: the byte-level spelling); NULL if out of range. */
const char *warm_tok_word(const warm_tokenizer *t, int32_t id);

/*
 * Encodes text into at most max ids; *n receives the count. WORD: unknown words map to <unk> when
 * allow_unk, otherwise WARM_ERR_FORMAT naming the word (BPE ignores allow_unk). More than max tokens is
 * WARM_ERR_ARG (n = the full count, ids holds the first max; ids may be NULL when max is 0, to count).
 */
warm_status warm_tok_encode(const warm_tokenizer *t, const char *text, int allow_unk, int32_t *ids, int max, int *n,
                            warm_error *err);
/* The same for len bytes of text (NUL bytes allowed) with WARM_TOK_* flags. */
warm_status warm_tok_encode_n(const warm_tokenizer *t, const char *text, size_t len, int flags, int32_t *ids,
                              int max, int *n, warm_error *err);
/*
 * Decodes ids to text (malloc'd, NUL-terminated; NULL on OOM). WORD: words joined by single spaces, specials
 * written as their names, an out-of-range id as "<unk>". BPE: the tokens' bytes concatenated (any bytes, not
 * necessarily UTF-8; "<|endoftext|>" as that text), an out-of-range id as U+FFFD.
 */
char *warm_tok_decode(const warm_tokenizer *t, const int32_t *ids, int n);
/* The same, with the byte count in *len (the text may hold NUL bytes). */
char *warm_tok_decode_n(const warm_tokenizer *t, const int32_t *ids, int n, size_t *len);

#endif
