"""The command line as a user meets it: exit codes and one-line messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli


def assert_user_error(result, *needles: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_help_lists_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("fit", "eval", "render", "info"):
        assert command in result.stdout


def test_info_reports_backends():
    result = run_cli("info")
    assert result.returncode == 0
    assert "tcnn" in result.stdout and "torch" in result.stdout


@pytest.mark.parametrize(
    "scene, needle",
    [
        (
            "data: {}\nmodel: {encoder: {type: hashgrid, n_level: 8}}\n",
            "model.encoder.n_level: unknown key; did you mean n_levels?",
        ),
        ("data: {}\ntrain: {steps: lots}\n", "train.steps"),
        ("data: {}\nmodel: {encoder: {type: octree}}\n", "unknown encoder 'octree'"),
        ("data: {image: /no/such/image.png}\n", "file not found"),
        ("data: [oops\n", "malformed YAML"),
    ],
    ids=["unknown-key", "wrong-type", "unknown-component", "missing-image", "malformed-yaml"],
)
def test_bad_scene_exits_2_with_one_line(tmp_path: Path, scene: str, needle: str):
    path = tmp_path / "scene.yaml"
    path.write_text(scene)
    result = run_cli("fit", str(path), f"output.dir={tmp_path / 'runs'}")
    assert_user_error(result, needle)
    assert not (tmp_path / "runs").exists()


def test_missing_scene_file(tmp_path: Path):
    assert_user_error(run_cli("fit", str(tmp_path / "absent.yaml")), "scene file not found")


def test_corrupt_image_file(tmp_path: Path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    path = tmp_path / "scene.yaml"
    path.write_text(f"data: {{image: {bad}}}\noutput: {{dir: {tmp_path / 'runs'}}}\n")
    assert_user_error(run_cli("fit", str(path)), "cannot read image")


def test_eval_of_missing_run(tmp_path: Path):
    assert_user_error(run_cli("eval", str(tmp_path / "nothing")), "run folder not found")


def test_debug_shows_traceback(tmp_path: Path):
    path = tmp_path / "scene.yaml"
    path.write_text("data: {}\ntrain: {steps: lots}\n")
    result = run_cli("--debug", "fit", str(path))
    assert result.returncode != 0 and "Traceback" in result.stderr
