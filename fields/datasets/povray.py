"""Posed views rendered with POV-Ray (Debian ``povray``): ``data.path: povray:NAME``.

Four scenes of different kinds, each written here as a ``.pov`` file (POV-Ray's left-handed world, y up):
``spheres`` (glossy and matte spheres: view-dependent highlights), ``csg`` (constructive solids with
procedural textures: fine detail), ``table`` (a furnished table on a checkered disc: thin parts and
occlusion) and ``text`` (extruded letters and a torus: sharp edges). Cameras sit on a sphere around the
origin, in the upper hemisphere, looking at the centre; each view is rendered with antialiasing and an
alpha channel (``+UA``) and written in the Blender ``transforms_{train,test}.json`` layout. The world of
the files is POV-Ray's with y and z swapped (right-handed, z up).
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from fields.errors import UserError

_HEAD = (
    '#include "colors.inc"\n#include "textures.inc"\n#include "stones.inc"\n#include "woods.inc"\n'
    "global_settings { assumed_gamma 1.0 }\n"
    "camera { perspective location <CX, CY, CZ> look_at <0, 0, 0> sky <0, 1, 0> right x up y angle ANGLE }\n"
    "light_source { <6, 10, -8> color rgb 1.0 }\nlight_source { <-8, 6, 5> color rgb 0.45 shadowless }\n"
)

SCENES = {
    "spheres": """
sphere { <0, 0, 0>, 0.8 pigment { color rgb <0.85, 0.15, 0.1> } finish { phong 0.9 phong_size 60 reflection 0.1 } }
sphere { <1.1, -0.35, 0.5>, 0.45 pigment { color rgb <0.1, 0.6, 0.9> } finish { specular 0.6 roughness 0.02 } }
sphere { <-1.0, -0.4, -0.6>, 0.4 pigment { checker color rgb <1, 0.9, 0.2> color rgb <0.1, 0.1, 0.1> scale 0.15 } }
sphere { <-0.3, 0.7, 1.0>, 0.3 pigment { color rgb <0.3, 0.9, 0.3> } finish { diffuse 0.9 } }
sphere { <0.4, -0.55, -1.1>, 0.25 texture { T_Stone8 scale 0.4 } }
""",
    "csg": """
difference { box { <-0.7, -0.7, -0.7>, <0.7, 0.7, 0.7> } sphere { <0, 0, 0>, 0.9 }
  texture { T_Stone21 scale 0.6 } }
object { torus { 0.55, 0.12 } rotate <60, 20, 0> translate <0, 0.1, 0> pigment { color rgb <0.95, 0.6, 0.1> }
  finish { phong 0.7 } }
cone { <1.2, -0.7, 0.3>, 0.35, <1.2, 0.5, 0.3>, 0.0 texture { T_Wood3 scale 0.3 } }
cylinder { <-1.2, -0.7, -0.2>, <-1.2, 0.3, -0.2>, 0.3
  pigment { gradient y color_map { [0 color Blue] [1 color White] } scale 0.2 } }
""",
    "table": """
cylinder { <0, -0.95, 0>, <0, -0.9, 0>, 1.8 pigment { checker color rgb 0.9 color rgb <0.2, 0.3, 0.5> scale 0.3 } }
box { <-1.0, 0.0, -0.6>, <1.0, 0.08, 0.6> texture { T_Wood7 scale 0.5 } }
#declare Leg = box { <-0.05, -0.9, -0.05>, <0.05, 0.0, 0.05> pigment { color rgb <0.35, 0.2, 0.1> } }
object { Leg translate <-0.9, 0, -0.5> } object { Leg translate <0.9, 0, -0.5> }
object { Leg translate <-0.9, 0, 0.5> } object { Leg translate <0.9, 0, 0.5> }
difference { cylinder { <0.4, 0.08, 0.1>, <0.4, 0.45, 0.1>, 0.15 } cylinder { <0.4, 0.12, 0.1>, <0.4, 0.5, 0.1>, 0.12 }
  pigment { color rgb <0.9, 0.9, 0.95> } finish { phong 0.8 } }
sphere { <-0.4, 0.28, -0.1>, 0.2 pigment { color rgb <0.9, 0.3, 0.1> } finish { phong 0.5 } }
sphere { <-0.1, 0.2, 0.3>, 0.12 pigment { color rgb <0.2, 0.8, 0.2> } }
""",
    "text": """
text { ttf "timrom.ttf" "POV" 0.3, 0 translate <-0.85, -0.3, -0.15> scale 1.0
  pigment { color rgb <0.1, 0.4, 0.8> } finish { phong 0.6 } }
torus { 0.9, 0.08 rotate <90, 0, 0>
  pigment { radial color_map { [0 color Red] [0.5 color Yellow] [1 color Red] } frequency 8 } }
box { <-1.2, -0.75, -0.4>, <1.2, -0.6, 0.4> texture { T_Stone13 scale 0.5 } }
""",
}


def camera_positions(n: int, radius: float, seed: int) -> np.ndarray:
    """``n`` points on the upper part of a sphere (POV-Ray axes: y up), elevation 10 to 70 degrees."""
    rng = np.random.default_rng(seed)
    azimuth = rng.uniform(0, 2 * math.pi, n)
    elevation = np.radians(rng.uniform(10, 70, n))
    return radius * np.stack(
        [np.cos(elevation) * np.cos(azimuth), np.sin(elevation), np.cos(elevation) * np.sin(azimuth)], 1
    )


def c2w_opengl(location: np.ndarray) -> np.ndarray:
    """The camera-to-world ``(4, 4)`` (OpenGL axes, world = POV-Ray's with y and z swapped) of a POV-Ray
    camera at ``location`` looking at the origin with ``sky y``: its image right is ``sky x direction``
    and its image up ``direction x right`` (POV-Ray's left-handed frame)."""
    direction = -location / np.linalg.norm(location)
    right = np.cross([0.0, 1.0, 0.0], direction)
    right /= np.linalg.norm(right)
    up = np.cross(direction, right)
    swap = np.array([[1.0, 0, 0], [0, 0, 1], [0, 1, 0]])
    c2w = np.eye(4)
    c2w[:3, 0], c2w[:3, 1], c2w[:3, 2], c2w[:3, 3] = swap @ right, swap @ up, -(swap @ direction), swap @ location
    return c2w


def generate_povray_scene(
    folder: Path,
    name: str,
    n_train: int = 100,
    n_test: int = 20,
    size: int = 200,
    seed: int = 0,
    angle: float = 40.0,
    radius: float = 4.5,
) -> Path:
    """Render scene ``name`` into ``folder`` (``transforms_{train,test}.json``, ``{train,test}/r_N.png``)."""
    if name not in SCENES:
        raise UserError(f"unknown POV-Ray scene '{name}'; valid: {', '.join(sorted(SCENES))}")
    povray = shutil.which("povray")
    if povray is None:
        raise UserError("POV-Ray scenes need the povray program (apt-get install povray povray-includes)")
    from rich.progress import Progress

    folder.mkdir(parents=True, exist_ok=True)
    source = folder / f"{name}.pov"
    source.write_text(_HEAD.replace("ANGLE", str(angle)) + SCENES[name])
    jobs = []
    for split, n, offset in (("train", n_train, 0), ("test", n_test, 1)):
        (folder / split).mkdir(exist_ok=True)
        for k, location in enumerate(camera_positions(n, radius, seed * 2 + offset)):
            jobs.append((split, k, location))

    def render(job) -> None:
        split, k, (x, y, z) = job
        out = folder / split / f"r_{k}.png"
        if out.is_file():
            return
        tmp = out.with_name(f".{out.stem}.tmp.png")
        command = [
            povray,
            f"+I{source}",
            f"+O{tmp}",
            f"+W{size}",
            f"+H{size}",
            "+UA",
            "+A0.05",
            "+R3",
            "+FN8",
            "-D",
            "-V",
            "-GA",
            f"Declare=CX={x:.6f}",
            f"Declare=CY={y:.6f}",
            f"Declare=CZ={z:.6f}",
            "+L/usr/share/povray-3.7/include",
        ]
        result = subprocess.run(command, capture_output=True, text=True, cwd=folder, check=False)
        if result.returncode != 0 or not tmp.is_file():
            raise UserError(f"povray failed on {source.name} ({result.stderr.strip().splitlines()[-1:]})")
        tmp.replace(out)

    with Progress(transient=True) as progress, ThreadPoolExecutor(2) as pool:
        bar = progress.add_task(f"POV-Ray {name}", total=len(jobs))
        for _ in pool.map(render, jobs):
            progress.advance(bar)
    camera_angle_x = math.radians(angle)
    for split, n, offset in (("train", n_train, 0), ("test", n_test, 1)):
        frames = [
            {"file_path": f"./{split}/r_{k}", "transform_matrix": c2w_opengl(loc).tolist()}
            for k, loc in enumerate(camera_positions(n, radius, seed * 2 + offset))
        ]
        tmp = folder / f".transforms_{split}.json.tmp"
        meta = {"camera_angle_x": camera_angle_x, "aabb_scale": 2.0 / 1.5, "frames": frames}  # box [-2, 2]^3
        tmp.write_text(json.dumps(meta, indent=1))
        tmp.replace(folder / f"transforms_{split}.json")
    return folder


if __name__ == "__main__":
    import os
    import sys

    cache = Path(os.environ.get("FIELDS_CACHE", Path.home() / ".cache" / "fields"))  # as fields.datasets.views
    for scene in sys.argv[1:] or sorted(SCENES):  # the folders data.path: povray:NAME reads at 100/20/200
        print(generate_povray_scene(cache / "povray" / f"{scene}-100-20-200-0", scene))
