/* Model files from disk, the parameter-tensor table derived from a parsed model, and the
 * summary table printed by the CLI. Parsing itself lives in model_parse.c. */
#include "laperm/model.h"

#include <errno.h>
#include <stdarg.h>
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
    case LP_LAYER_CONV2D:
        return "conv2d";
    case LP_LAYER_MAXPOOL:
        return "maxpool";
    case LP_LAYER_AVGPOOL:
        return "avgpool";
    case LP_LAYER_GLOBALAVGPOOL:
        return "globalavgpool";
    case LP_LAYER_BATCHNORM:
        return "batchnorm";
    case LP_LAYER_DROPOUT:
        return "dropout";
    case LP_LAYER_ADD:
        return "add";
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
    case LP_INIT_ONES:
        return "ones";
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

/* The tensors layer i owns, at most LAYER_TENSORS_MAX_, in table order; offsets are left
 * for the caller. One place decides them, so the table and the count cannot disagree. */
#define LAYER_TENSORS_MAX_ 2

static lp_param_tensor vector_(int layer, const char *name, int n, lp_init_kind init, int fan_in,
                               int fan_out, bool permute) {
    lp_param_tensor t = {.layer = layer,
                         .rank = 1,
                         .dims = {n},
                         .count = (size_t)n,
                         .fan_in = fan_in,
                         .fan_out = fan_out,
                         .init = init,
                         .l2 = 0.0f,
                         .is_kernel = false,
                         .permute_default = permute,
                         .groups = 1,
                         .group_size = n};
    snprintf(t.name, sizeof t.name, "%s", name);
    return t;
}

/* A convolution's kernel (filters, cin, kh, kw) and bias: [conv2d] and the projection of
 * [add]. Keras' fans: in = cin*kh*kw (one filter's inputs), out = filters*kh*kw. */
static int conv_tensors_(int i, int cin, const lp_conv2d_spec *c, lp_param_tensor *t) {
    int per_filter = cin * c->kh * c->kw, fan_out = c->filters * c->kh * c->kw;
    t[0] = (lp_param_tensor){.layer = i,
                             .name = "kernel",
                             .rank = 4,
                             .dims = {c->filters, cin, c->kh, c->kw},
                             .count = (size_t)c->filters * (size_t)per_filter,
                             .fan_in = per_filter,
                             .fan_out = fan_out,
                             .init = c->kernel_init,
                             .l2 = c->l2,
                             .is_kernel = true,
                             .permute_default = c->permute,
                             .groups = c->filters,
                             .group_size = per_filter};
    if (!c->use_bias) return 1;
    t[1] = vector_(i, "bias", c->filters, c->bias_init, per_filter, fan_out, false);
    return 2;
}

static int layer_tensors_(const lp_model_spec *m, int i, lp_param_tensor *t) {
    const lp_layer_spec *l = &m->layers[i];
    switch (l->kind) {
    case LP_LAYER_DENSE: {
        const lp_dense_spec *d = &l->u.dense;
        int in = (int)lp_shape_size(l->in);
        t[0] = (lp_param_tensor){.layer = i,
                                 .name = "kernel",
                                 .rank = 2,
                                 .dims = {d->units, in},
                                 .count = (size_t)d->units * (size_t)in,
                                 .fan_in = in,
                                 .fan_out = d->units,
                                 .init = d->kernel_init,
                                 .l2 = d->l2,
                                 .is_kernel = true,
                                 .permute_default = d->permute,
                                 .groups = d->units,
                                 .group_size = in};
        if (!d->use_bias) return 1;
        t[1] = vector_(i, "bias", d->units, d->bias_init, in, d->units, false);
        return 2;
    }
    case LP_LAYER_CONV2D:
        return conv_tensors_(i, l->in.c, &l->u.conv, t);
    case LP_LAYER_ADD:
        /* The projection reads from's output: its channels are the kernel's cin. */
        if (!l->u.add.projection) return 0;
        return conv_tensors_(i, m->layers[l->u.add.from].out.c, &l->u.add.proj, t);
    case LP_LAYER_BATCHNORM: {
        /* in.c is the channel count of a spatial input and the feature count of a flat one. */
        int n = l->in.c;
        bool permute = l->u.bn.permute;
        t[0] = vector_(i, "gamma", n, LP_INIT_ONES, n, n, permute);
        t[1] = vector_(i, "beta", n, LP_INIT_ZEROS, n, n, permute);
        return 2;
    }
    case LP_LAYER_INPUT:
    case LP_LAYER_FLATTEN:
    case LP_LAYER_MAXPOOL:
    case LP_LAYER_AVGPOOL:
    case LP_LAYER_GLOBALAVGPOOL:
    case LP_LAYER_DROPOUT:
        return 0;
    }
    return 0;
}

lp_status lp_model_params(const lp_model_spec *m, lp_param_tensor **out, int *n) {
    if (!m || !out || !n) return lp_fail(LP_ERR_INVALID_ARG, "lp_model_params: NULL argument");
    *out = NULL;
    *n = 0;
    lp_param_tensor scratch[LAYER_TENSORS_MAX_];
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
    lp_param_tensor t[LAYER_TENSORS_MAX_];
    for (int i = 0; m && i < m->n_layers; ++i) {
        int added = layer_tensors_(m, i, t);
        for (int j = 0; j < added; ++j)
            total += t[j].count;
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

/* Appends printf-style text to buf; once full it stays full (snprintf truncates). */
typedef struct {
    char *buf;
    size_t size, len;
} text_;

static void add_(text_ *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_(text_ *t, const char *fmt, ...) {
    if (t->len >= t->size) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, ap);
    va_end(ap);
    t->len = n < 0 ? t->size : t->len + (size_t)n;
}

static const char *act_words_(lp_activation a) {
    return a == LP_ACT_NONE ? "no activation" : lp_activation_name(a);
}

/* "3x3", "5x3": a window's height x width, the way model files spell it. */
static void add_size2_(text_ *t, const char *label, int h, int w) {
    add_(t, "%s%s %dx%d", t->len ? ", " : "", label, h, w);
}

static void add_stride_(text_ *t, int h, int w) {
    if (h == w)
        add_(t, ", stride %d", h);
    else
        add_(t, ", stride %dx%d", h, w);
}

static const char *padding_name_(lp_padding p) {
    return p == LP_PAD_SAME ? "same" : "valid";
}

static void weights_details_(text_ *t, lp_activation act, lp_init_kind init, bool bias, float l2,
                             bool permute) {
    add_(t, "%s%s, init %s, %s", t->len ? ", " : "", act_words_(act), lp_init_name(init),
         bias ? "bias" : "no bias");
    if (l2 > 0.0f) add_(t, ", l2 %g", (double)l2);
    add_(t, ", %s", permute ? "permuted" : "not permuted");
}

static void layer_details_(const lp_layer_spec *l, char *buf, size_t size) {
    text_ t = {buf, size, 0};
    buf[0] = '\0';
    switch (l->kind) {
    case LP_LAYER_DENSE: {
        const lp_dense_spec *d = &l->u.dense;
        weights_details_(&t, d->activation, d->kernel_init, d->use_bias, d->l2, d->permute);
        return;
    }
    case LP_LAYER_CONV2D: {
        const lp_conv2d_spec *c = &l->u.conv;
        add_size2_(&t, "kernel", c->kh, c->kw);
        add_stride_(&t, c->stride_h, c->stride_w);
        add_(&t, ", padding %s", padding_name_(c->padding));
        weights_details_(&t, c->activation, c->kernel_init, c->use_bias, c->l2, c->permute);
        return;
    }
    case LP_LAYER_MAXPOOL:
    case LP_LAYER_AVGPOOL: {
        const lp_pool_spec *p = &l->u.pool;
        add_size2_(&t, "window", p->ph, p->pw);
        add_stride_(&t, p->stride_h, p->stride_w);
        add_(&t, ", padding %s", padding_name_(p->padding));
        return;
    }
    case LP_LAYER_GLOBALAVGPOOL:
        add_(&t, "mean over %dx%d", l->in.h, l->in.w);
        return;
    case LP_LAYER_BATCHNORM: {
        const lp_batchnorm_spec *b = &l->u.bn;
        bool flat = l->in.h == 1 && l->in.w == 1;
        add_(&t, "per %s, momentum %g, eps %g", flat ? "feature" : "channel", (double)b->momentum,
             (double)b->eps);
        if (b->activation != LP_ACT_NONE) add_(&t, ", %s", lp_activation_name(b->activation));
        add_(&t, ", %s", b->permute ? "permuted" : "not permuted");
        return;
    }
    case LP_LAYER_DROPOUT:
        add_(&t, "rate %g", (double)l->u.dropout.rate);
        return;
    case LP_LAYER_ADD: {
        const lp_add_spec *a = &l->u.add;
        add_(&t, "from %s", a->from_name);
        if (!a->projection) {
            add_(&t, ", %s", act_words_(a->activation));
            return;
        }
        add_(&t, ", projection 1x1");
        add_stride_(&t, a->proj.stride_h, a->proj.stride_w);
        weights_details_(&t, a->activation, a->proj.kernel_init, a->proj.use_bias, a->proj.l2,
                         a->proj.permute);
        return;
    }
    case LP_LAYER_INPUT:
    case LP_LAYER_FLATTEN:
        return;
    }
}

static int max_int_(int a, int b) {
    return a > b ? a : b;
}

lp_status lp_model_summary(const lp_model_spec *m, FILE *out) {
    if (!m || !out) return lp_fail(LP_ERR_INVALID_ARG, "lp_model_summary: NULL argument");
    lp_param_tensor *t = NULL;
    int nt = 0;
    LP_TRY(lp_model_params(m, &t, &nt));

    char shape[48], num[32], details[200];
    /* Columns as wide as their longest entry, at least as wide as for an MLP. */
    int name_w = 5, kind_w = 7, shape_w = 12; /* "layer", "flatten", "output" + room */
    for (int i = 0; i < m->n_layers; ++i) {
        const lp_layer_spec *l = &m->layers[i];
        name_w = max_int_(name_w, (int)strlen(l->name));
        kind_w = max_int_(kind_w, (int)strlen(lp_layer_kind_name(l->kind)));
        shape_w = max_int_(shape_w, (int)strlen(lp_shape_str(l->out, shape, sizeof shape)));
    }
    fprintf(out, "model %s\n", m->source ? m->source : "(unnamed)");
    fprintf(out, "%3s  %-*s  %-*s  %-*s  %11s  %s\n", "#", name_w, "layer", kind_w, "kind", shape_w,
            "output", "params", "details");
    for (int i = 0; i < m->n_layers; ++i) {
        const lp_layer_spec *l = &m->layers[i];
        size_t params = 0;
        for (int k = 0; k < nt; ++k)
            if (t[k].layer == i) params += t[k].count;
        layer_details_(l, details, sizeof details);
        fprintf(out, "%3d  %-*s  %-*s  %-*s  %11s%s%s\n", i, name_w, l->name, kind_w,
                lp_layer_kind_name(l->kind), shape_w, lp_shape_str(l->out, shape, sizeof shape),
                thousands_(params, num, sizeof num), details[0] ? "  " : "", details);
    }

    size_t total = 0, permuted = 0;
    long groups = 0;
    bool only_kernels = true;
    for (int k = 0; k < nt; ++k) {
        total += t[k].count;
        if (!t[k].permute_default) continue;
        permuted += t[k].count;
        groups += t[k].groups;
        only_kernels = only_kernels && t[k].is_kernel;
    }
    free(t);
    fprintf(out, "total params: %s in %d tensor%s\n", thousands_(total, num, sizeof num), nt,
            nt == 1 ? "" : "s");
    fprintf(out, "permuted params: %s in %ld groups (%s with permute = true)\n",
            thousands_(permuted, num, sizeof num), groups, only_kernels ? "kernels" : "layers");
    if (ferror(out)) return lp_fail(LP_ERR_IO, "cannot write the model summary");
    return LP_OK;
}
