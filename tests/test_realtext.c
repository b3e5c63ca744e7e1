/*
 * test_realtext.c — real preference text end to end with the GPT-2 tokenizer (issue 13): eight short pairs
 * of LLMBar Natural (../shared/data/llmbar, MIT) written as TRL JSONL (explicit prompt rows and HH-style
 * implicit rows), then `warm pretrain -> sft -> probe -> train-rm -> sweep -> merge -> eval -> score` and
 * `warm sample`, all with `--tokenizer gpt2`, on a one-layer GPT-2 of width 16 (the 50,257-token vocabulary
 * dominates the cost).
 * Checks: prompt and response ids are encode(prompt) ++ encode(response) ++ <|endoftext|> and decode back to
 * the texts (HH rows split after the last "\n\nAssistant:" of the common head); the loss falls on the tiny overfit set (pretrain, sft, probe); a bad row is an error naming
 * file:line; a bad --tokenizer fails before any work.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "test_util.h"
#include "warm/data.h"
#include "warm/tokenizer.h"

#define NPAIR 8
#define NEXPLICIT 6 /* rows 0..5 explicit prompt; 6..7 HH-style implicit */

static char g_dir[64];
static char *g_prompt[NPAIR], *g_chosen[NPAIR], *g_rejected[NPAIR];

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static char *hh(const char *prompt, const char *resp) {
    size_t n = strlen(prompt) + strlen(resp) + 32;
    char *s = malloc(n);
    if (s) snprintf(s, n, "\n\nHuman: %s\n\nAssistant: %s", prompt, resp);
    return s;
}

static void write_rows(const char *name, cJSON **rows, int n) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "w");
    if (!f) fail_msg("cannot write %s", path);
    for (int i = 0; i < n; i++) {
        char *line = cJSON_PrintUnformatted(rows[i]);
        fprintf(f, "%s\n", line);
        free(line);
        cJSON_Delete(rows[i]);
    }
    fclose(f);
}

/* Picks the first NPAIR pairs of LLMBar Natural whose prompt + longer output is under 260 bytes. */
static int setup(void **state) {
    (void)state;
    cJSON *arr = test_shared_json("llmbar/LLMBar/Natural/dataset.json", "test_realtext");
    if (!arr) return -1;
    int k = 0;
    for (cJSON *r = arr->child; r && k < NPAIR; r = r->next) {
        const char *in = cJSON_GetStringValue(cJSON_GetObjectItem(r, "input"));
        const char *o1 = cJSON_GetStringValue(cJSON_GetObjectItem(r, "output_1"));
        const char *o2 = cJSON_GetStringValue(cJSON_GetObjectItem(r, "output_2"));
        int label = cJSON_GetObjectItem(r, "label")->valueint;
        size_t longer = strlen(o1) > strlen(o2) ? strlen(o1) : strlen(o2);
        if (strlen(in) + longer >= 260) continue;
        g_prompt[k] = dup_str(in);
        g_chosen[k] = dup_str(label == 1 ? o1 : o2);
        g_rejected[k] = dup_str(label == 1 ? o2 : o1);
        k++;
    }
    cJSON_Delete(arr);
    if (k < NPAIR) return -1;
    test_tmpdir(g_dir, sizeof g_dir);
    cJSON *pre[NPAIR], *sft[NPAIR], *prefs[NPAIR], *prompts[NPAIR];
    for (int i = 0; i < NPAIR; i++) {
        char *c = hh(g_prompt[i], g_chosen[i]), *r = hh(g_prompt[i], g_rejected[i]), *p = hh(g_prompt[i], "");
        p[strlen(p) - 1] = 0; /* "...Assistant:" without the space: it starts the completion */
        pre[i] = cJSON_CreateObject();
        cJSON_AddStringToObject(pre[i], "text", c);
        sft[i] = cJSON_CreateObject();
        cJSON_AddStringToObject(sft[i], "prompt", p);
        size_t n = strlen(g_chosen[i]) + 2;
        char *comp = malloc(n);
        snprintf(comp, n, " %s", g_chosen[i]);
        cJSON_AddStringToObject(sft[i], "completion", comp);
        free(comp);
        prompts[i] = cJSON_CreateObject();
        cJSON_AddStringToObject(prompts[i], "prompt", p);
        prefs[i] = cJSON_CreateObject();
        if (i < NEXPLICIT) {
            cJSON_AddStringToObject(prefs[i], "prompt", g_prompt[i]);
            cJSON_AddStringToObject(prefs[i], "chosen", g_chosen[i]);
            cJSON_AddStringToObject(prefs[i], "rejected", g_rejected[i]);
        } else {
            cJSON_AddStringToObject(prefs[i], "chosen", c);
            cJSON_AddStringToObject(prefs[i], "rejected", r);
        }
        cJSON_AddStringToObject(prefs[i], "split", "train");
        free(c);
        free(r);
        free(p);
    }
    write_rows("pre.jsonl", pre, NPAIR);
    write_rows("sft.jsonl", sft, NPAIR);
    write_rows("prefs.jsonl", prefs, NPAIR);
    write_rows("prompts.jsonl", prompts, 2);
    for (int i = 2; i < NPAIR; i++) cJSON_Delete(prompts[i]);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    for (int i = 0; i < NPAIR; i++) {
        free(g_prompt[i]);
        free(g_chosen[i]);
        free(g_rejected[i]);
    }
    if (g_dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
        if (system(cmd) != 0) return -1;
    }
    return 0;
}

/* Runs `cd DIR && warm ARGS`; returns its stdout (malloc'd), *errs its stderr (malloc'd), *status the exit
 * status. */
static char *warm(const char *args, int *status, char **errs) {
    char bin[600], cmd[4096], path[256];
    if (!test_find_warm(bin, sizeof bin)) fail_msg("the warm binary of this build (%s) is missing: build it first", bin);
    snprintf(cmd, sizeof cmd, "cd '%s' && OMP_NUM_THREADS=1 '%s' %s > out.txt 2> err.txt", g_dir, bin, args);
    int rc = system(cmd);
    size_t n;
    snprintf(path, sizeof path, "%s/out.txt", g_dir);
    char *out = warm_read_file(path, &n, NULL);
    snprintf(path, sizeof path, "%s/err.txt", g_dir);
    *errs = warm_read_file(path, &n, NULL);
    assert_non_null(out);
    assert_non_null(*errs);
    *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return out;
}

/* Runs warm ARGS, which must succeed; returns its stdout (malloc'd). */
static char *warm_ok(const char *args) {
    char *errs;
    int rc;
    char *o = warm(args, &rc, &errs);
    if (rc != 0) fail_msg("warm %s: exit %d\n%s%s", args, rc, o, errs);
    print_message("warm %.40s...: %s", args, o);
    free(errs);
    return o;
}

/* The two numbers of "<key> A -> B" in s. */
static void loss_pair(const char *s, const char *key, double *a, double *b) {
    const char *p = strstr(s, key);
    if (!p || sscanf(p + strlen(key), " %lf -> %lf", a, b) != 2) fail_msg("no \"%s A -> B\" in: %s", key, s);
}

/* Runs warm ARGS (must succeed) and checks that "<key> A -> B" in its output fell by more than by. */
static void expect_fall(const char *args, const char *key, double by) {
    double a, b;
    char *out = warm_ok(args);
    loss_pair(out, key, &a, &b);
    if (!(b < a - by)) fail_msg("warm %.12s: %s did not fall by more than %g: %g -> %g", args, key, by, a, b);
    free(out);
}

/* The first number named key anywhere in j (depth first). */
static const cJSON *find_number(const cJSON *j, const char *key) {
    for (const cJSON *c = j ? j->child : NULL; c; c = c->next) {
        if (c->string && strcmp(c->string, key) == 0 && cJSON_IsNumber(c)) return c;
        const cJSON *f = find_number(c, key);
        if (f) return f;
    }
    return NULL;
}

/* Prompt ids = encode(prompt); response ids = encode(response) + EOS; decoding gives back the bytes. */
static void test_ids_round_trip(void **state) {
    (void)state;
    warm_error err;
    warm_tokenizer *tok;
    if (warm_tok_open(&tok, "gpt2", &err) != WARM_OK) fail_msg("%s", err.msg);
    char path[256];
    snprintf(path, sizeof path, "%s/prefs.jsonl", g_dir);
    warm_prefs d = {0};
    if (warm_prefs_load(&d, path, tok, NULL, &err) != WARM_OK) fail_msg("%s", err.msg);
    assert_int_equal(d.n, NPAIR);
    assert_int_equal(d.eos_id, 50256);
    assert_int_equal(d.pad_id, 50256);
    assert_int_equal(d.vocab_size, 50257);
    static int32_t ids[4096];
    for (int i = 0; i < NPAIR; i++) {
        warm_pref_view v = warm_prefs_view(&d, i);
        /* explicit rows: the fields; HH rows: split after the last "\n\nAssistant:" of the common head */
        int explicit_row = i < NEXPLICIT;
        char *p = explicit_row ? dup_str(g_prompt[i]) : hh(g_prompt[i], "");
        if (!explicit_row) p[strlen(p) - 1] = 0;
        char *whole[2] = {hh(g_prompt[i], g_chosen[i]), hh(g_prompt[i], g_rejected[i])};
        const char *resp[2] = {g_chosen[i], g_rejected[i]};
        if (!explicit_row) {
            resp[0] = whole[0] + strlen(p);
            resp[1] = whole[1] + strlen(p);
        }
        int n, np;
        assert_int_equal(warm_tok_encode_n(tok, p, strlen(p), 0, ids, 4096, &np, &err), WARM_OK);
        assert_int_equal(v.prompt_len, np);
        assert_memory_equal(v.prompt, ids, (size_t)np * sizeof *ids);
        for (int side = 0; side < 2; side++) {
            const char *want = resp[side];
            assert_int_equal(warm_tok_encode_n(tok, want, strlen(want), 0, ids, 4096, &n, &err), WARM_OK);
            assert_int_equal(v.resp_len[side], n + 1);
            assert_memory_equal(v.resp[side], ids, (size_t)n * sizeof *ids);
            assert_int_equal(v.resp[side][n], 50256);
            /* prompt ids ++ response ids (without EOS) decode to prompt + response, byte for byte */
            memcpy(ids, v.prompt, (size_t)np * sizeof *ids);
            memcpy(ids + np, v.resp[side], (size_t)n * sizeof *ids);
            char *text = warm_tok_decode(tok, ids, np + n);
            assert_int_equal(strlen(text), strlen(p) + strlen(want));
            assert_memory_equal(text, p, strlen(p));
            assert_string_equal(text + strlen(p), want);
            free(text);
            if (!explicit_row) {
                /* "...Assistant:" + " response": the same ids as the whole dialogue encoded at once */
                int nw;
                static int32_t w[4096];
                assert_int_equal(warm_tok_encode_n(tok, whole[side], strlen(whole[side]), 0, w, 4096, &nw, &err),
                                 WARM_OK);
                assert_int_equal(nw, np + n);
                assert_memory_equal(w, ids, (size_t)nw * sizeof *w);
            }
        }
        free(p);
        free(whole[0]);
        free(whole[1]);
    }
    warm_prefs_free(&d);
    /* Why separately: the boundary. "Answer: " + "Hello" encoded apart keeps the prompt's trailing space as
     * its own token (220); the joined string merges it into " Hello" (18435). */
    int a, b, c;
    int32_t pa[8], pb[8], pc[8];
    assert_int_equal(warm_tok_encode_n(tok, "Answer: ", 8, 0, pa, 8, &a, &err), WARM_OK);
    assert_int_equal(warm_tok_encode_n(tok, "Hello", 5, 0, pb, 8, &b, &err), WARM_OK);
    assert_int_equal(warm_tok_encode_n(tok, "Answer: Hello", 13, 0, pc, 8, &c, &err), WARM_OK);
    assert_int_equal(pa[a - 1], 220);
    assert_int_equal(pc[c - 1], 18435);
    assert_int_equal(a + b, c + 1);
    warm_tok_free(tok);
}

/* Each sample's "response" is the decoding of its "response_ids" (the EOS, when it ended, left out). */
static void check_samples(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/samples.jsonl", g_dir);
    warm_error err;
    warm_tokenizer *tok;
    if (warm_tok_open(&tok, "gpt2", &err) != WARM_OK) fail_msg("%s", err.msg);
    warm_jsonl_reader *r;
    assert_int_equal(warm_jsonl_open(&r, path, &err), WARM_OK);
    const cJSON *row;
    int rows = 0;
    while (warm_jsonl_next(r, &row, &err) == WARM_OK && row) {
        const cJSON *ids = cJSON_GetObjectItem(row, "response_ids");
        int n = cJSON_GetArraySize(ids), ended = cJSON_IsTrue(cJSON_GetObjectItem(row, "eos"));
        int32_t v[64];
        assert_true(n <= 64);
        for (int k = 0; k < n; k++) v[k] = (int32_t)cJSON_GetArrayItem(ids, k)->valueint;
        char *text = warm_tok_decode(tok, v, ended ? n - 1 : n);
        assert_string_equal(text, cJSON_GetStringValue(cJSON_GetObjectItem(row, "response")));
        free(text);
        rows++;
    }
    assert_int_equal(rows, 4);
    warm_jsonl_close(r);
    warm_tok_free(tok);
}

/* The HH split: the last "\n\nAssistant:" inside the common head, not in each side (formats.md §4.2). */
static void test_hh_split(void **state) {
    (void)state;
    const char *head = "\n\nHuman: hi\n\nAssistant: ok\n\nHuman: and?\n\nAssistant:";
    assert_int_equal(warm_pref_hh_split("\n\nHuman: hi\n\nAssistant: ok\n\nHuman: and?\n\nAssistant: A\n\nAssistant: x",
                                        "\n\nHuman: hi\n\nAssistant: ok\n\nHuman: and?\n\nAssistant: B"),
                     strlen(head));
    /* both responses start alike: still cut at the marker, the responses keep their leading space */
    assert_int_equal(warm_pref_hh_split("\n\nHuman: q\n\nAssistant: Sure, A", "\n\nHuman: q\n\nAssistant: Sure, B"),
                     strlen("\n\nHuman: q\n\nAssistant:"));
    assert_int_equal(warm_pref_hh_split("Hi there", "Hi you"), 0);          /* no marker: prompt stays empty */
    assert_int_equal(warm_pref_hh_split("\n\nHuman: q\n\nAssistan", "\n\nHuman: q\n\nAssistant: x"), 0);
}

/* pretrain -> sft -> probe -> train-rm -> sweep -> merge -> eval -> score, and sample, all with --tokenizer gpt2. */
static void test_pipeline_gpt2(void **state) {
    (void)state;
    char *out;
    expect_fall("pretrain --data pre.jsonl --val pre.jsonl --tokenizer gpt2 --layers 1 --heads 2 --width 16 "
                "--context 128 --dropout 0 --steps 30 --batch 4 --lr 1e-2 --warmup 0 --eval-every 30 -o pre",
                "val loss", 0.5);
    expect_fall("sft --init pre/final.safetensors --data sft.jsonl --val sft.jsonl --tokenizer gpt2 --steps 20 "
                "--batch 4 --lr 1e-2 --warmup 0 --eval-every 20 -o sft",
                "val loss", 0.0);
    expect_fall("probe --init sft/final.safetensors --data prefs.jsonl --tokenizer gpt2 --steps 200 --lr 0.05 --l2 0 "
                "-o head.safetensors",
                "train loss", 0.0);
    out = warm_ok("train-rm --init sft/final.safetensors --head head.safetensors --data prefs.jsonl --tokenizer gpt2 "
                  "--steps 10 --batch 4 --lr 1e-3 --dropout 0 -o rm");
    assert_non_null(strstr(out, "wrote rm/final.safetensors"));
    free(out);
    /* WARM on text: two members (sweep evaluates them on --val with the tokenizer), their average, ENS. */
    free(warm_ok("sweep --members 2 --init sft/final.safetensors --head head.safetensors --data prefs.jsonl "
                 "--val prefs.jsonl --tokenizer gpt2 --steps 3 --batch 4 --dropout 0 -o sweep"));
    free(warm_ok("merge sweep/member-00/final.safetensors sweep/member-01/final.safetensors -o warm.safetensors"));
    out = warm_ok("eval --rm sweep/member-00/final.safetensors,sweep/member-01/final.safetensors,warm.safetensors "
                  "--data prefs.jsonl --tokenizer gpt2");
    assert_non_null(strstr(out, "ens"));
    free(out);
    free(warm_ok("eval --rm rm/final.safetensors --data prefs.jsonl --tokenizer gpt2 --json eval.json"));
    char path[256];
    snprintf(path, sizeof path, "%s/eval.json", g_dir);
    size_t n;
    char *js = warm_read_file(path, &n, NULL);
    assert_non_null(js);
    cJSON *root = cJSON_Parse(js);
    free(js);
    assert_non_null(root);
    assert_int_equal(cJSON_GetObjectItem(root, "pairs")->valueint, NPAIR);
    assert_int_equal(cJSON_GetObjectItem(root, "dropped_long")->valueint, 0);
    const cJSON *acc = find_number(root, "acc_ge");
    assert_non_null(acc);
    if (!(acc->valuedouble >= 0.75)) fail_msg("the RM does not fit its 8 training pairs: acc_ge %g", acc->valuedouble);
    cJSON_Delete(root);
    free(warm_ok("score --rm rm/final.safetensors --data prefs.jsonl --tokenizer gpt2 -o scored.jsonl"));
    free(warm_ok("sample --policy sft/final.safetensors --tokenizer gpt2 --prompts prompts.jsonl --n 2 --max-new 8 "
                 "-o samples.jsonl"));
    check_samples();
    /* score takes the samples' response_ids (the tokens the policy produced), not a re-encoding of the text */
    free(warm_ok("score --rm rm/final.safetensors --data samples.jsonl --tokenizer gpt2 -o scored2.jsonl"));
}

/* A bad row names file:line; a bad tokenizer spec fails before training. */
static void test_errors(void **state) {
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "%s/bad.jsonl", g_dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"prompt\": \"Say hi.\", \"chosen\": \"Hi!\", \"rejected\": \"No.\"}\n\n"
               "{\"prompt\": \"Say hi.\", \"chosen\": 5, \"rejected\": \"No.\"}\n");
    fclose(f);
    char *out, *errs;
    int rc;
    out = warm("probe --init pre/final.safetensors --data bad.jsonl --tokenizer gpt2 -o h.safetensors", &rc, &errs);
    assert_int_not_equal(rc, 0);
    if (!strstr(errs, "bad.jsonl:3:") || !strstr(errs, "\"chosen\""))
        fail_msg("expected an error naming bad.jsonl:3 and \"chosen\", got: %s", errs);
    free(out);
    free(errs);
    out = warm("pretrain --data pre.jsonl --tokenizer /nonexistent/gpt2 --steps 1 -o x", &rc, &errs);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(errs, "/nonexistent/gpt2"));
    free(out);
    free(errs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_round_trip),
        cmocka_unit_test(test_hh_split),
        cmocka_unit_test(test_pipeline_gpt2),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
