"""Capture benchmark: from a generated video to cameras and a radiance field, per POV-Ray scene.

    python -m benchmarks.captures                                   # 3 scenes, 150 frames at 320x240, 20 min fits
    python -m benchmarks.captures --scenes quarry --frames 60 --size 160x120 --fit-minutes 2   # a quick look
    python -m benchmarks.captures --no-fits                          # structure from motion only

Per scene: the walk is rendered (numbered PNGs and an MP4; the true cameras kept aside), then
``fields process video`` on the MP4 alone (``--frames`` = the rendered count, so frame k is truth k):
frames registered, rotation and position errors after a similarity alignment to the truth (position as
a fraction of the extent of the true camera centres), reprojection error, seconds per stage. Fits
(``configs/radiance/capture.yaml``, every 8th frame held out, ``--fit-minutes`` each): on the SfM poses
with the L-infinity contraction and with the bounded box (``render.contraction=none``); on the true poses,
on poses perturbed by ``--perturb-deg`` degrees and ``--perturb-extent`` of the extent (training views
only) without and with pose refinement. CPU timings move with the machine's load: report it too.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "radiance" / "capture.yaml"


def sfm_row(scene: str, folder: Path, frames: int) -> dict:
    from fields.datasets.capture.align import pose_errors
    from fields.datasets.capture.process import process_capture

    started = time.perf_counter()
    summary = process_capture("video", folder / "capture.mp4", folder / "processed", frames, None, "auto", True)
    truth = json.loads((folder / "truth.json").read_text())
    meta = json.loads((folder / "processed" / "transforms.json").read_text())
    est = {Path(f["file_path"]).stem: np.array(f["transform_matrix"])[:3] for f in meta["frames"]}
    names = [Path(f["file_path"]).stem for f in truth["frames"]]
    keep = [i for i, n in enumerate(names) if n in est]
    e = np.stack([est[names[i]] for i in keep])
    e[:, :, 1:3] *= -1
    errors = pose_errors(e, np.stack([np.array(truth["frames"][i]["c2w"]) for i in keep]))
    return {"scene": scene, "registered": summary.n_registered, "frames": summary.n_frames,
            "rotation_mean_deg": round(errors.rotation_mean_deg, 3),
            "rotation_max_deg": round(errors.rotation_max_deg, 3),
            "position_mean_pct": round(100 * errors.position_mean, 3),
            "position_max_pct": round(100 * errors.position_max, 3),
            "reprojection_px": round(summary.mean_reprojection_error, 3), "points": summary.n_points,
            "seconds": {k: round(v, 1) for k, v in summary.seconds.items()},
            "total_seconds": round(time.perf_counter() - started, 1)}


def perturbed_transforms(folder: Path, out: Path, degrees: float, extent_fraction: float, seed: int = 0) -> Path:
    """The true cameras with the training views' poses perturbed (test views, every 8th, kept true)."""
    from scipy.spatial.transform import Rotation

    from fields.datasets.capture.povray import write_truth_transforms

    out.mkdir(parents=True, exist_ok=True)
    (out / "images").exists() or (out / "images").symlink_to(folder / "images")
    (out / "truth.json").write_text((folder / "truth.json").read_text())
    path = write_truth_transforms(out)
    meta = json.loads(path.read_text())
    centres = np.array([f["transform_matrix"] for f in meta["frames"]])[:, :3, 3]
    extent = float(np.linalg.norm(centres.max(0) - centres.min(0)))
    rng = np.random.default_rng(seed)
    for i, frame in enumerate(meta["frames"]):
        if i % 8 == 0 or degrees == 0:
            continue
        c2w = np.array(frame["transform_matrix"])
        axis = rng.normal(size=3)
        c2w[:3, :3] = Rotation.from_rotvec(np.radians(degrees) * axis / np.linalg.norm(axis)).as_matrix() @ c2w[:3, :3]
        shift = rng.normal(size=3)
        c2w[:3, 3] += extent_fraction * extent * shift / np.linalg.norm(shift)
        frame["transform_matrix"] = c2w.tolist()
    path.write_text(json.dumps(meta, indent=1))
    return out


def fit_row(name: str, data: Path, overrides: list[str], minutes: float, runs: Path) -> dict:
    from fields.config.load import apply_overrides, read_yaml
    from fields.engine.scene import scene_from_dict
    from fields.engine.run import fit

    items = [f"data.path={data}", f"train.max_time={minutes * 60}", "train.steps=1000000", "train.progress=false",
             f"output.dir={runs}", f"output.name={name}", *overrides]
    scene = scene_from_dict(apply_overrides(read_yaml(CONFIG), items), base_dir=CONFIG.parent, source=str(CONFIG))
    run_dir, metrics = fit(scene, scene_name=name)
    return {"run": name, "steps": metrics["steps"], "train_seconds": round(metrics["train_seconds"], 1),
            "psnr": round(metrics["psnr"], 2), "ssim": round(metrics["ssim"], 4), "run_dir": str(run_dir)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", nargs="*", default=["garden", "plaza", "quarry"])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--arc", type=float, default=300.0, help="degrees walked around the objects")
    parser.add_argument("--fit-minutes", type=float, default=20.0)
    parser.add_argument("--no-fits", action="store_true")
    parser.add_argument("--perturb-deg", type=float, default=1.0)
    parser.add_argument("--perturb-extent", type=float, default=0.02)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    from fields.datasets.capture.povray import render_capture, write_truth_transforms

    width, height = (int(v) for v in args.size.split("x"))
    stamp = f"{_dt.datetime.now():%Y%m%d-%H%M%S}"
    work = args.out / f"captures-{stamp}"
    sfm, fits = [], []
    for scene in args.scenes:
        folder = render_capture(work / scene, scene, args.frames, width, height, arc=args.arc)
        try:
            sfm.append(sfm_row(scene, folder, args.frames))
        except Exception as err:  # a failed reconstruction is a row of the table, not the end of the run
            sfm.append({"scene": scene, "error": str(err).splitlines()[0]})
        print(sfm[-1], flush=True)
        if args.no_fits:
            continue
        runs = work / scene / "runs"
        if "error" not in sfm[-1]:
            fits.append({"scene": scene, **fit_row("sfm-contracted", folder / "processed", [], args.fit_minutes, runs)})
            fits.append({"scene": scene, **fit_row("sfm-bounded", folder / "processed", ["render.contraction=none"],
                                                   args.fit_minutes, runs)})
        write_truth_transforms(folder)
        plain = ["render.camera_opt=off"]
        fits.append({"scene": scene, **fit_row("true-poses", folder, plain, args.fit_minutes, runs)})
        noisy = perturbed_transforms(folder, work / scene / "perturbed", args.perturb_deg, args.perturb_extent)
        fits.append({"scene": scene, **fit_row("perturbed", noisy, plain, args.fit_minutes, runs)})
        fits.append({"scene": scene, **fit_row("perturbed-refined", noisy, [], args.fit_minutes, runs)})
        for row in fits[-5:]:
            print(row, flush=True)
    print(f"\ncaptures: {args.frames} frames at {args.size}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(f"{'scene':<10}{'registered':>12}{'rot mean/max deg':>18}{'pos mean/max %':>16}{'reproj px':>10}{'points':>8}"
          f"  seconds per stage")
    for r in sfm:
        if "error" in r:
            print(f"{r['scene']:<10}  error: {r['error']}")
            continue
        stages = ", ".join(f"{k} {v}" for k, v in r["seconds"].items())
        print(f"{r['scene']:<10}{r['registered']:>6}/{r['frames']:<5}"
              f"{r['rotation_mean_deg']:>9}/{r['rotation_max_deg']:<8}"
              f"{r['position_mean_pct']:>8}/{r['position_max_pct']:<7}{r['reprojection_px']:>10}{r['points']:>8}"
              f"  {stages}")
    if fits:
        print(f"\n{'scene':<10}{'run':<20}{'steps':>8}{'train s':>9}{'PSNR':>8}{'SSIM':>8}")
        for r in fits:
            print(f"{r['scene']:<10}{r['run']:<20}{r['steps']:>8}{r['train_seconds']:>9}{r['psnr']:>8}{r['ssim']:>8}")
    result = {"benchmark": "captures", "time": stamp, "machine": platform.platform(), "load": os.getloadavg()[0],
              "settings": {k: str(v) for k, v in vars(args).items()}, "sfm": sfm, "fits": fits}
    path = args.out / f"captures-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
