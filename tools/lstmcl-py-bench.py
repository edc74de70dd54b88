#!/usr/bin/env python3
"""Times the seed's numpy lstm_forward + lstm_backward against lstmcl's
drop-in functions, side by side in one run, on the same float64 inputs.

    tools/lstmcl-py-bench.py [--shape N,T,D,H] [--repeat R]

Defaults: N=64, T=50, D=H=512, R=3 (median reported).  The seed's code is
tests/python/seed_reference.py; lstmcl is the package in python/ (or the
installed one), on LSTMCL_DEVICE's device."""
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shape", default="64,50,512,512")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    N, T, D, H = (int(v) for v in a.shape.split(","))
    r = np.random.RandomState(0)
    x, h0 = r.randn(N, T, D), r.randn(N, H)
    Wx, Wh = r.randn(D, 4 * H) / np.sqrt(D), r.randn(H, 4 * H) / np.sqrt(H)
    b, dh = r.randn(4 * H) * 0.1, r.randn(N, T, H)

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
