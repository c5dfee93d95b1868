/* Writes a benchmark table to HDF5: one compound dataset /bench (section, name, detail,
 * unit: fixed strings; seconds, value, of_peak: doubles) plus attributes naming the
 * device and its measured peak, readable by h5py/h5dump without laperm. Written to
 * <path>.part and renamed, so an existing file is replaced whole or not at all. */
#include <hdf5.h>
#include <stdio.h>
#include <string.h>

#include "laperm/bench_h5.h"

static hid_t str_type_(size_t len) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t >= 0) H5Tset_size(t, len), H5Tset_strpad(t, H5T_STR_NULLTERM);
    return t;
}

static herr_t attr_str_(hid_t obj, const char *name, const char *value) {
    hid_t t = str_type_(strlen(value) + 1), sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, t, value);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return e;
}

static herr_t attr_double_(hid_t obj, const char *name, double v) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_DOUBLE, &v);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return e;
}

static hid_t row_type_(void) {
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(lp_bench_row));
    hid_t s16 = str_type_(sizeof((lp_bench_row *)0)->section);
    hid_t s48 = str_type_(sizeof((lp_bench_row *)0)->name);
    hid_t s64 = str_type_(sizeof((lp_bench_row *)0)->detail);
    hid_t s12 = str_type_(sizeof((lp_bench_row *)0)->unit);
    H5Tinsert(t, "section", HOFFSET(lp_bench_row, section), s16);
    H5Tinsert(t, "name", HOFFSET(lp_bench_row, name), s48);
    H5Tinsert(t, "detail", HOFFSET(lp_bench_row, detail), s64);
    H5Tinsert(t, "seconds", HOFFSET(lp_bench_row, seconds), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "value", HOFFSET(lp_bench_row, value), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "unit", HOFFSET(lp_bench_row, unit), s12);
    H5Tinsert(t, "of_peak", HOFFSET(lp_bench_row, of_peak), H5T_NATIVE_DOUBLE);
    H5Tclose(s16), H5Tclose(s48), H5Tclose(s64), H5Tclose(s12);
    return t;
}

lp_status lp_bench_write_h5(const lp_bench_table *t, const char *device, const char *command,
                            const char *path) {
    char part[4200];
    snprintf(part, sizeof part, "%s.part", path);
    remove(part);
    hid_t f = H5Fcreate(part, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return lp_fail(LP_ERR_HDF5, "%s: cannot create (directory missing?)", part);
    hsize_t n = (hsize_t)t->n;
    hid_t type = row_type_(), sp = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, "bench", type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = d < 0 ? -1 : n ? H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->rows) : 0;
    if (e >= 0) e = attr_str_(f, "device", device);
    if (e >= 0) e = attr_str_(f, "command", command);
    if (e >= 0) e = attr_double_(f, "peak_gflops", t->peak_gflops);
    if (e >= 0) e = attr_double_(f, "peak_gbs", t->peak_gbs);
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(type);
    if (H5Fclose(f) < 0) e = -1;
    if (e < 0) {
        remove(part);
        return lp_fail(LP_ERR_HDF5, "%s: writing the benchmark table failed", part);
    }
    if (rename(part, path) != 0) {
        remove(part);
        return lp_fail(LP_ERR_IO, "%s: cannot rename to %s", part, path);
    }
    return LP_OK;
}
