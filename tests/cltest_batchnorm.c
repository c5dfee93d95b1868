/* BatchNorm against a double-precision C reference: the training pass (batch statistics),
 * the running-statistics update seen through the inference pass, and the backward pass
 * (dgamma, dbeta, dx) against central differences of a host loss sum(w * y), on spatial
 * and flat inputs, with and without the fused ReLU. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layer.h"
#include "lp_test.h"
#include "lp_test_rig.h"
#include "reference.h"

#define SENTINEL_ 12345.5f
/* Parameters sit after a few unrelated values: the layer must honour tensor offsets. */
#define PARAM_LEAD_ 3

/* ---- the layer under test in a hand-built network (tests/support/lp_test_rig.h) ---- */

typedef lp_test_rig rig_;
#define rig_free_ lp_test_rig_free

/* `tensors`: 2 for gamma and beta (PARAM_LEAD_ + c each), fewer or other counts to test
 * the checks. The parameter and gradient buffers are written whole from the host later. */
static lp_status rig_build_(rig_ *r, const lp_layer_spec *layer, int max_batch, bool need_dx,
                            int tensors, int tensor_count) {
    lp_param_tensor t[2] = {{0}};
    const char *names[2] = {"gamma", "beta"};
    size_t offset = PARAM_LEAD_;
    for (int i = 0; i < tensors; ++i) {
        t[i] = (lp_param_tensor){.layer = 1, .rank = 1, .dims = {tensor_count}};
        snprintf(t[i].name, sizeof t[i].name, "%s", names[i]);
        t[i].count = (size_t)tensor_count;
        t[i].offset = offset;
        t[i].groups = 1;
        t[i].group_size = tensor_count;
        offset += t[i].count;
    }
    LP_TRY(lp_test_rig_build(r, layer, max_batch, need_dx, true, t, tensors, offset));
    return lp_layer_kind_get(r->l->spec->kind)->init(r->net, r->l);
}

/* ---- double-precision reference ---------------------------------------------------------- */

/* n samples, c channels, s values per channel (1 when flat): host/reference.h */
typedef lp_ref_bn bn_geo_;

static bool close_to_(const float *got, const double *want, size_t n, double atol, double rtol,
                      const char *what) {
    int bad = 0;
    for (size_t i = 0; i < n; ++i)
        if (!(fabs(got[i] - want[i]) <= atol + rtol * fabs(want[i])) && bad++ < 3)
            printf("\n  %s: [%zu] got %.9g want %.9g\n", what, i, got[i], want[i]);
    return bad == 0;
}

/* ---- one case ------------------------------------------------------------------------------ */

typedef struct {
    rig_ r;
    bn_geo_ g;
    int max_batch;
    size_t nx;    /* whole input buffer: max_batch samples */
    size_t np;    /* parameter buffer */
    float *x, *p; /* host copies of what was uploaded */
    double *xd, *gamma, *beta;
} bn_case_;

static void case_free_(bn_case_ *bc) {
    rig_free_(&bc->r);
    free(bc->x);
    free(bc->p);
    free(bc->xd);
    free(bc->gamma);
    free(bc->beta);
}

/* Random input of max_batch samples around `center`, gamma in [0.5, 1.5], beta in
 * [-0.5, 0.5]; uploads the whole input and parameter buffers. */
static bool case_init_(bn_case_ *bc, int c, int h, int w, int max_batch, int n, bool relu,
                       float momentum, float center, bool need_dx, uint64_t seed) {
    memset(bc, 0, sizeof *bc);
    bc->g = (bn_geo_){.n = n, .c = c, .s = h * w, .eps = 1e-3, .relu = relu};
    bc->max_batch = max_batch;
    lp_layer_spec spec = {.kind = LP_LAYER_BATCHNORM, .line = 2, .name = "bn"};
    spec.in = spec.out = (lp_shape){c, h, w};
    spec.u.bn = (lp_batchnorm_spec){
        .momentum = momentum, .eps = 1e-3f, .activation = relu ? LP_ACT_RELU : LP_ACT_NONE};
    lp_status s = rig_build_(&bc->r, &spec, max_batch, need_dx, 2, c);
    if (s != LP_OK) {
        printf("\n  building the batchnorm layer: %s\n", lp_last_error());
        return false;
    }
    uint64_t rng = seed;
    bc->nx = (size_t)max_batch * c * h * w;
    bc->np = bc->r.net->n_params;
    bc->x = lp_test_floats(bc->nx);
    bc->p = lp_test_floats(bc->np);
    bc->xd = malloc(bc->nx * sizeof *bc->xd);
    bc->gamma = malloc((size_t)c * sizeof *bc->gamma);
    bc->beta = malloc((size_t)c * sizeof *bc->beta);
    CU_ASSERT_FATAL(bc->xd && bc->gamma && bc->beta);
    /* Each channel gets its own scale so that the statistics differ between channels. */
    for (size_t i = 0; i < bc->nx; ++i) {
        int ch = (int)((i / (size_t)bc->g.s) % (size_t)c);
        bc->x[i] = center + (1.0f + 0.5f * (float)ch) * lp_test_uniform(&rng, -1.0f, 1.0f);
        bc->xd[i] = bc->x[i];
    }
    for (size_t i = 0; i < bc->np; ++i)
        bc->p[i] = lp_test_uniform(&rng, -5.0f, 5.0f); /* the unrelated lead values */
    for (int ch = 0; ch < c; ++ch) {
        bc->p[PARAM_LEAD_ + ch] = lp_test_uniform(&rng, 0.5f, 1.5f);
        bc->p[PARAM_LEAD_ + c + ch] = lp_test_uniform(&rng, -0.5f, 0.5f);
        bc->gamma[ch] = bc->p[PARAM_LEAD_ + ch];
        bc->beta[ch] = bc->p[PARAM_LEAD_ + c + ch];
    }
    LP_TEST_OK(lp_buffer_write(lp_test_rt, bc->r.in->out, 0, bc->nx * 4, bc->x));
    LP_TEST_OK(lp_buffer_write(lp_test_rt, bc->r.net->params, 0, bc->np * 4, bc->p));
    return true;
}

static void case_name_(char *buf, size_t size, const bn_case_ *bc, const char *what) {
    snprintf(buf, size, "%s, %d channels x %d, n=%d%s", what, bc->g.c, bc->g.s, bc->g.n,
             bc->g.relu ? ", relu" : "");
}

/* ---- training forward --------------------------------------------------------------------- */

static void check_train_forward_(int c, int h, int w, int max_batch, int n, bool relu, float center,
                                 uint64_t seed) {
    bn_case_ bc;
    bool ok = case_init_(&bc, c, h, w, max_batch, n, relu, 0.99f, center, true, seed);
    CU_ASSERT_FATAL(ok);
    size_t nv = (size_t)n * c * h * w;
    double *want = malloc(nv * sizeof *want);
    float *y = lp_test_floats(nv);
    CU_ASSERT_FATAL(want != NULL);
    lp_ref_bn_train(&bc.g, bc.xd, bc.gamma, bc.beta, want, NULL, NULL, NULL);
    LP_TEST_OK(lp_network_forward(bc.r.net, n, true));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, bc.r.l->out, 0, nv * 4, y));
    char what[128];
    case_name_(what, sizeof what, &bc, "training forward");
    /* Inputs around `center` lose their low bits in float: the margin scales with it. */
    CU_ASSERT(close_to_(y, want, nv, 2e-5 * (1.0 + fabs(center)), 1e-4, what));
    free(want);
    free(y);
    case_free_(&bc);
}

static void test_train_forward(void) {
    const int h = 5, w = 7;
    check_train_forward_(3, h, w, 7, 7, false, 0.0f, 1);
    check_train_forward_(3, h, w, 7, 7, true, 0.0f, 2);
    check_train_forward_(3, h, w, 4, 2, false, 0.3f, 3);
    check_train_forward_(2, 1, 9, 3, 1, true, 0.0f, 4);   /* one sample: statistics over w */
    check_train_forward_(10, 1, 1, 7, 7, false, 0.0f, 5); /* flat: per feature over n */
    check_train_forward_(10, 1, 1, 7, 5, true, 0.0f, 6);
    check_train_forward_(3, h, w, 4, 4, false, 100.0f, 7); /* a large mean */
    /* 12544 values per channel: full work-groups looping several times (platforms only). */
    if (!lp_test_simulator()) check_train_forward_(4, 28, 28, 16, 16, true, 0.0f, 8);
}

/* ---- running statistics and inference ----------------------------------------------------- */

/* Inference before any training uses mean 0, var 1; after two training passes (momentum
 * 0.75) it uses running = m*running + (1-m)*batch with the unbiased batch variance. */
static void check_running_(int c, int h, int w, int n, bool relu, uint64_t seed) {
    const float momentum = 0.75f;
    bn_case_ bc;
    bool ok = case_init_(&bc, c, h, w, n, n, relu, momentum, 0.5f, true, seed);
    CU_ASSERT_FATAL(ok);
    size_t nv = (size_t)n * c * h * w;
    double *want = malloc(nv * sizeof *want), *rm = malloc((size_t)c * sizeof *rm);
    double *rv = malloc((size_t)c * sizeof *rv), *bm = malloc((size_t)c * sizeof *bm);
    double *bv = malloc((size_t)c * sizeof *bv);
    float *y = lp_test_floats(nv);
    CU_ASSERT_FATAL(want && rm && rv && bm && bv);
    char what[128];
    for (int ch = 0; ch < c; ++ch) {
        rm[ch] = 0.0;
        rv[ch] = 1.0;
    }
    lp_ref_bn_infer(&bc.g, bc.xd, bc.gamma, bc.beta, rm, rv, want);
    LP_TEST_OK(lp_network_forward(bc.r.net, n, false));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, bc.r.l->out, 0, nv * 4, y));
    case_name_(what, sizeof what, &bc, "inference with the initial statistics");
    CU_ASSERT(close_to_(y, want, nv, 1e-5, 1e-5, what));

    double m = (double)n * h * w;
    uint64_t rng = seed * 31;
    for (int pass = 0; pass < 2; ++pass) {
        LP_TEST_OK(lp_network_forward(bc.r.net, n, true));
        lp_ref_bn_train(&bc.g, bc.xd, bc.gamma, bc.beta, want, NULL, bm, bv);
        for (int ch = 0; ch < c; ++ch) {
            double unbiased = m > 1 ? bv[ch] * m / (m - 1) : bv[ch];
            rm[ch] = momentum * rm[ch] + (1.0 - momentum) * bm[ch];
            rv[ch] = momentum * rv[ch] + (1.0 - momentum) * unbiased;
        }
        /* A new batch for the next pass (scaled and shifted, so the statistics move). */
        for (size_t i = 0; i < bc.nx; ++i) {
            bc.x[i] = 2.0f * bc.x[i] + lp_test_uniform(&rng, -0.25f, 1.0f);
            bc.xd[i] = bc.x[i];
        }
        LP_TEST_OK(lp_buffer_write(lp_test_rt, bc.r.in->out, 0, bc.nx * 4, bc.x));
    }
    lp_ref_bn_infer(&bc.g, bc.xd, bc.gamma, bc.beta, rm, rv, want);
    LP_TEST_OK(lp_network_forward(bc.r.net, n, false));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, bc.r.l->out, 0, nv * 4, y));
    case_name_(what, sizeof what, &bc, "inference after two training passes");
    CU_ASSERT(close_to_(y, want, nv, 2e-5, 1e-4, what));
    free(want);
    free(rm);
    free(rv);
    free(bm);
    free(bv);
    free(y);
    case_free_(&bc);
}

static void test_running_statistics(void) {
    check_running_(3, 5, 7, 4, false, 11);
    check_running_(3, 3, 5, 2, true, 12);
    check_running_(6, 1, 1, 5, false, 13);
    check_running_(6, 1, 1, 1, false, 14); /* m = 1: the biased variance (0) */
}

/* ---- backward ------------------------------------------------------------------------------ */

#define FD_STEP_ 1e-4
#define KINK_ 1e-4 /* pre-activations this close to 0 make float and double disagree */

/* Loss sum(w * y) from the reference in double; kinks (one code per pre-activation: 0
 * below 0, 1 above) when not NULL. */
static double ref_loss_(const bn_case_ *bc, const double *w, double *y, double *z,
                        unsigned char *kinks) {
    lp_ref_bn_train(&bc->g, bc->xd, bc->gamma, bc->beta, y, z, NULL, NULL);
    size_t nv = (size_t)bc->g.n * bc->g.c * bc->g.s;
    double loss = 0.0;
    for (size_t i = 0; i < nv; ++i) {
        loss += w[i] * y[i];
        if (kinks) kinks[i] = z[i] > 0.0;
    }
    return loss;
}

/* Central difference of the loss in *v; skipped (returns false) when the step moves a
 * ReLU input across 0. */
static bool fd_(bn_case_ *bc, double *v, const double *w, double *y, double *z,
                const unsigned char *k0, unsigned char *k1, double *out) {
    double keep = *v, loss[2];
    bool kink = false;
    for (int side = 0; side < 2; ++side) {
        *v = side ? keep - FD_STEP_ : keep + FD_STEP_;
        loss[side] = ref_loss_(bc, w, y, z, k1);
        if (bc->g.relu) kink |= memcmp(k0, k1, (size_t)bc->g.n * bc->g.c * bc->g.s) != 0;
    }
    *v = keep;
    *out = (loss[0] - loss[1]) / (2.0 * FD_STEP_);
    return !kink;
}

static bool grad_ok_(double got, double fd, const char *what, const char *name, size_t i,
                     int *printed) {
    double tol = 1e-4 + 1e-3 * fabs(fd);
    bool ok = fabs(got - fd) <= tol;
    if (!ok && (*printed)++ < 5)
        printf("\n  %s: %s[%zu] analytic %.7g, finite difference %.7g\n", what, name, i, got, fd);
    return ok;
}

static void check_backward_(int c, int h, int w, int max_batch, int n, bool relu, uint64_t seed) {
    bn_case_ bc;
    bool ok = case_init_(&bc, c, h, w, max_batch, n, relu, 0.9f, 0.0f, true, seed);
    CU_ASSERT_FATAL(ok);
    size_t nv = (size_t)n * c * h * w, ndy = (size_t)max_batch * c * h * w;
    float *dy = lp_test_floats(ndy), *dx = lp_test_floats(bc.nx), *grads = lp_test_floats(bc.np);
    float *again = lp_test_floats(bc.np), *dx_again = lp_test_floats(bc.nx);
    double *wd = malloc(nv * sizeof *wd), *y = malloc(nv * sizeof *y), *z = malloc(nv * sizeof *z);
    unsigned char *k0 = malloc(nv), *k1 = malloc(nv);
    CU_ASSERT_FATAL(wd && y && z && k0 && k1);
    uint64_t rng = seed * 7;
    for (size_t i = 0; i < ndy; ++i)
        dy[i] = lp_test_uniform(&rng, -1.0f, 1.0f);
    for (size_t i = 0; i < nv; ++i)
        wd[i] = dy[i];
    char what[128];
    case_name_(what, sizeof what, &bc, "backward");
    ref_loss_(&bc, wd, y, z, k0);
    if (relu) {
        int near = 0;
        for (size_t i = 0; i < nv; ++i)
            near += fabs(z[i]) < KINK_;
        if (near)
            printf("\n  %s: %d pre-activations within %g of 0; pick another seed\n", what, near,
                   KINK_);
        CU_ASSERT_EQUAL_FATAL(near, 0);
    }

    /* Gradients and dx start as NaN and sentinels: backward overwrites what it owns, twice
     * gives the same bits (no accumulation, a fixed summation order). */
    for (int round = 0; round < 2; ++round) {
        float *g = round ? again : grads, *d = round ? dx_again : dx;
        for (size_t i = 0; i < bc.np; ++i)
            g[i] = NAN;
        for (size_t i = 0; i < bc.nx; ++i)
            d[i] = SENTINEL_;
        LP_TEST_OK(lp_buffer_write(lp_test_rt, bc.r.net->grads, 0, bc.np * 4, g));
        LP_TEST_OK(lp_buffer_write(lp_test_rt, bc.r.in->dout, 0, bc.nx * 4, d));
        LP_TEST_OK(lp_buffer_write(lp_test_rt, bc.r.l->dout, 0, ndy * 4, dy));
        LP_TEST_OK(lp_network_forward(bc.r.net, n, true));
        LP_TEST_OK(lp_network_backward(bc.r.net, n));
        LP_TEST_OK(lp_buffer_read(lp_test_rt, bc.r.net->grads, 0, bc.np * 4, g));
        LP_TEST_OK(lp_buffer_read(lp_test_rt, bc.r.in->dout, 0, bc.nx * 4, d));
    }
    CU_ASSERT(memcmp(grads + PARAM_LEAD_, again + PARAM_LEAD_, 2 * (size_t)c * 4) == 0);
    CU_ASSERT(memcmp(dx, dx_again, bc.nx * 4) == 0);
    int untouched = 0;
    for (int i = 0; i < PARAM_LEAD_; ++i)
        untouched += isnan(grads[i]) != 0;
    CU_ASSERT_EQUAL(untouched, PARAM_LEAD_);
    int past = 0;
    for (size_t i = nv; i < bc.nx; ++i)
        past += dx[i] != SENTINEL_;
    CU_ASSERT_EQUAL(past, 0);

    int bad = 0, printed = 0, checked = 0, skipped = 0;
    double fd;
    for (int ch = 0; ch < c; ++ch) {
        if (fd_(&bc, &bc.gamma[ch], wd, y, z, k0, k1, &fd)) {
            bad += !grad_ok_(grads[PARAM_LEAD_ + ch], fd, what, "dgamma", (size_t)ch, &printed);
            checked++;
        } else {
            skipped++;
        }
        if (fd_(&bc, &bc.beta[ch], wd, y, z, k0, k1, &fd)) {
            bad += !grad_ok_(grads[PARAM_LEAD_ + c + ch], fd, what, "dbeta", (size_t)ch, &printed);
            checked++;
        } else {
            skipped++;
        }
    }
    for (size_t i = 0; i < nv; ++i) {
        if (fd_(&bc, &bc.xd[i], wd, y, z, k0, k1, &fd)) {
            bad += !grad_ok_(dx[i], fd, what, "dx", i, &printed);
            checked++;
        } else {
            skipped++;
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(skipped * 10 <= checked); /* the check must not skip its way to a pass */
    free(dy);
    free(dx);
    free(grads);
    free(again);
    free(dx_again);
    free(wd);
    free(y);
    free(z);
    free(k0);
    free(k1);
    case_free_(&bc);
}

static void test_backward(void) {
    const int h = 5, w = 7;
    check_backward_(3, h, w, 7, 7, false, 21);
    check_backward_(3, h, w, 7, 4, true, 22);
    check_backward_(2, 1, 9, 2, 1, false, 23);
    check_backward_(10, 1, 1, 7, 7, false, 24); /* flat */
    check_backward_(10, 1, 1, 9, 6, true, 25);
    check_backward_(4, 1, 1, 2, 2, false, 26); /* two samples: xhat = +-1 */
}

/* Without need_dx, backward still writes dgamma and dbeta but leaves dx alone. */
static void test_no_dx(void) {
    bn_case_ bc;
    bool ok = case_init_(&bc, 2, 3, 5, 3, 3, false, 0.9f, 0.0f, false, 31);
    CU_ASSERT_FATAL(ok);
    float *dy = lp_test_floats(bc.nx), *dx = lp_test_floats(bc.nx), *g = lp_test_floats(bc.np);
    for (size_t i = 0; i < bc.nx; ++i) {
        dy[i] = (float)(i % 7) - 3.0f;
        dx[i] = SENTINEL_;
    }
    for (size_t i = 0; i < bc.np; ++i)
        g[i] = NAN;
    LP_TEST_OK(lp_buffer_write(lp_test_rt, bc.r.net->grads, 0, bc.np * 4, g));
    LP_TEST_OK(lp_buffer_write(lp_test_rt, bc.r.in->dout, 0, bc.nx * 4, dx));
    LP_TEST_OK(lp_buffer_write(lp_test_rt, bc.r.l->dout, 0, bc.nx * 4, dy));
    LP_TEST_OK(lp_network_forward(bc.r.net, 3, true));
    LP_TEST_OK(lp_network_backward(bc.r.net, 3));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, bc.r.net->grads, 0, bc.np * 4, g));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, bc.r.in->dout, 0, bc.nx * 4, dx));
    int finite = 0, kept = 0;
    for (int i = 0; i < 4; ++i)
        finite += isfinite(g[PARAM_LEAD_ + i]) != 0;
    for (size_t i = 0; i < bc.nx; ++i)
        kept += dx[i] == SENTINEL_;
    CU_ASSERT_EQUAL(finite, 4);
    CU_ASSERT_EQUAL(kept, (int)bc.nx);
    free(dy);
    free(dx);
    free(g);
    case_free_(&bc);
}

static void expect_invalid_(const lp_layer_spec *spec, int tensors, int count) {
    rig_ r;
    lp_status s = rig_build_(&r, spec, 2, false, tensors, count);
    CU_ASSERT_EQUAL(s, LP_ERR_INTERNAL); /* the parser's guarantees, asserted by the layer */
    if (s != LP_ERR_INTERNAL) printf("\n  expected LP_ERR_INTERNAL, got %d\n", (int)s);
    rig_free_(&r);
}

static void test_invalid(void) {
    lp_layer_spec spec = {.kind = LP_LAYER_BATCHNORM, .line = 2, .name = "bn"};
    spec.in = spec.out = (lp_shape){3, 4, 5};
    spec.u.bn = (lp_batchnorm_spec){.momentum = 0.99f, .eps = 1e-3f};
    expect_invalid_(&spec, 0, 3); /* no gamma and beta */
    expect_invalid_(&spec, 1, 3); /* gamma only */
    expect_invalid_(&spec, 2, 4); /* wrong length */
    spec.u.bn.eps = 0.0f;
    expect_invalid_(&spec, 2, 3);
    spec.u.bn.eps = 1e-3f;
    spec.u.bn.momentum = 1.5f;
    expect_invalid_(&spec, 2, 3);
    spec.u.bn.momentum = 0.99f;
    spec.out = (lp_shape){3, 20, 1};
    expect_invalid_(&spec, 2, 3);
}

/* Through lp_network_create with a hand-made model: the tensor table places gamma and
 * beta, the factory builds the layer, gradients flow to a dense layer below. */
static void test_network_factory(void) {
    lp_layer_spec layers[4] = {
        {.kind = LP_LAYER_INPUT, .line = 1, .name = "input"},
        {.kind = LP_LAYER_DENSE, .line = 5, .name = "dense1"},
        {.kind = LP_LAYER_BATCHNORM, .line = 9, .name = "bn"},
        {.kind = LP_LAYER_DENSE, .line = 13, .name = "dense2"},
    };
    layers[0].in = layers[0].out = (lp_shape){6, 1, 1};
    layers[1].in = layers[0].out;
    layers[1].out = (lp_shape){5, 1, 1};
    layers[1].u.dense = (lp_dense_spec){.units = 5, .use_bias = true};
    layers[2].in = layers[2].out = layers[1].out;
    layers[2].u.bn = (lp_batchnorm_spec){.momentum = 0.9f, .eps = 1e-3f, .activation = LP_ACT_RELU};
    layers[3].in = layers[2].out;
    layers[3].out = (lp_shape){3, 1, 1};
    layers[3].u.dense = (lp_dense_spec){.units = 3, .use_bias = false};
    lp_model_spec model = {.source = "hand-made", .layers = layers, .n_layers = 4};
    lp_network *net = NULL;
    LP_TEST_OK(lp_network_create(lp_test_rt, &model, 4, &net));
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    int nt = 0;
    const lp_param_tensor *t = lp_network_tensors(net, &nt);
    CU_ASSERT_EQUAL_FATAL(nt, 5);
    CU_ASSERT_STRING_EQUAL(t[2].name, "gamma");
    CU_ASSERT_STRING_EQUAL(t[3].name, "beta");
    size_t np = lp_network_param_count(net);
    float *buf = lp_test_floats(np > 24 ? np : 24), *out = lp_test_floats(np > 12 ? np : 12);
    uint64_t rng = 41;
    for (size_t i = 0; i < 24; ++i)
        buf[i] = lp_test_uniform(&rng, -1.0f, 1.0f);
    LP_TEST_OK(lp_buffer_write(lp_test_rt, lp_network_input(net), 0, 24 * 4, buf));
    for (size_t i = 0; i < np; ++i)
        buf[i] = lp_test_uniform(&rng, -1.0f, 1.0f);
    LP_TEST_OK(lp_buffer_write(lp_test_rt, lp_network_params(net), 0, np * 4, buf));
    for (size_t i = 0; i < np; ++i)
        out[i] = NAN;
    LP_TEST_OK(lp_buffer_write(lp_test_rt, lp_network_grads(net), 0, np * 4, out));
    for (size_t i = 0; i < 12; ++i)
        buf[i] = lp_test_uniform(&rng, -1.0f, 1.0f);
    LP_TEST_OK(lp_buffer_write(lp_test_rt, lp_network_dlogits(net), 0, 12 * 4, buf));
    LP_TEST_OK(lp_network_forward(net, 4, true));
    LP_TEST_OK(lp_network_backward(net, 4));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, lp_network_grads(net), 0, np * 4, out));
    int finite = 0;
    for (size_t i = 0; i < np; ++i)
        finite += isfinite(out[i]) != 0;
    CU_ASSERT_EQUAL(finite, (int)np);
    free(buf);
    free(out);
    lp_network_destroy(net);
}

/* ---- a parsed network through every new layer -------------------------------------------- */

/* Model text through lp_model_parse_text and lp_network_create: BatchNorm, max and average
 * pooling, dropout and global average pooling in one chain, so that every layer's dx
 * feeds the one below. Every parameter's gradient is checked against central differences
 * of L = sum(w * logits) from the device's float forward pass. No ReLU, and max pooling
 * sits right after a BatchNorm with gamma > 0, so no step of a parameter changes which
 * value wins a window: the loss is smooth in every parameter. */
static const char *const NET_TEXT_ = "[input]\nchannels = 2\nheight = 7\nwidth = 5\n\n"
                                     "[batchnorm]\nmomentum = 0.9\n\n"
                                     "[maxpool]\nsize = 3x2\nstride = 2\npadding = same\n\n"
                                     "[batchnorm]\n\n"
                                     "[avgpool]\nsize = 2\nstride = 1\n\n"
                                     "[dropout]\nrate = 0.25\n\n"
                                     "[globalavgpool]\n\n"
                                     "[flatten]\n\n"
                                     "[dense]\nunits = 3\nactivation = none\n";

static double net_loss_(lp_network *net, int n, const float *w, float *logits) {
    LP_TEST_OK(lp_network_forward(net, n, true));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, lp_network_logits(net), 0, (size_t)n * 3 * 4, logits));
    double loss = 0.0;
    for (int i = 0; i < n * 3; ++i)
        loss += (double)w[i] * logits[i];
    return loss;
}

static void test_parsed_network(void) {
    lp_model_spec spec;
    lp_status s = lp_model_parse_text(NET_TEXT_, "batchnorm test model", &spec);
    if (s != LP_OK) printf("\n  parsing: %s\n", lp_last_error());
    CU_ASSERT_EQUAL_FATAL(s, LP_OK);
    const int max_batch = 5, n = 4;
    lp_network *net = NULL;
    LP_TEST_OK(lp_network_create(lp_test_rt, &spec, max_batch, &net));
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    int nt = 0;
    const lp_param_tensor *t = lp_network_tensors(net, &nt);
    CU_ASSERT_EQUAL_FATAL(nt, 6); /* gamma, beta twice; kernel, bias */
    size_t np = lp_network_param_count(net), nx = (size_t)max_batch * 70;
    float *p = lp_test_floats(np), *g = lp_test_floats(np), *x = lp_test_floats(nx),
          *w = lp_test_floats(max_batch * 3);
    float *logits = lp_test_floats(max_batch * 3);
    uint64_t rng = 77;
    for (int k = 0; k < nt; ++k)
        for (size_t i = 0; i < t[k].count; ++i) {
            bool gamma = strcmp(t[k].name, "gamma") == 0;
            p[t[k].offset + i] =
                gamma ? lp_test_uniform(&rng, 0.5f, 1.5f) : lp_test_uniform(&rng, -1.0f, 1.0f);
        }
    for (size_t i = 0; i < nx; ++i)
        x[i] = lp_test_uniform(&rng, -1.0f, 1.0f);
    for (int i = 0; i < max_batch * 3; ++i)
        w[i] = lp_test_uniform(&rng, -1.0f, 1.0f);
    for (size_t i = 0; i < np; ++i)
        g[i] = NAN;
    LP_TEST_OK(lp_buffer_write(lp_test_rt, lp_network_input(net), 0, nx * 4, x));
    LP_TEST_OK(lp_buffer_write(lp_test_rt, lp_network_params(net), 0, np * 4, p));
    LP_TEST_OK(lp_buffer_write(lp_test_rt, lp_network_grads(net), 0, np * 4, g));
    LP_TEST_OK(
        lp_buffer_write(lp_test_rt, lp_network_dlogits(net), 0, (size_t)max_batch * 3 * 4, w));
    lp_network_set_rng(net, 0xC0FFEEull, 3, 0);
    net_loss_(net, n, w, logits);
    LP_TEST_OK(lp_network_backward(net, n));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, lp_network_grads(net), 0, np * 4, g));

    const float step = 1e-2f;
    int bad = 0, printed = 0;
    double max_grad = 0.0;
    for (size_t i = 0; i < np; ++i) {
        float keep = p[i], hi = keep + step, lo = keep - step;
        double loss[2];
        for (int side = 0; side < 2; ++side) {
            p[i] = side ? lo : hi;
            LP_TEST_OK(lp_buffer_write(lp_test_rt, lp_network_params(net), 0, np * 4, p));
            loss[side] = net_loss_(net, n, w, logits);
        }
        p[i] = keep;
        double fd = (loss[0] - loss[1]) / ((double)hi - (double)lo);
        double tol = 1e-4 + 5e-3 * fabs(fd);
        if (!(fabs(g[i] - fd) <= tol) && printed++ < 5)
            printf("\n  parsed network: gradient %zu analytic %.7g, finite difference %.7g\n", i,
                   g[i], fd);
        bad += !(fabs(g[i] - fd) <= tol);
        max_grad = fmax(max_grad, fabs(fd));
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(max_grad > 1e-2); /* the gradients must not all be ~0 */
    free(p);
    free(g);
    free(x);
    free(w);
    free(logits);
    lp_network_destroy(net);
    lp_model_free(&spec);
}

/* Each check by value and by plane (lp_test_each_kernel_form). */
static void test_train_forward_each_form(void) {
    lp_test_each_kernel_form(test_train_forward);
}
static void test_running_statistics_each_form(void) {
    lp_test_each_kernel_form(test_running_statistics);
}
static void test_backward_each_form(void) {
    lp_test_each_kernel_form(test_backward);
}

static void register_suites(void) {
    CU_pSuite su = CU_add_suite("batchnorm", NULL, NULL);
    /* First: under Oclgrind 21.10, buffers used by kernels and then released leave stale
     * shadow state behind, and a dense layer built afterwards gets false "uninitialized
     * value" reports on its kernel-only activation buffers (see cltest_gradcheck.c). */
    CU_add_test(su, "built by lp_network_create", test_network_factory);
    CU_add_test(su, "parsed network: gradients vs finite differences", test_parsed_network);
    CU_add_test(su, "training forward vs double reference", test_train_forward_each_form);
    CU_add_test(su, "running statistics and inference", test_running_statistics_each_form);
    CU_add_test(su, "backward vs finite differences", test_backward_each_form);
    CU_add_test(su, "no dx without need_dx", test_no_dx);
    CU_add_test(su, "invalid specs and tensors", test_invalid);
}

int main(void) {
    return lp_cltest_main("cltest_batchnorm", register_suites);
}
