#!/bin/sh
# Runs one test program on Mesa's rusticl on llvmpipe (mesa-opencl-icd), the
# compiler path of Mesa's GPU drivers (clang, SPIR-V, NIR).  MODE cpu: as
# rusticl presents itself (a CPU device; lstmcl takes the tiled path there,
# docs/performance.md); fused: on the fused kernels, the CPU path whose
# launch llvmpipe's loop limiter broke (docs/portability.md); gpu: seen as a
# GPU (LSTMCL_TEST_DEVICE_LIMITS=gpu: GPU launch rules, no oneDNN GEMMs).
#   rusticl.sh LSTMCL-DEVICES MODE PROGRAM [ARGS...]
# Skips (77) when rusticl has no device here, unless
# LSTMCL_TEST_REQUIRE_RUSTICL=1 (set by CI, which installs it), then fails.
set -u
devices=$1 mode=$2
shift 2
export RUSTICL_ENABLE=llvmpipe
if ! "$devices" 2>/dev/null | grep -q "rusticl / llvmpipe"; then
    if [ "${LSTMCL_TEST_REQUIRE_RUSTICL:-}" = 1 ]; then
        echo "FAIL: no rusticl device (apt-get install mesa-opencl-icd; RUSTICL_ENABLE=llvmpipe)"
        exit 1
    fi
    echo "SKIP: no rusticl device (mesa-opencl-icd is not installed)"
    exit 77
fi
export LSTMCL_DEVICE=rusticl LSTMCL_TEST_REQUIRE_DEVICE=1 CK_FORK=no
unset LSTMCL_TEST_EXPECT_GEMM
unset LSTMCL_TEST_DEVICE_LIMITS LSTMCL_RECURRENT
case "$mode" in
gpu) export LSTMCL_TEST_DEVICE_LIMITS=gpu ;;
fused) export LSTMCL_RECURRENT=fused ;;
cpu) ;;
*) echo "rusticl.sh: unknown mode $mode"; exit 2 ;;
esac
"$devices" | grep "rusticl"
exec "$@"
