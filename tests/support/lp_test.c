/* CUnit drivers for host and kernel tests, deterministic data and comparisons. */
#include "lp_test.h"

#include "check-impl.h"

#include "laperm/network.h"
#include "laperm/ops.h"
#include "layer.h"

#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

lp_runtime *lp_test_rt = NULL;

static int run_registry_(void (*register_suites)(void)) {
    if (CU_initialize_registry() != CUE_SUCCESS) return -1;
    register_suites();
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    int failed = (int)CU_get_number_of_failures() + (int)CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed;
}

int lp_test_main(const char *program, void (*register_suites)(void)) {
    int failed = run_registry_(register_suites);
    printf("%s: %s\n", program, failed == 0 ? "all passed" : "FAILURES");
    return failed == 0 ? 0 : 1;
}

/* Whether a platform name contains `want`, ignoring case. */
static bool platform_is_(const char *name, const char *want) {
    size_t n = strlen(want);
    for (; *name; ++name)
        if (strncasecmp(name, want, n) == 0) return true;
    return false;
}

int lp_cltest_main(const char *program, void (*register_suites)(void)) {
    lp_device_info *devs = NULL;
    int n = 0;
    if (lp_devices_list(&devs, &n) != LP_OK || n == 0) {
        fprintf(stderr, "%s: no OpenCL device found: %s\n", program, lp_last_error());
        free(devs);
        return 1;
    }
    /* A ctest made for one platform: every device must be that platform's, and there
     * must be one (platforms without devices, such as Mesa's Clover, are not listed). */
    const char *want = getenv("LAPERM_TEST_PLATFORM");
    if (want && *want) {
        int found = 0;
        for (int i = 0; i < n; ++i) {
            bool is = platform_is_(devs[i].platform_name, want);
            found += is;
            if (!is)
                fprintf(stderr, "%s: LAPERM_TEST_PLATFORM=%s, but the loader also lists %s (%s)\n",
                        program, want, devs[i].device_name, devs[i].platform_name);
        }
        if (found != n || found == 0) {
            if (!found)
                fprintf(stderr, "%s: LAPERM_TEST_PLATFORM=%s: no device of that platform listed\n",
                        program, want);
            free(devs);
            return 1;
        }
    }
    int total_failed = 0;
    for (int i = 0; i < n; ++i) {
        char sel[32];
        snprintf(sel, sizeof sel, "%d:%d", devs[i].platform_index, devs[i].device_index);
        printf("\n=== %s on %s [%s] (%s)\n", program, devs[i].device_name, sel,
               devs[i].platform_name);
        lp_runtime_options opt = {.device = sel, .profiling = false};
        if (lp_runtime_create(&opt, &lp_test_rt) != LP_OK) {
            fprintf(stderr, "%s: cannot open %s: %s\n", program, sel, lp_last_error());
            total_failed++;
            continue;
        }
        int failed = run_registry_(register_suites);
        lp_runtime_destroy(lp_test_rt);
        lp_test_rt = NULL;
        if (failed != 0) total_failed += failed;
    }
    free(devs);
    printf("%s: %s\n", program, total_failed == 0 ? "all passed" : "FAILURES");
    return total_failed == 0 ? 0 : 1;
}

bool lp_test_simulator(void) {
    const char *s = getenv("LAPERM_TEST_SIMULATOR");
    return s && *s && strcmp(s, "0") != 0;
}

bool lp_test_small(void) {
    const char *s = getenv("LAPERM_TEST_SMALL");
    return lp_test_simulator() || (s && *s && strcmp(s, "0") != 0);
}

uint64_t lp_test_next(uint64_t *state) {
    return lp_check_next(state);
}

float lp_test_uniform(uint64_t *state, float lo, float hi) {
    float u = (float)(lp_test_next(state) >> 40) * (1.0f / 16777216.0f);
    return lo + (hi - lo) * u;
}

bool lp_test_close(const float *got, const float *want, size_t n, float atol, float rtol,
                   const char *what) {
    for (size_t i = 0; i < n; ++i) {
        float tol = atol + rtol * fabsf(want[i]);
        if (!(fabsf(got[i] - want[i]) <= tol)) {
            printf("\n  %s: mismatch at %zu of %zu: got %.9g want %.9g (tol %.3g)\n", what, i, n,
                   got[i], want[i], tol);
            return false;
        }
    }
    return true;
}

const char *lp_test_source_path(const char *rel) {
    static char buf[4096];
    const char *src = getenv("LAPERM_SOURCE_DIR");
    snprintf(buf, sizeof buf, "%s/%s", src ? src : ".", rel);
    return buf;
}

const char *lp_test_mnist_dir(void) {
    static char buf[4096];
    const char *d = getenv("LAPERM_DATA_DIR");
    if (d && *d) {
        snprintf(buf, sizeof buf, "%s", d);
    } else {
        const char *src = getenv("LAPERM_SOURCE_DIR");
        snprintf(buf, sizeof buf, "%s/data/mnist", src ? src : ".");
    }
    return buf;
}

bool lp_test_have_mnist(void) {
    char p[4200];
    struct stat st;
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", lp_test_mnist_dir());
    if (stat(p, &st) == 0) return true;
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", lp_test_mnist_dir());
    return stat(p, &st) == 0;
}

const char *lp_test_tmpdir(void) {
    static char buf[256];
    if (!buf[0]) {
        snprintf(buf, sizeof buf, "/tmp/laperm-test-XXXXXX");
        if (!mkdtemp(buf)) {
            perror("mkdtemp");
            abort();
        }
    }
    return buf;
}

int lp_test_compare_results(const char *a, const char *b, bool show) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd '%s' && scripts/compare-results '%s' '%s'",
             lp_test_source_path(""), a, b);
    char *out = NULL;
    int rc = lp_test_run_command(cmd, &out);
    if (rc && show) printf("\n  compare-results %s %s:\n%s\n", a, b, out ? out : "");
    free(out);
    return rc;
}

int lp_test_run_command(const char *cmd, char **output) {
    char full[8192];
    /* The subshell makes 2>&1 cover every command of a list (a && b), not the last. */
    snprintf(full, sizeof full, "( %s ) 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len < 1024) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) break;
            buf = nb;
        }
    }
    if (buf) buf[len] = '\0';
    int st = pclose(p);
    if (output)
        *output = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

const char *lp_test_tmp(const char *name) {
    static char bufs[8][4200];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", lp_test_tmpdir(), name);
    return b;
}

const char *lp_test_write_tmp(const char *name, const char *text) {
    const char *path = lp_test_tmp(name);
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(text, f);
    CU_ASSERT_FATAL(fclose(f) == 0);
    return path;
}

int lp_test_train(const char *env, const char *args, char **output) {
    char cmd[20000];
    const char *bin = getenv("LAPERM_BINARY");
    snprintf(cmd, sizeof cmd, "cd '%s' && %s '%s' train %s --data '%s' 2>&1",
             lp_test_source_path(""), env, bin ? bin : "laperm", args, lp_test_mnist_dir());
    return lp_test_run_command(cmd, output);
}

void lp_test_network_grads(lp_network *net, int n, cl_mem labels, cl_mem stats, float *grads) {
    lp_test_network_grads_with(net, n, labels, stats, lp_network_backward, grads);
}

void lp_test_network_grads_with(lp_network *net, int n, cl_mem labels, cl_mem stats,
                                lp_status (*backward)(lp_network *, int), float *grads) {
    size_t np = lp_network_param_count(net);
    for (size_t i = 0; i < np; ++i)
        grads[i] = NAN;
    LP_TEST_OK(lp_buffer_write(lp_test_rt, lp_network_grads(net), 0, np * 4, grads));
    /* The layers' output gradients too: layers take turns in their buffers
     * (gradient_plan.h), so no pass may read a value of one that this step has not
     * written, and a NaN left there would reach the parameter gradients. */
    for (int k = 0; k < net->n_grad_bufs; ++k) {
        size_t bytes = 0;
        CU_ASSERT_FATAL(clGetMemObjectInfo(net->grad_bufs[k], CL_MEM_SIZE, sizeof bytes, &bytes,
                                           NULL) == CL_SUCCESS);
        float *nan = malloc(bytes);
        CU_ASSERT_FATAL(nan != NULL);
        for (size_t i = 0; i < bytes / 4; ++i)
            nan[i] = NAN;
        LP_TEST_OK(lp_buffer_write(lp_test_rt, net->grad_bufs[k], 0, bytes, nan));
        free(nan);
    }
    LP_TEST_OK(lp_network_forward(net, n, true));
    LP_TEST_OK(lp_op_softmax_xent(lp_test_rt, lp_network_logits(net), labels, n,
                                  lp_network_classes(net), 1.0f / (float)n, lp_network_dlogits(net),
                                  stats, 0));
    LP_TEST_OK(backward(net, n));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, lp_network_grads(net), 0, np * 4, grads));
}

cl_mem lp_test_buffer(size_t bytes) {
    cl_mem b = NULL;
    lp_status s = lp_buffer_create(lp_test_rt, bytes, "test buffer", &b);
    if (s != LP_OK) printf("\n  lp_buffer_create(%zu): %s\n", bytes, lp_last_error());
    return s == LP_OK ? b : NULL;
}

cl_mem lp_test_upload(const void *src, size_t bytes) {
    cl_mem b = lp_test_buffer(bytes);
    if (b && lp_buffer_write(lp_test_rt, b, 0, bytes, src) != LP_OK) {
        printf("\n  lp_buffer_write(%zu): %s\n", bytes, lp_last_error());
        clReleaseMemObject(b);
        return NULL;
    }
    return b;
}

bool lp_test_download(cl_mem b, size_t bytes, void *dst) {
    lp_status s = lp_buffer_read(lp_test_rt, b, 0, bytes, dst);
    if (s != LP_OK) printf("\n  lp_buffer_read(%zu): %s\n", bytes, lp_last_error());
    return s == LP_OK;
}

float *lp_test_floats(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof *p);
    CU_ASSERT_FATAL(p != NULL);
    return p;
}

void lp_test_fill_uniform(float *x, size_t n, uint64_t *rng, float lo, float hi) {
    for (size_t i = 0; i < n; ++i)
        x[i] = lp_test_uniform(rng, lo, hi);
}

void lp_test_fill_const(float *x, size_t n, float v) {
    for (size_t i = 0; i < n; ++i)
        x[i] = v;
}

void lp_test_each_kernel_form(void (*fn)(void)) {
    static const char *forms[] = {"pixels", "planes"};
    for (int i = 0; i < 2; ++i) {
        setenv("LAPERM_KERNEL_FORM", forms[i], 1);
        fn();
    }
    unsetenv("LAPERM_KERNEL_FORM");
}

bool lp_test_close_terms(const float *got, const double *want, const double *mag, const bool *skip,
                         size_t n, const char *what, const char *name) {
    for (size_t i = 0; i < n; ++i) {
        if (skip && skip[i]) continue;
        double tol = 1e-6 + 1e-5 * mag[i];
        if (!(fabs(got[i] - want[i]) <= tol)) {
            printf("\n  %s, %s[%zu of %zu]: got %.9g want %.9g (tol %.3g)\n", name, what, i, n,
                   got[i], want[i], tol);
            return false;
        }
    }
    return true;
}
