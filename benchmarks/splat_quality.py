"""Gaussian splatting against the radiance default: test PSNR over training time, scene by scene.

Scenes: the generated demo scene (``synthetic:objects``) and the POV-Ray scenes of
``fields.datasets.povray`` (``povray:spheres``, ``csg``, ``table``, ``text``; rendered into the data cache on
first use), 100 training and 20 test views at 200x200. Each method trains with its default config
(``configs/splat/synthetic.yaml``, ``configs/radiance/synthetic.yaml``) for ``--minutes`` of training time
(after a one-step run of each method that builds the C++ kernels),
its schedules fitted to that budget; every ``--eval-every`` seconds the mean PSNR of ``--eval-views`` test
views is taken (evaluation time is not training time). Reported: time to ``--target`` dB, PSNR at the end of
the budget (all test views), and with ``--plateau-minutes M`` the PSNR of a second run of M minutes (the
plateau). Prints a table and writes ``benchmarks/results/splat_quality-<time>.json``.

    python -m benchmarks.splat_quality                              # 5 scenes x 2 methods x 5 min: ~60 min
    python -m benchmarks.splat_quality --scenes povray:csg --methods splat --minutes 1   # a quick look

CPU timings vary with the machine's load: run it alone and report the load average it prints.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import logging
import os
import platform
import time
from pathlib import Path

import torch

from benchmarks.psnr_clock import PsnrClock, save_result, time_to
from fields.config.load import apply_overrides, read_yaml
from fields.engine.scene import scene_from_dict
from fields.engine.run import fit

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    "splat": ROOT / "configs" / "splat" / "synthetic.yaml",
    "radiance": ROOT / "configs" / "radiance" / "synthetic.yaml",
}
SCENES = "synthetic:objects,povray:spheres,povray:csg,povray:table,povray:text"


def scene_for(method: str, path: str, minutes: float, args: argparse.Namespace, out: Path, name: str) -> dict:
    data = read_yaml(CONFIGS[method])
    overrides = [
        f"data.path={path}",
        f"data.synthetic.size={args.size}",
        f"data.synthetic.n_train={args.n_train}",
        f"data.synthetic.n_test={args.n_test}",
        f"train.max_time={minutes * 60}",
        "train.steps=1000000",
        "train.progress=false",
        f"output.dir={out}",
        f"output.name={name}",
        "render.save_test_views=2",
    ]
    if method == "radiance":
        overrides.append("render.mesh_resolution=0")
    if args.threads:
        overrides.append(f"train.threads={args.threads}")
    overrides += [s.split(":", 1)[1] for s in args.set if s.startswith(f"{method}:")]
    return apply_overrides(data, overrides)


def run_one(method: str, path: str, minutes: float, args: argparse.Namespace, out: Path, clock: bool) -> dict:
    name = f"{method}-{path.replace(':', '_')}-{minutes:g}min"
    scene = scene_from_dict(
        scene_for(method, path, minutes, args, out, name), base_dir=CONFIGS[method].parent, source=str(CONFIGS[method])
    )
    callbacks = [PsnrClock(args.eval_every, args.eval_views)] if clock and args.eval_every else []
    started = time.perf_counter()
    run_dir, metrics = fit(scene, scene_name=name, callbacks=callbacks)
    curve = callbacks[0].rows if callbacks else []
    return {
        "method": method,
        "scene": path,
        "minutes": minutes,
        "steps": metrics["steps"],
        "train_seconds": round(metrics["train_seconds"], 1),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "psnr": round(metrics["psnr"], 2),
        "ssim": round(metrics["ssim"], 4),
        "gaussians": metrics.get("gaussians"),
        "run_dir": str(run_dir),
        "psnr_curve": curve,
        "seconds_to_target": time_to(curve, args.target),
        "last_minute_gain": last_minute_gain(curve),
        "load_average_end": round(os.getloadavg()[0], 2),
    }


def last_minute_gain(curve: list) -> float | None:
    """Test PSNR gained over the last minute of the curve: near 0 at the plateau."""
    if len(curve) < 2:
        return None
    end_seconds, _, end_psnr = curve[-1]
    before = [psnr for seconds, _, psnr in curve if seconds <= end_seconds - 60] or [curve[0][2]]
    return round(end_psnr - before[-1], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", default=SCENES, help="comma-separated data paths")
    parser.add_argument("--methods", default="splat,radiance")
    parser.add_argument("--minutes", type=float, default=5.0, help="training time per run")
    parser.add_argument("--plateau-minutes", type=float, default=0.0, help="also a run this long per method (0: none)")
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--n-train", type=int, default=100)
    parser.add_argument("--n-test", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--eval-every", type=float, default=20.0, help="seconds of training between test PSNRs")
    parser.add_argument("--eval-views", type=int, default=5)
    parser.add_argument("--target", type=float, default=28.0)
    parser.add_argument(
        "--set", nargs="*", default=[], help="overrides per method, e.g. splat:render.strategy.type=mcmc"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    stamp = f"{_dt.datetime.now():%Y%m%d-%H%M%S}"
    runs = args.out / f"splat_quality-runs-{stamp}"
    for method in args.methods.split(","):  # build the C++ kernels before any clock runs
        warm = scene_for(method, args.scenes.split(",")[0], 1.0, args, runs / "warmup", method)
        fit(scene_from_dict(apply_overrides(warm, ["train.steps=1"]), base_dir=CONFIGS[method].parent))
    load = os.getloadavg()[0]
    rows = []
    for path in args.scenes.split(","):
        for method in args.methods.split(","):
            row = run_one(method, path, args.minutes, args, runs, clock=True)
            if args.plateau_minutes:
                row["plateau_psnr"] = run_one(method, path, args.plateau_minutes, args, runs, clock=False)["psnr"]
            rows.append(row)
            print({k: v for k, v in row.items() if k != "psnr_curve"}, flush=True)
    print(
        f"\nsplat_quality: {args.n_train} train / {args.n_test} test views at {args.size}x{args.size}, "
        f"{args.minutes:g} min per run, {torch.get_num_threads()} threads, load average {load:.2f} at the start"
    )
    print(
        f"{'scene':<20}{'method':<10}{'steps':>8}{f'to {args.target:g} dB':>12}{f'PSNR@{args.minutes:g}min':>13}"
        f"{'SSIM':>8}{'+last min':>10}{'plateau':>9}{'gaussians':>11}{'load':>6}"
    )
    for r in rows:
        to = r["seconds_to_target"]
        plateau, gain = r.get("plateau_psnr"), r["last_minute_gain"]
        print(
            f"{r['scene']:<20}{r['method']:<10}{r['steps']:>8}{'-' if to is None else f'{to:g} s':>12}{r['psnr']:>13}"
            f"{r['ssim']:>8}{'-' if gain is None else gain:>10}{'-' if plateau is None else plateau:>9}"
            f"{r['gaussians'] or '-':>11}{r['load_average_end']:>6}"
        )
    save_result(args.out, "splat_quality", stamp, machine=platform.platform(), torch=torch.__version__,
                threads=torch.get_num_threads(), load_average_at_start=load,
                settings=vars(args) | {"out": str(args.out)}, rows=rows)

if __name__ == "__main__":
    main()
