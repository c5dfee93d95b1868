#!/bin/sh
# ctest eval: laperm eval, predict and export end to end on two short runs (LeNet-300-100
# and models/fmnist-bn.ini: conv, BatchNorm, pooling, dropout, dense) on MNIST subsets:
# eval of the last and a middle snapshot gives the test accuracy the file records there;
# a snapshot rebuilt in C (export --snapshot -1) equals /weights bit for bit, BatchNorm
# statistics included; a .lpk of the run reads back the same; Keras export then import
# gives the same bits, and evaluating the Keras file gives the same logits; predict on /x
# gives eval's logits; a mismatched model names the layer and both shapes; a damaged
# file is a clear error. Environment
# (set by ctest): LAPERM_SOURCE_DIR, LAPERM_BINARY; LAPERM_DATA_DIR overrides data/mnist.
# Exit 77 (skipped) when /usr/bin/python3 has no h5py.
set -eu
src=${LAPERM_SOURCE_DIR:-$(pwd)}
bin=${LAPERM_BINARY:-$src/build/laperm}
data=${LAPERM_DATA_DIR:-$src/data/mnist}
py=/usr/bin/python3

if ! $py -c 'import h5py, numpy' 2>/dev/null; then
    echo "eval: /usr/bin/python3 has no h5py/numpy: skipped"
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/eval-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() {
    echo "eval: FAILED: $*"
    exit 1
}

# The accuracy eval prints must be the recorded one ("(equal)").
check_equal() { # FILE [flags...]
    out=$("$bin" eval --weights "$@" --data "$data") || fail "eval $*"
    echo "$out"
    echo "$out" | grep -q '^recorded test accuracy at epoch [0-9]*: .* (equal)$' ||
        fail "eval $* does not give the recorded accuracy"
}

for model in lenet300 fmnist-bn; do
    run=$tmp/$model.h5
    "$bin" train --model "$src/models/$model.ini" --data "$data" --epochs 3 \
        --train-subset 1000 --test-subset 300 --batch 100 --eval-batch 128 --out "$run" \
        --progress none >/dev/null
    check_equal "$run"
    check_equal "$run" --epoch 2
    check_equal "$run" --snapshot 0

    # the last snapshot, rebuilt in C from /init + /rankings + /values + /state, is /weights
    "$bin" export --format npz "$run" -o "$tmp/final.npz" >/dev/null
    "$bin" export --format npz "$run" --snapshot -1 -o "$tmp/last.npz" >/dev/null
    cmp "$tmp/final.npz" "$tmp/last.npz" || fail "$model: snapshot -1 rebuilt in C differs from /weights"

    # a .lpk of it reads as the same network
    "$bin" pack "$run" -o "$tmp/n.lpk" >/dev/null
    "$bin" export --format npz "$tmp/n.lpk" -o "$tmp/lpk.npz" >/dev/null
    cmp "$tmp/final.npz" "$tmp/lpk.npz" || fail "$model: the .lpk's network differs from /weights"
    # ... and keeps the run's data settings (here: the first 300 test images): the
    # .lpk and its unpacked file evaluate as the results file does, with no flags
    "$bin" unpack "$tmp/n.lpk" -o "$tmp/unpacked.h5" >/dev/null
    want=$("$bin" eval --weights "$run" | grep '^test loss') || fail "$model: eval"
    for w in "$tmp/n.lpk" "$tmp/unpacked.h5"; do
        got=$("$bin" eval --weights "$w" | grep '^test loss') || fail "$model: eval $w"
        [ "$got" = "$want" ] || fail "$model: eval $w gives '$got', the run '$want'"
    done

    # /init: the initial values, BatchNorm statistics as a new network has them
    "$bin" export --format npz "$run" --init -o "$tmp/init.npz" >/dev/null
    $py - "$tmp/init.npz" "$run" <<'PY' || fail "$model: export --init"
import sys, h5py, numpy as np
z, f = np.load(sys.argv[1]), h5py.File(sys.argv[2], "r")
for k in z:
    layer, name = k.rsplit(".", 1)
    if name in ("running_mean", "running_var"):
        assert (z[k] == (1.0 if name == "running_var" else 0.0)).all(), k
    else:
        t = f["init"][layer]["kernel" if "kernel" in f["init"][layer] else "gamma"] \
            if name == "weight" else \
            f["init"][layer]["bias" if "bias" in f["init"][layer] else "beta"]
        assert (t[...].view(np.uint32) == z[k].view(np.uint32)).all(), k
print("export --init: /init, running statistics 0 and 1")
PY

    # Keras out and back in: the same bits; and the same logits from either file
    "$bin" export --format keras "$run" -o "$tmp/k-$model.h5" >/dev/null
    "$bin" export --format npz --weights "$tmp/k-$model.h5" -o "$tmp/back.npz" >/dev/null
    cmp "$tmp/final.npz" "$tmp/back.npz" || fail "$model: Keras export then import differs"
    "$bin" eval --weights "$run" --data "$data" --out "$tmp/p1.h5" >/dev/null
    "$bin" eval --weights "$tmp/k-$model.h5" --model "$src/models/$model.ini" --data "$data" \
        --test-subset 300 --eval-batch 128 --out "$tmp/p2.h5" >/dev/null
    $py - "$tmp/p1.h5" "$tmp/p2.h5" "$run" <<'PY' || fail "$model: predictions files differ"
import sys, h5py, numpy as np
a, b, r = (h5py.File(p, "r") for p in sys.argv[1:])
assert (a["logits"][...].view(np.uint32) == b["logits"][...].view(np.uint32)).all(), "logits"
assert (a["predicted"][...] == a["logits"][...].argmax(1)).all(), "predicted"
c = a["confusion"][...]
assert c.sum() == 300 and c.trace() == round(a.attrs["accuracy"] * 300), "confusion"
assert a.attrs["accuracy"] == r["metrics/test_accuracy"][-1], "accuracy attribute"
print("logits equal, confusion matrix and accuracy agree")
PY
done

# predict: /x (uint8, as the image formats) gives eval's logits for the same images
$py - "$tmp/p1.h5" "$tmp/x.h5" "$data" <<'PY'
import gzip, os, sys, h5py, numpy as np
d = sys.argv[3]
name = os.path.join(d, "t10k-images-idx3-ubyte")
raw = open(name, "rb").read() if os.path.exists(name) else gzip.open(name + ".gz").read()
x = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 1, 28, 28)[:40]
with h5py.File(sys.argv[2], "w") as f:
    f["x"] = x
PY
"$bin" predict --weights "$tmp/fmnist-bn.h5" --data "$tmp/x.h5" --out "$tmp/p3.h5"
$py - "$tmp/p1.h5" "$tmp/p3.h5" <<'PY' || fail "predict differs from eval"
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:])
assert (a["logits"][:40].view(np.uint32) == b["logits"][...].view(np.uint32)).all()
assert "labels" not in b and (b["predicted"][...] == a["predicted"][:40]).all()
print("predict: the same 40 logits as eval")
PY

# a model that does not fit names the layer and both shapes
sed 's/units = 300/units = 200/' "$src/models/lenet300.ini" >"$tmp/other.ini"
if "$bin" eval --weights "$tmp/lenet300.h5" --model "$tmp/other.ini" --data "$data" 2>"$tmp/err"; then
    fail "a mismatched model was accepted"
fi
cat "$tmp/err"
grep -q "lenet300.h5: layer 'dense_1' kernel is 300x784 there but 200x784 in the model" "$tmp/err" ||
    fail "the mismatch message does not name the layer and both shapes"
if "$bin" eval --weights "$tmp/k-lenet300.h5" --model "$tmp/other.ini" --data "$data" 2>"$tmp/err"; then
    fail "a mismatched model was accepted (Keras)"
fi
cat "$tmp/err"
grep -q "Keras layer 'dense' kernel is 784x300, but layer 'dense_1' kernel is 200x784" "$tmp/err" ||
    fail "the Keras mismatch message does not name both layers and both shapes"

# a damaged file: a clear error, exit 1
head -c 3000 "$tmp/lenet300.h5" >"$tmp/cut.h5"
status=0
"$bin" eval --weights "$tmp/cut.h5" --data "$data" 2>"$tmp/err" || status=$?
cat "$tmp/err"
[ "$status" -eq 1 ] || fail "a damaged file: exit $status, expected 1"
grep -q "cut.h5" "$tmp/err" || fail "a damaged file: the message does not name it"
echo "eval: OK"
