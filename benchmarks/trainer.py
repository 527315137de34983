"""The bare Lightning trainer the step-clocking benchmarks fit with: one CPU device and nothing beside the
training steps (no logger, checkpoints, progress bar, model summary or validation)."""

from __future__ import annotations

import pytorch_lightning as pl


def bare_trainer(max_steps: int, callbacks: list[pl.Callback]) -> pl.Trainer:
    """A ``pl.Trainer`` on one CPU that runs ``max_steps`` training steps (or until a callback stops it)."""
    return pl.Trainer(
        max_steps=max_steps,
        accelerator="cpu",
        devices=1,
        logger=False,
        callbacks=callbacks,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )
