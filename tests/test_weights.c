/* Weights files without a device: a snapshot rebuilt from initial values and rankings
 * (IEEE totalOrder, -0.0 and NaN included; a row that is not a permutation refused), the
 * Keras layout both ways (conv, BatchNorm, dense after a flatten of a spatial map, an
 * [add] projection) bit for bit, Keras' flatten order checked by hand, mismatches naming
 * both layers and both shapes, damaged and foreign files refused, and the .npz header. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "laperm/results.h"
#include "laperm/weights.h"
#include "lp_test.h"

static uint32_t bits_(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

static void test_rebuild(void) {
    /* two groups of 5: sort(init[g]) in totalOrder is -NaN < -2 < -0 < +0 < 1 < NaN */
    float nan = NAN;
    float init[10] = {1.0f, -0.0f, nan, -2.0f, 0.0f, 3.0f, 3.0f, -1.0f, 0.5f, -0.0f};
    int32_t rank[10] = {4, 0, 2, 3, 1, 0, 1, 2, 3, 4};
    float out[10];
    LP_TEST_OK(lp_weights_rebuild(init, rank, 2, 5, "t", out));
    /* group 0 sorted: -2, -0, +0, 1, NaN */
    float want0[5] = {nan, -2.0f, 0.0f, 1.0f, -0.0f};
    for (int j = 0; j < 5; ++j)
        CU_ASSERT_EQUAL(bits_(out[j]), bits_(want0[j]));
    /* group 1 sorted: -1, -0, 0.5, 3, 3 */
    float want1[5] = {-1.0f, -0.0f, 0.5f, 3.0f, 3.0f};
    for (int j = 0; j < 5; ++j)
        CU_ASSERT_EQUAL(bits_(out[5 + j]), bits_(want1[j]));
    int32_t bad[10] = {4, 0, 2, 3, 1, 0, 1, 1, 3, 4};
    CU_ASSERT_EQUAL(lp_weights_rebuild(init, bad, 2, 5, "run.h5: /rankings/d/kernel[0]", out),
                    LP_ERR_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "group 1 is not a permutation: rank[2] = 1"));
    bad[7] = 5;
    CU_ASSERT_EQUAL(lp_weights_rebuild(init, bad, 2, 5, "t", out), LP_ERR_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "out of range"));
}

/* conv (same padding) -> BN -> conv -> [add] with projection -> flatten -> dense ->
 * dense: every Keras conversion at once, on odd sizes. */
static const char *model_text_ = "[input]\nchannels = 2\nheight = 5\nwidth = 3\n"
                                 "[conv2d]\nname = c1\nfilters = 3\nkernel = 3\npadding = same\n"
                                 "[batchnorm]\nname = bn\n"
                                 "[conv2d]\nname = c2\nfilters = 4\nkernel = 1\n"
                                 "[add]\nname = join\nfrom = c1\nprojection = true\n"
                                 "[flatten]\n"
                                 "[dense]\nname = d1\nunits = 7\n"
                                 "[dense]\nname = d2\nunits = 5\n";

/* Every tensor of m (and the BN statistics) with distinct values. */
static void fill_(const lp_model_spec *m, lp_weights *w) {
    lp_param_tensor *t;
    int n;
    LP_TEST_OK(lp_model_params(m, &t, &n));
    float v = 0.25f;
    for (int i = 0; i < n; ++i) {
        float *data = malloc(t[i].count * sizeof *data);
        for (size_t j = 0; j < t[i].count; ++j)
            data[j] = (v += 1.0f) * (j % 2 ? -1.0f : 1.0f);
        LP_TEST_OK(
            lp_weights_add(w, m->layers[t[i].layer].name, t[i].name, t[i].rank, t[i].dims, data));
        if (!strcmp(t[i].name, "gamma")) {
            LP_TEST_OK(lp_weights_add(w, "bn", "running_mean", 1, t[i].dims, data));
            for (size_t j = 0; j < t[i].count; ++j)
                data[j] = 0.5f + (float)j;
            LP_TEST_OK(lp_weights_add(w, "bn", "running_var", 1, t[i].dims, data));
        }
        free(data);
    }
    free(t);
}

static char tmp_[256];

static void test_keras_round_trip(void) {
    lp_model_spec m;
    LP_TEST_OK(lp_model_parse_text(model_text_, "t.ini", &m));
    lp_weights w = {0}, back = {0};
    fill_(&m, &w);
    char path[300];
    snprintf(path, sizeof path, "%s/k.h5", tmp_);
    LP_TEST_OK(lp_weights_write_keras(&w, &m, path));
    lp_weights_origin o;
    LP_TEST_OK(lp_weights_load(path, NULL, &m, &back, &o));
    CU_ASSERT_STRING_EQUAL(o.kind, "keras");
    CU_ASSERT_EQUAL(back.n, w.n);
    for (int i = 0; i < w.n; ++i) {
        const lp_named_tensor *a = &w.tensors[i];
        const lp_named_tensor *b = lp_weights_find(&back, a->layer, a->name);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
        CU_ASSERT_EQUAL(a->count, b->count);
        CU_ASSERT(memcmp(a->data, b->data, a->count * sizeof(float)) == 0);
    }
    /* the model text travels with the file: no model needed to read it back */
    lp_weights_free(&back);
    LP_TEST_OK(lp_weights_load(path, NULL, NULL, &back, &o));
    CU_ASSERT_PTR_NOT_NULL(back.model_text);

    /* Keras' layouts, by hand: conv (kh, kw, cin, cout), dense after the flatten of
     * (c=4, h=5, w=3) with rows in (h, w, c) order, names conv2d, conv2d_1, conv2d_2 */
    float *k = NULL;
    int rank;
    size_t d[4];
    LP_TEST_OK(lp_results_read_float(path, "/conv2d/conv2d/kernel:0", &k, &rank, d));
    const lp_named_tensor *c1 = lp_weights_find(&w, "c1", "kernel"); /* (3, 2, 3, 3) */
    CU_ASSERT(rank == 4 && d[0] == 3 && d[1] == 3 && d[2] == 2 && d[3] == 3);
    /* ours [co=2][ci=1][y=0][x=2] = Keras [y=0][x=2][ci=1][co=2] */
    CU_ASSERT_EQUAL(bits_(c1->data[((2 * 2 + 1) * 3 + 0) * 3 + 2]),
                    bits_(k[((0 * 3 + 2) * 2 + 1) * 3 + 2]));
    free(k);
    LP_TEST_OK(lp_results_read_float(path, "/dense/dense/kernel:0", &k, &rank, d));
    const lp_named_tensor *d1 = lp_weights_find(&w, "d1", "kernel"); /* (7, 60) */
    CU_ASSERT(rank == 2 && d[0] == 60 && d[1] == 7);
    for (int o2 = 0; o2 < 7; ++o2)
        for (int c = 0; c < 4; ++c)
            for (int y = 0; y < 5; ++y)
                for (int x = 0; x < 3; ++x) {
                    int ours = o2 * 60 + (c * 5 + y) * 3 + x;
                    int keras = ((y * 3 + x) * 4 + c) * 7 + o2;
                    CU_ASSERT_EQUAL(bits_(d1->data[ours]), bits_(k[keras]));
                }
    free(k);
    LP_TEST_OK(lp_results_read_float(path, "/conv2d_2/conv2d_2/kernel:0", &k, &rank, d));
    CU_ASSERT(rank == 4 && d[0] == 1 && d[1] == 1 && d[2] == 3 && d[3] == 4); /* join's */
    free(k);
    LP_TEST_OK(lp_results_read_float(path,
                                     "/batch_normalization/batch_normalization/"
                                     "moving_variance:0",
                                     &k, &rank, d));
    CU_ASSERT(rank == 1 && d[0] == 3 && k[2] == 2.5f);
    free(k);

    /* another model: the mismatch names both layers and both shapes */
    char *other = strdup(model_text_);
    memcpy(strstr(other, "units = 7"), "units = 6", 9);
    lp_model_spec m2;
    LP_TEST_OK(lp_model_parse_text(other, "other.ini", &m2));
    lp_weights_free(&back);
    CU_ASSERT_EQUAL(lp_weights_load(path, NULL, &m2, &back, &o), LP_ERR_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "Keras layer 'dense' kernel is 60x7, but "
                                                   "layer 'd1' kernel is 6x60"));
    CU_ASSERT_EQUAL(back.n, 0);
    free(other);
    lp_model_free(&m2);
    lp_weights_free(&w);
    lp_weights_free(&back);
    lp_model_free(&m);
}

static void test_bad_files(void) {
    lp_model_spec m;
    LP_TEST_OK(lp_model_parse_text(model_text_, "t.ini", &m));
    lp_weights w = {0};
    lp_weights_origin o;
    char path[300], cut[300];
    snprintf(path, sizeof path, "%s/junk.h5", tmp_);
    FILE *f = fopen(path, "wb");
    fputs("not a weights file at all", f);
    fclose(f);
    CU_ASSERT_EQUAL(lp_weights_load(path, NULL, &m, &w, &o), LP_ERR_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "not a weights file laperm reads"));
    snprintf(path, sizeof path, "%s/none.h5", tmp_);
    CU_ASSERT_EQUAL(lp_weights_load(path, NULL, &m, &w, &o), LP_ERR_NOT_FOUND);
    /* a Keras file cut short */
    lp_weights full = {0};
    fill_(&m, &full);
    snprintf(path, sizeof path, "%s/whole.h5", tmp_);
    snprintf(cut, sizeof cut, "%s/cut.h5", tmp_);
    LP_TEST_OK(lp_weights_write_keras(&full, &m, path));
    FILE *in = fopen(path, "rb"), *out = fopen(cut, "wb");
    char buf[1500];
    size_t n = fread(buf, 1, sizeof buf, in);
    fwrite(buf, 1, n, out);
    fclose(in);
    fclose(out);
    lp_status s = lp_weights_load(cut, NULL, &m, &w, &o);
    CU_ASSERT_NOT_EQUAL(s, LP_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), cut));
    CU_ASSERT_EQUAL(w.n, 0);
    /* a Keras file needs a model to match */
    lp_weights_set_model_text(&full, NULL);
    lp_weights_free(&full);
    lp_model_free(&m);
}

static void test_npz_header(void) {
    lp_model_spec m;
    LP_TEST_OK(lp_model_parse_text(model_text_, "t.ini", &m));
    lp_weights w = {0};
    fill_(&m, &w);
    char path[300];
    snprintf(path, sizeof path, "%s/w.npz", tmp_);
    LP_TEST_OK(lp_weights_write_npz(&w, &m, path));
    FILE *f = fopen(path, "rb");
    unsigned char head[160];
    CU_ASSERT_FATAL(fread(head, 1, sizeof head, f) == sizeof head);
    fclose(f);
    /* first entry: c1.weight.npy, stored, then the .npy magic and a 64-byte aligned header */
    CU_ASSERT(memcmp(head, "PK\x03\x04", 4) == 0);
    CU_ASSERT(head[8] == 0 && head[9] == 0); /* stored */
    CU_ASSERT(memcmp(head + 30, "c1.weight.npy", 13) == 0);
    const unsigned char *npy = head + 30 + 13;
    CU_ASSERT(memcmp(npy, "\x93NUMPY\x01\x00", 8) == 0);
    int hl = npy[8] | npy[9] << 8;
    CU_ASSERT((10 + hl) % 64 == 0);
    CU_ASSERT(memcmp(npy + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2, 3, 3), }",
                     65) == 0);
    lp_weights_free(&w);
    lp_model_free(&m);
}

static void register_suites(void) {
    const char *t = getenv("TMPDIR");
    snprintf(tmp_, sizeof tmp_, "%s/laperm-test-weights-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmp_)) snprintf(tmp_, sizeof tmp_, ".");
    CU_pSuite s = CU_add_suite("weights files", NULL, NULL);
    CU_add_test(s, "snapshot rebuild (totalOrder, invariant)", test_rebuild);
    CU_add_test(s, "Keras layout both ways", test_keras_round_trip);
    CU_add_test(s, "damaged and foreign files", test_bad_files);
    CU_add_test(s, "npz header", test_npz_header);
}

int main(void) {
    int rc = lp_test_main("test_weights", register_suites);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_);
    if (strcmp(tmp_, ".") != 0 && system(cmd) != 0) rc = rc ? rc : 1;
    return rc;
}
