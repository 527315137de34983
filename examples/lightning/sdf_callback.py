"""Fit a signed distance field with your own Lightning Trainer and a custom callback.

The task is fields' ``sdf`` task (a LightningModule) built from a scene dict; the callback measures,
every ``--every`` steps, how often the field puts random points on the right side of the surface, and
writes the mesh at the end. Run:

    python examples/lightning/sdf_callback.py --steps 300 --out runs/sdf-example
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytorch_lightning as pl

from fields.engine.scene import scene_from_dict
from fields.tasks import TASKS


class InsideOutsideAccuracy(pl.Callback):
    """Every ``every`` steps: the fraction of ``n`` random points in the unit cube that the field puts
    inside or outside as the true mesh does; logged as ``probe/accuracy`` and kept in ``history``."""

    def __init__(self, every: int = 50, n: int = 20000):
        self.every, self.n = every, n
        self.history: list[tuple[int, float]] = []
        self.points = np.random.default_rng(0).random((n, 3))

    def on_train_batch_end(self, trainer, task, outputs, batch, batch_idx):
        step = trainer.global_step
        if step % self.every:
            return
        truth = task.distance().occupancy(self.points)  # the mesh's inside test, unit coordinates
        accuracy = float((task.inside(self.points) == truth).mean())
        self.history.append((step, accuracy))
        task.log("probe/accuracy", accuracy)

    def on_train_end(self, trainer, task):
        out = Path(trainer.default_root_dir)
        task.export_mesh(out / "mesh.ply", resolution=128)
        (out / "probe.json").write_text(json.dumps(self.history))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--out", default="runs/sdf-example")
    args = parser.parse_args()

    scene = scene_from_dict({
        "task": "sdf",
        "data": {"mesh": "shape:torus", "samples": {"pool_size": 65536}},
        "model": {"encoder": {"type": "hashgrid", "n_levels": 8, "log2_hashmap_size": 14, "base_resolution": 4,
                              "max_resolution": 128},
                  "decoder": {"type": "mlp", "n_neurons": 32, "n_hidden_layers": 1}},
        "train": {"steps": args.steps, "batch_size": 8192, "loss": "mape"},
    })
    pl.seed_everything(0, verbose=False)
    task = TASKS.get(scene.task)(scene)
    probe = InsideOutsideAccuracy(every=args.every)
    trainer = pl.Trainer(max_steps=args.steps, accelerator="cpu", callbacks=[probe], logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, default_root_dir=args.out)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    trainer.fit(task)
    for step, accuracy in probe.history:
        print(f"step {step:5d}: inside/outside accuracy {accuracy:.4f}")
    print(f"mesh written to {Path(args.out) / 'mesh.ply'}")


if __name__ == "__main__":
    main()
