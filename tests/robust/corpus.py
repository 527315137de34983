"""A corpus of bad inputs across every command: each must exit 2 with one line on stderr, no traceback, and
nothing on disk new or changed.

The CLI runs in this process (``invoke``), so the corpus pays the imports once; the cases that need a
trained run copy one tiny run trained once per session. ``python -m tests.robust.corpus`` prints how many
cases are a one-line exit 2 (the figure reported before and after the fixes of issue 17).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import struct
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


def _checkpoint_with_metadata(ws: Workspace, **changes: str) -> list[str]:
    """The trained run's checkpoint with its safetensors header metadata changed."""
    path = ws.run / "checkpoints" / "last.safetensors"
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + size])
    header["__metadata__"].update(changes)
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + raw[8 + size :])
    return ["eval", str(ws.run)]


def _flip_tensor_bytes(ws: Workspace) -> list[str]:
    path = ws.run / "checkpoints" / "last.safetensors"
    raw = bytearray(path.read_bytes())
    (size,) = struct.unpack("<Q", raw[:8])
    start = 8 + size
    for i in range(start + 16, len(raw), max(1, (len(raw) - start) // 64)):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))
    return ["eval", str(ws.run)]


def _truncate(ws: Workspace, keep: int) -> list[str]:
    path = ws.run / "checkpoints" / "last.safetensors"
    path.write_bytes(path.read_bytes()[:keep])
    return ["eval", str(ws.run)]


def _edit_config(ws: Workspace, old: str, new: str, command: str = "eval") -> list[str]:
    path = ws.run / "config.resolved.yaml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    return [command, str(ws.run)]


def _alias_bomb(depth: int = 9) -> str:
    """``output.name``: a list whose items define anchors of 9, 81, ... 9^depth elements."""
    lines = ["task: image", 'data: {image: "skimage:camera"}', "output:", "  name:", "    - &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, depth):
        lines.append(f"    - &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


def _bomb_scene(ws: Workspace) -> list[str]:
    # anchors defined inside a value, used as a value: valid YAML, exponential when expanded
    text = ['task: image', 'data: {image: "skimage:camera"}', 'train:', '  seed:']
    text.append("    - &a0 [x, x, x, x, x, x, x, x, x]")
    for i in range(1, 9):
        text.append(f"    - &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    return ["fit", ws.yaml("\n".join(text) + "\n")]


def _with_file(key: str, name: str, content: str | bytes, *extra: str) -> Callable[[Workspace], list[str]]:
    return lambda ws: ["fit", str(ws.scene), *extra, f"{key}={ws.file(name, content)}"]


Case = tuple[str, Callable[[Workspace], list[str]], str]
S = "scene"  # placeholder for the tiny scene in override cases


def _fit(*overrides: str) -> Callable[[Workspace], list[str]]:
    return lambda ws: ["fit", str(ws.scene), *[o.replace("{ws}", str(ws.root)) for o in overrides]]


OVERRIDES: list[tuple[str, str]] = [
    ("foo", "expected key.path=value"), ("=3", "expected key.path=value"), ("train..steps=3", "expected key.path=value"),
    ("train.stepz=3", "did you mean steps"), ("trian.steps=3", "did you mean train"),
    ("train.steps=lots", "train.steps"), ("train.steps=0", "train.steps"), ("train.steps=-5", "train.steps"),
    ("train.steps=1.5", "train.steps"), ("train.steps=1e20", "train.steps"), ("train.steps=.inf", "train.steps"),
    ("train.batch_size=1e10", "train.batch_size"), ("train.batch_size=0", "train.batch_size"),
    ("train.optimizer.lr=.inf", "train.optimizer.lr"), ("train.optimizer.lr=.nan", "train.optimizer.lr"),
    ("train.optimizer.lr=-1", "train.optimizer.lr"), ("train.optimizer.lr=0", "train.optimizer.lr"),
    ("train.optimizer.lr=fast", "train.optimizer.lr"), ("train.optimizer.encoder_lr=0", "encoder_lr"),
    ("train.optimizer.betas=[2,5]", "betas"), ("train.optimizer.betas=[0.9]", "betas"),
    ("train.optimizer.betas=[-0.1,0.9]", "betas"), ("train.optimizer.betas=[0.9,1.0]", "betas"),
    ("train.optimizer.eps=-1", "eps"), ("train.optimizer.eps=.nan", "eps"), ("train.optimizer.weight_decay=-1", "weight_decay"),
    ("train.optimizer.type=lbfgs", "train.optimizer.type"), ("train.seed=-1", "train.seed"),
    ("train.seed=1e30", "train.seed"), ("train.precision=8", "train.precision"), ("train.device=tpu", "train.device"),
    ("train.devices=0", "train.devices"), ("train.threads=0", "train.threads"), ("train.threads=100000", "train.threads"),
    ("train.checkpoint_every=0", "checkpoint_every"), ("train.log_every=0", "log_every"),
    ("train.eval_chunk=0", "eval_chunk"), ("train.loss=l3", "train.loss"), ("train.max_time=0", "max_time"),
    ("train.max_time=-1", "max_time"), ("train.max_time=.nan", "max_time"), ("train.progress=maybe", "train.progress"),
    ("train.schedule.type=linear", "schedule.type"), ("train.schedule.final_ratio=0", "final_ratio"),
    ("train.schedule.final_ratio=2", "final_ratio"), ("train.schedule.milestones=[2]", "milestones"),
    ("train.schedule.milestones=soon", "milestones"), ("train.schedule.gamma=0", "gamma"),
    ("train.schedule.warmup_steps=-1", "warmup_steps"), ("train=5", "train"), ("train.steps.x=1", "not a section"),
    ("model.encoder.type=octree", "unknown encoder 'octree'"), ("model.encoder.n_levels=0", "n_levels"),
    ("model.encoder.n_levels=-1", "n_levels"), ("model.encoder.log2_hashmap_size=40", "log2_hashmap_size"),
    ("model.encoder.log2_hashmap_size=0", "log2_hashmap_size"), ("model.encoder.base_resolution=0", "base_resolution"),
    ("model.encoder.n_features_per_level=0", "n_features_per_level"), ("model.encoder.type=triplane", "triplane"),
    ("model.encoder=5", "model.encoder"), ("model.decoder.type=nope", "unknown decoder 'nope'"),
    ("model.decoder.n_neurons=0", "n_neurons"), ("model.decoder.n_hidden_layers=-1", "n_hidden_layers"),
    ("model.decoder.n_neurons=1e12", "n_neurons"), ("model.output_activation=swish", "output_activation"),
    ("model.colour=1", "unknown key"), ("task=nope", "task"), ("task=sdf", "data"), ("render.x=1", "render"),
    ("head.type=x", "head"), ("data.image=/no/such/file.png", "file not found"), ("data.image=skimage:nothing", "nothing"),
    ("data.channels=cmyk", "data.channels"), ("data.max_size=1", "max_size"), ("data.max_size=0", "max_size"),
    ("data.imag=x", "did you mean image"), ("data=5", "data"),
    ("output.dir=/proc/fields-runs", "/proc/fields-runs"), ("output.dir={ws}/scene.yaml/runs", "scene.yaml"),
    ("output.dir={ws}/scene.yaml", "scene.yaml"), ("output.name=../../escape", "output.name"),
    ("output.name=/tmp/abs-run", "output.name"), ("output.name=a/b", "output.name"), ("output.name=..", "output.name"),
    ("output.name=.", "output.name"), ("output.name=''", "output.name"), ("output.dir=''", "output.dir"),
    ("train.device=gpu", "gpu"),
]

CASES: list[Case] = [
    # --- the scene file itself ----------------------------------------------------------------------
    ("scene-missing", lambda ws: ["fit", str(ws.root / "absent.yaml")], "scene file not found"),
    ("scene-is-folder", lambda ws: ["fit", str(ws.root)], "scene file"),
    ("scene-malformed", lambda ws: ["fit", ws.yaml("data: [oops\n")], "malformed yaml"),
    ("scene-tabs", lambda ws: ["fit", ws.yaml("task: image\n\tdata: {}\n")], "malformed yaml"),
    ("scene-list", lambda ws: ["fit", ws.yaml("- task\n- data\n")], "mapping"),
    ("scene-scalar", lambda ws: ["fit", ws.yaml("hello\n")], "mapping"),
    ("scene-binary", lambda ws: ["fit", ws.file("bad.yaml", b"\x89PNG\r\n\x1a\n\x00\xff\xfe")], "yaml"),
    ("scene-python-tag", lambda ws: ["fit", ws.yaml("task: !!python/object/apply:os.system [echo hi]\n")], "yaml"),
    ("scene-empty", lambda ws: ["fit", ws.yaml("")], "data"),
    ("scene-unknown-section", lambda ws: ["fit", ws.yaml("data: {}\ntrainer: {}\n")], "did you mean train"),
    ("scene-data-list", lambda ws: ["fit", ws.yaml("data: [1, 2]\n")], "data"),
    ("scene-model-number", lambda ws: ["fit", ws.yaml("data: {}\nmodel: 5\n")], "model"),
    ("scene-steps-overflow", lambda ws: ["fit", ws.yaml("data: {}\ntrain: {steps: 1e400}\n")], "train.steps"),
    ("scene-alias-bomb-value", _bomb_scene, "train.seed"),
    ("scene-alias-bomb-name", lambda ws: ["fit", ws.yaml(_alias_bomb())], "output.name"),
    ("scene-nul-bytes", lambda ws: ["fit", ws.file("bad.yaml", "task: image\x00\n")], "yaml"),
    ("scene-and-resume", lambda ws: ["fit", str(ws.scene), "--resume", str(ws.run)], "resume"),
    # --- overrides on the tiny scene ---------------------------------------------------------------
    *[(f"override[{item}]", _fit(item), needle) for item, needle in OVERRIDES],
    # --- image files --------------------------------------------------------------------------------
    ("image-folder", lambda ws: ["fit", str(ws.scene), f"data.image={ws.root}"], "image"),
    ("image-text", lambda ws: ["fit", str(ws.scene), f"data.image={ws.file('a.png', 'hello')}"], "cannot read image"),
    ("image-empty", lambda ws: ["fit", str(ws.scene), f"data.image={ws.file('a.png', b'')}"], "cannot read image"),
    ("image-truncated-png", _with_file("data.image", "a.png", b"\x89PNG\r\n\x1a\nxx"), "cannot read image"),
    ("image-1x1", lambda ws: ["fit", str(ws.scene), f"data.image={ws.png('a.png', np.zeros((1, 1, 3), np.uint8))}"],
     "shape"),
    ("image-1xN", lambda ws: ["fit", str(ws.scene), f"data.image={ws.png('a.png', np.zeros((1, 50), np.uint8))}"],
     "shape"),
    ("image-nan-tiff", lambda ws: ["fit", str(ws.scene), f"data.image={ws.png('a.tiff', np.full((4, 4), np.nan, np.float32))}"],
     "nan"),
    ("image-5-channels", lambda ws: ["fit", str(ws.scene), f"data.image={ws.png('a.tiff', np.zeros((4, 4, 5), np.uint8))}"],
     "channels"),
    ("image-volume", lambda ws: ["fit", str(ws.scene), f"data.image={ws.png('a.tiff', np.zeros((3, 4, 4, 3), np.uint8))}"],
     "image"),
    # --- meshes and point clouds --------------------------------------------------------------------
    ("mesh-missing", lambda ws: ["fit", str(ws.scene), "task=sdf", "data={}", "data.mesh=/no/mesh.obj"], "file not found"),
    ("mesh-unknown-shape", lambda ws: ["fit", str(ws.scene), "task=sdf", "data={}", "data.mesh=shape:blob"], "blob"),
    ("mesh-and-points", lambda ws: ["fit", str(ws.scene), "task=sdf", "data={}", "data.mesh=shape:torus", "data.points=shape:torus"],
     "data.points"),
    ("mesh-none", lambda ws: ["fit", str(ws.scene), "task=sdf", "data={}", "data.padding=0.1"], "data.mesh"),
    ("mesh-empty", lambda ws: ["fit", str(ws.scene), "task=sdf", "data={}", f"data.mesh={ws.file('m.obj', '')}"], "empty"),
    ("mesh-no-faces", _with_file("data.mesh", "m.obj", "v 0 0 0\nv 1 0 0\n", "task=sdf", "data={}"), "no faces"),
    ("mesh-nan", _with_file("data.mesh", "m.obj", "v 0 0 0\nv nan 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 3 4\n", "task=sdf", "data={}"), "nan"),
    ("mesh-bad-index", _with_file("data.mesh", "m.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n", "task=sdf", "data={}"), "mesh"),
    ("mesh-suffix", lambda ws: ["fit", str(ws.scene), "task=sdf", "data={}", f"data.mesh={ws.file('m.xyz2', 'v 0 0 0')}"], "format"),
    ("mesh-padding", lambda ws: ["fit", str(ws.scene), "task=sdf", "data={}", "data.mesh=shape:torus", "data.padding=0.5"], "padding"),
    ("points-three", _with_file("data.points", "p.xyz", "0 0 0\n1 0 0\n0 1 0\n", "task=sdf", "data={}"), "3 points"),
    ("points-shape", lambda ws: ["fit", str(ws.scene), "task=sdf", "data={}", "data.points=shape:torus"], "data.points"),
    ("sdf-sign-rays-even", lambda ws: ["fit", str(ws.scene), "task=sdf", "data={}", "data.mesh=shape:torus", "data.samples.sign_rays=2"],
     "sign_rays"),
    # --- posed views (Blender transforms.json) ------------------------------------------------------
    ("views-missing", lambda ws: ws.radiance("data.path=/no/views"), "file not found"),
    ("views-unknown-synthetic", lambda ws: ws.radiance("data.path=synthetic:nothing"), "nothing"),
    ("views-no-transforms", lambda ws: ws.radiance(f"data.path={ws.root}"), "transforms.json"),
    ("views-bad-json", lambda ws: ws.radiance(f"data.path={ws.file('v/transforms.json', '{frames: ')}"), "json"),
    ("views-empty-frames", lambda ws: ws.radiance(f"data.path={ws.blender(frames=[])}"), "frames"),
    ("views-frames-not-objects", lambda ws: ws.radiance(f"data.path={ws.blender(frames=[1, 2])}"), "frame 0"),
    ("views-ragged-matrix", lambda ws: ws.radiance(f"data.path={ws.blender(frames=[{'file_path': '0.png', 'transform_matrix': [[1, 0, 0, 0], [0, 1], [0, 0, 1, 3], [0, 0, 0, 1]]}])}"),
     "transform_matrix"),
    ("views-string-matrix", lambda ws: ws.radiance(f"data.path={ws.blender(frames=[{'file_path': '0.png', 'transform_matrix': 'eye'}])}"),
     "transform_matrix"),
    ("views-3x3-matrix", lambda ws: ws.radiance(f"data.path={ws.blender(frames=[{'file_path': '0.png', 'transform_matrix': np.eye(3).tolist()}])}"),
     "transform_matrix"),
    ("views-nan-matrix", lambda ws: ws.radiance(f"data.path={ws.blender(frames=[{'file_path': '0.png', 'transform_matrix': [[float('nan')] * 4] * 4}])}"),
     "transform_matrix"),
    ("views-string-angle", lambda ws: ws.radiance(f"data.path={ws.blender(meta={'camera_angle_x': 'wide'})}"), "camera_angle_x"),
    ("views-zero-angle", lambda ws: ws.radiance(f"data.path={ws.blender(meta={'camera_angle_x': 0})}"), "camera_angle_x"),
    ("views-no-focal", lambda ws: ws.radiance(f"data.path={ws.blender(meta={'camera_angle_x': None})}"), "focal"),
    ("views-no-file-path", lambda ws: ws.radiance(f"data.path={ws.blender(frames=[{'transform_matrix': np.eye(4).tolist()}])}"),
     "file_path"),
    ("views-missing-images", lambda ws: ws.radiance(f"data.path={ws.blender(images=False)}"), "0.png"),
    ("views-string-size", lambda ws: ws.radiance(f"data.path={ws.blender(meta={'w': 'big', 'h': 8})}"), "w"),
    ("views-downscale", lambda ws: ws.radiance(f"data.path={ws.blender()}", "data.downscale=0.5"), "downscale"),
    ("views-background", lambda ws: ws.radiance(f"data.path={ws.blender()}", "data.background=pink"), "background"),
    ("views-inverted-aabb", lambda ws: ws.radiance(f"data.path={ws.blender()}", "data.aabb=[1,1,1,0,0,0]"), "aabb"),
    ("views-format", lambda ws: ws.radiance(f"data.path={ws.blender()}", "data.format=blend"), "data.format"),
    ("views-render-key", lambda ws: ws.radiance(f"data.path={ws.blender()}", "render.samplr=x"), "did you mean sampler"),
    # --- videos -------------------------------------------------------------------------------------
    ("video-missing", lambda ws: ["fit", str(ws.scene), "task=video", "data={}", "data.video=/no/video.mp4"], "not found"),
    ("video-garbage", lambda ws: ["fit", str(ws.scene), "task=video", "data={}", f"data.video={ws.file('v.mp4', b'garbage' * 10)}"],
     "v.mp4"),
    # --- resuming -----------------------------------------------------------------------------------
    ("resume-missing", lambda ws: ["fit", "--resume", str(ws.root / "none")], "run folder"),
    ("resume-not-run", lambda ws: ["fit", "--resume", str(ws.root)], "not a run folder"),
    ("resume-file", lambda ws: ["fit", "--resume", str(ws.scene)], "run folder"),
    ("resume-no-checkpoint", lambda ws: (os.remove(ws.run / "checkpoints" / "last.safetensors"),
                                         ["fit", "--resume", str(ws.run)])[1], "no checkpoint"),
    ("resume-mismatch", lambda ws: ["fit", "--resume", str(ws.run), "model.encoder.n_levels=3"], "checkpoint"),
    ("resume-other-task", lambda ws: ["fit", "--resume", str(ws.run), "task=sdf", "data={}", "data.mesh=shape:torus"], "sdf"),
    ("resume-bad-override", lambda ws: ["fit", "--resume", str(ws.run), "train.steps=0"], "train.steps"),
    ("resume-corrupt", lambda ws: (_truncate(ws, 100), ["fit", "--resume", str(ws.run)])[1], "checkpoint"),
    # --- run folders: eval, render, export, view ----------------------------------------------------
    *[(f"{cmd}-missing-run", (lambda c: lambda ws: [*c, str(ws.root / "none")])(cmd.split()), "run folder not found")
      for cmd in ("eval", "render", "export mesh", "view")],
    *[(f"{cmd}-file-as-run", (lambda c: lambda ws: [*c, str(ws.scene)])(cmd.split()), "run folder")
      for cmd in ("eval", "render", "export mesh")],
    ("eval-not-run", lambda ws: ["eval", str(ws.root)], "not a run folder"),
    ("eval-config-malformed", lambda ws: _edit_config(ws, "task: image", "task: [image"), "malformed yaml"),
    ("eval-config-unknown-key", lambda ws: _edit_config(ws, "task: image", "task: image\ncolour: 1"), "colour"),
    ("eval-config-other-model", lambda ws: _edit_config(ws, "n_levels: 2", "n_levels: 3"), "does not match"),
    ("eval-config-other-task", lambda ws: _edit_config(ws, "task: image", "task: video"), "data"),
    ("render-config-other-model", lambda ws: _edit_config(ws, "n_levels: 2", "n_levels: 3", "render"), "does not match"),
    ("eval-no-checkpoint", lambda ws: (os.remove(ws.run / "checkpoints" / "last.safetensors"), ["eval", str(ws.run)])[1],
     "checkpoint not found"),
    ("eval-checkpoint-empty", lambda ws: _truncate(ws, 0), "checkpoint"),
    ("eval-checkpoint-truncated-header", lambda ws: _truncate(ws, 100), "checkpoint"),
    ("eval-checkpoint-truncated-tensors", lambda ws: _truncate(ws, (ws.run / "checkpoints" / "last.safetensors").stat().st_size - 64),
     "checkpoint"),
    ("eval-checkpoint-garbage", lambda ws: (ws.file("run/checkpoints/last.safetensors", os.urandom(4096)), ["eval", str(ws.run)])[1],
     "checkpoint"),
    ("eval-checkpoint-folder", lambda ws: (os.remove(ws.run / "checkpoints" / "last.safetensors"),
                                           os.mkdir(ws.run / "checkpoints" / "last.safetensors"), ["eval", str(ws.run)])[2],
     "checkpoint"),
    ("eval-checkpoint-other-format", lambda ws: _checkpoint_with_metadata(ws, format="something-else"), "not a fields checkpoint"),
    ("eval-checkpoint-newer", lambda ws: _checkpoint_with_metadata(ws, format_version="99"), "newer"),
    ("eval-checkpoint-version-text", lambda ws: _checkpoint_with_metadata(ws, format_version="one"), "checkpoint"),
    ("eval-checkpoint-structure-json", lambda ws: _checkpoint_with_metadata(ws, structure="{not json"), "checkpoint"),
    ("eval-checkpoint-structure-deep", lambda ws: _checkpoint_with_metadata(ws, structure="[" * 100000 + "]" * 100000),
     "checkpoint"),
    ("eval-checkpoint-structure-tensor", lambda ws: _checkpoint_with_metadata(ws, structure='{"__tensor__": "nope"}'),
     "checkpoint"),
    ("eval-checkpoint-structure-list", lambda ws: _checkpoint_with_metadata(ws, structure="[1, 2, 3]"), "checkpoint"),
    ("eval-checkpoint-no-structure", lambda ws: _checkpoint_with_metadata(ws, structure=""), "checkpoint"),
    ("eval-checkpoint-flipped-bytes", _flip_tensor_bytes, "checkpoint"),
    ("render-huge", lambda ws: ["render", str(ws.run), "--width", "100000", "--height", "100000"], "width"),
    ("render-zero-width", lambda ws: ["render", str(ws.run), "--width", "0"], "width"),
    ("render-path-on-image", lambda ws: ["render", str(ws.run), "--path", "orbit"], "camera paths"),
    ("render-width-text", lambda ws: ["render", str(ws.run), "--width", "wide"], "width"),
    ("export-image-run", lambda ws: ["export", "mesh", str(ws.run)], "no surface"),
    ("export-output-proc", lambda ws: ["export", "mesh", str(ws.run), "-o", "/proc/fields.ply"], "no surface"),
    ("view-port-high", lambda ws: ["view", str(ws.run), "--port", "70000"], "port"),
    ("view-port-negative", lambda ws: ["view", str(ws.run), "--port", "-5"], "port"),
    ("view-host-invalid", lambda ws: ["view", str(ws.run), "--host", "999.1.1.1"], "host"),
    ("view-host-empty", lambda ws: ["view", str(ws.run), "--host", ""], "host"),
    # --- the command line itself --------------------------------------------------------------------
    ("cli-unknown-command", lambda ws: ["fitt", str(ws.scene)], "fitt"),
    ("cli-unknown-option", lambda ws: ["fit", str(ws.scene), "--bogus"], "--bogus"),
    ("cli-missing-argument", lambda ws: ["eval"], "run_dir"),
    ("cli-fit-nothing", lambda ws: ["fit"], "scene file"),
    ("cli-export-format", lambda ws: ["export", "mesh", str(ws.run), "--format", "xyz"], "format"),
    ("cli-export-resolution", lambda ws: ["export", "mesh", str(ws.run), "--resolution", "2"], "resolution"),
]

NEEDS_RUN = ("resume-", "eval-", "render-", "export-", "view-", "cli-export", "scene-and-resume")


def run_case(case: Case, root: Path, template_run: Path | None) -> Outcome:
    name, build, _ = case
    ws = Workspace(root, template_run if name.startswith(NEEDS_RUN) else None)
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
    from fields.engine.scene import load_scene
    from fields.engine.run import fit

    root.mkdir(parents=True, exist_ok=True)
    scene = root / "tiny.yaml"
    scene.write_text(TINY_SCENE + f"output: {{dir: {root}, name: template}}\n")
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        run_dir, _ = fit(load_scene(scene), scene_name="template")
    return run_dir


def main() -> None:
    import tempfile

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
                print(f"FAIL {case[0]}: exit {outcome.code}, {len(outcome.lines)} lines, changed {outcome.changed[:3]}: {first}")
        print(f"{good} of {len(CASES)} cases are a one-line exit 2 with nothing changed on disk")


if __name__ == "__main__":
    main()
