/* The laperm <-> Keras mapping of layers, tensors and layouts (keras_layout.h). */
#include "keras_layout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keras' name of one of our tensors. */
static const char *keras_name_(const char *ours) {
    if (!strcmp(ours, "running_mean")) return "moving_mean";
    if (!strcmp(ours, "running_var")) return "moving_variance";
    return ours;
}

/* The [flatten] a dense layer reads through (dropout and activation layers keep the
 * order), if its input was a spatial map. */
static bool flat_spatial_(const lp_model_spec *m, int layer, lp_shape *from) {
    int j = layer - 1;
    while (j > 0 &&
           (m->layers[j].kind == LP_LAYER_DROPOUT || m->layers[j].kind == LP_LAYER_ACTIVATION))
        --j;
    if (j <= 0 || m->layers[j].kind != LP_LAYER_FLATTEN) return false;
    *from = m->layers[j].in;
    return from->h * from->w > 1;
}

static void add_(lp_keras_layer *k, const char *ours, int rank, const int *dims) {
    int i = k->n++;
    snprintf(k->ours[i], sizeof k->ours[i], "%s", ours);
    snprintf(k->keras[i], sizeof k->keras[i], "%s", keras_name_(ours));
    k->rank[i] = k->keras_rank[i] = rank;
    memcpy(k->dims[i], dims, sizeof k->dims[i]);
    memcpy(k->keras_dims[i], dims, sizeof k->keras_dims[i]);
    if (rank == 2) { /* dense (out, in) -> (in, out) */
        k->keras_dims[i][0] = dims[1];
        k->keras_dims[i][1] = dims[0];
    } else if (rank == 4) { /* (cout, cin, kh, kw) -> (kh, kw, cin, cout) */
        int kd[4] = {dims[2], dims[3], dims[1], dims[0]};
        memcpy(k->keras_dims[i], kd, sizeof kd);
    }
}

lp_status lp_keras_layers(const lp_model_spec *m, lp_keras_layer **out, int *n) {
    lp_param_tensor *t;
    int nt;
    *out = NULL;
    *n = 0;
    LP_TRY(lp_model_params(m, &t, &nt));
    lp_keras_layer *k = calloc((size_t)nt + 1, sizeof *k);
    if (!k) {
        free(t);
        return lp_fail(LP_ERR_NO_MEMORY, "out of memory");
    }
    int nk = 0;
    for (int i = 0; i < nt;) {
        lp_keras_layer *l = &k[nk++];
        const lp_layer_spec *spec = &m->layers[t[i].layer];
        l->layer = t[i].layer;
        l->keras_class = spec->kind == LP_LAYER_DENSE       ? "dense"
                         : spec->kind == LP_LAYER_BATCHNORM ? "batch_normalization"
                                                            : "conv2d";
        int first = i;
        for (; i < nt && t[i].layer == l->layer; ++i)
            if (l->n < LP_KERAS_TENSORS_MAX) add_(l, t[i].name, t[i].rank, t[i].dims);
        if (spec->kind == LP_LAYER_BATCHNORM) {
            add_(l, "running_mean", t[first].rank, t[first].dims);
            add_(l, "running_var", t[first].rank, t[first].dims);
        }
        if (spec->kind == LP_LAYER_DENSE)
            l->flat_spatial = flat_spatial_(m, l->layer, &l->flat_from);
    }
    free(t);
    *out = k;
    *n = nk;
    return LP_OK;
}

void lp_keras_convert(const lp_keras_layer *k, int i, const float *src, float *dst, bool to_keras) {
    const int *d = k->dims[i];
    size_t count = 1;
    for (int j = 0; j < k->rank[i]; ++j)
        count *= (size_t)d[j];
    if (k->rank[i] == 2) {
        size_t outs = (size_t)d[0], ins = (size_t)d[1];
        size_t C = 1, HW = 1;
        if (k->flat_spatial) {
            C = (size_t)k->flat_from.c;
            HW = (size_t)k->flat_from.h * (size_t)k->flat_from.w;
        }
        for (size_t o = 0; o < outs; ++o)
            for (size_t in = 0; in < ins; ++in) {
                /* ours: input in = c * HW + p; Keras' flatten of (h, w, c): p * C + c */
                size_t kin = k->flat_spatial ? (in % HW) * C + in / HW : in;
                size_t ours = o * ins + in, keras = kin * outs + o;
                if (to_keras)
                    dst[keras] = src[ours];
                else
                    dst[ours] = src[keras];
            }
    } else if (k->rank[i] == 4) {
        size_t co = (size_t)d[0], ci = (size_t)d[1], kh = (size_t)d[2], kw = (size_t)d[3];
        for (size_t a = 0; a < co; ++a)
            for (size_t b = 0; b < ci; ++b)
                for (size_t y = 0; y < kh; ++y)
                    for (size_t x = 0; x < kw; ++x) {
                        size_t ours = ((a * ci + b) * kh + y) * kw + x;
                        size_t keras = ((y * kw + x) * ci + b) * co + a;
                        if (to_keras)
                            dst[keras] = src[ours];
                        else
                            dst[ours] = src[keras];
                    }
    } else {
        memcpy(dst, src, count * sizeof *dst);
    }
}
