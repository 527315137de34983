"""Build a C++/OpenMP source into a shared library on first use and open it with ``ctypes``.

``torch.utils.cpp_extension.load`` compiles into ``TORCH_EXTENSIONS_DIR`` (a C++ compiler and ``ninja``
needed; rebuilt only when the source changes). Sources include only ``<ATen/Parallel.h>`` (torch's thread
pool and OpenMP runtime, so ``torch.set_num_threads`` and ``fields.threads``' settings reach them), which
keeps a build to seconds. A failed build is logged once; callers fall back to their torch path.

The kernels are built for the processor that runs them (``-march=native`` on x86: AVX2 and wider vectors;
the grid lookup runs 20% faster than with the baseline SSE2 build), and each build's name carries a tag of
that processor's instruction-set flags, so a home folder shared by different machines never hands one of them
a library built for another.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import logging
import os
import platform
import shutil
import threading
import time
from pathlib import Path

log = logging.getLogger("fields")
X86 = platform.machine().lower() in ("x86_64", "amd64")
# -ffp-contract=off: no fused multiply-adds, so results match the torch reference bit for bit where they can;
# -fno-trapping-math lets GCC vectorise loops with floor, conversions and selects (it changes no result)
CFLAGS = ["-O3", "-fopenmp", "-ffp-contract=off", "-fno-trapping-math"] + (["-march=native"] if X86 else [])
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


def cpu_tag() -> str:
    """A short tag of this processor's architecture and instruction-set flags (``/proc/cpuinfo``)."""
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags = line
                break
    except OSError:
        pass
    return hashlib.sha1(f"{platform.machine()} {flags}".encode()).hexdigest()[:8]


def load_extension(name: str, sources: list[str], headers: tuple[Path, ...] = (), **kwargs) -> str:
    """``torch.utils.cpp_extension.load`` (``is_python_module=False``: the library's path), safe against a
    process killed while it held torch's build lock. torch marks a build in progress with a plain ``lock``
    file that only the builder removes, and every later load waits for it forever; here each load first
    takes an ``flock`` (released by the kernel when its holder dies) and, holding it, removes a ``lock``
    file that no live fields process can own. torch rebuilds when a source changes, not a header: the
    ``headers``' contents are hashed into the name."""
    _ensure_ninja_on_path()
    from torch.utils import cpp_extension

    name = f"{name}_{cpu_tag()}"
    if headers:
        name += "_" + hashlib.sha1(b"".join(Path(h).read_bytes() for h in headers)).hexdigest()[:10]
    build_dir = Path(cpp_extension._get_build_directory(name, verbose=False))
    build_dir.mkdir(parents=True, exist_ok=True)
    with open(build_dir / "fields.flock", "a") as handle, _flocked(handle):
        stale = build_dir / "lock"
        if stale.exists():
            log.warning("cpp kernel %s: removing a build lock left by a killed process", name)
            stale.unlink(missing_ok=True)
        return cpp_extension.load(name=name, sources=sources, is_python_module=False, verbose=False, **kwargs)


@contextlib.contextmanager
def _flocked(handle):
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def load_library(name: str, source: Path) -> ctypes.CDLL | None:
    """The library built from ``source`` (once per process), or ``None`` when it cannot be built."""
    with _lock:
        if name not in _built:
            started = time.perf_counter()
            try:
                path = load_extension(name, [str(source)], extra_cflags=CFLAGS, extra_ldflags=["-fopenmp"])
                _built[name] = ctypes.CDLL(path)
                log.info("cpp kernel %s ready (%.1f s to build or load)", name, time.perf_counter() - started)
            except Exception as err:  # noqa: BLE001 - no compiler, no ninja, a compile error: the torch path still works
                _errors[name] = failure_text(err)
                _built[name] = None
                log.warning("cpp kernel %s unavailable, using the torch path (%s)", name, _errors[name])
        return _built[name]


def failure_text(err: BaseException) -> str:
    """``Type: first line`` of a failed build, for the one warning (a compiler's output runs to pages)."""
    lines = [line for line in str(err).splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[0] if lines else ''}"


def build_error(name: str) -> str | None:
    """Why ``name`` could not be built (after ``load_library``), or ``None``."""
    return _errors.get(name)
