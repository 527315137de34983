"""Swin: the shifted-window mask and the whole windowed attention against brute-force references."""

from __future__ import annotations

import pytest
import torch

from fields.heads import build_mixer
from fields.heads.mixers.swin import shifted_window_mask


def brute_force_allowed(h: int, w: int, m: int, s: int) -> torch.Tensor:
    """``(N, N)`` bool over original positions: may token p attend to token q after a roll by ``-s``?

    Same window of the rolled map, and their offset is unchanged by the roll (neither wrapped around alone).
    """
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    ys, xs = ys.flatten(), xs.flatten()
    ry, rx = (ys - s) % h, (xs - s) % w
    same_window = ((ry[:, None] // m) == (ry[None, :] // m)) & ((rx[:, None] // m) == (rx[None, :] // m))
    no_wrap = ((ry[:, None] - ry[None, :]) == (ys[:, None] - ys[None, :])) & (
        (rx[:, None] - rx[None, :]) == (xs[:, None] - xs[None, :]))
    return same_window & no_wrap


@pytest.mark.parametrize("h,w,m", [(8, 8, 4), (12, 8, 4), (9, 6, 3)])
def test_shifted_window_mask_matches_brute_force(h, w, m):
    s = m // 2
    mask = shifted_window_mask(h, w, m, s)  # (nW, m*m, m*m) on the rolled map, windows in raster order
    allowed = brute_force_allowed(h, w, m, s)
    # original index of each rolled position, grouped by window the same way as window_partition
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    orig = (((ys + s) % h) * w + (xs + s) % w)
    orig = orig.reshape(h // m, m, w // m, m).permute(0, 2, 1, 3).reshape(-1, m * m)
    expected = torch.stack([allowed[o][:, o] for o in orig])
    assert mask.shape == expected.shape
    assert torch.equal(mask == 0, expected)
    assert set(mask.unique().tolist()) == {0.0, -100.0}


def reference_swin(mixer, x: torch.Tensor, shift: int) -> torch.Tensor:
    """Full ``N x N`` attention over the original grid with the allowed pairs only (-inf elsewhere)."""
    b, h, w, c = x.shape
    m, heads = mixer.config.window_size, mixer.heads
    tokens = x.reshape(b, h * w, c)
    q, k, v = mixer.qkv(tokens).reshape(b, h * w, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
    logits = (q * (c // heads) ** -0.5) @ k.transpose(-2, -1)
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    dy = ys.flatten()[:, None] - ys.flatten()[None, :]
    dx = xs.flatten()[:, None] - xs.flatten()[None, :]
    allowed = brute_force_allowed(h, w, m, shift)
    index = ((dy + m - 1).clamp(0, 2 * m - 2) * (2 * m - 1) + (dx + m - 1).clamp(0, 2 * m - 2))
    bias = mixer.bias_table[index.reshape(-1)].reshape(h * w, h * w, heads).permute(2, 0, 1)
    logits = (logits + bias).masked_fill(~allowed, float("-inf"))
    out = (logits.softmax(-1) @ v).transpose(1, 2).reshape(b, h * w, c)
    return mixer.proj(out).reshape(b, h, w, c)


@pytest.mark.parametrize("shift", [False, True])
def test_window_attention_matches_full_masked_attention(shift):
    torch.manual_seed(0)
    mixer = build_mixer({"type": "swin", "window_size": 4, "head_dim": 8, "shift": shift}, 16, (8, 12)).double()
    x = torch.randn(2, 8, 12, 16, dtype=torch.float64)
    with torch.no_grad():
        got = mixer(x)
        want = reference_swin(mixer, x, 2 if shift else 0)
    torch.testing.assert_close(got, want, atol=1e-10, rtol=1e-8)


def test_swin_alternates_shift_and_uses_one_window_on_small_maps():
    from fields.heads import MetaFormerBlock

    blocks = [MetaFormerBlock(16, "swin", (8, 8), index=i) for i in range(2)]
    assert [b.mixer.config.shift for b in blocks] == [False, True]
    small = build_mixer({"type": "swin", "window_size": 7, "shift": True}, 16, (4, 4))
    assert small.window_and_shift(4, 4) == (4, 0)
    with pytest.raises(ValueError, match="swin.*divisible by 4.*9x9"):
        build_mixer({"type": "swin", "window_size": 4}, 16, (9, 9))
