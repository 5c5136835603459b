#!/usr/bin/python3
"""convt3d.ConvTranspose3d and convt3d.Conv3d against torch.nn's modules.

ConvTranspose3d: the same constructor arguments, parameters, initialisation, state_dict
and repr; forward(input, output_size=...) on random layers and requests (spatial sizes,
full sizes with batch and channels, torch.Size, lists; sizes in range, below, above, and
of the wrong length; batched and unbatched input): where torch returns, convt3d returns
the same shape and values (float64, within 1e-10 * M); where torch raises, convt3d raises
the same exception type with the same message. padding_mode other than 'zeros' is
refused as torch refuses it.

Conv3d: every padding_mode and padding ('same', 'valid', ints) against torch.nn.Conv3d,
forward and gradients in float64.
"""
import random
import warnings

from common import Report, convt3d, torch

F = torch.nn.functional


def rand_layer(rng):
    groups = rng.choice([1, 1, 2])
    kw = {"in_channels": groups * rng.randint(1, 2), "out_channels": groups * rng.randint(1, 2),
          "kernel_size": tuple(rng.randint(1, 3) for _ in range(3)),
          "stride": tuple(rng.randint(1, 3) for _ in range(3)),
          "padding": tuple(rng.randint(0, 1) for _ in range(3)),
          "dilation": tuple(rng.randint(1, 2) for _ in range(3)),
          "groups": groups, "bias": rng.random() < 0.7}
    kw["output_padding"] = tuple(rng.randint(0, max(s, d) - 1)
                                 for s, d in zip(kw["stride"], kw["dilation"]))
    if rng.random() < 0.3:  # ints rather than triples
        for key in ("kernel_size", "stride", "padding", "dilation"):
            kw[key] = kw[key][0]
        kw["output_padding"] = 0
    return kw


def pair(kw, dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    t = torch.nn.ConvTranspose3d(**kw, dtype=dtype)
    torch.manual_seed(seed)
    c = convt3d.ConvTranspose3d(**kw, dtype=dtype)
    return t, c


def outcome(fn):
    try:
        return "ok", fn()
    except Exception as e:  # noqa: BLE001 - the type is what is compared
        return type(e), str(e)


def min_sizes(layer, x):
    spatial = x.shape[-3:]
    return [(spatial[a] - 1) * layer.stride[a] - 2 * layer.padding[a] +
            layer.dilation[a] * (layer.kernel_size[a] - 1) + 1 for a in range(3)]


def requests(rng, layer, x):
    """output_size requests: in range, out of range, full sizes, wrong lengths."""
    lo = min_sizes(layer, x)
    hi = [m + s - 1 for m, s in zip(lo, layer.stride)]
    inside = [rng.randint(a, b) for a, b in zip(lo, hi)]
    out = [None, list(inside), tuple(inside), torch.Size(inside), list(lo), list(hi)]
    lead = [x.shape[0], layer.out_channels] if x.dim() == 5 else [layer.out_channels]
    out.append(lead + inside)                       # full size: batch, channels, spatial
    bad = list(inside)
    ax = rng.randrange(3)
    bad[ax] = hi[ax] + rng.randint(1, 2)             # above the range
    out.append(bad)
    bad = list(inside)
    bad[ax] = lo[ax] - rng.randint(1, 2)             # below the range
    out.append(bad)
    out.append(inside[:2])                           # wrong length
    out.append(inside + [1, 1, 1])
    return out


def check_output_size(report, rng):
    for _ in range(60):
        kw = rand_layer(rng)
        t, c = pair(kw)
        unbatched = rng.random() < 0.3
        shape = ([] if unbatched else [rng.randint(1, 2)]) + [kw["in_channels"]] + \
            [rng.randint(1, 4) for _ in range(3)]
        x = torch.randn(shape, dtype=torch.float64)
        for req in requests(rng, t, x):
            got_t = outcome(lambda: t(x, output_size=req))
            got_c = outcome(lambda: c(x, output_size=req))
            report.count("output_size requests")
            if got_t[0] == "ok":
                report.count("output_size accepted")
                y_t, y_c = got_t[1].detach(), got_c[1] if got_c[0] == "ok" else None
                if not report.expect(y_c is not None, f"torch accepts output_size={req} "
                                     f"for {kw} x{shape}, convt3d raises {got_c}"):
                    continue
                y_c = y_c.detach()
                mag = F.conv_transpose3d(x.abs(), t.weight.detach().abs(),
                                         None if t.bias is None else t.bias.detach().abs(),
                                         t.stride, t.padding,
                                         t._output_padding(x, req, t.stride, t.padding,
                                                           t.kernel_size, 3, t.dilation),
                                         t.groups, t.dilation)
                report.expect(y_c.shape == y_t.shape and
                              bool(((y_c - y_t).abs() <= 1e-10 * mag).all()),
                              f"output_size={req} for {kw} x{shape}: shape {tuple(y_c.shape)} "
                              f"vs {tuple(y_t.shape)} or values differ")
            elif got_t[0] is RuntimeError:
                # the request passed torch's output_size rules but the layer's output is
                # empty: F.conv_transpose3d raises RuntimeError, convt3d ValueError with
                # the library's message (the binding's contract for rejected shapes)
                report.count("output_size passing torch's rules, output empty")
                report.expect(got_c[0] is ValueError and "output size of" in got_c[1],
                              f"output_size={req} for {kw} x{shape}: torch raises "
                              f"RuntimeError: {got_t[1]!r}; convt3d {got_c}")
            else:
                # torch's own output_size rules (its _output_padding, which convt3d's
                # module reuses): the same exception, the same message
                report.count(f"output_size rejected by the module ({got_t[0].__name__})")
                report.expect(got_c[0] is got_t[0] and got_c[1] == got_t[1],
                              f"output_size={req} for {kw} x{shape}: torch raises "
                              f"{got_t[0].__name__}: {got_t[1]!r}; convt3d {got_c}")


def check_odd_inputs(report):
    """output_size with inputs of the wrong rank: whatever torch's module raises."""
    t, c = pair(dict(in_channels=2, out_channels=2, kernel_size=2, stride=2))
    for shape in ((2, 3, 3), (2, 2, 3, 3, 3, 3), (2, 2)):
        x = torch.randn(shape, dtype=torch.float64)
        for req in ((6, 6, 6), None):
            got_t, got_c = outcome(lambda: t(x, output_size=req)), outcome(lambda: c(x, output_size=req))
            if got_t[0] is RuntimeError:  # the operator's rank check: ValueError here
                ok = got_c[0] is ValueError
            else:
                ok = got_c == got_t
            report.expect(ok, f"input {shape}, output_size={req}: torch {got_t}, convt3d {got_c}")
            report.count("wrong-rank inputs")


def check_module_contract(report):
    kw = dict(in_channels=4, out_channels=6, kernel_size=(3, 2, 1), stride=2, padding=1,
              output_padding=(1, 0, 0), groups=2, bias=True, dilation=1)
    t, c = pair(kw, dtype=torch.float32, seed=3)
    report.expect(isinstance(c, torch.nn.ConvTranspose3d), "not an nn.ConvTranspose3d")
    report.expect(repr(c) == repr(t), f"repr {c!r} vs {t!r}")
    st, sc = t.state_dict(), c.state_dict()
    report.expect(st.keys() == sc.keys() and all(torch.equal(st[k], sc[k]) for k in st),
                  "different initial parameters from the same seed")
    report.expect(c.weight.shape == (4, 3, 3, 2, 1) and c.bias.shape == (6,),
                  f"parameter shapes {c.weight.shape}, {c.bias.shape}")
    # a torch state_dict loads into convt3d's module and the outputs agree
    t2 = torch.nn.ConvTranspose3d(**kw)
    c.load_state_dict(t2.state_dict())
    x = torch.randn(2, 4, 3, 4, 5)
    report.expect(torch.allclose(c(x), t2(x), rtol=1e-5, atol=1e-5),
                  "outputs differ after load_state_dict")
    # float64 and the device argument
    c64 = convt3d.ConvTranspose3d(2, 2, 3, dtype=torch.float64, device="cpu")
    report.expect(c64(torch.randn(1, 2, 2, 2, 2, dtype=torch.float64)).dtype == torch.float64,
                  "float64 module does not give float64")
    # padding_mode: refused by the constructor, like torch; and at forward if changed later
    for mode in ("reflect", "replicate", "circular", "bogus"):
        got_t = outcome(lambda: torch.nn.ConvTranspose3d(2, 2, 3, padding_mode=mode))
        got_c = outcome(lambda: convt3d.ConvTranspose3d(2, 2, 3, padding_mode=mode))
        report.expect(got_t[0] is ValueError and got_c[0] is got_t[0] and got_c[1] == got_t[1],
                      f"padding_mode={mode!r}: torch {got_t}, convt3d {got_c}")
    t3, c3 = pair(dict(in_channels=2, out_channels=2, kernel_size=3))
    t3.padding_mode = c3.padding_mode = "reflect"
    x = torch.randn(1, 2, 2, 2, 2, dtype=torch.float64)
    got_t, got_c = outcome(lambda: t3(x)), outcome(lambda: c3(x))
    report.expect(got_t[0] is ValueError and got_c == got_t,
                  f"forward with padding_mode changed: torch {got_t}, convt3d {got_c}")
    # a half-precision module: a TypeError naming the dtype
    h = convt3d.ConvTranspose3d(2, 2, 3).half()
    report.raises(TypeError, lambda: h(torch.randn(1, 2, 2, 2, 2).half()),
                  "float16 module", match="float16")
    # gradients reach the module's parameters
    t4, c4 = pair(kw, seed=5)
    x = torch.randn(2, 4, 3, 4, 5, dtype=torch.float64)
    g = torch.randn_like(t4(x))
    t4(x).backward(g)
    c4(x).backward(g)
    for name in ("weight", "bias"):
        a, b = getattr(c4, name).grad, getattr(t4, name).grad
        report.expect(a is not None and torch.allclose(a, b, rtol=1e-10, atol=1e-10),
                      f"module {name}.grad differs from torch's")


def check_conv3d_module(report, rng):
    warnings.filterwarnings("ignore", message="Using padding='same'")
    n = 0
    for mode in ("zeros", "reflect", "replicate", "circular"):
        for padding in (0, 1, (1, 0, 2), "valid", "same"):
            for _ in range(3):
                groups = rng.choice([1, 2])
                k = tuple(rng.randint(1, 3) for _ in range(3))
                stride = 1 if padding == "same" else rng.choice([1, 2])
                dil = rng.choice([1, 2]) if padding == "same" else 1
                kw = dict(in_channels=2 * groups, out_channels=groups * rng.randint(1, 2),
                          kernel_size=k, stride=stride, padding=padding, dilation=dil,
                          groups=groups, bias=rng.random() < 0.7, padding_mode=mode,
                          dtype=torch.float64)
                torch.manual_seed(n)
                t = torch.nn.Conv3d(**kw)
                torch.manual_seed(n)
                c = convt3d.Conv3d(**kw)
                x = torch.randn(2, kw["in_channels"], 5, 4, 6, dtype=torch.float64,
                                requires_grad=True)
                xc = x.detach().clone().requires_grad_(True)
                try:
                    y_t = t(x)
                except (RuntimeError, ValueError, NotImplementedError) as e:
                    # (torch cannot pad some of these, e.g. reflect wider than the input)
                    report.count("Conv3d configurations torch rejects")
                    report.expect(outcome(lambda: c(xc))[0] in (type(e), ValueError),
                                  f"Conv3d {kw}: torch raises {e!r}, convt3d does not")
                    continue
                y_c = c(xc)
                g = torch.randn_like(y_t)
                y_t.backward(g)
                y_c.backward(g)
                ok = y_c.shape == y_t.shape and torch.allclose(y_c, y_t, rtol=1e-10, atol=1e-10)
                ok = ok and torch.allclose(xc.grad, x.grad, rtol=1e-10, atol=1e-10)
                ok = ok and torch.allclose(c.weight.grad, t.weight.grad, rtol=1e-10, atol=1e-10)
                if kw["bias"]:
                    ok = ok and torch.allclose(c.bias.grad, t.bias.grad, rtol=1e-10, atol=1e-10)
                report.expect(ok, f"Conv3d {kw}: output or gradients differ from torch's")
                report.count("Conv3d module configurations")
                n += 1


def main():
    torch.set_num_threads(1)
    rng = random.Random(4)
    report = Report("test_module")
    check_output_size(report, rng)
    check_odd_inputs(report)
    check_module_contract(report)
    check_conv3d_module(report, rng)
    return report.finish()


if __name__ == "__main__":
    raise SystemExit(main())
