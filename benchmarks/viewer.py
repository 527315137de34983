"""Viewer frame time: seconds to render one 512x512 frame in each render mode of each kind of field.

``python -m benchmarks.viewer [--size 512] [--reps 3] [--quick]`` fits a small field of each task the
viewer shows (image, sdf, occupancy, radiance) in a temporary folder, then renders every mode from the
view's home camera through the same code the viewer runs (``View.render``), and prints a table and
writes ``benchmarks/results/viewer.json``. Side by side, the same frame at the preview scale the viewer
uses while the camera moves (1/4 of the size on each side). Timings are medians of ``--reps`` wall-clock
renders on ``--threads`` threads (default: all torch uses); other work on the machine disturbs them (the load average is
recorded). Training settings are small: frame times depend on the field's size, not on its quality.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

RESULTS = Path(__file__).resolve().parent / "results" / "viewer.json"
# the image model of the spine's tests, larger; the SDF model of configs/sdf/torus.yaml; the radiance
# model of examples/lightning/ddp.py
HASHGRID = {
    "type": "hashgrid",
    "n_levels": 16,
    "n_features_per_level": 2,
    "log2_hashmap_size": 15,
    "base_resolution": 16,
    "max_resolution": 256,
}
MLP = {"type": "mlp", "n_neurons": 64, "n_hidden_layers": 2}
GEOMETRY_GRID = {
    "type": "hashgrid",
    "n_levels": 8,
    "n_features_per_level": 2,
    "log2_hashmap_size": 14,
    "base_resolution": 4,
    "max_resolution": 128,
}
SMALL_MLP = {"type": "mlp", "n_neurons": 32, "n_hidden_layers": 1}
RADIANCE_GRID = {
    "type": "hashgrid",
    "n_levels": 8,
    "log2_hashmap_size": 15,
    "base_resolution": 8,
    "max_resolution": 256,
}


def scenes(root: Path, quick: bool) -> dict[str, dict[str, Any]]:
    steps = 30 if quick else 300
    train = {"steps": steps, "progress": False, "checkpoint_every": 10**6}
    out: dict[str, dict[str, Any]] = {
        "image": {
            "task": "image",
            "data": {"image": "skimage:astronaut", "max_size": 256},
            "model": {"encoder": HASHGRID, "decoder": MLP},
            "train": {**train, "batch_size": 16384},
        },
        "sdf": {
            "task": "sdf",
            "data": {"mesh": "shape:torus", "samples": {"pool_size": 65536}},
            "model": {"encoder": GEOMETRY_GRID, "decoder": SMALL_MLP},
            "train": {**train, "batch_size": 8192, "loss": "mape"},
        },
        "occupancy": {
            "task": "occupancy",
            "data": {"mesh": "shape:torus", "samples": {"pool_size": 65536}},
            "model": {"encoder": GEOMETRY_GRID, "decoder": SMALL_MLP},
            "train": {**train, "batch_size": 8192},
        },
    }
    try:
        from fields.datasets.synthetic_scene import generate_scene

        path = generate_scene(root / "scene", "objects", n_train=16, n_test=1, size=64, seed=0)
        out["radiance"] = {"task": "radiance", "data": {"path": str(path)},
                           "model": {"encoder": RADIANCE_GRID, "decoder": SMALL_MLP, "output_activation": "sigmoid"},
                           "render": {"grid_resolution": 64, "max_steps": 256},
                           "train": {**train, "batch_size": 1024}}
    except Exception as err:  # the radiance task needs the geometry extra (trimesh) for its scene
        print(f"radiance skipped: {type(err).__name__}: {err}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="fewer training steps and one rep")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    reps = 1 if args.quick else args.reps
    if args.threads:
        torch.set_num_threads(args.threads)

    from fields.apps.viewer import finish, view_for
    from fields.engine.scene import scene_from_dict
    from fields.engine.run import fit, quiet_lightning

    quiet_lightning()
    rows = []
    with tempfile.TemporaryDirectory(prefix="fields-viewer-bench-") as tmp:
        for task_name, config in scenes(Path(tmp), args.quick).items():
            config["output"] = {"dir": str(Path(tmp) / "runs")}
            started = time.perf_counter()
            fit(scene_from_dict(config), Path(tmp) / task_name)
            from fields.engine.run import load_run

            _, task = load_run(Path(tmp) / task_name)
            view = view_for(task)
            camera = view.home()
            print(f"{task_name}: fitted in {time.perf_counter() - started:.0f} s, {task.field.n_params()} parameters")
            for mode in view.modes:
                timings, first = {}, {}
                for label, size in (("full", args.size), ("preview", max(1, args.size // 4))):
                    seconds = []
                    for _ in range(reps):
                        t0 = time.perf_counter()
                        finish(view.render(mode, camera, size, size))
                        seconds.append(time.perf_counter() - t0)
                    # the first frame of a field pays for per-field caches (the SDF views' coarse grid,
                    # rebuilt every frame while a live run changes the weights)
                    timings[label], first[label] = statistics.median(seconds), seconds[0]
                rows.append({"task": task_name, "mode": mode, "size": args.size, "seconds": timings["full"],
                             "first_seconds": first["full"], "preview_size": max(1, args.size // 4),
                             "preview_seconds": timings["preview"], "params": task.field.n_params()})
                print(f"  {mode:15s} {args.size}x{args.size}: {timings['full'] * 1000:8.0f} ms "
                      f"(first {first['full'] * 1000:.0f})   preview: {timings['preview'] * 1000:6.0f} ms")
    print()
    print(f"| task | mode | {args.size}x{args.size} refined (ms) | first {args.size} frame (ms) | "
          f"moving {args.size // 4}x{args.size // 4} (ms) |")
    print("|---|---|---:|---:|---:|")
    for row in rows:
        print(f"| {row['task']} | {row['mode']} | {row['seconds'] * 1000:.0f} | {row['first_seconds'] * 1000:.0f} | "
              f"{row['preview_seconds'] * 1000:.0f} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "rows": rows, "threads": torch.get_num_threads(), "load_average": os.getloadavg(),
        "machine": platform.processor() or platform.machine(), "torch": torch.__version__, "reps": reps,
    }, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
