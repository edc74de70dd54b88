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
[ "$onnx" = 1 ] || { echo "FAIL: python3-onnx is missing: the ONNX export case was not made"; status=1; }
exit $status
