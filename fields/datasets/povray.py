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

import math
from functools import partial
from pathlib import Path

from fields.datasets.povray_render import (INCLUDE_PATH, INCLUDES, homogeneous, look_at_pose, render_all,
                                           require_povray, run_povray, sphere_locations, write_transforms)
from fields.errors import UserError

_HEAD = (
    INCLUDES
    + "global_settings { assumed_gamma 1.0 }\n"
    "camera { perspective location <CX, CY, CZ> look_at <0, 0, 0> sky <0, 1, 0> right x up y angle ANGLE }\n"
    "light_source { <6, 10, -8> color rgb 1.0 }\nlight_source { <-8, 6, 5> color rgb 0.45 shadowless }\n"
)
OPTIONS = ("+UA", "+A0.05", "+R3", "+FN8", "-D", "-V", "-GA", INCLUDE_PATH)  # alpha, antialiasing, 8-bit PNG

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
    require_povray()
    folder = Path(folder).resolve()  # povray runs in it: its paths must not be relative to another folder
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / f"{name}.pov"
    source.write_text(_HEAD.replace("ANGLE", str(angle)) + SCENES[name])
    splits = {split: sphere_locations(n, radius, seed * 2 + offset)
              for split, n, offset in (("train", n_train, 0), ("test", n_test, 1))}
    jobs = []
    for split, locations in splits.items():
        (folder / split).mkdir(exist_ok=True)
        for k, (x, y, z) in enumerate(locations):
            out = folder / split / f"r_{k}.png"
            if not out.is_file():
                jobs.append(partial(run_povray, source, out, size, size, OPTIONS, folder, {"CX": x, "CY": y, "CZ": z}))
    render_all(jobs, f"POV-Ray {name}")
    for split, locations in splits.items():  # box [-2, 2]^3
        write_transforms(folder, split, math.radians(angle), [homogeneous(look_at_pose(loc)) for loc in locations],
                         aabb_scale=2.0 / 1.5)
    return folder


if __name__ == "__main__":
    import os
    import sys

    cache = Path(os.environ.get("FIELDS_CACHE", Path.home() / ".cache" / "fields"))  # as fields.datasets.views
    for scene in sys.argv[1:] or sorted(SCENES):  # the folders data.path: povray:NAME reads at 100/20/200
        print(generate_povray_scene(cache / "povray" / f"{scene}-100-20-200-0", scene))
