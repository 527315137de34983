"""The task registry (``task:`` in a scene file)."""

from fields.registry import Registry

TASKS: Registry = Registry("task")
