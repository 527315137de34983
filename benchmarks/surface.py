"""NeuS on the generated sphere: the CPU-sized recipe (``configs/surface/sphere.yaml``) side by side with
the recipe of before issue 18 (48 + 32 samples on 1024 rays, analytic gradients through second
derivatives, a two-layer softplus SDF network), each for the same training time.

    python -m benchmarks.surface                    # 10 min per recipe (about 22 min in all on 2 cores)
    python -m benchmarks.surface --minutes 2 --recipes current
    python -m benchmarks.surface --before-minutes 2   # the old recipe's rate only (about 14 min in all)

Per recipe: steps, steps per second, test PSNR, and the mesh's distance to the true sphere (median and mean
of ``| |v| - R | / R`` over its vertices: a one-sided Chamfer distance relative to the radius). CPU
timings move with the machine's load: the load average is printed with each row.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from fields.datasets.synthetic_scene import SPHERE_RADIUS
from fields.engine.run import fit
from fields.engine.scene import load_scene

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "surface" / "sphere.yaml"
RECIPES = {
    "current": [],
    "before": [
        "render.n_samples=48",
        "render.n_importance=32",
        "model.gradient_step=0",
        "model.sdf_activation=softplus",
        "model.sdf_hidden_layers=2",
        "render.eikonal_points=1024",
        "render.anneal_steps=1000",
        "train.batch_size=1024",
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="training time per recipe")
    parser.add_argument("--before-minutes", type=float, default=None,
                        help="training time of the recipe of before (default: --minutes; its steps/s needs less)")
    parser.add_argument("--recipes", default="current,before")
    parser.add_argument("--set", nargs="*", default=[], help="extra overrides for every recipe")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import trimesh

    rows = []
    with tempfile.TemporaryDirectory(prefix="fields-surface-bench-") as tmp:
        for recipe in args.recipes.split(","):
            minutes = args.before_minutes if recipe == "before" and args.before_minutes else args.minutes
            scene = load_scene(
                str(CONFIG),
                [
                    *RECIPES[recipe],
                    "train.steps=1000000",
                    f"train.max_time={minutes * 60}",
                    "train.progress=false",
                    "train.checkpoint_every=1000000",
                    f"output.dir={tmp}",
                    "render.save_test_views=0",
                    *args.set,
                ],
            )
            run_dir, metrics = fit(scene, Path(tmp) / recipe)
            radius = np.linalg.norm(trimesh.load(run_dir / "mesh.ply").vertices, axis=1)
            error = np.abs(radius - SPHERE_RADIUS) / SPHERE_RADIUS
            rows.append(
                (
                    recipe,
                    minutes,
                    metrics["steps"],
                    metrics["steps_per_second"],
                    metrics["psnr"],
                    float(np.median(error)),
                    float(error.mean()),
                    os.getloadavg()[0],
                )
            )
            print(rows[-1], flush=True)
    print("\nNeuS on the generated sphere, a time budget per recipe")
    print(f"{'recipe':10}{'min':>5}{'steps':>8}{'steps/s':>9}{'PSNR':>7}{'median |r-R|/R':>16}{'mean |r-R|/R':>14}"
          f"{'load':>6}")
    for recipe, minutes, steps, rate, psnr, median, mean, load in rows:
        print(f"{recipe:10}{minutes:>5g}{steps:>8}{rate:>9.2f}{psnr:>7.2f}{median:>16.2%}{mean:>14.2%}{load:>6.1f}")


if __name__ == "__main__":
    main()
