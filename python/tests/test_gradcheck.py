#!/usr/bin/python3
"""torch.autograd.gradcheck (float64) through convt3d's autograd Functions.

gradcheck compares the analytical Jacobian (our backward passes) with finite differences
of our forward pass, for every input that requires grad. Random configurations cover
groups (depthwise included), dilation, output_padding, padding up to beyond the kernel's
reach, a kernel smaller than the stride, unbatched input, an empty batch, bias or not,
non-contiguous inputs, and only some inputs requiring grad; the conv3d ones also
'same'/'valid' padding. Small problems get the full Jacobian; larger ones gradcheck's
fast mode (random projections of it), so the whole run stays short.

Also checks that double backward is refused with a clear error (once_differentiable).

Usage: test_gradcheck.py [--convt N] [--conv3d N] [--seed S]  (defaults 120, 40, 2)
"""
import argparse
import random
import warnings

from common import Report, convt3d, torch

FULL_JACOBIAN_LIMIT = 40_000  # (inputs numel) x (output numel) up to which the full
# Jacobian is checked


def rand_config(rng, op):
    groups = rng.choice([1, 1, 2, 3])
    depthwise = groups > 1 and rng.random() < 0.3
    c = {"op": op, "groups": groups, "cin_g": 1 if depthwise else rng.randint(1, 2),
         "cout_g": rng.randint(1, 2), "n": rng.choice([0, 1, 1, 2]),
         "unbatched": rng.random() < 0.2, "bias": rng.random() < 0.5,
         "noncontig": rng.random() < 0.15, "requires": [True, True, True],
         "k": [], "s": [], "d": [], "p": [], "op_pad": [], "in": [], "pad_str": None}
    if rng.random() < 0.2:
        c["requires"] = [rng.random() < 0.5, rng.random() < 0.5, True]
    small = rng.random() < 0.3
    for a in range(3):
        k, s, d = rng.randint(1, 3), rng.randint(1, 3), rng.randint(1, 2)
        if small and a == 0:
            k, s, d = 1, rng.randint(2, 3), 1  # kernel smaller than the stride
        c["k"].append(k), c["s"].append(s), c["d"].append(d)
        c["p"].append(rng.randint(0, d * (k - 1) + 1))
        c["op_pad"].append(rng.randint(0, max(s, d) - 1) if op == "convt" else 0)
        c["in"].append(rng.randint(1, 3) if op == "convt" else rng.randint(1, 3) + d * (k - 1))
    if op == "conv3d" and rng.random() < 0.25:
        c["pad_str"] = rng.choice(["same", "valid"])
        if c["pad_str"] == "same":
            c["s"] = [1, 1, 1]
    return c


def describe(c):
    keys = ("op", "n", "unbatched", "cin_g", "cout_g", "groups", "in", "k", "s", "p",
            "op_pad", "d", "bias", "requires", "noncontig", "pad_str")
    return " ".join(f"{k}={c[k]}" for k in keys)


def make(c, gen):
    cin, cout = c["cin_g"] * c["groups"], c["cout_g"] * c["groups"]
    xs = ([] if c["unbatched"] else [c["n"]]) + [cin] + c["in"]
    ws = ([cin, c["cout_g"]] if c["op"] == "convt" else [cout, c["cin_g"]]) + c["k"]

    def t(shape):
        if c["noncontig"]:  # a strided view, made a leaf with its strides
            big = torch.randn(shape[:-1] + [2 * shape[-1]], generator=gen, dtype=torch.float64)
            return big[..., ::2].detach()
        return torch.randn(shape, generator=gen, dtype=torch.float64)
    x, w = t(xs), t(ws)
    b = torch.randn([cout], generator=gen, dtype=torch.float64) if c["bias"] else None
    return x, w, b


def fn_of(c):
    if c["op"] == "convt":
        return lambda x, w, b: convt3d.conv_transpose3d(
            x, w, b, stride=c["s"], padding=c["p"], output_padding=c["op_pad"],
            groups=c["groups"], dilation=c["d"])
    pad = c["pad_str"] or c["p"]
    return lambda x, w, b: convt3d.conv3d(x, w, b, stride=c["s"], padding=pad,
                                          dilation=c["d"], groups=c["groups"])


def torch_fn_of(c):
    F = torch.nn.functional
    if c["op"] == "convt":
        return lambda x, w, b: F.conv_transpose3d(
            x, w, b, stride=c["s"], padding=c["p"], output_padding=c["op_pad"],
            groups=c["groups"], dilation=c["d"])
    pad = c["pad_str"] or c["p"]
    return lambda x, w, b: F.conv3d(x, w, b, stride=c["s"], padding=pad, dilation=c["d"],
                                    groups=c["groups"])


def valid(c, x, w, b):
    """torch's verdict, judged with a batch of at least 1."""
    if x.dim() == 5 and x.shape[0] == 0:
        x = torch.zeros((1,) + tuple(x.shape[1:]), dtype=x.dtype)
    try:
        return torch_fn_of(c)(x, w, b)
    except (RuntimeError, ValueError):
        return None


def check_one(report, c, gen):
    x, w, b = make(c, gen)
    y = valid(c, x, w, b)
    if y is None:
        return False
    req = c["requires"]
    x.requires_grad_(req[0])
    w.requires_grad_(req[1])
    if b is not None:
        b.requires_grad_(req[2])
    if not (req[0] or req[1] or (b is not None and req[2])):
        x.requires_grad_(True)
    fn = fn_of(c)
    n_in = sum(t.numel() for t in (x, w, b) if t is not None and t.requires_grad)
    fast = n_in * y.numel() > FULL_JACOBIAN_LIMIT
    try:
        ok = torch.autograd.gradcheck(fn, (x, w, b), eps=1e-6, atol=1e-7, rtol=1e-5,
                                      fast_mode=fast)
        report.expect(ok, f"gradcheck returned {ok}: {describe(c)}")
    except Exception as e:  # noqa: BLE001 - gradcheck raises GradcheckError on mismatch
        report.expect(False, f"gradcheck: {type(e).__name__}: {str(e)[:600]} for {describe(c)}")
    report.count(f"{c['op']} configurations")
    report.count(f"{c['op']} {'fast' if fast else 'full'} Jacobian")
    for tag, on in (("groups>1", c["groups"] > 1), ("dilation>1", max(c["d"]) > 1),
                    ("output_padding>0", max(c["op_pad"]) > 0),
                    ("kernel<stride", any(k < s for k, s in zip(c["k"], c["s"]))),
                    ("unbatched", c["unbatched"]),
                    ("empty batch", not c["unbatched"] and c["n"] == 0),
                    ("bias", c["bias"]), ("no bias", not c["bias"]),
                    ("non-contiguous", c["noncontig"]),
                    ("partial requires_grad", not all(c["requires"])),
                    ("padding string", c["pad_str"] is not None)):
        if on:
            report.count(f"{c['op']} {tag}")
    return True


def check_double_backward(report):
    """Differentiating a gradient again must fail loudly, not silently give zeros."""
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(1, 2, 3, 3, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    w = torch.randn(2, 2, 2, 2, 2, dtype=torch.float64, generator=gen, requires_grad=True)
    for name, fn in (("conv_transpose3d", lambda: convt3d.conv_transpose3d(x, w, stride=2)),
                     ("conv3d", lambda: convt3d.conv3d(x, w))):
        def attempt():
            y = fn()
            (gx,) = torch.autograd.grad((y * y).sum(), x, create_graph=True)
            gx.sum().backward()
        report.raises(RuntimeError, attempt, f"{name} double backward",
                      match="differentiate twice")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--convt", type=int, default=120)
    ap.add_argument("--conv3d", type=int, default=40)
    ap.add_argument("--seed", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", message="Using padding='same'")
    rng = random.Random(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    report = Report("test_gradcheck")
    for op, want in (("convt", args.convt), ("conv3d", args.conv3d)):
        done = 0
        while done < want:
            if check_one(report, rand_config(rng, op), gen):
                done += 1
    check_double_backward(report)
    return report.finish()


if __name__ == "__main__":
    raise SystemExit(main())
