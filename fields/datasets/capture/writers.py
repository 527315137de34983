"""Writers of a reconstructed capture: ``transforms.json`` (the nerfstudio / instant-ngp layout), the sparse
points as ``sparse_pc.ply`` and ``capture.json`` (the processing summary).

``transforms.json`` keeps COLMAP's world frame (the same as ``sparse/0`` and ``sparse_pc.ply``; no
re-orientation, unlike nerfstudio's ``applied_transform``) with camera-to-world matrices in the OpenGL
convention (camera looks along -z, y up), one pinhole camera (the images are undistorted).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fields.io import atomic_write_text, write_point_cloud


def camera_to_world(image) -> np.ndarray:
    """A pycolmap image -> ``(4, 4)`` camera-to-world in the OpenCV convention."""
    c2w = np.eye(4)
    c2w[:3] = image.cam_from_world().inverse().matrix()
    return c2w


def write_transforms(model, path: Path) -> dict:
    """Write ``transforms.json`` for a pycolmap reconstruction of undistorted (PINHOLE) cameras."""
    camera = next(iter(model.cameras.values()))
    fx, fy, cx, cy = (float(v) for v in camera.params[:4]) if camera.model_name == "PINHOLE" else (
        float(camera.params[0]), float(camera.params[0]), float(camera.params[1]), float(camera.params[2]))
    frames = []
    for image in sorted(model.images.values(), key=lambda im: im.name):
        if not image.has_pose:
            continue
        c2w = camera_to_world(image)
        c2w[:3, 1:3] *= -1  # OpenCV -> OpenGL camera axes
        frames.append({"file_path": f"images/{image.name}", "transform_matrix": c2w.round(8).tolist(),
                       "colmap_im_id": int(image.image_id)})
    meta = {"camera_model": "OPENCV", "w": int(camera.width), "h": int(camera.height), "fl_x": fx, "fl_y": fy,
            "cx": cx, "cy": cy, "k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0, "ply_file_path": "sparse_pc.ply",
            "frames": frames}
    atomic_write_text(path, json.dumps(meta, indent=1))
    return meta


def write_points_ply(model, path: Path) -> int:
    """The sparse points (xyz, rgb) as a binary PLY (``fields.io``'s writer); -> the number of points."""
    points = list(model.points3D.values())
    xyz = np.array([p.xyz for p in points], np.float32).reshape(-1, 3)
    rgb = np.array([p.color for p in points], np.float32).reshape(-1, 3) / 255.0
    write_point_cloud(path, xyz, rgb)
    return len(points)
