"""The OpenMP policy chosen by ``import fields``: set before torch loads, the user's settings win, the C++
kernels share torch's OpenMP runtime (so they follow its thread count and wait policy)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

PROBE = (
    "import json, os, fields, torch; from fields.threads import configure_threads; c = configure_threads(); "
    "print(json.dumps({'spin': os.environ.get('GOMP_SPINCOUNT'), 'wait': os.environ.get('OMP_WAIT_POLICY'), "
    "'omp': os.environ.get('OMP_NUM_THREADS'), 'torch': torch.get_num_threads(), 'choice': c.wait}))"
)
CLEARED = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "OMP_NUM_THREADS", "FIELDS_THREADS")


def probe(code: str = PROBE, **env: str) -> dict:
    full = {k: v for k, v in os.environ.items() if k not in CLEARED}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**full, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_sets_a_short_spin_and_the_cpu_count():
    from fields.threads import SPINCOUNT, available_cpus

    got = probe()
    assert got["spin"] == SPINCOUNT and got["wait"] is None
    assert got["torch"] == available_cpus() and got["omp"] == str(available_cpus())


def test_user_settings_win():
    got = probe(OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS="1")
    assert got["spin"] is None and got["wait"] == "PASSIVE" and got["torch"] == 1
    assert "OMP_WAIT_POLICY=PASSIVE" in got["choice"]
    assert probe(FIELDS_THREADS="1")["torch"] == 1
    off = probe(FIELDS_THREADS="off")
    assert off["spin"] is None and off["omp"] is None and off["choice"] == "untouched"


def test_torch_imported_first_leaves_openmp_alone():
    got = probe("import torch\n" + PROBE)
    assert got["spin"] is None and got["choice"] == "untouched"


def test_cpp_kernel_uses_torchs_openmp_runtime(tmp_path):
    code = (
        "import json, fields, torch; from fields.kernels import grid_cpu; assert grid_cpu.load() is not None; "
        "maps = open('/proc/self/maps').read().split(); "
        "print(json.dumps({'gomp': sorted({p for p in maps if 'libgomp' in p})}))"
    )
    got = probe(code, TORCH_EXTENSIONS_DIR=os.environ.get("TORCH_EXTENSIONS_DIR", str(tmp_path)))
    assert len(got["gomp"]) == 1, got  # one OpenMP runtime: torch.set_num_threads and the wait policy reach the kernel
