"""Checks the LaPerm invariant of laperm results files, with h5py and numpy only.

For every /rankings/<layer>/<tensor> and every snapshot s: each group of rank[s] is a
permutation of 0..group_size-1, so weights = sort(init[g])[rank[s, g, j]] is a
permutation of the initial values; the last snapshot rebuilds /weights/<layer>/<tensor>
exactly (compared as uint32 bits, so -0.0 vs +0.0 or a NaN payload counts); and each
group of /weights sorts back to sort(init[g]) bit for bit. Masked or few-valued initial
weights are noted on the tensor's line: "(init: 42.9% zeros, 2 distinct values)".
"sort" is ascending IEEE 754 totalOrder: bits b -> b ^ (0xFFFFFFFF if b>>31 else 0x80000000).

Usage: python3 -m laperm check FILE.h5 [FILE.h5 ...]   (or scripts/check-invariant FILE.h5 ...)
Prints one line per tensor; exits 0 if all hold, 1 on any mismatch, 2 if a file cannot
be read. A .part file of a running job is opened with SWMR; it has no /weights yet, so
only the snapshots are checked (after a kill, `h5clear -s FILE.h5.part` may be needed).
"""
import h5py
import numpy as np

from .errors import LapermError
from .ranking import apply, bad_rows, order_key, sorted_groups
from .results import datasets_under, open_h5


def check_tensor(f, name, n_steps):
    """Returns (ok, message) for /rankings/<name>."""
    ranks = f["rankings/" + name]
    if ranks.dtype != np.int32 or ranks.ndim != 3:
        return False, "rankings are %s %s, expected int32 (snapshots, groups, group_size)" % (
            ranks.dtype, ranks.shape)
    n, groups, size = ranks.shape
    init = f["init/" + name][...]
    if init.dtype != np.float32 or init.size != groups * size:
        return False, "init is %s %s, expected float32 with %d x %d values" % (
            init.dtype, init.shape, groups, size)
    bits = init.reshape(groups, size).view(np.uint32)
    sorted_bits = sorted_groups(init, groups, size)
    if n == 0:
        return False, "no snapshot: the final state was never recorded"
    if n_steps is not None and n_steps < n:
        return False, "%d snapshots but only %d entries in /snapshot_step" % (n, n_steps)
    for s in range(n):
        rank = ranks[s]
        bad = bad_rows(rank)
        if bad.size:
            return False, "snapshot %d group %d is not a permutation of 0..%d" % (
                s, bad[0], size - 1)
        rebuilt = apply(sorted_bits, rank)
        # Redundant for a permutation, but this is the formula itself: the rebuilt group
        # sorts back to sort(init[g]) bit for bit.
        resorted = np.sort(order_key(rebuilt), axis=1)
        if not np.array_equal(resorted, np.sort(order_key(bits), axis=1)):
            return False, "snapshot %d does not rebuild a permutation of init" % s
    if "weights/" + name not in f:
        return True, "%d groups x %d, %d snapshots, OK (no /weights: unfinished run)" % (
            groups, size, n)
    weights = f["weights/" + name][...]
    if weights.dtype != np.float32 or weights.size != groups * size:
        return False, "weights are %s %s, expected float32 with %d x %d values" % (
            weights.dtype, weights.shape, groups, size)
    wbits = weights.reshape(groups, size).view(np.uint32)
    diff = np.argwhere(rebuilt != wbits)
    if diff.size:
        g, j = diff[0]
        return False, ("last snapshot gives 0x%08x at group %d element %d, /weights holds "
                       "0x%08x (%d elements differ)" % (rebuilt[g, j], g, j, wbits[g, j],
                                                        len(diff)))
    # The invariant itself, without the rankings: each group of /weights sorts back to
    # sort(init[g]) bit for bit (masked zeros and repeated values included).
    bad = np.nonzero(np.any(np.sort(order_key(wbits), axis=1) !=
                            np.sort(order_key(bits), axis=1), axis=1))[0]
    if bad.size:
        return False, "/weights group %d does not sort back to sort(init[%d])" % (bad[0], bad[0])
    return True, "%d groups x %d, %d snapshots, OK%s" % (groups, size, n, init_note(bits))


def init_note(bits):
    """' (init: 42.9% zeros, 2 distinct values)' for masked or few-valued initial weights
    (sparse, weight-agnostic, binary, quantised), else ''."""
    zeros = np.count_nonzero((bits & np.uint32(0x7FFFFFFF)) == 0)
    distinct = np.unique(bits).size
    if zeros == 0 and distinct > 16:
        return ""
    return " (init: %.1f%% zeros, %d distinct value%s)" % (
        100.0 * zeros / bits.size, distinct, "" if distinct == 1 else "s")


def check_file(path):
    """Returns 0 (all OK), 1 (mismatch) or 2 (unreadable)."""
    try:
        f = open_h5(path)
    except LapermError as e:
        print(e)
        return 2
    with f:
        try:
            return _check_open(f, path)
        except (OSError, KeyError, ValueError) as e:  # a damaged file: HDF5's own words
            print("%s: cannot read: %s" % (path, e))
            return 2


def _check_open(f, path):
    """check_file on the open file `f`."""
    if "model_text" not in f:
        print("%s: no /model_text: not a laperm results file" % path)
        return 2
    names = datasets_under(f, "rankings")
    permuted = []
    if "init" in f:
        f["init"].visititems(lambda n, obj: permuted.append(n) if isinstance(
            obj, h5py.Dataset) and int(obj.attrs.get("permuted", 0)) else None)
    n_steps = len(f["snapshot_step"]) if "snapshot_step" in f else None
    status = 0
    for name in sorted(set(permuted) - set(names)):
        print("%s: %s: MISMATCH: permuted in /init but has no /rankings" % (path, name))
        status = 1
    for name in sorted(names):
        ok, msg = check_tensor(f, name, n_steps)
        print("%s: %s: %s%s" % (path, name, "" if ok else "MISMATCH: ", msg))
        status = max(status, 0 if ok else 1)
    if not names and not permuted:
        print("%s: no permuted tensors" % path)
    return status


def main(argv):
    """check-invariant's command line: argv[0] is the program, the rest are files."""
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 2 if len(argv) < 2 else 0
    return max(check_file(p) for p in argv[1:])


def check_main(argv):
    """`python3 -m laperm check FILE...`: main() without the program name."""
    return main(["check"] + list(argv))
