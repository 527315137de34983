"""``task: splat`` trains for real: PSNR, densification, the .ply, resume after SIGKILL, mesh and paths."""

from __future__ import annotations

import json
from pathlib import Path

from fields.engine.checkpoint import read_checkpoint
from fields.models.gaussians_ply import is_splat_ply, read_ply
from tests.conftest import run_cli
from tests.sigkill import kill_after_checkpoint, resume_matches

# 300 random Gaussians cannot draw this scene: the PSNR below needs the densifier to grow them
SCENE = """
task: splat
data:
  path: synthetic:objects
  background: random
  synthetic: {{n_train: 20, n_test: 4, size: 64}}
model: {{type: gaussians, n_random: 300, sh_degree: 1, sh_increase_every: 200}}
render:
  strategy: {{type: default, refine_start: 50, refine_stop: {stop}, refine_every: 50, reset_every: 10000}}
  save_test_views: 2
train: {{steps: {steps}, checkpoint_every: 50, progress: false, threads: 2}}
output: {{dir: {out}}}
"""


def scene_file(tmp_path: Path, steps: int, stop: int) -> Path:
    path = tmp_path / "splat.yaml"
    path.write_text(SCENE.format(steps=steps, stop=stop, out=tmp_path / "runs"))
    return path


def test_splat_fit_densifies_reaches_psnr_and_writes_a_standard_ply(tmp_path: Path):
    result = run_cli("fit", str(scene_file(tmp_path, 800, 600)), "output.name=fit")
    assert result.returncode == 0, result.stderr
    run = tmp_path / "runs/fit"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["psnr"] > 18.5, metrics  # without densification: 14.0 dB; with: 21.8 dB
    assert metrics["gaussians"] > 3 * 300, metrics  # grown by cloning and splitting
    assert metrics["render_backend"] in ("cpp", "torch")
    vertex = read_ply(run / "splat.ply")
    assert is_splat_ply(vertex) and len(vertex["x"]) == metrics["gaussians"]
    assert (run / "renders/test_0000.png").is_file()

    # the .ply seeds a fine-tuning run whole: it starts where the first run ended
    tune = run_cli(
        "fit",
        str(scene_file(tmp_path, 1, 50)),
        "output.name=tune",
        "model.init=ply",
        f"model.init_path={run / 'splat.ply'}",
    )
    assert tune.returncode == 0, tune.stderr
    tuned = json.loads((tmp_path / "runs/tune/metrics.json").read_text())
    assert abs(tuned["psnr"] - metrics["psnr"]) < 0.5, (tuned, metrics)

    mesh = run_cli("export", "mesh", str(run), "--resolution", "64")
    assert mesh.returncode == 0, mesh.stderr
    import trimesh

    surface = trimesh.load(run / "mesh_64.ply")
    assert len(surface.faces) > 100
    box = json.loads(json.dumps([float(v) for v in surface.bounds.flatten()]))
    assert all(abs(v) < 10 for v in box)  # in the input's coordinates, around the objects

    paths = run_cli("render", str(run), "--path", "orbit", "--frames", "2")
    assert paths.returncode == 0, paths.stderr
    assert (run / "renders/orbit/frame_0001.png").is_file()


def test_splat_resume_after_sigkill_while_densifying_matches_uninterrupted_run(tmp_path: Path):
    scene = scene_file(tmp_path, 300, 250)
    result = run_cli("fit", str(scene), "output.name=whole")
    assert result.returncode == 0, result.stderr

    run = tmp_path / "runs/killed"
    step = kill_after_checkpoint([str(scene), "output.name=killed"], run, 150, timeout=900)
    assert 150 <= step < 300, step
    saved = read_checkpoint(run / "checkpoints/last.safetensors")[0]["state_dict"]["field.means"].shape[0]
    assert saved != 300  # the checkpoint holds a densified set of Gaussians
    resume_matches(run, tmp_path / "runs/whole", 300)
