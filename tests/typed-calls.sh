#!/bin/sh
# Kernel calls are checked by the C compiler (LSTMCL_RUN, src/internal.h):
# a call naming every argument of lstm_copy_view compiles; one that leaves
# an argument out, names one twice, misspells one or passes a buffer where a
# number belongs does not.  Usage: typed-calls.sh SOURCE-ROOT BUILD-ROOT CC...
set -u
src=$1 build=$2
shift 2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
compile() { # compile NAME ARGUMENTS CC...: whether a call with ARGUMENTS compiles
    n=$1 args=$2
    shift 2
    cat > "$dir/$n.c" <<C
#include "src/internal.h"
lstmcl_status call(lstmcl_context *ctx, cl_mem a, cl_mem b);
lstmcl_status call(lstmcl_context *ctx, cl_mem a, cl_mem b)
{
    return LSTMCL_RUN(ctx, lstm_copy_view, lstmcl__items(4, 3), $args);
}
C
    "$@" -std=c11 -Wall -Wextra -Werror=override-init -Werror=int-conversion \
        -Werror=incompatible-pointer-types -DCL_TARGET_OPENCL_VERSION=120 \
        -I"$src" -I"$src/include" -I"$build" -c "$dir/$n.c" -o "$dir/$n.o" \
        > "$dir/$n.log" 2>&1
}
good='.rows = 3, .cols = 4, .src = a, .s_off = 0, .s_rs = 4, .s_cs = 1, .dst = b, .d_off = 0, .d_rs = 4, .d_cs = 1'
status=0
if ! compile good "$good" "$@"; then
    echo "FAIL: a call with every argument does not compile:"; cat "$dir/good.log"; exit 1
fi
for bad in \
    "missing|.rows = 3, .cols = 4, .src = a, .s_off = 0, .s_rs = 4, .s_cs = 1, .dst = b, .d_off = 0, .d_rs = 4" \
    "repeated|.rows = 3, .cols = 4, .src = a, .s_off = 0, .s_rs = 4, .s_cs = 1, .dst = b, .d_off = 0, .d_rs = 4, .d_rs = 1" \
    "misspelt|.rows = 3, .cols = 4, .src = a, .s_off = 0, .s_rs = 4, .s_cs = 1, .dst = b, .d_off = 0, .d_rs = 4, .dcs = 1" \
    "buffer-for-number|.rows = 3, .cols = 4, .src = a, .s_off = 0, .s_rs = 4, .s_cs = 1, .dst = b, .d_off = 0, .d_rs = 4, .d_cs = a" \
    "number-for-buffer|.rows = 3, .cols = 4, .src = 7, .s_off = 0, .s_rs = 4, .s_cs = 1, .dst = b, .d_off = 0, .d_rs = 4, .d_cs = 1"; do
    name=${bad%%|*}
    if compile "$name" "${bad#*|}" "$@"; then
        echo "FAIL: the call with a $name argument compiled"
        status=1
    else
        echo "refused at compile time, as it must be: $name argument ($(grep -m1 -oE 'error: .*' "$dir/$name.log" | cut -c1-90))"
    fi
done
exit $status
