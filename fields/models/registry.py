"""The model registry (``model: {type: NAME, ...}``), defined with the ``model`` section's configs."""

from fields.models.config import MODELS

__all__ = ["MODELS"]
