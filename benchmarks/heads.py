"""Heads benchmark: every token mixer in the tri-plane pyramid classifier, the channel-set Transformer,
the PointNet baseline on the same shapes, and the restoration PSNR gain, side by side in one run.

Per head: parameters, CPU training throughput (images/s, from the training path's own clock) and
held-out accuracy on the procedural collection after the same fixed budget (steps x batch). All runs go
through ``fields.engine.run.fit`` (the ``classify`` and ``restore`` tasks), on one fitted collection.

    python -m benchmarks.heads                 # 12 classes, 24+8 shapes per class, 32^2 planes, 250 steps per head
    python -m benchmarks.heads --quick         # smaller collection and budget (minutes)
    python -m benchmarks.heads --mixers pool swin --steps 500
    python -m benchmarks.heads --independent-init --mixers ms_mlp --no-restore   # fits from per-shape inits

Prints a table and writes ``benchmarks/results/heads-<date>.json``. Timings on a shared CPU are noisy.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import tempfile
import time
import traceback
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"
OPTIMIZER = {"type": "adamw", "lr": 1e-3, "weight_decay": 0.05, "eps": 1e-8}
MIXER_OPTIONS = {
    "swin": {"window_size": 4},
    "maxim": {"grid_size": 2, "block_size": 2},
}  # fit every stage down to 2x2 tokens


def collection(args) -> dict:
    fit = {"resolution": 32, "channels": 16, "pe_frequencies": 10, "hidden": 32, "hidden_layers": 2,
           "steps": 150, "points_per_step": 1024}
    if args.quick:
        fit.update(
            resolution=16, channels=8, pe_frequencies=4, hidden=16, steps=80, points_per_step=512, pool_points=8192
        )
    if args.independent_init:  # the ablation: every shape's planes and MLP drawn apart
        fit.update(shared_init=False)
    per_class = (8, 4) if args.quick else (24, 8)
    return {"shapes": {"train_per_class": per_class[0], "test_per_class": per_class[1], "fit": fit},
            "cache_dir": args.cache_dir}


def classify(name: str, head: dict, args, data: dict, out_dir: Path) -> dict:
    from fields.engine.scene import scene_from_dict
    from fields.engine.run import fit

    scene = scene_from_dict(
        {
            "task": "classify",
            "data": data,
            "head": head,
            "train": {
                "steps": args.steps,
                "batch_size": args.batch,
                "progress": False,
                "threads": args.threads,
                "checkpoint_every": 10**6,
                "optimizer": OPTIMIZER,
                "schedule": {"type": "cosine", "warmup_steps": 20},
            },
        }
    )
    _, m = fit(scene, out_dir / name)
    return {
        "head": name,
        "params": m["params"],
        "images_per_s": args.steps * args.batch / m["train_seconds"],
        "accuracy": m["accuracy"],
        "train_accuracy": m["train_accuracy"],
        "chance": m["chance"],
        "fit_iou": m["fit_iou"],
    }


def restoration(args, out_dir: Path) -> dict:
    from fields.engine.scene import load_scene
    from fields.engine.run import fit

    root = Path(__file__).resolve().parents[1]
    steps = 150 if args.quick else 400
    scene = load_scene(root / "configs/heads/restore_maxim.yaml",
                       [f"train.steps={steps}", "train.progress=false", f"train.threads={args.threads}"])
    _, m = fit(scene, out_dir / "restore")
    return {"head": "restore: maxim unet (noise 0.1)", "params": m["params"],
            "images_per_s": steps * scene.train.batch_size / m["train_seconds"], "psnr_degraded": m["psnr_degraded"],
            "psnr_restored": m["psnr_restored"], "psnr_gain": m["psnr_gain"]}


def main() -> None:
    from fields.heads import MIXERS
    from fields.datasets.triplane_dataset import TriplaneDatasetConfig, cached_triplane_dataset
    from fields.engine.run import quiet_lightning

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--mixers", nargs="*", default=None, help="default: every registered mixer")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--cache-dir", default="~/.cache/fields/triplanes")
    parser.add_argument("--no-restore", action="store_true")
    parser.add_argument("--independent-init", action="store_true", help="fit each shape from its own random init")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    args.steps = args.steps or (100 if args.quick else 250)
    quiet_lightning()
    torch.set_num_threads(args.threads)

    data = collection(args)
    resolution = data["shapes"]["fit"]["resolution"]
    started = time.perf_counter()
    path = cached_triplane_dataset(TriplaneDatasetConfig.model_validate(data["shapes"]), args.cache_dir)
    data = {"dataset": str(path)}
    print(f"collection: {path} ({time.perf_counter() - started:.0f} s incl. fitting if not cached)")

    heads = {
        "channel_set": {"type": "channel_set", "tokens": "channel", "dim": 128, "depth": 4, "heads": 4},
        "channel_set(triplet)": {
            "type": "channel_set",
            "tokens": "channel_triplet",
            "dim": 128,
            "depth": 4,
            "heads": 4,
        },
        "pointnet (points)": {"type": "pointnet"},
    }
    stride = max(resolution // 8, 1)  # MetaFormer's 7x7 stem: 8x8, 4x4, 2x2 tokens in the three stages
    for mixer in args.mixers if args.mixers is not None else MIXERS.names():
        heads[f"pyramid/{mixer}"] = {"type": "pyramid", "dims": [32, 64, 128], "depths": [2, 2, 2],
                                     "stem_kernel": 7, "stem_stride": stride,
                                     "mixer": {"type": mixer, **MIXER_OPTIONS.get(mixer, {})}}
    rows = []
    with tempfile.TemporaryDirectory(prefix="fields-bench-heads-") as tmp:
        for name, head in heads.items():
            try:
                rows.append(classify(name, head, args, data, Path(tmp)))
            except Exception as err:  # a mixer that cannot run here is reported, not fatal
                rows.append(
                    {"head": name, "error": f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"}
                )
                traceback.print_exc(limit=1)
            print(f"[{time.perf_counter() - started:.0f} s] {json.dumps(rows[-1])}", flush=True)
        if not args.no_restore:
            rows.append(restoration(args, Path(tmp)))
            print(json.dumps(rows[-1]), flush=True)

    print(
        f"\n{'head':34s} {'params':>9s} {'img/s':>8s} {'acc':>6s} {'train':>6s}  (chance {rows[0].get('chance', 0):.3f})"  # noqa: E501
    )
    for r in rows:
        if "error" in r:
            print(f"{r['head']:34s} error: {r['error']}")
        elif "psnr_gain" in r:
            print(f"{r['head']:34s} {r['params']:9d} {r['images_per_s']:8.1f}  PSNR {r['psnr_degraded']:.2f} -> "
                  f"{r['psnr_restored']:.2f} dB (gain {r['psnr_gain']:+.2f} dB on held-out images)")
        else:
            print(
                f"{r['head']:34s} {r['params']:9d} {r['images_per_s']:8.1f} {r['accuracy']:6.3f} {r['train_accuracy']:6.3f}"  # noqa: E501
            )
    out = Path(args.out) if args.out else RESULTS / f"heads-{_dt.datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"steps": args.steps, "batch": args.batch, "threads": args.threads, "quick": args.quick,
            "independent_init": args.independent_init,
            "torch": torch.__version__, "collection": str(path)}
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
