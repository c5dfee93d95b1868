/* Helpers the layer kinds' section descriptions share: choice tables, shape checks with
 * the parser's messages, and the summary's detail phrases (layer_spec.h). */
#include "layer_spec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "laperm/init.h"

const lp_choice lp_activation_choices[] = {{"none", LP_ACT_NONE}, {"relu", LP_ACT_RELU}, {NULL, 0}};
const lp_choice lp_padding_choices[] = {{"valid", LP_PAD_VALID}, {"same", LP_PAD_SAME}, {NULL, 0}};

const char *lp_choice_word(const lp_choice *choices, int value) {
    for (; choices->word; ++choices)
        if (choices->value == value) return choices->word;
    return "?";
}

const char *lp_activation_name(lp_activation a) {
    return lp_choice_word(lp_activation_choices, (int)a);
}

int lp_spec_key_line(const lp_spec_ctx *c, const char *key) {
    for (int i = 0; i < c->n_keys; ++i)
        if (strcmp(c->keys[i].key, key) == 0) return c->key_line[i];
    return 0;
}

/* The slot of `name`: the one holding its layer, else the empty one where it would go. */
static int *name_slot_(const lp_name_index *x, const lp_layer_spec *layers, const char *name) {
    size_t mask = x->n_slots - 1;
    for (size_t i = (size_t)lp_hash_final(lp_hash_str(LP_HASH_SEED, name)) & mask;;
         i = (i + 1) & mask)
        if (!x->slots[i] || strcmp(layers[x->slots[i] - 1].name, name) == 0) return &x->slots[i];
}

int lp_name_index_find(const lp_name_index *x, const lp_layer_spec *layers, const char *name) {
    return x->n_slots ? *name_slot_(x, layers, name) - 1 : -1;
}

lp_status lp_name_index_add(lp_name_index *x, const lp_layer_spec *layers, int i) {
    if ((size_t)(x->n + 1) * 2 > x->n_slots) {
        lp_name_index grown = {.n_slots = x->n_slots ? 2 * x->n_slots : 64, .n = x->n};
        grown.slots = calloc(grown.n_slots, sizeof *grown.slots);
        if (!grown.slots) return lp_fail(LP_ERR_NO_MEMORY, "out of memory reading the model");
        for (size_t k = 0; k < x->n_slots; ++k)
            if (x->slots[k])
                *name_slot_(&grown, layers, layers[x->slots[k] - 1].name) = x->slots[k];
        free(x->slots);
        *x = grown;
    }
    *name_slot_(x, layers, layers[i].name) = i + 1;
    x->n++;
    return LP_OK;
}

void lp_name_index_free(lp_name_index *x) {
    free(x->slots);
    *x = (lp_name_index){0};
}

int lp_spec_find_layer(const lp_spec_ctx *c, const char *name) {
    return lp_name_index_find(c->names, c->layers, name);
}

lp_status lp_spec_check_init(const lp_spec_ctx *c, lp_init_kind init) {
    static const struct {
        const char *key;
        lp_init_kind init;
    } needs[] = {{"init_value", LP_INIT_CONSTANT}, {"init_values", LP_INIT_CHOICE}};
    for (size_t i = 0; i < sizeof needs / sizeof needs[0]; ++i) {
        int line = lp_spec_key_line(c, needs[i].key);
        const char *want = lp_init_name(needs[i].init);
        if (line && init != needs[i].init)
            return lp_fail(LP_ERR_FORMAT,
                           "%s:%d: '%s' is set but init is %s in [%s] (it is for init = %s: set "
                           "that or remove '%s')",
                           c->src, line, needs[i].key, lp_init_name(init), c->section, want,
                           needs[i].key);
        if (!line && init == needs[i].init) {
            int at = lp_spec_key_line(c, "init");
            return lp_fail(LP_ERR_FORMAT, "%s:%d: init = %s needs '%s' in [%s]", c->src, at, want,
                           needs[i].key, c->section);
        }
    }
    return LP_OK;
}

lp_status lp_spec_check_bias_init(const lp_spec_ctx *c, bool use_bias) {
    int line = lp_spec_key_line(c, "bias_init");
    if (use_bias || !line) return LP_OK;
    return lp_fail(LP_ERR_FORMAT,
                   "%s:%d: 'bias_init' is set but bias = false in [%s] (remove one of them)",
                   c->src, line, c->section);
}

int64_t lp_size_product(int n, const int64_t *sizes) {
    int64_t p = 1;
    for (int i = 0; i < n; ++i)
        if (__builtin_mul_overflow(p, sizes[i], &p)) return INT64_MAX;
    return p;
}

const char *lp_size_str(int64_t v, char *buf, size_t size) {
    if (v == INT64_MAX)
        snprintf(buf, size, "%lld or more", (long long)INT64_MAX);
    else
        snprintf(buf, size, "%lld", (long long)v);
    return buf;
}

bool lp_shape_is_flat(lp_shape s) {
    return s.h == 1 && s.w == 1;
}

lp_status lp_spec_need_spatial(const lp_spec_ctx *c, lp_layer_spec *l, const lp_layer_spec *prev) {
    l->in = prev->out;
    if (!lp_shape_is_flat(l->in)) return LP_OK;
    char buf[48];
    return lp_fail(LP_ERR_FORMAT,
                   "%s:%d: [%s] needs a spatial input (channels x height x width) but gets the "
                   "flat shape %s from '%s'",
                   c->src, l->line, c->section, lp_shape_str(l->in, buf, sizeof buf), prev->name);
}

lp_status lp_spec_slide_window(const lp_spec_ctx *c, lp_layer_spec *l, const lp_layer_spec *prev,
                               const char *what, const char *key, int channels, int kh, int kw,
                               int stride_h, int stride_w, lp_padding padding) {
    lp_window win;
    bool fits =
        lp_window_make(l->in.h, l->in.w, kh, kw, stride_h, stride_w, padding, &win) == LP_OK;
    if (!fits && padding == LP_PAD_VALID)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: impossible shape: [%s] %s %dx%d does not fit its %dx%d input from "
                       "'%s' (padding = valid needs the %s inside the input; use padding = same "
                       "or a smaller %s)",
                       c->src, l->line, c->section, what, kh, kw, l->in.h, l->in.w, prev->name,
                       what, what);
    /* The padded input (what im2col reads, what the direct path lays out per sample) must
     * be indexable too: each side an int, and all of it at most LP_SPEC_ELEMS_MAX. */
    int line = key && lp_spec_key_line(c, key) ? lp_spec_key_line(c, key) : l->line;
    if (!fits)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: '%s' = %dx%d with padding = same in [%s] pads its %dx%dx%d input "
                       "from '%s' to a side of more than %d (use a smaller %s)",
                       c->src, line, key ? key : what, kh, kw, c->section, l->in.c, l->in.h,
                       l->in.w, prev->name, INT_MAX, what);
    int64_t ph = (int64_t)l->in.h + win.pad_top + win.pad_bottom;
    int64_t pw = (int64_t)l->in.w + win.pad_left + win.pad_right;
    int64_t padded = LP_SIZE_PRODUCT(l->in.c, ph, pw);
    char num[32];
    if (padded > LP_SPEC_ELEMS_MAX)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: '%s' = %dx%d with padding = same in [%s] pads its %dx%dx%d input "
                       "from '%s' to %dx%lldx%lld = %s values per sample, above the limit of %d "
                       "(use a smaller %s)",
                       c->src, line, key ? key : what, kh, kw, c->section, l->in.c, l->in.h,
                       l->in.w, prev->name, l->in.c, (long long)ph, (long long)pw,
                       lp_size_str(padded, num, sizeof num), INT_MAX, what);
    int64_t size = LP_SIZE_PRODUCT(channels, win.oh, win.ow);
    if (size > LP_SPEC_ELEMS_MAX)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: [%s] output of %dx%dx%d = %s values per sample exceeds the "
                       "limit of %d",
                       c->src, l->line, c->section, channels, win.oh, win.ow,
                       lp_size_str(size, num, sizeof num), INT_MAX);
    l->window = win;
    l->out = (lp_shape){channels, win.oh, win.ow};
    return LP_OK;
}

lp_status lp_spec_same_shape(const lp_spec_ctx *c, lp_layer_spec *l, const lp_layer_spec *prev) {
    (void)c;
    l->in = l->out = prev->out;
    return LP_OK;
}

lp_param_tensor lp_param_vector(int layer, const char *name, int n, lp_init_kind init, int fan_in,
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

int lp_param_kernel(int layer, const lp_kernel_desc *k, lp_param_tensor *t) {
    t[0] = (lp_param_tensor){.layer = layer,
                             .name = "kernel",
                             .rank = k->rank,
                             .count = (size_t)k->groups * (size_t)k->group_size,
                             .fan_in = k->fan_in,
                             .fan_out = k->fan_out,
                             .init = k->init,
                             .init_opts = k->init_opts,
                             .l2 = k->l2,
                             .is_kernel = true,
                             .permute_default = k->permute,
                             .groups = k->groups,
                             .group_size = k->group_size};
    memcpy(t[0].dims, k->dims, sizeof t[0].dims);
    if (!k->use_bias) return 1;
    t[1] = lp_param_vector(layer, "bias", k->groups, k->bias_init, k->fan_in, k->fan_out, false);
    return 2;
}

void lp_text_add(lp_text *t, const char *fmt, ...) {
    if (t->len >= t->size) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, ap);
    va_end(ap);
    t->len = n < 0 ? t->size : t->len + (size_t)n;
}

void lp_text_window(lp_text *t, const char *label, int kh, int kw, int stride_h, int stride_w,
                    lp_padding padding) {
    lp_text_add(t, "%s%s %dx%d", t->len ? ", " : "", label, kh, kw);
    if (stride_h == stride_w)
        lp_text_add(t, ", stride %d", stride_h);
    else
        lp_text_add(t, ", stride %dx%d", stride_h, stride_w);
    lp_text_add(t, ", padding %s", lp_choice_word(lp_padding_choices, (int)padding));
}

const char *lp_activation_words(lp_activation a) {
    return a == LP_ACT_NONE ? "no activation" : lp_activation_name(a);
}

void lp_text_weights(lp_text *t, lp_activation act, lp_init_kind init, const lp_init_opts *o,
                     bool bias, float l2, bool permute) {
    lp_text_add(t, "%s%s, init %s", t->len ? ", " : "", lp_activation_words(act),
                lp_init_name(init));
    if (init == LP_INIT_CONSTANT) lp_text_add(t, " %g", (double)o->value);
    for (int i = 0; init == LP_INIT_CHOICE && i < o->values.n; ++i)
        lp_text_add(t, "%s%g", i ? "," : " ", (double)o->values.v[i]);
    if (o->quantize) lp_text_add(t, ", quantize %d", o->quantize);
    if (o->keep > 0.0f && o->keep < 1.0f) lp_text_add(t, ", keep %g", (double)o->keep);
    lp_text_add(t, ", %s", bias ? "bias" : "no bias");
    if (l2 > 0.0f) lp_text_add(t, ", l2 %g", (double)l2);
    lp_text_add(t, ", %s", permute ? "permuted" : "not permuted");
}
