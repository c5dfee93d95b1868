/* The FFT convolution (laperm/conv_fft.h) against plain-C loops in double and against the
 * im2col + GEMM [conv2d] layer on the same buffers: forward, input and kernel gradients
 * at odd stride-1 shapes, repeatability, argument checks. With LAPERM_CONV_FFT_BENCH=1
 * (not in the simulator) it also times conv7's stride-1 layers both ways at batch 50. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "laperm/conv_fft.h"
#include "laperm/network.h"
#include "laperm/ops.h"
#include "laperm/ops_conv.h"
#include "layer.h"
#include "lp_test.h"
#include "reference.h"

#define OK_(expr)                                                                                  \
    do {                                                                                           \
        lp_status ok_s_ = (expr);                                                                  \
        if (ok_s_ != LP_OK) printf("\n  %s: %s\n", #expr, lp_last_error());                        \
        CU_ASSERT_EQUAL(ok_s_, LP_OK);                                                             \
    } while (0)

#define V_ LP_PAD_VALID
#define S_ LP_PAD_SAME

typedef struct {
    const char *name;
    int cin, ih, iw, filters, kh, kw;
    lp_padding pad;
    int n, max_batch;
} case_;

typedef struct {
    int oh, ow, pt, pl;
    size_t K, P, xs, ys; /* window, output pixels, input and output values per sample */
} dims_;

/* TensorFlow's rule at stride 1, written out independently of lp_window_axis. */
static void axis_(int in, int k, lp_padding pad, int *out, int *before) {
    if (pad == V_) {
        *out = in - k + 1;
        *before = 0;
    } else {
        *out = in;
        *before = (k - 1) / 2;
    }
}

static dims_ dims_of_(const case_ *c) {
    dims_ d;
    axis_(c->ih, c->kh, c->pad, &d.oh, &d.pt);
    axis_(c->iw, c->kw, c->pad, &d.ow, &d.pl);
    d.K = (size_t)c->cin * c->kh * c->kw;
    d.P = (size_t)d.oh * d.ow;
    d.xs = (size_t)c->cin * c->ih * c->iw;
    d.ys = (size_t)c->filters * d.P;
    return d;
}

static lp_conv_fft_shape shape_of_(const case_ *c, const dims_ *d) {
    return (lp_conv_fft_shape){.n = c->max_batch,
                               .cin = c->cin,
                               .h = c->ih,
                               .w = c->iw,
                               .filters = c->filters,
                               .kh = c->kh,
                               .kw = c->kw,
                               .pad_top = d->pt,
                               .pad_left = d->pl,
                               .oh = d->oh,
                               .ow = d->ow};
}

/* ---- the reference -------------------------------------------------------------------------- */

/* out, dW and dx of n samples by host/reference.h's loops (stride 1, no bias, no
 * activation); *abs: the sums of absolute terms. */
static void ref_(const case_ *c, const dims_ *d, const float *x, const float *w, const float *g,
                 int n, double *z, double *zabs, double *dw, double *dwabs, double *dx,
                 double *dxabs) {
    lp_ref_conv r = {.cin = c->cin,
                     .ih = c->ih,
                     .iw = c->iw,
                     .filters = c->filters,
                     .kh = c->kh,
                     .kw = c->kw,
                     .sh = 1,
                     .sw = 1,
                     .pt = d->pt,
                     .pl = d->pl,
                     .oh = d->oh,
                     .ow = d->ow};
    double *db = calloc(2 * (size_t)c->filters, sizeof *db);
    CU_ASSERT_FATAL(db != NULL);
    lp_ref_conv_forward(&r, x, w, NULL, n, z, zabs);
    lp_ref_conv_backward(&r, x, w, NULL, g, n, dw, dwabs, db, db + c->filters, dx, dxabs);
    free(db);
}

/* FFT rounding is spread over a whole frame rather than tied to one output's terms, so
 * besides 1e-4 of the output's own sum of |terms| a floor of 2e-6 of the largest such
 * sum in the tensor is allowed. (On PoCL the worst errors seen are 0.14 and 0.12 of
 * these two margins; a wrong index or a wrap is off by whole terms.) */
static bool close_(const float *got, const double *want, const double *mag, size_t n,
                   const char *what, const char *name) {
    double top = 0.0;
    for (size_t i = 0; i < n; ++i)
        if (mag[i] > top) top = mag[i];
    for (size_t i = 0; i < n; ++i) {
        double tol = 1e-6 + 2e-6 * top + 1e-4 * mag[i];
        if (!(fabs(got[i] - want[i]) <= tol)) {
            printf("\n  %s, %s[%zu of %zu]: got %.9g want %.9g (tol %.3g)\n", name, what, i, n,
                   got[i], want[i], tol);
            return false;
        }
    }
    return true;
}

/* FFT against the GEMM layer: both within their margins of the exact value. */
static bool close_pair_(const float *fft, const float *gemm, const double *mag, size_t n,
                        const char *what, const char *name) {
    double top = 0.0;
    for (size_t i = 0; i < n; ++i)
        if (mag[i] > top) top = mag[i];
    for (size_t i = 0; i < n; ++i) {
        double tol = 2e-6 + 3e-6 * top + 1.1e-4 * mag[i];
        if (!(fabs((double)fft[i] - gemm[i]) <= tol)) {
            printf("\n  %s, %s[%zu of %zu]: FFT %.9g, GEMM layer %.9g (tol %.3g)\n", name, what, i,
                   n, fft[i], gemm[i], tol);
            return false;
        }
    }
    return true;
}

/* ---- the GEMM layer -------------------------------------------------------------------------- */

static lp_layer_spec conv_layer_(const char *name, lp_shape in, lp_shape out, int filters, int kh,
                                 int kw, lp_padding pad) {
    lp_layer_spec l;
    memset(&l, 0, sizeof l);
    l.kind = LP_LAYER_CONV2D;
    snprintf(l.name, sizeof l.name, "%s", name);
    l.in = in;
    l.out = out;
    l.u.conv = (lp_conv2d_spec){.filters = filters,
                                .kh = kh,
                                .kw = kw,
                                .stride_h = 1,
                                .stride_w = 1,
                                .padding = pad,
                                .use_bias = false,
                                .activation = LP_ACT_NONE,
                                .kernel_init = LP_INIT_HE_UNIFORM,
                                .bias_init = LP_INIT_ZEROS,
                                .permute = true};
    /* What the parser works out (the reference sizes come from this file's own rule). */
    if (lp_window_make(in.h, in.w, kh, kw, 1, 1, pad, &l.window) != LP_OK)
        printf("\n  lp_window_make: %s\n", lp_last_error());
    return l;
}

/* As in cltest_conv.c: under Oclgrind 21.10, buffers released by one network leave stale
 * shadow state that gives the next one false "uninitialized" reports, so in the
 * simulator networks (and FFT objects) stay alive until the suite ends. */
#define KEPT_MAX_ 16
static struct {
    lp_network *net;
    lp_model_spec spec;
    lp_conv_fft *fft;
} kept_[KEPT_MAX_];
static int n_kept_;

static int suite_cleanup_(void) {
    for (int i = 0; i < n_kept_; ++i) {
        lp_conv_fft_destroy(kept_[i].fft);
        lp_network_destroy(kept_[i].net);
        lp_model_free(&kept_[i].spec);
    }
    n_kept_ = 0;
    return 0;
}

static void release_(lp_network **net, lp_model_spec *spec, lp_conv_fft **fft) {
    if (lp_test_simulator() && n_kept_ < KEPT_MAX_) {
        kept_[n_kept_].net = *net;
        kept_[n_kept_].fft = *fft;
        kept_[n_kept_++].spec = *spec;
        memset(spec, 0, sizeof *spec);
    } else {
        lp_conv_fft_destroy(*fft);
        lp_network_destroy(*net);
        lp_model_free(spec);
    }
    *net = NULL;
    *fft = NULL;
}

static void fft_release_(lp_conv_fft **f) {
    lp_network *none = NULL;
    lp_model_spec empty = {0};
    release_(&none, &empty, f);
}

/* ---- the cases ------------------------------------------------------------------------------- */

/* One case: a network input -> 1x1 identity "pre" -> conv (no bias, no activation) gives
 * the GEMM layer's out, dW and dx; the FFT path reads the same input, kernel and output
 * gradient buffers. Both are compared with the reference, and with each other; the FFT
 * passes run twice and must repeat their bits. */
static void check_case_(const case_ *c, uint64_t seed) {
    dims_ d = dims_of_(c);
    int n = c->n;
    lp_shape in = {c->cin, c->ih, c->iw}, out = {c->filters, d.oh, d.ow};
    lp_model_spec spec = {0};
    lp_layer_spec *layers = calloc(3, sizeof *layers);
    CU_ASSERT_FATAL(layers != NULL);
    layers[0].kind = LP_LAYER_INPUT;
    snprintf(layers[0].name, sizeof layers[0].name, "input");
    layers[0].in = layers[0].out = in;
    layers[1] = conv_layer_("pre", in, in, c->cin, 1, 1, V_);
    layers[2] = conv_layer_("conv", in, out, c->filters, c->kh, c->kw, c->pad);
    spec.layers = layers;
    spec.n_layers = 3;
    lp_network *net = NULL;
    lp_conv_fft *fft = NULL;
    lp_status st = lp_network_create(lp_test_rt, &spec, c->max_batch, &net);
    if (st != LP_OK) printf("\n  %s: building the network: %s\n", c->name, lp_last_error());
    CU_ASSERT_EQUAL(st, LP_OK);
    lp_conv_fft_shape sh = shape_of_(c, &d);
    if (st == LP_OK) {
        st = lp_conv_fft_create(lp_test_rt, &sh, &fft);
        if (st != LP_OK) printf("\n  %s: lp_conv_fft_create: %s\n", c->name, lp_last_error());
        CU_ASSERT_EQUAL(st, LP_OK);
    }
    if (st != LP_OK) {
        release_(&net, &spec, &fft);
        return;
    }
    int nt = 0;
    const lp_param_tensor *t = lp_network_tensors(net, &nt);
    CU_ASSERT_FATAL(nt == 2 && t[1].layer == 2 && t[1].count == (size_t)c->filters * d.K);
    size_t np = lp_network_param_count(net), w_off = t[1].offset;
    size_t nw = (size_t)c->filters * d.K;
    size_t nxm = (size_t)c->max_batch * d.xs, nym = (size_t)c->max_batch * d.ys;
    size_t nx = (size_t)n * d.xs, ny = (size_t)n * d.ys;

    uint64_t rng = seed;
    float *params = calloc(np, sizeof *params), *x = malloc(nxm * sizeof *x);
    float *g = malloc(nym * sizeof *g);
    float *gout = malloc(ny * 4), *ggrads = malloc(np * 4), *gdx = malloc(nx * 4);
    float *fout = malloc(ny * 4), *fdw = malloc(nw * 4), *fdx = malloc(nx * 4);
    float *fout2 = malloc(ny * 4), *fdw2 = malloc(nw * 4), *fdx2 = malloc(nx * 4);
    double *z = malloc(ny * 8), *zabs = malloc(ny * 8), *rw = malloc(nw * 8);
    double *rwabs = malloc(nw * 8), *rx = malloc(nx * 8), *rxabs = malloc(nx * 8);
    CU_ASSERT_FATAL(params && x && g && gout && ggrads && gdx && fout && fdw && fdx && fout2 &&
                    fdw2 && fdx2 && z && zabs && rw && rwabs && rx && rxabs);
    for (int ch = 0; ch < c->cin; ++ch) /* "pre" is the identity */
        params[t[0].offset + (size_t)ch * c->cin + ch] = 1.0f;
    for (size_t i = 0; i < nw; ++i)
        params[w_off + i] = lp_test_uniform(&rng, -0.5f, 0.5f);
    for (size_t i = 0; i < nxm; ++i)
        x[i] = lp_test_uniform(&rng, -1.0f, 1.0f);
    for (size_t i = 0; i < nym; ++i)
        g[i] = lp_test_uniform(&rng, -1.0f, 1.0f);
    cl_mem pbuf = lp_network_params(net), xbuf = lp_network_input(net);
    cl_mem gbuf = lp_network_dlogits(net);
    OK_(lp_buffer_write(lp_test_rt, pbuf, 0, np * 4, params));
    OK_(lp_buffer_write(lp_test_rt, xbuf, 0, nxm * 4, x));
    OK_(lp_buffer_write(lp_test_rt, gbuf, 0, nym * 4, g));

    /* The GEMM layer. */
    OK_(lp_network_forward(net, n, true));
    OK_(lp_buffer_read(lp_test_rt, lp_network_logits(net), 0, ny * 4, gout));
    OK_(lp_network_backward(net, n));
    OK_(lp_buffer_read(lp_test_rt, lp_network_grads(net), 0, np * 4, ggrads));
    OK_(lp_buffer_read(lp_test_rt, net->layers[1].dout, 0, nx * 4, gdx));

    /* The FFT path into buffers of its own; then again, as one call, and as three. */
    cl_mem ob = NULL, wb = NULL, xb = NULL;
    OK_(lp_buffer_create(lp_test_rt, ny * 4, "fft out", &ob));
    OK_(lp_buffer_create(lp_test_rt, (nw + 3) * 4, "fft dW", &wb));
    OK_(lp_buffer_create(lp_test_rt, nx * 4, "fft dx", &xb));
    OK_(lp_conv_fft_forward(fft, n, xbuf, pbuf, w_off, ob));
    OK_(lp_conv_fft_backward_filter(fft, n, xbuf, gbuf, wb, 3)); /* at an offset */
    OK_(lp_conv_fft_backward_data(fft, n, gbuf, pbuf, w_off, xb));
    OK_(lp_buffer_read(lp_test_rt, ob, 0, ny * 4, fout));
    OK_(lp_buffer_read(lp_test_rt, wb, 12, nw * 4, fdw));
    OK_(lp_buffer_read(lp_test_rt, xb, 0, nx * 4, fdx));

    /* The combined backward, reusing the forward's spectra, gives the same bits. */
    OK_(lp_conv_fft_forward(fft, n, xbuf, pbuf, w_off, ob));
    OK_(lp_conv_fft_backward(fft, n, xbuf, gbuf, pbuf, w_off, wb, 3, xb, true));
    OK_(lp_buffer_read(lp_test_rt, wb, 12, nw * 4, fdw2));
    OK_(lp_buffer_read(lp_test_rt, xb, 0, nx * 4, fdx2));
    CU_ASSERT(memcmp(fdw, fdw2, nw * 4) == 0);
    CU_ASSERT(memcmp(fdx, fdx2, nx * 4) == 0);
    OK_(lp_conv_fft_backward(fft, n, xbuf, gbuf, NULL, 0, wb, 3, NULL, true)); /* dW only */
    OK_(lp_buffer_read(lp_test_rt, wb, 12, nw * 4, fdw2));
    CU_ASSERT(memcmp(fdw, fdw2, nw * 4) == 0);
    for (int rep = 0; rep < 2; ++rep) {
        OK_(lp_conv_fft_forward(fft, n, xbuf, pbuf, w_off, ob));
        OK_(lp_conv_fft_backward_filter(fft, n, xbuf, gbuf, wb, 3));
        OK_(lp_conv_fft_backward_data(fft, n, gbuf, pbuf, w_off, xb));
        OK_(lp_buffer_read(lp_test_rt, ob, 0, ny * 4, rep ? fout2 : fout));
        OK_(lp_buffer_read(lp_test_rt, wb, 12, nw * 4, rep ? fdw2 : fdw));
        OK_(lp_buffer_read(lp_test_rt, xb, 0, nx * 4, rep ? fdx2 : fdx));
    }

    ref_(c, &d, x, params + w_off, g, n, z, zabs, rw, rwabs, rx, rxabs);
    CU_ASSERT(close_(gout, z, zabs, ny, "GEMM out", c->name));
    CU_ASSERT(close_(ggrads + w_off, rw, rwabs, nw, "GEMM dW", c->name));
    CU_ASSERT(close_(gdx, rx, rxabs, nx, "GEMM dx", c->name));
    CU_ASSERT(close_(fout, z, zabs, ny, "FFT out", c->name));
    CU_ASSERT(close_(fdw, rw, rwabs, nw, "FFT dW", c->name));
    CU_ASSERT(close_(fdx, rx, rxabs, nx, "FFT dx", c->name));
    CU_ASSERT(close_pair_(fout, gout, zabs, ny, "out", c->name));
    CU_ASSERT(close_pair_(fdw, ggrads + w_off, rwabs, nw, "dW", c->name));
    CU_ASSERT(close_pair_(fdx, gdx, rxabs, nx, "dx", c->name));
    CU_ASSERT(memcmp(fout, fout2, ny * 4) == 0);
    CU_ASSERT(memcmp(fdw, fdw2, nw * 4) == 0);
    CU_ASSERT(memcmp(fdx, fdx2, nx * 4) == 0);

    if (ob) clReleaseMemObject(ob);
    if (wb) clReleaseMemObject(wb);
    if (xb) clReleaseMemObject(xb);
    free(params);
    free(x);
    free(g);
    free(gout);
    free(ggrads);
    free(gdx);
    free(fout);
    free(fdw);
    free(fdx);
    free(fout2);
    free(fdw2);
    free(fdx2);
    free(z);
    free(zabs);
    free(rw);
    free(rwabs);
    free(rx);
    free(rxabs);
    release_(&net, &spec, &fft);
}

/* name, cin, ih, iw, filters, kh, kw, pad, n, max_batch */
static const case_ cases_[] = {
    {"1x1 valid, cin 1, 1 filter", 1, 7, 5, 1, 1, 1, V_, 1, 1},
    {"1x1 same, cin 3, 4 filters", 3, 7, 5, 4, 1, 1, S_, 3, 3},
    {"3x3 same, cin 3, 4 filters", 3, 7, 5, 4, 3, 3, S_, 3, 3},
    {"3x3 valid, cin 3, 4 filters", 3, 7, 5, 4, 3, 3, V_, 3, 3},
    {"3x3 same, cin 1, 1 filter", 1, 7, 5, 1, 3, 3, S_, 1, 1},
    {"5x5 same, cin 1, 4 filters", 1, 7, 5, 4, 5, 5, S_, 3, 3},
    {"5x5 valid, cin 3, 1 filter", 3, 7, 5, 1, 5, 5, V_, 1, 1},
    {"5x5 valid, cin 3, 4 filters", 3, 7, 5, 4, 5, 5, V_, 3, 3},
    {"3x2 same, cin 3, 4 filters", 3, 7, 5, 4, 3, 2, S_, 3, 3},
    {"3x2 valid, cin 1, 4 filters", 1, 7, 5, 4, 3, 2, V_, 1, 1},
    {"3x2 valid, cin 3, 1 filter, 2 of 3", 3, 7, 5, 1, 3, 2, V_, 2, 3},
    {"3x3 same, cin 3, 4 filters, 1 of 3", 3, 7, 5, 4, 3, 3, S_, 1, 3},
};

static void test_cases(void) {
    for (size_t i = 0; i < sizeof cases_ / sizeof *cases_; ++i)
        check_case_(&cases_[i], 500 + i);
}

/* Every batch size 1..8 and back down: more transform sizes than the plan table keeps, so
 * on-demand plans are evicted and remade; each forward pass must still be right. */
static void test_batch_sizes(void) {
    const case_ c = {"batch sizes", 2, 7, 5, 3, 3, 2, S_, 8, 8};
    dims_ d = dims_of_(&c);
    lp_conv_fft_shape sh = shape_of_(&c, &d);
    size_t nx = 8 * d.xs, ny = 8 * d.ys, nw = (size_t)c.filters * d.K;
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *y = malloc(ny * 4), *g = calloc(ny, 4);
    double *z = malloc(ny * 8), *zabs = malloc(ny * 8), *rw = malloc(nw * 8);
    double *rwabs = malloc(nw * 8), *rx = malloc(nx * 8), *rxabs = malloc(nx * 8);
    CU_ASSERT_FATAL(x && w && y && g && z && zabs && rw && rwabs && rx && rxabs);
    uint64_t rng = 77;
    for (size_t i = 0; i < nx; ++i)
        x[i] = lp_test_uniform(&rng, -1.0f, 1.0f);
    for (size_t i = 0; i < nw; ++i)
        w[i] = lp_test_uniform(&rng, -0.5f, 0.5f);
    ref_(&c, &d, x, w, g, 8, z, zabs, rw, rwabs, rx, rxabs);
    lp_conv_fft *f = NULL;
    cl_mem xb = NULL, wb = NULL, yb = NULL;
    OK_(lp_conv_fft_create(lp_test_rt, &sh, &f));
    OK_(lp_buffer_create(lp_test_rt, nx * 4, "x", &xb));
    OK_(lp_buffer_create(lp_test_rt, nw * 4, "w", &wb));
    OK_(lp_buffer_create(lp_test_rt, ny * 4, "y", &yb));
    if (f && xb && wb && yb) {
        OK_(lp_buffer_write(lp_test_rt, xb, 0, nx * 4, x));
        OK_(lp_buffer_write(lp_test_rt, wb, 0, nw * 4, w));
        for (int step = 0; step < 16; ++step) {
            int n = step < 8 ? step + 1 : 16 - step;
            OK_(lp_conv_fft_forward(f, n, xb, wb, 0, yb));
            OK_(lp_buffer_read(lp_test_rt, yb, 0, (size_t)n * d.ys * 4, y));
            char what[32];
            snprintf(what, sizeof what, "out, batch %d", n);
            CU_ASSERT(close_(y, z, zabs, (size_t)n * d.ys, what, c.name));
        }
    }
    cl_mem all[] = {xb, wb, yb};
    for (size_t i = 0; i < 3; ++i)
        if (all[i]) clReleaseMemObject(all[i]);
    fft_release_(&f);
    free(x);
    free(w);
    free(y);
    free(g);
    free(z);
    free(zabs);
    free(rw);
    free(rwabs);
    free(rx);
    free(rxabs);
}

/* ---- the path's own kernels, directly ----------------------------------------------------------
 * These run in the simulator too, where the transforms cannot (see register_suites). */

static void test_kernels(void) {
    /* pack: 2 planes of 3x2 from float 1 on into 5x4 frames at (1, 2) */
    float src[2 + 12], frames[2 * 20], got[2 * 20]; /* src also takes the crop */
    for (int i = 0; i < 14; ++i)
        src[i] = (float)(i + 1);
    for (int p = 0; p < 2; ++p)
        for (int y = 0; y < 5; ++y)
            for (int x = 0; x < 4; ++x) {
                int sy = y - 1, sx = x - 2;
                bool in = sy >= 0 && sy < 3 && sx >= 0 && sx < 2;
                frames[p * 20 + y * 4 + x] = in ? src[1 + p * 6 + sy * 2 + sx] : 0.0f;
            }
    cl_mem sb = NULL, fb = NULL, ab = NULL, bb = NULL, ob = NULL;
    OK_(lp_buffer_create(lp_test_rt, sizeof src, "src", &sb));
    OK_(lp_buffer_create(lp_test_rt, sizeof frames, "frames", &fb));
    OK_(lp_buffer_write(lp_test_rt, sb, 0, sizeof src, src));
    cl_kernel k;
    OK_(lp_runtime_kernel(lp_test_rt, "conv_fft", "lp_conv_fft_pack", NULL, &k));
    cl_ulong off = 1;
    int planes = 2, sh = 3, sw = 2, oy = 1, ox = 2, fh = 5, fw = 4;
    LP_TEST_OK(lp_kernel_arg(k, 0, sizeof(sb), &(sb)));
    LP_TEST_OK(lp_kernel_arg(k, 1, sizeof(off), &(off)));
    LP_TEST_OK(lp_kernel_arg(k, 2, sizeof(planes), &(planes)));
    LP_TEST_OK(lp_kernel_arg(k, 3, sizeof(sh), &(sh)));
    LP_TEST_OK(lp_kernel_arg(k, 4, sizeof(sw), &(sw)));
    LP_TEST_OK(lp_kernel_arg(k, 5, sizeof(oy), &(oy)));
    LP_TEST_OK(lp_kernel_arg(k, 6, sizeof(ox), &(ox)));
    LP_TEST_OK(lp_kernel_arg(k, 7, sizeof(fh), &(fh)));
    LP_TEST_OK(lp_kernel_arg(k, 8, sizeof(fw), &(fw)));
    LP_TEST_OK(lp_kernel_arg(k, 9, sizeof(fb), &(fb)));
    size_t g2[2] = {20, 2}, l2[2] = {8, 1}; /* rounded up: the kernel bounds-checks */
    OK_(lp_launch(lp_test_rt, k, 2, g2, l2, "test_pack"));
    OK_(lp_buffer_read(lp_test_rt, fb, 0, sizeof got, got));
    CU_ASSERT(memcmp(got, frames, sizeof got) == 0);

    /* crop: 3x2 at (2, 1) of each frame, to float 2 on */
    float want[2 + 12], cut[2 + 12] = {0};
    memset(want, 0, sizeof want);
    for (int p = 0; p < 2; ++p)
        for (int y = 0; y < 3; ++y)
            for (int x = 0; x < 2; ++x)
                want[2 + p * 6 + y * 2 + x] = frames[p * 20 + (y + 2) * 4 + x + 1];
    OK_(lp_buffer_write(lp_test_rt, sb, 0, sizeof cut, cut));
    OK_(lp_runtime_kernel(lp_test_rt, "conv_fft", "lp_conv_fft_crop", NULL, &k));
    int cy = 2, cx = 1, dh = 3, dw = 2;
    off = 2;
    LP_TEST_OK(lp_kernel_arg(k, 0, sizeof(fb), &(fb)));
    LP_TEST_OK(lp_kernel_arg(k, 1, sizeof(planes), &(planes)));
    LP_TEST_OK(lp_kernel_arg(k, 2, sizeof(fh), &(fh)));
    LP_TEST_OK(lp_kernel_arg(k, 3, sizeof(fw), &(fw)));
    LP_TEST_OK(lp_kernel_arg(k, 4, sizeof(cy), &(cy)));
    LP_TEST_OK(lp_kernel_arg(k, 5, sizeof(cx), &(cx)));
    LP_TEST_OK(lp_kernel_arg(k, 6, sizeof(dh), &(dh)));
    LP_TEST_OK(lp_kernel_arg(k, 7, sizeof(dw), &(dw)));
    LP_TEST_OK(lp_kernel_arg(k, 8, sizeof(sb), &(sb)));
    LP_TEST_OK(lp_kernel_arg(k, 9, sizeof(off), &(off)));
    size_t g2c[2] = {6, 2};
    OK_(lp_launch(lp_test_rt, k, 2, g2c, l2, "test_crop"));
    OK_(lp_buffer_read(lp_test_rt, sb, 0, sizeof cut, cut));
    CU_ASSERT(memcmp(cut, want, sizeof cut) == 0);

    /* mac: out (i0 = 0..1, i1 = 0..2) = sum_j a[i0, j] . conj(b[i1, j]), j = 0..3,
     * a (2, 4) and b (3, 4) spectra of 5 bins: the forward pass's strides. */
    enum { BINS = 5, N0 = 2, N1 = 3, NJ = 4 };
    float a[N0 * NJ * BINS * 2], b[N1 * NJ * BINS * 2], o[N0 * N1 * BINS * 2];
    uint64_t rng = 9;
    for (size_t i = 0; i < sizeof a / 4; ++i)
        a[i] = lp_test_uniform(&rng, -1.0f, 1.0f);
    for (size_t i = 0; i < sizeof b / 4; ++i)
        b[i] = lp_test_uniform(&rng, -1.0f, 1.0f);
    OK_(lp_buffer_create(lp_test_rt, sizeof a, "a", &ab));
    OK_(lp_buffer_create(lp_test_rt, sizeof b, "b", &bb));
    OK_(lp_buffer_create(lp_test_rt, sizeof o, "o", &ob));
    OK_(lp_buffer_write(lp_test_rt, ab, 0, sizeof a, a));
    OK_(lp_buffer_write(lp_test_rt, bb, 0, sizeof b, b));
    OK_(lp_runtime_kernel(lp_test_rt, "conv_fft", "lp_conv_fft_mac", NULL, &k));
    int conj = 1, nj = NJ, sa0 = NJ, sa1 = 0, saj = 1, sb0 = 0, sb1 = NJ, sbj = 1, n0 = N0, n1 = N1,
        bins = BINS;
    LP_TEST_OK(lp_kernel_arg(k, 0, sizeof(ab), &(ab)));
    LP_TEST_OK(lp_kernel_arg(k, 1, sizeof(bb), &(bb)));
    LP_TEST_OK(lp_kernel_arg(k, 2, sizeof(conj), &(conj)));
    LP_TEST_OK(lp_kernel_arg(k, 3, sizeof(nj), &(nj)));
    LP_TEST_OK(lp_kernel_arg(k, 4, sizeof(sa0), &(sa0)));
    LP_TEST_OK(lp_kernel_arg(k, 5, sizeof(sa1), &(sa1)));
    LP_TEST_OK(lp_kernel_arg(k, 6, sizeof(saj), &(saj)));
    LP_TEST_OK(lp_kernel_arg(k, 7, sizeof(sb0), &(sb0)));
    LP_TEST_OK(lp_kernel_arg(k, 8, sizeof(sb1), &(sb1)));
    LP_TEST_OK(lp_kernel_arg(k, 9, sizeof(sbj), &(sbj)));
    LP_TEST_OK(lp_kernel_arg(k, 10, sizeof(n0), &(n0)));
    LP_TEST_OK(lp_kernel_arg(k, 11, sizeof(n1), &(n1)));
    LP_TEST_OK(lp_kernel_arg(k, 12, sizeof(bins), &(bins)));
    LP_TEST_OK(lp_kernel_arg(k, 13, sizeof(ob), &(ob)));
    size_t g3[3] = {BINS, N1, N0}, l3[3] = {4, 1, 1};
    OK_(lp_launch(lp_test_rt, k, 3, g3, l3, "test_mac"));
    OK_(lp_buffer_read(lp_test_rt, ob, 0, sizeof o, o));
    bool ok = true;
    for (int i0 = 0; i0 < N0; ++i0)
        for (int i1 = 0; i1 < N1; ++i1)
            for (int q = 0; q < BINS; ++q) {
                double re = 0.0, im = 0.0;
                for (int j = 0; j < NJ; ++j) {
                    const float *u = &a[((i0 * NJ + j) * BINS + q) * 2];
                    const float *v = &b[((i1 * NJ + j) * BINS + q) * 2];
                    re += (double)u[0] * v[0] + (double)u[1] * v[1];
                    im += (double)u[1] * v[0] - (double)u[0] * v[1];
                }
                const float *r = &o[((i0 * N1 + i1) * BINS + q) * 2];
                if (fabs(r[0] - re) > 1e-5 || fabs(r[1] - im) > 1e-5) ok = false;
            }
    CU_ASSERT(ok);
    cl_mem all[] = {sb, fb, ab, bb, ob};
    for (size_t i = 0; i < sizeof all / sizeof *all; ++i)
        if (all[i]) clReleaseMemObject(all[i]);
}

/* ---- sizes and arguments --------------------------------------------------------------------- */

static void test_frame_sizes(void) {
    /* h, w, k, padding -> frame: >= out + k - 1, rounded to 2^a 3^b 5^c 7^d */
    static const int t[][5] = {
        {7, 5, 3, S_, 9},    {7, 5, 3, V_, 7},    {28, 28, 3, V_, 28},
        {26, 26, 3, V_, 27}, {12, 12, 3, V_, 12}, {9, 9, 3, S_, 12}, /* 11 -> 12 */
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; ++i) {
        case_ c = {"size", 1, t[i][0], t[i][1], 1, t[i][2], t[i][2], (lp_padding)t[i][3], 1, 1};
        dims_ d = dims_of_(&c);
        lp_conv_fft_shape sh = shape_of_(&c, &d);
        lp_conv_fft *f = NULL;
        OK_(lp_conv_fft_create(lp_test_rt, &sh, &f));
        if (!f) continue;
        int fh = 0, fw = 0;
        lp_conv_fft_size(f, &fh, &fw);
        if (fh != t[i][4])
            printf("\n  %dx%d k%d: frame %dx%d, want %d\n", t[i][0], t[i][1], t[i][2], fh, fw,
                   t[i][4]);
        CU_ASSERT_EQUAL(fh, t[i][4]);
        fft_release_(&f);
    }
}

static void test_arguments(void) {
    lp_conv_fft_shape good = {.n = 2,
                              .cin = 1,
                              .h = 5,
                              .w = 5,
                              .filters = 2,
                              .kh = 3,
                              .kw = 3,
                              .pad_top = 0,
                              .pad_left = 0,
                              .oh = 3,
                              .ow = 3};
    lp_conv_fft *f = (lp_conv_fft *)&good; /* must be reset to NULL on failure */
    lp_conv_fft_shape bad = good;
    bad.kh = 0;
    CU_ASSERT_EQUAL(lp_conv_fft_create(lp_test_rt, &bad, &f), LP_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NULL(f);
    bad = good;
    bad.pad_left = -1;
    CU_ASSERT_EQUAL(lp_conv_fft_create(lp_test_rt, &bad, &f), LP_ERR_INVALID_ARG);
    OK_(lp_conv_fft_create(lp_test_rt, &good, &f));
    if (!f) return;
    cl_mem b = NULL;
    CU_ASSERT_EQUAL_FATAL(lp_buffer_create(lp_test_rt, 1024, "args", &b), LP_OK);
    CU_ASSERT_EQUAL(lp_conv_fft_forward(f, 3, b, b, 0, b), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_conv_fft_backward_data(f, 0, b, b, 0, b), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_conv_fft_backward_filter(NULL, 1, b, b, b, 0), LP_ERR_INVALID_ARG);
    clReleaseMemObject(b);
    fft_release_(&f);
}

/* ---- timings --------------------------------------------------------------------------------- */

static double now_ms_(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* GEMM path as conv2d_unit.c runs it for one chunk holding the whole batch (no bias, no
 * activation): forward im2col + GEMM + layout; backward layout + dW GEMM + dcol GEMM +
 * col2im, the columns reused from forward. */
static lp_status gemm_forward_(const lp_conv_geom *g, int n, int F, cl_mem x, cl_mem w, cl_mem col,
                               cl_mem rows, cl_mem y) {
    size_t K = lp_conv_geom_k(g), P = lp_conv_geom_p(g), cols = (size_t)n * P;
    LP_TRY(lp_op_im2col(lp_test_rt, g, x, 0, n, col));
    LP_TRY(lp_op_gemm(lp_test_rt, false, false, (size_t)F, cols, K, 1.0f, w, 0, K, col, 0, cols,
                      0.0f, rows, 0, cols, "bench_fwd"));
    return lp_op_conv_rows_to_nchw(lp_test_rt, rows, 0, n, F, (int)P, w, -1, false, y);
}

static lp_status gemm_backward_(const lp_conv_geom *g, int n, int F, cl_mem w, cl_mem dy,
                                cl_mem col, cl_mem dcol, cl_mem rows, cl_mem dw, cl_mem dx) {
    size_t K = lp_conv_geom_k(g), P = lp_conv_geom_p(g), cols = (size_t)n * P;
    LP_TRY(lp_op_conv_nchw_to_rows(lp_test_rt, dy, NULL, false, 0, n, F, (int)P, rows, NULL));
    LP_TRY(lp_op_gemm(lp_test_rt, false, true, (size_t)F, K, cols, 1.0f, rows, 0, cols, col, 0,
                      cols, 0.0f, dw, 0, K, "bench_dw"));
    LP_TRY(lp_op_gemm(lp_test_rt, true, false, K, cols, (size_t)F, 1.0f, w, 0, K, rows, 0, cols,
                      0.0f, dcol, 0, cols, "bench_dx"));
    return lp_op_col2im(lp_test_rt, g, dcol, 0, n, dx);
}

static void bench_layer_(int cin, int hw, int F, int n, int reps) {
    lp_conv_geom g = {.cin = cin,
                      .ih = hw,
                      .iw = hw,
                      .kh = 3,
                      .kw = 3,
                      .stride_h = 1,
                      .stride_w = 1,
                      .pad_top = 0,
                      .pad_left = 0,
                      .oh = hw - 2,
                      .ow = hw - 2};
    size_t K = lp_conv_geom_k(&g), P = lp_conv_geom_p(&g);
    size_t nx = (size_t)n * cin * hw * hw, ny = (size_t)n * F * P, nw = (size_t)F * K;
    cl_mem x = NULL, w = NULL, y = NULL, dy = NULL, dw = NULL, dx = NULL, col = NULL, dcol = NULL,
           rows = NULL;
    OK_(lp_buffer_create(lp_test_rt, nx * 4, "x", &x));
    OK_(lp_buffer_create(lp_test_rt, nw * 4, "w", &w));
    OK_(lp_buffer_create(lp_test_rt, ny * 4, "y", &y));
    OK_(lp_buffer_create(lp_test_rt, ny * 4, "dy", &dy));
    OK_(lp_buffer_create(lp_test_rt, nw * 4, "dw", &dw));
    OK_(lp_buffer_create(lp_test_rt, nx * 4, "dx", &dx));
    OK_(lp_buffer_create(lp_test_rt, K * n * P * 4, "col", &col));
    OK_(lp_buffer_create(lp_test_rt, K * n * P * 4, "dcol", &dcol));
    OK_(lp_buffer_create(lp_test_rt, (size_t)F * n * P * 4, "rows", &rows));
    float *h = malloc((nx > ny ? nx : ny) * 4);
    uint64_t rng = 7;
    for (size_t i = 0; i < (nx > ny ? nx : ny); ++i)
        h[i] = lp_test_uniform(&rng, -1.0f, 1.0f);
    OK_(lp_buffer_write(lp_test_rt, x, 0, nx * 4, h));
    OK_(lp_buffer_write(lp_test_rt, dy, 0, ny * 4, h));
    OK_(lp_buffer_write(lp_test_rt, w, 0, nw * 4, h));
    free(h);
    lp_conv_fft_shape sh = {.n = n,
                            .cin = cin,
                            .h = hw,
                            .w = hw,
                            .filters = F,
                            .kh = 3,
                            .kw = 3,
                            .pad_top = 0,
                            .pad_left = 0,
                            .oh = hw - 2,
                            .ow = hw - 2};
    lp_conv_fft *f = NULL;
    OK_(lp_conv_fft_create(lp_test_rt, &sh, &f));
    if (!f) return;
    double t[5] = {0};
    for (int r = -1; r < reps; ++r) { /* r = -1: warm-up, not counted */
        double t0 = now_ms_();
        OK_(gemm_forward_(&g, n, F, x, w, col, rows, y));
        OK_(lp_runtime_finish(lp_test_rt));
        double t1 = now_ms_();
        OK_(gemm_backward_(&g, n, F, w, dy, col, dcol, rows, dw, dx));
        OK_(lp_runtime_finish(lp_test_rt));
        double t2 = now_ms_();
        OK_(lp_conv_fft_forward(f, n, x, w, 0, y));
        OK_(lp_runtime_finish(lp_test_rt));
        double t3 = now_ms_();
        OK_(lp_conv_fft_backward(f, n, x, dy, w, 0, dw, 0, dx, true));
        OK_(lp_runtime_finish(lp_test_rt));
        double t4 = now_ms_();
        OK_(lp_conv_fft_backward_filter(f, n, x, dy, dw, 0));
        OK_(lp_conv_fft_backward_data(f, n, dy, w, 0, dx));
        OK_(lp_runtime_finish(lp_test_rt));
        double t5 = now_ms_();
        if (r < 0) continue;
        t[0] += t1 - t0;
        t[1] += t2 - t1;
        t[2] += t3 - t2;
        t[3] += t4 - t3;
        t[4] += t5 - t4;
    }
    int fh, fw;
    lp_conv_fft_size(f, &fh, &fw);
    printf("\n  %dx%dx%d -> %d 3x3 valid, batch %d (frame %dx%d): GEMM fwd %.2f ms, bwd %.2f ms;"
           " FFT fwd %.2f ms, bwd %.2f ms (reusing forward spectra), %.2f ms (filter + data)",
           cin, hw, hw, F, n, fh, fw, t[0] / reps, t[1] / reps, t[2] / reps, t[3] / reps,
           t[4] / reps);
    lp_conv_fft_destroy(f);
    cl_mem all[] = {x, w, y, dy, dw, dx, col, dcol, rows};
    for (size_t i = 0; i < sizeof all / sizeof *all; ++i)
        if (all[i]) clReleaseMemObject(all[i]);
}

static void test_bench(void) {
    const char *env = getenv("LAPERM_CONV_FFT_BENCH");
    if (!env || !*env || strcmp(env, "0") == 0 || lp_test_simulator()) return;
    printf("\n  on %s:", lp_runtime_device(lp_test_rt)->device_name);
    bench_layer_(1, 28, 32, 50, 5);
    bench_layer_(32, 26, 32, 50, 5);
    bench_layer_(32, 12, 64, 50, 5);
    printf("\n");
}

/* ---- without clFFT -----------------------------------------------------------------------------
 */

static void test_unsupported(void) {
    lp_conv_fft_shape s = {
        .n = 1, .cin = 1, .h = 3, .w = 3, .filters = 1, .kh = 1, .kw = 1, .oh = 3, .ow = 3};
    lp_conv_fft *f = NULL;
    CU_ASSERT_FALSE(lp_conv_fft_available());
    CU_ASSERT_EQUAL(lp_conv_fft_create(lp_test_rt, &s, &f), LP_ERR_UNSUPPORTED);
    CU_ASSERT(strstr(lp_last_error(), "clFFT") != NULL);
    CU_ASSERT_PTR_NULL(f);
}

static void register_suites(void) {
    CU_pSuite su = CU_add_suite("conv_fft", NULL, suite_cleanup_);
    if (!lp_conv_fft_available()) {
        printf("\n  conv_fft: built without clFFT; only the LP_ERR_UNSUPPORTED answer is tested\n");
        CU_add_test(su, "LP_ERR_UNSUPPORTED without clFFT", test_unsupported);
        return;
    }
    if (lp_test_simulator()) {
        /* Planning works there, but clFFT's generated kernels use `/` with `%`, which clang
         * turns into LLVM `freeze`, an instruction Oclgrind 21.10 cannot interpret. */
        printf("\n  conv_fft: clFFT's kernels cannot run under Oclgrind 21.10 (LLVM `freeze`);"
               " the transform cases are skipped in the simulator, planning and argument"
               " checks run\n");
    } else {
        CU_add_test(su, "forward, dW, dx vs plain C and the GEMM layer at odd shapes", test_cases);
        CU_add_test(su, "batch sizes 1..8..1: plans made on demand and evicted", test_batch_sizes);
    }
    CU_add_test(su, "pack, crop and multiply-accumulate kernels vs plain C", test_kernels);
    CU_add_test(su, "transform sizes", test_frame_sizes);
    CU_add_test(su, "invalid arguments", test_arguments);
    CU_add_test(su, "timings vs the GEMM path (LAPERM_CONV_FFT_BENCH=1)", test_bench);
}

int main(void) {
    return lp_cltest_main("cltest_conv_fft", register_suites);
}
