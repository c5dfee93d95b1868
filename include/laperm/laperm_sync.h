/* The LaPerm synchronisation (LAPERM.md step 5): each group of weights is replaced by
 * its initial sorted values (theta_sorted) placed in the ranking of the current
 * weights. Plus the host reference sorts that build theta_sorted and check the device. */
#ifndef LAPERM_LAPERM_SYNC_H
#define LAPERM_LAPERM_SYNC_H

#include <stdint.h>

#include "laperm/segsort.h"

/* For each group g < groups of group_size elements (offsets count elements):
 *   order = argsort(src[g]) by (lp_float_sort_key, index);
 *   dst[g][order[j]] = theta_sorted[g][j];  rank[g][order[j]] = j  (if rank != NULL),
 * so afterwards dst[g][i] == theta_sorted[g][rank[g][i]]. dst may be src (the in-place
 * sync of the parameters) or another buffer (a projected copy; src is untouched).
 * theta_sorted and rank must not overlap dst or src. Enqueues only; no host wait.
 * groups * group_size must stay below 2^32. */
lp_status lp_laperm_sync(lp_segsort *s, cl_mem src, size_t src_offset, cl_mem theta_sorted,
                         size_t sorted_offset, int groups, int group_size, cl_mem dst,
                         size_t dst_offset, cl_mem rank, size_t rank_offset);

/* Host reference: each group of src copied to sorted_out ascending by lp_float_sort_key
 * (equal keys are equal bits, so no index is needed). src and sorted_out may alias. */
void lp_sort_groups_host(const float *src, int groups, int group_size, float *sorted_out);

/* Host reference argsort by (lp_float_sort_key, index), the device's exact order.
 * Needs group_size * 8 bytes of scratch: LP_ERR_NO_MEMORY if that cannot be had. */
lp_status lp_argsort_groups_host(const float *src, int groups, int group_size, int32_t *order_out);

#endif
