"""``fields render``: a fitted field at any resolution (images, videos) or along a camera path (3D tasks)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Optional

import typer

from fields.apps.commands.common import MAX_SIDE, guard, out, written_lines
from fields.errors import UserError


def render(
    run_dir: Path = typer.Argument(..., help="A run folder written by fields fit."),
    width: Optional[int] = typer.Option(None, "--width", min=1, max=MAX_SIDE, help="Output width in pixels."),
    height: Optional[int] = typer.Option(None, "--height", min=1, max=MAX_SIDE, help="Output height in pixels."),
    path: Optional[str] = typer.Option(
        None, "--path", help="3D tasks: camera path orbit|spiral|dataset (PNGs and an MP4)."
    ),
    frames: Optional[int] = typer.Option(None, "--frames", min=1, max=10000,
                                         help="3D tasks: frames along the camera path."),
    up: Optional[str] = typer.Option(None, "--up", help="SDF turntables: the axis to turn about, x, y or z "
                                                        "(default: data.eval.render_up)"),
) -> None:
    """Render a fitted field (image fields: at any resolution; 3D fields: along a camera path)."""

    def run() -> None:
        from fields.engine.run_folder import read_run_scene

        if up is not None and up not in ("x", "y", "z"):
            raise UserError(f"--up: '{up}' is not x, y or z")
        read_run_scene(run_dir)
        from fields.engine.run import load_run

        _, task = load_run(run_dir)
        if not hasattr(task, "render"):
            raise UserError(f"{run_dir}: task '{task.scene.task}' has no renderer here; "
                            f"look at it with fields view, or fields export mesh")
        extra = {k: v for k, v in (("path", path), ("frames", frames), ("up", up)) if v is not None}
        accepted = inspect.signature(task.render).parameters
        if "path" in extra or "frames" in extra:
            if "path" not in accepted:
                raise UserError(f"{run_dir}: task '{task.scene.task}' renders no camera paths (--path, --frames)")
        if "up" in extra and "up" not in accepted:
            raise UserError(f"{run_dir}: --up is for SDF turntables, not task '{task.scene.task}'")
        for line in written_lines(task.render(run_dir, width=width, height=height, **extra)):
            out.print(line, highlight=False)

    guard(run)
