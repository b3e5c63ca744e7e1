/*
 * cmd_sweep.c — `warm sweep`: M reward-model members with hyperparameters drawn from a grid (init checkpoint
 * x lr x dropout [x seed]), each trained by a child `warm train-rm` (this same binary, /proc/self/exe), J at a
 * time, then evaluated on the validation and OOD sets; DIR/manifest.json records everything
 * (src/train/rm_sweep.c). Interrupting (Ctrl-C, SIGTERM) stops the children; running the same command again
 * continues: finished members are skipped, half-done ones resume inside train-rm.
 *
 * Under mpirun (the MPI build; docs/scale.md) nothing is forked: the ranks split the members and train them
 * in-process with cli_train_rm_with (several ranks per member when there are more ranks than members), each
 * member's output appended to its train.log as before; rank 0 alone locks the directory, writes the manifest
 * and prints. Ctrl-C then ends the job (mpirun kills the ranks); the files are atomic and a rerun continues.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "warm/dist.h"
#include "warm/rm.h"
#include "warm/tokenizer.h"
#include "warm/train.h"

static volatile sig_atomic_t sweep_stop = 0;

static void on_signal(int sig) {
    (void)sig;
    sweep_stop = 1;
}

static void install_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* train-rm options a sweep passes through unchanged (validated by `train-rm --dry-run` before any member). */
static const char *const passthrough[] = {"steps", "epochs", "batch", "warmup", "schedule", "min-lr-frac",
                                          "weight-decay", "clip", "center", "log-every", "eval-every",
                                          "eval-batches", "save-every", "resume-every"};
#define N_PASS ((int)(sizeof passthrough / sizeof passthrough[0]))

typedef struct {
    const char *head, *data, *subset, *val, *val_subset, *ood, *ood_subset, *tok, *out;
    warm_opt_list inits, lrs, dropouts, seeds;
    int members, grid, jobs, margin;
    int64_t draw_seed;
    const char *pass[N_PASS];
} sweep_args;

static char *dupstr(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* The train-rm arguments every member shares, in a fixed order (the manifest compares them on rerun). */
static int build_args(warm_sweep *s, const sweep_args *a) {
    const char *list[2 * (N_PASS + 8) + 1];
    int n = 0;
#define ADD(k, v) do { if (v) { list[n++] = (k); list[n++] = (v); } } while (0)
    ADD("--data", a->data);
    ADD("--subset", a->subset);
    ADD("--tokenizer", a->tok);
    ADD("--head", a->head);
    ADD("--val", a->val);
    if (a->val) ADD("--val-subset", a->val_subset);
#undef ADD
    char (*names)[32] = malloc(N_PASS * sizeof *names);
    if (!names) return -1;
    for (int i = 0; i < N_PASS; i++)
        if (a->pass[i]) {
            snprintf(names[i], sizeof names[i], "--%s", passthrough[i]);
            list[n++] = names[i];
            list[n++] = a->pass[i];
        }
    if (a->margin) list[n++] = "--margin";
    s->args = calloc((size_t)n + 1, sizeof *s->args);
    int ok = s->args != NULL;
    for (int i = 0; ok && i < n; i++) {
        s->args[i] = dupstr(list[i]);
        ok = s->args[i] != NULL;
        if (ok) s->n_args = i + 1;
    }
    free(names);
    return ok ? 0 : -1;
}

/* Runs `train-rm --dry-run` in-process on member 0's command line: bad pass-through values fail here, once,
 * with train-rm's own message, instead of in M children. */
static int check_member_args(const warm_sweep *s) {
    char **argv = warm_sweep_member_argv(s, 0, "warm");
    if (!argv) return CLI_EXIT_FAILURE;
    int argc = 0;
    while (argv[argc]) argc++;
    char **args = calloc((size_t)argc + 1, sizeof *args);
    char dry[] = "--dry-run";
    int code = CLI_EXIT_FAILURE;
    if (args) {
        for (int i = 1; i < argc; i++) args[i - 1] = argv[i];
        args[argc - 1] = dry;
        code = cli_train_rm_with(argc, args, NULL);
    }
    free(args);
    warm_sweep_argv_free(argv);
    return code;
}

static int check_inputs(const sweep_args *a) {
    for (int i = 0; i < a->inits.n; i++)
        if (!warm_file_exists(a->inits.str[i])) {
            cli_error("sweep", "--init %s: no such file", a->inits.str[i]);
            return CLI_EXIT_USAGE;
        }
    const char *files[4] = {a->head, a->data, a->val, a->ood};
    const char *names[4] = {"--head", "--data", "--val", "--ood"};
    for (int i = 0; i < 4; i++)
        if (files[i] && !warm_file_exists(files[i])) {
            cli_error("sweep", "%s %s: no such file", names[i], files[i]);
            return CLI_EXIT_USAGE;
        }
    warm_tokenizer *tok = NULL; /* gpt2 | FILE | DIR: opened once here so a bad one fails before any member */
    warm_error err = {0};
    if (a->tok && warm_tok_open(&tok, a->tok, &err)) return cli_fail("sweep", &err);
    warm_tok_free(tok);
    return CLI_EXIT_OK;
}

static void print_summary(const warm_sweep *s) {
    printf("%-9s %-7s %-8s %-5s %-8s %-9s %-9s %s\n", "member", "lr", "dropout", "seed", "status", "val acc",
           "ood acc", "init");
    int best = -1;
    for (int i = 0; i < s->n; i++) {
        const warm_sweep_member *m = &s->members[i];
        char v[16] = "-", o[16] = "-";
        if (m->has_val) snprintf(v, sizeof v, "%.4f", m->val.acc_ge);
        if (m->has_ood) snprintf(o, sizeof o, "%.4f", m->ood.acc_ge);
        printf("member-%02d %-7g %-8g %-5lld %-8s %-9s %-9s %s\n", m->index, m->lr, m->dropout, (long long)m->seed,
               warm_member_status_name(m->status), v, o, m->init);
        if (m->has_ood && (best < 0 || m->ood.acc_ge > s->members[best].ood.acc_ge)) best = i;
    }
    printf("accuracies count ties as correct (>=); the manifest also has strict (>) accuracy, margin, ECE\n");
    if (best >= 0) printf("best by OOD accuracy: member-%02d (%.4f)\n", s->members[best].index, s->members[best].ood.acc_ge);
    printf("manifest: %s/manifest.json\n", s->dir);
}

/* Under mpirun: member i trained here by the ranks of `ranks` (run_member hook), with stdout and stderr
 * appended to its train.log as a child's would be. */
static int run_member_here(void *ctx, const warm_sweep *s, int i, char *const *argv, warm_dist *ranks) {
    (void)ctx;
    char dir[4200], log[4300];
    warm_sweep_member_dir(s, i, dir, sizeof dir);
    snprintf(log, sizeof log, "%s/train.log", dir);
    warm_error err = {0};
    int argc = 0;
    while (argv[argc]) argc++;
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (!args || warm_mkdir_p(dir, &err)) {
        cli_error("sweep", "%s", args ? err.msg : "out of memory");
        free(args);
        return CLI_EXIT_FAILURE;
    }
    for (int k = 1; k < argc; k++) args[k - 1] = argv[k]; /* from "train-rm" on */
    fflush(stdout);
    fflush(stderr);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644), out = dup(1), errfd = dup(2);
    if (fd < 0 || out < 0 || errfd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
        cli_error("sweep", "%s: cannot open for appending", log);
        if (fd >= 0) close(fd);
        if (out >= 0) close(out);
        if (errfd >= 0) close(errfd);
        free(args);
        return CLI_EXIT_FAILURE;
    }
    close(fd);
    int code = cli_train_rm_with(argc - 1, args, ranks);
    fflush(stdout);
    fflush(stderr);
    dup2(out, 1);
    dup2(errfd, 2);
    close(out);
    close(errfd);
    free(args);
    return code;
}

static int run_sweep(const sweep_args *a) {
    int code = check_inputs(a);
    if (code != CLI_EXIT_OK) return code;
    warm_error err = {0};
    warm_sweep s;
    memset(&s, 0, sizeof s);
    warm_sweep_space sp = {.inits = a->inits.str, .n_inits = a->inits.n, .lrs = a->lrs.f64, .n_lrs = a->lrs.n,
                           .dropouts = a->dropouts.f64, .n_dropouts = a->dropouts.n, .seeds = a->seeds.i64,
                           .n_seeds = a->seeds.n, .members = a->members, .grid = a->grid,
                           .draw_seed = (uint64_t)a->draw_seed};
    warm_status st = warm_sweep_plan(&sp, &s, &err);
    if (!st && (!(s.dir = dupstr(a->out)) || build_args(&s, a) != 0 || (a->val && !(s.val = dupstr(a->val))) ||
                (a->val && a->val_subset && !(s.val_subset = dupstr(a->val_subset))) ||
                (a->ood && !(s.ood = dupstr(a->ood))) || (a->ood && a->ood_subset && !(s.ood_subset = dupstr(a->ood_subset)))))
        st = warm_error_set(&err, WARM_ERR_NOMEM, "out of memory");
    if (st) {
        warm_sweep_free(&s);
        return cli_fail("sweep", &err);
    }
    code = check_member_args(&s);
    if (code != CLI_EXIT_OK) {
        cli_error("sweep", "the train-rm options above are invalid; no member was started");
        warm_sweep_free(&s);
        return code;
    }
    warm_dist *world = NULL;
    st = warm_dist_world(&world, &err);
    int lead = warm_dist_rank(world) == 0, ranks = warm_dist_size(world);
    int lock_fd = -1;
    if (!st && lead) st = warm_mkdir_p(s.dir, &err);
    if (!st && lead) st = warm_rm_lock_dir(s.dir, &lock_fd, &err);
    if (!st && lead) st = warm_sweep_resume(&s, &err);
    if (world) st = warm_dist_agree(world, st, &err);
    if (!st) {
        int jobs = a->jobs, threads = warm_num_threads() / jobs;
        int todo = 0;
        for (int i = 0; i < s.n; i++) todo += s.members[i].status != WARM_MEMBER_DONE;
        if (ranks > 1 && lead)
            fprintf(stderr, "sweep: %d members (%d to do) in %s over %d MPI ranks (--jobs is not used), %d thread%s "
                    "each\n", s.n, todo, s.dir, ranks, warm_num_threads(), warm_num_threads() > 1 ? "s" : "");
        else if (ranks == 1)
            fprintf(stderr, "sweep: %d members (%d to do) in %s; %d at a time, %d thread%s each\n", s.n, todo, s.dir,
                    jobs, threads > 1 ? threads : 1, threads > 1 ? "s" : "");
        warm_sweep_run_config rc = {.exe = "/proc/self/exe", .jobs = jobs, .threads_per_job = threads > 1 ? threads : 1,
                                    .tokenizer = a->tok, .stop = &sweep_stop, .log = lead ? stderr : NULL};
        if (ranks > 1) {
            rc.dist = world;
            rc.run_member = run_member_here;
            rc.stop = NULL; /* mpirun ends the job on Ctrl-C; the default signal action is what it expects */
        } else {
            install_handlers();
        }
        st = warm_sweep_run(&s, &rc, &err);
        if (lead) print_summary(&s);
    }
    code = CLI_EXIT_OK;
    if (st) fflush(stdout);
    if (st && !lead) {
        code = err.code == WARM_ERR_ARG ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE; /* rank 0 prints it */
    } else if (st && sweep_stop) {
        cli_error("sweep", "%s", err.msg);
        code = 130; /* 128 + SIGINT, as a shell reports an interrupted command */
    } else if (st) {
        code = cli_fail("sweep", &err);
    }
    warm_sweep_free(&s);
    if (lock_fd >= 0) close(lock_fd);
    warm_dist_free(world);
    return code;
}

int cli_cmd_sweep(int argc, char **argv) {
    sweep_args a;
    memset(&a, 0, sizeof a);
    warm_opt opts[] = {
        {.name = "members", .kind = WARM_OPT_INT, .dest = &a.members, .min = 1, .max = 10000, .def = "10",
         .help = "members drawn from the grid (the paper trains 10)"},
        {.name = "init", .kind = WARM_OPT_STRING_LIST, .dest = &a.inits, .metavar = "CKPT,...", .required = 1,
         .help = "SFT checkpoints members start from (Baklava: steps of one SFT run, e.g. sft/step-0000400.safetensors,...)"},
        {.name = "head", .kind = WARM_OPT_STRING, .dest = &a.head, .metavar = "PATH",
         .help = "the probed head shared by every member (`warm probe`)"},
        {.name = "data", .kind = WARM_OPT_STRING, .dest = &a.data, .metavar = "JSONL", .required = 1,
         .help = "training pairs"},
        {.name = "subset", .kind = WARM_OPT_STRING, .dest = &a.subset, .metavar = "SPLITS",
         .help = "split filter for --data (e.g. train)"},
        {.name = "val", .kind = WARM_OPT_STRING, .dest = &a.val, .metavar = "JSONL",
         .help = "validation pairs: passed to train-rm and evaluated after training"},
        {.name = "val-subset", .kind = WARM_OPT_STRING, .dest = &a.val_subset, .metavar = "SPLITS",
         .help = "split filter for --val (e.g. val)"},
        {.name = "ood", .kind = WARM_OPT_STRING, .dest = &a.ood, .metavar = "JSONL",
         .help = "OOD pairs, evaluated after training (the paper ranks members by OOD accuracy)"},
        {.name = "ood-subset", .kind = WARM_OPT_STRING, .dest = &a.ood_subset, .metavar = "SPLITS",
         .help = "split filter for --ood (e.g. ood)"},
        CLI_OPT_TOKENIZER(&a.tok, 0, "for text rows (pre-tokenised rows need none)"),
        {.name = "lr", .kind = WARM_OPT_FLOAT_LIST, .dest = &a.lrs, .min = 0, .max = 1, .def = "1e-5,4e-5,1e-4",
         .metavar = "LR,...", .help = "learning rates of the grid"},
        {.name = "dropout", .kind = WARM_OPT_FLOAT_LIST, .dest = &a.dropouts, .min = 0, .max = 0.9, .def = "0.05,0.1",
         .metavar = "P,...", .help = "dropout rates of the grid"},
        {.name = "seeds", .kind = WARM_OPT_INT_LIST, .dest = &a.seeds, .min = 0, .max = 9e15, .metavar = "S,...",
         .help = "data-order/dropout seeds as a grid axis; default: member i gets seed i + 1 (its own order)"},
        {.name = "grid", .kind = WARM_OPT_FLAG, .dest = &a.grid, .help = "train every point of the grid (ignores --members)"},
        {.name = "draw-seed", .kind = WARM_OPT_INT64, .dest = &a.draw_seed, .min = 0, .max = 9e15, .def = "0",
         .help = "seed of the draw from the grid"},
        {.name = "jobs", .short_name = 'j', .kind = WARM_OPT_INT, .dest = &a.jobs, .min = 1, .max = 256, .def = "1",
         .help = "members trained at once (each gets OMP_NUM_THREADS = threads / jobs)"},
        {.name = "margin", .kind = WARM_OPT_FLAG, .dest = &a.margin, .help = "passed to train-rm"},
        {.name = "out", .short_name = 'o', .kind = WARM_OPT_STRING, .dest = &a.out, .metavar = "DIR", .required = 1,
         .help = "sweep directory: manifest.json and member-XX/ (train-rm run directories)"},
    };
    enum { N_OWN = CLI_NOPTS(opts) };
    warm_opt all[N_OWN + N_PASS];
    memcpy(all, opts, sizeof opts);
    for (int i = 0; i < N_PASS; i++) {
        warm_opt o = {.name = passthrough[i], .kind = WARM_OPT_STRING, .dest = &a.pass[i], .metavar = "V",
                      .help = "passed to train-rm (see `warm train-rm --help`)"};
        all[N_OWN + i] = o;
    }
    warm_opts_cmd cmd = {.prog = "warm", .name = "sweep",
                         .desc = "Trains a sweep of reward-model members, one `warm train-rm` process per member, and\n"
                                 "evaluates each on --val and --ood. DIR/manifest.json lists every member's file,\n"
                                 "hyperparameters, status and accuracies. Rerun the same command to continue.\n"
                                 "Under mpirun (make MPI=1) the ranks share the members instead of --jobs: the same\n"
                                 "members bit for bit, or several ranks per member when ranks > members\n"
                                 "(docs/scale.md).",
                         .opts = all, .nopts = N_OWN + N_PASS,
                         .epilog = "example: warm sweep --members 6 --init sft/step-0000400.safetensors,sft/final.safetensors \\\n"
                                   "           --head head.safetensors --data prefs.jsonl --subset train --val prefs.jsonl \\\n"
                                   "           --val-subset val --ood prefs.jsonl --ood-subset ood --tokenizer task/tokenizer.json \\\n"
                                   "           --steps 400 --jobs 2 -o sweep"};
    warm_opts_result res;
    int rc = cli_parse(&cmd, argc, argv, &res);
    if (rc != CLI_PARSE_OK) return cli_parse_exit(rc);
    int code = run_sweep(&a);
    warm_opts_free(&cmd, &res);
    return code;
}
