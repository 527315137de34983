"""A neural field: ``x (..., in_dim) -> encoder -> decoder(features, x) -> activation -> (..., out_dim)``."""

from __future__ import annotations

import torch

from fields.decoders import DECODERS, Decoder
from fields.decoders.activations import make_activation
from fields.encoders import ENCODERS, Encoder
from fields.io.progress import track
from fields.models.base import FieldBase
from fields.config.models import MODELS, ModelConfig


@MODELS.register("field")
class Field(FieldBase):
    """``model.type: field``: image, video, SDF and occupancy fields."""

    Config = ModelConfig

    def __init__(self, encoder: Encoder, decoder: Decoder, output_activation: str = "none"):
        super().__init__()
        if decoder.in_dim != encoder.out_dim:
            raise ValueError(f"decoder takes {decoder.in_dim} features, encoder gives {encoder.out_dim}")
        self.encoder = encoder
        self.decoder = decoder
        self.activation = make_activation(output_activation)
        self.in_dim, self.out_dim = encoder.in_dim, decoder.out_dim

    @classmethod
    def from_config(cls, config: ModelConfig, in_dim: int, out_dim: int) -> "Field":
        encoder = ENCODERS.build(config.encoder, in_dim)
        decoder = DECODERS.build(config.decoder, encoder.out_dim, out_dim)
        return cls(encoder, decoder, config.output_activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (..., in_dim)`` in [0, 1] -> ``(..., out_dim)``."""
        return self.activation(self.decoder(self.encoder(x), x))

    @torch.no_grad()
    def query(self, x: torch.Tensor, chunk: int = 262144, progress: str | None = None) -> torch.Tensor:
        """Evaluate without gradients in chunks of ``chunk`` points, so memory stays bounded; ``progress``
        names a bar over the chunks (renders of millions of pixels take a while)."""
        flat = x.reshape(-1, x.shape[-1])
        starts = range(0, flat.shape[0], chunk)
        if progress is not None and len(starts) > 1:
            starts = track(starts, progress, total=len(starts))  # type: ignore[assignment]
        out = torch.cat([self(flat[i : i + chunk]) for i in starts]) if len(flat) else flat.new_zeros(0, self.out_dim)
        return out.reshape(*x.shape[:-1], self.out_dim)

    def rest_lr(self, optimizer) -> tuple[str, float]:
        return "other", optimizer.lr
