"""The block-skipping march gives exactly the samples of testing every step (the former marcher, kept here)."""

from __future__ import annotations

import math

import pytest
import torch

from fields.render.occupancy_grid import OccupancyGrid, step_edges
from fields.render.steps import steps_at
from fields.render.rays import ray_aabb


def reference_sampling(grid: OccupancyGrid, origins, directions, step, near=0.0, cone_angle=0.0, shift=None):
    """Every step of every ray is tested: ``rays x steps`` candidate midpoints (the former marcher)."""
    n_rays = len(origins)
    box = grid.occupied_aabb()
    t_near, t_far, hit = ray_aabb(origins, directions, grid.aabb if box is None else box)
    t_near = t_near.clamp_min(near)
    hit &= t_far > t_near
    edges = step_edges(near, float(t_far[hit].max()) if hit.any() else near, step, cone_angle).to(origins)
    first = (torch.searchsorted(edges, t_near.contiguous(), right=True) - 1).clamp(0, len(edges) - 2)
    last = torch.searchsorted(edges, t_far.contiguous(), right=False)
    count = torch.where(hit, (last - first).clamp_min(0), 0).clamp_max(len(edges) - 1 - first)
    shift = torch.full((n_rays,), 0.5) if shift is None else shift
    width = int(count.max())
    index = first[:, None] + torch.arange(width)
    valid = torch.arange(width) < count[:, None]
    rays = torch.arange(n_rays)[:, None].expand_as(index)
    index, rays = index.clamp_max(len(edges) - 2)[valid], rays[valid]
    t0, t1, x = steps_at(origins, directions, edges, shift, rays, index)
    keep = grid.occupied(x)
    return rays[keep], t0[keep], t1[keep]


def random_grid(levels: int, resolution: int = 32, seed: int = 0) -> OccupancyGrid:
    """Blobs of occupied cells at every level, plus scattered single cells (thin structures)."""
    g = torch.Generator().manual_seed(seed)
    grid = OccupancyGrid(resolution, levels)
    coarse = torch.rand(levels, 1, resolution // 8, resolution // 8, resolution // 8, generator=g) < 0.15
    blobs = torch.nn.functional.interpolate(coarse.float(), scale_factor=8)[:, 0] > 0
    specks = torch.rand(levels, resolution, resolution, resolution, generator=g) < 0.002
    grid.binaries.copy_(blobs | specks)
    return grid


def random_rays(n: int, levels: int, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    reach = 2.0 ** (levels - 1)
    directions = torch.nn.functional.normalize(torch.randn(n, 3, generator=g), dim=-1)
    directions[: n // 8, 1:] = 0.0  # axis-aligned rays run along cell faces
    directions[: n // 8, 0] = 1.0
    origins = 0.5 + (torch.rand(n, 3, generator=g) - 0.5) * reach * 0.8 - directions * 1.5 * reach
    origins[: n // 16] = torch.round(origins[: n // 16] * 32) / 32  # exactly on cell boundaries
    return origins, directions


@pytest.mark.parametrize("marcher", ["torch", "cpp"])
@pytest.mark.parametrize(
    "levels,cone_angle,stratified", [(1, 0.0, False), (1, 0.0, True), (3, 0.0, True), (3, 0.02, False)]
)
def test_march_matches_testing_every_step(levels, cone_angle, stratified, marcher):
    grid = random_grid(levels)
    grid.marcher = marcher
    origins, directions = random_rays(1500, levels)
    step = math.sqrt(3) * 2 ** (levels - 1) / 300
    shift = torch.rand(len(origins), generator=torch.Generator().manual_seed(2)) if stratified else None
    ref = reference_sampling(grid, origins, directions, step, cone_angle=cone_angle, shift=shift)
    gen = torch.Generator().manual_seed(2) if stratified else None
    new = grid.sampling(
        origins, directions, render_step_size=step, cone_angle=cone_angle, stratified=stratified, generator=gen
    )
    assert len(ref[0]) > 1000  # the rays do cross occupied cells
    for a, b in zip(ref, new):
        assert torch.equal(a, b)


@pytest.mark.parametrize("marcher", ["torch", "cpp"])
def test_march_on_an_empty_and_a_full_grid(marcher):
    grid = OccupancyGrid(16, 1, marcher)
    origins, directions = random_rays(200, 1)
    ref = reference_sampling(grid, origins, directions, 0.01)
    new = grid.sampling(origins, directions, render_step_size=0.01)
    assert len(ref[0]) > 0 and all(torch.equal(a, b) for a, b in zip(ref, new))
    grid.binaries.zero_()
    assert len(grid.sampling(origins, directions, render_step_size=0.01)[0]) == 0


@pytest.mark.parametrize("round_samples,alpha_thre", [(32, 0.0), (8, 0.0), (16, 1e-3)])
def test_cpp_marching_round_by_round_keeps_the_samples_of_early_stop(round_samples, alpha_thre):
    """The C++ marcher marches the rounds of early termination itself: same samples as marching every
    ray to its end (the torch marcher) and then dropping those behind a spent transmittance."""
    grid = random_grid(3)
    origins, directions = random_rays(1500, 3)
    step = math.sqrt(3) * 4 / 300
    calls = {"torch": 0, "cpp": 0}

    def sigma_for(name):
        def sigma_fn(t0, t1, ri):
            calls[name] += len(t0)
            x = origins[ri] + directions[ri] * ((t0 + t1) / 2)[:, None]
            return 40.0 * torch.exp(-8.0 * ((x - 0.5) ** 2).sum(-1))  # a soft ball: rays stop inside it

        return sigma_fn

    results = {}
    for marcher in ("torch", "cpp"):
        grid.marcher = marcher
        results[marcher] = grid.sampling(
            origins,
            directions,
            sigma_for(marcher),
            render_step_size=step,
            stratified=True,
            generator=torch.Generator().manual_seed(3),
            alpha_thre=alpha_thre,
            round_samples=round_samples,
        )
    ref, new = results["torch"], results["cpp"]
    assert len(ref[0]) > 1000
    assert torch.equal(ref[0], new[0])
    torch.testing.assert_close(new[1], ref[1], rtol=0, atol=0)
    torch.testing.assert_close(new[2], ref[2], rtol=0, atol=0)
    assert calls["cpp"] == calls["torch"]  # the same densities evaluated, round by round


def test_carried_values_match_a_second_pass():
    """``carry``: the values computed with the densities (cpp, one pass) equal a second pass (torch)."""
    grid = random_grid(1)
    origins, directions = random_rays(800, 1)

    def values_fn(t0, t1, ri):
        x = origins[ri] + directions[ri] * ((t0 + t1) / 2)[:, None]
        return torch.cat((30.0 * torch.exp(-8.0 * ((x - 0.5) ** 2).sum(-1, keepdim=True)), x.sin()), -1)

    results = {}
    for marcher in ("torch", "cpp"):
        grid.marcher = marcher
        results[marcher] = grid.sampling(origins, directions, values_fn, render_step_size=0.01, carry=True)
    ref, new = results["torch"], results["cpp"]
    assert len(ref[0]) > 500 and ref[3].shape == (len(ref[0]), 4)
    assert torch.equal(ref[0], new[0]) and torch.equal(ref[1], new[1])
    torch.testing.assert_close(new[3], ref[3])


@pytest.mark.parametrize("levels,resolution", [(1, 32), (3, 32), (2, 64)])
def test_cpp_block_skips_give_the_same_samples(levels, resolution):
    """Empty 4x4x4 blocks crossed in one skip: the same packed samples, and the incremental marcher's
    rounds the same steps, as with cell-by-cell skips."""
    from fields.kernels import march_cpu
    from fields.render.steps import ray_steps

    if not march_cpu.available():
        pytest.skip("the C++ marcher does not build here")
    grid = random_grid(levels, resolution, seed=3)
    blocks = grid._blocks()
    assert blocks is not None and blocks.shape == (levels, resolution // 4, resolution // 4, resolution // 4)
    assert 0.1 < float(blocks.float().mean()) < 0.9  # some blocks are empty, some are not
    origins, directions = random_rays(1200, levels, seed=4)
    steps = ray_steps(origins, directions, grid.occupied_aabb(), math.sqrt(3) * 2 ** (levels - 1) / 400,
                      stratified=True, generator=torch.Generator().manual_seed(5))
    with_blocks = march_cpu.march(origins, directions, *steps, grid.binaries, blocks)
    cells_only = march_cpu.march(origins, directions, *steps, grid.binaries)
    assert len(cells_only[0]) > 1000
    for a, b in zip(with_blocks, cells_only):
        assert torch.equal(a, b)
    rays = torch.arange(len(origins))
    a = march_cpu.Marcher(origins, directions, *steps, grid.binaries, blocks)
    b = march_cpu.Marcher(origins, directions, *steps, grid.binaries)
    for k in (3, 8, 8, 50):
        for x, y in zip(a.next_samples(rays, k), b.next_samples(rays, k)):
            assert torch.equal(x, y)
    with pytest.raises(ValueError, match="blocks"):
        march_cpu.march(origins, directions, *steps, grid.binaries, blocks[:, :2])


@pytest.mark.parametrize("levels,resolution", [(1, 64), (2, 64), (1, 32)])
def test_cpp_wide_block_skips_give_the_same_samples(levels, resolution):
    """Empty 16x16x16 blocks crossed in one skip too (wide empty space): the same samples as cell by cell."""
    from fields.kernels import march_cpu
    from fields.render.steps import ray_steps

    if not march_cpu.available():
        pytest.skip("the C++ marcher does not build here")
    grid = random_grid(levels, resolution, seed=6)
    grid.binaries[:, resolution // 2 :] = False  # half of every level empty: whole 16-blocks with nothing
    grid.binaries[:, :, : resolution // 4] = False
    blocks, wide = grid._blocks(), grid._blocks(16)
    assert wide is not None and wide.shape == (levels, resolution // 16, resolution // 16, resolution // 16)
    assert 0.1 < float(wide.float().mean()) < 0.9
    origins, directions = random_rays(1500, levels, seed=7)
    steps = ray_steps(origins, directions, grid.occupied_aabb(), math.sqrt(3) * 2 ** (levels - 1) / 400,
                      stratified=True, generator=torch.Generator().manual_seed(8))
    skipping = march_cpu.march(origins, directions, *steps, grid.binaries, blocks, wide)
    cells_only = march_cpu.march(origins, directions, *steps, grid.binaries)
    assert len(cells_only[0]) > 1000
    for a, b in zip(skipping, cells_only):
        assert torch.equal(a, b)
    rays = torch.arange(len(origins))
    a = march_cpu.Marcher(origins, directions, *steps, grid.binaries, blocks, wide)
    b = march_cpu.Marcher(origins, directions, *steps, grid.binaries)
    for k in (3, 8, 8, 50):
        for x, y in zip(a.next_samples(rays, k), b.next_samples(rays, k)):
            assert torch.equal(x, y)
