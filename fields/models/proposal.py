"""Proposal networks (mip-NeRF 360, nerfacto): small density fields that tell the proposal sampler
(``fields.render.proposal``) where to put the samples of the next round. Trained only by the interlevel
loss, so they learn an envelope of the scene's density without colour supervision."""

from __future__ import annotations

import torch
from torch import nn

from fields.decoders.activations import TruncExp
from fields.encoders.hashgrid import HashGrid


class ProposalDensity(nn.Module):
    """A small hash grid and a one-layer MLP giving density: unit-frame points ``(..., 3) -> (...)``."""

    def __init__(self, n_levels: int = 5, log2_hashmap_size: int = 17, max_resolution: int = 128, n_neurons: int = 16):
        super().__init__()
        config = HashGrid.Config(n_levels=n_levels, n_features_per_level=2, log2_hashmap_size=log2_hashmap_size,
                                 base_resolution=16, max_resolution=max_resolution)
        self.encoder = HashGrid(config, 3)
        self.mlp = nn.Sequential(nn.Linear(self.encoder.out_dim, n_neurons), nn.ReLU(), nn.Linear(n_neurons, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return TruncExp.apply(self.mlp(self.encoder(x))[..., 0] - 1.0)


class ProposalNetworks(nn.Module):
    """One ``ProposalDensity`` per proposal round, the ``i``-th with hash-grid resolution
    ``max_resolutions[min(i, len - 1)]``."""

    def __init__(self, n_rounds: int, max_resolutions: tuple[int, ...] = (128, 256)):
        super().__init__()
        self.fields = nn.ModuleList(ProposalDensity(max_resolution=max_resolutions[min(i, len(max_resolutions) - 1)])
                                    for i in range(n_rounds))
