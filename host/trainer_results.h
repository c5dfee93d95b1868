/* Internal: the trainer's side of the HDF5 results file. */
#ifndef LAPERM_TRAINER_RESULTS_H
#define LAPERM_TRAINER_RESULTS_H

#include "laperm/results.h"
#include "trainer-impl.h"

lp_status lp_trainer_results_open_(lp_trainer_ *t, const lp_model_spec *model, lp_results **out);
/* Metrics (unless m is NULL), and for LaPerm the rankings of the projected network
 * (snapshot_epoch 0: taken mid-epoch). */
lp_status lp_trainer_results_epoch_(lp_trainer_ *t, lp_results *r, const lp_epoch_metrics *m,
                                    int snapshot_epoch);
lp_status lp_trainer_results_finish_(lp_trainer_ *t, lp_results *r, bool interrupted);

#endif
