#!/bin/sh
# Runs kernel tests on Oclgrind, a simulated OpenCL device that reports
# out-of-bounds accesses, data races between work-items and API misuse, and
# fails on any report.  Usage: oclgrind.sh TEST-PROGRAM...
# Skips (77) when Oclgrind is not installed, unless
# LSTMCL_TEST_REQUIRE_OCLGRIND=1 (set by CI).
set -u
icd=/usr/lib/oclgrind/liboclgrind-rt-icd.so
if [ ! -f "$icd" ]; then
    if [ "${LSTMCL_TEST_REQUIRE_OCLGRIND:-}" = 1 ]; then
        echo "FAIL: Oclgrind is required but $icd is missing (apt-get install oclgrind)"
        exit 1
    fi
    echo "SKIP: Oclgrind is not installed"
    exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
echo "$icd" > "$dir/oclgrind.icd"
# The uninitialised-value checker of Oclgrind 21.10 stops at LLVM's "freeze"
# instruction, which its own compiler emits for our kernels; the others run.
export OCL_ICD_VENDORS="$dir" OCLGRIND_CHECK_API=1 OCLGRIND_DATA_RACES=1
# The shapes with 70,001 rows would take hours here (tag many-rows; they run
# on PoCL, also under GPU-like limits).
export LSTMCL_TEST_REQUIRE_DEVICE=1 LSTMCL_TUNING=off CK_FORK=no CK_EXCLUDE_TAGS=many-rows
status=0
for prog in "$@"; do
    for run in fused gemm tiled gemm-gpu; do
        # The tiled path runs in work-groups of 16 (4 units a tile), so that
        # small shapes span several tiles and a partial last one; the
        # training tests add no tiled kernel of their own.  Oclgrind says
        # it is a CPU, so the GEMM path takes the CPU's float16 step
        # kernels; gemm-gpu runs it as a GPU would, on the scalar ones.
        path=$run limits=
        case "$run" in
        tiled)
            case "$(basename "$prog")" in test-train*) continue ;; esac
            limits=wg=16 ;;
        gemm-gpu)
            case "$(basename "$prog")" in test-lstm|test-plan) ;; *) continue ;; esac
            path=gemm limits=gpu ;;
        esac
        log="$dir/$(basename "$prog")-$run.log"
        start=$(date +%s)
        LSTMCL_TEST_DEVICE_LIMITS=$limits LSTMCL_RECURRENT=$path "$prog" > "$log" 2>&1
        rc=$?
        took=$(( $(date +%s) - start ))
        reports=$(grep -ciE "invalid (read|write)|data race|OCLGRIND FATAL|runtime error detected|uninitiali[sz]ed value" "$log")
        echo "$(basename "$prog") ($run path) on Oclgrind: exit $rc, $reports reports in ${took} s; $(grep -E 'Checks:' "$log" | tail -1)"
        if [ "$rc" -ne 0 ] || [ "$reports" -ne 0 ]; then
            grep -iE -A8 "invalid (read|write)|data race|OCLGRIND FATAL|runtime error detected|uninitiali[sz]ed value|:F:|:E:" "$log" | head -60
            status=1
        fi
    done
done
exit $status
