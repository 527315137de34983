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
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Optional

import numpy as np
import pydantic
import torch
from pydantic import ValidationInfo, field_validator, model_validator

from fields.config.base import StrictModel
from fields.datasets.analytic import PRESETS, SHAPE_PREFIX, preset, shape_mesh
from fields.datasets.cgal import CGAL_PREFIX, resolve_cgal
from fields.datasets.mesh import import_trimesh, load_mesh, mesh_from_arrays, sample_surface
from fields.datasets.normalize import UnitCubeTransform
from fields.datasets.paths import resolve_data_path
from fields.datasets.pointcloud import PointCloud, load_point_cloud, poisson_mesh
from fields.datasets.sdf_sampling import MeshDistance, SampleConfig, SamplePool, cloud_sample_pool, mesh_sample_pool
from fields.errors import UserError
from fields.export.marching_cubes import extract_surface
from fields.io import atomic_path
from fields.metrics.geometry import mesh_metrics, surface_metrics, volumetric_iou
from fields.models import Field
from fields.modules import eval_mode
from fields.tasks.base import FieldTask

if TYPE_CHECKING:
    from fields.engine.scene import SceneConfig

log = logging.getLogger("fields")
MESH_FORMATS = ("ply", "obj", "glb", "stl", "off")


class GeometryLosses(StrictModel):
    """Loss weights. ``eikonal`` and ``normal`` need ``d field / dx`` (and its derivative): they are
    computed on ``gradient_fraction`` of each batch. Point-cloud SDFs also use ``surface`` (|f| on the
    points), ``off_surface`` (SIREN's ``exp(-alpha |f|)`` on uniform samples) and ``pseudo_distance``."""

    eikonal: float = pydantic.Field(0.1, ge=0)
    normal: float = pydantic.Field(0.0, ge=0)
    surface: float = pydantic.Field(1.0, ge=0)
    off_surface: float = pydantic.Field(0.1, ge=0)
    off_surface_alpha: float = pydantic.Field(100.0, gt=0)
    pseudo_distance: float = pydantic.Field(1.0, ge=0, description="point clouds: L1 to Hoppe's distance estimate")
    gradient_fraction: float = pydantic.Field(0.125, gt=0, le=1)


class GeometryEval(StrictModel):
    points: int = pydantic.Field(2**18, ge=1024, description="samples for each IoU (uniform, near-surface)")
    near_sigma: float = pydantic.Field(0.01, gt=0, description="near-surface IoU offsets, unit-cube units")
    mesh_resolution: int = pydantic.Field(256, ge=8, description="marching cubes cells per axis for Chamfer")
    surface_points: int = pydantic.Field(100_000, ge=100, description="samples per surface for Chamfer")
    fscore_threshold: float = pydantic.Field(0.01, gt=0, description="fraction of the longest bounding-box side")
    export_resolution: int = pydantic.Field(256, ge=8, description="mesh written by fields fit")
    export_format: Literal["ply", "obj", "glb", "stl", "off"] = "ply"
    render_frames: int = pydantic.Field(24, ge=1)
    render_size: int = pydantic.Field(256, ge=8)
    render_up: Literal["auto", "x", "y", "z"] = pydantic.Field(
        "auto", description="turntable axis; auto: y for mesh files (their usual convention), z otherwise")
    seed: int = 0


class GeometryData(StrictModel):
    mesh: Optional[str] = pydantic.Field(None, description="mesh file, or shape:NAME for a generated shape")
    points: Optional[str] = pydantic.Field(None, description="point cloud file (an SDF from oriented points)")
    reference: Optional[str] = pydantic.Field(None, description="mesh for the metrics of a point-cloud fit")
    padding: float = pydantic.Field(0.1, ge=0, lt=0.5, description="margin in the unit cube on each side")
    shape_resolution: int = pydantic.Field(128, ge=16, description="marching cubes of shape:NAME meshes")
    poisson_depth: int = pydantic.Field(8, ge=4, le=12, description="occupancy from a point cloud")
    samples: SampleConfig = pydantic.Field(default_factory=SampleConfig)
    losses: GeometryLosses = pydantic.Field(default_factory=GeometryLosses)
    eval: GeometryEval = pydantic.Field(default_factory=GeometryEval)

    @field_validator("mesh", "points", "reference")
    @classmethod
    def _exists(cls, value: Optional[str], info: ValidationInfo) -> Optional[str]:
        if value is None:
            return None
        if value.startswith(SHAPE_PREFIX):
            if info.field_name == "points":
                raise ValueError("generated shapes are meshes: use data.mesh")
            name = value[len(SHAPE_PREFIX) :]
            if name not in PRESETS:
                raise ValueError(f"no generated shape '{name}'; valid: {', '.join(PRESETS)}")
            return value
        if value.startswith(CGAL_PREFIX):
            return resolve_cgal(value)
        return resolve_data_path(value, (info.context or {}).get("base_dir"))

    @model_validator(mode="after")
    def _one_source(self) -> "GeometryData":
        if (self.mesh is None) == (self.points is None):
            raise ValueError("give data.mesh (a mesh file or shape:NAME) or data.points (a point cloud), one of them")
        if self.reference is not None and self.mesh is not None:
            raise ValueError("data.reference is for point-cloud fits; a mesh is its own reference")
        return self


def read_mesh(value: str, shape_resolution: int):
    if value.startswith(SHAPE_PREFIX):
        return shape_mesh(preset(value[len(SHAPE_PREFIX) :]), shape_resolution)
    return load_mesh(value)


class GeometryTask(FieldTask):
    DataConfig = GeometryData
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

    scene_defaults: ClassVar[dict[str, dict[str, Any]]] = {"model": {"output_activation": "none"}}

    @classmethod
    def check_scene(cls, scene: "SceneConfig") -> None:
        super().check_scene(scene)
        if scene.model.output_activation != "none":
            raise ValueError(
                f"model.output_activation: {scene.task} fields need 'none' (got '{scene.model.output_activation}')"
            )

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
                                              coarse_to_fine=coarse_to_fine, lipschitz=self.lipschitz)
        return import_trimesh().Trimesh(self.transform.to_input(vertices), faces, process=False)

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
