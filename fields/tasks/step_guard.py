"""Dropping optimiser steps whose gradients are not finite (the multi-view tasks' ``on_before_optimizer_step``).

Why: one batch with a NaN or inf (an overflowing density, a degenerate ray) would otherwise write NaN into
every parameter it touches, and the run would go on for its whole budget rendering NaN (a 20-minute
capture fit did, from step 1549). The step is dropped instead (Adam skips parameters without ``.grad``),
counted, and logged now and then; ``limit`` dropped steps in a row end the run with the usual one-line
divergence error, since by then the field itself is broken.
"""

from __future__ import annotations

import logging

import torch

from fields.errors import UserError

log = logging.getLogger("fields")


class NonFiniteStepGuard:
    def __init__(self, limit: int = 50) -> None:
        self.limit, self.skipped, self.in_a_row = limit, 0, 0

    def __call__(self, optimizer: torch.optim.Optimizer, step: int) -> bool:
        """True when this step's gradients were not finite and have been cleared (the step is dropped)."""
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if not grads or bool(torch.isfinite(torch.stack([g.sum() for g in grads])).all()):
            self.in_a_row = 0
            return False
        for group in optimizer.param_groups:
            for p in group["params"]:
                p.grad = None
        self.skipped, self.in_a_row = self.skipped + 1, self.in_a_row + 1
        if self.in_a_row >= self.limit:
            raise UserError(f"training diverged: {self.limit} steps in a row had non-finite gradients "
                            "(lower train.optimizer.lr)")
        if self.skipped % 100 == 1:
            log.warning("step %d: loss or gradients not finite; step skipped (%d so far)", step, self.skipped)
        return True
