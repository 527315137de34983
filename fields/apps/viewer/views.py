"""How the viewer shows a task: one ``View`` class per kind of task, registered by task name.

A view lists its render modes and renders ``(height, width, 3)`` images for a camera. Rendering is a
generator that yields after each chunk of rays, so whoever drives it (the training loop between steps,
or the viewer's own thread) decides how long it may run before giving the field back; the finished image
is the generator's return value (``image = yield from view.render(...)``, or ``finish(...)``).

A task without a registered view can still be shown if it implements the same protocol itself:
``viewer_modes() -> list[str]`` and ``render_view(mode, camera, width, height)`` returning an image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Generator, Iterable, Optional

import numpy as np
import torch

from fields.apps.viewer.camera import ViewCamera
from fields.errors import UserError

Render = Generator[None, None, np.ndarray]
VIEWS: dict[str, type["View"]] = {}


def register_view(*task_names: str) -> Callable[[type["View"]], type["View"]]:
    def decorate(cls: type["View"]) -> type["View"]:
        for name in task_names:
            VIEWS[name] = cls
        return cls

    return decorate


@dataclass
class Frustum:
    """A dataset camera to draw: camera-to-world ``(4, 4)`` (OpenCV axes), vertical fov, aspect."""

    c2w: np.ndarray
    fov: float
    aspect: float
    image: Optional[np.ndarray] = None  # (h, w, 3) uint8 thumbnail
    scale: float = 0.1  # drawn size in world units


@dataclass
class Overlay:
    """A mesh (``vertices``, ``faces``) or a point cloud (``points``, ``colors``) in world coordinates."""

    name: str
    vertices: Optional[np.ndarray] = None
    faces: Optional[np.ndarray] = None
    points: Optional[np.ndarray] = None
    colors: Optional[np.ndarray] = None
    extra: dict[str, Any] = field(default_factory=dict)


class View:
    """Base of every view. ``chunk`` is the number of rays (or pixels) evaluated between yields."""

    modes: tuple[str, ...] = ()
    up: tuple[float, float, float] = (0.0, 0.0, 1.0)

    def __init__(self, task: Any, chunk: int = 32768):
        self.task = task
        self.chunk = chunk

    def home(self) -> ViewCamera:
        """The camera the viewer starts from."""
        return ViewCamera.look_at((1.6, -1.6, 1.2), (0.0, 0.0, 0.0), self.up)

    def render(self, mode: str, camera: ViewCamera, width: int, height: int) -> Render:
        raise NotImplementedError

    def frustums(self) -> list[Frustum]:
        return []

    def overlays(self) -> list[Overlay]:
        return []

    def export_mesh(self, path: Path) -> tuple[Path, Optional[Overlay]]:
        """Write the field's surface to ``path``; returns the path written and the mesh in viewer
        coordinates to overlay (or None)."""
        raise UserError(f"task '{self.task.scene.task}' has no mesh export")

    def check_mode(self, mode: str) -> None:
        if mode not in self.modes:
            raise UserError(f"unknown render mode '{mode}'; valid: {', '.join(self.modes)}")


class TaskProtocolView(View):
    """Adapts a task that renders itself (``viewer_modes()`` and ``render_view(...)``)."""

    def __init__(self, task: Any, chunk: int = 32768):
        super().__init__(task, chunk)
        self.modes = tuple(task.viewer_modes())

    def render(self, mode: str, camera: ViewCamera, width: int, height: int) -> Render:
        self.check_mode(mode)
        result = self.task.render_view(mode, camera, width, height)
        if hasattr(result, "__next__"):
            result = yield from result
        yield
        return to_uint8(result)


def chunked(
    fn: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor, chunk: int
) -> Generator[None, None, torch.Tensor]:
    """Apply ``fn`` to ``inputs (N, ...)`` ``chunk`` rows at a time, yielding after each chunk."""
    outputs = []
    for start in range(0, inputs.shape[0], chunk):
        outputs.append(fn(inputs[start : start + chunk]))
        yield
    if not outputs:
        return fn(inputs[:0])
    return torch.cat(outputs)


def finish(render: Render) -> np.ndarray:
    """Run a render generator to the end and return its image."""
    while True:
        try:
            next(render)
        except StopIteration as stop:
            return stop.value


def to_uint8(image: Any) -> np.ndarray:
    """``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)`` float in [0, 1] (tensor or array) -> ``(H, W, 3)`` uint8."""
    if isinstance(image, torch.Tensor):
        image = image.detach().float().cpu().numpy()
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = (np.clip(np.nan_to_num(image), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    return np.ascontiguousarray(image[..., :3])


def field_device_dtype(module: torch.nn.Module) -> tuple[torch.device, torch.dtype]:
    param = next(iter(module.parameters()), None)
    return (param.device, param.dtype) if param is not None else (torch.device("cpu"), torch.float32)


def all_modes(views: Iterable[type[View]]) -> list[str]:
    return sorted({mode for view in views for mode in view.modes})
