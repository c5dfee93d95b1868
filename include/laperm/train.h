/* Training: the inner optimizer (Adam or SGD with momentum) and, for LaPerm, the sync
 * every k steps; evaluation each epoch; metrics, rankings and weights to HDF5. */
#ifndef LAPERM_TRAIN_H
#define LAPERM_TRAIN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "laperm/augment.h"
#include "laperm/data.h"
#include "laperm/model.h"
#include "laperm/network.h"
#include "laperm/results.h"
#include "laperm/runtime.h"
#include "laperm/schedule.h"

typedef enum { LP_OPT_ADAM, LP_OPT_SGD } lp_inner_optimizer;

typedef struct {
    bool laperm;              /* permute every k steps (else plain inner optimizer) */
    lp_inner_optimizer inner; /* the optimizer between syncs */
    int k;                    /* sync period in steps */
    bool perm_bias;           /* also permute biases (the authors' F1/F2/Conv7 runs) */
    bool perm_bn;             /* also permute BatchNorm gamma and beta */
    bool per_tensor_scope;    /* one group per tensor instead of per output unit */
    int epochs, batch, eval_batch;
    lp_lr_schedule lr;
    double beta1, beta2, eps; /* Adam */
    double momentum;          /* SGD */
    double l2_scale;          /* multiplies every layer's l2 (0 switches L2 off) */
    uint64_t seed;
    long long max_steps;      /* stop after this many steps (0: no limit) */
    lp_norm_mode norm;        /* input normalisation, statistics from the training set */
    lp_augment_spec augment;  /* training-time augmentation on the device (zeros: none) */
    lp_conv_algo conv_algo;   /* [conv2d] path: auto (timed per layer), gemm or fft */
    const char *out_path;     /* HDF5 results; NULL: none */
    const char *command_line; /* stored in the results file */
    const char *dataset, *data_dir; /* recorded in the results file (may be NULL) */
    volatile sig_atomic_t *stop; /* set asynchronously (SIGINT) to stop cleanly */
} lp_train_config;

/* Defaults: LaPerm over Adam (0.9, 0.999, 1e-7), k 250, 10 epochs, batch 128, eval
 * batch 0 (auto: up to 1000 as device memory allows), lr 1e-3, seed 1, L2 as in the
 * model file, conv algorithm auto. */
void lp_train_config_defaults(lp_train_config *c);

typedef struct {
    int epoch, epochs;
    int step_in_epoch, steps_per_epoch;
    long long step;
    double loss, accuracy; /* running means over this epoch so far */
    double images_per_second;
    double eta_seconds; /* training time left, evaluation excluded */
} lp_progress;

typedef struct {
    /* Called about every 0.25 s during an epoch (reads back the running statistics). */
    void (*on_progress)(void *ctx, const lp_progress *p);
    /* Called after each epoch's evaluation. */
    void (*on_epoch)(void *ctx, const lp_epoch_metrics *m, int epochs);
    void *ctx;
    /* Called at set-up with one line per [conv2d] on the path it got, and with warnings;
     * may be NULL. */
    void (*on_note)(void *ctx, bool warning, const char *line);
} lp_train_callbacks;

typedef struct {
    double best_test_accuracy, final_test_accuracy; /* LaPerm: of the permuted network */
    double best_unsynced_accuracy; /* LaPerm: of the inner optimizer's weights */
    int best_epoch, epochs_done;
    long long steps, syncs;
    double train_seconds, images_per_second;
    bool interrupted;
    double startup_seconds;    /* lp_train entry to the end of setup (buffers, uploads) */
    double first_step_seconds; /* lp_train entry to the first step completed (builds incl.) */
} lp_train_result;

lp_status lp_train(lp_runtime *rt, const lp_model_spec *model, const lp_dataset *train,
                   const lp_dataset *test, const lp_train_config *cfg,
                   const lp_train_callbacks *cb, lp_train_result *result);

#endif
