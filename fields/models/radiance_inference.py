"""A radiance field's snapshot for inference on CPU (viewer frames, evaluation): the decoders as
``FrozenMLP`` in the compute dtype, and the colour decoder's first layer split into a per-ray and a
per-sample part.

The colour decoder reads ``[SH(d), geo, code]``; direction and appearance code are the same for every
sample of a ray, so ``SH(d) @ W_d + code @ W_c + b`` is computed once per ray and each sample adds its
``geo @ W_g`` (15 inputs instead of 31 or more, and no spherical harmonics per sample). Same values up
to the order of float sums. Decoders other than a plain ReLU ``MLP`` keep their module path (under
autocast when the dtype is not float32).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Optional

import torch

from fields.decoders.frozen_mlp import FrozenMLP


class RadianceInference:
    """``features(x)`` and ``colour_fn(d, codes)`` of ``field`` (a ``RadianceField``) in ``dtype``."""

    def __init__(self, field, dtype: torch.dtype = torch.float32):
        self.field, self.dtype = field, dtype
        self.density_mlp = FrozenMLP.of(field.density_decoder, dtype)
        self.colour_mlp = FrozenMLP.of(field.decoder, dtype)
        self._box: Optional[torch.Tensor] = None

    @classmethod
    def of(cls, field, dtype: torch.dtype = torch.float32) -> "RadianceInference":
        """The snapshot of ``field`` in ``dtype``, reused while no parameter has changed (the chunks of a
        frame, frames between training steps)."""
        versions = (dtype, tuple((p.data_ptr(), p._version) for p in field.parameters()))
        cached = _SNAPSHOTS.get(field)
        if cached is None or cached[0] != versions:
            cached = (versions, cls(field, dtype))
            _SNAPSHOTS[field] = cached
        return cached[1]

    def _autocast(self):
        return torch.autocast("cpu", dtype=self.dtype, enabled=self.dtype != torch.float32)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x (n, 3)`` unit-frame points -> ``sigma (n,)`` float32 and geometry features ``(n, G)``."""
        field = self.field
        if self.density_mlp is None:
            with self._autocast():
                sigma, geo = field.features(x)
            return sigma.float(), geo
        h = self._fused_density(x)
        if h is None:
            h = self.density_mlp(field.encoder(field.to_field(x)))
        return torch.exp(h[:, 0].float() - 1.0), h[:, 1:]

    def _fused_density(self, x: torch.Tensor) -> Optional[torch.Tensor]:
        """The density MLP's output ``(n, 1 + G)`` with the encoder's CPU kernel writing its input in the
        compute dtype straight into the MLP's padded buffer (``to_field`` done in the kernel); ``None`` where
        the encoder has no such path (contraction, other encoders, a coarse-to-fine window)."""
        field, n = self.field, len(x)
        lookup_into = getattr(field.encoder, "lookup_into", None)
        if lookup_into is None or field.contraction is not None or x.device.type != "cpu":
            return None
        if self._box is None:
            self._box = torch.tensor([field.box_lo] * 3 + [field.box_size] * 3, dtype=torch.float32)
        buffer = x.new_empty(self.density_mlp.rows_for(n), field.encoder.out_dim, dtype=self.dtype)
        if not lookup_into(x, buffer, self._box):
            return None
        buffer[n:] = 0
        return self.density_mlp.on_rows(buffer)[:n]

    def colour_fn(self, d: torch.Tensor, codes: Optional[torch.Tensor] = None
                  ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """Rays' unit directions ``d (R, 3)`` and appearance codes ``(R, A)`` -> ``fn(geo (M, G),
        ray_indices (m,), rows (m,) or None) -> rgb (m, 3)`` float32: the colour of ``geo[rows]`` (all rows
        when ``None``, then ``m = M``) seen along the rays ``ray_indices``."""
        field = self.field
        if self.colour_mlp is None:
            def module_path(geo, ri, rows=None):
                geo = geo if rows is None else geo[rows]
                with self._autocast():
                    return field.colour(geo, d[ri], None if codes is None else codes[ri]).float()
            return module_path
        s = field.direction_encoder.out_dim
        g = field.decoder.in_dim - field.appearance_dim  # inputs [s, g) are the geometry features
        w, b, per_sample = self.colour_mlp.split_first(slice(s, g))
        w = w.float()
        ray = field.direction_encoder((d + 1.0) / 2.0) @ w[:s]
        if field.appearance_dim:
            if codes is None:
                codes = d.new_zeros(len(d), field.appearance_dim)
            ray = ray + codes @ w[g:]
        if b is not None:
            ray = ray + b.float()
        ray = ray.to(self.dtype)

        def colour(geo, ri, rows=None):
            return field.rgb_activation(per_sample(geo, ray, rows, ri).float())
        return colour


_SNAPSHOTS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
