/* Lookahead (Zhang et al. 2019, "k steps forward, 1 step back") around any inner
 * optimizer: the launch of its slow-weight step (cl/optim.cl, lp_lookahead_update). The
 * trainer keeps the slow weights (one buffer, initialised to the initial weights, saved
 * in checkpoints after the inner optimizer's state) and calls this every --la-k steps. */
#include "laperm/launch.h"
#include "laperm/ops.h"

lp_status lp_op_lookahead(lp_runtime *rt, cl_mem w, cl_mem slow, int n, float alpha) {
    if (n < 0 || !(alpha > 0.0f && alpha <= 1.0f))
        return lp_fail(LP_ERR_INVALID_ARG, "lookahead_update: size %d, alpha %g (expected (0, 1])",
                       n, (double)alpha);
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(rt, "optim", "lp_lookahead_update", NULL, &k));
    LP_ARG(k, 0, w);
    LP_ARG(k, 1, slow);
    LP_ARG(k, 2, n);
    LP_ARG(k, 3, alpha);
    return lp_launch_1d(rt, k, (size_t)n, 256, "lookahead_update");
}
