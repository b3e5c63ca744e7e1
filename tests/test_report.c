/*
 * test_report.c — `warm report` (warm/report.h): a synthetic demo run written here (run.json, plan.json, eval,
 * lmc, bon, toy and task-stats files in the documented formats, with hand-constructed numbers) gives the
 * expected verdicts: every claim holds on the base run; C1 flips when one WA value of one lmc file drops
 * below Diag - tol (so the numbers are read from the files); C3 counts the gains in order; C17 follows the toy
 * file; absent bon files and an absent plan make the claims "not measured" and name the files; a malformed
 * lmc file or a duplicate key is an error naming the file and key, and leaves no output (atomic write); the
 * report is byte-identical when written twice and has a row per claim.
 *
 * Several seeds (`warm report --runs`): the t table matches the t distribution (numerical integral of its
 * density); the interval of 1, 2, 3 is 2 +- 4.303 / sqrt(3); every rule gives holds / does not hold /
 * inconclusive on hand-made intervals, touching ones included; three synthetic runs differing only in one LMC
 * file give C4 the hand-computed mean, sd and interval and each of the three verdicts; C17 is a yes/no per
 * seed; a mix of scales and a repeated seed are refused (nothing written); a file absent in one run leaves that
 * run out of the claims that need it (one run left: its own verdict, n = 1; none: not measured); the written
 * report and JSON carry the per-seed values and are byte-identical when written twice; one run gives the
 * single-run verdicts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "test_util.h"
#include "warm/data.h"
#include "warm/report.h"

/* What to change in the base run. */
typedef struct {
    int break_c1;     /* seed pair, ood: WA at lambda 0.3 set to Diag - 0.1 */
    int swap_lr_sft;  /* lr and sft midpoint gains swapped (C3: 2 of 3 in order) */
    int no_bon;       /* bon files not written */
    int bad_lmc;      /* seed pair, ood: wa_acc_ge with 10 numbers */
    int dup_key;      /* run.json has "seed" twice */
    int toy_false;    /* toy.json: holds = false */
    int no_plan;      /* plan.json not written */
    int seed;         /* run.json and plan.json "seed" (0: 1) */
    const char *scale; /* run.json and plan.json "scale" (NULL: "tiny") */
    double seed_gain; /* seed pair, ood: midpoint WA - Diag (0: 0.004); C4's statistic is 0.002 - seed_gain */
    int rl_flat;      /* RL: the best member's gold stays at its peak (C12: no fall) */
    int no_rl_eval;   /* RL: the step-20 rl-eval file not written */
    int topm_dedup;   /* top-M files without bw1, wb1, wb3 (the demo's: they repeat member files and bw3) */
    int bad_rl_eval;  /* RL: the step-30 rl-eval file has 2 rows instead of 10 */
    int rl_paired;    /* RL: the files give gold_vs_sft_se = 0.005 (else the unpaired gold_se is used) */
} variant;

static FILE *open_w(const char *dir, const char *rel) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    char *slash = strrchr(path, '/');
    *slash = 0;
    mkdir(path, 0755); /* one level below dir is enough for this layout */
    *slash = '/';
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    return f;
}

/* A JSON array of 11 numbers: base + w * 4 lambda (1 - lambda) along Diag from a to b; `bad` drops one. */
static void series(FILE *f, const char *key, double a, double b, double w, int override_i, double override_v,
                   int count) {
    fprintf(f, "\"%s\":[", key);
    for (int i = 0; i < count; i++) {
        double l = i / 10.0, d = a + (b - a) * l, v = d + w * 4 * l * (1 - l);
        if (i == override_i) v = override_v;
        fprintf(f, "%s%.6f", i ? "," : "", v);
    }
    fprintf(f, "]");
}

/* One lmc subset: midpoint WA - Diag = gw, ENS - Diag = ge (both times 4 lambda (1 - lambda)). */
static void lmc_subset(FILE *f, const char *name, int first, double gw, double ge, int break_wa, int bad) {
    double a = 0.60, b = 0.62;
    fprintf(f, "%s{\"name\":\"%s\",\"split\":\"%s\",\"corrupted\":null,\"n\":400,", first ? "" : ",", name, name);
    series(f, "wa_acc_ge", a, b, gw, break_wa ? 3 : -1, a + (b - a) * 0.3 - 0.1, bad ? 10 : 11);
    fprintf(f, ",");
    series(f, "wa_acc_gt", a, b, gw, -1, 0, 11);
    fprintf(f, ",");
    series(f, "ens_acc_ge", a, b, ge, -1, 0, 11);
    fprintf(f, ",");
    series(f, "diag_acc_ge", a, b, 0, -1, 0, 11);
    fprintf(f, ",\"midpoint\":null}");
}

static void lmc_file(const char *dir, const char *rel, double g_ood, double g_val, int break_wa, int bad) {
    FILE *f = open_w(dir, rel);
    fprintf(f, "{\"a\":\"x\",\"b\":\"y\",\"pairs\":800,\"grid\":11,\"lambda\":[0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,"
               "0.9,1],\"subsets\":[");
    lmc_subset(f, "val", 1, g_val, 0.8 * g_val, 0, 0);
    lmc_subset(f, "ood", 0, g_ood, 0.8 * g_ood, break_wa, bad);
    fprintf(f, "]}\n");
    fclose(f);
}

static void lmc_corrupt_file(const char *dir, const char *rel) {
    FILE *f = open_w(dir, rel);
    fprintf(f, "{\"grid\":11,\"lambda\":[0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1],\"subsets\":[");
    lmc_subset(f, "train-corrupt", 1, -0.05, 0.01, 0, 0);
    lmc_subset(f, "train-clean", 0, 0.0, 0.01, 0, 0);
    lmc_subset(f, "val", 0, 0.01, 0.01, 0, 0);
    lmc_subset(f, "ood", 0, 0.02, 0.01, 0, 0);
    fprintf(f, "]}\n");
    fclose(f);
}

static void eval_file(const char *dir, const char *rel, const char *const *models, const double *ood, int n,
                      const char *ens, double ens_ood) {
    FILE *f = open_w(dir, rel);
    fprintf(f, "{\"data\":\"prefs.jsonl\",\"pairs\":800,\"models\":[");
    for (int i = 0; i < n; i++) fprintf(f, "%s{\"name\":\"%s\",\"path\":\"p\"}", i ? "," : "", models[i]);
    fprintf(f, "],\"ensemble\":");
    if (ens) fprintf(f, "{\"name\":\"%s\",\"kind\":\"mean\"}", ens);
    else fprintf(f, "null");
    fprintf(f, ",\"subsets\":[{\"name\":\"val\",\"n\":400},{\"name\":\"ood\",\"n\":400}],\"results\":[");
    for (int i = 0; i <= n; i++) {
        if (i == n && !ens) break;
        const char *m = i < n ? models[i] : ens;
        double acc = i < n ? ood[i] : ens_ood;
        fprintf(f, "%s{\"model\":\"%s\",\"subset\":\"val\",\"n\":400,\"acc_ge\":%.4f,\"acc_gt\":0.5},"
                   "{\"model\":\"%s\",\"subset\":\"ood\",\"n\":400,\"acc_ge\":%.4f,\"acc_gt\":0.5}",
                i ? "," : "", m, acc + 0.01, m, acc);
    }
    fprintf(f, "]}\n");
    fclose(f);
}

/* Selectors with control(n) = base + step * log2(n) for n > 1 (all -0.35 at n = 1). */
typedef struct {
    const char *name;
    double base, step, win_sft_step, win_ref;
} sel;

static void bon_file(const char *dir, const char *rel, const sel *s, int n) {
    FILE *f = open_w(dir, rel);
    fprintf(f, "{\"config\":{\"n_prompts\":10,\"pool\":4,\"n_max\":4},\"ref\":\"warm3\",\"sft_control_mean\":-0.35,"
               "\"selectors\":[");
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s{\"name\":\"%s\",\"models\":[],\"ens\":null,\"points\":[", i ? "," : "", s[i].name);
        for (int k = 0; k < 3; k++) {
            int nn = 1 << k;
            double c = k ? s[i].base + s[i].step * k : -0.35;
            double ws = 0.5 + s[i].win_sft_step * k, wr = k ? s[i].win_ref : 0.5;
            fprintf(f, "%s{\"n\":%d,\"kl\":%.6f,\"proxy_mean\":0,\"control_mean\":%.4f,\"winrate_vs_sft\":%.4f,"
                       "\"winrate_vs_ref\":%.4f}", k ? "," : "", nn, log(nn) - (nn - 1.0) / nn, c, ws, wr);
        }
        fprintf(f, "]}");
    }
    fprintf(f, "],\"n\":[1,2,4]}\n");
    fclose(f);
}

static const char *const member_names[3] = {"m1", "m2", "m3"};

/* RL of the clean setup: 9 runs (WARM M=3 first, a WARM of all 4 members, a beta sweep of WARM M=3 and of the
 * best member) evaluated at steps 10, 20, 30. Hand-made numbers under which C12-C16 hold (see rl_files). */
static const char *const rl_names[9] = {"warm3", "warm2", "ens2", "best", "warm4",
                                        "warm3-b0.02", "best-b0.02", "warm3-b0.15", "best-b0.15"};
static const double rl_beta[9] = {0.05, 0.05, 0.05, 0.05, 0.05, 0.02, 0.02, 0.15, 0.15};

static void rl_plan_json(FILE *f) {
    fprintf(f, "\"rl\":{\"beta\":0.05,\"warm_big\":\"warm3\",\"warm_big_m\":3,\"warm2\":\"warm2\",\"ens2\":\"ens2\","
               "\"best\":\"best\",\"warm_all\":\"warm4\",\"warm_all_m\":4,\"runs\":[");
    for (int i = 0; i < 9; i++)
        fprintf(f, "%s{\"name\":\"%s\",\"beta\":%g,\"dir\":\"rl_clean/%s\"}", i ? "," : "", rl_names[i], rl_beta[i],
                rl_names[i]);
    fprintf(f, "],\"evals\":[");
    for (int e = 0; e < 3; e++)
        fprintf(f, "%s{\"step\":%d,\"json\":\"rl_clean/eval-%06d.json\"}", e ? "," : "", 10 * (e + 1), 10 * (e + 1));
    fprintf(f, "]},");
}

/* C12: the best member rises 0.30 above SFT (0.0) and falls back; C13: peaks 0.30 < 0.40 < 0.50 with KL 1 <= 1.5
 * <= 2, ENS M=2 0.35; C14: WARM's best beta 0.02, the best member's 0.15; C15: at WARM's peak (step 20) it wins
 * 0.7 against the best member and 0.8 against SFT (se 0.02); C16: WARM M=4 peaks at 0.49 (<= 0.50 + se) at step
 * 30 (after step 20). Gold se 0.01 everywhere. */
static void rl_files(const char *dir, const variant *v) {
    static const double gold[9][3] = {{0.20, 0.50, 0.45}, {0.20, 0.40, 0.20}, {0.20, 0.35, 0.20},
                                      {0.30, 0.10, 0.00}, {0.10, 0.30, 0.49}, {0.60, 0.40, 0.30},
                                      {0.10, 0.05, 0.00}, {0.30, 0.20, 0.10}, {0.35, 0.20, 0.10}};
    static const double kl[9][3] = {{0.5, 2.0, 3.0}, {0.5, 1.5, 2.5}, {0.5, 1.5, 2.5}, {1.0, 2.0, 3.0},
                                    {0.3, 1.0, 2.5}, {1.0, 3.0, 5.0}, {1.0, 3.0, 5.0}, {0.2, 0.5, 0.8},
                                    {0.2, 0.5, 0.8}};
    for (int e = 0; e < 3; e++) {
        if (v->no_rl_eval && e == 1) continue;
        char rel[64];
        snprintf(rel, sizeof rel, "rl_clean/eval-%06d.json", 10 * (e + 1));
        FILE *f = open_w(dir, rel);
        fprintf(f, "{\"format\":\"warm-rl-eval/1\",\"prompts\":100,\"k\":4,\"policies\":[{\"policy\":\"sft\","
                   "\"proxy\":0,\"kl\":0,\"gold\":0,\"gold_se\":0.01,\"winrate_vs_sft\":0.5,\"winrate_vs_sft_se\":0,"
                   "\"winrate_vs_first\":0.3,\"winrate_vs_first_se\":0.02}");
        for (int i = 0; i < 9; i++) {
            double g = v->rl_flat && i == 3 ? 0.30 : gold[i][e];
            double wr = i == 0 ? 0.5 : (i == 3 && e == 1 ? 0.3 : 0.45);
            fprintf(f, ",{\"policy\":\"rl_clean/%s/step-%06d.safetensors\",\"proxy\":1,\"kl\":%g,\"gold\":%g,"
                       "\"gold_se\":0.01,\"winrate_vs_sft\":%g,\"winrate_vs_sft_se\":0.02,\"winrate_vs_first\":%g,"
                       "\"winrate_vs_first_se\":0.02%s}",
                    rl_names[i], 10 * (e + 1), kl[i][e], g, i == 0 && e == 1 ? 0.8 : 0.6, wr,
                    v->rl_paired ? ",\"gold_vs_sft_se\":0.005" : "");
        }
        fprintf(f, "]}\n");
        fclose(f);
    }
    if (v->bad_rl_eval) {
        FILE *f = open_w(dir, "rl_clean/eval-000030.json");
        fprintf(f, "{\"format\":\"warm-rl-eval/1\",\"policies\":[{\"kl\":0},{\"kl\":1}]}\n");
        fclose(f);
    }
}

static void setup_json(FILE *f, const char *name, double corrupt, int baklava) {
    fprintf(f, "{\"name\":\"%s\",\"corrupt\":%g,\"prefs\":\"prefs_%s.jsonl\",\"members\":[", name, corrupt, name);
    for (int i = 0; i < 3; i++)
        fprintf(f, "%s{\"name\":\"%s\",\"path\":\"sweep_%s/%s/final.safetensors\",\"rank\":%d,\"init\":"
                   "\"sft/step-0000800.safetensors\",\"lr\":1e-4,\"dropout\":0.1,\"seed\":%d,\"val_acc\":0.6,"
                   "\"ood_val_acc\":%.2f}",
                i ? "," : "", member_names[i], name, member_names[i], i + 1, i + 4, 0.6 - 0.01 * i);
    fprintf(f, "],\"eval_members\":\"eval/%s_members.json\",\"eval_topm\":\"eval/%s_topm.json\",", name, name);
    fprintf(f, "\"bon\":{\"json\":\"bon_%s/bon.json\",\"best\":\"best\",\"warm2\":\"warm2\",\"warm_big\":\"warm3\","
               "\"warm_big_m\":3,\"ens2\":\"ens2\",\"baklava\":",
            name);
    if (baklava) fprintf(f, "{\"warm\":\"bak_warm\",\"ens\":\"bak_ens\",\"a\":\"bak_a\",\"b\":\"bak_b\"}");
    else fprintf(f, "null");
    fprintf(f, "},");
    if (baklava) rl_plan_json(f); /* the clean setup */
    fprintf(f, "\"figures\":{\"bon\":\"bon_%s/bon.svg\",\"rl\":\"rl_%s/rl.svg\"}}", name, name);
}

static void write_plan(const char *dir, const variant *v) {
    FILE *f = open_w(dir, "plan.json");
    fprintf(f, "{\"format\":\"warm-demo-plan/1\",\"scale\":\"%s\",\"seed\":%d,\"eval_noise_note\":\"400 pairs\","
               "\"setups\":[",
            v->scale ? v->scale : "tiny", v->seed ? v->seed : 1);
    setup_json(f, "clean", 0.0, 1);
    fprintf(f, ",");
    setup_json(f, "corrupt", 0.25, 0);
    fprintf(f, "],\"lmc\":[");
    static const char *const kinds[6] = {"ckpt", "seed", "lr", "sft", "scratch", "corrupt"};
    for (int i = 0; i < 6; i++)
        fprintf(f, "%s{\"kind\":\"%s\",\"label\":\"pair %s\",\"setup\":\"%s\",\"json\":\"lmc/%s.json\","
                   "\"figure\":\"lmc/%s_ood.svg\"}",
                i ? "," : "", kinds[i], kinds[i], i == 5 ? "corrupt" : "clean", i == 5 ? "corrupt-1" : kinds[i],
                kinds[i]);
    fprintf(f, "],\"topm_figure\":\"fig/topm.svg\",\"toy\":\"toy.json\",\"task_stats\":\"task_stats.json\"}\n");
    fclose(f);
}

static void write_run(const char *dir, const variant *v) {
    FILE *f = open_w(dir, "run.json");
    fprintf(f, "{\"format\":\"warm-demo-run/1\",\"scale\":\"%s\",\"seed\":%d,%s\"warm_version\":\"0.1.0\","
               "\"started\":\"2026-11-27T15:00:00Z\",\"finished\":null,\"machine\":{\"cpu\":\"Test CPU\",\"cores\":2,"
               "\"threads\":2,\"os\":\"Linux\"},\"stages\":[{\"name\":\"pretrain\",\"seconds\":34.1,\"status\":"
               "\"done\"},{\"name\":\"sft\",\"seconds\":12.5,\"status\":\"done\"}]}\n",
            v->scale ? v->scale : "tiny", v->seed ? v->seed : 1, v->dup_key ? "\"seed\":2," : "");
    fclose(f);
    if (!v->no_plan) write_plan(dir, v);
    /* LMC: midpoint gains grow ckpt < seed < lr < sft; scratch below Diag. */
    lmc_file(dir, "lmc/ckpt.json", 0.002, 0.001, 0, 0);
    lmc_file(dir, "lmc/seed.json", v->seed_gain != 0 ? v->seed_gain : 0.004, 0.002, v->break_c1, v->bad_lmc);
    lmc_file(dir, "lmc/lr.json", v->swap_lr_sft ? 0.008 : 0.006, 0.003, 0, 0);
    lmc_file(dir, "lmc/sft.json", v->swap_lr_sft ? 0.006 : 0.008, 0.004, 0, 0);
    lmc_file(dir, "lmc/scratch.json", -0.05, -0.04, 0, 0);
    lmc_corrupt_file(dir, "lmc/corrupt-1.json");
    /* Members and top-M merges. */
    static const double member_ood[3] = {0.60, 0.58, 0.55};
    eval_file(dir, "eval/clean_members.json", member_names, member_ood, 3, "ens3", 0.62);
    eval_file(dir, "eval/corrupt_members.json", member_names, member_ood, 3, "ens3", 0.61);
    static const char *const topm_names[6] = {"bw1", "bw2", "bw3", "wb1", "wb2", "wb3"};
    static const double topm_ood[6] = {0.60, 0.62, 0.63, 0.55, 0.58, 0.63};
    static const char *const dedup_names[3] = {"bw2", "bw3", "wb2"};
    static const double dedup_ood[3] = {0.62, 0.63, 0.58};
    eval_file(dir, "eval/clean_topm.json", v->topm_dedup ? dedup_names : topm_names, v->topm_dedup ? dedup_ood : topm_ood,
              v->topm_dedup ? 3 : 6, NULL, 0);
    eval_file(dir, "eval/corrupt_topm.json", topm_names, topm_ood, 6, NULL, 0);
    /* BoN: WARM3 > WARM2 > ENS2 >= best at every n > 1; Baklava WARM above its ENS and members. */
    if (!v->no_bon) {
        const sel s[8] = {{"warm3", 0.50, 0.1, 0.1, 0.5},   {"warm2", 0.40, 0.1, 0.08, 0.45},
                          {"ens2", 0.30, 0.1, 0.06, 0.44},  {"best", 0.20, 0.1, 0.05, 0.40},
                          {"bak_warm", 0.45, 0.1, 0.08, 0.46}, {"bak_ens", 0.35, 0.1, 0.06, 0.45},
                          {"bak_a", 0.25, 0.1, 0.05, 0.42},  {"bak_b", 0.25, 0.1, 0.05, 0.42}};
        bon_file(dir, "bon_clean/bon.json", s, 8);
        bon_file(dir, "bon_corrupt/bon.json", s, 4);
    }
    rl_files(dir, v);
    f = open_w(dir, "toy.json");
    fprintf(f, "{\"claim\":\"C17\",\"config\":{\"p\":[0.3,0.9,1],\"M\":10,\"layers\":2},\"features\":["
               "{\"feature\":0,\"p\":0.3,\"theory_ens\":0.3,\"theory_wa_M\":0.111,\"theory_wa_inf\":0.09,"
               "\"mc_ens\":0.301,\"mc_wa\":0.112},{\"feature\":1,\"p\":0.9,\"theory_ens\":0.9,\"theory_wa_M\":0.819,"
               "\"theory_wa_inf\":0.81,\"mc_ens\":0.899,\"mc_wa\":0.818},{\"feature\":2,\"p\":1,\"theory_ens\":1,"
               "\"theory_wa_M\":1,\"theory_wa_inf\":1,\"mc_ens\":1,\"mc_wa\":1}],\"max_abs_z\":1.2,\"holds\":%s}\n",
            v->toy_false ? "false" : "true");
    fclose(f);
    f = open_w(dir, "task_stats.json");
    fprintf(f, "{\"sources\":[],\"splits\":{\"train\":{\"pairs\":2000,\"gold_ties\":3,\"corrupted\":500,"
               "\"agree_gold\":0.74},\"ood\":{\"pairs\":400,\"gold_ties\":0,\"corrupted\":0,\"agree_gold\":0.98}}}\n");
    fclose(f);
}

/* Removes dir and everything below it. */
static void rm_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char path[1024];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) rm_tree(path);
        else unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* Builds a run for v in a fresh temp dir and computes its claims. */
static warm_status run_claims(const variant *v, char *dir, size_t n, warm_report_claim *c, warm_error *err) {
    test_tmpdir(dir, n);
    write_run(dir, v);
    return warm_report_claims(dir, c, NULL, err);
}

static const warm_report_claim *find(const warm_report_claim *c, const char *id) {
    for (int i = 0; i < WARM_REPORT_NCLAIMS; i++)
        if (strcmp(c[i].id, id) == 0) return &c[i];
    fail_msg("claim %s not in the table", id);
    return NULL;
}

static void test_all_hold(void **state) {
    (void)state;
    char dir[64], out[128];
    warm_report_claim c[WARM_REPORT_NCLAIMS];
    warm_error err = {0};
    variant v = {0};
    assert_int_equal(run_claims(&v, dir, sizeof dir, c, &err), WARM_OK);
    for (int i = 0; i < WARM_REPORT_NCLAIMS; i++) {
        if (c[i].verdict != WARM_REPORT_HOLDS) fail_msg("%s: %s (%s) [%s]", c[i].id,
                                                        warm_report_verdict_str(c[i].verdict), c[i].detail,
                                                        c[i].numbers);
        assert_true(c[i].numbers[0] != 0);
    }
    assert_non_null(strstr(find(c, "C9")->numbers, "WARM M=3 stands in for M=6"));
    /* The report: a row per claim, the summary, byte-identical when written twice. */
    warm_report_summary sum;
    assert_int_equal(warm_report_write(dir, NULL, &sum, &err), WARM_OK);
    assert_int_equal(sum.holds, WARM_REPORT_NCLAIMS);
    assert_int_equal(sum.does_not_hold + sum.not_measured, 0);
    snprintf(out, sizeof out, "%s/report.md", dir);
    size_t n1 = 0, n2 = 0;
    char *t1 = warm_read_file(out, &n1, &err);
    assert_non_null(t1);
    static const char *const ids[WARM_REPORT_NCLAIMS] = {"C1",  "C2",  "C3",  "C4",  "C5",  "C6",
                                                         "C7",  "C8",  "C9",  "C10", "C11", "C12",
                                                         "C13", "C14", "C15", "C16", "C17"};
    for (int i = 0; i < WARM_REPORT_NCLAIMS; i++) {
        char row[16];
        snprintf(row, sizeof row, "\n| %s |", ids[i]);
        const char *line = strstr(t1, row);
        if (!line) fail_msg("no row for %s", ids[i]);
        /* Five cells: six unescaped '|' on the line. */
        int bars = 0;
        for (const char *p = line + 1; *p && *p != '\n'; p++) bars += *p == '|' && p[-1] != '\\';
        if (bars != 6) fail_msg("row %s has %d cell separators", ids[i], bars);
    }
    assert_non_null(strstr(t1, "17 hold, 0 do not hold, 0 not measured"));
    assert_non_null(strstr(t1, "\n## RL\n"));
    assert_non_null(strstr(t1, "| best (best member) | 0.05 | 0.300 +- 0.010, 1.000 |"));
    assert_non_null(strstr(t1, "Test CPU"));
    assert_null(strstr(t1, "![")); /* no figure file exists in the synthetic run */
    assert_int_equal(warm_report_write(dir, NULL, NULL, &err), WARM_OK);
    char *t2 = warm_read_file(out, &n2, &err);
    assert_non_null(t2);
    assert_int_equal(n1, n2);
    assert_memory_equal(t1, t2, n1);
    free(t1);
    free(t2);
    /* A figure that exists is linked, relative to the report. */
    FILE *f = open_w(dir, "lmc/seed_ood.svg");
    fclose(f);
    char other[160];
    snprintf(other, sizeof other, "%s/eval/r.md", dir);
    assert_int_equal(warm_report_write(dir, other, NULL, &err), WARM_OK);
    t1 = warm_read_file(other, &n1, &err);
    assert_non_null(t1);
    assert_non_null(strstr(t1, "](../lmc/seed_ood.svg)"));
    free(t1);
    rm_tree(dir);
}

static void test_c1_flips(void **state) {
    (void)state;
    char dir[64];
    warm_report_claim c[WARM_REPORT_NCLAIMS];
    warm_error err = {0};
    variant v = {.break_c1 = 1};
    assert_int_equal(run_claims(&v, dir, sizeof dir, c, &err), WARM_OK);
    const warm_report_claim *c1 = find(c, "C1");
    assert_int_equal(c1->verdict, WARM_REPORT_DOES_NOT_HOLD);
    assert_non_null(strstr(c1->detail, "seed"));
    assert_non_null(strstr(c1->detail, "0.30"));
    assert_int_equal(find(c, "C4")->verdict, WARM_REPORT_HOLDS); /* the midpoint is untouched */
    rm_tree(dir);
}

static void test_c3_order_and_toy(void **state) {
    (void)state;
    char dir[64];
    warm_report_claim c[WARM_REPORT_NCLAIMS];
    warm_error err = {0};
    variant v = {.swap_lr_sft = 1, .toy_false = 1};
    assert_int_equal(run_claims(&v, dir, sizeof dir, c, &err), WARM_OK);
    assert_int_equal(find(c, "C3")->verdict, WARM_REPORT_DOES_NOT_HOLD);
    assert_string_equal(find(c, "C3")->detail, "2 of 3 in order");
    assert_int_equal(find(c, "C1")->verdict, WARM_REPORT_HOLDS);
    assert_int_equal(find(c, "C17")->verdict, WARM_REPORT_DOES_NOT_HOLD);
    rm_tree(dir);
}

static void test_missing_files(void **state) {
    (void)state;
    char dir[64], out[128];
    warm_report_claim c[WARM_REPORT_NCLAIMS];
    warm_error err = {0};
    variant v = {.no_bon = 1};
    assert_int_equal(run_claims(&v, dir, sizeof dir, c, &err), WARM_OK);
    static const char *const bon_claims[3] = {"C9", "C10", "C11"};
    for (int i = 0; i < 3; i++) {
        const warm_report_claim *k = find(c, bon_claims[i]);
        assert_int_equal(k->verdict, WARM_REPORT_NOT_MEASURED);
        assert_non_null(strstr(k->detail, "bon_clean/bon.json missing"));
    }
    assert_int_equal(find(c, "C8")->verdict, WARM_REPORT_HOLDS);
    warm_report_summary sum;
    assert_int_equal(warm_report_write(dir, NULL, &sum, &err), WARM_OK);
    assert_int_equal(sum.not_measured, 3);
    assert_int_equal(sum.holds, WARM_REPORT_NCLAIMS - 3);
    snprintf(out, sizeof out, "%s/report.md", dir);
    size_t n = 0;
    char *t = warm_read_file(out, &n, &err);
    assert_non_null(t);
    assert_non_null(strstr(t, "not measured at this scale: bon_clean/bon.json missing"));
    assert_non_null(strstr(t, "- `bon_corrupt/bon.json` (best-of-n)"));
    free(t);
    rm_tree(dir);

    /* No plan: nothing can be measured, and the report still says so. */
    variant np = {.no_plan = 1};
    assert_int_equal(run_claims(&np, dir, sizeof dir, c, &err), WARM_OK);
    for (int i = 0; i < WARM_REPORT_NCLAIMS; i++) {
        assert_int_equal(c[i].verdict, WARM_REPORT_NOT_MEASURED);
        assert_non_null(strstr(c[i].detail, "plan.json missing"));
    }
    rm_tree(dir);

    /* Not a directory. */
    assert_int_equal(warm_report_claims("/nonexistent/warm-run", c, NULL, &err), WARM_ERR_IO);
}

/* The demo's top-M file leaves out bw1, wb1 and wbN (they repeat member files and bwN): C8 reads them from the
 * members' file and bwN, with the same numbers as from a full top-M file (the fixture's values agree). */
static void test_topm_dedup(void **state) {
    (void)state;
    char dir[64];
    warm_report_claim full[WARM_REPORT_NCLAIMS], dedup[WARM_REPORT_NCLAIMS];
    warm_error err = {0};
    variant v = {0}, d = {.topm_dedup = 1};
    assert_int_equal(run_claims(&v, dir, sizeof dir, full, &err), WARM_OK);
    rm_tree(dir);
    assert_int_equal(run_claims(&d, dir, sizeof dir, dedup, &err), WARM_OK);
    assert_int_equal(find(dedup, "C8")->verdict, WARM_REPORT_HOLDS);
    assert_string_equal(find(dedup, "C8")->numbers, find(full, "C8")->numbers);
    assert_non_null(strstr(find(dedup, "C8")->numbers, "bw: 0.600 0.620 0.630"));
    assert_int_equal(warm_report_write(dir, NULL, NULL, &err), WARM_OK);
    char out[128];
    snprintf(out, sizeof out, "%s/report.md", dir);
    size_t n = 0;
    char *t = warm_read_file(out, &n, &err);
    assert_non_null(t);
    assert_non_null(strstr(t, "| 1 | 0.610 | 0.600 | 0.560 | 0.550 |")); /* bw1, wb1 from the members' file */
    assert_non_null(strstr(t, "| 3 | 0.640 | 0.630 | 0.640 | 0.630 |")); /* wb3 = bw3 */
    free(t);
    rm_tree(dir);
}

/* RL claims follow the rl-eval files: a flat best-member curve fails C12 only; a missing file makes C12-C16 "not
 * measured" and names it. */
static void test_rl_claims(void **state) {
    (void)state;
    char dir[64];
    warm_report_claim c[WARM_REPORT_NCLAIMS];
    warm_error err = {0};
    variant v = {.rl_flat = 1};
    assert_int_equal(run_claims(&v, dir, sizeof dir, c, &err), WARM_OK);
    assert_int_equal(find(c, "C12")->verdict, WARM_REPORT_DOES_NOT_HOLD);
    assert_non_null(strstr(find(c, "C12")->detail, "does not fall after its peak (peak at step 10)"));
    /* The flat curve's peak (0.30 at step 10, the first of equal values) keeps C13's order. */
    assert_int_equal(find(c, "C13")->verdict, WARM_REPORT_HOLDS);
    assert_non_null(strstr(find(c, "C14")->numbers, "WARM M=3 0.02, best member 0.15"));
    assert_non_null(strstr(find(c, "C15")->numbers, "wins 0.700"));
    assert_non_null(strstr(find(c, "C12")->numbers, "(se of the rise 0.014)")); /* unpaired: sqrt(0.01^2 + 0.01^2) */
    rm_tree(dir);
    variant pr = {.rl_paired = 1};
    assert_int_equal(run_claims(&pr, dir, sizeof dir, c, &err), WARM_OK);
    assert_int_equal(find(c, "C12")->verdict, WARM_REPORT_HOLDS);
    assert_non_null(strstr(find(c, "C12")->numbers, "(se of the rise 0.005)")); /* paired, from the files */
    rm_tree(dir);
    variant m = {.no_rl_eval = 1};
    assert_int_equal(run_claims(&m, dir, sizeof dir, c, &err), WARM_OK);
    static const char *const rl_claims[5] = {"C12", "C13", "C14", "C15", "C16"};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(find(c, rl_claims[i])->verdict, WARM_REPORT_NOT_MEASURED);
        assert_non_null(strstr(find(c, rl_claims[i])->detail, "rl_clean/eval-000020.json missing"));
    }
    rm_tree(dir);
    /* A malformed rl-eval file is an error naming the file and the key; no report is written. */
    variant b = {.bad_rl_eval = 1};
    assert_int_equal(run_claims(&b, dir, sizeof dir, c, &err), WARM_ERR_FORMAT);
    char want[200];
    snprintf(want, sizeof want, "%s/rl_clean/eval-000030.json: policies: expected 10 rows (the SFT policy and the 9 "
             "runs of plan.json)", dir);
    assert_string_equal(err.msg, want);
    rm_tree(dir);
}

/* The run directory holds no report.md and no temporary file of one. */
static void assert_no_output(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, "report.md", 9) == 0) fail_msg("%s/%s left behind", dir, e->d_name);
    closedir(d);
}

static void test_malformed(void **state) {
    (void)state;
    char dir[64], want[160];
    warm_report_claim c[WARM_REPORT_NCLAIMS];
    warm_error err = {0};
    variant v = {.bad_lmc = 1};
    assert_int_equal(run_claims(&v, dir, sizeof dir, c, &err), WARM_ERR_FORMAT);
    snprintf(want, sizeof want, "%s/lmc/seed.json: subsets[1].wa_acc_ge: expected an array of 11 numbers", dir);
    assert_string_equal(err.msg, want);
    assert_int_equal(warm_report_write(dir, NULL, NULL, &err), WARM_ERR_FORMAT);
    assert_string_equal(err.msg, want);
    assert_no_output(dir);
    rm_tree(dir);

    variant d = {.dup_key = 1};
    assert_int_equal(run_claims(&d, dir, sizeof dir, c, &err), WARM_ERR_FORMAT);
    snprintf(want, sizeof want, "%s/run.json: duplicate key \"seed\"", dir);
    assert_string_equal(err.msg, want);
    assert_int_equal(warm_report_write(dir, NULL, NULL, &err), WARM_ERR_FORMAT);
    assert_no_output(dir);
    rm_tree(dir);

    /* Not JSON at all, and a plan key of the wrong type. */
    variant ok = {0};
    test_tmpdir(dir, sizeof dir);
    write_run(dir, &ok);
    FILE *f = open_w(dir, "lmc/ckpt.json");
    fprintf(f, "{\"grid\": 11, ");
    fclose(f);
    assert_int_equal(warm_report_claims(dir, c, NULL, &err), WARM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "lmc/ckpt.json: invalid JSON"));
    f = open_w(dir, "plan.json");
    fprintf(f, "{\"setups\":[],\"lmc\":[{\"kind\":\"ckpt\",\"json\":7}]}");
    fclose(f);
    assert_int_equal(warm_report_claims(dir, c, NULL, &err), WARM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "plan.json: lmc[0].json: expected a string"));
    rm_tree(dir);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Several seeds (warm_report_aggregate, warm_report_write_runs)                                         */

#define PI_D 3.14159265358979323846 /* M_PI is POSIX, not C11 */

/* P(T <= t) for Student's t with df degrees of freedom: 1/2 + Simpson's rule on the density over [0, t]. */
static double t_cdf(double t, int df) {
    double nu = df, c = exp(lgamma((nu + 1) / 2) - lgamma(nu / 2)) / sqrt(nu * PI_D), sum = 0;
    int n = 20000;
    double h = t / n;
    for (int i = 0; i <= n; i++) {
        double x = i * h, f = c * pow(1 + x * x / nu, -(nu + 1) / 2);
        sum += (i == 0 || i == n ? 1 : i % 2 ? 4 : 2) * f;
    }
    return 0.5 + sum * h / 3;
}

/* The hard-coded t table (3 decimals) against the t distribution itself: P(T <= t_{0.975, df}) = 0.975. */
static void test_t_table(void **state) {
    (void)state;
    for (int df = 1; df <= 30; df++) {
        double t = warm_report_t975(df), p = t_cdf(t, df);
        if (fabs(p - 0.975) > 1e-4) fail_msg("df %d: P(T <= %.3f) = %.6f, not 0.975", df, t, p);
    }
    assert_true(isnan(warm_report_t975(0)));
    assert_true(isnan(warm_report_t975(31)));
}

static void test_interval_and_verdicts(void **state) {
    (void)state;
    /* 1, 2, 3 (and a skipped NAN): mean 2, sd 1, half-width t_{0.975, 2} / sqrt(3) = 4.303 / sqrt(3). */
    const double v[4] = {1, (double)NAN, 2, 3};
    int n = 0;
    double mean, sd, lo, hi;
    warm_report_interval(v, 4, &n, &mean, &sd, &lo, &hi);
    assert_int_equal(n, 3);
    assert_true(fabs(mean - 2) < 1e-12 && fabs(sd - 1) < 1e-12);
    assert_true(fabs(lo - (2 - 4.303 / sqrt(3.0))) < 1e-12 && fabs(hi - (2 + 4.303 / sqrt(3.0))) < 1e-12);
    /* One value: its mean, no interval. Equal values: the interval is the value itself, exactly. */
    warm_report_interval(v, 2, &n, &mean, &sd, &lo, &hi);
    assert_int_equal(n, 1);
    assert_true(mean == 1 && isnan(sd) && isnan(lo) && isnan(hi));
    const double same[3] = {0.1, 0.1, 0.1};
    warm_report_interval(same, 3, &n, &mean, &sd, &lo, &hi);
    assert_true(mean == 0.1 && sd == 0 && lo == 0.1 && hi == 0.1);
    /* Each verdict on hand-made intervals, including intervals that touch the threshold. */
    static const struct {
        warm_report_rule rule;
        double lo, hi;
        warm_report_verdict want;
    } cases[] = {
        {WARM_REPORT_GT, 0.1, 0.2, WARM_REPORT_HOLDS},        {WARM_REPORT_GT, -0.2, -0.1, WARM_REPORT_DOES_NOT_HOLD},
        {WARM_REPORT_GT, -0.1, 0.1, WARM_REPORT_INCONCLUSIVE}, {WARM_REPORT_GT, 0, 0.1, WARM_REPORT_INCONCLUSIVE},
        {WARM_REPORT_GT, -0.1, 0, WARM_REPORT_DOES_NOT_HOLD},  {WARM_REPORT_GE, 0, 0.1, WARM_REPORT_HOLDS},
        {WARM_REPORT_GE, -0.1, 0, WARM_REPORT_INCONCLUSIVE},   {WARM_REPORT_GE, -0.2, -0.1, WARM_REPORT_DOES_NOT_HOLD},
        {WARM_REPORT_LT, -0.2, -0.1, WARM_REPORT_HOLDS},       {WARM_REPORT_LT, 0.1, 0.2, WARM_REPORT_DOES_NOT_HOLD},
        {WARM_REPORT_LT, -0.1, 0.1, WARM_REPORT_INCONCLUSIVE}, {WARM_REPORT_LT, 0, 0.1, WARM_REPORT_DOES_NOT_HOLD},
        {WARM_REPORT_LE, -0.1, 0, WARM_REPORT_HOLDS},          {WARM_REPORT_LE, 0, 0.1, WARM_REPORT_INCONCLUSIVE},
        {WARM_REPORT_ALL, 1, 1, WARM_REPORT_HOLDS},            {WARM_REPORT_ALL, 0, 0, WARM_REPORT_DOES_NOT_HOLD},
        {WARM_REPORT_ALL, 0, 1, WARM_REPORT_INCONCLUSIVE},     {WARM_REPORT_INFO, 0, 1, WARM_REPORT_NOT_MEASURED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        warm_report_verdict got = warm_report_interval_verdict(cases[i].rule, 0, cases[i].lo, cases[i].hi);
        if (got != cases[i].want)
            fail_msg("case %zu: [%g, %g]: %s, want %s", i, cases[i].lo, cases[i].hi, warm_report_verdict_str(got),
                     warm_report_verdict_str(cases[i].want));
    }
    /* A threshold other than 0 (C10's win rates: > 0.5). */
    assert_int_equal(warm_report_interval_verdict(WARM_REPORT_GT, 0.5, 0.51, 0.6), WARM_REPORT_HOLDS);
    assert_int_equal(warm_report_interval_verdict(WARM_REPORT_GT, 0.5, 0.45, 0.6), WARM_REPORT_INCONCLUSIVE);
    assert_int_equal(warm_report_interval_verdict(WARM_REPORT_LT, 0, (double)NAN, 1), WARM_REPORT_NOT_MEASURED);
}

/* n runs for vs[0..n) in fresh temp dirs; ptrs[i] points at dirs[i]. */
static void make_runs(const variant *vs, int n, char dirs[][64], const char **ptrs) {
    for (int i = 0; i < n; i++) {
        test_tmpdir(dirs[i], 64);
        write_run(dirs[i], &vs[i]);
        ptrs[i] = dirs[i];
    }
}

static void rm_runs(char dirs[][64], int n) {
    for (int i = 0; i < n; i++) rm_tree(dirs[i]);
}

static const warm_report_seed_claim *seed_claim(const warm_report_seeds *a, const char *id) {
    for (int i = 0; i < WARM_REPORT_NCLAIMS; i++)
        if (strcmp(a->claims[i].claim.id, id) == 0) return &a->claims[i];
    fail_msg("claim %s not in the table", id);
    return NULL;
}

/* Aggregates three runs whose seed pairs have these midpoint gains; returns C4 (statistic 0.002 - gain). */
static const warm_report_seed_claim *c4_over(warm_report_seeds *agg, double g1, double g2, double g3) {
    char dirs[3][64];
    const char *p[3];
    variant vs[3] = {{.seed = 1, .seed_gain = g1}, {.seed = 2, .seed_gain = g2}, {.seed = 3, .seed_gain = g3}};
    make_runs(vs, 3, dirs, p);
    warm_error err = {0};
    assert_int_equal(warm_report_aggregate(p, 3, agg, &err), WARM_OK);
    rm_runs(dirs, 3);
    const warm_report_seed_claim *c = seed_claim(agg, "C4");
    assert_int_equal(c->n_used, 3);
    assert_int_equal(c->n_stats, 1);
    assert_int_equal(c->stats[0].rule, WARM_REPORT_LT);
    return c;
}

static void test_seeds_aggregate(void **state) {
    (void)state;
    warm_report_seeds *agg = calloc(1, sizeof *agg);
    assert_non_null(agg);
    /* C4 values -0.008, -0.018, -0.058: mean -0.028, sd sqrt(0.0014 / 2), half-width 4.303 sd / sqrt(3):
     * [-0.0937, +0.0377] straddles 0. */
    const warm_report_seed_claim *c = c4_over(agg, 0.010, 0.020, 0.060);
    const warm_report_stat *t = &c->stats[0];
    double sd = sqrt(0.0007), half = 4.303 * sd / sqrt(3.0);
    assert_true(fabs(t->value[0] + 0.008) < 1e-9 && fabs(t->value[1] + 0.018) < 1e-9 && fabs(t->value[2] + 0.058) < 1e-9);
    assert_true(fabs(t->mean + 0.028) < 1e-9);
    assert_true(fabs(t->sd - sd) < 1e-9);
    assert_true(fabs(t->lo - (-0.028 - half)) < 1e-9 && fabs(t->hi - (-0.028 + half)) < 1e-9);
    assert_int_equal(t->n, 3);
    assert_int_equal(t->verdict, WARM_REPORT_INCONCLUSIVE);
    assert_int_equal(c->claim.verdict, WARM_REPORT_INCONCLUSIVE);
    assert_non_null(strstr(c->claim.detail, "straddle"));
    for (int i = 0; i < 3; i++) assert_int_equal(c->run_verdict[i], WARM_REPORT_HOLDS); /* each run alone: holds */
    assert_string_equal(agg->scale, "tiny");
    assert_true(agg->seeds[0] == 1 && agg->seeds[1] == 2 && agg->seeds[2] == 3);
    /* -0.008, -0.010, -0.012: mean -0.010, half-width 4.303 * 0.002 / sqrt(3) = 0.00497: wholly below 0. */
    c = c4_over(agg, 0.010, 0.012, 0.014);
    assert_true(fabs(c->stats[0].mean + 0.010) < 1e-9 && fabs(c->stats[0].hi - (-0.010 + 4.303 * 0.002 / sqrt(3.0))) < 1e-9);
    assert_int_equal(c->claim.verdict, WARM_REPORT_HOLDS);
    assert_int_equal(c->claim.detail[0], 0);
    assert_non_null(strstr(c->claim.numbers, "n = 3 seeds"));
    /* +0.012, +0.014, +0.016: wholly above 0, on the other side of "< 0". */
    c = c4_over(agg, -0.010, -0.012, -0.014);
    assert_int_equal(c->claim.verdict, WARM_REPORT_DOES_NOT_HOLD);
    assert_non_null(strstr(c->claim.detail, "WA_0.5(ckpt) - WA_0.5(seed)"));
    for (int i = 0; i < 3; i++) assert_int_equal(c->run_verdict[i], WARM_REPORT_DOES_NOT_HOLD);
    /* The claims the base runs satisfy identically hold over seeds too (equal values: a zero-width interval). */
    assert_int_equal(seed_claim(agg, "C9")->claim.verdict, WARM_REPORT_HOLDS);
    assert_int_equal(seed_claim(agg, "C9")->n_stats, 2 * 2 * 3); /* 2 setups x n = 2, 4 x 3 margins */
    free(agg);
}

/* C17: a yes/no per seed. */
static void test_seeds_toy(void **state) {
    (void)state;
    warm_report_seeds *agg = calloc(1, sizeof *agg);
    assert_non_null(agg);
    char dirs[3][64];
    const char *p[3];
    warm_error err = {0};
    variant mixed[3] = {{.seed = 1}, {.seed = 2, .toy_false = 1}, {.seed = 3}};
    make_runs(mixed, 3, dirs, p);
    assert_int_equal(warm_report_aggregate(p, 3, agg, &err), WARM_OK);
    rm_runs(dirs, 3);
    const warm_report_seed_claim *c = seed_claim(agg, "C17");
    assert_int_equal(c->claim.verdict, WARM_REPORT_INCONCLUSIVE);
    assert_int_equal(c->run_verdict[1], WARM_REPORT_DOES_NOT_HOLD);
    assert_non_null(strstr(c->claim.numbers, "2 of 3"));
    variant none[2] = {{.seed = 1, .toy_false = 1}, {.seed = 2, .toy_false = 1}};
    make_runs(none, 2, dirs, p);
    assert_int_equal(warm_report_aggregate(p, 2, agg, &err), WARM_OK);
    rm_runs(dirs, 2);
    assert_int_equal(seed_claim(agg, "C17")->claim.verdict, WARM_REPORT_DOES_NOT_HOLD);
    free(agg);
}

static void test_seeds_refused(void **state) {
    (void)state;
    warm_report_seeds *agg = calloc(1, sizeof *agg);
    assert_non_null(agg);
    char dirs[2][64], out[128];
    const char *p[2];
    warm_error err = {0};
    variant mix[2] = {{.seed = 1}, {.seed = 2, .scale = "small"}};
    make_runs(mix, 2, dirs, p);
    assert_int_equal(warm_report_aggregate(p, 2, agg, &err), WARM_ERR_ARG);
    assert_non_null(strstr(err.msg, "mix scales"));
    assert_non_null(strstr(err.msg, "tiny"));
    assert_non_null(strstr(err.msg, "small"));
    snprintf(out, sizeof out, "%s/report.md", dirs[0]);
    assert_int_equal(warm_report_write_runs(p, 2, out, NULL, NULL, &err), WARM_ERR_ARG);
    assert_int_equal(access(out, F_OK), -1); /* nothing written */
    rm_runs(dirs, 2);
    variant same[2] = {{.seed = 4}, {.seed = 4}};
    make_runs(same, 2, dirs, p);
    assert_int_equal(warm_report_aggregate(p, 2, agg, &err), WARM_ERR_ARG);
    assert_non_null(strstr(err.msg, "both have seed 4"));
    rm_runs(dirs, 2);
    assert_int_equal(warm_report_aggregate(p, 0, agg, &err), WARM_ERR_ARG);
    free(agg);
}

/* A file absent in some runs: the claim uses the runs that have it; one run left: its own verdict (n = 1). */
static void test_seeds_missing(void **state) {
    (void)state;
    warm_report_seeds *agg = calloc(1, sizeof *agg);
    assert_non_null(agg);
    char dirs[3][64];
    const char *p[3];
    warm_error err = {0};
    variant vs[3] = {{.seed = 1}, {.seed = 2, .no_bon = 1}, {.seed = 3}};
    make_runs(vs, 3, dirs, p);
    assert_int_equal(warm_report_aggregate(p, 3, agg, &err), WARM_OK);
    const warm_report_seed_claim *c = seed_claim(agg, "C11");
    assert_int_equal(c->n_used, 2);
    assert_true(c->used[0] && !c->used[1] && c->used[2]);
    assert_non_null(strstr(c->why_unused[1], "bon_clean/bon.json missing"));
    assert_int_equal(c->run_verdict[1], WARM_REPORT_NOT_MEASURED);
    assert_true(isnan(c->stats[0].value[1]));
    assert_int_equal(c->stats[0].n, 2);
    assert_int_equal(c->claim.verdict, WARM_REPORT_HOLDS);
    assert_non_null(strstr(c->claim.detail, "1 of 3 runs unused"));
    assert_int_equal(seed_claim(agg, "C4")->n_used, 3); /* the other claims keep every run */
    rm_runs(dirs, 3);

    variant one[3] = {{.seed = 1}, {.seed = 2, .no_bon = 1}, {.seed = 3, .no_bon = 1}};
    make_runs(one, 3, dirs, p);
    assert_int_equal(warm_report_aggregate(p, 3, agg, &err), WARM_OK);
    c = seed_claim(agg, "C9");
    assert_int_equal(c->n_used, 1);
    assert_int_equal(c->claim.verdict, WARM_REPORT_HOLDS); /* seed 1's own verdict */
    assert_non_null(strstr(c->claim.numbers, "n = 1 (seed 1)"));
    rm_runs(dirs, 3);

    variant nobody[2] = {{.seed = 1, .no_bon = 1}, {.seed = 2, .no_bon = 1}};
    make_runs(nobody, 2, dirs, p);
    assert_int_equal(warm_report_aggregate(p, 2, agg, &err), WARM_OK);
    c = seed_claim(agg, "C10");
    assert_int_equal(c->n_used, 0);
    assert_int_equal(c->claim.verdict, WARM_REPORT_NOT_MEASURED);
    assert_non_null(strstr(c->claim.detail, "bon_clean/bon.json missing"));
    rm_runs(dirs, 2);
    free(agg);
}

/* The written report over seeds: counts, per-seed columns, JSON, byte-identical reruns; and n = 1. */
static void test_seeds_write(void **state) {
    (void)state;
    char dirs[3][64], out[128], json[128];
    const char *p[3];
    warm_error err = {0};
    variant vs[3] = {{.seed = 1, .seed_gain = 0.010}, {.seed = 2, .seed_gain = 0.020}, {.seed = 3, .seed_gain = 0.060}};
    make_runs(vs, 3, dirs, p);
    snprintf(out, sizeof out, "%s/seeds.md", dirs[0]);
    snprintf(json, sizeof json, "%s/seeds.json", dirs[0]);
    warm_report_summary sum;
    assert_int_equal(warm_report_write_runs(p, 3, out, json, &sum, &err), WARM_OK);
    assert_int_equal(sum.holds + sum.does_not_hold + sum.inconclusive + sum.not_measured, WARM_REPORT_NCLAIMS);
    assert_true(sum.inconclusive >= 1); /* C4 */
    size_t n1 = 0, n2 = 0;
    char *t1 = warm_read_file(out, &n1, &err);
    assert_non_null(t1);
    assert_non_null(strstr(t1, "seeds 1, 2, 3 (n = 3)"));
    assert_non_null(strstr(t1, "| seed 1 | seed 2 | seed 3 |"));
    assert_non_null(strstr(t1, "| WA_0.5(ckpt) - WA_0.5(seed), ood | < 0 | -0.008 | -0.018 | -0.058 | -0.028 |"));
    assert_non_null(strstr(t1, "12.706, 4.303"));
    assert_int_equal(warm_report_write_runs(p, 3, out, json, NULL, &err), WARM_OK);
    char *t2 = warm_read_file(out, &n2, &err);
    assert_non_null(t2);
    assert_int_equal(n1, n2);
    assert_memory_equal(t1, t2, n1);
    free(t1);
    free(t2);
    char *j = warm_read_file(json, &n1, &err);
    assert_non_null(j);
    cJSON *root = cJSON_Parse(j);
    free(j);
    assert_non_null(root);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "format")->valuestring, "warm-report-seeds/1");
    const cJSON *c4 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "claims"), 3);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(c4, "id")->valuestring, "C4");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(c4, "verdict")->valuestring, "inconclusive");
    const cJSON *st = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c4, "stats"), 0);
    assert_true(fabs(cJSON_GetObjectItemCaseSensitive(st, "mean")->valuedouble + 0.028) < 1e-9);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(st, "values")), 3);
    cJSON_Delete(root);

    /* One run: every verdict is the single-run verdict, and the numbers say n = 1. */
    warm_report_claim single[WARM_REPORT_NCLAIMS];
    assert_int_equal(warm_report_claims(p[0], single, NULL, &err), WARM_OK);
    warm_report_seeds *agg = calloc(1, sizeof *agg);
    assert_non_null(agg);
    assert_int_equal(warm_report_aggregate(p, 1, agg, &err), WARM_OK);
    for (int i = 0; i < WARM_REPORT_NCLAIMS; i++) {
        assert_int_equal(agg->claims[i].claim.verdict, single[i].verdict);
        assert_non_null(strstr(agg->claims[i].claim.numbers, "n = 1"));
    }
    free(agg);
    rm_runs(dirs, 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_hold),         cmocka_unit_test(test_c1_flips),
        cmocka_unit_test(test_c3_order_and_toy), cmocka_unit_test(test_missing_files), cmocka_unit_test(test_rl_claims), cmocka_unit_test(test_topm_dedup),
        cmocka_unit_test(test_malformed),        cmocka_unit_test(test_t_table),
        cmocka_unit_test(test_interval_and_verdicts), cmocka_unit_test(test_seeds_aggregate),
        cmocka_unit_test(test_seeds_toy),        cmocka_unit_test(test_seeds_refused),
        cmocka_unit_test(test_seeds_missing),    cmocka_unit_test(test_seeds_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
