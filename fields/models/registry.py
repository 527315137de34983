"""The model registry (``model: {type: NAME, ...}``), defined with the ``model`` section's configs."""

from fields.config.models import MODELS

__all__ = ["MODELS"]
