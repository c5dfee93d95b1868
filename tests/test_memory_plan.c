/* The up-front memory check (memory_plan.h) on LeNet-300-100 with made-up devices: every
 * part of the estimate against the buffers counted by hand, and each refusal (total,
 * largest allocation, host memory of a CPU device) with its figures and advice. */
#include <stdlib.h>
#include <string.h>

#include "gradient_plan.h"
#include "lp_test.h"
#include "memory_plan.h"

static const char lenet_[] = "[input]\nchannels = 1\nheight = 28\nwidth = 28\n"
                             "[flatten]\n"
                             "[dense]\nunits = 300\nactivation = relu\n"
                             "[dense]\nunits = 100\nactivation = relu\n"
                             "[dense]\nunits = 10\n";
enum { PARAMS_ = 784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10 }; /* 266610 */
#define MIB_ (1024ull * 1024ull)

static lp_model_spec model_;

static int setup_(void) {
    return lp_model_parse_text(lenet_, "lenet.ini", &model_) == LP_OK ? 0 : -1;
}

static int teardown_(void) {
    lp_model_free(&model_);
    return 0;
}

static lp_device_info device_(cl_device_type type, uint64_t global, uint64_t max_alloc) {
    lp_device_info d;
    memset(&d, 0, sizeof d);
    d.type = type;
    d.global_mem = global;
    d.max_alloc = max_alloc;
    snprintf(d.device_name, sizeof d.device_name, "%s", "Test Device");
    return d;
}

/* LaPerm over Adam on MNIST: batch 128, evaluation batch 1000. */
static lp_memory_plan_input mnist_(void) {
    return (lp_memory_plan_input){.batch = 128,
                                  .eval_batch = 1000,
                                  .optimizer_states = 2,
                                  .laperm = true,
                                  .train_n = 60000,
                                  .test_n = 10000};
}

static void test_estimate(void) {
    lp_memory_plan_input in = mnist_();
    lp_device_info dev = device_(CL_DEVICE_TYPE_GPU, 4096 * MIB_, 1024 * MIB_);
    lp_memory_plan p;
    LP_TEST_OK(lp_memory_plan_check(&model_, &in, &dev, &p));
    uint64_t w = PARAMS_ * 4ull;
    CU_ASSERT_EQUAL(p.parameters, w);
    CU_ASSERT_EQUAL(p.gradients, w);
    CU_ASSERT_EQUAL(p.optimizer, 2 * w);
    /* Sort workspace: 300 groups of 784 padded to 1024, 8 bytes each; order: 300 x 784. */
    CU_ASSERT_EQUAL(p.laperm, 3 * w + 300ull * 1024 * 8 + 300ull * 784 * 4);
    CU_ASSERT_EQUAL(p.batch, 1000);
    /* Every layer's output; gradients in three buffers: the last layer's (10) is never
     * shared, and dense_2's (100) is live beside dense_1's (300) at dense_2's step. */
    CU_ASSERT_EQUAL(p.per_sample, (784 + 784 + 300 + 100 + 10) * 4ull + (10 + 100 + 300) * 4ull);
    CU_ASSERT_EQUAL(p.activations, p.per_sample * 1000);
    CU_ASSERT_EQUAL(p.data, 70000ull * (784 + 4 + 4));
    /* Batch labels at 1000, normalisation, (469 steps + 1) x (loss, correct). */
    CU_ASSERT_EQUAL(p.other, 1000 * 4ull + 2 * 784 * 4ull + 470 * 8ull);
    CU_ASSERT_EQUAL(p.total, p.parameters + p.gradients + p.optimizer + p.laperm + p.activations +
                                 p.data + p.other);
    CU_ASSERT_EQUAL(p.largest, 60000ull * 784);
    CU_ASSERT_STRING_EQUAL(p.largest_what, "training images");
    CU_ASSERT_EQUAL(p.limit, 4096 * MIB_);
    CU_ASSERT(!p.host_limited);

    /* A training batch above the evaluation batch sizes the network. */
    in.batch = 2000;
    LP_TEST_OK(lp_memory_plan_check(&model_, &in, &dev, &p));
    CU_ASSERT_EQUAL(p.batch, 2000);
    CU_ASSERT_EQUAL(p.activations, p.per_sample * 2000);
}

static void test_laperm_options(void) {
    lp_memory_plan_input in = mnist_();
    lp_device_info dev = device_(CL_DEVICE_TYPE_GPU, 4096 * MIB_, 1024 * MIB_);
    lp_memory_plan p;
    uint64_t w = PARAMS_ * 4ull;
    in.laperm = false; /* Adam alone */
    LP_TEST_OK(lp_memory_plan_check(&model_, &in, &dev, &p));
    CU_ASSERT_EQUAL(p.laperm, 0);
    in.laperm = true; /* one group per tensor: 235200 padded to 2^18 */
    in.per_tensor_scope = true;
    LP_TEST_OK(lp_memory_plan_check(&model_, &in, &dev, &p));
    CU_ASSERT_EQUAL(p.laperm, 3 * w + 262144ull * 8 + 235200ull * 4);
    in.per_tensor_scope = false; /* biases too: 300 of them, one group, adds nothing larger */
    in.perm_bias = true;
    LP_TEST_OK(lp_memory_plan_check(&model_, &in, &dev, &p));
    CU_ASSERT_EQUAL(p.laperm, 3 * w + 300ull * 1024 * 8 + 300ull * 784 * 4);
    in.optimizer_states = 1; /* SGD with momentum */
    LP_TEST_OK(lp_memory_plan_check(&model_, &in, &dev, &p));
    CU_ASSERT_EQUAL(p.optimizer, w);
}

/* A stand-in for lp_network_plan_held_at: 3 MiB fixed and 20 KiB a network sample, plus
 * 10 KiB a training sample; records the batches it was asked about. */
typedef struct {
    int calls, last_max, last_train;
} layer_bytes_log_;

static lp_status layer_bytes_(void *ctx, int max_batch, int train_batch, uint64_t *bytes) {
    layer_bytes_log_ *log = ctx;
    log->calls++;
    log->last_max = max_batch;
    log->last_train = train_batch;
    *bytes = 3 * MIB_ + (uint64_t)max_batch * 20480 + (uint64_t)train_batch * 10240;
    return LP_OK;
}

static lp_status layer_bytes_fail_(void *ctx, int max_batch, int train_batch, uint64_t *bytes) {
    (void)ctx, (void)max_batch, (void)train_batch, (void)bytes;
    return lp_fail(LP_ERR_UNSUPPORTED, "layer bytes: made to fail");
}

/* The layers' own bytes (layer state, convolution buffers): asked for the network's and
 * the training batch, counted in the total and the message, and in the batch advised. */
static void test_layer_bytes(void) {
    lp_memory_plan_input in = mnist_();
    layer_bytes_log_ log = {0};
    in.layer_bytes = layer_bytes_;
    in.layer_bytes_ctx = &log;
    lp_device_info dev = device_(CL_DEVICE_TYPE_GPU, 4096 * MIB_, 1024 * MIB_);
    lp_memory_plan p;
    LP_TEST_OK(lp_memory_plan_check(&model_, &in, &dev, &p));
    CU_ASSERT_EQUAL(log.last_max, 1000);
    CU_ASSERT_EQUAL(log.last_train, 128);
    CU_ASSERT_EQUAL(p.layers, 3 * MIB_ + 1000 * 20480ull + 128 * 10240ull);
    CU_ASSERT_EQUAL(p.total, p.parameters + p.gradients + p.optimizer + p.laperm + p.activations +
                                 p.layers + p.data + p.other);
    lp_memory_plan without;
    in.layer_bytes = NULL;
    LP_TEST_OK(lp_memory_plan_check(&model_, &in, &dev, &without));
    CU_ASSERT_EQUAL(without.layers, 0);
    CU_ASSERT_EQUAL(p.total, without.total + p.layers);

    /* Too small a device: the figure in the message, the advised batch fits with it and
     * one more does not. */
    in.layer_bytes = layer_bytes_;
    dev = device_(CL_DEVICE_TYPE_GPU, 80 * MIB_, 64 * MIB_);
    CU_ASSERT_EQUAL(lp_memory_plan_check(&model_, &in, &dev, &p), LP_ERR_NO_MEMORY);
    char want[120];
    snprintf(want, sizeof want, "layer state and convolution buffers %.1f MiB",
             (double)p.layers / MIB_);
    if (!strstr(lp_last_error(), want)) printf("\n  message: %s\n", lp_last_error());
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), want));
    const char *at = strstr(lp_last_error(), "to at most ");
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    int fit = atoi(at + strlen("to at most "));
    CU_ASSERT(fit >= 1 && fit < 1000);
    in.batch = in.eval_batch = fit;
    LP_TEST_OK(lp_memory_plan_check(&model_, &in, &dev, &p));
    in.batch = in.eval_batch = fit + 1;
    CU_ASSERT_EQUAL(lp_memory_plan_check(&model_, &in, &dev, &p), LP_ERR_NO_MEMORY);

    /* Its error is the check's. */
    in.layer_bytes = layer_bytes_fail_;
    CU_ASSERT_EQUAL(lp_memory_plan_check(&model_, &in, &dev, &p), LP_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "made to fail"));
}

static void test_device_too_small(void) {
    lp_memory_plan_input in = mnist_();
    lp_device_info dev = device_(CL_DEVICE_TYPE_GPU, 64 * MIB_, 64 * MIB_);
    lp_memory_plan p;
    CU_ASSERT_EQUAL(lp_memory_plan_check(&model_, &in, &dev, &p), LP_ERR_NO_MEMORY);
    const char *msg = lp_last_error();
    CU_ASSERT(p.total > 64 * MIB_); /* filled on failure too */
    /* The advice: the largest batch for both that fits, checked from both sides. */
    uint64_t fit = 0;
    const char *at = strstr(msg, "lower --eval-batch and --batch to at most ");
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    fit = strtoull(at + strlen("lower --eval-batch and --batch to at most "), NULL, 10);
    char want[200];
    snprintf(want, sizeof want, "lower --eval-batch and --batch to at most %llu",
             (unsigned long long)fit);
    if (!strstr(msg, want)) printf("\n  message: %s\n", msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, want));
    snprintf(want, sizeof want,
             "training needs %.1f MiB of device memory, Test Device has 64.0 MiB",
             (double)p.total / MIB_);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "activations at batch 1000"));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "LaPerm"));
    CU_ASSERT(fit >= 1 && fit < 1000);
    in.batch = in.eval_batch = (int)fit;
    LP_TEST_OK(lp_memory_plan_check(&model_, &in, &dev, &p));
    in.batch = in.eval_batch = (int)fit + 1;
    CU_ASSERT_EQUAL(lp_memory_plan_check(&model_, &in, &dev, &p), LP_ERR_NO_MEMORY);

    /* Where the data alone do not fit, no batch helps. */
    in = mnist_();
    dev.global_mem = 32 * MIB_;
    CU_ASSERT_EQUAL(lp_memory_plan_check(&model_, &in, &dev, &p), LP_ERR_NO_MEMORY);
    if (!strstr(lp_last_error(), "--train-subset")) printf("\n  message: %s\n", lp_last_error());
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "not even one sample fits"));
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "--train-subset"));
}

static void test_largest_allocation(void) {
    lp_memory_plan_input in = mnist_();
    lp_device_info dev = device_(CL_DEVICE_TYPE_GPU, 4096 * MIB_, 16 * MIB_);
    lp_memory_plan p;
    /* 60000 images of 784 bytes are 44.9 MiB in one buffer. */
    CU_ASSERT_EQUAL(lp_memory_plan_check(&model_, &in, &dev, &p), LP_ERR_NO_MEMORY);
    if (!strstr(lp_last_error(), "(training images)")) printf("\n  message: %s\n", lp_last_error());
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "one buffer of 44.9 MiB (training images)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "16.0 MiB"));
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "--train-subset"));
    /* Few images, a huge evaluation batch: the input's activations at 10000 samples. */
    in.train_n = in.test_n = 1000;
    in.eval_batch = 10000;
    CU_ASSERT_EQUAL(lp_memory_plan_check(&model_, &in, &dev, &p), LP_ERR_NO_MEMORY);
    CU_ASSERT_EQUAL(strncmp(p.largest_what, "activations of ", 15), 0);
    char want[100];
    snprintf(want, sizeof want, "at most %llu", (unsigned long long)(16 * MIB_ / (784 * 4)));
    if (!strstr(lp_last_error(), want)) printf("\n  message: %s\n", lp_last_error());
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), want));
}

static void test_cpu_host_memory(void) {
    lp_memory_plan_input in = mnist_();
    lp_device_info cpu = device_(CL_DEVICE_TYPE_CPU, 4096 * MIB_, 1024 * MIB_);
    lp_memory_plan p;
    in.host_available = 0; /* unknown: not checked */
    LP_TEST_OK(lp_memory_plan_check(&model_, &in, &cpu, &p));
    in.host_available = 64 * MIB_;
    CU_ASSERT_EQUAL(lp_memory_plan_check(&model_, &in, &cpu, &p), LP_ERR_NO_MEMORY);
    CU_ASSERT(p.host_limited);
    CU_ASSERT_EQUAL(p.limit, 64 * MIB_);
    if (!strstr(lp_last_error(), "the host has 64.0 MiB available"))
        printf("\n  message: %s\n", lp_last_error());
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "the host has 64.0 MiB available"));
    /* A GPU's buffers are its own: the host's memory is not its limit. */
    lp_device_info gpu = device_(CL_DEVICE_TYPE_GPU, 4096 * MIB_, 1024 * MIB_);
    LP_TEST_OK(lp_memory_plan_check(&model_, &in, &gpu, &p));
    CU_ASSERT(!p.host_limited);
    /* This machine's figure, for the caller to pass. */
    CU_ASSERT(lp_memory_host_available() > 0);
}

/* A residual block, its steps of lp_network_backward counted by hand: layer i's own
 * backward is step 2 * (7 - i), the [add]'s shortcut half (from = b) step 2 * (7 - 3) + 1.
 *   dense (7): loss .. 0, the last layer          -> buffer 0, shared with none
 *   add (5) and its flatten view (6): 0 .. 9      -> 1
 *   bn d (4): 4 .. 6                              -> 2 (1 is busy to 9)
 *   conv c (3): 6 .. 8                            -> 3 (2 busy to 6)
 *   bn b (2): 8 .. 10 (the shortcut adds at 9)    -> 2
 *   conv a (1): 10 .. 12                          -> 1 (free since 9; fits as well as 3) */
static void test_gradient_plan(void) {
    static const char text[] = "[input]\nchannels = 2\nheight = 4\nwidth = 4\n"
                               "[conv2d]\nname = a\nfilters = 2\nkernel = 3\npadding = same\n"
                               "[batchnorm]\nname = b\nactivation = relu\n"
                               "[conv2d]\nname = c\nfilters = 2\nkernel = 3\npadding = same\n"
                               "[batchnorm]\nname = d\n"
                               "[add]\nfrom = b\nactivation = relu\n"
                               "[flatten]\n[dense]\nunits = 3\n";
    lp_model_spec m;
    LP_TEST_OK(lp_model_parse_text(text, "block.ini", &m));
    lp_gradient_plan p;
    LP_TEST_OK(lp_gradient_plan_make(&m, &p));
    const int want[8] = {-1, 1, 2, 3, 2, 1, 1, 0};
    CU_ASSERT_EQUAL_FATAL(m.n_layers, 8);
    for (int i = 0; i < 8; ++i)
        CU_ASSERT_EQUAL(p.slot[i], want[i]);
    CU_ASSERT_EQUAL_FATAL(p.n_slots, 4);
    CU_ASSERT_EQUAL(p.slot_floats[0], 3);
    for (int k = 1; k < 4; ++k)
        CU_ASSERT_EQUAL(p.slot_floats[k], 32);
    CU_ASSERT_EQUAL(lp_gradient_plan_floats(&p), 99);
    lp_gradient_plan_free(&p);
    lp_model_free(&m);
}

static void test_bad_arguments(void) {
    lp_memory_plan_input in = mnist_();
    lp_device_info dev = device_(CL_DEVICE_TYPE_GPU, 4096 * MIB_, 1024 * MIB_);
    lp_memory_plan p;
    CU_ASSERT_EQUAL(lp_memory_plan_check(NULL, &in, &dev, &p), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_memory_plan_check(&model_, NULL, &dev, &p), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_memory_plan_check(&model_, &in, NULL, &p), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_memory_plan_check(&model_, &in, &dev, NULL), LP_ERR_INVALID_ARG);
    in.eval_batch = 0; /* "auto" must be resolved first */
    CU_ASSERT_EQUAL(lp_memory_plan_check(&model_, &in, &dev, &p), LP_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "not auto"));
    in = mnist_();
    in.batch = -1;
    CU_ASSERT_EQUAL(lp_memory_plan_check(&model_, &in, &dev, &p), LP_ERR_INVALID_ARG);
    in = mnist_();
    in.train_n = -5;
    CU_ASSERT_EQUAL(lp_memory_plan_check(&model_, &in, &dev, &p), LP_ERR_INVALID_ARG);
}

static void register_suites(void) {
    CU_pSuite su = CU_add_suite("memory plan", setup_, teardown_);
    CU_add_test(su, "the estimate, part by part", test_estimate);
    CU_add_test(su, "LaPerm, its scope and the optimizer state", test_laperm_options);
    CU_add_test(su, "the layers' own bytes, counted and advised on", test_layer_bytes);
    CU_add_test(su, "a device too small: figures and the batch that fits", test_device_too_small);
    CU_add_test(su, "one buffer over the largest allocation", test_largest_allocation);
    CU_add_test(su, "a CPU device is held to the host's memory", test_cpu_host_memory);
    CU_add_test(su, "gradient buffers of a residual block, by hand", test_gradient_plan);
    CU_add_test(su, "bad arguments", test_bad_arguments);
}

int main(void) {
    return lp_test_main("test_memory_plan", register_suites);
}
