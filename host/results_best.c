/* /best: the best evaluation's complete network (--save-best), laid out as /weights
 * (/best/<layer>/<tensor>, BatchNorm running statistics included). Fixed-size datasets
 * created with the file and overwritten in place in SWMR mode; the attribute `valid` is
 * cleared before a rewrite and set after it, with the evaluation's step, epoch,
 * test_accuracy and test_loss, so a kill mid-write never leaves a mixed network marked
 * valid. */
#include <stdio.h>

#include "results_impl.h"

static lp_status create_one_(lp_results *r, lp_results_tensor_state *t) {
    char name[512];
    snprintf(name, sizeof name, "/best/%s/%s", t->layer, t->tensor);
    t->best_ds = lp_h5_create_ds(r->file, name, H5T_IEEE_F32LE, t->rank, t->dims, NULL, false);
    return t->best_ds < 0 ? lp_h5_fail(LP_ERR_HDF5, "%s", name) : LP_OK;
}

lp_status lp_results_best_create(lp_results *r) {
    if (!r->has_best) return LP_OK;
    for (int i = 0; i < r->n_tensors; ++i)
        LP_TRY(create_one_(r, &r->t[i]));
    for (int i = 0; i < r->n_state; ++i)
        LP_TRY(create_one_(r, &r->state[i]));
    if (!r->n_tensors && !r->n_state) {
        hid_t g = H5Gcreate2(r->file, "/best", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0) return lp_h5_fail(LP_ERR_HDF5, "/best");
        H5Gclose(g);
    }
    r->best_group = H5Gopen2(r->file, "/best", H5P_DEFAULT);
    if (r->best_group < 0) return lp_h5_fail(LP_ERR_HDF5, "/best");
    /* Created now: SWMR writing can give attributes new values but cannot add them. */
    LP_TRY(lp_h5_attr_int(r->best_group, "valid", 0));
    LP_TRY(lp_h5_attr_int(r->best_group, "step", 0));
    LP_TRY(lp_h5_attr_int(r->best_group, "epoch", 0));
    LP_TRY(lp_h5_attr_double(r->best_group, "test_accuracy", 0.0));
    return lp_h5_attr_double(r->best_group, "test_loss", 0.0);
}

static lp_status write_one_(lp_results *r, const lp_results_tensor_state *t, const float *v) {
    if (H5Dwrite(t->best_ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0 ||
        H5Dflush(t->best_ds) < 0)
        return lp_h5_fail(LP_ERR_HDF5, "%s: /best/%s/%s", r->part, t->layer, t->tensor);
    return LP_OK;
}

lp_status lp_results_write_best(lp_results *r, const lp_results_best *b, const float *const *w,
                                const float *const *state) {
    lp_h5_quiet();
    if (!r || !b || !r->has_best || (r->n_tensors && !w) || (r->n_state && !state))
        return lp_fail(LP_ERR_INVALID_ARG,
                       "lp_results_write_best: NULL argument, or a file created without /best");
    for (int i = 0; i < r->n_tensors; ++i)
        if (!w[i])
            return lp_fail(LP_ERR_INVALID_ARG, "%s: no best values for %s/%s", r->part,
                           r->t[i].layer, r->t[i].tensor);
    for (int i = 0; i < r->n_state; ++i)
        if (!state[i])
            return lp_fail(LP_ERR_INVALID_ARG, "%s: no best values for state %s/%s", r->part,
                           r->state[i].layer, r->state[i].tensor);
    long long zero = 0, one = 1, epoch = b->epoch;
    hid_t g = r->best_group;
    LP_TRY(lp_h5_attr_rewrite(g, "valid", H5T_NATIVE_LLONG, &zero));
    LP_TRY(lp_results_flush(r));
    for (int i = 0; i < r->n_tensors; ++i)
        LP_TRY(write_one_(r, &r->t[i], w[i]));
    for (int i = 0; i < r->n_state; ++i)
        LP_TRY(write_one_(r, &r->state[i], state[i]));
    LP_TRY(lp_results_flush(r));
    LP_TRY(lp_h5_attr_rewrite(g, "step", H5T_NATIVE_LLONG, &b->step));
    LP_TRY(lp_h5_attr_rewrite(g, "epoch", H5T_NATIVE_LLONG, &epoch));
    LP_TRY(lp_h5_attr_rewrite(g, "test_accuracy", H5T_NATIVE_DOUBLE, &b->test_accuracy));
    LP_TRY(lp_h5_attr_rewrite(g, "test_loss", H5T_NATIVE_DOUBLE, &b->test_loss));
    LP_TRY(lp_h5_attr_rewrite(g, "valid", H5T_NATIVE_LLONG, &one));
    return lp_results_flush(r);
}
