"""The ``cpp`` splat kernel against the torch reference: images and every gradient (means, quats, scales,
opacities, colours, the view-space ``means2d``) within 1e-4 relative in float32, on random scenes with Gaussians
behind the camera, off-screen, very large and very small, centred on tile borders, opaque stacks that stop
early and alphas clamped at 0.99, images whose size is not a multiple of the tile, and in float64."""

from __future__ import annotations

import pytest
import torch
from scenes import random_scene

from fields.kernels import splat_cpu
from fields.render.splat import Projection, bin_gaussians, project_gaussians, rasterize_gaussians

pytestmark = pytest.mark.skipif(splat_cpu.load() is None, reason="the cpp splat kernel did not build")
NAMES = ("means", "quats", "scales", "opacities", "colors")


def render_and_grads(scene: dict, backend: str, width: int, height: int, **options) -> dict[str, torch.Tensor]:
    s = {k: (v.detach().clone().requires_grad_() if k in NAMES else v) for k, v in scene.items()}
    r = rasterize_gaussians(**s, width=width, height=height, backend=backend, **options)
    assert r.backend == backend
    g = torch.Generator().manual_seed(7)
    weights = [torch.rand(t.shape, generator=g, dtype=t.dtype) for t in (r.rgb, r.alpha, r.depth)]
    loss = sum((w * t).sum() for w, t in zip(weights, (r.rgb, r.alpha, r.depth)))
    loss.backward()
    out = {"rgb": r.rgb.detach(), "alpha": r.alpha.detach(), "depth": r.depth.detach(), "means2d": r.means2d.grad}
    return out | {k: s[k].grad for k in NAMES}


def assert_parity(got: dict, want: dict, tol: float) -> None:
    for key, ref in want.items():
        err = (got[key] - ref).abs().max() / ref.abs().max().clamp_min(1e-12)
        rel = (got[key] - ref).norm() / ref.norm().clamp_min(1e-12)
        assert err <= tol and rel <= tol, f"{key}: max error {float(err):.2e}, relative {float(rel):.2e} of the scale"


@pytest.mark.parametrize(
    "n, width, height, tile_size, seed, options",
    [
        (300, 70, 45, 16, 0, {"background": torch.tensor([1.0, 1.0, 1.0])}),
        (400, 33, 50, 16, 1, {"antialiased": True}),
        (250, 64, 48, 8, 2, {"background": torch.tensor([0.1, 0.6, 0.3])}),
        (120, 17, 9, 16, 3, {}),
    ],
)
def test_cpp_matches_reference_float32(n, width, height, tile_size, seed, options):
    scene = random_scene(n, width, height, seed=seed)
    want = render_and_grads(scene, "torch", width, height, tile_size=tile_size, **options)
    got = render_and_grads(scene, "cpp", width, height, tile_size=tile_size, **options)
    assert want["alpha"].max() > 0.95 and want["alpha"].min() < 0.5
    assert_parity(got, want, 1e-4)


def test_cpp_matches_reference_opaque_stacks():
    """Dense opaque layers: most pixels stop early (T < 1e-4) and many alphas hit the 0.99 clamp."""
    scene = random_scene(600, 48, 40, seed=4)
    with torch.no_grad():
        scene["opacities"].uniform_(0.9, 1.0)
        scene["opacities"][::3] = 1.0  # o exp(-sigma) > 0.99 near their centres: the clamp
        scene["scales"].mul_(3.0)
    want = render_and_grads(scene, "torch", 48, 40)
    got = render_and_grads(scene, "cpp", 48, 40)
    assert (want["alpha"] > 0.999).float().mean() > 0.3  # T near the 1e-4 stop
    assert_parity(got, want, 1e-4)


def test_cpp_matches_reference_float64():
    scene = random_scene(200, 40, 30, seed=5, dtype=torch.float64)
    want = render_and_grads(scene, "torch", 40, 30)
    got = render_and_grads(scene, "cpp", 40, 30)
    assert_parity(got, want, 1e-10)


@pytest.mark.parametrize("width, height, tile_size", [(70, 45, 16), (31, 64, 8)])
def test_cpp_binning_equals_torch_binning(width, height, tile_size):
    s = {k: v.detach() for k, v in random_scene(500, width, height, seed=6).items()}
    s["means"][:50, 2] = s["means"][50:100, 2]  # equal depths: ties must break the same way
    proj = project_gaussians(s["means"], s["quats"], s["scales"], s["viewmat"], s["K"], width, height)
    want = bin_gaussians(proj.means2d, proj.radii, proj.depths, width, height, tile_size)
    ids, offsets = splat_cpu.bin_cpp(proj.means2d, proj.radii, proj.depths, width, height, tile_size)
    assert torch.equal(offsets, want.tile_offsets) and torch.equal(ids, want.gaussian_ids)
    assert ids.numel() > 500


def test_empty_scene_and_all_culled():
    for n in (0, 3):
        s = random_scene(n, 20, 20, seed=0)
        if n:
            with torch.no_grad():
                s["means"][:, 2] = -10.0  # all behind the camera
        r = rasterize_gaussians(**s, width=20, height=20, background=torch.ones(3), backend="cpp")
        assert torch.equal(r.rgb, torch.ones(20, 20, 3)) and r.alpha.abs().max() == 0
        r.rgb.sum().backward()
        if n:
            assert s["means"].grad.abs().max() == 0


@pytest.mark.parametrize("antialiased", [False, True])
def test_cpp_projection_matches_torch(antialiased):
    from fields.kernels.splat_project_cpu import project_cpp

    s = random_scene(2000, 97, 61, seed=8)
    with torch.no_grad():
        s["scales"][::7] *= 40.0  # huge Gaussians: the Jacobian's clamp
        s["means"][::11, 0] *= 3.0  # far off-axis
    args = (s["viewmat"], s["K"], 97, 61)
    ref = project_gaussians(s["means"], s["quats"], s["scales"], *args, antialiased=antialiased)
    got = Projection(*project_cpp(s["means"], s["quats"], s["scales"], *args, antialiased=antialiased))
    assert torch.equal(got.radii, ref.radii) and (ref.radii == 0).sum() > 10
    for key in ("means2d", "depths"):  # the same operations: equal, bit for bit, so the same tiles
        assert torch.equal(getattr(got, key), getattr(ref, key).detach()), key
    for key in ("conics", "opacity_compensation"):  # torch's vectorised sqrt is not correctly rounded (AVX512)
        want = getattr(ref, key).detach()
        torch.testing.assert_close(getattr(got, key), want, rtol=1e-5, atol=1e-5 * float(want.abs().max()))
    g = torch.Generator().manual_seed(0)
    outs = ("means2d", "conics", "depths", "opacity_compensation")
    weights = [torch.randn(getattr(ref, k).shape, generator=g) for k in outs]
    grads = []
    for proj in (ref, got):
        loss = sum((w * getattr(proj, k)).sum() for w, k in zip(weights, outs))
        grads.append(torch.autograd.grad(loss, [s["means"], s["quats"], s["scales"]]))
    for name, want, have in zip(("means", "quats", "scales"), *grads):
        err = (have - want).abs().max() / want.abs().max()
        assert err < 1e-4, f"{name}: {float(err):.2e}"


def test_cpp_projection_gradcheck_float64():
    from fields.kernels.splat_project_cpu import project_cpp

    s = random_scene(30, 40, 30, seed=9, dtype=torch.float64)
    viewmat, K = s["viewmat"], s["K"]

    def fn(means, quats, scales):
        means2d, conics, depths, _, comp = project_cpp(means, quats, scales, viewmat, K, 40, 30, antialiased=True)
        return means2d, conics, depths, comp

    assert torch.autograd.gradcheck(fn, (s["means"], s["quats"], s["scales"]), eps=1e-7, atol=1e-6, rtol=1e-5)
