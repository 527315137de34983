"""The Triton splat kernels against the torch reference: image, alpha, depth and every gradient, on scenes with
Gaussians behind the camera, off-screen, very large and very small, on tile borders, opaque stacks that stop
early, and image sizes that are not a multiple of the tile. On the CPU under Triton's interpreter at tiny sizes;
on CUDA at larger ones."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from triton_setup import DEVICE, ON_CUDA, needs_triton, rel_err

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "splat"))
from scenes import random_scene

from fields.kernels import triton_runtime, triton_splat
from fields.render.splat import rasterize_gaussians

pytestmark = needs_triton
NAMES = ("means", "quats", "scales", "opacities", "colors")
CASES = [  # n, width, height, tile size, seed, opaque
    (40, 19, 13, 8, 0, False),
    (60, 16, 16, 8, 1, True),
    (30, 21, 10, 4, 2, False),
] + ([(3000, 200, 150, 16, 3, False), (20000, 333, 250, 16, 4, True)] if ON_CUDA else [])


def render_and_grads(scene: dict, backend: str, width: int, height: int, tile_size: int) -> dict:
    s = {k: (v.detach().clone().to(DEVICE).requires_grad_() if k in NAMES else v.to(DEVICE)) for k, v in scene.items()}
    r = rasterize_gaussians(**s, width=width, height=height, background=torch.tensor([0.3, 0.6, 0.9], device=DEVICE),
                            backend=backend, tile_size=tile_size)
    assert r.backend == backend
    g = torch.Generator().manual_seed(3)
    outputs = (r.rgb, r.alpha, r.depth)
    (sum((torch.rand(t.shape, generator=g).to(DEVICE) * t).sum() for t in outputs)).backward()
    return {"rgb": r.rgb, "alpha": r.alpha, "depth": r.depth, "means2d": r.means2d.grad} | {k: s[k].grad for k in NAMES}


@pytest.mark.parametrize("n, width, height, tile_size, seed, opaque", CASES)
def test_triton_matches_reference(n, width, height, tile_size, seed, opaque, monkeypatch):
    monkeypatch.setitem(triton_splat.LAUNCH, "GROUP", 8 if ON_CUDA else 4)
    triton_runtime.reset(triton_splat.NAME)
    scene = random_scene(n, width, height, seed=seed)
    if opaque:
        with torch.no_grad():
            scene["opacities"].uniform_(0.9, 1.0)
            scene["opacities"][::3] = 1.0
            scene["scales"].mul_(3.0)
    want = render_and_grads(scene, "torch", width, height, tile_size)
    launches = []
    apply = triton_splat._Composite.apply
    monkeypatch.setattr(triton_splat._Composite, "apply", lambda *a: launches.append(1) or apply(*a))
    got = render_and_grads(scene, "triton", width, height, tile_size)
    assert launches, "the triton kernels did not run"
    assert triton_runtime.failure(triton_splat.NAME) is None, triton_runtime.failure(triton_splat.NAME)
    assert want["alpha"].max() > 0.5  # something is drawn
    for key, ref in want.items():
        assert rel_err(got[key], ref) < 1e-4, key
