"""Every case of the bad-input corpus: exit code 2, one line on stderr naming the problem, no traceback,
nothing new or changed on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.robust.cases import CASES
from tests.robust.corpus import run_case, train_template

pytest.importorskip("trimesh")


@pytest.fixture(scope="module")
def template_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_template(tmp_path_factory.mktemp("template"))


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_bad_input(case, tmp_path: Path, template_run: Path):
    outcome = run_case(case, tmp_path, template_run)
    report = f"exit {outcome.code}\nstderr:\n{outcome.stderr}\nstdout:\n{outcome.stdout[-500:]}"
    assert outcome.code == 2, report
    assert "Traceback" not in outcome.stderr, report
    assert len(outcome.lines) == 1, report
    assert outcome.lines[0].startswith("error: "), report
    assert case[2].lower() in outcome.lines[0].lower(), report
    assert not outcome.changed, f"changed on disk: {outcome.changed}\n{report}"


def test_corpus_size():
    assert len(CASES) >= 150
