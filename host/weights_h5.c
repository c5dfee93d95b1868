/* HDF5 reading for the weights loaders (weights_h5.h). */
#include "weights_h5.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results_h5.h"

bool lp_wh5_exists(hid_t loc, const char *name) {
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", name) >= (int)sizeof buf) return false;
    for (char *p = buf + 1;; ++p) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        htri_t e = H5Lexists(loc, buf, H5P_DEFAULT);
        if (e <= 0) {
            H5Eclear2(H5E_DEFAULT);
            return false;
        }
        *p = c;
        if (c == '\0') return true;
    }
}

/* Opens `name`, checks its class and rank (min_rank..4 with the slice's axis), selects
 * the slice; fills rank/dims of what is read and the spaces to read with. */
static lp_status open_(hid_t loc, const char *name, long long slice, const char *file,
                       H5T_class_t cls, hid_t *ds, hid_t *fspace, hid_t *mspace, int *rank,
                       int dims[4], size_t *count) {
    *ds = *fspace = *mspace = -1;
    if (!lp_wh5_exists(loc, name)) return lp_fail(LP_ERR_NOT_FOUND, "%s: no %s", file, name);
    *ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (*ds < 0) return lp_h5_fail(LP_ERR_FORMAT, "%s: %s is not a dataset", file, name);
    hid_t type = H5Dget_type(*ds);
    H5T_class_t c = H5Tget_class(type);
    H5Tclose(type);
    if (c != cls)
        return lp_fail(LP_ERR_FORMAT, "%s: %s holds %s values, expected %s", file, name,
                       c == H5T_FLOAT     ? "float"
                       : c == H5T_INTEGER ? "integer"
                                          : "non-numeric",
                       cls == H5T_FLOAT ? "float32" : "int32");
    *fspace = H5Dget_space(*ds);
    int nd = H5Sget_simple_extent_ndims(*fspace);
    int lo = slice >= 0 ? 2 : 1, hi = slice >= 0 ? 5 : 4;
    if (nd < lo || nd > hi)
        return lp_fail(LP_ERR_FORMAT, "%s: %s has rank %d, expected %d to %d", file, name, nd, lo,
                       hi);
    hsize_t d[5], start[5] = {0}, cnt[5];
    H5Sget_simple_extent_dims(*fspace, d, NULL);
    int skip = slice >= 0 ? 1 : 0;
    if (slice >= 0 && (hsize_t)slice >= d[0])
        return lp_fail(LP_ERR_NOT_FOUND, "%s: %s holds %llu entries, not entry %lld", file, name,
                       (unsigned long long)d[0], slice);
    *rank = nd - skip;
    *count = 1;
    for (int i = 0; i < nd; ++i) {
        cnt[i] = i < skip ? 1 : d[i];
        if (i >= skip) {
            if (d[i] < 1 || d[i] > 0x7FFFFFFF)
                return lp_fail(LP_ERR_FORMAT, "%s: %s: dimension %d is %llu", file, name, i,
                               (unsigned long long)d[i]);
            dims[i - skip] = (int)d[i];
            *count *= (size_t)d[i];
        }
    }
    if (slice >= 0) {
        start[0] = (hsize_t)slice;
        H5Sselect_hyperslab(*fspace, H5S_SELECT_SET, start, NULL, cnt, NULL);
    }
    hsize_t m = (hsize_t)*count;
    *mspace = H5Screate_simple(1, &m, NULL);
    return LP_OK;
}

static lp_status read_(hid_t loc, const char *name, long long slice, const char *file,
                       H5T_class_t cls, hid_t mem_type, size_t elem, int *rank, int dims[4],
                       void **data) {
    hid_t ds, fs, ms;
    size_t count = 0;
    *data = NULL;
    lp_status s = open_(loc, name, slice, file, cls, &ds, &fs, &ms, rank, dims, &count);
    if (s == LP_OK && !(*data = malloc(count * elem)))
        s = lp_fail(LP_ERR_NO_MEMORY, "%s: %s: out of memory", file, name);
    if (s == LP_OK && H5Dread(ds, mem_type, ms, fs, H5P_DEFAULT, *data) < 0)
        s = lp_h5_fail(LP_ERR_HDF5, "%s: reading %s", file, name);
    if (s != LP_OK) {
        free(*data);
        *data = NULL;
    }
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    if (ds >= 0) H5Dclose(ds);
    return s;
}

lp_status lp_wh5_read_float(hid_t loc, const char *name, long long slice, const char *file,
                            int *rank, int dims[4], float **data) {
    return read_(loc, name, slice, file, H5T_FLOAT, H5T_NATIVE_FLOAT, sizeof(float), rank, dims,
                 (void **)data);
}

lp_status lp_wh5_read_int32_slice(hid_t loc, const char *name, long long slice, const char *file,
                                  int *rank, int dims[4], int32_t **data) {
    return read_(loc, name, slice, file, H5T_INTEGER, H5T_NATIVE_INT32, sizeof(int32_t), rank, dims,
                 (void **)data);
}

long long lp_wh5_length(hid_t loc, const char *name, const char *file) {
    if (!lp_wh5_exists(loc, name)) {
        lp_fail(LP_ERR_NOT_FOUND, "%s: no %s", file, name);
        return -1;
    }
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0) {
        lp_h5_fail(LP_ERR_FORMAT, "%s: %s is not a dataset", file, name);
        return -1;
    }
    hid_t sp = H5Dget_space(ds);
    hsize_t d[8] = {0};
    int nd = H5Sget_simple_extent_ndims(sp);
    if (nd >= 1 && nd <= 8) H5Sget_simple_extent_dims(sp, d, NULL);
    H5Sclose(sp);
    H5Dclose(ds);
    if (nd < 1) {
        lp_fail(LP_ERR_FORMAT, "%s: %s is a scalar, expected an array", file, name);
        return -1;
    }
    return (long long)d[0];
}

void lp_wh5_strings_free(char **s, int n) {
    for (int i = 0; s && i < n; ++i)
        free(s[i]);
    free(s);
}

lp_status lp_wh5_attr_strings(hid_t obj, const char *attr, const char *file, char ***out, int *n) {
    *out = NULL;
    *n = 0;
    htri_t e = H5Aexists(obj, attr);
    if (e <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return lp_fail(LP_ERR_NOT_FOUND, "%s: no attribute %s", file, attr);
    }
    hid_t a = H5Aopen(obj, attr, H5P_DEFAULT);
    hid_t type = H5Aget_type(a), space = H5Aget_space(a);
    lp_status s = LP_OK;
    hssize_t count = H5Sget_simple_extent_npoints(space);
    if (H5Tget_class(type) != H5T_STRING)
        s = lp_fail(LP_ERR_FORMAT, "%s: attribute %s is not a string or array of strings", file,
                    attr);
    else if (count < 0 || count > 1000000)
        s = lp_fail(LP_ERR_FORMAT, "%s: attribute %s: %lld strings", file, attr, (long long)count);
    char **list = NULL;
    if (s == LP_OK && !(list = calloc((size_t)count + 1, sizeof *list)))
        s = lp_fail(LP_ERR_NO_MEMORY, "out of memory");
    if (s == LP_OK && H5Tis_variable_str(type) > 0) {
        char **raw = calloc((size_t)count + 1, sizeof *raw);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(type));
        if (!raw || H5Aread(a, mt, raw) < 0)
            s = lp_h5_fail(LP_ERR_HDF5, "%s: reading attribute %s", file, attr);
        for (hssize_t i = 0; s == LP_OK && i < count; ++i)
            if (!(list[i] = strdup(raw[i] ? raw[i] : "")))
                s = lp_fail(LP_ERR_NO_MEMORY, "out of memory");
        if (raw && s == LP_OK) H5Dvlen_reclaim(mt, space, H5P_DEFAULT, raw);
        H5Tclose(mt);
        free(raw);
    } else if (s == LP_OK) {
        size_t len = H5Tget_size(type);
        char *raw = malloc((size_t)count * len + 1);
        hid_t mt = H5Tcopy(type);
        if (!raw || H5Aread(a, mt, raw) < 0)
            s = lp_h5_fail(LP_ERR_HDF5, "%s: reading attribute %s", file, attr);
        for (hssize_t i = 0; s == LP_OK && i < count; ++i) {
            list[i] = calloc(len + 1, 1);
            if (!list[i])
                s = lp_fail(LP_ERR_NO_MEMORY, "out of memory");
            else
                memcpy(list[i], raw + (size_t)i * len, len);
        }
        H5Tclose(mt);
        free(raw);
    }
    H5Tclose(type);
    H5Sclose(space);
    H5Aclose(a);
    if (s != LP_OK) {
        lp_wh5_strings_free(list, (int)(count > 0 ? count : 0));
        return s;
    }
    *out = list;
    *n = (int)count;
    return LP_OK;
}
