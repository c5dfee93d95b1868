/* The finish phase of a results file: check that the last rankings snapshot rebuilds the
 * final weights, leave SWMR mode, add /weights (and the state tensors), end_time and status, then
 * fsync and rename <path>.part to <path>, so <path> only ever holds a complete file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "results_impl.h"

static int cmp_u32_(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* weights[g, j] == sort(init[g])[rank[last, g, j]] bit for bit, for one permuted tensor.
 * init and the snapshot are read back from the file, so this checks what was stored. */
static lp_status check_tensor_(lp_results *r, const lp_results_tensor_state *t, const float *w) {
    size_t n = t->numel, gs = (size_t)t->group_size;
    uint32_t *keys = malloc(n * sizeof *keys);
    int32_t *rank = malloc(n * sizeof *rank);
    if (!keys || !rank) {
        free(keys), free(rank);
        return lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory", r->part);
    }
    char name[512];
    snprintf(name, sizeof name, "/init/%s/%s", t->layer, t->tensor);
    lp_status s = LP_OK;
    /* Read the floats straight into the key buffer; bits are moved with memcpy. */
    hid_t ds = H5Dopen2(r->file, name, H5P_DEFAULT);
    if (ds < 0 || H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, keys) < 0)
        s = lp_h5_fail(LP_ERR_HDF5, "%s: reading %s", r->part, name);
    if (ds >= 0) H5Dclose(ds);
    hsize_t start[3] = {r->n_snapshots - 1, 0, 0};
    hsize_t count[3] = {1, (hsize_t)t->groups, gs};
    if (s == LP_OK) {
        hid_t fspace = H5Dget_space(t->snap_ds), mspace = H5Screate_simple(3, count, NULL);
        if (H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
            H5Dread(t->snap_ds, H5T_NATIVE_INT32, mspace, fspace, H5P_DEFAULT, rank) < 0)
            s = lp_h5_fail(LP_ERR_HDF5, "%s: reading the last snapshot of /rankings/%s/%s", r->part,
                           t->layer, t->tensor);
        H5Sclose(mspace);
        H5Sclose(fspace);
    }
    for (size_t g = 0; s == LP_OK && g < (size_t)t->groups; ++g) {
        uint32_t *sorted = keys + g * gs;
        for (size_t j = 0; j < gs; ++j)
            sorted[j] = lp_float_order_key(sorted[j]);
        qsort(sorted, gs, sizeof *sorted, cmp_u32_);
        for (size_t j = 0; j < gs; ++j) {
            uint32_t bits;
            memcpy(&bits, &w[g * gs + j], sizeof bits);
            int32_t k = rank[g * gs + j];
            if (k < 0 || (size_t)k >= gs || lp_float_order_key(bits) != sorted[k]) {
                s = lp_fail(LP_ERR_INVALID_ARG,
                            "%s: final weights of %s/%s, group %zu element %zu (0x%08x) are not "
                            "sort(init)[rank] of the last rankings snapshot: sync and "
                            "snapshot the final state before finishing",
                            r->part, t->layer, t->tensor, g, j, (unsigned)bits);
                break;
            }
        }
    }
    free(keys);
    free(rank);
    return s;
}

/* Reopens the .part after SWMR writing ended. A SWMR reader (someone following the run
 * with h5py) holds a shared lock that a read-write open refuses; the file is ours alone to
 * write, so retry without locking: that reader may see errors, never our file damaged. */
static lp_status reopen_(lp_results *r, hid_t *out) {
    hid_t fapl = lp_h5_fapl();
    hid_t f = fapl < 0 ? -1 : H5Fopen(r->part, H5F_ACC_RDWR, fapl);
    hid_t first = f < 0 ? lp_h5_errors_save() : -1; /* report this one if the retry fails */
#if (H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 10 && H5_VERS_RELEASE >= 7) ||                         \
    H5_VERSION_GE(1, 12, 1) /* older: only HDF5_USE_FILE_LOCKING=FALSE gets past the lock */
    if (f < 0 && fapl >= 0 && H5Pset_file_locking(fapl, 0, 1) >= 0)
        f = H5Fopen(r->part, H5F_ACC_RDWR, fapl);
#endif
    if (fapl >= 0) H5Pclose(fapl);
    *out = f;
    if (f >= 0) {
        if (first >= 0) H5Eclose_stack(first);
        return LP_OK;
    }
    lp_h5_errors_restore(first);
    return lp_h5_fail(LP_ERR_HDF5, "%s: cannot reopen to finish", r->part);
}

static lp_status write_weights_(lp_results *r, hid_t f, const lp_results_tensor_state *t,
                                const float *w) {
    char name[512];
    snprintf(name, sizeof name, "/weights/%s/%s", t->layer, t->tensor);
    hid_t ds = lp_h5_create_ds(f, name, H5T_IEEE_F32LE, t->rank, t->dims, NULL, false);
    lp_status s = LP_OK;
    if (ds < 0 || H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w) < 0)
        s = lp_h5_fail(LP_ERR_HDF5, "%s: writing %s", r->part, name);
    if (ds >= 0) H5Dclose(ds);
    return s;
}

/* Adds to the closed .part what SWMR mode could not: /weights (tensors and state),
 * the extra attributes, end_time, status. */
static lp_status write_final_(lp_results *r, const float *const *w, const float *const *state,
                              const lp_attr *attrs, int n_attrs, const char *status) {
    hid_t f;
    LP_TRY(reopen_(r, &f));
    lp_status s = LP_OK;
    for (int i = 0; s == LP_OK && i < r->n_tensors; ++i)
        s = write_weights_(r, f, &r->t[i], w[i]);
    for (int i = 0; s == LP_OK && i < r->n_state; ++i)
        s = write_weights_(r, f, &r->state[i], state[i]);
    for (int i = 0; s == LP_OK && i < n_attrs; ++i) {
        const lp_attr *a = &attrs[i];
        s = a->type == LP_ATTR_STRING ? lp_h5_attr_str(f, a->name, a->s)
            : a->type == LP_ATTR_INT  ? lp_h5_attr_int(f, a->name, a->i)
                                      : lp_h5_attr_double(f, a->name, a->d);
    }
    char when[32];
    lp_iso_time_now(when);
    if (s == LP_OK) s = lp_h5_attr_str(f, "end_time", when);
    if (s == LP_OK) s = lp_h5_attr_str(f, "status", status);
    if (H5Fclose(f) < 0 && s == LP_OK) s = lp_h5_fail(LP_ERR_HDF5, "%s: closing", r->part);
    return s;
}

lp_status lp_results_finish(lp_results *r, const float *const *final_weights,
                            const float *const *final_state, const lp_attr *attrs, int n_attrs,
                            const char *status) {
    lp_h5_quiet();
    if (!r) return lp_fail(LP_ERR_INVALID_ARG, "lp_results_finish: NULL results");
    lp_status s = LP_OK;
    if (!status || (strcmp(status, "completed") != 0 && strcmp(status, "interrupted") != 0 &&
                    strcmp(status, "diverged") != 0))
        s = lp_fail(LP_ERR_INVALID_ARG,
                    "%s: status '%s' (expected completed, interrupted or diverged)", r->part,
                    status ? status : "(null)");
    for (int i = 0; s == LP_OK && i < r->n_state; ++i)
        if (!final_state || !final_state[i])
            s = lp_fail(LP_ERR_INVALID_ARG, "%s: no final values for state %s/%s", r->part,
                        r->state[i].layer, r->state[i].tensor);
    if (s == LP_OK && n_attrs > 0 && !attrs)
        s = lp_fail(LP_ERR_INVALID_ARG, "%s: attrs is NULL with n_attrs %d", r->part, n_attrs);
    for (int i = 0; s == LP_OK && i < r->n_tensors; ++i) {
        if (!final_weights || !final_weights[i])
            s = lp_fail(LP_ERR_INVALID_ARG, "%s: no final weights for %s/%s", r->part,
                        r->t[i].layer, r->t[i].tensor);
        else if (r->t[i].permuted && r->n_snapshots == 0)
            s = lp_fail(LP_ERR_INVALID_ARG,
                        "%s: no snapshot: append the final state "
                        "with lp_results_append_snapshot before finishing",
                        r->part);
        else if (r->t[i].permuted)
            s = check_tensor_(r, &r->t[i], final_weights[i]);
    }
    lp_results_close_all(r); /* flushes and ends SWMR mode */
    if (s == LP_OK) s = write_final_(r, final_weights, final_state, attrs, n_attrs, status);
    if (s == LP_OK) s = lp_fs_fsync(r->part);
    if (s == LP_OK && rename(r->part, r->path) != 0)
        s = lp_fail(LP_ERR_IO, "%s: cannot rename to %s: %s", r->part, r->path, strerror(errno));
    if (s == LP_OK) {
        /* The rename itself survives a power cut only once the folder is synced. */
        char dir[4096];
        lp_fs_parent_dir(r->path, dir, sizeof dir);
        s = lp_fs_fsync(dir);
    }
    lp_results_free(r);
    return s;
}
