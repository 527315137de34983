"""tiny-cuda-nn adapter for the hash grid: the same table, evaluated by tiny-cuda-nn's CUDA kernels.

The encoder's own ``params`` stay the trained parameters (tiny-cuda-nn's ``HashGrid`` stores levels in
the same order and sizes), so checkpoints and backends are interchangeable. Imported lazily.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import torch

log = logging.getLogger("fields")


def tcnn_hashgrid(grid: Any, required: bool = False) -> Callable[[torch.Tensor], torch.Tensor] | bool:
    """A function ``x (N, d) on CUDA -> (N, out_dim)`` using tiny-cuda-nn, or ``False`` (logged) when
    tinycudann is missing or broken. With ``required`` a missing build is an error."""
    try:
        import tinycudann as tcnn
        from tinycudann.modules import _module_function

        cfg = grid.config
        encoding = tcnn.Encoding(
            grid.in_dim,
            {
                "otype": "HashGrid",
                "n_levels": cfg.n_levels,
                "n_features_per_level": cfg.n_features_per_level,
                "log2_hashmap_size": cfg.log2_hashmap_size,
                "base_resolution": cfg.base_resolution,
                "per_level_scale": cfg.level_scale_factor(),
                "interpolation": "Smoothstep" if cfg.interpolation == "smoothstep" else "Linear",
            },
            dtype=torch.float32,
        )
        if encoding.params.numel() != grid.params.numel():
            raise RuntimeError(f"tinycudann table has {encoding.params.numel()} values, ours {grid.params.numel()}")
    except Exception as err:  # ImportError or a broken build
        if required:
            raise RuntimeError(f"backend tcnn requested but unusable: {err}") from err
        log.info(
            "hashgrid backend: torch (tinycudann unusable: %s)",
            str(err).splitlines()[0] if str(err) else type(err).__name__,
        )
        return False
    log.info("tinycudann %s loaded", getattr(tcnn, "__version__", ""))

    def forward(x: torch.Tensor) -> torch.Tensor:
        params = grid.params.reshape(-1).to(torch.float32).contiguous()
        return _module_function.apply(encoding.native_tcnn_module, x.contiguous(), params, encoding.loss_scale)

    return forward
