"""Build a C++/OpenMP source into a shared library on first use and open it with ``ctypes``.

``torch.utils.cpp_extension.load`` compiles into ``TORCH_EXTENSIONS_DIR`` (a C++ compiler and ``ninja``
needed; rebuilt only when the source changes). Sources include only ``<ATen/Parallel.h>`` (torch's thread
pool and OpenMP runtime, so ``torch.set_num_threads`` and ``fields.threads``' settings reach them), which
keeps a build to seconds. A failed build is logged once; callers fall back to their torch path.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import threading
import time
from pathlib import Path

log = logging.getLogger("fields")
CFLAGS = ["-O3", "-fopenmp", "-ffp-contract=off"]
_lock = threading.Lock()
_built: dict[str, ctypes.CDLL | None] = {}
_errors: dict[str, str] = {}


def _ensure_ninja_on_path() -> None:
    """torch looks ninja up on PATH; the PyPI wheel installs it next to the interpreter."""
    if shutil.which("ninja"):
        return
    try:
        import ninja  # type: ignore[import-not-found]

        os.environ["PATH"] = ninja.BIN_DIR + os.pathsep + os.environ.get("PATH", "")
    except ImportError:
        pass


def load_library(name: str, source: Path) -> ctypes.CDLL | None:
    """The library built from ``source`` (once per process), or ``None`` when it cannot be built."""
    with _lock:
        if name not in _built:
            started = time.perf_counter()
            try:
                _ensure_ninja_on_path()
                from torch.utils.cpp_extension import load as load_extension

                path = load_extension(
                    name=name,
                    sources=[str(source)],
                    extra_cflags=CFLAGS,
                    extra_ldflags=["-fopenmp"],
                    is_python_module=False,
                    verbose=False,
                )
                _built[name] = ctypes.CDLL(path)
                log.info("cpp kernel %s ready (%.1f s to build or load)", name, time.perf_counter() - started)
            except Exception as err:  # noqa: BLE001 - no compiler, no ninja, a compile error: the torch path still works
                lines = [line for line in str(err).splitlines() if line.strip()]
                _errors[name] = f"{type(err).__name__}: {lines[0] if lines else ''}"
                _built[name] = None
                log.warning("cpp kernel %s unavailable, using the torch path (%s)", name, _errors[name])
        return _built[name]


def build_error(name: str) -> str | None:
    """Why ``name`` could not be built (after ``load_library``), or ``None``."""
    return _errors.get(name)
