"""Train a radiance field on several devices: ``Trainer(strategy="ddp", devices=N)``.

fields' tasks are LightningModules, so the Trainer you already use runs them: each process draws its own
rays (the task's batch generator is seeded by step and process rank), DDP averages the gradients, and
all processes end with the same weights. On GPUs: ``--accelerator gpu --devices 4``; on a CPU, N
processes talk through gloo. ``--report DIR`` writes, per process, a digest of the batches it drew and of
its final weights (``rank_R.json``), which the project's CI test compares. Run:

    python examples/lightning/ddp.py --devices 2 --steps 200
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import pytorch_lightning as pl
import torch

from fields.engine.scene import scene_from_dict
from fields.datasets.synthetic_scene import generate_scene
from fields.tasks import TASKS


class DataReport(pl.Callback):
    """Records a digest of every batch this process trains on and, at the end, of its weights."""

    def __init__(self, folder: Path):
        self.folder, self.batches = folder, []

    def on_train_batch_start(self, trainer, task, batch, batch_idx):
        # the task draws its rays from step_generator(): draw the same ones to see what it trains on
        _, target, _, _ = task.random_batch(task.scene.train.batch_size, task.step_generator())
        self.batches.append(hashlib.sha256(target.cpu().numpy().tobytes()).hexdigest()[:16])

    def on_train_end(self, trainer, task):
        weights = hashlib.sha256()
        for name, param in sorted(task.named_parameters()):
            weights.update(param.detach().cpu().numpy().tobytes())
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"rank_{trainer.global_rank}.json").write_text(json.dumps({
            "rank": trainer.global_rank, "world_size": trainer.world_size, "steps": trainer.global_step,
            "batches": self.batches, "weights": weights.hexdigest()}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=2)
    parser.add_argument("--accelerator", default="cpu")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--size", type=int, default=64, help="image size of the generated scene")
    parser.add_argument("--data", default="runs/ddp-scene")
    parser.add_argument("--report", default=None)
    args = parser.parse_args()

    data = Path(args.data)
    if not (data / "transforms_train.json").is_file():  # the other processes re-run this script: once
        generate_scene(data, "objects", n_train=16, n_test=2, size=args.size, seed=0)
    scene = scene_from_dict({
        "task": "radiance",
        "data": {"path": str(data)},
        "model": {"encoder": {"type": "hashgrid", "n_levels": 8, "log2_hashmap_size": 15, "base_resolution": 8,
                              "max_resolution": 256},
                  "decoder": {"type": "mlp", "n_neurons": 32, "n_hidden_layers": 1}, "output_activation": "sigmoid"},
        "render": {"grid_resolution": 32, "max_steps": 128, "grid_warmup_steps": 16, "grid_update_every": 8},
        "train": {"steps": args.steps, "batch_size": 512},
    })
    if args.accelerator == "cpu":
        torch.set_num_threads(1)  # N processes share the cores
    pl.seed_everything(0, verbose=False)  # the same initial weights in every process
    task = TASKS.get(scene.task)(scene)
    callbacks = [DataReport(Path(args.report))] if args.report else []
    trainer = pl.Trainer(strategy="ddp", accelerator=args.accelerator, devices=args.devices, max_steps=args.steps,
                         callbacks=callbacks, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(task)
    if trainer.global_rank == 0:
        metrics = task.evaluate()
        print(f"{trainer.world_size} processes, {trainer.global_step} steps: test PSNR {metrics['psnr']:.2f} dB")


if __name__ == "__main__":
    main()
