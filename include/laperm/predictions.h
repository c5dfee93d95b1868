/* The predictions file of `laperm eval --out` and `laperm predict --out` (HDF5; README,
 * "laperm eval"): per sample the outputs, the predicted class and (when known) the label,
 * and the confusion matrix, with attributes naming the weights, the data and the scores. */
#ifndef LAPERM_PREDICTIONS_H
#define LAPERM_PREDICTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "laperm/results.h"
#include "laperm/status.h"

typedef struct {
    int n, outputs;        /* samples; outputs per sample (classes, or regression targets) */
    bool regression;       /* outputs are values: no predicted class or confusion matrix */
    const float *logits;   /* (n, outputs) */
    const uint8_t *labels; /* n class labels, or NULL (unlabeled inputs) */
    const float *targets;  /* regression: (n, outputs) targets, or NULL */
    const lp_attr *attrs;  /* root attributes */
    int n_attrs;
} lp_predictions;

/* The class a row of logits predicts: the first largest value (as the loss counts it). */
int lp_predicted_class(const float *logits, int outputs);

/* Writes <path>.part and renames it to path. Datasets: `logits` float32 (n, outputs); for
 * classification `predicted` int32 (n,), and with labels `labels` int32 (n,) and
 * `confusion` int64 (outputs, outputs), rows the true label, columns the prediction; for
 * regression with targets `targets` float32 (n, outputs). */
lp_status lp_predictions_write(const char *path, const lp_predictions *p);

#endif
