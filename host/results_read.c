/* Reads datasets and attributes back from a results file (for C callers: the tests), with
 * errors that name the file and the object: missing -> NOT_FOUND, wrong kind -> FORMAT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "laperm/results.h"
#include "results_h5.h"

/* Fails unless every component of `name` exists (H5Lexists needs its parents). */
static lp_status exists_(hid_t f, const char *path, const char *name) {
    char buf[1024];
    if (!name || !*name || snprintf(buf, sizeof buf, "%s", name) >= (int)sizeof buf)
        return lp_fail(LP_ERR_INVALID_ARG, "%s: bad object name", path);
    if (strcmp(buf, "/") == 0) return LP_OK;
    for (char *p = buf + 1;; ++p) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (H5Lexists(f, buf, H5P_DEFAULT) <= 0) {
            H5Eclear2(H5E_DEFAULT);
            return strcmp(buf, name) == 0
                       ? lp_fail(LP_ERR_NOT_FOUND, "%s: no %s", path, name)
                       : lp_fail(LP_ERR_NOT_FOUND, "%s: no %s (%s is missing)", path, name, buf);
        }
        *p = c;
        if (c == '\0') return LP_OK;
    }
}

/* "float32", "int64", "string", ... for messages. */
static const char *type_name_(hid_t type) {
    size_t size = H5Tget_size(type);
    switch (H5Tget_class(type)) {
    case H5T_FLOAT:
        return size == 4 ? "float32" : size == 8 ? "float64" : "float";
    case H5T_INTEGER:
        return size == 1 ? "int8" : size == 2 ? "int16" : size == 4 ? "int32" : "int64";
    case H5T_STRING:
        return "string";
    default:
        return "a compound or other type";
    }
}

static lp_status read_ds_(const char *path, const char *dataset, H5T_class_t cls, size_t size,
                          hid_t mem_type, void **data, int *rank, size_t dims[4]) {
    if (!data || !rank || !dims)
        return lp_fail(LP_ERR_INVALID_ARG, "%s: NULL output for %s", path ? path : "?",
                       dataset ? dataset : "?");
    *data = NULL;
    hid_t f;
    LP_TRY(lp_h5_open_read(path, &f));
    lp_status s = exists_(f, path, dataset);
    hid_t ds = -1, type = -1, space = -1;
    if (s == LP_OK && (ds = H5Dopen2(f, dataset, H5P_DEFAULT)) < 0)
        s = lp_h5_fail(LP_ERR_FORMAT, "%s: %s is not a dataset", path, dataset);
    if (s == LP_OK) {
        type = H5Dget_type(ds);
        space = H5Dget_space(ds);
        int nd = H5Sget_simple_extent_ndims(space);
        if (H5Tget_class(type) != cls || H5Tget_size(type) != size)
            s = lp_fail(LP_ERR_FORMAT, "%s: %s holds %s, expected %s", path, dataset,
                        type_name_(type),
                        cls == H5T_FLOAT ? (size == 4 ? "float32" : "float64")
                                         : (size == 4 ? "int32" : "int64"));
        else if (nd < 0 || nd > 4)
            s = lp_fail(LP_ERR_FORMAT, "%s: %s has rank %d, expected 0..4", path, dataset, nd);
        else {
            hsize_t d[4] = {1, 1, 1, 1};
            H5Sget_simple_extent_dims(space, d, NULL);
            size_t n = 1;
            *rank = nd;
            for (int i = 0; i < 4; ++i)
                dims[i] = i < nd ? (size_t)d[i] : 1, n *= dims[i];
            if (n > 0) {
                *data = malloc(n * size);
                if (!*data)
                    s = lp_fail(LP_ERR_NO_MEMORY, "%s: %s: out of memory", path, dataset);
                else if (H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, *data) < 0)
                    s = lp_h5_fail(LP_ERR_HDF5, "%s: reading %s", path, dataset);
            }
        }
    }
    if (s != LP_OK) free(*data), *data = NULL;
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (ds >= 0) H5Dclose(ds);
    H5Fclose(f);
    return s;
}

lp_status lp_results_read_float(const char *path, const char *dataset, float **data, int *rank,
                                size_t dims[4]) {
    return read_ds_(path, dataset, H5T_FLOAT, 4, H5T_NATIVE_FLOAT, (void **)data, rank, dims);
}

lp_status lp_results_read_double(const char *path, const char *dataset, double **data, int *rank,
                                 size_t dims[4]) {
    return read_ds_(path, dataset, H5T_FLOAT, 8, H5T_NATIVE_DOUBLE, (void **)data, rank, dims);
}

lp_status lp_results_read_int32(const char *path, const char *dataset, int32_t **data, int *rank,
                                size_t dims[4]) {
    return read_ds_(path, dataset, H5T_INTEGER, 4, H5T_NATIVE_INT32, (void **)data, rank, dims);
}

lp_status lp_results_read_int64(const char *path, const char *dataset, int64_t **data, int *rank,
                                size_t dims[4]) {
    return read_ds_(path, dataset, H5T_INTEGER, 8, H5T_NATIVE_INT64, (void **)data, rank, dims);
}

/* Opens attribute `attr` of `object` (or, attr NULL, the dataset `object`), checks that it
 * is a scalar and hands it with its type to `fn`, which reads it. */
typedef lp_status (*reader_fn_)(hid_t obj, bool is_attr, hid_t type, const char *what, void *out);

static lp_status with_object_(const char *path, const char *object, const char *attr, reader_fn_ fn,
                              void *out) {
    hid_t f;
    LP_TRY(lp_h5_open_read(path, &f));
    char what[1024];
    snprintf(what, sizeof what, "%s%s%s", object ? object : "?", attr ? " attribute " : "",
             attr ? attr : "");
    lp_status s = exists_(f, path, object);
    hid_t obj = -1, a = -1, type = -1;
    if (s == LP_OK) {
        obj = attr ? H5Oopen(f, object, H5P_DEFAULT) : H5Dopen2(f, object, H5P_DEFAULT);
        if (obj < 0) s = lp_h5_fail(LP_ERR_FORMAT, "%s: cannot open %s", path, object);
    }
    if (s == LP_OK && attr) {
        if (H5Aexists(obj, attr) <= 0) {
            H5Eclear2(H5E_DEFAULT);
            s = lp_fail(LP_ERR_NOT_FOUND, "%s: no attribute %s on %s", path, attr, object);
        } else if ((a = H5Aopen(obj, attr, H5P_DEFAULT)) < 0) {
            s = lp_h5_fail(LP_ERR_HDF5, "%s: cannot open %s", path, what);
        }
    }
    if (s == LP_OK) {
        hid_t space = attr ? H5Aget_space(a) : H5Dget_space(obj);
        hssize_t npoints = H5Sget_simple_extent_npoints(space);
        H5Sclose(space);
        if (npoints != 1) s = lp_fail(LP_ERR_FORMAT, "%s: %s is not a scalar", path, what);
    }
    if (s == LP_OK) {
        type = attr ? H5Aget_type(a) : H5Dget_type(obj);
        s = fn(attr ? a : obj, attr != NULL, type, what, out);
        if (s != LP_OK) s = lp_fail_context(s, "%s: ", path);
    }
    if (type >= 0) H5Tclose(type);
    if (a >= 0) H5Aclose(a);
    if (obj >= 0) H5Oclose(obj);
    H5Fclose(f);
    return s;
}

static herr_t read_any_(hid_t obj, bool is_attr, hid_t mem_type, void *buf) {
    return is_attr ? H5Aread(obj, mem_type, buf)
                   : H5Dread(obj, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
}

/* Scalar string, variable-length (ours) or fixed-length (h5py's np.bytes_ attributes). */
static lp_status read_str_(hid_t obj, bool is_attr, hid_t type, const char *what, void *out) {
    char **res = out;
    if (H5Tget_class(type) != H5T_STRING)
        return lp_fail(LP_ERR_FORMAT, "%s holds %s, expected a string", what, type_name_(type));
    if (H5Tis_variable_str(type) > 0) {
        hid_t mem = lp_h5_str_type();
        char *vl = NULL;
        if (read_any_(obj, is_attr, mem, &vl) < 0) {
            lp_status s = lp_h5_fail(LP_ERR_HDF5, "reading %s", what);
            H5Tclose(mem);
            return s;
        }
        H5Tclose(mem);
        *res = malloc(vl ? strlen(vl) + 1 : 1);
        if (*res) strcpy(*res, vl ? vl : "");
        H5free_memory(vl);
    } else {
        size_t n = H5Tget_size(type);
        *res = calloc(n + 1, 1);
        if (*res && read_any_(obj, is_attr, type, *res) < 0) {
            free(*res), *res = NULL;
            return lp_h5_fail(LP_ERR_HDF5, "reading %s", what);
        }
    }
    return *res ? LP_OK : lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory", what);
}

static lp_status read_int_(hid_t obj, bool is_attr, hid_t type, const char *what, void *out) {
    if (H5Tget_class(type) != H5T_INTEGER)
        return lp_fail(LP_ERR_FORMAT, "%s holds %s, expected an integer", what, type_name_(type));
    return read_any_(obj, is_attr, H5T_NATIVE_LLONG, out) < 0
               ? lp_h5_fail(LP_ERR_HDF5, "reading %s", what)
               : LP_OK;
}

static lp_status read_double_(hid_t obj, bool is_attr, hid_t type, const char *what, void *out) {
    H5T_class_t c = H5Tget_class(type);
    if (c != H5T_FLOAT && c != H5T_INTEGER)
        return lp_fail(LP_ERR_FORMAT, "%s holds %s, expected a number", what, type_name_(type));
    return read_any_(obj, is_attr, H5T_NATIVE_DOUBLE, out) < 0
               ? lp_h5_fail(LP_ERR_HDF5, "reading %s", what)
               : LP_OK;
}

lp_status lp_results_read_string(const char *path, const char *object, const char *attr,
                                 char **out) {
    if (!out) return lp_fail(LP_ERR_INVALID_ARG, "lp_results_read_string: out is NULL");
    *out = NULL;
    return with_object_(path, object, attr, read_str_, out);
}

lp_status lp_results_read_attr_int(const char *path, const char *object, const char *attr,
                                   long long *out) {
    if (!out || !attr) return lp_fail(LP_ERR_INVALID_ARG, "lp_results_read_attr_int: NULL");
    return with_object_(path, object, attr, read_int_, out);
}

lp_status lp_results_read_attr_double(const char *path, const char *object, const char *attr,
                                      double *out) {
    if (!out || !attr) return lp_fail(LP_ERR_INVALID_ARG, "lp_results_read_attr_double: NULL");
    return with_object_(path, object, attr, read_double_, out);
}

static bool skipped_(const char *name, const char *const *skip) {
    for (int i = 0; skip && skip[i]; ++i) {
        size_t n = strlen(skip[i]);
        /* "env_*": a prefix */
        if (n && skip[i][n - 1] == '*' ? strncmp(name, skip[i], n - 1) == 0
                                       : strcmp(name, skip[i]) == 0)
            return true;
    }
    return false;
}

/* Whether attribute a holds its "off" value: 0, +0.0 or "". Every attribute added to the
 * results file records a setting that way when it is off, so a file written before the
 * attribute existed (when the setting could only be off) is the same run as one with it
 * off. */
static bool off_(const lp_attr *a) {
    static const double zero = 0.0;
    return a->type == LP_ATTR_STRING ? !a->s[0]
           : a->type == LP_ATTR_INT  ? a->i == 0
                                     : memcmp(&a->d, &zero, sizeof zero) == 0;
}

lp_status lp_results_check_same_run(const char *path, const lp_attr *attrs, int n_attrs,
                                    const char *const *skip, const char *model_text) {
    char *text = NULL;
    LP_TRY(lp_results_read_string(path, "/model_text", NULL, &text));
    bool same = strcmp(text, model_text) == 0;
    free(text);
    if (!same)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "%s: the model differs from the one this run trained (/model_text)", path);
    for (int i = 0; i < n_attrs; ++i) {
        const lp_attr *a = &attrs[i];
        if (skipped_(a->name, skip)) continue;
        char was[256] = "", now[256] = "";
        lp_status s = LP_OK;
        if (a->type == LP_ATTR_STRING) {
            char *v = NULL;
            s = lp_results_read_string(path, "/", a->name, &v);
            if (s == LP_OK && strcmp(v, a->s) != 0) {
                snprintf(was, sizeof was, "'%s'", v);
                snprintf(now, sizeof now, "'%s'", a->s);
            }
            free(v);
        } else if (a->type == LP_ATTR_INT) {
            long long v;
            s = lp_results_read_attr_int(path, "/", a->name, &v);
            if (s == LP_OK && v != a->i) {
                snprintf(was, sizeof was, "%lld", v);
                snprintf(now, sizeof now, "%lld", a->i);
            }
        } else {
            double v;
            s = lp_results_read_attr_double(path, "/", a->name, &v);
            if (s == LP_OK && memcmp(&v, &a->d, sizeof v) != 0) {
                snprintf(was, sizeof was, "%.17g", v);
                snprintf(now, sizeof now, "%.17g", a->d);
            }
        }
        if (s == LP_ERR_NOT_FOUND && off_(a)) {
            lp_clear_error(); /* written before the attribute existed: the setting was off */
            continue;
        }
        if (s == LP_ERR_NOT_FOUND)
            return lp_fail(LP_ERR_INVALID_ARG,
                           "%s was written without '%s' (by a laperm from before that setting, "
                           "so it ran with it off); this run sets it",
                           path, a->name);
        if (s != LP_OK) return lp_fail_context(s, "%s: reading '%s': ", path, a->name);
        if (was[0])
            return lp_fail(LP_ERR_INVALID_ARG, "%s: '%s' was %s in that run, %s now", path, a->name,
                           was, now);
    }
    return LP_OK;
}

lp_status lp_results_clear_open_mark(const char *path) {
    lp_h5_quiet();
    hid_t fapl = lp_h5_fapl();
    hbool_t clear = 1;
    /* The file-access property h5clear itself sets (HDF5 1.10 and later). */
    if (fapl < 0 || H5Pexist(fapl, "clear_status_flags") <= 0 ||
        H5Pset(fapl, "clear_status_flags", &clear) < 0) {
        if (fapl >= 0) H5Pclose(fapl);
        H5Eclear2(H5E_DEFAULT);
        return lp_fail(LP_ERR_UNSUPPORTED,
                       "%s: this HDF5 cannot clear the open-for-writing mark (run `h5clear -s %s`)",
                       path, path);
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, fapl);
    H5Pclose(fapl);
    if (f < 0)
        return lp_h5_fail(LP_ERR_HDF5, "%s: cannot open to clear its open-for-writing mark", path);
    return H5Fclose(f) < 0 ? lp_h5_fail(LP_ERR_HDF5, "%s: closing", path) : LP_OK;
}
