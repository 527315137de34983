"""Posed-view loaders on small files written here: Blender (both conventions, with and without
distortion), COLMAP (text and binary), LLFF; and the bad inputs each one can get."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from fields.datasets.synthetic_scene import look_at
from fields.datasets.views import PosedViewsData, load_views
from fields.errors import UserError
from fields.render.cameras import generate_rays

W, H = 8, 6


def write_image(path: Path, value: int, size=(H, W), alpha=False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.full(size + (4 if alpha else 3,), value, np.uint8)
    if alpha:
        image[..., 3] = 128
    iio.imwrite(path, image)


def positions(n=4):
    return [np.array([3 * math.cos(2 * math.pi * k / n), 3 * math.sin(2 * math.pi * k / n), 1.0]) for k in range(n)]


def blender_scene(root: Path, frame_keys=None, distortion=None, convention="opengl"):
    frames = []
    for k, pos in enumerate(positions()):
        c2w = look_at(pos)
        if convention == "opencv":
            c2w[:3, 1:3] *= -1
        write_image(root / "images" / f"{k}.png", 40 * k, alpha=True)
        frames.append({"file_path": f"images/{k}", "transform_matrix": c2w.tolist(), **(frame_keys or {})})
    meta = {"fl_x": 10.0, "fl_y": 11.0, "cx": 4.0, "cy": 3.5, "w": W, "h": H, "aabb_scale": 2, "frames": frames}
    meta.update(distortion or {})
    (root / "transforms.json").write_text(json.dumps(meta))
    return root


def load(path, **kw):
    return load_views(PosedViewsData(path=str(path), **kw))


def centre_ray_hits_origin(views):
    cams = views.cameras
    u, v = cams.cx.clone(), cams.cy.clone()
    rays = generate_rays(cams, torch.arange(len(cams)), u, v)
    # distance from the origin to each central ray
    closest = rays.origins + rays.directions * (-(rays.origins * rays.directions).sum(-1, keepdim=True))
    return closest.norm(dim=-1).max() < 1e-4


def test_blender_single_file_with_intrinsics_and_alpha(tmp_path):
    views = load(blender_scene(tmp_path), test_every=2)
    assert views.images.shape == (4, H, W, 4) and views.has_alpha
    assert views.train == [1, 3] and views.test == [0, 2]
    assert views.cameras.fx[0] == 10.0 and views.cameras.fy[0] == 11.0 and views.cameras.distortion is None
    assert views.cameras.convention == "opengl" and centre_ray_hits_origin(views)
    assert torch.allclose(views.aabb, torch.tensor([-3.0] * 3 + [3.0] * 3))
    half = load(tmp_path, test_every=2, downscale=2)
    assert half.images.shape == (4, 3, 4, 4) and half.cameras.fx[0] == 5.0


def test_blender_opencv_poses_need_the_convention(tmp_path, caplog):
    blender_scene(tmp_path, convention="opencv")
    assert centre_ray_hits_origin(load(tmp_path, convention="opencv"))
    with caplog.at_level("WARNING", logger="fields"):
        load(tmp_path)  # read as OpenGL: cameras look away from the content
    assert any("opencv convention" in r.getMessage() for r in caplog.records)


def test_blender_distortion_and_per_frame_intrinsics(tmp_path):
    blender_scene(tmp_path, frame_keys={"fl_x": 12.0}, distortion={"k1": 0.1, "p2": 0.01})
    views = load(tmp_path)
    assert views.cameras.fx[0] == 12.0
    assert torch.allclose(views.cameras.distortion[0], torch.tensor([0.1, 0.0, 0.0, 0.01, 0.0]))


def test_blender_camera_angle_and_split_files(tmp_path):
    for split in ("train", "test"):
        frames = []
        for k, pos in enumerate(positions(2)):
            write_image(tmp_path / split / f"r_{k}.png", 100)
            frames.append({"file_path": f"./{split}/r_{k}", "transform_matrix": look_at(pos).tolist()})
        (tmp_path / f"transforms_{split}.json").write_text(json.dumps({"camera_angle_x": 0.8, "frames": frames}))
    views = load(tmp_path)
    assert views.train == [0, 1] and views.test == [2, 3] and not views.has_alpha
    assert math.isclose(float(views.cameras.fx[0]), 0.5 * W / math.tan(0.4), rel_tol=1e-6)
    assert views.cameras.cx[0] == W / 2


def test_blender_bad_inputs(tmp_path):
    root = blender_scene(tmp_path / "a")
    (root / "images" / "2.png").unlink()
    with pytest.raises(UserError, match="image file not found"):
        load(root)
    root = blender_scene(tmp_path / "b")
    write_image(root / "images" / "1.png", 0, size=(5, 5))
    with pytest.raises(UserError, match="1.png is 5x5, the cameras say 8x6"):
        load(root)
    root = blender_scene(tmp_path / "c")
    meta = json.loads((root / "transforms.json").read_text())
    meta["frames"][3]["transform_matrix"][0][0] = 3.0
    (root / "transforms.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="frame 3 is not a rigid transform"):
        load(root)
    (root / "transforms.json").write_text("{not json")
    with pytest.raises(UserError, match="not a readable transforms JSON"):
        load(root)


def rotation_to_qvec(r: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    x, y, z, w = Rotation.from_matrix(r).as_quat()
    return np.array([w, x, y, z])


def colmap_poses():
    out = []
    for pos in positions():
        c2w = look_at(pos)
        c2w[:3, 1:3] *= -1  # OpenCV camera axes
        r = c2w[:3, :3].T
        out.append((rotation_to_qvec(r), -r @ c2w[:3, 3]))
    return out


def write_colmap(root: Path, binary: bool, model="OPENCV", params=(10.0, 11.0, 4.0, 3.5, 0.05, 0.0, 0.0, 0.0)):
    sparse = root / "sparse" / "0"
    sparse.mkdir(parents=True)
    points = np.random.default_rng(0).uniform(-1, 1, (20, 3))
    for k in range(4):
        write_image(root / "images" / f"img{k}.png", 30 * k)
    model_ids = {"SIMPLE_PINHOLE": 0, "PINHOLE": 1, "SIMPLE_RADIAL": 2, "RADIAL": 3, "OPENCV": 4}
    if binary:
        cams = (
            struct.pack("<Q", 1)
            + struct.pack("<iiQQ", 1, model_ids[model], W, H)
            + struct.pack(f"<{len(params)}d", *params)
        )
        (sparse / "cameras.bin").write_bytes(cams)
        data = struct.pack("<Q", 4)
        for k, (q, t) in enumerate(colmap_poses()):
            data += struct.pack("<idddddddi", k + 1, *q, *t, 1) + f"img{k}.png".encode() + b"\0"
            data += struct.pack("<Q", 1) + struct.pack("<ddq", 1.0, 2.0, -1)
        (sparse / "images.bin").write_bytes(data)
        pts = struct.pack("<Q", len(points))
        for i, p in enumerate(points):
            # no track: no 2D point refers to it (pycolmap checks the links)
            pts += struct.pack("<QdddBBBd", i, *p, 1, 2, 3, 0.5) + struct.pack("<Q", 0)
        (sparse / "points3D.bin").write_bytes(pts)
    else:
        (sparse / "cameras.txt").write_text(f"# comment\n1 {model} {W} {H} {' '.join(map(str, params))}\n")
        lines = ["# images"]
        for k, (q, t) in enumerate(colmap_poses()):
            lines += [f"{k + 1} {' '.join(map(str, q))} {' '.join(map(str, t))} 1 img{k}.png", "1.0 2.0 -1"]
        (sparse / "images.txt").write_text("\n".join(lines) + "\n")
        (sparse / "points3D.txt").write_text(
            "\n".join(f"{i} {p[0]} {p[1]} {p[2]} 1 2 3 0.5" for i, p in enumerate(points))
        )
    return root


@pytest.mark.parametrize("binary", [False, True])
def test_colmap_text_and_binary(tmp_path, binary):
    pytest.importorskip("pycolmap")
    views = load(write_colmap(tmp_path, binary), test_every=4)
    cams = views.cameras
    assert cams.convention == "opencv" and len(cams) == 4 and views.test == [0]
    assert (
        cams.fx[0] == 10.0
        and cams.fy[0] == 11.0
        and torch.allclose(cams.distortion[0], torch.tensor([0.05, 0, 0, 0, 0]))
    )
    assert centre_ray_hits_origin(views)
    assert views.images[1, 0, 0, 0] == 30
    assert (views.aabb[:3] > -1.5).all() and (views.aabb[3:] < 1.5).all()


def test_colmap_pinhole_and_unsupported_model(tmp_path):
    pytest.importorskip("pycolmap")
    views = load(write_colmap(tmp_path / "a", False, "PINHOLE", (10.0, 10.0, 4.0, 3.0)))
    assert views.cameras.distortion is None
    root = write_colmap(tmp_path / "b", False)
    (root / "sparse/0/cameras.txt").write_text(f"1 FULL_OPENCV {W} {H} {' '.join(['1'] * 12)}\n")
    with pytest.raises(UserError, match="unsupported camera model FULL_OPENCV"):
        load(root)
    (root / "sparse/0/cameras.txt").write_text(f"1 FISHEYE_XYZ {W} {H} 1 2 3\n")
    with pytest.raises(UserError, match="malformed COLMAP model"):
        load(root)
    root = write_colmap(tmp_path / "c", True)
    images = root / "sparse/0/images.bin"
    images.write_bytes(images.read_bytes()[:40])  # truncated
    with pytest.raises(UserError, match="malformed COLMAP model"):
        load(root)


def test_llff_poses_bounds(tmp_path):
    rows = []
    for k in range(3):
        c2w = look_at(np.array([0.2 * k, -4.0, 0.0]), target=np.array([0.2 * k, 0.0, 0.0]))  # OpenGL, forward-facing
        llff = np.concatenate([-c2w[:3, 1:2], c2w[:3, 0:1], c2w[:3, 2:4], np.array([[H * 2], [W * 2], [20.0]])], 1)
        rows.append(np.concatenate([llff.reshape(-1), [2.0, 6.0]]))
        write_image(tmp_path / "images" / f"{k:03d}.png", 50)
    np.save(tmp_path / "poses_bounds.npy", np.array(rows))
    views = load(tmp_path, test_every=3)
    cams = views.cameras
    assert cams.convention == "opengl" and cams.fx[0] == 10.0 and views.near == 2.0 and views.far == 6.0
    assert torch.allclose(cams.forward, torch.tensor([[0.0, 1.0, 0.0]] * 3), atol=1e-6)
    assert views.test == [0] and views.aabb[4] > 1.9  # the frusta reach the far bound: y = -4 + 6
    (tmp_path / "images" / "002.png").unlink()
    with pytest.raises(UserError, match="3 poses but 2 images"):
        load(tmp_path)
