"""fields: neural fields and 3D reconstruction.

A field is an encoder (coordinates -> features) composed with a decoder (features -> signal). Tasks are
Lightning modules that fit fields to data; ``fields fit scene.yaml`` runs them from a scene file.
"""

__version__ = "0.1.0"

# first, before anything imports torch: libgomp reads its environment once, when torch loads it
from fields.threads import configure_threads

configure_threads()

from fields.errors import UserError  # noqa: E402

__all__ = ["UserError", "__version__"]
