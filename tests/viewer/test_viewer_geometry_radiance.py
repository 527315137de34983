"""The SDF, occupancy and radiance views on tiny fitted fields: every mode renders something that is not
blank and differs from the other modes; dataset cameras become frustums; SDF meshes export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fields.apps.viewer import finish, view_for
from fields.engine.scene import scene_from_dict
from fields.engine.run import fit, load_run

SMALL_GRID = {"type": "hashgrid", "n_levels": 6, "log2_hashmap_size": 12, "base_resolution": 4, "max_resolution": 64}
SMALL_MLP = {"type": "mlp", "n_neurons": 32, "n_hidden_layers": 1}


def fitted(tmp_path: Path, config: dict):
    config = {**config, "model": {"encoder": SMALL_GRID, "decoder": SMALL_MLP, **config.get("model", {})},
              "output": {"dir": str(tmp_path)}}
    run_dir, _ = fit(scene_from_dict(config), tmp_path / "run")
    return load_run(run_dir)[1]


def served_frustums(field_task) -> tuple[object, list]:
    """The viewer's dataset-camera toggle and frustum handles for ``field_task``."""
    pytest.importorskip("viser")
    from fields.apps.viewer.server import Viewer
    from tests.viewer.browser_helpers import free_port

    viewer = Viewer("127.0.0.1", free_port(), print_url=None)
    try:
        viewer.attach(field_task)
        return viewer.cameras_box, list(viewer._frustums)
    finally:
        viewer.close()


def check_modes(view, size: int = 48) -> dict[str, np.ndarray]:
    camera = view.home()
    images = {mode: finish(view.render(mode, camera, size, size)) for mode in view.modes}
    for mode, image in images.items():
        assert image.shape == (size, size, 3) and image.dtype == np.uint8
        assert image.std() > 10.0, f"{mode} looks blank"
    modes = list(images)
    for i, a in enumerate(modes):
        for b in modes[i + 1 :]:
            assert np.abs(images[a].astype(int) - images[b].astype(int)).mean() > 5.0, (a, b)
    return images


@pytest.mark.parametrize("task", ["sdf", "occupancy"])
def test_geometry_views(tmp_path: Path, task: str):
    train = {"steps": 60, "batch_size": 4096, "progress": False, "threads": 2, "checkpoint_every": 1000}
    if task == "sdf":
        train["loss"] = "mape"
    data = {"mesh": "shape:sphere", "samples": {"pool_size": 32768},
            "eval": {"points": 2000, "surface_points": 2000, "mesh_resolution": 32, "export_resolution": 32}}
    field_task = fitted(tmp_path, {"task": task, "data": data, "train": train})
    view = view_for(field_task, chunk=8192)
    images = check_modes(view)
    # the sphere is in the middle of the view: the centre pixel is a hit, the corner is background
    shaded = images["shaded"]
    assert np.abs(shaded[24, 24].astype(int) - shaded[0, 0].astype(int)).sum() > 30
    assert [o.name for o in view.overlays()] == ["input_mesh"]
    if task == "sdf":
        path, overlay = view.export_mesh(tmp_path / "exports" / "mesh.ply")
        assert path.is_file() and overlay is not None
        assert np.abs(overlay.vertices).max() < 0.5 and len(overlay.faces) > 100
        assert served_frustums(field_task) == (None, [])  # no dataset cameras: no toggle for them


def test_radiance_view(tmp_path: Path):
    from fields.datasets.synthetic_scene import generate_scene

    scene = generate_scene(tmp_path / "scene", "objects", n_train=8, n_test=1, size=24, seed=0)
    field_task = fitted(tmp_path, {
        "task": "radiance", "data": {"path": str(scene)},
        "model": {"output_activation": "sigmoid"},
        "render": {"grid_resolution": 16, "max_steps": 64, "grid_warmup_steps": 8, "grid_update_every": 4,
                   "mesh_resolution": 24, "n_frames": 2, "save_test_views": 1},
        "train": {"steps": 40, "batch_size": 256, "progress": False, "threads": 2, "checkpoint_every": 1000}})
    view = view_for(field_task)
    check_modes(view, size=32)
    frustums = view.frustums()
    assert len(frustums) == len(field_task.cameras) == 9
    for frustum in frustums:
        rotation = frustum.c2w[:3, :3]
        assert np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-4)
        # OpenCV axes: every dataset camera looks at the scene's centre
        to_centre = field_task.transform.center.numpy() - frustum.c2w[:3, 3]
        assert rotation[:, 2] @ to_centre / np.linalg.norm(to_centre) > 0.9
    # the frustums start hidden (with their images they block the first view); the toggle shows them
    toggle, handles = served_frustums(field_task)
    assert toggle is not None and toggle.value is False
    assert len(handles) == 9 and not any(handle.visible for handle in handles)
    check_view_early_stop(view, field_task)


def check_view_early_stop(view, field_task) -> None:
    """Viewer frames stop rays once transmittance falls below render.view_early_stop_eps (0.01); evaluation
    keeps render.early_stop_eps (1e-4): fewer samples, and no pixel's opacity short by more than 0.01."""
    import torch

    from fields.modules import eval_mode
    from fields.render.rays import Rays

    assert field_task.scene.render.view_early_stop_eps == 0.01 and field_task.scene.render.early_stop_eps == 1e-4
    origins, directions = view.home().rays(48, 48)
    unit = field_task.transform.rays_to_unit(Rays(origins.reshape(-1, 3), directions.reshape(-1, 3)))
    background = field_task.eval_background.expand(len(unit), 3)
    for marcher in ("cpp", "torch"):  # the C++ inference loop, and the packed sampling of contracted scenes
        field_task.grid.marcher = marcher
        with torch.no_grad(), eval_mode(field_task):
            full = field_task.render_rays(unit, background)
            field_task.inference_for_view = True
            try:
                quick = field_task.render_rays(unit, background)
            finally:
                field_task.inference_for_view = False
        assert (full.opacity > 0.99).any()  # rays that reach the view threshold exist
        assert quick.extras["n_samples"] < full.extras["n_samples"], marcher
        assert (full.opacity - quick.opacity).min() >= -1e-6 and (full.opacity - quick.opacity).max() <= 0.0101
    field_task.grid.marcher = "auto"
