/* [flatten]: no computation. NCHW rows are already flat in memory, so the layer is a view
 * of the previous layer's buffers; a flat input passes through unchanged, so [flatten]
 * after [dense] is harmless. */
#include "layer.h"

static const lp_key_def flatten_keys_[] = {LP_KEY_NAME};

static lp_status flatten_finish_(const lp_spec_ctx *c, lp_layer_spec *l,
                                 const lp_layer_spec *prev) {
    (void)c;
    l->in = prev->out;
    l->out = (lp_shape){(int)lp_shape_size(l->in), 1, 1};
    return LP_OK;
}

static bool flatten_views_prev_(const lp_layer_spec *l) {
    (void)l;
    return true;
}

static lp_status flatten_init_(lp_network *net, lp_layer *l) {
    return lp_layer_view_prev(net, l);
}

const lp_layer_kind_desc lp_layer_flatten = {
    .section = "flatten",
    .keys = flatten_keys_,
    .n_keys = LP_N_KEYS(flatten_keys_),
    .finish = flatten_finish_,
    .views_prev = flatten_views_prev_,
    .init = flatten_init_,
};
