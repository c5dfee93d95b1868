/* [activation]: the layer on its own against plain-C references at an odd spatial shape
 * (forward values, and the input gradient of a random output gradient), identity as a
 * view, and the parameter gradients of networks with the layer inside against central
 * finite differences of the loss. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lp_test_rig.h"

/* The function in double, and its slope written through the output y. */
static double ref_f_(const char *fn, double x) {
    if (!strcmp(fn, "relu")) return x > 0.0 ? x : 0.0;
    if (!strcmp(fn, "tanh")) return tanh(x);
    if (!strcmp(fn, "sigmoid")) return 1.0 / (1.0 + exp(-x));
    return x;
}

static double ref_slope_(const char *fn, double y) {
    if (!strcmp(fn, "relu")) return y > 0.0 ? 1.0 : 0.0;
    if (!strcmp(fn, "tanh")) return 1.0 - y * y;
    if (!strcmp(fn, "sigmoid")) return y * (1.0 - y);
    return 1.0;
}

/* A parsed [input] -> [activation] model: its layer spec is what the rig gets, since the
 * kind keeps its spec private. */
static void parse_(const char *fn, lp_shape in, lp_model_spec *m) {
    char text[256];
    snprintf(text, sizeof text,
             "[input]\nchannels = %d\nheight = %d\nwidth = %d\n\n[activation]\nfunction = %s\n",
             in.c, in.h, in.w, fn);
    LP_TEST_OK(lp_model_parse_text(text, "activation test", m));
}

/* Forward and backward of the layer alone, n samples of a (3, 5, 7) input (odd sizes, a
 * batch below max_batch), against the references above. */
static void check_layer_(const char *fn) {
    const lp_shape in = {3, 5, 7};
    const int n = 3, max_batch = 4;
    size_t count = (size_t)n * lp_shape_size(in);
    lp_model_spec m;
    parse_(fn, in, &m);
    CU_ASSERT_EQUAL_FATAL(m.n_layers, 2);
    lp_test_rig r;
    LP_TEST_OK(lp_test_rig_build(&r, &m.layers[1], max_batch, true, true, NULL, 0, 1));
    LP_TEST_OK(lp_layer_kind_get(LP_LAYER_ACTIVATION)->init(r.net, r.l));
    uint64_t rng = 42;
    float *x = lp_test_floats(count), *dy = lp_test_floats(count), *y = lp_test_floats(count),
          *dx = lp_test_floats(count), *want_y = lp_test_floats(count),
          *want_dx = lp_test_floats(count);
    lp_test_fill_uniform(x, count, &rng, -4.0f, 4.0f);
    lp_test_fill_uniform(dy, count, &rng, -1.0f, 1.0f);
    for (size_t i = 0; i < count; ++i) {
        double v = ref_f_(fn, x[i]);
        want_y[i] = (float)v;
        want_dx[i] = (float)(dy[i] * ref_slope_(fn, v));
    }
    LP_TEST_OK(lp_buffer_write(lp_test_rt, r.in->out, 0, count * 4, x));
    LP_TEST_OK(lp_network_forward(r.net, n, true));
    CU_ASSERT_FATAL(lp_test_download(r.l->out, count * 4, y));
    LP_TEST_OK(lp_buffer_write(lp_test_rt, r.l->dout, 0, count * 4, dy));
    LP_TEST_OK(lp_network_backward(r.net, n));
    CU_ASSERT_FATAL(lp_test_download(r.in->dout, count * 4, dx));
    /* OpenCL allows tanh and exp a few ulp: 1e-5 relative is far above that and far below
     * a wrong formula. */
    char what[64];
    snprintf(what, sizeof what, "%s forward", fn);
    CU_ASSERT(lp_test_close(y, want_y, count, 1e-6f, 1e-5f, what));
    snprintf(what, sizeof what, "%s backward", fn);
    CU_ASSERT(lp_test_close(dx, want_dx, count, 1e-6f, 1e-5f, what));
    free(x), free(dy), free(y), free(dx), free(want_y), free(want_dx);
    lp_test_rig_free(&r);
    lp_model_free(&m);
}

static void test_relu(void) {
    check_layer_("relu");
}
static void test_tanh(void) {
    check_layer_("tanh");
}
static void test_sigmoid(void) {
    check_layer_("sigmoid");
}

/* Identity computes nothing: its buffers are the previous layer's. */
static void test_identity_is_a_view(void) {
    lp_model_spec m;
    parse_("identity", (lp_shape){2, 3, 3}, &m);
    lp_test_rig r;
    LP_TEST_OK(lp_test_rig_build(&r, &m.layers[1], 2, true, true, NULL, 0, 1));
    LP_TEST_OK(lp_layer_kind_get(LP_LAYER_ACTIVATION)->init(r.net, r.l));
    CU_ASSERT(r.l->out == r.in->out);
    CU_ASSERT(r.l->dout == r.in->dout);
    lp_test_rig_free(&r);
    lp_model_free(&m);
}

/* ---- parameter gradients through the layer ----------------------------------------------- */

#define EPS_ 1e-2f
#define ATOL_ 5e-5
#define RTOL_ 5e-3

/* Mean softmax cross-entropy of the network's logits after an inference forward pass. */
static double device_loss_(lp_network *net, int n, const int *labels) {
    int classes = lp_network_classes(net);
    float *logits = lp_test_floats((size_t)n * classes);
    LP_TEST_OK(lp_network_forward(net, n, false));
    CU_ASSERT(lp_test_download(lp_network_logits(net), (size_t)n * classes * 4, logits));
    double sum = 0.0;
    for (int r = 0; r < n; ++r) {
        const float *z = logits + (size_t)r * classes;
        double mx = z[0], e = 0.0;
        for (int c = 1; c < classes; ++c)
            mx = fmax(mx, z[c]);
        for (int c = 0; c < classes; ++c)
            e += exp((double)z[c] - mx);
        sum += mx + log(e) - z[labels[r]];
    }
    free(logits);
    return sum / n;
}

/* dense 6 -> [activation fn] -> dense 4 on a 1x3x5 input: every parameter's analytic
 * gradient against the central difference of the loss. Smooth functions only: a ReLU
 * kink inside the step would make the difference meaningless (the layer test covers it). */
static void check_gradients_(const char *fn) {
    char text[512];
    snprintf(text, sizeof text,
             "[input]\nchannels = 1\nheight = 3\nwidth = 5\n\n[flatten]\n\n"
             "[dense]\nunits = 6\n\n[activation]\nfunction = %s\n\n[dense]\nunits = 4\n",
             fn);
    lp_model_spec m;
    LP_TEST_OK(lp_model_parse_text(text, "activation gradcheck", &m));
    const int n = 5;
    lp_network *net = NULL;
    LP_TEST_OK(lp_network_create(lp_test_rt, &m, n, &net));
    CU_ASSERT_FATAL(net != NULL);
    size_t np = lp_network_param_count(net), nx = (size_t)n * lp_network_input_features(net);
    uint64_t rng = 7;
    float *params = lp_test_floats(np), *x = lp_test_floats(nx), *grads = lp_test_floats(np);
    lp_test_fill_uniform(params, np, &rng, -0.8f, 0.8f);
    lp_test_fill_uniform(x, nx, &rng, -1.0f, 1.0f);
    int labels[5];
    for (int r = 0; r < n; ++r)
        labels[r] = (int)(lp_test_next(&rng) % 4);
    float zero[2] = {0.0f, 0.0f}; /* the loss kernel adds into its two statistics */
    cl_mem dl = lp_test_upload(labels, sizeof labels), ds = lp_test_upload(zero, sizeof zero);
    CU_ASSERT_FATAL(dl && ds);
    LP_TEST_OK(lp_buffer_write(lp_test_rt, lp_network_input(net), 0, nx * 4, x));
    LP_TEST_OK(lp_buffer_write(lp_test_rt, lp_network_params(net), 0, np * 4, params));
    lp_test_network_grads(net, n, dl, ds, grads);
    int bad = 0;
    double max_grad = 0.0;
    for (size_t i = 0; i < np; ++i) {
        /* Whole-buffer writes: after a partial one, Oclgrind 21.10 reads the rest of the
         * buffer as uninitialised (see cltest_gradcheck.c, set_param_). */
        float keep = params[i], hi = keep + EPS_, lo = keep - EPS_;
        params[i] = hi;
        LP_TEST_OK(lp_buffer_write(lp_test_rt, lp_network_params(net), 0, np * 4, params));
        double up = device_loss_(net, n, labels);
        params[i] = lo;
        LP_TEST_OK(lp_buffer_write(lp_test_rt, lp_network_params(net), 0, np * 4, params));
        double down = device_loss_(net, n, labels);
        params[i] = keep;
        double fd = (up - down) / ((double)hi - (double)lo);
        double tol = ATOL_ + RTOL_ * fmax(fabs(grads[i]), fabs(fd));
        if (fabs(grads[i] - fd) > tol && bad++ < 5)
            printf("\n  %s: parameter %zu analytic %.7g, finite difference %.7g\n", fn, i,
                   (double)grads[i], fd);
        max_grad = fmax(max_grad, fabs(fd));
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(max_grad > 1e-2); /* the gradients must not all be ~0 */
    free(params), free(x), free(grads);
    lp_test_release_buffer(&dl);
    lp_test_release_buffer(&ds);
    lp_test_release_network(&net, &m);
}

static void test_gradients_tanh(void) {
    check_gradients_("tanh");
}
static void test_gradients_sigmoid(void) {
    check_gradients_("sigmoid");
}
static void test_gradients_identity(void) {
    check_gradients_("identity");
}

static void register_suites(void) {
    CU_pSuite su = CU_add_suite("activation", NULL, lp_test_release_kept);
    /* Networks first: under Oclgrind 21.10 a network built after others were released
     * gets false "uninitialized value" reports (see cltest_gradcheck.c); these keep
     * theirs until the suite ends, the layer rigs below release theirs at once. */
    CU_add_test(su, "gradients through tanh vs finite differences", test_gradients_tanh);
    CU_add_test(su, "gradients through sigmoid vs finite differences", test_gradients_sigmoid);
    CU_add_test(su, "gradients through identity vs finite differences", test_gradients_identity);
    CU_add_test(su, "relu forward/backward vs plain C, 3x5x7", test_relu);
    CU_add_test(su, "tanh forward/backward vs plain C, 3x5x7", test_tanh);
    CU_add_test(su, "sigmoid forward/backward vs plain C, 3x5x7", test_sigmoid);
    CU_add_test(su, "identity is a view of the previous layer", test_identity_is_a_view);
}

int main(void) {
    return lp_cltest_main("cltest_activation", register_suites);
}
