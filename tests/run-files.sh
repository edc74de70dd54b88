#!/bin/sh
# lstmcl-run and its files: outputs never replace an input, never follow a
# planted link, never replace a FIFO or device; headers are checked before
# a payload is read; clear messages for folders, unknown options and files
# with two LSTMs.  Usage: run-files.sh LSTMCL-RUN
set -u
case $1 in /*) run=$1 ;; *) run=$PWD/$1 ;; esac
py=/usr/bin/python3
[ -x "$py" ] || py=python3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }

# a 1-layer model (D=3, H=4) as safetensors, twice under two prefixes in
# two.safetensors, and x (T=2, N=1, D=3) as .npy: written with the standard
# library only
"$py" - "$dir" <<'PY' || exit 1
import json, struct, sys
d = sys.argv[1]
def st(path, prefixes):
    H, D, hdr, data = 4, 3, {}, b""
    for p in prefixes:
        for name, n, shape in (("weight_ih_l0", 4*H*D, [4*H, D]), ("weight_hh_l0", 4*H*H, [4*H, H]),
                               ("bias_ih_l0", 4*H, [4*H]), ("bias_hh_l0", 4*H, [4*H])):
            vals = [((i * 7 + len(name)) % 11 - 5) / 10.0 for i in range(n)]
            hdr[p + name] = {"dtype": "F32", "shape": shape,
                             "data_offsets": [len(data), len(data) + 4 * n]}
            data += struct.pack("<%df" % n, *vals)
    h = json.dumps(hdr).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + data)
st(d + "/model.safetensors", [""])
st(d + "/two.safetensors", ["a.", "b."])
def npy(path, shape, vals):
    h = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % \
        "".join("%d, " % s for s in shape)
    h += " " * ((64 - (10 + len(h) + 1) % 64) % 64) + "\n"
    open(path, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() +
                           struct.pack("<%df" % len(vals), *vals))
npy(d + "/x.npy", (2, 1, 3), [0.5, -1.0, 0.25, 1.5, 0.0, -0.5])
PY

cd "$dir" || exit 1
sum() { cksum "$1" | cut -d' ' -f1,2; }
x_sum=$(sum x.npy) w_sum=$(sum model.safetensors)

echo "== a plain run"
"$run" --weights model.safetensors --input x.npy --output y.npy || fail "the plain run failed"
[ -f y.npy ] || fail "no y.npy"
ls -A > listing
if [ "$(cat listing | tr '\n' ' ')" != "listing model.safetensors two.safetensors x.npy y.npy " ]; then
    fail "the run left other files: $(cat listing | tr '\n' ' ')"
fi
y_sum=$(sum y.npy)

# refused: rc 2, a message naming both options, every input unchanged
refused() {
    what=$1
    shift
    if out=$("$run" "$@" 2>&1); then
        fail "lstmcl-run accepted $what"
    elif ! echo "$out" | grep -q "same file"; then
        fail "lstmcl-run on $what said: $out"
    else
        echo "refused $what: $out"
    fi
    [ "$(sum x.npy)" = "$x_sum" ] || fail "$what changed x.npy"
    [ "$(sum model.safetensors)" = "$w_sum" ] || fail "$what changed model.safetensors"
}
echo "== outputs that name an input"
refused "--output = --input" --weights model.safetensors --input x.npy --output x.npy
refused "--output = --weights" --weights model.safetensors --input x.npy --output model.safetensors
refused "--output = ./--input" --weights model.safetensors --input x.npy --output ./x.npy
ln -s x.npy link.npy
refused "--output a link to --input" --weights model.safetensors --input x.npy --output link.npy
ln x.npy hard.npy
refused "--output a hard link of --input" --weights model.safetensors --input x.npy --output hard.npy
rm -f link.npy hard.npy
refused "--state-out's h = --output" --weights model.safetensors --input x.npy --output s_h.npy \
    --state-out s
ln -s x.npy st_c.npy
refused "--state-out's c = --input" --weights model.safetensors --input x.npy --output y2.npy \
    --state-out st
rm -f st_c.npy y2.npy s_h.npy

echo "== a link planted where a temporary file could go is not followed"
echo "precious" > victim
for name in y.npy.tmp .y.npy.tmp y.npy.tmp.1 ".y.npy.aaaaaa.tmp"; do ln -s victim "$name"; done
"$run" --weights model.safetensors --input x.npy --output y.npy || fail "the run beside links failed"
[ "$(cat victim)" = "precious" ] || fail "a planted link was followed: victim now holds $(head -c 40 victim)"
[ "$(sum y.npy)" = "$y_sum" ] || fail "y.npy differs from the first run's"
rm -f victim y.npy.tmp .y.npy.tmp y.npy.tmp.1 ".y.npy.aaaaaa.tmp"

echo "== an output that is a link is replaced, its target kept"
echo "kept" > target
ln -s target out.npy
"$run" --weights model.safetensors --input x.npy --output out.npy || fail "output over a link failed"
[ "$(cat target)" = "kept" ] || fail "the link's target was written"
[ -f out.npy ] && [ ! -L out.npy ] || fail "out.npy is not a regular file now"
rm -f target out.npy

echo "== a FIFO as output is written, not replaced"
mkfifo fifo.npy
cat fifo.npy > from_fifo &
reader=$!
"$run" --weights model.safetensors --input x.npy --output fifo.npy || fail "output to a FIFO failed"
if [ -p fifo.npy ]; then
    wait $reader
    cmp -s from_fifo y.npy || fail "what came through the FIFO differs from y.npy"
else
    fail "the FIFO was replaced"
    kill $reader 2>/dev/null # it waits for a writer that will not come
fi
rm -f fifo.npy from_fifo

echo "== a device as output is written, not replaced"
if [ "$(id -u)" -eq 0 ] && mknod full c 1 7 2>/dev/null; then
    # a node of /dev/full's device, here: the run must fail on it and keep it
    if out=$("$run" --weights model.safetensors --input x.npy --output full 2>&1); then
        fail "writing to a full device succeeded"
    else
        echo "on a full device: $out"
        echo "$out" | grep -q "No space left" || fail "the message does not say the device is full"
    fi
    [ -c full ] || fail "the device node was replaced"
    rm -f full
else
    echo "(not root here: the FIFO case stands for devices)"
fi
if [ "$(id -u)" -eq 0 ] && mknod null c 1 3 2>/dev/null; then
    # a node of /dev/null's device, here (never the machine's own)
    "$run" --weights model.safetensors --input x.npy --output null || fail "output to a null device failed"
    [ -c null ] || fail "the null device node was replaced"
    rm -f null
fi

echo "== headers before payloads: a 3 GiB sparse file is refused at once"
truncate -s 3G big
for opt in --weights --input; do
    start=$(date +%s)
    if [ $opt = --weights ]; then
        out=$("$run" --weights big --input x.npy --output never.npy 2>&1)
    else
        out=$("$run" --weights model.safetensors --input big --output never.npy 2>&1)
    fi
    rc=$?
    took=$(( $(date +%s) - start ))
    echo "$opt big: rc $rc in ${took}s: $out"
    [ $rc -ne 0 ] || fail "$opt big was accepted"
    [ $took -le 3 ] || fail "$opt big took ${took}s (read whole?)"
done
# and a file whose header is right but whose payload is short or long
head -c 100 x.npy > short.npy
out=$("$run" --weights model.safetensors --input short.npy --output never.npy 2>&1) &&
    fail "a short .npy was accepted"
echo "short .npy: $out"
rm -f big short.npy never.npy

echo "== messages"
mkdir folder.npy
out=$("$run" --weights model.safetensors --input folder.npy --output never.npy 2>&1)
echo "$out" | grep -q "folder" || fail "a folder as input said: $out"
out=$("$run" --weights model.safetensors --input x.npy --output folder.npy 2>&1)
echo "$out" | grep -q "folder" || fail "a folder as output said: $out"
[ -d folder.npy ] || fail "the folder is gone"
out=$("$run" --weights model.safetensors --input x.npy --output y.npy --bogus 2>&1)
echo "$out" | grep -q "unknown option" || fail "--bogus said: $out"
out=$("$run" --weights model.safetensors --input x.npy --output 2>&1)
echo "$out" | grep -q "needs a value" || fail "--output with no value said: $out"
out=$("$run" --weights two.safetensors --input x.npy --output y3.npy 2>&1) &&
    fail "a file with two LSTMs was run without --prefix"
echo "$out" | grep -q -- "--prefix" || fail "two LSTMs said: $out"
"$run" --weights two.safetensors --prefix b. --input x.npy --output y3.npy ||
    fail "--prefix b. failed"
cmp -s y3.npy y.npy || fail "--prefix b. gave another output than the same weights alone"

[ $status -eq 0 ] && echo "lstmcl-run's files: all checks passed"
exit $status
