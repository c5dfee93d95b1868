/* [add]: the residual join out = prev + shortcut(from), then ReLU (kernels in cl/add.cl).
 * The shortcut is from's output, or a 1x1 convolution of it: a [conv2d] layer built here
 * on a spec of our own, reading from's output and writing its dx into a buffer of ours.
 *
 * Backward comes in two halves. The layer's own backward masks dout by the ReLU and hands
 * it to prev. The shortcut's half (lp_layer_add_backward_shortcut) must ADD into from's
 * dout, which the layer after `from` overwrites later in the pass; so lp_network_backward
 * calls it right after that layer's backward, in layer order when several adds share a
 * `from` (deterministic, no atomics). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "layer.h"

typedef struct {
    lp_layer *from;
    int features, from_features; /* per sample: of out (= prev's) and of from's output */
    int relu;
    bool shortcut_dx;   /* from's dout wants the shortcut's gradient (params upstream) */
    bool projected;     /* the members below are used only with a projection */
    lp_layer_spec spec; /* the projection as a [conv2d] */
    lp_layer proj;      /* that conv layer: prev = &src, dout = our dout (the masked g) */
    lp_layer src;       /* stands for `from`: out = from's out, dout = dx */
    cl_mem dx;          /* (max_batch, from_features): the projection's dx before it is added */
} add_state_;

static lp_status add_launch_(lp_runtime *rt, cl_kernel k, int total, const char *label) {
    size_t local = lp_runtime_wgs(rt, k, 256), global = (size_t)total;
    return lp_launch(rt, k, 1, &global, &local, label);
}

/* out = prev.out + shortcut, then ReLU. */
static lp_status add_forward_(lp_network *net, lp_layer *l, int n, bool training) {
    add_state_ *d = l->state;
    cl_mem shortcut = d->from->out;
    if (d->projected) {
        LP_TRY(d->proj.ops->forward(net, &d->proj, n, training));
        shortcut = d->proj.out;
    }
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(net->rt, "add", "lp_add_forward", NULL, &k));
    int total = n * d->features;
    LP_ARG(k, 0, l->prev->out);
    LP_ARG(k, 1, shortcut);
    LP_ARG(k, 2, l->out);
    LP_ARG(k, 3, total);
    LP_ARG(k, 4, d->relu);
    return add_launch_(net->rt, k, total, "add_forward");
}

/* dout *= (out > 0) in place (the shortcut's half reads it later), prev->dout = dout. */
static lp_status add_backward_(lp_network *net, lp_layer *l, int n) {
    add_state_ *d = l->state;
    int write_dx = l->need_dx;
    if (!d->relu && !write_dx) return LP_OK;
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(net->rt, "add", "lp_add_backward", NULL, &k));
    int total = n * d->features;
    cl_mem dx = write_dx ? l->prev->dout : l->dout; /* not written without write_dx */
    LP_ARG(k, 0, l->dout);
    LP_ARG(k, 1, l->out);
    LP_ARG(k, 2, dx);
    LP_ARG(k, 3, total);
    LP_ARG(k, 4, d->relu);
    LP_ARG(k, 5, write_dx);
    return add_launch_(net->rt, k, total, "add_backward");
}

lp_status lp_layer_add_backward_shortcut(lp_network *net, lp_layer *l, int n) {
    add_state_ *d = l->state;
    cl_mem g = l->dout;
    if (d->projected) {
        /* Kernel and bias gradients always; dx (into d->dx) when shortcut_dx. */
        LP_TRY(d->proj.ops->backward(net, &d->proj, n));
        g = d->dx;
    }
    if (!d->shortcut_dx) return LP_OK;
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(net->rt, "add", "lp_add_accumulate", NULL, &k));
    int total = n * d->from_features;
    LP_ARG(k, 0, d->from->dout);
    LP_ARG(k, 1, g);
    LP_ARG(k, 2, total);
    return add_launch_(net->rt, k, total, "add_shortcut_accumulate");
}

static void add_destroy_(lp_layer *l) {
    add_state_ *d = l->state;
    if (!d) return;
    if (d->proj.ops && d->proj.ops->destroy) d->proj.ops->destroy(&d->proj);
    if (d->proj.out) clReleaseMemObject(d->proj.out);
    if (d->proj.dout && d->proj.dout != l->dout) clReleaseMemObject(d->proj.dout);
    if (d->dx) clReleaseMemObject(d->dx);
    free(d);
}

static const lp_layer_ops add_ops_ = {add_forward_, add_backward_, add_destroy_};

/* The projection: a [conv2d] spec with the add's 1x1 convolution, over from's output,
 * owning the add's parameter tensors (its index is the add's). */
static lp_status add_init_projection_(lp_network *net, lp_layer *l, add_state_ *d) {
    const lp_layer_spec *ls = l->spec;
    d->spec = (lp_layer_spec){.kind = LP_LAYER_CONV2D, .line = ls->line};
    memcpy(d->spec.name, ls->name, sizeof d->spec.name);
    d->spec.in = d->from->spec->out;
    d->spec.out = ls->out;
    d->spec.u.conv = ls->u.add.proj;
    d->spec.u.conv.activation = LP_ACT_NONE;
    if (d->spec.u.conv.kh != 1 || d->spec.u.conv.kw != 1 || d->spec.u.conv.filters != ls->out.c)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "layer '%s' (line %d): projection %dx%d with %d filters (expected 1x1 "
                       "with %d)",
                       ls->name, ls->line, d->spec.u.conv.kh, d->spec.u.conv.kw,
                       d->spec.u.conv.filters, ls->out.c);
    d->src = (lp_layer){.spec = d->from->spec, .out = d->from->out, .first_tensor = -1};
    d->src.out_features = (size_t)d->from_features;
    if (d->shortcut_dx) {
        size_t bytes = (size_t)net->max_batch * d->from_features * sizeof(float);
        LP_TRY(lp_buffer_create_zeroed(net->rt, bytes, "add projection dx", &d->dx));
        d->src.dout = d->dx;
    }
    d->proj = (lp_layer){.spec = &d->spec,
                         .prev = &d->src,
                         .out_features = (size_t)d->features,
                         .need_dx = d->shortcut_dx,
                         .first_tensor = l->first_tensor,
                         .index = l->index};
    LP_TRY(lp_layer_init_conv2d(net, &d->proj));
    /* The conv reads its dout only in backward: make it ours, which holds the masked g. */
    clReleaseMemObject(d->proj.dout);
    d->proj.dout = l->dout;
    return LP_OK;
}

lp_status lp_layer_init_add(lp_network *net, lp_layer *l) {
    const lp_layer_spec *ls = l->spec;
    const lp_add_spec *spec = &ls->u.add;
    add_state_ *d = calloc(1, sizeof *d);
    if (!d) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    l->state = d;
    l->ops = &add_ops_;
    if (spec->from < 0 || spec->from >= l->index - 1)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "layer '%s' (line %d): shortcut from layer %d (expected 0..%d: an earlier "
                       "layer, not the previous one)",
                       ls->name, ls->line, spec->from, l->index - 2);
    d->from = &net->layers[spec->from];
    d->projected = spec->projection;
    d->relu = spec->activation == LP_ACT_RELU;
    lp_shape p = l->prev->spec->out, f = d->from->spec->out, o = ls->out;
    bool same = p.c == o.c && p.h == o.h && p.w == o.w;
    if (!d->projected) same = same && f.c == o.c && f.h == o.h && f.w == o.w;
    if (!same)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "layer '%s' (line %d): adds %dx%dx%d from '%s' to %dx%dx%d giving "
                       "%dx%dx%d (expected equal shapes%s)",
                       ls->name, ls->line, f.c, f.h, f.w, d->from->spec->name, p.c, p.h, p.w, o.c,
                       o.h, o.w, d->projected ? " for prev and out" : "");
    if (d->projected != (l->first_tensor >= 0))
        return lp_fail(LP_ERR_INVALID_ARG, "layer '%s' (line %d): %s parameter tensors %s",
                       ls->name, ls->line, d->projected ? "projection without" : "identity with",
                       d->projected ? "(expected kernel, bias)" : "(expected none)");
    size_t features = lp_shape_size(o), from_features = lp_shape_size(f);
    if (features == 0 || (size_t)net->max_batch * features > INT_MAX ||
        (size_t)net->max_batch * from_features > INT_MAX)
        return lp_fail(LP_ERR_INVALID_ARG, "layer '%s': batch of %d x %zu values exceeds 2^31",
                       ls->name, net->max_batch,
                       features > from_features ? features : from_features);
    d->features = (int)features;
    d->from_features = (int)from_features;
    /* from's dout is wanted when some layer up to `from` has parameters: exactly when the
     * layer after `from` writes it. */
    d->shortcut_dx = net->layers[spec->from + 1].need_dx;
    if ((l->need_dx && !l->prev->dout) || (d->shortcut_dx && !d->from->dout))
        return lp_fail(LP_ERR_INVALID_ARG, "layer '%s': no gradient buffer upstream", ls->name);
    l->owns_buffers = true;
    size_t bytes = (size_t)net->max_batch * features * sizeof(float);
    LP_TRY(lp_buffer_create_zeroed(net->rt, bytes, "add activations", &l->out));
    LP_TRY(lp_buffer_create_zeroed(net->rt, bytes, "add gradients", &l->dout));
    return d->projected ? add_init_projection_(net, l, d) : LP_OK;
}
