"""Radiance fit steps in a fixed time, quiet and beside busy processes, under several OpenMP policies.

Each cell is a fresh process (libgomp reads its environment only when it loads) that trains the default
radiance recipe (``configs/radiance/synthetic.yaml``, seeded, so every run takes the same steps) and
counts the steps finished in ``--seconds`` of training after a short warm-up. "busy" runs start
``--busy`` processes that spin on a core each (Python loops, or with ``--busy-kind torch`` multi-threaded
torch matrix products, like other fits) and stop them afterwards. Prints one table:

    policy    quiet steps   busy steps   busy / quiet   quiet vs today

    python -m benchmarks.threads                          # ~5 min on 2 cores: 3 policies x quiet/busy, 30 s each
    python -m benchmarks.threads --seconds 20 --policies today,fields

Policies: ``today`` (libgomp's defaults, FIELDS_THREADS=off), ``fields`` (what ``import fields`` picks,
see ``fields/threads.py``), ``passive`` (OMP_WAIT_POLICY=PASSIVE), ``spinN`` (GOMP_SPINCOUNT=N). Run it
on an otherwise quiet machine: the "quiet" column must be quiet.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import fields.threads  # (benchmarks/__init__ imported fields first: the OpenMP environment is set)

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "radiance" / "synthetic.yaml"
CLEARED = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "OMP_NUM_THREADS", "FIELDS_THREADS")
BUSY = {
    "spin": "while True: pass",
    "torch": "import torch\na = torch.randn(256, 256)\nwhile True: a = torch.tanh(a @ a * 0.01)",
}


def policy_env(policy: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    if policy == "today":
        env["FIELDS_THREADS"] = "off"
    elif policy == "passive":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    elif policy.startswith("spin"):
        env["GOMP_SPINCOUNT"] = policy[4:]
    elif policy != "fields":
        raise SystemExit(f"unknown policy {policy}")
    return env


def child(seconds: float, warmup: int, overrides: list[str]) -> None:
    """Train in this process and print one JSON line: steps in ``seconds`` after ``warmup`` steps."""
    import logging
    import resource

    import pytorch_lightning as pl
    import torch

    from fields.engine.scene import load_scene
    from benchmarks.trainer import bare_trainer
    from fields.engine.run import build_task, quiet_lightning

    def cpu_seconds() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    class Clock(pl.Callback):
        def __init__(self):
            self.start = self.steps = None

        def on_train_batch_end(self, trainer, *args) -> None:
            step = int(trainer.global_step)
            if step == warmup:
                self.start, self.cpu = time.perf_counter(), cpu_seconds()
            elif self.start is not None and time.perf_counter() - self.start >= seconds:
                self.steps = step - warmup
                self.cpu_per_step = (cpu_seconds() - self.cpu) / self.steps
                trainer.should_stop = True

    logging.basicConfig(level=logging.WARNING)
    quiet_lightning()
    torch.set_flush_denormal(True)
    scene = load_scene(str(CONFIG), ["train.steps=1000000", "train.max_time=null", "train.progress=false", *overrides])
    pl.seed_everything(0, verbose=False)
    task = build_task(scene)
    clock = Clock()
    bare_trainer(10**6, [clock]).fit(task)
    choice = fields.threads.configure_threads()
    print(
        json.dumps(
            {
                "steps": clock.steps,
                "threads": torch.get_num_threads(),
                "wait": choice.wait,
                "cpu_ms": 1000 * clock.cpu_per_step,
                "samples": float(task.samples_seen),
            }
        ),
        flush=True,
    )


def run_cell(policy: str, busy: int, args: argparse.Namespace) -> dict:
    workers = [
        subprocess.Popen([sys.executable, "-c", BUSY[args.busy_kind]], env=policy_env("today")) for _ in range(busy)
    ]
    try:
        time.sleep(1.0 if busy else 0.0)
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.threads",
            "--child",
            "--seconds",
            str(args.seconds),
            "--warmup",
            str(args.warmup),
            "--set",
            *args.set,
        ]
        done = subprocess.run(cmd, env=policy_env(policy), cwd=ROOT, capture_output=True, text=True, check=False)
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{policy} busy={busy} failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--policies", default="today,fields,passive", help="comma-separated: today, fields, passive, spinN"
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="timed training per cell")
    parser.add_argument("--warmup", type=int, default=30, help="untimed first steps (kernel load, grid warm-up)")
    parser.add_argument(
        "--busy", type=int, default=len(os.sched_getaffinity(0)), help="busy processes (default: one per CPU)"
    )
    parser.add_argument("--busy-kind", choices=sorted(BUSY), default="spin")
    parser.add_argument("--set", nargs="*", default=[], help="config overrides of the radiance recipe")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.seconds, args.warmup, args.set)
        return
    load = os.getloadavg()[0]
    print(
        f"radiance steps in {args.seconds:.0f} s of training; busy: {args.busy} x {args.busy_kind}; "
        f"load average before: {load:.2f}",
        flush=True,
    )
    rows = []
    for policy in args.policies.split(","):
        quiet = run_cell(policy, 0, args)
        busy = run_cell(policy, args.busy, args) if args.busy else quiet
        rows.append((policy, quiet, busy))
        print(
            f"  {policy}: quiet {quiet['steps']} steps ({quiet['cpu_ms']:.0f} CPU ms/step), busy {busy['steps']} steps "
            f"({busy['cpu_ms']:.0f} CPU ms/step); {quiet['wait']}, {quiet['threads']} threads",
            flush=True,
        )
    today = next((q["steps"] for p, q, _ in rows if p == "today"), None)
    print(
        f"\n{'policy':10} {'threads':>7} {'quiet steps':>11} {'busy steps':>10} {'busy/quiet':>10} "
        f"{'quiet vs today':>14} "
        f"{'CPU ms/step quiet':>17} {'busy':>5}  wait"
    )
    for policy, quiet, busy in rows:
        versus = f"{quiet['steps'] / today - 1:+.1%}" if today else "-"
        print(
            f"{policy:10} {quiet['threads']:7d} {quiet['steps']:11d} {busy['steps']:10d} "
            f"{busy['steps'] / max(quiet['steps'], 1):10.2f} {versus:>14} "
            f"{quiet['cpu_ms']:17.0f} {busy['cpu_ms']:5.0f}  "
            f"{quiet['wait']}"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
