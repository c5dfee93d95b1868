/* `laperm check` rows for the losses: softmax cross-entropy and mse (tolerances:
 * host/check.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check-impl.h"
#include "laperm/ops.h"
#include "reference.h"

typedef struct {
    float *x, *t, *got, *want;
    int *labels;
    double *wd, *mag;
    cl_mem dx, dt, dd, ds;
} loss_bufs_;

static lp_status loss_alloc_(lp_check_ctx *c, loss_bufs_ *b, size_t n, int rows) {
    *b = (loss_bufs_){.x = malloc(n * 4),
                      .t = malloc(n * 4),
                      .got = malloc(n * 4),
                      .want = malloc(n * 4),
                      .labels = malloc((size_t)rows * 4),
                      .wd = malloc(n * 8),
                      .mag = malloc(n * 8)};
    if (!b->x || !b->t || !b->got || !b->want || !b->labels || !b->wd || !b->mag)
        return lp_fail(LP_ERR_NO_MEMORY, "loss check of %zu values", n);
    (void)c;
    return LP_OK;
}

static void loss_free_(loss_bufs_ *b) {
    free(b->x), free(b->t), free(b->got), free(b->want), free(b->labels), free(b->wd), free(b->mag);
    cl_mem m[] = {b->dx, b->dt, b->dd, b->ds};
    for (int i = 0; i < 4; ++i)
        if (m[i]) clReleaseMemObject(m[i]);
}

/* The loss op (the signature of lp_loss.run) on b->x (rows, width) and targets (tbytes):
 * the gradient into b->got, stats[0..3) (the loss and its second sum added at offset 1)
 * into got_stats. */
typedef lp_status (*loss_op_)(lp_runtime *rt, cl_mem out, cl_mem targets, int rows, int width,
                              float grad_scale, cl_mem dout, cl_mem stats, int stats_off);
static lp_status loss_run_(lp_check_ctx *c, loss_op_ op, loss_bufs_ *b, const void *targets,
                           size_t tbytes, int rows, int width, float scale, float *got_stats) {
    size_t n = (size_t)rows * width;
    LP_TRY(lp_check_upload(c, b->x, n * 4, &b->dx));
    LP_TRY(lp_check_upload(c, targets, tbytes, &b->dt));
    LP_TRY(lp_check_upload(c, NULL, n * 4, &b->dd));
    LP_TRY(lp_check_upload(c, got_stats, 3 * sizeof *got_stats, &b->ds));
    LP_TRY(op(c->rt, b->dx, b->dt, rows, width, scale, b->dd, b->ds, 1));
    LP_TRY(lp_buffer_read(c->rt, b->dd, 0, n * 4, b->got));
    return lp_buffer_read(c->rt, b->ds, 0, 3 * sizeof *got_stats, got_stats);
}

/* Logits in [-range, range], a spike of +-80 on every third row (a naive softmax
 * overflows), stats accumulated on top of what is there. */
static lp_status softmax_case_(lp_check_ctx *c, int rows, int classes, uint64_t seed) {
    size_t n = (size_t)rows * classes;
    loss_bufs_ b;
    lp_status s = loss_alloc_(c, &b, n, rows);
    uint64_t rng = seed;
    float scale = 1.0f / (float)rows, got_stats[3] = {0.5f, 1.0f, 0.0f};
    double loss = 0, correct = 0, range = 0;
    if (s == LP_OK) {
        lp_check_fill(b.x, n, &rng, -4.0f, 4.0f);
        for (int r = 0; r < rows; ++r) {
            b.labels[r] = (int)(lp_check_next(&rng) % (uint64_t)classes);
            if (r % 3 == 2)
                b.x[(size_t)r * classes + (size_t)(r % classes)] = r % 2 ? 80.0f : -80.0f;
        }
        lp_ref_softmax_xent(b.x, b.labels, rows, classes, scale, &loss, &correct, b.want);
        s = loss_run_(c, lp_op_softmax_xent, &b, b.labels, (size_t)rows * 4, rows, classes, scale,
                      got_stats);
    }
    if (s != LP_OK) {
        loss_free_(&b);
        return s;
    }
    double lmag = 0;
    for (int r = 0; r < rows; ++r) {
        const float *row = b.x + (size_t)r * classes;
        double lo = row[0], hi = row[0];
        for (int k = 0; k < classes; ++k)
            lo = fmin(lo, row[k]), hi = fmax(hi, row[k]);
        range = fmax(range, hi - lo);
        lmag += fabs(hi) + fabs(hi - lo) + fabs((double)row[b.labels[r]]) + log(classes) + 1.0;
        for (int k = 0; k < classes; ++k) {
            size_t i = (size_t)r * classes + k;
            b.wd[i] = b.want[i];
            b.mag[i] = fabs(b.want[i]) + 2.0 * (k == b.labels[r]) * scale;
        }
    }
    char what[80];
    snprintf(what, sizeof what, "lp_softmax_xent dlogits %dx%d", rows, classes);
    lp_check_values(c, what, b.got, b.wd, b.mag, n, classes + 16.0 + 2.0 * range);
    double want_loss = 1.0 + loss, want_stats[2] = {want_loss, 0}, mag_loss = 1.0 + lmag;
    snprintf(what, sizeof what, "lp_softmax_xent loss %dx%d", rows, classes);
    lp_check_values(c, what, got_stats + 1, want_stats, &mag_loss, 1, rows + classes + 16.0);
    float want_count[2] = {0.0f, (float)correct};
    snprintf(what, sizeof what, "lp_softmax_xent correct count %dx%d", rows, classes);
    lp_check_bits(c, what, got_stats + 2, want_count + 1, 1);
    loss_free_(&b);
    return LP_OK;
}

lp_status lp_check_softmax(lp_check_ctx *c) {
    static const int shapes[][2] = {{1, 1}, {7, 10}, {33, 2}, {127, 10}, {300, 100}, {1000, 1000}};
    for (int i = 0; i < (c->quick ? 4 : 6); ++i)
        LP_TRY(softmax_case_(c, shapes[i][0], shapes[i][1], 200 + (uint64_t)i));
    return LP_OK;
}

static lp_status mse_case_(lp_check_ctx *c, int rows, int outputs, uint64_t seed) {
    size_t n = (size_t)rows * outputs;
    loss_bufs_ b;
    lp_status s = loss_alloc_(c, &b, n, rows);
    uint64_t rng = seed;
    float scale = 1.0f / (float)rows, got_stats[3] = {0};
    double loss = 0, mae = 0;
    if (s == LP_OK) {
        lp_check_fill(b.x, n, &rng, -3.0f, 3.0f);
        lp_check_fill(b.t, n, &rng, -3.0f, 3.0f);
        lp_ref_mse(b.x, b.t, rows, outputs, scale, &loss, &mae, b.want);
        s = loss_run_(c, lp_op_mse, &b, b.t, n * 4, rows, outputs, scale, got_stats);
    }
    if (s != LP_OK) {
        loss_free_(&b);
        return s;
    }
    for (size_t i = 0; i < n; ++i) {
        b.wd[i] = b.want[i];
        /* x - t is one rounding of |x| + |t|, not of the (maybe cancelled) difference */
        b.mag[i] = 2.0 * (fabs((double)b.x[i]) + fabs((double)b.t[i])) / outputs * scale;
    }
    char what[80];
    snprintf(what, sizeof what, "lp_mse gradient %dx%d", rows, outputs);
    lp_check_values(c, what, b.got, b.wd, b.mag, n, 8.0);
    double want_stats[2] = {loss, mae}, mags[2] = {0, 0}; /* added at offset 1 */
    for (size_t i = 0; i < n; ++i) {
        double e = fabs((double)b.x[i]) + fabs((double)b.t[i]);
        mags[0] += e * e / outputs;
        mags[1] += e / outputs;
    }
    snprintf(what, sizeof what, "lp_mse loss and MAE %dx%d", rows, outputs);
    lp_check_values(c, what, got_stats + 1, want_stats, mags, 2, rows + outputs + 8.0);
    loss_free_(&b);
    return LP_OK;
}

lp_status lp_check_mse(lp_check_ctx *c) {
    static const int shapes[][2] = {{1, 1}, {7, 3}, {127, 1}, {33, 65}, {1000, 7}};
    for (int i = 0; i < (c->quick ? 4 : 5); ++i)
        LP_TRY(mse_case_(c, shapes[i][0], shapes[i][1], 300 + (uint64_t)i));
    return LP_OK;
}
