"""The MetaFormer block and the three skeletons: forward passes, configs, the channel-MLP slot."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from fields.heads import BACKBONES, MetaFormerBlock, build_channel_mlp


def build(kind: str, in_channels: int = 3, out: int = 5, size=32, **options):
    return BACKBONES.build(BACKBONES.validate({"type": kind, **options}), in_channels, out, size)


@pytest.mark.parametrize("mixer", ["pool", {"type": "swin", "window_size": 4, "head_dim": 8}])
def test_pyramid_forward(mixer):
    model = build("pyramid", dims=[16, 24, 32], depths=[1, 2, 1], mixer=mixer)
    assert model.resolutions == [(16, 16), (8, 8), (4, 4)]
    logits = model(torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 5) and torch.isfinite(logits).all()


def test_pyramid_takes_one_mixer_per_stage_and_stacked_planes():
    model = build("pyramid", in_channels=48, dims=[16, 32], depths=[1, 1], mixer=["pool", "swin"])
    kinds = [type(stage[0].mixer).__name__ for stage in model.stages]
    assert kinds == ["Pooling", "ShiftedWindowAttention"]
    assert model(torch.randn(2, 48, 32, 32)).shape == (2, 5)


def test_pyramid_downsamples_by_conv_or_merging():
    """MetaFormer's 7x7 stride-4 stem and overlapping 3x3 downsampling convs take odd token counts that
    Swin's 2x2 patch merging rejects."""
    model = build("pyramid", size=20, dims=[8, 16, 24], depths=[1, 1, 1], stem_stride=4, downsample="conv")
    assert model.resolutions == [(5, 5), (3, 3), (2, 2)] and model.stem.conv.kernel_size == (7, 7)
    x = torch.randn(2, 3, 20, 20, requires_grad=True)
    model(x).sum().backward()
    assert x.grad.abs().sum() > 0 and type(model.merges[0]).__name__ == "ConvDownsample"
    with pytest.raises(ValueError, match="patch merging needs even token counts, got 5x5"):
        build("pyramid", size=20, dims=[8, 16], depths=[1, 1], stem_stride=4)


def test_isotropic_forward():
    model = build("isotropic", dim=16, depth=2, patch_size=4, mixer="pool")
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 5)
    with pytest.raises(ValueError, match="not divisible by patch_size 4"):
        build("isotropic", size=30, dim=16, depth=1, patch_size=4)


@pytest.mark.parametrize("skip", ["concat", "add", "cross_gating"])
def test_unet_forward_and_global_residual(skip):
    model = build("unet", out=3, dims=[16, 24], depths=[1, 1], mixer="maxim", skip=skip)
    x = torch.randn(2, 3, 16, 16)
    y = model(x)
    assert y.shape == x.shape
    torch.nn.init.zeros_(model.out.weight)
    torch.nn.init.zeros_(model.out.bias)
    torch.testing.assert_close(model(x), x)  # the correction branch is zero: identity
    with pytest.raises(ValueError, match="divisible by 2"):
        build("unet", out=3, size=15, dims=[16, 24], depths=[1, 1])


def test_config_errors_are_clear():
    with pytest.raises(ValidationError, match="unknown token mixer 'swim'"):
        BACKBONES.validate({"type": "pyramid", "mixer": "swim"})
    with pytest.raises(ValidationError, match="same non-zero length"):
        BACKBONES.validate({"type": "pyramid", "dims": [16, 32], "depths": [1]})
    with pytest.raises(ValidationError, match="list of 2"):
        BACKBONES.validate({"type": "pyramid", "dims": [16, 32], "depths": [1, 1], "mixer": ["pool"] * 3})
    with pytest.raises(ValidationError, match="unknown channel MLP 'mpl'"):
        BACKBONES.validate({"type": "pyramid", "channel_mlp": "mpl"})
    with pytest.raises(ValueError, match="patch merging needs even"):
        build("pyramid", size=20, dims=[16, 24, 32], depths=[1, 1, 1])  # 10x10 -> 5x5 -> cannot merge


def test_block_is_residual_with_layer_scale():
    block = MetaFormerBlock(16, "pool", (8, 8), layer_scale=0.0)
    x = torch.randn(2, 8, 8, 16)
    torch.testing.assert_close(block(x), x)  # both branches scaled by zero
    block = MetaFormerBlock(16, "pool", (8, 8), layer_scale=1e-2, channel_mlp="glu")
    y = block(x)
    assert y.shape == x.shape and 0 < (y - x).abs().max() < 1.0


@pytest.mark.parametrize("kind", ["mlp", "glu", "gr_kan", "s_kan", "hourglass"])
def test_channel_mlp_slot(kind):
    mlp = build_channel_mlp(kind, 16, mlp_ratio=2.0)
    x = torch.randn(2, 4, 4, 16, requires_grad=True)
    y = mlp(x)
    assert y.shape == x.shape
    y.sum().backward()
    assert all(p.grad is not None for p in mlp.parameters())
    block = MetaFormerBlock(16, "pool", (4, 4), channel_mlp=kind, mlp_ratio=2.0)
    assert block(x).shape == x.shape


@pytest.mark.parametrize("kind", ["pyramid", "isotropic", "unet"])
def test_resolved_config_round_trips(kind):
    """The resolved YAML written next to a run must rebuild the same skeleton."""
    config = BACKBONES.validate({"type": kind, "mixer": {"type": "swin", "window_size": 2}, "channel_mlp": "glu"})
    again = BACKBONES.validate(config.model_dump())
    assert again == config
    assert again.model_dump()["channel_mlp"] == "glu"
