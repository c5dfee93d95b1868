/* Writes the HDF5 results file of a run: creates <path>.part with everything SWMR cannot
 * add later, then appends one flushed entry per epoch in SWMR mode, so h5py can follow the
 * run and a kill keeps every flushed epoch. The finish phase is in results_finish.c. */
#include "laperm/results.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "results_impl.h"

#ifndef LAPERM_VERSION
#define LAPERM_VERSION "unknown"
#endif

#define NAME_MAX_ 200

static const char *const reserved_attrs_[] = {"format_version", "program_version", "hdf5_version",
                                              "start_time",     "end_time",        "status"};
/* ---- small helpers ------------------------------------------------------------------- */

static char *dup_(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static bool valid_name_(const char *s) {
    return s && *s && strlen(s) <= NAME_MAX_ && !strchr(s, '/') && strcmp(s, ".") != 0 &&
           strcmp(s, "..") != 0;
}

/* ---- lifetime ------------------------------------------------------------------------ */

static void close_ds_(hid_t *ds) {
    if (*ds >= 0) H5Dclose(*ds);
    *ds = -1;
}

void lp_results_close_all(lp_results *r) {
    for (int i = 0; i < r->n_tensors; ++i)
        close_ds_(&r->t[i].snap_ds), close_ds_(&r->t[i].best_ds);
    for (int i = 0; i < r->n_state; ++i)
        close_ds_(&r->state[i].snap_ds), close_ds_(&r->state[i].best_ds);
    for (int i = 0; i < LP_RESULTS_N_METRICS; ++i)
        close_ds_(&r->metric[i]);
    for (int i = 0; i < LP_RESULTS_N_EVALS; ++i)
        close_ds_(&r->eval[i]);
    if (r->best_group >= 0) H5Gclose(r->best_group), r->best_group = -1;
    for (int k = 0; k < 2; ++k)
        for (int i = 0; i < LP_CKPT_N; ++i)
            close_ds_(&r->ckpt[k][i]);
    if (r->snap_step >= 0) H5Dclose(r->snap_step), r->snap_step = -1;
    if (r->snap_epoch >= 0) H5Dclose(r->snap_epoch), r->snap_epoch = -1;
    if (r->file >= 0) H5Fclose(r->file), r->file = -1;
}

void lp_results_free(lp_results *r) {
    if (!r) return;
    lp_results_close_all(r);
    for (int i = 0; i < r->n_tensors; ++i)
        free(r->t[i].layer), free(r->t[i].tensor);
    for (int i = 0; i < r->n_state; ++i)
        free(r->state[i].layer), free(r->state[i].tensor);
    free(r->t);
    free(r->state);
    free(r->seen);
    free(r->path);
    free(r->part);
    free(r);
}

void lp_results_abandon(lp_results *r) {
    lp_h5_quiet();
    lp_results_free(r); /* a clean close ends SWMR mode, so the .part opens without h5clear */
}

const char *lp_results_partial_path(const lp_results *r) {
    return r ? r->part : NULL;
}

/* ---- create -------------------------------------------------------------------------- */

static lp_status check_attrs_(const char *path, const lp_attr *attrs, int n) {
    if (n < 0 || (n > 0 && !attrs))
        return lp_fail(LP_ERR_INVALID_ARG, "%s: attrs is NULL with n_attrs %d", path, n);
    static const struct {
        const char *name;
        lp_attr_type type;
    } required[] = {{"device", LP_ATTR_STRING},
                    {"platform", LP_ATTR_STRING},
                    {"driver", LP_ATTR_STRING},
                    {"seed", LP_ATTR_INT}};
    for (size_t k = 0; k < sizeof required / sizeof required[0]; ++k) {
        int found = -1;
        for (int i = 0; i < n && found < 0; ++i)
            if (attrs[i].name && strcmp(attrs[i].name, required[k].name) == 0) found = i;
        if (found < 0 || attrs[found].type != required[k].type)
            return lp_fail(LP_ERR_INVALID_ARG, "%s: root attribute '%s' (%s) is required", path,
                           required[k].name, required[k].type == LP_ATTR_INT ? "int" : "string");
    }
    for (int i = 0; i < n; ++i) {
        const lp_attr *a = &attrs[i];
        if (!a->name || !*a->name)
            return lp_fail(LP_ERR_INVALID_ARG, "%s: attribute %d has no name", path, i);
        if (a->type == LP_ATTR_STRING && !a->s)
            return lp_fail(LP_ERR_INVALID_ARG, "%s: attribute '%s' is a NULL string", path,
                           a->name);
        if (a->type != LP_ATTR_STRING && a->type != LP_ATTR_INT && a->type != LP_ATTR_DOUBLE)
            return lp_fail(LP_ERR_INVALID_ARG, "%s: attribute '%s' has type %d", path, a->name,
                           (int)a->type);
        for (size_t k = 0; k < sizeof reserved_attrs_ / sizeof reserved_attrs_[0]; ++k)
            if (strcmp(a->name, reserved_attrs_[k]) == 0)
                return lp_fail(LP_ERR_INVALID_ARG,
                               "%s: attribute '%s' is written by the library, not the caller", path,
                               a->name);
        for (int j = 0; j < i; ++j)
            if (strcmp(attrs[j].name, a->name) == 0)
                return lp_fail(LP_ERR_INVALID_ARG, "%s: attribute '%s' given twice", path, a->name);
    }
    return LP_OK;
}

static lp_status check_tensors_(const char *path, const lp_results_tensor *ts, int n) {
    if (n < 0 || (n > 0 && !ts))
        return lp_fail(LP_ERR_INVALID_ARG, "%s: tensors is NULL with n_tensors %d", path, n);
    for (int i = 0; i < n; ++i) {
        const lp_results_tensor *t = &ts[i];
        if (!valid_name_(t->layer) || !valid_name_(t->tensor))
            return lp_fail(LP_ERR_INVALID_ARG,
                           "%s: tensor %d: layer '%s' / tensor '%s': names must be non-empty, "
                           "at most %d characters, without '/'",
                           path, i, t->layer ? t->layer : "(null)",
                           t->tensor ? t->tensor : "(null)", NAME_MAX_);
        if (t->rank < 1 || t->rank > 4 || !t->init)
            return lp_fail(LP_ERR_INVALID_ARG, "%s: %s/%s: rank %d (expected 1..4) or NULL init",
                           path, t->layer, t->tensor, t->rank);
        size_t numel = 1;
        for (int d = 0; d < t->rank; ++d) {
            if (t->dims[d] <= 0)
                return lp_fail(LP_ERR_INVALID_ARG, "%s: %s/%s: dimension %d is %d", path, t->layer,
                               t->tensor, d, t->dims[d]);
            numel *= (size_t)t->dims[d];
        }
        bool none = t->groups == 0 && t->group_size == 0 && !t->permuted;
        if (!none && (t->groups <= 0 || t->group_size <= 0 ||
                      (size_t)t->groups * (size_t)t->group_size != numel))
            return lp_fail(LP_ERR_INVALID_ARG,
                           "%s: %s/%s: %d groups of %d do not cover its %zu elements", path,
                           t->layer, t->tensor, t->groups, t->group_size, numel);
        /* HDF5 chunks hold under 4 GiB; a snapshot is one chunk. */
        if (t->permuted && numel >= (size_t)1 << 30)
            return lp_fail(LP_ERR_UNSUPPORTED,
                           "%s: %s/%s: %zu elements: a rankings snapshot "
                           "would exceed one HDF5 chunk (4 GiB)",
                           path, t->layer, t->tensor, numel);
        for (int j = 0; j < i; ++j)
            if (strcmp(ts[j].layer, t->layer) == 0 && strcmp(ts[j].tensor, t->tensor) == 0)
                return lp_fail(LP_ERR_INVALID_ARG, "%s: tensor %s/%s given twice", path, t->layer,
                               t->tensor);
    }
    return LP_OK;
}

/* Everything SWMR forbids creating later: root attributes, /model_text, /init, and the
 * empty extendible /rankings, /metrics (and /evals) datasets. */
static lp_status write_layout_(lp_results *r, const lp_attr *attrs, int n_attrs,
                               const char *model_text, const char *model_source,
                               const lp_results_tensor *ts) {
    /* Snapshot, metrics and checkpoint datasets: results_append.c, results_checkpoint.c. */
    hid_t root = r->file;
    char when[32], hdf5_version[32];
    unsigned maj, min, rel;
    H5get_libversion(&maj, &min, &rel);
    snprintf(hdf5_version, sizeof hdf5_version, "%u.%u.%u", maj, min, rel);
    lp_iso_time_now(when);
    LP_TRY(lp_h5_attr_int(root, "format_version", LP_RESULTS_FORMAT_VERSION));
    LP_TRY(lp_h5_attr_str(root, "program_version", LAPERM_VERSION));
    LP_TRY(lp_h5_attr_str(root, "hdf5_version", hdf5_version));
    LP_TRY(lp_h5_attr_str(root, "start_time", when));
    LP_TRY(lp_h5_attr_str(root, "status", "running"));
    LP_TRY(lp_h5_attrs(root, attrs, n_attrs));

    hid_t st = lp_h5_str_type(), scalar = H5Screate(H5S_SCALAR);
    hid_t ds = H5Dcreate2(root, "model_text", st, scalar, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = ds < 0 ? -1 : H5Dwrite(ds, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, &model_text);
    lp_status s = rc < 0 ? lp_h5_fail(LP_ERR_HDF5, "/model_text") : LP_OK;
    if (s == LP_OK) s = lp_h5_attr_str(ds, "source", model_source ? model_source : "");
    if (ds >= 0) H5Dclose(ds);
    H5Sclose(scalar);
    H5Tclose(st);
    LP_TRY(s);

    char name[512];
    for (int i = 0; i < r->n_tensors; ++i) {
        lp_results_tensor_state *t = &r->t[i];
        snprintf(name, sizeof name, "/init/%s/%s", t->layer, t->tensor);
        ds = lp_h5_create_ds(root, name, H5T_IEEE_F32LE, t->rank, t->dims, NULL, false);
        rc =
            ds < 0 ? -1 : H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, ts[i].init);
        s = rc < 0 ? lp_h5_fail(LP_ERR_HDF5, "%s", name) : LP_OK;
        if (s == LP_OK) s = lp_h5_attr_int(ds, "groups", t->groups);
        if (s == LP_OK) s = lp_h5_attr_int(ds, "group_size", t->group_size);
        if (s == LP_OK) s = lp_h5_attr_int(ds, "permuted", t->permuted);
        if (ds >= 0) H5Dclose(ds);
        LP_TRY(s);
    }
    return lp_results_series_create(r);
}

/* Copies one descriptor's names and shape into the writer's state. */
static bool take_(lp_results_tensor_state *t, const char *layer, const char *tensor, int rank,
                  const int *dims) {
    t->snap_ds = t->best_ds = -1;
    t->layer = dup_(layer);
    t->tensor = dup_(tensor);
    t->rank = rank;
    t->numel = 1;
    for (int d = 0; d < rank; ++d)
        t->dims[d] = (hsize_t)dims[d], t->numel *= (size_t)dims[d];
    return t->layer && t->tensor;
}

static lp_status check_state_(const char *path, const lp_results_layout *l) {
    if (l->n_state < 0 || (l->n_state > 0 && !l->state))
        return lp_fail(LP_ERR_INVALID_ARG, "%s: state is NULL with n_state %d", path, l->n_state);
    for (int i = 0; i < l->n_state; ++i) {
        const lp_results_state *t = &l->state[i];
        if (!valid_name_(t->layer) || !valid_name_(t->name) || t->rank < 1 || t->rank > 4)
            return lp_fail(LP_ERR_INVALID_ARG, "%s: state tensor %d: bad name or rank", path, i);
        for (int d = 0; d < t->rank; ++d)
            if (t->dims[d] <= 0)
                return lp_fail(LP_ERR_INVALID_ARG, "%s: state %s/%s: dimension %d is %d", path,
                               t->layer, t->name, d, t->dims[d]);
        for (int j = 0; j < l->n_tensors; ++j)
            if (!strcmp(l->tensors[j].layer, t->layer) && !strcmp(l->tensors[j].tensor, t->name))
                return lp_fail(LP_ERR_INVALID_ARG, "%s: %s/%s is both a tensor and a state", path,
                               t->layer, t->name);
    }
    return LP_OK;
}

static lp_results *alloc_(const char *path, const lp_results_layout *l) {
    lp_results *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->file = r->snap_step = r->snap_epoch = r->best_group = -1;
    for (int m = 0; m < LP_RESULTS_N_METRICS; ++m)
        r->metric[m] = -1;
    for (int m = 0; m < LP_RESULTS_N_EVALS; ++m)
        r->eval[m] = -1;
    r->has_evals = l->evals;
    r->has_best = l->best;
    for (int k = 0; k < 2; ++k) {
        r->ckpt_step[k] = -1;
        for (int i = 0; i < LP_CKPT_N; ++i)
            r->ckpt[k][i] = -1;
    }
    r->ckpt_size = l->checkpoint;
    size_t plen = strlen(path);
    r->path = dup_(path);
    r->part = malloc(plen + 6);
    r->t = calloc(l->n_tensors > 0 ? (size_t)l->n_tensors : 1, sizeof *r->t);
    r->state = calloc(l->n_state > 0 ? (size_t)l->n_state : 1, sizeof *r->state);
    int max_group = 1;
    for (int i = 0; i < l->n_tensors; ++i)
        if (l->tensors[i].permuted && l->tensors[i].group_size > max_group)
            max_group = l->tensors[i].group_size;
    r->seen = malloc((size_t)max_group);
    if (!r->path || !r->part || !r->t || !r->state || !r->seen) {
        lp_results_free(r);
        return NULL;
    }
    memcpy(r->part, path, plen);
    memcpy(r->part + plen, ".part", 6);
    for (int i = 0; i < l->n_tensors; ++i) {
        const lp_results_tensor *src = &l->tensors[i];
        lp_results_tensor_state *t = &r->t[i];
        r->n_tensors = i + 1;
        if (!take_(t, src->layer, src->tensor, src->rank, src->dims)) {
            lp_results_free(r);
            return NULL;
        }
        t->groups = src->groups;
        t->group_size = src->group_size;
        t->permuted = src->permuted;
    }
    for (int i = 0; i < l->n_state; ++i) {
        const lp_results_state *src = &l->state[i];
        r->n_state = i + 1;
        if (!take_(&r->state[i], src->layer, src->name, src->rank, src->dims)) {
            lp_results_free(r);
            return NULL;
        }
    }
    return r;
}

lp_status lp_results_create(const char *path, const lp_attr *attrs, int n_attrs,
                            const char *model_text, const char *model_source,
                            const lp_results_layout *layout, lp_results **out) {
    lp_h5_quiet();
    if (!out) return lp_fail(LP_ERR_INVALID_ARG, "lp_results_create: out is NULL");
    *out = NULL;
    if (!path || !*path) return lp_fail(LP_ERR_INVALID_ARG, "lp_results_create: empty path");
    if (!model_text || !layout)
        return lp_fail(LP_ERR_INVALID_ARG, "%s: model_text or layout is NULL", path);
    const lp_results_resume *resume = layout->resume;
    if (resume && (!resume->source || !resume->checkpoint))
        return lp_fail(LP_ERR_INVALID_ARG, "%s: resume without a source or checkpoint", path);
    if (layout->best != layout->checkpoint.best)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "%s: /best and the checkpoints' best network go together", path);
    LP_TRY(check_attrs_(path, attrs, n_attrs));
    LP_TRY(check_tensors_(path, layout->tensors, layout->n_tensors));
    LP_TRY(check_state_(path, layout));
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return lp_fail(LP_ERR_IO, "%s: exists and is not a regular file", path);
    char dir[4096];
    lp_fs_parent_dir(path, dir, sizeof dir);
    LP_TRY(lp_fs_mkdir_p(dir));

    lp_results *r = alloc_(path, layout);
    if (!r) return lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory", path);
    /* The file is built as <path>.new and renamed over <path>.part only once it is whole
     * and in SWMR mode (a resumed one: once it holds its checkpoint), so a kill at any
     * moment leaves a .part that opens: the old one (a killed run's, or the resumed run's
     * source) or the new one. Unlinking a stale .new first leaves a writer that might still
     * hold it with its own inode instead of truncating under it. */
    size_t n_building = strlen(r->path) + 5;
    char *building = malloc(n_building);
    if (!building) {
        lp_results_free(r);
        return lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory", path);
    }
    snprintf(building, n_building, "%s.new", r->path);
    lp_status s = LP_OK;
    if (unlink(building) != 0 && errno != ENOENT)
        s = lp_fail(LP_ERR_IO, "%s: cannot remove stale file: %s", building, strerror(errno));
    hid_t fapl = s == LP_OK ? lp_h5_fapl() : -1;
    r->file = fapl < 0 ? -1 : H5Fcreate(building, H5F_ACC_EXCL, H5P_DEFAULT, fapl);
    if (s == LP_OK && r->file < 0) s = lp_h5_fail(LP_ERR_HDF5, "%s: cannot create", building);
    if (fapl >= 0) H5Pclose(fapl);
    if (s == LP_OK) s = write_layout_(r, attrs, n_attrs, model_text, model_source, layout->tensors);
    if (s == LP_OK) s = lp_results_best_create(r);
    if (s == LP_OK) s = lp_results_checkpoint_create(r, resume ? resume->checkpoint : NULL);
    if (s == LP_OK && resume)
        s = lp_results_series_copy(r, resume->source, resume->checkpoint->metrics,
                                   resume->checkpoint->snapshots, resume->checkpoint->evals);
    if (s != LP_OK) s = lp_fail_context(s, "%s: ", building);
    if (s == LP_OK) s = lp_results_flush(r);
    if (s == LP_OK && H5Fstart_swmr_write(r->file) < 0)
        s = lp_h5_fail(LP_ERR_HDF5, "%s: cannot start SWMR writing", building);
    if (s == LP_OK) {
        s = lp_fs_fsync(building);
        if (s == LP_OK && rename(building, r->part) != 0)
            s = lp_fail(LP_ERR_IO, "%s: cannot rename to %s: %s", building, r->part,
                        strerror(errno));
    }
    if (s != LP_OK) {
        lp_results_close_all(r);
        unlink(building); /* nothing in it worth keeping */
    }
    free(building);
    if (s != LP_OK) {
        lp_results_free(r);
        return s;
    }
    *out = r;
    return LP_OK;
}
