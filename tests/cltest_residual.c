/* [add] (residual shortcuts) in small networks built from model text: the device forward
 * pass against a double-precision C reference of the whole network (every add layer's
 * output and the logits), then every parameter gradient of the device backward pass
 * against central differences of the reference's mean cross-entropy. Identity and 1x1
 * projection shortcuts, two adds reading one layer, an add after an add, flat residual
 * blocks, and shortcuts from layers with no parameters upstream. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/ops.h"
#include "layer.h"
#include "lp_test.h"

/* Central differences of the reference in double: a small step keeps ReLU kinks out of
 * reach, and double keeps the rounding noise (~1e-12) far below the float gradients'. */
#define FD_STEP_ 1e-4
#define KINK_ 1e-4 /* pre-activations this close to 0 make float and double disagree */

/* ---- the fixture ----------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    lp_model_spec spec;
    lp_network *net;
    const lp_param_tensor *tensors;
    int n_tensors, n, max_batch, classes;
    size_t n_params, features;
    float *params, *x;
    double *pd;   /* params as doubles: the reference's, perturbed one at a time */
    double **act; /* the reference's activations, one (n, size) array per layer */
    int *labels;
    cl_mem dlabels, dstats;
} fixture_;

static void fixture_free_(fixture_ *f) {
    if (f->dlabels) clReleaseMemObject(f->dlabels);
    if (f->dstats) clReleaseMemObject(f->dstats);
    lp_network_destroy(f->net);
    if (f->act)
        for (int i = 0; i < f->spec.n_layers; ++i)
            free(f->act[i]);
    lp_model_free(&f->spec);
    free(f->act);
    free(f->params);
    free(f->x);
    free(f->pd);
    free(f->labels);
    memset(f, 0, sizeof *f);
}

/* Under Oclgrind 21.10, device buffers released by one network leave stale shadow state
 * behind, and the next network gets false "uninitialized value" reports on buffers that
 * only kernels write (see cltest_conv.c). So in the simulator every fixture stays alive
 * until the suite ends. */
#define KEPT_MAX_ 16
static fixture_ *kept_[KEPT_MAX_];
static int n_kept_;

static int suite_cleanup_(void) {
    for (int i = 0; i < n_kept_; ++i) {
        fixture_free_(kept_[i]);
        free(kept_[i]);
    }
    n_kept_ = 0;
    return 0;
}

static void release_(fixture_ *f) {
    if (lp_test_simulator() && n_kept_ < KEPT_MAX_) {
        fixture_ *copy = malloc(sizeof *copy);
        if (copy) {
            *copy = *f;
            kept_[n_kept_++] = copy;
            memset(f, 0, sizeof *f);
            return;
        }
    }
    fixture_free_(f);
}

/* Parses `text`, builds the network for max_batch samples and uploads random parameters
 * (kernels U(-w, w), biases and beta U(-0.3, 0.3), gamma U(0.5, 1.5)), a random input for
 * every row of the input buffer (rows n.. must not be read) and n random labels. Every
 * buffer is written whole. */
static bool fixture_init_(fixture_ *f, const char *name, const char *text, int max_batch, int n,
                          float w, uint64_t seed) {
    memset(f, 0, sizeof *f);
    f->name = name;
    lp_status s = lp_model_parse_text(text, name, &f->spec);
    if (s == LP_OK) s = lp_network_create(lp_test_rt, &f->spec, max_batch, &f->net);
    if (s != LP_OK) {
        printf("\n  %s: building the network: %s\n", name, lp_last_error());
        return false;
    }
    uint64_t rng = seed;
    f->n = n;
    f->max_batch = max_batch;
    f->tensors = lp_network_tensors(f->net, &f->n_tensors);
    f->n_params = lp_network_param_count(f->net);
    f->features = lp_network_input_features(f->net);
    f->classes = lp_network_classes(f->net);
    f->params = malloc(f->n_params * sizeof *f->params);
    f->pd = malloc(f->n_params * sizeof *f->pd);
    f->x = malloc((size_t)max_batch * f->features * sizeof *f->x);
    f->labels = malloc((size_t)n * sizeof *f->labels);
    f->act = calloc((size_t)f->spec.n_layers, sizeof *f->act);
    if (!f->params || !f->pd || !f->x || !f->labels || !f->act) return false;
    for (int i = 0; i < f->spec.n_layers; ++i) {
        f->act[i] = malloc((size_t)n * lp_shape_size(f->spec.layers[i].out) * sizeof **f->act);
        if (!f->act[i]) return false;
    }
    for (int t = 0; t < f->n_tensors; ++t) {
        const lp_param_tensor *pt = &f->tensors[t];
        bool gamma = strcmp(pt->name, "gamma") == 0;
        float lo = pt->is_kernel ? -w
                   : gamma       ? 0.5f
                                 : -0.3f,
              hi = pt->is_kernel ? w
                   : gamma       ? 1.5f
                                 : 0.3f;
        for (size_t i = 0; i < pt->count; ++i)
            f->params[pt->offset + i] = lp_test_uniform(&rng, lo, hi);
    }
    for (size_t i = 0; i < f->n_params; ++i)
        f->pd[i] = f->params[i];
    for (size_t i = 0; i < (size_t)max_batch * f->features; ++i)
        f->x[i] = lp_test_uniform(&rng, -1.0f, 1.0f);
    for (int r = 0; r < n; ++r)
        f->labels[r] = (int)(lp_test_next(&rng) % (uint64_t)f->classes);
    float zero[2] = {0.0f, 0.0f};
    s = lp_buffer_write(lp_test_rt, lp_network_params(f->net), 0, f->n_params * 4, f->params);
    if (s == LP_OK)
        s = lp_buffer_write(lp_test_rt, lp_network_input(f->net), 0,
                            (size_t)max_batch * f->features * 4, f->x);
    if (s == LP_OK) s = lp_buffer_create(lp_test_rt, (size_t)n * 4, "labels", &f->dlabels);
    if (s == LP_OK) s = lp_buffer_write(lp_test_rt, f->dlabels, 0, (size_t)n * 4, f->labels);
    if (s == LP_OK) s = lp_buffer_create(lp_test_rt, 8, "stats", &f->dstats);
    if (s == LP_OK) s = lp_buffer_write(lp_test_rt, f->dstats, 0, sizeof zero, zero);
    if (s != LP_OK) printf("\n  %s: uploading: %s\n", name, lp_last_error());
    return s == LP_OK;
}

/* ---- the reference: the whole network in double ------------------------------------------- */

static const lp_param_tensor *tensor_(const fixture_ *f, int layer, const char *name) {
    for (int t = 0; t < f->n_tensors; ++t)
        if (f->tensors[t].layer == layer && strcmp(f->tensors[t].name, name) == 0)
            return &f->tensors[t];
    return NULL;
}

/* Records the side of 0 a ReLU input is on (0 below -KINK_, 2 above KINK_, 1 too close to
 * call) and applies the ReLU. An exact 0 counts as below: it is the sum of two ReLU outputs
 * that are both 0 (an add after inactive units), which stays 0 under small steps, and the
 * device's mask (y > 0) gives it no gradient either. */
static double relu_(double v, unsigned char *kinks, int *nk) {
    if (kinks) kinks[*nk] = v > KINK_ ? 2 : v < -KINK_ || v == 0.0 ? 0 : 1;
    (*nk)++;
    return v > 0.0 ? v : 0.0;
}

/* TensorFlow's padding before (model.h): `same` pads (out-1)*stride + k - in in total, the
 * smaller half first. */
static int pad_before_(int in, int out, int k, int stride, lp_padding pad) {
    if (pad != LP_PAD_SAME) return 0;
    int total = (out - 1) * stride + k - in;
    return total > 0 ? total / 2 : 0;
}

/* y (n, F, oh, ow) = conv(x (n, cin, ih, iw)) + bias, kernel (F, cin, kh, kw); no ReLU. */
static void ref_conv_(const double *x, lp_shape in, lp_shape out, const lp_conv2d_spec *c,
                      const double *kernel, const double *bias, int n, double *y) {
    int pt = pad_before_(in.h, out.h, c->kh, c->stride_h, c->padding);
    int pl = pad_before_(in.w, out.w, c->kw, c->stride_w, c->padding);
    for (int s = 0; s < n; ++s)
        for (int fo = 0; fo < out.c; ++fo)
            for (int oy = 0; oy < out.h; ++oy)
                for (int ox = 0; ox < out.w; ++ox) {
                    double v = bias ? bias[fo] : 0.0;
                    for (int ci = 0; ci < in.c; ++ci)
                        for (int i = 0; i < c->kh; ++i)
                            for (int j = 0; j < c->kw; ++j) {
                                int yy = oy * c->stride_h - pt + i, xx = ox * c->stride_w - pl + j;
                                if (yy < 0 || yy >= in.h || xx < 0 || xx >= in.w) continue;
                                v += x[(((size_t)s * in.c + ci) * in.h + yy) * in.w + xx] *
                                     kernel[(((size_t)fo * in.c + ci) * c->kh + i) * c->kw + j];
                            }
                    y[(((size_t)s * out.c + fo) * out.h + oy) * out.w + ox] = v;
                }
}

/* Forward pass of every layer from the input and params `p` (the training pass: BatchNorm
 * with batch statistics, dropout absent from these models). Fills f->act; returns the
 * number of ReLU codes written to kinks (when not NULL). */
static int ref_forward_(fixture_ *f, const double *p, unsigned char *kinks) {
    int n = f->n, nk = 0;
    for (size_t i = 0; i < (size_t)n * f->features; ++i)
        f->act[0][i] = f->x[i];
    for (int li = 1; li < f->spec.n_layers; ++li) {
        const lp_layer_spec *l = &f->spec.layers[li];
        const double *x = f->act[li - 1];
        double *y = f->act[li];
        lp_shape in = l->in, out = l->out;
        size_t nin = lp_shape_size(in), nout = lp_shape_size(out);
        const lp_param_tensor *k = tensor_(f, li, "kernel"), *b = tensor_(f, li, "bias");
        const double *kp = k ? p + k->offset : NULL, *bp = b ? p + b->offset : NULL;
        switch (l->kind) {
        case LP_LAYER_FLATTEN:
            memcpy(y, x, (size_t)n * nin * sizeof *y);
            break;
        case LP_LAYER_DENSE:
            for (int s = 0; s < n; ++s)
                for (int o = 0; o < out.c; ++o) {
                    double v = bp ? bp[o] : 0.0;
                    for (size_t i = 0; i < nin; ++i)
                        v += x[s * nin + i] * kp[(size_t)o * nin + i];
                    if (l->u.dense.activation == LP_ACT_RELU) v = relu_(v, kinks, &nk);
                    y[s * nout + (size_t)o] = v;
                }
            break;
        case LP_LAYER_CONV2D:
            ref_conv_(x, in, out, &l->u.conv, kp, bp, n, y);
            if (l->u.conv.activation == LP_ACT_RELU)
                for (size_t i = 0; i < (size_t)n * nout; ++i)
                    y[i] = relu_(y[i], kinks, &nk);
            break;
        case LP_LAYER_BATCHNORM: {
            const double *gamma = p + tensor_(f, li, "gamma")->offset;
            const double *beta = p + tensor_(f, li, "beta")->offset;
            size_t plane = (size_t)in.h * in.w;
            double m = (double)n * plane;
            for (int c = 0; c < in.c; ++c) {
                double mean = 0.0, var = 0.0;
                for (int s = 0; s < n; ++s)
                    for (size_t q = 0; q < plane; ++q)
                        mean += x[((size_t)s * in.c + c) * plane + q];
                mean /= m;
                for (int s = 0; s < n; ++s)
                    for (size_t q = 0; q < plane; ++q) {
                        double d = x[((size_t)s * in.c + c) * plane + q] - mean;
                        var += d * d;
                    }
                double rstd = 1.0 / sqrt(var / m + l->u.bn.eps);
                for (int s = 0; s < n; ++s)
                    for (size_t q = 0; q < plane; ++q) {
                        size_t at = ((size_t)s * in.c + c) * plane + q;
                        double v = gamma[c] * (x[at] - mean) * rstd + beta[c];
                        y[at] = l->u.bn.activation == LP_ACT_RELU ? relu_(v, kinks, &nk) : v;
                    }
            }
            break;
        }
        case LP_LAYER_AVGPOOL:
        case LP_LAYER_GLOBALAVGPOOL: {
            /* valid windows only in these models; the global pool is one window */
            bool global = l->kind == LP_LAYER_GLOBALAVGPOOL;
            int kh = global ? in.h : l->u.pool.ph, kw = global ? in.w : l->u.pool.pw;
            int sh = global ? 1 : l->u.pool.stride_h, sw = global ? 1 : l->u.pool.stride_w;
            CU_ASSERT_FATAL(global || l->u.pool.padding == LP_PAD_VALID);
            for (int s = 0; s < n; ++s)
                for (int c = 0; c < in.c; ++c)
                    for (int oy = 0; oy < out.h; ++oy)
                        for (int ox = 0; ox < out.w; ++ox) {
                            double v = 0.0;
                            for (int i = 0; i < kh; ++i)
                                for (int j = 0; j < kw; ++j)
                                    v += x[(((size_t)s * in.c + c) * in.h + oy * sh + i) * in.w +
                                           ox * sw + j];
                            y[(((size_t)s * out.c + c) * out.h + oy) * out.w + ox] = v / (kh * kw);
                        }
            break;
        }
        case LP_LAYER_ADD: {
            const lp_add_spec *a = &l->u.add;
            const double *sc = f->act[a->from];
            if (a->projection) {
                ref_conv_(f->act[a->from], f->spec.layers[a->from].out, out, &a->proj, kp, bp, n,
                          y);
                sc = y;
            }
            for (size_t i = 0; i < (size_t)n * nout; ++i) {
                double v = x[i] + sc[i];
                y[i] = a->activation == LP_ACT_RELU ? relu_(v, kinks, &nk) : v;
            }
            break;
        }
        default:
            CU_FAIL_FATAL("layer kind not in the reference");
        }
    }
    return nk;
}

/* Mean softmax cross-entropy of the reference's logits. */
static double ref_loss_(const fixture_ *f) {
    const double *logits = f->act[f->spec.n_layers - 1];
    double sum = 0.0;
    for (int r = 0; r < f->n; ++r) {
        const double *x = logits + (size_t)r * f->classes;
        double m = x[0], z = 0.0;
        for (int c = 1; c < f->classes; ++c)
            m = fmax(m, x[c]);
        for (int c = 0; c < f->classes; ++c)
            z += exp(x[c] - m);
        sum += m + log(z) - x[f->labels[r]];
    }
    return sum / f->n;
}

/* ---- the checks ------------------------------------------------------------------------------ */

static bool close_to_(const float *got, const double *want, size_t n, double atol, double rtol,
                      const char *what, const char *layer) {
    int bad = 0;
    for (size_t i = 0; i < n; ++i)
        if (!(fabs(got[i] - want[i]) <= atol + rtol * fabs(want[i])) && bad++ < 3)
            printf("\n  %s, layer %s: [%zu] device %.9g, reference %.9g\n", what, layer, i, got[i],
                   want[i]);
    return bad == 0;
}

/* Device forward (training) against the reference: every [add] layer's output and the
 * logits. */
static void check_forward_(fixture_ *f) {
    LP_TEST_OK(lp_network_forward(f->net, f->n, true));
    for (int li = 1; li < f->spec.n_layers; ++li) {
        const lp_layer_spec *l = &f->spec.layers[li];
        if (l->kind != LP_LAYER_ADD && li != f->spec.n_layers - 1) continue;
        size_t count = (size_t)f->n * lp_shape_size(l->out);
        float *got = malloc(count * sizeof *got);
        CU_ASSERT_FATAL(got != NULL);
        LP_TEST_OK(lp_buffer_read(lp_test_rt, f->net->layers[li].out, 0, count * 4, got));
        CU_ASSERT(close_to_(got, f->act[li], count, 2e-5, 1e-4, f->name, l->name));
        free(got);
    }
}

/* Gradients: forward, d loss/d logits = (softmax - onehot) / n, backward, over a gradient
 * buffer of NaN (backward must overwrite every entry). */
static void device_grads_(fixture_ *f, float *grads) {
    lp_test_network_grads(f->net, f->n, f->dlabels, f->dstats, grads);
}

/* The name of the tensor holding parameter i, for messages. */
static void param_name_(const fixture_ *f, size_t i, char *buf, size_t size) {
    for (int t = 0; t < f->n_tensors; ++t) {
        const lp_param_tensor *pt = &f->tensors[t];
        if (i >= pt->offset && i < pt->offset + pt->count) {
            snprintf(buf, size, "%s.%s[%zu]", f->spec.layers[pt->layer].name, pt->name,
                     i - pt->offset);
            return;
        }
    }
    snprintf(buf, size, "param[%zu]", i);
}

/* lp_network_backward in its parts (network.h): each layer's own pass, then the shortcut
 * halves it completes. */
static lp_status backward_in_parts_(lp_network *net, int n) {
    for (int i = net->n_layers - 1; i >= 1; --i) {
        LP_TRY(lp_network_backward_own(net, i, n));
        for (int j = i + 1; j < net->n_layers; ++j)
            if (net->layers[j].second_input == i - 1) LP_TRY(lp_network_backward_second(net, j, n));
    }
    return LP_OK;
}

static void check_network_(const char *name, const char *text, int max_batch, int n, float w,
                           uint64_t seed) {
    fixture_ f;
    bool ok = fixture_init_(&f, name, text, max_batch, n, w, seed);
    CU_ASSERT_FATAL(ok);
    size_t np = f.n_params, units = 0;
    for (int i = 0; i < f.spec.n_layers; ++i)
        units += (size_t)n * lp_shape_size(f.spec.layers[i].out);
    unsigned char *k0 = malloc(units), *k1 = malloc(units);
    float *grads = malloc(np * sizeof *grads), *again = malloc(np * sizeof *again);
    CU_ASSERT_FATAL(k0 && k1 && grads && again);

    int nk = ref_forward_(&f, f.pd, k0);
    int near = 0;
    for (int i = 0; i < nk; ++i)
        near += k0[i] == 1;
    if (near)
        printf("\n  %s: %d pre-activations within %g of 0; pick another seed\n", name, near, KINK_);
    CU_ASSERT_EQUAL_FATAL(near, 0);
    check_forward_(&f);

    device_grads_(&f, grads);
    /* Backward overwrites and sums in a fixed order: a second round gives the same bits. */
    device_grads_(&f, again);
    CU_ASSERT(memcmp(grads, again, np * sizeof *grads) == 0);
    /* The backward pass in its parts, as laperm bench times them: the same bits. */
    lp_test_network_grads_with(f.net, f.n, f.dlabels, f.dstats, backward_in_parts_, again);
    CU_ASSERT(memcmp(grads, again, np * sizeof *grads) == 0);

    int bad = 0, printed = 0, checked = 0, skipped = 0;
    double max_grad = 0.0;
    for (size_t i = 0; i < np; ++i) {
        double keep = f.pd[i], loss[2];
        bool kink = false;
        for (int side = 0; side < 2; ++side) {
            f.pd[i] = keep + (side ? -FD_STEP_ : FD_STEP_);
            ref_forward_(&f, f.pd, k1);
            loss[side] = ref_loss_(&f);
            kink = kink || memcmp(k0, k1, (size_t)nk) != 0;
        }
        f.pd[i] = keep;
        if (kink) {
            skipped++;
            continue;
        }
        double fd = (loss[0] - loss[1]) / (2.0 * FD_STEP_);
        double tol = 2e-5 + 2e-3 * fmax(fabs(fd), fabs(grads[i]));
        if (!(fabs(grads[i] - fd) <= tol)) {
            char pname[96];
            param_name_(&f, i, pname, sizeof pname);
            if (printed++ < 5)
                printf("\n  %s: %s analytic %.7g, finite difference %.7g\n", name, pname, grads[i],
                       fd);
            bad++;
        }
        max_grad = fmax(max_grad, fabs(fd));
        checked++;
    }
    printf("\n  %s: %zu parameters, %d checked, %d skipped at ReLU kinks ", name, np, checked,
           skipped);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(checked >= (int)(9 * np / 10)); /* the check must not skip its way to a pass */
    CU_ASSERT(max_grad > 1e-2);               /* and the gradients must not all be ~0 */
    free(k0);
    free(k1);
    free(grads);
    free(again);
    release_(&f);
}

/* ---- the networks ---------------------------------------------------------------------------- */

#define CONV3_(filters, extra)                                                                     \
    "[conv2d]\nfilters = " #filters "\nkernel = 3\npadding = same\n" extra

/* The identity block of a ResNet stage: the shortcut's gradient joins the one through the
 * block in stem's dout, so stem's parameters see both. */
static void test_identity_block(void) {
    check_network_("identity block",
                   "[input]\nchannels = 2\nheight = 5\nwidth = 5\n"
                   "[conv2d]\nname = stem\nfilters = 3\nkernel = 3\npadding = same\n"
                   "activation = relu\n" CONV3_(3, "") "[batchnorm]\nactivation = relu\n" CONV3_(
                       3, "") "[batchnorm]\n[add]\nfrom = stem\nactivation = relu\n"
                              "[globalavgpool]\n[flatten]\n[dense]\nunits = 4\n",
                   3, 3, 0.5f, 1);
}

/* The first block of a downsampling stage: 1x1 stride-2 projection with a bias, whose
 * dx (a col2im) is added into the stem BatchNorm's dout; avgpool head as in resnet_v1. */
static void test_projection_block(void) {
    check_network_(
        "projection block",
        "[input]\nchannels = 2\nheight = 6\nwidth = 6\n" CONV3_(
            3, "") "[batchnorm]\nname = stem\nactivation = relu\n"
                   "[conv2d]\nfilters = 4\nkernel = 3\nstride = 2\npadding = same\n"
                   "[batchnorm]\nactivation = relu\n" CONV3_(
                       4, "") "[batchnorm]\n"
                              "[add]\nfrom = stem\nprojection = true\nactivation = relu\n"
                              "[avgpool]\nsize = 3\n[flatten]\n[dense]\nunits = 3\n",
        4, 3, 0.5f, 2);
}

/* Two adds read stem (identity b1, projected b3, summed in layer order); b2 reads b1 (an
 * add's dout gets a shortcut), b3's previous layer is b2 (an add after an add), b3 has no
 * ReLU and its projection no bias. */
static void test_shared_and_chained(void) {
    check_network_("shared from, add after add",
                   "[input]\nchannels = 2\nheight = 6\nwidth = 6\n"
                   "[conv2d]\nname = stem\nfilters = 2\nkernel = 3\npadding = same\n"
                   "activation = relu\n" CONV3_(
                       2, "") "[batchnorm]\nactivation = relu\n"
                              "[add]\nname = b1\nfrom = stem\nactivation = relu\n"
                              "[conv2d]\nfilters = 3\nkernel = 3\nstride = 2\npadding = same\n"
                              "[batchnorm]\n[add]\nname = b2\nfrom = b1\nprojection = true\n"
                              "activation = relu\n"
                              "[add]\nname = b3\nfrom = stem\nprojection = true\nbias = false\n"
                              "[globalavgpool]\n[flatten]\n[dense]\nunits = 3\n",
                   2, 2, 0.6f, 3);
}

/* Flat residual blocks: an identity add after a dense layer whose ReLU backward masks its
 * dout in place, and a projected (dense-like) add reading the same layer. */
static void test_flat_blocks(void) {
    check_network_("flat residual blocks",
                   "[input]\nchannels = 6\nheight = 1\nwidth = 1\n"
                   "[dense]\nname = h\nunits = 5\nactivation = relu\n"
                   "[dense]\nunits = 5\nactivation = relu\n[dense]\nunits = 5\n"
                   "[add]\nfrom = h\nactivation = relu\n[dense]\nunits = 4\n"
                   "[add]\nfrom = h\nprojection = true\n[batchnorm]\n[dense]\nunits = 3\n",
                   5, 4, 0.7f, 4);
}

/* Shortcuts from the input: nothing upstream wants their gradient, but the projection's
 * kernel and bias still get theirs; an identity add with no parameters before it. */
static void test_from_input(void) {
    check_network_("projection from the input",
                   "[input]\nchannels = 2\nheight = 4\nwidth = 4\n" CONV3_(
                       3, "") "[batchnorm]\nactivation = relu\n"
                              "[add]\nfrom = input_1\nprojection = true\nactivation = relu\n"
                              "[globalavgpool]\n[flatten]\n[dense]\nunits = 3\n",
                   2, 2, 0.5f, 5);
    check_network_("identity add with no parameters upstream",
                   "[input]\nchannels = 2\nheight = 4\nwidth = 4\n"
                   "[avgpool]\nsize = 1\n[avgpool]\nsize = 1\n"
                   "[add]\nfrom = input_1\nactivation = relu\n" CONV3_(
                       2, "") "[globalavgpool]\n[flatten]\n[dense]\nunits = 3\n",
                   3, 2, 0.5f, 6);
}

/* Hand-made specs that the parser would refuse: the layer asserts what the parser
 * guarantees, so they end in LP_ERR_INTERNAL, never a crash. */
static void test_invalid(void) {
    lp_layer_spec layers[4];
    memset(layers, 0, sizeof layers);
    lp_shape s = {2, 3, 3};
    const char *names[] = {"input", "c1", "c2", "add"};
    for (int i = 0; i < 4; ++i) {
        snprintf(layers[i].name, sizeof layers[i].name, "%s", names[i]);
        layers[i].line = 1 + 3 * i;
        layers[i].in = layers[i].out = s;
        layers[i].kind = LP_LAYER_CONV2D;
        layers[i].u.conv = (lp_conv2d_spec){.filters = 2,
                                            .kh = 1,
                                            .kw = 1,
                                            .stride_h = 1,
                                            .stride_w = 1,
                                            .use_bias = true,
                                            .permute = true};
        LP_TEST_OK(lp_window_make(3, 3, 1, 1, 1, 1, LP_PAD_VALID, &layers[i].window));
    }
    layers[0].kind = LP_LAYER_INPUT;
    layers[3].kind = LP_LAYER_ADD;
    lp_model_spec model = {.source = "hand-made", .layers = layers, .n_layers = 4};
    const int bad_from[] = {2, 3, -1};
    for (int i = 0; i < 3; ++i) {
        layers[3].u.add = (lp_add_spec){.from = bad_from[i]};
        lp_network *net = NULL;
        lp_status st = lp_network_create(lp_test_rt, &model, 2, &net);
        CU_ASSERT_EQUAL(st, LP_ERR_INTERNAL);
        CU_ASSERT_PTR_NULL(net);
        lp_network_destroy(net);
    }
    /* identity between different shapes */
    layers[3].u.add = (lp_add_spec){.from = 0};
    layers[0].out = (lp_shape){3, 3, 3};
    layers[1].in = layers[0].out;
    lp_network *net = NULL;
    CU_ASSERT_EQUAL(lp_network_create(lp_test_rt, &model, 2, &net), LP_ERR_INTERNAL);
    CU_ASSERT_PTR_NULL(net);
}

static void register_suites(void) {
    CU_pSuite su = CU_add_suite("residual", NULL, suite_cleanup_);
    CU_add_test(su, "identity block", test_identity_block);
    CU_add_test(su, "projection block", test_projection_block);
    CU_add_test(su, "two adds from one layer, add after add", test_shared_and_chained);
    CU_add_test(su, "flat residual blocks", test_flat_blocks);
    CU_add_test(su, "shortcuts from the input", test_from_input);
    CU_add_test(su, "invalid hand-made specs", test_invalid);
}

int main(void) {
    return lp_cltest_main("cltest_residual", register_suites);
}
