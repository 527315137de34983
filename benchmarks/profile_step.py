"""Where a training step's CPU time goes: one radiance or NeuS step, split into its parts.

Trains ``--warmup`` steps of a recipe, then profiles ``--steps`` more with ``torch.profiler`` and prints
the share of CPU time of each part: position encoder, MLPs, direction encoding, marching (occupancy grid
sampling), compositing, loss, backward (split by the autograd node's kind), optimiser, and the rest
("other": Python, Lightning, glue ops). Shares of operator time are roughly independent of the machine's
load; run it single-threaded (the default, ``--threads 1``) so OpenMP waits do not blur them.

    python -m benchmarks.profile_step radiance            # configs/radiance/synthetic.yaml, ~2 min
    python -m benchmarks.profile_step surface             # configs/surface/sphere.yaml
    python -m benchmarks.profile_step radiance --set render.target_samples=8192 --top 25
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPES = {
    "radiance": ROOT / "configs" / "radiance" / "synthetic.yaml",
    "surface": ROOT / "configs" / "surface" / "sphere.yaml",
}
# autograd node name fragments -> part (checked in order)
BACKWARD_PARTS = (
    ("GridLookup", "encoder"),
    ("Hash", "encoder"),
    ("Addmm", "mlp"),
    ("Mm", "mlp"),
    ("Relu", "mlp"),
    ("Threshold", "mlp"),
    ("Softplus", "mlp"),
    ("Cumsum", "compositing"),
    ("Exp", "compositing"),
    ("IndexAdd", "compositing"),
    ("Scatter", "compositing"),
    ("Index", "gather"),
)


def labelled(module_or_obj, name: str, label: str) -> None:
    """Wrap ``obj.name`` in a profiler range ``label``."""
    import torch

    original = getattr(module_or_obj, name)

    def wrapper(*args, **kwargs):
        with torch.profiler.record_function(label):
            return original(*args, **kwargs)

    setattr(module_or_obj, name, wrapper)


def parts_of(task) -> None:
    import fields.tasks.radiance as radiance_module
    import fields.tasks.surface as surface_module

    field = task.field
    labelled(field.encoder, "forward", "#encoder")
    for name in ("density_decoder", "decoder", "sdf_decoder"):
        if hasattr(field, name):
            labelled(getattr(field, name), "forward", "#mlp")
    if hasattr(field, "direction_encoder"):
        labelled(field.direction_encoder, "forward", "#direction_encoder")
    if getattr(task, "grid", None) is not None:
        labelled(task.grid, "sampling", "#marching")
        labelled(task.grid, "update_every_n_steps", "#grid_update")
    if hasattr(task, "sample_bins"):
        labelled(task, "sample_bins", "#marching")
    labelled(radiance_module, "render", "#compositing")
    labelled(radiance_module, "regression_loss", "#loss")
    labelled(surface_module, "regression_loss", "#loss")
    labelled(task, "random_batch", "#ray_batch")
    labelled(task, "training_step", "#step_other")  # unlabelled ops of the step (not the optimiser's)
    if hasattr(field, "sdf_layers"):
        labelled(field, "sdf_and_features", "#mlp")  # the SDF network (its encoder is labelled inside)


def share_table(events, wall: float, steps: int, top: int) -> None:
    by_part: dict[str, float] = defaultdict(float)
    by_op: dict[str, float] = defaultdict(float)
    for event in events:
        self_us = event.self_cpu_time_total
        if self_us <= 0:
            continue
        by_op[event.name] += self_us
        node, part = event, None
        while node is not None:
            name = node.name
            if name.startswith("#"):
                part = name[1:]
                break
            if name.startswith("Optimizer.step"):
                part = "optimiser"
                break
            if name.startswith("autograd::engine::evaluate_function"):
                part = "backward:" + next((p for frag, p in BACKWARD_PARTS if frag in name), "other")
                break
            node = node.cpu_parent
        by_part[part or "other ops"] += self_us
    total = sum(by_part.values()) / 1e6
    print(
        f"\n{steps} steps, {wall / steps * 1000:.1f} ms wall per step (profiled), "
        f"{total / steps * 1000:.1f} ms in operators per step"
    )
    print(f"{'part':28} {'ms/step':>8} {'share':>6}")
    for part, us in sorted(by_part.items(), key=lambda kv: -kv[1]):
        print(f"{part:28} {us / 1e3 / steps:8.2f} {us / 1e6 / total:6.1%}")
    print(f"{'python/framework (wall - ops)':28} {(wall - total) / steps * 1000:8.2f}")
    print(f"\ntop {top} operators by self CPU time")
    for name, us in sorted(by_op.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {name[:70]:70} {us / 1e3 / steps:8.2f} ms {us / 1e6 / total:6.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", choices=sorted(RECIPES))
    parser.add_argument("--config", type=Path, default=None, help="another scene file of the same task")
    parser.add_argument("--warmup", type=int, default=60)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--set", nargs="*", default=[], help="config overrides")
    args = parser.parse_args()

    import logging

    import pytorch_lightning as pl
    import torch

    from fields.engine.scene import load_scene
    from benchmarks.trainer import bare_trainer
    from fields.engine.run import build_task, quiet_lightning

    logging.basicConfig(level=logging.WARNING)
    quiet_lightning()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    config = args.config or RECIPES[args.recipe]
    scene = load_scene(str(config), ["train.progress=false", "train.max_time=null", *args.set])
    pl.seed_everything(0, verbose=False)
    task = build_task(scene)
    parts_of(task)

    class Profile(pl.Callback):
        def __init__(self):
            self.prof = None

        def on_train_batch_start(self, trainer, *a) -> None:
            if trainer.global_step == args.warmup:
                self.prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
                self.prof.__enter__()
                self.started = time.perf_counter()

        def on_train_batch_end(self, trainer, *a) -> None:
            if trainer.global_step == args.warmup + args.steps and self.prof is not None:
                wall = time.perf_counter() - self.started
                self.prof.__exit__(None, None, None)
                share_table(self.prof.events(), wall, args.steps, args.top)
                trainer.should_stop = True

    bare_trainer(args.warmup + args.steps, [Profile()]).fit(task)


if __name__ == "__main__":
    main()
