"""Splat rasterizer benchmark (issue 14): one view, forward and forward+backward, side by side in one run.

    python -m benchmarks.splats              # 200x200 and 800x800, 100k and 1M Gaussians (see the docstring of main)
    python -m benchmarks.splats --smoke      # tiny sizes, seconds: checks that the script runs
    python -m benchmarks.splats --sizes 200 --counts 100000 --backends torch,cpp

Backends (rows): ``torch`` (the plain-PyTorch reference), ``cpp`` (the fused C++/OpenMP kernel), ``gsplat-torch``
(gsplat's plain-PyTorch reference functions that run on a CPU: ``_fully_fused_projection``, projection only;
its compositing reference ``_rasterize_to_pixels`` calls gsplat's CUDA ``rasterize_to_indices_in_range`` and
nerfacc, and ``_isect_tiles`` is a Python loop per Gaussian, so neither is timed), and on CUDA ``triton`` and
``gsplat``. Columns: projection alone, the whole render (projection + binning + compositing) forward, and
forward+backward to every Gaussian parameter, in milliseconds, with the speed-up over ``torch`` and the error of
the image against ``torch``. The scene: Gaussians on a sphere and a back wall filling the view, sized so the
surfaces are just covered (as after training), random anisotropic scales and rotations, opacities 0.3-1.

Timings are medians of ``--reps`` runs after a warm-up; a run slower than ``--slow-s`` is timed once. Writes
``benchmarks/results/splats-<time>.json`` (and ``--out``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import logging
import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

RESULTS = Path(__file__).resolve().parent / "results"
NAMES = ("means", "quats", "scales", "opacities", "colors")


def benchmark_scene(n: int, size: int, device: torch.device, seed: int = 0) -> dict[str, Any]:
    """``n`` Gaussians on a sphere (radius 1.5, centre z = 0) and a wall (z = 2) seen from z = -4, 60 degrees."""
    g = torch.Generator().manual_seed(seed)
    n_sphere = n * 28 // 64  # areas: sphere 28, wall 36
    d = torch.randn(n_sphere, 3, generator=g)
    sphere = 1.5 * d / d.norm(dim=-1, keepdim=True)
    wall = torch.cat((torch.rand(n - n_sphere, 2, generator=g) * 6 - 3, torch.full((n - n_sphere, 1), 2.0)), 1)
    means = torch.cat((sphere, wall))
    sigma = 0.5 * math.sqrt(64.0 / max(n, 1))
    scales = sigma * (0.3 + 1.2 * torch.rand(n, 3, generator=g))
    viewmat = torch.eye(4)
    viewmat[2, 3] = 4.0
    f = 0.5 * size / math.tan(math.radians(30))
    K = torch.tensor([[f, 0, size / 2], [0, f, size / 2], [0, 0, 1]])
    scene = {"means": means, "quats": torch.randn(n, 4, generator=g), "scales": scales,
             "opacities": 0.3 + 0.7 * torch.rand(n, generator=g), "colors": torch.rand(n, 3, generator=g),
             "viewmat": viewmat, "K": K}  # fmt: skip
    return {k: v.to(device) for k, v in scene.items()}


def timed(fn: Callable[[], Any], reps: int, slow_s: float, device: torch.device) -> tuple[float, int]:
    """Median seconds of ``fn`` and the number of timed runs (1 when the warm-up took over ``slow_s``)."""
    def once() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    first = once()
    if first > slow_s:
        return first, 1
    return statistics.median(once() for _ in range(reps)), reps


def render_fns(backend: str, scene: dict, size: int):
    """(projection, projection+backward, forward, forward+backward) callables of one backend."""
    from fields.render.splat import project_gaussians, rasterize_gaussians

    leaves = {k: scene[k].clone().requires_grad_() for k in NAMES}
    cam = (scene["viewmat"], scene["K"])
    if backend == "gsplat-torch":
        from gsplat.cuda._torch_impl import _fully_fused_projection, _quat_scale_to_covar_preci

        def project():
            covars, _ = _quat_scale_to_covar_preci(leaves["quats"], leaves["scales"], True, False)
            return _fully_fused_projection(leaves["means"], covars, cam[0][None], cam[1][None], size, size)

        def project_backward():
            _, means2d, depths, conics, _ = project()
            (means2d.sum() + conics.sum() + depths.sum()).backward()

        return project, project_backward, None, None

    def project():
        return project_gaussians(leaves["means"], leaves["quats"], leaves["scales"], *cam, size, size)

    def project_backward():
        p = project()
        (p.means2d.sum() + p.conics.sum() + p.depths.sum()).backward()

    def render():
        return rasterize_gaussians(**leaves, viewmat=cam[0], K=cam[1], width=size, height=size,
                                   background=torch.ones(3, device=cam[0].device), backend=backend)

    weights = torch.rand(size, size, 3, generator=torch.Generator().manual_seed(1)).to(cam[0].device)

    def forward():
        with torch.no_grad():
            return render()

    def forward_backward():
        r = render()
        ((r.rgb * weights).sum() + r.depth.mean() + r.alpha.sum()).backward()
        for t in leaves.values():
            t.grad = None

    return project, project_backward, forward, forward_backward


def run_rows(args, device: torch.device) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for size in args.sizes:
        for n in args.counts:
            scene = benchmark_scene(n, size, device)
            reference = None
            for backend in args.backends:
                row: dict[str, Any] = {"view": f"{size}x{size}", "gaussians": n, "backend": backend}
                try:
                    project, project_backward, forward, forward_backward = render_fns(backend, scene, size)
                    with torch.no_grad():
                        row["project_ms"] = round(1e3 * timed(project, args.reps, args.slow_s, device)[0], 2)
                    row["project_bwd_ms"] = round(1e3 * timed(project_backward, args.reps, args.slow_s, device)[0], 2)
                    if forward is not None:
                        t_fwd, reps_fwd = timed(forward, args.reps, args.slow_s, device)
                        t_both, reps_both = timed(forward_backward, args.reps, args.slow_s, device)
                        out = forward()
                        row.update(fwd_ms=round(1e3 * t_fwd, 1), fwd_bwd_ms=round(1e3 * t_both, 1),
                                   runs=min(reps_fwd, reps_both), backend_used=out.backend,
                                   visible=int((out.radii > 0).sum()))  # fmt: skip
                        if backend == "torch":
                            reference = (out.rgb, row)
                        elif reference is not None:
                            ref_rgb, ref_row = reference
                            row["rgb_max_err"] = float((out.rgb - ref_rgb).abs().max())
                            row["fwd_speedup"] = round(ref_row["fwd_ms"] / row["fwd_ms"], 1)
                            row["fwd_bwd_speedup"] = round(ref_row["fwd_bwd_ms"] / row["fwd_bwd_ms"], 1)
                    else:
                        row["note"] = "projection only (its compositing reference needs CUDA ops and nerfacc)"
                except Exception as err:  # noqa: BLE001  (a backend that cannot run here is a row with a note)
                    row["note"] = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:160]
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def print_table(rows: list[dict[str, Any]], header: str) -> None:
    print(f"\n{header}")
    print(f"{'view':<10}{'gaussians':>11}  {'backend':<14}{'proj':>9}{'proj+bwd':>10}{'fwd':>11}{'fwd+bwd':>11}"
          f"{'x fwd':>8}{'x f+b':>8}  notes (ms; x: speed-up over torch)")  # fmt: skip
    for r in rows:
        cells = [f"{r.get(k, '-'):>{w}}" for k, w in (("project_ms", 9), ("project_bwd_ms", 10), ("fwd_ms", 11),
                                                      ("fwd_bwd_ms", 11), ("fwd_speedup", 8), ("fwd_bwd_speedup", 8))]
        notes = r.get("note", "")
        if "rgb_max_err" in r:
            notes = f"rgb err {r['rgb_max_err']:.1e} " + notes
        if r.get("runs") == 1:
            notes += " (timed once)"
        print(f"{r['view']:<10}{r['gaussians']:>11,}  {r['backend']:<14}{''.join(cells)}  {notes}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check that the script runs")
    parser.add_argument("--sizes", default="200,800", help="square view sizes in pixels")
    parser.add_argument("--counts", default="100000,1000000", help="numbers of Gaussians")
    parser.add_argument("--backends", default=None,
                        help="default: torch,cpp,gsplat-torch (CPU); + triton,gsplat (CUDA)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--slow-s", type=float, default=20.0, help="a warm-up slower than this is the only run")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here (a folder)")
    args = parser.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if args.backends is None:
        args.backends = "torch,cpp,gsplat-torch" + (",triton,gsplat" if device.type == "cuda" else "")
    args.backends = args.backends.split(",")
    args.sizes = [24, 40] if args.smoke else [int(s) for s in args.sizes.split(",")]
    args.counts = [60, 200] if args.smoke else [int(c) for c in args.counts.split(",")]
    if args.smoke:
        args.reps = 1
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    started, stamp = time.perf_counter(), f"{_dt.datetime.now():%Y%m%d-%H%M%S}"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    machine = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.processor() or 'cpu'}"
    report: dict[str, Any] = {"benchmark": "splats", "time": stamp, "machine": machine,
                              "threads": torch.get_num_threads(), "torch": torch.__version__,
                              "load_average_at_start": load, "smoke": args.smoke}  # fmt: skip
    report["rows"] = run_rows(args, device)
    report["seconds"] = round(time.perf_counter() - started, 1)
    for folder in [RESULTS] + ([args.out] if args.out else []):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"splats-{stamp}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    print_table(report["rows"], f"fields splat benchmark, {machine}, {torch.get_num_threads()} threads, torch "
                f"{torch.__version__}, load {load:.2f} at start, {report['seconds']:.0f} s"
                f"{' (smoke sizes)' if args.smoke else ''}")  # fmt: skip
    return report


if __name__ == "__main__":
    main()


def gpu_rows(smoke: bool, device: torch.device, bench: Callable[[Callable[[], Any], torch.device, int], float],
             reps: int) -> list[dict[str, Any]]:
    """The ``splat`` section of ``benchmarks/gpu.py``: one 800x800 view, 100k and 1M Gaussians, forward and
    forward+backward for torch (100k only: it is slow), triton and gsplat (CUDA), error of the image to torch."""
    cases = [(24, 120)] if smoke else [(800, 100_000), (800, 1_000_000)]
    backends = ["torch", "triton"] + (["gsplat"] if device.type == "cuda" else [])
    rows = []
    for size, n in cases:
        scene = benchmark_scene(n, size, device)
        reference = None
        for backend in backends:
            row: dict[str, Any] = {"section": "splat", "row": f"splat {size}x{size}, {n:,} Gaussians",
                                   "backend": backend}
            try:
                if backend == "torch" and n > 100_000:
                    raise RuntimeError("skipped: the torch reference is too slow at this size")
                _, _, forward, forward_backward = render_fns(backend, scene, size)
                out = forward()
                if out.backend != backend:
                    raise RuntimeError(f"{backend} did not run (backend used: {out.backend})")
                t_fwd = bench(forward, device, reps)
                t_both = bench(forward_backward, device, reps)
                row.update(fwd_ms=round(t_fwd * 1e3, 3), fwd_bwd_ms=round(t_both * 1e3, 3))
                if reference is None:
                    reference = out.rgb
                else:
                    row["rel_err"] = float((out.rgb - reference).norm() / reference.norm())
            except Exception as err:  # noqa: BLE001  (a backend that does not build or run here: a row with a note)
                row["note"] = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:160]
            rows.append(row)
            print(row, flush=True)
    return rows
