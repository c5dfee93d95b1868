#!/bin/sh
# ctest portable_bits: `--bits portable` gives the same results file bits on every OpenCL
# implementation present.
#  1. lenet300 LaPerm and a small conv model (GEMM-path and direct-path layers,
#     stride, padding, dropout) train a few steps in portable mode on PoCL and on Rusticl
#     (RUSTICL_ENABLE=llvmpipe): /weights, /rankings and /metrics (times excepted) are
#     bit-identical, and the files record bits = portable.
#  2. Inside Oclgrind (LAPERM_OCLGRIND_VENDORS), the conv model for 2 steps on a subset:
#     bit-identical to PoCL's run of the same flags. (Not lenet300: simulating the sort of
#     its 266,610 weights at every sync takes minutes.)
#  3. --resume refuses a portable run continued in fast mode, naming `bits`.
# A platform that is absent is skipped with a message; with neither Rusticl nor Oclgrind
# nothing can be compared and the test is skipped (77). Environment (set by ctest):
# LAPERM_SOURCE_DIR, LAPERM_BINARY, LAPERM_OCLGRIND_VENDORS; LAPERM_DATA_DIR overrides
# data/mnist.
set -eu
test_name=portable_bits
. "${LAPERM_SOURCE_DIR:-$(pwd)}/tests/support/mnist_test_prelude.sh"
cat >"$tmp/conv.ini" <<'INI'
[input]
channels = 1
height = 28
width = 28
[conv2d]
filters = 16
kernel = 3
stride = 2
activation = relu
[conv2d]
filters = 16
kernel = 3
activation = relu
[conv2d]
filters = 16
kernel = 5
stride = 2
padding = same
activation = relu
[dropout]
rate = 0.4
[flatten]
[dense]
units = 10
INI

# The platforms: PoCL always (the default device); Rusticl where Mesa provides it.
RUSTICL_ENABLE=llvmpipe "$bin" devices >"$tmp/devices" 2>&1 || { cat "$tmp/devices"; fail "laperm devices failed"; }
grep -q "Portable Computing Language" "$tmp/devices" || { cat "$tmp/devices"; echo "portable_bits: no PoCL: skipped"; exit 77; }
rusticl=no
grep -qi "rusticl" "$tmp/devices" && rusticl=yes
[ $rusticl = yes ] || echo "portable_bits: no Rusticl platform (mesa-opencl-icd): its part skipped"
[ -n "$vendors" ] || echo "portable_bits: no Oclgrind: its part skipped"
if [ $rusticl = no ] && [ -z "$vendors" ]; then
    echo "portable_bits: only one platform, nothing to compare: skipped"; exit 77
fi

common="--data $data --epochs 1 --progress none --bits portable"
lenet="--model lenet300 $common --max-steps 24 --k 8 --batch 32 --train-subset 768 --test-subset 100"
conv="--model $tmp/conv.ini $common --max-steps 6 --k 2 --batch 16 --train-subset 96 --test-subset 32"
small_conv="--model $tmp/conv.ini $common --max-steps 2 --k 1 --batch 4 --train-subset 8 --test-subset 4"

# train NAME DEVICE FLAGS...: into $tmp/NAME.h5 ("pocl", "rusticl" or "oclgrind")
train() {
    name=$1 dev=$2
    shift 2
    case $dev in
    pocl) "$bin" train "$@" --device "Portable Computing" --out "$tmp/$name.h5" >"$tmp/$name.log" 2>&1 ;;
    rusticl) RUSTICL_ENABLE=llvmpipe "$bin" train "$@" --device rusticl --out "$tmp/$name.h5" \
        >"$tmp/$name.log" 2>&1 ;;
    oclgrind) OCL_ICD_VENDORS=$vendors OCL_ICD_FILENAMES= LAPERM_CACHE=off \
        "$bin" train "$@" --device oclgrind --out "$tmp/$name.h5" >"$tmp/$name.log" 2>&1 ;;
    esac || { cat "$tmp/$name.log"; fail "$name: training on $dev failed"; }
    if [ $dev = oclgrind ] && grep -Eq "Oclgrind - |Invalid (read|write)|[Dd]ata race" "$tmp/$name.log"; then
        cat "$tmp/$name.log"; fail "$name: Oclgrind reported an error"
    fi
}

# same A B: /weights, /rankings and /metrics (but times) bit for bit, bits = portable
same() {
    $py - "$tmp/$1.h5" "$tmp/$2.h5" <<'PY' || fail "$1 and $2 differ"
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
for f in (a, b):
    assert f.attrs["bits"] == "portable", (f.filename, f.attrs["bits"])
assert a.attrs["device"] != b.attrs["device"], "the same device twice"
names, bad = [], []
for group in ("weights", "rankings", "metrics"):
    assert group in a and group in b, group
    a[group].visititems(lambda n, o, g=group: names.append(g + "/" + n)
                        if isinstance(o, h5py.Dataset) and not n.endswith("_seconds") else None)
for n in names:
    x, y = a[n][...], b[n][...]
    if x.shape != y.shape or x.tobytes() != y.tobytes():
        d = (np.max(np.abs(x.astype(float) - y.astype(float))) if x.shape == y.shape
             and x.dtype.kind == "f" else "shape")
        bad.append("%s (max abs difference %s)" % (n, d))
for n in bad:
    print("portable_bits: differs:", n)
if bad:
    sys.exit(1)
print("portable_bits: %s and %s: %d datasets bit-identical (%s, %s)" % (
    sys.argv[1].split("/")[-1], sys.argv[2].split("/")[-1], len(names),
    a.attrs["device"], b.attrs["device"]))
PY
}

# 1. PoCL and Rusticl
if [ $rusticl = yes ]; then
    train lenet-pocl pocl $lenet
    train lenet-rusticl rusticl $lenet
    same lenet-pocl lenet-rusticl
    train conv-pocl pocl $conv
    train conv-rusticl rusticl $conv
    same conv-pocl conv-rusticl
fi

# 2. Oclgrind, against PoCL
if [ -n "$vendors" ]; then
    train sconv-pocl pocl $small_conv
    train sconv-oclgrind oclgrind $small_conv
    same sconv-pocl sconv-oclgrind
fi

# 3. a portable run is not continued in fast mode
run=$(ls "$tmp"/*conv-pocl.h5 | head -n 1)
cp "$run" "$tmp/r.h5.part"
flags=$conv
[ "$run" = "$tmp/conv-pocl.h5" ] || flags=$small_conv
if "$bin" train $(echo "$flags" | sed 's/--bits portable//') --resume "$tmp/r.h5.part" \
    >"$tmp/log" 2>&1 || ! grep -q "'bits' was 'portable'" "$tmp/log"; then
    cat "$tmp/log"; fail "--resume of a portable run in fast mode was not refused by name"
fi
echo "portable_bits: OK"
