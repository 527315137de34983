"""Instant-NGP's CPU-relevant economies: dynamic batch size, the occupancy grid's partial updates and box,
early stopping in rounds (same samples as all at once), and the schedule over the time budget."""

from __future__ import annotations

import math

import pytest
import torch

from fields.render.batching import dynamic_batch_size
from fields.render.occupancy_grid import OccupancyGrid, early_stop
from tests.radiance.test_occupancy_grid import CENTER, RADIUS, ball_density, make_grid


def test_dynamic_batch_size_targets_the_samples():
    assert dynamic_batch_size(1000, 50_000, 25_000) == 500  # twice too many samples: half the rays
    assert dynamic_batch_size(1000, 5_000, 25_000) == 5000
    assert dynamic_batch_size(1000, 10, 25_000, max_rays=4096) == 4096
    assert dynamic_batch_size(100, 1_000_000, 1000, min_rays=64) == 64
    assert dynamic_batch_size(300, 0, 1000) == 600  # no samples at all: more rays


def test_grid_update_after_warmup_evaluates_a_subset():
    grid = OccupancyGrid(resolution=16)
    cells = 16**3
    counted = []

    def occ(x):
        counted.append(len(x))
        return ball_density(x) * 0.01

    grid.update_every_n_steps(0, occ, warmup_steps=4, n=4)
    assert sum(counted) == cells  # warm-up: every cell
    occupied = int(grid.binaries.sum())
    assert 0 < occupied < cells // 4
    counted.clear()
    grid.update_every_n_steps(8, occ, warmup_steps=4, n=4, generator=torch.Generator().manual_seed(0))
    assert sum(counted) == cells // 4 + occupied  # a random quarter plus the occupied cells
    assert abs(int(grid.binaries.sum()) - occupied) < occupied // 4  # jitter moves only boundary cells


def test_occupied_box_bounds_the_ball_and_empty_grid_gives_no_samples():
    grid = make_grid()
    box = grid.occupied_aabb()
    cell = 1 / 32
    assert torch.all(box[:3] > CENTER - RADIUS - 2 * cell) and torch.all(box[:3] < CENTER - RADIUS + cell)
    assert torch.all(box[3:] < CENTER + RADIUS + 2 * cell) and torch.all(box[3:] > CENTER + RADIUS - cell)
    grid.binaries.zero_()
    assert grid.occupied_aabb() is None
    ri, t0, _ = grid.sampling(torch.tensor([[0.5, 0.5, -1.0]]), torch.tensor([[0.0, 0.0, 1.0]]), render_step_size=0.01)
    assert len(ri) == 0 and len(t0) == 0


@pytest.mark.parametrize("round_samples", [1, 3, 32])
def test_early_stop_in_rounds_matches_all_at_once_and_evaluates_less(round_samples):
    grid = make_grid()
    g = torch.Generator().manual_seed(0)
    origins = torch.rand(64, 3, generator=g) * 0.2 + torch.tensor([0.4, 0.4, -0.5])
    jitter = 0.05 * torch.randn(64, 3, generator=g)
    directions = torch.nn.functional.normalize(torch.tensor([0.0, 0.0, 1.0]) + jitter, dim=-1)
    ri, t0, t1 = grid.sampling(origins, directions, render_step_size=math.sqrt(3) / 256)
    evaluated = []

    def sigma_fn(a, b, r):
        evaluated.append(len(a))
        # a soft ball: transmittance is spent some steps inside it
        return ball_density(origins[r] + directions[r] * ((a + b) / 2)[:, None]) * 0.2

    all_at_once = early_stop(ri, t0, t1, sigma_fn, 64, 1e-4, 0.0, round_samples=0)
    full = evaluated.pop()
    rounds = early_stop(ri, t0, t1, sigma_fn, 64, 1e-4, 0.0, round_samples=round_samples)
    assert torch.equal(all_at_once, rounds)
    assert 0 < int(all_at_once.sum()) < len(ri)  # some steps lie behind spent transmittance
    assert sum(evaluated) < full


def test_schedule_follows_the_time_budget(tmp_path):
    from fields.engine.scene import scene_from_dict
    from fields.datasets.synthetic_scene import generate_scene
    from fields.tasks import TASKS
    from tests.radiance.test_training import TINY_MODEL

    path = generate_scene(tmp_path / "scene", "objects", n_train=4, n_test=1, size=8, seed=0)
    config = {"task": "radiance", "data": {"path": str(path)}, "model": TINY_MODEL, "output": {"dir": str(tmp_path)},
              "train": {"steps": 1000, "max_time": 100, "optimizer": {"type": "adam", "lr": 0.01},
                        "schedule": {"type": "exponential", "final_ratio": 0.1}}}
    task = TASKS.get("radiance")(scene_from_dict(config))
    setup = task.configure_optimizers()
    optimizer, scheduler = setup["optimizer"], setup["lr_scheduler"]["scheduler"]
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.01)
    task.train_seconds.fill_(50.0)  # half the time budget after 1 step: half the decay
    optimizer.step()
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.01 * 0.1**0.5, rel=1e-3)
