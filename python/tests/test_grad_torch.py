#!/usr/bin/python3
"""Gradients through convt3d against torch's own autograd, float32, on random problems.

For each configuration both torch (F.conv_transpose3d / F.conv3d) and convt3d compute the
output and, from one grad_output, the gradients of input, weight and bias that require
grad; the results must agree within the bounds derived in common.py (every element within
gamma(K) * M of the float64 result, and within 2 * gamma(K) * M of torch's). Bounds are
worst cases, not fitted: a failure is a bug.

Covered on purpose (each a bug PyTorch itself once shipped): groups > 1 for grad_weight
(depthwise included), a kernel smaller than the stride on some axis, non-contiguous
grad_output (a transposed view, a strided slice, a stride-0 expansion). Also: dilation,
output_padding, padding up to beyond the kernel's reach, unbatched input, an empty batch,
bias or not, only some of input/weight/bias requiring grad, non-contiguous input and
weight, and conv3d with 'same' and 'valid' padding.

Usage: test_grad_torch.py [--convt N] [--conv3d N] [--seed S]  (defaults 520, 220, 1)
"""
import argparse
import random
import warnings

from common import Report, convt3d, gamma, torch, within

import torch.nn.functional as F


def rand_axes(rng, cfg, small_kernel):
    for key in ("k", "s", "d", "p", "op", "in"):
        cfg[key] = []
    forced = rng.randrange(3) if small_kernel else -1
    for a in range(3):
        k, s, d = rng.randint(1, 4), rng.randint(1, 3), rng.randint(1, 2)
        if a == forced or (small_kernel and rng.random() < 0.3):
            k = rng.randint(1, 2)
            s = rng.randint(k + 1, k + 2)  # kernel smaller than the stride
            d = 1
        cfg["k"].append(k), cfg["s"].append(s), cfg["d"].append(d)
        cfg["p"].append(rng.randint(0, d * (k - 1) + 1))
        cfg["op"].append(rng.randint(0, max(s, d) - 1))
        cfg["in"].append(rng.randint(1, 5))


def rand_config(rng, op):
    groups = rng.choice([1, 1, 2, 2, 3, 4])
    depthwise = groups > 1 and rng.random() < 0.3
    cfg = {"op_name": op, "groups": groups,
           "cin_g": 1 if depthwise else rng.randint(1, 3),
           "cout_g": rng.randint(1, 3),
           "n": rng.choice([0, 1, 1, 2, 2, 3]), "unbatched": rng.random() < 0.15,
           "bias": rng.random() < 0.6,
           "grad_layout": rng.choice(["contiguous", "transposed", "sliced", "expanded"]),
           "noncontig_inputs": rng.random() < 0.2,
           "small_kernel": rng.random() < 0.3}
    # all three parameters require grad in 3 of 4 cases, else a random non-empty subset
    req = [True, True, True]
    if rng.random() < 0.25:
        while True:
            req = [rng.random() < 0.5 for _ in range(3)]
            if any(req[:2]) or (req[2] and cfg["bias"]):
                break
    cfg["requires"] = req
    rand_axes(rng, cfg, cfg["small_kernel"])
    if op == "conv3d":
        cfg["op"] = [0, 0, 0]
        cfg["in"] = [i + rng.randint(0, 6) for i in cfg["in"]]  # room for the kernel
        cfg["pad_str"] = rng.choice([None] * 8 + ["valid", "same"])
        if cfg["pad_str"] == "same":
            cfg["s"] = [1, 1, 1]
    return cfg


def describe(c):
    keys = ("op_name", "n", "unbatched", "cin_g", "cout_g", "groups", "in", "k", "s", "p",
            "op", "d", "bias", "requires", "grad_layout", "noncontig_inputs")
    s = " ".join(f"{k}={c[k]}" for k in keys)
    return s + (f" padding={c['pad_str']!r}" if c.get("pad_str") else "")


def noncontig(t, rng_t):
    """A tensor equal to t whose memory is not contiguous (a strided slice of a larger
    one); a leaf that does not require grad."""
    big = torch.randn(t.shape[:-1] + (2 * t.shape[-1],), generator=rng_t, dtype=t.dtype)
    v = big[..., ::2]
    v.copy_(t)
    return v


def make_inputs(c, rng_t):
    cin, cout = c["cin_g"] * c["groups"], c["cout_g"] * c["groups"]
    xs = ([] if c["unbatched"] else [c["n"]]) + [cin] + c["in"]
    if c["op_name"] == "convt":
        ws = [cin, c["cout_g"]] + c["k"]
    else:
        ws = [cout, c["cin_g"]] + c["k"]
    x = torch.randn(xs, generator=rng_t)
    w = torch.randn(ws, generator=rng_t)
    b = torch.randn([cout], generator=rng_t) if c["bias"] else None
    if c["noncontig_inputs"]:
        x, w = noncontig(x, rng_t), noncontig(w, rng_t)
    return x, w, b


def kwargs(c):
    kw = {"stride": tuple(c["s"]), "dilation": tuple(c["d"]), "groups": c["groups"]}
    if c["op_name"] == "convt":
        kw.update(padding=tuple(c["p"]), output_padding=tuple(c["op"]))
    else:
        kw.update(padding=c["pad_str"] or tuple(c["p"]))
    return kw


def torch_fn(c):
    return F.conv_transpose3d if c["op_name"] == "convt" else F.conv3d


def torch_accepts(c, x, w, b):
    """torch's verdict on the configuration (judged with a batch of at least 1, since
    torch 1.13 skips checks on an empty batch); the output shape when it accepts."""
    if x.dim() == 5 and x.shape[0] == 0:
        x = torch.zeros((1,) + tuple(x.shape[1:]))
    try:
        y = torch_fn(c)(x, w, b, **kwargs(c))
    except (RuntimeError, ValueError):
        return None
    return y.shape


def make_grad(c, shape, rng_t):
    """grad_output of the layout the configuration names."""
    layout = c["grad_layout"]
    if layout == "transposed" and len(shape) >= 2:
        # memory in (..., W, H) order, viewed as (..., H, W)
        base = torch.randn(tuple(shape[:-2]) + (shape[-1], shape[-2]), generator=rng_t)
        return base.transpose(-1, -2)
    if layout == "sliced":
        base = torch.randn(tuple(shape[:-1]) + (3 * shape[-1],), generator=rng_t)
        return base[..., 1::3]
    if layout == "expanded":
        # one value per channel, broadcast over batch and space with stride 0
        ch = 1 if len(shape) == 5 else 0
        one = torch.randn(shape[ch], generator=rng_t)
        view = [1] * len(shape)
        view[ch] = shape[ch]
        return one.view(view).expand(shape)
    return torch.randn(shape, generator=rng_t)


def run(fn, c, x, w, b, g, dtype=None, absolute=False):
    """Output and the gradients (None where not required) of fn on copies of x, w, b
    (kept non-contiguous where they are), optionally cast to dtype and made absolute."""
    def leaf(t, req):
        if t is None:
            return None
        t = t.detach()  # keeps a view's strides: a non-contiguous leaf stays one
        if dtype is not None:
            t = t.to(dtype)
        if absolute:
            t = t.abs()
        return t.requires_grad_(req)
    req = c["requires"]
    leaves = [leaf(x, req[0]), leaf(w, req[1]), leaf(b, req[2])]
    y = fn(*leaves, **kwargs(c))
    gg = g
    if dtype is not None:
        gg = gg.to(dtype)
    if absolute:
        gg = gg.abs()
    if y.requires_grad:
        y.backward(gg)
    grads = []
    for t in leaves:
        if t is None or not t.requires_grad:
            grads.append(None)
        else:  # no grad reaching a leaf (an empty output) means zeros
            grads.append(t.grad if t.grad is not None else torch.zeros_like(t))
    return y.detach(), grads


def term_counts(c, x, y):
    """K for output, grad_input, grad_weight, grad_bias (see common.py)."""
    kvol = c["k"][0] * c["k"][1] * c["k"][2]
    n = 1 if c["unbatched"] else x.shape[0]
    in_vol = x.shape[-1] * x.shape[-2] * x.shape[-3]
    out_vol = y.shape[-1] * y.shape[-2] * y.shape[-3]
    if c["op_name"] == "convt":
        return (c["cin_g"] * kvol + 1, c["cout_g"] * kvol, n * in_vol, n * out_vol)
    return (c["cin_g"] * kvol + 1, c["cout_g"] * kvol, n * out_vol, n * out_vol)


def check_config(report, c, rng_t):
    x, w, b = make_inputs(c, rng_t)
    if torch_accepts(c, x, w, b) is None:
        return False
    fn_t = torch_fn(c)
    fn_c = convt3d.conv_transpose3d if c["op_name"] == "convt" else convt3d.conv3d
    y_probe = fn_t(x, w, b, **kwargs(c))
    g = make_grad(c, tuple(y_probe.shape), rng_t)
    y_t, gr_t = run(fn_t, c, x, w, b, g)
    y_c, gr_c = run(fn_c, c, x, w, b, g)
    y_e, gr_e = run(fn_t, c, x, w, b, g, dtype=torch.float64)
    y_m, gr_m = run(fn_t, c, x, w, b, g, dtype=torch.float64, absolute=True)
    ks = term_counts(c, x, y_t)
    names = ("output", "grad_input", "grad_weight", "grad_bias")
    for name, a, t, e, m, k in zip(names, [y_c] + gr_c, [y_t] + gr_t, [y_e] + gr_e,
                                   [y_m] + gr_m, ks):
        if t is None and a is None:
            continue
        if (a is None) != (t is None):
            report.expect(False, f"{name}: convt3d {'None' if a is None else 'a tensor'}, "
                                 f"torch {'None' if t is None else 'a tensor'}: {describe(c)}")
            continue
        if a.dtype != torch.float32 or a.shape != t.shape:
            report.expect(False, f"{name}: dtype/shape {a.dtype}{tuple(a.shape)} vs torch "
                                 f"{t.dtype}{tuple(t.shape)}: {describe(c)}")
            continue
        ok_e, r_e = within(a, e, gamma(k) * m)
        ok_t, r_t = within(a, t, 2 * gamma(k) * m)
        report.expect(ok_e and ok_t, lambda: f"{name}: error/bound {r_e:.3g} vs exact, "
                                             f"{r_t:.3g} vs torch (K={k}): {describe(c)}")
        report.count(f"{name} compared")
        report.worst[name] = max(report.worst.get(name, 0.0), r_t)
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--convt", type=int, default=520)
    ap.add_argument("--conv3d", type=int, default=220)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(1)
    convt3d.set_num_threads(2)  # the library's threaded paths (results do not depend on it)
    # torch's own note on padding='same' with an even total padding (it pads a copy)
    warnings.filterwarnings("ignore", message="Using padding='same'")
    rng = random.Random(args.seed)
    rng_t = torch.Generator().manual_seed(args.seed)
    report = Report("test_grad_torch")
    report.worst = {}
    for op, want in (("convt", args.convt), ("conv3d", args.conv3d)):
        done = 0
        while done < want:
            c = rand_config(rng, op)
            if not check_config(report, c, rng_t):
                continue
            done += 1
            report.count(f"{op} configurations")
            tags = [("groups>1", c["groups"] > 1),
                    ("groups>1 with grad_weight", c["groups"] > 1 and c["requires"][1]),
                    ("kernel<stride", any(k < s for k, s in zip(c["k"], c["s"]))),
                    (f"grad_output {c['grad_layout']}", True),
                    ("unbatched", c["unbatched"]),
                    ("empty batch", not c["unbatched"] and c["n"] == 0),
                    ("non-contiguous input/weight", c["noncontig_inputs"]),
                    ("partial requires_grad", not all(c["requires"]))]
            for tag, on in tags:
                if on:
                    report.count(f"{op} {tag}")
    print("worst error / bound vs torch: " +
          ", ".join(f"{k} {v:.3g}" for k, v in report.worst.items()))
    return report.finish()


if __name__ == "__main__":
    raise SystemExit(main())
