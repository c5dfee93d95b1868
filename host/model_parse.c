/* Model-file parser: text -> checked lp_layer_spec array. Strict on purpose: anything it
 * does not understand is an LP_ERR_FORMAT "<file>:<line>: ..." that says what was
 * expected. Table-driven: a new layer kind is a key table, defaults and a finish step. */
#include "laperm/model.h"

#include <ctype.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- value types and key tables ------------------------------------------------------ */

typedef enum {
    VAL_POS_INT,
    VAL_SIZE2, /* "3" (3x3) or "5x3" (height x width): two ints, the second after the first */
    VAL_BOOL,
    VAL_NONNEG_FLOAT, /* x >= 0 */
    VAL_POS_FLOAT,    /* x > 0 as a float */
    VAL_RATE,         /* 0 <= x < 1 as a float */
    VAL_FRACTION,     /* 0 <= x <= 1 */
    VAL_CHOICE,
    VAL_NAME
} val_type_;

typedef struct {
    const char *word;
    int value;
} choice_;

typedef struct {
    const char *key;
    val_type_ type;
    bool required;
    size_t offset;          /* of the field inside lp_layer_spec */
    const choice_ *choices; /* VAL_CHOICE: ends with {NULL, 0} */
} key_def_;

/* Choice values are stored through an int, so every enum a key table writes must be
 * int-sized (true for GCC/Clang without -fshort-enums). */
_Static_assert(sizeof(lp_activation) == sizeof(int), "enum stored as int");
_Static_assert(sizeof(lp_init_kind) == sizeof(int), "enum stored as int");
_Static_assert(sizeof(lp_padding) == sizeof(int), "enum stored as int");
/* VAL_SIZE2 writes (height, width) into two adjacent ints. */
#define ADJACENT_(type, a, b) (offsetof(type, b) == offsetof(type, a) + sizeof(int))
_Static_assert(ADJACENT_(lp_conv2d_spec, kh, kw) && ADJACENT_(lp_conv2d_spec, stride_h, stride_w) &&
                   ADJACENT_(lp_pool_spec, ph, pw) && ADJACENT_(lp_pool_spec, stride_h, stride_w),
               "VAL_SIZE2 fields must be adjacent ints");

#define OFF_(field) offsetof(lp_layer_spec, field)
/* Every section accepts `name`, listed first in its table (and so in messages). */
#define NAME_KEY_                                                                                  \
    { "name", VAL_NAME, false, OFF_(name), NULL }

static const choice_ activations_[] = {{"none", LP_ACT_NONE}, {"relu", LP_ACT_RELU}, {NULL, 0}};
static const choice_ kernel_inits_[] = {{"he_uniform", LP_INIT_HE_UNIFORM},
                                        {"he_normal", LP_INIT_HE_NORMAL},
                                        {"glorot_uniform", LP_INIT_GLOROT_UNIFORM},
                                        {"glorot_normal", LP_INIT_GLOROT_NORMAL},
                                        {NULL, 0}};
/* One value for now; the key exists so that model files stay valid when more arrive. */
static const choice_ bias_inits_[] = {{"zeros", LP_INIT_ZEROS}, {NULL, 0}};
static const choice_ paddings_[] = {{"valid", LP_PAD_VALID}, {"same", LP_PAD_SAME}, {NULL, 0}};

static const key_def_ input_keys_[] = {
    NAME_KEY_,
    {"channels", VAL_POS_INT, true, OFF_(in.c), NULL},
    {"height", VAL_POS_INT, true, OFF_(in.h), NULL},
    {"width", VAL_POS_INT, true, OFF_(in.w), NULL},
};
static const key_def_ flatten_keys_[] = {NAME_KEY_};
static const key_def_ dense_keys_[] = {
    NAME_KEY_,
    {"units", VAL_POS_INT, true, OFF_(u.dense.units), NULL},
    {"bias", VAL_BOOL, false, OFF_(u.dense.use_bias), NULL},
    {"activation", VAL_CHOICE, false, OFF_(u.dense.activation), activations_},
    {"init", VAL_CHOICE, false, OFF_(u.dense.kernel_init), kernel_inits_},
    {"bias_init", VAL_CHOICE, false, OFF_(u.dense.bias_init), bias_inits_},
    {"l2", VAL_NONNEG_FLOAT, false, OFF_(u.dense.l2), NULL},
    {"permute", VAL_BOOL, false, OFF_(u.dense.permute), NULL},
};
static const key_def_ conv2d_keys_[] = {
    NAME_KEY_,
    {"filters", VAL_POS_INT, true, OFF_(u.conv.filters), NULL},
    {"kernel", VAL_SIZE2, true, OFF_(u.conv.kh), NULL},
    {"stride", VAL_SIZE2, false, OFF_(u.conv.stride_h), NULL},
    {"padding", VAL_CHOICE, false, OFF_(u.conv.padding), paddings_},
    {"bias", VAL_BOOL, false, OFF_(u.conv.use_bias), NULL},
    {"activation", VAL_CHOICE, false, OFF_(u.conv.activation), activations_},
    {"init", VAL_CHOICE, false, OFF_(u.conv.kernel_init), kernel_inits_},
    {"bias_init", VAL_CHOICE, false, OFF_(u.conv.bias_init), bias_inits_},
    {"l2", VAL_NONNEG_FLOAT, false, OFF_(u.conv.l2), NULL},
    {"permute", VAL_BOOL, false, OFF_(u.conv.permute), NULL},
};
/* [maxpool] and [avgpool] share one table. */
static const key_def_ pool_keys_[] = {
    NAME_KEY_,
    {"size", VAL_SIZE2, true, OFF_(u.pool.ph), NULL},
    {"stride", VAL_SIZE2, false, OFF_(u.pool.stride_h), NULL},
    {"padding", VAL_CHOICE, false, OFF_(u.pool.padding), paddings_},
};
static const key_def_ globalavgpool_keys_[] = {NAME_KEY_};
static const key_def_ batchnorm_keys_[] = {
    NAME_KEY_,
    {"momentum", VAL_FRACTION, false, OFF_(u.bn.momentum), NULL},
    {"eps", VAL_POS_FLOAT, false, OFF_(u.bn.eps), NULL},
    {"activation", VAL_CHOICE, false, OFF_(u.bn.activation), activations_},
    {"permute", VAL_BOOL, false, OFF_(u.bn.permute), NULL},
};
static const key_def_ dropout_keys_[] = {
    NAME_KEY_,
    {"rate", VAL_RATE, true, OFF_(u.dropout.rate), NULL},
};
/* init, bias, l2 and permute describe the projection: add_finish_ refuses them without. */
static const key_def_ add_keys_[] = {
    NAME_KEY_,
    {"from", VAL_NAME, true, OFF_(u.add.from_name), NULL},
    {"projection", VAL_BOOL, false, OFF_(u.add.projection), NULL},
    {"activation", VAL_CHOICE, false, OFF_(u.add.activation), activations_},
    {"init", VAL_CHOICE, false, OFF_(u.add.proj.kernel_init), kernel_inits_},
    {"bias", VAL_BOOL, false, OFF_(u.add.proj.use_bias), NULL},
    {"l2", VAL_NONNEG_FLOAT, false, OFF_(u.add.proj.l2), NULL},
    {"permute", VAL_BOOL, false, OFF_(u.add.proj.permute), NULL},
};
#define MAX_KEYS_ 16  /* the longest key table */
#define KINDS_MAX_ 32 /* section kinds */

/* ---- parser state ---------------------------------------------------------------------- */

struct section_def_;

typedef struct {
    const char *src;
    lp_layer_spec *layers;
    int n, cap;
    const struct section_def_ *sec; /* section being read; NULL before the first */
    int key_line[MAX_KEYS_];        /* line each key of `sec` was set on, 0 = unset */
    int kind_count[KINDS_MAX_];     /* layers of each section kind so far (default names) */
} parser_;

typedef struct section_def_ {
    const char *section;
    lp_layer_kind kind;
    const key_def_ *keys;
    int n_keys;
    void (*defaults)(lp_layer_spec *l);
    /* Checks what single keys cannot and sets l->in/out from prev (NULL for input). */
    lp_status (*finish)(parser_ *p, lp_layer_spec *l, const lp_layer_spec *prev);
} section_def_;

/* The largest element count of one tensor or sample: kernels index with int. */
#define ELEMS_MAX_ ((int64_t)INT_MAX)

/* The line a key of the current section was set on (0 if it was not). */
static int key_line_(const parser_ *p, const char *key) {
    for (int i = 0; i < p->sec->n_keys; ++i)
        if (strcmp(p->sec->keys[i].key, key) == 0) return p->key_line[i];
    return 0;
}

/* A bias initialiser for a layer without a bias is a contradiction, not a no-op. */
static lp_status check_bias_init_(const parser_ *p, bool use_bias) {
    int line = key_line_(p, "bias_init");
    if (use_bias || !line) return LP_OK;
    return lp_fail(LP_ERR_FORMAT,
                   "%s:%d: 'bias_init' is set but bias = false in [%s] (remove one of them)",
                   p->src, line, p->sec->section);
}

static void input_defaults_(lp_layer_spec *l) {
    (void)l;
}

static lp_status input_finish_(parser_ *p, lp_layer_spec *l, const lp_layer_spec *prev) {
    (void)prev;
    int64_t size = (int64_t)l->in.c * l->in.h * l->in.w;
    if (size > ELEMS_MAX_)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: [input] of %dx%dx%d = %lld values per sample exceeds the "
                       "limit of %d",
                       p->src, l->line, l->in.c, l->in.h, l->in.w, (long long)size, INT_MAX);
    l->out = l->in;
    return LP_OK;
}

static void flatten_defaults_(lp_layer_spec *l) {
    (void)l;
}

/* A flat input passes through unchanged, so [flatten] after [dense] is harmless. */
static lp_status flatten_finish_(parser_ *p, lp_layer_spec *l, const lp_layer_spec *prev) {
    (void)p;
    l->in = prev->out;
    l->out = (lp_shape){(int)lp_shape_size(l->in), 1, 1};
    return LP_OK;
}

static void dense_defaults_(lp_layer_spec *l) {
    l->u.dense = (lp_dense_spec){.units = 0,
                                 .use_bias = true,
                                 .activation = LP_ACT_NONE,
                                 .kernel_init = LP_INIT_HE_UNIFORM,
                                 .bias_init = LP_INIT_ZEROS,
                                 .l2 = 0.0f,
                                 .permute = true};
}

/* Dense takes (n,1,1) only: flattening implicitly would hide a missing [flatten] that
 * the next reader of the file (or a conv layer inserted later) would trip over. */
static lp_status dense_finish_(parser_ *p, lp_layer_spec *l, const lp_layer_spec *prev) {
    lp_dense_spec *d = &l->u.dense;
    LP_TRY(check_bias_init_(p, d->use_bias));
    l->in = prev->out;
    if (l->in.h != 1 || l->in.w != 1) {
        char buf[48];
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: [dense] needs a flat input but gets %s from '%s': add [flatten] "
                       "before line %d",
                       p->src, l->line, lp_shape_str(l->in, buf, sizeof buf), prev->name, l->line);
    }
    int64_t weights = (int64_t)d->units * l->in.c;
    if (weights > ELEMS_MAX_)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: [dense] kernel of %d x %d = %lld weights exceeds the limit of %d "
                       "per tensor",
                       p->src, l->line, d->units, l->in.c, (long long)weights, INT_MAX);
    l->out = (lp_shape){d->units, 1, 1};
    return LP_OK;
}

/* Flat shapes are (n,1,1); anything else has a height or width to slide a window over. */
static bool is_flat_(lp_shape s) {
    return s.h == 1 && s.w == 1;
}

static lp_status need_spatial_(const parser_ *p, lp_layer_spec *l, const lp_layer_spec *prev) {
    l->in = prev->out;
    if (!is_flat_(l->in)) return LP_OK;
    char buf[48];
    return lp_fail(LP_ERR_FORMAT,
                   "%s:%d: [%s] needs a spatial input (channels x height x width) but gets the "
                   "flat shape %s from '%s'",
                   p->src, l->line, p->sec->section, lp_shape_str(l->in, buf, sizeof buf),
                   prev->name);
}

/* One output size of a sliding window: TensorFlow's rules (see lp_conv2d_spec). */
static int64_t window_out_(int in, int k, int stride, lp_padding pad) {
    if (pad == LP_PAD_SAME) return ((int64_t)in + stride - 1) / stride;
    return in < k ? 0 : (int64_t)(in - k) / stride + 1;
}

/* Sets l->out = (c, out_h, out_w) for a window of kh x kw; `what` names it in messages. */
static lp_status slide_window_(const parser_ *p, lp_layer_spec *l, const lp_layer_spec *prev,
                               const char *what, int c, int kh, int kw, int sh, int sw,
                               lp_padding pad) {
    int64_t oh = window_out_(l->in.h, kh, sh, pad), ow = window_out_(l->in.w, kw, sw, pad);
    if (oh == 0 || ow == 0)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: impossible shape: [%s] %s %dx%d does not fit its %dx%d input from "
                       "'%s' (padding = valid needs the %s inside the input; use padding = same "
                       "or a smaller %s)",
                       p->src, l->line, p->sec->section, what, kh, kw, l->in.h, l->in.w, prev->name,
                       what, what);
    int64_t size = (int64_t)c * oh * ow;
    if (size > ELEMS_MAX_)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: [%s] output of %dx%lldx%lld = %lld values per sample exceeds the "
                       "limit of %d",
                       p->src, l->line, p->sec->section, c, (long long)oh, (long long)ow,
                       (long long)size, INT_MAX);
    l->out = (lp_shape){c, (int)oh, (int)ow};
    return LP_OK;
}

static void conv2d_defaults_(lp_layer_spec *l) {
    l->u.conv = (lp_conv2d_spec){.filters = 0,
                                 .kh = 0,
                                 .kw = 0,
                                 .stride_h = 1,
                                 .stride_w = 1,
                                 .padding = LP_PAD_VALID,
                                 .use_bias = true,
                                 .activation = LP_ACT_NONE,
                                 .kernel_init = LP_INIT_HE_UNIFORM,
                                 .bias_init = LP_INIT_ZEROS,
                                 .l2 = 0.0f,
                                 .permute = true};
}

static lp_status conv2d_finish_(parser_ *p, lp_layer_spec *l, const lp_layer_spec *prev) {
    lp_conv2d_spec *c = &l->u.conv;
    LP_TRY(check_bias_init_(p, c->use_bias));
    LP_TRY(need_spatial_(p, l, prev));
    int64_t weights = (int64_t)c->filters * l->in.c * c->kh * c->kw;
    if (weights > ELEMS_MAX_)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: [conv2d] kernel of %d x %d x %d x %d = %lld weights exceeds the "
                       "limit of %d per tensor",
                       p->src, l->line, c->filters, l->in.c, c->kh, c->kw, (long long)weights,
                       INT_MAX);
    return slide_window_(p, l, prev, "kernel", c->filters, c->kh, c->kw, c->stride_h, c->stride_w,
                         c->padding);
}

static void pool_defaults_(lp_layer_spec *l) {
    l->u.pool = (lp_pool_spec){.padding = LP_PAD_VALID}; /* stride: the size, in finish */
}

static lp_status pool_finish_(parser_ *p, lp_layer_spec *l, const lp_layer_spec *prev) {
    lp_pool_spec *s = &l->u.pool;
    if (!key_line_(p, "stride")) {
        s->stride_h = s->ph;
        s->stride_w = s->pw;
    }
    LP_TRY(need_spatial_(p, l, prev));
    return slide_window_(p, l, prev, "window", l->in.c, s->ph, s->pw, s->stride_h, s->stride_w,
                         s->padding);
}

static void globalavgpool_defaults_(lp_layer_spec *l) {
    (void)l;
}

static lp_status globalavgpool_finish_(parser_ *p, lp_layer_spec *l, const lp_layer_spec *prev) {
    LP_TRY(need_spatial_(p, l, prev));
    l->out = (lp_shape){l->in.c, 1, 1};
    return LP_OK;
}

static void batchnorm_defaults_(lp_layer_spec *l) {
    l->u.bn = (lp_batchnorm_spec){
        .momentum = 0.99f, .eps = 1e-3f, .permute = false, .activation = LP_ACT_NONE};
}

/* Per channel after a spatial layer, per feature after a flat one: either way in.c values
 * of gamma and beta, since a flat shape is (n,1,1). */
static lp_status batchnorm_finish_(parser_ *p, lp_layer_spec *l, const lp_layer_spec *prev) {
    (void)p;
    l->in = l->out = prev->out;
    return LP_OK;
}

static void dropout_defaults_(lp_layer_spec *l) {
    l->u.dropout = (lp_dropout_spec){.rate = 0.0f};
}

static lp_status dropout_finish_(parser_ *p, lp_layer_spec *l, const lp_layer_spec *prev) {
    (void)p;
    l->in = l->out = prev->out;
    return LP_OK;
}

static void add_defaults_(lp_layer_spec *l) {
    l->u.add = (lp_add_spec){.from = -1, .projection = false, .activation = LP_ACT_NONE};
    lp_conv2d_spec *c = &l->u.add.proj;
    *c = (lp_conv2d_spec){.kh = 1,
                          .kw = 1,
                          .stride_h = 1,
                          .stride_w = 1,
                          .padding = LP_PAD_VALID,
                          .use_bias = true,
                          .activation = LP_ACT_NONE,
                          .kernel_init = LP_INIT_HE_UNIFORM,
                          .bias_init = LP_INIT_ZEROS,
                          .l2 = 0.0f,
                          .permute = true};
}

/* One axis of the projection: from's size over prev's, exact. 0 if it does not divide. */
static int projection_stride_(int from, int to) {
    return to > 0 && from % to == 0 ? from / to : 0;
}

/* The earlier layer `from` names: not the previous one (that is the other input), and
 * only layers above this section (a residual never reaches forwards). */
static lp_status add_resolve_from_(const parser_ *p, lp_layer_spec *l, const lp_layer_spec *prev) {
    lp_add_spec *a = &l->u.add;
    int line = key_line_(p, "from"), n_before = p->n - 1; /* layers before this one */
    for (int i = 0; i < n_before && a->from < 0; ++i)
        if (strcmp(p->layers[i].name, a->from_name) == 0) a->from = i;
    if (a->from < 0)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: 'from' = '%s' in [add] names no layer above line %d (expected the "
                       "name of an earlier layer)",
                       p->src, line, a->from_name, l->line);
    if (a->from == n_before - 1)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: 'from' = '%s' in [add] names the previous layer, which is already "
                       "the other input (expected an earlier layer, such as the block's input)",
                       p->src, line, prev->name);
    return LP_OK;
}

static lp_status add_finish_(parser_ *p, lp_layer_spec *l, const lp_layer_spec *prev) {
    lp_add_spec *a = &l->u.add;
    LP_TRY(add_resolve_from_(p, l, prev));
    const lp_layer_spec *from = &p->layers[a->from];
    l->in = l->out = prev->out;
    lp_shape fs = from->out, ps = prev->out;
    char fbuf[48], pbuf[48];
    lp_shape_str(fs, fbuf, sizeof fbuf);
    lp_shape_str(ps, pbuf, sizeof pbuf);
    if (!a->projection) {
        /* The first of the projection's keys in the file, if any was set. */
        static const char *const proj_keys[] = {"init", "bias", "l2", "permute"};
        int first = -1, first_line = 0;
        for (int i = 0; i < 4; ++i) {
            int line = key_line_(p, proj_keys[i]);
            if (line && (!first_line || line < first_line)) first = i, first_line = line;
        }
        if (first >= 0)
            return lp_fail(LP_ERR_FORMAT,
                           "%s:%d: '%s' is set but projection = false in [add] (it describes the "
                           "projection: remove it or set projection = true)",
                           p->src, first_line, proj_keys[first]);
        if (fs.c == ps.c && fs.h == ps.h && fs.w == ps.w) return LP_OK;
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: [add] cannot add %s from '%s' (line %d) to %s from '%s' (line %d): "
                       "without a projection the shapes must be equal (set projection = true "
                       "for a 1x1 convolution shortcut)",
                       p->src, l->line, fbuf, from->name, from->line, pbuf, prev->name, prev->line);
    }
    if (is_flat_(fs) != is_flat_(ps))
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: [add] cannot project %s from '%s' (line %d) onto %s from '%s' "
                       "(line %d): a projection maps a spatial shape to a spatial one or a flat "
                       "shape to a flat one",
                       p->src, l->line, fbuf, from->name, from->line, pbuf, prev->name, prev->line);
    int sh = projection_stride_(fs.h, ps.h), sw = projection_stride_(fs.w, ps.w);
    if (!sh || !sw)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: [add] cannot project %s from '%s' (line %d) onto %s from '%s' "
                       "(line %d): the projection is a 1x1 convolution whose stride is the ratio "
                       "of the sizes, so the height and width of '%s' must be whole multiples of "
                       "those of '%s'",
                       p->src, l->line, fbuf, from->name, from->line, pbuf, prev->name, prev->line,
                       from->name, prev->name);
    int64_t weights = (int64_t)ps.c * fs.c;
    if (weights > ELEMS_MAX_)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: [add] projection kernel of %d x %d = %lld weights exceeds the "
                       "limit of %d per tensor",
                       p->src, l->line, ps.c, fs.c, (long long)weights, INT_MAX);
    a->proj.filters = ps.c;
    a->proj.stride_h = sh;
    a->proj.stride_w = sw;
    return LP_OK;
}

#define SECTION_FNS_(name, kind, keys, defaults, finish)                                           \
    { name, kind, keys, (int)(sizeof keys / sizeof keys[0]), defaults, finish }
#define SECTION_(name, kind, keys, prefix)                                                         \
    SECTION_FNS_(name, kind, keys, prefix##_defaults_, prefix##_finish_)
static const section_def_ sections_[] = {
    SECTION_("input", LP_LAYER_INPUT, input_keys_, input),
    SECTION_("flatten", LP_LAYER_FLATTEN, flatten_keys_, flatten),
    SECTION_("dense", LP_LAYER_DENSE, dense_keys_, dense),
    SECTION_("conv2d", LP_LAYER_CONV2D, conv2d_keys_, conv2d),
    SECTION_FNS_("maxpool", LP_LAYER_MAXPOOL, pool_keys_, pool_defaults_, pool_finish_),
    SECTION_FNS_("avgpool", LP_LAYER_AVGPOOL, pool_keys_, pool_defaults_, pool_finish_),
    SECTION_("globalavgpool", LP_LAYER_GLOBALAVGPOOL, globalavgpool_keys_, globalavgpool),
    SECTION_("batchnorm", LP_LAYER_BATCHNORM, batchnorm_keys_, batchnorm),
    SECTION_("dropout", LP_LAYER_DROPOUT, dropout_keys_, dropout),
    SECTION_("add", LP_LAYER_ADD, add_keys_, add),
};
#define N_SECTIONS_ ((int)(sizeof sections_ / sizeof sections_[0]))
#define N_KEYS_(t) (sizeof t / sizeof t[0])
_Static_assert(N_KEYS_(input_keys_) <= MAX_KEYS_ && N_KEYS_(flatten_keys_) <= MAX_KEYS_ &&
                   N_KEYS_(dense_keys_) <= MAX_KEYS_ && N_KEYS_(conv2d_keys_) <= MAX_KEYS_ &&
                   N_KEYS_(pool_keys_) <= MAX_KEYS_ && N_KEYS_(globalavgpool_keys_) <= MAX_KEYS_ &&
                   N_KEYS_(batchnorm_keys_) <= MAX_KEYS_ && N_KEYS_(dropout_keys_) <= MAX_KEYS_ &&
                   N_KEYS_(add_keys_) <= MAX_KEYS_,
               "raise MAX_KEYS_");
_Static_assert(sizeof sections_ / sizeof sections_[0] <= KINDS_MAX_, "raise KINDS_MAX_");

/* ---- small text helpers ---------------------------------------------------------------- */

typedef struct {
    const char *s;
    size_t n;
} span_;

static span_ trim_(const char *s, size_t n) {
    while (n > 0 && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    return (span_){s, n};
}

static bool span_eq_(span_ a, const char *b) {
    return strlen(b) == a.n && memcmp(a.s, b, a.n) == 0;
}

/* Echoes user text in messages, cut short so that a runaway line stays readable. */
#define EXCERPT_MAX_ 60
static const char *excerpt_(span_ v, char *buf, size_t size) {
    if (v.n <= EXCERPT_MAX_)
        snprintf(buf, size, "%.*s", (int)v.n, v.s);
    else
        snprintf(buf, size, "%.*s...", EXCERPT_MAX_, v.s);
    return buf;
}

static bool is_key_(span_ k) {
    if (k.n == 0 || !(islower((unsigned char)k.s[0]))) return false;
    for (size_t i = 1; i < k.n; ++i)
        if (!islower((unsigned char)k.s[i]) && !isdigit((unsigned char)k.s[i]) && k.s[i] != '_')
            return false;
    return true;
}

static bool is_name_(span_ v) {
    if (v.n == 0 || v.n >= LP_LAYER_NAME_MAX) return false;
    if (!isalpha((unsigned char)v.s[0]) && v.s[0] != '_') return false;
    for (size_t i = 1; i < v.n; ++i)
        if (!isalnum((unsigned char)v.s[i]) && v.s[i] != '_') return false;
    return true;
}

/* Appends ", word" (or "word" first) for the "expected one of: ..." lists. */
static void append_word_(char *buf, size_t size, const char *word) {
    size_t len = strlen(buf);
    if (len < size) snprintf(buf + len, size - len, "%s%s", len ? ", " : "", word);
}

static const char *list_choices_(const choice_ *c, char *buf, size_t size) {
    buf[0] = '\0';
    for (; c->word; ++c)
        append_word_(buf, size, c->word);
    return buf;
}

/* ---- values -------------------------------------------------------------------------- */

static lp_status bad_value_(const parser_ *p, int line, const key_def_ *k, span_ v,
                            const char *expected) {
    char ex[EXCERPT_MAX_ + 8];
    return lp_fail(LP_ERR_FORMAT, "%s:%d: bad value '%s' for '%s' in [%s] (expected %s)", p->src,
                   line, excerpt_(v, ex, sizeof ex), k->key, p->sec->section, expected);
}

static const char *expected_(const key_def_ *k, char *buf, size_t size) {
    switch (k->type) {
    case VAL_POS_INT:
        return "a positive integer";
    case VAL_BOOL:
        return "true or false";
    case VAL_SIZE2:
        return "a positive integer, or height x width such as 5x3";
    case VAL_NONNEG_FLOAT:
        return "a non-negative number";
    case VAL_POS_FLOAT:
        return "a positive number";
    case VAL_RATE:
        return "a number >= 0 and < 1";
    case VAL_FRACTION:
        return "a number from 0 to 1";
    case VAL_NAME:
        snprintf(buf, size,
                 "an identifier: a letter or '_', then letters, digits or '_', at most %d "
                 "characters",
                 LP_LAYER_NAME_MAX - 1);
        return buf;
    case VAL_CHOICE: {
        char words[256];
        snprintf(buf, size, "one of: %s", list_choices_(k->choices, words, sizeof words));
        return buf;
    }
    }
    return "?";
}

static lp_status too_large_(const parser_ *p, int line, const key_def_ *k, span_ v,
                            const char *limit) {
    char ex[EXCERPT_MAX_ + 8];
    return lp_fail(LP_ERR_FORMAT,
                   "%s:%d: value '%s' for '%s' in [%s] is too large (the limit is %s)", p->src,
                   line, excerpt_(v, ex, sizeof ex), k->key, p->sec->section, limit);
}

/* Digits only, no sign: 0 ok, -1 not a positive integer, -2 above INT_MAX. */
static int pos_int_(span_ d, int *out) {
    if (d.n == 0) return -1;
    int64_t x = 0;
    for (size_t i = 0; i < d.n; ++i)
        if (!isdigit((unsigned char)d.s[i])) return -1;
    for (size_t i = 0; i < d.n; ++i) {
        x = x * 10 + (d.s[i] - '0');
        if (x > INT_MAX) return -2;
    }
    if (x == 0) return -1;
    *out = (int)x;
    return 0;
}

/* Plain decimal or exponent notation only (no hex, inf, nan), so that files read the same
 * everywhere. strtod assumes the "C" locale; the library never sets one. Returns false if
 * v is not such a finite number. */
static bool number_(span_ v, double *out) {
    char num[64];
    if (v.n >= sizeof num || strspn(v.s, "0123456789.eE+-") < v.n) return false;
    memcpy(num, v.s, v.n);
    num[v.n] = '\0';
    char *end = NULL;
    double x = strtod(num, &end);
    if (end != num + v.n || !isfinite(x)) return false;
    *out = x;
    return true;
}

/* Range checks happen on the float actually stored: eps = 1e-50 would be 0, rate =
 * 0.999999999 would be 1. */
static lp_status parse_float_(const parser_ *p, int line, const key_def_ *k, span_ v,
                              const char *expected, float *field) {
    double x = 0.0;
    bool at_most_1 = k->type == VAL_RATE || k->type == VAL_FRACTION;
    if (!number_(v, &x) || x < 0.0 || (at_most_1 && x > 1.0))
        return bad_value_(p, line, k, v, expected);
    if (x > FLT_MAX) {
        char limit[32];
        snprintf(limit, sizeof limit, "%g", (double)FLT_MAX);
        return too_large_(p, line, k, v, limit);
    }
    float f = (float)x + 0.0f; /* + 0.0f turns -0 into +0 */
    bool ok = (k->type == VAL_NONNEG_FLOAT) || (k->type == VAL_POS_FLOAT && f > 0.0f) ||
              (k->type == VAL_RATE && f < 1.0f) || (k->type == VAL_FRACTION && f <= 1.0f);
    if (!ok) return bad_value_(p, line, k, v, expected);
    *field = f;
    return LP_OK;
}

static lp_status parse_value_(const parser_ *p, int line, const key_def_ *k, span_ v,
                              lp_layer_spec *l) {
    char want[320], limit[16];
    const char *expected = expected_(k, want, sizeof want);
    if (v.n == 0)
        return lp_fail(LP_ERR_FORMAT, "%s:%d: missing value for '%s' in [%s] (expected %s)", p->src,
                       line, k->key, p->sec->section, expected);
    snprintf(limit, sizeof limit, "%d", INT_MAX);
    char *field = (char *)l + k->offset;
    switch (k->type) {
    case VAL_POS_INT: {
        int r = pos_int_(v, (int *)(void *)field);
        if (r == -2) return too_large_(p, line, k, v, limit);
        return r ? bad_value_(p, line, k, v, expected) : LP_OK;
    }
    case VAL_SIZE2: {
        /* "5x3" is height 5, width 3; "3" is both. */
        const char *x = memchr(v.s, 'x', v.n);
        span_ h = {v.s, x ? (size_t)(x - v.s) : v.n};
        span_ w = x ? (span_){x + 1, v.n - h.n - 1} : h;
        int hw[2] = {0, 0};
        int rh = pos_int_(h, &hw[0]), rw = pos_int_(w, &hw[1]);
        if (rh == -1 || rw == -1) return bad_value_(p, line, k, v, expected);
        if (rh || rw) return too_large_(p, line, k, v, limit);
        memcpy(field, hw, sizeof hw);
        return LP_OK;
    }
    case VAL_BOOL:
        if (span_eq_(v, "true"))
            *(bool *)(void *)field = true;
        else if (span_eq_(v, "false"))
            *(bool *)(void *)field = false;
        else
            return bad_value_(p, line, k, v, expected);
        return LP_OK;
    case VAL_NONNEG_FLOAT:
    case VAL_POS_FLOAT:
    case VAL_RATE:
    case VAL_FRACTION:
        return parse_float_(p, line, k, v, expected, (float *)(void *)field);
    case VAL_CHOICE:
        for (const choice_ *c = k->choices; c->word; ++c)
            if (span_eq_(v, c->word)) {
                memcpy(field, &c->value, sizeof(int));
                return LP_OK;
            }
        return bad_value_(p, line, k, v, expected);
    case VAL_NAME:
        if (!is_name_(v)) return bad_value_(p, line, k, v, expected);
        memcpy(field, v.s, v.n);
        field[v.n] = '\0';
        return LP_OK;
    }
    return bad_value_(p, line, k, v, expected);
}

/* ---- sections -------------------------------------------------------------------------- */

/* Ends the current section: required keys, the kind's own checks and shape, unique name. */
static lp_status finish_section_(parser_ *p) {
    if (!p->sec) return LP_OK;
    lp_layer_spec *l = &p->layers[p->n - 1];
    for (int i = 0; i < p->sec->n_keys; ++i)
        if (p->sec->keys[i].required && !p->key_line[i])
            return lp_fail(LP_ERR_FORMAT, "%s:%d: missing required key '%s' in [%s]", p->src,
                           l->line, p->sec->keys[i].key, p->sec->section);
    LP_TRY(p->sec->finish(p, l, p->n > 1 ? &p->layers[p->n - 2] : NULL));
    for (int i = 0; i < p->n - 1; ++i)
        if (strcmp(p->layers[i].name, l->name) == 0)
            return lp_fail(LP_ERR_FORMAT,
                           "%s:%d: duplicate layer name '%s' (already used on line %d)", p->src,
                           l->line, l->name, p->layers[i].line);
    return LP_OK;
}

static lp_status open_section_(parser_ *p, int line, span_ name) {
    char ex[EXCERPT_MAX_ + 8];
    LP_TRY(finish_section_(p)); /* first, so that errors come in file order */
    const section_def_ *def = NULL;
    int idx = 0;
    for (; idx < N_SECTIONS_; ++idx)
        if (span_eq_(name, sections_[idx].section)) {
            def = &sections_[idx];
            break;
        }
    if (!def) {
        char words[256] = "";
        for (int i = 0; i < N_SECTIONS_; ++i)
            append_word_(words, sizeof words, sections_[i].section);
        return lp_fail(LP_ERR_FORMAT, "%s:%d: unknown section [%s] (expected one of: %s)", p->src,
                       line, excerpt_(name, ex, sizeof ex), words);
    }
    if (p->n == 0 && def->kind != LP_LAYER_INPUT)
        return lp_fail(LP_ERR_FORMAT, "%s:%d: first section is [%s] (a model starts with [input])",
                       p->src, line, def->section);
    if (p->n > 0 && def->kind == LP_LAYER_INPUT)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: second [input] section (a model has exactly one, the first section; "
                       "see line %d)",
                       p->src, line, p->layers[0].line);

    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 8;
        lp_layer_spec *grown = realloc(p->layers, (size_t)cap * sizeof *grown);
        if (!grown) return lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory reading the model", p->src);
        p->layers = grown;
        p->cap = cap;
    }
    lp_layer_spec *l = &p->layers[p->n++];
    memset(l, 0, sizeof *l);
    l->kind = def->kind;
    l->line = line;
    /* Counted per kind, named or not, so that naming one layer never renames another. */
    snprintf(l->name, sizeof l->name, "%s_%d", def->section, ++p->kind_count[idx]);
    def->defaults(l);
    p->sec = def;
    memset(p->key_line, 0, sizeof p->key_line);
    return LP_OK;
}

static lp_status set_key_(parser_ *p, int line, span_ key, span_ value) {
    char ex[EXCERPT_MAX_ + 8];
    if (!p->sec)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: key '%s' before any section (a model starts with [input])", p->src,
                       line, excerpt_(key, ex, sizeof ex));
    int i = 0;
    while (i < p->sec->n_keys && !span_eq_(key, p->sec->keys[i].key))
        i++;
    if (i == p->sec->n_keys) {
        char words[256] = "";
        for (int k = 0; k < p->sec->n_keys; ++k)
            append_word_(words, sizeof words, p->sec->keys[k].key);
        return lp_fail(LP_ERR_FORMAT, "%s:%d: unknown key '%s' in [%s] (expected one of: %s)",
                       p->src, line, excerpt_(key, ex, sizeof ex), p->sec->section, words);
    }
    if (p->key_line[i])
        return lp_fail(LP_ERR_FORMAT, "%s:%d: duplicate key '%s' in [%s] (first set on line %d)",
                       p->src, line, p->sec->keys[i].key, p->sec->section, p->key_line[i]);
    LP_TRY(parse_value_(p, line, &p->sec->keys[i], value, &p->layers[p->n - 1]));
    p->key_line[i] = line;
    return LP_OK;
}

/* One line without its comment and surrounding blanks (never empty). */
static lp_status parse_line_(parser_ *p, int line, span_ t) {
    char ex[EXCERPT_MAX_ + 8];
    if (t.s[0] == '[') {
        if (t.s[t.n - 1] != ']' || memchr(t.s + 1, ']', t.n - 2) || memchr(t.s + 1, '[', t.n - 2))
            return lp_fail(LP_ERR_FORMAT,
                           "%s:%d: malformed section header '%s' (expected '[name]' alone on "
                           "the line)",
                           p->src, line, excerpt_(t, ex, sizeof ex));
        return open_section_(p, line, trim_(t.s + 1, t.n - 2));
    }
    const char *eq = memchr(t.s, '=', t.n);
    if (!eq)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: malformed line '%s' (expected '[section]' or 'key = value')", p->src,
                       line, excerpt_(t, ex, sizeof ex));
    span_ key = trim_(t.s, (size_t)(eq - t.s));
    span_ value = trim_(eq + 1, t.n - (size_t)(eq - t.s) - 1);
    if (key.n == 0)
        return lp_fail(LP_ERR_FORMAT, "%s:%d: malformed line '%s' (expected 'key = value')", p->src,
                       line, excerpt_(t, ex, sizeof ex));
    if (!is_key_(key))
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: malformed key '%s' (keys are lowercase identifiers such as "
                       "'units')",
                       p->src, line, excerpt_(key, ex, sizeof ex));
    return set_key_(p, line, key, value);
}

static char *dup_(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static lp_status parse_all_(parser_ *p, const char *text) {
    int line = 0;
    for (const char *s = text; *s;) {
        const char *eol = strchr(s, '\n');
        size_t n = eol ? (size_t)(eol - s) : strlen(s);
        line++;
        size_t body = strcspn(s, "#;\n"); /* comments run to the end of the line */
        span_ t = trim_(s, body < n ? body : n);
        if (t.n > 0) LP_TRY(parse_line_(p, line, t));
        s += n + (eol ? 1 : 0);
    }
    if (p->n == 0)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: no sections (a model file starts with [input], then one section "
                       "per layer)",
                       p->src, line > 0 ? line : 1);
    LP_TRY(finish_section_(p));
    if (p->n == 1)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: no layers after [input] (expected sections such as [flatten] and "
                       "[dense])",
                       p->src, p->layers[0].line);
    return LP_OK;
}

lp_status lp_model_parse_text(const char *text, const char *source_name, lp_model_spec *out) {
    if (!out) return lp_fail(LP_ERR_INVALID_ARG, "lp_model_parse_text: out is NULL");
    memset(out, 0, sizeof *out);
    if (!text) return lp_fail(LP_ERR_INVALID_ARG, "lp_model_parse_text: text is NULL");
    parser_ p = {.src = source_name ? source_name : "(model text)"};
    lp_status s = parse_all_(&p, text);
    if (s == LP_OK) {
        out->source = dup_(p.src);
        out->text = dup_(text);
        out->layers = p.layers;
        out->n_layers = p.n;
        if (!out->source || !out->text) {
            lp_model_free(out);
            return lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory reading the model", p.src);
        }
        return LP_OK;
    }
    free(p.layers);
    return s;
}
