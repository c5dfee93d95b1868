/* `laperm check --out FILE.h5`: the report as one compound dataset /check (a row per
 * check) with the device facts as root attributes, written whole (host/out_file.h). */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>

#include "check-impl.h"
#include "out_file.h"
#include "results_h5.h"

/* One row as HDF5 stores it: strings variable-length UTF-8 (h5py reads them as str). */
typedef struct {
    const char *name, *kernel, *tolerance, *state, *note;
    double max_abs, max_rel, worst, seconds;
    long long values;
    int passed;
} h5_row_;

static hid_t row_type_(void) {
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(h5_row_)), s = lp_h5_str_type();
    H5Tinsert(t, "name", HOFFSET(h5_row_, name), s);
    H5Tinsert(t, "kernel", HOFFSET(h5_row_, kernel), s);
    H5Tinsert(t, "tolerance", HOFFSET(h5_row_, tolerance), s);
    H5Tinsert(t, "state", HOFFSET(h5_row_, state), s);
    H5Tinsert(t, "note", HOFFSET(h5_row_, note), s);
    H5Tinsert(t, "max_abs", HOFFSET(h5_row_, max_abs), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "max_rel", HOFFSET(h5_row_, max_rel), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "worst", HOFFSET(h5_row_, worst), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "seconds", HOFFSET(h5_row_, seconds), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "values", HOFFSET(h5_row_, values), H5T_NATIVE_LLONG);
    H5Tinsert(t, "passed", HOFFSET(h5_row_, passed), H5T_NATIVE_INT);
    H5Tclose(s);
    return t;
}

static lp_status write_(hid_t f, const lp_check_report *r, const h5_row_ *rows,
                        const char *command) {
    hsize_t n = (hsize_t)r->n;
    hid_t type = row_type_(), sp = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, "check", type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = d < 0 ? -1 : n ? H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) : 0;
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(type);
    if (e < 0) return lp_h5_fail(LP_ERR_HDF5, "dataset /check");
    const lp_check_device *v = &r->device;
    const lp_attr attrs[] = {
        LP_ATTR_S("command", command),
        LP_ATTR_S("bits", r->bits),
        LP_ATTR_S("platform", v->platform),
        LP_ATTR_S("platform_version", v->platform_version),
        LP_ATTR_S("vendor", v->vendor),
        LP_ATTR_S("device", v->device),
        LP_ATTR_S("device_version", v->device_version),
        LP_ATTR_S("driver_version", v->driver),
        LP_ATTR_S("opencl_c_version", v->opencl_c),
        LP_ATTR_S("device_type", v->type),
        LP_ATTR_S("extensions", v->extensions),
        LP_ATTR_I("compute_units", v->compute_units),
        LP_ATTR_I("global_mem_bytes", (long long)v->global_mem),
        LP_ATTR_I("local_mem_bytes", (long long)v->local_mem),
        LP_ATTR_I("max_alloc_bytes", (long long)v->max_alloc),
        LP_ATTR_I("max_work_group_size", (long long)v->max_work_group),
        LP_ATTR_I("fp64", v->fp64),
        LP_ATTR_I("denormals", v->denormals),
        LP_ATTR_I("fma", v->fma),
        LP_ATTR_I("correctly_rounded_divide_sqrt", v->correctly_rounded_sqrt),
        LP_ATTR_I("quick", r->quick),
        LP_ATTR_I("passed", r->passed),
        LP_ATTR_I("failed", r->failed),
        LP_ATTR_I("errors", r->errors),
        LP_ATTR_I("skipped", r->skipped),
        LP_ATTR_D("seconds", r->seconds),
    };
    return lp_h5_attrs(f, attrs, (int)(sizeof attrs / sizeof *attrs));
}

lp_status lp_check_write_h5(const lp_check_report *r, const char *command, const char *path) {
    char part[4200];
    LP_TRY(lp_out_file_begin(path, part, sizeof part));
    h5_row_ *rows = calloc((size_t)r->n + 1, sizeof *rows);
    if (!rows) return lp_fail(LP_ERR_NO_MEMORY, "%s: %d report rows", path, r->n);
    for (int i = 0; i < r->n; ++i) {
        const lp_check_result *x = &r->rows[i];
        rows[i] = (h5_row_){.name = x->name,
                            .kernel = x->kernel,
                            .tolerance = x->tolerance,
                            .state = lp_check_state_name(x->state),
                            .note = x->note,
                            .max_abs = x->max_abs,
                            .max_rel = x->max_rel,
                            .worst = x->worst,
                            .seconds = x->seconds,
                            .values = x->compared,
                            .passed = x->state == LP_CHECK_PASS};
    }
    lp_h5_quiet();
    hid_t f = H5Fcreate(part, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    lp_status s = f < 0 ? lp_h5_fail(LP_ERR_HDF5, "%s: cannot create", part)
                        : write_(f, r, rows, command ? command : "");
    free(rows);
    if (f >= 0 && H5Fclose(f) < 0 && s == LP_OK) s = lp_h5_fail(LP_ERR_HDF5, "%s: close", part);
    if (s != LP_OK) {
        remove(part);
        return lp_fail_context(s, "writing the check report: ");
    }
    return lp_out_file_commit(part, path);
}
