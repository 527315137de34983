"""Synthetic multi-view scenes with exact poses, written in the Blender ``transforms.json`` format.

A coloured mesh is ray cast (trimesh with embreex; trimesh's pure-python caster when embreex is missing)
from cameras spread over a sphere looking at the origin (OpenGL convention). Colour: each object's base
colour times a procedural 3D checker texture, lit by a fixed directional light plus ambient light (a
Lambertian surface: the colour does not depend on the view). RGBA PNGs: alpha 0 where the ray misses.

Scenes: ``objects`` (a textured sphere, box and torus inside [-1, 1]^3) and ``sphere`` (one textured
sphere of radius 0.6 at the origin, for surface reconstruction checks).
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch

from fields.datasets.names import SYNTHETIC_SCENES
from fields.render.look_at import look_at as look_at_3x4

log = logging.getLogger("fields")
SCENES = SYNTHETIC_SCENES
SPHERE_RADIUS = 0.6
LIGHT = np.array([0.4, 0.5, 0.77])


def scene_mesh(name: str):
    """-> ``(trimesh.Trimesh, face_colours (F, 3) float)``."""
    import trimesh

    if name == "sphere":
        parts = [(trimesh.creation.icosphere(subdivisions=5, radius=SPHERE_RADIUS), (0.9, 0.55, 0.25))]
    elif name == "objects":
        sphere = trimesh.creation.icosphere(subdivisions=4, radius=0.45)
        sphere.apply_translation((-0.35, -0.3, 0.05))
        box = trimesh.creation.box(extents=(0.6, 0.6, 0.6))
        box.apply_transform(trimesh.transformations.rotation_matrix(0.6, (0, 0, 1)))
        box.apply_translation((0.4, 0.35, -0.15))
        torus = trimesh.creation.torus(major_radius=0.35, minor_radius=0.12)
        torus.apply_transform(trimesh.transformations.rotation_matrix(1.1, (1, 0, 0)))
        torus.apply_translation((0.3, -0.45, 0.35))
        parts = [(sphere, (0.85, 0.3, 0.25)), (box, (0.25, 0.55, 0.9)), (torus, (0.35, 0.8, 0.35))]
    else:
        raise ValueError(f"unknown synthetic scene '{name}'; valid: {', '.join(SCENES)}")
    mesh = trimesh.util.concatenate([m for m, _ in parts])
    colours = np.concatenate([np.tile(np.array(c, float), (len(m.faces), 1)) for m, c in parts])
    return mesh, colours


def texture(points: np.ndarray) -> np.ndarray:
    """A 3D checker of cells of side 0.25: brightness 1.0 or 0.55 -> ``(P,)``."""
    cells = np.floor(points * 4.0).astype(np.int64).sum(-1)
    return np.where(cells % 2 == 0, 1.0, 0.55)


def look_at(position: np.ndarray, target=np.zeros(3), up=np.array([0.0, 0.0, 1.0])) -> np.ndarray:
    """OpenGL camera-to-world ``(4, 4)``: the camera at ``position`` looks along -z at ``target``."""
    c2w = np.eye(4)
    c2w[:3] = look_at_3x4(torch.as_tensor(position, dtype=torch.float64), torch.as_tensor(target, dtype=torch.float64),
                          torch.as_tensor(up, dtype=torch.float64)).numpy()
    return c2w


def camera_positions(n: int, radius: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` points on the sphere, uniformly at random but above -30 degrees of elevation."""
    z = rng.uniform(-0.5, 1.0, n)
    phi = rng.uniform(0.0, 2 * math.pi, n)
    r = np.sqrt(1 - z * z)
    return radius * np.stack([r * np.cos(phi), r * np.sin(phi), z], -1)


def render_view(mesh, colours: np.ndarray, c2w: np.ndarray, size: int, focal: float) -> np.ndarray:
    """Ray cast one pinhole view -> uint8 RGBA ``(size, size, 4)``."""
    j, i = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5, indexing="ij")
    d_cam = np.stack([(i - size / 2) / focal, -(j - size / 2) / focal, -np.ones_like(i)], -1).reshape(-1, 3)
    dirs = d_cam @ c2w[:3, :3].T
    dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
    origins = np.broadcast_to(c2w[:3, 3], dirs.shape)
    locations, index_ray, index_tri = mesh.ray.intersects_location(origins, dirs, multiple_hits=False)
    image = np.zeros((size * size, 4))
    normals = mesh.face_normals[index_tri]
    normals = np.where((normals * dirs[index_ray]).sum(-1, keepdims=True) > 0, -normals, normals)
    light = LIGHT / np.linalg.norm(LIGHT)
    shade = 0.35 + 0.65 * np.clip(normals @ light, 0.0, 1.0)
    image[index_ray, :3] = colours[index_tri] * (texture(locations) * shade)[:, None]
    image[index_ray, 3] = 1.0
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8).reshape(size, size, 4)


def generate_scene(folder: str | Path, name: str = "objects", n_train: int = 100, n_test: int = 20, size: int = 200,
                   seed: int = 0, radius: float = 3.2, camera_angle_x: float = 0.75) -> Path:
    """Write ``transforms_{train,test}.json`` and ``{train,test}/r_N.png`` into ``folder``; returns it."""
    import trimesh  # optional (the geometry extra)

    folder = Path(folder)
    if not getattr(trimesh.ray, "has_embree", False):
        log.info("embreex missing: ray casting with trimesh's slow pure-python caster")
    mesh, colours = scene_mesh(name)
    focal = 0.5 * size / math.tan(0.5 * camera_angle_x)
    rng = np.random.default_rng(seed)
    log.info(
        "generating synthetic scene '%s' (%d + %d views at %dx%d) in %s", name, n_train, n_test, size, size, folder
    )
    for split, n in (("test", n_test), ("train", n_train)):  # train last: its file marks completion
        (folder / split).mkdir(parents=True, exist_ok=True)
        frames = []
        for k, position in enumerate(camera_positions(n, radius, rng)):
            c2w = look_at(position)
            iio.imwrite(folder / split / f"r_{k}.png", render_view(mesh, colours, c2w, size, focal))
            frames.append({"file_path": f"./{split}/r_{k}", "transform_matrix": c2w.tolist()})
        meta = {"camera_angle_x": camera_angle_x, "frames": frames}
        tmp = folder / f".transforms_{split}.json.tmp"
        tmp.write_text(json.dumps(meta, indent=1))
        tmp.replace(folder / f"transforms_{split}.json")
    return folder
