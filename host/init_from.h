/* Internal: --init-from, the final weights of another laperm run (its results file's
 * /weights/<layer>/<tensor>) as a network's initial values, matched by layer and tensor
 * name. */
#ifndef LAPERM_INIT_FROM_H
#define LAPERM_INIT_FROM_H

#include "laperm/model.h"
#include "laperm/status.h"

/* Fills dst (the flat parameter layout of t[0..n)) from `path`: each tensor from
 * /weights/<layer_names[t.layer]>/<t.name>, whose shape must equal t's. A missing file,
 * layer or tensor is LP_ERR_NOT_FOUND, another shape or type LP_ERR_FORMAT, each naming
 * the file, the layer and the tensor (and both shapes). hash: 16 hex digits (and a NUL)
 * of a hash of the loaded values in tensor order, what the results file records. */
lp_status lp_init_from_results(const char *path, const lp_param_tensor *t, int n,
                               const char *const *layer_names, float *dst, char hash[17]);

#endif
