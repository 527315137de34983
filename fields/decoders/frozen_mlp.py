"""Inference copies of a plain ReLU ``MLP`` (frames of the viewer, evaluation): the weights transposed and
cast once to the compute dtype, each layer one ``addmm`` and an in-place ReLU.

Under ``torch.autocast`` every call casts every weight again and goes through the module machinery; a
512x512 frame makes about 500 decoder calls of 8192 samples, so the casts and Python layers cost about as
much as the products (measured on CPU, bfloat16). ``FrozenMLP`` is a snapshot: build it after the last
optimiser step that should show, not once for a whole training run.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from fields.decoders.mlp import MLP


class FrozenMLP:
    """Layers ``(W (in, out), b (out,) or None)`` in ``dtype``; ReLU between them, none after the last."""

    def __init__(self, layers: list[tuple[torch.Tensor, Optional[torch.Tensor]]], dtype: torch.dtype):
        self.layers, self.dtype = layers, dtype

    @classmethod
    def of(cls, mlp: nn.Module, dtype: torch.dtype = torch.float32) -> Optional["FrozenMLP"]:
        """The snapshot of ``mlp``, or ``None`` unless it is an ``MLP`` with ReLU hidden activations, no
        output activation and no weight normalisation (others keep their module path)."""
        if type(mlp) is not MLP or mlp.config.weight_norm or mlp.config.init == "siren":
            return None
        if any(type(a) is not nn.ReLU for a in mlp.acts) or type(mlp.out_act) is not nn.Identity:
            return None
        with torch.no_grad():
            layers = [(lin.weight.detach().t().to(dtype).contiguous(),
                       None if lin.bias is None else lin.bias.detach().to(dtype)) for lin in mlp.linears]
        return cls(layers, dtype)

    def __call__(self, x: torch.Tensor, first: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``x (n, in)`` -> ``(n, out)`` in ``dtype``. ``first (n, H)``, optional: added to the first
        layer's pre-activation in place of its bias (a per-ray term, ``split_first``)."""
        h = x.to(self.dtype)
        for i, (w, b) in enumerate(self.layers):
            if i == 0 and first is not None:
                h = torch.addmm(first.to(self.dtype), h, w)
            else:
                h = torch.mm(h, w) if b is None else torch.addmm(b, h, w)
            if i < len(self.layers) - 1:
                h = h.relu_()
        return h

    def split_first(self, per_sample: slice) -> tuple[torch.Tensor, Optional[torch.Tensor], "FrozenMLP"]:
        """The first layer cut into per-ray and per-sample inputs: returns its weight ``(in, H)`` and bias
        (the caller applies the per-ray rows once per ray) and the MLP whose first layer reads only the
        inputs ``per_sample``, its ``first`` argument carrying the per-ray term (``x_ray @ W_ray + b``)."""
        w, b = self.layers[0]
        rest = FrozenMLP([(w[per_sample].contiguous(), None)] + self.layers[1:], self.dtype)
        return w, b, rest
