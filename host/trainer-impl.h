/* Internal: a run's state, shared by the loop (trainer.c), its set-up and LaPerm
 * operations (trainer_state.c), its evaluations (trainer_eval.c) and the results file
 * (trainer_results.c). */
#ifndef LAPERM_TRAINER_IMPL_H
#define LAPERM_TRAINER_IMPL_H

#include "laperm/laperm_sync.h"
#include "laperm/network.h"
#include "laperm/results.h"
#include "laperm/train.h"

/* Philox streams (README, "Reproducibility"): tensor t initialises from stream t; the
 * data order of epoch e (0-based) comes from stream LP_STREAM_SHUFFLE + e. */
#define LP_STREAM_SHUFFLE 0x40000000u

/* Optimizer state buffers a run may keep: the inner optimizer's, and Lookahead's. */
#define LP_TRAINER_MAX_STATE_ (LP_OPTIMIZER_MAX_STATE + 1)

typedef struct {
    int tensor; /* index into the network's tensor table */
    int groups, group_size;
} lp_perm_group_;

typedef struct {
    lp_runtime *rt;
    const lp_train_config *cfg;
    lp_network *net; /* sized for max(training batch, evaluation batch) */
    int eval_batch;  /* samples per evaluation forward pass */
    const lp_param_tensor *tensors;
    int n_tensors;
    size_t n_params;

    float *init_host;        /* initial values (n_params), kept for the results file */
    char init_from_hash[17]; /* --init-from: hash of the values loaded (results file) */
    char init_values_text[LP_INIT_VALUES_MAX * 24]; /* --init-values as recorded: "-1,1" */
    cl_mem theta_sorted; /* same layout as the parameters; permuted tensors only */
    /* the optimizer's state, in the checkpoint's order: the inner optimizer's buffers
     * (Adam's moments, SGD's velocities), then Lookahead's slow weights when it is on;
     * NULL past the last (lp_trainer_state_buffers_) */
    cl_mem opt_state[LP_TRAINER_MAX_STATE_];
    cl_mem eval_params; /* projected copy evaluated at epoch ends and eval_every points */
    cl_mem rank;        /* int32 rankings, parameter layout */
    lp_segsort *sorter;
    lp_perm_group_ *perm;
    int n_perm;

    /* data on the device: bytes (floats when x_real) and int labels; idx is this epoch's
     * order */
    cl_mem train_x, train_y, train_idx, test_x, test_y, test_idx;
    cl_mem batch_y; /* labels of the current batch */
    /* regression: float targets (n, outputs) and the current batch's; x_real: the data
     * are floats on the device instead of bytes */
    cl_mem train_t, test_t, batch_t;
    int outputs; /* regression: targets per sample; 0: classification */
    bool x_real;
    cl_mem norm_mean, norm_inv_std; /* per-feature input normalisation */
    /* per step (loss sum, correct; regression: absolute-error sum) of this epoch, then
     * eval sums */
    cl_mem stats;
    int steps_per_epoch;
    lp_shape input_shape;
    uint32_t *order_host;

    long long step, syncs;
    int epoch;              /* the epoch under way (0-based): k's, under --k-steps */
    double run_start;       /* monotonic time lp_train started (for elapsed_seconds) */
    double first_step_done; /* monotonic time the first step finished */

    /* The best evaluation so far (best.step 0: none yet) and, with save_best, its network
     * on the host: projected parameters (parameter layout) and state tensors. */
    lp_results_best best;
    float *best_w, *best_state;

    cl_mem guard; /* the divergence guard's flag (cl/guard.cl) */
    /* The last checkpoint, on the host: what a diverged run goes back to (its arrays are
     * reused by each checkpoint, written only after the guard has passed). */
    lp_results_checkpoint ckpt;
    bool have_ckpt;
    /* Host scratch for snapshots: parameters, rankings, state (each n floats/ints). */
    float *snap_w, *snap_state;
    int32_t *snap_rank;

    /* Across the ranks of an MPI job (trainer_dist.c; cfg->dist, NULL: one process) */
    int batch_local;       /* the most rows of a global batch one rank takes */
    float *exchange;       /* gradients, state, the step's statistics, the stop flag */
    size_t *bucket_bounds; /* the gradient buckets' limits, and their reads' events */
    cl_event *bucket_reads;
    bool stop_agreed;    /* a rank asked to stop, as the last exchange told every rank */
    long long exchanges; /* steps exchanged in this process */
    unsigned long long exchange_bytes; /* bytes this rank sent in them */
    char devices[4096];                /* every rank's device, "0: A; 1: B" ("" for one process) */
} lp_trainer_;

/* The run's optimizer state buffers (each n_params floats): the inner optimizer's, plus
 * one (the slow weights, last) with Lookahead. */
int lp_trainer_state_buffers_(const lp_train_config *c);
/* The inner optimizer's own buffers among them. */
int lp_trainer_inner_buffers_(const lp_train_config *c);

lp_status lp_trainer_setup_(lp_trainer_ *t, const lp_dataset *train, const lp_dataset *test);
void lp_trainer_release_(lp_trainer_ *t);
/* Project the current parameters into eval_params (a LaPerm sync into a copy) and fill
 * `rank`; does nothing when no tensor is permuted (plain optimizers). */
lp_status lp_trainer_project_(lp_trainer_ *t);
/* In-place LaPerm sync of every permuted tensor. */
lp_status lp_trainer_sync_(lp_trainer_ *t);
/* Whether the step just made (t->step, in t->epoch) ends with a sync (step % k(epoch) ==
 * 0): the loop syncs then, and an evaluation then finds the network equal to its
 * projection. */
bool lp_trainer_sync_due_(const lp_trainer_ *t);
/* Evaluates the network's current parameters on the first test_n test samples: mean
 * loss and accuracy (regression: mean absolute error). (To evaluate eval_params, swap
 * them in first.) */
lp_status lp_trainer_evaluate_(lp_trainer_ *t, int test_n, double *loss, double *acc);
/* Batch rows [first, first + n) of the order `idx` of the data (x, y, targets t) into the
 * network's input, batch_y and (regression) batch_t, augmented by `a` (NULL: none). */
lp_status lp_trainer_batch_(lp_trainer_ *t, const lp_augment_spec *a, int epoch, cl_mem x, cl_mem y,
                            cl_mem tg, cl_mem idx, int first, int n);

/* Evaluations (trainer_eval.c). The test set on the inner optimizer's weights
 * (*_unsynced), then on the projection, which is left in eval_params and rank; when the
 * network is its own projection (no permuted tensor, or `synced`: right after a sync) one
 * evaluation serves both. Training state is not disturbed. */
lp_status lp_trainer_evaluate_both_(lp_trainer_ *t, int test_n, bool synced, double *loss,
                                    double *acc, double *loss_unsynced, double *acc_unsynced);
/* The second statistic of a loss (lp_loss.run) as it goes into the metrics: for a
 * regression loss the mean absolute error, moved from *acc to *mae (*acc, meaningless
 * there, becomes NaN); for classification the accuracy stays and *mae is NaN. */
void lp_trainer_split_mae_(const lp_trainer_ *t, double *acc, double *mae);
/* Whether an evaluation (its test accuracy and loss) beats `best`: the one rule of "best"
 * (trainer_eval.c). */
bool lp_trainer_better_(const lp_trainer_ *t, const lp_results_best *best, double acc, double loss);
/* Host buffers for the best network (with save_best). */
lp_status lp_trainer_best_alloc_(lp_trainer_ *t);
/* Offers an evaluation made just now (eval_params fresh) as the best so far; a better one
 * becomes t->best and, with save_best, its network is kept (on the host, and in /best when
 * r is not NULL). */
lp_status lp_trainer_offer_best_(lp_trainer_ *t, lp_results *r, int epoch, double acc, double loss);
/* An evaluation every eval_every steps: /evals (r not NULL), the best, the callback. */
lp_status lp_trainer_eval_point_(lp_trainer_ *t, lp_results *r, const lp_dataset *test, int epoch,
                                 const lp_train_callbacks *cb);

/* Across ranks (trainer_dist.c). Whether this process trains as one rank of several. */
bool lp_trainer_distributed_(const lp_trainer_ *t);
/* Whether the run should stop before its next step: the stop flag of this process, or
 * under MPI the one every rank agreed on at the last exchange (a signal reaches the ranks
 * at different steps). */
bool lp_trainer_stop_requested_(const lp_trainer_ *t);
/* Step s's backward pass over this rank's `rows` (0: none, its gradients are zero) and,
 * overlapping it, the exchange: the gradients and the step's loss statistics summed over
 * ranks, the state tensors (BatchNorm's running statistics) averaged, the stop flags
 * combined; every rank then holds the same bits. */
lp_status lp_trainer_backward_exchange_(lp_trainer_ *t, int s, int rows);
/* Stops the job with LP_ERR_MPI naming the ranks when the ranks' parameters and state
 * tensors differ (`when`: "after the sync at step 250"). */
lp_status lp_trainer_agree_(lp_trainer_ *t, const char *when);
/* Every rank's device into t->devices (a collective: every rank calls it). */
lp_status lp_trainer_gather_devices_(lp_trainer_ *t);

/* The run's state into c (its arrays allocated on first use, sized by z): parameters,
 * optimizer state, state tensors, this epoch's step statistics, GEMM choices, step,
 * syncs and the best evaluation (with save_best, its network). The caller sets the
 * position (epoch, step_in_epoch, samples). */
lp_status lp_trainer_checkpoint_read_(lp_trainer_ *t, const lp_results_checkpoint_size *z,
                                      lp_results_checkpoint *c);
/* Puts a checkpoint's state back on the device, step and syncs included (not the best
 * evaluation: a resume takes it from the checkpoint, trainer.c's resume_best_, while a
 * diverged run going back keeps the evaluations it made since). */
lp_status lp_trainer_restore_(lp_trainer_ *t, const lp_results_checkpoint *c);

#endif
