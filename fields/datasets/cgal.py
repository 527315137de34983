"""Real meshes and scans from Debian's ``libcgal-demo`` (its ``data.tar.gz``), named ``cgal:PATH``.

``cgal:meshes/bunny00.off`` is the member ``data/meshes/bunny00.off`` of the archive, extracted once
into ``~/.cache/fields/cgal`` (or ``$FIELDS_CACHE/cgal``). ``scripts/setup.sh`` installs the package.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

CGAL_PREFIX = "cgal:"
CGAL_TARBALL = Path("/usr/share/doc/libcgal-dev/data.tar.gz")


def cache_dir() -> Path:
    root = Path(os.environ["FIELDS_CACHE"]) if os.environ.get("FIELDS_CACHE") else Path.home() / ".cache" / "fields"
    return root / "cgal"


def resolve_cgal(value: str) -> str:
    """Path of the extracted file for ``cgal:PATH``; ``ValueError`` (one line) when it cannot be had."""
    member = "data/" + value[len(CGAL_PREFIX) :].lstrip("/").removeprefix("data/")
    target = cache_dir() / member
    if target.is_file():
        return str(target)
    if not CGAL_TARBALL.is_file():
        raise ValueError(f"{value}: needs the Debian package libcgal-demo ({CGAL_TARBALL} missing)")
    with tarfile.open(CGAL_TARBALL) as tar:
        try:
            info = tar.getmember(member)
        except KeyError:
            raise ValueError(f"{value}: no file {member} in {CGAL_TARBALL}") from None
        tar.extract(info, cache_dir(), filter="data")
    return str(target)
