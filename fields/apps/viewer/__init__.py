"""The interactive viewer (viser): watch a field train and fly around the result.

``fields view RUN_DIR`` shows a finished run; ``fields fit SCENE --view`` shows a run while it trains.
Render modes come from a ``View`` per kind of task (``views.py``); viser is imported only when a viewer
is made.
"""

from fields.apps.viewer.camera import ViewCamera
from fields.apps.viewer.view_for import view_for
from fields.apps.viewer.views import VIEWS, Frustum, Overlay, View, finish, register_view

__all__ = ["VIEWS", "Frustum", "Overlay", "View", "ViewCamera", "Viewer", "ViewerCallback", "finish",
           "register_view", "serve_run", "view_for"]


def __getattr__(name: str):
    if name == "Viewer":
        from fields.apps.viewer.server import Viewer

        return Viewer
    if name == "ViewerCallback":
        from fields.apps.viewer.callback import ViewerCallback

        return ViewerCallback
    if name == "serve_run":
        from fields.apps.viewer.run import serve_run

        return serve_run
    raise AttributeError(name)
