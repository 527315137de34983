"""Gated linear attention ("Gated Linear Attention Transformers with Hardware-Efficient Training",
Yang et al. 2024): the recurrence and its chunked parallel form.

``S_t = diag(alpha_t) S_{t-1} + k_t^T v_t``, ``o_t = q_t S_t``, with ``S`` of shape ``(d_k, d_v)`` per head
and a data-dependent decay ``alpha_t in (0, 1)^{d_k}`` given as ``log_alpha``. Tensors:
``q, k, log_alpha (B, heads, N, d_k)``, ``v (B, heads, N, d_v)`` -> ``o (B, heads, N, d_v)``.

The chunked form splits the sequence into chunks of ``L``: inside a chunk, with ``b_t`` the cumulative
log decay, ``o_t = (q_t * e^{b_t}) S_prev + sum_{s <= t} (sum_d q_td k_sd e^{b_td - b_sd}) v_s``; the
state is carried from chunk to chunk (N/L sequential updates). The intra-chunk scores are a matmul
``(q e^{b}) (k e^{-b})^T`` when the chunk's total decay stays above ``e^{-20}`` (GLA's usual case with
the ``/16`` normaliser); otherwise (strong decay, where ``e^{-b}`` could overflow) the exponent
``b_t - b_s <= 0`` is formed pairwise at O(L^2 d_k) per chunk, so nothing overflows however strong the decay.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


SAFE_LOG_DECAY = 20.0  # within a chunk, e^{-b} below e^20 keeps the matmul form finite in float32


def gla_recurrent(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, log_alpha: torch.Tensor) -> torch.Tensor:
    """Reference: one step per token."""
    b, h, n, dk = q.shape
    state = q.new_zeros(b, h, dk, v.shape[-1])
    out = []
    for t in range(n):
        state = log_alpha[:, :, t, :, None].exp() * state + k[:, :, t, :, None] * v[:, :, t, None, :]
        out.append(torch.einsum("bhd,bhde->bhe", q[:, :, t], state))
    return torch.stack(out, dim=2)


def gla_chunked(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, log_alpha: torch.Tensor,
                chunk: int = 16) -> torch.Tensor:
    """Chunked parallel form; equal to :func:`gla_recurrent` up to rounding."""
    b, h, n, dk = q.shape
    dv = v.shape[-1]
    pad = (-n) % chunk
    if pad:  # padded tokens come after every real one: they change no real output
        q, k, v, log_alpha = (F.pad(t, (0, 0, 0, pad)) for t in (q, k, v, log_alpha))
    nc = (n + pad) // chunk
    q, k, la = (t.reshape(b, h, nc, chunk, dk) for t in (q, k, log_alpha))
    v = v.reshape(b, h, nc, chunk, dv)
    cum = la.cumsum(dim=3)  # b_t, (B, h, nc, L, dk)
    causal = torch.ones(chunk, chunk, dtype=torch.bool, device=q.device).tril()
    if cum.detach().min() > -SAFE_LOG_DECAY:
        scores = ((q * cum.exp()) @ (k * (-cum).exp()).transpose(-1, -2)).masked_fill(~causal, 0.0)
    else:
        diff = (cum[:, :, :, :, None, :] - cum[:, :, :, None, :, :]).masked_fill(~causal[:, :, None], float("-inf"))
        scores = torch.einsum("bhctd,bhcsd,bhctsd->bhcts", q, k, diff.exp())
    intra = scores @ v  # (B, h, nc, L, dv)
    q_in = q * cum.exp()
    last = cum[:, :, :, -1:, :]  # b_L of each chunk
    k_out = k * (last - cum).exp()
    state = q.new_zeros(b, h, dk, dv)
    out = []
    for c in range(nc):
        out.append(intra[:, :, c] + q_in[:, :, c] @ state)
        state = last[:, :, c, 0, :, None].exp() * state + k_out[:, :, c].transpose(-1, -2) @ v[:, :, c]
    return torch.stack(out, dim=2).reshape(b, h, nc * chunk, dv)[:, :, :n]


__all__ = ["gla_recurrent", "gla_chunked"]
