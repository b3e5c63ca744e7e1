/*
 * vocab.c — the words of the embedded task's world: names, six topics (verbs, objects, places), and the
 * phrases that posts, summaries and comments are made of. Constant tables; no state.
 *
 * Invariants (checked when world.c builds the word categories): names, verbs, objects and places are
 * disjoint sets, none of them is "the" or "TL;DR:"; no phrase contains a name (so only fact clauses match
 * the fact pattern, which starts with a name). Phrases may hold placeholders that post.c
 * fills: "@O" a topic object, "@P" a topic place, "@PREP" the topic's preposition. The vocabulary is a pure
 * function of these tables (seed-independent): every split of every seed shares one tokenizer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "task/task_internal.h"

const char *const warm_task_names[WARM_TASK_N_NAMES] = {
    "alice", "bob", "carol", "dave", "emma", "frank", "grace", "henry", "ivy", "jack", "kate", "leo",
    "mia", "nick", "olivia", "paul", "quinn", "rosa", "sam", "tina", "uma", "victor", "wendy", "zoe",
};

/* Topic order matters: the ID topic mix favours the first topics, the OOD mix the last (post.c). */
const warm_task_topic warm_task_topics[WARM_TASK_N_TOPICS] = {
    {"home", "in", {"painted", "cleaned", "broke", "fixed", "moved", "replaced"},
     {"couch", "fridge", "lamp", "roof", "sink", "oven", "table", "door", "window", "heater", "carpet", "mirror"},
     {"kitchen", "basement", "attic"}},
    {"work", "at", {"sent", "deleted", "finished", "forgot", "signed", "printed"},
     {"report", "email", "contract", "slides", "budget", "invoice", "agenda", "schedule", "memo", "proposal",
      "spreadsheet", "letter"},
     {"office", "meeting", "lab"}},
    {"money", "at", {"bought", "sold", "borrowed", "returned", "traded", "repaired"},
     {"car", "bike", "truck", "scooter", "van", "ring", "watch", "phone", "guitar", "piano", "boat", "tent"},
     {"garage", "shop", "mall"}},
    {"food", "at", {"cooked", "burned", "ordered", "ate", "shared", "dropped"},
     {"soup", "pizza", "cake", "pasta", "salad", "bread", "pie", "curry", "rice", "cookies", "sandwich", "noodles"},
     {"restaurant", "cafe", "party"}},
    {"travel", "at", {"booked", "missed", "cancelled", "changed", "skipped", "planned"},
     {"flight", "ticket", "hotel", "train", "taxi", "ferry", "tour", "bus", "cabin", "cruise", "room", "trip"},
     {"airport", "station", "beach"}},
    {"pets", "at", {"fed", "adopted", "washed", "found", "trained", "lost"},
     {"dog", "cat", "puppy", "kitten", "parrot", "hamster", "rabbit", "goldfish", "pony", "turtle", "ferret",
      "lizard"},
     {"park", "vet", "yard"}},
};

/* "my friend alice booked the flight": a relation before the subject of a first statement. */
warm_task_phrases warm_task_relations = {"my friend", "my roommate", "my boss", "my neighbor", "my cousin",
                                         "my partner", "my coworker", "my classmate", NULL};
/* Before the first statement of a fact ("" = none; repeated entries weight the draw). */
warm_task_phrases warm_task_first_prefixes = {"", "", "so", "then", "and", "but", "also", "yesterday",
                                              "last week", "this morning", "today", "apparently", NULL};
/* After a statement (first or repeated). */
warm_task_phrases warm_task_suffixes = {"", "", "", "@PREP the @P", "@PREP the @P", "again", "by accident",
                                        "last night", "on purpose", "for no reason", NULL};
/* Before a repeated statement: the post insists, which is what makes a fact salient. */
warm_task_phrases warm_task_repeat_prefixes = {"like i said ,", "again ,", "seriously ,", "i mean ,", "yes ,",
                                               "i still cannot believe", "to be clear ,", "and yes ,",
                                               "remember ,", NULL};
warm_task_phrases warm_task_repeat_suffixes = {"", "", "again", "of all things", "for real", NULL};

/* Sentences without facts. */
warm_task_phrases warm_task_fillers = {
    "i do not know what to do .", "please help .", "sorry for the long post .", "any advice is welcome .",
    "it has been a weird week .", "everyone is stressed out .", "i feel bad about it .", "am i wrong here ?",
    "we have been friends for years .", "nobody talks about it .", "it was a long day .", "i am still upset .",
    "that is the whole story .", "honestly it was funny .", "we all laughed about it later .",
    "my mom thinks it is fine .", "i did not sleep much .", "the weather was awful .", "it is a small town .",
    "we split the cost .", "nobody was hurt .", "i should have said something .", "it all started on monday .",
    "this is not the first time .", "i need to vent .", NULL};
warm_task_phrases warm_task_topic_fillers = {
    "the @O was old anyway .", "nobody liked the @O .", "the @P was busy .", "the @P was closed .",
    "we talked about the @O for an hour .", "the @O cost a lot .", "i still think about the @O .",
    "it was quiet @PREP the @P .", NULL};
warm_task_phrases warm_task_openers = {"so this happened .", "long time reader , first post .",
                                       "throwaway because my family reads this .", "okay so here goes .", NULL};
warm_task_phrases warm_task_closers = {"any advice ?", "what should i do ?", "thanks for reading .",
                                       "am i overreacting ?", "update soon .", NULL};
/* Replies: the other text of the world that pretraining sees. */
warm_task_phrases warm_task_comments = {
    "that sounds rough .", "you are not wrong .", "i had the same thing happen .", "talk to them .",
    "good luck .", "this made me laugh .", "update us please .", "been there .", "that is a lot .",
    "sending hugs .", "wow .", "classic .", NULL};

int warm_task_phrase_count(const char *const *list) {
    int n = 0;
    while (list[n]) n++;
    return n;
}

/* A growing list of unique words (pointers into the tables or into `store`). */
typedef struct {
    const char **w;
    int n, cap;
    char *store; /* copies of words cut out of phrases, '\0'-separated */
    size_t store_len, store_cap;
} word_list;

/* Adds the len-byte word w unless present or a placeholder ("@O"). -1 on OOM. Words are kept as offsets
 * into the store while it may still move, and turned into pointers at the end. */
static int list_add_word(word_list *l, const char *w, size_t len) {
    if (w[0] == '@') return 0;
    for (int i = 0; i < l->n; i++) {
        const char *s = l->store + (uintptr_t)l->w[i];
        if (strncmp(s, w, len) == 0 && s[len] == 0) return 0;
    }
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 256;
        const char **nw = realloc(l->w, (size_t)cap * sizeof *nw);
        if (!nw) return -1;
        l->w = nw;
        l->cap = cap;
    }
    if (l->store_len + len + 1 > l->store_cap) {
        size_t cap = l->store_cap ? 2 * l->store_cap : 4096;
        while (cap < l->store_len + len + 1) cap *= 2;
        char *ns = realloc(l->store, cap);
        if (!ns) return -1;
        l->store = ns;
        l->store_cap = cap;
    }
    memcpy(l->store + l->store_len, w, len);
    l->store[l->store_len + len] = 0;
    l->w[l->n++] = (const char *)(uintptr_t)l->store_len;
    l->store_len += len + 1;
    return 0;
}

static int list_add_phrases(word_list *l, const char *const *phrases) {
    for (int i = 0; phrases[i]; i++) {
        for (const char *p = phrases[i]; *p;) {
            while (*p == ' ') p++;
            const char *s = p;
            while (*p && *p != ' ') p++;
            if (p > s && list_add_word(l, s, (size_t)(p - s)) != 0) return -1;
        }
    }
    return 0;
}

static int list_add_tables(word_list *l) {
    static const char *const fixed[] = {WARM_TASK_SEPARATOR, WARM_TASK_ARTICLE, "in", "at", ",", "and", ".", "?",
                                        NULL};
    int rc = list_add_phrases(l, fixed);
    for (int i = 0; i < WARM_TASK_N_NAMES && rc == 0; i++) rc = list_add_word(l, warm_task_names[i], strlen(warm_task_names[i]));
    for (int t = 0; t < WARM_TASK_N_TOPICS && rc == 0; t++) {
        const warm_task_topic *tp = &warm_task_topics[t];
        for (int i = 0; i < WARM_TASK_TOPIC_VERBS && rc == 0; i++) rc = list_add_word(l, tp->verbs[i], strlen(tp->verbs[i]));
        for (int i = 0; i < WARM_TASK_TOPIC_OBJECTS && rc == 0; i++)
            rc = list_add_word(l, tp->objects[i], strlen(tp->objects[i]));
        for (int i = 0; i < WARM_TASK_TOPIC_PLACES && rc == 0; i++)
            rc = list_add_word(l, tp->places[i], strlen(tp->places[i]));
    }
    const char *const *lists[] = {warm_task_relations, warm_task_first_prefixes, warm_task_suffixes,
                                  warm_task_repeat_prefixes, warm_task_repeat_suffixes, warm_task_fillers,
                                  warm_task_topic_fillers, warm_task_openers, warm_task_closers, warm_task_comments};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0] && rc == 0; i++) rc = list_add_phrases(l, lists[i]);
    return rc;
}

warm_status warm_task_vocab_words(const char ***words, int *n, warm_error *err) {
    word_list l = {0};
    *words = NULL;
    *n = 0;
    if (list_add_tables(&l) != 0) {
        free(l.w);
        free(l.store);
        return warm_error_set(err, WARM_ERR_NOMEM, "out of memory building the task vocabulary");
    }
    /* One allocation: the pointer array followed by the words, so the caller frees once. */
    size_t head = (size_t)l.n * sizeof(char *);
    char *block = malloc(head + l.store_len);
    if (!block) {
        free(l.w);
        free(l.store);
        return warm_error_set(err, WARM_ERR_NOMEM, "out of memory building the task vocabulary");
    }
    memcpy(block + head, l.store, l.store_len);
    const char **out = (const char **)(void *)block;
    for (int i = 0; i < l.n; i++) out[i] = block + head + (uintptr_t)l.w[i];
    *words = out;
    *n = l.n;
    free(l.w);
    free(l.store);
    return WARM_OK;
}
