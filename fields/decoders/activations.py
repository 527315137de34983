"""Activations by name, shared by decoders and fields."""

from __future__ import annotations

import torch
from torch import nn


class Sine(nn.Module):
    """``sin(omega_0 * x)`` (SIREN)."""

    def __init__(self, omega_0: float = 30.0):
        super().__init__()
        self.omega_0 = omega_0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.omega_0 * x)


class Exp(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(x)


class TruncExp(torch.autograd.Function):
    """``exp`` whose gradient is clamped (Instant-NGP's density activation)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.exp(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * torch.exp(x.clamp(-15, 15))


ACTIVATIONS = {
    "none": nn.Identity,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "softplus": nn.Softplus,
    "softplus100": lambda: nn.Softplus(beta=100),
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "sine": Sine,
    "exp": Exp,
}


def make_activation(name: str) -> nn.Module:
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation '{name}'; valid: {', '.join(ACTIVATIONS)}") from None


__all__ = ["ACTIVATIONS", "make_activation", "Sine", "TruncExp"]
