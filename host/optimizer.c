/* The table of inner optimizers, built from host/optimizers.def, and its look-ups. */
#include <string.h>

#include "optimizer.h"

static const lp_optimizer *const table_[] = {
#define LP_OPTIMIZER(id) &lp_optimizer_##id,
#include "optimizers.def"
#undef LP_OPTIMIZER
};
#define N_ ((int)(sizeof table_ / sizeof table_[0]))
_Static_assert(N_ <= LP_OPTIMIZER_SLOTS, "raise LP_OPTIMIZER_SLOTS in include/laperm/train.h");

const lp_optimizer *lp_optimizer_at(int i) {
    return i >= 0 && i < N_ ? table_[i] : NULL;
}

const lp_optimizer *lp_optimizer_find(const char *name) {
    for (int i = 0; name && i < N_; ++i)
        if (strcmp(table_[i]->name, name) == 0) return table_[i];
    return NULL;
}

int lp_optimizer_index(const lp_optimizer *o) {
    for (int i = 0; i < N_; ++i)
        if (table_[i] == o) return i;
    return -1;
}

const char *lp_train_optimizer_name(const lp_train_config *c) {
    return c->laperm ? LP_OPTIMIZER_LAPERM : c->lookahead ? LP_OPTIMIZER_LOOKAHEAD : c->inner->name;
}
