/* Model architecture: the INI-like model file (one [section] per layer; README, "Model
 * files"), the shapes inferred from it, and its table of parameter tensors. */
#ifndef LAPERM_MODEL_H
#define LAPERM_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "laperm/status.h"

/* Per-sample shape in NCHW order; flat tensors (after [flatten] or [dense]) are (n,1,1).
 * The parser treats every (c,1,1) as flat, a 1x1 map included: spatial layers refuse it. */
typedef struct {
    int c, h, w;
} lp_shape;

size_t lp_shape_size(lp_shape s);
/* "1x28x28", or "784" for a flat shape; writes into buf (>= 40 bytes) and returns it. */
const char *lp_shape_str(lp_shape s, char *buf, size_t size);

/* One value per line of laperm/layer_kinds.def, in its order. */
typedef enum {
#define LP_LAYER_KIND(id, name) LP_LAYER_##id,
#include "laperm/layer_kinds.def"
#undef LP_LAYER_KIND
    LP_LAYER_KIND_COUNT
} lp_layer_kind;
typedef enum { LP_ACT_NONE, LP_ACT_RELU } lp_activation;
/* One value per line of laperm/initializers.def (formulas: laperm/init.h). */
typedef enum {
#define LP_INITIALIZER(id, name, use) LP_INIT_##id,
#include "laperm/initializers.def"
#undef LP_INITIALIZER
    LP_INIT_KIND_COUNT
} lp_init_kind;

/* The spelling used in model files ("dense", "relu", "he_uniform"); "?" out of range. */
const char *lp_layer_kind_name(lp_layer_kind k);
const char *lp_activation_name(lp_activation a);
const char *lp_init_name(lp_init_kind i);

/* What a kernel's initial values are beyond its initializer (model-file keys `keep`,
 * `init_value`, `init_values`, `quantize`; README, "Initial weights"). Zeroed: none. */
#define LP_INIT_VALUES_MAX 16
typedef struct {
    int n;
    float v[LP_INIT_VALUES_MAX];
} lp_float_list;
typedef struct {
    float keep;           /* Bernoulli mask keeping each weight with this probability;
                             0 (unset) or 1: no mask */
    float value;          /* init = constant: every weight */
    lp_float_list values; /* init = choice: each weight one of these, uniformly */
    int quantize;         /* >= 2: rounded to that many evenly spaced levels; 0: not */
} lp_init_opts;

typedef struct {
    int units;
    bool use_bias;
    lp_activation activation;
    lp_init_kind kernel_init, bias_init;
    lp_init_opts init_opts; /* the kernel's mask, constant or list, quantisation */
    float l2;               /* adds l2 * sum(kernel^2) to the loss (Keras convention, no 1/2) */
    bool permute;           /* LaPerm permutes this kernel (biases: a trainer switch) */
} lp_dense_spec;

typedef enum { LP_PAD_VALID, LP_PAD_SAME } lp_padding;

/* A sliding window over a (h, w) plane and the padding it implies, computed once per
 * layer by the parser (lp_window_make) and read by every path that runs the layer.
 * TensorFlow's rules: `same` pads total = max((out-1)*stride + k - in, 0), the smaller
 * half before, so out = ceil(in / stride); `valid` pads nothing, out = (in - k) / stride
 * + 1. */
typedef struct {
    int kh, kw, stride_h, stride_w;
    int pad_top, pad_left, pad_bottom, pad_right;
    int oh, ow;
} lp_window;

/* One axis of that rule: *out and *pad_before. LP_ERR_INVALID_ARG when a size is not
 * positive, a `valid` window is larger than the input, or the padded axis exceeds
 * INT_MAX. */
lp_status lp_window_axis(int in, int k, int stride, lp_padding padding, int *out, int *pad_before);
/* Both axes of an h x w plane; LP_ERR_INVALID_ARG as above or when the window does not fit. */
lp_status lp_window_make(int h, int w, int kh, int kw, int stride_h, int stride_w,
                         lp_padding padding, lp_window *out);

/* [conv2d]: kernel stored (filters, cin, kh, kw) so one LaPerm group (one filter) is a
 * contiguous row of cin*kh*kw values; padding as lp_window says. */
typedef struct {
    int filters, kh, kw, stride_h, stride_w;
    lp_padding padding;
    bool use_bias;
    lp_activation activation;
    lp_init_kind kernel_init, bias_init;
    lp_init_opts init_opts;
    float l2;
    bool permute;
} lp_conv2d_spec;

/* [maxpool] / [avgpool]: window and stride (default stride = window), valid or same. */
typedef struct {
    int ph, pw, stride_h, stride_w;
    lp_padding padding;
} lp_pool_spec;

/* [batchnorm]: per channel for (c, h, w) inputs, per feature for flat ones. Trainable
 * gamma (init 1) and beta (init 0); running mean/var are state, never permuted. Training
 * uses batch statistics; running = momentum * running + (1 - momentum) * batch. */
typedef struct {
    float momentum, eps;      /* defaults 0.99, 1e-3 (Keras) */
    bool permute;             /* permute gamma and beta too (default false) */
    lp_activation activation; /* fused ReLU after the normalisation */
} lp_batchnorm_spec;

/* [dropout]: zeroes each value with probability rate in training, scales the rest by
 * 1/(1-rate); identity in inference. */
typedef struct {
    float rate;
} lp_dropout_spec;

#define LP_LAYER_NAME_MAX 48 /* including the terminating NUL */

/* [add]: a residual join, out = prev + shortcut(from), then the activation. `from` names
 * an earlier layer other than the previous one. Without a projection the shortcut is the
 * identity and from's shape must equal prev's; with one it is a 1x1 convolution (the
 * Keras resnet_v1 shortcut) with prev's channel count as filters and the stride that maps
 * from's height and width exactly onto prev's. The parser fills `from` and proj's sizes;
 * proj's init, bias, l2 and permute come from the section's keys. */
typedef struct {
    char from_name[LP_LAYER_NAME_MAX];
    int from; /* index into lp_model_spec.layers */
    bool projection;
    lp_activation activation;
    lp_conv2d_spec proj; /* valid only with projection: kh = kw = 1, no activation */
} lp_add_spec;

/* Room for the spec of a kind that keeps its struct in its own layer file (host/layer_spec.h,
 * LP_LAYER_PRIVATE_SPEC_FITS) instead of in the union below. */
#define LP_LAYER_SPEC_BYTES 128

typedef struct {
    lp_layer_kind kind;
    int line; /* line of the [section] header, for messages */
    char name[LP_LAYER_NAME_MAX];
    lp_shape in, out; /* input: in == out == the sample shape */
    lp_window window; /* [conv2d], [maxpool], [avgpool], [globalavgpool], [add]'s projection */
    union {
        lp_dense_spec dense;
        lp_conv2d_spec conv;
        lp_pool_spec pool;
        lp_batchnorm_spec bn;
        lp_dropout_spec dropout;
        lp_add_spec add;
        unsigned char bytes[LP_LAYER_SPEC_BYTES]; /* private specs; int-aligned by the above */
    } u;
} lp_layer_spec;

typedef struct {
    char *source;          /* the file path or name given, for messages */
    char *text;            /* the whole model text, stored in outputs as written */
    lp_layer_spec *layers; /* layers[0] is the [input] section */
    int n_layers;          /* including the input */
} lp_model_spec;

/* Parses and shape-checks a model. Errors are LP_ERR_FORMAT with a message
 * "<source>:<line>: <what was wrong, what was expected>". On failure *out is zeroed
 * (nothing to free); on success free it with lp_model_free. source_name may be NULL. */
lp_status lp_model_parse_text(const char *text, const char *source_name, lp_model_spec *out);
/* Reads `path` (LP_ERR_IO if it cannot be read) and parses it as above. */
lp_status lp_model_load(const char *path, lp_model_spec *out);
/* Frees and zeroes *m; safe on a zeroed spec and on NULL. */
void lp_model_free(lp_model_spec *m);
/* The [input] section's `loss` (a name of laperm/losses.def), or NULL when not given. */
const char *lp_model_loss_name(const lp_model_spec *m);

/* One trainable tensor. The table lists them in a fixed order (layer order; kernel then
 * bias, or BatchNorm gamma then beta), which is also their order in one flat parameter
 * buffer (`offset`). BatchNorm running mean/variance are layer state, not listed here. */
typedef struct {
    int layer;     /* index into lp_model_spec.layers */
    char name[16]; /* "kernel" | "bias" | "gamma" | "beta" */
    int rank;
    int dims[4];            /* row-major, so a LaPerm group is a contiguous row:
                               dense kernel (units, in); conv kernel (filters, cin, kh, kw);
                               [add] projection kernel (filters, cin, 1, 1) as a conv's */
    size_t count;           /* product of dims; at most INT_MAX */
    size_t offset;          /* elements before this tensor in the flat buffer */
    int fan_in, fan_out;    /* dense (in, units); conv (cin*kh*kw, filters*kh*kw) as Keras;
                               a bias has its kernel's; gamma/beta (count, count) */
    lp_init_kind init;      /* gamma: LP_INIT_ONES, beta: LP_INIT_ZEROS */
    lp_init_opts init_opts; /* kernels: the layer's keep, init_value(s), quantize */
    float l2;               /* kernels: the layer's l2; 1-D tensors: 0 */
    bool is_kernel;
    bool permute_default;   /* kernels and gamma/beta: the layer's `permute`; biases: false */
    int groups, group_size; /* LaPerm groups, contiguous: dense (units, in); conv
                               (filters, cin*kh*kw); 1-D tensors one group of `count` */
} lp_param_tensor;

/* The parameter table, malloc'd (free() it); *n may be 0 for a model without weights. */
lp_status lp_model_params(const lp_model_spec *m, lp_param_tensor **out, int *n);
size_t lp_model_param_count(const lp_model_spec *m);

/* Prints a table (#, name, kind, output shape, params, details) and the totals:
 * all parameters, permuted parameters (permute_default: biases never count, as they are
 * permuted only by a trainer switch) and their LaPerm groups.
 * LP_ERR_IO if writing fails. */
lp_status lp_model_summary(const lp_model_spec *m, FILE *out);

#endif
