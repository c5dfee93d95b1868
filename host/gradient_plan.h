/* Internal: which layers' output gradients (their `dout`) share one buffer. A layer's
 * gradient lives only while the backward pass is between the layer after it (which writes
 * it) and the layer itself (which reads it), or, for a layer with a second input (a
 * residual's [add]), until that input's half has run; gradients whose lives do not overlap
 * take turns in one buffer; the last layer's (the loss's, lp_network_dlogits) keeps its
 * own. Without it every layer kept its own for the network's life:
 * half of all activation memory (ResNet20 at batch 128: 453.6 of 672.6 MiB were outputs
 * and their gradients). Worked out from the model spec alone, so the memory plan
 * (memory_plan.c) counts what the network (network.c) will allocate. */
#ifndef LAPERM_GRADIENT_PLAN_H
#define LAPERM_GRADIENT_PLAN_H

#include <stdint.h>

#include "laperm/model.h"

typedef struct {
    int *slot;             /* per layer: the buffer holding its gradient; -1: none ([input]) */
    uint64_t *slot_floats; /* per buffer: floats a sample, the most any of its layers needs */
    int n_slots;
} lp_gradient_plan;

/* Fills *out for the spec's layers (views of the previous layer, as [flatten], take the
 * buffer of the layer they view). LP_ERR_NO_MEMORY when the host cannot hold the plan. */
lp_status lp_gradient_plan_make(const lp_model_spec *m, lp_gradient_plan *out);
void lp_gradient_plan_free(lp_gradient_plan *p);

/* Floats a sample of all the plan's buffers together. */
uint64_t lp_gradient_plan_floats(const lp_gradient_plan *p);

#endif
