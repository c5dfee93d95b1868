/* The per-layer split of a training step (lp_bench_model): device time and nominal FLOPs
 * of each [conv2d] and [dense] layer's forward pass, input gradient and kernel gradient.
 *
 * How time is attributed: the step runs layer by layer as training runs it (forward from
 * the first layer, backward from the last), and after each layer's pass the profiling
 * events of its launches are collected (a wait for the queue) and summed: that is the
 * pass's device time, the kernels' own execution, whatever their number or labels, so
 * every path counts alike. Backward does the input and the kernel gradient together; to
 * split them, every other step runs with the layers' input gradients switched off
 * (need_dx false: only dW, the bias gradient and the activation's mask), and the input
 * gradient is the whole backward less that. Both kinds of step alternate, and each pass
 * keeps its best time over the steps (a shared machine only ever makes a pass slower). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-impl.h"
#include "laperm/clock.h"
#include "layer.h"

typedef struct {
    double fwd, bwd, bwd_kernel; /* best device seconds of each */
    double step_bwd;             /* this step's backward so far (split_step_) */
} slot_;

static bool counted_(const lp_layer *l) {
    return l->spec->kind == LP_LAYER_DENSE || l->spec->kind == LP_LAYER_CONV2D;
}

/* Nominal multiply-adds of one sample's forward pass: the direct convolution's (every
 * output value a dot product of cin*kh*kw), or the dense product's. */
static double macs_(const lp_layer_spec *s) {
    if (s->kind == LP_LAYER_DENSE) return (double)lp_shape_size(s->in) * s->u.dense.units;
    const lp_window *w = &s->window;
    return (double)s->u.conv.filters * w->oh * w->ow * s->in.c * w->kh * w->kw;
}

static void shape_(const lp_layer_spec *s, char *buf, size_t cap) {
    char a[40], b[40];
    lp_shape_str(s->in, a, sizeof a);
    lp_shape_str(s->out, b, sizeof b);
    const lp_window *w = &s->window;
    if (s->kind == LP_LAYER_DENSE)
        snprintf(buf, cap, "%.20s > %.20s", a, b);
    else if (w->stride_h == w->stride_w)
        snprintf(buf, cap, "%.20s > %.20s, %dx%d/%d", a, b, w->kh, w->kw, w->stride_h);
    else
        snprintf(buf, cap, "%.20s > %.20s, %dx%d/%dx%d", a, b, w->kh, w->kw, w->stride_h,
                 w->stride_w);
}

/* Device seconds of the launches profiled since the last call (*total_ms: the running sum). */
static lp_status device_seconds_(lp_runtime *rt, double *total_ms, double *out) {
    double total;
    LP_TRY(lp_bench_profile_ms_(rt, &total));
    *out = (total - *total_ms) * 1e-3;
    *total_ms = total;
    return LP_OK;
}

static void keep_best_(double *best, double s) {
    if (s < *best) *best = s;
}

/* One step, each pass timed alone; kernel_only: the counted layers without their input
 * gradients (their backward time goes to bwd_kernel). */
static lp_status split_step_(lp_runtime *rt, lp_network *net, int batch, bool kernel_only,
                             bool *saved_dx, slot_ *sl, double *total_ms) {
    double s;
    lp_status st = LP_OK;
    for (int i = 1; i < net->n_layers; ++i) {
        saved_dx[i] = net->layers[i].need_dx;
        if (kernel_only && counted_(&net->layers[i])) net->layers[i].need_dx = false;
    }
    for (int i = 1; i < net->n_layers && st == LP_OK; ++i) {
        st = lp_network_forward_layer(net, i, batch, true);
        if (st == LP_OK) st = device_seconds_(rt, total_ms, &s);
        if (st == LP_OK) keep_best_(&sl[i].fwd, s);
    }
    /* Each layer's own backward, then the second-input halves it completes (a residual's
     * shortcut, with its projection convolution), each counted to the layer it belongs to
     * (the [add]), not to layer i, which only happens to run before them. */
    for (int i = 1; i < net->n_layers; ++i)
        sl[i].step_bwd = 0;
    for (int i = net->n_layers - 1; i >= 1 && st == LP_OK; --i) {
        st = lp_network_backward_own(net, i, batch);
        if (st == LP_OK) st = device_seconds_(rt, total_ms, &s);
        if (st == LP_OK) sl[i].step_bwd += s;
        for (int j = i + 1; j < net->n_layers && st == LP_OK; ++j) {
            if (net->layers[j].second_input != i - 1) continue;
            st = lp_network_backward_second(net, j, batch);
            if (st == LP_OK) st = device_seconds_(rt, total_ms, &s);
            if (st == LP_OK) sl[j].step_bwd += s;
        }
    }
    for (int i = 1; i < net->n_layers && st == LP_OK; ++i)
        keep_best_(kernel_only ? &sl[i].bwd_kernel : &sl[i].bwd, sl[i].step_bwd);
    for (int i = 1; i < net->n_layers; ++i)
        net->layers[i].need_dx = saved_dx[i];
    return st;
}

static lp_status measure_(lp_runtime *rt, lp_network *net, int batch, const lp_bench_table *t,
                          slot_ *sl, bool *saved_dx) {
    for (int i = 0; i < net->n_layers; ++i)
        sl[i] = (slot_){INFINITY, INFINITY, INFINITY, 0};
    lp_runtime_profile_reset(rt);
    double total_ms = 0;
    /* Warm-up of both kinds (kernel builds), then alternate until the time is up. */
    slot_ *scratch = calloc((size_t)net->n_layers, sizeof *scratch);
    if (!scratch) return lp_fail(LP_ERR_NO_MEMORY, "benchmark: out of host memory");
    lp_status st = split_step_(rt, net, batch, false, saved_dx, scratch, &total_ms);
    if (st == LP_OK) st = split_step_(rt, net, batch, true, saved_dx, scratch, &total_ms);
    free(scratch);
    int reps = 0;
    double t0 = lp_seconds();
    while (st == LP_OK && (reps < 3 || lp_seconds() - t0 < lp_bench_min_seconds_(t))) {
        st = split_step_(rt, net, batch, false, saved_dx, sl, &total_ms);
        if (st == LP_OK) st = split_step_(rt, net, batch, true, saved_dx, sl, &total_ms);
        ++reps;
    }
    return st;
}

lp_status lp_bench_layers_(lp_runtime *rt, lp_network *net, const char *model, int batch,
                           double step_seconds, lp_bench_table *t) {
    slot_ *sl = calloc((size_t)net->n_layers, sizeof *sl);
    bool *saved_dx = calloc((size_t)net->n_layers, sizeof *saved_dx);
    lp_status st = sl && saved_dx ? measure_(rt, net, batch, t, sl, saved_dx)
                                  : lp_fail(LP_ERR_NO_MEMORY, "benchmark: out of host memory");
    double flops = 0, counted_s = 0, other_s = 0;
    for (int i = 1; i < net->n_layers && st == LP_OK; ++i) {
        const lp_layer *l = &net->layers[i];
        if (!counted_(l)) {
            other_s += sl[i].fwd + sl[i].bwd;
            continue;
        }
        lp_bench_layer row = {.batch = batch};
        snprintf(row.model, sizeof row.model, "%s", model);
        snprintf(row.layer, sizeof row.layer, "%s", l->spec->name);
        snprintf(row.path, sizeof row.path, "%s",
                 l->spec->kind == LP_LAYER_DENSE ? "gemm" : lp_conv_algo_name(l->conv_path));
        shape_(l->spec, row.shape, sizeof row.shape);
        double f = 2.0 * macs_(l->spec) * batch;
        row.flops[LP_BENCH_FORWARD] = f;
        row.flops[LP_BENCH_KERNEL_GRAD] = f;
        row.flops[LP_BENCH_INPUT_GRAD] = l->need_dx ? f : 0;
        double kernel = l->need_dx ? sl[i].bwd_kernel : fmin(sl[i].bwd, sl[i].bwd_kernel);
        row.seconds[LP_BENCH_FORWARD] = sl[i].fwd;
        row.seconds[LP_BENCH_KERNEL_GRAD] = kernel;
        row.seconds[LP_BENCH_INPUT_GRAD] = l->need_dx ? fmax(sl[i].bwd - kernel, 0.0) : 0;
        for (int p = 0; p < LP_BENCH_PASSES; ++p)
            flops += row.flops[p];
        counted_s += sl[i].fwd + (l->need_dx ? sl[i].bwd : kernel);
        st = lp_bench_room_((void **)&t->layers, t->n_layers, &t->cap_layers, sizeof row);
        if (st == LP_OK) t->layers[t->n_layers++] = row;
    }
    free(sl);
    free(saved_dx);
    LP_TRY(st);
    char name[128], detail[64];
    snprintf(name, sizeof name, "%s step, share of peak", model);
    snprintf(detail, sizeof detail, "%.2f MFLOP/image nominal, forward+backward",
             flops / batch * 1e-6);
    LP_TRY(lp_bench_add_(t, "layers", name, detail, step_seconds, flops / step_seconds * 1e-9,
                         "GFLOP/s", t->peak_gflops));
    snprintf(name, sizeof name, "%s device time by layer", model);
    snprintf(detail, sizeof detail, "conv/dense %.2f, other layers %.2f, step %.2f ms",
             counted_s * 1e3, other_s * 1e3, step_seconds * 1e3);
    return lp_bench_add_(t, "layers", name, detail, counted_s + other_s,
                         (counted_s + other_s) * 1e3, "ms", 0);
}
