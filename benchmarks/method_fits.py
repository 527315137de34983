"""The fits that ``benchmarks/methods.py`` runs: each method's model at a shared trainable-parameter budget,
its learning rates and schedule, and the jobs (one per data and method) with the crops they fit."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

IMAGES = {"astronaut": "natural", "coffee": "natural", "text": "text", "page": "text"}
VIDEO = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"


def crop_image(name: str, kind: str, size: int, folder: Path) -> Path:
    """Save a ``size x size`` centre crop of ``skimage:name`` as PNG (natural images downscaled so the
    shorter side is ``size`` first)."""
    import imageio.v3 as iio

    from fields.datasets.image import read_image_array, to_float_image

    image = to_float_image(read_image_array(f"skimage:{name}"), name)
    h, w = image.shape[:2]
    if kind == "natural" and min(h, w) > size:
        scale = size / min(h, w)
        image = torch.nn.functional.interpolate(image.permute(2, 0, 1)[None], size=(round(h * scale), round(w * scale)),
                                                mode="area")[0].permute(1, 2, 0)
    h, w = image.shape[:2]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    crop = image[top : top + size, left : left + size, :3]
    path = folder / f"{name}.png"
    iio.imwrite(path, (crop.clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8).squeeze())
    return path


def hash_model(size: int) -> dict:
    log2_size = max(8, round(math.log2(size * size / 8)))  # about one parameter per pixel value
    return {"encoder": {"type": "hashgrid", "n_levels": 8, "n_features_per_level": 2, "log2_hashmap_size": log2_size,
                        "base_resolution": 4, "max_resolution": size},
            "decoder": {"type": "mlp", "n_neurons": 64, "n_hidden_layers": 2}}


def count_params(model: dict, in_dim: int, out_dim: int) -> int:
    from fields.config.models import ModelConfig
    from fields.models import Field

    return Field.from_config(ModelConfig.model_validate(model), in_dim, out_dim).n_params()


def neurbf_model(size: int, budget: int, out_dim: int) -> dict:
    from fields.encoders.neurbf import NeuRBF, kernels_for_budget

    grid = {"type": "hashgrid", "n_levels": 2, "n_features_per_level": 2, "log2_hashmap_size": 12,
            "base_resolution": 8, "max_resolution": max(8, size // 2)}
    encoder = {"type": "neurbf", "n_kernels": 4, "n_frequencies": 32, "grid": grid}
    model = {"encoder": encoder, "decoder": {"type": "neurbf_mlp", "n_neurons": 64, "n_hidden_layers": 2}}
    other = count_params(model, 2, out_dim) - 4 * 32
    encoder["n_kernels"] = kernels_for_budget(budget, 2, NeuRBF.Config(**encoder), other)
    return model


def gnf_model(budget: int, out_dim: int) -> dict:
    """GNF's grids ([4, 4, 4, 2, 2, 2] channels, resolutions r/4 .. r) with r chosen to fit the budget."""
    best = None
    for top in range(8, 513, 4):
        model = {"encoder": {"type": "gnf_grid", "channels": [4, 4, 4, 2, 2, 2], "min_resolution": max(2, top // 4),
                             "max_resolution": top}, "decoder": {"type": "gaussian_rbf", "n_units": 64}}
        n = count_params(model, 2, out_dim)
        if best is None or abs(n - budget) < abs(best[0] - budget):
            best = (n, model)
        if n > budget:
            break
    return best[1]


def ffn_model(cam: bool, cam_coords: list[int], grid: int, per_channel: bool = False) -> dict:
    decoder = (
        {
            "type": "cam_mlp",
            "n_neurons": 256,
            "n_hidden_layers": 3,
            "cam_coords": cam_coords,
            "grid_resolution": [grid],
            "per_channel": per_channel,
        }
        if cam
        else {"type": "mlp", "n_neurons": 256, "n_hidden_layers": 3}
    )
    return {"encoder": {"type": "fourier", "n_features": 256, "sigma": 10.0}, "decoder": decoder}


FFN_SCHEDULE = {"type": "step", "milestones": [0.5, 0.75], "gamma": 0.1}


def image_jobs(args, folder: Path) -> list[dict]:
    """One fit per (image, method): the arguments of ``benchmarks.methods.train`` and the row's labels."""
    jobs = []
    for name in args.images:
        kind = IMAGES.get(name, "natural")
        path = crop_image(name, kind, args.size, folder)
        data = {"image": str(path)}
        out_dim = 1 if name in ("text", "page", "camera") else 3
        ref = hash_model(args.size)
        budget = count_params(ref, 2, out_dim)
        ffn_batch = args.ffn_batch or None
        fits = {
            "hashgrid": (ref, 1e-2, None, None, args.steps, None),
            "neurbf": (neurbf_model(args.size, budget, out_dim), 1e-2, 5e-3, {"type": "cosine", "final_ratio": 0.01},
                       args.steps, None),
            "gaussian_rbfnet": (gnf_model(budget, out_dim), 1e-2, None, None, args.steps, None),
            "ffn": (ffn_model(False, [0, 1], 32), 1e-3, None, FFN_SCHEDULE, args.ffn_steps, ffn_batch),
            "ffn_cam": (ffn_model(True, [0, 1], 32), 1e-3, None, FFN_SCHEDULE, args.ffn_steps, ffn_batch),
        }
        for method in args.methods:
            model, lr, enc_lr, schedule, steps, batch = fits[method]
            jobs.append({"label": {"data": name, "kind": kind, "method": method, "steps": steps, "batch": batch},
                         "fit": ("image", data, model, lr, steps, args, enc_lr, schedule, batch)})
    return jobs


def video_jobs(args) -> list[dict]:
    if not args.video or not Path(args.video).is_file():
        print(f"video skipped: {args.video} not found (apt-get install opencv-doc)")
        return []
    data = {"video": args.video, "start": 0, "stop": 2 * args.video_frames, "stride": 2, "max_size": args.video_size}
    jobs = []
    for method, cam in (("ffn", False), ("ffn_cam_t", True)):
        model = ffn_model(cam, [2], args.video_frames, per_channel=True)
        jobs.append({"label": {"data": Path(args.video).name, "kind": "video", "method": method,
                               "steps": args.video_steps, "batch": args.video_batch},
                     "fit": ("video", data, model, 1e-3, args.video_steps, args, None, FFN_SCHEDULE, args.video_batch)})
    return jobs
