#!/usr/bin/python3
"""Conformance cases: convt3d's CLI against torch, on cases taken from PyTorch's and ONNX's
own test suites (translated to conv_transpose3d where needed) plus the edge cases those
suites care about.

Every case in CASES below is data: shapes, parameters, dtype, how the data is made and
whether torch rejects the call; a comment names the file each group was taken from. 1-D and
2-D cases are lifted to 3-D by inserting unit axes (kernel 1, stride 1, padding 0,
dilation 1 on them), mostly on the trailing axes but on purpose also on the leading ones.
Each case runs through `convt3d run` with seeded data (the seed is a CRC of the case name,
so adding a case changes no other) and is compared with torch:

  accepted: exit 0, output of torch's shape and the input's dtype, every element finite and
            within the bounds tests/torch_diff.py derives (docs/testing.md): with K the
            multiply-adds reaching one output element and M = conv_transpose3d(|x|,|w|,|b|)
            there, float32 within gamma(K+1)*M of torch's float64 result and 2*gamma(K+1)*M
            of torch's float32 result, float64 within 1e-10*M; where a case carries values
            published by its source (ONNX's expected outputs), those must match exactly;
  rejected: exit 2, a message on stderr, no output file.

torch is the judge at run time; the table's `rejects` flag must agree with it (a
disagreement is reported as a table error). Two documented convt3d choices are applied
(docs/semantics.md): with an empty batch, validity is judged as torch judges the same call
with N = 1 (torch 1.13 skips most checks when N = 0); and --output-size follows
nn.ConvTranspose3d.forward(x, output_size=...), so cases using it are judged with the
module, not the functional.

Usage: /usr/bin/python3 tests/conformance.py path/to/convt3d [-k SUBSTRING] [-v]
       [--keep DIR]   (keeps the .npy files of failing cases there)
Prints `conformance: N passed, M failed`; exit 0 when M is 0, 1 otherwise, 77 when torch
or numpy is missing.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zlib

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"conformance: skipped, {e} (run with /usr/bin/python3, which has torch and numpy)")
    sys.exit(77)


# ----------------------------------------------------------------------------- helpers
# Sources, as tags (the summary counts cases by tag).
OPINFO = "pytorch:common_methods_invocations"  # torch/testing/_internal/common_methods_invocations.py
COMMON_NN = "pytorch:common_nn"                 # torch/testing/_internal/common_nn.py
MODULES = "pytorch:common_modules"              # torch/testing/_internal/common_modules.py
TEST_CONV = "pytorch:test_convolution"          # test/nn/test_convolution.py
DOCS = "pytorch:docstrings"                     # torch/nn/functional.py, torch/nn/modules/conv.py
ONNX = "onnx:convtranspose"                     # onnx/backend/test/case/node/convtranspose.py
EDGE = "edge"                                   # edge cases PyTorch's tests and docs care about

CASES = []


def _nd(v, nd):
    return (v,) * nd if isinstance(v, int) else tuple(v)


def add(name, src, x, w, bias=None, stride=1, padding=0, output_padding=None,
        output_size=None, dilation=1, groups=1, dtype="float32", rejects=False, **extra):
    """One 3-D case. bias: None, True (shape (Cout,)) or an explicit shape."""
    if bias is True:
        bias = (w[1] * groups,)
    c = dict(name=name, src=src, x=tuple(x), w=tuple(w), bias=None if bias is None else tuple(bias),
             stride=_nd(stride, 3), padding=_nd(padding, 3),
             output_padding=None if output_padding is None else _nd(output_padding, 3),
             output_size=None if output_size is None else _nd(output_size, 3),
             dilation=_nd(dilation, 3), groups=groups, dtype=dtype, rejects=rejects,
             data="randn", wdtype=None, expect=None, n0_torch_accepts=False)
    for k in extra:
        assert k in ("data", "wdtype", "expect", "n0_torch_accepts", "xdata", "wdata"), k
    c.update(extra)
    assert not any(x["name"] == name for x in CASES), name
    CASES.append(c)


def add_lifted(nd, name, src, x, w, at=None, stride=1, padding=0, output_padding=None,
               output_size=None, dilation=1, **kw):
    """A 1-D or 2-D case lifted to 3-D: its nd spatial axes go to 3-D axes `at`
    (default the trailing ones), the others get size 1 and neutral parameters."""
    at = tuple(range(3 - nd, 3)) if at is None else tuple(at)

    def put(v, fill):
        out = [fill] * 3
        for axis, val in zip(at, _nd(v, nd)):
            out[axis] = val
        return tuple(out)

    lead = len(x) - nd  # (N, C) or (C,)
    add(name, src, tuple(x[:lead]) + put(x[lead:], 1), tuple(w[:2]) + put(w[2:], 1),
        stride=put(stride, 1), padding=put(padding, 0),
        output_padding=None if output_padding is None else put(output_padding, 0),
        output_size=None if output_size is None else put(output_size, 1),
        dilation=put(dilation, 1), **kw)


# ========================================================================== the cases

# --- torch/testing/_internal/common_methods_invocations.py: sample_inputs_conv_transpose3d
# (OpInfo 'nn.functional.conv_transpose3d'; each case is yielded batched and unbatched).
# Rows: input, weight, bias, kwargs.
_OPINFO_3D = [
    ((1, 3, 4, 4, 4), (3, 3, 3, 3, 3), (3,),
     dict(stride=(2, 2, 2), padding=2, output_padding=(1, 1, 1))),
    ((2, 2, 4, 4, 4), (2, 2, 4, 5, 6), (4,),
     dict(stride=(3, 2, 1), padding=(1, 2, 3), output_padding=(2, 3, 1), groups=2,
          dilation=(4, 4, 4))),
    ((1, 1, 4, 5, 2), (1, 1, 4, 3, 1), (1,),
     dict(stride=2, padding=1, output_padding=1, dilation=(2, 3, 2))),
    ((1, 1, 4, 3, 4), (1, 2, 3, 4, 5), None, dict(stride=2, padding=1, output_padding=1)),
    ((1, 4, 5, 5, 5), (4, 8, 3, 3, 3), None, dict()),
]
for i, (xs, ws, bs, kw) in enumerate(_OPINFO_3D):
    add(f"opinfo3d_{i}_batched_f32", OPINFO, xs, ws, bs, **kw)
    add(f"opinfo3d_{i}_batched_f64", OPINFO, xs, ws, bs, dtype="float64", **kw)
    add(f"opinfo3d_{i}_unbatched_f32", OPINFO, xs[1:], ws, bs, **kw)

# --- same file: sample_inputs_conv_transpose2d, lifted (batched on H,W; unbatched on D,H).
_OPINFO_2D = [
    ((1, 3, 4, 4), (3, 3, 3, 3), (3,), dict(stride=(2, 2), padding=2, output_padding=(1, 1))),
    ((2, 2, 4, 4), (2, 2, 4, 5), (4,), dict(stride=(3, 2), padding=(1, 2), output_padding=(2, 3),
                                            groups=2, dilation=(4, 4))),
    ((1, 1, 4, 5), (1, 1, 4, 3), (1,), dict(stride=2, padding=1, output_padding=1, dilation=(2, 3))),
    ((1, 1, 4, 3), (1, 2, 3, 4), None, dict(stride=2, padding=1, output_padding=1)),
    ((2, 8, 4, 4), (8, 1, 3, 3), None, dict(groups=4)),
    ((1, 4, 5, 5), (4, 8, 3, 3), None, dict()),
]
for i, (xs, ws, bs, kw) in enumerate(_OPINFO_2D):
    add_lifted(2, f"opinfo2d_{i}_batched_HW", OPINFO, xs, ws, bias=bs, **kw)
    add_lifted(2, f"opinfo2d_{i}_unbatched_DH_f64", OPINFO, xs[1:], ws, at=(0, 1), bias=bs,
               dtype="float64", **kw)

# --- same file: sample_inputs_conv_transpose1d, lifted (batched on W; unbatched on D).
_OPINFO_1D = [
    ((1, 3, 4), (3, 3, 3), (3,), dict(stride=(2,), padding=2, output_padding=(1,))),
    ((2, 2, 4), (2, 2, 4), (4,), dict(stride=(3,), padding=(1,), output_padding=(2,), groups=2,
                                      dilation=(4,))),
    ((1, 1, 4), (1, 1, 4), (1,), dict(stride=2, padding=1, output_padding=1, dilation=(2,))),
    ((1, 1, 4), (1, 2, 3), None, dict(stride=2, padding=1, output_padding=1)),
    ((1, 4, 5), (4, 8, 3), None, dict()),
]
for i, (xs, ws, bs, kw) in enumerate(_OPINFO_1D):
    add_lifted(1, f"opinfo1d_{i}_batched_W", OPINFO, xs, ws, bias=bs, **kw)
    add_lifted(1, f"opinfo1d_{i}_unbatched_D_f64", OPINFO, xs[1:], ws, at=(0,), bias=bs,
               dtype="float64", **kw)

# --- torch/testing/_internal/common_nn.py: new_module_tests (module tests run in double).
# nn.ConvTranspose3d(2, 3, (2, 3, 2)), input (1, 2, 4, 5, 4)
add("common_nn_ConvTranspose3d", COMMON_NN, (1, 2, 4, 5, 4), (2, 3, 2, 3, 2), True, dtype="float64")
# nn.ConvTranspose3d(2, 3, (2, 3, 2), 1, 0, 0, 1, True, (2, 2, 2)), desc='dilated'
add("common_nn_ConvTranspose3d_dilated", COMMON_NN, (1, 2, 4, 5, 4), (2, 3, 2, 3, 2), True,
    dilation=2, dtype="float64")
# older common_nn.py module_tests: nn.ConvTranspose3d(2, 3, (2, 2, 2)), input (1, 2, 4, 4, 4)
add("common_nn_legacy_ConvTranspose3d", COMMON_NN, (1, 2, 4, 4, 4), (2, 3, 2, 2, 2), True)
# nn.ConvTranspose2d(3, 4, 3, (3, 2), 1, (1, 1)), input (1, 3, 7, 6)
add_lifted(2, "common_nn_ConvTranspose2d", COMMON_NN, (1, 3, 7, 6), (3, 4, 3, 3), bias=True,
           stride=(3, 2), padding=1, output_padding=(1, 1), dtype="float64")
# nn.ConvTranspose2d(3, 4, 3, (2, 3), 1, (1, 1), 1, False, (2, 2)), desc='dilated'
add_lifted(2, "common_nn_ConvTranspose2d_dilated", COMMON_NN, (1, 3, 6, 7), (3, 4, 3, 3),
           stride=(2, 3), padding=1, output_padding=(1, 1), dilation=(2, 2), dtype="float64")
# nn.ConvTranspose2d(3, 4, 3, (2, 3), 1, (1, 1), 1, False), desc='no_bias'
add_lifted(2, "common_nn_ConvTranspose2d_no_bias", COMMON_NN, (1, 3, 6, 7), (3, 4, 3, 3),
           stride=(2, 3), padding=1, output_padding=(1, 1), dtype="float64")
# nn.ConvTranspose2d(2, 4, (2, 3), groups=2), input (1, 2, 4, 5)
add_lifted(2, "common_nn_ConvTranspose2d_groups", COMMON_NN, (1, 2, 4, 5), (2, 2, 2, 3), bias=True,
           groups=2, dtype="float64")
# nn.ConvTranspose1d(3, 4, kernel_size=3, stride=(3,), padding=1, output_padding=(1,)), (1, 3, 7)
add_lifted(1, "common_nn_ConvTranspose1d", COMMON_NN, (1, 3, 7), (3, 4, 3), bias=True, stride=3,
           padding=1, output_padding=1, dtype="float64")
# nn.ConvTranspose1d(3, 4, 3, 2, 1, 1, 1, False), desc='no_bias', input (1, 3, 6)
add_lifted(1, "common_nn_ConvTranspose1d_no_bias", COMMON_NN, (1, 3, 6), (3, 4, 3), stride=2,
           padding=1, output_padding=1, dtype="float64")
# nn.ConvTranspose1d(3, 4, 3, 2, 1, 1, 1, True, 2), desc='dilated', input (1, 3, 6)
add_lifted(1, "common_nn_ConvTranspose1d_dilated", COMMON_NN, (1, 3, 6), (3, 4, 3), bias=True,
           stride=2, padding=1, output_padding=1, dilation=2, dtype="float64")
# nn.ConvTranspose1d(4, 6, 3, stride=(3,), padding=1, output_padding=(1,), groups=2), (2, 4, 7)
add_lifted(1, "common_nn_ConvTranspose1d_groups", COMMON_NN, (2, 4, 7), (4, 3, 3), bias=True,
           stride=3, padding=1, output_padding=1, groups=2, dtype="float64")

# --- torch/testing/_internal/common_modules.py: module_inputs_torch_nn_ConvNd(transposed=True):
# ConvTranspose{N}d(4, 5, 3) on (2, 4, 3[, 4[, 5]]) and its no-batch-dim form.
add("modules_ConvTranspose3d", MODULES, (2, 4, 3, 4, 5), (4, 5, 3, 3, 3), True)
add("modules_ConvTranspose3d_no_batch_dim", MODULES, (4, 3, 4, 5), (4, 5, 3, 3, 3), True)
add_lifted(2, "modules_ConvTranspose2d", MODULES, (2, 4, 3, 4), (4, 5, 3, 3), bias=True)
add_lifted(1, "modules_ConvTranspose1d_no_batch_dim", MODULES, (4, 3), (4, 5, 3), bias=True)

# --- test/nn/test_convolution.py ---------------------------------------------------
# test_ConvTranspose2d_output_size: nn.ConvTranspose2d(3, 4, 3, 3, 0, 2) on (2, 3, 6, 6),
# output_size (h, w) accepted for 18 <= h, w <= 20, ValueError otherwise (lifted on H, W).
for h, wd in ((18, 18), (20, 19), (19, 20), (20, 20), (17, 18), (21, 20), (15, 21)):
    add_lifted(2, f"test_conv_ConvTranspose2d_output_size_{h}x{wd}", TEST_CONV, (2, 3, 6, 6),
               (3, 4, 3, 3), bias=True, stride=3, output_size=(h, wd),
               rejects=not (18 <= h <= 20 and 18 <= wd <= 20))
# test_ConvTranspose2d_output_size_downsample_upsample: t_conv(conv(i), output_size=i.shape)
# for b, c, hid_c = 2, 3, 2 and h, w, k, d, s, p over a grid; a spread of that grid, lifted.
for h, wd, k, d, s, p in ((13, 13, 2, 1, 1, 0), (14, 15, 3, 2, 2, 1), (17, 16, 4, 3, 3, 2),
                          (23, 13, 3, 4, 3, 0), (16, 14, 2, 2, 3, 2), (20, 16, 4, 1, 2, 1),
                          (21, 15, 3, 3, 2, 2), (22, 16, 4, 4, 1, 1)):
    oh, ow = ((n + 2 * p - d * (k - 1) - 1) // s + 1 for n in (h, wd))
    add_lifted(2, f"test_conv_downsample_upsample_h{h}w{wd}k{k}d{d}s{s}p{p}", TEST_CONV,
               (2, 2, oh, ow), (2, 3, k, k), bias=True, stride=s, padding=p, dilation=d,
               output_size=(h, wd))
# test_ConvTranspose3d_correct_output_size: nn.ConvTranspose3d(2, 2, 2) on (1, 2, 1, 1, 1),
# output_size (1, 2, 2, 2, 2) (the CLI takes the spatial part).
add("test_conv_ConvTranspose3d_correct_output_size", TEST_CONV, (1, 2, 1, 1, 1), (2, 2, 2, 2, 2),
    True, output_size=(2, 2, 2))
# test_conv_transpose_with_output_size_and_no_batch_dim (issue 75889): ConvTranspose{2,3}d(1, 1,
# kernel_size=16, stride=16, padding=7, bias=False) on an unbatched input, output_size given.
add("test_conv_output_size_no_batch_dim_3d", TEST_CONV, (1, 15, 13, 13), (1, 1, 16, 16, 16),
    stride=16, padding=7, output_size=(240, 200, 200))
add_lifted(2, "test_conv_output_size_no_batch_dim_2d", TEST_CONV, (1, 15, 13), (1, 1, 16, 16),
           stride=16, padding=7, output_size=(240, 200))
# test_thnn_conv_strided_padded_dilated: F.conv_transpose3d, input (1, 2, 4, 4, 4), weight
# (2, 2, 1, 1, 1), bias (2,), double; (stride, padding, dilation) as listed.
for s, p, d in ((2, 0, 1), (1, 1, 1), (2, 1, 1), (1, 0, 2)):
    add(f"test_conv_thnn_strided_padded_dilated_s{s}p{p}d{d}", TEST_CONV, (1, 2, 4, 4, 4),
        (2, 2, 1, 1, 1), True, stride=s, padding=p, dilation=d, dtype="float64")
# test_ConvTranspose3d_size_1_kernel: nn.ConvTranspose3d(3, 3, kernel_size=1) on (2, 3, 3, 5, 5)
add("test_conv_ConvTranspose3d_size_1_kernel", TEST_CONV, (2, 3, 3, 5, 5), (3, 3, 1, 1, 1), True,
    dtype="float64")
# test_conv_noncontig_weights (dim 3): x (1, 3, 5, 5, 5), weight = one 3x3x3 kernel expanded
# to (3, 3 / groups, 3, 3, 3), groups 1 and 3.
add("test_conv_noncontig_weights", TEST_CONV, (1, 3, 5, 5, 5), (3, 3, 3, 3, 3), data="expanded")
add("test_conv_noncontig_weights_grouped", TEST_CONV, (1, 3, 5, 5, 5), (3, 1, 3, 3, 3), groups=3,
    data="expanded")
# test_conv_modules_raise_error_on_incorrect_input_size: nn.ConvTranspose3d(3, 8, 3) on 3-D
# and 6-D inputs.
add("test_conv_incorrect_input_size_3d", TEST_CONV, (3, 3, 3), (3, 8, 3, 3, 3), True, rejects=True)
add("test_conv_incorrect_input_size_6d", TEST_CONV, (3, 3, 3, 3, 3, 3), (3, 8, 3, 3, 3), True,
    rejects=True)
# test_convTranspose_empty / test_group_convTranspose_empty: nn.ConvTranspose2d(4, 4, stride=2,
# kernel_size=3, padding=1[, groups=4]) on (0, 4, 4, 4), lifted.
add_lifted(2, "test_conv_convTranspose_empty", TEST_CONV, (0, 4, 4, 4), (4, 4, 3, 3), bias=True,
           stride=2, padding=1)
add_lifted(2, "test_conv_group_convTranspose_empty", TEST_CONV, (0, 4, 4, 4), (4, 1, 3, 3),
           bias=True, stride=2, padding=1, groups=4)
# test_conv_backend, transposed rows: input (2, 6, 7, 8, 9) (and its 1-D/2-D prefixes), C_out 12,
# kernel 3, groups 3, stride 2 if strided, dilation 2 if dilated, bias or not.
for strided in (False, True):
    for dilated in (False, True):
        tag = ("strided" if strided else "unit") + ("_dilated" if dilated else "")
        add(f"test_conv_backend_3d_transposed_{tag}", TEST_CONV, (2, 6, 7, 8, 9), (6, 4, 3, 3, 3),
            True if strided != dilated else None, stride=2 if strided else 1,
            dilation=2 if dilated else 1, groups=3)
add_lifted(2, "test_conv_backend_2d_transposed_strided", TEST_CONV, (2, 6, 7, 8), (6, 4, 3, 3),
           bias=True, stride=2, groups=3)
add_lifted(2, "test_conv_backend_2d_transposed_dilated", TEST_CONV, (2, 6, 7, 8), (6, 4, 3, 3),
           dilation=2, groups=3)
add_lifted(1, "test_conv_backend_1d_transposed_strided_dilated", TEST_CONV, (2, 6, 7), (6, 4, 3),
           bias=True, stride=2, dilation=2, groups=3)
# its empty_batch3d / empty_channel3d rows, with a transposed weight
add("test_conv_backend_empty_batch3d_transposed", TEST_CONV, (0, 6, 7, 8, 9), (6, 4, 3, 3, 3), True,
    groups=3)
add("test_conv_backend_empty_channel3d_transposed", TEST_CONV, (2, 0, 7, 8, 9), (0, 4, 3, 3, 3),
    rejects=True)  # weight.size(0) = 0 < groups
# test_conv_thnn_nhwc, the nn.ConvTranspose2d helper calls (integer data in [-3, 3)), lifted.
for i, (n, c, hw, oc, k, g) in enumerate(((2, 8, 4, 4, 3, 1), (2, 8, 4, 8, 3, 8),
                                          (1, 16, 56, 16, 1, 1), (1, 16, 56, 32, 1, 16))):
    add_lifted(2, f"test_conv_thnn_nhwc_transposed_{i}", TEST_CONV, (n, c, hw, hw),
               (c, oc // g, k, k), bias=True, groups=g, data="randint",
               dtype="float64" if i % 2 else "float32")
# test_convert_conv3d_weight_memory_format: nn.ConvTranspose3d(8, 4, 3) on (2, 8, 4, 4, 4)
add("test_conv_convert_conv3d_weight_memory_format", TEST_CONV, (2, 8, 4, 4, 4), (8, 4, 3, 3, 3),
    True, data="randint")
# test_grad_conv3d_input: torch.nn.grad.conv3d_input is conv_transpose3d of grad_output
# (N, 3, o, o, o) with weight (3, 2, k, k, k), output size = the conv's input size (chan_in 2,
# chan_out 3, dilation 1; (kern, inp_size) in (3, 6), (3, 7), (4, 9); stride 1, 2; padding 0-2).
for k, n_in in ((3, 6), (3, 7), (4, 9)):
    for s, p in ((2, 0), (2, 1), (2, 2), (1, 2)):
        if s == 1 and k == 3 and n_in == 6:
            continue
        o = (n_in + 2 * p - k) // s + 1
        add(f"test_conv_grad_conv3d_input_k{k}_in{n_in}_s{s}_p{p}", TEST_CONV,
            (1 + (k + p) % 2, 3, o, o, o), (3, 2, k, k, k), stride=s, padding=p,
            output_size=(n_in,) * 3, dtype="float64" if p == 1 else "float32")
# test_Conv2d_inconsistent_types (there for conv2d): float input, double weight.
add("test_conv_inconsistent_types", TEST_CONV, (1, 2, 3, 3, 3), (2, 2, 3, 3, 3), wdtype="float64",
    rejects=True)
# test_invalid_conv3d ("non-positive stride is not supported", there for Conv3d).
add("test_conv_negative_stride", TEST_CONV, (1, 1, 4, 4, 4), (1, 1, 3, 3, 3), stride=-2, rejects=True)
# test_conv_invalid_groups (groups 0, -1, -2 there for Conv{1,2,3}d's constructor).
add("test_conv_groups_zero", TEST_CONV, (1, 2, 4, 4, 4), (2, 2, 3, 3, 3), groups=0, rejects=True)
add("test_conv_groups_negative", TEST_CONV, (1, 2, 4, 4, 4), (2, 2, 3, 3, 3), groups=-2, rejects=True)

# --- docstring examples: torch/nn/functional.py (conv_transpose3d) and
# torch/nn/modules/conv.py (ConvTranspose3d; ConvTranspose2d's output_size example).
add("docs_F_conv_transpose3d", DOCS, (20, 16, 50, 10, 20), (16, 33, 3, 3, 3))
add("docs_ConvTranspose3d_stride2", DOCS, (2, 16, 10, 12, 14), (16, 33, 3, 3, 3), True, stride=2)
# nn.ConvTranspose3d(16, 33, (3, 5, 2), stride=(2, 1, 1), padding=(0, 4, 2)) on
# (20, 16, 10, 50, 100): batch cut to 2; width padding 2 exceeds the kernel's reach (1).
add("docs_ConvTranspose3d_nonsquare", DOCS, (2, 16, 10, 50, 100), (16, 33, 3, 5, 2), True,
    stride=(2, 1, 1), padding=(0, 4, 2))
# ConvTranspose2d(16, 16, 3, stride=2, padding=1)(h, output_size=input.size()), h from a
# Conv2d(16, 16, 3, stride=2, padding=1) on (1, 16, 12, 12): (1, 16, 6, 6) -> 12 x 12.
add_lifted(2, "docs_ConvTranspose2d_output_size", DOCS, (1, 16, 6, 6), (16, 16, 3, 3), bias=True,
           stride=2, padding=1, output_size=(12, 12))

# --- onnx/backend/test/case/node/convtranspose.py (node tests; data and expected values as
# published there; ONNX pads are [begin..., end...], symmetric ones map to PyTorch padding;
# output_shape maps to --output-size; 2-D and 1-D ones lifted).
_X33 = np.arange(9.0).reshape(1, 1, 3, 3)
_ONES_1233 = np.ones((1, 2, 3, 3))
_PLANE_5x5 = [[0, 1, 3, 3, 2], [3, 8, 15, 12, 7], [9, 21, 36, 27, 15], [9, 20, 33, 24, 13],
              [6, 13, 21, 15, 8]]
_ROWS_10x8 = ([[0, 0, 1, 1, 3, 2, 2, 0]] * 3 + [[3, 3, 7, 4, 9, 5, 5, 0]] * 3 +
              [[6, 6, 13, 7, 15, 8, 8, 0]] * 3 + [[0] * 8])
add_lifted(2, "onnx_convtranspose", ONNX, (1, 1, 3, 3), (1, 2, 3, 3), xdata=_X33, wdata=_ONES_1233,
           expect=[((0, 0, 0), _PLANE_5x5), ((0, 1, 0), _PLANE_5x5)])
add_lifted(2, "onnx_convtranspose_lifted_DH", ONNX, (1, 1, 3, 3), (1, 2, 3, 3), at=(0, 1),
           xdata=_X33, wdata=_ONES_1233, expect=[((0, 1, slice(None), slice(None), 0), _PLANE_5x5)])
add_lifted(1, "onnx_convtranspose_1d", ONNX, (1, 1, 3), (1, 2, 3), xdata=np.arange(3.0),
           wdata=np.ones(6), expect=[((0, 0, 0, 0), [0, 1, 3, 3, 2]), ((0, 1, 0, 0), [0, 1, 3, 3, 2])])
add_lifted(1, "onnx_convtranspose_1d_lifted_D", ONNX, (1, 1, 3), (1, 2, 3), at=(0,),
           xdata=np.arange(3.0), wdata=np.ones(6),
           expect=[((0, 1, slice(None), 0, 0), [0, 1, 3, 3, 2])])
add("onnx_convtranspose_3d", ONNX, (1, 1, 3, 4, 5), (1, 2, 3, 3, 3), xdata=np.arange(60.0),
    wdata=np.ones(54), expect=[((0, 0, 0, 0), [0, 1, 3, 6, 9, 7, 4]),
                               ((0, 0, 2, 2), [225, 459, 702, 729, 756, 513, 261]),
                               ((0, 1, 4, 5), [55, 111, 168, 171, 174, 117, 59]),
                               ((0, 1, 3, 0), [60, 122, 186, 192, 198, 134, 68])])
# strides [3, 2], output_shape [10, 8]
add_lifted(2, "onnx_convtranspose_output_shape", ONNX, (1, 1, 3, 3), (1, 2, 3, 3), stride=(3, 2),
           output_size=(10, 8), xdata=_X33, wdata=_ONES_1233,
           expect=[((0, 0, 0), _ROWS_10x8), ((0, 1, 0), _ROWS_10x8)])
# strides [3, 2], output_padding [1, 1]
add_lifted(2, "onnx_convtranspose_pad", ONNX, (1, 1, 3, 3), (1, 2, 3, 3), stride=(3, 2),
           output_padding=(1, 1), xdata=_X33, wdata=_ONES_1233, expect=[((0, 1, 0), _ROWS_10x8)])
# strides [3, 2], output_shape [10, 8], kernel_shape [3, 3], output_padding [1, 1]: output_shape
# wins in ONNX and agrees with output_padding here; the CLI takes one of them (--output-size).
add_lifted(2, "onnx_convtranspose_kernel_shape", ONNX, (1, 1, 3, 3), (1, 2, 3, 3), stride=(3, 2),
           output_size=(10, 8), xdata=_X33, wdata=_ONES_1233, expect=[((0, 0, 0), _ROWS_10x8)])
# strides [3, 2], pads [1, 2, 1, 2] (begin H, begin W, end H, end W: symmetric -> padding (1, 2))
add_lifted(2, "onnx_convtranspose_pads", ONNX, (1, 1, 3, 3), (1, 2, 3, 3), stride=(3, 2),
           padding=(1, 2), xdata=_X33, wdata=_ONES_1233,
           expect=[((0, 0, 0), [[1, 1, 3], [1, 1, 3], [7, 4, 9], [7, 4, 9], [7, 4, 9], [13, 7, 15],
                                [13, 7, 15]])])
# dilations [2, 2]
add_lifted(2, "onnx_convtranspose_dilations", ONNX, (1, 1, 3, 3), (1, 1, 2, 2), dilation=2,
           xdata=np.array([3.0, 8, 1, 9, 5, 7, 3, 2, 6]), wdata=np.array([7.0, 2, 1, 9]),
           expect=[((0, 0, 0), [[21, 56, 13, 16, 2], [63, 35, 67, 10, 14], [24, 22, 76, 76, 21],
                                [9, 5, 88, 45, 63], [3, 2, 33, 18, 54]])])
# group 2 (newer onnx: export_convtranspose_group_2 / _group_2_image_3; x (1|3, 2, 3, 3),
# W ones (2, 1, 3, 3)); channel 0 of image 0 is test_convtranspose's plane.
add_lifted(2, "onnx_convtranspose_group_2", ONNX, (1, 2, 3, 3), (2, 1, 3, 3), groups=2,
           xdata=np.arange(18.0), wdata=np.ones(18), expect=[((0, 0, 0), _PLANE_5x5)])
add_lifted(2, "onnx_convtranspose_group_2_image_3", ONNX, (3, 2, 3, 3), (2, 1, 3, 3), groups=2,
           xdata=np.concatenate([np.arange(27.0), np.arange(9.0, 18), np.arange(18.0)]),
           wdata=np.ones(18), expect=[((0, 0, 0), _PLANE_5x5), ((2, 0, 0), _PLANE_5x5)])
# Derived from the ConvTranspose spec, not node tests: an output_shape below the full size
# with an odd total padding T (auto_pad NOTSET puts ceil(T/2) at the begin) is PyTorch
# padding ceil(T/2) with output_padding 1: 3-D, strides 2, full 7x7x7, output_shape 6x6x6.
add("onnx_spec_output_shape_odd_total_padding", ONNX, (1, 2, 3, 3, 3), (2, 3, 3, 3, 3), True,
    stride=2, padding=1, output_padding=1)
# auto_pad SAME_LOWER, strides 2 on 3x3 (T = 1 at the begin) -> padding 1, output_padding 1.
add_lifted(2, "onnx_spec_autopad_same_lower", ONNX, (1, 1, 3, 3), (1, 2, 3, 3), stride=2,
           padding=1, output_padding=1, xdata=_X33, wdata=_ONES_1233)

# --- edge cases -----------------------------------------------------------------------
# zero batch
add("edge_zero_batch", EDGE, (0, 3, 4, 5, 6), (3, 2, 3, 3, 3), True, stride=2, output_padding=1)
add("edge_zero_batch_f64_groups", EDGE, (0, 4, 2, 2, 2), (4, 3, 2, 2, 2), groups=2, dtype="float64")
# torch 1.13 accepts this at N = 0 (output (0, 3, 9, 9, 9)) but rejects it at N = 1
# (output_padding 3 >= stride 1 and dilation 1); convt3d rejects it whatever N (semantics.md).
add("edge_zero_batch_bad_output_padding", EDGE, (0, 2, 4, 4, 4), (2, 3, 3, 3, 3), output_padding=3,
    rejects=True, n0_torch_accepts=True)
# kernel smaller than the stride (rows no tap reaches hold the bias)
add("edge_kernel_lt_stride", EDGE, (2, 3, 3, 4, 5), (3, 2, 2, 2, 2), True, stride=3)
add("edge_kernel1_stride2_outpad", EDGE, (1, 2, 3, 3, 3), (2, 4, 1, 1, 1), True, stride=2,
    output_padding=1)
add("edge_kernel_lt_stride_mixed", EDGE, (1, 4, 3, 2, 4), (4, 3, 1, 2, 3), True, stride=(4, 3, 5),
    padding=(0, 1, 0), output_padding=(3, 2, 4))
# output_padding with dilation: allowed when < stride or < dilation
add("edge_outpad_ge_stride_lt_dilation", EDGE, (1, 2, 4, 4, 4), (2, 3, 3, 3, 3), True,
    dilation=3, output_padding=2)
add("edge_outpad_mixed_axes", EDGE, (2, 2, 3, 4, 3), (2, 2, 2, 3, 2), True, stride=(1, 2, 3),
    dilation=(4, 1, 2), output_padding=(3, 1, 2), padding=(2, 1, 0))
add("edge_outpad_eq_stride_eq_dilation", EDGE, (1, 2, 4, 4, 4), (2, 3, 3, 3, 3), stride=2,
    dilation=2, output_padding=2, rejects=True)
# output_size can only reach min + stride - 1 even where dilation > stride would allow more
# (nn.ConvTranspose3d._output_padding; ValueError), while the functional takes output_padding 2.
add("edge_output_size_upper_bound_stride", EDGE, (1, 2, 4, 4, 4), (2, 3, 3, 3, 3), dilation=3,
    output_size=(10, 11, 10), rejects=True)
add("edge_output_size_min", EDGE, (1, 2, 4, 4, 4), (2, 3, 3, 3, 3), stride=(2, 3, 1), dilation=3,
    output_size=(13, 16, 10))
add("edge_output_size_max", EDGE, (1, 2, 4, 4, 4), (2, 3, 3, 3, 3), True, stride=(2, 3, 1),
    dilation=3, output_size=(14, 18, 10))
# padding 1 on a 1x1x1 input with kernel 1: the minimum size is -1, the range [-1, 1]; size 1
# yields output_padding 2 (< stride 3), a valid call; size 0 passes the range check but the
# call it yields has an empty output, which torch rejects.
add("edge_output_size_negative_min", EDGE, (1, 2, 1, 1, 1), (2, 3, 1, 1, 1), True, stride=3,
    padding=1, output_size=(1, 1, 1))
add("edge_output_size_zero", EDGE, (1, 2, 1, 1, 1), (2, 3, 1, 1, 1), True, stride=3, padding=1,
    output_size=(1, 0, 1), rejects=True)
# groups with odd channel counts
add("edge_groups3_cin9_cout15", EDGE, (2, 9, 3, 4, 2), (9, 5, 2, 3, 3), True, groups=3,
    stride=(1, 2, 2))
add("edge_groups5_depthwise_mult3", EDGE, (1, 5, 4, 3, 5), (5, 3, 3, 3, 3), True, groups=5, padding=1)
add("edge_groups7_cin14_cout7", EDGE, (2, 14, 3, 3, 3), (14, 1, 3, 2, 3), True, groups=7, stride=2,
    dilation=(1, 2, 1), output_padding=1, dtype="float64")
add("edge_groups6_cin12_cout18_unbatched", EDGE, (12, 2, 3, 4), (12, 3, 3, 3, 3), True, groups=6,
    stride=(2, 1, 2), padding=1)
add("edge_groups_not_dividing", EDGE, (1, 6, 3, 3, 3), (6, 2, 3, 3, 3), groups=4, rejects=True)
add("edge_input_channels_mismatch", EDGE, (1, 5, 3, 3, 3), (6, 2, 3, 3, 3), rejects=True)
add("edge_bias_wrong_length", EDGE, (1, 4, 3, 3, 3), (4, 2, 3, 3, 3), (3,), groups=2, rejects=True)
# unbatched
add("edge_unbatched_f64_strided", EDGE, (3, 4, 5, 6), (3, 2, 3, 2, 3), True, stride=(2, 3, 1),
    padding=(1, 0, 1), output_padding=(1, 2, 0), dtype="float64")
# padding that crops to one
add("edge_crop_to_1_stride2", EDGE, (1, 2, 2, 2, 2), (2, 3, 3, 3, 3), True, stride=2, padding=2)
add("edge_crop_to_1_single", EDGE, (2, 3, 1, 1, 1), (3, 2, 3, 3, 3), True, padding=1)
add("edge_crop_to_1_outpad", EDGE, (1, 2, 1, 1, 1), (2, 2, 2, 2, 2), True, stride=2, padding=1,
    output_padding=1)
add("edge_crop_to_1_one_axis", EDGE, (1, 2, 1, 5, 4), (2, 2, 3, 3, 2), True, stride=(1, 2, 1),
    padding=(1, 0, 0), dtype="float64")
add("edge_crop_to_0", EDGE, (1, 2, 1, 1, 1), (2, 3, 3, 3, 3), padding=2, rejects=True)
# padding beyond the kernel's reach removes rows the input itself produced
add("edge_padding_beyond_kernel_reach", EDGE, (1, 3, 5, 6, 7), (3, 2, 2, 1, 3), True,
    stride=(3, 2, 2), padding=(2, 1, 3))
# float64 at a size where the fast paths engage
add("edge_f64_realistic", EDGE, (2, 16, 6, 7, 8), (16, 8, 3, 3, 3), True, stride=2, padding=1,
    output_padding=1, dtype="float64")
add("edge_f32_decoder_block", EDGE, (4, 32, 8, 8, 8), (32, 16, 4, 4, 4), True, stride=2, padding=1)
# other rejections PyTorch makes
add("edge_spatial_zero", EDGE, (1, 2, 0, 4, 4), (2, 3, 3, 3, 3), rejects=True)
add("edge_kernel_zero", EDGE, (1, 2, 3, 3, 3), (2, 2, 0, 3, 3), rejects=True)
add("edge_cout_zero", EDGE, (1, 2, 3, 3, 3), (2, 0, 3, 3, 3), rejects=True)
add("edge_weight_4d", EDGE, (1, 2, 4, 4, 4), (2, 3, 3, 3), rejects=True)
add("edge_dilation_zero", EDGE, (1, 2, 3, 3, 3), (2, 2, 3, 3, 3), dilation=(1, 0, 1), rejects=True)
add("edge_negative_padding", EDGE, (1, 2, 3, 3, 3), (2, 2, 3, 3, 3), padding=(0, -1, 0), rejects=True)
add("edge_negative_output_padding", EDGE, (1, 2, 3, 3, 3), (2, 2, 3, 3, 3), stride=2,
    output_padding=(0, 0, -1), rejects=True)


# ===================================================================== running a case

def make_data(c):
    rng = np.random.default_rng(zlib.crc32(c["name"].encode()))
    dt = np.dtype(c["dtype"])
    wdt = np.dtype(c["wdtype"] or c["dtype"])
    if "xdata" in c:
        x = np.asarray(c["xdata"], dtype=dt).reshape(c["x"])
        w = np.asarray(c["wdata"], dtype=wdt).reshape(c["w"])
    elif c["data"] == "randint":
        x = rng.integers(-3, 3, c["x"]).astype(dt)
        w = rng.integers(-3, 3, c["w"]).astype(wdt)
    elif c["data"] == "expanded":
        x = rng.standard_normal(c["x"]).astype(dt)
        w = np.ascontiguousarray(np.broadcast_to(rng.standard_normal(c["w"][2:]), c["w"])).astype(wdt)
    else:
        x = rng.standard_normal(c["x"]).astype(dt)
        w = rng.standard_normal(c["w"]).astype(wdt)
    b = None
    if c["bias"] is not None:
        b = (rng.integers(-3, 3, c["bias"]) if c["data"] == "randint"
             else rng.standard_normal(c["bias"])).astype(dt)
    return x, w, b


def torch_forward(c, x, w, b):
    """torch's result for case c on these arrays (raises where torch rejects)."""
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)
    bt = None if b is None else torch.from_numpy(b)
    op = c["output_padding"] or (0, 0, 0)
    with torch.no_grad():
        if c["output_size"] is None:
            return F.conv_transpose3d(xt, wt, bt, stride=c["stride"], padding=c["padding"],
                                      output_padding=op, groups=c["groups"],
                                      dilation=c["dilation"]).numpy()
        m = nn.ConvTranspose3d(w.shape[0], w.shape[1] * c["groups"], w.shape[2:], stride=c["stride"],
                               padding=c["padding"], groups=c["groups"], bias=b is not None,
                               dilation=c["dilation"])
        m.weight = nn.Parameter(wt, requires_grad=False)
        if b is not None:
            m.bias = nn.Parameter(bt, requires_grad=False)
        return m(xt, output_size=list(c["output_size"])).numpy()


def torch_verdict(c, x, w, b):
    try:
        return True, torch_forward(c, x, w, b)
    except (RuntimeError, ValueError, IndexError) as e:
        return False, str(e).splitlines()[0] if str(e) else type(e).__name__


def bounds(c, x, w, b):
    """Per-element (vs exact float64, vs torch) bounds, as torch_diff.py derives them."""
    f64 = lambda a: None if a is None else np.abs(a).astype(np.float64)
    mag = torch_forward(c, f64(x), f64(w), f64(b))
    if x.dtype == np.float64:
        return 1e-10 * mag, 1e-10 * mag
    groups = max(c["groups"], 1)
    k_terms = w.shape[0] // groups * int(np.prod(w.shape[2:])) + 1
    u = 2.0 ** -24
    gamma = k_terms * u / (1 - k_terms * u)
    return gamma * mag, 2 * gamma * mag


def fmt(v):
    return str(v[0]) if v[0] == v[1] == v[2] else ",".join(map(str, v))


def cli_command(cli, paths, c, has_bias):
    cmd = [cli, "run", "--input", paths["x"], "--weight", paths["w"], "--output", paths["y"]]
    if has_bias:
        cmd += ["--bias", paths["b"]]
    cmd += ["--stride", fmt(c["stride"]), "--padding", fmt(c["padding"]),
            "--dilation", fmt(c["dilation"]), "--groups", str(c["groups"])]
    if c["output_padding"] is not None:
        cmd += ["--output-padding", fmt(c["output_padding"])]
    if c["output_size"] is not None:
        cmd += ["--output-size", ",".join(map(str, c["output_size"]))]
    return cmd


def describe(c, x, w, b):
    parts = [f"x{tuple(x.shape)}:{x.dtype}", f"w{tuple(w.shape)}:{w.dtype}",
             f"b{None if b is None else tuple(b.shape)}", f"stride={c['stride']}",
             f"padding={c['padding']}", f"dilation={c['dilation']}", f"groups={c['groups']}"]
    if c["output_padding"] is not None:
        parts.append(f"output_padding={c['output_padding']}")
    if c["output_size"] is not None:
        parts.append(f"output_size={c['output_size']} (nn.ConvTranspose3d.forward)")
    parts.append(f"data={'explicit' if 'xdata' in c else c['data']} "
                 f"seed=crc32('{c['name']}')={zlib.crc32(c['name'].encode())}")
    return " ".join(parts)


def run_case(c, cli, tmp):
    """Returns (ok, message lines, notes)."""
    x, w, b = make_data(c)
    notes = []
    ok_t, verdict = torch_verdict(c, x, w, b)
    if len(c["x"]) == 5 and c["x"][0] == 0:  # empty batch: judged as torch judges N = 1
        x1 = np.zeros((1,) + c["x"][1:], dtype=x.dtype)
        ok1, v1 = torch_verdict(c, x1, w, b)
        if ok_t and not ok1:
            notes.append(f"torch 1.13 accepts this with N = 0 but rejects it with N = 1 ({v1}); "
                         "convt3d applies every rule whatever N (docs/semantics.md)")
            if not c["n0_torch_accepts"]:
                return False, ["table error: torch accepts at N = 0 only; mark "
                               "n0_torch_accepts"], notes
        if not ok1:
            ok_t, verdict = False, v1
    if ok_t == c["rejects"]:
        return False, [f"table error: the table says rejects={c['rejects']} but torch "
                       f"{'accepts' if ok_t else 'rejects: ' + verdict}"], notes

    paths = {k: os.path.join(tmp, k + ".npy") for k in ("x", "w", "b", "y")}
    for k in paths:
        if os.path.exists(paths[k]):
            os.remove(paths[k])
    np.save(paths["x"], x)
    np.save(paths["w"], w)
    if b is not None:
        np.save(paths["b"], b)
    cmd = cli_command(cli, paths, c, b is not None)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    err = r.stderr.strip()
    y = np.load(paths["y"]) if os.path.exists(paths["y"]) else None

    problems = []
    if not ok_t:
        if r.returncode != 2:
            problems.append(f"torch rejects ({verdict}) but the CLI exited {r.returncode}")
        if not err:
            problems.append("no message on stderr")
        if y is not None:
            problems.append(f"an output file was written (shape {y.shape})")
    elif r.returncode != 0:
        problems.append(f"torch accepts (output {verdict.shape}) but the CLI exited "
                        f"{r.returncode}: {err}")
    elif y is None:
        problems.append("exit 0 but no output file")
    elif y.shape != verdict.shape or y.dtype != x.dtype:
        problems.append(f"output {y.shape} {y.dtype}, torch {verdict.shape} {x.dtype}")
    else:
        tol_exact, tol_torch = bounds(c, x, w, b)
        exact = torch_forward(c, x.astype(np.float64), w.astype(np.float64),
                              None if b is None else b.astype(np.float64))
        y64 = y.astype(np.float64)
        err_t = np.abs(y64 - verdict.astype(np.float64))
        err_e = np.abs(y64 - exact)
        if not np.all(np.isfinite(y)):
            problems.append(f"{int(np.sum(~np.isfinite(y)))} non-finite output elements")
        elif not (np.all(err_t <= tol_torch) and np.all(err_e <= tol_exact)):
            i = np.unravel_index(int(np.argmax(err_t - tol_torch)), err_t.shape)
            problems.append(f"max error vs torch {err_t.max():.3g} (bound there "
                            f"{tol_torch[i]:.3g}), vs exact {err_e.max():.3g}; worst at {i}: "
                            f"convt3d {y64[i]!r}, torch {verdict[i]!r}, exact {exact[i]!r}; "
                            f"{int(np.sum(err_t > tol_torch))} elements out of bounds")
        for idx, want in c["expect"] or []:
            got = y[idx]
            if not np.array_equal(np.asarray(got, dtype=np.float64),
                                  np.asarray(want, dtype=np.float64)):
                problems.append(f"y[{idx}] = {np.asarray(got).tolist()}, the source publishes "
                                f"{want}")
    if problems:
        lines = problems + [f"case: {describe(c, x, w, b)}",
                            "cli: " + " ".join(cmd), f"stderr: {err!r}" if err else "stderr: (empty)"]
        return False, lines, notes
    return True, [f"torch rejects: {verdict}; cli: {err}" if not ok_t else
                  f"output {verdict.shape}"], notes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cli", help="path to the convt3d executable")
    ap.add_argument("-k", dest="filter", help="run only cases whose name contains this")
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per case")
    ap.add_argument("--keep", help="copy the .npy files of failing cases into this directory")
    args = ap.parse_args()
    if not os.access(args.cli, os.X_OK):
        print(f"conformance: {args.cli} is not an executable")
        return 1
    torch.set_num_threads(min(4, os.cpu_count() or 1))
    cases = [c for c in CASES if not args.filter or args.filter in c["name"]]
    passed = failed = 0
    by_src = {}
    with tempfile.TemporaryDirectory() as tmp:
        for c in cases:
            ok, lines, notes = run_case(c, args.cli, tmp)
            s = by_src.setdefault(c["src"], [0, 0, 0])
            s[0] += 1
            s[1 if ok else 2] += 1
            if ok:
                passed += 1
                if args.verbose:
                    print(f"ok   [{c['src']}] {c['name']}: {lines[0]}")
            else:
                failed += 1
                print(f"FAIL [{c['src']}] {c['name']}")
                for line in lines:
                    print("     " + line)
                if args.keep:
                    dst = os.path.join(args.keep, c["name"])
                    os.makedirs(dst, exist_ok=True)
                    for k in ("x", "w", "b"):
                        p = os.path.join(tmp, k + ".npy")
                        if os.path.exists(p):
                            shutil.copy(p, dst)
            for note in notes:
                print(f"note [{c['src']}] {c['name']}: {note}")
    print("cases by source: " + ", ".join(f"{k} {v[0]} ({v[2]} failed)" if v[2] else f"{k} {v[0]}"
                                          for k, v in by_src.items()))
    print(f"conformance: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
