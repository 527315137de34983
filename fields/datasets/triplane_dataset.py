"""A tri-plane dataset: one fitted occupancy field per procedural shape, stored as safetensors.

``build_triplane_dataset`` draws the shapes (``fields.datasets.shapes_collection``), fits their fields
``batch_shapes`` at a time with the vectorised fit of ``triplane_fit``, and returns

- ``planes (S, 3, C, R, R)``: the fitted planes (what the classifiers read),
- ``labels (S,)``, ``test (S,)`` (bool: held-out split), ``iou (S,)``: reconstruction IoU of each fit,
- ``points (S, P, 3)``: surface samples of the same shapes (the point-cloud baseline's input).

``cached_triplane_dataset`` keys a file by a hash of the config, so a scene re-run (or ``fields eval``)
reuses the fits instead of redoing them.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import torch

from fields.datasets.shapes_collection import sample_shapes
from fields.io import read_tensor_file, write_tensor_file
from fields.errors import UserError
from fields.datasets.head_data import TriplaneDatasetConfig, TriplaneFitConfig  # noqa: F401  (data.shapes)
from fields.datasets.triplane_fit import BatchedTriplaneField, field_iou, fit_fields, training_pool

log = logging.getLogger("fields")
FORMAT = "fields-triplane-dataset"




def build_triplane_dataset(config: TriplaneDatasetConfig) -> dict[str, torch.Tensor]:
    """Draw the shapes and fit their tri-planes (see the module docstring for the returned tensors)."""
    g = torch.Generator().manual_seed(config.seed)
    k = len(config.classes)
    n_train, n_test = config.train_per_class * k, config.test_per_class * k
    shapes = sample_shapes(n_train + n_test, g, tuple(config.classes), config.noise_amplitude)
    fit = config.fit
    planes, ious, points = [], [], []
    started = time.perf_counter()
    for start in range(0, len(shapes), fit.batch_shapes):
        batch = shapes.subset(slice(start, start + fit.batch_shapes))
        surface = batch.surface_points(max(config.surface_points, 1024), g)
        pool_points, pool_labels = training_pool(batch, fit, g, surface=surface)
        field = BatchedTriplaneField(len(batch), fit, g)
        fit_fields(field, pool_points, pool_labels, fit.steps, g)
        ious.append(field_iou(field, batch, fit.iou_points, g))
        planes.append(field.planes.detach().clone())
        points.append(surface[:, : config.surface_points].clone())
        log.info("tri-plane fits: %d/%d shapes, mean IoU %.3f (%.0f s)", start + len(batch), len(shapes),
                 float(torch.cat(ious).mean()), time.perf_counter() - started)
    test = torch.zeros(len(shapes), dtype=torch.bool)
    test[n_train:] = True
    return {"planes": torch.cat(planes), "labels": shapes.labels.clone(), "test": test, "iou": torch.cat(ious),
            "points": torch.cat(points)}


def save_triplane_dataset(path: str | Path, data: dict[str, torch.Tensor], config: TriplaneDatasetConfig) -> None:
    metadata = {"format": FORMAT, "classes": json.dumps(config.classes), "config": config.model_dump_json()}
    tensors = {name: t.contiguous() for name, t in data.items()}
    write_tensor_file(path, tensors, metadata)


def load_triplane_dataset(path: str | Path) -> tuple[dict[str, torch.Tensor], list[str]]:
    """``(tensors, class names)``; malformed files raise ``UserError``."""
    data, metadata = read_tensor_file(path, "tri-plane dataset", FORMAT)
    missing = {"planes", "labels", "test", "iou", "points"} - set(data)
    if missing:
        raise UserError(f"{path}: tri-plane dataset lacks {', '.join(sorted(missing))}")
    planes = data["planes"]
    if planes.dim() != 5 or planes.shape[1] != 3 or not torch.isfinite(planes).all():
        raise UserError(f"{path}: planes must be finite (S, 3, C, R, R), got shape {tuple(planes.shape)}")
    return data, json.loads(metadata["classes"])


def cached_triplane_dataset(config: TriplaneDatasetConfig, cache_dir: str | Path) -> Path:
    """The dataset file for ``config`` in ``cache_dir``, built (and saved) when absent."""
    path = Path(cache_dir).expanduser() / f"triplanes-{config.key()}.safetensors"
    if not path.is_file():
        log.info(
            "fitting tri-planes for %d shapes into %s",
            len(config.classes) * (config.train_per_class + config.test_per_class),
            path,
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        save_triplane_dataset(path, build_triplane_dataset(config), config)
    return path


def stacked_planes(planes: torch.Tensor) -> torch.Tensor:
    """``(S, 3, C, R, R) -> (S, 3C, R, R)``, plane-major: the classifiers' input."""
    return planes.flatten(1, 2)


__all__ = ["TriplaneDatasetConfig", "build_triplane_dataset", "save_triplane_dataset", "load_triplane_dataset",
           "cached_triplane_dataset", "stacked_planes"]
