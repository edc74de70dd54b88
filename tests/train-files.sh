#!/bin/sh
# lstmcl-train checks what it can before the first step and reports truly:
# texts too short, outputs that cannot be written, a planted link at the
# CSV's name, settings that conflict with the checkpoint being resumed, a
# resume with nothing to do, a loss that turns NaN (the last good checkpoint
# is kept), stale temporary files of killed runs, and misleading messages.
# Usage: train-files.sh LSTMCL-TRAIN
set -u
case $1 in /*) train=$1 ;; *) train=$PWD/$1 ;; esac
py=/usr/bin/python3
[ -x "$py" ] || py=python3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }
cd "$dir" || exit 1
small="--layers 1 --hidden 16 --embed 8 --batch 4 --seq 8"

# a 200-byte text: the training part is enough for 2 streams of 8 steps,
# the held-out tenth (20 bytes) is not
"$py" -c "import sys; sys.stdout.write(('the cat sat on the mat. ' * 9)[:200])" > tiny.txt
echo "== a held-out text too short is refused before the first step"
start=$(date +%s)
out=$("$train" --text tiny.txt --seq 8 --batch 2 --steps 4000 --eval-every 4000 --out o1 2>&1)
rc=$? took=$(( $(date +%s) - start ))
echo "$out" | tail -2
[ $rc -ne 0 ] || fail "the run succeeded"
echo "$out" | grep -q "held-out text (20 characters) is too short" || fail "the message: $out"
echo "$out" | grep -q "^step" && fail "it trained first"
[ -e o1/checkpoint.lstmcl ] && fail "it wrote a checkpoint"
[ $took -le 20 ] || fail "it took ${took}s to refuse"

# a text long enough for small runs
"$py" -c "
import random, sys
r = random.Random(5)
sys.stdout.write(''.join(r.choice('abcdefgh .') for _ in range(6000)))" > text.txt

echo "== outputs that cannot be written are refused before the first step"
out=$("$train" --text text.txt $small --steps 40 --eval-every 20 --checkpoint nodir/ck.lstmcl \
      --out o2 2>&1) && fail "an unwritable --checkpoint was accepted"
echo "$out" | tail -1
echo "$out" | grep -q "nodir/ck.lstmcl" || fail "the message does not name the path: $out"
echo "$out" | grep -q "^step" && fail "it trained before refusing the checkpoint path"
echo "a file" > notafolder
out=$("$train" --text text.txt $small --steps 40 --out notafolder 2>&1) &&
    fail "--out naming a file was accepted"
echo "$out" | tail -1
echo "$out" | grep -q "^step" && fail "it trained before refusing --out"

echo "== a link planted at curve.csv is not followed"
mkdir o3
echo "precious" > victim
ln -s ../victim o3/curve.csv
out=$("$train" --text text.txt $small --steps 40 --eval-every 20 --out o3 2>&1) &&
    fail "a link at curve.csv was written through"
echo "$out" | tail -1
[ "$(cat victim)" = "precious" ] || fail "the link's target was written"
echo "$out" | grep -q "symbolic link" || fail "the message: $out"
rm -f o3/curve.csv

echo "== a run, and what it leaves in its folder"
# stale temporary files of killed runs: this version's and older versions'
touch o3/.checkpoint.lstmcl.ab12cd.tmp o3/.best.lstmcl.zz99zz.tmp o3/checkpoint.lstmcl.tmp.4194399
"$train" --text text.txt $small --steps 40 --eval-every 20 --out o3 2> log || {
    cat log
    fail "the small run failed"
}
[ "$(ls -A o3 | tr '\n' ' ')" = "best.lstmcl checkpoint.lstmcl curve.csv curve.svg " ] ||
    fail "the folder holds: $(ls -A o3 | tr '\n' ' ')"
sum() { cksum "$1" | cut -d' ' -f1,2; }
ck=$(sum o3/checkpoint.lstmcl) best=$(sum o3/best.lstmcl) csv=$(sum o3/curve.csv)

echo "== --resume with settings that differ from the checkpoint's"
out=$("$train" --text text.txt --resume o3/checkpoint.lstmcl --hidden 32 --lr 0.01 --layers 1 \
      --steps 60 --out o3 2>&1)
rc=$?
echo "$out" | head -1
[ $rc -eq 2 ] || fail "rc $rc, not 2"
echo "$out" | grep -q -- "--hidden 32, the checkpoint has 16" || fail "--hidden not named: $out"
echo "$out" | grep -q -- "--lr 0.01, the checkpoint has 0.003" || fail "--lr not named: $out"
echo "$out" | grep -q -- "--layers" && fail "--layers 1 (the same) named as a conflict: $out"
"$train" --text text.txt --resume o3/checkpoint.lstmcl --hidden 16 --steps 40 --out o3 \
    2>/dev/null || fail "--hidden equal to the checkpoint's was refused"

echo "== --resume with --steps at or below the steps done"
out=$("$train" --text text.txt --resume o3/checkpoint.lstmcl --steps 30 --out o3 2>&1) ||
    fail "rc $? for nothing to do"
echo "$out" | tail -1
echo "$out" | grep -q "at step 40 already" || fail "the message: $out"
echo "$out" | grep -q "wrote" && fail "it claims to have written files: $out"
[ "$(sum o3/checkpoint.lstmcl)" = "$ck" ] && [ "$(sum o3/best.lstmcl)" = "$best" ] &&
    [ "$(sum o3/curve.csv)" = "$csv" ] || fail "files changed"

echo "== a loss that turns NaN stops the run; the checkpoints stay as they were"
"$py" - o3/checkpoint.lstmcl nan.lstmcl <<'PY' || exit 1
import struct, sys, zlib
d = bytearray(open(sys.argv[1], "rb").read())
V = struct.unpack_from("<I", d, 24)[0]
p = 88 + (V + 3) // 4 * 4
for i in range(64):  # the first parameters (the embedding) become NaN
    struct.pack_into("<I", d, p + 4 * i, 0x7fc00000)
struct.pack_into("<I", d, len(d) - 4, zlib.crc32(bytes(d[:-4])) & 0xffffffff)
open(sys.argv[2], "wb").write(d)
PY
cp o3/checkpoint.lstmcl o3/keep.lstmcl
mkdir o4
cp o3/best.lstmcl o4/best.lstmcl
best4=$(sum o4/best.lstmcl)
out=$("$train" --text text.txt --resume nan.lstmcl --steps 80 --eval-every 20 --out o4 2>&1) &&
    fail "a NaN loss ran to the end"
echo "$out" | tail -1
echo "$out" | grep -q "loss is not finite at step 41" || fail "the message: $out"
[ -e o4/checkpoint.lstmcl ] && fail "a checkpoint was written after the NaN"
[ "$(sum o4/best.lstmcl)" = "$best4" ] || fail "best.lstmcl was replaced"

echo "== messages"
mkdir afolder
out=$("$train" --text afolder --steps 10 --out o5 2>&1) && fail "a folder as --text was accepted"
echo "$out" | grep -qi "is a directory" || fail "a folder as --text said: $out"
out=$("$train" --bogus 2>&1) && fail "--bogus was accepted"
echo "$out" | head -1 | grep -q "unknown option" || fail "--bogus said: $(echo "$out" | head -1)"
out=$("$train" --bogus 3 2>&1) && fail "--bogus 3 was accepted"
echo "$out" | head -1 | grep -q "unknown option" || fail "--bogus 3 said: $(echo "$out" | head -1)"
out=$("$train" --steps 2>&1) && fail "--steps with no value was accepted"
echo "$out" | head -1 | grep -q "needs a value" || fail "--steps said: $(echo "$out" | head -1)"

[ $status -eq 0 ] && echo "lstmcl-train's early checks: all passed"
exit $status
