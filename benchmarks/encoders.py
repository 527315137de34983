"""Encoder benchmark: throughput and image-fit quality of every registered encoder, side by side.

``python -m benchmarks.encoders [--quick]`` prints two tables and writes ``benchmarks/results/encoders.json``:

1. Throughput on this CPU, ``--points`` (2^16) random points in 2D and 3D, every encoder at about the
   same parameter budget (about 1M; ``BUDGETS``), hash grid on each CPU backend, and the two
   straightforward hash grids of ``benchmarks/naive_hashgrid.py`` as baselines: forward (no grad) and
   forward+backward (table gradient) in points/s, and the speed-up over the vectorised baseline
   (``table[index]`` over an ``(N, L, 2**d)`` index tensor). A last section is the issue's target
   configuration: 16 levels x 2 features, 2^19 table, 3D.
2. Image fits (``encoder_fits.py``; astronaut and camera from scikit-image, downscaled to
   ``--image-size``, 256 by default, to keep the run to minutes): the image task's field (encoder,
   MLP 2x64, sigmoid) trained by Adam on random pixel batches outside Lightning; PSNR after
   ``--steps`` steps and after ``--seconds`` of training (whichever comes later ends the run, but at
   most ``--cap`` seconds of training: a slower encoder then reports no PSNR at the step count;
   evaluation time is not counted).

Encoders another module registers later appear automatically: a name without a ``BUDGETS`` entry runs
with its default config (noted in the table); one that cannot be built for a dimension is skipped with
the reason. Timings are medians of ``--reps`` runs, wall clock, all threads torch uses; they are
disturbed by anything else running on the machine (the load average is recorded in the JSON).
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
from typing import Any, Callable, Optional

import torch

RESULTS = Path(__file__).resolve().parent / "results" / "encoders.json"

# about 1M parameters each, per input dimension where it differs (encoders without parameters have no
# budget to match; neurbf and gnf_grid run their own defaults, which their papers size for images)
BUDGETS: dict[str, dict[Any, Any]] = {
    "hashgrid": {
        "n_levels": 16, "n_features_per_level": 2, "log2_hashmap_size": 15, "base_resolution": 16,
        "per_level_scale": 1.5,
    },  # fmt: skip
    "densegrid": {
        2: {"n_levels": 4, "n_features_per_level": 2, "base_resolution": 80, "per_level_scale": 2.0},
        3: {"n_levels": 4, "n_features_per_level": 2, "base_resolution": 10, "per_level_scale": 2.0},
    },
    "triplane": {"resolution": 144, "n_features": 16},
    "kplanes": {
        2: {"resolution": 40, "n_features": 8, "n_levels": 4},
        3: {"resolution": 24, "n_features": 8, "n_levels": 4},
    },
    "frequency": {"n_frequencies": 10},
    "fourier": {"n_features": 256, "sigma": 10.0},
    "neurbf": {},
    "gnf_grid": {},
    "sh": {},
    "identity": {},
}
TARGET = {"n_levels": 16, "n_features_per_level": 2, "log2_hashmap_size": 19, "base_resolution": 16}  # b = 2


def encoder_config(name: str, in_dim: int) -> tuple[Any, str]:
    """The budget config of ``name`` (validated), and a note when the default had to be used."""
    from fields.encoders import ENCODERS

    budget = BUDGETS.get(name)
    if budget and all(isinstance(key, int) for key in budget):
        budget = budget.get(in_dim)
    if budget is not None:
        try:
            return ENCODERS.validate({"type": name, **budget}), ""
        except Exception as err:  # the encoder's config changed: say so and use its defaults
            reason = str(err).splitlines()[0][:60]
            return ENCODERS.validate({"type": name}), f"default config (budget rejected: {reason})"
    return ENCODERS.validate({"type": name}), "default config (no budget entry)"


def build(name: str, in_dim: int, backend: Optional[str] = None) -> tuple[Any, str]:
    """``(encoder, note)``; ``encoder`` is None (and ``note`` the reason) when it does not apply."""
    from fields.encoders import ENCODERS

    try:
        config, note = encoder_config(name, in_dim)
        if backend is not None:
            config = config.model_copy(update={"backend": backend})
        return ENCODERS.build(config, in_dim), note
    except Exception as err:
        return None, f"skipped: {type(err).__name__}: {str(err).splitlines()[0][:80] if str(err) else ''}"


def median_seconds(fn: Callable[[], Any], reps: int) -> float:
    fn()  # warm-up (and the kernel build, on the first cpp call)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(
    forward: Callable[[torch.Tensor], torch.Tensor], params: list[torch.Tensor], x: torch.Tensor, reps: int
) -> dict[str, Any]:
    """Forward (no grad) and forward+backward seconds; backward goes to the parameters, or to ``x``
    for encoders without parameters."""
    with torch.no_grad():
        grad = torch.randn_like(forward(x))
    wrt = params or [x.requires_grad_()]

    def forward_only():
        with torch.no_grad():
            forward(x)

    def forward_backward():
        for p in wrt:
            p.grad = None
        forward(x).backward(grad)

    return {
        "forward_s": median_seconds(forward_only, reps),
        "forward_backward_s": median_seconds(forward_backward, reps),
        "backward_to": "parameters" if params else "input",
    }


def throughput_rows(points: int, reps: int, dims: tuple[int, ...], target: bool) -> list[dict[str, Any]]:
    from benchmarks.naive_hashgrid import naive_hashgrid_forward, vectorised_hashgrid_forward
    from fields.encoders import ENCODERS, HashGrid

    rows: list[dict[str, Any]] = []

    def add(section, name, d, encoder, forward, note=""):
        params = [p for p in encoder.parameters() if p.requires_grad]
        x = torch.rand(points, d)
        n_params = sum(p.numel() for p in params)
        row = {"section": section, "encoder": name, "dim": d, "points": points, "params": n_params, "note": note}
        row.update(measure(forward, params, x, reps))
        row["forward_pts_per_s"] = points / row["forward_s"]
        row["forward_backward_pts_per_s"] = points / row["forward_backward_s"]
        rows.append(row)
        return row

    def hashgrid_variants(section, d, config):
        grids = {}
        for backend in ("cpp", "torch"):
            grid = HashGrid(config.model_copy(update={"backend": backend}), d)
            grid(torch.rand(2, d))  # resolves the backend (builds the kernel once)
            grids[backend] = grid
            add(section, f"hashgrid[{grid.backend_in_use}]", d, grid, grid,
                "" if grid.backend_in_use == backend else f"{backend} unavailable")
        base = grids["torch"]
        naive = add(section, "naive: vectorised", d, base, lambda x: vectorised_hashgrid_forward(base, x),
                    "baseline: table[(N, L, 2^d) index]")  # fmt: skip
        add(section, "naive: per level", d, base, lambda x: naive_hashgrid_forward(base, x),
            "baseline: one gather per level")  # fmt: skip
        return naive

    for d in dims:
        section = f"~1M params, {d}D"
        config, _ = encoder_config("hashgrid", d)
        baseline = hashgrid_variants(section, d, config)
        for name in ENCODERS.names():
            if name == "hashgrid":
                continue
            encoder, note = build(name, d)
            if encoder is None:
                rows.append({"section": section, "encoder": name, "dim": d, "note": note})
                continue
            add(section, name, d, encoder, encoder, note)
        for row in rows:
            if row.get("section") == section and "forward_backward_s" in row:
                row["speedup_vs_naive"] = baseline["forward_backward_s"] / row["forward_backward_s"]
    if target:
        section = "issue target: L16 F2 2^19, 3D"
        baseline = hashgrid_variants(section, 3, HashGrid.Config(**TARGET))
        for row in rows:
            if row.get("section") == section:
                row["speedup_vs_naive"] = baseline["forward_backward_s"] / row["forward_backward_s"]
    return rows


def _fmt_rate(value: Optional[float]) -> str:
    return "-" if value is None else f"{value / 1e6:8.2f}M"


def print_throughput(rows: list[dict[str, Any]]) -> None:
    section = None
    print(f"{'encoder':22s} {'params':>10s} {'fwd pts/s':>10s} {'f+b pts/s':>10s} {'f+b ms':>8s} {'x naive':>8s}  note")
    for row in rows:
        if row["section"] != section:
            section = row["section"]
            print(f"-- {section}")
        if "forward_s" not in row:
            print(f"{row['encoder']:22s} {'':>10s} {'':>10s} {'':>10s} {'':>8s} {'':>8s}  {row['note']}")
            continue
        note = row["note"] + (" (backward to input)" if row["backward_to"] == "input" else "")
        print(f"{row['encoder']:22s} {row['params']:>10,d} {_fmt_rate(row['forward_pts_per_s']):>10s} "
              f"{_fmt_rate(row['forward_backward_pts_per_s']):>10s} {row['forward_backward_s'] * 1e3:8.1f} "
              f"{row.get('speedup_vs_naive', float('nan')):7.1f}x  {note}")


def machine() -> dict[str, Any]:
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version(), "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None}


def build_kernel(fresh: bool) -> dict[str, Any]:
    """Build (or load) the cpp kernel now, into a fresh folder when ``fresh``, and time it."""
    if fresh:
        os.environ["TORCH_EXTENSIONS_DIR"] = tempfile.mkdtemp(prefix="fields-bench-ext-")
    from fields.kernels import grid_cpu

    grid_cpu.load()
    return {"fresh": fresh, "seconds": grid_cpu.build_seconds(), "error": grid_cpu.unavailable_reason()}


def main(argv: Optional[list[str]] = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: few points, one rep, short fits")
    parser.add_argument("--points", type=int, help="points per throughput call (default 2^16; quick 2^12)")
    parser.add_argument("--reps", type=int, help="timed repetitions (default 5; quick 1)")
    parser.add_argument("--image-size", type=int, help="longer image side (default 256; quick 64)")
    parser.add_argument("--steps", type=int, help="fixed step count (default 100; quick 20)")
    parser.add_argument("--seconds", type=float, help="fixed training time (default 15; quick 1)")
    parser.add_argument("--cap", type=float, help="most training seconds per fit (default 3x --seconds)")
    parser.add_argument("--batch", type=int, help="pixels per step (default 2^14; quick 2^12)")
    parser.add_argument("--no-quality", action="store_true", help="throughput only")
    parser.add_argument("--no-target", action="store_true", help="skip the 2^19-table target section")
    parser.add_argument("--cached-build", action="store_true",
                        help="reuse TORCH_EXTENSIONS_DIR instead of timing a fresh build")  # fmt: skip
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    quick = args.quick
    points = args.points or (2**12 if quick else 2**16)
    reps = args.reps or (1 if quick else 5)
    size = args.image_size or (64 if quick else 256)
    steps = args.steps or (20 if quick else 100)
    batch = args.batch or (2**12 if quick else 2**14)
    seconds = args.seconds if args.seconds is not None else (1.0 if quick else 15.0)
    cap = args.cap or 3 * max(seconds, 1.0)

    fresh = not (quick or args.cached_build)
    report: dict[str, Any] = {"machine": machine(), "kernel_build": build_kernel(fresh)}
    report["settings"] = {
        "points": points, "reps": reps, "image_size": size, "steps": steps, "seconds": seconds, "cap": cap,
        "batch": batch, "quick": quick, "budgets": BUDGETS,
    }  # fmt: skip
    build_info = report["kernel_build"]
    print(f"machine: {report['machine']['cpu']}, {report['machine']['cpus']} CPUs, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, load average {report['machine']['load_average']}")
    print(f"cpp kernel: {'fresh build' if build_info['fresh'] else 'load'} {build_info['seconds'] or 0:.1f} s"
          + (f" (unavailable: {build_info['error']})" if build_info["error"] else ""))
    print(f"\nThroughput, {points} points, median of {reps}:")
    report["throughput"] = throughput_rows(points, reps, (2, 3), target=not (quick or args.no_target))
    print_throughput(report["throughput"])
    if not args.no_quality:
        from benchmarks.encoder_fits import LEARNING_RATES, print_quality, quality_rows

        report["settings"]["learning_rates"] = LEARNING_RATES
        print(f"\nImage fits ({size} px, batch {batch}, MLP 2x64):")
        report["quality"] = quality_rows(size, steps, seconds, batch, ("astronaut", "camera"), cap)
        print_quality(report["quality"], steps, seconds)
    report["machine"]["load_average_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\nwritten {args.out}")
    return report


if __name__ == "__main__":
    main()
