#!/bin/sh
# lstmcl's front door on Debian 12: installs what is missing, builds, and
#   ./run.sh train [lstmcl-train options]  trains a character-level LSTM (the main job)
#   ./run.sh test                          runs the test suite
#   ./run.sh demo [lstmcl-demo options]    one forward+backward checked against a reference
#   ./run.sh build                         only builds (into ./build)
set -eu

cd "$(dirname "$0")"
job=${1:-train}
[ $# -gt 0 ] && shift

packages="gcc g++ python3 meson ninja-build pkg-config ocl-icd-opencl-dev opencl-c-headers
          libclblast-dev pocl-opencl-icd check libopenblas-dev oclgrind"

install_missing() {
    missing=""
    for p in $packages; do
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
    install_missing
    build
    exec meson test -C build --print-errorlogs "$@"
    ;;
build)
    install_missing
    build
    ;;
*)
    echo "usage: ./run.sh train|test|demo|build [options]" >&2
    exit 2
    ;;
esac
