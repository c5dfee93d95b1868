/* Internal: the inner optimizers' descriptors, one per host/optimizer_<id>.c as listed in
 * host/optimizers.def, and the launch they share. */
#ifndef LAPERM_OPTIMIZER_H
#define LAPERM_OPTIMIZER_H

#include "laperm/train.h"

#define LP_OPTIMIZER(id) extern const lp_optimizer lp_optimizer_##id;
#include "optimizers.def"
#undef LP_OPTIMIZER

#endif
