"""Radiance-field benchmark: the default Instant-NGP-like method, a row per (scene, sampler, variant,
condition), each trained for a time budget. Prints a table and writes ``benchmarks/results/radiance-<time>.json``.

    python -m benchmarks.radiance --issue                  # issue 18's table in one run (see --issue below)
    python -m benchmarks.radiance                          # 100 train / 20 test views at 200x200, 20 min each
    python -m benchmarks.radiance --size 100 --minutes 5   # a quicker look
    python -m benchmarks.radiance --samplers occupancy_grid --variants current,before --minutes 3   # speed-ups
    python -m benchmarks.radiance --samplers occupancy_grid --conditions quiet,busy2 --minutes 3     # under load

``--scenes``: ``synthetic`` (the generated scene), ``povray:NAME`` (a scene of ``benchmarks/povray_scenes.py``
rendered into ``$FIELDS_CACHE/povray`` on first use, else ``data.path: povray:NAME``; POV-Ray needed) or
``LABEL=PATH`` (a Blender-layout folder). ``--variants``: ``current`` (this code) and ``before`` (the torch
marcher and the unfused Adam of before issue 18, at the same samples per step). ``--conditions``: ``quiet``
and ``busyN`` (beside N processes spinning on a core each, started for the row and stopped after it).

``--issue``: quality rows (every scene of ``ISSUE_SCENES``, ``--minutes`` (20) each, test PSNR every 60 s on 5 views,
time to 25 and 28 dB) and speed rows on the generated scene (``--speed-minutes`` each: current and before
quiet, current beside two busy processes). About 25 minutes per scene plus 10 for the speed rows; run it
on an otherwise quiet machine.

Reported per row: steps, training wall time, samples per second (training samples through the field),
test PSNR and SSIM (mean over the test views), and with ``--eval-every S`` the PSNR of the first
``--eval-views`` test views after every S seconds of training (evaluation time is not training time, nor
counted in the budget), the training time to each of ``--targets`` dB, the last PSNR (the plateau) and
its gain over the last quarter of the budget. CPU timings vary with the machine's load: say so when reporting.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import logging
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

from benchmarks.psnr_clock import PsnrClock, save_result, seconds_text, time_to
from fields.config.load import apply_overrides, read_yaml
from fields.engine.run import fit
from fields.engine.scene import scene_from_dict

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "radiance" / "synthetic.yaml"
ISSUE_SCENES = "synthetic,povray:disc,povray:glossy,povray:fill,povray:csg"


def scene_data(scene: str, args: argparse.Namespace) -> list[str]:
    if scene == "synthetic":
        return [
            f"data.synthetic.size={args.size}",
            f"data.synthetic.n_train={args.n_train}",
            f"data.synthetic.n_test={args.n_test}",
        ]
    if "=" in scene:
        return [f"data.path={Path(scene.split('=', 1)[1]).expanduser()}"]
    if not scene.startswith("povray:"):
        raise SystemExit(f"unknown scene {scene}: synthetic, povray:NAME or LABEL=PATH")
    from benchmarks.povray_scenes import SCENES, generate

    name = scene.split(":", 1)[1]
    sizes = [f"data.synthetic.size={args.size}", f"data.synthetic.n_train={args.n_train}",
             f"data.synthetic.n_test={args.n_test}"]
    if name not in SCENES:
        return [f"data.path={scene}", *sizes]  # the POV-Ray scenes of fields/datasets
    cache = Path(os.environ.get("FIELDS_CACHE", Path.home() / ".cache" / "fields"))
    folder = cache / "povray" / f"{name}-{args.n_train}-{args.n_test}-{args.size}"
    if not (folder / "transforms_test.json").is_file():
        print(f"rendering {scene} into {folder}", flush=True)
        generate(name, folder, args.n_train, args.n_test, args.size)
    return [f"data.path={folder}"]


@contextlib.contextmanager
def busy_processes(condition: str):
    """``busyN``: N processes spinning on a core each while the row trains; ``quiet``: none."""
    count = int(condition[4:]) if condition.startswith("busy") else 0
    if condition != "quiet" and not count:
        raise SystemExit(f"unknown condition {condition}: quiet or busyN")
    workers = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        time.sleep(1.0 if count else 0.0)
        yield
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()


@contextlib.contextmanager
def code_before(active: bool):
    """``--variants before``: the optimiser of before issue 18 (Adam without ``fused=True``) and its early
    stop rounds of a fixed ``render.round_samples`` steps (the torch marcher comes from the config)."""
    from fields.render import early_stop

    original, first = torch.optim.Adam, early_stop.FIRST_ROUND

    class UnfusedAdam(original):
        def __init__(self, *args, fused=None, **kwargs):
            super().__init__(*args, **kwargs)

    if active:
        torch.optim.Adam, early_stop.FIRST_ROUND = UnfusedAdam, 10**9
    try:
        yield
    finally:
        torch.optim.Adam, early_stop.FIRST_ROUND = original, first


def label_of(scene: str) -> str:
    return scene.split("=", 1)[0] if "=" in scene else scene.replace(":", "-")


def scene_for(sampler: str, args: argparse.Namespace, out: Path, scene: str = "synthetic", variant: str = "current",
              minutes: float | None = None, name: str | None = None) -> dict:
    data = read_yaml(CONFIG)
    overrides = [
        *scene_data(scene, args),
        *(["render.marcher=torch"] if variant == "before" else []),
        f"render.sampler={sampler}",
        f"train.max_time={(minutes or args.minutes) * 60}",
        f"train.steps={args.max_steps}",
        f"train.batch_size={args.rays}",
        "train.progress=false",
        f"output.dir={out}",
        f"output.name={name or f'{label_of(scene)}-{sampler}-{variant}'}",
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


def plan(args: argparse.Namespace) -> list[tuple[str, str, str, str, float]]:
    """Rows to run: ``(scene, sampler, variant, condition, minutes)``."""
    if args.issue:
        quality = [(scene, "occupancy_grid", "current", "quiet", args.minutes) for scene in args.scenes.split(",")]
        speed = [("synthetic", "occupancy_grid", variant, condition, args.speed_minutes)
                 for variant, condition in (("current", "quiet"), ("before", "quiet"), ("current", "busy2"))]
        return quality + speed
    return [(scene, sampler, variant, condition, args.minutes) for scene in args.scenes.split(",")
            for sampler in args.samplers.split(",") for variant in args.variants.split(",")
            for condition in args.conditions.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--issue", action="store_true", help="issue 18's table: quality rows and speed rows")
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--n-train", type=int, default=100)
    parser.add_argument("--n-test", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=20.0, help="training time per row")
    parser.add_argument("--speed-minutes", type=float, default=3.0, help="--issue: training time of the speed rows")
    parser.add_argument("--max-steps", type=int, default=100000)
    parser.add_argument("--rays", type=int, default=2048, help="rays per step")
    parser.add_argument("--uniform-samples", type=int, default=64)
    parser.add_argument("--samplers", default="occupancy_grid,uniform", help="comma-separated: occupancy_grid,uniform,"
                        "proposal")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--target-samples", type=int, default=None,
                        help="samples per step (dynamic batch); default: the config's")
    parser.add_argument("--eval-every", type=float, default=0.0, help="seconds of training between test PSNRs (0: off)")
    parser.add_argument("--eval-views", type=int, default=5, help="test views of the --eval-every PSNR")
    parser.add_argument("--targets", default="25,28", help="PSNRs whose training times are reported")
    parser.add_argument("--scenes", default=None, help="comma-separated: synthetic, povray:NAME, LABEL=PATH "
                        f"(default: synthetic; with --issue: {ISSUE_SCENES})")
    parser.add_argument("--variants", default="current", help="comma-separated: current, before (torch marcher, "
                        "unfused Adam)")
    parser.add_argument("--conditions", default="quiet", help="comma-separated: quiet, busyN (N spinning processes)")
    parser.add_argument("--set", nargs="*", default=[], help="extra config overrides, e.g. render.grid_resolution=64")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    args.scenes = args.scenes or (ISSUE_SCENES if args.issue else "synthetic")
    if args.issue:
        args.eval_every = args.eval_every or 60.0
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    stamp = f"{_dt.datetime.now():%Y%m%d-%H%M%S}"
    runs = args.out / f"radiance-runs-{stamp}"
    rows = []
    targets = [float(t) for t in args.targets.split(",") if t]
    for scene_name, sampler, variant, condition, minutes in plan(args):
        name = f"{label_of(scene_name)}-{sampler}-{variant}-{condition}"
        scene = scene_from_dict(scene_for(sampler, args, runs, scene_name, variant, minutes, name),
                                base_dir=CONFIG.parent, source=str(CONFIG))
        started = time.perf_counter()
        clock = [PsnrClock(args.eval_every, args.eval_views)] if args.eval_every else []
        with code_before(variant == "before"), busy_processes(condition):
            run_dir, metrics = fit(scene, scene_name=sampler, callbacks=clock)
        curve = clock[0].rows if clock else []
        late = [p for t, _, p in curve if t <= 0.75 * minutes * 60]
        rows.append({
            "scene": label_of(scene_name), "sampler": sampler, "variant": variant, "condition": condition,
            "minutes": minutes, "steps": metrics["steps"], "train_seconds": round(metrics["train_seconds"], 1),
            "wall_seconds": round(time.perf_counter() - started, 1),
            "samples_per_second": round(metrics["samples_per_second"]), "psnr": round(metrics["psnr"], 2),
            "ssim": round(metrics["ssim"], 4), "params": metrics["params"], "run_dir": str(run_dir),
            "psnr_curve": curve, "seconds_to": {f"{t:g}": time_to(curve, t) for t in targets},
            "last_quarter_gain": round(curve[-1][2] - late[-1], 2) if curve and late else None,
            "load_average": os.getloadavg()[0],
        })
        print(rows[-1], flush=True)
    target_samples = args.target_samples or read_yaml(CONFIG)["render"].get("target_samples", 0)
    print(
        f"\nradiance: {args.n_train} train / {args.n_test} test views at {args.size}x{args.size}, "
        f"{args.rays} rays at the first step then {target_samples} samples/step (0: fixed rays), "
        f"{torch.get_num_threads()} threads; PSNR and SSIM over the test views at the end of the budget"
    )
    print(
        f"{'scene':<16}{'sampler':<16}{'variant':<9}{'cond.':<7}{'min':>4}{'steps':>7}{'samples/s':>11}{'PSNR':>7}"
        f"{'SSIM':>8}" + "".join(f"{f'to {t:g} dB':>10}" for t in targets) + f"{'plateau':>9}{'+last 1/4':>10}"
        f"{'load':>6}"
    )
    for r in rows:
        times = "".join(f"{seconds_text(r['seconds_to'][f'{t:g}']):>10}" for t in targets)
        plateau = r["psnr_curve"][-1][2] if r["psnr_curve"] else "-"
        gain = "-" if r["last_quarter_gain"] is None else f"{r['last_quarter_gain']:+.2f}"
        print(
            f"{r['scene']:<16}{r['sampler']:<16}{r['variant']:<9}{r['condition']:<7}{r['minutes']:>4g}{r['steps']:>7}"
            f"{r['samples_per_second']:>11}{r['psnr']:>7}{r['ssim']:>8}{times}{plateau:>9}{gain:>10}"
            f"{r['load_average']:>6.1f}"
        )
    quiet = {(r["scene"], r["variant"], r["minutes"]): r for r in rows if r["condition"] == "quiet"}
    for r in rows:
        base = quiet.get((r["scene"], "current", r["minutes"]))
        if base and r is not base:
            what = f"{r['variant']} {r['condition']}"
            print(f"{r['scene']}: {what} vs current quiet: {r['steps'] / max(base['steps'], 1):.2f}x the steps, "
                  f"{r['samples_per_second'] / max(base['samples_per_second'], 1):.2f}x the samples/s")
    save_result(args.out, "radiance", stamp, machine=platform.platform(), processor=platform.processor(),
                torch=torch.__version__, threads=torch.get_num_threads(), cuda=torch.cuda.is_available(),
                settings=vars(args) | {"out": str(args.out)}, rows=rows)


if __name__ == "__main__":
    main()
