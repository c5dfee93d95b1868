/* [batchnorm]: per channel of (c, h, w) activations, per feature of flat ones (kernels in
 * cl/batchnorm.cl). Parameters gamma then beta at the layer's first two tensors; the
 * running statistics are layer state in one buffer (mean[c] then var[c]) so that a
 * checkpoint can save them with one read.
 *
 * Running variance: it moves towards the *unbiased* batch variance, m / (m - 1) times
 * the biased one used for normalising (m = n*h*w values per channel). That is Ioffe &
 * Szegedy's Algorithm 2, PyTorch, and tf.keras' fused path (the one it takes for 4-D
 * inputs on GPUs, i.e. for the convolutional networks LaPerm trains); Keras 3 and
 * tf.keras' non-fused path use the biased variance (tensorflow#55545). For m = 1 the
 * biased value (0) is used rather than dividing by zero. */
#include <limits.h>
#include <stdlib.h>

#include "laperm/init.h"
#include "laperm/launch.h"
#include "layer.h"

#define BN_(field) LP_SPEC_OFFSET(u.bn.field)
static const lp_key_def batchnorm_keys_[] = {
    LP_KEY_NAME,
    {"momentum", LP_VAL_FRACTION, false, BN_(momentum), NULL, 0},
    {"eps", LP_VAL_POS_FLOAT, false, BN_(eps), NULL, 0},
    {"activation", LP_VAL_CHOICE, false, BN_(activation), lp_activation_choices, 0},
    {"permute", LP_VAL_BOOL, false, BN_(permute), NULL, 0},
};

static void batchnorm_defaults_(lp_layer_spec *l) {
    l->u.bn = (lp_batchnorm_spec){
        .momentum = 0.99f, .eps = 1e-3f, .permute = false, .activation = LP_ACT_NONE};
}

/* gamma then beta: in.c values each, the channel count of a spatial input and the feature
 * count of a flat one (a flat shape is (n,1,1)). */
static int batchnorm_tensors_(const lp_model_spec *m, int i, lp_param_tensor *t) {
    const lp_layer_spec *l = &m->layers[i];
    int n = l->in.c;
    bool permute = l->u.bn.permute;
    t[0] = lp_param_vector(i, "gamma", n, LP_INIT_ONES, n, n, permute);
    t[1] = lp_param_vector(i, "beta", n, LP_INIT_ZEROS, n, n, permute);
    return 2;
}

static void batchnorm_details_(const lp_layer_spec *l, lp_text *t) {
    const lp_batchnorm_spec *b = &l->u.bn;
    lp_text_add(t, "per %s, momentum %g, eps %g", lp_shape_is_flat(l->in) ? "feature" : "channel",
                (double)b->momentum, (double)b->eps);
    if (b->activation != LP_ACT_NONE) lp_text_add(t, ", %s", lp_activation_name(b->activation));
    lp_text_add(t, ", %s", b->permute ? "permuted" : "not permuted");
}

/* Lane sums per (sample, channel) plane in the by-plane reductions: named here once and
 * passed to cl/batchnorm.cl as -DLP_BN_LANES. */
#define BN_LANES_ 16
#define BN_OPTIONS_ LP_CL_DEFINE(LP_BN_LANES, BN_LANES_)

typedef struct {
    int channels, spatial; /* spatial = h*w, 1 for flat inputs */
    float eps, momentum;
    int relu;
    int gamma_off, beta_off;
    cl_mem running; /* (2, channels): running mean, running var; 0 and 1 at the start */
    cl_mem saved;   /* (2, channels): last training batch's mean and 1/sqrt(var + eps) */
    cl_mem psum;    /* by plane: (max_batch, channels, 2 * BN_LANES_) lane sums, or NULL */
} bn_state_;

/* Work-group for a per-channel reduction over m values: a power of two, no larger than
 * m needs (flat layers reduce over only the batch). */
static size_t bn_group_size_(lp_runtime *rt, cl_kernel k, int m) {
    size_t want = 1;
    while (want < 256 && want < (size_t)m)
        want *= 2;
    return lp_runtime_wgs(rt, k, want);
}

/* Element-wise passes by plane (vectors along each (sample, channel) plane) on CPUs when
 * planes are long enough to fill a vector; else one work-item per value, which coalesces
 * on GPUs. */
static bool by_planes_(lp_network *net, const bn_state_ *b) {
    return b->spatial >= 16 && lp_runtime_plane_kernels(net->rt);
}

static lp_status launch_planes_(lp_network *net, cl_kernel k, const bn_state_ *b, int n,
                                const char *label) {
    return lp_launch_2d(net->rt, k, (size_t)b->channels, (size_t)n, label);
}

/* One work-item per channel (the by-plane reductions' second step). */
static lp_status launch_channels_(lp_network *net, cl_kernel k, const bn_state_ *b,
                                  const char *label) {
    return lp_launch_1d(net->rt, k, (size_t)b->channels, 0, label);
}

/* Channel statistics by plane: lane sums of x, the means, lane sums of squared
 * deviations, the variances (cl/batchnorm.cl: four short launches, two passes over x). */
static lp_status stats_by_planes_(lp_network *net, lp_layer *l, int n) {
    bn_state_ *b = l->state;
    for (int squares = 0; squares < 2; ++squares) {
        cl_kernel k;
        LP_TRY(lp_runtime_kernel(net->rt, "batchnorm", "lp_bn_plane_sums", BN_OPTIONS_, &k));
        LP_ARG(k, 0, l->prev->out);
        LP_ARG(k, 1, n);
        LP_ARG(k, 2, b->channels);
        LP_ARG(k, 3, b->spatial);
        LP_ARG(k, 4, b->saved);
        LP_ARG(k, 5, squares);
        LP_ARG(k, 6, b->psum);
        LP_TRY(launch_planes_(net, k, b, n, "batchnorm_stats"));
        LP_TRY(lp_runtime_kernel(net->rt, "batchnorm", "lp_bn_plane_stats", BN_OPTIONS_, &k));
        LP_ARG(k, 0, b->psum);
        LP_ARG(k, 1, n);
        LP_ARG(k, 2, b->channels);
        LP_ARG(k, 3, b->spatial);
        LP_ARG(k, 4, squares);
        LP_ARG(k, 5, b->eps);
        LP_ARG(k, 6, b->momentum);
        LP_ARG(k, 7, b->saved);
        LP_ARG(k, 8, b->running);
        LP_TRY(launch_channels_(net, k, b, "batchnorm_stats"));
    }
    return LP_OK;
}

/* dgamma and dbeta by plane: lane sums per plane, then per channel. */
static lp_status params_by_planes_(lp_network *net, lp_layer *l, int n) {
    bn_state_ *b = l->state;
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(net->rt, "batchnorm", "lp_bn_plane_grads", BN_OPTIONS_, &k));
    LP_ARG(k, 0, l->prev->out);
    LP_ARG(k, 1, l->out);
    LP_ARG(k, 2, l->dout);
    LP_ARG(k, 3, n);
    LP_ARG(k, 4, b->channels);
    LP_ARG(k, 5, b->spatial);
    LP_ARG(k, 6, b->saved);
    LP_ARG(k, 7, b->relu);
    LP_ARG(k, 8, b->psum);
    LP_TRY(launch_planes_(net, k, b, n, "batchnorm_backward_params"));
    LP_TRY(lp_runtime_kernel(net->rt, "batchnorm", "lp_bn_plane_params", BN_OPTIONS_, &k));
    LP_ARG(k, 0, b->psum);
    LP_ARG(k, 1, n);
    LP_ARG(k, 2, b->channels);
    LP_ARG(k, 3, net->grads);
    LP_ARG(k, 4, b->gamma_off);
    LP_ARG(k, 5, b->beta_off);
    return launch_channels_(net, k, b, "batchnorm_backward_params");
}

static lp_status bn_forward_(lp_network *net, lp_layer *l, int n, bool training) {
    bn_state_ *b = l->state;
    cl_kernel k;
    if (training && by_planes_(net, b) && b->psum) {
        LP_TRY(stats_by_planes_(net, l, n));
    } else if (training) {
        LP_TRY(lp_runtime_kernel(net->rt, "batchnorm", "lp_bn_stats", BN_OPTIONS_, &k));
        size_t wgs = bn_group_size_(net->rt, k, n * b->spatial);
        size_t global = (size_t)b->channels * wgs;
        LP_ARG(k, 0, l->prev->out);
        LP_ARG(k, 1, n);
        LP_ARG(k, 2, b->channels);
        LP_ARG(k, 3, b->spatial);
        LP_ARG(k, 4, b->eps);
        LP_ARG(k, 5, b->momentum);
        LP_ARG(k, 6, b->saved);
        LP_ARG(k, 7, b->running);
        LP_ARG_LOCAL(k, 8, wgs * sizeof(float));
        LP_TRY(lp_launch(net->rt, k, 1, &global, &wgs, "batchnorm_stats"));
    }
    bool planes = by_planes_(net, b);
    LP_TRY(lp_runtime_kernel(net->rt, "batchnorm", planes ? "lp_bn_apply_planes" : "lp_bn_apply",
                             BN_OPTIONS_, &k));
    int total = n * b->channels * b->spatial, count = planes ? n : total;
    int stats_are_var = !training;
    cl_mem stats = training ? b->saved : b->running;
    LP_ARG(k, 0, l->prev->out);
    LP_ARG(k, 1, l->out);
    LP_ARG(k, 2, count);
    LP_ARG(k, 3, b->channels);
    LP_ARG(k, 4, b->spatial);
    LP_ARG(k, 5, net->params);
    LP_ARG(k, 6, b->gamma_off);
    LP_ARG(k, 7, b->beta_off);
    LP_ARG(k, 8, stats);
    LP_ARG(k, 9, stats_are_var);
    LP_ARG(k, 10, b->eps);
    LP_ARG(k, 11, b->relu);
    if (planes) return launch_planes_(net, k, b, n, "batchnorm_apply");
    return lp_launch_1d(net->rt, k, (size_t)total, 256, "batchnorm_apply");
}

/* dgamma and dbeta by a work-group per channel (GPUs, short planes). */
static lp_status params_by_groups_(lp_network *net, lp_layer *l, int n) {
    bn_state_ *b = l->state;
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(net->rt, "batchnorm", "lp_bn_backward_params", BN_OPTIONS_, &k));
    size_t wgs = bn_group_size_(net->rt, k, n * b->spatial);
    size_t global = (size_t)b->channels * wgs;
    LP_ARG(k, 0, l->prev->out);
    LP_ARG(k, 1, l->out);
    LP_ARG(k, 2, l->dout);
    LP_ARG(k, 3, n);
    LP_ARG(k, 4, b->channels);
    LP_ARG(k, 5, b->spatial);
    LP_ARG(k, 6, b->saved);
    LP_ARG(k, 7, b->relu);
    LP_ARG(k, 8, net->grads);
    LP_ARG(k, 9, b->gamma_off);
    LP_ARG(k, 10, b->beta_off);
    LP_ARG_LOCAL(k, 11, wgs * sizeof(float));
    return lp_launch(net->rt, k, 1, &global, &wgs, "batchnorm_backward_params");
}

/* dx through the batch statistics, after the parameter gradients (it reads them). */
static lp_status dx_(lp_network *net, lp_layer *l, int n) {
    bn_state_ *b = l->state;
    cl_kernel k;
    bool planes = by_planes_(net, b);
    LP_TRY(lp_runtime_kernel(net->rt, "batchnorm",
                             planes ? "lp_bn_backward_dx_planes" : "lp_bn_backward_dx", BN_OPTIONS_,
                             &k));
    int total = n * b->channels * b->spatial;
    LP_ARG(k, 0, l->prev->out);
    LP_ARG(k, 1, l->out);
    LP_ARG(k, 2, l->dout);
    LP_ARG(k, 3, l->prev->dout);
    LP_ARG(k, 4, total);
    LP_ARG(k, 5, n);
    LP_ARG(k, 6, b->channels);
    LP_ARG(k, 7, b->spatial);
    LP_ARG(k, 8, b->saved);
    LP_ARG(k, 9, b->relu);
    LP_ARG(k, 10, net->params);
    LP_ARG(k, 11, net->grads);
    LP_ARG(k, 12, b->gamma_off);
    LP_ARG(k, 13, b->beta_off);
    if (planes) return launch_planes_(net, k, b, n, "batchnorm_backward_dx");
    return lp_launch_1d(net->rt, k, (size_t)total, 256, "batchnorm_backward_dx");
}

/* Assumes the last forward pass was a training one with the same n (batch statistics). */
static lp_status bn_backward_(lp_network *net, lp_layer *l, int n) {
    bn_state_ *b = l->state;
    if (by_planes_(net, b) && b->psum)
        LP_TRY(params_by_planes_(net, l, n));
    else
        LP_TRY(params_by_groups_(net, l, n));
    return l->need_dx ? dx_(net, l, n) : LP_OK;
}

static void bn_destroy_(lp_layer *l) {
    bn_state_ *b = l->state;
    if (b && b->running) clReleaseMemObject(b->running);
    if (b && b->saved) clReleaseMemObject(b->saved);
    if (b && b->psum) clReleaseMemObject(b->psum);
    free(b);
}

static const lp_layer_ops bn_ops_ = {bn_forward_, bn_backward_, bn_destroy_, NULL};

/* Its buffers' bytes: the running and the batch statistics, each a mean and a variance per
 * channel; the by-plane reductions' lane sums (planes of 16 values or more), else none. */
static size_t stat_bytes_(const lp_layer *l) {
    return 2 * (size_t)l->spec->in.c * sizeof(float);
}
static size_t lane_bytes_(const lp_network *net, const lp_layer *l) {
    const lp_shape in = l->spec->in;
    return in.h * in.w >= 16 ? (size_t)net->max_batch * in.c * 2 * BN_LANES_ * sizeof(float) : 0;
}

static lp_status batchnorm_held_(const lp_network *net, const lp_layer *l, lp_held_bytes *out) {
    *out = (lp_held_bytes){.own = 2 * stat_bytes_(l) + lane_bytes_(net, l)};
    return LP_OK;
}

static lp_status batchnorm_init_(lp_network *net, lp_layer *l) {
    const lp_layer_spec *ls = l->spec;
    const lp_batchnorm_spec *spec = &ls->u.bn;
    LP_ASSERT(l->first_tensor >= 0 && l->first_tensor + 1 < net->n_tensors);
    bn_state_ *b = calloc(1, sizeof *b);
    if (!b) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    l->state = b;
    l->ops = &bn_ops_;
    b->channels = ls->in.c;
    b->spatial = ls->in.h * ls->in.w;
    b->eps = spec->eps;
    b->momentum = spec->momentum;
    b->relu = spec->activation == LP_ACT_RELU;
    const lp_param_tensor *t = &net->tensors[l->first_tensor];
    LP_ASSERT(t[0].layer == l->index && t[1].layer == l->index);
    LP_ASSERT(t[0].count == (size_t)b->channels && t[1].count == (size_t)b->channels);
    LP_ASSERT(b->eps > 0.0f && b->momentum >= 0.0f && b->momentum <= 1.0f);
    LP_ASSERT(ls->out.c == ls->in.c && ls->out.h == ls->in.h && ls->out.w == ls->in.w);
    if (t[1].offset + t[1].count > INT_MAX ||
        (size_t)net->max_batch * lp_shape_size(ls->in) > INT_MAX)
        return lp_fail(LP_ERR_INVALID_ARG, "layer '%s': sizes exceed 2^31 values", ls->name);
    b->gamma_off = (int)t[0].offset;
    b->beta_off = (int)t[1].offset;

    size_t stat_bytes = stat_bytes_(l), lanes = lane_bytes_(net, l);
    LP_TRY(lp_buffer_create(net->rt, stat_bytes, "batchnorm running statistics", &b->running));
    LP_TRY(lp_buffer_create_zeroed(net->rt, stat_bytes, "batchnorm batch statistics", &b->saved));
    if (lanes) LP_TRY(lp_buffer_create(net->rt, lanes, "batchnorm lane sums", &b->psum));
    float *init = malloc(stat_bytes);
    if (!init) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    for (int c = 0; c < b->channels; ++c) {
        init[c] = 0.0f;
        init[b->channels + c] = 1.0f;
    }
    lp_status s = lp_buffer_write(net->rt, b->running, 0, stat_bytes, init);
    free(init);
    LP_TRY(s);
    LP_TRY(lp_layer_add_state(net, l, "running_mean", b->running, 0, (size_t)b->channels));
    LP_TRY(lp_layer_add_state(net, l, "running_var", b->running, (size_t)b->channels,
                              (size_t)b->channels));
    return lp_layer_own_buffers(net, l, "batchnorm", true);
}

const lp_layer_kind_desc lp_layer_batchnorm = {
    .section = "batchnorm",
    .keys = batchnorm_keys_,
    .n_keys = LP_N_KEYS(batchnorm_keys_),
    .defaults = batchnorm_defaults_,
    .finish = lp_spec_same_shape,
    .tensors = batchnorm_tensors_,
    .details = batchnorm_details_,
    .init = batchnorm_init_,
    .held = batchnorm_held_,
};
