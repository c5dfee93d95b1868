/* Helpers shared by the results writer and reader: quiet HDF5 error handling that turns
 * HDF5's error stack into our message, attributes, extendible datasets, and the file
 * system calls that make the final rename crash-safe. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "results_h5.h"

/* HDF5 before 1.14 frees a file whose closing flush fails (a full disk) yet keeps its
 * handle, and the exit handler it installs at its first call closes every handle left:
 * a segfault at exit after a clean error message (HDFFV-11052, fixed in 1.14.0). laperm
 * closes what it opens and needs no such handler. H5dont_atexit counts only before that
 * first call: it is made as the program loads, and again (a no-op if late) below. */
#if !H5_VERSION_GE(1, 14, 0)
#define LP_H5_NO_EXIT_HANDLER_() H5dont_atexit()
#if defined(__GNUC__)
__attribute__((constructor)) static void no_exit_handler_(void) {
    H5dont_atexit();
}
#endif
#else
#define LP_H5_NO_EXIT_HANDLER_() ((void)0)
#endif

void lp_h5_quiet(void) {
    LP_H5_NO_EXIT_HANDLER_();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

typedef struct {
    char outer[256], inner[256];
    unsigned count;
} h5_stack_;

/* A failed system call in the file driver is described with its time, file name,
 * descriptor, buffer and sizes; keep what failed and the system's words: "file write
 * failed: No space left on device". */
static void condense_(const char *desc, char *dst, size_t cap) {
    static const char key[] = "error message = '";
    const char *msg = strstr(desc, key), *colon = strchr(desc, ':');
    if (!msg || !colon || colon > msg) {
        snprintf(dst, cap, "%s", desc);
        return;
    }
    msg += sizeof key - 1;
    const char *end = strchr(msg, '\'');
    snprintf(dst, cap, "%.*s: %.*s", (int)(colon - desc), desc,
             (int)(end ? (size_t)(end - msg) : strlen(msg)), msg);
}

static herr_t walk_cb_(unsigned n, const H5E_error2_t *e, void *data) {
    h5_stack_ *st = data;
    char minor[128] = "", desc[200];
    H5Eget_msg(e->min_num, NULL, minor, sizeof minor);
    condense_(e->desc ? e->desc : "?", desc, sizeof desc);
    /* Walking downward, entry 0 is the API call and the last is where HDF5 noticed. */
    char *dst = n == 0 ? st->outer : st->inner;
    snprintf(dst, sizeof st->outer, "%s (%s)", desc, minor);
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

lp_status lp_h5_attrs(hid_t obj, const lp_attr *attrs, int n) {
    for (int i = 0; i < n; ++i) {
        const lp_attr *a = &attrs[i];
        if (a->type == LP_ATTR_STRING)
            LP_TRY(lp_h5_attr_str(obj, a->name, a->s));
        else if (a->type == LP_ATTR_INT)
            LP_TRY(lp_h5_attr_int(obj, a->name, a->i));
        else
            LP_TRY(lp_h5_attr_double(obj, a->name, a->d));
    }
    return LP_OK;
}

lp_status lp_h5_attr_rewrite(hid_t obj, const char *name, hid_t mem_type, const void *value) {
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, mem_type, value);
    if (a >= 0) H5Aclose(a);
    return rc < 0 ? lp_h5_fail(LP_ERR_HDF5, "rewriting attribute '%s'", name) : LP_OK;
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
