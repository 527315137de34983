"""The view of a task: its registered view (importing this module registers the built-in ones), else
the task's own render protocol."""

from __future__ import annotations

from typing import Any

import fields.apps.viewer.geometry_view  # noqa: F401  (registers the built-in views)
import fields.apps.viewer.image_view  # noqa: F401
import fields.apps.viewer.radiance_view  # noqa: F401
from fields.apps.viewer.views import VIEWS, TaskProtocolView, View
from fields.errors import UserError


def view_for(task: Any, chunk: int = 32768) -> View:
    """The view for ``task``: its registered view, else the task's own protocol."""
    name = getattr(getattr(task, "scene", None), "task", None)
    if name in VIEWS:
        return VIEWS[name](task, chunk)
    if hasattr(task, "viewer_modes") and hasattr(task, "render_view"):
        return TaskProtocolView(task, chunk)
    raise UserError(f"the viewer cannot show task '{name}' yet (views for: {', '.join(sorted(VIEWS))})")
