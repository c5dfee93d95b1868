/* Internal: a layer kind is one descriptor (lp_layer_kind_desc) defined in its own file
 * host/layer_<kind>.c and listed once in laperm/layer_kinds.def; the parser, `summary`,
 * the parameter table and the network factory reach kinds only through the registry
 * (lp_layer_kind_get). A built layer is a small struct plus a table of functions and a
 * pointer to its own state. README, "How to add a layer kind", lists the steps. */
#ifndef LAPERM_LAYER_H
#define LAPERM_LAYER_H

#include "laperm/network.h"
#include "laperm/workspace.h"
#include "layer_spec.h"

typedef struct lp_layer lp_layer;

/* The most parameter tensors one layer owns (kernel and bias, or gamma and beta). */
#define LP_LAYER_TENSORS_MAX 2

typedef struct {
    /* [name] in model files; also the stem of default layer names ("dense_1"). */
    const char *section;
    const lp_key_def *keys; /* LP_KEY_NAME first */
    int n_keys;
    /* Fills the kind's defaults into a zeroed spec before its keys are read; may be NULL. */
    void (*defaults)(lp_layer_spec *l);
    /* Checks what single keys cannot, sets l->in, l->out and, for windowed kinds,
     * l->window; prev is NULL for [input]. Errors are LP_ERR_FORMAT "<file>:<line>: ...". */
    lp_status (*finish)(const lp_spec_ctx *c, lp_layer_spec *l, const lp_layer_spec *prev);
    /* Writes layer i's parameter tensors (at most LP_LAYER_TENSORS_MAX, offsets left 0)
     * and returns how many; NULL for kinds without parameters. */
    int (*tensors)(const lp_model_spec *m, int i, lp_param_tensor *t);
    /* True when init makes the layer a view of the previous layer's buffers
     * (lp_layer_view_prev); NULL: never. The gradient plan needs it before any init. */
    bool (*views_prev)(const lp_layer_spec *l);
    /* The earlier layer the layer also reads (a residual's `from`: lp_layer.second_input),
     * or -1; NULL: none. */
    int (*second_input)(const lp_layer_spec *l);
    /* The `summary` details column ("kernel 3x3, stride 1, ..."); may be NULL. */
    void (*details)(const lp_layer_spec *l, lp_text *t);
    /* Builds layer l (prev already built): ops, buffers, state. The spec has passed the
     * parser, so inits assert (LP_ASSERT) what it guarantees rather than re-check it. */
    lp_status (*init)(lp_network *net, lp_layer *l);
    /* The device bytes init makes l hold beyond its output and output gradient (state, a
     * convolution path's buffers) and ask of net's workspace, at most, without allocating:
     * the memory plan counts them (lp_network_plan_held). net and l as init would get
     * them, before anything is allocated: net's runtime, spec, max_batch and options, l's
     * spec, index, need_dx and out_features; no buffers, no tensors. NULL: none. */
    lp_status (*held)(const lp_network *net, const lp_layer *l, lp_held_bytes *out);
} lp_layer_kind_desc;

/* The descriptor of kind k, or NULL out of range. */
const lp_layer_kind_desc *lp_layer_kind_get(lp_layer_kind k);
/* The kind whose section is name[0..n), or -1. */
int lp_layer_kind_find(const char *name, size_t n);
/* What spec l's kind says (lp_layer_kind_desc.views_prev, .second_input), with the
 * defaults of a kind that leaves them NULL: false, -1. */
bool lp_layer_views_prev(const lp_layer_spec *l);
int lp_layer_second_input(const lp_layer_spec *l);

typedef struct {
    /* Reads the previous layer's `out`, writes this layer's `out` (n samples). */
    lp_status (*forward)(lp_network *net, lp_layer *l, int n, bool training);
    /* Reads `dout`, writes this layer's parameter gradients and, if need_dx, the
     * previous layer's `dout`. */
    lp_status (*backward)(lp_network *net, lp_layer *l, int n);
    void (*destroy)(lp_layer *l);
    /* Layers with a second input (second_input >= 0): ADDS this layer's gradient with
     * respect to that input into its dout. lp_network_backward calls it once the layer
     * after second_input has overwritten that dout, in layer order. May be NULL. */
    lp_status (*backward_second)(lp_network *net, lp_layer *l, int n);
} lp_layer_ops;

struct lp_layer {
    const lp_layer_spec *spec;
    const lp_layer_ops *ops;
    lp_layer *prev;
    size_t out_features; /* per sample */
    cl_mem out, dout;    /* (max_batch, out_features); views of prev's for shape-only layers */
    bool owns_buffers;
    bool need_dx;           /* some earlier layer has parameters */
    int first_tensor;       /* index into the tensor table, -1 if none */
    int index;              /* position in the model (Philox stream of stochastic layers) */
    int second_input;       /* an earlier layer this one also reads (a residual's `from`), or -1 */
    lp_conv_algo conv_path; /* the path its convolution took; AUTO: it has none */
    void *state;
};

/* One registered state tensor: `count` floats at `offset` in `buf` (the layer owns buf). */
typedef struct {
    lp_state_tensor info;
    cl_mem buf;
    size_t offset;
} lp_network_state_entry;

struct lp_network {
    lp_runtime *rt;
    const lp_model_spec *spec;
    lp_param_tensor *tensors;
    int n_tensors;
    size_t n_params;
    cl_mem params, grads;
    int max_batch;
    lp_network_options opt;
    uint64_t seed; /* for stochastic layers, see lp_network_set_rng */
    long long step;
    long long first_row; /* of the global batch, for the batch's row 0 */
    lp_layer *layers;
    int n_layers;
    lp_network_state_entry *state;
    int n_state;
    lp_workspace *workspace; /* scratch the layers take turns to use (laperm/workspace.h) */
    /* The layers' output gradients (gradient_plan.h): grad_slot[i] is layer i's buffer in
     * grad_bufs; NULL in networks not built from a spec (test rigs): each owns its own. */
    int *grad_slot;
    cl_mem *grad_bufs;
    int n_grad_bufs;
};

/* Fills net->layers[i] as init gets it (net's spec and tensors set): spec, prev,
 * out_features, need_dx, index, second_input, and first_tensor (-1 without tensors).
 * lp_network_create_opts calls it before each init; the memory plan's frame of a network
 * (network_plan.c) calls it with no init after. */
void lp_layer_frame(lp_network *net, int i, bool need_dx);
/* The sum over net's layers of what their kinds' `held` say (own bytes added, each slot's
 * largest ask). */
lp_status lp_network_layers_held(const lp_network *net, lp_held_bytes *out);

/* Shared by layer kinds: out of max_batch samples, owned by the layer (`what` names it in
 * allocation errors), and dout: the network's planned gradient buffer for the layer, which
 * other layers use while this one's gradient is not live (no pass may expect its dout to
 * keep values from an earlier step), or an own one outside a planned network. `zeroed`:
 * filled with zeros from the host, which costs start-up time on large buffers; layers
 * whose kernels write every value before any is read (conv2d) may skip it, the others
 * zero them so that no pass (and no Oclgrind check) reads uninitialised memory. */
lp_status lp_layer_own_buffers(lp_network *net, lp_layer *l, const char *what, bool zeroed);
/* Registers a 1-D state tensor of layer l (see lp_state_tensor): `count` floats at
 * `offset` in buf, which the layer keeps alive. `name` must be a string literal. */
lp_status lp_layer_add_state(lp_network *net, lp_layer *l, const char *name, cl_mem buf,
                             size_t offset, size_t count);
/* Shape-only layers: out and dout are views of prev's. */
lp_status lp_layer_view_prev(lp_network *net, lp_layer *l);

#endif
