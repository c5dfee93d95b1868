/* [input] and [flatten]: no computation. NCHW rows are already flat in memory, so a
 * flatten is a view of the previous layer's buffers. The input layer owns the buffer
 * the trainer fills. */
#include "layer.h"

static const lp_layer_ops passthrough_ops_ = {NULL, NULL, NULL};

lp_status lp_layer_init_passthrough(lp_network *net, lp_layer *l) {
    l->ops = &passthrough_ops_;
    if (!l->prev) {
        l->owns_buffers = true;
        l->dout = NULL; /* nothing upstream wants d loss / d input */
        return lp_buffer_create(net->rt, (size_t)net->max_batch * l->out_features * sizeof(float),
                                "the input batch", &l->out);
    }
    l->out = l->prev->out;
    l->dout = l->prev->dout;
    return LP_OK;
}
