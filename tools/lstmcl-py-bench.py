#!/usr/bin/env python3
"""Times the seed's numpy lstm_forward + lstm_backward against lstmcl's
drop-in functions, side by side in one run, on the same float64 inputs.

    tools/lstmcl-py-bench.py [--shape N,T,D,H] [--repeat R]
    tools/lstmcl-py-bench.py --threads 1,2,4 [--contexts 1,4] [--shape N,T,D,H]...

Defaults: N=64, T=50, D=H=512, R=3 (median reported).  The seed's code is
tests/python/seed_reference.py; lstmcl is the package in python/ (or the
installed one), on LSTMCL_DEVICE's device.

With --threads, lstmcl alone: each of K threads runs forward + backward on
inputs of its own, --repeat times (default 20), for each pool size of
--contexts (lstmcl.set_max_contexts; 1 is one context, so one call at a
time), and prints the calls per second of all threads together and the
median time of one call, beside one thread's; --shape may be given more
than once (default 1,20,128,128 and 16,20,128,128)."""
import argparse
import os
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(here, "..", "python"), os.path.join(here, "..", "tests", "python")]

import numpy as np  # noqa: E402

import lstmcl  # noqa: E402
import seed_reference as seed  # noqa: E402


def median_time(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def inputs(N, T, D, H, seed):
    r = np.random.RandomState(seed)
    return (r.randn(N, T, D), r.randn(N, H), r.randn(D, 4 * H) / np.sqrt(D),
            r.randn(H, 4 * H) / np.sqrt(H), r.randn(4 * H) * 0.1, r.randn(N, T, H))


def threads_table(shapes, threads, contexts, repeat):
    """Throughput of K threads calling lstmcl at once, per pool size."""
    import threading
    print("%-16s %8s %8s %12s %14s %14s" % ("N,T,D,H", "contexts", "threads", "calls/s",
                                              "ms per call", "vs 1 thread"))
    for c in sorted(contexts):  # ascending: a smaller pool cannot be had after a larger
        lstmcl.set_max_contexts(c)
        for shape in shapes:
            base = None
            for k in threads:
                ins = [inputs(*shape, seed=t) for t in range(k)]
                times = [[] for _ in range(k)]
                go = threading.Barrier(k + 1)

                def work(t):
                    x, h0, Wx, Wh, b, dh = ins[t]
                    go.wait()
                    for _ in range(repeat):
                        t0 = time.perf_counter()
                        _, cache = lstmcl.lstm_forward(x, h0, Wx, Wh, b)
                        lstmcl.lstm_backward(dh, cache)
                        times[t].append(time.perf_counter() - t0)

                for t in range(k):  # warm: every context the threads will use
                    x, h0, Wx, Wh, b, dh = ins[t]
                    lstmcl.lstm_backward(dh, lstmcl.lstm_forward(x, h0, Wx, Wh, b)[1])
                ts = [threading.Thread(target=work, args=(t,)) for t in range(k)]
                for th in ts:
                    th.start()
                go.wait()
                t0 = time.perf_counter()
                for th in ts:
                    th.join()
                wall = time.perf_counter() - t0
                rate = k * repeat / wall
                per = sorted(v for ts_ in times for v in ts_)
                med = per[len(per) // 2] * 1e3
                base = rate if k == threads[0] else base
                print("%-16s %8d %8d %12.1f %14.2f %13.2fx" % (",".join(map(str, shape)), c,
                                                             k, rate, med, rate / base))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shape", action="append")
    ap.add_argument("--repeat", type=int)
    ap.add_argument("--threads", help="thread counts, such as 1,2,4")
    ap.add_argument("--contexts", default="1,4", help="pool sizes, such as 1,4")
    a = ap.parse_args()
    if a.threads:
        shapes = [tuple(int(v) for v in s.split(",")) for s in
                  (a.shape or ["1,20,128,128", "16,20,128,128"])]
        print("lstmcl on %s, forward + backward, %d calls a thread" %
              (lstmcl.device_name(), a.repeat or 20), file=sys.stderr)
        threads_table(shapes, [int(v) for v in a.threads.split(",")],
                      [int(v) for v in a.contexts.split(",")], a.repeat or 20)
        return
    a.repeat = a.repeat or 3
    N, T, D, H = (int(v) for v in (a.shape or ["64,50,512,512"])[-1].split(","))
    x, h0, Wx, Wh, b, dh = inputs(N, T, D, H, 0)

    def run(m):
        h, cache = m.lstm_forward(x, h0, Wx, Wh, b)
        return h, m.lstm_backward(dh, cache)

    print("N=%d T=%d D=%d H=%d, float64 in and out, median of %d" % (N, T, D, H, a.repeat),
          file=sys.stderr)
    run(lstmcl)  # the first call builds the context and its kernels
    t_cl = median_time(lambda: run(lstmcl), a.repeat)
    print("  lstmcl done, timing the seed's numpy...", file=sys.stderr)
    t_np = median_time(lambda: run(seed), a.repeat)
    (h1, g1), (h2, g2) = run(lstmcl), run(seed)
    err = max(np.abs(h1 - h2).max() / np.abs(h2).max(),
              max(np.abs(p - q).max() / np.abs(q).max() for p, q in zip(g1, g2)))
    print("lstm_forward + lstm_backward at N=%d T=%d D=%d H=%d:" % (N, T, D, H))
    print("  seed (numpy %s, %s)  %8.3f s" % (np.__version__, _blas(), t_np))
    print("  lstmcl (%s)  %8.3f s   %.1fx" % (lstmcl.device_name(), t_cl, t_np / t_cl))
    print("  largest difference, relative to the largest value: %.1e" % err)


def _blas():
    """The BLAS Debian's numpy links (libblas.so.3, an alternatives link)."""
    for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"):
        p = os.path.join(d, "libblas.so.3")
        if os.path.exists(p):
            return "BLAS " + os.path.realpath(p)
    return "its BLAS"


if __name__ == "__main__":
    main()
