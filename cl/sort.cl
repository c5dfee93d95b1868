/* Segmented bitonic argsort (host side: host/segsort.c). Each group of `gs` float keys
 * is padded to P = 2^log2p entries and sorted ascending as one 64-bit word per entry,
 * (lp_float_sort_key << 32 | index in group), so ties fall to the lower index and the
 * result is the same bit for bit on every device. Pads are (0xFFFFFFFF, j >= gs): they
 * sort after every real entry, even a NaN whose key is 0xFFFFFFFF.
 *
 * The network is the "flip" form of bitonic sort: merging blocks of width k starts with
 * i <-> i ^ (k - 1) and continues with half-cleaners i <-> i + j, j = k/4 .. 1. Every
 * comparator sorts ascending and stays inside an aligned block of width k <= P, so
 * groups laid end to end at multiples of P never mix and need no segment logic.
 *
 * A tile is tile_n entries (a power of two, at least twice the work-group size) in
 * local memory, shared by the work-group. Steps whose blocks fit a tile run there
 * (segsort_sort_tiles, segsort_merge_tiles), each work-item taking several comparators;
 * only wider steps go through global memory, two at a time where they can
 * (segsort_global_step2, else segsort_global_step). */

/* Entry for padded position `pos` of the whole (groups * P) sequence. */
ulong segsort_entry_(global const float *keys, ulong keys_off, ulong pos, uint gs, uint log2p,
                     ulong total) {
    /* Past the last group (last tile only, when P < tile): whole fake blocks that
     * are sorted among themselves and never stored. */
    if (pos >= total) return ~(ulong)0;
    ulong g = pos >> log2p;
    uint j = (uint)(pos & (((ulong)1 << log2p) - 1));
    if (j >= gs) return ((ulong)0xFFFFFFFFu << 32) | j;
    return ((ulong)lp_float_sort_key(keys[keys_off + g * gs + j]) << 32) | j;
}

/* All comparators of one step with distance j (flip: block 2j mirrored), shared out
 * over the work-group; ends with the barrier every work-item reaches. */
void segsort_tile_step_(local ulong *tile, uint tile_n, uint j, bool flip) {
    uint n = (uint)get_local_size(0);
    for (uint t = (uint)get_local_id(0); t < tile_n / 2; t += n) {
        uint a = (t << 1) - (t & (j - 1));
        uint b = flip ? (a ^ (2 * j - 1)) : (a + j);
        /* Branch-free: data-dependent branches cost more than the stores. */
        ulong x = tile[a], y = tile[b];
        tile[a] = min(x, y);
        tile[b] = max(x, y);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
}

/* Writes the sorted tile: into the workspace, or (last pass) its indices into `order`. */
void segsort_store_tile_(local const ulong *tile, uint tile_n, ulong base, ulong total, uint gs,
                         uint log2p, uint direct, global ulong *work, global int *order,
                         ulong order_off) {
    for (uint e = (uint)get_local_id(0); e < tile_n; e += (uint)get_local_size(0)) {
        ulong pos = base + e;
        if (pos >= total) break;
        if (!direct) {
            work[pos] = tile[e];
            continue;
        }
        ulong g = pos >> log2p;
        uint j = (uint)(pos & (((ulong)1 << log2p) - 1));
        if (j < gs) order[order_off + g * gs + j] = (int)(uint)tile[e];
    }
}

/* Loads keys and sorts every aligned block of min(P, tile_n) entries completely. With
 * direct != 0 (P fits a tile) that finishes the sort and writes `order`. */
kernel void segsort_sort_tiles(global const float *keys, ulong keys_off, uint gs, uint log2p,
                               ulong total, uint tile_n, global ulong *work, global int *order,
                               ulong order_off, uint direct, local ulong *tile) {
    ulong base = (ulong)get_group_id(0) * tile_n;
    for (uint e = (uint)get_local_id(0); e < tile_n; e += (uint)get_local_size(0))
        tile[e] = segsort_entry_(keys, keys_off, base + e, gs, log2p, total);
    barrier(CLK_LOCAL_MEM_FENCE);
    uint kmax = min(tile_n, 1u << log2p); /* the host keeps log2p <= 30 */
    for (uint k = 2; k <= kmax; k <<= 1) {
        segsort_tile_step_(tile, tile_n, k >> 1, true);
        for (uint j = k >> 2; j > 0; j >>= 1)
            segsort_tile_step_(tile, tile_n, j, false);
    }
    segsort_store_tile_(tile, tile_n, base, total, gs, log2p, direct, work, order, order_off);
}

/* The half-cleaners j = tile_n/2 .. 1 that end a merge of blocks wider than a tile. */
kernel void segsort_merge_tiles(global ulong *work, uint gs, uint log2p, ulong total, uint tile_n,
                                global int *order, ulong order_off, uint direct,
                                local ulong *tile) {
    ulong base = (ulong)get_group_id(0) * tile_n;
    /* P > tile here, so total is a multiple of the tile: no bounds to check on load. */
    for (uint e = (uint)get_local_id(0); e < tile_n; e += (uint)get_local_size(0))
        tile[e] = work[base + e];
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint j = tile_n >> 1; j > 0; j >>= 1)
        segsort_tile_step_(tile, tile_n, j, false);
    segsort_store_tile_(tile, tile_n, base, total, gs, log2p, direct, work, order, order_off);
}

/* Puts a pair of private values in ascending order. */
void segsort_order2_(ulong *x, ulong *y) {
    ulong lo = min(*x, *y), hi = max(*x, *y);
    *x = lo;
    *y = hi;
}

/* One step wider than a tile: comparator t of distance j (flip: block 2j mirrored). */
kernel void segsort_global_step(global ulong *work, ulong pairs, ulong j, uint flip) {
    ulong t = get_global_id(0);
    if (t >= pairs) return;
    ulong a = (t << 1) - (t & (j - 1)), b = flip ? (a ^ (2 * j - 1)) : (a + j);
    ulong x = work[a], y = work[b];
    if (x > y) {
        work[a] = y;
        work[b] = x;
    }
}

/* Two consecutive steps, distances 2q then q, on four entries per work-item: one pass
 * through global memory instead of two. The four are closed under both steps: for
 * half-cleaners a, a+q, a+2q, a+3q; for the flip of a block of 4q, a, a+q and their
 * mirrors a^(4q-1) - q, a^(4q-1). */
kernel void segsort_global_step2(global ulong *work, ulong quads, ulong q, uint flip) {
    ulong t = get_global_id(0);
    if (t >= quads) return;
    ulong e0 = ((t & ~(q - 1)) << 2) | (t & (q - 1)), e1 = e0 + q;
    ulong e3 = flip ? (e0 ^ (4 * q - 1)) : e0 + 3 * q;
    ulong e2 = flip ? e3 - q : e0 + 2 * q;
    ulong x0 = work[e0], x1 = work[e1], x2 = work[e2], x3 = work[e3];
    if (flip) {
        segsort_order2_(&x0, &x3);
        segsort_order2_(&x1, &x2);
    } else {
        segsort_order2_(&x0, &x2);
        segsort_order2_(&x1, &x3);
    }
    segsort_order2_(&x0, &x1);
    segsort_order2_(&x2, &x3);
    work[e0] = x0;
    work[e1] = x1;
    work[e2] = x2;
    work[e3] = x3;
}
