/* Training: an inner optimizer (one of host/optimizers.def) and, for LaPerm, the sync
 * every k steps; evaluation each epoch; metrics, rankings and weights to HDF5. */
#ifndef LAPERM_TRAIN_H
#define LAPERM_TRAIN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "laperm/augment.h"
#include "laperm/data.h"
#include "laperm/dist.h"
#include "laperm/init.h"
#include "laperm/model.h"
#include "laperm/network.h"
#include "laperm/results.h"
#include "laperm/runtime.h"
#include "laperm/schedule.h"

/* ---- inner optimizers ------------------------------------------------------------------
 * Each is one descriptor in its own file (host/optimizer_<id>.c), listed once in
 * host/optimizers.def. The command line (choices, --help, hyper-parameter flags),
 * the start-up line and the results file take every name, default and range from it.
 * LaPerm is not an entry: it wraps whichever inner optimizer is chosen. */

/* The values of --optimizer (and the results file's `optimizer`) for LaPerm and for
 * Lookahead alone; both wrap the inner optimizer (--inner), LaPerm optionally over
 * Lookahead (--lookahead). */
#define LP_OPTIMIZER_LAPERM "laperm"
#define LP_OPTIMIZER_LOOKAHEAD "lookahead"
#define LP_OPTIMIZER_SLOTS 8      /* optimizers the table may hold */
#define LP_OPTIMIZER_MAX_PARAMS 4 /* hyper-parameters per optimizer */
#define LP_OPTIMIZER_MAX_STATE 2  /* state buffers per optimizer */

/* A hyper-parameter: a float64 results-file attribute, set by a command-line flag. */
typedef struct {
    const char *option;   /* "--beta1"; unique across all optimizers */
    const char *attr;     /* "adam_beta1" */
    double def, min, max; /* default; the flag accepts [min, max] */
    const char *help;     /* for --help */
} lp_optimizer_param;

/* One step's operands: n parameters w and their gradients g (L2 terms already added, and
 * w already decayed when --weight-decay is on: the trainer does both for every optimizer),
 * the optimizer's state buffers (n floats each, zero before step 1), the learning rate
 * of this epoch, the global step (from 1) and the hyper-parameters in params order. */
typedef struct {
    lp_runtime *rt;
    cl_mem w, g, state[LP_OPTIMIZER_MAX_STATE];
    int n;
    double lr;
    long long step;
    const double *params;
} lp_optimizer_step;

typedef struct {
    const char *name;  /* --optimizer and --inner value; results `optimizer`, `inner_optimizer` */
    const char *title; /* the start-up line: "LaPerm k=250 over Adam" */
    /* Labels of the state buffers it keeps between steps; NULL past the last one. */
    const char *state[LP_OPTIMIZER_MAX_STATE];
    int n_params;
    lp_optimizer_param params[LP_OPTIMIZER_MAX_PARAMS];
    /* Enqueues the update of w; never waits for the device. */
    lp_status (*step)(const lp_optimizer_step *s);
} lp_optimizer;

/* Entry i of the table (0 is the default inner optimizer), NULL past the end. */
const lp_optimizer *lp_optimizer_at(int i);
/* The entry named `name`, or NULL. */
const lp_optimizer *lp_optimizer_find(const char *name);
/* The position of o in the table, or -1 for a descriptor that is not in it. */
int lp_optimizer_index(const lp_optimizer *o);

/* ---- the loss --------------------------------------------------------------------------
 * Listed once in laperm/losses.def (host/loss.c builds the table); the results file
 * records its name. */
typedef struct {
    const char *name; /* results attribute `loss`; --loss and the model file's `loss` */
    /* Over (rows, width) outputs: adds the summed loss and a second sum (classification:
     * correct predictions; regression: the per-row mean absolute error) to
     * stats[stats_off] and stats[stats_off + 1]; unless dlogits is NULL, writes
     * d(summed loss)/d(outputs) * grad_scale there. `labels` holds int labels (rows) or,
     * for a regression loss, float targets (rows, width). */
    lp_status (*run)(lp_runtime *rt, cl_mem logits, cl_mem labels, int rows, int width,
                     float grad_scale, cl_mem dlogits, cl_mem stats, int stats_off);
    bool regression; /* needs float targets (lp_dataset.t) instead of class labels */
} lp_loss;

/* Entry i of the loss table (0 is the default), NULL past the end. */
const lp_loss *lp_loss_at(int i);
/* The entry named `name`, or NULL. */
const lp_loss *lp_loss_find(const char *name);

/* ---- a run ------------------------------------------------------------------------------ */

typedef struct {
    bool laperm;               /* permute every k steps (else the inner optimizer alone) */
    const lp_optimizer *inner; /* the optimizer between syncs: an entry of the table */
    /* Lookahead around the inner optimizer (LaPerm's sync, if any, comes after it): every
     * la_k steps the slow weights (the initial weights at first) move la_alpha of the
     * way to w, and w takes their value. */
    bool lookahead;
    int la_k;        /* >= 1 */
    double la_alpha; /* (0, 1] */
    /* Decoupled weight decay (AdamW, SGDW) on every kernel (the tensors the model's l2
     * covers): before each inner update w *= 1 - lr * weight_decay. 0: off. */
    double weight_decay;
    /* Row i: the hyper-parameters of lp_optimizer_at(i), in its params order. Every row is
     * recorded in the results file, whichever optimizer runs. */
    double optimizer_params[LP_OPTIMIZER_SLOTS][LP_OPTIMIZER_MAX_PARAMS];
    const lp_loss *loss;
    int k;                 /* sync period in steps (where k_steps sets none) */
    lp_k_schedule k_steps; /* k by epoch (n 0: k throughout) */
    bool perm_bias;        /* also permute biases (the authors' F1/F2/Conv7 runs) */
    bool perm_bn;          /* also permute BatchNorm gamma and beta */
    bool per_tensor_scope; /* one group per tensor instead of per output unit */
    int epochs, batch;
    int eval_batch; /* samples per evaluation pass; 0: chosen from the device's memory */
    lp_lr_schedule lr;
    double l2_scale; /* multiplies every layer's l2 (0 switches L2 off) */
    uint64_t seed;
    lp_init_override init_override;
    /* Start from the final weights of this results file (matched by layer and tensor
     * name) instead of the initializers; with init_from_shuffle, each LaPerm group of
     * them permuted at random first. NULL: the initializers. */
    const char *init_from;
    bool init_from_shuffle;
    long long max_steps;     /* stop after this many steps (0: no limit) */
    lp_norm_mode norm;       /* input normalisation, statistics from the training set */
    lp_augment_spec augment; /* training-time augmentation on the device (zeros: none) */
    lp_conv_algo conv_algo;  /* [conv2d] path: auto, gemm, fft or direct */
    /* Let timing choose the convolution paths and matrix products (auto), although the
     * bits then depend on it; off: every choice is made by rule (same bits every run). */
    bool fast;
    /* Choices to make as another run made them (--replay, --resume): per model layer a
     * convolution path (LP_CONV_ALGO_AUTO: choose), and GEMM choices as
     * lp_gemm_choices_text writes them. NULL: none. */
    const lp_conv_algo *replay_conv;
    const char *replay_gemm;
    long long snapshot_every;   /* also snapshot every N steps (0: at epoch ends only) */
    long long checkpoint_every; /* also checkpoint every N steps (0: epoch ends and stops) */
    /* Also evaluate the test set every N global steps, into /evals (0: at epoch ends only). */
    long long eval_every;
    /* Keep the best evaluation's network in the results file (/best). */
    bool save_best;
    /* Continue from a checkpoint: the results file is rebuilt from `source` up to it. */
    const struct lp_train_resume *resume;
    /* More root attributes to record (the flags and environment variables that steer
     * the choices); the trainer writes its own after them. */
    const lp_attr *extra_attrs;
    int n_extra_attrs;
    const char *out_path;     /* HDF5 results; NULL: none */
    const char *command_line; /* stored in the results file (NULL: stored as "") */
    /* The dataset format's name and folder, stored in the results file (NULL: ""). */
    const char *dataset, *data_dir;
    volatile sig_atomic_t *stop; /* set asynchronously (SIGINT) to stop cleanly */
    /* Data-parallel across the ranks of an MPI job (laperm/dist.h): `batch` is the global
     * batch, each rank trains on its share of it and evaluates its share of the test set;
     * every rank calls lp_train with the same configuration, and only the one given an
     * out_path (rank 0) writes. NULL: this process alone. */
    lp_dist *dist;
} lp_train_config;

typedef struct lp_train_resume {
    const char *source;               /* the results file or .part the checkpoint is in */
    lp_results_checkpoint checkpoint; /* its newest valid checkpoint */
} lp_train_resume;

/* Defaults: LaPerm over the table's first optimizer (Adam), every hyper-parameter at its
 * table default, Lookahead off (la_k 5, la_alpha 0.5 when on), no weight decay, the first
 * loss, k 250 without a schedule, 10 epochs, batch 128, eval batch 0 (auto), lr 1e-3
 * constant, seed 1, L2 as in the model file, no normalisation or augmentation, conv
 * algorithm auto, no results file. */
void lp_train_config_defaults(lp_train_config *c);

/* What the results file records as `optimizer`: LP_OPTIMIZER_LAPERM, else
 * LP_OPTIMIZER_LOOKAHEAD with Lookahead on, else the inner optimizer's name. */
const char *lp_train_optimizer_name(const lp_train_config *c);

typedef struct {
    int epoch, epochs;
    int step_in_epoch, steps_per_epoch;
    long long step;
    double loss, accuracy; /* running means over this epoch so far (regression: accuracy
                              is the mean absolute error) */
    bool regression;
    double images_per_second;
    double eta_seconds; /* training time left, evaluation excluded */
} lp_progress;

typedef struct {
    /* Called after a step once 0.25 s or more have passed since the last call (it
     * reads back the running statistics, so not after every step). */
    void (*on_progress)(void *ctx, const lp_progress *p);
    /* Called after each epoch's evaluation. */
    void (*on_epoch)(void *ctx, const lp_epoch_metrics *m, int epochs);
    /* Called after each evaluation every eval_every steps; may be NULL. */
    void (*on_eval)(void *ctx, const lp_eval_metrics *e);
    void *ctx;
    /* Called at set-up with one line per [conv2d] on the path it got, and with warnings;
     * may be NULL. */
    void (*on_note)(void *ctx, bool warning, const char *line);
} lp_train_callbacks;

typedef struct {
    /* The best over every evaluation (epoch ends and eval_every points) and the last epoch
     * end's; LaPerm: of the permuted network. best_step 0: no evaluation was made. */
    double best_test_accuracy, final_test_accuracy;
    double best_unsynced_accuracy; /* LaPerm: of the inner optimizer's weights (epoch ends) */
    /* The test loss of the best evaluation and at the last epoch end, the final test MAE
     * (regression, which ranks evaluations by the lowest test loss; its accuracies are
     * NaN). */
    double best_test_loss, final_test_loss, final_test_mae;
    int best_epoch, epochs_done;
    long long best_step;
    long long steps, syncs;
    double train_seconds, images_per_second;
    bool interrupted;
    /* A non-finite loss, gradient or weight stopped the run at diverged_step (what: the
     * quantity and tensor); the file keeps the last good checkpoint, status "diverged". */
    bool diverged;
    long long diverged_step;
    char diverged_what[160];
    /* lp_train entry to the end of set-up (network, buffers, uploads, results file) */
    double startup_seconds;
    double first_step_seconds; /* lp_train entry to the first step completed (builds incl.) */
} lp_train_result;

lp_status lp_train(lp_runtime *rt, const lp_model_spec *model, const lp_dataset *train,
                   const lp_dataset *test, const lp_train_config *cfg, const lp_train_callbacks *cb,
                   lp_train_result *result);

#endif
