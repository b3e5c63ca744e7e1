/*
 * world.c — the task's world: config defaults and checks, task.json (write and strict read), word
 * categories per token id, accessors.
 *
 * task.json is the one description of a generated task:
 *   {"format": "warm-task", "version": 1, "seed": S, "ctx": 128, "response_room": 32,
 *    "sizes": {"pretrain": n, "sft_train": n, "sft_val": n, "prompts_train": n, "prompts_val": n,
 *              "prompts_ood": n},
 *    "gold": {"coverage": 2, "hallucination": 0.5, "repetition": 0.25, "repetition_ngram": 4,
 *             "length": 0.1, "budget": 20, "missing_eos": 1},
 *    "words": {"separator": "TL;DR:", "article": "the", "names": [...], "verbs": [...], "objects": [...],
 *              "places": [...]},
 *    "topics": [...], "distributions": {...}}          (descriptive: written, not needed to score)
 * Loading checks every key it needs (type, range), rejects unknown and duplicate keys, and requires every
 * categorised word to be in tokenizer.json with exactly one category. Generation builds the world through
 * the same reader (from the JSON it is about to write), so a generated task always loads.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "task/task_internal.h"

#define SEED_MAX 9007199254740992.0 /* 2^53: seeds are stored as JSON numbers, exact up to here */

void warm_task_config_default(warm_task_config *c) {
    memset(c, 0, sizeof *c);
    c->seed = 1;
    c->n_pretrain = 4000;
    c->n_sft_train = 3000;
    c->n_sft_val = 200;
    c->n_prompts_train = 3000;
    c->n_prompts_val = 500;
    c->n_prompts_ood = 500;
    c->ctx = 128;
    c->response_room = 32;
    c->gold = (warm_gold_weights){.coverage = 2.0, .hallucination = 0.5, .repetition = 0.25, .length = 0.1,
                                  .missing_eos = 1.0, .extra = 0.75, .budget = 20};
    c->detail = 0.5;
}

static warm_status check_weights(const warm_gold_weights *g, warm_error *err) {
    const double v[6] = {g->coverage, g->hallucination, g->repetition, g->length, g->missing_eos, g->extra};
    static const char *const names[6] = {"coverage", "hallucination", "repetition", "length", "missing_eos",
                                         "extra"};
    for (int i = 0; i < 6; i++)
        if (!(isfinite(v[i]) && v[i] >= 0))
            return warm_error_set(err, WARM_ERR_ARG, "gold weight %s = %g must be finite and >= 0", names[i], v[i]);
    if (g->budget < 0 || g->budget > 100000)
        return warm_error_set(err, WARM_ERR_ARG, "gold budget %d is out of range [0, 100000]", g->budget);
    return WARM_OK;
}

warm_status warm_task_config_check(const warm_task_config *c, warm_error *err) {
    const int sizes[6] = {c->n_pretrain, c->n_sft_train, c->n_sft_val, c->n_prompts_train, c->n_prompts_val,
                          c->n_prompts_ood};
    static const char *const names[6] = {"pretrain", "sft_train", "sft_val", "prompts_train", "prompts_val",
                                         "prompts_ood"};
    for (int i = 0; i < 6; i++)
        if (sizes[i] < 0 || sizes[i] > 10000000)
            return warm_error_set(err, WARM_ERR_ARG, "size %s = %d is out of range [0, 10000000]", names[i], sizes[i]);
    if (c->seed > (1ull << 53))
        return warm_error_set(err, WARM_ERR_ARG, "seed %llu is larger than 2^53", (unsigned long long)c->seed);
    if (!(c->detail >= 0 && c->detail <= 1))
        return warm_error_set(err, WARM_ERR_ARG, "detail %g is not a probability in [0, 1]", c->detail);
    int ref_room = c->detail > 0 ? WARM_TASK_REF_MAX_WORDS + 1 : 16;
    if (c->response_room < ref_room || c->response_room > 65536)
        return warm_error_set(err, WARM_ERR_ARG, "response_room %d is out of range [%d, 65536] (a reference and "
                              "its <eos> take up to %d tokens%s)", c->response_room, ref_room, ref_room,
                              c->detail > 0 ? " with details" : "");
    if (c->ctx > 65536 || c->ctx - c->response_room < 96)
        return warm_error_set(err, WARM_ERR_ARG, "ctx %d leaves %d tokens for a prompt; posts need 96 (ctx <= 65536)",
                              c->ctx, c->ctx - c->response_room);
    return check_weights(&c->gold, err);
}

/* ---- writing task.json ---- */

static cJSON *string_array(const char *const *list, int n) { return cJSON_CreateStringArray(list, n); }

/* Adds item under key; deletes item and returns 0 if it is NULL or cannot be added. */
static int add(cJSON *obj, const char *key, cJSON *item) {
    if (item && cJSON_AddItemToObject(obj, key, item)) return 1;
    cJSON_Delete(item);
    return 0;
}

static cJSON *sizes_json(const warm_task_config *c) {
    cJSON *o = cJSON_CreateObject();
    int ok = o && cJSON_AddNumberToObject(o, "pretrain", c->n_pretrain) &&
             cJSON_AddNumberToObject(o, "sft_train", c->n_sft_train) &&
             cJSON_AddNumberToObject(o, "sft_val", c->n_sft_val) &&
             cJSON_AddNumberToObject(o, "prompts_train", c->n_prompts_train) &&
             cJSON_AddNumberToObject(o, "prompts_val", c->n_prompts_val) &&
             cJSON_AddNumberToObject(o, "prompts_ood", c->n_prompts_ood);
    if (!ok) cJSON_Delete(o);
    return ok ? o : NULL;
}

static cJSON *gold_json(const warm_gold_weights *g) {
    cJSON *o = cJSON_CreateObject();
    int ok = o && cJSON_AddNumberToObject(o, "coverage", g->coverage) &&
             cJSON_AddNumberToObject(o, "hallucination", g->hallucination) &&
             cJSON_AddNumberToObject(o, "repetition", g->repetition) &&
             cJSON_AddNumberToObject(o, "repetition_ngram", 4) && cJSON_AddNumberToObject(o, "length", g->length) &&
             cJSON_AddNumberToObject(o, "budget", g->budget) &&
             cJSON_AddNumberToObject(o, "missing_eos", g->missing_eos) &&
             cJSON_AddNumberToObject(o, "extra", g->extra);
    if (!ok) cJSON_Delete(o);
    return ok ? o : NULL;
}

/* The union of one field over all topics. */
static cJSON *topic_union(int field) {
    const char *w[WARM_TASK_N_TOPICS * WARM_TASK_TOPIC_OBJECTS];
    int n = 0;
    for (int t = 0; t < WARM_TASK_N_TOPICS; t++) {
        const warm_task_topic *tp = &warm_task_topics[t];
        int k = field == 0 ? WARM_TASK_TOPIC_VERBS : field == 1 ? WARM_TASK_TOPIC_OBJECTS : WARM_TASK_TOPIC_PLACES;
        for (int i = 0; i < k; i++) w[n++] = field == 0 ? tp->verbs[i] : field == 1 ? tp->objects[i] : tp->places[i];
    }
    return string_array(w, n);
}

static cJSON *words_json(void) {
    cJSON *o = cJSON_CreateObject();
    int ok = o && cJSON_AddStringToObject(o, "separator", WARM_TASK_SEPARATOR) &&
             cJSON_AddStringToObject(o, "article", WARM_TASK_ARTICLE) &&
             add(o, "names", string_array(warm_task_names, WARM_TASK_N_NAMES)) && add(o, "verbs", topic_union(0)) &&
             add(o, "objects", topic_union(1)) && add(o, "places", topic_union(2));
    if (!ok) cJSON_Delete(o);
    return ok ? o : NULL;
}

static cJSON *topics_json(void) {
    cJSON *a = cJSON_CreateArray();
    for (int t = 0; a && t < WARM_TASK_N_TOPICS; t++) {
        const warm_task_topic *tp = &warm_task_topics[t];
        cJSON *o = cJSON_CreateObject();
        int ok = o && cJSON_AddStringToObject(o, "name", tp->name) && cJSON_AddStringToObject(o, "prep", tp->prep) &&
                 add(o, "verbs", string_array(tp->verbs, WARM_TASK_TOPIC_VERBS)) &&
                 add(o, "objects", string_array(tp->objects, WARM_TASK_TOPIC_OBJECTS)) &&
                 add(o, "places", string_array(tp->places, WARM_TASK_TOPIC_PLACES));
        if (!ok || !cJSON_AddItemToArray(a, o)) {
            cJSON_Delete(o);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

static cJSON *dist_json(const warm_task_dist *d) {
    cJSON *o = cJSON_CreateObject();
    int ok = o && add(o, "topic_weights", cJSON_CreateDoubleArray(d->topic_w, WARM_TASK_N_TOPICS)) &&
             cJSON_AddNumberToObject(o, "min_facts", d->min_facts) &&
             cJSON_AddNumberToObject(o, "max_facts", d->max_facts) &&
             add(o, "p_count_1_2_3", cJSON_CreateDoubleArray(d->p_count, 3)) &&
             cJSON_AddNumberToObject(o, "min_words", d->min_words) &&
             cJSON_AddNumberToObject(o, "max_words", d->max_words);
    if (!ok) cJSON_Delete(o);
    return ok ? o : NULL;
}

static cJSON *dists_json(void) {
    cJSON *o = cJSON_CreateObject();
    int ok = o && add(o, "id", dist_json(&warm_task_dist_id)) && add(o, "ood", dist_json(&warm_task_dist_ood));
    if (!ok) cJSON_Delete(o);
    return ok ? o : NULL;
}

cJSON *warm_task_world_json(const warm_task_config *c) {
    cJSON *o = cJSON_CreateObject();
    int ok = o && cJSON_AddStringToObject(o, "format", "warm-task") && cJSON_AddNumberToObject(o, "version", 1) &&
             cJSON_AddNumberToObject(o, "seed", (double)c->seed) && cJSON_AddNumberToObject(o, "ctx", c->ctx) &&
             cJSON_AddNumberToObject(o, "response_room", c->response_room) &&
             cJSON_AddNumberToObject(o, "detail", c->detail) && add(o, "sizes", sizes_json(c)) &&
             add(o, "gold", gold_json(&c->gold)) && add(o, "words", words_json()) && add(o, "topics", topics_json()) &&
             add(o, "distributions", dists_json());
    if (!ok) cJSON_Delete(o);
    return ok ? o : NULL;
}

/* ---- reading task.json ---- */

typedef struct {
    const char *path; /* for messages */
    warm_error *err;
} reader;

static warm_status fail(const reader *rd, const char *key, const char *what) {
    return warm_error_set(rd->err, WARM_ERR_FORMAT, "%s: \"%s\" %s", rd->path, key, what);
}

/* obj may hold only the listed keys, each once. */
static warm_status only_keys(const reader *rd, const cJSON *obj, const char *where, const char *const *keys) {
    for (const cJSON *a = obj->child; a; a = a->next) {
        int known = 0;
        for (int k = 0; keys[k] && !known; k++) known = strcmp(a->string, keys[k]) == 0;
        if (!known) return warm_error_set(rd->err, WARM_ERR_FORMAT, "%s: unknown key \"%.64s\" in %s", rd->path, a->string, where);
        for (const cJSON *b = a->next; b; b = b->next)
            if (strcmp(a->string, b->string) == 0)
                return warm_error_set(rd->err, WARM_ERR_FORMAT, "%s: duplicate key \"%.64s\" in %s", rd->path, a->string, where);
    }
    return WARM_OK;
}

static warm_status get_number(const reader *rd, const cJSON *obj, const char *key, double lo, double hi, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return fail(rd, key, "is missing");
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi)) {
        char msg[96];
        snprintf(msg, sizeof msg, "must be a number in [%g, %g]", lo, hi);
        return fail(rd, key, msg);
    }
    *out = v->valuedouble;
    return WARM_OK;
}

static warm_status get_int(const reader *rd, const cJSON *obj, const char *key, int lo, int hi, int *out) {
    double d = 0;
    warm_status s = get_number(rd, obj, key, lo, hi, &d);
    if (s == WARM_OK && d != floor(d)) return fail(rd, key, "must be an integer");
    *out = (int)d;
    return s;
}

static warm_status read_sizes(const reader *rd, const cJSON *o, warm_task_config *c) {
    static const char *const keys[] = {"pretrain", "sft_train", "sft_val", "prompts_train", "prompts_val",
                                       "prompts_ood", NULL};
    int *dst[6] = {&c->n_pretrain, &c->n_sft_train, &c->n_sft_val, &c->n_prompts_train, &c->n_prompts_val,
                   &c->n_prompts_ood};
    if (!cJSON_IsObject(o)) return fail(rd, "sizes", "must be an object");
    warm_status s = only_keys(rd, o, "sizes", keys);
    for (int i = 0; i < 6 && s == WARM_OK; i++) s = get_int(rd, o, keys[i], 0, 10000000, dst[i]);
    return s;
}

static warm_status read_gold(const reader *rd, const cJSON *o, warm_gold_weights *g) {
    static const char *const keys[] = {"coverage", "hallucination", "repetition", "repetition_ngram", "length",
                                       "budget", "missing_eos", "extra", NULL};
    double *dst[5] = {&g->coverage, &g->hallucination, &g->repetition, &g->length, &g->missing_eos};
    static const char *const wkeys[5] = {"coverage", "hallucination", "repetition", "length", "missing_eos"};
    if (!cJSON_IsObject(o)) return fail(rd, "gold", "must be an object");
    warm_status s = only_keys(rd, o, "gold", keys);
    for (int i = 0; i < 5 && s == WARM_OK; i++) s = get_number(rd, o, wkeys[i], 0, 1e9, dst[i]);
    int ngram = 4;
    if (s == WARM_OK) s = get_int(rd, o, "budget", 0, 100000, &g->budget);
    if (s == WARM_OK && cJSON_GetObjectItemCaseSensitive(o, "repetition_ngram"))
        s = get_int(rd, o, "repetition_ngram", 4, 4, &ngram);
    g->extra = 0; /* task.json files written before the detail penalty existed have no "extra" */
    if (s == WARM_OK && cJSON_GetObjectItemCaseSensitive(o, "extra")) s = get_number(rd, o, "extra", 0, 1e9, &g->extra);
    return s;
}

static warm_status read_config(const reader *rd, const cJSON *root, warm_task_config *c) {
    double seed = 0;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "warm-task") != 0) return fail(rd, "format", "must be \"warm-task\"");
    int version = 0;
    warm_status s = get_int(rd, root, "version", 1, 1, &version);
    if (s == WARM_OK) s = get_number(rd, root, "seed", 0, SEED_MAX, &seed);
    if (s == WARM_OK && seed != floor(seed)) s = fail(rd, "seed", "must be an integer");
    c->seed = (uint64_t)seed;
    if (s == WARM_OK) s = get_int(rd, root, "ctx", 1, 65536, &c->ctx);
    if (s == WARM_OK) s = get_int(rd, root, "response_room", 0, 65536, &c->response_room);
    c->detail = 0; /* absent in task.json files written before references carried details */
    if (s == WARM_OK && cJSON_GetObjectItemCaseSensitive(root, "detail")) s = get_number(rd, root, "detail", 0, 1, &c->detail);
    if (s == WARM_OK) s = read_sizes(rd, cJSON_GetObjectItemCaseSensitive(root, "sizes"), c);
    if (s == WARM_OK) s = read_gold(rd, cJSON_GetObjectItemCaseSensitive(root, "gold"), &c->gold);
    return s;
}

/* Gives every word of list (an array under key in words) category cat. */
static warm_status categorise_list(const reader *rd, warm_task_world *w, const cJSON *words, const char *key,
                                   warm_task_word cat) {
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(words, key);
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0) return fail(rd, key, "must be a non-empty array of words");
    for (const cJSON *it = list->child; it; it = it->next) {
        int32_t id = cJSON_IsString(it) ? warm_tok_id(w->tok, it->valuestring) : -1;
        if (id < 0)
            return warm_error_set(rd->err, WARM_ERR_FORMAT, "%s: \"%s\" holds %s%.64s%s, which is not a word of "
                                  "tokenizer.json", rd->path, key, cJSON_IsString(it) ? "\"" : "a non-string",
                                  cJSON_IsString(it) ? it->valuestring : "", cJSON_IsString(it) ? "\"" : "");
        if (w->cat[id] != WARM_TASK_WORD_OTHER)
            return warm_error_set(rd->err, WARM_ERR_FORMAT, "%s: word \"%.64s\" has two categories (\"%s\" and "
                                  "another list)", rd->path, it->valuestring, key);
        w->cat[id] = (uint8_t)cat;
    }
    return WARM_OK;
}

/* The single word under key; it gets category cat and its id goes to *id. */
static warm_status categorise_word(const reader *rd, warm_task_world *w, const cJSON *words, const char *key,
                                   warm_task_word cat, int32_t *id) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(words, key);
    *id = cJSON_IsString(v) ? warm_tok_id(w->tok, v->valuestring) : -1;
    if (*id < 0) return fail(rd, key, "must be a word of tokenizer.json");
    if (w->cat[*id] != WARM_TASK_WORD_OTHER) return fail(rd, key, "is also in another category");
    w->cat[*id] = (uint8_t)cat;
    return WARM_OK;
}

static warm_status read_words(const reader *rd, warm_task_world *w, const cJSON *words) {
    static const char *const keys[] = {"separator", "article", "names", "verbs", "objects", "places", NULL};
    if (!cJSON_IsObject(words)) return fail(rd, "words", "must be an object");
    warm_status s = only_keys(rd, words, "words", keys);
    if (s == WARM_OK) s = categorise_word(rd, w, words, "separator", WARM_TASK_WORD_SEPARATOR, &w->sep);
    if (s == WARM_OK) s = categorise_word(rd, w, words, "article", WARM_TASK_WORD_ARTICLE, &w->article);
    if (s == WARM_OK) s = categorise_list(rd, w, words, "names", WARM_TASK_WORD_NAME);
    if (s == WARM_OK) s = categorise_list(rd, w, words, "verbs", WARM_TASK_WORD_VERB);
    if (s == WARM_OK) s = categorise_list(rd, w, words, "objects", WARM_TASK_WORD_OBJECT);
    if (s == WARM_OK) s = categorise_list(rd, w, words, "places", WARM_TASK_WORD_PLACE);
    return s;
}

warm_status warm_task_world_from_json(warm_task_world **out, const cJSON *root, warm_tokenizer *tok,
                                      const char *path, warm_error *err) {
    static const char *const keys[] = {"format", "version", "seed", "ctx", "response_room", "detail", "sizes", "gold",
                                       "words", "topics", "distributions", NULL};
    *out = NULL;
    reader rd = {path, err};
    warm_task_world *w = calloc(1, sizeof *w);
    if (w) w->tok = tok;
    if (w) w->cat = calloc((size_t)warm_tok_vocab_size(tok), 1);
    if (!w || !w->cat) {
        if (!w) warm_tok_free(tok);
        warm_task_free(w);
        return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", path);
    }
    warm_status s = cJSON_IsObject(root) ? only_keys(&rd, root, "the top level", keys)
                                         : warm_error_set(err, WARM_ERR_FORMAT, "%s: not a JSON object", path);
    if (s == WARM_OK) s = read_config(&rd, root, &w->cfg);
    if (s == WARM_OK) s = read_words(&rd, w, cJSON_GetObjectItemCaseSensitive(root, "words"));
    if (s != WARM_OK) {
        warm_task_free(w);
        return s;
    }
    w->eos = warm_tok_eos(tok);
    w->pad = warm_tok_pad(tok);
    static const char *const connectives[3] = {"and", ",", "."};
    for (int i = 0; i < 3; i++) w->connective[i] = warm_tok_id(tok, connectives[i]);
    *out = w;
    return WARM_OK;
}

warm_status warm_task_load(warm_task_world **out, const char *dir, warm_error *err) {
    *out = NULL;
    char *tok_path = warm_task_path(dir, "tokenizer.json"), *task_path = warm_task_path(dir, "task.json");
    warm_tokenizer *tok = NULL;
    char *text = NULL;
    size_t size = 0;
    warm_status s = tok_path && task_path ? WARM_OK : warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
    if (s == WARM_OK) s = warm_tok_load(&tok, tok_path, err);
    if (s == WARM_OK && !(text = warm_read_file(task_path, &size, err))) s = err ? err->code : WARM_ERR_IO;
    cJSON *root = NULL;
    if (s == WARM_OK && !(root = cJSON_ParseWithLength(text, size)))
        s = warm_error_set(err, WARM_ERR_FORMAT, "%s: invalid JSON", task_path);
    if (s == WARM_OK) {
        s = warm_task_world_from_json(out, root, tok, task_path, err);
        tok = NULL; /* owned by the world now */
    }
    cJSON_Delete(root);
    warm_tok_free(tok);
    free(text);
    free(tok_path);
    free(task_path);
    return s;
}

void warm_task_free(warm_task_world *w) {
    if (!w) return;
    warm_tok_free(w->tok);
    free(w->cat);
    free(w);
}

const warm_tokenizer *warm_task_tokenizer(const warm_task_world *w) { return w->tok; }
const warm_task_config *warm_task_world_config(const warm_task_world *w) { return &w->cfg; }

warm_status warm_task_set_gold_weights(warm_task_world *w, const warm_gold_weights *g, warm_error *err) {
    warm_status s = check_weights(g, err);
    if (s == WARM_OK) w->cfg.gold = *g;
    return s;
}

warm_task_word warm_task_word_category(const warm_task_world *w, int32_t id) {
    return id >= 0 && id < warm_tok_vocab_size(w->tok) ? (warm_task_word)w->cat[id] : WARM_TASK_WORD_OTHER;
}
