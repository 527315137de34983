"""Group-wise rational activation (GR-KAN, "Kolmogorov-Arnold Transformer").

``F(x) = P(x) / Q(x)``, ``P(x) = a_0 + a_1 x + ... + a_5 x^5``, and the "safe" denominator

- ``q_form: sum_abs`` (default, as METHODS.md picks): ``Q(x) = 1 + |b_1| |x| + |b_2| |x|^2 + |b_3| |x|^3 + |b_4|
|x|^4``,
- ``q_form: abs_sum`` (the KAT paper's equation): ``Q(x) = 1 + |b_1 x + b_2 x^2 + b_3 x^3 + b_4 x^4|``;

both are >= 1, so ``F`` has no poles. The coefficients are shared by the channels of a group: the
channels are split into ``n_groups`` contiguous groups (``gcd(n_groups, channels)`` groups when
``n_groups`` does not divide the width).

Initial fits: ``identity``, ``swish`` (SiLU) and ``gelu``, least-squares fits on [-4, 4] (LBFGS in float64,
``fit_rational`` reproduces them). The identity is exact for both forms with the even ``b`` terms
(``P = x Q``); the odd ``b`` terms start at 1e-6 rather than 0, because ``|b|`` has a zero gradient at 0
and would never move. Max errors on [-4, 4]: identity 3e-6, swish 2e-5, gelu 5e-3.
"""

from __future__ import annotations

import math
from typing import Callable, Literal

import numpy as np
import torch
from torch import nn

QForm = Literal["sum_abs", "abs_sum"]
RationalInit = Literal["identity", "swish", "gelu"]

# (a_0..a_5, b_1..b_4) per q_form and initial function
_EPS = 1e-6
INITIAL_FITS: dict[str, dict[str, tuple[tuple[float, ...], tuple[float, ...]]]] = {
    "sum_abs": {
        "identity": ((0.0, 1.0, 0.0, 0.1, 0.0, 0.5), (_EPS, 0.1, _EPS, 0.5)),
        "swish": ((3.274986401e-06, 0.5000051466, 0.2499844583, 0.05301069465, 0.005686862914, 0.000260248842),
                  (1.978615128e-05, 0.106008918, 3.186251002e-06, 0.0005202124534)),
        "gelu": ((-0.002664528828, 0.4971702752, 0.4124703182, 0.1152427369, 0.01132090681, 0.0001416576253),
                 (_EPS, 0.2255457501, 0.002219777771, -2.216397197e-05)),
    },
    "abs_sum": {
        "identity": ((0.0, 1.0, 0.0, 0.1, 0.0, 0.5), (_EPS, 0.1, _EPS, 0.5)),
        "swish": ((3.51028674e-06, 0.5000001782, 0.2500737316, 0.05305529232, 0.005695275724, 0.0002608461318),
                  (0.0001845641432, 0.1060188867, 1.736222318e-05, 0.0005204588619)),
        "gelu": ((-0.001357778995, 0.5000000057, 0.4083795984, 0.1013609885, 0.004327486216, -0.0008354313192),
                 (_EPS, 0.2027223743, _EPS, -0.001670852978)),
    },
}


def rational(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor, q_form: str = "sum_abs") -> torch.Tensor:
    """``x (..., G, C/G)``, ``a (G, 6)``, ``b (G, 4)`` -> ``P(x) / Q(x)`` of the same shape (Horner)."""
    a, b = a.to(x.dtype)[:, :, None], b.to(x.dtype)[:, :, None]  # (G, k, 1) broadcasts over channels
    p = a[:, 5]
    for i in range(4, -1, -1):
        p = p * x + a[:, i]
    if q_form == "sum_abs":
        ax, bb = x.abs(), b.abs()
        q = bb[:, 3] * ax
        for i in range(2, -1, -1):
            q = (q + bb[:, i]) * ax
    else:
        q = b[:, 3] * x
        for i in range(2, -1, -1):
            q = (q + b[:, i]) * x
        q = q.abs()
    return p / (1.0 + q)


class GroupRational(nn.Module):
    """``x (..., channels) -> F_g(x)`` with one rational function per channel group."""

    def __init__(self, channels: int, n_groups: int = 8, init: RationalInit = "identity", q_form: QForm = "sum_abs"):
        super().__init__()
        a0, b0 = INITIAL_FITS[q_form][init]
        self.channels, self.n_groups, self.q_form, self.init = channels, math.gcd(n_groups, channels), q_form, init
        self.a = nn.Parameter(torch.tensor(a0, dtype=torch.float32).repeat(self.n_groups, 1))
        self.b = nn.Parameter(torch.tensor(b0, dtype=torch.float32).repeat(self.n_groups, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        out = rational(x.reshape(*lead, self.n_groups, self.channels // self.n_groups), self.a, self.b, self.q_form)
        return out.reshape(*lead, self.channels)

    def second_moment(self) -> float:
        """``E[F(x)^2]`` for ``x ~ N(0, 1)`` at the current coefficients (Gauss-Hermite, 80 nodes)."""
        nodes, weights = np.polynomial.hermite_e.hermegauss(80)
        x = torch.tensor(nodes, dtype=torch.float64)[None, None, :].expand(self.n_groups, 1, -1)
        with torch.no_grad():
            f = rational(x, self.a.double(), self.b.double(), self.q_form)  # (G, 1, nodes)
        w = torch.tensor(weights / weights.sum(), dtype=torch.float64)
        return float((f**2 * w).sum(-1).mean())

    def extra_repr(self) -> str:
        return f"channels={self.channels}, n_groups={self.n_groups}, init={self.init}, q_form={self.q_form}"


TARGETS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "identity": lambda x: x,
    "swish": torch.nn.functional.silu,
    "gelu": torch.nn.functional.gelu,
}


def fit_rational(target: Callable[[torch.Tensor], torch.Tensor], q_form: str = "sum_abs", span: float = 4.0,
                 restarts: int = 3) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Least-squares fit of ``(a_0..a_5, b_1..b_4)`` to ``target`` on [-span, span] (float64 LBFGS)."""
    x = torch.linspace(-span, span, 1001, dtype=torch.float64)[None, None, :]
    y = target(x)
    best = None
    for seed in range(restarts):
        g = torch.Generator().manual_seed(seed)
        a = (
            torch.tensor([[0.0, 1.0, 0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
            + 0.1 * torch.randn(1, 6, generator=g, dtype=torch.float64)
        ).requires_grad_()
        b = (0.1 + 0.1 * torch.rand(1, 4, generator=g, dtype=torch.float64)).requires_grad_()
        opt = torch.optim.LBFGS(
            [a, b],
            max_iter=2000,
            tolerance_grad=1e-14,
            tolerance_change=1e-16,
            history_size=50,
            line_search_fn="strong_wolfe",
        )

        def closure():
            opt.zero_grad()
            loss = ((rational(x, a, b, q_form) - y) ** 2).mean()
            loss.backward()
            return loss

        opt.step(closure)
        err = float((rational(x, a, b, q_form) - y).abs().max().detach())
        if best is None or err < best[0]:
            best = (err, a.detach()[0].tolist(), b.detach()[0].tolist())
    _, a_fit, b_fit = best
    b_fit = [v if abs(v) >= _EPS else _EPS for v in b_fit]  # keep every |b| trainable
    return tuple(a_fit), tuple(b_fit)


__all__ = ["GroupRational", "rational", "fit_rational", "INITIAL_FITS", "TARGETS"]
