"""Hash grid indices and weights against values computed by hand at chosen points: dense and hashed
levels, cell boundaries, the +0.5 offset, and tiny-cuda-nn's modulo aliasing at the top boundary."""

from __future__ import annotations

import pytest
import torch

from fields.encoders import ENCODERS
from fields.kernels.grid_math import corner_weights

PRIMES = (1, 2654435761, 805459861, 3674653429, 2097192037, 1434869437, 2165219737)


def grid(in_dim: int, backend: str = "torch", **config):
    cfg = ENCODERS.validate({"type": "hashgrid", "backend": backend, **config})
    return ENCODERS.build(cfg, in_dim).double()


def tcnn_hash(v: tuple[int, ...], size: int) -> int:
    """tiny-cuda-nn's hash in uint32 arithmetic, modulo a power-of-two table size."""
    h = 0
    for vi, prime in zip(v, PRIMES):
        h ^= (vi * prime) & 0xFFFFFFFF
    return h % size


def cells_of(g, x: torch.Tensor) -> torch.Tensor:
    pos = x[:, None, :] * torch.tensor(g.level_scales, dtype=torch.float64)[None, :, None] + 0.5
    return pos.floor().long()


# 2D, base 4, b = 4: level 0 has scale 3, resolution 4 (16 rows, dense); level 1 has scale 15,
# resolution 16 (256 > 2**6 = 64 rows, hashed)
CONFIG_2D = dict(n_levels=2, n_features_per_level=1, log2_hashmap_size=6, base_resolution=4, per_level_scale=4.0)


def test_level_layout():
    g = grid(2, **CONFIG_2D)
    assert g.level_scales == [3.0, 15.0]
    assert g.level_resolutions == [4, 16]
    assert g.level_sizes == [16, 64]
    assert g.n_dense_levels == 1
    assert g.level_table(0).shape == (16, 1) and g.level_table(1).shape == (64, 1)
    assert g.level_table(1).data_ptr() == g.params[16:].data_ptr()  # a view: edits reach the model


def test_dense_level_indices_and_weights_at_an_interior_point():
    g = grid(2, **CONFIG_2D)
    x = torch.tensor([[0.3, 0.7]], dtype=torch.float64)
    cell = cells_of(g, x)
    # level 0: position (0.3 * 3 + 0.5, 0.7 * 3 + 0.5) = (1.4, 2.6): cell (1, 2), fraction (0.4, 0.6)
    assert cell[0, 0].tolist() == [1, 2]
    rows = g.corner_indices(cell)[0, 0].tolist()
    # corners (1,2) (2,2) (1,3) (2,3): row = v0 + 4 v1
    assert rows == [1 + 4 * 2, 2 + 4 * 2, 1 + 4 * 3, 2 + 4 * 3]
    frac = torch.tensor([[0.4, 0.6]], dtype=torch.float64)
    expected = [0.6 * 0.4, 0.4 * 0.4, 0.6 * 0.6, 0.4 * 0.6]
    assert torch.allclose(corner_weights(frac)[0], torch.tensor(expected, dtype=torch.float64))


def test_hashed_level_indices():
    g = grid(2, **CONFIG_2D)
    x = torch.tensor([[0.3, 0.7], [0.91, 0.02]], dtype=torch.float64)
    cell = cells_of(g, x)
    rows = g.corner_indices(cell)[:, 1]
    for n in range(2):
        v = cell[n, 1].tolist()
        corners = [(v[0], v[1]), (v[0] + 1, v[1]), (v[0], v[1] + 1), (v[0] + 1, v[1] + 1)]
        assert rows[n].tolist() == [16 + tcnn_hash(c, 64) for c in corners]
    # the point (0.91, 0.02): position (14.15, 0.8) -> cell (14, 0)
    assert cell[1, 1].tolist() == [14, 0]
    assert rows[1, 0].item() == 16 + 14 % 64  # v1 = 0: the hash of (14, 0) is 14


def test_hash_uses_uint32_wraparound_in_3d_and_more():
    g = grid(3, n_levels=1, n_features_per_level=1, log2_hashmap_size=10, base_resolution=4096)
    v = (4000, 3000, 2500)
    rows = g.corner_indices(torch.tensor([[v]]))[0, 0].tolist()
    corners = [tuple(v[i] + ((c >> i) & 1) for i in range(3)) for c in range(8)]
    assert rows == [tcnn_hash(c, 1024) for c in corners]
    g7 = grid(7, n_levels=1, n_features_per_level=1, log2_hashmap_size=12, base_resolution=64)
    v7 = (63, 1, 2, 3, 4, 5, 60)
    rows = g7.corner_indices(torch.tensor([[v7]]))[0, 0]
    assert rows[0].item() == tcnn_hash(v7, 4096)
    assert rows[127].item() == tcnn_hash(tuple(a + 1 for a in v7), 4096)


@pytest.mark.parametrize("backend", ["torch", "auto"])
def test_forward_reads_the_rows_with_the_offset(backend):
    """Table rows hold their own index, so the output is the weighted mean of the corner rows."""
    g = grid(2, backend, **CONFIG_2D)
    with torch.no_grad():
        g.params.copy_(torch.arange(g.params.shape[0], dtype=torch.float64)[:, None])
    # x = 0: position 0.5 on every level (the +0.5 offset): half of vertex 0 and half of vertex 1
    out = g(torch.zeros(1, 2, dtype=torch.float64))[0]
    assert out[0].item() == pytest.approx(0.25 * (0 + 1 + 4 + 5))
    hashed = [16 + tcnn_hash(c, 64) for c in [(0, 0), (1, 0), (0, 1), (1, 1)]]
    assert out[1].item() == pytest.approx(sum(hashed) / 4)
    # x0 = 1/6 on level 0: position 1.0 exactly, a cell boundary: all weight on vertex 1
    out = g(torch.tensor([[1.0 / 6.0, 0.0]], dtype=torch.float64))[0]
    assert out[0].item() == pytest.approx(0.5 * (1 + 5))
    # interior point (0.3, 0.7): rows 9, 10, 13, 14 with weights 0.24, 0.16, 0.36, 0.24
    out = g(torch.tensor([[0.3, 0.7]], dtype=torch.float64))[0]
    assert out[0].item() == pytest.approx(0.24 * 9 + 0.16 * 10 + 0.36 * 13 + 0.24 * 14)


@pytest.mark.parametrize("backend", ["torch", "auto"])
def test_top_boundary_aliasing_like_tiny_cuda_nn(backend):
    """At x = 1 the position is scale + 0.5, so the upper corners lie one vertex past the grid;
    tiny-cuda-nn takes the dense index modulo the level size, which wraps them onto other rows."""
    g = grid(2, backend, **CONFIG_2D)
    cell = cells_of(g, torch.ones(1, 2, dtype=torch.float64))
    assert cell[0, 0].tolist() == [3, 3]  # position 3.5
    # corners (3,3) (4,3) (3,4) (4,4): rows 15, 16, 19, 20, modulo 16
    assert g.corner_indices(cell)[0, 0].tolist() == [15, 0, 3, 4]
    with torch.no_grad():
        g.params.copy_(torch.arange(g.params.shape[0], dtype=torch.float64)[:, None])
    out = g(torch.ones(1, 2, dtype=torch.float64))[0]
    assert out[0].item() == pytest.approx(0.25 * (15 + 0 + 3 + 4))
    # beyond the cube: clamped to the same value (a documented difference: tiny-cuda-nn wraps negatives)
    assert torch.equal(g(torch.full((1, 2), 1.7, dtype=torch.float64)), out[None])


def test_padded_dense_level_wraps_modulo_the_padded_size():
    # 3D, base 3: scale 2, resolution 3, 27 rows padded to 32
    g = grid(3, n_levels=1, n_features_per_level=1, log2_hashmap_size=10, base_resolution=3)
    assert g.level_sizes == [32] and g.n_dense_levels == 1
    cell = cells_of(g, torch.ones(1, 3, dtype=torch.float64))
    assert cell[0, 0].tolist() == [2, 2, 2]
    rows = g.corner_indices(cell)[0, 0].tolist()
    full = [(2 + (c & 1)) + 3 * (2 + ((c >> 1) & 1)) + 9 * (2 + ((c >> 2) & 1)) for c in range(8)]
    assert rows == [r % 32 for r in full]
    assert rows[7] == 39 - 32


def test_resolution_rounding_uses_float32_like_tiny_cuda_nn():
    # b = 1.5 at level 2 in float32: 16 * 2.25 - 1 = 35 exactly; at level 5: 16 * 7.59375 - 1 = 120.5
    g = grid(3, n_levels=6, base_resolution=16, per_level_scale=1.5, log2_hashmap_size=19)
    assert g.level_resolutions[2] == 36 and g.level_resolutions[5] == 122


def test_smoothstep_weights():
    frac = torch.tensor([[0.25]], dtype=torch.float64)
    s = 0.25**2 * (3 - 2 * 0.25)
    assert torch.allclose(corner_weights(frac, "smoothstep")[0], torch.tensor([1 - s, s], dtype=torch.float64))
    g = grid(1, n_levels=1, n_features_per_level=1, base_resolution=5, interpolation="smoothstep")
    with torch.no_grad():
        g.params.copy_(torch.arange(g.params.shape[0], dtype=torch.float64)[:, None])
    # scale 4: x = 0.3125 -> position 1.75: vertices 1 and 2, fraction 0.75
    s = 0.75**2 * (3 - 2 * 0.75)
    assert g(torch.tensor([[0.3125]], dtype=torch.float64))[0, 0].item() == pytest.approx((1 - s) * 1 + s * 2)
