"""Adapter to nerfacc's CUDA volume rendering (``backend: nerfacc``).

Used only when nerfacc imports *and* its CUDA extension loads and runs on a CUDA device; otherwise the
torch reference is used, with one logged line that says why. nerfacc 0.5.3 as released does not compile
with CUDA 13 (see DESIGN.md), so the fallback is the common case. Same inputs and outputs as
``fields.render.volume_rendering`` (packed layout), so parity tests can compare the two.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

import torch

log = logging.getLogger("fields")
_STATE: dict[str, Any] = {}


def load_nerfacc(required: bool = False) -> Optional[Any]:
    """The nerfacc module when its CUDA ops work here, else None (logged once; raises when ``required``)."""
    if "module" not in _STATE:
        module, reason = None, ""
        if not torch.cuda.is_available():
            reason = "no CUDA device"
        else:
            try:
                import nerfacc  # noqa: F401 - optional native package

                # the extension is compiled or loaded on first use: run one tiny op to find out
                t = torch.zeros(2, device="cuda")
                nerfacc.render_weight_from_density(t, t + 0.1, t + 1.0, ray_indices=torch.zeros(2, dtype=torch.long, device="cuda"), n_rays=1)
                module = nerfacc
            except Exception as err:  # ImportError, compile errors, missing symbols: all mean "not usable"
                reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        _STATE["module"], _STATE["reason"] = module, reason
        if module is None:
            log.info("renderer backend: torch (nerfacc unusable: %s)", reason)
        else:
            log.info("renderer backend: nerfacc %s", getattr(module, "__version__", ""))
    if _STATE["module"] is None and required:
        raise RuntimeError(f"backend nerfacc requested but unusable: {_STATE['reason']}")
    return _STATE["module"]


def resolve_backend(name: str, device: torch.device) -> str:
    """``auto|torch|nerfacc`` -> the backend used for rays on ``device``."""
    if name == "torch" or device.type != "cuda":
        if name == "nerfacc" and device.type != "cuda":
            log.info("renderer backend: torch (nerfacc needs a CUDA device)")
        return "torch"
    return "nerfacc" if load_nerfacc(required=False) is not None else "torch"


def render_weights_from_density(t_starts: torch.Tensor, t_ends: torch.Tensor, sigmas: torch.Tensor,
                                ray_indices: torch.Tensor, n_rays: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """nerfacc's packed weights: ``(weights, transmittance, alphas)`` like the torch reference."""
    nerfacc = load_nerfacc(required=True)
    weights, trans, alphas = nerfacc.render_weight_from_density(t_starts, t_ends, sigmas, ray_indices=ray_indices, n_rays=n_rays)
    return weights, trans, alphas
