"""Tuning the radiance default on several scenes together: every variant (a set of config overrides of
``configs/radiance/synthetic.yaml``) is trained for a fixed number of steps on every scene, and reported
with its test PSNR per scene and on average, the samples per step and the CPU time per step.

Quality at a fixed step count does not depend on the machine's load; the lr schedule runs over those
steps. The CPU time per step (``--threads 1`` by default: the work of a step, little blurred by OpenMP
waits) compares the cost of variants run in like conditions; it is no quiet-machine timing.

    python -m benchmarks.radiance_tune --steps 800 \\
        --scenes synthetic,disc=/path/to/blender/scene,csg=~/.cache/fields/povray/csg-100-20-200-0 \\
        --variant base --variant hash19 model.encoder.log2_hashmap_size=19

``--scenes``: ``synthetic`` (the generated scene), ``povray:NAME`` (``data.path: povray:NAME``) or
``LABEL=PATH`` (a Blender-layout folder). Appends one JSON line per (variant, scene) to ``--log`` as it
goes, and prints the table of everything in the log at the end (``--table`` prints it without training).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import fields  # noqa: F401  (the OpenMP policy, before torch)

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "radiance" / "synthetic.yaml"


def scene_overrides(scene: str) -> tuple[str, list[str]]:
    if scene == "synthetic":
        return scene, []
    if scene.startswith("povray:"):
        return scene.split(":", 1)[1], [f"data.path={scene}"]
    label, _, path = scene.partition("=")
    if not path:
        raise SystemExit(f"scene {scene}: synthetic, povray:NAME or LABEL=PATH")
    return label, [f"data.path={Path(path).expanduser()}"]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def train_and_score(overrides: list[str], steps: int, test_views: int) -> dict:
    import pytorch_lightning as pl
    import torch
    from torchmetrics.functional.image import peak_signal_noise_ratio

    from benchmarks.trainer import bare_trainer
    from fields.engine.callbacks import TrainClock
    from fields.engine.run import build_task
    from fields.engine.scene import load_scene

    scene = load_scene(CONFIG, [f"train.steps={steps}", "train.max_time=null", "train.progress=false", *overrides])
    pl.seed_everything(scene.train.seed, verbose=False)
    task = build_task(scene)
    trainer = bare_trainer(steps, [TrainClock()])
    cpu = cpu_seconds()
    trainer.fit(task)
    cpu = cpu_seconds() - cpu
    psnrs = []
    for index in task.views.test[:test_views]:
        pred = task.render_view(task.cameras, index)["rgb"]
        psnrs.append(float(peak_signal_noise_ratio(pred, task.test_target(index), data_range=1.0)))
    return {"psnr": round(sum(psnrs) / len(psnrs), 2), "samples_per_step": round(float(task.samples_seen) / steps),
            "cpu_ms_per_step": round(1000 * cpu / steps, 1), "train_seconds": round(float(task.train_seconds), 1),
            "params": task.field.n_params(), "threads": torch.get_num_threads(), "load": os.getloadavg()[0]}


def print_table(log: Path) -> None:
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    scenes = list(dict.fromkeys(r["scene"] for r in rows))
    variants = list(dict.fromkeys((r["variant"], r["steps"]) for r in rows))
    print(f"\ntest PSNR (dB) at a fixed step count; cost: samples and CPU ms per step ({log})")
    print(f"{'variant':<26}{'steps':>6}" + "".join(f"{s[:10]:>11}" for s in scenes)
          + f"{'mean':>8}{'samples/step':>14}{'CPU ms/step':>13}")
    for variant, steps in variants:
        cells = {r["scene"]: r for r in rows if r["variant"] == variant and r["steps"] == steps}
        psnrs = [cells[s]["psnr"] for s in scenes if s in cells]
        mean = f"{sum(psnrs) / len(psnrs):.2f}" if len(psnrs) == len(scenes) else "-"
        samples = sum(c["samples_per_step"] for c in cells.values()) / len(cells)
        cost = sum(c["cpu_ms_per_step"] for c in cells.values()) / len(cells)
        print(f"{variant:<26}{steps:>6}" + "".join(f"{cells[s]['psnr'] if s in cells else '-':>11}" for s in scenes)
              + f"{mean:>8}{samples:>14.0f}{cost:>13.0f}")
    for variant, steps in variants:
        setting = next(r["overrides"] for r in rows if r["variant"] == variant)
        print(f"  {variant}: {' '.join(setting) or '(the config as it is)'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", default="synthetic")
    parser.add_argument("--variant", nargs="+", action="append", default=[], metavar=("NAME", "OVERRIDE"),
                        help="a variant: its name, then config overrides (repeat the option for more)")
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--test-views", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--log", type=Path, default=ROOT / "benchmarks" / "results" / "radiance-tune.jsonl")
    parser.add_argument("--table", action="store_true", help="print the log's table only")
    args = parser.parse_args()
    if not args.table:
        import logging

        import torch

        from fields.engine.run import quiet_lightning

        logging.basicConfig(level=logging.WARNING)
        quiet_lightning()
        torch.set_flush_denormal(True)
        torch.set_num_threads(args.threads)
        args.log.parent.mkdir(parents=True, exist_ok=True)
        for name, *overrides in args.variant or [["base"]]:
            for scene in args.scenes.split(","):
                label, data = scene_overrides(scene)
                started = time.perf_counter()
                result = train_and_score([*data, *overrides], args.steps, args.test_views)
                row = {"variant": name, "scene": label, "steps": args.steps, "overrides": overrides, **result,
                       "wall_seconds": round(time.perf_counter() - started, 1)}
                print(json.dumps(row), flush=True)
                with args.log.open("a") as out:
                    out.write(json.dumps(row) + "\n")
    print_table(args.log)


if __name__ == "__main__":
    main()
