/* Device memory accounting (lp_runtime_memory in laperm/runtime.h): every buffer made by
 * lp_buffer_create* adds its size to the live total, and an OpenCL destructor callback
 * takes it off when the buffer is really freed (after its last release and the last
 * command using it), so no caller's release needs to report anything. The callback may
 * run on the implementation's own thread, hence the atomics, and after the runtime is
 * gone, hence the tracker's own reference count (the runtime holds one, each live
 * buffer one). */
#include <stdatomic.h>
#include <stdlib.h>

#include "runtime-impl.h"

struct lp_memory_tracker_ {
    _Atomic uint64_t live, peak;
    atomic_long refs;
    atomic_long untracked; /* buffers whose callback could not be set: counted, never freed */
};

typedef struct {
    struct lp_memory_tracker_ *t;
    uint64_t bytes;
} node_;

static void unref_(struct lp_memory_tracker_ *t) {
    if (atomic_fetch_sub(&t->refs, 1) == 1) free(t);
}

static void CL_CALLBACK freed_(cl_mem m, void *user) {
    (void)m;
    node_ *n = user;
    atomic_fetch_sub(&n->t->live, n->bytes);
    unref_(n->t);
    free(n);
}

void lp_runtime_memory_track_(lp_runtime *rt, cl_mem buf, size_t bytes) {
    if (!rt->memory) {
        rt->memory = calloc(1, sizeof *rt->memory);
        if (!rt->memory) return; /* no accounting, but no failure of the allocation either */
        atomic_init(&rt->memory->refs, 1);
    }
    struct lp_memory_tracker_ *t = rt->memory;
    uint64_t now = atomic_fetch_add(&t->live, bytes) + bytes;
    uint64_t peak = atomic_load(&t->peak);
    while (now > peak && !atomic_compare_exchange_weak(&t->peak, &peak, now)) {
    }
    node_ *n = malloc(sizeof *n);
    if (n) {
        *n = (node_){t, bytes};
        atomic_fetch_add(&t->refs, 1);
        if (clSetMemObjectDestructorCallback(buf, freed_, n) == CL_SUCCESS) return;
        atomic_fetch_sub(&t->refs, 1);
        free(n);
    }
    atomic_fetch_add(&t->untracked, 1);
}

void lp_runtime_memory_release_(lp_runtime *rt) {
    if (rt->memory) unref_(rt->memory);
    rt->memory = NULL;
}

lp_memory_use lp_runtime_memory(const lp_runtime *rt) {
    lp_memory_use u = {0, 0, 0};
    if (rt->memory) {
        u.live = atomic_load(&rt->memory->live);
        u.peak = atomic_load(&rt->memory->peak);
        u.untracked = atomic_load(&rt->memory->untracked);
    }
    return u;
}

void lp_runtime_memory_mark(lp_runtime *rt) {
    if (rt->memory) atomic_store(&rt->memory->peak, atomic_load(&rt->memory->live));
}
