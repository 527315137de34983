"""Capture benchmark: from a generated video to cameras and a radiance field, per POV-Ray scene.

    python -m benchmarks.captures                                   # 3 scenes, 150 frames at 320x240, 20 min fits
    python -m benchmarks.captures --quick        # smoke run: quarry, 60 frames at 160x120, 100 steps per fit
    python -m benchmarks.captures --steps 2000   # fixed step counts (quality does not depend on the load)
    python -m benchmarks.captures --no-fits                          # structure from motion only
    python -m benchmarks.captures --no-fits --seed 1                 # other walks (captures nobody tuned on)
    python -m benchmarks.captures --scenes garden --fits sfm-contracted,sfm-bounded   # some of the fits

Per scene: the walk is rendered (numbered PNGs and an MP4; the true cameras kept aside), then
``fields process video`` on the MP4 alone (``--frames`` = the rendered count, so frame k is truth k):
frames registered, rotation and position errors after a similarity alignment to the truth (position as
a fraction of the extent of the true camera centres), reprojection error, seconds per stage. Fits
(``configs/radiance/capture.yaml``, every 8th frame held out, ``--fit-minutes`` or ``--steps`` each): on
the SfM poses with the L-infinity contraction, with the bounded box (``render.contraction=none``) and as
splats from the SfM points (``configs/splat/colmap.yaml``); on the true poses without and with pose
refinement (its drift), and on poses perturbed by ``--perturb-deg`` degrees and ``--perturb-extent`` of the
extent (training views only) without and with it, and (``perturbed-ba``) on those perturbed poses after
``fields process poses`` (feature tracks and bundle adjustment from the given poses), with the recipe (which
leaves bundle-adjusted poses alone; ``REFINED`` turns SO3xR3 on for the refinement rows); refined runs
report their training cameras' errors against the truth before and after.
CPU timings move with the machine's load: report it too.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


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


RADIANCE = ROOT / "configs" / "radiance" / "capture.yaml"
# the recipe leaves the poses of `fields process` alone; the refinement rows turn SO3xR3 on and score the
# held-out views after fitting their poses too (BARF's protocol: the refined cameras' frame moves)
REFINED = ["render.camera_opt=SO3xR3", "render.eval_pose_align=100"]
SPLAT = ROOT / "configs" / "splat" / "colmap.yaml"
# --quick: a small field and batch, so that every row runs in a minute or two on a busy 2-core CPU
QUICK_RADIANCE = ["train.batch_size=512", "model.encoder.log2_hashmap_size=16", "model.encoder.max_resolution=1024",
                  "render.proposal_samples=[96, 48]", "render.n_samples=32", "render.camera_opt_delay=20"]
FITS = ("sfm-contracted", "sfm-bounded", "sfm-splat", "true-poses", "true-refined", "perturbed", "perturbed-refined",
        "perturbed-ba")
QUICK_SPLAT = ["render.strategy.refine_start=100", "render.strategy.refine_every=50",
               "render.strategy.reset_every=3000", "model.sh_increase_every=200"]


def refined_errors(run_dir: Path, truth: Path) -> dict:
    """Rotation (degrees, less the common turn) and position (% of the extent, after a similarity alignment)
    errors of the run's training cameras against the truth: as given to the fit, and as refined by it."""
    from fields.datasets.capture.align import pose_errors, rotation_errors_deg
    from fields.engine.run import load_run

    _, task = load_run(run_dir)
    true = np.array([f["c2w"] for f in json.loads(truth.read_text())["frames"]])[task.views.train]
    row = {}
    for key, cams in (("given", task.cameras), ("refined", task.refined_cameras())):
        c2w = cams.to_opencv().c2w.double().numpy()[task.views.train]
        rotation = float(rotation_errors_deg(c2w, true).mean())  # less the common turn (a gauge freedom)
        row[f"{key}_rot_deg"] = round(rotation, 3)
        row[f"{key}_pos_pct"] = round(100 * pose_errors(c2w, true).position_mean, 3)
    return row


def fit_row(name: str, data: Path, overrides: list[str], budget: dict, runs: Path, config: Path = RADIANCE,
            truth: Path | None = None) -> dict:
    """One fit: ``budget`` is ``{"steps": n}`` (a fixed step count) or ``{"minutes": m}`` (a time budget)."""
    from fields.config.load import apply_overrides, read_yaml
    from fields.engine.run import fit
    from fields.engine.scene import scene_from_dict

    limit = ([f"train.steps={budget['steps']}", "train.max_time=null"] if "steps" in budget
             else [f"train.max_time={budget['minutes'] * 60}", "train.steps=1000000"])
    items = [f"data.path={data}", *limit, "train.progress=false", f"output.dir={runs}", f"output.name={name}",
             *overrides]
    scene = scene_from_dict(apply_overrides(read_yaml(config), items), base_dir=config.parent, source=str(config))
    started = time.perf_counter()
    run_dir, metrics = fit(scene, scene_name=name)
    row = {"run": name, "steps": metrics["steps"], "train_seconds": round(metrics["train_seconds"], 1),
           "psnr": round(metrics["psnr"], 2), "ssim": round(metrics["ssim"], 4), "run_dir": str(run_dir),
           "load": round(os.getloadavg()[0], 1), "wall_seconds": round(time.perf_counter() - started, 1)}
    if "psnr_aligned" in metrics:  # render.eval_pose_align: the test views' poses fitted first (BARF's protocol)
        row.update(psnr_aligned=round(metrics["psnr_aligned"], 2), ssim_aligned=round(metrics["ssim_aligned"], 4))
    if truth is not None and "camera_opt=off" not in " ".join(overrides):
        row.update(refined_errors(run_dir, truth))
    return row


def scene_fits(scene: str, folder: Path, work: Path, sfm_ok: bool, args) -> list[dict]:
    """The fits of one scene (see the module docstring)."""
    from fields.datasets.capture.perturb import perturb_transforms
    from fields.datasets.capture.povray import write_truth_transforms

    budget = {"steps": args.steps} if args.steps else {"minutes": args.fit_minutes}
    quick, splat_quick = (QUICK_RADIANCE, QUICK_SPLAT) if args.quick else ([], [])
    quick = [*quick, *args.set]  # the radiance fits' overrides (candidates of the capture recipe)
    runs, rows = work / scene / "runs", []

    def add(name, *row_args, **row_kwargs) -> None:
        if name not in args.fits:
            return
        rows.append({"scene": scene, **fit_row(name, *row_args, **row_kwargs)})
        print(rows[-1], flush=True)

    if sfm_ok:
        processed = folder / "processed"
        add("sfm-contracted", processed, quick, budget, runs)
        add("sfm-bounded", processed, [*quick, "render.contraction=none"], budget, runs)
        add("sfm-splat", processed, ["data.downscale=1", *splat_quick], budget, runs, config=SPLAT)
    write_truth_transforms(folder)
    truth = folder / "truth.json"
    add("true-poses", folder, [*quick, "render.camera_opt=off"], budget, runs)
    add("true-refined", folder, [*quick, *REFINED], budget, runs, truth=truth)
    noisy = perturb_transforms(folder, work / scene / "perturbed", args.perturb_deg, args.perturb_extent)
    add("perturbed", noisy, [*quick, "render.camera_opt=off"], budget, runs)
    add("perturbed-refined", noisy, [*quick, *REFINED], budget, runs, truth=truth)
    if "perturbed-ba" in args.fits:
        from fields.datasets.capture.process import process_posed

        adjusted = process_posed(noisy, work / scene / "perturbed-ba", overwrite=True)
        print({"scene": scene, "process poses": adjusted.poses, "seconds": adjusted.seconds}, flush=True)
        add("perturbed-ba", work / scene / "perturbed-ba", quick, budget, runs, truth=truth)
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", nargs="*", default=["garden", "plaza", "quarry"])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--arc", type=float, default=300.0, help="degrees walked around the objects")
    parser.add_argument("--seed", type=int, default=0, help="another walk and object layout of each scene")
    parser.add_argument("--fit-minutes", type=float, default=20.0)
    parser.add_argument("--steps", type=int, default=0, help="fixed step counts instead of --fit-minutes")
    parser.add_argument("--quick", action="store_true",
                        help="one scene, 60 frames at 160x120, 100 steps, a smaller field and batch (a smoke run)")
    parser.add_argument("--no-fits", action="store_true")
    parser.add_argument("--fits", default=",".join(FITS),
                        help=f"comma-separated runs of each scene (default all): {', '.join(FITS)}")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="overrides of configs/radiance/capture.yaml for every radiance fit")
    parser.add_argument("--perturb-deg", type=float, default=1.0)
    parser.add_argument("--perturb-extent", type=float, default=0.02)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    args.fits = [name.strip() for name in args.fits.split(",") if name.strip()]
    unknown = sorted(set(args.fits) - set(FITS))
    if unknown:
        parser.error(f"unknown fits {', '.join(unknown)}; valid: {', '.join(FITS)}")
    if args.quick:
        given = set(argv if argv is not None else sys.argv[1:])
        args.scenes = args.scenes if "--scenes" in given else ["quarry"]
        args.frames = args.frames if "--frames" in given else 60
        args.size = args.size if "--size" in given else "160x120"
        args.steps = args.steps or 100
    from fields.datasets.capture.povray import render_capture

    width, height = (int(v) for v in args.size.split("x"))
    stamp = f"{_dt.datetime.now():%Y%m%d-%H%M%S}"
    work = args.out / f"captures-{stamp}"
    sfm, fits = [], []
    for scene in args.scenes:
        folder = render_capture(work / scene, scene, args.frames, width, height, seed=args.seed, arc=args.arc)
        try:
            sfm.append(sfm_row(scene, folder, args.frames))
        except Exception as err:  # a failed reconstruction is a row of the table, not the end of the run
            sfm.append({"scene": scene, "error": str(err).splitlines()[0]})
        print(sfm[-1], flush=True)
        if not args.no_fits:
            fits += scene_fits(scene, folder, work, "error" not in sfm[-1], args)
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
        print(f"\n{'scene':<10}{'run':<20}{'steps':>8}{'train s':>9}{'load':>6}{'PSNR':>8}{'SSIM':>8}{'aligned':>9}"
              f"{'rot deg given -> refined':>26}{'pos % given -> refined':>24}")
        for r in fits:
            poses = (f"{r['given_rot_deg']:>12} -> {r['refined_rot_deg']:<10}{r['given_pos_pct']:>11} -> "
                     f"{r['refined_pos_pct']:<9}" if "refined_rot_deg" in r else "")
            print(f"{r['scene']:<10}{r['run']:<20}{r['steps']:>8}{r['train_seconds']:>9}{r['load']:>6}{r['psnr']:>8}"
                  f"{r['ssim']:>8}{r.get('psnr_aligned', '-'):>9}{poses}")
    result = {"benchmark": "captures", "time": stamp, "machine": platform.platform(), "load": os.getloadavg()[0],
              "settings": {k: str(v) for k, v in vars(args).items()}, "sfm": sfm, "fits": fits}
    path = args.out / f"captures-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
