"""The ranking formula (README, "Groups and the ranking formula"): for snapshot s, group g
and position j, weights_s[g, j] == sort(init[g])[rank[s, g, j]] bit for bit, where sort is
ascending IEEE 754 totalOrder on the float bits."""
import numpy as np


def order_key(bits):
    """uint32 keys whose unsigned order is the float totalOrder of the uint32 `bits`:
    b ^ (0xFFFFFFFF if b >> 31 else 0x80000000), so -0.0 < +0.0 and NaNs sort to the ends."""
    neg = (bits >> np.uint32(31)).astype(bool)
    return np.where(neg, ~bits, bits | np.uint32(0x80000000)).astype(np.uint32)


def sorted_groups(init, groups, size):
    """uint32 bits (groups, size) of each group of `init` sorted in totalOrder. The sorted
    group is unique under this order however ties were broken; a stable sort keeps it
    independent of numpy's choice of algorithm anyway."""
    bits = np.ascontiguousarray(init, dtype=np.float32).reshape(groups, size).view(np.uint32)
    order = np.argsort(order_key(bits), axis=1, kind="stable")
    return np.take_along_axis(bits, order, axis=1)


def apply(sorted_bits, rank):
    """uint32 bits (groups, size): sorted_bits[g][rank[g, j]]."""
    return np.take_along_axis(sorted_bits, np.asarray(rank).astype(np.int64), axis=1)


def bad_rows(rank):
    """Indices of the rows of `rank` (groups, size) that are not permutations of 0..size-1."""
    rank = np.asarray(rank)
    expect = np.arange(rank.shape[1], dtype=rank.dtype)
    return np.nonzero(np.any(np.sort(rank, axis=1) != expect, axis=1))[0]


def rebuild(init, rank):
    """float32 weights of the shape of `init` from its (groups, size) ranking."""
    rank = np.asarray(rank)
    bits = apply(sorted_groups(init, *rank.shape), rank)
    return bits.view(np.float32).reshape(np.shape(init))
