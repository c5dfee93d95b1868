/* A Keras save_weights file (Keras 2 / tf.keras HDF5 layout) from a laperm network: what
 * Keras' load_weights reads for the same architecture (keras_layout.h maps the layers). */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keras_layout.h"
#include "laperm/weights.h"
#include "out_file.h"
#include "results_h5.h"

/* The Keras version written: load_weights converts kernels of files from Keras 1 (no
 * keras_version), so one is always given. */
#define KERAS_VERSION_ "2.15.0"

/* An attribute of n fixed-length byte strings (numpy 'S' arrays, as Keras writes them);
 * n < 0: a scalar. */
static lp_status attr_fixed_(hid_t obj, const char *name, const char *const *v, int n,
                             const char *file) {
    size_t len = 1;
    int count = n < 0 ? 1 : n;
    for (int i = 0; i < count; ++i)
        if (strlen(v[i]) > len) len = strlen(v[i]);
    char *buf = calloc((size_t)count + 1, len);
    if (!buf) return lp_fail(LP_ERR_NO_MEMORY, "out of memory");
    for (int i = 0; i < count; ++i)
        memcpy(buf + (size_t)i * len, v[i], strlen(v[i]));
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, len);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    hsize_t dims = (hsize_t)count;
    hid_t sp = n < 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dims, NULL);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, t, buf);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    free(buf);
    return e < 0 ? lp_h5_fail(LP_ERR_HDF5, "%s: writing attribute %s", file, name) : LP_OK;
}

/* Layer i's Keras name: its class, numbered from the second of that class on (conv2d,
 * conv2d_1, ...) as Keras names layers. */
static void keras_name_(const lp_keras_layer *k, int i, char *out, size_t size) {
    int before = 0;
    for (int j = 0; j < i; ++j)
        before += !strcmp(k[j].keras_class, k[i].keras_class);
    if (before)
        snprintf(out, size, "%s_%d", k[i].keras_class, before);
    else
        snprintf(out, size, "%s", k[i].keras_class);
}

static lp_status layer_(hid_t f, const char *file, const lp_weights *w, const lp_model_spec *m,
                        const lp_keras_layer *k, const char *kname) {
    const char *ours = m->layers[k->layer].name;
    hid_t g = H5Gcreate2(f, kname, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return lp_h5_fail(LP_ERR_HDF5, "%s: creating group %s", file, kname);
    char names[LP_KERAS_TENSORS_MAX][160];
    const char *list[LP_KERAS_TENSORS_MAX];
    for (int i = 0; i < k->n; ++i) {
        snprintf(names[i], sizeof names[i], "%s/%s:0", kname, k->keras[i]);
        list[i] = names[i];
    }
    lp_status s = attr_fixed_(g, "weight_names", list, k->n, file);
    if (s == LP_OK) s = lp_h5_attr_str(g, "laperm_name", ours);
    for (int i = 0; s == LP_OK && i < k->n; ++i) {
        const lp_named_tensor *t = lp_weights_find(w, ours, k->ours[i]);
        bool same = t && t->rank == k->rank[i];
        for (int d = 0; same && d < t->rank; ++d)
            same = t->dims[d] == k->dims[i][d];
        char a[64], b[64];
        if (!same) {
            s = t ? lp_fail(LP_ERR_FORMAT, "layer '%s' %s is %s in the weights but %s in the model",
                            ours, k->ours[i], lp_dims_str(t->rank, t->dims, a, 64),
                            lp_dims_str(k->rank[i], k->dims[i], b, 64))
                  : lp_fail(LP_ERR_NOT_FOUND, "the weights have no layer '%s' %s", ours,
                            k->ours[i]);
            break;
        }
        float *conv = malloc(t->count * sizeof *conv);
        if (!conv) {
            s = lp_fail(LP_ERR_NO_MEMORY, "out of memory");
            break;
        }
        lp_keras_convert(k, i, t->data, conv, true);
        hsize_t dims[4];
        for (int d = 0; d < k->keras_rank[i]; ++d)
            dims[d] = (hsize_t)k->keras_dims[i][d];
        char path[200];
        snprintf(path, sizeof path, "%s/%s", kname, names[i]);
        hid_t ds = lp_h5_create_ds(f, path, H5T_IEEE_F32LE, k->keras_rank[i], dims, NULL, false);
        if (ds < 0 || H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, conv) < 0)
            s = lp_h5_fail(LP_ERR_HDF5, "%s: writing %s", file, path);
        if (ds >= 0) H5Dclose(ds);
        free(conv);
    }
    H5Gclose(g);
    return s;
}

lp_status lp_weights_write_keras(const lp_weights *w, const lp_model_spec *m, const char *path) {
    lp_keras_layer *k;
    int n;
    LP_TRY(lp_keras_layers(m, &k, &n));
    char part[4200];
    lp_status s = lp_out_file_begin(path, part, sizeof part);
    char(*names)[64] = calloc((size_t)n + 1, sizeof *names);
    const char **list = calloc((size_t)n + 1, sizeof *list);
    if (s == LP_OK && (!names || !list)) s = lp_fail(LP_ERR_NO_MEMORY, "out of memory");
    hid_t f = -1;
    if (s == LP_OK) {
        lp_h5_quiet();
        f = H5Fcreate(part, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        if (f < 0) s = lp_h5_fail(LP_ERR_IO, "%s: cannot create", part);
    }
    for (int i = 0; s == LP_OK && i < n; ++i) {
        keras_name_(k, i, names[i], sizeof names[i]);
        list[i] = names[i];
        s = layer_(f, part, w, m, &k[i], names[i]);
    }
    static const char *const backend[] = {"tensorflow"}, *const version[] = {KERAS_VERSION_};
    if (s == LP_OK) s = attr_fixed_(f, "layer_names", list, n, part);
    if (s == LP_OK) s = attr_fixed_(f, "backend", backend, -1, part);
    if (s == LP_OK) s = attr_fixed_(f, "keras_version", version, -1, part);
    if (s == LP_OK) s = lp_h5_attr_str(f, "laperm_model_text", m->text ? m->text : "");
    if (f >= 0 && H5Fclose(f) < 0 && s == LP_OK) s = lp_h5_fail(LP_ERR_HDF5, "%s: closing", part);
    free(names);
    free(list);
    free(k);
    if (s != LP_OK) {
        remove(part);
        return s;
    }
    return lp_out_file_commit(part, path);
}
