"""Proposal-network sampling (mip-NeRF 360, nerfacto): small density fields propose where to sample.

The sampler holds no networks: like nerfacc's ``PropNetEstimator.sampling(prop_sigma_fns, ...)`` it takes
one density function per round (the networks are ``fields.models.proposal``). Each round evaluates a
cheap density on the current bins, turns the weights into a PDF and draws
the next, finer-focused bins from it; the last bins go to the radiance field. The proposal fields are
trained with the *interlevel* loss: their weights must bound from above the final weights over the same
stretch of ray (``lossfun_outer``), so they learn an envelope of the scene without colour supervision.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch

from fields.render.samplers import sample_pdf, uniform_bins
from fields.render.volume_rendering import render_weights_from_density


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


def proposal_update_due(step: int, every: int, warmup: int) -> bool:
    """Whether the proposal fields train at ``step`` (nerfacto's schedule, stateless so that a resumed run
    matches): every step at first, the interval growing linearly to ``every`` steps over ``warmup`` steps.
    In between they only propose, without gradients (no backward through their many samples)."""
    interval = max(1, min(every, round(step * every / warmup))) if warmup > 0 else every
    return step < 10 or step % interval == 0


SigmaFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # bins' starts, ends (R, S) -> densities (R, S)


class ProposalSampler:
    """``n_proposal_samples`` per round (e.g. ``(256, 96)``), one density function per round, then
    ``n_samples`` final bins. Returns the final bins plus each round's ``(bins, weights)`` for the loss."""

    def __init__(self, n_proposal_samples: tuple[int, ...] = (128, 64), n_samples: int = 32,
                 initial_bins: Optional[Callable[..., torch.Tensor]] = None):
        """``initial_bins(t_near, t_far, n, stratified, generator)``: the first round's bins (default uniform;
        ``fields.render.spacing.lindisp_piecewise_bins`` for unbounded scenes)."""
        self.n_proposal_samples, self.n_samples = tuple(n_proposal_samples), n_samples
        self.initial_bins = initial_bins or uniform_bins

    def sampling(
        self,
        sigma_fns: Sequence[SigmaFn],
        t_near: torch.Tensor,
        t_far: torch.Tensor,
        stratified: bool = False,
        generator: Optional[torch.Generator] = None,
        update: bool = True,
    ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """Rays' ``t_near, t_far (R,)`` and ``len(n_proposal_samples)`` density functions -> final bins
        ``(R, n_samples + 1)`` and the rounds. ``update=False``: the densities are evaluated without
        gradients (the rounds then train nothing)."""
        if len(sigma_fns) != len(self.n_proposal_samples):
            raise ValueError(
                f"{len(self.n_proposal_samples)} proposal rounds need as many density functions, got {len(sigma_fns)}"
            )
        bins = self.initial_bins(t_near, t_far, self.n_proposal_samples[0], stratified, generator)
        rounds = []
        for i, sigma_fn in enumerate(sigma_fns):
            with torch.set_grad_enabled(update and torch.is_grad_enabled()):
                sigma = sigma_fn(bins[:, :-1], bins[:, 1:])
            weights, _, _ = render_weights_from_density(bins[:, :-1], bins[:, 1:], sigma)
            rounds.append((bins, weights))
            n_next = self.n_proposal_samples[i + 1] if i + 1 < len(sigma_fns) else self.n_samples
            bins = sample_pdf(bins, weights, n_next, stratified, generator)
        return bins, rounds

    def loss(
        self, bins: torch.Tensor, weights: torch.Tensor, rounds: list[tuple[torch.Tensor, torch.Tensor]]
    ) -> torch.Tensor:
        return sum(interlevel_loss(bins, weights, t_env, w_env) for t_env, w_env in rounds)
