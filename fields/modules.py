"""Small helpers on ``torch.nn.Module``: trainable parameter count, and evaluation mode for a block."""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch


def n_params(module: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@contextlib.contextmanager
def eval_mode(module: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Run the block with ``module`` in eval mode; its training flag is restored even on an exception.
    ``train()`` walks every submodule, so it is skipped when the module is already in eval mode."""
    was_training = module.training
    if was_training:
        module.eval()
    try:
        yield module
    finally:
        if was_training:
            module.train(True)
