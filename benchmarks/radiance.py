"""Radiance-field benchmark: the default Instant-NGP-like method on the generated scene, side by side with
the occupancy grid and with uniform sampling (and optionally proposal sampling), each for the same
training time budget. Prints a table and writes ``benchmarks/results/radiance-<time>.json``.

    python -m benchmarks.radiance                          # 100 train / 20 test views at 200x200, 20 min each
    python -m benchmarks.radiance --size 100 --minutes 5   # a quicker look

Reported per sampler: steps, training wall time, samples per second (training samples through the field),
test PSNR and SSIM (mean over the test views), and the test PSNR after each ``--eval-every`` seconds when
asked (time to a target such as 28 dB). CPU timings vary with the machine's load: say so when reporting.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import logging
import platform
import time
from pathlib import Path

import torch

from fields.config.load import apply_overrides, read_yaml, scene_from_dict
from fields.engine.run import fit

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "radiance" / "synthetic.yaml"


def scene_for(sampler: str, args: argparse.Namespace, out: Path) -> dict:
    data = read_yaml(CONFIG)
    overrides = [
        f"data.synthetic.size={args.size}", f"data.synthetic.n_train={args.n_train}", f"data.synthetic.n_test={args.n_test}",
        f"render.sampler={sampler}", f"train.max_time={args.minutes * 60}", f"train.steps={args.max_steps}",
        f"train.batch_size={args.rays}", "train.progress=false", f"output.dir={out}", f"output.name={sampler}",
        "render.mesh_resolution=64", f"render.save_test_views={2}",
    ]
    if args.threads:
        overrides.append(f"train.threads={args.threads}")
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
    parser.add_argument("--samplers", default="occupancy_grid,uniform", help="comma-separated: occupancy_grid,uniform,proposal")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    stamp = f"{_dt.datetime.now():%Y%m%d-%H%M%S}"
    runs = args.out / f"radiance-runs-{stamp}"
    rows = []
    for sampler in args.samplers.split(","):
        scene = scene_from_dict(scene_for(sampler, args, runs), base_dir=CONFIG.parent, source=str(CONFIG))
        started = time.perf_counter()
        run_dir, metrics = fit(scene, scene_name=sampler)
        rows.append({
            "sampler": sampler, "steps": metrics["steps"], "train_seconds": round(metrics["train_seconds"], 1),
            "wall_seconds": round(time.perf_counter() - started, 1), "samples_per_second": round(metrics["samples_per_second"]),
            "psnr": round(metrics["psnr"], 2), "ssim": round(metrics["ssim"], 4), "params": metrics["params"],
            "run_dir": str(run_dir),
        })
        print(rows[-1], flush=True)
    header = f"{'sampler':<16}{'steps':>8}{'train s':>10}{'samples/s':>12}{'PSNR':>8}{'SSIM':>8}"
    print(f"\nradiance: {args.n_train} train / {args.n_test} test views at {args.size}x{args.size}, "
          f"{args.minutes:g} min per sampler, {args.rays} rays/step, {torch.get_num_threads()} threads")
    print(header)
    for r in rows:
        print(f"{r['sampler']:<16}{r['steps']:>8}{r['train_seconds']:>10}{r['samples_per_second']:>12}{r['psnr']:>8}{r['ssim']:>8}")
    result = {"benchmark": "radiance", "time": stamp, "machine": platform.platform(), "processor": platform.processor(),
              "torch": torch.__version__, "threads": torch.get_num_threads(), "cuda": torch.cuda.is_available(),
              "settings": vars(args) | {"out": str(args.out)}, "rows": rows}
    path = args.out / f"radiance-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
