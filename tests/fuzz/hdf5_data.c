/* The HDF5 data loader (--dataset hdf5) on small valid HDF5 files whose layout and values
 * come from the input: not HDF5's own parser (that is HDF5's to fuzz) but laperm's checks
 * on what a well-formed file may hold. The first 8 bytes choose the element types, ranks,
 * sizes and which dataset is left out; the rest fills x and y byte by byte (so NaN, Inf,
 * negative and huge labels all occur). The loader refuses the file with LP_ERR_FORMAT and
 * nothing allocated, or keeps its promises: the split's size, the shape mapping, finite
 * inputs and targets, labels below classes <= 256, uint8 inputs divided by 255. */
#include <hdf5.h>
#include <math.h>

#include "fuzz.h"
#include "laperm/data.h"

/* Types of x: float32, float64, uint8, int8 (refused); of integer y: int8, uint16, int32,
 * int64; of float y: float32, float64. */
static hid_t x_type_(int k) {
    static const hid_t *t[4] = {&H5T_IEEE_F32LE_g, &H5T_IEEE_F64LE_g, &H5T_STD_U8LE_g,
                                &H5T_STD_I8LE_g};
    return *t[k & 3];
}

static hid_t y_type_(int k, bool floats) {
    static const hid_t *i[4] = {&H5T_STD_I8LE_g, &H5T_STD_U16LE_g, &H5T_STD_I32LE_g,
                                &H5T_STD_I64LE_g};
    static const hid_t *f[2] = {&H5T_IEEE_F32LE_g, &H5T_IEEE_F64LE_g};
    return floats ? *f[k & 1] : *i[k & 3];
}

/* The input's bytes, cycled (zeros when there are none). */
typedef struct {
    const uint8_t *p;
    size_t n, at;
} bytes_;

static void fill_(bytes_ *b, void *dst, size_t size) {
    uint8_t *d = dst;
    for (size_t i = 0; i < size; ++i)
        d[i] = b->n ? b->p[b->at++ % b->n] : 0;
}

/* One dataset of `count` elements of `type` filled from the input. */
static void write_ds_(hid_t f, const char *name, hid_t type, int rank, const hsize_t *dims,
                      bytes_ *b) {
    size_t count = 1;
    for (int i = 0; i < rank; ++i)
        count *= (size_t)dims[i];
    size_t size = H5Tget_size(type);
    void *buf = malloc(count * size + 1);
    FUZZ_CHECK(buf != NULL);
    fill_(b, buf, count * size);
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t ds = H5Dcreate2(f, name, type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    FUZZ_CHECK(ds >= 0);
    FUZZ_CHECK(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Dclose(ds);
    H5Pclose(lcpl);
    H5Sclose(space);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 8) return 0;
    const uint8_t *h = data;
    bytes_ b = {data + 8, size - 8, 0};
    bool y_float = h[0] & 4, x4 = h[0] & 8, y2 = h[0] & 16;
    int drop = h[1] % 16;                /* 0..3: that dataset is left out */
    hsize_t n[2] = {h[2] % 6, h[3] % 6}; /* 0 is an empty split */
    hsize_t feat[3] = {1 + h[4] % 3, 1 + (h[4] >> 2) % 3, 1 + (h[4] >> 4) % 3};
    hsize_t outputs = 1 + h[5] % 3;
    bool test_feat_differs = (h[6] & 7) == 0, y_n_differs = (h[6] & 56) == 0;
    int which = h[7] & 1;
    const char *path = fuzz_file("data.h5", "", 0);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    FUZZ_CHECK(f >= 0);
    static const char *const names[4] = {"/train/x", "/train/y", "/test/x", "/test/y"};
    for (int s = 0; s < 2; ++s) {
        hsize_t xd[4] = {n[s], feat[0], feat[1], feat[2]};
        if (s == 1 && test_feat_differs) xd[1] += 1;
        if (drop != 2 * s) write_ds_(f, names[2 * s], x_type_(h[0]), x4 ? 4 : 2, xd, &b);
        hsize_t yd[2] = {n[s] + (s == 0 && y_n_differs), outputs};
        if (drop != 2 * s + 1)
            write_ds_(f, names[2 * s + 1], y_type_(h[0] >> 5, y_float), y2 ? 2 : 1, yd, &b);
    }
    FUZZ_CHECK(H5Fclose(f) >= 0);

    lp_dataset ds;
    lp_status s = lp_hdf5_data_load(path, which ? "test" : "train", &ds);
    if (s != LP_OK) {
        FUZZ_CHECK(s == LP_ERR_FORMAT);
        FUZZ_CHECK(ds.x == NULL && ds.y == NULL && ds.t == NULL && ds.n == 0);
        FUZZ_CHECK(strstr(lp_last_error(), path) == lp_last_error()); /* names the file */
        return 0;
    }
    FUZZ_CHECK(drop >= 4 && !test_feat_differs && !y_n_differs && (x_type_(h[0]) != H5T_STD_I8LE));
    FUZZ_CHECK((hsize_t)ds.n == n[which] && ds.n > 0);
    if (x4)
        FUZZ_CHECK(ds.c == (int)feat[0] && ds.h == (int)feat[1] && ds.w == (int)feat[2]);
    else
        FUZZ_CHECK(ds.c == (int)feat[0] && ds.h == 1 && ds.w == 1);
    size_t values = (size_t)ds.n * (size_t)ds.c * (size_t)ds.h * (size_t)ds.w;
    for (size_t i = 0; i < values; ++i) {
        FUZZ_CHECK(isfinite(ds.x[i]));
        if (!ds.x_real) FUZZ_CHECK(ds.x[i] >= 0.0f && ds.x[i] <= 1.0f);
    }
    if (y_float) {
        FUZZ_CHECK(ds.classes == 0 && ds.t != NULL && ds.outputs == (int)(y2 ? outputs : 1));
        for (size_t i = 0; i < (size_t)ds.n * (size_t)ds.outputs; ++i)
            FUZZ_CHECK(isfinite(ds.t[i]));
    } else {
        FUZZ_CHECK(!y2 && ds.t == NULL && ds.outputs == 0);
        FUZZ_CHECK(ds.classes >= 1 && ds.classes <= 256);
        for (int i = 0; i < ds.n; ++i)
            FUZZ_CHECK(ds.y[i] < ds.classes);
    }
    lp_dataset_free(&ds);
    return 0;
}
