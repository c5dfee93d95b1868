/* One layer under test behind an identity layer (check_net.h). */
#include "check_net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

lp_status lp_check_net_create(lp_check_ctx *c, int ch, int h, int w, const char *layer, int n,
                              lp_conv_algo algo, uint64_t seed, lp_check_net *out) {
    memset(out, 0, sizeof *out);
    bool flat = h == 1 && w == 1;
    char full[1200];
    snprintf(full, sizeof full,
             "[input]\nchannels = %d\nheight = %d\nwidth = %d\n\n%s%d\n"
             "bias = false\n\n%s\n",
             ch, h, w,
             flat ? "[dense]\nunits = "
                  : "[conv2d]\nkernel = "
                    "1\nfilters = ",
             ch, layer);
    LP_TRY(lp_model_parse_text(full, "laperm check", &out->spec));
    /* the identity layer on GEMM (exact); the layer under test asks for algo and takes GEMM
     * where that path cannot run it (the caller reads which it got) */
    lp_conv_algo algos[3] = {LP_CONV_ALGO_AUTO, LP_CONV_ALGO_GEMM, LP_CONV_ALGO_AUTO};
    lp_network_options opt = {.conv_algo = algo == LP_CONV_ALGO_AUTO ? LP_CONV_ALGO_GEMM : algo,
                              .exact = true,
                              .layer_algo = algos};
    out->n = n;
    lp_status s = lp_network_create_opts(c->rt, &out->spec, n, &opt, &out->net);
    if (s != LP_OK) return s;
    out->in = out->net->layers[1].out_features;
    out->out = out->net->layers[2].out_features;
    size_t np = lp_network_param_count(out->net);
    out->params = malloc((np + 1) * sizeof *out->params);
    if (!out->params) return lp_fail(LP_ERR_NO_MEMORY, "check network: %zu parameters", np);
    uint64_t rng = seed;
    lp_check_fill(out->params, np, &rng, -1.0f, 1.0f);
    const lp_param_tensor *id = &out->net->tensors[0]; /* (ch, ch) either way: identity */
    for (int i = 0; i < ch; ++i)
        for (int j = 0; j < ch; ++j)
            out->params[id->offset + (size_t)i * ch + j] = i == j ? 1.0f : 0.0f;
    return lp_check_net_upload(out);
}

void lp_check_net_free(lp_check_net *t) {
    lp_network_destroy(t->net);
    lp_model_free(&t->spec);
    free(t->params);
    memset(t, 0, sizeof *t);
}

const lp_param_tensor *lp_check_net_tensor(const lp_check_net *t, int i) {
    const lp_layer *l = &t->net->layers[2];
    if (l->first_tensor < 0 || l->first_tensor + i >= t->net->n_tensors) return NULL;
    const lp_param_tensor *p = &t->net->tensors[l->first_tensor + i];
    return p->layer == 2 ? p : NULL;
}

lp_status lp_check_net_upload(lp_check_net *t) {
    size_t np = lp_network_param_count(t->net);
    return lp_buffer_write(t->net->rt, lp_network_params(t->net), 0, np * sizeof(float), t->params);
}

lp_status lp_check_net_forward(lp_check_net *t, const float *x, bool training, float *y) {
    lp_runtime *rt = t->net->rt;
    LP_TRY(lp_buffer_write(rt, lp_network_input(t->net), 0, (size_t)t->n * t->in * 4, x));
    LP_TRY(lp_network_forward(t->net, t->n, training));
    return lp_buffer_read(rt, t->net->layers[2].out, 0, (size_t)t->n * t->out * 4, y);
}

lp_status lp_check_net_backward(lp_check_net *t, const float *dy, float *grads, float *dx) {
    lp_runtime *rt = t->net->rt;
    LP_TRY(lp_buffer_write(rt, lp_network_dlogits(t->net), 0, (size_t)t->n * t->out * 4, dy));
    LP_TRY(lp_network_backward(t->net, t->n));
    size_t np = lp_network_param_count(t->net);
    if (grads) LP_TRY(lp_buffer_read(rt, lp_network_grads(t->net), 0, np * 4, grads));
    return lp_buffer_read(rt, t->net->layers[1].dout, 0, (size_t)t->n * t->in * 4, dx);
}
