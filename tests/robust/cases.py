"""The cases of the bad-input corpus: ``(name, build, needle)``. ``build(ws)`` makes the bad input in the
case's workspace and returns the command line; ``needle`` must appear in the one-line error."""

from __future__ import annotations

import json
import os
import struct
from typing import Callable

import numpy as np

from tests.robust.corpus import Workspace

Build = Callable[[Workspace], list[str]]
Case = tuple[str, Build, str]
CKPT = "checkpoints/last.safetensors"
EYE = np.eye(4).tolist()


def fit(*overrides: str) -> Build:
    return lambda ws: ["fit", str(ws.scene), *[o.replace("{ws}", str(ws.root)) for o in overrides]]


def fit_file(key: str, name: str, content: str | bytes, *extra: str) -> Build:
    return lambda ws: ["fit", str(ws.scene), *extra, f"{key}={ws.file(name, content)}"]


def fit_yaml(text: str | bytes) -> Build:
    return lambda ws: ["fit", ws.file("bad.yaml", text)]


def fit_png(name: str, array: np.ndarray) -> Build:
    return lambda ws: ["fit", str(ws.scene), f"data.image={ws.png(name, array)}"]


def views(*extra: str, **blender: object) -> Build:
    return lambda ws: ws.radiance(f"data.path={ws.blender(**blender)}", *extra)  # type: ignore[arg-type]


def frame(matrix: object = EYE, **keys: object) -> list[dict]:
    return [{"file_path": "0.png", "transform_matrix": matrix, **keys}]


def on_run(command: str, *options: str, before: Callable[[Workspace], object] | None = None) -> Build:
    def build(ws: Workspace) -> list[str]:
        run = ws.run
        if before is not None:
            before(ws)
        return [*command.split(), str(run), *options]

    return build


def remove_checkpoint(ws: Workspace) -> None:
    os.remove(ws.run / CKPT)


def truncate(keep: int) -> Callable[[Workspace], None]:
    def cut(ws: Workspace) -> None:
        path = ws.run / CKPT
        data = path.read_bytes()
        path.write_bytes(data[: keep if keep >= 0 else len(data) + keep])

    return cut


def metadata(**changes: str) -> Callable[[Workspace], None]:
    """The checkpoint with its safetensors header metadata changed."""

    def edit(ws: Workspace) -> None:
        path = ws.run / CKPT
        raw = path.read_bytes()
        (size,) = struct.unpack("<Q", raw[:8])
        header = json.loads(raw[8 : 8 + size])
        header["__metadata__"].update(changes)
        encoded = json.dumps(header).encode()
        encoded += b" " * (-len(encoded) % 8)
        path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + raw[8 + size :])

    return edit


def flip_tensor_bytes(ws: Workspace) -> None:
    path = ws.run / CKPT
    raw = bytearray(path.read_bytes())
    (size,) = struct.unpack("<Q", raw[:8])
    start = 8 + size
    for i in range(start + 16, len(raw), max(1, (len(raw) - start) // 64)):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))


def garbage_checkpoint(ws: Workspace) -> None:
    (ws.run / CKPT).write_bytes(os.urandom(4096))


def folder_checkpoint(ws: Workspace) -> None:
    os.remove(ws.run / CKPT)
    os.mkdir(ws.run / CKPT)


def edit_config(old: str, new: str) -> Callable[[Workspace], None]:
    def edit(ws: Workspace) -> None:
        path = ws.run / "config.resolved.yaml"
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new, 1))

    return edit


def alias_bomb(key: str = "output", field: str = "name", depth: int = 9) -> str:
    """``key.field``: a list whose items define anchors of 9, 81, ... 9^depth elements (valid YAML)."""
    lines = ["task: image", 'data: {image: "skimage:camera"}', f"{key}:", f"  {field}:"]
    lines.append("    - &a0 [x, x, x, x, x, x, x, x, x]")
    for i in range(1, depth):
        lines.append(f"    - &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


KEY = "expected key.path=value"
OVERRIDES: list[tuple[str, str]] = [
    ("foo", KEY), ("=3", KEY), ("train..steps=3", KEY), ("train.stepz=3", "did you mean steps"),
    ("trian.steps=3", "did you mean train"), ("train.steps=lots", "train.steps"), ("train.steps=0", "train.steps"),
    ("train.steps=-5", "train.steps"), ("train.steps=1.5", "train.steps"), ("train.steps=1e20", "train.steps"),
    ("train.steps=.inf", "train.steps"), ("train.batch_size=1e10", "train.batch_size"),
    ("train.batch_size=0", "train.batch_size"), ("train.optimizer.lr=.inf", "train.optimizer.lr"),
    ("train.optimizer.lr=.nan", "train.optimizer.lr"), ("train.optimizer.lr=-1", "train.optimizer.lr"),
    ("train.optimizer.lr=0", "train.optimizer.lr"), ("train.optimizer.lr=fast", "train.optimizer.lr"),
    ("train.optimizer.encoder_lr=0", "encoder_lr"), ("train.optimizer.betas=[2,5]", "betas"),
    ("train.optimizer.betas=[0.9]", "betas"), ("train.optimizer.betas=[-0.1,0.9]", "betas"),
    ("train.optimizer.betas=[0.9,1.0]", "betas"), ("train.optimizer.eps=-1", "eps"),
    ("train.optimizer.eps=.nan", "eps"),
    ("train.optimizer.weight_decay=-1", "weight_decay"), ("train.optimizer.type=lbfgs", "train.optimizer.type"),
    ("train.seed=-1", "train.seed"), ("train.seed=1e30", "train.seed"), ("train.precision=8", "train.precision"),
    ("train.device=tpu", "train.device"), ("train.devices=0", "train.devices"), ("train.threads=0", "train.threads"),
    ("train.threads=100000", "train.threads"), ("train.checkpoint_every=0", "checkpoint_every"),
    ("train.log_every=0", "log_every"), ("train.eval_chunk=0", "eval_chunk"), ("train.loss=l3", "train.loss"),
    ("train.max_time=0", "max_time"), ("train.max_time=-1", "max_time"), ("train.max_time=.nan", "max_time"),
    ("train.progress=maybe", "train.progress"), ("train.schedule.type=linear", "schedule.type"),
    ("train.schedule.final_ratio=0", "final_ratio"), ("train.schedule.final_ratio=2", "final_ratio"),
    ("train.schedule.milestones=[2]", "milestones"), ("train.schedule.milestones=soon", "milestones"),
    ("train.schedule.gamma=0", "gamma"), ("train.schedule.warmup_steps=-1", "warmup_steps"), ("train=5", "train"),
    ("train.steps.x=1", "not a section"), ("model.encoder.type=octree", "unknown encoder 'octree'"),
    ("model.encoder.n_levels=0", "n_levels"), ("model.encoder.n_levels=-1", "n_levels"),
    ("model.encoder.log2_hashmap_size=40", "log2_hashmap_size"),
    ("model.encoder.log2_hashmap_size=0", "log2_hashmap_size"), ("model.encoder.base_resolution=0", "base_resolution"),
    ("model.encoder.n_features_per_level=0", "n_features_per_level"),
    ("model.encoder.type=triplane", "triplane"), ("model.encoder=5", "model.encoder"),
    ("model.decoder.type=nope", "unknown decoder 'nope'"), ("model.decoder.n_neurons=0", "n_neurons"),
    ("model.decoder.n_hidden_layers=-1", "n_hidden_layers"), ("model.decoder.n_neurons=1e12", "n_neurons"),
    ("model.output_activation=swish", "output_activation"), ("model.colour=1", "unknown key"), ("task=nope", "task"),
    ("task=sdf", "data"), ("render.x=1", "render"), ("head.type=x", "head"),
    ("data.image=/no/such/file.png", "file not found"), ("data.image=skimage:nothing", "nothing"),
    ("data.channels=cmyk", "data.channels"), ("data.max_size=1", "max_size"), ("data.max_size=0", "max_size"),
    ("data.imag=x", "did you mean image"), ("data=5", "data"), ("output.dir=/proc/fields-runs", "/proc/fields-runs"),
    ("output.dir={ws}/scene.yaml/runs", "scene.yaml"), ("output.dir={ws}/scene.yaml", "scene.yaml"),
    ("output.name=../../escape", "output.name"), ("output.name=/tmp/abs-run", "output.name"),
    ("output.name=a/b", "output.name"), ("output.name=..", "output.name"), ("output.name=.", "output.name"),
    ("output.name=''", "output.name"), ("output.dir=''", "output.dir"), ("train.device=gpu", "gpu"),
]

SCENES: list[Case] = [
    ("scene-missing", lambda ws: ["fit", str(ws.root / "absent.yaml")], "scene file not found"),
    ("scene-is-folder", lambda ws: ["fit", str(ws.root)], "scene file"),
    ("scene-malformed", fit_yaml("data: [oops\n"), "malformed yaml"),
    ("scene-tabs", fit_yaml("task: image\n\tdata: {}\n"), "malformed yaml"),
    ("scene-list", fit_yaml("- task\n- data\n"), "mapping"),
    ("scene-scalar", fit_yaml("hello\n"), "mapping"),
    ("scene-binary", fit_yaml(b"\x89PNG\r\n\x1a\n\x00\xff\xfe"), "yaml"),
    ("scene-python-tag", fit_yaml("task: !!python/object/apply:os.system [echo hi]\n"), "yaml"),
    ("scene-empty", fit_yaml(""), "data"),
    ("scene-unknown-section", fit_yaml("data: {}\ntrainer: {}\n"), "did you mean train"),
    ("scene-data-list", fit_yaml("data: [1, 2]\n"), "data"),
    ("scene-model-number", fit_yaml("data: {}\nmodel: 5\n"), "model"),
    ("scene-steps-overflow", fit_yaml("data: {}\ntrain: {steps: 1e400}\n"), "train.steps"),
    ("scene-alias-bomb-seed", fit_yaml(alias_bomb("train", "seed")), "train.seed"),
    ("scene-alias-bomb-name", fit_yaml(alias_bomb()), "output.name"),
    ("scene-nul-bytes", fit_yaml("task: image\x00\n"), "yaml"),
    ("scene-and-resume", lambda ws: ["fit", str(ws.scene), "--resume", str(ws.run)], "resume"),
]

DATA: list[Case] = [
    ("image-folder", lambda ws: ["fit", str(ws.scene), f"data.image={ws.root}"], "image"),
    ("image-text", fit_file("data.image", "a.png", "hello"), "cannot read image"),
    ("image-empty", fit_file("data.image", "a.png", b""), "cannot read image"),
    ("image-truncated-png", fit_file("data.image", "a.png", b"\x89PNG\r\n\x1a\nxx"), "cannot read image"),
    ("image-1x1", fit_png("a.png", np.zeros((1, 1, 3), np.uint8)), "shape"),
    ("image-1xN", fit_png("a.png", np.zeros((1, 50), np.uint8)), "shape"),
    ("image-nan-tiff", fit_png("a.tiff", np.full((4, 4), np.nan, np.float32)), "nan"),
    ("image-5-channels", fit_png("a.tiff", np.zeros((4, 4, 5), np.uint8)), "channels"),
    ("image-volume", fit_png("a.tiff", np.zeros((3, 4, 4, 3), np.uint8)), "image"),
    ("mesh-missing", fit("task=sdf", "data={}", "data.mesh=/no/mesh.obj"), "file not found"),
    ("mesh-unknown-shape", fit("task=sdf", "data={}", "data.mesh=shape:blob"), "blob"),
    ("mesh-and-points", fit("task=sdf", "data={}", "data.mesh=shape:torus", "data.points=shape:torus"), "data.points"),
    ("mesh-none", fit("task=sdf", "data={}", "data.padding=0.1"), "data.mesh"),
    ("mesh-empty", fit_file("data.mesh", "m.obj", "", "task=sdf", "data={}"), "empty"),
    ("mesh-no-faces", fit_file("data.mesh", "m.obj", "v 0 0 0\nv 1 0 0\n", "task=sdf", "data={}"), "no faces"),
    ("mesh-nan", fit_file("data.mesh", "m.obj", "v 0 0 0\nv nan 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 3 4\n",
                          "task=sdf", "data={}"), "nan"),
    ("mesh-bad-index", fit_file("data.mesh", "m.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n", "task=sdf", "data={}"),
     "mesh"),
    ("mesh-suffix", fit_file("data.mesh", "m.xyz2", "v 0 0 0", "task=sdf", "data={}"), "format"),
    ("mesh-padding", fit("task=sdf", "data={}", "data.mesh=shape:torus", "data.padding=0.5"), "padding"),
    ("points-three", fit_file("data.points", "p.xyz", "0 0 0\n1 0 0\n0 1 0\n", "task=sdf", "data={}"), "3 points"),
    ("points-shape", fit("task=sdf", "data={}", "data.points=shape:torus"), "data.points"),
    ("sdf-sign-rays-even", fit("task=sdf", "data={}", "data.mesh=shape:torus", "data.samples.sign_rays=2"),
     "sign_rays"),
    ("views-missing", lambda ws: ws.radiance("data.path=/no/views"), "file not found"),
    ("views-unknown-synthetic", lambda ws: ws.radiance("data.path=synthetic:nothing"), "nothing"),
    ("views-no-transforms", lambda ws: ws.radiance(f"data.path={ws.root}"), "transforms.json"),
    ("views-bad-json", lambda ws: ws.radiance(f"data.path={ws.file('v/transforms.json', '{frames: ')}"), "json"),
    ("views-empty-frames", views(frames=[]), "frames"),
    ("views-frames-not-objects", views(frames=[1, 2]), "frame 0"),
    ("views-ragged-matrix", views(frames=frame([[1, 0, 0, 0], [0, 1], [0, 0, 1, 3], [0, 0, 0, 1]])),
     "transform_matrix"),
    ("views-string-matrix", views(frames=frame("eye")), "transform_matrix"),
    ("views-3x3-matrix", views(frames=frame(np.eye(3).tolist())), "transform_matrix"),
    ("views-nan-matrix", views(frames=frame([[float("nan")] * 4] * 4)), "transform_matrix"),
    ("views-string-angle", views(meta={"camera_angle_x": "wide"}), "camera_angle_x"),
    ("views-zero-angle", views(meta={"camera_angle_x": 0}), "camera_angle_x"),
    ("views-no-focal", views(meta={"camera_angle_x": None}), "focal"),
    ("views-no-file-path", views(frames=[{"transform_matrix": EYE}]), "file_path"),
    ("views-missing-images", views(images=False), "0.png"),
    ("views-string-size", views(meta={"w": "big", "h": 8}), "w"),
    ("views-downscale", views("data.downscale=0.5"), "downscale"),
    ("views-background", views("data.background=pink"), "background"),
    ("views-inverted-aabb", views("data.aabb=[1,1,1,0,0,0]"), "aabb"),
    ("views-format", views("data.format=blend"), "data.format"),
    ("views-render-key", views("render.samplr=x"), "did you mean sampler"),
    ("video-missing", fit("task=video", "data={}", "data.video=/no/video.mp4"), "not found"),
    ("video-garbage", fit_file("data.video", "v.mp4", b"garbage" * 10, "task=video", "data={}"), "v.mp4"),
]

RUNS: list[Case] = [
    ("resume-missing", lambda ws: ["fit", "--resume", str(ws.root / "none")], "run folder"),
    ("resume-not-run", lambda ws: ["fit", "--resume", str(ws.root)], "not a run folder"),
    ("resume-file", lambda ws: ["fit", "--resume", str(ws.scene)], "run folder"),
    ("resume-no-checkpoint", on_run("fit --resume", before=remove_checkpoint), "no checkpoint"),
    ("resume-mismatch", on_run("fit --resume", "model.encoder.n_levels=3"), "checkpoint"),
    ("resume-other-task", on_run("fit --resume", "task=sdf", "data={}", "data.mesh=shape:torus"), "sdf"),
    ("resume-bad-override", on_run("fit --resume", "train.steps=0"), "train.steps"),
    ("resume-corrupt", on_run("fit --resume", before=truncate(100)), "checkpoint"),
    *[(f"{cmd}-missing-run", (lambda c: lambda ws: [*c, str(ws.root / "none")])(cmd.split()), "run folder not found")
      for cmd in ("eval", "render", "export mesh", "export pointcloud", "export cameras", "view")],
    *[(f"{cmd}-file-as-run", (lambda c: lambda ws: [*c, str(ws.scene)])(cmd.split()), "run folder")
      for cmd in ("eval", "render", "export mesh")],
    ("eval-not-run", lambda ws: ["eval", str(ws.root)], "not a run folder"),
    ("eval-config-malformed", on_run("eval", before=edit_config("task: image", "task: [image")), "malformed yaml"),
    ("eval-config-unknown-key", on_run("eval", before=edit_config("task: image", "task: image\ncolour: 1")), "colour"),
    ("eval-config-other-model", on_run("eval", before=edit_config("n_levels: 2", "n_levels: 3")), "does not match"),
    ("eval-config-other-task", on_run("eval", before=edit_config("task: image", "task: video")), "data"),
    ("render-config-other-model", on_run("render", before=edit_config("n_levels: 2", "n_levels: 3")), "does not match"),
    ("eval-no-checkpoint", on_run("eval", before=remove_checkpoint), "checkpoint not found"),
    ("eval-checkpoint-empty", on_run("eval", before=truncate(0)), "checkpoint"),
    ("eval-checkpoint-truncated-header", on_run("eval", before=truncate(100)), "checkpoint"),
    ("eval-checkpoint-truncated-tensors", on_run("eval", before=truncate(-64)), "checkpoint"),
    ("eval-checkpoint-garbage", on_run("eval", before=garbage_checkpoint), "checkpoint"),
    ("eval-checkpoint-folder", on_run("eval", before=folder_checkpoint), "checkpoint"),
    ("eval-checkpoint-other-format", on_run("eval", before=metadata(format="other")), "not a fields checkpoint"),
    ("eval-checkpoint-newer", on_run("eval", before=metadata(format_version="99")), "newer"),
    ("eval-checkpoint-version-text", on_run("eval", before=metadata(format_version="one")), "checkpoint"),
    ("eval-checkpoint-structure-json", on_run("eval", before=metadata(structure="{not json")), "checkpoint"),
    ("eval-checkpoint-structure-deep", on_run("eval", before=metadata(structure="[" * 100000 + "]" * 100000)),
     "checkpoint"),
    ("eval-checkpoint-structure-tensor", on_run("eval", before=metadata(structure='{"__tensor__": "x"}')),
     "checkpoint"),
    ("eval-checkpoint-structure-list", on_run("eval", before=metadata(structure="[1, 2, 3]")), "checkpoint"),
    ("eval-checkpoint-no-structure", on_run("eval", before=metadata(structure="")), "checkpoint"),
    ("eval-checkpoint-flipped-bytes", on_run("eval", before=flip_tensor_bytes), "checkpoint"),
    ("render-huge", on_run("render", "--width", "100000", "--height", "100000"), "width"),
    ("render-zero-width", on_run("render", "--width", "0"), "width"),
    ("render-path-on-image", on_run("render", "--path", "orbit"), "camera paths"),
    ("render-width-text", on_run("render", "--width", "wide"), "width"),
    ("render-up-bad", on_run("render", "--up", "w"), "--up"),
    ("render-up-on-image", on_run("render", "--up", "y"), "--up"),
    ("export-image-run", on_run("export mesh"), "no surface"),
    ("export-output-proc", on_run("export mesh", "-o", "/proc/fields.ply"), "no surface"),
    ("export-output-suffix", on_run("export mesh", "-o", "mesh.xyz"), "suffix"),
    ("export-mesh-method", on_run("export mesh", "--method", "poisson"), "--method"),
    ("export-pointcloud-image-run", on_run("export pointcloud"), "no pointcloud"),
    ("export-cameras-image-run", on_run("export cameras"), "no cameras"),
    ("export-cameras-suffix", on_run("export cameras", "-o", "cams.txt"), ".json"),
    ("export-pointcloud-suffix", on_run("export pointcloud", "-o", "points.xyz"), ".ply"),
    ("view-port-high", on_run("view", "--port", "70000"), "port"),
    ("view-port-negative", on_run("view", "--port", "-5"), "port"),
    ("view-host-invalid", on_run("view", "--host", "999.1.1.1"), "host"),
    ("view-host-empty", on_run("view", "--host", ""), "host"),
    ("fit-view-port", fit("--view", "--port", "70000"), "port"),
    ("cli-unknown-command", lambda ws: ["fitt", str(ws.scene)], "fitt"),
    ("cli-unknown-option", fit("--bogus"), "--bogus"),
    ("cli-missing-argument", lambda ws: ["eval"], "run_dir"),
    ("cli-fit-nothing", lambda ws: ["fit"], "scene file"),
    ("cli-export-format", on_run("export mesh", "--format", "xyz"), "format"),
    ("cli-export-resolution", on_run("export mesh", "--resolution", "2"), "resolution"),
]

CASES: list[Case] = [
    *SCENES,
    *[(f"override[{item}]", fit(item), needle) for item, needle in OVERRIDES],
    *DATA,
    *RUNS,
]
