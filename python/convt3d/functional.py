"""conv_transpose3d and conv3d for numpy arrays and torch tensors.

numpy arrays in, numpy array out; torch tensors in, torch tensor out, differentiable when
one of them requires grad (see _autograd.py). The arguments and their defaults are
PyTorch's: conv_transpose3d(input, weight, bias, stride, padding, output_padding, groups,
dilation) and conv3d(input, weight, bias, stride, padding, dilation, groups).

Errors: a dtype other than float32/float64, or tensors of different dtypes, raise
TypeError; shapes and parameters PyTorch would reject raise ValueError with the library's
message (convt3d_last_error), as do torch tensors off the CPU.
"""
import collections
import operator
import sys

import numpy as np

from . import _lib, _ops

Params = collections.namedtuple("Params", "stride padding output_padding dilation groups")


# ------------------------------------------------------------------ arguments

def _int(name, v, what="an int"):
    try:
        return operator.index(v)
    except TypeError:
        raise TypeError(f"convt3d: {name} must be {what}, got {v!r}") from None


def _triple(name, v):
    """One int, or 1 or 3 ints (PyTorch also expands a 1-element list), as a 3-tuple."""
    if isinstance(v, (str, bytes)):
        raise TypeError(f"convt3d: {name} must be an int or a sequence of 3 ints "
                        f"(depth, height, width), got {v!r}")
    try:
        i = operator.index(v)
        return (i, i, i)
    except TypeError:
        pass
    try:
        seq = tuple(v)
    except TypeError:
        raise TypeError(f"convt3d: {name} must be an int or a sequence of 3 ints "
                        f"(depth, height, width), got {v!r}") from None
    if len(seq) == 1:
        seq = seq * 3
    if len(seq) != 3:
        raise ValueError(f"convt3d: {name} must be one int or 3 ints (depth, height, width), "
                         f"got {len(seq)} values: {v!r}")
    return tuple(_int(name, e, "an int or a sequence of 3 ints (depth, height, width)")
                 for e in seq)


def _params(stride, padding, output_padding, dilation, groups):
    return Params(_triple("stride", stride), _triple("padding", padding),
                  _triple("output_padding", output_padding), _triple("dilation", dilation),
                  _int("groups", groups))


# -------------------------------------------------------------------- arrays

def _torch():
    """The torch module if it has been imported (a torch tensor implies it has)."""
    return sys.modules.get("torch")


def _is_tensor(a):
    torch = _torch()
    return torch is not None and isinstance(a, torch.Tensor)


def _kind(named):
    """'torch' or 'numpy' for the (name, array) pairs of one call; TypeError for a mix or
    for anything that is neither."""
    arrays = [(n, a) for n, a in named if a is not None]
    if any(_is_tensor(a) for _, a in arrays):
        for n, a in arrays:
            if not _is_tensor(a):
                raise TypeError(f"convt3d: {arrays[0][0]} and the others are torch tensors "
                                f"but {n} is {type(a).__name__}; pass all torch tensors or "
                                "all numpy arrays")
        return "torch"
    for n, a in arrays:
        if not isinstance(a, np.ndarray):
            raise TypeError(f"convt3d: {n} must be a numpy.ndarray or a torch.Tensor, got "
                            f"{type(a).__module__}.{type(a).__name__}")
    return "numpy"


def _dtype_code(named, kind):
    """F32 or F64, the one dtype of every array; TypeError otherwise."""
    codes = []
    for n, a in named:
        if a is None:
            continue
        if kind == "numpy":
            ok = a.dtype.kind == "f" and a.dtype.itemsize in (4, 8)
            code, dname = (_lib.F32 if a.dtype.itemsize == 4 else _lib.F64), a.dtype.name
        else:
            torch = _torch()
            ok = a.dtype in (torch.float32, torch.float64)
            code, dname = (_lib.F32 if a.dtype == torch.float32 else _lib.F64), str(a.dtype)
        if not ok:
            raise TypeError(f"convt3d: {n} has dtype {dname}; only float32 and float64 "
                            "are supported")
        codes.append((n, code, dname))
    for n, code, dname in codes[1:]:
        if code != codes[0][1]:
            raise TypeError(f"convt3d: {codes[0][0]} is {codes[0][2]} but {n} is {dname}; "
                            "all tensors must have the same dtype")
    return codes[0][1]


def _np_ready(a):
    """a as a C-contiguous, aligned, native-endian array (a itself when it already is)."""
    if a is None:
        return None
    return np.require(a, dtype=a.dtype.newbyteorder("="), requirements=["C", "A"])


def _torch_check(t, name):
    """A torch tensor the library can read once made contiguous: on the CPU, dense."""
    if t is None:
        return
    if t.device.type != "cpu":
        raise ValueError(f"convt3d: {name} is on {t.device}; convt3d computes on the CPU "
                         "only (move it with .cpu())")
    if t.layout != _torch().strided:
        raise ValueError(f"convt3d: {name} has layout {t.layout}; convt3d takes dense "
                         "(strided) tensors only")


def torch_ready(t, name="tensor"):
    """t as a contiguous CPU tensor with plain (non-negated) values; t itself when it
    already is. Called where autograd does not record (no copy enters the graph)."""
    if t is None:
        return None
    _torch_check(t, name)
    if t.is_neg():
        t = t.resolve_neg()
    return t.contiguous()


def _prepare(named):
    """(kind, dtype code, arrays) for one call: numpy arrays made ready for the library;
    torch tensors only checked (the autograd layer makes them contiguous)."""
    kind = _kind(named)
    code = _dtype_code(named, kind)
    if kind == "numpy":
        return kind, code, [_np_ready(a) for _, a in named]
    for n, a in named:
        _torch_check(a, n)
    return kind, code, [a for _, a in named]


# -------------------------------------------------------------- the functions

def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """torch.nn.functional.conv_transpose3d, computed by libconvt3d.

    input (N, Cin, D, H, W) or unbatched (Cin, D, H, W); weight (Cin, Cout/groups, kD,
    kH, kW); bias (Cout) or None. stride, padding, output_padding, dilation: an int or 3
    ints (depth, height, width); groups: an int.

    numpy arrays give a numpy array; CPU torch tensors give a torch tensor, which is
    differentiable with respect to every input that requires grad (grad_input by the
    library's backward-data pass, grad_weight and grad_bias by its backward-weight
    pass). Double backward (create_graph=True, then differentiating the gradients) is
    not supported: attempting it raises a RuntimeError.

    Raises TypeError for a dtype other than float32/float64 or mixed dtypes, ValueError
    with the library's message for anything PyTorch would reject.
    """
    prm = _params(stride, padding, output_padding, dilation, groups)
    named = (("input", input), ("weight", weight), ("bias", bias))
    kind, code, (x, w, b) = _prepare(named)
    if kind == "torch":
        from . import _autograd
        return _autograd.conv_transpose3d(x, w, b, code, prm)
    return _ops.forward(code, x, w, b, prm)


def _same_padding(weight, stride, dilation):
    """(symmetric padding, extra padding at the far end) for padding='same', as
    F.conv3d computes them: total d*(k-1) per axis, the odd one at the far end."""
    if any(s != 1 for s in stride):
        raise ValueError("convt3d: padding='same' is not supported for strided "
                         f"convolutions (stride {stride})")
    if weight.ndim != 5:  # let the library report the weight's rank
        return (0, 0, 0), (0, 0, 0)
    total = [d * (k - 1) for d, k in zip(dilation, weight.shape[2:])]
    left = tuple(t // 2 for t in total)
    return left, tuple(t - 2 * l for t, l in zip(total, left))


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """torch.nn.functional.conv3d, computed by libconvt3d (note F.conv3d's argument
    order: dilation before groups).

    input (N, Cin, D, H, W) or unbatched (Cin, D, H, W); weight (Cout, Cin/groups, kD,
    kH, kW); bias (Cout) or None. stride, padding, dilation: an int or 3 ints; padding
    may also be 'valid' (no padding) or 'same' (output as large as the input; stride 1
    only; an odd total padding puts the extra row at the far end, as PyTorch does).

    Types, gradients and errors as for conv_transpose3d: the gradient of the input is a
    transposed convolution of grad_output, that of the weight the transposed problem's
    backward-weight pass with the roles of input and grad_output swapped, that of the
    bias grad_output summed. Double backward is not supported.
    """
    extra = (0, 0, 0)
    stride_t, dilation_t = _triple("stride", stride), _triple("dilation", dilation)
    if isinstance(padding, str) and padding not in ("valid", "same"):
        raise ValueError(f"convt3d: invalid padding string {padding!r}; expected "
                         "'valid', 'same', an int or 3 ints")
    named = (("input", input), ("weight", weight), ("bias", bias))
    kind, code, (x, w, b) = _prepare(named)
    if isinstance(padding, str):
        padding, extra = ((0, 0, 0), extra) if padding == "valid" else \
            _same_padding(w, stride_t, dilation_t)
    prm = Params(stride_t, _triple("padding", padding), (0, 0, 0), dilation_t,
                 _int("groups", groups))
    if any(extra) and x.ndim in (4, 5):  # (another rank is left for the library to report)
        if kind == "torch":  # through torch, so that autograd sees the padding
            x = _torch().nn.functional.pad(x, (0, extra[2], 0, extra[1], 0, extra[0]))
        else:
            x = np.pad(x, [(0, 0)] * (x.ndim - 3) + [(0, e) for e in extra])
    if kind == "torch":
        from . import _autograd
        return _autograd.conv3d(x, w, b, code, prm)
    return _ops.conv3d(code, x, w, b, prm)


def set_num_threads(n):
    """Sets how many threads each later call uses; n <= 0 restores the default
    (OMP_NUM_THREADS, else the number of cores)."""
    _lib.lib.convt3d_set_num_threads(int(n))


def get_num_threads():
    """How many threads a call made now would use (>= 1)."""
    return _lib.lib.convt3d_get_num_threads()
