/* Runtime helpers every kernel wrapper relies on: checked kernel arguments name the kernel
 * and the argument, the launch helpers cover exactly the work asked for, and LP_ASSERT
 * turns a broken invariant into LP_ERR_INTERNAL naming the place. */
#include <string.h>

#include "laperm/launch.h"
#include "lp_test.h"

/* lp_add_accumulate (cl/add.cl): dst[i] += src[i] for i < total. */
static cl_kernel accumulate_(void) {
    cl_kernel k = NULL;
    LP_TEST_OK(lp_runtime_kernel(lp_test_rt, "add", "lp_add_accumulate", NULL, &k));
    return k;
}

static lp_status set_wrong_index_(cl_kernel k) {
    int total = 1;
    LP_ARG(k, 99, total); /* the kernel has three arguments */
    return LP_OK;
}

static lp_status set_wrong_size_(cl_kernel k) {
    double total = 1.0; /* argument 2 is an int */
    LP_ARG(k, 2, total);
    return LP_OK;
}

static void test_kernel_arguments(void) {
    /* Oclgrind's API checker reports these deliberate errors, which fails its run. */
    if (lp_test_simulator()) return;
    cl_kernel k = accumulate_();
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    CU_ASSERT_EQUAL(set_wrong_index_(k), LP_ERR_OPENCL);
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "argument 99"));
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "lp_add_accumulate"));
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "CL_INVALID_ARG_INDEX"));
    CU_ASSERT_EQUAL(set_wrong_size_(k), LP_ERR_OPENCL);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(lp_last_error(), "argument 2 (8 bytes) of kernel lp_add_accumulate"));
}

/* n values through lp_launch_1d at a work-group size that does not divide n: every value
 * is touched once and nothing past n (the kernel bounds-checks the rounded-up range). */
static void test_launch_1d(void) {
    cl_kernel k = accumulate_();
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    enum { N = 1000, ROOM = 1100 };
    float dst[ROOM], src[ROOM];
    for (int i = 0; i < ROOM; ++i) {
        dst[i] = (float)i;
        src[i] = 1.0f;
    }
    cl_mem d = lp_test_upload(dst, sizeof dst), s = lp_test_upload(src, sizeof src);
    CU_ASSERT_FATAL(d && s);
    int total = N;
    LP_TEST_OK(lp_kernel_arg(k, 0, sizeof d, &d));
    LP_TEST_OK(lp_kernel_arg(k, 1, sizeof s, &s));
    LP_TEST_OK(lp_kernel_arg(k, 2, sizeof total, &total));
    LP_TEST_OK(lp_launch_1d(lp_test_rt, k, N, 96, "test_launch_1d"));
    LP_TEST_OK(lp_launch_1d(lp_test_rt, k, 0, 96, "test_launch_1d_empty")); /* a no-op */
    CU_ASSERT(lp_test_download(d, sizeof dst, dst));
    int wrong = 0;
    for (int i = 0; i < ROOM; ++i)
        wrong += dst[i] != (float)i + (i < N ? 1.0f : 0.0f);
    CU_ASSERT_EQUAL(wrong, 0);
    lp_test_release_buffer(&d);
    lp_test_release_buffer(&s);
}

static lp_status asserting_(int x) {
    LP_ASSERT(x > 0);
    return LP_OK;
}

static void test_assert(void) {
    CU_ASSERT_EQUAL(asserting_(1), LP_OK);
    CU_ASSERT_EQUAL(asserting_(0), LP_ERR_INTERNAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "cltest_runtime.c"));
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "x > 0 does not hold"));
    CU_ASSERT_STRING_EQUAL(lp_status_name(LP_ERR_INTERNAL), "LP_ERR_INTERNAL");
}

static void register_suites(void) {
    CU_pSuite su = CU_add_suite("runtime", NULL, lp_test_release_kept);
    CU_add_test(su, "kernel arguments are checked and named", test_kernel_arguments);
    CU_add_test(su, "lp_launch_1d covers exactly n items", test_launch_1d);
    CU_add_test(su, "LP_ASSERT names the place", test_assert);
}

int main(void) {
    return lp_cltest_main("cltest_runtime", register_suites);
}
