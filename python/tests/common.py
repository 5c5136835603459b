"""Shared by the Python tests: finds the package (python/) and the prerequisites, counts
checks, and derives the float32 error bounds.

Each test is a plain script: `/usr/bin/python3 python/tests/test_X.py`. It exits 0 when
every check passed, 1 otherwise, and 77 (ctest's "skipped") when numpy or torch is
missing. The library is found as the package finds it ($CONVT3D_LIBRARY, else
build/libconvt3d.so); a library that cannot be loaded is a failure, not a skip.

Error bounds (docs/testing.md derives the forward one). An element that is a sum of at
most K products (or K terms), computed in floating point with unit roundoff u in any
order, is within gamma(K) * M of the exact sum, gamma(K) = K*u / (1 - K*u), where M is
the sum of the terms' absolute values (Higham, Accuracy and Stability of Numerical
Algorithms, 3.1). For float32 data, "exact" is the same computation by torch in float64
from the same float32 values (its own error, about K * 2^-53 * M, is negligible beside the
bound), and M is that computation on absolute values. Both convt3d and torch are within
gamma(K) * M of exact, so they are within 2 * gamma(K) * M of each other. K per quantity:
    output        Cin/groups * kD*kH*kW products, + 1 for the bias
    grad_input    Cout/groups * kD*kH*kW products (every tap of every output channel of
                  the group that reaches the element)
    grad_weight   N * (the input's D*H*W) products for conv_transpose3d (every input
                  position times the grad_output element its tap lands on), N * (the
                  output's D*H*W) for conv3d
    grad_bias     N * (grad_output's D*H*W) terms
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..")))

try:
    import numpy as np  # noqa: F401  (re-exported to the tests)
    import torch
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"{os.path.basename(sys.argv[0])}: skipped, {e} (install python3-numpy and "
          "python3-torch, and run with /usr/bin/python3)")
    sys.exit(77)

import convt3d  # noqa: E402,F401  (after the path and the prerequisites; re-exported)

U32 = 2.0 ** -24


def gamma(k, u=U32):
    """Higham's gamma(k) = k*u / (1 - k*u): the relative bound on a k-term sum."""
    k = float(k)
    return k * u / (1.0 - k * u)


class Report:
    """Counts checks; prints the first failures."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.counts = {}

    def count(self, key, n=1):
        self.counts[key] = self.counts.get(key, 0) + n

    def expect(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            if self.failed <= 40:
                print("FAIL:", what() if callable(what) else what, flush=True)
        return ok

    def raises(self, exc_type, fn, what, match=None):
        """fn() must raise exc_type (and its message contain match); returns the
        exception or None."""
        try:
            fn()
        except exc_type as e:
            ok = match is None or match in str(e)
            self.expect(ok, f"{what}: message {str(e)!r} lacks {match!r}")
            return e
        except Exception as e:  # noqa: BLE001 - reporting the wrong type is the point
            self.expect(False, f"{what}: raised {type(e).__name__}: {e} instead of "
                               f"{exc_type.__name__}")
            return None
        self.expect(False, f"{what}: did not raise {exc_type.__name__}")
        return None

    def finish(self):
        if self.counts:
            print("; ".join(f"{k}: {v}" for k, v in sorted(self.counts.items())))
        print(f"{self.name}: {self.passed} checks passed, {self.failed} failed", flush=True)
        return 1 if self.failed else 0


def within(a, ref, bound):
    """(ok, worst excess ratio) for |a - ref| <= bound elementwise, all finite; a, ref and
    bound are tensors of one shape (a may be float32; compared in float64)."""
    if tuple(a.shape) != tuple(ref.shape):
        return False, float("inf")
    if a.numel() == 0:
        return True, 0.0
    a64 = a.detach().double()
    if not bool(torch.isfinite(a64).all()):
        return False, float("inf")
    err = (a64 - ref.detach().double()).abs()
    bound = bound.detach().double()
    ok = bool((err <= bound).all())
    nz = bound > 0
    ratio = float((err[nz] / bound[nz]).max()) if bool(nz.any()) else 0.0
    if bool((err[~nz] > 0).any()):
        ratio = float("inf")
    return ok, ratio
