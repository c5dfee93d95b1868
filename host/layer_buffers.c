/* Activation and gradient buffers of a layer: the two shapes every kind uses. */
#include "layer.h"

lp_status lp_layer_own_buffers(lp_network *net, lp_layer *l, const char *what, bool zeroed) {
    lp_status (*create)(lp_runtime *, size_t, const char *, cl_mem *) =
        zeroed ? lp_buffer_create_zeroed : lp_buffer_create;
    char label[96];
    size_t bytes = (size_t)net->max_batch * l->out_features * sizeof(float);
    l->owns_buffers = true;
    snprintf(label, sizeof label, "%s activations", what);
    LP_TRY(create(net->rt, bytes, label, &l->out));
    if (net->grad_slot && l == &net->layers[l->index]) {
        int k = net->grad_slot[l->index];
        LP_ASSERT(k >= 0 && k < net->n_grad_bufs);
        cl_int err = clRetainMemObject(net->grad_bufs[k]); /* each user releases its own */
        if (err != CL_SUCCESS)
            return lp_fail(LP_ERR_OPENCL, "layer '%s': clRetainMemObject: %s (%d)", l->spec->name,
                           lp_cl_error_name(err), err);
        l->dout = net->grad_bufs[k];
        return LP_OK;
    }
    snprintf(label, sizeof label, "%s gradients", what);
    return create(net->rt, bytes, label, &l->dout);
}

lp_status lp_layer_view_prev(lp_network *net, lp_layer *l) {
    (void)net;
    static const lp_layer_ops view_ops = {NULL, NULL, NULL, NULL};
    LP_ASSERT(l->prev != NULL);
    l->ops = &view_ops;
    l->out = l->prev->out;
    l->dout = l->prev->dout;
    return LP_OK;
}
