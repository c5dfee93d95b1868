/* Internal to `laperm check`: one layer under test inside a small network parsed from
 * model text, behind an identity layer (a 1x1 convolution, or a dense layer on flat
 * inputs, whose product with an identity kernel is exact), so that the layer computes its
 * input gradient and both its output and that gradient can be read back. */
#ifndef LAPERM_CHECK_NET_H
#define LAPERM_CHECK_NET_H

#include "check-impl.h"
#include "layer.h"

typedef struct {
    lp_model_spec spec;
    lp_network *net;
    int n;          /* samples in the batch */
    size_t in, out; /* values per sample into and out of the layer under test (layer 2) */
    float *params;  /* host copy of the parameters, the identity layer's set */
} lp_check_net;

/* `layer` is the section under test (text, "[maxpool]\nsize = 3\n"), after an [input] of
 * c x h x w. algo: its convolution's path (AUTO: GEMM). Parameters past the identity
 * kernel are uniform in [-1, 1) from seed. */
lp_status lp_check_net_create(lp_check_ctx *c, int ch, int h, int w, const char *layer, int n,
                              lp_conv_algo algo, uint64_t seed, lp_check_net *out);
void lp_check_net_free(lp_check_net *t);
/* The layer's parameter tensor i (NULL if none). */
const lp_param_tensor *lp_check_net_tensor(const lp_check_net *t, int i);
/* Writes params to the device (after the caller changed t->params). */
lp_status lp_check_net_upload(lp_check_net *t);
/* Forward of x (n * t->in values) into y (n * t->out), training or not. */
lp_status lp_check_net_forward(lp_check_net *t, const float *x, bool training, float *y);
/* Backward of dy (n * t->out): the parameter gradients (every one) and dx (n * t->in). */
lp_status lp_check_net_backward(lp_check_net *t, const float *dy, float *grads, float *dx);

#endif
