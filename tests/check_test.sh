#!/bin/sh
# ctest check: `laperm check` end to end (tests/CMakeLists.txt).
#  1. `laperm check --quick` passes on every OpenCL device present, Rusticl included when
#     Mesa's ICD is installed (RUSTICL_ENABLE=llvmpipe), and inside Oclgrind
#     (LAPERM_OCLGRIND_VENDORS); --json is one JSON object naming every check.
#  2. An injected kernel fault (LAPERM_KERNEL_DIR: a copy of cl/ with one kernel's index, or
#     one kernel's summation order, changed) makes it fail with exit 1, naming the kernel.
#     The golden training run (portable bits) equals the frozen values on every device.
#  3. --out writes the report as HDF5 (one row per check, the device's facts as attributes);
#     bad flags exit 2.
# Environment (set by ctest): LAPERM_SOURCE_DIR, LAPERM_BINARY, LAPERM_OCLGRIND_VENDORS
# (empty: no Oclgrind, that part is skipped).
set -eu
src=${LAPERM_SOURCE_DIR:-$(pwd)}
bin=${LAPERM_BINARY:-$src/build/laperm}
vendors=${LAPERM_OCLGRIND_VENDORS:-}
py=/usr/bin/python3

fail() { echo "check: $*"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# 1. every device (Rusticl's platform appears beside PoCL's with RUSTICL_ENABLE)
export RUSTICL_ENABLE=llvmpipe
"$bin" devices --json >"$tmp/devices.json" || fail "laperm devices failed"
devices=$($py -c 'import json,sys; print(" ".join(d["index"] for d in json.load(open(sys.argv[1]))))' "$tmp/devices.json")
[ -n "$devices" ] || fail "no OpenCL device"
for d in $devices; do
    start=$(date +%s)
    "$bin" check --quick --device "$d" --json >"$tmp/report.json" 2>"$tmp/err.txt" ||
        { cat "$tmp/report.json" "$tmp/err.txt"; fail "laperm check --quick --device $d failed"; }
    $py - "$tmp/report.json" <<'PY' || fail "--json on device $d: bad report"
import json, sys
r = json.load(open(sys.argv[1]))
names = [c["name"] for c in r["checks"]]
assert "gemm" in names and "laperm-sync" in names and "pool" in names, names
assert r["failed"] == 0 and r["errors"] == 0, r
assert all(c["state"] in ("pass", "skip") for c in r["checks"])
golden = [c for c in r["checks"] if c["name"] == "golden-run"]
assert golden and golden[0]["state"] == "pass", golden
assert r["device"]["name"] and r["device"]["opencl_c_version"]
print("  %s: %d passed, %d skipped in %.1f s" % (r["device"]["name"], r["passed"], r["skipped"], r["seconds"]))
PY
done
if [ -n "$vendors" ]; then
    # the simulator is slow: its products through CLBlast, as in the kernel tests
    OCL_ICD_VENDORS=$vendors OCL_ICD_FILENAMES= LAPERM_CACHE=off LAPERM_GEMM=clblast OCLGRIND_CHECK_API=1 \
        "$bin" check --quick >"$tmp/oclgrind.txt" 2>&1 ||
        { cat "$tmp/oclgrind.txt"; fail "laperm check --quick inside Oclgrind failed"; }
    grep -q 'Oclgrind' "$tmp/oclgrind.txt" || { cat "$tmp/oclgrind.txt"; fail "not run in Oclgrind"; }
    grep -q '^golden-run  *pass' "$tmp/oclgrind.txt" || { cat "$tmp/oclgrind.txt"; fail "golden run not passed in Oclgrind"; }
    # out-of-bounds accesses and API misuse are reported, not fatal: the output must have none
    ! grep -Eq 'Oclgrind - |Invalid (read|write)|Oclgrind detected' "$tmp/oclgrind.txt" ||
        { cat "$tmp/oclgrind.txt"; fail "Oclgrind reported an error"; }
    tail -1 "$tmp/oclgrind.txt"
else
    echo "check: no Oclgrind (LAPERM_OCLGRIND_VENDORS empty): that part skipped"
fi
unset RUSTICL_ENABLE

# 2. injected faults, each named: an index in average pooling, the summation order of the
#    bias gradient (whose bits laperm promises), an index in BatchNorm's parameter gradients
export LAPERM_KERNEL_FORM=planes # the by-plane kernels on any device, where the faults are
inject() { # kernel-file pattern replacement only expected-kernel
    rm -rf "$tmp/cl" && cp -r "$src/cl" "$tmp/cl"
    sed -i "s/$2/$3/" "$tmp/cl/$1"
    cmp -s "$src/cl/$1" "$tmp/cl/$1" && fail "the fault for $1 did not apply"
    rc=0
    LAPERM_KERNEL_DIR=$tmp/cl LAPERM_CACHE=off "$bin" check --quick --only "$4" \
        >"$tmp/fault.txt" 2>&1 || rc=$?
    [ "$rc" = 1 ] || { cat "$tmp/fault.txt"; fail "a fault in $1 gave exit $rc, expected 1"; }
    grep -q "laperm check: $4 failed: .*$5" "$tmp/fault.txt" ||
        { cat "$tmp/fault.txt"; fail "a fault in $1 was not named ($5)"; }
    grep "laperm check: $4 failed" "$tmp/fault.txt"
}
inject pool.cl 's += xp\[iy \* w + ix\];' 's += xp[iy * w + x0];' pool lp_pool_forward
inject conv.cl 'for (int s = 0; s < n; ++s)$' 'for (int s = n - 1; s >= 0; --s)' conv-bias \
    lp_conv_bias_reduce
# BatchNorm's dgamma from dbeta's lane sums, in the by-plane kernels
inject batchnorm.cl 'dgamma += lp_tree16(ps + LP_BN_LANES);' \
    'dgamma += lp_tree16(ps);' batchnorm lp_bn_plane_params
unset LAPERM_KERNEL_FORM

# 3. the HDF5 report and bad input
"$bin" check --quick --only dense --out "$tmp/sub/report.h5" >/dev/null || fail "--out failed"
$py - "$tmp/sub/report.h5" <<'PY' || fail "--out: bad HDF5 report"
import sys
try:
    import h5py
except ImportError:
    print("  no h5py: the HDF5 report not read back"); sys.exit(0)
with h5py.File(sys.argv[1], "r") as f:
    rows = f["check"][()]
    name = rows["name"][0]
    name = name.decode() if isinstance(name, bytes) else name
    assert len(rows) == 1 and name == "dense" and rows["passed"][0] == 1, rows
    assert f.attrs["device"] and f.attrs["opencl_c_version"] and "fp64" in f.attrs
PY
[ ! -e "$tmp/sub/report.h5.part" ] || fail "--out left its .part file"
rc=0; "$bin" check --only no-such-check >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "--only matching nothing gave exit $rc, expected 2"
rc=0; "$bin" check --quick=1 >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "--quick=1 gave exit $rc, expected 2"
echo "check: ok"
