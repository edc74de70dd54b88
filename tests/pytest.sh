#!/bin/sh
# The Python package's tests under pytest (Debian's python3-pytest), on the
# library just built.  Usage: pytest.sh LIBLSTMCL.so SOURCE-ROOT
# Skips (77) when pytest or numpy is missing, unless
# LSTMCL_TEST_REQUIRE_TORCH=1 (set by CI, which installs them).
set -u
lib=$1 src=$2
py=/usr/bin/python3
[ -x "$py" ] || py=python3
if ! "$py" -c 'import pytest, numpy' 2>/dev/null; then
    if [ "${LSTMCL_TEST_REQUIRE_TORCH:-}" = 1 ]; then
        echo "FAIL: python3-pytest and python3-numpy are required"
        exit 1
    fi
    echo "SKIP: python3-pytest or python3-numpy is not installed"
    exit 77
fi
# a library built with the sanitizers (./run.sh sanitize) needs their
# runtimes loaded first in a python3 that was not built with them; Python's
# own memory at exit is not a leak of lstmcl's
if ldd "$lib" 2>/dev/null | grep -q libasan; then
    LD_PRELOAD="$(ldd "$lib" | awk '/libasan|libubsan/ {printf "%s ", $3}')"
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
    export LD_PRELOAD ASAN_OPTIONS
fi
export LSTMCL_LIBRARY="$lib" PYTHONPATH="$src/python:$src/tests/python${PYTHONPATH:+:$PYTHONPATH}"
cd "$src/tests/python" || exit 1
exec "$py" -m pytest -q -s -p no:cacheprovider .
