"""Per-image appearance embeddings (GLO; NeRF in the Wild, nerfacto): a learned code per training image fed
to the colour branch, so exposure and lighting changes between photos do not turn into floaters.

Views that were never trained (held-out test views) get the mean code of the training views.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn


class AppearanceEmbedding(nn.Module):
    """``n_images`` codes of ``dim`` values; ``train_indices`` are the views whose codes are trained."""

    def __init__(self, n_images: int, dim: int = 32, train_indices: Optional[list[int]] = None):
        super().__init__()
        self.dim = dim
        self.embedding = nn.Embedding(n_images, dim)
        nn.init.normal_(self.embedding.weight, std=0.01)
        mask = torch.zeros(n_images, dtype=torch.bool)
        mask[list(range(n_images)) if train_indices is None else train_indices] = True
        self.register_buffer("trained", mask, persistent=False)

    def mean(self) -> torch.Tensor:
        """``(dim,)``: the mean code of the trained views (used for views without one)."""
        return self.embedding.weight[self.trained].mean(0)

    def spread(self) -> torch.Tensor:
        """``()``: mean squared distance of the trained views' codes from their mean."""
        codes = self.embedding.weight[self.trained]
        return ((codes - codes.mean(0)) ** 2).sum(-1).mean()

    def forward(self, indices: Optional[torch.Tensor], n: int) -> torch.Tensor:
        """``indices (n,)`` view numbers (or None) -> codes ``(n, dim)``; untrained views and None get the mean."""
        if indices is None:
            return self.mean().expand(n, -1)
        indices = indices.to(self.embedding.weight.device)
        codes = self.embedding(indices)
        return torch.where(self.trained[indices][:, None], codes, self.mean().expand_as(codes))
