"""Radiance-field benchmark: the default Instant-NGP-like method on the generated scene, side by side with
the occupancy grid and with uniform sampling (and optionally proposal sampling), each for the same
training time budget. Prints a table and writes ``benchmarks/results/radiance-<time>.json``.

    python -m benchmarks.radiance                          # 100 train / 20 test views at 200x200, 20 min each
    python -m benchmarks.radiance --size 100 --minutes 5   # a quicker look
    python -m benchmarks.radiance --samplers occupancy_grid --scenes synthetic,povray:disc,povray:glossy,povray:fill \
        --eval-every 60 --targets 25,28                    # the default on scenes nobody tuned it on (80 min)
    python -m benchmarks.radiance --samplers occupancy_grid --variants current,before --minutes 3   # speed-ups

``--scenes``: ``synthetic`` (the generated scene) or ``povray:NAME`` (``benchmarks/povray_scenes.py``,
rendered into ``~/.cache/fields/povray`` on first use; POV-Ray needed). ``--variants``: ``current`` (this
code) and ``before`` (the torch marcher and the unfused Adam of before issue 18, for a side-by-side speed
comparison at the same samples per step).

Reported per sampler: steps, training wall time, samples per second (training samples through the field),
test PSNR and SSIM (mean over the test views), and with ``--eval-every S`` the PSNR of the first
``--eval-views`` test views after every S seconds of training (evaluation time is not training time, nor
counted in the budget), the training time to each of ``--targets`` dB and the last PSNR (the plateau).
CPU timings vary with the machine's load: say so when reporting.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import logging
import os
import platform
import time
from pathlib import Path

import torch

from benchmarks.psnr_clock import PsnrClock, save_result, seconds_text, time_to
from fields.config.load import apply_overrides, read_yaml
from fields.engine.run import fit
from fields.engine.scene import scene_from_dict

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "radiance" / "synthetic.yaml"


def scene_data(scene: str, args: argparse.Namespace) -> list[str]:
    if scene == "synthetic":
        return [
            f"data.synthetic.size={args.size}",
            f"data.synthetic.n_train={args.n_train}",
            f"data.synthetic.n_test={args.n_test}",
        ]
    if not scene.startswith("povray:"):
        raise SystemExit(f"unknown scene {scene}: synthetic or povray:NAME")
    from benchmarks.povray_scenes import generate

    name = scene.split(":", 1)[1]
    folder = Path.home() / ".cache" / "fields" / "povray" / f"{name}-{args.n_train}-{args.n_test}-{args.size}"
    if not (folder / "transforms_test.json").is_file():
        print(f"rendering {scene} into {folder}", flush=True)
        generate(name, folder, args.n_train, args.n_test, args.size)
    return [f"data.path={folder}"]


@contextlib.contextmanager
def unfused_adam(active: bool):
    """The optimiser of before issue 18 (Adam without ``fused=True``), for ``--variants before``."""
    original = torch.optim.Adam

    class UnfusedAdam(original):
        def __init__(self, *args, fused=None, **kwargs):
            super().__init__(*args, **kwargs)

    torch.optim.Adam = UnfusedAdam if active else original
    try:
        yield
    finally:
        torch.optim.Adam = original


def scene_for(
    sampler: str, args: argparse.Namespace, out: Path, scene: str = "synthetic", variant: str = "current"
) -> dict:
    data = read_yaml(CONFIG)
    name = f"{scene.replace(':', '-')}-{sampler}-{variant}"
    overrides = [
        *scene_data(scene, args),
        *(["render.marcher=torch"] if variant == "before" else []),
        f"render.sampler={sampler}",
        f"train.max_time={args.minutes * 60}",
        f"train.steps={args.max_steps}",
        f"train.batch_size={args.rays}",
        "train.progress=false",
        f"output.dir={out}",
        f"output.name={name}",
        "render.mesh_resolution=64",
        f"render.save_test_views={2}",
    ]
    if args.threads:
        overrides.append(f"train.threads={args.threads}")
    if args.target_samples is not None:
        overrides.append(f"render.target_samples={args.target_samples}")
    overrides += args.set
    if sampler == "uniform":
        overrides.append(f"render.n_samples={args.uniform_samples}")
    if sampler == "proposal":
        overrides += ["render.n_samples=32", "render.proposal_samples=[96, 48]"]
    return apply_overrides(data, overrides)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--n-train", type=int, default=100)
    parser.add_argument("--n-test", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=20.0, help="training time per sampler")
    parser.add_argument("--max-steps", type=int, default=100000)
    parser.add_argument("--rays", type=int, default=2048, help="rays per step")
    parser.add_argument("--uniform-samples", type=int, default=64)
    parser.add_argument(
        "--samplers", default="occupancy_grid,uniform", help="comma-separated: occupancy_grid,uniform,proposal"
    )
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--target-samples", type=int, default=None, help="samples per step (dynamic batch); default: the config's"
    )
    parser.add_argument("--eval-every", type=float, default=0.0, help="seconds of training between test PSNRs (0: off)")
    parser.add_argument("--eval-views", type=int, default=5, help="test views of the --eval-every PSNR")
    parser.add_argument("--targets", default="25,28", help="PSNRs whose training times are reported")
    parser.add_argument(
        "--scenes", default="synthetic", help="comma-separated: synthetic, povray:disc, povray:glossy, ..."
    )
    parser.add_argument(
        "--variants", default="current", help="comma-separated: current, before (torch marcher, unfused Adam)"
    )
    parser.add_argument("--set", nargs="*", default=[], help="extra config overrides, e.g. render.grid_resolution=64")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    stamp = f"{_dt.datetime.now():%Y%m%d-%H%M%S}"
    runs = args.out / f"radiance-runs-{stamp}"
    rows = []
    targets = [float(t) for t in args.targets.split(",") if t]
    cells = [
        (scene, sampler, variant)
        for scene in args.scenes.split(",")
        for sampler in args.samplers.split(",")
        for variant in args.variants.split(",")
    ]
    for scene_name, sampler, variant in cells:
        scene = scene_from_dict(
            scene_for(sampler, args, runs, scene_name, variant), base_dir=CONFIG.parent, source=str(CONFIG)
        )
        started = time.perf_counter()
        clock = [PsnrClock(args.eval_every, args.eval_views)] if args.eval_every else []
        with unfused_adam(variant == "before"):
            run_dir, metrics = fit(scene, scene_name=sampler, callbacks=clock)
        curve = clock[0].rows if clock else []
        rows.append(
            {
                "scene": scene_name,
                "sampler": sampler,
                "variant": variant,
                "steps": metrics["steps"],
                "train_seconds": round(metrics["train_seconds"], 1),
                "wall_seconds": round(time.perf_counter() - started, 1),
                "samples_per_second": round(metrics["samples_per_second"]),
                "psnr": round(metrics["psnr"], 2),
                "ssim": round(metrics["ssim"], 4),
                "params": metrics["params"],
                "run_dir": str(run_dir),
                "psnr_curve": curve,
                "seconds_to": {f"{t:g}": time_to(curve, t) for t in targets},
                "load_average": os.getloadavg()[0],
            }
        )
        print(rows[-1], flush=True)
    target_samples = args.target_samples or read_yaml(CONFIG)["render"].get("target_samples", 0)
    print(
        f"\nradiance: {args.n_train} train / {args.n_test} test views at {args.size}x{args.size}, "
        f"{args.minutes:g} min per run, {args.rays} rays at the first step then "
        f"{target_samples} samples/step (0: fixed rays), {torch.get_num_threads()} threads"
    )
    print(
        f"{'scene':<16}{'sampler':<16}{'variant':<9}{'steps':>7}{'train s':>9}{'samples/s':>11}{'PSNR':>7}{'SSIM':>8}"
        + "".join(f"{f'to {t:g} dB':>10}" for t in targets)
        + f"{'plateau':>9}{'load':>6}"
    )
    for r in rows:
        times = "".join(f"{seconds_text(r['seconds_to'][f'{t:g}']):>10}" for t in targets)
        plateau = r["psnr_curve"][-1][2] if r["psnr_curve"] else "-"
        print(
            f"{r['scene']:<16}{r['sampler']:<16}{r['variant']:<9}{r['steps']:>7}{r['train_seconds']:>9}"
            f"{r['samples_per_second']:>11}{r['psnr']:>7}{r['ssim']:>8}{times}{plateau:>9}{r['load_average']:>6.1f}"
        )
    save_result(args.out, "radiance", stamp, machine=platform.platform(), processor=platform.processor(),
                torch=torch.__version__, threads=torch.get_num_threads(), cuda=torch.cuda.is_available(),
                settings=vars(args) | {"out": str(args.out)}, rows=rows)

if __name__ == "__main__":
    main()
