/*
 * warm/rm.h — reward models: the shared linear-probed head (ω0), one Bradley–Terry fine-tuning (a WARM
 * member), and sweeps of members run as separate processes with a resumable manifest.
 * docs/reward-models.md is the long version (recipe, defaults and why, file formats).
 *
 * THE PROBE. Every member starts from (SFT body, ω0). ω0 is fitted on FROZEN features: the pooled feature
 * of a sequence is the final hidden state after ln_f at its last non-pad token (the pooling rule of
 * warm/model.h), computed once per sequence with dropout off. The reward is linear in the head, so the fit
 * is a convex problem on fixed (n, C) matrices:
 *     min_w  mean_i softplus(-(w.(xc_i - xr_i) - margin_i)) + center * mean_i (w.(xc_i + xr_i))^2
 *            + (l2 / 2) |w|^2
 * solved by full-batch Adam from w = 0 (deterministic, no seed). The head is written as a safetensors file
 * holding only score.weight [1, C] (F32) plus metadata "warm.probe" (JSON: source model, data, recipe,
 * train/val accuracy).
 *
 * ONE MEMBER. A run directory like the LM trainer's (warm/train.h):
 *   final.safetensors          weights after the last step (the member WARM averages)
 *   step-NNNNNNN.safetensors   kept every save_every steps ("averaging along one run", Remark 2)
 *   last.safetensors, last.state.safetensors
 *                              the newest resumable point (F32 weights + Adam moments, step, data position),
 *                              rewritten atomically every resume_every steps, at stop_after and at the end
 *   metrics.jsonl              TRL's names: per log interval {"step","epoch","loss","accuracy","margin",
 *                              "mean_reward","min_reward","max_reward","lr","grad_norm","num_tokens"};
 *                              per evaluation {"step","eval_loss","eval_accuracy","eval_accuracy_ge",
 *                              "eval_margin","eval_mean_reward","eval_pairs"}
 *   .lock                      fcntl lock held while a process trains in the directory
 * Every checkpoint carries "warm.train" (JSON hyperparameters, warm_rm_hparams_json) and "warm.step" in its
 * metadata, and the model config (dropout rates included) in "warm.config". Running the same settings again
 * in the directory continues bit-exactly from last.* or returns at once when final.safetensors is there;
 * other settings (run_key differs) are refused.
 *
 * A SWEEP. M members with hyperparameters drawn from a grid (init checkpoint x lr x dropout [x seed]), each
 * trained by a child process `warm train-rm ... -o DIR/member-XX`, J at a time, then evaluated on the
 * validation and OOD sets (warm/eval.h). DIR/manifest.json (rewritten atomically after every change) records
 * each member's directory, file, hyperparameters, status and accuracies. Rerunning the same sweep skips
 * finished members and lets train-rm resume half-done ones.
 */
#ifndef WARM_RM_H
#define WARM_RM_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "warm/core.h"
#include "warm/data.h"
#include "warm/dist.h"
#include "warm/eval.h"
#include "warm/model.h"
#include "warm/tokenizer.h"

/* ====================================================================================================== */
/* Heads and member initialisation (src/train/rm.c)                                                       */

/*
 * Copies score.weight ([1, C] or [C]; F32, F16 or BF16) from any safetensors file (a probe head or a whole
 * reward model) into m's score.weight. F32 is copied bit for bit. Errors name the file: no score.weight,
 * wrong width, other dtype.
 */
warm_status warm_rm_load_head(warm_model *m, const char *path, warm_error *err);

/* Writes a head file: one tensor score.weight [1, C] F32 (w, C floats) and the metadata pairs given
 * (plus format=pt and "warm.head" = "score.weight [1, C], last-non-pad pooling"). Atomic. */
warm_status warm_rm_save_head(const float *w, int C, const char *path, const char *const *keys,
                              const char *const *vals, int n_meta, warm_error *err);

/* Where a member's starting head came from. */
typedef enum {
    WARM_RM_HEAD_FILE = 0,  /* head_path's score.weight (the probe): replaces whatever init had */
    WARM_RM_HEAD_INIT = 1,  /* init already held a score.weight (e.g. a reward model) */
    WARM_RM_HEAD_FRESH = 2, /* init had none: N(0, initializer_range) from head_seed */
} warm_rm_head_source;
const char *warm_rm_head_source_name(warm_rm_head_source s); /* "file", "init", "fresh" */

/*
 * Loads the body from init (score.weight may be missing: an SFT/LM checkpoint), then sets the head from
 * head_path when non-NULL (bit for bit), else keeps init's, else draws a fresh one. dropout >= 0 sets all
 * three rates (embeddings, attention, residual) in m->cfg; < 0 keeps the checkpoint's. *src may be NULL.
 */
warm_status warm_rm_init_model(warm_model *m, const char *init, const char *head_path, float dropout,
                               uint64_t head_seed, warm_rm_head_source *src, warm_error *err);

/*
 * Pooled features of pairs idx[0..n) of d: fc (n, C) for prompt + chosen, fr (n, C) for prompt + rejected,
 * the ln_f hidden state at each sequence's last token, from the batched training forward with dropout off
 * (the same numbers the reward head sees during training, evaluation mode; each pair packed with its shared
 * prefix run once, warm_trainer_pair_hidden). batch = sequences per forward (batch / 2 pairs).
 * Every row must fit m's context (load the data with max_len = n_positions). progress may be NULL.
 */
warm_status warm_rm_features(warm_model *m, const warm_prefs *d, const int64_t *idx, int64_t n, int batch,
                             float *fc, float *fr, FILE *progress, warm_error *err);

/*
 * Loads preference pairs for model config cfg: rows longer than cfg->n_positions are dropped (TRL's rule),
 * pre-tokenised rows use cfg's vocabulary and pad id, text rows need tok (may be NULL otherwise). *idx and *n
 * get the rows of the comma-separated splits in subset (NULL = all rows). No rows is WARM_ERR_ARG naming
 * the file and subset. On error *d is freed.
 */
warm_status warm_rm_load_pairs(warm_prefs *d, const char *path, const char *subset, const warm_tokenizer *tok,
                               const warm_config *cfg, int64_t **idx, int64_t *n, warm_error *err);

/* Exclusive fcntl lock on dir/.lock (dir must exist); *fd stays open while the lock is held (close it, or
 * exit, to release). A directory locked by another process is WARM_ERR_IO naming its pid. */
warm_status warm_rm_lock_dir(const char *dir, int *fd, warm_error *err);

/* ====================================================================================================== */
/* Linear probe (src/train/rm.c)                                                                           */

#define WARM_PROBE_MAX_L2 16

typedef struct {
    int steps;         /* full-batch Adam steps [1000] */
    float lr;          /* peak step size, cosine decay to lr/100 [0.02] */
    float l2;          /* (l2/2)|w|^2 in the objective [0.01]: keeps separable data from an unbounded head */
    const float *l2_grid; /* (n_l2) candidates for warm_probe_run: with validation data, the one with the
                             lowest validation BT loss is kept (ties: the first); without, l2 is used [NULL] */
    int n_l2;          /* 0..WARM_PROBE_MAX_L2 */
    float center;      /* centring eta, as in member training [0] */
    int use_margins;   /* subtract the data's margins in the loss [0] */
    int batch;         /* sequences per feature forward [64] */
    FILE *progress;    /* NULL: silent */
} warm_probe_config;
warm_probe_config warm_probe_default(void);

typedef struct {
    int64_t n;        /* pairs */
    double loss;      /* mean -log sigma(r+ - r- - margin) + centring term (no L2) */
    double acc_gt;    /* mean 1[r+ > r-] (strict; TRL) */
    double acc_ge;    /* mean 1[r+ >= r-] (ties correct; the paper) */
    double margin;    /* mean r+ - r- */
} warm_probe_stats;

/* Statistics of head w (C) on features fc/fr (n, C); margins (n) may be NULL (0). */
void warm_probe_stats_of(const float *w, const float *fc, const float *fr, const float *margins, int64_t n, int C,
                         float center, warm_probe_stats *out);

/*
 * Fits w (C; in: the start, normally zeros; out: the fit) on features fc/fr (n, C) with the objective above.
 * Deterministic and independent of the thread count. WARM_ERR_ARG for n < 1 or a bad config; a non-finite
 * objective (features with Inf/NaN, lr far too high) is WARM_ERR_ARG naming the step.
 */
warm_status warm_probe_fit(const float *fc, const float *fr, const float *margins, int64_t n, int C,
                           const warm_probe_config *c, float *w, warm_error *err);

typedef struct {
    warm_probe_stats train, val;  /* of the kept head; val.n = 0 without validation data */
    warm_probe_stats train_zero;  /* the zero head (all ties: loss log 2) for reference */
    float l2;                     /* the L2 of the kept head */
    int n_tried;                  /* candidates fitted (1 without a grid) */
    float tried_l2[WARM_PROBE_MAX_L2];
    warm_probe_stats tried_val[WARM_PROBE_MAX_L2]; /* validation statistics of each candidate */
    double head_norm;             /* |w| */
    double feature_seconds, fit_seconds;
} warm_probe_result;

/*
 * The whole probe: features of train rows tidx (nt) and val rows vidx (nv; val may be NULL) under m's frozen
 * body, fit from w = 0 (for each L2 candidate when a grid and validation data are given), and the kept head
 * written into m's score.weight.
 */
warm_status warm_probe_run(warm_model *m, const warm_prefs *train, const int64_t *tidx, int64_t nt,
                           const warm_prefs *val, const int64_t *vidx, int64_t nv, const warm_probe_config *c,
                           warm_probe_result *res, warm_error *err);

/* ====================================================================================================== */
/* One member: Bradley-Terry fine-tuning (src/train/rm_train.c)                                            */

/* Hyperparameters recorded in every checkpoint as "warm.train" (and, without steps, the resume key). */
typedef struct {
    const char *init, *head;        /* paths as given (head may be NULL) */
    const char *head_source;        /* warm_rm_head_source_name */
    const char *data, *subset;      /* training data and split filter (subset may be NULL) */
    double lr, dropout, weight_decay, clip, center, min_lr_frac;
    int batch, warmup;
    const char *schedule;           /* "constant", "cosine", "linear" */
    int64_t steps;
    uint64_t seed;
    int use_margins;
} warm_rm_hparams;

/* JSON object of h (malloc'd; NULL on out of memory). with_steps = 0 leaves "steps" out (the resume key:
 * raising --steps on a finished run trains on, as in the LM trainer). */
char *warm_rm_hparams_json(const warm_rm_hparams *h, int with_steps);

typedef struct {
    const char *out_dir;     /* required; created if missing */
    int batch;               /* pairs per step (2*batch sequences) [16] */
    int64_t steps;           /* optimiser steps [required] */
    int log_every;           /* metrics line every K steps [10] */
    int eval_every;          /* validation every K steps; 0 = before the first step and at the end only [0] */
    int eval_batches;        /* cap on validation batches; 0 = the whole set [0] */
    int save_every;          /* kept step-N checkpoint every K steps; 0 = final only [0] */
    int resume_every;        /* last.* every K steps (also at stop_after and at the end); 0 = only then [100] */
    warm_adamw_config opt;   /* total_steps is set to steps */
    float center;            /* centring eta [0] */
    int use_margins;         /* use the data's margins [0] */
    uint64_t seed;           /* data order and dropout masks */
    int resume;              /* continue from out_dir/last.* [1] */
    int64_t stop_after;      /* return after this many steps of this call (resumable; 0 = run to the end) */
    const char *train_json;  /* recorded as "warm.train" in every checkpoint; NULL: not recorded */
    const char *run_key;     /* a resumed run must have been saved with the same key; NULL: not checked */
    FILE *progress;          /* NULL: silent (only rank 0 of dist reports) */
    /* Data parallel (warm/dist.h): the ranks of dist train this one member together. Every rank takes the
     * same batch, computes the part of its pairs [r*P/R, (r+1)*P/R) (warm_trainer_bt_step_part), and the
     * gradients are summed with allreduces in buckets of bucket_floats, started during the backward when
     * overlap; each rank then applies the same AdamW step to its own copy of the weights (its activations
     * are sized for its part, ceil(P / R) pairs, which also sets its validation batch). Rank 0 alone
     * locks and writes the run directory; a resumed run starts from rank 0's last.* on every rank, whatever
     * rank count wrote it. dist NULL or one rank: the one-process run, bit for bit. */
    warm_dist *dist;         /* [NULL] */
    size_t bucket_floats;    /* [6553600: 25 MiB of F32, PyTorch DDP's bucket_cap_mb] */
    int overlap;             /* [1] */
} warm_rm_train_config;

/* Defaults in brackets above, TRL's: lr 1e-4, linear decay to 0, no warm-up, no weight decay, clip 1. */
warm_rm_train_config warm_rm_train_default(void);

typedef struct {
    int64_t n;
    float loss, acc_gt, acc_ge, margin, reward_mean;
} warm_rm_val_stats;

typedef struct {
    int64_t steps_done;          /* total after this call */
    int64_t resumed_from;        /* step resumed at (0 = fresh) */
    int already_done;            /* final.safetensors existed at steps: nothing trained */
    int restarted;               /* last.* was inconsistent (interrupted between its two files): started over */
    warm_bt_stats last;          /* means over the last log interval (min/max over it) */
    warm_rm_val_stats val_first; /* before the first step (n = 0 without validation or when resumed) */
    warm_rm_val_stats val;       /* at the end (n = 0 without validation) */
    double seconds;
    double tokens_per_s;
    double allreduce_wait_s;     /* data parallel: time spent waiting for gradient sums (0 alone) */
} warm_rm_train_result;

/* Steps for `epochs` passes over n pairs at `batch` pairs per step: ceil(epochs * n / batch), >= 1. */
int64_t warm_rm_steps_for_epochs(double epochs, int64_t n, int batch);

/*
 * Trains m (weights as prepared by warm_rm_init_model) on pairs tidx (nt) of train with the BT loss
 * (+ margins, + centring), validating on vidx (nv) of val (may be NULL). Both data sets must fit m's context.
 */
warm_status warm_rm_train(warm_model *m, const warm_prefs *train, const int64_t *tidx, int64_t nt,
                          const warm_prefs *val, const int64_t *vidx, int64_t nv, const warm_rm_train_config *c,
                          warm_rm_train_result *res, warm_error *err);

/* Validation statistics of m on pairs idx (n) of d (no dropout), batch pairs per forward. */
warm_status warm_rm_validate(warm_model *m, const warm_prefs *d, const int64_t *idx, int64_t n, int batch,
                             int use_margins, warm_rm_val_stats *out, warm_error *err);

/* ====================================================================================================== */
/* Sweeps (src/train/rm_sweep.c)                                                                           */

/* The search space. Lists are owned by the caller. */
typedef struct {
    char **inits;            /* (n_inits) SFT checkpoints (Baklava: several steps of one SFT run) */
    int n_inits;
    const double *lrs;       /* (n_lrs) */
    int n_lrs;
    const double *dropouts;  /* (n_dropouts) */
    int n_dropouts;
    const int64_t *seeds;    /* (n_seeds) part of the grid; n_seeds = 0: member i gets seed i + 1 */
    int n_seeds;
    int members;             /* M: members drawn (ignored with grid) */
    int grid;                /* 1: every point of the grid, in order init, lr, dropout, seed */
    uint64_t draw_seed;      /* seed of the draw */
} warm_sweep_space;

typedef enum {
    WARM_MEMBER_PENDING = 0, /* not trained yet (or interrupted: train-rm resumes it) */
    WARM_MEMBER_TRAINED = 1, /* final checkpoint written, not evaluated yet */
    WARM_MEMBER_DONE = 2,    /* trained and evaluated */
    WARM_MEMBER_FAILED = 3,  /* train-rm exited non-zero; retried on the next run */
} warm_member_status;
const char *warm_member_status_name(warm_member_status s); /* "pending", "trained", "done", "failed" */

typedef struct {
    int index;                  /* 0-based; directory member-XX (two digits at least) */
    char *init;                 /* malloc'd copy */
    double lr, dropout;
    int64_t seed;
    warm_member_status status;
    int exit_code;              /* of the last train-rm run (-1 never run, 128+sig when killed) */
    double train_seconds;       /* wall time of the last train-rm run */
    int has_val, has_ood;
    warm_pair_metrics val, ood; /* n, acc_ge, acc_gt, margin, ece, bt_loss (ties counted in ties) */
} warm_sweep_member;

typedef struct {
    char *dir;                  /* sweep directory (the manifest's) */
    int n;
    warm_sweep_member *members; /* (n) */
    int grid;
    uint64_t draw_seed;
    int n_args;
    char **args;                /* train-rm arguments shared by all members (recorded; must match on rerun) */
    char *val, *val_subset, *ood, *ood_subset; /* evaluation data (NULL: none) */
} warm_sweep;

/*
 * Draws the members: with grid, every point; else M points, without repetition as long as the space has
 * unused points (a seeded shuffle of the grid, taken in order and reshuffled when exhausted, so the plan for
 * M is a prefix of the plan for M + k). Without seeds in the grid, member i gets seed i + 1; with seeds in the
 * grid, M larger than the grid is WARM_ERR_ARG (it would train identical members).
 * Fills s->members / s->n (s zeroed by the caller or from warm_sweep_free); other fields untouched.
 */
warm_status warm_sweep_plan(const warm_sweep_space *sp, warm_sweep *s, warm_error *err);
void warm_sweep_free(warm_sweep *s);

/* "<dir>/member-XX" and "<dir>/member-XX/final.safetensors" into buf. */
void warm_sweep_member_dir(const warm_sweep *s, int i, char *buf, size_t n);
void warm_sweep_member_file(const warm_sweep *s, int i, char *buf, size_t n);

/* Writes s as dir/manifest.json (atomic); see docs/reward-models.md for the format. */
warm_status warm_sweep_save(const warm_sweep *s, warm_error *err);
/* Reads a manifest (path = the file); s->dir becomes its directory. */
warm_status warm_sweep_load(warm_sweep *s, const char *path, warm_error *err);

/*
 * Takes over what an earlier run in s->dir recorded: if dir/manifest.json exists, its members must equal
 * s's plan on their common prefix (init, lr, dropout, seed) and its shared train-rm arguments and evaluation
 * data must equal s's (else WARM_ERR_MISMATCH naming the first difference); statuses, exit codes and metrics
 * are copied. A member marked trained/done whose final checkpoint is gone becomes pending again. Then writes
 * the manifest.
 */
warm_status warm_sweep_resume(warm_sweep *s, warm_error *err);

/* Member i's argv (NULL-terminated, malloc'd; free with warm_sweep_argv_free):
 * exe train-rm --init I --lr L --dropout D --seed S -o DIR/member-XX <s->args...> */
char **warm_sweep_member_argv(const warm_sweep *s, int i, const char *exe);
void warm_sweep_argv_free(char **argv);

typedef struct {
    const char *exe;            /* the warm binary ("/proc/self/exe" from the CLI) */
    int jobs;                   /* members trained at once [1] */
    int threads_per_job;        /* OMP_NUM_THREADS of each child (>= 1) */
    const char *tokenizer;      /* text rows of the evaluation data: gpt2, FILE or DIR (warm_tok_open); NULL: ids only */
    volatile sig_atomic_t *stop;/* non-NULL and set (by a signal handler): children get SIGTERM, the run
                                   stops after they exit and returns WARM_ERR_IO "interrupted" */
    FILE *log;                  /* one line per event; NULL: silent */
    /* When non-NULL, called instead of fork/exec (synchronously, one member at a time) with the member's argv
     * and the ranks that train it together (NULL in a one-process sweep); returns its exit code, the same on
     * every rank of `ranks`. Tests use it without ranks; a sweep over ranks needs it (members then train
     * in-process: `warm sweep` under mpirun calls train-rm with the ranks). */
    int (*run_member)(void *ctx, const warm_sweep *s, int i, char *const *argv, warm_dist *ranks);
    void *run_ctx;
    /* A sweep over the ranks of dist (warm/dist.h; NULL or one rank: this process alone). Every rank calls
     * warm_sweep_run with the same plan; rank 0's s (after warm_sweep_resume, which only rank 0 calls) is the
     * record. With R ranks and M members, each member gets k = max(1, floor(R / M)) ranks (data parallel
     * inside the member when k > 1) and floor(R / k) members train at once, in rounds; ranks left over wait.
     * k depends on R and M only, so a rerun trains the remaining members as the first run would have. After
     * every round rank 0 records the members and rewrites the manifest; the trained members are then
     * evaluated, spread over all ranks. jobs, threads_per_job, exe and stop are not used. */
    warm_dist *dist;
} warm_sweep_run_config;

/*
 * Trains every member that is pending or failed (child stdout/stderr appended to DIR/member-XX/train.log;
 * over ranks see warm_sweep_run_config.dist),
 * evaluates every trained member on s->val / s->ood with warm_eval_score_pairs (only while no child runs,
 * so evaluation never competes for cores), and rewrites the manifest after each change. Returns WARM_OK
 * when every member is done; otherwise an error naming the failed members and their logs.
 */
warm_status warm_sweep_run(warm_sweep *s, const warm_sweep_run_config *rc, warm_error *err);

#endif
