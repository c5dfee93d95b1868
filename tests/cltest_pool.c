/* Max, average and global average pooling against plain C (forward, argmax ties, backward
 * as a scatter over windows, the opposite of the kernel's gather) at odd shapes, and the
 * backward pass against finite differences of a loss sum(w * y) computed on the host from
 * the device's forward pass. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layer.h"
#include "lp_test.h"
#include "lp_test_rig.h"
#include "reference.h"

/* A value no kernel computes here: tells untouched words from written ones. */
#define SENTINEL_ 12345.5f

/* ---- the layer under test in a hand-built network (tests/support/lp_test_rig.h) ---- */

typedef lp_test_rig rig_;
#define rig_free_ lp_test_rig_free

/* Builds the rig for `layer` (in and out shapes filled) and returns the constructor's
 * status; the network is freed by rig_free_ either way. */
static lp_status rig_build_(rig_ *r, const lp_layer_spec *layer, int max_batch, bool need_dx,
                            bool input_dout) {
    LP_TRY(lp_test_rig_build(r, layer, max_batch, need_dx, input_dout, NULL, 0, 1));
    return lp_layer_kind_get(r->l->spec->kind)->init(r->net, r->l);
}

/* ---- plain-C reference -------------------------------------------------------------------- */

typedef lp_ref_pool geo_;

/* TensorFlow's rule, written out independently of the library: same padding gives
 * ceil(in / s) outputs and pads max((out - 1) * s + k - in, 0) in total, less before. */
static int axis_(int in, int k, int s, bool same, int *before) {
    if (!same) {
        *before = 0;
        return (in - k) / s + 1;
    }
    int out = (in + s - 1) / s;
    int total = (out - 1) * s + k - in;
    if (total < 0) total = 0;
    *before = total / 2;
    return out;
}

static geo_ geo_make_(lp_layer_kind kind, int c, int h, int w, int kh, int kw, int sh, int sw,
                      bool same) {
    geo_ g = {.c = c, .h = h, .w = w, .kh = kh, .kw = kw, .sh = sh, .sw = sw};
    g.max = kind == LP_LAYER_MAXPOOL;
    if (kind == LP_LAYER_GLOBALAVGPOOL) {
        g.kh = h;
        g.kw = w;
        g.sh = g.sw = 1;
        same = false;
    }
    g.oh = axis_(h, g.kh, g.sh, same, &g.pad_t);
    g.ow = axis_(w, g.kw, g.sw, same, &g.pad_l);
    return g;
}

/* ---- one case ------------------------------------------------------------------------------ */

typedef enum { DATA_RANDOM, DATA_TIES, DATA_DYADIC } data_kind_;

typedef struct {
    rig_ r;
    geo_ g;
    int max_batch, n;
    size_t nin, nout; /* whole buffers: max_batch samples */
    float *x, *dy, *y, *dx;
} pool_case_;

static void case_free_(pool_case_ *pc) {
    rig_free_(&pc->r);
    free(pc->x);
    free(pc->dy);
    free(pc->y);
    free(pc->dx);
}

/* Builds the layer and uploads input, output gradient and a sentinel-filled dx. */
static bool case_init_(pool_case_ *pc, lp_layer_kind kind, geo_ g, bool same, int max_batch, int n,
                       data_kind_ data, uint64_t seed) {
    memset(pc, 0, sizeof *pc);
    pc->g = g;
    pc->max_batch = max_batch;
    pc->n = n;
    lp_layer_spec spec = {.kind = kind, .line = 2, .name = "pool"};
    spec.in = (lp_shape){g.c, g.h, g.w};
    spec.out = (lp_shape){g.c, g.oh, g.ow};
    spec.u.pool = (lp_pool_spec){g.kh, g.kw, g.sh, g.sw, same ? LP_PAD_SAME : LP_PAD_VALID};
    lp_status s = rig_build_(&pc->r, &spec, max_batch, true, true);
    if (s != LP_OK) {
        printf("\n  building the pooling layer: %s\n", lp_last_error());
        return false;
    }
    pc->nin = (size_t)max_batch * g.c * g.h * g.w;
    pc->nout = (size_t)max_batch * g.c * g.oh * g.ow;
    pc->x = lp_test_floats(pc->nin);
    pc->dx = lp_test_floats(pc->nin);
    pc->dy = lp_test_floats(pc->nout);
    pc->y = lp_test_floats(pc->nout);
    uint64_t rng = seed;
    if (data == DATA_DYADIC) {
        /* Distinct multiples of 1/64 in shuffled order: a step of 1/128 changes no
         * window's argmax, and every value and step is exact in float. */
        for (size_t i = 0; i < pc->nin; ++i)
            pc->x[i] = ((float)i - (float)(pc->nin / 2)) / 64.0f;
        for (size_t i = pc->nin; i > 1; --i) {
            size_t j = (size_t)(lp_test_next(&rng) % i);
            float t = pc->x[i - 1];
            pc->x[i - 1] = pc->x[j];
            pc->x[j] = t;
        }
    } else {
        for (size_t i = 0; i < pc->nin; ++i)
            pc->x[i] = data == DATA_TIES ? 0.5f * (float)(lp_test_next(&rng) % 3)
                                         : lp_test_uniform(&rng, -1.0f, 1.0f);
    }
    /* Multiples of 1/16: sums of a few of them are exact, so max backward compares exactly. */
    for (size_t i = 0; i < pc->nout; ++i)
        pc->dy[i] = (float)((int)(lp_test_next(&rng) % 33) - 16) / 16.0f;
    for (size_t i = 0; i < pc->nin; ++i)
        pc->dx[i] = SENTINEL_;
    LP_TEST_OK(lp_buffer_write(lp_test_rt, pc->r.in->out, 0, pc->nin * 4, pc->x));
    LP_TEST_OK(lp_buffer_write(lp_test_rt, pc->r.in->dout, 0, pc->nin * 4, pc->dx));
    LP_TEST_OK(lp_buffer_write(lp_test_rt, pc->r.l->dout, 0, pc->nout * 4, pc->dy));
    return true;
}

static void case_name_(char *buf, size_t size, lp_layer_kind kind, const geo_ *g, bool same,
                       int n) {
    snprintf(buf, size, "%s %dx%dx%d window %dx%d stride %dx%d %s n=%d",
             kind == LP_LAYER_MAXPOOL   ? "maxpool"
             : kind == LP_LAYER_AVGPOOL ? "avgpool"
                                        : "globalavgpool",
             g->c, g->h, g->w, g->kh, g->kw, g->sh, g->sw, same ? "same" : "valid", n);
}

/* Forward and backward against the plain-C reference; rows past n stay untouched. */
static void check_pool_(lp_layer_kind kind, int c, int h, int w, int kh, int kw, int sh, int sw,
                        bool same, int max_batch, int n, data_kind_ data, uint64_t seed) {
    geo_ g = geo_make_(kind, c, h, w, kh, kw, sh, sw, same);
    pool_case_ pc;
    char what[160];
    case_name_(what, sizeof what, kind, &g, same, n);
    bool ok = case_init_(&pc, kind, g, same, max_batch, n, data, seed);
    CU_ASSERT_FATAL(ok);
    size_t in_n = (size_t)n * c * h * w, out_n = (size_t)n * c * g.oh * g.ow;
    float *want_y = lp_test_floats(out_n), *want_dx = lp_test_floats(in_n);
    int *arg = malloc(out_n * sizeof *arg);
    CU_ASSERT_FATAL(arg != NULL);
    lp_ref_pool_forward(&g, n, pc.x, want_y, arg);
    LP_TEST_OK(lp_ref_pool_backward(&g, n, pc.dy, arg, want_dx, NULL));

    LP_TEST_OK(lp_network_forward(pc.r.net, n, true));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, pc.r.l->out, 0, out_n * 4, pc.y));
    bool exact = g.max; /* averages divide, and OpenCL division need not round correctly */
    CU_ASSERT(lp_test_close(pc.y, want_y, out_n, exact ? 0.0f : 1e-6f, exact ? 0.0f : 1e-5f, what));
    LP_TEST_OK(lp_network_backward(pc.r.net, n));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, pc.r.in->dout, 0, pc.nin * 4, pc.dx));
    CU_ASSERT(
        lp_test_close(pc.dx, want_dx, in_n, exact ? 0.0f : 1e-6f, exact ? 0.0f : 1e-5f, what));
    int touched = 0;
    for (size_t i = in_n; i < pc.nin; ++i)
        touched += pc.dx[i] != SENTINEL_;
    CU_ASSERT_EQUAL(touched, 0);
    /* Inference gives the same values (max pooling still records its argmax). */
    LP_TEST_OK(lp_network_forward(pc.r.net, n, false));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, pc.r.l->out, 0, out_n * 4, pc.y));
    CU_ASSERT(lp_test_close(pc.y, want_y, out_n, exact ? 0.0f : 1e-6f, exact ? 0.0f : 1e-5f, what));
    free(want_y);
    free(want_dx);
    free(arg);
    case_free_(&pc);
}

/* Backward against central differences of L = sum(dy * y) over the first n samples, with
 * y from the device. Dyadic inputs keep every max window's winner under the step. */
static void check_pool_fd_(lp_layer_kind kind, int c, int h, int w, int kh, int kw, int sh, int sw,
                           bool same, int n, uint64_t seed) {
    geo_ g = geo_make_(kind, c, h, w, kh, kw, sh, sw, same);
    pool_case_ pc;
    char what[160];
    case_name_(what, sizeof what, kind, &g, same, n);
    bool ok = case_init_(&pc, kind, g, same, n, n, DATA_DYADIC, seed);
    CU_ASSERT_FATAL(ok);
    LP_TEST_OK(lp_network_forward(pc.r.net, n, true));
    LP_TEST_OK(lp_network_backward(pc.r.net, n));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, pc.r.in->dout, 0, pc.nin * 4, pc.dx));
    const float step = 1.0f / 128.0f;
    int bad = 0, nonzero = 0;
    for (size_t i = 0; i < pc.nin; ++i) {
        float keep = pc.x[i];
        double loss[2];
        for (int side = 0; side < 2; ++side) {
            pc.x[i] = side ? keep - step : keep + step;
            LP_TEST_OK(lp_buffer_write(lp_test_rt, pc.r.in->out, 0, pc.nin * 4, pc.x));
            LP_TEST_OK(lp_network_forward(pc.r.net, n, true));
            LP_TEST_OK(lp_buffer_read(lp_test_rt, pc.r.l->out, 0, pc.nout * 4, pc.y));
            loss[side] = 0.0;
            for (size_t o = 0; o < pc.nout; ++o)
                loss[side] += (double)pc.dy[o] * pc.y[o];
        }
        pc.x[i] = keep;
        double fd = (loss[0] - loss[1]) / (2.0 * step);
        double tol = 1e-4 + 1e-3 * fabs(fd);
        if (!(fabs(pc.dx[i] - fd) <= tol) && bad++ < 5)
            printf("\n  %s: dx[%zu] = %.7g, finite difference %.7g\n", what, i, pc.dx[i], fd);
        nonzero += fd != 0.0;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(nonzero > 0);
    case_free_(&pc);
}

/* ---- tests --------------------------------------------------------------------------------- */

/* 7x5 planes; windows 2x2 and 3x2; strides 1 and 2; valid and same; batches of 7 (the
 * whole buffer) and 1 of 3. */
static void sweep_(lp_layer_kind kind) {
    const int win[2][2] = {{2, 2}, {3, 2}};
    const int c = 3;
    uint64_t seed = kind == LP_LAYER_MAXPOOL ? 100 : 200;
    for (int wi = 0; wi < 2; ++wi)
        for (int s = 1; s <= 2; ++s)
            for (int same = 0; same < 2; ++same) {
                check_pool_(kind, c, 7, 5, win[wi][0], win[wi][1], s, s, same, 7, 7, DATA_RANDOM,
                            seed++);
                check_pool_(kind, c, 7, 5, win[wi][0], win[wi][1], s, s, same, 3, 1, DATA_RANDOM,
                            seed++);
            }
    /* Mixed strides, and a stride larger than the window (pixels in no window). */
    check_pool_(kind, c, 7, 5, 3, 2, 1, 2, true, 4, 3, DATA_RANDOM, seed++);
    check_pool_(kind, c, 7, 5, 2, 2, 3, 3, false, 4, 3, DATA_RANDOM, seed++);
    check_pool_(kind, c, 7, 5, 2, 2, 3, 3, true, 4, 3, DATA_RANDOM, seed++);
}

static void test_maxpool(void) {
    sweep_(LP_LAYER_MAXPOOL);
    /* 2x2 at stride 2, every window inside the plane: on CPUs its own kernel, 8 windows at a
     * time and the rest one by one (odd height and 18 columns out; same on even sizes). */
    check_pool_(LP_LAYER_MAXPOOL, 3, 7, 37, 2, 2, 2, 2, false, 4, 3, DATA_RANDOM, 150);
    check_pool_(LP_LAYER_MAXPOOL, 2, 6, 34, 2, 2, 2, 2, true, 3, 3, DATA_RANDOM, 151);
}

static void test_avgpool(void) {
    sweep_(LP_LAYER_AVGPOOL);
}

/* Many equal values (and whole constant windows): the first maximum in the window wins. */
static void test_maxpool_ties(void) {
    check_pool_(LP_LAYER_MAXPOOL, 2, 7, 5, 3, 2, 1, 1, true, 7, 7, DATA_TIES, 300);
    check_pool_(LP_LAYER_MAXPOOL, 2, 7, 5, 2, 2, 2, 2, false, 3, 2, DATA_TIES, 301);
    check_pool_(LP_LAYER_MAXPOOL, 2, 5, 35, 2, 2, 2, 2, false, 3, 2, DATA_TIES, 303);
    check_pool_(LP_LAYER_AVGPOOL, 2, 7, 5, 3, 2, 2, 1, true, 3, 2, DATA_TIES, 302);
}

static void test_globalavgpool(void) {
    check_pool_(LP_LAYER_GLOBALAVGPOOL, 3, 7, 5, 0, 0, 0, 0, false, 7, 7, DATA_RANDOM, 400);
    check_pool_(LP_LAYER_GLOBALAVGPOOL, 3, 7, 5, 0, 0, 0, 0, false, 3, 1, DATA_RANDOM, 401);
    check_pool_(LP_LAYER_GLOBALAVGPOOL, 5, 1, 1, 0, 0, 0, 0, false, 2, 2, DATA_RANDOM, 402);
    check_pool_(LP_LAYER_GLOBALAVGPOOL, 1, 1, 9, 0, 0, 0, 0, false, 2, 1, DATA_RANDOM, 403);
}

static void test_finite_differences(void) {
    const int n = 2;
    check_pool_fd_(LP_LAYER_MAXPOOL, 2, 7, 5, 3, 2, 1, 1, true, n, 500);
    check_pool_fd_(LP_LAYER_MAXPOOL, 2, 7, 5, 2, 2, 2, 2, false, n, 501);
    check_pool_fd_(LP_LAYER_AVGPOOL, 2, 7, 5, 3, 2, 2, 2, true, n, 502);
    check_pool_fd_(LP_LAYER_AVGPOOL, 2, 7, 5, 2, 2, 1, 1, false, n, 503);
    check_pool_fd_(LP_LAYER_GLOBALAVGPOOL, 2, 7, 5, 0, 0, 0, 0, false, n, 504);
}

/* Without need_dx, backward writes nothing (no gradient buffer upstream is needed). */
static void test_no_dx(void) {
    lp_layer_spec spec = {.kind = LP_LAYER_MAXPOOL, .line = 2, .name = "pool"};
    spec.in = (lp_shape){2, 7, 5};
    spec.out = (lp_shape){2, 3, 2};
    spec.u.pool = (lp_pool_spec){2, 2, 2, 2, LP_PAD_VALID};
    rig_ r;
    LP_TEST_OK(rig_build_(&r, &spec, 2, false, false));
    size_t nin = 2 * 70, nout = 2 * 12;
    float *x = lp_test_floats(nin), *dy = lp_test_floats(nout);
    for (size_t i = 0; i < nin; ++i)
        x[i] = (float)i;
    for (size_t i = 0; i < nout; ++i)
        dy[i] = 1.0f;
    LP_TEST_OK(lp_buffer_write(lp_test_rt, r.in->out, 0, nin * 4, x));
    LP_TEST_OK(lp_buffer_write(lp_test_rt, r.l->dout, 0, nout * 4, dy));
    LP_TEST_OK(lp_network_forward(r.net, 2, true));
    LP_TEST_OK(lp_network_backward(r.net, 2));
    LP_TEST_OK(lp_runtime_finish(lp_test_rt));
    free(x);
    free(dy);
    rig_free_(&r);
}

static void expect_status_(const lp_layer_spec *spec, bool need_dx, bool input_dout,
                           lp_status want) {
    rig_ r;
    lp_status s = rig_build_(&r, spec, 2, need_dx, input_dout);
    CU_ASSERT_EQUAL(s, want);
    if (s != want) printf("\n  expected %s, got %s\n", lp_status_name(want), lp_status_name(s));
    rig_free_(&r);
}

/* The parser guarantees a consistent spec, so the layer asserts it: a hand-built spec that
 * contradicts itself is an LP_ERR_INTERNAL, never a crash. A window that cannot exist is
 * refused when it is worked out (lp_window_make, here in the rig as in the parser). */
static void test_invalid(void) {
    lp_layer_spec spec = {.kind = LP_LAYER_AVGPOOL, .line = 2, .name = "pool"};
    spec.in = (lp_shape){2, 7, 5};
    spec.out = (lp_shape){2, 4, 3}; /* same padding's shape, but the spec says valid */
    spec.u.pool = (lp_pool_spec){2, 2, 2, 2, LP_PAD_VALID};
    expect_status_(&spec, false, false, LP_ERR_INTERNAL);
    spec.u.pool.padding = LP_PAD_SAME;
    spec.u.pool.stride_w = 0;
    expect_status_(&spec, false, false, LP_ERR_INVALID_ARG);
    spec.u.pool.stride_w = 2;
    /* needs dx, but the layer below has no dout */
    expect_status_(&spec, true, false, LP_ERR_INTERNAL);
    spec.u.pool.ph = 8; /* valid window larger than the plane */
    spec.u.pool.padding = LP_PAD_VALID;
    spec.out = (lp_shape){2, 0, 2};
    expect_status_(&spec, false, false, LP_ERR_INVALID_ARG);
    spec = (lp_layer_spec){.kind = LP_LAYER_GLOBALAVGPOOL, .line = 2, .name = "gap"};
    spec.in = (lp_shape){2, 7, 5};
    spec.out = (lp_shape){2, 7, 5};
    expect_status_(&spec, false, false, LP_ERR_INTERNAL);
}

/* Through lp_network_create with a hand-made model: the factory builds pooling layers and
 * a dense layer reads their output. */
static void test_network_factory(void) {
    lp_layer_spec layers[5] = {
        {.kind = LP_LAYER_INPUT, .line = 1, .name = "input"},
        {.kind = LP_LAYER_MAXPOOL, .line = 5, .name = "maxpool"},
        {.kind = LP_LAYER_AVGPOOL, .line = 9, .name = "avgpool"},
        {.kind = LP_LAYER_GLOBALAVGPOOL, .line = 13, .name = "gap"},
        {.kind = LP_LAYER_DENSE, .line = 15, .name = "dense"},
    };
    layers[0].in = layers[0].out = (lp_shape){3, 7, 5};
    layers[1].in = layers[0].out;
    layers[1].out = (lp_shape){3, 4, 3};
    layers[1].u.pool = (lp_pool_spec){2, 2, 2, 2, LP_PAD_SAME};
    layers[2].in = layers[1].out;
    layers[2].out = (lp_shape){3, 2, 2};
    layers[2].u.pool = (lp_pool_spec){3, 2, 1, 1, LP_PAD_VALID};
    layers[3].in = layers[2].out;
    layers[3].out = (lp_shape){3, 1, 1};
    layers[4].in = layers[3].out;
    layers[4].out = (lp_shape){4, 1, 1};
    layers[4].u.dense = (lp_dense_spec){.units = 4, .use_bias = true};
    /* What the parser works out for each pooling layer. */
    for (int i = 1; i <= 2; ++i) {
        const lp_pool_spec *p = &layers[i].u.pool;
        LP_TEST_OK(lp_window_make(layers[i].in.h, layers[i].in.w, p->ph, p->pw, p->stride_h,
                                  p->stride_w, p->padding, &layers[i].window));
    }
    LP_TEST_OK(lp_window_make(2, 2, 2, 2, 2, 2, LP_PAD_VALID, &layers[3].window));
    lp_model_spec model = {.source = "hand-made", .layers = layers, .n_layers = 5};
    lp_network *net = NULL;
    LP_TEST_OK(lp_network_create(lp_test_rt, &model, 3, &net));
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    size_t np = lp_network_param_count(net), nx = 3 * 105;
    float *buf = lp_test_floats(nx > np ? nx : np);
    uint64_t rng = 600;
    for (size_t i = 0; i < nx; ++i)
        buf[i] = lp_test_uniform(&rng, -1.0f, 1.0f);
    LP_TEST_OK(lp_buffer_write(lp_test_rt, lp_network_input(net), 0, nx * 4, buf));
    for (size_t i = 0; i < np; ++i)
        buf[i] = lp_test_uniform(&rng, -1.0f, 1.0f);
    LP_TEST_OK(lp_buffer_write(lp_test_rt, lp_network_params(net), 0, np * 4, buf));
    LP_TEST_OK(lp_network_forward(net, 3, true));
    float logits[12];
    LP_TEST_OK(lp_buffer_read(lp_test_rt, lp_network_logits(net), 0, sizeof logits, logits));
    int finite = 0;
    for (int i = 0; i < 12; ++i)
        finite += isfinite(logits[i]) != 0;
    CU_ASSERT_EQUAL(finite, 12);
    free(buf);
    lp_network_destroy(net);
}

/* Each check by value and by plane (lp_test_each_kernel_form). */
static void test_maxpool_each_form(void) {
    lp_test_each_kernel_form(test_maxpool);
}
static void test_avgpool_each_form(void) {
    lp_test_each_kernel_form(test_avgpool);
}
static void test_maxpool_ties_each_form(void) {
    lp_test_each_kernel_form(test_maxpool_ties);
}
static void test_globalavgpool_each_form(void) {
    lp_test_each_kernel_form(test_globalavgpool);
}
static void test_finite_differences_each_form(void) {
    lp_test_each_kernel_form(test_finite_differences);
}

static void register_suites(void) {
    CU_pSuite su = CU_add_suite("pool", NULL, NULL);
    /* First: under Oclgrind 21.10, buffers used by kernels and then released leave stale
     * shadow state behind, and a dense layer built afterwards gets false "uninitialized
     * value" reports on its kernel-only activation buffers (see cltest_gradcheck.c). */
    CU_add_test(su, "built by lp_network_create", test_network_factory);
    CU_add_test(su, "maxpool vs plain C", test_maxpool_each_form);
    CU_add_test(su, "avgpool vs plain C", test_avgpool_each_form);
    CU_add_test(su, "ties: first maximum in the window", test_maxpool_ties_each_form);
    CU_add_test(su, "globalavgpool vs plain C", test_globalavgpool_each_form);
    CU_add_test(su, "backward vs finite differences", test_finite_differences_each_form);
    CU_add_test(su, "no dx without need_dx", test_no_dx);
    CU_add_test(su, "invalid shapes and windows", test_invalid);
}

int main(void) {
    return lp_cltest_main("cltest_pool", register_suites);
}
