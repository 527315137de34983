"""Where the first Gaussians come from: COLMAP points3D (text and binary), a .ply, random in the box."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fields.datasets.views import PosedViewsData, load_views
from fields.errors import UserError
from fields.models.gaussians_sh import sh_to_rgb
from fields.models.registry import MODELS
from fields.tasks.splat_init import init_gaussians
from tests.radiance.test_loaders import write_colmap


def config(**kw):
    return MODELS.validate({"type": "gaussians", **kw})


@pytest.mark.parametrize("binary", [False, True])
def test_sfm_points_with_colours_seed_the_gaussians(tmp_path: Path, binary: bool):
    root = write_colmap(tmp_path, binary)
    data = PosedViewsData(path=str(root))
    g = init_gaussians(config(), data, load_views(data))
    expected = np.random.default_rng(0).uniform(-1, 1, (20, 3))  # the points write_colmap wrote
    assert torch.allclose(g.means.detach(), torch.tensor(expected, dtype=torch.float32))
    assert torch.allclose(sh_to_rgb(g.sh_dc[:, 0]).detach(), torch.tensor([1, 2, 3]) / 255.0, atol=1e-6)
    subset = init_gaussians(config(max_init_points=7), data, load_views(data))
    assert len(subset) == 7


def test_ply_point_cloud_random_box_and_bad_settings(tmp_path: Path):
    data = PosedViewsData(path="synthetic:sphere", synthetic={"n_train": 2, "n_test": 1, "size": 16})
    views = load_views(data)
    g = init_gaussians(config(n_random=50), data, views)
    lo, hi = views.aabb[:3], views.aabb[3:]
    assert len(g) == 50 and ((g.means >= lo) & (g.means <= hi)).all()
    ply = tmp_path / "cloud.ply"
    ply.write_text(
        "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n"
        "0 0 0 255 0 0\n1 0 0 0 255 0\n0 1 0 0 0 255\n"
    )
    g = init_gaussians(config(init="ply", init_path=str(ply)), data, views)
    assert len(g) == 3 and torch.allclose(sh_to_rgb(g.sh_dc[:, 0]).detach(), torch.eye(3), atol=1e-6)
    with pytest.raises(UserError, match="init_path"):
        init_gaussians(config(init="ply"), data, views)
    with pytest.raises(UserError, match="COLMAP"):
        init_gaussians(config(init="sfm"), data, views)
