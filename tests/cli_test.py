#!/usr/bin/python3
"""Tests of the `convt3d` command line: option parsing, exit codes, --output-size, file
errors, atomic output (write errors, kill -9 mid-write, impossible outputs), demo and info.
Needs numpy; the --output-size cases are compared with torch's nn.ConvTranspose3d when
torch is installed.

Usage: cli_test.py path/to/convt3d
"""
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError as e:
    print(f"cli_test: skipped, {e}")
    sys.exit(77)
try:
    import torch
except ImportError:
    torch = None

CLI = sys.argv[1]
passed = failed = 0


def expect(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)


def run(*args):
    r = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout, r.stderr


def same_file(path, data):
    with open(path, "rb") as f:
        return f.read() == data


def hostile(tmp, rng):
    """Write failures, impossible outputs and a killed writer: never a partial file."""
    p = lambda name: os.path.join(tmp, name)
    x = rng.standard_normal((1, 8, 16, 16, 16)).astype(np.float32)
    w = rng.standard_normal((8, 8, 2, 2, 2)).astype(np.float32)
    np.save(p("hx.npy"), x), np.save(p("hw.npy"), w)
    np.save(p("old.npy"), np.zeros(3, np.float32))
    with open(p("old.npy"), "rb") as f:
        old = f.read()
    args = ["run", "--input", p("hx.npy"), "--weight", p("hw.npy"), "--stride", "2"]

    # The file-size limit (ulimit -f 100 blocks) stops the 1 MiB output mid-write.
    limited = subprocess.run(["sh", "-c", 'ulimit -f 100 && exec "$@"', "sh", CLI, *args,
                              "--output", p("old.npy")], capture_output=True, text=True,
                             timeout=120)
    expect(limited.returncode == 1 and "File too large" in limited.stderr and
           same_file(p("old.npy"), old) and not [f for f in os.listdir(tmp) if ".tmp" in f],
           f"ulimit -f: exit {limited.returncode}, {limited.stderr!r}; old file kept, "
           f"no temporary file")

    # A legal problem whose output (4 TB) cannot be allocated: exit 1, a message, no file.
    np.save(p("tx.npy"), np.ones((1, 1, 2, 2, 2), np.float32))
    np.save(p("tw.npy"), np.ones((1, 1, 1, 1, 1), np.float32))
    code, _, err = run("run", "--input", p("tx.npy"), "--weight", p("tw.npy"), "--stride",
                       "10000", "--output", p("huge.npy"))
    expect(code == 1 and "cannot allocate" in err and not os.path.exists(p("huge.npy")),
           f"4 TB output: exit {code}, {err!r}")

    # kill -9 at random moments of a run that writes 16 MiB over an existing file: the
    # file is always the old one or the complete new one.
    big = rng.standard_normal((1, 32, 16, 32, 32)).astype(np.float32)
    np.save(p("bx.npy"), big)
    np.save(p("bw.npy"), rng.standard_normal((32, 16, 2, 2, 2)).astype(np.float32))
    kill_args = ["run", "--input", p("bx.npy"), "--weight", p("bw.npy"), "--stride", "2",
                 "--output", p("old.npy")]
    code, _, err = run(*kill_args)
    with open(p("old.npy"), "rb") as f:
        new = f.read()
    np.save(p("old.npy"), np.zeros(3, np.float32))
    outcomes = {"old": 0, "new": 0}
    for i in range(12):
        proc = subprocess.Popen([CLI, *kill_args], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=float(rng.uniform(0.0, 0.1)))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        with open(p("old.npy"), "rb") as f:
            now = f.read()
        kind = "old" if now == old else "new" if now == new else None
        expect(kind is not None, f"kill -9 #{i}: the output is neither the old nor the new file")
        if kind:
            outcomes[kind] += 1
        for f in os.listdir(tmp):  # what a killed writer leaves: its temporary file only
            if ".tmp." in f:
                os.remove(p(f))
        np.save(p("old.npy"), np.zeros(3, np.float32))
    expect(code == 0, f"the run to kill: exit {code} {err}")
    print(f"cli_test: kill -9 outcomes {outcomes}")


def main():
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        p = lambda name: os.path.join(tmp, name)
        x = rng.standard_normal((2, 4, 3, 4, 5)).astype(np.float32)
        w = rng.standard_normal((4, 3, 3, 3, 3)).astype(np.float32)
        b = rng.standard_normal(3).astype(np.float32)
        np.save(p("x.npy"), x), np.save(p("w.npy"), w), np.save(p("b.npy"), b)
        base = ["run", "--input", p("x.npy"), "--weight", p("w.npy")]

        # help, usage errors
        code, out, _ = run("run", "--help")
        expect(code == 0 and "--output-size" in out, "run --help")
        code, out, _ = run("--help")
        expect(code == 0 and "demo" in out, "--help")
        for args, why in [(["frobnicate"], "unknown command"),
                          (base + ["--output", p("y.npy"), "--bogus", "1"], "unknown option"),
                          (base, "missing --output"),
                          (base + ["--output", p("y.npy"), "--stride"], "missing value"),
                          (base + ["--output", p("y.npy"), "--stride", "2,1"], "two values"),
                          (base + ["--output", p("y.npy"), "--stride", "x"], "not a number"),
                          (base + ["--output", p("y.npy"), "--stride", "2,,1"], "empty value"),
                          (base + ["--output", p("y.npy"), "--stride", "99999999999999999999"],
                           "beyond int64"),
                          (base + ["--output", p("y.npy"), "--groups", "1.5"], "groups float"),
                          (base + ["--output", p("y.npy"), "--stride", "1", "--stride", "2"],
                           "given twice"),
                          (base + ["--output", p("y.npy"), "--output-size", "5,6,7",
                                   "--output-padding", "0"], "exclusive options"),
                          (base + ["--output", p("y.npy"), "--output-size", "5"],
                           "--output-size needs three values")]:
            code, _, err = run(*args)
            expect(code == 2 and err.strip() and not os.path.exists(p("y.npy")),
                   f"{why}: exit {code}, stderr {err!r}")

        # a plain run, both option spellings, and an unbatched input
        code, _, err = run(*base, "--bias", p("b.npy"), "--stride=2", "--padding", "1,0,1",
                           "--output", p("y.npy"))
        y = np.load(p("y.npy")) if code == 0 else None
        expect(code == 0 and y.shape == (2, 3, 5, 9, 9) and y.dtype == np.float32,
               f"plain run: exit {code} {err}")
        if torch is not None and y is not None:
            ref = torch.nn.functional.conv_transpose3d(
                torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride=2,
                padding=(1, 0, 1)).numpy()
            expect(np.allclose(y, ref, rtol=1e-5, atol=1e-5), "plain run matches torch")
        if os.path.exists(p("y.npy")):
            os.remove(p("y.npy"))  # the failure cases below must not create it
        np.save(p("xu.npy"), x[0])
        code, _, _ = run("run", "--input", p("xu.npy"), "--weight", p("w.npy"), "--output",
                         p("yu.npy"))
        expect(code == 0 and np.load(p("yu.npy")).shape == (3, 5, 6, 7), "unbatched run")
        np.save(p("x0.npy"), x[:0])
        code, _, _ = run("run", "--input", p("x0.npy"), "--weight", p("w.npy"), "--output",
                         p("y0.npy"))
        expect(code == 0 and np.load(p("y0.npy")).shape == (0, 3, 5, 6, 7), "zero batch run")

        # --output-size, as nn.ConvTranspose3d.forward(x, output_size=...)
        for size, stride, ok in [((7, 9, 11), 2, True), ((8, 10, 12), 2, True),
                                 ((9, 9, 11), 2, False), ((6, 9, 11), 2, False),
                                 ((5, 6, 7), 1, True), ((5, 6, 8), 1, False)]:
            code, _, err = run(*base, "--stride", str(stride), "--output-size",
                               ",".join(map(str, size)), "--output", p("ys.npy"))
            got = np.load(p("ys.npy")) if code == 0 else None
            expect((code == 0) == ok and (not ok or got.shape[2:] == size),
                   f"--output-size {size} stride {stride}: exit {code} {err}")
            if not ok:
                expect("valid sizes" in err, f"--output-size message names the range: {err}")
            if torch is not None:
                m = torch.nn.ConvTranspose3d(4, 3, 3, stride=stride, bias=False)
                with torch.no_grad():
                    m.weight.copy_(torch.from_numpy(w))
                    try:
                        ref = m(torch.from_numpy(x), output_size=list(size)).numpy()
                    except ValueError:
                        ref = None
                expect((ref is None) == (not ok), f"torch agrees on --output-size {size}")
                if ref is not None and got is not None:
                    expect(np.allclose(got, ref, rtol=1e-5, atol=1e-5),
                           f"--output-size {size} values match torch")
            if os.path.exists(p("ys.npy")):
                os.remove(p("ys.npy"))

        # rejected problems: exit 2, no output, and an existing output left alone
        with open(p("keep.npy"), "wb") as f:
            f.write(b"old contents")
        code, _, err = run(*base, "--groups", "3", "--output", p("keep.npy"))
        expect(code == 2 and "groups" in err, f"groups=3 rejected: exit {code} {err}")
        expect(open(p("keep.npy"), "rb").read() == b"old contents", "failed run keeps old file")
        np.save(p("w64.npy"), w.astype(np.float64))
        code, _, err = run("run", "--input", p("x.npy"), "--weight", p("w64.npy"), "--output",
                           p("y.npy"))
        expect(code == 2 and "float64" in err, f"dtype mismatch: exit {code} {err}")

        # files that cannot be used: exit 1 and no output
        with open(p("bad.npy"), "wb") as f:
            f.write(b"\x93NUMPY\x01\x00garbage")
        np.save(p("int.npy"), np.zeros((1, 4, 1, 1, 1), dtype=np.int32))
        np.save(p("fortran.npy"), np.asfortranarray(x))
        np.save(p("big_endian.npy"), x.astype(">f4"))
        for name in ("missing.npy", "bad.npy", "int.npy", "fortran.npy", "big_endian.npy"):
            code, _, err = run("run", "--input", p(name), "--weight", p("w.npy"), "--output",
                               p("y.npy"))
            expect(code == 1 and err.strip() and not os.path.exists(p("y.npy")),
                   f"{name}: exit {code} {err!r}")
        code, _, err = run(*base, "--output", p("no/such/dir/y.npy"))
        expect(code == 1 and err.strip(), f"unwritable output: exit {code} {err}")
        expect(not [f for f in os.listdir(tmp) if ".tmp" in f], "no temporary files left")
        hostile(tmp, rng)

    code, out, _ = run("demo")
    expect(code == 0 and "(20, 33, 52, 12, 22)" in out and "GFLOP/s" in out, f"demo: {out}")
    # a descriptor from a failure message replays that problem, checked on every element
    code, out, err = run("demo", "--problem",
                         "f32_nb_ic6_oc4_g2_i3x4x5_k1x2x3_s3x2x1_p0x1x2_op2x1x0_d1x2x3_bias",
                         "--check")
    expect(code == 0 and "(4, 9, 8, 7)" in out and "check:" in out, f"demo --problem: {out}{err}")
    code, _, err = run("demo", "--problem", "f32_mb1_ic2")
    expect(code == 2 and "expected" in err, f"demo with a malformed descriptor: {code} {err}")
    code, _, err = run("demo", "--problem",
                       "f32_mb1_ic2_oc3_g1_i2x2x2_k1x1x1_s1x1x1_p0x0x0_op1x1x1_d1x1x1_bias")
    expect(code == 2 and "output_padding" in err, f"demo with a rejected problem: {code} {err}")
    code, out, _ = run("info")
    expect(code == 0 and "convt3d" in out and "threads" in out, f"info: {out}")
    # CONVT3D_ISA caps the instruction set of new plans (the CPU may have less)
    for isa in ("scalar", "avx2"):
        r = subprocess.run([CLI, "info"], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "CONVT3D_ISA": isa})
        line = [l for l in r.stdout.splitlines() if l.startswith("isa in use:")]
        expect(r.returncode == 0 and line and (line[0].endswith(isa) or
                                               line[0].endswith("scalar")),
               f"CONVT3D_ISA={isa}: {line}")
    print(f"cli_test: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
