"""The occupancy grid on a known scene: a dense ball in empty space."""

from __future__ import annotations

import math

import torch

from fields.render.occupancy_grid import OccupancyGrid, step_edges

CENTER, RADIUS = torch.tensor([0.5, 0.5, 0.5]), 0.15


def ball_density(x: torch.Tensor) -> torch.Tensor:
    return torch.where((x - CENTER).norm(dim=-1) < RADIUS, 1000.0, 0.0)


def make_grid(levels=1) -> OccupancyGrid:
    grid = OccupancyGrid(resolution=32, levels=levels)
    assert grid.occupancy_fraction() == 1.0  # before any update everything may be occupied
    assert grid.update_every_n_steps(
        0, lambda x: ball_density(x) * 0.01, warmup_steps=10, generator=torch.Generator().manual_seed(0)
    )
    assert not grid.update_every_n_steps(3, ball_density)  # only every n-th step
    return grid


def test_grid_marks_the_ball_and_nothing_else():
    grid = make_grid()
    ball_fraction = 4 / 3 * math.pi * RADIUS**3
    assert ball_fraction * 0.5 < grid.occupancy_fraction() < ball_fraction * 2.5
    points = torch.rand(20000, 3)
    occupied = grid.occupied(points)
    distance = (points - CENTER).norm(dim=-1)
    cell = math.sqrt(3) / 32
    assert occupied[distance < RADIUS - cell].all()
    assert not occupied[distance > RADIUS + cell].any()


def test_marching_skips_empty_space_and_stops_early():
    grid = make_grid()
    origins = torch.tensor([[0.5, 0.5, -1.0], [0.9, 0.9, -1.0], [0.5, -1.0, 0.5]])
    directions = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    step = math.sqrt(3) / 256
    ray_indices, t0, t1 = grid.sampling(origins, directions, render_step_size=step)
    assert torch.all(ray_indices[1:] >= ray_indices[:-1])
    assert 1 not in ray_indices.tolist()  # misses the ball: no samples at all
    mid = (t0 + t1) / 2
    points = origins[ray_indices] + directions[ray_indices] * mid[:, None]
    assert ((points - CENTER).norm(dim=-1) < RADIUS + math.sqrt(3) / 32).all()
    through = (ray_indices == 0).sum()
    # the chord through the ball, not the 1.0 crossing of the box
    assert 2 * RADIUS / step * 0.8 < through < (2 * RADIUS + 2 * math.sqrt(3) / 32) / step
    assert torch.allclose(t1 - t0, torch.full_like(t0, step), atol=1e-5)
    # with the density, marching stops once transmittance is spent: only the front of the ball
    sigma_fn = lambda a, b, ri: ball_density(origins[ri] + directions[ri] * ((a + b) / 2)[:, None])  # noqa: E731
    ri2, s0, _ = grid.sampling(origins, directions, sigma_fn, render_step_size=step)
    front = s0[ri2 == 0]
    assert 0 < len(front) < 10 and float(front.max()) < 1.0 + 0.5 - RADIUS + 3 * step


def test_stratified_marching_jitters_within_a_step():
    grid = make_grid()
    origins, directions = torch.tensor([[0.5, 0.5, -1.0]]), torch.tensor([[0.0, 0.0, 1.0]])
    g = torch.Generator().manual_seed(1)
    _, a, _ = grid.sampling(origins, directions, render_step_size=0.01, stratified=True, generator=g)
    _, b, _ = grid.sampling(origins, directions, render_step_size=0.01)
    shift = (a[: min(len(a), len(b))] - b[: min(len(a), len(b))]).abs()
    assert 0 < float(shift.max()) < 0.01 + 1e-6


def test_multi_level_grid_and_cone_stepping():
    grid = make_grid(levels=3)
    assert torch.allclose(grid.aabb, torch.tensor([-1.5, -1.5, -1.5, 2.5, 2.5, 2.5]))
    far = torch.tensor([[2.3, 2.3, 2.3], [0.5, 0.5, 0.5]])
    assert grid.occupied(far).tolist() == [False, True]
    edges = step_edges(0.0, 10.0, 0.01, cone_angle=0.1)
    widths = edges[1:] - edges[:-1]
    assert math.isclose(float(widths[0]), 0.01) and float(widths[-1]) > 0.9  # steps grow with distance
