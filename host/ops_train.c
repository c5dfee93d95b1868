/* Launch wrappers for the losses and the target gather (cl/loss.cl), the L2 gradient and
 * the decoupled weight decay (cl/optim.cl); each optimizer's own launch is in its file,
 * host/optimizer_<id>.c, Lookahead's in host/lookahead.c. */
#include <stdio.h>
#include <stdlib.h>

#include "laperm/launch.h"
#include "laperm/ops.h"

/* The per-row terms of the loss kernels (2 floats a row), kept per runtime: made once for
 * at least TERMS_MIN_ROWS_ rows (32 KiB), so that the batches of a run, training and
 * evaluation, never regrow it (under Oclgrind 21.10 a buffer made where a released one
 * was gets false "uninitialized" reports, see lp_test.h); larger batches grow it, and
 * the old buffer lives on until queued commands using it finish. */
#define TERMS_MIN_ROWS_ 4096
#define TERMS_KEY_ "laperm.loss_terms"
typedef struct {
    cl_mem buf;
    size_t rows;
} loss_terms_;

static void terms_release_(void *p) {
    loss_terms_ *t = p;
    if (t->buf) clReleaseMemObject(t->buf);
    free(t);
}

static lp_status terms_buffer_(lp_runtime *rt, int rows, cl_mem *out) {
    loss_terms_ *t = lp_runtime_attached(rt, TERMS_KEY_);
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t) return lp_fail(LP_ERR_NO_MEMORY, "loss terms: out of host memory");
        lp_status st = lp_runtime_attach(rt, TERMS_KEY_, t, terms_release_);
        if (st != LP_OK) {
            free(t);
            return st;
        }
    }
    size_t want = rows > TERMS_MIN_ROWS_ ? (size_t)rows : TERMS_MIN_ROWS_;
    if (!t->buf || t->rows < want) {
        cl_mem grown;
        LP_TRY(lp_buffer_create(rt, want * 2 * sizeof(float), "loss row terms", &grown));
        if (t->buf) clReleaseMemObject(t->buf);
        t->buf = grown;
        t->rows = want;
    }
    *out = t->buf;
    return LP_OK;
}

/* A loss of cl/loss.cl over (rows, width) values: its per-row kernel, one work-item a
 * row, then lp_loss_sum in one work-group, whose size is fixed at build time (reqd
 * size), so start from the device's limit and shrink until the compiled kernel accepts
 * it. mean_of: lp_loss_sum's (0 for softmax, width for MSE). */
static lp_status loss_launch_(lp_runtime *rt, const char *kernel, const char *label, cl_mem x,
                              cl_mem y, int rows, int width, float grad_scale, cl_mem dx,
                              cl_mem stats, int stats_off, int mean_of) {
    cl_mem terms;
    LP_TRY(terms_buffer_(rt, rows, &terms));
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(rt, "loss", kernel, NULL, &k));
    int write_grad = dx != NULL;
    LP_ARG(k, 0, x);
    LP_ARG(k, 1, y);
    LP_ARG(k, 2, rows);
    LP_ARG(k, 3, width);
    LP_ARG(k, 4, grad_scale);
    LP_ARG(k, 5, write_grad);
    cl_mem d = dx ? dx : x; /* unused when write_grad == 0 */
    LP_ARG(k, 6, d);
    LP_ARG(k, 7, terms);
    if (rows > 0) LP_TRY(lp_launch_1d(rt, k, (size_t)rows, 64, label));
    const lp_device_info *dev = lp_runtime_device(rt);
    size_t wgs = 1;
    while (wgs * 2 <= 256 && wgs * 2 <= dev->max_work_group_size)
        wgs *= 2;
    for (;;) {
        char opts[32];
        snprintf(opts, sizeof opts, "-DLOSS_WGS=%zu", wgs);
        LP_TRY(lp_runtime_kernel(rt, "loss", "lp_loss_sum", opts, &k));
        size_t fits = lp_runtime_wgs(rt, k, wgs);
        if (fits >= wgs || wgs == 1) break;
        wgs = fits;
    }
    LP_ARG(k, 0, terms);
    LP_ARG(k, 1, rows);
    LP_ARG(k, 2, mean_of);
    LP_ARG(k, 3, stats);
    LP_ARG(k, 4, stats_off);
    return lp_launch(rt, k, 1, &wgs, &wgs, label);
}

lp_status lp_op_softmax_xent(lp_runtime *rt, cl_mem logits, cl_mem labels, int rows, int classes,
                             float grad_scale, cl_mem dlogits, cl_mem stats, int stats_off) {
    if (rows < 0 || classes <= 0 || stats_off < 0)
        return lp_fail(LP_ERR_INVALID_ARG, "softmax_xent: %d rows of %d classes at stats offset %d",
                       rows, classes, stats_off);
    return loss_launch_(rt, "lp_softmax_xent_rows", "softmax_xent", logits, labels, rows, classes,
                        grad_scale, dlogits, stats, stats_off, 0);
}

lp_status lp_op_mse(lp_runtime *rt, cl_mem pred, cl_mem targets, int rows, int outputs,
                    float grad_scale, cl_mem dpred, cl_mem stats, int stats_off) {
    if (rows < 0 || outputs <= 0 || stats_off < 0)
        return lp_fail(LP_ERR_INVALID_ARG, "mse: %d rows of %d outputs at stats offset %d", rows,
                       outputs, stats_off);
    return loss_launch_(rt, "lp_mse_rows", "mse", pred, targets, rows, outputs, grad_scale, dpred,
                        stats, stats_off, outputs);
}

lp_status lp_op_gather_rows(lp_runtime *rt, cl_mem src, cl_mem idx, int first, int rows, int width,
                            cl_mem dst) {
    if (first < 0 || rows < 0 || width <= 0 || (long long)rows * width > 0x7FFFFFFF)
        return lp_fail(LP_ERR_INVALID_ARG, "gather_rows: %d rows of %d from %d", rows, width,
                       first);
    if (rows == 0) return LP_OK;
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(rt, "loss", "lp_gather_rows", NULL, &k));
    LP_ARG(k, 0, src);
    LP_ARG(k, 1, idx);
    LP_ARG(k, 2, first);
    LP_ARG(k, 3, rows);
    LP_ARG(k, 4, width);
    LP_ARG(k, 5, dst);
    return lp_launch_1d(rt, k, (size_t)rows * width, 64, "gather_rows");
}

static lp_status launch_flat_(lp_runtime *rt, cl_kernel k, int n, const char *label) {
    return lp_launch_1d(rt, k, (size_t)n, 256, label);
}

lp_status lp_op_l2_grad(lp_runtime *rt, cl_mem w, cl_mem g, int offset, int n, float coef) {
    if (n < 0 || offset < 0)
        return lp_fail(LP_ERR_INVALID_ARG, "l2_grad: size %d at offset %d", n, offset);
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(rt, "optim", "lp_l2_grad", NULL, &k));
    LP_ARG(k, 0, w);
    LP_ARG(k, 1, g);
    LP_ARG(k, 2, offset);
    LP_ARG(k, 3, n);
    LP_ARG(k, 4, coef);
    return launch_flat_(rt, k, n, "l2_grad");
}

lp_status lp_op_weight_decay(lp_runtime *rt, cl_mem w, int offset, int n, float keep) {
    if (n < 0 || offset < 0)
        return lp_fail(LP_ERR_INVALID_ARG, "weight_decay: size %d at offset %d", n, offset);
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(rt, "optim", "lp_weight_decay", NULL, &k));
    LP_ARG(k, 0, w);
    LP_ARG(k, 1, offset);
    LP_ARG(k, 2, n);
    LP_ARG(k, 3, keep);
    return launch_flat_(rt, k, n, "weight_decay");
}

lp_status lp_op_guard_finite(lp_runtime *rt, cl_mem w, cl_mem g, int n, cl_mem stats, int loss_at,
                             int step, cl_mem flag) {
    if (n <= 0 || loss_at < 0 || step <= 0)
        return lp_fail(LP_ERR_INVALID_ARG, "guard_finite: %d values, loss at %d, step %d", n,
                       loss_at, step);
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(rt, "guard", "lp_guard_finite", NULL, &k));
    LP_ARG(k, 0, w);
    LP_ARG(k, 1, g);
    LP_ARG(k, 2, n);
    LP_ARG(k, 3, stats);
    LP_ARG(k, 4, loss_at);
    LP_ARG(k, 5, step);
    LP_ARG(k, 6, flag);
    return lp_launch_1d(rt, k, ((size_t)n + 15) / 16, 64, "guard_finite"); /* 16 values each */
}
