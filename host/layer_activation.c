/* [activation]: an element-wise function on its own, `function = relu | tanh | sigmoid |
 * identity` (kernels in cl/activation.cl). Any shape; the output has the input's shape.
 * Identity computes nothing: like [flatten] its buffers are views of the previous
 * layer's. The spec is private to this file (lp_layer_spec.u.bytes). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "laperm/launch.h"
#include "layer.h"

/* The functions, named once: model-file word, and the number the kernels get as
 * -DLP_FN_<NAME> (0 for identity, which runs no kernel). */
typedef enum { FN_IDENTITY, FN_RELU, FN_TANH, FN_SIGMOID } activation_fn_;
static const lp_choice functions_[] = {{"relu", FN_RELU},
                                       {"tanh", FN_TANH},
                                       {"sigmoid", FN_SIGMOID},
                                       {"identity", FN_IDENTITY},
                                       {NULL, 0}};
_Static_assert(sizeof(activation_fn_) == sizeof(int), "enum stored as int");

typedef struct {
    activation_fn_ fn;
} activation_spec_;
LP_LAYER_PRIVATE_SPEC_FITS(activation_spec_);

static const lp_key_def activation_keys_[] = {
    LP_KEY_NAME,
    {"function", LP_VAL_CHOICE, true, LP_PRIVATE_OFFSET(activation_spec_, fn), functions_, 0},
};

static void activation_details_(const lp_layer_spec *l, lp_text *t) {
    lp_text_add(t, "%s",
                lp_choice_word(functions_, LP_LAYER_PRIVATE_SPEC_CONST(activation_spec_, l)->fn));
}

typedef struct {
    char options[160]; /* the program's -D options: the function and the numbering */
} activation_state_;

static lp_status launch_(lp_network *net, lp_layer *l, const char *kernel, int n, cl_mem a,
                         cl_mem b, cl_mem c) {
    activation_state_ *s = l->state;
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(net->rt, "activation", kernel, s->options, &k));
    int total = n * (int)l->out_features;
    int arg = 0;
    LP_ARG(k, arg++, a);
    LP_ARG(k, arg++, b);
    if (c) LP_ARG(k, arg++, c);
    LP_ARG(k, arg++, total);
    return lp_launch_1d(net->rt, k, (size_t)total, 256, kernel);
}

static lp_status activation_forward_(lp_network *net, lp_layer *l, int n, bool training) {
    (void)training;
    return launch_(net, l, "lp_activation_forward", n, l->prev->out, l->out, NULL);
}

static lp_status activation_backward_(lp_network *net, lp_layer *l, int n) {
    if (!l->need_dx) return LP_OK; /* no parameters here or upstream */
    return launch_(net, l, "lp_activation_backward", n, l->dout, l->out, l->prev->dout);
}

static void activation_destroy_(lp_layer *l) {
    free(l->state);
}

static const lp_layer_ops activation_ops_ = {activation_forward_, activation_backward_,
                                             activation_destroy_, NULL};

/* The identity computes nothing: a view. */
static bool activation_views_prev_(const lp_layer_spec *l) {
    return LP_LAYER_PRIVATE_SPEC_CONST(activation_spec_, l)->fn == FN_IDENTITY;
}

static lp_status activation_init_(lp_network *net, lp_layer *l) {
    activation_fn_ fn = LP_LAYER_PRIVATE_SPEC_CONST(activation_spec_, l->spec)->fn;
    if (activation_views_prev_(l->spec)) return lp_layer_view_prev(net, l);
    if ((size_t)net->max_batch * l->out_features > INT_MAX)
        return lp_fail(LP_ERR_INVALID_ARG, "layer '%s': batch of %d x %zu values exceeds 2^31",
                       l->spec->name, net->max_batch, l->out_features);
    activation_state_ *s = calloc(1, sizeof *s);
    if (!s) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    l->state = s;
    l->ops = &activation_ops_;
    snprintf(s->options, sizeof s->options,
             "-DLP_ACTIVATION_FN=%d -DLP_FN_RELU=%d -DLP_FN_TANH=%d -DLP_FN_SIGMOID=%d", (int)fn,
             (int)FN_RELU, (int)FN_TANH, (int)FN_SIGMOID);
    return lp_layer_own_buffers(net, l, "activation", true);
}

const lp_layer_kind_desc lp_layer_activation = {
    .section = "activation",
    .keys = activation_keys_,
    .n_keys = LP_N_KEYS(activation_keys_),
    .finish = lp_spec_same_shape,
    .views_prev = activation_views_prev_,
    .details = activation_details_,
    .init = activation_init_,
};
