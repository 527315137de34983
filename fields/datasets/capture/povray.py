"""Generated captures rendered with POV-Ray (Debian ``povray``): a hand-held walk around textured objects.

A textured ground plane reaching the horizon, a sky with clouds, several objects with POV-Ray's stone,
wood and marble textures, and a camera path that circles the objects at varying height and distance with
a little smooth jitter. Frames are numbered PNGs (and optionally an MP4); the true cameras go to
``truth.json`` (OpenCV convention, right-handed world with z up) for checking only.

POV-Ray is left-handed with y up; the world here is ``(x, z, y)`` of POV-Ray's, which is right-handed.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import imageio.v2 as iio2
import numpy as np

from fields.datasets.povray_render import INCLUDES, look_at_pose, require_povray, run_povray
from fields.errors import UserError

# name -> (ground texture, object textures, sky colour)
SCENES = {
    "garden": (
        "pigment { granite turbulence 0.4 color_map { [0 rgb <0.15, 0.25, 0.08>] [0.4 rgb <0.4, 0.55, 0.2>]"
        " [0.7 rgb <0.55, 0.45, 0.3>] [1 rgb <0.9, 0.85, 0.6>] } scale 1.5 }",
        ("T_Wood10", "T_Grnt9 scale 0.5", "T_Stone21", "T_Wood7", "Jade scale 0.4"), "<0.35, 0.55, 0.9>"),
    "plaza": (
        "pigment { brick rgb 0.25, rgb <0.75, 0.5, 0.4> brick_size <0.5, 0.3, 0.25> mortar 0.03 }"
        " normal { granite 0.3 scale 0.2 }",
        ("T_Stone4", "T_Wood19", "Red_Marble scale 0.5", "T_Grnt3", "T_Stone13"), "<0.5, 0.6, 0.85>"),
    "quarry": (
        "pigment { agate agate_turb 0.8 color_map { [0 rgb 0.1] [0.3 rgb <0.6, 0.5, 0.4>] [0.6 rgb 0.35]"
        " [1 rgb <0.95, 0.9, 0.8>] } scale 0.7 }",
        ("T_Grnt24", "T_Stone2", "T_Wood28", "Blood_Marble scale 0.6", "T_Stone31"), "<0.6, 0.7, 0.95>"),
}
OPTIONS = ("+KFI0", "-D", "-GA", "+FN", "+A0.3", "+AM2", "+R2")  # an animation from frame 0, antialiased PNGs
SHAPES = ("box {{<-{s}, 0, -{s}>, <{s}, {h}, {s}>}}", "sphere {{<0, {s}, 0>, {s}}}",
          "cylinder {{<0, 0, 0>, <0, {h}, 0>, {s}}}", "cone {{<0, 0, 0>, {s}, <0, {h}, 0>, 0.05}}")


@dataclass
class CapturePath:
    """Camera centres and look-at targets in POV-Ray coordinates: ``(n, 3)`` each."""

    locations: np.ndarray
    targets: np.ndarray


def walk_path(n: int, seed: int = 0, arc: float = 300.0, radius: float = 4.0) -> CapturePath:
    """A walk around the origin: ``arc`` degrees, distance and height varying, smooth jitter."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, n)
    theta = math.radians(rng.uniform(0, 360)) + np.radians(arc) * t
    phase = rng.uniform(0, 2 * math.pi, 4)
    r = radius * (1 + 0.15 * np.sin(2 * theta + phase[0]))
    height = 1.6 + 0.35 * np.sin(3 * theta + phase[1])
    locations = np.stack([r * np.cos(theta), height, r * np.sin(theta)], 1)
    jitter = np.cumsum(rng.normal(0, 0.01, (n, 3)), 0)  # a hand's drift
    locations = locations + jitter - jitter.mean(0)
    targets = np.stack([0.3 * np.sin(theta + phase[2]), 0.5 + 0.1 * np.sin(2 * theta + phase[3]),
                        0.3 * np.cos(theta)], 1)
    return CapturePath(locations, targets)


def camera_to_world(location: np.ndarray, target: np.ndarray) -> np.ndarray:
    """POV-Ray's ``look_at`` camera -> ``(3, 4)`` OpenCV camera-to-world in the right-handed world."""
    return look_at_pose(location, target, axes="opencv")


def scene_source(name: str, path: CapturePath, width: int, height: int, fov: float, seed: int) -> str:
    ground, textures, sky = SCENES[name]
    rng = np.random.default_rng(seed + 1)
    objects = []
    for i, texture in enumerate(textures):
        angle = 2 * math.pi * i / len(textures) + rng.uniform(-0.3, 0.3)
        dist = rng.uniform(0.4, 1.6) if i else 0.0
        s, h = rng.uniform(0.3, 0.55), rng.uniform(0.6, 1.4)
        shape = SHAPES[(i + seed) % len(SHAPES)].format(s=f"{s:.3f}", h=f"{h:.3f}")
        objects.append(f"object {{ {shape} texture {{ {texture} }} rotate y*{rng.uniform(0, 90):.1f} "
                       f"translate <{dist * math.cos(angle):.3f}, 0, {dist * math.sin(angle):.3f}> }}")
    locs = ", ".join(f"<{x:.5f}, {y:.5f}, {z:.5f}>" for x, y, z in path.locations)
    tgts = ", ".join(f"<{x:.5f}, {y:.5f}, {z:.5f}>" for x, y, z in path.targets)
    n = len(path.locations)
    return f"""#version 3.7;
{INCLUDES}global_settings {{ assumed_gamma 1.0 ambient_light 1.0 }}
#declare Locations = array[{n}] {{ {locs} }};
#declare Targets = array[{n}] {{ {tgts} }};
camera {{ perspective location Locations[frame_number] right x*{width / height:.6f} up y angle {fov:.4f}
         look_at Targets[frame_number] }}
light_source {{ <30, 60, -40> color rgb 1.1 }}
light_source {{ <-40, 30, 20> color rgb 0.35 shadowless }}
sky_sphere {{ pigment {{ gradient y color_map {{ [0 color rgb {sky} * 1.2] [1 color rgb {sky} * 0.6] }} }}
             pigment {{ bozo turbulence 0.7 octaves 6 color_map {{ [0.0 color rgbt <1, 1, 1, 0>]
               [0.5 color rgbt <0.9, 0.9, 0.95, 0.4>] [0.7 color rgbt 1] }} scale <0.4, 0.08, 0.4> }} }}
plane {{ y, 0 texture {{ {ground} }} }}
{chr(10).join(objects)}
"""


def render_capture(folder: str | Path, name: str = "garden", n_frames: int = 40, width: int = 320, height: int = 240,
                   fov: float = 70.0, seed: int = 0, arc: float = 300.0, video: bool = True, fps: int = 24) -> Path:
    """Render ``n_frames`` along :func:`walk_path` into ``folder/images/frame_XXXXX.png`` (plus
    ``folder/capture.mp4`` when ``video``) and write the true cameras to ``folder/truth.json``."""
    require_povray("rendered captures")
    if name not in SCENES:
        raise UserError(f"no capture scene '{name}'; valid: {', '.join(SCENES)}")
    folder = Path(folder)
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    path = walk_path(n_frames, seed, arc)
    with tempfile.TemporaryDirectory(prefix="povray-") as tmp:
        (Path(tmp) / "scene.pov").write_text(scene_source(name, path, width, height, fov, seed))
        run_povray(Path("scene.pov"), Path("frame.png"), width, height, OPTIONS + (f"+KFF{n_frames - 1}",), Path(tmp),
                   animation=True)
        rendered = sorted(Path(tmp).glob("frame*.png"))
        if len(rendered) != n_frames:
            raise UserError(f"povray wrote {len(rendered)} of {n_frames} capture frames")
        files = []
        for i, src in enumerate(rendered):
            dst = images / f"frame_{i:05d}.png"
            shutil.move(src, dst)
            files.append(dst.name)
    focal = 0.5 * width / math.tan(math.radians(fov) / 2)
    truth = {"fl_x": focal, "fl_y": focal, "cx": width / 2, "cy": height / 2, "w": width, "h": height,
             "convention": "opencv",
             "frames": [{"file_path": f"images/{f}", "c2w": camera_to_world(loc, tgt).tolist()}
                        for f, loc, tgt in zip(files, path.locations, path.targets, strict=True)]}
    (folder / "truth.json").write_text(json.dumps(truth, indent=1))
    if video:
        with iio2.get_writer(folder / "capture.mp4", fps=fps, codec="libx264", quality=9, macro_block_size=8) as writer:
            for f in files:
                writer.append_data(iio2.imread(images / f)[..., :3])
    return folder


def write_truth_transforms(folder: str | Path, aabb_scale: float = 3.2) -> Path:
    """The true cameras of a rendered capture as ``folder/transforms.json`` (OpenGL convention), for fits
    that skip structure from motion; the default scene box ``[-1.5, 1.5]^3 * aabb_scale`` holds the walk."""
    folder = Path(folder)
    truth = json.loads((folder / "truth.json").read_text())
    frames = []
    for frame in truth["frames"]:
        c2w = np.eye(4)
        c2w[:3] = np.array(frame["c2w"])
        c2w[:3, 1:3] *= -1  # OpenCV -> OpenGL camera axes
        frames.append({"file_path": frame["file_path"], "transform_matrix": c2w.tolist()})
    meta = {k: truth[k] for k in ("fl_x", "fl_y", "cx", "cy", "w", "h")}
    meta.update(aabb_scale=aabb_scale, frames=frames)
    (folder / "transforms.json").write_text(json.dumps(meta, indent=1))
    return folder / "transforms.json"
