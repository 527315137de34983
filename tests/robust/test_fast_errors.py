"""A mistake answers before torch loads (issue 17: a config error in under 2 s): every command checks its
options, run folder and scene with torch-free configs, and the names those configs list agree with the code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.config_errors import HEAVY, PROBE
from tests.conftest import ROOT



def probe(*args: str) -> tuple[int, list[str], list[str]]:
    """``(exit code, heavy modules imported, stderr lines)`` of ``fields ARGS`` in a fresh interpreter."""
    result = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "COLUMNS": "200"})
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return report["code"], report["heavy"], [line for line in result.stderr.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fast")
    (root / "bad.yaml").write_text("task: image\ndata: {image: skimage:camera}\nmodel: {encoder: {n_levls: 4}}\n")
    (root / "ok.yaml").write_text("task: radiance\ndata: {path: synthetic:sphere}\n")
    (root / "broken.yaml").write_text("task: [\n")
    run = root / "run"  # a run folder whose checkpoint is gone
    run.mkdir()
    (run / "config.resolved.yaml").write_text("task: sdf\ndata: {mesh: shape:torus}\n")
    return root


CASES = [
    (["fit", "{root}/bad.yaml"], "did you mean n_levels"),
    (["fit", "{root}/broken.yaml"], "malformed YAML"),
    (["fit", "{root}/missing.yaml"], "scene file not found"),
    (["fit", "{root}/ok.yaml", "model.encoder.type=hashgird"], "unknown encoder"),
    (["fit", "{root}/ok.yaml", "render.sampler=sphere"], "render.sampler"),
    (["fit", "{root}/ok.yaml", "data.path=nowhere/transforms.json"], "file not found"),
    (["fit", "{root}/ok.yaml", "task=sdf", "data={{mesh: shape:tor}}"], "no generated shape"),
    (["fit", "{root}/ok.yaml", "task=surface", "model.gradient_step=0"], "gradient_step"),
    (["fit", "{root}/ok.yaml", "train.steps=many"], "train.steps"),
    (["fit", "{root}/ok.yaml", "task=restore", "data={{}}", "head={{type: unet, mixer: pol}}"], "did you mean pool"),
    (["fit", "{root}/ok.yaml", "task=classify", "data={{}}", "head.type=unet"], "classifier head"),
    (["fit", "{root}/ok.yaml", "task=splat", "render.strategy.type=mcmx"], "did you mean mcmc"),
    (["fit", "{root}/ok.yaml", "output.name=../x"], "output.name"),
    (["fit", "{root}/ok.yaml", "output.dir={root}/ok.yaml/runs"], "not a folder"),
    (["fit", "{root}/ok.yaml", "output.dir=/proc/fields-runs"], "cannot create the run folder"),
    (["fit", "{root}/ok.yaml", "--view", "--host", "999.1.1.1"], "--host"),
    (["fit", "--resume", "{root}/run", "model.encoder.n_levels=0"], "n_levels"),
    (["eval", "{root}/nowhere"], "run folder not found"),
    (["eval", "{root}/run"], "checkpoint not found"),
    (["render", "{root}/run", "--up", "w"], "--up"),
    (["render", "{root}/run", "--width", "0"], "--width"),
    (["export", "mesh", "{root}/run", "--format", "xyz"], "--format"),
    (["export", "mesh", "{root}/run", "--output", "{root}/mesh.txt"], "--output"),
    (["view", "{root}/run", "--host", "999.1.1.1"], "--host"),
    (["view", "{root}/run"], "checkpoint not found"),
    (["process", "images", "{root}", "{root}/out", "--matching", "fuzzy"], "--matching"),
]


@pytest.mark.parametrize("args,needle", CASES, ids=[" ".join(a[:2]) + f"-{i}" for i, (a, _) in enumerate(CASES)])
def test_mistakes_answer_before_torch_loads(files: Path, args: list[str], needle: str):
    code, heavy, lines = probe(*[a.format(root=files) for a in args])
    assert code == 2 and len(lines) == 1 and needle.lower() in lines[0].lower(), (code, lines)
    assert heavy == [], f"imported {heavy} before answering"


SCENES = {"radiance": [], "surface": [], "splat": [], "sdf": ["data={mesh: shape:torus}"],
          "occupancy": ["data={mesh: shape:torus}"], "image": ["data={}"], "video": None,
          "classify": ["data={}"], "restore": ["data={}"]}
VALIDATE = f"""
import json, sys
from fields.engine.scene import load_scene
for task, extra in json.loads(sys.argv[2]).items():
    load_scene(sys.argv[1], [f"task={{task}}", *extra])
print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))
"""


def test_a_valid_scene_of_every_task_validates_without_torch(files: Path):
    (files / "clip.mp4").write_bytes(b"")  # validation checks the path; loading the video is the task's job
    scenes = {task: extra if extra is not None else ["data={video: " + str(files / "clip.mp4") + "}"]
              for task, extra in SCENES.items()}
    result = subprocess.run([sys.executable, "-c", VALIDATE, str(files / "ok.yaml"), json.dumps(scenes)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_torch_free_name_lists_match_the_code():
    from fields.config.decoders import ACTIVATION_NAMES, FAMILIES
    from fields.datasets import analytic, names, povray, shapes_collection, synthetic_scene  # noqa: F401
    from fields.decoders import selectable
    from fields.decoders.activations import ACTIVATIONS
    from fields.engine.callbacks import LAST
    from fields.engine.run_folder import LAST_CHECKPOINT

    assert tuple(ACTIVATIONS) == ACTIVATION_NAMES
    assert tuple(selectable.FAMILIES) == FAMILIES
    assert tuple(analytic.PRESETS) == names.SHAPE_NAMES
    assert tuple(synthetic_scene.SCENES) == names.SYNTHETIC_SCENES
    assert tuple(shapes_collection.CLASSES) == names.SHAPE_CLASSES
    assert LAST_CHECKPOINT.name == LAST
