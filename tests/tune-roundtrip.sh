#!/bin/sh
# lstmcl-tune writes a tuning file that lstmcl then reads and applies, and
# lstmcl-demo still matches the reference with it.
set -eu
tune=$1
demo=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$tune" --budget 10 --shape 2,3,8,8 --output "$dir/t.tune" > "$dir/out" 2> "$dir/err" || {
    st=$?
    if grep -q "no OpenCL device" "$dir/err" && [ "${LSTMCL_TEST_REQUIRE_DEVICE:-}" != 1 ]; then
        exit 77
    fi
    cat "$dir/err"
    exit $st
}
grep -q '^lstmcl-tuning 1$' "$dir/t.tune"
grep -q '^device ' "$dir/t.tune"
grep -Eq '^recurrent (fused|gemm|tiled)$' "$dir/t.tune"
grep -Eq '^gemm (clblast|onednn)$' "$dir/t.tune"
# on a CPU device (the fused path is tried) of a build with oneDNN, both GEMM
# backends are measured
if [ "${LSTMCL_TEST_EXPECT_GEMM:-}" = onednn-on-cpu ] &&
   grep -q "path fused, GEMMs on clblast" "$dir/err"; then
    grep -q "path fused, GEMMs on onednn : training step" "$dir/err" || { cat "$dir/err"; exit 1; }
    grep -q "^# per-step path, training step, GEMMs on onednn:" "$dir/t.tune"
fi
LSTMCL_TUNING_FILE="$dir/t.tune" "$demo" --shape 3,4,5,6 --repeat 1 > "$dir/demo"
grep -q "match the reference" "$dir/demo"
echo "tuning file written and applied"
