/* [dropout]: inverted dropout (kernels in cl/dropout.cl). The forward pass draws the mask
 * from Philox4x32-10 with key = net->seed and counter (c, low 32 bits of net->step,
 * 0x44000000 + layer index, 0): value i of the batch buffer has the global index
 * g = net->first_row x features + i and takes word (g mod 32) / 8 of counter
 * c = (g / 32) * 8 + g mod 8, so one call serves four values, the host can reproduce it
 * (lp_philox4x32, lp_ref_dropout_keep), and a process that computes rows first_row ..
 * first_row + n - 1 of a global batch draws the masks a single process draws for them.
 * c has 32 bits, so g stays under 2^34 (checked before each training pass). It stores the
 * mask, one byte per value, for the backward pass. Inference copies the input:
 * the layer keeps its own output buffer in both modes, so the next layer and
 * lp_network_logits always see the same cl_mem. */
#include <limits.h>
#include <stdlib.h>

#include "laperm/launch.h"
#include "layer.h"

static const lp_key_def dropout_keys_[] = {
    LP_KEY_NAME,
    {"rate", LP_VAL_RATE, true, LP_SPEC_OFFSET(u.dropout.rate), NULL, 0},
};

static void dropout_details_(const lp_layer_spec *l, lp_text *t) {
    lp_text_add(t, "rate %g", (double)l->u.dropout.rate);
}

/* Philox counter word 2 of dropout layers: 'D' << 24, plus the layer index. */
#define DROPOUT_STREAM_ 0x44000000u

typedef struct {
    float rate, scale;
    cl_uint stream;
    cl_mem mask;  /* the last training forward's mask, max_batch * features bytes */
    int training; /* of the last forward pass: backward is the identity after inference */
} dropout_state_;

/* Values per work-item: eight Philox calls of four words (cl/dropout.cl's layout), passed
 * to the kernels as -DLP_DROPOUT_BLOCK. */
#define BLOCK_ 32
#define DROPOUT_OPTIONS_ LP_CL_DEFINE(LP_DROPOUT_BLOCK, BLOCK_)
/* Global indices g = first_row x features + i stay below this: c = (g / 32) * 8 + g mod 8
 * is a 32-bit counter word. */
#define INDEX_LIMIT_ (1ull << 34)

/* Work-items for `values` values starting `offset` values into a 32-value block. */
static lp_status launch_blocks_(lp_network *net, cl_kernel k, int offset, int values,
                                const char *label) {
    return lp_launch_1d(net->rt, k, ((size_t)offset + (size_t)values + BLOCK_ - 1) / BLOCK_, 64,
                        label);
}

static lp_status dropout_forward_(lp_network *net, lp_layer *l, int n, bool training) {
    dropout_state_ *d = l->state;
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(net->rt, "dropout", "lp_dropout_forward", DROPOUT_OPTIONS_, &k));
    int total = n * (int)l->out_features;
    /* The global index of value 0; inference draws nothing and starts a block. */
    unsigned long long base = 0;
    if (training) {
        unsigned long long last = (INDEX_LIMIT_ - (unsigned long long)total) / l->out_features;
        if (net->first_row < 0 || (unsigned long long)net->first_row > last)
            return lp_fail(LP_ERR_INVALID_ARG,
                           "layer '%s': first row %lld (expected 0 .. %llu for %d rows of %zu "
                           "values: the dropout counter holds global indices below 2^34)",
                           l->spec->name, net->first_row, last, n, l->out_features);
        base = (unsigned long long)net->first_row * l->out_features;
    }
    cl_uint base_blk = (cl_uint)(base / BLOCK_);
    cl_int base_off = (cl_int)(base % BLOCK_);
    cl_uint seed_lo = (cl_uint)net->seed, seed_hi = (cl_uint)(net->seed >> 32);
    cl_uint step = (cl_uint)(unsigned long long)net->step;
    d->training = training;
    LP_ARG(k, 0, l->prev->out);
    LP_ARG(k, 1, l->out);
    LP_ARG(k, 2, d->mask);
    LP_ARG(k, 3, total);
    LP_ARG(k, 4, base_blk);
    LP_ARG(k, 5, base_off);
    LP_ARG(k, 6, seed_lo);
    LP_ARG(k, 7, seed_hi);
    LP_ARG(k, 8, step);
    LP_ARG(k, 9, d->stream);
    LP_ARG(k, 10, d->rate);
    LP_ARG(k, 11, d->scale);
    LP_ARG(k, 12, d->training);
    return launch_blocks_(net, k, base_off, total, "dropout_forward");
}

/* dx = dy * mask / (1 - rate) with the last forward pass's mask (identity after an
 * inference pass). */
static lp_status dropout_backward_(lp_network *net, lp_layer *l, int n) {
    if (!l->need_dx) return LP_OK;
    dropout_state_ *d = l->state;
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(net->rt, "dropout", "lp_dropout_backward", DROPOUT_OPTIONS_, &k));
    int total = n * (int)l->out_features;
    LP_ARG(k, 0, l->dout);
    LP_ARG(k, 1, d->mask);
    LP_ARG(k, 2, l->prev->dout);
    LP_ARG(k, 3, total);
    LP_ARG(k, 4, d->scale);
    LP_ARG(k, 5, d->training);
    return launch_blocks_(net, k, 0, total, "dropout_backward");
}

static void dropout_destroy_(lp_layer *l) {
    dropout_state_ *d = l->state;
    if (d && d->mask) clReleaseMemObject(d->mask);
    free(d);
}

static const lp_layer_ops dropout_ops_ = {dropout_forward_, dropout_backward_, dropout_destroy_,
                                          NULL};

/* The mask: a byte per value of the largest batch. */
static size_t mask_bytes_(const lp_network *net, const lp_layer *l) {
    return (size_t)net->max_batch * l->out_features;
}

static lp_status dropout_init_(lp_network *net, lp_layer *l) {
    const lp_layer_spec *ls = l->spec;
    float rate = ls->u.dropout.rate;
    LP_ASSERT(rate >= 0.0f && rate < 1.0f);
    LP_ASSERT(lp_shape_size(ls->in) == l->out_features);
    /* The kernels index the buffer with int, up to a block past its end. */
    if ((size_t)net->max_batch * l->out_features > INT_MAX - BLOCK_)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "layer '%s': batch of %d x %zu values exceeds 2^31 - 33 (int indices)",
                       ls->name, net->max_batch, l->out_features);
    dropout_state_ *d = calloc(1, sizeof *d);
    if (!d) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    l->state = d;
    l->ops = &dropout_ops_;
    d->rate = rate;
    d->scale = 1.0f / (1.0f - rate);
    d->stream = DROPOUT_STREAM_ + (cl_uint)l->index;
    LP_TRY(lp_layer_own_buffers(net, l, "dropout", true));
    return lp_buffer_create_zeroed(net->rt, mask_bytes_(net, l), "dropout mask", &d->mask);
}

static lp_status dropout_held_(const lp_network *net, const lp_layer *l, lp_held_bytes *out) {
    *out = (lp_held_bytes){.own = mask_bytes_(net, l)};
    return LP_OK;
}

const lp_layer_kind_desc lp_layer_dropout = {
    .section = "dropout",
    .keys = dropout_keys_,
    .n_keys = LP_N_KEYS(dropout_keys_),
    .finish = lp_spec_same_shape,
    .details = dropout_details_,
    .init = dropout_init_,
    .held = dropout_held_,
};
