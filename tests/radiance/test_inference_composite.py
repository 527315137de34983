"""Inference compositing during marching (``composite_with_early_stop``) renders what the training path's
packed samples render, with fewer densities evaluated and colour only where a sample shows."""

from __future__ import annotations

import pytest
import torch

from fields.kernels import march_cpu
from fields.render.early_stop import composite_with_early_stop, round_sizes
from fields.render.volume_rendering import render
from tests.radiance.test_marching_parity import random_grid, random_rays

pytestmark = pytest.mark.skipif(not march_cpu.available(), reason="the C++ marcher does not build here")


def test_round_sizes_grow_to_the_cap():
    sizes = round_sizes(32)
    assert [next(sizes) for _ in range(6)] == [8, 16, 32, 32, 32, 32]
    sizes = round_sizes(4)
    assert [next(sizes) for _ in range(3)] == [4, 4, 4]


@pytest.mark.parametrize("min_weight", [0.0, 1e-4])
def test_composite_matches_packed_render(min_weight):
    grid = random_grid(1)
    origins, directions = random_rays(600, 1)
    step = 0.01

    def density(x):
        return 60.0 * torch.exp(-10.0 * ((x - 0.5) ** 2).sum(-1))  # a soft ball: rays turn opaque inside

    def colour(x, d):
        return torch.sigmoid(3.0 * x.sin() + d)

    # reference: the packed samples of the training path (early stop in rounds of 32), composited after
    ri, t0, t1 = grid.sampling(origins, directions,
                               lambda a, b, r: density(origins[r] + directions[r] * ((a + b) / 2)[:, None]),
                               render_step_size=step)

    def rgb_sigma(a, b, r):
        x = origins[r] + directions[r] * ((a + b) / 2)[:, None]
        return colour(x, directions[r]), density(x)

    ref = render(t0, t1, ri, len(origins), rgb_sigma, torch.zeros(3))
    coloured = []

    def features_fn(x, r):
        return density(x), x

    def colour_fn(x, r, rows):
        coloured.append(len(rows))
        return colour(x[rows], directions[r])

    marcher = grid.step_marcher(origins, directions, step)
    rgb, opacity, depth, evaluated = composite_with_early_stop(
        marcher, features_fn, colour_fn, len(origins), 1e-4, 0.0, 32, min_weight)
    assert float(ref.opacity.max()) > 0.99 and len(ri) > 1000  # rays turn opaque: early stop matters
    torch.testing.assert_close(opacity, ref.opacity[:, 0], atol=1e-5, rtol=0)
    torch.testing.assert_close(depth, ref.depth[:, 0], atol=1e-4, rtol=0)
    # a skipped colour changes a pixel by at most its weight
    torch.testing.assert_close(rgb, ref.rgb, atol=max(1e-5, 40 * min_weight), rtol=0)
    assert evaluated >= len(ri)
    if min_weight:
        assert sum(coloured) < len(ri)  # faint samples got no colour pass
    else:
        assert sum(coloured) <= len(ri)
