/*
 * warm/task.h — the embedded task: a generated summarisation world (the stand-in for Reddit TL;DR) and its
 * exact gold reward (the stand-in for the paper's control reward model). docs/task.md is the long version.
 *
 * THE WORLD. A post is a readable word sequence about one topic (home, travel, work, pets, money, food).
 * It states 2-4 FACTS; a fact is the clause "NAME VERB the OBJECT" ("alice booked the flight"), possibly
 * decorated ("so my friend alice booked the flight at the airport ."). Some facts are stated again later in
 * the post: the SALIENCE of a fact is how often the post states it. Filler sentences carry no fact. A post
 * is 40-80 words and ends with the separator word "TL;DR:". The reference summary states the 2-3 most
 * salient facts in one sentence ("alice booked the flight , bob missed the train and carol lost the passport
 * .") and is followed by <eos>. Everything is generated from one seed with warm_rng streams.
 *
 * THE PARSER. A fact is recognised wherever four consecutive words are NAME, VERB, "the", OBJECT (the word
 * categories come from task.json). Nothing else in the generated text matches this pattern, so parsing a
 * post returns exactly the facts it was generated from, with their counts.
 *
 * THE GOLD REWARD of a summary y for a post x, over the words of y before its first <eos> (pads skipped):
 *
 *   g = w_cov * coverage - w_hal * n_hallucinated - w_rep * n_repeated - w_len * max(0, n_words - budget)
 *       - w_eos * [y has no <eos>] - w_extra * n_extra
 *
 *   coverage       = sum of count_x(f) over the distinct post facts f stated in y / sum of count_x(f) over
 *                    all post facts (0 when the post has none): frequency-weighted recall, in [0, 1];
 *   n_hallucinated = distinct facts stated in y that the post never states;
 *   n_repeated     = word positions i of y whose 4-gram y[i..i+3] already started at an earlier position
 *                    (a fact clause stated twice counts at least 1; a degenerate loop counts many);
 *   n_words        = words of y before <eos>;
 *   n_extra        = words of y outside its fact clauses, other than the connectives "and" "," "." (the
 *                    details references carry, "at the lab", "last night", and any filler).
 *
 * Defaults: w_cov 2, w_hal 0.5, w_rep 0.25, w_len 0.1 per word, budget 20 words, w_eos 1, w_extra 0.75 per
 * word. A reference without details scores 2 * (its share of the salience), about 1.2-2; references carry
 * details (config.detail), so the best summaries are the references without them. Up to the budget, stating more true facts really is better
 * (so longer summaries look better in the natural data: the spurious cue a proxy learns); beyond it, extra
 * words are rambling, repeated facts, or invented facts, all of which the gold reward punishes.
 *
 * FILES written by warm_task_generate into a directory:
 *   tokenizer.json      the WORD vocabulary (warm/tokenizer.h)
 *   task.json           the world: config, sizes, gold weights, word categories, topics, split distributions
 *   pretrain.jsonl      {"text": ...}: posts, posts with "TL;DR:" and a noisy summary, short comments
 *   sft_train.jsonl     {"prompt": "... TL;DR:", "completion": "reference words"} (no literal <eos>: the trainer
 *   sft_val.jsonl        appends it, as TRL does)
 *   prompts_train.jsonl {"id", "prompt", "split": "train"|"val"|"ood", "reference"} (reference without <eos>)
 *   prompts_val.jsonl
 *   prompts_ood.jsonl   OOD posts: 4-5 facts, 55-90 words, mostly stated once, topic mix reversed
 * Each file is written atomically (temp file, fflush + fsync, rename). Every prompt leaves room for a
 * response: prompt tokens <= ctx - response_room, and prompt + reference + <eos> <= ctx. No post appears
 * twice across all splits.
 */
#ifndef WARM_TASK_H
#define WARM_TASK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "warm/core.h"
#include "warm/model.h"
#include "warm/tokenizer.h"

/* Weights of the gold reward (see above). All >= 0. */
typedef struct {
    double coverage;      /* w_cov: multiplies the coverage fraction */
    double hallucination; /* w_hal: per distinct invented fact */
    double repetition;    /* w_rep: per repeated 4-gram position */
    double length;        /* w_len: per word beyond the budget */
    double missing_eos;   /* w_eos: when the summary has no <eos> */
    double extra;         /* w_extra: per word outside the fact clauses other than "and" "," "." (details) */
    int budget;           /* words allowed before the length penalty starts */
} warm_gold_weights;

/* Generation settings; warm_task_config_default fills the defaults (in brackets). */
typedef struct {
    uint64_t seed;        /* [1] every split is a pure function of the seed */
    int n_pretrain;       /* [4000] pretraining documents */
    int n_sft_train;      /* [3000] SFT pairs */
    int n_sft_val;        /* [200] held-out SFT pairs (validation loss) */
    int n_prompts_train;  /* [3000] preference prompts */
    int n_prompts_val;    /* [500] ID validation prompts */
    int n_prompts_ood;    /* [500] OOD prompts */
    int ctx;              /* [128] model context: prompt + reference + <eos> must fit */
    int response_room;    /* [32] tokens kept free after every prompt for a sampled response (incl. <eos>) */
    double detail;        /* [0.5] probability that a reference clause carries a detail of its post ("at the
                             lab", "last night"); at most 2 per reference */
    warm_gold_weights gold;
} warm_task_config;

void warm_task_config_default(warm_task_config *c);
/* WARM_ERR_ARG naming the field when a size is negative, a weight negative or not finite, or ctx/response_room
 * leave no room for a post (ctx - response_room must be >= 96). */
warm_status warm_task_config_check(const warm_task_config *c, warm_error *err);

/* Generates the world and all splits into dir (created if missing; existing files replaced). */
warm_status warm_task_generate(const warm_task_config *c, const char *dir, warm_error *err);

/* Word categories of the world (per token id). */
typedef enum {
    WARM_TASK_WORD_OTHER = 0, /* fillers, connectives, punctuation, specials */
    WARM_TASK_WORD_NAME,
    WARM_TASK_WORD_VERB,
    WARM_TASK_WORD_OBJECT,
    WARM_TASK_WORD_PLACE,
    WARM_TASK_WORD_ARTICLE,   /* "the" */
    WARM_TASK_WORD_SEPARATOR, /* "TL;DR:" */
} warm_task_word;

typedef struct warm_task_world warm_task_world;

/* Loads task.json and tokenizer.json from dir (errors name the file and the key at fault). */
warm_status warm_task_load(warm_task_world **w, const char *dir, warm_error *err);
void warm_task_free(warm_task_world *w);

const warm_tokenizer *warm_task_tokenizer(const warm_task_world *w);
/* The config recorded in task.json (seed, sizes, ctx, gold weights as currently set). */
const warm_task_config *warm_task_world_config(const warm_task_world *w);
/* Replaces the gold weights used by warm_task_gold*; WARM_ERR_ARG if a weight is negative or not finite. */
warm_status warm_task_set_gold_weights(warm_task_world *w, const warm_gold_weights *g, warm_error *err);
warm_task_word warm_task_word_category(const warm_task_world *w, int32_t id);

/* A fact as token ids; pos = index of its NAME word in the parsed sequence. */
typedef struct {
    int32_t name, verb, object;
    int pos;
} warm_fact;

/*
 * Parses ids[0..n) into fact statements, left to right, non-overlapping (a match consumes its 4 words).
 * Writes at most max facts and returns how many were found (may exceed max). No separator handling: pass
 * the post or the summary only (see warm_task_split_prompt).
 */
int warm_task_parse_facts(const warm_task_world *w, const int32_t *ids, int n, warm_fact *facts, int max);

/* Length of the post inside a prompt: the ids before the first "TL;DR:" (n when there is none). */
int warm_task_split_prompt(const warm_task_world *w, const int32_t *ids, int n);

/* Components of one gold evaluation. */
typedef struct {
    double total;           /* the gold reward g */
    double coverage;        /* frequency-weighted recall of post facts, [0, 1] */
    int n_post_facts;       /* distinct facts in the post */
    int n_covered;          /* distinct post facts stated in the summary */
    int n_stated;           /* fact statements in the summary, repeats included */
    int n_hallucinated;     /* distinct stated facts absent from the post */
    int n_repeated_facts;   /* statements beyond the first of the same fact (informational, not penalised) */
    int n_repeated;         /* repeated 4-gram positions (penalised) */
    int n_words;            /* summary words before <eos> (pads not counted) */
    int over_budget;        /* max(0, n_words - budget) */
    int n_extra;            /* words outside the fact clauses other than "and" "," "." (details, fillers) */
    int has_eos;            /* 1 when the summary contains <eos> */
} warm_gold;

/*
 * Gold reward from token ids. prompt: the post, or a prompt holding the post before "TL;DR:" (pads are
 * skipped). resp: the summary; everything after its first <eos> is ignored; without <eos> the missing-end
 * penalty applies. Returns the total; fills parts when non-NULL. Pure, allocation-free, O(n^2) in the
 * lengths (n <= a few hundred here).
 */
double warm_task_gold_ids(const warm_task_world *w, const int32_t *prompt, int n_prompt, const int32_t *resp,
                          int n_resp, warm_gold *parts);

/*
 * Gold reward from text: prompt and summary are split on whitespace; unknown words become <unk> (a word
 * that is no fact). A literal "<eos>" word in summary marks its end. parts->total holds the reward.
 * Fails only on allocation (WARM_ERR_NOMEM).
 */
warm_status warm_task_gold(const warm_task_world *w, const char *prompt, const char *summary, warm_gold *parts,
                           warm_error *err);

/*
 * Scores a JSONL file: each non-blank line is an object with a prompt and one of "response",
 * "completion", or "chosen" + "rejected". Adds "gold" and "gold_parts" (one response), or "gold_chosen",
 * "gold_rejected", "gold_chosen_parts", "gold_rejected_parts" (a pair), replacing earlier values; other keys
 * are kept in order. The conventions of the data loaders and of `warm sample` hold:
 *   - every field may come pre-tokenised as "<field>_ids" (an array of token ids, e.g. "response_ids",
 *     "prompt_ids"), which wins over the text and is scored exactly as given: an <eos> id ends the response,
 *     none is the missing-end penalty;
 *   - a text response does not carry its end token (TRL appends it), so <eos> is appended to "completion",
 *     "chosen", "rejected" and "response" texts, except on a row whose boolean "eos" is false (`warm sample`
 *     records so when a sample hit the token limit); a literal "<eos>" word in a text ends it there.
 * A malformed line is WARM_ERR_FORMAT naming in_path and the line number. out_path is written atomically
 * (nothing is written on error). *n_rows (optional) receives the rows scored.
 */
warm_status warm_task_gold_jsonl(const warm_task_world *w, const char *in_path, const char *out_path, int *n_rows,
                                 warm_error *err);

/* ====================================================================================================== */
/* Oracle-labelled preferences and task statistics (src/task/prefs.c, src/task/stats.c)                   */

/* A response generator: a policy checkpoint (already loaded) sampled at a temperature. */
typedef struct {
    const char *name;            /* recorded per response ("sft@1", "sft@1.5", "pretrain", ...) */
    const warm_model *model;
    float temperature;
} warm_task_generator;

enum { WARM_PAIRS_RANDOM = 0, WARM_PAIRS_CLOSEST = 1 };

/* Levenshtein distance between two token sequences (insertions, deletions, substitutions cost 1); row is
 * scratch space of nb + 1 ints. */
int warm_task_edit_distance(const int32_t *a, int na, const int32_t *b, int nb, int32_t *row);

typedef struct {
    double tau;          /* BT labelling temperature: P(a > b) = sigma((g_a - g_b) / tau) [0.25] */
    double corrupt;      /* fraction of TRAIN labels swapped on purpose, recorded per pair [0] */
    int max_new;         /* most tokens per response [32] */
    uint64_t seed;       /* sampling, labelling and corruption [1] */
    int limit_train, limit_val, limit_ood; /* first K prompts of each split; 0 = all */
    int ood_val;         /* the pairs of the first K OOD prompts get split "ood_val": a held-out OOD set to select
                            members on, disjoint from the "ood" pairs reported as the OOD test [0] */
    float top_p;         /* [1] */
    int top_k;           /* [0] */
    int draws;           /* responses drawn per prompt (>= 2); the pair is two of them with different gold
                            rewards, chosen uniformly among such pairs (a gold tie only when all are equal) [2] */
    int pair_select;     /* WARM_PAIRS_RANDOM: the pair is drawn uniformly as above; WARM_PAIRS_CLOSEST: only
                            the pairs of the smallest token edit distance take part (contrastive pairs that
                            differ in few words; docs/task.md section 6) [RANDOM] */
    const char *clean_path; /* when set, also writes the same pairs without the corruption swaps here (the clean
                               setup's file in the same pass: identical rows except "corrupted" ones) [NULL] */
} warm_task_prefs_config;

void warm_task_prefs_config_default(warm_task_prefs_config *c);

typedef struct {
    int64_t n[3];            /* pairs written per split: train, val, ood (ood_val included) */
    int64_t n_ood_val;       /* OOD pairs written as split "ood_val" */
    int64_t n_corrupted;     /* train pairs with swapped labels */
    int64_t n_gold_agree[3]; /* pairs whose (uncorrupted) label agrees with the gold order (gold ties excluded) */
    int64_t n_gold_ties[3];
    double seconds;
} warm_task_prefs_summary;

/*
 * Samples responses and labels preference pairs, writing one JSONL file (atomically) with rows
 *   {"id", "split", "prompt", "chosen", "rejected", "prompt_ids", "chosen_ids", "rejected_ids",
 *    "corrupted", "gold_chosen", "gold_rejected", "label_flip_p", "chosen_source", "rejected_source"}
 * Train and val pairs: two samples of `policy` for each prompt of prompts_train/prompts_val.jsonl (shared
 * prompt prefix). OOD pairs: for each prompt of prompts_ood.jsonl, two responses from two different
 * generators drawn from `ood` (n_ood >= 2), as the paper's D_ood mixes policies and temperatures.
 * With draws = K > 2, K responses are drawn (train/val: K policy samples; OOD: one generator drawn per
 * response, each pair then needs two different generators) and the pair is drawn uniformly among the pairs
 * whose gold rewards differ (and, OOD, whose generators differ), as preference sets drop ties; when no pair
 * qualifies, among all (OOD: cross-generator) pairs.
 * The label is drawn from P(first > second) = sigma((g_1 - g_2)/tau) (natural inconsistency); then, for
 * train pairs only, a Bernoulli(corrupt) draw swaps chosen and rejected and sets "corrupted": true.
 * The *_ids fields are exact (responses end with <eos> only if the policy emitted it) and take precedence
 * over the text fields in the preference loader; the text is for people.
 */
warm_status warm_task_prefs(const warm_task_world *w, const char *task_dir, const warm_task_generator *policy,
                            const warm_task_generator *ood, int n_ood, const warm_task_prefs_config *c,
                            const char *out_path, FILE *progress, warm_task_prefs_summary *sum, warm_error *err);

/*
 * Statistics of a preferences file written by warm_task_prefs, with the references of the task's prompts:
 * gold distribution by response source and of the references, label agreement with the gold order per
 * split (clean / corrupted), how often the chosen response is the longer one (the spurious cue) and how often
 * the gold-better one is, and the share of responses with repeated / hallucinated facts or no <eos>.
 * Prints a report to out and, when json_path is non-NULL, writes the numbers as JSON (atomically).
 */
warm_status warm_task_stats(const warm_task_world *w, const char *task_dir, const char *prefs_path, FILE *out,
                            const char *json_path, warm_error *err);

#endif
