/* Convolution geometry and the launch wrappers for cl/conv.cl. */
#include "laperm/ops_conv.h"
#include "laperm/launch.h"

#include <limits.h>

lp_status lp_conv_geom_make(lp_shape in, const lp_window *win, lp_conv_geom *g) {
    *g = (lp_conv_geom){.cin = in.c,
                        .ih = in.h,
                        .iw = in.w,
                        .kh = win->kh,
                        .kw = win->kw,
                        .stride_h = win->stride_h,
                        .stride_w = win->stride_w,
                        .pad_top = win->pad_top,
                        .pad_left = win->pad_left,
                        .oh = win->oh,
                        .ow = win->ow};
    /* The kernels index within one plane with ints. */
    if (lp_conv_geom_k(g) > INT_MAX || lp_conv_geom_p(g) > INT_MAX ||
        (size_t)in.h * (size_t)in.w > INT_MAX)
        return lp_fail(LP_ERR_UNSUPPORTED, "convolution: window or plane too large");
    return LP_OK;
}

static lp_status check_chunk_(const lp_conv_geom *g, int s0, int cn, const char *label) {
    if (!g || s0 < 0 || cn < 0 || g->cin <= 0 || g->ih <= 0 || g->iw <= 0 || g->oh <= 0 ||
        g->ow <= 0 || g->kh <= 0 || g->kw <= 0 || g->stride_h <= 0 || g->stride_w <= 0 ||
        g->pad_top < 0 || g->pad_left < 0)
        return lp_fail(LP_ERR_INVALID_ARG, "%s: invalid geometry or samples %d..%d", label, s0,
                       s0 + cn - 1);
    return LP_OK;
}

/* Global (d0, d1, d2): d0 is a plane (pixels), d1 channels, d2 samples. Work-groups run
 * along d0, no wider than the plane, so small planes waste few work-items, and take
 * several channels when the plane is narrower than the group. */
static lp_status launch_3d_(lp_runtime *rt, cl_kernel k, size_t d0, size_t d1, size_t d2,
                            const char *label) {
    size_t most = lp_runtime_wgs(rt, k, 64), w = most;
    while (w > 1 && w > d0)
        w /= 2;
    /* Planes narrower than the group take several rows of dimension 1 per group (the
     * kernels test all three bounds): with one row, 4x4 and 1x1 output planes made
     * thousands of groups of 16 or 1 work-items, whose start-up on a CPU cost more than
     * their copies (im2col at batch 50 on PoCL, per launch: conv7's 64x8x8 > 5x5/2 1.33
     * -> 0.79 ms; 64x4x4 > 4x4, before such whole windows skipped im2col, 0.24 -> 0.15). */
    size_t w1 = 1;
    while (w * w1 * 2 <= most && w1 * 2 <= d1 &&
           w1 * 2 <= lp_runtime_device(rt)->max_work_item_sizes[1])
        w1 *= 2;
    size_t global[3] = {d0, d1, d2}, local[3] = {w, w1, 1};
    return lp_launch(rt, k, 3, global, local, label);
}

/* Both kernels take the same geometry arguments, at positions 1..13. */
static lp_status set_geom_args_(cl_kernel k, const lp_conv_geom *g, int s0, int cn) {
    LP_ARG(k, 1, s0);
    LP_ARG(k, 2, cn);
    LP_ARG(k, 3, g->cin);
    LP_ARG(k, 4, g->ih);
    LP_ARG(k, 5, g->iw);
    LP_ARG(k, 6, g->kh);
    LP_ARG(k, 7, g->kw);
    LP_ARG(k, 8, g->stride_h);
    LP_ARG(k, 9, g->stride_w);
    LP_ARG(k, 10, g->pad_top);
    LP_ARG(k, 11, g->pad_left);
    LP_ARG(k, 12, g->oh);
    LP_ARG(k, 13, g->ow);
    return LP_OK;
}

/* Global (filters, cn): one work-item per (channel, sample) plane; the runtime picks
 * the work-group size. */
static lp_status launch_plane_per_item_(lp_runtime *rt, cl_kernel k, int filters, int cn,
                                        const char *label) {
    return lp_launch_2d(rt, k, (size_t)filters, (size_t)cn, label);
}

/* The by-plane kernels are 1-D over `blocks` x ceil(cn / per) work-items, each handling
 * `per` consecutive samples of one block of `values` floats: several when blocks are
 * small (a 1x1 output), so that the work per work-item, not its start, dominates. */
#define LP_CONV_MIN_VALUES_ 512
static lp_status launch_planes_(lp_runtime *rt, cl_kernel k, size_t blocks, size_t values, int cn,
                                const char *label) {
    size_t want = (LP_CONV_MIN_VALUES_ + values - 1) / values;
    int per = want < (size_t)cn ? (int)want : cn;
    if (per < 1) per = 1;
    LP_ARG(k, 15, per);
    size_t global = blocks * (size_t)((cn + per - 1) / per);
    size_t local = lp_runtime_wgs(rt, k, 64);
    /* A few work-groups per compute unit, so that all of them get a share. */
    size_t units = lp_runtime_device(rt)->compute_units;
    while (local > 1 && global < local * 4 * units)
        local /= 2;
    return lp_launch(rt, k, 1, &global, &local, label);
}

/* By plane on CPUs: one work-item per pixel leaves PoCL scalar code with a division and
 * bounds tests per element, 3x to 16x slower at Conv7's and CIFAR's shapes. GPUs keep one
 * work-item per pixel, whose accesses coalesce. `suits`: the shape gains from it. */
static bool by_planes_(lp_runtime *rt, lp_conv_form form, bool suits) {
    if (form != LP_CONV_FORM_AUTO) return form == LP_CONV_FORM_PLANES;
    return suits && lp_runtime_plane_kernels(rt);
}

/* im2col's planes start a loop per output row and tap: below 8 columns that costs more
 * than vectors gain (Conv7's 4x4 and 1x1 outputs: up to 1.7x and 2x to 4x slower than
 * by pixel).
 * col2im's planes win there too, as they replace a gather of scattered reads. */
#define LP_CONV_MIN_PLANE_WIDTH_ 8

lp_status lp_op_im2col_form(lp_runtime *rt, const lp_conv_geom *g, cl_mem x, int s0, int cn,
                            cl_mem col, lp_conv_form form) {
    LP_TRY(check_chunk_(g, s0, cn, "im2col"));
    bool planes = by_planes_(rt, form, g->ow >= LP_CONV_MIN_PLANE_WIDTH_);
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(rt, "conv", planes ? "lp_conv_im2col_planes" : "lp_conv_im2col",
                             LP_CONV_OPTIONS, &k));
    LP_ARG(k, 0, x);
    LP_TRY(set_geom_args_(k, g, s0, cn));
    LP_ARG(k, 14, col);
    if (planes)
        return launch_planes_(rt, k, lp_conv_geom_k(g), lp_conv_geom_p(g), cn, "conv_im2col");
    return launch_3d_(rt, k, lp_conv_geom_p(g), (size_t)g->cin, (size_t)cn, "conv_im2col");
}

lp_status lp_op_col2im_form(lp_runtime *rt, const lp_conv_geom *g, cl_mem dcol, int s0, int cn,
                            cl_mem dx, lp_conv_form form) {
    LP_TRY(check_chunk_(g, s0, cn, "col2im"));
    bool planes = by_planes_(rt, form, true);
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(rt, "conv", planes ? "lp_conv_col2im_planes" : "lp_conv_col2im",
                             LP_CONV_OPTIONS, &k));
    LP_ARG(k, 0, dcol);
    LP_TRY(set_geom_args_(k, g, s0, cn));
    LP_ARG(k, 14, dx);
    if (planes) {
        size_t in = (size_t)g->ih * g->iw, taps = (size_t)g->kh * g->kw * lp_conv_geom_p(g);
        return launch_planes_(rt, k, (size_t)g->cin, in > taps ? in : taps, cn, "conv_col2im");
    }
    return launch_3d_(rt, k, (size_t)g->ih * g->iw, (size_t)g->cin, (size_t)cn, "conv_col2im");
}

lp_status lp_op_im2col(lp_runtime *rt, const lp_conv_geom *g, cl_mem x, int s0, int cn,
                       cl_mem col) {
    return lp_op_im2col_form(rt, g, x, s0, cn, col, LP_CONV_FORM_AUTO);
}

lp_status lp_op_col2im(lp_runtime *rt, const lp_conv_geom *g, cl_mem dcol, int s0, int cn,
                       cl_mem dx) {
    return lp_op_col2im_form(rt, g, dcol, s0, cn, dx, LP_CONV_FORM_AUTO);
}

lp_status lp_op_conv_rows_to_nchw_form(lp_runtime *rt, cl_mem rows, int s0, int cn, int filters,
                                       int P, cl_mem params, int bias_off, bool relu, cl_mem y,
                                       lp_conv_form form) {
    if (s0 < 0 || cn < 0 || filters <= 0 || P <= 0)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "conv_rows_to_nchw: samples %d+%d, %d filters, %d pixels", s0, cn, filters,
                       P);
    /* By plane on CPUs (vectors along each plane), by pixel elsewhere (coalesced). */
    bool planes = by_planes_(rt, form, true);
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(rt, "conv",
                             planes ? "lp_conv_rows_to_nchw_planes" : "lp_conv_rows_to_nchw",
                             LP_CONV_OPTIONS, &k));
    int relu_i = relu;
    LP_ARG(k, 0, rows);
    LP_ARG(k, 1, s0);
    LP_ARG(k, 2, cn);
    LP_ARG(k, 3, filters);
    LP_ARG(k, 4, P);
    LP_ARG(k, 5, params);
    LP_ARG(k, 6, bias_off);
    LP_ARG(k, 7, relu_i);
    LP_ARG(k, 8, y);
    if (planes) return launch_plane_per_item_(rt, k, filters, cn, "conv_rows_to_nchw");
    return launch_3d_(rt, k, (size_t)P, (size_t)filters, (size_t)cn, "conv_rows_to_nchw");
}

lp_status lp_op_conv_rows_to_nchw(lp_runtime *rt, cl_mem rows, int s0, int cn, int filters, int P,
                                  cl_mem params, int bias_off, bool relu, cl_mem y) {
    return lp_op_conv_rows_to_nchw_form(rt, rows, s0, cn, filters, P, params, bias_off, relu, y,
                                        LP_CONV_FORM_AUTO);
}

lp_status lp_op_conv_bias_act(lp_runtime *rt, cl_mem y, int n, int filters, int P, cl_mem params,
                              int bias_off, bool relu) {
    if (n < 0 || filters <= 0 || P <= 0 || (bias_off >= 0 && !params))
        return lp_fail(LP_ERR_INVALID_ARG,
                       "conv_bias_act: %d samples, %d filters, %d pixels, bias offset %d", n,
                       filters, P, bias_off);
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(rt, "conv", "lp_conv_bias_act", LP_CONV_OPTIONS, &k));
    int relu_i = relu;
    cl_mem pbuf = params ? params : y; /* never read without a bias; any valid buffer will do */
    LP_ARG(k, 0, y);
    LP_ARG(k, 1, n);
    LP_ARG(k, 2, filters);
    LP_ARG(k, 3, P);
    LP_ARG(k, 4, pbuf);
    LP_ARG(k, 5, bias_off);
    LP_ARG(k, 6, relu_i);
    return launch_3d_(rt, k, (size_t)P, (size_t)filters, (size_t)n, "conv_bias_act");
}

/* One launch of lp_conv_grad_rows; rows and/or psum may be NULL. */
static lp_status grad_rows_(lp_runtime *rt, cl_mem dy, cl_mem y, bool relu, int s0, int cn,
                            int filters, int P, cl_mem rows, cl_mem psum, lp_conv_form form,
                            const char *label) {
    bool planes = by_planes_(rt, form, true);
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(rt, "conv", planes ? "lp_conv_grad_rows_planes" : "lp_conv_grad_rows",
                             LP_CONV_OPTIONS, &k));
    int relu_i = relu, write_rows = rows != NULL, has_psum = psum != NULL;
    /* Buffers a flag says are not touched still need a valid value: dy will do. */
    cl_mem ybuf = relu ? y : dy, rbuf = rows ? rows : dy, pbuf = psum ? psum : dy;
    LP_ARG(k, 0, dy);
    LP_ARG(k, 1, ybuf);
    LP_ARG(k, 2, relu_i);
    LP_ARG(k, 3, s0);
    LP_ARG(k, 4, cn);
    LP_ARG(k, 5, filters);
    LP_ARG(k, 6, P);
    LP_ARG(k, 7, rbuf);
    LP_ARG(k, 8, write_rows);
    LP_ARG(k, 9, pbuf);
    LP_ARG(k, 10, has_psum);
    if (planes) return launch_plane_per_item_(rt, k, filters, cn, label);
    /* A plane's lanes in one work-group, with up to 4 channels beside them (64
     * work-items) where the device allows. */
    size_t wgs = lp_runtime_wgs(rt, k, 4 * LP_CONV_GRAD_LANES);
    size_t global[3] = {LP_CONV_GRAD_LANES, (size_t)filters, (size_t)cn};
    size_t local[3] = {wgs < LP_CONV_GRAD_LANES ? wgs : LP_CONV_GRAD_LANES, 1, 1};
    local[1] = wgs / local[0];
    while (local[1] > 1 && local[1] / 2 >= (size_t)filters)
        local[1] /= 2;
    return lp_launch(rt, k, 3, global, local, label);
}

lp_status lp_op_conv_nchw_to_rows_form(lp_runtime *rt, cl_mem dy, cl_mem y, bool relu, int s0,
                                       int cn, int filters, int P, cl_mem rows, cl_mem psum,
                                       lp_conv_form form) {
    if (s0 < 0 || cn < 0 || filters <= 0 || P <= 0 || (relu && !y) || !rows)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "conv_nchw_to_rows: samples %d+%d, %d filters, %d "
                       "pixels, relu %d (needs y), rows %s",
                       s0, cn, filters, P, (int)relu, rows ? "given" : "missing");
    return grad_rows_(rt, dy, y, relu, s0, cn, filters, P, rows, psum, form, "conv_nchw_to_rows");
}

lp_status lp_op_conv_nchw_to_rows(lp_runtime *rt, cl_mem dy, cl_mem y, bool relu, int s0, int cn,
                                  int filters, int P, cl_mem rows, cl_mem psum) {
    return lp_op_conv_nchw_to_rows_form(rt, dy, y, relu, s0, cn, filters, P, rows, psum,
                                        LP_CONV_FORM_AUTO);
}

lp_status lp_op_conv_bias_reduce(lp_runtime *rt, cl_mem psum, int n, int filters, cl_mem grads,
                                 int bias_off) {
    if (n < 0 || filters <= 0 || bias_off < 0 || !psum || !grads)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "conv_bias_reduce: %d samples, %d filters, bias offset %d", n, filters,
                       bias_off);
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(rt, "conv", "lp_conv_bias_reduce", LP_CONV_OPTIONS, &k));
    LP_ARG(k, 0, psum);
    LP_ARG(k, 1, n);
    LP_ARG(k, 2, filters);
    LP_ARG(k, 3, grads);
    LP_ARG(k, 4, bias_off);
    size_t global = (size_t)filters, local = lp_runtime_wgs(rt, k, 64);
    if (local > global) local = global; /* few filters: no mostly idle group */
    return lp_launch(rt, k, 1, &global, &local, "conv_bias_reduce");
}

lp_status lp_op_conv_bias_grad(lp_runtime *rt, cl_mem dy, cl_mem y, bool relu, int n, int filters,
                               int P, cl_mem psum, cl_mem grads, int bias_off) {
    if (n < 0 || filters <= 0 || P <= 0 || bias_off < 0 || (relu && !y) || !psum)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "conv_bias_grad: %d samples, %d filters, %d pixels, "
                       "bias offset %d, relu %d (needs y), scratch %s",
                       n, filters, P, bias_off, (int)relu, psum ? "given" : "missing");
    LP_TRY(grad_rows_(rt, dy, y, relu, 0, n, filters, P, NULL, psum, LP_CONV_FORM_AUTO,
                      "conv_bias_grad"));
    return lp_op_conv_bias_reduce(rt, psum, n, filters, grads, bias_off);
}
