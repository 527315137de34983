"""OpenMP settings decided once, before torch loads its OpenMP runtime (``import fields`` does it first).

torch's CPU ops and the C++ kernels (``fields/kernels/*.cpp``, through ``at::parallel_for`` in the same
libgomp) run every parallel region on a team of OpenMP threads. By default libgomp's idle threads spin
for about 300k iterations before sleeping. On a quiet machine that saves a wake-up per region; on a
machine whose cores are busy with other processes, the spinning threads burn the time slices that the
team's other threads need, and a fit falls far below its fair share of the CPU (measured in issue 18:
4.1x fewer steps beside two busy processes on two cores, against 2x for a fair share). A short spin
(``GOMP_SPINCOUNT``) keeps the quiet speed and stops the waste under load; ``benchmarks/threads.py``
measures the choices side by side.

Thread count: the CPUs this process may use (affinity), capped by a cgroup CPU quota (containers), where
torch's default would run more threads than the quota pays for.

A user's own settings win: any of ``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT``, ``KMP_BLOCKTIME`` leaves the
wait policy alone, ``OMP_NUM_THREADS`` the thread count. ``FIELDS_THREADS=off`` leaves OpenMP entirely
alone; ``FIELDS_THREADS=N`` asks for N threads. Settings made after torch was imported cannot reach
libgomp (it reads its environment when it loads); then nothing is changed and the log says so.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ENV = "FIELDS_THREADS"
WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
# spins before an idle OpenMP thread sleeps; libgomp's default is 300000. Measured on 2 cores at load
# average 12 (benchmarks/threads.py, radiance steps in 20 s / CPU ms per step): default 5 / 1193,
# PASSIVE 28 / 202, 10000 spins 21 / 374, 1000 spins 45 / 170
SPINCOUNT = "1000"


@dataclass
class ThreadChoice:
    """What was decided at start-up: ``threads`` (None: torch's default), the wait policy in words, why."""

    threads: int | None
    wait: str
    reason: str
    logged: bool = False


_choice: ThreadChoice | None = None


def available_cpus() -> int:
    """CPUs this process may run on: its affinity mask, capped by a cgroup v2 or v1 CPU quota."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = _cgroup_quota()
    return max(1, min(cpus, int(quota + 0.5))) if quota else cpus


def _cgroup_quota() -> float | None:
    try:
        text = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if text and text[0] != "max":
            return int(text[0]) / int(text[1])
    except (OSError, ValueError, IndexError):
        pass
    try:
        quota = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        return quota / period if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


def configure_threads() -> ThreadChoice:
    """Set the OpenMP environment for this process (once; later calls return the first choice)."""
    global _choice
    if _choice is not None:
        return _choice
    request = os.environ.get(ENV, "auto").strip().lower()
    if request == "off":
        _choice = ThreadChoice(None, "untouched", f"{ENV}=off")
        return _choice
    if "torch" in sys.modules:
        _choice = ThreadChoice(None, "untouched", "torch was imported before fields: its OpenMP settings stay")
        return _choice
    reasons = []
    if any(name in os.environ for name in WAIT_VARIABLES):
        wait = ", ".join(f"{name}={os.environ[name]}" for name in WAIT_VARIABLES if name in os.environ)
        reasons.append("wait policy from the environment")
    else:
        os.environ["GOMP_SPINCOUNT"] = SPINCOUNT
        wait = f"short spin (GOMP_SPINCOUNT={SPINCOUNT})"
    threads: int | None = None
    if request.isdigit() and int(request) > 0:
        threads = int(request)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        reasons.append(f"{ENV}={threads}")
    elif "OMP_NUM_THREADS" in os.environ:
        reasons.append("OMP_NUM_THREADS from the environment")
    else:
        threads = available_cpus()
        os.environ["OMP_NUM_THREADS"] = str(threads)
        reasons.append("the CPUs this process may use")
    _choice = ThreadChoice(threads, wait, "; ".join(reasons))
    return _choice


def log_thread_choice(logger: logging.Logger | None = None) -> None:
    """Log the choice once per process (with the thread count torch ended up using)."""
    choice = configure_threads()
    if choice.logged:
        return
    choice.logged = True
    import torch

    (logger or logging.getLogger("fields")).info(
        "CPU threads: %d, OpenMP wait: %s (%s; %s=off leaves OpenMP alone)",
        torch.get_num_threads(),
        choice.wait,
        choice.reason,
        ENV,
    )
