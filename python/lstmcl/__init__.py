"""lstmcl from Python: the seed's four LSTM functions on numpy arrays, run on
any OpenCL device by the lstmcl C library (through ctypes; no compile step).

    from lstmcl import lstm_forward, lstm_backward   # drop-in for the seed's

The library is found through the environment variable LSTMCL_LIBRARY (a
path), then the installed library, then a build tree next to this package
(../../build).  The device comes from LSTMCL_DEVICE, or set_device(selector)
before the first call; devices() lists them.  Every function may be called
from any number of threads: the package keeps a small pool of contexts on
that device (set_max_contexts, 4 by default), made at first use and
released at exit, and each call borrows one, so calls in different threads
run at the same time and give, bitwise, what they give on one thread.
Failures raise lstmcl.Error with lstmcl's status name and message.

The work runs in float32 on the device; results come back in the inputs'
dtype (float64 in, float64 out), in C order."""
import atexit
import ctypes
import os
import threading

import numpy as np

__all__ = ["Error", "set_device", "set_max_contexts", "max_contexts", "devices", "device_name",
           "lstm_step_forward",
           "lstm_step_backward", "lstm_forward", "lstm_backward"]


class Error(Exception):
    """An lstmcl failure: .status is the status name (such as
    "LSTMCL_ERROR_INVALID_ARGUMENT"), .message lstmcl's detailed message."""

    def __init__(self, status, message):
        super().__init__("%s: %s" % (status, message))
        self.status = status
        self.message = message


# ---------------------------------------------------------------- library

def _candidates():
    env = os.environ.get("LSTMCL_LIBRARY")
    if env:
        return [env]
    found = []
    try:
        from . import _config  # written by meson install
        found.append(os.path.join(_config.LIBDIR, "liblstmcl.so.0"))
    except ImportError:
        pass
    found.append("liblstmcl.so.0")  # the loader's own search path
    here = os.path.dirname(os.path.abspath(__file__))
    found.append(os.path.join(here, "..", "..", "build", "liblstmcl.so.0"))
    return found


_lib = None
_lib_lock = threading.Lock()


def _load():
    global _lib
    if _lib is not None:
        return _lib
    with _lib_lock:
        if _lib is not None:
            return _lib
        errors = []
        for path in _candidates():
            try:
                lib = ctypes.CDLL(path)
                break
            except OSError as e:
                errors.append("%s (%s)" % (path, e))
        else:
            raise Error("LSTMCL_ERROR_IO", "cannot load the lstmcl library; tried " +
                        "; ".join(errors) + ". Set LSTMCL_LIBRARY to liblstmcl.so's path.")
        _declare(lib)
        _lib = lib
        return lib


_P = ctypes.c_void_p
_F = ctypes.POINTER(ctypes.c_float)
_Z = ctypes.c_size_t


def _declare(lib):
    def fn(name, restype, *args):
        f = getattr(lib, name)
        f.restype, f.argtypes = restype, list(args)
    ci = ctypes.c_int
    fn("lstmcl_status_name", ctypes.c_char_p, ci)
    fn("lstmcl_context_create", ci, ctypes.POINTER(_P), ctypes.c_char_p)
    fn("lstmcl_context_destroy", None, _P)
    fn("lstmcl_context_message", ctypes.c_char_p, _P)
    fn("lstmcl_last_create_message", ctypes.c_char_p)
    fn("lstmcl_context_device_name", ctypes.c_char_p, _P)
    fn("lstmcl_cache_destroy", None, _P)
    fn("lstmcl_devices", ci, ctypes.c_char_p, _Z, ctypes.POINTER(_Z))
    fn("lstmcl_step_forward", ci, _P, _Z, _Z, _Z, _F, _F, _F, _F, _F, _F, _F, _F,
       ctypes.POINTER(_P))
    fn("lstmcl_step_backward", ci, _P, _P, _F, _F, _F, _F, _F, _F, _F, _F)
    fn("lstmcl_forward", ci, _P, _Z, _Z, _Z, _Z, _F, _F, _F, _F, _F, _F, ctypes.POINTER(_P))
    fn("lstmcl_backward", ci, _P, _P, _F, _F, _F, _F, _F, _F)
    fn("lstmcl_weights_create", ci, ctypes.POINTER(_P), _P)
    fn("lstmcl_weights_destroy", None, _P)
    fn("lstmcl_weights_data", _F, _P, ctypes.POINTER(_Z))
    fn("lstmcl_weights_last_message", ctypes.c_char_p)
    fn("lstmcl_weights_set_torch", ci, _P, _Z, _Z, _F, _F, _F, _F)
    fn("lstmcl_weights_get_torch", ci, _P, _Z, _Z, _F, _F, _F, _F)
    fn("lstmcl_model_forward", ci, _P, _P, _Z, _Z, _P, _F, _F, _F, _F, _F, _F,
       ctypes.POINTER(_P))
    fn("lstmcl_model_backward", ci, _P, _P, _F, _F, _F, _F, _F, _F, _F)


# ---------------------------------------------------------------- context
#
# Every function here may be called from any number of threads.  The C
# library serves one call at a time per context, so the package keeps a pool
# of contexts on the chosen device: a call borrows an idle one (making a new
# one while fewer than max_contexts() exist, else waiting for one), and gives
# it back when it returns.  A backward runs on the context its forward ran
# on, since the cache lives there.  The GIL is released during every C call.

class _Context:
    __slots__ = ("h",)

    def __init__(self, handle):
        self.h = handle


_device = None
_max_contexts = 4
_contexts = []      # every context made, in order
_idle = []          # those not lent now (the last given back is lent first)
_making = 0         # contexts being made now
_cond = threading.Condition()


def set_device(selector):
    """Chooses the device (a selector as LSTMCL_DEVICE: "gpu", "pocl",
    "nvidia:1", "0:2"; None: LSTMCL_DEVICE, else the first GPU, else the
    first device) for the process's contexts; only before first use."""
    global _device
    if selector is not None and not isinstance(selector, str):
        raise Error("LSTMCL_ERROR_INVALID_ARGUMENT",
                    "set_device: the selector is a %s; it must be a str or None" %
                    type(selector).__name__)
    with _cond:
        if _contexts or _making:
            raise Error("LSTMCL_ERROR_INVALID_ARGUMENT",
                        "set_device: a context is made already (on %s); call set_device "
                        "before the first LSTM call" % _name())
        _device = selector


def set_max_contexts(n):
    """How many contexts (so how many calls at the same time) the package may
    keep on its device; 4 unless set.  Threads beyond that wait for one.
    Lowering it keeps contexts already made."""
    global _max_contexts
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise Error("LSTMCL_ERROR_INVALID_ARGUMENT",
                    "set_max_contexts: n is %r; it must be an int of at least 1" % (n,))
    with _cond:
        _max_contexts = n
        _cond.notify_all()


def max_contexts():
    """The most contexts the package keeps (set_max_contexts)."""
    return _max_contexts


def devices():
    """The OpenCL devices, as (selector, type, "platform / device") tuples."""
    lib = _load()
    need = _Z(0)
    _check_plain(lib.lstmcl_devices(None, 0, ctypes.byref(need)), "listing devices")
    buf = ctypes.create_string_buffer(need.value + 1)
    _check_plain(lib.lstmcl_devices(buf, need.value + 1, ctypes.byref(need)), "listing devices")
    out = []
    for line in buf.value.decode(errors="replace").splitlines():
        sel, kind, name = line.split("\t", 2)
        out.append((sel, kind, name))
    return out


def _make_context():
    lib = _load()
    c = _P()
    sel = _device.encode() if _device is not None else None
    st = lib.lstmcl_context_create(ctypes.byref(c), sel)
    if st != 0:
        raise Error(lib.lstmcl_status_name(st).decode(),
                    lib.lstmcl_last_create_message().decode(errors="replace"))
    return _Context(c)


def _borrow(ctx=None):
    """Lends ctx, or any context, to the calling thread until _give_back."""
    global _making
    with _cond:
        if ctx is not None:
            while ctx not in _idle:
                if ctx not in _contexts:
                    raise Error("LSTMCL_ERROR_INVALID_CACHE",
                                "the context of this cache is released (interpreter exit)")
                _cond.wait()
            _idle.remove(ctx)
            return ctx
        while not _idle:
            if len(_contexts) + _making < _max_contexts:
                _making += 1
                break
            _cond.wait()
        else:
            return _idle.pop()
    try:
        made = _make_context()
    except BaseException:
        with _cond:
            _making -= 1
            _cond.notify_all()
        raise
    with _cond:
        _making -= 1
        if not _contexts:
            atexit.register(_release)
        _contexts.append(made)
    return made


def _give_back(ctx):
    with _cond:
        _idle.append(ctx)
        _cond.notify_all()


class _lent:
    """with _lent() as c: a context of the pool for the calling thread."""

    def __init__(self, ctx=None):
        self.want = ctx

    def __enter__(self):
        self.ctx = _borrow(self.want)
        return self.ctx

    def __exit__(self, *exc):
        _give_back(self.ctx)


def _release():
    with _cond:
        for c in _contexts:
            _lib.lstmcl_context_destroy(c.h)
        _contexts.clear()
        _idle.clear()


def _name():
    return (_lib.lstmcl_context_device_name(_contexts[0].h).decode(errors="replace")
            if _contexts else "")


def device_name():
    """"platform / device" of the package's contexts (one made if need be)."""
    with _lent() as c:
        return _lib.lstmcl_context_device_name(c.h).decode(errors="replace")


def _check_plain(st, what):
    if st != 0:
        raise Error(_lib.lstmcl_status_name(st).decode(), what + " failed")


def _check(st, ctx):
    """Raises for a failed call on ctx (its message is this thread's)."""
    if st != 0:
        raise Error(_lib.lstmcl_status_name(st).decode(),
                    _lib.lstmcl_context_message(ctx.h).decode(errors="replace"))


# ----------------------------------------------------------------- arrays

def _f32(name, a, shape):
    """a as a C-ordered float32 array of exactly shape; checked first."""
    if isinstance(a, np.ndarray):
        arr = a
    else:
        try:
            arr = np.asarray(a)
        except Exception as e:  # pragma: no cover - numpy's own message
            raise Error("LSTMCL_ERROR_INVALID_ARGUMENT", "%s: %s" % (name, e))
    if arr.dtype.kind not in "fiu" or arr.dtype.kind == "c":
        raise Error("LSTMCL_ERROR_INVALID_ARGUMENT",
                    "%s has dtype %s; it must be a real number type" % (name, arr.dtype))
    if tuple(arr.shape) != tuple(shape):
        raise Error("LSTMCL_ERROR_INVALID_ARGUMENT",
                    "%s has shape %s; it must be %s" % (name, tuple(arr.shape), tuple(shape)))
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.all(np.isfinite(out)):
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)):
            raise Error("LSTMCL_ERROR_INVALID_ARGUMENT",
                        "%s holds values beyond float32's range (largest magnitude %g; "
                        "float32 ends at 3.4e38)" % (name, float(np.max(np.abs(arr)))))
        raise Error("LSTMCL_ERROR_INVALID_ARGUMENT", "%s holds NaN or infinity" % name)
    return out


def _ptr(a):
    return a.ctypes.data_as(_F)


def _dims(name, a, ndim):
    shape = getattr(a, "shape", None)
    if shape is None:
        a = np.asarray(a)
        shape = a.shape
    if len(shape) != ndim:
        raise Error("LSTMCL_ERROR_INVALID_ARGUMENT",
                    "%s has shape %s; it must have %d dimensions" % (name, tuple(shape), ndim))
    if any(d == 0 for d in shape):
        raise Error("LSTMCL_ERROR_INVALID_ARGUMENT",
                    "%s has shape %s; no size may be 0" % (name, tuple(shape)))
    return tuple(int(d) for d in shape)


def _out_dtype(*arrays):
    """The inputs' float dtype for the results (float32 for integer inputs)."""
    t = np.result_type(*[np.asarray(a).dtype for a in arrays])
    return t if t.kind == "f" else np.dtype(np.float32)


class _Cache:
    """What a forward kept for its backward (opaque); lstmcl's cache is
    released when this object is collected."""

    def __init__(self, handle, kind, shape, dtype, ctx):
        self._h, self._kind, self._shape, self._dtype = handle, kind, shape, dtype
        self._lib, self._ctx = _lib, ctx

    def __del__(self):
        # lstmcl_cache_destroy may run on any thread (it waits for a call in
        # progress on the cache's context)
        h, self._h = getattr(self, "_h", None), None
        if h and self._lib is not None:
            self._lib.lstmcl_cache_destroy(h)


def _cache_of(cache, kind, fn):
    if not isinstance(cache, _Cache) or cache._h is None:
        raise Error("LSTMCL_ERROR_INVALID_CACHE",
                    "%s: cache is not one that lstmcl's %s returned" % (fn, kind))
    if cache._kind != kind:
        raise Error("LSTMCL_ERROR_INVALID_CACHE",
                    "%s: the cache was made by lstmcl's %s; pass one from %s" %
                    (fn, cache._kind, kind))
    return cache


# ----------------------------------------------------------- the seed's API

def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One timestep: x (N, D), prev_h, prev_c (N, H), Wx (D, 4H), Wh (H, 4H),
    b (4H,) -> (next_h, next_c, cache)."""
    N, D = _dims("x", x, 2)
    H = _dims("Wh", Wh, 2)[0]
    dt = _out_dtype(x, prev_h, prev_c, Wx, Wh, b)
    xs = _f32("x", x, (N, D))
    hs, cs = _f32("prev_h", prev_h, (N, H)), _f32("prev_c", prev_c, (N, H))
    wx, wh, bb = _f32("Wx", Wx, (D, 4 * H)), _f32("Wh", Wh, (H, 4 * H)), _f32("b", b, (4 * H,))
    nh, nc = np.empty((N, H), np.float32), np.empty((N, H), np.float32)
    c = _P()
    with _lent() as ctx:
        _check(_lib.lstmcl_step_forward(ctx.h, N, D, H, _ptr(xs), _ptr(hs), _ptr(cs), _ptr(wx),
                                        _ptr(wh), _ptr(bb), _ptr(nh), _ptr(nc),
                                        ctypes.byref(c)), ctx)
    cache = _Cache(c, "lstm_step_forward", (N, D, H), dt, ctx)
    return nh.astype(dt, copy=False), nc.astype(dt, copy=False), cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    """Backward of one timestep -> (dx, dprev_h, dprev_c, dWx, dWh, db)."""
    k = _cache_of(cache, "lstm_step_forward", "lstm_step_backward")
    N, D, H = k._shape
    dh, dc = _f32("dnext_h", dnext_h, (N, H)), _f32("dnext_c", dnext_c, (N, H))
    dt = np.result_type(k._dtype, _out_dtype(dnext_h, dnext_c))
    dx, dph, dpc = (np.empty((N, D), np.float32), np.empty((N, H), np.float32),
                    np.empty((N, H), np.float32))
    dWx, dWh, db = (np.empty((D, 4 * H), np.float32), np.empty((H, 4 * H), np.float32),
                    np.empty((4 * H,), np.float32))
    with _lent(k._ctx) as ctx:
        _check(_lib.lstmcl_step_backward(ctx.h, k._h, _ptr(dh), _ptr(dc), _ptr(dx), _ptr(dph),
                                         _ptr(dpc), _ptr(dWx), _ptr(dWh), _ptr(db)), ctx)
    return tuple(a.astype(dt, copy=False) for a in (dx, dph, dpc, dWx, dWh, db))


def lstm_forward(x, h0, Wx, Wh, b):
    """A whole sequence from a zero cell state: x (N, T, D), h0 (N, H),
    Wx (D, 4H), Wh (H, 4H), b (4H,) -> (h (N, T, H), cache)."""
    N, T, D = _dims("x", x, 3)
    H = _dims("Wh", Wh, 2)[0]
    dt = _out_dtype(x, h0, Wx, Wh, b)
    xs, hs = _f32("x", x, (N, T, D)), _f32("h0", h0, (N, H))
    wx, wh, bb = _f32("Wx", Wx, (D, 4 * H)), _f32("Wh", Wh, (H, 4 * H)), _f32("b", b, (4 * H,))
    h = np.empty((N, T, H), np.float32)
    c = _P()
    with _lent() as ctx:
        _check(_lib.lstmcl_forward(ctx.h, N, T, D, H, _ptr(xs), _ptr(hs), _ptr(wx), _ptr(wh),
                                   _ptr(bb), _ptr(h), ctypes.byref(c)), ctx)
    return h.astype(dt, copy=False), _Cache(c, "lstm_forward", (N, T, D, H), dt, ctx)


def lstm_backward(dh, cache):
    """Backward of a sequence: dh (N, T, H) -> (dx, dh0, dWx, dWh, db)."""
    k = _cache_of(cache, "lstm_forward", "lstm_backward")
    N, T, D, H = k._shape
    d = _f32("dh", dh, (N, T, H))
    dt = np.result_type(k._dtype, _out_dtype(dh))
    dx, dh0 = np.empty((N, T, D), np.float32), np.empty((N, H), np.float32)
    dWx, dWh, db = (np.empty((D, 4 * H), np.float32), np.empty((H, 4 * H), np.float32),
                    np.empty((4 * H,), np.float32))
    with _lent(k._ctx) as ctx:
        _check(_lib.lstmcl_backward(ctx.h, k._h, _ptr(d), _ptr(dx), _ptr(dh0), _ptr(dWx),
                                    _ptr(dWh), _ptr(db)), ctx)
    return tuple(a.astype(dt, copy=False) for a in (dx, dh0, dWx, dWh, db))
