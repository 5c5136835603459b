#!/usr/bin/python3
"""The README's Python examples run as written.

Every ```python block of README.md's "## Python" section runs in a fresh interpreter with
PYTHONPATH=python (and $CONVT3D_LIBRARY as the test environment sets it) and must exit 0.
The numpy example must print the shape and dtype its comment states; the training
example must print a loss that fell.
"""
import os
import re
import subprocess
import sys

from common import HERE, Report

REPO = os.path.normpath(os.path.join(HERE, "..", ".."))


def python_blocks():
    text = open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
    start = text.index("\n## Python\n")
    end = text.find("\n## ", start + 1)
    section = text[start:end if end >= 0 else len(text)]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def main():
    report = Report("test_readme")
    blocks = python_blocks()
    report.expect(len(blocks) >= 2, f"README's Python section has {len(blocks)} python blocks")
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"))
    for i, code in enumerate(blocks):
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, timeout=300, cwd=REPO)
        report.expect(r.returncode == 0, f"block {i + 1} exits {r.returncode}:\n{code}\n"
                                         f"{r.stdout}{r.stderr[-2000:]}")
        if "conv_transpose3d(x, w" in code:
            report.expect("(2, 8, 16, 16, 16) float32" in r.stdout,
                          f"numpy example printed {r.stdout!r}")
        losses = [float(v) for v in re.findall(r"loss (\d+\.\d+)", r.stdout)]
        if "loss.backward()" in code:
            report.expect(len(losses) == 2 and losses[1] < losses[0],
                          f"training example printed {r.stdout!r}")
            print(r.stdout.strip())
        report.count("README blocks run")
    return report.finish()


if __name__ == "__main__":
    raise SystemExit(main())
