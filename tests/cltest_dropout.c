/* Dropout: the device mask equals the host's Philox4x32-10 bit for bit (counter =
 * (element / 32 * 8 + element mod 8, step, 0x44000000 + layer index, 0), word
 * element mod 32 / 8; key = seed), repeats for the same (seed, step),
 * changes with either and with the layer, keeps about 1 - rate of a large buffer, scales
 * kept values by 1 / (1 - rate); backward applies the forward pass's stored mask; inference and
 * rate 0 are the identity. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/rng.h"
#include "layer.h"
#include "lp_test.h"
#include "lp_test_rig.h"
#include "reference.h"

#define SENTINEL_ 12345.5f
#define SEED_ 0x9E3779B97F4A7C15ull /* both key words nonzero */

/* ---- the layer under test in a hand-built network (tests/support/lp_test_rig.h) ---- */

typedef lp_test_rig rig_;
#define rig_free_ lp_test_rig_free

/* Values in the batch buffers: max_batch * features. */
static size_t rig_nx_(const rig_ *r) {
    return (size_t)r->net->max_batch * r->in->out_features;
}

/* [input] -> [dropout] at position `index` (the Philox stream). */
static lp_status rig_build_(rig_ *r, lp_shape in, lp_shape out, float rate, int max_batch,
                            int index, bool need_dx) {
    lp_layer_spec spec = {.kind = LP_LAYER_DROPOUT, .line = 4, .name = "dropout"};
    spec.in = in;
    spec.out = out;
    spec.u.dropout.rate = rate;
    LP_TRY(lp_test_rig_build(r, &spec, max_batch, need_dx, true, NULL, 0, 1));
    r->l->index = index;
    return lp_layer_kind_get(r->l->spec->kind)->init(r->net, r->l);
}

static void rig_ok_(rig_ *r, lp_shape shape, float rate, int max_batch, int index) {
    lp_status s = rig_build_(r, shape, shape, rate, max_batch, index, true);
    if (s != LP_OK) printf("\n  building the dropout layer: %s\n", lp_last_error());
    CU_ASSERT_EQUAL_FATAL(s, LP_OK);
}

/* Uploads x (whole buffer), runs forward for n samples, reads y (n samples). */
static void forward_(rig_ *r, const float *x, int n, bool training, float *y) {
    LP_TEST_OK(lp_buffer_write(lp_test_rt, r->in->out, 0, rig_nx_(r) * 4, x));
    LP_TEST_OK(lp_network_forward(r->net, n, training));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, r->l->out, 0, (size_t)n * r->l->out_features * 4, y));
}

static void fill_(float *x, size_t n, uint64_t seed) {
    uint64_t rng = seed;
    for (size_t i = 0; i < n; ++i)
        x[i] = lp_test_uniform(&rng, -2.0f, 2.0f);
}

/* Number of positions where a and b differ bitwise. */
static size_t differ_(const float *a, const float *b, size_t n) {
    size_t d = 0;
    for (size_t i = 0; i < n; ++i)
        d += memcmp(&a[i], &b[i], sizeof *a) != 0;
    return d;
}

/* ---- tests --------------------------------------------------------------------------------- */

/* y[i] is x[i] * scale or 0, exactly as the host's Philox says, for a spatial shape, a
 * partial batch, and a flat shape. */
static void check_mask_(lp_shape shape, int max_batch, int n, float rate, long long step, int index,
                        uint64_t data_seed) {
    rig_ r;
    rig_ok_(&r, shape, rate, max_batch, index);
    size_t feat = lp_shape_size(shape), nv = (size_t)n * feat;
    float *x = lp_test_floats(rig_nx_(&r)), *y = lp_test_floats(nv), *want = lp_test_floats(nv);
    fill_(x, rig_nx_(&r), data_seed);
    const float scale = 1.0f / (1.0f - rate);
    size_t kept = 0;
    for (size_t i = 0; i < nv; ++i) {
        bool keep = lp_ref_dropout_keep(SEED_, step, index, i, rate);
        want[i] = keep ? x[i] * scale : 0.0f;
        kept += keep;
    }
    lp_network_set_rng(r.net, SEED_, step);
    forward_(&r, x, n, true, y);
    size_t d = differ_(y, want, nv);
    if (d)
        printf("\n  %zu of %zu values differ from the host mask (rate %g)\n", d, nv, (double)rate);
    CU_ASSERT_EQUAL(d, 0);
    CU_ASSERT(kept > 0 && kept < nv); /* the check saw both outcomes */
    free(x);
    free(y);
    free(want);
    rig_free_(&r);
}

static void test_mask_matches_host(void) {
    check_mask_((lp_shape){3, 5, 7}, 7, 7, 0.3f, 12345, 4, 1);
    check_mask_((lp_shape){3, 5, 7}, 7, 2, 0.5f, 7, 1, 2);
    check_mask_((lp_shape){50, 1, 1}, 6, 5, 0.1f, 0, 9, 3);
    check_mask_((lp_shape){50, 1, 1}, 4, 4, 0.9f, 99999999, 2, 4);
}

/* Same (seed, step) -> same bits; another step, seed or layer -> another mask; only the
 * low 32 bits of the step count. */
static void test_determinism(void) {
    lp_shape shape = {4, 6, 5};
    const int n = 5;
    rig_ r, other;
    rig_ok_(&r, shape, 0.5f, n, 3);
    rig_ok_(&other, shape, 0.5f, n, 4);
    size_t nv = rig_nx_(&r);
    float *x = lp_test_floats(nv), *a = lp_test_floats(nv), *b = lp_test_floats(nv);
    fill_(x, nv, 5);
    lp_network_set_rng(r.net, SEED_, 100);
    forward_(&r, x, n, true, a);
    forward_(&r, x, n, true, b);
    CU_ASSERT_EQUAL(differ_(a, b, nv), 0);
    lp_network_set_rng(r.net, SEED_, 100 + (1LL << 32));
    forward_(&r, x, n, true, b);
    CU_ASSERT_EQUAL(differ_(a, b, nv), 0);
    /* Two independent masks at rate 0.5 disagree on about half the values. */
    lp_network_set_rng(r.net, SEED_, 101);
    forward_(&r, x, n, true, b);
    CU_ASSERT(differ_(a, b, nv) > nv / 4);
    lp_network_set_rng(r.net, SEED_ + 1, 100);
    forward_(&r, x, n, true, b);
    CU_ASSERT(differ_(a, b, nv) > nv / 4);
    lp_network_set_rng(r.net, SEED_ ^ (1ull << 40), 100); /* the high key word counts */
    forward_(&r, x, n, true, b);
    CU_ASSERT(differ_(a, b, nv) > nv / 4);
    lp_network_set_rng(other.net, SEED_, 100);
    forward_(&other, x, n, true, b);
    CU_ASSERT(differ_(a, b, nv) > nv / 4);
    free(x);
    free(a);
    free(b);
    rig_free_(&r);
    rig_free_(&other);
}

/* On a large buffer of ones: every value is 0 or exactly 1 / (1 - rate), and the kept
 * fraction is 1 - rate within 5 standard deviations. */
static void check_fraction_(float rate, int features, int batch) {
    rig_ r;
    rig_ok_(&r, (lp_shape){features, 1, 1}, rate, batch, 7);
    size_t nv = rig_nx_(&r);
    float *x = lp_test_floats(nv), *y = lp_test_floats(nv);
    for (size_t i = 0; i < nv; ++i)
        x[i] = 1.0f;
    lp_network_set_rng(r.net, 20240601, 3);
    forward_(&r, x, batch, true, y);
    const float scale = 1.0f / (1.0f - rate);
    size_t kept = 0, other = 0;
    for (size_t i = 0; i < nv; ++i) {
        if (y[i] == scale)
            kept++;
        else if (y[i] != 0.0f)
            other++;
    }
    double p = 1.0 - rate, frac = (double)kept / (double)nv;
    double sigma = sqrt(p * (1.0 - p) / (double)nv);
    printf("\n  rate %.2f: kept %.5f of %zu (expected %.2f +- %.5f) ", (double)rate, frac, nv, p,
           5 * sigma);
    CU_ASSERT_EQUAL(other, 0);
    CU_ASSERT(fabs(frac - p) <= 5.0 * sigma);
    free(x);
    free(y);
    rig_free_(&r);
}

static void test_kept_fraction(void) {
    bool sim = lp_test_simulator();
    int features = sim ? 1024 : 4096, batch = sim ? 8 : 256; /* 8 Ki or 1 Mi values */
    check_fraction_(0.1f, features, batch);
    check_fraction_(0.5f, features, batch);
    check_fraction_(0.8f, features, batch);
}

/* dx = dy * scale where the forward pass kept the value, else 0, even when the rng
 * moved on between forward and backward (the stored mask); rows past n stay untouched.
 * n * 105 values: whole quads for n = 4, a partial last quad for n = 3. */
static void check_backward_(int n) {
    lp_shape shape = {3, 5, 7};
    const int max_batch = 6;
    const float rate = 0.35f;
    rig_ r;
    rig_ok_(&r, shape, rate, max_batch, 2);
    size_t feat = lp_shape_size(shape), nv = (size_t)n * feat;
    float *x = lp_test_floats(rig_nx_(&r)), *y = lp_test_floats(nv),
          *dy = lp_test_floats(rig_nx_(&r)), *dx = lp_test_floats(rig_nx_(&r));
    float *want = lp_test_floats(nv);
    fill_(x, rig_nx_(&r), 8);
    fill_(dy, rig_nx_(&r), 9);
    for (size_t i = 0; i < rig_nx_(&r); ++i)
        dx[i] = SENTINEL_;
    LP_TEST_OK(lp_buffer_write(lp_test_rt, r.in->dout, 0, rig_nx_(&r) * 4, dx));
    LP_TEST_OK(lp_buffer_write(lp_test_rt, r.l->dout, 0, rig_nx_(&r) * 4, dy));
    lp_network_set_rng(r.net, SEED_, 55);
    forward_(&r, x, n, true, y);
    lp_network_set_rng(r.net, SEED_ + 17, 56); /* the next step's seed: must not matter */
    LP_TEST_OK(lp_network_backward(r.net, n));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, r.in->dout, 0, rig_nx_(&r) * 4, dx));
    const float scale = 1.0f / (1.0f - rate);
    for (size_t i = 0; i < nv; ++i)
        want[i] = lp_ref_dropout_keep(SEED_, 55, 2, i, rate) ? dy[i] * scale : 0.0f;
    CU_ASSERT_EQUAL(differ_(dx, want, nv), 0);
    /* The same mask as forward: zero exactly where y is zero (x is never 0 here). */
    size_t mismatch = 0;
    for (size_t i = 0; i < nv; ++i)
        mismatch += (y[i] == 0.0f) != (dx[i] == 0.0f);
    CU_ASSERT_EQUAL(mismatch, 0);
    size_t touched = 0;
    for (size_t i = nv; i < rig_nx_(&r); ++i)
        touched += dx[i] != SENTINEL_;
    CU_ASSERT_EQUAL(touched, 0);
    free(x);
    free(y);
    free(dy);
    free(dx);
    free(want);
    rig_free_(&r);
}

static void test_backward_same_mask(void) {
    check_backward_(4);
    check_backward_(3);
}

/* Inference copies x (and backward after it copies dy); rate 0 is the identity in
 * training too. */
static void test_identity(void) {
    lp_shape shape = {2, 3, 5};
    const int n = 3;
    for (int zero_rate = 0; zero_rate < 2; ++zero_rate) {
        rig_ r;
        rig_ok_(&r, shape, zero_rate ? 0.0f : 0.6f, n, 1);
        float *x = lp_test_floats(rig_nx_(&r)), *y = lp_test_floats(rig_nx_(&r)),
              *dy = lp_test_floats(rig_nx_(&r)), *dx = lp_test_floats(rig_nx_(&r));
        fill_(x, rig_nx_(&r), 10);
        fill_(dy, rig_nx_(&r), 11);
        LP_TEST_OK(lp_buffer_write(lp_test_rt, r.l->dout, 0, rig_nx_(&r) * 4, dy));
        lp_network_set_rng(r.net, SEED_, 1);
        forward_(&r, x, n, zero_rate != 0, y);
        CU_ASSERT_EQUAL(differ_(y, x, rig_nx_(&r)), 0);
        LP_TEST_OK(lp_network_backward(r.net, n));
        LP_TEST_OK(lp_buffer_read(lp_test_rt, r.in->dout, 0, rig_nx_(&r) * 4, dx));
        CU_ASSERT_EQUAL(differ_(dx, dy, rig_nx_(&r)), 0);
        free(x);
        free(y);
        free(dy);
        free(dx);
        rig_free_(&r);
    }
}

static void expect_invalid_(lp_shape in, lp_shape out, float rate) {
    rig_ r;
    lp_status s = rig_build_(&r, in, out, rate, 2, 1, false);
    CU_ASSERT_EQUAL(s, LP_ERR_INTERNAL); /* the parser's guarantees, asserted by the layer */
    if (s != LP_ERR_INTERNAL) printf("\n  expected LP_ERR_INTERNAL, got %d\n", (int)s);
    rig_free_(&r);
}

static void test_invalid(void) {
    lp_shape s = {2, 3, 5};
    expect_invalid_(s, s, 1.0f);
    expect_invalid_(s, s, -0.1f);
    expect_invalid_(s, s, NAN);
    expect_invalid_(s, (lp_shape){2, 3, 4}, 0.5f);
}

/* Through lp_network_create with a hand-made model: [input 6] -> [dense 8 relu] ->
 * [dropout 0.5] -> [dense 3]; the dropout output is checked against the host mask applied
 * to the dense output read back, and backward runs. */
static void test_network_factory(void) {
    lp_layer_spec layers[4] = {
        {.kind = LP_LAYER_INPUT, .line = 1, .name = "input"},
        {.kind = LP_LAYER_DENSE, .line = 5, .name = "dense1"},
        {.kind = LP_LAYER_DROPOUT, .line = 9, .name = "dropout"},
        {.kind = LP_LAYER_DENSE, .line = 12, .name = "dense2"},
    };
    layers[0].in = layers[0].out = (lp_shape){6, 1, 1};
    layers[1].in = layers[0].out;
    layers[1].out = (lp_shape){8, 1, 1};
    layers[1].u.dense = (lp_dense_spec){.units = 8, .use_bias = true, .activation = LP_ACT_RELU};
    layers[2].in = layers[2].out = layers[1].out;
    layers[2].u.dropout.rate = 0.5f;
    layers[3].in = layers[2].out;
    layers[3].out = (lp_shape){3, 1, 1};
    layers[3].u.dense = (lp_dense_spec){.units = 3, .use_bias = true};
    lp_model_spec model = {.source = "hand-made", .layers = layers, .n_layers = 4};
    lp_network *net = NULL;
    LP_TEST_OK(lp_network_create(lp_test_rt, &model, 5, &net));
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    size_t np = lp_network_param_count(net);
    float *buf = lp_test_floats(np > 40 ? np : 40), *h = lp_test_floats(40),
          *d = lp_test_floats(40);
    uint64_t rng = 12;
    for (size_t i = 0; i < 30; ++i)
        buf[i] = lp_test_uniform(&rng, -1.0f, 1.0f);
    LP_TEST_OK(lp_buffer_write(lp_test_rt, lp_network_input(net), 0, 30 * 4, buf));
    for (size_t i = 0; i < np; ++i)
        buf[i] = lp_test_uniform(&rng, -1.0f, 1.0f);
    LP_TEST_OK(lp_buffer_write(lp_test_rt, lp_network_params(net), 0, np * 4, buf));
    for (size_t i = 0; i < 15; ++i)
        buf[i] = lp_test_uniform(&rng, -1.0f, 1.0f);
    LP_TEST_OK(lp_buffer_write(lp_test_rt, lp_network_dlogits(net), 0, 15 * 4, buf));
    lp_network_set_rng(net, SEED_, 42);
    LP_TEST_OK(lp_network_forward(net, 5, true));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, net->layers[1].out, 0, 40 * 4, h));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, net->layers[2].out, 0, 40 * 4, d));
    size_t bad = 0;
    for (size_t i = 0; i < 40; ++i) {
        float want = lp_ref_dropout_keep(SEED_, 42, 2, i, 0.5f) ? h[i] * 2.0f : 0.0f;
        bad += memcmp(&want, &d[i], 4) != 0;
    }
    CU_ASSERT_EQUAL(bad, 0);
    LP_TEST_OK(lp_network_backward(net, 5));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, lp_network_grads(net), 0, np * 4, buf));
    size_t finite = 0;
    for (size_t i = 0; i < np; ++i)
        finite += isfinite(buf[i]) != 0;
    CU_ASSERT_EQUAL(finite, np);
    free(buf);
    free(h);
    free(d);
    lp_network_destroy(net);
}

static void register_suites(void) {
    CU_pSuite su = CU_add_suite("dropout", NULL, NULL);
    /* First: under Oclgrind 21.10, buffers used by kernels and then released leave stale
     * shadow state behind, and a dense layer built afterwards gets false "uninitialized
     * value" reports on its kernel-only activation buffers (see cltest_gradcheck.c). */
    CU_add_test(su, "built by lp_network_create", test_network_factory);
    CU_add_test(su, "mask equals the host's Philox", test_mask_matches_host);
    CU_add_test(su, "same seed and step, same mask", test_determinism);
    CU_add_test(su, "kept fraction and scale", test_kept_fraction);
    CU_add_test(su, "backward applies the forward mask", test_backward_same_mask);
    CU_add_test(su, "inference and rate 0 are the identity", test_identity);
    CU_add_test(su, "invalid rates and shapes", test_invalid);
}

int main(void) {
    return lp_cltest_main("cltest_dropout", register_suites);
}
