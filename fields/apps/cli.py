"""The ``fields`` command line: fit, eval, render, view, info.

User errors (bad scene files, missing data) print one line and exit with code 2; ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import inspect
import logging
import platform
import signal
import sys
import threading
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from fields.errors import Interrupted, UserError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Neural fields: fit, evaluate and render fields from scene files.")
console = Console(stderr=True)
out = Console()
_state = {"debug": False}
MAX_SIDE = 16384  # pixels on a side of a render: 2^28 pixels already take gigabytes
MESH_FORMATS = ("ply", "obj", "glb", "stl", "off")


def written_lines(paths: List[Path]) -> List[str]:
    """One line per folder: a turntable's 24 frames are one line, not 24."""
    folders: dict[Path, list[Path]] = {}
    for path in map(Path, paths):
        folders.setdefault(path.parent, []).append(path)
    lines = []
    for folder, files in folders.items():
        if len(files) <= 3:
            lines.extend(f"wrote {f}" for f in files)
        else:
            frames = sorted(f.name for f in files if f.suffix == ".png")
            others = sorted(f.name for f in files if f.suffix != ".png")
            what = f"{len(frames)} frames ({frames[0]} ... {frames[-1]})" if frames else ""
            what = ", ".join(x for x in (what, *others) if x)
            lines.append(f"wrote {what} in {folder}")
    return lines


def check_address(host: str, port: int) -> None:
    """A viewer address that can be served, checked before anything loads (a bad one hung viser)."""
    import ipaddress
    import socket

    if not host or any(c.isspace() for c in host):
        raise UserError(f"--host: '{host}' is not an address")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if all(part.isdigit() for part in host.split(".")):
            raise UserError(f"--host: '{host}' is not a valid IP address") from None
        try:
            socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as err:
            raise UserError(f"--host: cannot resolve '{host}' ({err})") from None


def _setup_logging(debug: bool) -> None:
    handler = RichHandler(console=console, show_path=False, show_time=False, markup=False)
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO, handlers=[handler], format="%(message)s", force=True
    )


def _fail(err: BaseException, code: int) -> None:
    if _state["debug"]:
        raise err
    message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True, soft_wrap=True)
    if code != 2:
        console.print("run again with --debug for the traceback", style="dim")
    raise typer.Exit(code)


def _terminate(signum: int, frame: object) -> None:
    raise Interrupted(f"terminated ({signal.Signals(signum).name})", 128 + signum)


def _guard(fn, *args, **kwargs):
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        return fn(*args, **kwargs)
    except UserError as err:
        _fail(err, 2)
    except Interrupted as err:
        console.print(str(err), highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(err.exit_code)
    except KeyboardInterrupt:
        console.print("interrupted")
        raise typer.Exit(130)
    except typer.Exit:
        raise
    except (MemoryError, torch_out_of_memory()) as err:
        _fail(UserError(f"out of memory ({type(err).__name__}): lower the resolution, batch or model size"), 2)
    except OSError as err:
        if err.filename is None:
            _fail(RuntimeError(f"{type(err).__name__}: {err}"), 1)
        # a file or folder the system refuses (permissions, a full disk, a path under a file): the user's to fix
        _fail(UserError(f"{err.filename}: {err.strerror or err}"), 2)
    except Exception as err:  # a bug: say so, keep the traceback behind --debug
        _fail(RuntimeError(f"{type(err).__name__}: {err}"), 1)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def torch_out_of_memory() -> type[BaseException]:
    torch = sys.modules.get("torch")
    return getattr(torch, "OutOfMemoryError", MemoryError) if torch is not None else MemoryError


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
    port: int = typer.Option(8080, "--port", min=0, max=65535, help="Viewer port (with --view)."),
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
            if scene_path is not None:
                raise UserError(f"--resume continues {resume} with its own scene; give overrides only, "
                                f"not {scene_path}")
            if not resume.is_dir():
                raise UserError(f"{resume}: run folder not found")
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
            check_address(host, port)
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
        from fields.engine.run import load_run

        _, task = load_run(run_dir)
        if not hasattr(task, "render"):
            raise UserError(f"{run_dir}: task '{task.scene.task}' has no renderer here; "
                            f"look at it with fields view, or fields export mesh")
        if up is not None and up not in ("x", "y", "z"):
            raise UserError(f"--up: '{up}' is not x, y or z")
        extra = {k: v for k, v in (("path", path), ("frames", frames), ("up", up)) if v is not None}
        accepted = inspect.signature(task.render).parameters
        if "path" in extra or "frames" in extra:
            if "path" not in accepted:
                raise UserError(f"{run_dir}: task '{task.scene.task}' renders no camera paths (--path, --frames)")
        if "up" in extra and "up" not in accepted:
            raise UserError(f"{run_dir}: --up is for SDF turntables, not task '{task.scene.task}'")
        for line in written_lines(task.render(run_dir, width=width, height=height, **extra)):
            out.print(line, highlight=False)

    _guard(run)


@app.command("view")
def view_run(
    run_dir: Path = typer.Argument(..., help="A run folder written by fields fit."),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to serve on (0.0.0.0: reachable from other machines)."
    ),
    port: int = typer.Option(8080, "--port", min=0, max=65535, help="Port to serve on (the next free one if taken)."),
) -> None:
    """Open a fitted field in the web viewer (served until Ctrl-C)."""

    def run() -> None:
        from fields.apps.viewer.run import open_run, serve_forever

        check_address(host, port)
        serve_forever(open_run(run_dir, host, port, print_url=lambda line: out.print(line, highlight=False)))

    _guard(run)


export_app = typer.Typer(no_args_is_help=True,
                         help="Export fitted fields: meshes, point clouds and cameras of 3D runs.")
app.add_typer(export_app, name="export")
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
        from fields.engine.run import load_run

        if fmt.lower() not in MESH_FORMATS:
            raise UserError(f"--format: '{fmt}' is not one of {', '.join(MESH_FORMATS)}")
        if output is not None and output.suffix.lstrip(".").lower() not in MESH_FORMATS:
            raise UserError(f"--output: the suffix '{output.suffix}' names no mesh format; "
                            f"use one of {', '.join(MESH_FORMATS)}")
        if method not in ("auto", "tsdf", "levelset"):
            raise UserError(f"--method: '{method}' is not one of auto, tsdf, levelset")
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

    _guard(run)


def _export_views(run_dir: Path, output: Optional[Path], what: str, default: str, suffix: str) -> None:
    def run() -> None:
        from fields.engine.run import load_run

        if output is not None and output.suffix.lower() != suffix:
            raise UserError(f"--output: {what} are written as {suffix} files")
        _, task = load_run(run_dir)
        method = getattr(task, f"export_{what.replace(' ', '')}", None)
        if method is None:
            raise UserError(f"{run_dir}: task '{task.scene.task}' has no {what} to export (3D multi-view runs do)")
        out.print(f"wrote {method(output or Path(run_dir) / default)}", highlight=False)

    _guard(run)


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


process_app = typer.Typer(no_args_is_help=True,
                          help="Reconstruct cameras from photos or a video (structure from motion).")
app.add_typer(process_app, name="process")
_FRAMES = typer.Option(150, "--frames", min=2, help="Video: frames to keep (the sharpest of each even neighbourhood).")
_MAX_SIZE = typer.Option(None, "--max-size", min=16, help="Downscale frames so the longer side is at most this.")
_MATCHING = typer.Option("auto", "--matching", help="auto, sequential (videos) or exhaustive (small photo sets).")
_OVERWRITE = typer.Option(False, "--overwrite",
                          help="Replace an existing output folder (once the new one is complete).")


def _process(kind: str, source: Path, output: Path, frames: int, max_size: Optional[int], matching: str,
             overwrite: bool) -> None:
    def run() -> None:
        from fields.apps.process_display import run_process, summary_table

        if matching not in ("auto", "sequential", "exhaustive"):
            raise UserError(f"--matching: '{matching}' is not one of auto, sequential, exhaustive")
        summary = run_process(kind, source, output, frames, max_size, matching, overwrite, console)  # type: ignore[arg-type]
        out.print(summary_table(summary, output))
        out.print(f"fit it with: fields fit configs/radiance/capture.yaml data.path={output}", highlight=False)

    _guard(run)


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
        from fields.threads import configure_threads

        table.add_row("threads", str(torch.get_num_threads()))
        table.add_row("OpenMP wait", f"{configure_threads().wait} ({configure_threads().reason})")
        out.print(table)
        backends = Table(title="backends")
        for column in ("backend", "usable", "detail"):
            backends.add_column(column)
        for row in backend_report():
            backends.add_row(row.name, "yes" if row.usable else "no", row.detail)
        out.print(backends)

    _guard(run)


def _click_errors(name: str) -> tuple[type[BaseException], ...]:
    """``name`` from click and from the copy of click that newer typer versions vendor as ``typer._click``."""
    import importlib

    kinds = []
    for module in ("click.exceptions", "typer._click.exceptions"):
        try:
            kinds.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            pass
    return tuple(kinds)


def entrypoint() -> None:
    try:
        code = app(standalone_mode=False)
    except _click_errors("NoArgsIsHelpError") as err:
        err.show()  # type: ignore[attr-defined]
        sys.exit(err.exit_code)  # type: ignore[attr-defined]
    except _click_errors("UsageError") as err:  # one line, like every other user error
        ctx = getattr(err, "ctx", None)
        command = ctx.command_path if ctx is not None else "fields"
        console.print(f"[bold red]error:[/] {escape(err.format_message())} (see {command} --help)",  # type: ignore[attr-defined]
                      highlight=False, soft_wrap=True)
        sys.exit(2)
    except _click_errors("Abort"):
        console.print("interrupted")
        sys.exit(130)
    except SystemExit as exc:
        sys.exit(exc.code)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    entrypoint()
