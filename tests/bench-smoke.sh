#!/bin/sh
# lstmcl-bench runs a small shape in each output format, with the breakdown.
set -eu
bench=$1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
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
grep -q "^launches per step (gemm path): forward 1 lstmcl kernel + 1 CLBlast GEMM (0 padding or copying); backward 1 + 1 (0 padding or copying)$" "$out"
"$bench" --shape 2,3,4,5 --repeat 1 --warmup 0 --no-first-call --no-host --csv > "$out" 2>/dev/null
grep -q "^2,3,4,5,custom,train-step,lstmcl-host-api," "$out"
"$bench" --shape 2,3,4,5 --repeat 1 --warmup 0 --no-first-call --no-host --json > "$out" 2>/dev/null
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['results']" "$out"
# the layer features beside the unidirectional full batch
"$bench" --shape 6,5,4,3 --repeat 1 --warmup 0 --no-first-call --no-host > "$out" 2>/dev/null
for row in "unidirectional, full batch" "bidirectional, full batch" \
    "unidirectional, lengths 1..T" "bidirectional, lengths 1..T"; do
    grep -q "^  $row  *[0-9.]*  *[0-9.]*  *[0-9.]*  *[0-9.]*$" "$out" ||
        { echo "FAIL: no '$row' row"; cat "$out"; exit 1; }
done
"$bench" --shape 6,5,4,3 --repeat 1 --warmup 0 --no-first-call --no-host --no-layers > "$out" 2>/dev/null
! grep -q "bidirectional" "$out" || { echo "FAIL: --no-layers still measured them"; exit 1; }
echo "lstmcl-bench: table with breakdown, CSV and JSON, layer features"
