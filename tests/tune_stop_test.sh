#!/bin/sh
# ctest tune_stop: a stop request during timing (laperm train --fast, an empty decision
# cache, so Conv7's layers are timed) is honoured within seconds: SIGTERM once the first
# layer's choice is printed; the run must exit 130 ("interrupted") within STOP_LIMIT
# seconds, leaving a valid results file, and --resume must replay its choices, timing
# nothing. Environment (set by ctest): LAPERM_SOURCE_DIR, LAPERM_BINARY; LAPERM_DATA_DIR
# overrides data/mnist; TUNE_STOP_ARGS adds flags (--device).
set -eu
src=${LAPERM_SOURCE_DIR:-$(pwd)}
bin=${LAPERM_BINARY:-$src/build/laperm}
data=${LAPERM_DATA_DIR:-$src/data/mnist}
limit=${STOP_LIMIT:-10}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tune-stop-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT
fail() {
    echo "tune_stop: FAILED: $*"
    exit 1
}
mkdir "$tmp/cache"
run="$tmp/run.h5"
# shellcheck disable=SC2086 # TUNE_STOP_ARGS holds several flags
LAPERM_CACHE_DIR="$tmp/cache" "$bin" train --model "$src/models/conv7.ini" --data "$data" \
    --fast --batch 50 --epochs 1 --train-subset 500 --test-subset 100 --progress none \
    --out "$run" ${TUNE_STOP_ARGS:-} >"$tmp/out.txt" 2>&1 &
pid=$!
i=0
until grep -q '^conv conv2d_1 ' "$tmp/out.txt"; do
    kill -0 $pid 2>/dev/null || { cat "$tmp/out.txt"; fail "the run ended before timing"; }
    i=$((i + 1))
    [ $i -lt 6000 ] || { kill $pid; fail "no conv line within 600 s"; }
    sleep 0.1
done
t0=$(date +%s)
kill -TERM $pid
rc=0
wait $pid || rc=$?
secs=$(($(date +%s) - t0))
cat "$tmp/out.txt"
echo "tune_stop: exit $rc, ${secs} s after SIGTERM"
[ $rc -eq 130 ] || fail "exit status $rc, expected 130 (interrupted)"
[ $secs -le "$limit" ] || fail "took ${secs} s to stop, more than $limit"
grep -q '^interrupted after 0 epoch(s), 0 steps' "$tmp/out.txt" || fail "no 'interrupted' line"
grep -q 'stop requested: timing cut short' "$tmp/out.txt" || fail "no layer's timing was cut short"
[ -s "$run" ] || fail "no results file"
# No step ran, so the checkpoint's step statistics are zeros, not uninitialised device
# memory (which made two such files differ).
h5dump -d /checkpoint/0/stats -y -o "$tmp/stats.txt" "$run" >/dev/null || fail "h5dump"
[ "$(tr -s ', \n' '\n' <"$tmp/stats.txt" | grep -v '^0$' | grep -c .)" -eq 0 ] ||
    fail "checkpoint/0/stats holds values other than 0 although no step ran"
# The file is valid: --resume reads it, replays every path and times nothing.
# shellcheck disable=SC2086
LAPERM_CACHE_DIR="$tmp/cache" "$bin" train --resume "$run" --progress none \
    ${TUNE_STOP_ARGS:-} >"$tmp/resume.txt" 2>&1 || { cat "$tmp/resume.txt"; fail "resume"; }
cat "$tmp/resume.txt"
grep -q 'timed' "$tmp/resume.txt" && fail "the resumed run timed a choice"
[ "$(grep -c '^conv conv2d_.*(conv algorithm ' "$tmp/resume.txt")" -eq 7 ] ||
    fail "the resumed run did not replay the 7 paths"
echo "tune_stop: ok"
