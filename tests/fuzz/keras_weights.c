/* The Keras weights reader (laperm eval --weights on a Keras save_weights file) on small
 * valid HDF5 files whose layout comes from the input: not HDF5's own parser (HDF5's to
 * fuzz) but laperm's matching of layers and weights. The first 8 bytes choose which layer
 * groups exist and are listed (layer_names, or split as layer_names0, 1), the weight
 * names each lists (order, a missing or extra one, unknown names), each dataset's type
 * (float32, float64, int32) and shape (right, or one dimension off, or another rank);
 * the rest fills the values. Against a fixed model (conv, BatchNorm, flatten, dense) the
 * reader refuses with an error naming the file and nothing kept, or every tensor of the
 * model is there with its shape, the file's values converted exactly. */
#include <hdf5.h>
#include <math.h>

#include "fuzz.h"
#include "laperm/weights.h"

static const char *model_ = "[input]\nchannels = 2\nheight = 3\nwidth = 2\n"
                            "[conv2d]\nname = c\nfilters = 2\nkernel = 2\npadding = same\n"
                            "[batchnorm]\nname = bn\n[flatten]\n[dense]\nname = d\nunits = 3\n";

typedef struct {
    const uint8_t *p;
    size_t n, at;
} bytes_;

static uint8_t next_(bytes_ *b) {
    return b->n ? b->p[b->at++ % b->n] : 0;
}

/* Keras' layers: name, weights and their Keras shapes. */
static const struct {
    const char *name;
    int n;
    const char *w[4];
    int rank[4], dims[4][4];
} layers_[] = {
    {"conv2d", 2, {"kernel", "bias"}, {4, 1}, {{2, 2, 2, 2}, {2}}},
    {"batch_normalization",
     4,
     {"gamma", "beta", "moving_mean", "moving_variance"},
     {1, 1, 1, 1},
     {{2}, {2}, {2}, {2}}},
    {"dense", 2, {"kernel", "bias"}, {2, 1}, {{12, 3}, {3}}},
};

static void strings_attr_(hid_t obj, const char *name, const char *const *v, int n) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 64);
    char buf[8][64] = {{0}};
    for (int i = 0; i < n; ++i)
        snprintf(buf[i], 64, "%s", v[i]);
    hsize_t d = (hsize_t)n;
    hid_t sp = H5Screate_simple(1, &d, NULL);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    FUZZ_CHECK(a >= 0 && H5Awrite(a, t, buf) >= 0);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 8) return 0;
    const uint8_t *h = data;
    bytes_ b = {data + 8, size - 8, 0};
    const char *path = fuzz_file("keras.h5", "", 0);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    FUZZ_CHECK(f >= 0);
    const char *listed[4];
    int nl = 0;
    bool intact = true; /* the file is as Keras would write it for the model */
    for (int l = 0; l < 3; ++l) {
        uint8_t c = h[1 + 2 * l], d = h[2 + 2 * l];
        bool list = (c & 7) != 0, group = (c & 56) != 0;
        intact &= list && group;
        if (list) listed[nl++] = layers_[l].name;
        if (!group) continue;
        hid_t g = H5Gcreate2(f, layers_[l].name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        const char *wn[5];
        char names[5][64];
        int nw = layers_[l].n - ((d & 3) == 0); /* one left out */
        intact &= nw == layers_[l].n;
        for (int i = 0; i < nw; ++i) {
            int j = (d & 4) ? nw - 1 - i : i; /* listed in reverse: found by name */
            const char *w = (d & 24) == 0 && i == 0 ? "unknown" : layers_[l].w[j];
            intact &= strcmp(w, "unknown") != 0;
            snprintf(names[i], 64, "%s/%s:0", layers_[l].name, w);
            wn[i] = names[i];
            int rank = layers_[l].rank[j], dims[4];
            memcpy(dims, layers_[l].dims[j], sizeof dims);
            uint8_t shape = next_(&b);
            if ((shape & 15) == 0) dims[0] += 1, intact = false;
            if ((shape & 240) == 0 && rank > 1) rank -= 1, intact = false;
            hsize_t hd[4];
            size_t count = 1;
            for (int k = 0; k < rank; ++k)
                hd[k] = (hsize_t)dims[k], count *= (size_t)dims[k];
            hid_t type = (d & 96) == 0    ? H5T_NATIVE_INT
                         : (d & 96) == 32 ? H5T_NATIVE_DOUBLE
                                          : H5T_NATIVE_FLOAT;
            intact &= type != H5T_NATIVE_INT;
            double *v = malloc(count * sizeof *v + 1);
            int *iv = malloc(count * sizeof *iv + 1);
            float *fv = malloc(count * sizeof *fv + 1);
            for (size_t k = 0; k < count; ++k) {
                fv[k] = (float)(int8_t)next_(&b) / 8.0f;
                v[k] = fv[k];
                iv[k] = (int)fv[k];
            }
            hid_t sp = H5Screate_simple(rank, hd, NULL);
            hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
            H5Pset_create_intermediate_group(lcpl, 1);
            hid_t ds = H5Dcreate2(g, names[i], type, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
            FUZZ_CHECK(ds >= 0);
            FUZZ_CHECK(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                type == H5T_NATIVE_INT      ? (void *)iv
                                : type == H5T_NATIVE_DOUBLE ? (void *)v
                                                            : (void *)fv) >= 0);
            H5Dclose(ds);
            H5Pclose(lcpl);
            H5Sclose(sp);
            free(v);
            free(iv);
            free(fv);
        }
        strings_attr_(g, "weight_names", wn, nw);
        H5Gclose(g);
    }
    if (h[7] & 1) {
        strings_attr_(f, "layer_names0", listed, nl < 2 ? nl : 2);
        if (nl > 2) strings_attr_(f, "layer_names1", listed + 2, nl - 2);
    } else {
        strings_attr_(f, "layer_names", listed, nl);
    }
    FUZZ_CHECK(H5Fclose(f) >= 0);

    lp_model_spec m;
    FUZZ_CHECK(lp_model_parse_text(model_, "fuzz.ini", &m) == LP_OK);
    lp_weights w = {0};
    lp_weights_origin o;
    lp_status s = lp_weights_load(path, NULL, &m, &w, &o);
    if (s != LP_OK) {
        FUZZ_CHECK(!intact);
        FUZZ_CHECK(w.n == 0 && w.tensors == NULL);
        FUZZ_CHECK(strstr(lp_last_error(), path) != NULL); /* names the file */
        lp_model_free(&m);
        return 0;
    }
    FUZZ_CHECK(w.n == 8); /* c kernel, bias; bn gamma, beta, 2 statistics; d kernel, bias */
    static const struct {
        const char *layer, *name;
        size_t count;
    } want[8] = {{"c", "kernel", 16}, {"c", "bias", 2},          {"bn", "gamma", 2},
                 {"bn", "beta", 2},   {"bn", "running_mean", 2}, {"bn", "running_var", 2},
                 {"d", "kernel", 36}, {"d", "bias", 3}};
    for (int i = 0; i < 8; ++i) {
        const lp_named_tensor *t = lp_weights_find(&w, want[i].layer, want[i].name);
        FUZZ_CHECK(t != NULL && t->count == want[i].count);
        for (size_t k = 0; k < t->count; ++k)
            FUZZ_CHECK(isfinite(t->data[k]) && fabsf(t->data[k]) <= 16.0f);
    }
    lp_weights_free(&w);
    lp_model_free(&m);
    return 0;
}
