/* Launch helpers for the common shapes of work, over lp_launch (laperm/runtime.h): one
 * place decides work-group sizes for them, instead of a private copy per file. Kernels
 * bounds-check, since global sizes are rounded up to whole work-groups. */
#ifndef LAPERM_LAUNCH_H
#define LAPERM_LAUNCH_H

#include "laperm/runtime.h"

/* n work-items in work-groups of lp_runtime_wgs(rt, k, group) (at most `group`, as the
 * device and kernel allow); group 0 leaves the work-group size to the implementation. */
lp_status lp_launch_1d(lp_runtime *rt, cl_kernel k, size_t n, size_t group, const char *label);
/* d0 x d1 work-items (such as channels x samples, one per plane), work-groups left to the
 * implementation. */
lp_status lp_launch_2d(lp_runtime *rt, cl_kernel k, size_t d0, size_t d1, const char *label);

#endif
