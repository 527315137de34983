"""NeuRBF pieces against direct formulas: kernels, neighbour lists, weighted k-means, the encoder."""

from __future__ import annotations

import pytest
import torch

from fields.encoders import ENCODERS
from fields.encoders.neurbf import NeuRBF, kernels_for_budget
from fields.encoders.neurbf_kernels import (
    NeighbourGrid,
    brute_force_neighbours,
    kernel_values,
    pack_symmetric,
    unpack_symmetric,
)
from fields.encoders.rbf_init import (
    isotropic_tent_scales,
    sdf_weights,
    shapes_from_covariance,
    sobel_magnitude,
    weighted_kmeans,
)


def random_spd(n: int, d: int) -> torch.Tensor:
    a = torch.randn(n, d, d, dtype=torch.float64)
    return a @ a.transpose(-1, -2) + 0.5 * torch.eye(d, dtype=torch.float64)


@pytest.mark.parametrize("dim", [2, 3])
def test_kernel_values_and_gradients_match_direct_formulas(dim: int):
    n, k = 7, 5
    diff = torch.randn(n, k, dim, dtype=torch.float64, requires_grad=True)
    s_full = random_spd(n * k, dim).reshape(n, k, dim, dim)
    assert torch.equal(unpack_symmetric(pack_symmetric(s_full), dim), s_full)
    q = torch.einsum("nka,nkab,nkb->nk", diff, s_full, diff)
    for kernel, direct in (("inverse_quadric", 1 / (1 + q)), ("gaussian", torch.exp(-q))):
        got = kernel_values(kernel, diff, pack_symmetric(s_full))
        torch.testing.assert_close(got, direct)
        # analytic gradient d phi / d d = -2 S d / (1 + q)^2  (inverse quadric),  -2 S d exp(-q)  (gaussian)
        (grad,) = torch.autograd.grad(got.sum(), diff)
        sd = torch.einsum("nkab,nkb->nka", s_full, diff)
        factor = -2 / (1 + q) ** 2 if kernel == "inverse_quadric" else -2 * torch.exp(-q)
        torch.testing.assert_close(grad, factor.detach()[..., None] * sd.detach())
    scales = torch.rand(n, k, dim, dtype=torch.float64) * 2
    tent = kernel_values("tent", diff, scales)
    manual = torch.ones(n, k, dtype=torch.float64)
    for i in range(dim):
        manual = manual * torch.clamp(1 - diff[..., i].abs() * scales[..., i], 0, 1)
    torch.testing.assert_close(tent, manual)


@pytest.mark.parametrize("dim,k,n_kernels", [(2, 4, 300), (3, 8, 400)])
def test_neighbour_lists_match_brute_force(dim: int, k: int, n_kernels: int):
    torch.manual_seed(1)
    centres = torch.rand(n_kernels, dim)
    centres[: n_kernels // 3] *= 0.2  # a dense corner: lists must stay exact there too
    grid = NeighbourGrid(centres, k, resolution=24 if dim == 2 else 16, max_candidates=256)
    assert grid.stats["truncated_cells"] == 0
    x = torch.rand(5000, dim)
    x[:10] = torch.tensor([0.0] * dim)  # the domain's corners and faces
    x[10:20] = 1.0
    got = grid.query(x, centres)
    want = brute_force_neighbours(x, centres, k)
    # compare sets of distances (ties between equidistant kernels may pick either one)
    d_got = torch.cdist(x.double(), centres.double()).gather(1, got).sort(1).values
    d_want = torch.cdist(x.double(), centres.double()).gather(1, want).sort(1).values
    torch.testing.assert_close(d_got, d_want)
    assert grid.stats["candidates"] < n_kernels  # a query does not look at every kernel


def test_weighted_kmeans_puts_more_kernels_where_weights_are_larger():
    torch.manual_seed(0)
    points = torch.rand(20000, 2)
    weights = torch.where(points[:, 0] > 0.5, 9.0, 1.0)  # right half weighs 9x
    centres, labels = weighted_kmeans(points, weights, 64, iterations=10, seed=0)
    right = int((centres[:, 0] > 0.5).sum())
    # k-means density follows weight^(d/(d+2)) = 9^0.5 = 3: about 48 of 64 on the right
    assert right >= 40, right
    assert labels.min() >= 0 and labels.max() < 64
    uniform, _ = weighted_kmeans(points, torch.ones(20000), 64, iterations=10, seed=0)
    assert 22 <= int((uniform[:, 0] > 0.5).sum()) <= 42


def test_shapes_follow_cluster_covariance():
    cov = torch.diag_embed(torch.tensor([[0.01, 0.0004]], dtype=torch.float64))
    s = shapes_from_covariance(cov, "inverse_quadric", alpha=0.5)
    torch.testing.assert_close(s[0], torch.diag(torch.tensor([50.0, 1250.0], dtype=torch.float64)))
    tent = shapes_from_covariance(cov, "tent", alpha=0.5)
    # a uniform cluster of width w has variance w^2 / 12 and gets a tent of half-width w
    w = (12 * 0.01) ** 0.5
    torch.testing.assert_close(tent[0, 0], torch.tensor(1 / w, dtype=torch.float64))


def test_isotropic_tent_covers_points_off_a_flat_surface_cluster():
    # a cluster on the plane z = 0.5 (a surface patch): its covariance is flat along the normal
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(4000, 2, generator=g, dtype=torch.float64) * 0.04 + 0.48
    points = torch.cat((xy, torch.full((4000, 1), 0.5, dtype=torch.float64)), -1)
    centre = points.mean(0, keepdim=True)
    offset = points - centre
    cov = (offset[:, :, None] * offset[:, None, :]).mean(0, keepdim=True)
    iso = isotropic_tent_scales(cov, torch.ones(1), alpha=0.5)
    width = (4 * torch.diagonal(cov[0]).sum() / 0.5).sqrt()
    torch.testing.assert_close(iso[0], torch.full((3,), 1 / float(width), dtype=torch.float64))
    off_surface = centre + torch.tensor([[0.0, 0.0, 0.01]], dtype=torch.float64)  # a point 0.01 off the patch
    diff = (off_surface - centre)[:, None, :]
    assert kernel_values("tent", diff, iso[:, None, :]).item() > 0.5
    per_axis = shapes_from_covariance(cov.clamp_min(1e-8), "tent", alpha=0.5)  # axis widths: thin along z
    assert kernel_values("tent", diff, per_axis[:, None, :]).item() == 0.0
    # widths are clipped to [1/2000, 1/10] of the cube; an empty cluster gets the smallest
    huge = torch.eye(3, dtype=torch.float64)[None]
    torch.testing.assert_close(
        isotropic_tent_scales(huge, torch.ones(1))[0, 0], torch.tensor(10.0, dtype=torch.float64)
    )
    torch.testing.assert_close(
        isotropic_tent_scales(huge, torch.zeros(1))[0, 0], torch.tensor(2000.0, dtype=torch.float64)
    )


def test_image_and_sdf_weights():
    image = torch.zeros(16, 16, 1)
    image[:, 8:] = 1.0  # a vertical edge
    mag = sobel_magnitude(image)
    assert mag[:, 7:9].min() > 0 and mag[:, :6].abs().max() == 0 and mag[:, 10:].abs().max() == 0
    w = sdf_weights(torch.tensor([0.0, 0.1, -0.1]), eps=1e-3)
    assert w[0] > w[1] == w[2]


def test_initialise_moves_kernels_to_detail_and_survives_a_state_dict_round_trip():
    cfg = ENCODERS.validate({"type": "neurbf", "n_kernels": 64, "n_frequencies": 8})
    enc = ENCODERS.build(cfg, 2)
    assert enc.needs_initialise
    grid = torch.stack(torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="xy"), -1).reshape(
        -1, 2
    )
    weights = (grid[:, 1] < 0.25).double()  # all detail in the top quarter
    enc.initialise(grid, weights)
    assert not enc.needs_initialise
    assert (enc.centres[:, 1] < 0.3).float().mean() > 0.9
    other = ENCODERS.build(cfg, 2)
    other.load_state_dict(enc.state_dict())
    assert not other.needs_initialise and torch.equal(other.centres, enc.centres)
    x = torch.rand(100, 2)
    torch.testing.assert_close(other(x), enc(x))  # neighbour lists rebuilt for the loaded centres


def test_encoder_equals_direct_sum_over_brute_force_neighbours():
    torch.manual_seed(0)
    cfg = NeuRBF.Config(n_kernels=50, n_frequencies=6, frequency_range=(0.5, 16.0), feature_init=1.0)
    enc = NeuRBF(cfg, 2).double()
    x = torch.rand(200, 2, dtype=torch.float64)
    idx = brute_force_neighbours(x, enc.centres, 4)
    s = unpack_symmetric(enc.shapes[idx], 2)
    d = x[:, None] - enc.centres[idx]
    phi = 1 / (1 + torch.einsum("nka,nkab,nkb->nk", d, s, d))
    phi = phi / (phi.sum(-1, keepdim=True) + 1e-8)
    want = (enc.features[idx] * torch.sin(phi[..., None] * enc.frequencies)).sum(1)
    torch.testing.assert_close(enc(x), want)


def test_normalisation_denominator_is_detached():
    cfg = NeuRBF.Config(n_kernels=16, n_frequencies=4, sinusoidal=False, feature_init=1.0)
    enc = NeuRBF(cfg, 2).double()
    x = torch.rand(3, 2, dtype=torch.float64, requires_grad=True)
    idx = enc.neighbours(x.detach())
    phi = enc.rbf_values(x, idx)
    (g,) = torch.autograd.grad(phi[:, 0].sum(), x)
    raw = kernel_values("inverse_quadric", x[:, None] - enc.centres[idx], enc.shapes[idx])
    want_value = raw / raw.detach().sum(-1, keepdim=True)
    (g_want,) = torch.autograd.grad((raw[:, 0] / raw.sum(-1).detach()).sum(), x)
    torch.testing.assert_close(phi, want_value)
    torch.testing.assert_close(g, g_want)


@pytest.mark.parametrize("kernel", ["inverse_quadric", "gaussian", "tent"])
def test_gradcheck_in_inputs_and_features(kernel: str):
    dim = 3 if kernel == "tent" else 2
    cfg = NeuRBF.Config(n_kernels=27, kernel=kernel, n_neighbours=4, n_frequencies=3, frequency_range=(0.5, 4.0),
                        feature_init=0.5, learn_shapes=True, normalise=False)
    enc = NeuRBF(cfg, dim).double()
    if kernel == "tent":
        enc.shapes.data.fill_(1.0)  # wide tents: the gradcheck points sit inside every support
    # normalise=False: the detached denominator makes the gradient differ from the true derivative on
    # purpose (tested above)
    x = (torch.rand(6, dim, dtype=torch.float64) * 0.8 + 0.1).requires_grad_()
    feats = enc.features
    assert torch.autograd.gradcheck(lambda x_, f_: _with(enc, f_)(x_), (x, feats), eps=1e-6, atol=1e-5)
    # second derivatives in x (eikonal loss)
    assert torch.autograd.gradgradcheck(lambda x_: enc(x_).sum(-1), (x,), eps=1e-6, atol=1e-4)


def _with(enc: NeuRBF, features: torch.Tensor):
    def run(x):
        saved = enc.features
        try:
            del enc.features
            enc.features = features
            return enc(x)
        finally:
            del enc.features
            enc.features = saved

    return run


def test_kernels_for_budget_and_trainable_count():
    cfg = NeuRBF.Config(n_kernels=10, n_frequencies=32)
    assert kernels_for_budget(32 * 1000 + 500, 2, cfg, other_params=500) == 1000
    enc = NeuRBF(cfg, 2)
    assert enc.n_params() == 10 * 32  # frozen centres and shapes are not counted
    learn = NeuRBF(NeuRBF.Config(n_kernels=10, n_frequencies=32, learn_centres=True, learn_shapes=True), 2)
    assert learn.n_params() == 10 * (32 + 2 + 3)
