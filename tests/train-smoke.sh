#!/bin/sh
# lstmcl-train and lstmcl-sample as a user runs them: a log (not a terminal)
# gets one line per evaluation and no carriage returns; the best checkpoint
# is kept beside the latest; sampling a text model repeats with its seed.
# Usage: train-smoke.sh LSTMCL-TRAIN LSTMCL-SAMPLE TEXT-FILE
set -eu
train=$1 sample=$2 text=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# a text without newlines: the sampler's default prime must cope
tr -d '\n' < "$text" > "$dir/text.txt"
"$train" --text "$dir/text.txt" --layers 2 --hidden 16 --embed 8 --batch 4 --seq 8 \
    --steps 60 --eval-every 20 --dropout 0.2 --lr-schedule cosine --out "$dir/out" \
    2> "$dir/log"
cat "$dir/log"
if tr -d '\n' < "$dir/log" | grep -q "$(printf '\r')"; then
    echo "FAIL: the log holds carriage returns"; exit 1
fi
[ "$(grep -c '^step ' "$dir/log")" -eq 3 ] || { echo "FAIL: not one line per evaluation"; exit 1; }
grep -q "dropout 0.2" "$dir/log" && grep -q "cosine" "$dir/log"
test -s "$dir/out/checkpoint.lstmcl" && test -s "$dir/out/best.lstmcl"
grep -q "best held-out score" "$dir/log"
a=$("$sample" "$dir/out/best.lstmcl" --length 40 --temperature 0.7 --seed 3)
b=$("$sample" "$dir/out/best.lstmcl" --length 40 --temperature 0.7 --seed 3)
[ "$a" = "$b" ] || { echo "FAIL: the same seed sampled different text"; exit 1; }
[ "${#a}" -eq 41 ] || { echo "FAIL: asked for 40 characters after a 1-character prime, got '$a'"; exit 1; }
"$sample" "$dir/out/checkpoint.lstmcl" --prime "The " --length 20 --temperature 0 > /dev/null
if "$sample" "$dir/out/best.lstmcl" --length 0 2> /dev/null; then
    echo "FAIL: --length 0 was accepted"; exit 1
fi
echo "lstmcl-train: one line per evaluation in a log, best checkpoint kept; lstmcl-sample: '$a'"
