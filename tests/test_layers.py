"""The layer checks that scripts/test.sh runs: import-linter's contracts (pyproject.toml,
``[tool.importlinter]``) and ruff. Each must pass on the tree and fail on a planted violation."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = BIN / name
    if not path.is_file():
        pytest.skip(f"{name} not installed (the dev extra)")
    return str(path)


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([tool("lint-imports"), "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root,
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the package and its pyproject.toml, to plant violations in."""
    shutil.copytree(ROOT / "fields", tmp_path / "fields", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_layers_hold_and_an_upward_import_breaks_them(tree: Path):
    assert lint_imports(tree).returncode == 0
    # the config reaching up into the tasks (what issue 13 removed)
    (tree / "fields/config/upward.py").write_text("from fields.tasks import TASKS  # noqa: F401\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "fields.config is not allowed to import fields.tasks" in result.stdout, result.stdout


def test_an_import_loop_breaks_the_acyclic_contract(tree: Path):
    (tree / "fields/io/loop_a.py").write_text("import fields.io.loop_b  # noqa: F401\n")
    (tree / "fields/io/loop_b.py").write_text("import fields.io.loop_a  # noqa: F401\n")
    result = lint_imports(tree)
    assert result.returncode != 0 and "No cycles are allowed in fields.io" in result.stdout, result.stdout


def test_ruff_passes_and_fails_on_a_long_line(tree: Path):
    ruff = [tool("ruff"), "check", "--config", str(tree / "pyproject.toml")]
    assert subprocess.run([*ruff, str(ROOT / "fields")], capture_output=True, text=True).returncode == 0
    (tree / "fields/io/long.py").write_text(f'NAME = "{"x" * 130}"\n')
    result = subprocess.run([*ruff, str(tree / "fields/io/long.py")], capture_output=True, text=True)
    assert result.returncode != 0 and "E501" in result.stdout, result.stdout
