/* Peak device memory of a training step (lp_bench_memory). The runtime counts every
 * buffer laperm makes as it is made and as OpenCL frees it (lp_runtime_memory), so the
 * figure is what was really allocated, not an estimate: parameters, gradients, Adam's
 * moments, every layer's output and gradient, and whatever the layers' paths allocate on
 * the way (im2col columns, GEMM packing, FFT spectra, direct-path packs, masks, BatchNorm
 * statistics). The step runs in a runtime of its own, so buffers kept by earlier
 * measurements (the GEMM workspaces a runtime keeps) neither count nor hide any. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-impl.h"
#include "laperm/ops.h"
#include "laperm/train.h"
#include "layer.h"
#include "memory_plan.h"

static uint64_t size_of_(cl_mem m) {
    size_t bytes = 0;
    if (m && clGetMemObjectInfo(m, CL_MEM_SIZE, sizeof bytes, &bytes, NULL) != CL_SUCCESS)
        bytes = 0;
    return bytes;
}

/* Two training steps (buffers some paths make at their first use, then a steady one). */
static lp_status steps_(lp_runtime *rt, lp_network *net, int batch, cl_mem m, cl_mem v) {
    int n = (int)lp_network_param_count(net);
    for (int step = 0; step < 2; ++step) {
        LP_TRY(lp_network_forward(net, batch, true));
        LP_TRY(lp_network_backward(net, batch));
        LP_TRY(lp_op_adam(rt, lp_network_params(net), lp_network_grads(net), m, v, n, 1e-3f, 0.9f,
                          0.999f, 1e-7f));
    }
    return lp_runtime_finish(rt);
}

static lp_status measure_(lp_runtime *rt, const lp_model_spec *spec, int batch, lp_bench_table *t,
                          lp_bench_memory_row *row) {
    uint64_t base = lp_runtime_memory(rt).live;
    lp_network *net = NULL;
    cl_mem m = NULL, v = NULL;
    const lp_optimizer *adam = lp_optimizer_find("adam");
    lp_status st = adam ? lp_bench_network_(rt, spec, batch, t, &net)
                        : lp_fail(LP_ERR_NOT_FOUND, "benchmark: no optimizer 'adam'");
    size_t bytes = st == LP_OK ? lp_network_param_count(net) * sizeof(float) : 0;
    if (st == LP_OK) st = lp_buffer_create_zeroed(rt, bytes, adam->state[0], &m);
    if (st == LP_OK) st = lp_buffer_create_zeroed(rt, bytes, adam->state[1], &v);
    if (st == LP_OK) st = lp_bench_fill_inputs_(rt, net, batch);
    /* The peak starts here: what --fast's timing allocated while building is gone. */
    if (st == LP_OK) st = lp_runtime_finish(rt);
    lp_runtime_memory_mark(rt);
    if (st == LP_OK) st = steps_(rt, net, batch, m, v);
    if (st == LP_OK) {
        lp_memory_use u = lp_runtime_memory(rt);
        row->total = u.peak > base ? u.peak - base : 0; /* base's buffers may have gone */
        row->untracked = u.untracked;
        row->parameters = size_of_(lp_network_params(net)) + size_of_(lp_network_grads(net));
        row->optimizer = size_of_(m) + size_of_(v);
        for (int i = 0; i < net->n_layers; ++i)
            if (net->layers[i].owns_buffers) row->activations += size_of_(net->layers[i].out);
        for (int k = 0; k < net->n_grad_bufs; ++k) /* the layers' gradients, shared */
            row->activations += size_of_(net->grad_bufs[k]);
        uint64_t known = row->parameters + row->optimizer + row->activations;
        row->other = row->total > known ? row->total - known : 0;
        /* The plan's figure for the same step: no data set on the device, Adam. Its
         * check may refuse (a device too small); the figures are filled all the same. */
        lp_network_plan_ctx layers = {
            .rt = rt, .spec = spec, .opt = lp_bench_network_options_(t, batch)};
        lp_memory_plan_input in = {.batch = batch,
                                   .eval_batch = batch,
                                   .optimizer_states = 2,
                                   .layer_bytes = lp_network_plan_held_at,
                                   .layer_bytes_ctx = &layers};
        lp_memory_plan plan;
        (void)lp_memory_plan_check(spec, &in, lp_runtime_device(rt), &plan);
        row->planned = plan.total;
    }
    if (m) clReleaseMemObject(m);
    if (v) clReleaseMemObject(v);
    lp_network_destroy(net);
    return st;
}

lp_status lp_bench_memory(const lp_runtime_options *opt, const char *model_path, int batch,
                          lp_bench_table *t) {
    lp_model_spec spec;
    LP_TRY(lp_model_load(model_path, &spec));
    lp_runtime *rt = NULL;
    lp_bench_memory_row row = {.batch = batch};
    lp_bench_model_name_(model_path, row.model, sizeof row.model);
    lp_status st = lp_runtime_create(opt, &rt);
    if (st == LP_OK && t->gemm_mode_set) lp_gemm_set_mode(rt, t->gemm_mode);
    if (st == LP_OK) st = measure_(rt, &spec, batch, t, &row);
    lp_runtime_destroy(rt);
    lp_model_free(&spec);
    LP_TRY(st);
    LP_TRY(lp_bench_room_((void **)&t->memory, t->n_memory, &t->cap_memory, sizeof row));
    t->memory[t->n_memory++] = row;
    char name[128], detail[64];
    const double mib = 1.0 / (1 << 20);
    snprintf(name, sizeof name, "%s peak device memory", row.model);
    snprintf(detail, sizeof detail, "batch %d: act %.1f, other %.1f, param+grad+Adam %.1f MiB",
             batch, row.activations * mib, row.other * mib, (row.parameters + row.optimizer) * mib);
    return lp_bench_add_(t, "memory", name, detail, 0, row.total * mib, "MiB", 0);
}
