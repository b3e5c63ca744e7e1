/*
 * post.c — draws one post of the world and writes its summaries.
 *
 * A post (warm_task_post) is drawn in four steps, each from the caller's RNG stream:
 *   1. topic ~ the distribution's topic mix; F facts (uniform in [min_facts, max_facts]); a cast of 2-3
 *      names; each fact = (a cast name, a topic verb, a topic object), objects distinct within the post;
 *   2. salience: each fact is stated 1, 2 or 3 times (p_count), at least one fact at least twice;
 *   3. the statements are shuffled; a fact's first statement may carry a prefix ("so", "yesterday"), a
 *      relation ("my friend alice") and a suffix ("at the airport"); later statements insist ("like i said ,
 *      alice booked the flight .");
 *   4. an optional opener and closer, then filler sentences at random places until the post reaches a
 *      target length drawn in [min_words, max_words - 10]. A post longer than max_words is rejected (the
 *      caller draws again), so lengths stay in range without truncating a sentence.
 *
 * The reference summary states the facts stated at least twice, in order of salience (count, then first
 * statement), clamped to 2..3 facts: "A and B ." or "A , B and C .".
 */
#include <stdlib.h>
#include <string.h>

#include "task/task_internal.h"

/* ID posts favour the first topics; OOD posts reverse the mix, state more facts, mostly once, at greater
 * length. */
const warm_task_dist warm_task_dist_id = {
    "id", {0.30, 0.25, 0.20, 0.13, 0.08, 0.04}, 2, 4, {0.40, 0.40, 0.20}, 40, 80};
const warm_task_dist warm_task_dist_ood = {
    "ood", {0.04, 0.08, 0.13, 0.20, 0.25, 0.30}, 4, 5, {0.65, 0.25, 0.10}, 55, 90};

/* ---- text builder ---- */

void warm_task_text_free(warm_task_text *t) {
    free(t->s);
    memset(t, 0, sizeof *t);
}

static void text_put(warm_task_text *t, const char *word, size_t n) {
    if (t->oom || n == 0) return;
    size_t need = t->len + n + 2;
    if (need > t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 256;
        while (cap < need) cap *= 2;
        char *s = realloc(t->s, cap);
        if (!s) {
            t->oom = 1;
            return;
        }
        t->s = s;
        t->cap = cap;
    }
    if (t->len) t->s[t->len++] = ' ';
    memcpy(t->s + t->len, word, n);
    t->len += n;
    t->s[t->len] = 0;
    t->n_words++;
}

void warm_task_text_add(warm_task_text *t, const char *phrase) {
    for (const char *p = phrase; *p;) {
        while (*p == ' ') p++;
        const char *s = p;
        while (*p && *p != ' ') p++;
        text_put(t, s, (size_t)(p - s));
    }
}

/* Adds a phrase, filling placeholders from the topic. */
static void text_add_template(warm_task_text *t, const char *phrase, int topic, warm_rng *r) {
    const warm_task_topic *tp = &warm_task_topics[topic];
    for (const char *p = phrase; *p;) {
        while (*p == ' ') p++;
        const char *s = p;
        while (*p && *p != ' ') p++;
        size_t n = (size_t)(p - s);
        if (n == 5 && strncmp(s, "@PREP", 5) == 0) warm_task_text_add(t, tp->prep);
        else if (n == 2 && strncmp(s, "@O", 2) == 0)
            warm_task_text_add(t, tp->objects[warm_rng_below(r, WARM_TASK_TOPIC_OBJECTS)]);
        else if (n == 2 && strncmp(s, "@P", 2) == 0)
            warm_task_text_add(t, tp->places[warm_rng_below(r, WARM_TASK_TOPIC_PLACES)]);
        else text_put(t, s, n);
    }
}

static const char *pick(const char *const *list, warm_rng *r) {
    return list[warm_rng_below(r, (uint32_t)warm_task_phrase_count(list))];
}

static int pick_weighted(const double *w, int n, warm_rng *r) {
    double u = (double)warm_rng_uniform(r), acc = 0;
    for (int i = 0; i < n - 1; i++)
        if (u < (acc += w[i])) return i;
    return n - 1;
}

static int chance(warm_rng *r, double p) { return (double)warm_rng_uniform(r) < p; }

/* "alice booked the flight" */
static void add_clause(warm_task_text *t, int topic, int name, int verb, int object) {
    warm_task_text_add(t, warm_task_names[name]);
    warm_task_text_add(t, warm_task_topics[topic].verbs[verb]);
    warm_task_text_add(t, WARM_TASK_ARTICLE);
    warm_task_text_add(t, warm_task_topics[topic].objects[object]);
}

/* ---- drawing a post ---- */

static void draw_facts(warm_task_post *p, const warm_task_dist *d, warm_rng *r) {
    int cast[3], n_cast = 2 + (int)warm_rng_below(r, 2), used[WARM_TASK_TOPIC_OBJECTS] = {0};
    for (int i = 0; i < n_cast; i++) {
        int again;
        do {
            cast[i] = (int)warm_rng_below(r, WARM_TASK_N_NAMES);
            again = 0;
            for (int j = 0; j < i; j++) again |= cast[j] == cast[i];
        } while (again);
    }
    int max_count = 0;
    for (int i = 0; i < p->n_facts; i++) {
        warm_task_fact *f = &p->facts[i];
        f->name = cast[warm_rng_below(r, (uint32_t)n_cast)];
        f->verb = (int)warm_rng_below(r, WARM_TASK_TOPIC_VERBS);
        do f->object = (int)warm_rng_below(r, WARM_TASK_TOPIC_OBJECTS);
        while (used[f->object]);
        used[f->object] = 1;
        f->count = 1 + pick_weighted(d->p_count, 3, r);
        if (f->count > max_count) max_count = f->count;
    }
    if (max_count < 2) p->facts[warm_rng_below(r, (uint32_t)p->n_facts)].count = 2; /* something is salient */
}

/* One statement of fact i: the first one decorated, later ones insisting. */
static void add_statement(warm_task_text *t, const warm_task_post *p, int i, int first, warm_rng *r) {
    const warm_task_fact *f = &p->facts[i];
    if (first) {
        warm_task_text_add(t, pick(warm_task_first_prefixes, r));
        if (chance(r, 0.3)) warm_task_text_add(t, pick(warm_task_relations, r));
    } else {
        warm_task_text_add(t, pick(warm_task_repeat_prefixes, r));
    }
    add_clause(t, p->topic, f->name, f->verb, f->object);
    text_add_template(t, pick(first ? warm_task_suffixes : warm_task_repeat_suffixes, r), p->topic, r);
    warm_task_text_add(t, ".");
}

static void add_filler(warm_task_text *t, int topic, warm_rng *r) {
    text_add_template(t, pick(chance(r, 0.7) ? warm_task_fillers : warm_task_topic_fillers, r), topic, r);
}

#define POST_MAX_ITEMS 48

typedef struct {
    warm_task_text item[POST_MAX_ITEMS]; /* sentences in post order */
    int n;
    int words;
} sentence_list;

static void sentences_free(sentence_list *s) {
    for (int i = 0; i < s->n; i++) warm_task_text_free(&s->item[i]);
}

/* Inserts an empty sentence at position at and returns it. */
static warm_task_text *sentences_insert(sentence_list *s, int at) {
    WARM_CHECK(s->n < POST_MAX_ITEMS, "post has more than %d sentences", POST_MAX_ITEMS);
    memmove(&s->item[at + 1], &s->item[at], (size_t)(s->n - at) * sizeof s->item[0]);
    memset(&s->item[at], 0, sizeof s->item[0]);
    s->n++;
    return &s->item[at];
}

/* Statements of all facts, shuffled; records each fact's order of first statement. */
static void add_statements(sentence_list *s, warm_task_post *p, warm_rng *r) {
    int slots[WARM_TASK_MAX_FACTS * 3], n = 0, seen[WARM_TASK_MAX_FACTS] = {0}, order = 0;
    for (int i = 0; i < p->n_facts; i++)
        for (int k = 0; k < p->facts[i].count; k++) slots[n++] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)warm_rng_below(r, (uint32_t)i + 1), tmp = slots[i];
        slots[i] = slots[j];
        slots[j] = tmp;
    }
    for (int k = 0; k < n; k++) {
        int i = slots[k];
        if (!seen[i]) p->facts[i].first = order++;
        add_statement(sentences_insert(s, s->n), p, i, !seen[i], r);
        seen[i] = 1;
    }
}

/* Opener, closer, then fillers at random inner positions until the target length. */
static void add_fillers(sentence_list *s, const warm_task_post *p, const warm_task_dist *d, warm_rng *r) {
    int target = d->min_words + (int)warm_rng_below(r, (uint32_t)(d->max_words - d->min_words - 9));
    if (chance(r, 0.4)) warm_task_text_add(sentences_insert(s, 0), pick(warm_task_openers, r));
    if (chance(r, 0.5)) warm_task_text_add(sentences_insert(s, s->n), pick(warm_task_closers, r));
    s->words = 0;
    for (int i = 0; i < s->n; i++) s->words += s->item[i].n_words;
    while (s->words < target && s->n < POST_MAX_ITEMS) {
        warm_task_text *t = sentences_insert(s, (int)warm_rng_below(r, (uint32_t)s->n + 1));
        add_filler(t, p->topic, r);
        s->words += t->n_words;
    }
}

static void order_by_salience(warm_task_post *p) {
    for (int i = 0; i < p->n_facts; i++) p->order[i] = i;
    for (int i = 1; i < p->n_facts; i++) /* insertion sort: count desc, then first statement asc */
        for (int j = i; j > 0; j--) {
            const warm_task_fact *a = &p->facts[p->order[j - 1]], *b = &p->facts[p->order[j]];
            if (a->count > b->count || (a->count == b->count && a->first < b->first)) break;
            int tmp = p->order[j];
            p->order[j] = p->order[j - 1];
            p->order[j - 1] = tmp;
        }
}

int warm_task_post_draw(warm_task_post *p, const warm_task_dist *d, warm_rng *r) {
    memset(p, 0, sizeof *p);
    p->topic = pick_weighted(d->topic_w, WARM_TASK_N_TOPICS, r);
    p->n_facts = d->min_facts + (int)warm_rng_below(r, (uint32_t)(d->max_facts - d->min_facts + 1));
    draw_facts(p, d, r);
    sentence_list *s = calloc(1, sizeof *s);
    if (!s) return -1;
    add_statements(s, p, r);
    add_fillers(s, p, d, r);
    order_by_salience(p);
    int ok = s->words <= d->max_words && s->words >= d->min_words;
    for (int i = 0; i < s->n && ok; i++) {
        if (s->item[i].oom) break;
        warm_task_text_add(&p->text, s->item[i].s);
    }
    int oom = p->text.oom;
    for (int i = 0; i < s->n; i++) oom |= s->item[i].oom;
    sentences_free(s);
    free(s);
    if (oom || !ok) warm_task_text_free(&p->text);
    return oom ? -1 : ok;
}

void warm_task_post_free(warm_task_post *p) { warm_task_text_free(&p->text); }

/* ---- summaries ---- */

/* Details a reference clause may carry: where, when or how, as posts say it (the gold reward counts every
 * word of them as extra). "@PREP the @P" is the topic's place ("at the lab"). */
static warm_task_phrases detail_suffixes = {"@PREP the @P", "last night", "by accident", "on purpose",
                                            "for no reason", "again", NULL};
static warm_task_phrases detail_prefixes = {"yesterday", "last week", "this morning", "apparently", NULL};

/* Words of a phrase (a template's "@PREP the @P" is three). */
static int phrase_words(const char *s) {
    int n = 0;
    for (int in = 0; *s; s++) {
        n += *s != ' ' && !in;
        in = *s != ' ';
    }
    return n;
}

/* "A .", "A and B .", "A , B and C ." for the listed facts (indices into p->facts); with r, each clause
 * carries a detail with probability detail (a prefix one time in three, else a suffix), at most
 * WARM_TASK_REF_DETAILS in all and only while the summary stays within WARM_TASK_REF_MAX_WORDS words. */
static void add_fact_list_detailed(warm_task_text *out, const warm_task_post *p, const int *idx, int k, double detail,
                                   warm_rng *r) {
    int details = 0, room = WARM_TASK_REF_MAX_WORDS - 5 * k; /* k clauses of 4 words, k - 1 joints and "." */
    for (int j = 0; j < k; j++) {
        if (j > 0) warm_task_text_add(out, j == k - 1 ? "and" : ",");
        const warm_task_fact *f = &p->facts[idx[j]];
        const char *phrase = NULL;
        int prefix = 0;
        if (r && detail > 0 && details < WARM_TASK_REF_DETAILS && chance(r, detail)) {
            prefix = chance(r, 1.0 / 3.0);
            phrase = pick(prefix ? detail_prefixes : detail_suffixes, r);
            if (phrase_words(phrase) > room) phrase = NULL;
        }
        if (phrase) {
            details++;
            room -= phrase_words(phrase);
        }
        if (phrase && prefix) warm_task_text_add(out, phrase);
        add_clause(out, p->topic, f->name, f->verb, f->object);
        if (phrase && !prefix) text_add_template(out, phrase, p->topic, r);
    }
    warm_task_text_add(out, ".");
}

static void add_fact_list(warm_task_text *out, const warm_task_post *p, const int *idx, int k) {
    add_fact_list_detailed(out, p, idx, k, 0, NULL);
}

void warm_task_post_reference(const warm_task_post *p, double detail, warm_rng *r, warm_task_text *out) {
    int k = 0;
    for (int i = 0; i < p->n_facts; i++) k += p->facts[i].count >= 2;
    if (k < 2) k = 2;
    if (k > WARM_TASK_REF_FACTS) k = WARM_TASK_REF_FACTS;
    if (k > p->n_facts) k = p->n_facts;
    add_fact_list_detailed(out, p, p->order, k, detail, r);
}

/* An invented fact of the post's topic: a clause the post never states. */
static void add_invented(warm_task_text *out, const warm_task_post *p, warm_rng *r) {
    int name, verb, object, clash;
    do {
        name = (int)warm_rng_below(r, WARM_TASK_N_NAMES);
        verb = (int)warm_rng_below(r, WARM_TASK_TOPIC_VERBS);
        object = (int)warm_rng_below(r, WARM_TASK_TOPIC_OBJECTS);
        clash = 0;
        for (int i = 0; i < p->n_facts; i++)
            clash |= p->facts[i].name == name && p->facts[i].verb == verb && p->facts[i].object == object;
    } while (clash);
    add_clause(out, p->topic, name, verb, object);
}

void warm_task_post_noisy_summary(const warm_task_post *p, warm_rng *r, warm_task_text *out) {
    int idx[WARM_TASK_MAX_FACTS], n = p->n_facts;
    for (int i = 0; i < n; i++) idx[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)warm_rng_below(r, (uint32_t)i + 1), tmp = idx[i];
        idx[i] = idx[j];
        idx[j] = tmp;
    }
    int k = 1 + (int)warm_rng_below(r, (uint32_t)n);
    int invent = chance(r, 0.15), repeat = chance(r, 0.10), filler = chance(r, 0.10);
    add_fact_list(out, p, idx, k);
    if ((invent || repeat) && !out->oom) { /* replace the final " ." by " and <clause> ." */
        WARM_CHECK(out->len >= 2 && strcmp(out->s + out->len - 2, " .") == 0, "fact list must end with \" .\"");
        out->len -= 2;
        out->s[out->len] = 0;
        out->n_words--;
        warm_task_text_add(out, "and");
        if (invent) add_invented(out, p, r);
        else add_clause(out, p->topic, p->facts[idx[0]].name, p->facts[idx[0]].verb, p->facts[idx[0]].object);
        warm_task_text_add(out, ".");
    }
    if (filler) add_filler(out, p->topic, r);
}

void warm_task_comment(warm_rng *r, warm_task_text *out) {
    int n = 2 + (int)warm_rng_below(r, 3);
    for (int i = 0; i < n; i++) {
        if (chance(r, 0.75)) {
            warm_task_text_add(out, pick(warm_task_comments, r));
            continue;
        }
        int topic = (int)warm_rng_below(r, WARM_TASK_N_TOPICS);
        warm_task_text_add(out, "so");
        add_clause(out, topic, (int)warm_rng_below(r, WARM_TASK_N_NAMES), (int)warm_rng_below(r, WARM_TASK_TOPIC_VERBS),
                   (int)warm_rng_below(r, WARM_TASK_TOPIC_OBJECTS));
        warm_task_text_add(out, "?");
    }
}
