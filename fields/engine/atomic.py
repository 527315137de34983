"""Moved to ``fields.io.atomic`` (kept so older imports keep working; new code imports ``fields.io``)."""

from fields.io.atomic import TMP_PREFIX, atomic_path, atomic_write_text, remove_stale_temporaries

__all__ = ["TMP_PREFIX", "atomic_path", "atomic_write_text", "remove_stale_temporaries"]
