"""``render:`` settings shared by the multi-view tasks (radiance, surface, splat)."""

from __future__ import annotations

from pydantic import Field

from fields.config.base import StrictModel


class ViewRenderConfig(StrictModel):
    """Rendering settings shared by the multi-view tasks."""

    chunk: int = Field(4096, ge=1, description="rays per chunk when rendering whole views")
    n_frames: int = Field(60, ge=1, description="frames of a rendered camera path")
    fps: int = Field(24, ge=1)
    save_test_views: int = Field(4, ge=0, description="test views written as PNGs (prediction | truth)")
