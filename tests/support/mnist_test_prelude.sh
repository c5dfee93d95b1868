# Sourced (`. FILE`) by the ctest scripts that train on MNIST and read the results files
# with h5py, once they have set `test_name` (the test's name, which starts every message it
# prints). Sets src, bin, data, vendors and py from the environment ctest gives
# (LAPERM_SOURCE_DIR, LAPERM_BINARY, LAPERM_OCLGRIND_VENDORS; LAPERM_DATA_DIR overrides
# data/mnist) and defines fail; exits 77 (skipped) when /usr/bin/python3 has no h5py or
# numpy, and 1 when MNIST is missing; makes $tmp, removed when the script exits.
src=${LAPERM_SOURCE_DIR:-$(pwd)}
bin=${LAPERM_BINARY:-$src/build/laperm}
data=${LAPERM_DATA_DIR:-$src/data/mnist}
vendors=${LAPERM_OCLGRIND_VENDORS:-}
py=/usr/bin/python3

fail() {
    echo "$test_name: $*"
    exit 1
}
$py -c 'import h5py, numpy' 2>/dev/null || {
    echo "$test_name: no h5py/numpy in $py: skipped"
    exit 77
}
ls "$data"/train-images-idx3-ubyte* >/dev/null 2>&1 ||
    fail "MNIST not found in $data (run scripts/fetch-mnist): FAILING"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/$test_name.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
