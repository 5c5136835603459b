#!/usr/bin/python3
"""The binding's contract, case by case: numpy in/numpy out, torch in/torch out, every
layout of input the caller may hold (non-contiguous, Fortran order, big-endian,
unaligned, read-only, stride-0), dtype errors (TypeError naming the dtype), invalid
arguments (ValueError carrying the library's message), an empty batch, unbatched input,
the parameter forms (int, triple, 1-element list, numpy ints), conv3d's padding strings,
autograd details (partial requires_grad, no_grad, in-place changes after forward,
grad_output aliasing the input, a grad_output of another dtype), thread count and
determinism, the version, and how the library is found.
"""
import os
import re
import subprocess
import sys
import tempfile
import warnings

from common import HERE, Report, convt3d, np, torch

F = torch.nn.functional
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))


def rng_arrays(seed, xs, ws, bs, dtype=np.float32):
    r = np.random.default_rng(seed)
    x = r.standard_normal(xs).astype(dtype)
    w = r.standard_normal(ws).astype(dtype)
    b = None if bs is None else r.standard_normal(bs).astype(dtype)
    return x, w, b


def torch_ref(fn, x, w, b, **kw):
    t = lambda a: None if a is None else torch.from_numpy(np.ascontiguousarray(a).astype(np.float64))
    return fn(t(x), t(w), t(b), **kw).numpy()


def close(a, ref, rtol=1e-5, atol=1e-5):
    return a.shape == ref.shape and np.allclose(np.asarray(a, np.float64), ref, rtol=rtol, atol=atol)


CT_KW = dict(stride=(2, 1, 2), padding=(1, 0, 1), output_padding=(1, 0, 0), groups=2,
             dilation=(1, 2, 1))
C3_KW = dict(stride=(2, 1, 2), padding=(1, 0, 1), dilation=(1, 2, 1), groups=2)


def check_numpy(report):
    for dtype in (np.float32, np.float64):
        x, w, b = rng_arrays(1, (2, 4, 3, 4, 5), (4, 3, 3, 2, 3), (6,), dtype)
        y = convt3d.conv_transpose3d(x, w, b, **CT_KW)
        report.expect(isinstance(y, np.ndarray) and y.dtype == dtype,
                      f"numpy {dtype.__name__}: got {type(y)} {getattr(y, 'dtype', None)}")
        report.expect(y.flags.c_contiguous and y.flags.writeable and y.ctypes.data % 64 == 0,
                      f"numpy {dtype.__name__}: output not C-contiguous, writeable and on a "
                      f"64-byte line")
        report.expect(close(y, torch_ref(F.conv_transpose3d, x, w, b, **CT_KW)),
                      f"numpy {dtype.__name__} conv_transpose3d differs from torch")
        w3 = rng_arrays(2, (1,), (6, 2, 3, 2, 3), None, dtype)[1]
        y3 = convt3d.conv3d(x, w3, b, **C3_KW)
        report.expect(isinstance(y3, np.ndarray) and y3.dtype == dtype and
                      close(y3, torch_ref(F.conv3d, x, w3, b, **C3_KW)),
                      f"numpy {dtype.__name__} conv3d differs from torch")


def layouts(a):
    """Versions of array a with the same values in other memory layouts."""
    out = {"contiguous": a}
    big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    big[..., ::2] = a
    out["strided slice"] = big[..., ::2]
    out["fortran order"] = np.asfortranarray(a)
    out["big-endian"] = a.astype(a.dtype.newbyteorder(">"))
    raw = np.zeros(a.nbytes + 1, np.uint8)  # an unaligned buffer
    un = np.frombuffer(raw.data, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    assert not un.flags.aligned
    un[...] = a
    out["unaligned"] = un
    ro = a.copy()
    ro.setflags(write=False)
    out["read-only"] = ro
    out["negative strides"] = np.flip(np.flip(a, -1).copy(), -1)
    out["broadcast (stride 0)"] = np.broadcast_to(a[:, :1], a.shape)
    return out


def check_layouts(report):
    x, w, b = rng_arrays(3, (1, 2, 3, 4, 3), (2, 3, 2, 2, 2), (3,), np.float32)
    for name, xl in layouts(x).items():
        # the same values, contiguous: the library is deterministic, so the same bits
        want = convt3d.conv_transpose3d(np.array(xl, dtype=np.float32, order="C"), w, b,
                                        stride=2)
        for wname, wl in (("contiguous", w), ("transposed-back weight",
                                              w.transpose(4, 3, 2, 1, 0).copy().transpose(4, 3, 2, 1, 0))):
            before = (xl.copy(), wl.copy())
            y = convt3d.conv_transpose3d(xl, wl, b, stride=2)
            report.expect(y.dtype == np.float32 and np.array_equal(y, want),
                          f"numpy input {name}, weight {wname}: result differs")
            report.expect(np.array_equal(xl, before[0]) and np.array_equal(wl, before[1]),
                          f"numpy input {name}: the caller's arrays were changed")
            report.count("numpy layouts")
    # torch: a transposed view, a strided slice, an expanded tensor, a negated view
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)
    want_t = torch.from_numpy(convt3d.conv_transpose3d(x, w, b, stride=2))
    views = {
        "transposed": xt.transpose(-1, -2).contiguous().transpose(-1, -2),
        "sliced": torch.cat([xt, xt], -1)[..., :xt.shape[-1]],
        "expanded": xt[:, :1].expand(1, 2, 3, 4, 3),
        "negated view": torch._neg_view(-xt) if hasattr(torch, "_neg_view") else xt,
    }
    for name, v in views.items():
        ref = F.conv_transpose3d(v.contiguous().clone(), wt, torch.from_numpy(b), stride=2)
        y = convt3d.conv_transpose3d(v, wt, torch.from_numpy(b), stride=2)
        report.expect(torch.allclose(y, ref, rtol=1e-5, atol=1e-5),
                      f"torch input {name}: differs from torch")
        report.count("torch layouts")
    report.expect(torch.equal(convt3d.conv_transpose3d(views["transposed"], wt,
                                                       torch.from_numpy(b), stride=2), want_t),
                  "a transposed torch view gives other bits than the contiguous input")


def check_dtypes(report):
    x, w, b = rng_arrays(4, (1, 2, 2, 2, 2), (2, 2, 2, 2, 2), (2,), np.float32)
    for fn in (convt3d.conv_transpose3d, convt3d.conv3d):
        for dt in (np.float16, np.int32, np.int64, np.complex64, np.bool_, np.longdouble):
            name = np.dtype(dt).name
            report.raises(TypeError, lambda: fn(x.astype(dt), w.astype(dt)),
                          f"{fn.__name__} numpy {name}", match=name)
            report.raises(TypeError, lambda: fn(x, w.astype(dt)),
                          f"{fn.__name__} numpy weight {name}", match=name)
        report.raises(TypeError, lambda: fn(x, w.astype(np.float64)),
                      f"{fn.__name__} numpy mixed float32/float64", match="float64")
        report.raises(TypeError, lambda: fn(x, w, b.astype(np.float64)),
                      f"{fn.__name__} numpy mixed bias", match="float64")
        xt, wt = torch.from_numpy(x), torch.from_numpy(w)
        for dt in (torch.float16, torch.bfloat16, torch.int32, torch.complex64, torch.uint8):
            report.raises(TypeError, lambda: fn(xt.to(dt), wt.to(dt)),
                          f"{fn.__name__} torch {dt}", match=str(dt))
        report.raises(TypeError, lambda: fn(xt, wt.double()),
                      f"{fn.__name__} torch mixed float32/float64", match="torch.float64")
        report.raises(TypeError, lambda: fn(xt, w), f"{fn.__name__} torch input, numpy weight",
                      match="torch")
        report.raises(TypeError, lambda: fn(x, wt), f"{fn.__name__} numpy input, torch weight",
                      match="torch")
        report.raises(TypeError, lambda: fn(x.tolist(), w), f"{fn.__name__} a list",
                      match="list")
        # off the CPU, or not dense: a clear error
        report.raises(ValueError, lambda: fn(xt.to("meta"), wt.to("meta")),
                      f"{fn.__name__} meta tensors", match="CPU")
        report.raises(ValueError, lambda: fn(xt.to_sparse(), wt), f"{fn.__name__} sparse",
                      match="layout")


def check_invalid(report):
    """ValueError with the library's message (it names the function and the value)."""
    x, w, b = rng_arrays(5, (1, 4, 3, 3, 3), (4, 2, 3, 3, 3), (2,), np.float32)
    xt, wt, bt = (torch.from_numpy(a) for a in (x, w, b))
    cases = [
        ("stride 0", dict(stride=0), "stride"),
        ("negative padding", dict(padding=(0, -1, 0)), "padding"),
        ("output_padding too large", dict(output_padding=2), "output_padding"),
        ("groups not dividing", dict(groups=3), "groups"),
        ("groups 0", dict(groups=0), "groups"),
        ("dilation 0", dict(dilation=(1, 1, 0)), "dilation"),
        ("output too small", dict(padding=5), "output size"),
    ]
    for label, kw, word in cases:
        for kind, args in (("numpy", (x, w, b)), ("torch", (xt, wt, bt))):
            e = report.raises(ValueError, lambda: convt3d.conv_transpose3d(*args, **kw),
                              f"conv_transpose3d {label} ({kind})", match=word)
            if e is not None:
                report.expect(str(e).startswith("convt3d_"),
                              f"{label}: not the library's message: {e}")
    shape_cases = [
        ("channel mismatch", (1, 5, 3, 3, 3), (4, 2, 3, 3, 3), (4,), "channels"),
        ("weight rank", (1, 4, 3, 3, 3), (4, 2, 3, 3), (2,), "weight"),
        ("input rank", (4, 3, 3), (4, 2, 3, 3, 3), (2,), "input"),
        ("input rank 6", (1, 1, 4, 3, 3, 3), (4, 2, 3, 3, 3), (2,), "input"),
        ("bias length", (1, 4, 3, 3, 3), (4, 2, 3, 3, 3), (3,), "bias"),
        ("bias rank", (1, 4, 3, 3, 3), (4, 2, 3, 3, 3), (1, 2), "bias"),
        ("empty input", (1, 4, 0, 3, 3), (4, 2, 3, 3, 3), (2,), "empty"),
    ]
    for label, xs, ws, bs, word in shape_cases:
        xx, ww, bb = rng_arrays(6, xs, ws, bs, np.float64)
        report.raises(ValueError, lambda: convt3d.conv_transpose3d(xx, ww, bb),
                      f"conv_transpose3d {label}", match=word)
        report.raises(ValueError, lambda: convt3d.conv_transpose3d(
            torch.from_numpy(xx).requires_grad_(), torch.from_numpy(ww), torch.from_numpy(bb)),
            f"conv_transpose3d {label} (torch, requires grad)", match=word)
    # conv3d: its own rules (output_padding has no part; the kernel must fit)
    report.raises(ValueError, lambda: convt3d.conv3d(x, np.zeros((4, 4, 5, 5, 5), np.float32)),
                  "conv3d kernel larger than the input", match="kernel")
    report.raises(ValueError, lambda: convt3d.conv3d(x, np.zeros((4, 3, 3, 3, 3), np.float32)),
                  "conv3d channel mismatch", match="channels")
    # the binding's own argument checks
    report.raises(ValueError, lambda: convt3d.conv_transpose3d(x, w, stride=(1, 2)),
                  "stride of 2 values", match="stride")
    report.raises(TypeError, lambda: convt3d.conv_transpose3d(x, w, stride=1.5),
                  "float stride", match="stride")
    report.raises(TypeError, lambda: convt3d.conv_transpose3d(x, w, padding="same"),
                  "conv_transpose3d padding='same'", match="padding")
    report.raises(ValueError, lambda: convt3d.conv_transpose3d(x, w, padding=2 ** 70),
                  "padding beyond int64", match="64-bit")
    report.raises(ValueError, lambda: convt3d.conv3d(x, w, padding="full"),
                  "conv3d padding='full'", match="padding")
    report.raises(ValueError, lambda: convt3d.conv3d(x, np.zeros((4, 4, 3, 3, 3), np.float32),
                                                     stride=2, padding="same"),
                  "conv3d padding='same' with stride 2", match="strided")
    # torch's verdicts agree: each of these is rejected by torch too
    for label, kw, _ in cases:
        try:
            F.conv_transpose3d(xt, wt, bt, **kw)
            report.expect(False, f"torch accepts {label}, the test is wrong")
        except RuntimeError:
            report.expect(True, "")


def check_empty_and_unbatched(report):
    for dtype in (torch.float32, torch.float64):
        # empty batch: the output is empty, weight and bias gradients are zeros
        x = torch.zeros(0, 4, 3, 2, 3, dtype=dtype, requires_grad=True)
        w = torch.randn(4, 3, 2, 2, 2, dtype=dtype, requires_grad=True)
        b = torch.randn(6, dtype=dtype, requires_grad=True)
        y = convt3d.conv_transpose3d(x, w, b, stride=2, groups=2)
        y_t = F.conv_transpose3d(x, w, b, stride=2, groups=2)
        report.expect(y.shape == y_t.shape == (0, 6, 6, 4, 6), f"empty batch shape {y.shape}")
        y.sum().backward()
        report.expect(x.grad.shape == x.shape and bool((w.grad == 0).all()) and
                      bool((b.grad == 0).all()), "empty batch gradients are not zeros")
        yn = convt3d.conv_transpose3d(np.zeros((0, 4, 3, 2, 3), np.float32),
                                      np.ones((4, 3, 2, 2, 2), np.float32), stride=2, groups=2)
        report.expect(yn.shape == (0, 6, 6, 4, 6), f"numpy empty batch shape {yn.shape}")
        y3 = convt3d.conv3d(torch.zeros(0, 4, 3, 3, 3, dtype=dtype), torch.ones(2, 4, 3, 3, 3,
                                                                                 dtype=dtype))
        report.expect(y3.shape == (0, 2, 1, 1, 1), f"conv3d empty batch shape {y3.shape}")
        # unbatched in, unbatched out, gradients included
        xu = torch.randn(4, 3, 2, 3, dtype=dtype, requires_grad=True)
        xu_t = xu.detach().clone().requires_grad_()
        w_t = w.detach().clone().requires_grad_()
        y = convt3d.conv_transpose3d(xu, w, b, stride=(2, 1, 2), padding=1, groups=2)
        y_t = F.conv_transpose3d(xu_t, w_t, b, stride=(2, 1, 2), padding=1, groups=2)
        g = torch.randn_like(y_t)
        w.grad = None
        y.backward(g)
        y_t.backward(g)
        tol = dict(rtol=1e-4, atol=1e-4) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-10)
        report.expect(y.shape == y_t.shape and y.dim() == 4 and torch.allclose(y, y_t, **tol),
                      f"unbatched {dtype}: shape {tuple(y.shape)} vs {tuple(y_t.shape)}")
        report.expect(torch.allclose(xu.grad, xu_t.grad, **tol) and
                      torch.allclose(w.grad, w_t.grad, **tol), f"unbatched {dtype} gradients")
        yn = convt3d.conv3d(xu.detach().numpy(), w.detach().numpy()[:, :2].copy(), groups=2)
        report.expect(yn.ndim == 4 and close(yn, torch_ref(F.conv3d, xu.detach().numpy(),
                                                           w.detach().numpy()[:, :2], None,
                                                           groups=2)),
                      "numpy unbatched conv3d")


def check_parameter_forms(report):
    x, w, b = rng_arrays(7, (1, 2, 3, 3, 3), (2, 2, 3, 3, 3), (2,), np.float64)
    want = convt3d.conv_transpose3d(x, w, b, stride=(2, 2, 2), padding=(1, 1, 1),
                                    output_padding=(1, 1, 1), dilation=(1, 1, 1))
    for form in (2, [2], (2, 2, 2), [2, 2, 2], np.int64(2), np.array([2, 2, 2]),
                 torch.tensor(2), torch.Size([2, 2, 2])):
        one = 1 if not isinstance(form, (list, tuple)) else type(form)([1] * len(form))
        y = convt3d.conv_transpose3d(x, w, b, stride=form, padding=one, output_padding=one,
                                     dilation=1)
        report.expect(np.array_equal(y, want), f"stride given as {form!r}")


def check_conv3d_padding_strings(report):
    warnings.filterwarnings("ignore", message="Using padding='same'")
    r = np.random.default_rng(8)
    for k, d in (((3, 3, 3), 1), ((2, 3, 4), 1), ((2, 2, 1), 2), ((4, 1, 2), (1, 2, 3))):
        x = r.standard_normal((2, 2, 5, 6, 7))
        w = r.standard_normal((3, 2) + k)
        b = r.standard_normal(3)
        for pad in ("same", "valid"):
            ref = torch_ref(F.conv3d, x, w, b, padding=pad, dilation=d)
            y = convt3d.conv3d(x, w, b, padding=pad, dilation=d)
            report.expect(close(y, ref, 1e-10, 1e-10), f"numpy conv3d padding={pad!r} k={k} d={d}")
            xt = torch.from_numpy(x).requires_grad_()
            wt = torch.from_numpy(w).requires_grad_()
            xr = torch.from_numpy(x).requires_grad_()
            wr = torch.from_numpy(w).requires_grad_()
            yt = convt3d.conv3d(xt, wt, torch.from_numpy(b), padding=pad, dilation=d)
            yr = F.conv3d(xr, wr, torch.from_numpy(b), padding=pad, dilation=d)
            g = torch.randn_like(yr)
            yt.backward(g)
            yr.backward(g)
            report.expect(torch.allclose(yt, yr, 1e-10, 1e-10) and
                          torch.allclose(xt.grad, xr.grad, 1e-10, 1e-10) and
                          torch.allclose(wt.grad, wr.grad, 1e-10, 1e-10),
                          f"torch conv3d padding={pad!r} k={k} d={d}: values or gradients")


def check_autograd_details(report):
    gen = torch.Generator().manual_seed(9)
    x = torch.randn(2, 3, 3, 3, 3, dtype=torch.float64, generator=gen)
    w = torch.randn(3, 3, 3, 3, 3, dtype=torch.float64, generator=gen)
    b = torch.randn(3, dtype=torch.float64, generator=gen)
    # no_grad: no graph
    with torch.no_grad():
        y = convt3d.conv_transpose3d(x.requires_grad_(), w, b, padding=1)
    report.expect(not y.requires_grad and y.grad_fn is None, "no_grad output has a graph")
    x.requires_grad_(False)
    # grad_output aliasing the input (same shape: k=3, p=1): the library may read both
    xa = x.clone().requires_grad_()
    wa = w.clone().requires_grad_()
    y = convt3d.conv_transpose3d(xa, wa, None, padding=1)
    y.backward(xa.detach())  # shares xa's memory
    xr, wr = x.clone().requires_grad_(), w.clone().requires_grad_()
    F.conv_transpose3d(xr, wr, None, padding=1).backward(xr.detach())
    report.expect(torch.allclose(xa.grad, xr.grad, 1e-10, 1e-10) and
                  torch.allclose(wa.grad, wr.grad, 1e-10, 1e-10),
                  "grad_output sharing the input's memory")
    # grad_output of another dtype: autograd converts it to the output's dtype
    xf = x.float().requires_grad_()
    y = convt3d.conv_transpose3d(xf, w.float(), b.float(), padding=1)
    y.backward(torch.ones(y.shape, dtype=torch.float64))
    report.expect(xf.grad is not None and xf.grad.dtype == torch.float32,
                  "float64 grad_output for a float32 output")
    # in-place change of a saved tensor after forward: autograd's error, not a silent
    # gradient from the new values
    w2 = w.clone().requires_grad_()
    w3 = w2 * 1
    y = convt3d.conv_transpose3d(x.clone().requires_grad_(), w3, b, padding=1)
    w3.mul_(2)
    report.raises(RuntimeError, lambda: y.sum().backward(),
                  "in-place change of the weight after forward", match="inplace")
    # only the bias requires grad: grad_bias alone
    bb = b.clone().requires_grad_()
    y = convt3d.conv_transpose3d(x, w, bb, padding=1)
    y.backward(torch.ones_like(y))
    report.expect(torch.allclose(bb.grad, torch.full_like(b, y[0, 0].numel() * 2.0)),
                  "grad_bias alone")
    # the result of a torch call with no grad required: a plain tensor
    y = convt3d.conv_transpose3d(x, w)
    report.expect(isinstance(y, torch.Tensor) and not y.requires_grad, "plain tensor out")


def check_threads(report):
    before = convt3d.get_num_threads()
    x, w, b = rng_arrays(10, (2, 8, 6, 6, 6), (8, 8, 3, 3, 3), (8,), np.float32)
    results = []
    for n in (1, 2, 3):
        convt3d.set_num_threads(n)
        report.expect(convt3d.get_num_threads() == n, f"set_num_threads({n}) then get gives "
                                                      f"{convt3d.get_num_threads()}")
        xt, wt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
        y = convt3d.conv_transpose3d(xt, wt, torch.from_numpy(b), stride=2, padding=1)
        y.backward(torch.ones_like(y))
        results.append((y.detach(), xt.grad, wt.grad))
    same = all(torch.equal(a, b) for r in results[1:] for a, b in zip(r, results[0]))
    report.expect(same, "results differ between thread counts (they must be bit-identical)")
    convt3d.set_num_threads(0)
    report.expect(convt3d.get_num_threads() >= 1, "set_num_threads(0) does not restore a default")
    convt3d.set_num_threads(before)


def check_version_and_loading(report):
    header = open(os.path.join(REPO, "include", "convt3d.h")).read()
    parts = [re.search(rf"#define CONVT3D_VERSION_{p} (\d+)", header).group(1)
             for p in ("MAJOR", "MINOR", "PATCH")]
    report.expect(convt3d.__version__ == ".".join(parts),
                  f"__version__ {convt3d.__version__} vs the header's {'.'.join(parts)}")
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"))
    code = "import convt3d; print(convt3d.library_path)"
    # an explicit $CONVT3D_LIBRARY is used
    env["CONVT3D_LIBRARY"] = convt3d.library_path
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    report.expect(r.returncode == 0 and r.stdout.strip() == convt3d.library_path,
                  f"CONVT3D_LIBRARY={convt3d.library_path}: {r.stdout} {r.stderr}")
    # a wrong one is an ImportError that says how to fix it
    env["CONVT3D_LIBRARY"] = "/nonexistent/libconvt3d.so"
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    report.expect(r.returncode != 0 and "ImportError" in r.stderr and
                  "CONVT3D_LIBRARY" in r.stderr and "/nonexistent" in r.stderr,
                  f"a wrong CONVT3D_LIBRARY: {r.stderr[-400:]}")
    # no library anywhere: the package copied outside the repository, no variable
    with tempfile.TemporaryDirectory() as tmp:
        import shutil
        shutil.copytree(os.path.join(REPO, "python", "convt3d"), os.path.join(tmp, "convt3d"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        env2 = {k: v for k, v in os.environ.items() if k != "CONVT3D_LIBRARY"}
        env2["PYTHONPATH"] = tmp
        r = subprocess.run([sys.executable, "-c", code], env=env2, capture_output=True,
                           text=True, cwd=tmp)
        import ctypes.util
        if ctypes.util.find_library("convt3d") is None:
            report.expect(r.returncode != 0 and "ImportError" in r.stderr and
                          "CONVT3D_LIBRARY" in r.stderr, f"no library: {r.stderr[-400:]}")
    # numpy alone: importing and using the package does not import torch
    r = subprocess.run([sys.executable, "-c",
                        "import sys, numpy as np, convt3d\n"
                        "y = convt3d.conv_transpose3d(np.ones((1, 1, 2, 2, 2)), "
                        "np.ones((1, 1, 2, 2, 2)))\n"
                        "print(y.sum(), 'torch' in sys.modules)"],
                       env=dict(os.environ, PYTHONPATH=os.path.join(REPO, "python")),
                       capture_output=True, text=True)
    report.expect(r.returncode == 0 and r.stdout.split() == ["64.0", "False"],
                  f"numpy-only use: {r.stdout} {r.stderr[-300:]}")


def main():
    torch.set_num_threads(1)
    report = Report("test_api")
    check_numpy(report)
    check_layouts(report)
    check_dtypes(report)
    check_invalid(report)
    check_empty_and_unbatched(report)
    check_parameter_forms(report)
    check_conv3d_padding_strings(report)
    check_autograd_details(report)
    check_threads(report)
    check_version_and_loading(report)
    return report.finish()


if __name__ == "__main__":
    raise SystemExit(main())
