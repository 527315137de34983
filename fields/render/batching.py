"""Dynamic batch size (nerfacc's examples): rays per step sized so that a step holds about a target number
of samples, since the samples per ray of an occupancy grid change by an order of magnitude in training."""

from __future__ import annotations


def dynamic_batch_size(n_rays: int, n_samples: int, target_samples: int, min_rays: int = 64,
                       max_rays: int = 1 << 16) -> int:
    """Rays for the next step: ``n_rays`` scaled by ``target_samples / n_samples`` (the samples the last
    step of ``n_rays`` rays produced), clamped to ``[min_rays, max_rays]``. A step without samples
    (empty space only) doubles the rays."""
    if n_samples <= 0:
        return int(min(max(2 * n_rays, min_rays), max_rays))
    return int(min(max(round(n_rays * target_samples / n_samples), min_rays), max_rays))
