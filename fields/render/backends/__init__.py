"""Optional native backends of the renderer (imported lazily, never at module import)."""
