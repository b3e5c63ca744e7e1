/*
 * task_internal.h — what the files of src/task share: the word tables of the world (vocab.c), the text
 * builder and post generator (post.c), the world struct (world.c) and the file helpers (io.c).
 * Not a public header: the API is include/warm/task.h.
 */
#ifndef WARM_TASK_INTERNAL_H
#define WARM_TASK_INTERNAL_H

#include <stdio.h>

#include <cjson/cJSON.h>

#include "warm/core.h"
#include "warm/task.h"

/* ---- word tables (vocab.c) ---- */

#define WARM_TASK_N_TOPICS 6
#define WARM_TASK_N_NAMES 24
#define WARM_TASK_TOPIC_VERBS 6
#define WARM_TASK_TOPIC_OBJECTS 12
#define WARM_TASK_TOPIC_PLACES 3

typedef struct {
    const char *name;                               /* "home", "travel", ... */
    const char *prep;                               /* preposition before a place: "in" or "at" */
    const char *verbs[WARM_TASK_TOPIC_VERBS];       /* past tense */
    const char *objects[WARM_TASK_TOPIC_OBJECTS];   /* nouns used after "the" */
    const char *places[WARM_TASK_TOPIC_PLACES];     /* nouns used after "PREP the" */
} warm_task_topic;

/* A NULL-terminated list of phrases (space-separated words). */
typedef const char *const warm_task_phrases[];

extern const warm_task_topic warm_task_topics[WARM_TASK_N_TOPICS];
extern const char *const warm_task_names[WARM_TASK_N_NAMES];
extern warm_task_phrases warm_task_relations, warm_task_first_prefixes, warm_task_suffixes,
    warm_task_repeat_prefixes, warm_task_repeat_suffixes, warm_task_fillers, warm_task_topic_fillers,
    warm_task_openers, warm_task_closers, warm_task_comments;

#define WARM_TASK_SEPARATOR "TL;DR:"
#define WARM_TASK_ARTICLE "the"

/* Number of phrases in a NULL-terminated list. */
int warm_task_phrase_count(const char *const *list);
/* The full vocabulary (specials excluded), deterministic order; *n receives the count. */
warm_status warm_task_vocab_words(const char ***words, int *n, warm_error *err);

/* ---- text builder and post generator (post.c) ---- */

/* A growing string of space-separated words. */
typedef struct {
    char *s;       /* NUL-terminated; NULL until the first append */
    size_t len, cap;
    int n_words;
    int oom;       /* an allocation failed; s holds a prefix */
} warm_task_text;

void warm_task_text_add(warm_task_text *t, const char *phrase);
void warm_task_text_free(warm_task_text *t);

/* A distribution of posts (one for ID splits, one for OOD). */
typedef struct {
    const char *label;                      /* "id" or "ood" */
    double topic_w[WARM_TASK_N_TOPICS];     /* topic probabilities */
    int min_facts, max_facts;               /* facts per post, inclusive */
    double p_count[3];                      /* P(a fact is stated 1, 2, 3 times) */
    int min_words, max_words;               /* post length in words, inclusive */
} warm_task_dist;

extern const warm_task_dist warm_task_dist_id, warm_task_dist_ood;

#define WARM_TASK_MAX_FACTS 6
#define WARM_TASK_REF_FACTS 3   /* the reference states at most this many facts */
#define WARM_TASK_REF_DETAILS 2 /* ... and carries at most this many details */
#define WARM_TASK_REF_MAX_WORDS 20 /* details are added only while a reference stays within this (the gold's
                                      default budget) */

typedef struct {
    int name, verb, object; /* indices: warm_task_names, topic verbs, topic objects */
    int count;              /* statements in the post (salience) */
    int first;              /* order of first statement, 0-based */
} warm_task_fact;

typedef struct {
    int topic;
    int n_facts;
    warm_task_fact facts[WARM_TASK_MAX_FACTS];
    int order[WARM_TASK_MAX_FACTS]; /* fact indices by salience: count desc, then first statement */
    warm_task_text text;            /* the post, without the separator */
} warm_task_post;

/* Draws one post; returns 0 when it fell outside the distribution's word range (caller redraws), 1 when
 * accepted, -1 on allocation failure. On 0 and -1 the post holds nothing to free. */
int warm_task_post_draw(warm_task_post *p, const warm_task_dist *d, warm_rng *r);
void warm_task_post_free(warm_task_post *p);
/* The reference summary (no <eos>): the 2-3 most salient facts, "A , B and C ." */
/* The reference summary: the salient facts (see post.c); each clause carries, with probability detail, a
 * detail drawn from r (at most WARM_TASK_REF_DETAILS). detail 0 draws nothing from r. */
void warm_task_post_reference(const warm_task_post *p, double detail, warm_rng *r, warm_task_text *out);
/* A noisy summary for pretraining text: a random subset in random order, sometimes an invented or
 * repeated fact or a trailing filler. */
void warm_task_post_noisy_summary(const warm_task_post *p, warm_rng *r, warm_task_text *out);
/* A short comment (pretraining text of the world beyond posts). */
void warm_task_comment(warm_rng *r, warm_task_text *out);

/* ---- the world (world.c) ---- */

struct warm_task_world {
    warm_tokenizer *tok;
    warm_task_config cfg;
    uint8_t *cat;        /* (V) warm_task_word per token id */
    int32_t article;     /* id of "the" */
    int32_t sep;         /* id of "TL;DR:" */
    int32_t eos, pad;
    int32_t connective[3]; /* ids of "and", ",", "." (-1 if absent): not counted as extra words */
};

/* The task.json object for config c (NULL on OOM). */
cJSON *warm_task_world_json(const warm_task_config *c);
/* Builds a world from a parsed task.json and a tokenizer, whose ownership passes to the world (also on
 * failure). path names the file in messages. */
warm_status warm_task_world_from_json(warm_task_world **out, const cJSON *root, warm_tokenizer *tok,
                                      const char *path, warm_error *err);

/* ---- file helpers (io.c); files are written with warm_jsonl_writer (warm/data.h) ---- */

/* path = dir + "/" + name, malloc'd; NULL on OOM. */
char *warm_task_path(const char *dir, const char *name);

#endif
