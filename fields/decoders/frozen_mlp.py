"""Inference copies of a plain ReLU ``MLP`` (frames of the viewer, evaluation): the weights cast once to the
compute dtype; on CPU each layer is one oneDNN linear with its ReLU fused in (``mkldnn._linear_pointwise``,
the op torch.compile's CPU backend emits: 20-30% faster than ``addmm`` and a separate ReLU in bfloat16,
10% in float32, measured on 8192-row blocks), elsewhere ``addmm`` and an in-place ReLU.

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


ROW_BUCKET = 512  # rows of a CPU call are padded to a multiple of this (0: never)


class FrozenMLP:
    """Layers ``(W (in, out), b (out,) or None)`` in ``dtype``; ReLU between them, none after the last."""

    def __init__(self, layers: list[tuple[torch.Tensor, Optional[torch.Tensor]]], dtype: torch.dtype):
        self.layers, self.dtype = layers, dtype
        # the oneDNN op takes W as (out, in)
        self.fused = [(w.t().contiguous(), b) for w, b in layers] if _onednn_linear(dtype) else None

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

    def __call__(self, x: torch.Tensor, first: Optional[torch.Tensor] = None, x_index: Optional[torch.Tensor] = None,
                 first_index: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``x (n, in)`` -> ``(n, out)`` in ``dtype``. ``first (n, H)``, optional: added to the first
        layer's pre-activation in place of its bias (a per-ray term, ``split_first``). With ``x_index
        (n,)`` the rows ``x[x_index]`` are the input (and ``first[first_index]`` the per-ray term): gathered
        straight into the buffer the layers read."""
        n = len(x if x_index is None else x_index)
        m = self.rows_for(n) if x.device.type == "cpu" else n
        # oneDNN builds a primitive for each new row count (about a millisecond): the rounds of a frame
        # would build hundreds; padded to whole buckets, a handful serve every call
        if m == n and x_index is None and first_index is None:
            return self._layers(x.to(self.dtype), first)
        first = None if first is None else _rows(first, first_index, m, self.dtype)
        return self._layers(_rows(x, x_index, m, self.dtype), first)[:n]

    def rows_for(self, n: int) -> int:
        """Rows of the buffer ``on_rows`` takes for ``n`` inputs (``n`` padded to whole buckets)."""
        return -(-n // ROW_BUCKET) * ROW_BUCKET if ROW_BUCKET else n

    def on_rows(self, h: torch.Tensor) -> torch.Tensor:
        """The layers on a buffer ``(rows_for(n), in)`` in ``dtype`` the caller has filled (pad rows zero)."""
        return self._layers(h, None)

    def _layers(self, h: torch.Tensor, first: Optional[torch.Tensor]) -> torch.Tensor:
        if self.fused is not None and h.device.type == "cpu":
            return self._onednn(h, first)
        for i, (w, b) in enumerate(self.layers):
            if i == 0 and first is not None:
                h = torch.addmm(first.to(self.dtype), h, w)
            else:
                h = torch.mm(h, w) if b is None else torch.addmm(b, h, w)
            if i < len(self.layers) - 1:
                h = h.relu_()
        return h

    def _onednn(self, h: torch.Tensor, first: Optional[torch.Tensor]) -> torch.Tensor:
        linear = torch.ops.mkldnn._linear_pointwise
        last = len(self.fused) - 1
        for i, (w, b) in enumerate(self.fused):
            if i == 0 and first is not None:
                h = linear.binary(h, first.to(self.dtype), w, None, "add")
                h = h.relu_() if i < last else h
            else:
                h = linear(h, w, b, "relu" if i < last else "none", [], "")
        return h

    def split_first(self, per_sample: slice) -> tuple[torch.Tensor, Optional[torch.Tensor], "FrozenMLP"]:
        """The first layer cut into per-ray and per-sample inputs: returns its weight ``(in, H)`` and bias
        (the caller applies the per-ray rows once per ray) and the MLP whose first layer reads only the
        inputs ``per_sample``, its ``first`` argument carrying the per-ray term (``x_ray @ W_ray + b``)."""
        w, b = self.layers[0]
        rest = FrozenMLP([(w[per_sample].contiguous(), None)] + self.layers[1:], self.dtype)
        return w, b, rest


def _rows(x: torch.Tensor, index: Optional[torch.Tensor], m: int, dtype: torch.dtype) -> torch.Tensor:
    """``x (n, C)`` (or its rows ``index``) in ``dtype`` as ``(m, C)``, zero rows below."""
    n = len(x if index is None else index)
    out = x.new_empty(m, x.shape[1], dtype=dtype)
    if index is None:
        out[:n] = x
    elif x.dtype == dtype:
        torch.index_select(x, 0, index, out=out[:n])
    else:
        out[:n] = x[index]
    out[n:] = 0
    return out


_ONEDNN: dict[torch.dtype, bool] = {}


def _onednn_linear(dtype: torch.dtype = torch.float32) -> bool:
    """Whether this torch build has oneDNN's fused linear on CPU in ``dtype`` and it agrees with ``addmm``
    (decided once per dtype: oneDNN's bfloat16 linear needs AVX-512, and an AVX2 CPU cannot create it)."""
    if dtype not in _ONEDNN:
        _ONEDNN[dtype] = False
        if torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise"):
            try:
                x, w, b = (torch.randn(*shape).to(dtype) for shape in ((5, 3), (4, 3), (4,)))
                y = torch.ops.mkldnn._linear_pointwise(x, w, b, "relu", [], "")
                ref = torch.addmm(b.float(), x.float(), w.float().t()).relu()
                _ONEDNN[dtype] = bool(torch.allclose(y.float(), ref, atol=1e-5 if dtype == torch.float32 else 0.05,
                                                     rtol=0 if dtype == torch.float32 else 0.02))
            except (RuntimeError, NotImplementedError):
                pass
    return _ONEDNN[dtype]
