/* Device buffers that the layers of one network take turns to use: a layer's scratch that
 * lives only within one of its passes (the direct convolution's output-gradient layouts,
 * the Winograd path's products) need not be held once per layer. Passes run one after
 * another on the runtime's in-order queue, so a buffer one layer's kernels finished with
 * is free for the next layer's. Contents are undefined on every get: a user writes what
 * it reads. */
#ifndef LAPERM_WORKSPACE_H
#define LAPERM_WORKSPACE_H

#include <stddef.h>

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

lp_status lp_workspace_create(lp_runtime *rt, lp_workspace **out);
void lp_workspace_destroy(lp_workspace *ws);

/* The slot's buffer, at least `bytes` long (`what` names it in allocation errors): grown
 * when smaller, the old buffer released after the new one is made (OpenCL frees it once
 * the commands already enqueued on it are done). Grows happen on the first passes, at the
 * largest batch; afterwards the same buffer returns. Borrowed: valid until the next get
 * of the slot or the workspace's end. */
lp_status lp_workspace_get(lp_workspace *ws, lp_workspace_slot slot, size_t bytes, const char *what,
                           cl_mem *out);

#endif
