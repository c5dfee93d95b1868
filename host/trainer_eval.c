/* Evaluations of the test set, at epoch ends and every eval_every steps: the inner
 * optimizer's weights and LaPerm's projection, the best evaluation so far and, with
 * save_best, its network. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/clock.h"
#include "trainer-impl.h"
#include "trainer_results.h"

lp_status lp_trainer_evaluate_both_(lp_trainer_ *t, int test_n, bool synced, double *loss,
                                    double *acc, double *loss_unsynced, double *acc_unsynced) {
    /* The weights as the inner optimizer left them (what a Keras-style loop would
     * evaluate); for LaPerm they are not a permutation of the initial weights. */
    LP_TRY(lp_trainer_evaluate_(t, test_n, loss_unsynced, acc_unsynced));
    /* LaPerm: evaluate the network a sync would produce now (a true permutation of
     * the initial weights), without disturbing the training state. */
    LP_TRY(lp_trainer_project_(t));
    /* Right after a sync of every permuted tensor the projection is the current
     * network bit for bit, so its evaluation would repeat the one above. */
    cl_mem saved = t->n_perm && !synced ? lp_network_swap_params(t->net, t->eval_params) : NULL;
    lp_status s = LP_OK;
    if (saved) {
        s = lp_trainer_evaluate_(t, test_n, loss, acc);
        lp_network_swap_params(t->net, saved);
    } else {
        *loss = *loss_unsynced;
        *acc = *acc_unsynced;
    }
    return s;
}

void lp_trainer_split_mae_(const lp_trainer_ *t, double *acc, double *mae) {
    if (t->outputs > 0) {
        *mae = *acc;
        *acc = NAN;
    } else {
        *mae = NAN;
    }
}

/* Whether an evaluation beats the best so far: the higher test accuracy, or for a
 * regression loss (whose accuracy is NaN) the lower test loss; on a tie the earlier
 * evaluation stays. This is the one place that says what "best" means. */
bool lp_trainer_better_(const lp_trainer_ *t, const lp_results_best *best, double acc,
                        double loss) {
    if (best->step == 0) return true;
    return t->outputs > 0 ? loss < best->test_loss : acc > best->test_accuracy;
}

lp_status lp_trainer_best_alloc_(lp_trainer_ *t) {
    size_t n_state = lp_network_state_floats(t->net);
    t->best_w = calloc(t->n_params + 1, sizeof(float));
    t->best_state = calloc(n_state + 1, sizeof(float));
    if (!t->best_w || !t->best_state) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    return LP_OK;
}

lp_status lp_trainer_offer_best_(lp_trainer_ *t, lp_results *r, int epoch, double acc,
                                 double loss) {
    if (!lp_trainer_better_(t, &t->best, acc, loss)) return LP_OK;
    t->best =
        (lp_results_best){.step = t->step, .epoch = epoch, .test_accuracy = acc, .test_loss = loss};
    if (!t->cfg->save_best) return LP_OK;
    LP_TRY(lp_trainer_results_keep_best_(t));
    return r ? lp_trainer_results_write_best_(t, r) : LP_OK;
}

lp_status lp_trainer_eval_point_(lp_trainer_ *t, lp_results *r, const lp_dataset *test, int epoch,
                                 const lp_train_callbacks *cb) {
    lp_eval_metrics e = {.step = t->step, .epoch = epoch, .synced = lp_trainer_sync_due_(t)};
    LP_TRY(lp_trainer_evaluate_both_(t, test->n, e.synced, &e.test_loss, &e.test_accuracy,
                                     &e.test_loss_unsynced, &e.test_accuracy_unsynced));
    lp_trainer_split_mae_(t, &e.test_accuracy, &e.test_mae);
    lp_trainer_split_mae_(t, &e.test_accuracy_unsynced, &e.test_mae_unsynced);
    e.elapsed_seconds = lp_seconds() - t->run_start;
    if (r) LP_TRY(lp_results_append_eval(r, &e));
    LP_TRY(lp_trainer_offer_best_(t, r, epoch, e.test_accuracy, e.test_loss));
    if (cb && cb->on_eval) cb->on_eval(cb->ctx, &e);
    return LP_OK;
}
