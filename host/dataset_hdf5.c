/* A user's own data in one HDF5 file: /train/x, /train/y, /test/x, /test/y (README, "HDF5
 * data"). Integer y is classification, float y regression. Every dataset is checked
 * (type, rank, size, finiteness) before it is used, and each message names the file and
 * the dataset, so a malformed file is refused with what is wrong where. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/data.h"
#include "results_h5.h"

#define H5_MAX_CLASSES_ 256 /* labels are kept as bytes */

/* One open dataset: its path, class and shape. */
typedef struct {
    hid_t ds;
    char name[16]; /* "/train/x" */
    H5T_class_t cls;
    size_t size;    /* bytes per element as stored */
    bool unsigned_; /* integers: no sign */
    int rank;
    hsize_t dims[4];
} h5ds_;

static void close_ds_(h5ds_ *d) {
    if (d->ds >= 0) H5Dclose(d->ds);
    d->ds = -1;
}

/* Opens /<split>/<what> and reads its type class and shape; x has rank 2 or 4, y 1 or 2. */
static lp_status open_ds_(hid_t f, const char *path, const char *split, const char *what,
                          h5ds_ *d) {
    /* split "": the dataset at the root (lp_hdf5_inputs_load's /x) */
    snprintf(d->name, sizeof d->name, split[0] ? "/%s/%s" : "%s/%s", split, what);
    d->ds = -1;
    htri_t has_group = split[0] ? H5Lexists(f, split, H5P_DEFAULT) : 1;
    htri_t has = has_group > 0 ? H5Lexists(f, d->name, H5P_DEFAULT) : 0;
    H5Eclear2(H5E_DEFAULT);
    if (has <= 0)
        return lp_fail(LP_ERR_FORMAT,
                       "%s: no dataset %s (an HDF5 data file holds /train/x, /train/y, /test/x "
                       "and /test/y)",
                       path, d->name);
    d->ds = H5Dopen2(f, d->name, H5P_DEFAULT);
    if (d->ds < 0) return lp_h5_fail(LP_ERR_FORMAT, "%s: %s is not a dataset", path, d->name);
    hid_t type = H5Dget_type(d->ds), space = H5Dget_space(d->ds);
    d->cls = H5Tget_class(type);
    d->size = H5Tget_size(type);
    d->unsigned_ = d->cls == H5T_INTEGER && H5Tget_sign(type) == H5T_SGN_NONE;
    d->rank = H5Sget_simple_extent_ndims(space);
    if (d->rank >= 0 && d->rank <= 4) H5Sget_simple_extent_dims(space, d->dims, NULL);
    H5Tclose(type);
    H5Sclose(space);
    bool x = what[0] == 'x';
    if (x && d->rank != 2 && d->rank != 4)
        return lp_fail(LP_ERR_FORMAT,
                       "%s: %s has rank %d, expected 2 (n, features) or 4 (n, channels, height, "
                       "width)",
                       path, d->name, d->rank);
    if (!x && d->rank != 1 && d->rank != 2)
        return lp_fail(LP_ERR_FORMAT,
                       "%s: %s has rank %d, expected 1 (n) or 2 (n, outputs; float targets only)",
                       path, d->name, d->rank);
    if (x && !(d->cls == H5T_FLOAT || (d->cls == H5T_INTEGER && d->size == 1 && d->unsigned_)))
        return lp_fail(LP_ERR_FORMAT, "%s: %s must be float32, float64 or uint8", path, d->name);
    if (!x && d->cls != H5T_FLOAT && d->cls != H5T_INTEGER)
        return lp_fail(LP_ERR_FORMAT,
                       "%s: %s must be integers (class labels) or floats (regression targets)",
                       path, d->name);
    if (!x && d->cls == H5T_INTEGER && d->rank != 1)
        return lp_fail(LP_ERR_FORMAT, "%s: %s holds integer labels and must have rank 1 (n)", path,
                       d->name);
    if (d->dims[0] == 0)
        return lp_fail(LP_ERR_FORMAT, "%s: %s is empty (each split needs at least one sample)",
                       path, d->name);
    for (int i = 1; i < d->rank; ++i)
        if (d->dims[i] == 0)
            return lp_fail(LP_ERR_FORMAT, "%s: %s has a dimension of size 0", path, d->name);
    if (d->dims[0] > INT_MAX)
        return lp_fail(LP_ERR_FORMAT, "%s: %s has %llu samples, more than laperm handles", path,
                       d->name, (unsigned long long)d->dims[0]);
    return LP_OK;
}

/* The shape of a dataset as "(2, 3, 4)". */
static const char *shape_str_(const h5ds_ *d, char *buf, size_t cap) {
    size_t len = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < d->rank && len < cap; ++i)
        len += (size_t)snprintf(buf + len, cap - len, "%s%llu", i ? ", " : "",
                                (unsigned long long)d->dims[i]);
    if (len < cap) snprintf(buf + len, cap - len, ")");
    return buf;
}

/* Elements per sample (dimensions past the first), at most INT_MAX. */
static lp_status per_sample_(const char *path, const h5ds_ *d, size_t *out) {
    size_t n = 1;
    for (int i = 1; i < d->rank; ++i) {
        if (d->dims[i] > (hsize_t)INT_MAX / n)
            return lp_fail(LP_ERR_FORMAT, "%s: %s has more than %d values per sample", path,
                           d->name, INT_MAX);
        n *= (size_t)d->dims[i];
    }
    *out = n;
    return LP_OK;
}

/* Reads all of `d` converted to `mem` into a new buffer of count elements of `elem` bytes. */
static lp_status read_all_(const char *path, const h5ds_ *d, hid_t mem, size_t count, size_t elem,
                           void **out) {
    *out = malloc(count * elem + 1);
    if (!*out)
        return lp_fail(LP_ERR_NO_MEMORY, "%s: cannot allocate %zu values for %s", path, count,
                       d->name);
    if (H5Dread(d->ds, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0) {
        free(*out);
        *out = NULL;
        return lp_h5_fail(LP_ERR_FORMAT, "%s: cannot read %s", path, d->name);
    }
    return LP_OK;
}

/* The first non-finite value of count floats, or LP_OK. */
static lp_status check_finite_(const char *path, const h5ds_ *d, const float *v, size_t count,
                               size_t per) {
    for (size_t i = 0; i < count; ++i)
        if (!isfinite(v[i])) {
            size_t sample = i / per, j = i % per;
            return lp_fail(LP_ERR_FORMAT,
                           "%s: %s holds %s at sample %zu (flat index %zu, element %zu of the "
                           "sample): inputs and targets must be finite%s",
                           path, d->name, isnan(v[i]) ? "NaN" : "Inf", sample, i, j,
                           d->cls == H5T_FLOAT && d->size > 4 ? " (and fit a float32)" : "");
        }
    return LP_OK;
}

/* The largest label of integer dataset `d`; negative labels are refused. */
static lp_status label_max_(const char *path, const h5ds_ *d, long long *max) {
    void *buf;
    size_t n = (size_t)d->dims[0];
    LP_TRY(read_all_(path, d, H5T_NATIVE_LLONG, n, sizeof(long long), &buf));
    const long long *y = buf;
    lp_status s = LP_OK;
    for (size_t i = 0; i < n; ++i) {
        if (y[i] < 0) {
            s = lp_fail(LP_ERR_FORMAT, "%s: %s[%zu] is %lld: class labels must be >= 0", path,
                        d->name, i, y[i]);
            break;
        }
        if (y[i] > *max) *max = y[i];
    }
    free(buf);
    return s;
}

/* The root attribute `classes` if present (0 if not). */
static lp_status classes_attr_(hid_t f, const char *path, long long *classes) {
    *classes = 0;
    htri_t has = H5Aexists(f, "classes");
    if (has <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return LP_OK;
    }
    hid_t a = H5Aopen(f, "classes", H5P_DEFAULT);
    hid_t space = a >= 0 ? H5Aget_space(a) : -1, type = a >= 0 ? H5Aget_type(a) : -1;
    bool ok = a >= 0 && H5Sget_simple_extent_npoints(space) == 1 &&
              H5Tget_class(type) == H5T_INTEGER && H5Aread(a, H5T_NATIVE_LLONG, classes) >= 0;
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (a >= 0) H5Aclose(a);
    H5Eclear2(H5E_DEFAULT);
    if (!ok || *classes < 1 || *classes > H5_MAX_CLASSES_)
        return lp_fail(LP_ERR_FORMAT,
                       "%s: root attribute `classes` must be one integer in [1, %d] (labels are "
                       "stored as bytes)",
                       path, H5_MAX_CLASSES_);
    return LP_OK;
}

/* Both splits' x and y open and checked against each other. */
typedef struct {
    h5ds_ x[2], y[2]; /* [0] train, [1] test */
} h5split_;

static lp_status check_pair_(const char *path, const h5ds_ *x, const h5ds_ *y) {
    if (x->dims[0] != y->dims[0])
        return lp_fail(LP_ERR_FORMAT, "%s: %s has %llu samples but %s has %llu", path, x->name,
                       (unsigned long long)x->dims[0], y->name, (unsigned long long)y->dims[0]);
    return LP_OK;
}

static lp_status open_all_(hid_t f, const char *path, h5split_ *sp) {
    static const char *const splits[2] = {"train", "test"};
    for (int i = 0; i < 2; ++i) {
        LP_TRY(open_ds_(f, path, splits[i], "x", &sp->x[i]));
        LP_TRY(open_ds_(f, path, splits[i], "y", &sp->y[i]));
        LP_TRY(check_pair_(path, &sp->x[i], &sp->y[i]));
    }
    char a[96], b[96];
    const h5ds_ *x = sp->x, *y = sp->y;
    bool same_x = x[0].rank == x[1].rank;
    for (int d = 1; same_x && d < x[0].rank; ++d)
        same_x = x[0].dims[d] == x[1].dims[d];
    if (!same_x)
        return lp_fail(
            LP_ERR_FORMAT, "%s: %s is %s but %s is %s: the samples' shapes must be the same", path,
            x[0].name, shape_str_(&x[0], a, sizeof a), x[1].name, shape_str_(&x[1], b, sizeof b));
    if ((y[0].cls == H5T_INTEGER) != (y[1].cls == H5T_INTEGER))
        return lp_fail(LP_ERR_FORMAT,
                       "%s: %s and %s must both be integer labels or both float targets", path,
                       y[0].name, y[1].name);
    size_t out0 = y[0].rank == 2 ? (size_t)y[0].dims[1] : 1;
    size_t out1 = y[1].rank == 2 ? (size_t)y[1].dims[1] : 1;
    if (out0 != out1)
        return lp_fail(LP_ERR_FORMAT, "%s: %s is %s but %s is %s: targets per sample differ", path,
                       y[0].name, shape_str_(&y[0], a, sizeof a), y[1].name,
                       shape_str_(&y[1], b, sizeof b));
    return LP_OK;
}

/* Inputs of split i into out (c, h, w, x, x_real, origin). */
static lp_status load_x_(const char *path, const h5ds_ *x, lp_dataset *out) {
    size_t per = 1, n = (size_t)x->dims[0];
    LP_TRY(per_sample_(path, x, &per));
    if (x->rank == 2) {
        out->c = (int)x->dims[1];
        out->h = out->w = 1;
    } else {
        out->c = (int)x->dims[1];
        out->h = (int)x->dims[2];
        out->w = (int)x->dims[3];
    }
    char shape[96];
    snprintf(out->origin, sizeof out->origin, "%s: %s %s", path, x->name,
             shape_str_(x, shape, sizeof shape));
    void *buf;
    if (x->cls == H5T_INTEGER) {
        LP_TRY(read_all_(path, x, H5T_NATIVE_UCHAR, n * per, 1, &buf));
        out->x = malloc(n * per * sizeof *out->x + 1);
        if (!out->x) {
            free(buf);
            return lp_fail(LP_ERR_NO_MEMORY, "%s: cannot allocate %s", path, x->name);
        }
        const uint8_t *b = buf;
        for (size_t i = 0; i < n * per; ++i)
            out->x[i] = (float)b[i] / 255.0f; /* as the image formats */
        free(buf);
        return LP_OK;
    }
    LP_TRY(read_all_(path, x, H5T_NATIVE_FLOAT, n * per, sizeof(float), &buf));
    out->x = buf;
    out->x_real = true;
    return check_finite_(path, x, out->x, n * per, per);
}

/* Closes the file; a failed load leaves *out zeroed, a good one gets its n. */
static lp_status finish_(hid_t f, lp_status s, size_t n, lp_dataset *out) {
    H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
    if (s != LP_OK) {
        lp_dataset_free(out);
        return s;
    }
    out->n = (int)n;
    return LP_OK;
}

lp_status lp_hdf5_data_load(const char *path, const char *split, lp_dataset *out) {
    if (!path || !split || !out)
        return lp_fail(LP_ERR_INVALID_ARG, "lp_hdf5_data_load: path, split and out are required");
    memset(out, 0, sizeof *out);
    int which = !strcmp(split, "train") ? 0 : !strcmp(split, "test") ? 1 : -1;
    if (which < 0)
        return lp_fail(LP_ERR_INVALID_ARG, "split \"%s\" is neither \"train\" nor \"test\"", split);
    hid_t f;
    lp_status s = lp_h5_open_read(path, &f);
    if (s != LP_OK) {
        if (s == LP_ERR_NOT_FOUND)
            return lp_fail(s,
                           "%s: no such file (--dataset hdf5 takes the file as --data; "
                           "scripts/make-hdf5-data writes examples)",
                           path);
        return s;
    }
    h5split_ sp;
    for (int i = 0; i < 2; ++i)
        sp.x[i].ds = sp.y[i].ds = -1;
    s = open_all_(f, path, &sp);
    const h5ds_ *x = &sp.x[which], *y = &sp.y[which];
    size_t n = s == LP_OK ? (size_t)x->dims[0] : 0;
    if (s == LP_OK) s = load_x_(path, x, out);
    if (s == LP_OK && y->cls == H5T_INTEGER) {
        /* classes over both splits, so train and test agree */
        long long max = -1, attr = 0;
        s = label_max_(path, &sp.y[0], &max);
        if (s == LP_OK) s = label_max_(path, &sp.y[1], &max);
        if (s == LP_OK) s = classes_attr_(f, path, &attr);
        if (s == LP_OK && attr && max >= attr)
            s = lp_fail(LP_ERR_FORMAT, "%s: a label is %lld but the attribute `classes` is %lld",
                        path, max, attr);
        if (s == LP_OK && !attr && max >= H5_MAX_CLASSES_)
            s = lp_fail(LP_ERR_FORMAT, "%s: a label is %lld; laperm takes at most %d classes", path,
                        max, H5_MAX_CLASSES_);
        void *buf = NULL;
        if (s == LP_OK) s = read_all_(path, y, H5T_NATIVE_UCHAR, n, 1, &buf);
        out->y = buf;
        out->classes = (int)(attr ? attr : max + 1);
    } else if (s == LP_OK) {
        size_t outputs = y->rank == 2 ? (size_t)y->dims[1] : 1;
        void *buf = NULL;
        if (outputs > INT_MAX / 2)
            s = lp_fail(LP_ERR_FORMAT, "%s: %s has too many outputs", path, y->name);
        if (s == LP_OK) s = read_all_(path, y, H5T_NATIVE_FLOAT, n * outputs, sizeof(float), &buf);
        out->t = buf;
        out->outputs = (int)outputs;
        if (s == LP_OK) s = check_finite_(path, y, out->t, n * outputs, outputs);
        out->y = s == LP_OK ? calloc(n + 1, 1) : NULL;
        if (s == LP_OK && !out->y) s = lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory", path);
    }
    for (int i = 0; i < 2; ++i) {
        close_ds_(&sp.x[i]);
        close_ds_(&sp.y[i]);
    }
    return finish_(f, s, n, out);
}

lp_status lp_hdf5_inputs_load(const char *path, lp_dataset *out) {
    if (!path || !out) return lp_fail(LP_ERR_INVALID_ARG, "lp_hdf5_inputs_load: NULL argument");
    memset(out, 0, sizeof *out);
    hid_t f;
    LP_TRY(lp_h5_open_read(path, &f));
    htri_t root = H5Lexists(f, "x", H5P_DEFAULT);
    H5Eclear2(H5E_DEFAULT);
    h5ds_ x = {.ds = -1};
    lp_status s = open_ds_(f, path, root > 0 ? "" : "test", "x", &x);
    if (s != LP_OK && root <= 0)
        s = lp_fail(LP_ERR_FORMAT, "%s: no dataset /x or /test/x (the inputs to predict)", path);
    if (s == LP_OK) s = load_x_(path, &x, out);
    size_t n = s == LP_OK ? (size_t)x.dims[0] : 0;
    if (s == LP_OK && !(out->y = calloc(n + 1, 1)))
        s = lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory", path);
    close_ds_(&x);
    return finish_(f, s, n, out);
}
