"""A corpus of bad inputs across every command: each must exit 2 with one line on stderr, no traceback, and
nothing on disk new or changed.

The CLI runs in this process (``invoke``), so the corpus pays the imports once; the cases that need a
trained run copy one tiny run trained once per session. The cases are in ``cases.py``.
``python -m tests.robust.corpus`` prints how many cases are a one-line exit 2 (the figure reported before
and after the fixes of issue 17).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

TINY_SCENE = """\
task: image
data: {image: "skimage:camera", max_size: 16}
model:
  encoder: {type: hashgrid, n_levels: 2, log2_hashmap_size: 8, base_resolution: 4, max_resolution: 16}
  decoder: {type: mlp, n_neurons: 8, n_hidden_layers: 1}
train: {steps: 6, batch_size: 64, progress: false, checkpoint_every: 3, threads: 1, max_time: 20}
"""


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    changed: list[str]

    @property
    def lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def invoke(*args: str) -> tuple[int, str, str]:
    """Run ``fields ARGS`` in this process: ``(exit code, stdout, stderr)``."""
    from fields.apps.cli import entrypoint

    stdout, stderr = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["fields", *args]
    code = 0
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            entrypoint()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = argv
    return code, stdout.getvalue(), stderr.getvalue()


def snapshot(root: Path) -> dict[str, str]:
    """Every file (content hash and mode) and folder under ``root``."""
    state = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_dir():
            state[rel] = "dir"
        elif path.is_file():
            state[rel] = hashlib.sha1(path.read_bytes()).hexdigest() + oct(path.stat().st_mode)
    return state


class Workspace:
    """A case's folder: the tiny scene, a copy of the trained run, bad files made on demand."""

    def __init__(self, root: Path, template_run: Path | None):
        self.root = root
        self._template = template_run
        self.scene = root / "scene.yaml"
        self.scene.write_text(TINY_SCENE + f"output: {{dir: {root / 'runs'}}}\n")

    def file(self, name: str, content: str | bytes) -> str:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return str(path)

    def yaml(self, content: str) -> str:
        return self.file("bad.yaml", content)

    def png(self, name: str, array: np.ndarray) -> str:
        import imageio.v3 as iio

        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        iio.imwrite(path, array)
        return str(path)

    @property
    def run(self) -> Path:
        path = self.root / "run"
        if not path.exists():
            assert self._template is not None, "this case needs the trained run"
            shutil.copytree(self._template, path)
        return path

    def blender(self, frames: object = None, meta: dict | None = None, images: bool = True) -> str:
        folder = self.root / "views"
        folder.mkdir(exist_ok=True)
        if images:
            for i in range(2):
                self.png(f"views/{i}.png", np.full((8, 8, 3), 60 * i, np.uint8))
        pose = np.eye(4)
        pose[2, 3] = 3.0
        if frames is None:
            frames = [{"file_path": f"{i}.png", "transform_matrix": pose.tolist()} for i in range(2)]
        (folder / "transforms.json").write_text(json.dumps({"camera_angle_x": 0.7, **(meta or {}), "frames": frames}))
        return str(folder)

    def radiance(self, *extra: str) -> list[str]:
        return ["fit", str(self.scene), "task=radiance", "data={}", *extra]


def run_case(case: tuple[str, Callable[[Workspace], list[str]], str], root: Path, template_run: Path | None) -> Outcome:
    """Build the case's input in ``root``, run it, and compare ``root`` before and after."""
    _, build, _ = case
    ws = Workspace(root, template_run)
    argv = build(ws)
    before = snapshot(root)
    code, out, err = invoke(*argv)
    after = snapshot(root)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return Outcome(code, out, err, changed)


def is_one_line_exit_2(outcome: Outcome) -> bool:
    return outcome.code == 2 and len(outcome.lines) == 1 and "Traceback" not in outcome.stderr and not outcome.changed


def train_template(root: Path) -> Path:
    """The tiny image run that the run-folder cases copy."""
    from fields.engine.run import fit
    from fields.engine.scene import load_scene

    root.mkdir(parents=True, exist_ok=True)
    scene = root / "tiny.yaml"
    scene.write_text(TINY_SCENE + f"output: {{dir: {root}, name: template}}\n")
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        run_dir, _ = fit(load_scene(scene), scene_name="template")
    return run_dir


def main() -> None:
    import tempfile

    from tests.robust.cases import CASES

    with tempfile.TemporaryDirectory() as tmp:
        template = train_template(Path(tmp) / "template")
        good = 0
        for i, case in enumerate(CASES):
            root = Path(tmp) / f"case{i}"
            root.mkdir()
            try:
                outcome = run_case(case, root, template)
            except Exception as err:  # a case that crashes the harness counts as a failure
                outcome = Outcome(-1, "", f"harness: {type(err).__name__}: {err}", [])
            ok = is_one_line_exit_2(outcome)
            good += ok
            if not ok:
                first = (outcome.lines or [""])[-1][:150]
                print(f"FAIL {case[0]}: exit {outcome.code}, {len(outcome.lines)} lines, "
                      f"changed {outcome.changed[:3]}: {first}")
        print(f"{good} of {len(CASES)} cases are a one-line exit 2 with nothing changed on disk")


if __name__ == "__main__":
    main()
