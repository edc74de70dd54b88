"""The seed's numpy LSTM (../shared/seed/lstm-seed.txt), as written there,
with the numerically stable sigmoid it refers to: the reference for
lstmcl's Python functions.  One change: lstm_step_backward copies dnext_c
before adding to it, where the seed adds in place (which changes its
caller's array)."""
import numpy as np


def sigmoid(x):
    pos = x >= 0
    neg = ~pos
    z = np.zeros_like(x)
    z[pos] = np.exp(-x[pos])
    z[neg] = np.exp(x[neg])
    top = np.ones_like(x)
    top[neg] = z[neg]
    return top / (1 + z)


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = Wh.shape[0]
    a = np.dot(x, Wx) + np.dot(prev_h, Wh) + b
    i = sigmoid(a[:, 0:H])
    f = sigmoid(a[:, H:2 * H])
    o = sigmoid(a[:, 2 * H:3 * H])
    g = np.tanh(a[:, 3 * H:4 * H])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    cache = (i, f, o, g, x, Wx, Wh, prev_c, prev_h, next_c)
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    i, f, o, g, x, Wx, Wh, prev_c, prev_h, next_c = cache
    dnext_c = dnext_c.copy()
    do = dnext_h * np.tanh(next_c)
    dnext_c += o * (1 - np.tanh(next_c) ** 2) * dnext_h
    di, df, dg, dprev_c = dnext_c * (g, prev_c, i, f)
    da = np.hstack([i * (1 - i) * di, f * (1 - f) * df, o * (1 - o) * do, (1 - g * g) * dg])
    dx = np.dot(da, Wx.T)
    dWx = np.dot(x.T, da)
    dprev_h = np.dot(da, Wh.T)
    dWh = np.dot(prev_h.T, da)
    db = np.sum(da, axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H))
    cache = {}
    prev_h = h0
    prev_c = np.zeros((N, H))
    for t in range(T):
        xt = x[:, t, :]
        next_h, next_c, cache[t] = lstm_step_forward(xt, prev_h, prev_c, Wx, Wh, b)
        prev_h = next_h
        prev_c = next_c
        h[:, t, :] = prev_h
    return h, cache


def lstm_backward(dh, cache):
    N, T, H = dh.shape
    D = cache[0][4].shape[1]
    dprev_h = np.zeros((N, H))
    dprev_c = np.zeros((N, H))
    dx = np.zeros((N, T, D))
    dWx = np.zeros((D, 4 * H))
    dWh = np.zeros((H, 4 * H))
    db = np.zeros((4 * H,))
    for t in range(T):
        t = T - 1 - t
        step_cache = cache[t]
        dnext_h = dh[:, t, :] + dprev_h
        dnext_c = dprev_c
        dx[:, t, :], dprev_h, dprev_c, dWxt, dWht, dbt = lstm_step_backward(dnext_h, dnext_c,
                                                                            step_cache)
        dWx, dWh, db = dWx + dWxt, dWh + dWht, db + dbt
    dh0 = dprev_h
    return dx, dh0, dWx, dWh, db


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """The seed notebook's numeric gradient: of sum(f(x) * df) w.r.t. x."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        pos = f(x).copy()
        x[ix] = old - h
        neg = f(x).copy()
        x[ix] = old
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad
