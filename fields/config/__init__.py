"""Typed scene configuration: YAML scene files validated into pydantic models.

``fields.config.base`` holds the base classes (imported by every component); ``fields.config.scene``
the scene model and ``fields.config.load`` the loader (they import the component registries).
"""

from fields.config.base import ComponentConfig, StrictModel

__all__ = ["ComponentConfig", "StrictModel"]
