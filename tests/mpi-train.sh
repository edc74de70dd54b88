#!/bin/sh
# Data-parallel lstmcl-train under mpirun, on PoCL with one CPU thread per
# process:
#  - K=2 and K=4 processes give one process's loss curve (same global batch,
#    dropout on) to a relative 1e-5 at every one of 50 steps;
#  - a K=2 run repeats bitwise (loss curve and checkpoint), and the
#    processes' parameters are checked identical at the end;
#  - a run saved with 2 processes resumes with 1 and with 4 and goes on as
#    the run that was never stopped; a batch that 3 does not divide is
#    refused;
#  - a process that is killed, fails in a step, or cannot open its device
#    makes the whole run exit non-zero with a message, within a time limit
#    (never a hang).
# Usage: mpi-train.sh LSTMCL-TRAIN mpi|no-mpi (how lstmcl-train was built).
# Without MPI (or mpirun) it skips, unless LSTMCL_TEST_REQUIRE_MPI=1 (CI).
set -eu
train=$1
if [ "$2" != mpi ] || ! command -v mpirun > /dev/null; then
    if [ "${LSTMCL_TEST_REQUIRE_MPI:-}" = 1 ]; then
        echo "FAIL: lstmcl-train was built without MPI, or mpirun is missing (install" \
             "libopenmpi-dev and openmpi-bin), and LSTMCL_TEST_REQUIRE_MPI=1"
        exit 1
    fi
    echo "SKIP: lstmcl-train was built without MPI, or there is no mpirun"
    exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export POCL_MAX_PTHREAD_COUNT=1
# In the sanitizers' job: AddressSanitizer and UBSan check every process,
# but not LeakSanitizer, whose tracer was seen to crash (signal 11) at the
# exit of a process that ran Open MPI's threads, failing a correct run; the
# leak checks of lstmcl-train's code run in the one-process tests.
if [ -n "${ASAN_OPTIONS:-}" ]; then
    export ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0"
fi
mpirun="mpirun --allow-run-as-root --oversubscribe"
model="--layers 2 --hidden 24 --embed 8 --batch 8 --seq 12 --dropout 0.3 --eval-every 10"
fail() { echo "FAIL: $*"; exit 1; }

# close LOG-A LOG-B FIRST LAST: steps FIRST..LAST of two step,loss logs agree to 1e-5
close() {
    python3 - "$@" <<'PY'
import sys
a = dict(l.strip().split(",") for l in open(sys.argv[1]) if l.strip())
b = dict(l.strip().split(",") for l in open(sys.argv[2]) if l.strip())
lo, hi = int(sys.argv[3]), int(sys.argv[4])
worst = 0.0
for s in range(lo, hi + 1):
    x, y = float(a[str(s)]), float(b[str(s)])
    worst = max(worst, abs(x - y) / abs(x))
print("steps %d-%d: largest relative difference %.2e" % (lo, hi, worst))
sys.exit(0 if worst <= 1e-5 else 1)
PY
}

# 1. one process, the reference curve
# shellcheck disable=SC2086
"$train" $model --steps 50 --out "$dir/k1" --loss-log "$dir/k1.log" 2> "$dir/k1.err" ||
    { cat "$dir/k1.err"; fail "one process"; }
[ "$(wc -l < "$dir/k1.log")" -eq 50 ] || fail "the loss log has not 50 lines"

# 2. two processes, twice; four processes once
for run in k2 k2again; do
    # shellcheck disable=SC2086
    timeout 300 $mpirun -np 2 "$train" $model --steps 50 --out "$dir/$run" \
        --loss-log "$dir/$run.log" 2> "$dir/$run.err" || { cat "$dir/$run.err"; fail "$run"; }
done
cat "$dir/k2.err"
grep -q "lstmcl-train on 2 processes, 4 of the 8 streams each" "$dir/k2.err" ||
    fail "no line about the processes"
grep -q "identical on all 2 processes" "$dir/k2.err" || fail "parameters not compared"
grep -q "gradient exchange (process 0):.* summed over 2 processes" "$dir/k2.err" ||
    fail "no exchange timing in the summary"
close "$dir/k1.log" "$dir/k2.log" 1 50 || fail "2 processes differ from one"
cmp "$dir/k2.log" "$dir/k2again.log" || fail "two runs with 2 processes differ"
cmp "$dir/k2/checkpoint.lstmcl" "$dir/k2again/checkpoint.lstmcl" ||
    fail "two runs with 2 processes saved different checkpoints"
# shellcheck disable=SC2086
timeout 300 $mpirun -np 4 "$train" $model --steps 50 --out "$dir/k4" \
    --loss-log "$dir/k4.log" 2> "$dir/k4.err" || { cat "$dir/k4.err"; fail "k4"; }
close "$dir/k1.log" "$dir/k4.log" 1 50 || fail "4 processes differ from one"

# 3. saved with 2, resumed with 1 and with 4
# shellcheck disable=SC2086
timeout 300 $mpirun -np 2 "$train" $model --steps 30 --out "$dir/half" \
    --loss-log "$dir/half.log" 2> "$dir/half.err" || { cat "$dir/half.err"; fail "half"; }
cp "$dir/half.log" "$dir/r1.log"
cp "$dir/half.log" "$dir/r4.log"
"$train" --resume "$dir/half/checkpoint.lstmcl" --steps 50 --eval-every 10 --out "$dir/r1" \
    --loss-log "$dir/r1.log" 2> "$dir/r1.err" || { cat "$dir/r1.err"; fail "resume with 1"; }
close "$dir/k2.log" "$dir/r1.log" 31 50 || fail "resumed with 1 process, the run went elsewhere"
timeout 300 $mpirun -np 4 "$train" --resume "$dir/half/checkpoint.lstmcl" --steps 50 \
    --eval-every 10 --out "$dir/r4" --loss-log "$dir/r4.log" 2> "$dir/r4.err" ||
    { cat "$dir/r4.err"; fail "resume with 4"; }
close "$dir/k2.log" "$dir/r4.log" 31 50 || fail "resumed with 4 processes, the run went elsewhere"
if timeout 120 $mpirun -np 3 "$train" --resume "$dir/half/checkpoint.lstmcl" --steps 50 \
    --out "$dir/r3" 2> "$dir/r3.err"; then
    fail "a batch of 8 was split into 3"
fi
grep -q "does not split into 3" "$dir/r3.err" || { cat "$dir/r3.err"; fail "no reason given"; }
# shellcheck disable=SC2086
if timeout 120 $mpirun -np 3 "$train" $model --steps 5 --out "$dir/b3" 2> "$dir/b3.err"; then
    fail "--batch 8 was split into 3"
fi
grep -q "does not split into 3 processes" "$dir/b3.err" || { cat "$dir/b3.err"; fail "no reason"; }

# 4. failures end every process, with a message, never a hang
# a process killed in the middle (each of the two, in turn)
for victim in 1 0; do
    # shellcheck disable=SC2086
    timeout 300 $mpirun -np 2 "$train" $model --steps 100000 --out "$dir/kill$victim" \
        --loss-log "$dir/kill$victim.log" 2> "$dir/kill$victim.err" &
    job=$!
    n=0
    while [ ! -s "$dir/kill$victim.log" ] || [ "$(wc -l < "$dir/kill$victim.log")" -lt 5 ]; do
        n=$((n + 1))
        [ $n -lt 3000 ] || fail "the run to kill made no progress in 300 s"
        sleep 0.1
    done
    pid=""
    for p in $(pgrep -f "lstmcl-train $model --steps 100000 --out $dir/kill$victim" || true); do
        if tr '\0' '\n' < "/proc/$p/environ" 2> /dev/null |
            grep -qx "OMPI_COMM_WORLD_RANK=$victim"; then
            pid=$p
        fi
    done
    [ -n "$pid" ] || fail "no process of rank $victim found"
    kill -KILL "$pid"
    rc=0
    wait "$job" || rc=$?
    [ $rc -ne 0 ] || fail "killing process $victim left an exit status of 0"
    [ $rc -ne 124 ] || fail "killing process $victim hung the run"
    grep -qi "signal 9\|killed" "$dir/kill$victim.err" ||
        { cat "$dir/kill$victim.err"; fail "no message about the killed process"; }
    echo "killed process $victim: the run exited with $rc: $(grep -i 'signal 9\|killed' \
        "$dir/kill$victim.err" | head -1)"
done
# a process whose step fails
rc=0
# shellcheck disable=SC2086
LSTMCL_TEST_FAIL_STEP=1:7 timeout 300 $mpirun -x LSTMCL_TEST_FAIL_STEP -np 2 "$train" $model \
    --steps 100000 --out "$dir/fail" 2> "$dir/fail.err" || rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || { cat "$dir/fail.err"; fail "a failed step: status $rc"; }
grep -q "process 1: injected failure at step 7" "$dir/fail.err" ||
    { cat "$dir/fail.err"; fail "no message about the failed step"; }
# a process that cannot open its device (the second entry matches nothing)
rc=0
# shellcheck disable=SC2086
timeout 300 $mpirun -np 2 "$train" $model --steps 5 --device "all:0,no-such-device" \
    --out "$dir/dev" 2> "$dir/dev.err" || rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || { cat "$dir/dev.err"; fail "a missing device: status $rc"; }
grep -q "matches no OpenCL device" "$dir/dev.err" && grep -q "stopping all" "$dir/dev.err" ||
    { cat "$dir/dev.err"; fail "no message about the missing device"; }
# a text that one process cannot read (missing on its machine): all stop
printf 'some text, long enough to make a corpus of a few streams. %.0s' $(seq 40) > "$dir/t.txt"
rc=0
# shellcheck disable=SC2016,SC2086
timeout 300 $mpirun -np 2 sh -c 'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then t=$1/absent.txt
    else t=$1/t.txt; fi; shift; exec "$@" --text "$t"' sh "$dir" "$train" $model --steps 5 \
    --out "$dir/text" 2> "$dir/text.err" || rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || { cat "$dir/text.err"; fail "a missing text: status $rc"; }
grep -q "process 1: cannot read .*absent.txt" "$dir/text.err" ||
    { cat "$dir/text.err"; fail "no message about the missing text"; }
echo "mpi-train: 2 and 4 processes train as one, repeat bitwise, resume with 1 and 4; failures end the run"
