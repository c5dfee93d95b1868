/* The predictions file (laperm/predictions.h). */
#include "laperm/predictions.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>

#include "out_file.h"
#include "results_h5.h"

int lp_predicted_class(const float *logits, int outputs) {
    int best = 0;
    float m = logits[0];
    for (int c = 1; c < outputs; ++c)
        if (logits[c] > m) m = logits[c], best = c;
    return best;
}

static lp_status write_(hid_t f, const char *name, hid_t type, int rank, hsize_t d0, hsize_t d1,
                        const void *data, const char *part) {
    hsize_t dims[2] = {d0, d1};
    hid_t ds = lp_h5_create_ds(f, name, type, rank, dims, NULL, false);
    if (ds < 0) return lp_h5_fail(LP_ERR_HDF5, "%s: creating %s", part, name);
    herr_t e = H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(ds);
    return e < 0 ? lp_h5_fail(LP_ERR_HDF5, "%s: writing %s", part, name) : LP_OK;
}

static lp_status attrs_(hid_t f, const lp_attr *a, int n) {
    for (int i = 0; i < n; ++i) {
        if (a[i].type == LP_ATTR_STRING)
            LP_TRY(lp_h5_attr_str(f, a[i].name, a[i].s ? a[i].s : ""));
        else if (a[i].type == LP_ATTR_INT)
            LP_TRY(lp_h5_attr_int(f, a[i].name, a[i].i));
        else
            LP_TRY(lp_h5_attr_double(f, a[i].name, a[i].d));
    }
    return LP_OK;
}

lp_status lp_predictions_write(const char *path, const lp_predictions *p) {
    if (!p || p->n < 1 || p->outputs < 1 || !p->logits)
        return lp_fail(LP_ERR_INVALID_ARG, "%s: no predictions to write", path);
    char part[4200];
    LP_TRY(lp_out_file_begin(path, part, sizeof part));
    lp_h5_quiet();
    hid_t f = H5Fcreate(part, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return lp_h5_fail(LP_ERR_IO, "%s: cannot create", part);
    size_t n = (size_t)p->n, k = (size_t)p->outputs;
    int32_t *pred = malloc(n * sizeof *pred), *lab = malloc(n * sizeof *lab);
    int64_t *conf = calloc(k * k, sizeof *conf);
    lp_status s = pred && lab && conf ? LP_OK : lp_fail(LP_ERR_NO_MEMORY, "out of memory");
    if (s == LP_OK) s = write_(f, "logits", H5T_NATIVE_FLOAT, 2, n, k, p->logits, part);
    if (s == LP_OK && !p->regression) {
        for (size_t i = 0; i < n; ++i)
            pred[i] = lp_predicted_class(p->logits + i * k, p->outputs);
        s = write_(f, "predicted", H5T_NATIVE_INT32, 1, n, 0, pred, part);
        for (size_t i = 0; s == LP_OK && p->labels && i < n; ++i) {
            lab[i] = p->labels[i];
            if ((size_t)lab[i] < k) conf[(size_t)lab[i] * k + (size_t)pred[i]]++;
        }
        if (s == LP_OK && p->labels) s = write_(f, "labels", H5T_NATIVE_INT32, 1, n, 0, lab, part);
        if (s == LP_OK && p->labels)
            s = write_(f, "confusion", H5T_NATIVE_INT64, 2, k, k, conf, part);
    }
    if (s == LP_OK && p->regression && p->targets)
        s = write_(f, "targets", H5T_NATIVE_FLOAT, 2, n, k, p->targets, part);
    if (s == LP_OK) s = attrs_(f, p->attrs, p->n_attrs);
    free(pred);
    free(lab);
    free(conf);
    if (H5Fclose(f) < 0 && s == LP_OK) s = lp_h5_fail(LP_ERR_HDF5, "%s: closing", part);
    if (s != LP_OK) {
        remove(part);
        return s;
    }
    return lp_out_file_commit(part, path);
}
