/* The HDF5 data loader (--dataset hdf5) on files written here with the HDF5 C API: values
 * read back exactly (float64 rounded to float32, uint8 divided by 255), the shape mapping
 * ((n, f) -> f x 1 x 1, (n, c, h, w) as it is), classes over both splits or from the
 * `classes` attribute, regression targets of rank 1 and 2; and each refusal with its
 * exact message. (tests/hdf5_data_test.sh runs the program on more malformed files.) */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/data.h"
#include "lp_test.h"

static char path_[1024];

static hid_t create_(const char *name) {
    snprintf(path_, sizeof path_, "%s/%s", lp_test_tmpdir(), name);
    hid_t f = H5Fcreate(path_, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    return f;
}

/* Dataset `name` (groups created) of file type `type` from memory of `mem` type. */
static void put_(hid_t f, const char *name, hid_t type, hid_t mem, int rank, const hsize_t *dims,
                 const void *buf) {
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t ds = H5Dcreate2(f, name, type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT_FATAL(ds >= 0);
    CU_ASSERT(H5Dwrite(ds, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Dclose(ds);
    H5Pclose(lcpl);
    H5Sclose(space);
}

/* A dataset to write: file type, memory type, rank, dimensions, values. */
typedef struct {
    hid_t type, mem;
    int rank;
    const hsize_t *dims;
    const void *buf;
} arr_;

static void put_split_(hid_t f, const char *split, arr_ x, arr_ y) {
    char name[32];
    snprintf(name, sizeof name, "/%s/x", split);
    put_(f, name, x.type, x.mem, x.rank, x.dims, x.buf);
    snprintf(name, sizeof name, "/%s/y", split);
    put_(f, name, y.type, y.mem, y.rank, y.dims, y.buf);
}

/* A file whose train and test splits are the same. */
static void write_same_(const char *file, arr_ x, arr_ y) {
    hid_t f = create_(file);
    put_split_(f, "train", x, y);
    put_split_(f, "test", x, y);
    H5Fclose(f);
}

static void expect_fail_(const char *split, const char *want_fmt) {
    lp_dataset ds;
    char want[2048];
    snprintf(want, sizeof want, want_fmt, path_);
    lp_status s = lp_hdf5_data_load(path_, split, &ds);
    CU_ASSERT_EQUAL(s, LP_ERR_FORMAT);
    CU_ASSERT_STRING_EQUAL(lp_last_error(), want);
    if (s != LP_ERR_FORMAT || strcmp(lp_last_error(), want))
        printf("\n  got  %s: %s\n  want %s\n", lp_status_name(s), lp_last_error(), want);
    CU_ASSERT(ds.x == NULL && ds.y == NULL && ds.t == NULL && ds.n == 0);
}

/* float64 (n, 3) inputs, int16 labels; classes = max over both splits + 1. */
static void test_classification(void) {
    hid_t f = create_("cls.h5");
    double x[4 * 3];
    for (int i = 0; i < 12; ++i)
        x[i] = 0.1 * i - 0.35;
    short ytr[4] = {0, 2, 1, 2}, yte[2] = {4, 0};
    hsize_t dx[2] = {4, 3}, dy[1] = {4}, dxt[2] = {2, 3}, dyt[1] = {2};
    put_split_(f, "train", (arr_){H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dx, x},
               (arr_){H5T_STD_I16BE, H5T_NATIVE_SHORT, 1, dy, ytr});
    put_split_(f, "test", (arr_){H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dxt, x},
               (arr_){H5T_STD_I16BE, H5T_NATIVE_SHORT, 1, dyt, yte});
    H5Fclose(f);
    lp_dataset ds;
    LP_TEST_OK(lp_hdf5_data_load(path_, "train", &ds));
    CU_ASSERT(ds.n == 4 && ds.c == 3 && ds.h == 1 && ds.w == 1);
    CU_ASSERT_EQUAL(ds.classes, 5); /* test's label 4 counts */
    CU_ASSERT(ds.x_real && ds.outputs == 0 && ds.t == NULL);
    int bad = 0;
    for (int i = 0; i < 12; ++i)
        bad += ds.x[i] != (float)x[i];
    CU_ASSERT_EQUAL(bad, 0);
    for (int i = 0; i < 4; ++i)
        CU_ASSERT_EQUAL(ds.y[i], ytr[i]);
    lp_dataset_free(&ds);
    LP_TEST_OK(lp_hdf5_data_load(path_, "test", &ds));
    CU_ASSERT(ds.n == 2 && ds.classes == 5 && ds.y[0] == 4);
    lp_dataset_free(&ds);
}

/* uint8 (n, 2, 3, 2) images: divided by 255, shape as stored; the `classes` attribute. */
static void test_images_and_attribute(void) {
    hid_t f = create_("img.h5");
    unsigned char x[3 * 12];
    for (int i = 0; i < 36; ++i)
        x[i] = (unsigned char)(i * 7);
    long long y[3] = {1, 0, 1};
    hsize_t dx[4] = {3, 2, 3, 2}, dy[1] = {3};
    arr_ ax = {H5T_STD_U8LE, H5T_NATIVE_UCHAR, 4, dx, x},
         ay = {H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, dy, y};
    put_split_(f, "train", ax, ay);
    put_split_(f, "test", ax, ay);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "classes", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int classes = 7;
    H5Awrite(a, H5T_NATIVE_INT, &classes);
    H5Aclose(a);
    H5Sclose(sp);
    H5Fclose(f);
    lp_dataset ds;
    LP_TEST_OK(lp_hdf5_data_load(path_, "train", &ds));
    CU_ASSERT(ds.n == 3 && ds.c == 2 && ds.h == 3 && ds.w == 2 && ds.classes == 7);
    CU_ASSERT(!ds.x_real);
    int bad = 0;
    for (int i = 0; i < 36; ++i)
        bad += ds.x[i] != (float)x[i] / 255.0f;
    CU_ASSERT_EQUAL(bad, 0);
    lp_dataset_free(&ds);
}

/* float32 targets of rank 1 (one output) and float64 ones of rank 2. */
static void test_regression(void) {
    float x[5 * 2] = {0}, t1[5] = {0.5f, -1.0f, 2.0f, 3.5f, -0.25f};
    double t2[5 * 3];
    for (int i = 0; i < 15; ++i)
        t2[i] = 0.01 * i;
    hsize_t dx[2] = {5, 2}, d1[1] = {5}, d2[2] = {5, 3};
    arr_ ax = {H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dx, x};
    write_same_("reg1.h5", ax, (arr_){H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, d1, t1});
    lp_dataset ds;
    LP_TEST_OK(lp_hdf5_data_load(path_, "test", &ds));
    CU_ASSERT(ds.n == 5 && ds.outputs == 1 && ds.classes == 0 && ds.t && ds.y);
    for (int i = 0; i < 5; ++i)
        CU_ASSERT(ds.t[i] == t1[i] && ds.y[i] == 0);
    lp_dataset subset;
    LP_TEST_OK(lp_dataset_subset(&ds, 2, 3, &subset)); /* targets follow the samples */
    CU_ASSERT(subset.t && subset.t[0] == t1[2] && subset.t[2] == t1[4]);
    lp_dataset_free(&subset);
    lp_dataset_free(&ds);
    write_same_("reg2.h5", ax, (arr_){H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, d2, t2});
    LP_TEST_OK(lp_hdf5_data_load(path_, "train", &ds));
    CU_ASSERT(ds.outputs == 3);
    int bad = 0;
    for (int i = 0; i < 15; ++i)
        bad += ds.t[i] != (float)t2[i];
    CU_ASSERT_EQUAL(bad, 0);
    lp_dataset_free(&ds);
}

static void test_refused(void) {
    float x[4 * 2] = {0}, t[4] = {0};
    int y[4] = {0, 1, 300, 1};
    signed char sx[8] = {0};
    hsize_t dx[2] = {4, 2}, dy[1] = {4};
    arr_ ax = {H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dx, x},
         ay = {H5T_STD_I32LE, H5T_NATIVE_INT, 1, dy, y},
         at = {H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, dy, t};
    write_same_("big-label.h5", ax, ay);
    expect_fail_("train", "%s: a label is 300; laperm takes at most 256 classes");
    hid_t f = create_("mixed.h5");
    put_split_(f, "train", ax, ay);
    put_split_(f, "test", ax, at);
    H5Fclose(f);
    expect_fail_("test", "%s: /train/y and /test/y must both be integer labels or both float "
                         "targets");
    write_same_("int8-x.h5", (arr_){H5T_STD_I8LE, H5T_NATIVE_SCHAR, 2, dx, sx}, at);
    expect_fail_("train", "%s: /train/x must be float32, float64 or uint8");
    lp_dataset ds;
    CU_ASSERT_EQUAL(lp_hdf5_data_load(path_, "valid", &ds), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_dataset_load("hdf5", "/nonexistent/d.h5", "train", &ds), LP_ERR_NOT_FOUND);
}

static void register_suites(void) {
    CU_pSuite s = CU_add_suite("hdf5 data", NULL, NULL);
    CU_add_test(s, "classification: float64 inputs, int16 labels, classes over both splits",
                test_classification);
    CU_add_test(s, "uint8 images (n, c, h, w), the classes attribute", test_images_and_attribute);
    CU_add_test(s, "regression targets of rank 1 and 2, subsets", test_regression);
    CU_add_test(s, "refused: label past 256, mixed y kinds, int8 x, bad split", test_refused);
}

int main(void) {
    return lp_test_main("test_hdf5_data", register_suites);
}
