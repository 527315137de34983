"""Channel-set Transformer over tri-planes ("Neural Processing of Tri-Plane Hybrid Neural Fields").

Input: stacked planes ``(B, 3C, R, R)`` (plane-major: channels ``0..C-1`` of plane xy, then xz, then
yz). Each fit initialises its decoder independently, so the order of the ``C`` channels carries no
meaning across shapes; the network is a set model over channels:

- ``tokens: channel`` (the paper): each of the ``3C`` channel maps, flattened to ``R*R`` values, is a
  token. Invariant to any permutation of the ``3C`` maps.
- ``tokens: channel_triplet``: each token is one channel's three maps (``3 R*R`` values), ``C`` tokens.
  Because the three planes are summed in the field, the true symmetry of a fit is one permutation of
  the ``C`` channels applied to all three planes; these tokens respect exactly that and keep the
  pairing of a channel's three maps, which ``channel`` tokens lose.

Then ``Linear(token_dim, dim)``, a pre-norm Transformer encoder (no positional encoding), max-pool over
tokens, LayerNorm, linear classifier. Pixels are first L2-normalised over the ``3C`` channels
(``normalize``), as in the paper. ``forward(planes (B, 3C, R, R)) -> logits (B, n_classes)``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fields.config.heads import ChannelSetTransformerConfig
from fields.heads.registry import BACKBONES, as_resolution


@BACKBONES.register("channel_set")
class ChannelSetTransformer(nn.Module):
    input_kind = "planes"

    Config = ChannelSetTransformerConfig

    def __init__(self, config: "ChannelSetTransformer.Config", in_channels: int, n_classes: int, image_size: Any):
        super().__init__()
        c = config
        if c.dim % c.heads:
            raise ValueError(f"channel_set: dim {c.dim} is not divisible by heads {c.heads}")
        if in_channels % c.n_planes:
            raise ValueError(f"channel_set: {in_channels} input channels are not {c.n_planes} planes of equal depth")
        h, w = as_resolution(image_size)
        self.config = c
        self.n_planes, self.channels, self.pixels = c.n_planes, in_channels // c.n_planes, h * w
        token_dim = self.pixels * (c.n_planes if c.tokens == "channel_triplet" else 1)
        self.embed = nn.Linear(token_dim, c.dim)
        layer = nn.TransformerEncoderLayer(c.dim, c.heads, int(c.dim * c.mlp_ratio), dropout=c.dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, c.depth, enable_nested_tensor=False) if c.depth else nn.Identity()
        self.norm = nn.LayerNorm(c.dim)
        self.head = nn.Linear(c.dim, n_classes)

    def tokens(self, planes: torch.Tensor) -> torch.Tensor:
        """``(B, 3C, R, R) -> (B, T, token_dim)``."""
        b = planes.shape[0]
        if planes.dim() != 4 or planes.shape[1] != self.n_planes * self.channels or planes[0, 0].numel() != self.pixels:
            raise ValueError(
                f"channel_set expects (B, {self.n_planes * self.channels}, R, R) with R*R = {self.pixels}, "
                f"got {tuple(planes.shape)}"
            )
        if self.config.normalize:
            planes = F.normalize(planes, dim=1)
        if self.config.tokens == "channel":
            return planes.reshape(b, self.n_planes * self.channels, self.pixels)
        x = planes.reshape(b, self.n_planes, self.channels, self.pixels)
        return x.transpose(1, 2).reshape(b, self.channels, self.n_planes * self.pixels)

    def forward_features(self, planes: torch.Tensor) -> torch.Tensor:
        x = self.encoder(self.embed(self.tokens(planes)))
        return self.norm(x.max(dim=1).values)

    def forward(self, planes: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(planes))


def permute_channels(planes: torch.Tensor, perm: torch.Tensor, n_planes: int = 3) -> torch.Tensor:
    """Apply one permutation ``perm (C,)`` of the channels to every plane of ``(B, n_planes*C, R, R)``:
    the symmetry of independently fitted tri-planes."""
    b, total, h, w = planes.shape
    x = planes.reshape(b, n_planes, total // n_planes, h, w)[:, :, perm]
    return x.reshape(b, total, h, w)


__all__ = ["ChannelSetTransformer", "permute_channels"]
