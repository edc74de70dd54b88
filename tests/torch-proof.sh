#!/bin/sh
# lstmcl against PyTorch: makes the cases with tests/torch_cases.py
# (Debian's python3-torch), checks the library on each per-step path
# (test-torch), then lstmcl-run on every case, compared with numpy.
# Usage: torch-proof.sh TEST-TORCH LSTMCL-RUN TESTS-SOURCE-DIR
# Skips (77) when python3-torch is missing, unless
# LSTMCL_TEST_REQUIRE_TORCH=1 (set by CI).
set -u
test_torch=$1 run=$2 src=$3
py=/usr/bin/python3
[ -x "$py" ] || py=python3
if ! "$py" -c 'import torch, numpy' 2>/dev/null; then
    if [ "${LSTMCL_TEST_REQUIRE_TORCH:-}" = 1 ]; then
        echo "FAIL: python3-torch is required (apt-get install python3-torch)"
        exit 1
    fi
    echo "SKIP: python3-torch is not installed"
    exit 77
fi
onnx=1
"$py" -c 'import onnx' 2>/dev/null || onnx=0
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# the exporter's warnings about shape inference are its own
"$py" "$src/torch_cases.py" "$dir" > "$dir/gen.log" 2>&1 || { cat "$dir/gen.log"; exit 1; }
status=0
for path in fused gemm tiled; do
    echo "== the library on the $path path"
    LSTMCL_TORCH_CASES=$dir LSTMCL_RECURRENT=$path "$test_torch" || status=1
done
echo "== lstmcl-run"
for case in "$dir"/case*; do
    set -- --weights "$case/model.safetensors" --input "$case/x.npy" --output "$case/y-run.npy" \
        --state-out "$case/run"
    grep -q '^batch_first 1' "$case/meta.txt" && set -- "$@" --batch-first
    [ -f "$case/lengths.npy" ] && set -- "$@" --lengths "$case/lengths.npy"
    [ -f "$case/h0.npy" ] && set -- "$@" --h0 "$case/h0.npy" --c0 "$case/c0.npy"
    "$run" "$@" || { echo "lstmcl-run failed on $case"; status=1; continue; }
    "$py" - "$case" <<'PY' || status=1
import sys, numpy as np
d = sys.argv[1]
worst = 0.0
for got, want in (("y-run", "y"), ("run_h", "hn"), ("run_c", "cn")):
    g, w = np.load("%s/%s.npy" % (d, got)), np.load("%s/%s.npy" % (d, want))
    assert g.dtype == np.float32 and g.shape == w.shape, (got, g.dtype, g.shape, w.shape)
    err = np.sqrt(np.mean((g - w) ** 2)) / max(np.sqrt(np.mean(w ** 2)), 0.1)
    worst = max(worst, err)
    if not err <= 1e-5:
        sys.exit("%s: lstmcl-run's %s differs from PyTorch's: %.3e" % (d, want, err))
print("%s: lstmcl-run matches PyTorch (largest normalised error %.2e)" % (d.split("/")[-1], worst))
PY
done
echo "== lstmcl-run refuses mismatched inputs, naming the file and field"
c="$dir/case05"   # 2 layers, bidirectional, time-major, D = 9, H = 8, N = 7, T = 6
"$py" - "$dir" <<'PY'
import sys, numpy as np
d = sys.argv[1]
np.save(d + "/x-d.npy", np.zeros((6, 7, 5), np.float32))
np.save(d + "/x-i.npy", np.zeros((6, 7, 9), np.int32))
np.save(d + "/x-2d.npy", np.zeros((6, 9), np.float32))
np.save(d + "/len-long.npy", np.array([1, 2, 3, 4, 5, 6, 7], np.int64))
np.save(d + "/len-n.npy", np.array([1, 2], np.int32))
np.save(d + "/len-f.npy", np.ones(7, np.float32))
np.save(d + "/h0-bad.npy", np.zeros((2, 7, 8), np.float32))
open(d + "/junk.npy", "wb").write(b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4'")
PY
expect_fail() { # WHAT PATTERN ARGS...: exits non-zero and says PATTERN
    what=$1 pattern=$2
    shift 2
    if out=$("$run" "$@" --output "$dir/never.npy" 2>&1); then
        echo "FAIL: lstmcl-run accepted $what"; status=1
    elif ! printf '%s' "$out" | grep -q -- "$pattern"; then
        echo "FAIL: lstmcl-run on $what said: $out"; status=1
    else
        echo "ok: $what: $out"
    fi
}
W="--weights $c/model.safetensors"
expect_fail "an input of the wrong D" "x-d.npy: .*D = 5, but the model .* takes D = 9" $W --input "$dir/x-d.npy"
expect_fail "an int32 input" "x-i.npy: the input has dtype int32" $W --input "$dir/x-i.npy"
expect_fail "a 2-d input" "x-2d.npy: the input has shape (6, 9)" $W --input "$dir/x-2d.npy"
expect_fail "a length past T" "len-long.npy: length 6 is 7; each must be 1..T (T = 6" $W --input "$c/x.npy" --lengths "$dir/len-long.npy"
expect_fail "lengths of the wrong N" "len-n.npy: the lengths are int32 (2,); they must be int32 or int64 of shape (7,)" $W --input "$c/x.npy" --lengths "$dir/len-n.npy"
expect_fail "float lengths" "len-f.npy: the lengths are float32" $W --input "$c/x.npy" --lengths "$dir/len-f.npy"
expect_fail "an h0 of the wrong shape" "h0-bad.npy: h0 has shape (2, 7, 8); its dimension 0 (layers\*dirs) must be 4" $W --input "$c/x.npy" --h0 "$dir/h0-bad.npy"
expect_fail "a truncated .npy" "junk.npy: the header is" $W --input "$dir/junk.npy"
expect_fail "a missing model" "nothing.safetensors" --weights "$dir/nothing.safetensors" --input "$c/x.npy"
expect_fail "a model that is not safetensors" "x.npy" --weights "$c/x.npy" --input "$c/x.npy"
expect_fail "batch-first swapping N and T" "lengths.npy: the lengths are int64 (7,); they must be int32 or int64 of shape (6,)" $W --input "$c/x.npy" --lengths "$c/lengths.npy" --batch-first
expect_fail "a bad repeat count" "repeat" $W --input "$c/x.npy" --repeat 0
[ "$onnx" = 1 ] || { echo "FAIL: python3-onnx is missing: the ONNX export case was not made"; status=1; }
exit $status
