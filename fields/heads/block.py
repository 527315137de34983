"""The MetaFormer block: ``x + mixer(norm(x))`` then ``x + channel_mlp(norm(x))``, on ``(B, H, W, C)``.

Pre-norm LayerNorm over channels (a mixer with ``prenorm = False``, PATNet, brings its own BatchNorm).
Optional layer scale (a learned per-channel factor on each residual branch, initialised to
``layer_scale``) and stochastic depth (``drop_path``).
"""

from __future__ import annotations

from typing import Any, Optional, Union

import torch
from torch import nn

from fields.heads.channel_mlp import build_channel_mlp
from fields.heads.registry import build_mixer


class LayerScale(nn.Module):
    def __init__(self, dim: int, init: float):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), float(init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class DropPath(nn.Module):
    """Stochastic depth: drop the whole residual branch per sample with probability ``p`` in training."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)


class MetaFormerBlock(nn.Module):
    """One block of a skeleton. ``forward(x (B, H, W, C)) -> (B, H, W, C)``.

    ``mixer`` is a registered mixer name or ``{type: name, **options}``; ``index`` is the block's position
    in its stage (mixers such as Swin alternate their options). ``channel_mlp`` is ``mlp``, ``glu``,
    ``gr_kan``, ``s_kan``, ``hourglass`` or a mapping with decoder options; ``None`` drops the slot.
    """

    def __init__(
        self,
        dim: int,
        mixer: Union[str, dict[str, Any]],
        resolution: Any = None,
        channel_mlp: Union[str, dict[str, Any], None] = "mlp",
        mlp_ratio: float = 4.0,
        layer_scale: Optional[float] = None,
        drop_path: float = 0.0,
        index: int = 0,
    ):
        super().__init__()
        self.mixer = build_mixer(mixer, dim, resolution, index=index)
        self.norm1 = nn.LayerNorm(dim) if self.mixer.prenorm else nn.Identity()
        self.scale1 = LayerScale(dim, layer_scale) if layer_scale is not None else nn.Identity()
        self.drop = DropPath(drop_path)
        if channel_mlp is None:
            self.norm2 = self.mlp = self.scale2 = None
        else:
            self.norm2 = nn.LayerNorm(dim)
            self.mlp = build_channel_mlp(channel_mlp, dim, mlp_ratio)
            self.scale2 = LayerScale(dim, layer_scale) if layer_scale is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.scale1(self.mixer(self.norm1(x))))
        if self.mlp is not None:
            x = x + self.drop(self.scale2(self.mlp(self.norm2(x))))
        return x


__all__ = ["MetaFormerBlock", "LayerScale", "DropPath"]
