"""Evidence for NeuRBF, Gaussian RBFNet and CAM against their baselines, side by side in one run.

On four scikit-image images (natural: astronaut, coffee; text and line art: text, page), each cut to a
``size x size`` crop (natural images downscaled first, text kept at its native resolution so strokes
stay legible), every method trains with Adam:

- NeuRBF (kernels from weighted k-means, 2-level grid branch, sinusoidal decoder) against a hash grid +
  MLP at the same trainable parameter count (the kernel count is solved for the hash grid's budget);
- FFN (256 Fourier features, sigma 10, 3 x 256, sigmoid: the CAM paper's baseline) against FFN + CAM
  (32 x 32 grids, 10x learning rate), Adam 1e-3 with lr x0.1 at 50% and 75% of the steps;
- Gaussian RBFNet (multi-level low-resolution grids + 64 Gaussian units) against the hash grid, in PSNR
  and in training time until the PSNR first reaches ``--target`` (checked every ``--eval-every`` steps;
  the evaluation time is not counted);

and one real video clip (OpenCV's ``vtest.avi`` from the Debian package ``opencv-doc``; ``--video``
picks another file) fitted by the FFN over (x, y, t) with and without CAM along t.

The grid methods take ``--steps`` full-batch steps; the FFNs, whose 263k-parameter MLP costs about 30x
more per pixel on a CPU, take ``--ffn-steps`` steps of ``--ffn-batch`` random pixels (the paper: 2000
full-batch steps at 512^2, out of reach of a CPU). ``--jobs N`` runs N fits at a time in separate
processes (one thread each unless ``--threads``): quality at a fixed step count does not depend on it,
the times do (and on other load).

    python -m benchmarks.methods                      # 96 px crops: minutes on a CPU
    python -m benchmarks.methods --size 256 --steps 500 --ffn-steps 400 --jobs 2 --threads 1
    python -m benchmarks.methods --size 512 --steps 2000 --ffn-steps 2000 --ffn-batch 0 --device cuda

Prints a table and writes ``benchmarks/results/methods-<date>.json``. Timings on a shared CPU are noisy.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.method_fits import IMAGES, VIDEO, image_jobs, video_jobs

RESULTS = Path(__file__).resolve().parent / "results"


def train(task_name: str, data: dict, model: dict, lr: float, steps: int, args, encoder_lr: float | None = None,
          schedule: dict | None = None, batch: int | None = None) -> dict:
    """Fit with Adam on all samples (or ``batch`` random ones) per step; PSNR every ``eval_every`` steps."""
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # as fields.engine.run.fit: denormal Adam states slow CPUs down many times
    from fields.engine.scene import scene_from_dict
    from fields.tasks import TASKS
    from fields.tasks.schedules import lr_factor

    scene = scene_from_dict({"task": task_name, "data": data, "model": {**model, "output_activation": "sigmoid"},
                             "train": {"steps": steps, "optimizer": {"lr": lr, "encoder_lr": encoder_lr},
                                       "schedule": schedule or {"type": "constant"}, "progress": False}})
    torch.manual_seed(0)
    task = TASKS.get(task_name)(scene).to(args.device)
    started = time.perf_counter()
    task.on_fit_start()  # NeuRBF's k-means: counted in the training time
    field = task.field
    optimizer = torch.optim.Adam(field.param_groups(scene.train.optimizer), betas=(0.9, 0.99), eps=1e-15)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(scene.train.schedule, steps))
    n = task.pixels.shape[0]
    coords_of = task.pixel_coords if task_name == "image" else task.voxel_coords
    all_coords = coords_of(torch.arange(n, device=args.device))
    generator = torch.Generator(device=args.device).manual_seed(0)
    train_time, curve, reached = time.perf_counter() - started, [], None
    for step in range(1, steps + 1):
        t0 = time.perf_counter()
        if batch and batch < n:
            index = torch.randint(n, (batch,), generator=generator, device=args.device)
            coords, target = all_coords[index], task.pixels[index]
        else:
            coords, target = all_coords, task.pixels
        loss = torch.nn.functional.mse_loss(field(coords), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        if args.device == "cuda":
            torch.cuda.synchronize()
        train_time += time.perf_counter() - t0
        if step % args.eval_every == 0 or step == steps:
            psnr = task.evaluate()["psnr"]
            curve.append((step, round(train_time, 2), round(psnr, 3)))
            if reached is None and psnr >= args.target:
                reached = train_time
    return {"psnr": curve[-1][2], "params": field.n_params(), "train_seconds": round(train_time, 2),
            "seconds_to_target": None if reached is None else round(reached, 2), "curve": curve}



def run_job(job: dict) -> dict:
    result = train(*job["fit"])
    row = {**job["label"], **result}
    to_target = row["seconds_to_target"]
    print(f"{row['data']:10s} {row['method']:16s} {row['psnr']:7.2f} dB  {row['params']:8d} params  "
          f"{row['train_seconds']:7.1f} s  to target: {to_target}", flush=True)
    return row


def run_jobs(jobs: list[dict], n_jobs: int) -> list[dict]:
    """Run the fits, ``n_jobs`` at a time in separate processes (the slowest first); rows in job order."""
    if n_jobs <= 1:
        return [run_job(job) for job in jobs]
    import concurrent.futures as cf
    import multiprocessing as mp

    cost = {"ffn_cam": 4, "ffn_cam_t": 4, "ffn": 3, "ffn_t": 3, "neurbf": 2}
    order = sorted(range(len(jobs)), key=lambda i: -cost.get(jobs[i]["label"]["method"], 1))
    rows: list[dict | None] = [None] * len(jobs)
    with cf.ProcessPoolExecutor(n_jobs, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(run_job, jobs[i]): i for i in order}
        for future in cf.as_completed(futures):
            rows[futures[future]] = future.result()
    return [r for r in rows if r is not None]


def print_table(rows: list[dict], target: float) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="methods, side by side")
    for column in ("data", "method", "steps", "batch", "PSNR dB", "trainable params", "train s", f"s to {target:g} dB"):
        table.add_column(column, justify="left" if column in ("data", "method") else "right")
    for r in rows:
        to_target = "-" if r["seconds_to_target"] is None else f"{r['seconds_to_target']:.1f}"
        table.add_row(
            r["data"],
            r["method"],
            str(r["steps"]),
            str(r["batch"] or "all"),
            f"{r['psnr']:.2f}",
            str(r["params"]),
            f"{r['train_seconds']:.1f}",
            to_target,
        )
    Console(width=140).print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=96, help="image crop size")
    parser.add_argument("--steps", type=int, default=300, help="full-batch steps of the grid methods")
    parser.add_argument("--ffn-steps", type=int, default=300, help="steps of FFN and FFN + CAM")
    parser.add_argument("--ffn-batch", type=int, default=0, help="random pixels per FFN step; 0: all")
    parser.add_argument("--images", nargs="+", default=list(IMAGES))
    parser.add_argument("--methods", nargs="+", default=["hashgrid", "neurbf", "gaussian_rbfnet", "ffn", "ffn_cam"])
    parser.add_argument("--target", type=float, default=30.0, help="PSNR for the time-to-target column")
    parser.add_argument("--eval-every", type=int, default=25)
    parser.add_argument("--video", default=VIDEO)
    parser.add_argument("--video-frames", type=int, default=16)
    parser.add_argument("--video-size", type=int, default=64)
    parser.add_argument("--video-batch", type=int, default=16384)
    parser.add_argument("--video-steps", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=1, help="fits run at a time, in separate processes")
    parser.add_argument("--no-video", action="store_true")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        jobs = image_jobs(args, Path(folder))
        if not args.no_video:
            jobs += video_jobs(args)
        rows = run_jobs(jobs, args.jobs)
    print(f"wall time {time.perf_counter() - started:.0f} s with {args.jobs} job(s) at a time")
    print_table(rows, args.target)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"methods-{_dt.datetime.now():%Y%m%d-%H%M%S}.json"
    meta = {k: v for k, v in vars(args).items()}
    meta.update(torch=torch.__version__, threads=torch.get_num_threads(), load_average_at_end=os.getloadavg(),
                note="CPU shared with other jobs: timings are noisy")
    out.write_text(json.dumps({"config": meta, "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
