"""A mesh of a splat run: TSDF fusion of the training views' rendered depth and colour with open3d, in the
input's coordinates. The volume is open3d's ``UniformTSDFVolume`` over the scene box: its
``ScalableTSDFVolume`` integrates nothing in open3d-cpu 0.20 (checked on a plane seen head-on)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fields.errors import UserError

if TYPE_CHECKING:
    from fields.tasks.splat import SplatTask


def tsdf_mesh(task: SplatTask, path: Path, voxels: int, min_opacity: float = 0.5) -> Path:
    """Fuse every training view into a TSDF of ``voxels**3`` voxels, a cube on the scene box's longest side
    (truncation 4 voxels); pixels with rendered opacity under ``min_opacity`` are left out. Returns ``path``."""
    from fields.datasets.mesh import import_open3d
    from fields.io.atomic import atomic_path
    from fields.io.progress import track
    from fields.render.splat import view_matrices

    o3d = import_open3d()

    box = task.views.aabb.double()
    length = float((box[3:] - box[:3]).max())
    volume = o3d.pipelines.integration.UniformTSDFVolume(
        length=length,
        resolution=voxels,
        sdf_trunc=4.0 * length / voxels,
        color_type=o3d.pipelines.integration.TSDFVolumeColorType.RGB8,
        origin=box[:3].numpy().reshape(3, 1),
    )
    cams = task.cameras
    for index in track(task.views.train, "TSDF fusion"):
        out = task.render_view(cams, index)
        depth = np.where(out["opacity"].numpy() >= min_opacity, out["depth"].numpy(), 0.0).astype(np.float32)
        colour = np.ascontiguousarray((out["rgb"].numpy() * 255 + 0.5).astype(np.uint8))
        rgbd = o3d.geometry.RGBDImage.create_from_color_and_depth(
            o3d.geometry.Image(colour),
            o3d.geometry.Image(depth),
            depth_scale=1.0,
            depth_trunc=1e9,
            convert_rgb_to_intensity=False,
        )
        viewmat, k = view_matrices(cams, index)
        intrinsic = o3d.camera.PinholeCameraIntrinsic(
            cams.width, cams.height, float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2])
        )
        volume.integrate(rgbd, intrinsic, viewmat.double().numpy())
    mesh = volume.extract_triangle_mesh()
    if len(mesh.triangles) == 0:
        raise UserError(f"{path}: the fused TSDF holds no surface (is the run trained?)")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        if not o3d.io.write_triangle_mesh(tmp, mesh):  # the temporary keeps the suffix that names the format
            raise UserError(f"{path}: open3d cannot write {path.suffix} meshes")
    return path
