/* Dropout: the device mask equals the host's Philox4x32-10 bit for bit (counter =
 * (g / 32 * 8 + g mod 8, step, 0x44000000 + layer index, 0), word g mod 32 / 8, where
 * g = first_row x features + the value's index in the buffer; key = seed), up to the
 * 2^34 limit on g, which is refused past it; rows a .. a + n - 1 run with first_row = a
 * give those rows of the whole batch's pass bit for bit, forward and backward; the mask
 * repeats for the same (seed, step), changes with either and with the layer, keeps about
 * 1 - rate of a large buffer, scales kept values by 1 / (1 - rate); backward applies the
 * forward pass's stored mask; inference and rate 0 are the identity. */
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

/* y[i] is x[i] * scale or 0, exactly as the host's Philox says for global index
 * first_row x features + i. */
static void check_mask_(lp_shape shape, int max_batch, int n, long long first_row, float rate,
                        long long step, int index, uint64_t data_seed) {
    rig_ r;
    rig_ok_(&r, shape, rate, max_batch, index);
    size_t feat = lp_shape_size(shape), nv = (size_t)n * feat;
    float *x = lp_test_floats(rig_nx_(&r)), *y = lp_test_floats(nv), *want = lp_test_floats(nv);
    fill_(x, rig_nx_(&r), data_seed);
    const float scale = 1.0f / (1.0f - rate);
    size_t kept = 0;
    uint64_t base = (uint64_t)first_row * feat;
    for (size_t i = 0; i < nv; ++i) {
        bool keep = lp_ref_dropout_keep(SEED_, step, index, base + i, rate);
        want[i] = keep ? x[i] * scale : 0.0f;
        kept += keep;
    }
    lp_network_set_rng(r.net, SEED_, step, first_row);
    forward_(&r, x, n, true, y);
    size_t d = differ_(y, want, nv);
    if (d)
        printf("\n  %zu of %zu values differ from the host mask (rate %g, first row %lld)\n", d, nv,
               (double)rate, first_row);
    CU_ASSERT_EQUAL(d, 0);
    CU_ASSERT(kept > 0 && kept < nv); /* the check saw both outcomes */
    free(x);
    free(y);
    free(want);
    rig_free_(&r);
}

/* A spatial shape, a partial batch, a flat shape; then rows of a global batch from a block
 * boundary (50 x 16 = 25 x 32), from inside a block (105 x 3 = 9 x 32 + 27; 7 x 9 = 63,
 * the seven values in two blocks) and at the counter's end (32 x (2^29 - 2) + 64 = 2^34
 * with the last counter 2^32 - 1; 33 x 520602093 + 99 = 2^34 - 16). */
static void test_mask_matches_host(void) {
    check_mask_((lp_shape){3, 5, 7}, 7, 7, 0, 0.3f, 12345, 4, 1);
    check_mask_((lp_shape){3, 5, 7}, 7, 2, 0, 0.5f, 7, 1, 2);
    check_mask_((lp_shape){50, 1, 1}, 6, 5, 0, 0.1f, 0, 9, 3);
    check_mask_((lp_shape){50, 1, 1}, 4, 4, 0, 0.9f, 99999999, 2, 4);
    check_mask_((lp_shape){50, 1, 1}, 3, 3, 16, 0.4f, 5, 3, 5);
    check_mask_((lp_shape){3, 5, 7}, 5, 4, 3, 0.3f, 6, 4, 6);
    check_mask_((lp_shape){7, 1, 1}, 1, 1, 9, 0.5f, 17, 1, 7);
    check_mask_((lp_shape){32, 1, 1}, 2, 2, (1LL << 29) - 2, 0.5f, 1, 2, 8);
    check_mask_((lp_shape){33, 1, 1}, 3, 3, 520602093, 0.5f, 2, 2, 9);
}

/* Rows a .. a + n - 1 of a batch of `batch` rows, run alone with first_row = a (what one
 * process of a data-parallel job computes), give those rows of the whole batch's output
 * and input gradient bit for bit. */
static void check_rows_(int features, int batch, int a, int n) {
    const float rate = 0.45f;
    const long long step = 31;
    rig_ whole, part;
    rig_ok_(&whole, (lp_shape){features, 1, 1}, rate, batch, 3);
    rig_ok_(&part, (lp_shape){features, 1, 1}, rate, n, 3);
    size_t nw = rig_nx_(&whole), at = (size_t)a * features, np = (size_t)n * features;
    float *x = lp_test_floats(nw), *dy = lp_test_floats(nw), *y = lp_test_floats(nw),
          *dx = lp_test_floats(nw), *py = lp_test_floats(np), *pdx = lp_test_floats(np);
    fill_(x, nw, (uint64_t)features * 1000 + (uint64_t)a);
    fill_(dy, nw, (uint64_t)features * 1000 + (uint64_t)a + 1);
    lp_network_set_rng(whole.net, SEED_, step, 0);
    forward_(&whole, x, batch, true, y);
    LP_TEST_OK(lp_buffer_write(lp_test_rt, whole.l->dout, 0, nw * 4, dy));
    LP_TEST_OK(lp_network_backward(whole.net, batch));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, whole.in->dout, 0, nw * 4, dx));
    lp_network_set_rng(part.net, SEED_, step, a);
    forward_(&part, x + at, n, true, py);
    LP_TEST_OK(lp_buffer_write(lp_test_rt, part.l->dout, 0, np * 4, dy + at));
    LP_TEST_OK(lp_network_backward(part.net, n));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, part.in->dout, 0, np * 4, pdx));
    size_t dyy = differ_(py, y + at, np), ddx = differ_(pdx, dx + at, np);
    if (dyy || ddx)
        printf("\n  rows %d .. %d of %d x %d: %zu outputs and %zu gradients of %zu differ\n", a,
               a + n - 1, batch, features, dyy, ddx, np);
    CU_ASSERT_EQUAL(dyy, 0);
    CU_ASSERT_EQUAL(ddx, 0);
    size_t zeros = 0;
    for (size_t i = 0; i < np; ++i)
        zeros += py[i] == 0.0f;
    CU_ASSERT(zeros > 0 && zeros < np); /* the rows saw both outcomes */
    free(x);
    free(dy);
    free(y);
    free(dx);
    free(py);
    free(pdx);
    rig_free_(&whole);
    rig_free_(&part);
}

/* Odd feature counts; starts on a 32-value block (33 x 32, 1 x 64) and inside one
 * (33 x 5 = 165, 105 x 3 = 315, 7 x 9 = 63); a part inside one block (3 x 2 .. 3 x 4 - 1),
 * across two partial ones (5 x 6 .. 5 x 9 - 1), ending the batch (7 x 40). */
static void test_rows_match_whole_batch(void) {
    check_rows_(33, 70, 32, 7);
    check_rows_(33, 70, 5, 13);
    check_rows_(105, 9, 3, 5);
    check_rows_(1, 97, 64, 33);
    check_rows_(7, 40, 9, 31);
    check_rows_(3, 10, 2, 2);
    check_rows_(5, 20, 6, 3);
}

/* A training pass whose global indices would pass 2^34, or with a negative first row, is
 * refused naming the layer and the limit; inference draws nothing and runs. */
static void test_row_limit(void) {
    rig_ r;
    rig_ok_(&r, (lp_shape){32, 1, 1}, 0.5f, 2, 1);
    size_t nv = rig_nx_(&r);
    float *x = lp_test_floats(nv), *y = lp_test_floats(nv);
    fill_(x, nv, 12);
    LP_TEST_OK(lp_buffer_write(lp_test_rt, r.in->out, 0, nv * 4, x));
    const long long bad[] = {(1LL << 29) - 1, 1LL << 40, -1};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; ++i) {
        lp_network_set_rng(r.net, SEED_, 1, bad[i]);
        lp_status s = lp_network_forward(r.net, 2, true);
        CU_ASSERT_EQUAL(s, LP_ERR_INVALID_ARG);
        CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "layer 'dropout'"));
        CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "2^34"));
    }
    /* one row fewer fits */
    lp_network_set_rng(r.net, SEED_, 1, (1LL << 29) - 1);
    LP_TEST_OK(lp_network_forward(r.net, 1, true));
    lp_network_set_rng(r.net, SEED_, 1, 1LL << 40);
    forward_(&r, x, 2, false, y);
    CU_ASSERT_EQUAL(differ_(x, y, nv), 0);
    free(x);
    free(y);
    rig_free_(&r);
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
    lp_network_set_rng(r.net, SEED_, 100, 0);
    forward_(&r, x, n, true, a);
    forward_(&r, x, n, true, b);
    CU_ASSERT_EQUAL(differ_(a, b, nv), 0);
    lp_network_set_rng(r.net, SEED_, 100 + (1LL << 32), 0);
    forward_(&r, x, n, true, b);
    CU_ASSERT_EQUAL(differ_(a, b, nv), 0);
    /* Two independent masks at rate 0.5 disagree on about half the values. */
    lp_network_set_rng(r.net, SEED_, 101, 0);
    forward_(&r, x, n, true, b);
    CU_ASSERT(differ_(a, b, nv) > nv / 4);
    lp_network_set_rng(r.net, SEED_ + 1, 100, 0);
    forward_(&r, x, n, true, b);
    CU_ASSERT(differ_(a, b, nv) > nv / 4);
    lp_network_set_rng(r.net, SEED_ ^ (1ull << 40), 100, 0); /* the high key word counts */
    forward_(&r, x, n, true, b);
    CU_ASSERT(differ_(a, b, nv) > nv / 4);
    lp_network_set_rng(other.net, SEED_, 100, 0);
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
    lp_network_set_rng(r.net, 20240601, 3, 0);
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
    lp_network_set_rng(r.net, SEED_, 55, 0);
    forward_(&r, x, n, true, y);
    lp_network_set_rng(r.net, SEED_ + 17, 56, 0); /* the next step's seed: must not matter */
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
        lp_network_set_rng(r.net, SEED_, 1, 0);
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
 * to the dense output read back, with first row 0 and 5 (global indices from 40, inside the
 * second 32-value block), and backward runs. */
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
    for (int first_row = 0; first_row <= 5; first_row += 5) {
        lp_network_set_rng(net, SEED_, 42, first_row);
        LP_TEST_OK(lp_network_forward(net, 5, true));
        LP_TEST_OK(lp_buffer_read(lp_test_rt, net->layers[1].out, 0, 40 * 4, h));
        LP_TEST_OK(lp_buffer_read(lp_test_rt, net->layers[2].out, 0, 40 * 4, d));
        size_t bad = 0;
        for (size_t i = 0; i < 40; ++i) {
            uint64_t g = (uint64_t)first_row * 8 + i;
            float want = lp_ref_dropout_keep(SEED_, 42, 2, g, 0.5f) ? h[i] * 2.0f : 0.0f;
            bad += memcmp(&want, &d[i], 4) != 0;
        }
        CU_ASSERT_EQUAL(bad, 0);
    }
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
    CU_add_test(su, "rows from first_row equal the whole batch's", test_rows_match_whole_batch);
    CU_add_test(su, "global indices past 2^34 refused", test_row_limit);
    CU_add_test(su, "same seed and step, same mask", test_determinism);
    CU_add_test(su, "kept fraction and scale", test_kept_fraction);
    CU_add_test(su, "backward applies the forward mask", test_backward_same_mask);
    CU_add_test(su, "inference and rate 0 are the identity", test_identity);
    CU_add_test(su, "invalid rates and shapes", test_invalid);
}

int main(void) {
    return lp_cltest_main("cltest_dropout", register_suites);
}
