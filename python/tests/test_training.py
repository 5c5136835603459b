#!/usr/bin/python3
"""A small 3-D U-Net-style decoder trained for 20 SGD steps, with torch's
nn.ConvTranspose3d and with convt3d.ConvTranspose3d, from identical initial weights.

The decoder: a bottleneck (2, 16, 4, 4, 4) and two fixed "encoder" skip tensors;
    up1   ConvTranspose3d(16, 8, k=2, s=2)            -> (2, 8, 8, 8, 8), ReLU,
          concatenated with skip1                     -> 16 channels
    conv1 ConvTranspose3d(16, 8, k=3, s=1, p=1)       -> ReLU
    up2   ConvTranspose3d(8, 4, k=2, s=2)             -> (2, 4, 16, 16, 16), ReLU,
          concatenated with skip2                     -> 8 channels
    conv2 ConvTranspose3d(8, 4, k=3, p=1, groups=2)   -> ReLU
    head  ConvTranspose3d(4, 1, k=1)                  -> (2, 1, 16, 16, 16)
trained with MSE towards the output of a "teacher" decoder with other weights (a target
the student can approach, so the loss falls by an order of magnitude), SGD with lr 0.05
and momentum 0.9: a stable, non-chaotic descent, so rounding differences stay small
instead of being amplified.

Runs: torch float32, convt3d float32, torch float64 (the exact reference), convt3d
float64, all from the same float32 initial weights.

Tolerance. float32 loss curves must agree to rtol = 2 * sqrt(K) * 2^-24 with K = 8192,
the longest reduction in the network (grad_weight of the 16^3 layers sums 2 * 16^3
products per element): about 1.07e-5 relative to the float64 loss. Why this and not the
worst-case gamma(K) = 4.9e-4 of common.py: rounding errors of a long sum behave like a
random walk, growing as sqrt(K) * u (Higham, Accuracy and Stability, 2.8), and the
stable descent does not amplify them; the factor 2 covers two float32 implementations
(each within sqrt(K) * u of exact). Checked: |convt3d32 - torch32| and
|convt3d32 - torch64| at every step, each <= rtol * |torch64|; the final weights within
rtol * max|w| of torch32's. float64: convt3d and torch agree to 1e-10 relative at every
step (the forward bound of docs/testing.md). And the loss must fall to below 1/5 of its
start, so the comparison is of a real training run.
"""
import math

from common import Report, convt3d, torch

STEPS = 20
K_MAX = 2 * 16 ** 3
RTOL32 = 2 * math.sqrt(K_MAX) * 2.0 ** -24
RTOL64 = 1e-10


def build(module, seed):
    torch.manual_seed(seed)  # the modules' own initialisation, reproducible
    return torch.nn.ModuleDict({
        "up1": module(16, 8, 2, stride=2),
        "conv1": module(16, 8, 3, padding=1),
        "up2": module(8, 4, 2, stride=2),
        "conv2": module(8, 4, 3, padding=1, groups=2),
        "head": module(4, 1, 1),
    })


def decode(m, bottleneck, skip1, skip2):
    relu = torch.relu
    h = relu(m["conv1"](torch.cat([relu(m["up1"](bottleneck)), skip1], 1)))
    h = relu(m["conv2"](torch.cat([relu(m["up2"](h)), skip2], 1)))
    return m["head"](h)


def data():
    g = torch.Generator().manual_seed(1)
    bottleneck = torch.randn(2, 16, 4, 4, 4, generator=g)
    skip1 = torch.randn(2, 8, 8, 8, 8, generator=g)
    skip2 = torch.randn(2, 4, 16, 16, 16, generator=g)
    teacher = build(torch.nn.ConvTranspose3d, seed=7).double()
    with torch.no_grad():
        for p in teacher.parameters():
            p.mul_(1.5)
        target = decode(teacher, bottleneck.double(), skip1.double(), skip2.double())
    return (bottleneck, skip1, skip2), target.float()


def train(module, dtype, init, inputs, target):
    m = build(module, seed=0)
    m.load_state_dict(init)
    m.to(dtype)
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    inputs = [t.to(dtype) for t in inputs]
    target = target.to(dtype)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(decode(m, *inputs), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, {k: v.detach().double() for k, v in m.state_dict().items()}


def main():
    torch.set_num_threads(1)
    report = Report("test_training")
    inputs, target = data()
    init = build(torch.nn.ConvTranspose3d, seed=0).state_dict()
    # convt3d's module builds the same parameters from the same seed; the state_dict
    # carries them either way
    same_init = build(convt3d.ConvTranspose3d, seed=0).state_dict()
    report.expect(all(torch.equal(init[k], same_init[k]) for k in init) and
                  init.keys() == same_init.keys(),
                  "convt3d.ConvTranspose3d initialises differently from torch's")
    l_t32, w_t32 = train(torch.nn.ConvTranspose3d, torch.float32, init, inputs, target)
    l_c32, w_c32 = train(convt3d.ConvTranspose3d, torch.float32, init, inputs, target)
    l_t64, _ = train(torch.nn.ConvTranspose3d, torch.float64, init, inputs, target)
    l_c64, _ = train(convt3d.ConvTranspose3d, torch.float64, init, inputs, target)

    print(f"float32 rtol {RTOL32:.3g}; step: torch32 convt3d32 torch64 "
          "|c32-t32|/t64 |c32-t64|/t64 |c64-t64|/t64")
    worst = [0.0, 0.0, 0.0]
    for step, (t32, c32, t64, c64) in enumerate(zip(l_t32, l_c32, l_t64, l_c64)):
        rel = [abs(c32 - t32) / abs(t64), abs(c32 - t64) / abs(t64), abs(c64 - t64) / abs(t64)]
        worst = [max(a, b) for a, b in zip(worst, rel)]
        print(f"{step:2d}: {t32:.8f} {c32:.8f} {t64:.10f} {rel[0]:.2e} {rel[1]:.2e} "
              f"{rel[2]:.2e}")
        ok = all(math.isfinite(v) for v in (t32, c32, t64, c64))
        report.expect(ok and rel[0] <= RTOL32, f"step {step}: convt3d float32 loss {c32} vs "
                      f"torch float32 {t32}: relative {rel[0]:.3g} > {RTOL32:.3g}")
        report.expect(ok and rel[1] <= RTOL32, f"step {step}: convt3d float32 loss {c32} vs "
                      f"float64 {t64}: relative {rel[1]:.3g} > {RTOL32:.3g}")
        report.expect(ok and rel[2] <= RTOL64, f"step {step}: convt3d float64 loss {c64} vs "
                      f"torch float64 {t64}: relative {rel[2]:.3g} > {RTOL64:.3g}")
    report.expect(l_t64[-1] < l_t64[0] / 5, f"the loss did not fall enough ({l_t64[0]} -> "
                  f"{l_t64[-1]}): the comparison would not be of real training")
    for name in w_t32:
        scale = float(w_t32[name].abs().max())
        diff = float((w_c32[name] - w_t32[name]).abs().max())
        report.expect(diff <= RTOL32 * scale, f"final {name}: max difference {diff:.3g} > "
                      f"{RTOL32:.3g} * {scale:.3g}")
    print(f"worst relative loss difference: convt3d32 vs torch32 {worst[0]:.3g}, vs "
          f"float64 {worst[1]:.3g}; convt3d64 vs torch64 {worst[2]:.3g}")
    report.count("training runs", 4)
    report.count("steps each", STEPS)
    return report.finish()


if __name__ == "__main__":
    raise SystemExit(main())
