/* `laperm check` rows for pooling, BatchNorm, [activation] and dropout, each layer inside
 * a small network behind an identity layer (check_net.h); tolerances: host/check.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_net.h"
#include "reference.h"

/* Host arrays of one case: x in, y out, dy, dx, grads, and double work space. */
typedef struct {
    float *x, *y, *dy, *dx, *g, *fw;
    float *in; /* what reached the layer under test: x through the identity layer */
    double *want, *mag, *w2, *m2;
    int *arg;
} bufs_;

static lp_status bufs_alloc_(bufs_ *b, const lp_check_net *t) {
    size_t ni = (size_t)t->n * t->in + 1, no = (size_t)t->n * t->out + 1;
    size_t np = lp_network_param_count(t->net) + 1, nmax = (ni > no ? ni : no) + np;
    *b = (bufs_){.x = malloc(ni * 4),
                 .in = malloc(ni * 4),
                 .y = malloc(no * 4),
                 .dy = malloc(no * 4),
                 .dx = malloc(ni * 4),
                 .g = malloc(np * 4),
                 .fw = malloc(nmax * 4),
                 .want = malloc(nmax * 8),
                 .mag = malloc(nmax * 8),
                 .w2 = malloc(nmax * 8),
                 .m2 = malloc(nmax * 8),
                 .arg = malloc(no * sizeof(int))};
    if (!b->x || !b->in || !b->y || !b->dy || !b->dx || !b->g || !b->fw || !b->want || !b->mag ||
        !b->w2 || !b->m2 || !b->arg)
        return lp_fail(LP_ERR_NO_MEMORY, "check: %zu values", nmax);
    return LP_OK;
}

static void bufs_free_(bufs_ *b) {
    free(b->x), free(b->in), free(b->y), free(b->dy), free(b->dx), free(b->g), free(b->fw),
        free(b->want), free(b->mag), free(b->w2), free(b->m2), free(b->arg);
}

/* ---- pooling ------------------------------------------------------------------------------ */

typedef struct {
    const char *kind; /* section */
    int c, h, w, k, s;
    bool same;
} pool_case_;

static lp_status pool_case_run_(lp_check_ctx *c, const pool_case_ *p, int n, uint64_t seed) {
    char text[160], what[96];
    bool global = !strcmp(p->kind, "globalavgpool");
    if (global)
        snprintf(text, sizeof text, "[globalavgpool]\n");
    else
        snprintf(text, sizeof text, "[%s]\nsize = %d\nstride = %d\npadding = %s\n", p->kind, p->k,
                 p->s, p->same ? "same" : "valid");
    lp_check_net t;
    bufs_ b = {0};
    lp_status s = lp_check_net_create(c, p->c, p->h, p->w, text, n, LP_CONV_ALGO_AUTO, seed, &t);
    if (s == LP_OK) s = bufs_alloc_(&b, &t);
    const lp_window *win = s == LP_OK ? &t.spec.layers[2].window : NULL;
    lp_ref_pool g = {0};
    if (s == LP_OK) {
        g = (lp_ref_pool){.c = p->c,
                          .h = p->h,
                          .w = p->w,
                          .kh = win->kh,
                          .kw = win->kw,
                          .sh = win->stride_h,
                          .sw = win->stride_w,
                          .pad_t = win->pad_top,
                          .pad_l = win->pad_left,
                          .max = !strcmp(p->kind, "maxpool")};
        lp_shape o = t.spec.layers[2].out;
        g.oh = o.h, g.ow = o.w;
        uint64_t rng = seed;
        lp_check_fill(b.x, (size_t)n * t.in, &rng, -1.0f, 1.0f);
        /* ties: the first maximum wins */
        if (t.in > 3) b.x[1] = b.x[2] = b.x[3] = 2.0f;
        lp_check_fill(b.dy, (size_t)n * t.out, &rng, -1.0f, 1.0f);
        s = lp_check_net_forward(&t, b.x, true, b.y);
    }
    if (s == LP_OK) s = lp_check_net_backward(&t, b.dy, NULL, b.dx);
    if (s == LP_OK) {
        size_t no = (size_t)n * t.out, ni = (size_t)n * t.in;
        snprintf(what, sizeof what, "%s %dx%dx%d window %dx%d stride %d %s forward", p->kind, p->c,
                 p->h, p->w, g.kh, g.kw, g.sh, p->same ? "same" : "valid");
        lp_ref_pool_forward(&g, n, b.x, b.fw, b.arg);
        if (g.max) {
            lp_check_bits(c, what, b.y, b.fw, no);
        } else {
            for (size_t i = 0; i < no; ++i)
                b.want[i] = b.fw[i];
            for (size_t i = 0; i < ni; ++i)
                b.dx[i] = fabsf(b.x[i]); /* the average of |x|: the sum's magnitude */
            lp_ref_pool_forward(&g, n, b.dx, b.fw, b.arg);
            for (size_t i = 0; i < no; ++i)
                b.mag[i] = b.fw[i];
            lp_check_values(c, what, b.y, b.want, b.mag, no, g.kh * g.kw + 4.0);
            lp_ref_pool_forward(&g, n, b.x, b.fw, b.arg);
            s = lp_check_net_backward(&t, b.dy, NULL, b.dx);
        }
    }
    if (s == LP_OK) {
        size_t ni = (size_t)n * t.in;
        s = lp_ref_pool_backward(&g, n, b.dy, b.arg, b.fw, b.mag);
        for (size_t i = 0; s == LP_OK && i < ni; ++i)
            b.want[i] = b.fw[i];
        snprintf(what, sizeof what, "%s %dx%dx%d window %dx%d stride %d backward", p->kind, p->c,
                 p->h, p->w, g.kh, g.kw, g.sh);
        if (s == LP_OK) lp_check_values(c, what, b.dx, b.want, b.mag, ni, g.kh * g.kw + 2.0);
    }
    bufs_free_(&b);
    lp_check_net_free(&t);
    return s;
}

lp_status lp_check_pool(lp_check_ctx *c) {
    static const pool_case_ cases[] = {
        {"maxpool", 2, 7, 9, 3, 2, true},    {"avgpool", 3, 7, 9, 3, 2, true},
        {"maxpool", 1, 5, 5, 2, 1, false},   {"avgpool", 2, 5, 6, 2, 1, false},
        {"globalavgpool", 3, 7, 3, 0, 0, 0}, {"maxpool", 3, 33, 17, 2, 2, false},
        {"avgpool", 4, 13, 11, 3, 3, true},
    };
    int nc = c->quick ? 5 : 7;
    for (int i = 0; i < nc; ++i)
        LP_TRY(pool_case_run_(c, &cases[i], c->quick ? 2 : 3, 700 + (uint64_t)i));
    return LP_OK;
}

/* ---- BatchNorm ---------------------------------------------------------------------------- */

static lp_status bn_case_(lp_check_ctx *c, int ch, int h, int w, int n, bool relu, uint64_t seed) {
    char text[96], what[96];
    snprintf(text, sizeof text, "[batchnorm]\nactivation = %s\n", relu ? "relu" : "none");
    lp_check_net t;
    bufs_ b = {0};
    lp_status s = lp_check_net_create(c, ch, h, w, text, n, LP_CONV_ALGO_AUTO, seed, &t);
    if (s == LP_OK) s = bufs_alloc_(&b, &t);
    const lp_param_tensor *tg = s == LP_OK ? lp_check_net_tensor(&t, 0) : NULL;
    const lp_param_tensor *tb = s == LP_OK ? lp_check_net_tensor(&t, 1) : NULL;
    if (s == LP_OK && (!tg || !tb)) s = lp_fail(LP_ERR_INTERNAL, "batchnorm check: no gamma/beta");
    int S = h * w;
    size_t nv = (size_t)n * t.in, m = (size_t)n * S;
    double eps = t.spec.layers[2].u.bn.eps;
    double *xd = NULL, gamma[64], beta[64], mean[64], var[64];
    if (s == LP_OK && ch > 64) s = lp_fail(LP_ERR_INTERNAL, "batchnorm check: > 64 channels");
    if (s == LP_OK && !(xd = malloc(nv * 2 * sizeof *xd)))
        s = lp_fail(LP_ERR_NO_MEMORY, "batchnorm check");
    if (s == LP_OK) {
        uint64_t rng = seed;
        lp_check_fill(b.x, nv, &rng, -1.0f, 3.0f); /* a mean away from 0 */
        lp_check_fill(b.dy, nv, &rng, -1.0f, 1.0f);
        for (int k = 0; k < ch; ++k) {
            t.params[tg->offset + (size_t)k] = 0.5f + (float)k / (float)ch;
            gamma[k] = t.params[tg->offset + (size_t)k];
            beta[k] = t.params[tb->offset + (size_t)k];
        }
        for (size_t i = 0; i < nv; ++i)
            xd[i] = b.x[i];
        s = lp_check_net_upload(&t);
    }
    if (s == LP_OK) s = lp_check_net_forward(&t, b.x, true, b.y);
    lp_ref_bn g = {.n = n, .c = ch, .s = S, .eps = eps, .relu = relu};
    double *z = xd + nv;
    if (s == LP_OK) {
        lp_ref_bn_train(&g, xd, gamma, beta, b.want, z, mean, var);
        for (size_t i = 0; i < nv; ++i) {
            int k = (int)(i / (size_t)S % (size_t)ch);
            double rstd = 1.0 / sqrt(var[k] + eps), mabs = 0.0;
            for (int j = 0; j < n; ++j)
                for (int p = 0; p < S; ++p)
                    mabs += fabs(xd[((size_t)j * ch + k) * S + p]);
            b.mag[i] = fabs(gamma[k]) * rstd * (fabs(xd[i]) + mabs / m) +
                       fabs(gamma[k] * (xd[i] - mean[k]) * rstd) + fabs(beta[k]);
        }
        snprintf(what, sizeof what, "batchnorm %dx%dx%d n=%d%s training forward", ch, h, w, n,
                 relu ? " relu" : "");
        lp_check_values(c, what, b.y, b.want, b.mag, nv, 2.0 * m + 16.0);
        s = lp_check_net_backward(&t, b.dy, b.g, b.dx);
    }
    if (s == LP_OK) {
        /* the analytic gradient through the batch statistics; dz = dy masked by the ReLU */
        for (int k = 0; k < ch; ++k) {
            double rstd = 1.0 / sqrt(var[k] + eps), sd = 0, sdx = 0, ad = 0, adx = 0;
            for (int j = 0; j < n; ++j)
                for (int p = 0; p < S; ++p) {
                    size_t i = ((size_t)j * ch + k) * S + p;
                    double dz = relu && !(z[i] > 0) ? 0.0 : b.dy[i];
                    double xh = (xd[i] - mean[k]) * rstd;
                    sd += dz, sdx += dz * xh, ad += fabs(dz), adx += fabs(dz * xh);
                }
            b.w2[k] = sdx, b.m2[k] = adx;         /* dgamma */
            b.w2[ch + k] = sd, b.m2[ch + k] = ad; /* dbeta */
            for (int j = 0; j < n; ++j)
                for (int p = 0; p < S; ++p) {
                    size_t i = ((size_t)j * ch + k) * S + p;
                    double dz = relu && !(z[i] > 0) ? 0.0 : b.dy[i];
                    double xh = (xd[i] - mean[k]) * rstd, f = gamma[k] * rstd / (double)m;
                    b.want[i] = f * ((double)m * dz - sd - xh * sdx);
                    b.mag[i] = fabs(f) * ((double)m * fabs(dz) + ad + fabs(xh) * adx);
                }
        }
        snprintf(what, sizeof what, "batchnorm %dx%dx%d n=%d dx", ch, h, w, n);
        lp_check_values(c, what, b.dx, b.want, b.mag, nv, 3.0 * m + 24.0);
        snprintf(what, sizeof what, "batchnorm %dx%dx%d n=%d dgamma", ch, h, w, n);
        lp_check_values(c, what, b.g + tg->offset, b.w2, b.m2, (size_t)ch, 2.0 * m + 16.0);
        snprintf(what, sizeof what, "batchnorm %dx%dx%d n=%d dbeta", ch, h, w, n);
        lp_check_values(c, what, b.g + tb->offset, b.w2 + ch, b.m2 + ch, (size_t)ch, m + 2.0);
    }
    /* inference with the running statistics the training pass left */
    float stats[128];
    if (s == LP_OK && lp_network_state_floats(t.net) != (size_t)2 * ch)
        s = lp_fail(LP_ERR_INTERNAL, "batchnorm check: expected 2 x %d running statistics", ch);
    if (s == LP_OK) s = lp_network_state_read(t.net, stats);
    if (s == LP_OK) s = lp_check_net_forward(&t, b.x, false, b.y);
    if (s == LP_OK) {
        for (int k = 0; k < ch; ++k)
            mean[k] = stats[k], var[k] = stats[ch + k];
        lp_ref_bn_infer(&g, xd, gamma, beta, mean, var, b.want);
        for (size_t i = 0; i < nv; ++i) {
            int k = (int)(i / (size_t)S % (size_t)ch);
            double rstd = 1.0 / sqrt(var[k] + eps);
            b.mag[i] = fabs(gamma[k]) * rstd * (fabs(xd[i]) + fabs(mean[k])) + fabs(beta[k]);
        }
        snprintf(what, sizeof what, "batchnorm %dx%dx%d n=%d inference", ch, h, w, n);
        lp_check_values(c, what, b.y, b.want, b.mag, nv, 16.0);
    }
    free(xd);
    bufs_free_(&b);
    lp_check_net_free(&t);
    return s;
}

lp_status lp_check_batchnorm(lp_check_ctx *c) {
    LP_TRY(bn_case_(c, 3, 5, 7, 4, false, 800));
    LP_TRY(bn_case_(c, 2, 9, 1, 3, true, 801));
    LP_TRY(bn_case_(c, 33, 1, 1, 7, false, 802)); /* flat: per feature */
    if (!c->quick) {
        LP_TRY(bn_case_(c, 16, 13, 13, 5, true, 803));
        LP_TRY(bn_case_(c, 1, 1, 1, 1, false, 804)); /* one value: variance 0 */
    }
    return LP_OK;
}

/* An element-wise layer (`text`) over n samples of ch x h x w: x uniform in [lo, hi) with
 * x[0] = 0, dy in [-1, 1); dropout's Philox key, step and first row when key is not 0; forward
 * (training) into b->y, backward into b->dx. Free b and t whatever it returns. */
static lp_status run_elementwise_(lp_check_ctx *c, const char *text, int ch, int h, int w, int n,
                                  uint64_t seed, float lo, float hi, uint64_t key, long long step,
                                  long long first_row, lp_check_net *t, bufs_ *b) {
    *b = (bufs_){0};
    LP_TRY(lp_check_net_create(c, ch, h, w, text, n, LP_CONV_ALGO_AUTO, seed, t));
    LP_TRY(bufs_alloc_(b, t));
    size_t nv = (size_t)n * t->in;
    uint64_t rng = seed;
    lp_check_fill(b->x, nv, &rng, lo, hi);
    lp_check_fill(b->dy, nv, &rng, -1.0f, 1.0f);
    b->x[0] = 0.0f;
    if (key) lp_network_set_rng(t->net, key, step, first_row);
    LP_TRY(lp_check_net_forward(t, b->x, true, b->y));
    /* the identity layer's output has x's values, but a zero's sign is its sum's (a device
     * may add +0 and -0 terms in any order): the reference starts from what it gave */
    LP_TRY(lp_buffer_read(t->net->rt, t->net->layers[1].out, 0, nv * 4, b->in));
    return lp_check_net_backward(t, b->dy, NULL, b->dx);
}

/* ---- [activation] ------------------------------------------------------------------------- */

static lp_status act_case_(lp_check_ctx *c, const char *fn, int ch, int h, int w, int n,
                           uint64_t seed) {
    char text[64], what[96];
    snprintf(text, sizeof text, "[activation]\nfunction = %s\n", fn);
    lp_check_net t;
    bufs_ b;
    lp_status s = run_elementwise_(c, text, ch, h, w, n, seed, -6.0f, 6.0f, 0, 0, 0, &t, &b);
    size_t nv = (size_t)n * t.in;
    if (s == LP_OK) {
        bool bits = !strcmp(fn, "relu") || !strcmp(fn, "identity");
        for (size_t i = 0; i < nv; ++i) {
            double x = b.in[i], y = b.y[i], dy = b.dy[i]; /* the gradient from the device's y */
            if (!strcmp(fn, "tanh"))
                b.want[i] = tanh(x), b.w2[i] = dy * (1.0 - y * y), b.m2[i] = fabs(dy) * (1 + y * y);
            else if (!strcmp(fn, "sigmoid"))
                b.want[i] = 1.0 / (1.0 + exp(-x)), b.w2[i] = dy * y * (1.0 - y),
                b.m2[i] = fabs(dy * y) * (1 + fabs(y));
            b.mag[i] = fabs(b.want[i]);
            if (!strcmp(fn, "relu"))
                b.fw[i] = b.in[i] > 0.0f ? b.in[i] : 0.0f, b.dy[i] *= b.in[i] > 0.0f ? 1.0f : 0.0f;
            else if (bits)
                b.fw[i] = b.in[i];
        }
        snprintf(what, sizeof what, "activation %s %dx%dx%d forward", fn, ch, h, w);
        for (size_t i = 0; bits && i < nv; ++i)
            b.want[i] = b.fw[i];
        if (bits) /* exact values; fmax need not choose a zero's sign */
            lp_check_values(c, what, b.y, b.want, NULL, nv, 0.0);
        else
            lp_check_values(c, what, b.y, b.want, b.mag, nv, 16.0);
        snprintf(what, sizeof what, "activation %s %dx%dx%d backward", fn, ch, h, w);
        if (bits)
            lp_check_bits(c, what, b.dx, b.dy, nv);
        else
            lp_check_values(c, what, b.dx, b.w2, b.m2, nv, 8.0);
    }
    bufs_free_(&b);
    lp_check_net_free(&t);
    return s;
}

lp_status lp_check_activation(lp_check_ctx *c) {
    static const char *const fns[] = {"tanh", "sigmoid", "relu", "identity"};
    for (int i = 0; i < 4; ++i) {
        LP_TRY(act_case_(c, fns[i], 3, 5, 7, 3, 900 + (uint64_t)i));
        LP_TRY(act_case_(c, fns[i], 33, 1, 1, 2, 910 + (uint64_t)i));
    }
    return LP_OK;
}

/* ---- dropout ------------------------------------------------------------------------------- */

/* n rows of ch x h x w from row first_row of a global batch: the mask of global index
 * first_row x features + i. */
static lp_status dropout_case_(lp_check_ctx *c, int ch, int h, int w, int n, long long first_row,
                               float rate, long long step, uint64_t seed) {
    char text[64], what[96];
    snprintf(text, sizeof text, "[dropout]\nrate = %g\n", (double)rate);
    lp_check_net t;
    bufs_ b;
    const uint64_t key = 0x9E3779B97F4A7C15ull ^ seed; /* both words nonzero */
    lp_status s =
        run_elementwise_(c, text, ch, h, w, n, seed, -1.0f, 1.0f, key, step, first_row, &t, &b);
    size_t nv = (size_t)n * t.in;
    if (s == LP_OK) {
        float scale = 1.0f / (1.0f - rate);
        uint64_t base = (uint64_t)first_row * t.in;
        for (size_t i = 0; i < nv; ++i) {
            bool keep = lp_ref_dropout_keep(key, step, 2, base + i, rate);
            b.fw[i] = keep ? b.in[i] * scale : 0.0f;
            b.dy[i] = keep ? b.dy[i] * scale : 0.0f;
        }
        snprintf(what, sizeof what, "dropout rate %g %zu values from row %lld step %lld forward",
                 (double)rate, nv, first_row, step);
        lp_check_bits(c, what, b.y, b.fw, nv);
        snprintf(what, sizeof what, "dropout rate %g %zu values backward", (double)rate, nv);
        lp_check_bits(c, what, b.dx, b.dy, nv);
    }
    bufs_free_(&b);
    lp_check_net_free(&t);
    return s;
}

lp_status lp_check_dropout(lp_check_ctx *c) {
    /* sizes off the kernels' 8- and 32-value blocks; rows of a global batch starting in a
     * block (105 x 5 = 525 = 16 x 32 + 13) and at one (33 x 32) */
    LP_TRY(dropout_case_(c, 3, 5, 7, 3, 0, 0.3f, 7, 1000));
    LP_TRY(dropout_case_(c, 33, 1, 1, 1, 0, 0.5f, 123456789, 1001));
    LP_TRY(dropout_case_(c, 1, 1, 1, 1, 0, 0.9f, 0, 1002));
    LP_TRY(dropout_case_(c, 3, 5, 7, 3, 5, 0.3f, 8, 1004));
    LP_TRY(dropout_case_(c, 33, 1, 1, 2, 32, 0.5f, 9, 1005));
    if (!c->quick) LP_TRY(dropout_case_(c, 16, 13, 13, 7, 0, 0.25f, 3, 1003));
    return LP_OK;
}

/* ---- [add] ----------------------------------------------------------------------------------- */

/* [add] from the input, behind the identity layer: y = relu(in + x), in the identity
 * layer's output (x's values), exact; its gradient reaches the identity layer as dy masked
 * by y > 0, exact. */
static lp_status add_case_(lp_check_ctx *c, int ch, int h, int w, int n, bool relu, uint64_t seed) {
    char text[96], what[96];
    snprintf(text, sizeof text, "[add]\nfrom = input_1\nactivation = %s\n", relu ? "relu" : "none");
    lp_check_net t;
    bufs_ b;
    lp_status s = run_elementwise_(c, text, ch, h, w, n, seed, -1.0f, 1.0f, 0, 0, 0, &t, &b);
    size_t nv = (size_t)n * t.in;
    if (s == LP_OK) {
        for (size_t i = 0; i < nv; ++i) {
            float v = b.in[i] + b.x[i]; /* the previous layer plus the shortcut */
            b.fw[i] = relu && !(v > 0.0f) ? 0.0f : v;
            b.dy[i] = relu && !(v > 0.0f) ? 0.0f : b.dy[i];
        }
        snprintf(what, sizeof what, "add %dx%dx%d%s forward", ch, h, w, relu ? " relu" : "");
        lp_check_bits(c, what, b.y, b.fw, nv);
        snprintf(what, sizeof what, "add %dx%dx%d%s backward", ch, h, w, relu ? " relu" : "");
        lp_check_bits(c, what, b.dx, b.dy, nv);
    }
    bufs_free_(&b);
    lp_check_net_free(&t);
    return s;
}

lp_status lp_check_add(lp_check_ctx *c) {
    LP_TRY(add_case_(c, 3, 5, 7, 3, true, 1700));
    LP_TRY(add_case_(c, 33, 1, 1, 2, false, 1701));
    if (!c->quick) LP_TRY(add_case_(c, 16, 13, 13, 5, true, 1702));
    return LP_OK;
}
