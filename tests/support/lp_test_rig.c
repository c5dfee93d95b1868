/* Hand-built [input] -> layer networks for layer tests (see lp_test_rig.h). */
#include "lp_test_rig.h"

#include <stdlib.h>
#include <string.h>

void lp_test_rig_free(lp_test_rig *r) {
    lp_network_destroy(r->net);
    memset(r, 0, sizeof *r);
}

/* The parser computes a windowed layer's window; hand-built specs leave it zero, so it is
 * worked out here from the kind's own fields in the same way. */
static lp_status fill_window_(lp_layer_spec *l) {
    if (l->window.kh > 0) return LP_OK;
    lp_shape in = l->in;
    switch (l->kind) {
    case LP_LAYER_MAXPOOL:
    case LP_LAYER_AVGPOOL: {
        const lp_pool_spec *p = &l->u.pool;
        return lp_window_make(in.h, in.w, p->ph, p->pw, p->stride_h, p->stride_w, p->padding,
                              &l->window);
    }
    case LP_LAYER_GLOBALAVGPOOL:
        return lp_window_make(in.h, in.w, in.h, in.w, in.h, in.w, LP_PAD_VALID, &l->window);
    case LP_LAYER_CONV2D: {
        const lp_conv2d_spec *c = &l->u.conv;
        return lp_window_make(in.h, in.w, c->kh, c->kw, c->stride_h, c->stride_w, c->padding,
                              &l->window);
    }
    default:
        return LP_OK;
    }
}

lp_status lp_test_rig_build(lp_test_rig *r, const lp_layer_spec *layer, int max_batch, bool need_dx,
                            bool input_dout, const lp_param_tensor *tensors, int n_tensors,
                            size_t n_params) {
    memset(r, 0, sizeof *r);
    r->specs[0] = (lp_layer_spec){.kind = LP_LAYER_INPUT, .line = 1, .name = "input"};
    r->specs[0].in = r->specs[0].out = layer->in;
    r->specs[1] = *layer;
    LP_TRY(fill_window_(&r->specs[1]));
    r->model = (lp_model_spec){.source = "hand-built", .layers = r->specs, .n_layers = 2};
    lp_network *net = calloc(1, sizeof *net);
    CU_ASSERT_FATAL(net != NULL);
    r->net = net;
    net->rt = lp_test_rt;
    net->spec = &r->model;
    net->max_batch = max_batch;
    net->tensors = calloc((size_t)n_tensors + 1, sizeof *net->tensors);
    net->layers = calloc(2, sizeof *net->layers);
    CU_ASSERT_FATAL(net->tensors && net->layers);
    net->n_layers = 2;
    if (n_tensors > 0) memcpy(net->tensors, tensors, (size_t)n_tensors * sizeof *tensors);
    net->n_tensors = n_tensors;
    net->n_params = n_params ? n_params : 1;
    LP_TRY(lp_buffer_create(lp_test_rt, net->n_params * 4, "parameters", &net->params));
    LP_TRY(lp_buffer_create(lp_test_rt, net->n_params * 4, "gradients", &net->grads));
    r->in = &net->layers[0];
    r->l = &net->layers[1];
    r->in->spec = &r->specs[0];
    r->in->out_features = lp_shape_size(layer->in);
    r->in->first_tensor = -1;
    r->in->owns_buffers = true;
    size_t bytes = (size_t)max_batch * r->in->out_features * sizeof(float);
    LP_TRY(lp_buffer_create(lp_test_rt, bytes, "input", &r->in->out));
    if (input_dout) LP_TRY(lp_buffer_create(lp_test_rt, bytes, "d input", &r->in->dout));
    r->l->spec = &r->specs[1];
    r->l->prev = r->in;
    r->l->out_features = lp_shape_size(layer->out);
    r->l->need_dx = need_dx;
    r->l->first_tensor = n_tensors > 0 ? 0 : -1;
    r->l->index = 1;
    return LP_OK;
}
