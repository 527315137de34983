"""Triangle meshes from files (OBJ, PLY, OFF, STL, GLB/GLTF) through trimesh, checked for bad input.

Files that trimesh cannot parse are retried with open3d (its OFF reader takes polygon faces that
trimesh's trips on). Every problem with the file or its content raises ``UserError`` with one line:
a missing or unreadable file, no vertices, no faces, NaN or infinite coordinates, face indices out of
range, a mesh of zero extent or zero area.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np

from fields.errors import UserError

if TYPE_CHECKING:
    import trimesh

MESH_SUFFIXES = (".obj", ".ply", ".off", ".stl", ".glb", ".gltf")
_OPEN3D_SUFFIXES = (".obj", ".ply", ".off", ".stl", ".glb", ".gltf")


def import_trimesh():
    """trimesh, imported lazily (the ``geometry`` extra) with its logging kept quiet."""
    try:
        import trimesh
    except ImportError:
        raise UserError("meshes need trimesh: pip install 'fields-toolkit[geometry]'") from None
    logging.getLogger("trimesh").setLevel(logging.ERROR)
    return trimesh


def import_open3d():
    """open3d (``open3d-cpu``), imported lazily with its C++ warnings silenced (they would print
    extra lines next to the one-line errors of the CLI)."""
    try:
        import open3d
    except ImportError as err:
        raise UserError(f"this needs open3d: pip install open3d-cpu ({err})") from None
    open3d.utility.set_verbosity_level(open3d.utility.VerbosityLevel.Error)
    return open3d


def load_mesh(path: str | Path) -> "trimesh.Trimesh":
    """Read a triangle mesh (all parts of a scene file merged); raises ``UserError`` on bad input."""
    trimesh = import_trimesh()
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: mesh file not found")
    if path.suffix.lower() not in MESH_SUFFIXES:
        raise UserError(f"{path}: unsupported mesh format '{path.suffix}'; valid: {', '.join(MESH_SUFFIXES)}")
    mesh, problem = None, None
    try:
        mesh = trimesh.load(str(path), force="mesh", process=False)
    except Exception as err:  # parsers raise anything on a broken file
        problem = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if not _has_faces(mesh) and path.suffix.lower() in _OPEN3D_SUFFIXES:
        fallback = _load_with_open3d(path)
        if fallback is not None:
            mesh = fallback
    if mesh is None:
        raise UserError(f"{path}: cannot read mesh ({problem or 'unknown format'})")
    if len(mesh.vertices) == 0:
        _no_faces_or_empty(trimesh, path)
    check_mesh(mesh, str(path))
    return mesh


def _no_faces_or_empty(trimesh, path: Path) -> None:
    """trimesh drops the vertices of a file with no faces: tell that case from an empty file."""
    try:
        loaded = trimesh.load(str(path), process=False)
        n = len(getattr(loaded, "vertices", ()))
    except Exception:
        n = 0
    if n:
        raise UserError(f"{path}: the mesh has no faces ({n} vertices, 0 triangles)")


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence what native readers (open3d's RPly, assimp) print to the process's stderr."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no file descriptor 2
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _has_faces(mesh) -> bool:
    return mesh is not None and hasattr(mesh, "faces") and len(mesh.faces) > 0


def _load_with_open3d(path: Path):
    try:
        o3d = import_open3d()
    except UserError:
        return None
    trimesh = import_trimesh()
    try:
        with quiet_native_stderr():
            read = o3d.io.read_triangle_mesh(str(path))
    except Exception:
        return None
    vertices, faces = np.asarray(read.vertices), np.asarray(read.triangles)
    if len(vertices) == 0 or len(faces) == 0:
        return None
    return trimesh.Trimesh(vertices=vertices, faces=faces, process=False)


def check_mesh(mesh: "trimesh.Trimesh", name: str = "mesh") -> None:
    """Raise ``UserError`` for a mesh that cannot be fitted (see the module docstring)."""
    vertices = np.asarray(getattr(mesh, "vertices", np.zeros((0, 3))))
    faces = np.asarray(getattr(mesh, "faces", np.zeros((0, 3), dtype=np.int64)))
    if vertices.ndim != 2 or len(vertices) == 0:
        raise UserError(f"{name}: the mesh is empty (no vertices)")
    if faces.ndim != 2 or len(faces) == 0:
        raise UserError(f"{name}: the mesh has no faces ({len(vertices)} vertices, 0 triangles)")
    bad = ~np.isfinite(vertices).all(axis=1)
    if bad.any():
        raise UserError(f"{name}: {int(bad.sum())} vertices have NaN or infinite coordinates")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise UserError(f"{name}: face indices out of range (0..{len(vertices) - 1})")
    if np.ptp(vertices[np.unique(faces)], axis=0).max() <= 0:
        raise UserError(f"{name}: the mesh has zero extent (all vertices at one point)")
    if not float(mesh.area) > 0:
        raise UserError(f"{name}: the mesh has zero surface area (degenerate triangles only)")


def mesh_from_arrays(vertices: np.ndarray, faces: np.ndarray, name: str = "mesh") -> "trimesh.Trimesh":
    trimesh = import_trimesh()
    mesh = trimesh.Trimesh(
        vertices=np.asarray(vertices, dtype=np.float64), faces=np.asarray(faces, dtype=np.int64), process=False
    )
    check_mesh(mesh, name)
    return mesh


def sample_surface(mesh: "trimesh.Trimesh", n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniformly on the surface (area-weighted) and their face normals: ``(n, 3)`` each."""
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    faces = np.asarray(mesh.faces)
    tri = vertices[faces]  # (F, 3, 3)
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area = np.linalg.norm(cross, axis=1)
    cdf = np.cumsum(area)
    face = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right").clip(0, len(faces) - 1)
    u, v = rng.random(n), rng.random(n)
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    t = tri[face]
    points = t[:, 0] + u[:, None] * (t[:, 1] - t[:, 0]) + v[:, None] * (t[:, 2] - t[:, 0])
    normals = cross[face] / np.maximum(area[face], 1e-30)[:, None]
    return points, normals
