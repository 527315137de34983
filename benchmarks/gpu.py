"""GPU benchmark of the fast path (issue 8): one table, side by side, in one run (under 5 minutes on an H100).

    python -m benchmarks.gpu                     # on a CUDA machine
    python -m benchmarks.gpu --smoke             # tiny sizes; runs on CPU (Triton rows need TRITON_INTERPRET=1)
    python -m benchmarks.gpu --sections grid,volume --out DIR

Sections:
1. ``grid``: hash grid 3D, 16 levels x 2 features, 2^19 table (``benchmarks.encoders.TARGET``), 1M and 4M
   points: forward and forward+backward (table gradient) in Mpt/s for torch eager, ``torch.compile``, Triton
   (after a short sweep of its launch shape) and tiny-cuda-nn if it imports; Triton's relative error to torch.
2. ``volume``: volume-rendering weights forward+backward on 10M packed samples (rays of 1-256 samples),
   torch reference against Triton.
3. ``image``: image fit of astronaut (512 px), steps/s and training time to 40 dB, Triton on and off.
4. ``splat``: Gaussian splatting, one 800x800 view with 100k and 1M Gaussians, forward and forward+backward:
   torch reference (100k), Triton and gsplat if it builds (``benchmarks.splats.gpu_rows``).
5. ``radiance``: the generated scene (``configs/radiance/synthetic.yaml``): training samples/s and time to a
   test PSNR, Triton on and off (the scene must be generated already where trimesh is missing:
   ``FIELDS_CACHE`` points at it).
Timings: medians of CUDA-event timings (``triton.testing.do_bench`` on CUDA). Writes
``benchmarks/results/gpu-<time>.json`` (and ``--out``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import logging
import platform
import time
from pathlib import Path
from typing import Any, Callable

import torch

from benchmarks.gpu_fits import image_fit, radiance_fit, triton_enabled

RESULTS = Path(__file__).resolve().parent / "results"
LAUNCH_SHAPES = [(128, 4), (256, 4), (256, 8), (64, 2)]  # (BLOCK, num_warps) tried for the grid kernel


def sig(value: float) -> float:
    """Four significant digits."""
    return float(f"{value:.4g}")


def bench(fn: Callable[[], Any], device: torch.device, reps: int) -> float:
    """Median seconds of ``fn`` after a warm-up."""
    if device.type == "cuda":
        from triton.testing import do_bench

        return do_bench(fn, warmup=25, rep=max(reps * 10, 50), return_mode="median") / 1e3
    from benchmarks.encoders import median_seconds

    return median_seconds(fn, reps)


def grid_rows(args, device: torch.device, which: tuple[str, ...]) -> list[dict[str, Any]]:
    from benchmarks.encoders import TARGET
    from fields.encoders import ENCODERS

    def make(backend: str, like=None):
        grid = ENCODERS.build(ENCODERS.validate({"type": "hashgrid", **TARGET, "backend": backend}), 3).to(device)
        with torch.no_grad():
            grid.params.uniform_(-1, 1) if like is None else grid.params.copy_(like.params)
        return grid

    reference = make("torch")
    candidates: list[tuple[str, Callable]] = [
        ("torch eager", lambda: reference),
        ("triton", lambda: make("triton", reference)),
    ]
    if device.type == "cuda":
        candidates.append(("tcnn", lambda: make("tcnn", reference)))
    candidates.append(("torch.compile", lambda: torch.compile(reference)))
    candidates = [c for c in candidates if c[0] in which]
    rows = []
    for n in args.points:
        xs = [torch.rand(n, 3, device=device) for _ in range(2)]  # alternate two input sets
        grad = torch.randn(n, reference.out_dim, device=device)
        state = {"i": 0}

        def x_next():
            state["i"] ^= 1
            return xs[state["i"]]

        expected = reference(xs[0]).detach()
        for label, build in candidates:
            row: dict[str, Any] = {"section": "grid", "row": f"hashgrid 3D L16 F2 2^19, {n:,} pts", "backend": label}
            try:
                model = build()
                if label == "triton" and n == args.points[0] and args.sweep:
                    row["launch_sweep"] = sweep(model, x_next, grad, device, args.reps)
                def forward_backward():
                    model(x_next()).backward(grad)
                    reference.params.grad = None
                    getattr(model, "params", reference.params).grad = None

                with torch.no_grad():
                    out = model(xs[0])
                    t_fwd = bench(lambda: model(x_next()), device, args.reps)
                if label in ("triton", "tcnn") and getattr(model, "backend_in_use", label) != label:
                    raise RuntimeError(f"{label} did not run (backend in use: {model.backend_in_use})")
                t_both = bench(forward_backward, device, args.reps)
                row.update(fwd_ms=round(t_fwd * 1e3, 3), fwd_mpts=sig(n / t_fwd / 1e6),
                           fwd_bwd_ms=round(t_both * 1e3, 3), fwd_bwd_mpts=sig(n / t_both / 1e6),
                           rel_err=float((out.float() - expected).norm() / expected.norm()))  # fmt: skip
            except Exception as err:  # a backend that does not build or run here is a row with a note
                row["note"] = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:160]
            rows.append(row)
            print(row, flush=True)
    return rows


def sweep(model, x_next, grad, device, reps) -> list[dict[str, Any]]:
    """Time forward+backward for each launch shape; leave the fastest in ``triton_grid.LAUNCH``."""
    from fields.kernels import triton_grid

    results = []
    for block, warps in LAUNCH_SHAPES:
        triton_grid.LAUNCH.update(BLOCK=block, num_warps=warps)

        def step():
            model(x_next()).backward(grad)
            model.params.grad = None

        results.append({"BLOCK": block, "num_warps": warps, "fwd_bwd_ms": round(bench(step, device, reps) * 1e3, 3)})
    best = min(results, key=lambda r: r["fwd_bwd_ms"])
    triton_grid.LAUNCH.update(BLOCK=best["BLOCK"], num_warps=best["num_warps"])
    return results


def volume_rows(args, device: torch.device) -> list[dict[str, Any]]:
    from fields.kernels import triton_volume

    n = args.samples
    counts = torch.randint(1, 257, (n // 128 + 1,))
    counts = counts[: int((counts.cumsum(0) < n).sum()) + 1]
    counts[-1] -= int(counts.sum()) - n
    ray_indices = torch.repeat_interleave(torch.arange(len(counts)), counts).to(device)
    sd = (torch.rand(n, device=device) * 0.1).requires_grad_(True)
    grad_w = torch.randn(n, device=device)
    rows = []
    for label in ("torch", "triton"):
        def forward():
            if label == "torch":
                return triton_volume._reference(sd, ray_indices)
            out = triton_volume.weights_from_sigma_delta(sd, ray_indices, required=True)
            if out is None:
                raise RuntimeError("the triton kernel cannot run here (no CUDA, no TRITON_INTERPRET=1, or no triton)")
            return out

        def forward_backward():
            forward()[0].backward(grad_w)
            sd.grad = None

        row: dict[str, Any] = {
            "section": "volume",
            "row": f"weights, {n:,} packed samples, {len(counts):,} rays",
            "backend": label,
        }
        try:
            with triton_enabled(True), torch.no_grad():
                t_fwd = bench(forward, device, args.reps)
            with triton_enabled(True):
                t_both = bench(forward_backward, device, args.reps)
            row.update(fwd_ms=round(t_fwd * 1e3, 3), fwd_msamples=sig(n / t_fwd / 1e6),
                       fwd_bwd_ms=round(t_both * 1e3, 3), fwd_bwd_msamples=sig(n / t_both / 1e6))  # fmt: skip
        except Exception as err:
            row["note"] = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:160]
        rows.append(row)
        print(row, flush=True)
    return rows


def fit_rows(args, device: torch.device, rows: list[dict[str, Any]], save: Callable[[], None]) -> None:
    """Append the image and radiance rows to ``rows`` (Triton off, then on), saving after each."""
    for on in (False, True):
        label = "triton" if on else "torch"
        for section in ("image", "radiance"):
            if section not in args.sections:
                continue
            row: dict[str, Any] = {"section": section, "paths": label}
            try:
                if section == "image":
                    encoder = {"type": "hashgrid", "n_levels": 16, "n_features_per_level": 2, "log2_hashmap_size": 19,
                               "base_resolution": 16, "max_resolution": args.image_size}  # fmt: skip
                    row.update(image_fit(encoder, "astronaut", args.image_size, args.image_batch, args.image_seconds,
                                         args.image_target, args.image_eval_every, device, on))  # fmt: skip
                else:
                    row.update(radiance_fit(args.radiance_seconds, args.radiance_target, args.radiance_eval_every,
                                            args.radiance_size, args.radiance_views, max(1, args.radiance_views // 5),
                                            args.radiance_rays, device, on))  # fmt: skip
            except Exception as err:  # one failing fit must not cost the rest of the table
                row.update(
                    row=f"{section} fit",
                    note=f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:160],
                )
            rows.append(row)
            print(row, flush=True)
            save()


def print_table(rows: list[dict[str, Any]], header: str) -> None:
    print(f"\n{header}")
    print(f"{'row':<52}{'backend':<15}{'fwd':>12}{'fwd+bwd':>12}  unit / notes")
    for r in rows:
        if r["section"] in ("grid", "volume"):
            unit = "Mpt/s" if r["section"] == "grid" else "Msamples/s"
            key = "mpts" if r["section"] == "grid" else "msamples"
            if "note" in r:
                print(f"{r['row']:<52}{r['backend']:<15}{'-':>12}{'-':>12}  {r['note']}")
            else:
                err = f", err {r['rel_err']:.1e}" if "rel_err" in r else ""
                print(f"{r['row']:<52}{r['backend']:<15}{r['fwd_' + key]:>12}{r['fwd_bwd_' + key]:>12}  {unit}{err}")
        elif r["section"] == "splat":
            err = f", err {r['rel_err']:.1e}" if "rel_err" in r else ""
            times = [f"{r[k]:>12}" if k in r else f"{'-':>12}" for k in ("fwd_ms", "fwd_bwd_ms")]
            print(f"{r['row']:<52}{r['backend']:<15}{''.join(times)}  {r.get('note', 'ms' + err)}")
        elif "note" in r:
            print(f"{r.get('row', r['section']):<52}{r['paths']:<27}  {r['note']}")
        else:
            speed = f"{r['steps_per_s']} steps/s" if "steps_per_s" in r else f"{r['samples_per_s']:,} samples/s"
            reach = "not reached" if r["time_to_target_s"] is None else f"{r['time_to_target_s']} s"
            print(f"{r['row']:<52}{r['paths'] + ' (' + str(r['backend']) + ')':<27}  {speed}, {r['steps']} steps "
                  f"in {r['seconds']} s, PSNR {r['psnr']}, to {r['target_psnr']} dB: {reach}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (CPU-friendly), to check the script runs")
    parser.add_argument("--sections", default="grid,volume,splat,image,radiance")
    parser.add_argument("--no-compile", dest="compile", action="store_false", help="skip the torch.compile rows")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here (a folder)")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--budget-s", type=float, default=270.0, help="the torch.compile rows run only inside it")
    args = parser.parse_args(argv)
    smoke = args.smoke
    args.points = [300] if smoke else [2**20, 2**22]
    args.samples = 3000 if smoke else 10_000_000
    args.image_size, args.image_batch = (32, 512) if smoke else (512, 2**18)
    args.image_seconds, args.image_target, args.image_eval_every = (2.0, 20.0, 5) if smoke else (20.0, 40.0, 50)
    args.radiance_seconds, args.radiance_target, args.radiance_eval_every = (
        (2.0, 12.0, 1.0) if smoke else (30.0, 28.0, 10.0)
    )
    args.radiance_size, args.radiance_views, args.radiance_rays = (24, 5, 128) if smoke else (200, 100, 4096)
    args.sweep = not smoke
    if smoke:
        args.reps, args.compile = 1, False
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    started, stamp = time.perf_counter(), f"{_dt.datetime.now():%Y%m%d-%H%M%S}"
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    try:
        import triton

        triton_version = triton.__version__
    except ImportError:
        triton_version = None
    rows: list[dict[str, Any]] = []
    report = {"benchmark": "gpu", "time": stamp, "card": card, "torch": torch.__version__, "triton": triton_version,
              "smoke": smoke, "rows": rows}  # fmt: skip

    def save() -> None:  # after every section, so a run cut short keeps what it measured
        order = ["grid", "volume", "splat", "image", "radiance"]
        rows.sort(key=lambda r: order.index(r["section"]))  # stable: keeps each section's order
        report["seconds"] = round(time.perf_counter() - started, 1)
        for folder in [RESULTS] + ([args.out] if args.out else []):
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"gpu-{stamp}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")

    if "grid" in args.sections:
        rows += grid_rows(args, device, ("torch eager", "triton", "tcnn"))
        save()
    if "volume" in args.sections:
        rows += volume_rows(args, device)
        save()
    if "splat" in args.sections:
        from benchmarks.splats import gpu_rows

        rows += gpu_rows(smoke, device, bench, args.reps)
        save()
    fit_rows(args, device, rows, save)
    if "grid" in args.sections and args.compile:  # last: compiling takes the longest
        if time.perf_counter() - started < args.budget_s - 60:
            rows += grid_rows(args, device, ("torch.compile",))
        else:
            rows.append({"section": "grid", "row": "hashgrid 3D L16 F2 2^19", "backend": "torch.compile",
                         "note": f"skipped: over the {args.budget_s:.0f} s budget"})  # fmt: skip
    save()
    header = (f"fields GPU benchmark, {card}, torch {torch.__version__}, triton {triton_version}, "
              f"{_dt.date.today()}, {report['seconds']:.0f} s{' (smoke sizes)' if smoke else ''}")  # fmt: skip
    print_table(rows, header)
    return report


if __name__ == "__main__":
    main()
