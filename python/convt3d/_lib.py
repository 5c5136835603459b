"""Loads libconvt3d and declares the part of its C API the binding uses (ctypes).

Where the library comes from, first match wins:
  1. $CONVT3D_LIBRARY, a path to libconvt3d.so (nothing else is tried when it is set);
  2. the repository's build folder, python/convt3d/../../build/libconvt3d.so;
  3. ctypes.util.find_library('convt3d'): an installed library on the system's search path.
"""
import ctypes
import ctypes.util
import os

# convt3d_status
OK = 0
ERR_INVALID_ARGUMENT = 1
ERR_OUT_OF_MEMORY = 2
ERR_TOO_LARGE = 3

# convt3d_dtype
F32 = 1
F64 = 2

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


class Shape(ctypes.Structure):
    _fields_ = [("ndim", ctypes.c_int), ("dims", ctypes.c_int64 * 5)]

    def tuple(self):
        return tuple(int(d) for d in self.dims[:self.ndim])


class Problem(ctypes.Structure):
    _fields_ = [("dtype", ctypes.c_int), ("input", Shape), ("weight", Shape),
                ("has_bias", ctypes.c_int), ("bias", Shape),
                ("stride", ctypes.c_int64 * 3), ("padding", ctypes.c_int64 * 3),
                ("output_padding", ctypes.c_int64 * 3), ("dilation", ctypes.c_int64 * 3),
                ("groups", ctypes.c_int64)]


class PlanOptions(ctypes.Structure):
    _fields_ = [("algorithm", ctypes.c_int), ("num_threads", ctypes.c_int),
                ("isa", ctypes.c_int)]


class PlanInfo(ctypes.Structure):
    _fields_ = [("output", Shape), ("algorithm", ctypes.c_int), ("isa", ctypes.c_char_p),
                ("kernel", ctypes.c_char_p), ("num_threads", ctypes.c_int),
                ("packed_weight_bytes", ctypes.c_size_t), ("workspace_bytes", ctypes.c_size_t),
                ("flops", ctypes.c_double), ("pass_", ctypes.c_int)]


_HOW_TO = ("build it (cmake -S . -B build && cmake --build build) or set CONVT3D_LIBRARY "
           "to the path of libconvt3d.so, e.g. CONVT3D_LIBRARY=/path/to/build/libconvt3d.so")


def _find():
    """The path to load and where it came from."""
    env = os.environ.get("CONVT3D_LIBRARY")
    if env:
        return env, "$CONVT3D_LIBRARY"
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.normpath(os.path.join(here, "..", "..", "build", "libconvt3d.so"))
    if os.path.exists(repo):
        return repo, "the repository's build folder"
    found = ctypes.util.find_library("convt3d")
    if found:
        return found, "the system's library path"
    raise ImportError("convt3d: libconvt3d.so not found (CONVT3D_LIBRARY is not set, "
                      f"{repo} does not exist, and the system has no libconvt3d); " + _HOW_TO)


def _load():
    path, origin = _find()
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(f"convt3d: cannot load {path} (from {origin}): {e}; " + _HOW_TO) from e
    P, V, I64 = ctypes.POINTER, ctypes.c_void_p, ctypes.c_int64
    plan_p = P(V)
    signatures = {
        "convt3d_version_string": (ctypes.c_char_p, []),
        "convt3d_version": (ctypes.c_int, []),
        "convt3d_last_error": (ctypes.c_char_p, []),
        "convt3d_set_num_threads": (None, [ctypes.c_int]),
        "convt3d_get_num_threads": (ctypes.c_int, []),
        "convt3d_output_padding_for_size": (ctypes.c_int, [P(Problem), P(I64), P(I64)]),
        "convt3d_plan_create": (ctypes.c_int, [P(Problem), V, V, P(PlanOptions), plan_p]),
        "convt3d_plan_create_backward_data": (ctypes.c_int, [P(Problem), V, P(PlanOptions),
                                                             plan_p]),
        "convt3d_plan_create_backward_weight": (ctypes.c_int, [P(Problem), P(PlanOptions),
                                                               plan_p]),
        "convt3d_conv3d_plan_create": (ctypes.c_int, [P(Problem), V, V, P(PlanOptions),
                                                      plan_p]),
        "convt3d_plan_execute": (ctypes.c_int, [V, V, V]),
        "convt3d_plan_execute_backward_weight": (ctypes.c_int, [V, V, V, V, V]),
        "convt3d_plan_get_info": (ctypes.c_int, [V, P(PlanInfo)]),
        "convt3d_plan_destroy": (None, [V]),
    }
    for name, (restype, argtypes) in signatures.items():
        try:
            fn = getattr(lib, name)
        except AttributeError as e:
            raise ImportError(f"convt3d: {path} (from {origin}) has no {name}: it is older "
                              "than this Python package; rebuild it or point "
                              "CONVT3D_LIBRARY at a current libconvt3d.so") from e
        fn.restype, fn.argtypes = restype, argtypes
    return lib, path


lib, path = _load()


def last_error():
    return lib.convt3d_last_error().decode("utf-8", "replace")


def check(status):
    """Raises the Python exception for a failed call, with the library's message."""
    if status == OK:
        return
    msg = last_error()
    if status in (ERR_INVALID_ARGUMENT, ERR_TOO_LARGE):
        raise ValueError(msg)
    if status == ERR_OUT_OF_MEMORY:
        raise MemoryError(msg)
    raise RuntimeError(f"convt3d: status {status}: {msg}")


def set_shape(shape, dims):
    shape.ndim = len(dims)
    for i, d in enumerate(dims[:5]):
        shape.dims[i] = d


def set_triple(field, values):
    for i, v in enumerate(values):
        if not _INT64_MIN <= v <= _INT64_MAX:
            raise ValueError(f"convt3d: {v} does not fit in a 64-bit integer")
        field[i] = v


def make_problem(dtype, input_shape, weight_shape, bias_shape, stride, padding,
                 output_padding, dilation, groups):
    """A convt3d_problem; bias_shape None means no bias. Parameters are 3-tuples of ints."""
    p = Problem()
    p.dtype = dtype
    set_shape(p.input, input_shape)
    set_shape(p.weight, weight_shape)
    p.has_bias = bias_shape is not None
    if bias_shape is not None:
        set_shape(p.bias, bias_shape)
    set_triple(p.stride, stride)
    set_triple(p.padding, padding)
    set_triple(p.output_padding, output_padding)
    set_triple(p.dilation, dilation)
    if not _INT64_MIN <= groups <= _INT64_MAX:
        raise ValueError(f"convt3d: groups {groups} does not fit in a 64-bit integer")
    p.groups = groups
    return p


class Plan:
    """Owns one convt3d_plan; destroyed on close() (use as a context manager)."""

    def __init__(self, create, problem, *buffers):
        self.handle = ctypes.c_void_p()
        args = (ctypes.byref(problem),) + buffers + (None, ctypes.byref(self.handle))
        check(create(*args))

    def output_shape(self):
        info = PlanInfo()
        check(lib.convt3d_plan_get_info(self.handle, ctypes.byref(info)))
        return info.output.tuple()

    def close(self):
        if self.handle:
            lib.convt3d_plan_destroy(self.handle)
            self.handle = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
