/* `laperm check` rows for the optimizer kernels: one step from a random state against
 * the reference, at odd sizes, so that errors do not compound (tolerances: host/check.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check-impl.h"
#include "laperm/ops.h"
#include "reference.h"

#define N_SIZES_ 4
static const int sizes_[N_SIZES_] = {1, 7, 1023, 100003};

typedef struct {
    float *w, *g, *s, *t, *got; /* s, t: optimizer state */
    double *rw, *rs, *rt, *mag;
    cl_mem dw, dg, ds, dt;
} opt_bufs_;

static lp_status opt_alloc_(opt_bufs_ *b, size_t n, uint64_t seed) {
    *b = (opt_bufs_){.w = malloc(n * 4),
                     .g = malloc(n * 4),
                     .s = malloc(n * 4),
                     .t = malloc(n * 4),
                     .got = malloc(n * 4),
                     .rw = malloc(n * 8),
                     .rs = malloc(n * 8),
                     .rt = malloc(n * 8),
                     .mag = malloc(n * 8)};
    if (!b->w || !b->g || !b->s || !b->t || !b->got || !b->rw || !b->rs || !b->rt || !b->mag)
        return lp_fail(LP_ERR_NO_MEMORY, "optimizer check of %zu values", n);
    uint64_t rng = seed;
    lp_check_fill(b->w, n, &rng, -1.0f, 1.0f);
    lp_check_fill(b->g, n, &rng, -1.0f, 1.0f);
    lp_check_fill(b->s, n, &rng, -0.1f, 0.1f);
    lp_check_fill(b->t, n, &rng, 0.0f, 0.01f);
    return LP_OK;
}

static lp_status opt_upload_(lp_check_ctx *c, opt_bufs_ *b, size_t n) {
    LP_TRY(lp_check_upload(c, b->w, n * 4, &b->dw));
    LP_TRY(lp_check_upload(c, b->g, n * 4, &b->dg));
    LP_TRY(lp_check_upload(c, b->s, n * 4, &b->ds));
    return lp_check_upload(c, b->t, n * 4, &b->dt);
}

static void opt_free_(opt_bufs_ *b) {
    free(b->w), free(b->g), free(b->s), free(b->t), free(b->got), free(b->rw), free(b->rs),
        free(b->rt), free(b->mag);
    cl_mem m[] = {b->dw, b->dg, b->ds, b->dt};
    for (int i = 0; i < 4; ++i)
        if (m[i]) clReleaseMemObject(m[i]);
}

/* Reads buffer d (n floats) and compares it with want, mag. */
static lp_status compare_(lp_check_ctx *c, opt_bufs_ *b, cl_mem d, const double *want, size_t n,
                          double k, const char *what) {
    LP_TRY(lp_buffer_read(c->rt, d, 0, n * 4, b->got));
    lp_check_values(c, what, b->got, want, b->mag, n, k);
    return LP_OK;
}

static lp_status sgd_case_(lp_check_ctx *c, int n, float momentum, uint64_t seed) {
    opt_bufs_ b;
    const float lr = 0.05f;
    lp_status s = opt_alloc_(&b, (size_t)n, seed);
    if (s == LP_OK) s = opt_upload_(c, &b, (size_t)n);
    if (s == LP_OK) s = lp_op_sgd(c->rt, b.dw, b.dg, b.ds, n, lr, momentum);
    char what[64];
    if (s == LP_OK) {
        for (int i = 0; i < n; ++i)
            b.mag[i] = fabs((double)momentum * b.s[i]) + fabs((double)lr * b.g[i]);
        lp_ref_sgd(b.w, b.g, b.s, n, lr, momentum); /* b.w, b.s: the reference from here */
        for (int i = 0; i < n; ++i)
            b.rw[i] = b.w[i], b.rs[i] = b.s[i];
        snprintf(what, sizeof what, "lp_sgd_update velocity n=%d momentum %g", n, momentum);
        s = compare_(c, &b, b.ds, b.rs, (size_t)n, 8.0, what);
    }
    if (s == LP_OK) {
        for (int i = 0; i < n; ++i)
            b.mag[i] += fabs(b.rw[i]) + fabs(b.rs[i]);
        snprintf(what, sizeof what, "lp_sgd_update w n=%d momentum %g", n, momentum);
        s = compare_(c, &b, b.dw, b.rw, (size_t)n, 8.0, what);
    }
    opt_free_(&b);
    return s;
}

lp_status lp_check_sgd(lp_check_ctx *c) {
    for (int i = 0; i < N_SIZES_; ++i) {
        LP_TRY(sgd_case_(c, sizes_[i], 0.0f, 400 + (uint64_t)i));
        LP_TRY(sgd_case_(c, sizes_[i], 0.9f, 410 + (uint64_t)i));
    }
    return LP_OK;
}

static lp_status adam_case_(lp_check_ctx *c, int n, uint64_t seed) {
    opt_bufs_ b;
    /* the hyper-parameters as the kernel receives them (0.999f is not 0.999) */
    const float lr_t = 1e-3f, b1 = 0.9f, b2 = 0.999f, eps = 1e-7f;
    lp_status s = opt_alloc_(&b, (size_t)n, seed);
    if (s == LP_OK) s = opt_upload_(c, &b, (size_t)n);
    if (s == LP_OK) s = lp_op_adam(c->rt, b.dw, b.dg, b.ds, b.dt, n, lr_t, b1, b2, eps);
    char what[48];
    if (s == LP_OK) {
        for (int i = 0; i < n; ++i)
            b.rw[i] = b.w[i], b.rs[i] = b.s[i], b.rt[i] = b.t[i];
        lp_ref_adam(b.rw, b.g, b.rs, b.rt, n, lr_t, b1, b2, eps);
        for (int i = 0; i < n; ++i)
            b.mag[i] = fabs((double)b1 * b.s[i]) + fabs((1.0 - b1) * b.g[i]);
        snprintf(what, sizeof what, "lp_adam_update m n=%d", n);
        s = compare_(c, &b, b.ds, b.rs, (size_t)n, 4.0, what);
    }
    if (s == LP_OK) {
        for (int i = 0; i < n; ++i)
            b.mag[i] = fabs((double)b2 * b.t[i]) + fabs((1.0 - b2) * b.g[i] * b.g[i]);
        snprintf(what, sizeof what, "lp_adam_update v n=%d", n);
        s = compare_(c, &b, b.dt, b.rt, (size_t)n, 4.0, what);
    }
    if (s == LP_OK) {
        for (int i = 0; i < n; ++i)
            b.mag[i] = fabs((double)b.w[i]) + fabs(b.w[i] - b.rw[i]);
        snprintf(what, sizeof what, "lp_adam_update w n=%d", n);
        s = compare_(c, &b, b.dw, b.rw, (size_t)n, 24.0, what);
    }
    opt_free_(&b);
    return s;
}

lp_status lp_check_adam(lp_check_ctx *c) {
    for (int i = 0; i < N_SIZES_; ++i)
        LP_TRY(adam_case_(c, sizes_[i], 500 + (uint64_t)i));
    return LP_OK;
}

static lp_status lookahead_case_(lp_check_ctx *c, int n, float alpha, uint64_t seed) {
    opt_bufs_ b;
    lp_status s = opt_alloc_(&b, (size_t)n, seed);
    if (s == LP_OK) s = opt_upload_(c, &b, (size_t)n);
    if (s == LP_OK) s = lp_op_lookahead(c->rt, b.dw, b.ds, n, alpha);
    char what[64];
    if (s == LP_OK) {
        for (int i = 0; i < n; ++i) {
            b.rs[i] = alpha == 1.0f ? b.w[i] : (1.0 - alpha) * b.s[i] + (double)alpha * b.w[i];
            b.mag[i] = fabs((1.0 - alpha) * b.s[i]) + fabs((double)alpha * b.w[i]);
        }
        snprintf(what, sizeof what, "lp_lookahead_update slow n=%d alpha %g", n, alpha);
        s = compare_(c, &b, b.ds, b.rs, (size_t)n, 4.0, what);
    }
    if (s == LP_OK) s = lp_buffer_read(c->rt, b.dw, 0, (size_t)n * 4, b.s);
    if (s == LP_OK) {
        snprintf(what, sizeof what, "lp_lookahead_update w = slow n=%d", n);
        lp_check_bits(c, what, b.s, b.got, (size_t)n);
        /* decay from offset 1 */
        s = n > 1 ? lp_op_weight_decay(c->rt, b.dw, 1, n - 1, 0.999f) : LP_OK;
    }
    if (s == LP_OK && n > 1) {
        for (int i = 1; i < n; ++i)
            b.rw[i - 1] = (double)b.s[i] * 0.999f, b.mag[i - 1] = fabs(b.rw[i - 1]);
        s = lp_buffer_read(c->rt, b.dw, 0, (size_t)n * 4, b.got);
    }
    if (s == LP_OK && n > 1) {
        snprintf(what, sizeof what, "lp_weight_decay n=%d", n - 1);
        lp_check_values(c, what, b.got + 1, b.rw, b.mag, (size_t)n - 1, 2.0);
    }
    opt_free_(&b);
    return s;
}

lp_status lp_check_lookahead(lp_check_ctx *c) {
    for (int i = 0; i < N_SIZES_; ++i) {
        LP_TRY(lookahead_case_(c, sizes_[i], 0.5f, 600 + (uint64_t)i));
        LP_TRY(lookahead_case_(c, sizes_[i], 1.0f, 610 + (uint64_t)i));
    }
    return LP_OK;
}

/* The gather of a batch's rows and the L2 gradient term, at an offset. */
static lp_status gather_l2_case_(lp_check_ctx *c, int n, uint64_t seed) {
    opt_bufs_ b;
    int rows = n < 5 ? n : 5, width = 3, *idx = malloc((size_t)n * sizeof *idx);
    lp_status s = opt_alloc_(&b, (size_t)n * width, seed);
    if (s == LP_OK && !idx) s = lp_fail(LP_ERR_NO_MEMORY, "gather check");
    cl_mem di = NULL;
    char what[64];
    if (s == LP_OK) {
        for (int i = 0; i < n; ++i)
            idx[i] = (int)((i * 7 + 3) % n);
        s = opt_upload_(c, &b, (size_t)n * width);
    }
    if (s == LP_OK) s = lp_check_upload(c, idx, (size_t)n * sizeof *idx, &di);
    /* rows idx[first ..] of w into s (the batch), first = n - rows */
    if (s == LP_OK) s = lp_op_gather_rows(c->rt, b.dw, di, n - rows, rows, width, b.ds);
    if (s == LP_OK) s = lp_buffer_read(c->rt, b.ds, 0, (size_t)rows * width * 4, b.got);
    if (s == LP_OK) {
        for (int r = 0; r < rows; ++r)
            memcpy(b.s + (size_t)r * width, b.w + (size_t)idx[n - rows + r] * width,
                   (size_t)width * 4);
        snprintf(what, sizeof what, "lp_gather_rows %d of %d", rows, n);
        lp_check_bits(c, what, b.got, b.s, (size_t)rows * width);
        /* g[1..] += 2 coef w[1..] */
        s = n > 1 ? lp_op_l2_grad(c->rt, b.dw, b.dg, 1, n - 1, 1e-3f) : LP_OK;
    }
    if (s == LP_OK && n > 1) {
        for (int i = 1; i < n; ++i) {
            b.rw[i - 1] = b.g[i] + 2.0 * 1e-3f * b.w[i];
            b.mag[i - 1] = fabs((double)b.g[i]) + fabs(2.0 * 1e-3f * b.w[i]);
        }
        s = lp_buffer_read(c->rt, b.dg, 0, (size_t)n * 4, b.got);
        snprintf(what, sizeof what, "lp_l2_grad n=%d", n - 1);
        if (s == LP_OK) lp_check_values(c, what, b.got + 1, b.rw, b.mag, (size_t)n - 1, 4.0);
    }
    if (di) clReleaseMemObject(di);
    free(idx);
    opt_free_(&b);
    return s;
}

/* The divergence guard: finite values leave the flag alone; then a NaN gradient and an
 * infinite weight give the step and the lowest code (kind 1: gradient), exactly. */
static lp_status guard_case_(lp_check_ctx *c, int n, uint64_t seed) {
    opt_bufs_ b;
    float stats[4] = {1, 2, 3, 4};
    int32_t flag[2] = {0, 0x7FFFFFFF}, want[2];
    cl_mem ds = NULL, df = NULL;
    lp_status s = opt_alloc_(&b, (size_t)n, seed);
    if (s == LP_OK) s = opt_upload_(c, &b, (size_t)n);
    if (s == LP_OK) s = lp_check_upload(c, stats, sizeof stats, &ds);
    if (s == LP_OK) s = lp_check_upload(c, flag, sizeof flag, &df);
    if (s == LP_OK) s = lp_op_guard_finite(c->rt, b.dw, b.dg, n, ds, 2, 5, df);
    if (s == LP_OK) s = lp_buffer_read(c->rt, df, 0, sizeof want, want);
    char what[48];
    if (s == LP_OK) {
        snprintf(what, sizeof what, "lp_guard_finite n=%d, all finite", n);
        lp_check_bits(c, what, want, flag, 2);
        b.g[n - 1] = NAN;
        b.w[n / 2] = -INFINITY;
        s = lp_buffer_write(c->rt, b.dg, 0, (size_t)n * 4, b.g);
    }
    if (s == LP_OK) s = lp_buffer_write(c->rt, b.dw, 0, (size_t)n * 4, b.w);
    if (s == LP_OK) s = lp_op_guard_finite(c->rt, b.dw, b.dg, n, ds, 2, 6, df);
    if (s == LP_OK) s = lp_op_guard_finite(c->rt, b.dw, b.dg, n, ds, 2, 7, df);
    if (s == LP_OK) s = lp_buffer_read(c->rt, df, 0, sizeof want, want);
    if (s == LP_OK) {
        flag[0] = 6, flag[1] = (1 << 28) + n - 1;
        snprintf(what, sizeof what, "lp_guard_finite n=%d, step and code", n);
        lp_check_bits(c, what, want, flag, 2);
    }
    if (ds) clReleaseMemObject(ds);
    if (df) clReleaseMemObject(df);
    opt_free_(&b);
    return s;
}

lp_status lp_check_train_ops(lp_check_ctx *c) {
    for (int i = 0; i < N_SIZES_; ++i) {
        LP_TRY(gather_l2_case_(c, sizes_[i], 620 + (uint64_t)i));
        LP_TRY(guard_case_(c, sizes_[i], 630 + (uint64_t)i));
    }
    return LP_OK;
}
