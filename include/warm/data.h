/*
 * warm/data.h — JSON-lines I/O, preference data sets (Bradley-Terry training and evaluation), LM data sets
 * (pretraining and SFT), and the seeded, resumable order in which trainers visit them.
 *
 * Files (formats.md §4, anchors.md §1). Every input is JSONL: one JSON object per line; blank lines are
 * skipped; "\r\n" line ends, a final line without "\n" and a UTF-8 BOM at the start of the file (or of a
 * line: concatenated files) are accepted; lines have no length limit. Unknown fields are ignored
 * (reward-bench's "subset", say); a repeated key is an error. Every error message starts with
 * "<path>:<line>: " and names the field at fault, e.g.
 *     prefs.jsonl:17: not a JSON object
 *     prefs.jsonl:17: "chosen" must be a string
 *     prefs.jsonl:17: "chosen_ids"[3] = 512 is outside the vocabulary [0, 300)
 * An empty file (or one of blank lines only) is a valid data set with zero rows.
 *
 * Ownership: loaders fill a caller-owned struct and allocate its arrays; the matching *_free releases them
 * (and is safe on a zeroed or failed struct). Index lists returned by *_subset are malloc'd: free() them.
 * Batch builders write into caller buffers and allocate nothing.
 *
 * Token ids of a data set live in one int32 pool; rows refer to it by offset and length, so a data set is
 * three allocations (rows, ids, id strings) whatever its size.
 */
#ifndef WARM_DATA_H
#define WARM_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "warm/core.h"
#include "warm/tokenizer.h"

struct cJSON; /* <cjson/cJSON.h>; only the jsonl helpers take or return one */

/* ====================================================================================================== */
/* JSON lines: reader, field helpers, atomic writer (src/io/jsonl.c)                                      */

typedef struct warm_jsonl_reader warm_jsonl_reader;

/* Opens path for reading (WARM_ERR_IO naming the path if it cannot). */
warm_status warm_jsonl_open(warm_jsonl_reader **r, const char *path, warm_error *err);
/* Closes the file and frees the reader and the last parsed object. NULL is fine. */
void warm_jsonl_close(warm_jsonl_reader *r);

/*
 * Next non-blank line, without its line end (and without the BOM on line 1). *line points into the reader's
 * buffer (valid until the next call) and is NUL-terminated; *len is its length. At end of file *line = NULL
 * and WARM_OK. A line holding a NUL byte is WARM_ERR_FORMAT; a read error WARM_ERR_IO.
 */
warm_status warm_jsonl_next_line(warm_jsonl_reader *r, const char **line, size_t *len, warm_error *err);
/*
 * Next non-blank line parsed as JSON; it must be one object with nothing but whitespace after it and no
 * repeated top-level key. *obj is owned by the reader (valid until the next call or close); NULL at end of
 * file. Errors: "<path>:<line>: invalid JSON at column C", "... not a JSON object", "... duplicate key \"k\"".
 */
warm_status warm_jsonl_next(warm_jsonl_reader *r, const struct cJSON **obj, warm_error *err);
/* 1-based number of the line last returned (0 before the first). */
int64_t warm_jsonl_lineno(const warm_jsonl_reader *r);
const char *warm_jsonl_path(const warm_jsonl_reader *r);

/* Sets err to "<path>:<line>: <message>" for the line last returned; returns code. */
warm_status warm_jsonl_fail(const warm_jsonl_reader *r, warm_error *err, warm_status code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Typed field getters for the object last returned by warm_jsonl_next. Each one: a missing key or a JSON
 * null leaves *out untouched and sets *present = 0 (present may be NULL); with required != 0 a missing key
 * is the error "missing \"key\"". A key of the wrong type is WARM_ERR_FORMAT
 * ("\"key\" must be a string" / "a number" / "true or false" / "an array of integers").
 */
warm_status warm_jsonl_get_str(const warm_jsonl_reader *r, const struct cJSON *obj, const char *key, int required,
                               const char **out, int *present, warm_error *err);
/* Finite number (1e999 is rejected). */
warm_status warm_jsonl_get_num(const warm_jsonl_reader *r, const struct cJSON *obj, const char *key, int required,
                               double *out, int *present, warm_error *err);
warm_status warm_jsonl_get_bool(const warm_jsonl_reader *r, const struct cJSON *obj, const char *key, int required,
                                int *out, int *present, warm_error *err);

/* Growable int32 buffer (the id pools). Zero-initialise; free with warm_ids_free. */
typedef struct {
    int32_t *v;
    int64_t n, cap;
} warm_ids;
/* Makes room for `more` ids after n (WARM_ERR_NOMEM on failure). */
warm_status warm_ids_reserve(warm_ids *b, int64_t more, warm_error *err);
void warm_ids_free(warm_ids *b);

/*
 * Appends to b the ids of obj[key], an array of integers each in [0, vocab); *n gets the count. Errors name
 * the element: "\"chosen_ids\"[3] = 512 is outside the vocabulary [0, 300)", "\"chosen_ids\"[1] must be an
 * integer". Missing key: as the getters above (n = 0 and *present = 0 when not required).
 */
warm_status warm_jsonl_get_ids(const warm_jsonl_reader *r, const struct cJSON *obj, const char *key, int required,
                               int32_t vocab, warm_ids *b, int *n, int *present, warm_error *err);
/*
 * Tokenises text with tok and appends the ids to b; if append_eos and the last id is not tok's EOS (or text
 * has no tokens), EOS is appended, so EOS ends the result exactly once. *n gets the count appended.
 * Tokenizer errors come back as "<path>:<line>: \"key\": <tokenizer message>".
 */
warm_status warm_jsonl_tokenize(const warm_jsonl_reader *r, const char *key, const warm_tokenizer *tok,
                                const char *text, int allow_unk, int append_eos, warm_ids *b, int *n,
                                warm_error *err);

/*
 * Atomic JSONL writer: rows go to "<path>.tmp.<pid>" (mode 0644; temp files of killed writers of path are
 * removed first, warm_tmp_sweep); commit = fflush, fsync,
 * close, rename over path, fsync of the directory. abort (or any failed commit) removes the temp file, so an
 * existing file at path is never half-overwritten. Both commit and abort free the writer.
 */
typedef struct warm_jsonl_writer warm_jsonl_writer;
warm_status warm_jsonl_writer_open(warm_jsonl_writer **w, const char *path, warm_error *err);
/* Writes row (any JSON value, normally an object) unformatted as one line. */
warm_status warm_jsonl_write(warm_jsonl_writer *w, const struct cJSON *row, warm_error *err);
/* Writes one line of text (must not contain '\n'); the newline is added. */
warm_status warm_jsonl_write_line(warm_jsonl_writer *w, const char *line, warm_error *err);
warm_status warm_jsonl_writer_commit(warm_jsonl_writer *w, warm_error *err);
void warm_jsonl_writer_abort(warm_jsonl_writer *w);

/* Writes text (lines separated by '\n'; modified in place) to path atomically, through the writer above. */
warm_status warm_text_write(const char *path, char *text, warm_error *err);
/* Before a resumed run appends to its metrics log: keeps the complete lines whose "step" is at most max_step (and
 * lines without a step), drops the rest and a torn last line, rewriting path atomically; no file is no error. So
 * a log holds each step once however often the run was interrupted. */
warm_status warm_metrics_trim(const char *path, int64_t max_step, warm_error *err);
/* Writes root as formatted (indented) JSON to path atomically, through the writer above. */
warm_status warm_json_write(const char *path, const struct cJSON *root, warm_error *err);

/* Interned names (split names of a data set): index = position in v. Zero-initialise. */
typedef struct {
    char **v;
    int n;
} warm_names;
/* Index of s, adding it when new; -1 on out of memory. */
int warm_names_intern(warm_names *t, const char *s);
void warm_names_free(warm_names *t);
/* 1 when name is one of the comma-separated entries of list; an empty entry matches name == NULL. */
int warm_names_listed(const char *list, const char *name);
/* The optional string field key of obj interned into t: *idx = its index, or -1 when absent. */
warm_status warm_jsonl_get_name(const warm_jsonl_reader *r, const struct cJSON *obj, const char *key, warm_names *t,
                                int32_t *idx, warm_error *err);

/* Pool of NUL-terminated strings stored back to back (row ids). Zero-initialise. */
typedef struct {
    char *v;
    int64_t n, cap;
} warm_strpool;
/* Appends s; *off = its offset in v. */
warm_status warm_strpool_add(warm_strpool *p, const char *s, int64_t *off, warm_error *err);
void warm_strpool_free(warm_strpool *p);
/* The optional field key as a string, an integer kept as its decimal text ("id": 17 -> "17"), stored in p:
 * *off = offset, or -1 when absent. Other types: "\"key\" must be a string or an integer". */
warm_status warm_jsonl_get_label(const warm_jsonl_reader *r, const struct cJSON *obj, const char *key,
                                 warm_strpool *p, int64_t *off, warm_error *err);

/* ====================================================================================================== */
/* Data order: seeded shuffles, resumable at (epoch, pos) (src/io/prefs.c)                                */

/*
 * The order visits positions 0..n-1 once per epoch. With shuffle, the permutation of epoch e is a
 * Fisher-Yates shuffle driven by warm_rng seeded with warm_hash64(seed, e): a pure function of (seed, e), so
 * it can be rebuilt after a restart. Without shuffle every epoch is 0, 1, ..., n-1.
 * Resume: save (epoch, pos) after a step (warm_train_meta.epoch / .data_pos), then init with the same n, seed
 * and shuffle and warm_order_seek(epoch, pos): the following items are exactly those the uninterrupted run
 * would have taken.
 */
typedef struct {
    int64_t n;      /* items per epoch (> 0) */
    uint64_t seed;
    int shuffle;
    int64_t epoch;  /* epoch of the next item (0-based) */
    int64_t pos;    /* position of the next item in the epoch, [0, n) */
    int64_t *perm;  /* (n) the order of `epoch` */
} warm_order;

/* n == 0 ("no rows to train on") or n > 2^32 - 1 is WARM_ERR_ARG. Starts at (0, 0). */
warm_status warm_order_init(warm_order *o, int64_t n, uint64_t seed, int shuffle, warm_error *err);
void warm_order_free(warm_order *o);
/* Moves to (epoch, pos); pos == n means (epoch + 1, 0). Out-of-range values are WARM_ERR_ARG. */
warm_status warm_order_seek(warm_order *o, int64_t epoch, int64_t pos, warm_error *err);
/*
 * Writes the next k items to out and advances, continuing into the next epoch (newly shuffled) when one
 * ends. With map != NULL the items are map[position] (e.g. a subset's index list), else positions.
 */
void warm_order_take(warm_order *o, const int64_t *map, int64_t *out, int k);

/* ====================================================================================================== */
/* Preference data (src/io/prefs.c)                                                                        */

/*
 * Accepted row forms (one per line; each line may use a different form):
 *   explicit prompt   {"prompt": str, "chosen": str, "rejected": str}
 *   implicit prompt   {"chosen": str, "rejected": str}      chosen and rejected each hold prompt + response.
 *                     Anthropic HH form (formats.md §4.2): when the two texts' common head holds
 *                     "\n\nAssistant:", the prompt is that head up to and including its last such marker and the
 *                     responses are the rest (warm_pref_hh_split). Otherwise the prompt is empty (length 0);
 *                     scorers can still reuse the shared head through warm_pref_shared_prefix.
 *   pre-tokenised     {"prompt_ids": [int], "chosen_ids": [int], "rejected_ids": [int]}   prompt_ids optional
 * Text fields are tokenised separately and concatenated as ids (prompt ids + response ids; for a word-level
 * vocabulary this equals tokenising the texts joined by a space; for GPT-2 BPE it is TRL's DPO rule and can
 * differ from encoding the joined string at the join, docs/tokenizer.md §6). As in TRL, EOS is appended to each text
 * response unless it already ends with EOS (so exactly once), and nothing is added to the prompt. Ids are
 * taken as they are (no EOS), range-checked against the vocabulary. When a row has *_ids it is a
 * pre-tokenised row and its text fields are ignored (TRL skips tokenisation the same way). An id row whose
 * prompt + response is empty on either side is an error (the reward needs a last token).
 * Optional fields (null = absent):
 *   "margin": number          BT loss -log sigma(r+ - r- - margin); 0 when absent
 *   "split": string           "train", "val", "ood" or any other name, kept as written
 *   "corrupted": bool         label swapped on purpose (issue 3); false when absent
 *   "gold_chosen", "gold_rejected": numbers   gold rewards; NAN when absent
 *   "id": string or integer   an integer is kept as its decimal text
 * Length rule (TRL: drop, never truncate): a row whose prompt + chosen or prompt + rejected is longer than
 * opts.max_len tokens is dropped and counted in n_dropped_long.
 */
/* Byte length of the HH prompt of an implicit row: the longest common prefix of chosen and rejected, cut just
 * after its last "\n\nAssistant:"; 0 when the common prefix holds no marker. */
size_t warm_pref_hh_split(const char *chosen, const char *rejected);

typedef struct {
    int max_len;          /* longest kept prompt + response (tokens); <= 0: no limit. Default 1024 (TRL) */
    int allow_unk;        /* text: unknown words map to <unk> instead of being an error. Default 0 */
    int32_t vocab_size;   /* without a tokenizer: id range for *_ids rows (required then) */
    int32_t pad_id;       /* without a tokenizer: padding id for batches (required then, in [0, vocab)) */
} warm_prefs_opts;
warm_prefs_opts warm_prefs_opts_default(void);

typedef struct {
    int64_t prompt_off, chosen_off, rejected_off; /* into ids */
    int32_t prompt_len, chosen_len, rejected_len;  /* responses include the EOS of text rows */
    float margin;          /* 0 when absent */
    float gold_chosen;     /* NAN when absent */
    float gold_rejected;   /* NAN when absent */
    int32_t split;         /* index into split_names; -1 when absent */
    int64_t id_off;        /* offset of the id in strs.v; -1 when absent */
    int64_t line;          /* 1-based line in the source file (for messages) */
    uint8_t corrupted;     /* 0/1 */
    uint8_t has_margin;    /* the row had "margin" */
    uint8_t pretokenised;  /* the row came as *_ids */
} warm_pref_row;

typedef struct {
    int64_t n;              /* rows kept */
    warm_pref_row *rows;    /* (n) in file order */
    warm_ids ids;           /* the id pool */
    warm_strpool strs;      /* row ids */
    warm_names split_names;
    int64_t n_lines;        /* non-blank lines read */
    int64_t n_dropped_long; /* rows dropped by max_len */
    int64_t n_margin;       /* kept rows with a margin */
    int32_t max_seq;        /* longest kept prompt + response (>= 1 when n > 0) */
    int32_t vocab_size, pad_id, eos_id; /* eos_id = -1 without a tokenizer */
} warm_prefs;

/*
 * Loads path. tok may be NULL when every row is pre-tokenised (a text row is then an error naming its line);
 * with a tokenizer, vocab/pad/eos come from it and opts->vocab_size/pad_id are ignored. opts NULL = defaults.
 * On error *d is freed (zeroed) and err says "<path>:<line>: ...".
 */
warm_status warm_prefs_load(warm_prefs *d, const char *path, const warm_tokenizer *tok, const warm_prefs_opts *opts,
                            warm_error *err);
void warm_prefs_free(warm_prefs *d);

/* Split name of row i, or NULL when it has none. */
const char *warm_prefs_split(const warm_prefs *d, int64_t i);
/* Id of row i, or NULL. */
const char *warm_prefs_id(const warm_prefs *d, int64_t i);

/*
 * Rows matching a filter, in file order, into *idx (malloc'd, free(); non-NULL even when *n = 0).
 * splits: NULL = any; else a comma-separated list of names, where an empty name matches rows without a
 * split ("train,val", "ood", "train," = train or none). corrupted: -1 any, 0 clean only, 1 corrupted only.
 */
warm_status warm_prefs_subset(const warm_prefs *d, const char *splits, int corrupted, int64_t **idx, int64_t *n,
                              warm_error *err);

/* Scorer view of one pair: side 0 = chosen, 1 = rejected; pointers into the pool (valid while d lives). */
typedef struct {
    const int32_t *prompt;
    int32_t prompt_len;
    const int32_t *resp[2];
    int32_t resp_len[2];
} warm_pref_view;
warm_pref_view warm_prefs_view(const warm_prefs *d, int64_t i);
/*
 * Number of leading tokens the two full sequences (prompt + response) share, capped so that each side keeps
 * at least one token of its own: a scorer can prefill this prefix once (warm_decode_prefill) and extend each
 * side with the rest. >= prompt_len whenever both responses are non-empty; 0 possible.
 */
int32_t warm_pref_shared_prefix(const warm_pref_view *v);

/*
 * Bradley-Terry batch of P pairs (indices into d->rows):
 *   tokens  (2P, T)  row p = prompt + chosen of pairs[p], row P + p = prompt + rejected of pairs[p],
 *                    right-padded with d->pad_id (row stride T)
 *   lengths (2P)     in [1, T]
 *   margins (P)      may be NULL; 0 for rows without a margin
 * T: > 0 fixes T (every row must fit: WARM_ERR_ARG naming the pair otherwise); 0 = the longest row of this
 * batch (dynamic padding, like TRL's collator). Buffers must hold 2P * T ints: 2P * d->max_seq always
 * suffices for T = 0. *T_used receives T.
 */
warm_status warm_prefs_batch(const warm_prefs *d, const int64_t *pairs, int P, int T, int32_t *tokens,
                             int32_t *lengths, float *margins, int *T_used, warm_error *err);

/* ====================================================================================================== */
/* LM data: pretraining and SFT (src/io/lmdata.c)                                                          */

/*
 * Row forms (may be mixed in one file):
 *   pretraining  {"text": str}                          ids = text + EOS
 *   SFT          {"prompt": str, "completion": str}     ids = prompt + completion + EOS
 * EOS is appended unless the text (completion) already ends with it. Optional "split" (string) and "id" as
 * for preference rows. A row with both "text" and "prompt"/"completion" is an error.
 * Loss positions: position t (predicting target = token t+1) counts when t + 1 < len and, for SFT, when
 * t + 1 >= prompt_len — i.e. the loss covers exactly the completion tokens including EOS; pretraining counts
 * every position that has a next token.
 * Length rule: pretraining rows longer than max_len are truncated to their first max_len tokens (counted in
 * n_truncated; the EOS is then cut off); SFT rows longer than max_len are dropped (n_dropped_long). Rows
 * with no target at all (a single token, e.g. empty text) are dropped (n_dropped_empty).
 */
typedef enum { WARM_LM_TEXT = 0, WARM_LM_SFT = 1 } warm_lm_kind;

typedef struct {
    int max_len;   /* longest sequence; <= 0 no limit. Default 1024 */
    int allow_unk; /* as for preferences. Default 0 */
} warm_lm_opts;
warm_lm_opts warm_lm_opts_default(void);

typedef struct {
    int64_t off;         /* into ids */
    int32_t len;         /* tokens in the row (>= 2) */
    int32_t prompt_len;  /* SFT: prompt tokens at the start of the row; 0 for pretraining */
    int32_t split;       /* index into split_names; -1 when absent */
    int64_t id_off;      /* into strs.v; -1 when absent */
    int64_t line;        /* 1-based source line */
    uint8_t kind;        /* warm_lm_kind */
    uint8_t truncated;   /* pretraining row cut to max_len */
} warm_lm_row;

typedef struct {
    int64_t n;
    warm_lm_row *rows;   /* (n) in file order */
    warm_ids ids;        /* the id pool */
    warm_strpool strs;   /* row ids */
    warm_names split_names;
    int64_t n_lines, n_text, n_sft;            /* lines read; kept rows of each kind */
    int64_t n_truncated, n_dropped_long, n_dropped_empty;
    int32_t max_seq;                           /* longest kept row */
    int32_t vocab_size, pad_id, eos_id;
} warm_lmdata;

/* Loads path with tok (required). opts NULL = defaults. On error *d is freed and err names the line. */
warm_status warm_lm_load(warm_lmdata *d, const char *path, const warm_tokenizer *tok, const warm_lm_opts *opts,
                         warm_error *err);
void warm_lm_free(warm_lmdata *d);
const char *warm_lm_split(const warm_lmdata *d, int64_t i);
const char *warm_lm_id(const warm_lmdata *d, int64_t i);
/* As warm_prefs_subset; kind: -1 any, else WARM_LM_TEXT or WARM_LM_SFT. */
warm_status warm_lm_subset(const warm_lmdata *d, const char *splits, int kind, int64_t **idx, int64_t *n,
                           warm_error *err);

/* An SFT row split into prompt and completion (pretraining rows: prompt_len 0, completion = the text). */
typedef struct {
    const int32_t *prompt;
    int32_t prompt_len;
    const int32_t *completion;  /* includes the EOS (unless a truncated pretraining row lost it) */
    int32_t completion_len;
} warm_lm_view;
warm_lm_view warm_lm_view_row(const warm_lmdata *d, int64_t i);

/*
 * LM batch of B rows (indices into d->rows):
 *   tokens    (B, T)  right-padded with d->pad_id (row stride T)
 *   targets   (B, T)  targets[b, t] = tokens[b, t + 1] for t + 1 < len_b, else 0
 *   loss_mask (B, T)  1.0 where the target counts (see the row forms above), else 0.0
 *   lengths   (B)     in [2, T]
 * T as in warm_prefs_batch (> 0 fixed, 0 = longest row in the batch; buffers of B * d->max_seq suffice).
 */
warm_status warm_lm_batch(const warm_lmdata *d, const int64_t *rows, int B, int T, int32_t *tokens, int32_t *targets,
                          float *loss_mask, int32_t *lengths, int *T_used, warm_error *err);

#endif
