"""The torch reference rasterizer: projection against a direct per-Gaussian computation, compositing against a
per-pixel sequential loop, culling, the camera helper, ``means2d.grad`` and ``gradcheck`` in float64."""

from __future__ import annotations

import math

import pytest
import torch
from scenes import camera, random_scene

from fields.render.cameras import Cameras
from fields.render.splat import bin_gaussians, project_gaussians, rasterize_gaussians, view_matrices
from fields.render.splat.project import quat_to_rotmat
from fields.render.splat.tiles import tile_ranges


def sequential_composite(proj, opacities, features, width, height, tile_size):
    """Per-pixel loop over all Gaussians in depth order whose tile rectangle holds the pixel's tile."""
    tiles_x, tiles_y = -(-width // tile_size), -(-height // tile_size)
    x0, y0, x1, y1 = tile_ranges(proj.means2d, proj.radii, tiles_x, tiles_y, tile_size)
    order = torch.sort(proj.depths, stable=True).indices.tolist()
    image = torch.zeros(height, width, features.shape[1], dtype=features.dtype)
    alpha_img = torch.zeros(height, width, 1, dtype=features.dtype)
    m, c = proj.means2d.tolist(), proj.conics.tolist()
    for row in range(height):
        for col in range(width):
            tx, ty, T = col // tile_size, row // tile_size, 1.0
            acc = torch.zeros(features.shape[1], dtype=features.dtype)
            for i in order:
                if not (x0[i] <= tx < x1[i] and y0[i] <= ty < y1[i]):
                    continue
                dx, dy = m[i][0] - (col + 0.5), m[i][1] - (row + 0.5)
                sigma = 0.5 * (c[i][0] * dx * dx + c[i][2] * dy * dy) + c[i][1] * dx * dy
                a = min(0.99, float(opacities[i]) * math.exp(-sigma))
                if sigma < 0 or a < 1 / 255:
                    continue
                if T * (1 - a) <= 1e-4:
                    break
                acc += features[i] * a * T
                T *= 1 - a
            image[row, col], alpha_img[row, col, 0] = acc, 1 - T
    return image, alpha_img


def test_projection_matches_direct_formula():
    s = random_scene(40, 64, 48, seed=3, dtype=torch.float64)
    s = {k: v.detach() for k, v in s.items()}
    proj = project_gaussians(s["means"], s["quats"], s["scales"], s["viewmat"], s["K"], 64, 48)
    R = quat_to_rotmat(s["quats"])
    cov = R @ torch.diag_embed(s["scales"] ** 2) @ R.transpose(1, 2)
    K = s["K"]
    for i in torch.nonzero(proj.radii).flatten().tolist():
        p = s["viewmat"][:3, :3] @ s["means"][i] + s["viewmat"][:3, 3]
        assert proj.depths[i] == pytest.approx(float(p[2]))
        u = K[:2, :2] @ (p[:2] / p[2]) + K[:2, 2]
        assert torch.allclose(proj.means2d[i], u)
        x, y, z = p.tolist()
        if abs(x / z) < 0.5 and abs(y / z) < 0.4:  # inside the Jacobian's clamp
            J = torch.tensor([[K[0, 0] / z, 0, -K[0, 0] * x / z**2], [0, K[1, 1] / z, -K[1, 1] * y / z**2]],
                             dtype=torch.float64)
            c2 = J @ cov[i] @ J.T + 0.3 * torch.eye(2, dtype=torch.float64)
            inv = torch.linalg.inv(c2)
            assert torch.allclose(proj.conics[i], torch.stack((inv[0, 0], inv[0, 1], inv[1, 1])))
    assert proj.radii[:3].tolist() == [0, 0, 0]  # behind the camera, inside the near plane, far off-screen
    assert proj.radii[3] > 0 and proj.radii[4] > 20 and proj.radii[5] >= 1


@pytest.mark.parametrize("width, height, tile_size", [(37, 29, 16), (24, 24, 8)])
def test_composite_matches_sequential_loop(width, height, tile_size):
    s = random_scene(60, width, height, seed=1, dtype=torch.float64)
    s = {k: v.detach() for k, v in s.items()}
    proj = project_gaussians(s["means"], s["quats"], s["scales"], s["viewmat"], s["K"], width, height)
    features = torch.cat((s["colors"], proj.depths[:, None]), 1)
    from fields.render.splat.composite import composite_torch

    bins = bin_gaussians(proj.means2d, proj.radii, proj.depths, width, height, tile_size)
    with torch.no_grad():
        image, alpha = composite_torch(proj.means2d, proj.conics, s["opacities"], features, bins)
        want_image, want_alpha = sequential_composite(proj, s["opacities"], features, width, height, tile_size)
    assert alpha.max() > 0.9 and (alpha < 0.5).any()  # a scene with both opaque and empty pixels
    torch.testing.assert_close(image, want_image, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(alpha, want_alpha, rtol=1e-10, atol=1e-10)


def test_render_outputs_and_view_space_gradient():
    s = random_scene(200, 50, 40, seed=2)
    r = rasterize_gaussians(**s, width=50, height=40, background=torch.ones(3), backend="torch")
    assert r.rgb.shape == (40, 50, 3) and r.alpha.shape == (40, 50, 1) and r.depth.shape == (40, 50, 1)
    assert r.backend == "torch" and r.radii.dtype == torch.int32
    seen = r.alpha[..., 0] > 0.5
    assert ((r.depth[seen] > 2.0) & (r.depth[seen] < 6.0)).all()  # the scene lies at z in [2.5, 5.5]
    assert torch.allclose(r.rgb[~seen.any(1)], torch.ones(3)) if (~seen).all(1).any() else True
    (r.rgb.sum() + r.depth.sum()).backward()
    grad = r.means2d.grad
    assert grad is not None and grad.shape == (200, 2)
    assert (grad[r.radii == 0] == 0).all() and grad[r.radii > 0].abs().sum() > 0
    for name in ("means", "quats", "scales", "opacities", "colors"):
        assert torch.isfinite(s[name].grad).all(), name


def test_view_matrices_agree_with_rays():
    """A world point on the ray of pixel (u, v) projects to (u, v), for both pose conventions."""
    c2w = torch.tensor([[[0.0, 0.0, 1.0, 3.0], [1.0, 0.0, 0.0, -1.0], [0.0, 1.0, 0.0, 0.5]]])
    from fields.render.cameras import generate_rays

    for convention in ("opengl", "opencv"):
        cams = Cameras(c2w, torch.tensor([50.0]), torch.tensor([55.0]), torch.tensor([20.0]), torch.tensor([15.0]),
                       40, 30, convention=convention)
        u, v = torch.tensor([3.5, 30.5]), torch.tensor([7.5, 22.5])
        rays = generate_rays(cams, torch.zeros(2, dtype=torch.long), u, v)
        points = rays.origins + 2.5 * rays.directions
        viewmat, K = view_matrices(cams, 0)
        quats, scales = torch.tensor([[1.0, 0, 0, 0]] * 2), torch.full((2, 3), 0.01)
        proj = project_gaussians(points, quats, scales, viewmat, K, 40, 30)
        torch.testing.assert_close(proj.means2d, torch.stack((u, v), -1), atol=1e-4, rtol=0)
        assert (proj.depths > 0).all()


@pytest.mark.parametrize("antialiased", [False, True])
def test_gradcheck_float64(antialiased):
    s = random_scene(6, 10, 9, seed=5, dtype=torch.float64, hard=False)
    s["means"].data[:, 2] = torch.linspace(-0.5, 0.5, 6, dtype=torch.float64)
    s["scales"].data.fill_(0.15)
    s["opacities"].data.clamp_(0.2, 0.8)
    viewmat, K = camera(10, 9, torch.float64)
    names = ("means", "quats", "scales", "opacities", "colors")

    def render(*tensors):
        background = torch.tensor([0.2, 0.5, 0.9], dtype=torch.float64)
        r = rasterize_gaussians(*tensors, viewmat, K, 10, 9, background=background,
                                backend="torch", antialiased=antialiased, tile_size=4)
        return r.rgb, r.alpha, r.depth

    assert torch.autograd.gradcheck(render, tuple(s[k] for k in names), eps=1e-6, atol=1e-5, rtol=1e-4,
                                    fast_mode=True)
