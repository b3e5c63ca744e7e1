/*
 * generate.c — warm_task_generate: the world's files and every split, deterministic from the seed.
 *
 * Each split draws from its own RNG stream, seeded with hash(seed, split index), in this fixed order:
 *   0 prompts_val, 1 prompts_ood, 2 prompts_train, 3 sft_train, 4 sft_val, 5 pretrain.
 * A post whose text was already drawn (in any split, earlier in this order) is drawn again, so no post is
 * shared between splits: validation and OOD prompts come first and do not depend on the sizes of the
 * other splits. Pretraining mixes 80 % ID and 20 % OOD posts (the pretrained model has read text like
 * both), as plain posts (55 %), posts with "TL;DR:" and a noisy summary (30 %: the pretrained model knows
 * the format but not the skill) and short comments (15 %).
 *
 * Every word of the generated text is in the vocabulary, so a text's token count is its word count; the
 * length limits (prompt <= ctx - response_room, documents <= ctx with <eos>) are enforced on words.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "task/task_internal.h"
#include "warm/data.h"

#define MAX_ATTEMPTS 10000 /* draws per row before giving up: far above what the default dists need (< 5) */
#define DETAIL_STREAM 0x64657461696cULL /* "detail": seeds the stream of the references' details */

enum { SPLIT_VAL, SPLIT_OOD, SPLIT_TRAIN, SPLIT_SFT_TRAIN, SPLIT_SFT_VAL, SPLIT_PRETRAIN };

/* Set of 64-bit post hashes (open addressing; 0 marks an empty slot). */
typedef struct {
    uint64_t *slot;
    size_t cap, n;
} hash_set;

typedef struct {
    const warm_task_config *cfg;
    const char *dir;
    hash_set seen;
    warm_error *err;
} generator;

static uint64_t text_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h ? h : 1;
}

static int set_grow(hash_set *hs) {
    size_t cap = hs->cap ? 2 * hs->cap : 1024;
    uint64_t *slot = calloc(cap, sizeof *slot);
    if (!slot) return -1;
    for (size_t i = 0; i < hs->cap; i++) {
        if (!hs->slot[i]) continue;
        size_t j = hs->slot[i] & (cap - 1);
        while (slot[j]) j = (j + 1) & (cap - 1);
        slot[j] = hs->slot[i];
    }
    free(hs->slot);
    hs->slot = slot;
    hs->cap = cap;
    return 0;
}

/* Inserts h; returns 1 if new, 0 if present, -1 on OOM. */
static int set_insert(hash_set *hs, uint64_t h) {
    if (2 * (hs->n + 1) > hs->cap && set_grow(hs) != 0) return -1;
    size_t j = h & (hs->cap - 1);
    for (; hs->slot[j]; j = (j + 1) & (hs->cap - 1))
        if (hs->slot[j] == h) return 0;
    hs->slot[j] = h;
    hs->n++;
    return 1;
}

/* Draws a post of distribution d that is new and whose prompt (post + separator) has at most max_prompt
 * words. */
static warm_status draw_post(generator *g, const warm_task_dist *d, warm_rng *r, int max_prompt, warm_task_post *p) {
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        int rc = warm_task_post_draw(p, d, r);
        if (rc < 0) return warm_error_set(g->err, WARM_ERR_NOMEM, "out of memory drawing a post");
        if (rc == 0) continue;
        int fresh = p->text.n_words + 1 <= max_prompt ? set_insert(&g->seen, text_hash(p->text.s)) : 0;
        if (fresh == 1) return WARM_OK;
        warm_task_post_free(p);
        if (fresh < 0) return warm_error_set(g->err, WARM_ERR_NOMEM, "out of memory");
    }
    return warm_error_set(g->err, WARM_ERR_ARG, "no new %s post within %d draws (are the sizes too large?)", d->label,
                          MAX_ATTEMPTS);
}

static void seed_split(warm_rng *r, const generator *g, int split) {
    warm_rng_seed(r, warm_hash64(g->cfg->seed, (uint64_t)split));
}

/* The prompt text: post + separator. */
static void prompt_text(const warm_task_post *p, warm_task_text *out) {
    warm_task_text_add(out, p->text.s);
    warm_task_text_add(out, WARM_TASK_SEPARATOR);
}

/* Serialises a row of n string fields (keys[i] -> vals[i]) and writes it. */
static warm_status write_row(warm_jsonl_writer *o, const char *const *keys, const char *const *vals, int n,
                             warm_error *err) {
    cJSON *row = cJSON_CreateObject();
    int ok = row != NULL;
    for (int i = 0; i < n && ok; i++) ok = cJSON_AddStringToObject(row, keys[i], vals[i]) != NULL;
    warm_status s = ok ? warm_jsonl_write(o, row, err) : warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
    cJSON_Delete(row);
    return s;
}

/* One prompt or SFT row from a fresh post (kind: "train"/"val"/"ood" for prompt rows, NULL for SFT rows). */
static warm_status prompt_row(generator *g, warm_jsonl_writer *o, const warm_task_dist *d, warm_rng *r, const char *kind,
                              int k) {
    warm_task_post p;
    warm_status s = draw_post(g, d, r, g->cfg->ctx - g->cfg->response_room, &p);
    if (s != WARM_OK) return s;
    warm_task_text prompt = {0}, ref = {0};
    prompt_text(&p, &prompt);
    /* The details come from a stream of their own, seeded by the post, so the posts of every split are the
     * same with and without details. */
    warm_rng dr;
    warm_rng_seed(&dr, warm_hash64(g->cfg->seed ^ DETAIL_STREAM, text_hash(p.text.s)));
    warm_task_post_reference(&p, g->cfg->detail, &dr, &ref);
    WARM_CHECK(prompt.n_words + ref.n_words + 1 <= g->cfg->ctx, "prompt and reference exceed ctx");
    if (prompt.oom || ref.oom) s = warm_error_set(g->err, WARM_ERR_NOMEM, "out of memory");
    if (s == WARM_OK && kind) {
        char id[48];
        snprintf(id, sizeof id, "%s-%06d", kind, k);
        const char *keys[] = {"id", "prompt", "split", "reference"}, *vals[] = {id, prompt.s, kind, ref.s};
        s = write_row(o, keys, vals, 4, g->err);
    } else if (s == WARM_OK) {
        const char *keys[] = {"prompt", "completion"}, *vals[] = {prompt.s, ref.s};
        s = write_row(o, keys, vals, 2, g->err);
    }
    warm_task_text_free(&prompt);
    warm_task_text_free(&ref);
    warm_task_post_free(&p);
    return s;
}

/* Writes n rows of one prompt/SFT split into dir/name. */
static warm_status write_prompt_split(generator *g, const char *name, int split, const warm_task_dist *d,
                                      const char *kind, int n) {
    char *path = warm_task_path(g->dir, name);
    if (!path) return warm_error_set(g->err, WARM_ERR_NOMEM, "out of memory");
    warm_jsonl_writer *o = NULL;
    warm_status s = warm_jsonl_writer_open(&o, path, g->err);
    warm_rng r;
    seed_split(&r, g, split);
    for (int k = 0; k < n && s == WARM_OK; k++) s = prompt_row(g, o, d, &r, kind, k);
    if (s == WARM_OK) s = warm_jsonl_writer_commit(o, g->err);
    else warm_jsonl_writer_abort(o);
    if (s != WARM_OK && g->err && !strstr(g->err->msg, path)) warm_error_prefix(g->err, "%s", path);
    free(path);
    return s;
}

/* One pretraining document (text + <eos> fits ctx). */
static warm_status pretrain_doc(generator *g, warm_rng *r, warm_task_text *doc) {
    double u = (double)warm_rng_uniform(r);
    if (u >= 0.85) {
        warm_task_comment(r, doc);
        return WARM_OK;
    }
    const warm_task_dist *d = (double)warm_rng_uniform(r) < 0.8 ? &warm_task_dist_id : &warm_task_dist_ood;
    warm_task_post p;
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        warm_status s = draw_post(g, d, r, g->cfg->ctx - 1, &p);
        if (s != WARM_OK) return s;
        warm_task_text_add(doc, p.text.s);
        if (u >= 0.55) {
            warm_task_text_add(doc, WARM_TASK_SEPARATOR);
            warm_task_post_noisy_summary(&p, r, doc);
        }
        warm_task_post_free(&p);
        if (doc->n_words + 1 <= g->cfg->ctx) return WARM_OK;
        warm_task_text_free(doc);
    }
    return warm_error_set(g->err, WARM_ERR_ARG, "no pretraining document fits ctx %d", g->cfg->ctx);
}

static warm_status write_pretrain(generator *g, int n) {
    char *path = warm_task_path(g->dir, "pretrain.jsonl");
    if (!path) return warm_error_set(g->err, WARM_ERR_NOMEM, "out of memory");
    warm_jsonl_writer *o = NULL;
    warm_status s = warm_jsonl_writer_open(&o, path, g->err);
    warm_rng r;
    seed_split(&r, g, SPLIT_PRETRAIN);
    for (int k = 0; k < n && s == WARM_OK; k++) {
        warm_task_text doc = {0};
        s = pretrain_doc(g, &r, &doc);
        if (s == WARM_OK && doc.oom) s = warm_error_set(g->err, WARM_ERR_NOMEM, "out of memory");
        const char *key = "text", *val = doc.s;
        if (s == WARM_OK) s = write_row(o, &key, &val, 1, g->err);
        warm_task_text_free(&doc);
    }
    if (s == WARM_OK) s = warm_jsonl_writer_commit(o, g->err);
    else warm_jsonl_writer_abort(o);
    free(path);
    return s;
}

/* tokenizer.json and task.json; the world is built from the JSON first, so a bad table fails here. */
static warm_status write_world(generator *g) {
    const char **words = NULL;
    int n = 0;
    warm_tokenizer *tok = NULL;
    warm_task_world *w = NULL;
    char *tok_path = warm_task_path(g->dir, "tokenizer.json"), *task_path = warm_task_path(g->dir, "task.json");
    cJSON *root = warm_task_world_json(g->cfg);
    warm_status s = tok_path && task_path && root ? WARM_OK : warm_error_set(g->err, WARM_ERR_NOMEM, "out of memory");
    if (s == WARM_OK) s = warm_task_vocab_words(&words, &n, g->err);
    if (s == WARM_OK) s = warm_tok_from_words(&tok, words, n, g->err);
    if (s == WARM_OK) s = warm_tok_save(tok, tok_path, g->err);
    if (s == WARM_OK) s = warm_task_world_from_json(&w, root, tok, task_path, g->err);
    else warm_tok_free(tok);
    if (s == WARM_OK) s = warm_json_write(task_path, root, g->err);
    warm_task_free(w);
    cJSON_Delete(root);
    free((void *)words);
    free(tok_path);
    free(task_path);
    return s;
}

static warm_status make_dir(const char *dir, warm_error *err) {
    if (mkdir(dir, 0777) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return WARM_OK;
        return warm_error_set(err, WARM_ERR_IO, "%s: exists and is not a directory", dir);
    }
    return warm_error_set(err, WARM_ERR_IO, "%s: cannot create directory: %s", dir, strerror(errno));
}

warm_status warm_task_generate(const warm_task_config *c, const char *dir, warm_error *err) {
    warm_status s = warm_task_config_check(c, err);
    if (s == WARM_OK) s = make_dir(dir, err);
    if (s != WARM_OK) return s;
    generator g = {.cfg = c, .dir = dir, .err = err};
    s = write_world(&g);
    if (s == WARM_OK) s = write_prompt_split(&g, "prompts_val.jsonl", SPLIT_VAL, &warm_task_dist_id, "val", c->n_prompts_val);
    if (s == WARM_OK) s = write_prompt_split(&g, "prompts_ood.jsonl", SPLIT_OOD, &warm_task_dist_ood, "ood", c->n_prompts_ood);
    if (s == WARM_OK)
        s = write_prompt_split(&g, "prompts_train.jsonl", SPLIT_TRAIN, &warm_task_dist_id, "train", c->n_prompts_train);
    if (s == WARM_OK) s = write_prompt_split(&g, "sft_train.jsonl", SPLIT_SFT_TRAIN, &warm_task_dist_id, NULL, c->n_sft_train);
    if (s == WARM_OK) s = write_prompt_split(&g, "sft_val.jsonl", SPLIT_SFT_VAL, &warm_task_dist_id, NULL, c->n_sft_val);
    if (s == WARM_OK) s = write_pretrain(&g, c->n_pretrain);
    free(g.seen.slot);
    return s;
}
