/* `laperm check` rows for [conv2d]: each path (im2col + GEMM, direct, FFT, Winograd) forward and
 * both backward passes against the reference, and the bias gradient's fixed order bit for bit
 * (tolerances: host/check.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_net.h"
#include "laperm/conv_fft.h"
#include "laperm/conv_winograd.h"
#include "laperm/ops_conv.h"
#include "reference.h"

typedef struct {
    int cin, h, w, filters, kh, kw, s;
    bool same, relu;
} conv_case_;

static const conv_case_ quick_[] = {
    {3, 9, 7, 4, 3, 3, 1, true, true},
    {2, 8, 8, 3, 5, 3, 2, false, false},
    {1, 7, 7, 2, 1, 1, 3, true, false},
    {4, 6, 5, 5, 3, 2, 1, false, false},
};
static const conv_case_ full_[] = {
    {16, 13, 13, 8, 3, 3, 1, true, true},
    {5, 11, 9, 7, 7, 7, 1, false, false},
    {1, 28, 28, 32, 3, 3, 1, false, true},
    {6, 12, 10, 3, 5, 5, 2, true, true},
};

/* The Winograd path's error scales of dW and dx (lp_ref_winograd_*scale), from dy masked
 * by the ReLU of y as the layer masks it. */
static void winograd_scales_(int m, const conv_case_ *k, const lp_ref_conv *r, int n,
                             const float *x, const float *w, const float *y, const float *dy,
                             double *dw_scale, double *dx_scale) {
    size_t no = (size_t)n * k->filters * r->oh * r->ow, nw = (size_t)k->filters * k->cin * 9;
    float *g = malloc(no * 4 + 4), *flip = malloc(nw * 4 + 4);
    if (!g || !flip) {
        free(g), free(flip);
        return; /* the scales stay the sums of |terms|: a tighter check, never a looser one */
    }
    for (size_t i = 0; i < no; ++i)
        g[i] = !k->relu || y[i] > 0.0f ? dy[i] : 0.0f;
    for (int f = 0; f < k->filters; ++f)
        for (int ch = 0; ch < k->cin; ++ch)
            for (int t = 0; t < 9; ++t)
                flip[((size_t)ch * k->filters + f) * 9 + t] =
                    w[((size_t)f * k->cin + ch) * 9 + 8 - t];
    lp_ref_winograd_dw_scale(m, x, g, n, k->cin, k->h, k->w, r->pt, r->pl, k->filters, r->oh, r->ow,
                             dw_scale);
    lp_ref_winograd_scale(m, g, n, k->filters, r->oh, r->ow, 2 - r->pt, 2 - r->pl, flip, k->cin,
                          k->h, k->w, dx_scale);
    free(g), free(flip);
}

static lp_status conv_case_run_(lp_check_ctx *c, const conv_case_ *k, lp_conv_algo algo, int n,
                                uint64_t seed) {
    char text[200], what[128];
    snprintf(text, sizeof text,
             "[conv2d]\nfilters = %d\nkernel = %dx%d\nstride = %d\npadding = %s\nactivation = %s\n",
             k->filters, k->kh, k->kw, k->s, k->same ? "same" : "valid", k->relu ? "relu" : "none");
    lp_check_net t;
    lp_status s = lp_check_net_create(c, k->cin, k->h, k->w, text, n, algo, seed, &t);
    if (s == LP_OK && lp_network_conv_path(t.net, 2) != algo) {
        lp_check_net_free(&t); /* the path cannot take this layer (stride, size): not its case */
        return LP_OK;
    }
    const lp_param_tensor *tw = s == LP_OK ? lp_check_net_tensor(&t, 0) : NULL;
    const lp_param_tensor *tb = s == LP_OK ? lp_check_net_tensor(&t, 1) : NULL;
    const lp_window *win = s == LP_OK ? &t.spec.layers[2].window : NULL;
    size_t ni = (size_t)n * t.in, no = (size_t)n * t.out, nw = tw ? tw->count : 0;
    size_t np = s == LP_OK ? lp_network_param_count(t.net) : 0, nb = (size_t)k->filters;
    size_t big = ni + no + nw + nb;
    float *x = malloc(ni * 4 + 4), *y = malloc(no * 4 + 4), *dy = malloc(no * 4 + 4),
          *dx = malloc(ni * 4 + 4), *g = malloc(np * 4 + 4);
    double *want = malloc(big * 8), *mag = malloc(big * 8);
    if (s == LP_OK && (!x || !y || !dy || !dx || !g || !want || !mag))
        s = lp_fail(LP_ERR_NO_MEMORY, "conv check");
    if (s == LP_OK && (!tw || !tb)) s = lp_fail(LP_ERR_INTERNAL, "conv check: no kernel or bias");
    lp_ref_conv r = {0};
    if (s == LP_OK) {
        lp_shape o = t.spec.layers[2].out;
        r = (lp_ref_conv){.cin = k->cin,
                          .ih = k->h,
                          .iw = k->w,
                          .filters = k->filters,
                          .kh = k->kh,
                          .kw = k->kw,
                          .sh = k->s,
                          .sw = k->s,
                          .pt = win->pad_top,
                          .pl = win->pad_left,
                          .oh = o.h,
                          .ow = o.w,
                          .bias = true,
                          .relu = k->relu};
        uint64_t rng = seed;
        lp_check_fill(x, ni, &rng, -1.0f, 1.0f);
        lp_check_fill(dy, no, &rng, -1.0f, 1.0f);
        s = lp_check_net_forward(&t, x, true, y);
    }
    const float *w = s == LP_OK ? t.params + tw->offset : NULL;
    const char *path = lp_conv_algo_name(algo);
    size_t K = (size_t)k->cin * k->kh * k->kw, P = (size_t)r.oh * r.ow;
    /* FFT: a transform spreads rounding over its plane (tests/cltest_conv_fft.c) */
    bool fft = algo == LP_CONV_ALGO_FFT;
    /* Winograd: the transforms' constants scale the rounding; the scale is the tile
     * computation on absolute values (lp_ref_winograd_scale), times the terms summed per
     * point + 34 (+1 for the bias) */
    bool wino = algo == LP_CONV_ALGO_WINOGRAD;
    int m = lp_conv_winograd_tile();
    if (s == LP_OK) {
        lp_ref_conv_forward(&r, x, w, t.params + tb->offset, n, want, mag);
        double top = 0;
        for (size_t i = 0; i < no; ++i) {
            if (k->relu) want[i] = fmax(want[i], 0.0);
            top = fmax(top, mag[i]);
        }
        for (size_t i = 0; fft && i < no; ++i)
            mag[i] = mag[i] + top / 50.0;
        if (wino) {
            lp_ref_winograd_scale(m, x, n, k->cin, k->h, k->w, r.pt, r.pl, w, k->filters, r.oh,
                                  r.ow, mag);
            for (size_t i = 0; i < no; ++i)
                mag[i] += fabs(t.params[tb->offset + i / P % (size_t)k->filters]);
        }
        snprintf(what, sizeof what, "conv %s %dx%dx%d -> %dx%dx%d, %dx%d stride %d forward", path,
                 k->cin, k->h, k->w, k->filters, r.oh, r.ow, k->kh, k->kw, k->s);
        lp_check_values(c, what, y, want, mag, no,
                        fft    ? 1700.0
                        : wino ? k->cin + 35.0
                               : (double)K + 3.0);
        s = lp_check_net_backward(&t, dy, g, dx);
    }
    if (s == LP_OK) {
        double *dw = want, *dwa = mag, *db = want + nw, *dba = mag + nw;
        double *rx = want + nw + nb, *rxa = mag + nw + nb;
        lp_ref_conv_backward(&r, x, w, y, dy, n, dw, dwa, db, dba, rx, rxa);
        double topw = 0, topx = 0;
        for (size_t i = 0; fft && i < nw; ++i)
            topw = fmax(topw, dwa[i]);
        for (size_t i = 0; fft && i < ni; ++i)
            topx = fmax(topx, rxa[i]);
        for (size_t i = 0; fft && i < nw; ++i)
            dwa[i] += topw / 50.0;
        for (size_t i = 0; fft && i < ni; ++i)
            rxa[i] += topx / 50.0;
        if (wino) winograd_scales_(m, k, &r, n, x, w, y, dy, dwa, rxa);
        snprintf(what, sizeof what, "conv %s %dx%dx%d, %dx%d stride %d dW", path, k->cin, k->h,
                 k->w, k->kh, k->kw, k->s);
        int tiles = n * ((r.oh + m - 1) / m) * ((r.ow + m - 1) / m);
        lp_check_values(c, what, g + tw->offset, dw, dwa, nw,
                        fft    ? 1700.0
                        : wino ? tiles + 34.0
                               : n * P + 2.0);
        snprintf(what, sizeof what, "conv %s %dx%dx%d, %dx%d stride %d dbias", path, k->cin, k->h,
                 k->w, k->kh, k->kw, k->s);
        lp_check_values(c, what, g + tb->offset, db, dba, nb, n * P + 2.0);
        snprintf(what, sizeof what, "conv %s %dx%dx%d, %dx%d stride %d dx", path, k->cin, k->h,
                 k->w, k->kh, k->kw, k->s);
        lp_check_values(c, what, dx, rx, rxa, ni,
                        fft    ? 1700.0
                        : wino ? k->filters + 34.0
                               : (double)k->filters * k->kh * k->kw + 2.0);
    }
    free(x), free(y), free(dy), free(dx), free(g), free(want), free(mag);
    lp_check_net_free(&t);
    return s;
}

static lp_status conv_all_(lp_check_ctx *c, lp_conv_algo algo) {
    long long before = c->r->compared;
    /* --quick: the direct path compiles a program per layer shape, and clFFT one per
     * transform size: the direct path takes two of the cases (strides 1 and 2), FFTs one */
    unsigned use = !c->quick || algo == LP_CONV_ALGO_GEMM                      ? 0xf
                   : algo == LP_CONV_ALGO_FFT || algo == LP_CONV_ALGO_WINOGRAD ? 0x1
                                                                               : 0x3;
    for (int i = 0; i < 4; ++i)
        if (use >> i & 1) LP_TRY(conv_case_run_(c, &quick_[i], algo, 3, 1100 + (uint64_t)i));
    for (int i = 0; !c->quick && i < 4; ++i)
        LP_TRY(conv_case_run_(c, &full_[i], algo, 5, 1200 + (uint64_t)i));
    if (c->r->compared == before) lp_check_skip(c, "no case could take this path");
    return LP_OK;
}

lp_status lp_check_conv_gemm(lp_check_ctx *c) {
    return conv_all_(c, LP_CONV_ALGO_GEMM);
}

lp_status lp_check_conv_direct(lp_check_ctx *c) {
    return conv_all_(c, LP_CONV_ALGO_DIRECT);
}

lp_status lp_check_conv_fft(lp_check_ctx *c) {
    if (!lp_conv_fft_available()) {
        lp_check_skip(c, "this build has no clFFT");
        return LP_OK;
    }
    if (lp_runtime_bits(c->rt) == LP_BITS_PORTABLE) {
        lp_check_skip(c,
                      "portable-bits mode has no FFT path (clFFT's transforms are the device's)");
        return LP_OK;
    }
    return conv_all_(c, LP_CONV_ALGO_FFT);
}

lp_status lp_check_conv_winograd(lp_check_ctx *c) {
    if (lp_runtime_bits(c->rt) == LP_BITS_PORTABLE) {
        lp_check_skip(c, "portable-bits mode has no Winograd path (its transforms round "
                         "differently from the direct sums)");
        return LP_OK;
    }
    return conv_all_(c, LP_CONV_ALGO_WINOGRAD);
}

/* The bias gradient alone and beside the rows layout, in two chunks of samples. */
static lp_status bias_case_(lp_check_ctx *c, int n, int F, int P, bool relu, uint64_t seed) {
    size_t nv = (size_t)n * F * P;
    float *dy = malloc(nv * 4), *y = malloc(nv * 4), *rows = malloc(nv * 4), *got = malloc(nv * 4),
          want[64], gb[66];
    cl_mem ddy = NULL, dyb = NULL, drows = NULL, dpsum = NULL, dg = NULL;
    lp_status s =
        dy && y && rows && got && F <= 64 ? LP_OK : lp_fail(LP_ERR_NO_MEMORY, "bias check");
    uint64_t rng = seed;
    if (s == LP_OK) {
        lp_check_fill(dy, nv, &rng, -1.0f, 1.0f);
        lp_check_fill(y, nv, &rng, -1.0f, 1.0f);
        s = lp_check_upload(c, dy, nv * 4, &ddy);
    }
    if (s == LP_OK) s = lp_check_upload(c, y, nv * 4, &dyb);
    if (s == LP_OK) s = lp_check_upload(c, NULL, nv * 4, &drows);
    if (s == LP_OK) s = lp_check_upload(c, NULL, LP_CONV_PSUM_BYTES(n, F), &dpsum);
    if (s == LP_OK) s = lp_check_upload(c, NULL, (size_t)(F + 2) * 4, &dg);
    if (s == LP_OK)
        s = lp_op_conv_bias_grad(c->rt, ddy, relu ? dyb : NULL, relu, n, F, P, dpsum, dg, 2);
    if (s == LP_OK) s = lp_buffer_read(c->rt, dg, 0, (size_t)(F + 2) * 4, gb);
    char what[96];
    if (s == LP_OK) {
        for (int f = 0; f < F; ++f)
            want[f] = lp_ref_conv_bias_grad(dy, relu ? y : NULL, n, F, P, f);
        snprintf(what, sizeof what, "lp_conv_bias_reduce n=%d F=%d P=%d%s", n, F, P,
                 relu ? " relu" : "");
        lp_check_bits(c, what, gb + 2, want, (size_t)F);
        /* in two chunks through the rows layout: the same bits */
        int n0 = n / 2;
        s = lp_op_conv_nchw_to_rows(c->rt, ddy, dyb, relu, 0, n0, F, P, drows, dpsum);
        if (s == LP_OK && n - n0 > 0)
            s = lp_op_conv_nchw_to_rows(c->rt, ddy, dyb, relu, n0, n - n0, F, P, drows, dpsum);
    }
    if (s == LP_OK) s = lp_op_conv_bias_reduce(c->rt, dpsum, n, F, dg, 2);
    if (s == LP_OK) s = lp_buffer_read(c->rt, dg, 0, (size_t)(F + 2) * 4, gb);
    if (s == LP_OK) {
        snprintf(what, sizeof what, "lp_conv_grad_rows + lp_conv_bias_reduce n=%d F=%d P=%d", n, F,
                 P);
        lp_check_bits(c, what, gb + 2, want, (size_t)F);
        s = lp_buffer_read(c->rt, drows, 0, (size_t)(n - n / 2) * F * P * 4, got);
    }
    if (s == LP_OK) {
        /* the last chunk's rows: (F, cn*P), dy masked by the ReLU */
        int n0 = n / 2, cn = n - n0;
        for (int f = 0; f < F; ++f)
            for (int j = 0; j < cn; ++j)
                for (int p = 0; p < P; ++p) {
                    size_t i = ((size_t)(n0 + j) * F + f) * P + p;
                    rows[((size_t)f * cn + j) * P + p] = !relu || y[i] > 0.0f ? dy[i] : 0.0f;
                }
        snprintf(what, sizeof what, "lp_conv_grad_rows n=%d F=%d P=%d", n, F, P);
        lp_check_bits(c, what, got, rows, (size_t)cn * F * P);
    }
    cl_mem m[] = {ddy, dyb, drows, dpsum, dg};
    for (int i = 0; i < 5; ++i)
        if (m[i]) clReleaseMemObject(m[i]);
    free(dy), free(y), free(rows), free(got);
    return s;
}

lp_status lp_check_conv_bias(lp_check_ctx *c) {
    LP_TRY(bias_case_(c, 5, 3, 37, true, 1300));
    LP_TRY(bias_case_(c, 1, 1, 1, false, 1301));
    LP_TRY(bias_case_(c, 7, 4, 16, true, 1302));
    if (!c->quick) LP_TRY(bias_case_(c, 9, 32, 676, true, 1303));
    return LP_OK;
}
