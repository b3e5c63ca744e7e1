/*
 * cmd_sample.c — `warm sample`: N samples per prompt from a policy with the KV-cache decode path (the prompt
 * prefix is computed once and shared by the N samples), with per-token log-probabilities (needed for KL).
 * Each prompt's RNG stream is seeded from (seed, prompt index), so output does not depend on batching.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "warm/data.h"
#include "warm/model.h"
#include "warm/progress.h"
#include "warm/tokenizer.h"

typedef struct {
    const char *policy, *tok, *prompts, *out;
    int n, top_k, max_new, limit, no_logprobs;
    double temperature, top_p;
    int64_t seed;
} sample_args;

/* Writes the n samples of one prompt as JSONL rows. */
static warm_status write_samples(warm_jsonl_writer *w, const warm_tokenizer *tok, const char *id, const char *prompt,
                                 const int32_t *out, const float *lps, const int *lens, int n, int max_new,
                                 int with_lps, warm_error *err) {
    warm_status s = WARM_OK;
    int32_t eos = warm_tok_eos(tok);
    for (int k = 0; k < n && !s; k++) {
        const int32_t *ids = out + (size_t)k * max_new;
        int len = lens[k], ended = len > 0 && ids[len - 1] == eos;
        char *text = warm_tok_decode(tok, ids, ended ? len - 1 : len);
        cJSON *row = cJSON_CreateObject();
        double sum = 0.0;
        for (int t = 0; t < len; t++) sum += (double)lps[(size_t)k * max_new + t];
        if (!text || !row) {
            s = warm_error_set(err, WARM_ERR_NOMEM, "sample: out of memory");
        } else {
            if (id) cJSON_AddStringToObject(row, "id", id);
            cJSON_AddStringToObject(row, "prompt", prompt);
            cJSON_AddNumberToObject(row, "sample", k);
            cJSON_AddStringToObject(row, "response", text);
            cJSON_AddItemToObject(row, "response_ids", cJSON_CreateIntArray(ids, len));
            cJSON_AddBoolToObject(row, "eos", ended);
            cJSON_AddNumberToObject(row, "logprob", sum);
            if (with_lps) cJSON_AddItemToObject(row, "logprobs", cJSON_CreateFloatArray(lps + (size_t)k * max_new, len));
            s = warm_jsonl_write(w, row, err);
        }
        cJSON_Delete(row);
        free(text);
    }
    return s;
}

static int run_sample(const sample_args *a) {
    warm_error err = {0};
    warm_tokenizer *tok = NULL;
    warm_model m;
    memset(&m, 0, sizeof m);
    warm_jsonl_reader *r = NULL;
    warm_jsonl_writer *w = NULL;
    warm_status s = warm_tok_open(&tok, a->tok, &err);
    if (!s) s = warm_model_load(&m, a->policy, 1, &err);
    int P = m.cfg.n_positions;
    int32_t *prompt = malloc((size_t)(P > 0 ? P : 1) * sizeof(int32_t));
    int32_t *out = malloc((size_t)a->n * a->max_new * sizeof(int32_t));
    float *lps = malloc((size_t)a->n * a->max_new * sizeof(float));
    int *lens = malloc((size_t)a->n * sizeof(int));
    if (!s && (!prompt || !out || !lps || !lens)) s = warm_error_set(&err, WARM_ERR_NOMEM, "sample: out of memory");
    if (!s) s = warm_jsonl_open(&r, a->prompts, &err);
    if (!s) s = warm_jsonl_writer_open(&w, a->out, &err);
    warm_sampler smp = {(float)a->temperature, a->top_k, (float)a->top_p};
    warm_progress prog;
    warm_progress_init(&prog, stderr, "sample", a->limit > 0 ? a->limit : 0);
    int64_t done = 0;
    while (!s && (a->limit <= 0 || done < a->limit)) {
        const cJSON *obj;
        s = warm_jsonl_next(r, &obj, &err);
        if (s || !obj) break;
        const char *text = NULL, *id = NULL;
        s = warm_jsonl_get_str(r, obj, "prompt", 1, &text, NULL, &err);
        if (!s) s = warm_jsonl_get_str(r, obj, "id", 0, &id, NULL, &err);
        int len = 0;
        if (!s) s = warm_tok_encode(tok, text, 0, prompt, P, &len, &err);
        if (s) { warm_jsonl_fail(r, &err, s, "%s", err.msg); break; }
        if (len < 1 || len + a->max_new > P) {
            s = warm_jsonl_fail(r, &err, WARM_ERR_ARG, "prompt of %d tokens + %d new tokens exceeds the context %d",
                                len, a->max_new, P);
            break;
        }
        warm_rng rng;
        warm_rng_seed(&rng, warm_hash64((uint64_t)a->seed, (uint64_t)done));
        s = warm_generate(&m, prompt, len, a->n, a->max_new, &smp, warm_tok_eos(tok), &rng, out, lps, lens, &err);
        if (!s) s = write_samples(w, tok, id, text, out, lps, lens, a->n, a->max_new, !a->no_logprobs, &err);
        done++;
        warm_progress_update(&prog, done);
    }
    if (!s) s = warm_jsonl_writer_commit(w, &err);
    else warm_jsonl_writer_abort(w);
    if (!s) {
        warm_progress_finish(&prog);
        printf("sample: %lld prompts x %d samples -> %s\n", (long long)done, a->n, a->out);
    }
    warm_jsonl_close(r);
    free(prompt); free(out); free(lps); free(lens);
    warm_model_free(&m);
    warm_tok_free(tok);
    return s == WARM_OK ? CLI_EXIT_OK : cli_fail("sample", &err);
}

int cli_cmd_sample(int argc, char **argv) {
    sample_args a;
    memset(&a, 0, sizeof a);
    warm_opt opts[] = {
        {.name = "policy", .kind = WARM_OPT_STRING, .dest = &a.policy, .metavar = "CKPT", .required = 1,
         .help = "the policy model (e.g. the SFT checkpoint)"},
        CLI_OPT_TOKENIZER(&a.tok, 1, "encodes the prompts, decodes the samples"),
        {.name = "prompts", .kind = WARM_OPT_STRING, .dest = &a.prompts, .metavar = "JSONL", .required = 1,
         .help = "rows with \"prompt\" (and optional \"id\")"},
        {.name = "out", .short_name = 'o', .kind = WARM_OPT_STRING, .dest = &a.out, .metavar = "JSONL", .required = 1,
         .help = "one row per sample: id, prompt, sample, response, response_ids, eos, logprob, logprobs"},
        {.name = "n", .kind = WARM_OPT_INT, .dest = &a.n, .min = 1, .max = 4096, .def = "1", .help = "samples per prompt"},
        {.name = "temperature", .kind = WARM_OPT_DOUBLE, .dest = &a.temperature, .min = 0, .max = 100, .def = "1",
         .help = "sampling temperature (0 = greedy)"},
        {.name = "top-k", .kind = WARM_OPT_INT, .dest = &a.top_k, .min = 0, .max = 1 << 24, .def = "0",
         .help = "keep the k most likely tokens (0 = off)"},
        {.name = "top-p", .kind = WARM_OPT_DOUBLE, .dest = &a.top_p, .min = 0.001, .max = 1, .def = "1",
         .help = "nucleus sampling mass (1 = off)"},
        {.name = "max-new", .kind = WARM_OPT_INT, .dest = &a.max_new, .min = 1, .max = 65536, .def = "40",
         .help = "most tokens per response (a response ends at EOS)"},
        {.name = "limit", .kind = WARM_OPT_INT, .dest = &a.limit, .min = 0, .max = 1 << 30, .def = "0",
         .help = "first K prompts only (0 = all)"},
        {.name = "seed", .kind = WARM_OPT_INT64, .dest = &a.seed, .min = 0, .max = 9e18, .def = "1",
         .help = "sampling seed"},
        {.name = "no-logprobs", .kind = WARM_OPT_FLAG, .dest = &a.no_logprobs,
         .help = "omit the per-token log-probabilities (the sum is always written)"},
    };
    warm_opts_cmd cmd = {.prog = "warm", .name = "sample",
                         .desc = "Samples responses from a policy with the KV-cache decode path; the N samples of a\n"
                                 "prompt share its prefix. Log-probabilities are those of the temperature-scaled,\n"
                                 "untruncated distribution.",
                         .opts = opts, .nopts = CLI_NOPTS(opts),
                         .epilog = "example: warm sample --policy sft/final.safetensors --tokenizer task/tokenizer.json \\\n"
                                   "           --prompts task/prompts_val.jsonl --n 4 -o samples.jsonl"};
    warm_opts_result res;
    int rc = cli_parse(&cmd, argc, argv, &res);
    if (rc != CLI_PARSE_OK) return cli_parse_exit(rc);
    int code = run_sample(&a);
    warm_opts_free(&cmd, &res);
    return code;
}
