"""Checkpoints: safetensors round trip of Lightning's nested state, atomic writes, clear errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from fields.io.atomic import TMP_PREFIX, atomic_path, remove_stale_temporaries
from fields.engine.checkpoint import read_checkpoint, save_checkpoint
from fields.errors import UserError


def test_nested_state_round_trips(tmp_path: Path):
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.9, 0.99))
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    state = {
        "state_dict": model.state_dict(),
        "optimizer_states": [optimizer.state_dict()],
        "loops": {"fit_loop": {"progress": {"total": 7}}, "none": None, "inf": math.inf},
        "global_step": 7,
    }
    save_checkpoint(state, tmp_path / "c.safetensors", config_yaml="task: image\n")
    loaded, config = read_checkpoint(tmp_path / "c.safetensors")
    assert config == "task: image\n"
    assert loaded["global_step"] == 7 and loaded["loops"]["inf"] == math.inf and loaded["loops"]["none"] is None
    assert torch.equal(loaded["state_dict"]["weight"], model.weight)
    restored = torch.optim.Adam(model.parameters(), lr=1.0)
    restored.load_state_dict(loaded["optimizer_states"][0])  # int keys and tuples survive
    assert restored.param_groups[0]["betas"] == (0.9, 0.99)
    assert torch.equal(restored.state[model.weight]["exp_avg"], optimizer.state[model.weight]["exp_avg"])


def test_unsupported_entry_is_refused(tmp_path: Path):
    with pytest.raises(TypeError, match="checkpoint.bad"):
        save_checkpoint({"bad": object()}, tmp_path / "c.safetensors")
    assert not list(tmp_path.iterdir())  # nothing half-written left behind


def test_atomic_path_keeps_old_file_on_failure(tmp_path: Path):
    target = tmp_path / "file.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            Path(tmp).write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]


def test_stale_temporaries_are_removed(tmp_path: Path):
    (tmp_path / f"{TMP_PREFIX}last.safetensors.abc").write_bytes(b"partial")
    assert len(remove_stale_temporaries(tmp_path)) == 1 and not list(tmp_path.iterdir())


def test_garbage_file_is_a_user_error(tmp_path: Path):
    path = tmp_path / "c.safetensors"
    path.write_bytes(b"garbage")
    with pytest.raises(UserError, match="not a readable checkpoint"):
        read_checkpoint(path)
