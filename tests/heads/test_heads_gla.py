"""Gated linear attention: the chunked parallel form against the token-by-token recurrence."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from fields.heads.mixers.gla import gla_chunked, gla_recurrent


def inputs(n: int, dk: int = 4, dv: int = 3, strong_decay: bool = False):
    g = torch.Generator().manual_seed(n)
    shape = (2, 2, n)
    q, k = (
        torch.randn(*shape, dk, generator=g, dtype=torch.float64),
        torch.randn(*shape, dk, generator=g, dtype=torch.float64),
    )
    v = torch.randn(*shape, dv, generator=g, dtype=torch.float64)
    logits = torch.randn(*shape, dk, generator=g, dtype=torch.float64) * (8.0 if strong_decay else 1.0)
    log_alpha = F.logsigmoid(logits) / (1.0 if strong_decay else 16.0)
    return q, k, v, log_alpha


@pytest.mark.parametrize("pairwise", [False, True], ids=["matmul", "pairwise"])
@pytest.mark.parametrize("n,chunk", [(16, 4), (21, 8), (5, 16), (33, 1)])
def test_chunked_matches_recurrent(n, chunk, pairwise, monkeypatch):
    if pairwise:  # force the overflow-safe intra-chunk path
        monkeypatch.setattr("fields.heads.mixers.gla.SAFE_LOG_DECAY", float("-inf"))
    q, k, v, la = inputs(n)
    torch.testing.assert_close(gla_chunked(q, k, v, la, chunk), gla_recurrent(q, k, v, la), atol=1e-12, rtol=1e-10)


def test_chunked_is_stable_under_strong_decay():
    q, k, v, la = inputs(40, strong_decay=True)  # log alpha down to about -30 per step
    got = gla_chunked(q, k, v, la, chunk=16)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, gla_recurrent(q, k, v, la), atol=1e-12, rtol=1e-10)


def test_decay_forgets_and_no_decay_is_causal_linear_attention():
    q, k, v, _ = inputs(6)
    zero = torch.zeros_like(q)  # alpha = 1: plain causal linear attention
    want = torch.einsum("bhtd,bhsd->bhts", q, k).tril() @ v
    torch.testing.assert_close(gla_chunked(q, k, v, zero, 4), want, atol=1e-12, rtol=1e-10)
    forget = torch.full_like(q, -80.0)  # alpha ~ 0: each output sees its own token only
    own = (q * k).sum(-1, keepdim=True) * v
    torch.testing.assert_close(gla_chunked(q, k, v, forget, 4), own, atol=1e-12, rtol=1e-10)
