"""The viewer: a viser server showing one task's field, live while it trains or from a finished run.

viser's web client ships inside its wheel, so the page is served by this process: no hosted front end.
Each browser tab is a client with its own camera; its renders come back as the scene's background
image, low resolution while the camera moves and full resolution once it stops (``RenderScheduler``).
"""

from __future__ import annotations

import io
import logging
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

import imageio.v3 as iio
import numpy as np

from fields.apps.viewer.camera import ViewCamera
from fields.apps.viewer.ctrl_c import listen_for_ctrl_c
from fields.apps.viewer.colormaps import colour_bar, legend
from fields.apps.viewer.scheduler import Frame, RenderScheduler, Request
from fields.apps.viewer.training_panel import TrainingPanel
from fields.apps.viewer.view_for import view_for
from fields.apps.viewer.views import View
from fields.errors import UserError

log = logging.getLogger("fields")


def _wxyz(rotation: np.ndarray) -> np.ndarray:
    import viser.transforms as vtf

    return vtf.SO3.from_matrix(np.asarray(rotation, dtype=np.float64)).wxyz


class Viewer:
    """Serve a field on ``http://host:port``. Call ``attach(task)`` to show a task (the live training
    callback does it when training starts); ``close()`` stops the server."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8080, *, resolution: int = 512,
                 chunk: int = 32768, print_url: Callable[[str], None] | None = print):
        try:
            import viser
        except ModuleNotFoundError:
            raise UserError("the viewer needs viser: pip install 'fields-toolkit[viewer]'") from None
        from fields.apps.viewer.origin import install

        install()  # websockets only from the pages this server serves
        self.server = viser.ViserServer(host=host, port=port, verbose=False)
        self.url = f"http://{host}:{self.server.get_port()}"
        self.resolution = resolution
        self.chunk = chunk
        self.view: Optional[View] = None
        self.scheduler: Optional[RenderScheduler] = None
        self.run_dir: Optional[Path] = None
        self.training: Optional[TrainingPanel] = None
        self.frames_sent = 0
        self.last_frames: dict[int, Frame] = {}
        self._lock = threading.Lock()
        self._cameras: dict[int, Any] = {}
        self._frustums: list[Any] = []
        self._overlays: list[Any] = []
        self._status = self.server.gui.add_markdown("waiting for a field…")
        self.server.on_client_connect(self._connect)
        self.server.on_client_disconnect(self._disconnect)
        if print_url is not None:
            listen_for_ctrl_c()
            print_url(f"viewer at {self.url}")

    # --- showing a task -----------------------------------------------------------------------------
    def attach(self, task: Any, run_dir: str | Path | None = None, *, live: bool = False,
               total_steps: int | None = None, history: dict[str, list[float]] | None = None,
               metrics: dict[str, Any] | None = None) -> None:
        """Show ``task``. ``live`` adds the training controls (pause, resume, step counter, plot)."""
        view = view_for(task, self.chunk)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.view = view
        self.scheduler = RenderScheduler(view, self._send)
        gui, scene = self.server.gui, self.server.scene
        scene.set_up_direction(view.up)
        home = view.home()
        self.server.initial_camera.position = home.position
        self.server.initial_camera.look_at = tuple(np.asarray(home.position) + home.forward())
        self.server.initial_camera.up = view.up
        self.server.initial_camera.fov = home.fov
        with gui.add_folder("View"):
            self.mode = gui.add_dropdown("Mode", view.modes, initial_value=view.modes[0])
            # the key of the heat-map modes (depth, error), shown with them
            self.colour_key = gui.add_image(colour_bar(), label="colour key", visible=False)
            self.colour_text = gui.add_markdown("", visible=False)
            self.resolution_slider = gui.add_slider("Resolution", 64, 2048, 64, self.resolution)
            self.screenshot_button = gui.add_button("Save screenshot")
            self.export_button = gui.add_button("Export mesh")
            self.home_button = gui.add_button("Reset camera")
            # off at first (100 frustums with their images block the opening view), and only where there are any
            frustums = list(view.frustums())
            self.cameras_box = gui.add_checkbox("Show dataset cameras", False) if frustums else None
            self.overlays_box = gui.add_checkbox("Show overlays", False)
        self.mode.on_update(lambda _: self._mode_changed())
        self.resolution_slider.on_update(lambda _: self.refresh())
        self.screenshot_button.on_click(lambda event: self._screenshot(event.client))
        self.export_button.on_click(lambda event: self._export_mesh(event.client))
        self.home_button.on_click(lambda event: self._go_home(event.client))
        if self.cameras_box is not None:
            self.cameras_box.on_update(lambda _: self._show_frustums(self.cameras_box.value))
        self.overlays_box.on_update(lambda _: self._show_overlays(self.overlays_box.value))
        self._add_scene_objects(view, frustums)
        self.training = TrainingPanel(self, live=live, total_steps=total_steps, history=history, metrics=metrics)
        self.scheduler.start()
        for client in self.server.get_clients().values():
            self._connect(client)
        self._status.content = f"**{task.scene.task}** field"

    def _add_scene_objects(self, view: View, frustums: list[Any]) -> None:
        scene = self.server.scene
        for i, frustum in enumerate(frustums):
            self._frustums.append(
                scene.add_camera_frustum(
                    f"/dataset/camera_{i:04d}",
                    fov=frustum.fov,
                    aspect=frustum.aspect,
                    scale=frustum.scale,
                    thickness=0.04 * frustum.scale,
                    color=(240, 160, 40),
                    image=frustum.image,
                    wxyz=_wxyz(frustum.c2w[:3, :3]),
                    position=frustum.c2w[:3, 3],
                    visible=False,
                )
            )
        for overlay in view.overlays():
            self.add_overlay(overlay)

    def _show_frustums(self, visible: bool) -> None:
        for handle in self._frustums:
            handle.visible = visible

    def add_overlay(self, overlay: Any, visible: Optional[bool] = None) -> None:
        """Draw a mesh or point cloud over the render (hidden until "Show overlays" is ticked)."""
        scene = self.server.scene
        visible = self.overlays_box.value if visible is None else visible
        if visible:
            self.overlays_box.value = True
        if overlay.faces is not None:
            handle = scene.add_mesh_simple(f"/overlays/{overlay.name}", np.asarray(overlay.vertices, np.float32),
                                           np.asarray(overlay.faces, np.int32), color=(200, 200, 210), opacity=0.6,
                                           visible=visible)
        elif overlay.points is not None:
            colors = overlay.colors if overlay.colors is not None else (90, 200, 255)
            handle = scene.add_point_cloud(f"/overlays/{overlay.name}", np.asarray(overlay.points, np.float32), colors,
                                           point_size=0.004, visible=visible)
        else:
            return
        self._overlays.append(handle)

    def _show_overlays(self, visible: bool) -> None:
        for handle in self._overlays:
            handle.visible = visible

    # --- clients and frames -------------------------------------------------------------------------
    def _connect(self, client: Any) -> None:
        if self.view is None or client.client_id in self._cameras:
            return
        self._cameras[client.client_id] = client
        client.camera.on_update(lambda camera: self._request(client, preview=True))

    def _disconnect(self, client: Any) -> None:
        self._cameras.pop(client.client_id, None)
        self.last_frames.pop(client.client_id, None)
        if self.scheduler is not None:
            self.scheduler.forget(client.client_id)

    def request_for(self, client: Any, resolution: int | None = None) -> Optional[Request]:
        camera = client.camera
        try:
            width, height = camera.image_width, camera.image_height
        except AssertionError:  # no camera message from this client yet
            return None
        if width <= 0 or height <= 0:
            return None
        longest = resolution or int(self.resolution_slider.value)
        scale = longest / max(width, height)
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
        view_camera = ViewCamera.from_wxyz(camera.wxyz, camera.position, camera.fov)
        return Request(str(self.mode.value), view_camera, width, height)

    def _request(self, client: Any, preview: bool) -> None:
        request = self.request_for(client)
        if request is not None and self.scheduler is not None:
            self.scheduler.request(client.client_id, request, preview=preview)

    def _mode_changed(self) -> None:
        text = legend(self.mode.value, self.view)
        self.colour_key.visible = self.colour_text.visible = text is not None
        self.colour_text.content = text or ""
        self.refresh()

    def refresh(self, preview: bool = False) -> None:
        """Render every client's view again (new mode, new weights)."""
        for client in list(self._cameras.values()):
            self._request(client, preview)

    def _send(self, client_id: int, frame: Frame) -> None:
        client = self._cameras.get(client_id)
        if client is None:
            return
        client.scene.set_background_image(frame.image, format="jpeg", jpeg_quality=92)
        with self._lock:
            self.frames_sent += 1
            if frame.level == "full":
                self.last_frames[client_id] = frame
        request = frame.request
        self._status.content = (f"frame {self.frames_sent} · {request.mode} · {frame.image.shape[1]}x"
                                f"{frame.image.shape[0]} ({frame.level}) · {frame.render_seconds * 1000:.0f} ms")

    # --- buttons ------------------------------------------------------------------------------------
    def _output_dir(self, name: str) -> Path:
        root = self.run_dir if self.run_dir is not None else Path.cwd()
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def screenshot(self, client: Any) -> Path:
        """Render the client's view at the chosen resolution and save it as a PNG; returns the path."""
        request = self.request_for(client)
        if request is None or self.scheduler is None:
            raise UserError("no view to save yet")
        frame = self.scheduler.render_now(request)
        mode = re.sub(r"[^A-Za-z0-9_-]", "_", str(request.mode))[:40]  # a client's value: never a path
        path = self._output_dir("screenshots") / f"{mode}-{time.strftime('%Y%m%d-%H%M%S')}-{self.frames_sent}.png"
        iio.imwrite(path, frame.image)
        buffer = io.BytesIO()
        iio.imwrite(buffer, frame.image, extension=".png")
        client.send_file_download(path.name, buffer.getvalue())
        return path

    def _screenshot(self, client: Any) -> None:
        self._report(client, "screenshot", lambda: self.screenshot(client))

    def export_mesh(self) -> Path:
        if self.view is None or self.scheduler is None:
            raise UserError("no field to export yet")
        with self.scheduler.hold():
            path, overlay = self.view.export_mesh(self._output_dir("exports") / "mesh.ply")
        if overlay is not None:
            self.add_overlay(overlay, visible=True)
        return path

    def _export_mesh(self, client: Any) -> None:
        self._report(client, "mesh export", self.export_mesh)

    def _go_home(self, client: Any) -> None:
        if self.view is not None:
            home = self.view.home()
            client.camera.up_direction = self.view.up
            client.camera.position = home.position
            client.camera.look_at = tuple(np.asarray(home.position) + home.forward())

    def _report(self, client: Any, what: str, action: Callable[[], Path]) -> None:
        try:
            path = action()
        except UserError as err:
            client.add_notification(f"no {what}", str(err), auto_close_seconds=6.0, color="red")
            return
        except Exception as err:
            log.exception("viewer: %s failed", what)
            client.add_notification(
                f"{what} failed", f"{type(err).__name__}: {err}", auto_close_seconds=8.0, color="red"
            )
            return
        log.info("viewer: %s saved to %s", what, path)
        client.add_notification(f"{what} saved", str(path), auto_close_seconds=6.0)

    def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
        self.server.stop()
