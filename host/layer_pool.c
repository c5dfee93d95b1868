/* [maxpool], [avgpool] and [globalavgpool] on NCHW activations (kernels in cl/pool.cl).
 * Max pooling keeps the argmax of each window from forward for backward. */
#include <limits.h>
#include <stdlib.h>

#include "layer.h"

#define POOL_MAX_ 0 /* LP_POOL_MAX / LP_POOL_AVG in cl/pool.cl */
#define POOL_AVG_ 1

typedef struct {
    int c, h, w, oh, ow, kh, kw, sh, sw, pad_t, pad_l, mode;
    cl_mem argmax; /* (max_batch, c, oh, ow) ints, max pooling only */
} pool_state_;

/* Sets the arguments shared by the pooling kernels from index 3 on; `total` counts values
 * (one work-item per value) or planes (the by-plane kernels). */
static void pool_args_(cl_kernel k, const pool_state_ *p, int total) {
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
}

static lp_status pool_launch_(lp_runtime *rt, cl_kernel k, int total, const char *label) {
    size_t local = lp_runtime_wgs(rt, k, 256), global = (size_t)total;
    return lp_launch(rt, k, 1, &global, &local, label);
}

/* By plane on CPUs (lp_runtime_plane_kernels): the kernels then take a plane count. */
static int pool_count_(lp_network *net, const pool_state_ *p, int n, int per_plane) {
    return lp_runtime_plane_kernels(net->rt) ? n * p->c : n * p->c * per_plane;
}

static lp_status pool_forward_(lp_network *net, lp_layer *l, int n, bool training) {
    (void)training; /* the argmax is cheap: kept in inference too */
    pool_state_ *p = l->state;
    cl_kernel k;
    bool planes = lp_runtime_plane_kernels(net->rt);
    LP_TRY(lp_runtime_kernel(net->rt, "pool", planes ? "lp_pool_forward_planes" : "lp_pool_forward",
                             NULL, &k));
    int total = pool_count_(net, p, n, p->oh * p->ow);
    cl_mem argmax = p->argmax ? p->argmax : l->out; /* not read by average pooling */
    LP_ARG(k, 0, l->prev->out);
    LP_ARG(k, 1, l->out);
    LP_ARG(k, 2, argmax);
    pool_args_(k, p, total);
    return pool_launch_(net->rt, k, total,
                        p->mode == POOL_MAX_ ? "maxpool_forward" : "avgpool_forward");
}

static lp_status pool_backward_(lp_network *net, lp_layer *l, int n) {
    if (!l->need_dx) return LP_OK; /* no parameters here or upstream */
    pool_state_ *p = l->state;
    cl_kernel k;
    bool planes = lp_runtime_plane_kernels(net->rt);
    LP_TRY(lp_runtime_kernel(net->rt, "pool",
                             planes ? "lp_pool_backward_planes" : "lp_pool_backward", NULL, &k));
    int total = pool_count_(net, p, n, p->h * p->w);
    cl_mem argmax = p->argmax ? p->argmax : l->dout;
    LP_ARG(k, 0, l->dout);
    LP_ARG(k, 1, argmax);
    LP_ARG(k, 2, l->prev->dout);
    pool_args_(k, p, total);
    return pool_launch_(net->rt, k, total,
                        p->mode == POOL_MAX_ ? "maxpool_backward" : "avgpool_backward");
}

static void pool_destroy_(lp_layer *l) {
    pool_state_ *p = l->state;
    if (p && p->argmax) clReleaseMemObject(p->argmax);
    free(p);
}

static const lp_layer_ops pool_ops_ = {pool_forward_, pool_backward_, pool_destroy_};

/* Output size and leading pad along one axis (model.h: TensorFlow's `valid` and `same`). */
static int pool_axis_(int in, int k, int s, lp_padding pad, int *before) {
    if (pad == LP_PAD_SAME) {
        int out = (in + s - 1) / s;
        int total = (out - 1) * s + k - in;
        *before = total > 0 ? total / 2 : 0;
        return out;
    }
    *before = 0;
    return in >= k ? (in - k) / s + 1 : 0;
}

lp_status lp_layer_init_pool(lp_network *net, lp_layer *l) {
    const lp_layer_spec *ls = l->spec;
    pool_state_ *p = calloc(1, sizeof *p);
    if (!p) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    l->state = p;
    l->ops = &pool_ops_;
    p->c = ls->in.c;
    p->h = ls->in.h;
    p->w = ls->in.w;
    if (ls->kind == LP_LAYER_GLOBALAVGPOOL) {
        /* One window over the whole plane. */
        p->kh = p->sh = p->h;
        p->kw = p->sw = p->w;
        p->mode = POOL_AVG_;
        p->oh = p->ow = 1;
    } else if (ls->kind == LP_LAYER_MAXPOOL || ls->kind == LP_LAYER_AVGPOOL) {
        const lp_pool_spec *ps = &ls->u.pool;
        p->kh = ps->ph;
        p->kw = ps->pw;
        p->sh = ps->stride_h;
        p->sw = ps->stride_w;
        p->mode = ls->kind == LP_LAYER_MAXPOOL ? POOL_MAX_ : POOL_AVG_;
        if (p->kh < 1 || p->kw < 1 || p->sh < 1 || p->sw < 1)
            return lp_fail(LP_ERR_INVALID_ARG,
                           "layer '%s' (line %d): pool %dx%d stride %dx%d (expected sizes >= 1)",
                           ls->name, ls->line, p->kh, p->kw, p->sh, p->sw);
        p->oh = pool_axis_(p->h, p->kh, p->sh, ps->padding, &p->pad_t);
        p->ow = pool_axis_(p->w, p->kw, p->sw, ps->padding, &p->pad_l);
    } else {
        return lp_fail(LP_ERR_INVALID_ARG, "layer '%s': not a pooling layer", ls->name);
    }
    if (p->c < 1 || p->h < 1 || p->w < 1 || p->oh < 1 || p->ow < 1 || ls->out.c != p->c ||
        ls->out.h != p->oh || ls->out.w != p->ow)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "layer '%s' (line %d): pooling %dx%dx%d gives %dx%dx%d, the model says "
                       "%dx%dx%d",
                       ls->name, ls->line, p->c, p->h, p->w, p->c, p->oh, p->ow, ls->out.c,
                       ls->out.h, ls->out.w);
    if ((size_t)net->max_batch * lp_shape_size(ls->in) > INT_MAX)
        return lp_fail(LP_ERR_INVALID_ARG, "layer '%s': batch of %d x %zu values exceeds 2^31",
                       ls->name, net->max_batch, lp_shape_size(ls->in));
    if (l->need_dx && !l->prev->dout)
        return lp_fail(LP_ERR_INVALID_ARG, "layer '%s': no gradient buffer upstream", ls->name);
    l->owns_buffers = true;
    size_t outs = (size_t)net->max_batch * l->out_features;
    LP_TRY(lp_buffer_create_zeroed(net->rt, outs * sizeof(float), "pooling activations", &l->out));
    LP_TRY(lp_buffer_create_zeroed(net->rt, outs * sizeof(float), "pooling gradients", &l->dout));
    if (p->mode != POOL_MAX_) return LP_OK;
    return lp_buffer_create_zeroed(net->rt, outs * sizeof(int), "max pooling argmax", &p->argmax);
}
