/*
 * test_bon_text.c — `warm bon` on real text (issue 13): PandaLM instructions (../shared/data/pandalm, Apache-2.0)
 * as prompts, the GPT-2 tokenizer, a one-layer GPT-2 of width 16 as the policy and freshly initialised models
 * (`warm init`: random reward heads) as reward models, and a held-out reward model as the control (--control)
 * where there is no gold reward.
 * Checks, with the control equal to one selector's model (that selector maximises the control itself): its
 * control_mean is >= every other selector's at every n, its win rates vs SFT and vs the reference are >= 1/2;
 * every selector's control_mean at n = 1 is the pool mean; pool.jsonl's "control" is that selector's proxy,
 * sft_control_mean is the pool's mean and the n = K point its per-prompt maximum; the same with an ensemble
 * control. With --task: the gold by default, and --control overriding it (pool rows keep "gold" and add
 * "control"). Errors: no control source, a missing or mismatched control model (named), a bad tokenizer,
 * --task with --tokenizer, no --max-new, a prompt longer than the context minus --max-new (file:line).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "test_util.h"
#include "warm/data.h"
#include "warm/tokenizer.h"

#define NPROMPT 4
#define POOL 8
#define NMAX 8
#define NLADDER 4 /* 1, 2, 4, 8 */
#define TOL 1e-12

static char g_dir[64];

/* Writes one {"prompt": text} row (with "id" when id is not NULL). */
static void put_prompt(FILE *f, const char *text, const char *id) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "prompt", text);
    if (id) cJSON_AddStringToObject(o, "id", id);
    char *line = cJSON_PrintUnformatted(o);
    fprintf(f, "%s\n", line);
    free(line);
    cJSON_Delete(o);
}

/* prompts.jsonl: the first NPROMPT distinct PandaLM instructions without input of at most 40 GPT-2 tokens, as
 * scripts/pandalm_prefs.py writes them ("...\nResponse:"); long.jsonl: a short one, then one of 57-64 tokens
 * (it fits the context of 64, but not with 8 new tokens). */
static int write_prompts(const warm_tokenizer *tok) {
    warm_error err;
    cJSON *arr = test_shared_json("pandalm/testset-v1.json", "test_bon_text");
    if (!arr) return -1;
    char path[512];
    snprintf(path, sizeof path, "%s/prompts.jsonl", g_dir);
    FILE *f = fopen(path, "w");
    snprintf(path, sizeof path, "%s/long.jsonl", g_dir);
    FILE *fl = fopen(path, "w");
    if (!f || !fl) return -1;
    int n = 0, have_long = 0;
    char last[4096] = "", buf[4096];
    static int32_t ids[4096];
    for (const cJSON *r = arr->child; r && (n < NPROMPT || !have_long); r = r->next) {
        const char *ins = cJSON_GetStringValue(cJSON_GetObjectItem(r, "instruction"));
        const char *in = cJSON_GetStringValue(cJSON_GetObjectItem(r, "input"));
        if (!ins || !in) continue;
        if (in[0]) snprintf(buf, sizeof buf, "%s\n%s\nResponse:", ins, in);
        else snprintf(buf, sizeof buf, "%s\nResponse:", ins);
        int len = 0;
        if (warm_tok_encode_n(tok, buf, strlen(buf), 0, ids, 4096, &len, &err) != WARM_OK) return -1;
        if (!in[0] && len <= 40 && n < NPROMPT && strcmp(buf, last) != 0) {
            char id[16];
            snprintf(id, sizeof id, "p%d", n);
            put_prompt(f, buf, n % 2 ? NULL : id); /* ids optional: every other row */
            if (n == 0) put_prompt(fl, buf, NULL);
            snprintf(last, sizeof last, "%s", buf);
            n++;
        } else if (len > 56 && len <= 64 && !have_long && n > 0) {
            put_prompt(fl, buf, NULL);
            have_long = 1;
        }
    }
    cJSON_Delete(arr);
    fclose(f);
    fclose(fl);
    return n == NPROMPT && have_long ? 0 : -1;
}

/* Runs `cd DIR && warm ARGS`; returns its stdout (malloc'd), *errs its stderr (malloc'd), *status the exit
 * status. */
static char *warm(const char *args, int *status, char **errs) {
    char bin[600], cmd[4096], path[256];
    if (!test_find_warm(bin, sizeof bin))
        fail_msg("the warm binary of this build (%s) is missing: build it first", bin);
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

/* Runs warm ARGS, which must succeed. */
static void warm_ok(const char *args) {
    char *errs;
    int rc;
    char *o = warm(args, &rc, &errs);
    if (rc != 0) fail_msg("warm %s: exit %d\n%s%s", args, rc, o, errs);
    free(o);
    free(errs);
}

/* Runs warm ARGS, which must fail with exit status want (or any non-zero status when want < 0) and print
 * every one of the (NULL-terminated) strings to stderr. */
static void warm_fails(const char *args, int want, ...) {
    char *errs;
    int rc;
    char *o = warm(args, &rc, &errs);
    if (rc == 0 || (want >= 0 && rc != want)) fail_msg("warm %s: exit %d, expected %d\n%s", args, rc, want, errs);
    va_list ap;
    va_start(ap, want);
    for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *))
        if (!strstr(errs, s)) fail_msg("warm %s: expected \"%s\" in the error, got: %s", args, s, errs);
    va_end(ap);
    print_message("warm %.30s...: %s", args, errs);
    free(o);
    free(errs);
}

static int setup(void **state) {
    (void)state;
    /* the children run in g_dir: hand them the GPT-2 files by an absolute path */
    char rel[512], cwd[2048], abs_path[4096];
    snprintf(rel, sizeof rel, "%s/gpt2-tokenizer", test_shared_data());
    if (rel[0] == '/') snprintf(abs_path, sizeof abs_path, "%s", rel);
    else if (getcwd(cwd, sizeof cwd)) snprintf(abs_path, sizeof abs_path, "%s/%s", cwd, rel);
    else return -1;
    if (access(abs_path, R_OK) != 0) {
        fprintf(stderr, "test_bon_text: %s not found (set WARM_SHARED_DATA to the shared data folder)\n", abs_path);
        return -1;
    }
    setenv("WARM_GPT2_DIR", abs_path, 1);
    warm_error err;
    warm_tokenizer *tok;
    if (warm_tok_open(&tok, "gpt2", &err) != WARM_OK) {
        fprintf(stderr, "test_bon_text: %s\n", err.msg);
        return -1;
    }
    test_tmpdir(g_dir, sizeof g_dir);
    int rc = write_prompts(tok);
    warm_tok_free(tok);
    return rc;
}

static int teardown(void **state) {
    (void)state;
    if (g_dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
        if (system(cmd) != 0) return -1;
    }
    return 0;
}

/* DIR/rel parsed (must exist). */
static cJSON *load_json(const char *rel) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", g_dir, rel);
    size_t n;
    char *text = warm_read_file(path, &n, NULL);
    if (!text) fail_msg("%s is missing", path);
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!j) fail_msg("%s is not JSON", path);
    return j;
}

static int exists(const char *rel) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", g_dir, rel);
    return access(path, F_OK) == 0;
}

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItem(o, key);
    if (!cJSON_IsNumber(v)) fail_msg("no number \"%s\"", key);
    return v->valuedouble;
}

static const char *str(const cJSON *o, const char *key) {
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, key));
    if (!s) fail_msg("no string \"%s\"", key);
    return s;
}

/* The points of the selector called name in bon.json. */
static const cJSON *points(const cJSON *bon, const char *name) {
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(bon, "selectors"))
        if (strcmp(str(s, "name"), name) == 0) return cJSON_GetObjectItem(s, "points");
    fail_msg("no selector %s in bon.json", name);
    return NULL;
}

/* Per prompt, the pool's "control" values: their mean over prompts of the per-prompt mean (*mean) and of the
 * per-prompt max (*top); each row's control must equal proxy[self] exactly, and "gold" be present iff
 * want_gold. */
static void read_pool(const char *rel, const char *self, int want_gold, double *mean, double *top) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", g_dir, rel);
    warm_error err;
    warm_jsonl_reader *r;
    assert_int_equal(warm_jsonl_open(&r, path, &err), WARM_OK);
    const cJSON *row;
    double sum[NPROMPT] = {0}, mx[NPROMPT] = {0};
    int rows = 0;
    while (warm_jsonl_next(r, &row, &err) == WARM_OK && row) {
        int p = (int)num(row, "prompt_index"), k = (int)num(row, "sample");
        assert_true(p >= 0 && p < NPROMPT);
        assert_int_equal(k, rows % POOL);
        double c = num(row, "control");
        assert_true(num(cJSON_GetObjectItem(row, "proxy"), self) == c);
        assert_int_equal(cJSON_HasObjectItem(row, "gold"), want_gold);
        const cJSON *ids = cJSON_GetObjectItem(row, "response_ids"), *t;
        assert_true(cJSON_GetArraySize(ids) >= 1 && cJSON_GetArraySize(ids) <= 8);
        cJSON_ArrayForEach(t, ids) assert_true(t->valueint >= 0 && t->valueint < 50257);
        sum[p] += c;
        mx[p] = k == 0 || c > mx[p] ? c : mx[p];
        rows++;
    }
    warm_jsonl_close(r);
    assert_int_equal(rows, NPROMPT * POOL);
    *mean = *top = 0;
    for (int p = 0; p < NPROMPT; p++) {
        *mean += sum[p] / POOL;
        *top += mx[p];
    }
    *mean /= NPROMPT;
    *top /= NPROMPT;
}

/* The claims of the file header for one run whose control is the model(s) of selector self. */
static void check_run(const char *out, const char *self, int n_sel, int want_gold) {
    char rel[128];
    snprintf(rel, sizeof rel, "%s/bon.json", out);
    cJSON *bon = load_json(rel);
    const cJSON *cfg = cJSON_GetObjectItem(bon, "config");
    assert_string_equal(str(cfg, "control"), "rm");
    assert_int_equal((int)num(cfg, "max_new"), 8);
    assert_int_equal((int)num(cfg, "n_prompts"), NPROMPT);
    const cJSON *ladder = cJSON_GetObjectItem(bon, "n");
    assert_int_equal(cJSON_GetArraySize(ladder), NLADDER);
    double sft = num(bon, "sft_control_mean"), pool_mean, pool_top;
    snprintf(rel, sizeof rel, "%s/pool.jsonl", out);
    read_pool(rel, self, want_gold, &pool_mean, &pool_top);
    assert_true(fabs(sft - pool_mean) <= TOL);
    const cJSON *mine = points(bon, self);
    const cJSON *s;
    int seen = 0;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(bon, "selectors")) {
        const cJSON *pts = cJSON_GetObjectItem(s, "points");
        assert_int_equal(cJSON_GetArraySize(pts), NLADDER);
        /* n = 1: the pool mean, win rate 1/2, for every selector */
        assert_true(fabs(num(cJSON_GetArrayItem(pts, 0), "control_mean") - sft) <= TOL);
        assert_true(fabs(num(cJSON_GetArrayItem(pts, 0), "winrate_vs_sft") - 0.5) <= TOL);
        for (int j = 0; j < NLADDER; j++) {
            const cJSON *a = cJSON_GetArrayItem(mine, j), *b = cJSON_GetArrayItem(pts, j);
            if (!(num(a, "control_mean") >= num(b, "control_mean") - TOL))
                fail_msg("%s: n = %g: %s's control_mean %.17g < %s's %.17g", out, num(a, "n"), self,
                         num(a, "control_mean"), str(s, "name"), num(b, "control_mean"));
        }
        seen++;
    }
    assert_int_equal(seen, n_sel);
    for (int j = 0; j < NLADDER; j++) {
        const cJSON *a = cJSON_GetArrayItem(mine, j);
        assert_true(num(a, "winrate_vs_sft") >= 0.5 - TOL);
        assert_true(num(a, "winrate_vs_ref") >= 0.5 - TOL);
    }
    /* n = K: the pool's top control reward of each prompt; it beats the pool mean (distinct random rewards) */
    const cJSON *last = cJSON_GetArrayItem(mine, NLADDER - 1);
    assert_int_equal((int)num(last, "n"), NMAX);
    assert_true(fabs(num(last, "control_mean") - pool_top) <= TOL);
    assert_true(num(last, "control_mean") > sft);
    assert_true(num(last, "winrate_vs_sft") > 0.5);
    cJSON_Delete(bon);
}

#define POLICY "--policy pol.safetensors --prompts prompts.jsonl --pool 8 --n-max 8 -q "

static void test_bon_gpt2(void **state) {
    (void)state;
    /* the policy and three reward models: V 50257 (GPT-2), one layer of width 16; init's random reward heads */
    for (int s = 1; s <= 4; s++) {
        char args[256];
        snprintf(args, sizeof args, "init --vocab 50257 --context 64 --layers 1 --heads 2 --width 16 --dropout 0 "
                 "--seed %d -o %s.safetensors", s, s == 1 ? "pol" : s == 2 ? "ctl" : s == 3 ? "rm" : "rm2");
        warm_ok(args);
    }
    /* the control is one held-out model; selector "self" uses that same model, the reference is "other" */
    warm_ok("bon --tokenizer gpt2 --max-new 8 --control ctl.safetensors " POLICY "--selector other=rm.safetensors "
            "--selector self=ctl.safetensors --selector ens=rm.safetensors,rm2.safetensors --save-pool -o b1");
    check_run("b1", "self", 3, 0);
    cJSON *bon = load_json("b1/bon.json");
    const cJSON *cfg = cJSON_GetObjectItem(bon, "config");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cfg, "task")));
    assert_string_equal(str(cfg, "tokenizer"), "gpt2");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cfg, "control_models")), 1);
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(cfg, "control_models"), 0)->valuestring,
                        "ctl.safetensors");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cfg, "control_ens")));
    assert_string_equal(str(bon, "ref"), "other");
    cJSON_Delete(bon);
    /* the CSV keeps its columns: header + 3 selectors x 4 n */
    char path[256];
    snprintf(path, sizeof path, "%s/b1/bon.csv", g_dir);
    size_t n;
    char *csv = warm_read_file(path, &n, NULL);
    assert_non_null(csv);
    const char *header = "selector,n,kl,proxy_mean,control_mean,winrate_vs_sft,winrate_vs_ref\n";
    assert_int_equal(strncmp(csv, header, strlen(header)), 0);
    int lines = 0;
    for (const char *c = csv; *c; c++) lines += *c == '\n';
    assert_int_equal(lines, 1 + 3 * NLADDER);
    free(csv);
    /* an ensemble control (min of two), and the selector with the same ensemble */
    warm_ok("bon --tokenizer gpt2 --max-new 8 --control rm.safetensors,rm2.safetensors:ens=min " POLICY
            "--selector one=rm.safetensors --selector self=rm.safetensors,rm2.safetensors:ens=min --save-pool -o b2");
    check_run("b2", "self", 2, 0);
    bon = load_json("b2/bon.json");
    assert_string_equal(str(cJSON_GetObjectItem(bon, "config"), "control_ens"), "min");
    cJSON_Delete(bon);
}

/* With --task: the gold by default; --control replaces it (pool rows keep "gold" and add "control"). */
static void test_bon_task(void **state) {
    (void)state;
    warm_ok("task generate --seed 1 --n-pretrain 4 --n-sft 4 --n-sft-val 2 --n-prompts 4 --n-val 8 --n-ood 2 -o task");
    char path[256];
    snprintf(path, sizeof path, "%s/task/tokenizer.json", g_dir);
    warm_error err;
    warm_tokenizer *tok;
    if (warm_tok_open(&tok, path, &err) != WARM_OK) fail_msg("%s", err.msg);
    int V = warm_tok_vocab_size(tok);
    warm_tok_free(tok);
    for (int s = 1; s <= 3; s++) {
        char args[256];
        snprintf(args, sizeof args, "init --vocab %d --context 128 --layers 1 --heads 2 --width 16 --dropout 0 "
                 "--seed %d -o t%d.safetensors", V, s, s);
        warm_ok(args);
    }
    const char *base = "bon --task task --policy t1.safetensors --prompts task/prompts_val.jsonl --limit 4 --pool 8 "
                       "--n-max 8 --max-new 8 -q --save-pool --selector other=t3.safetensors "
                       "--selector self=t2.safetensors";
    char args[512];
    snprintf(args, sizeof args, "%s -o g", base);
    warm_ok(args);
    cJSON *bon = load_json("g/bon.json");
    assert_string_equal(str(cJSON_GetObjectItem(bon, "config"), "control"), "gold");
    assert_string_equal(str(cJSON_GetObjectItem(bon, "config"), "task"), "task");
    cJSON_Delete(bon);
    snprintf(path, sizeof path, "%s/g/pool.jsonl", g_dir);
    size_t n;
    char *pool = warm_read_file(path, &n, NULL);
    assert_non_null(pool);
    assert_non_null(strstr(pool, "\"gold\":"));
    assert_null(strstr(pool, "\"control\":"));
    free(pool);
    snprintf(args, sizeof args, "%s --control t2.safetensors -o c", base);
    warm_ok(args);
    check_run("c", "self", 2, 1);
}

static void test_errors(void **state) {
    (void)state;
    const char *sel = POLICY "--selector a=rm.safetensors ";
    char args[512];
    snprintf(args, sizeof args, "bon --tokenizer gpt2 --max-new 8 %s -o e1", sel);
    warm_fails(args, 2, "--control", NULL);
    snprintf(args, sizeof args, "bon --tokenizer gpt2 --max-new 8 --control missing.safetensors %s -o e2", sel);
    warm_fails(args, 2, "missing.safetensors", NULL);
    snprintf(args, sizeof args, "bon --tokenizer /nonexistent/gpt2 --max-new 8 --control ctl.safetensors %s -o e3",
             sel);
    warm_fails(args, -1, "/nonexistent/gpt2", NULL);
    snprintf(args, sizeof args, "bon --task task --tokenizer gpt2 --max-new 8 --control ctl.safetensors %s -o e4", sel);
    warm_fails(args, 2, "--task and --tokenizer", NULL);
    snprintf(args, sizeof args, "bon --tokenizer gpt2 --control ctl.safetensors %s -o e5", sel);
    warm_fails(args, 2, "--max-new", NULL);
    snprintf(args, sizeof args, "bon --control ctl.safetensors --max-new 8 %s -o e6", sel);
    warm_fails(args, 2, "--tokenizer", NULL);
    /* the second prompt of long.jsonl leaves no room for 8 new tokens in the context of 64 */
    warm_fails("bon --tokenizer gpt2 --max-new 8 --control ctl.safetensors --policy pol.safetensors "
               "--prompts long.jsonl --selector a=rm.safetensors -q -o e7",
               2, "long.jsonl:2:", "exceeds the context 64", NULL);
    /* a control model of another vocabulary (the task's) is named when it scores the pool */
    snprintf(args, sizeof args, "bon --tokenizer gpt2 --max-new 8 --control t2.safetensors %s -o e8", sel);
    warm_fails(args, 1, "t2.safetensors", "vocabulary", NULL);
    const char *outs[] = {"e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8"};
    for (int i = 0; i < 8; i++)
        if (exists(outs[i])) fail_msg("a failed run left %s behind", outs[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bon_gpt2),
        cmocka_unit_test(test_bon_task),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
