/* The series of a results file: /metrics (one entry per epoch), /evals (one per
 * --eval-every evaluation) and the snapshots (/rankings, /values, /state, /snapshot_step,
 * /snapshot_epoch), created empty and extendible before SWMR writing starts, appended and
 * flushed entry by entry after, or, when resuming, started with the entries of the file
 * the run resumes from. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results_impl.h"

#define METRICS_CHUNK_ 128 /* entries per chunk of the 1-D extendible datasets */

/* A column of a table of 1-D series: a dataset <group>/<name> read from a struct field.
 * M_F64_LATE: float64 added after files were written without it, so resuming one of those
 * files copies NaN entries for it. */
enum { M_I32, M_I64, M_F64, M_F64_LATE };
typedef struct {
    const char *name;
    int kind;
    size_t offset;
} column_;

/* The /metrics datasets in write order. `epoch` goes last: a SWMR reader that refreshes
 * it first and sees n entries finds at least n in every other dataset. */
static const column_ metrics_[] = {
    {"step", M_I64, offsetof(lp_epoch_metrics, step)},
    {"train_loss", M_F64, offsetof(lp_epoch_metrics, train_loss)},
    {"train_accuracy", M_F64, offsetof(lp_epoch_metrics, train_accuracy)},
    {"test_loss", M_F64, offsetof(lp_epoch_metrics, test_loss)},
    {"test_accuracy", M_F64, offsetof(lp_epoch_metrics, test_accuracy)},
    {"test_loss_unsynced", M_F64, offsetof(lp_epoch_metrics, test_loss_unsynced)},
    {"test_accuracy_unsynced", M_F64, offsetof(lp_epoch_metrics, test_accuracy_unsynced)},
    /* regression (mean absolute error; NaN for classification) */
    {"train_mae", M_F64_LATE, offsetof(lp_epoch_metrics, train_mae)},
    {"test_mae", M_F64_LATE, offsetof(lp_epoch_metrics, test_mae)},
    {"test_mae_unsynced", M_F64_LATE, offsetof(lp_epoch_metrics, test_mae_unsynced)},
    {"learning_rate", M_F64, offsetof(lp_epoch_metrics, learning_rate)},
    {"epoch_seconds", M_F64, offsetof(lp_epoch_metrics, epoch_seconds)},
    {"elapsed_seconds", M_F64, offsetof(lp_epoch_metrics, elapsed_seconds)},
    {"syncs", M_I64, offsetof(lp_epoch_metrics, syncs)},
    {"epoch", M_I32, offsetof(lp_epoch_metrics, epoch)},
};
#define N_METRICS_ ((int)(sizeof metrics_ / sizeof metrics_[0]))
_Static_assert(N_METRICS_ == LP_RESULTS_N_METRICS, "metrics table and struct disagree");

/* The /evals datasets in write order (a new metric: a field of lp_eval_metrics and a line
 * here). `step` goes last, as /metrics' epoch does. */
static const column_ evals_[] = {
    {"epoch", M_I32, offsetof(lp_eval_metrics, epoch)},
    {"synced", M_I32, offsetof(lp_eval_metrics, synced)},
    {"test_loss", M_F64, offsetof(lp_eval_metrics, test_loss)},
    {"test_accuracy", M_F64, offsetof(lp_eval_metrics, test_accuracy)},
    {"test_loss_unsynced", M_F64, offsetof(lp_eval_metrics, test_loss_unsynced)},
    {"test_accuracy_unsynced", M_F64, offsetof(lp_eval_metrics, test_accuracy_unsynced)},
    {"test_mae", M_F64_LATE, offsetof(lp_eval_metrics, test_mae)},
    {"test_mae_unsynced", M_F64_LATE, offsetof(lp_eval_metrics, test_mae_unsynced)},
    {"elapsed_seconds", M_F64, offsetof(lp_eval_metrics, elapsed_seconds)},
    {"step", M_I64, offsetof(lp_eval_metrics, step)},
};
#define N_EVALS_ ((int)(sizeof evals_ / sizeof evals_[0]))
_Static_assert(N_EVALS_ == LP_RESULTS_N_EVALS, "evals table and LP_RESULTS_N_EVALS disagree");

#define RANKINGS_FORMULA_                                                                          \
    "weights[g, j] == sort(init[g])[rank[s, g, j]] bit for bit, where group g is elements "        \
    "[g*group_size, (g+1)*group_size) of the row-major tensor and sort is ascending in IEEE "      \
    "754 totalOrder (uint32 bits b -> b ^ (b>>31 ? 0xFFFFFFFF : 0x80000000), so -0.0 < "           \
    "+0.0); snapshot s was taken at /snapshot_step[s]; the last snapshot gives /weights"

static hid_t metric_type_(int kind, bool in_memory) {
    if (kind == M_I32) return in_memory ? H5T_NATIVE_INT : H5T_STD_I32LE;
    if (kind == M_I64) return in_memory ? H5T_NATIVE_LLONG : H5T_STD_I64LE;
    return in_memory ? H5T_NATIVE_DOUBLE : H5T_IEEE_F64LE;
}

/* The snapshot dataset of a tensor: /rankings (S, groups, group_size) int32 for a permuted
 * one, else /<group> (S, dims...) float32. */
static lp_status create_snapshot_ds_(lp_results *r, lp_results_tensor_state *t, const char *group) {
    char name[512];
    hsize_t dims[5] = {0}, chunk[5] = {1};
    int rank;
    hid_t type;
    if (t->permuted) {
        snprintf(name, sizeof name, "/rankings/%s/%s", t->layer, t->tensor);
        rank = 3;
        dims[1] = chunk[1] = (hsize_t)t->groups;
        dims[2] = chunk[2] = (hsize_t)t->group_size;
        type = H5T_STD_I32LE;
    } else {
        snprintf(name, sizeof name, "/%s/%s/%s", group, t->layer, t->tensor);
        rank = 1 + t->rank;
        for (int d = 0; d < t->rank; ++d)
            dims[1 + d] = chunk[1 + d] = t->dims[d];
        type = H5T_IEEE_F32LE;
    }
    /* one snapshot per chunk */
    t->snap_ds = lp_h5_create_ds(r->file, name, type, rank, dims, chunk, true);
    if (t->snap_ds < 0) return lp_h5_fail(LP_ERR_HDF5, "%s", name);
    if (!t->permuted) return LP_OK;
    char init_path[512];
    snprintf(init_path, sizeof init_path, "/init/%s/%s", t->layer, t->tensor);
    LP_TRY(lp_h5_attr_str(t->snap_ds, "formula", RANKINGS_FORMULA_));
    return lp_h5_attr_str(t->snap_ds, "init", init_path);
}

/* Empty extendible datasets <group>/<column> of a table. */
static lp_status table_create_(lp_results *r, const char *group, const column_ *cols, int n,
                               hid_t *ds) {
    hsize_t zero = 0, chunk = METRICS_CHUNK_;
    char name[512];
    for (int m = 0; m < n; ++m) {
        snprintf(name, sizeof name, "/%s/%s", group, cols[m].name);
        ds[m] = lp_h5_create_ds(r->file, name, metric_type_(cols[m].kind, false), 1, &zero, &chunk,
                                false);
        if (ds[m] < 0) return lp_h5_fail(LP_ERR_HDF5, "%s", name);
    }
    return LP_OK;
}

lp_status lp_results_series_create(lp_results *r) {
    for (int i = 0; i < r->n_tensors; ++i)
        LP_TRY(create_snapshot_ds_(r, &r->t[i], "values"));
    for (int i = 0; i < r->n_state; ++i)
        LP_TRY(create_snapshot_ds_(r, &r->state[i], "state"));
    hsize_t zero = 0, chunk1 = METRICS_CHUNK_;
    r->snap_step =
        lp_h5_create_ds(r->file, "/snapshot_step", H5T_STD_I64LE, 1, &zero, &chunk1, false);
    r->snap_epoch =
        lp_h5_create_ds(r->file, "/snapshot_epoch", H5T_STD_I32LE, 1, &zero, &chunk1, false);
    if (r->snap_step < 0 || r->snap_epoch < 0)
        return lp_h5_fail(LP_ERR_HDF5, "/snapshot_step, /snapshot_epoch");
    LP_TRY(table_create_(r, "metrics", metrics_, N_METRICS_, r->metric));
    return r->has_evals ? table_create_(r, "evals", evals_, N_EVALS_, r->eval) : LP_OK;
}

/* The first n entries (along dimension 0) of `name` in `src` appended to `dst`, which
 * must have the same shape past dimension 0 and be empty. */
static lp_status copy_prefix_(hid_t src, const char *source, const char *name, hid_t dst, hsize_t n,
                              hid_t mem_type) {
    if (n == 0) return LP_OK;
    hid_t ds = H5Dopen2(src, name, H5P_DEFAULT);
    if (ds < 0) return lp_h5_fail(LP_ERR_FORMAT, "%s: no %s to resume from", source, name);
    hid_t fspace = H5Dget_space(ds);
    hsize_t dims[8] = {0};
    int rank = H5Sget_simple_extent_ndims(fspace);
    lp_status s = LP_OK;
    if (rank < 1 || rank > 8 || H5Sget_simple_extent_dims(fspace, dims, NULL) < 0 || dims[0] < n)
        s = lp_fail(LP_ERR_FORMAT, "%s: %s has fewer than the %llu entries its checkpoint counts",
                    source, name, (unsigned long long)n);
    size_t per = 1;
    for (int d = 1; s == LP_OK && d < rank; ++d)
        per *= (size_t)dims[d];
    void *buf = s == LP_OK ? malloc((size_t)n * per * H5Tget_size(mem_type) + 1) : NULL;
    if (s == LP_OK && !buf) s = lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory", source);
    hsize_t start[8] = {0}, count[8];
    memcpy(count, dims, sizeof count);
    count[0] = n;
    if (s == LP_OK) {
        hid_t mspace = H5Screate_simple(rank, count, NULL);
        if (H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
            H5Dread(ds, mem_type, mspace, fspace, H5P_DEFAULT, buf) < 0)
            s = lp_h5_fail(LP_ERR_HDF5, "%s: reading %s", source, name);
        H5Sclose(mspace);
    }
    if (s == LP_OK && lp_h5_extend_write(dst, rank, count, start, count, mem_type, buf) < 0)
        s = lp_h5_fail(LP_ERR_HDF5, "copying %s", name);
    free(buf);
    H5Sclose(fspace);
    H5Dclose(ds);
    return s;
}

/* n NaN entries appended to the empty float64 series `dst`. */
static lp_status nan_prefix_(hid_t dst, hsize_t n, const char *name) {
    double *buf = malloc((size_t)n * sizeof *buf + 1);
    if (!buf) return lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory", name);
    for (hsize_t i = 0; i < n; ++i)
        buf[i] = NAN;
    hsize_t start = 0;
    lp_status s = LP_OK;
    if (lp_h5_extend_write(dst, 1, &n, &start, &n, H5T_NATIVE_DOUBLE, buf) < 0)
        s = lp_h5_fail(LP_ERR_HDF5, "writing %s", name);
    free(buf);
    return s;
}

/* The first n entries of each column of a table copied from `src`. */
static lp_status table_copy_(hid_t src, const char *source, const char *group, const column_ *cols,
                             int n_cols, const hid_t *ds, long long n) {
    char name[512];
    lp_status s = LP_OK;
    for (int m = 0; s == LP_OK && m < n_cols; ++m) {
        snprintf(name, sizeof name, "/%s/%s", group, cols[m].name);
        if (cols[m].kind == M_F64_LATE && n > 0 && H5Lexists(src, name, H5P_DEFAULT) <= 0) {
            H5Eclear2(H5E_DEFAULT);
            s = nan_prefix_(ds[m], (hsize_t)n, name);
            continue;
        }
        s = copy_prefix_(src, source, name, ds[m], (hsize_t)n, metric_type_(cols[m].kind, true));
    }
    return s;
}

lp_status lp_results_series_copy(lp_results *r, const char *source, long long metrics,
                                 long long snapshots, long long evals) {
    hid_t src;
    LP_TRY(lp_h5_open_read(source, &src));
    char name[512];
    lp_status s = table_copy_(src, source, "metrics", metrics_, N_METRICS_, r->metric, metrics);
    if (s == LP_OK && r->has_evals)
        s = table_copy_(src, source, "evals", evals_, N_EVALS_, r->eval, evals);
    for (int k = 0; s == LP_OK && k < 2; ++k)
        for (int i = 0; s == LP_OK && i < (k ? r->n_state : r->n_tensors); ++i) {
            const lp_results_tensor_state *t = k ? &r->state[i] : &r->t[i];
            snprintf(name, sizeof name, "/%s/%s/%s",
                     t->permuted ? "rankings"
                     : k         ? "state"
                                 : "values",
                     t->layer, t->tensor);
            s = copy_prefix_(src, source, name, t->snap_ds, (hsize_t)snapshots,
                             t->permuted ? H5T_NATIVE_INT32 : H5T_NATIVE_FLOAT);
        }
    if (s == LP_OK)
        s = copy_prefix_(src, source, "/snapshot_epoch", r->snap_epoch, (hsize_t)snapshots,
                         H5T_NATIVE_INT);
    if (s == LP_OK)
        s = copy_prefix_(src, source, "/snapshot_step", r->snap_step, (hsize_t)snapshots,
                         H5T_NATIVE_LLONG);
    H5Fclose(src);
    if (s == LP_OK) {
        r->n_epochs = (hsize_t)metrics, r->n_snapshots = (hsize_t)snapshots;
        r->n_evals = r->has_evals ? (hsize_t)evals : 0;
    }
    return s;
}

/* H5Dflush is what SWMR readers need; flushing the whole file also rewrites the
 * superblock's end-of-allocation, without which `h5clear -s` on a killed run's .part
 * truncates the file to where SWMR writing started and loses every epoch after it. */
lp_status lp_results_flush(lp_results *r) {
    if (H5Fflush(r->file, H5F_SCOPE_GLOBAL) < 0)
        return lp_h5_fail(LP_ERR_HDF5, "%s: flushing", r->part);
    return LP_OK;
}

/* Appends one entry (the struct at `entry`) to each column of a table, entry n. */
static lp_status table_append_(lp_results *r, const char *group, const column_ *cols, int n_cols,
                               const hid_t *ds, hsize_t n, const void *entry) {
    hsize_t size = n + 1, one = 1;
    for (int i = 0; i < n_cols; ++i) {
        const char *value = (const char *)entry + cols[i].offset;
        if (lp_h5_extend_write(ds[i], 1, &size, &n, &one, metric_type_(cols[i].kind, true), value) <
                0 ||
            H5Dflush(ds[i]) < 0)
            return lp_h5_fail(LP_ERR_HDF5, "%s: /%s/%s entry %llu", r->part, group, cols[i].name,
                              (unsigned long long)n);
    }
    return LP_OK;
}

lp_status lp_results_append_metrics(lp_results *r, const lp_epoch_metrics *m) {
    lp_h5_quiet();
    if (!r || !m) return lp_fail(LP_ERR_INVALID_ARG, "lp_results_append_metrics: NULL argument");
    LP_TRY(table_append_(r, "metrics", metrics_, N_METRICS_, r->metric, r->n_epochs, m));
    r->n_epochs++;
    return lp_results_flush(r);
}

lp_status lp_results_append_eval(lp_results *r, const lp_eval_metrics *e) {
    lp_h5_quiet();
    if (!r || !e || !r->has_evals)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "lp_results_append_eval: NULL argument, or a file created without /evals");
    LP_TRY(table_append_(r, "evals", evals_, N_EVALS_, r->eval, r->n_evals, e));
    r->n_evals++;
    return lp_results_flush(r);
}

/* Every group of a ranking must be a permutation of 0..group_size-1. */
static lp_status check_ranking_(lp_results *r, const lp_results_tensor_state *t,
                                const int32_t *rank) {
    for (int g = 0; g < t->groups; ++g) {
        const int32_t *row = rank + (size_t)g * t->group_size;
        memset(r->seen, 0, (size_t)t->group_size);
        for (int j = 0; j < t->group_size; ++j) {
            if (row[j] < 0 || row[j] >= t->group_size || r->seen[row[j]])
                return lp_fail(LP_ERR_INVALID_ARG,
                               "%s: %s/%s group %d: rank[%d] = %d is out of range or repeated (a "
                               "group must be a permutation of 0..%d)",
                               r->part, t->layer, t->tensor, g, j, (int)row[j], t->group_size - 1);
            r->seen[row[j]] = 1;
        }
    }
    return LP_OK;
}

static lp_status append_one_(lp_results *r, const lp_results_tensor_state *t, const void *data) {
    hsize_t n = r->n_snapshots, size[5], start[5] = {n}, count[5] = {1};
    int rank = t->permuted ? 3 : 1 + t->rank;
    size[0] = n + 1;
    if (t->permuted) {
        size[1] = count[1] = (hsize_t)t->groups;
        size[2] = count[2] = (hsize_t)t->group_size;
    } else {
        for (int d = 0; d < t->rank; ++d)
            size[1 + d] = count[1 + d] = t->dims[d];
    }
    herr_t rc = lp_h5_extend_write(t->snap_ds, rank, size, start, count,
                                   t->permuted ? H5T_NATIVE_INT32 : H5T_NATIVE_FLOAT, data);
    if (rc < 0 || H5Dflush(t->snap_ds) < 0)
        return lp_h5_fail(LP_ERR_HDF5, "%s: snapshot %llu of %s/%s", r->part, (unsigned long long)n,
                          t->layer, t->tensor);
    return LP_OK;
}

lp_status lp_results_append_snapshot(lp_results *r, const lp_results_snapshot *snap) {
    lp_h5_quiet();
    if (!r || !snap || snap->epoch < 0 || (r->n_tensors && (!snap->rankings || !snap->values)) ||
        (r->n_state && !snap->state))
        return lp_fail(LP_ERR_INVALID_ARG, "lp_results_append_snapshot: NULL argument or epoch");
    /* Check everything before writing anything: a bad snapshot would make the file lie. */
    for (int i = 0; i < r->n_tensors; ++i) {
        const lp_results_tensor_state *t = &r->t[i];
        if (!(t->permuted ? (const void *)snap->rankings[i] : (const void *)snap->values[i]))
            return lp_fail(LP_ERR_INVALID_ARG, "%s: no %s given for %s/%s", r->part,
                           t->permuted ? "ranking" : "values", t->layer, t->tensor);
        if (t->permuted) LP_TRY(check_ranking_(r, t, snap->rankings[i]));
    }
    for (int i = 0; i < r->n_state; ++i)
        if (!snap->state[i])
            return lp_fail(LP_ERR_INVALID_ARG, "%s: no values given for state %s/%s", r->part,
                           r->state[i].layer, r->state[i].tensor);
    for (int i = 0; i < r->n_tensors; ++i) {
        const lp_results_tensor_state *t = &r->t[i];
        LP_TRY(append_one_(
            r, t, t->permuted ? (const void *)snap->rankings[i] : (const void *)snap->values[i]));
    }
    for (int i = 0; i < r->n_state; ++i)
        LP_TRY(append_one_(r, &r->state[i], snap->state[i]));
    /* /snapshot_step last: a reader that sees n steps finds n complete snapshots. */
    hsize_t n = r->n_snapshots, size = n + 1, one = 1;
    if (lp_h5_extend_write(r->snap_epoch, 1, &size, &n, &one, H5T_NATIVE_INT, &snap->epoch) < 0 ||
        H5Dflush(r->snap_epoch) < 0 ||
        lp_h5_extend_write(r->snap_step, 1, &size, &n, &one, H5T_NATIVE_LLONG, &snap->step) < 0 ||
        H5Dflush(r->snap_step) < 0)
        return lp_h5_fail(LP_ERR_HDF5, "%s: /snapshot_step, /snapshot_epoch entry %llu", r->part,
                          (unsigned long long)n);
    r->n_snapshots = size;
    return lp_results_flush(r);
}
