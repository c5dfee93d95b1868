/* [conv2d] on the device against plain-C loops in double: the forward pass, the kernel,
 * bias and input gradients at odd shapes (strides, paddings, non-square inputs and
 * kernels, batches, several chunks), and all three gradients against central finite
 * differences on a tiny network; both through im2col + GEMM and through the direct path. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/network.h"
#include "laperm/ops_conv.h"
#include "layer.h"
#include "lp_test.h"
#include "reference.h"

/* ---- the reference -------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    int cin, ih, iw, filters, kh, kw, sh, sw;
    lp_padding pad;
    bool bias, relu;
    int n, max_batch;
    bool pre;            /* a 1x1 conv in front, so that this layer computes dx */
    unsigned long chunk; /* > 0: LAPERM_CONV_COL_BYTES sized for this many samples */
} case_;

/* TensorFlow's rule, written out independently of lp_window_axis. */
static void axis_(int in, int k, int s, lp_padding pad, int *out, int *before) {
    if (pad == LP_PAD_VALID) {
        *out = (in - k) / s + 1;
        *before = 0;
        return;
    }
    *out = (in + s - 1) / s;
    int total = (*out - 1) * s + k - in;
    *before = total > 0 ? total / 2 : 0;
}

typedef struct {
    int oh, ow, pt, pl;
    size_t K, P, xs, ys; /* window, output pixels, input and output values per sample */
} dims_;

/* The [conv2d] path the fixtures' networks take: GEMM, or direct for the tests of that
 * path (layers it cannot take fall back to GEMM). */
static lp_conv_algo conv_algo_ = LP_CONV_ALGO_GEMM;

static dims_ dims_of_(const case_ *c) {
    dims_ d;
    axis_(c->ih, c->kh, c->sh, c->pad, &d.oh, &d.pt);
    axis_(c->iw, c->kw, c->sw, c->pad, &d.ow, &d.pl);
    d.K = (size_t)c->cin * c->kh * c->kw;
    d.P = (size_t)d.oh * d.ow;
    d.xs = (size_t)c->cin * c->ih * c->iw;
    d.ys = (size_t)c->filters * d.P;
    return d;
}

/* The case as host/reference.h's convolution. */
static lp_ref_conv ref_of_(const case_ *c, const dims_ *d) {
    return (lp_ref_conv){.cin = c->cin,
                         .ih = c->ih,
                         .iw = c->iw,
                         .filters = c->filters,
                         .kh = c->kh,
                         .kw = c->kw,
                         .sh = c->sh,
                         .sw = c->sw,
                         .pt = d->pt,
                         .pl = d->pl,
                         .oh = d->oh,
                         .ow = d->ow,
                         .bias = c->bias,
                         .relu = c->relu};
}

/* z (n, F, oh, ow) = the convolution plus bias, before the activation; zabs the sums of
 * absolute terms (the scale of float rounding in each output). */
static void ref_forward_(const case_ *c, const dims_ *d, const float *x, const float *w,
                         const float *b, int n, double *z, double *zabs) {
    lp_ref_conv r = ref_of_(c, d);
    lp_ref_conv_forward(&r, x, w, b, n, z, zabs);
}

/* Gradients from g = d loss / d out masked by the device output (> 0 when relu), the
 * input gradient scattered (the device gathers). *abs: sums of absolute terms. */
static void ref_backward_(const case_ *c, const dims_ *d, const float *x, const float *w,
                          const float *out, const float *dout, int n, double *dw, double *dwabs,
                          double *db, double *dbabs, double *dx, double *dxabs) {
    lp_ref_conv r = ref_of_(c, d);
    lp_ref_conv_backward(&r, x, w, out, dout, n, dw, dwabs, db, dbabs, dx, dxabs);
}

/* ---- networks ------------------------------------------------------------------------------- */

typedef struct {
    case_ c;
    dims_ d;
    lp_model_spec spec; /* layers malloc'd, so lp_model_free frees it */
    lp_network *net;
    int conv; /* index of the layer under test */
    size_t n_params, w_off, b_off;
    float *params, *x, *dout; /* host copies of what was uploaded */
} fixture_;

static lp_layer_spec conv_layer_(const char *name, lp_shape in, lp_shape out, int filters, int kh,
                                 int kw, int sh, int sw, lp_padding pad, bool bias, bool relu) {
    lp_layer_spec l;
    memset(&l, 0, sizeof l);
    l.kind = LP_LAYER_CONV2D;
    snprintf(l.name, sizeof l.name, "%s", name);
    l.in = in;
    l.out = out;
    l.u.conv = (lp_conv2d_spec){.filters = filters,
                                .kh = kh,
                                .kw = kw,
                                .stride_h = sh,
                                .stride_w = sw,
                                .padding = pad,
                                .use_bias = bias,
                                .activation = relu ? LP_ACT_RELU : LP_ACT_NONE,
                                .kernel_init = LP_INIT_HE_UNIFORM,
                                .bias_init = LP_INIT_ZEROS,
                                .permute = true};
    /* What the parser works out (the reference sizes come from this file's own rule). */
    if (lp_window_make(in.h, in.w, kh, kw, sh, sw, pad, &l.window) != LP_OK)
        printf("\n  lp_window_make: %s\n", lp_last_error());
    return l;
}

static void fixture_free_(fixture_ *f) {
    lp_test_release_network(&f->net, &f->spec);
    free(f->params);
    free(f->x);
    free(f->dout);
    f->net = NULL;
    f->params = f->x = f->dout = NULL;
}

/* Builds input [-> 1x1 conv "pre" (identity)] -> conv from hand-filled specs and uploads
 * random parameters (kernel U(-0.5, 0.5), bias U(-0.3, 0.3)), a random input and a
 * random output gradient, each buffer whole. */
static bool fixture_init_(fixture_ *f, const case_ *c, uint64_t seed) {
    memset(f, 0, sizeof *f);
    f->c = *c;
    f->d = dims_of_(c);
    lp_shape in = {c->cin, c->ih, c->iw}, out = {c->filters, f->d.oh, f->d.ow};
    lp_layer_spec *layers = calloc(3, sizeof *layers);
    if (!layers) return false;
    layers[0].kind = LP_LAYER_INPUT;
    snprintf(layers[0].name, sizeof layers[0].name, "input");
    layers[0].in = layers[0].out = in;
    int k = 1;
    if (c->pre)
        layers[k++] = conv_layer_("pre", in, in, c->cin, 1, 1, 1, 1, LP_PAD_VALID, false, false);
    f->conv = k;
    layers[k++] = conv_layer_("conv", in, out, c->filters, c->kh, c->kw, c->sh, c->sw, c->pad,
                              c->bias, c->relu);
    f->spec.layers = layers;
    f->spec.n_layers = k;

    char budget[32];
    if (c->chunk) {
        size_t per = (f->d.K > (size_t)c->filters ? f->d.K : (size_t)c->filters) * f->d.P * 4;
        snprintf(budget, sizeof budget, "%zu", per * c->chunk + per / 2);
        setenv("LAPERM_CONV_COL_BYTES", budget, 1);
    }
    lp_network_options opt = {.conv_algo = conv_algo_};
    lp_status s = lp_network_create_opts(lp_test_rt, &f->spec, c->max_batch, &opt, &f->net);
    if (c->chunk) unsetenv("LAPERM_CONV_COL_BYTES");
    if (s != LP_OK) {
        printf("\n  %s: building the network: %s\n", c->name, lp_last_error());
        return false;
    }
    int nt = 0;
    const lp_param_tensor *t = lp_network_tensors(f->net, &nt);
    int first = -1;
    for (int i = 0; i < nt; ++i)
        if (t[i].layer == f->conv && first < 0) first = i;
    if (first < 0 || t[first].count != (size_t)c->filters * f->d.K) {
        printf("\n  %s: no kernel tensor of %d x %zu values\n", c->name, c->filters, f->d.K);
        return false;
    }
    f->w_off = t[first].offset;
    f->b_off = c->bias ? t[first + 1].offset : 0;
    f->n_params = lp_network_param_count(f->net);

    uint64_t rng = seed;
    size_t nx = (size_t)c->max_batch * f->d.xs, ny = (size_t)c->max_batch * f->d.ys;
    f->params = calloc(f->n_params, sizeof *f->params);
    f->x = malloc(nx * sizeof *f->x);
    f->dout = malloc(ny * sizeof *f->dout);
    if (!f->params || !f->x || !f->dout) return false;
    if (c->pre) /* identity: the layer under test sees the input itself */
        for (int ch = 0; ch < c->cin; ++ch)
            f->params[t[0].offset + (size_t)ch * c->cin + ch] = 1.0f;
    for (size_t i = 0; i < (size_t)c->filters * f->d.K; ++i)
        f->params[f->w_off + i] = lp_test_uniform(&rng, -0.5f, 0.5f);
    for (int i = 0; c->bias && i < c->filters; ++i)
        f->params[f->b_off + i] = lp_test_uniform(&rng, -0.3f, 0.3f);
    for (size_t i = 0; i < nx; ++i)
        f->x[i] = lp_test_uniform(&rng, -1.0f, 1.0f);
    for (size_t i = 0; i < ny; ++i)
        f->dout[i] = lp_test_uniform(&rng, -1.0f, 1.0f);
    s = lp_buffer_write(lp_test_rt, lp_network_params(f->net), 0, f->n_params * 4, f->params);
    if (s == LP_OK) s = lp_buffer_write(lp_test_rt, lp_network_input(f->net), 0, nx * 4, f->x);
    if (s == LP_OK) s = lp_buffer_write(lp_test_rt, lp_network_dlogits(f->net), 0, ny * 4, f->dout);
    if (s != LP_OK) printf("\n  %s: uploading: %s\n", c->name, lp_last_error());
    return s == LP_OK;
}

/* Forward and backward of one case against the reference; backward twice, which must
 * give the same bits. */
static void check_case_(const case_ *c, uint64_t seed) {
    fixture_ f;
    bool ready = fixture_init_(&f, c, seed);
    CU_ASSERT(ready);
    if (!ready) {
        fixture_free_(&f);
        return;
    }
    const dims_ *d = &f.d;
    int n = c->n;
    size_t ny = (size_t)n * d->ys, nx = (size_t)n * d->xs, nw = (size_t)c->filters * d->K;
    float *out = malloc(ny * sizeof *out), *grads = malloc(f.n_params * sizeof *grads);
    float *grads2 = malloc(f.n_params * sizeof *grads2), *dx = malloc(nx * sizeof *dx);
    float *dx2 = malloc(nx * sizeof *dx2);
    double *z = malloc(ny * sizeof *z), *zabs = malloc(ny * sizeof *zabs);
    double *rw = malloc(nw * sizeof *rw), *rwabs = malloc(nw * sizeof *rwabs);
    double *rb = malloc((size_t)c->filters * sizeof *rb);
    double *rbabs = malloc((size_t)c->filters * sizeof *rbabs);
    double *rx = malloc(nx * sizeof *rx), *rxabs = malloc(nx * sizeof *rxabs);
    CU_ASSERT_FATAL(out && grads && grads2 && dx && dx2 && z && zabs && rw && rwabs && rb &&
                    rbabs && rx && rxabs);

    LP_TEST_OK(lp_network_forward(f.net, n, true));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, lp_network_logits(f.net), 0, ny * 4, out));
    const float *w = f.params + f.w_off, *b = f.params + f.b_off;
    ref_forward_(c, d, f.x, w, b, n, z, zabs);
    for (size_t i = 0; c->relu && i < ny; ++i)
        z[i] = fmax(z[i], 0.0);
    CU_ASSERT(lp_test_close_terms(out, z, zabs, NULL, ny, "out", c->name));

    LP_TEST_OK(lp_network_backward(f.net, n));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, lp_network_grads(f.net), 0, f.n_params * 4, grads));
    if (c->pre)
        LP_TEST_OK(lp_buffer_read(lp_test_rt, f.net->layers[f.conv - 1].dout, 0, nx * 4, dx));
    ref_backward_(c, d, f.x, w, out, f.dout, n, rw, rwabs, rb, rbabs, rx, rxabs);
    CU_ASSERT(lp_test_close_terms(grads + f.w_off, rw, rwabs, NULL, nw, "dW", c->name));
    if (c->bias)
        CU_ASSERT(lp_test_close_terms(grads + f.b_off, rb, rbabs, NULL, (size_t)c->filters, "db",
                                      c->name));
    if (c->pre) CU_ASSERT(lp_test_close_terms(dx, rx, rxabs, NULL, nx, "dx", c->name));

    /* Again: same bits (the columns are now recomputed when backward overwrote them). */
    LP_TEST_OK(lp_network_backward(f.net, n));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, lp_network_grads(f.net), 0, f.n_params * 4, grads2));
    CU_ASSERT(memcmp(grads + f.w_off, grads2 + f.w_off, nw * 4) == 0);
    if (c->bias) CU_ASSERT(memcmp(grads + f.b_off, grads2 + f.b_off, (size_t)c->filters * 4) == 0);
    if (c->pre) {
        LP_TEST_OK(lp_buffer_read(lp_test_rt, f.net->layers[f.conv - 1].dout, 0, nx * 4, dx2));
        CU_ASSERT(memcmp(dx, dx2, nx * 4) == 0);
    }

    free(out);
    free(grads);
    free(grads2);
    free(dx);
    free(dx2);
    free(z);
    free(zabs);
    free(rw);
    free(rwabs);
    free(rb);
    free(rbabs);
    free(rx);
    free(rxabs);
    fixture_free_(&f);
}

#define V_ LP_PAD_VALID
#define S_ LP_PAD_SAME

/* name, cin, ih, iw, filters, kh, kw, sh, sw, pad, bias, relu, n, max_batch, pre, chunk */
static const case_ cases_[] = {
    {"1x1 s1 valid", 1, 7, 5, 1, 1, 1, 1, 1, V_, true, false, 1, 1, false, 0},
    {"3x3 s1 same", 3, 7, 5, 4, 3, 3, 1, 1, S_, true, true, 7, 7, true, 0},
    {"3x3 s2 valid", 3, 7, 5, 4, 3, 3, 2, 2, V_, false, true, 7, 7, true, 0},
    {"4x4 s2 same", 1, 7, 5, 4, 4, 4, 2, 2, S_, true, true, 1, 1, true, 0},
    {"4x4 s2 same even", 3, 6, 6, 4, 4, 4, 2, 2, S_, true, false, 7, 7, true, 0},
    {"5x5 s1 same", 3, 7, 5, 1, 5, 5, 1, 1, S_, true, false, 7, 7, false, 0},
    {"5x5 s1 valid", 3, 7, 5, 4, 5, 5, 1, 1, V_, true, true, 7, 7, true, 0},
    {"5x5 s2 same", 1, 5, 7, 4, 5, 5, 2, 2, S_, false, false, 7, 7, true, 0},
    {"3x2 s2x1 same", 3, 7, 5, 4, 3, 2, 2, 1, S_, true, true, 7, 7, true, 0},
    {"3x2 s1x2 valid", 1, 7, 5, 4, 3, 2, 1, 2, V_, false, true, 1, 1, true, 0},
    {"1x1 s2 same", 3, 7, 5, 4, 1, 1, 2, 2, S_, true, true, 7, 7, true, 0},
    {"3x3 s1 valid, 5 of 7", 3, 7, 5, 4, 3, 3, 1, 1, V_, true, true, 5, 7, true, 0},
    {"3x3 s1 same, chunks of 2", 3, 7, 5, 4, 3, 3, 1, 1, S_, true, true, 7, 7, true, 2},
    {"3x2 s2x1 valid, chunks of 3, 7 of 9", 3, 7, 5, 4, 3, 2, 2, 1, V_, true, true, 7, 9, true, 3},
    {"kernel as large as the input", 3, 3, 2, 4, 3, 2, 1, 1, V_, true, false, 7, 7, true, 0},
    /* the GEMM path's whole window (conv2d_unit.c): products on the input as it lies */
    {"kernel as large as the input, s2, bias, 5 of 7", 4, 5, 5, 6, 5, 5, 2, 2, V_, true, true, 5, 7,
     true, 0},
};

/* Under Oclgrind: few and small (each CLBlast launch is simulated). */
static const case_ sim_cases_[] = {
    {"3x3 s1 same", 3, 5, 4, 4, 3, 3, 1, 1, S_, true, true, 2, 2, true, 0},
    {"4x4 s2 same", 1, 7, 5, 4, 4, 4, 2, 2, S_, true, true, 1, 1, true, 0},
    {"3x2 s2x1 valid, chunks of 2, 3 of 4", 3, 5, 4, 4, 3, 2, 2, 1, V_, false, true, 3, 4, true, 2},
    {"5x5 s2 same", 1, 5, 7, 4, 5, 5, 2, 2, S_, false, false, 2, 2, true, 0},
    {"1x1 s1 valid", 1, 7, 5, 1, 1, 1, 1, 1, V_, true, false, 1, 1, false, 0},
    {"kernel as large as the input", 3, 3, 2, 4, 3, 2, 1, 1, V_, true, true, 3, 3, true, 0},
};

static void test_cases(void) {
    bool sim = lp_test_simulator();
    const case_ *list = sim ? sim_cases_ : cases_;
    size_t count = sim ? sizeof sim_cases_ / sizeof *sim_cases_ : sizeof cases_ / sizeof *cases_;
    for (size_t i = 0; i < count; ++i)
        check_case_(&list[i], 100 + i);
}

/* ---- finite differences --------------------------------------------------------------------- */

/* loss = sum(out * r), in double, from a forward pass on the device after uploading the
 * host parameters and input. */
static double device_loss_(fixture_ *f, const float *r) {
    size_t ny = (size_t)f->c.n * f->d.ys;
    float *out = malloc(ny * sizeof *out);
    CU_ASSERT_FATAL(out != NULL);
    LP_TEST_OK(
        lp_buffer_write(lp_test_rt, lp_network_params(f->net), 0, f->n_params * 4, f->params));
    LP_TEST_OK(lp_buffer_write(lp_test_rt, lp_network_input(f->net), 0,
                               (size_t)f->c.max_batch * f->d.xs * 4, f->x));
    LP_TEST_OK(lp_network_forward(f->net, f->c.n, true));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, lp_network_logits(f->net), 0, ny * 4, out));
    double loss = 0.0;
    for (size_t i = 0; i < ny; ++i)
        loss += (double)out[i] * r[i];
    free(out);
    return loss;
}

/* ReLU pre-activations at the current host values into z; with `base`, true when one of
 * them is on another side of zero than in base or within 1e-4 of it: the difference then
 * straddles a kink and says nothing about the gradient. */
static bool kink_(fixture_ *f, double *z, const double *base) {
    if (!f->c.relu) return false;
    ref_forward_(&f->c, &f->d, f->x, f->params + f->w_off, f->params + f->b_off, f->c.n, z, NULL);
    for (size_t i = 0; base && i < (size_t)f->c.n * f->d.ys; ++i)
        if (fabs(z[i]) < 1e-4 || (z[i] > 0.0) != (base[i] > 0.0)) return true;
    return false;
}

/* Central difference of the loss along *v; NAN when the step crosses a kink. z and base
 * hold n * F * P values each. */
static double central_(fixture_ *f, float *v, const float *r, double *z, double *base) {
    /* The loss is linear between kinks, so any step is exact up to rounding. */
    const float eps = 0.01f;
    float keep = *v;
    kink_(f, base, NULL);
    *v = keep + eps;
    bool kink = kink_(f, z, base);
    double up = device_loss_(f, r);
    float hi = *v;
    *v = keep - eps;
    kink = kink_(f, z, base) || kink;
    double down = device_loss_(f, r);
    double step = (double)hi - (double)*v;
    *v = keep;
    return kink ? NAN : (up - down) / step;
}

static int compare_fd_(double analytic, double fd, const char *what, size_t i, int *skipped) {
    if (isnan(fd)) {
        ++*skipped;
        return 0;
    }
    double tol = 5e-5 + 1e-3 * fabs(fd);
    /* Winograd's forward rounds up to (cin + 35) u E, E up to 860 times the direct sum's
     * scale for F(4x4,3x3) (16 for F(2x2)): the differences, divided by the step, carry
     * that much more noise. A wrong gradient is still off by far more. */
    if (conv_algo_ == LP_CONV_ALGO_WINOGRAD) tol = 1e-3 + 1e-2 * fabs(fd);
    if (fabs(analytic - fd) <= tol) return 0;
    printf("\n  %s[%zu]: analytic %.7g, finite difference %.7g (tol %.2g)\n", what, i, analytic, fd,
           tol);
    return 1;
}

static void check_fd_(const case_ *c, uint64_t seed) {
    fixture_ f;
    bool ready = fixture_init_(&f, c, seed);
    CU_ASSERT(ready);
    if (!ready) {
        fixture_free_(&f);
        return;
    }
    /* Winograd fits every 3x3 stride-1 layer on every device: it must have been taken. */
    if (conv_algo_ == LP_CONV_ALGO_WINOGRAD)
        CU_ASSERT_EQUAL(lp_network_conv_path(f.net, f.conv), LP_CONV_ALGO_WINOGRAD);
    size_t ny = (size_t)c->n * f.d.ys, nx = (size_t)c->n * f.d.xs, nw = (size_t)c->filters * f.d.K;
    float *grads = malloc(f.n_params * sizeof *grads), *dx = malloc(nx * sizeof *dx);
    double *z = malloc(ny * sizeof *z), *base = malloc(ny * sizeof *base);
    CU_ASSERT_FATAL(grads && dx && z && base);
    /* d loss / d out = r: the random output gradient already uploaded. */
    LP_TEST_OK(lp_network_forward(f.net, c->n, true));
    LP_TEST_OK(lp_network_backward(f.net, c->n));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, lp_network_grads(f.net), 0, f.n_params * 4, grads));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, f.net->layers[f.conv - 1].dout, 0, nx * 4, dx));
    int bad = 0, skipped = 0, checked = 0;
    for (size_t i = 0; i < nw; ++i, ++checked)
        bad +=
            compare_fd_(grads[f.w_off + i], central_(&f, &f.params[f.w_off + i], f.dout, z, base),
                        "dW", i, &skipped);
    for (size_t i = 0; c->bias && i < (size_t)c->filters; ++i, ++checked)
        bad +=
            compare_fd_(grads[f.b_off + i], central_(&f, &f.params[f.b_off + i], f.dout, z, base),
                        "db", i, &skipped);
    for (size_t i = 0; i < nx; ++i, ++checked)
        bad += compare_fd_(dx[i], central_(&f, &f.x[i], f.dout, z, base), "dx", i, &skipped);
    CU_ASSERT_EQUAL(bad, 0);
    if (skipped * 4 >= checked)
        printf("\n  %s: %d of %d coordinates near a kink\n", c->name, skipped, checked);
    CU_ASSERT(skipped * 4 < checked); /* the kink rule must leave most coordinates checked */
    free(grads);
    free(dx);
    free(z);
    free(base);
    fixture_free_(&f);
}

static void test_finite_differences(void) {
    static const case_ fd[] = {
        {"fd 3x2 s2x1 same relu", 2, 4, 5, 3, 3, 2, 2, 1, S_, true, true, 2, 2, true, 0},
        {"fd 2x3 s1 valid", 2, 4, 5, 2, 2, 3, 1, 1, V_, true, false, 2, 3, true, 0},
        {"fd kernel as large as the input", 2, 3, 4, 3, 3, 4, 1, 1, V_, true, true, 3, 3, true, 0},
    };
    for (size_t i = 0; i < sizeof fd / sizeof *fd; ++i)
        check_fd_(&fd[i], 200 + i);
}

/* The same cases and finite differences through the direct path (laperm/conv_direct.h). */
static void test_cases_direct(void) {
    conv_algo_ = LP_CONV_ALGO_DIRECT;
    test_cases();
    conv_algo_ = LP_CONV_ALGO_GEMM;
}

/* Finite differences through the Winograd path (laperm/conv_winograd.h): 3x3 stride 1,
 * same and valid, planes that end inside a tile. */
static void test_finite_differences_winograd(void) {
    /* Oclgrind 21.10's uninitialised-value plugin segfaults on the Winograd products'
     * register tiles (tests/CMakeLists.txt); cltest_conv_winograd_oclgrind runs the path in
     * the simulator without that plugin. */
    if (lp_test_simulator() && getenv("OCLGRIND_UNINITIALIZED")) {
        printf("\n  (skipped: Oclgrind's value-tracking plugin is on, see tests/CMakeLists.txt)\n");
        return;
    }
    conv_algo_ = LP_CONV_ALGO_WINOGRAD;
    static const case_ fd[] = {
        {"fd winograd 3x3 same relu 5x7", 2, 5, 7, 3, 3, 3, 1, 1, S_, true, true, 2, 2, true, 0},
        {"fd winograd 3x3 valid 6x5", 2, 6, 5, 2, 3, 3, 1, 1, V_, true, false, 2, 3, true, 0},
    };
    /* both tiles: the layers read $LAPERM_WINOGRAD_TILE when they are built */
    const char *old = getenv("LAPERM_WINOGRAD_TILE");
    char *saved = old ? strdup(old) : NULL;
    for (int tile = 2; tile <= 4; tile += 2) {
        setenv("LAPERM_WINOGRAD_TILE", tile == 2 ? "2" : "4", 1);
        for (size_t i = 0; i < sizeof fd / sizeof *fd; ++i)
            check_fd_(&fd[i], 220 + i);
    }
    if (saved)
        setenv("LAPERM_WINOGRAD_TILE", saved, 1);
    else
        unsetenv("LAPERM_WINOGRAD_TILE");
    free(saved);
    conv_algo_ = LP_CONV_ALGO_GEMM;
}

static void test_finite_differences_direct(void) {
    conv_algo_ = LP_CONV_ALGO_DIRECT;
    test_finite_differences();
    static const case_ fd = {
        "fd 5x5 s2 same relu", 2, 6, 5, 2, 5, 5, 2, 2, S_, true, true, 2, 2, true, 0};
    check_fd_(&fd, 210);
    conv_algo_ = LP_CONV_ALGO_GEMM;
}

/* ---- a parsed model --------------------------------------------------------------------- */

/* Layer `index`'s output against the reference applied to layer `index - 1`'s output,
 * both read back; kernel and bias from the network's tensor table. */
static void check_layer_(lp_network *net, int index, const case_ *c, int n) {
    dims_ d = dims_of_(c);
    int nt = 0;
    const lp_param_tensor *t = lp_network_tensors(net, &nt);
    int first = -1;
    for (int i = nt - 1; i >= 0; --i)
        if (t[i].layer == index) first = i;
    CU_ASSERT_FATAL(first >= 0);
    CU_ASSERT_EQUAL(t[first].rank, 4);
    CU_ASSERT(t[first].dims[0] == c->filters && t[first].dims[1] == c->cin &&
              t[first].dims[2] == c->kh && t[first].dims[3] == c->kw);
    CU_ASSERT_EQUAL(t[first].groups, c->filters);
    size_t np = lp_network_param_count(net), nx = (size_t)n * d.xs, ny = (size_t)n * d.ys;
    float *p = malloc(np * sizeof *p), *x = malloc(nx * sizeof *x), *y = malloc(ny * sizeof *y);
    double *z = malloc(ny * sizeof *z), *zabs = malloc(ny * sizeof *zabs);
    CU_ASSERT_FATAL(p && x && y && z && zabs);
    LP_TEST_OK(lp_buffer_read(lp_test_rt, lp_network_params(net), 0, np * 4, p));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, net->layers[index - 1].out, 0, nx * 4, x));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, net->layers[index].out, 0, ny * 4, y));
    const float *b = c->bias ? p + t[first + 1].offset : NULL;
    ref_forward_(c, &d, x, p + t[first].offset, b, n, z, zabs);
    for (size_t i = 0; c->relu && i < ny; ++i)
        z[i] = fmax(z[i], 0.0);
    CU_ASSERT(lp_test_close_terms(y, z, zabs, NULL, ny, "out", c->name));
    free(p);
    free(x);
    free(y);
    free(z);
    free(zabs);
}

/* The model parser's [conv2d] (sizes "HxW", strides, padding, bias) through a network with
 * a dense head: shapes and tensors agree with the layer, and both conv outputs are right. */
static void test_model_text(void) {
    static const char text[] = "[input]\nchannels = 2\nheight = 7\nwidth = 6\n\n"
                               "[conv2d]\nfilters = 3\nkernel = 3x2\nstride = 2x1\n"
                               "padding = same\nactivation = relu\n\n"
                               "[conv2d]\nfilters = 4\nkernel = 2\nbias = false\n\n"
                               "[flatten]\n\n[dense]\nunits = 3\n";
    /* 2x7x6 -> 3x4x6 (same, stride 2x1) -> 4x3x5 (valid) -> 60 -> 3 */
    const case_ c1 = {"model conv 1", 2, 7, 6, 3, 3, 2, 2, 1, S_, true, true, 3, 3, false, 0};
    const case_ c2 = {"model conv 2", 3, 4, 6, 4, 2, 2, 1, 1, V_, false, false, 3, 3, false, 0};
    lp_model_spec spec;
    lp_status s = lp_model_parse_text(text, "conv test model", &spec);
    if (s != LP_OK) printf("\n  parsing: %s\n", lp_last_error());
    CU_ASSERT_EQUAL_FATAL(s, LP_OK);
    lp_network *net = NULL;
    LP_TEST_OK(lp_network_create(lp_test_rt, &spec, 3, &net));
    if (!net) {
        lp_model_free(&spec);
        return;
    }
    uint64_t rng = 300;
    size_t np = lp_network_param_count(net), nx = 3 * 2 * 7 * 6, ny = 3 * 3;
    float *p = malloc(np * sizeof *p), *x = malloc(nx * sizeof *x), *dl = malloc(ny * sizeof *dl);
    CU_ASSERT_FATAL(p && x && dl);
    for (size_t i = 0; i < np; ++i)
        p[i] = lp_test_uniform(&rng, -0.5f, 0.5f);
    for (size_t i = 0; i < nx; ++i)
        x[i] = lp_test_uniform(&rng, -1.0f, 1.0f);
    for (size_t i = 0; i < ny; ++i)
        dl[i] = lp_test_uniform(&rng, -1.0f, 1.0f);
    LP_TEST_OK(lp_buffer_write(lp_test_rt, lp_network_params(net), 0, np * 4, p));
    LP_TEST_OK(lp_buffer_write(lp_test_rt, lp_network_input(net), 0, nx * 4, x));
    LP_TEST_OK(lp_buffer_write(lp_test_rt, lp_network_dlogits(net), 0, ny * 4, dl));
    LP_TEST_OK(lp_network_forward(net, 3, true));
    check_layer_(net, 1, &c1, 3);
    check_layer_(net, 2, &c2, 3);
    LP_TEST_OK(lp_network_backward(net, 3));
    LP_TEST_OK(lp_runtime_finish(lp_test_rt));
    free(p);
    free(x);
    free(dl);
    lp_test_release_network(&net, &spec);
}

/* ---- im2col and col2im directly, in both forms --------------------------------------------- */

/* Geometries written out by hand (pads need not come from a padding rule), and samples
 * s0..s0+cn-1 of n. */
typedef struct {
    const char *name;
    lp_conv_geom g;
    int n, s0, cn;
} layout_case_;

static size_t layout_x_(const layout_case_ *lc) {
    return (size_t)lc->n * lc->g.cin * lc->g.ih * lc->g.iw;
}
static size_t layout_col_(const layout_case_ *lc) {
    return lp_conv_geom_k(&lc->g) * lp_conv_geom_p(&lc->g) * (size_t)lc->cn;
}

/* Calls fn(col index, x index or -1 for padding) for every entry of the chunk's columns. */
static void layout_walk_(const layout_case_ *lc, void (*fn)(size_t, long, void *), void *ctx) {
    const lp_conv_geom *g = &lc->g;
    size_t P = lp_conv_geom_p(g), ncols = (size_t)lc->cn * P, k = 0;
    for (int c = 0; c < g->cin; ++c)
        for (int i = 0; i < g->kh; ++i)
            for (int j = 0; j < g->kw; ++j, ++k)
                for (int s = 0; s < lc->cn; ++s)
                    for (int oy = 0; oy < g->oh; ++oy)
                        for (int ox = 0; ox < g->ow; ++ox) {
                            int y = oy * g->stride_h - g->pad_top + i;
                            int xx = ox * g->stride_w - g->pad_left + j;
                            bool in = y >= 0 && y < g->ih && xx >= 0 && xx < g->iw;
                            long xi = (((long)(lc->s0 + s) * g->cin + c) * g->ih + y) * g->iw + xx;
                            fn(k * ncols + s * P + (size_t)oy * g->ow + ox, in ? xi : -1, ctx);
                        }
}

typedef struct {
    const float *x, *dcol;
    float *col;
    double *dx, *dxabs;
} layout_ref_;

static void im2col_at_(size_t ci, long xi, void *ctx) {
    layout_ref_ *r = ctx;
    r->col[ci] = xi < 0 ? 0.0f : r->x[xi];
}

static void col2im_at_(size_t ci, long xi, void *ctx) {
    layout_ref_ *r = ctx;
    if (xi < 0) return;
    r->dx[xi] += r->dcol[ci];
    r->dxabs[xi] += fabs(r->dcol[ci]);
}

/* im2col in `form` into a column buffer filled with NaN: every entry must be written. */
static bool run_im2col_(const layout_case_ *lc, cl_mem x, lp_conv_form form, float *out) {
    size_t nc = layout_col_(lc);
    float *nan = lp_test_floats(nc);
    lp_test_fill_const(nan, nc, NAN);
    cl_mem col = lp_test_upload(nan, nc * 4);
    free(nan);
    LP_TEST_OK(lp_op_im2col_form(lp_test_rt, &lc->g, x, lc->s0, lc->cn, col, form));
    bool ok = col && lp_test_download(col, nc * 4, out);
    if (col) clReleaseMemObject(col);
    return ok;
}

/* col2im in `form` into an input buffer filled with 7: other samples must keep it. */
static bool run_col2im_(const layout_case_ *lc, cl_mem dcol, lp_conv_form form, float *out) {
    size_t nx = layout_x_(lc);
    lp_test_fill_const(out, nx, 7.0f);
    cl_mem dx = lp_test_upload(out, nx * 4);
    LP_TEST_OK(lp_op_col2im_form(lp_test_rt, &lc->g, dcol, lc->s0, lc->cn, dx, form));
    bool ok = dx && lp_test_download(dx, nx * 4, out);
    if (dx) clReleaseMemObject(dx);
    return ok;
}

/* dx against the double reference inside the chunk, untouched (7) outside it. */
static bool dx_ok_(const layout_case_ *lc, const float *dx, const double *want, const double *mag) {
    size_t plane = (size_t)lc->g.cin * lc->g.ih * lc->g.iw, a = lc->s0 * plane;
    size_t b = a + lc->cn * plane;
    for (size_t i = 0; i < layout_x_(lc); ++i)
        if ((i < a || i >= b) && dx[i] != 7.0f) {
            printf("\n  %s: dx[%zu] outside the chunk written\n", lc->name, i);
            return false;
        }
    return lp_test_close_terms(dx + a, want + a, mag + a, NULL, b - a, "col2im", lc->name);
}

/* Both forms against plain C: im2col exactly, col2im within float rounding, and the two
 * forms' col2im to the bit (they add each value's terms in the same order). */
static void check_layout_(const layout_case_ *lc, uint64_t seed) {
    size_t nx = layout_x_(lc), nc = layout_col_(lc);
    float *x = lp_test_floats(nx), *dcol = lp_test_floats(nc), *col = lp_test_floats(nc);
    float *got = lp_test_floats(nc), *dx = lp_test_floats(nx), *dx2 = lp_test_floats(nx);
    double *rdx = calloc(nx, sizeof *rdx), *rabs = calloc(nx, sizeof *rabs);
    CU_ASSERT_FATAL(rdx && rabs);
    lp_test_fill_uniform(x, nx, &seed, -1.0f, 1.0f);
    lp_test_fill_uniform(dcol, nc, &seed, -1.0f, 1.0f);
    layout_ref_ ref = {x, dcol, col, rdx, rabs};
    layout_walk_(lc, im2col_at_, &ref);
    layout_walk_(lc, col2im_at_, &ref);
    cl_mem xb = lp_test_upload(x, nx * 4), db = lp_test_upload(dcol, nc * 4);
    CU_ASSERT_FATAL(xb && db);
    for (int f = LP_CONV_FORM_PIXELS; f <= LP_CONV_FORM_PLANES; ++f) {
        const char *form = f == LP_CONV_FORM_PIXELS ? "by pixel" : "by plane";
        CU_ASSERT(run_im2col_(lc, xb, (lp_conv_form)f, got));
        bool same = memcmp(got, col, nc * 4) == 0;
        if (!same) printf("\n  %s, %s: im2col differs from plain C\n", lc->name, form);
        CU_ASSERT(same);
        float *out = f == LP_CONV_FORM_PIXELS ? dx : dx2;
        CU_ASSERT(run_col2im_(lc, db, (lp_conv_form)f, out));
        CU_ASSERT(dx_ok_(lc, out, rdx, rabs));
    }
    CU_ASSERT(memcmp(dx, dx2, nx * 4) == 0);
    clReleaseMemObject(xb);
    clReleaseMemObject(db);
    free(x);
    free(dcol);
    free(col);
    free(got);
    free(dx);
    free(dx2);
    free(rdx);
    free(rabs);
}

/* {cin, ih, iw, kh, kw, stride_h, stride_w, pad_top, pad_left, oh, ow} */
static const layout_case_ layout_cases_[] = {
    {"3x3 s1 same", {2, 7, 5, 3, 3, 1, 1, 1, 1, 7, 5}, 3, 0, 3},
    {"5x5 s2, pads 1 and 2", {2, 9, 7, 5, 5, 2, 2, 1, 2, 5, 4}, 2, 0, 2},
    {"5x5 over a 3x2 input", {1, 3, 2, 5, 5, 1, 1, 2, 2, 3, 2}, 2, 0, 2},
    {"1x1 s3, gaps", {2, 8, 7, 1, 1, 3, 3, 0, 0, 3, 3}, 2, 0, 2},
    {"2x2 s3 valid", {1, 8, 8, 2, 2, 3, 3, 0, 0, 3, 3}, 1, 0, 1},
    {"1x1 over 1x1", {5, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1}, 7, 0, 7},
    {"4x4 as large as the input", {3, 4, 4, 4, 4, 1, 1, 0, 0, 1, 1}, 7, 0, 7},
    {"wide rows, 3x3 s1", {1, 4, 37, 3, 3, 1, 1, 1, 1, 4, 37}, 2, 0, 2},
    {"wide rows, 5x5 s2 odd", {1, 5, 41, 5, 5, 2, 2, 2, 2, 3, 21}, 2, 0, 2},
    {"2x3 s1x2, rows all padding", {2, 4, 5, 2, 3, 1, 2, 3, 0, 9, 2}, 2, 0, 2},
    {"3x3 s1, samples 2..4 of 6", {2, 5, 6, 3, 3, 1, 1, 1, 0, 5, 4}, 6, 2, 3},
    {"5x5 s2, sample 6 of 7", {3, 7, 9, 5, 5, 2, 2, 2, 1, 4, 5}, 7, 6, 1},
};

static void test_layouts(void) {
    for (size_t i = 0; i < sizeof layout_cases_ / sizeof *layout_cases_; ++i)
        check_layout_(&layout_cases_[i], 400 + i);
}

/* ---- the gradient layout and the bias gradient's summation order ----------------------------- */

/* The bias gradient has the host's bits, exactly, whether computed alone or beside the
 * rows layout in two chunks; the rows are dy masked by the ReLU, in (F, cn*P) order. */
static void test_bias_order(void) {
    const int n = 5, F = 3, P = 37, grads_off = 2; /* P: two vectors of lanes and a tail */
    size_t nv = (size_t)n * F * P;
    float *dy = lp_test_floats(nv), *y = lp_test_floats(nv), *rows = lp_test_floats(nv);
    float want[3], got[3 + 2], got2[3 + 2];
    uint64_t rng = 77;
    lp_test_fill_uniform(dy, nv, &rng, -1.0f, 1.0f);
    lp_test_fill_uniform(y, nv, &rng, -1.0f, 1.0f);
    for (int f = 0; f < F; ++f)
        want[f] = lp_ref_conv_bias_grad(dy, y, n, F, P, f);
    cl_mem bdy = lp_test_upload(dy, nv * 4), by = lp_test_upload(y, nv * 4);
    cl_mem brows = lp_test_buffer(nv * 4), bpsum = lp_test_buffer(LP_CONV_PSUM_BYTES(n, F));
    cl_mem bg = lp_test_buffer(sizeof got);
    LP_TEST_OK(lp_op_conv_bias_grad(lp_test_rt, bdy, by, true, n, F, P, bpsum, bg, grads_off));
    CU_ASSERT_FATAL(lp_test_download(bg, sizeof got, got));
    CU_ASSERT(memcmp(got + grads_off, want, sizeof want) == 0);
    /* Two chunks, samples 0..1 then 2..4, each laid out as rows (F, cn*P), in each form. */
    int s0s[2] = {0, 2}, cns[2] = {2, 3};
    for (int form = LP_CONV_FORM_PIXELS; form <= LP_CONV_FORM_PLANES; ++form) {
        for (int c = 0; c < 2; ++c) {
            LP_TEST_OK(lp_op_conv_nchw_to_rows_form(lp_test_rt, bdy, by, true, s0s[c], cns[c], F, P,
                                                    brows, bpsum, (lp_conv_form)form));
            CU_ASSERT_FATAL(lp_test_download(brows, (size_t)F * cns[c] * P * 4, rows));
            size_t bad = 0;
            for (int f = 0; f < F; ++f)
                for (int s = 0; s < cns[c]; ++s)
                    for (int p = 0; p < P; ++p) {
                        size_t i = ((size_t)(s0s[c] + s) * F + f) * P + p;
                        float g = y[i] > 0.0f ? dy[i] : 0.0f;
                        bad += memcmp(&rows[((size_t)f * cns[c] + s) * P + p], &g, 4) != 0;
                    }
            CU_ASSERT_EQUAL(bad, 0);
        }
        LP_TEST_OK(lp_op_conv_bias_reduce(lp_test_rt, bpsum, n, F, bg, grads_off));
        CU_ASSERT_FATAL(lp_test_download(bg, sizeof got2, got2));
        if (memcmp(got2 + grads_off, want, sizeof want) != 0)
            printf("\n  bias gradient by %s differs from the host's order\n",
                   form == LP_CONV_FORM_PLANES ? "planes" : "pixels");
        CU_ASSERT(memcmp(got2 + grads_off, want, sizeof want) == 0);
    }
    clReleaseMemObject(bdy);
    clReleaseMemObject(by);
    clReleaseMemObject(brows);
    clReleaseMemObject(bpsum);
    clReleaseMemObject(bg);
    free(dy);
    free(y);
    free(rows);
}

/* rows (F, cn*P) of samples 2..4 into NCHW with bias and ReLU, by pixel and by plane:
 * exactly the host's float values, other samples untouched. */
static void test_rows_to_nchw(void) {
    const int n = 5, s0 = 2, cn = 3, F = 3, P = 37, b_off = 1;
    size_t nr = (size_t)F * cn * P, ny = (size_t)n * F * P;
    float *rows = lp_test_floats(nr), *y = lp_test_floats(ny), *params = lp_test_floats(F + b_off);
    uint64_t rng = 78;
    lp_test_fill_uniform(rows, nr, &rng, -1.0f, 1.0f);
    lp_test_fill_uniform(params, (size_t)F + b_off, &rng, -0.5f, 0.5f);
    cl_mem brows = lp_test_upload(rows, nr * 4), bp = lp_test_upload(params, (F + b_off) * 4);
    for (int form = LP_CONV_FORM_PIXELS; form <= LP_CONV_FORM_PLANES; ++form)
        for (int relu = 0; relu < 2; ++relu) {
            lp_test_fill_const(y, ny, 7.0f);
            cl_mem by = lp_test_upload(y, ny * 4);
            LP_TEST_OK(lp_op_conv_rows_to_nchw_form(lp_test_rt, brows, s0, cn, F, P, bp, b_off,
                                                    relu, by, (lp_conv_form)form));
            CU_ASSERT_FATAL(lp_test_download(by, ny * 4, y));
            size_t bad = 0;
            for (int s = 0; s < n; ++s)
                for (int f = 0; f < F; ++f)
                    for (int p = 0; p < P; ++p) {
                        float want = 7.0f;
                        if (s >= s0 && s < s0 + cn) {
                            want = rows[((size_t)f * cn + (s - s0)) * P + p] + params[b_off + f];
                            if (relu) want = fmaxf(want, 0.0f);
                        }
                        bad += memcmp(&y[((size_t)s * F + f) * P + p], &want, 4) != 0;
                    }
            CU_ASSERT_EQUAL(bad, 0);
            clReleaseMemObject(by);
        }
    clReleaseMemObject(brows);
    clReleaseMemObject(bp);
    free(rows);
    free(y);
    free(params);
}

/* ---- geometry and arguments ----------------------------------------------------------------- */

static void test_axis(void) {
    /* in, k, stride, padding -> out, pad before (TensorFlow's values) */
    static const int t[][6] = {
        {7, 3, 1, S_, 7, 1},   {7, 4, 2, S_, 4, 1}, {6, 4, 2, S_, 3, 1}, {5, 5, 2, S_, 3, 2},
        {7, 1, 2, S_, 4, 0},   {4, 2, 1, S_, 4, 0}, {7, 3, 2, V_, 3, 0}, {5, 5, 1, V_, 1, 0},
        {26, 3, 1, V_, 24, 0}, {1, 3, 1, S_, 1, 1},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; ++i) {
        int out = -1, before = -1;
        LP_TEST_OK(lp_window_axis(t[i][0], t[i][1], t[i][2], (lp_padding)t[i][3], &out, &before));
        if (out != t[i][4] || before != t[i][5])
            printf("\n  axis in %d k %d s %d: got %d/%d, want %d/%d\n", t[i][0], t[i][1], t[i][2],
                   out, before, t[i][4], t[i][5]);
        CU_ASSERT_EQUAL(out, t[i][4]);
        CU_ASSERT_EQUAL(before, t[i][5]);
    }
    int out, before;
    CU_ASSERT_EQUAL(lp_window_axis(3, 4, 1, V_, &out, &before), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_window_axis(3, 1, 0, S_, &out, &before), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_window_axis(0, 1, 1, S_, &out, &before), LP_ERR_INVALID_ARG);
}

static void test_arguments(void) {
    lp_conv_geom g = {.cin = 1,
                      .ih = 3,
                      .iw = 3,
                      .kh = 1,
                      .kw = 1,
                      .stride_h = 1,
                      .stride_w = 1,
                      .oh = 3,
                      .ow = 3};
    cl_mem b = NULL;
    CU_ASSERT_EQUAL_FATAL(lp_buffer_create(lp_test_rt, 64, "args", &b), LP_OK);
    CU_ASSERT_EQUAL(lp_op_im2col(lp_test_rt, &g, b, 0, -1, b), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_op_col2im(lp_test_rt, &g, b, -1, 1, b), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_op_col2im_form(lp_test_rt, &g, b, 0, -1, b, LP_CONV_FORM_PLANES),
                    LP_ERR_INVALID_ARG);
    g.ih = 0;
    CU_ASSERT_EQUAL(lp_op_col2im_form(lp_test_rt, &g, b, 0, 1, b, LP_CONV_FORM_PLANES),
                    LP_ERR_INVALID_ARG);
    g.ih = 3;
    g.stride_w = 0;
    CU_ASSERT_EQUAL(lp_op_im2col(lp_test_rt, &g, b, 0, 1, b), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_op_im2col_form(lp_test_rt, &g, b, 0, 1, b, LP_CONV_FORM_PLANES),
                    LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_op_conv_rows_to_nchw(lp_test_rt, b, 0, 1, 0, 4, b, -1, false, b),
                    LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_op_conv_nchw_to_rows(lp_test_rt, b, NULL, true, 0, 1, 1, 4, b, NULL),
                    LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_op_conv_nchw_to_rows(lp_test_rt, b, b, true, 0, 1, 1, 4, NULL, b),
                    LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_op_conv_bias_grad(lp_test_rt, b, b, true, 1, 1, 4, b, b, -1),
                    LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_op_conv_bias_grad(lp_test_rt, b, b, true, 1, 1, 4, NULL, b, 0),
                    LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_op_conv_bias_reduce(lp_test_rt, NULL, 1, 1, b, 0), LP_ERR_INVALID_ARG);
    clReleaseMemObject(b);

    /* A spec whose output shape disagrees with its window (the parser never makes one) is
     * an internal error the layer asserts, not a crash. */
    lp_layer_spec layers[2];
    memset(&layers[0], 0, sizeof layers[0]);
    layers[0].kind = LP_LAYER_INPUT;
    layers[0].in = layers[0].out = (lp_shape){1, 5, 5};
    layers[1] = conv_layer_("odd", (lp_shape){1, 5, 5}, (lp_shape){2, 5, 5}, 2, 3, 3, 1, 1, V_,
                            true, false);
    lp_model_spec spec = {.layers = layers, .n_layers = 2};
    lp_network *net = NULL;
    CU_ASSERT_EQUAL(lp_network_create(lp_test_rt, &spec, 2, &net), LP_ERR_INTERNAL);
    CU_ASSERT(strstr(lp_last_error(), "internal error") != NULL);
    CU_ASSERT_PTR_NULL(net);
}

static void register_suites(void) {
    CU_pSuite su = CU_add_suite("conv", NULL, lp_test_release_kept);
    CU_add_test(su, "forward, dW, db, dx vs plain C at odd shapes", test_cases);
    CU_add_test(su, "dW, db, dx vs finite differences", test_finite_differences);
    CU_add_test(su, "im2col and col2im by pixel and by plane vs plain C", test_layouts);
    CU_add_test(su, "a parsed model: conv2d -> conv2d -> flatten -> dense", test_model_text);
    CU_add_test(su, "output size and padding per axis", test_axis);
    CU_add_test(su, "invalid arguments and shapes", test_arguments);
    CU_add_test(su, "rows to NCHW with bias and ReLU, by pixel and by plane", test_rows_to_nchw);
    CU_add_test(su, "direct path: forward, dW, db, dx vs plain C", test_cases_direct);
    CU_add_test(su, "direct path: dW, db, dx vs finite differences",
                test_finite_differences_direct);
    CU_add_test(su, "winograd path: dW, db, dx vs finite differences",
                test_finite_differences_winograd);
    /* Last: run before the parsed model, its buffers leave Oclgrind 21.10's
     * uninitialised-value plugin reporting col2im's freshly zeroed planes as
     * uninitialised (the same test passes on every real device, and when run here last). */
    CU_add_test(su, "bias gradient in its documented order, alone and in chunks", test_bias_order);
}

int main(void) {
    return lp_cltest_main("cltest_conv", register_suites);
}
