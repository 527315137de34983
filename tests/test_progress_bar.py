"""The training progress bar counts optimiser steps ("step 7/7"), not Lightning's "Epoch 0/-2"."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from fields.engine.callbacks import step_progress_bar


class Tiny(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        (x,) = batch
        return self.layer(x).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_bar_counts_steps_across_epochs():
    bar = step_progress_bar()
    loader = DataLoader(TensorDataset(torch.randn(12, 2)), batch_size=4)  # 3 batches an epoch
    trainer = pl.Trainer(max_steps=7, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_model_summary=False, callbacks=[bar])
    trainer.fit(Tiny(), loader)
    (task,) = [t for t in bar.progress.tasks if t.visible]
    assert "step" in task.description and "Epoch" not in task.description
    assert (task.completed, task.total) == (7, 7)


def test_total_follows_max_time():
    """With a time budget far below what ``max_steps`` needs, the bar's total (its ETA) follows the time."""
    import datetime
    import time

    class Slow(Tiny):
        def training_step(self, batch, batch_idx):
            time.sleep(0.01)
            return super().training_step(batch, batch_idx)

    bar = step_progress_bar()
    loader = DataLoader(TensorDataset(torch.randn(12, 2)), batch_size=4)
    trainer = pl.Trainer(max_steps=100_000, max_time=datetime.timedelta(seconds=2), accelerator="cpu", logger=False,
                         enable_checkpointing=False, enable_model_summary=False, callbacks=[bar])
    trainer.fit(Slow(), loader)
    (task,) = [t for t in bar.progress.tasks if t.visible]
    assert trainer.global_step < 1000 and task.total < 2000, (trainer.global_step, task.total)
