"""After training, each test view is rendered once: the metrics, the saved renders and the point cloud
share the renders (they took as long as training under load, rendered twice)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fields.engine.scene import scene_from_dict
from fields.datasets.synthetic_scene import generate_scene
from fields.engine.run import build_task, fit
from fields.tasks.multiview import MultiViewTask
from tests.radiance.test_training import radiance_scene


@pytest.fixture(scope="module")
def scene_path(tmp_path_factory) -> Path:
    return generate_scene(tmp_path_factory.mktemp("objects"), "objects", n_train=8, n_test=3, size=24, seed=2)


def test_fit_renders_each_test_view_once(scene_path, tmp_path, monkeypatch):
    rendered: list[int] = []
    original = MultiViewTask.render_view

    def counting(self, cameras, index):
        rendered.append(index)
        return original(self, cameras, index)

    monkeypatch.setattr(MultiViewTask, "render_view", counting)
    data = radiance_scene(scene_path, tmp_path, save_test_views=2, mesh_resolution=0)
    data["train"]["steps"] = 40
    run_dir, metrics = fit(scene_from_dict(data), tmp_path / "run")
    assert metrics["test_views"] == 3
    assert sorted(rendered) == sorted(set(rendered)) and len(rendered) == 3, rendered
    for name in ("renders/test_0000.png", "renders/test_0001.png", "pointcloud.ply"):
        assert (run_dir / name).is_file(), name


def test_renders_are_not_reused_after_the_field_changed(scene_path, tmp_path, monkeypatch):
    data = radiance_scene(scene_path, tmp_path, save_test_views=1, mesh_resolution=0)
    task = build_task(scene_from_dict(data))
    task.evaluate()
    with torch.no_grad():
        next(task.parameters()).add_(0.01)  # as an optimiser step or a loaded checkpoint would
    calls: list[int] = []
    original = MultiViewTask.render_view
    monkeypatch.setattr(MultiViewTask, "render_view", lambda self, c, i: calls.append(i) or original(self, c, i))
    task.write_outputs(tmp_path / "out")
    assert calls == [task.views.test[0]]
