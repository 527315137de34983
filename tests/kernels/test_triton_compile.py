"""The Triton kernels compile for Hopper (sm_90) ahead of time, with no GPU: the interpreter runs the
kernels' Python, this runs Triton's real code generator, PTX and ptxas, so a kernel that would fail to
compile on the GPU fails here."""

from __future__ import annotations

import os
import subprocess
import sys

from triton_setup import needs_triton

pytestmark = needs_triton


def test_kernels_compile_for_sm90():
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}  # the interpreter skips the compiler
    done = subprocess.run([sys.executable, "-m", "fields.kernels.triton_compile", "--smoke"], capture_output=True,
                          text=True, env=env, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("kernel=")]
    assert len(lines) == 7 and all("ptx_lines=" in line and "ptx_lines=None" not in line for line in lines)
