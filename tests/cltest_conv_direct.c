/* The direct convolution (laperm/conv_direct.h) against plain-C loops in double: forward
 * (with bias and ReLU), kernel and input gradients at odd shapes, strides 1 to 3, valid
 * and same padding, 1x1 to 5x5 windows, batches below the largest, with each kernel form
 * (the phase split per value or by rows of vectors); bit-for-bit repeats;
 * an evaluation batch larger than the training batch between two steps; argument checks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/conv_direct.h"
#include "laperm/ops.h"
#include "lp_test.h"

typedef struct {
    const char *name;
    int cin, ih, iw, filters, kh, kw, sh, sw;
    bool same;
    bool bias, relu;
    int n, max_batch;
} case_;

/* TensorFlow's rule, written out independently of lp_window_axis. */
static void axis_(int in, int k, int s, bool same, int *out, int *before) {
    if (!same) {
        *out = (in - k) / s + 1;
        *before = 0;
        return;
    }
    *out = (in + s - 1) / s;
    int total = (*out - 1) * s + k - in;
    *before = total > 0 ? total / 2 : 0;
}

static lp_conv_geom geom_(const case_ *c) {
    lp_conv_geom g = {.cin = c->cin,
                      .ih = c->ih,
                      .iw = c->iw,
                      .kh = c->kh,
                      .kw = c->kw,
                      .stride_h = c->sh,
                      .stride_w = c->sw};
    axis_(c->ih, c->kh, c->sh, c->same, &g.oh, &g.pad_top);
    axis_(c->iw, c->kw, c->sw, c->same, &g.ow, &g.pad_left);
    return g;
}

/* y, dW, dx of n samples by direct loops in double, with the sums of |terms| as scales.
 * g is the output gradient before the ReLU mask; the mask comes from the reference's own
 * output (a value within rounding of 0 is skipped by the comparison). */
typedef struct {
    double *y, *yabs, *dw, *dwabs, *dx, *dxabs;
    bool *edge; /* outputs too close to 0 for the ReLU mask to be certain */
} ref_;

/* Tap t = (ch, i, j) of output (s, f, oy, ox): false in the padding, else the kernel's
 * and the input's indices. */
static bool tap_(const case_ *c, const lp_conv_geom *g, int s, int f, int oy, int ox, int t,
                 size_t *wi, size_t *xi) {
    int j = t % c->kw, i = t / c->kw % c->kh, ch = t / (c->kw * c->kh);
    int yy = oy * c->sh - g->pad_top + i, xx = ox * c->sw - g->pad_left + j;
    if (yy < 0 || yy >= c->ih || xx < 0 || xx >= c->iw) return false;
    *wi = (size_t)f * c->cin * c->kh * c->kw + (size_t)t;
    *xi = (((size_t)s * c->cin + ch) * c->ih + yy) * c->iw + xx;
    return true;
}

static void reference_(const case_ *c, const lp_conv_geom *g, const float *x, const float *w,
                       const float *b, const float *gy, ref_ *r) {
    size_t K = (size_t)c->cin * c->kh * c->kw, P = (size_t)g->oh * g->ow;
    size_t nw = (size_t)c->filters * K, nx = (size_t)c->n * c->cin * c->ih * c->iw;
    memset(r->dw, 0, nw * sizeof *r->dw);
    memset(r->dwabs, 0, nw * sizeof *r->dwabs);
    memset(r->dx, 0, nx * sizeof *r->dx);
    memset(r->dxabs, 0, nx * sizeof *r->dxabs);
    for (int s = 0; s < c->n; ++s)
        for (int f = 0; f < c->filters; ++f)
            for (int oy = 0; oy < g->oh; ++oy)
                for (int ox = 0; ox < g->ow; ++ox) {
                    size_t o = ((size_t)s * c->filters + f) * P + (size_t)oy * g->ow + ox;
                    double acc = c->bias ? b[f] : 0.0, mag = fabs(acc);
                    size_t wi, xi;
                    for (int t = 0; t < (int)K; ++t)
                        if (tap_(c, g, s, f, oy, ox, t, &wi, &xi)) {
                            acc += (double)w[wi] * x[xi];
                            mag += fabs((double)w[wi] * x[xi]);
                        }
                    r->edge[o] = c->relu && fabs(acc) <= 1e-5 * (mag + 1e-30);
                    if (c->relu && acc < 0) acc = 0;
                    r->y[o] = acc;
                    r->yabs[o] = mag;
                    double go = c->relu && !(acc > 0) ? 0.0 : gy[o];
                    for (int t = 0; t < (int)K; ++t)
                        if (tap_(c, g, s, f, oy, ox, t, &wi, &xi)) {
                            r->dw[wi] += go * x[xi];
                            r->dwabs[wi] += fabs(go * x[xi]);
                            r->dx[xi] += go * w[wi];
                            r->dxabs[xi] += fabs(go * w[wi]);
                        }
                }
}

/* The samples of the gradient whose outputs sit on the ReLU's edge: their masks may
 * legitimately differ, so dW and dx are only compared when there are none. */
static bool any_edge_(const bool *edge, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (edge[i]) return true;
    return false;
}

/* Kept alive in the simulator until the suite ends, with its buffers (lp_test.h). */
static void destroy_direct_(void *d) {
    lp_conv_direct_destroy(d);
}

/* ws: the backward layouts come from this shared workspace (NULL: the object's own). */
static void check_case_(const case_ *c, uint64_t seed, lp_workspace *ws) {
    lp_conv_geom g = geom_(c);
    /* A device that ends long loops early (Mesa's llvmpipe) refuses the products it
     * would cut short, naming why, and the layer takes the GEMM path instead. */
    const char *unfit = lp_conv_direct_unfit_on(lp_test_rt, &g, c->filters);
    if (unfit) {
        lp_conv_direct *none = NULL;
        CU_ASSERT_EQUAL(
            lp_conv_direct_create(lp_test_rt, &g, c->filters, c->max_batch, true, &none),
            LP_ERR_UNSUPPORTED);
        CU_ASSERT_PTR_NULL(none);
        CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "llvmpipe"));
        printf("\n  %s: refused on this device (%s)", c->name, unfit);
        lp_clear_error();
        return;
    }
    size_t K = (size_t)c->cin * c->kh * c->kw, P = (size_t)g.oh * g.ow;
    size_t xs = (size_t)c->cin * c->ih * c->iw, ys = (size_t)c->filters * P;
    size_t nxm = (size_t)c->max_batch * xs, nym = (size_t)c->max_batch * ys;
    size_t nx = (size_t)c->n * xs, ny = (size_t)c->n * ys, nw = (size_t)c->filters * K;
    /* params: 5 floats of offset, then W, then the bias; grads: 3 floats of offset, dW. */
    size_t w_off = 5, b_off = 5 + nw, np = b_off + (size_t)c->filters;
    uint64_t rng = seed;
    float *params = lp_test_floats(np), *x = lp_test_floats(nxm), *gy = lp_test_floats(nym);
    lp_test_fill_uniform(params, np, &rng, -0.5f, 0.5f);
    lp_test_fill_uniform(x, nxm, &rng, -1.0f, 1.0f);
    lp_test_fill_uniform(gy, nym, &rng, -1.0f, 1.0f);
    cl_mem pb = lp_test_upload(params, np * 4), xb = lp_test_upload(x, nxm * 4);
    cl_mem gb = lp_test_upload(gy, nym * 4), yb = lp_test_buffer(nym * 4);
    cl_mem dwb = lp_test_buffer((nw + 3) * 4), dxb = lp_test_buffer(nxm * 4);

    lp_conv_direct *d = NULL;
    LP_TEST_OK(lp_conv_direct_create(lp_test_rt, &g, c->filters, c->max_batch, true, &d));
    CU_ASSERT_FATAL(d != NULL);
    if (ws) lp_conv_direct_share_backward(d, ws);
    int bias = c->bias ? (int)b_off : -1;
    float *y1 = lp_test_floats(ny), *dw1 = lp_test_floats(nw), *dx1 = lp_test_floats(nx);
    float *y2 = lp_test_floats(ny), *dw2 = lp_test_floats(nw), *dx2 = lp_test_floats(nx);
    for (int rep = 0; rep < 2; ++rep) {
        LP_TEST_OK(lp_conv_direct_forward(d, c->n, xb, pb, w_off, bias, c->relu, yb));
        LP_TEST_OK(lp_conv_direct_backward(d, c->n, xb, yb, gb, c->relu, pb, w_off, dwb, 3, dxb));
        CU_ASSERT(lp_test_download(yb, ny * 4, rep ? y2 : y1));
        LP_TEST_OK(lp_buffer_read(lp_test_rt, dwb, 12, nw * 4, rep ? dw2 : dw1));
        CU_ASSERT(lp_test_download(dxb, nx * 4, rep ? dx2 : dx1));
        if (rep == 0) {
            /* A larger (evaluation) batch in between: the next step must not reuse its
             * phases, nor be disturbed by the buffers it grew. */
            LP_TEST_OK(lp_conv_direct_forward(d, c->max_batch, xb, pb, w_off, bias, c->relu, yb));
        }
    }
    CU_ASSERT(memcmp(y1, y2, ny * 4) == 0);
    CU_ASSERT(memcmp(dw1, dw2, nw * 4) == 0);
    CU_ASSERT(memcmp(dx1, dx2, nx * 4) == 0);

    ref_ r = {malloc(ny * 8), malloc(ny * 8), malloc(nw * 8), malloc(nw * 8),
              malloc(nx * 8), malloc(nx * 8), malloc(ny)};
    CU_ASSERT_FATAL(r.y && r.yabs && r.dw && r.dwabs && r.dx && r.dxabs && r.edge);
    reference_(c, &g, x, params + w_off, params + b_off, gy, &r);
    CU_ASSERT(lp_test_close_terms(y1, r.y, r.yabs, r.edge, ny, "y", c->name));
    if (!any_edge_(r.edge, ny)) {
        CU_ASSERT(lp_test_close_terms(dw1, r.dw, r.dwabs, NULL, nw, "dW", c->name));
        CU_ASSERT(lp_test_close_terms(dx1, r.dx, r.dxabs, NULL, nx, "dx", c->name));
    }
    /* The input gradient is optional; without it dW has the same bits. */
    LP_TEST_OK(lp_conv_direct_forward(d, c->n, xb, pb, w_off, bias, c->relu, yb));
    LP_TEST_OK(lp_conv_direct_backward(d, c->n, xb, yb, gb, c->relu, pb, w_off, dwb, 3, NULL));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, dwb, 12, nw * 4, dw2));
    CU_ASSERT(memcmp(dw1, dw2, nw * 4) == 0);

    lp_test_release_with(destroy_direct_, d);
    free(r.y), free(r.yabs), free(r.dw), free(r.dwabs), free(r.dx), free(r.dxabs), free(r.edge);
    free(params), free(x), free(gy), free(y1), free(dw1), free(dx1), free(y2), free(dw2), free(dx2);
    cl_mem bufs[] = {pb, xb, gb, yb, dwb, dxb};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; ++i)
        lp_test_release_buffer(&bufs[i]);
}

/* Conv7's shapes (small batches), and odd ones: tiles cut by plane and sample ends,
 * fewer pixels than one tile, channel counts off the tile, wide strides. */
static const case_ cases_[] = {
    {"3x3 valid 26x26 (conv7 layer 2)", 5, 26, 26, 7, 3, 3, 1, 1, false, true, true, 3, 4},
    {"5x5 stride 2 same (conv7 layer 3)", 3, 24, 24, 5, 5, 5, 2, 2, true, true, true, 2, 3},
    {"5x5 stride 2 same 8x8 (conv7 layer 6)", 9, 8, 8, 17, 5, 5, 2, 2, true, false, false, 2, 2},
    {"4x4 valid to 1x1 (conv7 layer 7)", 6, 4, 4, 19, 4, 4, 1, 1, false, true, true, 3, 3},
    {"1 channel 3x3 (conv7 layer 1)", 1, 13, 11, 5, 3, 3, 1, 1, false, true, false, 2, 2},
    {"3x3 same 7x9, 33 filters", 4, 7, 9, 33, 3, 3, 1, 1, true, false, true, 2, 3},
    {"2x3 valid 9x10", 3, 9, 10, 6, 2, 3, 1, 1, false, true, false, 1, 1},
    {"1x1 valid 5x7", 17, 5, 7, 3, 1, 1, 1, 1, false, false, false, 2, 2},
    {"3x3 stride 3 valid 11x10", 2, 11, 10, 4, 3, 3, 3, 3, false, true, false, 2, 2},
    {"3x2 stride 2x1 same 9x8", 3, 9, 8, 5, 3, 2, 2, 1, true, true, true, 2, 2},
    {"5x5 stride 2 same 5x5 (window past both ends)", 2, 5, 5, 3, 5, 5, 2, 2, true, false, false, 1,
     2},
    {"7x7 stride 2 same 15x15 (resnet stem)", 3, 15, 15, 8, 7, 7, 2, 2, true, false, true, 1, 1},
    /* rows long enough for the split's vector copies (lp_conv_direct_split_rows) */
    {"3x3 same 5x40", 2, 5, 40, 3, 3, 3, 1, 1, true, true, false, 2, 2},
    {"3x3 stride 2 same 6x41", 2, 6, 41, 3, 3, 3, 2, 2, true, false, true, 2, 2},
    /* Conv7's widest direct layer: on llvmpipe all its row tiles in one work-item ran
     * past the loop limit; there it is now refused (see check_case_), and 48 to 48
     * filters runs with fewer tiles per work-item. */
    {"3x3 valid 10x10, 64 to 64 filters (conv7 layer 6)", 64, 10, 10, 64, 3, 3, 1, 1, false, true,
     false, 1, 1},
    {"3x3 valid 10x10, 48 to 48 filters", 48, 10, 10, 48, 3, 3, 1, 1, false, true, false, 1, 1},
    /* dW sums over every sample and pixel of the batch: 24 x 784 terms, past the loop
     * budget of Mesa's llvmpipe (65535 iterations) when one work-item walks them. */
    {"3x3 valid 28x28 batch 24 (long dW sums)", 2, 28, 28, 8, 3, 3, 1, 1, false, true, false, 24,
     24},
    /* Operands of ~770 KB a sample: on CPUs the kernel gradient runs one launch per
     * sample, each carrying the sums of the one before (conv_direct.c, DW_RANGE_BYTES_). */
    {"3x3 valid 64x64, 16 to 32 filters, batch 3 (dW launched by sample ranges)", 16, 64, 64, 32, 3,
     3, 1, 1, false, true, true, 3, 3},
};

/* Whether the case's input goes through the phase split (a stride or padding). */
static bool split_(const case_ *c) {
    return c->sh > 1 || c->sw > 1 || (c->same && (c->kh > 1 || c->kw > 1));
}

static void cases_once_(void) {
    size_t n_cases = sizeof cases_ / sizeof *cases_;
    /* The forms differ only in the split: the form that is not the device's own runs
     * only the cases that split. */
    const char *form = getenv("LAPERM_KERNEL_FORM");
    bool planes = form && strcmp(form, "planes") == 0;
    bool split_only = form && planes != lp_runtime_vector_loops(lp_test_rt);
    for (size_t i = 0; i < n_cases; ++i) {
        if (lp_test_simulator() && i + 4 >= n_cases) continue; /* the last four: slow there */
        if (split_only && !split_(&cases_[i])) continue;
        check_case_(&cases_[i], 1000 + i, NULL);
    }
}

/* With each kernel form (the split per value or by rows of vectors). */
static void test_cases(void) {
    lp_test_each_kernel_form(cases_once_);
}

static void destroy_workspace_(void *ws) {
    lp_workspace_destroy(ws);
}

/* Every case again with its backward layouts in one workspace shared by all of them, as a
 * network's layers share it: it starts full of NaNs, and each case finds the layouts the
 * one before left there (other shapes, other padding). The results must be the same, so
 * the layouts must be written whole, zeros included. */
static void test_shared_workspace(void) {
    lp_workspace *ws = NULL;
    LP_TEST_OK(lp_workspace_create(lp_test_rt, &ws));
    CU_ASSERT_FATAL(ws != NULL);
    size_t n = 1 << 20;
    float *nans = lp_test_floats(n);
    for (size_t i = 0; i < n; ++i)
        nans[i] = NAN;
    for (int slot = 0; slot < LP_WORKSPACE_SLOTS; ++slot) {
        cl_mem b = NULL;
        LP_TEST_OK(lp_workspace_get(ws, (lp_workspace_slot)slot, n * 4, &b));
        LP_TEST_OK(lp_buffer_write(lp_test_rt, b, 0, n * 4, nans));
        cl_mem again = NULL;
        LP_TEST_OK(lp_workspace_get(ws, (lp_workspace_slot)slot, 16, &again));
        CU_ASSERT(again == b); /* smaller asks keep the buffer */
    }
    free(nans);
    size_t n_cases = sizeof cases_ / sizeof *cases_;
    for (size_t i = 0; i < n_cases; ++i)
        if (!lp_test_simulator() || i < 3) check_case_(&cases_[i], 1000 + i, ws);
    lp_test_release_with(destroy_workspace_, ws);
}

/* A batch above the object's largest, and the input gradient from an object made
 * without it, are errors with a message, not a crash. */
static void test_errors(void) {
    case_ c = cases_[1];
    lp_conv_geom g = geom_(&c);
    lp_conv_direct *d = NULL;
    LP_TEST_OK(lp_conv_direct_create(lp_test_rt, &g, c.filters, 2, false, &d));
    CU_ASSERT_FATAL(d != NULL);
    cl_mem b = lp_test_buffer(4096 * 4);
    CU_ASSERT_EQUAL(lp_conv_direct_forward(d, 3, b, b, 0, -1, false, b), LP_ERR_INVALID_ARG);
    CU_ASSERT(strstr(lp_last_error(), "batch 3") != NULL);
    CU_ASSERT_EQUAL(lp_conv_direct_backward(d, 1, b, b, b, false, b, 0, b, 0, b),
                    LP_ERR_INVALID_ARG);
    CU_ASSERT(strstr(lp_last_error(), "input gradient") != NULL);
    /* A window of more than 64 taps is refused with the reason (its build options would
     * not fit), and lp_conv_direct_unfit says so up front. */
    lp_conv_geom big = {.cin = 1,
                        .ih = 9,
                        .iw = 9,
                        .kh = 9,
                        .kw = 9,
                        .stride_h = 1,
                        .stride_w = 1,
                        .oh = 1,
                        .ow = 1};
    CU_ASSERT_PTR_NOT_NULL(lp_conv_direct_unfit(&big, 2));
    lp_conv_direct *none = NULL;
    CU_ASSERT_EQUAL(lp_conv_direct_create(lp_test_rt, &big, 2, 1, false, &none),
                    LP_ERR_UNSUPPORTED);
    CU_ASSERT(strstr(lp_last_error(), "64 taps") != NULL);
    CU_ASSERT_EQUAL(lp_conv_direct_create(lp_test_rt, &g, 0, 2, false, &none), LP_ERR_INVALID_ARG);
    CU_ASSERT(none == NULL);
    lp_test_release_with(destroy_direct_, d);
    lp_test_release_buffer(&b);
}

static void register_suites_(void) {
    CU_pSuite s = CU_add_suite("conv_direct", NULL, lp_test_release_kept);
    CU_add_test(s, "forward and gradients against plain C, repeatable", test_cases);
    CU_add_test(s, "the same through a shared workspace left full of NaNs", test_shared_workspace);
    CU_add_test(s, "bad arguments", test_errors);
}

int main(void) {
    return lp_cltest_main("cltest_conv_direct", register_suites_);
}
