/* The registry of layer kinds: one descriptor per line of laperm/layer_kinds.def, indexed
 * by lp_layer_kind. Everything that handles layers by kind reads this table. */
#include <string.h>

#include "layer.h"

#define LP_LAYER_KIND(id, name) extern const lp_layer_kind_desc lp_layer_##name;
#include "laperm/layer_kinds.def"
#undef LP_LAYER_KIND

static const lp_layer_kind_desc *const kinds_[] = {
#define LP_LAYER_KIND(id, name) [LP_LAYER_##id] = &lp_layer_##name,
#include "laperm/layer_kinds.def"
#undef LP_LAYER_KIND
};
_Static_assert(sizeof kinds_ / sizeof *kinds_ == LP_LAYER_KIND_COUNT,
               "one descriptor per lp_layer_kind");

const lp_layer_kind_desc *lp_layer_kind_get(lp_layer_kind k) {
    return (unsigned)k < LP_LAYER_KIND_COUNT ? kinds_[k] : NULL;
}

int lp_layer_kind_find(const char *name, size_t n) {
    for (int k = 0; k < LP_LAYER_KIND_COUNT; ++k)
        if (strlen(kinds_[k]->section) == n && memcmp(kinds_[k]->section, name, n) == 0) return k;
    return -1;
}

const char *lp_layer_kind_name(lp_layer_kind k) {
    const lp_layer_kind_desc *d = lp_layer_kind_get(k);
    return d ? d->section : "?";
}

bool lp_layer_views_prev(const lp_layer_spec *l) {
    const lp_layer_kind_desc *d = lp_layer_kind_get(l->kind);
    return d->views_prev && d->views_prev(l);
}

int lp_layer_second_input(const lp_layer_spec *l) {
    const lp_layer_kind_desc *d = lp_layer_kind_get(l->kind);
    return d->second_input ? d->second_input(l) : -1;
}
