/* IDX reader and MNIST loading: generated files (valid, and each way a file can be
 * malformed, with the exact message), then the real MNIST/Fashion-MNIST when present. */
#include "laperm/data.h"
#include "lp_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* ---- helpers: writing files and checking failures ------------------------------------ */

static const char *tmp_path_(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", lp_test_tmpdir(), name);
    return buf;
}

static void write_plain_(const char *path, const void *bytes, size_t len) {
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_FATAL(fwrite(bytes, 1, len, f) == len);
    fclose(f);
}

static void write_gz_(const char *path, const void *bytes, size_t len) {
    gzFile gz = gzopen(path, "wb");
    CU_ASSERT_FATAL(gz != NULL);
    CU_ASSERT_FATAL(gzwrite(gz, bytes, (unsigned)len) == (int)len);
    CU_ASSERT_FATAL(gzclose(gz) == Z_OK);
}

static void write_(const char *path, const void *bytes, size_t len, int gzipped) {
    if (gzipped)
        write_gz_(path, bytes, len);
    else
        write_plain_(path, bytes, len);
}

/* An unsigned-byte IDX image of `dims` followed by `data_len` bytes of data (which need
 * not match the dims: that is how the size checks are tested). malloc'd, length in *len. */
static uint8_t *idx_bytes_(int ndims, const uint32_t *dims, size_t data_len, size_t *len) {
    *len = 4 + 4 * (size_t)ndims + data_len;
    uint8_t *b = malloc(*len);
    CU_ASSERT_FATAL(b != NULL);
    b[0] = 0, b[1] = 0, b[2] = 0x08, b[3] = (uint8_t)ndims;
    for (int i = 0; i < ndims; ++i) {
        uint8_t *d = b + 4 + 4 * i;
        d[0] = (uint8_t)(dims[i] >> 24), d[1] = (uint8_t)(dims[i] >> 16);
        d[2] = (uint8_t)(dims[i] >> 8), d[3] = (uint8_t)dims[i];
    }
    for (size_t i = 0; i < data_len; ++i)
        b[4 + 4 * ndims + i] = (uint8_t)(i * 7 + 3);
    return b;
}

static void write_idx_(const char *path, int ndims, const uint32_t *dims, size_t data_len,
                       int gzipped) {
    size_t len;
    uint8_t *b = idx_bytes_(ndims, dims, data_len, &len);
    write_(path, b, len, gzipped);
    free(b);
}

/* Checks the status and the exact message; `want_fmt` may use %s (path) up to twice. */
static void expect_fail_(lp_status got, lp_status want, const char *want_fmt, const char *p1,
                         const char *p2) {
    char want_msg[4096];
    snprintf(want_msg, sizeof want_msg, want_fmt, p1, p2);
    CU_ASSERT_EQUAL(got, want);
    CU_ASSERT_STRING_EQUAL(lp_last_error(), want_msg);
    if (got != want || strcmp(lp_last_error(), want_msg) != 0)
        printf("\n  got  %s: %s\n  want %s: %s\n", lp_status_name(got), lp_last_error(),
               lp_status_name(want), want_msg);
}

static void expect_idx_fail_(const char *path, lp_status want, const char *want_fmt) {
    lp_idx idx;
    lp_status s = lp_idx_read(path, &idx);
    expect_fail_(s, want, want_fmt, path, NULL);
    CU_ASSERT_PTR_NULL(idx.data); /* nothing left to free after a failure */
}

/* Writes raw bytes to a fresh file in the temporary folder and expects the failure. */
static void expect_bytes_fail_(const char *name, const void *bytes, size_t len, int gzipped,
                               const char *want_fmt) {
    char path[512];
    write_(tmp_path_(path, sizeof path, name), bytes, len, gzipped);
    expect_idx_fail_(path, LP_ERR_FORMAT, want_fmt);
}

/* ---- IDX: valid files -------------------------------------------------------------------- */

static void check_roundtrip_(const char *name, int ndims, const uint32_t *dims, int gzipped) {
    size_t n = 1, len;
    for (int i = 0; i < ndims; ++i)
        n *= dims[i];
    char path[512];
    tmp_path_(path, sizeof path, name);
    write_idx_(path, ndims, dims, n, gzipped);
    uint8_t *want = idx_bytes_(ndims, dims, n, &len);

    lp_idx idx;
    lp_status s = lp_idx_read(path, &idx);
    CU_ASSERT_EQUAL_FATAL(s, LP_OK);
    CU_ASSERT_EQUAL(idx.ndims, ndims);
    for (int i = 0; i < 4; ++i)
        CU_ASSERT_EQUAL(idx.dims[i], i < ndims ? dims[i] : 0u);
    CU_ASSERT_EQUAL(idx.size, n);
    CU_ASSERT(memcmp(idx.data, want + 4 + 4 * ndims, n) == 0);
    lp_idx_free(&idx);
    CU_ASSERT_PTR_NULL(idx.data);
    lp_idx_free(&idx); /* freeing twice is harmless */
    free(want);
}

static void test_valid_plain(void) {
    check_roundtrip_("v3.idx", 3, (uint32_t[]){2, 3, 4}, 0);
    check_roundtrip_("v1.idx", 1, (uint32_t[]){1}, 0);
    check_roundtrip_("v4.idx", 4, (uint32_t[]){3, 1, 5, 7}, 0);
    /* more than the reader's first 1 MiB buffer, so the buffer has to grow */
    check_roundtrip_("vbig.idx", 2, (uint32_t[]){1500, 1001}, 0);
}

static void test_valid_gzip(void) {
    check_roundtrip_("v3.idx.gz", 3, (uint32_t[]){2, 3, 4}, 1);
    check_roundtrip_("v1.idx.gz", 1, (uint32_t[]){1}, 1);
    check_roundtrip_("vbig.idx.gz", 2, (uint32_t[]){1500, 1001}, 1);
    /* the name does not matter: a gzip file is recognised by its content */
    check_roundtrip_("gz-without-suffix", 3, (uint32_t[]){2, 2, 2}, 1);
}

/* ---- IDX: malformed files ------------------------------------------------------------------ */

static void test_missing_file(void) {
    char path[512];
    expect_idx_fail_(tmp_path_(path, sizeof path, "no-such-file"), LP_ERR_IO,
                     "%s: cannot open: No such file or directory");
    expect_idx_fail_(lp_test_tmpdir(), LP_ERR_IO, "%s: read failed: Is a directory");
}

static void test_bad_header(void) {
    static const uint8_t bad_magic[] = {1, 2, 8, 1, 0, 0, 0, 1, 0};
    expect_bytes_fail_("magic", bad_magic, sizeof bad_magic, 0,
                       "%s: not an IDX file: it starts with bytes 01 02, expected 00 00");
    static const uint8_t float_type[] = {0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0};
    expect_bytes_fail_("float", float_type, sizeof float_type, 0,
                       "%s: IDX type code 0x0d (float) is not supported, only 0x08 (unsigned "
                       "byte)");
    static const uint8_t odd_type[] = {0, 0, 0x42, 1, 0, 0, 0, 1, 0};
    expect_bytes_fail_("type42", odd_type, sizeof odd_type, 0,
                       "%s: IDX type code 0x42 (unknown) is not supported, only 0x08 (unsigned "
                       "byte)");
    static const uint8_t ndims0[] = {0, 0, 8, 0, 0};
    expect_bytes_fail_("ndims0", ndims0, sizeof ndims0, 0,
                       "%s: IDX dimension count is 0, expected 1 to 4");
    size_t len;
    uint8_t *b = idx_bytes_(5, (uint32_t[]){1, 1, 1, 1, 1}, 1, &len);
    expect_bytes_fail_("ndims5", b, len, 0, "%s: IDX dimension count is 5, expected 1 to 4");
    free(b);
    b = idx_bytes_(2, (uint32_t[]){3, 0}, 0, &len);
    expect_bytes_fail_("zerodim", b, len, 0, "%s: IDX dimension 2 of 2 is 0");
    free(b);
    b = idx_bytes_(4, (uint32_t[]){0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, 0, &len);
    expect_bytes_fail_("overflow", b, len, 0,
                       "%s: IDX dimensions 4294967295x4294967295x4294967295x4294967295 are too "
                       "large to address");
    free(b);
}

static void test_truncated_header(void) {
    expect_bytes_fail_("empty", "", 0, 0, "%s: file ends inside the IDX header, after 0 bytes");
    static const uint8_t two[] = {0, 0};
    expect_bytes_fail_("two", two, sizeof two, 0,
                       "%s: file ends inside the IDX header, after 2 bytes");
    static const uint8_t partial_dims[] = {0, 0, 8, 3, 0, 0, 0, 9, 0, 0};
    expect_bytes_fail_("dims", partial_dims, sizeof partial_dims, 0,
                       "%s: file ends inside the IDX header, after 10 bytes");
    expect_bytes_fail_("dims.gz", partial_dims, sizeof partial_dims, 1,
                       "%s: file ends inside the IDX header, after 10 bytes");
}

static void test_data_size(void) {
    const uint32_t dims[] = {2, 3, 4};
    size_t len;
    uint8_t *b = idx_bytes_(3, dims, 5, &len);
    expect_bytes_fail_("short", b, len, 0,
                       "%s: expected 24 bytes of data after the 16-byte header, found 5");
    expect_bytes_fail_("short.gz", b, len, 1,
                       "%s: expected 24 bytes of data after the 16-byte header, found 5");
    free(b);
    b = idx_bytes_(3, dims, 27, &len);
    expect_bytes_fail_("long", b, len, 0,
                       "%s: 3 extra bytes after the data (the header describes 2x3x4 = 24 bytes)");
    expect_bytes_fail_("long.gz", b, len, 1,
                       "%s: 3 extra bytes after the data (the header describes 2x3x4 = 24 bytes)");
    free(b);
    b = idx_bytes_(1, (uint32_t[]){10}, 10 + 200000, &len); /* more than one scratch read */
    expect_bytes_fail_(
        "verylong", b, len, 0,
        "%s: 200000 extra bytes after the data (the header describes 10 = 10 bytes)");
    free(b);
    /* a header claiming about 2^64 bytes must fail on the data, not on allocation */
    b = idx_bytes_(2, (uint32_t[]){0xffffffffu, 0xffffffffu}, 3, &len);
    expect_bytes_fail_("huge", b, len, 0,
                       "%s: expected 18446744065119617025 bytes of data after the 12-byte "
                       "header, found 3");
    free(b);
}

static void test_corrupt_gzip(void) {
    size_t len;
    uint8_t *b = idx_bytes_(3, (uint32_t[]){2, 3, 4}, 24, &len);
    char path[512];
    write_gz_(tmp_path_(path, sizeof path, "ok.gz"), b, len);
    free(b);
    FILE *f = fopen(path, "rb");
    CU_ASSERT_FATAL(f != NULL);
    uint8_t gz[4096];
    size_t gz_len = fread(gz, 1, sizeof gz, f);
    fclose(f);
    CU_ASSERT_FATAL(gz_len > 18 && gz_len < sizeof gz);

    /* the trailer holds CRC-32 then the length; a flipped CRC bit is a corrupt stream */
    gz[gz_len - 8] ^= 1;
    expect_bytes_fail_("crc.gz", gz, gz_len, 0, "%s: corrupt gzip data: incorrect data check");
    gz[gz_len - 8] ^= 1;
    /* cut short, as an interrupted download would be */
    expect_bytes_fail_("cut.gz", gz, gz_len - 12, 0,
                       "%s: gzip data ends unexpectedly (truncated file?)");
    /* gzip magic followed by a compression method zlib does not know */
    static const uint8_t method[] = {0x1f, 0x8b, 7, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5};
    expect_bytes_fail_("method.gz", method, sizeof method, 0,
                       "%s: corrupt gzip data: unknown compression method");
}

/* ---- MNIST-layout folders -------------------------------------------------------------- */

/* Makes tmpdir/<sub> and returns it in buf. */
static const char *make_dir_(char *buf, size_t cap, const char *sub) {
    tmp_path_(buf, cap, sub);
    CU_ASSERT_FATAL(mkdir(buf, 0755) == 0);
    return buf;
}

/* Writes <dir>/<name> as an IDX file holding exactly `bytes` under `dims`. */
static void write_idx_data_(const char *dir, const char *name, int ndims, const uint32_t *dims,
                            const uint8_t *bytes, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t len;
    uint8_t *b = idx_bytes_(ndims, dims, n, &len);
    memcpy(b + 4 + 4 * ndims, bytes, n);
    write_(path, b, len, strstr(name, ".gz") != NULL);
    free(b);
}

static const uint8_t pixels_[3 * 2 * 2] = {0, 255, 51, 102, 1, 2, 3, 4, 250, 251, 252, 253};

/* A 3-image, 2x2 set under the given file names. */
static void write_tiny_(const char *dir, const char *images, const char *labels,
                        const uint8_t y[3]) {
    write_idx_data_(dir, images, 3, (uint32_t[]){3, 2, 2}, pixels_, sizeof pixels_);
    write_idx_data_(dir, labels, 1, (uint32_t[]){3}, y, 3);
}

static void check_tiny_(const lp_dataset *ds, const uint8_t y[3]) {
    CU_ASSERT_EQUAL(ds->n, 3);
    CU_ASSERT_EQUAL(ds->c, 1);
    CU_ASSERT_EQUAL(ds->h, 2);
    CU_ASSERT_EQUAL(ds->w, 2);
    CU_ASSERT_EQUAL(ds->classes, 10);
    for (int i = 0; i < 12; ++i)
        CU_ASSERT_EQUAL(ds->x[i], (float)pixels_[i] / 255.0f);
    CU_ASSERT_EQUAL(ds->x[1], 1.0f);
    CU_ASSERT(memcmp(ds->y, y, 3) == 0);
}

static void test_mnist_tiny(void) {
    char dir[512];
    make_dir_(dir, sizeof dir, "tiny");
    const uint8_t ytrain[3] = {5, 0, 9}, ytest[3] = {7, 2, 1};
    write_tiny_(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", ytrain);
    /* the test split in the other spellings, one gzipped */
    write_tiny_(dir, "t10k-images.idx3-ubyte.gz", "t10k-labels.idx1-ubyte", ytest);

    lp_dataset train, test;
    CU_ASSERT_EQUAL_FATAL(lp_mnist_load(dir, "train", &train), LP_OK);
    check_tiny_(&train, ytrain);
    CU_ASSERT_EQUAL_FATAL(lp_mnist_load(dir, "test", &test), LP_OK);
    check_tiny_(&test, ytest);

    lp_dataset sub;
    CU_ASSERT_EQUAL_FATAL(lp_dataset_subset(&train, 1, 2, &sub), LP_OK);
    CU_ASSERT_EQUAL(sub.n, 2);
    CU_ASSERT_EQUAL(sub.h * sub.w * sub.c, 4);
    CU_ASSERT(memcmp(sub.x, train.x + 4, 8 * sizeof(float)) == 0);
    CU_ASSERT(memcmp(sub.y, ytrain + 1, 2) == 0);
    lp_dataset_free(&sub);
    CU_ASSERT_PTR_NULL(sub.x);

    expect_fail_(lp_dataset_subset(&train, 2, 2, &sub), LP_ERR_INVALID_ARG,
                 "subset of 2 samples from 2 does not fit in a dataset of 3 samples", NULL, NULL);
    expect_fail_(lp_dataset_subset(&train, -1, 1, &sub), LP_ERR_INVALID_ARG,
                 "subset of 1 samples from -1 does not fit in a dataset of 3 samples", NULL, NULL);
    expect_fail_(lp_dataset_subset(&train, 0, 0, &sub), LP_ERR_INVALID_ARG,
                 "subset of 0 samples from 0 does not fit in a dataset of 3 samples", NULL, NULL);
    lp_dataset_free(&train);
    lp_dataset_free(&test);
    lp_dataset_free(&test); /* freeing twice is harmless */
}

static void test_mnist_missing(void) {
    lp_dataset ds;
    char dir[512], sub[600];
    tmp_path_(dir, sizeof dir, "no-such-folder");
    expect_fail_(lp_mnist_load(dir, "train", &ds), LP_ERR_NOT_FOUND,
                 "%s: no such folder; for MNIST run scripts/fetch-mnist (it fills data/mnist), "
                 "or pass a folder holding IDX files",
                 dir, NULL);
    make_dir_(dir, sizeof dir, "emptydir");
    expect_fail_(lp_mnist_load(dir, "test", &ds), LP_ERR_NOT_FOUND,
                 "%s: no t10k images file (looked for t10k-images-idx3-ubyte and "
                 "t10k-images.idx3-ubyte, each also with .gz); for MNIST run scripts/fetch-mnist",
                 dir, NULL);
    /* a folder where a file should be does not count as the file */
    snprintf(sub, sizeof sub, "%s/train-images-idx3-ubyte", dir);
    CU_ASSERT_FATAL(mkdir(sub, 0755) == 0);
    expect_fail_(lp_mnist_load(dir, "train", &ds), LP_ERR_NOT_FOUND,
                 "%s: no train images file (looked for train-images-idx3-ubyte and "
                 "train-images.idx3-ubyte, each also with .gz); for MNIST run scripts/fetch-mnist",
                 dir, NULL);
    make_dir_(dir, sizeof dir, "nolabels");
    write_idx_data_(dir, "train-images-idx3-ubyte", 3, (uint32_t[]){3, 2, 2}, pixels_, 12);
    expect_fail_(lp_mnist_load(dir, "train", &ds), LP_ERR_NOT_FOUND,
                 "%s: no train labels file (looked for train-labels-idx1-ubyte and "
                 "train-labels.idx1-ubyte, each also with .gz); for MNIST run scripts/fetch-mnist",
                 dir, NULL);
    CU_ASSERT_PTR_NULL(ds.x);
    expect_fail_(lp_mnist_load(dir, "valid", &ds), LP_ERR_INVALID_ARG,
                 "split \"valid\" is neither \"train\" nor \"test\"", NULL, NULL);
}

static void test_mnist_malformed(void) {
    lp_dataset ds;
    char dir[512], ipath[600], lpath[600];

    make_dir_(dir, sizeof dir, "badlabel");
    write_tiny_(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                (const uint8_t[]){1, 2, 10});
    snprintf(lpath, sizeof lpath, "%s/train-labels-idx1-ubyte", dir);
    expect_fail_(lp_mnist_load(dir, "train", &ds), LP_ERR_FORMAT,
                 "%s: label 2 is 10, expected 0 to 9", lpath, NULL);
    CU_ASSERT_PTR_NULL(ds.x);

    make_dir_(dir, sizeof dir, "counts");
    write_idx_data_(dir, "train-images-idx3-ubyte", 3, (uint32_t[]){3, 2, 2}, pixels_, 12);
    write_idx_data_(dir, "train-labels-idx1-ubyte.gz", 1, (uint32_t[]){2}, pixels_, 2);
    snprintf(ipath, sizeof ipath, "%s/train-images-idx3-ubyte", dir);
    snprintf(lpath, sizeof lpath, "%s/train-labels-idx1-ubyte.gz", dir);
    expect_fail_(lp_mnist_load(dir, "train", &ds), LP_ERR_FORMAT,
                 "%s: 2 labels, but %s holds 3 images", lpath, ipath);

    make_dir_(dir, sizeof dir, "shapes");
    write_idx_data_(dir, "train-images-idx3-ubyte", 2, (uint32_t[]){3, 4}, pixels_, 12);
    write_idx_data_(dir, "train-labels-idx1-ubyte", 1, (uint32_t[]){3}, pixels_, 3);
    snprintf(ipath, sizeof ipath, "%s/train-images-idx3-ubyte", dir);
    expect_fail_(lp_mnist_load(dir, "train", &ds), LP_ERR_FORMAT,
                 "%s: images have 2 dimensions, expected 3 (count, rows, columns)", ipath, NULL);
    write_idx_data_(dir, "t10k-images-idx3-ubyte", 3, (uint32_t[]){3, 2, 2}, pixels_, 12);
    write_idx_data_(dir, "t10k-labels-idx1-ubyte", 2, (uint32_t[]){3, 1}, pixels_, 3);
    snprintf(lpath, sizeof lpath, "%s/t10k-labels-idx1-ubyte", dir);
    expect_fail_(lp_mnist_load(dir, "test", &ds), LP_ERR_FORMAT,
                 "%s: labels have 2 dimensions, expected 1 (count)", lpath, NULL);

    /* errors from the IDX reader come through unchanged */
    make_dir_(dir, sizeof dir, "truncated");
    write_idx_data_(dir, "train-images-idx3-ubyte", 3, (uint32_t[]){4, 2, 2}, pixels_, 12);
    write_idx_data_(dir, "train-labels-idx1-ubyte", 1, (uint32_t[]){4}, pixels_, 4);
    snprintf(ipath, sizeof ipath, "%s/train-images-idx3-ubyte", dir);
    expect_fail_(lp_mnist_load(dir, "train", &ds), LP_ERR_FORMAT,
                 "%s: expected 16 bytes of data after the 16-byte header, found 12", ipath, NULL);
}

/* ---- the real data, when it is there ----------------------------------------------------- */

static void check_real_(const char *dir, const char *split, int n, int y0, int y1) {
    lp_dataset ds;
    lp_status s = lp_mnist_load(dir, split, &ds);
    if (s != LP_OK) printf("\n  %s\n", lp_last_error());
    CU_ASSERT_EQUAL_FATAL(s, LP_OK);
    CU_ASSERT_EQUAL(ds.n, n);
    CU_ASSERT_EQUAL(ds.c, 1);
    CU_ASSERT_EQUAL(ds.h, 28);
    CU_ASSERT_EQUAL(ds.w, 28);
    CU_ASSERT_EQUAL(ds.classes, 10);
    CU_ASSERT_EQUAL(ds.y[0], y0);
    CU_ASSERT_EQUAL(ds.y[1], y1);
    float lo = 1, hi = 0;
    size_t total = (size_t)ds.n * 28 * 28;
    for (size_t i = 0; i < total; ++i) {
        if (ds.x[i] < lo) lo = ds.x[i];
        if (ds.x[i] > hi) hi = ds.x[i];
    }
    CU_ASSERT_EQUAL(lo, 0.0f);
    CU_ASSERT_EQUAL(hi, 1.0f);
    int seen[10] = {0};
    for (int i = 0; i < ds.n; ++i)
        seen[ds.y[i]]++;
    for (int k = 0; k < 10; ++k)
        CU_ASSERT(seen[k] > 0);
    lp_dataset_free(&ds);
}

static bool is_dir_(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void test_real_mnist(void) {
    const char *dir = lp_test_mnist_dir();
    if (!is_dir_(dir)) {
        printf("\n  note: %s is absent, real MNIST not checked (run scripts/fetch-mnist)\n", dir);
        return;
    }
    check_real_(dir, "train", 60000, 5, 0);
    check_real_(dir, "test", 10000, 7, 2);
}

static void test_real_fashion(void) {
    const char *dir = "/usr/share/datasets/fashion-mnist";
    if (!is_dir_(dir)) {
        printf("\n  note: %s is absent, Fashion-MNIST not checked (package "
               "dataset-fashion-mnist)\n",
               dir);
        return;
    }
    check_real_(dir, "train", 60000, 9, 0);
    check_real_(dir, "test", 10000, 9, 2);
}

static void register_suites(void) {
    CU_pSuite idx = CU_add_suite("idx", NULL, NULL);
    CU_add_test(idx, "valid plain files read back exactly", test_valid_plain);
    CU_add_test(idx, "valid gzipped files read back exactly", test_valid_gzip);
    CU_add_test(idx, "missing file or folder is an I/O error", test_missing_file);
    CU_add_test(idx, "bad magic, type, dimension count, dims", test_bad_header);
    CU_add_test(idx, "truncated header", test_truncated_header);
    CU_add_test(idx, "truncated data and trailing bytes", test_data_size);
    CU_add_test(idx, "corrupt gzip", test_corrupt_gzip);
    CU_pSuite mnist = CU_add_suite("mnist", NULL, NULL);
    CU_add_test(mnist, "tiny folder in every file spelling, and subsets", test_mnist_tiny);
    CU_add_test(mnist, "missing folder or files", test_mnist_missing);
    CU_add_test(mnist, "bad labels, counts and shapes", test_mnist_malformed);
    CU_add_test(mnist, "real MNIST (if fetched)", test_real_mnist);
    CU_add_test(mnist, "real Fashion-MNIST (if installed)", test_real_fashion);
}

int main(void) {
    return lp_test_main("test_idx", register_suites);
}
