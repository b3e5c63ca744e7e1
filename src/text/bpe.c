/*
 * bpe.c — GPT-2 byte-level BPE (warm/tokenizer.h kind BPE; formats.md §5, docs/tokenizer.md): the tables,
 * the pre-tokeniser, the merge loop, decoding. bpe_load.c parses the files and fills the tables through
 * tok_bpe_add_token / tok_bpe_add_merge / tok_bpe_add_special / tok_bpe_finish.
 *
 * Tables (V tokens, ids 0..V-1):
 *   str + str_off[id]       the token's byte-level spelling ("Ġthe"), NUL-terminated (warm_tok_word)
 *   vtab (vcap)             open addressing, FNV-1a, linear probing: spelling -> id (warm_tok_id, loading)
 *   mtab (mcap)             open addressing, Fibonacci hash of the id pair, linear probing:
 *                           (left id, right id) -> (rank, merged id); rank = line order of the merge
 *   raw + raw_off[id..id+1] the token's bytes (spelling mapped back through the byte-to-unicode map;
 *                           special tokens are their content as written)
 *   byte_id[256]            the single-byte token of each byte (ids 0..255 in GPT-2, in another order)
 * Every table is built at load and read-only afterwards: a tokenizer may encode from several threads.
 *
 * Encoding: text -> pieces by the GPT-2 regex (pretoken_end, hand-written over UTF-8 code points with the
 * Unicode 15.0 classes of unicode_data.c) -> each piece's bytes -> byte tokens -> merges -> ids. A byte that
 * does not start a valid UTF-8 sequence (or a truncated/overlong/surrogate one) is one OTHER character, so
 * any byte string encodes and decodes back to itself.
 *
 * Merging, two algorithms with the same result:
 *   merge_naive  GPT-2's encoder.py: find the adjacent pair of lowest rank, merge all its occurrences left
 *                to right, repeat. O(m^2) per piece of m bytes; the reference, and the faster one on the
 *                short pieces of ordinary text.
 *   merge_heap   a min-heap of (rank, position) over a linked list (Hugging Face tokenizers' Word::merge_all),
 *                O(m log m): used for pieces longer than MERGE_NAIVE_MAX. It equals merge_naive when the
 *                merges are "monotonic" (every merge ranks after the merges that make its two parts: then
 *                the pair a merge creates always ranks after it, so both visit pairs in (rank, position)
 *                order). GPT-2's merges are; tok_bpe_finish checks, and a file whose merges are not uses
 *                merge_naive for every piece.
 */
#include "text/tok_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define TOK_MAX_SPECIAL 64
/* Pieces up to this many bytes merge with merge_naive: faster below, the heap above (random letters, 2026-12-05,
 * AMD EPYC: 16 bytes 80 vs 77 MB/s, 32 bytes 35 vs 65 MB/s, 256 bytes 5 vs 12 MB/s). */
#define MERGE_NAIVE_MAX 24
/* Pieces up to about this many bytes use a stack buffer. */
#define PIECE_STACK 256

static const uint64_t PAIR_EMPTY = UINT64_MAX;

typedef struct {
    uint64_t key; /* left id << 32 | right id; PAIR_EMPTY when free */
    int32_t rank; /* line order of the merge */
    int32_t id;   /* the merged token */
} tok_merge;

typedef struct {
    char *content; /* as written in text (and decoded) */
    size_t len;
    int32_t id;
} tok_special;

struct tok_bpe {
    int V;                /* vocabulary size */
    char *str;            /* spellings, NUL-terminated, at str_off[id] */
    size_t str_len, str_cap;
    uint32_t *str_off;    /* (V) UINT32_MAX while unset */
    int32_t *vtab;        /* (vcap) id or -1 */
    uint32_t vcap;        /* power of two >= 2V */
    tok_merge *mtab;      /* (mcap) */
    uint32_t mcap;        /* power of two >= 2 max_merges */
    int nmerges, max_merges;
    uint8_t *raw;         /* decoded bytes, at raw_off[id] .. raw_off[id + 1] */
    uint32_t *raw_off;    /* (V + 1) */
    int32_t byte_id[256]; /* token of each single byte */
    tok_special specials[TOK_MAX_SPECIAL];
    int nspecial;
    int32_t eos;          /* "<|endoftext|>" */
    int monotonic;        /* merge_heap == merge_naive (see the top of the file) */
    int algo;             /* TOK_MERGE_AUTO | NAIVE | HEAP */
};

/* ---- byte-to-unicode map (openai/gpt-2 encoder.py bytes_to_unicode) ------------------------------------- */

/* Code point of byte c: itself for the 188 printable bytes 33-126, 161-172, 174-255; U+0100 + k for the k-th
 * of the other 68 (0-32, 127-160, 173) in increasing order. */
static uint32_t byte_to_cp(int c) {
    if ((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || c >= 174) return (uint32_t)c;
    int k = c <= 32 ? c : c <= 160 ? 33 + (c - 127) : 33 + 34;
    return 256u + (uint32_t)k;
}

/* Byte of code point cp under the map, or -1 when cp is not an image of a byte. */
static int cp_to_byte(uint32_t cp) {
    if (cp < 256) return byte_to_cp((int)cp) == cp ? (int)cp : -1;
    if (cp >= 256 + 68) return -1;
    int k = (int)cp - 256;
    return k <= 32 ? k : k <= 66 ? 127 + (k - 33) : 173;
}

/* ---- UTF-8 ---------------------------------------------------------------------------------------------- */

/* Decodes the code point at s[i] (i < n): returns it and its length in *len; an invalid sequence gives
 * UINT32_MAX with *len = 1 (one byte, classed OTHER). */
static uint32_t utf8_at(const uint8_t *s, size_t n, size_t i, int *len) {
    uint32_t c = s[i];
    *len = 1;
    if (c < 0x80) return c;
    int k = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    if (k == 0 || c >= 0xF5 || n - i <= (size_t)k) return UINT32_MAX; /* a continuation byte, or cut short */
    uint32_t cp = c & (0x3Fu >> k);
    for (int j = 1; j <= k; j++) {
        uint32_t d = s[i + (size_t)j];
        if ((d & 0xC0) != 0x80) return UINT32_MAX;
        cp = cp << 6 | (d & 0x3F);
    }
    static const uint32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return UINT32_MAX; /* overlong, range */
    *len = k + 1;
    return cp;
}

int tok_uni_class_of(uint32_t cp) {
    if (cp < 256) return tok_uni_latin1[cp];
    if (cp > 0x10FFFF) return TOK_UNI_OTHER;
    int lo = 0, hi = tok_uni_nruns - 1; /* last run starting at or below cp */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (tok_uni_start[mid] <= cp) lo = mid;
        else hi = mid - 1;
    }
    return tok_uni_class[lo];
}

/* Class of the character at s[i] and its byte length. */
static inline int class_at(const uint8_t *s, size_t n, size_t i, int *len) {
    if (s[i] < 0x80) {
        *len = 1;
        return tok_uni_latin1[s[i]];
    }
    return tok_uni_class_of(utf8_at(s, n, i, len));
}

/* ---- pre-tokeniser ---------------------------------------------------------------------------------------- */

/*
 * End of the piece that starts at s[i] (i < n), by the regex
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * tried in that order (the first alternative that matches wins, and each is greedy):
 *   - a contraction: ASCII ' and a lowercase s t m d / re ve ll;
 *   - an optional ASCII space, then a maximal run of one class: letters, numbers or OTHER;
 *   - otherwise a whitespace run: all of it at the end of the text; else all but its last character when
 *     it is longer than one (the last one goes with the next word: "a  b" -> "a", " ", " b"); else itself.
 */
size_t tok_bpe_pretoken_end(const uint8_t *s, size_t n, size_t i) {
    if (s[i] == '\'' && i + 1 < n) {
        uint8_t a = s[i + 1], b = i + 2 < n ? s[i + 2] : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
    }
    int len, c = class_at(s, n, i, &len);
    size_t j = i;
    if (s[i] == ' ' && i + 1 < n) {
        int len2, c2 = class_at(s, n, i + 1, &len2);
        if (c2 != TOK_UNI_SPACE) {
            c = c2;
            len = len2;
            j = i + 1;
        }
    }
    if (c != TOK_UNI_SPACE) {
        for (j += (size_t)len; j < n && class_at(s, n, j, &len) == c;) j += (size_t)len;
        return j;
    }
    size_t last = i;
    for (j = i; j < n && class_at(s, n, j, &len) == TOK_UNI_SPACE; j += (size_t)len) last = j;
    if (j == n) return n;
    return last > i ? last : j;
}

/* ---- merges --------------------------------------------------------------------------------------------- */

static inline uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }

static inline uint32_t pair_slot(uint64_t key, uint32_t cap) {
    return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
}

static const tok_merge *find_merge(const tok_bpe *b, int32_t left, int32_t right) {
    uint64_t key = pair_key(left, right);
    for (uint32_t h = pair_slot(key, b->mcap);; h = (h + 1) & (b->mcap - 1)) {
        const tok_merge *e = &b->mtab[h];
        if (e->key == key) return e;
        if (e->key == PAIR_EMPTY) return NULL;
    }
}

/* Rank of the pair (left, right) and its merged token in *id; INT32_MAX when the pair does not merge. */
static inline int32_t pair_rank(const tok_bpe *b, int32_t left, int32_t right, int32_t *id) {
    const tok_merge *e = find_merge(b, left, right);
    if (!e) return INT32_MAX;
    *id = e->id;
    return e->rank;
}

/*
 * GPT-2's loop over the m symbols of sym (see the top of the file); returns the count left. Scratch: rank[i]
 * and merged[i] hold the pair (sym[i], sym[i + 1]) (m - 1 entries), fresh[i] marks a symbol made in this
 * round, so only the pairs next to a merge are looked up again. A rank names one merge, so the pairs of the
 * chosen merge are exactly those with its rank.
 */
static int merge_naive(const tok_bpe *b, int32_t *sym, int m, int32_t *rank, int32_t *merged, uint8_t *fresh) {
    for (int i = 0; i + 1 < m; i++) rank[i] = pair_rank(b, sym[i], sym[i + 1], &merged[i]);
    while (m > 1) {
        int best = 0;
        for (int i = 1; i + 1 < m; i++)
            if (rank[i] < rank[best]) best = i;
        int32_t r = rank[best], id = merged[best];
        if (r == INT32_MAX) break;
        int o = 0;
        for (int i = 0; i < m; o++) {
            if (i + 1 < m && rank[i] == r) {
                sym[o] = id;
                fresh[o] = 1;
                i += 2;
            } else {
                sym[o] = sym[i];
                fresh[o] = 0;
                if (i + 1 < m) { /* the pair (i, i + 1) stays valid unless i + 1 merges now (then fresh) */
                    rank[o] = rank[i];
                    merged[o] = merged[i];
                }
                i++;
            }
        }
        m = o;
        for (int i = 0; i + 1 < m; i++)
            if (fresh[i] || fresh[i + 1]) rank[i] = pair_rank(b, sym[i], sym[i + 1], &merged[i]);
    }
    return m;
}

typedef struct {
    int32_t id;         /* token, or -1 once merged into its left neighbour */
    int32_t prev, next; /* neighbours, -1 at the ends */
} heap_sym;

typedef struct {
    int32_t rank, pos; /* a candidate merge of sym[pos] with its right neighbour */
} heap_ent;

static inline int heap_less(heap_ent a, heap_ent b) { return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos); }

static void heap_push(heap_ent *h, int *nh, heap_ent e) {
    int i = (*nh)++;
    for (; i > 0 && heap_less(e, h[(i - 1) / 2]); i = (i - 1) / 2) h[i] = h[(i - 1) / 2];
    h[i] = e;
}

static heap_ent heap_pop(heap_ent *h, int *nh) {
    heap_ent top = h[0], last = h[--*nh];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= *nh) break;
        if (c + 1 < *nh && heap_less(h[c + 1], h[c])) c++;
        if (!heap_less(h[c], last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*nh > 0) h[i] = last;
    return top;
}

static void heap_push_pair(const tok_bpe *b, const heap_sym *s, heap_ent *h, int *nh, int32_t pos) {
    const tok_merge *e = find_merge(b, s[pos].id, s[s[pos].next].id);
    if (e) heap_push(h, nh, (heap_ent){e->rank, pos});
}

/* The heap loop over sym[0..m) (see the top of the file), with scratch s (m) and h (3m); returns the count
 * left, written back to sym. */
static int merge_heap(const tok_bpe *b, int32_t *sym, int m, heap_sym *s, heap_ent *h) {
    int nh = 0;
    for (int i = 0; i < m; i++) s[i] = (heap_sym){sym[i], i - 1, i + 1 < m ? i + 1 : -1};
    for (int i = 0; i + 1 < m; i++) heap_push_pair(b, s, h, &nh, i);
    while (nh > 0) {
        heap_ent top = heap_pop(h, &nh);
        int32_t p = top.pos, q = s[p].next;
        if (s[p].id < 0 || q < 0) continue;
        const tok_merge *e = find_merge(b, s[p].id, s[q].id);
        if (!e || e->rank != top.rank) continue; /* stale: the pair at p changed since it was pushed */
        s[p].id = e->id;
        s[q].id = -1;
        s[p].next = s[q].next;
        if (s[q].next >= 0) s[s[q].next].prev = p;
        if (s[p].prev >= 0) heap_push_pair(b, s, h, &nh, s[p].prev);
        if (s[p].next >= 0) heap_push_pair(b, s, h, &nh, p);
    }
    int k = 0;
    for (int32_t i = 0; i >= 0; i = s[i].next) sym[k++] = s[i].id;
    return k;
}

/* ---- encoding ------------------------------------------------------------------------------------------- */

typedef struct {
    int32_t *ids;
    int max;
    int64_t count;
} tok_out;

static void out_push(tok_out *o, const int32_t *sym, int k) {
    for (int i = 0; i < k; i++, o->count++)
        if (o->count < o->max) o->ids[o->count] = sym[i];
}

/* Encodes one piece of m bytes. */
static warm_status encode_piece(const tok_bpe *b, const uint8_t *p, size_t m, tok_out *o, warm_error *err) {
    if (m == 1) { /* a lone byte (a space, a punctuation mark): its own token */
        out_push(o, &b->byte_id[p[0]], 1);
        return WARM_OK;
    }
    if (m > (size_t)INT_MAX / 16) return warm_error_set(err, WARM_ERR_ARG, "a piece of %zu bytes is too long", m);
    int use_heap = b->algo == TOK_MERGE_HEAP ||
                   (b->algo == TOK_MERGE_AUTO && b->monotonic && m > MERGE_NAIVE_MAX);
    /* sym (m), then for the heap: heap_sym (m), heap_ent (3m); for the naive loop: rank, merged (m), fresh (m) */
    size_t per = use_heap ? sizeof(int32_t) + sizeof(heap_sym) + 3 * sizeof(heap_ent) : 3 * sizeof(int32_t) + 1;
    int32_t stack[PIECE_STACK * 4];
    int32_t *sym = stack;
    void *mem = NULL;
    if (m * per > sizeof stack) {
        if (!(mem = malloc(m * per))) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
        sym = mem;
    }
    for (size_t i = 0; i < m; i++) sym[i] = b->byte_id[p[i]];
    int k;
    if (use_heap) {
        heap_sym *s = (heap_sym *)(sym + m);
        k = merge_heap(b, sym, (int)m, s, (heap_ent *)(s + m));
    } else {
        k = merge_naive(b, sym, (int)m, sym + m, sym + 2 * m, (uint8_t *)(sym + 3 * m));
    }
    out_push(o, sym, k);
    free(mem);
    return WARM_OK;
}

/* Encodes s[0..n) as ordinary text (no special tokens). */
static warm_status encode_plain(const tok_bpe *b, const uint8_t *s, size_t n, tok_out *o, warm_error *err) {
    for (size_t i = 0; i < n;) {
        size_t j = tok_bpe_pretoken_end(s, n, i);
        warm_status st = encode_piece(b, s + i, j - i, o, err);
        if (st != WARM_OK) return st;
        i = j;
    }
    return WARM_OK;
}

/* First occurrence of a special token in s[from..n) (the longest at equal starts): its start, or n. */
static size_t find_special(const tok_bpe *b, const uint8_t *s, size_t n, size_t from, int *which) {
    size_t best = n;
    *which = -1;
    for (int k = 0; k < b->nspecial; k++) {
        const tok_special *sp = &b->specials[k];
        for (size_t i = from; i + sp->len <= n && i <= best;) {
            const uint8_t *hit = memchr(s + i, (uint8_t)sp->content[0], n - i);
            if (!hit) break;
            i = (size_t)(hit - s);
            if (i > best || i + sp->len > n) break;
            if (memcmp(hit, sp->content, sp->len) == 0) {
                if (i < best || sp->len > b->specials[*which].len) {
                    best = i;
                    *which = k;
                }
                break;
            }
            i++;
        }
    }
    return best;
}

warm_status tok_bpe_encode(const tok_bpe *b, const char *text, size_t len, int flags, int32_t *ids, int max, int *n,
                           warm_error *err) {
    const uint8_t *s = (const uint8_t *)text;
    tok_out o = {ids, max, 0};
    warm_status st = WARM_OK;
    size_t i = 0;
    while (st == WARM_OK && i < len) {
        int which = -1;
        size_t j = flags & WARM_TOK_SPECIAL ? find_special(b, s, len, i, &which) : len;
        st = encode_plain(b, s + i, j - i, &o, err);
        if (which >= 0) {
            out_push(&o, &b->specials[which].id, 1);
            j += b->specials[which].len;
        }
        i = j;
    }
    if (st != WARM_OK) return st;
    if (o.count > INT_MAX) return warm_error_set(err, WARM_ERR_ARG, "text has more than %d tokens", INT_MAX);
    *n = (int)o.count;
    if (o.count > max)
        return warm_error_set(err, WARM_ERR_ARG, "text has %d tokens, more than the limit of %d", *n, max);
    return WARM_OK;
}

/* ---- decoding and lookups ------------------------------------------------------------------------------- */

static const uint8_t REPLACEMENT[3] = {0xEF, 0xBF, 0xBD}; /* U+FFFD for an id out of range */

char *tok_bpe_decode(const tok_bpe *b, const int32_t *ids, int n, size_t *len_out) {
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += ids[i] >= 0 && ids[i] < b->V ? b->raw_off[ids[i] + 1] - b->raw_off[ids[i]] : sizeof REPLACEMENT;
    char *out = malloc(len + 1), *p = out;
    if (!out) return NULL;
    for (int i = 0; i < n; i++) {
        int ok = ids[i] >= 0 && ids[i] < b->V;
        size_t k = ok ? b->raw_off[ids[i] + 1] - b->raw_off[ids[i]] : sizeof REPLACEMENT;
        memcpy(p, ok ? b->raw + b->raw_off[ids[i]] : REPLACEMENT, k);
        p += k;
    }
    *p = 0;
    if (len_out) *len_out = len;
    return out;
}

/* Slot of spelling s in vtab: the one holding it, or the free slot where it would go. */
static uint32_t vocab_slot(const tok_bpe *b, const char *s, size_t n) {
    uint32_t h = tok_fnv1a(s, n) & (b->vcap - 1);
    for (; b->vtab[h] >= 0; h = (h + 1) & (b->vcap - 1)) {
        const char *w = b->str + b->str_off[b->vtab[h]];
        if (strnlen(w, n + 1) == n && memcmp(w, s, n) == 0) break;
    }
    return h;
}

int32_t tok_bpe_id(const tok_bpe *b, const char *s, size_t n) { return b->vtab[vocab_slot(b, s, n)]; }

const char *tok_bpe_word(const tok_bpe *b, int32_t id) {
    return id >= 0 && id < b->V && b->str_off[id] != UINT32_MAX ? b->str + b->str_off[id] : NULL;
}

int tok_bpe_vocab_size(const tok_bpe *b) { return b->V; }
int32_t tok_bpe_eos(const tok_bpe *b) { return b->eos; }
void tok_bpe_set_merge_algo(tok_bpe *b, int algo) { b->algo = algo; }
int tok_bpe_ranks_monotonic(const tok_bpe *b) { return b->monotonic; }

/* ---- building ------------------------------------------------------------------------------------------- */

void tok_bpe_free(tok_bpe *b) {
    if (!b) return;
    free(b->str);
    free(b->str_off);
    free(b->vtab);
    free(b->mtab);
    free(b->raw);
    free(b->raw_off);
    for (int k = 0; k < b->nspecial; k++) free(b->specials[k].content);
    free(b);
}

static uint32_t pow2_at_least(uint64_t n) {
    uint32_t c = 16;
    while (c < n) c *= 2;
    return c;
}

warm_status tok_bpe_new(tok_bpe **out, int V, int max_merges, warm_error *err) {
    *out = NULL;
    if (V < 256 || V > (1 << 24) || max_merges < 0 || max_merges > (1 << 24))
        return warm_error_set(err, WARM_ERR_FORMAT, "%d tokens and %d merges: out of range (256..2^24 tokens)", V,
                              max_merges);
    tok_bpe *b = calloc(1, sizeof *b);
    if (b) {
        b->V = V;
        b->max_merges = max_merges;
        b->vcap = pow2_at_least(2 * (uint64_t)V);
        b->mcap = pow2_at_least(2 * (uint64_t)max_merges + 1);
        b->str_cap = 16 * (size_t)V;
        b->str = malloc(b->str_cap);
        b->str_off = malloc((size_t)V * sizeof *b->str_off);
        b->vtab = malloc(b->vcap * sizeof *b->vtab);
        b->mtab = malloc(b->mcap * sizeof *b->mtab);
        b->eos = -1;
    }
    if (!b || !b->str || !b->str_off || !b->vtab || !b->mtab) {
        tok_bpe_free(b);
        return warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
    }
    memset(b->str_off, 0xff, (size_t)V * sizeof *b->str_off); /* all UINT32_MAX: unset */
    memset(b->vtab, 0xff, b->vcap * sizeof *b->vtab);         /* all -1 */
    for (uint32_t h = 0; h < b->mcap; h++) b->mtab[h].key = PAIR_EMPTY;
    *out = b;
    return WARM_OK;
}

warm_status tok_bpe_add_token(tok_bpe *b, const char *s, size_t n, int64_t id, const char *where, warm_error *err) {
    if (n == 0 || memchr(s, 0, n))
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: token %lld is empty or holds a NUL", where, (long long)id);
    if (id < 0 || id >= b->V)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: token \"%.64s\" has id %lld, outside [0, %d)", where, s,
                              (long long)id, b->V);
    if (b->str_off[id] != UINT32_MAX)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: id %lld is given to \"%.64s\" and to \"%.64s\"", where,
                              (long long)id, b->str + b->str_off[id], s);
    uint32_t h = vocab_slot(b, s, n);
    if (b->vtab[h] >= 0)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: token \"%.64s\" appears twice (ids %d and %lld)", where, s,
                              b->vtab[h], (long long)id);
    if (b->str_len + n + 1 > UINT32_MAX)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: token spellings exceed 4 GiB", where);
    if (b->str_len + n + 1 > b->str_cap) {
        size_t cap = 2 * b->str_cap + n + 1;
        char *p = realloc(b->str, cap);
        if (!p) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
        b->str = p;
        b->str_cap = cap;
    }
    memcpy(b->str + b->str_len, s, n);
    b->str[b->str_len + n] = 0;
    b->str_off[id] = (uint32_t)b->str_len;
    b->str_len += n + 1;
    b->vtab[h] = (int32_t)id;
    return WARM_OK;
}

warm_status tok_bpe_add_merge(tok_bpe *b, const char *left, size_t nl, const char *right, size_t nr,
                              const char *where, warm_error *err) {
    if (b->nmerges >= b->max_merges)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: more merges than the %d counted", where, b->max_merges);
    int32_t a = tok_bpe_id(b, left, nl), c = tok_bpe_id(b, right, nr);
    if (a < 0 || c < 0)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: merge part \"%.*s\" is not a token", where,
                              (int)(a < 0 ? (nl > 64 ? 64 : nl) : (nr > 64 ? 64 : nr)), a < 0 ? left : right);
    char buf[512];
    if (nl + nr > sizeof buf) return warm_error_set(err, WARM_ERR_FORMAT, "%s: merge longer than 512 bytes", where);
    memcpy(buf, left, nl);
    memcpy(buf + nl, right, nr);
    int32_t m = tok_bpe_id(b, buf, nl + nr);
    if (m < 0)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: merge result \"%.*s\" is not a token", where,
                              (int)(nl + nr > 64 ? 64 : nl + nr), buf);
    uint64_t key = pair_key(a, c);
    uint32_t h = pair_slot(key, b->mcap);
    for (; b->mtab[h].key != PAIR_EMPTY; h = (h + 1) & (b->mcap - 1))
        if (b->mtab[h].key == key)
            return warm_error_set(err, WARM_ERR_FORMAT, "%s: merge \"%.*s %.*s\" repeats rank %d", where,
                                  (int)(nl > 64 ? 64 : nl), left, (int)(nr > 64 ? 64 : nr), right, b->mtab[h].rank);
    b->mtab[h] = (tok_merge){key, b->nmerges++, m};
    return WARM_OK;
}

warm_status tok_bpe_add_special(tok_bpe *b, const char *content, int64_t id, const char *where, warm_error *err) {
    size_t n = strlen(content);
    if (b->nspecial >= TOK_MAX_SPECIAL)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: more than %d special tokens", where, TOK_MAX_SPECIAL);
    if (id < 0 || id >= b->V)
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: special token \"%.64s\" has id %lld, outside [0, %d)", where,
                              content, (long long)id, b->V);
    if (b->str_off[id] == UINT32_MAX) {
        warm_status s = tok_bpe_add_token(b, content, n, id, where, err);
        if (s != WARM_OK) return s;
    } else if (strcmp(b->str + b->str_off[id], content) != 0) {
        return warm_error_set(err, WARM_ERR_FORMAT, "%s: special token \"%.64s\" has id %lld, which is \"%.64s\"",
                              where, content, (long long)id, b->str + b->str_off[id]);
    }
    for (int k = 0; k < b->nspecial; k++)
        if (b->specials[k].id == id) return WARM_OK;
    tok_special *sp = &b->specials[b->nspecial];
    if (!(sp->content = strdup(content))) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
    sp->len = n;
    sp->id = (int32_t)id;
    b->nspecial++;
    return WARM_OK;
}

/* Appends to raw the bytes of token id: special tokens as written, others through the inverse byte map (a
 * character outside the map stays as its UTF-8). */
static void decode_spelling(const tok_bpe *b, int32_t id, uint8_t *raw, uint32_t *len) {
    const uint8_t *s = (const uint8_t *)b->str + b->str_off[id];
    size_t n = strlen((const char *)s);
    for (int k = 0; k < b->nspecial; k++)
        if (b->specials[k].id == id) {
            memcpy(raw + *len, s, n);
            *len += (uint32_t)n;
            return;
        }
    for (size_t i = 0; i < n;) {
        int l;
        uint32_t cp = utf8_at(s, n, i, &l);
        int byte = cp == UINT32_MAX ? -1 : cp_to_byte(cp);
        if (byte >= 0) raw[(*len)++] = (uint8_t)byte;
        else {
            memcpy(raw + *len, s + i, (size_t)l);
            *len += (uint32_t)l;
        }
        i += (size_t)l;
    }
}

/* monotonic: every merge ranks after every merge that makes one of its parts (see the top of the file). */
warm_status tok_bpe_check_monotonic(tok_bpe *b, warm_error *err) {
    int32_t *made = malloc((size_t)b->V * sizeof *made); /* highest rank of a merge producing each token */
    if (!made) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < b->V; i++) made[i] = -1;
    for (uint32_t h = 0; h < b->mcap; h++)
        if (b->mtab[h].key != PAIR_EMPTY && b->mtab[h].rank > made[b->mtab[h].id]) made[b->mtab[h].id] = b->mtab[h].rank;
    b->monotonic = 1;
    for (uint32_t h = 0; h < b->mcap && b->monotonic; h++) {
        const tok_merge *e = &b->mtab[h];
        if (e->key != PAIR_EMPTY)
            b->monotonic = made[(int32_t)(e->key >> 32)] < e->rank && made[(int32_t)(uint32_t)e->key] < e->rank;
    }
    free(made);
    return WARM_OK;
}

warm_status tok_bpe_finish(tok_bpe *b, const char *where, warm_error *err) {
    for (int i = 0; i < b->V; i++)
        if (b->str_off[i] == UINT32_MAX)
            return warm_error_set(err, WARM_ERR_FORMAT, "%s: no token has id %d (ids must be 0..%d)", where, i,
                                  b->V - 1);
    for (int c = 0; c < 256; c++) {
        char u[3];
        uint32_t cp = byte_to_cp(c);
        size_t n = cp < 0x80 ? 1 : 2; /* code points below U+0800 */
        if (n == 1) u[0] = (char)cp;
        else {
            u[0] = (char)(0xC0 | (cp >> 6));
            u[1] = (char)(0x80 | (cp & 0x3F));
        }
        if ((b->byte_id[c] = tok_bpe_id(b, u, n)) < 0)
            return warm_error_set(err, WARM_ERR_FORMAT, "%s: no token for byte 0x%02x (\"%.*s\"): not a byte-level BPE",
                                  where, c, (int)n, u);
    }
    int32_t eos = tok_bpe_id(b, "<|endoftext|>", 13);
    if (eos < 0)
        return warm_error_set(err, WARM_ERR_FORMAT,
                              "%s: no \"<|endoftext|>\" token (warm uses it as end of text and padding)", where);
    warm_status s = tok_bpe_add_special(b, "<|endoftext|>", eos, where, err);
    if (s != WARM_OK) return s;
    b->eos = eos;
    /* decoded bytes: a spelling of n bytes decodes to at most n bytes */
    b->raw = malloc(b->str_len + 1);
    b->raw_off = malloc(((size_t)b->V + 1) * sizeof *b->raw_off);
    if (!b->raw || !b->raw_off) return warm_error_set(err, WARM_ERR_NOMEM, "out of memory");
    uint32_t len = 0;
    for (int i = 0; i < b->V; i++) {
        b->raw_off[i] = len;
        decode_spelling(b, i, b->raw, &len);
    }
    b->raw_off[b->V] = len;
    return WARM_OK;
}
