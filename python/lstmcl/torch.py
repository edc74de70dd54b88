"""lstmcl.torch.LSTM: torch.nn.LSTM's constructor, parameter names, layouts
and forward signature, computed by lstmcl on its OpenCL device.

    from lstmcl.torch import LSTM
    lstm = LSTM(10, 32, num_layers=2, bidirectional=True)
    lstm.load_state_dict(torch_lstm.state_dict())      # and back
    output, (h_n, c_n) = lstm(x, (h0, c0))             # x a tensor or a PackedSequence

Tensors are CPU tensors, copied to and from the device; gradients flow
through lstmcl (a torch.autograd.Function).  dropout and proj_size are
refused: lstmcl's model does not compute them."""
import ctypes
import math

import numpy as np
import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

import lstmcl as _l

__all__ = ["LSTM"]


class _Shape(ctypes.Structure):
    _fields_ = [("layers", ctypes.c_size_t), ("directions", ctypes.c_size_t),
                ("input_size", ctypes.c_size_t), ("hidden_size", ctypes.c_size_t)]


class _Options(ctypes.Structure):
    _fields_ = [("layout", ctypes.c_int), ("reverse", ctypes.c_int),
                ("lengths", ctypes.POINTER(ctypes.c_int))]


def _np32(t):
    return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=np.float32)


class _Weights:
    """An lstmcl_weights object for a module's current parameters."""

    def __init__(self, L, dirs, D, H):
        lib = _l._load()
        self.lib, self.h = lib, ctypes.c_void_p()
        shape = _Shape(L, dirs, D, H)
        st = lib.lstmcl_weights_create(ctypes.byref(self.h), ctypes.byref(shape))
        if st != 0:
            raise _l.Error(lib.lstmcl_status_name(st).decode(),
                           lib.lstmcl_weights_last_message().decode())
        self.L, self.dirs, self.D, self.H = L, dirs, D, H

    def __del__(self):
        if getattr(self, "h", None):
            self.lib.lstmcl_weights_destroy(self.h)
            self.h = None

    def check(self, st):
        if st != 0:
            raise _l.Error(self.lib.lstmcl_status_name(st).decode(),
                           self.lib.lstmcl_weights_last_message().decode())

    def set_torch(self, l, d, w_ih, w_hh, b_ih, b_hh):
        arrs = [w_ih, w_hh, b_ih, b_hh]
        ptrs = [a.ctypes.data_as(_l._F) if a is not None else None for a in arrs]
        self.check(self.lib.lstmcl_weights_set_torch(self.h, l, d, *ptrs))

    def count(self):
        n = ctypes.c_size_t(0)
        self.lib.lstmcl_weights_data(self.h, ctypes.byref(n))
        return n.value

    def load_flat(self, flat):
        """Replaces all blocks with flat (lstmcl_weights_data's layout)."""
        n = ctypes.c_size_t(0)
        p = self.lib.lstmcl_weights_data(self.h, ctypes.byref(n))
        assert flat.size == n.value
        ctypes.memmove(p, flat.ctypes.data, flat.nbytes)

    def get_torch(self, l, d):
        H, Dl = self.H, self.D if l == 0 else self.dirs * self.H
        w_ih, w_hh = np.empty((4 * H, Dl), np.float32), np.empty((4 * H, H), np.float32)
        b = np.empty(4 * H, np.float32)
        self.check(self.lib.lstmcl_weights_get_torch(
            self.h, l, d, w_ih.ctypes.data_as(_l._F), w_hh.ctypes.data_as(_l._F),
            b.ctypes.data_as(_l._F), None))
        return w_ih, w_hh, b


class _ModelCache:
    """A model forward's cache, and the pool's context it lives on."""

    def __init__(self, handle, ctx):
        self.h, self.lib, self.ctx = handle, _l._lib, ctx

    def __del__(self):
        if getattr(self, "h", None):
            self.lib.lstmcl_cache_destroy(self.h)
            self.h = None


def _fptr(a):
    return a.ctypes.data_as(_l._F) if a is not None else None


class _Function(torch.autograd.Function):
    @staticmethod
    def forward(ctx, meta, x, h0, c0, *params):
        mod, lengths = meta
        L, dirs, H = mod.num_layers, mod.dirs, mod.hidden_size
        D = mod.input_size
        T, N = (x.shape[1], x.shape[0]) if mod.batch_first else (x.shape[0], x.shape[1])
        w = _Weights(L, dirs, D, H)
        k = 0
        for l in range(L):
            for d in range(dirs):
                w_ih, w_hh = _np32(params[k]), _np32(params[k + 1])
                b_ih = _np32(params[k + 2]) if mod.bias else None
                b_hh = _np32(params[k + 3]) if mod.bias else None
                k += 4 if mod.bias else 2
                w.set_torch(l, d, w_ih, w_hh, b_ih, b_hh)
        xs = _np32(x)
        h0s = _np32(h0) if h0 is not None else None
        c0s = _np32(c0) if c0 is not None else None
        y = np.empty((N, T, dirs * H) if mod.batch_first else (T, N, dirs * H), np.float32)
        hn, cn = np.empty((L * dirs, N, H), np.float32), np.empty((L * dirs, N, H), np.float32)
        opt = _Options(0 if mod.batch_first else 1, 0, None)
        lens = None
        if lengths is not None:
            lens = np.ascontiguousarray(lengths, dtype=np.int32)
            opt.lengths = lens.ctypes.data_as(ctypes.POINTER(ctypes.c_int))
        c = ctypes.c_void_p()
        want_grad = any(ctx.needs_input_grad[1:])
        with _l._lent() as lc:
            _l._check(_l._lib.lstmcl_model_forward(
                lc.h, w.h, N, T, ctypes.byref(opt), _fptr(xs), _fptr(h0s), _fptr(c0s),
                _fptr(y), _fptr(hn), _fptr(cn), ctypes.byref(c) if want_grad else None), lc)
        ctx.lstm = (mod, w, _ModelCache(c, lc) if want_grad else None, x.shape, N, T,
                    h0 is not None, c0 is not None, x.dtype, len(params))
        dt = x.dtype
        return (torch.from_numpy(y).to(dt), torch.from_numpy(hn).to(dt),
                torch.from_numpy(cn).to(dt))

    @staticmethod
    def backward(ctx, dy, dhn, dcn):
        mod, w, cache, xshape, N, T, has_h0, has_c0, dt, nparams = ctx.lstm
        L, dirs, H = mod.num_layers, mod.dirs, mod.hidden_size
        dys = _np32(dy)
        dhns = _np32(dhn) if dhn is not None else None
        dcns = _np32(dcn) if dcn is not None else None
        dx = np.empty(tuple(xshape), np.float32)
        dh0 = np.empty((L * dirs, N, H), np.float32) if has_h0 else None
        dc0 = np.empty((L * dirs, N, H), np.float32) if has_c0 else None
        dw = np.empty(w.count(), np.float32)
        with _l._lent(cache.ctx) as lc:
            _l._check(_l._lib.lstmcl_model_backward(
                lc.h, cache.h, _fptr(dys), _fptr(dhns), _fptr(dcns), _fptr(dx), _fptr(dh0),
                _fptr(dc0), _fptr(dw)), lc)
        g = _Weights(L, dirs, mod.input_size, H)
        g.load_flat(dw)
        grads = []
        for l in range(L):
            for d in range(dirs):
                gi, gh, gb = g.get_torch(l, d)
                grads += [torch.from_numpy(gi), torch.from_numpy(gh)]
                if mod.bias:  # the one bias's gradient is both PyTorch biases'
                    grads += [torch.from_numpy(gb), torch.from_numpy(gb.copy())]
        pt = [p.dtype for p in mod._flat_params()]
        return ((None, torch.from_numpy(dx).to(dt),
                 torch.from_numpy(dh0).to(dt) if has_h0 else None,
                 torch.from_numpy(dc0).to(dt) if has_c0 else None) +
                tuple(gr.to(t) for gr, t in zip(grads, pt)))


class LSTM(torch.nn.Module):
    """torch.nn.LSTM on lstmcl; see the module's documentation."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if dropout:
            raise _l.Error("LSTMCL_ERROR_INVALID_ARGUMENT",
                           "LSTM: dropout=%r between layers is not computed by lstmcl's model; "
                           "use 0" % (dropout,))
        if proj_size:
            raise _l.Error("LSTMCL_ERROR_INVALID_ARGUMENT",
                           "LSTM: proj_size=%r (projections) is not computed by lstmcl" %
                           (proj_size,))
        if device is not None and torch.device(device).type != "cpu":
            raise _l.Error("LSTMCL_ERROR_INVALID_ARGUMENT",
                           "LSTM: parameters live on the CPU (lstmcl copies them to its own "
                           "OpenCL device); device=%r" % (device,))
        for name, v in (("input_size", input_size), ("hidden_size", hidden_size),
                        ("num_layers", num_layers)):
            if not isinstance(v, int) or v < 1:
                raise _l.Error("LSTMCL_ERROR_INVALID_ARGUMENT",
                               "LSTM: %s is %r; it must be an int of at least 1" % (name, v))
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.bidirectional = bias, batch_first, bidirectional
        self.dropout, self.proj_size = 0.0, 0
        self.dirs = 2 if bidirectional else 1
        self._names = []
        H = hidden_size
        for l in range(num_layers):
            Dl = input_size if l == 0 else self.dirs * H
            for d in range(self.dirs):
                sfx = "_l%d%s" % (l, "_reverse" if d else "")
                shapes = [("weight_ih", (4 * H, Dl)), ("weight_hh", (4 * H, H))]
                if bias:
                    shapes += [("bias_ih", (4 * H,)), ("bias_hh", (4 * H,))]
                for base, shape in shapes:
                    p = torch.nn.Parameter(torch.empty(shape, dtype=dtype or torch.float32))
                    self.register_parameter(base + sfx, p)
                    self._names.append(base + sfx)
        self.reset_parameters()

    def reset_parameters(self):
        k = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for p in self.parameters():
                p.uniform_(-k, k)

    def _flat_params(self):
        return [getattr(self, n) for n in self._names]

    def extra_repr(self):
        s = "%d, %d" % (self.input_size, self.hidden_size)
        if self.num_layers != 1:
            s += ", num_layers=%d" % self.num_layers
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s

    def forward(self, input, hx=None):
        packed = isinstance(input, PackedSequence)
        lengths = None
        if packed:
            x, lens = pad_packed_sequence(input, batch_first=self.batch_first)
            lengths = lens.tolist()
        else:
            x = input
        if not isinstance(x, torch.Tensor):
            raise _l.Error("LSTMCL_ERROR_INVALID_ARGUMENT",
                           "LSTM: input is a %s; it must be a tensor or a PackedSequence" %
                           type(x).__name__)
        if x.device.type != "cpu":
            raise _l.Error("LSTMCL_ERROR_INVALID_ARGUMENT",
                           "LSTM: input is on %s; lstmcl takes CPU tensors" % x.device)
        unbatched = x.dim() == 2 and not packed
        if unbatched:
            x = x.unsqueeze(1 if not self.batch_first else 0)
        if x.dim() != 3 or x.shape[2] != self.input_size:
            raise _l.Error("LSTMCL_ERROR_INVALID_ARGUMENT",
                           "LSTM: input has shape %s; it must be (T, N, %d)%s" %
                           (tuple(input.shape) if not packed else tuple(x.shape),
                            self.input_size, " or (N, T, D) with batch_first" *
                            self.batch_first))
        if not x.dtype.is_floating_point:
            raise _l.Error("LSTMCL_ERROR_INVALID_ARGUMENT",
                           "LSTM: input has dtype %s; it must be floating point" % x.dtype)
        N = x.shape[0] if self.batch_first else x.shape[1]
        h0 = c0 = None
        if hx is not None:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise _l.Error("LSTMCL_ERROR_INVALID_ARGUMENT",
                               "LSTM: hx must be a pair (h_0, c_0)")
            h0, c0 = hx
            want = (self.num_layers * self.dirs, N, self.hidden_size)
            for name, t in (("h_0", h0), ("c_0", c0)):
                if unbatched and t.dim() == 2:
                    t = t.unsqueeze(1)
                if tuple(t.shape) != want:
                    raise _l.Error("LSTMCL_ERROR_INVALID_ARGUMENT",
                                   "LSTM: %s has shape %s; it must be %s" %
                                   (name, tuple(t.shape), want))
            if unbatched:
                h0, c0 = h0.reshape(want), c0.reshape(want)
        y, hn, cn = _Function.apply((self, lengths), x, h0, c0, *self._flat_params())
        if packed:
            y = pack_padded_sequence(y, torch.tensor(lengths), batch_first=self.batch_first,
                                     enforce_sorted=False)
        elif unbatched:
            y = y.squeeze(1 if not self.batch_first else 0)
            hn, cn = hn.squeeze(1), cn.squeeze(1)
        return y, (hn, cn)
