#!/bin/sh
# ctest lpk: `laperm pack` and `laperm unpack` end to end on short MNIST runs: LeNet-300-100
# (the final network, a middle epoch, a snapshot by index, --best), a conv + BatchNorm model, a
# --keep 0.3 --keep-first 0.3 --perm-bias run, a plain Adam run (nothing permuted: all
# float32), a --init-from --init-from-shuffle run and a copy with an edited /init (initial
# values stored); each unpacked /weights is compared with the results file's network as
# uint32 bits (numpy). A cut or damaged .lpk is refused with exit 1 and a message naming
# the offset. Environment (set by ctest):
# LAPERM_SOURCE_DIR, LAPERM_BINARY; LAPERM_DATA_DIR overrides data/mnist. Exit 77
# (skipped) when /usr/bin/python3 has no h5py.
set -eu
test_name=lpk
. "${LAPERM_SOURCE_DIR:-$(pwd)}/tests/support/mnist_test_prelude.sh"

# The network of results file $1 (snapshot $2, "" for /weights, "best" for /best) and the unpacked $3's
# /weights: the same tensors, shapes and bits.
cat >"$tmp/same.py" <<'PY'
import sys, h5py, numpy as np
res, snap, unpacked = sys.argv[1], sys.argv[2], sys.argv[3]
f, u = h5py.File(res, "r"), h5py.File(unpacked, "r")
def tensors(g):
    return {l + "/" + t: g[l][t][...] for l in g for t in g[l]}
def key(b):
    return np.where(b >> 31 == 1, ~b, b | np.uint32(0x80000000))
if snap in ("", "best"):
    want = tensors(f["weights" if snap == "" else "best"])
else:
    s = int(snap)
    want = {}
    for name in tensors(f["values"]) if "values" in f else {}:
        want[name] = f["values/" + name][s]
    for name in tensors(f["state"]) if "state" in f else {}:
        want[name] = f["state/" + name][s]
    for name in tensors(f["rankings"]) if "rankings" in f else {}:
        rank = f["rankings/" + name][s]
        bits = f["init/" + name][...].reshape(rank.shape).view(np.uint32)
        srt = np.take_along_axis(bits, np.argsort(key(bits), axis=1, kind="stable"), axis=1)
        w = np.take_along_axis(srt, rank.astype(np.int64), axis=1).view(np.float32)
        want[name] = w.reshape(f["init/" + name].shape)
got = tensors(u["weights"])
assert sorted(want) == sorted(got), (sorted(want), sorted(got))
for k in want:
    a, b = np.asarray(want[k], np.float32), got[k]
    assert a.shape == b.shape and b.dtype == np.float32, k
    assert (a.view(np.uint32) == b.view(np.uint32)).all(), k + " differs"
assert int(u.attrs["seed"]) == int(f.attrs["seed"])
assert u["model_text"].asstr()[()] == f["model_text"].asstr()[()]
print("  %s %s: %d tensors bit-identical" % (res.split("/")[-1], snap or "/weights", len(want)))
PY

train() { # name, flags...
    name=$1
    shift
    "$bin" train --data "$data" --train-subset 1000 --test-subset 200 --progress none \
        --out "$tmp/$name.h5" "$@" >"$tmp/$name.train.log" 2>&1 ||
        { cat "$tmp/$name.train.log"; exit 1; }
}

check() { # name, snapshot ("" for /weights), pack flags...
    name=$1 snap=$2
    shift 2
    "$bin" pack "$tmp/$name.h5" "$@" -o "$tmp/$name.lpk" >"$tmp/$name.pack.txt"
    cat "$tmp/$name.pack.txt"
    "$bin" unpack "$tmp/$name.lpk" -o "$tmp/$name.out.h5" >/dev/null
    /usr/bin/python3 "$tmp/same.py" "$tmp/$name.h5" "$snap" "$tmp/$name.out.h5"
}

train lenet --model "$src/models/lenet300.ini" --epochs 2
check lenet ""
ratio=$(sed -n 's/^\.lpk .*(\([0-9.]*\)x of fp32)$/\1/p' "$tmp/lenet.pack.txt")
/usr/bin/python3 -c "import sys; sys.exit(0 if float('$ratio') <= 0.33 else 1)" ||
    { echo "lpk: LeNet-300-100 packs to ${ratio}x of float32, expected <= 0.33x"; exit 1; }
check lenet 0 --epoch 1
check lenet 1 --snapshot -1

train bn --model "$src/models/fmnist-bn.ini" --epochs 1 --train-subset 256
check bn ""

# --best: /best, here an evaluation before the last step (so not /weights' network)
train best --model "$src/models/lenet300.ini" --epochs 3 --batch 100 --k 5 --lr 0.01 \
    --eval-every 3 --save-best
/usr/bin/python3 -c "import h5py, sys; f = h5py.File('$tmp/best.h5', 'r'); \
sys.exit(0 if f.attrs['best_step'] < f['snapshot_step'][-1] else 1)" ||
    { echo "lpk: the --save-best run's best is its last step: the --best case tests nothing"; exit 1; }
check best best --best
grep -q '^packed /best (epoch [0-9]*, step [0-9]*)' "$tmp/best.pack.txt"

# A mask's zeros: the multiset code takes far less than log2(n!).
train keep --model "$src/models/lenet300.ini" --epochs 1 --keep 0.3 --keep-first 0.3 --perm-bias
check keep ""
/usr/bin/python3 - "$tmp/keep.pack.txt" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
coded = int(re.search(r"permutations +(\d+) bytes", t).group(1))
bound = float(re.search(r"bound +(\d+) bytes", t).group(1))
ties = float(re.search(r"bound, ties +(\d+) bytes", t).group(1))
assert coded <= ties + 64 and ties < 0.7 * bound, (coded, ties, bound)
PY

train adam --model "$src/models/lenet300.ini" --epochs 1 --optimizer adam
check adam ""
grep -q 'note: nothing is permuted (optimizer adam): every tensor is stored as float32' "$tmp/adam.pack.txt"

train from --model "$src/models/lenet300.ini" --epochs 1 --init-from "$tmp/lenet.h5" \
    --init-from-shuffle
check from ""
grep -q "note: the run started from .*lenet.h5's weights (--init-from): its initial values are stored raw" \
    "$tmp/from.pack.txt"

# A file whose /init is not what this laperm regenerates (an edited copy: one initial
# value changed, and the weight holding it with it): the initial values are stored.
cp "$tmp/lenet.h5" "$tmp/edited.h5"
/usr/bin/python3 - "$tmp/edited.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r+")
init, w = f["init/dense_2/kernel"], f["weights/dense_2/kernel"]
old = init[0, 0]
j = int(np.flatnonzero(w[0].view(np.uint32) == old.view(np.uint32))[0])
row = w[0]
row[j] = np.float32(0.0123)
w[0] = row
row = init[0]
row[0] = np.float32(0.0123)
init[0] = row
PY
check edited ""
grep -q "note: the initial values regenerated from the seed differ from the file's /init (first at dense_2/kernel element 0): stored raw" \
    "$tmp/edited.pack.txt"

# Cut and damaged files: exit 1, the message names what is wrong and where.
refuse() { # file, expected message part
    if "$bin" unpack "$1" -o "$tmp/bad.h5" >"$tmp/bad.txt" 2>&1; then
        echo "lpk: unpack accepted $1"
        exit 1
    fi
    grep -q "$2" "$tmp/bad.txt" || { cat "$tmp/bad.txt"; echo "lpk: expected '$2'"; exit 1; }
    [ ! -e "$tmp/bad.h5" ] && [ ! -e "$tmp/bad.h5.part" ]
    cat "$tmp/bad.txt"
}
size=$(wc -c <"$tmp/lenet.lpk")
head -c $((size - 1000)) "$tmp/lenet.lpk" >"$tmp/cut.lpk"
refuse "$tmp/cut.lpk" "offset 16: the header says $size bytes but the file has $((size - 1000)) (truncated)"
cp "$tmp/lenet.lpk" "$tmp/flip.lpk"
printf '\377' | dd of="$tmp/flip.lpk" bs=1 seek=5000 conv=notrunc 2>/dev/null
refuse "$tmp/flip.lpk" "checksum mismatch"
refuse "$tmp/lenet.h5" "not a .lpk file"
# An output that is the input itself is refused before anything is written.
same() { # command, input, expected message part
    cp "$tmp/$2" "$tmp/same.in"
    if "$bin" "$1" "$tmp/same.in" -o "$tmp/./same.in" >"$tmp/bad.txt" 2>&1; then
        echo "lpk: $1 wrote over its input"
        exit 1
    fi
    grep -q "$3" "$tmp/bad.txt" || { cat "$tmp/bad.txt"; echo "lpk: expected '$3'"; exit 1; }
    cmp -s "$tmp/$2" "$tmp/same.in" || { echo "lpk: $1 changed its input"; exit 1; }
}
same pack lenet.h5 "the .lpk to write is the results file itself"
same unpack lenet.lpk "the HDF5 file to write is the .lpk itself"
echo "lpk: OK"
