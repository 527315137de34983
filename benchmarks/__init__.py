"""Benchmarks (``python -m benchmarks.NAME``). Importing fields first sets the OpenMP environment
(``fields/threads.py``) before any benchmark imports torch."""

import fields  # noqa: F401
