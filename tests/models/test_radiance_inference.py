"""The inference snapshot of a radiance field (``RadianceInference``, ``FrozenMLP``) computes what the
modules compute: same densities and geometry features, same colour with the direction part per ray."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from fields.decoders import frozen_mlp
from fields.decoders.frozen_mlp import FrozenMLP
from fields.decoders.mlp import MLP
from fields.engine.scene import scene_from_dict
from fields.models.radiance import RadianceField
from fields.models.radiance_inference import RadianceInference

SMALL_ENCODER = {"type": "hashgrid", "n_levels": 4, "log2_hashmap_size": 10, "base_resolution": 4, "max_resolution": 32}


def field_with(decoder: dict, appearance_dim: int = 0) -> RadianceField:
    scene = scene_from_dict({
        "task": "radiance",
        "data": {"path": "synthetic:objects"},
        "model": {"encoder": SMALL_ENCODER, "decoder": decoder, "output_activation": "sigmoid",
                  "density_neurons": 16, "density_hidden_layers": 1, "geo_feat_dim": 7},
    })
    field = RadianceField(scene.model, appearance_dim=appearance_dim)
    with torch.no_grad():  # weights away from their initial scale, so a wrong split shows
        for p in field.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return field


@pytest.mark.parametrize("onednn", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_frozen_mlp_is_the_mlp(bias, onednn, monkeypatch):
    if onednn and not frozen_mlp._onednn_linear():
        pytest.skip("this torch build has no oneDNN linear")
    monkeypatch.setattr(frozen_mlp, "_ONEDNN", {torch.float32: onednn})
    mlp = MLP(MLP.Config(n_neurons=32, n_hidden_layers=2, bias=bias), 11, 5)
    x = torch.randn(100, 11)
    frozen = FrozenMLP.of(mlp)
    assert (frozen.fused is not None) == onednn
    with torch.no_grad():
        torch.testing.assert_close(frozen(x), mlp(x), rtol=1e-5, atol=1e-5)
    # the first layer split at inputs [4, 9): x[:, 4:9] per sample, the rest through `first`
    w, b, rest = frozen.split_first(slice(4, 9))
    first = x[:, :4] @ w[:4] + x[:, 9:] @ w[9:] + (0.0 if b is None else b)
    with torch.no_grad():
        torch.testing.assert_close(rest(x[:, 4:9], first), mlp(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("onednn", [True, False])
def test_frozen_mlp_in_bfloat16(onednn, monkeypatch):
    if onednn and not frozen_mlp._onednn_linear(torch.bfloat16):
        pytest.skip("no oneDNN bfloat16 linear here (it needs AVX-512)")
    monkeypatch.setattr(frozen_mlp, "_ONEDNN", {torch.bfloat16: onednn})
    torch.manual_seed(0)
    mlp = MLP(MLP.Config(n_neurons=32, n_hidden_layers=2), 11, 5)
    x = torch.randn(200, 11)
    frozen = FrozenMLP.of(mlp, torch.bfloat16)
    with torch.no_grad():
        out, ref = frozen(x), mlp(x)
        assert out.dtype == torch.bfloat16
        w, b, rest = frozen.split_first(slice(4, 9))
        first = x[:, :4] @ w[:4].float() + x[:, 9:] @ w[9:].float() + b.float()
        split = rest(x[:, 4:9], first)
    # bfloat16 keeps 8 bits of mantissa: a few hundredths on outputs of order one
    assert (out.float() - ref).abs().max() < 0.05 * ref.abs().max()
    assert (split.float() - ref).abs().max() < 0.05 * ref.abs().max()


@pytest.mark.parametrize("config", [{"activation": "softplus"}, {"output_activation": "sigmoid"},
                                    {"weight_norm": True}, {"init": "siren", "activation": "sine"}])
def test_frozen_mlp_only_for_plain_relu_mlps(config):
    mlp = MLP(MLP.Config(n_neurons=8, n_hidden_layers=1, **config), 3, 2)
    assert FrozenMLP.of(mlp) is None


@pytest.mark.parametrize("appearance_dim", [0, 4])
def test_inference_is_the_field(appearance_dim):
    field = field_with({"type": "mlp", "n_neurons": 32, "n_hidden_layers": 2}, appearance_dim)
    fast = RadianceInference(field)
    assert fast.density_mlp is not None and fast.colour_mlp is not None
    x = torch.rand(300, 3)
    rays = F.normalize(torch.randn(40, 3), dim=-1)
    ri = torch.randint(0, 40, (300,))
    codes = torch.randn(40, appearance_dim) if appearance_dim else None
    with torch.no_grad():
        sigma, geo = field.features(x)
        fast_sigma, fast_geo = fast.features(x)
        torch.testing.assert_close(fast_sigma, sigma, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(fast_geo, geo, rtol=1e-5, atol=1e-5)
        expected = field.colour(geo, rays[ri], None if codes is None else codes[ri])
        torch.testing.assert_close(fast.colour_fn(rays, codes)(geo, ri), expected, rtol=1e-5, atol=1e-5)
        rows = torch.randperm(300)[:123]  # a subset of the samples, gathered by the MLP's first layer
        torch.testing.assert_close(fast.colour_fn(rays, codes)(geo, ri[rows], rows), expected[rows], rtol=1e-5,
                                   atol=1e-5)
        if appearance_dim:  # no codes: zeros, as the module path
            zeros = field.colour(geo, rays[ri], torch.zeros(300, appearance_dim))
            torch.testing.assert_close(fast.colour_fn(rays)(geo, ri), zeros, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fused_density_pass_is_the_module_path(dtype, monkeypatch):
    """Where the encoder's kernel writes the density MLP's input (``lookup_into``), the density and features
    are those of the module path (the box of the field applied in the kernel)."""
    field = field_with({"type": "mlp", "n_neurons": 32, "n_hidden_layers": 2})
    field.box_lo, field.box_size = -0.5, 2.0
    fast = RadianceInference(field, dtype)
    x = torch.rand(700, 3) * 2.4 - 0.7
    with torch.no_grad():
        fused = fast._fused_density(x)
        if fused is None:
            pytest.skip("no vector grid kernel on this CPU")
        sigma, geo = fast.features(x)
        monkeypatch.setattr(fast, "_fused_density", lambda x: None)
        sigma_ref, geo_ref = fast.features(x)
    assert torch.equal(geo, geo_ref) and torch.equal(sigma, sigma_ref)
    torch.testing.assert_close(sigma, field.features(x)[0], rtol=0.05 if dtype == torch.bfloat16 else 1e-5, atol=1e-5)


def test_inference_of_other_decoders_keeps_the_module_path():
    field = field_with({"type": "mlp", "n_neurons": 16, "n_hidden_layers": 1, "activation": "softplus"})
    fast = RadianceInference(field)
    assert fast.colour_mlp is None
    rays = F.normalize(torch.randn(10, 3), dim=-1)
    ri = torch.arange(10).repeat(3)
    with torch.no_grad():
        _, geo = field.features(torch.rand(30, 3))
        torch.testing.assert_close(fast.colour_fn(rays)(geo, ri), field.colour(geo, rays[ri]))
        rows = torch.tensor([29, 3, 3, 17])
        torch.testing.assert_close(fast.colour_fn(rays)(geo, ri[rows], rows), field.colour(geo[rows], rays[ri[rows]]))


def test_bfloat16_inference_is_close():
    field = field_with({"type": "mlp", "n_neurons": 32, "n_hidden_layers": 2})
    fast = RadianceInference(field, torch.bfloat16)
    x, rays = torch.rand(200, 3), F.normalize(torch.randn(200, 3), dim=-1)
    ri = torch.arange(200)
    with torch.no_grad():
        sigma, geo = field.features(x)
        fast_sigma, fast_geo = fast.features(x)
        assert fast_geo.dtype == torch.bfloat16
        torch.testing.assert_close(fast_sigma, sigma, rtol=0.05, atol=0.02)
        rgb = fast.colour_fn(rays)(fast_geo, ri)
        assert rgb.dtype == torch.float32
        rows = torch.arange(0, 200, 3)
        assert torch.equal(fast.colour_fn(rays)(fast_geo, ri[rows], rows), rgb[rows])
        torch.testing.assert_close(rgb, field.colour(geo, rays), rtol=0.0, atol=0.02)


def test_snapshot_is_reused_until_a_parameter_changes():
    field = field_with({"type": "mlp", "n_neurons": 16, "n_hidden_layers": 1})
    first = RadianceInference.of(field, torch.bfloat16)
    assert RadianceInference.of(field, torch.bfloat16) is first
    assert RadianceInference.of(field) is not first  # another dtype
    with torch.no_grad():
        field.decoder.linears[0].weight.add_(1.0)
    assert RadianceInference.of(field) is not RadianceInference.of(field, torch.bfloat16)
    fresh = RadianceInference.of(field, torch.bfloat16)
    assert fresh is not first
    torch.testing.assert_close(fresh.colour_mlp.layers[0][0].float(),
                               field.decoder.linears[0].weight.t().to(torch.bfloat16).float())
