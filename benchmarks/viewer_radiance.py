"""Viewer frame time of a trained radiance field: one 512x512 colour frame as the viewer renders it once
the camera stands still (``RadianceView.render``, the refined frame), now and with the inference path of
before (packed samples, colour for every sample in float32, fixed rounds of 32 steps, chunks of 4096 rays),
side by side, with how far the two frames differ (PSNR of one against the other). Samples per pixel: the
density evaluations (a field's soft surfaces early in training take many: train it longer for "refined").

    python -m benchmarks.viewer_radiance --run runs/NAME          # a trained radiance run folder
    python -m benchmarks.viewer_radiance                          # fits configs/radiance/synthetic.yaml for
                                                                  # --steps first (3000: ~3 min quiet)
    python -m benchmarks.viewer_radiance --run runs/NAME --threads 1 --reps 1   # CPU time, less load-bound

Cameras: the viewer's home camera (the first training view) and the first ``--cameras - 1`` test views,
at the dataset's field of view. Times are medians of ``--reps`` renders (wall clock and this process's
CPU time); the issue's target is under 1 s quiet. Writes ``benchmarks/results/viewer-radiance.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

import fields  # noqa: F401  (the OpenMP policy, before torch)
import torch

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "radiance" / "synthetic.yaml"
RESULTS = ROOT / "benchmarks" / "results" / "viewer-radiance.json"
BEFORE_CHUNK, BEFORE_ROUND = 4096, 32


def packed_inference(task):
    """``task.render_rays`` as inference ran before: the occupancy grid's packed samples with colour and
    density evaluated together in rounds of ``BEFORE_ROUND`` steps, composited afterwards."""
    from fields.render.volume_rendering import render

    original = task.render_rays

    def render_rays(rays, background, training=False, generator=None):
        if training or torch.is_grad_enabled() or task.grid is None:
            return original(rays, background, training, generator)
        cfg, o, d = task.scene.render, rays.origins, rays.directions

        def values_fn(t0, t1, ri):
            rgb, sigma = task.field(o[ri] + d[ri] * ((t0 + t1) / 2)[:, None], d[ri])
            return torch.cat((sigma[:, None], rgb), -1)

        ri, t0, t1, values = task.grid.sampling(o, d, values_fn, task.step_size, task.near,
                                                early_stop_eps=cfg.early_stop_eps, alpha_thre=cfg.alpha_thre,
                                                cone_angle=cfg.cone_angle, round_samples=BEFORE_ROUND, carry=True)
        split = (t0.new_zeros(0, 3), t0.new_zeros(0)) if values is None else (values[:, 1:], values[:, 0])
        return render(t0, t1, ri, len(rays), lambda *_: split, background)

    return render_rays


def cameras_of(view, task, count: int) -> list[tuple[str, object]]:
    from fields.apps.viewer.camera import ViewCamera

    out = [("home", view.home())]
    opencv = task.cameras.to_opencv()
    for index in task.views.test[: max(0, count - 1)]:
        c2w = opencv.c2w[index].double().numpy()
        fov = 2 * math.atan(0.5 * opencv.height / float(opencv.fy[index]))
        out.append((f"test {index}", ViewCamera(tuple(map(float, c2w[:, 3])),
                                                tuple(tuple(map(float, row)) for row in c2w[:, :3]), fov)))
    return out


def trained_run(args: argparse.Namespace, folder: Path) -> Path:
    from fields.engine.run import fit
    from fields.engine.scene import load_scene

    scene = load_scene(CONFIG, [f"train.steps={args.steps}", "train.max_time=null", "train.progress=false",
                                f"output.dir={folder}", "output.name=run", "render.mesh_resolution=0",
                                "render.save_test_views=0", *args.set])
    print(f"fitting {CONFIG.name} for {args.steps} steps", flush=True)
    run_dir, metrics = fit(scene)
    print(f"  test PSNR {metrics['psnr']:.2f} dB after {metrics['train_seconds']:.0f} s", flush=True)
    return run_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=None, help="a trained radiance run folder")
    parser.add_argument("--steps", type=int, default=3000, help="training steps when no --run is given")
    parser.add_argument("--set", nargs="*", default=[], help="config overrides of the fit without --run")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--cameras", type=int, default=3, help="home and test views")
    parser.add_argument("--variants", default="current,before")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)

    from fields.apps.viewer.view_for import view_for
    from fields.apps.viewer.views import finish
    from fields.engine.run import load_run
    from fields.models.radiance_inference import RadianceInference
    from fields.render import early_stop

    with tempfile.TemporaryDirectory(prefix="fields-viewer-radiance-") as tmp:
        run_dir = args.run or trained_run(args, Path(tmp))
        _, task = load_run(run_dir)
        view = view_for(task)
        current_chunk, current_render, first_round = view.chunk, task.render_rays, early_stop.FIRST_ROUND
        evaluated = [0]
        features = task.field.features

        def counted(x):
            evaluated[0] += len(x)
            return features(x)

        task.field.features = counted  # forward() calls it too: both paths count their density evaluations
        snapshot_features = RadianceInference.features

        def snapshot_counted(self, x):  # the inference snapshot's own density pass (it calls no features())
            if self.density_mlp is not None:
                evaluated[0] += len(x)
            return snapshot_features(self, x)

        RadianceInference.features = snapshot_counted
        rows, frames = [], {}
        for name, camera in cameras_of(view, task, args.cameras):
            for variant in args.variants.split(","):
                if variant == "before":
                    view.chunk, task.render_rays = BEFORE_CHUNK, packed_inference(task)
                    early_stop.FIRST_ROUND = BEFORE_ROUND
                else:
                    view.chunk, task.render_rays = current_chunk, current_render
                    early_stop.FIRST_ROUND = first_round
                walls, cpus = [], []
                for _ in range(args.reps):
                    evaluated[0] = 0
                    wall, cpu = time.perf_counter(), time.process_time()
                    image = finish(view.render("rgb", camera, args.size, args.size))
                    walls.append(time.perf_counter() - wall)
                    cpus.append(time.process_time() - cpu)
                frames[variant] = torch.from_numpy(image).float() / 255
                rows.append({"camera": name, "variant": variant, "seconds": statistics.median(walls),
                             "cpu_seconds": statistics.median(cpus), "chunk": view.chunk,
                             "samples_per_pixel": evaluated[0] / args.size**2, "load": os.getloadavg()[0]})
                print(f"  {name} {variant}: {rows[-1]['seconds'] * 1000:.0f} ms", flush=True)
            if "before" in frames and "current" in frames:
                mse = float(((frames["before"] - frames["current"]) ** 2).mean())
                rows[-1]["agreement_db"] = rows[-2]["agreement_db"] = -10 * math.log10(max(mse, 1e-12))
            frames.clear()
        task.render_rays, early_stop.FIRST_ROUND = current_render, first_round
        RadianceInference.features = snapshot_features
    print(f"\nradiance viewer, {args.size}x{args.size} rgb frame, {torch.get_num_threads()} threads, "
          f"run {run_dir}")
    print(f"{'camera':<10}{'variant':<9}{'ms':>8}{'CPU ms':>9}{'samples/px':>12}{'chunk':>7}"
          f"{'PSNR vs other':>15}{'load':>6}")
    for r in rows:
        agreement = f"{r['agreement_db']:.1f} dB" if "agreement_db" in r else "-"
        print(f"{r['camera']:<10}{r['variant']:<9}{r['seconds'] * 1000:>8.0f}{r['cpu_seconds'] * 1000:>9.0f}"
              f"{r['samples_per_pixel']:>12.2f}{r['chunk']:>7}{agreement:>15}{r['load']:>6.1f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"run": str(run_dir), "size": args.size, "threads": torch.get_num_threads(),
                                   "reps": args.reps, "rows": rows}, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
