/* Internal: the trainer's side of the HDF5 results file. */
#ifndef LAPERM_TRAINER_RESULTS_H
#define LAPERM_TRAINER_RESULTS_H

#include "laperm/results.h"
#include "trainer-impl.h"

#define LP_TRAINER_MAX_ATTRS_ 128

/* What identifies the data a run trained on: image counts and content hashes (hex). */
typedef struct {
    long long train_n, test_n;
    char train_hash[24], test_hash[24];
} lp_train_data_ids_;

/* The root attributes of a run (the caller's extra ones first); string values may point
 * into scratch. */
lp_status lp_trainer_attrs_(const lp_trainer_ *t, const lp_model_spec *model,
                            const lp_train_data_ids_ *ids, lp_attr *out, int cap, int *n_out,
                            char *scratch, size_t scratch_cap);
lp_results_checkpoint_size lp_trainer_checkpoint_size_(const lp_trainer_ *t);
lp_status lp_trainer_results_open_(lp_trainer_ *t, const lp_model_spec *model,
                                   const lp_train_data_ids_ *ids, lp_results **out);
/* Metrics (unless m is NULL), then a snapshot of the projected network (fresh from
 * lp_trainer_project_) and the state tensors (snapshot_epoch 0: taken mid-epoch). */
lp_status lp_trainer_results_epoch_(lp_trainer_ *t, lp_results *r, const lp_epoch_metrics *m,
                                    int snapshot_epoch);
/* The projected network (fresh from lp_trainer_project_) and the state tensors into
 * t->best_w and t->best_state. */
lp_status lp_trainer_results_keep_best_(lp_trainer_ *t);
/* /best from t->best_w, t->best_state and t->best. */
lp_status lp_trainer_results_write_best_(lp_trainer_ *t, lp_results *r);
/* /weights from the projected network, the GEMM choices, the status; always consumes r. */
lp_status lp_trainer_results_finish_(lp_trainer_ *t, lp_results *r, const lp_train_result *res);

#endif
