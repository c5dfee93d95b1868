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
#define METRICS_CHUNK_ 128 /* entries per chunk of the 1-D extendible datasets */

/* The /metrics datasets in write order. `epoch` goes last: a SWMR reader that refreshes
 * it first and sees n entries finds at least n in every other dataset. */
enum { M_I32, M_I64, M_F64 };
static const struct {
    const char *name;
    int kind;
    size_t offset;
} metrics_[] = {
    {"step", M_I64, offsetof(lp_epoch_metrics, step)},
    {"train_loss", M_F64, offsetof(lp_epoch_metrics, train_loss)},
    {"train_accuracy", M_F64, offsetof(lp_epoch_metrics, train_accuracy)},
    {"test_loss", M_F64, offsetof(lp_epoch_metrics, test_loss)},
    {"test_accuracy", M_F64, offsetof(lp_epoch_metrics, test_accuracy)},
    {"test_loss_unsynced", M_F64, offsetof(lp_epoch_metrics, test_loss_unsynced)},
    {"test_accuracy_unsynced", M_F64, offsetof(lp_epoch_metrics, test_accuracy_unsynced)},
    {"learning_rate", M_F64, offsetof(lp_epoch_metrics, learning_rate)},
    {"epoch_seconds", M_F64, offsetof(lp_epoch_metrics, epoch_seconds)},
    {"elapsed_seconds", M_F64, offsetof(lp_epoch_metrics, elapsed_seconds)},
    {"syncs", M_I64, offsetof(lp_epoch_metrics, syncs)},
    {"epoch", M_I32, offsetof(lp_epoch_metrics, epoch)},
};
#define N_METRICS_ ((int)(sizeof metrics_ / sizeof metrics_[0]))
_Static_assert(N_METRICS_ == LP_RESULTS_N_METRICS, "metrics table and struct disagree");

static const char *const reserved_attrs_[] = {"format_version", "program_version", "hdf5_version",
                                              "start_time",     "end_time",        "status"};

#define RANKINGS_FORMULA_                                                                          \
    "weights[g, j] == sort(init[g])[rank[s, g, j]] bit for bit, where group g is elements "        \
    "[g*group_size, (g+1)*group_size) of the row-major tensor and sort is ascending in IEEE "      \
    "754 totalOrder (uint32 bits b -> b ^ (b>>31 ? 0xFFFFFFFF : 0x80000000), so -0.0 < "           \
    "+0.0); snapshot s was taken at /rankings_step[s]; the last snapshot gives /weights"

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

void lp_results_close_all(lp_results *r) {
    for (int i = 0; i < r->n_tensors; ++i)
        if (r->t[i].rank_ds >= 0) H5Dclose(r->t[i].rank_ds), r->t[i].rank_ds = -1;
    for (int i = 0; i < N_METRICS_; ++i)
        if (r->metric[i] >= 0) H5Dclose(r->metric[i]), r->metric[i] = -1;
    if (r->snap_step >= 0) H5Dclose(r->snap_step), r->snap_step = -1;
    if (r->snap_epoch >= 0) H5Dclose(r->snap_epoch), r->snap_epoch = -1;
    if (r->file >= 0) H5Fclose(r->file), r->file = -1;
}

void lp_results_free(lp_results *r) {
    if (!r) return;
    lp_results_close_all(r);
    for (int i = 0; i < r->n_tensors; ++i)
        free(r->t[i].layer), free(r->t[i].tensor);
    free(r->t);
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
 * empty extendible /rankings and /metrics datasets. */
static lp_status write_layout_(lp_results *r, const lp_attr *attrs, int n_attrs,
                               const char *model_text, const char *model_source,
                               const lp_results_tensor *ts) {
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
    for (int i = 0; i < n_attrs; ++i) {
        const lp_attr *a = &attrs[i];
        if (a->type == LP_ATTR_STRING)
            LP_TRY(lp_h5_attr_str(root, a->name, a->s));
        else if (a->type == LP_ATTR_INT)
            LP_TRY(lp_h5_attr_int(root, a->name, a->i));
        else
            LP_TRY(lp_h5_attr_double(root, a->name, a->d));
    }

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
        if (!t->permuted) continue;
        snprintf(name, sizeof name, "/rankings/%s/%s", t->layer, t->tensor);
        hsize_t dims[3] = {0, (hsize_t)t->groups, (hsize_t)t->group_size};
        hsize_t chunk[3] = {1, dims[1], dims[2]}; /* one snapshot per chunk */
        t->rank_ds = lp_h5_create_ds(root, name, H5T_STD_I32LE, 3, dims, chunk, true);
        if (t->rank_ds < 0) return lp_h5_fail(LP_ERR_HDF5, "%s", name);
        char init_path[512];
        snprintf(init_path, sizeof init_path, "/init/%s/%s", t->layer, t->tensor);
        LP_TRY(lp_h5_attr_str(t->rank_ds, "formula", RANKINGS_FORMULA_));
        LP_TRY(lp_h5_attr_str(t->rank_ds, "init", init_path));
    }

    hsize_t zero = 0, chunk1 = METRICS_CHUNK_;
    r->snap_step = lp_h5_create_ds(root, "/rankings_step", H5T_STD_I64LE, 1, &zero, &chunk1, false);
    r->snap_epoch =
        lp_h5_create_ds(root, "/rankings_epoch", H5T_STD_I32LE, 1, &zero, &chunk1, false);
    if (r->snap_step < 0 || r->snap_epoch < 0)
        return lp_h5_fail(LP_ERR_HDF5, "/rankings_step, /rankings_epoch");
    for (int m = 0; m < N_METRICS_; ++m) {
        hid_t type = metrics_[m].kind == M_I32   ? H5T_STD_I32LE
                     : metrics_[m].kind == M_I64 ? H5T_STD_I64LE
                                                 : H5T_IEEE_F64LE;
        snprintf(name, sizeof name, "/metrics/%s", metrics_[m].name);
        r->metric[m] = lp_h5_create_ds(root, name, type, 1, &zero, &chunk1, false);
        if (r->metric[m] < 0) return lp_h5_fail(LP_ERR_HDF5, "%s", name);
    }
    return LP_OK;
}

lp_status lp_results_create(const char *path, const lp_attr *attrs, int n_attrs,
                            const char *model_text, const char *model_source,
                            const lp_results_tensor *tensors, int n_tensors, lp_results **out) {
    lp_h5_quiet();
    if (!out) return lp_fail(LP_ERR_INVALID_ARG, "lp_results_create: out is NULL");
    *out = NULL;
    if (!path || !*path) return lp_fail(LP_ERR_INVALID_ARG, "lp_results_create: empty path");
    if (!model_text) return lp_fail(LP_ERR_INVALID_ARG, "%s: model_text is NULL", path);
    LP_TRY(check_attrs_(path, attrs, n_attrs));
    LP_TRY(check_tensors_(path, tensors, n_tensors));
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return lp_fail(LP_ERR_IO, "%s: exists and is not a regular file", path);
    char dir[4096];
    lp_fs_parent_dir(path, dir, sizeof dir);
    LP_TRY(lp_fs_mkdir_p(dir));

    lp_results *r = calloc(1, sizeof *r);
    if (!r) return lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory", path);
    r->file = r->snap_step = r->snap_epoch = -1;
    for (int m = 0; m < N_METRICS_; ++m)
        r->metric[m] = -1;
    size_t plen = strlen(path);
    r->path = dup_(path);
    r->part = malloc(plen + 6);
    r->t = calloc(n_tensors > 0 ? (size_t)n_tensors : 1, sizeof *r->t);
    int max_group = 1;
    for (int i = 0; i < n_tensors; ++i)
        if (tensors[i].permuted && tensors[i].group_size > max_group)
            max_group = tensors[i].group_size;
    r->seen = malloc((size_t)max_group);
    if (!r->path || !r->part || !r->t || !r->seen) {
        lp_results_free(r);
        return lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory", path);
    }
    memcpy(r->part, path, plen);
    memcpy(r->part + plen, ".part", 6);
    for (int i = 0; i < n_tensors; ++i) {
        const lp_results_tensor *src = &tensors[i];
        lp_results_tensor_state *t = &r->t[i];
        r->n_tensors = i + 1;
        t->rank_ds = -1;
        t->layer = dup_(src->layer);
        t->tensor = dup_(src->tensor);
        if (!t->layer || !t->tensor) {
            lp_results_free(r);
            return lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory", path);
        }
        t->rank = src->rank;
        t->numel = 1;
        for (int d = 0; d < src->rank; ++d)
            t->dims[d] = (hsize_t)src->dims[d], t->numel *= src->dims[d];
        t->groups = src->groups;
        t->group_size = src->group_size;
        t->permuted = src->permuted;
    }

    /* A stale .part (from a killed run) is replaced; unlinking first leaves a writer that
     * might still hold it with its own inode instead of truncating under it. */
    if (unlink(r->part) != 0 && errno != ENOENT) {
        lp_status s =
            lp_fail(LP_ERR_IO, "%s: cannot remove stale file: %s", r->part, strerror(errno));
        lp_results_free(r);
        return s;
    }
    hid_t fapl = lp_h5_fapl();
    r->file = fapl < 0 ? -1 : H5Fcreate(r->part, H5F_ACC_EXCL, H5P_DEFAULT, fapl);
    lp_status s = r->file < 0 ? lp_h5_fail(LP_ERR_HDF5, "%s: cannot create", r->part) : LP_OK;
    if (fapl >= 0) H5Pclose(fapl);
    if (s == LP_OK) {
        s = write_layout_(r, attrs, n_attrs, model_text, model_source, tensors);
        if (s != LP_OK) s = lp_fail_context(s, "%s: ", r->part);
    }
    if (s == LP_OK && H5Fstart_swmr_write(r->file) < 0)
        s = lp_h5_fail(LP_ERR_HDF5, "%s: cannot start SWMR writing", r->part);
    if (s != LP_OK) {
        char *part = r->part;
        r->part = NULL;
        lp_results_free(r);
        unlink(part); /* nothing in it worth keeping */
        free(part);
        return s;
    }
    *out = r;
    return LP_OK;
}

/* ---- per epoch ----------------------------------------------------------------------- */

/* H5Dflush is what SWMR readers need; flushing the whole file also rewrites the
 * superblock's end-of-allocation, without which `h5clear -s` on a killed run's .part
 * truncates the file to where SWMR writing started and loses every epoch after it. */
static lp_status flush_file_(lp_results *r) {
    if (H5Fflush(r->file, H5F_SCOPE_GLOBAL) < 0)
        return lp_h5_fail(LP_ERR_HDF5, "%s: flushing", r->part);
    return LP_OK;
}

lp_status lp_results_append_metrics(lp_results *r, const lp_epoch_metrics *m) {
    lp_h5_quiet();
    if (!r || !m) return lp_fail(LP_ERR_INVALID_ARG, "lp_results_append_metrics: NULL argument");
    hsize_t n = r->n_epochs, size = n + 1, one = 1;
    for (int i = 0; i < N_METRICS_; ++i) {
        hid_t mem = metrics_[i].kind == M_I32   ? H5T_NATIVE_INT
                    : metrics_[i].kind == M_I64 ? H5T_NATIVE_LLONG
                                                : H5T_NATIVE_DOUBLE;
        const char *value = (const char *)m + metrics_[i].offset;
        if (lp_h5_extend_write(r->metric[i], 1, &size, &n, &one, mem, value) < 0 ||
            H5Dflush(r->metric[i]) < 0)
            return lp_h5_fail(LP_ERR_HDF5, "%s: /metrics/%s entry %llu", r->part, metrics_[i].name,
                              (unsigned long long)n);
    }
    r->n_epochs = size;
    return flush_file_(r);
}

lp_status lp_results_append_rankings(lp_results *r, long long step, int epoch,
                                     const int32_t *const *rankings) {
    lp_h5_quiet();
    if (!r || !rankings || epoch < 0)
        return lp_fail(LP_ERR_INVALID_ARG, "lp_results_append_rankings: NULL argument or epoch %d",
                       epoch);
    /* Check everything before writing anything: a bad ranking would make the file lie. */
    for (int i = 0; i < r->n_tensors; ++i) {
        const lp_results_tensor_state *t = &r->t[i];
        if (!t->permuted) continue;
        if (!rankings[i])
            return lp_fail(LP_ERR_INVALID_ARG, "%s: no ranking given for permuted tensor %s/%s",
                           r->part, t->layer, t->tensor);
        for (int g = 0; g < t->groups; ++g) {
            const int32_t *row = rankings[i] + (size_t)g * t->group_size;
            memset(r->seen, 0, (size_t)t->group_size);
            for (int j = 0; j < t->group_size; ++j) {
                if (row[j] < 0 || row[j] >= t->group_size || r->seen[row[j]])
                    return lp_fail(LP_ERR_INVALID_ARG,
                                   "%s: %s/%s group %d: rank[%d] = %d is out of range or "
                                   "repeated (a group must be a permutation of 0..%d)",
                                   r->part, t->layer, t->tensor, g, j, (int)row[j],
                                   t->group_size - 1);
                r->seen[row[j]] = 1;
            }
        }
    }
    hsize_t n = r->n_snapshots;
    for (int i = 0; i < r->n_tensors; ++i) {
        const lp_results_tensor_state *t = &r->t[i];
        if (!t->permuted) continue;
        hsize_t size[3] = {n + 1, (hsize_t)t->groups, (hsize_t)t->group_size};
        hsize_t start[3] = {n, 0, 0}, count[3] = {1, size[1], size[2]};
        herr_t rc =
            lp_h5_extend_write(t->rank_ds, 3, size, start, count, H5T_NATIVE_INT32, rankings[i]);
        if (rc < 0 || H5Dflush(t->rank_ds) < 0)
            return lp_h5_fail(LP_ERR_HDF5, "%s: /rankings/%s/%s snapshot %llu", r->part, t->layer,
                              t->tensor, (unsigned long long)n);
    }
    /* /rankings_step last: a reader that sees n steps finds n complete snapshots. */
    hsize_t size = n + 1, one = 1;
    if (lp_h5_extend_write(r->snap_epoch, 1, &size, &n, &one, H5T_NATIVE_INT, &epoch) < 0 ||
        H5Dflush(r->snap_epoch) < 0 ||
        lp_h5_extend_write(r->snap_step, 1, &size, &n, &one, H5T_NATIVE_LLONG, &step) < 0 ||
        H5Dflush(r->snap_step) < 0)
        return lp_h5_fail(LP_ERR_HDF5, "%s: /rankings_step, /rankings_epoch entry %llu", r->part,
                          (unsigned long long)n);
    r->n_snapshots = size;
    return flush_file_(r);
}
