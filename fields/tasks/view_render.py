"""``render:`` settings shared by the multi-view tasks (radiance, surface, splat): defined torch-free in
``fields.render.view_settings``, validated with the scene before torch loads."""

from fields.render.view_settings import ViewRenderConfig

__all__ = ["ViewRenderConfig"]
