"""Entry points of the CLI: view a finished run, or train with the viewer attached."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

from fields.apps.viewer.ctrl_c import listen_for_ctrl_c
from fields.apps.viewer.training_panel import read_history
from fields.engine.run import load_run

log = logging.getLogger("fields")


def open_run(run_dir: str | Path, host: str = "127.0.0.1", port: int = 8080, resolution: int = 512):
    """Load a finished run and serve it; returns the ``Viewer`` (the server runs in its own threads). The URL
    is announced by ``serve_forever``, inside its Ctrl-C handling."""
    from fields.apps.viewer.server import Viewer
    _, task = load_run(run_dir)
    metrics = read_metrics(run_dir)
    viewer = Viewer(host, port, print_url=None, resolution=resolution)
    viewer.attach(task, run_dir, live=False, history=read_history(run_dir), metrics=metrics)
    return viewer


def read_metrics(run_dir: str | Path) -> dict[str, Any]:
    """The run's ``metrics.json`` for the info panel; a missing or damaged one shows no metrics (the field
    itself comes from the checkpoint, so the run is still worth viewing)."""
    path = Path(run_dir) / "metrics.json"
    try:
        metrics = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, UnicodeDecodeError, ValueError) as err:
        log.warning("%s: unreadable (%s); showing no metrics", path, type(err).__name__)
        return {}
    return metrics if isinstance(metrics, dict) else {}


def serve_forever(viewer: Any, seconds: Optional[float] = None, close_timeout: float = 10.0,
                  print_url: Optional[Callable[[str], None]] = None) -> None:
    """Keep the process alive while the viewer serves (until Ctrl-C, or ``seconds``); closing waits at most
    ``close_timeout`` seconds for the server's threads (a frame in flight is abandoned, not awaited).

    ``print_url`` announces the viewer inside the loop's ``try``: a Ctrl-C sent the moment the URL is seen
    then always stops the viewer cleanly (exit 0), never in the gap before the loop (which read as an abort)."""
    listen_for_ctrl_c()
    deadline = None if seconds is None else time.monotonic() + seconds
    try:
        if print_url is not None:
            print_url(f"viewer at {viewer.url}")
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        closer = threading.Thread(target=viewer.close, name="viewer-close", daemon=True)
        closer.start()
        closer.join(close_timeout)
        if closer.is_alive():
            log.warning("viewer: closing took over %.0f s; leaving its threads behind", close_timeout)


def serve_run(run_dir: str | Path, host: str = "127.0.0.1", port: int = 8080, seconds: Optional[float] = None) -> None:
    serve_forever(open_run(run_dir, host, port), seconds, print_url=print)
