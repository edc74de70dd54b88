#!/bin/sh
# meson install into a scratch root, then the installed Python package
# imports in a fresh python3 (no LSTMCL_LIBRARY, no source tree on its path)
# and runs an LSTM.  Usage: install-check.sh BUILD-DIR
set -u
build=$1
py=/usr/bin/python3
[ -x "$py" ] || py=python3
"$py" -c 'import numpy' 2>/dev/null || { echo "SKIP: python3-numpy is missing"; exit 77; }
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --destdir "$dest" --no-rebuild > "$dest.log" 2>&1 ||
    { cat "$dest.log"; rm -f "$dest.log"; exit 1; }
rm -f "$dest.log"
init=$(find "$dest" -path '*/dist-packages/lstmcl/__init__.py' -o -path '*/site-packages/lstmcl/__init__.py' | head -1)
lib=$(find "$dest" -name 'liblstmcl.so.0' | head -1)
[ -n "$init" ] && [ -n "$lib" ] || { echo "FAIL: the package or the library was not installed"; exit 1; }
[ -f "$(dirname "$init")/_config.py" ] || { echo "FAIL: lstmcl/_config.py was not installed"; exit 1; }
# a sanitized build's library needs the sanitizers' runtimes first (see pytest.sh)
if ldd "$lib" 2>/dev/null | grep -q libasan; then
    LD_PRELOAD="$(ldd "$lib" | awk '/libasan|libubsan/ {printf "%s ", $3}')"
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
    export LD_PRELOAD ASAN_OPTIONS
fi
# the installed _config names the real prefix; under --destdir the library is
# found by the loader instead, as it would be after ldconfig
cd "$dest" && env -u LSTMCL_LIBRARY -u PYTHONPATH LD_LIBRARY_PATH="$(dirname "$lib")" \
    PYTHONPATH="$(dirname "$(dirname "$init")")" "$py" -c '
import numpy as np, lstmcl, sys
assert "/tmp" in lstmcl.__file__ or "dist-packages" in lstmcl.__file__, lstmcl.__file__
h, c = lstmcl.lstm_forward(np.ones((2, 3, 4)), np.zeros((2, 5)), np.zeros((4, 20)),
                           np.zeros((5, 20)), np.zeros(20))
assert h.shape == (2, 3, 5) and h.dtype == np.float64
print("installed package imports and runs:", lstmcl.__file__)
'
