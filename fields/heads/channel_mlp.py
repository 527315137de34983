"""The channel-MLP slot of a MetaFormer block: per-token maps ``(..., C) -> (..., C)``.

- ``mlp``: ``Linear(C, rC) -> GELU -> Linear(rC, C)`` (the MetaFormer / ViT MLP).
- ``glu``: the Activator's gated unit ``W3(LN(GELU(W1 x)) * LN(W2 x))``.
- ``gr_kan``, ``s_kan``, ``hourglass``: the decoders of ``fields/decoders`` (GR-KAN, selectable-activation
  KAN, Hourglass MLP), reused through the ``DECODERS`` registry with ``in_dim = out_dim = C``. Their
  hidden width is set from ``mlp_ratio`` when the decoder's config has a width field the user left unset
  (``n_neurons`` for the KANs; for the Hourglass MLP ``skip_width = mlp_ratio * C`` and
  ``bottleneck_width = C``).
"""

from __future__ import annotations

from typing import Any, Union

import torch
from torch import nn

from fields.config.heads import CHANNEL_MLPS
from fields.decoders import DECODERS

# decoder config fields that hold the hidden width, in the order they are tried
_WIDTH_FIELDS = ("n_neurons", "hidden_dim", "width", "n_hidden")


class ChannelMLP(nn.Module):
    """``Linear(C, hidden) -> GELU -> Linear(hidden, C)`` on ``(..., C)``."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class GLU(nn.Module):
    """Activator's GLU: ``W3(LN(GELU(W1 x)) * LN(W2 x))`` on ``(..., C_in) -> (..., C_out)``.

    The two LayerNorms over the hidden width keep the product's scale stable (Activator, Sec. 3).
    """

    def __init__(self, dim: int, hidden: int, out_dim: int | None = None):
        super().__init__()
        self.w1, self.w2 = nn.Linear(dim, hidden), nn.Linear(dim, hidden)
        self.norm1, self.norm2 = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
        self.w3 = nn.Linear(hidden, out_dim or dim)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w3(self.norm1(self.act(self.w1(x))) * self.norm2(self.w2(x)))


class DecoderMLP(nn.Module):
    """A registered decoder used as the channel MLP (``forward(features)`` on ``(..., C)``)."""

    def __init__(self, name: str, dim: int, hidden: int, options: dict[str, Any]):
        super().__init__()
        try:
            cls = DECODERS.get(name)
        except Exception:
            raise ValueError(
                f"channel MLP '{name}' needs the decoder '{name}', which is not registered; "
                f"registered decoders: {', '.join(DECODERS.names())}"
            ) from None
        options = dict(options)
        if name == "hourglass":  # wide residual stream of mlp_ratio * C, blocks narrowed to C
            options.setdefault("skip_width", hidden)
            options.setdefault("bottleneck_width", dim)
        for field in _WIDTH_FIELDS:
            if field in cls.Config.model_fields:
                options.setdefault(field, hidden)
                break
        self.decoder = DECODERS.build(DECODERS.validate({"type": name, **options}), dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(x)


def build_channel_mlp(spec: Union[str, dict[str, Any]], dim: int, mlp_ratio: float = 4.0) -> nn.Module:
    """Build the channel MLP from ``"mlp"`` or ``{type: gr_kan, **decoder options}``."""
    options = {"type": spec} if isinstance(spec, str) else dict(spec)
    name = options.pop("type", "mlp")
    hidden = max(1, int(round(dim * mlp_ratio)))
    if name == "mlp":
        if options:
            raise ValueError(f"channel MLP 'mlp' takes no options, got {', '.join(options)}")
        return ChannelMLP(dim, hidden)
    if name == "glu":
        if options:
            raise ValueError(f"channel MLP 'glu' takes no options, got {', '.join(options)}")
        return GLU(dim, hidden)
    if name in ("gr_kan", "s_kan", "hourglass"):
        return DecoderMLP(name, dim, hidden, options)
    raise ValueError(f"unknown channel MLP '{name}'; valid choices: {', '.join(CHANNEL_MLPS)}")


__all__ = ["CHANNEL_MLPS", "ChannelMLP", "GLU", "DecoderMLP", "build_channel_mlp"]
