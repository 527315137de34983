"""Swin Transformer window attention with shifted windows ("Swin Transformer", Liu et al. 2021).

Multi-head self-attention inside non-overlapping ``M x M`` windows, plus a learned relative position bias
from a ``(2M-1)^2 x heads`` table. Shifted blocks roll the map by ``-M/2`` (cyclic shift), attend in the
windows of the rolled map with pairs from different regions (tokens that were not neighbours before the
roll) masked by ``-100``, and roll back. As in the official code, when ``min(H, W) <= M`` the window
shrinks to ``min(H, W)`` and there is no shift. In a stage, blocks alternate regular / shifted windows
(``shift: null``, the default); ``shift: true/false`` forces one kind. Heads: ``dim // head_dim``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fields.config.base import ComponentConfig
from fields.config.mixers import ShiftedWindowAttentionConfig
from fields.heads.registry import TokenMixer, register_mixer


def window_partition(x: torch.Tensor, m: int) -> torch.Tensor:
    """``(B, H, W, C) -> (B * H/m * W/m, m*m, C)``, windows in raster order."""
    b, h, w, c = x.shape
    x = x.reshape(b, h // m, m, w // m, m, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, m * m, c)


def window_reverse(windows: torch.Tensor, m: int, b: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: ``(B * nW, m*m, C) -> (B, H, W, C)``."""
    c = windows.shape[-1]
    x = windows.reshape(b, h // m, w // m, m, m, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, w, c)


def shifted_window_mask(h: int, w: int, m: int, shift: int) -> torch.Tensor:
    """Swin's attention mask for a map rolled by ``-shift``: ``(nW, m*m, m*m)``, 0 or -100.

    The rolled map is cut into 3 x 3 regions (slices ``[0, -m)``, ``[-m, -shift)``, ``[-shift, end)`` per axis);
    two tokens of one window may attend to each other only when they lie in the same region.
    """
    region = torch.zeros(1, h, w, 1)
    label = 0
    for hs in (slice(0, -m), slice(-m, -shift), slice(-shift, None)):
        for ws in (slice(0, -m), slice(-m, -shift), slice(-shift, None)):
            region[:, hs, ws, :] = label
            label += 1
    windows = window_partition(region, m).squeeze(-1)  # (nW, m*m)
    diff = windows[:, None, :] - windows[:, :, None]
    return torch.where(diff != 0, torch.tensor(-100.0), torch.tensor(0.0))


def relative_position_index(m: int, table_window: int) -> torch.Tensor:
    """``(m*m, m*m)`` indices into a ``(2T-1)^2`` bias table (``T = table_window >= m``)."""
    coords = torch.stack(torch.meshgrid(torch.arange(m), torch.arange(m), indexing="ij")).flatten(1)  # (2, m*m)
    rel = coords[:, :, None] - coords[:, None, :] + (table_window - 1)  # (2, m*m, m*m)
    return rel[0] * (2 * table_window - 1) + rel[1]


@register_mixer("swin", aliases=("window_attention", "swin_transformer"))
class ShiftedWindowAttention(TokenMixer):
    """``(B, H, W, C) -> (B, H, W, C)``: (shifted) window attention with relative position bias."""

    Config = ShiftedWindowAttentionConfig

    @classmethod
    def divisor(cls, config: ComponentConfig) -> int:
        return config.window_size  # type: ignore[attr-defined]

    @classmethod
    def block_options(cls, index: int, options: dict[str, Any]) -> dict[str, Any]:
        if options.get("shift") is None:
            return {**options, "shift": index % 2 == 1}
        return options

    def check_resolution(self, resolution) -> None:
        if resolution is not None and min(resolution) <= self.config.window_size:
            m = min(resolution)  # one window along the short side
            if resolution[0] % m or resolution[1] % m:
                raise ValueError(
                    f"mixer 'swin' needs H and W divisible by the window {m}, got {resolution[0]}x{resolution[1]}"
                )
            return
        super().check_resolution(resolution)

    def __init__(self, dim: int, resolution=None, **options: Any):
        super().__init__(dim, resolution, **options)
        c = self.config
        self.heads = max(1, dim // c.head_dim)
        if dim % self.heads:
            raise ValueError(f"mixer 'swin': dim {dim} is not divisible into {self.heads} heads")
        m = c.window_size
        self.qkv = nn.Linear(dim, 3 * dim, bias=c.qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.bias_table = nn.Parameter(torch.zeros((2 * m - 1) ** 2, self.heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        self._masks: dict[tuple, torch.Tensor] = {}

    def window_and_shift(self, h: int, w: int) -> tuple[int, int]:
        m = self.config.window_size
        if min(h, w) <= m:
            return min(h, w), 0
        return m, (m // 2 if self.config.shift else 0)

    def _mask(self, h: int, w: int, m: int, shift: int, device) -> torch.Tensor:
        key = (h, w, m, shift, str(device))
        if key not in self._masks:
            self._masks[key] = shifted_window_mask(h, w, m, shift).to(device)
        return self._masks[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        b, h, w, c = x.shape
        m, shift = self.window_and_shift(h, w)
        if shift:
            x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
        win = window_partition(x, m)  # (B*nW, m*m, C)
        n = m * m
        qkv = self.qkv(win).reshape(-1, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (B*nW, heads, n, hd)
        index = relative_position_index(m, self.config.window_size).to(x.device)
        bias = self.bias_table[index.reshape(-1)].reshape(n, n, self.heads).permute(2, 0, 1)
        attn = (q * (q.shape[-1] ** -0.5)) @ k.transpose(-2, -1) + bias.to(q.dtype)
        if shift:
            mask = self._mask(h, w, m, shift, x.device).to(q.dtype)  # (nW, n, n)
            attn = attn.reshape(b, -1, self.heads, n, n) + mask[None, :, None]
            attn = attn.reshape(-1, self.heads, n, n)
        out = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(-1, n, c)
        out = window_reverse(self.proj(out), m, b, h, w)
        if shift:
            out = torch.roll(out, shifts=(shift, shift), dims=(1, 2))
        return out


__all__ = ["ShiftedWindowAttention", "window_partition", "window_reverse", "shifted_window_mask",
           "relative_position_index"]
