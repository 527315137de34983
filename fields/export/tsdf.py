"""A mesh by TSDF fusion of rendered depth and colour (open3d), for any field that renders views.

The volume is open3d's ``UniformTSDFVolume`` over a cube on the box's longest side: its
``ScalableTSDFVolume`` (voxel hashing) integrated nothing on open3d-cpu 0.20 for a plane seen head-on,
where the uniform volume fuses it (checked again for this module). Depth is distance along the optical
axis in world units; pixels with depth 0 are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

import numpy as np

from fields.errors import UserError
from fields.io.atomic import atomic_path


@dataclass
class DepthFrame:
    """One rendered view: ``rgb (H, W, 3)`` in [0, 1], ``depth (H, W)`` along the optical axis (0: none),
    ``K (3, 3)`` pixels (centres at ``i + 0.5``), ``viewmat (4, 4)`` world-to-camera in the OpenCV frame."""

    rgb: np.ndarray
    depth: np.ndarray
    K: np.ndarray
    viewmat: np.ndarray


def import_open3d():
    try:
        import open3d
    except ImportError as err:
        raise UserError(f"TSDF fusion needs open3d: pip install open3d-cpu ({err})") from None
    open3d.utility.set_verbosity_level(open3d.utility.VerbosityLevel.Error)
    return open3d


def tsdf_fuse(frames: Iterable[DepthFrame], box: np.ndarray, voxels: int, path: Path,
              truncation_voxels: float = 4.0, progress: Optional[Callable[[Iterable], Iterable]] = None) -> Path:
    """Fuse ``frames`` into a TSDF of ``voxels**3`` voxels on the box ``(6,)`` (world ``lo``, ``hi``) and
    write the marching-cubes mesh with vertex colours to ``path`` (its suffix names the format). Depth
    beyond the farthest box corner is left out (an unbounded scene's background)."""
    o3d = import_open3d()
    box = np.asarray(box, dtype=np.float64)
    lo, hi = box[:3], box[3:]
    length = float((hi - lo).max())
    volume = o3d.pipelines.integration.UniformTSDFVolume(
        length=length, resolution=voxels, sdf_trunc=truncation_voxels * length / voxels,
        color_type=o3d.pipelines.integration.TSDFVolumeColorType.RGB8, origin=lo.reshape(3, 1))
    corners = np.array([[x, y, z] for x in (lo[0], lo[0] + length) for y in (lo[1], lo[1] + length)
                        for z in (lo[2], lo[2] + length)])
    for frame in (progress or (lambda items: items))(frames):
        h, w = frame.depth.shape
        viewmat = np.asarray(frame.viewmat, dtype=np.float64)
        reach = float(((corners @ viewmat[:3, :3].T + viewmat[:3, 3]) [:, 2]).max())
        depth = np.where((frame.depth > 0) & (frame.depth <= reach), frame.depth, 0.0).astype(np.float32)
        colour = np.ascontiguousarray((np.clip(frame.rgb, 0, 1) * 255 + 0.5).astype(np.uint8))
        rgbd = o3d.geometry.RGBDImage.create_from_color_and_depth(
            o3d.geometry.Image(colour), o3d.geometry.Image(np.ascontiguousarray(depth)), depth_scale=1.0,
            depth_trunc=1e9, convert_rgb_to_intensity=False)
        k = frame.K
        # open3d's pinhole has pixel centres at integers
        intrinsic = o3d.camera.PinholeCameraIntrinsic(w, h, float(k[0, 0]), float(k[1, 1]), float(k[0, 2]) - 0.5,
                                                      float(k[1, 2]) - 0.5)
        volume.integrate(rgbd, intrinsic, viewmat)
    mesh = volume.extract_triangle_mesh()
    if len(mesh.triangles) == 0:
        raise UserError(f"{path}: the fused TSDF holds no surface (is the run trained? is the scene box right?)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        if not o3d.io.write_triangle_mesh(tmp, mesh):  # the temporary keeps the suffix that names the format
            raise UserError(f"{path}: open3d cannot write {path.suffix} meshes")
    return path
