/* `laperm summary`: the table of layers, output shapes, parameter counts and each kind's
 * details (its descriptor's `details`), then the totals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layer.h"

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
    lp_text t = {buf, size, 0};
    buf[0] = '\0';
    const lp_layer_kind_desc *d = lp_layer_kind_get(l->kind);
    if (d && d->details) d->details(l, &t);
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
