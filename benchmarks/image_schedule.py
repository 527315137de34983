"""Image fit learning-rate schedules: the PSNR curve of ``configs/image/astronaut.yaml`` (or another image
recipe) every ``--every`` steps, for each schedule and image, at a fixed number of steps, side by side.

A fixed step count makes the curves independent of the machine's load; the schedule runs over those steps
as it runs over ``train.max_time`` in a budgeted fit (``FieldTask.lr_factor``: progress is the larger of
the step and the time fractions), so ``--steps`` should be about what the budget gives (``fields fit``
prints steps/s). Prints the curve, the last PSNR, the best and the spread of the last quarter (how much
the result depends on where the run happens to stop), and writes ``benchmarks/results/image-schedule.json``.

    python -m benchmarks.image_schedule                                      # astronaut, 3 schedules, ~6 min
    python -m benchmarks.image_schedule --images astronaut,coffee,chelsea,rocket --steps 1500
    python -m benchmarks.image_schedule --schedules constant,"exponential final_ratio=0.05"
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import fields  # noqa: F401  (the OpenMP policy, before torch)
import pytorch_lightning as pl
import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "image-schedule.json"


class PsnrEvery(pl.Callback):
    """The full image's PSNR every ``every`` steps (and at the last), as rows ``(step, psnr)``."""

    def __init__(self, every: int):
        self.every, self.rows = every, []

    def on_train_batch_end(self, trainer: pl.Trainer, task, *args) -> None:
        step = int(trainer.global_step)
        if step % self.every == 0 or step == trainer.max_steps:
            target = task.pixels.reshape(task.height, task.width, task.channels).float()
            mse = float(((task.predict_image() - target) ** 2).mean())
            self.rows.append((step, round(-10 * math.log10(max(mse, 1e-12)), 2)))


def schedule_overrides(text: str) -> list[str]:
    """``"exponential final_ratio=0.1"`` -> ``train.schedule.type=exponential train.schedule.final_ratio=0.1``."""
    kind, *rest = text.split()
    return [f"train.schedule.type={kind}"] + [f"train.schedule.{item}" for item in rest]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "image" / "astronaut.yaml")
    parser.add_argument("--images", default="astronaut", help="comma-separated scikit-image names")
    parser.add_argument("--schedules", default="constant,exponential final_ratio=0.1,cosine final_ratio=0.01",
                        help="comma-separated: TYPE [key=value ...]")
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--set", nargs="*", default=[], help="extra config overrides")
    args = parser.parse_args()

    from benchmarks.trainer import bare_trainer
    from fields.engine.run import build_task, quiet_lightning
    from fields.engine.scene import load_scene

    quiet_lightning()
    torch.set_flush_denormal(True)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for image in args.images.split(","):
        for schedule in args.schedules.split(","):
            scene = load_scene(args.config, [f"data.image=skimage:{image}", f"train.steps={args.steps}",
                                             "train.max_time=null", "train.progress=false",
                                             *schedule_overrides(schedule), *args.set])
            pl.seed_everything(scene.train.seed, verbose=False)
            task = build_task(scene)
            clock = PsnrEvery(args.every)
            trainer = bare_trainer(args.steps, [clock])
            started = time.perf_counter()
            trainer.fit(task)
            curve = clock.rows
            tail = [p for s, p in curve if s >= 0.75 * args.steps]
            rows.append({"image": image, "schedule": schedule, "steps": args.steps, "last": curve[-1][1],
                         "best": max(p for _, p in curve), "tail_min": min(tail), "tail_max": max(tail),
                         "seconds": round(time.perf_counter() - started, 1), "load": os.getloadavg()[0],
                         "curve": curve})
            print(f"{image} / {schedule}: " + " ".join(f"{s}:{p}" for s, p in curve), flush=True)
    print(f"\nimage fits, {args.steps} steps, PSNR every {args.every} steps ({args.config.name})")
    print(f"{'image':<14}{'schedule':<34}{'last':>7}{'best':>7}{'last quarter':>15}{'load':>6}")
    for r in rows:
        print(f"{r['image']:<14}{r['schedule']:<34}{r['last']:>7}{r['best']:>7}"
              f"{r['tail_min']:>8}-{r['tail_max']:<6}{r['load']:>6.1f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    settings = vars(args) | {"config": str(args.config)}
    RESULTS.write_text(json.dumps({"settings": settings, "rows": rows}, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
