/* [input]: the sample shape. It owns the buffer the trainer fills; nothing upstream wants
 * d loss / d input, so it has no gradient buffer. */
#include "layer.h"

static const lp_key_def input_keys_[] = {
    LP_KEY_NAME,
    {"channels", LP_VAL_POS_INT, true, LP_SPEC_OFFSET(in.c), NULL, 0},
    {"height", LP_VAL_POS_INT, true, LP_SPEC_OFFSET(in.h), NULL, 0},
    {"width", LP_VAL_POS_INT, true, LP_SPEC_OFFSET(in.w), NULL, 0},
};

static lp_status input_finish_(const lp_spec_ctx *c, lp_layer_spec *l, const lp_layer_spec *prev) {
    (void)prev;
    int64_t size = LP_SIZE_PRODUCT(l->in.c, l->in.h, l->in.w);
    char num[32];
    if (size > LP_SPEC_ELEMS_MAX)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: [input] of %dx%dx%d = %s values per sample exceeds the "
                       "limit of %d",
                       c->src, l->line, l->in.c, l->in.h, l->in.w,
                       lp_size_str(size, num, sizeof num), INT_MAX);
    l->out = l->in;
    return LP_OK;
}

static const lp_layer_ops input_ops_ = {NULL, NULL, NULL, NULL};

static lp_status input_init_(lp_network *net, lp_layer *l) {
    LP_ASSERT(l->prev == NULL);
    l->ops = &input_ops_;
    l->owns_buffers = true;
    l->dout = NULL;
    return lp_buffer_create(net->rt, (size_t)net->max_batch * l->out_features * sizeof(float),
                            "the input batch", &l->out);
}

const lp_layer_kind_desc lp_layer_input = {
    .section = "input",
    .keys = input_keys_,
    .n_keys = LP_N_KEYS(input_keys_),
    .finish = input_finish_,
    .init = input_init_,
};
