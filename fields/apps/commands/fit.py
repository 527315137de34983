"""``fields fit`` and ``fields eval``. The scene (file, overrides, or a run folder's own with ``--resume``) is
validated before torch and Lightning load."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from fields.apps.commands.common import check_address, guard, metrics_table, out
from fields.errors import UserError


def _scene(scene: Optional[str], overrides: List[str], resume: Optional[Path]):
    """``(scene config, run folder or None, run name)`` from the command line, torch-free."""
    from fields.config.load import apply_overrides, read_yaml
    from fields.engine.run_folder import CONFIG_NAME, check_output_dir
    from fields.engine.scene import load_scene, scene_from_dict

    items = list(overrides)
    if scene is not None and "=" in scene and not Path(scene).exists():
        items.insert(0, scene)
        scene = None
    if resume is not None:
        if scene is not None:
            raise UserError(f"--resume continues {resume} with its own scene; give overrides only, not {scene}")
        if not resume.is_dir():
            raise UserError(f"{resume}: run folder not found")
        config = resume / CONFIG_NAME
        if not config.is_file():
            raise UserError(f"{resume}: not a run folder ({CONFIG_NAME} missing)")
        data = apply_overrides(read_yaml(config), items)
        return scene_from_dict(data, base_dir=resume, source=str(config)), resume, resume.name
    if scene is None:
        raise UserError("give a scene file, e.g. fields fit configs/image/astronaut.yaml")
    cfg = load_scene(scene, items)
    check_output_dir(cfg.output.dir)
    return cfg, None, Path(scene).stem


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
        cfg, run_dir, name = _scene(scene, list(overrides or []), resume)
        if view:
            check_address(host, port)
        from fields.engine.run import fit as fit_scene  # torch and Lightning: only for a valid scene

        callbacks, viewer = [], None
        if view:
            from fields.apps.viewer.callback import ViewerCallback
            from fields.apps.viewer.server import Viewer

            viewer = Viewer(host, port, print_url=lambda line: out.print(line, highlight=False))
            callbacks.append(ViewerCallback(viewer))
        run_dir, metrics = fit_scene(cfg, run_dir, scene_name=name, resume=resume is not None, callbacks=callbacks)
        out.print(metrics_table(metrics, f"{cfg.task} fit"))
        summary = f"PSNR {metrics['psnr']:.2f} dB, " if "psnr" in metrics else ""
        summary += (f"{metrics['psnr_aligned']:.2f} dB with the test poses aligned, "
                    if "psnr_aligned" in metrics else "")
        summary += f"IoU {metrics['iou']:.4f}, " if "iou" in metrics else ""
        out.print(f"{summary}outputs in {run_dir}", highlight=False)
        if viewer is not None:
            from fields.apps.viewer.run import serve_forever

            out.print(f"training done; the viewer stays at {viewer.url} (Ctrl-C to quit)", highlight=False)
            serve_forever(viewer)

    guard(run)


def evaluate(run_dir: Path = typer.Argument(..., help="A run folder written by fields fit.")) -> None:
    """Recompute a run's metrics from its last checkpoint (into eval.json; the fit's metrics.json stays)."""

    def run() -> None:
        from fields.engine.run_folder import read_run_scene

        read_run_scene(run_dir)
        from fields.engine.run import evaluate_run

        out.print(metrics_table(evaluate_run(run_dir), str(run_dir)))

    guard(run)
