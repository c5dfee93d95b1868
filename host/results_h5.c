/* Helpers shared by the results writer and reader: quiet HDF5 error handling that turns
 * HDF5's error stack into our message, attributes, extendible datasets, and the file
 * system calls that make the final rename crash-safe. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "results_h5.h"

void lp_h5_quiet(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

typedef struct {
    char outer[256], inner[256];
    unsigned count;
} h5_stack_;

static herr_t walk_cb_(unsigned n, const H5E_error2_t *e, void *data) {
    h5_stack_ *st = data;
    char minor[128] = "";
    H5Eget_msg(e->min_num, NULL, minor, sizeof minor);
    /* Walking downward, entry 0 is the API call and the last is where HDF5 noticed. */
    char *dst = n == 0 ? st->outer : st->inner;
    snprintf(dst, sizeof st->outer, "%s (%s)", e->desc ? e->desc : "?", minor);
    st->count = n + 1;
    return 0;
}

lp_status lp_h5_fail(lp_status s, const char *fmt, ...) {
    char head[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    h5_stack_ st = {.count = 0};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_cb_, &st);
    H5Eclear2(H5E_DEFAULT);
    if (st.count == 0) return lp_fail(s, "%s", head);
    if (st.count == 1) return lp_fail(s, "%s: HDF5: %s", head, st.outer);
    return lp_fail(s, "%s: HDF5: %s: %s", head, st.outer, st.inner);
}

hid_t lp_h5_fapl(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return fapl;
    if (H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST) < 0 ||
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}

/* Opens read-only. A .part whose writer was killed is still marked "open for SWMR
 * writing", which a plain open refuses; a SWMR read open accepts it. */
lp_status lp_h5_open_read(const char *path, hid_t *out) {
    lp_h5_quiet();
    *out = -1;
    if (!path) return lp_fail(LP_ERR_INVALID_ARG, "results: NULL path");
    if (access(path, F_OK) != 0) return lp_fail(LP_ERR_NOT_FOUND, "%s: no such file", path);
#if H5_VERSION_GE(1, 12, 0)
    htri_t is_h5 = H5Fis_accessible(path, H5P_DEFAULT);
#else
    htri_t is_h5 = H5Fis_hdf5(path);
#endif
    if (is_h5 <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return lp_fail(LP_ERR_FORMAT, "%s: not an HDF5 file", path);
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        H5Eclear2(H5E_DEFAULT);
        hid_t fapl = lp_h5_fapl();
        f = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl);
        hid_t err = lp_h5_errors_save();
        H5Pclose(fapl);
        lp_h5_errors_restore(err);
    }
    if (f < 0)
        return lp_h5_fail(LP_ERR_HDF5,
                          "%s: cannot open (for a .part left by a killed run, "
                          "try `h5clear -s %s`)",
                          path, path);
    *out = f;
    return LP_OK;
}

hid_t lp_h5_str_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

static lp_status set_attr_(hid_t obj, const char *name, hid_t file_type, hid_t mem_type,
                           const void *value) {
    if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, mem_type, value);
    lp_status s = rc < 0 ? lp_h5_fail(LP_ERR_HDF5, "attribute '%s'", name) : LP_OK;
    if (a >= 0) H5Aclose(a);
    H5Sclose(space);
    return s;
}

lp_status lp_h5_attr_str(hid_t obj, const char *name, const char *value) {
    hid_t t = lp_h5_str_type();
    lp_status s = set_attr_(obj, name, t, t, &value);
    H5Tclose(t);
    return s;
}

lp_status lp_h5_attr_int(hid_t obj, const char *name, long long value) {
    return set_attr_(obj, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, &value);
}

lp_status lp_h5_attr_double(hid_t obj, const char *name, double value) {
    return set_attr_(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

hid_t lp_h5_create_ds(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims,
                      const hsize_t *chunk, bool gzip) {
    hsize_t maxdims[8];
    for (int i = 0; i < rank; ++i)
        maxdims[i] = dims[i];
    if (chunk) maxdims[0] = H5S_UNLIMITED;
    hid_t space = H5Screate_simple(rank, dims, maxdims);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunk) H5Pset_chunk(dcpl, rank, chunk);
    if (chunk && gzip) {
        H5Pset_shuffle(dcpl);
        H5Pset_deflate(dcpl, 4);
    }
    hid_t ds = H5Dcreate2(loc, name, type, space, lcpl, dcpl, H5P_DEFAULT);
    hid_t err = lp_h5_errors_save();
    H5Pclose(dcpl);
    H5Pclose(lcpl);
    H5Sclose(space);
    lp_h5_errors_restore(err);
    return ds;
}

herr_t lp_h5_extend_write(hid_t ds, int rank, const hsize_t *new_dims, const hsize_t *start,
                          const hsize_t *count, hid_t mem_type, const void *buf) {
    if (H5Dset_extent(ds, new_dims) < 0) return -1;
    hid_t fspace = H5Dget_space(ds);
    hid_t mspace = H5Screate_simple(rank, count, NULL);
    herr_t rc = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
    if (rc >= 0) rc = H5Dwrite(ds, mem_type, mspace, fspace, H5P_DEFAULT, buf);
    hid_t err = lp_h5_errors_save();
    H5Sclose(mspace);
    H5Sclose(fspace);
    lp_h5_errors_restore(err);
    return rc;
}

void lp_iso_time_now(char buf[32]) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
