"""Token mixers, one file per paper; importing this package registers them all in ``MIXERS``."""

from fields.heads.mixers import pool, swin  # noqa: F401
