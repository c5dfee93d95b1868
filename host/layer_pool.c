/* [maxpool], [avgpool] and [globalavgpool] on NCHW activations (kernels in cl/pool.cl).
 * Max pooling keeps the argmax of each window from forward for backward. */
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>

#include "laperm/launch.h"
#include "layer.h"

/* The pooling modes, named here once and passed to cl/pool.cl as -D options. */
#define POOL_MAX_ 0
#define POOL_AVG_ 1
#define POOL_OPTIONS_ LP_CL_DEFINE(LP_POOL_MAX, POOL_MAX_) " " LP_CL_DEFINE(LP_POOL_AVG, POOL_AVG_)

typedef struct {
    int c, h, w, oh, ow, kh, kw, sh, sw, pad_t, pad_l, mode;
    cl_mem argmax; /* (max_batch, c, oh, ow) ints, max pooling only */
} pool_state_;

/* Sets the arguments shared by the pooling kernels from index 3 on; `total` counts values
 * (one work-item per value) or planes (the by-plane kernels). */
static lp_status pool_args_(cl_kernel k, const pool_state_ *p, int total) {
    LP_ARG(k, 3, total);
    LP_ARG(k, 4, p->h);
    LP_ARG(k, 5, p->w);
    LP_ARG(k, 6, p->oh);
    LP_ARG(k, 7, p->ow);
    LP_ARG(k, 8, p->kh);
    LP_ARG(k, 9, p->kw);
    LP_ARG(k, 10, p->sh);
    LP_ARG(k, 11, p->sw);
    LP_ARG(k, 12, p->pad_t);
    LP_ARG(k, 13, p->pad_l);
    LP_ARG(k, 14, p->mode);
    return LP_OK;
}

/* By plane on CPUs (lp_runtime_plane_kernels): the kernels then take a plane count. */
static int pool_count_(lp_network *net, const pool_state_ *p, int n, int per_plane) {
    return lp_runtime_plane_kernels(net->rt) ? n * p->c : n * p->c * per_plane;
}

/* Max pooling 2x2 at stride 2 whose windows all lie inside the plane: on CPUs its own
 * kernel, 8 windows at a time (cl/pool.cl). */
static bool max2_(const pool_state_ *p) {
    return p->mode == POOL_MAX_ && p->kh == 2 && p->kw == 2 && p->sh == 2 && p->sw == 2 &&
           p->pad_t == 0 && p->pad_l == 0 && 2 * p->oh <= p->h && 2 * p->ow <= p->w;
}

static lp_status pool_forward_(lp_network *net, lp_layer *l, int n, bool training) {
    (void)training; /* the argmax is cheap: kept in inference too */
    pool_state_ *p = l->state;
    cl_kernel k;
    bool planes = lp_runtime_plane_kernels(net->rt);
    if (planes && max2_(p)) {
        LP_TRY(lp_runtime_kernel(net->rt, "pool", "lp_pool_max2_rows", POOL_OPTIONS_, &k));
        cl_int total = n * p->c * p->oh;
        LP_ARG(k, 0, l->prev->out);
        LP_ARG(k, 1, l->out);
        LP_ARG(k, 2, p->argmax);
        LP_ARG(k, 3, total);
        LP_ARG(k, 4, p->h);
        LP_ARG(k, 5, p->w);
        LP_ARG(k, 6, p->oh);
        LP_ARG(k, 7, p->ow);
        return lp_launch_1d(net->rt, k, (size_t)total, 256, "maxpool_forward");
    }
    LP_TRY(lp_runtime_kernel(net->rt, "pool", planes ? "lp_pool_forward_planes" : "lp_pool_forward",
                             POOL_OPTIONS_, &k));
    int total = pool_count_(net, p, n, p->oh * p->ow);
    cl_mem argmax = p->argmax ? p->argmax : l->out; /* not read by average pooling */
    LP_ARG(k, 0, l->prev->out);
    LP_ARG(k, 1, l->out);
    LP_ARG(k, 2, argmax);
    LP_TRY(pool_args_(k, p, total));
    return lp_launch_1d(net->rt, k, (size_t)total, 256,
                        p->mode == POOL_MAX_ ? "maxpool_forward" : "avgpool_forward");
}

static lp_status pool_backward_(lp_network *net, lp_layer *l, int n) {
    if (!l->need_dx) return LP_OK; /* no parameters here or upstream */
    pool_state_ *p = l->state;
    cl_kernel k;
    bool planes = lp_runtime_plane_kernels(net->rt);
    LP_TRY(lp_runtime_kernel(net->rt, "pool",
                             planes ? "lp_pool_backward_planes" : "lp_pool_backward", POOL_OPTIONS_,
                             &k));
    int total = pool_count_(net, p, n, p->h * p->w);
    cl_mem argmax = p->argmax ? p->argmax : l->dout;
    LP_ARG(k, 0, l->dout);
    LP_ARG(k, 1, argmax);
    LP_ARG(k, 2, l->prev->dout);
    LP_TRY(pool_args_(k, p, total));
    return lp_launch_1d(net->rt, k, (size_t)total, 256,
                        p->mode == POOL_MAX_ ? "maxpool_backward" : "avgpool_backward");
}

static void pool_destroy_(lp_layer *l) {
    pool_state_ *p = l->state;
    if (p && p->argmax) clReleaseMemObject(p->argmax);
    free(p);
}

static const lp_layer_ops pool_ops_ = {pool_forward_, pool_backward_, pool_destroy_, NULL};

/* Max pooling's argmax: an int per output value of the largest batch. */
static size_t argmax_bytes_(const lp_network *net, const lp_layer *l) {
    return (size_t)net->max_batch * l->out_features * sizeof(int);
}

static lp_status maxpool_held_(const lp_network *net, const lp_layer *l, lp_held_bytes *out) {
    *out = (lp_held_bytes){.own = argmax_bytes_(net, l)};
    return LP_OK;
}

static lp_status pool_init_(lp_network *net, lp_layer *l, int mode, const lp_window *win) {
    const lp_layer_spec *ls = l->spec;
    pool_state_ *p = calloc(1, sizeof *p);
    if (!p) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    l->state = p;
    l->ops = &pool_ops_;
    *p = (pool_state_){.c = ls->in.c,
                       .h = ls->in.h,
                       .w = ls->in.w,
                       .oh = win->oh,
                       .ow = win->ow,
                       .kh = win->kh,
                       .kw = win->kw,
                       .sh = win->stride_h,
                       .sw = win->stride_w,
                       .pad_t = win->pad_top,
                       .pad_l = win->pad_left,
                       .mode = mode};
    LP_ASSERT(ls->out.c == p->c && ls->out.h == p->oh && ls->out.w == p->ow);
    LP_ASSERT(!l->need_dx || l->prev->dout);
    if ((size_t)net->max_batch * lp_shape_size(ls->in) > INT_MAX)
        return lp_fail(LP_ERR_INVALID_ARG, "layer '%s': batch of %d x %zu values exceeds 2^31",
                       ls->name, net->max_batch, lp_shape_size(ls->in));
    LP_TRY(lp_layer_own_buffers(net, l, "pooling", true));
    if (p->mode != POOL_MAX_) return LP_OK;
    return lp_buffer_create_zeroed(net->rt, argmax_bytes_(net, l), "max pooling argmax",
                                   &p->argmax);
}

/* ---- [maxpool] and [avgpool]: one key table, stride defaulting to the window ------------- */

#define POOL_(field) LP_SPEC_OFFSET(u.pool.field)
static const lp_key_def pool_keys_[] = {
    LP_KEY_NAME,
    {"size", LP_VAL_SIZE2, true, POOL_(ph), NULL, 0},
    {"stride", LP_VAL_SIZE2, false, POOL_(stride_h), NULL, 0},
    {"padding", LP_VAL_CHOICE, false, POOL_(padding), lp_padding_choices, 0},
};
_Static_assert(offsetof(lp_pool_spec, pw) == offsetof(lp_pool_spec, ph) + sizeof(int) &&
                   offsetof(lp_pool_spec, stride_w) ==
                       offsetof(lp_pool_spec, stride_h) + sizeof(int),
               "LP_VAL_SIZE2 fields must be adjacent ints");

static void pool_defaults_(lp_layer_spec *l) {
    l->u.pool = (lp_pool_spec){.padding = LP_PAD_VALID}; /* stride: the size, in finish */
}

static lp_status pool_finish_(const lp_spec_ctx *c, lp_layer_spec *l, const lp_layer_spec *prev) {
    lp_pool_spec *s = &l->u.pool;
    if (!lp_spec_key_line(c, "stride")) {
        s->stride_h = s->ph;
        s->stride_w = s->pw;
    }
    LP_TRY(lp_spec_need_spatial(c, l, prev));
    return lp_spec_slide_window(c, l, prev, "window", "size", l->in.c, s->ph, s->pw, s->stride_h,
                                s->stride_w, s->padding);
}

static void pool_details_(const lp_layer_spec *l, lp_text *t) {
    const lp_pool_spec *p = &l->u.pool;
    lp_text_window(t, "window", p->ph, p->pw, p->stride_h, p->stride_w, p->padding);
}

static lp_status maxpool_init_(lp_network *net, lp_layer *l) {
    return pool_init_(net, l, POOL_MAX_, &l->spec->window);
}

static lp_status avgpool_init_(lp_network *net, lp_layer *l) {
    return pool_init_(net, l, POOL_AVG_, &l->spec->window);
}

const lp_layer_kind_desc lp_layer_maxpool = {
    .section = "maxpool",
    .keys = pool_keys_,
    .n_keys = LP_N_KEYS(pool_keys_),
    .defaults = pool_defaults_,
    .finish = pool_finish_,
    .details = pool_details_,
    .init = maxpool_init_,
    .held = maxpool_held_,
};

const lp_layer_kind_desc lp_layer_avgpool = {
    .section = "avgpool",
    .keys = pool_keys_,
    .n_keys = LP_N_KEYS(pool_keys_),
    .defaults = pool_defaults_,
    .finish = pool_finish_,
    .details = pool_details_,
    .init = avgpool_init_,
};

/* ---- [globalavgpool]: one window over the whole plane --------------------------------------- */

static const lp_key_def globalavgpool_keys_[] = {LP_KEY_NAME};

static lp_status globalavgpool_finish_(const lp_spec_ctx *c, lp_layer_spec *l,
                                       const lp_layer_spec *prev) {
    LP_TRY(lp_spec_need_spatial(c, l, prev));
    return lp_spec_slide_window(c, l, prev, "window", NULL, l->in.c, l->in.h, l->in.w, l->in.h,
                                l->in.w, LP_PAD_VALID);
}

static void globalavgpool_details_(const lp_layer_spec *l, lp_text *t) {
    lp_text_add(t, "mean over %dx%d", l->in.h, l->in.w);
}

static lp_status globalavgpool_init_(lp_network *net, lp_layer *l) {
    return pool_init_(net, l, POOL_AVG_, &l->spec->window);
}

const lp_layer_kind_desc lp_layer_globalavgpool = {
    .section = "globalavgpool",
    .keys = globalavgpool_keys_,
    .n_keys = LP_N_KEYS(globalavgpool_keys_),
    .finish = globalavgpool_finish_,
    .details = globalavgpool_details_,
    .init = globalavgpool_init_,
};
