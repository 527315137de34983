"""The MCMC densification strategy (Kheradmand et al. 2024, "3D Gaussian Splatting as Markov Chain Monte
Carlo"; gsplat's ``MCMCStrategy``): ``render.strategy: {type: mcmc}``.

Every ``refine_every`` steps from ``refine_start`` to ``refine_stop``, Gaussians with opacity at most
``min_opacity`` are relocated onto live ones drawn in proportion to opacity, and ``grow_rate`` more are
added the same way up to ``cap``; a Gaussian copied ``n - 1`` times shares its opacity and scale so that
the ``n`` copies render as the original did (the paper's binomial relocation formula). After every
optimiser step the means get noise shaped by their covariance, scaled by the current position learning
rate times ``noise_lr`` and gated by opacity (transparent Gaussians explore). Opacity and scale L1
regularisers keep Gaussians from saturating.
"""

from __future__ import annotations

import math

import torch

from fields.render.splat_settings import MCMCStrategyConfig
from fields.models.gaussians import Gaussians, quat_to_rotmat
from fields.tasks.splat_optim import current_lr, rebuild, reset_moments
from fields.tasks.splat_strategy import STRATEGIES, Strategy

N_MAX = 51  # copies per relocated Gaussian at most (gsplat's bound)


def relocation(
    opacities: torch.Tensor, scales: torch.Tensor, ratios: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Opacity ``(M,)`` and scales ``(M, 3)`` for each of ``ratios (M,)`` copies of a Gaussian, so that
    the copies together match the original (Kheradmand et al., eq. 9)."""
    ratios = ratios.clamp(1, N_MAX).to(opacities.dtype)
    new_opacity = 1.0 - (1.0 - opacities) ** (1.0 / ratios)
    denom = torch.zeros_like(opacities)
    for i in range(1, N_MAX + 1):
        active = ratios >= i
        if not active.any():
            break
        for k in range(i):
            term = math.comb(i - 1, k) * (-1.0) ** k / math.sqrt(k + 1) * new_opacity ** (k + 1)
            denom = denom + torch.where(active, term, torch.zeros_like(term))
    coeff = opacities / denom.clamp_min(1e-12)
    return new_opacity, scales * coeff[:, None]


@STRATEGIES.register("mcmc")
class MCMCStrategy(Strategy):
    Config = MCMCStrategyConfig

    def regularization(self, gaussians: Gaussians) -> torch.Tensor | float:
        cfg = self.config
        return cfg.opacity_reg * gaussians.opacities.mean() + cfg.scale_reg * gaussians.scales.mean()

    @torch.no_grad()
    def post_step(
        self, gaussians: Gaussians, optimizer: torch.optim.Optimizer | None, step: int, generator: torch.Generator
    ) -> None:
        cfg, done = self.config, step + 1
        if cfg.refine_start < done < cfg.refine_stop and done % cfg.refine_every == 0:
            relocated = self.relocate(gaussians, optimizer, generator)
            added = self.add(gaussians, optimizer, generator)
            self.last_refine = {"step": done, "relocated": relocated, "added": added, "count": len(gaussians)}
        self.inject_noise(gaussians, current_lr(optimizer, "means") * cfg.noise_lr, generator)

    def _draw(self, weights: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
        return torch.multinomial(weights.detach().cpu().float(), n, replacement=True, generator=generator).to(
            weights.device
        )

    def _share(
        self, gaussians: Gaussians, optimizer: torch.optim.Optimizer | None, sampled: torch.Tensor, n_total: int
    ) -> None:
        """The drawn Gaussians (each drawn ``c`` times, so ``c + 1`` copies) take the shared opacity/scale."""
        ratios = torch.bincount(sampled, minlength=n_total)[sampled] + 1
        opacity, scales = relocation(gaussians.opacities[sampled], gaussians.scales[sampled], ratios)
        opacity = opacity.clamp(self.config.min_opacity, 1.0 - 1e-6)
        gaussians.opacity_logits[sampled] = torch.logit(opacity)
        gaussians.log_scales[sampled] = scales.clamp_min(1e-12).log()
        for name in ("opacity_logits", "log_scales"):
            reset_moments(optimizer, name, sampled)

    def relocate(
        self, gaussians: Gaussians, optimizer: torch.optim.Optimizer | None, generator: torch.Generator
    ) -> int:
        opacities = gaussians.opacities
        dead = (opacities <= self.config.min_opacity).nonzero().flatten()
        alive = (opacities > self.config.min_opacity).nonzero().flatten()
        if not len(dead) or not len(alive):
            return 0
        sampled = alive[self._draw(opacities[alive], len(dead), generator)]
        self._share(gaussians, optimizer, sampled, len(gaussians))
        for name, value in gaussians.tensors().items():
            value[dead] = value[sampled]
            reset_moments(optimizer, name, sampled)
            reset_moments(optimizer, name, dead)
        return len(dead)

    def add(self, gaussians: Gaussians, optimizer: torch.optim.Optimizer | None, generator: torch.Generator) -> int:
        n = len(gaussians)
        n_new = max(0, min(self.config.cap, int((1.0 + self.config.grow_rate) * n)) - n)
        if not n_new:
            return 0
        sampled = self._draw(gaussians.opacities, n_new, generator)
        self._share(gaussians, optimizer, sampled, n)
        new = {k: v[sampled] for k, v in gaussians.tensors().items()}
        keep = torch.ones(n, dtype=torch.bool, device=gaussians.means.device)
        rebuild(gaussians, optimizer, keep, new)
        self.resized(keep, n_new)
        return n_new

    def inject_noise(self, gaussians: Gaussians, scale: float, generator: torch.Generator) -> None:
        if scale <= 0:
            return
        gate = torch.sigmoid(100.0 * ((1.0 - gaussians.opacities) - (1.0 - self.config.min_opacity)))
        rot = quat_to_rotmat(gaussians.quats)
        m = rot * gaussians.scales[:, None, :]
        covariance = m @ m.transpose(1, 2)
        noise = torch.randn(gaussians.means.shape, generator=generator).to(gaussians.means) * gate[:, None] * scale
        gaussians.means += (covariance @ noise[:, :, None])[:, :, 0]
