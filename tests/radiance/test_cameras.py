"""Rays of pinhole cameras against hand-computed pixels, in both pose conventions; distortion; pose checks."""

from __future__ import annotations

import logging
import math

import pytest
import torch

from fields.errors import UserError
from fields.render.cameras import Cameras, check_facing, check_rigid, distort, generate_rays, image_rays, undistort
from fields.render.rays import SceneTransform, ray_aabb


def camera(c2w, convention, distortion=None):
    one = lambda v: torch.tensor([float(v)])  # noqa: E731
    return Cameras(torch.tensor(c2w, dtype=torch.float32)[None], one(10), one(20), one(5), one(4), 10, 8, convention,
                   None if distortion is None else torch.tensor([distortion], dtype=torch.float32))


def unit(*v):
    v = torch.tensor(v, dtype=torch.float32)
    return v / v.norm()


# a Blender camera at (0, -4, 0) looking at the origin along +y: right = x, up = z, back = -y
BLENDER = [[1, 0, 0, 0], [0, 0, -1, -4], [0, 1, 0, 0]]


@pytest.mark.parametrize("convention", ["opengl", "opencv"])
def test_identity_pose_directions(convention):
    cams = camera([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], convention)
    # pixel (7, 1): centre u = 7.5, v = 1.5 -> x = (7.5 - 5) / 10 = 0.25, y = (1.5 - 4) / 20 = -0.125
    rays = generate_rays(cams, torch.tensor([0]), torch.tensor([7.5]), torch.tensor([1.5]))
    expected = unit(0.25, -0.125, 1.0) if convention == "opencv" else unit(0.25, 0.125, -1.0)
    assert torch.allclose(rays.directions[0], expected, atol=1e-6)
    assert torch.allclose(rays.origins[0], torch.zeros(3))


def test_blender_camera_looks_at_origin():
    cams = camera(BLENDER, "opengl")
    rays = generate_rays(cams, torch.tensor([0, 0]), torch.tensor([5.0, 7.5]), torch.tensor([4.0, 1.5]))
    assert torch.allclose(rays.directions[0], torch.tensor([0.0, 1.0, 0.0]), atol=1e-6)
    # right of and above the centre: +x and +z in the world
    assert torch.allclose(rays.directions[1], unit(0.25, 1.0, 0.125), atol=1e-6)
    assert torch.allclose(rays.origins, torch.tensor([[0.0, -4.0, 0.0]] * 2))


def test_the_same_camera_in_both_conventions_gives_the_same_rays():
    gl = camera(BLENDER, "opengl")
    cv = gl.to_opencv()
    assert cv.convention == "opencv" and not torch.equal(cv.c2w, gl.c2w)
    a, b = image_rays(gl, 0), image_rays(cv, 0)
    assert a.directions.shape == (80, 3)
    assert torch.allclose(a.directions, b.directions, atol=1e-6)
    # row-major order: the second ray is one pixel to the right
    assert a.directions[1, 0] > a.directions[0, 0]


def test_distortion_inverts_and_bends_rays():
    coeffs = torch.tensor([[0.1, -0.05, 0.01, -0.02, 0.0]]).expand(50, 5)
    x, y = torch.rand(50) - 0.5, torch.rand(50) - 0.5
    xd, yd = distort(x, y, coeffs)
    xu, yu = undistort(xd, yd, coeffs)
    assert torch.allclose(xu, x, atol=1e-5) and torch.allclose(yu, y, atol=1e-5)
    plain = camera([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], "opencv")
    bent = camera([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], "opencv", [0.2, 0.0, 0.0, 0.0, 0.0])
    u, v = torch.tensor([9.5]), torch.tensor([7.5])
    d_plain = generate_rays(plain, torch.tensor([0]), u, v).directions[0]
    d_bent = generate_rays(bent, torch.tensor([0]), u, v).directions[0]
    # barrel distortion (k1 > 0) moves image points outwards: the true ray is closer to the axis
    assert d_bent[2] > d_plain[2]
    xd, yd = (9.5 - 5) / 10, (7.5 - 4) / 20
    xu, yu = d_bent[0] / d_bent[2], d_bent[1] / d_bent[2]
    r2 = xu**2 + yu**2
    assert math.isclose(float(xu * (1 + 0.2 * r2)), xd, rel_tol=1e-4) and math.isclose(
        float(yu * (1 + 0.2 * r2)), yd, rel_tol=1e-4
    )


def test_non_rigid_pose_is_a_user_error():
    good = torch.tensor(BLENDER, dtype=torch.float32)[None]
    check_rigid(good, "scene")
    scaled = good.clone()
    scaled[0, :, :3] *= 2.0
    with pytest.raises(UserError, match="frame 0 is not a rigid transform"):
        check_rigid(scaled, "scene")
    mirrored = good.clone()
    mirrored[0, :, 0] *= -1
    with pytest.raises(UserError, match="reflection"):
        check_rigid(mirrored, "scene")


def ring_of_cameras(convention):
    poses = []
    for k in range(8):
        phi = 2 * math.pi * k / 8
        pos = torch.tensor([4 * math.cos(phi), 4 * math.sin(phi), 1.0])
        back = pos / pos.norm()
        right = torch.linalg.cross(torch.tensor([0.0, 0.0, 1.0]), back)
        right = right / right.norm()
        up = torch.linalg.cross(back, right)
        poses.append(torch.stack((right, up, back, pos), 1))
    n = len(poses)
    return Cameras(torch.stack(poses), torch.full((n,), 10.0), torch.full((n,), 10.0), torch.full((n,), 5.0),
                   torch.full((n,), 5.0), 10, 10, convention)


def test_convention_mix_up_is_detected(caplog):
    with caplog.at_level(logging.WARNING, logger="fields"):
        assert check_facing(ring_of_cameras("opengl"))
        assert not caplog.records
        assert not check_facing(ring_of_cameras("opencv"))  # OpenGL poses read as OpenCV look outwards
    assert "opengl convention" in caplog.records[0].getMessage()


def test_ray_aabb_and_unit_frame():
    t0, t1, hit = ray_aabb(torch.tensor([[-1.0, 0.5, 0.5], [-1.0, 2.0, 0.5]]), torch.tensor([[1.0, 0, 0], [1.0, 0, 0]]),
                           torch.tensor([0.0, 0, 0, 1, 1, 1]))
    assert hit.tolist() == [True, False] and math.isclose(float(t0[0]), 1.0) and math.isclose(float(t1[0]), 2.0)
    transform = SceneTransform.from_aabb(torch.tensor([-2.0, -1, -1, 2, 1, 1]))
    assert transform.scale == 4.0
    p = torch.tensor([[2.0, 1.0, -1.0]])
    assert torch.allclose(transform.points_to_unit(p), torch.tensor([[1.0, 0.75, 0.25]]))
    assert torch.allclose(transform.points_to_world(transform.points_to_unit(p)), p)
