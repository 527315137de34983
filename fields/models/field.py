"""A neural field: ``x (..., in_dim) -> encoder -> decoder(features, x) -> activation -> (..., out_dim)``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from fields.decoders import DECODERS, Decoder
from fields.decoders.activations import make_activation
from fields.encoders import ENCODERS, Encoder
from fields.modules import n_params

if TYPE_CHECKING:
    from fields.config.train import OptimizerConfig
    from fields.models.config import ModelConfig


class Field(nn.Module):
    def __init__(self, encoder: Encoder, decoder: Decoder, output_activation: str = "none"):
        super().__init__()
        if decoder.in_dim != encoder.out_dim:
            raise ValueError(f"decoder takes {decoder.in_dim} features, encoder gives {encoder.out_dim}")
        self.encoder = encoder
        self.decoder = decoder
        self.activation = make_activation(output_activation)
        self.in_dim, self.out_dim = encoder.in_dim, decoder.out_dim

    @classmethod
    def from_config(cls, config: "ModelConfig", in_dim: int, out_dim: int) -> "Field":
        encoder = ENCODERS.build(config.encoder, in_dim)
        decoder = DECODERS.build(config.decoder, encoder.out_dim, out_dim)
        return cls(encoder, decoder, config.output_activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (..., in_dim)`` in [0, 1] -> ``(..., out_dim)``."""
        return self.activation(self.decoder(self.encoder(x), x))

    @torch.no_grad()
    def query(self, x: torch.Tensor, chunk: int = 262144) -> torch.Tensor:
        """Evaluate without gradients in chunks of ``chunk`` points, so memory stays bounded."""
        flat = x.reshape(-1, x.shape[-1])
        out = (
            torch.cat([self(flat[i : i + chunk]) for i in range(0, flat.shape[0], chunk)])
            if len(flat)
            else flat.new_zeros(0, self.out_dim)
        )
        return out.reshape(*x.shape[:-1], self.out_dim)

    def n_params(self) -> int:
        return n_params(self)

    def param_groups(self, optimizer: "OptimizerConfig") -> list[dict[str, Any]]:
        """Optimiser groups: encoder and decoder, each with its own learning rate. A component may
        define ``param_groups(lr)`` itself (for example CAM's grids with a learning-rate multiplier)."""
        groups = []
        for name, module, lr in (
            ("encoder", self.encoder, optimizer.encoder_lr or optimizer.lr),
            ("decoder", self.decoder, optimizer.decoder_lr or optimizer.lr),
        ):
            if hasattr(module, "param_groups"):
                for group in module.param_groups(lr):
                    groups.append({"name": f"{name}.{group.pop('name', 'params')}", **group})
                continue
            params = [p for p in module.parameters() if p.requires_grad]
            if params:
                groups.append({"name": name, "params": params, "lr": lr})
        extra = [
            p for n, p in self.named_parameters() if not n.startswith(("encoder.", "decoder.")) and p.requires_grad
        ]
        if extra:
            groups.append({"name": "other", "params": extra, "lr": optimizer.lr})
        return groups
