"""Proposal-network sampling (mip-NeRF 360, nerfacto): small density fields propose where to sample.

Each round evaluates a cheap density field on the current bins, turns the weights into a PDF and draws
the next, finer-focused bins from it; the last bins go to the radiance field. The proposal fields are
trained with the *interlevel* loss: their weights must bound from above the final weights over the same
stretch of ray (``lossfun_outer``), so they learn an envelope of the scene without colour supervision.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import nn

from fields.decoders.activations import TruncExp
from fields.encoders.hashgrid import HashGrid
from fields.render.samplers import sample_pdf, uniform_bins
from fields.render.volume_rendering import render_weights_from_density


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


def outer(t0: torch.Tensor, t1: torch.Tensor, y1: torch.Tensor) -> torch.Tensor:
    """For bins ``t0 (R, S0 + 1)``, the sum of ``y1 (R, S1)`` over every bin of ``t1 (R, S1 + 1)`` that
    overlaps each bin of ``t0`` -> ``(R, S0)``."""
    cy1 = torch.cat((torch.zeros_like(y1[..., :1]), torch.cumsum(y1, dim=-1)), dim=-1)
    starts, ends = t0[..., :-1].contiguous(), t0[..., 1:].contiguous()
    idx_lo = (torch.searchsorted(t1[..., :-1].contiguous(), starts, right=True) - 1).clamp(0, y1.shape[-1] - 1)
    idx_hi = torch.searchsorted(t1[..., 1:].contiguous(), ends, right=True).clamp(0, y1.shape[-1] - 1)
    return cy1[..., 1:].gather(-1, idx_hi) - cy1[..., :-1].gather(-1, idx_lo)


def interlevel_loss(t: torch.Tensor, w: torch.Tensor, t_env: torch.Tensor, w_env: torch.Tensor) -> torch.Tensor:
    """mip-NeRF 360's proposal loss: ``max(0, w - outer(w_env))**2 / w``, summed per ray, mean over rays.
    The final weights ``w`` and their bins ``t`` are not trained by it (detached)."""
    w, t = w.detach(), t.detach()
    w_outer = outer(t, t_env, w_env)
    return ((w - w_outer).clamp_min(0.0) ** 2 / (w + 1e-7)).sum(-1).mean()


class ProposalSampler(nn.Module):
    """``n_proposal_samples`` per round (e.g. ``(256, 96)``), each round with its own proposal field, then
    ``n_samples`` final bins. Returns the final bins plus each round's ``(bins, weights)`` for the loss."""

    def __init__(self, n_proposal_samples: tuple[int, ...] = (128, 64), n_samples: int = 32,
                 max_resolutions: tuple[int, ...] = (128, 256),
                 to_field: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
                 initial_bins: Optional[Callable[..., torch.Tensor]] = None):
        """``to_field``: unit-frame points -> the proposal grids' ``[0, 1]^3`` (default: clamp; a scene
        contraction for unbounded scenes); ``initial_bins(t_near, t_far, n, stratified, generator)``: the
        first round's bins (default uniform; lin/disparity spacing for unbounded scenes)."""
        super().__init__()
        self.n_proposal_samples, self.n_samples = tuple(n_proposal_samples), n_samples
        self.to_field = to_field or (lambda x: x.clamp(0.0, 1.0))
        self.initial_bins = initial_bins or uniform_bins
        self.fields = nn.ModuleList(ProposalDensity(max_resolution=max_resolutions[min(i, len(max_resolutions) - 1)])
                                    for i in range(len(self.n_proposal_samples)))

    def forward(self, origins: torch.Tensor, directions: torch.Tensor, t_near: torch.Tensor, t_far: torch.Tensor,
                stratified: bool = False, generator: Optional[torch.Generator] = None
                ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """Rays ``(R, 3)`` with ``t_near, t_far (R,)`` -> final bins ``(R, n_samples + 1)`` and the rounds."""
        bins = self.initial_bins(t_near, t_far, self.n_proposal_samples[0], stratified, generator)
        rounds = []
        for i, field in enumerate(self.fields):
            mid = (bins[:, :-1] + bins[:, 1:]) / 2
            sigma = field(self.to_field(origins[:, None] + directions[:, None] * mid[..., None]))
            weights, _, _ = render_weights_from_density(bins[:, :-1], bins[:, 1:], sigma)
            rounds.append((bins, weights))
            n_next = self.n_proposal_samples[i + 1] if i + 1 < len(self.fields) else self.n_samples
            bins = sample_pdf(bins, weights, n_next, stratified, generator)
        return bins, rounds

    def loss(self, bins: torch.Tensor, weights: torch.Tensor, rounds: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        return sum(interlevel_loss(bins, weights, t_env, w_env) for t_env, w_env in rounds)
