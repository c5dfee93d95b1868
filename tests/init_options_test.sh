#!/bin/sh
# ctest init_options: the initial-value options end to end through the laperm program.
#  1. A model with a masked, quantised conv kernel, a masked ternary dense kernel and a
#     masked weight-agnostic one trains 2 LaPerm steps (a sync after each) on the default
#     device and inside Oclgrind: /init is bit-identical in both files, and
#     scripts/check-invariant holds in both (masked zeros and repeated values included).
#  2. The command-line overrides (--init choice --init-values --quantize --keep): the
#     first permuted kernel keeps max(P, 0.8), the others P; the flags are recorded.
#  3. --init-from: /init equals the source's /weights; with --init-from-shuffle each group
#     is a permutation of it; both recorded with the same hash.
#  4. --resume refuses a run with other init flags, and a run with them killed at random
#     moments resumes to the same bits (scripts/kill-resume).
# Environment (set by ctest): LAPERM_SOURCE_DIR, LAPERM_BINARY, LAPERM_OCLGRIND_VENDORS
# (empty: no Oclgrind, that part is skipped); LAPERM_DATA_DIR overrides data/mnist.
# Exit 77 (skipped) when /usr/bin/python3 has no h5py.
set -eu
test_name=init_options
. "${LAPERM_SOURCE_DIR:-$(pwd)}/tests/support/mnist_test_prelude.sh"
cat >"$tmp/model.ini" <<'INI'
[input]
channels = 1
height = 28
width = 28
[conv2d]
filters = 4
kernel = 5
stride = 3
activation = relu
keep = 0.3
quantize = 4
[flatten]
[dense]
units = 16
activation = relu
init = choice
init_values = -0.05, 0, 0.05
keep = 0.5
[dense]
units = 10
bias = false
init = constant
init_value = 0.05
keep = 0.5
INI
small="--data $data --epochs 1 --max-steps 2 --k 1 --batch 8 --eval-batch 8 --train-subset 16 --test-subset 8 --progress none --perm-bias"

# 1. the default device and Oclgrind
"$bin" train --model "$tmp/model.ini" $small --out "$tmp/dev.h5" >"$tmp/log" 2>&1 ||
    { cat "$tmp/log"; fail "training on the default device failed"; }
$py "$src/scripts/check-invariant" "$tmp/dev.h5" || fail "check-invariant failed (default device)"
if [ -n "$vendors" ]; then
    OCL_ICD_VENDORS=$vendors OCL_ICD_FILENAMES= LAPERM_CACHE=off LAPERM_GEMM=clblast \
        "$bin" train --model "$tmp/model.ini" $small --device oclgrind --out "$tmp/grind.h5" \
        >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "training inside Oclgrind failed"; }
    if grep -Eq "Oclgrind - |Invalid (read|write)|[Dd]ata race" "$tmp/log"; then
        cat "$tmp/log"; fail "Oclgrind reported an error"
    fi
    $py "$src/scripts/check-invariant" "$tmp/grind.h5" || fail "check-invariant failed (Oclgrind)"
    $py - "$tmp/dev.h5" "$tmp/grind.h5" <<'PY' || fail "/init differs between the devices"
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
names = []
a["init"].visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
assert a.attrs["device"] != b.attrs["device"], "the same device twice"
for n in names:
    x, y = a["init/" + n][...].view(np.uint32), b["init/" + n][...].view(np.uint32)
    assert np.array_equal(x, y), n
print("init_options: /init bit-identical on %s and %s (%d tensors)" % (
    a.attrs["device"], b.attrs["device"], len(names)))
PY
else
    echo "init_options: no Oclgrind: the cross-device comparison is skipped"
fi
$py - "$tmp/dev.h5" <<'PY' || fail "the model file's keys gave the wrong initial values"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
conv, d1, d2 = (f["init/%s/kernel" % n][...] for n in ("conv2d_1", "dense_1", "dense_2"))
for w in (conv, d1, d2):
    assert not np.any(w.view(np.uint32) == 0x80000000), "a -0.0"
lim = np.float32(np.sqrt(6.0 / 25))
levels = set(np.float32([-lim, -lim / 3, lim / 3, lim]).tolist()) | {0.0}
assert set(np.unique(conv).tolist()) <= levels, np.unique(conv)
assert set(np.unique(d1).tolist()) == {np.float32(-0.05), 0.0, np.float32(0.05)}
assert set(np.unique(d2).tolist()) == {0.0, np.float32(0.05)}
assert abs((d2 != 0).mean() - 0.5) < 0.1 and abs((conv != 0).mean() - 0.3) < 0.15
PY

# 2. command-line overrides on every permuted kernel
"$bin" train --model "$tmp/model.ini" $small --out "$tmp/cli.h5" --init choice \
    --init-values "-1,1" --quantize 3 --keep 0.25 >"$tmp/log" 2>&1 ||
    { cat "$tmp/log"; fail "training with the overrides failed"; }
$py - "$tmp/cli.h5" <<'PY' || fail "the overrides gave the wrong initial values or attributes"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
kept = []
for n in ("conv2d_1", "dense_1", "dense_2"):
    w = f["init/%s/kernel" % n][...]
    assert set(np.unique(w).tolist()) <= {-1.0, 0.0, 1.0}, (n, np.unique(w))
    kept.append((w != 0).mean())
# first kernel: max(0.25, 0.8); conv2d_1 has 100 values, dense_1 1024, dense_2 160
assert abs(kept[0] - 0.8) < 0.2 and abs(kept[1] - 0.25) < 0.07 and abs(kept[2] - 0.25) < 0.17, kept
a = f.attrs
assert (a["init"], a["init_values"], a["quantize"], a["keep"], a["keep_first"]) == (
    "choice", "-1,1", 3, 0.25, 0.0), dict(a)
PY

# 3. --init-from and --init-from-shuffle
"$bin" train --model "$tmp/model.ini" $small --out "$tmp/from.h5" --init-from "$tmp/dev.h5" \
    >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "--init-from failed"; }
"$bin" train --model "$tmp/model.ini" $small --out "$tmp/shuf.h5" --init-from "$tmp/dev.h5" \
    --init-from-shuffle >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "--init-from-shuffle failed"; }
$py "$src/scripts/check-invariant" "$tmp/from.h5" "$tmp/shuf.h5" >/dev/null ||
    fail "check-invariant failed after --init-from"
$py - "$tmp/dev.h5" "$tmp/from.h5" "$tmp/shuf.h5" <<'PY' || fail "--init-from gave the wrong values"
import sys, h5py, numpy as np
src, plain, shuf = (h5py.File(p, "r") for p in sys.argv[1:])
names = []
src["weights"].visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
moved = 0
for n in names:
    w = src["weights/" + n][...]
    w = np.where(w == 0, np.float32(0), w)  # -0.0 loaded as +0.0
    assert np.array_equal(plain["init/" + n][...].view(np.uint32), w.view(np.uint32)), n
    s = shuf["init/" + n][...]
    g = int(shuf["init/" + n].attrs["groups"]) or 1
    assert np.array_equal(np.sort(s.reshape(g, -1), axis=1), np.sort(w.reshape(g, -1), axis=1)), n
    moved += not np.array_equal(s, w)
assert moved >= 3, moved
for f in (plain, shuf):
    assert f.attrs["init_from"] == sys.argv[1] and len(f.attrs["init_from_hash"]) == 16
assert plain.attrs["init_from_hash"] == shuf.attrs["init_from_hash"]
assert (plain.attrs["init_from_shuffle"], shuf.attrs["init_from_shuffle"]) == (0, 1)
PY
sed 's/units = 16/units = 17/' "$tmp/model.ini" >"$tmp/other.ini"
if "$bin" train --model "$tmp/other.ini" $small --no-out --init-from "$tmp/dev.h5" >"$tmp/log" 2>&1 ||
    ! grep -q "layer 'dense_1' kernel is 16x256 there but 17x256 in this model" "$tmp/log"; then
    cat "$tmp/log"; fail "--init-from accepted another shape, or said it unclearly"
fi
if "$bin" train --model "$tmp/model.ini" $small --no-out --init-from "$tmp/none.h5" >"$tmp/log" 2>&1 ||
    ! grep -q -- "--init-from $tmp/none.h5: no such file" "$tmp/log"; then
    cat "$tmp/log"; fail "--init-from accepted a missing file, or said it unclearly"
fi

# 4. resume: other init flags refused; killed runs resume to the same bits
flags="--model $tmp/model.ini --data $data --epochs 3 --k 3 --batch 4 --train-subset 8000 --test-subset 16 --checkpoint-every 2 --init he_normal --keep 0.4 --quantize 5 --progress none"
"$bin" train $flags --out "$tmp/r.h5" >/dev/null 2>&1 || fail "the run to resume failed"
mv "$tmp/r.h5" "$tmp/r.h5.part"
if "$bin" train $flags --keep 0.5 --resume "$tmp/r.h5.part" >"$tmp/log" 2>&1 ||
    ! grep -q "'keep' was 0.4" "$tmp/log"; then
    cat "$tmp/log"; fail "--resume with another --keep was not refused by name"
fi
(cd "$src" && scripts/kill-resume --kills 2 --in-epoch 2 --laperm "$bin" --dir "$tmp/kr" -- $flags) ||
    fail "a killed run did not resume to the same bits"
echo "init_options: OK"
