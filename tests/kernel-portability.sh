#!/bin/sh
# The kernel portability check: compiles OpenCL C files as one program, in
# the order given (lstmcl builds cl/lstm.cl, fused.cl, tiled.cl, train.cl as
# one), with clang for AMD (amdgcn) and NVIDIA (nvptx64) GPUs, the way
# clang-based GPU drivers (ROCm, Intel, Apple, Mesa) compile them, and fails
# on anything beyond what lstmcl requires of a device, OpenCL C 1.2 with no
# extension:
#   - any error or warning (-Wall -Wextra -Werror), at -O0 and -O2;
#   - an OpenCL C 2.0 feature or an extension (cl_khr_fp64, atomics, ...):
#     -cl-std=CL1.2 with every extension turned off;
#   - a function left undefined in the output, such as a helper declared
#     `inline` without `static` (a link error on those drivers; -O0 keeps
#     the compiler from hiding it by inlining);
#   - images and samplers (optional in OpenCL 1.2) and printf.
# Usage: kernel-portability.sh [--expect-failure] FILE.cl...
# With --expect-failure it succeeds only if the check fails (for the planted
# bad kernels in tests/portability/).  Skips (77) without clang-15 or
# clang-14, unless LSTMCL_TEST_REQUIRE_CLANG=1 (set by CI).
set -u
expect_failure=0
if [ "${1:-}" = --expect-failure ]; then
    expect_failure=1
    shift
fi
[ $# -gt 0 ] || { echo "usage: $0 [--expect-failure] FILE.cl..." >&2; exit 2; }
cc=$(command -v clang-15 || command -v clang-14 || true)
if [ -z "$cc" ]; then
    if [ "${LSTMCL_TEST_REQUIRE_CLANG:-}" = 1 ]; then
        echo "FAIL: clang-15 is required (apt-get install clang-15)"
        exit 1
    fi
    echo "SKIP: no clang-15 or clang-14"
    exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for f in "$@"; do
    printf '#line 1 "%s"\n' "$(basename "$f")"
    cat "$f"
done > "$dir/program.cl"
problems=0
for target in amdgcn-amd-amdhsa nvptx64-nvidia-cuda; do
    for opt in -O0 -O2; do
        if ! "$cc" -x cl -cl-std=CL1.2 -Xclang -finclude-default-header -Xclang -cl-ext=-all \
                -nogpulib -target $target $opt -Wall -Wextra -Werror -S -emit-llvm \
                "$dir/program.cl" -o "$dir/out.ll" 2> "$dir/err"; then
            echo "$target $opt: does not compile:"
            head -20 "$dir/err"
            problems=$((problems + 1))
            continue
        fi
        und=$(grep -E '^declare' "$dir/out.ll" | grep -vE '@llvm\.|@_Z|@__' |
              sed -E 's/.*@([A-Za-z0-9_.]+)\(.*/\1/' | sort -u | tr '\n' ' ')
        if [ -n "$und" ]; then
            echo "$target $opt: undefined functions (a link error on GPU drivers): $und"
            problems=$((problems + 1))
        fi
    done
done
if grep -nE '\b(image[123]d(_array|_buffer)?_t|sampler_t|printf)\b' "$dir/program.cl" > "$dir/opt"; then
    echo "uses images, samplers or printf (optional in OpenCL 1.2):"
    head -5 "$dir/opt"
    problems=$((problems + 1))
fi
if [ "$expect_failure" = 1 ]; then
    if [ "$problems" -eq 0 ]; then
        echo "FAIL: the check passed $*, which it must refuse"
        exit 1
    fi
    echo "refused, as it must be: $*"
    exit 0
fi
if [ "$problems" -ne 0 ]; then
    echo "FAIL: $problems problem(s) in $*"
    exit 1
fi
echo "portable: $* compile for amdgcn and nvptx64 as OpenCL C 1.2, no extensions, no undefined functions"
