/*
 * prefs.c — oracle-labelled preference pairs for the embedded task (warm_task_prefs, include/warm/task.h).
 *
 * For each prompt of a split: two responses (train/val: two samples of the SFT policy sharing the prompt's
 * KV prefix; OOD: one sample from each of two different generators), their exact gold rewards, a
 * Bradley-Terry label draw P(first wins) = sigma((g1 - g2)/tau), and for train pairs a recorded label swap
 * with probability `corrupt`. Every random draw of prompt i of split s comes from its own stream
 * warm_hash64(seed, s * 2^32 + i), so a split's rows do not depend on the sizes of the others.
 */
#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "warm/data.h"
#include "warm/progress.h"
#include "warm/task.h"

void warm_task_prefs_config_default(warm_task_prefs_config *c) {
    memset(c, 0, sizeof *c);
    c->tau = 0.25;
    c->max_new = 32;
    c->seed = 1;
    c->top_p = 1.0f;
    c->draws = 2;
    c->pair_select = WARM_PAIRS_RANDOM;
}

enum { SPLIT_TRAIN = 0, SPLIT_VAL = 1, SPLIT_OOD = 2 };
static const char *const split_names[3] = {"train", "val", "ood"};
static const char *const split_files[3] = {"prompts_train.jsonl", "prompts_val.jsonl", "prompts_ood.jsonl"};

typedef struct {
    const warm_task_world *w;
    const warm_task_prefs_config *c;
    int32_t *prompt;          /* (ctx) */
    int32_t *out;             /* (draws, max_new); the pair is moved to rows 0 and 1 */
    int *lens;                /* (draws) */
    int *gen;                 /* (draws) generator of each OOD draw */
    double *gold;             /* (draws) */
    int *dist;                /* (draws, draws) edit distances of the pairs (pair_select = closest) */
    int32_t *dist_row;        /* (max_new + 1) scratch row of the edit distance */
    int32_t *scratch;         /* (draws, max_new): one OOD generator's samples */
    int *scratch_lens;        /* (draws) */
    int ctx;
} pair_ctx;

/* One response of generator g for the prompt; ids into dst (max_new), length returned via *len. */
static warm_status sample_one(pair_ctx *p, const warm_task_generator *g, int plen, warm_rng *rng, int32_t *dst,
                              int *len, warm_error *err) {
    warm_sampler smp = {g->temperature, p->c->top_k, p->c->top_p};
    const warm_tokenizer *tok = warm_task_tokenizer(p->w);
    return warm_generate(g->model, p->prompt, plen, 1, p->c->max_new, &smp, warm_tok_eos(tok), rng, dst, NULL, len,
                         err);
}

static cJSON *ids_json(const int32_t *ids, int n) { return cJSON_CreateIntArray(ids, n); }

/* Response text without a trailing <eos> (the ids keep it). */
static char *resp_text(const warm_tokenizer *tok, const int32_t *ids, int n) {
    int k = n > 0 && ids[n - 1] == warm_tok_eos(tok) ? n - 1 : n;
    return warm_tok_decode(tok, ids, k);
}

static double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }

/* Builds the JSON row of the pair with response ch chosen and writes it. */
static warm_status write_row(pair_ctx *p, warm_jsonl_writer *wr, int split, int held_out, const char *id,
                             const char *prompt_text, int plen, const char *src[2], const double g[2], double pfirst,
                             int ch, int corrupted, warm_error *err) {
    const warm_tokenizer *tok = warm_task_tokenizer(p->w);
    int mn = p->c->max_new, rj = 1 - ch;
    char *tc = resp_text(tok, p->out + ch * mn, p->lens[ch]), *tr = resp_text(tok, p->out + rj * mn, p->lens[rj]);
    cJSON *row = cJSON_CreateObject();
    warm_status s = WARM_OK;
    if (!tc || !tr || !row) {
        s = warm_error_set(err, WARM_ERR_NOMEM, "prefs: out of memory");
    } else {
        if (id) cJSON_AddStringToObject(row, "id", id);
        cJSON_AddStringToObject(row, "split", held_out ? "ood_val" : split_names[split]);
        cJSON_AddStringToObject(row, "prompt", prompt_text);
        cJSON_AddStringToObject(row, "chosen", tc);
        cJSON_AddStringToObject(row, "rejected", tr);
        cJSON_AddItemToObject(row, "prompt_ids", ids_json(p->prompt, plen));
        cJSON_AddItemToObject(row, "chosen_ids", ids_json(p->out + ch * mn, p->lens[ch]));
        cJSON_AddItemToObject(row, "rejected_ids", ids_json(p->out + rj * mn, p->lens[rj]));
        cJSON_AddBoolToObject(row, "corrupted", corrupted);
        cJSON_AddNumberToObject(row, "gold_chosen", g[ch]);
        cJSON_AddNumberToObject(row, "gold_rejected", g[rj]);
        cJSON_AddNumberToObject(row, "label_p", ch == 0 ? pfirst : 1.0 - pfirst);
        cJSON_AddStringToObject(row, "chosen_source", src[ch]);
        cJSON_AddStringToObject(row, "rejected_source", src[rj]);
        s = warm_jsonl_write(wr, row, err);
    }
    cJSON_Delete(row);
    free(tc);
    free(tr);
    return s;
}

/* Labels the pair (index 0/1 of p->out) and writes its row (and, with a clean twin, the row without the swap). */
static warm_status emit_pair(pair_ctx *p, warm_jsonl_writer *wr, warm_jsonl_writer *clean, int split, int held_out,
                             const char *id, const char *prompt_text, int plen, const char *src[2], warm_rng *rng,
                             warm_task_prefs_summary *sum, warm_error *err) {
    int mn = p->c->max_new;
    double g[2];
    for (int k = 0; k < 2; k++) g[k] = warm_task_gold_ids(p->w, p->prompt, plen, p->out + k * mn, p->lens[k], NULL);
    double pfirst = sigmoid((g[0] - g[1]) / p->c->tau);
    int first_wins = (double)warm_rng_uniform(rng) < pfirst;
    int corrupted = split == SPLIT_TRAIN && p->c->corrupt > 0 && (double)warm_rng_uniform(rng) < p->c->corrupt;
    int ch = first_wins ^ corrupted ? 0 : 1;
    if (g[0] == g[1]) sum->n_gold_ties[split]++;
    else if ((g[0] > g[1]) == first_wins) sum->n_gold_agree[split]++;
    sum->n[split]++;
    sum->n_corrupted += corrupted;
    warm_status s = write_row(p, wr, split, held_out, id, prompt_text, plen, src, g, pfirst, ch, corrupted, err);
    if (!s && clean)
        s = write_row(p, clean, split, held_out, id, prompt_text, plen, src, g, pfirst, first_wins ? 0 : 1, 0, err);
    return s;
}

static int same_response(const pair_ctx *p) {
    int mn = p->c->max_new;
    return p->lens[0] == p->lens[1] && memcmp(p->out, p->out + mn, (size_t)p->lens[0] * sizeof(int32_t)) == 0;
}

/* The two responses of one prompt: train/val = two policy samples (one shared prefix), OOD = two generators. */
static warm_status make_pair(pair_ctx *p, int split, int plen, const warm_task_generator *policy,
                             const warm_task_generator *ood, int n_ood, warm_rng *rng, const char *src[2],
                             warm_error *err) {
    int mn = p->c->max_new;
    /* Identical responses teach nothing: redraw up to 3 times (then keep them). */
    for (int attempt = 0; attempt < 4; attempt++) {
        warm_status s;
        if (split != SPLIT_OOD) {
            warm_sampler smp = {policy->temperature, p->c->top_k, p->c->top_p};
            s = warm_generate(policy->model, p->prompt, plen, 2, mn, &smp, warm_tok_eos(warm_task_tokenizer(p->w)),
                              rng, p->out, NULL, p->lens, err);
            src[0] = src[1] = policy->name;
        } else {
            int a = (int)warm_rng_below(rng, (uint32_t)n_ood);
            int b = (a + 1 + (int)warm_rng_below(rng, (uint32_t)(n_ood - 1))) % n_ood;
            s = sample_one(p, &ood[a], plen, rng, p->out, &p->lens[0], err);
            if (!s) s = sample_one(p, &ood[b], plen, rng, p->out + mn, &p->lens[1], err);
            src[0] = ood[a].name;
            src[1] = ood[b].name;
        }
        if (s || !same_response(p)) return s;
    }
    return WARM_OK;
}

/* Moves draw k of p->out/lens into slot dst. */
static void move_draw(pair_ctx *p, int k, int dst) {
    int mn = p->c->max_new;
    if (k == dst) return;
    memcpy(p->out + (size_t)dst * mn, p->out + (size_t)k * mn, (size_t)p->lens[k] * sizeof(int32_t));
    p->lens[dst] = p->lens[k];
}

/*
 * draws = K > 2: K responses (train/val: K policy samples sharing the prompt prefix; OOD: the first two from two
 * different generators as in make_pair, the others from a generator drawn uniformly, each generator's draws
 * sampled as one batch sharing the prompt prefix), then one pair drawn
 * uniformly among the pairs with different gold rewards (OOD: and different generators); without such a pair,
 * among all admissible pairs (a gold tie). The pair ends in slots 0 and 1, in the order drawn.
 */
static warm_status make_draws(pair_ctx *p, int split, int plen, const warm_task_generator *policy,
                              const warm_task_generator *ood, int n_ood, warm_rng *rng, const char *src[2],
                              warm_error *err) {
    int mn = p->c->max_new, K = p->c->draws;
    warm_status s = WARM_OK;
    if (split != SPLIT_OOD) {
        warm_sampler smp = {policy->temperature, p->c->top_k, p->c->top_p};
        s = warm_generate(policy->model, p->prompt, plen, K, mn, &smp, warm_tok_eos(warm_task_tokenizer(p->w)), rng,
                          p->out, NULL, p->lens, err);
        for (int k = 0; k < K; k++) p->gen[k] = -1;
    } else {
        /* Generators drawn first, then each generator's draws sampled together (one shared prompt prefix). */
        int a = (int)warm_rng_below(rng, (uint32_t)n_ood);
        p->gen[0] = a;
        p->gen[1] = (a + 1 + (int)warm_rng_below(rng, (uint32_t)(n_ood - 1))) % n_ood;
        for (int k = 2; k < K; k++) p->gen[k] = (int)warm_rng_below(rng, (uint32_t)n_ood);
        for (int gi = 0; gi < n_ood && !s; gi++) {
            int cnt = 0;
            for (int k = 0; k < K; k++) cnt += p->gen[k] == gi;
            if (!cnt) continue;
            warm_sampler smp = {ood[gi].temperature, p->c->top_k, p->c->top_p};
            s = warm_generate(ood[gi].model, p->prompt, plen, cnt, mn, &smp, warm_tok_eos(warm_task_tokenizer(p->w)),
                              rng, p->scratch, NULL, p->scratch_lens, err);
            for (int k = 0, j = 0; k < K && !s; k++)
                if (p->gen[k] == gi) {
                    memcpy(p->out + (size_t)k * mn, p->scratch + (size_t)j * mn, (size_t)p->scratch_lens[j] * sizeof(int32_t));
                    p->lens[k] = p->scratch_lens[j++];
                }
        }
    }
    if (s) return s;
    for (int k = 0; k < K; k++) p->gold[k] = warm_task_gold_ids(p->w, p->prompt, plen, p->out + (size_t)k * mn,
                                                                p->lens[k], NULL);
    /* Count the admissible pairs with distinct gold, then draw one of them (else one of all admissible pairs).
     * pair_select = closest: only the admissible pairs of the smallest token edit distance take part in the
     * draw (among those with distinct gold when there are any). */
    int closest = p->c->pair_select == WARM_PAIRS_CLOSEST;
    int n_distinct = 0, n_all = 0, best_distinct = INT_MAX, best_all = INT_MAX;
    for (int i = 0; i < K; i++)
        for (int j = i + 1; j < K; j++) {
            int d = 0;
            if (p->gen[i] >= 0 && p->gen[i] == p->gen[j]) continue;
            if (closest) {
                d = warm_task_edit_distance(p->out + (size_t)i * mn, p->lens[i], p->out + (size_t)j * mn, p->lens[j],
                                            p->dist_row);
                p->dist[i * K + j] = d;
            }
            if (d < best_all) best_all = d, n_all = 0;
            n_all += d == best_all;
            if (p->gold[i] != p->gold[j]) {
                if (d < best_distinct) best_distinct = d, n_distinct = 0;
                n_distinct += d == best_distinct;
            }
        }
    int want_distinct = n_distinct > 0, best = want_distinct ? best_distinct : best_all;
    int pick = (int)warm_rng_below(rng, (uint32_t)(want_distinct ? n_distinct : n_all)), bi = 0, bj = 1;
    for (int i = 0; i < K && pick >= 0; i++)
        for (int j = i + 1; j < K && pick >= 0; j++) {
            if (p->gen[i] >= 0 && p->gen[i] == p->gen[j]) continue;
            if (want_distinct && p->gold[i] == p->gold[j]) continue;
            if (closest && p->dist[i * K + j] != best) continue;
            if (pick-- == 0) bi = i, bj = j;
        }
    int gi = p->gen[bi], gj = p->gen[bj];
    /* bi < bj, so bj >= 1: moving bi to slot 0 leaves bj's row intact. */
    move_draw(p, bi, 0);
    move_draw(p, bj, 1);
    src[0] = gi >= 0 ? ood[gi].name : policy->name;
    src[1] = gj >= 0 ? ood[gj].name : policy->name;
    return WARM_OK;
}

static warm_status run_split(pair_ctx *p, int split, const char *task_dir, const warm_task_generator *policy,
                             const warm_task_generator *ood, int n_ood, warm_jsonl_writer *wr,
                             warm_jsonl_writer *clean, FILE *progress,
                             warm_task_prefs_summary *sum, warm_error *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", task_dir, split_files[split]);
    int limit = split == SPLIT_TRAIN ? p->c->limit_train : split == SPLIT_VAL ? p->c->limit_val : p->c->limit_ood;
    warm_jsonl_reader *r = NULL;
    warm_status s = warm_jsonl_open(&r, path, err);
    warm_progress prog;
    warm_progress_init(&prog, progress, split_names[split], limit);
    int64_t i = 0;
    while (!s && (limit <= 0 || i < limit)) {
        const cJSON *obj;
        s = warm_jsonl_next(r, &obj, err);
        if (s || !obj) break;
        const char *text = NULL, *id = NULL;
        s = warm_jsonl_get_str(r, obj, "prompt", 1, &text, NULL, err);
        if (!s) s = warm_jsonl_get_str(r, obj, "id", 0, &id, NULL, err);
        int plen = 0;
        if (!s) s = warm_tok_encode(warm_task_tokenizer(p->w), text, 0, p->prompt, p->ctx, &plen, err);
        if (!s && plen + p->c->max_new > p->ctx)
            s = warm_jsonl_fail(r, err, WARM_ERR_ARG, "prompt of %d tokens + %d new tokens exceeds the context %d",
                                plen, p->c->max_new, p->ctx);
        warm_rng rng;
        warm_rng_seed(&rng, warm_hash64(p->c->seed, ((uint64_t)split << 32) + (uint64_t)i));
        const char *src[2];
        if (!s)
            s = p->c->draws > 2 ? make_draws(p, split, plen, policy, ood, n_ood, &rng, src, err)
                                : make_pair(p, split, plen, policy, ood, n_ood, &rng, src, err);
        int held_out = split == SPLIT_OOD && i < p->c->ood_val;
        if (!s) s = emit_pair(p, wr, clean, split, held_out, id, text, plen, src, &rng, sum, err);
        sum->n_ood_val += held_out;
        i++;
        warm_progress_update(&prog, i);
    }
    if (!s) warm_progress_finish(&prog);
    else warm_progress_clear(&prog);
    warm_jsonl_close(r);
    return s;
}

warm_status warm_task_prefs(const warm_task_world *w, const char *task_dir, const warm_task_generator *policy,
                            const warm_task_generator *ood, int n_ood, const warm_task_prefs_config *c,
                            const char *out_path, FILE *progress, warm_task_prefs_summary *sum, warm_error *err) {
    memset(sum, 0, sizeof *sum);
    if (!(c->tau > 0) || !(c->corrupt >= 0 && c->corrupt <= 1) || c->max_new < 1 || c->draws < 2 || c->draws > 64)
        return warm_error_set(err, WARM_ERR_ARG,
                              "prefs: need tau > 0, corrupt in [0, 1], max_new >= 1, draws in [2, 64]");
    if (n_ood < 2) return warm_error_set(err, WARM_ERR_ARG, "prefs: the OOD set needs at least 2 generators");
    int V = warm_tok_vocab_size(warm_task_tokenizer(w));
    int ctx = policy->model->cfg.n_positions;
    for (int k = -1; k < n_ood; k++) {
        const warm_model *m = k < 0 ? policy->model : ood[k].model;
        const char *name = k < 0 ? policy->name : ood[k].name;
        if (m->cfg.vocab_size != V)
            return warm_error_set(err, WARM_ERR_MISMATCH, "prefs: generator %s has vocabulary %d, the task %d", name,
                                  m->cfg.vocab_size, V);
        if (m->cfg.n_positions < ctx) ctx = m->cfg.n_positions;
    }
    int K = c->draws;
    pair_ctx p = {w,
                  c,
                  malloc((size_t)ctx * sizeof(int32_t)),
                  malloc((size_t)K * c->max_new * sizeof(int32_t)),
                  malloc((size_t)K * sizeof(int)),
                  malloc((size_t)K * sizeof(int)),
                  malloc((size_t)K * sizeof(double)),
                  malloc((size_t)K * K * sizeof(int)),
                  malloc((size_t)(c->max_new + 1) * sizeof(int32_t)),
                  malloc((size_t)K * c->max_new * sizeof(int32_t)),
                  malloc((size_t)K * sizeof(int)),
                  ctx};
    warm_jsonl_writer *wr = NULL, *clean = NULL;
    warm_status s = p.prompt && p.out && p.lens && p.gen && p.gold && p.dist && p.dist_row && p.scratch && p.scratch_lens
                        ? WARM_OK
                         : warm_error_set(err, WARM_ERR_NOMEM, "prefs: out of memory");
    if (!s) s = warm_jsonl_writer_open(&wr, out_path, err);
    if (!s && c->clean_path) s = warm_jsonl_writer_open(&clean, c->clean_path, err);
    double t0 = warm_time_now();
    for (int split = 0; split < 3 && !s; split++)
        s = run_split(&p, split, task_dir, policy, ood, n_ood, wr, clean, progress, sum, err);
    /* The clean twin is committed first: a failure after it leaves no corrupted file without its twin's rows. */
    if (!s && clean) s = warm_jsonl_writer_commit(clean, err);
    else if (clean) warm_jsonl_writer_abort(clean);
    if (!s) s = warm_jsonl_writer_commit(wr, err);
    else if (wr) warm_jsonl_writer_abort(wr);
    sum->seconds = warm_time_now() - t0;
    free(p.prompt);
    free(p.out);
    free(p.lens);
    free(p.gen);
    free(p.gold);
    free(p.dist);
    free(p.dist_row);
    free(p.scratch);
    free(p.scratch_lens);
    return s;
}

int warm_task_edit_distance(const int32_t *a, int na, const int32_t *b, int nb, int32_t *row) {
    for (int j = 0; j <= nb; j++) row[j] = j;
    for (int i = 1; i <= na; i++) {
        int32_t diag = row[0]; /* D[i-1][j-1] */
        row[0] = i;
        for (int j = 1; j <= nb; j++) {
            int32_t up = row[j]; /* D[i-1][j] */
            int32_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}
