/* The training losses, built from laperm/losses.def (name, launch, the targets it needs);
 * the first is the default. The results file records the name. */
#include <string.h>

#include "laperm/ops.h"
#include "laperm/train.h"

static const lp_loss table_[] = {
#define LP_LOSS(id, name, run, regression) {name, run, regression},
#include "laperm/losses.def"
#undef LP_LOSS
};
#define N_ ((int)(sizeof table_ / sizeof table_[0]))

const lp_loss *lp_loss_at(int i) {
    return i >= 0 && i < N_ ? &table_[i] : NULL;
}

const lp_loss *lp_loss_find(const char *name) {
    for (int i = 0; name && i < N_; ++i)
        if (!strcmp(table_[i].name, name)) return &table_[i];
    return NULL;
}
