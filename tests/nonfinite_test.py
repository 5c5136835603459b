#!/usr/bin/python3
"""NaN and infinity: convt3d's CLI against torch on data holding NaN, +inf and -inf.

PyTorch forms exactly the products x[i] * w[k] of real inputs and taps that land inside
the output, so an output element is NaN when one of its terms is NaN, inf * 0 or
inf + (-inf), and +-inf when its terms overflow that way; every other element is finite.
convt3d must give the same NaN positions, the same infinities with the same signs, and
finite values within the float32/float64 bounds of tests/torch_diff.py (docs/testing.md)
everywhere else. Random problems (seeded) cover every stride/padding/dilation class, and
the non-finite values go into the input, the weight, the bias, or several at once,
including weights whose taps fall outside the input (where a fast path that multiplied
zero padding by an infinite weight would make NaN that torch does not).

Usage: /usr/bin/python3 tests/nonfinite_test.py path/to/convt3d [--cases N]
Prints `nonfinite: N passed, M failed`; exit 0 when M is 0, 1 otherwise, 77 without
torch or numpy.
"""
import argparse
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError:
    print("nonfinite: torch or numpy missing, skipped")
    sys.exit(77)


def random_case(rng):
    groups = int(rng.integers(1, 3))
    c = {
        "n": int(rng.integers(1, 3)), "groups": groups,
        "cin": groups * int(rng.integers(1, 4)), "cout_g": int(rng.integers(1, 4)),
        "in": [int(v) for v in rng.integers(1, 6, 3)],
        "k": [int(v) for v in rng.integers(1, 5, 3)],
        "stride": [int(v) for v in rng.integers(1, 4, 3)],
        "dilation": [int(v) for v in rng.integers(1, 3, 3)],
        "bias": bool(rng.integers(0, 2)),
        "dtype": np.float32 if rng.integers(0, 2) == 0 else np.float64,
    }
    c["padding"] = [int(rng.integers(0, c["dilation"][a] * (c["k"][a] - 1) + 1)) for a in range(3)]
    c["output_padding"] = [int(rng.integers(0, max(c["stride"][a], c["dilation"][a])))
                           for a in range(3)]
    return c


def out_shape(c):
    return [(c["in"][a] - 1) * c["stride"][a] - 2 * c["padding"][a] +
            c["dilation"][a] * (c["k"][a] - 1) + c["output_padding"][a] + 1 for a in range(3)]


def poison(rng, a, count):
    """Puts `count` values drawn from NaN, +inf, -inf at random places of a (in place)."""
    flat = a.reshape(-1)
    for _ in range(count):
        flat[rng.integers(0, flat.size)] = rng.choice([np.nan, np.inf, -np.inf])


def torch_call(c, x, w, b):
    t = lambda a: None if a is None else torch.from_numpy(a)
    return F.conv_transpose3d(t(x), t(w), t(b), stride=tuple(c["stride"]),
                              padding=tuple(c["padding"]),
                              output_padding=tuple(c["output_padding"]), groups=c["groups"],
                              dilation=tuple(c["dilation"])).numpy()


def bound(c, x, w, b):
    """Per-element bound on |convt3d - torch| for elements whose terms are all finite
    (then zeroing the non-finite data changes none of their terms)."""
    z = lambda a: None if a is None else np.abs(np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)).astype(np.float64)
    mag = torch_call(c, z(x), z(w), z(b))
    if c["dtype"] == np.float64:
        return 1e-10 * mag
    k_terms = w.shape[0] // c["groups"] * w.shape[2] * w.shape[3] * w.shape[4] + 1
    u = 2.0 ** -24
    return 2 * k_terms * u / (1 - k_terms * u) * mag


def run_case(cli, tmp, c, rng, where):
    x = rng.standard_normal([c["n"], c["cin"]] + c["in"]).astype(c["dtype"])
    w = rng.standard_normal([c["cin"], c["cout_g"]] + c["k"]).astype(c["dtype"])
    b = rng.standard_normal([c["cout_g"] * c["groups"]]).astype(c["dtype"]) if c["bias"] else None
    targets = {"input": [x], "weight": [w], "bias": [b] if b is not None else [w],
               "all": [x, w] + ([b] if b is not None else [])}[where]
    for a in targets:
        poison(rng, a, int(rng.integers(1, 3)))
    want = torch_call(c, x, w, b)
    paths = {k: os.path.join(tmp, k + ".npy") for k in ("x", "w", "b", "y")}
    np.save(paths["x"], x)
    np.save(paths["w"], w)
    cmd = [cli, "run", "--input", paths["x"], "--weight", paths["w"], "--output", paths["y"]]
    if b is not None:
        np.save(paths["b"], b)
        cmd += ["--bias", paths["b"]]
    for flag, key in (("--stride", "stride"), ("--padding", "padding"),
                      ("--output-padding", "output_padding"), ("--dilation", "dilation")):
        cmd += [flag, ",".join(str(v) for v in c[key])]
    cmd += ["--groups", str(c["groups"])]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return f"exit {r.returncode}: {r.stderr.strip()}"
    got = np.load(paths["y"])
    os.remove(paths["y"])
    if got.shape != want.shape or got.dtype != want.dtype:
        return f"shape/dtype {got.shape} {got.dtype}, torch {want.shape} {want.dtype}"
    nan_diff = int((np.isnan(got) != np.isnan(want)).sum())
    inf_diff = int(((np.isinf(got) != np.isinf(want)) |
                    (np.isinf(want) & (np.sign(got) != np.sign(want)))).sum())
    fin = np.isfinite(want) & np.isfinite(got)
    with np.errstate(invalid="ignore"):
        err = np.abs(got.astype(np.float64) - want.astype(np.float64))
    over = int((err[fin] > bound(c, x, w, b)[fin]).sum())
    if nan_diff or inf_diff or over:
        return (f"{nan_diff} NaN positions differ, {inf_diff} infinities differ, "
                f"{over} finite elements out of bounds (of {want.size})")
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cli")
    ap.add_argument("--cases", type=int, default=120)
    args = ap.parse_args()
    rng = np.random.default_rng(20261125)
    passed = failed = nonfinite_outputs = 0
    with tempfile.TemporaryDirectory() as tmp:
        done = 0
        while done < args.cases:
            c = random_case(rng)
            if min(out_shape(c)) < 1:
                continue
            where = ("input", "weight", "bias", "all")[done % 4]
            problem = f"{c} poisoned={where}"
            msg = run_case(args.cli, tmp, c, rng, where)
            done += 1
            if msg:
                failed += 1
                print(f"FAIL {problem}: {msg}")
            else:
                passed += 1
    print(f"nonfinite: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
