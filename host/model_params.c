/* The parameter-tensor table of a parsed model: each layer's tensors as its kind's
 * descriptor lists them (layer.h), in layer order, with their offsets in one flat
 * buffer. */
#include <stdlib.h>

#include "layer.h"

static int layer_tensors_(const lp_model_spec *m, int i, lp_param_tensor *t) {
    const lp_layer_kind_desc *d = lp_layer_kind_get(m->layers[i].kind);
    return d && d->tensors ? d->tensors(m, i, t) : 0;
}

lp_status lp_model_params(const lp_model_spec *m, lp_param_tensor **out, int *n) {
    if (!m || !out || !n) return lp_fail(LP_ERR_INVALID_ARG, "lp_model_params: NULL argument");
    *out = NULL;
    *n = 0;
    lp_param_tensor scratch[LP_LAYER_TENSORS_MAX];
    int total = 0;
    for (int i = 0; i < m->n_layers; ++i)
        total += layer_tensors_(m, i, scratch);
    /* calloc(0) may return NULL; one spare element keeps "NULL means no memory" true. */
    lp_param_tensor *t = calloc((size_t)total + 1, sizeof *t);
    if (!t) return lp_fail(LP_ERR_NO_MEMORY, "lp_model_params: out of memory");
    int k = 0;
    size_t offset = 0;
    for (int i = 0; i < m->n_layers; ++i) {
        int added = layer_tensors_(m, i, scratch);
        for (int j = 0; j < added; ++j, ++k) {
            t[k] = scratch[j];
            t[k].offset = offset;
            offset += t[k].count;
        }
    }
    *out = t;
    *n = k;
    return LP_OK;
}

size_t lp_model_param_count(const lp_model_spec *m) {
    size_t total = 0;
    lp_param_tensor t[LP_LAYER_TENSORS_MAX];
    for (int i = 0; m && i < m->n_layers; ++i) {
        int added = layer_tensors_(m, i, t);
        for (int j = 0; j < added; ++j)
            total += t[j].count;
    }
    return total;
}
