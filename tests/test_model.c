/* Model files: the shipped models parse to the published parameter counts, every kind of
 * malformed text gives its exact message, and the parameter table and summary agree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/clock.h"
#include "laperm/model.h"
#include "layer.h"
#include "lp_test.h"

/* Lines 1-4 and 5 of most test texts, so that line numbers below are easy to check. */
#define IN_ "[input]\nchannels = 1\nheight = 28\nwidth = 28\n"
#define FLAT_ "[flatten]\n"

/* ---- shipped models ---------------------------------------------------------------------- */

static void check_model_(const char *rel, int n_layers, size_t params, const int *units) {
    lp_model_spec m;
    const char *path = lp_test_source_path(rel);
    lp_status s = lp_model_load(path, &m);
    if (s != LP_OK) printf("\n  %s: %s\n", rel, lp_last_error());
    CU_ASSERT_EQUAL_FATAL(s, LP_OK);
    CU_ASSERT_EQUAL(m.n_layers, n_layers);
    CU_ASSERT_EQUAL(lp_model_param_count(&m), params);
    CU_ASSERT_STRING_EQUAL(m.source, path);
    CU_ASSERT_PTR_NOT_NULL(strstr(m.text, "[input]"));
    CU_ASSERT_EQUAL(m.layers[0].kind, LP_LAYER_INPUT);
    CU_ASSERT(m.layers[0].out.c == 1 && m.layers[0].out.h == 28 && m.layers[0].out.w == 28);
    CU_ASSERT_EQUAL(m.layers[1].kind, LP_LAYER_FLATTEN);
    CU_ASSERT(m.layers[1].out.c == 784 && m.layers[1].out.h == 1 && m.layers[1].out.w == 1);
    for (int i = 2; i < m.n_layers; ++i) {
        const lp_layer_spec *l = &m.layers[i];
        CU_ASSERT_EQUAL(l->kind, LP_LAYER_DENSE);
        CU_ASSERT(l->out.c == units[i - 2] && l->out.h == 1 && l->out.w == 1);
        CU_ASSERT_EQUAL(l->in.c, m.layers[i - 1].out.c);
        CU_ASSERT_EQUAL(l->u.dense.activation, i == m.n_layers - 1 ? LP_ACT_NONE : LP_ACT_RELU);
        CU_ASSERT(l->u.dense.permute);
    }
    lp_model_free(&m);
}

static void test_shipped_models(void) {
    check_model_("models/logreg.ini", 3, 7840, (const int[]){10});
    check_model_("models/f2.ini", 5, 109184, (const int[]){128, 64, 10});
    check_model_("models/lenet300.ini", 5, 266610, (const int[]){300, 100, 10});

    lp_model_spec m;
    CU_ASSERT_EQUAL_FATAL(lp_model_load(lp_test_source_path("models/f2.ini"), &m), LP_OK);
    for (int i = 2; i < m.n_layers; ++i) {
        CU_ASSERT(!m.layers[i].u.dense.use_bias);
        CU_ASSERT_EQUAL(m.layers[i].u.dense.l2, 1e-4f);
    }
    lp_model_free(&m);
    CU_ASSERT_EQUAL_FATAL(lp_model_load(lp_test_source_path("models/logreg.ini"), &m), LP_OK);
    CU_ASSERT(!m.layers[2].u.dense.use_bias);
    CU_ASSERT_EQUAL(m.layers[2].u.dense.l2, 0.0f);
    lp_model_free(&m);

    /* The authors' weight-agnostic F1 and F2: one shared value, masked, no bias. */
    check_model_("models/f1-agnostic.ini", 3, 7840, (const int[]){10});
    check_model_("models/f2-agnostic.ini", 5, 109184, (const int[]){128, 64, 10});
    CU_ASSERT_EQUAL_FATAL(lp_model_load(lp_test_source_path("models/f1-agnostic.ini"), &m), LP_OK);
    const lp_dense_spec *d = &m.layers[2].u.dense;
    CU_ASSERT(!d->use_bias && d->kernel_init == LP_INIT_CONSTANT && d->init_opts.value == 0.08f);
    CU_ASSERT(d->init_opts.keep == (float)(4.0 / 7.0) && d->l2 == 0.0f);
    lp_model_free(&m);
    CU_ASSERT_EQUAL_FATAL(lp_model_load(lp_test_source_path("models/f2-agnostic.ini"), &m), LP_OK);
    const double keep[] = {1.0 / 15, 1.0 / 7, 1.0 / 3};
    for (int i = 2; i < m.n_layers; ++i) {
        d = &m.layers[i].u.dense;
        CU_ASSERT(!d->use_bias && d->kernel_init == LP_INIT_CONSTANT &&
                  d->init_opts.value == 0.03f);
        CU_ASSERT(d->init_opts.keep == (float)keep[i - 2]);
        CU_ASSERT_EQUAL(d->l2, i < 4 ? 1e-4f : 0.0f);
    }
    lp_model_free(&m);
}

/* The convolutional models: published count, input, logits, l2 on every kernel, ReLU on
 * every conv and dense layer but the last, BatchNorm only where the file says. */
static void check_conv_model_(const char *rel, size_t params, int n_layers, lp_shape in, float l2,
                              int n_bn) {
    lp_model_spec m;
    lp_status s = lp_model_load(lp_test_source_path(rel), &m);
    if (s != LP_OK) printf("\n  %s: %s\n", rel, lp_last_error());
    CU_ASSERT_EQUAL_FATAL(s, LP_OK);
    CU_ASSERT_EQUAL(lp_model_param_count(&m), params);
    CU_ASSERT_EQUAL(m.n_layers, n_layers);
    lp_shape got = m.layers[0].out, out = m.layers[m.n_layers - 1].out;
    CU_ASSERT(got.c == in.c && got.h == in.h && got.w == in.w);
    CU_ASSERT(out.c == 10 && out.h == 1 && out.w == 1);
    int bn = 0;
    for (int i = 1; i < m.n_layers; ++i) {
        const lp_layer_spec *l = &m.layers[i];
        bool last = i == m.n_layers - 1;
        lp_shape p = m.layers[i - 1].out;
        CU_ASSERT(l->in.c == p.c && l->in.h == p.h && l->in.w == p.w);
        if (l->kind == LP_LAYER_CONV2D) {
            CU_ASSERT_EQUAL(l->u.conv.l2, l2);
            CU_ASSERT_EQUAL(l->u.conv.activation, LP_ACT_RELU);
            CU_ASSERT(l->u.conv.permute && l->u.conv.use_bias);
        } else if (l->kind == LP_LAYER_DENSE) {
            CU_ASSERT_EQUAL(l->u.dense.l2, l2);
            CU_ASSERT_EQUAL(l->u.dense.activation, last ? LP_ACT_NONE : LP_ACT_RELU);
        } else if (l->kind == LP_LAYER_BATCHNORM) {
            bn++;
            CU_ASSERT(!l->u.bn.permute && l->u.bn.activation == LP_ACT_NONE);
            CU_ASSERT(l->u.bn.momentum == 0.99f && l->u.bn.eps == 1e-3f);
        }
    }
    CU_ASSERT_EQUAL(bn, n_bn);
    lp_param_tensor *t = NULL;
    int n = 0;
    CU_ASSERT_EQUAL_FATAL(lp_model_params(&m, &t, &n), LP_OK);
    CU_ASSERT_EQUAL(t[n - 1].offset + t[n - 1].count, params);
    free(t);
    lp_model_free(&m);
}

static void test_conv_models(void) {
    check_conv_model_("models/conv7.ini", 325578, 13, (lp_shape){1, 28, 28}, 0.0f, 0);
    check_conv_model_("models/conv2.ini", 4302922, 15, (lp_shape){3, 32, 32}, 1e-4f, 4);
    check_conv_model_("models/conv4.ini", 2427722, 21, (lp_shape){3, 32, 32}, 1e-4f, 6);
    check_conv_model_("models/conv13.ini", 14991946, 46, (lp_shape){3, 32, 32}, 1e-4f, 14);
    check_conv_model_("models/fmnist-bn.ini", 422090, 13, (lp_shape){1, 28, 28}, 0.0f, 3);

    /* Conv7 layer by layer: valid, valid, same stride 2, ... down to 128x1x1. */
    lp_model_spec m;
    CU_ASSERT_EQUAL_FATAL(lp_model_load(lp_test_source_path("models/conv7.ini"), &m), LP_OK);
    const lp_shape want[] = {{1, 28, 28},  {32, 26, 26}, {32, 24, 24}, {32, 12, 12}, {32, 12, 12},
                             {64, 10, 10}, {64, 8, 8},   {64, 4, 4},   {64, 4, 4},   {128, 1, 1},
                             {128, 1, 1},  {128, 1, 1},  {10, 1, 1}};
    for (int i = 0; i < m.n_layers; ++i) {
        lp_shape o = m.layers[i].out;
        CU_ASSERT(o.c == want[i].c && o.h == want[i].h && o.w == want[i].w);
    }
    lp_model_free(&m);
}

static char *summary_(const char *rel); /* the summary of a shipped model, malloc'd */

/* The CIFAR ResNets v1 (Keras resnet_v1): stem conv + BN(ReLU), 3 stages of n blocks of
 * conv, BN(ReLU), conv, BN, add(ReLU) from the block's input, 1x1 stride-2 projections into
 * stages 2 and 3, then avgpool 8, flatten, dense 10. */
static void check_resnet_(const char *rel, int n, size_t params, size_t permuted) {
    lp_model_spec m;
    lp_status s = lp_model_load(lp_test_source_path(rel), &m);
    if (s != LP_OK) printf("\n  %s: %s\n", rel, lp_last_error());
    CU_ASSERT_EQUAL_FATAL(s, LP_OK);
    CU_ASSERT_EQUAL(lp_model_param_count(&m), params);
    CU_ASSERT_EQUAL_FATAL(m.n_layers, 3 + 15 * n + 3);
    int adds = 0, projections = 0, block_input = 2; /* the stem's BatchNorm */
    for (int i = 3; i < 3 + 15 * n; i += 5) {
        const lp_layer_spec *conv1 = &m.layers[i], *add = &m.layers[i + 4];
        int stage = (i - 3) / (5 * n), filters = 16 << stage, size = 32 >> stage;
        bool first = (i - 3) % (5 * n) == 0, down = first && stage > 0;
        CU_ASSERT_EQUAL(conv1->kind, LP_LAYER_CONV2D);
        CU_ASSERT_EQUAL(conv1->u.conv.stride_h, down ? 2 : 1);
        CU_ASSERT(m.layers[i + 1].kind == LP_LAYER_BATCHNORM &&
                  m.layers[i + 1].u.bn.activation == LP_ACT_RELU);
        CU_ASSERT(m.layers[i + 3].kind == LP_LAYER_BATCHNORM &&
                  m.layers[i + 3].u.bn.activation == LP_ACT_NONE);
        for (int k = i; k <= i + 2; k += 2) {
            const lp_conv2d_spec *c = &m.layers[k].u.conv;
            CU_ASSERT(c->filters == filters && c->kh == 3 && c->kw == 3 && c->use_bias);
            CU_ASSERT(c->padding == LP_PAD_SAME && c->activation == LP_ACT_NONE);
            CU_ASSERT(c->kernel_init == LP_INIT_HE_NORMAL && c->l2 == 1e-4f && c->permute);
        }
        CU_ASSERT_EQUAL_FATAL(add->kind, LP_LAYER_ADD);
        const lp_add_spec *a = &add->u.add;
        CU_ASSERT_EQUAL(a->from, block_input);
        CU_ASSERT_STRING_EQUAL(a->from_name, m.layers[block_input].name);
        CU_ASSERT_EQUAL(a->activation, LP_ACT_RELU);
        CU_ASSERT_EQUAL(a->projection, down);
        CU_ASSERT(add->out.c == filters && add->out.h == size && add->out.w == size);
        if (down) {
            CU_ASSERT(a->proj.filters == filters && a->proj.kh == 1 && a->proj.kw == 1);
            CU_ASSERT(a->proj.stride_h == 2 && a->proj.stride_w == 2 && a->proj.use_bias);
            CU_ASSERT(a->proj.kernel_init == LP_INIT_HE_NORMAL && a->proj.l2 == 1e-4f);
            CU_ASSERT(a->proj.permute);
            projections++;
        }
        adds++;
        block_input = i + 4;
    }
    CU_ASSERT_EQUAL(adds, 3 * n);
    CU_ASSERT_EQUAL(projections, 2);
    const lp_layer_spec *pool = &m.layers[m.n_layers - 3], *dense = &m.layers[m.n_layers - 1];
    CU_ASSERT(pool->kind == LP_LAYER_AVGPOOL && pool->u.pool.ph == 8 && pool->out.c == 64);
    CU_ASSERT(dense->kind == LP_LAYER_DENSE && dense->out.c == 10 && dense->u.dense.l2 == 0.0f);
    CU_ASSERT(dense->u.dense.kernel_init == LP_INIT_HE_NORMAL && dense->u.dense.use_bias);

    char *buf = NULL, want[128], num[2][32];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(lp_model_summary(&m, f), LP_OK);
    fclose(f);
    snprintf(num[0], sizeof num[0], "%zu,%03zu", params / 1000, params % 1000);
    snprintf(num[1], sizeof num[1], "%zu,%03zu", permuted / 1000, permuted % 1000);
    snprintf(want, sizeof want, "total params: %s in %d tensors\n", num[0],
             4 + 3 * n * 8 + 2 * 2 + 2); /* stem, blocks, projections, dense */
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, want));
    snprintf(want, sizeof want, "permuted params: %s in %d groups (kernels with permute = true)\n",
             num[1], 16 + 2 * n * (16 + 32 + 64) + 32 + 64 + 10);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, want));
    if (!strstr(buf, want)) printf("\n%s", buf);
    free(buf);
    lp_model_free(&m);
}

static void test_resnet_models(void) {
    /* LAPERM.md's ResNet50 count. The same recipe with n = 3 gives 273,066 (the Keras
     * example's ResNet20 v1: 274,442 in all, minus 1,376 BatchNorm running statistics). */
    check_resnet_("models/resnet20.ini", 3, 273066, 270896);
    check_resnet_("models/resnet50.ini", 8, 760266, 754736);

    char *s = summary_("models/resnet20.ini");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "  7  s1b1        add        16x32x32                0  from "
                                     "stem, relu\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, " 22  s2b1        add        32x16x16              544  from "
                                     "s1b3, projection 1x1, stride 2, relu, init he_normal, bias, "
                                     "l2 0.0001, permuted\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, " 48  avgpool_1   avgpool    64                      0  "
                                     "window 8x8, stride 8, padding valid\n"));
    free(s);
}

/* ---- shape inference of the spatial layers ------------------------------------------------- */

#define IN3_(c, h, w) "[input]\nchannels = " #c "\nheight = " #h "\nwidth = " #w "\n"
#define CONV_ "[conv2d]\nfilters = 8\n" /* lines 5 and 6 after IN_ */

typedef struct {
    const char *text;
    lp_shape out; /* of the last layer */
    size_t params;
} shape_case_;

static const shape_case_ shape_cases_[] = {
    /* conv: valid, same, stride 2, non-square kernels, strides and inputs */
    {IN_ "[conv2d]\nfilters = 32\nkernel = 3\n", {32, 26, 26}, 320},
    {IN_ "[conv2d]\nfilters = 32\nkernel = 3\npadding = same\n", {32, 28, 28}, 320},
    {IN_ "[conv2d]\nfilters = 4\nkernel = 5\nstride = 2\npadding = same\n", {4, 14, 14}, 104},
    {IN_ "[conv2d]\nfilters = 4\nkernel = 5\nstride = 2\n", {4, 12, 12}, 104},
    {IN3_(2, 28, 20) "[conv2d]\nfilters = 3\nkernel = 5x3\n", {3, 24, 18}, 93},
    {IN3_(2, 28, 20) "[conv2d]\nfilters = 3\nkernel = 3\nstride = 2x1\n", {3, 13, 18}, 57},
    {IN3_(2, 28, 20) "[conv2d]\nfilters = 3\nkernel = 3\nstride = 3\npadding = same\n",
     {3, 10, 7},
     57},
    /* same padding: a kernel larger than the input still gives ceil(in / stride) */
    {IN3_(1, 2, 2) "[conv2d]\nfilters = 1\nkernel = 5\npadding = same\nbias = false\n",
     {1, 2, 2},
     25},
    {IN3_(1, 1, 7) "[conv2d]\nfilters = 2\nkernel = 1x3\n", {2, 1, 5}, 8},
    {IN3_(3, 9, 9) "[conv2d]\nfilters = 3\nkernel = 9\n", {3, 1, 1}, 732},
    {IN_ "[conv2d]\nfilters = 32\nkernel = 3\n[flatten]\n", {21632, 1, 1}, 320},
    /* pooling: the stride defaults to the window */
    {IN_ "[maxpool]\nsize = 2\n", {1, 14, 14}, 0},
    {IN_ "[maxpool]\nsize = 3\n", {1, 9, 9}, 0},
    {IN_ "[maxpool]\nsize = 3\npadding = same\n", {1, 10, 10}, 0},
    {IN_ "[maxpool]\nsize = 2\nstride = 1\n", {1, 27, 27}, 0},
    {IN3_(2, 28, 20) "[maxpool]\nsize = 2x3\n", {2, 14, 6}, 0},
    {IN_ "[avgpool]\nsize = 3\nstride = 2\n", {1, 13, 13}, 0},
    {IN3_(4, 7, 7) "[maxpool]\nsize = 2\n", {4, 3, 3}, 0},
    {IN3_(4, 7, 7) "[avgpool]\nsize = 2\npadding = same\n", {4, 4, 4}, 0},
    {IN3_(4, 7, 7) "[avgpool]\nsize = 2\nstride = 1\n", {4, 6, 6}, 0},
    {IN3_(8, 7, 5) "[globalavgpool]\n", {8, 1, 1}, 0},
    /* batchnorm: per channel after a spatial layer, per feature after a flat one */
    {IN3_(8, 7, 5) "[batchnorm]\n", {8, 7, 5}, 16},
    {IN_ FLAT_ "[dense]\nunits = 100\n[batchnorm]\n", {100, 1, 1}, 78700},
    {IN_ "[conv2d]\nfilters = 6\nkernel = 3\n[batchnorm]\nactivation = relu\n", {6, 26, 26}, 72},
    /* dropout: any input, shape unchanged */
    {IN3_(8, 7, 5) "[dropout]\nrate = 0.5\n", {8, 7, 5}, 0},
    {IN_ FLAT_ "[dropout]\nrate = 0\n", {784, 1, 1}, 0},
    /* add: prev's shape; parameters only with a projection (filters x cin + bias) */
    {IN3_(4, 6, 6) "[conv2d]\nfilters = 4\nkernel = 3\npadding = same\n[batchnorm]\n"
                   "[add]\nfrom = input_1\nactivation = relu\n",
     {4, 6, 6},
     156},
    {IN3_(4, 6, 6) "[conv2d]\nfilters = 8\nkernel = 3\nstride = 2\npadding = same\n"
                   "[batchnorm]\n[add]\nfrom = input_1\nprojection = true\n",
     {8, 3, 3},
     296 + 16 + 40},
    {IN3_(4, 6, 6) "[conv2d]\nfilters = 8\nkernel = 3\nstride = 2\npadding = same\n"
                   "[batchnorm]\n[add]\nfrom = input_1\nprojection = true\nbias = false\n",
     {8, 3, 3},
     296 + 16 + 32},
    {IN3_(3, 8, 8) "[conv2d]\nfilters = 5\nkernel = 1\nstride = 2x4\n"
                   "[dropout]\nrate = 0.5\n[add]\nfrom = input_1\nprojection = true\n",
     {5, 4, 2},
     20 + 20},
    {IN3_(3, 8, 8) "[maxpool]\nsize = 2\n[maxpool]\nsize = 1\n[add]\nfrom = input_1\n"
                   "projection = true\n",
     {3, 4, 4},
     12},
    {IN3_(3, 8, 8) "[conv2d]\nfilters = 3\nkernel = 1\n[add]\nfrom = input_1\n"
                   "projection = true\n",
     {3, 8, 8},
     12 + 12},
    /* flat: a residual MLP, identity or projected (a dense layer in effect) */
    {IN_ FLAT_ "[dense]\nunits = 784\n[add]\nname = r\nfrom = flatten_1\n"
               "[dense]\nunits = 10\n[dense]\nunits = 10\n[add]\nfrom = r\nprojection = true\n",
     {10, 1, 1},
     615440 + 7850 + 110 + 7850},
};

static void test_shapes(void) {
    int n = (int)(sizeof shape_cases_ / sizeof shape_cases_[0]);
    for (int i = 0; i < n; ++i) {
        const shape_case_ *c = &shape_cases_[i];
        lp_model_spec m;
        lp_status s = lp_model_parse_text(c->text, "shape.ini", &m);
        if (s != LP_OK) printf("\n  case %d: %s\n", i, lp_last_error());
        CU_ASSERT_EQUAL(s, LP_OK);
        if (s != LP_OK) continue;
        lp_shape o = m.layers[m.n_layers - 1].out;
        bool same = o.c == c->out.c && o.h == c->out.h && o.w == c->out.w;
        if (!same)
            printf("\n  case %d: got %dx%dx%d, want %dx%dx%d\n", i, o.c, o.h, o.w, c->out.c,
                   c->out.h, c->out.w);
        CU_ASSERT(same);
        CU_ASSERT_EQUAL(lp_model_param_count(&m), c->params);
        lp_model_free(&m);
    }
}

static void test_layer_defaults(void) {
    lp_model_spec m;
    const char *text = IN_ "[conv2d]\nfilters = 4\nkernel = 5x3\n[maxpool]\nsize = 2x3\n"
                           "[avgpool]\nsize = 2\nstride = 1x2\npadding = same\n[batchnorm]\n"
                           "[dropout]\nrate = 0.25\n[globalavgpool]\n";
    lp_status s = lp_model_parse_text(text, "defaults.ini", &m);
    if (s != LP_OK) printf("\n  %s\n", lp_last_error());
    CU_ASSERT_EQUAL_FATAL(s, LP_OK);
    CU_ASSERT_EQUAL_FATAL(m.n_layers, 7);
    const char *names[] = {"input_1",     "conv2d_1",  "maxpool_1",      "avgpool_1",
                           "batchnorm_1", "dropout_1", "globalavgpool_1"};
    const lp_layer_kind kinds[] = {LP_LAYER_INPUT,        LP_LAYER_CONV2D,    LP_LAYER_MAXPOOL,
                                   LP_LAYER_AVGPOOL,      LP_LAYER_BATCHNORM, LP_LAYER_DROPOUT,
                                   LP_LAYER_GLOBALAVGPOOL};
    for (int i = 0; i < 7; ++i) {
        CU_ASSERT_STRING_EQUAL(m.layers[i].name, names[i]);
        CU_ASSERT_EQUAL(m.layers[i].kind, kinds[i]);
    }
    const lp_conv2d_spec *c = &m.layers[1].u.conv;
    CU_ASSERT(c->filters == 4 && c->kh == 5 && c->kw == 3 && c->stride_h == 1 && c->stride_w == 1);
    CU_ASSERT(c->padding == LP_PAD_VALID && c->use_bias && c->activation == LP_ACT_NONE);
    CU_ASSERT(c->kernel_init == LP_INIT_HE_UNIFORM && c->bias_init == LP_INIT_ZEROS);
    CU_ASSERT(c->l2 == 0.0f && c->permute);
    const lp_pool_spec *p = &m.layers[2].u.pool;
    CU_ASSERT(p->ph == 2 && p->pw == 3 && p->stride_h == 2 && p->stride_w == 3);
    CU_ASSERT_EQUAL(p->padding, LP_PAD_VALID);
    p = &m.layers[3].u.pool;
    CU_ASSERT(p->ph == 2 && p->pw == 2 && p->stride_h == 1 && p->stride_w == 2);
    CU_ASSERT_EQUAL(p->padding, LP_PAD_SAME);
    const lp_batchnorm_spec *b = &m.layers[4].u.bn;
    CU_ASSERT(b->momentum == 0.99f && b->eps == 1e-3f && !b->permute);
    CU_ASSERT_EQUAL(b->activation, LP_ACT_NONE);
    CU_ASSERT_EQUAL(m.layers[5].u.dropout.rate, 0.25f);
    lp_model_free(&m);

    /* Every key set, at the edges of what is accepted. */
    text = IN_ "[conv2d]\nname = c\nfilters = 2\nkernel = 1x2\nstride = 3x4\npadding = same\n"
               "bias = false\nactivation = relu\ninit = glorot_uniform\nl2 = 5e-4\n"
               "permute = false\n[batchnorm]\nname = bn\nmomentum = 1\neps = 1e-45\n"
               "activation = relu\npermute = true\n[batchnorm]\nmomentum = 0\n";
    s = lp_model_parse_text(text, "all.ini", &m);
    if (s != LP_OK) printf("\n  %s\n", lp_last_error());
    CU_ASSERT_EQUAL_FATAL(s, LP_OK);
    c = &m.layers[1].u.conv;
    CU_ASSERT(c->kh == 1 && c->kw == 2 && c->stride_h == 3 && c->stride_w == 4);
    CU_ASSERT(c->padding == LP_PAD_SAME && !c->use_bias && c->activation == LP_ACT_RELU);
    CU_ASSERT(c->kernel_init == LP_INIT_GLOROT_UNIFORM && c->l2 == 5e-4f && !c->permute);
    CU_ASSERT(m.layers[1].out.c == 2 && m.layers[1].out.h == 10 && m.layers[1].out.w == 7);
    b = &m.layers[2].u.bn;
    CU_ASSERT(b->momentum == 1.0f && b->eps > 0.0f && b->permute);
    CU_ASSERT_EQUAL(b->activation, LP_ACT_RELU);
    CU_ASSERT_STRING_EQUAL(m.layers[2].name, "bn");
    CU_ASSERT_EQUAL(m.layers[3].u.bn.momentum, 0.0f);
    lp_model_free(&m);
}

/* ---- accepted syntax and defaults ---------------------------------------------------------- */

static void test_syntax_and_defaults(void) {
    /* CRLF, tabs, comments of both kinds, spaces inside brackets, no final newline. */
    const char *text = "# a comment\r\n\t[input]  ; trailing\r\nchannels=1\r\n height =\t28 \r\n"
                       "width = 28#c\r\n\r\n[ flatten ]\r\n[dense]\r\nunits = 10 # ten\r\n"
                       "name = _Out9";
    lp_model_spec m;
    lp_status s = lp_model_parse_text(text, "ok.ini", &m);
    if (s != LP_OK) printf("\n  %s\n", lp_last_error());
    CU_ASSERT_EQUAL_FATAL(s, LP_OK);
    CU_ASSERT_EQUAL(m.n_layers, 3);
    CU_ASSERT_STRING_EQUAL(m.source, "ok.ini");
    CU_ASSERT_STRING_EQUAL(m.text, text);
    CU_ASSERT_EQUAL(m.layers[0].line, 2);
    CU_ASSERT_EQUAL(m.layers[2].line, 8);
    CU_ASSERT_STRING_EQUAL(m.layers[2].name, "_Out9");
    const lp_dense_spec *d = &m.layers[2].u.dense;
    CU_ASSERT_EQUAL(d->units, 10);
    CU_ASSERT(d->use_bias);
    CU_ASSERT_EQUAL(d->activation, LP_ACT_NONE);
    CU_ASSERT_EQUAL(d->kernel_init, LP_INIT_HE_UNIFORM);
    CU_ASSERT_EQUAL(d->bias_init, LP_INIT_ZEROS);
    CU_ASSERT_EQUAL(d->l2, 0.0f);
    CU_ASSERT(d->permute);
    lp_model_free(&m);

    /* Every key set; numbers in the accepted spellings. */
    s = lp_model_parse_text(IN_ FLAT_ "[dense]\nunits = 007\nbias = false\nactivation = relu\n"
                                      "init = glorot_normal\nl2 = 5.E-1\npermute = false\n",
                            "all.ini", &m);
    CU_ASSERT_EQUAL_FATAL(s, LP_OK);
    d = &m.layers[2].u.dense;
    CU_ASSERT(d->units == 7 && !d->use_bias && d->activation == LP_ACT_RELU);
    CU_ASSERT(d->kernel_init == LP_INIT_GLOROT_NORMAL && d->l2 == 0.5f && !d->permute);
    lp_model_free(&m);
    const char *l2s[] = {"0", "0.0", ".5", "5.", "1e-4", "1E+2", "-0"};
    const float want[] = {0.0f, 0.0f, 0.5f, 5.0f, 1e-4f, 100.0f, 0.0f};
    for (int i = 0; i < 7; ++i) {
        char buf[256];
        snprintf(buf, sizeof buf, IN_ FLAT_ "[dense]\nunits = 3\nl2 = %s\n", l2s[i]);
        CU_ASSERT_EQUAL_FATAL(lp_model_parse_text(buf, "l2.ini", &m), LP_OK);
        CU_ASSERT_EQUAL(m.layers[2].u.dense.l2, want[i]);
        lp_model_free(&m);
    }

    /* Default names count every layer of a kind, named or not. */
    s = lp_model_parse_text(IN_ FLAT_ "[dense]\nunits = 5\nname = hidden\n[dense]\nunits = 3\n"
                                      "[flatten]\n",
                            NULL, &m);
    CU_ASSERT_EQUAL_FATAL(s, LP_OK);
    CU_ASSERT_STRING_EQUAL(m.source, "(model text)");
    const char *names[] = {"input_1", "flatten_1", "hidden", "dense_2", "flatten_2"};
    for (int i = 0; i < 5; ++i)
        CU_ASSERT_STRING_EQUAL(m.layers[i].name, names[i]);
    /* [flatten] of a flat shape is the identity. */
    CU_ASSERT(m.layers[4].out.c == 3 && m.layers[4].out.h == 1 && m.layers[4].out.w == 1);
    lp_model_free(&m);

    /* A (c,1,1) input is already flat. */
    s = lp_model_parse_text("[input]\nchannels = 784\nheight = 1\nwidth = 1\n[dense]\nunits = 10\n",
                            "flat.ini", &m);
    CU_ASSERT_EQUAL_FATAL(s, LP_OK);
    CU_ASSERT_EQUAL(lp_model_param_count(&m), 7850);
    lp_model_free(&m);
}

/* ---- malformed text ------------------------------------------------------------------------ */

typedef struct {
    const char *text, *message;
} bad_case_;

#define NAME47_ "a234567890123456789012345678901234567890123456"
#define SECTIONS_                                                                                  \
    "input, flatten, dense, conv2d, maxpool, avgpool, globalavgpool, batchnorm, dropout, add, "    \
    "activation"
static const bad_case_ bad_cases_[] = {
    {"", "bad.ini:1: no sections (a model file starts with [input], then one section per layer)"},
    {"# nothing\n; here\n",
     "bad.ini:2: no sections (a model file starts with [input], then one section per layer)"},
    {IN_, "bad.ini:1: no layers after [input] (expected sections such as [flatten] and [dense])"},
    {"[dense]\nunits = 10\n", "bad.ini:1: first section is [dense] (a model starts with [input])"},
    {IN_ "[input]\n",
     "bad.ini:5: second [input] section (a model has exactly one, the first section; see line 1)"},
    {IN_ "[conv]\n", "bad.ini:5: unknown section [conv] (expected one of: " SECTIONS_ ")"},
    {IN_ "[Dense]\n", "bad.ini:5: unknown section [Dense] (expected one of: " SECTIONS_ ")"},
    {IN_ "[]\n", "bad.ini:5: unknown section [] (expected one of: " SECTIONS_ ")"},
    {IN_ "[flatten\n",
     "bad.ini:5: malformed section header '[flatten' (expected '[name]' alone on the line)"},
    {IN_ "[dense] units = 10\n", "bad.ini:5: malformed section header '[dense] units = 10' "
                                 "(expected '[name]' alone on the line)"},
    {IN_ "[[dense]]\n",
     "bad.ini:5: malformed section header '[[dense]]' (expected '[name]' alone on the line)"},
    {"# header\n\nunits = 10\n[input]\n",
     "bad.ini:3: key 'units' before any section (a model starts with [input])"},
    {IN_ FLAT_ "[dense]\nunits 10\n",
     "bad.ini:7: malformed line 'units 10' (expected '[section]' or 'key = value')"},
    {IN_ FLAT_ "[dense]\n= 10\n", "bad.ini:7: malformed line '= 10' (expected 'key = value')"},
    {IN_ FLAT_ "[dense]\nUnits = 10\n",
     "bad.ini:7: malformed key 'Units' (keys are lowercase identifiers such as 'units')"},
    {IN_ FLAT_ "[dense]\nunit = 10\n",
     "bad.ini:7: unknown key 'unit' in [dense] (expected one of: name, units, bias, activation, "
     "init, bias_init, l2, permute, keep, init_value, init_values, quantize)"},
    {IN_ "[flatten]\nunits = 3\n",
     "bad.ini:6: unknown key 'units' in [flatten] (expected one of: name)"},
    {"[input]\nchannels = 1\nheight = 1\nwidth = 1\nloss = l1\n[dense]\nunits = 1\n",
     "bad.ini:5: bad value 'l1' for 'loss' in [input] (expected one of: softmax-cross-entropy, "
     "mse)"},
    {"[input]\nchannels = 1\nheight = 28\ndepth = 28\n",
     "bad.ini:4: unknown key 'depth' in [input] (expected one of: name, channels, height, width, "
     "loss)"},
    {"[input]\nchannels = 1\nheight = 28\nheight = 28\nwidth = 28\n",
     "bad.ini:4: duplicate key 'height' in [input] (first set on line 3)"},
    {"[input]\nchannels = 1\nheight = 28\n[flatten]\n",
     "bad.ini:1: missing required key 'width' in [input]"},
    {IN_ FLAT_ "[dense]\nbias = false\n", "bad.ini:6: missing required key 'units' in [dense]"},
    {IN_ FLAT_ "[dense]\n[dense]\nunits = 3\n",
     "bad.ini:6: missing required key 'units' in [dense]"},
    {IN_ FLAT_ "[dense]\nunits =\n",
     "bad.ini:7: missing value for 'units' in [dense] (expected a positive integer)"},
    {IN_ FLAT_ "[dense]\nunits =   # ten\n",
     "bad.ini:7: missing value for 'units' in [dense] (expected a positive integer)"},
    {IN_ FLAT_ "[dense]\nunits = 3x\n",
     "bad.ini:7: bad value '3x' for 'units' in [dense] (expected a positive integer)"},
    {IN_ FLAT_ "[dense]\nunits = 0\n",
     "bad.ini:7: bad value '0' for 'units' in [dense] (expected a positive integer)"},
    {IN_ FLAT_ "[dense]\nunits = -5\n",
     "bad.ini:7: bad value '-5' for 'units' in [dense] (expected a positive integer)"},
    {IN_ FLAT_ "[dense]\nunits = +5\n",
     "bad.ini:7: bad value '+5' for 'units' in [dense] (expected a positive integer)"},
    {IN_ FLAT_ "[dense]\nunits = 1.5\n",
     "bad.ini:7: bad value '1.5' for 'units' in [dense] (expected a positive integer)"},
    {IN_ FLAT_ "[dense]\nunits = 1 0\n",
     "bad.ini:7: bad value '1 0' for 'units' in [dense] (expected a positive integer)"},
    {IN_ FLAT_ "[dense]\nunits = 99999999999\n",
     "bad.ini:7: value '99999999999' for 'units' in [dense] is too large (the limit is "
     "2147483647)"},
    {IN_ FLAT_ "[dense]\nunits = 10\nbias = yes\n",
     "bad.ini:8: bad value 'yes' for 'bias' in [dense] (expected true or false)"},
    {IN_ FLAT_ "[dense]\nunits = 10\npermute = True\n",
     "bad.ini:8: bad value 'True' for 'permute' in [dense] (expected true or false)"},
    {IN_ FLAT_ "[dense]\nunits = 10\nactivation = tanh\n",
     "bad.ini:8: bad value 'tanh' for 'activation' in [dense] (expected one of: none, relu)"},
    {IN_ FLAT_ "[dense]\nunits = 10\ninit = uniform\n",
     "bad.ini:8: bad value 'uniform' for 'init' in [dense] (expected one of: he_uniform, "
     "he_normal, glorot_uniform, glorot_normal, constant, choice)"},
    {IN_ FLAT_ "[dense]\nunits = 10\nbias_init = ones\n",
     "bad.ini:8: bad value 'ones' for 'bias_init' in [dense] (expected one of: zeros)"},
    {IN_ FLAT_ "[dense]\nunits = 10\nl2 = -1e-4\n",
     "bad.ini:8: bad value '-1e-4' for 'l2' in [dense] (expected a non-negative number)"},
    {IN_ FLAT_ "[dense]\nunits = 10\nl2 = nan\n",
     "bad.ini:8: bad value 'nan' for 'l2' in [dense] (expected a non-negative number)"},
    {IN_ FLAT_ "[dense]\nunits = 10\nl2 = 0x10\n",
     "bad.ini:8: bad value '0x10' for 'l2' in [dense] (expected a non-negative number)"},
    {IN_ FLAT_ "[dense]\nunits = 10\nl2 = 1e-4e\n",
     "bad.ini:8: bad value '1e-4e' for 'l2' in [dense] (expected a non-negative number)"},
    {IN_ FLAT_ "[dense]\nunits = 10\nl2 = .\n",
     "bad.ini:8: bad value '.' for 'l2' in [dense] (expected a non-negative number)"},
    {IN_ FLAT_ "[dense]\nunits = 10\nl2 = 1e39\n",
     "bad.ini:8: value '1e39' for 'l2' in [dense] is too large (the limit is 3.40282e+38)"},
    {IN_ FLAT_ "[dense]\nunits = 10\nname = 3d\n",
     "bad.ini:8: bad value '3d' for 'name' in [dense] (expected an identifier: a letter or '_', "
     "then letters, digits or '_', at most 47 characters)"},
    {IN_ FLAT_ "[dense]\nunits = 10\nname = " NAME47_ "78\n",
     "bad.ini:8: bad value '" NAME47_ "78' for 'name' in [dense] (expected an identifier: a "
     "letter or '_', then letters, digits or '_', at most 47 characters)"},
    {IN_ "[flatten]\nname =\n",
     "bad.ini:6: missing value for 'name' in [flatten] (expected an identifier: a letter or '_', "
     "then letters, digits or '_', at most 47 characters)"},
    {IN_ FLAT_ "[dense]\nunits = 10\nbias_init = zeros\nbias = false\n",
     "bad.ini:8: 'bias_init' is set but bias = false in [dense] (remove one of them)"},
    {IN_ "[dense]\nunits = 10\n", "bad.ini:5: [dense] needs a flat input but gets 1x28x28 from "
                                  "'input_1': add [flatten] before line 5"},
    {IN_ FLAT_ "[dense]\nunits = 10\nname = out\n[dense]\nunits = 10\nname = out\n",
     "bad.ini:9: duplicate layer name 'out' (already used on line 6)"},
    {IN_ FLAT_ "[dense]\nname = dense_2\nunits = 5\n[dense]\nunits = 10\n",
     "bad.ini:9: duplicate layer name 'dense_2' (already used on line 6)"},
    {"[input]\nchannels = 65536\nheight = 1\nwidth = 1\n[dense]\nunits = 65536\n",
     "bad.ini:5: [dense] kernel of 65536 x 65536 = 4294967296 weights exceeds the limit of "
     "2147483647 per tensor"},
    {"[input]\nchannels = 65536\nheight = 65536\nwidth = 1\n[flatten]\n",
     "bad.ini:1: [input] of 65536x65536x1 = 4294967296 values per sample exceeds the limit of "
     "2147483647"},
    /* Errors come in file order: the incomplete first [dense] before the unknown section. */
    {IN_ FLAT_ "[dense]\n[conv]\n", "bad.ini:6: missing required key 'units' in [dense]"},
    /* A long value is echoed cut short. */
    {IN_ FLAT_ "[dense]\nunits = 1234567890123456789012345678901234567890123456789012345678901x\n",
     "bad.ini:7: bad value '123456789012345678901234567890123456789012345678901234567890...' for "
     "'units' in [dense] (expected a positive integer)"},
};

#define SIZE2_ "(expected a positive integer, or height x width such as 5x3)"
#define SPATIAL_ "needs a spatial input (channels x height x width) but gets the flat shape"
#define VALID_ "(padding = valid needs the "
#define SAME8_ "[conv2d]\nfilters = 8\nkernel = 3\npadding = same\n" /* 4 lines, 8x28x28 */
static const bad_case_ bad_layer_cases_[] = {
    /* [conv2d] */
    {IN_ CONV_ "kernel = 3x\n", "bad.ini:7: bad value '3x' for 'kernel' in [conv2d] " SIZE2_},
    {IN_ CONV_ "kernel = 0\n", "bad.ini:7: bad value '0' for 'kernel' in [conv2d] " SIZE2_},
    {IN_ CONV_ "kernel = 3x0\n", "bad.ini:7: bad value '3x0' for 'kernel' in [conv2d] " SIZE2_},
    {IN_ CONV_ "kernel = x3\n", "bad.ini:7: bad value 'x3' for 'kernel' in [conv2d] " SIZE2_},
    {IN_ CONV_ "kernel = 3x3x3\n", "bad.ini:7: bad value '3x3x3' for 'kernel' in [conv2d] " SIZE2_},
    {IN_ CONV_ "kernel = 3X3\n", "bad.ini:7: bad value '3X3' for 'kernel' in [conv2d] " SIZE2_},
    {IN_ CONV_ "kernel = 3 x 3\n", "bad.ini:7: bad value '3 x 3' for 'kernel' in [conv2d] " SIZE2_},
    {IN_ CONV_ "kernel = -3\n", "bad.ini:7: bad value '-3' for 'kernel' in [conv2d] " SIZE2_},
    {IN_ CONV_ "kernel = 99999999999\n",
     "bad.ini:7: value '99999999999' for 'kernel' in [conv2d] is too large (the limit is "
     "2147483647)"},
    {IN_ CONV_ "kernel = 3x99999999999\n",
     "bad.ini:7: value '3x99999999999' for 'kernel' in [conv2d] is too large (the limit is "
     "2147483647)"},
    {IN_ CONV_ "kernel = 3\nstride = 0\n",
     "bad.ini:8: bad value '0' for 'stride' in [conv2d] " SIZE2_},
    {IN_ CONV_ "kernel = 3\nstride = 2x\n",
     "bad.ini:8: bad value '2x' for 'stride' in [conv2d] " SIZE2_},
    {IN_ CONV_ "kernel = 3\npadding = full\n",
     "bad.ini:8: bad value 'full' for 'padding' in [conv2d] (expected one of: valid, same)"},
    {IN_ CONV_ "kernel = 3\npadding = SAME\n",
     "bad.ini:8: bad value 'SAME' for 'padding' in [conv2d] (expected one of: valid, same)"},
    {IN_ CONV_ "kernel = 3\nactivation = tanh\n",
     "bad.ini:8: bad value 'tanh' for 'activation' in [conv2d] (expected one of: none, relu)"},
    {IN_ CONV_ "kernel = 3\nkernel = 5\n",
     "bad.ini:8: duplicate key 'kernel' in [conv2d] (first set on line 7)"},
    {IN_ "[conv2d]\nkernel = 3\n", "bad.ini:5: missing required key 'filters' in [conv2d]"},
    {IN_ CONV_, "bad.ini:5: missing required key 'kernel' in [conv2d]"},
    {IN_ CONV_ "size = 3\n",
     "bad.ini:7: unknown key 'size' in [conv2d] (expected one of: name, filters, kernel, stride, "
     "padding, bias, activation, init, bias_init, l2, permute, keep, init_value, init_values, "
     "quantize)"},
    {IN_ CONV_ "kernel = 3\nbias = false\nbias_init = zeros\n",
     "bad.ini:9: 'bias_init' is set but bias = false in [conv2d] (remove one of them)"},
    {IN_ FLAT_ CONV_ "kernel = 3\n", "bad.ini:6: [conv2d] " SPATIAL_ " 784 from 'flatten_1'"},
    {IN3_(1, 4, 6) "[conv2d]\nfilters = 2\nkernel = 5\n",
     "bad.ini:5: impossible shape: [conv2d] kernel 5x5 does not fit its 4x6 input from "
     "'input_1' " VALID_ "kernel inside the input; use padding = same or a smaller kernel)"},
    {IN3_(1, 4, 6) "[conv2d]\nfilters = 2\nkernel = 3x7\nstride = 2\n",
     "bad.ini:5: impossible shape: [conv2d] kernel 3x7 does not fit its 4x6 input from "
     "'input_1' " VALID_ "kernel inside the input; use padding = same or a smaller kernel)"},
    {IN3_(65536, 2, 2) "[conv2d]\nfilters = 65536\nkernel = 1\n",
     "bad.ini:5: [conv2d] kernel of 65536 x 65536 x 1 x 1 = 4294967296 weights exceeds the limit "
     "of 2147483647 per tensor"},
    {IN3_(1, 32768, 32768) "[conv2d]\nfilters = 2\nkernel = 1\n",
     "bad.ini:5: [conv2d] output of 2x32768x32768 = 2147483648 values per sample exceeds the "
     "limit of 2147483647"},
    /* Sizes multiply without overflowing (the fuzzer's kernel = 2147483647 with padding =
     * same), the padded input counts like an activation, and so does every parameter. */
    {IN_ CONV_ "kernel = 2147483647\npadding = same\n",
     "bad.ini:5: [conv2d] kernel of 8 x 1 x 2147483647 x 2147483647 = 9223372036854775807 or "
     "more weights exceeds the limit of 2147483647 per tensor"},
    {IN_ "[conv2d]\nfilters = 1\npadding = same\nkernel = 2147483647x1\n",
     "bad.ini:8: 'kernel' = 2147483647x1 with padding = same in [conv2d] pads its 1x28x28 input "
     "from 'input_1' to a side of more than 2147483647 (use a smaller kernel)"},
    {IN_ "[conv2d]\nfilters = 1\nkernel = 2147483620x1\nstride = 1x2147483647\npadding = same\n",
     "bad.ini:7: 'kernel' = 2147483620x1 with padding = same in [conv2d] pads its 1x28x28 input "
     "from 'input_1' to 1x2147483647x28 = 60129542116 values per sample, above the limit of "
     "2147483647 (use a smaller kernel)"},
    {IN_ "[maxpool]\nsize = 2147483647\npadding = same\n",
     "bad.ini:6: 'size' = 2147483647x2147483647 with padding = same in [maxpool] pads its "
     "1x28x28 input from 'input_1' to 1x2147483647x2147483647 = 4611686014132420609 values per "
     "sample, above the limit of 2147483647 (use a smaller window)"},
    {IN_ "[avgpool]\nsize = 50000\nstride = 1\npadding = same\n",
     "bad.ini:6: 'size' = 50000x50000 with padding = same in [avgpool] pads its 1x28x28 input "
     "from 'input_1' to 1x50027x50027 = 2502700729 values per sample, above the limit of "
     "2147483647 (use a smaller window)"},
    {IN3_(2097152, 2097152, 2097152) "[flatten]\n",
     "bad.ini:1: [input] of 2097152x2097152x2097152 = 9223372036854775807 or more values per "
     "sample exceeds the limit of 2147483647"},
    {IN3_(65536, 1, 1) "[dense]\nunits = 32767\n[dense]\nunits = 65536\n",
     "bad.ini:7: [dense] 'dense_2' brings the model to 4294934527 parameters, above the limit of "
     "2147483647 (all parameters share one buffer indexed with int)"},
    {IN_ CONV_ "kernel = 3\n[dense]\nunits = 10\n",
     "bad.ini:8: [dense] needs a flat input but gets 8x26x26 from 'conv2d_1': add [flatten] "
     "before line 8"},
    {IN_ CONV_ "kernel = 1\nname = conv2d_2\n" CONV_ "kernel = 1\n",
     "bad.ini:9: duplicate layer name 'conv2d_2' (already used on line 5)"},
    /* [maxpool], [avgpool], [globalavgpool] */
    {IN_ "[maxpool]\nstride = 2\n", "bad.ini:5: missing required key 'size' in [maxpool]"},
    {IN_ "[maxpool]\nsize = 2x\n", "bad.ini:6: bad value '2x' for 'size' in [maxpool] " SIZE2_},
    {IN_ "[avgpool]\nsize = 2\nstride = 0\n",
     "bad.ini:7: bad value '0' for 'stride' in [avgpool] " SIZE2_},
    {IN_ "[avgpool]\nsize = 2\npadding = full\n",
     "bad.ini:7: bad value 'full' for 'padding' in [avgpool] (expected one of: valid, same)"},
    {IN_ "[maxpool]\nsize = 2\nkernel = 2\n",
     "bad.ini:7: unknown key 'kernel' in [maxpool] (expected one of: name, size, stride, "
     "padding)"},
    {IN_ "[maxpool]\nsize = 29\n",
     "bad.ini:5: impossible shape: [maxpool] window 29x29 does not fit its 28x28 input from "
     "'input_1' " VALID_ "window inside the input; use padding = same or a smaller window)"},
    {IN_ "[avgpool]\nsize = 2x29\npadding = valid\n",
     "bad.ini:5: impossible shape: [avgpool] window 2x29 does not fit its 28x28 input from "
     "'input_1' " VALID_ "window inside the input; use padding = same or a smaller window)"},
    {IN_ FLAT_ "[maxpool]\nsize = 2\n", "bad.ini:6: [maxpool] " SPATIAL_ " 784 from 'flatten_1'"},
    {IN_ FLAT_ "[avgpool]\nsize = 2\n", "bad.ini:6: [avgpool] " SPATIAL_ " 784 from 'flatten_1'"},
    {IN_ "[maxpool]\nsize = 2\n[dense]\nunits = 10\n",
     "bad.ini:7: [dense] needs a flat input but gets 1x14x14 from 'maxpool_1': add [flatten] "
     "before line 7"},
    {IN_ "[globalavgpool]\nsize = 2\n",
     "bad.ini:6: unknown key 'size' in [globalavgpool] (expected one of: name)"},
    {IN_ FLAT_ "[globalavgpool]\n", "bad.ini:6: [globalavgpool] " SPATIAL_ " 784 from 'flatten_1'"},
    /* a 1x1 map is flat: (c,1,1) is the flat shape */
    {IN3_(1, 4, 4) "[conv2d]\nfilters = 3\nkernel = 4\n[globalavgpool]\n",
     "bad.ini:8: [globalavgpool] " SPATIAL_ " 3 from 'conv2d_1'"},
    /* [batchnorm] */
    {IN_ "[batchnorm]\neps = 0\n",
     "bad.ini:6: bad value '0' for 'eps' in [batchnorm] (expected a positive number)"},
    {IN_ "[batchnorm]\neps = 1e-50\n",
     "bad.ini:6: bad value '1e-50' for 'eps' in [batchnorm] (expected a positive number)"},
    {IN_ "[batchnorm]\neps = -1e-3\n",
     "bad.ini:6: bad value '-1e-3' for 'eps' in [batchnorm] (expected a positive number)"},
    {IN_ "[batchnorm]\neps = 1e39\n",
     "bad.ini:6: value '1e39' for 'eps' in [batchnorm] is too large (the limit is 3.40282e+38)"},
    {IN_ "[batchnorm]\nmomentum = 1.5\n",
     "bad.ini:6: bad value '1.5' for 'momentum' in [batchnorm] (expected a number from 0 to 1)"},
    {IN_ "[batchnorm]\nmomentum = -0.1\n",
     "bad.ini:6: bad value '-0.1' for 'momentum' in [batchnorm] (expected a number from 0 to 1)"},
    {IN_ "[batchnorm]\nactivation = sigmoid\n",
     "bad.ini:6: bad value 'sigmoid' for 'activation' in [batchnorm] (expected one of: none, "
     "relu)"},
    {IN_ "[batchnorm]\npermute = 1\n",
     "bad.ini:6: bad value '1' for 'permute' in [batchnorm] (expected true or false)"},
    {IN_ "[batchnorm]\nscale = true\n",
     "bad.ini:6: unknown key 'scale' in [batchnorm] (expected one of: name, momentum, eps, "
     "activation, permute)"},
    /* [dropout] */
    {IN_ "[dropout]\n", "bad.ini:5: missing required key 'rate' in [dropout]"},
    {IN_ "[dropout]\nrate = 1.0\n",
     "bad.ini:6: bad value '1.0' for 'rate' in [dropout] (expected a number >= 0 and < 1)"},
    {IN_ "[dropout]\nrate = 1\n",
     "bad.ini:6: bad value '1' for 'rate' in [dropout] (expected a number >= 0 and < 1)"},
    {IN_ "[dropout]\nrate = 0.999999999\n", /* 1.0 as a float */
     "bad.ini:6: bad value '0.999999999' for 'rate' in [dropout] (expected a number >= 0 and "
     "< 1)"},
    {IN_ "[dropout]\nrate = -0.1\n",
     "bad.ini:6: bad value '-0.1' for 'rate' in [dropout] (expected a number >= 0 and < 1)"},
    {IN_ "[dropout]\nrate = 1e39\n",
     "bad.ini:6: bad value '1e39' for 'rate' in [dropout] (expected a number >= 0 and < 1)"},
    {IN_ "[dropout]\nrate = 50%\n",
     "bad.ini:6: bad value '50%' for 'rate' in [dropout] (expected a number >= 0 and < 1)"},
    {IN_ "[dropout]\nrate =\n",
     "bad.ini:6: missing value for 'rate' in [dropout] (expected a number >= 0 and < 1)"},
    {IN_ "[dropout]\nrate = 0.5\nsize = 2\n",
     "bad.ini:7: unknown key 'size' in [dropout] (expected one of: name, rate)"},
    /* [add]: lines 5-8 are a conv to 8x28x28 (SAME8_), the add opens on line 9 */
    {IN_ SAME8_ "[add]\n", "bad.ini:9: missing required key 'from' in [add]"},
    {IN_ SAME8_ "[add]\nfrom = nope\n",
     "bad.ini:10: 'from' = 'nope' in [add] names no layer above line 9 (expected the name of an "
     "earlier layer)"},
    {IN_ SAME8_ "[add]\nname = a\nfrom = a\n",
     "bad.ini:11: 'from' = 'a' in [add] names no layer above line 9 (expected the name of an "
     "earlier layer)"},
    {IN_ SAME8_ "[add]\nfrom = later\n" SAME8_ "name = later\n",
     "bad.ini:10: 'from' = 'later' in [add] names no layer above line 9 (expected the name of an "
     "earlier layer)"},
    {IN_ SAME8_ "[add]\nfrom = conv2d_1\n",
     "bad.ini:10: 'from' = 'conv2d_1' in [add] names the previous layer, which is already the "
     "other input (expected an earlier layer, such as the block's input)"},
    {IN_ SAME8_ "[add]\nfrom = 1x\n",
     "bad.ini:10: bad value '1x' for 'from' in [add] (expected an identifier: a letter or '_', "
     "then letters, digits or '_', at most 47 characters)"},
    {IN_ SAME8_ "[add]\nfrom = input_1\n",
     "bad.ini:9: [add] cannot add 1x28x28 from 'input_1' (line 1) to 8x28x28 from 'conv2d_1' "
     "(line 5): without a projection the shapes must be equal (set projection = true for a 1x1 "
     "convolution shortcut)"},
    {IN_ SAME8_ "[conv2d]\nfilters = 8\nkernel = 3\n[add]\nfrom = conv2d_1\n",
     "bad.ini:12: [add] cannot add 8x28x28 from 'conv2d_1' (line 5) to 8x26x26 from 'conv2d_2' "
     "(line 9): without a projection the shapes must be equal (set projection = true for a 1x1 "
     "convolution shortcut)"},
    {IN_ SAME8_ "[add]\nfrom = input_1\nprojection = yes\n",
     "bad.ini:11: bad value 'yes' for 'projection' in [add] (expected true or false)"},
    {IN_ SAME8_ "[add]\nfrom = input_1\nactivation = tanh\n",
     "bad.ini:11: bad value 'tanh' for 'activation' in [add] (expected one of: none, relu)"},
    {IN_ SAME8_ "[add]\nfrom = input_1\nstride = 2\n",
     "bad.ini:11: unknown key 'stride' in [add] (expected one of: name, from, projection, "
     "activation, init, bias, l2, permute, keep, init_value, init_values, quantize)"},
    {IN_ SAME8_ "[conv2d]\nfilters = 8\nkernel = 1\n[add]\nfrom = conv2d_1\nl2 = 1e-4\n",
     "bad.ini:14: 'l2' is set but projection = false in [add] (it describes the projection: "
     "remove it or set projection = true)"},
    {IN_ SAME8_ "[conv2d]\nfilters = 8\nkernel = 1\n[add]\nfrom = conv2d_1\nprojection = false\n"
                "permute = false\ninit = he_normal\n",
     "bad.ini:15: 'permute' is set but projection = false in [add] (it describes the "
     "projection: remove it or set projection = true)"},
    {IN_ "[conv2d]\nfilters = 8\nkernel = 3\nstride = 2\n[add]\nfrom = input_1\n"
         "projection = true\n",
     "bad.ini:9: [add] cannot project 1x28x28 from 'input_1' (line 1) onto 8x13x13 from "
     "'conv2d_1' (line 5): the projection is a 1x1 convolution whose stride is the ratio of the "
     "sizes, so the height and width of 'input_1' must be whole multiples of those of "
     "'conv2d_1'"},
    {IN3_(2, 8, 8) "[conv2d]\nfilters = 4\nkernel = 1\nstride = 1x3\npadding = same\n"
                   "[conv2d]\nfilters = 4\nkernel = 1\n[add]\nfrom = input_1\n"
                   "projection = true\n",
     "bad.ini:13: [add] cannot project 2x8x8 from 'input_1' (line 1) onto 4x8x3 from "
     "'conv2d_2' (line 10): the projection is a 1x1 convolution whose stride is the ratio of the "
     "sizes, so the height and width of 'input_1' must be whole multiples of those of "
     "'conv2d_2'"},
    {IN3_(2, 4, 4) "[conv2d]\nfilters = 3\nkernel = 3\n[conv2d]\nfilters = 5\nkernel = 2\n"
                   "[add]\nfrom = input_1\nprojection = true\n",
     "bad.ini:11: [add] cannot project 2x4x4 from 'input_1' (line 1) onto 5 from 'conv2d_2' "
     "(line 8): a projection maps a spatial shape to a spatial one or a flat shape to a flat "
     "one"},
    {IN3_(65536, 1, 1) "[dense]\nunits = 1\n[dense]\nunits = 65537\n[add]\n"
                       "from = input_1\nprojection = true\n",
     "bad.ini:9: [add] projection kernel of 65537 x 65536 = 4295032832 weights exceeds the limit "
     "of 2147483647 per tensor"},
};

/* The initial-value keys (keep, init_value, init_values, quantize): bad values and
 * combinations, each naming its line. */
#define D10_ IN_ FLAT_ "[dense]\nunits = 10\n" /* [dense] on line 6, units on 7 */
static const bad_case_ bad_init_cases_[] = {
    {D10_ "keep = 0\n",
     "bad.ini:8: bad value '0' for 'keep' in [dense] (expected a number > 0 and <= 1)"},
    {D10_ "keep = 1.5\n",
     "bad.ini:8: bad value '1.5' for 'keep' in [dense] (expected a number > 0 and <= 1)"},
    {D10_ "keep = -0.5\n",
     "bad.ini:8: bad value '-0.5' for 'keep' in [dense] (expected a number > 0 and <= 1)"},
    {D10_ "keep = 1e-60\n",
     "bad.ini:8: bad value '1e-60' for 'keep' in [dense] (expected a number > 0 and <= 1)"},
    {D10_ "keep =\n",
     "bad.ini:8: missing value for 'keep' in [dense] (expected a number > 0 and <= 1)"},
    {D10_ "quantize = 1\n",
     "bad.ini:8: bad value '1' for 'quantize' in [dense] (expected an integer >= 2)"},
    {D10_ "quantize = 2.5\n",
     "bad.ini:8: bad value '2.5' for 'quantize' in [dense] (expected an integer >= 2)"},
    {D10_ "init = choice\ninit_values =\n",
     "bad.ini:9: missing value for 'init_values' in [dense] (expected a comma-separated list of "
     "1 to 16 numbers, such as -0.05,0.05)"},
    {D10_ "init = choice\ninit_values = 1,,2\n",
     "bad.ini:9: bad value '1,,2' for 'init_values' in [dense] (item 2 is '': expected a "
     "comma-separated list of 1 to 16 numbers within +-3.40282e+38, such as -0.05,0.05)"},
    {D10_ "init = choice\ninit_values = 0,1,\n",
     "bad.ini:9: bad value '0,1,' for 'init_values' in [dense] (item 3 is '': expected a "
     "comma-separated list of 1 to 16 numbers within +-3.40282e+38, such as -0.05,0.05)"},
    {D10_ "init = choice\ninit_values = 0,x\n",
     "bad.ini:9: bad value '0,x' for 'init_values' in [dense] (item 2 is 'x': expected a "
     "comma-separated list of 1 to 16 numbers within +-3.40282e+38, such as -0.05,0.05)"},
    {D10_ "init = choice\ninit_values = 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17\n",
     "bad.ini:9: bad value '1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17' for 'init_values' in "
     "[dense] (expected at most 16 values)"},
    {D10_ "init_values = 0,1\n",
     "bad.ini:8: 'init_values' is set but init is he_uniform in [dense] (it is for init = "
     "choice: set that or remove 'init_values')"},
    {D10_ "init = constant\ninit_value = 0.1\ninit_values = 0,1\n",
     "bad.ini:10: 'init_values' is set but init is constant in [dense] (it is for init = "
     "choice: set that or remove 'init_values')"},
    {D10_ "init_value = 0.08\ninit = he_normal\n",
     "bad.ini:8: 'init_value' is set but init is he_normal in [dense] (it is for init = "
     "constant: set that or remove 'init_value')"},
    {D10_ "init = constant\n", "bad.ini:8: init = constant needs 'init_value' in [dense]"},
    {D10_ "init = choice\n", "bad.ini:8: init = choice needs 'init_values' in [dense]"},
    {D10_ "init = constant\ninit_value = 1e39\n",
     "bad.ini:9: value '1e39' for 'init_value' in [dense] is too large (the limit is "
     "3.40282e+38 in magnitude)"},
    {D10_ "init = constant\ninit_value = abc\n",
     "bad.ini:9: bad value 'abc' for 'init_value' in [dense] (expected a number)"},
    {IN_ CONV_ "kernel = 3\ninit = constant\n",
     "bad.ini:8: init = constant needs 'init_value' in [conv2d]"},
    {IN_ CONV_ "kernel = 3\nquantize = 0\n",
     "bad.ini:8: bad value '0' for 'quantize' in [conv2d] (expected an integer >= 2)"},
    {IN_ SAME8_ "[conv2d]\nfilters = 8\nkernel = 1\n[add]\nfrom = conv2d_1\nkeep = 0.5\n",
     "bad.ini:14: 'keep' is set but projection = false in [add] (it describes the projection: "
     "remove it or set projection = true)"},
    {IN_ SAME8_ "[conv2d]\nfilters = 8\nkernel = 1\n[add]\nfrom = conv2d_1\nprojection = true\n"
                "init_value = 0.5\n",
     "bad.ini:15: 'init_value' is set but init is he_uniform in [add] (it is for init = "
     "constant: set that or remove 'init_value')"},
};

static void check_bad_cases_(const bad_case_ *cases, int n) {
    for (int i = 0; i < n; ++i) {
        lp_model_spec m;
        memset(&m, 0xab, sizeof m); /* a failed parse must zero it */
        lp_clear_error();
        lp_status s = lp_model_parse_text(cases[i].text, "bad.ini", &m);
        bool same = strcmp(lp_last_error(), cases[i].message) == 0;
        if (s != LP_ERR_FORMAT || !same)
            printf("\n  case %d: status %s\n    got:  %s\n    want: %s\n", i, lp_status_name(s),
                   lp_last_error(), cases[i].message);
        CU_ASSERT_EQUAL(s, LP_ERR_FORMAT);
        CU_ASSERT(same);
        CU_ASSERT(m.layers == NULL && m.n_layers == 0 && m.source == NULL && m.text == NULL);
        lp_model_free(&m);
    }
}

static void test_bad_input(void) {
    check_bad_cases_(bad_cases_, (int)(sizeof bad_cases_ / sizeof bad_cases_[0]));
}

static void test_bad_layers(void) {
    check_bad_cases_(bad_layer_cases_, (int)(sizeof bad_layer_cases_ / sizeof bad_layer_cases_[0]));
}

static void test_bad_init_keys(void) {
    check_bad_cases_(bad_init_cases_, (int)(sizeof bad_init_cases_ / sizeof bad_init_cases_[0]));
}

/* The keys reach the kernel's tensor (and only the kernel's), with -0 read as +0. */
static void test_init_keys(void) {
    const char *text = IN_ "[conv2d]\nfilters = 4\nkernel = 3\nkeep = 0.3\nquantize = 4\n"
                           "[flatten]\n[dense]\nunits = 10\ninit = choice\n"
                           "init_values = -0.05, -0, 0.05 \nkeep = 1\n"
                           "[dense]\nunits = 3\ninit = constant\ninit_value = -0.25\n";
    lp_model_spec m;
    CU_ASSERT_EQUAL_FATAL(lp_model_parse_text(text, "ok.ini", &m), LP_OK);
    lp_param_tensor *t = NULL;
    int n = 0;
    CU_ASSERT_EQUAL_FATAL(lp_model_params(&m, &t, &n), LP_OK);
    CU_ASSERT_EQUAL_FATAL(n, 6);
    CU_ASSERT(t[0].init == LP_INIT_HE_UNIFORM && t[0].init_opts.keep == 0.3f &&
              t[0].init_opts.quantize == 4);
    CU_ASSERT(t[1].init_opts.keep == 0.0f && t[1].init_opts.quantize == 0); /* bias */
    CU_ASSERT(t[2].init == LP_INIT_CHOICE && t[2].init_opts.values.n == 3 &&
              t[2].init_opts.keep == 1.0f);
    CU_ASSERT(t[2].init_opts.values.v[0] == -0.05f && t[2].init_opts.values.v[2] == 0.05f);
    uint32_t bits;
    memcpy(&bits, &t[2].init_opts.values.v[1], sizeof bits);
    CU_ASSERT_EQUAL(bits, 0u);
    CU_ASSERT(t[4].init == LP_INIT_CONSTANT && t[4].init_opts.value == -0.25f);
    free(t);
    char buf[4096];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(lp_model_summary(&m, f), LP_OK);
    fclose(f);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "init he_uniform, quantize 4, keep 0.3, bias"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "init choice -0.05,0,0.05, bias"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "init constant -0.25, bias"));
    lp_model_free(&m);
}

/* ---- files --------------------------------------------------------------------------------- */

static const char *write_file_(const char *name, const char *bytes, size_t n) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", lp_test_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(bytes, 1, n, f), n);
    fclose(f);
    return path;
}

static void test_files(void) {
    lp_model_spec m;
    char want[1024];
    const char *missing = lp_test_source_path("models/no-such-model.ini");
    CU_ASSERT_EQUAL(lp_model_load(missing, &m), LP_ERR_IO);
    snprintf(want, sizeof want, "cannot open model file '%s': No such file or directory", missing);
    CU_ASSERT_STRING_EQUAL(lp_last_error(), want);
    CU_ASSERT_PTR_NULL(m.layers);

    const char *path = write_file_("empty.ini", "", 0);
    CU_ASSERT_EQUAL(lp_model_load(path, &m), LP_ERR_FORMAT);
    snprintf(want, sizeof want,
             "%s:1: no sections (a model file starts with [input], then one section per layer)",
             path);
    CU_ASSERT_STRING_EQUAL(lp_last_error(), want);

    path = write_file_("nul.ini", "[input]\0x", 9);
    CU_ASSERT_EQUAL(lp_model_load(path, &m), LP_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: contains a NUL byte: not a text model file", path);
    CU_ASSERT_STRING_EQUAL(lp_last_error(), want);

    const char *text = IN_ FLAT_ "[dense]\nunits = 4\n";
    path = write_file_("ok.ini", text, strlen(text));
    CU_ASSERT_EQUAL_FATAL(lp_model_load(path, &m), LP_OK);
    CU_ASSERT_STRING_EQUAL(m.text, text);
    CU_ASSERT_STRING_EQUAL(m.source, path);
    lp_model_free(&m);
    CU_ASSERT_PTR_NULL(m.layers);
    lp_model_free(&m); /* twice is harmless */
    lp_model_free(NULL);
}

/* ---- parameter table and summary ------------------------------------------------------------ */

static void test_params(void) {
    lp_model_spec m;
    CU_ASSERT_EQUAL_FATAL(lp_model_load(lp_test_source_path("models/lenet300.ini"), &m), LP_OK);
    lp_param_tensor *t = NULL;
    int n = 0;
    CU_ASSERT_EQUAL_FATAL(lp_model_params(&m, &t, &n), LP_OK);
    CU_ASSERT_EQUAL_FATAL(n, 6);
    const int layer[] = {2, 2, 3, 3, 4, 4}, d0[] = {300, 300, 100, 100, 10, 10},
              d1[] = {784, 0, 300, 0, 100, 0};
    const size_t offset[] = {0, 235200, 235500, 265500, 265600, 266600};
    size_t sum = 0;
    for (int i = 0; i < n; ++i) {
        bool kernel = i % 2 == 0;
        CU_ASSERT_EQUAL(t[i].layer, layer[i]);
        CU_ASSERT_STRING_EQUAL(t[i].name, kernel ? "kernel" : "bias");
        CU_ASSERT_EQUAL(t[i].is_kernel, kernel);
        CU_ASSERT_EQUAL(t[i].rank, kernel ? 2 : 1);
        CU_ASSERT_EQUAL(t[i].dims[0], d0[i]);
        CU_ASSERT_EQUAL(t[i].dims[1], d1[i]);
        CU_ASSERT_EQUAL(t[i].count, kernel ? (size_t)d0[i] * (size_t)d1[i] : (size_t)d0[i]);
        CU_ASSERT_EQUAL(t[i].offset, offset[i]);
        CU_ASSERT_EQUAL(t[i].fan_in, m.layers[layer[i]].in.c);
        CU_ASSERT_EQUAL(t[i].fan_out, d0[i]);
        CU_ASSERT_EQUAL(t[i].init, kernel ? LP_INIT_HE_UNIFORM : LP_INIT_ZEROS);
        CU_ASSERT_EQUAL(t[i].permute_default, kernel);
        CU_ASSERT_EQUAL(t[i].groups, kernel ? d0[i] : 1);
        CU_ASSERT_EQUAL(t[i].group_size, kernel ? d1[i] : d0[i]);
        CU_ASSERT_EQUAL((size_t)t[i].groups * (size_t)t[i].group_size, t[i].count);
        sum += t[i].count;
    }
    CU_ASSERT_EQUAL(sum, lp_model_param_count(&m));
    free(t);
    lp_model_free(&m);

    CU_ASSERT_EQUAL_FATAL(lp_model_load(lp_test_source_path("models/f2.ini"), &m), LP_OK);
    CU_ASSERT_EQUAL_FATAL(lp_model_params(&m, &t, &n), LP_OK);
    CU_ASSERT_EQUAL(n, 3);
    for (int i = 0; i < n; ++i)
        CU_ASSERT(t[i].is_kernel && t[i].l2 == 1e-4f);
    free(t);
    lp_model_free(&m);

    /* No weights at all: an empty (but freeable) table. */
    CU_ASSERT_EQUAL_FATAL(lp_model_parse_text(IN_ FLAT_, "flat.ini", &m), LP_OK);
    CU_ASSERT_EQUAL(lp_model_params(&m, &t, &n), LP_OK);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_PTR_NOT_NULL(t);
    CU_ASSERT_EQUAL(lp_model_param_count(&m), 0);
    free(t);
    lp_model_free(&m);
}

/* Conv and BatchNorm tensors: layout, LaPerm groups, fans, initialisers, permute flags. */
#define TABLE_MODEL_                                                                               \
    IN3_(3, 8, 8)                                                                                  \
    "[conv2d]\nfilters = 4\nkernel = 5x3\nstride = 2\npadding = same\nl2 = 1e-4\n"                 \
    "[batchnorm]\n"                                                                                \
    "[conv2d]\nfilters = 2\nkernel = 1\nbias = false\npermute = false\ninit = glorot_uniform\n"    \
    "[batchnorm]\npermute = true\n"                                                                \
    "[flatten]\n[dense]\nunits = 10\n[batchnorm]\n"

static void test_conv_params(void) {
    typedef struct {
        int layer;
        const char *name;
        int rank, dims[4];
        size_t count, offset;
        int fan_in, fan_out;
        lp_init_kind init;
        float l2;
        bool kernel, permute;
        int groups, group_size;
    } want_;
    const want_ want[] = {
        {1,
         "kernel",
         4,
         {4, 3, 5, 3},
         180,
         0,
         45,
         60,
         LP_INIT_HE_UNIFORM,
         1e-4f,
         true,
         true,
         4,
         45},
        {1, "bias", 1, {4}, 4, 180, 45, 60, LP_INIT_ZEROS, 0.0f, false, false, 1, 4},
        {2, "gamma", 1, {4}, 4, 184, 4, 4, LP_INIT_ONES, 0.0f, false, false, 1, 4},
        {2, "beta", 1, {4}, 4, 188, 4, 4, LP_INIT_ZEROS, 0.0f, false, false, 1, 4},
        {3,
         "kernel",
         4,
         {2, 4, 1, 1},
         8,
         192,
         4,
         2,
         LP_INIT_GLOROT_UNIFORM,
         0.0f,
         true,
         false,
         2,
         4},
        {4, "gamma", 1, {2}, 2, 200, 2, 2, LP_INIT_ONES, 0.0f, false, true, 1, 2},
        {4, "beta", 1, {2}, 2, 202, 2, 2, LP_INIT_ZEROS, 0.0f, false, true, 1, 2},
        {6, "kernel", 2, {10, 32}, 320, 204, 32, 10, LP_INIT_HE_UNIFORM, 0.0f, true, true, 10, 32},
        {6, "bias", 1, {10}, 10, 524, 32, 10, LP_INIT_ZEROS, 0.0f, false, false, 1, 10},
        {7, "gamma", 1, {10}, 10, 534, 10, 10, LP_INIT_ONES, 0.0f, false, false, 1, 10},
        {7, "beta", 1, {10}, 10, 544, 10, 10, LP_INIT_ZEROS, 0.0f, false, false, 1, 10},
    };
    const int n_want = (int)(sizeof want / sizeof want[0]);
    lp_model_spec m;
    lp_status s = lp_model_parse_text(TABLE_MODEL_, "table.ini", &m);
    if (s != LP_OK) printf("\n  %s\n", lp_last_error());
    CU_ASSERT_EQUAL_FATAL(s, LP_OK);
    CU_ASSERT(m.layers[1].out.c == 4 && m.layers[1].out.h == 4 && m.layers[1].out.w == 4);
    CU_ASSERT_EQUAL(m.layers[5].out.c, 32);
    lp_param_tensor *t = NULL;
    int n = 0;
    CU_ASSERT_EQUAL_FATAL(lp_model_params(&m, &t, &n), LP_OK);
    CU_ASSERT_EQUAL_FATAL(n, n_want);
    for (int i = 0; i < n; ++i) {
        const want_ *w = &want[i];
        CU_ASSERT_EQUAL(t[i].layer, w->layer);
        CU_ASSERT_STRING_EQUAL(t[i].name, w->name);
        CU_ASSERT_EQUAL(t[i].rank, w->rank);
        size_t product = 1;
        for (int d = 0; d < 4; ++d) {
            CU_ASSERT_EQUAL(t[i].dims[d], d < w->rank ? w->dims[d] : 0);
            if (d < t[i].rank) product *= (size_t)t[i].dims[d];
        }
        CU_ASSERT_EQUAL(t[i].count, w->count);
        CU_ASSERT_EQUAL(product, w->count);
        CU_ASSERT_EQUAL(t[i].offset, w->offset);
        CU_ASSERT_EQUAL(t[i].fan_in, w->fan_in);
        CU_ASSERT_EQUAL(t[i].fan_out, w->fan_out);
        CU_ASSERT_EQUAL(t[i].init, w->init);
        CU_ASSERT_EQUAL(t[i].l2, w->l2);
        CU_ASSERT_EQUAL(t[i].is_kernel, w->kernel);
        CU_ASSERT_EQUAL(t[i].permute_default, w->permute);
        CU_ASSERT_EQUAL(t[i].groups, w->groups);
        CU_ASSERT_EQUAL(t[i].group_size, w->group_size);
        CU_ASSERT_EQUAL((size_t)t[i].groups * (size_t)t[i].group_size, t[i].count);
    }
    CU_ASSERT_EQUAL(lp_model_param_count(&m), 554);
    free(t);

    /* Gamma/beta with permute = true count as permuted; so the totals no longer speak of
     * kernels only. */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(lp_model_summary(&m, f), LP_OK);
    fclose(f);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "total params: 554 in 11 tensors\n"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(buf, "permuted params: 504 in 16 groups (layers with permute = true)\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf,
                                  "  conv2d_1     conv2d     4x4x4                 184  kernel "
                                  "5x3, stride 2, padding same, no activation, init "
                                  "he_uniform, bias, l2 0.0001, permuted\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf,
                                  "  conv2d_2     conv2d     2x4x4                   8  kernel "
                                  "1x1, stride 1, padding valid, no activation, init "
                                  "glorot_uniform, no bias, not permuted\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "  batchnorm_2  batchnorm  2x4x4                   4  per "
                                       "channel, momentum 0.99, eps 0.001, permuted\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "  batchnorm_3  batchnorm  10                     20  per "
                                       "feature, momentum 0.99, eps 0.001, not permuted\n"));
    free(buf);
    lp_model_free(&m);
}

/* [add]: `from` resolved to a layer index, defaults, and the projection's tensors laid out
 * like a 1x1 conv's (filters, cin, 1, 1) over from's channels. */
static void test_add_params(void) {
    lp_model_spec m;
    const char *text = IN3_(3, 8, 8) "[conv2d]\nname = x\nfilters = 4\nkernel = 3\n"
                                     "padding = same\n[batchnorm]\n[add]\nfrom = input_1\n"
                                     "projection = true\n[conv2d]\nfilters = 4\nkernel = 1\n"
                                     "stride = 2\n[add]\nfrom = x\nprojection = true\n"
                                     "init = glorot_normal\nl2 = 2e-4\npermute = false\n"
                                     "bias = false\nactivation = relu\n[batchnorm]\n"
                                     "[add]\nfrom = add_2\n";
    lp_status s = lp_model_parse_text(text, "add.ini", &m);
    if (s != LP_OK) printf("\n  %s\n", lp_last_error());
    CU_ASSERT_EQUAL_FATAL(s, LP_OK);
    CU_ASSERT_EQUAL_FATAL(m.n_layers, 8);
    const lp_add_spec *a = &m.layers[3].u.add;
    CU_ASSERT_STRING_EQUAL(m.layers[3].name, "add_1");
    CU_ASSERT(a->from == 0 && a->projection && a->activation == LP_ACT_NONE);
    CU_ASSERT(a->proj.filters == 4 && a->proj.stride_h == 1 && a->proj.stride_w == 1);
    CU_ASSERT(a->proj.use_bias && a->proj.permute && a->proj.l2 == 0.0f);
    CU_ASSERT(a->proj.kernel_init == LP_INIT_HE_UNIFORM && a->proj.activation == LP_ACT_NONE);
    a = &m.layers[5].u.add;
    CU_ASSERT(a->from == 1 && a->proj.stride_h == 2 && a->proj.stride_w == 2);
    CU_ASSERT(!a->proj.use_bias && !a->proj.permute && a->activation == LP_ACT_RELU);
    lp_shape o = m.layers[5].out, in = m.layers[5].in;
    CU_ASSERT(o.c == 4 && o.h == 4 && o.w == 4 && in.c == 4 && in.h == 4 && in.w == 4);
    a = &m.layers[7].u.add;
    CU_ASSERT(a->from == 5 && !a->projection && a->proj.filters == 0);

    lp_param_tensor *t = NULL;
    int n = 0;
    CU_ASSERT_EQUAL_FATAL(lp_model_params(&m, &t, &n), LP_OK);
    CU_ASSERT_EQUAL_FATAL(n, 11); /* conv k+b, bn g+b, add_1 k+b, conv k+b, add_2 k, bn g+b */
    const lp_param_tensor *k1 = &t[4], *b1 = &t[5], *k2 = &t[8];
    CU_ASSERT(k1->layer == 3 && strcmp(k1->name, "kernel") == 0 && k1->rank == 4);
    CU_ASSERT(k1->dims[0] == 4 && k1->dims[1] == 3 && k1->dims[2] == 1 && k1->dims[3] == 1);
    CU_ASSERT(k1->count == 12 && k1->offset == 120 && k1->fan_in == 3 && k1->fan_out == 4);
    CU_ASSERT(k1->groups == 4 && k1->group_size == 3 && k1->is_kernel && k1->permute_default);
    CU_ASSERT(k1->init == LP_INIT_HE_UNIFORM && k1->l2 == 0.0f);
    CU_ASSERT(b1->layer == 3 && strcmp(b1->name, "bias") == 0 && b1->count == 4);
    CU_ASSERT(b1->offset == 132 && !b1->permute_default && b1->init == LP_INIT_ZEROS);
    CU_ASSERT(k2->layer == 5 && k2->count == 16 && k2->offset == 156 && k2->fan_in == 4);
    CU_ASSERT(k2->init == LP_INIT_GLOROT_NORMAL && k2->l2 == 2e-4f && !k2->permute_default);
    CU_ASSERT(t[9].layer == 6 && strcmp(t[9].name, "gamma") == 0);
    CU_ASSERT_EQUAL(lp_model_param_count(&m), 180);
    free(t);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(lp_model_summary(&m, f), LP_OK);
    fclose(f);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf,
                                  "  3  add_1        add        4x8x8                  16  from "
                                  "input_1, projection 1x1, stride 1, no activation, init "
                                  "he_uniform, bias, permuted\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf,
                                  "  5  add_2        add        4x4x4                  16  from "
                                  "x, projection 1x1, stride 2, relu, init glorot_normal, no "
                                  "bias, l2 0.0002, not permuted\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf,
                                  "  7  add_3        add        4x4x4                   0  from "
                                  "add_2, no activation\n"));
    if (!strstr(buf, "add_3")) printf("\n%s", buf);
    free(buf);
    lp_model_free(&m);
}

static char *summary_(const char *rel) {
    lp_model_spec m;
    char *buf = NULL;
    size_t len = 0;
    if (lp_model_load(lp_test_source_path(rel), &m) != LP_OK) return NULL;
    FILE *f = open_memstream(&buf, &len);
    if (f) {
        lp_status s = lp_model_summary(&m, f);
        fclose(f);
        if (s != LP_OK) {
            free(buf);
            buf = NULL;
        }
    }
    lp_model_free(&m);
    return buf;
}

static void test_summary(void) {
    char *s = summary_("models/lenet300.ini");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "total params: 266,610 in 6 tensors\n"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(s, "permuted params: 266,200 in 410 groups (kernels with permute = true)\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "  0  input_1    input    1x28x28                 0\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "  2  dense_1    dense    300               235,500  relu, "
                                     "init he_uniform, bias, permuted\n"));
    free(s);

    s = summary_("models/f2.ini");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "total params: 109,184 in 3 tensors\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "permuted params: 109,184 in 202 groups"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "no bias, l2 0.0001, permuted\n"));
    free(s);

    s = summary_("models/conv7.ini");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "total params: 325,578 in 16 tensors\n"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(s, "permuted params: 325,152 in 426 groups (kernels with permute = true)\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "  3  conv2d_3   conv2d   32x12x12           25,632  kernel "
                                     "5x5, stride 2, padding same, relu, init he_uniform, bias, "
                                     "permuted\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "  9  conv2d_7   conv2d   128               131,200  kernel "
                                     "4x4, stride 1, padding valid, relu, init he_uniform, bias, "
                                     "permuted\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "  4  dropout_1  dropout  32x12x12                0  rate "
                                     "0.4\n"));
    free(s);

    s = summary_("models/conv4.ini");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "total params: 2,427,722 in 26 tensors\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "  6  maxpool_1    maxpool    64x16x16                0  "
                                     "window 2x2, stride 2, padding valid\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "  2  batchnorm_1  batchnorm  64x32x32              128  per "
                                     "channel, momentum 0.99, eps 0.001, not permuted\n"));
    free(s);

    s = summary_("models/conv13.ini");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "total params: 14,991,946 in 58 tensors\n"));
    free(s);

    lp_model_spec m;
    char *buf = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(lp_model_parse_text(IN3_(8, 6, 4) "[globalavgpool]\n[batchnorm]\n"
                                                            "activation = relu\n"
                                                            "[avgpool]\nsize = 1\nstride = 1x2\n",
                                              "g.ini", &m),
                          LP_ERR_FORMAT); /* avgpool after the (flat) global pool */
    CU_ASSERT_EQUAL_FATAL(lp_model_parse_text(IN3_(8, 6, 4) "[avgpool]\nsize = 1\nstride = 1x2\n"
                                                            "[globalavgpool]\n[batchnorm]\n"
                                                            "activation = relu\n",
                                              "g.ini", &m),
                          LP_OK);
    FILE *f = open_memstream(&buf, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(lp_model_summary(&m, f), LP_OK);
    fclose(f);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf,
                                  "  1  avgpool_1        avgpool        8x6x2                   "
                                  "0  window 1x1, stride 1x2, padding valid\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf,
                                  "  2  globalavgpool_1  globalavgpool  8                       "
                                  "0  mean over 6x2\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf,
                                  "  3  batchnorm_1      batchnorm      8                      "
                                  "16  per feature, momentum 0.99, eps 0.001, relu, not "
                                  "permuted\n"));
    free(buf);
    lp_model_free(&m);

    s = summary_("models/logreg.ini");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "total params: 7,840 in 1 tensor\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "permuted params: 7,840 in 10 groups"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(s, "  7,840  no activation, init he_uniform, no bias, permuted\n"));
    free(s);
}

static void test_names(void) {
    CU_ASSERT_STRING_EQUAL(lp_layer_kind_name(LP_LAYER_FLATTEN), "flatten");
    CU_ASSERT_STRING_EQUAL(lp_activation_name(LP_ACT_RELU), "relu");
    CU_ASSERT_STRING_EQUAL(lp_init_name(LP_INIT_GLOROT_UNIFORM), "glorot_uniform");
    CU_ASSERT_STRING_EQUAL(lp_init_name(LP_INIT_ZEROS), "zeros");
    CU_ASSERT_STRING_EQUAL(lp_init_name(LP_INIT_ONES), "ones");
    const char *kinds[] = {"input",   "flatten", "dense",         "conv2d",
                           "maxpool", "avgpool", "globalavgpool", "batchnorm",
                           "dropout", "add",     "activation"};
    CU_ASSERT_EQUAL(LP_LAYER_KIND_COUNT, (int)(sizeof kinds / sizeof *kinds));
    for (int k = 0; k < LP_LAYER_KIND_COUNT; ++k)
        CU_ASSERT_STRING_EQUAL(lp_layer_kind_name((lp_layer_kind)k), kinds[k]);
    CU_ASSERT_STRING_EQUAL(lp_layer_kind_name(LP_LAYER_KIND_COUNT), "?");
    char buf[48];
    CU_ASSERT_STRING_EQUAL(lp_shape_str((lp_shape){3, 32, 32}, buf, sizeof buf), "3x32x32");
    CU_ASSERT_STRING_EQUAL(lp_shape_str((lp_shape){10, 1, 1}, buf, sizeof buf), "10");
    CU_ASSERT_EQUAL(lp_shape_size((lp_shape){3, 32, 32}), 3072);
}

/* Every kind's descriptor is complete enough for the parser and the network factory. */
static void test_registry(void) {
    for (int k = 0; k < LP_LAYER_KIND_COUNT; ++k) {
        const lp_layer_kind_desc *d = lp_layer_kind_get((lp_layer_kind)k);
        CU_ASSERT_PTR_NOT_NULL_FATAL(d);
        CU_ASSERT_PTR_NOT_NULL(d->finish);
        CU_ASSERT_PTR_NOT_NULL(d->init);
        CU_ASSERT(d->n_keys >= 1 && d->n_keys <= LP_KEYS_MAX);
        CU_ASSERT_STRING_EQUAL(d->keys[0].key, "name");
        CU_ASSERT_EQUAL(lp_layer_kind_find(d->section, strlen(d->section)), k);
    }
    CU_ASSERT_EQUAL(lp_layer_kind_find("upsample", 8), -1);
    CU_ASSERT_PTR_NULL(lp_layer_kind_get(LP_LAYER_KIND_COUNT));
}

/* The window is worked out once, by the parser, padding on both sides included. */
static void test_windows(void) {
    lp_model_spec m;
    CU_ASSERT_EQUAL_FATAL(lp_model_parse_text("[input]\nchannels = 1\nheight = 28\nwidth = 27\n"
                                              "[conv2d]\nfilters = 2\nkernel = 5\nstride = 2\n"
                                              "padding = same\n[maxpool]\nsize = 3x2\n"
                                              "padding = same\n[globalavgpool]\n",
                                              "w", &m),
                          LP_OK);
    const lp_window *c = &m.layers[1].window, *p = &m.layers[2].window, *g = &m.layers[3].window;
    /* 28 rows, k 5, s 2: out 14, total pad 13*2+5-28 = 3 (1 before, 2 after); 27 columns:
     * out 14, total 13*2+5-27 = 4 (2 and 2). */
    CU_ASSERT(c->oh == 14 && c->ow == 14 && c->pad_top == 1 && c->pad_bottom == 2 &&
              c->pad_left == 2 && c->pad_right == 2 && c->stride_h == 2 && c->kh == 5);
    /* 14x14, window 3x2 at its own stride: out 5x7; rows pad 4*3+3-14 = 1 (0 before, 1
     * after), columns 0. */
    CU_ASSERT(p->oh == 5 && p->ow == 7 && p->pad_top == 0 && p->pad_bottom == 1 &&
              p->pad_left == 0 && p->pad_right == 0 && p->stride_h == 3 && p->stride_w == 2);
    CU_ASSERT(g->kh == 5 && g->kw == 7 && g->oh == 1 && g->ow == 1);
    lp_model_free(&m);
    int out = 0, before = 0;
    CU_ASSERT_EQUAL(lp_window_axis(3, 4, 1, LP_PAD_VALID, &out, &before), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_window_axis(3, 4, 1, LP_PAD_SAME, &out, &before), LP_OK);
    CU_ASSERT(out == 3 && before == 1);
    /* The padded axis, (out - 1) * stride + k, must be an int too. */
    CU_ASSERT_EQUAL(lp_window_axis(28, INT_MAX - 27, 1, LP_PAD_SAME, &out, &before), LP_OK);
    CU_ASSERT(out == 28 && before == (INT_MAX - 28) / 2);
    CU_ASSERT_EQUAL(lp_window_axis(28, INT_MAX - 26, 1, LP_PAD_SAME, &out, &before),
                    LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_window_axis(INT_MAX, INT_MAX, INT_MAX, LP_PAD_SAME, &out, &before), LP_OK);
    CU_ASSERT(out == 1 && before == 0);
    CU_ASSERT_EQUAL(lp_window_axis(INT_MAX, 2, 1, LP_PAD_SAME, &out, &before), LP_ERR_INVALID_ARG);
}

/* Seconds to parse n [flatten] sections with distinct names, the best of three runs. */
static double parse_seconds_(int n) {
    size_t cap = 64 + (size_t)n * 40;
    char *text = malloc(cap);
    if (!text) return -1;
    size_t len = (size_t)snprintf(text, cap, IN3_(1, 1, 1));
    for (int i = 0; i < n; ++i)
        len += (size_t)snprintf(text + len, cap - len, "[flatten]\nname = f%d\n", i);
    double best = -1;
    for (int r = 0; r < 3; ++r) {
        lp_model_spec m;
        double t0 = lp_seconds();
        lp_status s = lp_model_parse_text(text, "many.ini", &m);
        double dt = lp_seconds() - t0;
        lp_model_free(&m);
        if (s != LP_OK)
            best = -1, r = 3;
        else if (best < 0 || dt < best)
            best = dt;
    }
    free(text);
    return best;
}

/* A file of many sections reads in linear time (names are checked and found through a
 * hash), and a duplicate name far down is still found, with the line of the first use. */
static void test_many_sections(void) {
    enum { N = 100000 };
    size_t cap = 64 + (size_t)N * 40;
    char *text = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    size_t len = (size_t)snprintf(text, cap, IN3_(1, 1, 1));
    for (int i = 0; i < N; ++i)
        len += (size_t)snprintf(text + len, cap - len, "[flatten]\nname = f%d\n", i);
    lp_model_spec m;
    CU_ASSERT_EQUAL(lp_model_parse_text(text, "many.ini", &m), LP_OK);
    CU_ASSERT_EQUAL(m.n_layers, N + 1);
    lp_model_free(&m);
    snprintf(text + len, cap - len, "[flatten]\nname = f12345\n");
    CU_ASSERT_EQUAL(lp_model_parse_text(text, "many.ini", &m), LP_ERR_FORMAT);
    char want[128];
    snprintf(want, sizeof want,
             "many.ini:%d: duplicate layer name 'f12345' (already used on line %d)", 5 + 2 * N,
             5 + 2 * 12345);
    CU_ASSERT_STRING_EQUAL(lp_last_error(), want);
    /* Every [add] finds its `from` through the same hash: 3 sections per block, the
     * shortcut from the block's first. */
    len = (size_t)snprintf(text, cap, IN3_(1, 1, 1));
    for (int i = 0; i < N / 3; ++i)
        len += (size_t)snprintf(text + len, cap - len,
                                "[flatten]\nname = a%d\n[flatten]\n[add]\nfrom = a%d\n", i, i);
    CU_ASSERT_EQUAL_FATAL(lp_model_parse_text(text, "adds.ini", &m), LP_OK);
    CU_ASSERT_EQUAL(m.n_layers, 1 + 3 * (N / 3));
    for (int i = 0; i < N / 3; i += 1111)
        CU_ASSERT_EQUAL(m.layers[3 + 3 * i].u.add.from, 1 + 3 * i);
    lp_model_free(&m);
    free(text);
    /* Linear, not quadratic: ten times the sections cost about ten times as long (a
     * quadratic search would cost a hundred). A ratio, not seconds, so that a slow or busy
     * machine, or a sanitizer build, does not fail it. */
    double small = parse_seconds_(N / 10), big = parse_seconds_(N);
    CU_ASSERT_FATAL(small >= 0 && big >= 0);
    if (big > 40 * small + 0.01)
        printf("\n  %d sections: %.4f s, %d sections: %.4f s\n", N / 10, small, N, big);
    CU_ASSERT(big <= 40 * small + 0.01);
}

/* Products of sizes saturate instead of wrapping, whatever the order of the factors. */
static void test_size_product(void) {
    char buf[32];
    CU_ASSERT_EQUAL(LP_SIZE_PRODUCT(3, 5, 7), 105);
    CU_ASSERT_EQUAL(LP_SIZE_PRODUCT(INT_MAX, INT_MAX), (int64_t)INT_MAX * INT_MAX);
    CU_ASSERT_EQUAL(LP_SIZE_PRODUCT(INT_MAX, INT_MAX, 2), 2 * (int64_t)INT_MAX * INT_MAX);
    CU_ASSERT_EQUAL(LP_SIZE_PRODUCT(INT_MAX, INT_MAX, 3), INT64_MAX);
    CU_ASSERT_EQUAL(LP_SIZE_PRODUCT(4, INT_MAX, INT_MAX, 1), INT64_MAX);
    CU_ASSERT_EQUAL(LP_SIZE_PRODUCT(INT_MAX, INT_MAX, INT_MAX, 0), INT64_MAX);
    CU_ASSERT_EQUAL(LP_SIZE_PRODUCT(0, INT_MAX, INT_MAX, INT_MAX), 0);
    CU_ASSERT_STRING_EQUAL(lp_size_str(LP_SIZE_PRODUCT(65536, 65536), buf, sizeof buf),
                           "4294967296");
    CU_ASSERT_STRING_EQUAL(lp_size_str(LP_SIZE_PRODUCT(1 << 21, 1 << 21, 1 << 21), buf, sizeof buf),
                           "9223372036854775807 or more");
}

/* [activation]: keeps the shape, names its function in the summary, and its one key is
 * required and checked against the function table. */
static void test_activation_layer(void) {
    lp_model_spec m;
    const char *head = "[input]\nchannels = 2\nheight = 5\nwidth = 3\n[activation]\n";
    char text[256];
    snprintf(text, sizeof text, "%sfunction = tanh\n[flatten]\n[dense]\nunits = 3\n", head);
    CU_ASSERT_EQUAL_FATAL(lp_model_parse_text(text, "a.ini", &m), LP_OK);
    CU_ASSERT_EQUAL(m.layers[1].kind, LP_LAYER_ACTIVATION);
    CU_ASSERT_STRING_EQUAL(m.layers[1].name, "activation_1");
    CU_ASSERT(m.layers[1].out.c == 2 && m.layers[1].out.h == 5 && m.layers[1].out.w == 3);
    CU_ASSERT_EQUAL(lp_model_param_count(&m), 30 * 3 + 3);
    char *out = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&out, &size);
    CU_ASSERT_EQUAL(lp_model_summary(&m, f), LP_OK);
    fclose(f);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "activation_1  activation  2x5x3"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, " 0  tanh\n"));
    free(out);
    lp_model_free(&m);
    snprintf(text, sizeof text, "%sfunction = swish\n", head);
    CU_ASSERT_EQUAL(lp_model_parse_text(text, "a.ini", &m), LP_ERR_FORMAT);
    CU_ASSERT_STRING_EQUAL(lp_last_error(), "a.ini:6: bad value 'swish' for 'function' in "
                                            "[activation] (expected one of: relu, tanh, sigmoid, "
                                            "identity)");
    snprintf(text, sizeof text, "%s[flatten]\n", head);
    CU_ASSERT_EQUAL(lp_model_parse_text(text, "a.ini", &m), LP_ERR_FORMAT);
    CU_ASSERT_STRING_EQUAL(lp_last_error(),
                           "a.ini:5: missing required key 'function' in [activation]");
}

static void register_suites(void) {
    CU_pSuite s = CU_add_suite("model", NULL, NULL);
    CU_add_test(s, "registry", test_registry);
    CU_add_test(s, "windows", test_windows);
    CU_add_test(s, "size product", test_size_product);
    CU_add_test(s, "many sections", test_many_sections);
    CU_add_test(s, "activation layer", test_activation_layer);
    CU_add_test(s, "shipped models", test_shipped_models);
    CU_add_test(s, "syntax and defaults", test_syntax_and_defaults);
    CU_add_test(s, "conv models", test_conv_models);
    CU_add_test(s, "resnet models", test_resnet_models);
    CU_add_test(s, "shapes", test_shapes);
    CU_add_test(s, "layer defaults", test_layer_defaults);
    CU_add_test(s, "bad input", test_bad_input);
    CU_add_test(s, "bad layers", test_bad_layers);
    CU_add_test(s, "bad init keys", test_bad_init_keys);
    CU_add_test(s, "init keys", test_init_keys);
    CU_add_test(s, "files", test_files);
    CU_add_test(s, "params", test_params);
    CU_add_test(s, "conv params", test_conv_params);
    CU_add_test(s, "add params", test_add_params);
    CU_add_test(s, "summary", test_summary);
    CU_add_test(s, "names", test_names);
}

int main(void) {
    return lp_test_main("test_model", register_suites);
}
