/* Weights from a Keras save_weights HDF5 file (Keras 2 / tf.keras layout): root attribute
 * layer_names, one group per layer with attribute weight_names, each weight a dataset at
 * <layer>/<weight name>. Layers with weights are matched to the model's by order and
 * shape (keras_layout.h converts the layouts). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keras_layout.h"
#include "laperm/results.h"
#include "laperm/weights.h"
#include "results_h5.h"
#include "weights_h5.h"

/* layer_names, or its pieces layer_names0, layer_names1, ... (Keras splits attributes
 * over 64 KiB). */
static lp_status layer_names_(hid_t f, const char *file, char ***names, int *n) {
    lp_status s = lp_wh5_attr_strings(f, "layer_names", file, names, n);
    if (s != LP_ERR_NOT_FOUND) return s;
    lp_clear_error();
    *names = NULL;
    *n = 0;
    for (int chunk = 0;; ++chunk) {
        char attr[32];
        snprintf(attr, sizeof attr, "layer_names%d", chunk);
        char **part;
        int np;
        s = lp_wh5_attr_strings(f, attr, file, &part, &np);
        if (s == LP_ERR_NOT_FOUND && chunk > 0) {
            lp_clear_error();
            return LP_OK;
        }
        if (s != LP_OK) break;
        char **grown = realloc(*names, (size_t)(*n + np + 1) * sizeof *grown);
        if (!grown) {
            lp_wh5_strings_free(part, np);
            s = lp_fail(LP_ERR_NO_MEMORY, "out of memory");
            break;
        }
        *names = grown;
        memcpy(*names + *n, part, (size_t)np * sizeof *part);
        *n += np;
        free(part);
    }
    lp_wh5_strings_free(*names, *n);
    *names = NULL;
    *n = 0;
    return s;
}

/* "dense_1/kernel:0" -> "kernel" */
static void short_name_(const char *w, char *out, size_t size) {
    const char *slash = strrchr(w, '/');
    snprintf(out, size, "%s", slash ? slash + 1 : w);
    char *colon = strchr(out, ':');
    if (colon) *colon = '\0';
}

typedef struct {
    char *name;
    char **weights;
    int n;
} klayer_;

static void klayers_free_(klayer_ *k, int n) {
    for (int i = 0; k && i < n; ++i) {
        free(k[i].name);
        lp_wh5_strings_free(k[i].weights, k[i].n);
    }
    free(k);
}

/* The file's layers that have weights, in its order. */
static lp_status keras_layers_(hid_t f, const char *file, klayer_ **out, int *n) {
    char **names;
    int nn;
    *out = NULL;
    *n = 0;
    LP_TRY(layer_names_(f, file, &names, &nn));
    klayer_ *k = calloc((size_t)nn + 1, sizeof *k);
    lp_status s = k ? LP_OK : lp_fail(LP_ERR_NO_MEMORY, "out of memory");
    int nk = 0;
    for (int i = 0; s == LP_OK && i < nn; ++i) {
        hid_t g = lp_wh5_exists(f, names[i]) ? H5Gopen2(f, names[i], H5P_DEFAULT) : -1;
        if (g < 0) {
            s = lp_fail(LP_ERR_FORMAT, "%s: layer_names lists '%s' but the file has no such group",
                        file, names[i]);
            break;
        }
        char **w = NULL;
        int nw = 0;
        s = lp_wh5_attr_strings(g, "weight_names", file, &w, &nw);
        H5Gclose(g);
        if (s == LP_ERR_NOT_FOUND)
            s = lp_fail(LP_ERR_FORMAT, "%s: layer group '%s' has no attribute weight_names", file,
                        names[i]);
        if (s != LP_OK) break;
        if (nw == 0) {
            free(w);
            continue;
        }
        k[nk].name = names[i];
        names[i] = NULL;
        k[nk].weights = w;
        k[nk].n = nw;
        nk++;
    }
    lp_wh5_strings_free(names, nn);
    if (s != LP_OK) {
        klayers_free_(k, nk);
        return s;
    }
    *out = k;
    *n = nk;
    return LP_OK;
}

static const char *dims_(int rank, const int *d, char *buf) {
    return lp_dims_str(rank, d, buf, 64);
}

/* One matched pair of layers: each of ours tensors from the Keras weight of the same
 * name (the weight_names' last component without ":0"), shapes checked. */
static lp_status match_layer_(hid_t f, const char *file, const lp_model_spec *m,
                              const lp_keras_layer *ours, const klayer_ *theirs, lp_weights *out) {
    const char *lname = m->layers[ours->layer].name;
    if (theirs->n != ours->n) {
        char list[512] = "";
        for (int i = 0; i < theirs->n; ++i) {
            char sn[64];
            short_name_(theirs->weights[i], sn, sizeof sn);
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", sn);
        }
        return lp_fail(LP_ERR_FORMAT,
                       "%s: Keras layer '%s' holds %d weights (%s) but layer '%s' ([%s]) has %d",
                       file, theirs->name, theirs->n, list, lname,
                       lp_layer_kind_name(m->layers[ours->layer].kind), ours->n);
    }
    for (int i = 0; i < ours->n; ++i) {
        int w = -1;
        for (int j = 0; j < theirs->n && w < 0; ++j) {
            char sn[64];
            short_name_(theirs->weights[j], sn, sizeof sn);
            if (!strcmp(sn, ours->keras[i])) w = j;
        }
        if (w < 0) w = i; /* unknown names: Keras' own order */
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", theirs->name, theirs->weights[w]);
        int rank, dims[4];
        float *data = NULL, *conv = NULL;
        lp_status s = lp_wh5_read_float(f, path, -1, file, &rank, dims, &data);
        bool same = s == LP_OK && rank == ours->keras_rank[i];
        for (int d = 0; same && d < rank; ++d)
            same = dims[d] == ours->keras_dims[i][d];
        if (s == LP_OK && !same) {
            char a[64], b[64], c[64];
            s = lp_fail(LP_ERR_FORMAT,
                        "%s: Keras layer '%s' %s is %s, but layer '%s' %s is %s (expected %s in "
                        "Keras' layout)",
                        file, theirs->name, ours->keras[i], dims_(rank, dims, a), lname,
                        ours->ours[i], dims_(ours->rank[i], ours->dims[i], b),
                        dims_(ours->keras_rank[i], ours->keras_dims[i], c));
        }
        size_t count = 1;
        for (int d = 0; s == LP_OK && d < rank; ++d)
            count *= (size_t)dims[d];
        if (s == LP_OK && !(conv = malloc(count * sizeof *conv)))
            s = lp_fail(LP_ERR_NO_MEMORY, "out of memory");
        if (s == LP_OK) {
            lp_keras_convert(ours, i, data, conv, false);
            s = lp_weights_add(out, lname, ours->ours[i], ours->rank[i], ours->dims[i], conv);
        }
        free(data);
        free(conv);
        LP_TRY(s);
    }
    return LP_OK;
}

lp_status lp_weights_load_keras(const char *path, const lp_weights_pick *pick,
                                const lp_model_spec *model, lp_weights *out, lp_weights_origin *o) {
    (void)pick; /* one network: lp_weights_load passes only the final pick */
    o->kind = "keras";
    o->snapshot = -1;
    snprintf(o->what, sizeof o->what, "Keras weights");
    hid_t f;
    LP_TRY(lp_h5_open_read(path, &f));
    /* a file laperm exported records its model */
    char *text = NULL;
    lp_status s = LP_OK;
    htri_t has_text = H5Aexists(f, "laperm_model_text");
    H5Eclear2(H5E_DEFAULT);
    if (has_text > 0) {
        H5Fclose(f);
        s = lp_results_read_string(path, "/", "laperm_model_text", &text);
        if (s == LP_OK) s = lp_weights_set_model_text(out, text);
        free(text);
        if (s == LP_OK) s = lp_h5_open_read(path, &f);
        if (s != LP_OK) return s;
    }
    lp_model_spec own = {0};
    if (!model && out->model_text) {
        s = lp_model_parse_text(out->model_text, path, &own);
        if (s != LP_OK) {
            H5Fclose(f);
            return lp_fail_context(s, "%s: its laperm_model_text: ", path);
        }
        model = &own;
    }
    if (!model) {
        H5Fclose(f);
        return lp_fail(LP_ERR_INVALID_ARG,
                       "%s is a Keras weights file, which records no laperm model: give --model "
                       "(its layers are matched to the file's by order and shape)",
                       path);
    }
    klayer_ *theirs = NULL;
    lp_keras_layer *ours = NULL;
    int nt = 0, no = 0;
    s = keras_layers_(f, path, &theirs, &nt);
    if (s == LP_OK) s = lp_keras_layers(model, &ours, &no);
    if (s == LP_OK && nt != no) {
        char a[512] = "", b[512] = "";
        for (int i = 0; i < no; ++i)
            snprintf(a + strlen(a), sizeof a - strlen(a), "%s%s", i ? ", " : "",
                     model->layers[ours[i].layer].name);
        for (int i = 0; i < nt; ++i)
            snprintf(b + strlen(b), sizeof b - strlen(b), "%s%s", i ? ", " : "", theirs[i].name);
        s = lp_fail(LP_ERR_FORMAT,
                    "%s: %d Keras layers with weights (%s) but %s has %d (%s); they are matched "
                    "in order",
                    path, nt, b, model->source, no, a);
    }
    for (int i = 0; s == LP_OK && i < no; ++i)
        s = match_layer_(f, path, model, &ours[i], &theirs[i], out);
    klayers_free_(theirs, nt);
    free(ours);
    lp_model_free(&own);
    H5Fclose(f);
    return s;
}
