/* [input]: the sample shape, and the model's loss (`loss`: [input] is the one section
 * every model has exactly once, so the key needs no rule about where it may appear). It
 * owns the buffer the trainer fills; nothing upstream wants d loss / d input, so it has
 * no gradient buffer. */
#include "layer.h"

/* The loss's position in laperm/losses.def. */
enum {
#define LP_LOSS(id, name, run, regression) LOSS_##id##_,
#include "laperm/losses.def"
#undef LP_LOSS
};

/* `loss`: 1 + the position in laperm/losses.def; 0 when the key is not given. */
static const lp_choice loss_choices_[] = {
#define LP_LOSS(id, name, run, regression) {name, LOSS_##id##_ + 1},
#include "laperm/losses.def"
#undef LP_LOSS
    {NULL, 0}};

typedef struct {
    int loss;
} input_spec_;
LP_LAYER_PRIVATE_SPEC_FITS(input_spec_);

static const lp_key_def input_keys_[] = {
    LP_KEY_NAME,
    {"channels", LP_VAL_POS_INT, true, LP_SPEC_OFFSET(in.c), NULL, 0},
    {"height", LP_VAL_POS_INT, true, LP_SPEC_OFFSET(in.h), NULL, 0},
    {"width", LP_VAL_POS_INT, true, LP_SPEC_OFFSET(in.w), NULL, 0},
    {"loss", LP_VAL_CHOICE, false, LP_PRIVATE_OFFSET(input_spec_, loss), loss_choices_, 0},
};

const char *lp_model_loss_name(const lp_model_spec *m) {
    if (!m || m->n_layers < 1 || m->layers[0].kind != LP_LAYER_INPUT) return NULL;
    const input_spec_ *s = (const input_spec_ *)(const void *)m->layers[0].u.bytes;
    return s->loss ? lp_choice_word(loss_choices_, s->loss) : NULL;
}

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
