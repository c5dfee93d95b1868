/* Internal: the inner optimizers' descriptors, one per host/optimizer_<id>.c as listed in
 * host/optimizers.def, and the launch they share. */
#ifndef LAPERM_OPTIMIZER_H
#define LAPERM_OPTIMIZER_H

#include "laperm/train.h"

#define LP_OPTIMIZER(id) extern const lp_optimizer lp_optimizer_##id;
#include "optimizers.def"
#undef LP_OPTIMIZER

/* Enqueues k with one work-item per element of a flat buffer of n, in work-groups of up
 * to 256: the launch of every element-wise update. Inline, so that the optimizers' files
 * depend on the runtime only, never back on the table that lists them. */
static inline lp_status lp_optimizer_launch_flat(lp_runtime *rt, cl_kernel k, int n,
                                                 const char *label) {
    size_t local = lp_runtime_wgs(rt, k, 256), global = (size_t)n;
    return lp_launch(rt, k, 1, &global, &local, label);
}

#endif
