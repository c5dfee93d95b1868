/* [add]: the residual join out = prev + shortcut(from), then ReLU (kernels in cl/add.cl).
 * The shortcut is from's output, or a 1x1 convolution of it: a convolution unit
 * (conv2d_unit.h) built here on a spec of our own, reading from's output and writing its
 * dx into a buffer of ours.
 *
 * Backward comes in two halves. The layer's own backward masks dout by the ReLU and hands
 * it to prev. The shortcut's half (add_backward_second_, `from` being the layer's second
 * input) must ADD into from's dout, which the layer after `from` overwrites later in the
 * pass; so lp_network_backward calls it right after that layer's backward, in layer order
 * when several adds share a `from` (deterministic, no atomics). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "conv2d_unit.h"
#include "laperm/init.h"
#include "laperm/launch.h"

/* init, bias, l2, permute and the init options describe the projection: add_finish_
 * refuses them without. */
#define ADD_(field) LP_SPEC_OFFSET(u.add.field)
static const lp_key_def add_keys_[] = {
    LP_KEY_NAME,
    {"from", LP_VAL_NAME, true, ADD_(from_name), NULL, 0},
    {"projection", LP_VAL_BOOL, false, ADD_(projection), NULL, 0},
    {"activation", LP_VAL_CHOICE, false, ADD_(activation), lp_activation_choices, 0},
    {"init", LP_VAL_INIT, false, ADD_(proj.kernel_init), NULL, LP_INIT_USE_KERNEL},
    {"bias", LP_VAL_BOOL, false, ADD_(proj.use_bias), NULL, 0},
    {"l2", LP_VAL_NONNEG_FLOAT, false, ADD_(proj.l2), NULL, 0},
    {"permute", LP_VAL_BOOL, false, ADD_(proj.permute), NULL, 0},
    LP_INIT_OPTS_KEYS(ADD_(proj.init_opts)),
};

static void add_defaults_(lp_layer_spec *l) {
    l->u.add = (lp_add_spec){.from = -1, .projection = false, .activation = LP_ACT_NONE};
    /* The projection: a 1x1 convolution; filters and stride are set in add_finish_. */
    l->u.add.proj = lp_conv2d_defaults();
    l->u.add.proj.kh = l->u.add.proj.kw = 1;
}

/* One axis of the projection: from's size over prev's, exact. 0 if it does not divide. */
static int projection_stride_(int from, int to) {
    return to > 0 && from % to == 0 ? from / to : 0;
}

/* The earlier layer `from` names: not the previous one (that is the other input), and
 * only layers above this section (a residual never reaches forwards). */
static lp_status add_resolve_from_(const lp_spec_ctx *c, lp_layer_spec *l,
                                   const lp_layer_spec *prev) {
    lp_add_spec *a = &l->u.add;
    int line = lp_spec_key_line(c, "from");
    a->from = lp_spec_find_layer(c, a->from_name);
    if (a->from < 0)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: 'from' = '%s' in [add] names no layer above line %d (expected the "
                       "name of an earlier layer)",
                       c->src, line, a->from_name, l->line);
    if (a->from == c->n_before - 1)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: 'from' = '%s' in [add] names the previous layer, which is already "
                       "the other input (expected an earlier layer, such as the block's input)",
                       c->src, line, prev->name);
    return LP_OK;
}

/* Without a projection, none of the projection's keys may be set. */
static lp_status add_no_projection_keys_(const lp_spec_ctx *c) {
    static const char *const proj_keys[] = {"init", "bias",       "l2",          "permute",
                                            "keep", "init_value", "init_values", "quantize"};
    int first = -1, first_line = 0;
    for (int i = 0; i < (int)(sizeof proj_keys / sizeof proj_keys[0]); ++i) {
        int line = lp_spec_key_line(c, proj_keys[i]);
        if (line && (!first_line || line < first_line)) first = i, first_line = line;
    }
    if (first < 0) return LP_OK;
    return lp_fail(LP_ERR_FORMAT,
                   "%s:%d: '%s' is set but projection = false in [add] (it describes the "
                   "projection: remove it or set projection = true)",
                   c->src, first_line, proj_keys[first]);
}

static lp_status add_finish_(const lp_spec_ctx *c, lp_layer_spec *l, const lp_layer_spec *prev) {
    lp_add_spec *a = &l->u.add;
    LP_TRY(add_resolve_from_(c, l, prev));
    const lp_layer_spec *from = &c->layers[a->from];
    l->in = l->out = prev->out;
    lp_shape fs = from->out, ps = prev->out;
    char fbuf[48], pbuf[48];
    lp_shape_str(fs, fbuf, sizeof fbuf);
    lp_shape_str(ps, pbuf, sizeof pbuf);
    if (!a->projection) {
        LP_TRY(add_no_projection_keys_(c));
        if (fs.c == ps.c && fs.h == ps.h && fs.w == ps.w) return LP_OK;
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: [add] cannot add %s from '%s' (line %d) to %s from '%s' (line %d): "
                       "without a projection the shapes must be equal (set projection = true "
                       "for a 1x1 convolution shortcut)",
                       c->src, l->line, fbuf, from->name, from->line, pbuf, prev->name, prev->line);
    }
    LP_TRY(lp_spec_check_init(c, a->proj.kernel_init));
    if (lp_shape_is_flat(fs) != lp_shape_is_flat(ps))
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: [add] cannot project %s from '%s' (line %d) onto %s from '%s' "
                       "(line %d): a projection maps a spatial shape to a spatial one or a flat "
                       "shape to a flat one",
                       c->src, l->line, fbuf, from->name, from->line, pbuf, prev->name, prev->line);
    int sh = projection_stride_(fs.h, ps.h), sw = projection_stride_(fs.w, ps.w);
    if (!sh || !sw)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: [add] cannot project %s from '%s' (line %d) onto %s from '%s' "
                       "(line %d): the projection is a 1x1 convolution whose stride is the ratio "
                       "of the sizes, so the height and width of '%s' must be whole multiples of "
                       "those of '%s'",
                       c->src, l->line, fbuf, from->name, from->line, pbuf, prev->name, prev->line,
                       from->name, prev->name);
    int64_t weights = (int64_t)ps.c * fs.c;
    if (weights > LP_SPEC_ELEMS_MAX)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: [add] projection kernel of %d x %d = %lld weights exceeds the "
                       "limit of %d per tensor",
                       c->src, l->line, ps.c, fs.c, (long long)weights, INT_MAX);
    a->proj.filters = ps.c;
    a->proj.stride_h = sh;
    a->proj.stride_w = sw;
    /* A 1x1 window at that stride maps from's plane exactly onto prev's. */
    return lp_window_make(fs.h, fs.w, 1, 1, sh, sw, LP_PAD_VALID, &l->window);
}

/* The projection reads from's output: its channels are the kernel's cin. */
static int add_tensors_(const lp_model_spec *m, int i, lp_param_tensor *t) {
    const lp_layer_spec *l = &m->layers[i];
    if (!l->u.add.projection) return 0;
    return lp_conv2d_tensors(i, m->layers[l->u.add.from].out.c, &l->u.add.proj, t);
}

static void add_details_(const lp_layer_spec *l, lp_text *t) {
    const lp_add_spec *a = &l->u.add;
    lp_text_add(t, "from %s", a->from_name);
    if (!a->projection) {
        lp_text_add(t, ", %s", lp_activation_words(a->activation));
        return;
    }
    lp_text_add(t, ", projection 1x1");
    if (a->proj.stride_h == a->proj.stride_w)
        lp_text_add(t, ", stride %d", a->proj.stride_h);
    else
        lp_text_add(t, ", stride %dx%d", a->proj.stride_h, a->proj.stride_w);
    lp_text_weights(t, a->activation, a->proj.kernel_init, &a->proj.init_opts, a->proj.use_bias,
                    a->proj.l2, a->proj.permute);
}

typedef struct {
    lp_layer *from;
    int features, from_features; /* per sample: of out (= prev's) and of from's output */
    int relu;
    bool shortcut_dx;   /* from's dout wants the shortcut's gradient (params upstream) */
    bool projected;     /* the members below are used only with a projection */
    lp_layer_spec spec; /* the projection's name and shapes */
    lp_layer proj;      /* that convolution unit: prev = &src, dout = our dout (the masked g) */
    lp_layer src;       /* stands for `from`: out = from's out, dout = dx */
    cl_mem dx;          /* (max_batch, from_features): the projection's dx before it is added */
} add_state_;

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
    return lp_launch_1d(net->rt, k, (size_t)total, 256, "add_forward");
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
    return lp_launch_1d(net->rt, k, (size_t)total, 256, "add_backward");
}

static lp_status add_backward_second_(lp_network *net, lp_layer *l, int n) {
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
    return lp_launch_1d(net->rt, k, (size_t)total, 256, "add_shortcut_accumulate");
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

static const lp_layer_ops add_ops_ = {add_forward_, add_backward_, add_destroy_,
                                      add_backward_second_};

/* The projection's spec: a [conv2d] named as the add, from `from`'s output to the add's. */
static lp_layer_spec projection_spec_(const lp_layer_spec *ls, const lp_layer_spec *from) {
    lp_layer_spec p = {.kind = LP_LAYER_CONV2D, .line = ls->line};
    memcpy(p.name, ls->name, sizeof p.name);
    p.in = from->out;
    p.out = ls->out;
    return p;
}

/* The projection as the unit gets it (its spec at *spec): the add's index, tensors and
 * path, the input gradient when `from`'s is wanted. */
static lp_layer projection_layer_(const lp_layer *l, const lp_layer_spec *spec, bool shortcut_dx) {
    return (lp_layer){.spec = spec,
                      .out_features = lp_shape_size(l->spec->out),
                      .need_dx = shortcut_dx,
                      .first_tensor = l->first_tensor,
                      .index = l->index,
                      .second_input = -1,
                      .conv_path = l->conv_path};
}

/* The projection's convolution: the add's, without activation (the add applies it). */
static lp_conv2d_spec projection_conv_(const lp_layer_spec *ls) {
    lp_conv2d_spec conv = ls->u.add.proj;
    conv.activation = LP_ACT_NONE;
    return conv;
}

/* The projection: a convolution unit with the add's 1x1 window, over from's output,
 * owning the add's parameter tensors (its index is the add's). */
static lp_status add_init_projection_(lp_network *net, lp_layer *l, add_state_ *d) {
    const lp_layer_spec *ls = l->spec;
    d->spec = projection_spec_(ls, d->from->spec);
    lp_conv2d_spec conv = projection_conv_(ls);
    d->src = (lp_layer){.spec = d->from->spec, .out = d->from->out, .first_tensor = -1};
    d->src.out_features = (size_t)d->from_features;
    if (d->shortcut_dx) {
        size_t bytes = (size_t)net->max_batch * d->from_features * sizeof(float);
        LP_TRY(lp_buffer_create_zeroed(net->rt, bytes, "add projection dx", &d->dx));
        d->src.dout = d->dx;
    }
    d->proj = projection_layer_(l, &d->spec, d->shortcut_dx);
    d->proj.prev = &d->src;
    LP_TRY(lp_conv2d_unit_init(net, &d->proj, &conv, &ls->window));
    l->conv_path = d->proj.conv_path;
    /* The unit reads its dout only in backward: make it ours, which holds the masked g. */
    clReleaseMemObject(d->proj.dout);
    d->proj.dout = l->dout;
    return LP_OK;
}

static int add_second_input_(const lp_layer_spec *l) {
    return l->u.add.from;
}

static lp_status add_init_(lp_network *net, lp_layer *l) {
    const lp_layer_spec *ls = l->spec;
    const lp_add_spec *spec = &ls->u.add;
    LP_ASSERT(spec->from >= 0 && spec->from < l->index - 1);
    LP_ASSERT(spec->projection == (l->first_tensor >= 0));
    add_state_ *d = calloc(1, sizeof *d);
    if (!d) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    l->state = d;
    l->ops = &add_ops_;
    LP_ASSERT(l->second_input == spec->from); /* the network set it: add_second_input_ */
    d->from = &net->layers[spec->from];
    d->projected = spec->projection;
    d->relu = spec->activation == LP_ACT_RELU;
    lp_shape p = l->prev->spec->out, f = d->from->spec->out, o = ls->out;
    LP_ASSERT(p.c == o.c && p.h == o.h && p.w == o.w);
    LP_ASSERT(d->projected || (f.c == o.c && f.h == o.h && f.w == o.w));
    size_t features = lp_shape_size(ls->out), from_features = lp_shape_size(d->from->spec->out);
    if ((size_t)net->max_batch * features > INT_MAX ||
        (size_t)net->max_batch * from_features > INT_MAX)
        return lp_fail(LP_ERR_INVALID_ARG, "layer '%s': batch of %d x %zu values exceeds 2^31",
                       ls->name, net->max_batch,
                       features > from_features ? features : from_features);
    d->features = (int)features;
    d->from_features = (int)from_features;
    /* from's dout is wanted when some layer up to `from` has parameters: exactly when the
     * layer after `from` writes it. */
    d->shortcut_dx = net->layers[spec->from + 1].need_dx;
    LP_ASSERT(!l->need_dx || l->prev->dout);
    LP_ASSERT(!d->shortcut_dx || d->from->dout);
    LP_TRY(lp_layer_own_buffers(net, l, "add", true));
    return d->projected ? add_init_projection_(net, l, d) : LP_OK;
}

/* With a projection: its output, its input gradient when `from`'s is wanted, and its
 * convolution's buffers. */
static lp_status add_held_(const lp_network *net, const lp_layer *l, lp_held_bytes *out) {
    *out = (lp_held_bytes){0};
    const lp_layer_spec *ls = l->spec;
    if (!ls->u.add.projection) return LP_OK;
    int from = ls->u.add.from;
    const lp_layer_spec *fs = &net->spec->layers[from];
    bool shortcut_dx = net->layers[from + 1].need_dx;
    lp_layer_spec spec = projection_spec_(ls, fs);
    lp_conv2d_spec conv = projection_conv_(ls);
    lp_layer proj = projection_layer_(l, &spec, shortcut_dx);
    LP_TRY(lp_conv2d_unit_held(net, &proj, &conv, &ls->window, out));
    uint64_t batch = (uint64_t)net->max_batch;
    out->own += batch * lp_shape_size(ls->out) * sizeof(float);
    if (shortcut_dx) out->own += batch * lp_shape_size(fs->out) * sizeof(float);
    return LP_OK;
}

const lp_layer_kind_desc lp_layer_add = {
    .section = "add",
    .keys = add_keys_,
    .n_keys = LP_N_KEYS(add_keys_),
    .defaults = add_defaults_,
    .finish = add_finish_,
    .tensors = add_tensors_,
    .second_input = add_second_input_,
    .details = add_details_,
    .init = add_init_,
    .held = add_held_,
};
