/* LaPerm synchronisation (host side: host/laperm_sync.c): after `order` = argsort of
 * each group of the trained weights, the j-th smallest position receives the j-th
 * initial value, so every group is again a permutation of theta_sorted. */

/* One work-item per (group g, rank j), i = g*gs + j:
 *   dst[g*gs + order[i]] = sorted[i];  rank[g*gs + order[i]] = j (when has_rank).
 * Every destination is written once, so dst may be the buffer `order` was sorted from
 * (that sort has finished: the queue is in order). */
kernel void laperm_scatter(global const int *order, ulong order_off, global const float *sorted,
                           ulong sorted_off, global float *dst, ulong dst_off, global int *rank,
                           ulong rank_off, uint has_rank, uint gs, uint n) {
    uint i = (uint)get_global_id(0);
    if (i >= n) return;
    uint g = i / gs, j = i - g * gs;
    uint to = g * gs + (uint)order[order_off + i];
    dst[dst_off + to] = sorted[sorted_off + i];
    if (has_rank) rank[rank_off + to] = (int)j;
}
