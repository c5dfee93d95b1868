/* Writes a benchmark table to HDF5: compound datasets /bench (section, name, detail,
 * unit: fixed strings; seconds, value, of_peak: doubles), /layers (the per-layer split)
 * and /memory (peak device memory per model), plus attributes naming the device and its
 * measured peak, readable by h5py/h5dump without laperm (README, "laperm bench's HDF5
 * file"). Written to <path>.part and renamed, so an existing file is replaced whole or
 * not at all. */
#include <hdf5.h>
#include <stdio.h>
#include <string.h>

#include "laperm/bench_h5.h"

static hid_t str_type_(size_t len) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t >= 0) H5Tset_size(t, len), H5Tset_strpad(t, H5T_STR_NULLTERM);
    return t;
}

/* Inserts the fixed string field `field` of struct `type` into compound t, named alike. */
#define STRING_FIELD_(t, type, field)                                                              \
    string_field_(t, #field, HOFFSET(type, field), sizeof(((type *)0)->field))
static void string_field_(hid_t t, const char *name, size_t offset, size_t len) {
    hid_t s = str_type_(len);
    H5Tinsert(t, name, offset, s);
    H5Tclose(s);
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
    STRING_FIELD_(t, lp_bench_row, section);
    STRING_FIELD_(t, lp_bench_row, name);
    STRING_FIELD_(t, lp_bench_row, detail);
    H5Tinsert(t, "seconds", HOFFSET(lp_bench_row, seconds), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "value", HOFFSET(lp_bench_row, value), H5T_NATIVE_DOUBLE);
    STRING_FIELD_(t, lp_bench_row, unit);
    H5Tinsert(t, "of_peak", HOFFSET(lp_bench_row, of_peak), H5T_NATIVE_DOUBLE);
    return t;
}

/* /layers: per pass P (forward, input_grad, kernel_grad) P_seconds and P_flops. */
static hid_t layer_type_(void) {
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(lp_bench_layer));
    STRING_FIELD_(t, lp_bench_layer, model);
    STRING_FIELD_(t, lp_bench_layer, layer);
    STRING_FIELD_(t, lp_bench_layer, path);
    STRING_FIELD_(t, lp_bench_layer, shape);
    H5Tinsert(t, "batch", HOFFSET(lp_bench_layer, batch), H5T_NATIVE_INT);
    static const char *const pass[LP_BENCH_PASSES] = {"forward", "input_grad", "kernel_grad"};
    for (int p = 0; p < LP_BENCH_PASSES; ++p) {
        char name[32];
        snprintf(name, sizeof name, "%s_seconds", pass[p]);
        H5Tinsert(t, name, HOFFSET(lp_bench_layer, seconds) + p * sizeof(double),
                  H5T_NATIVE_DOUBLE);
        snprintf(name, sizeof name, "%s_flops", pass[p]);
        H5Tinsert(t, name, HOFFSET(lp_bench_layer, flops) + p * sizeof(double), H5T_NATIVE_DOUBLE);
    }
    return t;
}

static hid_t memory_type_(void) {
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(lp_bench_memory_row));
    STRING_FIELD_(t, lp_bench_memory_row, model);
    H5Tinsert(t, "batch", HOFFSET(lp_bench_memory_row, batch), H5T_NATIVE_INT);
    H5Tinsert(t, "total_bytes", HOFFSET(lp_bench_memory_row, total), H5T_NATIVE_UINT64);
    H5Tinsert(t, "parameters_bytes", HOFFSET(lp_bench_memory_row, parameters), H5T_NATIVE_UINT64);
    H5Tinsert(t, "optimizer_bytes", HOFFSET(lp_bench_memory_row, optimizer), H5T_NATIVE_UINT64);
    H5Tinsert(t, "activations_bytes", HOFFSET(lp_bench_memory_row, activations), H5T_NATIVE_UINT64);
    H5Tinsert(t, "other_bytes", HOFFSET(lp_bench_memory_row, other), H5T_NATIVE_UINT64);
    H5Tinsert(t, "planned_bytes", HOFFSET(lp_bench_memory_row, planned), H5T_NATIVE_UINT64);
    H5Tinsert(t, "untracked_buffers", HOFFSET(lp_bench_memory_row, untracked), H5T_NATIVE_LONG);
    return t;
}

/* A 1-D dataset of n rows of `type` (which it closes); -1 on failure. */
static herr_t dataset_(hid_t f, const char *name, hid_t type, int n, const void *rows) {
    hsize_t dims = (hsize_t)n;
    hid_t sp = H5Screate_simple(1, &dims, NULL);
    hid_t d = H5Dcreate2(f, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = d < 0 ? -1 : n ? H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) : 0;
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(type);
    return e;
}

lp_status lp_bench_write_h5(const lp_bench_table *t, const char *device, const char *command,
                            const char *path) {
    char part[4200];
    snprintf(part, sizeof part, "%s.part", path);
    remove(part);
    hid_t f = H5Fcreate(part, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return lp_fail(LP_ERR_HDF5, "%s: cannot create (directory missing?)", part);
    herr_t e = dataset_(f, "bench", row_type_(), t->n, t->rows);
    if (e >= 0) e = dataset_(f, "layers", layer_type_(), t->n_layers, t->layers);
    if (e >= 0) e = dataset_(f, "memory", memory_type_(), t->n_memory, t->memory);
    if (e >= 0) e = attr_str_(f, "device", device);
    if (e >= 0) e = attr_str_(f, "command", command);
    if (e >= 0) e = attr_double_(f, "peak_gflops", t->peak_gflops);
    if (e >= 0) e = attr_double_(f, "peak_gbs", t->peak_gbs);
    if (e >= 0) e = attr_str_(f, "conv_choice", t->fast ? "timed (--fast)" : "rule");
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
