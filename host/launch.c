/* laperm/launch.h. */
#include "laperm/launch.h"

lp_status lp_launch_1d(lp_runtime *rt, cl_kernel k, size_t n, size_t group, const char *label) {
    if (group == 0) return lp_launch(rt, k, 1, &n, NULL, label);
    size_t local = lp_runtime_wgs(rt, k, group);
    return lp_launch(rt, k, 1, &n, &local, label);
}

lp_status lp_launch_2d(lp_runtime *rt, cl_kernel k, size_t d0, size_t d1, const char *label) {
    size_t global[2] = {d0, d1};
    return lp_launch(rt, k, 2, global, NULL, label);
}
