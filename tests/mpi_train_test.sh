#!/bin/sh
# ctest mpi_train: `mpirun -np 2 laperm train` on PoCL (LeNet-300-100 LaPerm on 20,000
# MNIST images):
#  1. two 2-rank runs give the same bits (scripts/compare-results), the file records the
#     world size, both ranks' devices and the bytes each step sent (4 x (parameters + 3)
#     for 2 ranks), which `python3 -m laperm info` shows, and LaPerm's invariant holds
#     (scripts/check-invariant);
#  2. 1 rank and 2 ranks with the same global batch agree to float-summation tolerance
#     over the first steps (no sync yet: the inner optimizer's weights);
#  3. rank 1 killed (SIGKILL) mid-run: the job ends within 10 s naming rank 1; resuming
#     with one process is refused naming mpi_world_size; resuming with 2 ranks ends
#     bit-identical to the uninterrupted run;
#  4. where Rusticl is present, one rank on PoCL and one on Rusticl: in fast mode the
#     job stops at the first sync naming the ranks whose weights differ; with
#     --bits portable it runs to the end.
# Environment (set by ctest): LAPERM_SOURCE_DIR, LAPERM_BINARY, LAPERM_MPIEXEC and the
# Open MPI switches; LAPERM_DATA_DIR overrides data/mnist.
set -eu
test_name=mpi_train
. "${LAPERM_SOURCE_DIR:-$(pwd)}/tests/support/mnist_test_prelude.sh"
mpiexec=${LAPERM_MPIEXEC:-mpirun}
run2() { "$mpiexec" -n 2 "$bin" train "$@"; }
flags="--model $src/models/lenet300.ini --data $data --train-subset 20000 --test-subset 1000
       --batch 128 --k 25 --epochs 3 --checkpoint-every 20 --progress none"

# 1. bits alike run to run, the attributes, the invariant
for r in a b; do
    run2 $flags --out "$tmp/$r.h5" >"$tmp/$r.log" 2>&1 || { cat "$tmp/$r.log"; fail "2-rank run $r failed"; }
done
$py "$src/scripts/compare-results" "$tmp/a.h5" "$tmp/b.h5" || fail "two 2-rank runs differ"
$py "$src/scripts/check-invariant" "$tmp/a.h5" >/dev/null || fail "the invariant does not hold"
PYTHONPATH="$src/python" $py -m laperm info "$tmp/a.h5" | grep -q "MPI: 2 ranks (0: " ||
    fail "python -m laperm info does not show the 2 ranks"
$py - "$tmp/a.h5" <<'EOF' || fail "the MPI attributes are wrong"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
a = f.attrs
assert a["mpi_world_size"] == 2, a["mpi_world_size"]
devices = a["mpi_devices"]
devices = devices.decode() if isinstance(devices, bytes) else devices
assert devices.startswith("0: ") and "; 1: " in devices, devices
params = sum(f["weights"][l][t].size for l in f["weights"] for t in f["weights"][l])
assert a["mpi_bytes_per_step"] == 4 * (params + 3), (a["mpi_bytes_per_step"], params)
assert a["status"] in (b"completed", "completed"), a["status"]
EOF

# 2. 1 rank against 2 over the first 6 steps (before any sync)
few="--model $src/models/lenet300.ini --data $data --train-subset 2000 --test-subset 200
     --batch 128 --k 1000 --epochs 1 --max-steps 6 --progress none"
"$bin" train $few --out "$tmp/one.h5" >"$tmp/one.log" 2>&1 || { cat "$tmp/one.log"; fail "1-rank run"; }
run2 $few --out "$tmp/two.h5" >"$tmp/two.log" 2>&1 || { cat "$tmp/two.log"; fail "2-rank run"; }
$py - "$tmp/one.h5" "$tmp/two.h5" <<'EOF' || fail "1 rank and 2 ranks differ beyond float summation"
import sys, h5py, numpy as np
def at_step(path, step):
    f = h5py.File(path, "r")
    for k in f["checkpoint"]:
        if f["checkpoint"][k]["header"][2] == step:
            return f["checkpoint"][k]["params"][()], f["metrics/train_loss"][()]
    raise SystemExit(path + ": no checkpoint at step %d" % step)
(w1, l1), (w2, l2) = at_step(sys.argv[1], 6), at_step(sys.argv[2], 6)
d = np.abs(w1.astype(np.float64) - w2)
print("mpi_train: 1 rank vs 2 after 6 Adam steps: max |dw| %.3g, train loss %.9g vs %.9g"
      % (d.max(), l1[-1], l2[-1]))
assert d.max() < 1e-5
assert abs(l1[-1] - l2[-1]) <= 1e-5 * abs(l1[-1])
EOF

# 3. rank 1 killed, resumed bit for bit (the same flags as a.h5)
run2 $flags --out "$tmp/k.h5" >"$tmp/k.log" 2>&1 &
job=$!
$py - "$tmp/k.h5.part" <<'EOF' || fail "the run to kill made no checkpoint past step 60"
import sys, time, h5py
for _ in range(600):
    try:
        with h5py.File(sys.argv[1], "r", swmr=True) as f:
            if max(f["checkpoint"][k]["header"][2] for k in f["checkpoint"]) >= 60:
                sys.exit(0)
    except (OSError, KeyError):
        pass
    time.sleep(0.1)
sys.exit(1)
EOF
rank_of() { tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null | sed -n 's/^\(OMPI_COMM_WORLD_RANK\|PMI_RANK\)=//p'; }
victim=""
for p in $(pgrep -f "$bin train" || true); do
    # not the stderr filter laperm forks, whose parent is the rank itself
    [ -n "$(rank_of "$(ps -o ppid= -p "$p" | tr -d ' ')")" ] && continue
    [ "$(rank_of "$p")" = 1 ] && victim=$p
done
[ -n "$victim" ] || fail "rank 1's process not found"
start=$(date +%s)
kill -9 "$victim"
rc=0
wait $job || rc=$?
took=$(($(date +%s) - start))
[ "$rc" -ne 0 ] || fail "the job went on after rank 1 was killed"
[ "$took" -le 10 ] || fail "the job took $took s to stop after rank 1 was killed"
grep -q "rank 1" "$tmp/k.log" || { cat "$tmp/k.log"; fail "the job's messages do not name rank 1"; }
if "$bin" train --resume "$tmp/k.h5" --progress none >"$tmp/one-rank.log" 2>&1; then
    fail "resuming a 2-rank run with one process was not refused"
fi
grep -q "mpi_world_size" "$tmp/one-rank.log" || { cat "$tmp/one-rank.log"; fail "the refusal does not name mpi_world_size"; }
run2 --resume "$tmp/k.h5" --progress none >"$tmp/resume.log" 2>&1 || { cat "$tmp/resume.log"; fail "2-rank resume"; }
$py "$src/scripts/compare-results" "$tmp/a.h5" "$tmp/k.h5" || fail "the resumed run differs from the uninterrupted one"
echo "mpi_train: rank 1 killed: the job stopped in $took s; resumed with 2 ranks: identical"

# 4. ranks on different implementations: refused in fast mode, alike in portable mode
export RUSTICL_ENABLE=llvmpipe
if ! "$bin" devices 2>/dev/null | grep -qi rusticl; then
    echo "mpi_train: Rusticl absent: mixed devices not checked"
    exit 0
fi
mixed="--model $src/models/lenet300.ini --data $data --train-subset 512 --test-subset 100
       --batch 64 --k 2 --epochs 1 --max-steps 4 --progress none --no-out --device Portable,rusticl"
if run2 $mixed >"$tmp/mixed.log" 2>&1; then
    fail "PoCL and Rusticl ranks in fast mode were not refused"
fi
grep -q "differ between ranks" "$tmp/mixed.log" && grep -q "rank 1 0x" "$tmp/mixed.log" ||
    { cat "$tmp/mixed.log"; fail "the mismatch is not named"; }
run2 $mixed --bits portable >"$tmp/portable.log" 2>&1 || { cat "$tmp/portable.log"; fail "PoCL and Rusticl ranks in portable mode"; }
echo "mpi_train: PoCL + Rusticl ranks: refused in fast mode, alike in portable mode"
