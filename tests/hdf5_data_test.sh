#!/bin/sh
# ctest hdf5_data: scripts/make-hdf5-data's classification and regression files train
# (a few epochs each, the training loss falling: the regression one with LaPerm and with
# Adam), and malformed files (a missing dataset, wrong shapes, NaN in x, negative labels,
# an empty split, a non-HDF5 file, a loss that does not fit the data, a model whose input
# or output does not match) are refused with a non-zero exit and the dataset named.
# Environment (set by ctest): LAPERM_SOURCE_DIR, LAPERM_BINARY. Exit 77 (skipped) when
# /usr/bin/python3 has no h5py.
set -eu
src=${LAPERM_SOURCE_DIR:-$(pwd)}
bin=${LAPERM_BINARY:-$src/build/laperm}
py=/usr/bin/python3
if ! $py -c 'import h5py, numpy' 2>/dev/null; then
    echo "hdf5_data: /usr/bin/python3 has no h5py/numpy: skipped"
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hdf5-data.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
$py "$src/scripts/make-hdf5-data" "$tmp" --train 2000 --test 500

fail() {
    echo "hdf5_data: $*"
    exit 1
}

# The first and last epoch's train loss (the MSE or the cross-entropy) from the epoch lines.
falls() { # name, then laperm train's arguments
    name=$1
    shift
    "$bin" train --dataset hdf5 --progress plain --no-out "$@" >"$tmp/$name.txt" 2>&1 ||
        { cat "$tmp/$name.txt"; fail "$name: laperm train failed"; }
    cat "$tmp/$name.txt"
    $py - "$tmp/$name.txt" <<'PY' || fail "$name: the training loss did not fall"
import re, sys
losses = [float(m.group(2)) for m in
          (re.search(r"train (loss|mse) ([0-9.e+-]+)", l) for l in open(sys.argv[1])) if m]
print("train losses:", losses)
sys.exit(0 if len(losses) >= 2 and losses[-1] < 0.8 * losses[0] else 1)
PY
}

falls classify --data "$tmp/classify.h5" --model "$src/models/blobs.ini" --optimizer adam \
    --epochs 3
grep -q "test loss .* acc" "$tmp/classify.txt" || fail "classification prints no accuracy"
falls regress-laperm --data "$tmp/regress.h5" --model "$src/models/regression.ini" \
    --loss mse --optimizer laperm --k 20 --epochs 4
falls regress-adam --data "$tmp/regress.h5" --model "$src/models/regression.ini" \
    --optimizer adam --epochs 4
grep -q "test mse .* mae" "$tmp/regress-adam.txt" || fail "regression prints no MSE/MAE"

# The results file: MAE columns for regression (also in /evals), NaN accuracies, the loss
# recorded, the best evaluation the one of the lowest test loss.
"$bin" train --dataset hdf5 --data "$tmp/regress.h5" --model "$src/models/regression.ini" \
    --optimizer adam --epochs 2 --eval-every 5 --progress none --out "$tmp/run.h5" >/dev/null
$py - "$tmp/run.h5" <<'PY' || fail "results file"
import math, sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    m = f["metrics"]
    assert f.attrs["loss"] in ("mse", b"mse"), f.attrs["loss"]
    assert f.attrs["dataset"] in ("hdf5", b"hdf5")
    assert all(math.isnan(v) for v in m["test_accuracy"][:]), "accuracy should be NaN"
    assert all(v > 0 for v in m["train_mae"][:]) and all(v > 0 for v in m["test_mae"][:])
    assert m["test_loss"][-1] < m["test_loss"][0] * 1.5
    e = f["evals"]
    assert len(e["step"]) == 6 and all(math.isnan(v) for v in e["test_accuracy"][:])
    assert all(v > 0 for v in e["test_mae"][:])
    losses = list(e["test_loss"][:]) + list(m["test_loss"][:])
    assert math.isnan(f.attrs["best_test_accuracy"])
    assert f.attrs["best_test_loss"] == min(losses), (f.attrs["best_test_loss"], losses)
print("results file: loss mse, train_mae/test_mae set (and in /evals), accuracies NaN, "
      "best = lowest test loss")
PY

# Malformed files: each refused, naming the dataset (or the problem) in the message.
$py - "$tmp" <<'PY'
import os, sys, h5py, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(3)
def w(name, tr_x, tr_y, te_x, te_y, drop=None):
    with h5py.File(os.path.join(d, name), "w") as f:
        for k, v in (("train/x", tr_x), ("train/y", tr_y), ("test/x", te_x), ("test/y", te_y)):
            if k != drop:
                f[k] = v
x = rng.normal(size=(50, 8)).astype(np.float32)
y = rng.integers(0, 4, size=50)
t = rng.normal(size=(50, 1)).astype(np.float32)
w("missing.h5", x, y, x, y, drop="test/y")
w("rank.h5", x[:, :, None], y, x, y)
w("nrows.h5", x, y[:40], x, y)
w("features.h5", x, y, x[:, :6], y)
xn = x.copy(); xn[7, 3] = np.nan
w("nan.h5", xn, y, x, y)
tn = t.copy(); tn[5, 0] = np.inf
w("inf_y.h5", x, t, x, tn)
w("negative.h5", x, y, x, -y - 1)
w("empty.h5", x, y, x[:0], y[:0])
w("model.h5", x[:, :5], t, x[:, :5], t)
open(os.path.join(d, "text.h5"), "w").write("not hdf5\n")
PY
refused() { # file, model, expected text, extra flags
    f=$1 model=$2 want=$3
    shift 3
    if "$bin" train --dataset hdf5 --data "$tmp/$f" --model "$src/models/$model" --no-out \
        --progress none "$@" >"$tmp/out.txt" 2>&1; then
        cat "$tmp/out.txt"
        fail "$f was accepted"
    fi
    grep -q -- "$want" "$tmp/out.txt" || { cat "$tmp/out.txt"; fail "$f: expected '$want'"; }
    echo "refused $f: $(grep 'laperm train:' "$tmp/out.txt" | head -1)"
}
refused missing.h5 blobs.ini "no dataset /test/y"
refused rank.h5 blobs.ini "/train/x has rank 3"
refused nrows.h5 blobs.ini "/train/x has 50 samples but /train/y has 40"
refused features.h5 blobs.ini "/train/x is (50, 8) but /test/x is (50, 6)"
refused nan.h5 blobs.ini "/train/x holds NaN at sample 7"
refused inf_y.h5 regression.ini "/test/y holds Inf at sample 5"
refused negative.h5 blobs.ini "/test/y\[0\] is -"
refused empty.h5 blobs.ini "/test/x is empty"
refused text.h5 blobs.ini "not an HDF5 file"
refused nofile.h5 blobs.ini "no such file"
refused model.h5 regression.ini "/train/x (50, 5)"
refused regress.h5 blobs.ini "the loss softmax-cross-entropy needs integer class labels"
refused classify.h5 regression.ini "the loss mse needs float targets"
refused regress.h5 regression.ini "the last layer has 4 outputs but the data have 1 targets" \
    --loss mse --model "$src/models/blobs.ini"
echo "hdf5_data: all checks passed"
