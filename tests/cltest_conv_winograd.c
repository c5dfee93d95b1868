/* The Winograd convolution (laperm/conv_winograd.h) against plain-C loops in double:
 * forward (bias, ReLU), kernel and input gradients, F(2x2,3x3) and F(4x4,3x3), valid and
 * same padding, odd plane sizes (tiles past the plane's edges), channel counts off any
 * tile, batches in one chunk and in several. Each error must stay within the stated bound
 * k u E (E: lp_ref_winograd_scale, the computation on absolute values; k = the terms
 * summed per transform point + 34); the largest error / (u E) seen is printed. Bits repeat
 * run to run and between the output transform's two forms (per tile and by rows of
 * tiles); bad arguments are errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/conv_winograd.h"
#include "laperm/ops.h"
#include "lp_test.h"
#include "reference.h"

/* The bound's constant besides the summed terms (README, "Convolution paths"). */
#define K_TRANSFORMS_ 34
#define U_ (1.0 / 16777216.0) /* 2^-24 */

typedef struct {
    const char *name;
    int cin, ih, iw, filters;
    bool same;
    int n, chunk;
} case_;

static lp_conv_geom geom_(const case_ *c) {
    int p = c->same ? 1 : 0;
    return (lp_conv_geom){.cin = c->cin,
                          .ih = c->ih,
                          .iw = c->iw,
                          .kh = 3,
                          .kw = 3,
                          .stride_h = 1,
                          .stride_w = 1,
                          .pad_top = p,
                          .pad_left = p,
                          .oh = c->ih - 2 + 2 * p,
                          .ow = c->iw - 2 + 2 * p};
}

/* Largest |got - want| / (u scale) so far, per quantity, over all cases and tiles. */
static double worst_[3][2];

/* got within k u (scale + extra) of want, everywhere; records the largest ratio. */
static bool within_(const float *got, const double *want, const double *scale, double extra,
                    size_t n, double k, const char *what, const case_ *c, int m, double *worst) {
    for (size_t i = 0; i < n; ++i) {
        double err = fabs(got[i] - want[i]), s = scale[i] + extra;
        double ratio = s > 0 ? err / (U_ * s) : (err > 0 ? INFINITY : 0);
        if (ratio > *worst) *worst = ratio;
        if (!(err <= k * U_ * s + 1e-30)) {
            printf("\n  %s F(%d,3), %s[%zu of %zu]: got %.9g want %.9g, error %.3g > bound %.3g "
                   "(k %g, scale %.3g)\n",
                   c->name, m, what, i, n, got[i], want[i], err, k * U_ * s, k, s);
            return false;
        }
    }
    return true;
}

static void destroy_(void *w) {
    lp_conv_winograd_destroy(w);
}

/* A workspace whose slots (the products' and the gradient tiles') hold NaN, larger than
 * layer g needs (tiles of a chunk padded by up to 32), so that a layer borrowing them reads
 * no value it has not written in the pass without the NaN reaching its results. */
static lp_workspace *poisoned_workspace_(const lp_conv_geom *g, int F, int m, int chunk) {
    size_t a2 = (size_t)(m + 2) * (m + 2), C = (size_t)g->cin;
    size_t t = (size_t)((g->oh + m - 1) / m) * ((g->ow + m - 1) / m) * chunk + 32;
    size_t td = (size_t)((g->ih + m - 1) / m) * ((g->iw + m - 1) / m) * chunk + 32;
    /* Each point's plane 16 floats (a cache line) more, as the path lays them out. */
    size_t floats[4] = {a2 * (F * t + 16), a2 * F * C, a2 * (C * td + 16), a2 * (F * td + 16)};
    lp_workspace_slot slots[4] = {LP_WORKSPACE_WINOGRAD_PRODUCTS, LP_WORKSPACE_WINOGRAD_DW_PRODUCTS,
                                  LP_WORKSPACE_WINOGRAD_DX_PRODUCTS,
                                  LP_WORKSPACE_WINOGRAD_DX_TILES};
    lp_workspace *ws = NULL;
    LP_TEST_OK(lp_workspace_create(lp_test_rt, &ws));
    for (int i = 0; i < 4; ++i) {
        cl_mem b;
        float *nan = lp_test_floats(floats[i]);
        for (size_t j = 0; j < floats[i]; ++j)
            nan[j] = NAN;
        LP_TEST_OK(lp_workspace_get(ws, slots[i], floats[i] * 4, &b));
        LP_TEST_OK(lp_buffer_write(lp_test_rt, b, 0, floats[i] * 4, nan));
        free(nan);
    }
    return ws;
}

static void check_case_(const case_ *c, int m, uint64_t seed) {
    lp_conv_geom g = geom_(c);
    CU_ASSERT_PTR_NULL_FATAL(lp_conv_winograd_unfit(&g, c->filters));
    int C = c->cin, F = c->filters, n = c->n;
    size_t P = (size_t)g.oh * g.ow, nw = (size_t)F * C * 9;
    size_t nx = (size_t)n * C * c->ih * c->iw, ny = (size_t)n * F * P;
    /* params: 5 floats of offset, then W, then the bias; grads: 3 floats of offset. */
    size_t w_off = 5, b_off = 5 + nw, np = b_off + (size_t)F;
    uint64_t rng = seed;
    float *params = lp_test_floats(np), *x = lp_test_floats(nx), *gy = lp_test_floats(ny);
    lp_test_fill_uniform(params, np, &rng, -0.5f, 0.5f);
    lp_test_fill_uniform(x, nx, &rng, -1.0f, 1.0f);
    lp_test_fill_uniform(gy, ny, &rng, -1.0f, 1.0f);
    cl_mem pb = lp_test_upload(params, np * 4), xb = lp_test_upload(x, nx * 4);
    cl_mem gb = lp_test_upload(gy, ny * 4), yb = lp_test_buffer(ny * 4);
    cl_mem dwb = lp_test_buffer((nw + 3) * 4), dxb = lp_test_buffer(nx * 4);

    lp_conv_winograd *w = NULL, *other = NULL;
    LP_TEST_OK(lp_conv_winograd_create(lp_test_rt, &g, F, m, c->chunk, true, &w));
    /* The same layer with the output transform's other form (per tile, or by rows). */
    setenv("LAPERM_KERNEL_FORM", lp_runtime_plane_kernels(lp_test_rt) ? "pixels" : "planes", 1);
    LP_TEST_OK(lp_conv_winograd_create(lp_test_rt, &g, F, m, c->chunk, true, &other));
    unsetenv("LAPERM_KERNEL_FORM");
    CU_ASSERT_FATAL(w != NULL && other != NULL);
    /* It borrows its products' buffers, as in a network, from a workspace left full of
     * NaN: any value read before this pass wrote it would show in its results. */
    lp_workspace *ws = poisoned_workspace_(&g, F, m, c->chunk);
    lp_conv_winograd_share_scratch(other, ws);
    /* Twice through w (the bits repeat), then through the other form (the same bits). */
    float *y[3], *dw[3], *dx[3];
    for (int rep = 0; rep < 3; ++rep) {
        lp_conv_winograd *run = rep < 2 ? w : other;
        y[rep] = lp_test_floats(ny), dw[rep] = lp_test_floats(nw), dx[rep] = lp_test_floats(nx);
        LP_TEST_OK(lp_conv_winograd_forward(run, n, xb, pb, w_off, (int)b_off, true, yb));
        CU_ASSERT(lp_test_download(yb, ny * 4, y[rep]));
        LP_TEST_OK(lp_conv_winograd_backward(run, n, xb, gb, pb, w_off, dwb, 3, dxb));
        LP_TEST_OK(lp_buffer_read(lp_test_rt, dwb, 12, nw * 4, dw[rep]));
        CU_ASSERT(lp_test_download(dxb, nx * 4, dx[rep]));
    }
    CU_ASSERT(memcmp(y[0], y[1], ny * 4) == 0);
    CU_ASSERT(memcmp(dw[0], dw[1], nw * 4) == 0);
    CU_ASSERT(memcmp(dx[0], dx[1], nx * 4) == 0);
    if (memcmp(y[0], y[2], ny * 4) || memcmp(dw[0], dw[2], nw * 4) ||
        memcmp(dx[0], dx[2], nx * 4)) {
        printf("\n  %s F(%d,3): the output transform's forms (the other with borrowed "
               "products' buffers) differ\n",
               c->name, m);
        CU_FAIL("transform forms differ");
    }
    lp_test_release_with(destroy_, other);
    lp_workspace_destroy(ws);
    /* Without the input gradient dW has the same bits. */
    LP_TEST_OK(lp_conv_winograd_backward(w, n, xb, gb, pb, w_off, dwb, 3, NULL));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, dwb, 12, nw * 4, dw[1]));
    CU_ASSERT(memcmp(dw[0], dw[1], nw * 4) == 0);

    /* The exact values (in double), with no ReLU mask on the gradient: the object takes
     * dy as given. */
    lp_ref_conv rc = {.cin = C,
                      .ih = c->ih,
                      .iw = c->iw,
                      .filters = F,
                      .kh = 3,
                      .kw = 3,
                      .sh = 1,
                      .sw = 1,
                      .pt = g.pad_top,
                      .pl = g.pad_left,
                      .oh = g.oh,
                      .ow = g.ow,
                      .bias = true,
                      .relu = false};
    double *z = malloc(ny * 8), *zs = malloc(ny * 8), *rdw = malloc(nw * 8), *rdwa = malloc(nw * 8);
    double *rdx = malloc(nx * 8), *rdxa = malloc(nx * 8), *db = malloc((size_t)F * 8),
           *dba = malloc((size_t)F * 8), *dws = malloc(nw * 8), *dxs = malloc(nx * 8);
    float *flip = malloc(nw * 4);
    CU_ASSERT_FATAL(z && zs && rdw && rdwa && rdx && rdxa && db && dba && dws && dxs && flip);
    const float *wk = params + w_off, *bias = params + b_off;
    lp_ref_conv_forward(&rc, x, wk, bias, n, z, NULL);
    lp_ref_conv_backward(&rc, x, wk, NULL, gy, n, rdw, rdwa, db, dba, rdx, rdxa);
    /* The input gradient's kernel: flipped and transposed, (C, F, 3, 3). */
    for (int f = 0; f < F; ++f)
        for (int ch = 0; ch < C; ++ch)
            for (int t = 0; t < 9; ++t)
                flip[((size_t)ch * F + f) * 9 + t] = wk[((size_t)f * C + ch) * 9 + 8 - t];
    lp_ref_winograd_scale(m, x, n, C, c->ih, c->iw, g.pad_top, g.pad_left, wk, F, g.oh, g.ow, zs);
    lp_ref_winograd_scale(m, gy, n, F, g.oh, g.ow, 2 - g.pad_top, 2 - g.pad_left, flip, C, c->ih,
                          c->iw, dxs);
    lp_ref_winograd_dw_scale(m, x, gy, n, C, c->ih, c->iw, g.pad_top, g.pad_left, F, g.oh, g.ow,
                             dws);
    int mi = m == 2 ? 0 : 1;
    /* forward: the bias adds one rounding and its magnitude; ReLU changes no error bound */
    for (size_t i = 0; i < ny; ++i) {
        size_t f = i / P % (size_t)F;
        double want = z[i] > 0 ? z[i] : 0;
        double err = fabs(y[0][i] - want), s = zs[i] + fabs(bias[f]);
        double k = C + K_TRANSFORMS_ + 1;
        if (s > 0 && err / (U_ * s) > worst_[0][mi]) worst_[0][mi] = err / (U_ * s);
        if (!(err <= k * U_ * s + 1e-30)) {
            printf("\n  %s F(%d,3), y[%zu]: got %.9g want %.9g, error %.3g > bound %.3g\n", c->name,
                   m, i, y[0][i], want, err, k * U_ * s);
            CU_FAIL("forward beyond its bound");
            break;
        }
    }
    int tiles = ((g.oh + m - 1) / m) * ((g.ow + m - 1) / m) * n;
    CU_ASSERT(within_(dx[0], rdx, dxs, 0, nx, F + K_TRANSFORMS_, "dx", c, m, &worst_[1][mi]));
    CU_ASSERT(within_(dw[0], rdw, dws, 0, nw, tiles + K_TRANSFORMS_, "dW", c, m, &worst_[2][mi]));

    lp_test_release_with(destroy_, w);
    free(z), free(zs), free(rdw), free(rdwa), free(rdx), free(rdxa), free(db), free(dba);
    free(dws), free(dxs), free(flip), free(params), free(x), free(gy);
    for (int i = 0; i < 3; ++i)
        free(y[i]), free(dw[i]), free(dx[i]);
    cl_mem bufs[] = {pb, xb, gb, yb, dwb, dxb};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; ++i)
        lp_test_release_buffer(&bufs[i]);
}

/* Odd planes (tiles past the right and bottom edges), one channel, channel counts off any
 * tile, a plane smaller than one tile, rows of 4 and 8 tiles for the output transform's
 * by-row form (its vector stores inside the row and its value-by-value edge, a plane
 * ending in half an item of 8 tiles), batches in several chunks (the kernel gradient's
 * products added chunk after chunk), and conv4's second layer at batch 2 (64 channels). */
static const case_ cases_[] = {
    {"1x7x9 -> 3 valid, batch 3", 1, 7, 9, 3, false, 3, 3},
    {"1x7x9 -> 3 same, batch 3 in chunks of 2", 1, 7, 9, 3, true, 3, 2},
    {"5x11x13 -> 6 valid, batch 3", 5, 11, 13, 6, false, 3, 3},
    {"5x11x13 -> 6 same, batch 3 in chunks of 1", 5, 11, 13, 6, true, 3, 1},
    {"3x3x3 -> 2 valid (one output pixel)", 3, 3, 3, 2, false, 2, 2},
    {"2x4x5 -> 7 same (less than a 4x4 tile down)", 2, 4, 5, 7, true, 2, 2},
    {"2x6x34 -> 3 valid (a row of 8 tiles)", 2, 6, 34, 3, false, 2, 2},
    {"3x10x15 -> 4 same (rows of 4 tiles, 12 a plane, the last column cut)", 3, 10, 15, 4, true, 2,
     2},
    {"2x16x32 -> 3 same (rows of 8 tiles, windows inside the row)", 2, 16, 32, 3, true, 2, 2},
    {"1x64x64 -> 2 same, batch 3 (on CPUs the input gradient in chunks of its own: 256 or "
     "1024 tiles a sample)",
     1, 64, 64, 2, true, 3, 3},
    {"64x16x16 -> 64 same, batch 2", 64, 16, 16, 64, true, 2, 2},
};

static void test_cases(void) {
    size_t n_cases = sizeof cases_ / sizeof *cases_;
    for (int m = 2; m <= 4; m += 2)
        for (size_t i = 0; i < n_cases; ++i)
            if (!(lp_test_simulator() || lp_test_small()) || i + 1 < n_cases)
                check_case_(&cases_[i], m, 2000 + 10 * (uint64_t)m + i);
    printf("\n  largest error / (u E): F(2,3) y %.2f dx %.2f dW %.2f; F(4,3) y %.2f dx %.2f dW "
           "%.2f\n",
           worst_[0][0], worst_[1][0], worst_[2][0], worst_[0][1], worst_[1][1], worst_[2][1]);
}

/* Shapes the path cannot take are refused with the reason; bad tiles, batches and a
 * missing input gradient are errors, not crashes. */
static void test_errors(void) {
    case_ c = cases_[0];
    lp_conv_geom g = geom_(&c), five = g, strided = g;
    five.kh = five.kw = 5;
    strided.stride_h = 2;
    CU_ASSERT_PTR_NOT_NULL(lp_conv_winograd_unfit(&five, 2));
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_conv_winograd_unfit(&strided, 2), "3x3 kernel at stride 1"));
    lp_conv_winograd *w = NULL;
    CU_ASSERT_EQUAL(lp_conv_winograd_create(lp_test_rt, &five, 2, 4, 1, true, &w),
                    LP_ERR_UNSUPPORTED);
    CU_ASSERT(w == NULL);
    CU_ASSERT_EQUAL(lp_conv_winograd_create(lp_test_rt, &g, 2, 3, 1, true, &w), LP_ERR_INVALID_ARG);
    CU_ASSERT(strstr(lp_last_error(), "tile 3") != NULL);
    LP_TEST_OK(lp_conv_winograd_create(lp_test_rt, &g, 3, 2, 2, false, &w));
    CU_ASSERT_FATAL(w != NULL);
    cl_mem b = lp_test_buffer(4096 * 4);
    CU_ASSERT_EQUAL(lp_conv_winograd_forward(w, -1, b, b, 0, -1, false, b), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_conv_winograd_backward(w, 1, b, b, b, 0, b, 0, b), LP_ERR_INVALID_ARG);
    CU_ASSERT(strstr(lp_last_error(), "input gradient") != NULL);
    lp_test_release_with(destroy_, w);
    lp_test_release_buffer(&b);
}

/* $LAPERM_WINOGRAD_TILE: 2 or 4, anything else refused by name. */
static void test_tile_env(void) {
    const char *saved = getenv("LAPERM_WINOGRAD_TILE");
    char *keep = saved ? strdup(saved) : NULL;
    unsetenv("LAPERM_WINOGRAD_TILE");
    LP_TEST_OK(lp_conv_winograd_tile_check());
    CU_ASSERT_EQUAL(lp_conv_winograd_tile(), 4);
    setenv("LAPERM_WINOGRAD_TILE", "2", 1);
    LP_TEST_OK(lp_conv_winograd_tile_check());
    CU_ASSERT_EQUAL(lp_conv_winograd_tile(), 2);
    const char *bad[] = {"3", "x", "4 ", "22"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; ++i) {
        setenv("LAPERM_WINOGRAD_TILE", bad[i], 1);
        CU_ASSERT_EQUAL(lp_conv_winograd_tile_check(), LP_ERR_INVALID_ARG);
        CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "LAPERM_WINOGRAD_TILE"));
    }
    if (keep)
        setenv("LAPERM_WINOGRAD_TILE", keep, 1);
    else
        unsetenv("LAPERM_WINOGRAD_TILE");
    free(keep);
}

static void register_suites_(void) {
    CU_pSuite s = CU_add_suite("conv_winograd", NULL, lp_test_release_kept);
    CU_add_test(s, "forward and gradients against plain C within the stated bound, repeatable",
                test_cases);
    CU_add_test(s, "bad arguments", test_errors);
    CU_add_test(s, "LAPERM_WINOGRAD_TILE", test_tile_env);
}

int main(void) {
    return lp_cltest_main("cltest_conv_winograd", register_suites_);
}
