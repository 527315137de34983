"""``fields export mesh|pointcloud|cameras``: surfaces, point clouds and cameras of fitted fields. Options and the
run folder are checked before torch loads."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from fields.apps.commands.common import MESH_FORMATS, guard, out
from fields.errors import UserError

export_app = typer.Typer(no_args_is_help=True,
                         help="Export fitted fields: meshes, point clouds and cameras of 3D runs.")
_EXPORT_OUTPUT = typer.Option(None, "--output", "-o", help="Output file; default in RUN_DIR.")


@export_app.command("mesh")
def export_mesh(
    run_dir: Path = typer.Argument(..., help="A run folder written by fields fit (sdf, occupancy, radiance, "
                                   "surface or splat)."),
    resolution: Optional[int] = typer.Option(None, "--resolution", min=8, max=4096,
                                             help="Cells per axis (marching cubes: 512; TSDF: the task's)."),
    fmt: str = typer.Option("ply", "--format", help="ply, obj, glb, stl or off."),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help="Output file (its suffix is the format); default RUN_DIR/mesh_RES.FORMAT."
    ),
    coarse_to_fine: bool = typer.Option(True, "--coarse-to-fine/--full-grid", help="Refine only near the surface."),
    method: str = typer.Option("auto", "--method", help="auto (the task's), tsdf (fusion of rendered depth: "
                               "multi-view runs) or levelset (marching cubes of the field)."),
) -> None:
    """Extract the surface of a fitted field, in the input's coordinates."""

    def run() -> None:
        from fields.engine.run_folder import read_run_scene

        if fmt.lower() not in MESH_FORMATS:
            raise UserError(f"--format: '{fmt}' is not one of {', '.join(MESH_FORMATS)}")
        if output is not None and output.suffix.lstrip(".").lower() not in MESH_FORMATS:
            raise UserError(f"--output: the suffix '{output.suffix}' names no mesh format; "
                            f"use one of {', '.join(MESH_FORMATS)}")
        if method not in ("auto", "tsdf", "levelset"):
            raise UserError(f"--method: '{method}' is not one of auto, tsdf, levelset")
        read_run_scene(run_dir)
        from fields.engine.run import load_run

        _, task = load_run(run_dir)
        if not hasattr(task, "export_mesh"):
            raise UserError(f"{run_dir}: task '{task.scene.task}' has no surface to export")
        if method == "tsdf" and not hasattr(task, "export_tsdf"):
            raise UserError(f"{run_dir}: task '{task.scene.task}' renders no views to fuse; use --method auto")
        if method == "levelset" and task.scene.task == "splat":
            raise UserError(f"{run_dir}: splats have no level set; use --method tsdf")
        fused = method == "tsdf" or (method == "auto" and (task.scene.task == "splat"
                                                           or getattr(task, "contraction", None) is not None))
        cells = resolution or (None if fused else 512)
        path = output or Path(run_dir) / f"mesh_{cells or 'tsdf'}.{fmt.lower()}"  # an --output's suffix: its format
        if method == "tsdf":
            written = task.export_tsdf(path, cells or 256)
        elif method == "levelset" and hasattr(task, "export_levelset"):
            written = task.export_levelset(path, cells)
        else:
            written = task.export_mesh(path, cells, coarse_to_fine)
        out.print(f"wrote {written}", highlight=False)

    guard(run)


def _export_views(run_dir: Path, output: Optional[Path], what: str, default: str, suffix: str) -> None:
    def run() -> None:
        from fields.engine.run_folder import read_run_scene

        if output is not None and output.suffix.lower() != suffix:
            raise UserError(f"--output: {what} are written as {suffix} files")
        read_run_scene(run_dir)
        from fields.engine.run import load_run

        _, task = load_run(run_dir)
        method = getattr(task, f"export_{what.replace(' ', '')}", None)
        if method is None:
            raise UserError(f"{run_dir}: task '{task.scene.task}' has no {what} to export (3D multi-view runs do)")
        out.print(f"wrote {method(output or Path(run_dir) / default)}", highlight=False)

    guard(run)


@export_app.command("pointcloud")
def export_pointcloud(run_dir: Path = typer.Argument(..., help="A radiance, surface or splat run folder."),
                      output: Optional[Path] = _EXPORT_OUTPUT) -> None:
    """A coloured point cloud (.ply): splat centres, or the rendered surface of the training views."""
    _export_views(run_dir, output, "pointcloud", "export_pointcloud.ply", ".ply")


@export_app.command("cameras")
def export_cameras(run_dir: Path = typer.Argument(..., help="A radiance, surface or splat run folder."),
                   output: Optional[Path] = _EXPORT_OUTPUT) -> None:
    """The cameras (refined where the run refined them) as JSON in the transforms.json layout."""
    _export_views(run_dir, output, "cameras", "cameras.json", ".json")
