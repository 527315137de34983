"""``fields process images|video``: cameras from photos or a video (structure from motion)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from fields.apps.commands.common import console, guard, out
from fields.errors import UserError

process_app = typer.Typer(no_args_is_help=True,
                          help="Reconstruct cameras from photos or a video (structure from motion), "
                               "or refine the poses of a posed capture.")
_FRAMES = typer.Option(150, "--frames", min=2, help="Video: frames to keep (the sharpest of each even neighbourhood).")
_MAX_SIZE = typer.Option(None, "--max-size", min=16, help="Downscale frames so the longer side is at most this.")
_MATCHING = typer.Option("auto", "--matching", help="auto, sequential (videos) or exhaustive (small photo sets).")
_OVERWRITE = typer.Option(False, "--overwrite",
                          help="Replace an existing output folder (once the new one is complete).")


def _process(kind: str, source: Path, output: Path, frames: int, max_size: Optional[int], matching: str,
             overwrite: bool) -> None:
    def run() -> None:
        if matching not in ("auto", "sequential", "exhaustive"):
            raise UserError(f"--matching: '{matching}' is not one of auto, sequential, exhaustive")
        from fields.apps.process_display import run_process, summary_table

        summary = run_process(kind, source, output, frames, max_size, matching, overwrite, console)  # type: ignore[arg-type]
        out.print(summary_table(summary, output))
        out.print(f"fit it with: fields fit configs/radiance/capture.yaml data.path={output}", highlight=False)

    guard(run)


@process_app.command("images")
def process_images(
    folder: Path = typer.Argument(..., help="A folder of overlapping photos of one scene (one camera setting)."),
    output: Path = typer.Argument(..., help="Output folder (images, sparse/0, transforms.json)."),
    max_size: Optional[int] = _MAX_SIZE, matching: str = _MATCHING, overwrite: bool = _OVERWRITE,
) -> None:
    """Photos -> undistorted images, COLMAP model and transforms.json."""
    _process("images", folder, output, 0, max_size, matching, overwrite)


@process_app.command("video")
def process_video(
    video: Path = typer.Argument(..., help="A video walking around the scene."),
    output: Path = typer.Argument(..., help="Output folder (images, sparse/0, transforms.json)."),
    frames: int = _FRAMES, max_size: Optional[int] = _MAX_SIZE, matching: str = _MATCHING, overwrite: bool = _OVERWRITE,
) -> None:
    """A video -> the sharpest frames, undistorted, with a COLMAP model and transforms.json."""
    _process("video", video, output, frames, max_size, matching, overwrite)


@process_app.command("poses")
def process_poses(
    data: Path = typer.Argument(..., help="A capture with poses: a folder with transforms.json, a COLMAP model "
                                          "or poses_bounds.npy (one pinhole camera)."),
    output: Path = typer.Argument(..., help="Output folder (images, sparse/0, transforms.json)."),
    max_size: Optional[int] = _MAX_SIZE, matching: str = _MATCHING, overwrite: bool = _OVERWRITE,
) -> None:
    """Given poses (a phone's tracking, a rig) -> the same views with the poses refined by feature tracks and
    bundle adjustment, in the frame and scale of the given ones."""
    _process("poses", data, output, 0, max_size, matching, overwrite)
