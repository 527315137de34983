"""The level layout of a multiresolution grid table, the one object every grid kernel takes.

An encoder (``HashGrid``, ``DenseGrid``) builds its ``GridLayout`` once; the kernels (``grid_cpu``,
``triton_grid``) read plain tensors from it and never look inside the encoder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch

NO_CAP = 2**30  # max_cell of a level whose lower corner is not capped (fits int32)


@dataclass(frozen=True)
class GridLayout:
    """``L`` levels over one table ``(R, F)``. Level ``l`` owns rows ``[offset[l], offset[l] + size[l])``
    (disjoint, increasing); dense levels come first and index ``sum_i v_i * stride[l, i]`` modulo
    ``size[l]``, hashed levels (``hashed[l]``) XOR-hash into ``size[l]`` rows (a power of two). A point
    ``x`` in [0, 1] sits at ``x * scale[l] + shift``; with ``max_cell`` its lower cell corner is capped
    (a vertex-aligned dense grid: ``shift=0``, ``scale=res-1``, ``max_cell=res-2``).

    scale ``(L,)`` float, stride ``(L, D)``, size ``(L,)``, offset ``(L,)``, max_cell ``(L,)`` integers,
    hashed ``(L,)`` bool; all kept on the CPU (``on`` gives device copies).
    """

    scale: torch.Tensor
    stride: torch.Tensor
    size: torch.Tensor
    offset: torch.Tensor
    hashed: torch.Tensor
    shift: float = 0.5
    smoothstep: bool = False
    max_cell: Optional[torch.Tensor] = None
    _copies: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        cpu = {
            "scale": self.scale.detach().to("cpu", torch.float32).contiguous(),
            "stride": self.stride.detach().to("cpu", torch.int64).contiguous(),
            "size": self.size.detach().to("cpu", torch.int64).contiguous(),
            "offset": self.offset.detach().to("cpu", torch.int64).contiguous(),
            "hashed": self.hashed.detach().to("cpu", torch.bool).contiguous(),
        }
        cpu["max_cell"] = (torch.full_like(cpu["size"], NO_CAP) if self.max_cell is None
                           else self.max_cell.detach().to("cpu", torch.int64).contiguous())
        for name, value in cpu.items():
            object.__setattr__(self, name, value)
        n = self.scale.shape[0]
        per_level = (self.size, self.offset, self.hashed, self.max_cell)
        if self.stride.dim() != 2 or self.stride.shape[0] != n or any(t.shape != (n,) for t in per_level):
            raise ValueError("grid layout: scale, size, offset, hashed, max_cell (L,) and stride (L, D) disagree")
        end = 0
        for level, (size, offset, hashed) in enumerate(
            zip(self.size.tolist(), self.offset.tolist(), self.hashed.tolist())
        ):
            if size < 1 or offset < end:
                raise ValueError(f"grid level {level}: rows must be non-empty, disjoint and increasing")
            if hashed and size & (size - 1):
                raise ValueError(f"grid level {level}: a hashed level's size must be a power of two")
            end = offset + size
        if bool(self.hashed[: self.n_dense].any()) or not bool(self.hashed[self.n_dense :].all()):
            raise ValueError("grid layout: dense levels must come before hashed ones")

    @property
    def n_levels(self) -> int:
        return int(self.scale.shape[0])

    @property
    def in_dim(self) -> int:
        return int(self.stride.shape[1])

    @property
    def n_dense(self) -> int:
        """Levels ``[0, n_dense)`` are dense, the rest hashed."""
        return int((~self.hashed).sum())

    @property
    def capped(self) -> bool:
        return bool((self.max_cell < NO_CAP).any())

    @property
    def rows(self) -> int:
        """Table rows the levels span."""
        return int(self.offset[-1] + self.size[-1]) if self.n_levels else 0

    @property
    def covers(self) -> bool:
        """Every row belongs to a level (so per-level zeroing covers a whole gradient)."""
        return self.n_levels > 0 and int(self.offset[0]) == 0 and int(self.size.sum()) == self.rows

    def on(self, device: torch.device, float_dtype: torch.dtype = torch.float32,
           int_dtype: torch.dtype = torch.int64) -> tuple[torch.Tensor, ...]:
        """``(scale, stride, size, offset, hashed as uint8, max_cell)`` on ``device``: ``scale`` in
        ``float_dtype``, ``offset`` int64, the other integers in ``int_dtype`` (cached)."""
        key = (torch.device(device), float_dtype, int_dtype)
        if key not in self._copies:
            self._copies[key] = (
                self.scale.to(device, float_dtype).contiguous(),
                self.stride.to(device, int_dtype).contiguous(),
                self.size.to(device, int_dtype).contiguous(),
                self.offset.to(device, torch.int64).contiguous(),
                self.hashed.to(device, torch.uint8).contiguous(),
                self.max_cell.to(device, int_dtype).contiguous(),
            )
        return self._copies[key]
