"""Registries of the processing heads: token mixers (``MIXERS``) and skeletons (``BACKBONES``).

A token mixer maps ``(B, H, W, C) -> (B, H, W, C)``. Every mixer is built the same way,
``Mixer(dim, resolution=None, **options)``, where ``resolution`` is the ``(H, W)`` it will see (``None``
when unknown) and ``options`` are validated by the mixer's nested ``Config`` (unknown keys are errors).
Class-level flags say what a mixer needs, so skeletons and tasks can check a layout before training:

- ``needs_fixed_resolution``: its parameters depend on ``(H, W)`` (token MLPs); ``resolution`` is required
  and the forward pass rejects any other size.
- ``divisibility``: ``H`` and ``W`` must be multiples of it (a window size, a block size); a mixer whose
  divisor depends on its options sets ``self.divisibility`` on the instance.
- ``mixes_tokens``: ``False`` for per-token mixers (Activator): pair them with a spatial mixer.
- ``order_invariant``: permuting the tokens permutes the output the same way (no positional structure).
- ``prenorm``: the block applies its LayerNorm before the mixer (PATNet brings its own BatchNorm).
"""

from __future__ import annotations

from typing import Any, ClassVar, Optional, Union

import torch
from torch import nn

from fields.config.base import ComponentConfig
from fields.config.heads import BACKBONES
from fields.config.mixers import MIXERS, mixer_spec, validate_mixers

Resolution = Optional[tuple[int, int]]


def as_resolution(resolution: Union[int, tuple[int, int], list[int], None]) -> Resolution:
    """``32`` or ``(32, 32)`` or ``None`` -> ``(H, W)`` or ``None``."""
    if resolution is None:
        return None
    if isinstance(resolution, int):
        return (resolution, resolution)
    h, w = resolution
    return (int(h), int(w))


class TokenMixer(nn.Module):
    """Base of every token mixer: ``forward(x (B, H, W, C)) -> (B, H, W, C)``."""

    Config: ClassVar[type[ComponentConfig]]
    name: ClassVar[str] = "mixer"
    needs_fixed_resolution: ClassVar[bool] = False
    divisibility: int = 1
    mixes_tokens: ClassVar[bool] = True
    order_invariant: ClassVar[bool] = False
    prenorm: ClassVar[bool] = True

    def __init__(self, dim: int, resolution: Union[int, tuple[int, int], None] = None, **options: Any):
        super().__init__()
        self.config = self.Config.model_validate({"type": self.name, **options})
        self.dim = int(dim)
        self.resolution = as_resolution(resolution)
        self.divisibility = self.divisor(self.config)
        self.check_resolution(self.resolution)

    @classmethod
    def divisor(cls, config: ComponentConfig) -> int:
        """What H and W must be multiples of, given the options (a window size); default the class flag."""
        return cls.divisibility

    def check_resolution(self, resolution: Resolution) -> None:
        """Raise a one-line ``ValueError`` when ``resolution`` does not fit this mixer."""
        if resolution is None:
            if self.needs_fixed_resolution:
                raise ValueError(f"mixer '{self.name}' needs a fixed input resolution (H, W); none was given")
            return
        h, w = resolution
        d = self.divisibility
        if d > 1 and (h % d or w % d):
            raise ValueError(f"mixer '{self.name}' needs H and W divisible by {d}, got {h}x{w}")
        if self.needs_fixed_resolution and self.resolution is not None and tuple(resolution) != self.resolution:
            raise ValueError(
                f"mixer '{self.name}' was built for {self.resolution[0]}x{self.resolution[1]} tokens, got {h}x{w}"
            )

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[-1] != self.dim:
            raise ValueError(f"mixer '{self.name}' expects (B, H, W, {self.dim}), got {tuple(x.shape)}")
        self.check_resolution((x.shape[1], x.shape[2]))

    @classmethod
    def block_options(cls, index: int, options: dict[str, Any]) -> dict[str, Any]:
        """Options for the ``index``-th block of a stage (Swin alternates shifted windows)."""
        return options

    def extra_repr(self) -> str:
        return f"dim={self.dim}, resolution={self.resolution}"


def register_mixer(name: str, aliases: tuple[str, ...] = ()):
    """``@register_mixer("pool")``: register in ``MIXERS`` and set the class's ``name``."""

    def decorate(cls: type[TokenMixer]) -> type[TokenMixer]:
        cls.name = name
        return MIXERS.register(name, aliases)(cls)

    return decorate




def build_mixer(spec: Union[str, dict[str, Any], ComponentConfig], dim: int, resolution: Any = None,
                index: int = 0) -> TokenMixer:
    """Build a registered mixer from a name or a ``{type: name, **options}`` mapping."""
    name, options = mixer_spec(spec)
    cls = MIXERS.get(name)
    return cls(dim, resolution, **cls.block_options(index, options))


__all__ = ["MIXERS", "BACKBONES", "TokenMixer", "register_mixer", "build_mixer", "mixer_spec", "validate_mixers",
           "as_resolution"]
