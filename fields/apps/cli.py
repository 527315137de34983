"""The ``fields`` command line: fit, eval, render, view, info.

User errors (bad scene files, missing data) print one line and exit with code 2; ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import inspect
import logging
import platform
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from fields.errors import UserError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Neural fields: fit, evaluate and render fields from scene files.")
console = Console(stderr=True)
out = Console()
_state = {"debug": False}


def _setup_logging(debug: bool) -> None:
    handler = RichHandler(console=console, show_path=False, show_time=False, markup=False)
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO, handlers=[handler], format="%(message)s", force=True
    )


def _fail(err: BaseException, code: int) -> None:
    if _state["debug"]:
        raise err
    message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    if code != 2:
        console.print("run again with --debug for the traceback", style="dim")
    raise typer.Exit(code)


def _guard(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except UserError as err:
        _fail(err, 2)
    except KeyboardInterrupt:
        console.print("interrupted")
        raise typer.Exit(130)
    except typer.Exit:
        raise
    except Exception as err:  # a bug: say so, keep the traceback behind --debug
        _fail(RuntimeError(f"{type(err).__name__}: {err}"), 1)


@app.callback()
def main(debug: bool = typer.Option(False, "--debug", help="Show tracebacks of errors.")) -> None:
    _state["debug"] = debug
    _setup_logging(debug)


def _metrics_table(metrics: dict, title: str) -> Table:
    table = Table(title=title, show_header=False)
    for key, value in metrics.items():
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    return table


@app.command()
def fit(
    scene: Optional[str] = typer.Argument(None, help="Scene YAML file (optional with --resume)."),
    overrides: Optional[List[str]] = typer.Argument(
        None, help="Dotted overrides: train.steps=500 model.encoder.n_levels=8"
    ),
    resume: Optional[Path] = typer.Option(
        None, "--resume", help="Continue the run in this folder from its last checkpoint."
    ),
    view: bool = typer.Option(False, "--view", help="Watch the field train in the web viewer (served until Ctrl-C)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Viewer address (with --view)."),
    port: int = typer.Option(8080, "--port", help="Viewer port (with --view)."),
) -> None:
    """Fit a field to the data of a scene file."""

    def run() -> None:
        from fields.config.load import apply_overrides, read_yaml
        from fields.engine.run import CONFIG_NAME
        from fields.engine.run import fit as fit_scene
        from fields.engine.scene import load_scene, scene_from_dict

        items = list(overrides or [])
        scene_path = scene
        if scene_path is not None and "=" in scene_path and not Path(scene_path).exists():
            items.insert(0, scene_path)
            scene_path = None
        if resume is not None:
            config = resume / CONFIG_NAME
            if not config.is_file():
                raise UserError(f"{resume}: not a run folder ({CONFIG_NAME} missing)")
            data = apply_overrides(read_yaml(config), items)
            cfg = scene_from_dict(data, base_dir=resume, source=str(config))
            run_dir, name = resume, resume.name
        else:
            if scene_path is None:
                raise UserError("give a scene file, e.g. fields fit configs/image/astronaut.yaml")
            cfg = load_scene(scene_path, items)
            run_dir, name = None, Path(scene_path).stem
        callbacks, viewer = [], None
        if view:
            from fields.apps.viewer.callback import ViewerCallback
            from fields.apps.viewer.server import Viewer

            viewer = Viewer(host, port, print_url=lambda line: out.print(line, highlight=False))
            callbacks.append(ViewerCallback(viewer))
        run_dir, metrics = fit_scene(cfg, run_dir, scene_name=name, resume=resume is not None, callbacks=callbacks)
        out.print(_metrics_table(metrics, f"{cfg.task} fit"))
        summary = f"PSNR {metrics['psnr']:.2f} dB, " if "psnr" in metrics else ""
        summary += f"IoU {metrics['iou']:.4f}, " if "iou" in metrics else ""
        out.print(f"{summary}outputs in {run_dir}", highlight=False)
        if viewer is not None:
            from fields.apps.viewer.run import serve_forever

            out.print(f"training done; the viewer stays at {viewer.url} (Ctrl-C to quit)", highlight=False)
            serve_forever(viewer)

    _guard(run)


@app.command("eval")
def evaluate(run_dir: Path = typer.Argument(..., help="A run folder written by fields fit.")) -> None:
    """Recompute a run's metrics from its last checkpoint."""

    def run() -> None:
        from fields.engine.run import evaluate_run

        out.print(_metrics_table(evaluate_run(run_dir), str(run_dir)))

    _guard(run)


@app.command()
def render(
    run_dir: Path = typer.Argument(..., help="A run folder written by fields fit."),
    width: Optional[int] = typer.Option(None, "--width", min=1, help="Output width in pixels."),
    height: Optional[int] = typer.Option(None, "--height", min=1, help="Output height in pixels."),
    path: Optional[str] = typer.Option(
        None, "--path", help="3D tasks: camera path orbit|spiral|dataset (PNGs and an MP4)."
    ),
    frames: Optional[int] = typer.Option(None, "--frames", min=1, help="3D tasks: frames along the camera path."),
) -> None:
    """Render a fitted field (image fields: at any resolution; 3D fields: along a camera path)."""

    def run() -> None:
        from fields.engine.run import load_run

        _, task = load_run(run_dir)
        if not hasattr(task, "render"):
            raise UserError(f"{run_dir}: task '{task.scene.task}' has no renderer")
        extra = {k: v for k, v in (("path", path), ("frames", frames)) if v is not None}
        if extra and "path" not in inspect.signature(task.render).parameters:
            raise UserError(f"{run_dir}: task '{task.scene.task}' renders no camera paths (--path, --frames)")
        for written in task.render(run_dir, width=width, height=height, **extra):
            out.print(f"wrote {written}", highlight=False)

    _guard(run)


@app.command("view")
def view_run(
    run_dir: Path = typer.Argument(..., help="A run folder written by fields fit."),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to serve on (0.0.0.0: reachable from other machines)."
    ),
    port: int = typer.Option(8080, "--port", help="Port to serve on (the next free one if taken)."),
) -> None:
    """Open a fitted field in the web viewer (served until Ctrl-C)."""

    def run() -> None:
        from fields.apps.viewer.run import open_run, serve_forever

        serve_forever(open_run(run_dir, host, port, print_url=lambda line: out.print(line, highlight=False)))

    _guard(run)


export_app = typer.Typer(no_args_is_help=True, help="Export fitted fields (meshes of SDF and occupancy runs).")
app.add_typer(export_app, name="export")


@export_app.command("mesh")
def export_mesh(
    run_dir: Path = typer.Argument(..., help="A run folder written by fields fit (task sdf or occupancy)."),
    resolution: int = typer.Option(512, "--resolution", min=8, help="Marching cubes cells per axis."),
    fmt: str = typer.Option("ply", "--format", help="ply, obj, glb, stl or off."),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help="Output file (its suffix is the format); default RUN_DIR/mesh_RES.FORMAT."
    ),
    coarse_to_fine: bool = typer.Option(True, "--coarse-to-fine/--full-grid", help="Refine only near the surface."),
) -> None:
    """Extract the surface of a fitted field (marching cubes, in the input's coordinates)."""

    def run() -> None:
        from fields.engine.run import load_run

        _, task = load_run(run_dir)
        if not hasattr(task, "export_mesh"):
            raise UserError(f"{run_dir}: task '{task.scene.task}' has no surface to export")
        path = output or Path(run_dir) / f"mesh_{resolution}.{fmt.lower()}"  # an --output's suffix names its format
        out.print(f"wrote {task.export_mesh(path, resolution, coarse_to_fine)}", highlight=False)

    _guard(run)


@app.command()
def info() -> None:
    """Versions, devices and which optional backends are usable (and why not)."""

    def run() -> None:
        import torch

        import fields
        from fields.apps.backends import backend_report

        table = Table(title="fields", show_header=False)
        table.add_row("fields", fields.__version__)
        table.add_row("python", platform.python_version())
        try:
            import pytorch_lightning as pl

            table.add_row("pytorch-lightning", pl.__version__)
        except Exception as err:  # pragma: no cover
            table.add_row("pytorch-lightning", f"missing ({err})")
        devices = ["cpu"] + [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        table.add_row("devices", ", ".join(devices))
        table.add_row("threads", str(torch.get_num_threads()))
        out.print(table)
        backends = Table(title="backends")
        for column in ("backend", "usable", "detail"):
            backends.add_column(column)
        for row in backend_report():
            backends.add_row(row.name, "yes" if row.usable else "no", row.detail)
        out.print(backends)

    _guard(run)


def entrypoint() -> None:
    try:
        app()
    except SystemExit as exc:
        sys.exit(exc.code)


if __name__ == "__main__":
    entrypoint()
