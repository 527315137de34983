"""PoolFormer token mixer ("MetaFormer Is Actually What You Need for Vision", Yu et al. 2022).

``avgpool_k(x) - x`` over a ``k x k`` neighbourhood (stride 1, ``count_include_pad=False``); the ``- x``
removes the identity the block's residual already carries. No parameters.

With no learned token mixing, every learned spatial filter of a PoolFormer sits in its patch
embeddings: the paper's 7x7 stride-4 stem and overlapping 3x3 downsampling convs. Behind a 3x3 stem and
Swin's 2x2 patch merging it could not learn oriented bars in 120 steps (chance; a zero mixer did the
same, so the mixer itself is not at fault); the pyramid's default 7x7 stem fixes that (0.99).
On stacked tri-planes (8x8 tokens, two blocks per stage) it still learns slowest of the mixers: it
underfits (train 0.30, held-out 0.25 after 250 steps, where learned mixers reach 0.50-0.64; 0.45
after 400 steps), and
MetaFormer's overlapping conv downsampling did not change that (0.27); PoolFormer leans on depth.
"""

from __future__ import annotations


import torch
import torch.nn.functional as F

from fields.config.mixers import PoolingConfig
from fields.heads.registry import TokenMixer, register_mixer


@register_mixer("pool", aliases=("poolformer", "pooling"))
class Pooling(TokenMixer):
    """``(B, H, W, C) -> (B, H, W, C)``: ``avgpool(x) - x``."""

    Config = PoolingConfig

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        k = self.config.pool_size
        y = x.permute(0, 3, 1, 2)
        y = F.avg_pool2d(y, k, stride=1, padding=k // 2, count_include_pad=False)
        return y.permute(0, 2, 3, 1) - x
