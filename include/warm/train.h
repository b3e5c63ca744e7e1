/*
 * warm/train.h — training loops on top of the model's training path: the LM trainer (pretraining and SFT).
 *
 * A run lives in an output directory:
 *   step-NNNNNNN.safetensors   weights saved every save_every steps and kept (SFT: the Baklava checkpoints)
 *   final.safetensors          weights after the last step
 *   last.safetensors, last.state.safetensors
 *                              the newest resumable point (weights F32 + Adam moments, step, data position),
 *                              rewritten atomically every save_every steps and at the end
 *   metrics.jsonl              one JSON line per log interval and per evaluation
 * A run started again in the same directory with resume != 0 continues from last.* bit-exactly (same data
 * order, same dropout masks, same schedule), or returns at once if last.* has reached `steps` and
 * final.safetensors is there. Raising `steps` on a finished run trains on (the schedule then spans the new
 * total, so it is not the run that would have been made with that total from the start).
 */
#ifndef WARM_TRAIN_H
#define WARM_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "warm/core.h"
#include "warm/data.h"
#include "warm/model.h"

typedef struct {
    const char *out_dir;     /* required; created if missing */
    int batch;               /* sequences per step */
    int64_t steps;           /* optimiser steps */
    int eval_every;          /* validation loss every K steps (and at the end); 0 = only at the end */
    int save_every;          /* kept checkpoint every K steps; 0 = none but final */
    int log_every;           /* metrics line every K steps */
    int eval_batches;        /* cap on validation batches; 0 = whole validation set */
    warm_adamw_config opt;   /* lr, betas, decay, clip, warm-up, schedule (total_steps is set to steps) */
    uint64_t seed;           /* data order and dropout */
    int resume;              /* continue from out_dir/last.* when present */
    int64_t stop_after;      /* return after this many steps of this call (resumable; 0 = run to the end) */
    FILE *progress;          /* progress bar/lines; NULL = silent */
} warm_lm_train_config;

warm_lm_train_config warm_lm_train_default(void);

typedef struct {
    int64_t steps_done;      /* total after this call */
    int64_t resumed_from;    /* step the run resumed at (0 = fresh) */
    int already_done;        /* final.safetensors existed: nothing trained */
    float last_loss;         /* mean training loss of the last log interval */
    float val_loss_first;    /* validation loss before the first step (NAN without validation) */
    float val_loss;          /* validation loss at the end (NAN without validation) */
    double seconds;
    double tokens_per_s;
} warm_lm_train_result;

/*
 * Trains m (weights as given: fresh init or a loaded checkpoint) on rows train_idx (n_train) of train with the
 * masked LM loss (SFT rows: completion tokens only), evaluating on val rows val_idx (n_val; val may be NULL).
 * Sequences longer than the model's context were already dropped/truncated by the loader (max_len).
 */
warm_status warm_lm_train(warm_model *m, const warm_lmdata *train, const int64_t *train_idx, int64_t n_train,
                          const warm_lmdata *val, const int64_t *val_idx, int64_t n_val, const warm_lm_train_config *c,
                          warm_lm_train_result *res, warm_error *err);

/* Mean masked LM loss (weighted by counted tokens) over rows idx (n), no dropout. */
warm_status warm_lm_eval(warm_model *m, const warm_lmdata *d, const int64_t *idx, int64_t n, int batch,
                         int max_batches, float *loss, warm_error *err);

/* Creates a directory and its parents (mkdir -p); an existing directory is fine. */
warm_status warm_mkdir_p(const char *path, warm_error *err);
/* 1 if path exists as a regular file. */
int warm_file_exists(const char *path);

#endif
