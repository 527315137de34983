"""POV-Ray scenes in the Blender layout, for tuning and checking multi-view recipes on scenes nobody tuned
them on: textured and glossy objects of different sizes, a patterned ground disc, transparent background.

    python -m benchmarks.povray_scenes --out ~/.cache/fields/povray            # every scene, 100/20 views, 200 px
    python -m benchmarks.povray_scenes --scenes disc --size 100 --n-train 50

Writes ``<out>/<scene>/transforms_{train,test}.json`` and ``{train,test}/r_N.png`` (RGBA), usable as
``data.path``. Needs POV-Ray 3.7 (Debian: ``apt-get install povray``). Cameras sit on the upper part of a
sphere around the scene and look at its centre; the world is right-handed with z up, and POV-Ray gets
explicit camera vectors (``right``, ``up``, ``direction``), so its rays are the pinhole rays of the
OpenGL ``transform_matrix`` written (columns right, up, back, position).
"""

from __future__ import annotations

import argparse
import tempfile
from functools import partial
from pathlib import Path

import numpy as np

from fields.datasets.povray_render import explicit_camera, orbit_poses, render_all, require_povray, run_povray, \
    write_transforms

COMMON = """
#version 3.7;
global_settings { assumed_gamma 1.0 ambient_light rgb <1, 1, 1> }
light_source { <4, -3, 6> color rgb <1.0, 0.97, 0.92> area_light <1, 0, 0>, <0, 1, 0>, 2, 2 adaptive 1 }
light_source { <-5, 4, 3> color rgb <0.35, 0.38, 0.45> shadowless }
"""

SCENES = {
    # the kind of scene: textured objects on a patterned disc
    "disc": """
disc { <0, 0, -0.6>, <0, 0, 1>, 1.35 texture { pigment { checker color rgb <0.85, 0.82, 0.75> color rgb <0.25,
      0.3, 0.45> scale 0.25 }
       finish { diffuse 0.8 ambient 0.08 } } }
sphere { <-0.45, -0.3, -0.15>, 0.45 texture { pigment { marble turbulence 0.8 color_map { [0 color rgb <0.9,
      0.9, 0.85>]
         [0.6 color rgb <0.55, 0.2, 0.15>] [1 color rgb <0.2, 0.1, 0.05>] } scale 0.3 } finish { phong 0.6
               phong_size 40 ambient 0.08 } } }
box { <-0.3, -0.3, -0.6>, <0.3, 0.3, 0.1> rotate <0, 0, 25> translate <0.55, 0.35, 0>
      texture { pigment { wood turbulence 0.15 color_map { [0 color rgb <0.75, 0.5, 0.25>] [1 color rgb <0.4,
            0.22, 0.1>] } scale 0.08 rotate <90, 0, 0> }
      finish { diffuse 0.75 ambient 0.08 } } }
cone { <0.2, -0.65, -0.6>, 0.25, <0.2, -0.65, 0.35>, 0.0 texture { pigment { gradient z color_map { [0 color
      rgb <0.1, 0.5, 0.3>]
       [0.5 color rgb <0.9, 0.8, 0.2>] [1 color rgb <0.1, 0.5, 0.3>] } scale 0.2 } finish { diffuse 0.8
             ambient 0.08 } } }
""",
    # shiny and reflective: view-dependent colour, a small object, a large one
    "glossy": """
disc { <0, 0, -0.7>, <0, 0, 1>, 1.4 texture { pigment { granite color_map { [0 color rgb <0.6, 0.6, 0.62>] [1
      color rgb <0.2, 0.2, 0.25>] } scale 0.5 }
       finish { diffuse 0.7 ambient 0.06 } } }
sphere { <0.1, 0.1, -0.05>, 0.65 texture { pigment { color rgb <0.75, 0.6, 0.2> } finish { ambient 0.05
      diffuse 0.5 specular 0.8
         roughness 0.01 reflection { 0.25 metallic } } } }
sphere { <-0.75, 0.55, -0.55>, 0.15 texture { pigment { color rgb <0.8, 0.1, 0.1> } finish { phong 1
      phong_size 80 ambient 0.08 } } }
torus { 0.35, 0.09 rotate <90, 0, 0> translate <-0.55, -0.6, -0.6> texture { pigment { radial frequency 8
        color_map { [0 color rgb <0.1, 0.2, 0.8>] [0.5 color rgb <0.9, 0.9, 0.95>] [1 color rgb <0.1, 0.2,
              0.8>] } rotate <90, 0, 0> }
        finish { specular 0.6 roughness 0.02 ambient 0.08 } } }
""",
    # one large object filling much of the view, fine high-frequency texture
    "fill": """
superellipsoid { <0.4, 0.4> scale <0.9, 0.75, 0.6> rotate <0, 0, 30>
  texture { pigment { bozo turbulence 0.5 color_map { [0 color rgb <0.95, 0.85, 0.3>] [0.35 color rgb <0.3,
        0.55, 0.25>]
            [0.7 color rgb <0.15, 0.25, 0.5>] [1 color rgb <0.9, 0.35, 0.3>] } scale 0.12 } finish { diffuse
                  0.8 phong 0.3 ambient 0.08 } } }
cylinder { <0, 0, -1.0>, <0, 0, -0.55>, 0.25 texture { pigment { brick color rgb <0.8, 0.8, 0.8> color rgb
      <0.6, 0.2, 0.1>
           brick_size <0.1, 0.05, 0.1> mortar 0.01 } finish { diffuse 0.8 ambient 0.08 } } }
""",
}


OPTIONS = ("+UA", "+A0.1", "+AM2", "+R2", "+FN", "-D", "-V", "+WT1", "-GA")  # alpha, adaptive antialiasing


def generate(
    scene: str,
    folder: Path,
    n_train: int = 100,
    n_test: int = 20,
    size: int = 200,
    seed: int = 0,
    radius: float = 4.0,
    angle_x: float = 0.69,
    jobs: int = 2,
) -> Path:
    """Render ``scene`` into ``folder`` (Blender layout; views already there are kept); returns the folder."""
    require_povray()
    rng = np.random.default_rng(seed)
    poses = {"train": orbit_poses(n_train, radius, rng), "test": orbit_poses(n_test, radius, rng)}
    folder = Path(folder)
    with tempfile.TemporaryDirectory() as tmp:  # one .pov a view: the camera is part of the scene text
        renders = []
        for split, split_poses in poses.items():
            (folder / split).mkdir(parents=True, exist_ok=True)
            for k, pose in enumerate(split_poses):
                out, source = folder / split / f"r_{k}.png", Path(tmp) / f"{split}_r_{k}.pov"
                if not out.is_file():
                    source.write_text(COMMON + SCENES[scene] + explicit_camera(pose, angle_x))
                    renders.append(partial(run_povray, source, out, size, size, OPTIONS))
        render_all(renders, f"POV-Ray {scene}", jobs)
    for split, split_poses in poses.items():
        write_transforms(folder, split, angle_x, split_poses)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path.home() / ".cache" / "fields" / "povray")
    parser.add_argument("--scenes", default=",".join(SCENES))
    parser.add_argument("--n-train", type=int, default=100)
    parser.add_argument("--n-test", type=int, default=20)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    for scene in args.scenes.split(","):
        path = generate(scene, args.out / scene, args.n_train, args.n_test, args.size, jobs=args.jobs)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
