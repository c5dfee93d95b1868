/* Adam in Keras' form (cl/optim.cl, lp_adam_update): the bias correction is folded into
 * the step size on the host, lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t), in double. */
#include <math.h>

#include "laperm/launch.h"
#include "laperm/ops.h"
#include "optimizer.h"

enum { BETA1_, BETA2_, EPS_ }; /* positions in .params */

lp_status lp_op_adam(lp_runtime *rt, cl_mem w, cl_mem g, cl_mem m, cl_mem v, int n, float lr_t,
                     float beta1, float beta2, float eps) {
    if (n < 0) return lp_fail(LP_ERR_INVALID_ARG, "adam_update: negative size %d", n);
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(rt, "optim", "lp_adam_update", NULL, &k));
    LP_ARG(k, 0, w);
    LP_ARG(k, 1, g);
    LP_ARG(k, 2, m);
    LP_ARG(k, 3, v);
    LP_ARG(k, 4, n);
    LP_ARG(k, 5, lr_t);
    LP_ARG(k, 6, beta1);
    LP_ARG(k, 7, beta2);
    LP_ARG(k, 8, eps);
    return lp_launch_1d(rt, k, (size_t)n, 256, "adam_update");
}

static lp_status step_(const lp_optimizer_step *s) {
    double beta1 = s->params[BETA1_], beta2 = s->params[BETA2_];
    double t = (double)s->step;
    double lr_t = s->lr * sqrt(1.0 - pow(beta2, t)) / (1.0 - pow(beta1, t));
    return lp_op_adam(s->rt, s->w, s->g, s->state[0], s->state[1], s->n, (float)lr_t, (float)beta1,
                      (float)beta2, (float)s->params[EPS_]);
}

const lp_optimizer lp_optimizer_adam = {
    .name = "adam",
    .title = "Adam",
    .state = {"Adam first moments", "Adam second moments"},
    .n_params = 3,
    .params =
        {
            [BETA1_] = {"--beta1", "adam_beta1", 0.9, 0, 0.999999999, "Adam beta1"},
            [BETA2_] = {"--beta2", "adam_beta2", 0.999, 0, 0.999999999, "Adam beta2"},
            [EPS_] = {"--eps", "adam_eps", 1e-7, 1e-30, 1, "Adam epsilon"},
        },
    .step = step_,
};
