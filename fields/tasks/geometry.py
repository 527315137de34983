"""Shared base of the geometry tasks (``sdf``, ``occupancy``): data, normalisation, evaluation, outputs.

Data is a mesh (a file, or ``shape:NAME`` for a generated shape) or a point cloud. The shape is put into
the unit cube (``UnitCubeTransform``, stored in the checkpoint as ``normalization``); the field works in
unit-cube coordinates, and meshes and metrics are mapped back to the input's coordinates. Training
samples come from a pool built on the first training step (``fields eval`` and ``render`` never build
it). Subclasses define ``compute_loss(batch)`` and ``surface_value(x)`` (negative inside).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np
import torch

from fields.datasets.analytic import preset, shape_mesh
from fields.datasets.names import SHAPE_PREFIX
from fields.datasets.mesh import import_trimesh, load_mesh, mesh_from_arrays, sample_surface
from fields.datasets.normalize import UnitCubeTransform
from fields.datasets.pointcloud import PointCloud, load_point_cloud, poisson_mesh
from fields.datasets.sdf_sampling import MeshDistance, SamplePool, cloud_sample_pool, mesh_sample_pool
from fields.errors import UserError
from fields.export.marching_cubes import extract_surface
from fields.io import atomic_path
from fields.metrics.geometry import mesh_metrics, surface_metrics, volumetric_iou
from fields.models import Field
from fields.modules import eval_mode
from fields.render.turntable import write_turntable
from fields.tasks.base import FieldTask

if TYPE_CHECKING:
    from fields.engine.scene import SceneConfig

log = logging.getLogger("fields")
MESH_FORMATS = ("ply", "obj", "glb", "stl", "off")


def read_mesh(value: str, shape_resolution: int):
    if value.startswith(SHAPE_PREFIX):
        return shape_mesh(preset(value[len(SHAPE_PREFIX) :]), shape_resolution)
    return load_mesh(value)


class _MeshSignedDistance(torch.autograd.Function):
    """The exact signed distance to a mesh (open3d) as a function torch can differentiate: its gradient (the
    turntable's normals) by central differences of half a thousandth of the unit cube."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, mesh: MeshDistance) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.mesh = mesh
        return torch.from_numpy(mesh.signed_distance(x.detach())).to(x)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        (x,) = ctx.saved_tensors
        h = 5e-4
        steps = torch.eye(3, dtype=x.dtype, device=x.device) * h
        grad = torch.stack([
            torch.from_numpy(ctx.mesh.signed_distance((x + e).detach()) - ctx.mesh.signed_distance((x - e).detach()))
            .to(x) / (2 * h) for e in steps], dim=-1)
        return grad_out[:, None] * grad, None


class GeometryTask(FieldTask):
    needs_oriented_cloud = False  # True: point clouds train directly (SDF); False: through a mesh

    def __init__(self, scene: "SceneConfig"):
        super().__init__(scene)
        data = scene.data
        self.mesh = None  # input coordinates
        self.cloud: Optional[PointCloud] = None
        self.reference = None
        if data.mesh is not None:
            self.mesh = read_mesh(data.mesh, data.shape_resolution)
            self.reference = self.mesh
        else:
            self.cloud = load_point_cloud(data.points)
            self.reference = read_mesh(data.reference, data.shape_resolution) if data.reference else None
            if self.needs_oriented_cloud and self.cloud.normals is None:
                raise UserError(f"{data.points}: an SDF from a point cloud needs normals (x y z nx ny nz)")
            if not self.needs_oriented_cloud:
                self.mesh = poisson_mesh(self.cloud, data.poisson_depth)
                self.reference = self.reference or self.mesh
        extent = self.mesh.vertices if self.mesh is not None else self.cloud.points
        if self.mesh is not None and not self.mesh.is_watertight:
            log.info("mesh is not watertight: inside/outside near its holes may be wrong (see data.samples.sign_rays)")
        self.register_buffer("normalization", UnitCubeTransform.fit(np.asarray(extent), data.padding).as_tensor())
        self.field = Field.from_config(scene.model, in_dim=3, out_dim=1)
        self._pool: Optional[SamplePool] = None
        self._distance: Optional[MeshDistance] = None
        self._reference_distance: Optional[MeshDistance] = None

    # --- data -----------------------------------------------------------------------------------------
    @property
    def transform(self) -> UnitCubeTransform:
        return UnitCubeTransform.from_tensor(self.normalization)

    def unit_mesh(self, mesh):
        return mesh_from_arrays(self.transform.to_unit(np.asarray(mesh.vertices)), mesh.faces)

    def distance(self, reference: bool = False) -> MeshDistance:
        """Signed distance of the training mesh (or the reference mesh) in unit coordinates."""
        attr = "_reference_distance" if reference else "_distance"
        if getattr(self, attr) is None:
            mesh = self.unit_mesh(self.reference if reference else self.mesh)
            setattr(self, attr, MeshDistance(mesh.vertices, mesh.faces, self.scene.data.samples.sign_rays))
        return getattr(self, attr)

    @property
    def pool(self) -> SamplePool:
        if self._pool is None:
            config, seed = self.scene.data.samples, self.scene.train.seed
            if self.mesh is not None:
                self._pool = mesh_sample_pool(self.unit_mesh(self.mesh), self.distance(), config, seed)
            else:
                points = self.transform.to_unit(self.cloud.points)
                self._pool = cloud_sample_pool(points, self.cloud.normals, config, seed)
        return self._pool

    def initialisation_samples(self) -> tuple[torch.Tensor, torch.Tensor]:
        # the pool's samples weighted by 1 / (|sdf| + 1e-9) (NeuRBF's SDF rule; unknown distances count as 1)
        sdf = torch.nan_to_num(self.pool.sdf, nan=1.0)
        return self.pool.points, 1.0 / (sdf.abs() + 1e-9)

    def training_batch(self) -> dict[str, torch.Tensor]:
        batch = self.pool.batch(self.scene.train.batch_size, self.step_generator())
        return {k: v.to(self.device) for k, v in batch.items()}

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss, logs = self.compute_loss(self.training_batch())
        for name, value in logs.items():
            self.log(f"train/{name}", value, prog_bar=name == "loss")
        return loss

    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError

    # --- the field as a surface ------------------------------------------------------------------------
    def surface_value(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3)`` unit coordinates -> ``(N,)``: negative inside, zero on the surface."""
        raise NotImplementedError

    lipschitz: Optional[float] = 1.0  # bound on |grad surface_value| for coarse-to-fine marching cubes

    def _query(self, x: torch.Tensor) -> torch.Tensor:
        dtype = next(self.field.parameters()).dtype
        return self.surface_value(x.to(device=self.device, dtype=dtype)).float()

    @torch.no_grad()
    def inside(self, points: np.ndarray) -> np.ndarray:
        chunk = self.scene.train.eval_chunk
        x = torch.from_numpy(np.asarray(points, dtype=np.float32))
        return torch.cat([self._query(x[i : i + chunk]).cpu() < 0 for i in range(0, len(x), chunk)]).numpy()

    def extract_mesh(self, resolution: int, coarse_to_fine: bool = True):
        """Marching cubes of the field in the unit cube, as a trimesh in input coordinates (may be empty)."""
        with eval_mode(self.field):
            vertices, faces = extract_surface(self._query, resolution, chunk=self.scene.train.eval_chunk,
                                              coarse_to_fine=coarse_to_fine, lipschitz=self.lipschitz,
                                              progress=f"marching cubes {resolution}^3")
        return import_trimesh().Trimesh(self.transform.to_input(vertices), faces, process=False)

    def render(self, run_dir, width: int | None = None, height: int | None = None, path: str | None = None,
               frames: int | None = None, up: str | None = None) -> list:
        """Turntable of the sphere-traced surface (``path: orbit``, the only one) about the ``up`` axis
        (default ``data.eval.render_up``): ``renders/turntable/frame_*.png``, the first view's ``depth.png``
        and ``normals.png``, and ``renders/turntable.mp4``."""
        if path not in (None, "orbit"):
            raise UserError(f"{self.scene.task} renders are turntables: --path orbit (got '{path}')")
        cfg = self.scene.data.eval
        width = width or height or cfg.render_size
        height = height or width
        with eval_mode(self.field):
            distance, lipschitz = self.traced_distance()
            return write_turntable(distance, Path(run_dir) / "renders" / "turntable", width, height,
                                   frames=frames or cfg.render_frames, up=up or self.up_axis(), lipschitz=lipschitz)

    def traced_distance(self) -> tuple[Callable[[torch.Tensor], torch.Tensor], float]:
        """What the turntable sphere-traces: ``(points (N, 3) in the unit cube -> (N,), its slope bound)``. An
        SDF is traced directly; a field without a distance bound (occupancy logits) through the exact distance
        to its marching-cubes surface."""
        if self.lipschitz is not None:
            return self._query, self.lipschitz
        vertices, faces = extract_surface(self._query, 256, chunk=self.scene.train.eval_chunk, lipschitz=None,
                                          progress="marching cubes 256^3")
        if len(faces) == 0:
            raise UserError("the field has no surface inside its unit cube: nothing to render")
        mesh = MeshDistance(vertices, faces)
        return (lambda x: _MeshSignedDistance.apply(x, mesh)), 1.0

    def up_axis(self) -> str:
        """``data.eval.render_up``; ``auto``: ``y`` for mesh files (OBJ, PLY, OFF and glTF meshes are
        y-up by convention: the Stanford bunny, CGAL's camel), ``z`` for generated shapes, STL and point
        clouds."""
        up = self.scene.data.eval.render_up
        if up != "auto":
            return up
        mesh = self.scene.data.mesh
        if mesh is None or mesh.startswith("shape:"):
            return "z"
        return "y" if Path(mesh).suffix.lower() in (".obj", ".ply", ".off", ".glb", ".gltf") else "z"

    # --- evaluation and outputs ---------------------------------------------------------------------------
    def evaluate(self) -> dict[str, float]:
        cfg = self.scene.data.eval
        rng = np.random.default_rng(cfg.seed)
        metrics: dict[str, float] = {}
        if self.reference is not None:
            distance = self.distance(reference=self.reference is not self.mesh)
            uniform = rng.random((cfg.points, 3))
            metrics["iou"] = volumetric_iou(self.inside(uniform), distance.occupancy(uniform))
            surface, _ = sample_surface(self.unit_mesh(self.reference), cfg.points, rng)
            near = surface + rng.normal(size=surface.shape) * cfg.near_sigma
            metrics["iou_near"] = volumetric_iou(self.inside(near), distance.occupancy(near))
        mesh = self.extract_mesh(cfg.mesh_resolution)
        metrics["mesh_faces"] = int(len(mesh.faces))
        if len(mesh.faces) == 0:
            log.info("the field has no zero level set in the unit cube: no surface metrics")
            return metrics
        if self.reference is not None:
            extent = float(np.ptp(np.asarray(self.reference.vertices), axis=0).max())
            metrics.update(
                mesh_metrics(mesh, self.reference, cfg.surface_points, cfg.fscore_threshold * extent, cfg.seed)
            )
        else:
            points, normals = sample_surface(mesh, cfg.surface_points, rng)
            extent = float(np.ptp(self.cloud.points, axis=0).max())
            metrics.update(
                surface_metrics(points, normals, self.cloud.points, self.cloud.normals, cfg.fscore_threshold * extent)
            )
        return metrics

    def export_mesh(self, path: Path, resolution: int, coarse_to_fine: bool = True) -> Path:
        """Write the field's surface (input coordinates); the format follows the suffix."""
        path = Path(path)
        fmt = path.suffix.lower().lstrip(".")
        if fmt not in MESH_FORMATS:
            raise UserError(f"{path}: unsupported mesh format '{fmt}'; valid: {', '.join(MESH_FORMATS)}")
        mesh = self.extract_mesh(resolution, coarse_to_fine)
        if len(mesh.faces) == 0:
            raise UserError(f"the field has no surface inside its unit cube (nothing to write to {path})")
        data = mesh.export(file_type=fmt)
        with atomic_path(path) as tmp:
            Path(tmp).write_bytes(data if isinstance(data, bytes) else data.encode())
        return path

    def write_outputs(self, run_dir: Path) -> list[Path]:
        cfg = self.scene.data.eval
        try:
            return [self.export_mesh(Path(run_dir) / f"mesh.{cfg.export_format}", cfg.export_resolution)]
        except UserError as err:
            log.info("%s", err)
            return []
