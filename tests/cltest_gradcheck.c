/* Backward passes against central finite differences: the softmax cross-entropy and MSE
 * gradients on their own, then every parameter gradient of small networks built from model text,
 * with the loss (mean cross-entropy over a batch) computed from logits read back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/network.h"
#include "laperm/ops.h"
#include "lp_test.h"

/* float32 central differences: a step of 1e-2 keeps rounding noise in the loss (~1e-7)
 * far below the signal. Seen on PoCL: at most 7e-6 absolute, 8e-4 relative, so these
 * margins still catch a gradient that is 1% off. */
#define EPS_ 1e-2f
#define ATOL_ 5e-5
#define RTOL_ 5e-3

/* True when analytic `a` and numeric `fd` agree; prints the first few disagreements. */
static bool grad_close_(double a, double fd, const char *what, int index, int *printed) {
    double tol = ATOL_ + RTOL_ * fmax(fabs(a), fabs(fd));
    bool ok = fabs(a - fd) <= tol;
    if (!ok && (*printed)++ < 5)
        printf("\n  %s[%d]: analytic %.7g, finite difference %.7g (tol %.2g)\n", what, index, a, fd,
               tol);
    return ok;
}

/* Mean softmax cross-entropy of (n, classes) logits, in double. */
static double mean_xent_(const float *logits, const int *labels, int n, int classes) {
    double sum = 0.0;
    for (int r = 0; r < n; ++r) {
        const float *x = logits + (size_t)r * classes;
        double m = x[0], z = 0.0;
        for (int c = 1; c < classes; ++c)
            m = fmax(m, x[c]);
        for (int c = 0; c < classes; ++c)
            z += exp((double)x[c] - m);
        sum += m + log(z) - x[labels[r]];
    }
    return sum / n;
}

/* ---- the loss gradients alone -------------------------------------------------------------- */

/* A loss launch (laperm/ops.h): softmax cross-entropy or MSE. */
typedef lp_status (*loss_op_)(lp_runtime *rt, cl_mem x, cl_mem y, int rows, int width,
                              float grad_scale, cl_mem dx, cl_mem stats, int stats_off);

/* Device loss (stats[0] after one launch) at `x`, scaled like the gradient. */
static double device_loss_(loss_op_ op, cl_mem dx, cl_mem dl, cl_mem ds, const float *x, int rows,
                           int width, float scale) {
    float stats[2] = {0.0f, 0.0f};
    LP_TEST_OK(lp_buffer_write(lp_test_rt, dx, 0, (size_t)rows * width * 4, x));
    LP_TEST_OK(lp_buffer_write(lp_test_rt, ds, 0, sizeof stats, stats));
    LP_TEST_OK(op(lp_test_rt, dx, dl, rows, width, 0.0f, NULL, ds, 0));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, ds, 0, sizeof stats, stats));
    return (double)stats[0] * scale;
}

/* The gradient `op` writes for random (rows, width) inputs in [-spread, spread] against
 * central differences of its loss; y (y_bytes) is what it compares them with (int labels
 * or float targets). */
static void check_loss_grad_(loss_op_ op, const char *name, int rows, int width, const void *y,
                             size_t y_bytes, float spread, float scale, uint64_t seed) {
    uint64_t rng = seed;
    size_t n = (size_t)rows * width;
    float *x = malloc(n * sizeof *x), *d = malloc(n * sizeof *d);
    CU_ASSERT_FATAL(x && d);
    for (size_t i = 0; i < n; ++i)
        x[i] = lp_test_uniform(&rng, -spread, spread);
    cl_mem dx, dl, dd, ds;
    CU_ASSERT_EQUAL_FATAL(lp_buffer_create(lp_test_rt, n * 4, "inputs", &dx), LP_OK);
    CU_ASSERT_EQUAL_FATAL(lp_buffer_create(lp_test_rt, y_bytes, "labels or targets", &dl), LP_OK);
    CU_ASSERT_EQUAL_FATAL(lp_buffer_create(lp_test_rt, n * 4, "gradient", &dd), LP_OK);
    CU_ASSERT_EQUAL_FATAL(lp_buffer_create(lp_test_rt, 8, "stats", &ds), LP_OK);
    LP_TEST_OK(lp_buffer_write(lp_test_rt, dl, 0, y_bytes, y));
    LP_TEST_OK(lp_buffer_write(lp_test_rt, dx, 0, n * 4, x));
    float zero[2] = {0.0f, 0.0f};
    LP_TEST_OK(lp_buffer_write(lp_test_rt, ds, 0, sizeof zero, zero));
    LP_TEST_OK(op(lp_test_rt, dx, dl, rows, width, scale, dd, ds, 0));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, dd, 0, n * 4, d));
    int bad = 0, printed = 0;
    char what[64];
    snprintf(what, sizeof what, "%s %dx%d spread %g", name, rows, width, (double)spread);
    for (size_t i = 0; i < n; ++i) {
        float keep = x[i];
        x[i] = keep + EPS_;
        double up = device_loss_(op, dx, dl, ds, x, rows, width, scale);
        float hi = x[i];
        x[i] = keep - EPS_;
        double down = device_loss_(op, dx, dl, ds, x, rows, width, scale);
        double fd = (up - down) / ((double)hi - (double)x[i]);
        x[i] = keep;
        if (!grad_close_(d[i], fd, what, (int)i, &printed)) bad++;
    }
    CU_ASSERT_EQUAL(bad, 0);
    clReleaseMemObject(dx);
    clReleaseMemObject(dl);
    clReleaseMemObject(dd);
    clReleaseMemObject(ds);
    free(x);
    free(d);
}

static void check_xent_grad_(int rows, int classes, float spread, float scale, uint64_t seed) {
    uint64_t rng = seed * 977;
    int *labels = malloc((size_t)rows * sizeof *labels);
    CU_ASSERT_FATAL(labels != NULL);
    for (int r = 0; r < rows; ++r)
        labels[r] = (int)(lp_test_next(&rng) % (uint64_t)classes);
    check_loss_grad_(lp_op_softmax_xent, "dlogits", rows, classes, labels,
                     (size_t)rows * sizeof *labels, spread, scale, seed);
    free(labels);
}

static void test_softmax_xent_grad(void) {
    check_xent_grad_(5, 4, 2.0f, 1.0f / 5.0f, 1);
    check_xent_grad_(5, 4, 2.0f, 1.0f, 2);
    check_xent_grad_(3, 10, 6.0f, 1.0f / 3.0f, 3);
    check_xent_grad_(1, 1, 1.0f, 1.0f, 4); /* one class: zero loss, zero gradient */
}

/* MSE (Keras': the mean over outputs, then over the batch through the scale). */
static void check_mse_grad_(int rows, int outputs, float scale, uint64_t seed) {
    uint64_t rng = seed * 977;
    size_t n = (size_t)rows * outputs;
    float *t = malloc(n * sizeof *t);
    CU_ASSERT_FATAL(t != NULL);
    for (size_t i = 0; i < n; ++i)
        t[i] = lp_test_uniform(&rng, -2.0f, 2.0f);
    check_loss_grad_(lp_op_mse, "dpred", rows, outputs, t, n * sizeof *t, 2.0f, scale, seed);
    free(t);
}

static void test_mse_grad(void) {
    check_mse_grad_(5, 1, 1.0f / 5.0f, 11);
    check_mse_grad_(3, 7, 1.0f / 3.0f, 12);
    check_mse_grad_(7, 3, 1.0f, 13);
    check_mse_grad_(1, 1, 1.0f, 14);
}

/* ---- networks -------------------------------------------------------------------------------- */

typedef struct {
    lp_model_spec spec;
    lp_network *net;
    const lp_param_tensor *tensors;
    int n_tensors, n, classes, max_width;
    size_t n_params, features;
    float *params, *x, *logits;
    int *labels;
    cl_mem dlabels, dstats;
} fixture_;

static void fixture_free_(fixture_ *f) {
    if (f->dlabels) clReleaseMemObject(f->dlabels);
    if (f->dstats) clReleaseMemObject(f->dstats);
    lp_network_destroy(f->net);
    lp_model_free(&f->spec);
    free(f->params);
    free(f->x);
    free(f->logits);
    free(f->labels);
    memset(f, 0, sizeof *f);
}

/* Parses `text`, builds the network for `max_batch`, uploads random parameters (weights
 * U(-w, w), biases U(-0.3, 0.3)), a random input batch of n and random labels. */
static bool fixture_init_(fixture_ *f, const char *text, int max_batch, int n, float w,
                          uint64_t seed) {
    memset(f, 0, sizeof *f);
    lp_status s = lp_model_parse_text(text, "gradcheck model", &f->spec);
    if (s == LP_OK) s = lp_network_create(lp_test_rt, &f->spec, max_batch, &f->net);
    if (s != LP_OK) {
        printf("\n  building the network: %s\n", lp_last_error());
        return false;
    }
    uint64_t rng = seed;
    f->n = n;
    f->tensors = lp_network_tensors(f->net, &f->n_tensors);
    f->n_params = lp_network_param_count(f->net);
    f->features = lp_network_input_features(f->net);
    f->classes = lp_network_classes(f->net);
    f->max_width = (int)f->features;
    for (int i = 0; i < f->spec.n_layers; ++i) {
        int width = (int)lp_shape_size(f->spec.layers[i].out);
        if (width > f->max_width) f->max_width = width;
    }
    f->params = malloc(f->n_params * sizeof *f->params);
    /* Rows n..max_batch-1 get data too: the whole input buffer is written (see
     * set_param_ on Oclgrind). The passes must not read them. */
    f->x = malloc((size_t)max_batch * f->features * sizeof *f->x);
    f->logits = malloc((size_t)n * f->classes * sizeof *f->logits);
    f->labels = malloc((size_t)n * sizeof *f->labels);
    if (!f->params || !f->x || !f->logits || !f->labels) return false;
    for (int t = 0; t < f->n_tensors; ++t) {
        const lp_param_tensor *pt = &f->tensors[t];
        float lim = pt->is_kernel ? w : 0.3f;
        for (size_t i = 0; i < pt->count; ++i)
            f->params[pt->offset + i] = lp_test_uniform(&rng, -lim, lim);
    }
    for (size_t i = 0; i < (size_t)max_batch * f->features; ++i)
        f->x[i] = lp_test_uniform(&rng, -1.0f, 1.0f);
    for (int r = 0; r < n; ++r)
        f->labels[r] = (int)(lp_test_next(&rng) % (uint64_t)f->classes);
    s = lp_buffer_write(lp_test_rt, lp_network_params(f->net), 0, f->n_params * 4, f->params);
    if (s == LP_OK)
        s = lp_buffer_write(lp_test_rt, lp_network_input(f->net), 0,
                            (size_t)max_batch * f->features * 4, f->x);
    if (s == LP_OK) s = lp_buffer_create(lp_test_rt, (size_t)n * 4, "labels", &f->dlabels);
    if (s == LP_OK) s = lp_buffer_write(lp_test_rt, f->dlabels, 0, (size_t)n * 4, f->labels);
    if (s == LP_OK) s = lp_buffer_create(lp_test_rt, 8, "stats", &f->dstats);
    float zero[2] = {0.0f, 0.0f};
    if (s == LP_OK) s = lp_buffer_write(lp_test_rt, f->dstats, 0, sizeof zero, zero);
    if (s != LP_OK) printf("\n  uploading: %s\n", lp_last_error());
    return s == LP_OK;
}

/* Kink codes of ReLU pre-activations: 0 below -KINK_, 2 above KINK_, 1 in between
 * (too close to zero for float and double to agree on the side). */
#define KINK_ 1e-4

/* The model's forward pass in double on the host: logits (n, classes) into `logits`;
 * when `kinks` is not NULL, one code per ReLU pre-activation, in layer order. Returns
 * the number of codes. */
static int host_forward_(const fixture_ *f, const float *params, double *logits,
                         unsigned char *kinks) {
    int n = f->n, nk = 0, width = (int)f->features;
    double *a = malloc((size_t)n * f->max_width * sizeof *a);
    double *b = malloc((size_t)n * f->max_width * sizeof *b);
    CU_ASSERT_FATAL(a && b);
    for (size_t i = 0; i < (size_t)n * f->features; ++i)
        a[i] = f->x[i];
    for (int li = 1; li < f->spec.n_layers; ++li) {
        const lp_layer_spec *l = &f->spec.layers[li];
        if (l->kind != LP_LAYER_DENSE) continue; /* flatten: same memory */
        const lp_param_tensor *kt = NULL, *bt = NULL;
        for (int t = 0; t < f->n_tensors; ++t)
            if (f->tensors[t].layer == li) {
                if (f->tensors[t].is_kernel)
                    kt = &f->tensors[t];
                else
                    bt = &f->tensors[t];
            }
        CU_ASSERT_PTR_NOT_NULL_FATAL(kt);
        int out = l->u.dense.units;
        CU_ASSERT_EQUAL(kt->dims[0], out);
        CU_ASSERT_EQUAL(kt->dims[1], width);
        for (int r = 0; r < n; ++r)
            for (int o = 0; o < out; ++o) {
                double s = bt ? params[bt->offset + (size_t)o] : 0.0;
                for (int i = 0; i < width; ++i)
                    s += a[(size_t)r * width + i] * params[kt->offset + (size_t)o * width + i];
                if (l->u.dense.activation == LP_ACT_RELU) {
                    if (kinks) kinks[nk] = s > KINK_ ? 2 : s < -KINK_ ? 0 : 1;
                    nk++;
                    s = fmax(s, 0.0);
                }
                b[(size_t)r * out + o] = s;
            }
        double *t = a;
        a = b;
        b = t;
        width = out;
    }
    memcpy(logits, a, (size_t)n * f->classes * sizeof *logits);
    free(a);
    free(b);
    return nk;
}

/* Device forward, logits read back, mean cross-entropy in double. */
static double device_loss_net_(fixture_ *f) {
    LP_TEST_OK(lp_network_forward(f->net, f->n, true));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, lp_network_logits(f->net), 0,
                              (size_t)f->n * f->classes * 4, f->logits));
    return mean_xent_(f->logits, f->labels, f->n, f->classes);
}

/* Analytic gradients: forward, d loss/d logits = (softmax - onehot) / n, backward. The
 * gradient buffer starts as NaN: backward must overwrite every entry. */
static void device_grads_(fixture_ *f, float *grads) {
    lp_test_network_grads(f->net, f->n, f->dlabels, f->dstats, grads);
}

/* Sets parameter i on the host and uploads the whole buffer. Oclgrind 21.10's
 * uninitialised-value plugin replaces a buffer's shadow state with one only as large as
 * each host write, so after a partial write (or a clEnqueueFillBuffer) the rest of the
 * buffer reads as uninitialised: these tests write whole buffers only. */
static void set_param_(fixture_ *f, size_t i, float v) {
    f->params[i] = v;
    LP_TEST_OK(
        lp_buffer_write(lp_test_rt, lp_network_params(f->net), 0, f->n_params * 4, f->params));
}

static void check_network_(const char *name, const char *text, int max_batch, int n, float w,
                           uint64_t seed) {
    fixture_ f;
    bool ok = fixture_init_(&f, text, max_batch, n, w, seed);
    CU_ASSERT_FATAL(ok);
    size_t np = f.n_params;
    float *grads = malloc(np * sizeof *grads), *again = malloc(np * sizeof *again);
    double *ref = malloc((size_t)n * f.classes * sizeof *ref);
    unsigned char *k0 = malloc((size_t)n * f.max_width * f.spec.n_layers);
    unsigned char *k1 = malloc((size_t)n * f.max_width * f.spec.n_layers);
    CU_ASSERT_FATAL(grads && again && ref && k0 && k1);

    /* The forward pass itself, against the host in double. */
    int nk = host_forward_(&f, f.params, ref, k0);
    double base = device_loss_net_(&f);
    int bad = 0, printed = 0;
    for (size_t i = 0; i < (size_t)n * f.classes; ++i) {
        float want = (float)ref[i];
        if (!lp_test_close(&f.logits[i], &want, 1, 1e-5f, 1e-4f, name)) bad++;
    }
    CU_ASSERT_EQUAL(bad, 0);
    int near = 0;
    for (int i = 0; i < nk; ++i)
        near += k0[i] == 1;
    if (near)
        printf("\n  %s: %d pre-activations within %g of 0; pick another seed\n", name, near, KINK_);
    CU_ASSERT_EQUAL_FATAL(near, 0);

    device_grads_(&f, grads);
    /* Backward overwrites: a second round gives the same gradients, not twice them. */
    device_grads_(&f, again);
    CU_ASSERT(lp_test_close(again, grads, np, 0.0f, 0.0f, "second backward"));

    int checked = 0, skipped = 0;
    double max_grad = 0.0;
    for (size_t i = 0; i < np; ++i) {
        float keep = f.params[i];
        float hi = keep + EPS_, lo = keep - EPS_;
        /* Skip a parameter whose step moves some ReLU input across 0: the loss has a
         * kink there and the central difference straddles it. */
        bool kink = false;
        for (int side = 0; side < 2 && !kink; ++side) {
            f.params[i] = side ? lo : hi;
            host_forward_(&f, f.params, ref, k1);
            kink = memcmp(k0, k1, (size_t)nk) != 0;
        }
        f.params[i] = keep;
        if (kink) {
            skipped++;
            continue;
        }
        set_param_(&f, i, hi);
        double up = device_loss_net_(&f);
        set_param_(&f, i, lo);
        double down = device_loss_net_(&f);
        set_param_(&f, i, keep);
        double fd = (up - down) / ((double)hi - (double)lo);
        if (!grad_close_(grads[i], fd, name, (int)i, &printed)) bad++;
        max_grad = fmax(max_grad, fabs(fd));
        checked++;
    }
    printf("\n  %s: %zu parameters, %d checked, %d skipped at ReLU kinks, loss %.4f ", name, np,
           checked, skipped, base);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(checked >= (int)(3 * np / 4)); /* the check must not skip its way to a pass */
    CU_ASSERT(max_grad > 1e-2);              /* and the gradients must not all be ~0 */
    free(grads);
    free(again);
    free(ref);
    free(k0);
    free(k1);
    fixture_free_(&f);
}

#define INPUT_1x3x5_ "[input]\nchannels = 1\nheight = 3\nwidth = 5\n\n[flatten]\n\n"

static void test_dense_bias(void) {
    check_network_("dense 7 relu bias -> dense 4",
                   INPUT_1x3x5_ "[dense]\nunits = 7\nactivation = relu\nbias = true\n\n"
                                "[dense]\nunits = 4\nactivation = none\nbias = true\n",
                   8, 5, 0.6f, 11);
}

static void test_dense_no_bias(void) {
    check_network_("dense 7 relu -> dense 4 (no biases)",
                   INPUT_1x3x5_ "[dense]\nunits = 7\nactivation = relu\nbias = false\n\n"
                                "[dense]\nunits = 4\nactivation = none\nbias = false\n",
                   8, 5, 0.6f, 12);
}

/* Three dense layers: the first layer's gradients arrive through the dx of the other two. */
static void test_three_layers(void) {
    check_network_("dense 6 relu -> dense 5 relu -> dense 4",
                   INPUT_1x3x5_ "[dense]\nunits = 6\nactivation = relu\n\n"
                                "[dense]\nunits = 5\nactivation = relu\n\n"
                                "[dense]\nunits = 4\nactivation = none\n",
                   5, 5, 0.8f, 13);
}

/* A flat input straight into dense layers (no flatten), a batch of one, wide last layer. */
static void test_flat_input_batch_one(void) {
    check_network_("input 6 -> dense 3 relu -> dense 10 (n = 1)",
                   "[input]\nchannels = 6\nheight = 1\nwidth = 1\n\n"
                   "[dense]\nunits = 3\nactivation = relu\n\n"
                   "[dense]\nunits = 10\nactivation = none\nbias = false\n",
                   4, 1, 0.9f, 14);
}

static void register_suites(void) {
    CU_pSuite su = CU_add_suite("gradcheck", NULL, NULL);
    CU_add_test(su, "dense relu bias -> dense", test_dense_bias);
    CU_add_test(su, "dense relu -> dense, no biases", test_dense_no_bias);
    CU_add_test(su, "three dense layers (dx of the upper two)", test_three_layers);
    CU_add_test(su, "flat input, batch of one", test_flat_input_batch_one);
    /* Last: under Oclgrind 21.10, small buffers that a kernel used and that were then
     * released leave stale shadow state behind, and a network built afterwards gets
     * false "uninitialized value" reports on its kernel-only activation buffers. */
    CU_add_test(su, "softmax_xent gradient vs finite differences", test_softmax_xent_grad);
    CU_add_test(su, "mse gradient vs finite differences", test_mse_grad);
}

int main(void) {
    return lp_cltest_main("cltest_gradcheck", register_suites);
}
