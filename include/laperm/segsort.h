/* Segmented argsort on the device: every group of a tensor sorted in one launch
 * sequence, ascending by a total order on floats (lp_float_sort_key, then index), so
 * the permutation is identical bit for bit on every device. Used by the LaPerm sync. */
#ifndef LAPERM_SEGSORT_H
#define LAPERM_SEGSORT_H

#include <stdint.h>

#include "laperm/float_order.h"
#include "laperm/runtime.h"

/* Compiled kernels plus a reusable workspace (8 bytes per padded entry, needed only
 * for groups wider than a tile), grown on demand. Not thread-safe. */
typedef struct lp_segsort lp_segsort;

/* `max_elements_padded_hint`: the largest groups * next_pow2(group_size) expected, so
 * the workspace is allocated once up front (0: allocate on first need). */
lp_status lp_segsort_create(lp_runtime *rt, size_t max_elements_padded_hint, lp_segsort **out);
void lp_segsort_destroy(lp_segsort *s);

/* order[order_offset + g*group_size + j] = index (0..group_size-1) of the j-th smallest
 * of keys[keys_offset + g*group_size + 0 .. group_size-1], for g < groups. Offsets
 * count elements (floats, int32). Keys are not modified; order must not overlap them.
 * Only enqueues work on the runtime's in-order queue (no host wait). group_size must
 * be at most 2^30. */
lp_status lp_segsort_argsort(lp_segsort *s, cl_mem keys, size_t keys_offset, int groups,
                             int group_size, cl_mem order, size_t order_offset);

lp_runtime *lp_segsort_runtime(const lp_segsort *s);

/* An int32 scratch buffer of at least `elements` entries owned by `s` (for callers
 * that need `order` only until their next launch, e.g. the LaPerm sync). Valid until
 * the next call; growing it releases the old one after its queued uses. */
lp_status lp_segsort_scratch_order(lp_segsort *s, size_t elements, cl_mem *out);

/* Entries per local-memory tile (a power of two, from the device's local memory):
 * groups padded to at most this many sort in one kernel. lp_segsort_limit_tile
 * lowers it, so that tests reach the global-memory merge passes with small sizes. */
size_t lp_segsort_tile(const lp_segsort *s);
void lp_segsort_limit_tile(lp_segsort *s, size_t max_entries);

#endif
