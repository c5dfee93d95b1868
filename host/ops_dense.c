/* Launch wrappers for cl/dense.cl. */
#include "laperm/launch.h"
#include "laperm/ops.h"

/* A 2-D launch over (cols, rows) with a work-group shaped by the device's limit. */
static lp_status launch_2d_(lp_runtime *rt, cl_kernel k, int cols, int rows, const char *label) {
    if (cols < 0 || rows < 0)
        return lp_fail(LP_ERR_INVALID_ARG, "%s: negative size %d x %d", label, rows, cols);
    size_t wx = lp_runtime_wgs(rt, k, 64);
    size_t global[2] = {(size_t)cols, (size_t)rows}, local[2] = {wx, 1};
    if ((size_t)cols < wx) local[0] = 1; /* narrow rows: avoid mostly idle groups */
    return lp_launch(rt, k, 2, global, local, label);
}

static lp_status launch_1d_(lp_runtime *rt, cl_kernel k, int n, const char *label) {
    if (n < 0) return lp_fail(LP_ERR_INVALID_ARG, "%s: negative size %d", label, n);
    return lp_launch_1d(rt, k, (size_t)n, 256, label);
}

lp_status lp_op_bias_act(lp_runtime *rt, cl_mem y, int rows, int cols, cl_mem params, int bias_off,
                         bool relu) {
    if (bias_off < 0 && !relu) return LP_OK;
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(rt, "dense", "lp_bias_act_forward", NULL, &k));
    int relu_i = relu;
    LP_ARG(k, 0, y);
    LP_ARG(k, 1, rows);
    LP_ARG(k, 2, cols);
    LP_ARG(k, 3, params);
    LP_ARG(k, 4, bias_off);
    LP_ARG(k, 5, relu_i);
    return launch_2d_(rt, k, cols, rows, "bias_act_forward");
}

lp_status lp_op_relu_backward(lp_runtime *rt, cl_mem dy, cl_mem y, int n) {
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(rt, "dense", "lp_relu_backward", NULL, &k));
    LP_ARG(k, 0, dy);
    LP_ARG(k, 1, y);
    LP_ARG(k, 2, n);
    return launch_1d_(rt, k, n, "relu_backward");
}

lp_status lp_op_bias_grad(lp_runtime *rt, cl_mem dy, int rows, int cols, cl_mem grads,
                          int bias_off) {
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(rt, "dense", "lp_bias_grad", NULL, &k));
    LP_ARG(k, 0, dy);
    LP_ARG(k, 1, rows);
    LP_ARG(k, 2, cols);
    LP_ARG(k, 3, grads);
    LP_ARG(k, 4, bias_off);
    return launch_1d_(rt, k, cols, "bias_grad");
}
