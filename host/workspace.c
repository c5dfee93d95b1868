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

const char *lp_workspace_slot_name(lp_workspace_slot slot) {
    static const char *const names[LP_WORKSPACE_SLOTS] = {
        [LP_WORKSPACE_DIRECT_ZT] = "conv2d direct gradient (pixel-major)",
        [LP_WORKSPACE_DIRECT_Z] = "conv2d direct gradient planes",
        [LP_WORKSPACE_WINOGRAD_PRODUCTS] = "conv2d winograd products",
        [LP_WORKSPACE_WINOGRAD_DW_PRODUCTS] = "conv2d winograd kernel gradient products",
        [LP_WORKSPACE_WINOGRAD_DX_PRODUCTS] = "conv2d winograd input gradient products",
        [LP_WORKSPACE_WINOGRAD_DX_TILES] = "conv2d winograd gradient tiles"};
    return slot >= 0 && slot < LP_WORKSPACE_SLOTS ? names[slot] : "?";
}

lp_status lp_workspace_get(lp_workspace *ws, lp_workspace_slot slot, size_t bytes, cl_mem *out) {
    LP_ASSERT(slot >= 0 && slot < LP_WORKSPACE_SLOTS);
    if (bytes > ws->bytes[slot]) {
        /* The new buffer before the old one goes: Oclgrind 21.10 takes a buffer made at a
         * just-released address for uninitialised even after a kernel wrote it. */
        cl_mem grown;
        LP_TRY(lp_buffer_create(ws->rt, bytes, lp_workspace_slot_name(slot), &grown));
        if (ws->buf[slot]) clReleaseMemObject(ws->buf[slot]);
        ws->buf[slot] = grown;
        ws->bytes[slot] = bytes;
    }
    *out = ws->buf[slot];
    return LP_OK;
}

lp_status lp_workspace_reserve(lp_workspace *ws, const lp_held_bytes *asks) {
    for (int i = 0; i < LP_WORKSPACE_SLOTS; ++i) {
        cl_mem unused;
        if (asks->borrowed[i] > 0)
            LP_TRY(lp_workspace_get(ws, (lp_workspace_slot)i, asks->borrowed[i], &unused));
    }
    return LP_OK;
}

uint64_t lp_workspace_bytes(const lp_workspace *ws) {
    uint64_t total = 0;
    for (int i = 0; i < LP_WORKSPACE_SLOTS; ++i)
        total += ws->bytes[i];
    return total;
}

void lp_held_bytes_add(lp_held_bytes *into, const lp_held_bytes *b) {
    into->own += b->own;
    for (int i = 0; i < LP_WORKSPACE_SLOTS; ++i)
        if (b->borrowed[i] > into->borrowed[i]) into->borrowed[i] = b->borrowed[i];
}

uint64_t lp_held_bytes_total(const lp_held_bytes *b) {
    uint64_t total = b->own;
    for (int i = 0; i < LP_WORKSPACE_SLOTS; ++i)
        total += b->borrowed[i];
    return total;
}
