/* Segmented bitonic argsort: launch sequence and workspace for cl/sort.cl (the
 * network and the entry layout are described there). */
#include <stdlib.h>

#include "laperm/segsort.h"

/* Work-items per work-group the host asks for; the device and kernels may allow fewer.
 * On CPUs work-items are loop iterations around every barrier, so few work-items each
 * doing more comparators is faster (PoCL: ~1.5x over 256); GPUs want many. */
#define SEGSORT_PREFERRED_WGS 256
#define SEGSORT_PREFERRED_WGS_CPU 32
/* Entries per local tile at most (32 KiB): wider tiles mean fewer global passes, but
 * every work-group holds one, so very wide ones would cost occupancy on GPUs. */
#define SEGSORT_MAX_TILE 4096

struct lp_segsort {
    lp_runtime *rt;
    cl_kernel sort_tiles, merge_tiles, global_step, global_step2;
    size_t tile; /* entries per local tile, a power of two >= 2 */
    size_t wgs;  /* work-items per tile kernel work-group, <= tile / 2 */
    size_t step_wgs, step2_wgs;
    cl_mem work; /* (key << 32 | index) per padded entry, for P > tile */
    size_t work_elems;
    cl_mem order; /* scratch for callers, see lp_segsort_scratch_order */
    size_t order_elems;
};

static size_t floor_pow2_(size_t x) {
    size_t p = 1;
    while (p * 2 <= x)
        p *= 2;
    return p;
}

static lp_status grow_(lp_segsort *s, cl_mem *buf, size_t *have, size_t want, size_t elem_bytes,
                       const char *what) {
    if (*buf && *have >= want) return LP_OK;
    cl_mem grown = NULL;
    LP_TRY(lp_buffer_create_zeroed(s->rt, want * elem_bytes, what, &grown));
    /* The old buffer lives on until the commands queued on it finish. */
    if (*buf) clReleaseMemObject(*buf);
    *buf = grown;
    *have = want;
    return LP_OK;
}

lp_status lp_segsort_create(lp_runtime *rt, size_t max_elements_padded_hint, lp_segsort **out) {
    *out = NULL;
    if (!rt) return lp_fail(LP_ERR_INVALID_ARG, "lp_segsort_create: runtime is NULL");
    lp_segsort *s = calloc(1, sizeof *s);
    if (!s) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory creating the segmented sort");
    s->rt = rt;
    const char *names[] = {"segsort_sort_tiles", "segsort_merge_tiles", "segsort_global_step",
                           "segsort_global_step2"};
    cl_kernel *kernels[] = {&s->sort_tiles, &s->merge_tiles, &s->global_step, &s->global_step2};
    for (int i = 0; i < 4; ++i) {
        lp_status st = lp_runtime_kernel(rt, "sort", names[i], NULL, kernels[i]);
        if (st != LP_OK) {
            free(s);
            return st;
        }
    }
    /* The tile must fit local memory; both tile kernels share the work-group size. */
    cl_ulong local_mem = lp_runtime_device(rt)->local_mem;
    s->tile = floor_pow2_((size_t)(local_mem / sizeof(cl_ulong)));
    if (s->tile > SEGSORT_MAX_TILE) s->tile = SEGSORT_MAX_TILE;
    if (s->tile < 2) s->tile = 2;
    size_t want = (lp_runtime_device(rt)->type & CL_DEVICE_TYPE_CPU) ? SEGSORT_PREFERRED_WGS_CPU
                                                                     : SEGSORT_PREFERRED_WGS;
    size_t a = lp_runtime_wgs(rt, s->sort_tiles, want);
    size_t b = lp_runtime_wgs(rt, s->merge_tiles, want);
    s->wgs = a < b ? a : b;
    if (s->wgs > s->tile / 2) s->wgs = s->tile / 2;
    s->step_wgs = lp_runtime_wgs(rt, s->global_step, SEGSORT_PREFERRED_WGS);
    s->step2_wgs = lp_runtime_wgs(rt, s->global_step2, SEGSORT_PREFERRED_WGS);
    if (max_elements_padded_hint > s->tile) {
        lp_status st = grow_(s, &s->work, &s->work_elems, max_elements_padded_hint,
                             sizeof(cl_ulong), "segmented sort workspace");
        if (st != LP_OK) {
            free(s);
            return st;
        }
    }
    *out = s;
    return LP_OK;
}

void lp_segsort_destroy(lp_segsort *s) {
    if (!s) return;
    if (s->work) clReleaseMemObject(s->work);
    if (s->order) clReleaseMemObject(s->order);
    free(s);
}

lp_runtime *lp_segsort_runtime(const lp_segsort *s) {
    return s->rt;
}

size_t lp_segsort_tile(const lp_segsort *s) {
    return s->tile;
}

void lp_segsort_limit_tile(lp_segsort *s, size_t max_entries) {
    size_t t = floor_pow2_(max_entries < 2 ? 2 : max_entries);
    if (t < s->tile) s->tile = t;
    if (s->wgs > s->tile / 2) s->wgs = s->tile / 2;
}

lp_status lp_segsort_scratch_order(lp_segsort *s, size_t elements, cl_mem *out) {
    LP_TRY(grow_(s, &s->order, &s->order_elems, elements ? elements : 1, sizeof(cl_int),
                 "sort order scratch"));
    *out = s->order;
    return LP_OK;
}

/* Elements of `elem_bytes` that `buf` holds, for bounds checks before any launch. */
static lp_status buffer_elems_(cl_mem buf, size_t elem_bytes, const char *what, size_t *out) {
    size_t bytes = 0;
    LP_TRY(lp_cl_check(clGetMemObjectInfo(buf, CL_MEM_SIZE, sizeof bytes, &bytes, NULL), what));
    *out = bytes / elem_bytes;
    return LP_OK;
}

static lp_status launch_tiles_(lp_segsort *s, cl_kernel k, size_t total, size_t tile,
                               const char *label) {
    size_t global = (total + tile - 1) / tile * s->wgs;
    return lp_launch(s->rt, k, 1, &global, &s->wgs, label);
}

/* One global step of distance j, or (two) the steps 2q, q with q = j / 2. */
static lp_status global_steps_(lp_segsort *s, size_t total, size_t j, int flip, int two) {
    cl_kernel k = two ? s->global_step2 : s->global_step;
    cl_ulong items = total / (two ? 4 : 2), dist = two ? j / 2 : j;
    cl_uint fl = (cl_uint)flip;
    LP_ARG(k, 0, s->work);
    LP_ARG(k, 1, items);
    LP_ARG(k, 2, dist);
    LP_ARG(k, 3, fl);
    size_t global = (size_t)items;
    return lp_launch(s->rt, k, 1, &global, two ? &s->step2_wgs : &s->step_wgs,
                     two ? "segsort_global_step2" : "segsort_global_step");
}

lp_status lp_segsort_argsort(lp_segsort *s, cl_mem keys, size_t keys_offset, int groups,
                             int group_size, cl_mem order, size_t order_offset) {
    if (!s || !keys || !order)
        return lp_fail(LP_ERR_INVALID_ARG, "lp_segsort_argsort: sort, keys or order is NULL");
    if (groups < 1 || group_size < 1 || group_size > (1 << 30))
        return lp_fail(LP_ERR_INVALID_ARG,
                       "lp_segsort_argsort: %d groups of %d: expected groups >= 1 and "
                       "1 <= group_size <= 2^30",
                       groups, group_size);
    size_t n = (size_t)groups * (size_t)group_size, have;
    LP_TRY(buffer_elems_(keys, sizeof(float), "size of the keys buffer", &have));
    if (keys_offset > have || n > have - keys_offset)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "lp_segsort_argsort: keys need %zu floats from offset %zu, buffer has %zu",
                       n, keys_offset, have);
    LP_TRY(buffer_elems_(order, sizeof(cl_int), "size of the order buffer", &have));
    if (order_offset > have || n > have - order_offset)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "lp_segsort_argsort: order needs %zu ints from offset %zu, buffer has %zu",
                       n, order_offset, have);

    cl_uint log2p = 0;
    while (((size_t)1 << log2p) < (size_t)group_size)
        log2p++;
    size_t p = (size_t)1 << log2p, tile = s->tile;
    cl_ulong total = (cl_ulong)groups * p, koff = keys_offset, ooff = order_offset;
    cl_uint gs = (cl_uint)group_size, direct = p <= tile;
    /* Groups that fit a tile sort in tiles just wide enough for them and for the
     * work-group, so that many small groups still spread over many work-groups. */
    if (direct) tile = p > 2 * s->wgs ? p : 2 * s->wgs;
    cl_uint tile_n = (cl_uint)tile;
    if (!direct)
        LP_TRY(grow_(s, &s->work, &s->work_elems, (size_t)total, sizeof(cl_ulong),
                     "segmented sort workspace"));
    /* A valid (unused) buffer where a kernel needs no workspace. */
    cl_mem work = s->work ? s->work : order;
    size_t local_bytes = tile * sizeof(cl_ulong);

    cl_kernel k = s->sort_tiles;
    LP_ARG(k, 0, keys);
    LP_ARG(k, 1, koff);
    LP_ARG(k, 2, gs);
    LP_ARG(k, 3, log2p);
    LP_ARG(k, 4, total);
    LP_ARG(k, 5, tile_n);
    LP_ARG(k, 6, work);
    LP_ARG(k, 7, order);
    LP_ARG(k, 8, ooff);
    LP_ARG(k, 9, direct);
    LP_ARG_LOCAL(k, 10, local_bytes);
    LP_TRY(launch_tiles_(s, k, (size_t)total, tile, "segsort_sort_tiles"));
    if (direct) return LP_OK;

    /* Merge blocks of 2*tile .. P: the steps wider than a tile in global memory (two
     * per pass where two remain), the rest in one tile pass; the last writes `order`. */
    k = s->merge_tiles;
    for (size_t width = 2 * tile; width <= p; width *= 2) {
        int flip = 1;
        for (size_t j = width / 2; j >= tile; flip = 0) {
            int two = j / 2 >= tile;
            LP_TRY(global_steps_(s, (size_t)total, j, flip, two));
            j /= two ? 4 : 2;
        }
        cl_uint last = width == p;
        LP_ARG(k, 0, s->work);
        LP_ARG(k, 1, gs);
        LP_ARG(k, 2, log2p);
        LP_ARG(k, 3, total);
        LP_ARG(k, 4, tile_n);
        LP_ARG(k, 5, order);
        LP_ARG(k, 6, ooff);
        LP_ARG(k, 7, last);
        LP_ARG_LOCAL(k, 8, local_bytes);
        LP_TRY(launch_tiles_(s, k, (size_t)total, tile, "segsort_merge_tiles"));
    }
    return LP_OK;
}
