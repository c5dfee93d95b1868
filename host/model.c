/* Model files from disk, the parameter-tensor table derived from a parsed model, and the
 * summary table printed by the CLI. Parsing itself lives in model_parse.c. */
#include "laperm/model.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Larger than any sensible model file: guards against being handed a data set. */
#define MODEL_FILE_MAX_ (1 << 20)

size_t lp_shape_size(lp_shape s) {
    return (size_t)s.c * (size_t)s.h * (size_t)s.w;
}

const char *lp_shape_str(lp_shape s, char *buf, size_t size) {
    if (s.h == 1 && s.w == 1)
        snprintf(buf, size, "%d", s.c);
    else
        snprintf(buf, size, "%dx%dx%d", s.c, s.h, s.w);
    return buf;
}

const char *lp_layer_kind_name(lp_layer_kind k) {
    switch (k) {
    case LP_LAYER_INPUT:
        return "input";
    case LP_LAYER_FLATTEN:
        return "flatten";
    case LP_LAYER_DENSE:
        return "dense";
    }
    return "?";
}

const char *lp_activation_name(lp_activation a) {
    switch (a) {
    case LP_ACT_NONE:
        return "none";
    case LP_ACT_RELU:
        return "relu";
    }
    return "?";
}

const char *lp_init_name(lp_init_kind i) {
    switch (i) {
    case LP_INIT_HE_UNIFORM:
        return "he_uniform";
    case LP_INIT_HE_NORMAL:
        return "he_normal";
    case LP_INIT_GLOROT_UNIFORM:
        return "glorot_uniform";
    case LP_INIT_GLOROT_NORMAL:
        return "glorot_normal";
    case LP_INIT_ZEROS:
        return "zeros";
    }
    return "?";
}

/* ---- loading ----------------------------------------------------------------------------- */

lp_status lp_model_load(const char *path, lp_model_spec *out) {
    if (!out) return lp_fail(LP_ERR_INVALID_ARG, "lp_model_load: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path) return lp_fail(LP_ERR_INVALID_ARG, "lp_model_load: path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f) return lp_fail(LP_ERR_IO, "cannot open model file '%s': %s", path, strerror(errno));
    char *text = malloc(MODEL_FILE_MAX_ + 1);
    if (!text) {
        fclose(f);
        return lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory reading the model", path);
    }
    size_t n = fread(text, 1, MODEL_FILE_MAX_ + 1, f);
    int read_error = ferror(f);
    fclose(f);
    lp_status s = LP_OK;
    if (read_error)
        s = lp_fail(LP_ERR_IO, "cannot read model file '%s'", path);
    else if (n > MODEL_FILE_MAX_)
        s = lp_fail(LP_ERR_FORMAT, "%s: larger than %d bytes: not a model file", path,
                    MODEL_FILE_MAX_);
    else if (memchr(text, '\0', n))
        s = lp_fail(LP_ERR_FORMAT, "%s: contains a NUL byte: not a text model file", path);
    if (s == LP_OK) {
        text[n] = '\0';
        s = lp_model_parse_text(text, path, out);
    }
    free(text);
    return s;
}

void lp_model_free(lp_model_spec *m) {
    if (!m) return;
    free(m->source);
    free(m->text);
    free(m->layers);
    memset(m, 0, sizeof *m);
}

/* ---- parameter tensors ----------------------------------------------------------------- */

static int count_tensors_(const lp_model_spec *m) {
    int n = 0;
    for (int i = 0; i < m->n_layers; ++i)
        if (m->layers[i].kind == LP_LAYER_DENSE) n += m->layers[i].u.dense.use_bias ? 2 : 1;
    return n;
}

lp_status lp_model_params(const lp_model_spec *m, lp_param_tensor **out, int *n) {
    if (!m || !out || !n) return lp_fail(LP_ERR_INVALID_ARG, "lp_model_params: NULL argument");
    *out = NULL;
    *n = 0;
    int total = count_tensors_(m);
    /* calloc(0) may return NULL; one spare element keeps "NULL means no memory" true. */
    lp_param_tensor *t = calloc((size_t)total + 1, sizeof *t);
    if (!t) return lp_fail(LP_ERR_NO_MEMORY, "lp_model_params: out of memory");
    int k = 0;
    size_t offset = 0;
    for (int i = 0; i < m->n_layers; ++i) {
        const lp_layer_spec *l = &m->layers[i];
        if (l->kind != LP_LAYER_DENSE) continue;
        const lp_dense_spec *d = &l->u.dense;
        int in = (int)lp_shape_size(l->in);
        t[k] = (lp_param_tensor){.layer = i,
                                 .name = "kernel",
                                 .rank = 2,
                                 .dims = {d->units, in},
                                 .count = (size_t)d->units * (size_t)in,
                                 .offset = offset,
                                 .fan_in = in,
                                 .fan_out = d->units,
                                 .init = d->kernel_init,
                                 .l2 = d->l2,
                                 .is_kernel = true,
                                 .permute_default = d->permute,
                                 .groups = d->units,
                                 .group_size = in};
        offset += t[k++].count;
        if (!d->use_bias) continue;
        t[k] = (lp_param_tensor){.layer = i,
                                 .name = "bias",
                                 .rank = 1,
                                 .dims = {d->units},
                                 .count = (size_t)d->units,
                                 .offset = offset,
                                 .fan_in = in,
                                 .fan_out = d->units,
                                 .init = d->bias_init,
                                 .l2 = 0.0f,
                                 .is_kernel = false,
                                 .permute_default = false,
                                 .groups = 1,
                                 .group_size = d->units};
        offset += t[k++].count;
    }
    *out = t;
    *n = k;
    return LP_OK;
}

size_t lp_model_param_count(const lp_model_spec *m) {
    size_t total = 0;
    for (int i = 0; m && i < m->n_layers; ++i) {
        const lp_layer_spec *l = &m->layers[i];
        if (l->kind != LP_LAYER_DENSE) continue;
        size_t units = (size_t)l->u.dense.units;
        total += units * lp_shape_size(l->in) + (l->u.dense.use_bias ? units : 0);
    }
    return total;
}

/* ---- summary ------------------------------------------------------------------------------ */

/* 266610 -> "266,610": parameter counts are read by people comparing them with papers. */
static const char *thousands_(size_t v, char *buf, size_t size) {
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%zu", v);
    size_t j = 0;
    for (int i = 0; i < n && j + 2 < size; ++i) {
        if (i > 0 && (n - i) % 3 == 0) buf[j++] = ',';
        buf[j++] = digits[i];
    }
    buf[j] = '\0';
    return buf;
}

static void layer_details_(const lp_layer_spec *l, char *buf, size_t size) {
    buf[0] = '\0';
    if (l->kind != LP_LAYER_DENSE) return;
    const lp_dense_spec *d = &l->u.dense;
    int len =
        snprintf(buf, size, "%s, init %s, %s",
                 d->activation == LP_ACT_NONE ? "no activation" : lp_activation_name(d->activation),
                 lp_init_name(d->kernel_init), d->use_bias ? "bias" : "no bias");
    if (d->l2 > 0.0f && len >= 0 && (size_t)len < size)
        len += snprintf(buf + len, size - (size_t)len, ", l2 %g", (double)d->l2);
    if (len >= 0 && (size_t)len < size)
        snprintf(buf + len, size - (size_t)len, ", %s", d->permute ? "permuted" : "not permuted");
}

lp_status lp_model_summary(const lp_model_spec *m, FILE *out) {
    if (!m || !out) return lp_fail(LP_ERR_INVALID_ARG, "lp_model_summary: NULL argument");
    lp_param_tensor *t = NULL;
    int nt = 0;
    LP_TRY(lp_model_params(m, &t, &nt));

    int name_w = 5; /* strlen("layer") */
    for (int i = 0; i < m->n_layers; ++i) {
        int w = (int)strlen(m->layers[i].name);
        if (w > name_w) name_w = w;
    }
    char shape[48], num[32], details[160];
    fprintf(out, "model %s\n", m->source ? m->source : "(unnamed)");
    fprintf(out, "%3s  %-*s  %-7s  %-12s  %11s  %s\n", "#", name_w, "layer", "kind", "output",
            "params", "details");
    for (int i = 0; i < m->n_layers; ++i) {
        const lp_layer_spec *l = &m->layers[i];
        size_t params = 0;
        for (int k = 0; k < nt; ++k)
            if (t[k].layer == i) params += t[k].count;
        layer_details_(l, details, sizeof details);
        fprintf(out, "%3d  %-*s  %-7s  %-12s  %11s%s%s\n", i, name_w, l->name,
                lp_layer_kind_name(l->kind), lp_shape_str(l->out, shape, sizeof shape),
                thousands_(params, num, sizeof num), details[0] ? "  " : "", details);
    }

    size_t total = 0, permuted = 0;
    long groups = 0;
    for (int k = 0; k < nt; ++k) {
        total += t[k].count;
        if (!t[k].permute_default) continue;
        permuted += t[k].count;
        groups += t[k].groups;
    }
    free(t);
    fprintf(out, "total params: %s in %d tensor%s\n", thousands_(total, num, sizeof num), nt,
            nt == 1 ? "" : "s");
    fprintf(out, "permuted params: %s in %ld groups (kernels with permute = true)\n",
            thousands_(permuted, num, sizeof num), groups);
    if (ferror(out)) return lp_fail(LP_ERR_IO, "cannot write the model summary");
    return LP_OK;
}
