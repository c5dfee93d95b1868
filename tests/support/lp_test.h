/* Shared helpers for the CUnit test programs (see tests/CMakeLists.txt for naming). */
#ifndef LP_TEST_H
#define LP_TEST_H

#include <CUnit/CUnit.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "laperm/model.h"
#include "laperm/runtime.h"

/* Host-only program: `register_suites` adds suites with CU_add_suite/CU_add_test.
 * Returns the process exit status (0 when every assertion passed). */
int lp_test_main(const char *program, void (*register_suites)(void));

/* Kernel-test program: runs every registered suite once per OpenCL device the ICD
 * loader lists, with lp_test_rt set to that device's runtime. No device is a failure, and
 * so is, with $LAPERM_TEST_PLATFORM set (e.g. "rusticl"), a device of another platform or
 * none of that one (a part of the platform name, any case). */
int lp_cltest_main(const char *program, void (*register_suites)(void));
extern lp_runtime *lp_test_rt;

/* Asserts that a library call returns LP_OK, printing the call and its message if not. */
#define LP_TEST_OK(expr)                                                                           \
    do {                                                                                           \
        lp_status lp_test_ok_s_ = (expr);                                                          \
        if (lp_test_ok_s_ != LP_OK) printf("\n  %s: %s\n", #expr, lp_last_error());                \
        CU_ASSERT_EQUAL(lp_test_ok_s_, LP_OK);                                                     \
    } while (0)

/* Analytic gradients of the mean softmax cross-entropy of `net` on its current input:
 * forward (training), d loss/d logits = (softmax - onehot) / n, backward, read into
 * grads (all parameters). The device gradient buffer is first filled with NaN, so every
 * entry must be overwritten by backward. labels: n ints; stats: 2 floats of scratch. */
struct lp_network;
void lp_test_network_grads(struct lp_network *net, int n, cl_mem labels, cl_mem stats,
                           float *grads);
/* The same with another backward pass in place of lp_network_backward. */
void lp_test_network_grads_with(struct lp_network *net, int n, cl_mem labels, cl_mem stats,
                                lp_status (*backward)(struct lp_network *, int), float *grads);

/* Device buffers for tests on lp_test_rt; failures print the library's message and
 * return NULL/false (callers assert). */
cl_mem lp_test_buffer(size_t bytes);
cl_mem lp_test_upload(const void *src, size_t bytes);
bool lp_test_download(cl_mem b, size_t bytes, void *dst);
/* malloc'd floats (at least one); a failed allocation ends the test (CU_ASSERT_FATAL). */
float *lp_test_floats(size_t n);
void lp_test_fill_uniform(float *x, size_t n, uint64_t *rng, float lo, float hi);
void lp_test_fill_const(float *x, size_t n, float v);

/* True under Oclgrind (LAPERM_TEST_SIMULATOR=1): tests shrink their largest sizes. */
bool lp_test_simulator(void);
/* True there and on slow devices (LAPERM_TEST_SMALL=1, set for the Rusticl ctests, where
 * llvmpipe emulates every fma): the tests that take minutes there skip their largest
 * shapes, as in the simulator, and keep everything else. */
bool lp_test_small(void);
/* Runs fn once with each kernel form forced ($LAPERM_KERNEL_FORM = pixels, then planes),
 * then restores the device's own choice: the by-value and by-plane kernels are both
 * checked on every device. */
void lp_test_each_kernel_form(void (*fn)(void));

/* Under Oclgrind 21.10, device buffers made where released ones were get stale shadow
 * state and false "uninitialized value" reports (each case is clean on its own). So in
 * the simulator these keep what they are given alive until lp_test_release_kept (call it
 * from the suite's cleanup); elsewhere they release it at once. Both zero what they take. */
void lp_test_release_network(struct lp_network **net, lp_model_spec *spec);
void lp_test_release_buffer(cl_mem *buffer);
/* Any other object: destroy(object) now, or in lp_test_release_kept. */
void lp_test_release_with(void (*destroy)(void *), void *object);
/* Releases everything kept; returns 0 (a CUnit suite cleanup). */
int lp_test_release_kept(void);

/* Deterministic test data (splitmix64). */
uint64_t lp_test_next(uint64_t *state);
float lp_test_uniform(uint64_t *state, float lo, float hi);

/* |got - want| <= atol + rtol * |want| everywhere; prints the first mismatch. */
bool lp_test_close(const float *got, const float *want, size_t n, float atol, float rtol,
                   const char *what);

/* |got - want| <= 1e-6 + 1e-5 * mag everywhere but where skip (may be NULL) is set, mag
 * being each value's sum of |terms|: float rounding of any summation order grows with the
 * terms' magnitudes, not with the (possibly cancelled) result, and an index or tap off by
 * one misses by whole terms. Prints the first mismatch with what and name. */
bool lp_test_close_terms(const float *got, const double *want, const double *mag, const bool *skip,
                         size_t n, const char *what, const char *name);

/* Path helpers: $LAPERM_SOURCE_DIR/<rel>, and the MNIST folder ($LAPERM_DATA_DIR, else
 * <source>/data/mnist). Returned strings are static buffers. */
const char *lp_test_source_path(const char *rel);
const char *lp_test_mnist_dir(void);
/* Whether the MNIST training images (plain or gzipped IDX) are in lp_test_mnist_dir(). */
bool lp_test_have_mnist(void);
/* A fresh, empty temporary directory for this test program. */
const char *lp_test_tmpdir(void);
/* <lp_test_tmpdir()>/<name>, in one of 8 static buffers used in turn. */
const char *lp_test_tmp(const char *name);
/* Writes text to lp_test_tmp(name) (a failure ends the test) and returns that path. */
const char *lp_test_write_tmp(const char *name, const char *text);
/* scripts/compare-results A B (run from the source folder): 0 when every dataset it
 * compares is bit-identical; with `show`, prints the differences it reports. */
int lp_test_compare_results(const char *a, const char *b, bool show);

/* Runs a shell command, captures stdout+stderr into a malloc'd string; returns the exit
 * status (or -1). */
int lp_test_run_command(const char *cmd, char **output);
/* Runs `laperm train ARGS --data <MNIST>` ($LAPERM_BINARY) from the source folder with
 * extra environment `env` ("" for none); returns the exit status, the output in *output
 * (may be NULL). */
int lp_test_train(const char *env, const char *args, char **output);

#endif
