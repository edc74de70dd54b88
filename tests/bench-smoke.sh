#!/bin/sh
# lstmcl-bench runs a small shape in each output format, with the breakdown.
set -eu
bench=$1
onednn=${2:-no-onednn}   # onednn: the bench was built with its oneDNN baseline
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if [ "$onednn" != onednn ] && [ "${LSTMCL_TEST_REQUIRE_ONEDNN:-}" = 1 ]; then
    echo "FAIL: lstmcl-bench was built without oneDNN (libdnnl-dev) and LSTMCL_TEST_REQUIRE_ONEDNN=1"
    exit 1
fi
"$bench" --shape 2,3,4,5 --repeat 1 --warmup 0 --no-first-call --breakdown > "$out" 2>/dev/null
grep -q "train-step" "$out"
grep -q "where the time goes" "$out"
grep -q "per-step backward work" "$out"
grep -q "^launches per step" "$out"
# on the GEMM path both per-step GEMMs run in place: one kernel and one GEMM
# per step each way, none of them padding or copying
LSTMCL_RECURRENT=gemm "$bench" --shape 2,3,4,5 --repeat 1 --warmup 0 --no-first-call --no-host \
    --breakdown > "$out" 2>/dev/null
grep "^launches per step" "$out"
grep -Eq "^launches per step \(gemm path\): forward 1 lstmcl kernel \+ 1 (CLBlast|oneDNN) GEMM \(0 padding or copying\); backward 1 \+ 1 \(0 padding or copying\)$" "$out"
"$bench" --shape 2,3,4,5 --repeat 1 --warmup 0 --no-first-call --no-host --csv > "$out" 2>/dev/null
grep -q "^2,3,4,5,custom,train-step,lstmcl-host-api," "$out"
"$bench" --shape 2,3,4,5 --repeat 1 --warmup 0 --no-first-call --no-host --json > "$out" 2>/dev/null
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['results']; assert d['gemm'] in ('clblast', 'onednn')" "$out"
# the layer features beside the unidirectional full batch
"$bench" --shape 6,5,4,3 --repeat 1 --warmup 0 --no-first-call --no-host > "$out" 2>/dev/null
for row in "unidirectional, full batch" "bidirectional, full batch" \
    "unidirectional, lengths 1..T" "bidirectional, lengths 1..T"; do
    grep -q "^  $row  *[0-9.]*  *[0-9.]*  *[0-9.]*  *[0-9.]*$" "$out" ||
        { echo "FAIL: no '$row' row"; cat "$out"; exit 1; }
done
"$bench" --shape 6,5,4,3 --repeat 1 --warmup 0 --no-first-call --no-host --no-layers > "$out" 2>/dev/null
! grep -q "bidirectional" "$out" || { echo "FAIL: --no-layers still measured them"; exit 1; }
# the oneDNN baseline (c): its column, its agreement with lstmcl, its CSV rows and JSON ratios
if [ "$onednn" = onednn ]; then
    "$bench" --shape 3,4,5,6 --repeat 1 --warmup 0 --no-first-call --no-layers > "$out" 2>/dev/null ||
        { echo "FAIL: bench with oneDNN"; cat "$out"; exit 1; }
    grep -q "(c) oneDNN" "$out" && grep -q "vs(c)" "$out" ||
        { echo "FAIL: no oneDNN column"; cat "$out"; exit 1; }
    grep -q "^ *train-step .*|  *[0-9.]*  *[0-9.]* |  *[0-9.]*  *[0-9.]*  *[0-9.]*$" "$out" ||
        { echo "FAIL: train-step row lacks the oneDNN time or vs(c)"; cat "$out"; exit 1; }
    grep -q "h and the gradients differ from oneDNN's by at most" "$out" ||
        { echo "FAIL: no agreement line for oneDNN"; cat "$out"; exit 1; }
    "$bench" --shape 3,4,5,6 --repeat 1 --warmup 0 --no-first-call --no-layers --csv > "$out" 2>/dev/null
    for pass in inference train-fwd backward train-step; do
        grep -q "^3,4,5,6,custom,$pass,onednn,[0-9.]*," "$out" ||
            { echo "FAIL: no CSV onednn row for $pass"; cat "$out"; exit 1; }
    done
    "$bench" --shape 3,4,5,6 --repeat 1 --warmup 0 --no-first-call --no-layers --json > "$out" 2>/dev/null
    python3 - "$out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["onednn"].startswith("2."), d["onednn"]
rows = d["results"]
for p in ("inference", "train-fwd", "backward", "train-step"):
    dnn = [r for r in rows if r["pass"] == p and r["impl"] == "onednn"]
    lc = [r for r in rows if r["pass"] == p and r["impl"] == "lstmcl-host-api"]
    assert len(dnn) == 1 and dnn[0]["ms"] > 0, (p, dnn)
    ratio = dnn[0]["ms"] / lc[0]["ms"]
    assert abs(lc[0]["speedup_vs_onednn"] - ratio) <= 0.01 * ratio + 0.001, (p, lc[0], ratio)
PY
    extra=", oneDNN baseline"
else
    "$bench" --shape 2,3,4,5 --repeat 1 --warmup 0 --no-first-call --no-layers > "$out" 2>/dev/null
    ! grep -q "oneDNN" "$out" || { echo "FAIL: oneDNN column without oneDNN"; exit 1; }
    extra=" (built without oneDNN)"
fi
# a bad shape is named as such (a sign made "-1" read as 2^64 - 1: "out of memory")
for bad in -1,1,1,1 0,1,1,1 1,2,3 1,1,1,99999999999; do
    if msg=$("$bench" --shape "$bad" 2>&1); then
        echo "FAIL: --shape $bad was accepted"; exit 1
    fi
    echo "$msg" | grep -q "whole number from 1" || { echo "FAIL: --shape $bad said: $msg"; exit 1; }
done
echo "lstmcl-bench: table with breakdown, CSV and JSON, layer features$extra"
