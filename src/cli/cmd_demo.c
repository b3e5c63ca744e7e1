/*
 * cmd_demo.c — `warm demo`: the WARM paper end to end on the embedded task, in one command (docs/demo.md).
 *
 * Stages (each a list of `warm` subcommands run as child processes of this binary, /proc/self/exe):
 *   task -> pretrain -> sft (Baklava checkpoints) -> prefs (clean and 25 % corrupt; ID val, OOD test and a
 *   held-out OOD selection split "ood_val") -> stats -> probe -> sweep-clean -> sweep-corrupt -> pairs (the
 *   runs the LMC sweeps compare: one run and its mid checkpoint, other seed, other lr, other SFT checkpoint,
 *   two from scratch) -> merge (WARM of the top-M and bottom-M members for every M, Baklava pair) -> eval ->
 *   lmc -> bon -> toy (C17) -> report (plan.json, then `warm report`).
 *
 * DIR/run.json records the scale, seed, machine and, after each stage, its time and status (written
 * atomically). A rerun with the same DIR skips the stages marked done; an interrupted stage runs again, and
 * its commands resume their own work (training runs continue from their last state, finished files are kept).
 * Members are ranked on "ood_val", never on the OOD pairs the report evaluates on (the paper ranks on its OOD
 * test set, which leaks the test into the selection).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <dirent.h>

#include "cli.h"
#include "warm/core.h"
#include "warm/data.h"
#include "warm/model.h"
#include "warm/report.h"
#include "warm/rm.h"
#include "warm/safetensors.h"
#include "warm/train.h"

/* ---------------------------------------------------------------------------------------------------- */
/* Scales                                                                                                 */

typedef struct {
    const char *name;
    /* task sizes (0 = the generator's default) */
    int n_pretrain, n_sft, n_sft_val, n_prompts, n_val, n_ood, n_ood_val;
    /* the language model */
    int layers, heads, width;
    int pre_steps, pre_batch;
    double pre_lr, pre_dropout;
    int draws;               /* responses drawn per prompt for a preference pair (warm task prefs --draws) */
    int sft_steps, sft_batch, sft_save_every;
    double sft_lr;
    int baklava[3];          /* SFT steps members start from (the last = final) */
    int probe_steps;
    int members;             /* per setup (clean, corrupt) */
    int rm_steps, rm_batch;
    /* the corrupt setup's sweep when it differs (0 / NULL: rm_steps and the clean sweep's grid): at full scale
     * several epochs without dropout, so that members memorise corrupted labels (claims C6, C7; issue 11) */
    int corrupt_steps;
    const char *corrupt_lr, *corrupt_dropout;
    int scratch_steps;
    double scratch_lr;
    int corrupt_pairs;       /* LMC pairs of corrupt-setup members (C6, C7) */
    int lmc_grid, lmc_grid_train;
    int lmc_scratch_val;     /* the scratch pair also on val (printed beside C5's ood number; not needed) */
    int bon_prompts, bon_pool, bon_nmax;
    /* KL-regularised RL (claims C12-C16): setups with RL (1: clean, 2: clean and corrupt), steps, checkpoint and
     * evaluation every rl_save steps, prompts x responses per step, AdamW lr, beta; held-out evaluation on
     * rl_eval_prompts val prompts x rl_eval_k samples; rl_betas: the beta sweep of C14 (0: none) */
    int rl_setups, rl_steps, rl_save, rl_batch, rl_k, rl_eval_prompts, rl_eval_k;
    double rl_lr, rl_beta, rl_betas[3];
    int64_t toy_trials;
    const char *about;
} demo_scale;

static const demo_scale scales[] = {
    {.name = "tiny", .n_pretrain = 300, .n_sft = 300, .n_sft_val = 20, .n_prompts = 160, .n_val = 60, .n_ood = 120,
     .n_ood_val = 60, .layers = 2, .heads = 2, .width = 32, .pre_steps = 40, .pre_batch = 8, .pre_lr = 3e-3,
     .pre_dropout = 0.1, .sft_steps = 60, .sft_batch = 8, .sft_save_every = 20, .sft_lr = 2e-3, .baklava = {20, 40, 60},
     .draws = 4, .probe_steps = 100, .members = 3, .rm_steps = 10, .rm_batch = 8, .scratch_steps = 10,
     .scratch_lr = 1e-3, .corrupt_pairs = 1, .lmc_grid = 5, .lmc_grid_train = 3, .lmc_scratch_val = 1,
     .bon_prompts = 8, .bon_pool = 8,
     .bon_nmax = 8, .rl_setups = 2, .rl_steps = 4, .rl_save = 2, .rl_batch = 2, .rl_k = 2, .rl_eval_prompts = 4,
     .rl_eval_k = 2, .rl_lr = 1e-4, .rl_beta = 0.05, .rl_betas = {0.02, 0.05, 0.15}, .toy_trials = 2000, .about = "a smoke test of every stage (about a minute); its numbers mean nothing"},
    /* small and full: 20,000 pretraining documents and SFT pairs, 2,000 (small) or 2,400 (full) pretraining steps
     * without dropout (the SFT policy copies facts far better than after 600 steps: docs/task.md section 7),
     * pairs drawn among 4 samples (fewer gold ties), and evaluation splits of 2,000 pairs (val, ood; ood_val
     * 1,000). */
    {.name = "small", .n_pretrain = 20000, .n_sft = 20000, .n_val = 2000, .n_ood = 3000, .n_ood_val = 1000,
     .layers = 4, .heads = 4, .width = 128, .pre_steps = 2000, .pre_batch = 16, .pre_lr = 2e-3, .pre_dropout = 0,
     .sft_steps = 1200, .sft_batch = 16, .sft_save_every = 200, .sft_lr = 1e-3, .baklava = {800, 1000, 1200},
     .draws = 4, .probe_steps = 1000, .members = 6, .rm_steps = 120, .rm_batch = 16, .scratch_steps = 120,
     .scratch_lr = 1e-3, .corrupt_pairs = 1, .lmc_grid = 5, .lmc_grid_train = 3, .lmc_scratch_val = 0,
     .bon_prompts = 100, .bon_pool = 64,
     .bon_nmax = 64, .rl_setups = 1, .rl_steps = 48, .rl_save = 16, .rl_batch = 4, .rl_k = 4, .rl_eval_prompts = 100,
     .rl_eval_k = 4, .rl_lr = 1e-4, .rl_beta = 0.05, .toy_trials = 20000,
     .about = "6 members per setup, 120 steps each; LMC on 5 lambdas with 1 corrupt pair; best-of-n to 64 on 100 "
              "prompts; RL 48 steps per proxy, clean setup"},
    {.name = "full", .n_pretrain = 20000, .n_sft = 20000, .n_val = 2000, .n_ood = 3000, .n_ood_val = 1000,
     .layers = 4, .heads = 4, .width = 128, .pre_steps = 2400, .pre_batch = 16, .pre_lr = 2e-3, .pre_dropout = 0,
     .sft_steps = 1200, .sft_batch = 16, .sft_save_every = 200, .sft_lr = 1e-3, .baklava = {800, 1000, 1200},
     .draws = 4, .probe_steps = 1000, .members = 10, .rm_steps = 300, .rm_batch = 16, .scratch_steps = 300,
     .corrupt_steps = 1500, .corrupt_lr = "3e-4", .corrupt_dropout = "0",
     .scratch_lr = 1e-3, .corrupt_pairs = 3, .lmc_grid = 11, .lmc_grid_train = 11, .lmc_scratch_val = 1,
     .bon_prompts = 200,
     .bon_pool = 256, .bon_nmax = 256, .rl_setups = 2, .rl_steps = 300, .rl_save = 50, .rl_batch = 8, .rl_k = 4,
     .rl_eval_prompts = 200, .rl_eval_k = 8, .rl_lr = 1e-4, .rl_beta = 0.05, .rl_betas = {0.02, 0.05, 0.15},
     .toy_trials = 100000,
     .about = "10 members per setup ranked (M = 2, 6, 10), 300 steps each (corrupt setup: 1,500 steps at lr 3e-4, "
              "no dropout); 3 corrupt LMC pairs; best-of-n to 256; "
              "RL 300 steps per proxy, both setups, a beta sweep"},
};
#define N_SCALES ((int)(sizeof scales / sizeof scales[0]))

/* The LMC pair kinds of the clean setup, in order of growing diversity (paper Fig. 3). */
static const struct {
    const char *kind, *label;
} pair_kinds[] = {
    {"ckpt", "two checkpoints of one run"},
    {"seed", "same config, other data order"},
    {"lr", "other learning rate"},
    {"sft", "other SFT checkpoint (Baklava)"},
    {"scratch", "two RMs trained from scratch (same init)"},
};
#define N_PAIR_KINDS 5

/* ---------------------------------------------------------------------------------------------------- */
/* State                                                                                                  */

typedef struct {
    const demo_scale *sc;
    const char *dir;
    int64_t seed;
    int jobs, threads, plots;
    char exe[4096];
    cJSON *run;         /* run.json */
    char gnuplot[4096]; /* "" when missing */
    char lmc_script[4200], bon_script[4200], rl_script[4200]; /* "" when missing */
} demo_ctx;

typedef struct {
    char *v[160];
    int n;
    int overflow;
} demo_argv;

/* Appends the formatted argument (a too-long one marks the list as overflowed: run() refuses it). */
static void vpush(demo_argv *a, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void vpush(demo_argv *a, const char *fmt, va_list ap) {
    char buf[8192];
    int k = vsnprintf(buf, sizeof buf, fmt, ap);
    if (k < 0 || (size_t)k >= sizeof buf || a->n >= (int)(sizeof a->v / sizeof a->v[0]) - 1) {
        a->overflow = 1;
        return;
    }
    a->v[a->n] = strdup(buf);
    if (!a->v[a->n]) a->overflow = 1;
    else a->n++;
    a->v[a->n] = NULL;
}

static void arg(demo_argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg(demo_argv *a, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vpush(a, fmt, ap);
    va_end(ap);
}

/* An option and its formatted value: argkv(a, "--steps", "%d", 100). */
static void argkv(demo_argv *a, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void argkv(demo_argv *a, const char *key, const char *fmt, ...) {
    arg(a, "%s", key);
    va_list ap;
    va_start(ap, fmt);
    vpush(a, fmt, ap);
    va_end(ap);
}

static void argv_free(demo_argv *a) {
    for (int i = 0; i < a->n; i++) free(a->v[i]);
    a->n = 0;
}

/* dir/rel into buf. */
static const char *path(const demo_ctx *c, char *buf, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static const char *path(const demo_ctx *c, char *buf, size_t n, const char *fmt, ...) {
    char rel[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    snprintf(buf, n, "%s/%s", c->dir, rel);
    return buf;
}

static int exists(const demo_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int exists(const demo_ctx *c, const char *fmt, ...) {
    char rel[2048], p[4200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    snprintf(p, sizeof p, "%s/%s", c->dir, rel);
    return access(p, F_OK) == 0;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Child processes                                                                                        */

/* Starts `warm argv...` with OMP_NUM_THREADS = threads (0: inherited); stdout/stderr to log (NULL: inherited). */
static pid_t spawn(const demo_ctx *c, const demo_argv *a, int threads, const char *log) {
    fflush(stdout);
    fflush(stderr);
    char thr[32];
    snprintf(thr, sizeof thr, "%d", threads);
    pid_t pid = fork();
    if (pid == 0) {
        if (threads > 0) setenv("OMP_NUM_THREADS", thr, 1);
        if (log) {
            FILE *f = freopen(log, "a", stdout);
            if (!f) _exit(126);
            if (dup2(fileno(stdout), fileno(stderr)) < 0) _exit(126);
        }
        char *argv[162];
        argv[0] = (char *)"warm";
        for (int i = 0; i < a->n; i++) argv[i + 1] = a->v[i];
        argv[a->n + 1] = NULL;
        execv(c->exe, argv);
        _exit(127);
    }
    return pid;
}

static int wait_exit(pid_t pid) {
    int status = 0;
    pid_t w;
    do
        w = waitpid(pid, &status, 0);
    while (w < 0 && errno == EINTR);
    if (w != pid) return -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

static void print_cmd(const demo_argv *a) {
    printf("$ warm");
    for (int i = 0; i < a->n; i++) printf(" %s", a->v[i]);
    printf("\n");
}

/* Runs one command in the foreground (output inherited); 0 on success, else prints and returns -1. */
static int run(const demo_ctx *c, demo_argv *a) {
    if (a->overflow) {
        cli_error("demo", "internal: a command line is too long");
        argv_free(a);
        return -1;
    }
    print_cmd(a);
    pid_t pid = spawn(c, a, 0, NULL);
    int rc = pid > 0 ? wait_exit(pid) : -1;
    if (rc != 0) cli_error("demo", "`warm %s` failed (exit %d)", a->n ? a->v[0] : "?", rc);
    argv_free(a);
    return rc == 0 ? 0 : -1;
}

/* Runs n commands, c->jobs at a time, each with threads/jobs threads and its output in logs[i]. */
static int run_parallel(const demo_ctx *c, demo_argv *cmds, const char *const *names, char (*logs)[4200], int n) {
    int J = c->jobs < 1 ? 1 : c->jobs, per = c->threads / J > 0 ? c->threads / J : 1, fails = 0, next = 0, live = 0;
    pid_t pids[64] = {0};
    int who[64];
    if (J > 64) J = 64;
    double t0[64];
    while (next < n || live > 0) {
        while (live < J && next < n) {
            int slot = 0;
            while (pids[slot]) slot++;
            if (cmds[next].overflow) {
                cli_error("demo", "internal: a command line is too long");
                fails++;
                next++;
                continue;
            }
            pids[slot] = spawn(c, &cmds[next], per, logs[next]);
            if (pids[slot] <= 0) {
                cli_error("demo", "cannot start %s: %s", names[next], strerror(errno));
                pids[slot] = 0;
                fails++;
                next++;
                continue;
            }
            who[slot] = next;
            t0[slot] = warm_time_now();
            printf("   %s started (log %s)\n", names[next], logs[next]);
            fflush(stdout);
            live++;
            next++;
        }
        if (live == 0) break;
        int status = 0;
        pid_t w = wait(&status);
        if (w < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int s = 0; s < J; s++)
            if (pids[s] == w) {
                int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
                printf("   %s %s in %.1f s\n", names[who[s]], ok ? "finished" : "FAILED", warm_time_now() - t0[s]);
                if (!ok) {
                    cli_error("demo", "%s failed; see %s", names[who[s]], logs[who[s]]);
                    fails++;
                }
                pids[s] = 0;
                live--;
            }
    }
    for (int i = 0; i < n; i++) argv_free(&cmds[i]);
    return fails ? -1 : 0;
}

/* ---------------------------------------------------------------------------------------------------- */
/* run.json                                                                                               */

static void iso_now(char *buf, size_t n) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void cpu_model(char *buf, size_t n) {
    snprintf(buf, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *colon = strchr(line, ':');
            if (colon) {
                colon++;
                while (*colon == ' ') colon++;
                size_t L = strlen(colon);
                while (L && (colon[L - 1] == '\n' || colon[L - 1] == ' ')) colon[--L] = 0;
                snprintf(buf, n, "%s", colon);
            }
            break;
        }
    }
    fclose(f);
}

static int save_run(demo_ctx *c) {
    char p[4200];
    warm_error err = {0};
    if (warm_json_write(path(c, p, sizeof p, "run.json"), c->run, &err) != WARM_OK) {
        cli_fail("demo", &err);
        return -1;
    }
    return 0;
}

/* Loads DIR/run.json (checking scale and seed) or starts a new one. */
static int load_run(demo_ctx *c) {
    char p[4200];
    path(c, p, sizeof p, "run.json");
    if (access(p, F_OK) == 0) {
        size_t len = 0;
        warm_error err = {0};
        char *text = warm_read_file(p, &len, &err);
        if (!text) return cli_fail("demo", &err), -1;
        cJSON *r = cJSON_Parse(text);
        free(text);
        const cJSON *sc = r ? cJSON_GetObjectItemCaseSensitive(r, "scale") : NULL;
        const cJSON *sd = r ? cJSON_GetObjectItemCaseSensitive(r, "seed") : NULL;
        const cJSON *st = r ? cJSON_GetObjectItemCaseSensitive(r, "stages") : NULL;
        if (!r || !cJSON_IsString(sc) || !cJSON_IsNumber(sd) || !cJSON_IsArray(st)) {
            cJSON_Delete(r);
            cli_error("demo", "%s: not a warm demo run file (needs \"scale\", \"seed\", \"stages\"); use another --out",
                      p);
            return -1;
        }
        if (strcmp(sc->valuestring, c->sc->name) != 0 || (int64_t)sd->valuedouble != c->seed) {
            cli_error("demo", "%s holds a %s-scale run with seed %lld; rerun with --scale %s --seed %lld to continue "
                      "it, or choose another --out", c->dir, sc->valuestring, (long long)sd->valuedouble,
                      sc->valuestring, (long long)sd->valuedouble);
            cJSON_Delete(r);
            return -1;
        }
        c->run = r;
        cJSON_ReplaceItemInObjectCaseSensitive(r, "finished", cJSON_CreateNull());
        return 0;
    }
    cJSON *r = cJSON_CreateObject();
    char now[64], cpu[256];
    iso_now(now, sizeof now);
    cpu_model(cpu, sizeof cpu);
    struct utsname u;
    char os[512] = "unknown";
    if (uname(&u) == 0) snprintf(os, sizeof os, "%s %s %s", u.sysname, u.release, u.machine);
    cJSON_AddStringToObject(r, "format", "warm-demo-run/1");
    cJSON_AddStringToObject(r, "scale", c->sc->name);
    cJSON_AddNumberToObject(r, "seed", (double)c->seed);
    cJSON_AddStringToObject(r, "warm_version", WARM_VERSION);
    cJSON_AddStringToObject(r, "started", now);
    cJSON_AddNullToObject(r, "finished");
    cJSON *m = cJSON_AddObjectToObject(r, "machine");
    cJSON_AddStringToObject(m, "cpu", cpu);
    cJSON_AddNumberToObject(m, "cores", (double)sysconf(_SC_NPROCESSORS_ONLN));
    cJSON_AddNumberToObject(m, "threads", c->threads);
    cJSON_AddNumberToObject(m, "jobs", c->jobs);
    cJSON_AddStringToObject(m, "os", os);
    cJSON_AddArrayToObject(r, "stages");
    c->run = r;
    return save_run(c);
}

static cJSON *stage_entry(const demo_ctx *c, const char *name) {
    cJSON *st = cJSON_GetObjectItemCaseSensitive(c->run, "stages"), *e;
    cJSON_ArrayForEach(e, st) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) return e;
    }
    return NULL;
}

static int stage_done(const demo_ctx *c, const char *name) {
    const cJSON *e = stage_entry(c, name);
    const cJSON *s = e ? cJSON_GetObjectItemCaseSensitive(e, "status") : NULL;
    return cJSON_IsString(s) && strcmp(s->valuestring, "done") == 0;
}

static int record_stage(demo_ctx *c, const char *name, double seconds, const char *status) {
    cJSON *e = stage_entry(c, name);
    if (!e) {
        e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", name);
        cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(c->run, "stages"), e);
    }
    /* Seconds accumulate over interrupted attempts: the time the stage really cost. */
    const cJSON *prev = cJSON_GetObjectItemCaseSensitive(e, "seconds");
    double total = seconds + (cJSON_IsNumber(prev) ? prev->valuedouble : 0.0);
    cJSON_DeleteItemFromObjectCaseSensitive(e, "seconds");
    cJSON_DeleteItemFromObjectCaseSensitive(e, "status");
    cJSON_AddNumberToObject(e, "seconds", round(total * 10.0) / 10.0);
    cJSON_AddStringToObject(e, "status", status);
    return save_run(c);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Members and their ranking                                                                              */

typedef struct {
    int n;
    char file[16][4200]; /* in rank order (best on ood_val first) */
    int index[16];
    double ood_val[16];
} ranking;

/* Ranks the members of DIR/sweep_<setup> by accuracy on ood_val (ties: lower index first). */
static int rank_members(const demo_ctx *c, const char *setup, ranking *r) {
    char p[4200];
    path(c, p, sizeof p, "sweep_%s/manifest.json", setup);
    warm_sweep s;
    memset(&s, 0, sizeof s);
    warm_error err = {0};
    if (warm_sweep_load(&s, p, &err) != WARM_OK) return cli_fail("demo", &err), -1;
    memset(r, 0, sizeof *r);
    int order[16], k = 0;
    for (int i = 0; i < s.n && k < 16; i++) {
        if (s.members[i].status != WARM_MEMBER_DONE || !s.members[i].has_ood) {
            cli_error("demo", "%s: member %d is not trained and evaluated (status %s)", p, s.members[i].index,
                      warm_member_status_name(s.members[i].status));
            warm_sweep_free(&s);
            return -1;
        }
        order[k++] = i;
    }
    for (int i = 1; i < k; i++)
        for (int j = i; j > 0 && s.members[order[j]].ood.acc_ge > s.members[order[j - 1]].ood.acc_ge; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (int i = 0; i < k; i++) {
        const warm_sweep_member *m = &s.members[order[i]];
        snprintf(r->file[i], sizeof r->file[i], "%s/sweep_%s/member-%02d/final.safetensors", c->dir, setup, m->index);
        r->index[i] = m->index;
        r->ood_val[i] = m->ood.acc_ge;
    }
    r->n = k;
    warm_sweep_free(&s);
    return 0;
}

/* The largest WARM the paper compares (M = 6), or all members when there are fewer. */
static int big_m(const ranking *r) { return r->n < 6 ? r->n : 6; }

static const char *const setups[2] = {"clean", "corrupt"};

/* ---------------------------------------------------------------------------------------------------- */
/* Stages                                                                                                 */

static void sft_ckpt(const demo_ctx *c, int step, char *buf, size_t n) {
    if (step >= c->sc->sft_steps) path(c, buf, n, "sft/final.safetensors");
    else path(c, buf, n, "sft/step-%07d.safetensors", step);
}

static int st_task(demo_ctx *c) {
    if (exists(c, "task/tokenizer.json") && exists(c, "task/task.json")) {
        printf("   task exists\n");
        return 0;
    }
    const demo_scale *s = c->sc;
    demo_argv a = {0};
    char p[4200];
    arg(&a, "task");
    arg(&a, "generate");
    argkv(&a, "--seed", "%lld", (long long)c->seed);
    argkv(&a, "--out", "%s", path(c, p, sizeof p, "task"));
    const struct {
        const char *opt;
        int v;
    } sizes[] = {{"--n-pretrain", s->n_pretrain}, {"--n-sft", s->n_sft}, {"--n-sft-val", s->n_sft_val},
                 {"--n-prompts", s->n_prompts},   {"--n-val", s->n_val}, {"--n-ood", s->n_ood}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i].v > 0) {
            arg(&a, "%s", sizes[i].opt);
            arg(&a, "%d", sizes[i].v);
        }
    return run(c, &a);
}

/* `warm pretrain|sft --data DATA --val task/sft_val.jsonl --tokenizer task/tokenizer.json`. */
static void lm_data(const demo_ctx *c, demo_argv *a, const char *cmd, const char *data) {
    char p[4200];
    arg(a, "%s", cmd);
    argkv(a, "--data", "%s", path(c, p, sizeof p, "%s", data));
    argkv(a, "--val", "%s", path(c, p, sizeof p, "task/sft_val.jsonl"));
    argkv(a, "--tokenizer", "%s", path(c, p, sizeof p, "task/tokenizer.json"));
}

static int st_pretrain(demo_ctx *c) {
    const demo_scale *s = c->sc;
    demo_argv a = {0};
    char p[4200];
    lm_data(c, &a, "pretrain", "task/pretrain.jsonl");
    argkv(&a, "--layers", "%d", s->layers);
    argkv(&a, "--heads", "%d", s->heads);
    argkv(&a, "--width", "%d", s->width);
    argkv(&a, "--context", "128");
    argkv(&a, "--steps", "%d", s->pre_steps);
    argkv(&a, "--batch", "%d", s->pre_batch);
    argkv(&a, "--lr", "%g", s->pre_lr);
    argkv(&a, "--dropout", "%g", s->pre_dropout);
    argkv(&a, "--warmup", "%d", s->pre_steps / 12);
    argkv(&a, "--eval-every", "%d", s->pre_steps / 3);
    argkv(&a, "--eval-batches", "8");
    argkv(&a, "--seed", "%lld", (long long)c->seed);
    argkv(&a, "-o", "%s", path(c, p, sizeof p, "pretrain"));
    return run(c, &a);
}

static int st_sft(demo_ctx *c) {
    const demo_scale *s = c->sc;
    demo_argv a = {0};
    char p[4200];
    lm_data(c, &a, "sft", "task/sft_train.jsonl");
    argkv(&a, "--init", "%s", path(c, p, sizeof p, "pretrain/final.safetensors"));
    argkv(&a, "--steps", "%d", s->sft_steps);
    argkv(&a, "--batch", "%d", s->sft_batch);
    argkv(&a, "--lr", "%g", s->sft_lr);
    argkv(&a, "--warmup", "%d", s->sft_steps / 40 > 1 ? s->sft_steps / 40 : 1);
    argkv(&a, "--save-every", "%d", s->sft_save_every);
    argkv(&a, "--eval-every", "%d", s->sft_save_every);
    argkv(&a, "--seed", "%lld", (long long)c->seed);
    argkv(&a, "-o", "%s", path(c, p, sizeof p, "sft"));
    return run(c, &a);
}

static int st_prefs(demo_ctx *c) {
    const demo_scale *s = c->sc;
    char fin[4200], early[4200], pre[4200], p[4200];
    sft_ckpt(c, s->sft_save_every * 2 < s->sft_steps ? s->sft_save_every * 2 : s->sft_save_every, early,
             sizeof early);
    path(c, fin, sizeof fin, "sft/final.safetensors");
    path(c, pre, sizeof pre, "pretrain/final.safetensors");
    /* One pass writes both setups: the corrupt file and its clean twin (the same pairs without the swaps). */
    if (exists(c, "prefs_clean.jsonl") && exists(c, "prefs_corrupt.jsonl")) {
        printf("   prefs_clean.jsonl and prefs_corrupt.jsonl exist\n");
        return 0;
    }
    demo_argv a = {0};
    arg(&a, "task");
    arg(&a, "prefs");
    argkv(&a, "--task", "%s", path(c, p, sizeof p, "task"));
    argkv(&a, "--policy", "sft=%s", fin);
    argkv(&a, "--ood", "sft-hot=%s@1.5,sft-early=%s@1,pretrained=%s@1", fin, early, pre);
    argkv(&a, "--tau", "0.25");
    argkv(&a, "--draws", "%d", s->draws);
    argkv(&a, "--corrupt", "0.25");
    argkv(&a, "--ood-val", "%d", s->n_ood_val);
    argkv(&a, "--seed", "%lld", (long long)c->seed);
    argkv(&a, "--clean-out", "%s", path(c, p, sizeof p, "prefs_clean.jsonl"));
    argkv(&a, "-o", "%s", path(c, p, sizeof p, "prefs_corrupt.jsonl"));
    return run(c, &a);
}

static int st_stats(demo_ctx *c) {
    demo_argv a = {0};
    char p[4200];
    arg(&a, "task");
    arg(&a, "stats");
    argkv(&a, "--task", "%s", path(c, p, sizeof p, "task"));
    argkv(&a, "--prefs", "%s", path(c, p, sizeof p, "prefs_corrupt.jsonl"));
    argkv(&a, "--json", "%s", path(c, p, sizeof p, "task_stats.json"));
    return run(c, &a);
}

static int st_probe(demo_ctx *c) {
    char p[4200];
    for (int k = 0; k < 2; k++) {
        if (exists(c, "head_%s.safetensors", setups[k])) {
            printf("   head_%s.safetensors exists\n", setups[k]);
            continue;
        }
        demo_argv a = {0};
        arg(&a, "probe");
        argkv(&a, "--init", "%s", path(c, p, sizeof p, "sft/final.safetensors"));
        argkv(&a, "--data", "%s", path(c, p, sizeof p, "prefs_%s.jsonl", setups[k]));
        argkv(&a, "--subset", "train");
        argkv(&a, "--val", "%s", path(c, p, sizeof p, "prefs_%s.jsonl", setups[k]));
        argkv(&a, "--val-subset", "val");
        argkv(&a, "--steps", "%d", c->sc->probe_steps);
        argkv(&a, "-o", "%s", path(c, p, sizeof p, "head_%s.safetensors", setups[k]));
        if (run(c, &a)) return -1;
    }
    return 0;
}

static int sweep(demo_ctx *c, int k) {
    const demo_scale *s = c->sc;
    char p[4200], i0[4200], i1[4200], i2[4200];
    sft_ckpt(c, s->baklava[0], i0, sizeof i0);
    sft_ckpt(c, s->baklava[1], i1, sizeof i1);
    sft_ckpt(c, s->baklava[2], i2, sizeof i2);
    demo_argv a = {0};
    arg(&a, "sweep");
    argkv(&a, "--members", "%d", s->members);
    argkv(&a, "--init", "%s,%s,%s", i0, i1, i2);
    argkv(&a, "--head", "%s", path(c, p, sizeof p, "head_%s.safetensors", setups[k]));
    argkv(&a, "--data", "%s", path(c, p, sizeof p, "prefs_%s.jsonl", setups[k]));
    argkv(&a, "--subset", "train");
    argkv(&a, "--val", "%s", p);
    argkv(&a, "--val-subset", "val");
    argkv(&a, "--ood", "%s", p);
    argkv(&a, "--ood-subset", "ood_val");
    int corrupt = k == 1;
    argkv(&a, "--lr", "%s", corrupt && s->corrupt_lr ? s->corrupt_lr : "1e-4,3e-4");
    argkv(&a, "--dropout", "%s", corrupt && s->corrupt_dropout ? s->corrupt_dropout : "0.05,0.1");
    argkv(&a, "--draw-seed", "%lld", (long long)c->seed);
    argkv(&a, "--steps", "%d", corrupt && s->corrupt_steps > 0 ? s->corrupt_steps : s->rm_steps);
    argkv(&a, "--batch", "%d", s->rm_batch);
    argkv(&a, "--eval-every", "0");
    argkv(&a, "--jobs", "%d", c->jobs);
    argkv(&a, "-o", "%s", path(c, p, sizeof p, "sweep_%s", setups[k]));
    return run(c, &a);
}

static int st_sweep_clean(demo_ctx *c) { return sweep(c, 0); }
static int st_sweep_corrupt(demo_ctx *c) { return sweep(c, 1); }

/* One train-rm command of the pairs stage. */
static void pair_run(const demo_ctx *c, demo_argv *a, const char *name, const char *init, int with_head, double lr,
                     int64_t seed, int steps, int save_every) {
    char p[4200];
    arg(a, "train-rm");
    argkv(a, "--init", "%s", init);
    if (with_head) {
        argkv(a, "--head", "%s", path(c, p, sizeof p, "head_clean.safetensors"));
    }
    argkv(a, "--data", "%s", path(c, p, sizeof p, "prefs_clean.jsonl"));
    argkv(a, "--subset", "train");
    argkv(a, "--val", "%s", p);
    argkv(a, "--val-subset", "val");
    argkv(a, "--lr", "%g", lr);
    argkv(a, "--dropout", "0.1");
    argkv(a, "--seed", "%lld", (long long)seed);
    argkv(a, "--steps", "%d", steps);
    argkv(a, "--batch", "%d", c->sc->rm_batch);
    if (save_every > 0) {
        argkv(a, "--save-every", "%d", save_every);
    }
    argkv(a, "-o", "%s", path(c, p, sizeof p, "pairs/%s", name));
}

static int st_pairs(demo_ctx *c) {
    const demo_scale *s = c->sc;
    char p[4200], fin[4200], early[4200], init[4200];
    path(c, p, sizeof p, "pairs");
    warm_error err = {0};
    if (warm_mkdir_p(p, &err) != WARM_OK) return cli_fail("demo", &err), -1;
    path(c, fin, sizeof fin, "sft/final.safetensors");
    sft_ckpt(c, s->baklava[0], early, sizeof early);
    path(c, init, sizeof init, "pairs/scratch_init.safetensors");
    if (access(init, F_OK) != 0) {
        /* A fresh GPT-2 initialisation of the SFT model's exact config: the from-scratch members' shared init. */
        warm_model m;
        memset(&m, 0, sizeof m);
        warm_status st = warm_model_load(&m, fin, 1, &err);
        if (!st) {
            warm_model_init_weights(&m, (uint64_t)c->seed + 1000);
            const char *key[1] = {"warm.origin"}, *val[1] = {"warm demo: GPT-2 initialisation, no pretraining"};
            st = warm_model_save(&m, init, WARM_DTYPE_F32, key, val, 1, &err);
        }
        warm_model_free(&m);
        if (st) return cli_fail("demo", &err), -1;
        printf("   wrote %s (fresh init, seed %lld)\n", init, (long long)c->seed + 1000);
    }
    static const char *const names[6] = {"base", "seed", "lr", "sft", "scratch_a", "scratch_b"};
    demo_argv cmds[6];
    memset(cmds, 0, sizeof cmds);
    /* Seeds apart from the sweeps' (member i has seed i + 1), so that no pair run repeats a member bit for bit. */
    int64_t sd = c->seed + 100;
    pair_run(c, &cmds[0], "base", fin, 1, 1e-4, sd, s->rm_steps, s->rm_steps / 2);
    pair_run(c, &cmds[1], "seed", fin, 1, 1e-4, sd + 1, s->rm_steps, 0);
    pair_run(c, &cmds[2], "lr", fin, 1, 3e-4, sd, s->rm_steps, 0);
    pair_run(c, &cmds[3], "sft", early, 1, 1e-4, sd, s->rm_steps, 0);
    pair_run(c, &cmds[4], "scratch_a", init, 0, s->scratch_lr, sd, s->scratch_steps, 0);
    pair_run(c, &cmds[5], "scratch_b", init, 0, s->scratch_lr, sd + 1, s->scratch_steps, 0);
    char logs[6][4200];
    for (int i = 0; i < 6; i++) path(c, logs[i], sizeof logs[i], "pairs/%s.log", names[i]);
    return run_parallel(c, cmds, names, logs, 6);
}

/* warm merge IN... -o OUT (skipped when OUT exists). */
static int merge(demo_ctx *c, char (*in)[4200], int n, const char *out) {
    if (access(out, F_OK) == 0) return 0;
    demo_argv a = {0};
    arg(&a, "merge");
    for (int i = 0; i < n; i++) arg(&a, "%s", in[i]);
    argkv(&a, "-q", "-o");
    arg(&a, "%s", out);
    return run(c, &a);
}

static int st_merge(demo_ctx *c) {
    char p[4200];
    warm_error err = {0};
    for (int k = 0; k < 2; k++) {
        ranking r;
        if (rank_members(c, setups[k], &r)) return -1;
        if (warm_mkdir_p(path(c, p, sizeof p, "merges/%s", setups[k]), &err) != WARM_OK)
            return cli_fail("demo", &err), -1;
        printf("   %s: ranking on ood_val:", setups[k]);
        for (int i = 0; i < r.n; i++) printf(" member-%02d (%.3f)", r.index[i], r.ood_val[i]);
        printf("\n");
        char in[16][4200];
        for (int M = 1; M <= r.n; M++) {
            for (int i = 0; i < M; i++) snprintf(in[i], sizeof in[i], "%s", r.file[i]);
            if (merge(c, in, M, path(c, p, sizeof p, "merges/%s/bw%d.safetensors", setups[k], M))) return -1;
            for (int i = 0; i < M; i++) snprintf(in[i], sizeof in[i], "%s", r.file[r.n - 1 - i]);
            if (merge(c, in, M, path(c, p, sizeof p, "merges/%s/wb%d.safetensors", setups[k], M))) return -1;
        }
    }
    char in[2][4200];
    path(c, in[0], sizeof in[0], "pairs/base/final.safetensors");
    path(c, in[1], sizeof in[1], "pairs/sft/final.safetensors");
    return merge(c, in, 2, path(c, p, sizeof p, "merges/baklava.safetensors"));
}

static int st_eval(demo_ctx *c) {
    char p[4200];
    warm_error err = {0};
    if (warm_mkdir_p(path(c, p, sizeof p, "eval"), &err) != WARM_OK) return cli_fail("demo", &err), -1;
    for (int k = 0; k < 2; k++) {
        ranking r;
        if (rank_members(c, setups[k], &r)) return -1;
        demo_argv a = {0};
        arg(&a, "eval");
        for (int i = 0; i < r.n; i++) arg(&a, "%s", r.file[i]);
        argkv(&a, "--data", "%s", path(c, p, sizeof p, "prefs_%s.jsonl", setups[k]));
        /* ood_val accuracies come from the sweep's manifest (the ranking); the report does not need them twice. */
        argkv(&a, "--subset", "split=val|ood");
        argkv(&a, "--ens", "mean");
        argkv(&a, "--json", "%s", path(c, p, sizeof p, "eval/%s_members.json", setups[k]));
        if (run(c, &a)) return -1;
        a = (demo_argv){0};
        arg(&a, "eval");
        /* Not the merges that repeat a model evaluated already: bw1 = the rank-1 member, wb1 = the last member,
         * wbN = bwN (the average of all); warm report reads those from the members' file (rp_topm_acc). */
        for (int i = 2; i <= r.n; i++) arg(&a, "%s", path(c, p, sizeof p, "merges/%s/bw%d.safetensors", setups[k], i));
        for (int i = 2; i < r.n; i++) arg(&a, "%s", path(c, p, sizeof p, "merges/%s/wb%d.safetensors", setups[k], i));
        argkv(&a, "--data", "%s", path(c, p, sizeof p, "prefs_%s.jsonl", setups[k]));
        argkv(&a, "--subset", "split=val|ood");
        argkv(&a, "--json", "%s", path(c, p, sizeof p, "eval/%s_topm.json", setups[k]));
        if (run(c, &a)) return -1;
    }
    return 0;
}

static int lmc(demo_ctx *c, const char *a_path, const char *b_path, const char *setup, const char *subset, int grid,
               const char *name) {
    char p[4200];
    if (exists(c, "lmc/%s.json", name)) {
        printf("   lmc/%s.json exists\n", name);
        return 0;
    }
    demo_argv a = {0};
    arg(&a, "lmc");
    argkv(&a, "--a", "%s", a_path);
    argkv(&a, "--b", "%s", b_path);
    argkv(&a, "--data", "%s", path(c, p, sizeof p, "prefs_%s.jsonl", setup));
    argkv(&a, "--subset", "%s", subset);
    argkv(&a, "--grid", "%d", grid);
    arg(&a, "-q");
    if (c->plots && c->lmc_script[0]) {
        argkv(&a, "--plot", "%s", path(c, p, sizeof p, "lmc/%s", name));
        argkv(&a, "--plot-script", "%s", c->lmc_script);
    }
    argkv(&a, "-o", "%s", path(c, p, sizeof p, "lmc/%s.csv", name));
    argkv(&a, "--json", "%s", path(c, p, sizeof p, "lmc/%s.json", name));
    return run(c, &a);
}

static int st_lmc(demo_ctx *c) {
    char p[4200], a[4200], b[4200];
    warm_error err = {0};
    if (warm_mkdir_p(path(c, p, sizeof p, "lmc"), &err) != WARM_OK) return cli_fail("demo", &err), -1;
    const demo_scale *s = c->sc;
    path(c, a, sizeof a, "pairs/base/final.safetensors");
    static const char *const other[N_PAIR_KINDS] = {NULL, "seed", "lr", "sft", NULL};
    for (int i = 0; i < N_PAIR_KINDS; i++) {
        const char *kind = pair_kinds[i].kind;
        const char *pa = a;
        char sa[4200];
        if (i == 0) {
            path(c, b, sizeof b, "pairs/base/step-%07d.safetensors", s->rm_steps / 2);
        } else if (other[i]) {
            path(c, b, sizeof b, "pairs/%s/final.safetensors", other[i]);
        } else {
            path(c, sa, sizeof sa, "pairs/scratch_a/final.safetensors");
            path(c, b, sizeof b, "pairs/scratch_b/final.safetensors");
            pa = sa;
        }
        /* ckpt: lambda = 0 is the mid checkpoint, 1 the final weights of the same run. The report reads the
         * clean pairs on OOD (C1-C4) and the scratch pair on ood (C5), and on val too except at small scale (its
         * val number is printed beside C5's, not needed; small scale saves the time). */
        const char *sub = other[i] || i == 0 || !s->lmc_scratch_val ? "split=ood" : "split=val|ood";
        if (i == 0 ? lmc(c, b, pa, "clean", sub, s->lmc_grid, kind) : lmc(c, pa, b, "clean", sub, s->lmc_grid, kind))
            return -1;
    }
    ranking r;
    if (rank_members(c, "corrupt", &r)) return -1;
    for (int q = 0; q < s->corrupt_pairs && 2 * q + 1 < r.n; q++) {
        char name[32];
        snprintf(name, sizeof name, "corrupt-%d", q + 1);
        if (lmc(c, r.file[2 * q], r.file[2 * q + 1], "corrupt", "split=train|val|ood", s->lmc_grid_train, name))
            return -1;
    }
    return 0;
}

static void plot_bon(const demo_ctx *c, const char *dir) {
    if (!c->plots || !c->bon_script[0]) return;
    char csv[4300], base[4300];
    snprintf(csv, sizeof csv, "%s/bon.csv", dir);
    snprintf(base, sizeof base, "%s/bon", dir);
    const char *args[3] = {csv, base, "best"};
    if (cli_run_gnuplot(c->gnuplot, c->bon_script, args, 3) == 0) printf("   wrote %s.svg, %s.png\n", base, base);
    else printf("   note: gnuplot failed on %s; bon.csv has the numbers\n", csv);
}

static int st_bon(demo_ctx *c) {
    const demo_scale *s = c->sc;
    char p[4200], dir[4200];
    for (int k = 0; k < 2; k++) {
        ranking r;
        if (rank_members(c, setups[k], &r)) return -1;
        path(c, dir, sizeof dir, "bon_%s", setups[k]);
        if (exists(c, "bon_%s/bon.json", setups[k])) {
            printf("   bon_%s/bon.json exists\n", setups[k]);
            continue;
        }
        int B = big_m(&r);
        demo_argv a = {0};
        arg(&a, "bon");
        argkv(&a, "--task", "%s", path(c, p, sizeof p, "task"));
        argkv(&a, "--policy", "%s", path(c, p, sizeof p, "sft/final.safetensors"));
        argkv(&a, "--prompts", "%s", path(c, p, sizeof p, "task/prompts_val.jsonl"));
        argkv(&a, "--limit", "%d", s->bon_prompts);
        argkv(&a, "--pool", "%d", s->bon_pool);
        argkv(&a, "--n-max", "%d", s->bon_nmax);
        argkv(&a, "--seed", "%lld", (long long)c->seed);
        argkv(&a, "--selector", "warm%d=%s", B, path(c, p, sizeof p, "merges/%s/bw%d.safetensors", setups[k], B));
        argkv(&a, "--selector", "warm2=%s", path(c, p, sizeof p, "merges/%s/bw2.safetensors", setups[k]));
        if (r.n > B) /* the full scale's M = 10: every member */
            argkv(&a, "--selector", "warm%d=%s", r.n, path(c, p, sizeof p, "merges/%s/bw%d.safetensors", setups[k], r.n));
        argkv(&a, "--selector", "ens2=%s,%s:ens=mean", r.file[0], r.file[1]);
        argkv(&a, "--selector", "best=%s", r.file[0]);
        if (k == 0) {
            char ba[4200], bb[4200];
            path(c, ba, sizeof ba, "pairs/base/final.safetensors");
            path(c, bb, sizeof bb, "pairs/sft/final.safetensors");
            argkv(&a, "--selector", "bak_warm=%s", path(c, p, sizeof p, "merges/baklava.safetensors"));
            argkv(&a, "--selector", "bak_ens=%s,%s:ens=mean", ba, bb);
            argkv(&a, "--selector", "bak_a=%s", ba);
            argkv(&a, "--selector", "bak_b=%s", bb);
        }
        argkv(&a, "--ref", "warm%d", B);
        argkv(&a, "-q", "-o");
        arg(&a, "%s", dir);
        if (run(c, &a)) return -1;
        plot_bon(c, dir);
    }
    return 0;
}

/* ---- rl: KL-regularised RL against each proxy (claims C12-C16, docs/rl.md) ---- */

/* The RL runs of one setup: name (the run's directory under rl_<setup>/), the proxy (a --rm list), beta. */
typedef struct {
    int n, n_main; /* runs [0, n_main) use the scale's beta; the rest are the beta sweep of C14 */
    char name[16][32];
    char rm[16][8600];
    double beta[16];
} rl_plan;

static void rl_add(rl_plan *q, const char *name, const char *rm, double beta) {
    snprintf(q->name[q->n], sizeof q->name[0], "%s", name);
    snprintf(q->rm[q->n], sizeof q->rm[0], "%s", rm);
    q->beta[q->n++] = beta;
}

/* WARM M=big first (the reference of the win rates), WARM M=2, ENS M=2, the best member, WARM M=all when the
 * scale has more members than big (C16); then, clean setup only, WARM M=big and the best member at the other
 * betas of the sweep (C14). */
static void rl_runs(const demo_ctx *c, int k, const ranking *r, rl_plan *q) {
    const demo_scale *s = c->sc;
    char p[4200], name[32], rm[8600];
    int B = big_m(r);
    memset(q, 0, sizeof *q);
    snprintf(name, sizeof name, "warm%d", B);
    rl_add(q, name, path(c, p, sizeof p, "merges/%s/bw%d.safetensors", setups[k], B), s->rl_beta);
    rl_add(q, "warm2", path(c, p, sizeof p, "merges/%s/bw2.safetensors", setups[k]), s->rl_beta);
    snprintf(rm, sizeof rm, "%s,%s:ens=mean", r->file[0], r->file[1]);
    rl_add(q, "ens2", rm, s->rl_beta);
    rl_add(q, "best", r->file[0], s->rl_beta);
    if (r->n > B) {
        snprintf(name, sizeof name, "warm%d", r->n);
        rl_add(q, name, path(c, p, sizeof p, "merges/%s/bw%d.safetensors", setups[k], r->n), s->rl_beta);
    }
    q->n_main = q->n;
    for (int j = 0; k == 0 && j < 3; j++) {
        if (s->rl_betas[j] <= 0 || s->rl_betas[j] == s->rl_beta) continue;
        snprintf(name, sizeof name, "warm%d-b%g", B, s->rl_betas[j]);
        rl_add(q, name, path(c, p, sizeof p, "merges/%s/bw%d.safetensors", setups[k], B), s->rl_betas[j]);
        snprintf(name, sizeof name, "best-b%g", s->rl_betas[j]);
        rl_add(q, name, r->file[0], s->rl_betas[j]);
    }
}

/* The evaluation steps: rl_save, 2 rl_save, ..., rl_steps. */
static int rl_n_evals(const demo_scale *s) { return s->rl_steps / s->rl_save; }

/* One row per (run, evaluated step) of the setup's eval files, for the figures: run,step,kl,gold,gold_se,
 * winrate_vs_ref (the run's policy against WARM M=big at the same step, by gold; 0.5 for WARM itself), with the
 * SFT policy as step 0 of every run; each run's rows contiguous (gnuplot draws a line per run). */
static int rl_curves(const demo_ctx *c, int k, const rl_plan *q) {
    const demo_scale *s = c->sc;
    char p[4200];
    int E = rl_n_evals(s), R = q->n;
    double *v = calloc((size_t)(E + 1) * (R + 1) * 4, sizeof *v); /* [e][i][kl, gold, gold_se, winrate_vs_first] */
    size_t cap = 128 + (size_t)R * (E + 1) * 160, len = 0;
    char *csv = malloc(cap);
    if (!v || !csv) {
        free(v);
        free(csv);
        return cli_error("demo", "out of memory"), -1;
    }
    warm_error err = {0};
    int fail = 0;
    for (int e = 1; e <= E && !fail; e++) {
        path(c, p, sizeof p, "rl_%s/eval-%06d.json", setups[k], e * s->rl_save);
        size_t tlen = 0;
        char *text = warm_read_file(p, &tlen, &err);
        if (!text) {
            fail = 1;
            break;
        }
        cJSON *j = cJSON_Parse(text);
        free(text);
        const cJSON *pol = cJSON_GetObjectItemCaseSensitive(j, "policies");
        if (!cJSON_IsArray(pol) || cJSON_GetArraySize(pol) != R + 1) {
            cli_error("demo", "%s: expected %d policies", p, R + 1);
            fail = 1;
        }
        for (int i = 0; !fail && i <= R; i++) {
            static const char *const key[4] = {"kl", "gold", "gold_se", "winrate_vs_first"};
            for (int t = 0; t < 4; t++) {
                const cJSON *x = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(pol, i), key[t]);
                v[((size_t)e * (R + 1) + i) * 4 + t] = cJSON_IsNumber(x) ? x->valuedouble : (double)NAN;
            }
        }
        cJSON_Delete(j);
    }
    len += (size_t)snprintf(csv + len, cap - len, "run,step,kl,gold,gold_se,winrate_vs_ref\n");
    for (int i = 0; !fail && i < R; i++) {
        const double *sft = &v[((size_t)1 * (R + 1) + 0) * 4]; /* row 0 of the first file: the SFT policy */
        len += (size_t)snprintf(csv + len, cap - len, "%s,0,0,%.6f,%.6f,0.5\n", q->name[i], sft[1], sft[2]);
        for (int e = 1; e <= E; e++) {
            const double *x = &v[((size_t)e * (R + 1) + i + 1) * 4];
            len += (size_t)snprintf(csv + len, cap - len, "%s,%d,%.6f,%.6f,%.6f,%.6f\n", q->name[i], e * s->rl_save,
                                    x[0], x[1], x[2], x[3]);
        }
    }
    if (!fail && len >= cap) fail = (cli_error("demo", "internal: RL curves table too long"), 1);
    if (!fail && warm_text_write(path(c, p, sizeof p, "rl_%s/curves.csv", setups[k]), csv, &err) != WARM_OK) fail = 1;
    if (fail && err.code) cli_fail("demo", &err);
    free(csv);
    free(v);
    if (fail) return -1;
    printf("   wrote %s\n", p);
    if (c->plots && c->rl_script[0]) {
        char base[4200];
        path(c, base, sizeof base, "rl_%s/rl", setups[k]);
        const char *args[2] = {p, base};
        if (cli_run_gnuplot(c->gnuplot, c->rl_script, args, 2) == 0) printf("   wrote %s.svg, %s.png\n", base, base);
        else printf("   note: gnuplot failed on %s; curves.csv has the numbers\n", p);
    }
    return 0;
}

static int st_rl(demo_ctx *c) {
    const demo_scale *s = c->sc;
    char p[4200];
    warm_error err = {0};
    for (int k = 0; k < s->rl_setups && k < 2; k++) {
        ranking r;
        if (rank_members(c, setups[k], &r)) return -1;
        rl_plan q;
        rl_runs(c, k, &r, &q);
        if (warm_mkdir_p(path(c, p, sizeof p, "rl_%s", setups[k]), &err) != WARM_OK) return cli_fail("demo", &err), -1;
        /* The runs, --jobs at a time; a finished run (final.safetensors) is skipped, a half-done one resumes. */
        demo_argv cmds[16];
        const char *names[16];
        char logs[16][4200];
        int n = 0;
        memset(cmds, 0, sizeof cmds);
        for (int i = 0; i < q.n; i++) {
            if (exists(c, "rl_%s/%s/final.safetensors", setups[k], q.name[i])) {
                printf("   rl_%s/%s exists\n", setups[k], q.name[i]);
                continue;
            }
            demo_argv *a = &cmds[n];
            arg(a, "rl");
            argkv(a, "--task", "%s", path(c, p, sizeof p, "task"));
            argkv(a, "--policy", "%s", path(c, p, sizeof p, "sft/final.safetensors"));
            argkv(a, "--rm", "%s", q.rm[i]);
            argkv(a, "--prompts", "%s", path(c, p, sizeof p, "task/prompts_train.jsonl"));
            argkv(a, "--kl", "%g", q.beta[i]);
            argkv(a, "--lr", "%g", s->rl_lr);
            argkv(a, "--steps", "%d", s->rl_steps);
            argkv(a, "--batch", "%d", s->rl_batch);
            argkv(a, "--k", "%d", s->rl_k);
            argkv(a, "--save-every", "%d", s->rl_save);
            argkv(a, "--seed", "%lld", (long long)c->seed);
            arg(a, "-q");
            argkv(a, "-o", "%s", path(c, p, sizeof p, "rl_%s/%s", setups[k], q.name[i]));
            print_cmd(a);
            names[n] = q.name[i];
            path(c, logs[n], sizeof logs[n], "rl_%s/%s.log", setups[k], q.name[i]);
            n++;
        }
        if (n && run_parallel(c, cmds, names, logs, n)) return -1;
        /* Held-out evaluation at every checkpoint step: every run's policy at that step, WARM M=big first, so
         * that winrate_vs_first is the head-to-head against WARM at equal steps (paper Fig. 9). */
        n = 0;
        memset(cmds, 0, sizeof cmds);
        char enames[16][32];
        int E = rl_n_evals(s);
        for (int e = 1; e <= E && e <= 16; e++) {
            int step = e * s->rl_save;
            if (exists(c, "rl_%s/eval-%06d.json", setups[k], step)) continue;
            demo_argv *a = &cmds[n];
            arg(a, "rl-eval");
            argkv(a, "--task", "%s", path(c, p, sizeof p, "task"));
            argkv(a, "--sft", "%s", path(c, p, sizeof p, "sft/final.safetensors"));
            argkv(a, "--rm", "%s", q.rm[0]);
            argkv(a, "--prompts", "%s", path(c, p, sizeof p, "task/prompts_val.jsonl"));
            argkv(a, "--limit", "%d", s->rl_eval_prompts);
            argkv(a, "--k", "%d", s->rl_eval_k);
            argkv(a, "--seed", "%lld", (long long)c->seed);
            argkv(a, "--json", "%s", path(c, p, sizeof p, "rl_%s/eval-%06d.json", setups[k], step));
            argkv(a, "-o", "%s", path(c, p, sizeof p, "rl_%s/eval-%06d.csv", setups[k], step));
            for (int i = 0; i < q.n; i++)
                arg(a, "%s", path(c, p, sizeof p, "rl_%s/%s/step-%06d.safetensors", setups[k], q.name[i], step));
            print_cmd(a);
            snprintf(enames[n], sizeof enames[n], "eval-%06d", step);
            names[n] = enames[n];
            path(c, logs[n], sizeof logs[n], "rl_%s/eval-%06d.log", setups[k], step);
            n++;
        }
        if (n && run_parallel(c, cmds, names, logs, n)) return -1;
        if (rl_curves(c, k, &q)) return -1;
    }
    return 0;
}

static int st_toy(demo_ctx *c) {
    char p[4200];
    demo_argv a = {0};
    arg(&a, "toy");
    argkv(&a, "--trials", "%lld", (long long)c->sc->toy_trials);
    argkv(&a, "--seed", "%lld", (long long)c->seed);
    argkv(&a, "--json", "%s", path(c, p, sizeof p, "toy.json"));
    return run(c, &a);
}

/* ---- plan.json: what the report reads (paths relative to the run directory) ---- */

static cJSON *member_json(const demo_ctx *c, const char *setup, const ranking *r, int i) {
    char p[4200];
    path(c, p, sizeof p, "sweep_%s/manifest.json", setup);
    warm_sweep s;
    memset(&s, 0, sizeof s);
    warm_error err = {0};
    cJSON *o = cJSON_CreateObject();
    char name[32], file[128];
    snprintf(name, sizeof name, "member-%02d", r->index[i]);
    snprintf(file, sizeof file, "sweep_%s/%s/final.safetensors", setup, name);
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "path", file);
    cJSON_AddNumberToObject(o, "rank", i + 1);
    if (warm_sweep_load(&s, p, &err) == WARM_OK) {
        for (int j = 0; j < s.n; j++) {
            const warm_sweep_member *m = &s.members[j];
            if (m->index != r->index[i]) continue;
            const char *init = m->init ? m->init : "";
            size_t L = strlen(c->dir);
            if (strncmp(init, c->dir, L) == 0 && init[L] == '/') init += L + 1;
            cJSON_AddStringToObject(o, "init", init);
            cJSON_AddNumberToObject(o, "lr", m->lr);
            cJSON_AddNumberToObject(o, "dropout", m->dropout);
            cJSON_AddNumberToObject(o, "seed", (double)m->seed);
            if (m->has_val) cJSON_AddNumberToObject(o, "val_acc", m->val.acc_ge);
            if (m->has_ood) cJSON_AddNumberToObject(o, "ood_val_acc", m->ood.acc_ge);
        }
        warm_sweep_free(&s);
    }
    return o;
}

static int write_plan(demo_ctx *c) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", "warm-demo-plan/1");
    cJSON_AddStringToObject(root, "scale", c->sc->name);
    cJSON_AddNumberToObject(root, "seed", (double)c->seed);
    cJSON_AddStringToObject(root, "selection", "members ranked by accuracy on ood_val, held out from the ood pairs");
    cJSON *sa = cJSON_AddArrayToObject(root, "setups");
    for (int k = 0; k < 2; k++) {
        ranking r;
        if (rank_members(c, setups[k], &r)) {
            cJSON_Delete(root);
            return -1;
        }
        char buf[256];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", setups[k]);
        cJSON_AddNumberToObject(o, "corrupt", k ? 0.25 : 0.0);
        snprintf(buf, sizeof buf, "prefs_%s.jsonl", setups[k]);
        cJSON_AddStringToObject(o, "prefs", buf);
        cJSON *ms = cJSON_AddArrayToObject(o, "members");
        for (int i = 0; i < r.n; i++) cJSON_AddItemToArray(ms, member_json(c, setups[k], &r, i));
        snprintf(buf, sizeof buf, "eval/%s_members.json", setups[k]);
        cJSON_AddStringToObject(o, "eval_members", buf);
        snprintf(buf, sizeof buf, "eval/%s_topm.json", setups[k]);
        cJSON_AddStringToObject(o, "eval_topm", buf);
        cJSON *b = cJSON_AddObjectToObject(o, "bon");
        snprintf(buf, sizeof buf, "bon_%s/bon.json", setups[k]);
        cJSON_AddStringToObject(b, "json", buf);
        cJSON_AddStringToObject(b, "best", "best");
        cJSON_AddStringToObject(b, "warm2", "warm2");
        snprintf(buf, sizeof buf, "warm%d", big_m(&r));
        cJSON_AddStringToObject(b, "warm_big", buf);
        cJSON_AddNumberToObject(b, "warm_big_m", big_m(&r));
        cJSON_AddStringToObject(b, "ens2", "ens2");
        if (k == 0) {
            cJSON *bk = cJSON_AddObjectToObject(b, "baklava");
            cJSON_AddStringToObject(bk, "warm", "bak_warm");
            cJSON_AddStringToObject(bk, "ens", "bak_ens");
            cJSON_AddStringToObject(bk, "a", "bak_a");
            cJSON_AddStringToObject(bk, "b", "bak_b");
        } else {
            cJSON_AddNullToObject(b, "baklava");
        }
        if (k < c->sc->rl_setups) {
            /* The RL runs (rl_runs) and their held-out evaluations, in the order of the eval files' policies. */
            rl_plan q;
            rl_runs(c, k, &r, &q);
            cJSON *rl = cJSON_AddObjectToObject(o, "rl");
            cJSON_AddNumberToObject(rl, "beta", c->sc->rl_beta);
            snprintf(buf, sizeof buf, "warm%d", big_m(&r));
            cJSON_AddStringToObject(rl, "warm_big", buf);
            cJSON_AddNumberToObject(rl, "warm_big_m", big_m(&r));
            cJSON_AddStringToObject(rl, "warm2", "warm2");
            cJSON_AddStringToObject(rl, "ens2", "ens2");
            cJSON_AddStringToObject(rl, "best", "best");
            if (r.n > big_m(&r)) {
                snprintf(buf, sizeof buf, "warm%d", r.n);
                cJSON_AddStringToObject(rl, "warm_all", buf);
                cJSON_AddNumberToObject(rl, "warm_all_m", r.n);
            }
            cJSON *runs = cJSON_AddArrayToObject(rl, "runs");
            for (int i = 0; i < q.n; i++) {
                cJSON *u = cJSON_CreateObject();
                cJSON_AddStringToObject(u, "name", q.name[i]);
                cJSON_AddNumberToObject(u, "beta", q.beta[i]);
                snprintf(buf, sizeof buf, "rl_%s/%s", setups[k], q.name[i]);
                cJSON_AddStringToObject(u, "dir", buf);
                cJSON_AddItemToArray(runs, u);
            }
            cJSON *ev = cJSON_AddArrayToObject(rl, "evals");
            for (int e = 1; e <= rl_n_evals(c->sc); e++) {
                cJSON *u = cJSON_CreateObject();
                cJSON_AddNumberToObject(u, "step", e * c->sc->rl_save);
                snprintf(buf, sizeof buf, "rl_%s/eval-%06d.json", setups[k], e * c->sc->rl_save);
                cJSON_AddStringToObject(u, "json", buf);
                cJSON_AddItemToArray(ev, u);
            }
        }
        cJSON *f = cJSON_AddObjectToObject(o, "figures");
        snprintf(buf, sizeof buf, "bon_%s/bon.svg", setups[k]);
        cJSON_AddStringToObject(f, "bon", buf);
        if (k < c->sc->rl_setups) {
            snprintf(buf, sizeof buf, "rl_%s/rl.svg", setups[k]);
            cJSON_AddStringToObject(f, "rl", buf);
        }
        cJSON_AddItemToArray(sa, o);
    }
    cJSON *la = cJSON_AddArrayToObject(root, "lmc");
    for (int i = 0; i < N_PAIR_KINDS; i++) {
        char buf[256];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "kind", pair_kinds[i].kind);
        cJSON_AddStringToObject(o, "label", pair_kinds[i].label);
        cJSON_AddStringToObject(o, "setup", "clean");
        snprintf(buf, sizeof buf, "lmc/%s.json", pair_kinds[i].kind);
        cJSON_AddStringToObject(o, "json", buf);
        snprintf(buf, sizeof buf, "lmc/%s_ood.svg", pair_kinds[i].kind);
        cJSON_AddStringToObject(o, "figure", buf);
        cJSON_AddItemToArray(la, o);
    }
    for (int q = 0; q < c->sc->corrupt_pairs; q++) {
        char buf[256];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "kind", "corrupt");
        snprintf(buf, sizeof buf, "members ranked %d and %d of the corrupt setup", 2 * q + 1, 2 * q + 2);
        cJSON_AddStringToObject(o, "label", buf);
        cJSON_AddStringToObject(o, "setup", "corrupt");
        snprintf(buf, sizeof buf, "lmc/corrupt-%d.json", q + 1);
        cJSON_AddStringToObject(o, "json", buf);
        snprintf(buf, sizeof buf, "lmc/corrupt-%d_train-corrupt.svg", q + 1);
        cJSON_AddStringToObject(o, "figure", buf);
        cJSON_AddItemToArray(la, o);
    }
    cJSON_AddStringToObject(root, "toy", "toy.json");
    cJSON_AddStringToObject(root, "task_stats", "task_stats.json");
    char p[4200];
    warm_error err = {0};
    warm_status st = warm_json_write(path(c, p, sizeof p, "plan.json"), root, &err);
    cJSON_Delete(root);
    if (st) return cli_fail("demo", &err), -1;
    printf("   wrote %s\n", p);
    return 0;
}

static int st_report(demo_ctx *c) {
    if (write_plan(c)) return -1;
    char p[4200];
    demo_argv a = {0};
    arg(&a, "report");
    argkv(&a, "--run", "%s", c->dir);
    argkv(&a, "-o", "%s", path(c, p, sizeof p, "report.md"));
    return run(c, &a);
}

typedef struct {
    const char *name, *what;
    int (*fn)(demo_ctx *c);
} demo_stage;

static const demo_stage stages[] = {
    {"task", "generate the world: posts, references, prompts (ID val, OOD)", st_task},
    {"pretrain", "pretrain a GPT-2 on generated text", st_pretrain},
    {"sft", "fine-tune on post -> reference summary, keeping Baklava checkpoints", st_sft},
    {"prefs", "SFT sample pairs labelled by the gold reward: clean and 25 % corrupt train labels", st_prefs},
    {"stats", "task statistics (gold ties, label agreement, the length cue)", st_stats},
    {"probe", "linear probe: the shared reward head of each setup", st_probe},
    {"sweep-clean", "reward-model members on clean labels (lr x dropout x seed x SFT checkpoint)", st_sweep_clean},
    {"sweep-corrupt", "reward-model members on 25 % corrupt labels", st_sweep_corrupt},
    {"pairs", "runs for the LMC sweeps: one run + its mid checkpoint, other seed, lr, SFT checkpoint, from scratch",
     st_pairs},
    {"merge", "WARM: weight averages of the M best and M worst members (every M), the Baklava pair", st_merge},
    {"eval", "accuracy of members, ENS and every WARM on ID val, OOD and ood_val", st_eval},
    {"lmc", "linear mode connectivity: WA vs ENS vs Diag for pairs of growing diversity", st_lmc},
    {"bon", "best-of-n against the gold (control) reward: WARM, ENS, the best member, Baklava", st_bon},
    {"rl", "KL-regularised RL against WARM, ENS and the best member, scored by the gold reward", st_rl},
    {"toy", "C17: the bag-of-features toy model by Monte Carlo", st_toy},
    {"report", "report.md: the paper's claims C1-C17 computed from this run's files", st_report},
};
#define N_STAGES ((int)(sizeof stages / sizeof stages[0]))

/* Runs the stages of the run directory c->dir (seed c->seed) up to stage `stop`; 0 when it finished or stopped
 * as asked. Resumes: stages recorded as done in c->dir/run.json are skipped. */
static int demo_run_one(demo_ctx *c, int stop) {
    warm_error err = {0};
    if (warm_mkdir_p(c->dir, &err) != WARM_OK) return cli_fail("demo", &err), -1;
    if (load_run(c)) {
        cJSON_Delete(c->run);
        c->run = NULL;
        return -1;
    }
    printf("warm demo: scale %s (%s), seed %lld, %d threads, %d jobs, run directory %s%s\n", c->sc->name,
           c->sc->about, (long long)c->seed, c->threads, c->jobs, c->dir,
           c->plots ? "" : "; no figures (gnuplot not found or --no-plots)");
    double t_all = warm_time_now();
    int fail = 0;
    for (int i = 0; i <= stop && !fail; i++) {
        printf("\n== %s: %s\n", stages[i].name, stages[i].what);
        if (stage_done(c, stages[i].name)) {
            const cJSON *e = stage_entry(c, stages[i].name);
            const cJSON *sec = cJSON_GetObjectItemCaseSensitive(e, "seconds");
            printf("   done earlier (%.1f s); skipped\n", cJSON_IsNumber(sec) ? sec->valuedouble : 0.0);
            continue;
        }
        fflush(stdout);
        double t0 = warm_time_now();
        if (i == N_STAGES - 1) {
            /* The report reads run.json: mark the run finished first (the report takes well under a second). */
            char now[64];
            iso_now(now, sizeof now);
            cJSON_ReplaceItemInObjectCaseSensitive(c->run, "finished", cJSON_CreateString(now));
            if (record_stage(c, stages[i].name, 0.0, "done")) {
                fail = 1;
                break;
            }
        }
        fail = stages[i].fn(c) != 0;
        if (i == N_STAGES - 1) {
            if (!fail) break;
            cJSON_ReplaceItemInObjectCaseSensitive(c->run, "finished", cJSON_CreateNull());
        }
        double dt = warm_time_now() - t0;
        if (record_stage(c, stages[i].name, dt, fail ? "failed" : "done")) fail = 1;
        printf("   (%s: %.1f s)\n", stages[i].name, dt);
    }
    double total = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c->run, "stages")) {
        const cJSON *sec = cJSON_GetObjectItemCaseSensitive(e, "seconds");
        if (cJSON_IsNumber(sec)) total += sec->valuedouble;
    }
    if (fail) {
        printf("\nwarm demo: stopped by a failure after %.1f s; fix it and rerun the same command to resume\n",
               warm_time_now() - t_all);
    } else if (stop < N_STAGES - 1) {
        printf("\nwarm demo: stopped after stage %s as asked (%.1f s); rerun without --stop-after to go on\n",
               stages[stop].name, warm_time_now() - t_all);
    } else {
        printf("\nwarm demo: done in %.1f s this run (%.1f s of stage time in all); report: %s/report.md\n",
               warm_time_now() - t_all, total, c->dir);
    }
    cJSON_Delete(c->run);
    c->run = NULL;
    return fail ? -1 : 0;
}

/* Whether dir holds entries named seed-* (a directory of `--seeds`). */
static int has_seed_dirs(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int found = 0;
    for (struct dirent *e; !found && (e = readdir(d)) != NULL;) found = strncmp(e->d_name, "seed-", 5) == 0;
    closedir(d);
    return found;
}

/*
 * `--seeds`: one run per seed in out/seed-<s> (each an ordinary resumable run), then the report over the seeds
 * (out/report.md, out/report.json) by `warm report --runs`.
 */
static int demo_run_seeds(demo_ctx *c, const char *out, const warm_opt_list *seeds, int stop) {
    char dirs[WARM_REPORT_MAX_RUNS][4200], p[4200];
    snprintf(p, sizeof p, "%s/run.json", out);
    if (access(p, F_OK) == 0) {
        cli_error("demo", "%s holds a single-seed run (run.json); --seeds writes DIR/seed-N run directories: choose "
                  "another --out", out);
        return -1;
    }
    int fail = 0;
    for (int k = 0; k < seeds->n && !fail; k++) {
        snprintf(dirs[k], sizeof dirs[k], "%s/seed-%lld", out, (long long)seeds->i64[k]);
        c->dir = dirs[k];
        c->seed = seeds->i64[k];
        printf("%s=== seed %lld (%d of %d): %s\n", k ? "\n" : "", (long long)c->seed, k + 1, seeds->n, c->dir);
        fail = demo_run_one(c, stop) != 0;
    }
    if (fail || stop < N_STAGES - 1) return fail ? -1 : 0;
    printf("\n== report over seeds: the claims with 95 %% intervals over %d seed%s\n", seeds->n, seeds->n > 1 ? "s" : "");
    demo_argv a = {0};
    arg(&a, "report");
    arg(&a, "--runs");
    for (int k = 0; k < seeds->n; k++) arg(&a, "%s", dirs[k]);
    argkv(&a, "-o", "%s/report.md", out);
    argkv(&a, "--json", "%s/report.json", out);
    c->dir = out;
    if (run(c, &a)) return -1;
    printf("\nwarm demo: %d seed%s done; report over seeds: %s/report.md (per seed: %s/seed-N/report.md)\n",
           seeds->n, seeds->n > 1 ? "s" : "", out, out);
    return 0;
}

int cli_cmd_demo(int argc, char **argv) {
    static const char *const scale_names[] = {"tiny", "small", "full", NULL};
    int scale = 1, jobs = 0, threads = 0, no_plots = 0;
    int64_t seed = 1;
    warm_opt_list seeds = {0};
    const char *out = "demo-out", *stop_after = NULL;
    warm_opt opts[] = {
        {.name = "scale", .kind = WARM_OPT_CHOICE, .dest = &scale, .choices = scale_names, .def = "small",
         .help = "tiny: every stage in about a minute (tests); small: <= 10 minutes on 2 cores; full: the "
                 "paper-like setting (10 members per setup, M = 2, 6, 10)"},
        {.name = "out", .short_name = 'o', .kind = WARM_OPT_STRING, .dest = &out, .metavar = "DIR", .def = "demo-out",
         .help = "run directory (rerun with the same DIR, scale and seed to resume)"},
        {.name = "seed", .kind = WARM_OPT_INT64, .dest = &seed, .min = 0, .max = 1e15, .def = "1",
         .help = "seed of the whole run (task, training, sampling)"},
        {.name = "seeds", .kind = WARM_OPT_INT_LIST, .dest = &seeds, .min = 0, .max = 1e15, .metavar = "S1,S2,...",
         .help = "one run per seed in DIR/seed-S (each resumable like a --seed run), then DIR/report.md and "
                 "DIR/report.json over the seeds (`warm report --runs`: mean and 95 % interval per claim); "
                 "at most 31 distinct seeds; not with --seed"},
        {.name = "jobs", .short_name = 'j', .kind = WARM_OPT_INT, .dest = &jobs, .min = 0, .max = 64, .def = "0",
         .help = "reward models trained at once (0: min(2, threads))"},
        {.name = "threads", .kind = WARM_OPT_INT, .dest = &threads, .min = 0, .max = 1024, .def = "0",
         .help = "threads in all (0: OMP_NUM_THREADS or the cores)"},
        {.name = "stop-after", .kind = WARM_OPT_STRING, .dest = &stop_after, .metavar = "STAGE",
         .help = "stop after this stage (task, pretrain, sft, prefs, stats, probe, sweep-clean, sweep-corrupt, "
                 "pairs, merge, eval, lmc, bon, rl, toy, report)"},
        {.name = "no-plots", .kind = WARM_OPT_FLAG, .dest = &no_plots, .help = "no figures even when gnuplot is installed"},
    };
    const warm_opt *seed_opt = &opts[2];
    warm_opts_cmd cmd = {
        .prog = "warm",
        .name = "demo",
        .desc = "The WARM paper end to end on the embedded task: task, pretraining, SFT, preference pairs (clean\n"
                "and 25 % corrupt), probe, two sweeps of reward models, WARM merges, evaluation, LMC sweeps,\n"
                "best-of-n against the gold reward, KL-regularised RL against WARM, ENS and the best member\n"
                "(warm rl, warm rl-eval), the toy model, and DIR/report.md with the claims C1-C17 computed from\n"
                "the run's files. Finished stages are recorded in DIR/run.json; rerunning the\n"
                "same command resumes. With --seeds, one such run per seed and a report over the seeds.\n"
                "See docs/demo.md.",
        .opts = opts,
        .nopts = CLI_NOPTS(opts),
        .epilog = "examples:\n  warm demo --scale small --out demo-out\n  warm demo --scale full --out full-run\n"
                  "  warm demo --scale small --seeds 1,2,3 --out seeds-out\n",
    };
    warm_opts_result res;
    int rc = cli_parse(&cmd, argc, argv, &res);
    if (rc != CLI_PARSE_OK) return cli_parse_exit(rc);
    const char *usage = NULL;
    if (seeds.n && seed_opt->seen) usage = "--seed and --seeds: give one";
    else if (seeds.n > WARM_REPORT_MAX_RUNS) usage = "--seeds: at most 31 seeds";
    for (int i = 0; !usage && i < seeds.n; i++)
        for (int j = 0; j < i; j++)
            if (seeds.i64[i] == seeds.i64[j]) usage = "--seeds: a seed is given twice";
    demo_ctx c;
    memset(&c, 0, sizeof c);
    c.sc = &scales[scale];
    c.dir = out;
    c.seed = seed;
    c.threads = threads > 0 ? threads : warm_num_threads();
    c.jobs = jobs > 0 ? jobs : (c.threads >= 2 ? 2 : 1);
    int stop = N_STAGES - 1;
    if (!usage && stop_after) {
        stop = -1;
        for (int i = 0; i < N_STAGES; i++)
            if (strcmp(stages[i].name, stop_after) == 0) stop = i;
        if (stop < 0) usage = "--stop-after: unknown stage";
    }
    if (usage) {
        if (stop < 0) cli_error("demo", "--stop-after: unknown stage \"%s\" (see warm demo --help)", stop_after);
        else cli_error("demo", "%s (see warm demo --help)", usage);
        warm_opts_free(&cmd, &res);
        return CLI_EXIT_USAGE;
    }
    ssize_t k = readlink("/proc/self/exe", c.exe, sizeof c.exe - 1);
    if (k <= 0) {
        cli_error("demo", "cannot find the warm binary (/proc/self/exe): %s", strerror(errno));
        warm_opts_free(&cmd, &res);
        return CLI_EXIT_FAILURE;
    }
    c.exe[k] = 0;
    c.plots = !no_plots && cli_find_on_path("gnuplot", c.gnuplot, sizeof c.gnuplot);
    if (c.plots && !cli_find_repo_file("scripts/plot_lmc.gp", 0, c.lmc_script, sizeof c.lmc_script)) c.lmc_script[0] = 0;
    if (c.plots && !cli_find_repo_file("scripts/plot_bon.gp", 0, c.bon_script, sizeof c.bon_script)) c.bon_script[0] = 0;
    if (c.plots && !cli_find_repo_file("scripts/plot_rl.gp", 0, c.rl_script, sizeof c.rl_script)) c.rl_script[0] = 0;
    if (c.plots && (!c.lmc_script[0] || !c.bon_script[0] || !c.rl_script[0]))
        printf("note: scripts/plot_lmc.gp, plot_bon.gp or plot_rl.gp not found (run from the repository); some "
               "figures skipped\n");
    int fail;
    if (seeds.n) {
        fail = demo_run_seeds(&c, out, &seeds, stop) != 0;
    } else if (has_seed_dirs(out)) {
        cli_error("demo", "%s holds the seed-N run directories of --seeds; continue it with --seeds, or choose "
                  "another --out", out);
        fail = 1;
    } else {
        fail = demo_run_one(&c, stop) != 0;
    }
    warm_opts_free(&cmd, &res);
    return fail ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}
