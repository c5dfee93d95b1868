/* laperm bench's tables against hand counts: the per-layer split's nominal FLOPs of a small
 * conv model (odd sizes, a stride-2 'same' layer, a first layer without input gradient),
 * and the peak device memory of a tiny dense model, byte for byte. Runs on the default
 * device (the tables' figures other than the times do not depend on it). */
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/bench.h"
#include "laperm/bench_h5.h"
#include "laperm/model.h"
#include "lp_test.h"

/* 3x9x9 > conv 4 3x3/2 same (4x5x5) > conv 5 3x3 valid (5x3x3) > flatten > dense 7. */
static const char *conv_model_ = "[input]\nchannels = 3\nheight = 9\nwidth = 9\n"
                                 "[conv2d]\nfilters = 4\nkernel = 3\nstride = 2\n"
                                 "padding = same\nactivation = relu\n"
                                 "[conv2d]\nfilters = 5\nkernel = 3\nactivation = relu\n"
                                 "[flatten]\n[dense]\nunits = 7\n";

static void test_layer_flops(void) {
    lp_runtime_options opt = {.profiling = true};
    lp_runtime *rt = NULL;
    LP_TEST_OK(lp_runtime_create(&opt, &rt));
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
    lp_bench_table t = {.min_seconds = 0.001};
    const char *path = lp_test_write_tmp("bench_conv.ini", conv_model_);
    LP_TEST_OK(lp_bench_peak(rt, &t));
    LP_TEST_OK(lp_bench_model(rt, path, 3, LP_BENCH_MODEL_LAYERS, &t));
    CU_ASSERT_EQUAL_FATAL(t.n_layers, 3);
    /* 2 x batch x multiply-adds per sample, each pass:
     * conv2d_1: 4 filters x 5x5 outputs x 3 channels x 3x3 = 2700, no input gradient;
     * conv2d_2: 5 x 3x3 x 4 x 3x3 = 1620; dense_1: 45 x 7 = 315. */
    const double want[3][LP_BENCH_PASSES] = {
        {2 * 3 * 2700.0, 0, 2 * 3 * 2700.0},
        {2 * 3 * 1620.0, 2 * 3 * 1620.0, 2 * 3 * 1620.0},
        {2 * 3 * 315.0, 2 * 3 * 315.0, 2 * 3 * 315.0},
    };
    const char *names[3] = {"conv2d_1", "conv2d_2", "dense_1"};
    double total = 0;
    for (int i = 0; i < 3; ++i) {
        const lp_bench_layer *l = &t.layers[i];
        CU_ASSERT_STRING_EQUAL(l->layer, names[i]);
        CU_ASSERT_STRING_EQUAL(l->model, "bench_conv");
        CU_ASSERT_EQUAL(l->batch, 3);
        CU_ASSERT(l->path[0] != 0);
        for (int p = 0; p < LP_BENCH_PASSES; ++p) {
            CU_ASSERT_DOUBLE_EQUAL(l->flops[p], want[i][p], 1e-9);
            total += l->flops[p];
            /* A pass that ran took time; one that did not, none. */
            if (want[i][p] > 0 && p != LP_BENCH_INPUT_GRAD) CU_ASSERT(l->seconds[p] > 0);
            if (want[i][p] == 0) CU_ASSERT_EQUAL(l->seconds[p], 0);
        }
    }
    CU_ASSERT_STRING_EQUAL(t.layers[0].shape, "3x9x9 > 4x5x5, 3x3/2");
    CU_ASSERT_STRING_EQUAL(t.layers[2].shape, "45 > 7");
    /* The step's row: the same total over the step's time, as a share of the peak. */
    const lp_bench_row *share = NULL;
    for (int i = 0; i < t.n; ++i)
        if (strstr(t.rows[i].name, "step, share of peak")) share = &t.rows[i];
    CU_ASSERT_PTR_NOT_NULL_FATAL(share);
    CU_ASSERT(t.peak_gflops > 0);
    CU_ASSERT_DOUBLE_EQUAL(share->value, total / share->seconds * 1e-9, 1e-9 * share->value);
    CU_ASSERT_DOUBLE_EQUAL(share->of_peak, share->value / t.peak_gflops, 1e-12);
    /* --out: the per-layer rows in /layers, field by field. */
    char h5[1100];
    snprintf(h5, sizeof h5, "%s/bench_layers.h5", lp_test_tmpdir());
    LP_TEST_OK(lp_bench_write_h5(&t, "test device", "test", h5));
    hid_t f = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    hid_t d = H5Dopen2(f, "layers", H5P_DEFAULT);
    CU_ASSERT_FATAL(d >= 0);
    hid_t sp = H5Dget_space(d);
    hsize_t n = 0;
    H5Sget_simple_extent_dims(sp, &n, NULL);
    CU_ASSERT_EQUAL(n, 3);
    typedef struct {
        char layer[48];
        double dx_flops, dw_seconds;
    } got_;
    hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(got_)), s48 = H5Tcopy(H5T_C_S1);
    H5Tset_size(s48, 48);
    H5Tinsert(mt, "layer", HOFFSET(got_, layer), s48);
    H5Tinsert(mt, "input_grad_flops", HOFFSET(got_, dx_flops), H5T_NATIVE_DOUBLE);
    H5Tinsert(mt, "kernel_grad_seconds", HOFFSET(got_, dw_seconds), H5T_NATIVE_DOUBLE);
    got_ rows[3];
    CU_ASSERT(H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) >= 0);
    CU_ASSERT_STRING_EQUAL(rows[1].layer, "conv2d_2");
    CU_ASSERT_DOUBLE_EQUAL(rows[1].dx_flops, want[1][LP_BENCH_INPUT_GRAD], 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(rows[2].dw_seconds, t.layers[2].seconds[LP_BENCH_KERNEL_GRAD], 0);
    H5Tclose(s48), H5Tclose(mt), H5Sclose(sp), H5Dclose(d), H5Fclose(f);
    lp_bench_table_free(&t);
    lp_runtime_destroy(rt);
}

/* conv_algo puts every conv layer on the named path (auto takes GEMM for these small ones). */
static void test_layer_paths(void) {
    lp_runtime_options opt = {.profiling = true};
    lp_runtime *rt = NULL;
    LP_TEST_OK(lp_runtime_create(&opt, &rt));
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
    const char *path = lp_test_write_tmp("bench_conv.ini", conv_model_);
    const lp_conv_algo algos[2] = {LP_CONV_ALGO_DIRECT, LP_CONV_ALGO_GEMM};
    for (int a = 0; a < 2; ++a) {
        lp_bench_table t = {.min_seconds = 0.001, .conv_algo = algos[a]};
        LP_TEST_OK(lp_bench_model(rt, path, 3, LP_BENCH_MODEL_LAYERS, &t));
        CU_ASSERT_EQUAL_FATAL(t.n_layers, 3);
        CU_ASSERT_STRING_EQUAL(t.layers[0].path, lp_conv_algo_name(algos[a]));
        CU_ASSERT_STRING_EQUAL(t.layers[1].path, lp_conv_algo_name(algos[a]));
        CU_ASSERT_STRING_EQUAL(t.layers[2].path, "gemm");
        lp_bench_table_free(&t);
    }
    lp_runtime_destroy(rt);
}

/* 1x5x7 > flatten > dense 6 > dense 3 (biases), batch 4, matrix products through CLBlast
 * (its own temporaries are not laperm's buffers, so the count is exact: laperm's tiled
 * kernels would add packing buffers shaped by the device). */
static void test_memory_hand_count(void) {
    lp_runtime_options opt = {.profiling = true};
    lp_bench_table t = {.min_seconds = 0.001, .gemm_mode_set = true, .gemm_mode = LP_GEMM_CLBLAST};
    const char *path =
        lp_test_write_tmp("bench_dense.ini", "[input]\nchannels = 1\nheight = 5\nwidth = 7\n"
                                             "[flatten]\n[dense]\nunits = 6\nactivation = relu\n"
                                             "[dense]\nunits = 3\n");
    LP_TEST_OK(lp_bench_memory(&opt, path, 4, &t));
    CU_ASSERT_EQUAL_FATAL(t.n_memory, 1);
    const lp_bench_memory_row *m = &t.memory[0];
    const uint64_t params = (35 * 6 + 6 + 6 * 3 + 3) * 4; /* 948 bytes */
    CU_ASSERT_EQUAL(m->parameters, 2 * params);           /* and the gradients */
    CU_ASSERT_EQUAL(m->optimizer, 2 * params);            /* Adam's m and v */
    /* the input batch (no gradient), each dense layer's output and its gradient */
    CU_ASSERT_EQUAL(m->activations, 4 * 35 * 4 + 2 * 4 * 6 * 4 + 2 * 4 * 3 * 4);
    CU_ASSERT_EQUAL(m->total, 4 * params + 560 + 192 + 96);
    CU_ASSERT_EQUAL(m->other, 0);
    CU_ASSERT_EQUAL(m->untracked, 0);
    /* laperm train's up-front plan for the same step: the four parameter-sized buffers,
     * an output for every layer, the flatten view included ((35 + 35 + 6 + 3) x 4 samples
     * x 4 bytes), the two dense layers' gradient buffers ((6 + 3) x 4 x 4: live at once,
     * so not shared) and its small per-batch buffers (labels 16, normalisation 280,
     * statistics 8). */
    CU_ASSERT_EQUAL(m->planned, 4 * params + 1264 + 144 + 304);
    CU_ASSERT_STRING_EQUAL(t.rows[t.n - 1].section, "memory");
    CU_ASSERT_DOUBLE_EQUAL(t.rows[t.n - 1].value, m->total / 1048576.0, 1e-12);
    /* With laperm's own products the workspaces come on top, and nothing else changes. */
    t.gemm_mode_set = false;
    LP_TEST_OK(lp_bench_memory(&opt, path, 4, &t));
    CU_ASSERT_EQUAL_FATAL(t.n_memory, 2);
    CU_ASSERT_EQUAL(t.memory[1].total, m->total + t.memory[1].other);
    lp_bench_table_free(&t);
}

/* The runtime's count follows buffers as they are made and freed, and its peak restarts
 * at a mark. */
static void test_runtime_memory(void) {
    lp_runtime *rt = NULL;
    LP_TEST_OK(lp_runtime_create(NULL, &rt));
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
    uint64_t base = lp_runtime_memory(rt).live;
    cl_mem a = NULL, b = NULL;
    LP_TEST_OK(lp_buffer_create(rt, 1000, "a", &a));
    LP_TEST_OK(lp_buffer_create_zeroed(rt, 3000, "b", &b));
    CU_ASSERT_EQUAL(lp_runtime_memory(rt).live, base + 4000);
    clReleaseMemObject(b);
    LP_TEST_OK(lp_runtime_finish(rt));
    lp_memory_use u = lp_runtime_memory(rt);
    CU_ASSERT_EQUAL(u.live, base + 1000);
    CU_ASSERT_EQUAL(u.peak, base + 4000);
    lp_runtime_memory_mark(rt);
    CU_ASSERT_EQUAL(lp_runtime_memory(rt).peak, base + 1000);
    clReleaseMemObject(a);
    CU_ASSERT_EQUAL(lp_runtime_memory(rt).live, base);
    CU_ASSERT_EQUAL(lp_runtime_memory(rt).untracked, 0);
    lp_runtime_destroy(rt);
}

static void register_suites(void) {
    CU_pSuite su = CU_add_suite("bench tables", NULL, NULL);
    CU_add_test(su, "per-layer FLOPs of a small conv model, by hand", test_layer_flops);
    CU_add_test(su, "--conv-algo: every conv layer on the named path", test_layer_paths);
    CU_add_test(su, "peak memory of a tiny dense model, by hand", test_memory_hand_count);
    CU_add_test(su, "the runtime's count of device memory", test_runtime_memory);
}

int main(void) {
    return lp_test_main("test_bench", register_suites);
}
