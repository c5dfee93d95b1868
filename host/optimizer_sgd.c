/* SGD with momentum in Keras' form (cl/optim.cl, lp_sgd_update): v = mu v - lr g;
 * w += v. Momentum 0 is plain SGD. */
#include "laperm/launch.h"
#include "laperm/ops.h"
#include "optimizer.h"

enum { MOMENTUM_ }; /* positions in .params */

lp_status lp_op_sgd(lp_runtime *rt, cl_mem w, cl_mem g, cl_mem vel, int n, float lr,
                    float momentum) {
    if (n < 0) return lp_fail(LP_ERR_INVALID_ARG, "sgd_update: negative size %d", n);
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(rt, "optim", "lp_sgd_update", NULL, &k));
    LP_ARG(k, 0, w);
    LP_ARG(k, 1, g);
    LP_ARG(k, 2, vel);
    LP_ARG(k, 3, n);
    LP_ARG(k, 4, lr);
    LP_ARG(k, 5, momentum);
    return lp_launch_1d(rt, k, (size_t)n, 256, "sgd_update");
}

static lp_status step_(const lp_optimizer_step *s) {
    return lp_op_sgd(s->rt, s->w, s->g, s->state[0], s->n, (float)s->lr,
                     (float)s->params[MOMENTUM_]);
}

const lp_optimizer lp_optimizer_sgd = {
    .name = "sgd",
    .title = "SGD",
    .state = {"SGD velocities"},
    .n_params = 1,
    .params = {[MOMENTUM_] = {"--momentum", "sgd_momentum", 0.9, 0, 0.999999999, "SGD momentum"}},
    .step = step_,
};
