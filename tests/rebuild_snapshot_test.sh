#!/bin/sh
# ctest rebuild_snapshot: trains models/fmnist-bn.ini (conv, BatchNorm, max pooling,
# dropout, dense) with LaPerm for 2 short epochs on MNIST, then checks with
# scripts/rebuild-snapshot that numpy, from the results file alone, gives laperm's test
# accuracy and loss at both epoch ends and that the last snapshot rebuilds /weights bit
# for bit. Environment (set by ctest): LAPERM_SOURCE_DIR, LAPERM_BINARY; LAPERM_DATA_DIR
# overrides data/mnist. Exit 77 (skipped) when /usr/bin/python3 has no h5py.
set -eu
src=${LAPERM_SOURCE_DIR:-$(pwd)}
bin=${LAPERM_BINARY:-$src/build/laperm}
data=${LAPERM_DATA_DIR:-$src/data/mnist}

if ! /usr/bin/python3 -c 'import h5py, numpy' 2>/dev/null; then
    echo "rebuild_snapshot: /usr/bin/python3 has no h5py/numpy: skipped"
    exit 77
fi
if [ ! -e "$data/train-images-idx3-ubyte" ] && [ ! -e "$data/train-images-idx3-ubyte.gz" ]; then
    echo "rebuild_snapshot: MNIST not found in $data (run scripts/fetch-mnist): FAILING"
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rebuild-snapshot.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

"$bin" train --model "$src/models/fmnist-bn.ini" --data "$data" --epochs 2 \
    --train-subset 1024 --test-subset 500 --out "$tmp/run.h5" --progress none

status=0
/usr/bin/python3 "$src/scripts/rebuild-snapshot" "$tmp/run.h5" >"$tmp/out.txt" || status=$?
cat "$tmp/out.txt"
if [ "$status" -ne 0 ]; then
    echo "rebuild_snapshot: scripts/rebuild-snapshot exited $status"
    exit 1
fi
# Both epoch ends compared and agreeing, and the final weights checked.
compared=$(grep -c 'epoch [12], step .*: OK$' "$tmp/out.txt" || true)
if [ "$compared" -ne 2 ] || ! grep -q '/weights: .*OK, bit for bit' "$tmp/out.txt"; then
    echo "rebuild_snapshot: expected 2 epoch ends compared OK and /weights OK"
    exit 1
fi
echo "rebuild_snapshot: OK"
