"""``fields view``: a fitted field in the web viewer, served until Ctrl-C."""

from __future__ import annotations

from pathlib import Path

import typer

from fields.apps.commands.common import check_address, guard, out


def view_run(
    run_dir: Path = typer.Argument(..., help="A run folder written by fields fit."),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to serve on (0.0.0.0: reachable from other machines)."
    ),
    port: int = typer.Option(8080, "--port", min=0, max=65535, help="Port to serve on (the next free one if taken)."),
) -> None:
    """Open a fitted field in the web viewer (served until Ctrl-C)."""

    def run() -> None:
        from fields.engine.run_folder import read_run_scene

        check_address(host, port)
        read_run_scene(run_dir)
        from fields.apps.viewer.run import open_run, serve_forever

        viewer = open_run(run_dir, host, port)
        serve_forever(viewer, print_url=lambda line: out.print(line, highlight=False))

    guard(run)
