/* LaPerm sync on the device (argsort, then the scatter of cl/laperm.cl) and the host
 * reference sorts by the same total order. */
#include <stdlib.h>
#include <string.h>

#include "laperm/laperm_sync.h"
#include "laperm/launch.h"

/* Fails unless `buf` holds `n` elements of `elem_bytes` from element `offset`. */
static lp_status check_range_(cl_mem buf, size_t offset, size_t n, size_t elem_bytes,
                              const char *what) {
    size_t bytes = 0;
    LP_TRY(lp_cl_check(clGetMemObjectInfo(buf, CL_MEM_SIZE, sizeof bytes, &bytes, NULL), what));
    size_t have = bytes / elem_bytes;
    if (offset > have || n > have - offset)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "lp_laperm_sync: %s needs %zu elements from offset %zu, buffer has %zu",
                       what, n, offset, have);
    return LP_OK;
}

lp_status lp_laperm_sync(lp_segsort *s, cl_mem src, size_t src_offset, cl_mem theta_sorted,
                         size_t sorted_offset, int groups, int group_size, cl_mem dst,
                         size_t dst_offset, cl_mem rank, size_t rank_offset) {
    if (!s || !src || !theta_sorted || !dst)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "lp_laperm_sync: sort, src, theta_sorted or dst is NULL");
    if (groups < 1 || group_size < 1 || (uint64_t)groups * (uint64_t)group_size > UINT32_MAX)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "lp_laperm_sync: %d groups of %d: expected both >= 1 and fewer than 2^32 "
                       "elements",
                       groups, group_size);
    size_t n = (size_t)groups * (size_t)group_size;
    LP_TRY(check_range_(theta_sorted, sorted_offset, n, sizeof(float), "theta_sorted"));
    LP_TRY(check_range_(dst, dst_offset, n, sizeof(float), "dst"));
    if (rank) LP_TRY(check_range_(rank, rank_offset, n, sizeof(cl_int), "rank"));

    lp_runtime *rt = lp_segsort_runtime(s);
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(rt, "laperm", "laperm_scatter", NULL, &k));
    cl_mem order;
    LP_TRY(lp_segsort_scratch_order(s, n, &order));
    LP_TRY(lp_segsort_argsort(s, src, src_offset, groups, group_size, order, 0));

    cl_ulong zero = 0, soff = sorted_offset, doff = dst_offset, roff = rank_offset;
    cl_uint has_rank = rank != NULL, gs = (cl_uint)group_size, count = (cl_uint)n;
    /* Without rank the kernel never touches that argument; any valid buffer will do. */
    cl_mem rank_arg = rank ? rank : order;
    LP_ARG(k, 0, order);
    LP_ARG(k, 1, zero);
    LP_ARG(k, 2, theta_sorted);
    LP_ARG(k, 3, soff);
    LP_ARG(k, 4, dst);
    LP_ARG(k, 5, doff);
    LP_ARG(k, 6, rank_arg);
    LP_ARG(k, 7, roff);
    LP_ARG(k, 8, has_rank);
    LP_ARG(k, 9, gs);
    LP_ARG(k, 10, count);
    return lp_launch_1d(rt, k, n, 256, "laperm_scatter");
}

static int cmp_float_key_(const void *a, const void *b) {
    uint32_t x = lp_float_sort_key(*(const float *)a), y = lp_float_sort_key(*(const float *)b);
    return (x > y) - (x < y);
}

void lp_sort_groups_host(const float *src, int groups, int group_size, float *sorted_out) {
    if (groups < 1 || group_size < 1) return;
    size_t n = (size_t)groups * (size_t)group_size;
    if (sorted_out != src) memmove(sorted_out, src, n * sizeof *sorted_out);
    for (int g = 0; g < groups; ++g)
        qsort(sorted_out + (size_t)g * group_size, (size_t)group_size, sizeof *sorted_out,
              cmp_float_key_);
}

static int cmp_u64_(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

lp_status lp_argsort_groups_host(const float *src, int groups, int group_size, int32_t *order_out) {
    if (groups < 1 || group_size < 1) return LP_OK;
    /* (key << 32 | index): one integer comparison is the (key, index) order. */
    uint64_t *tmp = malloc((size_t)group_size * sizeof *tmp);
    if (!tmp)
        return lp_fail(LP_ERR_NO_MEMORY, "lp_argsort_groups_host: %d-element scratch", group_size);
    for (int g = 0; g < groups; ++g) {
        const float *x = src + (size_t)g * group_size;
        for (int j = 0; j < group_size; ++j)
            tmp[j] = (uint64_t)lp_float_sort_key(x[j]) << 32 | (uint32_t)j;
        qsort(tmp, (size_t)group_size, sizeof *tmp, cmp_u64_);
        int32_t *o = order_out + (size_t)g * group_size;
        for (int j = 0; j < group_size; ++j)
            o[j] = (int32_t)(uint32_t)tmp[j];
    }
    free(tmp);
    return LP_OK;
}
