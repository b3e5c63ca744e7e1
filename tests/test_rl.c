/*
 * test_rl.c — KL-regularised RL (warm/rl.h) on tiny models: the surrogate's gradient (training path) against
 * central differences of the same surrogate computed through the decode path; the sampled KL estimator
 * against exact enumeration of every response over a 4-token vocabulary; leave-one-out advantages by hand;
 * resume from a saved checkpoint bit-identical to an uninterrupted run; a policy rewarded by a known reward
 * improves it; a large beta keeps KL near 0 while beta = 0 lets it grow.
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
#include "warm/rl.h"

static void tiny(warm_model *m, int V, int ctx, uint64_t seed, float init_sd) {
    warm_config c = warm_config_default(V, ctx, 1, 2, 16);
    c.embd_pdrop = c.attn_pdrop = c.resid_pdrop = 0.0f;
    c.initializer_range = init_sd;
    warm_error err = {0};
    assert_int_equal(warm_model_init(m, &c, &err), WARM_OK);
    warm_model_init_weights(m, seed);
}

/* Reward: fraction of response tokens equal to ctx (an int token id), eos excluded from the count. */
static warm_status count_reward(void *ctx, const int32_t *prompt, int prompt_len, const int32_t *resp, int stride,
                                const int *lens, int n, float *out, warm_error *err) {
    (void)prompt; (void)prompt_len; (void)err;
    int target = *(const int *)ctx;
    for (int i = 0; i < n; i++) {
        int c = 0;
        for (int t = 0; t < lens[i]; t++) c += resp[(size_t)i * stride + t] == target;
        out[i] = (float)c / (float)lens[i];
    }
    return WARM_OK;
}

static void test_loo(void **state) {
    (void)state;
    double R[3] = {1.0, 2.0, 6.0}, a[3];
    warm_rl_loo(R, 3, a);
    assert_true(fabs(a[0] - (1.0 - 4.0)) < 1e-12);
    assert_true(fabs(a[1] - (2.0 - 3.5)) < 1e-12);
    assert_true(fabs(a[2] - (6.0 - 1.5)) < 1e-12);
    float ga[3] = {1, 2, 3}, gb[2] = {2, 0};
    /* pairs: (1,2) 0 (1,0) 1 (2,2) .5 (2,0) 1 (3,2) 1 (3,0) 1 -> 4.5 / 6 */
    assert_true(fabs(warm_rl_winrate(ga, 3, gb, 2) - 0.75) < 1e-12);
    assert_true(fabs(warm_rl_winrate(gb, 2, ga, 3) - 0.25) < 1e-12);
    assert_true(fabs(warm_rl_winrate(ga, 3, ga, 3) - 0.5) < 1e-12);
    warm_rl_norm nm = {0, 0, 0};
    float r[4] = {1, 2, 3, 4};
    warm_rl_norm_update(&nm, r, 4);
    assert_true(fabs(nm.mean - 2.5) < 1e-12);
    assert_true(fabs(warm_rl_norm_std(&nm) - sqrt(1.25)) < 1e-12);
}

/* Surrogate through the decode path: -(1/n) sum_i adv_i sum_t log pi. */
static double surrogate_decode(const warm_model *m, const int32_t *prompt, int plen, const int32_t *resp, int M,
                               const int *lens, int n, const double *adv) {
    float *lp = malloc((size_t)n * M * sizeof *lp);
    warm_error err = {0};
    assert_int_equal(warm_decode_logprobs(m, prompt, plen, resp, M, lens, n, lp, &err), WARM_OK);
    double L = 0;
    for (int i = 0; i < n; i++)
        for (int t = 0; t < lens[i]; t++) L -= adv[i] * (double)lp[(size_t)i * M + t];
    free(lp);
    return L / n;
}

static void test_surrogate_grad_fd(void **state) {
    (void)state;
    warm_model m, ref;
    tiny(&m, 8, 16, 3, 0.3f);
    tiny(&ref, 8, 16, 3, 0.3f);
    warm_error err = {0};
    assert_int_equal(warm_model_alloc_train(&m, &err), WARM_OK);
    enum { K = 4, M = 5 };
    warm_rl_config c = {K, M, 0.1f, 1};
    warm_rl *rl = NULL;
    assert_int_equal(warm_rl_init(&rl, &m, &ref, &c, 1, 16, &err), WARM_OK);
    int32_t prompt[3] = {1, 2, 3};
    const int32_t *pp[1] = {prompt};
    int plen[1] = {3};
    int32_t resp[K * M];
    int lens[K];
    warm_rng rng;
    warm_rng_seed(&rng, 11);
    warm_sampler smp = {1.0f, 0, 1.0f};
    assert_int_equal(warm_generate(&m, prompt, 3, K, M, &smp, 7, &rng, resp, NULL, lens, &err), WARM_OK);
    double adv[K] = {0.7, -1.1, 0.25, 0.15};
    warm_model_zero_grad(&m);
    double L = warm_rl_surrogate_backward(rl, pp, plen, 1, resp, M, lens, adv);
    assert_true(fabs(L - surrogate_decode(&m, prompt, 3, resp, M, lens, K, adv)) < 1e-4);
    /* 40 parameters spread over the arena (every tensor kind is hit). */
    int bad = 0;
    double maxg = 0;
    for (int j = 0; j < 40; j++) {
        size_t i = (size_t)j * (m.n_params / 40) + (size_t)j % 7;
        float keep = m.params[i];
        double h = 1e-2;
        m.params[i] = keep + (float)h;
        double up = surrogate_decode(&m, prompt, 3, resp, M, lens, K, adv);
        m.params[i] = keep - (float)h;
        double dn = surrogate_decode(&m, prompt, 3, resp, M, lens, K, adv);
        m.params[i] = keep;
        double fd = (up - dn) / (2 * h), g = (double)m.grads[i];
        if (fabs(g) > maxg) maxg = fabs(g);
        if (fabs(fd - g) > 2e-3 + 3e-2 * fabs(fd)) {
            fprintf(stderr, "param %zu: grad %g fd %g\n", i, g, fd);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
    assert_true(maxg > 1e-3); /* the check compared real gradients, not zeros */
    warm_rl_free(rl);
    warm_model_free(&m);
    warm_model_free(&ref);
}

/* Exact KL over every response (V = 4, eos = 3, up to 3 tokens) vs the sampled per-token estimator. */
static void test_kl_exact(void **state) {
    (void)state;
    enum { V = 4, M = 3, EOS = 3 };
    warm_model pol, ref;
    tiny(&pol, V, 8, 5, 0.5f);
    tiny(&ref, V, 8, 6, 0.5f);
    int32_t prompt[2] = {0, 1};
    warm_error err = {0};
    /* enumerate: sequences end at eos or at M tokens */
    int32_t seqs[128 * M];
    int lens[128], ns = 0;
    for (int a = 0; a < V; a++) {
        if (a == EOS) { seqs[ns * M] = a; lens[ns++] = 1; continue; }
        for (int b = 0; b < V; b++) {
            if (b == EOS) { seqs[ns * M] = a; seqs[ns * M + 1] = b; lens[ns++] = 2; continue; }
            for (int c2 = 0; c2 < V; c2++) {
                seqs[ns * M] = a; seqs[ns * M + 1] = b; seqs[ns * M + 2] = c2; lens[ns++] = 3;
            }
        }
    }
    float lp[128 * M], lq[128 * M];
    assert_int_equal(warm_decode_logprobs(&pol, prompt, 2, seqs, M, lens, ns, lp, &err), WARM_OK);
    assert_int_equal(warm_decode_logprobs(&ref, prompt, 2, seqs, M, lens, ns, lq, &err), WARM_OK);
    double total = 0, kl = 0;
    for (int i = 0; i < ns; i++) {
        double a = 0, b = 0;
        for (int t = 0; t < lens[i]; t++) { a += (double)lp[i * M + t]; b += (double)lq[i * M + t]; }
        total += exp(a);
        kl += exp(a) * (a - b);
    }
    assert_true(fabs(total - 1.0) < 1e-4);
    assert_true(kl > 0.01);
    /* Monte Carlo of the estimator: samples from warm_generate, their logprobs checked against the decode path */
    enum { N = 256, R = 16 };
    int32_t out[N * M];
    float glp[N * M], rlp[N * M], plp[N * M];
    int olen[N];
    warm_sampler smp = {1.0f, 0, 1.0f};
    warm_rng rng;
    warm_rng_seed(&rng, 99);
    double s = 0, s2 = 0;
    for (int r = 0; r < R; r++) {
        assert_int_equal(warm_generate(&pol, prompt, 2, N, M, &smp, EOS, &rng, out, glp, olen, &err), WARM_OK);
        assert_int_equal(warm_decode_logprobs(&ref, prompt, 2, out, M, olen, N, rlp, &err), WARM_OK);
        assert_int_equal(warm_decode_logprobs(&pol, prompt, 2, out, M, olen, N, plp, &err), WARM_OK);
        for (int i = 0; i < N; i++) {
            double e = 0;
            for (int t = 0; t < olen[i]; t++) {
                assert_true(glp[i * M + t] == plp[i * M + t]); /* same bits: same expression */
                e += (double)glp[i * M + t] - (double)rlp[i * M + t];
            }
            s += e;
            s2 += e * e;
        }
    }
    double n = (double)N * R, mean = s / n, se = sqrt((s2 / n - mean * mean) / n);
    assert_true(fabs(mean - kl) < 4 * se + 1e-6);
    warm_model_free(&pol);
    warm_model_free(&ref);
}

typedef struct {
    float beta, lr;
    int steps, save_at; /* save_at > 0: stop after save_at steps, save, reload into fresh models, continue */
    double first_reward, last_reward, last_kl;
} run_cfg;

/* A tiny RL run rewarded by count_reward; returns the final parameters (malloc'd). */
static float *rl_run(run_cfg *rc, const char *dir) {
    enum { V = 8, CTX = 16, P = 2, K = 4, M = 6 };
    int target = 2;
    warm_model pol, ref;
    tiny(&pol, V, CTX, 21, 0.1f);
    tiny(&ref, V, CTX, 21, 0.1f);
    warm_error err = {0};
    assert_int_equal(warm_model_alloc_train(&pol, &err), WARM_OK);
    warm_rl_config c = {K, M, rc->beta, 1};
    warm_adamw_config opt = warm_adamw_default(rc->lr);
    opt.weight_decay = 0.0f;
    warm_rl *rl = NULL;
    assert_int_equal(warm_rl_init(&rl, &pol, &ref, &c, P, CTX, &err), WARM_OK);
    int32_t p0[2] = {1, 4}, p1[3] = {5, 0, 6};
    const int32_t *pp[P] = {p0, p1};
    int plen[P] = {2, 3};
    warm_rng rng;
    warm_rng_seed(&rng, 7);
    warm_rl_norm nm = {0, 0, 0};
    warm_rl_stats st;
    double acc = 0;
    for (int s = 0; s < rc->steps; s++) {
        if (rc->save_at > 0 && s == rc->save_at) {
            char w[4096], sp[4096];
            snprintf(w, sizeof w, "%s/w.safetensors", dir);
            snprintf(sp, sizeof sp, "%s/w.state.safetensors", dir);
            warm_train_meta meta = {pol.step, rng.s, 0, 0};
            assert_int_equal(warm_model_save(&pol, w, WARM_DTYPE_F32, NULL, NULL, 0, &err), WARM_OK);
            assert_int_equal(warm_train_state_save(&pol, sp, &meta, &err), WARM_OK);
            warm_rl_free(rl);
            warm_model_free(&pol);
            memset(&pol, 0, sizeof pol);
            assert_int_equal(warm_model_load(&pol, w, 1, &err), WARM_OK);
            assert_int_equal(warm_model_alloc_train(&pol, &err), WARM_OK);
            assert_int_equal(warm_train_state_load(&pol, sp, &meta, &err), WARM_OK);
            rng.s = meta.rng_state;
            assert_int_equal(warm_rl_init(&rl, &pol, &ref, &c, P, CTX, &err), WARM_OK);
        }
        assert_int_equal(warm_rl_step(rl, pp, plen, P, count_reward, &target, count_reward, &target, &opt, 7, &rng,
                                      &nm, &st, &err),
                         WARM_OK);
        assert_true(fabs(st.gold - st.reward) < 1e-12);
        if (s < 5) acc += st.reward;
        if (s == 4) rc->first_reward = acc / 5;
        if (s == rc->steps - 5) acc = 0;
        if (s >= rc->steps - 5) acc += st.reward;
        if (s >= rc->steps - 5) rc->last_kl += st.kl / 5;
    }
    rc->last_reward = acc / 5;
    float *w = malloc(pol.n_params * sizeof *w);
    memcpy(w, pol.params, pol.n_params * sizeof *w);
    warm_rl_free(rl);
    warm_model_free(&pol);
    warm_model_free(&ref);
    return w;
}

static void test_resume_bit_identical(void **state) {
    (void)state;
    char dir[256];
    test_tmpdir(dir, sizeof dir);
    run_cfg a = {0.05f, 1e-2f, 6, 0, 0, 0, 0}, b = a;
    b.save_at = 3;
    float *wa = rl_run(&a, dir), *wb = rl_run(&b, dir);
    warm_model m;
    tiny(&m, 8, 16, 21, 0.1f);
    assert_memory_equal(wa, wb, m.n_params * sizeof(float));
    /* and the run moved the weights */
    int moved = 0;
    for (size_t i = 0; i < m.n_params; i++) moved += wa[i] != m.params[i];
    assert_true(moved > 0);
    warm_model_free(&m);
    free(wa);
    free(wb);
}

static void test_learns_and_beta(void **state) {
    (void)state;
    char dir[256];
    test_tmpdir(dir, sizeof dir);
    /* beta 20 vs 0, 40 steps of lr 5e-3. The tight run's KL is not 0: at pi = pi_SFT the sampled KL's
     * gradient has mean 0 but not variance 0, and Adam turns that noise into steps of size ~lr (docs/rl.md). */
    run_cfg free_run = {0.0f, 5e-3f, 40, 0, 0, 0, 0}, tight = {20.0f, 5e-3f, 40, 0, 0, 0, 0};
    free(rl_run(&free_run, dir));
    free(rl_run(&tight, dir));
    fprintf(stderr, "beta 0: reward %.3f -> %.3f, KL %.3f; beta 20: reward %.3f -> %.3f, KL %.4f\n",
            free_run.first_reward, free_run.last_reward, free_run.last_kl, tight.first_reward, tight.last_reward,
            tight.last_kl);
    assert_true(free_run.last_reward > free_run.first_reward + 0.4); /* measured 0.25 -> 0.98 */
    assert_true(free_run.last_kl > 2.0);                             /* measured 8.1 */
    assert_true(fabs(tight.last_kl) < 0.05 * free_run.last_kl);      /* measured 0.19 */
    assert_true(fabs(tight.last_kl) < 0.4);
    assert_true(tight.last_reward < free_run.last_reward - 0.4);     /* the KL term held it near the SFT policy */
}

/* Runs "cd dir && bin ARGS" quietly; returns the exit code. */
static int sh(const char *bin, const char *dir, const char *args) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && OMP_NUM_THREADS=1 '%s' %s >/dev/null 2>&1", dir, bin, args);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static long file_bytes(const char *path, unsigned char **buf) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc((size_t)n + 1);
    if (fread(*buf, 1, (size_t)n, f) != (size_t)n) n = -1;
    fclose(f);
    (*buf)[n > 0 ? n : 0] = 0;
    return n;
}

/* warm rl on a generated task with an ensemble RM: a stopped and resumed run gives the same bytes as an
 * uninterrupted one, the log has one row per step with the gold reward, bad --rm lists are usage errors. */
static void test_cli_resume(void **state) {
    (void)state;
    char bin[600], dir[256];
    if (!test_find_warm(bin, sizeof bin)) fail_msg("the warm binary of this build (%s) is missing: build it first", bin);
    test_tmpdir(dir, sizeof dir);
    assert_int_equal(sh(bin, dir, "task generate --seed 1 --n-pretrain 10 --n-sft 10 --n-sft-val 10 --n-prompts 30 "
                                  "--n-val 10 --n-ood 10 --out task"), 0);
    unsigned char *tj = NULL;
    assert_true(file_bytes(strcat(strcpy((char[512]){0}, dir), "/task/tokenizer.json"), &tj) > 0);
    cJSON *tjs = cJSON_Parse((const char *)tj);
    int V = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(tjs, "vocab"));
    cJSON_Delete(tjs);
    assert_true(V > 100);
    free(tj);
    char a[1024];
    snprintf(a, sizeof a, "init --vocab %d --context 128 --layers 1 --heads 2 --width 16 --dropout 0 --seed 1 "
                          "-o pol.safetensors", V);
    assert_int_equal(sh(bin, dir, a), 0);
    snprintf(a, sizeof a, "init --vocab %d --context 128 --layers 1 --heads 2 --width 16 --seed 2 -o r1.safetensors", V);
    assert_int_equal(sh(bin, dir, a), 0);
    snprintf(a, sizeof a, "init --vocab %d --context 128 --layers 1 --heads 2 --width 16 --seed 3 -o r2.safetensors", V);
    assert_int_equal(sh(bin, dir, a), 0);
    const char *base = "rl --task task --policy pol.safetensors --rm r1.safetensors,r2.safetensors:ens=mean "
                       "--prompts task/prompts_train.jsonl --kl 0.05 --batch 2 --k 3 --max-new 8 --lr 1e-3 "
                       "--save-every 2 -q";
    snprintf(a, sizeof a, "%s --steps 4 -o straight", base);
    assert_int_equal(sh(bin, dir, a), 0);
    snprintf(a, sizeof a, "%s --steps 2 -o resumed", base);
    assert_int_equal(sh(bin, dir, a), 0);
    snprintf(a, sizeof a, "%s --steps 4 -o resumed", base);
    assert_int_equal(sh(bin, dir, a), 0);
    const char *files[] = {"final.safetensors", "last.state.safetensors", "step-000002.safetensors", "log.jsonl"};
    for (int i = 0; i < 4; i++) {
        char p1[512], p2[512];
        unsigned char *b1 = NULL, *b2 = NULL;
        snprintf(p1, sizeof p1, "%s/straight/%s", dir, files[i]);
        snprintf(p2, sizeof p2, "%s/resumed/%s", dir, files[i]);
        long n1 = file_bytes(p1, &b1), n2 = file_bytes(p2, &b2);
        assert_true(n1 > 0);
        assert_int_equal(n1, n2);
        assert_memory_equal(b1, b2, (size_t)n1);
        if (i == 3) {
            int rows = 0;
            for (long j = 0; j < n1; j++) rows += b1[j] == '\n';
            assert_int_equal(rows, 4);
            assert_non_null(strstr((char *)b1, "\"gold\":"));
            assert_non_null(strstr((char *)b1, "\"kl\":"));
        }
        free(b1);
        free(b2);
    }
    /* rl-eval: the SFT policy given again as a CKPT draws the same samples (same seeds): KL 0, win rate 1/2 and
     * the same numbers as the SFT row; the trained policy differs from it. */
    assert_int_equal(sh(bin, dir, "rl-eval --task task --sft pol.safetensors --rm r1.safetensors,r2.safetensors "
                                  "--prompts task/prompts_val.jsonl --k 3 --max-new 8 straight/final.safetensors "
                                  "pol.safetensors -o eval.csv --samples samples.jsonl --json eval.json"), 0);
    /* the samples behind the table, rescored by warm task gold: their mean per policy is the gold column */
    assert_int_equal(sh(bin, dir, "task gold --task task --in samples.jsonl --out scored.jsonl"), 0);
    {
        char p1[512];
        unsigned char *b = NULL;
        snprintf(p1, sizeof p1, "%s/eval.csv", dir);
        assert_true(file_bytes(p1, &b) > 0);
        char *l0 = strchr((char *)b, '\n') + 1, *l1 = strchr(l0, '\n') + 1, *l2 = strchr(l1, '\n') + 1;
        assert_non_null(strstr((char *)b, "policy,proxy,kl,gold,winrate_vs_sft,winrate_vs_first\n"));
        double v0[5], v1[5], v2[5];
        assert_int_equal(sscanf(strchr(l0, ',') + 1, "%lf,%lf,%lf,%lf,%lf", &v0[0], &v0[1], &v0[2], &v0[3], &v0[4]), 5);
        assert_int_equal(sscanf(strchr(l1, ',') + 1, "%lf,%lf,%lf,%lf,%lf", &v1[0], &v1[1], &v1[2], &v1[3], &v1[4]), 5);
        assert_int_equal(sscanf(strchr(l2, ',') + 1, "%lf,%lf,%lf,%lf,%lf", &v2[0], &v2[1], &v2[2], &v2[3], &v2[4]), 5);
        assert_true(v0[1] == 0.0 && v0[3] == 0.5);                             /* SFT vs itself */
        for (int j = 0; j < 4; j++) assert_true(v2[j] == v0[j]);              /* pol.safetensors = SFT */
        assert_true(v1[4] == 0.5);                                            /* first CKPT vs itself */
        assert_true(v1[1] != 0.0);                                            /* the trained policy moved */
        /* 3 policies x 10 val prompts x k 3, in table order */
        snprintf(p1, sizeof p1, "%s/scored.jsonl", dir);
        unsigned char *sb = NULL;
        assert_true(file_bytes(p1, &sb) > 0);
        double gsum[3] = {0}, klsum0 = 0, gp[3][10] = {{0}};
        int rows = 0;
        for (char *line = (char *)sb; line && *line; rows++) {
            char *nl = strchr(line, '\n');
            if (nl) *nl = 0;
            cJSON *r = cJSON_Parse(line);
            assert_non_null(r);
            assert_true(rows < 90);
            gsum[rows / 30] += cJSON_GetObjectItem(r, "gold")->valuedouble;
            gp[rows / 30][(int)cJSON_GetObjectItem(r, "prompt_index")->valuedouble] +=
                cJSON_GetObjectItem(r, "gold")->valuedouble / 3;
            if (rows < 30) klsum0 += cJSON_GetObjectItem(r, "kl")->valuedouble;
            assert_non_null(cJSON_GetObjectItem(r, "response_ids"));
            cJSON_Delete(r);
            line = nl ? nl + 1 : NULL;
        }
        assert_int_equal(rows, 90);
        double *want[3] = {v0, v1, v2};
        for (int q = 0; q < 3; q++)
            if (fabs(gsum[q] / 30 - want[q][2]) > 1e-6) fail_msg("policy %d: gold of the samples %.9f, table %.9f", q,
                                                              gsum[q] / 30, want[q][2]);
        assert_true(klsum0 == 0.0);
        /* --json: the table's numbers, and the standard error over the 10 prompts of the gold reward computed here
         * from the rescored samples (sample sd of the per-prompt means / sqrt(10)). */
        snprintf(p1, sizeof p1, "%s/eval.json", dir);
        unsigned char *jb = NULL;
        assert_true(file_bytes(p1, &jb) > 0);
        cJSON *j = cJSON_Parse((char *)jb);
        assert_non_null(j);
        assert_string_equal(cJSON_GetObjectItem(j, "format")->valuestring, "warm-rl-eval/1");
        const cJSON *pol = cJSON_GetObjectItem(j, "policies");
        assert_int_equal(cJSON_GetArraySize(pol), 3);
        for (int q = 0; q < 3; q++) {
            const cJSON *o = cJSON_GetArrayItem(pol, q);
            assert_true(fabs(cJSON_GetObjectItem(o, "gold")->valuedouble - want[q][2]) <= 1e-12 * (1 + fabs(want[q][2])));
            assert_true(fabs(cJSON_GetObjectItem(o, "kl")->valuedouble - want[q][1]) <= 1e-12 * (1 + fabs(want[q][1])));
            assert_true(fabs(cJSON_GetObjectItem(o, "winrate_vs_sft")->valuedouble - want[q][3]) <= 1e-12);
            assert_true(fabs(cJSON_GetObjectItem(o, "winrate_vs_first")->valuedouble - want[q][4]) <= 1e-12);
            double m = 0, ss = 0;
            for (int p = 0; p < 10; p++) m += gp[q][p] / 10;
            for (int p = 0; p < 10; p++) ss += (gp[q][p] - m) * (gp[q][p] - m);
            double se = sqrt(ss / 9 / 10), got = cJSON_GetObjectItem(o, "gold_se")->valuedouble;
            if (fabs(got - se) > 1e-6) fail_msg("policy %d: gold_se %.9f, from the samples %.9f", q, got, se);
            /* paired with the SFT row: the se of the per-prompt differences (0 for the SFT row and its copy) */
            m = ss = 0;
            for (int p = 0; p < 10; p++) m += (gp[q][p] - gp[0][p]) / 10;
            for (int p = 0; p < 10; p++) ss += (gp[q][p] - gp[0][p] - m) * (gp[q][p] - gp[0][p] - m);
            se = sqrt(ss / 9 / 10);
            got = cJSON_GetObjectItem(o, "gold_vs_sft_se")->valuedouble;
            if (fabs(got - se) > 1e-6) fail_msg("policy %d: gold_vs_sft_se %.9f, from the samples %.9f", q, got, se);
            if (q != 1) assert_true(got == 0.0);
            assert_true(cJSON_GetObjectItem(o, "winrate_vs_first_se")->valuedouble >= 0);
        }
        /* the SFT row against itself: every per-prompt win rate is 1/2, so its standard error is 0 */
        assert_true(cJSON_GetObjectItem(cJSON_GetArrayItem(pol, 0), "winrate_vs_sft_se")->valuedouble == 0.0);
        cJSON_Delete(j);
        free(jb);
        free(sb);
        free(b);
    }
    assert_int_equal(sh(bin, dir, "rl --task task --policy pol.safetensors --rm r1.safetensors,,r2.safetensors "
                                  "--prompts task/prompts_train.jsonl --kl 0.1 -o bad"), 2);
    assert_int_equal(sh(bin, dir, "rl --task task --policy pol.safetensors --rm r1.safetensors:ens=max "
                                  "--prompts task/prompts_train.jsonl --kl 0.1 -o bad"), 2);
    assert_int_equal(sh(bin, dir, "rl --task task --policy pol.safetensors --rm missing.safetensors "
                                  "--prompts task/prompts_train.jsonl --kl 0.1 -o bad"), 1);
}

/* warm_prefill_logprobs (one pass) equals warm_decode_logprobs (token by token) up to float rounding, over
 * responses of every length 1..M, more than one group of sequences (70 > 64) and more rows than one group holds. */
static void test_prefill_logprobs(void **state) {
    (void)state;
    warm_model m;
    tiny(&m, 37, 48, 5, 0.5f);
    enum { N = 70, M = 40 };
    int32_t prompt[5] = {3, 9, 1, 30, 2}, resp[N * M];
    int lens[N];
    warm_rng r;
    warm_rng_seed(&r, 21);
    for (int i = 0; i < N; i++) {
        lens[i] = 1 + (int)warm_rng_below(&r, M);
        for (int t = 0; t < M; t++) resp[i * M + t] = (int32_t)warm_rng_below(&r, 37);
    }
    static float a[N * M], b[N * M];
    warm_error err = {0};
    assert_int_equal(warm_decode_logprobs(&m, prompt, 5, resp, M, lens, N, a, &err), WARM_OK);
    assert_int_equal(warm_prefill_logprobs(&m, prompt, 5, resp, M, lens, N, b, &err), WARM_OK);
    double worst = 0;
    for (int i = 0; i < N; i++)
        for (int t = 0; t < lens[i]; t++) {
            double d = fabs((double)a[i * M + t] - (double)b[i * M + t]);
            worst = d > worst ? d : worst;
        }
    if (worst > 1e-5) fail_msg("prefill vs decode log-probs differ by %g", worst);
    /* the first token of every response comes from the prefill's logits: the same bits as the decode path */
    for (int i = 0; i < N; i++) assert_true(a[i * M] == b[i * M]);
    lens[3] = 0;
    assert_int_equal(warm_prefill_logprobs(&m, prompt, 5, resp, M, lens, N, b, &err), WARM_ERR_ARG);
    warm_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loo),
        cmocka_unit_test(test_prefill_logprobs),
        cmocka_unit_test(test_surrogate_grad_fd),
        cmocka_unit_test(test_kl_exact),
        cmocka_unit_test(test_resume_bit_identical),
        cmocka_unit_test(test_learns_and_beta),
        cmocka_unit_test(test_cli_resume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
