"""The model registry (``model: {type: NAME, ...}`` in a scene file) for fields that are not an
encoder + decoder pair (3D Gaussians)."""

from fields.registry import Registry

MODELS: Registry = Registry("model")
