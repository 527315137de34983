"""The Gaussians field without a rasterizer: SH colour, the standard .ply layout, checkpoints of any size."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from fields.encoders.sh import spherical_harmonics
from fields.errors import UserError
from fields.models.gaussians import Gaussians, quat_to_rotmat
from fields.models.gaussians_ply import read_ply, splat_properties, splat_tensors, write_splat_ply
from fields.models.gaussians_sh import eval_sh, rgb_to_sh, sh_basis
from fields.models.registry import MODELS


def random_gaussians(n: int = 50, degree: int = 3) -> Gaussians:
    config = MODELS.validate({"type": "gaussians", "sh_degree": degree})
    g = Gaussians(config, torch.randn(n, 3), torch.rand(n, 3))
    with torch.no_grad():
        for p in g.parameters():
            p.copy_(torch.randn_like(p))
    return g


def test_sh_basis_is_orthonormal_and_matches_tiny_cuda_nn_up_to_sign():
    d = torch.nn.functional.normalize(torch.randn(200_000, 3, dtype=torch.float64), dim=-1)
    basis = sh_basis(d, 3)
    gram = basis.T @ basis * (4 * math.pi / len(d))  # Monte Carlo integral over the sphere
    assert torch.allclose(gram, torch.eye(16, dtype=torch.float64), atol=0.03)
    tcnn = spherical_harmonics(d[:100], 4)
    assert torch.allclose(basis[:100].abs(), tcnn.abs(), atol=1e-9)


def test_sh_colour_degree_zero_is_the_rgb_and_higher_bands_vary_with_direction():
    rgb = torch.rand(10, 3)
    coeffs = torch.zeros(10, 16, 3)
    coeffs[:, 0] = rgb_to_sh(rgb)
    assert torch.allclose(eval_sh(coeffs, torch.randn(10, 3), 3), rgb, atol=1e-6)
    coeffs[:, 1:] = torch.randn(10, 15, 3) * 0.1
    a, b = eval_sh(coeffs, torch.ones(10, 3), 3), eval_sh(coeffs, -torch.ones(10, 3), 3)
    assert (a - b).abs().max() > 1e-3
    assert torch.allclose(eval_sh(coeffs, torch.randn(10, 3), 0), rgb, atol=1e-6)  # bands above the degree unused


def test_ply_round_trip_is_exact_and_header_is_the_standard_layout(tmp_path: Path):
    g = random_gaussians(37)
    path = write_splat_ply(tmp_path / "splat.ply", g.tensors())
    raw = path.read_bytes()
    header = raw[: raw.index(b"end_header\n") + len(b"end_header\n")].decode().splitlines()
    assert header[:3] == ["ply", "format binary_little_endian 1.0", "element vertex 37"]
    names = [line.split()[2] for line in header[3:-1]]
    assert all(line.startswith("property float ") for line in header[3:-1])
    assert names == (
        ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
        + [f"f_rest_{i}" for i in range(45)]
        + ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    )
    assert names == splat_properties(15)
    assert len(raw) - len("\n".join(header)) - 1 == 37 * 62 * 4
    vertex = read_ply(path)
    # f_rest is channel-major: f_rest_0..14 are red's 15 coefficients
    assert np.array_equal(vertex["f_rest_1"], g.sh_rest[:, 1, 0].detach().numpy())
    assert np.array_equal(vertex["f_rest_15"], g.sh_rest[:, 0, 1].detach().numpy())
    back = splat_tensors(vertex, 3)
    for name, value in g.tensors().items():
        assert torch.equal(back[name], value.detach()), name


def test_ply_of_lower_degree_is_padded_and_bad_files_are_user_errors(tmp_path: Path):
    g = random_gaussians(5, degree=1)
    path = write_splat_ply(tmp_path / "d1.ply", g.tensors())
    back = splat_tensors(read_ply(path), 3)
    assert back["sh_rest"].shape == (5, 15, 3)
    assert torch.equal(back["sh_rest"][:, :3], g.sh_rest.detach())
    assert back["sh_rest"][:, 3:].abs().max() == 0
    (tmp_path / "bad.ply").write_bytes(b"not a ply")
    with pytest.raises(UserError, match="not a PLY"):
        read_ply(tmp_path / "bad.ply")
    with pytest.raises(UserError, match="not found"):
        read_ply(tmp_path / "missing.ply")


def test_ascii_point_cloud_ply_is_read(tmp_path: Path):
    path = tmp_path / "cloud.ply"
    path.write_text(
        "ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n1 2 3 255 0 0\n4 5 6 0 255 0\n"
    )
    vertex = read_ply(path)
    assert vertex["x"].tolist() == [1, 4] and vertex["green"].tolist() == [0, 255]


def test_state_dict_of_another_count_loads():
    a, b = random_gaussians(30), random_gaussians(12)
    b.load_state_dict(a.state_dict())
    assert len(b) == 30
    for name, value in a.tensors().items():
        assert torch.equal(getattr(b, name), value)


def test_rotations_are_orthonormal_and_sh_degree_rises_by_steps():
    rot = quat_to_rotmat(torch.randn(20, 4))
    assert torch.allclose(rot @ rot.transpose(1, 2), torch.eye(3).expand(20, 3, 3), atol=1e-5)
    g = random_gaussians(3)
    g.config.sh_increase_every = 100
    assert [g.degree_at(s) for s in (0, 99, 100, 250, 10_000)] == [0, 0, 1, 2, 3]


def test_initial_scales_follow_neighbour_distances():
    points = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [10, 10, 10]])
    config = MODELS.validate({"type": "gaussians"})
    g = Gaussians(config, points)
    assert float(g.scales[0, 0]) == pytest.approx(1.0)
    assert g.scales[4, 0] > 10
    assert torch.allclose(g.opacities, torch.full((5,), config.init_opacity))
