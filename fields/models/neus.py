"""NeuS (Wang et al. 2021): a signed distance field rendered with the logistic density of learned sharpness.

SDF network: input ``[p, encoder(x)]`` with ``p = 2 (x - 0.5)`` (unit frame to [-1, 1]), softplus(beta=100)
hidden layers and the geometric initialisation of SAL (the field starts as a sphere of ``init_radius``;
the encoder's inputs start at zero weight, as in instant-nsr-pl), output ``(sdf, features)``; the SDF is
in unit-frame distance units. Colour network (``model.decoder``): ``[x, dir_enc(d), normal, features]``.
Sharpness ``s = exp(10 * variance)`` is learned. The SDF gradient (normals, the cosine of the alpha, the
eikonal loss) is analytic (autograd with ``create_graph``: the loss then differentiates through second
derivatives, the grid's in plain torch) or, with ``gradient_step h > 0``, Neuralangelo's central finite
differences ``(f(x + h e_i) - f(x - h e_i)) / 2h``: six more SDF evaluations with first derivatives only
(the fused grid kernels apply), and each reaches the grid cells around ``x`` (measured on 2 CPU cores:
the analytic double backward was over 90% of a NeuS step).

Alpha of a sample of length ``delta`` (NeuS eq. 13, with the cosine annealing of the official code):
the SDF at both ends is estimated from the midpoint SDF and ``cos = d . grad``, and
``alpha = max((Phi_s(sdf_prev) - Phi_s(sdf_next)) / Phi_s(sdf_prev), 0)`` with ``Phi_s = sigmoid(s x)``.
"""

from __future__ import annotations

import math
import torch
from torch import nn

from fields.decoders import DECODERS
from fields.decoders.activations import make_activation
from fields.encoders import ENCODERS
from fields.models.base import FieldBase
from fields.config.models import MODELS, NeuSModelConfig


@MODELS.register("neus")
class NeuSField(FieldBase):
    """``model.type: neus``: the SDF network over ``encoder`` features, ``direction_encoder`` and the
    colour ``decoder``; the learned sharpness ``variance``."""

    Config = NeuSModelConfig

    def __init__(self, config: NeuSModelConfig):
        super().__init__()
        geo = config.geo_feat_dim
        self.encoder = ENCODERS.build(config.encoder, 3)
        widths = [3 + self.encoder.out_dim] + [config.sdf_neurons] * config.sdf_hidden_layers + [1 + geo]
        self.sdf_layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.gradient_step = config.gradient_step
        # ReLU needs finite-difference gradients (its second derivative is zero); it is softplus(beta=100)'s
        # limit, so the geometric initialisation holds for both, at a fraction of softplus's CPU cost
        self.softplus = nn.Softplus(beta=100) if config.sdf_activation == "softplus" else nn.ReLU()
        self._geometric_init(2.0 * config.init_radius)
        self.direction_encoder = ENCODERS.build(config.direction_encoder, 3)
        self.decoder = DECODERS.build(config.decoder, 3 + self.direction_encoder.out_dim + 3 + geo, 3)
        self.rgb_activation = make_activation(config.output_activation)
        self.variance = nn.Parameter(torch.tensor(float(config.init_variance)))

    @torch.no_grad()
    def _geometric_init(self, radius: float) -> None:
        n = len(self.sdf_layers)
        for i, layer in enumerate(self.sdf_layers):
            if i == n - 1:
                nn.init.normal_(layer.weight, mean=math.sqrt(math.pi) / math.sqrt(layer.in_features), std=1e-4)
                nn.init.constant_(layer.bias, -radius)
                continue
            nn.init.normal_(layer.weight, 0.0, math.sqrt(2.0) / math.sqrt(layer.out_features))
            nn.init.zeros_(layer.bias)
            if i == 0:
                layer.weight[:, 3:] = 0.0  # the encoder features start without influence

    def sdf_and_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """unit-frame points ``(..., 3)`` -> sdf ``(...)`` (unit-frame distance), features ``(..., F)``."""
        h = torch.cat((2.0 * (x - 0.5), self.encoder(x.clamp(0.0, 1.0))), dim=-1)
        for layer in self.sdf_layers[:-1]:
            h = self.softplus(layer(h))
        h = self.sdf_layers[-1](h)
        return h[..., 0] / 2.0, h[..., 1:]  # network distances live in p = 2 (x - 0.5)

    def sdf(self, x: torch.Tensor) -> torch.Tensor:
        return self.sdf_and_features(x)[0]

    def sharpness(self) -> torch.Tensor:
        """``s = 1 / standard deviation`` of the logistic density."""
        return torch.exp(self.variance * 10.0).clamp(1e-6, 1e6)

    def sdf_features_gradient(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(..., 3)`` -> sdf ``(...)``, features ``(..., F)`` and the central differences of the SDF with
        step ``gradient_step`` ``(..., 3)``, all from one batch of ``7x`` points (fewer, larger ops)."""
        h = self.gradient_step
        offsets = torch.cat((torch.zeros(1, 3), torch.eye(3), -torch.eye(3))).to(x) * h  # (7, 3)
        sdf, features = self.sdf_and_features(x[..., None, :] + offsets)  # (..., 7), (..., 7, F)
        return sdf[..., 0], features[..., 0, :], (sdf[..., 1:4] - sdf[..., 4:7]) / (2.0 * h)

    def forward(
        self, x: torch.Tensor, d: torch.Tensor, create_graph: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """points and unit directions ``(..., 3)`` -> rgb ``(..., 3)``, sdf ``(...)``, gradient ``(..., 3)``."""
        if self.gradient_step > 0:
            return self._colour(x, d, *self.sdf_features_gradient(x))
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            sdf, features = self.sdf_and_features(x)
            gradient = torch.autograd.grad(sdf.sum(), x, create_graph=create_graph)[0]
        if not create_graph:
            sdf, features, gradient = sdf.detach(), features.detach(), gradient.detach()
        return self._colour(x.detach(), d, sdf, features, gradient)

    def _colour(self, x, d, sdf, features, gradient) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        normal = gradient / gradient.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        h = torch.cat((x, self.direction_encoder((d + 1.0) / 2.0), normal, features), dim=-1)
        return self.rgb_activation(self.decoder(h)), sdf, gradient


def neus_alpha(
    sdf: torch.Tensor,
    gradient: torch.Tensor,
    directions: torch.Tensor,
    deltas: torch.Tensor,
    sharpness: torch.Tensor,
    cos_anneal_ratio: float = 1.0,
) -> torch.Tensor:
    """Per-sample alpha (any layout): sdf, deltas ``(...)``; gradient, directions ``(..., 3)``."""
    true_cos = (directions * gradient).sum(-1)
    # annealed from "always decreasing at half speed" to the true cosine (official NeuS)
    iter_cos = -(
        torch.relu(-true_cos * 0.5 + 0.5) * (1.0 - cos_anneal_ratio) + torch.relu(-true_cos) * cos_anneal_ratio
    )
    prev_cdf = torch.sigmoid((sdf - iter_cos * deltas * 0.5) * sharpness)
    next_cdf = torch.sigmoid((sdf + iter_cos * deltas * 0.5) * sharpness)
    return ((prev_cdf - next_cdf + 1e-5) / (prev_cdf + 1e-5)).clamp(0.0, 1.0)


def up_sample_weights(sdf_edges: torch.Tensor, bins: torch.Tensor, sharpness: float) -> torch.Tensor:
    """NeuS's hierarchical sampling weights from SDF values at bin edges ``(R, S + 1)`` with a fixed
    sharpness -> ``(R, S)`` (no gradient; the cosine is estimated from consecutive SDF values)."""
    prev_sdf, next_sdf = sdf_edges[:, :-1], sdf_edges[:, 1:]
    delta = (bins[:, 1:] - bins[:, :-1]).clamp_min(1e-6)
    mid_sdf = (prev_sdf + next_sdf) / 2
    cos = ((next_sdf - prev_sdf) / delta).clamp(-1e3, 0.0)
    prev_est, next_est = mid_sdf - cos * delta / 2, mid_sdf + cos * delta / 2
    prev_cdf, next_cdf = torch.sigmoid(prev_est * sharpness), torch.sigmoid(next_est * sharpness)
    alpha = ((prev_cdf - next_cdf + 1e-5) / (prev_cdf + 1e-5)).clamp(0.0, 1.0)
    transmittance = torch.cumprod(torch.cat((torch.ones_like(alpha[:, :1]), 1.0 - alpha + 1e-7), -1), -1)[:, :-1]
    return alpha * transmittance
