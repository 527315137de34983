"""SDF fits of real scanned meshes: encoders side by side at about equal parameter budgets.

    python -m benchmarks.geometry [--meshes bunny armadillo] [--seconds 240] [--encoders hashgrid neurbf gaussian_rbf]

Meshes come from the Debian package ``libcgal-demo`` (its ``data.tar.gz``; the benchmark extracts the
meshes it needs into ``~/.cache/fields/cgal`` and, run as root without the package, installs it). For
each mesh and encoder it trains the ``sdf`` task's loss with its own loop (no Lightning, so the clock
counts only training steps), measures the uniform-volume IoU every ``--eval-every`` steps (untimed), and
prints: parameters, training seconds to IoU 0.95 and 0.98, the final IoU (uniform and near-surface),
Chamfer-L1 (input units), normal consistency and F-score. JSON goes to ``benchmarks/results/``.
Encoders another issue registers (``neurbf``, the ``gaussian_rbf`` decoder) are skipped when missing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

MESHES = {
    "bunny": "data/meshes/bunny00.off",
    "armadillo": "data/meshes/armadillo.off",
    "elephant": "data/meshes/elephant.off",
    "torus": "shape:torus",
}
RESULTS = Path(__file__).resolve().parent / "results"

HASH = {
    "type": "hashgrid",
    "n_levels": 16,
    "n_features_per_level": 2,
    "log2_hashmap_size": 15,
    "base_resolution": 16,
    "max_resolution": 1024,
}
MLP = {"type": "mlp", "n_neurons": 64, "n_hidden_layers": 2}
# learning rates of recipes that differ from --lr (used when --lr is not given): NeuRBF's decoder
# h + sin(h m'), m' up to 300, diverges at 1e-2 (the paper: 1e-4 for 20k steps)
RECIPE_LR = {"neurbf": 1e-3}


def models(budget: int) -> dict[str, dict[str, Any]]:
    """Model configs of about ``budget`` parameters (the hash grid's size sets it)."""
    from fields.decoders import DECODERS
    from fields.encoders import ENCODERS

    out: dict[str, dict[str, Any]] = {"hashgrid": {"encoder": HASH, "decoder": MLP}}
    if "neurbf" in ENCODERS.names():
        from fields.encoders.neurbf import NeuRBF, kernels_for_budget

        grid = {**HASH, "n_features_per_level": 1, "max_resolution": 2048}
        cfg = NeuRBF.Config(kernel="tent", n_neighbours=8, n_frequencies=16, frequency_range=(1.0, 8.0), grid=grid)
        grid_params = ENCODERS.build(cfg.grid, 3).n_params()
        n_kernels = kernels_for_budget(budget, 3, cfg, grid_params)
        encoder = {"type": "neurbf", "kernel": "tent", "n_neighbours": 8, "n_frequencies": 16,
                   "frequency_range": [1.0, 8.0], "n_kernels": int(n_kernels), "grid": grid}
        decoder = {"type": "neurbf_mlp", "n_neurons": 64, "n_hidden_layers": 2, "sin_frequency_range": [30.0, 300.0]} \
            if "neurbf_mlp" in DECODERS.names() else MLP
        out["neurbf"] = {"encoder": encoder, "decoder": decoder}
    if "gaussian_rbf" in DECODERS.names():
        out["gaussian_rbf"] = {"encoder": HASH, "decoder": {"type": "gaussian_rbf", "n_units": 64}}
    if "gnf_grid" in ENCODERS.names() and "gaussian_rbf" in DECODERS.names():
        out["gnf"] = {"encoder": gnf_grid_for_budget(budget), "decoder": {"type": "gaussian_rbf", "n_units": 64}}
    return out


def gnf_grid_for_budget(budget: int) -> dict[str, Any]:
    """Gaussian RBFNet's own grids (channels [4, 4, 4, 2, 2, 2], resolutions r/4 .. r, the paper's
    ratio) with the top resolution r whose parameters plus the 64-unit decoder come closest to ``budget``."""
    from fields.encoders.gnf import GNFGrid

    channels, decoder = [4, 4, 4, 2, 2, 2], 64 * sum([4, 4, 4, 2, 2, 2]) * 2 + 64 + 1
    best: tuple[int, int] | None = None
    for top in range(8, 257):
        config = GNFGrid.Config(channels=channels, min_resolution=max(2, round(top / 4)), max_resolution=top)
        n = sum(c * r**3 for c, r in zip(channels, config.level_resolutions())) + decoder
        if best is None or abs(n - budget) < abs(best[1] - budget):
            best = (top, n)
    top = best[0]
    return {"type": "gnf_grid", "channels": channels, "min_resolution": max(2, round(top / 4)), "max_resolution": top}


def find_mesh(name: str) -> Path | str:
    from fields.datasets.cgal import CGAL_TARBALL, resolve_cgal

    if not CGAL_TARBALL.is_file() and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "libcgal-demo"], check=False, capture_output=True)
    if MESHES[name].startswith("shape:"):
        return MESHES[name]  # a generated shape: no file
    try:
        return Path(resolve_cgal("cgal:" + MESHES[name]))
    except ValueError as err:
        raise SystemExit(str(err)) from None


def scene_for(mesh: Path, model: dict[str, Any], batch: int, lr: float, steps: int, eikonal: float):
    from fields.engine.scene import scene_from_dict

    return scene_from_dict({
        "task": "sdf",
        "data": {"mesh": str(mesh), "samples": {"pool_size": 2**21, "near_sigmas": [0.002, 0.01]},
                 "losses": {"eikonal": eikonal}},
        "model": model,
        "train": {"steps": steps, "batch_size": batch, "loss": "mape", "progress": False,
                  "optimizer": {"lr": lr}, "schedule": {"type": "exponential", "final_ratio": 0.1}},
    })


def run_one(mesh: Path, model: dict[str, Any], *, seconds: float, steps: int, batch: int, lr: float,
            eikonal: float, eval_every: int, eval_points: int = 2**17) -> dict[str, Any]:
    from fields.engine.run import build_task
    from fields.metrics.geometry import volumetric_iou

    torch.manual_seed(0)
    task = build_task(scene_for(mesh, model, batch, lr, steps, eikonal))
    started = time.perf_counter()
    task.pool  # noqa: B018 - built before the clock, as fit() does in on_fit_start
    task.on_fit_start()
    setup = time.perf_counter() - started
    conf = task.configure_optimizers()
    optimizer, scheduler = conf["optimizer"], conf["lr_scheduler"]["scheduler"]
    rng = np.random.default_rng(1)
    probe = rng.random((eval_points, 3))
    truth = task.distance().occupancy(probe)
    generator = torch.Generator().manual_seed(0)
    clock, history, reached = 0.0, [], {0.95: None, 0.98: None}
    step = 0
    while step < steps and clock < seconds:
        t0 = time.perf_counter()
        batch_ = task.pool.batch(batch, generator)
        loss, _ = task.compute_loss(batch_)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        clock += time.perf_counter() - t0
        step += 1
        if step % eval_every == 0 or step == steps or clock >= seconds:
            task.field.eval()
            iou = volumetric_iou(task.inside(probe), truth)
            task.field.train()
            history.append((step, round(clock, 2), round(iou, 5)))
            for level in reached:
                if reached[level] is None and iou >= level:
                    reached[level] = round(clock, 1)
    task.field.eval()
    final = task.evaluate()
    return {"params": task.field.n_params(), "setup_seconds": round(setup, 1), "steps": step,
            "train_seconds": round(clock, 1), "seconds_to_iou_0.95": reached[0.95],
            "seconds_to_iou_0.98": reached[0.98], "history": history, **final}


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meshes", nargs="+", default=["bunny", "armadillo"], choices=sorted(MESHES))
    parser.add_argument("--encoders", nargs="+", default=None, help="default: all registered")
    parser.add_argument("--seconds", type=float, default=240.0, help="training time per fit")
    parser.add_argument("--steps", type=int, default=100000)
    parser.add_argument("--batch", type=int, default=2**14)
    parser.add_argument("--lr", type=float, default=None, help="default: 1e-2, or the recipe's (RECIPE_LR)")
    parser.add_argument("--eikonal", type=float, default=0.0)
    parser.add_argument("--budget", type=int, default=None, help="parameters; default: the hash grid's")
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from fields.encoders import ENCODERS

    budget = args.budget or ENCODERS.build(ENCODERS.validate(HASH), 3).n_params()
    available = models(budget)
    wanted = args.encoders or list(available)
    rows = []
    for mesh_name in args.meshes:
        mesh = find_mesh(mesh_name)
        for name in wanted:
            if name not in available:
                print(f"skip {name}: not registered")
                continue
            lr = args.lr if args.lr is not None else RECIPE_LR.get(name, 1e-2)
            result = run_one(mesh, available[name], seconds=args.seconds, steps=args.steps, batch=args.batch,
                             lr=lr, eikonal=args.eikonal, eval_every=args.eval_every)
            rows.append({"mesh": mesh_name, "encoder": name, "lr": lr, **result})
            print(_row(rows[-1]), flush=True)
    print()
    print(_table(rows))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"geometry-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"args": vars(args), "threads": torch.get_num_threads(), "rows": rows}, indent=2))
    print(f"wrote {out}")


COLUMNS = ("mesh", "encoder", "params", "steps", "train_seconds", "seconds_to_iou_0.95", "seconds_to_iou_0.98",
           "iou", "iou_near", "chamfer_l1", "normal_consistency", "fscore")


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _row(row: dict[str, Any]) -> str:
    return "  ".join(f"{c}={_fmt(row.get(c))}" for c in COLUMNS)


def _table(rows: list[dict[str, Any]]) -> str:
    widths = [max(len(c), *(len(_fmt(r.get(c))) for r in rows)) if rows else len(c) for c in COLUMNS]
    lines = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths))]
    lines += ["  ".join(_fmt(r.get(c)).ljust(w) for c, w in zip(COLUMNS, widths)) for r in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
