"""``fields export`` for the multi-view tasks (radiance, splat, surface): cameras as JSON, a point cloud
and a TSDF-fused mesh of the rendered depth, all in the input's coordinates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Optional

import numpy as np
import torch
from rich.progress import track

from fields.errors import UserError
from fields.export.tsdf import DepthFrame, tsdf_fuse
from fields.io import atomic_write_text, write_point_cloud
from fields.models.camera_optimizer import so3_log
from fields.render.cameras import image_rays
from fields.render.splat.camera import view_matrices

if TYPE_CHECKING:
    from fields.tasks.multiview import MultiViewTask


def cameras_json(task: MultiViewTask) -> dict:
    """The views' cameras in the nerfstudio / instant-ngp ``transforms.json`` layout (OpenGL camera axes,
    the input's world), refined where the run refined them; each frame says its split and its correction."""
    refined = task.refined_cameras()
    gl = refined.to_opencv()
    c2w = gl.c2w.double().clone()
    c2w[:, :, 1:3] *= -1  # OpenCV -> OpenGL camera axes
    given = task.cameras.to_opencv().c2w.double()
    turn = so3_log(refined.to_opencv().c2w.double()[:, :, :3] @ given[:, :, :3].transpose(1, 2))
    train = set(task.views.train)
    frames = []
    for i in range(len(refined)):
        matrix = torch.cat((c2w[i], torch.tensor([[0.0, 0, 0, 1]], dtype=c2w.dtype)))
        frames.append({
            "index": i, "split": "train" if i in train else "test",
            "fl_x": float(gl.fx[i]), "fl_y": float(gl.fy[i]), "cx": float(gl.cx[i]), "cy": float(gl.cy[i]),
            "transform_matrix": matrix.tolist(),
            "correction_deg": float(turn[i].norm()) * 180 / np.pi,
            "correction_translation": float((c2w[i, :, 3] - given[i, :, 3]).norm()),
        })
    return {"camera_model": "PINHOLE", "w": refined.width, "h": refined.height,
            "refined": task.camera_opt is not None, "frames": frames}


def export_cameras(task: MultiViewTask, path: Path) -> Path:
    if Path(path).suffix.lower() != ".json":
        raise UserError(f"{path}: cameras are written as JSON (.json)")
    atomic_write_text(path, json.dumps(cameras_json(task), indent=1) + "\n")
    return Path(path)


def depth_frames(task: MultiViewTask, views: list[int], min_opacity: float = 0.5) -> Iterator[DepthFrame]:
    """Render ``views`` (their refined poses) -> frames with depth along the optical axis; pixels under
    ``min_opacity`` get depth 0."""
    refined = task.refined_cameras()
    for index in views:
        out = task.render_view(task.cameras, index)  # a training view of the task's cameras: its correction applies
        depth = out["depth"].double()
        if not task.depth_along_axis:  # distance along the ray -> along the optical axis
            rays = image_rays(task.cameras, index)
            axis = task.cameras.to_opencv().c2w[index, :, 2].to(rays.directions)
            depth = depth * (rays.directions @ axis).reshape(depth.shape).double()
        depth = torch.where(out["opacity"] >= min_opacity, depth, torch.zeros_like(depth))
        viewmat, k = view_matrices(refined, index)
        yield DepthFrame(out["rgb"].numpy(), depth.float().numpy(), k.double().numpy(), viewmat.double().numpy())


def export_tsdf_mesh(task: MultiViewTask, path: Path, voxels: int, box: Optional[torch.Tensor] = None) -> Path:
    """TSDF fusion of the training views' rendered depth and colour over the scene box (``voxels`` per side)."""
    box = (task.views.aabb if box is None else box).double().numpy()
    frames = depth_frames(task, list(task.views.train))
    return tsdf_fuse(frames, box, voxels, Path(path),
                     progress=lambda items: track(items, description="TSDF fusion", transient=True,
                                                  total=len(task.views.train)))


def export_rendered_points(task: MultiViewTask, path: Path, max_points: int = 1_000_000,
                           min_opacity: float = 0.95, generator_seed: int = 0) -> Path:
    """A point cloud of the training views' rendered surfaces (expected depth of opaque pixels), cropped to
    the scene box (an unbounded scene's background is left out), at most ``max_points`` (a random subset)."""
    box = task.views.aabb.float()
    points, colours = [], []
    for index in track(task.views.train, description="rendering points", transient=True):
        out = task.render_view(task.cameras, index)
        keep = out["opacity"] >= min_opacity
        p, c = out["points"][keep], out["rgb"][keep]
        inside = ((p >= box[:3]) & (p <= box[3:])).all(-1)
        points.append(p[inside])
        colours.append(c[inside])
    xyz, rgb = torch.cat(points), torch.cat(colours)
    if len(xyz) == 0:
        raise UserError(f"{path}: no opaque rendered surface inside the scene box (is the run trained?)")
    if len(xyz) > max_points:
        pick = torch.randperm(len(xyz), generator=torch.Generator().manual_seed(generator_seed))[:max_points]
        xyz, rgb = xyz[pick], rgb[pick]
    return write_point_cloud(path, xyz, rgb)
