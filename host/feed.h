/* Internal: a dataset on the device and the batches fed from it, as training and every
 * evaluation (the trainer's, `laperm eval`, `laperm predict`) share them: the same
 * uploads (pixels as bytes, divided on the device), the same normalisation and the same
 * evaluation loop, so an evaluation outside training computes the trainer's bits. */
#ifndef LAPERM_FEED_H
#define LAPERM_FEED_H

#include "laperm/augment.h"
#include "laperm/data.h"
#include "laperm/network.h"
#include "laperm/train.h"

/* Copies ds to the device: x (bytes, or floats when x_real), int32 labels y, regression
 * targets tg (left NULL otherwise) and an order buffer idx of n entries (identity_idx:
 * 0..n-1, else left for the caller to fill). */
lp_status lp_feed_upload(lp_runtime *rt, const lp_dataset *ds, cl_mem *x, cl_mem *y, cl_mem *tg,
                         cl_mem *idx, bool identity_idx);

/* The normalisation statistics of `train` (lp_dataset_norm) on the device. */
lp_status lp_feed_norm(lp_runtime *rt, const lp_dataset *train, lp_norm_mode mode, cl_mem *mean,
                       cl_mem *inv_std);

/* What a batch is built into: the network's input, the batch's labels and (regression)
 * targets, normalised by norm_mean and norm_inv_std. */
typedef struct {
    lp_runtime *rt;
    lp_network *net;
    lp_shape input;
    bool x_real;
    int outputs; /* regression: targets per sample; 0: classification */
    cl_mem norm_mean, norm_inv_std;
    cl_mem batch_y, batch_t;
} lp_feed;

/* Rows [first, first + n) of the order idx of the data (x, y, targets tg) into the
 * network's input, batch_y and (regression) batch_t, augmented by `a` (NULL: none). */
lp_status lp_feed_batch(const lp_feed *f, const lp_augment_spec *a, uint64_t seed, int epoch,
                        cl_mem x, cl_mem y, cl_mem tg, cl_mem idx, int first, int n);

/* Evaluates the network's current parameters on the first n samples of (x, y, tg) in
 * the order idx, eval_batch at a time: the mean loss and second statistic (accuracy;
 * regression: mean absolute error), summed on the device into stats[stats_off] and
 * stats[stats_off + 1]. logits, unless NULL, receives the outputs (n, classes). */
lp_status lp_feed_evaluate(const lp_feed *f, const lp_loss *loss, int eval_batch, cl_mem x,
                           cl_mem y, cl_mem tg, cl_mem idx, int n, cl_mem stats, int stats_off,
                           float *logits, double *mean_loss, double *mean_stat);

/* The same over rows [first_row, first_row + n) of the order idx, leaving the two sums
 * (loss, second statistic) in sums: a rank's share of a test set, summed over ranks by
 * the caller. logits (unless NULL) receives the n rows' outputs. */
lp_status lp_feed_evaluate_rows(const lp_feed *f, const lp_loss *loss, int eval_batch, cl_mem x,
                                cl_mem y, cl_mem tg, cl_mem idx, int first_row, int n, cl_mem stats,
                                int stats_off, float *logits, float sums[2]);

#endif
