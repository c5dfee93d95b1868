/* The training losses, one line each (name, launch); the first is the default. The
 * results file records the name. */
#include "laperm/ops.h"
#include "laperm/train.h"

static const lp_loss table_[] = {
    {"softmax-cross-entropy", lp_op_softmax_xent},
};
#define N_ ((int)(sizeof table_ / sizeof table_[0]))

const lp_loss *lp_loss_at(int i) {
    return i >= 0 && i < N_ ? &table_[i] : NULL;
}
