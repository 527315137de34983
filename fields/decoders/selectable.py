"""Selectable-activation KAN layer, after S-KAN: each node picks its activation family.

A KAN layer puts a learnable function on every edge: ``y_j = sum_i phi_ji(x_i)``. Here each family
``k`` (``silu``, ``chebyshev``, ``rbf``, ``fourier``, ``wavelet``) writes ``phi`` in its own basis
``B^k_1..B^k_n``: ``Y^k_j = sum_i sum_b W^k_jib B^k_b(x_i)`` (one linear map over the basis features), and
output node ``j`` mixes the families with learned selection weights:

    y_j = sum_k p_jk Y^k_j + c_j,    p_j = softmax(logits_j / temperature)

``selection: hard`` uses the arg-max one-hot in the forward pass and the softmax's gradient in the
backward pass (straight-through), so training already sees single families. ``harden()`` commits each
node to its current best family for good (S-KAN's "train all, then keep the selected family"); the
choice is a buffer, saved in checkpoints. S-KAN has no public code; this is a small faithful version.

Bases (x is the layer input, any real): ``silu``: ``silu(x)`` (n = 1); ``chebyshev``: ``T_1..T_n(tanh x)``;
``rbf``: Gaussians ``exp(-((x - c_b) / h)^2)``, centres evenly on [-2, 2], ``h`` their spacing;
``fourier``: ``sin(k x), cos(k x)``, ``k = 1..max(1, n // 2)``; ``wavelet``: Mexican hats
``(1 - u^2) exp(-u^2 / 2)``, ``u = (x - c_b) / h``. Init: ``W^k ~ N(0, 1 / (fan_in * E[B^k(x)^2]))`` for
``x ~ N(0, 1)``, so each family's branch starts with unit variance; logits 0 (uniform mixture).
Shapes: ``(..., in_features) -> (..., out_features)``. Smooth, so double backward works.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fields.config.decoders import FAMILIES

def _centres(n: int) -> tuple[torch.Tensor, float]:
    if n == 1:
        return torch.zeros(1), 1.0
    return torch.linspace(-2.0, 2.0, n), 4.0 / (n - 1)


def basis(family: str, x: torch.Tensor, n: int) -> torch.Tensor:
    """``x (..., C)`` -> ``(..., C, B)`` basis features of ``family`` (``B`` = ``n_basis_features``)."""
    if family == "silu":
        return F.silu(x)[..., None]
    if family == "chebyshev":
        t = torch.tanh(x)
        out = [t]
        prev = torch.ones_like(t)
        for _ in range(n - 1):
            prev, out = out[-1], out + [2.0 * t * out[-1] - prev]
        return torch.stack(out, dim=-1)
    if family in ("rbf", "wavelet"):
        centres, h = _centres(n)
        u = (x[..., None] - centres.to(x)) / h
        if family == "rbf":
            return torch.exp(-u * u)
        return (1.0 - u * u) * torch.exp(-0.5 * u * u)
    if family == "fourier":
        k = torch.arange(1, max(1, n // 2) + 1, device=x.device, dtype=x.dtype)
        phase = x[..., None] * k
        return torch.cat((torch.sin(phase), torch.cos(phase)), dim=-1)
    raise ValueError(f"unknown activation family '{family}'; valid: {', '.join(FAMILIES)}")


def n_basis_features(family: str, n: int) -> int:
    return {"silu": 1, "fourier": 2 * max(1, n // 2)}.get(family, n)


def basis_second_moment(family: str, n: int) -> float:
    """Mean over the basis of ``E[B_b(x)^2]``, ``x ~ N(0, 1)`` (Gauss-Hermite, 80 nodes)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    values = basis(family, torch.tensor(nodes, dtype=torch.float64), n)  # (nodes, B)
    w = torch.tensor(weights / weights.sum(), dtype=torch.float64)
    return float((values**2 * w[:, None]).sum(0).mean())


class SelectableKANLayer(nn.Module):
    def __init__(self, in_features: int, out_features: int, families: tuple[str, ...] | list[str] = FAMILIES,
                 n_basis: int = 6, selection: str = "soft", temperature: float = 1.0, bias: bool = True):
        super().__init__()
        for name in families:
            if name not in FAMILIES:
                raise ValueError(f"unknown activation family '{name}'; valid: {', '.join(FAMILIES)}")
        if selection not in ("soft", "hard"):
            raise ValueError(f"selection must be soft or hard, got '{selection}'")
        self.in_features, self.out_features = in_features, out_features
        self.families, self.n_basis = list(families), n_basis
        self.selection, self.temperature = selection, temperature
        self.weights = nn.ParameterList()
        for name in self.families:
            fan_in = in_features * n_basis_features(name, n_basis)
            std = 1.0 / math.sqrt(fan_in * basis_second_moment(name, n_basis))
            self.weights.append(nn.Parameter(torch.randn(out_features, fan_in) * std))
        self.logits = nn.Parameter(torch.zeros(out_features, len(self.families)))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.register_buffer("selected", torch.full((out_features,), -1, dtype=torch.int64))

    @property
    def hardened(self) -> bool:
        return bool(self.selected[0] >= 0)

    def selection_weights(self) -> torch.Tensor:
        """``(out_features, n_families)`` mixing weights ``p`` used by the forward pass."""
        if self.hardened:
            return F.one_hot(self.selected, len(self.families)).to(self.logits.dtype)
        z = self.logits / self.temperature
        # written out: torch.softmax opens an OpenMP region even for this tiny (out, K) matrix, which
        # costs tens of milliseconds per call on a busy CPU
        e = (z - z.detach().amax(-1, keepdim=True)).exp()
        p = e / e.sum(-1, keepdim=True)
        if self.selection == "hard":
            hard = F.one_hot(p.argmax(-1), len(self.families)).to(p.dtype)
            p = hard + p - p.detach()  # straight-through
        return p

    @torch.no_grad()
    def harden(self) -> None:
        """Keep, for every output node, the family with the largest selection weight."""
        if not self.hardened:
            self.selected.copy_(self.logits.argmax(-1))
        self.logits.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.selection_weights().to(x.dtype)
        used = range(len(self.families))
        if self.hardened:
            used = sorted(set(self.selected.tolist()))
        out = 0.0
        for k in used:
            feats = basis(self.families[k], x, self.n_basis).flatten(-2)
            out = out + (feats @ self.weights[k].to(x.dtype).T) * p[:, k]
        if self.bias is not None:
            out = out + self.bias.to(x.dtype)
        return out

    def extra_repr(self) -> str:
        return f"{self.in_features} -> {self.out_features}, families={self.families}, n_basis={self.n_basis}, selection={self.selection}"  # noqa: E501


__all__ = ["SelectableKANLayer", "FAMILIES", "basis", "n_basis_features"]
