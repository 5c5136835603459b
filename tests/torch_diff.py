#!/usr/bin/python3
"""Differential test: convt3d against the installed PyTorch, on seeded random problems.

Valid problems: every convt3d path (the library's automatic choice, the reference and the
tap_gemm algorithm forced, through a minimal ctypes shim, and the `convt3d run` CLI for a share of them) must agree
with torch.nn.functional.conv_transpose3d within the bounds below. Invalid problems: torch
must reject them and so must convt3d (invalid-argument status; exit 2 and no output file
in the CLI). Where torch 1.13 accepts a call only because the batch is empty (it skips
several checks when N = 0), validity is judged as torch judges the same call with N = 1.

Tolerances (docs/testing.md derives them). For one output element let K be the number of
multiply-adds that can reach it (Cin/groups * kD*kH*kW) and M = sum |x||w| + |bias| over
its terms. Any order of floating-point summation of K products plus the bias is within
gamma(K+1) * M of the exact value, gamma(n) = n*u / (1 - n*u), u the unit roundoff. So:
  float64: |convt3d - torch| <= 1e-10 * M (the issue's bound; the analysis gives 2e-13 M)
  float32: |convt3d - exact| <= gamma(K+1) * M, and
           |convt3d - torch| <= 2 * gamma(K+1) * M (both are within gamma of exact),
with "exact" computed by torch in float64 from the same float32 data.
The Winograd algorithm (forced on every problem it takes, and AUTO's choice on the
--winograd problems of 32-80 channels) is held to its own bound instead:
  float32: |convt3d - exact| <= c * gamma(K'+16) * S, K' = Cin/groups * kD*kH, with S
           the sum over its terms of (sum of |w| over kW) * (sum of |x| over the input
           columns around the output) + |bias|: for kernel 3 stride 1 (F(4, 3)) c = 32/3
           and 9 columns dW apart, a superset of its tile's 6; for kernel 4 stride 2 (F(4, 2) per
           phase) c = 6 and the 8 columns (ow + pW)/2 - 4 .. + 3, a superset of its
           phase's 5 (winograd.c); for kernel 3 stride 2 (F(4, 2) on the phase of taps 0
           and 2, the other as it is) c = 6 and the 8 or 9 columns from (ow + pW - 9)/2
           up to (ow + pW + 7)/2, rounded inwards. The tiles run along the width on
           these problems (winograd.c's wino_axis sends them along the depth only for
           slices of megabytes).
The --patch problems (no padding, planes of 16 positions or fewer: AUTO's patch cut of the
phase algorithm, patches apart or overlapping) are held to the float32 bounds above.

Usage: torch_diff.py --lib build/libconvt3d.so --cli build/convt3d [--valid 2000]
       [--invalid 300] [--winograd 30] [--patch 20] [--seed 1] [--cli-every 10] [--cli-only]
Exit status 0 when every check passed, 1 otherwise, 77 when torch is missing (skip).
"""
import argparse
import ctypes
import math
import os
import random
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"torch_diff: skipped, {e} (install python3-torch and python3-numpy)")
    sys.exit(77)

OK, INVALID, TOO_LARGE = 0, 1, 3
F32, F64 = 1, 2


class Shape(ctypes.Structure):
    _fields_ = [("ndim", ctypes.c_int), ("dims", ctypes.c_int64 * 5)]


class Problem(ctypes.Structure):
    _fields_ = [("dtype", ctypes.c_int), ("input", Shape), ("weight", Shape),
                ("has_bias", ctypes.c_int), ("bias", Shape),
                ("stride", ctypes.c_int64 * 3), ("padding", ctypes.c_int64 * 3),
                ("output_padding", ctypes.c_int64 * 3), ("dilation", ctypes.c_int64 * 3),
                ("groups", ctypes.c_int64)]


class PlanOptions(ctypes.Structure):
    _fields_ = [("algorithm", ctypes.c_int), ("num_threads", ctypes.c_int),
                ("isa", ctypes.c_int)]


ALGO_AUTO, ALGO_REFERENCE, ALGO_TAP_GEMM, ALGO_WINOGRAD = 0, 1, 4, 5


class Shim:
    """Just enough of the C API to run one problem."""

    def __init__(self, path):
        lib = ctypes.CDLL(path)
        lib.convt3d_last_error.restype = ctypes.c_char_p
        lib.convt3d_problem_check.argtypes = [ctypes.POINTER(Problem)]
        lib.convt3d_output_shape.argtypes = [ctypes.POINTER(Problem), ctypes.POINTER(Shape)]
        lib.convt3d_plan_create.argtypes = [ctypes.POINTER(Problem), ctypes.c_void_p,
                                            ctypes.c_void_p, ctypes.POINTER(PlanOptions),
                                            ctypes.POINTER(ctypes.c_void_p)]
        lib.convt3d_plan_execute.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        lib.convt3d_plan_destroy.argtypes = [ctypes.c_void_p]
        self.lib = lib

    def problem(self, c, x, w, b):
        p = Problem()
        p.dtype = F32 if x.dtype == np.float32 else F64
        for shape, arr in ((p.input, x), (p.weight, w)):
            shape.ndim = arr.ndim
            for i, d in enumerate(arr.shape[:5]):
                shape.dims[i] = d
        p.has_bias = b is not None
        if b is not None:
            p.bias.ndim = b.ndim
            for i, d in enumerate(b.shape[:5]):
                p.bias.dims[i] = d
        for name in ("stride", "padding", "output_padding", "dilation"):
            getattr(p, name)[:] = c[name]
        p.groups = c["groups"]
        return p

    def check(self, p):
        return self.lib.convt3d_problem_check(ctypes.byref(p))

    def run(self, p, x, w, b, algorithm):
        """Returns (status, output array or None, message)."""
        out = Shape()
        s = self.lib.convt3d_output_shape(ctypes.byref(p), ctypes.byref(out))
        if s != OK:
            return s, None, self.lib.convt3d_last_error().decode()
        y = np.full(tuple(out.dims[:out.ndim]), np.nan, dtype=x.dtype)  # NaN: every
        plan = ctypes.c_void_p()                                         # element written?
        opt = PlanOptions(algorithm, 0, 0)
        bptr = b.ctypes.data if b is not None else None
        s = self.lib.convt3d_plan_create(ctypes.byref(p), w.ctypes.data, bptr,
                                         ctypes.byref(opt), ctypes.byref(plan))
        if s == OK:
            s = self.lib.convt3d_plan_execute(plan, x.ctypes.data, y.ctypes.data)
        self.lib.convt3d_plan_destroy(plan)
        return s, y, self.lib.convt3d_last_error().decode()


# ------------------------------------------------------------------ generators

def rand_valid(rng):
    """A random configuration meant to be valid (torch is the judge)."""
    groups = rng.choice([1, 1, 1, 2, 3, 4])
    depthwise = groups > 1 and rng.random() < 0.3
    cin_g = 1 if depthwise else rng.randint(1, 4)
    cout_g = rng.randint(1, 2) if depthwise else rng.randint(1, 4)
    if not depthwise and rng.random() < 0.15:  # deep input, few outputs: AUTO's tap_gemm
        cin_g, cout_g = rng.randint(16, 40), rng.randint(1, 3)
    c = {"groups": groups, "cin": cin_g * groups, "cout_g": cout_g,
         "n": rng.choice([0, 1, 1, 2, 3]), "unbatched": rng.random() < 0.15,
         "bias": rng.random() < 0.6, "dtype": rng.choice([np.float32, np.float64]),
         "stride": [], "padding": [], "output_padding": [], "dilation": [], "k": [], "in": []}
    for _ in range(3):
        k, s, d = rng.randint(1, 5), rng.randint(1, 4), rng.randint(1, 3)
        n_in = rng.randint(1, 6)
        reach = d * (k - 1)
        p = rng.randint(0, reach + 2)  # up to beyond the kernel's reach
        op = rng.randint(0, max(s, d) - 1)
        c["k"].append(k), c["stride"].append(s), c["dilation"].append(d)
        c["padding"].append(p), c["output_padding"].append(op), c["in"].append(n_in)
    return c


def winograd_problem(rng):
    """float32, 64-80 output channels per group, input channels enough that a point's
    reduction (input channels per group x a phase's depth and height taps) is 512 or
    more, and along the width either kernel 3 stride 1 on rows of 6-12 outputs where F(4,
    3) does at most 3/4 of the multiply-adds, the same with width dilation 2-3 on rows of
    8 outputs per residue (two whole tiles each), kernel 4 stride 2 on rows of 8-16
    inputs, or kernel 3 stride 2 on rows of 12, 16 or 20 inputs (padding 1: 23, 31 or
    39 outputs, where its tiles do at most 4/5 of the multiply-adds); or, for a third of
    the kernel 3 stride 1 ones, 32-47 channels in and out per group with kernel 3 stride
    1 along the depth and the height too, on a small volume: AUTO's Winograd choice
    (winograd.c, cvt_winograd_prefers)."""
    c = rand_valid(rng)
    c.update(dtype=np.float32, groups=rng.choice([1, 1, 2]), n=rng.choice([1, 2]),
             unbatched=False)
    for a in range(2):
        c["in"][a] = rng.randint(1, 4)
        c["k"][a] = min(c["k"][a], 3)
    taps = 1
    for a in range(2):  # taps of the axis that reach one phase at most
        period = c["stride"][a] // math.gcd(c["stride"][a], c["dilation"][a])
        taps *= -(-c["k"][a] // period)
    c["cin"] = c["groups"] * max(rng.randint(64, 80), -(-512 // taps))
    c["cout_g"] = rng.randint(64, 72)
    if rng.random() < 0.3:
        c["k"][2], c["stride"][2], c["dilation"][2] = 4, 2, 1
        c["padding"][2], c["output_padding"][2] = rng.randint(0, 3), rng.randint(0, 1)
        c["in"][2] = rng.randint(8, 16)
        return c
    if rng.random() < 0.3:
        c["k"][2], c["stride"][2], c["dilation"][2] = 3, 2, 1
        c["padding"][2], c["output_padding"][2] = 1, 0
        c["in"][2] = rng.choice([12, 16, 20])
        return c
    c["k"][2], c["stride"][2], c["output_padding"][2] = 3, 1, 0
    if rng.random() < 0.3:  # 32-47 channels: kernel 3 stride 1 along the depth and height too
        for a in range(2):
            c["k"][a], c["stride"][a], c["dilation"][a] = 3, 1, 1
            c["padding"][a], c["output_padding"][a] = rng.randint(0, 1), 0
            c["in"][a] = rng.randint(2, 4)
        c["cin"] = c["groups"] * rng.randint(32, 47)
        c["cout_g"] = rng.randint(32, 47)
    if rng.random() < 0.4:  # width dilation 2 or 3: outputs of a tile that far apart
        d = c["dilation"][2] = rng.randint(2, 3)
        c["padding"][2] = rng.randint(0, d)
        out_w = 8 * d
    else:
        c["dilation"][2], c["padding"][2] = 1, rng.randint(0, 1)
        out_w = rng.choice([8, 10, 11, 12]) if c["padding"][2] == 0 else rng.randint(6, 12)
    c["in"][2] = out_w + 2 * c["padding"][2] - 2 * c["dilation"][2]
    return c


def patch_problem(rng):
    """float32, no padding, at least 2 taps, and an input plane of 16 positions or fewer:
    AUTO's patch cut of the phase algorithm (patch.c), one GEMM over every input voxel.
    Half of them kernel = stride on every axis (or an input one voxel long there and any
    kernel), no dilation or output padding; half with overlapping patches (kernel 1-4,
    stride 1 to the kernel, dilation 1-2, output padding); channels from 1 to a few
    hundred."""
    c = rand_valid(rng)
    c.update(dtype=np.float32, groups=rng.choice([1, 1, 2]), n=rng.choice([1, 2, 3]))
    overlap = rng.random() < 0.5
    while True:
        for a in range(3):
            c["in"][a] = rng.randint(1, 6) if a == 0 else rng.randint(1, 4)
            c["padding"][a], c["output_padding"][a], c["dilation"][a] = 0, 0, 1
            if overlap:
                c["k"][a] = rng.randint(1, 4)
                c["stride"][a] = rng.randint(1, c["k"][a])
                c["dilation"][a] = rng.randint(1, 2)
                c["output_padding"][a] = rng.randint(0, max(c["stride"][a], c["dilation"][a]) - 1)
                continue
            c["k"][a] = rng.randint(1, 3)
            one = c["in"][a] == 1 and rng.random() < 0.5
            c["stride"][a] = rng.randint(1, 3) if one else c["k"][a]
        if c["k"][0] * c["k"][1] * c["k"][2] > 1 and c["in"][0] * c["in"][1] * c["in"][2] > 1:
            break
    c["cin"] = c["groups"] * rng.choice([rng.randint(1, 8), rng.randint(32, 300)])
    c["cout_g"] = rng.choice([rng.randint(1, 7), rng.randint(16, 48)])
    return c


MUTATIONS = [
    "input_ndim", "weight_ndim", "bias_ndim", "bias_len", "channels", "groups_zero",
    "groups_neg", "groups_nondiv", "stride_zero", "stride_neg", "dilation_zero",
    "dilation_neg", "padding_neg", "output_padding_neg", "output_padding_big",
    "output_too_small", "spatial_zero", "kernel_zero", "zero_batch_bad_dilation",
    "zero_batch_too_small",
]


def mutate(c, rng, kind):
    """Breaks configuration c in the way `kind` names."""
    c = {k: (list(v) if isinstance(v, list) else v) for k, v in c.items()}
    ax = rng.randrange(3)
    if kind == "input_ndim":
        c["input_ndim"] = rng.choice([2, 3, 6])
    elif kind == "weight_ndim":
        c["weight_ndim"] = rng.choice([3, 4, 6])
    elif kind == "bias_ndim":
        c["bias"], c["bias_shape"] = True, rng.choice([(), (1, c["cout_g"] * c["groups"])])
    elif kind == "bias_len":
        c["bias"] = True
        c["bias_shape"] = (c["cout_g"] * c["groups"] + rng.choice([-1, 1, 2]),)
        if c["bias_shape"][0] < 0:
            c["bias_shape"] = (1 + c["cout_g"] * c["groups"],)
    elif kind == "channels":
        c["input_channels"] = c["cin"] + rng.choice([1, 2]) if c["cin"] > 1 or rng.random() < .5 \
            else c["cin"] + 1
    elif kind == "groups_zero":
        c["groups"] = 0
    elif kind == "groups_neg":
        c["groups"] = -rng.randint(1, 3)
    elif kind == "groups_nondiv":
        c["groups"] = c["cin"] + rng.randint(1, 3) if rng.random() < 0.5 else 0
        if c["groups"] == 0:  # a divisor-free choice: cin+1 never divides cin (cin >= 1)
            c["groups"] = c["cin"] + 1
    elif kind == "stride_zero":
        c["stride"][ax] = 0
    elif kind == "stride_neg":
        c["stride"][ax] = -rng.randint(1, 3)
    elif kind == "dilation_zero":
        c["dilation"][ax] = 0
    elif kind == "dilation_neg":
        c["dilation"][ax] = -rng.randint(1, 3)
    elif kind == "padding_neg":
        c["padding"][ax] = -rng.randint(1, 3)
    elif kind == "output_padding_neg":
        c["output_padding"][ax] = -rng.randint(1, 3)
    elif kind == "output_padding_big":
        c["output_padding"][ax] = max(c["stride"][ax], c["dilation"][ax]) + rng.randint(0, 2)
    elif kind in ("output_too_small", "zero_batch_too_small"):
        full = (c["in"][ax] - 1) * c["stride"][ax] + c["dilation"][ax] * (c["k"][ax] - 1) + \
            c["output_padding"][ax] + 1
        c["padding"][ax] = full // 2 + rng.randint(0, 2)  # out = full - 2p <= 0
        if kind == "zero_batch_too_small":
            c["n"], c["unbatched"] = 0, False
    elif kind == "spatial_zero":
        c["in"][ax] = 0
    elif kind == "kernel_zero":
        c["k"][ax] = 0
    elif kind == "zero_batch_bad_dilation":
        c["n"], c["unbatched"] = 0, False
        c["dilation"][ax] = 0
    return c


def make_tensors(c, rng_np):
    """Input, weight and bias arrays for configuration c (shapes may be invalid)."""
    dt = c["dtype"]
    cin = c.get("input_channels", c["cin"])
    if c["unbatched"]:
        xs = [cin] + c["in"]
    else:
        xs = [c["n"], cin] + c["in"]
    if "input_ndim" in c:
        xs = (xs + [2, 2, 2])[:c["input_ndim"]] if c["input_ndim"] > len(xs) else xs[-c["input_ndim"]:]
    ws = [c["cin"], c["cout_g"]] + c["k"]
    if "weight_ndim" in c:
        ws = (ws + [2])[:c["weight_ndim"]] if c["weight_ndim"] > 5 else ws[:c["weight_ndim"]]
    x = rng_np.standard_normal(xs).astype(dt)
    w = rng_np.standard_normal(ws).astype(dt)
    b = None
    if c["bias"]:
        b = rng_np.standard_normal(c.get("bias_shape", (c["cout_g"] * max(c["groups"], 1),))).astype(dt)
    return x, w, b


def torch_call(c, x, w, b, n_override=None):
    """torch's verdict: (True, result) or (False, message)."""
    if n_override is not None and x.ndim == 5 and x.shape[0] == 0:
        x = np.zeros((n_override,) + x.shape[1:], dtype=x.dtype)
    try:
        y = F.conv_transpose3d(torch.from_numpy(x), torch.from_numpy(w),
                               None if b is None else torch.from_numpy(b),
                               stride=tuple(c["stride"]), padding=tuple(c["padding"]),
                               output_padding=tuple(c["output_padding"]),
                               groups=c["groups"], dilation=tuple(c["dilation"]))
        return True, y.numpy()
    except (RuntimeError, ValueError) as e:
        return False, str(e).splitlines()[0]


def describe(c):
    keys = ("n", "unbatched", "cin", "cout_g", "groups", "in", "k", "stride", "padding",
            "output_padding", "dilation", "bias")
    return " ".join(f"{k}={c[k]}" for k in keys) + f" dtype={np.dtype(c['dtype']).name}"


def tolerance(c, x, w, b):
    """Per-element bounds (vs exact, vs torch) as arrays shaped like the output."""
    xt, wt = torch.from_numpy(np.abs(x).astype(np.float64)), torch.from_numpy(np.abs(w).astype(np.float64))
    bt = None if b is None else torch.from_numpy(np.abs(b).astype(np.float64))
    mag = F.conv_transpose3d(xt, wt, bt, stride=tuple(c["stride"]), padding=tuple(c["padding"]),
                             output_padding=tuple(c["output_padding"]), groups=c["groups"],
                             dilation=tuple(c["dilation"])).numpy()
    if c["dtype"] == np.float64:
        return 1e-10 * mag, 1e-10 * mag
    k_terms = w.shape[0] // c["groups"] * w.shape[2] * w.shape[3] * w.shape[4] + 1
    u = 2.0 ** -24
    gamma = k_terms * u / (1 - k_terms * u)
    return gamma * mag, 2 * gamma * mag


def exact_result(c, x, w, b):
    t = lambda a: None if a is None else torch.from_numpy(a.astype(np.float64))
    return F.conv_transpose3d(t(x), t(w), t(b), stride=tuple(c["stride"]),
                              padding=tuple(c["padding"]),
                              output_padding=tuple(c["output_padding"]), groups=c["groups"],
                              dilation=tuple(c["dilation"])).numpy()


# ------------------------------------------------------------------------ CLI

def cli_run(cli, tmp, c, x, w, b):
    """Runs `convt3d run`; returns (exit code, output or None, stderr)."""
    paths = {k: os.path.join(tmp, k + ".npy") for k in ("x", "w", "b", "y")}
    np.save(paths["x"], x)
    np.save(paths["w"], w)
    if os.path.exists(paths["y"]):
        os.remove(paths["y"])
    cmd = [cli, "run", "--input", paths["x"], "--weight", paths["w"], "--output", paths["y"],
           "--groups", str(c["groups"])]
    if b is not None:
        np.save(paths["b"], b)
        cmd += ["--bias", paths["b"]]
    for name in ("stride", "padding", "output_padding", "dilation"):
        v = c[name]
        val = str(v[0]) if v[0] == v[1] == v[2] else ",".join(map(str, v))
        cmd += ["--" + name.replace("_", "-"), val]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    y = np.load(paths["y"]) if os.path.exists(paths["y"]) else None
    return r.returncode, y, r.stderr.strip()


# ----------------------------------------------------------------------- main

class Report:
    def __init__(self):
        self.failures = 0
        self.passed = 0

    def expect(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failures += 1
            if self.failures <= 30:
                print("FAIL:", what)


def winograd_tolerance(c, x, w, b):
    """Per-element bounds (vs exact, vs torch) of the Winograd algorithm (float32)."""
    f64 = lambda a: None if a is None else torch.from_numpy(np.abs(a).astype(np.float64))
    # S by a transposed convolution of |x| with (sum of |w| over kW) spread over a kernel
    # whose taps reach every input column of the output's tile: 9 columns around ow, dW
    # apart (stride 1, padding + 3 dW), or 8 of one parity (stride 2: kernel 4, a kernel
    # of 16, padding + 6; kernel 3, 17 and padding + 7, an output as wide as the layer's)
    f43 = c["stride"][2] == 1
    if f43:
        spread, extra, const = 9, 3 * c["dilation"][2], 32 / 3
    else:
        spread, extra, const = (16, 6, 6.0) if c["k"][2] == 4 else (17, 7, 6.0)
    ws = np.repeat(np.abs(w).sum(axis=4, keepdims=True), spread, axis=4)
    s = F.conv_transpose3d(f64(x), f64(ws), f64(b), stride=tuple(c["stride"]),
                           padding=(c["padding"][0], c["padding"][1], c["padding"][2] + extra),
                           output_padding=tuple(c["output_padding"]), groups=c["groups"],
                           dilation=tuple(c["dilation"])).numpy()
    k_terms = w.shape[0] // c["groups"] * w.shape[2] * w.shape[3] + 16
    u = 2.0 ** -24
    gamma = k_terms * u / (1 - k_terms * u)
    exact_tol = const * gamma * s
    return exact_tol, exact_tol + tolerance(c, x, w, b)[0]


def compare(report, label, c, y, x, w, b, torch_y, bounds=None):
    if y is None or y.shape != torch_y.shape or y.dtype != x.dtype:
        report.expect(False, f"{label}: shape/dtype {None if y is None else (y.shape, y.dtype)}"
                             f" != torch {torch_y.shape} for {describe(c)}")
        return
    tol_exact, tol_torch = (bounds or tolerance)(c, x, w, b)
    exact = exact_result(c, x, w, b)
    y64 = y.astype(np.float64)
    err_t = np.abs(y64 - torch_y.astype(np.float64))
    err_e = np.abs(y64 - exact)
    ok = bool(np.all(np.isfinite(y))) and bool(np.all(err_t <= tol_torch)) and \
        bool(np.all(err_e <= tol_exact))
    report.expect(ok, f"{label}: max error vs torch {err_t.max() if err_t.size else 0:.3g}, "
                      f"vs exact {err_e.max() if err_e.size else 0:.3g} for {describe(c)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", help="libconvt3d.so (omit with --cli-only)")
    ap.add_argument("--cli", required=True)
    ap.add_argument("--valid", type=int, default=2000)
    ap.add_argument("--invalid", type=int, default=300)
    ap.add_argument("--winograd", type=int, default=30,
                    help="problems of 32-80 channels that AUTO computes by Winograd")
    ap.add_argument("--patch", type=int, default=20,
                    help="unpadded problems on small planes (the patch cut)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cli-every", type=int, default=10,
                    help="also run every Nth configuration through the CLI")
    ap.add_argument("--cli-only", action="store_true",
                    help="drive only the CLI (e.g. a sanitizer build)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    shim = None if args.cli_only else Shim(args.lib)
    cli_every = 1 if args.cli_only else args.cli_every
    rng = random.Random(args.seed)
    rng_np = np.random.default_rng(args.seed)
    report = Report()
    counts = {"valid": {"float32": 0, "float64": 0}, "invalid": {"float32": 0, "float64": 0},
              "cli valid": 0, "cli invalid": 0, "winograd forced": 0, "winograd auto": 0, "patch auto": 0}
    kinds = {}
    with tempfile.TemporaryDirectory() as tmp:
        i = 0
        while sum(counts["valid"].values()) < args.valid:
            c = rand_valid(rng)
            x, w, b = make_tensors(c, rng_np)
            ok, verdict = torch_call(c, x, w, b, n_override=1)
            if not ok:  # e.g. output size below 1: a rejection, tested with the invalid
                if kinds.get("random_too_small", 0) < args.invalid // 5:
                    check_invalid(report, shim, args.cli, tmp, c, x, w, b, counts, verdict)
                    kinds["random_too_small"] = kinds.get("random_too_small", 0) + 1
                    i += 1
                continue
            ok, ty = torch_call(c, x, w, b)
            assert ok, f"torch accepts N=1 but not N={c['n']}: {describe(c)}"
            dt = np.dtype(c["dtype"]).name
            counts["valid"][dt] += 1
            if shim:
                p = shim.problem(c, x, w, b)
                for algo, label in ((ALGO_AUTO, "auto"), (ALGO_REFERENCE, "reference"),
                                    (ALGO_TAP_GEMM, "tap_gemm"), (ALGO_WINOGRAD, "winograd")):
                    s, y, msg = shim.run(p, x, w, b, algo)
                    if s != OK and algo in (ALGO_TAP_GEMM, ALGO_WINOGRAD) and \
                            "does not support" in msg:
                        continue  # beyond its limits (AUTO never picks it there)
                    if s != OK:
                        report.expect(False, f"{label}: rejected ({msg}) but torch accepts "
                                             f"{describe(c)}")
                    else:
                        # (an empty batch gets the reference whatever the kernel)
                        wino = algo == ALGO_WINOGRAD and y.size > 0
                        counts["winograd forced"] += wino
                        compare(report, label, c, y, x, w, b, ty,
                                winograd_tolerance if wino else None)
            if i % cli_every == 0:
                counts["cli valid"] += 1
                code, y, err = cli_run(args.cli, tmp, c, x, w, b)
                if code != 0:
                    report.expect(False, f"cli: exit {code} ({err}) for {describe(c)}")
                else:
                    compare(report, "cli", c, y, x, w, b, ty)
            i += 1
        counts["winograd auto"] = auto_problems(report, shim, args.cli, tmp, rng, rng_np,
                                                winograd_problem, args.winograd, "winograd",
                                                winograd_tolerance)
        counts["patch auto"] = auto_problems(report, shim, args.cli, tmp, rng, rng_np,
                                             patch_problem, args.patch, "patch", None)
        while sum(counts["invalid"].values()) < args.invalid:
            kind = MUTATIONS[i % len(MUTATIONS)]
            c = mutate(rand_valid(rng), rng, kind)
            x, w, b = make_tensors(c, rng_np)
            ok, msg = torch_call(c, x, w, b, n_override=1)
            if ok:  # the mutation did not break it (e.g. output_padding < dilation): skip
                i += 1
                continue
            kinds[kind] = kinds.get(kind, 0) + 1
            check_invalid(report, shim, args.cli, tmp, c, x, w, b, counts, msg)
            i += 1
    print(f"configurations: valid float32 {counts['valid']['float32']}, valid float64 "
          f"{counts['valid']['float64']}, invalid float32 {counts['invalid']['float32']}, "
          f"invalid float64 {counts['invalid']['float64']}; through the CLI: "
          f"{counts['cli valid']} valid, {counts['cli invalid']} invalid; Winograd: forced on "
          f"{counts['winograd forced']}, AUTO's on {counts['winograd auto']}; unpadded on "
          f"small planes (the patch cut) {counts['patch auto']}")
    print("invalid kinds: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    print(f"torch_diff: {report.passed} passed, {report.failures} failed")
    return 1 if report.failures else 0


def auto_problems(report, shim, cli, tmp, rng, rng_np, generate, count, name, bounds):
    """count configurations from generate(rng) that torch accepts, through the library's
    automatic choice (within bounds, or the standard ones for None) and every 5th also
    through the CLI; returns count."""
    done = 0
    while done < count:
        c = generate(rng)
        x, w, b = make_tensors(c, rng_np)
        ok, ty = torch_call(c, x, w, b)
        if not ok:  # e.g. an output too small along the depth or the height
            continue
        done += 1
        if shim:
            s, y, msg = shim.run(shim.problem(c, x, w, b), x, w, b, ALGO_AUTO)
            report.expect(s == OK, f"{name} auto: rejected ({msg}) {describe(c)}")
            if s == OK:
                compare(report, f"{name} auto", c, y, x, w, b, ty, bounds)
        if done % 5 == 0:
            code, y, err = cli_run(cli, tmp, c, x, w, b)
            report.expect(code == 0, f"cli: exit {code} ({err}) for {describe(c)}")
            if code == 0:
                compare(report, f"{name} cli", c, y, x, w, b, ty, bounds)
    return done


def check_invalid(report, shim, cli, tmp, c, x, w, b, counts, torch_msg):
    """torch rejects c: the library must too, and the CLI (every invalid configuration goes
    through it) must exit 2 with a message and no output file."""
    counts["invalid"][np.dtype(c["dtype"]).name] += 1
    if shim:
        s = shim.check(shim.problem(c, x, w, b))
        report.expect(s in (INVALID, TOO_LARGE),
                      f"library accepts (status {s}) what torch rejects ({torch_msg}): "
                      f"{describe(c)}")
    counts["cli invalid"] += 1
    code, y, err = cli_run(cli, tmp, c, x, w, b)
    report.expect(code == 2 and y is None and err,
                  f"cli: exit {code}, output {'written' if y is not None else 'absent'}, "
                  f"stderr '{err}' for an invalid {describe(c)} (torch: {torch_msg})")


if __name__ == "__main__":
    sys.exit(main())
