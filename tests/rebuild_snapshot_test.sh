#!/bin/sh
# ctest rebuild_snapshot: trains models/fmnist-bn.ini (conv, BatchNorm, max pooling,
# dropout, dense) with LaPerm for 2 short epochs on MNIST, then checks with
# scripts/rebuild-snapshot that numpy, from the results file alone, gives laperm's test
# accuracy and loss at both epoch ends and that the last snapshot rebuilds /weights bit
# for bit. Environment (set by ctest): LAPERM_SOURCE_DIR, LAPERM_BINARY; LAPERM_DATA_DIR
# overrides data/mnist. Exit 77 (skipped) when /usr/bin/python3 has no h5py.
set -eu
test_name=rebuild_snapshot
. "${LAPERM_SOURCE_DIR:-$(pwd)}/tests/support/mnist_test_prelude.sh"

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
