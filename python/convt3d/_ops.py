"""The library's passes on contiguous, native-endian arrays of one float dtype.

Each function takes numpy arrays or CPU torch tensors (never a mix), already prepared by
functional.py, creates one plan, executes it once and destroys it. Outputs are allocated
here, of the same kind and dtype as the inputs; nothing the caller owns is released or
written. The library is thread-safe and ctypes releases the GIL around each call.
"""
import numpy as np

from . import _lib
from ._lib import lib


def _ptr(a):
    """The data pointer of an array, or None (NULL) when it has none or no elements."""
    if a is None:
        return None
    p = a.ctypes.data if isinstance(a, np.ndarray) else a.data_ptr()
    return p or None


def _empty(ref, shape):
    """An uninitialised array of ref's kind and dtype; the library writes every element.

    numpy's are placed on a 64-byte line, as PyTorch's CPU allocator places tensors (numpy
    aligns to 16 bytes): the library streams outputs past 64 MiB with non-temporal stores
    only where their rows start on a line."""
    if isinstance(ref, np.ndarray):
        dtype = np.dtype(ref.dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        raw = np.empty(nbytes + 64, dtype=np.uint8)
        skip = -raw.ctypes.data % 64
        return raw[skip:skip + nbytes].view(dtype).reshape(shape)
    return ref.new_empty(shape)


def _shape(a):
    return None if a is None else tuple(a.shape)


def problem(dtype, x_shape, w_shape, b_shape, prm):
    """A convt3d_problem from shapes and a Params (stride, padding, output_padding,
    dilation: 3-tuples; groups: int)."""
    return _lib.make_problem(dtype, x_shape, w_shape, b_shape, prm.stride, prm.padding,
                             prm.output_padding, prm.dilation, prm.groups)


def forward(dtype, x, w, b, prm):
    """y = conv_transpose3d(x, w, b)."""
    p = problem(dtype, _shape(x), _shape(w), _shape(b), prm)
    with _lib.Plan(lib.convt3d_plan_create, p, _ptr(w), _ptr(b)) as plan:
        y = _empty(x, plan.output_shape())
        _lib.check(lib.convt3d_plan_execute(plan.handle, _ptr(x), _ptr(y)))
    return y


def conv3d(dtype, x, w, b, prm):
    """y = conv3d(x, w, b); prm.output_padding must be (0, 0, 0)."""
    p = problem(dtype, _shape(x), _shape(w), _shape(b), prm)
    with _lib.Plan(lib.convt3d_conv3d_plan_create, p, _ptr(w), _ptr(b)) as plan:
        y = _empty(x, plan.output_shape())
        _lib.check(lib.convt3d_plan_execute(plan.handle, _ptr(x), _ptr(y)))
    return y


def backward_data(dtype, x_shape, w, b_shape, go, prm):
    """grad_input of y = conv_transpose3d(x, w, b) from grad_output go (y's shape)."""
    p = problem(dtype, x_shape, _shape(w), b_shape, prm)
    with _lib.Plan(lib.convt3d_plan_create_backward_data, p, _ptr(w)) as plan:
        gi = _empty(go, plan.output_shape())
        _lib.check(lib.convt3d_plan_execute(plan.handle, _ptr(go), _ptr(gi)))
    return gi


def backward_weight(dtype, x, w_shape, b_shape, go, prm, want_bias):
    """(grad_weight, grad_bias or None) of y = conv_transpose3d(x, w, b) from x and
    grad_output go."""
    p = problem(dtype, _shape(x), w_shape, b_shape, prm)
    with _lib.Plan(lib.convt3d_plan_create_backward_weight, p) as plan:
        gw = _empty(x, plan.output_shape())
        gb = _empty(x, (w_shape[1] * prm.groups,)) if want_bias else None
        _lib.check(lib.convt3d_plan_execute_backward_weight(plan.handle, _ptr(x), _ptr(go),
                                                            _ptr(gw), _ptr(gb)))
    return gw, gb
