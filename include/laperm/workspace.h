/* Device buffers that the layers of one network take turns to use: a layer's scratch that
 * lives only within one of its passes (the direct convolution's output-gradient layouts,
 * the Winograd path's products) need not be held once per layer. Passes run one after
 * another on the runtime's in-order queue, so a buffer one layer's kernels finished with
 * is free for the next layer's. Contents are undefined on every get: a user writes what
 * it reads. */
#ifndef LAPERM_WORKSPACE_H
#define LAPERM_WORKSPACE_H

#include <stddef.h>
#include <stdint.h>

#include "laperm/runtime.h"

typedef struct lp_workspace lp_workspace;

/* The kinds of scratch, one buffer each. */
typedef enum {
    LP_WORKSPACE_DIRECT_ZT,            /* conv_direct.h: the output gradient, pixel-major */
    LP_WORKSPACE_DIRECT_Z,             /* conv_direct.h: the output gradient's padded planes */
    LP_WORKSPACE_WINOGRAD_PRODUCTS,    /* conv_winograd.h: forward products, dy's tiles */
    LP_WORKSPACE_WINOGRAD_DW_PRODUCTS, /* conv_winograd.h: the kernel gradient's products */
    LP_WORKSPACE_WINOGRAD_DX_PRODUCTS, /* conv_winograd.h: the input gradient's products */
    LP_WORKSPACE_WINOGRAD_DX_TILES,    /* conv_winograd.h: the input gradient's dy tiles */
    LP_WORKSPACE_SLOTS
} lp_workspace_slot;

/* Device bytes a user (a layer, a convolution path) holds of its own and asks of each slot,
 * at most: what a plan made before any buffer counts (memory_plan.h). A network's slots
 * take the largest ask of its layers, their own bytes add up. */
typedef struct {
    uint64_t own;
    uint64_t borrowed[LP_WORKSPACE_SLOTS];
} lp_held_bytes;

/* Bytes the slots hold now. */
uint64_t lp_workspace_bytes(const lp_workspace *ws);

/* Grows each slot to at least asks->borrowed[slot] now (asks->own is not the workspace's):
 * a network reserves its layers' largest asks when it is built, so that no pass grows a
 * slot, which would hold the old and the new buffer at once. */
lp_status lp_workspace_reserve(lp_workspace *ws, const lp_held_bytes *asks);

/* Into *into: own added, each slot's ask the larger of the two. */
void lp_held_bytes_add(lp_held_bytes *into, const lp_held_bytes *b);
/* own plus every slot's ask. */
uint64_t lp_held_bytes_total(const lp_held_bytes *b);

lp_status lp_workspace_create(lp_runtime *rt, lp_workspace **out);
void lp_workspace_destroy(lp_workspace *ws);

/* What the slot holds, as allocation errors name it ("conv2d direct gradient planes"). */
const char *lp_workspace_slot_name(lp_workspace_slot slot);

/* The slot's buffer, at least `bytes` long: grown when smaller, the old buffer released
 * after the new one is made (OpenCL frees it once the commands already enqueued on it are
 * done). A network's slots were reserved when it was built (lp_workspace_reserve), so its
 * passes get the same buffer each time; a user outside a network grows them on its first
 * passes. Borrowed: valid until the next get of the slot or the workspace's end. */
lp_status lp_workspace_get(lp_workspace *ws, lp_workspace_slot slot, size_t bytes, cl_mem *out);

#endif
