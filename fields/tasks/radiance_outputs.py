"""The evaluation and outputs of ``task: radiance``: test-view metrics with the sampler's figures, and the
mesh of the density level set ``render.mesh_density`` (a radiance field's surface is where its density
crosses that level)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from fields.errors import UserError
from fields.tasks.meshing import extract_mesh
from fields.tasks.multiview import MultiViewTask


class RadianceOutputs(MultiViewTask):
    """The outputs half of ``RadianceTask`` (``fields.tasks.radiance``), which builds ``field``, ``grid``,
    ``appearance``, ``camera_opt`` and the ``samples_seen`` buffer."""

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(sampler=self.scene.render.sampler, samples_seen=float(self.samples_seen))
        return info

    def evaluate(self) -> dict[str, float]:
        metrics = super().evaluate()
        seconds = float(self.train_seconds)
        metrics["samples_per_second"] = float(self.samples_seen) / seconds if seconds > 0 else 0.0
        if self.grid is not None:
            metrics["occupied_fraction"] = self.grid.occupancy_fraction()
        if self.appearance is not None:
            metrics["test_appearance"] = "mean of the training views' appearance codes"
        if self.camera_opt is not None:
            metrics["camera_correction_deg"], metrics["camera_correction_unit"] = self.camera_opt.errors()
        return metrics

    def density_mesh(self, path: Path, resolution: int) -> Optional[Path]:
        """The level set ``render.mesh_density`` on a ``resolution``-cell grid of the field's box, as a PLY in
        world units (no coarse pass: thin parts of a density field can hide between coarse samples); None
        when no density reaches the level."""
        box = (self.field.box_lo, self.field.box_size)
        return extract_mesh(lambda x: self.field.density(x), resolution, self.scene.render.mesh_density, box,
                            self.transform, Path(path), self.device, flip=True)

    def export_mesh(self, path: Path, resolution: Optional[int] = None, coarse_to_fine: bool = True) -> Path:
        """``fields export mesh``: the density level set (``export_levelset``); with a contraction (an
        unbounded scene, whose level set the box cuts and the background's density speckles) TSDF fusion
        of the training views' rendered depth instead, ``resolution`` voxels per side (default 256)."""
        if self.contraction is not None:
            return self.export_tsdf(path, resolution or 256)
        return self.export_levelset(path, resolution or 512)

    def export_levelset(self, path: Path, resolution: int) -> Path:
        """``density_mesh`` (PLY only)."""
        if Path(path).suffix.lower() != ".ply":
            raise UserError(f"{path}: radiance meshes are written as PLY (--format ply)")
        written = self.density_mesh(path, resolution)
        if written is None:
            raise UserError(f"no density above render.mesh_density={self.scene.render.mesh_density} "
                            "inside the scene box")
        return written

    def write_outputs(self, run_dir: Path) -> list[Path]:
        paths = super().write_outputs(run_dir)
        if self.scene.render.mesh_resolution:
            mesh = self.density_mesh(Path(run_dir) / "mesh.ply", self.scene.render.mesh_resolution)
            if mesh is not None:
                paths.append(mesh)
        return paths
