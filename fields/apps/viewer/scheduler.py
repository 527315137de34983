"""Progressive, chunked rendering for the viewer's clients.

Each client has at most one job. A camera change starts a *preview* (a fraction of the resolution,
rendered at once so the view follows the mouse); once the camera has stood still for ``settle_s`` the
job renders the *full* resolution. A newer request replaces an unfinished job.

Work is done in chunks by ``step(budget_s)``: while a live training run holds the field, the training
loop calls it between steps with a small budget (so the viewer never blocks training for long, and the
field is never read while the optimiser writes it); otherwise the scheduler's own thread drives it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Optional

import numpy as np

from fields.apps.viewer.camera import ViewCamera
from fields.apps.viewer.views import Render, View

log = logging.getLogger("fields")


@dataclass(frozen=True)
class Request:
    mode: str
    camera: ViewCamera
    width: int
    height: int


@dataclass
class Frame:
    image: np.ndarray  # (height, width, 3) uint8
    request: Request
    level: str  # "preview" or "full"
    render_seconds: float  # time spent rendering this frame, summed over its chunks


@dataclass
class _Job:
    request: Request
    preview: bool
    requested_at: float
    level: str = ""
    render: Optional[Render] = None
    seconds: float = 0.0
    done: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def preview_size(width: int, height: int, scale: float) -> tuple[int, int]:
    return max(1, round(width * scale)), max(1, round(height * scale))


class RenderScheduler:
    def __init__(self, view: View, on_frame: Callable[[Hashable, Frame], None], *,
                 preview_scale: float = 0.25, settle_s: float = 0.2):
        self.view = view
        self.on_frame = on_frame
        self.preview_scale = preview_scale
        self.settle_s = settle_s
        self.training_active = False  # the training loop drives step() between its steps
        self._jobs: dict[Hashable, _Job] = {}
        self._jobs_lock = threading.Lock()
        self._render_lock = threading.RLock()  # held while the field is read
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    # --- requests -----------------------------------------------------------------------------------
    def request(self, key: Hashable, request: Request, preview: bool = True) -> None:
        """Render ``request`` for client ``key``: a preview first (when ``preview``), then full size."""
        with self._jobs_lock:
            self._jobs[key] = _Job(request, preview, time.monotonic())
        self._wake.set()

    def forget(self, key: Hashable) -> None:
        with self._jobs_lock:
            self._jobs.pop(key, None)

    def pending(self) -> bool:
        with self._jobs_lock:
            return any(not job.done for job in self._jobs.values())

    # --- work ---------------------------------------------------------------------------------------
    def _next_job(self) -> Optional[tuple[Hashable, _Job]]:
        now = time.monotonic()
        with self._jobs_lock:
            for key, job in self._jobs.items():
                if job.done:
                    continue
                if job.render is None:
                    if job.preview and job.level == "":
                        job.level = "preview"
                        width, height = preview_size(job.request.width, job.request.height, self.preview_scale)
                    elif now - job.requested_at < self.settle_s and job.preview:
                        continue  # the camera may still be moving: wait before the full render
                    else:
                        job.level = "full"
                        width, height = job.request.width, job.request.height
                    job.render = self.view.render(job.request.mode, job.request.camera, width, height)
                    job.seconds = 0.0
                return key, job
        return None

    def step(self, budget_s: float = 0.05) -> bool:
        """Render chunks until ``budget_s`` is spent or nothing is ready (at least one chunk when there
        is work). Returns whether any chunk was rendered."""
        deadline = time.perf_counter() + budget_s
        worked = False
        with self._render_lock:
            while True:
                picked = self._next_job()
                if picked is None:
                    return worked
                key, job = picked
                started = time.perf_counter()
                try:
                    next(job.render)
                    finished = None
                except StopIteration as stop:
                    finished = stop.value
                except Exception:  # a failing render must not take the viewer or the training down
                    log.exception("viewer: rendering %s failed", job.request.mode)
                    job.done = True
                    continue
                worked = True
                job.seconds += time.perf_counter() - started
                if finished is not None:
                    self._finish(key, job, finished)
                if time.perf_counter() >= deadline:
                    return worked

    def _finish(self, key: Hashable, job: _Job, image: np.ndarray) -> None:
        frame = Frame(image, job.request, job.level, job.seconds)
        with self._jobs_lock:
            if self._jobs.get(key) is job:
                if job.level == "full" or not job.preview:
                    job.done = True
                job.render = None
            else:
                return  # replaced by a newer request while rendering: drop
        try:
            self.on_frame(key, frame)
        except Exception:
            log.exception("viewer: sending a frame failed")

    def render_now(self, request: Request) -> Frame:
        """Render ``request`` at full size right away (screenshots, benchmarks)."""
        with self._render_lock:
            started = time.perf_counter()
            render = self.view.render(request.mode, request.camera, request.width, request.height)
            while True:
                try:
                    next(render)
                except StopIteration as stop:
                    return Frame(stop.value, request, "full", time.perf_counter() - started)

    # --- the background driver ----------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="fields-viewer-render", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self.training_active or not self.step(0.05):
                self._wake.wait(0.03)
                self._wake.clear()

    def hold(self) -> threading.RLock:
        """The lock held while the field is read: hold it to change the field (e.g. load weights)."""
        return self._render_lock
