/* The named-tensor weight set (laperm/weights.h). */
#include "laperm/weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

lp_status lp_weights_add(lp_weights *w, const char *layer, const char *name, int rank,
                         const int *dims, const float *data) {
    if (!w || !layer || !name || !dims || !data)
        return lp_fail(LP_ERR_INVALID_ARG, "lp_weights_add: NULL argument");
    if (strlen(layer) >= LP_LAYER_NAME_MAX || strlen(name) >= LP_TENSOR_NAME_MAX)
        return lp_fail(LP_ERR_INVALID_ARG, "tensor '%s/%s': name too long (at most %d and %d)",
                       layer, name, LP_LAYER_NAME_MAX - 1, LP_TENSOR_NAME_MAX - 1);
    if (rank < 1 || rank > 4)
        return lp_fail(LP_ERR_INVALID_ARG, "tensor '%s/%s': rank %d, expected 1 to 4", layer, name,
                       rank);
    if (lp_weights_find(w, layer, name))
        return lp_fail(LP_ERR_INVALID_ARG, "tensor '%s/%s' given twice", layer, name);
    size_t count = 1;
    for (int d = 0; d < rank; ++d) {
        if (dims[d] < 1)
            return lp_fail(LP_ERR_INVALID_ARG, "tensor '%s/%s': dimension %d is %d, expected >= 1",
                           layer, name, d, dims[d]);
        if (count > ((size_t)-1 / sizeof(float)) / (size_t)dims[d])
            return lp_fail(LP_ERR_INVALID_ARG, "tensor '%s/%s': too large", layer, name);
        count *= (size_t)dims[d];
    }
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 16;
        lp_named_tensor *grown = realloc(w->tensors, (size_t)cap * sizeof *grown);
        if (!grown) return lp_fail(LP_ERR_NO_MEMORY, "weights: out of memory");
        w->tensors = grown;
        w->cap = cap;
    }
    lp_named_tensor *t = &w->tensors[w->n];
    memset(t, 0, sizeof *t);
    t->data = malloc(count * sizeof *t->data);
    if (!t->data)
        return lp_fail(LP_ERR_NO_MEMORY, "tensor '%s/%s': out of memory (%zu floats)", layer, name,
                       count);
    memcpy(t->data, data, count * sizeof *t->data);
    snprintf(t->layer, sizeof t->layer, "%s", layer);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->rank = rank;
    memcpy(t->dims, dims, (size_t)rank * sizeof *dims);
    t->count = count;
    w->n++;
    return LP_OK;
}

const lp_named_tensor *lp_weights_find(const lp_weights *w, const char *layer, const char *name) {
    for (int i = 0; w && i < w->n; ++i)
        if (!strcmp(w->tensors[i].layer, layer) && !strcmp(w->tensors[i].name, name))
            return &w->tensors[i];
    return NULL;
}

lp_status lp_weights_set_model_text(lp_weights *w, const char *text) {
    char *copy = NULL;
    if (text) {
        size_t len = strlen(text);
        copy = malloc(len + 1);
        if (!copy) return lp_fail(LP_ERR_NO_MEMORY, "weights: out of memory");
        memcpy(copy, text, len + 1);
    }
    free(w->model_text);
    w->model_text = copy;
    return LP_OK;
}

void lp_weights_free(lp_weights *w) {
    if (!w) return;
    for (int i = 0; i < w->n; ++i)
        free(w->tensors[i].data);
    free(w->tensors);
    free(w->model_text);
    memset(w, 0, sizeof *w);
}

const char *lp_dims_str(int rank, const int *dims, char *buf, size_t size) {
    size_t len = 0;
    if (size) buf[0] = '\0';
    for (int i = 0; i < rank && len < size; ++i) {
        int n = snprintf(buf + len, size - len, "%s%d", i ? "x" : "", dims[i]);
        len = n < 0 ? size : len + (size_t)n;
    }
    return buf;
}

lp_status lp_weights_to_params(const lp_weights *w, const char *what, const lp_model_spec *m,
                               const lp_param_tensor *t, int n, float *params) {
    for (int i = 0; i < n; ++i) {
        const lp_param_tensor *p = &t[i];
        const char *layer = m->layers[p->layer].name;
        const lp_named_tensor *have = lp_weights_find(w, layer, p->name);
        if (!have)
            return lp_fail(LP_ERR_NOT_FOUND, "%s: no tensor for layer '%s' %s (%s expected)", what,
                           layer, p->name, lp_dims_str(p->rank, p->dims, (char[64]){0}, 64));
        bool same = have->rank == p->rank;
        for (int d = 0; same && d < p->rank; ++d)
            same = have->dims[d] == p->dims[d];
        if (!same) {
            char there[64], here[64];
            return lp_fail(LP_ERR_FORMAT, "%s: layer '%s' %s is %s there but %s in the model", what,
                           layer, p->name, lp_dims_str(have->rank, have->dims, there, 64),
                           lp_dims_str(p->rank, p->dims, here, 64));
        }
        memcpy(params + p->offset, have->data, p->count * sizeof *params);
    }
    return LP_OK;
}
