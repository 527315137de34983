"""The task registry (``task:`` in a scene file), declared with the tasks' scene schemas in
``fields.config.tasks`` (torch-free)."""

from fields.config.tasks import TASKS

__all__ = ["TASKS"]
