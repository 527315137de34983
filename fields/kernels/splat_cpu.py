"""The ``cpp`` backend of the splat rasterizer: tile binning (``splat_tiles_cpu.cpp``), compositing
(``splat_cpu.cpp``) and its analytic backward pass (``splat_backward_cpu.cpp``), parallel over tiles, in one
C++/OpenMP library with the projection (``splat_project_cpu.cpp``, wrapped by ``splat_project_cpu.py``).

Built on first use into ``TORCH_EXTENSIONS_DIR`` and called through ``ctypes`` exactly like the grid kernel
(``grid_cpu.py``: only ``<ATen/Parallel.h>``, a few seconds to build); a failed build is logged once and the
renderer falls back to the torch reference. Second derivatives are not provided.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import threading
import time
from pathlib import Path
from typing import Any

import torch

from fields.kernels.cpp_build import CFLAGS as BASE_CFLAGS, failure_text, load_extension

log = logging.getLogger("fields")
HERE = Path(__file__).parent
SOURCES = [HERE / f"splat_{name}.cpp" for name in ("cpu", "backward_cpu", "project_cpu", "tiles_cpu")]
HEADERS = [HERE / "splat_common.h"]
MAX_CHANNELS = 32
# the pixel loops vectorise (cpp_build's flags: this processor's vectors, -fno-trapping-math to if-convert)
CFLAGS = BASE_CFLAGS


class _Build:
    module: dict[torch.dtype, Any] | None = None
    project: dict[torch.dtype, Any] | None = None
    bin: dict[torch.dtype, Any] | None = None
    depth_order: Any = None
    error: str | None = None
    lock = threading.Lock()


def load(required: bool = False) -> Any:
    """The compiled entry points (per dtype), built on the first call of the process; ``None`` when they
    cannot be built (logged once; with ``required`` a ``RuntimeError``)."""
    with _Build.lock:
        if _Build.module is None and _Build.error is None:
            started = time.perf_counter()
            try:
                # torch rebuilds when a listed source changes, not a header: the name carries a hash of all files
                digest = hashlib.sha1(b"".join(p.read_bytes() for p in SOURCES + HEADERS)).hexdigest()[:10]
                path = load_extension(f"fields_splat_cpu_{digest}", [str(p) for p in SOURCES],
                                      extra_cflags=CFLAGS, extra_ldflags=["-fopenmp"])  # fmt: skip
                lib = ctypes.CDLL(path)
                _Build.project = {torch.float32: lib.fields_splat_project_f32,
                                  torch.float64: lib.fields_splat_project_f64}
                _Build.module = {torch.float32: lib.fields_splat_f32, torch.float64: lib.fields_splat_f64}
                _Build.bin = {torch.float32: lib.fields_splat_bin_f32, torch.float64: lib.fields_splat_bin_f64}
                for fn in (*_Build.module.values(), *_Build.project.values(), *_Build.bin.values()):
                    fn.restype = ctypes.c_int
                _Build.depth_order = lib.fields_splat_depth_order_f32
                _Build.depth_order.restype = ctypes.c_int64
                log.info("cpp splat kernel ready (%.1f s to build or load)", time.perf_counter() - started)
            except Exception as err:  # noqa: BLE001  (no compiler, no ninja, a compile error: torch still works)
                _Build.error = failure_text(err)
                log.warning("cpp splat kernel unavailable, using the torch path (%s)", _Build.error)
    if _Build.module is None and required:
        raise RuntimeError(f"backend cpp requested but its splat kernel did not build: {_Build.error}")
    return _Build.module


def unavailable_reason() -> str | None:
    """Why the kernel could not be built (after ``load``), or ``None``."""
    return _Build.error


def _p(t: torch.Tensor | None) -> ctypes.c_void_p:
    return ctypes.c_void_p(None if t is None else t.data_ptr())


def _call(dtype: torch.dtype, mode: int, *, data=None, ids=None, offsets=None, layout=None, image=None, trans=None,
          last=None, grad_image=None, grad_alpha=None, isect_grad=None, m=0, g_packed=None) -> None:
    rc = _Build.module[dtype](
        ctypes.c_int(mode), _p(data), _p(ids), _p(offsets), _p(layout), _p(image), _p(trans), _p(last), _p(grad_image),
        _p(grad_alpha), _p(isect_grad), ctypes.c_int64(m), _p(g_packed),
    )  # fmt: skip
    if rc != 0:
        raise RuntimeError(f"cpp splat kernel failed (code {rc}, mode {mode})")


def _layout(bins, channels: int) -> torch.Tensor:
    return torch.tensor([bins.width, bins.height, bins.tiles_x, bins.tiles_y, bins.tile_size, channels],
                        dtype=torch.int64)


def bin_cpp(means2d: torch.Tensor, radii: torch.Tensor, depths: torch.Tensor, width: int, height: int,
            tile_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(gaussian_ids (M,), tile_offsets (tiles + 1,))`` as ``fields.render.splat.tiles.bin_gaussians`` makes them
    (same rectangles, same depth order with ties by index),
    by a counting sort per tile of the Gaussians taken in depth order: one radix sort of the visible depths
    (float32; ``torch.sort`` for float64), no sort of the ``M`` intersections."""
    means2d = means2d.detach().contiguous()
    tiles_x, tiles_y = -(-width // tile_size), -(-height // tile_size)
    layout = torch.tensor([width, height, tiles_x, tiles_y, tile_size, 1], dtype=torch.int64)
    radii = radii.to(torch.int32).contiguous()
    offsets = torch.zeros(tiles_x * tiles_y + 1, dtype=torch.int64)
    fn, n = _Build.bin[means2d.dtype], ctypes.c_int64(means2d.shape[0])
    rc = fn(_p(means2d), _p(radii), _p(None), n, n, _p(layout), _p(offsets), _p(None))  # pass 1: counts -> offsets
    if depths.dtype == torch.float32:
        order = torch.empty(means2d.shape[0], dtype=torch.int64)
        n_order = _Build.depth_order(_p(depths.detach().contiguous()), _p(radii), n, _p(order))
    else:
        order = torch.sort(depths.detach(), stable=True).indices.contiguous()
        n_order = means2d.shape[0]
    ids = torch.empty(int(offsets[-1]), dtype=torch.int64)
    rc = rc or fn(_p(means2d), _p(radii), _p(order), n, ctypes.c_int64(n_order), _p(layout), _p(offsets), _p(ids))
    if rc != 0:
        raise RuntimeError(f"cpp splat binning failed (code {rc})")
    return ids, offsets


class _Composite(torch.autograd.Function):
    @staticmethod
    def forward(ctx, means2d, conics, opacities, features, bins):
        dtype, channels = features.dtype, features.shape[1]
        # one row per Gaussian: [mean2d, conic, opacity, features]
        data = torch.cat((means2d.detach(), conics.detach(), opacities.detach()[:, None], features.detach()), dim=1)
        ids, offsets = bins.gaussian_ids.contiguous(), bins.tile_offsets.contiguous()
        layout = _layout(bins, channels)
        image = torch.empty(bins.height, bins.width, channels, dtype=dtype)
        trans = torch.empty(bins.height, bins.width, dtype=dtype)
        last = torch.empty(bins.height, bins.width, dtype=torch.int32)
        _call(dtype, 0, data=data, ids=ids, offsets=offsets, layout=layout, image=image, trans=trans, last=last)
        ctx.save_for_backward(data, ids, offsets, trans, last)
        ctx.layout = layout
        return image, (1 - trans)[..., None]

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_image, grad_alpha):
        data, ids, offsets, trans, last = ctx.saved_tensors
        dtype, row = data.dtype, data.shape[1]
        channels = row - 6
        shape = (*trans.shape, channels)
        gi = (torch.zeros(shape, dtype=dtype) if grad_image is None else grad_image.to(dtype)).contiguous()
        ga = (torch.zeros_like(trans) if grad_alpha is None else grad_alpha[..., 0]).to(dtype).contiguous()
        m = ids.shape[0]
        isect = torch.zeros(m, row, dtype=dtype)
        packed = torch.zeros_like(data)
        _call(dtype, 1, data=data, ids=ids, offsets=offsets, layout=ctx.layout, trans=trans, last=last, grad_image=gi,
              grad_alpha=ga, isect_grad=isect, m=m, g_packed=packed)
        g_means2d, g_conics, g_opac, g_feats = packed.split([2, 3, 1, channels], dim=1)
        return g_means2d, g_conics, g_opac[:, 0], g_feats, None


def supports(features: torch.Tensor) -> bool:
    """Whether the kernel applies: CPU tensors, float32/float64, 1 to 32 feature channels."""
    return (features.device.type == "cpu" and features.dtype in (torch.float32, torch.float64)
            and 1 <= features.shape[1] <= MAX_CHANNELS)


def composite_cpp(means2d: torch.Tensor, conics: torch.Tensor, opacities: torch.Tensor, features: torch.Tensor,
                  bins) -> tuple[torch.Tensor, torch.Tensor]:
    """As ``fields.render.splat.composite.composite_torch``: image ``(H, W, C)`` (no background), alpha
    ``(H, W, 1)``, differentiable once. ``bins``: a ``TileBins`` (its ``gaussian_ids``, ``tile_offsets``, ``width``,
    ``height``, ``tiles_x``, ``tiles_y``, ``tile_size``). Call ``load()`` first."""
    if _Build.module is None:
        raise RuntimeError("composite_cpp called before a successful load()")
    if not supports(features):
        raise ValueError(f"composite_cpp: unsupported features {tuple(features.shape)} {features.dtype} "
                         f"on {features.device}")
    dtype = features.dtype
    return _Composite.apply(means2d.to(dtype), conics.to(dtype), opacities.to(dtype), features, bins)
