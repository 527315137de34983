"""Typed configuration at the bottom layer: ``base`` (the strict model classes every component config
derives from), ``train`` (the ``train:`` and ``output:`` sections) and ``load`` (YAML, dotted overrides,
one-line validation errors). The scene schema, which needs the task list, sits in the engine (``engine/scene.py``); the
``model:`` section is ``fields.config.models``.
"""

from fields.config.base import ComponentConfig, StrictModel

__all__ = ["ComponentConfig", "StrictModel"]
