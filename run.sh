#!/bin/sh
# lstmcl's front door on Debian 12: installs what is missing, builds, and
#   ./run.sh train [lstmcl-train options]  trains a character-level LSTM (the main job)
#   ./run.sh test                          runs the test suite (a few minutes; not
#                                          the Oclgrind and rusticl suites)
#   ./run.sh test-all                      the test suite, then the kernel tests on
#                                          Oclgrind and on Mesa's rusticl (CI's)
#   ./run.sh demo [lstmcl-demo options]    one forward+backward checked against a reference
#   ./run.sh sanitize                      the tests under ASan and UBSan (build-sanitize)
#   ./run.sh tsan                          the thread tests under ThreadSanitizer (build-tsan)
#   ./run.sh valgrind                      the host-side tests under valgrind
#   ./run.sh fuzz [SECONDS]                the file parsers under libFuzzer (build-fuzz)
#   ./run.sh build                         only builds (into ./build)
set -eu

cd "$(dirname "$0")"
job=${1:-train}
[ $# -gt 0 ] && shift

# what every job needs (OpenBLAS and oneDNN: the benchmark's host baselines; Open
# MPI: lstmcl-train on several processes); the heavier checks add their own tools
packages="gcc g++ python3 meson ninja-build pkg-config ocl-icd-opencl-dev opencl-c-headers
          libclblast-dev pocl-opencl-icd check libopenblas-dev libdnnl-dev libjansson-dev
          libopenmpi-dev openmpi-bin"

# install_missing [EXTRA-PACKAGE...]
install_missing() {
    missing=""
    for p in $packages "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    echo "run.sh: installing:$missing" >&2
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -q >&2
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing >&2
}

build() {
    if [ ! -f build/build.ninja ]; then
        meson setup build >&2
    fi
    ninja -C build >&2
}

case "$job" in
train)
    install_missing
    build
    exec build/tools/lstmcl-train "$@"
    ;;
demo)
    install_missing
    build
    exec build/tools/lstmcl-demo "$@"
    ;;
test)
    # clang-15: the kernel portability check (amdgcn and nvptx64); PyTorch,
    # numpy and onnx: the proof against nn.LSTM and torch.onnx.export;
    # pytest: the Python package.  The simulated and second OpenCL
    # implementations take longer: ./run.sh test-all runs them too.
    install_missing clang-15 python3-torch python3-numpy python3-onnx python3-pytest
    build
    echo "run.sh test: every suite but oclgrind and rusticl (./run.sh test-all runs those too)" >&2
    rc=0
    meson test -C build --print-errorlogs --no-suite oclgrind --no-suite rusticl "$@" || rc=$?
    echo "run.sh test: skipped the oclgrind suite (the kernel tests on Oclgrind's simulated" \
         "device) and the rusticl suite (on Mesa's rusticl): ./run.sh test-all runs them" >&2
    exit $rc
    ;;
test-all)
    # the suite above, then the kernel tests on Oclgrind (out-of-bounds
    # accesses, races) and on Mesa's rusticl on llvmpipe (the compiler path
    # of Mesa's GPU drivers); their results go to testlog-extra.json
    install_missing oclgrind mesa-opencl-icd clang-15 python3-torch python3-numpy \
        python3-onnx python3-pytest
    rc=0
    sh ./run.sh test "$@" || rc=$?
    echo "run.sh test-all: the oclgrind and rusticl suites" >&2
    meson test -C build --print-errorlogs --suite oclgrind --suite rusticl \
        --logbase testlog-extra "$@" || rc=1
    exit $rc
    ;;
sanitize)
    # the tests built with AddressSanitizer and UndefinedBehaviorSanitizer
    install_missing
    if [ ! -f build-sanitize/build.ninja ]; then
        meson setup build-sanitize -Db_sanitize=address,undefined -Db_lundef=false >&2
    fi
    ninja -C build-sanitize >&2
    # The sanitized tests see PoCL's ICD only: LeakSanitizer's tracer crashes
    # at a correct process's exit reading the dynamic TLS of Mesa's OpenCL
    # libraries (mesa-opencl-icd), which the ICD loader loads into every
    # process (39 exits of 40 of one lstmcl-run case, 2026-12-08).
    # tests/lsan.supp still names Mesa's leaks, for runs that load them.
    if [ -f /etc/OpenCL/vendors/pocl.icd ]; then
        mkdir -p build-sanitize/icd
        cp /etc/OpenCL/vendors/pocl.icd build-sanitize/icd/
        OCL_ICD_VENDORS=$PWD/build-sanitize/icd
        export OCL_ICD_VENDORS
    fi
    LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp" \
    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
    ASAN_OPTIONS="detect_leaks=1" \
        exec meson test -C build-sanitize --print-errorlogs --no-suite oclgrind --no-suite rusticl "$@"
    ;;
tsan)
    # the tests of threads (one context shared, contexts side by side) built
    # with ThreadSanitizer: PoCL's own threads are not instrumented, but every
    # access of lstmcl's and the pthread calls that order them are
    install_missing
    if [ ! -f build-tsan/build.ninja ]; then
        meson setup build-tsan -Db_sanitize=thread -Db_lundef=false >&2
    fi
    ninja -C build-tsan >&2
    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
        exec meson test -C build-tsan --print-errorlogs threads robust "$@"
    ;;
valgrind)
    # the host-side tests under valgrind's memcheck
    install_missing valgrind
    build
    exec meson test -C build --setup valgrind --print-errorlogs reference weights "$@"
    ;;
fuzz)
    # the parsers of untrusted files under libFuzzer, SECONDS (60) each
    install_missing clang libclang-rt-14-dev
    seconds=${1:-60}
    if [ ! -f build-fuzz/build.ninja ]; then
        CC=clang CXX=clang++ meson setup build-fuzz -Dfuzzing=true \
            -Db_sanitize=address,undefined -Db_lundef=false >&2
    fi
    ninja -C build-fuzz fuzz/fuzz-tuning fuzz/fuzz-checkpoint fuzz/fuzz-safetensors fuzz/fuzz-npy >&2
    for f in tuning checkpoint safetensors npy; do
        work=$(mktemp -d)
        cp fuzz/corpus/$f/* "$work"/
        echo "fuzzing the $f parser for $seconds s" >&2
        UBSAN_OPTIONS="halt_on_error=1" build-fuzz/fuzz/fuzz-$f -max_total_time="$seconds" \
            -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$work" 2> "$work.log" || {
            tail -40 "$work.log" >&2
            echo "FAIL: the $f fuzzer found a problem" >&2
            exit 1
        }
        grep -E "^Done|stat::number_of_executed_units" "$work.log" | head -2 >&2
        rm -rf "$work" "$work.log"
    done
    ;;
build)
    install_missing
    build
    ;;
*)
    echo "usage: ./run.sh train|test|test-all|demo|sanitize|tsan|valgrind|fuzz|build [options]" >&2
    exit 2
    ;;
esac
