/* Internal: what a layer kind's file declares about its model-file section (key table,
 * defaults, checks, shape inference, summary details) and the helpers those use. The
 * parser (model_parse.c) reads the tables; the kinds' descriptors (layer.h) point at them.
 */
#ifndef LAPERM_LAYER_SPEC_H
#define LAPERM_LAYER_SPEC_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "laperm/init.h"
#include "laperm/model.h"

/* ---- keys ------------------------------------------------------------------------------- */

typedef enum {
    LP_VAL_POS_INT,
    LP_VAL_SIZE2, /* "3" (3x3) or "5x3" (height x width): two adjacent ints */
    LP_VAL_BOOL,
    LP_VAL_NONNEG_FLOAT, /* x >= 0 */
    LP_VAL_POS_FLOAT,    /* x > 0 as a float */
    LP_VAL_RATE,         /* 0 <= x < 1 as a float */
    LP_VAL_FRACTION,     /* 0 <= x <= 1 */
    LP_VAL_KEEP,         /* 0 < x <= 1 as a float */
    LP_VAL_FLOAT,        /* any finite float */
    LP_VAL_FLOAT_LIST,   /* "a,b,...": 1 to LP_INIT_VALUES_MAX finite floats (lp_float_list) */
    LP_VAL_LEVELS,       /* an integer >= 2 */
    LP_VAL_CHOICE,       /* one word of `choices`, stored as its int value */
    LP_VAL_INIT,         /* an initializer's name (laperm/init.h) allowed for `init_use` */
    LP_VAL_NAME          /* an identifier, at most LP_LAYER_NAME_MAX - 1 characters */
} lp_value_type;

typedef struct {
    const char *word;
    int value;
} lp_choice;

typedef struct {
    const char *key;
    lp_value_type type;
    bool required;
    size_t offset;            /* of the field inside lp_layer_spec */
    const lp_choice *choices; /* LP_VAL_CHOICE: ends with {NULL, 0} */
    unsigned init_use;        /* LP_VAL_INIT: LP_INIT_USE_KERNEL or LP_INIT_USE_BIAS */
} lp_key_def;

/* The keys of a kernel's initial values beyond `init` (lp_init_opts at `base`): keep,
 * init_value, init_values, quantize. lp_spec_check_init checks how they combine. */
#define LP_INIT_OPTS_KEYS(base)                                                                      \
    {"keep", LP_VAL_KEEP, false, (base) + offsetof(lp_init_opts, keep), NULL, 0},                    \
        {"init_value", LP_VAL_FLOAT, false, (base) + offsetof(lp_init_opts, value), NULL, 0},        \
        {"init_values", LP_VAL_FLOAT_LIST, false, (base) + offsetof(lp_init_opts, values), NULL, 0}, \
    {                                                                                                \
        "quantize", LP_VAL_LEVELS, false, (base) + offsetof(lp_init_opts, quantize), NULL, 0         \
    }

/* The keys of a layer with a kernel, in this order: bias, activation, init, bias_init, l2,
 * permute, then LP_INIT_OPTS_KEYS; `type` (lp_dense_spec, lp_conv2d_spec) has those fields,
 * at `base` inside lp_layer_spec. */
#define LP_KERNEL_KEYS(type, base)                                                                 \
    {"bias", LP_VAL_BOOL, false, (base) + offsetof(type, use_bias), NULL, 0},                      \
        {"activation",                                                                             \
         LP_VAL_CHOICE,                                                                            \
         false,                                                                                    \
         (base) + offsetof(type, activation),                                                      \
         lp_activation_choices,                                                                    \
         0},                                                                                       \
        {"init", LP_VAL_INIT,       false, (base) + offsetof(type, kernel_init),                   \
         NULL,   LP_INIT_USE_KERNEL},                                                              \
        {"bias_init", LP_VAL_INIT,     false, (base) + offsetof(type, bias_init),                  \
         NULL,        LP_INIT_USE_BIAS},                                                           \
        {"l2", LP_VAL_NONNEG_FLOAT, false, (base) + offsetof(type, l2), NULL, 0},                  \
        {"permute", LP_VAL_BOOL, false, (base) + offsetof(type, permute), NULL, 0},                \
        LP_INIT_OPTS_KEYS((base) + offsetof(type, init_opts))

/* The longest key table a kind may have. */
#define LP_KEYS_MAX 16

#define LP_SPEC_OFFSET(field) offsetof(lp_layer_spec, field)
/* A field of a private spec (LP_LAYER_PRIVATE_SPEC_FITS) kept in lp_layer_spec.u.bytes. */
#define LP_PRIVATE_OFFSET(type, field) (offsetof(lp_layer_spec, u.bytes) + offsetof(type, field))
/* Every section accepts `name`, listed first in its table (and so in messages). */
#define LP_KEY_NAME                                                                                \
    { "name", LP_VAL_NAME, false, LP_SPEC_OFFSET(name), NULL, 0 }
#define LP_N_KEYS(table) ((int)(sizeof table / sizeof table[0]))

/* Choice values and SIZE2 pairs are written through ints. */
_Static_assert(sizeof(lp_activation) == sizeof(int), "enum stored as int");
_Static_assert(sizeof(lp_init_kind) == sizeof(int), "enum stored as int");
_Static_assert(sizeof(lp_padding) == sizeof(int), "enum stored as int");

/* A kind whose spec struct lives in its own file keeps it in u.bytes: this checks that it
 * fits and needs no stricter alignment than the union has. */
#define LP_LAYER_PRIVATE_SPEC_FITS(type)                                                           \
    _Static_assert(sizeof(type) <= LP_LAYER_SPEC_BYTES && _Alignof(type) <= _Alignof(lp_add_spec), \
                   #type " does not fit lp_layer_spec.u.bytes")
#define LP_LAYER_PRIVATE_SPEC_CONST(type, l) ((const type *)(const void *)(l)->u.bytes)

extern const lp_choice lp_activation_choices[]; /* none, relu */
extern const lp_choice lp_padding_choices[];    /* valid, same */

/* The word a choice table gives `value` ("?" if none). */
const char *lp_choice_word(const lp_choice *choices, int value);

/* ---- checks and shapes (a kind's `finish`) ----------------------------------------------- */

/* Layer names to their indices in the parser's layer array, through a hash (open
 * addressing), so that a file of many sections reads in linear time. Zeroed is empty. */
typedef struct {
    int *slots;     /* n_slots of them: a layer's index + 1, or 0 */
    size_t n_slots; /* a power of two, at least twice the names */
    int n;
} lp_name_index;

/* The index of the layer called `name` among those added, or -1. */
int lp_name_index_find(const lp_name_index *x, const lp_layer_spec *layers, const char *name);
/* Adds layers[i], whose name is not in x yet. */
lp_status lp_name_index_add(lp_name_index *x, const lp_layer_spec *layers, int i);
void lp_name_index_free(lp_name_index *x);

/* The parser's view of the section being finished. */
typedef struct {
    const char *src;             /* file name, for messages */
    const char *section;         /* "dense" */
    const lp_layer_spec *layers; /* every layer so far; this one is layers[n_before] */
    int n_before;                /* layers above this section */
    const lp_key_def *keys;      /* the section's key table */
    int n_keys;
    const int *key_line;        /* line each key was set on, 0 = unset */
    const lp_name_index *names; /* the layers above this section, by name */
} lp_spec_ctx;

/* The largest element count of one tensor or sample, and of all parameters together:
 * kernels index with int. */
#define LP_SPEC_ELEMS_MAX ((int64_t)INT_MAX)

/* The product of `n` sizes (each >= 0), checked at every step so that it never overflows:
 * INT64_MAX when it does not fit int64_t. Sizes from a model file are multiplied through
 * this (LP_SIZE_PRODUCT(c, h, w)) before they are compared with a limit. */
int64_t lp_size_product(int n, const int64_t *sizes);
#define LP_SIZE_PRODUCT(...)                                                                       \
    lp_size_product((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)),                     \
                    (int64_t[]){__VA_ARGS__})
/* "%lld" of such a product, or "9223372036854775807 or more" for one that did not fit;
 * buf >= 32 bytes. */
const char *lp_size_str(int64_t v, char *buf, size_t size);

/* The line `key` of the section was set on (0 if it was not). */
int lp_spec_key_line(const lp_spec_ctx *c, const char *key);
/* The index of the layer above this section called `name`, or -1. */
int lp_spec_find_layer(const lp_spec_ctx *c, const char *name);
/* How a kernel's `init` and the keys of LP_INIT_OPTS_KEYS combine: init_value only with
 * init = constant (which needs it), init_values only with init = choice (which needs
 * them); the error names the line of the key at fault. */
lp_status lp_spec_check_init(const lp_spec_ctx *c, lp_init_kind init);
/* A bias initialiser for a layer without a bias is a contradiction, not a no-op. */
lp_status lp_spec_check_bias_init(const lp_spec_ctx *c, bool use_bias);
/* Flat shapes are (n,1,1); anything else has a height or width to slide a window over. */
bool lp_shape_is_flat(lp_shape s);
/* Sets l->in = prev->out, refusing a flat shape. */
lp_status lp_spec_need_spatial(const lp_spec_ctx *c, lp_layer_spec *l, const lp_layer_spec *prev);
/* Sets l->window for a kh x kw window over l->in and l->out = (channels, oh, ow); `what`
 * ("kernel", "window") names it in messages, `key` ("kernel", "size"; NULL for a window
 * no key sets) is the key that set it. Refuses a padded input or an output of more than
 * LP_SPEC_ELEMS_MAX values per sample. */
lp_status lp_spec_slide_window(const lp_spec_ctx *c, lp_layer_spec *l, const lp_layer_spec *prev,
                               const char *what, const char *key, int channels, int kh, int kw,
                               int stride_h, int stride_w, lp_padding padding);
/* l->in = l->out = prev->out: kinds that keep the shape. */
lp_status lp_spec_same_shape(const lp_spec_ctx *c, lp_layer_spec *l, const lp_layer_spec *prev);

/* ---- parameter tensors (a kind's `tensors`) ---------------------------------------------- */

/* A 1-D tensor of layer `layer` (a bias, gamma, beta): one LaPerm group, no l2. */
lp_param_tensor lp_param_vector(int layer, const char *name, int n, lp_init_kind init, int fan_in,
                                int fan_out, bool permute);

/* A layer's kernel of `groups` contiguous LaPerm groups of `group_size` (stored with rank
 * and dims), then, with use_bias, its bias of `groups` values with the kernel's fans
 * (Keras); the fields of lp_dense_spec / lp_conv2d_spec. Writes t[0..] and returns how
 * many (1 or 2). */
typedef struct {
    int rank, dims[4], groups, group_size, fan_in, fan_out;
    lp_init_kind init, bias_init;
    lp_init_opts init_opts;
    float l2;
    bool permute, use_bias;
} lp_kernel_desc;
int lp_param_kernel(int layer, const lp_kernel_desc *k, lp_param_tensor *t);

/* ---- summary details ---------------------------------------------------------------------- */

/* Appends printf-style text; once full it stays full (snprintf truncates). */
typedef struct {
    char *buf;
    size_t size, len;
} lp_text;

void lp_text_add(lp_text *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* "kernel 3x3, stride 2, padding same": a window the way model files spell it. */
void lp_text_window(lp_text *t, const char *label, int kh, int kw, int stride_h, int stride_w,
                    lp_padding padding);
/* "relu, init he_uniform, bias, l2 0.0001, permuted": a layer with a kernel; its init
 * options when set ("init constant 0.08, keep 0.571, no bias, ..."). */
void lp_text_weights(lp_text *t, lp_activation act, lp_init_kind init, const lp_init_opts *o,
                     bool bias, float l2, bool permute);
/* "no activation" or the activation's name. */
const char *lp_activation_words(lp_activation a);

#endif
