"""lstmcl's four functions against the seed's own numpy code."""
import os
import subprocess
import sys

import numpy as np
import pytest

import lstmcl
import seed_reference as ref

SHAPES = [(1, 1, 1, 1), (1, 5, 3, 4), (3, 1, 7, 2), (4, 6, 5, 13), (2, 9, 17, 8),
          (7, 3, 2, 33), (5, 12, 40, 24)]


def rel(got, want):
    """RMS difference over the RMS of want, floored at 0.1 (as the C tests)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return np.sqrt(np.mean((got - want) ** 2)) / max(np.sqrt(np.mean(want ** 2)), 0.1)


def problem(N, T, D, H, seed):
    r = np.random.RandomState(seed)
    s = 1.0 / np.sqrt(H)
    return (r.randn(N, T, D), r.randn(N, H), r.randn(D, 4 * H) * s, r.randn(H, 4 * H) * s,
            r.randn(4 * H) * 0.5, r.randn(N, T, H))


worst = {}


def note(what, e):
    worst[what] = max(worst.get(what, 0.0), e)


@pytest.mark.parametrize("N,T,D,H", SHAPES)
def test_sequence_matches_seed(N, T, D, H):
    x, h0, Wx, Wh, b, dh = problem(N, T, D, H, N * 1000 + T * 100 + D * 10 + H)
    h, cache = lstmcl.lstm_forward(x, h0, Wx, Wh, b)
    rh, rcache = ref.lstm_forward(x, h0, Wx, Wh, b)
    assert h.shape == (N, T, H) and h.dtype == np.float64
    note("lstm_forward h", rel(h, rh))
    assert rel(h, rh) < 1e-5
    got = lstmcl.lstm_backward(dh, cache)
    want = ref.lstm_backward(dh, rcache)
    for name, g, w in zip(("dx", "dh0", "dWx", "dWh", "db"), got, want):
        assert g.shape == w.shape and g.dtype == np.float64, name
        note("lstm_backward " + name, rel(g, w))
        assert rel(g, w) < 1e-4, name


@pytest.mark.parametrize("N,T,D,H", SHAPES)
def test_step_matches_seed(N, T, D, H):
    x, h0, Wx, Wh, b, dh = problem(N, T, D, H, 7 + N + D + H)
    c0 = np.random.RandomState(3).randn(N, H)
    nh, nc, cache = lstmcl.lstm_step_forward(x[:, 0], h0, c0, Wx, Wh, b)
    rh, rc, rcache = ref.lstm_step_forward(x[:, 0], h0, c0, Wx, Wh, b)
    assert rel(nh, rh) < 1e-5 and rel(nc, rc) < 1e-5
    note("lstm_step_forward", max(rel(nh, rh), rel(nc, rc)))
    dnh, dnc = dh[:, 0], np.random.RandomState(4).randn(N, H)
    got = lstmcl.lstm_step_backward(dnh, dnc, cache)
    want = ref.lstm_step_backward(dnh, dnc, rcache)
    for name, g, w in zip(("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"), got, want):
        note("lstm_step_backward " + name, rel(g, w))
        assert g.shape == w.shape and rel(g, w) < 1e-4, name


def test_numeric_gradient_check():
    """The seed notebook's check: lstm_backward against numeric gradients."""
    N, D, T, H = 2, 3, 10, 6
    r = np.random.RandomState(231)
    x, h0 = r.randn(N, T, D), r.randn(N, H)
    Wx, Wh, b = r.randn(D, 4 * H), r.randn(H, 4 * H), r.randn(4 * H)
    out, cache = lstmcl.lstm_forward(x, h0, Wx, Wh, b)
    dout = r.randn(*out.shape)
    dx, dh0, dWx, dWh, db = lstmcl.lstm_backward(dout, cache)
    # float32 on the device: a larger step than the notebook's 1e-5 keeps the
    # difference quotient above float32's rounding, in float64 reference math
    fx = lambda v: ref.lstm_forward(v, h0, Wx, Wh, b)[0]
    fh0 = lambda v: ref.lstm_forward(x, v, Wx, Wh, b)[0]
    fWx = lambda v: ref.lstm_forward(x, h0, v, Wh, b)[0]
    fWh = lambda v: ref.lstm_forward(x, h0, Wx, v, b)[0]
    fb = lambda v: ref.lstm_forward(x, h0, Wx, Wh, v)[0]
    for name, f, v, g in (("dx", fx, x, dx), ("dh0", fh0, h0, dh0), ("dWx", fWx, Wx, dWx),
                          ("dWh", fWh, Wh, dWh), ("db", fb, b, db)):
        num = ref.eval_numerical_gradient_array(f, v.copy(), dout)
        err = np.max(np.abs(num - g) / np.maximum(1e-8, np.abs(num) + np.abs(g)))
        note("numeric " + name, err)
        assert err < 1e-3, "%s relative error %.2e" % (name, err)
    # and the seed's own forward, checked the same way, through lstmcl's outputs
    num = ref.eval_numerical_gradient_array(
        lambda v: lstmcl.lstm_forward(v, h0, Wx, Wh, b)[0].astype(np.float64), x.copy(), dout,
        h=1e-2)
    assert np.max(np.abs(num - dx)) / np.max(np.abs(dx)) < 2e-2


def test_dtypes_and_orders():
    x, h0, Wx, Wh, b, dh = problem(3, 4, 5, 6, 11)
    h64, _ = lstmcl.lstm_forward(x, h0, Wx, Wh, b)
    h32, c32 = lstmcl.lstm_forward(x.astype(np.float32), h0.astype(np.float32),
                                   Wx.astype(np.float32), Wh.astype(np.float32),
                                   b.astype(np.float32))
    assert h64.dtype == np.float64 and h32.dtype == np.float32
    dx32 = lstmcl.lstm_backward(dh.astype(np.float32), c32)[0]
    assert dx32.dtype == np.float32
    # Fortran order and strided views give the same numbers
    hF, _ = lstmcl.lstm_forward(np.asfortranarray(x), h0, np.asfortranarray(Wx), Wh.T.copy().T,
                                b[::1])
    assert np.array_equal(hF, h64)
    xs = np.zeros((3, 8, 5))
    xs[:, ::2] = x
    hs, _ = lstmcl.lstm_forward(xs[:, ::2], h0, Wx, Wh, b)
    assert np.array_equal(hs, h64)
    # integer inputs are numbers too (with float64 weights the results are float64)
    hi, _ = lstmcl.lstm_forward(np.ones((1, 2, 3), np.int64), np.zeros((1, 2), np.int32),
                                np.zeros((3, 8)), np.zeros((2, 8)), np.zeros(8))
    assert hi.dtype == np.float64


def test_bad_input_raises():
    x, h0, Wx, Wh, b, dh = problem(2, 3, 4, 5, 1)
    with pytest.raises(lstmcl.Error) as e:
        lstmcl.lstm_forward(x[:, :, :3], h0, Wx, Wh, b)
    assert e.value.status == "LSTMCL_ERROR_INVALID_ARGUMENT" and "Wx" in e.value.message
    with pytest.raises(lstmcl.Error, match="x has shape"):
        lstmcl.lstm_forward(x[0], h0, Wx, Wh, b)
    with pytest.raises(lstmcl.Error, match="no size may be 0"):
        lstmcl.lstm_forward(np.zeros((0, 3, 4)), h0, Wx, Wh, b)
    with pytest.raises(lstmcl.Error, match="dtype"):
        lstmcl.lstm_forward(x.astype(np.complex128), h0, Wx, Wh, b)
    with pytest.raises(lstmcl.Error, match="NaN"):
        lstmcl.lstm_forward(np.full_like(x, np.nan), h0, Wx, Wh, b)
    # finite in float64, infinite in float32: refused, not computed as inf
    big = x.copy()
    big[0, 0, 0] = 1e300
    with pytest.raises(lstmcl.Error, match="beyond float32's range") as e:
        lstmcl.lstm_forward(big, h0, Wx, Wh, b)
    assert "x holds" in e.value.message
    _, c = lstmcl.lstm_forward(x, h0, Wx, Wh, b)
    with pytest.raises(lstmcl.Error, match="dh holds values beyond"):
        lstmcl.lstm_backward(np.full_like(dh, -1e39), c)
    with pytest.raises(lstmcl.Error, match="h0 has shape"):
        lstmcl.lstm_forward(x, h0[:1], Wx, Wh, b)
    _, step_cache = lstmcl.lstm_step_forward(x[:, 0], h0, h0, Wx, Wh, b)[1:]
    with pytest.raises(lstmcl.Error) as e:
        lstmcl.lstm_backward(dh, step_cache)
    assert e.value.status == "LSTMCL_ERROR_INVALID_CACHE"
    with pytest.raises(lstmcl.Error) as e:
        lstmcl.lstm_backward(dh, ("not", "a", "cache"))
    assert e.value.status == "LSTMCL_ERROR_INVALID_CACHE"
    _, cache = lstmcl.lstm_forward(x, h0, Wx, Wh, b)
    with pytest.raises(lstmcl.Error, match="dh has shape"):
        lstmcl.lstm_backward(dh[:, :2], cache)
    # the context still works after every refusal
    assert lstmcl.lstm_backward(dh, cache)[0].shape == x.shape
    with pytest.raises(lstmcl.Error, match="before the first"):
        lstmcl.set_device("cpu")


def test_set_device_none_is_the_default():
    """set_device(None) means LSTMCL_DEVICE or the default device, not a
    selector "None"; anything but a str or None is refused."""
    code = ("import lstmcl; lstmcl.set_device(None); print(lstmcl.device_name())\n"
            "try:\n    lstmcl.set_device(3)\nexcept lstmcl.Error as e:\n    print(e.message)")
    env = dict(os.environ)
    env.pop("LSTMCL_DEVICE", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    name, refusal = out.stdout.strip().splitlines()
    assert " / " in name
    assert "must be a str or None" in refusal


def test_caches_are_released():
    x, h0, Wx, Wh, b, dh = problem(2, 3, 4, 5, 2)
    for _ in range(200):  # would exhaust nothing if leaked, but must not crash either
        _, c = lstmcl.lstm_forward(x, h0, Wx, Wh, b)
        del c
    assert lstmcl.device_name()
    assert any(sel for sel, _, _ in lstmcl.devices())


def test_report_worst():
    """Prints the largest errors seen against the seed (pytest -s shows it)."""
    for k in sorted(worst):
        print("largest normalised error vs the seed: %-28s %.2e" % (k, worst[k]))
