/* A two-layer network, [input] -> the layer under test, assembled by hand rather than
 * parsed, so a layer is tested on its own with need_dx and its tensor table chosen freely.
 * The input layer owns its out buffer (and dout when asked), so d loss / d input can be
 * read back. Used by the pooling, BatchNorm and dropout kernel tests. */
#ifndef LP_TEST_RIG_H
#define LP_TEST_RIG_H

#include "layer.h"
#include "lp_test.h"

typedef struct {
    lp_layer_spec specs[2];
    lp_model_spec model;
    lp_network *net;
    lp_layer *in, *l;
} lp_test_rig;

/* Fills every field but calls no layer constructor: the caller does, on r->l. `layer`
 * has in and out shapes set; `tensors` (copied, may be NULL) are the layer's parameter
 * tensors with their offsets into parameter and gradient buffers of n_params floats
 * (at least one). r->l->index is 1. Free with lp_test_rig_free whatever happened. */
lp_status lp_test_rig_build(lp_test_rig *r, const lp_layer_spec *layer, int max_batch, bool need_dx,
                            bool input_dout, const lp_param_tensor *tensors, int n_tensors,
                            size_t n_params);
void lp_test_rig_free(lp_test_rig *r);

#endif
