"""CAM, Gaussian RBF and NeuRBF decoders, and the GNF grids, against direct formulas."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from fields.config.train import OptimizerConfig
from fields.decoders import DECODERS
from fields.decoders.cam import CAMMLP
from fields.decoders.gaussian_rbf import GaussianRBF
from fields.decoders.neurbf_decoder import NeuRBFDecoder
from fields.encoders import ENCODERS
from fields.models import Field


def test_cam_at_identity_equals_the_plain_normalised_mlp():
    cam = CAMMLP(CAMMLP.Config(n_neurons=16, n_hidden_layers=3), 8, 3)
    feats, coords = torch.randn(50, 8), torch.rand(50, 2)
    h = feats
    for layer in cam.linears[:-1]:
        h = F.relu(F.layer_norm(layer(h), (16,)))
    torch.testing.assert_close(cam(feats, coords), cam.linears[-1](h))


def test_cam_modulation_interpolates_its_grids():
    cam = CAMMLP(CAMMLP.Config(n_neurons=4, n_hidden_layers=1, grid_resolution=[3, 5], norm="none"), 2, 1)
    with torch.no_grad():
        values = torch.randn(3 * 5)
        cam.gamma[0, :, 0] = values
        cam.beta[0, :, 0] = 2 * values
    # grid point (i, j) sits at (i / 2, j / 4); index i + 3 j; halfway between two points averages them
    coords = torch.tensor([[0.5, 0.25], [0.25, 0.0], [1.0, 1.0]])
    gamma, beta = cam.modulation(coords)
    torch.testing.assert_close(
        gamma[0, :, 0], torch.stack([values[1 + 3], (values[0] + values[1]) / 2, values[2 + 12]])
    )
    torch.testing.assert_close(beta, 2 * gamma)
    h = cam.linears[0](torch.ones(3, 2))
    torch.testing.assert_close(cam(torch.ones(3, 2), coords), cam.linears[1](F.relu(gamma[0] * h + beta[0])))


def test_cam_along_time_and_per_channel():
    cam = CAMMLP(
        CAMMLP.Config(n_neurons=8, n_hidden_layers=2, cam_coords=[2], grid_resolution=[5], per_channel=True), 4, 3
    )
    assert cam.gamma.shape == (2, 5, 8)
    with torch.no_grad():
        cam.beta[1, 4] = 3.0  # the last time step only
    coords = torch.tensor([[0.3, 0.7, 1.0], [0.3, 0.7, 0.0]])
    _, beta = cam.modulation(coords)
    assert torch.all(beta[1, 0] == 3.0) and torch.all(beta[1, 1] == 0.0)
    with pytest.raises(ValueError, match="coordinates"):
        cam(torch.zeros(2, 4), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="needs the field"):
        cam(torch.zeros(2, 4))


def test_cam_grids_get_their_own_learning_rate():
    enc = ENCODERS.build(ENCODERS.validate({"type": "fourier", "n_features": 8}), 2)
    dec = DECODERS.build(DECODERS.validate({"type": "cam_mlp", "n_neurons": 8, "lr_multiplier": 10}), enc.out_dim, 3)
    groups = Field(enc, dec).param_groups(OptimizerConfig(lr=1e-3))
    by_name = {g["name"]: g for g in groups}
    assert by_name["decoder.cam_grids"]["lr"] == pytest.approx(1e-2)
    assert by_name["decoder.mlp"]["lr"] == pytest.approx(1e-3)
    assert {id(p) for p in by_name["decoder.cam_grids"]["params"]} == {id(dec.gamma), id(dec.beta)}


def test_cam_gradcheck():
    cam = CAMMLP(CAMMLP.Config(n_neurons=5, n_hidden_layers=2, grid_resolution=[4]), 3, 2).double()
    with torch.no_grad():
        cam.gamma.uniform_(0.5, 1.5)
        cam.beta.uniform_(-0.5, 0.5)
    feats = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    coords = (torch.rand(4, 2, dtype=torch.float64) * 0.9 + 0.05).requires_grad_()
    assert torch.autograd.gradcheck(lambda f, c: cam(f, c), (feats, coords))


def test_gaussian_rbf_matches_the_direct_formula_and_gradchecks():
    dec = GaussianRBF(GaussianRBF.Config(n_units=7, mu_init=0.5), 5, 3).double()
    with torch.no_grad():
        dec.log_beta.normal_(0, 0.5)
    f = torch.randn(11, 5, dtype=torch.float64, requires_grad=True)
    beta = dec.log_beta.exp()
    phi = torch.exp(-0.5 * (beta[None] * (f[:, None, :] - dec.mu[None]) ** 2).sum(-1))  # (B, N, F) on purpose
    torch.testing.assert_close(dec.activations(f), phi)
    torch.testing.assert_close(dec(f), phi @ dec.readout.weight.T + dec.readout.bias)
    assert torch.autograd.gradcheck(lambda x: dec(x), (f,))
    assert torch.autograd.gradgradcheck(lambda x: dec(x), (f,))
    fresh = GaussianRBF(GaussianRBF.Config(), 4, 1)
    assert torch.all(fresh.log_beta == 0) and fresh.mu.abs().max() <= 1e-4


def test_neurbf_decoder_uses_sinusoidal_first_layer():
    dec = NeuRBFDecoder(NeuRBFDecoder.Config(n_neurons=6, n_hidden_layers=2, sin_frequency_range=(10.0, 100.0)), 4, 2)
    torch.testing.assert_close(dec.sin_frequencies[[0, -1]], torch.tensor([10.0, 100.0]))
    x = torch.randn(9, 4)
    h = dec.linears[0](x)
    h = h + torch.sin(h * dec.sin_frequencies)
    want = dec.linears[2](F.relu(dec.linears[1](h)))
    torch.testing.assert_close(dec(x), want)


def test_gnf_grid_values_and_gradients():
    enc = ENCODERS.build(ENCODERS.validate({"type": "gnf_grid", "channels": [2, 1], "resolutions": [3, 5]}), 2).double()
    assert enc.out_dim == 3 and enc.n_params() == 9 * 2 + 25 * 1
    # at a grid point the feature is that point's entry (index i + res * j)
    x = torch.tensor([[0.5, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(enc(x)[0, :2], enc.tables[0][1 + 3 * 2])
    torch.testing.assert_close(enc(x)[0, 2:], enc.tables[1][2 + 5 * 4])
    xs = (torch.rand(5, 2, dtype=torch.float64) * 0.9 + 0.05).requires_grad_()
    assert torch.autograd.gradcheck(enc, (xs,))
    saw = ENCODERS.build(
        ENCODERS.validate({"type": "gnf_grid", "channels": [1], "resolutions": [4], "frequencies": [2.0]}), 1
    )
    # period 1/2: x and x + 1/2 read the same features
    torch.testing.assert_close(saw(torch.tensor([[0.1]])), saw(torch.tensor([[0.6]])))


def test_gaussian_rbf_takes_an_empty_batch():
    """A radiance step whose occupancy grid marks nothing sends zero samples (it crashed on reshape)."""
    from fields.decoders import DECODERS

    decoder = DECODERS.build(DECODERS.validate({"type": "gaussian_rbf", "n_units": 8}), 4, 16)
    out = decoder(torch.zeros(0, 4))
    assert out.shape == (0, 16)
    out.sum().backward()
    assert decoder.mu.grad is not None and decoder.mu.grad.abs().sum() == 0
