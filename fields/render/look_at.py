"""The one look-at construction: a camera at ``position`` looking at ``target``, OpenGL convention
(x right, y up, looking along -z)."""

from __future__ import annotations

import torch


def look_at(position, target, up=(0.0, 0.0, 1.0)) -> torch.Tensor:
    """Camera-to-world ``(3, 4)``: columns right, up, back (= -forward) and ``position``. Arguments are
    3-vectors (tensors, arrays or tuples); the result takes ``position``'s dtype (float32 for tuples).
    Looking along ``up``, the x axis stands in for it."""
    position = torch.as_tensor(position)
    position = position if position.is_floating_point() else position.float()
    target = torch.as_tensor(target, dtype=position.dtype)
    up = torch.as_tensor(up, dtype=position.dtype)
    back = position - target
    back = back / back.norm()
    right = torch.linalg.cross(up, back)
    if right.norm() < 1e-6:
        right = torch.linalg.cross(torch.tensor([1.0, 0.0, 0.0], dtype=position.dtype), back)
    right = right / right.norm()
    true_up = torch.linalg.cross(back, right)
    return torch.stack((right, true_up, back, position), dim=1)
