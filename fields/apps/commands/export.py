"""``fields export mesh``: the surface of a fitted SDF, occupancy or radiance field."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from fields.apps.commands.common import MESH_FORMATS, guard, out
from fields.errors import UserError

export_app = typer.Typer(no_args_is_help=True, help="Export fitted fields (meshes of SDF and occupancy runs).")


@export_app.command("mesh")
def export_mesh(
    run_dir: Path = typer.Argument(..., help="A run folder written by fields fit (task sdf or occupancy)."),
    resolution: int = typer.Option(512, "--resolution", min=8, max=4096, help="Marching cubes cells per axis."),
    fmt: str = typer.Option("ply", "--format", help="ply, obj, glb, stl or off."),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help="Output file (its suffix is the format); default RUN_DIR/mesh_RES.FORMAT."
    ),
    coarse_to_fine: bool = typer.Option(True, "--coarse-to-fine/--full-grid", help="Refine only near the surface."),
) -> None:
    """Extract the surface of a fitted field (marching cubes, in the input's coordinates)."""

    def run() -> None:
        from fields.engine.run_folder import read_run_scene

        if fmt.lower() not in MESH_FORMATS:
            raise UserError(f"--format: '{fmt}' is not one of {', '.join(MESH_FORMATS)}")
        if output is not None and output.suffix.lstrip(".").lower() not in MESH_FORMATS:
            raise UserError(f"--output: the suffix '{output.suffix}' names no mesh format; "
                            f"use one of {', '.join(MESH_FORMATS)}")
        read_run_scene(run_dir)
        from fields.engine.run import load_run

        _, task = load_run(run_dir)
        if not hasattr(task, "export_mesh"):
            raise UserError(f"{run_dir}: task '{task.scene.task}' has no surface to export")
        path = output or Path(run_dir) / f"mesh_{resolution}.{fmt.lower()}"  # an --output's suffix names its format
        out.print(f"wrote {task.export_mesh(path, resolution, coarse_to_fine)}", highlight=False)

    guard(run)
