"""``rasterize_gaussians``: one view of 3D Gaussians -> RGB, alpha and expected depth, differentiable.

Camera convention: ``viewmat (4, 4)`` is world-to-camera in the OpenCV frame (x right, y down, the camera
looks along +z) and ``K (3, 3)`` the pinhole matrix in pixels, pixel ``(i, j)`` centred at ``(i + 0.5, j + 0.5)``.
For the project's posed views (camera-to-world poses in OpenGL or OpenCV convention, ``fields.render.cameras``)
``fields.render.splat.camera.view_matrices(cameras, index)`` gives ``(viewmat, K)``.

Pipeline: projection (``project.py``, torch autograd) -> tile binning and depth sort (``tiles.py``) ->
front-to-back compositing of the features ``[colour, depth]`` by the chosen backend (``backends.py``) ->
background ``rgb + (1 - alpha) * background`` and expected depth ``sum_i w_i z_i / alpha``.
"""

from __future__ import annotations

import torch

from fields.kernels.splat_cpu import bin_cpp
from fields.kernels.splat_project_cpu import project_cpp
from fields.render.splat.backends import composite_function, select_backend
from fields.render.splat.gsplat_adapter import rasterize_gsplat
from fields.render.splat.output import SplatRender
from fields.render.splat.project import Projection, project_gaussians
from fields.render.splat.tiles import TileBins, bin_gaussians


def _check(means, quats, scales, opacities, colors, viewmat, K) -> int:
    n = means.shape[0]
    shapes = {"means": (means, (n, 3)), "quats": (quats, (n, 4)), "scales": (scales, (n, 3)),
              "opacities": (opacities, (n,)), "colors": (colors, (n, 3)), "viewmat": (viewmat, (4, 4)),
              "K": (K, (3, 3))}
    for name, (t, shape) in shapes.items():
        if tuple(t.shape) != shape:
            raise ValueError(f"rasterize_gaussians: {name} has shape {tuple(t.shape)}, expected {shape}")
    return n


def rasterize_gaussians(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    viewmat: torch.Tensor,
    K: torch.Tensor,
    width: int,
    height: int,
    background: torch.Tensor | None = None,
    backend: str = "auto",
    antialiased: bool = False,
    tile_size: int = 16,
    near: float = 0.01,
    far: float = 1e10,
    eps2d: float = 0.3,
) -> SplatRender:
    """Render ``N`` Gaussians: means ``(N, 3)``, quats ``(N, 4)`` ``(w, x, y, z)`` any norm, scales ``(N, 3)``
    linear, opacities ``(N,)`` in [0, 1], colors ``(N, 3)``, one camera (see the module docstring), background
    ``(3,)`` or None (black). ``backend``: auto | torch | cpp | triton | gsplat."""
    _check(means, quats, scales, opacities, colors, viewmat, K)
    chosen = select_backend(backend, means.device)
    if chosen == "gsplat":
        result = rasterize_gsplat(means, quats, scales, opacities, colors, viewmat, K, width, height, background,
                                  antialiased, tile_size, near, far, eps2d)
        if result is not None:
            return result
        chosen = "torch"
    if chosen == "cpp" and means.dtype in (torch.float32, torch.float64):
        proj = Projection(*project_cpp(means, quats, scales.to(means.dtype), viewmat, K, width, height, near, far,
                                       eps2d, antialiased))  # fmt: skip
    else:
        proj = project_gaussians(means, quats, scales, viewmat, K, width, height, near=near, eps2d=eps2d,
                                 antialiased=antialiased, far=far)
    means2d = proj.means2d
    if means2d.requires_grad:
        means2d.retain_grad()
    opac = opacities * proj.opacity_compensation if antialiased else opacities
    features = torch.cat((colors, proj.depths[:, None].to(colors.dtype)), dim=1)
    if chosen == "cpp":
        ids, offsets = bin_cpp(means2d, proj.radii, proj.depths, width, height, tile_size)
        bins = TileBins(ids, offsets, -(-width // tile_size), -(-height // tile_size), tile_size, width, height)
    else:
        bins = bin_gaussians(means2d, proj.radii, proj.depths, width, height, tile_size)
    image, alpha = composite_function(chosen)(means2d, proj.conics, opac, features, bins)
    rgb = image[..., :3]
    if background is not None:
        rgb = rgb + (1 - alpha) * background.to(rgb)
    depth = image[..., 3:] / alpha.clamp_min(1e-10)
    return SplatRender(rgb=rgb, alpha=alpha, depth=depth, means2d=means2d, radii=proj.radii, backend=chosen)
