/* Every wrapper in laperm/ops.h against a plain-C reference (in double where it sums),
 * at odd sizes and nonzero offsets; words around each output region must stay untouched. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/ops.h"
#include "lp_test.h"

/* Asserts LP_OK, printing the library's message when not. */
/* A sentinel that no kernel computes here: tells untouched words from written ones. */
#define SENTINEL_ 12345.5f

static cl_mem new_buf_(size_t bytes) {
    cl_mem b = NULL;
    lp_status s = lp_buffer_create(lp_test_rt, bytes, "test buffer", &b);
    if (s != LP_OK) printf("\n  lp_buffer_create(%zu): %s\n", bytes, lp_last_error());
    return s == LP_OK ? b : NULL;
}

static cl_mem upload_(const void *src, size_t bytes) {
    cl_mem b = new_buf_(bytes);
    if (b && lp_buffer_write(lp_test_rt, b, 0, bytes, src) != LP_OK) {
        printf("\n  lp_buffer_write(%zu): %s\n", bytes, lp_last_error());
        clReleaseMemObject(b);
        return NULL;
    }
    return b;
}

static bool download_(cl_mem b, size_t bytes, void *dst) {
    lp_status s = lp_buffer_read(lp_test_rt, b, 0, bytes, dst);
    if (s != LP_OK) printf("\n  lp_buffer_read(%zu): %s\n", bytes, lp_last_error());
    return s == LP_OK;
}

static float *floats_(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof *p);
    CU_ASSERT_PTR_NOT_NULL(p);
    return p;
}

static void fill_uniform_(float *x, size_t n, uint64_t *rng, float lo, float hi) {
    for (size_t i = 0; i < n; ++i)
        x[i] = lp_test_uniform(rng, lo, hi);
}

static void fill_const_(float *x, size_t n, float v) {
    for (size_t i = 0; i < n; ++i)
        x[i] = v;
}


/* ---- lp_op_gemm ---------------------------------------------------------------------------- */

typedef struct {
    bool ta, tb;
    int m, n, k;
    size_t a_off, b_off, c_off, pad; /* pad: extra columns in every stored row */
    float alpha, beta;
    bool c_nan; /* C's region holds NaN before the call (beta 0 must not read it) */
} gemm_case_;

static void check_gemm_(const gemm_case_ *g, uint64_t seed) {
    uint64_t rng = seed;
    size_t m = (size_t)g->m, n = (size_t)g->n, k = (size_t)g->k;
    size_t a_rows = g->ta ? k : m, a_cols = g->ta ? m : k;
    size_t b_rows = g->tb ? n : k, b_cols = g->tb ? k : n;
    size_t lda = a_cols + g->pad, ldb = b_cols + g->pad, ldc = n + g->pad;
    size_t na = g->a_off + a_rows * lda, nb = g->b_off + b_rows * ldb, nc = g->c_off + m * ldc;
    float *a = floats_(na), *b = floats_(nb), *c = floats_(nc), *want = floats_(nc);
    CU_ASSERT_FATAL(a && b && c && want);
    fill_uniform_(a, na, &rng, -1.0f, 1.0f);
    fill_uniform_(b, nb, &rng, -1.0f, 1.0f);
    fill_uniform_(c, nc, &rng, -1.0f, 1.0f);
    if (g->c_nan)
        for (size_t i = 0; i < m; ++i)
            for (size_t j = 0; j < n; ++j)
                c[g->c_off + i * ldc + j] = NAN;
    memcpy(want, c, nc * sizeof *c);
    for (size_t i = 0; i < m; ++i)
        for (size_t j = 0; j < n; ++j) {
            double s = 0.0;
            for (size_t p = 0; p < k; ++p) {
                double av = g->ta ? a[g->a_off + p * lda + i] : a[g->a_off + i * lda + p];
                double bv = g->tb ? b[g->b_off + j * ldb + p] : b[g->b_off + p * ldb + j];
                s += av * bv;
            }
            size_t ci = g->c_off + i * ldc + j;
            double old = g->beta == 0.0f ? 0.0 : (double)g->beta * c[ci];
            want[ci] = (float)(g->alpha * s + old);
        }
    cl_mem da = upload_(a, na * 4), db = upload_(b, nb * 4), dc = upload_(c, nc * 4);
    CU_ASSERT_FATAL(da && db && dc);
    LP_TEST_OK(lp_op_gemm(lp_test_rt, g->ta, g->tb, m, n, k, g->alpha, da, g->a_off, lda, db, g->b_off,
                   ldb, g->beta, dc, g->c_off, ldc, "test_gemm"));
    CU_ASSERT(download_(dc, nc * 4, c));
    char what[160];
    snprintf(what, sizeof what, "gemm %c%c %dx%dx%d offs %zu,%zu,%zu pad %zu alpha %g beta %g",
             g->ta ? 'T' : 'N', g->tb ? 'T' : 'N', g->m, g->n, g->k, g->a_off, g->b_off, g->c_off,
             g->pad, (double)g->alpha, (double)g->beta);
    /* Float sums of k products of values in [-1, 1]: the error grows with k. */
    CU_ASSERT(lp_test_close(c, want, nc, 2e-6f * (float)k + 1e-6f, 1e-4f, what));
    clReleaseMemObject(da);
    clReleaseMemObject(db);
    clReleaseMemObject(dc);
    free(a);
    free(b);
    free(c);
    free(want);
}

static void test_gemm(void) {
    bool sim = lp_test_simulator();
    const int sizes[][3] = {{1, 1, 1},  {7, 13, 5},   {1, 300, 7},  {128, 1, 7},
                            {7, 10, 1}, {5, 1000, 3}, {33, 45, 67}, {64, 300, 784}};
    int n_sizes = (int)(sizeof sizes / sizeof sizes[0]);
    for (int s = 0; s < n_sizes; ++s) {
        if (sim && sizes[s][0] * sizes[s][1] * sizes[s][2] > 200000) continue;
        for (int t = 0; t < 4; ++t) {
            gemm_case_ plain = {.ta = t & 1,
                                .tb = (t >> 1) & 1,
                                .m = sizes[s][0],
                                .n = sizes[s][1],
                                .k = sizes[s][2],
                                .alpha = 1.0f,
                                .beta = 0.0f};
            check_gemm_(&plain, 100 + (uint64_t)s * 4 + (uint64_t)t);
            gemm_case_ views = plain;
            views.a_off = 3;
            views.b_off = 5;
            views.c_off = 7;
            views.pad = 2;
            views.alpha = 0.75f;
            views.beta = 1.0f;
            check_gemm_(&views, 200 + (uint64_t)s * 4 + (uint64_t)t);
            views.beta = 0.0f;
            check_gemm_(&views, 300 + (uint64_t)s * 4 + (uint64_t)t);
        }
    }
}

/* BLAS convention: with beta 0, C is output only, so NaN or garbage there must not leak
 * into the result (the network's gemms write fresh, never-cleared buffers). */
static void test_gemm_beta0_ignores_c(void) {
    const int sizes[][3] = {{1, 1, 1}, {7, 13, 5}, {33, 45, 67}};
    for (int s = 0; s < 3; ++s)
        for (int t = 0; t < 4; ++t) {
            gemm_case_ g = {.ta = t & 1,
                            .tb = (t >> 1) & 1,
                            .m = sizes[s][0],
                            .n = sizes[s][1],
                            .k = sizes[s][2],
                            .a_off = 1,
                            .c_off = 2,
                            .pad = 1,
                            .alpha = 1.0f,
                            .beta = 0.0f,
                            .c_nan = true};
            check_gemm_(&g, 400 + (uint64_t)s * 4 + (uint64_t)t);
        }
}

static void test_gemm_arguments(void) {
    lp_runtime *rt = lp_test_rt;
    float ones[16];
    fill_const_(ones, 16, 1.0f);
    cl_mem a = upload_(ones, sizeof ones), c = upload_(ones, sizeof ones);
    CU_ASSERT_FATAL(a && c);
    /* Empty products are no-ops. */
    LP_TEST_OK(lp_op_gemm(rt, false, false, 0, 4, 4, 1.0f, a, 0, 4, a, 0, 4, 0.0f, c, 0, 4, "empty"));
    LP_TEST_OK(lp_op_gemm(rt, false, false, 4, 0, 4, 1.0f, a, 0, 4, a, 0, 4, 0.0f, c, 0, 4, "empty"));
    float got[16];
    CU_ASSERT(download_(c, sizeof got, got));
    CU_ASSERT(lp_test_close(got, ones, 16, 0.0f, 0.0f, "gemm with m or n = 0 leaves C"));
    /* A 4x4 product needs 16 floats of A: an offset of 1 overruns the buffer. */
    lp_status s =
        lp_op_gemm(rt, false, false, 4, 4, 4, 1.0f, a, 1, 4, a, 0, 4, 0.0f, c, 0, 4, "overrun");
    CU_ASSERT_EQUAL(s, LP_ERR_CLBLAST);
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "overrun"));
    /* lda smaller than a row: CLBlastInvalidLeadDimA, an error naming the call. */
    s = lp_op_gemm(rt, false, false, 2, 2, 4, 1.0f, a, 0, 2, a, 0, 2, 0.0f, c, 0, 2, "bad_ld");
    CU_ASSERT_NOT_EQUAL(s, LP_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "bad_ld"));
    CU_ASSERT_EQUAL(lp_runtime_finish(rt), LP_OK);
    clReleaseMemObject(a);
    clReleaseMemObject(c);
}

/* ---- dense element-wise kernels ------------------------------------------------------------ */

static void check_bias_act_(int rows, int cols, int bias_off, bool relu, uint64_t seed) {
    uint64_t rng = seed;
    size_t n = (size_t)rows * cols, ny = n + 3; /* 3 words past the matrix */
    size_t np = (bias_off >= 0 ? (size_t)bias_off : 0) + (size_t)cols + 2;
    float *y = floats_(ny), *want = floats_(ny), *params = floats_(np);
    CU_ASSERT_FATAL(y && want && params);
    fill_uniform_(y, n, &rng, -2.0f, 2.0f);
    fill_const_(y + n, 3, -SENTINEL_);
    for (size_t i = 0; i < n; i += 5)
        y[i] = 0.0f;
    fill_uniform_(params, np, &rng, -1.0f, 1.0f);
    for (size_t i = 0; i < ny; ++i) {
        float v = y[i];
        if (i < n) {
            if (bias_off >= 0) v += params[bias_off + (int)(i % (size_t)cols)];
            if (relu) v = fmaxf(v, 0.0f);
        }
        want[i] = v;
    }
    cl_mem dy = upload_(y, ny * 4), dp = upload_(params, np * 4);
    CU_ASSERT_FATAL(dy && dp);
    LP_TEST_OK(lp_op_bias_act(lp_test_rt, dy, rows, cols, dp, bias_off, relu));
    CU_ASSERT(download_(dy, ny * 4, y));
    char what[96];
    snprintf(what, sizeof what, "bias_act %dx%d bias_off %d relu %d", rows, cols, bias_off,
             (int)relu);
    CU_ASSERT(lp_test_close(y, want, ny, 0.0f, 0.0f, what));
    clReleaseMemObject(dy);
    clReleaseMemObject(dp);
    free(y);
    free(want);
    free(params);
}

static void test_bias_act(void) {
    bool sim = lp_test_simulator();
    const int rows[] = {1, 7, 128};
    const int cols[] = {1, 7, 300, 1000};
    for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 4; ++c) {
            if (sim && rows[r] * cols[c] > 40000) continue;
            uint64_t seed = 500 + (uint64_t)r * 16 + (uint64_t)c * 4;
            check_bias_act_(rows[r], cols[c], 0, true, seed);
            check_bias_act_(rows[r], cols[c], 13, false, seed + 1);
            check_bias_act_(rows[r], cols[c], -1, true, seed + 2);
            check_bias_act_(rows[r], cols[c], -1, false, seed + 3); /* no-op */
        }
}

static void check_relu_backward_(int n, uint64_t seed) {
    uint64_t rng = seed;
    size_t nt = (size_t)n + 4;
    float *dy = floats_(nt), *y = floats_(nt), *want = floats_(nt);
    CU_ASSERT_FATAL(dy && y && want);
    fill_uniform_(dy, nt, &rng, -3.0f, 3.0f);
    fill_uniform_(y, nt, &rng, -1.0f, 1.0f);
    /* Exact zeros of either sign count as inactive; so does NaN (a comparison fails). */
    for (size_t i = 0; i < (size_t)n; i += 3)
        y[i] = (i % 2) ? -0.0f : 0.0f;
    if (n > 10) y[10] = NAN;
    for (size_t i = 0; i < nt; ++i)
        want[i] = (i < (size_t)n && !(y[i] > 0.0f)) ? 0.0f : dy[i];
    cl_mem ddy = upload_(dy, nt * 4), dyy = upload_(y, nt * 4);
    CU_ASSERT_FATAL(ddy && dyy);
    LP_TEST_OK(lp_op_relu_backward(lp_test_rt, ddy, dyy, n));
    CU_ASSERT(download_(ddy, nt * 4, dy));
    char what[64];
    snprintf(what, sizeof what, "relu_backward n=%d", n);
    CU_ASSERT(lp_test_close(dy, want, nt, 0.0f, 0.0f, what));
    clReleaseMemObject(ddy);
    clReleaseMemObject(dyy);
    free(dy);
    free(y);
    free(want);
}

static void test_relu_backward(void) {
    const int sizes[] = {0, 1, 7, 64, 1000, 100003};
    for (int i = 0; i < 6; ++i) {
        if (lp_test_simulator() && sizes[i] > 20000) continue;
        check_relu_backward_(sizes[i], 600 + (uint64_t)i);
    }
}

static void check_bias_grad_(int rows, int cols, int bias_off, uint64_t seed) {
    uint64_t rng = seed;
    size_t n = (size_t)rows * cols, ng = (size_t)bias_off + (size_t)cols + 3;
    float *dy = floats_(n), *g = floats_(ng), *want = floats_(ng);
    CU_ASSERT_FATAL(dy && g && want);
    fill_uniform_(dy, n, &rng, -1.0f, 1.0f);
    fill_uniform_(g, ng, &rng, 100.0f, 200.0f); /* overwritten, not accumulated */
    memcpy(want, g, ng * sizeof *g);
    for (int c = 0; c < cols; ++c) {
        double s = 0.0;
        for (int r = 0; r < rows; ++r)
            s += dy[(size_t)r * cols + c];
        want[bias_off + c] = (float)s;
    }
    cl_mem ddy = upload_(dy, n * 4), dg = upload_(g, ng * 4);
    CU_ASSERT_FATAL(ddy && dg);
    LP_TEST_OK(lp_op_bias_grad(lp_test_rt, ddy, rows, cols, dg, bias_off));
    CU_ASSERT(download_(dg, ng * 4, g));
    char what[64];
    snprintf(what, sizeof what, "bias_grad %dx%d off %d", rows, cols, bias_off);
    CU_ASSERT(lp_test_close(g, want, ng, 1e-6f * (float)rows, 1e-5f, what));
    clReleaseMemObject(ddy);
    clReleaseMemObject(dg);
    free(dy);
    free(g);
    free(want);
}

static void test_bias_grad(void) {
    const int rows[] = {1, 7, 128, 1000};
    const int cols[] = {1, 7, 300, 1000};
    for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 4; ++c) {
            if (lp_test_simulator() && rows[r] * cols[c] > 40000) continue;
            check_bias_grad_(rows[r], cols[c], (r + c) % 2 ? 0 : 11,
                             700 + (uint64_t)r * 4 + (uint64_t)c);
        }
}

/* ---- lp_op_softmax_xent -------------------------------------------------------------------- */

typedef enum { LOGITS_RANDOM, LOGITS_EXTREME } logits_kind_;

/* Fills rows of logits; LOGITS_EXTREME cycles through rows that break a naive softmax:
 * +-80 spikes (label on or off the spike), all equal, all -80, and |x| up to 200. */
static void fill_logits_(float *x, int *labels, int rows, int classes, logits_kind_ kind,
                         uint64_t *rng) {
    for (int r = 0; r < rows; ++r) {
        float *row = x + (size_t)r * classes;
        labels[r] = (int)(lp_test_next(rng) % (uint64_t)classes);
        fill_uniform_(row, (size_t)classes, rng, -4.0f, 4.0f);
        if (kind != LOGITS_EXTREME) continue;
        int spike = (int)(lp_test_next(rng) % (uint64_t)classes);
        switch (r % 6) {
        case 0: /* confident and right */
            fill_const_(row, (size_t)classes, -80.0f);
            row[labels[r]] = 80.0f;
            break;
        case 1: /* confident and wrong */
            fill_const_(row, (size_t)classes, -80.0f);
            row[spike] = 80.0f;
            break;
        case 2:
            fill_const_(row, (size_t)classes, 3.25f);
            break; /* ties: argmax is the first */
        case 3:
            fill_const_(row, (size_t)classes, -80.0f);
            break;
        case 4: /* exp(200) overflows a float: only a max-shifted sum survives */
            row[spike] = 200.0f;
            row[(spike + 1) % classes] = 199.0f;
            break;
        default:
            row[spike] = -200.0f;
            break;
        }
    }
}

/* Reference in double: summed loss, correct count (first maximum wins ties) and
 * (softmax - onehot) * scale. */
static void softmax_xent_ref_(const float *x, const int *labels, int rows, int classes,
                              double scale, double *loss, double *correct, float *dlogits) {
    *loss = 0.0;
    *correct = 0.0;
    for (int r = 0; r < rows; ++r) {
        const float *row = x + (size_t)r * classes;
        int argmax = 0;
        for (int c = 1; c < classes; ++c)
            if (row[c] > row[argmax]) argmax = c;
        double m = row[argmax], z = 0.0;
        for (int c = 0; c < classes; ++c)
            z += exp((double)row[c] - m);
        double lse = m + log(z);
        *loss += lse - row[labels[r]];
        *correct += argmax == labels[r];
        for (int c = 0; c < classes; ++c)
            dlogits[(size_t)r * classes + c] =
                (float)((exp((double)row[c] - lse) - (c == labels[r])) * scale);
    }
}

static void check_softmax_xent_(int rows, int classes, logits_kind_ kind, float scale,
                                bool with_grad, uint64_t seed) {
    uint64_t rng = seed;
    size_t n = (size_t)rows * classes;
    float *x = floats_(n), *d = floats_(n + 2), *want = floats_(n + 2);
    int *labels = malloc((size_t)rows * sizeof *labels);
    CU_ASSERT_FATAL(x && d && want && labels);
    fill_logits_(x, labels, rows, classes, kind, &rng);
    double loss, correct;
    softmax_xent_ref_(x, labels, rows, classes, scale, &loss, &correct, want);
    fill_const_(want + n, 2, SENTINEL_);
    fill_const_(d, n + 2, SENTINEL_);
    /* Stats at offset 3, with something already there: the kernel adds. */
    float stats[6] = {-1.0f, -2.0f, -3.0f, 1.5f, 2.0f, -6.0f};
    cl_mem dx = upload_(x, n * 4), dl = upload_(labels, (size_t)rows * sizeof(int));
    cl_mem dd = upload_(d, (n + 2) * 4), ds = upload_(stats, sizeof stats);
    CU_ASSERT_FATAL(dx && dl && dd && ds);
    LP_TEST_OK(lp_op_softmax_xent(lp_test_rt, dx, dl, rows, classes, scale, with_grad ? dd : NULL, ds, 3));
    float got_stats[6], *xs = floats_(n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(xs);
    CU_ASSERT(download_(ds, sizeof got_stats, got_stats));
    CU_ASSERT(download_(dd, (n + 2) * 4, d));
    CU_ASSERT(download_(dx, n * 4, xs));
    char what[96];
    snprintf(what, sizeof what, "softmax_xent %dx%d kind %d scale %g%s", rows, classes, (int)kind,
             (double)scale, with_grad ? "" : " (no grad)");
    float want_stats[6] = {-1.0f, -2.0f, -3.0f, (float)(1.5 + loss), (float)(2.0 + correct), -6.0f};
    CU_ASSERT(lp_test_close(got_stats, want_stats, 6, 1e-4f, 1e-5f, what));
    CU_ASSERT_EQUAL(got_stats[4], want_stats[4]); /* a count: exact */
    CU_ASSERT(lp_test_close(xs, x, n, 0.0f, 0.0f, "softmax_xent leaves the logits"));
    if (with_grad) {
        CU_ASSERT(lp_test_close(d, want, n + 2, 1e-6f * fabsf(scale), 1e-4f, what));
    } else {
        fill_const_(want, n + 2, SENTINEL_);
        CU_ASSERT(lp_test_close(d, want, n + 2, 0.0f, 0.0f, "softmax_xent without dlogits"));
    }
    clReleaseMemObject(dx);
    clReleaseMemObject(dl);
    clReleaseMemObject(dd);
    clReleaseMemObject(ds);
    free(x);
    free(d);
    free(want);
    free(labels);
    free(xs);
}

static void test_softmax_xent(void) {
    const int rows[] = {1, 7, 64, 300, 1000, 2049}; /* beyond any work-group size */
    const int classes[] = {1, 2, 10, 1000};
    for (int r = 0; r < 6; ++r)
        for (int c = 0; c < 4; ++c) {
            if (lp_test_simulator() && rows[r] * classes[c] > 20000) continue;
            uint64_t seed = 800 + (uint64_t)r * 4 + (uint64_t)c;
            float scale = 1.0f / (float)rows[r];
            check_softmax_xent_(rows[r], classes[c], LOGITS_RANDOM, scale, true, seed);
            check_softmax_xent_(rows[r], classes[c], LOGITS_EXTREME, 2.5f, true, seed + 50);
        }
}

static void test_softmax_xent_no_grad(void) {
    check_softmax_xent_(7, 10, LOGITS_RANDOM, 1.0f, false, 901);
    check_softmax_xent_(300, 10, LOGITS_EXTREME, 1.0f, false, 902);
}

/* Two launches into the same stats add up (the trainer sums a whole epoch there). */
static void test_softmax_xent_accumulates(void) {
    uint64_t rng = 950;
    int rows = 37, classes = 10;
    size_t n = (size_t)rows * classes;
    float *x = floats_(n), *d = floats_(n);
    int labels[37];
    CU_ASSERT_FATAL(x && d);
    fill_logits_(x, labels, rows, classes, LOGITS_RANDOM, &rng);
    double loss, correct;
    softmax_xent_ref_(x, labels, rows, classes, 1.0, &loss, &correct, d);
    float zero[2] = {0.0f, 0.0f}, got[2];
    cl_mem dx = upload_(x, n * 4), dl = upload_(labels, sizeof labels), ds = upload_(zero, 8);
    CU_ASSERT_FATAL(dx && dl && ds);
    LP_TEST_OK(lp_op_softmax_xent(lp_test_rt, dx, dl, rows, classes, 1.0f, NULL, ds, 0));
    LP_TEST_OK(lp_op_softmax_xent(lp_test_rt, dx, dl, rows, classes, 1.0f, NULL, ds, 0));
    CU_ASSERT(download_(ds, 8, got));
    float want[2] = {(float)(2 * loss), (float)(2 * correct)};
    CU_ASSERT(lp_test_close(got, want, 2, 1e-4f, 1e-5f, "softmax_xent twice"));
    clReleaseMemObject(dx);
    clReleaseMemObject(dl);
    clReleaseMemObject(ds);
    free(x);
    free(d);
}

/* ---- optimizers ---------------------------------------------------------------------------- */

static void check_adam_(int n, uint64_t seed) {
    uint64_t rng = seed;
    size_t nt = (size_t)n + 3;
    float *w = floats_(nt), *g = floats_(nt), *m = floats_(nt), *v = floats_(nt);
    double *rw = malloc(nt * sizeof *rw), *rm = malloc(nt * sizeof *rm),
           *rv = malloc(nt * sizeof *rv);
    CU_ASSERT_FATAL(w && g && m && v && rw && rm && rv);
    fill_uniform_(w, nt, &rng, -1.0f, 1.0f);
    fill_uniform_(m, nt, &rng, -0.1f, 0.1f);
    fill_uniform_(v, nt, &rng, 0.0f, 0.01f);
    if (n > 2) m[1] = v[1] = 0.0f; /* a fresh slot */
    for (size_t i = 0; i < nt; ++i) {
        rw[i] = w[i];
        rm[i] = m[i];
        rv[i] = v[i];
    }
    cl_mem dw = upload_(w, nt * 4), dm = upload_(m, nt * 4), dv = upload_(v, nt * 4);
    cl_mem dg = new_buf_(nt * 4);
    CU_ASSERT_FATAL(dw && dm && dv && dg);
    /* The hyperparameters as the kernel receives them (0.999f is not 0.999). */
    const double lr = 1e-3, b1 = 0.9f, b2 = 0.999f, eps = 1e-7f;
    for (int t = 1; t <= 3; ++t) {
        fill_uniform_(g, nt, &rng, -1.0f, 1.0f);
        if (n > 2) g[1] = 0.0f;
        if (n > 3) g[2] = 1e-6f * (float)t;
        LP_TEST_OK(lp_buffer_write(lp_test_rt, dg, 0, nt * 4, g));
        double lr_t = (float)(lr * sqrt(1.0 - pow(b2, t)) / (1.0 - pow(b1, t)));
        LP_TEST_OK(lp_op_adam(lp_test_rt, dw, dg, dm, dv, n, (float)lr_t, (float)b1, (float)b2,
                       (float)eps));
        for (int i = 0; i < n; ++i) {
            rm[i] = b1 * rm[i] + (1.0 - b1) * g[i];
            rv[i] = b2 * rv[i] + (1.0 - b2) * (double)g[i] * g[i];
            rw[i] -= lr_t * rm[i] / (sqrt(rv[i]) + eps);
        }
    }
    CU_ASSERT(download_(dw, nt * 4, w));
    CU_ASSERT(download_(dm, nt * 4, m));
    CU_ASSERT(download_(dv, nt * 4, v));
    float *fw = floats_(nt), *fm = floats_(nt), *fv = floats_(nt);
    CU_ASSERT_FATAL(fw && fm && fv);
    for (size_t i = 0; i < nt; ++i) {
        fw[i] = (float)rw[i];
        fm[i] = (float)rm[i];
        fv[i] = (float)rv[i];
    }
    char what[48];
    snprintf(what, sizeof what, "adam w (n=%d)", n);
    CU_ASSERT(lp_test_close(w, fw, nt, 2e-6f, 1e-5f, what));
    snprintf(what, sizeof what, "adam m (n=%d)", n);
    CU_ASSERT(lp_test_close(m, fm, nt, 1e-7f, 1e-5f, what));
    snprintf(what, sizeof what, "adam v (n=%d)", n);
    CU_ASSERT(lp_test_close(v, fv, nt, 1e-9f, 1e-5f, what));
    clReleaseMemObject(dw);
    clReleaseMemObject(dg);
    clReleaseMemObject(dm);
    clReleaseMemObject(dv);
    free(w);
    free(g);
    free(m);
    free(v);
    free(rw);
    free(rm);
    free(rv);
    free(fw);
    free(fm);
    free(fv);
}

static void test_adam(void) {
    const int sizes[] = {1, 7, 64, 1000, 100003};
    for (int i = 0; i < 5; ++i) {
        if (lp_test_simulator() && sizes[i] > 20000) continue;
        check_adam_(sizes[i], 1000 + (uint64_t)i);
    }
}

static void check_sgd_(int n, float momentum, uint64_t seed) {
    uint64_t rng = seed;
    size_t nt = (size_t)n + 3;
    float *w = floats_(nt), *g = floats_(nt), *vel = floats_(nt);
    float *rw = floats_(nt), *rvel = floats_(nt);
    CU_ASSERT_FATAL(w && g && vel && rw && rvel);
    fill_uniform_(w, nt, &rng, -1.0f, 1.0f);
    fill_uniform_(vel, nt, &rng, -0.01f, 0.01f);
    memcpy(rw, w, nt * 4);
    memcpy(rvel, vel, nt * 4);
    cl_mem dw = upload_(w, nt * 4), dvel = upload_(vel, nt * 4), dg = new_buf_(nt * 4);
    CU_ASSERT_FATAL(dw && dvel && dg);
    const float lr = 0.05f;
    for (int t = 0; t < 3; ++t) {
        fill_uniform_(g, nt, &rng, -1.0f, 1.0f);
        LP_TEST_OK(lp_buffer_write(lp_test_rt, dg, 0, nt * 4, g));
        LP_TEST_OK(lp_op_sgd(lp_test_rt, dw, dg, dvel, n, lr, momentum));
        for (int i = 0; i < n; ++i) {
            double v = (double)momentum * rvel[i] - (double)lr * g[i];
            rvel[i] = (float)v;
            rw[i] = (float)((double)rw[i] + rvel[i]);
        }
    }
    CU_ASSERT(download_(dw, nt * 4, w));
    CU_ASSERT(download_(dvel, nt * 4, vel));
    char what[64];
    snprintf(what, sizeof what, "sgd w (n=%d, momentum %g)", n, (double)momentum);
    CU_ASSERT(lp_test_close(w, rw, nt, 1e-6f, 1e-5f, what));
    snprintf(what, sizeof what, "sgd velocity (n=%d, momentum %g)", n, (double)momentum);
    CU_ASSERT(lp_test_close(vel, rvel, nt, 1e-7f, 1e-5f, what));
    clReleaseMemObject(dw);
    clReleaseMemObject(dvel);
    clReleaseMemObject(dg);
    free(w);
    free(g);
    free(vel);
    free(rw);
    free(rvel);
}

static void test_sgd(void) {
    const int sizes[] = {1, 7, 1000, 100003};
    for (int i = 0; i < 4; ++i) {
        if (lp_test_simulator() && sizes[i] > 20000) continue;
        check_sgd_(sizes[i], 0.0f, 1100 + (uint64_t)i);
        check_sgd_(sizes[i], 0.9f, 1200 + (uint64_t)i);
    }
}

static void check_l2_grad_(int offset, int n, float coef, uint64_t seed) {
    uint64_t rng = seed;
    size_t nt = (size_t)offset + (size_t)n + 5;
    float *w = floats_(nt), *g = floats_(nt), *want = floats_(nt);
    CU_ASSERT_FATAL(w && g && want);
    fill_uniform_(w, nt, &rng, -1.0f, 1.0f);
    fill_uniform_(g, nt, &rng, -1.0f, 1.0f);
    for (size_t i = 0; i < nt; ++i) {
        bool in = i >= (size_t)offset && i < (size_t)offset + (size_t)n;
        want[i] = in ? (float)((double)g[i] + 2.0 * coef * w[i]) : g[i];
    }
    cl_mem dw = upload_(w, nt * 4), dg = upload_(g, nt * 4);
    CU_ASSERT_FATAL(dw && dg);
    LP_TEST_OK(lp_op_l2_grad(lp_test_rt, dw, dg, offset, n, coef));
    CU_ASSERT(download_(dg, nt * 4, g));
    char what[64];
    snprintf(what, sizeof what, "l2_grad off %d n %d", offset, n);
    CU_ASSERT(lp_test_close(g, want, nt, 1e-7f, 1e-6f, what));
    clReleaseMemObject(dw);
    clReleaseMemObject(dg);
    free(w);
    free(g);
    free(want);
}

static void test_l2_grad(void) {
    const int sizes[] = {1, 7, 1000, 100003};
    for (int i = 0; i < 4; ++i) {
        if (lp_test_simulator() && sizes[i] > 20000) continue;
        check_l2_grad_(0, sizes[i], 1e-4f, 1300 + (uint64_t)i);
        check_l2_grad_(37, sizes[i], 0.5f, 1400 + (uint64_t)i);
    }
}

static void register_suites(void) {
    CU_pSuite su = CU_add_suite("ops", NULL, NULL);
    CU_add_test(su, "gemm: NN/NT/TN/TT, offsets, padded rows, beta 0/1", test_gemm);
    CU_add_test(su, "gemm: beta 0 ignores NaN in C", test_gemm_beta0_ignores_c);
    CU_add_test(su, "gemm: empty and invalid arguments", test_gemm_arguments);
    CU_add_test(su, "bias_act: bias/relu on and off, bias offset", test_bias_act);
    CU_add_test(su, "relu_backward", test_relu_backward);
    CU_add_test(su, "bias_grad", test_bias_grad);
    CU_add_test(su, "softmax_xent: random and extreme logits", test_softmax_xent);
    CU_add_test(su, "softmax_xent: NULL dlogits", test_softmax_xent_no_grad);
    CU_add_test(su, "softmax_xent: stats accumulate", test_softmax_xent_accumulates);
    CU_add_test(su, "adam: three steps against the Keras formula", test_adam);
    CU_add_test(su, "sgd: plain and momentum", test_sgd);
    CU_add_test(su, "l2_grad with offset", test_l2_grad);
}

int main(void) {
    return lp_cltest_main("cltest_ops", register_suites);
}
