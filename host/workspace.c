/* Shared scratch buffers of a network's layers (laperm/workspace.h). */
#include "laperm/workspace.h"

#include <stdlib.h>

struct lp_workspace {
    lp_runtime *rt;
    cl_mem buf[LP_WORKSPACE_SLOTS];
    size_t bytes[LP_WORKSPACE_SLOTS];
};

lp_status lp_workspace_create(lp_runtime *rt, lp_workspace **out) {
    *out = calloc(1, sizeof **out);
    if (!*out) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    (*out)->rt = rt;
    return LP_OK;
}

void lp_workspace_destroy(lp_workspace *ws) {
    if (!ws) return;
    for (int i = 0; i < LP_WORKSPACE_SLOTS; ++i)
        if (ws->buf[i]) clReleaseMemObject(ws->buf[i]);
    free(ws);
}

lp_status lp_workspace_get(lp_workspace *ws, lp_workspace_slot slot, size_t bytes, const char *what,
                           cl_mem *out) {
    LP_ASSERT(slot >= 0 && slot < LP_WORKSPACE_SLOTS);
    if (bytes > ws->bytes[slot]) {
        /* The new buffer before the old one goes: Oclgrind 21.10 takes a buffer made at a
         * just-released address for uninitialised even after a kernel wrote it. */
        cl_mem grown;
        LP_TRY(lp_buffer_create(ws->rt, bytes, what, &grown));
        if (ws->buf[slot]) clReleaseMemObject(ws->buf[slot]);
        ws->buf[slot] = grown;
        ws->bytes[slot] = bytes;
    }
    *out = ws->buf[slot];
    return LP_OK;
}
