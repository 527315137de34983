"""The compositing backends behind ``rasterize_gaussians``, chosen once per (request, device) and logged once.

- ``torch``: the plain-PyTorch reference (``composite.py``), everywhere.
- ``cpp``: the fused C++/OpenMP kernel (``fields/kernels/splat_cpu``), CPU, compiled on first use.
- ``triton``: Triton kernels (``fields/kernels/triton_splat``), CUDA (or CPU under ``TRITON_INTERPRET=1``, tests).
- ``gsplat``: gsplat's CUDA rasterizer (projection included), when ``gsplat`` imports and the tensors are on CUDA.

``auto`` picks ``cpp`` on CPU and ``triton`` (else ``gsplat``) on CUDA; a backend that cannot run falls back to
the next with one logged line, ending at ``torch``.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable

import torch

from fields.errors import UserError
from fields.kernels import splat_cpu
from fields.kernels.splat_cpu import composite_cpp
from fields.kernels.triton_runtime import interpreting
from fields.kernels.triton_splat import composite_triton
from fields.render.splat.composite import composite_torch

log = logging.getLogger("fields")
BACKENDS = ("auto", "torch", "cpp", "triton", "gsplat")
_chosen: dict[tuple[str, str], str] = {}


def _cpp_ok() -> bool:
    return splat_cpu.load() is not None


def _triton_ok() -> bool:
    return importlib.util.find_spec("triton") is not None


def _interpreting() -> bool:
    """Triton's interpreter on CPU (``TRITON_INTERPRET=1``): the parity tests run the triton backend there."""
    return interpreting()


def _gsplat_ok() -> bool:
    try:
        import gsplat  # noqa: F401  (its CUDA ops build or load lazily on the first call)
    except Exception as err:  # noqa: BLE001  (ImportError, or a broken CUDA build raising anything)
        log.debug("gsplat unavailable: %s", err)
        return False
    return True


CHECKS: dict[str, Callable[[], bool]] = {"cpp": _cpp_ok, "triton": _triton_ok, "gsplat": _gsplat_ok,
                                         "torch": lambda: True}


def select_backend(requested: str, device: torch.device) -> str:
    """The backend to use for ``requested`` on ``device`` (cached; the choice is logged once)."""
    if requested not in BACKENDS:
        raise UserError(f"unknown splat backend {requested!r}; choose one of {', '.join(BACKENDS)}")
    key = (requested, device.type)
    if key not in _chosen:
        cuda = device.type == "cuda"
        if requested == "auto":
            candidates = ["triton", "gsplat", "torch"] if cuda else ["cpp", "torch"]
        else:
            candidates = [requested, "torch"]
        chosen = "torch"
        for name in candidates:
            if name in ("triton", "gsplat") and not cuda and not (name == "triton" and _interpreting()):
                if name == requested:
                    log.warning("splat backend %s needs CUDA tensors; falling back to torch", name)
                continue
            if CHECKS[name]():
                chosen = name
                break
            log.warning("splat backend %s unavailable; trying the next", name)
        log.info("splat rasterizer: %s backend on %s", chosen, device.type)
        _chosen[key] = chosen
    return _chosen[key]


def composite_function(backend: str) -> Callable:
    """``f(means2d, conics, opacities, features, bins) -> (image (H, W, C), alpha (H, W, 1))`` of a backend (the
    triton one falls back to the torch reference, one logged line, when its kernels cannot run)."""
    if backend == "cpp":
        return composite_cpp
    if backend == "triton":
        def composite(means2d, conics, opacities, features, bins):
            out = composite_triton(means2d, conics, opacities, features, bins, composite_torch)
            return composite_torch(means2d, conics, opacities, features, bins) if out is None else out

        return composite
    return composite_torch
