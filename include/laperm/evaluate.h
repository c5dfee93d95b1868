/* Evaluating a network given by its weights (laperm/weights.h) on a dataset: the loss,
 * the accuracy (regression: mean absolute error) and every sample's outputs, computed by
 * the trainer's own evaluation (host/feed.c), so a results file's network evaluated with
 * the run's settings gives the accuracy the run recorded, bit for bit. */
#ifndef LAPERM_EVALUATE_H
#define LAPERM_EVALUATE_H

#include "laperm/data.h"
#include "laperm/model.h"
#include "laperm/network.h"
#include "laperm/runtime.h"
#include "laperm/train.h"
#include "laperm/weights.h"

/* How to evaluate: what a run records (its results file's attributes of the same names)
 * reproduces its evaluation exactly. Zeroed: the model's loss (else the table's first),
 * no normalisation, the automatic batch, convolutions and GEMMs by rule. */
typedef struct {
    const lp_loss *loss;
    lp_norm_mode norm; /* statistics from norm_from, as training took them */
    int eval_batch;    /* samples per forward pass; 0: lp_eval_batch_auto */
    int tune_batch;    /* the training batch convolutions were planned for; 0: eval_batch */
    lp_conv_algo conv_algo;
    bool fast;                      /* choices by timing instead of by rule */
    const lp_conv_algo *layer_algo; /* per model layer, a path to take (NULL: choose) */
    const char *replay_gemm;        /* GEMM choices as lp_gemm_choices_text writes them */
    bool partial_state;             /* missing BatchNorm statistics keep a new network's */
    const char *weights_name;       /* where w came from, for messages (NULL: "the weights") */
} lp_eval_config;

typedef struct {
    int n;       /* samples */
    int outputs; /* per sample: classes, or regression targets */
    bool regression;
    double loss;     /* mean loss (regression: MSE) */
    double accuracy; /* classification: fraction correct; regression: NaN */
    double mae;      /* regression: mean absolute error; classification: NaN */
    float *logits;   /* (n, outputs), malloc'd */
} lp_eval_result;

/* The trainer's automatic evaluation batch: as many samples as fit a quarter of the
 * device's memory (at most 1 GiB of activations and their gradients; 256 MiB on a CPU),
 * capped at 1000, never below train_batch. */
int lp_eval_batch_auto(const lp_model_spec *m, const lp_runtime *rt, int train_batch);

/* The data's sample shape must be the model's [input]: else LP_ERR_INVALID_ARG naming both
 * (and where the data came from). */
lp_status lp_eval_check_input(const lp_model_spec *m, const lp_dataset *d);

/* Evaluates model m with weights w on `data` (normalised with the statistics of
 * norm_from, NULL: data's own). Every trainable tensor and BatchNorm statistic must be in
 * w with its shape (the error names the layer, the tensor and both shapes). */
lp_status lp_evaluate(lp_runtime *rt, const lp_model_spec *m, const lp_weights *w,
                      const lp_dataset *norm_from, const lp_dataset *data, const lp_eval_config *c,
                      lp_eval_result *out);
void lp_eval_result_free(lp_eval_result *r);

#endif
