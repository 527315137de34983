"""The phases after training show progress on a terminal (rendering, marching cubes, camera paths), and nothing
in logs and pipes."""

from __future__ import annotations

import io

import torch
from rich.console import Console

from fields.io import progress


def test_a_bar_on_a_terminal_and_nothing_elsewhere(monkeypatch, capsys):
    monkeypatch.setitem(progress._STATE, "enabled", True)  # an in-process fit with train.progress false turns it off
    assert list(progress.track(range(5), "quiet")) == [0, 1, 2, 3, 4]
    assert capsys.readouterr().err == ""  # stderr is not a terminal here
    screen = io.StringIO()
    monkeypatch.setattr(progress, "_console",
                        lambda: Console(file=screen, force_terminal=True, width=100) if progress._STATE["enabled"]
                        else None)
    assert list(progress.track(range(3), "rendering 4x4")) == [0, 1, 2]
    assert "rendering 4x4" in screen.getvalue()
    progress.set_progress(False)
    screen.truncate(0)
    assert list(progress.track(range(3), "hidden")) == [0, 1, 2] and "hidden" not in screen.getvalue()


def test_marching_cubes_and_chunked_queries_report_their_phase(monkeypatch):
    from fields.export import marching_cubes
    from fields.models import field as field_module
    from fields.models.field import Field

    seen = []

    def recording(items, description, total=None):
        seen.append(description)
        return iter(items)

    monkeypatch.setattr(marching_cubes, "track", recording)
    monkeypatch.setattr(field_module, "track", recording)
    sphere = lambda x: (x - 0.5).norm(dim=-1) - 0.3  # noqa: E731
    vertices, faces = marching_cubes.extract_surface(sphere, 16, progress="marching cubes 16^3")
    assert len(faces) > 0 and seen == ["marching cubes 16^3"]
    from fields.config.models import ModelConfig

    field = Field.from_config(ModelConfig.model_validate({"encoder": "frequency", "decoder": "mlp"}), 2, 3)
    out = field.query(torch.rand(1000, 2), chunk=100, progress="rendering 10x100")
    assert out.shape == (1000, 3) and seen[-1] == "rendering 10x100"
