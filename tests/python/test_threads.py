"""Every function of the package from several threads at once: the results
are, bitwise, those of the same calls on one thread."""
import threading

import numpy as np
import pytest

import lstmcl

THREADS = 6  # more than the pool's default of 4 contexts: some wait for one
ROUNDS = 4


def problem(N, T, D, H, seed):
    r = np.random.RandomState(seed)
    s = 1.0 / np.sqrt(H)
    return (r.randn(N, T, D), r.randn(N, H), r.randn(D, 4 * H) * s, r.randn(H, 4 * H) * s,
            r.randn(4 * H) * 0.5, r.randn(N, T, H), r.randn(N, H))


def seed_calls(p):
    """The seed's four functions on one problem; every result."""
    x, h0, Wx, Wh, b, dh, dc = p
    nh, nc, sc = lstmcl.lstm_step_forward(x[:, 0], h0, dc, Wx, Wh, b)
    step = lstmcl.lstm_step_backward(dh[:, 0], dc, sc)
    h, cache = lstmcl.lstm_forward(x, h0, Wx, Wh, b)
    seq = lstmcl.lstm_backward(dh, cache)
    return (nh, nc) + step + (h,) + seq


def run_threads(fn, args):
    """fn(args[t]) ROUNDS times in each of len(args) threads started at once;
    returns every thread's results, raising the first failure."""
    out = [[] for _ in args]
    errors = []
    start = threading.Barrier(len(args))

    def work(t):
        try:
            start.wait()
            for _ in range(ROUNDS):
                out[t].append(fn(args[t]))
        except BaseException as e:  # reported below, in the main thread
            errors.append((t, e))

    ts = [threading.Thread(target=work, args=(t,)) for t in range(len(args))]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    if errors:
        raise AssertionError("thread %d raised %r" % errors[0])
    return out


def assert_bitwise(got, want, what):
    assert len(got) == len(want)
    for k, (a, b) in enumerate(zip(got, want)):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape and a.dtype == b.dtype, "%s result %d" % (what, k)
        assert np.array_equal(a, b), "%s result %d differs from one thread's (worst %.3e)" % (
            what, k, np.max(np.abs(a - b)))


SHAPES = [(1, 1, 1, 1), (3, 7, 13, 29), (16, 5, 64, 48), (2, 9, 17, 8), (5, 3, 2, 33),
          (4, 12, 40, 24)]


def test_different_shapes():
    probs = [problem(*s, seed=k) for k, s in enumerate(SHAPES)]
    alone = [seed_calls(p) for p in probs]
    for t, rounds in enumerate(run_threads(seed_calls, probs)):
        for r in rounds:
            assert_bitwise(r, alone[t], "shape %s" % (SHAPES[t],))


def test_same_shape():
    p = problem(6, 9, 21, 35, seed=7)
    alone = seed_calls(p)
    for rounds in run_threads(seed_calls, [p] * THREADS):
        for r in rounds:
            assert_bitwise(r, alone, "the same shape")


def test_backward_on_another_thread():
    """A forward's cache is used and dropped on other threads than its own."""
    p = problem(3, 4, 5, 6, seed=3)
    x, h0, Wx, Wh, b, dh, _ = p
    want = lstmcl.lstm_backward(dh, lstmcl.lstm_forward(x, h0, Wx, Wh, b)[1])
    caches = [lstmcl.lstm_forward(x, h0, Wx, Wh, b)[1] for _ in range(THREADS)]
    got = run_threads(lambda c: lstmcl.lstm_backward(dh, c), caches)
    del caches
    for rounds in got:
        for r in rounds:
            assert_bitwise(r, want, "backward on another thread")


def test_pool_is_bounded():
    """No more contexts than max_contexts(), however many threads call."""
    assert lstmcl.max_contexts() == 4
    p = problem(2, 3, 4, 5, seed=1)
    run_threads(seed_calls, [p] * THREADS)
    assert 1 <= len(lstmcl._contexts) <= lstmcl.max_contexts()
    with pytest.raises(lstmcl.Error, match="at least 1"):
        lstmcl.set_max_contexts(0)


def test_torch_modules_in_threads():
    torch = pytest.importorskip("torch")
    from lstmcl.torch import LSTM

    cfgs = [(3, 5, 1, False, False), (4, 7, 2, True, False), (6, 4, 1, False, True),
            (5, 9, 2, True, True), (8, 3, 1, True, False), (2, 6, 3, False, True)]

    def make(k):
        D, H, L, bf, bi = cfgs[k]
        torch.manual_seed(k)
        m = LSTM(D, H, num_layers=L, batch_first=bf, bidirectional=bi)
        x = torch.randn((4, 5, D) if bf else (5, 4, D))
        return m, x

    def fwd_bwd(mx):
        m, x = mx
        x = x.clone().requires_grad_(True)
        y, (hn, cn) = m(x)
        loss = (y * y).sum() + hn.sum() + (cn * 0.5).sum()
        grads = torch.autograd.grad(loss, [x] + list(m.parameters()))
        return [y.detach().numpy(), hn.detach().numpy(), cn.detach().numpy()] + \
            [g.numpy() for g in grads]

    mods = [make(k) for k in range(len(cfgs))]
    alone = [fwd_bwd(mx) for mx in mods]
    for t, rounds in enumerate(run_threads(fwd_bwd, mods)):
        for r in rounds:
            assert_bitwise(r, alone[t], "module %d" % t)
    # one module shared by all threads
    shared = [mods[3]] * THREADS
    for rounds in run_threads(fwd_bwd, shared):
        for r in rounds:
            assert_bitwise(r, alone[3], "a module shared by threads")
