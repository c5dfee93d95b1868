/* [conv2d]: a 2-D convolution, then the activation; the work is a convolution unit
 * (conv2d_unit.h: im2col + GEMM, FFTs or direct, chosen per layer). */
#include <stddef.h>

#include "conv2d_unit.h"
#include "laperm/init.h"

#define CONV_(field) LP_SPEC_OFFSET(u.conv.field)
static const lp_key_def conv2d_keys_[] = {
    LP_KEY_NAME,
    {"filters", LP_VAL_POS_INT, true, CONV_(filters), NULL, 0},
    {"kernel", LP_VAL_SIZE2, true, CONV_(kh), NULL, 0},
    {"stride", LP_VAL_SIZE2, false, CONV_(stride_h), NULL, 0},
    {"padding", LP_VAL_CHOICE, false, CONV_(padding), lp_padding_choices, 0},
    LP_KERNEL_KEYS(lp_conv2d_spec, LP_SPEC_OFFSET(u.conv)),
};
_Static_assert(offsetof(lp_conv2d_spec, kw) == offsetof(lp_conv2d_spec, kh) + sizeof(int) &&
                   offsetof(lp_conv2d_spec, stride_w) ==
                       offsetof(lp_conv2d_spec, stride_h) + sizeof(int),
               "LP_VAL_SIZE2 fields must be adjacent ints");

static void conv2d_defaults_(lp_layer_spec *l) {
    l->u.conv = lp_conv2d_defaults();
}

static lp_status conv2d_finish_(const lp_spec_ctx *c, lp_layer_spec *l, const lp_layer_spec *prev) {
    lp_conv2d_spec *s = &l->u.conv;
    LP_TRY(lp_spec_check_bias_init(c, s->use_bias));
    LP_TRY(lp_spec_check_init(c, s->kernel_init));
    LP_TRY(lp_spec_need_spatial(c, l, prev));
    int64_t weights = LP_SIZE_PRODUCT(s->filters, l->in.c, s->kh, s->kw);
    char num[32];
    if (weights > LP_SPEC_ELEMS_MAX)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: [conv2d] kernel of %d x %d x %d x %d = %s weights exceeds the "
                       "limit of %d per tensor",
                       c->src, l->line, s->filters, l->in.c, s->kh, s->kw,
                       lp_size_str(weights, num, sizeof num), INT_MAX);
    return lp_spec_slide_window(c, l, prev, "kernel", "kernel", s->filters, s->kh, s->kw,
                                s->stride_h, s->stride_w, s->padding);
}

static int conv2d_tensors_(const lp_model_spec *m, int i, lp_param_tensor *t) {
    const lp_layer_spec *l = &m->layers[i];
    return lp_conv2d_tensors(i, l->in.c, &l->u.conv, t);
}

static void conv2d_details_(const lp_layer_spec *l, lp_text *t) {
    const lp_conv2d_spec *c = &l->u.conv;
    lp_text_window(t, "kernel", c->kh, c->kw, c->stride_h, c->stride_w, c->padding);
    lp_text_weights(t, c->activation, c->kernel_init, &c->init_opts, c->use_bias, c->l2,
                    c->permute);
}

static lp_status conv2d_init_(lp_network *net, lp_layer *l) {
    return lp_conv2d_unit_init(net, l, &l->spec->u.conv, &l->spec->window);
}

static lp_status conv2d_held_(const lp_network *net, const lp_layer *l, lp_held_bytes *out) {
    return lp_conv2d_unit_held(net, l, &l->spec->u.conv, &l->spec->window, out);
}

const lp_layer_kind_desc lp_layer_conv2d = {
    .section = "conv2d",
    .keys = conv2d_keys_,
    .n_keys = LP_N_KEYS(conv2d_keys_),
    .defaults = conv2d_defaults_,
    .finish = conv2d_finish_,
    .tensors = conv2d_tensors_,
    .details = conv2d_details_,
    .init = conv2d_init_,
    .held = conv2d_held_,
};
