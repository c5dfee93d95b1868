/* Every wrapper in laperm/ops.h against a plain-C reference (in double where it sums),
 * at odd sizes and nonzero offsets; words around each output region must stay untouched. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/ops.h"
#include "lp_test.h"
#include "reference.h"

/* Asserts LP_OK, printing the library's message when not. */
/* A sentinel that no kernel computes here: tells untouched words from written ones. */
#define SENTINEL_ 12345.5f

/* ---- dense element-wise kernels ------------------------------------------------------------ */

static void check_bias_act_(int rows, int cols, int bias_off, bool relu, uint64_t seed) {
    uint64_t rng = seed;
    size_t n = (size_t)rows * cols, ny = n + 3; /* 3 words past the matrix */
    size_t np = (bias_off >= 0 ? (size_t)bias_off : 0) + (size_t)cols + 2;
    float *y = lp_test_floats(ny), *want = lp_test_floats(ny), *params = lp_test_floats(np);
    CU_ASSERT_FATAL(y && want && params);
    lp_test_fill_uniform(y, n, &rng, -2.0f, 2.0f);
    lp_test_fill_const(y + n, 3, -SENTINEL_);
    for (size_t i = 0; i < n; i += 5)
        y[i] = 0.0f;
    lp_test_fill_uniform(params, np, &rng, -1.0f, 1.0f);
    for (size_t i = 0; i < ny; ++i) {
        float v = y[i];
        if (i < n) {
            if (bias_off >= 0) v += params[bias_off + (int)(i % (size_t)cols)];
            if (relu) v = fmaxf(v, 0.0f);
        }
        want[i] = v;
    }
    cl_mem dy = lp_test_upload(y, ny * 4), dp = lp_test_upload(params, np * 4);
    CU_ASSERT_FATAL(dy && dp);
    LP_TEST_OK(lp_op_bias_act(lp_test_rt, dy, rows, cols, dp, bias_off, relu));
    CU_ASSERT(lp_test_download(dy, ny * 4, y));
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
    float *dy = lp_test_floats(nt), *y = lp_test_floats(nt), *want = lp_test_floats(nt);
    CU_ASSERT_FATAL(dy && y && want);
    lp_test_fill_uniform(dy, nt, &rng, -3.0f, 3.0f);
    lp_test_fill_uniform(y, nt, &rng, -1.0f, 1.0f);
    /* Exact zeros of either sign count as inactive; so does NaN (a comparison fails). */
    for (size_t i = 0; i < (size_t)n; i += 3)
        y[i] = (i % 2) ? -0.0f : 0.0f;
    if (n > 10) y[10] = NAN;
    for (size_t i = 0; i < nt; ++i)
        want[i] = (i < (size_t)n && !(y[i] > 0.0f)) ? 0.0f : dy[i];
    cl_mem ddy = lp_test_upload(dy, nt * 4), dyy = lp_test_upload(y, nt * 4);
    CU_ASSERT_FATAL(ddy && dyy);
    LP_TEST_OK(lp_op_relu_backward(lp_test_rt, ddy, dyy, n));
    CU_ASSERT(lp_test_download(ddy, nt * 4, dy));
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
    float *dy = lp_test_floats(n), *g = lp_test_floats(ng), *want = lp_test_floats(ng);
    CU_ASSERT_FATAL(dy && g && want);
    lp_test_fill_uniform(dy, n, &rng, -1.0f, 1.0f);
    lp_test_fill_uniform(g, ng, &rng, 100.0f, 200.0f); /* overwritten, not accumulated */
    memcpy(want, g, ng * sizeof *g);
    for (int c = 0; c < cols; ++c) {
        double s = 0.0;
        for (int r = 0; r < rows; ++r)
            s += dy[(size_t)r * cols + c];
        want[bias_off + c] = (float)s;
    }
    cl_mem ddy = lp_test_upload(dy, n * 4), dg = lp_test_upload(g, ng * 4);
    CU_ASSERT_FATAL(ddy && dg);
    LP_TEST_OK(lp_op_bias_grad(lp_test_rt, ddy, rows, cols, dg, bias_off));
    CU_ASSERT(lp_test_download(dg, ng * 4, g));
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
        lp_test_fill_uniform(row, (size_t)classes, rng, -4.0f, 4.0f);
        if (kind != LOGITS_EXTREME) continue;
        int spike = (int)(lp_test_next(rng) % (uint64_t)classes);
        switch (r % 6) {
        case 0: /* confident and right */
            lp_test_fill_const(row, (size_t)classes, -80.0f);
            row[labels[r]] = 80.0f;
            break;
        case 1: /* confident and wrong */
            lp_test_fill_const(row, (size_t)classes, -80.0f);
            row[spike] = 80.0f;
            break;
        case 2:
            lp_test_fill_const(row, (size_t)classes, 3.25f);
            break; /* ties: argmax is the first */
        case 3:
            lp_test_fill_const(row, (size_t)classes, -80.0f);
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

static void check_softmax_xent_(int rows, int classes, logits_kind_ kind, float scale,
                                bool with_grad, uint64_t seed) {
    uint64_t rng = seed;
    size_t n = (size_t)rows * classes;
    float *x = lp_test_floats(n), *d = lp_test_floats(n + 2), *want = lp_test_floats(n + 2);
    int *labels = malloc((size_t)rows * sizeof *labels);
    CU_ASSERT_FATAL(x && d && want && labels);
    fill_logits_(x, labels, rows, classes, kind, &rng);
    double loss, correct;
    lp_ref_softmax_xent(x, labels, rows, classes, scale, &loss, &correct, want);
    lp_test_fill_const(want + n, 2, SENTINEL_);
    lp_test_fill_const(d, n + 2, SENTINEL_);
    /* Stats at offset 3, with something already there: the kernel adds. */
    float stats[6] = {-1.0f, -2.0f, -3.0f, 1.5f, 2.0f, -6.0f};
    cl_mem dx = lp_test_upload(x, n * 4), dl = lp_test_upload(labels, (size_t)rows * sizeof(int));
    cl_mem dd = lp_test_upload(d, (n + 2) * 4), ds = lp_test_upload(stats, sizeof stats);
    CU_ASSERT_FATAL(dx && dl && dd && ds);
    LP_TEST_OK(
        lp_op_softmax_xent(lp_test_rt, dx, dl, rows, classes, scale, with_grad ? dd : NULL, ds, 3));
    float got_stats[6], *xs = lp_test_floats(n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(xs);
    CU_ASSERT(lp_test_download(ds, sizeof got_stats, got_stats));
    CU_ASSERT(lp_test_download(dd, (n + 2) * 4, d));
    CU_ASSERT(lp_test_download(dx, n * 4, xs));
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
        lp_test_fill_const(want, n + 2, SENTINEL_);
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

/* ---- lp_op_mse and lp_op_gather_rows ------------------------------------------------------- */

static void check_mse_(int rows, int outputs, float scale, bool with_grad, uint64_t seed) {
    uint64_t rng = seed;
    size_t n = (size_t)rows * outputs;
    float *x = lp_test_floats(n), *t = lp_test_floats(n), *d = lp_test_floats(n + 2),
          *want = lp_test_floats(n + 2);
    CU_ASSERT_FATAL(x && t && d && want);
    for (size_t i = 0; i < n; ++i) {
        x[i] = lp_test_uniform(&rng, -3.0f, 3.0f);
        t[i] = lp_test_uniform(&rng, -3.0f, 3.0f);
    }
    double loss, mae;
    lp_ref_mse(x, t, rows, outputs, scale, &loss, &mae, want);
    lp_test_fill_const(want + n, 2, SENTINEL_);
    lp_test_fill_const(d, n + 2, SENTINEL_);
    float stats[6] = {-1.0f, -2.0f, -3.0f, 1.5f, 2.0f, -6.0f};
    cl_mem dx = lp_test_upload(x, n * 4), dt = lp_test_upload(t, n * 4);
    cl_mem dd = lp_test_upload(d, (n + 2) * 4), ds = lp_test_upload(stats, sizeof stats);
    CU_ASSERT_FATAL(dx && dt && dd && ds);
    LP_TEST_OK(lp_op_mse(lp_test_rt, dx, dt, rows, outputs, scale, with_grad ? dd : NULL, ds, 3));
    float got_stats[6];
    CU_ASSERT(lp_test_download(ds, sizeof got_stats, got_stats));
    CU_ASSERT(lp_test_download(dd, (n + 2) * 4, d));
    char what[96];
    snprintf(what, sizeof what, "mse %dx%d scale %g%s", rows, outputs, (double)scale,
             with_grad ? "" : " (no grad)");
    float want_stats[6] = {-1.0f, -2.0f, -3.0f, (float)(1.5 + loss), (float)(2.0 + mae), -6.0f};
    CU_ASSERT(lp_test_close(got_stats, want_stats, 6, 1e-4f, 1e-5f, what));
    if (!with_grad) lp_test_fill_const(want, n + 2, SENTINEL_);
    CU_ASSERT(lp_test_close(d, want, n + 2, 1e-6f * fabsf(scale), 1e-5f, what));
    clReleaseMemObject(dx);
    clReleaseMemObject(dt);
    clReleaseMemObject(dd);
    clReleaseMemObject(ds);
    free(x);
    free(t);
    free(d);
    free(want);
}

static void test_mse(void) {
    const int rows[] = {1, 7, 64, 300, 2049}; /* beyond any work-group size */
    const int outputs[] = {1, 3, 17};
    for (int r = 0; r < 5; ++r)
        for (int c = 0; c < 3; ++c) {
            uint64_t seed = 1200 + (uint64_t)r * 3 + (uint64_t)c;
            check_mse_(rows[r], outputs[c], 1.0f / (float)rows[r], true, seed);
            check_mse_(rows[r], outputs[c], 2.5f, false, seed + 50);
        }
}

/* Rows picked by an index list, with a first offset: exact copies. */
static void test_gather_rows(void) {
    const int n = 13, width = 5, first = 3, rows = 7;
    float src[13 * 5], got[7 * 5 + 1], want[7 * 5 + 1];
    int idx[13];
    uint64_t rng = 1300;
    for (int i = 0; i < n * width; ++i)
        src[i] = lp_test_uniform(&rng, -1.0f, 1.0f);
    for (int i = 0; i < n; ++i)
        idx[i] = (i * 7 + 2) % n;
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < width; ++c)
            want[r * width + c] = src[idx[first + r] * width + c];
    want[rows * width] = got[rows * width] = SENTINEL_;
    cl_mem ds = lp_test_upload(src, sizeof src), di = lp_test_upload(idx, sizeof idx),
           dd = lp_test_upload(got, sizeof got);
    CU_ASSERT_FATAL(ds && di && dd);
    LP_TEST_OK(lp_op_gather_rows(lp_test_rt, ds, di, first, rows, width, dd));
    CU_ASSERT(lp_test_download(dd, sizeof got, got));
    CU_ASSERT(lp_test_close(got, want, rows * width + 1, 0.0f, 0.0f, "gather_rows"));
    CU_ASSERT_EQUAL(lp_op_gather_rows(lp_test_rt, ds, di, -1, rows, width, dd), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_op_gather_rows(lp_test_rt, ds, di, 0, rows, 0, dd), LP_ERR_INVALID_ARG);
    clReleaseMemObject(ds);
    clReleaseMemObject(di);
    clReleaseMemObject(dd);
}

/* Two launches into the same stats add up (the trainer sums a whole epoch there). */
static void test_softmax_xent_accumulates(void) {
    uint64_t rng = 950;
    int rows = 37, classes = 10;
    size_t n = (size_t)rows * classes;
    float *x = lp_test_floats(n), *d = lp_test_floats(n);
    int labels[37];
    CU_ASSERT_FATAL(x && d);
    fill_logits_(x, labels, rows, classes, LOGITS_RANDOM, &rng);
    double loss, correct;
    lp_ref_softmax_xent(x, labels, rows, classes, 1.0, &loss, &correct, d);
    float zero[2] = {0.0f, 0.0f}, got[2];
    cl_mem dx = lp_test_upload(x, n * 4), dl = lp_test_upload(labels, sizeof labels),
           ds = lp_test_upload(zero, 8);
    CU_ASSERT_FATAL(dx && dl && ds);
    LP_TEST_OK(lp_op_softmax_xent(lp_test_rt, dx, dl, rows, classes, 1.0f, NULL, ds, 0));
    LP_TEST_OK(lp_op_softmax_xent(lp_test_rt, dx, dl, rows, classes, 1.0f, NULL, ds, 0));
    CU_ASSERT(lp_test_download(ds, 8, got));
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
    float *w = lp_test_floats(nt), *g = lp_test_floats(nt), *m = lp_test_floats(nt),
          *v = lp_test_floats(nt);
    double *rw = malloc(nt * sizeof *rw), *rm = malloc(nt * sizeof *rm),
           *rv = malloc(nt * sizeof *rv);
    CU_ASSERT_FATAL(w && g && m && v && rw && rm && rv);
    lp_test_fill_uniform(w, nt, &rng, -1.0f, 1.0f);
    lp_test_fill_uniform(m, nt, &rng, -0.1f, 0.1f);
    lp_test_fill_uniform(v, nt, &rng, 0.0f, 0.01f);
    if (n > 2) m[1] = v[1] = 0.0f; /* a fresh slot */
    for (size_t i = 0; i < nt; ++i) {
        rw[i] = w[i];
        rm[i] = m[i];
        rv[i] = v[i];
    }
    cl_mem dw = lp_test_upload(w, nt * 4), dm = lp_test_upload(m, nt * 4),
           dv = lp_test_upload(v, nt * 4);
    cl_mem dg = lp_test_buffer(nt * 4);
    CU_ASSERT_FATAL(dw && dm && dv && dg);
    /* The hyperparameters as the kernel receives them (0.999f is not 0.999). */
    const double lr = 1e-3, b1 = 0.9f, b2 = 0.999f, eps = 1e-7f;
    for (int t = 1; t <= 3; ++t) {
        lp_test_fill_uniform(g, nt, &rng, -1.0f, 1.0f);
        if (n > 2) g[1] = 0.0f;
        if (n > 3) g[2] = 1e-6f * (float)t;
        LP_TEST_OK(lp_buffer_write(lp_test_rt, dg, 0, nt * 4, g));
        double lr_t = (float)(lr * sqrt(1.0 - pow(b2, t)) / (1.0 - pow(b1, t)));
        LP_TEST_OK(lp_op_adam(lp_test_rt, dw, dg, dm, dv, n, (float)lr_t, (float)b1, (float)b2,
                              (float)eps));
        lp_ref_adam(rw, g, rm, rv, n, lr_t, b1, b2, eps);
    }
    CU_ASSERT(lp_test_download(dw, nt * 4, w));
    CU_ASSERT(lp_test_download(dm, nt * 4, m));
    CU_ASSERT(lp_test_download(dv, nt * 4, v));
    float *fw = lp_test_floats(nt), *fm = lp_test_floats(nt), *fv = lp_test_floats(nt);
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
    float *w = lp_test_floats(nt), *g = lp_test_floats(nt), *vel = lp_test_floats(nt);
    float *rw = lp_test_floats(nt), *rvel = lp_test_floats(nt);
    CU_ASSERT_FATAL(w && g && vel && rw && rvel);
    lp_test_fill_uniform(w, nt, &rng, -1.0f, 1.0f);
    lp_test_fill_uniform(vel, nt, &rng, -0.01f, 0.01f);
    memcpy(rw, w, nt * 4);
    memcpy(rvel, vel, nt * 4);
    cl_mem dw = lp_test_upload(w, nt * 4), dvel = lp_test_upload(vel, nt * 4),
           dg = lp_test_buffer(nt * 4);
    CU_ASSERT_FATAL(dw && dvel && dg);
    const float lr = 0.05f;
    for (int t = 0; t < 3; ++t) {
        lp_test_fill_uniform(g, nt, &rng, -1.0f, 1.0f);
        LP_TEST_OK(lp_buffer_write(lp_test_rt, dg, 0, nt * 4, g));
        LP_TEST_OK(lp_op_sgd(lp_test_rt, dw, dg, dvel, n, lr, momentum));
        lp_ref_sgd(rw, g, rvel, n, lr, momentum);
    }
    CU_ASSERT(lp_test_download(dw, nt * 4, w));
    CU_ASSERT(lp_test_download(dvel, nt * 4, vel));
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
    float *w = lp_test_floats(nt), *g = lp_test_floats(nt), *want = lp_test_floats(nt);
    CU_ASSERT_FATAL(w && g && want);
    lp_test_fill_uniform(w, nt, &rng, -1.0f, 1.0f);
    lp_test_fill_uniform(g, nt, &rng, -1.0f, 1.0f);
    for (size_t i = 0; i < nt; ++i) {
        bool in = i >= (size_t)offset && i < (size_t)offset + (size_t)n;
        want[i] = in ? (float)((double)g[i] + 2.0 * coef * w[i]) : g[i];
    }
    cl_mem dw = lp_test_upload(w, nt * 4), dg = lp_test_upload(g, nt * 4);
    CU_ASSERT_FATAL(dw && dg);
    LP_TEST_OK(lp_op_l2_grad(lp_test_rt, dw, dg, offset, n, coef));
    CU_ASSERT(lp_test_download(dg, nt * 4, g));
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

/* Lookahead's slow-weight step, `steps` times in a row, against the formula in plain C
 * (float arithmetic, as written: the kernel may fuse, so within an ulp or two; at alpha 1
 * exactly w, bit for bit, a -0.0 included). */
static void check_lookahead_(int n, float alpha, int steps, uint64_t seed) {
    uint64_t rng = seed;
    size_t nt = (size_t)n + 3; /* past n: must stay untouched */
    float *w = lp_test_floats(nt), *slow = lp_test_floats(nt), *rw = lp_test_floats(nt),
          *rslow = lp_test_floats(nt);
    CU_ASSERT_FATAL(w && slow && rw && rslow);
    lp_test_fill_uniform(slow, nt, &rng, -1.0f, 1.0f);
    cl_mem dw = lp_test_buffer(nt * 4), ds = lp_test_upload(slow, nt * 4);
    CU_ASSERT_FATAL(dw && ds);
    memcpy(rslow, slow, nt * 4);
    for (int t = 0; t < steps; ++t) {
        lp_test_fill_uniform(w, nt, &rng, -2.0f, 2.0f); /* the inner optimizer's k steps */
        if (n > 2) w[1] = -0.0f;                        /* kept as -0.0 at alpha 1 */
        memcpy(rw, w, nt * 4);
        LP_TEST_OK(lp_buffer_write(lp_test_rt, dw, 0, nt * 4, w));
        LP_TEST_OK(lp_op_lookahead(lp_test_rt, dw, ds, n, alpha));
        for (int i = 0; i < n; ++i)
            rw[i] = rslow[i] = alpha == 1.0f ? rw[i] : (1.0f - alpha) * rslow[i] + alpha * rw[i];
        CU_ASSERT(lp_test_download(dw, nt * 4, w));
        CU_ASSERT(lp_test_download(ds, nt * 4, slow));
        char what[64];
        snprintf(what, sizeof what, "lookahead w (n=%d, alpha %g)", n, (double)alpha);
        CU_ASSERT(lp_test_close(w, rw, nt, 1e-7f, 1e-6f, what));
        snprintf(what, sizeof what, "lookahead slow (n=%d, alpha %g)", n, (double)alpha);
        CU_ASSERT(lp_test_close(slow, rslow, nt, 1e-7f, 1e-6f, what));
        if (alpha == 1.0f) {
            CU_ASSERT(memcmp(w, rw, nt * 4) == 0);
            CU_ASSERT(memcmp(slow, rw, (size_t)n * 4) == 0);
        }
        for (size_t i = (size_t)n; i < nt; ++i)
            CU_ASSERT(w[i] == rw[i] && slow[i] == rslow[i]);
        memcpy(rslow, slow, nt * 4); /* the next step starts from the device's */
    }
    clReleaseMemObject(dw);
    clReleaseMemObject(ds);
    free(w);
    free(slow);
    free(rw);
    free(rslow);
}

static void test_lookahead(void) {
    const int sizes[] = {1, 7, 1000, 100003};
    for (int i = 0; i < 4; ++i) {
        if (lp_test_simulator() && sizes[i] > 20000) continue;
        check_lookahead_(sizes[i], 0.5f, 3, 1500 + (uint64_t)i);
        check_lookahead_(sizes[i], 0.3f, 2, 1600 + (uint64_t)i);
        check_lookahead_(sizes[i], 1.0f, 2, 1700 + (uint64_t)i);
    }
    float x = 0;
    cl_mem d = lp_test_upload(&x, 4);
    CU_ASSERT_EQUAL(lp_op_lookahead(lp_test_rt, d, d, 1, 0.0f), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_op_lookahead(lp_test_rt, d, d, 1, 1.5f), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_op_lookahead(lp_test_rt, d, d, -1, 0.5f), LP_ERR_INVALID_ARG);
    lp_clear_error();
    clReleaseMemObject(d);
}

/* Decoupled weight decay of one tensor inside a larger buffer. */
static void check_weight_decay_(int offset, int n, float keep, uint64_t seed) {
    uint64_t rng = seed;
    size_t nt = (size_t)offset + (size_t)n + 5;
    float *w = lp_test_floats(nt), *want = lp_test_floats(nt);
    CU_ASSERT_FATAL(w && want);
    lp_test_fill_uniform(w, nt, &rng, -1.0f, 1.0f);
    for (size_t i = 0; i < nt; ++i) {
        bool in = i >= (size_t)offset && i < (size_t)offset + (size_t)n;
        want[i] = in ? w[i] * keep : w[i];
    }
    cl_mem dw = lp_test_upload(w, nt * 4);
    CU_ASSERT_FATAL(dw != NULL);
    LP_TEST_OK(lp_op_weight_decay(lp_test_rt, dw, offset, n, keep));
    CU_ASSERT(lp_test_download(dw, nt * 4, w));
    /* one rounded product: bit for bit */
    char what[64];
    snprintf(what, sizeof what, "weight_decay off %d n %d", offset, n);
    CU_ASSERT(lp_test_close(w, want, nt, 0.0f, 0.0f, what));
    clReleaseMemObject(dw);
    free(w);
    free(want);
}

static void test_weight_decay(void) {
    const int sizes[] = {1, 7, 1000, 100003};
    for (int i = 0; i < 4; ++i) {
        if (lp_test_simulator() && sizes[i] > 20000) continue;
        check_weight_decay_(0, sizes[i], 1.0f - 1e-3f * 1e-2f, 1800 + (uint64_t)i);
        check_weight_decay_(37, sizes[i], 0.75f, 1900 + (uint64_t)i);
    }
}

/* The divergence guard on n values (odd sizes, the vector tail included): nothing flagged
 * while everything is finite; then the first step with a bad value claims the flag, and
 * within it the lowest (kind, element) wins: loss, then gradients, then weights. */
static void check_guard_(int n, int bad_g, int bad_w, bool bad_loss, int32_t want_code) {
    float *w = lp_test_floats((size_t)n), *g = lp_test_floats((size_t)n), stats[4] = {1, 2, 3, 4};
    CU_ASSERT_FATAL(w && g);
    uint64_t rng = 77 + (uint64_t)n;
    lp_test_fill_uniform(w, (size_t)n, &rng, -1e30f, 1e30f); /* huge, finite */
    lp_test_fill_uniform(g, (size_t)n, &rng, -1.0f, 1.0f);
    int32_t flag[2] = {0, 0x7FFFFFFF};
    cl_mem dw = lp_test_upload(w, (size_t)n * 4), dg = lp_test_upload(g, (size_t)n * 4);
    cl_mem ds = lp_test_upload(stats, sizeof stats), df = lp_test_upload(flag, sizeof flag);
    CU_ASSERT_FATAL(dw && dg && ds && df);
    LP_TEST_OK(lp_op_guard_finite(lp_test_rt, dw, dg, n, ds, 2, 5, df));
    CU_ASSERT(lp_test_download(df, sizeof flag, flag));
    CU_ASSERT(flag[0] == 0 && flag[1] == 0x7FFFFFFF);
    if (bad_g >= 0) g[bad_g] = NAN;
    if (bad_w >= 0) w[bad_w] = -INFINITY;
    if (bad_loss) stats[2] = INFINITY;
    CU_ASSERT_FATAL(lp_buffer_write(lp_test_rt, dg, 0, (size_t)n * 4, g) == LP_OK);
    CU_ASSERT_FATAL(lp_buffer_write(lp_test_rt, dw, 0, (size_t)n * 4, w) == LP_OK);
    CU_ASSERT_FATAL(lp_buffer_write(lp_test_rt, ds, 0, sizeof stats, stats) == LP_OK);
    LP_TEST_OK(lp_op_guard_finite(lp_test_rt, dw, dg, n, ds, 2, 6, df));
    /* a later step with bad values does not take the flag over */
    LP_TEST_OK(lp_op_guard_finite(lp_test_rt, dw, dg, n, ds, 2, 7, df));
    CU_ASSERT(lp_test_download(df, sizeof flag, flag));
    CU_ASSERT_EQUAL(flag[0], 6);
    CU_ASSERT_EQUAL(flag[1], want_code);
    if (flag[1] != want_code)
        printf("\n  guard n %d: code %d, expected %d\n", n, flag[1], want_code);
    cl_mem bufs[] = {dw, dg, ds, df};
    for (int i = 0; i < 4; ++i)
        clReleaseMemObject(bufs[i]);
    free(w);
    free(g);
}

static void test_guard_finite(void) {
    const int sizes[] = {1, 17, 1000, 100003};
    for (int i = 0; i < 4; ++i) {
        int n = sizes[i];
        if (lp_test_simulator() && n > 20000) continue;
        check_guard_(n, n - 1, -1, false, (1 << 28) + n - 1);    /* in the vector tail */
        check_guard_(n, -1, n / 2, false, (2 << 28) + n / 2);    /* a weight */
        check_guard_(n, n / 3, n / 5, false, (1 << 28) + n / 3); /* gradients first */
        check_guard_(n, n - 1, 0, true, 0);                      /* the loss first */
    }
}

static void register_suites(void) {
    CU_pSuite su = CU_add_suite("ops", NULL, NULL);
    CU_add_test(su, "bias_act: bias/relu on and off, bias offset", test_bias_act);
    CU_add_test(su, "relu_backward", test_relu_backward);
    CU_add_test(su, "bias_grad", test_bias_grad);
    CU_add_test(su, "softmax_xent: random and extreme logits", test_softmax_xent);
    CU_add_test(su, "softmax_xent: NULL dlogits", test_softmax_xent_no_grad);
    CU_add_test(su, "softmax_xent: stats accumulate", test_softmax_xent_accumulates);
    CU_add_test(su, "mse: odd sizes against a plain-C reference", test_mse);
    CU_add_test(su, "gather_rows", test_gather_rows);
    CU_add_test(su, "adam: three steps against the Keras formula", test_adam);
    CU_add_test(su, "sgd: plain and momentum", test_sgd);
    CU_add_test(su, "l2_grad with offset", test_l2_grad);
    CU_add_test(su, "lookahead: slow-weight steps, exact at alpha 1", test_lookahead);
    CU_add_test(su, "weight_decay with offset", test_weight_decay);
    CU_add_test(su, "guard_finite: first step, lowest code", test_guard_finite);
}

int main(void) {
    return lp_cltest_main("cltest_ops", register_suites);
}
