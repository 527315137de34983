"""Radiance-field benchmark: the default Instant-NGP-like method on the generated scene, side by side with
the occupancy grid and with uniform sampling (and optionally proposal sampling), each for the same
training time budget. Prints a table and writes ``benchmarks/results/radiance-<time>.json``.

    python -m benchmarks.radiance                          # 100 train / 20 test views at 200x200, 20 min each
    python -m benchmarks.radiance --size 100 --minutes 5   # a quicker look

Reported per sampler: steps, training wall time, samples per second (training samples through the field),
test PSNR and SSIM (mean over the test views), and with ``--eval-every S`` the PSNR of the first
``--eval-views`` test views after every S seconds of training (evaluation time is not training time, nor
counted in the budget) and the training time to ``--target`` dB. CPU timings vary with the machine's
load: say so when reporting.
"""

from __future__ import annotations

import os

# OpenMP's default active wait makes every parallel region of a 2-thread process cost milliseconds when
# the cores are shared (measured: a 100k-element multiply 0.03 ms -> 12 ms); set before torch loads
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402
from torchmetrics.functional.image import peak_signal_noise_ratio  # noqa: E402

from fields.config.load import apply_overrides, read_yaml  # noqa: E402

from fields.engine.scene import scene_from_dict
from fields.engine.run import fit  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "radiance" / "synthetic.yaml"


class PsnrClock(pl.Callback):
    """Every ``every`` seconds of training: the mean PSNR of the first ``views`` test views, as rows
    ``(train_seconds, step, psnr)``. The evaluation's wall time is added to Lightning's ``max_time``."""

    def __init__(self, every: float, views: int):
        self.every, self.views, self.next, self.rows = every, views, every, []

    def on_train_batch_end(self, trainer: pl.Trainer, task, *args) -> None:
        if float(task.train_seconds) < self.next:
            return
        started = time.perf_counter()
        psnrs = []
        for index in task.views.test[: self.views]:
            pred, target = task.render_view(task.cameras, index)["rgb"], task.test_target(index)
            psnrs.append(float(peak_signal_noise_ratio(pred, target, data_range=1.0)))
        seconds, step = round(float(task.train_seconds), 1), int(trainer.global_step)
        psnr = round(sum(psnrs) / len(psnrs), 2)
        self.rows.append((seconds, step, psnr))
        print(f"  t={seconds}s step={step} test PSNR ({len(psnrs)} views) {psnr}", flush=True)
        self.next = float(task.train_seconds) + self.every
        for callback in trainer.callbacks:
            if isinstance(callback, pl.callbacks.Timer) and callback._duration is not None:
                callback._duration += time.perf_counter() - started


def time_to(rows: list, target: float):
    return next((seconds for seconds, _, psnr in rows if psnr >= target), None)


def scene_for(sampler: str, args: argparse.Namespace, out: Path) -> dict:
    data = read_yaml(CONFIG)
    overrides = [
        f"data.synthetic.size={args.size}",
        f"data.synthetic.n_train={args.n_train}",
        f"data.synthetic.n_test={args.n_test}",
        f"render.sampler={sampler}",
        f"train.max_time={args.minutes * 60}",
        f"train.steps={args.max_steps}",
        f"train.batch_size={args.rays}",
        "train.progress=false",
        f"output.dir={out}",
        f"output.name={sampler}",
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
    parser.add_argument("--target-samples", type=int, default=None,
                        help="samples per step (dynamic batch); default: the config's")
    parser.add_argument("--eval-every", type=float, default=0.0, help="seconds of training between test PSNRs (0: off)")
    parser.add_argument("--eval-views", type=int, default=5, help="test views of the --eval-every PSNR")
    parser.add_argument("--target", type=float, default=28.0, help="PSNR whose training time is reported")
    parser.add_argument("--set", nargs="*", default=[], help="extra config overrides, e.g. render.grid_resolution=64")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    stamp = f"{_dt.datetime.now():%Y%m%d-%H%M%S}"
    runs = args.out / f"radiance-runs-{stamp}"
    rows = []
    for sampler in args.samplers.split(","):
        scene = scene_from_dict(scene_for(sampler, args, runs), base_dir=CONFIG.parent, source=str(CONFIG))
        started = time.perf_counter()
        clock = [PsnrClock(args.eval_every, args.eval_views)] if args.eval_every else []
        run_dir, metrics = fit(scene, scene_name=sampler, callbacks=clock)
        rows.append(
            {
                "sampler": sampler,
                "steps": metrics["steps"],
                "train_seconds": round(metrics["train_seconds"], 1),
                "wall_seconds": round(time.perf_counter() - started, 1),
                "samples_per_second": round(metrics["samples_per_second"]),
                "psnr": round(metrics["psnr"], 2),
                "ssim": round(metrics["ssim"], 4),
                "params": metrics["params"],
                "run_dir": str(run_dir),
                "psnr_curve": clock[0].rows if clock else [],
                f"seconds_to_{args.target:g}dB": time_to(clock[0].rows, args.target) if clock else None,
            }
        )
        print(rows[-1], flush=True)
    header = (f"{'sampler':<16}{'steps':>8}{'train s':>10}{'samples/s':>12}{'PSNR':>8}{'SSIM':>8}"
              f"{f'to {args.target:g} dB':>12}")
    target_samples = args.target_samples or read_yaml(CONFIG)["render"].get("target_samples", 0)
    print(f"\nradiance: {args.n_train} train / {args.n_test} test views at {args.size}x{args.size}, "
          f"{args.minutes:g} min per sampler, {args.rays} rays at the first step then "
          f"{target_samples} samples/step (0: fixed rays), "
          f"{torch.get_num_threads()} threads")
    print(header)
    for r in rows:
        to = r[f"seconds_to_{args.target:g}dB"]
        print(f"{r['sampler']:<16}{r['steps']:>8}{r['train_seconds']:>10}{r['samples_per_second']:>12}{r['psnr']:>8}"
              f"{r['ssim']:>8}{'-' if to is None else f'{to:g} s':>12}")
    result = {"benchmark": "radiance", "time": stamp, "machine": platform.platform(), "processor": platform.processor(),
              "torch": torch.__version__, "threads": torch.get_num_threads(), "cuda": torch.cuda.is_available(),
              "settings": vars(args) | {"out": str(args.out)}, "rows": rows}
    path = args.out / f"radiance-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
