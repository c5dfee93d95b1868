/* `laperm unpack`: a .lpk to an HDF5 file laid out as a results file's /weights, with
 * /model_text and the .lpk's attributes; written to <out>.part and renamed when whole. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fs.h"
#include "laperm/lpk.h"
#include "results_h5.h"

static lp_status write_(hid_t f, const lp_lpk *p) {
    LP_TRY(lp_h5_attrs(f, p->attrs, p->n_attrs));
    hid_t st = lp_h5_str_type(), scalar = H5Screate(H5S_SCALAR);
    const char *text = p->weights.model_text;
    hid_t ds = H5Dcreate2(f, "model_text", st, scalar, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = ds < 0 ? -1 : H5Dwrite(ds, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text);
    if (ds >= 0) H5Dclose(ds);
    H5Sclose(scalar);
    H5Tclose(st);
    if (rc < 0) return lp_h5_fail(LP_ERR_HDF5, "/model_text");
    for (int i = 0; i < p->weights.n; ++i) {
        const lp_named_tensor *t = &p->weights.tensors[i];
        char name[128];
        hsize_t dims[4];
        for (int d = 0; d < t->rank; ++d)
            dims[d] = (hsize_t)t->dims[d];
        snprintf(name, sizeof name, "/weights/%s/%s", t->layer, t->name);
        ds = lp_h5_create_ds(f, name, H5T_IEEE_F32LE, t->rank, dims, NULL, false);
        rc = ds < 0 ? -1 : H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data);
        if (ds >= 0) H5Dclose(ds);
        if (rc < 0) return lp_h5_fail(LP_ERR_HDF5, "%s", name);
    }
    return LP_OK;
}

lp_status lp_lpk_unpack(const char *lpk, const char *out) {
    char part[4096], dir[4096];
    if (!lpk || !out || snprintf(part, sizeof part, "%s.part", out) >= (int)sizeof part)
        return lp_fail(LP_ERR_INVALID_ARG, "lp_lpk_unpack: bad path");
    if (lp_fs_same_file(lpk, out))
        return lp_fail(LP_ERR_INVALID_ARG, "%s: the HDF5 file to write is the .lpk itself", out);
    lp_lpk p;
    LP_TRY(lp_lpk_load(lpk, &p));
    lp_h5_quiet();
    lp_fs_parent_dir(out, dir, sizeof dir);
    lp_status s = lp_fs_mkdir_p(dir);
    hid_t f = s == LP_OK ? H5Fcreate(part, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT) : -1;
    if (s == LP_OK && f < 0) s = lp_h5_fail(LP_ERR_IO, "%s: cannot create", part);
    if (s == LP_OK) s = write_(f, &p);
    if (f >= 0 && H5Fclose(f) < 0 && s == LP_OK) s = lp_h5_fail(LP_ERR_IO, "%s: closing", part);
    if (s != LP_OK) lp_fail_context(s, "%s: ", part);
    if (s == LP_OK) s = lp_fs_fsync(part);
    if (s == LP_OK && rename(part, out) != 0)
        s = lp_fail(LP_ERR_IO, "%s: cannot rename to %s: %s", part, out, strerror(errno));
    if (s == LP_OK) s = lp_fs_fsync(dir);
    if (s != LP_OK) remove(part);
    lp_lpk_free(&p);
    return s;
}
